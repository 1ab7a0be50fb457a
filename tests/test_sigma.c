/* sigma: every supported feature against events that must and must not
 * match, the needles derived from rules, and the rules that must be
 * reported unsupported (with their reason). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "parse.h"
#include "sigma.h"
#include "util.h"


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
    /* a leading ^ starts the value: the literal gains the opening quote, as startswith (not with |m, where
     * ^ also matches after a newline, nor where a boolean or number's text could match) */
    RE("^evil\\.example\\.com$", "\"evil.example.com");
    RE("^organizations\\.([a-z0-9-]+\\.)?amazonaws\\.com$", "\"organizations.");
    NEEDLES("  sel:\n    userAgent|re|m: '^evil\\.example'\n  condition: sel", "evil.example");
    RE("^a*bcdef", "bcdef");
    RE("^(x)bcdef", "bcdef");
    RE("^false", "false");
    RE("x^abcde", "abcde");
    RE("[a-z]+hello", "hello");
    RE("(foo|bar)bazqux", "bazqux");
    RE("(?:x)?abcdefg(?=h)", "abcdefg");
    /* an optional or repeated byte ends the run it would be in */
    RE("abcdx?efgh", "abcd");
    RE("abc+defg", "defg");
    RE("wxyzq{0,3}rstu", "wxyz");
    RE("wxyzq{2}rstu", "wxyzq");
    RE("abcd{x}efg", "abcd{x}efg");       /* not a quantifier: PCRE2 reads the braces as bytes */
    /* PCRE2 10.43 reads spaces in braces as a quantifier, 10.42 as bytes: the byte before may be optional */
    RE("abcd{1, 3}efgh", "efgh");
    RE("wxyz{ 2}abcd", "abcd");
    RE("{ 2}abcd", "");
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
        /* neither eventName nor eventSource: another field's plain values, the field needing fewest */
        { "  a:\n    userIdentity.type: Root\n  b:\n    eventType: AwsServiceEvent\n  condition: a and not b",
          "userIdentity.type", "Root" },
        { "  a:\n    userIdentity.type: [AssumedRole, Root]\n    userIdentity.sessionContext.sessionIssuer.type: Role\n"
          "  condition: a", "userIdentity.sessionContext.sessionIssuer.type", "Role" },
        { "  a:\n    userAgent: [x, y]\n    errorCode: z\n  condition: a", "errorCode", "z" },
        { "  a:\n    userAgent: x\n  b:\n    userAgent: [y, X]\n  condition: a or b", "userAgent", "x|y" },
        { "  a:\n    userAgent: x\n  b:\n    errorCode: y\n  condition: a or b", NULL, "" },
        { "  a:\n    userAgent|contains: kali\n  condition: a", NULL, "" },
        { "  a:\n    userAgent|re: '^kali$'\n  condition: a", NULL, "" },
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
                    int got = matches(s, ev);
                    if (got != want && failed < 5)
                        fprintf(stderr, "  %s on '%s': got %d\n", rules[r].det, ua, got);
                    CHECK(got == want);
                }
        sigma_set_free(s);
    }
}

/* A regex runs only where a run of bytes every match holds is (looked for
 * ignoring case): that literal there but no match, the literal in another
 * case, caseless patterns (whose runs the Kelvin sign and the long s
 * break: PCRE2 folds them with k and s), alternations without a literal. */
static void test_regex_required_literal(void)
{
#define UA(ua) "{\"userAgent\":\"" ua "\",\"n\":42,\"errorCode\":null}"
    const char *imds = "  sel:\n    userAgent|re: '.+:assumed-role/aws:.+'\n  condition: sel";
    CHECK_RULE(imds, UA("arn:aws:sts::1:assumed-role/aws:ec2/i-1"), 1);
    CHECK_RULE(imds, UA(":assumed-role/aws:"), 0);                  /* the literal, not a match */
    CHECK_RULE(imds, UA("x:assumed-role/aws:"), 0);
    CHECK_RULE(imds, UA("x:ASSUMED-ROLE/AWS:y"), 0);                /* case-sensitive: PCRE2 says no */
    CHECK_RULE(imds, UA("x:assumed-role/awz:y"), 0);
    CHECK_RULE("  sel:\n    userAgent|re|i: 'evilcorp'\n  condition: sel", UA("x EVILCORP y"), 1);
    CHECK_RULE("  sel:\n    userAgent|re: '(?i)evilcorp'\n  condition: sel", UA("x eViLcOrP y"), 1);
    CHECK_RULE("  sel:\n    userAgent|re: 'EvilCorp'\n  condition: sel", UA("x evilcorp y"), 0);
    CHECK_RULE("  sel:\n    userAgent|re: 'EvilCorp'\n  condition: sel", UA("EvilCorp"), 1);
    CHECK_RULE("  sel:\n    userAgent|re|i: 'kelvin'\n  condition: sel", UA("\\u212aelvin"), 1);
    CHECK_RULE("  sel:\n    userAgent|re|i: 'password'\n  condition: sel", UA("pa\\u017f\\u017fword"), 1);
    CHECK_RULE("  sel:\n    userAgent|re: '(?i)kelvin'\n  condition: sel", UA("\\u212aELVIN"), 1);
    CHECK_RULE("  sel:\n    userAgent|re: 'sqlmap|nikto'\n  condition: sel", UA("Nikto nikto/2"), 1);
    CHECK_RULE("  sel:\n    userAgent|re: 'sqlmap|nikto'\n  condition: sel", UA("Nikto"), 0);
    CHECK_RULE("  sel:\n    userAgent|re: '(kali|parrot)linux'\n  condition: sel", UA("parrotlinux"), 1);
    CHECK_RULE("  sel:\n    userAgent|re: '(kali|parrot)linux'\n  condition: sel", UA("parrot linux"), 0);
    /* a leading ^: the literal is looked for anywhere, the regex anchors */
    CHECK_RULE("  sel:\n    userAgent|re: '^evil\\.example'\n  condition: sel", UA("not evil.example"), 0);
    CHECK_RULE("  sel:\n    userAgent|re|m: '^evil\\.example'\n  condition: sel", UA("x\\nevil.example"), 1);
    /* a number's text; any value of a list */
    CHECK_RULE("  sel:\n    n|re: '^42$'\n  condition: sel", UA("x"), 1);
    CHECK_RULE("  sel:\n    n|re: '^4$'\n  condition: sel", UA("4"), 0);
    CHECK_RULE("  sel:\n    userAgent|re:\n      - 'nomatch-here'\n      - 'Python'\n  condition: sel",
               UA("aws-cli/2.0 Python"), 1);
    /* null and absent fields match no regex */
    CHECK_RULE("  sel:\n    errorCode|re: 'null'\n  condition: sel", UA("x"), 0);
    CHECK_RULE("  sel:\n    missing|re: '.*'\n  condition: sel", UA("x"), 0);
    /* the regex, cheap now, runs before the not: the same answer */
    CHECK_RULE("  sel:\n    userAgent|re: 'aws-cli'\n  f:\n    n: 42\n  condition: sel and not f", UA("aws-cli"), 0);
    CHECK_RULE("  sel:\n    userAgent|re: 'aws-cli'\n  f:\n    n: 41\n  condition: sel and not f", UA("aws-cli"), 1);
#undef UA
}

/* The reference: does s hold lit, ignoring ASCII case? */
static int naive_folded_contains(const char *s, const char *lit)
{
    size_t n = strlen(lit), sn = strlen(s);
    for (size_t i = 0; i + n <= sn; i++) {
        size_t k = 0;
        while (k < n && ((s[i + k] >= 'A' && s[i + k] <= 'Z' ? s[i + k] + 32 : s[i + k]) ==
                         (lit[k] >= 'A' && lit[k] <= 'Z' ? lit[k] + 32 : lit[k])))
            k++;
        if (k == n)
            return 1;
    }
    return 0;
}

