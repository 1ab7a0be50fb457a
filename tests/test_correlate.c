/*
 * correlate: the store and the four types against expectations worked out
 * by hand, on correlations built here (not loaded from YAML): windows that
 * just fit and just miss by 1 ms, the anchor moving, used matches, dedupe
 * by eventID and content, the order by (time, eventID), the cap, group
 * separation; the capture from a parsed event; state lines read back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "correlate.h"
#include "ocsf.h"

static const char *one_group[] = { "account" };
static const char *one_field[] = { "account", "account", "account" };
static const char *value_fields[] = { "user", "user" };

/* a correlation of type t over nrules rules, 1 group-by, timespan ms */
static sigma_correlation corr(sigma_corr_type t, size_t nrules, int64_t span)
{
    sigma_correlation c = { 0 };
    c.id = "test.corr";
    c.title = "Test correlation";
    c.level = 3;
    c.type = t;
    c.nrules = nrules;
    c.group_by = one_group;
    c.ngroup = 1;
    c.group_fields = one_field;
    c.value_fields = t == SIGMA_CORR_VALUE_COUNT ? value_fields : NULL;
    c.timespan_ms = span;
    return c;
}

static void cond(sigma_correlation *c, sigma_corr_cmp op, uint64_t v)
{
    c->conds[c->nconds].op = op;
    c->conds[c->nconds].value = v;
    c->nconds++;
}

/* One state line: correlation 0, rule r, time ms, eventID id, group g;
 * the anchor says region of the event (an empty one: none). */
static void line_in(ot_buf *b, unsigned r, long long t, const char *id, const char *g, const char *value,
                    const char *region)
{
    buf_printf(b, "{\"c\":0,\"r\":%u,\"t\":%lld,\"id\":\"%s\",\"g\":[\"%s\"],\"v\":", r, t, id, g);
    if (value)
        buf_printf(b, "\"%s\"", value);
    else
        buf_append_str(b, "null");
    buf_printf(b, ",\"p\":\"in/%s.json\",\"o\":7,\"a\":\",\\\"outcome\\\":\\\"success\\\",\\\"eventID\\\":\\\"%s\\\"%s%s%s"
               ",\\\"input\\\":{\\\"path\\\":\\\"in/%s.json\\\",\\\"offset\\\":7}}\\n\"}\n",
               id, id, region[0] ? ",\\\"awsRegion\\\":\\\"" : "", region, region[0] ? "\\\"" : "", id);
}

static void line(ot_buf *b, unsigned r, long long t, const char *id, const char *g, const char *value)
{
    line_in(b, r, t, id, g, value, "");
}

typedef struct {
    ot_buf out;
    size_t lines;
    uint64_t matches, findings, below, bad;
    int add_rc;
} result;

static result run(const sigma_correlation *c, const ot_buf *in, int dedupe, uint64_t cap, severity min)
{
    const sigma_correlation *list[] = { c };
    corr_set set = { list, 1, 42 };
    corr_options o = { FINDING_NDJSON, min, dedupe, cap };
    result r = { 0 };
    corr_store *s = corr_store_create(&set, &o);
    CHECK(s != NULL);
    FILE *err = fopen("/dev/null", "w");
    r.add_rc = corr_store_add(s, in->data, in->len, "state", 0, err, &r.bad);
    fclose(err);
    CHECK(corr_store_evaluate(s, &r.out, &r.matches, &r.findings, &r.below) == 0);
    for (size_t i = 0; i < r.out.len; i++)
        r.lines += r.out.data[i] == '\n';
    buf_append(&r.out, "", 1);
    corr_store_free(s);
    return r;
}

static int has(const result *r, const char *s)
{
    return r->out.data && strstr(r->out.data, s) != NULL;
}

#define DAY 86400000LL

