/* digest: the fields and the signing string of AWS's example digest
 * (tests/verify/aws-example-digest.json), a chain's first digest, digests
 * that are not (a logFiles that is no array among them), and the public-key
 * checks that need no key.
 * usage: test_verify DIR (tests/verify) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "digest.h"
#include "parse.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len == cap) {
            cap = cap ? cap * 2 : 4096;
            buf = realloc(buf, cap);
            if (!buf)
                break;
        }
        size_t got = fread(buf + *len, 1, cap - *len, f);
        if (got == 0)
            break;
        *len += got;
    }
    fclose(f);
    return buf;
}

/* The signing string of AWS's example, field by field as the custom
 * validation page describes it. */
static void test_aws_example_signing_string(parse_ctx *ctx, const char *text, size_t len)
{
    check_context = "aws example";
    digest_info d;
    char err[200] = "";
    CHECK(digest_parse(ctx, text, len, &d, err, sizeof err) == 0);
    if (err[0])
        fprintf(stderr, "  %s\n", err);
    CHECK(d.end == 1439823691);              /* 2015-08-17T15:01:31Z */
    CHECK(d.end - d.start == 3600);
    CHECK(strcmp(d.fingerprint, "31e8b5433410dfb61a9dc45cc65b22ff") == 0);
    CHECK(strcmp(d.signature_algorithm, "SHA256withRSA") == 0);
    CHECK(d.prev_hash && strcmp(d.prev_hash, "97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2d") == 0);
    CHECK(d.nlogs == 1);
    if (d.nlogs == 1) {
        CHECK(strcmp(d.logs[0].s3_object, "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/"
                                          "111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz") == 0);
        CHECK(strcmp(d.logs[0].hash_value, "9bb6196fc6b84d6f075a56548feca262bd99ba3c2de41b618e5b6e22c1fc71f6") == 0);
        CHECK(strcmp(d.logs[0].newest_event_time, "2015-08-17T14:52:27Z") == 0);
    }

    char sha[DIGEST_SHA256_HEX];
    CHECK(digest_sha256_hex(text, len, sha) == 0);
    ot_buf got = { 0 }, want = { 0 };
    CHECK(digest_signing_string(&d, sha, &got) == 0);
    buf_printf(&want, "2015-08-17T15:01:31Z\n"
                      "amzn-s3-demo-bucket/AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/"
                      "111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz\n"
                      "%s\n"
                      "50887ccffad4c002b97caa37cc9dc626e3c680207d41d27fa5835458e066e0d3652fc4dfc30937e4d5f4cc7f796e7a"
                      "258fb50a43ac427f2237f6e505d4efaf373d156e1", sha);
    CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0);
    if (got.len != want.len || memcmp(got.data, want.data, got.len) != 0)
        fprintf(stderr, "  got:\n%.*s\n  want:\n%.*s\n", (int)got.len, got.data, (int)want.len, want.data);
    buf_free(&got);
    buf_free(&want);
    digest_info_clear(&d);
}

/* The first digest of a chain has null previous fields: the signing string
 * ends in "null". */
static void test_first_of_chain(parse_ctx *ctx)
{
    check_context = "first of chain";
    static const char text[] =
        "{\"digestStartTime\":\"2024-03-01T00:00:31Z\",\"digestEndTime\":\"2024-03-01T01:00:31Z\","
        "\"digestS3Bucket\":\"b\",\"digestS3Object\":\"AWSLogs/1/CloudTrail-Digest/r/x.json.gz\","
        "\"digestPublicKeyFingerprint\":\"ab\",\"digestSignatureAlgorithm\":\"SHA256withRSA\","
        "\"previousDigestS3Bucket\":null,\"previousDigestS3Object\":null,\"previousDigestHashValue\":null,"
        "\"previousDigestHashAlgorithm\":null,\"previousDigestSignature\":null,\"logFiles\":[]}";
    digest_info d;
    char err[200];
    CHECK(digest_parse(ctx, text, sizeof text - 1, &d, err, sizeof err) == 0);
    CHECK(d.prev_object == NULL && d.prev_signature == NULL && d.nlogs == 0);
    ot_buf got = { 0 };
    CHECK(digest_signing_string(&d, "00", &got) == 0);
    static const char want[] = "2024-03-01T01:00:31Z\nb/AWSLogs/1/CloudTrail-Digest/r/x.json.gz\n00\nnull";
    CHECK(got.len == sizeof want - 1 && memcmp(got.data, want, got.len) == 0);
    buf_free(&got);
    digest_info_clear(&d);
}

