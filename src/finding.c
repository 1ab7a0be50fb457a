#define _GNU_SOURCE     /* memmem */
#include "finding.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
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
    enum parse_type field_type[F_COUNT];    /* of the prepared record (finding_prepare) */
    ot_slice field[F_COUNT];
    finding_facts facts;
    parse_ctx *ev;
    const char *path;
    size_t path_len;
    uint64_t offset;
    ot_slice event_id;          /* ptr NULL: the event has none */
    ot_buf shared;              /* what every finding line of the record ends with */
    int shared_built;           /* for the prepared record */
    size_t content_at, input_at;    /* in shared: its "outcome" member, its "input" one */
    emit_hasher *hasher;
    uint64_t content_hash;      /* of shared's content span, once content_hashed */
    int content_hashed;         /* 1 hashed, -1 hashing failed (no key) */
    /* the NDJSON heads of the rules seen so far, by rule address
     * (open addressing, half full at most): a rule's id and title are
     * escaped, and its id hashed, once a run instead of once a finding */
    struct rule_head {
        const rule *ru;         /* NULL: an empty slot */
        uint64_t id_hash;       /* emit_rule_hash of its id */
        size_t off, len;        /* its {"rule":...,"severity":" in head_text */
    } *heads;
    size_t heads_cap, nheads;
    ot_buf head_text;
    /* the input path as a JSON string, escaped once for all the records of
     * an input: path_json is valid when path_src holds the path's bytes
     * (a copy: the path's memory may be reused for another one) */
    ot_buf path_src, path_json;
    int path_known;
};