static void test_event_count(void)
{
    check_context = "event_count";
    sigma_correlation c = corr(SIGMA_CORR_EVENT_COUNT, 1, 1000);
    cond(&c, SIGMA_CMP_GTE, 3);
    ot_buf in = { 0 };
    /* a: 0, 500, 1000 -> 3 in [0, 1000]: just fits */
    line(&in, 0, 0, "a1", "A", NULL);
    line(&in, 0, 500, "a2", "A", NULL);
    line(&in, 0, 1000, "a3", "A", NULL);
    /* b: 0, 500, 1001 -> just misses by 1 ms; then anchor moves to 500: 500, 1001 only */
    line(&in, 0, 0, "b1", "B", NULL);
    line(&in, 0, 500, "b2", "B", NULL);
    line(&in, 0, 1001, "b3", "B", NULL);
    result r = run(&c, &in, 1, 0, SEV_INFO);
    CHECK(r.lines == 1);
    CHECK(r.findings == 1);
    CHECK(has(&r, "\"correlation\":{\"type\":\"event_count\",\"group\":{\"account\":\"A\"},\"count\":3,"
                  "\"events\":[\"a1\",\"a2\",\"a3\"],\"first\":\"1970-01-01T00:00:00Z\",\"last\":\"1970-01-01T00:00:01Z\"}"));
    CHECK(has(&r, "{\"rule\":\"test.corr\",\"title\":\"Test correlation\",\"severity\":\"high\",\"outcome\":\"success\",\"eventID\":\"a1\",\"input\":{\"path\":\"in/a1.json\",\"offset\":7},\"correlation\""));
    CHECK(!has(&r, "b1"));
    buf_free(&r.out);

    /* the anchor moves: c1 alone, then c2..c4 fit [1000, 2000] */
    in.len = 0;
    line(&in, 0, 0, "c1", "C", NULL);
    line(&in, 0, 1000, "c2", "C", NULL);
    line(&in, 0, 1500, "c3", "C", NULL);
    line(&in, 0, 2000, "c4", "C", NULL);
    r = run(&c, &in, 1, 0, SEV_INFO);
    CHECK(r.lines == 1);
    CHECK(has(&r, "\"count\":3,\"events\":[\"c2\",\"c3\",\"c4\"]"));
    buf_free(&r.out);

    /* used matches: six in one second make two findings of 3, not 4 overlapping */
    in.len = 0;
    for (int i = 0; i < 6; i++) {
        char id[8];
        snprintf(id, sizeof id, "d%d", i);
        line(&in, 0, i * 100, id, "D", NULL);
    }
    c.conds[0].op = SIGMA_CMP_EQ;
    c.timespan_ms = 200;   /* [0,200]: d0 d1 d2; [300,500]: d3 d4 d5 */
    r = run(&c, &in, 1, 0, SEV_INFO);
    CHECK(r.lines == 2);
    CHECK(has(&r, "\"events\":[\"d0\",\"d1\",\"d2\"]"));
    CHECK(has(&r, "\"events\":[\"d3\",\"d4\",\"d5\"]"));
    buf_free(&r.out);
    buf_free(&in);
}

static void test_dedupe_and_order(void)
{
    check_context = "dedupe";
    sigma_correlation c = corr(SIGMA_CORR_EVENT_COUNT, 1, 1000);
    cond(&c, SIGMA_CMP_GTE, 2);
    ot_buf in = { 0 };
    /* one event delivered twice: counts once, so no finding with dedupe */
    line(&in, 0, 10, "e1", "A", NULL);
    line(&in, 0, 10, "e1", "A", NULL);
    result r = run(&c, &in, 1, 0, SEV_INFO);
    CHECK(r.lines == 0);
    CHECK(r.matches == 1);
    buf_free(&r.out);
    r = run(&c, &in, 0, 0, SEV_INFO);      /* --no-dedupe: both count */
    CHECK(r.lines == 1);
    CHECK(has(&r, "\"count\":2,\"events\":[\"e1\",\"e1\"]"));
    buf_free(&r.out);

    /* the same eventID in another group is another match */
    line(&in, 0, 20, "e1", "B", NULL);
    r = run(&c, &in, 1, 0, SEV_INFO);
    CHECK(r.lines == 0);
    CHECK(r.matches == 2);
    buf_free(&r.out);

    /* a record that only reuses e1's eventID (its anchor says another
     * region) is not a copy: it counts (regression
     * dedupe-same-eventid-other-content-is-kept) */
    line_in(&in, 0, 10, "e1", "A", NULL, "eu-west-1");
    r = run(&c, &in, 1, 0, SEV_INFO);
    CHECK(r.lines == 1);
    CHECK(r.matches == 3);
    CHECK(has(&r, "\"count\":2,\"events\":[\"e1\",\"e1\"]"));
    buf_free(&r.out);

    check_context = "order";
    /* ties in time ordered by eventID, whatever the input order */
    in.len = 0;
    line(&in, 0, 50, "z", "A", NULL);
    line(&in, 0, 50, "m", "A", NULL);
    line(&in, 0, 10, "y", "A", NULL);
    r = run(&c, &in, 1, 0, SEV_INFO);
    CHECK(has(&r, "\"events\":[\"y\",\"m\",\"z\"]"));
    buf_free(&r.out);

    /* findings sorted by (first eventTime, rule, group): group B first by time */
    in.len = 0;
    line(&in, 0, 500, "a1", "A", NULL);
    line(&in, 0, 600, "a2", "A", NULL);
    line(&in, 0, 100, "b1", "B", NULL);
    line(&in, 0, 200, "b2", "B", NULL);
    line(&in, 0, 500, "c1", "C", NULL);
    line(&in, 0, 600, "c2", "C", NULL);
    r = run(&c, &in, 1, 0, SEV_INFO);
    CHECK(r.lines == 3);
    const char *b = strstr(r.out.data, "\"B\""), *a = strstr(r.out.data, "\"A\""), *cc = strstr(r.out.data, "\"C\"");
    CHECK(b && a && cc && b < a && a < cc);
    buf_free(&r.out);
    buf_free(&in);
}

