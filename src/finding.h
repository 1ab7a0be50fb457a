/*
 * finding: what one matched record becomes. A record's facts (its target,
 * its actor, the organization's context, the severity changes that context
 * makes) and the part of the line every finding of the record shares are
 * built once per record; each matching rule then adds only its own head.
 *
 * Two formats: orgtrail's NDJSON (README "Findings") and OCSF 1.1.0
 * Detection Findings (ocsf.h). Every line is valid JSON whatever the input
 * held: strings are re-escaped and invalid UTF-8 becomes U+FFFD.
 */
#ifndef ORGTRAIL_FINDING_H
#define ORGTRAIL_FINDING_H

#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "emit.h"
#include "parse.h"
#include "rules.h"
#include "util.h"

typedef enum {
    FINDING_NDJSON = 0,
    FINDING_OCSF,
} finding_format;

typedef struct {
    finding_format format;
    int raw;                    /* add the event itself ("event"; OCSF: raw_data) */
    severity min_severity;      /* drop findings below, after the context is applied */
    const org_context *context; /* borrowed; NULL: no inventory, no trusted principals */
} finding_options;

/* What the call acted on (README "target"). A slice with ptr NULL is absent. */
typedef struct {
    ot_slice account_id, policy_id, policy_type, target_id, service_principal;
    ot_slice create_account_request_id, source_parent_id, destination_parent_id, handshake_id;
    const char *target_type;    /* ROOT, ORGANIZATIONAL_UNIT, ACCOUNT, or NULL */
    const char *account_name;   /* from the inventory, or NULL */
    int any;                    /* some key is present */
} finding_target;

/* One record's facts. Slices point into the parse context: valid until its
 * next parse_record. */
typedef struct {
    int denied;                 /* the call failed (finding_event_denied) */
    int trusted;                /* actor.arn matches --trusted-principal */
    int lower_to_low;           /* a policy call on a type that is not a security control */
    int lower_to_info;          /* a delegated-admin or service-access call by a trusted principal */
    char note[256];             /* context.note, or "" */
    finding_target target;
} finding_facts;

typedef struct finding_record finding_record;

/* Returns NULL when out of memory. o is copied; its context must outlive r. */
finding_record *finding_record_create(const finding_options *o);
/* Accepts NULL. */
void finding_record_free(finding_record *r);

/*
 * Takes the parse context's current event as the record, found in input
 * path at decoded byte offset, and works out its facts; the shared part of
 * its findings is built by the first finding_append that keeps a finding.
 * Both path and ev must stay as they are until the last finding_append for
 * this record. Returns 0 or -ENOMEM.
 */
int finding_prepare(finding_record *r, parse_ctx *ev, const char *path, uint64_t offset);

/* The facts of the prepared record. */
const finding_facts *finding_record_facts(const finding_record *r);

/* A finding's severity: the rule's level (one lower when denied and the
 * rule says so), then the context's changes. */
severity finding_severity(const finding_record *r, const rule *ru);

/*
 * Appends the line of rule ru's finding on the prepared record, unless its
 * severity is below min_severity. Returns 1 when a line was appended, 0
 * when it was dropped, or -ENOMEM (nothing appended). A rule's NDJSON head
 * (its id and title, escaped) is kept by its address: ru must stay where
 * it is, unchanged, while r lives (the rule set outlives the scanner that
 * holds r).
 */
int finding_append(ot_buf *out, finding_record *r, const rule *ru);
/* The dedupe key of rule ru's finding on the prepared record (emit.h:
 * its rule id and its line's content span, hashed), or 0 when the event
 * has no eventID string (never deduped). */
uint64_t finding_dedupe_key(finding_record *r, const rule *ru);
/* The content span of a finding line of input path at decoded byte offset
 * (or of a shared part): from its "outcome" member up to its "input"
 * member, which must be path's and offset's. Returns 0 with *at and *len
 * set, -1 when s has no such span, or -ENOMEM. */
int finding_content_span(const char *s, size_t n, const char *path, size_t path_len, uint64_t offset, size_t *at,
                         size_t *len);
/* The dedupe key of an NDJSON or OCSF finding line that orgtrail wrote, as
 * finding_dedupe_key gave it; 0 when it is not one or has no eventID. pc is
 * the caller's, for the parse; h hashes. */
uint64_t finding_line_key(parse_ctx *pc, emit_hasher *h, const char *line, size_t n);
/* A finding line's head, before its shared part: rule, title and severity
 * (NDJSON), or OCSF's opening with finding_info (content: the shared
 * part's content span, for its uid). Returns 0 or -ENOMEM. */
int finding_append_head(ot_buf *out, finding_format format, const rule *ru, severity sev, const ot_slice *event_id,
                        const ot_slice *content, const char *path, uint64_t offset);

/*
 * The part every finding line of the prepared record ends with, built now
 * if no finding_append built it yet: `,"outcome":...}` and a newline
 * (NDJSON: it closes the line's object), or the OCSF members ending with
 * `"unmapped":{...}}` and a newline (it closes unmapped, then the line).
 * The slice lives until the next finding_prepare. Returns 0 or -ENOMEM.
 */
int finding_shared(finding_record *r, ot_slice *out);

/* 1 when the event failed: an errorCode that is not null, or, for console
 * sign-in events, responseElements.<eventName> "Failure". */
int finding_event_denied(parse_ctx *event);

#endif
