/*
 * test_parse: the JSON parse of candidate records (src/parse.h).
 *
 * Records are written as C string literals of the exact bytes a log would
 * hold, so JSON escapes appear doubled (\\" is \" in the record).
 */
#include "check.h"
#include "parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>



/* ---- helpers ------------------------------------------------------------ */

static int slice_is(ot_slice s, const char *bytes, size_t len)
{
    return s.ptr != NULL && s.len == len && memcmp(s.ptr, bytes, len) == 0;
}

static int slice_eq(ot_slice s, const char *text)
{
    return slice_is(s, text, strlen(text));
}

static int slice_has(ot_slice s, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= s.len; i++)
        if (memcmp(s.ptr + i, needle, n) == 0)
            return 1;
    return 0;
}

/* parse_get(path) has this type and exactly this text. */
static int get_is(parse_ctx *ctx, const char *path, enum parse_type type, const char *text)
{
    ot_slice s;
    return parse_get(ctx, path, &s) == type && slice_eq(s, text);
}

static int is_absent(parse_ctx *ctx, const char *path)
{
    ot_slice s = {"junk", 4};
    return parse_get(ctx, path, &s) == PARSE_ABSENT && s.len == 0;
}

static int parse_event(parse_ctx *ctx, const char *record)
{
    char err[256];
    size_t off = 99;
    int rc = parse_record(ctx, record, strlen(record), PARSE_KIND_EVENT, err, sizeof err, &off);
    if (rc != 0)
        fprintf(stderr, "  parse failed: %s (offset %zu)\n", err, off);
    return rc;
}

static int parse_wrapped(parse_ctx *ctx, const char *record)
{
    char err[256];
    int rc = parse_record(ctx, record, strlen(record), PARSE_KIND_WRAPPED, err, sizeof err, NULL);
    if (rc != 0)
        fprintf(stderr, "  parse failed: %s\n", err);
    return rc;
}

/* Expects parse_record to fail; leaves the reason in err. */
static int fails(parse_ctx *ctx, const char *record, enum parse_kind kind, char *err,
                 size_t errlen)
{
    size_t off = 99;
    err[0] = 'X';
    int rc = parse_record(ctx, record, strlen(record), kind, err, errlen, &off);
    return rc == -1 && off == 0 && memchr(err, '\0', errlen) != NULL && strchr(err, '\n') == NULL;
}

static int no_raw_control_bytes(ot_slice s)
{
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)s.ptr[i] < 0x20)
            return 0;
    return 1;
}

/* ---- records ------------------------------------------------------------ */

static const char PLAIN[] =
    "{\"eventVersion\":\"1.08\","
    " \"userIdentity\" : {\"type\":\"AssumedRole\",\"sessionContext\":{\"sessionIssuer\":"
    "{\"type\":\"Role\",\"arn\":\"arn:aws:iam::111122223333:role/Admin\"},"
    "\"attributes\":{\"mfaAuthenticated\":\"false\"}}},"
    "\"eventSource\":\"iam.amazonaws.com\",\"eventName\":\"CreateUser\","
    "\"errorCode\":null,\"readOnly\":false,\"managementEvent\":true,"
    "\"n\":  42 ,\"neg\":-7,\"big\":18446744073709551615,\"f\":1.5,"
    "\"requestParameters\":{ \"userName\" : \"bob\", \"tags\" : [ ] },"
    "\"resources\":[ {\"ARN\":\"x\"}, 1, \"two\", null ],\"empty\":\"\"}";

static const char PLAIN_MINIFIED[] =
    "{\"eventVersion\":\"1.08\","
    "\"userIdentity\":{\"type\":\"AssumedRole\",\"sessionContext\":{\"sessionIssuer\":"
    "{\"type\":\"Role\",\"arn\":\"arn:aws:iam::111122223333:role/Admin\"},"
    "\"attributes\":{\"mfaAuthenticated\":\"false\"}}},"
    "\"eventSource\":\"iam.amazonaws.com\",\"eventName\":\"CreateUser\","
    "\"errorCode\":null,\"readOnly\":false,\"managementEvent\":true,"
    "\"n\":42,\"neg\":-7,\"big\":18446744073709551615,\"f\":1.5,"
    "\"requestParameters\":{\"userName\":\"bob\",\"tags\":[]},"
    "\"resources\":[{\"ARN\":\"x\"},1,\"two\",null],\"empty\":\"\"}";

static const char ENVELOPE[] =
    "{\"version\":\"0\",\"id\":\"abc\",\"detail-type\":\"AWS API Call via CloudTrail\","
    "\"source\":\"aws.organizations\",\"account\":\"111122223333\","
    "\"detail\":{\"eventSource\":\"organizations.amazonaws.com\","
    "\"eventName\":\"LeaveOrganization\","
    "\"userIdentity\":{\"arn\":\"arn:aws:sts::111122223333:assumed-role/x/y\"}}}";

/* CloudWatch Logs: the message holds "\u003c" (outer escape, becomes '<'),
 * "\\u003c" (an inner escape), "\u00e9" and a raw UTF-8 "é". */
static const char CWL_MESSAGE[] =
    "{\"id\":\"1\",\"timestamp\":1700000000000,\"message\":\"{\\\"eventSource\\\":"
    "\\\"sts.amazonaws.com\\\",\\\"eventName\\\":\\\"AssumeRole\\\",\\\"userAgent\\\":"
    "\\\"x\\u003cy \\\\u003cz caf\\u00e9 caf\xc3\xa9\\\",\\\"n\\\":5}\"}";

static const char LOOKUP_EVENT[] =
    "{\"EventId\":\"e1\",\"EventName\":\"LeaveOrganization\",\"ReadOnly\":\"false\","
    "\"CloudTrailEvent\":\"{\\\"eventVersion\\\":\\\"1.08\\\",\\\"eventSource\\\":"
    "\\\"organizations.amazonaws.com\\\",\\\"eventName\\\":\\\"LeaveOrganization\\\","
    "\\\"requestParameters\\\":null}\"}";