static void test_value_count(void)
{
    check_context = "value_count";
    sigma_correlation c = corr(SIGMA_CORR_VALUE_COUNT, 1, 1000);
    cond(&c, SIGMA_CMP_GTE, 3);
    ot_buf in = { 0 };
    /* four matches, three distinct users: count 3, events all four */
    line(&in, 0, 0, "v1", "A", "alice");
    line(&in, 0, 10, "v2", "A", "bob");
    line(&in, 0, 20, "v3", "A", "alice");
    line(&in, 0, 30, "v4", "A", "carol");
    /* two distinct only */
    line(&in, 0, 0, "w1", "B", "alice");
    line(&in, 0, 10, "w2", "B", "alice");
    line(&in, 0, 20, "w3", "B", "bob");
    result r = run(&c, &in, 1, 0, SEV_INFO);
    CHECK(r.lines == 1);
    CHECK(has(&r, "\"type\":\"value_count\",\"group\":{\"account\":\"A\"},\"count\":3,\"events\":[\"v1\",\"v2\",\"v3\",\"v4\"]"));
    buf_free(&r.out);
    /* lt 3: A's anchor moves twice (v1, v2 see 3 users) to v3 (alice, carol); B at once */
    c.conds[0].op = SIGMA_CMP_LT;
    r = run(&c, &in, 1, 0, SEV_INFO);
    CHECK(r.lines == 2);
    CHECK(has(&r, "\"group\":{\"account\":\"A\"},\"count\":2,\"events\":[\"v3\",\"v4\"]"));
    CHECK(has(&r, "\"group\":{\"account\":\"B\"},\"count\":2,\"events\":[\"w1\",\"w2\",\"w3\"]"));
    buf_free(&r.out);
    /* a value_count line without its value is damaged */
    in.len = 0;
    line(&in, 0, 0, "x1", "A", NULL);
    r = run(&c, &in, 1, 0, SEV_INFO);
    CHECK(r.bad == 1);
    CHECK(r.matches == 0);
    buf_free(&r.out);
    buf_free(&in);
}

static void test_temporal(void)
{
    check_context = "temporal";
    sigma_correlation c = corr(SIGMA_CORR_TEMPORAL, 2, DAY);
    ot_buf in = { 0 };
    /* rule 1 after rule 0: temporal does not care about order */
    line(&in, 1, 0, "t1", "A", NULL);
    line(&in, 0, DAY, "t2", "A", NULL);
    /* just misses by 1 ms */
    line(&in, 0, 0, "u1", "B", NULL);
    line(&in, 1, DAY + 1, "u2", "B", NULL);
    /* one rule only */
    line(&in, 0, 0, "v1", "C", NULL);
    line(&in, 0, 1, "v2", "C", NULL);
    result r = run(&c, &in, 1, 0, SEV_INFO);
    CHECK(r.lines == 1);
    CHECK(has(&r, "\"type\":\"temporal\",\"group\":{\"account\":\"A\"},\"count\":2,\"events\":[\"t1\",\"t2\"],"
                  "\"first\":\"1970-01-01T00:00:00Z\",\"last\":\"1970-01-02T00:00:00Z\""));
    buf_free(&r.out);
    buf_free(&in);
}

