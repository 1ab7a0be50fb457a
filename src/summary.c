#define _GNU_SOURCE     /* qsort_r */
#include "summary.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *const summary_severity_names[5] = { "info", "low", "medium", "high", "critical" };

/* Where a finding line keeps what the views show: orgtrail's own keys, or
 * an OCSF line's (its unmapped part holds orgtrail's). */
typedef struct {
    const char *rule, *title, *severity, *time, *call, *account, *arn, *invoked, *outcome, *event_id;
    const char *correlation, *corr_events;
    const char *t_account, *t_name, *t_policy, *t_target, *t_principal, *t_handshake, *t_car, *t_dest;
} paths;

static const paths orgtrail_paths = {
    "rule", "title", "severity", "eventTime", "eventName", "recipientAccountId", "actor.arn", "actor.invokedBy",
    "outcome", "eventID", "correlation", "correlation.events",
    "target.accountId", "target.accountName", "target.policyId", "target.targetId", "target.servicePrincipal",
    "target.handshakeId", "target.createAccountRequestId", "target.destinationParentId",
};
static const paths ocsf_paths = {
    "finding_info.analytic.uid", "finding_info.title", "severity", "unmapped.eventTime", "unmapped.eventName",
    "unmapped.recipientAccountId", "unmapped.actor.arn", "unmapped.actor.invokedBy", "unmapped.outcome",
    "unmapped.eventID", "unmapped.correlation", "unmapped.correlation.events",
    "unmapped.target.accountId", "unmapped.target.accountName", "unmapped.target.policyId",
    "unmapped.target.targetId", "unmapped.target.servicePrincipal", "unmapped.target.handshakeId",
    "unmapped.target.createAccountRequestId", "unmapped.target.destinationParentId",
};

/* ---- a counter: string -> count, open addressing ------------------------ */

typedef struct {
    char *key;
    uint64_t count;
    char *title;            /* by rule */
    summary_event *events;  /* by account: the latest SUMMARY_ACCOUNT_EVENTS, a ring */
    size_t nevents, next;
} slot;

typedef struct {
    slot *slots;
    size_t cap, n;
    summary_count *sorted;  /* summary_counts' answer */
    size_t *order;          /* slot index of each sorted entry */
    int dirty;
} counter;

static uint64_t key_hash(const char *k)
{
    return hash_bytes(FNV_OFFSET, k, strlen(k));
}

static slot *counter_find(counter *c, const char *key, int *err)
{
    if (c->n * 2 >= c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        slot *s = calloc(cap, sizeof *s);
        if (!s) {
            *err = -ENOMEM;
            return NULL;
        }
        for (size_t i = 0; i < c->cap; i++) {
            if (!c->slots[i].key)
                continue;
            size_t j = key_hash(c->slots[i].key) & (cap - 1);
            while (s[j].key)
                j = (j + 1) & (cap - 1);
            s[j] = c->slots[i];
        }
        free(c->slots);
        c->slots = s;
        c->cap = cap;
    }
    size_t j = key_hash(key) & (c->cap - 1);
    while (c->slots[j].key && strcmp(c->slots[j].key, key) != 0)
        j = (j + 1) & (c->cap - 1);
    if (!c->slots[j].key) {
        if (!(c->slots[j].key = strdup(key))) {
            *err = -ENOMEM;
            return NULL;
        }
        c->n++;
    }
    c->dirty = 1;
    return &c->slots[j];
}

static void event_free(summary_event *e)
{
    free(e->time);
    free(e->rule);
    free(e->title);
    free(e->call);
    free(e->actor);
    free(e->account);
    free(e->target);
    free(e->outcome);
    free(e->event_id);
    free(e->events);
    memset(e, 0, sizeof *e);
}

static void counter_free(counter *c)
{
    for (size_t i = 0; i < c->cap; i++) {
        free(c->slots[i].key);
        free(c->slots[i].title);
        for (size_t k = 0; k < c->slots[i].nevents; k++)
            event_free(&c->slots[i].events[k]);
        free(c->slots[i].events);
    }
    free(c->slots);
    free(c->sorted);
    free(c->order);
}

static int count_cmp(const void *a, const void *b, void *arg)
{
    const counter *c = arg;
    const slot *x = &c->slots[*(const size_t *)a], *y = &c->slots[*(const size_t *)b];
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->key, y->key);
}

