/* sigma: every supported feature against events that must and must not
 * match, the needles derived from rules, and the rules that must be
 * reported unsupported (with their reason). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "parse.h"
#include "sigma.h"


static char last_reason[256];
static int last_status;

static void remember(void *arg, const char *source, const char *name, sigma_status st, const char *reason)
{
    last_status = st;
    snprintf(last_reason, sizeof last_reason, "%s", reason);
}

/* Wraps a detection block into a CloudTrail rule and loads it. */
static sigma_set *load(const char *detection)
{
    char text[4096];
    snprintf(text, sizeof text,
             "title: t\nid: r1\nlevel: high\nlogsource:\n  product: aws\n  service: cloudtrail\n"
             "detection:\n%s\n",
             detection);
    sigma_set *s = sigma_set_create();
    last_reason[0] = '\0';
    sigma_load_text(s, "test", text, strlen(text), remember, NULL);
    return s;
}

static int matches(sigma_set *s, const char *event)
{
    parse_ctx *pc = parse_create();
    char err[128];
    size_t off;
    int ok = parse_record(pc, event, strlen(event), PARSE_KIND_EVENT, err, sizeof err, &off) == 0 &&
             sigma_count(s) == 1 && sigma_rule_matches(sigma_at(s, 0), pc);
    parse_free(pc);
    return ok;
}

/* CHECK_RULE(detection, event, expected) */
#define CHECK_RULE(det, ev, want)                                                             \
    do {                                                                                      \
        sigma_set *s_ = load(det);                                                            \
        int got_ = matches(s_, ev);                                                           \
        if (got_ != (want))                                                                   \
            fprintf(stderr, "  rule: %s\n  event: %s\n  got %d (%s)\n", det, ev, got_, last_reason); \
        CHECK(got_ == (want));                                                                \
        sigma_set_free(s_);                                                                   \
    } while (0)

static const char *ev_leave =
    "{\"eventSource\":\"organizations.amazonaws.com\",\"eventName\":\"LeaveOrganization\","
    "\"sourceIPAddress\":\"10.1.2.3\",\"userAgent\":\"aws-cli/2.0 Python\",\"errorCode\":null,"
    "\"userIdentity\":{\"type\":\"Root\",\"arn\":\"arn:aws:iam::1:root\"},"
    "\"requestParameters\":{\"policyType\":\"SERVICE_CONTROL_POLICY\",\"note\":\"a*b?c\\\\d\"},\"readOnly\":false,"
    "\"n\":42}";

static void test_maps_lists_paths(void)
{
    CHECK_RULE("  sel:\n    eventName: LeaveOrganization\n  condition: sel", ev_leave, 1);
    CHECK_RULE("  sel:\n    eventName: DeleteOrganization\n  condition: sel", ev_leave, 0);
    /* a map is an AND */
    CHECK_RULE("  sel:\n    eventName: LeaveOrganization\n    eventSource: organizations.amazonaws.com\n  condition: sel", ev_leave, 1);
    CHECK_RULE("  sel:\n    eventName: LeaveOrganization\n    eventSource: s3.amazonaws.com\n  condition: sel", ev_leave, 0);
    /* a list of values is an OR */
    CHECK_RULE("  sel:\n    eventName: [DeleteOrganization, LeaveOrganization]\n  condition: sel", ev_leave, 1);
    /* a list of maps is an OR */
    CHECK_RULE("  sel:\n    - eventName: X\n    - userIdentity.type: Root\n  condition: sel", ev_leave, 1);
    CHECK_RULE("  sel:\n    - eventName: X\n    - userIdentity.type: IAMUser\n  condition: sel", ev_leave, 0);
    /* dotted paths into nested objects */
    CHECK_RULE("  sel:\n    requestParameters.policyType: SERVICE_CONTROL_POLICY\n  condition: sel", ev_leave, 1);
    CHECK_RULE("  sel:\n    requestParameters.missing.deeper: x\n  condition: sel", ev_leave, 0);
    /* numbers and booleans compare as their text */
    CHECK_RULE("  sel:\n    n: 42\n    readOnly: 'false'\n  condition: sel", ev_leave, 1);
    CHECK_RULE("  sel:\n    readOnly: false\n  condition: sel", ev_leave, 1);
}