/* The userAgent's value is ","eventSource":"organizations.amazonaws.com",... */
static const char HOSTILE_USER_AGENT[] =
    "{\"eventVersion\":\"1.08\",\"userAgent\":\"\\\",\\\"eventSource\\\":"
    "\\\"organizations.amazonaws.com\\\",\\\"eventName\\\":\\\"LeaveOrganization\\\","
    "\\\"x\\\":\\\"\",\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"GetObject\"}";
static const char HOSTILE_VALUE[] =
    "\",\"eventSource\":\"organizations.amazonaws.com\",\"eventName\":\"LeaveOrganization\","
    "\"x\":\"";

#define REPLACEMENT "\xEF\xBF\xBD"

/* ---- tests -------------------------------------------------------------- */

/* Objects and arrays come out byte for byte as simdjson::minify wrote them
 * (the expected text is its output): numbers of every kind, escapes in
 * keys and values, raw UTF-8, empty and nested containers. */
static void test_minified_like_simdjson(parse_ctx *ctx)
{
    static const char record[] =
        "{\"v\":{\"a\":[1,-2,18446744073709551615,-922337203685477580"
        "8,1.5,-0.0,1e300,2.5e-7,0.1,100.0,1E2,true,false,null,[]"
        ",{}],\"k\\\"\\\\\\u0001\\n\":\"x\\u0000y\\t\\u001f\\u007f\\u00e9\\u2028"
        "\\ud83d\\ude00/\\\\/\",\"\":\"\", \"b\":[[[{\"c\":{}}]]]}}";
    static const char minified[] =
        "{\"a\":[1,-2,18446744073709551615,-9223372036854775808,1.5"
        ",-0.0,1e+300,2.5e-07,0.1,100.0,100.0,true,false,null,[],"
        "{}],\"k\\\"\\\\\\u0001\\n\":\"x\\u0000y\\t\\u001f\x7f\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80/\\\\/\",\"\":"
        "\"\",\"b\":[[[{\"c\":{}}]]]}";
    CHECK(parse_event(ctx, record) == 0);
    ot_slice s;
    CHECK(parse_get(ctx, "v", &s) == PARSE_OBJECT);
    CHECK(slice_is(s, minified, sizeof minified - 1));
    CHECK(get_is(ctx, "v.a", PARSE_ARRAY, "[1,-2,18446744073709551615,-9223372036854775808,1.5,-0.0,1e+300,"
                                          "2.5e-07,0.1,100.0,100.0,true,false,null,[],{}]"));
    s = parse_event_json(ctx);
    CHECK(s.len == sizeof minified - 1 + 6 && memcmp(s.ptr, "{\"v\":", 5) == 0 &&
          memcmp(s.ptr + 5, minified, sizeof minified - 1) == 0 && s.ptr[s.len - 1] == '}');
}

/* Minified texts written by parse.cpp's own writer: deeper than
 * simdjson's builder goes without recursing (16), long strings with
 * escapes at vector boundaries, keys that need escaping; an already
 * minified input comes back as it was. */
static void test_minified_deep_and_long(parse_ctx *ctx)
{
    char *rec = malloc(1 << 16), *want = malloc(1 << 16);
    size_t n = 0;
    n += (size_t)sprintf(rec + n, "{\"v\":");
    size_t start = n;
    for (int i = 0; i < 40; i++)
        n += (size_t)sprintf(rec + n, i % 2 ? "[1," : "{\"k\\\"%d\":", i);
    n += (size_t)sprintf(rec + n, "\"");
    for (int i = 0; i < 3000; i++)
        n += (size_t)sprintf(rec + n, "%s", i % 17 == 0 ? "\\\"" : i % 29 == 0 ? "\\n" : i % 31 == 0 ? "\\u0001" : "x");
    n += (size_t)sprintf(rec + n, "\"");
    for (int i = 39; i >= 0; i--)
        n += (size_t)sprintf(rec + n, i % 2 ? "]" : "}");
    memcpy(want, rec + start, n - start);
    size_t wl = n - start;
    n += (size_t)sprintf(rec + n, "}");
    rec[n] = '\0';
    CHECK(parse_event(ctx, rec) == 0);
    ot_slice s;
    CHECK(parse_get(ctx, "v", &s) == PARSE_OBJECT);
    CHECK(slice_is(s, want, wl));
    s = parse_event_json(ctx);
    CHECK(s.len == n && memcmp(s.ptr, rec, n) == 0);
    free(rec);
    free(want);
}

/* A minified object's keys and string values with an escape at each
 * place around the vector boundaries (the minifier writes a string member
 * inline): already minified input comes back as it was. */
static void test_minified_escape_places(parse_ctx *ctx)
{
    static const char *const escapes[] = { "\\\"", "\\\\", "\\n", "\\u0001", "\\u001f", "\xc3\xa9", "\xf0\x9f\x98\x80" };
    for (size_t e = 0; e < sizeof escapes / sizeof escapes[0]; e++) {
        for (int at = 0; at <= 40; at++) {
            char value[256], rec[600];
            int n = snprintf(value, sizeof value, "{\"%.*s%s\":\"%.*s%s%s\",\"n\":[\"%.*s%s\"]}", at,
                             "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", escapes[e], at,
                             "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv", escapes[e], "tail", at,
                             "wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww", escapes[e]);
            snprintf(rec, sizeof rec, "{\"v\":%s}", value);
            CHECK(parse_event(ctx, rec) == 0);
            ot_slice got;
            CHECK(parse_get(ctx, "v", &got) == PARSE_OBJECT);
            int same = slice_is(got, value, (size_t)n);
            CHECK(same);
            if (!same && check_printed)
                fprintf(stderr, "  escape %zu at %d: %.*s\n", e, at, (int)got.len, got.ptr);
        }
    }
}

