#include "finding.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocsf.h"

/* The event's fields a finding line shows, fetched in one parse_get_set. */
enum {
    F_EVENT_TIME, F_EVENT_NAME, F_EVENT_SOURCE, F_EVENT_ID, F_AWS_REGION, F_RECIPIENT_ACCOUNT_ID,
    F_ACTOR_TYPE, F_ACTOR_ARN, F_ACTOR_ACCOUNT_ID, F_ACTOR_ISSUER_ARN, F_ACTOR_PRINCIPAL_ID,
    F_ACTOR_ACCESS_KEY_ID, F_ACTOR_USER_NAME, F_ACTOR_INVOKED_BY, F_ACTOR_MFA,
    F_ACTOR_SESSION_SOURCE_IDENTITY, F_ACTOR_SOURCE_IDENTITY,
    F_SOURCE_IP, F_USER_AGENT, F_ERROR_CODE, F_ERROR_MESSAGE,
    F_REQUEST_PARAMETERS, F_RESPONSE_ELEMENTS, F_SERVICE_EVENT_DETAILS,
    F_COUNT
};

static const char *const field_paths[F_COUNT] = {
    [F_EVENT_TIME] = "eventTime",
    [F_EVENT_NAME] = "eventName",
    [F_EVENT_SOURCE] = "eventSource",
    [F_EVENT_ID] = "eventID",
    [F_AWS_REGION] = "awsRegion",
    [F_RECIPIENT_ACCOUNT_ID] = "recipientAccountId",
    [F_ACTOR_TYPE] = "userIdentity.type",
    [F_ACTOR_ARN] = "userIdentity.arn",
    [F_ACTOR_ACCOUNT_ID] = "userIdentity.accountId",
    [F_ACTOR_ISSUER_ARN] = "userIdentity.sessionContext.sessionIssuer.arn",
    [F_ACTOR_PRINCIPAL_ID] = "userIdentity.principalId",
    [F_ACTOR_ACCESS_KEY_ID] = "userIdentity.accessKeyId",
    [F_ACTOR_USER_NAME] = "userIdentity.userName",
    [F_ACTOR_INVOKED_BY] = "userIdentity.invokedBy",
    [F_ACTOR_MFA] = "userIdentity.sessionContext.attributes.mfaAuthenticated",
    [F_ACTOR_SESSION_SOURCE_IDENTITY] = "userIdentity.sessionContext.sourceIdentity",
    [F_ACTOR_SOURCE_IDENTITY] = "userIdentity.sourceIdentity",
    [F_SOURCE_IP] = "sourceIPAddress",
    [F_USER_AGENT] = "userAgent",
    [F_ERROR_CODE] = "errorCode",
    [F_ERROR_MESSAGE] = "errorMessage",
    [F_REQUEST_PARAMETERS] = "requestParameters",
    [F_RESPONSE_ELEMENTS] = "responseElements",
    [F_SERVICE_EVENT_DETAILS] = "serviceEventDetails",
};

struct finding_record {
    finding_options opt;
    parse_pathset *fields;      /* field_paths, compiled */
    enum parse_type field_type[F_COUNT];    /* of the prepared record, once its shared part is built */
    ot_slice field[F_COUNT];
    finding_facts facts;
    parse_ctx *ev;
    const char *path;
    uint64_t offset;
    ot_slice event_id;          /* ptr NULL: the event has none */
    ot_buf shared;              /* what every finding line of the record ends with */
    int shared_built;           /* for the prepared record */
};

finding_record *finding_record_create(const finding_options *o)
{
    finding_record *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->opt = *o;
    r->fields = parse_pathset_create(field_paths, F_COUNT);
    if (!r->fields) {
        free(r);
        return NULL;
    }
    return r;
}

void finding_record_free(finding_record *r)
{
    if (!r)
        return;
    buf_free(&r->shared);
    parse_pathset_free(r->fields);
    free(r);
}

const finding_facts *finding_record_facts(const finding_record *r)
{
    return &r->facts;
}

/*
 * An event failed when it has an errorCode, or, for the console sign-in
 * events (ConsoleLogin, CheckMfa, SwitchRole, ...), which have none, when
 * responseElements.<eventName> is "Failure" (a failed ConsoleLogin has only
 * an errorMessage beside it).
 */