/* Not digests: each says why, and leaves nothing to free. */
static void test_not_digests(parse_ctx *ctx)
{
    static const char *const texts[] = {
        "{\"Records\":[]}",
        "{\"digestStartTime\":\"2024-03-01T00:00:31Z\",\"logFiles\":[]}",
        "{\"digestStartTime\":\"x\",\"digestEndTime\":\"y\",\"digestS3Bucket\":\"b\",\"digestS3Object\":\"o\","
        "\"digestPublicKeyFingerprint\":\"f\",\"logFiles\":[]}",
        "{\"digestStartTime\":\"2024-03-01T00:00:31Z\",\"digestEndTime\":\"2024-03-01T01:00:31Z\","
        "\"digestS3Bucket\":\"b\",\"digestS3Object\":\"o\",\"digestPublicKeyFingerprint\":\"f\","
        "\"logFiles\":[{\"s3Bucket\":\"b\",\"s3Object\":7}]}",
        "{\"digestStartTime\":\"2024-03-01T00:00:31Z\",\"digestEndTime\":\"2024-03-01T01:00:31Z\","
        "\"digestS3Bucket\":\"b\",\"digestS3Object\":\"o\",\"digestPublicKeyFingerprint\":\"f\","
        "\"logFiles\":{}}",
        "{\"digestStartTime\":",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        check_context = texts[i];
        digest_info d;
        char err[200] = "";
        CHECK(digest_parse(ctx, texts[i], strlen(texts[i]), &d, err, sizeof err) == -1);
        CHECK(err[0] != '\0');
        CHECK(d.nlogs == 0 && d.logs == NULL && d.end_time == NULL);
    }
}

/* Keys that cannot verify anything, and signatures that are not hex. */
static void test_keys(parse_ctx *ctx)
{
    check_context = "keys";
    char err[200];
    size_t off;
    static const char none[] = "{\"PublicKeyList\":[]}";
    digest_keys *k = digest_keys_load(ctx, none, sizeof none - 1, err, sizeof err, &off);
    CHECK(k != NULL && digest_keys_count(k) == 0);
    CHECK(digest_keys_verify(k, "31e8b5433410dfb61a9dc45cc65b22ff", "m", 1, "00") == DIGEST_KEY_UNKNOWN);
    digest_keys_free(k);
    static const char bad[] = "{\"PublicKeyList\":[{\"Value\":\"bm90IGEga2V5\",\"Fingerprint\":\"ab\"}]}";
    CHECK(digest_keys_load(ctx, bad, sizeof bad - 1, err, sizeof err, &off) == NULL);
    CHECK(strstr(err, "PublicKeyList[0]") != NULL);
    static const char other[] = "{\"Records\":[]}";
    CHECK(digest_keys_load(ctx, other, sizeof other - 1, err, sizeof err, &off) == NULL);
    digest_keys_free(NULL);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_verify DIR\n");
        return 2;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/aws-example-digest.json", argv[1]);
    size_t len = 0;
    char *text = slurp(path, &len);
    CHECK(text != NULL);
    parse_ctx *ctx = parse_create();
    if (text)
        test_aws_example_signing_string(ctx, text, len);
    test_first_of_chain(ctx);
    test_not_digests(ctx);
    test_keys(ctx);
    parse_free(ctx);
    free(text);
    return check_summary();
}
