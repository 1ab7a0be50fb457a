/*
 * summary: what a set of findings adds up to, for people. It reads finding
 * lines as `scan` writes them (orgtrail's NDJSON, or OCSF's, whose
 * unmapped part carries the same fields) and keeps:
 *   - counts by severity, rule, account (recipientAccountId) and actor
 *     (actor.arn), and the first and last eventTime;
 *   - the story: every critical and high finding and every correlation, as
 *     "time actor call target (outcome)", in time order;
 *   - for the report: findings per hour by severity, and per account the
 *     latest of what happened to it.
 * Memory grows with the distinct values and the story; everything else is
 * bounded (SUMMARY_ACCOUNT_EVENTS per account).
 */
#ifndef ORGTRAIL_SUMMARY_H
#define ORGTRAIL_SUMMARY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "parse.h"

#define SUMMARY_ACCOUNT_EVENTS 20   /* events kept per account for its panel */

typedef struct summary summary;

/* One finding, as the views show it. Strings are NUL-terminated copies
 * (NULL: absent). */
typedef struct {
    char *time;             /* eventTime */
    int64_t epoch;          /* eventTime in seconds; INT64_MIN when unreadable */
    uint64_t seq;           /* the order it was read in */
    int severity;           /* 0 info .. 4 critical */
    char *rule, *title, *call, *actor, *account, *target, *outcome, *event_id;
    int correlation;        /* a correlation finding */
    char *events;           /* correlation: its eventIDs, comma-separated */
} summary_event;

typedef struct {
    const char *key;        /* "null" for a finding without the value */
    uint64_t count;
    const char *title;      /* by rule: the rule's title */
} summary_count;

enum summary_by { SUMMARY_BY_SEVERITY, SUMMARY_BY_RULE, SUMMARY_BY_ACCOUNT, SUMMARY_BY_ACTOR, SUMMARY_BY_N };

/* Returns NULL when out of memory. */
summary *summary_create(void);
/* Accepts NULL. */
void summary_free(summary *s);

/* Adds one finding line (without its newline). Returns 0, 1 when the line
 * is not a finding (nothing is counted), or -ENOMEM. */
int summary_add(summary *s, const char *line, size_t len);
/* Adds every line of buf; returns the number that were not findings, or
 * -ENOMEM. */
long summary_add_lines(summary *s, const char *buf, size_t len);

uint64_t summary_findings(const summary *s);
/* The first and last eventTime seen, or NULL. */
const char *summary_first(const summary *s);
const char *summary_last(const summary *s);
/* The counts of one kind, most first (ties by key); valid until the next
 * summary_add. */
const summary_count *summary_counts(summary *s, enum summary_by by, size_t *n);
/* The story, in time order (eventTime, then the order read). */
const summary_event *summary_story(summary *s, size_t *n);
/* Accounts (by findings, most first), and each one's latest events. */
size_t summary_accounts(summary *s);
const char *summary_account(summary *s, size_t i, uint64_t *count, const summary_event **events, size_t *nevents);
/* Findings per hour, from the first hour with a readable time: *hours
 * buckets of 5 severities each (owned by s; valid until the next add). */
const uint64_t (*summary_timeline(summary *s, int64_t *first_hour, size_t *hours))[5];

/* The text summary (counts, the first and last time, the story). Control
 * characters in the findings are shown as '?', so a hostile log cannot
 * drive the terminal. */
void summary_print_text(summary *s, FILE *out);
/* The same as one JSON object: {findings, first, last, by_severity, by_rule,
 * by_account, by_actor, story}. Returns 0, or -1 (errno) when out of
 * memory or the write failed. */
int summary_print_json(summary *s, FILE *out);

/* The short forms the views share: an actor from its arn (or invokedBy),
 * and a target from its keys ("p-1 -> ou-2"), written to out (size len,
 * NUL-terminated); "" when there is none. The current event of pc is a
 * finding line, OCSF's when ocsf. */
void summary_actor_text(parse_ctx *pc, int ocsf, char *out, size_t len);
void summary_target_text(parse_ctx *pc, int ocsf, char *out, size_t len);

/* Copies s into out (size len, NUL-terminated) with control characters
 * (C0, DEL, C1) as '?'. Returns out. */
char *summary_printable(const char *s, char *out, size_t len);

extern const char *const summary_severity_names[5];

#endif