static void test_case_and_wildcards(void)
{
    CHECK_RULE("  sel:\n    eventName: leaveorganization\n  condition: sel", ev_leave, 1);     /* case-insensitive */
    CHECK_RULE("  sel:\n    eventName: Leave*\n  condition: sel", ev_leave, 1);
    CHECK_RULE("  sel:\n    eventName: '*Organization'\n  condition: sel", ev_leave, 1);
    CHECK_RULE("  sel:\n    eventName: L?aveOrganization\n  condition: sel", ev_leave, 1);
    CHECK_RULE("  sel:\n    eventName: L?veOrganization\n  condition: sel", ev_leave, 0);
    CHECK_RULE("  sel:\n    eventName: Leave\n  condition: sel", ev_leave, 0);                 /* whole value */
    /* escapes: \* and \? are themselves, \\ a backslash */
    CHECK_RULE("  sel:\n    requestParameters.note: 'a\\*b\\?c\\\\d'\n  condition: sel", ev_leave, 1);
    CHECK_RULE("  sel:\n    requestParameters.note: 'aXb\\?c\\\\d'\n  condition: sel", ev_leave, 0);
    CHECK_RULE("  sel:\n    requestParameters.note: 'a*d'\n  condition: sel", ev_leave, 1);
}

static void test_modifiers(void)
{
    CHECK_RULE("  sel:\n    userAgent|contains: cli/2\n  condition: sel", ev_leave, 1);
    CHECK_RULE("  sel:\n    userAgent|contains: boto\n  condition: sel", ev_leave, 0);
    CHECK_RULE("  sel:\n    userAgent|startswith: AWS-CLI\n  condition: sel", ev_leave, 1);
    CHECK_RULE("  sel:\n    userAgent|startswith: Python\n  condition: sel", ev_leave, 0);
    CHECK_RULE("  sel:\n    userAgent|endswith: python\n  condition: sel", ev_leave, 1);
    CHECK_RULE("  sel:\n    userAgent|endswith: aws\n  condition: sel", ev_leave, 0);
    CHECK_RULE("  sel:\n    userAgent|contains|all: [aws, python]\n  condition: sel", ev_leave, 1);
    CHECK_RULE("  sel:\n    userAgent|contains|all: [aws, boto]\n  condition: sel", ev_leave, 0);
    CHECK_RULE("  sel:\n    userAgent|re: '^aws-cli/[0-9]'\n  condition: sel", ev_leave, 1);
    CHECK_RULE("  sel:\n    userAgent|re: '^AWS-CLI'\n  condition: sel", ev_leave, 0);        /* re is case-sensitive */
    CHECK_RULE("  sel:\n    userAgent|re|i: '^AWS-CLI'\n  condition: sel", ev_leave, 1);
    CHECK_RULE("  sel:\n    errorCode|exists: true\n  condition: sel", ev_leave, 1);          /* present, null */
    CHECK_RULE("  sel:\n    errorMessage|exists: true\n  condition: sel", ev_leave, 0);
    CHECK_RULE("  sel:\n    errorMessage|exists: false\n  condition: sel", ev_leave, 1);
    CHECK_RULE("  sel:\n    sourceIPAddress|cidr: 10.0.0.0/8\n  condition: sel", ev_leave, 1);
    CHECK_RULE("  sel:\n    sourceIPAddress|cidr: 10.1.2.0/30\n  condition: sel", ev_leave, 1);
    CHECK_RULE("  sel:\n    sourceIPAddress|cidr: 192.168.0.0/16\n  condition: sel", ev_leave, 0);
    CHECK_RULE("  sel:\n    sourceIPAddress|cidr: '2001:db8::/32'\n  condition: sel",
               "{\"sourceIPAddress\":\"2001:db8:1::5\"}", 1);
}