/* parse_get_set gives, for each path, exactly what parse_get gives. */
static void test_get_set(parse_ctx *ctx)
{
    static const char *const paths[] = {
        "eventName", "userIdentity", "userIdentity.arn", "userIdentity.sessionContext.sessionIssuer.arn",
        "userIdentity.sessionContext.attributes.mfaAuthenticated", "requestParameters", "requestParameters.x",
        "n", "missing", "missing.deeper", "eventName.x", "", "userIdentity.", "eventName",
    };
    static const char *const records[] = {
        PLAIN,
        "{\"eventName\":\"First\",\"userIdentity\":{\"arn\":\"a1\",\"arn\":\"a2\"},\"eventName\":\"Second\","
        "\"userIdentity\":{\"arn\":\"later\"},\"requestParameters\":{\"x\":[1,{\"y\":null}]},\"n\":1e3,\"\":\"e\"}",
        "{\"userIdentity\":\"not an object\",\"requestParameters\":null}",
        "{}",
        /* every path there but null, or of another type than usual */
        "{\"eventName\":null,\"userIdentity\":{\"arn\":null,\"sessionContext\":{\"sessionIssuer\":{\"arn\":7},"
        "\"attributes\":{\"mfaAuthenticated\":true}}},\"requestParameters\":{\"x\":null},\"n\":null,"
        "\"missing\":{\"deeper\":[\"\\\"\"]},\"\":null}",
        /* keys one byte off the paths', at each end and inside, before the real ones */
        "{\"userIdentity\":{\"arm\":\"no\",\"Arn\":\"no\",\"sessionContexx\":{\"sessionIssuer\":{\"arn\":\"no\"}},"
        "\"sessionCOntext\":{},\"sessionContext\":{\"sessionIssuer\":{\"arN\":\"no\",\"arn\":\"yes\"},"
        "\"attributes\":{\"mfaAuthenticateD\":\"no\",\"mfaAuthenticated\":\"true\"}},\"arn\":\"a\"},"
        "\"requestParameterz\":1,\"requestParameters\":{\"y\":1,\"x\":2}}",
        NULL,   /* more members than the top-level index holds */
    };
    char big[16384];
    size_t bl = (size_t)snprintf(big, sizeof big, "{");
    for (int i = 0; i < 200; i++)
        bl += (size_t)snprintf(big + bl, sizeof big - bl, "\"k%d\":%d,", i, i);
    snprintf(big + bl, sizeof big - bl, "\"eventName\":\"E\",\"userIdentity\":{\"arn\":\"a\"},\"requestParameters\":[1]}");
    size_t n = sizeof paths / sizeof paths[0];
    parse_pathset *set = parse_pathset_create(paths, n);
    CHECK(set != NULL);
    for (size_t r = 0; set && r < sizeof records / sizeof records[0]; r++) {
        CHECK(parse_event(ctx, records[r] ? records[r] : big) == 0);
        enum parse_type types[sizeof paths / sizeof paths[0]];
        ot_slice got[sizeof paths / sizeof paths[0]];
        parse_get_set(ctx, set, types, got);
        for (size_t i = 0; i < n; i++) {
            ot_slice want;
            enum parse_type t = parse_get(ctx, paths[i], &want);
            if (types[i] != t || got[i].len != want.len || memcmp(got[i].ptr, want.ptr, want.len) != 0) {
                fprintf(stderr, "  record %zu, path \"%s\": differs from parse_get\n", r, paths[i]);
                CHECK(0);
            }
        }
    }
    parse_pathset_free(set);
    parse_pathset_free(NULL);
}

/* The top-level members are found through an index built once per record
 * (parse.cpp, index_top): it must give what a linear at_key gives. */
static void test_top_level_index(parse_ctx *ctx)
{
    /* a repeated key: the first value wins, as simdjson's at_key finds it */
    CHECK(parse_event(ctx, "{\"eventName\":\"First\",\"x\":1,\"eventName\":\"Second\"}") == 0);
    CHECK(get_is(ctx, "eventName", PARSE_STRING, "First"));
    /* keys alike in length and in their first, middle and last bytes share
     * a probe start; each still finds its own value */
    CHECK(parse_event(ctx, "{\"aXbYc\":\"1\",\"aYbXc\":\"2\",\"aZbZc\":\"3\",\"\":\"empty\",\"a\":\"4\"}") == 0);
    CHECK(get_is(ctx, "aXbYc", PARSE_STRING, "1"));
    CHECK(get_is(ctx, "aYbXc", PARSE_STRING, "2"));
    CHECK(get_is(ctx, "aZbZc", PARSE_STRING, "3"));
    CHECK(get_is(ctx, "a", PARSE_STRING, "4"));
    CHECK(is_absent(ctx, "aWbWc"));
    CHECK(is_absent(ctx, "eventName"));      /* the last record's members are gone */
    /* more members than the index holds: found by a scan */
    char big[8192];
    size_t n = 0;
    n += (size_t)snprintf(big + n, sizeof big - n, "{");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s\"k%d\":%d", i ? "," : "", i, i);
    snprintf(big + n, sizeof big - n, ",\"userIdentity\":{\"arn\":\"a\"}}");
    CHECK(parse_event(ctx, big) == 0);
    CHECK(get_is(ctx, "k0", PARSE_NUMBER, "0"));
    CHECK(get_is(ctx, "k299", PARSE_NUMBER, "299"));
    CHECK(get_is(ctx, "userIdentity.arn", PARSE_STRING, "a"));
    CHECK(is_absent(ctx, "k300"));
    /* and back to a small record: indexed again */
    CHECK(parse_event(ctx, "{\"k299\":\"small\"}") == 0);
    CHECK(get_is(ctx, "k299", PARSE_STRING, "small"));
    CHECK(is_absent(ctx, "k0"));
}