/* The folded compares take eight bytes a step and contains looks for a
 * literal's first and last byte 16 places a step: literals of 1 to 20
 * bytes at every place of values up to 70 bytes, in the other case, and
 * with a byte (first, middle, last) changed to the one 0x20 away that is
 * not its other case ('@' and '`', '[' and '{'), or to another letter. */
static void test_folded_compares_every_place(void)
{
    static const char alphabet[] = "K@a[Z`q{9/mT";
    static const size_t lens[] = { 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 20 };
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t n = lens[li];
        char lit[32];
        for (size_t k = 0; k < n; k++)
            lit[k] = alphabet[(k * 5 + li) % (sizeof alphabet - 1)];
        lit[n] = '\0';
        for (int exact = 0; exact < 2; exact++) {
            char det[128];
            snprintf(det, sizeof det, "  sel:\n    userAgent%s: '%s'\n  condition: sel", exact ? "" : "|contains", lit);
            sigma_set *s = load(det);
            CHECK(sigma_count(s) == 1);
            for (size_t len = n; len <= 70 && sigma_count(s) == 1; len++)
                for (size_t at = 0; at + n <= len; at++)
                    for (int change = 0; change < 5; change++) {
                        char ua[80], ev[160];
                        memset(ua, '.', len);
                        memcpy(ua + at, lit, n);
                        ua[len] = '\0';
                        size_t where = change == 1 ? 0 : change == 2 ? n / 2 : n - 1;
                        char *c = &ua[at + where];
                        if (change == 4) {
                            for (size_t k = 0; k < n; k++)   /* the other case */
                                if ((ua[at + k] | 0x20) >= 'a' && (ua[at + k] | 0x20) <= 'z')
                                    ua[at + k] ^= 0x20;
                        } else if (change && (*c | 0x20) >= 'a' && (*c | 0x20) <= 'z') {
                            *c = (char)((*c | 0x20) == 'z' ? *c - 1 : *c + 1);
                        } else if (change) {
                            *c ^= 0x20;            /* '@' <-> '`', '[' <-> '{', '9' <-> 0x19 */
                            if ((unsigned char)*c < 0x20)
                                *c = '?';
                        }
                        int want = exact ? len == n && naive_folded_contains(ua, lit) : naive_folded_contains(ua, lit);
                        snprintf(ev, sizeof ev, "{\"userAgent\":\"%s\"}", ua);
                        int got = matches(s, ev);
                        if (got != want && failed < 5)
                            fprintf(stderr, "  %s on '%s': got %d\n", det, ua, got);
                        CHECK(got == want);
                    }
            sigma_set_free(s);
        }
    }
}

/* Dotted paths: the first of repeated keys counts at every level; a
 * missing parent, or one that is not an object, is an absent field; an
 * event of more members than the top-level index holds is looked up by
 * scanning, with the same answers. */
static void test_nested_paths(void)
{
    const char *root = "  sel:\n    userIdentity.type: Root\n  condition: sel";
    const char *deep = "  sel:\n    userIdentity.sessionContext.sessionIssuer.type: Role\n  condition: sel";
    const char *absent = "  sel:\n    userIdentity.type: null\n  condition: sel";
    CHECK_RULE(root, "{\"userIdentity\":{\"type\":\"IAMUser\",\"type\":\"Root\"}}", 0);
    CHECK_RULE(root, "{\"userIdentity\":{\"type\":\"Root\",\"type\":\"IAMUser\"}}", 1);
    CHECK_RULE(root, "{\"userIdentity\":{\"type\":\"Root\"},\"userIdentity\":{\"type\":\"IAMUser\"}}", 1);
    CHECK_RULE(root, "{\"userIdentity\":{\"type\":\"IAMUser\"},\"userIdentity\":{\"type\":\"Root\"}}", 0);
    CHECK_RULE(root, "{\"userIdentity\":{\"arn\":\"x\"},\"type\":\"Root\"}", 0);
    CHECK_RULE(root, "{\"eventName\":\"x\"}", 0);
    CHECK_RULE(root, "{\"userIdentity\":\"Root\"}", 0);
    CHECK_RULE(root, "{\"userIdentity\":[{\"type\":\"Root\"}]}", 0);
    CHECK_RULE(root, "{\"userIdentity\":null}", 0);
    CHECK_RULE(root, "{\"userIdentity.type\":\"Root\"}", 0);      /* a dotted key is not a path */
    CHECK_RULE(absent, "{\"userIdentity\":\"Root\"}", 1);
    CHECK_RULE(absent, "{\"userIdentity\":{\"type\":\"Root\"}}", 0);
    CHECK_RULE(deep, "{\"userIdentity\":{\"sessionContext\":{\"sessionIssuer\":{\"type\":\"role\"}}}}", 1);
    CHECK_RULE(deep, "{\"userIdentity\":{\"sessionContext\":{\"sessionIssuer\":{\"type\":\"Role\"},"
                     "\"sessionIssuer\":{\"type\":\"User\"}}}}", 1);
    CHECK_RULE(deep, "{\"userIdentity\":{\"sessionContext\":{\"sessionIssuer\":null}}}", 0);
    CHECK_RULE(deep, "{\"userIdentity\":{\"sessionContext\":{\"sessionIssuer\":\"Role\"}}}", 0);
    CHECK_RULE(deep, "{\"userIdentity\":{\"sessionContext\":{}},\"type\":\"Role\"}", 0);
    /* 80 members, userIdentity twice among them */
    char ev[2048] = "{";
    for (int i = 0; i < 80; i++) {
        if (i == 70)
            strcat(ev, "\"userIdentity\":{\"type\":\"Root\"},");
        snprintf(ev + strlen(ev), sizeof ev - strlen(ev), "\"k%d\":%d,", i, i);
    }
    strcat(ev, "\"userIdentity\":{\"type\":\"IAMUser\"}}");
    CHECK_RULE(root, ev, 1);
    CHECK_RULE("  sel:\n    k79: 79\n    k0: 0\n  condition: sel", ev, 1);
}

/* sigma.c; sigma.h does not declare it yet (see rules.c). */
size_t sigma_rule_twin(const sigma_rule *r);

/* Whether the second of two rules is the first's twin (its detection the
 * same: the same matches, so a record's evaluation reuses the answer). */
static int twins(const char *det_a, const char *det_b)
{
    char text[4096];
    snprintf(text, sizeof text,
             "title: a\nid: a\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n%s\n---\n"
             "title: b\nid: b\nlevel: low\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n%s\n",
             det_a, det_b);
    sigma_set *s = sigma_set_create();
    sigma_load_text(s, "test", text, strlen(text), NULL, NULL);
    int got = sigma_count(s) == 2 ? sigma_rule_twin(sigma_at(s, 1)) == 0 : -1;
    CHECK(sigma_count(s) < 2 || sigma_rule_twin(sigma_at(s, 0)) == (size_t)-1);
    sigma_set_free(s);
    return got;
}