static void test_null(void)
{
    CHECK_RULE("  sel:\n    errorCode: null\n  condition: sel", ev_leave, 1);      /* written out as null */
    CHECK_RULE("  sel:\n    errorMessage: null\n  condition: sel", ev_leave, 1);   /* absent */
    CHECK_RULE("  sel:\n    eventName: null\n  condition: sel", ev_leave, 0);
    CHECK_RULE("  sel:\n    errorCode: [null, AccessDenied]\n  condition: sel", ev_leave, 1);
}

static void test_conditions(void)
{
    const char *two = "  a:\n    eventName: LeaveOrganization\n  b:\n    eventSource: s3.amazonaws.com\n";
    char det[512];
#define COND(c, want)                                   \
    snprintf(det, sizeof det, "%s  condition: %s", two, c); \
    CHECK_RULE(det, ev_leave, want)
    COND("a and b", 0);
    COND("a or b", 1);
    COND("a and not b", 1);
    COND("not a", 0);
    COND("not (a or b)", 0);
    COND("(a or b) and not b", 1);
    COND("1 of them", 1);
    COND("all of them", 0);
    COND("1 of a*", 1);
    COND("all of a*", 1);
    COND("any of b*", 0);
#undef COND
    /* a list of conditions is an OR */
    CHECK_RULE("  a:\n    eventName: X\n  b:\n    eventName: LeaveOrganization\n  condition:\n    - a\n    - b", ev_leave, 1);
    /* "them" leaves out selections starting with _ */
    CHECK_RULE("  a:\n    eventName: LeaveOrganization\n  _helper:\n    eventName: X\n  condition: all of them", ev_leave, 1);
}

static void test_keywords(void)
{
    CHECK_RULE("  keywords:\n    - 'SERVICE_CONTROL_POLICY'\n  condition: keywords", ev_leave, 1);
    CHECK_RULE("  keywords:\n    - 'service_control*'\n  condition: keywords", ev_leave, 1);
    CHECK_RULE("  keywords:\n    - 'NoSuchThing'\n  condition: keywords", ev_leave, 0);
}

static const char *needles_of(const char *detection, char *out, size_t cap)
{
    sigma_set *s = load(detection);
    out[0] = '\0';
    if (sigma_count(s) == 1)
        for (const char *const *n = sigma_rule_needles(sigma_at(s, 0)); *n; n++)
            snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? "|" : "", *n);
    else
        snprintf(out, cap, "(not loaded: %s)", last_reason);
    sigma_set_free(s);
    return out;
}

#define NEEDLES(det, want)                                                          \
    do {                                                                            \
        char buf[512];                                                              \
        needles_of(det, buf, sizeof buf);                                           \
        if (strcmp(buf, want) != 0)                                                 \
            fprintf(stderr, "  needles of %s\n  got  '%s'\n  want '%s'\n", det, buf, want); \
        CHECK(strcmp(buf, want) == 0);                                              \
    } while (0)

