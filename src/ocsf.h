/*
 * ocsf: a finding as an OCSF 1.1.0 Detection Finding (class_uid 2004), the
 * form AWS Security Lake, Splunk and Elastic take. The mapping is the
 * README's "OCSF output" table; what OCSF has no place for goes to
 * "unmapped", as orgtrail's own schema names it (finding.c writes that).
 */
#ifndef ORGTRAIL_OCSF_H
#define ORGTRAIL_OCSF_H

#include <stdint.h>

#include "finding.h"

/*
 * finding_info.uid: the hex SHA-256 of the rule id, a NUL byte, the
 * eventID, a NUL byte and the line's content span (finding_content_span:
 * what it says of the event), so one (rule, event) has one uid in every
 * run, copies of the event too, and a record that only reuses another's
 * eventID has its own. An event without an eventID hashes "input:", its
 * path, a NUL and its offset instead. hex gets 64 digits and a NUL.
 */
void ocsf_finding_uid(const char *rule_id, const ot_slice *event_id, const ot_slice *content, const char *path,
                      uint64_t offset, char hex[65]);

/* Opens a finding's object with what is the rule's own: finding_info,
 * severity, message. Returns 0 or -ENOMEM. */
int ocsf_append_head(ot_buf *out, const rule *ru, severity s, const ot_slice *event_id, const ot_slice *content,
                     const char *path, uint64_t offset);

/* Appends what every finding of the record shares, as ",key:value" pairs:
 * the class, time, metadata, cloud, evidences, resources, status (and
 * raw_data when raw). Returns 0 or -ENOMEM. */
int ocsf_append_shared(ot_buf *out, const finding_facts *f, parse_ctx *ev, int raw);

#endif
