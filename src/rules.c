#include "rules.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* The built-in Organizations pack. Keep ids stable: users filter on them. */
static const rule builtin_rules[] = {
    { "org.leave_organization", "Member account left the organization", SEV_CRITICAL,
      "a member account leaving: possible account theft", NAMES("LeaveOrganization"), NULL, 1 },
    { "org.delete_organization", "Organization deleted", SEV_CRITICAL,
      "the whole organization and its SCPs go", NAMES("DeleteOrganization"), NULL, 1 },
    { "org.disable_policy_type", "Policy type disabled in a root", SEV_CRITICAL,
      "detaches every policy of that type at once", NAMES("DisablePolicyType"), NULL, 1 },
    { "org.remove_account", "Account removed from the organization", SEV_HIGH,
      "the management account ejects a member", NAMES("RemoveAccountFromOrganization"), NULL, 1 },
    { "org.account_departed", "Account departed the organization", SEV_HIGH,
      "the management account's view of a leave or removal", NAMES("AccountDepartedOrganization"), NULL, 1 },
    { "org.delete_policy", "Organization policy deleted", SEV_HIGH,
      "removes a control, often an SCP", NAMES("DeletePolicy"), NULL, 1 },
    { "org.detach_policy", "Organization policy detached", SEV_HIGH,
      "lifts an SCP from an account or OU", NAMES("DetachPolicy"), NULL, 1 },
    { "org.update_policy", "Organization policy updated", SEV_HIGH,
      "can weaken an SCP without detaching it", NAMES("UpdatePolicy"), NULL, 1 },
    { "org.deregister_delegated_admin", "Delegated administrator deregistered", SEV_HIGH,
      "cuts the security account off", NAMES("DeregisterDelegatedAdministrator"), NULL, 1 },
    { "org.disable_service_access", "AWS service access disabled", SEV_HIGH,
      "disconnects a service (e.g. GuardDuty) from member accounts", NAMES("DisableAWSServiceAccess"), NULL, 1 },
    { "org.close_account", "Account closed", SEV_HIGH,
      "an account is closed", NAMES("CloseAccount"), NULL, 1 },
    { "org.register_delegated_admin", "Delegated administrator registered", SEV_MEDIUM,
      "investigate unless the security team did it", NAMES("RegisterDelegatedAdministrator"), NULL, 1 },
    { "org.attach_policy", "Organization policy attached", SEV_MEDIUM,
      "Tag and Backup policies make some of these benign", NAMES("AttachPolicy"), NULL, 1 },
    { "org.create_account", "Account created in the organization", SEV_MEDIUM,
      "root email unverified; an account an attacker may keep", NAMES("CreateAccount"), NULL, 1 },
    { "org.invite_account", "Account invited to the organization", SEV_MEDIUM,
      "an outside account is asked to join", NAMES("InviteAccountToOrganization"), NULL, 1 },
    { "org.create_account_result", "Account creation finished", SEV_LOW,
      "carries the new accountId", NAMES("CreateAccountResult"), NULL, 1 },
    { "org.structure_change", "Organization structure changed", SEV_LOW,
      "change the org's shape",
      NAMES("AcceptHandshake", "MoveAccount", "EnableAWSServiceAccess", "CreatePolicy",
            "EnablePolicyType", "EnableAllFeatures", "CreateOrganizationalUnit",
            "DeleteOrganizationalUnit"), NULL, 1 },
};

static const rule catch_all = { "org.event", "Organizations event", SEV_INFO,
                                "any other Organizations call (only with --all-org-events)",
                                NAMES("*"), NULL, 0 };

struct rules {
    rule *list;               /* the built-in pack (copied), then one per Sigma rule */
    size_t n, cap;
    size_t builtin;           /* how many of list are the built-in pack */
    sigma_set *sigma;
    const char **needles;     /* rules_needles' answer, built on first use */
    size_t nneedles;
    int needles_ready;
    const rule *unanchored;
};

