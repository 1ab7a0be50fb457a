#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

#ifndef ORGTRAIL_VERSION
#define ORGTRAIL_VERSION "dev"
#endif

/* Text as HTML: markup characters escaped, control characters as '?'. */
static void esc(ot_buf *b, const char *s)
{
    char clean[2048];
    summary_printable(s ? s : "-", clean, sizeof clean);
    for (const char *p = clean; *p; p++) {
        switch (*p) {
        case '&': buf_append_str(b, "&amp;"); break;
        case '<': buf_append_str(b, "&lt;"); break;
        case '>': buf_append_str(b, "&gt;"); break;
        case '"': buf_append_str(b, "&quot;"); break;
        case '\'': buf_append_str(b, "&#39;"); break;
        default: buf_append(b, p, 1);
        }
    }
}

/* open, then the text escaped, then close: most cells of the tables. */
static void wrap(ot_buf *b, const char *open, const char *text, const char *close)
{
    buf_append_str(b, open);
    esc(b, text);
    buf_append_str(b, close);
}

static void sev(ot_buf *b, int level)
{
    buf_printf(b, "<span class=\"sev sev-%s\">%s</span>", summary_severity_names[level], summary_severity_names[level]);
}

static void overview(ot_buf *b, summary *s)
{
    size_t n;
    const summary_count *c = summary_counts(s, SUMMARY_BY_SEVERITY, &n);
    buf_printf(b, "<div class=\"counts\"><div class=\"count\"><b>%llu</b>findings</div>",
               (unsigned long long)summary_findings(s));
    for (int level = 4; level >= 0; level--) {
        uint64_t k = 0;
        for (size_t i = 0; c && i < n; i++)
            if (strcmp(c[i].key, summary_severity_names[level]) == 0)
                k = c[i].count;
        buf_printf(b, "<div class=\"count\"><b>%llu</b>", (unsigned long long)k);
        sev(b, level);
        buf_append_str(b, "</div>");
    }
    size_t accounts, actors;
    summary_counts(s, SUMMARY_BY_ACCOUNT, &accounts);
    summary_counts(s, SUMMARY_BY_ACTOR, &actors);
    buf_printf(b, "<div class=\"count\"><b>%zu</b>accounts</div><div class=\"count\"><b>%zu</b>actors</div></div>",
               accounts, actors);
}

/* Findings per hour (or per day, or week, so that there are at most ~400
 * bars), stacked by severity, as SVG. */
