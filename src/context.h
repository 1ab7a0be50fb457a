/*
 * context: what the organization itself knows, which no log line says.
 *
 *   - The inventory (--org-inventory FILE, repeatable): the JSON that the
 *     AWS CLI prints for `aws organizations list-policies --filter TYPE`
 *     (Policies[].Id, .Type), `list-accounts` (Accounts[].Id, .Name) and
 *     `list-delegated-administrators` (DelegatedAdministrators[].Id, .Name).
 *     It names a policy's type and an account's name.
 *   - Trusted principals (--trusted-principal GLOB, repeatable): fnmatch(3)
 *     patterns matched against a finding's actor.arn, the organization's
 *     own security automation.
 *
 * An org_context is built before the scan and only read during it, so any
 * number of threads may look things up at once.
 */
#ifndef ORGTRAIL_CONTEXT_H
#define ORGTRAIL_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

typedef struct org_context org_context;

/* Returns NULL when out of memory. */
org_context *context_create(void);
/* Accepts NULL. */
void context_free(org_context *c);

/*
 * Reads one inventory file. Returns the number of entries it held (policies,
 * accounts and delegated administrators), or -1 with a one-line reason in
 * err: the file cannot be read, is not JSON, or holds none of the three
 * lists. An id seen twice keeps its first type or name.
 */
long context_load_inventory(org_context *c, const char *path, char *err, size_t errlen);

/* Adds a trusted-principal pattern (copied). Returns 0 or -ENOMEM. */
int context_add_trusted(org_context *c, const char *glob);

/* The type of policy id (n bytes), e.g. "SERVICE_CONTROL_POLICY", or NULL
 * when the inventory does not list it. Owned by c. */
const char *context_policy_type(const org_context *c, const char *id, size_t n);
/* The name of account id, or NULL. Owned by c. */
const char *context_account_name(const org_context *c, const char *id, size_t n);
/* 1 when arn (n bytes) matches a trusted-principal pattern. */
int context_is_trusted(const org_context *c, const char *arn, size_t n);

/* 1 when the policy type (n bytes) is known not to be a security control:
 * TAG_POLICY, BACKUP_POLICY, AISERVICES_OPT_OUT_POLICY, CHATBOT_POLICY.
 * Service and resource control policies, and any type orgtrail does not
 * know, are 0: an unknown type never lowers a finding. */
int context_not_security_control(const char *policy_type, size_t n);

/* A hash of everything c holds, for the checkpoint's fingerprint. */
uint64_t context_hash(const org_context *c);

#endif