static void test_temporal_ordered(void)
{
    check_context = "temporal_ordered";
    sigma_correlation c = corr(SIGMA_CORR_TEMPORAL_ORDERED, 2, 3600000);
    ot_buf in = { 0 };
    /* denied twice then succeeded: the used matches run from the anchor to the success */
    line(&in, 0, 0, "d1", "A", NULL);
    line(&in, 0, 300000, "d2", "A", NULL);
    line(&in, 1, 1800000, "s1", "A", NULL);
    line(&in, 0, 1900000, "d3", "A", NULL);   /* after the sequence: not used, no success follows */
    /* rules out of order: the success first */
    line(&in, 1, 0, "s5", "B", NULL);
    line(&in, 0, 10, "d5", "B", NULL);
    /* just fits: exactly the timespan */
    line(&in, 0, 0, "d7", "C", NULL);
    line(&in, 1, 3600000, "s7", "C", NULL);
    /* just misses by 1 ms */
    line(&in, 0, 0, "d8", "D", NULL);
    line(&in, 1, 3600001, "s8", "D", NULL);
    /* the anchor moves: an old denial, then a denial and a success in time */
    line(&in, 0, 0, "d9", "E", NULL);
    line(&in, 0, 7200000, "d10", "E", NULL);
    line(&in, 1, 7300000, "s10", "E", NULL);
    result r = run(&c, &in, 1, 0, SEV_INFO);
    CHECK(r.lines == 3);
    CHECK(has(&r, "\"group\":{\"account\":\"A\"},\"count\":3,\"events\":[\"d1\",\"d2\",\"s1\"]"));
    CHECK(has(&r, "\"group\":{\"account\":\"C\"},\"count\":2,\"events\":[\"d7\",\"s7\"]"));
    CHECK(has(&r, "\"group\":{\"account\":\"E\"},\"count\":2,\"events\":[\"d10\",\"s10\"]"));
    CHECK(!has(&r, "\"B\"") && !has(&r, "\"D\""));
    buf_free(&r.out);

    /* three rules, the same event matching two of them counts for both */
    check_context = "temporal_ordered 3";
    c = corr(SIGMA_CORR_TEMPORAL_ORDERED, 3, 1000);
    in.len = 0;
    line(&in, 2, 5, "x3", "A", NULL);   /* rule 3 before rule 1: does not count */
    line(&in, 0, 10, "x1", "A", NULL);
    line(&in, 1, 20, "x2", "A", NULL);
    line(&in, 2, 20, "x2", "A", NULL);
    r = run(&c, &in, 1, 0, SEV_INFO);
    CHECK(r.lines == 1);
    CHECK(has(&r, "\"count\":3,\"events\":[\"x1\",\"x2\",\"x2\"]"));
    buf_free(&r.out);
    /* min severity drops it (level high) */
    r = run(&c, &in, 1, 0, SEV_CRITICAL);
    CHECK(r.lines == 0 && r.below == 1);
    buf_free(&r.out);
    buf_free(&in);
}

static void test_cap_and_damage(void)
{
    check_context = "cap";
    sigma_correlation c = corr(SIGMA_CORR_EVENT_COUNT, 1, 1000);
    cond(&c, SIGMA_CMP_GTE, 1);
    ot_buf in = { 0 };
    for (int i = 0; i < 5; i++) {
        char id[8];
        snprintf(id, sizeof id, "k%d", i);
        line(&in, 0, i, id, "A", NULL);
    }
    result r = run(&c, &in, 1, 4, SEV_INFO);
    CHECK(r.add_rc == -E2BIG);
    CHECK(r.matches == 4);
    buf_free(&r.out);
    r = run(&c, &in, 1, 5, SEV_INFO);
    CHECK(r.add_rc == 0);
    buf_free(&r.out);

    check_context = "damaged";
    in.len = 0;
    line(&in, 0, 0, "g1", "A", NULL);
    buf_append_str(&in, "{\"c\":0,\"r\":0,\"t\":\n");               /* torn */
    buf_append_str(&in, "{\"c\":5,\"r\":0,\"t\":1,\"id\":\"q\",\"g\":[\"A\"],\"v\":null,\"p\":\"x\",\"o\":1,\"a\":\",}\\n\"}\n");
    line(&in, 0, 1, "g2", "A", NULL);
    r = run(&c, &in, 1, 0, SEV_INFO);
    CHECK(r.bad == 2);
    CHECK(r.matches == 2);
    buf_free(&r.out);

    check_context = "header";
    in.len = 0;
    const sigma_correlation *list[] = { &c };
    corr_set other = { list, 1, 43 };
    corr_state_header(&in, &other, FINDING_NDJSON);   /* another rule set's state */
    line(&in, 0, 0, "h1", "A", NULL);
    r = run(&c, &in, 1, 0, SEV_INFO);
    CHECK(r.bad == 1 && r.matches == 0);
    buf_free(&r.out);
    in.len = 0;
    corr_set same = { list, 1, 42 };
    corr_state_header(&in, &same, FINDING_OCSF);       /* another format */
    line(&in, 0, 0, "h1", "A", NULL);
    r = run(&c, &in, 1, 0, SEV_INFO);
    CHECK(r.bad == 1 && r.matches == 0);
    buf_free(&r.out);
    in.len = 0;
    corr_state_header(&in, &same, FINDING_NDJSON);
    line(&in, 0, 0, "h1", "A", NULL);
    r = run(&c, &in, 1, 0, SEV_INFO);
    CHECK(r.bad == 0 && r.matches == 1 && r.lines == 1);
    buf_free(&r.out);
    buf_free(&in);
}

/* event_count >= 2 of rule refs[0], grouped by the account and requestParameters.n */
static sigma_correlation by_account_and_n(const sigma_rule **refs, int64_t span)
{
    static const char *fields[] = { "recipientAccountId", "requestParameters.n" };
    static const char *group_by[] = { "account", "n" };
    sigma_correlation c = corr(SIGMA_CORR_EVENT_COUNT, 1, span);
    c.rules = refs;
    c.group_by = group_by;
    c.ngroup = 2;
    c.group_fields = fields;
    cond(&c, SIGMA_CMP_GTE, 2);
    return c;
}