static int add(rules *r, rule ru)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        rule *l = realloc(r->list, cap * sizeof *l);
        if (!l)
            return -1;
        r->list = l;
        r->cap = cap;
    }
    r->list[r->n++] = ru;
    r->needles_ready = 0;
    return 0;
}

rules *rules_create(int with_builtin)
{
    rules *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->sigma = sigma_set_create();
    if (!r->sigma) {
        free(r);
        return NULL;
    }
    for (size_t i = 0; with_builtin && i < sizeof builtin_rules / sizeof builtin_rules[0]; i++) {
        if (add(r, builtin_rules[i])) {
            rules_free(r);
            return NULL;
        }
    }
    r->builtin = r->n;
    return r;
}

int rules_add_sigma(rules *r, const char *path, sigma_report_fn report, void *arg)
{
    size_t before = sigma_count(r->sigma);
    int got = sigma_load_path(r->sigma, path, report, arg);
    for (size_t i = before; i < sigma_count(r->sigma); i++) {
        const sigma_rule *s = sigma_at(r->sigma, i);
        rule ru = { sigma_rule_id(s), sigma_rule_title(s), (severity)sigma_rule_level(s), "", NULL, s, 0 };
        if (add(r, ru))
            return -1;
    }
    return got;
}

void rules_free(rules *r)
{
    if (!r)
        return;
    sigma_set_free(r->sigma);
    free(r->needles);
    free(r->list);
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

const char *const *rules_needles(const rules *cr, size_t *n, const rule **unanchored)
{
    rules *r = (rules *)cr;      /* built once, on first use, before any thread reads it */
    if (!r->needles_ready) {
        free(r->needles);
        r->needles = NULL;
        r->nneedles = 0;
        r->unanchored = NULL;
        size_t cap = 1;
        for (size_t i = r->builtin; i < r->n; i++)
            for (const char *const *nd = sigma_rule_needles(r->list[i].sigma); *nd; nd++)
                cap++;
        r->needles = malloc(cap * sizeof *r->needles);
        if (!r->needles) {
            *n = 0;
            *unanchored = NULL;
            return NULL;
        }
        if (r->builtin > 0)
            r->needles[r->nneedles++] = "\"organizations.";
        for (size_t i = r->builtin; i < r->n; i++) {
            const char *const *nd = sigma_rule_needles(r->list[i].sigma);
            if (!*nd && !r->unanchored)
                r->unanchored = &r->list[i];
            for (; *nd; nd++) {
                size_t k = 0;
                while (k < r->nneedles && strcasecmp(r->needles[k], *nd) != 0)
                    k++;
                if (k == r->nneedles)
                    r->needles[r->nneedles++] = *nd;
            }
        }
        r->needles_ready = 1;
    }
    *n = r->nneedles;
    *unanchored = r->unanchored;
    return r->needles;
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

size_t rules_match(const rules *r, parse_ctx *event, int is_org, const rule **out, size_t max)
{
    size_t found = 0;
    ot_slice name;
    if (is_org && r->builtin > 0 && parse_get(event, "eventName", &name) == PARSE_STRING) {
        for (size_t i = 0; i < r->builtin && found < max; i++) {
            for (const char *const *en = r->list[i].event_names; *en; en++) {
                if (strlen(*en) == name.len && memcmp(*en, name.ptr, name.len) == 0) {
                    out[found++] = &r->list[i];
                    break;
                }
            }
        }
    }
    for (size_t i = r->builtin; i < r->n && found < max; i++)
        if (sigma_rule_matches(r->list[i].sigma, event))
            out[found++] = &r->list[i];
    return found;
}

severity rules_severity(const rule *ru, int denied)
{
    if (denied && ru->lower_when_denied && ru->level > SEV_INFO)
        return (severity)(ru->level - 1);
    return ru->level;
}

const char *severity_name(severity s)
{
    static const char *const names[] = { "info", "low", "medium", "high", "critical" };
    return names[s];
}
