/*
 * test_s3_sign: SigV4 (src/s3_sign.h) against AWS's published test suite
 * (tests/s3/sigv4: canonical request and signature of each case) and against
 * the Authorization headers botocore's S3SigV4Auth computes for fixed S3
 * requests (pinned below; tests/s3/botocore-sign.py made them).
 *
 * Usage: test_s3_sign DIR (the sigv4 folder).
 */
#include "../check.h"
#include "s3_sign.h"
#include "util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *dir, const char *name, const char *file, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", dir, name, file);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    ot_buf b = { 0 };
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    buf_append(&b, "", 1);
    if (len)
        *len = b.len - 1;
    return b.data;
}

/* The string value of "key" in the small flat JSON of context.json. */
static int json_str(const char *json, const char *key, char *out, size_t len)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(json, pat);
    if (!p)
        return 0;
    p = strchr(p + strlen(pat), ':');
    if (!p)
        return 0;
    p++;
    while (*p == ' ')
        p++;
    if (*p != '"') {
        snprintf(out, len, "%.*s", (int)strcspn(p, ",\n}"), p);
        return 1;
    }
    p++;
    size_t n = strcspn(p, "\"");
    snprintf(out, len, "%.*s", (int)n, p);
    return 1;
}

static int hexv(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : (c | 32) - 'a' + 10;
}

