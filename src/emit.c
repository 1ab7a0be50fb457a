#include "emit.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

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

/*
 * An event failed when it has an errorCode, or, for the console sign-in
 * events (ConsoleLogin, CheckMfa, SwitchRole, ...), which have none, when
 * responseElements.<eventName> is "Failure" (a failed ConsoleLogin has only
 * an errorMessage beside it).
 */
int emit_event_denied(parse_ctx *event)
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
    return parse_get(event, path, &v) == PARSE_STRING && v.len == 7 && memcmp(v.ptr, "Failure", 7) == 0;
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

static uint64_t finding_key(const char *rule_id, size_t rule_len, const char *event_id, size_t event_id_len)
{
    uint64_t h = hash_bytes(FNV_OFFSET, rule_id, rule_len);
    h = hash_bytes(h, "", 1);     /* the end of the rule id */
    h = hash_bytes(h, event_id, event_id_len);
    return h ? h : 1;
}

uint64_t emit_finding_key(const char *rule_id, const char *event_id, size_t event_id_len)
{
    return finding_key(rule_id, strlen(rule_id), event_id, event_id_len);
}

struct emit_dedupe {
    uint64_t *slots;      /* open addressing; 0 is empty */
    size_t cap, count;
};

emit_dedupe *emit_dedupe_create(void)
{
    emit_dedupe *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->cap = 1024;
    d->slots = calloc(d->cap, sizeof *d->slots);
    if (!d->slots) {
        free(d);
        return NULL;
    }
    return d;
}

void emit_dedupe_free(emit_dedupe *d)
{
    if (!d)
        return;
    free(d->slots);
    free(d);
}

static int dedupe_insert(uint64_t *slots, size_t cap, uint64_t key)
{
    size_t i = (size_t)(key * 0x9E3779B97F4A7C15ULL) & (cap - 1);
    while (slots[i]) {
        if (slots[i] == key)
            return 0;
        i = (i + 1) & (cap - 1);
    }
    slots[i] = key;
    return 1;
}

int emit_dedupe_add(emit_dedupe *d, uint64_t key)
{
    if (d->count * 2 >= d->cap) {
        size_t cap = d->cap * 2;
        uint64_t *s = calloc(cap, sizeof *s);
        if (!s)
            return -ENOMEM;
        for (size_t i = 0; i < d->cap; i++)
            if (d->slots[i])
                dedupe_insert(s, cap, d->slots[i]);
        free(d->slots);
        d->slots = s;
        d->cap = cap;
    }
    int added = dedupe_insert(d->slots, d->cap, key);
    d->count += (size_t)added;
    return added;
}

long emit_dedupe_load(emit_dedupe *d, const char *buf, size_t len)
{
    parse_ctx *pc = parse_create();
    if (!pc)
        return -ENOMEM;
    long lines = 0;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char err[64];
        size_t off;
        ot_slice rule, id;
        if (n > 0 && parse_record(pc, p, n, PARSE_KIND_EVENT, err, sizeof err, &off) == 0 &&
            parse_get(pc, "rule", &rule) == PARSE_STRING && parse_get(pc, "eventID", &id) == PARSE_STRING) {
            /* the whole rule id, however long: the key must be the one emitted */
            if (emit_dedupe_add(d, finding_key(rule.ptr, rule.len, id.ptr, id.len)) < 0) {
                parse_free(pc);
                return -ENOMEM;
            }
        }
        lines++;
        p += n + 1;
    }
    parse_free(pc);
    return lines;
}

struct emit_writer {
    int fd;
    int owned;
    uint64_t offset;      /* bytes in the output file */
    uint64_t crash_left;  /* testing: bytes until SIGKILL; 0: never */
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
    w->offset = 0;
    w->crash_left = 0;
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

emit_writer *emit_open_resume(const char *path, uint64_t keep, int *err)
{
    emit_writer *w = malloc(sizeof *w);
    if (!w) {
        *err = -ENOMEM;
        return NULL;
    }
    w->owned = 1;
    w->offset = keep;
    w->crash_left = 0;
    w->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    struct stat st;
    if (w->fd >= 0 && fstat(w->fd, &st) == 0 && (uint64_t)st.st_size < keep)
        errno = ESPIPE;     /* shorter than the checkpoint says: not the run's output */
    else if (w->fd >= 0 && ftruncate(w->fd, (off_t)keep) == 0 && lseek(w->fd, (off_t)keep, SEEK_SET) >= 0)
        return w;
    *err = -errno;
    if (w->fd >= 0)
        close(w->fd);
    free(w);
    return NULL;
}

uint64_t emit_offset(const emit_writer *w)
{
    return w->offset;
}

int emit_sync(emit_writer *w)
{
    return fsync(w->fd) == 0 ? 0 : -errno;
}

void emit_crash_after(emit_writer *w, uint64_t bytes)
{
    w->crash_left = bytes;
}

int emit_write(emit_writer *w, const void *buf, size_t len)
{
    const char *p = buf;
    int crash = 0;
    if (w->crash_left && len >= w->crash_left) {
        len = (size_t)w->crash_left;
        crash = 1;
    } else if (w->crash_left) {
        w->crash_left -= len;
    }
    while (len > 0) {
        ssize_t n = write(w->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
        w->offset += (uint64_t)n;
    }
    if (crash)
        raise(SIGKILL);     /* a crash: nothing after this byte is written or saved */
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
