#include "rules.h"

#include <stdlib.h>
#include <string.h>

#define NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* The built-in Organizations pack. Keep ids stable: users filter on them. */
static const rule builtin_rules[] = {
    { "org.leave_organization", "Member account left the organization", SEV_CRITICAL,
      "a member account leaving: possible account theft", NAMES("LeaveOrganization") },
    { "org.delete_organization", "Organization deleted", SEV_CRITICAL,
      "the whole organization and its SCPs go", NAMES("DeleteOrganization") },
    { "org.disable_policy_type", "Policy type disabled in a root", SEV_CRITICAL,
      "detaches every policy of that type at once", NAMES("DisablePolicyType") },
    { "org.remove_account", "Account removed from the organization", SEV_HIGH,
      "the management account ejects a member", NAMES("RemoveAccountFromOrganization") },
    { "org.account_departed", "Account departed the organization", SEV_HIGH,
      "the management account's view of a leave or removal", NAMES("AccountDepartedOrganization") },
    { "org.delete_policy", "Organization policy deleted", SEV_HIGH,
      "removes a control, often an SCP", NAMES("DeletePolicy") },
    { "org.detach_policy", "Organization policy detached", SEV_HIGH,
      "lifts an SCP from an account or OU", NAMES("DetachPolicy") },
    { "org.update_policy", "Organization policy updated", SEV_HIGH,
      "can weaken an SCP without detaching it", NAMES("UpdatePolicy") },
    { "org.deregister_delegated_admin", "Delegated administrator deregistered", SEV_HIGH,
      "cuts the security account off", NAMES("DeregisterDelegatedAdministrator") },
    { "org.disable_service_access", "AWS service access disabled", SEV_HIGH,
      "disconnects a service (e.g. GuardDuty) from member accounts", NAMES("DisableAWSServiceAccess") },
    { "org.close_account", "Account closed", SEV_HIGH,
      "an account is closed", NAMES("CloseAccount") },
    { "org.register_delegated_admin", "Delegated administrator registered", SEV_MEDIUM,
      "investigate unless the security team did it", NAMES("RegisterDelegatedAdministrator") },
    { "org.attach_policy", "Organization policy attached", SEV_MEDIUM,
      "Tag and Backup policies make some of these benign", NAMES("AttachPolicy") },
    { "org.create_account", "Account created in the organization", SEV_MEDIUM,
      "root email unverified; an account an attacker may keep", NAMES("CreateAccount") },
    { "org.invite_account", "Account invited to the organization", SEV_MEDIUM,
      "an outside account is asked to join", NAMES("InviteAccountToOrganization") },
    { "org.create_account_result", "Account creation finished", SEV_LOW,
      "carries the new accountId", NAMES("CreateAccountResult") },
    { "org.structure_change", "Organization structure changed", SEV_LOW,
      "change the org's shape",
      NAMES("AcceptHandshake", "MoveAccount", "EnableAWSServiceAccess", "CreatePolicy",
            "EnablePolicyType", "EnableAllFeatures", "CreateOrganizationalUnit",
            "DeleteOrganizationalUnit") },
};

static const rule catch_all = { "org.event", "Organizations event", SEV_INFO,
                                "any other Organizations call (only with --all-org-events)",
                                NAMES("*") };

struct rules {
    const rule *list;
    size_t n;
};

rules *rules_load_builtin(void)
{
    rules *r = malloc(sizeof *r);
    if (!r)
        return NULL;
    r->list = builtin_rules;
    r->n = sizeof builtin_rules / sizeof builtin_rules[0];
    return r;
}

void rules_free(rules *r)
{
    free(r);
}

size_t rules_count(const rules *r)
{
    return r->n;
}

const rule *rules_at(const rules *r, size_t i)
{
    return i < r->n ? &r->list[i] : NULL;
}

const rule *rules_catch_all(void)
{
    return &catch_all;
}

static int has_suffix(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

int rules_is_org_source(const char *s, size_t n)
{
    static const char prefix[] = "organizations.";
    size_t p = sizeof prefix - 1;
    if (n < p || memcmp(s, prefix, p) != 0)
        return 0;
    const char *rest = s + p;
    size_t m = n - p;
    size_t tail;
    if (has_suffix(rest, m, "amazonaws.com"))
        tail = 13;
    else if (has_suffix(rest, m, "amazonaws.com.cn"))
        tail = 16;
    else
        return 0;
    if (m == tail)
        return 1;                        /* organizations.amazonaws.com */
    /* organizations.<region>.amazonaws.com: one label of [a-z0-9-] */
    size_t region_len = m - tail;
    if (region_len < 2 || rest[region_len - 1] != '.')
        return 0;
    for (size_t i = 0; i < region_len - 1; i++) {
        char c = rest[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

size_t rules_match(const rules *r, parse_ctx *event, const rule **out, size_t max)
{
    ot_slice name;
    if (parse_get(event, "eventName", &name) != PARSE_STRING)
        return 0;
    size_t found = 0;
    for (size_t i = 0; i < r->n && found < max; i++) {
        for (const char *const *en = r->list[i].event_names; *en; en++) {
            if (strlen(*en) == name.len && memcmp(*en, name.ptr, name.len) == 0) {
                out[found++] = &r->list[i];
                break;
            }
        }
    }
    return found;
}

severity rules_severity(const rule *ru, int denied)
{
    if (denied && ru->level > SEV_INFO)
        return (severity)(ru->level - 1);
    return ru->level;
}

const char *severity_name(severity s)
{
    static const char *const names[] = { "info", "low", "medium", "high", "critical" };
    return names[s];
}