static void test_twins(void)
{
    const char *imds = "  selection:\n    userIdentity.arn|re: '.+:assumed-role/aws:.+'\n  filter:\n"
                       "    - eventSource: ssm.amazonaws.com\n    - sourceIPAddress: AWS Internal\n"
                       "  condition: selection and not 1 of filter*";
    CHECK(twins(imds, imds) == 1);
    CHECK(twins("  sel:\n    eventName: A\n  condition: sel", "  sel:\n    eventName: A\n  condition: sel") == 1);
    /* another name for a selection is the same detection */
    CHECK(twins("  sel:\n    eventName: A\n  condition: sel", "  other:\n    eventName: A\n  condition: other") == 1);
    /* a value, its case, a modifier, the regex flags, a null, the condition: not twins */
    CHECK(twins("  sel:\n    eventName: A\n  condition: sel", "  sel:\n    eventName: B\n  condition: sel") == 0);
    CHECK(twins("  sel:\n    eventName: abc\n  condition: sel", "  sel:\n    eventName: abd\n  condition: sel") == 0);
    CHECK(twins("  sel:\n    eventName: A\n  condition: sel", "  sel:\n    eventName|contains: A\n  condition: sel") == 0);
    CHECK(twins("  sel:\n    eventName: A\n  condition: sel", "  sel:\n    eventSource: A\n  condition: sel") == 0);
    CHECK(twins("  sel:\n    userAgent|re: 'ab+'\n  condition: sel", "  sel:\n    userAgent|re|i: 'ab+'\n  condition: sel") == 0);
    CHECK(twins("  sel:\n    userAgent|re: 'ab+'\n  condition: sel", "  sel:\n    userAgent|re|s: 'ab+'\n  condition: sel") == 0);
    CHECK(twins("  sel:\n    userAgent|re: 'ab+'\n  condition: sel", "  sel:\n    userAgent|re: 'ab*'\n  condition: sel") == 0);
    CHECK(twins("  sel:\n    errorCode: null\n  condition: sel", "  sel:\n    errorCode: 'null'\n  condition: sel") == 0);
    CHECK(twins("  sel:\n    errorCode|exists: true\n  condition: sel", "  sel:\n    errorCode|exists: false\n  condition: sel") == 0);
    CHECK(twins("  sel:\n    a|cidr: 10.0.0.0/8\n  condition: sel", "  sel:\n    a|cidr: 10.0.0.0/16\n  condition: sel") == 0);
    CHECK(twins("  sel:\n    a|fieldref: b\n  condition: sel", "  sel:\n    a|fieldref: c\n  condition: sel") == 0);
    CHECK(twins("  sel:\n    a|fieldref: b\n  condition: sel", "  sel:\n    a|fieldref|contains: b\n  condition: sel") == 0);
    CHECK(twins("  sel:\n    a: [x, y]\n  condition: sel", "  sel:\n    a|all: [x, y]\n  condition: sel") == 0);
    CHECK(twins("  a:\n    x: 1\n  b:\n    y: 2\n  condition: a and b", "  a:\n    x: 1\n  b:\n    y: 2\n  condition: a or b") == 0);
    CHECK(twins("  a:\n    x: 1\n  b:\n    y: 2\n  condition: a and b", "  a:\n    x: 1\n  b:\n    y: 2\n  condition: a and not b") == 0);
    CHECK(twins("  a:\n    x: 1\n  b:\n    y: 2\n  condition: a and not b", "  a:\n    x: 1\n  b:\n    y: 2\n  condition: b and not a") == 0);
    CHECK(twins("  a:\n    - x: 1\n    - y: 2\n  condition: a", "  a:\n    x: 1\n    y: 2\n  condition: a") == 0);
    CHECK(twins("  k:\n    - mimikatz\n  condition: k", "  k:\n    - mimikatx\n  condition: k") == 0);
    CHECK(twins(imds, "  selection:\n    userIdentity.arn|re: '.+:assumed-role/aws:.+'\n  filter:\n"
                      "    - eventSource: ssm.amazonaws.com\n    - sourceIPAddress: AWS Internal\n"
                      "  condition: selection") == 0);
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
/* A rule of ~2 KB (text holds 4 KB) whose aliases expand to 40 million values.
 * Returns its length. */
static size_t alias_bomb_text(char *text)
{
    char *p = text;
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
    p += sprintf(p, "  condition: 1 of s*\n");
    return (size_t)(p - text);
}

static void test_alias_bomb(void)
{
    char text[4096];
    alias_bomb_text(text);
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

/* ---- fieldref ---- */

static void test_fieldref(void)
{
    const char *same = "{\"eventName\":\"UpdateLoginProfile\",\"userIdentity\":{\"arn\":\"Alice\"},"
                       "\"requestParameters\":{\"userName\":\"alice\"},\"n\":42,\"m\":42,\"z\":null}";
    const char *other = "{\"eventName\":\"UpdateLoginProfile\",\"userIdentity\":{\"arn\":\"arn:aws:iam::1:user/alice\"},"
                        "\"requestParameters\":{\"userName\":\"bob\"}}";
    const char *suffix = "{\"userIdentity\":{\"arn\":\"arn:aws:iam::1:user/ALICE\"},"
                         "\"requestParameters\":{\"userName\":\"alice\"}}";
    const char *missing = "{\"userIdentity\":{\"arn\":\"alice\"}}";
    const char *det = "  sel:\n    userIdentity.arn|fieldref: requestParameters.userName\n  condition: sel";
    /* equal, ignoring case, as Sigma compares values */
    CHECK_RULE(det, same, 1);
    CHECK_RULE(det, other, 0);
    CHECK_RULE(det, suffix, 0);
    /* the other field, or this one, missing or null: no match */
    CHECK_RULE(det, missing, 0);
    CHECK_RULE("  sel:\n    nothing|fieldref: requestParameters.userName\n  condition: sel", same, 0);
    CHECK_RULE("  sel:\n    userIdentity.arn|fieldref: z\n  condition: sel", same, 0);
    CHECK_RULE("  sel:\n    z|fieldref: z\n  condition: sel", same, 0);
    /* numbers compare as their text */
    CHECK_RULE("  sel:\n    n|fieldref: m\n  condition: sel", same, 1);
    /* with endswith, startswith, contains */
    CHECK_RULE("  sel:\n    userIdentity.arn|fieldref|endswith: requestParameters.userName\n  condition: sel", suffix, 1);
    CHECK_RULE("  sel:\n    userIdentity.arn|fieldref|endswith: requestParameters.userName\n  condition: sel", other, 0);
    CHECK_RULE("  sel:\n    userIdentity.arn|fieldref|startswith: requestParameters.userName\n  condition: sel", suffix, 0);
    CHECK_RULE("  sel:\n    userIdentity.arn|startswith|fieldref: requestParameters.userName\n  condition: sel", same, 1);
    CHECK_RULE("  sel:\n    userIdentity.arn|fieldref|contains: requestParameters.userName\n  condition: sel", suffix, 1);
    CHECK_RULE("  sel:\n    userIdentity.arn|contains|fieldref: requestParameters.userName\n  condition: sel", other, 0);
    /* a list: any of the fields; with all: every one */
    CHECK_RULE("  sel:\n    userIdentity.arn|fieldref: [nothing, requestParameters.userName]\n  condition: sel", same, 1);
    CHECK_RULE("  sel:\n    userIdentity.arn|fieldref|all: [nothing, requestParameters.userName]\n  condition: sel",
               same, 0);
    /* as SigmaHQ's "AWS User Login Profile Was Modified" uses it: not when a user changes its own */
    const char *rule = "  selection:\n    eventName: UpdateLoginProfile\n  filter_main_user_identity:\n"
                       "    userIdentity.arn|fieldref: requestParameters.userName\n"
                       "  condition: selection and not 1 of filter_main_*";
    CHECK_RULE(rule, other, 1);
    CHECK_RULE(rule, same, 0);
    /* the other field is interned: one pointer for every rule's lookups */
    sigma_set *s = load("  sel:\n    requestParameters.userName|fieldref: eventName\n  condition: sel");
    CHECK(sigma_count(s) == 1);
    sigma_set_free(s);
    /* no literal to anchor on: a fieldref alone is unanchored */
    s = load(det);
    CHECK(sigma_count(s) == 1 && sigma_rule_needles(sigma_at(s, 0))[0] == NULL);
    sigma_set_free(s);
    const char *head = "title: t\nlogsource:\n  product: aws\n  service: cloudtrail\n";
    char text[1024];
    snprintf(text, sizeof text, "%sdetection:\n  sel:\n    a|fieldref|re: b\n  condition: sel\n", head);
    expect_unsupported(text, "fieldref on 'a' combines only with contains, startswith, endswith and all",
                       SIGMA_UNSUPPORTED);
    snprintf(text, sizeof text, "%sdetection:\n  sel:\n    a|fieldref: null\n  condition: sel\n", head);
    expect_unsupported(text, "fieldref on 'a' wants field names", SIGMA_UNSUPPORTED);
}

/* ---- correlations ---- */

static char corr_log[4096];   /* every report of the last corr_load: "name status reason\n" */

static void log_report(void *arg, const char *source, const char *name, sigma_status st, const char *reason)
{
    (void)arg;
    (void)source;
    static const char *const names[] = { "loaded", "skipped", "unsupported", "bad" };
    size_t n = strlen(corr_log);
    snprintf(corr_log + n, sizeof corr_log - n, "%s %s %s\n", name ? name : "-", names[st], reason);
}

#define CORR_HEAD "logsource:\n  product: aws\n  service: cloudtrail\n"

/* Base rules b1 (name: base_one, title "Base One") and b2 (base_two, "Base Two"). */
static const char *corr_bases =
    "title: Base One\nid: b1\nname: base_one\n" CORR_HEAD "detection:\n  s:\n    eventName: One\n  condition: s\n"
    "---\n"
    "title: Base Two\nid: b2\nname: base_two\n" CORR_HEAD "detection:\n  s:\n    eventName: Two\n  condition: s\n";

/* Loads sources (pairs of name, text; NULL-ended) and links them. */
static sigma_set *corr_load(const char *const *sources, int *kept)
{
    sigma_set *s = sigma_set_create();
    corr_log[0] = '\0';
    for (size_t i = 0; sources[i]; i += 2)
        sigma_load_text(s, sources[i], sources[i + 1], strlen(sources[i + 1]), log_report, NULL);
    *kept = sigma_set_link(s, log_report, NULL);
    return s;
}

/* A correlation (its `correlation:` body) after the base rules, in one file. */
static sigma_set *corr_one(const char *body, int *kept)
{
    static char text[8192];
    snprintf(text, sizeof text, "%s---\ntitle: C\nid: c1\nlevel: critical\ncorrelation:\n%s", corr_bases, body);
    const char *src[] = { "one.yml", text, NULL };
    return corr_load(src, kept);
}

static void expect_corr_unsupported(const char *body, const char *reason_part)
{
    int kept;
    sigma_set *s = corr_one(body, &kept);
    int ok = kept == 0 && sigma_correlation_count(s) == 0 && strstr(corr_log, "c1 unsupported ") &&
             strstr(corr_log, reason_part);
    if (!ok)
        fprintf(stderr, "  body:\n%s  want '%s', got:\n%s", body, reason_part, corr_log);
    CHECK(ok);
    /* a dropped correlation leaves its base rules making findings, as before */
    CHECK(sigma_count(s) == 2 && sigma_rule_generates(sigma_at(s, 0)) && sigma_rule_generates(sigma_at(s, 1)));
    sigma_set_free(s);
}

static void test_correlation_types(void)
{
    int kept;
    sigma_set *s = corr_one("  type: event_count\n  rules: [b1]\n  group-by: [sourceIPAddress, eventName]\n"
                            "  timespan: 5m\n  condition:\n    gte: 10\n    lt: 20\n", &kept);
    CHECK(kept == 1 && sigma_correlation_count(s) == 1 && strstr(corr_log, "c1 loaded"));
    const sigma_correlation *c = sigma_correlation_at(s, 0);
    CHECK(c && c->type == SIGMA_CORR_EVENT_COUNT && strcmp(c->id, "c1") == 0 && strcmp(c->title, "C") == 0);
    CHECK(c && c->level == 4 && c->nrules == 1 && c->rules[0] == sigma_at(s, 0) && c->timespan_ms == 300000);
    CHECK(c && c->ngroup == 2 && strcmp(c->group_by[0], "sourceIPAddress") == 0 &&
          strcmp(c->group_by[1], "eventName") == 0);
    /* interned: the very pointer the rules' own lookups (and the index) use */
    const char *const *vals;
    CHECK(c && c->group_fields[1] == sigma_rule_index(sigma_at(s, 0), &vals));
    CHECK(c && strcmp(c->group_fields[0], "sourceIPAddress") == 0);
    CHECK(c && c->nconds == 2 && c->conds[0].op == SIGMA_CMP_GTE && c->conds[0].value == 10 &&
          c->conds[1].op == SIGMA_CMP_LT && c->conds[1].value == 20);
    CHECK(c && !c->generate && c->value_fields == NULL && strcmp(c->source, "one.yml") == 0);
    sigma_set_free(s);

    s = corr_one("  type: value_count\n  rules: [b1, b2]\n  group-by: userIdentity.arn\n  timespan: 1h\n"
                 "  condition:\n    field: eventName\n    gt: 2\n    eq: 3\n    lte: 3\n", &kept);
    c = sigma_correlation_at(s, 0);
    CHECK(kept == 1 && c && c->type == SIGMA_CORR_VALUE_COUNT && c->nrules == 2 && c->ngroup == 1);
    CHECK(c && c->rules[0] == sigma_at(s, 0) && c->rules[1] == sigma_at(s, 1));
    CHECK(c && c->value_fields && c->value_fields[0] == c->value_fields[1] &&
          c->value_fields[0] == sigma_rule_index(sigma_at(s, 1), &vals));
    CHECK(c && c->group_fields[0] == c->group_fields[1] && strcmp(c->group_fields[0], "userIdentity.arn") == 0);
    CHECK(c && c->nconds == 3 && c->conds[1].op == SIGMA_CMP_EQ && c->conds[2].op == SIGMA_CMP_LTE);
    sigma_set_free(s);

    s = corr_one("  type: temporal\n  rules: [b1, b2]\n  group-by: [eventSource]\n  timespan: 30s\n", &kept);
    c = sigma_correlation_at(s, 0);
    CHECK(kept == 1 && c && c->type == SIGMA_CORR_TEMPORAL && c->nconds == 0 && c->timespan_ms == 30000);
    sigma_set_free(s);

    /* temporal types: a condition meaning "all N rules" is accepted and dropped */
    s = corr_one("  type: temporal_ordered\n  rules: [b1, b2]\n  timespan: 2d\n  condition:\n    gte: 2\n", &kept);
    c = sigma_correlation_at(s, 0);
    CHECK(kept == 1 && c && c->type == SIGMA_CORR_TEMPORAL_ORDERED && c->nconds == 0 && c->ngroup == 0 &&
          c->timespan_ms == 2LL * 86400000);
    sigma_set_free(s);
    expect_corr_unsupported("  type: temporal\n  rules: [b1, b2]\n  timespan: 2d\n  condition:\n    gte: 1\n",
                            "temporal with a condition other than all 2 of its rules");
}

static void test_correlation_timespan(void)
{
    static const struct {
        const char *span;
        int64_t ms;
    } ok[] = { { "1s", 1000 }, { "90m", 5400000 }, { "24h", 86400000 }, { "36500d", 36500LL * 86400000 } };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "  type: temporal\n  rules: [b1]\n  timespan: %s\n", ok[i].span);
        int kept;
        sigma_set *s = corr_one(body, &kept);
        CHECK(kept == 1 && sigma_correlation_at(s, 0)->timespan_ms == ok[i].ms);
        sigma_set_free(s);
    }
    static const char *const bad[][2] = {
        { "0m", "timespan '0m' is zero" },
        { "5w", "the unit must be s, m, h or d" },
        { "5M", "the unit must be s, m, h or d" },
        { "1.5h", "is not a number and a unit" },
        { "m", "is not a number and a unit" },
        { "-5m", "is not a number and a unit" },
        { "'5 m'", "is not a number and a unit" },
        { "36501d", "longer than 100 years" },
        { "99999999999999999999999s", "longer than 100 years" },
        { "[5m]", "no timespan" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "  type: temporal\n  rules: [b1]\n  timespan: %s\n", bad[i][0]);
        expect_corr_unsupported(body, bad[i][1]);
    }
}