int finding_event_denied(parse_ctx *event)
{
    ot_slice v;
    enum parse_type t = parse_get(event, "errorCode", &v);
    if (t != PARSE_ABSENT && t != PARSE_NULL)
        return 1;
    ot_slice name;
    char path[64] = "responseElements.";
    size_t at = strlen(path);
    if (parse_get(event, "eventName", &name) != PARSE_STRING || name.len == 0 || name.len >= sizeof path - at)
        return 0;
    for (size_t i = 0; i < name.len; i++) {
        char c = name.ptr[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return 0;       /* a dot would descend further */
    }
    memcpy(path + at, name.ptr, name.len);
    path[at + name.len] = '\0';
    return parse_get_uncached(event, path, &v) == PARSE_STRING && v.len == 7 && memcmp(v.ptr, "Failure", 7) == 0;
}

/* ---- facts -------------------------------------------------------------- */

static int is_name(const ot_slice *name, const char *s)
{
    return name->len == strlen(s) && memcmp(name->ptr, s, name->len) == 0;
}

static int is_one_of(const ot_slice *name, const char *const *list)
{
    for (; *list; list++)
        if (is_name(name, *list))
            return 1;
    return 0;
}

/* A string field, or an absent slice. */
static ot_slice string_at(parse_ctx *ev, const char *path)
{
    ot_slice v;
    if (parse_get(ev, path, &v) != PARSE_STRING)
        return (ot_slice){NULL, 0};
    return v;
}

static void set_if(ot_slice *into, ot_slice v)
{
    if (v.ptr && !into->ptr)
        *into = v;
}

/* ROOT for r-..., ORGANIZATIONAL_UNIT for ou-..., ACCOUNT for 12 digits. */
static const char *id_type(const ot_slice *id)
{
    if (!id->ptr)
        return NULL;
    if (id->len > 2 && memcmp(id->ptr, "r-", 2) == 0)
        return "ROOT";
    if (id->len > 3 && memcmp(id->ptr, "ou-", 3) == 0)
        return "ORGANIZATIONAL_UNIT";
    if (id->len != 12)
        return NULL;
    for (size_t i = 0; i < 12; i++)
        if (id->ptr[i] < '0' || id->ptr[i] > '9')
            return NULL;
    return "ACCOUNT";
}

/* Where each Organizations call names what it acted on: see the README's
 * target table and its sources. */
static void find_target(finding_target *t, parse_ctx *ev, const ot_slice *name, const org_context *c)
{
    static const char *const account_in_request[] = {
        "RemoveAccountFromOrganization", "CloseAccount", "MoveAccount",
        "RegisterDelegatedAdministrator", "DeregisterDelegatedAdministrator", NULL,
    };
    static const char *const membership[] = { "AccountJoinedOrganization", "AccountDepartedOrganization", NULL };
    static const char *const handshake_in_request[] = {
        "AcceptHandshake", "DeclineHandshake", "CancelHandshake", NULL,
    };
    static const char *const handshake_in_response[] = { "InviteAccountToOrganization", "EnableAllFeatures", NULL };
    static const char *const policy_type_calls[] = { "EnablePolicyType", "DisablePolicyType", NULL };
    static const char *const target_calls[] = { "AttachPolicy", "DetachPolicy", NULL };

    memset(t, 0, sizeof *t);
    if (is_name(name, "LeaveOrganization"))
        t->account_id = string_at(ev, "recipientAccountId");
    else if (is_one_of(name, account_in_request))
        t->account_id = string_at(ev, "requestParameters.accountId");
    else if (is_name(name, "CreateAccountResult"))
        t->account_id = string_at(ev, "serviceEventDetails.createAccountStatus.accountId");
    else if (is_name(name, "CloseAccountResult"))
        t->account_id = string_at(ev, "serviceEventDetails.closeAccountStatus.accountId");
    else if (is_one_of(name, membership))
        t->account_id = string_at(ev, "serviceEventDetails.accountId");
    else if (is_name(name, "InviteAccountToOrganization")) {
        ot_slice type = string_at(ev, "requestParameters.target.type");
        if (type.ptr && type.len == 7 && memcmp(type.ptr, "ACCOUNT", 7) == 0)
            t->account_id = string_at(ev, "requestParameters.target.id");
    }

    t->policy_id = string_at(ev, "requestParameters.policyId");
    if (is_name(name, "CreatePolicy")) {
        set_if(&t->policy_id, string_at(ev, "responseElements.policy.policySummary.id"));
        t->policy_type = string_at(ev, "requestParameters.type");
    }
    if (is_one_of(name, policy_type_calls)) {
        t->policy_type = string_at(ev, "requestParameters.policyType");
        t->target_id = string_at(ev, "requestParameters.rootId");
    }
    if (is_one_of(name, target_calls))
        t->target_id = string_at(ev, "requestParameters.targetId");
    t->target_type = id_type(&t->target_id);
    t->service_principal = string_at(ev, "requestParameters.servicePrincipal");

    if (is_name(name, "CreateAccount"))
        t->create_account_request_id = string_at(ev, "responseElements.createAccountStatus.id");
    else if (is_name(name, "CreateAccountResult"))
        t->create_account_request_id = string_at(ev, "serviceEventDetails.createAccountStatus.id");
    if (is_name(name, "MoveAccount")) {
        t->source_parent_id = string_at(ev, "requestParameters.sourceParentId");
        t->destination_parent_id = string_at(ev, "requestParameters.destinationParentId");
    }
    if (is_one_of(name, handshake_in_request))
        t->handshake_id = string_at(ev, "requestParameters.handshakeId");
    else if (is_one_of(name, handshake_in_response))
        t->handshake_id = string_at(ev, "responseElements.handshake.id");

    /* the inventory names what the event does not */
    if (!t->policy_type.ptr && t->policy_id.ptr) {
        const char *type = context_policy_type(c, t->policy_id.ptr, t->policy_id.len);
        if (type)
            t->policy_type = (ot_slice){type, strlen(type)};
    }
    if (t->account_id.ptr)
        t->account_name = context_account_name(c, t->account_id.ptr, t->account_id.len);

    const ot_slice *keys[] = {
        &t->account_id, &t->policy_id, &t->policy_type, &t->target_id, &t->service_principal,
        &t->create_account_request_id, &t->source_parent_id, &t->destination_parent_id, &t->handshake_id,
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        t->any |= keys[i]->ptr != NULL;
}

static void find_facts(finding_record *r, parse_ctx *ev)
{
    static const char *const policy_calls[] = {
        "AttachPolicy", "DetachPolicy", "UpdatePolicy", "DeletePolicy", NULL,
    };
    /* the calls the seed says to look into "unless your cloud security
     * program did it" */
    static const char *const program_calls[] = {
        "RegisterDelegatedAdministrator", "DeregisterDelegatedAdministrator",
        "EnableAWSServiceAccess", "DisableAWSServiceAccess", NULL,
    };
    finding_facts *f = &r->facts;
    const org_context *c = r->opt.context;
    memset(f, 0, sizeof *f);
    f->denied = finding_event_denied(ev);

    ot_slice arn = string_at(ev, "userIdentity.arn");
    f->trusted = arn.ptr && context_is_trusted(c, arn.ptr, arn.len);

    ot_slice source = string_at(ev, "eventSource"), name = string_at(ev, "eventName");
    if (!source.ptr || !name.ptr || !rules_is_org_source(source.ptr, source.len))
        return;     /* the target table is the Organizations calls' */
    find_target(&f->target, ev, &name, c);

    const ot_slice *type = &f->target.policy_type;
    if (is_one_of(&name, policy_calls) && type->ptr && context_not_security_control(type->ptr, type->len)) {
        f->lower_to_low = 1;
        snprintf(f->note, sizeof f->note, "%.*s is not a security control (--org-inventory): severity at most low",
                 (int)(type->len < 64 ? type->len : 64), type->ptr);
    }
    if (f->trusted && is_one_of(&name, program_calls)) {
        f->lower_to_info = 1;
        snprintf(f->note, sizeof f->note, "made by a trusted principal (--trusted-principal): severity info");
    }
}

severity finding_severity(const finding_record *r, const rule *ru)
{
    severity s = rules_severity(ru, r->facts.denied);
    if (r->facts.lower_to_low && s > SEV_LOW)
        s = SEV_LOW;
    if (r->facts.lower_to_info)
        s = SEV_INFO;
    return s;
}

/* ---- the line ----------------------------------------------------------- */

/* A field's value: strings re-escaped, other JSON as simdjson minified it,
 * absent as null. */
static int append_field(ot_buf *out, const finding_record *r, int f)
{
    const ot_slice *v = &r->field[f];
    enum parse_type t = r->field_type[f];
    if (t == PARSE_STRING)
        return buf_append_json_string(out, v->ptr, v->len);
    if (t == PARSE_ABSENT)
        return buf_append(out, "null", 4);
    return buf_append(out, v->ptr, v->len);
}

/* A literal, punctuation and key: ,"eventTime": */
typedef struct {
    const char *text;
    size_t len;
} literal;
#define LITERAL(s) { s, sizeof s - 1 }

static int append_literal(ot_buf *out, const literal *l)
{
    return buf_append(out, l->text, l->len);
}

/* A key literal and the field that follows it. */
typedef struct {
    literal key;
    int field;
} keyed_field;

static int append_keyed(ot_buf *out, const finding_record *r, const keyed_field *list, size_t n)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < n; i++) {
        rc = append_literal(out, &list[i].key);
        rc = rc ? rc : append_field(out, r, list[i].field);
    }
    return rc;
}

