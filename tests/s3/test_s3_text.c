/*
 * test_s3_text: the small parsers the S3 modules read AWS's answers with
 * (s3_xml_text, s3_json_text: src/s3_creds.h) and s3:// URLs (s3_url_parse:
 * src/s3_client.h), on the edge cases S3 keys and STS answers carry.
 */
#include "../check.h"
#include "s3_client.h"
#include "s3_creds.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int xml_is(const char *xml, const char *tag, const char **at, const char *want)
{
    char *got = s3_xml_text(xml, tag, at);
    int ok = want ? got && strcmp(got, want) == 0 : got == NULL;
    if (!ok)
        fprintf(stderr, "  s3_xml_text(%s) = [%s], want [%s]\n", tag, got ? got : "(null)", want ? want : "(null)");
    free(got);
    return ok;
}

static int json_is(const char *json, const char *key, const char *want)
{
    char *got = s3_json_text(json, key);
    int ok = want ? got && strcmp(got, want) == 0 : got == NULL;
    if (!ok)
        fprintf(stderr, "  s3_json_text(%s) = [%s], want [%s]\n", key, got ? got : "(null)", want ? want : "(null)");
    free(got);
    return ok;
}

static void test_xml(void)
{
    /* Keys come back entity-encoded; S3 writes a CR in a key as &#13;. */
    const char *list = "<ListBucketResult><Contents><Key>a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;</Key></Contents>"
                       "<Contents><Key>cr&#13;lf&#x0A;end</Key></Contents>"
                       "<Contents><Key>&bogus; & alone</Key></Contents><IsTruncated>false</IsTruncated>"
                       "</ListBucketResult>";
    const char *at = list;
    CHECK(xml_is(list, "Key", &at, "a&b <c> \"d\" 'e'"));
    CHECK(xml_is(list, "Key", &at, "cr\rlf\nend"));
    CHECK(xml_is(list, "Key", &at, "&bogus; & alone"));
    CHECK(xml_is(list, "Key", &at, NULL));
    CHECK(xml_is(list, "IsTruncated", NULL, "false"));
    CHECK(xml_is(list, "NextContinuationToken", NULL, NULL));
    CHECK(xml_is("<Code>SlowDown", "Code", NULL, NULL));     /* unterminated */
    CHECK(xml_is("<Key></Key>", "Key", NULL, ""));
}

static void test_json(void)
{
    const char *doc = "{ \"Version\": 1, \"AccessKeyId\" : \"AKID\",\n \"SecretAccessKey\":\"a\\\"b\\\\c\\/d\","
                      " \"Token\": \"\", \"Expiration\": \"2031-01-02T03:04:05Z\" }";
    CHECK(json_is(doc, "AccessKeyId", "AKID"));
    CHECK(json_is(doc, "SecretAccessKey", "a\"b\\c/d"));
    CHECK(json_is(doc, "Token", ""));
    CHECK(json_is(doc, "SessionToken", NULL));
    CHECK(json_is(doc, "Version", NULL));                      /* not a string */
    CHECK(json_is("{\"AccessKeyId\": \"unterminated", "AccessKeyId", NULL));
}

static void test_url(void)
{
    char *b, *p;
    CHECK(s3_url_parse("s3://bucket", &b, &p) == 0 && strcmp(b, "bucket") == 0 && strcmp(p, "") == 0);
    free(b);
    free(p);
    CHECK(s3_url_parse("s3://my.bucket/AWSLogs/o-x/", &b, &p) == 0 && strcmp(b, "my.bucket") == 0 &&
          strcmp(p, "AWSLogs/o-x/") == 0);
    free(b);
    free(p);
    CHECK(s3_url_parse("s3://", &b, &p) == -EINVAL && !b && !p);
    CHECK(s3_url_parse("s3:///key", &b, &p) == -EINVAL);
    CHECK(s3_url_parse("/local/path", &b, &p) == -EINVAL);
    CHECK(s3_url_parse("S3://bucket", &b, &p) == -EINVAL);
}

int main(void)
{
    test_xml();
    test_json();
    test_url();
    return check_summary();
}