static void test_correlation_errors(void)
{
    static const char *const cases[][2] = {
        { "  type: sum\n  rules: [b1]\n  timespan: 5m\n", "unknown type 'sum'" },
        { "  rules: [b1]\n  timespan: 5m\n", "no type" },
        { "  type: temporal\n  timespan: 5m\n", "no rules" },
        { "  type: temporal\n  rules: []\n  timespan: 5m\n", "rules is empty" },
        { "  type: temporal\n  rules: [[b1]]\n  timespan: 5m\n", "an entry of rules is not a string" },
        { "  type: temporal\n  rules: {b1: x}\n  timespan: 5m\n", "rules is a map" },
        { "  type: temporal\n  rules: [b1]\n", "no timespan" },
        { "  type: temporal\n  rules: [b1]\n  timespan: 5m\n  group_by: [x]\n", "unknown key 'group_by'" },
        { "  type: temporal\n  rules: [b1]\n  timespan: 5m\n  group-by: [x, x]\n", "group-by names 'x' twice" },
        { "  type: event_count\n  rules: [b1]\n  timespan: 5m\n", "event_count needs a condition" },
        { "  type: event_count\n  rules: [b1]\n  timespan: 5m\n  condition: 5\n", "condition is not a map" },
        { "  type: event_count\n  rules: [b1]\n  timespan: 5m\n  condition: {ge: 5}\n", "unknown condition 'ge'" },
        { "  type: event_count\n  rules: [b1]\n  timespan: 5m\n  condition: {gte: -1}\n",
          "gte wants a non-negative integer, not '-1'" },
        { "  type: event_count\n  rules: [b1]\n  timespan: 5m\n  condition: {gte: 2.5}\n", "not '2.5'" },
        { "  type: event_count\n  rules: [b1]\n  timespan: 5m\n  condition: {gte: 10000000000001}\n",
          "more than 10^12" },
        { "  type: event_count\n  rules: [b1]\n  timespan: 5m\n  condition: {gt: 1, gt: 2, gt: 3, gt: 4, gt: 5, gt: 6}\n",
          "more than 5 comparisons" },
        { "  type: value_count\n  rules: [b1]\n  timespan: 5m\n  condition: {field: x}\n", "has no comparison" },
        { "  type: event_count\n  rules: [b1]\n  timespan: 5m\n  condition: {gte: 1, field: x}\n",
          "condition.field is only for value_count" },
        { "  type: value_count\n  rules: [b1]\n  timespan: 5m\n  condition: {gte: 1}\n",
          "value_count needs condition.field" },
        { "  type: temporal\n  rules: [b1]\n  timespan: 5m\n  condition: {field: x}\n", "only for value_count" },
        { "  type: temporal\n  rules: [b1]\n  timespan: 5m\n  generate: maybe\n", "generate is not true or false" },
        { "  type: temporal\n  rules: [b1]\n  timespan: 5m\n  aliases: [x]\n", "aliases is not a map" },
        { "  type: temporal\n  rules: [b1]\n  timespan: 5m\n  aliases: {a: x}\n", "aliases is not a map" },
        { "  type: temporal\n  rules: [b1]\n  timespan: 5m\n  aliases: {a: {b1: [x]}}\n",
          "alias 'a' maps a rule to something that is not a field name" },
        /* references */
        { "  type: temporal\n  rules: [b1, nothing]\n  timespan: 5m\n",
          "rule reference 'nothing': no rule of the set has that id, name or title" },
        { "  type: temporal\n  rules: [b1, base_one]\n  timespan: 5m\n",
          "rule references 'b1' and 'base_one' name the same rule" },
        { "  type: temporal\n  rules: [b1, c1]\n  timespan: 5m\n",
          "rule reference 'c1' names a correlation: a correlation of correlations is not supported" },
        /* aliases */
        { "  type: temporal\n  rules: [b1, b2]\n  group-by: [who]\n  timespan: 5m\n  aliases:\n    who: {b1: x}\n",
          "alias 'who' names no field for rule 'b2'" },
        { "  type: temporal\n  rules: [b1]\n  group-by: [who]\n  timespan: 5m\n  aliases:\n    who: {b1: x, b2: y}\n",
          "alias 'who' names rule 'b2', which the correlation does not reference" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_corr_unsupported(cases[i][0], cases[i][1]);
    /* the document itself */
    static const char *const docs[][2] = {
        { "title: C\nid: c1\ncorrelation: {type: temporal, rules: [x], timespan: 1m}\n"
          "detection: {s: {a: b}, condition: s}\n",
          "c1 unsupported a document with both a correlation and a detection" },
        { "id: c1\ncorrelation: {type: temporal, rules: [x], timespan: 1m}\n", "c1 unsupported no title" },
        { "title: C\nid: c1\nlogsource: {product: windows}\ncorrelation: {type: temporal, rules: [x], timespan: 1m}\n",
          "c1 skipped logsource is not aws/cloudtrail" },
        { "title: C\nid: c1\nlevel: severe\ncorrelation: {type: temporal, rules: [x], timespan: 1m}\n",
          "c1 unsupported unknown level 'severe'" },
        { "title: C\nid: c1\ncorrelation: [x]\n", "c1 unsupported correlation is not a map" },
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        int kept;
        const char *src[] = { "f.yml", docs[i][0], NULL };
        sigma_set *s = corr_load(src, &kept);
        if (kept != 0 || !strstr(corr_log, docs[i][1]))
            fprintf(stderr, "  want '%s', got:\n%s", docs[i][1], corr_log);
        CHECK(kept == 0 && strstr(corr_log, docs[i][1]));
        sigma_set_free(s);
    }
}

/* Appends fmt (with %d: 0, 1, ...) n times at p; returns the new end. */
static char *append_each(char *p, const char *fmt, int n)
{
    for (int i = 0; i < n; i++)
        p += sprintf(p, fmt, i);
    return p;
}

/* Hostile files: references, group-by names and aliases are bounded. */
static void test_correlation_bounds(void)
{
    char body[16384];
    sprintf(append_each(body + sprintf(body, "  type: temporal\n  timespan: 5m\n  rules: [b1"), ", r%d", 64), "]\n");
    expect_corr_unsupported(body, "more than 64 rules");
    sprintf(append_each(body + sprintf(body, "  type: temporal\n  timespan: 5m\n  rules: [b1]\n  group-by: [g"),
                        ", g%d", 16), "]\n");
    expect_corr_unsupported(body, "more than 16 group-by names");
    append_each(body + sprintf(body, "  type: temporal\n  timespan: 5m\n  rules: [b1]\n  aliases:\n"),
                "    a%d: {b1: f}\n", 257);
    expect_corr_unsupported(body, "more than 256 alias entries");
}

static void test_correlation_references(void)
{
    /* by id, name and title, in one file */
    int kept;
    sigma_set *s = corr_one("  type: temporal\n  rules: [b1, base_two]\n  timespan: 5m\n", &kept);
    CHECK(kept == 1 && sigma_correlation_at(s, 0)->rules[1] == sigma_at(s, 1));
    sigma_set_free(s);
    s = corr_one("  type: temporal_ordered\n  rules: [Base Two, Base One]\n  timespan: 5m\n", &kept);
    CHECK(kept == 1 && sigma_correlation_at(s, 0)->rules[0] == sigma_at(s, 1) &&
          sigma_correlation_at(s, 0)->rules[1] == sigma_at(s, 0));
    sigma_set_free(s);

    /* another file of the set, loaded before or after the correlation */
    const char *corr = "title: C\nid: c1\ncorrelation:\n  type: temporal\n  rules: [base_one, Base Two]\n"
                       "  timespan: 5m\n";
    const char *after[] = { "c.yml", corr, "bases.yml", corr_bases, NULL };
    s = corr_load(after, &kept);
    CHECK(kept == 1 && sigma_correlation_at(s, 0)->rules[0] == sigma_at(s, 0) &&
          strcmp(sigma_correlation_at(s, 0)->source, "c.yml") == 0);
    sigma_set_free(s);

    /* the same title in two other files: ambiguous, both named */
    const char *twice[] = { "c.yml", corr, "a.yml", corr_bases, "b.yml", corr_bases, NULL };
    s = corr_load(twice, &kept);
    CHECK(kept == 0 && strstr(corr_log, "c1 unsupported rule reference 'base_one' is ambiguous: two rules have "
                                        "that name (in a.yml and b.yml)"));
    sigma_set_free(s);

    /* a file with a correlation and its bases, loaded twice: each copy uses its own file's */
    char file[4096];
    snprintf(file, sizeof file, "%s---\n%s", corr_bases, corr);
    const char *own[] = { "x.yml", file, "y.yml", file, NULL };
    s = corr_load(own, &kept);
    CHECK(kept == 2 && sigma_count(s) == 4 && sigma_correlation_at(s, 0)->rules[1] == sigma_at(s, 1) &&
          sigma_correlation_at(s, 1)->rules[1] == sigma_at(s, 3));
    sigma_set_free(s);

    /* a correlation is reported once, when it is linked */
    s = corr_one("  type: temporal\n  rules: [b1]\n  timespan: 5m\n", &kept);
    CHECK(strstr(corr_log, "c1 loaded") && !strstr(strstr(corr_log, "c1 loaded") + 1, "c1 "));
    sigma_set_free(s);
}

static void test_correlation_aliases(void)
{
    int kept;
    sigma_set *s = corr_one("  type: temporal_ordered\n  rules: [base_one, Base Two]\n  group-by: [account, eventSource]\n"
                            "  timespan: 30d\n  aliases:\n    account:\n"
                            "      base_one: serviceEventDetails.createAccountStatus.accountId\n"
                            "      b2: recipientAccountId\n", &kept);
    const sigma_correlation *c = sigma_correlation_at(s, 0);
    CHECK(kept == 1 && c && c->ngroup == 2);
    CHECK(c && strcmp(c->group_fields[0], "serviceEventDetails.createAccountStatus.accountId") == 0);
    CHECK(c && strcmp(c->group_fields[1], "eventSource") == 0);
    CHECK(c && strcmp(c->group_fields[2], "recipientAccountId") == 0);
    CHECK(c && c->group_fields[1] == c->group_fields[3]);
    CHECK(c && strcmp(c->group_by[0], "account") == 0);
    sigma_set_free(s);
    /* value_count's field through an alias */
    s = corr_one("  type: value_count\n  rules: [b1, b2]\n  timespan: 1m\n  condition: {gte: 2, field: who}\n"
                 "  aliases:\n    who: {b1: userIdentity.arn, b2: requestParameters.userName}\n", &kept);
    c = sigma_correlation_at(s, 0);
    CHECK(kept == 1 && c && strcmp(c->value_fields[0], "userIdentity.arn") == 0 &&
          strcmp(c->value_fields[1], "requestParameters.userName") == 0);
    sigma_set_free(s);
}

static void test_correlation_generate(void)
{
    int kept;
    /* generate false (the default): the base rules make no finding of their own */
    sigma_set *s = corr_one("  type: temporal\n  rules: [b1]\n  timespan: 5m\n", &kept);
    CHECK(kept == 1 && !sigma_rule_generates(sigma_at(s, 0)) && sigma_rule_generates(sigma_at(s, 1)));
    CHECK(!sigma_correlation_at(s, 0)->generate);
    sigma_set_free(s);
    s = corr_one("  type: temporal\n  rules: [b1, b2]\n  timespan: 5m\n  generate: true\n", &kept);
    CHECK(kept == 1 && sigma_correlation_at(s, 0)->generate && sigma_rule_generates(sigma_at(s, 0)) &&
          sigma_rule_generates(sigma_at(s, 1)));
    sigma_set_free(s);
    /* the spec's place for it: beside correlation */
    char text[4096];
    snprintf(text, sizeof text, "%s---\ntitle: C\nid: c1\ngenerate: true\ncorrelation:\n  type: temporal\n"
                                "  rules: [b1]\n  timespan: 5m\n", corr_bases);
    const char *src[] = { "f.yml", text, NULL };
    s = corr_load(src, &kept);
    CHECK(kept == 1 && sigma_rule_generates(sigma_at(s, 0)));
    sigma_set_free(s);
    /* two correlations on one rule: one with generate true is enough */
    snprintf(text, sizeof text, "%s---\ntitle: C\nid: c1\ncorrelation: {type: temporal, rules: [b1], timespan: 5m}\n"
                                "---\ntitle: D\nid: d1\ncorrelation: {type: temporal, rules: [b1, b2], timespan: 5m, "
                                "generate: true}\n", corr_bases);
    s = corr_load(src, &kept);
    CHECK(kept == 2 && sigma_rule_generates(sigma_at(s, 0)) && sigma_rule_generates(sigma_at(s, 1)));
    sigma_set_free(s);
    /* not linked yet: every rule generates, no correlation counts */
    s = sigma_set_create();
    snprintf(text, sizeof text, "%s---\ntitle: C\nid: c1\ncorrelation: {type: temporal, rules: [b1], timespan: 5m}\n",
             corr_bases);
    CHECK(sigma_load_text(s, "f.yml", text, strlen(text), NULL, NULL) == 2);
    CHECK(sigma_count(s) == 2 && sigma_correlation_count(s) == 0 && sigma_rule_generates(sigma_at(s, 0)));
    CHECK(sigma_set_link(s, NULL, NULL) == 1 && sigma_correlation_count(s) == 1 &&
          !sigma_rule_generates(sigma_at(s, 0)));
    sigma_set_free(s);
}

/* ---- loading a directory on several threads ---- */

static char load_root[256];

/* Writes load_root/rel (its folders made), len bytes of text. */
static void load_put(const char *rel, const char *text, size_t len)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", load_root, rel);
    for (char *q = p + strlen(load_root) + 1; (q = strchr(q, '/')) != NULL; q++) {
        *q = '\0';
        mkdir(p, 0755);
        *q = '/';
    }
    FILE *f = fopen(p, "w");
    CHECK(f && fwrite(text, 1, len, f) == len);
    if (f)
        fclose(f);
}

static void load_link(const char *target, const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", load_root, rel);
    CHECK(symlink(target, p) == 0);
}

/* A rule with id <id>, matching eventName <id>. */
static int load_rule_text(char *out, size_t cap, const char *id)
{
    return snprintf(out, cap,
                    "title: rule %s\nid: %s\nlogsource:\n  product: aws\n  service: cloudtrail\n"
                    "detection:\n  sel:\n    eventName: %s\n  condition: sel\n",
                    id, id, id);
}

/* Every report of a load, in order, and what the set holds after it. */
typedef struct {
    ot_buf log;
    int rc;
    size_t count;
    uint64_t hash;
    ot_buf ids;                 /* the rules' ids in set order */
} load_result;

static void load_log_report(void *arg, const char *source, const char *name, sigma_status st, const char *reason)
{
    buf_printf(&((load_result *)arg)->log, "%s | %s | %d | %s\n", source, name ? name : "-", (int)st,
               reason ? reason : "-");
}

/* What the set holds; the log made a string. */
static void load_result_end(load_result *r, const sigma_set *s)
{
    r->count = sigma_count(s);
    r->hash = sigma_sources_hash(s);
    for (size_t i = 0; i < sigma_count(s); i++)
        buf_printf(&r->ids, "%s\n", sigma_rule_id(sigma_at(s, i)));
    buf_append(&r->log, "", 1);
    r->log.len--;
}

static void load_with(load_result *r, const char *path, unsigned threads)
{
    memset(r, 0, sizeof *r);
    sigma_set *s = sigma_set_create();
    r->rc = sigma_load_path_threads(s, path, threads, load_log_report, r);
    load_result_end(r, s);
    sigma_set_free(s);
}

static void load_result_free(load_result *r)
{
    buf_free(&r->log);
    buf_free(&r->ids);
}

static int load_same(const load_result *a, const load_result *b)
{
    return a->rc == b->rc && a->count == b->count && a->hash == b->hash && a->log.len == b->log.len &&
           (!a->log.len || memcmp(a->log.data, b->log.data, a->log.len) == 0) && a->ids.len == b->ids.len &&
           (!a->ids.len || memcmp(a->ids.data, b->ids.data, a->ids.len) == 0);
}

/* Loads path with 1 thread (the serial load) and with 2, 3, 4 and 8: the
 * reports, rules, sources hash and result must be the same; *serial gets
 * the serial one. */
static void expect_load_same_for_any_threads(const char *path, load_result *serial)
{
    static const unsigned threads[] = { 2, 3, 4, 8, 0 };
    load_with(serial, path, 1);
    for (size_t i = 0; i < sizeof threads / sizeof *threads; i++) {
        for (int round = 0; round < 3; round++) {   /* other interleavings of the threads */
            load_result r;
            load_with(&r, path, threads[i]);
            int same = load_same(serial, &r);
            if (!same)
                fprintf(stderr, "  %u threads: rc %d (serial %d), %zu rules (serial %zu)\n--- serial:\n%.*s"
                                "--- threads:\n%.*s", threads[i], r.rc, serial->rc, r.count, serial->count,
                        (int)(serial->log.len < 2000 ? serial->log.len : 2000), serial->log.data,
                        (int)(r.log.len < 2000 ? r.log.len : 2000), r.log.data);
            CHECK(same);
            load_result_free(&r);
        }
    }
}

/* What sigma_load_text of each of the files, in this order, reports:
 * the serial load as it was, without the directory walk. */
static void load_texts(load_result *r, const char *const *rels, size_t n)
{
    memset(r, 0, sizeof *r);
    sigma_set *s = sigma_set_create();
    for (size_t i = 0; i < n; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", load_root, rels[i]);
        ot_buf b = { 0 };
        CHECK(buf_read_file(&b, p) == 0);
        int got = sigma_load_text(s, p, b.data ? b.data : "", b.len, load_log_report, r);
        r->rc = r->rc < 0 || got < 0 ? -1 : r->rc + got;
        buf_free(&b);
    }
    load_result_end(r, s);
    sigma_set_free(s);
}

/* A test's folder (load_root), and what it is on (check_context). */
static void load_test_begin(const char *context)
{
    check_context = context;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(load_root, sizeof load_root, "%s/orgtrail-sigma-load-XXXXXX", tmp);
    CHECK(mkdtemp(load_root) != NULL);
}

/* Removes the folder; frees r (may be NULL). */
static void load_test_end(load_result *r)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", load_root);
    CHECK(system(cmd) == 0);
    if (r)
        load_result_free(r);
    check_context = "";
}