static void test_needles(void)
{
    /* an exact value: its opening quote anchors it */
    NEEDLES("  sel:\n    eventName: LeaveOrganization\n  condition: sel", "\"LeaveOrganization");
    NEEDLES("  sel:\n    eventName: [DeleteBucket, PutBucketPolicy]\n  condition: sel", "\"DeleteBucket|\"PutBucketPolicy");
    /* the better of two required fields: rarity beats fewer alternatives (a broad
     * field's one value is in every call to its service) */
    NEEDLES("  sel:\n    eventSource: abcd.example\n    eventName: [AAAAAAAAAAAAAAAA, BBBBBBBBBBBBBBBB]\n  condition: sel",
            "\"AAAAAAAAAAAAAAAA|\"BBBBBBBBBBBBBBBB");
    /* of two fields neither broad, one alternative beats two */
    NEEDLES("  sel:\n    userAgent: abcd.example\n    eventName: [AAAAAAAAAAAAAAAA, BBBBBBBBBBBBBBBB]\n  condition: sel",
            "\"abcd.example");
    NEEDLES("  sel:\n    eventSource|startswith: 'organizations.'\n  condition: sel", "\"organizations.");
    /* an eventName anchors better than its service's eventSource */
    NEEDLES("  sel:\n    eventSource: secretsmanager.amazonaws.com\n    eventName: GetSecretValue\n  condition: sel",
            "\"GetSecretValue");
    NEEDLES("  sel:\n    userAgent|contains: sqlmap\n  condition: sel", "sqlmap");
    NEEDLES("  sel:\n    userAgent|endswith: '/evil'\n  condition: sel", "/evil");
    NEEDLES("  sel:\n    userAgent|contains|all: [ab, 'kali-linux']\n  condition: sel", "kali-linux");
    NEEDLES("  a:\n    eventName: ConsoleLogin\n  b:\n    eventName: GetSessionToken\n  condition: a or b", "\"ConsoleLogin|\"GetSessionToken");
    NEEDLES("  a:\n    eventName: ConsoleLogin\n  b:\n    userAgent: x\n  condition: a and not b", "\"ConsoleLogin");
    /* unanchored: only a not, a regex, a too-short literal, an OR with an unanchored side */
    NEEDLES("  a:\n    eventName: ConsoleLogin\n  condition: not a", "");
    NEEDLES("  a:\n    userAgent|re: 'sql.*map'\n  condition: a", "");
    NEEDLES("  a:\n    userAgent|contains: ab\n  condition: a", "");
    NEEDLES("  a:\n    eventName: ConsoleLogin\n  b:\n    errorCode|exists: true\n  condition: a or b", "");
    NEEDLES("  keywords:\n    - '*mimikatz*'\n  condition: keywords", "mimikatz");
    /* a boolean or a number may not be a JSON string in the event: no quote */
    NEEDLES("  sel:\n    readOnly: 'false'\n  condition: sel", "false");
    NEEDLES("  sel:\n    requestParameters.maxResults: 123456\n  condition: sel", "123456");
}

/* A regex's literal: what every match must contain, or nothing when unsure. */
static void test_regex_literals(void)
{
#define RE(pattern, want) NEEDLES("  sel:\n    userAgent|re: '" pattern "'\n  condition: sel", want)
#define RE_I(pattern, want) NEEDLES("  sel:\n    userAgent|re|i: '" pattern "'\n  condition: sel", want)
    RE(".+:assumed-role/aws:.+", ":assumed-role/aws:");
    RE("^evil\\.example\\.com$", "evil.example.com");
    RE("[a-z]+hello", "hello");
    RE("(foo|bar)bazqux", "bazqux");
    RE("(?:x)?abcdefg(?=h)", "abcdefg");
    /* an optional or repeated byte ends the run it would be in */
    RE("abcdx?efgh", "abcd");
    RE("abc+defg", "defg");
    RE("wxyzq{0,3}rstu", "wxyz");
    RE("wxyzq{2}rstu", "wxyzq");
    RE("abcd{x}efg", "abcd{x}efg");       /* not a quantifier: PCRE2 reads the braces as bytes */
    /* case-sensitive: the literal as written (searched ignoring case: a superset) */
    RE("aws-sdk-go", "aws-sdk-go");
    /* caseless: k and s end runs (PCRE2 in UTF mode folds them with the Kelvin sign and long s) */
    RE_I("aws-sdk-go", "");
    RE_I("boto3/1\\.2", "boto3/1.2");
    RE("(?i)python-requests", "python-reque");
    /* unsure: nothing */
    RE("foo|barbaz", "");
    RE("\\x41BCDEFG", "");
    RE("(abcd)\\1efgh", "");             /* a backreference: give up */
    RE("\\QABCD\\E", "");
    RE("abcd(?i)efgh", "");
    RE("(?x)a b c d e", "");
    RE("\\d{12}", "");
    RE("12345678", "");                   /* a number's text may be reformatted */
    /* a rule needs one literal per regex of an OR */
    NEEDLES("  sel:\n    userAgent|re:\n      - 'kali-linux'\n      - 'parrot.+os'\n  condition: sel", "kali-linux|parrot");
    NEEDLES("  sel:\n    userAgent|re:\n      - 'kali-linux'\n      - '.*'\n  condition: sel", "");
#undef RE
#undef RE_I
}