static void test_plain_event(parse_ctx *ctx)
{
    ot_slice s;
    CHECK(parse_event(ctx, PLAIN) == 0);
    CHECK(parse_repaired(ctx) == 0);
    CHECK(parse_is_digest(ctx) == 0);

    CHECK(get_is(ctx, "eventSource", PARSE_STRING, "iam.amazonaws.com"));
    CHECK(get_is(ctx, "userIdentity.sessionContext.sessionIssuer.arn", PARSE_STRING,
                 "arn:aws:iam::111122223333:role/Admin"));
    CHECK(get_is(ctx, "userIdentity.sessionContext.attributes.mfaAuthenticated", PARSE_STRING,
                 "false"));
    CHECK(get_is(ctx, "empty", PARSE_STRING, ""));

    CHECK(get_is(ctx, "n", PARSE_NUMBER, "42"));
    CHECK(get_is(ctx, "neg", PARSE_NUMBER, "-7"));
    CHECK(get_is(ctx, "big", PARSE_NUMBER, "18446744073709551615"));
    CHECK(get_is(ctx, "f", PARSE_NUMBER, "1.5"));
    CHECK(get_is(ctx, "readOnly", PARSE_BOOL, "false"));
    CHECK(get_is(ctx, "managementEvent", PARSE_BOOL, "true"));
    CHECK(get_is(ctx, "requestParameters", PARSE_OBJECT, "{\"userName\":\"bob\",\"tags\":[]}"));
    CHECK(get_is(ctx, "requestParameters.tags", PARSE_ARRAY, "[]"));
    CHECK(get_is(ctx, "resources", PARSE_ARRAY, "[{\"ARN\":\"x\"},1,\"two\",null]"));
    CHECK(get_is(ctx, "userIdentity.sessionContext.sessionIssuer", PARSE_OBJECT,
                 "{\"type\":\"Role\",\"arn\":\"arn:aws:iam::111122223333:role/Admin\"}"));

    /* null is not absent */
    CHECK(get_is(ctx, "errorCode", PARSE_NULL, "null"));
    CHECK(is_absent(ctx, "errorMessage"));
    CHECK(is_absent(ctx, "EventSource"));             /* keys are case-sensitive */
    CHECK(is_absent(ctx, "eventSource.x"));           /* a string has no members */
    CHECK(is_absent(ctx, "errorCode.x"));             /* nor has null */
    CHECK(is_absent(ctx, "resources.0"));             /* arrays are not descended */
    CHECK(is_absent(ctx, "userIdentity.nope.arn"));
    CHECK(is_absent(ctx, "userIdentity."));
    CHECK(is_absent(ctx, ""));
    CHECK(parse_get(ctx, NULL, &s) == PARSE_ABSENT && s.len == 0);
    CHECK(parse_get(ctx, "eventName", NULL) == PARSE_STRING);

    CHECK(slice_eq(parse_event_json(ctx), PLAIN_MINIFIED));
    /* asking twice gives the same text */
    CHECK(slice_eq(parse_event_json(ctx), PLAIN_MINIFIED));

    /* earlier slices stay valid while more are handed out */
    ot_slice obj, arr, str;
    CHECK(parse_get(ctx, "requestParameters", &obj) == PARSE_OBJECT);
    CHECK(parse_get(ctx, "eventSource", &str) == PARSE_STRING);
    for (int i = 0; i < 100; i++)
        CHECK(parse_get(ctx, "resources", &arr) == PARSE_ARRAY);
    CHECK(slice_eq(obj, "{\"userName\":\"bob\",\"tags\":[]}"));
    CHECK(slice_eq(str, "iam.amazonaws.com"));
}

static void test_envelope(parse_ctx *ctx)
{
    CHECK(parse_event(ctx, ENVELOPE) == 0);
    CHECK(get_is(ctx, "eventSource", PARSE_STRING, "organizations.amazonaws.com"));
    CHECK(get_is(ctx, "eventName", PARSE_STRING, "LeaveOrganization"));
    CHECK(get_is(ctx, "userIdentity.arn", PARSE_STRING,
                 "arn:aws:sts::111122223333:assumed-role/x/y"));
    CHECK(is_absent(ctx, "source"));
    CHECK(is_absent(ctx, "detail-type"));
    CHECK(is_absent(ctx, "detail"));
    CHECK(slice_eq(parse_event_json(ctx),
                   "{\"eventSource\":\"organizations.amazonaws.com\","
                   "\"eventName\":\"LeaveOrganization\","
                   "\"userIdentity\":{\"arn\":\"arn:aws:sts::111122223333:assumed-role/x/y\"}}"));

    /* "detail" without "detail-type" is an ordinary member */
    CHECK(parse_event(ctx, "{\"detail\":{\"eventSource\":\"inner\"},\"eventSource\":\"outer\"}") ==
          0);
    CHECK(get_is(ctx, "eventSource", PARSE_STRING, "outer"));
    CHECK(get_is(ctx, "detail.eventSource", PARSE_STRING, "inner"));

    /* so is a "detail" that is not an object */
    CHECK(parse_event(ctx, "{\"detail-type\":\"x\",\"detail\":\"s\",\"eventSource\":\"outer\"}") ==
          0);
    CHECK(get_is(ctx, "eventSource", PARSE_STRING, "outer"));
    CHECK(get_is(ctx, "detail-type", PARSE_STRING, "x"));

    /* an empty detail object is still the event */
    CHECK(parse_event(ctx, "{\"detail-type\":\"x\",\"detail\":{},\"eventSource\":\"outer\"}") == 0);
    CHECK(is_absent(ctx, "eventSource"));
    CHECK(slice_eq(parse_event_json(ctx), "{}"));
}

