/* rules: the index by eventName, eventSource and other fields gives the
 * same matches, in the same list order, as trying every rule: rules indexed
 * each way and not at all, case, a value two rules share, absent and
 * non-string fields, values of a length no key has, keys of 63 bytes or
 * more. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "parse.h"
#include "rules.h"

#define LONG_UA "aws-sdk-java/1.12.0 Linux/5.10 OpenJDK_64-Bit_Server_VM/25.0 java/1.8.0 vendor/Amazon"

static const char *const rule_files[][2] = {
    { "r1.yml", "  sel:\n    userAgent|contains: kali\n" },                       /* unindexed */
    { "r2.yml", "  sel:\n    eventName: GetObject\n" },                          /* by eventName */
    { "r3.yml", "  sel:\n    eventSource: s3.amazonaws.com\n    errorCode: AccessDenied\n" }, /* by eventSource */
    { "r4.yml", "  sel:\n    eventName: [getobject, PutObject]\n" },             /* shares a value, other case */
    { "r5.yml", "  sel:\n    eventSource: s3.amazonaws.com\n    eventName: PutObject\n" },
    { "r6.yml", "  sel:\n    eventName: '42'\n" },                               /* a number's text */
    { "r7.yml", "  sel:\n    userAgent|contains: kali\n    eventName: DeleteBucket\n" },
    { "r8.yml", "  sel:\n    userIdentity.type: Root\n" },                   /* by userIdentity.type */
    { "r9.yml", "  sel:\n    userIdentity.type: [AssumedRole, Root]\n"        /* by the deep one: fewer */
                "    userIdentity.sessionContext.sessionIssuer.type: Role\n" },
    { "ra.yml", "  sel:\n    userAgent: KALI\n" },                          /* by userAgent */
    { "rb.yml", "  sel:\n    userAgent: '" LONG_UA "'\n" },                 /* a key past the length mask */
    { "rc.yml", "  sel:\n    userAgent|re: 'kal[iy]'\n" },                  /* unindexed: a regex */
    { "rd.yml", "  sel:\n    eventName: GetObject\n" },                      /* r2's twin */
    { "re.yml", "  sel:\n    userAgent|re: 'kal[iy]'\n" },                  /* rc's twin */
};
#define NRULES (sizeof rule_files / sizeof rule_files[0])

/* The ids of the rules an event matches, in order, e.g. "r1 r2". */
static void matched(rules *r, const char *event, char *out, size_t cap)
{
    parse_ctx *pc = parse_create();
    char err[128];
    size_t off;
    out[0] = '\0';
    if (parse_record(pc, event, strlen(event), PARSE_KIND_EVENT, err, sizeof err, &off) == 0) {
        const rule *m[NRULES];
        size_t n = rules_match(r, pc, UINT64_MAX, m, NRULES);
        for (size_t i = 0; i < n; i++)
            snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? " " : "", m[i]->id);
    }
    parse_free(pc);
}

/* The same, trying every rule of the list in turn (no index). */
static void matched_one_by_one(rules *r, const char *event, char *out, size_t cap)
{
    parse_ctx *pc = parse_create();
    char err[128];
    size_t off;
    out[0] = '\0';
    if (parse_record(pc, event, strlen(event), PARSE_KIND_EVENT, err, sizeof err, &off) == 0)
        for (size_t i = 0; i < rules_count(r); i++)
            if (sigma_rule_matches(rules_at(r, i)->sigma, pc))
                snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? " " : "", rules_at(r, i)->id);
    parse_free(pc);
}

