/*
 * correlate: Sigma correlation rules over the base-rule matches of a whole
 * run. The stage after rules: a scanner captures each match of a rule that
 * feeds a correlation as one NDJSON state line (corr_capture); the writer
 * hands the lines, in input order, to a store (corr_store_add); after the
 * last input the store evaluates every correlation and writes its findings
 * (corr_store_evaluate). The same lines are what `scan --correlation-state`
 * writes, what `orgtrail correlate` reads back, and what a --checkpoint run
 * keeps beside its checkpoint: one format, one reader. Within one scan the
 * workers hand the writer's store captures instead (the same fields, not
 * escaped into a line to be parsed back: corr_store_add_captured), and
 * state lines only where a file is written.
 *
 * Semantics (README "Correlation"): a group is the tuple of the group-by
 * values, compared as strings; a match lacking one, or a readable eventTime
 * (or, for value_count, the counted field), takes no part. A group's
 * matches are ordered by (eventTime, eventID, referenced rule); one event
 * counts once per referenced rule however often it arrives (by eventID)
 * unless dedupe is off. A window is anchored at the earliest match not yet
 * used and spans [t, t + timespan]. When it satisfies the correlation it
 * makes one finding and its matches are used; else the anchor moves to the
 * next match. temporal_ordered: rule 1 at the anchor, each next rule later
 * in the order; the used matches end at the last of the sequence.
 *
 * Memory: per match, its time, eventID, group, counted value, and the
 * anchor's part of a finding line; at most max_matches of them.
 */
#ifndef ORGTRAIL_CORRELATE_H
#define ORGTRAIL_CORRELATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "finding.h"
#include "parse.h"
#include "rules.h"
#include "util.h"

#define CORR_DEFAULT_MAX_MATCHES 10000000ULL

/* The correlations a run evaluates: rules_correlation_at's, or a test's. */
typedef struct {
    const sigma_correlation *const *list;   /* borrowed */
    size_t n;
    uint64_t sources_hash;      /* what made them (rules_sources_hash): a state must match it */
} corr_set;

/* The correlations of r, in set->list (malloc'd: free() it; NULL when
 * there is none). Returns 0 or -ENOMEM. */
int corr_set_of_rules(const rules *r, corr_set *set);

/* ---- capture (a scanner's side; read-only once built: share it) ---- */

/* Which correlations each rule feeds. */
typedef struct corr_feeds corr_feeds;

/* Returns NULL when out of memory. set's list must outlive it. */
corr_feeds *corr_feeds_create(const corr_set *set);
/* Accepts NULL. */
void corr_feeds_free(corr_feeds *f);
/* 1 when some rule feeds some correlation: without, no capture at all. */
int corr_feeds_any(const corr_feeds *f);
/* 1 when ru feeds at least one correlation. */
int corr_feeds_rule(const corr_feeds *f, const rule *ru);

/* What corr_capture appends: set once, before any capture. */
#define CORR_CAPTURE_LINES 1u   /* state lines, as a state file holds them (the default) */
#define CORR_CAPTURE_STORE 2u   /* captures for corr_store_add_captured; with LINES too, each
                                   also carries its state line (corr_captured_lines) */
void corr_feeds_set_capture(corr_feeds *f, unsigned what);

/*
 * Appends a state line (or a capture, as corr_feeds_set_capture says) to out
 * for every correlation rule ru feeds, from the
 * event the parse context holds (record at decoded byte offset of input
 * path); fr is that record, prepared (finding_prepare), for its shared
 * part. A match that takes no part appends nothing. Returns the number of
 * lines (captures) appended, or -ENOMEM (nothing appended for this call).
 */
int corr_capture(const corr_feeds *f, ot_buf *out, const rule *ru, parse_ctx *ev, finding_record *fr,
                 const char *path, uint64_t offset);

/* The first line of a state file: what it was made with (the format and a
 * hash of the rules' sources), so that a store made otherwise refuses it. */
int corr_state_header(ot_buf *out, const corr_set *set, finding_format format);

/* ---- the store (one thread: the writer's) ---- */

typedef struct {
    finding_format format;      /* of the state lines and the findings */
    severity min_severity;      /* correlation findings below are dropped */
    int dedupe;                 /* one event counts once (by eventID) */
    uint64_t max_matches;       /* 0: CORR_DEFAULT_MAX_MATCHES */
} corr_options;

typedef struct corr_store corr_store;

/* Returns NULL when out of memory. set's list must outlive it. */
corr_store *corr_store_create(const corr_set *set, const corr_options *o);
/* Accepts NULL. */
void corr_store_free(corr_store *s);

/*
 * Adds the state lines in buf (len bytes, whole lines; a missing last
 * newline is tolerated). name and base (the file offset of buf[0]) name a
 * bad line in its error line ("orgtrail: NAME: damaged correlation state
 * line at byte N"), written to errout; *bad counts them and the others are
 * kept. A header line made with other rules or another format is an error
 * too, and the lines after it up to the next header are skipped.
 * Returns 0, -E2BIG when the matches would pass max_matches (the store
 * keeps what it had; corr_store_cap_message says it), or -ENOMEM.
 */
int corr_store_add(corr_store *s, const char *buf, size_t len, const char *name, uint64_t base, FILE *errout,
                   uint64_t *bad);
/*
 * Adds the captures in buf (len bytes, whole captures) that corr_capture
 * made in this process with CORR_CAPTURE_STORE: the writer's way, which
 * need not parse them back. They are this run's own, so their fields go in
 * without the checks a state from elsewhere gets; a capture whose fields
 * the worker could not vouch for (unusual bytes, deep nesting) carries its
 * state line instead, read with every check as corr_store_add reads it.
 * A refused match is said as name's, at its record's byte offset, and
 * counted in *bad. A state file or a checkpoint's matches file
 * is never read this way. Returns as corr_store_add, or -EINVAL when buf
 * holds no captures.
 */
int corr_store_add_captured(corr_store *s, const char *buf, size_t len, const char *name, FILE *errout,
                            uint64_t *bad);

/* The state lines of captures made with CORR_CAPTURE_STORE and
 * CORR_CAPTURE_LINES, appended to lines (NULL: only counted); *n gets the
 * number of captures. Returns 0, -EINVAL (no captures, or one without its
 * line) or -ENOMEM. */
int corr_captured_lines(const char *buf, size_t len, ot_buf *lines, uint64_t *n);

/* The one error line of -E2BIG, without "orgtrail: " and the newline. */
void corr_store_cap_message(const corr_store *s, char *msg, size_t n);

/*
 * Evaluates every correlation over the matches added and appends the
 * correlation finding lines to out, sorted by (first eventTime, rule,
 * group). *matches gets the matches that took part (after dedupe),
 * *findings the lines appended, *below those dropped by min_severity.
 * Returns 0 or -ENOMEM. Once.
 */
int corr_store_evaluate(corr_store *s, ot_buf *out, uint64_t *matches, uint64_t *findings, uint64_t *below);

/* Milliseconds since 1970 of an eventTime ("2024-05-01T00:00:00.123Z"),
 * or -1 when it is not one. */
int corr_time_ms(const char *s, size_t n, int64_t *ms);

#endif
