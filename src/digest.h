/*
 * digest: one CloudTrail digest file, its signing string, and the public
 * keys that verify its signature.
 *
 * The fields are AWS's ("CloudTrail digest file structure",
 * https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-digest-file-structure.html),
 * and the signing string is the one of "Custom implementations of CloudTrail
 * log file integrity validation"
 * (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-custom-validation.html):
 *
 *     digestEndTime "\n" digestS3Bucket "/" digestS3Object "\n"
 *     hex(SHA-256(uncompressed digest)) "\n" previousDigestSignature (or "null")
 *
 * signed with RSA PKCS#1 v1.5 over SHA-256. All crypto is OpenSSL's.
 */
#ifndef ORGTRAIL_DIGEST_H
#define ORGTRAIL_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "parse.h"
#include "util.h"

#define DIGEST_SHA256_HEX 65      /* 64 hex digits and a NUL */

/* One logFiles[] entry. Strings are owned by the digest_info. */
typedef struct {
    char *s3_bucket, *s3_object;
    char *hash_value;             /* lower-case hex, as the digest has it */
    char *oldest_event_time, *newest_event_time;  /* NULL when absent */
} digest_log;

/* A parsed digest. Every string is a NUL-terminated copy (NULL when the
 * field is absent or null), freed by digest_info_clear. */
typedef struct {
    char *start_time, *end_time;  /* as written (the signing string uses end_time's text) */
    int64_t start, end;           /* seconds since 1970, UTC */
    char *s3_bucket, *s3_object;
    char *fingerprint;            /* digestPublicKeyFingerprint */
    char *signature_algorithm;
    char *prev_bucket, *prev_object;
    char *prev_hash;              /* previousDigestHashValue */
    char *prev_signature;         /* previousDigestSignature; NULL for the first of a chain */
    digest_log *logs;
    size_t nlogs;
} digest_info;

/*
 * Parses the uncompressed digest text[0..len) with ctx. Returns 0, or -1
 * with a one-line reason in err (invalid JSON, a required field missing,
 * -ENOMEM as "out of memory"). On failure *d holds nothing to free.
 */
int digest_parse(parse_ctx *ctx, const char *text, size_t len, digest_info *d, char *err, size_t errlen);
void digest_info_clear(digest_info *d);

/* hex(SHA-256(p[0..n))) into hex (DIGEST_SHA256_HEX bytes). Returns 0 or -ENOMEM. */
int digest_sha256_hex(const void *p, size_t n, char hex[DIGEST_SHA256_HEX]);

/* The string AWS signs, for d and the hex SHA-256 of its uncompressed
 * text, appended to out. Returns 0 or -ENOMEM. */
int digest_signing_string(const digest_info *d, const char *sha256_hex, ot_buf *out);

/* The public keys of `aws cloudtrail list-public-keys`. */
typedef struct digest_keys digest_keys;

/*
 * Loads the JSON that `aws cloudtrail list-public-keys` prints:
 * {"PublicKeyList":[{"Value": base64 DER PKCS#1 RSAPublicKey,
 * "Fingerprint": hex, ...}, ...]}. Returns the keys, or NULL with a
 * one-line reason in err (and *offset, the byte offset of the problem
 * when known, else 0).
 */
digest_keys *digest_keys_load(parse_ctx *ctx, const char *text, size_t len, char *err, size_t errlen,
                              size_t *offset);
/* Accepts NULL. */
void digest_keys_free(digest_keys *k);
size_t digest_keys_count(const digest_keys *k);

enum digest_verdict {
    DIGEST_SIGNATURE_OK = 0,
    DIGEST_SIGNATURE_BAD = 1,     /* does not verify, or is not hex */
    DIGEST_KEY_UNKNOWN = 2,       /* no key with that fingerprint */
};

/* Whether signature_hex is the RSA/SHA-256 signature of msg[0..len) under
 * the key with fingerprint. Returns a digest_verdict, or -ENOMEM. */
int digest_keys_verify(const digest_keys *k, const char *fingerprint, const char *msg, size_t len,
                       const char *signature_hex);

#endif