static int counter_sort(counter *c)
{
    if (!c->dirty && c->sorted)
        return 0;
    free(c->sorted);
    free(c->order);
    c->sorted = calloc(c->n + 1, sizeof *c->sorted);
    c->order = calloc(c->n + 1, sizeof *c->order);
    if (!c->sorted || !c->order)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < c->cap; i++)
        if (c->slots[i].key)
            c->order[k++] = i;
    qsort_r(c->order, k, sizeof *c->order, count_cmp, c);
    for (size_t i = 0; i < k; i++) {
        const slot *s = &c->slots[c->order[i]];
        c->sorted[i] = (summary_count){ s->key, s->count, s->title };
    }
    c->dirty = 0;
    return 0;
}

/* ---- the summary -------------------------------------------------------- */

struct summary {
    parse_ctx *pc;
    uint64_t findings, seq;
    char *first, *last;
    int64_t first_epoch, last_epoch;
    counter by[SUMMARY_BY_N];
    summary_event *story;
    size_t nstory, story_cap;
    int story_sorted;
    uint64_t (*hours)[5];
    size_t nhours;
    int64_t first_hour;     /* INT64_MIN: none yet */
};

summary *summary_create(void)
{
    summary *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->pc = parse_create();
    s->first_hour = INT64_MIN;
    if (!s->pc) {
        free(s);
        return NULL;
    }
    return s;
}

void summary_free(summary *s)
{
    if (!s)
        return;
    parse_free(s->pc);
    free(s->first);
    free(s->last);
    for (int i = 0; i < SUMMARY_BY_N; i++)
        counter_free(&s->by[i]);
    for (size_t i = 0; i < s->nstory; i++)
        event_free(&s->story[i]);
    free(s->story);
    free(s->hours);
    free(s);
}

static char *dup_string(parse_ctx *pc, const char *path)
{
    ot_slice v;
    if (parse_get(pc, path, &v) != PARSE_STRING)
        return NULL;
    return strndup(v.ptr, v.len);
}

static int severity_of(const ot_slice *v)
{
    static const char *const ocsf[5] = { "Informational", "Low", "Medium", "High", "Critical" };
    for (int i = 0; i < 5; i++)
        if ((v->len == strlen(summary_severity_names[i]) && memcmp(v->ptr, summary_severity_names[i], v->len) == 0) ||
            (v->len == strlen(ocsf[i]) && memcmp(v->ptr, ocsf[i], v->len) == 0))
            return i;
    return -1;
}

static void append(char *out, size_t len, const char *s)
{
    size_t at = strlen(out);
    if (at + 1 < len)
        snprintf(out + at, len - at, "%s", s);
}

static int get_str(parse_ctx *pc, const char *path, char *out, size_t len)
{
    ot_slice v;
    if (parse_get(pc, path, &v) != PARSE_STRING || v.len == 0)
        return 0;
    snprintf(out, len, "%.*s", (int)(v.len < len ? v.len : len - 1), v.ptr);
    return 1;
}

void summary_actor_text(parse_ctx *pc, int ocsf, char *out, size_t len)
{
    const paths *p = ocsf ? &ocsf_paths : &orgtrail_paths;
    out[0] = '\0';
    if (!get_str(pc, p->arn, out, len))
        get_str(pc, p->invoked, out, len);
}

void summary_target_text(parse_ctx *pc, int ocsf, char *out, size_t len)
{
    const paths *p = ocsf ? &ocsf_paths : &orgtrail_paths;
    char a[128], b[128];
    out[0] = '\0';
    if (get_str(pc, p->t_policy, a, sizeof a)) {
        append(out, len, a);
        if (get_str(pc, p->t_target, b, sizeof b)) {
            append(out, len, " -> ");
            append(out, len, b);
        }
    } else if (get_str(pc, p->t_principal, a, sizeof a)) {
        append(out, len, a);
        if (get_str(pc, p->t_account, b, sizeof b)) {
            append(out, len, " -> ");
            append(out, len, b);
        }
    } else if (get_str(pc, p->t_account, a, sizeof a)) {
        append(out, len, a);
        if (get_str(pc, p->t_name, b, sizeof b)) {
            append(out, len, " (");
            append(out, len, b);
            append(out, len, ")");
        }
        if (get_str(pc, p->t_dest, b, sizeof b)) {
            append(out, len, " -> ");
            append(out, len, b);
        }
    } else if (get_str(pc, p->t_target, a, sizeof a)) {
        append(out, len, a);
    } else if (get_str(pc, p->t_handshake, a, sizeof a)) {
        append(out, len, a);
    } else if (get_str(pc, p->t_car, a, sizeof a)) {
        append(out, len, a);
    }
}

char *summary_printable(const char *s, char *out, size_t len)
{
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p && o + 1 < len) {
        if (*p < 0x20 || *p == 0x7f) {
            out[o++] = '?';
            p++;
        } else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            out[o++] = '?';     /* C1 controls (U+0080..U+009F), e.g. an 8-bit CSI */
            p += 2;
        } else {
            out[o++] = (char)*p++;
        }
    }
    out[o] = '\0';
    return out;
}

