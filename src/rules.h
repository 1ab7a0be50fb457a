/*
 * rules: which events are findings, and how severe.
 *
 * Two kinds of rules sit behind one list: the built-in Organizations pack
 * (data: one table in rules.c; a denied call is still a finding, one
 * severity level lower) and Sigma rules loaded with --rules (see sigma.h).
 * Nothing else in orgtrail knows a rule by name.
 */
#ifndef ORGTRAIL_RULES_H
#define ORGTRAIL_RULES_H

#include <stddef.h>

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
    const char *rationale;        /* one line: why it matters */
    const char *const *event_names; /* NULL-terminated; the built-in pack only */
    const sigma_rule *sigma;      /* a Sigma rule, or NULL for the built-in pack */
    int lower_when_denied;        /* a denied call is one level lower (the built-in pack) */
} rule;

typedef struct rules rules;

/* A rule list, with the built-in Organizations pack or empty. Returns NULL
 * when out of memory. */
rules *rules_create(int with_builtin);
/* Adds the Sigma rules of a file or directory (see sigma_load_path).
 * Returns the number added, or -1 when path cannot be read. */
int rules_add_sigma(rules *r, const char *path, sigma_report_fn report, void *arg);
/* Accepts NULL. */
void rules_free(rules *r);

size_t rules_count(const rules *r);
const rule *rules_at(const rules *r, size_t i);

/* The catch-all for --all-org-events: rule "org.event", severity info. */
const rule *rules_catch_all(void);

/* 1 when s is an Organizations endpoint: organizations.amazonaws.com, or
 * organizations.<region>.amazonaws.com[.cn]. */
int rules_is_org_source(const char *s, size_t n);

/*
 * Evaluates the parse context's current event. Returns the number of rules
 * that match (at most max, written to out). is_org says the event's own
 * eventSource is an Organizations endpoint: the built-in pack looks only at
 * those; Sigma rules decide for themselves.
 */
size_t rules_match(const rules *r, parse_ctx *event, int is_org, const rule **out, size_t max);

/*
 * The prefilter's needles: the union of what the rules require (the
 * built-in pack needs "organizations.), deduplicated, in a list owned by
 * r. A record holding none of them cannot match any rule, unless some rule
 * is unanchored: then *unanchored is the first such rule (every record must
 * be parsed), else NULL.
 */
const char *const *rules_needles(const rules *r, size_t *n, const rule **unanchored);

/* The severity of a match: level, or one lower when denied. */
severity rules_severity(const rule *ru, int denied);
const char *severity_name(severity s);

#endif