/* A file that is not YAML among good ones: its report comes in its place
 * (after the files before it, before the files after it), with the line of
 * the error, and its documents before the error stay loaded; the rules keep
 * the files' name order. */
static void test_load_bad_yaml_among_good_files(void)
{
    load_test_begin("bad YAML among good files");
    char text[8192];
    const char *rels[40];
    char names[40][32];
    size_t n = 0;
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof names[i], "r%02d.yml", i);
        ot_buf b = { 0 };
        load_rule_text(text, sizeof text, names[i]);
        buf_append_str(&b, text);
        if (i == 17) {   /* two rules, then a document that is not YAML */
            load_rule_text(text, sizeof text, "r17b");
            buf_append_str(&b, "---\n");
            buf_append_str(&b, text);
            buf_append_str(&b, "---\ntitle: [unclosed\n");
        }
        load_put(names[i], b.data, b.len);
        buf_free(&b);
        rels[n++] = names[i];
    }
    load_result serial, texts;
    expect_load_same_for_any_threads(load_root, &serial);
    load_texts(&texts, rels, n);
    CHECK(load_same(&serial, &texts));
    CHECK(serial.rc == -1 && serial.count == 41);
    const char *bad = strstr(serial.log.data, "r17.yml | 22 | 3 | YAML error: ");
    CHECK(bad && strstr(serial.log.data, "r17.yml | r17b | 0 |") < bad && strstr(bad, "r18.yml | r18.yml | 0"));
    load_result_free(&texts);
    load_test_end(&serial);
}