finding_record *finding_record_create(const finding_options *o)
{
    finding_record *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->opt = *o;
    r->fields = parse_pathset_create(field_paths, F_COUNT);
    r->hasher = emit_hasher_create();
    if (!r->fields || !r->hasher) {
        parse_pathset_free(r->fields);
        emit_hasher_free(r->hasher);
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
    buf_free(&r->head_text);
    buf_free(&r->path_src);
    buf_free(&r->path_json);
    free(r->heads);
    parse_pathset_free(r->fields);
    emit_hasher_free(r->hasher);
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
/* finding_event_denied, from the errorCode and eventName parse_get gave
 * (types and values) and whether responseElements is an object. */
static int denied_of(parse_ctx *event, enum parse_type error_code, enum parse_type name_type, const ot_slice *name,
                     int response_is_object)
{
    if (error_code != PARSE_ABSENT && error_code != PARSE_NULL)
        return 1;
    char path[64] = "responseElements.";
    size_t at = strlen(path);
    if (!response_is_object || name_type != PARSE_STRING || name->len == 0 || name->len >= sizeof path - at)
        return 0;   /* not an object: responseElements.<eventName> is absent */
    for (size_t i = 0; i < name->len; i++) {
        char c = name->ptr[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return 0;       /* a dot would descend further */
    }
    memcpy(path + at, name->ptr, name->len);
    path[at + name->len] = '\0';
    ot_slice v;
    return parse_get_uncached(event, path, &v) == PARSE_STRING && v.len == 7 && memcmp(v.ptr, "Failure", 7) == 0;
}

int finding_event_denied(parse_ctx *event)
{
    ot_slice v, name;
    enum parse_type error_code = parse_get(event, "errorCode", &v);
    enum parse_type name_type = parse_get(event, "eventName", &name);
    return denied_of(event, error_code, name_type, &name, parse_get(event, "responseElements", &v) == PARSE_OBJECT);
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

/* A field of the record's set that is a string, or an absent slice. */
static ot_slice string_field(const finding_record *r, int f)
{
    return r->field_type[f] == PARSE_STRING ? r->field[f] : (ot_slice){NULL, 0};
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
static void find_target(finding_target *t, const finding_record *r, parse_ctx *ev, const ot_slice *name,
                        const org_context *c)
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
        t->account_id = string_field(r, F_RECIPIENT_ACCOUNT_ID);
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
    f->denied = denied_of(ev, r->field_type[F_ERROR_CODE], r->field_type[F_EVENT_NAME], &r->field[F_EVENT_NAME],
                          r->field_type[F_RESPONSE_ELEMENTS] == PARSE_OBJECT);

    ot_slice arn = string_field(r, F_ACTOR_ARN);
    f->trusted = arn.ptr && context_is_trusted(c, arn.ptr, arn.len);

    ot_slice source = string_field(r, F_EVENT_SOURCE), name = string_field(r, F_EVENT_NAME);
    if (!source.ptr || !name.ptr || !rules_is_org_source(source.ptr, source.len))
        return;     /* the target table is the Organizations calls' */
    find_target(&f->target, r, ev, &name, c);

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

/* ---- the line -----------------------------------------------------------
 * The shared part is written by reserving once for all of it and storing
 * through a pointer: its ~40 appends each reserved, and strlen'd a
 * literal, for about a third of the cost of a finding. */

/* A literal at o: a constant-size copy the compiler turns into stores. */
#define PUT(o, lit) (memcpy((o), (lit), sizeof(lit) - 1), (o) + sizeof(lit) - 1)

/* The bytes of append_fields' literals (keys, punctuation, the offset's
 * digits, put_target's keys), with room to spare: under 780 all told. */
#define FIELDS_FIXED_ROOM 1024

/* The room a field's value takes. */
static size_t field_room(const finding_record *r, int f)
{
    switch (r->field_type[f]) {
    case PARSE_STRING: return JSON_STRING_ROOM(r->field[f].len);
    case PARSE_ABSENT: return 4;
    default: return r->field[f].len;
    }
}

/* A field's value: strings re-escaped, other JSON as simdjson minified it,
 * absent as null. Inlined by force: 1.9 M calls a community run, each a
 * few instructions besides the escape. */
static inline __attribute__((always_inline)) char *put_field(char *o, const finding_record *r, int f)
{
    const ot_slice *v = &r->field[f];
    switch (r->field_type[f]) {
    case PARSE_STRING: return json_put_string(o, v->ptr, v->len);
    case PARSE_ABSENT: return PUT(o, "null");
    default:
        memcpy(o, v->ptr, v->len);
        return o + v->len;
    }
}

static size_t slice_room(const ot_slice *v)
{
    return v->ptr ? JSON_STRING_ROOM(v->len) : 4;
}

static char *put_slice(char *o, const ot_slice *v)
{
    return v->ptr ? json_put_string(o, v->ptr, v->len) : PUT(o, "null");
}

static size_t cstr_room(const char *s)
{
    return s ? JSON_STRING_ROOM(strlen(s)) : 4;
}

static char *put_cstr(char *o, const char *s)
{
    return s ? json_put_string(o, s, strlen(s)) : PUT(o, "null");
}

static char *put_actor(char *o, const finding_record *r)
{
    o = PUT(o, "{\"type\":");
    o = put_field(o, r, F_ACTOR_TYPE);
    o = PUT(o, ",\"arn\":");
    o = put_field(o, r, F_ACTOR_ARN);
    o = PUT(o, ",\"accountId\":");
    o = put_field(o, r, F_ACTOR_ACCOUNT_ID);
    o = PUT(o, ",\"sessionIssuerArn\":");
    o = put_field(o, r, F_ACTOR_ISSUER_ARN);
    o = PUT(o, ",\"principalId\":");
    o = put_field(o, r, F_ACTOR_PRINCIPAL_ID);
    o = PUT(o, ",\"accessKeyId\":");
    o = put_field(o, r, F_ACTOR_ACCESS_KEY_ID);
    o = PUT(o, ",\"userName\":");
    o = put_field(o, r, F_ACTOR_USER_NAME);
    o = PUT(o, ",\"invokedBy\":");
    o = put_field(o, r, F_ACTOR_INVOKED_BY);
    /* CloudTrail writes the flag as the string "true" or "false" */
    const ot_slice *mfa = &r->field[F_ACTOR_MFA];
    enum parse_type t = r->field_type[F_ACTOR_MFA];
    o = PUT(o, ",\"mfaAuthenticated\":");
    if ((t == PARSE_STRING || t == PARSE_BOOL) && mfa->len == 4 && memcmp(mfa->ptr, "true", 4) == 0)
        o = PUT(o, "true");
    else if ((t == PARSE_STRING || t == PARSE_BOOL) && mfa->len == 5 && memcmp(mfa->ptr, "false", 5) == 0)
        o = PUT(o, "false");
    else
        o = PUT(o, "null");
    o = PUT(o, ",\"sourceIdentity\":");
    o = put_field(o, r, r->field_type[F_ACTOR_SESSION_SOURCE_IDENTITY] != PARSE_ABSENT
                            ? F_ACTOR_SESSION_SOURCE_IDENTITY : F_ACTOR_SOURCE_IDENTITY);
    return PUT(o, "}");
}

static size_t target_room(const finding_target *t)
{
    if (!t->any)
        return 4;
    return slice_room(&t->account_id) + cstr_room(t->account_name) + slice_room(&t->policy_id) +
           slice_room(&t->policy_type) + slice_room(&t->target_id) + cstr_room(t->target_type) +
           slice_room(&t->service_principal) + slice_room(&t->create_account_request_id) +
           slice_room(&t->source_parent_id) + slice_room(&t->destination_parent_id) +
           slice_room(&t->handshake_id);
}

static char *put_target(char *o, const finding_target *t)
{
    if (!t->any)
        return PUT(o, "null");
    /* by a table: only Organizations events have a target */
    const struct { const char *key; const ot_slice *v; const char *s; } members[] = {
        { "{\"accountId\":", &t->account_id, NULL },
        { ",\"accountName\":", NULL, t->account_name },
        { ",\"policyId\":", &t->policy_id, NULL },
        { ",\"policyType\":", &t->policy_type, NULL },
        { ",\"targetId\":", &t->target_id, NULL },
        { ",\"targetType\":", NULL, t->target_type },
        { ",\"servicePrincipal\":", &t->service_principal, NULL },
        { ",\"createAccountRequestId\":", &t->create_account_request_id, NULL },
        { ",\"sourceParentId\":", &t->source_parent_id, NULL },
        { ",\"destinationParentId\":", &t->destination_parent_id, NULL },
        { ",\"handshakeId\":", &t->handshake_id, NULL },
    };
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++) {
        size_t n = strlen(members[i].key);
        memcpy(o, members[i].key, n);
        o += n;
        o = members[i].v ? put_slice(o, members[i].v) : put_cstr(o, members[i].s);
    }
    return PUT(o, "}");
}

/* ,"offset":N} by hand: vsnprintf was 2% of the community set's run */
static char *put_offset(char *o, uint64_t offset)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + offset % 10);
        offset /= 10;
    } while (offset);
    o = PUT(o, ",\"offset\":");
    while (n)
        *o++ = digits[--n];
    return PUT(o, "}");
}

/* The input member, `,"input":{"path":...,"offset":N}`; path_json is the
 * path as a JSON string. At most path_len + 48 bytes. */
static char *put_input(char *o, const char *path_json, size_t path_len, uint64_t offset)
{
    o = PUT(o, ",\"input\":{\"path\":");
    memcpy(o, path_json, path_len);
    return put_offset(o + path_len, offset);
}

/* The fields put_fields writes from the event, in its order. */
static const int event_fields[] = {
    F_EVENT_TIME, F_EVENT_NAME, F_EVENT_SOURCE, F_EVENT_ID, F_AWS_REGION, F_RECIPIENT_ACCOUNT_ID,
    F_ACTOR_TYPE, F_ACTOR_ARN, F_ACTOR_ACCOUNT_ID, F_ACTOR_ISSUER_ARN, F_ACTOR_PRINCIPAL_ID,
    F_ACTOR_ACCESS_KEY_ID, F_ACTOR_USER_NAME, F_ACTOR_INVOKED_BY, F_ACTOR_SESSION_SOURCE_IDENTITY,
    F_ACTOR_SOURCE_IDENTITY, F_SOURCE_IP, F_USER_AGENT, F_ERROR_CODE, F_ERROR_MESSAGE,
    F_REQUEST_PARAMETERS, F_RESPONSE_ELEMENTS, F_SERVICE_EVENT_DETAILS,
};

/* Makes r->path_json the prepared record's path as a JSON string. */
static int escape_path(finding_record *r)
{
    if (r->path_known && r->path_src.len == r->path_len &&
        (r->path_len == 0 || memcmp(r->path_src.data, r->path, r->path_len) == 0))
        return 0;
    r->path_known = 0;
    r->path_src.len = r->path_json.len = 0;
    if (buf_append(&r->path_src, r->path, r->path_len) || buf_append_json_string(&r->path_json, r->path, r->path_len))
        return -ENOMEM;
    r->path_known = 1;
    return 0;
}

/*
 * The end of the shared part: the outcome and the fields of orgtrail's own
 * schema, as `,"key":value` pairs (the event's place, its actor, target and
 * context, the request and response, and where the record was), closing
 * the line; ocsf: inside "unmapped", closing it and the line. with_event
 * adds the event itself.
 */
static int append_fields(ot_buf *out, finding_record *r, parse_ctx *ev, int with_event, int ocsf)
{
    const finding_facts *f = &r->facts;
    if (escape_path(r))
        return -ENOMEM;
    size_t room = FIELDS_FIXED_ROOM + target_room(&f->target) + cstr_room(f->note) + r->path_json.len;
    for (size_t i = 0; i < sizeof event_fields / sizeof event_fields[0]; i++)
        room += field_room(r, event_fields[i]);
    ot_slice all = { "", 0 };
    if (with_event) {
        all = parse_event_json(ev);
        room += all.len;
    }
    if (buf_reserve(out, room))
        return -ENOMEM;
    char *o = out->data + out->len;
    /* the outcome (OCSF: opening unmapped) */
    o = ocsf ? PUT(o, ",\"unmapped\":{") : PUT(o, ",");
    r->content_at = (size_t)(o - out->data);
    o = PUT(o, "\"outcome\":");
    o = f->denied ? PUT(o, "\"failure\"") : PUT(o, "\"success\"");
    o = PUT(o, ",\"eventTime\":");
    o = put_field(o, r, F_EVENT_TIME);
    o = PUT(o, ",\"eventName\":");
    o = put_field(o, r, F_EVENT_NAME);
    o = PUT(o, ",\"eventSource\":");
    o = put_field(o, r, F_EVENT_SOURCE);
    o = PUT(o, ",\"eventID\":");
    o = put_field(o, r, F_EVENT_ID);
    o = PUT(o, ",\"awsRegion\":");
    o = put_field(o, r, F_AWS_REGION);
    o = PUT(o, ",\"recipientAccountId\":");
    o = put_field(o, r, F_RECIPIENT_ACCOUNT_ID);
    o = PUT(o, ",\"actor\":");
    o = put_actor(o, r);
    o = PUT(o, ",\"target\":");
    o = put_target(o, &f->target);
    o = f->trusted ? PUT(o, ",\"context\":{\"trusted\":true,\"note\":") : PUT(o, ",\"context\":{\"trusted\":false,\"note\":");
    o = f->note[0] ? json_put_string(o, f->note, strlen(f->note)) : PUT(o, "null");
    o = PUT(o, "}");
    o = PUT(o, ",\"sourceIPAddress\":");
    o = put_field(o, r, F_SOURCE_IP);
    o = PUT(o, ",\"userAgent\":");
    o = put_field(o, r, F_USER_AGENT);
    o = PUT(o, ",\"errorCode\":");
    o = put_field(o, r, F_ERROR_CODE);
    o = PUT(o, ",\"errorMessage\":");
    o = put_field(o, r, F_ERROR_MESSAGE);
    o = PUT(o, ",\"requestParameters\":");
    o = put_field(o, r, F_REQUEST_PARAMETERS);
    o = PUT(o, ",\"responseElements\":");
    o = put_field(o, r, F_RESPONSE_ELEMENTS);
    o = PUT(o, ",\"serviceEventDetails\":");
    o = put_field(o, r, F_SERVICE_EVENT_DETAILS);
    r->input_at = (size_t)(o - out->data);
    o = put_input(o, r->path_json.data, r->path_json.len, r->offset);
    if (with_event) {
        o = PUT(o, ",\"event\":");
        memcpy(o, all.ptr, all.len);
        o += all.len;
    }
    o = ocsf ? PUT(o, "}}\n") : PUT(o, "}\n");    /* closing unmapped and the line, or the line */
    assert((size_t)(o - (out->data + out->len)) <= room);
    out->len = (size_t)(o - out->data);
    return 0;
}

int finding_prepare(finding_record *r, parse_ctx *ev, const char *path, uint64_t offset)
{
    r->ev = ev;
    r->path = path;
    r->path_len = strlen(path);
    r->offset = offset;
    /* the fields every line shows, fetched once; the facts read theirs
     * from them */
    parse_get_set(ev, r->fields, r->field_type, r->field);
    r->event_id = string_field(r, F_EVENT_ID);
    find_facts(r, ev);
    r->shared_built = 0;    /* built by the first finding that is kept */
    r->content_hashed = 0;
    return 0;
}

/* The part every finding line of the record ends with. */
static int build_shared(finding_record *r)
{
    parse_ctx *ev = r->ev;
    ot_buf *s = &r->shared;
    s->len = 0;
    int rc;
    if (r->opt.format == FINDING_OCSF) {
        rc = ocsf_append_shared(s, &r->facts, ev, r->opt.raw);
        rc = rc ? rc : append_fields(s, r, ev, 0, 1);
    } else {
        rc = append_fields(s, r, ev, r->opt.raw, 0);
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
                        const ot_slice *content, const char *path, uint64_t offset)
{
    if (format == FINDING_OCSF)
        return ocsf_append_head(out, ru, sev, event_id, content, path, offset);
    int rc = buf_append_str(out, "{\"rule\":");
    rc = rc ? rc : buf_append_json_string(out, ru->id, strlen(ru->id));
    rc = rc ? rc : buf_append_str(out, ",\"title\":");
    rc = rc ? rc : buf_append_json_string(out, ru->title, strlen(ru->title));
    rc = rc ? rc : buf_append_str(out, ",\"severity\":\"");
    rc = rc ? rc : buf_append_str(out, severity_name(sev));
    return rc ? rc : buf_append(out, "\"", 1);
}

static size_t head_slot(const rule *ru, size_t cap)
{
    return (size_t)(((uint64_t)(uintptr_t)ru * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

/* The head of rule ru's NDJSON findings, made at its first finding; NULL
 * when out of memory. */
static const struct rule_head *head_of(finding_record *r, const rule *ru)
{
    if (r->nheads * 2 >= r->heads_cap) {
        size_t cap = r->heads_cap ? r->heads_cap * 2 : 64;
        struct rule_head *h = calloc(cap, sizeof *h);
        if (!h)
            return NULL;
        for (size_t i = 0; i < r->heads_cap; i++) {
            if (!r->heads[i].ru)
                continue;
            size_t j = head_slot(r->heads[i].ru, cap);
            while (h[j].ru)
                j = (j + 1) & (cap - 1);
            h[j] = r->heads[i];
        }
        free(r->heads);
        r->heads = h;
        r->heads_cap = cap;
    }
    size_t i = head_slot(ru, r->heads_cap);
    for (; r->heads[i].ru; i = (i + 1) & (r->heads_cap - 1))
        if (r->heads[i].ru == ru)
            return &r->heads[i];
    ot_buf *t = &r->head_text;
    size_t off = t->len, id_len = strlen(ru->id);
    int rc = buf_append_str(t, "{\"rule\":");
    rc = rc ? rc : buf_append_json_string(t, ru->id, id_len);
    rc = rc ? rc : buf_append_str(t, ",\"title\":");
    rc = rc ? rc : buf_append_json_string(t, ru->title, strlen(ru->title));
    rc = rc ? rc : buf_append_str(t, ",\"severity\":\"");
    if (rc) {
        t->len = off;
        return NULL;
    }
    r->heads[i] = (struct rule_head){ ru, emit_rule_hash(ru->id, id_len), off, t->len - off };
    r->nheads++;
    return &r->heads[i];
}

uint64_t finding_dedupe_key(finding_record *r, const rule *ru)
{
    if (!r->event_id.ptr || (!r->shared_built && build_shared(r)))
        return 0;
    if (!r->content_hashed)
        r->content_hashed = emit_content_hash(r->hasher, r->shared.data + r->content_at, r->input_at - r->content_at,
                                              &r->content_hash) == 0 ? 1 : -1;
    if (r->content_hashed < 0)
        return 0;
    const struct rule_head *h = head_of(r, ru);
    return emit_finding_key(h ? h->id_hash : emit_rule_hash(ru->id, strlen(ru->id)), r->content_hash);
}

int finding_content_span(const char *s, size_t n, const char *path, size_t path_len, uint64_t offset, size_t *at,
                         size_t *len)
{
    static const char outcome[] = "\"outcome\":\"";
    const char *a = memmem(s, n, outcome, sizeof outcome - 1);
    if (!a)
        return -1;
    /* the input member as append_fields writes it; its last copy is the
     * line's own (a request parameter may hold the same text) */
    ot_buf path_json = { 0 }, input = { 0 };
    int rc = buf_append_json_string(&path_json, path, path_len);
    rc = rc ? rc : buf_reserve(&input, path_json.len + 48);
    if (!rc)
        input.len = (size_t)(put_input(input.data, path_json.data, path_json.len, offset) - input.data);
    buf_free(&path_json);
    if (rc) {
        buf_free(&input);
        return rc;
    }
    const char *end = NULL;
    for (const char *from = a, *hit; (hit = memmem(from, (size_t)(s + n - from), input.data, input.len));
         from = hit + 1)
        end = hit;
    buf_free(&input);
    if (!end)
        return -1;
    *at = (size_t)(a - s);
    *len = (size_t)(end - a);
    return 0;
}

uint64_t finding_line_key(parse_ctx *pc, emit_hasher *h, const char *line, size_t n)
{
    char err[64];
    size_t err_at;
    if (n == 0 || parse_record(pc, line, n, PARSE_KIND_EVENT, err, sizeof err, &err_at))
        return 0;
    /* an orgtrail finding, or an OCSF one (--format ocsf), whose own
     * fields are under unmapped */
    int64_t offset;
    ot_slice rule, id, path;
    int ocsf = parse_get(pc, "rule", &rule) != PARSE_STRING;
    if (ocsf && parse_get(pc, "finding_info.analytic.uid", &rule) != PARSE_STRING)
        return 0;
    if (parse_get(pc, ocsf ? "unmapped.eventID" : "eventID", &id) != PARSE_STRING ||
        parse_get(pc, ocsf ? "unmapped.input.path" : "input.path", &path) != PARSE_STRING ||
        parse_get_int(pc, ocsf ? "unmapped.input.offset" : "input.offset", &offset) || offset < 0)
        return 0;
    size_t at, len;
    uint64_t content;
    if (finding_content_span(line, n, path.ptr, path.len, (uint64_t)offset, &at, &len) ||
        emit_content_hash(h, line + at, len, &content))
        return 0;
    /* the whole rule id, however long: the key must be the one emitted */
    return emit_finding_key(emit_rule_hash(rule.ptr, rule.len), content);
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
    if (r->opt.format == FINDING_NDJSON) {
        /* finding_append_head's NDJSON head, from the rule's kept one */
        const struct rule_head *h = head_of(r, ru);
        const char *name = severity_name(sev);
        size_t name_len = strlen(name);
        if (!h || buf_reserve(out, h->len + name_len + 1 + r->shared.len))
            return -ENOMEM;
        char *o = out->data + out->len;
        memcpy(o, r->head_text.data + h->off, h->len);
        o += h->len;
        memcpy(o, name, name_len);
        o += name_len;
        *o++ = '"';
        memcpy(o, r->shared.data, r->shared.len);
        out->len = (size_t)(o + r->shared.len - out->data);
        return 1;
    }
    ot_slice content = { r->shared.data + r->content_at, r->input_at - r->content_at };
    rc = finding_append_head(out, r->opt.format, ru, sev, &r->event_id, &content, r->path, r->offset);
    rc = rc ? rc : buf_append(out, r->shared.data, r->shared.len);
    if (rc) {
        out->len = start;   /* never leave half a line behind */
        return rc;
    }
    return 1;
}
