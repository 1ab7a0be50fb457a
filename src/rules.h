/*
 * rules: which Organizations events are findings, and how severe.
 *
 * The built-in pack is data (one table in rules.c) that this module loads;
 * nothing else in orgtrail knows a rule by name. A denied call (errorCode
 * set) is still a finding, one severity level lower.
 */
#ifndef ORGTRAIL_RULES_H
#define ORGTRAIL_RULES_H

#include <stddef.h>

#include "parse.h"

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
    const char *const *event_names; /* NULL-terminated */
} rule;

typedef struct rules rules;

/* The built-in Organizations pack. Returns NULL when out of memory. */
rules *rules_load_builtin(void);
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
 * that match (at most max, written to out). The event must already be
 * confirmed as an Organizations event.
 */
size_t rules_match(const rules *r, parse_ctx *event, const rule **out, size_t max);

/* The severity of a match: level, or one lower when denied. */
severity rules_severity(const rule *ru, int denied);
const char *severity_name(severity s);

#endif
