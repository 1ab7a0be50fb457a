/*
 * scan: one input, start to end, on one thread: decode -> prefilter ->
 * frame -> parse -> rules -> finding lines. A scanner is a worker's
 * reusable set of stage objects; an input's bytes are pushed into it in
 * pieces of any size, and everything it found lands in a scan_result that
 * the caller writes out in input order.
 *
 * Candidate, then confirm: the decoded bytes are searched for the
 * Organizations eventSource value (and the digest marker). A window with no
 * hit costs that search and nothing more, unless the input spans several
 * windows, when the framing state must be carried across them. A hit costs
 * a structural scan of its window, then a full parse of the one record that
 * holds it; only that record's own eventSource decides.
 */
#ifndef ORGTRAIL_SCAN_H
#define ORGTRAIL_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "correlate.h"
#include "finding.h"
#include "rules.h"
#include "util.h"

/* The most rule needles a scan searches for; beyond, every record is parsed. */
#define SCAN_MAX_RULE_NEEDLES 63

typedef struct {
    int all_org_events;     /* also emit Organizations events no rule matches */
    int raw;                /* add the event itself to each finding */
    finding_format format;  /* NDJSON or OCSF */
    severity min_severity;  /* findings below are dropped (and counted) */
    const org_context *context; /* --org-inventory, --trusted-principal; borrowed, may be NULL */
    int validate;           /* fully parse every record; report grammar errors */
    size_t max_record;      /* bytes; a longer record is an error */
    size_t window;          /* decoded bytes held at once, before a long record grows it */
    int has_since, has_until;
    int64_t since, until;   /* only events with since <= eventTime < until (seconds, UTC) */
    const rules *rules;     /* borrowed; must outlive the scanner */
    const char *const *needles;  /* what a candidate holds (rules_needles); borrowed */
    size_t nneedles;
    int parse_all;          /* some rule is unanchored: every record is a candidate */
    const corr_feeds *corr; /* the rules that feed correlations; borrowed; NULL: none, no capture */
    int no_dedupe_keys;     /* --no-dedupe: every finding's key is 0 (no content hashed) */
} scan_options;

/* Counters; see the README for which are exact. */
typedef struct {
    uint64_t files;
    uint64_t bytes_in;
    uint64_t bytes_decoded;
    uint64_t records_seen;
    uint64_t candidates;
    uint64_t records_parsed;
    uint64_t records_repaired;
    uint64_t findings;
    uint64_t errors;
    uint64_t skipped_digest_files;
    uint64_t skipped_insight_files;
    uint64_t outside_window;    /* Organizations events dropped by --since/--until */
    uint64_t below_min_severity; /* findings dropped by --min-severity */
    uint64_t correlation_matches;   /* base-rule matches correlated (after dedupe); set by run */
    uint64_t correlation_findings;  /* correlation findings written; set by run */
} scan_stats;

void scan_stats_add(scan_stats *into, const scan_stats *s);

/* Where one finding line ends, and its dedupe key (0: it has no eventID). */
typedef struct {
    size_t end;
    uint64_t key;
    uint64_t record_end;    /* decoded offset where the finding's record ends */
} scan_finding;

/* A place between two gzip members of an input, where a part of it cut
 * there starts (run cuts stdin into parts to decode them in parallel). */
typedef struct {
    uint64_t in_offset;     /* input bytes before it */
    uint64_t out_offset;    /* decoded bytes before it */
    int docs_seen;          /* a JSON value came before it */
} scan_part;

typedef struct {
    ot_buf findings;        /* NDJSON lines, in record order */
    scan_finding *lines;    /* one per line of findings */
    size_t nlines, lines_cap;
    ot_buf corr;            /* base-rule matches for correlations: state lines (correlate.h), in record order */
    scan_finding *corr_lines;   /* one per line of corr (key 0) */
    size_t ncorr, corr_cap;
    char error[512];        /* the input's one error line (without "orgtrail: PATH: "), or "" */
    scan_stats stats;
    scan_part end;          /* where the input ended (set by scan_end) */
} scan_result;

void scan_result_clear(scan_result *r);
void scan_result_free(scan_result *r);

typedef struct scanner scanner;

/* Returns NULL when out of memory. opt is copied. */
scanner *scan_create(const scan_options *opt);
/* Accepts NULL. */
void scan_free(scanner *s);

/* Starts an input; path names it in findings and errors and must live
 * until scan_end(). Results are added to res. */
void scan_begin(scanner *s, const char *path, scan_result *res);
/* Starts a part of an input that was cut at a gzip member boundary; the
 * part's findings and errors are those of the whole input scanned up to
 * there, provided that it really ended cleanly at `at` (scan_result.end).
 * at NULL: the first part. Either way the part is framed in full, as a
 * long input is, so that its end is known to be clean or not. */
void scan_begin_part(scanner *s, const char *path, scan_result *res, const scan_part *at);
/* Pushes the next len bytes of the input. Returns 0 to continue, 1 when the
 * input is finished early (an error was recorded), -ENOMEM. */
int scan_feed(scanner *s, const uint8_t *buf, size_t len);
/* Records an error that is not about the bytes (e.g. a read failure at
 * offset), and finishes the input. */
void scan_fail(scanner *s, uint64_t offset, const char *what);
/* Ends the input: frames what is left and runs the end-of-input checks.
 * Once an input; a second call does nothing. */
void scan_end(scanner *s);

#endif