static void test_wrapped(parse_ctx *ctx)
{
    CHECK(parse_wrapped(ctx, CWL_MESSAGE) == 0);
    CHECK(parse_repaired(ctx) == 0);
    CHECK(get_is(ctx, "eventSource", PARSE_STRING, "sts.amazonaws.com"));
    CHECK(get_is(ctx, "userAgent", PARSE_STRING, "x<y <z caf\xc3\xa9 caf\xc3\xa9"));
    CHECK(get_is(ctx, "n", PARSE_NUMBER, "5"));
    CHECK(is_absent(ctx, "message"));
    CHECK(is_absent(ctx, "timestamp"));
    CHECK(slice_eq(parse_event_json(ctx),
                   "{\"eventSource\":\"sts.amazonaws.com\",\"eventName\":\"AssumeRole\","
                   "\"userAgent\":\"x<y <z caf\xc3\xa9 caf\xc3\xa9\",\"n\":5}"));

    CHECK(parse_wrapped(ctx, LOOKUP_EVENT) == 0);
    CHECK(get_is(ctx, "eventSource", PARSE_STRING, "organizations.amazonaws.com"));
    CHECK(get_is(ctx, "eventName", PARSE_STRING, "LeaveOrganization"));
    CHECK(get_is(ctx, "requestParameters", PARSE_NULL, "null"));
    CHECK(is_absent(ctx, "EventId"));

    /* the envelope rule applies to the inner event too */
    CHECK(parse_wrapped(ctx, "{\"message\":\"{\\\"detail-type\\\":\\\"t\\\",\\\"detail\\\":"
                             "{\\\"eventSource\\\":\\\"ec2.amazonaws.com\\\"}}\"}") == 0);
    CHECK(get_is(ctx, "eventSource", PARSE_STRING, "ec2.amazonaws.com"));

    /* a non-string "message" falls through to "CloudTrailEvent" */
    CHECK(parse_wrapped(ctx, "{\"message\":{\"eventSource\":\"no\"},"
                             "\"CloudTrailEvent\":\"{\\\"eventSource\\\":\\\"yes\\\"}\"}") == 0);
    CHECK(get_is(ctx, "eventSource", PARSE_STRING, "yes"));

    /* the same record as EVENT kind is the outer object */
    CHECK(parse_event(ctx, LOOKUP_EVENT) == 0);
    CHECK(get_is(ctx, "EventId", PARSE_STRING, "e1"));
    CHECK(is_absent(ctx, "eventSource"));
}

static void test_wrapped_failures(parse_ctx *ctx)
{
    char err[256];

    CHECK(fails(ctx, "{\"id\":\"1\",\"timestamp\":1}", PARSE_KIND_WRAPPED, err, sizeof err));
    CHECK(strstr(err, "message") != NULL && strstr(err, "CloudTrailEvent") != NULL);
    CHECK(is_absent(ctx, "id"));
    CHECK(parse_event_json(ctx).len == 0);

    CHECK(fails(ctx, "{\"message\":{\"eventSource\":\"x\"}}", PARSE_KIND_WRAPPED, err,
                sizeof err));
    CHECK(fails(ctx, "{\"message\":\"hello world\"}", PARSE_KIND_WRAPPED, err, sizeof err));
    CHECK(strncmp(err, "embedded event: invalid JSON: ", 30) == 0);
    CHECK(fails(ctx, "{\"message\":\"{\\\"a\\\":\"}", PARSE_KIND_WRAPPED, err, sizeof err));
    CHECK(strncmp(err, "embedded event: invalid JSON: ", 30) == 0);
    CHECK(fails(ctx, "{\"message\":\"\"}", PARSE_KIND_WRAPPED, err, sizeof err));
    CHECK(fails(ctx, "{\"message\":\"[1,2]\"}", PARSE_KIND_WRAPPED, err, sizeof err));
    CHECK(strcmp(err, "embedded event is not a JSON object") == 0);
    CHECK(fails(ctx, "{\"CloudTrailEvent\":\"\\\"str\\\"\"}", PARSE_KIND_WRAPPED, err,
                sizeof err));
    CHECK(strcmp(err, "embedded event is not a JSON object") == 0);
    CHECK(fails(ctx, "[\"{}\"]", PARSE_KIND_WRAPPED, err, sizeof err));
    CHECK(strcmp(err, "record is not a JSON object") == 0);
    CHECK(fails(ctx, "{\"message\":", PARSE_KIND_WRAPPED, err, sizeof err));
    CHECK(strncmp(err, "invalid JSON: ", 14) == 0);
    CHECK(is_absent(ctx, "message"));
    CHECK(parse_repaired(ctx) == 0);
}