/* The event's text fields, copied. */
static int fill_event(summary *s, const paths *p, summary_event *e, int sev, int64_t epoch)
{
    parse_ctx *pc = s->pc;
    char actor[512], target[512];
    summary_actor_text(pc, p == &ocsf_paths, actor, sizeof actor);
    summary_target_text(pc, p == &ocsf_paths, target, sizeof target);
    memset(e, 0, sizeof *e);
    e->time = dup_string(pc, p->time);
    e->epoch = epoch;
    e->seq = s->seq;
    e->severity = sev;
    e->rule = dup_string(pc, p->rule);
    e->title = dup_string(pc, p->title);
    e->call = dup_string(pc, p->call);
    e->account = dup_string(pc, p->account);
    e->outcome = dup_string(pc, p->outcome);
    e->event_id = dup_string(pc, p->event_id);
    e->actor = actor[0] ? strdup(actor) : NULL;
    e->target = target[0] ? strdup(target) : NULL;
    ot_slice v;
    e->correlation = parse_get(pc, p->correlation, &v) == PARSE_OBJECT;
    if (e->correlation) {
        long n = parse_array_len(pc, p->corr_events);
        ot_buf ids = { 0 };
        for (long i = 0; i < n; i++) {
            ot_slice id;
            if (parse_get_element(pc, p->corr_events, (size_t)i, NULL, &id) == PARSE_STRING) {
                if (buf_append(&ids, i ? "," : "", i ? 1 : 0) || buf_append(&ids, id.ptr, id.len))
                    break;
            }
        }
        if (!buf_append(&ids, "", 1))
            e->events = ids.data;
        else
            buf_free(&ids);
    }
    return 0;
}

static int count(summary *s, enum summary_by by, const char *key, slot **out)
{
    int err = 0;
    slot *sl = counter_find(&s->by[by], key ? key : "null", &err);
    if (!sl)
        return err;
    sl->count++;
    if (out)
        *out = sl;
    return 0;
}

static int add_hour(summary *s, int64_t epoch, int sev)
{
    int64_t hour = epoch / 3600;
    if (s->first_hour == INT64_MIN)
        s->first_hour = hour;
    if (hour < s->first_hour) {     /* an earlier hour: shift the buckets up */
        size_t by = (size_t)(s->first_hour - hour);
        if (by > (1u << 20))
            return 0;   /* more than 120 years apart: not a timeline a person reads */
        uint64_t(*h)[5] = calloc(s->nhours + by, sizeof *h);
        if (!h)
            return -ENOMEM;
        if (s->nhours)
            memcpy(h + by, s->hours, s->nhours * sizeof *h);
        free(s->hours);
        s->hours = h;
        s->nhours += by;
        s->first_hour = hour;
    }
    size_t i = (size_t)(hour - s->first_hour);
    if (i >= (1u << 20))
        return 0;
    if (i >= s->nhours) {
        uint64_t(*h)[5] = realloc(s->hours, (i + 1) * sizeof *h);
        if (!h)
            return -ENOMEM;
        memset(h + s->nhours, 0, (i + 1 - s->nhours) * sizeof *h);
        s->hours = h;
        s->nhours = i + 1;
    }
    s->hours[i][sev]++;
    return 0;
}

