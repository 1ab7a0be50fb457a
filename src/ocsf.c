#include "ocsf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#ifndef ORGTRAIL_VERSION
#define ORGTRAIL_VERSION "dev"
#endif

void ocsf_finding_uid(const char *rule_id, const ot_slice *event_id, const ot_slice *content, const char *path,
                      uint64_t offset, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) && EVP_DigestUpdate(c, rule_id, strlen(rule_id) + 1);
    if (ok && event_id->ptr) {
        ok = EVP_DigestUpdate(c, event_id->ptr, event_id->len) && EVP_DigestUpdate(c, "", 1) &&
             EVP_DigestUpdate(c, content->ptr, content->len);
    } else if (ok) {
        char off[32];
        int n = snprintf(off, sizeof off, "%llu", (unsigned long long)offset);
        ok = EVP_DigestUpdate(c, "input:", 6) && EVP_DigestUpdate(c, path, strlen(path) + 1) &&
             EVP_DigestUpdate(c, off, (size_t)n);
    }
    ok = ok && EVP_DigestFinal_ex(c, md, &mdlen) && mdlen == 32;
    EVP_MD_CTX_free(c);
    if (!ok)
        memset(md, 0, 32);  /* libcrypto without SHA-256: never the case on Debian */
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static const char *severity_caption(severity s)
{
    static const char *const caption[] = { "Informational", "Low", "Medium", "High", "Critical" };
    return caption[s];
}

int ocsf_append_head(ot_buf *out, const rule *ru, severity s, const ot_slice *event_id, const ot_slice *content,
                     const char *path, uint64_t offset)
{
    char uid[65];
    ocsf_finding_uid(ru->id, event_id, content, path, offset, uid);
    int rc = buf_printf(out, "{\"finding_info\":{\"uid\":\"%s\",\"title\":", uid);
    rc = rc ? rc : buf_append_json_string(out, ru->title, strlen(ru->title));
    if (!rc && ru->rationale && ru->rationale[0]) {
        rc = buf_append_str(out, ",\"desc\":");
        rc = rc ? rc : buf_append_json_string(out, ru->rationale, strlen(ru->rationale));
    }
    rc = rc ? rc : buf_append_str(out, ",\"analytic\":{\"uid\":");
    rc = rc ? rc : buf_append_json_string(out, ru->id, strlen(ru->id));
    rc = rc ? rc : buf_append_str(out, ",\"name\":");
    rc = rc ? rc : buf_append_json_string(out, ru->title, strlen(ru->title));
    rc = rc ? rc : buf_printf(out, ",\"type_id\":1,\"type\":\"Rule\"}},\"severity_id\":%d,\"severity\":\"%s\",\"message\":",
                              (int)s + 1, severity_caption(s));
    return rc ? rc : buf_append_json_string(out, ru->title, strlen(ru->title));
}

/* Builds JSON objects member by member, keeping the first error. */
typedef struct {
    ot_buf *out;
    int rc;
    int n;          /* members written into the object being built */
} writer;

static void w_raw(writer *w, const char *s)
{
    if (!w->rc)
        w->rc = buf_append_str(w->out, s);
}

static void w_key(writer *w, const char *key)
{
    if (!w->rc)
        w->rc = buf_printf(w->out, "%s\"%s\":", w->n++ ? "," : "", key);
}

static void w_slice(writer *w, const char *key, const ot_slice *v)
{
    if (!v->ptr)
        return;
    w_key(w, key);
    if (!w->rc)
        w->rc = buf_append_json_string(w->out, v->ptr, v->len);
}

static ot_slice str_at(parse_ctx *ev, const char *path)
{
    ot_slice v;
    if (parse_get(ev, path, &v) != PARSE_STRING)
        return (ot_slice){NULL, 0};
    return v;
}

static void w_field(writer *w, const char *key, parse_ctx *ev, const char *path)
{
    ot_slice v = str_at(ev, path);
    w_slice(w, key, &v);
}

/* An object member holding an object: opened, filled by the caller, closed. */
static int w_open(writer *w, const char *key)
{
    w_key(w, key);
    w_raw(w, "{");
    int outer = w->n;
    w->n = 0;
    return outer;
}

static void w_close(writer *w, int outer)
{
    w_raw(w, "}");
    w->n = outer;
}

static void w_aws_account(writer *w, const char *key, const ot_slice *uid)
{
    if (!uid->ptr)
        return;
    int o = w_open(w, key);
    w_slice(w, "uid", uid);
    w_raw(w, ",\"type_id\":10,\"type\":\"AWS Account\"");
    w_close(w, o);
}

static int64_t event_time_ms(parse_ctx *ev)
{
    ot_slice t = str_at(ev, "eventTime");
    int64_t epoch;
    int date_only;
    if (!t.ptr || parse_time(t.ptr, t.len, &epoch, &date_only))
        return 0;   /* OCSF requires a time; unmapped.eventTime keeps what the event said */
    return epoch * 1000;
}

static void w_resource(writer *w, int *first, const ot_slice *uid, const char *type, const char *name)
{
    if (!uid->ptr)
        return;
    w_raw(w, *first ? "{" : ",{");
    *first = 0;
    int outer = w->n;
    w->n = 0;
    w_slice(w, "uid", uid);
    w_key(w, "type");
    w_raw(w, "\"");
    w_raw(w, type);
    w_raw(w, "\"");
    if (name) {
        w_key(w, "name");
        if (!w->rc)
            w->rc = buf_append_json_string(w->out, name, strlen(name));
    }
    w_close(w, outer);
}