static void test_invalid_json(parse_ctx *ctx)
{
    char err[256];
    size_t off = 99;

    CHECK(fails(ctx, "{\"eventSource\":\"iam.amazonaws.com\"", PARSE_KIND_EVENT, err,
                sizeof err));
    CHECK(strncmp(err, "invalid JSON: ", 14) == 0 && strlen(err) > 14);
    CHECK(fails(ctx, "{\"a\":1}x", PARSE_KIND_EVENT, err, sizeof err));
    CHECK(fails(ctx, "{\"a\":tru}", PARSE_KIND_EVENT, err, sizeof err));
    CHECK(fails(ctx, "{\"a\":\"b\\q\"}", PARSE_KIND_EVENT, err, sizeof err));
    CHECK(strncmp(err, "invalid JSON: ", 14) == 0);
    CHECK(fails(ctx, "{\"a\":\"raw\ttab\"}", PARSE_KIND_EVENT, err, sizeof err));
    CHECK(fails(ctx, "", PARSE_KIND_EVENT, err, sizeof err));
    CHECK(strncmp(err, "invalid JSON: ", 14) == 0);
    CHECK(fails(ctx, "   \n", PARSE_KIND_EVENT, err, sizeof err));
    CHECK(parse_record(ctx, NULL, 0, PARSE_KIND_EVENT, err, sizeof err, &off) == -1);
    CHECK(parse_record(ctx, NULL, 5, PARSE_KIND_EVENT, err, sizeof err, &off) == -1);
    CHECK(parse_record(ctx, "{}", 2, (enum parse_kind)7, err, sizeof err, &off) == -1);
    CHECK(strstr(err, "kind") != NULL);

    /* not an object */
    CHECK(fails(ctx, "[1,2]", PARSE_KIND_EVENT, err, sizeof err));
    CHECK(strcmp(err, "record is not a JSON object") == 0);
    CHECK(fails(ctx, "\"str\"", PARSE_KIND_EVENT, err, sizeof err));
    CHECK(fails(ctx, "42", PARSE_KIND_EVENT, err, sizeof err));
    CHECK(fails(ctx, "null", PARSE_KIND_EVENT, err, sizeof err));
    CHECK(strcmp(err, "record is not a JSON object") == 0);

    /* a short error buffer is truncated and still terminated */
    char small[8];
    memset(small, 'X', sizeof small);
    CHECK(parse_record(ctx, "[", 1, PARSE_KIND_EVENT, small, sizeof small, NULL) == -1);
    CHECK(small[7] == '\0' && strlen(small) == 7);
    /* no error buffer at all */
    CHECK(parse_record(ctx, "[", 1, PARSE_KIND_EVENT, NULL, 0, NULL) == -1);
    small[0] = 'X';
    CHECK(parse_record(ctx, "[", 1, PARSE_KIND_EVENT, small, 0, NULL) == -1);
    CHECK(small[0] == 'X');

    /* a failed parse leaves no current event behind */
    CHECK(parse_event(ctx, PLAIN) == 0);
    CHECK(fails(ctx, "{", PARSE_KIND_EVENT, err, sizeof err));
    CHECK(is_absent(ctx, "eventSource"));
    CHECK(parse_is_digest(ctx) == 0);
    CHECK(parse_event_json(ctx).len == 0);

    /* len bounds the record: no NUL needed, trailing bytes ignored */
    CHECK(parse_record(ctx, "{\"a\":1}GARBAGE", 7, PARSE_KIND_EVENT, err, sizeof err, NULL) == 0);
    CHECK(get_is(ctx, "a", PARSE_NUMBER, "1"));
}

static void test_invalid_utf8(parse_ctx *ctx)
{
    char err[256];

    CHECK(parse_event(ctx, "{\"eventSource\":\"iam.amazonaws.com\",\"userAgent\":\"a\xff"
                           "b\",\"x\":\"\xe2\x82\",\"eventName\":\"CreateUser\"}") == 0);
    CHECK(parse_repaired(ctx) == 1);
    CHECK(get_is(ctx, "userAgent", PARSE_STRING, "a" REPLACEMENT "b"));
    CHECK(get_is(ctx, "x", PARSE_STRING, REPLACEMENT));
    CHECK(get_is(ctx, "eventSource", PARSE_STRING, "iam.amazonaws.com"));
    CHECK(get_is(ctx, "eventName", PARSE_STRING, "CreateUser"));
    CHECK(slice_has(parse_event_json(ctx), "\"a" REPLACEMENT "b\""));

    /* one U+FFFD per maximal subpart; valid sequences are kept */
    CHECK(parse_event(ctx, "{\"overlong\":\"\xc0\xaf\",\"surrogate\":\"\xed\xa0\x80\","
                           "\"cut4\":\"\xf0\x9f\x98\",\"ok4\":\"\xf0\x9f\x98\x80\","
                           "\"lone\":\"\x80z\",\"high\":\"\xf5\",\"e0\":\"\xe0\x80\xaf\","
                           "\"twice\":\"\xe2\x82\xe2\x82\xac\"}") == 0);
    CHECK(parse_repaired(ctx) == 1);
    CHECK(get_is(ctx, "overlong", PARSE_STRING, REPLACEMENT REPLACEMENT));
    CHECK(get_is(ctx, "surrogate", PARSE_STRING, REPLACEMENT REPLACEMENT REPLACEMENT));
    CHECK(get_is(ctx, "cut4", PARSE_STRING, REPLACEMENT));
    CHECK(get_is(ctx, "ok4", PARSE_STRING, "\xf0\x9f\x98\x80"));
    CHECK(get_is(ctx, "lone", PARSE_STRING, REPLACEMENT "z"));
    CHECK(get_is(ctx, "high", PARSE_STRING, REPLACEMENT));
    CHECK(get_is(ctx, "e0", PARSE_STRING, REPLACEMENT REPLACEMENT REPLACEMENT));
    CHECK(get_is(ctx, "twice", PARSE_STRING, REPLACEMENT "\xe2\x82\xac"));

    /* invalid bytes in a key, and at the very end of the record */
    CHECK(parse_event(ctx, "{\"k\xff\":1,\"eventSource\":\"s\"}") == 0);
    CHECK(get_is(ctx, "k" REPLACEMENT, PARSE_NUMBER, "1"));
    CHECK(fails(ctx, "{\"eventSource\":\"s\"}\xc3", PARSE_KIND_EVENT, err, sizeof err));

    /* the next clean record clears the flag */
    CHECK(parse_event(ctx, "{\"eventSource\":\"s\"}") == 0);
    CHECK(parse_repaired(ctx) == 0);

    /* repair in a WRAPPED record's outer text */
    CHECK(parse_wrapped(ctx, "{\"x\":\"\xff\",\"message\":\"{\\\"eventSource\\\":\\\"kms\xfe"
                             "\\\"}\"}") == 0);
    CHECK(parse_repaired(ctx) == 1);
    CHECK(get_is(ctx, "eventSource", PARSE_STRING, "kms" REPLACEMENT));

    /* invalid UTF-8 does not excuse invalid JSON */
    CHECK(fails(ctx, "{\"a\":\"\xff\",}", PARSE_KIND_EVENT, err, sizeof err));
    CHECK(strstr(err, "UTF-8") != NULL);
    CHECK(parse_repaired(ctx) == 0);
}