int summary_add(summary *s, const char *line, size_t len)
{
    char err[64];
    size_t off;
    if (len == 0 || parse_record(s->pc, line, len, PARSE_KIND_EVENT, err, sizeof err, &off))
        return 1;
    ot_slice v;
    const paths *p = &orgtrail_paths;
    if (parse_get(s->pc, "rule", &v) != PARSE_STRING) {
        p = &ocsf_paths;
        if (parse_get(s->pc, p->rule, &v) != PARSE_STRING)
            return 1;
    }
    if (parse_get(s->pc, p->severity, &v) != PARSE_STRING)
        return 1;
    int sev = severity_of(&v);
    if (sev < 0)
        return 1;
    s->seq++;
    s->findings++;

    int64_t epoch = INT64_MIN;
    int date_only;
    if (parse_get(s->pc, p->time, &v) == PARSE_STRING && parse_time(v.ptr, v.len, &epoch, &date_only) == 0) {
        if (!s->first || epoch < s->first_epoch) {
            free(s->first);
            s->first = strndup(v.ptr, v.len);
            s->first_epoch = epoch;
        }
        if (!s->last || epoch > s->last_epoch) {
            free(s->last);
            s->last = strndup(v.ptr, v.len);
            s->last_epoch = epoch;
        }
        if (add_hour(s, epoch, sev))
            return -ENOMEM;
    } else {
        epoch = INT64_MIN;
    }

    char *rule = dup_string(s->pc, p->rule), *account = dup_string(s->pc, p->account);
    char *arn = dup_string(s->pc, p->arn);
    slot *rule_slot = NULL, *account_slot = NULL;
    int rc = count(s, SUMMARY_BY_SEVERITY, summary_severity_names[sev], NULL);
    rc = rc ? rc : count(s, SUMMARY_BY_RULE, rule, &rule_slot);
    rc = rc ? rc : count(s, SUMMARY_BY_ACCOUNT, account, &account_slot);
    rc = rc ? rc : count(s, SUMMARY_BY_ACTOR, arn, NULL);
    free(rule);
    free(account);
    free(arn);
    if (rc)
        return rc;
    if (!rule_slot->title)
        rule_slot->title = dup_string(s->pc, p->title);

    /* the account's panel: a ring of its latest events */
    if (!account_slot->events && !(account_slot->events = calloc(SUMMARY_ACCOUNT_EVENTS, sizeof(summary_event))))
        return -ENOMEM;
    summary_event *ring = &account_slot->events[account_slot->next];
    event_free(ring);
    fill_event(s, p, ring, sev, epoch);
    account_slot->next = (account_slot->next + 1) % SUMMARY_ACCOUNT_EVENTS;
    if (account_slot->nevents < SUMMARY_ACCOUNT_EVENTS)
        account_slot->nevents++;

    ot_slice corr;
    if (sev >= 3 || parse_get(s->pc, p->correlation, &corr) == PARSE_OBJECT) {
        if (ot_grow(&s->story, &s->story_cap, s->nstory, sizeof *s->story, 64))
            return -ENOMEM;
        fill_event(s, p, &s->story[s->nstory++], sev, epoch);
        s->story_sorted = 0;
    }
    return 0;
}

long summary_add_lines(summary *s, const char *buf, size_t len)
{
    long bad = 0;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        int rc = summary_add(s, p, n);
        if (rc < 0)
            return rc;
        bad += rc;
        p += n + 1;
    }
    return bad;
}

uint64_t summary_findings(const summary *s)
{
    return s->findings;
}

const char *summary_first(const summary *s)
{
    return s->first;
}

const char *summary_last(const summary *s)
{
    return s->last;
}

const summary_count *summary_counts(summary *s, enum summary_by by, size_t *n)
{
    *n = 0;
    if (counter_sort(&s->by[by]))
        return NULL;
    *n = s->by[by].n;
    return s->by[by].sorted;
}