/* The capture from a parsed event, then read back: the state round trip. */
static void test_capture_round_trip(void)
{
    check_context = "capture";
    static const char sig0 = 0, sig1 = 0;      /* stand-ins: feeds compare the pointers only */
    const sigma_rule *refs[] = { (const sigma_rule *)&sig0 };
    sigma_correlation c = by_account_and_n(refs, 1000);
    const sigma_correlation *list[] = { &c };
    corr_set set = { list, 1, 7 };
    corr_feeds *f = corr_feeds_create(&set);
    rule feeding = { .id = "base", .title = "Base", .sigma = (const sigma_rule *)&sig0 };
    rule other = { .id = "other", .title = "Other", .sigma = (const sigma_rule *)&sig1 };
    CHECK(corr_feeds_any(f));
    CHECK(corr_feeds_rule(f, &feeding) && !corr_feeds_rule(f, &other));
    parse_ctx *pc = parse_create();
    finding_options fo = { .format = FINDING_NDJSON };
    finding_record *fr = finding_record_create(&fo);
    ot_buf st = { 0 };
    corr_state_header(&st, &set, FINDING_NDJSON);
    static const char *events[] = {
        "{\"eventTime\":\"2024-05-01T00:00:00.250Z\",\"eventID\":\"e\\\"1\",\"recipientAccountId\":\"1\","
        "\"requestParameters\":{\"n\":5},\"eventName\":\"X\"}",
        "{\"eventTime\":\"2024-05-01T00:00:01.250Z\",\"eventID\":\"e2\",\"recipientAccountId\":\"1\","
        "\"requestParameters\":{\"n\":5}}",
        /* no group value: no part */
        "{\"eventTime\":\"2024-05-01T00:00:00Z\",\"eventID\":\"e3\",\"recipientAccountId\":\"1\"}",
        /* no readable eventTime: no part */
        "{\"eventTime\":\"yesterday\",\"eventID\":\"e4\",\"recipientAccountId\":\"1\",\"requestParameters\":{\"n\":5}}",
    };
    int lines = 0;
    char err[128];
    size_t at;
    for (size_t i = 0; i < 4; i++) {
        CHECK(parse_record(pc, events[i], strlen(events[i]), PARSE_KIND_EVENT, err, sizeof err, &at) == 0);
        finding_prepare(fr, pc, "in/\"x\".json", 100 * i);
        lines += corr_capture(f, &st, &feeding, pc, fr, "in/\"x\".json", 100 * i);
        CHECK(corr_capture(f, &st, &other, pc, fr, "in/\"x\".json", 100 * i) == 0);
    }
    CHECK(lines == 2);
    corr_options o = { FINDING_NDJSON, SEV_INFO, 1, 0 };
    corr_store *s = corr_store_create(&set, &o);
    uint64_t bad = 0, m, n, below;
    CHECK(corr_store_add(s, st.data, st.len, "state", 0, stderr, &bad) == 0 && bad == 0);
    ot_buf out = { 0 };
    CHECK(corr_store_evaluate(s, &out, &m, &n, &below) == 0);
    CHECK(m == 2 && n == 1);
    buf_append(&out, "", 1);
    CHECK(strstr(out.data, "\"group\":{\"account\":\"1\",\"n\":\"5\"},\"count\":2,\"events\":[\"e\\\"1\",\"e2\"],"
                           "\"first\":\"2024-05-01T00:00:00.250Z\",\"last\":\"2024-05-01T00:00:01.250Z\"}}\n") != NULL);
    CHECK(strstr(out.data, "\"input\":{\"path\":\"in/\\\"x\\\".json\",\"offset\":0}") != NULL);
    /* every line valid JSON: parse it back */
    CHECK(parse_record(pc, out.data, out.len - 1, PARSE_KIND_EVENT, err, sizeof err, &at) == 0);
    ot_slice v;
    CHECK(parse_get(pc, "correlation.count", &v) == PARSE_NUMBER && v.len == 1 && v.ptr[0] == '2');

    /* OCSF: the correlation inside unmapped, uid from the correlation and the anchor */
    check_context = "capture ocsf";
    fo.format = FINDING_OCSF;
    finding_record *fo_r = finding_record_create(&fo);
    ot_buf so = { 0 };
    for (size_t i = 0; i < 2; i++) {
        CHECK(parse_record(pc, events[i], strlen(events[i]), PARSE_KIND_EVENT, err, sizeof err, &at) == 0);
        finding_prepare(fo_r, pc, "p", 0);
        corr_capture(f, &so, &feeding, pc, fo_r, "p", 0);
    }
    corr_options oo = { FINDING_OCSF, SEV_INFO, 1, 0 };
    corr_store *so_s = corr_store_create(&set, &oo);
    CHECK(corr_store_add(so_s, so.data, so.len, "state", 0, stderr, &bad) == 0 && bad == 0);
    out.len = 0;
    CHECK(corr_store_evaluate(so_s, &out, &m, &n, &below) == 0 && n == 1);
    /* the anchor's content span, for its uid */
    CHECK(parse_record(pc, events[0], strlen(events[0]), PARSE_KIND_EVENT, err, sizeof err, &at) == 0);
    finding_prepare(fo_r, pc, "p", 0);
    ot_slice sh;
    size_t c_at, c_len;
    CHECK(finding_shared(fo_r, &sh) == 0 && finding_content_span(sh.ptr, sh.len, "p", 1, 0, &c_at, &c_len) == 0);
    ot_buf anchor_content = { 0 };
    buf_append(&anchor_content, sh.ptr + c_at, c_len);
    CHECK(parse_record(pc, out.data, out.len, PARSE_KIND_EVENT, err, sizeof err, &at) == 0);
    CHECK(parse_get(pc, "unmapped.correlation.type", &v) == PARSE_STRING && v.len == 11);
    CHECK(parse_get(pc, "finding_info.analytic.uid", &v) == PARSE_STRING && v.len == 9 && !memcmp(v.ptr, "test.corr", 9));
    char uid[65];
    ot_slice id = { "e\"1", 3 };
    ot_slice content = { anchor_content.data, anchor_content.len };
    ocsf_finding_uid("test.corr", &id, &content, "p", 0, uid);   /* sha256(corr id \0 anchor eventID \0 content) */
    CHECK(c_len > 100 && memcmp(content.ptr, "\"outcome\":\"", 11) == 0);
    buf_free(&anchor_content);
    CHECK(parse_get(pc, "finding_info.uid", &v) == PARSE_STRING && v.len == 64 && !memcmp(v.ptr, uid, 64));
    CHECK(parse_get(pc, "severity_id", &v) == PARSE_NUMBER && v.ptr[0] == '4');
    corr_store_free(so_s);
    finding_record_free(fo_r);
    buf_free(&so);

    corr_store_free(s);
    buf_free(&out);
    buf_free(&st);
    finding_record_free(fr);
    parse_free(pc);
    corr_feeds_free(f);
}