static int append_key(ot_buf *out, int first, const char *key)
{
    /* by hand, not buf_printf: this runs for every key of every finding */
    size_t n = strlen(key);
    if (buf_reserve(out, n + 4))
        return -ENOMEM;
    char *p = out->data + out->len;
    if (!first)
        *p++ = ',';
    *p++ = '"';
    memcpy(p, key, n);
    p += n;
    *p++ = '"';
    *p++ = ':';
    out->len = (size_t)(p - out->data);
    return 0;
}

static int append_slice(ot_buf *out, const ot_slice *v)
{
    return v->ptr ? buf_append_json_string(out, v->ptr, v->len) : buf_append_str(out, "null");
}

static int append_cstr(ot_buf *out, const char *s)
{
    return s ? buf_append_json_string(out, s, strlen(s)) : buf_append_str(out, "null");
}

static int append_actor(ot_buf *out, const finding_record *r)
{
    static const keyed_field actor[] = {
        { LITERAL("{\"type\":"), F_ACTOR_TYPE },
        { LITERAL(",\"arn\":"), F_ACTOR_ARN },
        { LITERAL(",\"accountId\":"), F_ACTOR_ACCOUNT_ID },
        { LITERAL(",\"sessionIssuerArn\":"), F_ACTOR_ISSUER_ARN },
        { LITERAL(",\"principalId\":"), F_ACTOR_PRINCIPAL_ID },
        { LITERAL(",\"accessKeyId\":"), F_ACTOR_ACCESS_KEY_ID },
        { LITERAL(",\"userName\":"), F_ACTOR_USER_NAME },
        { LITERAL(",\"invokedBy\":"), F_ACTOR_INVOKED_BY },
    };
    int rc = append_keyed(out, r, actor, sizeof actor / sizeof actor[0]);
    /* CloudTrail writes the flag as the string "true" or "false" */
    const ot_slice *mfa = &r->field[F_ACTOR_MFA];
    enum parse_type t = r->field_type[F_ACTOR_MFA];
    const char *flag = "null";
    if ((t == PARSE_STRING || t == PARSE_BOOL) && mfa->len == 4 && memcmp(mfa->ptr, "true", 4) == 0)
        flag = "true";
    else if ((t == PARSE_STRING || t == PARSE_BOOL) && mfa->len == 5 && memcmp(mfa->ptr, "false", 5) == 0)
        flag = "false";
    rc = rc ? rc : append_key(out, 0, "mfaAuthenticated");
    rc = rc ? rc : buf_append_str(out, flag);
    rc = rc ? rc : append_key(out, 0, "sourceIdentity");
    if (!rc)
        rc = append_field(out, r, r->field_type[F_ACTOR_SESSION_SOURCE_IDENTITY] != PARSE_ABSENT
                                      ? F_ACTOR_SESSION_SOURCE_IDENTITY : F_ACTOR_SOURCE_IDENTITY);
    return rc ? rc : buf_append_str(out, "}");
}

