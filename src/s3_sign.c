#include "s3_sign.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

static const char hexdigits[] = "0123456789abcdef";

static void to_hex(const unsigned char *p, size_t n, char *hex)
{
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = hexdigits[p[i] >> 4];
        hex[2 * i + 1] = hexdigits[p[i] & 15];
    }
    hex[2 * n] = '\0';
}

void s3_sha256_hex(const void *p, size_t n, char hex[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(p, n, md);
    to_hex(md, sizeof md, hex);
}

static void hmac(const void *key, size_t klen, const char *msg, size_t mlen, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, out, &len);
}

int s3_buf_terminate(ot_buf *b)
{
    if (buf_reserve(b, 1) < 0)
        return -ENOMEM;
    b->data[b->len] = '\0';
    return 0;
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~';
}

int s3_uri_encode(ot_buf *b, const char *s, size_t n, int keep_slash)
{
    if (buf_reserve(b, n * 3 + 1) < 0)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            b->data[b->len++] = (char)c;
        } else {
            b->data[b->len++] = '%';
            b->data[b->len++] = "0123456789ABCDEF"[c >> 4];
            b->data[b->len++] = "0123456789ABCDEF"[c & 15];
        }
    }
    b->data[b->len] = '\0';
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes %XX of s (n bytes), then encodes it the canonical way. */
static int recode(ot_buf *b, const char *s, size_t n)
{
    char *tmp = malloc(n + 1);
    if (!tmp)
        return -ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            tmp[m++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            tmp[m++] = s[i];
        }
    }
    int rc = s3_uri_encode(b, tmp, m, 0);
    free(tmp);
    return rc;
}

typedef struct {
    char *key, *value;             /* canonical (encoded) */
} query_pair;

static int cmp_pairs(const void *a, const void *b)
{
    const query_pair *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

/* The canonical query string: pairs re-encoded, sorted by key then value. */
static int canonical_query(ot_buf *out, const char *q)
{
    int rc = 0;
    query_pair *pairs = NULL;
    size_t n = 0, cap = 0;
    for (const char *p = q; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t klen = eq ? (size_t)(eq - p) : len;
            ot_buf k = { 0 }, v = { 0 };
            if (ot_grow(&pairs, &cap, n, sizeof *pairs, 8)) {
                rc = -ENOMEM;
                goto out;
            }
            if (recode(&k, p, klen) < 0 || recode(&v, eq ? eq + 1 : "", eq ? len - klen - 1 : 0) < 0) {
                buf_free(&k);
                buf_free(&v);
                rc = -ENOMEM;
                goto out;
            }
            pairs[n].key = k.data;     /* s3_uri_encode allocated and terminated both */
            pairs[n++].value = v.data;
        }
        p = amp ? amp + 1 : NULL;
    }
    if (n > 1)
        qsort(pairs, n, sizeof *pairs, cmp_pairs);
    for (size_t i = 0; i < n; i++)
        if (buf_printf(out, "%s%s=%s", i ? "&" : "", pairs[i].key, pairs[i].value) < 0) {
            rc = -ENOMEM;
            goto out;
        }
out:
    for (size_t i = 0; i < n; i++) {
        free(pairs[i].key);
        free(pairs[i].value);
    }
    free(pairs);
    return rc;
}

typedef struct {
    char *name;                    /* lower case */
    ot_buf value;                  /* trimmed, inner runs of spaces as one, duplicates joined by ',' */
    size_t order;
} canon_header;

static int cmp_headers(const void *a, const void *b)
{
    const canon_header *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static int append_trimmed(ot_buf *b, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < n; i++) {
        int space = v[i] == ' ' || v[i] == '\t';
        if (space && i > 0 && (v[i - 1] == ' ' || v[i - 1] == '\t'))
            continue;
        if (buf_append(b, space ? " " : &v[i], 1) < 0)
            return -ENOMEM;
    }
    return s3_buf_terminate(b);
}

