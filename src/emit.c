#include "emit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A field's value: strings re-escaped, other JSON as simdjson minified it,
 * absent as null. */
static int append_value(ot_buf *out, parse_ctx *ev, const char *path)
{
    ot_slice v;
    enum parse_type t = parse_get(ev, path, &v);
    if (t == PARSE_STRING)
        return buf_append_json_string(out, v.ptr, v.len);
    if (t == PARSE_ABSENT)
        return buf_append(out, "null", 4);
    return buf_append(out, v.ptr, v.len);
}

static int append_field(ot_buf *out, const char *key, parse_ctx *ev, const char *path)
{
    int rc = buf_printf(out, ",\"%s\":", key);
    return rc ? rc : append_value(out, ev, path);
}

int emit_event_denied(parse_ctx *event)
{
    ot_slice v;
    enum parse_type t = parse_get(event, "errorCode", &v);
    return t != PARSE_ABSENT && t != PARSE_NULL;
}

int emit_finding(ot_buf *out, const rule *ru, int denied, parse_ctx *ev,
                 const char *path, uint64_t offset, int raw)
{
    static const struct { const char *key, *path; } top[] = {
        { "eventTime", "eventTime" },
        { "eventName", "eventName" },
        { "eventSource", "eventSource" },
        { "eventID", "eventID" },
        { "awsRegion", "awsRegion" },
        { "recipientAccountId", "recipientAccountId" },
    };
    static const struct { const char *key, *path; } actor[] = {
        { "type", "userIdentity.type" },
        { "arn", "userIdentity.arn" },
        { "accountId", "userIdentity.accountId" },
        { "sessionIssuerArn", "userIdentity.sessionContext.sessionIssuer.arn" },
    };
    static const char *const rest[] = {
        "sourceIPAddress", "userAgent", "errorCode", "errorMessage",
        "requestParameters", "responseElements", "serviceEventDetails",
    };
    size_t start = out->len;
    int rc = buf_append_str(out, "{\"rule\":");
    rc = rc ? rc : buf_append_json_string(out, ru->id, strlen(ru->id));
    rc = rc ? rc : buf_append_str(out, ",\"title\":");
    rc = rc ? rc : buf_append_json_string(out, ru->title, strlen(ru->title));
    rc = rc ? rc : buf_printf(out, ",\"severity\":\"%s\",\"outcome\":\"%s\"",
                              severity_name(rules_severity(ru, denied)), denied ? "failure" : "success");
    for (size_t i = 0; !rc && i < sizeof top / sizeof top[0]; i++)
        rc = append_field(out, top[i].key, ev, top[i].path);
    rc = rc ? rc : buf_append_str(out, ",\"actor\":{");
    for (size_t i = 0; !rc && i < sizeof actor / sizeof actor[0]; i++) {
        rc = buf_printf(out, "%s\"%s\":", i ? "," : "", actor[i].key);
        rc = rc ? rc : append_value(out, ev, actor[i].path);
    }
    rc = rc ? rc : buf_append_str(out, "}");
    for (size_t i = 0; !rc && i < sizeof rest / sizeof rest[0]; i++)
        rc = append_field(out, rest[i], ev, rest[i]);
    rc = rc ? rc : buf_append_str(out, ",\"input\":{\"path\":");
    rc = rc ? rc : buf_append_json_string(out, path, strlen(path));
    rc = rc ? rc : buf_printf(out, ",\"offset\":%llu}", (unsigned long long)offset);
    if (!rc && raw) {
        ot_slice all = parse_event_json(ev);
        rc = buf_append_str(out, ",\"event\":");
        rc = rc ? rc : buf_append(out, all.ptr, all.len);
    }
    rc = rc ? rc : buf_append_str(out, "}\n");
    if (rc)
        out->len = start;   /* never leave half a line behind */
    return rc;
}

struct emit_writer {
    int fd;
    int owned;
};

emit_writer *emit_open(const char *path, int *err)
{
    emit_writer *w = malloc(sizeof *w);
    if (!w) {
        *err = -ENOMEM;
        return NULL;
    }
    w->fd = STDOUT_FILENO;
    w->owned = 0;
    if (path) {
        w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (w->fd < 0) {
            *err = -errno;
            free(w);
            return NULL;
        }
        w->owned = 1;
    }
    return w;
}

int emit_write(emit_writer *w, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int emit_close(emit_writer *w)
{
    if (!w)
        return 0;
    int rc = 0;
    if (w->owned && close(w->fd) != 0)
        rc = -errno;
    free(w);
    return rc;
}