static void timeline(ot_buf *b, summary *s)
{
    static const char *const fill[5] = { "#8a94a3", "#3a7fb8", "#d68a00", "#d23b2e", "#8e1b1b" };
    int64_t first_hour;
    size_t hours;
    const uint64_t(*h)[5] = summary_timeline(s, &first_hour, &hours);
    if (hours == 0) {
        buf_append_str(b, "<p class=\"note\">No finding has a readable eventTime.</p>");
        return;
    }
    size_t per = hours <= 96 ? 1 : hours <= 24 * 400 ? 24 : 24 * 7;
    size_t bars = (hours + per - 1) / per;
    uint64_t (*bucket)[5] = calloc(bars, sizeof *bucket);
    if (!bucket)
        return;
    uint64_t top = 1;
    for (size_t i = 0; i < hours; i++)
        for (int k = 0; k < 5; k++)
            bucket[i / per][k] += h[i][k];
    for (size_t i = 0; i < bars; i++) {
        uint64_t t = 0;
        for (int k = 0; k < 5; k++)
            t += bucket[i][k];
        if (t > top)
            top = t;
    }
    const double W = 1000, H = 180, left = 40, bottom = 30;
    double bw = (W - left) / (double)bars;
    buf_printf(b, "<svg role=\"img\" aria-label=\"findings per %s\" viewBox=\"0 0 %.0f %.0f\" width=\"100%%\" "
               "xmlns=\"http://www.w3.org/2000/svg\">", per == 1 ? "hour" : per == 24 ? "day" : "week", W, H + bottom);
    buf_printf(b, "<text x=\"0\" y=\"12\">%llu</text><text x=\"0\" y=\"%.0f\">0</text>", (unsigned long long)top, H);
    buf_printf(b, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#c4cad4\"/>", left, H, W, H);
    for (size_t i = 0; i < bars; i++) {
        double y = H;
        for (int k = 0; k < 5; k++) {
            if (!bucket[i][k])
                continue;
            double hgt = (H - 10) * (double)bucket[i][k] / (double)top;
            y -= hgt;
            buf_printf(b, "<rect class=\"bar sev-%s\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\">"
                       "<title>%llu %s</title></rect>", summary_severity_names[k], left + bw * (double)i, y,
                       bw > 2 ? bw - 1 : bw, hgt, fill[k], (unsigned long long)bucket[i][k], summary_severity_names[k]);
        }
    }
    /* the first and last bucket's dates */
    char t0[32], t1[32];
    time_t a = (time_t)(first_hour * 3600), z = (time_t)((first_hour + (int64_t)((bars - 1) * per)) * 3600);
    struct tm tm;
    strftime(t0, sizeof t0, per == 1 ? "%Y-%m-%d %H:00" : "%Y-%m-%d", gmtime_r(&a, &tm));
    strftime(t1, sizeof t1, per == 1 ? "%Y-%m-%d %H:00" : "%Y-%m-%d", gmtime_r(&z, &tm));
    buf_printf(b, "<text x=\"%.0f\" y=\"%.0f\">%s</text><text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%s</text></svg>",
               left, H + 18, t0, W, H + 18, t1);
    buf_printf(b, "<p class=\"note\">Findings per %s (UTC), stacked by severity.</p>",
               per == 1 ? "hour" : per == 24 ? "day" : "week");
    free(bucket);
}

static void event_row(ot_buf *b, const summary_event *e, int with_account)
{
    wrap(b, "<tr><td class=\"mono time\">", e->time, "</td><td>");
    sev(b, e->severity);
    wrap(b, "</td><td>", e->title, "<br><code>");
    wrap(b, "", e->call, "</code></td>");
    if (with_account)
        wrap(b, "<td class=\"mono nowrap\">", e->account, "</td>");
    wrap(b, "<td class=\"mono\">", e->actor, "</td>");
    wrap(b, "<td class=\"mono\">", e->target, "</td>");
    wrap(b, "<td>", e->outcome, "</td>");
    wrap(b, "<td class=\"mono event-id\">", e->event_id, "</td></tr>");
}

static void story(ot_buf *b, summary *s)
{
    size_t n;
    const summary_event *st = summary_story(s, &n);
    if (n == 0) {
        buf_append_str(b, "<p class=\"note\">No critical or high finding, and no correlation.</p>");
        return;
    }
    buf_append_str(b, "<table><tr><th>time</th><th>severity</th><th>what</th><th>account</th><th>actor</th>"
                      "<th>target</th><th>outcome</th><th>eventID</th></tr>");
    for (size_t i = 0; i < n && i < REPORT_MAX_ROWS; i++)
        event_row(b, &st[i], 1);
    buf_append_str(b, "</table>");
    if (n > REPORT_MAX_ROWS)
        buf_printf(b, "<p class=\"note\">%zu more: the first %d are shown; the findings NDJSON has them all.</p>",
                   n - REPORT_MAX_ROWS, REPORT_MAX_ROWS);
}

static void correlations(ot_buf *b, summary *s)
{
    size_t n, shown = 0;
    const summary_event *st = summary_story(s, &n);
    for (size_t i = 0; i < n; i++) {
        if (!st[i].correlation)
            continue;
        if (shown == 0)
            buf_append_str(b, "<table><tr><th>first</th><th>severity</th><th>correlation</th><th>account</th>"
                              "<th>actor</th><th>the events it joins</th></tr>");
        if (++shown > REPORT_MAX_ROWS)
            continue;
        wrap(b, "<tr class=\"correlation\"><td class=\"mono\">", st[i].time, "</td><td>");
        sev(b, st[i].severity);
        wrap(b, "</td><td>", st[i].title, "<br><code>");
        wrap(b, "", st[i].rule, "</code></td>");
        wrap(b, "<td class=\"mono\">", st[i].account, "</td>");
        wrap(b, "<td class=\"mono\">", st[i].actor, "</td><td class=\"mono\">");
        /* one eventID a line */
        const char *ids = st[i].events ? st[i].events : "";
        for (const char *p = ids; *p;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            char id[256];
            snprintf(id, sizeof id, "%.*s", (int)(len < sizeof id ? len : sizeof id - 1), p);
            wrap(b, "<span class=\"event-id\">", id, "</span><br>");
            p += len + (comma ? 1 : 0);
        }
        buf_append_str(b, "</td></tr>");
    }
    if (shown == 0)
        buf_append_str(b, "<p class=\"note\">No correlation finding.</p>");
    else
        buf_append_str(b, "</table>");
    if (shown > REPORT_MAX_ROWS)
        buf_printf(b, "<p class=\"note\">%zu more correlations are in the NDJSON.</p>", shown - REPORT_MAX_ROWS);
}

static void accounts(ot_buf *b, summary *s)
{
    size_t n = summary_accounts(s);
    buf_append_str(b, "<div class=\"accounts\">");
    for (size_t i = 0; i < n && i < REPORT_MAX_ACCOUNTS; i++) {
        uint64_t count;
        const summary_event *ev;
        size_t nev;
        const char *name = summary_account(s, i, &count, &ev, &nev);
        if (!name)
            break;
        wrap(b, "<div class=\"account\"><h3 class=\"mono\">", strcmp(name, "null") == 0 ? "(no recipientAccountId)" : name,
             "</h3>");
        buf_printf(b, "<p class=\"note\">%llu findings%s</p><table>", (unsigned long long)count,
                   count > nev ? "; the latest shown" : "");
        for (size_t k = 0; k < nev; k++) {
            wrap(b, "<tr><td class=\"mono\">", ev[k].time, "</td><td>");
            sev(b, ev[k].severity);
            wrap(b, "</td><td><code>", ev[k].call, "</code> ");
            wrap(b, "", ev[k].target, "</td></tr>");
        }
        buf_append_str(b, "</table></div>");
    }
    buf_append_str(b, "</div>");
    if (n > REPORT_MAX_ACCOUNTS)
        buf_printf(b, "<p class=\"note\">%zu more accounts, with fewer findings.</p>", n - REPORT_MAX_ACCOUNTS);
}

static void counts_table(ot_buf *b, summary *s, enum summary_by by, size_t max, const char *head)
{
    size_t n;
    const summary_count *c = summary_counts(s, by, &n);
    buf_printf(b, "<table><tr><th>findings</th><th>%s</th>%s</tr>", head, by == SUMMARY_BY_RULE ? "<th>title</th>" : "");
    for (size_t i = 0; c && i < n && i < max; i++) {
        buf_printf(b, "<tr><td class=\"n\">%llu</td><td class=\"mono\">", (unsigned long long)c[i].count);
        wrap(b, "", c[i].key, "</td>");
        if (by == SUMMARY_BY_RULE)
            wrap(b, "<td>", c[i].title, "</td>");
        buf_append_str(b, "</tr>");
    }
    buf_append_str(b, "</table>");
    if (n > max)
        buf_printf(b, "<p class=\"note\">%zu more.</p>", n - max);
}

int report_write(summary *s, FILE *out)
{
    static const struct { const char *slot; int which; } slots[] = {
        { "@@HEADLINE@@", 0 }, { "@@OVERVIEW@@", 1 }, { "@@TIMELINE@@", 2 }, { "@@STORY@@", 3 },
        { "@@CORRELATIONS@@", 4 }, { "@@ACCOUNTS@@", 5 }, { "@@ACTORS@@", 6 }, { "@@RULES@@", 7 },
        { "@@VERSION@@", 8 },
    };
    ot_buf b = { 0 };
    const char *t = orgtrail_report_template;
    while (*t) {
        const char *at = strstr(t, "@@");
        if (!at) {
            buf_append_str(&b, t);
            break;
        }
        buf_append(&b, t, (size_t)(at - t));
        size_t k = 0;
        while (k < sizeof slots / sizeof slots[0] && strncmp(at, slots[k].slot, strlen(slots[k].slot)) != 0)
            k++;
        if (k == sizeof slots / sizeof slots[0]) {
            buf_append(&b, "@@", 2);
            t = at + 2;
            continue;
        }
        t = at + strlen(slots[k].slot);
        switch (slots[k].which) {
        case 0:
            buf_printf(&b, "%llu findings", (unsigned long long)summary_findings(s));
            if (summary_first(s)) {
                buf_append_str(&b, ", from ");
                esc(&b, summary_first(s));
                buf_append_str(&b, " to ");
                esc(&b, summary_last(s));
            }
            break;
        case 1: overview(&b, s); break;
        case 2: timeline(&b, s); break;
        case 3: story(&b, s); break;
        case 4: correlations(&b, s); break;
        case 5: accounts(&b, s); break;
        case 6: counts_table(&b, s, SUMMARY_BY_ACTOR, REPORT_MAX_ACTORS, "actor (actor.arn)"); break;
        case 7: counts_table(&b, s, SUMMARY_BY_RULE, (size_t)-1, "rule"); break;
        case 8: esc(&b, ORGTRAIL_VERSION); break;
        }
    }
    /* the page is built without checking each append: one failed, and it is not written */
    if (b.failed || !b.data) {
        buf_free(&b);
        errno = ENOMEM;
        return -1;
    }
    size_t wrote = fwrite(b.data, 1, b.len, out);
    int rc = wrote == b.len ? 0 : -1;
    buf_free(&b);
    return rc;
}
