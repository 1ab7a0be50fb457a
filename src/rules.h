/*
 * rules: which events are findings, and how severe.
 *
 * All rules are Sigma rules (see sigma.h): the built-in Organizations pack
 * is the Sigma files of rules/builtin/, embedded at build time, and --rules
 * adds more. A rule tagged orgtrail.denied_one_level_lower (the whole pack)
 * reports a denied call one severity level lower. Nothing else in orgtrail
 * knows a rule by name.
 */
#ifndef ORGTRAIL_RULES_H
#define ORGTRAIL_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "parse.h"
#include "sigma.h"

typedef enum {
    SEV_INFO = 0,
    SEV_LOW,
    SEV_MEDIUM,
    SEV_HIGH,
    SEV_CRITICAL,
} severity;

typedef struct {
    const char *id;               /* stable, e.g. "org.leave_organization" */
    const char *title;
    severity level;               /* on success */
    const char *rationale;        /* one line: why it matters (the description) */
    const sigma_rule *sigma;      /* NULL only for the --all-org-events catch-all */
    int lower_when_denied;        /* a denied call is one level lower */
    int silent;                   /* a correlation's base rule only: matches feed it, no finding of its own */
    uint64_t needle_mask;         /* bit i: needle i of rules_needles() is one it requires;
                                   * 0: unanchored (set by rules_needles) */
    size_t twin;                  /* an earlier rule of the list with the same detection (so the
                                   * same matches), or SIZE_MAX */
} rule;

/* A Sigma file compiled into the binary (see CMakeLists.txt). */
typedef struct {
    const char *name;
    const unsigned char *text;
    size_t len;
} embedded_rules_file;
extern const embedded_rules_file orgtrail_builtin_rules[];   /* ends with a NULL name */

typedef struct rules rules;

/* A rule list, with the built-in Organizations pack or empty. Returns NULL
 * when out of memory (or a built-in rule does not load, which the tests
 * rule out). */
rules *rules_create(int with_builtin);
/* How many of the first rules are the built-in pack. */
size_t rules_builtin_count(const rules *r);
/* Adds the Sigma rules of a file or directory (see sigma_load_path).
 * Returns the number added (correlations not counted), or -1 when path
 * cannot be read. */
int rules_add_sigma(rules *r, const char *path, sigma_report_fn report, void *arg);
/* Accepts NULL. */
void rules_free(rules *r);

size_t rules_count(const rules *r);
/* A hash of the rules' Sigma sources (names and text). */
uint64_t rules_sources_hash(const rules *r);
const rule *rules_at(const rules *r, size_t i);

/* Links the correlations of every rule added (sigma_set_link) and sets
 * each rule's silent (!sigma_rule_generates); call once, after the last
 * rules_add_sigma. Correlations are reported to report then. Returns the
 * number kept, or -ENOMEM. */
int rules_link(rules *r, sigma_report_fn report, void *arg);
size_t rules_correlation_count(const rules *r);
const sigma_correlation *rules_correlation_at(const rules *r, size_t i);

/* The catch-all for --all-org-events: rule "org.event", severity info. */
const rule *rules_catch_all(void);

/* 1 when s is an Organizations endpoint: organizations.amazonaws.com, or
 * organizations.<region>.amazonaws.com[.cn]. */
int rules_is_org_source(const char *s, size_t n);

/* Evaluates the parse context's current event. Returns the number of rules
 * that match (at most max, written to out), in list order. needles_seen
 * (bit i: needle i of rules_needles() occurs in the record) skips anchored
 * rules whose literals are not there; pass UINT64_MAX to evaluate all. */
size_t rules_match(const rules *r, parse_ctx *event, uint64_t needles_seen, const rule **out, size_t max);

/*
 * The prefilter's needles: the union of what the rules require, plus
 * "organizations. when org_events (--all-org-events wants every
 * Organizations event), deduplicated, in a list owned by r and valid until
 * the next call. A record holding none of them cannot match any rule,
 * unless some rule is unanchored: then *unanchored is the first such rule
 * (every record must be parsed), else NULL. Not thread-safe: call it before
 * the scan starts.
 */
const char *const *rules_needles(rules *r, int org_events, size_t *n, const rule **unanchored);

/* The severity of a match: level, or one lower when denied. */
severity rules_severity(const rule *ru, int denied);
const char *severity_name(severity s);

#endif