static void test_lone_surrogate_escapes(parse_ctx *ctx)
{
    CHECK(parse_event(ctx, "{\"userAgent\":\"a\\ud800b\",\"low\":\"\\uDC00\","
                           "\"pair\":\"\\ud83d\\ude00\",\"text\":\"\\\\ud800\","
                           "\"then\":\"\\ud800\\u0041\",\"twohigh\":\"\\ud800\\ud83d\\ude00\","
                           "\"eventSource\":\"ec2.amazonaws.com\"}") == 0);
    CHECK(parse_repaired(ctx) == 1);
    CHECK(get_is(ctx, "userAgent", PARSE_STRING, "a" REPLACEMENT "b"));
    CHECK(get_is(ctx, "low", PARSE_STRING, REPLACEMENT));
    CHECK(get_is(ctx, "pair", PARSE_STRING, "\xf0\x9f\x98\x80"));
    CHECK(get_is(ctx, "text", PARSE_STRING, "\\ud800"));
    CHECK(get_is(ctx, "then", PARSE_STRING, REPLACEMENT "A"));
    CHECK(get_is(ctx, "twohigh", PARSE_STRING, REPLACEMENT "\xf0\x9f\x98\x80"));
    CHECK(get_is(ctx, "eventSource", PARSE_STRING, "ec2.amazonaws.com"));

    /* also inside a WRAPPED record's inner text */
    CHECK(parse_wrapped(ctx, "{\"message\":\"{\\\"eventSource\\\":\\\"x\\\\udfff\\\"}\"}") == 0);
    CHECK(parse_repaired(ctx) == 1);
    CHECK(get_is(ctx, "eventSource", PARSE_STRING, "x" REPLACEMENT));
}

static void test_digest(parse_ctx *ctx)
{
    CHECK(parse_event(ctx, "{\"awsAccountId\":\"111122223333\","
                           "\"digestStartTime\":\"2024-01-01T00:00:00Z\","
                           "\"digestEndTime\":\"2024-01-01T01:00:00Z\",\"logFiles\":[]}") == 0);
    CHECK(parse_is_digest(ctx) == 1);
    CHECK(parse_event(ctx, "{\"digestStartTime\":\"2024-01-01T00:00:00Z\"}") == 0);
    CHECK(parse_is_digest(ctx) == 0);
    CHECK(parse_event(ctx, "{\"logFiles\":null}") == 0);
    CHECK(parse_is_digest(ctx) == 0);
    CHECK(parse_event(ctx, "{\"Records\":[{\"digestStartTime\":1,\"logFiles\":1}]}") == 0);
    CHECK(parse_is_digest(ctx) == 0);
    CHECK(parse_event(ctx, "{\"detail-type\":\"x\",\"detail\":"
                           "{\"digestStartTime\":1,\"logFiles\":[]}}") == 0);
    CHECK(parse_is_digest(ctx) == 1);
}

static void test_hostile_user_agent(parse_ctx *ctx)
{
    CHECK(parse_event(ctx, HOSTILE_USER_AGENT) == 0);
    CHECK(get_is(ctx, "eventSource", PARSE_STRING, "s3.amazonaws.com"));
    CHECK(get_is(ctx, "eventName", PARSE_STRING, "GetObject"));
    CHECK(get_is(ctx, "userAgent", PARSE_STRING, HOSTILE_VALUE));
    CHECK(is_absent(ctx, "x"));

    /* the minified event escapes it again: parsing that gives the same event */
    ot_slice json = parse_event_json(ctx);
    char *copy = malloc(json.len);
    CHECK(copy != NULL);
    if (!copy)
        return;
    memcpy(copy, json.ptr, json.len);
    CHECK(parse_record(ctx, copy, json.len, PARSE_KIND_EVENT, NULL, 0, NULL) == 0);
    free(copy);
    CHECK(get_is(ctx, "eventSource", PARSE_STRING, "s3.amazonaws.com"));
    CHECK(get_is(ctx, "userAgent", PARSE_STRING, HOSTILE_VALUE));
}

static void test_control_characters(parse_ctx *ctx)
{
    static const char value[] = "a\x01" "b\x1f" "c\td\"e\\f\x7f" "g\0h";
    size_t value_len = sizeof value - 1;

    CHECK(parse_event(ctx, "{\"requestParameters\":{\"name\":"
                           "\"a\\u0001b\\u001Fc\\td\\\"e\\\\f\x7fg\\u0000h\"},"
                           "\"eventSource\":\"x\"}") == 0);
    ot_slice s;
    CHECK(parse_get(ctx, "requestParameters.name", &s) == PARSE_STRING);
    CHECK(slice_is(s, value, value_len));

    ot_slice obj;
    CHECK(parse_get(ctx, "requestParameters", &obj) == PARSE_OBJECT);
    CHECK(no_raw_control_bytes(obj));
    CHECK(slice_has(obj, "\\u0001"));
    CHECK(slice_has(obj, "\\u0000"));

    /* the object text is valid JSON and carries the same string */
    char *copy = malloc(obj.len);
    CHECK(copy != NULL);
    if (!copy)
        return;
    memcpy(copy, obj.ptr, obj.len);
    CHECK(parse_record(ctx, copy, obj.len, PARSE_KIND_EVENT, NULL, 0, NULL) == 0);
    free(copy); /* the record's bytes need only live for the call */
    CHECK(parse_get(ctx, "name", &s) == PARSE_STRING);
    CHECK(slice_is(s, value, value_len));
    CHECK(no_raw_control_bytes(parse_event_json(ctx)));
}

