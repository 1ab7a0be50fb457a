#include "table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "summary.h"

struct table {
    parse_ctx *pc;
    size_t width;
    int color;
};

table *table_create(size_t width, int color)
{
    table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->pc = parse_create();
    if (!t->pc) {
        free(t);
        return NULL;
    }
    t->width = width < 40 ? 40 : width;
    t->color = color;
    return t;
}

void table_free(table *t)
{
    if (!t)
        return;
    parse_free(t->pc);
    free(t);
}

/* Appends s as exactly `cols` columns: cut (with "~" at the cut) or padded.
 * A column is a UTF-8 character (wide characters count as one). */
static int cell(ot_buf *out, const char *s, size_t cols)
{
    size_t used = 0;
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *cut = p;
    size_t n = 0;
    /* count characters */
    for (const unsigned char *q = p; *q; q++)
        n += (*q & 0xc0) != 0x80;
    size_t keep = n <= cols ? n : (cols ? cols - 1 : 0);
    while (*cut && used < keep) {
        cut++;
        while ((*cut & 0xc0) == 0x80)
            cut++;
        used++;
    }
    int rc = buf_append(out, p, (size_t)(cut - p));
    if (!rc && n > cols && cols)
        rc = buf_append(out, "~", 1), used++;
    while (!rc && used < cols)
        rc = buf_append(out, " ", 1), used++;
    return rc;
}

static void text_at(parse_ctx *pc, const char *path, char *out, size_t len)
{
    ot_slice v;
    char raw[512];
    if (parse_get(pc, path, &v) != PARSE_STRING) {
        snprintf(out, len, "-");
        return;
    }
    snprintf(raw, sizeof raw, "%.*s", (int)(v.len < sizeof raw ? v.len : sizeof raw - 1), v.ptr);
    summary_printable(raw, out, len);
}

/* An arn without what the other columns say: arn:aws:sts::A:assumed-role/R/s
 * is R/s, with "A:" before it only when A is not the event's account. */
static void short_actor(const char *arn, const char *account, char *out, size_t len)
{
    char clean[512];
    if (!arn[0]) {
        snprintf(out, len, "-");
        return;
    }
    if (strncmp(arn, "arn:", 4) != 0) {
        summary_printable(arn, out, len);
        return;
    }
    const char *p = arn, *acct = NULL;
    for (int colons = 0; colons < 5 && p; colons++) {
        p = strchr(p, ':');
        if (p)
            p++;
        if (colons == 3)
            acct = p;
    }
    if (!p || !acct) {
        summary_printable(arn, out, len);
        return;
    }
    const char *res = strncmp(p, "assumed-role/", 13) == 0 ? p + 13 : p;
    size_t alen = (size_t)(p - 1 - acct);
    int other = alen != strlen(account) || strncmp(acct, account, alen) != 0;
    snprintf(clean, sizeof clean, "%.*s%s%s", other ? (int)alen : 0, acct, other ? ":" : "", res);
    summary_printable(clean, out, len);
}

static int render_one(table *t, const char *line, size_t len, ot_buf *out)
{
    static const char *const sev_color[5] = { "\033[2m", "\033[36m", "\033[33m", "\033[31m", "\033[1;31m" };
    static const char *const sev_text[5] = { "info", "low", "MEDIUM", "HIGH", "CRITICAL" };
    char err[64];
    size_t off;
    ot_slice v;
    if (parse_record(t->pc, line, len, PARSE_KIND_EVENT, err, sizeof err, &off) ||
        parse_get(t->pc, "rule", &v) != PARSE_STRING) {
        int rc = buf_append(out, line, len);
        return rc ? rc : buf_append(out, "\n", 1);
    }
    char time[64], sev[32], title[512], account[64], actor[512], target[512], outcome[32], tmp[512];
    text_at(t->pc, "eventTime", time, sizeof time);
    if (strlen(time) >= 19 && time[10] == 'T')
        time[10] = ' ';
    time[19 < strlen(time) ? 19 : strlen(time)] = '\0';
    text_at(t->pc, "severity", sev, sizeof sev);
    text_at(t->pc, "title", title, sizeof title);
    text_at(t->pc, "recipientAccountId", account, sizeof account);
    summary_actor_text(t->pc, 0, tmp, sizeof tmp);
    short_actor(tmp, account, actor, sizeof actor);
    summary_target_text(t->pc, 0, tmp, sizeof tmp);
    summary_printable(tmp[0] ? tmp : "-", target, sizeof target);
    text_at(t->pc, "outcome", outcome, sizeof outcome);

    int level = 0;
    for (int i = 0; i < 5; i++)
        if (strcmp(sev, summary_severity_names[i]) == 0)
            level = i;
    /* fixed columns: time 19, severity 8, account 12, outcome 7, and two
     * spaces between the seven; the rest: title 45%, actor 22%, target 33% */
    size_t fixed = 19 + 8 + 12 + 7 + 6 * 2;
    size_t rest = t->width > fixed + 24 ? t->width - fixed : 24;
    size_t wt = rest * 45 / 100, wa = rest * 22 / 100, wg = rest - wt - wa;
    size_t start = out->len;
    int rc = cell(out, time, 19);
    rc = rc ? rc : buf_append(out, "  ", 2);
    if (!rc && t->color)
        rc = buf_append_str(out, sev_color[level]);
    rc = rc ? rc : cell(out, sev_text[level], 8);
    if (!rc && t->color)
        rc = buf_append_str(out, "\033[0m");
    rc = rc ? rc : buf_append(out, "  ", 2);
    rc = rc ? rc : cell(out, title, wt);
    rc = rc ? rc : buf_append(out, "  ", 2);
    rc = rc ? rc : cell(out, account, 12);
    rc = rc ? rc : buf_append(out, "  ", 2);
    rc = rc ? rc : cell(out, actor, wa);
    rc = rc ? rc : buf_append(out, "  ", 2);
    rc = rc ? rc : cell(out, target, wg);
    rc = rc ? rc : buf_append(out, "  ", 2);
    rc = rc ? rc : cell(out, outcome, 7);
    /* a terminal narrower than the columns need: cut at its width (the
     * colour codes, early in the line, take no columns) */
    size_t cols = 0, at = start;
    while (!rc && at < out->len) {
        if (out->data[at] == '\033') {
            while (at < out->len && out->data[at] != 'm')
                at++;
            at++;
            continue;
        }
        if ((out->data[at] & 0xc0) != 0x80 && ++cols > t->width) {
            out->len = at;
            break;
        }
        at++;
    }
    /* no trailing blanks */
    while (!rc && out->len > start && out->data[out->len - 1] == ' ')
        out->len--;
    rc = rc ? rc : buf_append(out, "\n", 1);
    if (rc)
        out->len = start;
    return rc;
}

int table_render(table *t, const char *buf, size_t len, ot_buf *out)
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        int rc = render_one(t, p, n, out);
        if (rc)
            return rc;
        p += n + 1;
    }
    return 0;
}