/* Files that cannot be read (a dangling link, a read error, a link back to
 * a parent folder) and a hidden file, among good ones, in folders: each
 * reported in its place, the rest loaded, for any number of threads. */
static void test_load_unreadable_files(void)
{
    load_test_begin("unreadable files");
    char text[1024];
    for (int i = 0; i < 30; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "%s/r%02d.yml", i % 3 == 0 ? "a" : i % 3 == 1 ? "b/c" : "d", i);
        load_put(rel, text, (size_t)load_rule_text(text, sizeof text, rel + (i % 3 == 1 ? 4 : 2)));
    }
    load_link("nowhere.yml", "b/c/dangling.yml");
    load_link("/proc/self/mem", "a/eio.yml");          /* read(2) fails with EIO at offset 0 */
    load_link("..", "b/c/up");
    load_put("d/.hidden.yml", "not: [yaml", 10);
    load_put("d/notes.txt", "not yaml at all: [", 18);
    load_result serial;
    expect_load_same_for_any_threads(load_root, &serial);
    CHECK(serial.rc == -1 && serial.count == 30);
    const char *dangling = strstr(serial.log.data, "b/c/dangling.yml | - | 3 | cannot read: No such file");
    const char *eio = strstr(serial.log.data, "a/eio.yml | - | 3 | cannot read: Input/output error");
    const char *loop = strstr(serial.log.data, "b/c/up | - | 3 | cannot read: a directory loop");
    CHECK(dangling && eio && loop && !strstr(serial.log.data, "hidden") && !strstr(serial.log.data, "notes"));
    /* in name order: a/eio.yml first of a/, b/c/dangling.yml first of b/c/, b/c/up last */
    CHECK(eio && dangling && loop && strstr(serial.log.data, "a/r00.yml") > eio &&
          strstr(serial.log.data, "a/r27.yml") < dangling && strstr(serial.log.data, "b/c/r01.yml") > dangling &&
          strstr(serial.log.data, "b/c/r28.yml") < loop && strstr(serial.log.data, "d/r02.yml") > loop);
    /* a single unreadable file given as the path */
    char p[512];
    snprintf(p, sizeof p, "%s/a/eio.yml", load_root);
    load_result one;
    load_with(&one, p, 4);
    CHECK(one.rc == -1 && one.count == 0 && strstr(one.log.data, "cannot read: Input/output error"));
    load_result_free(&one);
    load_test_end(&serial);
}

