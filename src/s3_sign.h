/*
 * s3_sign: AWS Signature Version 4 for one HTTP request, S3 style: the path
 * is URI-encoded once and never normalized (an S3 key may hold "//" or
 * "/../"), the payload hash is a header of its own (x-amz-content-sha256).
 * Written against OpenSSL's SHA-256 and HMAC so the canonical request can be
 * tested line by line against AWS's published test suite (tests/s3/sigv4).
 */
#ifndef ORGTRAIL_S3_SIGN_H
#define ORGTRAIL_S3_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

typedef struct {
    const char *name, *value;
} s3_header;

typedef struct {
    const char *method;            /* "GET" */
    const char *path;              /* decoded, from "/": encoded here, '/' kept */
    const char *query;             /* "a=b&c=d" as sent (encoded or not), or NULL */
    const s3_header *headers;      /* as sent; must include host */
    size_t nheaders;
    const char *payload_sha256;    /* hex; NULL: the empty body's */
} s3_sign_request;

typedef struct {
    const char *access_key, *secret_key;
    const char *session_token;     /* NULL or "": none */
    const char *region, *service;  /* "us-east-1", "s3" */
    int64_t when;                  /* seconds since 1970 UTC */
} s3_sign_key;

/* What s3_sign made; the caller sends x-amz-date, authorization and (with a
 * session token) x-amz-security-token = key->session_token. */
typedef struct {
    char amz_date[17];             /* 20150830T123600Z */
    char authorization[512];
    char signature[65];
} s3_signature;

/*
 * Signs req. canonical, when not NULL, receives the canonical request (for
 * tests and for a SignatureDoesNotMatch diagnosis). Returns 0, -ENOMEM, or
 * -EINVAL when the Authorization value would not fit.
 */
int s3_sign(const s3_sign_request *req, const s3_sign_key *key, s3_signature *out, ot_buf *canonical);

/* Lower-case hex SHA-256 of n bytes into hex[65]. */
void s3_sha256_hex(const void *p, size_t n, char hex[65]);

/* NUL-terminates b (ot_buf does not) without counting it, so b->data is a C
 * string. Returns 0 or -ENOMEM. */
int s3_buf_terminate(ot_buf *b);

/* Appends s, n bytes, URI-encoded per RFC 3986: unreserved bytes as they
 * are, '/' too when keep_slash, every other byte as %XX. Returns 0 or -ENOMEM. */
int s3_uri_encode(ot_buf *b, const char *s, size_t n, int keep_slash);

#endif