/* Captures of evs[] (each with its path) for set's one feeding rule, made
 * the way what says; *takes counts the matches that take part. */
static void capture_all(const corr_set *set, unsigned what, finding_format format, int raw, const char *const *evs,
                        const char *const *paths, size_t n, ot_buf *out, int *takes)
{
    corr_feeds *f = corr_feeds_create(set);
    CHECK(f != NULL);
    corr_feeds_set_capture(f, what);
    parse_ctx *pc = parse_create();
    finding_options fo = { .format = format, .raw = raw };
    finding_record *fr = finding_record_create(&fo);
    rule feeding = { .id = "base", .title = "Base", .sigma = set->list[0]->rules[0] };
    char err[128];
    size_t at;
    *takes = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(parse_record(pc, evs[i], strlen(evs[i]), PARSE_KIND_EVENT, err, sizeof err, &at) == 0);
        finding_prepare(fr, pc, paths[i], 10 * i);
        int rc = corr_capture(f, out, &feeding, pc, fr, paths[i], 10 * i);
        CHECK(rc >= 0);
        *takes += rc;
    }
    finding_record_free(fr);
    parse_free(pc);
    corr_feeds_free(f);
}

/* The store's findings (and matches, bad lines) from captures or lines. */
static void evaluate_from(const corr_set *set, finding_format format, const ot_buf *in, int captured, ot_buf *out,
                          uint64_t *matches, uint64_t *bad)
{
    corr_options o = { format, SEV_INFO, 1, 0 };
    corr_store *s = corr_store_create(set, &o);
    FILE *err = fopen("/dev/null", "w");
    uint64_t n, below;
    *bad = 0;
    int rc = captured ? corr_store_add_captured(s, in->data, in->len, "<test>", err, bad)
                      : corr_store_add(s, in->data, in->len, "state", 0, err, bad);
    CHECK(rc == 0);
    CHECK(corr_store_evaluate(s, out, matches, &n, &below) == 0);
    fclose(err);
    corr_store_free(s);
}

/*
 * The writer's store takes the workers' captures without parsing them back:
 * it must end where the state lines read back with every check end, for
 * anything an event may hold. Unusual captures (non-ASCII, control bytes
 * escaped, a --raw event nested too deep for the anchor check, a string of
 * brackets, invalid UTF-8 in a path) must take the checked way and be
 * refused or kept as a state line would be.
 */