/* Many small files, more than the threads' window holds, some with two
 * documents or none, a correlation, a skipped and an unsupported rule:
 * the same for any threads. */
static void test_load_many_small_files(void)
{
    load_test_begin("many small files");
    char text[4096];
    for (int i = 0; i < 1200; i++) {
        char rel[64], id[32];
        snprintf(rel, sizeof rel, "f%02d/r%04d.yaml", i / 100, i);
        snprintf(id, sizeof id, "r%04d", i);
        int len = load_rule_text(text, sizeof text, id);
        if (i % 7 == 0)
            len += snprintf(text + len, sizeof text - (size_t)len,
                            "---\ntitle: second %d\nlogsource:\n  product: aws\n  service: cloudtrail\n"
                            "detection:\n  sel:\n    eventSource|base64offset: x\n  condition: sel\n", i);
        if (i % 5 == 0)   /* reported as "document 2" or 3 */
            len += snprintf(text + len, sizeof text - (size_t)len, "---\nlogsource:\n  product: aws\n");
        if (i % 11 == 0)
            len = snprintf(text, sizeof text, "title: w%d\nlogsource:\n  product: windows\n"
                           "detection:\n  s:\n    a: b\n  condition: s\n", i);
        if (i % 13 == 0)
            len = 0;   /* empty: no documents */
        if (i == 600)
            len += snprintf(text + len, sizeof text - (size_t)len,
                            "---\ntitle: C\nid: c600\ncorrelation:\n  type: event_count\n  rules: [r0599]\n"
                            "  group-by: [recipientAccountId]\n  timespan: 5m\n  condition:\n    gte: 3\n");
        load_put(rel, text, (size_t)len);
    }
    load_result serial;
    expect_load_same_for_any_threads(load_root, &serial);
    CHECK(serial.rc > 1000 && (size_t)serial.rc == serial.count);
    load_test_end(&serial);
}

