#define _GNU_SOURCE   /* strndup */
#include "digest.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The string field at path into *out (NULL when absent or null). Returns
 * 0, 1 when it is there but not a string, or -ENOMEM. */
static int take_string(enum parse_type t, ot_slice s, char **out)
{
    *out = NULL;
    if (t == PARSE_ABSENT || t == PARSE_NULL)
        return 0;
    if (t != PARSE_STRING)
        return 1;
    *out = strndup(s.ptr, s.len);
    return *out ? 0 : -ENOMEM;
}

void digest_info_clear(digest_info *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nlogs; i++) {
        digest_log *l = &d->logs[i];
        free(l->s3_bucket);
        free(l->s3_object);
        free(l->hash_value);
        free(l->oldest_event_time);
        free(l->newest_event_time);
    }
    free(d->logs);
    free(d->start_time);
    free(d->end_time);
    free(d->s3_bucket);
    free(d->s3_object);
    free(d->fingerprint);
    free(d->signature_algorithm);
    free(d->prev_bucket);
    free(d->prev_object);
    free(d->prev_hash);
    free(d->prev_signature);
    memset(d, 0, sizeof *d);
}

static int parse_logs(parse_ctx *ctx, digest_info *d, char *err, size_t errlen)
{
    static const char *const member[] = { "s3Bucket", "s3Object", "hashValue", "oldestEventTime",
                                          "newestEventTime" };
    long len = parse_array_len(ctx, "logFiles");
    if (len < 0) {
        snprintf(err, errlen, "logFiles is not an array");
        return 1;
    }
    size_t n = (size_t)len;
    d->logs = n ? calloc(n, sizeof *d->logs) : NULL;
    if (n && !d->logs)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        digest_log *l = &d->logs[i];
        char **field[] = { &l->s3_bucket, &l->s3_object, &l->hash_value, &l->oldest_event_time,
                           &l->newest_event_time };
        d->nlogs = i + 1;
        for (size_t f = 0; f < sizeof field / sizeof field[0]; f++) {
            ot_slice s;
            int rc = take_string(parse_get_element(ctx, "logFiles", i, member[f], &s), s, field[f]);
            if (rc < 0)
                return rc;
            if (rc > 0 || (f < 3 && !*field[f])) {
                snprintf(err, errlen, "logFiles[%zu].%s is missing or not a string", i, member[f]);
                return 1;
            }
        }
        /* hashes compare as text: the digest writes lower-case hex */
        for (char *p = l->hash_value; *p; p++)
            if (*p >= 'A' && *p <= 'F')
                *p = (char)(*p - 'A' + 'a');
    }
    return 0;
}

int digest_parse(parse_ctx *ctx, const char *text, size_t len, digest_info *d, char *err, size_t errlen)
{
    static const char *const names[] = { "digestStartTime", "digestEndTime", "digestS3Bucket", "digestS3Object",
                                         "digestPublicKeyFingerprint", "digestSignatureAlgorithm",
                                         "previousDigestS3Bucket", "previousDigestS3Object",
                                         "previousDigestHashValue", "previousDigestSignature" };
    enum { REQUIRED = 5 };       /* the first five must be there */
    memset(d, 0, sizeof *d);
    size_t off = 0;
    int rc = -1;
    if (parse_record(ctx, text, len, PARSE_KIND_EVENT, err, errlen, &off) != 0)
        return -1;
    if (!parse_is_digest(ctx)) {
        snprintf(err, errlen, "not a CloudTrail digest (no digestStartTime and logFiles)");
        return -1;
    }
    char **field[] = { &d->start_time, &d->end_time, &d->s3_bucket, &d->s3_object, &d->fingerprint,
                       &d->signature_algorithm, &d->prev_bucket, &d->prev_object, &d->prev_hash,
                       &d->prev_signature };
    for (size_t f = 0; f < sizeof names / sizeof names[0]; f++) {
        ot_slice s;
        int r = take_string(parse_get(ctx, names[f], &s), s, field[f]);
        if (r < 0)
            goto oom;
        if (r > 0 || (f < REQUIRED && !*field[f])) {
            snprintf(err, errlen, "%s is missing or not a string", names[f]);
            goto out;
        }
    }
    int date_only;
    if (parse_time(d->start_time, strlen(d->start_time), &d->start, &date_only) ||
        parse_time(d->end_time, strlen(d->end_time), &d->end, &date_only)) {
        snprintf(err, errlen, "digestStartTime or digestEndTime is not a time");
        goto out;
    }
    int r = parse_logs(ctx, d, err, errlen);
    if (r < 0)
        goto oom;
    if (r > 0)
        goto out;
    for (char *p = d->prev_hash; p && *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
out:
    digest_info_clear(d);
    return rc;
}

int digest_sha256_hex(const void *p, size_t n, char hex[DIGEST_SHA256_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1)
        return -ENOMEM;
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

int digest_signing_string(const digest_info *d, const char *sha256_hex, ot_buf *out)
{
    return buf_printf(out, "%s\n%s/%s\n%s\n%s", d->end_time, d->s3_bucket, d->s3_object, sha256_hex,
                      d->prev_signature ? d->prev_signature : "null");
}

/* ---- public keys ------------------------------------------------------- */

typedef struct {
    char *fingerprint;
    EVP_PKEY *key;
} public_key;

struct digest_keys {
    public_key *keys;
    size_t n;
};

void digest_keys_free(digest_keys *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->n; i++) {
        free(k->keys[i].fingerprint);
        EVP_PKEY_free(k->keys[i].key);
    }
    free(k->keys);
    free(k);
}

size_t digest_keys_count(const digest_keys *k)
{
    return k ? k->n : 0;
}

/* A base64 DER PKCS#1 RSAPublicKey as a key, or NULL. */
static EVP_PKEY *key_from_base64(ot_slice b64)
{
    EVP_PKEY *key = NULL;
    unsigned char *der = malloc(b64.len / 4 * 3 + 3);
    if (!der || b64.len % 4 != 0 || b64.len > INT32_MAX)
        goto out;
    int n = EVP_DecodeBlock(der, (const unsigned char *)b64.ptr, (int)b64.len);
    if (n < 0)
        goto out;
    /* EVP_DecodeBlock counts the padding's zero bytes too */
    for (size_t i = b64.len; i > 0 && b64.ptr[i - 1] == '='; i--)
        n--;
    const unsigned char *p = der;
    key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, n);
out:
    free(der);
    return key;
}