static int append_target(ot_buf *out, const finding_target *t)
{
    if (!t->any)
        return buf_append_str(out, "null");
    const struct { const char *key; const ot_slice *v; } keys[] = {
        { "accountId", &t->account_id },
        { "policyId", &t->policy_id },
        { "policyType", &t->policy_type },
        { "targetId", &t->target_id },
    };
    int rc = buf_append_str(out, "{");
    for (size_t i = 0; !rc && i < sizeof keys / sizeof keys[0]; i++) {
        rc = append_key(out, i == 0, keys[i].key);
        rc = rc ? rc : append_slice(out, keys[i].v);
        if (!rc && i == 0) {
            rc = append_key(out, 0, "accountName");
            rc = rc ? rc : append_cstr(out, t->account_name);
        }
    }
    const struct { const char *key; const ot_slice *v; } more[] = {
        { "servicePrincipal", &t->service_principal },
        { "createAccountRequestId", &t->create_account_request_id },
        { "sourceParentId", &t->source_parent_id },
        { "destinationParentId", &t->destination_parent_id },
        { "handshakeId", &t->handshake_id },
    };
    rc = rc ? rc : append_key(out, 0, "targetType");
    rc = rc ? rc : append_cstr(out, t->target_type);
    for (size_t i = 0; !rc && i < sizeof more / sizeof more[0]; i++) {
        rc = append_key(out, 0, more[i].key);
        rc = rc ? rc : append_slice(out, more[i].v);
    }
    return rc ? rc : buf_append_str(out, "}");
}