int ocsf_append_shared(ot_buf *out, const finding_facts *f, parse_ctx *ev, int raw)
{
    writer w = { out, 0, 1 };   /* the head already wrote members */
    w_raw(&w, ",\"category_uid\":2,\"category_name\":\"Findings\",\"class_uid\":2004,"
              "\"class_name\":\"Detection Finding\",\"activity_id\":1,\"activity_name\":\"Create\","
              "\"type_uid\":200401,\"type_name\":\"Detection Finding: Create\"");
    if (!w.rc)
        w.rc = buf_printf(out, ",\"time\":%lld", (long long)event_time_ms(ev));
    w_raw(&w, ",\"metadata\":{\"version\":\"1.1.0\",\"profiles\":[\"cloud\"],\"product\":{\"name\":\"orgtrail\","
              "\"vendor_name\":\"orgtrail\",\"version\":\"" ORGTRAIL_VERSION "\"}}");

    int o = w_open(&w, "cloud");
    w_raw(&w, "\"provider\":\"AWS\"");
    w.n = 1;
    w_field(&w, "region", ev, "awsRegion");
    ot_slice recipient = str_at(ev, "recipientAccountId");
    w_aws_account(&w, "account", &recipient);
    w_close(&w, o);

    /* OCSF's status is the finding's own workflow state; the call's
     * outcome is the source's status code */
    w_raw(&w, f->denied ? ",\"status_id\":1,\"status\":\"New\",\"status_code\":\"failure\""
                        : ",\"status_id\":1,\"status\":\"New\",\"status_code\":\"success\"");
    ot_slice error = str_at(ev, "errorCode"), message = str_at(ev, "errorMessage");
    w_slice(&w, "status_detail", &error);

    w_key(&w, "evidences");
    w_raw(&w, "[{");
    int ev_outer = w.n;
    w.n = 0;
    int api = w_open(&w, "api");
    ot_slice operation = str_at(ev, "eventName");
    if (!operation.ptr)
        operation = (ot_slice){"", 0};  /* api.operation is required */
    w_slice(&w, "operation", &operation);
    ot_slice source = str_at(ev, "eventSource");
    if (source.ptr) {
        int s = w_open(&w, "service");
        w_slice(&w, "name", &source);
        w_close(&w, s);
    }
    ot_slice request_id = str_at(ev, "requestID");
    if (request_id.ptr) {
        int r = w_open(&w, "request");
        w_slice(&w, "uid", &request_id);
        w_close(&w, r);
    }
    if (error.ptr || message.ptr) {
        int r = w_open(&w, "response");
        w_slice(&w, "error", &error);
        w_slice(&w, "error_message", &message);
        w_close(&w, r);
    }
    w_close(&w, api);

    /* OCSF's user needs one of uid, name, account; its actor one of user, invoked_by */
    ot_slice arn = str_at(ev, "userIdentity.arn"), user_name = str_at(ev, "userIdentity.userName");
    ot_slice account = str_at(ev, "userIdentity.accountId"), invoked = str_at(ev, "userIdentity.invokedBy");
    int has_user = arn.ptr || user_name.ptr || account.ptr;
    if (has_user || invoked.ptr) {
        int actor = w_open(&w, "actor");
        if (has_user) {
            int user = w_open(&w, "user");
            w_slice(&w, "uid", &arn);
            w_slice(&w, "name", &user_name);
            ot_slice type = str_at(ev, "userIdentity.type");
            w_slice(&w, "type", &type);
            w_key(&w, "type_id");
            w_raw(&w, type.ptr ? "99" : "0");      /* Other (CloudTrail's type is in type), or Unknown */
            w_aws_account(&w, "account", &account);
            ot_slice principal = str_at(ev, "userIdentity.principalId");
            w_slice(&w, "uid_alt", &principal);
            w_close(&w, user);
        }
        w_slice(&w, "invoked_by", &invoked);
        w_close(&w, actor);
    }

    /* sourceIPAddress is an address, or a service's name ("AWS Internal") */
    ot_slice ip = str_at(ev, "sourceIPAddress");
    if (ip.ptr && ip.len > 0 && ip.len < 64) {
        char text[64];
        unsigned char addr[16];
        memcpy(text, ip.ptr, ip.len);
        text[ip.len] = '\0';
        int is_ip = inet_pton(AF_INET, text, addr) == 1 || inet_pton(AF_INET6, text, addr) == 1;
        int src = w_open(&w, "src_endpoint");
        w_slice(&w, is_ip ? "ip" : "svc_name", &ip);
        w_close(&w, src);
    }
    w_raw(&w, "}]");
    w.n = ev_outer;

    /* the affected resources: what the call acted on */
    const finding_target *t = &f->target;
    if (t->account_id.ptr || t->policy_id.ptr || t->target_id.ptr) {
        w_key(&w, "resources");
        w_raw(&w, "[");
        int first = 1;
        w_resource(&w, &first, &t->account_id, "AWS::Organizations::Account", t->account_name);
        w_resource(&w, &first, &t->policy_id, "AWS::Organizations::Policy", NULL);
        if (t->target_id.ptr && !(t->account_id.ptr && t->account_id.len == t->target_id.len &&
                                  memcmp(t->account_id.ptr, t->target_id.ptr, t->target_id.len) == 0))
            w_resource(&w, &first, &t->target_id,
                       t->target_type && strcmp(t->target_type, "ROOT") == 0 ? "AWS::Organizations::Root"
                       : t->target_type && strcmp(t->target_type, "ACCOUNT") == 0 ? "AWS::Organizations::Account"
                                                                                  : "AWS::Organizations::OrganizationalUnit",
                       NULL);
        w_raw(&w, "]");
    }
    if (raw) {
        ot_slice all = parse_event_json(ev);
        w_key(&w, "raw_data");
        if (!w.rc)
            w.rc = buf_append_json_string(out, all.ptr, all.len);
    }
    return w.rc;
}