digest_keys *digest_keys_load(parse_ctx *ctx, const char *text, size_t len, char *err, size_t errlen,
                              size_t *offset)
{
    *offset = 0;
    digest_keys *k = calloc(1, sizeof *k);
    if (!k)
        goto oom;
    if (parse_record(ctx, text, len, PARSE_KIND_EVENT, err, errlen, offset) != 0)
        goto fail;
    ot_slice s;
    if (parse_get(ctx, "PublicKeyList", &s) != PARSE_ARRAY) {
        snprintf(err, errlen, "no PublicKeyList array (want the output of 'aws cloudtrail list-public-keys')");
        goto fail;
    }
    size_t n = (size_t)parse_array_len(ctx, "PublicKeyList");    /* an array: parse_get said so */
    k->keys = n ? calloc(n, sizeof *k->keys) : NULL;
    if (n && !k->keys)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        ot_slice value, fp;
        if (parse_get_element(ctx, "PublicKeyList", i, "Value", &value) != PARSE_STRING ||
            parse_get_element(ctx, "PublicKeyList", i, "Fingerprint", &fp) != PARSE_STRING) {
            snprintf(err, errlen, "PublicKeyList[%zu] has no Value or Fingerprint string", i);
            goto fail;
        }
        public_key *pk = &k->keys[k->n];
        pk->key = key_from_base64(value);
        if (!pk->key) {
            snprintf(err, errlen, "PublicKeyList[%zu].Value is not a base64 DER RSA public key", i);
            goto fail;
        }
        k->n++;
        pk->fingerprint = strndup(fp.ptr, fp.len);
        if (!pk->fingerprint)
            goto oom;
    }
    return k;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    digest_keys_free(k);
    return NULL;
}

int digest_keys_verify(const digest_keys *k, const char *fingerprint, const char *msg, size_t len,
                       const char *signature_hex)
{
    EVP_PKEY *key = NULL;
    for (size_t i = 0; k && fingerprint && i < k->n && !key; i++)
        if (strcasecmp(k->keys[i].fingerprint, fingerprint) == 0)
            key = k->keys[i].key;
    if (!key)
        return DIGEST_KEY_UNKNOWN;
    int rc = DIGEST_SIGNATURE_BAD;
    long siglen = 0;
    unsigned char *sig = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) {
        rc = -ENOMEM;
        goto out;
    }
    /* OpenSSL's hex reader also takes "ab:cd"; CloudTrail writes plain hex */
    if (strchr(signature_hex, ':'))
        goto out;
    sig = OPENSSL_hexstr2buf(signature_hex, &siglen);
    if (!sig) {
        ERR_clear_error();    /* not hex: a bad signature, not an error to keep */
        goto out;
    }
    /* RSA keys default to PKCS#1 v1.5 padding, which is what CloudTrail uses */
    if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
        EVP_DigestVerify(md, sig, (size_t)siglen, (const unsigned char *)msg, len) == 1)
        rc = DIGEST_SIGNATURE_OK;
out:
    EVP_MD_CTX_free(md);
    OPENSSL_free(sig);
    return rc;
}