static int append_context(ot_buf *out, const finding_facts *f)
{
    int rc = buf_append_str(out, f->trusted ? "{\"trusted\":true,\"note\":" : "{\"trusted\":false,\"note\":");
    rc = rc ? rc : (f->note[0] ? append_cstr(out, f->note) : buf_append_str(out, "null"));
    return rc ? rc : buf_append_str(out, "}");
}

/*
 * The fields of orgtrail's own schema after "outcome", as `,"key":value`
 * pairs: the event's place, its actor, target and context, the request and
 * response, and where the record was. with_event adds the event itself.
 */
/* ,"offset":N} by hand: vsnprintf was 2% of the community set's run */
static int append_offset(ot_buf *out, uint64_t offset)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + offset % 10);
        offset /= 10;
    } while (offset);
    static const literal key = LITERAL(",\"offset\":");
    if (buf_reserve(out, key.len + n + 1))
        return -ENOMEM;
    char *p = out->data + out->len;
    memcpy(p, key.text, key.len);
    p += key.len;
    while (n)
        *p++ = digits[--n];
    *p++ = '}';
    out->len = (size_t)(p - out->data);
    return 0;
}

static int append_fields(ot_buf *out, const finding_record *r, parse_ctx *ev, int with_event)
{
    static const keyed_field top[] = {
        { LITERAL(",\"eventTime\":"), F_EVENT_TIME },
        { LITERAL(",\"eventName\":"), F_EVENT_NAME },
        { LITERAL(",\"eventSource\":"), F_EVENT_SOURCE },
        { LITERAL(",\"eventID\":"), F_EVENT_ID },
        { LITERAL(",\"awsRegion\":"), F_AWS_REGION },
        { LITERAL(",\"recipientAccountId\":"), F_RECIPIENT_ACCOUNT_ID },
    }, rest[] = {
        { LITERAL(",\"sourceIPAddress\":"), F_SOURCE_IP },
        { LITERAL(",\"userAgent\":"), F_USER_AGENT },
        { LITERAL(",\"errorCode\":"), F_ERROR_CODE },
        { LITERAL(",\"errorMessage\":"), F_ERROR_MESSAGE },
        { LITERAL(",\"requestParameters\":"), F_REQUEST_PARAMETERS },
        { LITERAL(",\"responseElements\":"), F_RESPONSE_ELEMENTS },
        { LITERAL(",\"serviceEventDetails\":"), F_SERVICE_EVENT_DETAILS },
    };
    int rc = append_keyed(out, r, top, sizeof top / sizeof top[0]);
    rc = rc ? rc : buf_append_str(out, ",\"actor\":");
    rc = rc ? rc : append_actor(out, r);
    rc = rc ? rc : buf_append_str(out, ",\"target\":");
    rc = rc ? rc : append_target(out, &r->facts.target);
    rc = rc ? rc : buf_append_str(out, ",\"context\":");
    rc = rc ? rc : append_context(out, &r->facts);
    rc = rc ? rc : append_keyed(out, r, rest, sizeof rest / sizeof rest[0]);
    rc = rc ? rc : buf_append_str(out, ",\"input\":{\"path\":");
    rc = rc ? rc : buf_append_json_string(out, r->path, strlen(r->path));
    rc = rc ? rc : append_offset(out, r->offset);
    if (!rc && with_event) {
        ot_slice all = parse_event_json(ev);
        rc = buf_append_str(out, ",\"event\":");
        rc = rc ? rc : buf_append(out, all.ptr, all.len);
    }
    return rc;
}