static void test_captures_same_as_state_lines(void)
{
    static const char *value_field[] = { "userIdentity.arn" };
    static const char sig0 = 0;
    const sigma_rule *refs[] = { (const sigma_rule *)&sig0 };
    sigma_correlation ec = by_account_and_n(refs, 60000);
    sigma_correlation vc = corr(SIGMA_CORR_VALUE_COUNT, 1, 60000);
    vc.id = "test.values";
    vc.rules = refs;
    vc.value_fields = value_field;
    vc.group_fields = ec.group_fields;  /* its one group: the account */
    cond(&vc, SIGMA_CMP_GTE, 2);
    const sigma_correlation *list[] = { &ec, &vc };
    corr_set set = { list, 2, 9 };

    /* nested as deep as an event may be: deeper than the anchor check's parse takes it in --raw or OCSF */
    ot_buf deep = { 0 }, brackets = { 0 };
    buf_append_str(&deep, "{\"eventTime\":\"2024-05-01T00:00:05Z\",\"eventID\":\"deep\",\"recipientAccountId\":\"1\","
                          "\"requestParameters\":{\"n\":5,\"x\":");
    for (int i = 0; i < 1022; i++)
        buf_append_str(&deep, "[");
    for (int i = 0; i < 1022; i++)
        buf_append_str(&deep, "]");
    buf_append_str(&deep, "}}");
    buf_append(&deep, "", 1);
    /* as many brackets in a string: the checked way, which keeps it */
    buf_append_str(&brackets, "{\"eventTime\":\"2024-05-01T00:00:06Z\",\"eventID\":\"brackets\","
                              "\"recipientAccountId\":\"1\",\"userIdentity\":{\"arn\":\"");
    for (int i = 0; i < 1200; i++)
        buf_append_str(&brackets, "{");
    buf_append_str(&brackets, "\"},\"requestParameters\":{\"n\":5}}");
    buf_append(&brackets, "", 1);
    const char *evs[] = {
        "{\"eventTime\":\"2024-05-01T00:00:00Z\",\"eventID\":\"e1\",\"recipientAccountId\":\"1\","
        "\"userIdentity\":{\"arn\":\"a\"},\"requestParameters\":{\"n\":5}}",
        /* quotes, a backslash and control bytes: escaped in a line, plain ASCII in a capture */
        "{\"eventTime\":\"2024-05-01T00:00:01.5Z\",\"eventID\":\"e\\\"2\\\\\\u0001\\n\",\"recipientAccountId\":\"1\","
        "\"userIdentity\":{\"arn\":\"b\\tc\"},\"requestParameters\":{\"n\":5}}",
        /* no eventID; a number and a bool as group values */
        "{\"eventTime\":\"2024-05-01T00:00:02Z\",\"recipientAccountId\":7,\"userIdentity\":{\"arn\":\"a\"},"
        "\"requestParameters\":{\"n\":true}}",
        "{\"eventTime\":\"2024-05-01T00:00:02Z\",\"recipientAccountId\":7,\"userIdentity\":{\"arn\":\"z\"},"
        "\"requestParameters\":{\"n\":true}}",
        /* UTF-8 in the group, the counted value, the eventID, the anchor */
        "{\"eventTime\":\"2024-05-01T00:00:03Z\",\"eventID\":\"\xc3\xa9\",\"recipientAccountId\":\"\xc3\x9c\","
        "\"userIdentity\":{\"arn\":\"\xe2\x82\xac\"},\"requestParameters\":{\"n\":5}}",
        "{\"eventTime\":\"2024-05-01T00:00:04Z\",\"eventID\":\"e6\",\"recipientAccountId\":\"\xc3\x9c\","
        "\"userIdentity\":{\"arn\":\"\\u20ac\"},\"requestParameters\":{\"n\":5},\"eventName\":\"\xf0\x9f\x98\x80\"}",
        deep.data,
        brackets.data,
        /* a lone surrogate, repaired when parsed */
        "{\"eventTime\":\"2024-05-01T00:00:07Z\",\"eventID\":\"s\\ud800\",\"recipientAccountId\":\"1\","
        "\"userIdentity\":{\"arn\":\"q\"},\"requestParameters\":{\"n\":5}}",
        /* no group value, no counted value, no readable eventTime: no part */
        "{\"eventTime\":\"2024-05-01T00:00:08Z\",\"eventID\":\"g\",\"userIdentity\":{\"arn\":\"q\"}}",
        "{\"eventTime\":\"2024-05-01T00:00:08Z\",\"eventID\":\"h\",\"recipientAccountId\":\"1\","
        "\"requestParameters\":{\"n\":5}}",
        "{\"eventTime\":\"soon\",\"eventID\":\"i\",\"recipientAccountId\":\"1\",\"requestParameters\":{\"n\":5}}",
    };
    const char *paths[] = { "a.json", "in/\"q\"\\.json", "b.json", "b.json", "c\xff\xfe.json", "\xc3\xa9.json",
                            "d.json", "e.json", "f.json", "g.json", "h.json", "i.json" };
    size_t n = sizeof evs / sizeof *evs;
    for (int format = 0; format < 2; format++)
        for (int raw = 0; raw < 2; raw++) {
            check_context = format ? raw ? "captures ocsf raw" : "captures ocsf" : raw ? "captures raw" : "captures";
            finding_format ff = format ? FINDING_OCSF : FINDING_NDJSON;
            ot_buf lines = { 0 }, caps = { 0 }, both = { 0 }, again = { 0 };
            int t1, t2, t3;
            capture_all(&set, CORR_CAPTURE_LINES, ff, raw, evs, paths, n, &lines, &t1);
            capture_all(&set, CORR_CAPTURE_STORE, ff, raw, evs, paths, n, &caps, &t2);
            capture_all(&set, CORR_CAPTURE_STORE | CORR_CAPTURE_LINES, ff, raw, evs, paths, n, &both, &t3);
            CHECK(t1 == 18 && t2 == t1 && t3 == t1);
            /* the lines a checkpoint's file gets are the state lines, byte for byte */
            uint64_t count = 0;
            CHECK(corr_captured_lines(both.data, both.len, &again, &count) == 0 && count == (uint64_t)t1);
            CHECK(again.len == lines.len && memcmp(again.data, lines.data, lines.len) == 0);
            CHECK(corr_captured_lines(caps.data, caps.len, NULL, &count) == 0 && count == (uint64_t)t1);
            CHECK(corr_captured_lines(caps.data, caps.len, &again, &count) == -EINVAL);  /* without their lines */
            ot_buf o1 = { 0 }, o2 = { 0 }, o3 = { 0 };
            uint64_t m1, m2, m3, b1, b2, b3;
            evaluate_from(&set, ff, &lines, 0, &o1, &m1, &b1);
            evaluate_from(&set, ff, &caps, 1, &o2, &m2, &b2);
            evaluate_from(&set, ff, &both, 1, &o3, &m3, &b3);
            /* the deep event's anchor nests past 1024 with --raw or OCSF (its
             * unmapped): the store's check parses deeper, so nothing is refused
             * (regression: it was, and its match lost) */
            CHECK(b1 == 0 && b2 == 0 && b3 == 0);
            CHECK(m1 == (uint64_t)t1 - b1 && m2 == m1 && m3 == m1);
            CHECK(o1.len > 0 && o2.len == o1.len && memcmp(o1.data, o2.data, o1.len) == 0);
            CHECK(o3.len == o1.len && memcmp(o1.data, o3.data, o1.len) == 0);
            buf_free(&o1);
            buf_free(&o2);
            buf_free(&o3);
            buf_free(&lines);
            buf_free(&caps);
            buf_free(&both);
            buf_free(&again);
        }
    buf_free(&deep);
    buf_free(&brackets);
}