/* A file too big to be parsed ahead (the compiling thread reads and parses
 * it, a document at a time) among small ones, one that ends in a YAML
 * error after hundreds of rules, and a 2 KB alias bomb: the same for any
 * threads; the bomb is still rejected by the compile's bounds. */
static void test_load_huge_file(void)
{
    load_test_begin("one huge file");
    char text[4096];
    for (int i = 0; i < 20; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "s%02d.yml", i);
        load_put(rel, text, (size_t)load_rule_text(text, sizeof text, rel));
    }
    ot_buf big = { 0 };
    for (int i = 0; i < 3000; i++) {
        char id[32];
        snprintf(id, sizeof id, "big%04d", i);
        if (i)
            buf_append_str(&big, "---\n");
        load_rule_text(text, sizeof text, id);
        buf_append_str(&big, text);
    }
    CHECK(big.len > (256u << 10));   /* past what a thread parses ahead (64 KiB) */
    load_put("s05-huge.yml", big.data, big.len);
    buf_append_str(&big, "---\ntitle: [unclosed\n");
    load_put("s10-huge-bad.yml", big.data, big.len);
    buf_free(&big);
    load_put("s15-bomb.yml", text, alias_bomb_text(text));
    load_result serial;
    expect_load_same_for_any_threads(load_root, &serial);
    CHECK(serial.rc == -1 && serial.count == 20 + 3000 + 3000);
    CHECK(strstr(serial.log.data, "s15-bomb.yml | bomb | 2 | too big"));
    CHECK(strstr(serial.log.data, "s10-huge-bad.yml | - | 3 | YAML error") == NULL);   /* it has a line */
    CHECK(strstr(serial.log.data, "s10-huge-bad.yml | 30002 | 3 | YAML error"));
    load_test_end(&serial);
}

/* The process's resident bytes. */
static size_t load_rss(void)
{
    unsigned long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%lu %lu", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (size_t)sysconf(_SC_PAGESIZE);
}

typedef struct {
    size_t reports, rss_before, rss_most;
} load_slow;

/* A compile that takes its time: while the first report waits, the
 * loader threads run ahead as far as the window lets them. */
static void load_slow_report(void *arg, const char *source, const char *name, sigma_status st, const char *reason)
{
    load_slow *w = arg;
    if (w->reports++ == 0)
        for (int i = 0; i < 60; i++) {
            struct timespec ten_ms = { 0, 10 * 1000 * 1000 };
            nanosleep(&ten_ms, NULL);
            size_t rss = load_rss();
            w->rss_most = rss > w->rss_most ? rss : w->rss_most;
        }
}

/* Files parsed ahead wait for the compile in a window of a few chunks:
 * while the compile is stuck at the first file, the threads hold a few of
 * the 100 files (each parsed into ~3.7 MB: a flow list of empty maps),
 * not all of them (~370 MB). (On a busy machine a loader without the
 * window may not get far in the 0.6 s: the test cannot fail wrongly, but
 * may then miss that.) */
static void test_load_window_bounds_memory(void)
{
    load_test_begin("window bounds memory");
    ot_buf b = { 0 };
    buf_append_str(&b, "[{}");
    for (int i = 0; i < 20000; i++)
        buf_append_str(&b, ",{}");
    buf_append_str(&b, "]\n");
    for (int i = 0; i < 100; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "s%03d.yml", i);
        load_put(rel, b.data, b.len);
    }
    buf_free(&b);
    sigma_set *s = sigma_set_create();
    load_slow w = { .rss_before = load_rss() };
    CHECK(sigma_load_path_threads(s, load_root, 2, load_slow_report, &w) == 0 && w.reports == 100);
    size_t grew = w.rss_most > w.rss_before ? w.rss_most - w.rss_before : 0;
    if (grew >= (100u << 20))
        fprintf(stderr, "  RSS grew by %zu MB while the compile waited\n", grew >> 20);
    CHECK(w.rss_most && grew < (100u << 20));   /* ~16 MB (~50 MB under TSan) */
    sigma_set_free(s);
    load_test_end(NULL);
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
    test_regex_required_literal();
    test_folded_compares_every_place();
    test_nested_paths();
    test_twins();
    test_important_change_anchors_on_event_names();
    test_assumed_role_regex_anchored();
    test_unsupported();
    test_header();
    test_re_was_posix_not_pcre();
    test_needle_longer_than_prefilter();
    test_deep_condition_stack_overflow();
    test_alias_bomb();
    test_fieldref();
    test_correlation_types();
    test_correlation_timespan();
    test_correlation_errors();
    test_correlation_bounds();
    test_correlation_references();
    test_correlation_aliases();
    test_correlation_generate();
    test_load_bad_yaml_among_good_files();
    test_load_unreadable_files();
    test_load_many_small_files();
    test_load_huge_file();
    test_load_window_bounds_memory();
    return check_summary();
}