static int event_cmp(const void *a, const void *b)
{
    const summary_event *x = a, *y = b;
    if (x->epoch != y->epoch)
        return x->epoch < y->epoch ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

const summary_event *summary_story(summary *s, size_t *n)
{
    if (!s->story_sorted && s->nstory > 1)
        qsort(s->story, s->nstory, sizeof *s->story, event_cmp);
    s->story_sorted = 1;
    *n = s->nstory;
    return s->story;
}

size_t summary_accounts(summary *s)
{
    size_t n;
    summary_counts(s, SUMMARY_BY_ACCOUNT, &n);
    return n;
}

const char *summary_account(summary *s, size_t i, uint64_t *count_out, const summary_event **events,
                            size_t *nevents)
{
    size_t n;
    const summary_count *c = summary_counts(s, SUMMARY_BY_ACCOUNT, &n);
    if (!c || i >= n)
        return NULL;
    slot *sl = &s->by[SUMMARY_BY_ACCOUNT].slots[s->by[SUMMARY_BY_ACCOUNT].order[i]];
    if (sl->nevents > 1)
        qsort(sl->events, sl->nevents, sizeof *sl->events, event_cmp);
    sl->next = sl->nevents % SUMMARY_ACCOUNT_EVENTS;   /* sorted: the oldest is first again */
    *count_out = sl->count;
    *events = sl->events;
    *nevents = sl->nevents;
    return sl->key;
}

const uint64_t (*summary_timeline(summary *s, int64_t *first_hour, size_t *hours))[5]
{
    *first_hour = s->first_hour == INT64_MIN ? 0 : s->first_hour;
    *hours = s->nhours;
    return (const uint64_t(*)[5])s->hours;
}

/* ---- printing ----------------------------------------------------------- */

static const char *or_dash(const char *s)
{
    return s && s[0] ? s : "-";
}

static void story_line(const summary_event *e, char *out, size_t len)
{
    char t[64], a[256], c[128], g[256], o[32], r[256];
    snprintf(out, len, "%s  %s  %s  %s  (%s)%s%s", summary_printable(or_dash(e->time), t, sizeof t),
             summary_printable(or_dash(e->actor), a, sizeof a), summary_printable(or_dash(e->call), c, sizeof c),
             summary_printable(or_dash(e->target), g, sizeof g), summary_printable(or_dash(e->outcome), o, sizeof o),
             e->correlation ? "  correlation " : "",
             e->correlation ? summary_printable(or_dash(e->rule), r, sizeof r) : "");
}

void summary_print_text(summary *s, FILE *out)
{
    char buf[1024], k[256];
    fprintf(out, "findings: %llu", (unsigned long long)s->findings);
    if (s->first)
        fprintf(out, ", from %s to %s", summary_printable(s->first, buf, 64), summary_printable(s->last, k, 64));
    fputc('\n', out);
    static const char *const heads[SUMMARY_BY_N] = { "by severity", "by rule", "by account", "by actor" };
    for (int by = 0; by < SUMMARY_BY_N; by++) {
        size_t n;
        const summary_count *c = summary_counts(s, (enum summary_by)by, &n);
        if (!c || n == 0)
            continue;
        fprintf(out, "%s:\n", heads[by]);
        size_t show = n > 20 ? 20 : n;
        for (size_t i = 0; i < show; i++) {
            fprintf(out, "  %8llu  %s", (unsigned long long)c[i].count, summary_printable(c[i].key, k, sizeof k));
            if (c[i].title)
                fprintf(out, "  %s", summary_printable(c[i].title, buf, sizeof buf));
            fputc('\n', out);
        }
        if (n > show)
            fprintf(out, "  (%zu more)\n", n - show);
    }
    size_t n;
    const summary_event *st = summary_story(s, &n);
    fprintf(out, "story (every critical and high finding, and every correlation, in time order): %zu\n", n);
    for (size_t i = 0; i < n; i++) {
        story_line(&st[i], buf, sizeof buf);
        fprintf(out, "  %s\n", buf);
    }
}

static void json_str(ot_buf *b, const char *s)
{
    if (s)
        buf_append_json_string(b, s, strlen(s));
    else
        buf_append_str(b, "null");
}

int summary_print_json(summary *s, FILE *out)
{
    ot_buf b = { 0 };
    buf_printf(&b, "{\"findings\":%llu,\"first\":", (unsigned long long)s->findings);
    json_str(&b, s->first);
    buf_append_str(&b, ",\"last\":");
    json_str(&b, s->last);
    static const char *const keys[SUMMARY_BY_N] = { "by_severity", "by_rule", "by_account", "by_actor" };
    for (int by = 0; by < SUMMARY_BY_N; by++) {
        size_t n;
        const summary_count *c = summary_counts(s, (enum summary_by)by, &n);
        buf_printf(&b, ",\"%s\":{", keys[by]);
        for (size_t i = 0; c && i < n; i++) {
            if (i)
                buf_append_str(&b, ",");
            json_str(&b, c[i].key);
            buf_printf(&b, ":%llu", (unsigned long long)c[i].count);
        }
        buf_append_str(&b, "}");
    }
    size_t n;
    const summary_event *st = summary_story(s, &n);
    buf_append_str(&b, ",\"story\":[");
    for (size_t i = 0; i < n; i++) {
        const summary_event *e = &st[i];
        char line[1024];
        story_line(e, line, sizeof line);
        buf_append_str(&b, i ? ",{\"time\":" : "{\"time\":");
        json_str(&b, e->time);
        buf_append_str(&b, ",\"actor\":");
        json_str(&b, e->actor);
        buf_append_str(&b, ",\"call\":");
        json_str(&b, e->call);
        buf_append_str(&b, ",\"target\":");
        json_str(&b, e->target);
        buf_append_str(&b, ",\"outcome\":");
        json_str(&b, e->outcome);
        buf_append_str(&b, ",\"rule\":");
        json_str(&b, e->rule);
        buf_printf(&b, ",\"severity\":\"%s\",\"eventID\":", summary_severity_names[e->severity]);
        json_str(&b, e->event_id);
        buf_printf(&b, ",\"correlation\":%s,\"line\":", e->correlation ? "true" : "false");
        json_str(&b, line);
        buf_append_str(&b, "}");
    }
    buf_append_str(&b, "]}\n");
    int rc = b.failed || fwrite(b.data, 1, b.len, out) != b.len ? -1 : 0;
    if (b.failed)
        errno = ENOMEM;
    buf_free(&b);
    return rc;
}