/* A state from elsewhere (JSON text) is never taken as this process's
 * captures: the trusted way refuses it whole, keeping nothing. */
static void test_state_lines_are_no_captures(void)
{
    check_context = "state lines are no captures";
    sigma_correlation c = corr(SIGMA_CORR_EVENT_COUNT, 1, 1000);
    cond(&c, SIGMA_CMP_GTE, 1);
    const sigma_correlation *list[] = { &c };
    corr_set set = { list, 1, 42 };
    ot_buf in = { 0 };
    for (int i = 0; i < 20; i++)
        line(&in, 0, i, "a", "A", NULL);
    corr_options o = { FINDING_NDJSON, SEV_INFO, 1, 0 };
    corr_store *s = corr_store_create(&set, &o);
    uint64_t bad = 0, m, n, below;
    CHECK(corr_store_add_captured(s, in.data, in.len, "<test>", stderr, &bad) == -EINVAL);
    ot_buf out = { 0 };
    CHECK(corr_store_evaluate(s, &out, &m, &n, &below) == 0 && m == 0 && n == 0 && out.len == 0);
    uint64_t count;
    CHECK(corr_captured_lines(in.data, in.len, NULL, &count) == -EINVAL);
    corr_store_free(s);
    buf_free(&in);
    buf_free(&out);
}

static void test_time(void)
{
    check_context = "time";
    int64_t ms;
    CHECK(corr_time_ms("2024-05-01T00:00:00Z", 20, &ms) == 0 && ms == 1714521600000LL);
    CHECK(corr_time_ms("2024-05-01T00:00:00.5Z", 22, &ms) == 0 && ms == 1714521600500LL);
    CHECK(corr_time_ms("2024-05-01T00:00:00.123456Z", 27, &ms) == 0 && ms == 1714521600123LL);
    CHECK(corr_time_ms("nope", 4, &ms) == -1);
}

int main(void)
{
    test_time();
    test_event_count();
    test_dedupe_and_order();
    test_value_count();
    test_temporal();
    test_temporal_ordered();
    test_cap_and_damage();
    test_capture_round_trip();
    test_captures_same_as_state_lines();
    test_state_lines_are_no_captures();
    return check_summary();
}