int finding_prepare(finding_record *r, parse_ctx *ev, const char *path, uint64_t offset)
{
    r->ev = ev;
    r->path = path;
    r->offset = offset;
    r->event_id = string_at(ev, "eventID");
    find_facts(r, ev);
    r->shared_built = 0;    /* built by the first finding that is kept */
    return 0;
}

/* The part every finding line of the record ends with. */
static int build_shared(finding_record *r)
{
    parse_ctx *ev = r->ev;
    ot_buf *s = &r->shared;
    s->len = 0;
    parse_get_set(ev, r->fields, r->field_type, r->field);
    const char *outcome = r->facts.denied ? "\"failure\"" : "\"success\"";
    int rc;
    if (r->opt.format == FINDING_OCSF) {
        rc = ocsf_append_shared(s, &r->facts, ev, r->opt.raw);
        rc = rc ? rc : buf_append_str(s, ",\"unmapped\":{\"outcome\":");
        rc = rc ? rc : buf_append_str(s, outcome);
        rc = rc ? rc : append_fields(s, r, ev, 0);
        rc = rc ? rc : buf_append_str(s, "}}\n");
    } else {
        rc = buf_append_str(s, ",\"outcome\":");
        rc = rc ? rc : buf_append_str(s, outcome);
        rc = rc ? rc : append_fields(s, r, ev, r->opt.raw);
        rc = rc ? rc : buf_append_str(s, "}\n");
    }
    if (rc)
        s->len = 0;
    r->shared_built = !rc;
    return rc;
}

int finding_shared(finding_record *r, ot_slice *out)
{
    int rc = r->shared_built ? 0 : build_shared(r);
    *out = rc ? (ot_slice){ NULL, 0 } : (ot_slice){ r->shared.data, r->shared.len };
    return rc;
}

int finding_append_head(ot_buf *out, finding_format format, const rule *ru, severity sev, const ot_slice *event_id,
                        const char *path, uint64_t offset)
{
    if (format == FINDING_OCSF)
        return ocsf_append_head(out, ru, sev, event_id, path, offset);
    int rc = buf_append_str(out, "{\"rule\":");
    rc = rc ? rc : buf_append_json_string(out, ru->id, strlen(ru->id));
    rc = rc ? rc : buf_append_str(out, ",\"title\":");
    rc = rc ? rc : buf_append_json_string(out, ru->title, strlen(ru->title));
    rc = rc ? rc : buf_append_str(out, ",\"severity\":\"");
    rc = rc ? rc : buf_append_str(out, severity_name(sev));
    return rc ? rc : buf_append(out, "\"", 1);
}

int finding_append(ot_buf *out, finding_record *r, const rule *ru)
{
    severity sev = finding_severity(r, ru);
    if (sev < r->opt.min_severity)
        return 0;
    int rc = r->shared_built ? 0 : build_shared(r);
    if (rc)
        return rc;
    buf_take_spare(out);    /* an output buffer's first line: memory already touched */
    size_t start = out->len;
    rc = finding_append_head(out, r->opt.format, ru, sev, &r->event_id, r->path, r->offset);
    rc = rc ? rc : buf_append(out, r->shared.data, r->shared.len);
    if (rc) {
        out->len = start;   /* never leave half a line behind */
        return rc;
    }
    return 1;
}