static void test_index_same_matches_in_list_order(const char *dir)
{
    rules *r = rules_create(0);
    CHECK(rules_add_sigma(r, dir, NULL, NULL) == (int)NRULES);
    /* rd and re are twins of r2 and rc (their answers reused), the others of none */
    for (size_t i = 0; i < rules_count(r); i++) {
        const char *id = rules_at(r, i)->id;
        size_t twin = rules_at(r, i)->twin;
        const char *of = twin < rules_count(r) ? rules_at(r, twin)->id : "";
        CHECK(strcmp(of, strcmp(id, "rd") == 0 ? "r2" : strcmp(id, "re") == 0 ? "rc" : "") == 0);
    }
    static const char *const cases[][2] = {
        { "{\"eventName\":\"GetObject\",\"eventSource\":\"s3.amazonaws.com\",\"errorCode\":\"AccessDenied\","
          "\"userAgent\":\"KALI linux\"}", "r1 r2 r3 r4 rd" },
        { "{\"eventName\":\"GETOBJECT\",\"eventSource\":\"S3.amazonaws.com\"}", "r2 r4 rd" },
        { "{\"eventName\":\"PutObject\",\"eventSource\":\"s3.amazonaws.com\"}", "r4 r5" },
        { "{\"eventName\":\"PutObject\",\"eventSource\":\"ec2.amazonaws.com\"}", "r4" },
        { "{\"eventSource\":\"s3.amazonaws.com\",\"errorCode\":\"AccessDenied\"}", "r3" },
        { "{\"eventName\":null,\"userAgent\":\"kali\"}", "r1 ra rc re" },
        { "{\"eventName\":42}", "r6" },
        { "{\"eventName\":\"DeleteBucket\",\"userAgent\":\"kali\"}", "r1 r7 ra rc re" },
        { "{\"eventName\":\"DeleteBucket\"}", "" },
        { "{\"eventName\":{\"a\":1}}", "" },
        /* other fields: the index's, any case; a deep path; parents missing or not objects */
        { "{\"userIdentity\":{\"type\":\"ROOT\"}}", "r8" },
        { "{\"userIdentity\":{\"type\":\"root\",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"ROLE\"}}}}",
          "r8 r9" },
        { "{\"userIdentity\":{\"type\":\"AssumedRole\",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\"}}}}",
          "r9" },
        { "{\"userIdentity\":{\"type\":\"IAMUser\",\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\"}}}}",
          "" },
        { "{\"userIdentity\":{\"type\":\"Root\",\"type\":\"IAMUser\"}}", "r8" },
        { "{\"userIdentity\":\"Root\"}", "" },
        { "{\"userIdentity\":[{\"type\":\"Root\"}]}", "" },
        { "{\"userIdentity\":{\"sessionContext\":\"Role\",\"type\":\"Root\"}}", "r8" },
        /* userAgent: a key's length but not a key; no key's length; a long key, and one byte off it */
        { "{\"userAgent\":\"KALX\"}", "" },
        { "{\"userAgent\":\"kaly\"}", "rc re" },
        { "{\"userAgent\":\"" LONG_UA "\"}", "rb" },
        { "{\"userAgent\":\"" LONG_UA "x\"}", "" },
        { "{\"userAgent\":\"AWS-SDK-JAVA/1.12.0 LINUX/5.10 OPENJDK_64-BIT_SERVER_VM/25.0 JAVA/1.8.0 VENDOR/AMAZON\"}",
          "rb" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char got[128], every[128];
        matched(r, cases[i][0], got, sizeof got);
        matched_one_by_one(r, cases[i][0], every, sizeof every);
        check_context = cases[i][0];
        if (strcmp(got, cases[i][1]) != 0 || strcmp(every, cases[i][1]) != 0)
            fprintf(stderr, "  got '%s', one by one '%s', want '%s'\n", got, every, cases[i][1]);
        CHECK(strcmp(got, cases[i][1]) == 0);
        CHECK(strcmp(every, cases[i][1]) == 0);
    }
    check_context = "";
    rules_free(r);
}

static void count_unsupported(void *arg, const char *source, const char *name, sigma_status st, const char *reason)
{
    if (st != SIGMA_LOADED) {
        fprintf(stderr, "  %s: %s: %s\n", source, name, reason);
        ++*(int *)arg;
    }
}

/* rules_link: a correlation's base rules are silent (no finding of their
 * own) but still match, so that their matches can feed it; the others are
 * not, and generate: true keeps its base rules' findings. */
static void test_link_marks_silent_base_rules(const char *dir)
{
    char path[256];
    snprintf(path, sizeof path, "%s/corr.yml", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fputs("title: Base\nid: base\nlogsource: {product: aws, service: cloudtrail}\n"
          "detection: {s: {eventName: GetObject}, condition: s}\n"
          "---\ntitle: Loud\nid: loud\nlogsource: {product: aws, service: cloudtrail}\n"
          "detection: {s: {eventName: PutObject}, condition: s}\n"
          "---\ntitle: Other\nid: other\nlogsource: {product: aws, service: cloudtrail}\n"
          "detection: {s: {eventName: GetObject}, condition: s}\n"
          "---\ntitle: Corr\nid: corr\ncorrelation: {type: event_count, rules: [Base], timespan: 1h, condition: {gte: 2}}\n"
          "---\ntitle: Corr2\nid: corr2\ncorrelation: {type: temporal, rules: [loud], timespan: 1h, generate: true}\n",
          f);
    fclose(f);
    rules *r = rules_create(0);
    CHECK(rules_add_sigma(r, path, NULL, NULL) == 3);
    CHECK(rules_count(r) == 3 && rules_correlation_count(r) == 0 && !rules_at(r, 0)->silent);
    CHECK(rules_link(r, NULL, NULL) == 2);
    CHECK(rules_correlation_count(r) == 2 && strcmp(rules_correlation_at(r, 0)->id, "corr") == 0 &&
          rules_correlation_at(r, 0)->rules[0] == rules_at(r, 0)->sigma && rules_correlation_at(r, 2) == NULL);
    CHECK(rules_at(r, 0)->silent && !rules_at(r, 1)->silent && !rules_at(r, 2)->silent);
    char got[128];
    matched(r, "{\"eventName\":\"GetObject\"}", got, sizeof got);
    CHECK(strcmp(got, "base other") == 0);
    rules_free(r);
    unlink(path);
    /* the built-in pack links too, every correlation of it kept */
    r = rules_create(1);
    int unsupported = 0;
    CHECK(r && rules_link(r, count_unsupported, &unsupported) >= 0 && unsupported == 0);
    for (size_t i = 0; r && i < rules_count(r); i++)
        CHECK(rules_at(r, i)->silent == !sigma_rule_generates(rules_at(r, i)->sigma));
    rules_free(r);
}

int main(void)
{
    char dir[] = "/tmp/test_rules.XXXXXX";
    if (!mkdtemp(dir))
        return 77;
    for (size_t i = 0; i < NRULES; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, rule_files[i][0]);
        FILE *f = fopen(path, "w");
        if (!f)
            return 77;
        fprintf(f, "title: %.2s\nid: %.2s\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n%s"
                   "  condition: sel\n",
                rule_files[i][0], rule_files[i][0], rule_files[i][1]);
        fclose(f);
    }
    test_index_same_matches_in_list_order(dir);
    test_link_marks_silent_base_rules(dir);
    for (size_t i = 0; i < NRULES; i++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", dir, rule_files[i][0]);
        unlink(path);
    }
    rmdir(dir);
    return check_summary();
}