/* Which field a rule is indexed by, and the values. */
static void test_index(void)
{
    struct {
        const char *det, *field, *values;
    } cases[] = {
        { "  sel:\n    eventSource: cloudtrail.amazonaws.com\n    eventName: [StopLogging, DeleteTrail]\n"
          "  condition: sel", "eventName", "StopLogging|DeleteTrail" },
        { "  a:\n    eventName: A1\n  b:\n    eventName: [B1, a1]\n  condition: a or b", "eventName", "A1|B1" },
        { "  a:\n    eventName: A1\n  b:\n    userAgent: x\n  condition: a and not b", "eventName", "A1" },
        { "  a:\n    eventSource: s3.amazonaws.com\n    errorCode: AccessDenied\n  condition: a", "eventSource",
          "s3.amazonaws.com" },
        /* an OR with a side of neither, a not, a wildcard, a modifier: no index */
        { "  a:\n    eventName: A1\n  b:\n    userAgent: x\n  condition: a or b", NULL, "" },
        { "  a:\n    eventName: A1\n  condition: not a", NULL, "" },
        { "  a:\n    eventName: Get*\n  condition: a", NULL, "" },
        { "  a:\n    eventName|contains: Get\n  condition: a", NULL, "" },
        { "  a:\n    eventName: null\n  condition: a", NULL, "" },
        /* a list of maps: each of its maps names one */
        { "  a:\n    - eventName: A1\n    - eventName: B1\n      userAgent: x\n  condition: a", "eventName", "A1|B1" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sigma_set *s = load(cases[i].det);
        check_context = cases[i].det;
        CHECK(sigma_count(s) == 1);
        if (sigma_count(s) == 1) {
            const char *const *v;
            const char *field = sigma_rule_index(sigma_at(s, 0), &v);
            char got[256] = "";
            for (; field && *v; v++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", got[0] ? "|" : "", *v);
            CHECK((field == NULL) == (cases[i].field == NULL));
            CHECK(!field || strcmp(field, cases[i].field) == 0);
            if (strcmp(got, cases[i].values) != 0)
                fprintf(stderr, "  index values got '%s' want '%s'\n", got, cases[i].values);
            CHECK(strcmp(got, cases[i].values) == 0);
        }
        sigma_set_free(s);
    }
    check_context = "";
}

/* contains, startswith, endswith and exact values are compiled to folded
 * compares (contains 16 bytes at a time): the literal at every place, in
 * either case, and one byte short of it, in values of every length. */
static void test_compiled_matchers_every_position(void)
{
    static const struct {
        const char *det, *lit;
    } rules[] = {
        { "  sel:\n    userAgent|contains: kAli\n  condition: sel", "KaLI" },
        { "  sel:\n    userAgent|contains: '/ev1'\n  condition: sel", "/EV1" },
        { "  sel:\n    userAgent|startswith: kali\n  condition: sel", "KALI" },
        { "  sel:\n    userAgent|endswith: kali\n  condition: sel", "kaLi" },
    };
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        sigma_set *s = load(rules[r].det);
        CHECK(sigma_count(s) == 1);
        for (size_t len = 4; len <= 40 && sigma_count(s) == 1; len++)
            for (size_t at = 0; at + 4 <= len; at++)
                for (int cut = 0; cut < 2; cut++) {
                    char ua[64], ev[160];
                    memset(ua, 'x', len);
                    memcpy(ua + at, rules[r].lit, 4);
                    if (cut)
                        ua[at + 3] = 'x';         /* one byte short */
                    ua[len] = '\0';
                    snprintf(ev, sizeof ev, "{\"userAgent\":\"%s\"}", ua);
                    int want = !cut && (r < 2 || (r == 2 && at == 0) || (r == 3 && at + 4 == len));
                    parse_ctx *pc = parse_create();
                    char err[128];
                    size_t off;
                    int got = parse_record(pc, ev, strlen(ev), PARSE_KIND_EVENT, err, sizeof err, &off) == 0 &&
                              sigma_rule_matches(sigma_at(s, 0), pc);
                    parse_free(pc);
                    if (got != want && failed < 5)
                        fprintf(stderr, "  %s on '%s': got %d\n", rules[r].det, ua, got);
                    CHECK(got == want);
                }
        sigma_set_free(s);
    }
}

/* The bugs of issue 10, as the community rules have them. */
static void test_important_change_anchors_on_event_names(void)
{
    NEEDLES("  selection_source:\n    eventSource: cloudtrail.amazonaws.com\n    eventName:\n      - StopLogging\n"
            "      - UpdateTrail\n      - DeleteTrail\n  condition: selection_source",
            "\"StopLogging|\"UpdateTrail|\"DeleteTrail");
}

static void test_assumed_role_regex_anchored(void)
{
    NEEDLES("  selection:\n    userIdentity.arn|re: '.+:assumed-role/aws:.+'\n  filter_main_generic:\n"
            "    - eventSource: 'ssm.amazonaws.com'\n    - eventName: 'RegisterManagedInstance'\n"
            "  condition: selection and not 1 of filter_main_*",
            ":assumed-role/aws:");
}

static void expect_unsupported(const char *text, const char *reason_part, int want_status)
{
    sigma_set *s = sigma_set_create();
    last_reason[0] = '\0';
    last_status = -1;
    sigma_load_text(s, "test", text, strlen(text), remember, NULL);
    int ok = sigma_count(s) == 0 && last_status == want_status && strstr(last_reason, reason_part);
    if (!ok)
        fprintf(stderr, "  want %d '%s', got %d '%s'\n", want_status, reason_part, last_status, last_reason);
    CHECK(ok);
    sigma_set_free(s);
}

static void test_unsupported(void)
{
    const char *head = "title: t\nlogsource:\n  product: aws\n  service: cloudtrail\n";
    char text[1024];
    snprintf(text, sizeof text, "%sdetection:\n  sel:\n    eventName: x\n  condition: sel | count() > 5\n", head);
    expect_unsupported(text, "aggregation", SIGMA_UNSUPPORTED);
    snprintf(text, sizeof text, "%sdetection:\n  sel:\n    eventName|base64offset: x\n  condition: sel\n", head);
    expect_unsupported(text, "unsupported modifier 'base64offset'", SIGMA_UNSUPPORTED);
    snprintf(text, sizeof text, "%sdetection:\n  sel:\n    eventName: x\n  condition: other\n", head);
    expect_unsupported(text, "unknown selection 'other'", SIGMA_UNSUPPORTED);
    snprintf(text, sizeof text, "%sdetection:\n  sel:\n    eventName: x\n  timeframe: 5m\n  condition: sel\n", head);
    expect_unsupported(text, "timeframe", SIGMA_UNSUPPORTED);
    expect_unsupported("title: c\ncorrelation:\n  type: event_count\n", "correlation", SIGMA_UNSUPPORTED);
    expect_unsupported("title: w\nlogsource:\n  product: windows\ndetection:\n  s:\n    a: b\n  condition: s\n",
                       "not aws/cloudtrail", SIGMA_SKIPPED);
    snprintf(text, sizeof text, "%sdetection:\n  sel:\n    eventName|re: '(unclosed'\n  condition: sel\n", head);
    expect_unsupported(text, "regular expression", SIGMA_UNSUPPORTED);
    expect_unsupported("title: [unclosed\n", "YAML error", SIGMA_BAD_FILE);

    /* one bad rule does not stop the others in the same file */
    snprintf(text, sizeof text,
             "%sdetection:\n  sel:\n    eventName|wide: x\n  condition: sel\n---\n"
             "%sdetection:\n  sel:\n    eventName: y\n  condition: sel\n", head, head);
    sigma_set *s = sigma_set_create();
    int n = sigma_load_text(s, "test", text, strlen(text), NULL, NULL);
    CHECK(n == 1 && sigma_count(s) == 1);
    sigma_set_free(s);
}

/* Sigma `re` is PCRE2: \d is a digit (POSIX regcomp read it as 'd') */
static void test_re_was_posix_not_pcre(void)
{
    const char *ev = "{\"userAgent\":\"aws-cli/2.15\",\"note\":\"first\\nsecond\"}";
    CHECK_RULE("  sel:\n    userAgent|re: '^aws-cli/\\d'\n  condition: sel", ev, 1);
    CHECK_RULE("  sel:\n    userAgent|re: '^aws-cli/\\d'\n  condition: sel", "{\"userAgent\":\"aws-cli/d.15\"}", 0);
    CHECK_RULE("  sel:\n    userAgent|re: '(?i)^AWS-cli'\n  condition: sel", ev, 1);
    CHECK_RULE("  sel:\n    userAgent|re: '^aws-cli/\\d+?\\.15$'\n  condition: sel", ev, 1);
    CHECK_RULE("  sel:\n    note|re: '^second$'\n  condition: sel", ev, 0);
    CHECK_RULE("  sel:\n    note|re|m: '^second$'\n  condition: sel", ev, 1);
    CHECK_RULE("  sel:\n    note|re: 'first.second'\n  condition: sel", ev, 0);
    CHECK_RULE("  sel:\n    note|re|s: 'first.second'\n  condition: sel", ev, 1);
    /* catastrophic backtracking hits the match limit: no match, and it ends */
    char event[8192];
    int n = snprintf(event, sizeof event, "{\"userAgent\":\"");
    memset(event + n, 'a', 6000);
    snprintf(event + n + 6000, sizeof event - (size_t)n - 6000, "!\"}");
    CHECK_RULE("  sel:\n    userAgent|re: '^(a|aa)+$'\n  condition: sel", event, 0);
    const char *head = "title: t\nlogsource:\n  product: aws\n  service: cloudtrail\n";
    char text[512];
    snprintf(text, sizeof text, "%sdetection:\n  sel:\n    eventName|re: 'ab(c'\n  condition: sel\n", head);
    expect_unsupported(text, "missing closing parenthesis at offset 4", SIGMA_UNSUPPORTED);
}

/* a literal past the prefilter's 64-byte needles made scan fail (ENOMEM) */
static void test_needle_longer_than_prefilter(void)
{
    char lit[201], det[512];
    for (int i = 0; i < 200; i++)
        lit[i] = (char)('a' + i % 26);
    lit[200] = '\0';
    snprintf(det, sizeof det, "  sel:\n    userAgent|contains: %s\n  condition: sel", lit);
    sigma_set *s = load(det);
    CHECK(sigma_count(s) == 1);
    const char *const *nd = sigma_count(s) ? sigma_rule_needles(sigma_at(s, 0)) : NULL;
    CHECK(nd && nd[0] && strlen(nd[0]) == 64 && strncmp(nd[0], lit, 64) == 0 && !nd[1]);
    sigma_set_free(s);
    snprintf(det, sizeof det, "  sel:\n    userAgent: %s\n  condition: sel", lit);
    s = load(det);
    nd = sigma_count(s) ? sigma_rule_needles(sigma_at(s, 0)) : NULL;
    CHECK(nd && nd[0] && strlen(nd[0]) == 64 && nd[0][0] == '"' && strncmp(nd[0] + 1, lit, 63) == 0);
    sigma_set_free(s);
}

static char *rule_with_condition(const char *cond_head, const char *repeat, size_t times, const char *tail)
{
    size_t len = strlen(cond_head) + strlen(repeat) * times + strlen(tail) + 256;
    char *t = malloc(len), *p = t;
    p += sprintf(p, "title: t\nid: deep\nlogsource: {product: aws, service: cloudtrail}\n"
                    "detection:\n  s: {eventName: x}\n  condition: %s", cond_head);
    for (size_t i = 0; i < times; i++)
        p += sprintf(p, "%s", repeat);
    sprintf(p, "%s\n", tail);
    return t;
}

/* deep conditions overflowed the stack in rules check and scan */
static void test_deep_condition_stack_overflow(void)
{
    char *t = rule_with_condition("", "not ", 100000, "s");
    expect_unsupported(t, "nested deeper than 64", SIGMA_UNSUPPORTED);
    free(t);
    t = rule_with_condition("", "(", 100000, "s");
    expect_unsupported(t, "nested deeper than 64", SIGMA_UNSUPPORTED);
    free(t);
    t = rule_with_condition("s", " or s", 20000, "");
    expect_unsupported(t, "more than 10000 terms", SIGMA_UNSUPPORTED);
    free(t);
    /* a flat chain of 10,000 terms loads and evaluates without recursing */
    t = rule_with_condition("s", " and s", 9999, "");
    sigma_set *s = sigma_set_create();
    CHECK(sigma_load_text(s, "t", t, strlen(t), NULL, NULL) == 1);
    parse_ctx *pc = parse_create();
    char err[128];
    size_t off;
    const char *ev = "{\"eventName\":\"x\"}";
    CHECK(parse_record(pc, ev, strlen(ev), PARSE_KIND_EVENT, err, sizeof err, &off) == 0 &&
          sigma_rule_matches(sigma_at(s, 0), pc));
    parse_free(pc);
    sigma_set_free(s);
    free(t);
}

/* a 2 KB file of YAML aliases expanding to 40 million values took 2.25 GB */
static void test_alias_bomb(void)
{
    char text[4096], *p = text;
    p += sprintf(p, "title: bomb\nid: bomb\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  _v: &v [v0");
    for (int i = 1; i < 100; i++)
        p += sprintf(p, ", v%d", i);
    p += sprintf(p, "]\n  _g: &g {f: *v");
    for (int i = 1; i < 100; i++)
        p += sprintf(p, ", f: *v");
    p += sprintf(p, "}\n  _l: &l [*g");
    for (int i = 1; i < 100; i++)
        p += sprintf(p, ", *g");
    p += sprintf(p, "]\n");
    for (int i = 0; i < 40; i++)
        p += sprintf(p, "  s%d: *l\n", i);
    sprintf(p, "  condition: 1 of s*\n");
    expect_unsupported(text, "too big", SIGMA_UNSUPPORTED);
}

static void test_header(void)
{
    const char *text = "title: Something\nid: 0d3bbd4c-1111-2222-3333-444455556666\nlevel: critical\n"
                       "tags:\n  - attack.t1098\n  - Orgtrail.Denied\nstatus: stable\ndescription: d\n"
                       "references: [x]\nfalsepositives: [y]\n"
                       "logsource:\n  product: aws\n  service: cloudtrail\n"
                       "detection:\n  sel:\n    eventName: x1234\n  condition: sel\n";
    sigma_set *s = sigma_set_create();
    CHECK(sigma_load_text(s, "t", text, strlen(text), NULL, NULL) == 1);
    const sigma_rule *r = sigma_at(s, 0);
    CHECK(strcmp(sigma_rule_id(r), "0d3bbd4c-1111-2222-3333-444455556666") == 0);
    CHECK(strcmp(sigma_rule_title(r), "Something") == 0);
    CHECK(sigma_rule_level(r) == 4);
    CHECK(sigma_rule_has_tag(r, "orgtrail.denied"));
    CHECK(!sigma_rule_has_tag(r, "attack.t1"));
    sigma_set_free(s);
}

int main(void)
{
    test_maps_lists_paths();
    test_case_and_wildcards();
    test_modifiers();
    test_null();
    test_conditions();
    test_keywords();
    test_needles();
    test_regex_literals();
    test_index();
    test_compiled_matchers_every_position();
    test_important_change_anchors_on_event_names();
    test_assumed_role_regex_anchored();
    test_unsupported();
    test_header();
    test_re_was_posix_not_pcre();
    test_needle_longer_than_prefilter();
    test_deep_condition_stack_overflow();
    test_alias_bomb();
    return check_summary();
}