static void run_case(const char *dir, const char *name)
{
    check_context = name;
    size_t reqlen = 0;
    char *req = slurp(dir, name, "request.txt", &reqlen);
    char *ctx = slurp(dir, name, "context.json", NULL);
    char *want_creq = slurp(dir, name, "header-canonical-request.txt", NULL);
    char *want_sig = slurp(dir, name, "header-signature.txt", NULL);
    CHECK(req && ctx && want_creq && want_sig);
    if (!req || !ctx || !want_creq || !want_sig)
        goto out;

    /* request.txt: "METHOD target HTTP/1.1", "Name:value" lines, a blank line, the body. */
    char *body = strstr(req, "\n\n");
    size_t bodylen = 0;
    if (body) {
        *body = '\0';
        body += 2;
        bodylen = reqlen - (size_t)(body - req);
    }
    char *line = req, *next = strchr(line, '\n');
    if (next)
        *next++ = '\0';
    char method[16], target[512];
    char *sp = strchr(line, ' '), *sp2 = strrchr(line, ' ');
    snprintf(method, sizeof method, "%.*s", (int)(sp - line), line);
    snprintf(target, sizeof target, "%.*s", (int)(sp2 - sp - 1), sp + 1);
    char *query = strchr(target, '?');
    if (query)
        *query++ = '\0';
    s3_header h[16];
    size_t nh = 0;
    for (line = next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *colon = strchr(line, ':');
        *colon = '\0';
        h[nh].name = line;
        h[nh++].value = colon + 1;
    }
    char sign_body[8] = "", token[1024] = "", omit[8] = "", ts[32] = "";
    json_str(ctx, "sign_body", sign_body, sizeof sign_body);
    json_str(ctx, "token", token, sizeof token);
    json_str(ctx, "omit_session_token", omit, sizeof omit);
    json_str(ctx, "timestamp", ts, sizeof ts);
    char body_hash[65];
    s3_sha256_hex(body ? body : "", bodylen, body_hash);
    if (strcmp(sign_body, "true") == 0) {
        h[nh].name = "X-Amz-Content-Sha256";
        h[nh++].value = body_hash;
    }
    /* The test suite's paths are sent raw; s3_sign takes the decoded path. */
    char path[512];
    size_t m = 0;
    for (const char *p = target; *p; p++)
        if (p[0] == '%' && p[1] && p[2]) {
            path[m++] = (char)(hexv(p[1]) * 16 + hexv(p[2]));
            p += 2;
        } else {
            path[m++] = *p;
        }
    path[m] = '\0';
    int64_t when;
    int date_only;
    CHECK(parse_time(ts, strlen(ts), &when, &date_only) == 0);
    s3_sign_request r = { method, path, query, h, nh, body_hash };
    s3_sign_key k = { "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                      strcmp(omit, "true") == 0 ? NULL : token, "us-east-1", "service", when };
    s3_signature sig;
    ot_buf creq = { 0 };
    CHECK(s3_sign(&r, &k, &sig, &creq) == 0);
    buf_append(&creq, "", 1);
    CHECK(strcmp(creq.data, want_creq) == 0);
    if (strcmp(creq.data, want_creq) != 0)
        fprintf(stderr, "got:\n%s\nwant:\n%s\n", creq.data, want_creq);
    CHECK(strncmp(sig.signature, want_sig, 64) == 0);
    buf_free(&creq);
out:
    free(req);
    free(ctx);
    free(want_creq);
    free(want_sig);
}

/* Pinned: tests/s3/botocore-sign.py, botocore 1.43.11 (S3SigV4Auth), creds
 * AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 2024-03-01T10:00:00Z. */
static void botocore_cases(void)
{
    static const char empty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    static const struct {
        const char *host, *path, *query, *range, *token, *region, *authz;
    } cases[] = {
        { "examplebucket.s3.us-east-1.amazonaws.com", "/", "list-type=2&delimiter=%2F&prefix=AWSLogs%2F", NULL,
          NULL, "us-east-1",
          "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240301/us-east-1/s3/aws4_request, "
          "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
          "Signature=f2e6847f34c702394c327a3480b01533908306647716741c234ae2e7d7ab5664" },
        { "127.0.0.1:4569", "/bucket/AWSLogs/111122223333/CloudTrail/us-east-1/2024/03/01/a b+c~d.json.gz", NULL,
          "bytes=100-", NULL, "us-east-1",
          "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240301/us-east-1/s3/aws4_request, "
          "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
          "Signature=2d3235c27d1cde8c8f01f2383cfee1a34f7ccbeff4206aa38f5a0902157ce6ce" },
        { "s3.eu-west-1.amazonaws.com", "/my.bucket/key//with/../dots", NULL, NULL, "FwoGZXIvYXdzEXAMPLETOKEN==",
          "eu-west-1",
          "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240301/eu-west-1/s3/aws4_request, "
          "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, "
          "Signature=9591d513ca12b4586b2fff4fb278f797a7d5901d29f7fa96d5236e2e69c0084e" },
        { "examplebucket.s3.us-east-1.amazonaws.com", "/",
          "continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2FwmK0Z%3D&list-type=2", NULL, NULL, "us-east-1",
          "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240301/us-east-1/s3/aws4_request, "
          "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
          "Signature=bafe2ecd062b0452015891bd42a99ce282b56dfa9cd2526fd9f28c890cbdf19e" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_context = cases[i].path;
        s3_header h[3] = { { "Host", cases[i].host }, { "x-amz-content-sha256", empty } };
        size_t nh = 2;
        if (cases[i].range)
            h[nh++] = (s3_header){ "Range", cases[i].range };
        s3_sign_request r = { "GET", cases[i].path, cases[i].query, h, nh, empty };
        s3_sign_key k = { "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", cases[i].token,
                          cases[i].region, "s3", 1709287200 };
        s3_signature sig;
        CHECK(s3_sign(&r, &k, &sig, NULL) == 0);
        CHECK(strcmp(sig.amz_date, "20240301T100000Z") == 0);
        CHECK(strcmp(sig.authorization, cases[i].authz) == 0);
        if (strcmp(sig.authorization, cases[i].authz) != 0)
            fprintf(stderr, "got  %s\nwant %s\n", sig.authorization, cases[i].authz);
    }
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_s3_sign SIGV4-DIR\n");
        return 2;
    }
    DIR *d = opendir(argv[1]);
    CHECK(d != NULL);
    char *names[64];
    size_t n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && n < 64)
        if (e->d_name[0] != '.' && e->d_type == DT_DIR)
            names[n++] = strdup(e->d_name);
    if (d)
        closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    CHECK(n >= 25);
    for (size_t i = 0; i < n; i++) {
        run_case(argv[1], names[i]);
        free(names[i]);
    }
    botocore_cases();
    check_context = "";
    return check_summary();
}