static void test_two_contexts(void)
{
    parse_ctx *a = parse_create();
    parse_ctx *b = parse_create();
    CHECK(a != NULL && b != NULL);
    if (!a || !b) {
        parse_free(a);
        parse_free(b);
        return;
    }
    ot_slice from_a;
    CHECK(parse_event(a, PLAIN) == 0);
    CHECK(parse_get(a, "eventSource", &from_a) == PARSE_STRING);
    CHECK(parse_event(b, ENVELOPE) == 0);
    CHECK(slice_eq(from_a, "iam.amazonaws.com"));
    CHECK(get_is(b, "eventSource", PARSE_STRING, "organizations.amazonaws.com"));
    parse_free(a);
    parse_free(b);
}

/* Many records through one context: sizes, kinds and failures mixed,
 * including one record larger than the context keeps buffers for. */
static void test_reuse(parse_ctx *ctx)
{
    char err[256];
    int bad = 0;
    for (int i = 0; i < 3000; i++) {
        switch (i % 6) {
        case 0:
            bad += parse_event(ctx, PLAIN) != 0 ||
                   !get_is(ctx, "userIdentity.sessionContext.sessionIssuer.arn", PARSE_STRING,
                           "arn:aws:iam::111122223333:role/Admin") ||
                   !get_is(ctx, "requestParameters", PARSE_OBJECT,
                           "{\"userName\":\"bob\",\"tags\":[]}");
            break;
        case 1:
            bad += parse_wrapped(ctx, CWL_MESSAGE) != 0 ||
                   !get_is(ctx, "eventName", PARSE_STRING, "AssumeRole");
            break;
        case 2:
            bad += !fails(ctx, "{\"a\":", PARSE_KIND_EVENT, err, sizeof err) ||
                   !is_absent(ctx, "a");
            break;
        case 3:
            bad += parse_event(ctx, "{\"u\":\"\xff\"}") != 0 || parse_repaired(ctx) != 1 ||
                   !get_is(ctx, "u", PARSE_STRING, REPLACEMENT);
            break;
        case 4:
            bad += parse_event(ctx, ENVELOPE) != 0 || parse_repaired(ctx) != 0 ||
                   parse_event_json(ctx).len == 0;
            break;
        case 5:
            bad += parse_wrapped(ctx, LOOKUP_EVENT) != 0 ||
                   !get_is(ctx, "eventSource", PARSE_STRING, "organizations.amazonaws.com");
            break;
        }
    }
    CHECK(bad == 0);

    /* a 12 MiB record with invalid UTF-8, then small ones again */
    size_t big_len = (size_t)12 << 20;
    char *big = malloc(big_len);
    CHECK(big != NULL);
    if (!big)
        return;
    static const char head[] = "{\"eventSource\":\"big\",\"userAgent\":\"";
    static const char tail[] = "\xff\"}";
    memcpy(big, head, sizeof head - 1);
    memset(big + sizeof head - 1, 'u', big_len - (sizeof head - 1) - (sizeof tail - 1));
    memcpy(big + big_len - (sizeof tail - 1), tail, sizeof tail - 1);
    CHECK(parse_record(ctx, big, big_len, PARSE_KIND_EVENT, err, sizeof err, NULL) == 0);
    free(big);
    CHECK(parse_repaired(ctx) == 1);
    CHECK(get_is(ctx, "eventSource", PARSE_STRING, "big"));
    ot_slice ua;
    CHECK(parse_get(ctx, "userAgent", &ua) == PARSE_STRING && ua.len > (size_t)11 << 20);
    CHECK(parse_event(ctx, PLAIN) == 0);
    CHECK(get_is(ctx, "eventSource", PARSE_STRING, "iam.amazonaws.com"));
    CHECK(parse_wrapped(ctx, CWL_MESSAGE) == 0);
    CHECK(get_is(ctx, "eventSource", PARSE_STRING, "sts.amazonaws.com"));
}

static void test_null_handles(void)
{
    char err[64];
    ot_slice s = {"junk", 4};
    parse_free(NULL);
    CHECK(parse_record(NULL, "{}", 2, PARSE_KIND_EVENT, err, sizeof err, NULL) == -1);
    CHECK(strlen(err) > 0);
    CHECK(parse_get(NULL, "a", &s) == PARSE_ABSENT && s.len == 0);
    CHECK(parse_repaired(NULL) == 0);
    CHECK(parse_is_digest(NULL) == 0);
    CHECK(parse_event_json(NULL).len == 0);

    /* a fresh context has no event */
    parse_ctx *ctx = parse_create();
    CHECK(ctx != NULL);
    CHECK(is_absent(ctx, "a"));
    CHECK(parse_event_json(ctx).len == 0);
    CHECK(parse_repaired(ctx) == 0);
    parse_free(ctx);
}

int main(void)
{
    parse_ctx *ctx = parse_create();
    CHECK(ctx != NULL);
    if (!ctx) {
        return check_summary();
    }

    test_plain_event(ctx);
    test_top_level_index(ctx);
    test_minified_like_simdjson(ctx);
    test_minified_deep_and_long(ctx);
    test_minified_escape_places(ctx);
    test_get_set(ctx);
    test_envelope(ctx);
    test_wrapped(ctx);
    test_wrapped_failures(ctx);
    test_invalid_json(ctx);
    test_invalid_utf8(ctx);
    test_lone_surrogate_escapes(ctx);
    test_digest(ctx);
    test_hostile_user_agent(ctx);
    test_control_characters(ctx);
    test_reuse(ctx);
    parse_free(ctx);

    test_two_contexts();
    test_null_handles();

    return check_summary();
}