int s3_sign(const s3_sign_request *req, const s3_sign_key *key, s3_signature *out, ot_buf *canonical)
{
    int rc = -ENOMEM;
    ot_buf creq = { 0 }, sts = { 0 }, signed_names = { 0 };
    const char *token = key->session_token && *key->session_token ? key->session_token : NULL;
    size_t nh = req->nheaders + 2;
    canon_header *h = calloc(nh, sizeof *h);
    if (!h)
        goto out;

    struct tm tm;
    time_t t = (time_t)key->when;
    gmtime_r(&t, &tm);
    strftime(out->amz_date, sizeof out->amz_date, "%Y%m%dT%H%M%SZ", &tm);
    char date[9];
    memcpy(date, out->amz_date, 8);
    date[8] = '\0';

    /* Headers: the request's plus x-amz-date and the session token. */
    size_t n = 0;
    for (size_t i = 0; i < nh; i++) {
        const char *name = i < req->nheaders ? req->headers[i].name : i == req->nheaders ? "x-amz-date" : "x-amz-security-token";
        const char *value = i < req->nheaders ? req->headers[i].value : i == req->nheaders ? out->amz_date : token;
        if (!value)
            continue;
        char *lower = strdup(name);
        if (!lower)
            goto out;
        for (char *c = lower; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        size_t j = 0;
        while (j < n && strcmp(h[j].name, lower) != 0)
            j++;
        if (j < n) {
            free(lower);
            if (i >= req->nheaders)
                continue;          /* the caller passed x-amz-date or the token itself */
            if (buf_append(&h[j].value, ",", 1) < 0 || append_trimmed(&h[j].value, value) < 0)
                goto out;
            continue;
        }
        h[n].name = lower;
        h[n].order = n;
        if (append_trimmed(&h[n++].value, value) < 0)
            goto out;
    }
    qsort(h, n, sizeof *h, cmp_headers);

    /* The canonical request. */
    if (buf_printf(&creq, "%s\n", req->method) < 0 || s3_uri_encode(&creq, req->path, strlen(req->path), 1) < 0 ||
        buf_append(&creq, "\n", 1) < 0 || canonical_query(&creq, req->query) < 0 || buf_append(&creq, "\n", 1) < 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (buf_printf(&creq, "%s:%s\n", h[i].name, h[i].value.data ? h[i].value.data : "") < 0 ||
            buf_printf(&signed_names, "%s%s", i ? ";" : "", h[i].name) < 0)
            goto out;
    char empty_hash[65];
    const char *payload = req->payload_sha256;
    if (!payload) {
        s3_sha256_hex("", 0, empty_hash);
        payload = empty_hash;
    }
    if (s3_buf_terminate(&signed_names) < 0 || buf_printf(&creq, "\n%s\n%s", signed_names.data, payload) < 0)
        goto out;

    /* The string to sign, and the key derived for this day, region and service. */
    char creq_hash[65];
    s3_sha256_hex(creq.data, creq.len, creq_hash);
    if (buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", out->amz_date, date, key->region,
                   key->service, creq_hash) < 0)
        goto out;
    unsigned char k[32];
    ot_buf secret = { 0 };
    if (buf_printf(&secret, "AWS4%s", key->secret_key) < 0)
        goto out;
    hmac(secret.data, secret.len, date, strlen(date), k);
    OPENSSL_cleanse(secret.data, secret.len);
    buf_free(&secret);
    hmac(k, 32, key->region, strlen(key->region), k);
    hmac(k, 32, key->service, strlen(key->service), k);
    hmac(k, 32, "aws4_request", 12, k);
    unsigned char sig[32];
    hmac(k, 32, sts.data, sts.len, sig);
    OPENSSL_cleanse(k, sizeof k);
    to_hex(sig, 32, out->signature);

    int w = snprintf(out->authorization, sizeof out->authorization,
                     "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
                     key->access_key, date, key->region, key->service, signed_names.data, out->signature);
    if (w < 0 || (size_t)w >= sizeof out->authorization) {
        rc = -EINVAL;
        goto out;
    }
    if (canonical && buf_append(canonical, creq.data, creq.len) < 0)
        goto out;
    rc = 0;
out:
    for (size_t i = 0; h && i < nh; i++) {
        free(h[i].name);
        buf_free(&h[i].value);
    }
    free(h);
    buf_free(&creq);
    buf_free(&sts);
    buf_free(&signed_names);
    return rc;
}
