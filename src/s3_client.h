/*
 * s3_client: S3 as an input source, in two halves that the scan's walk and
 * reader stages wrap:
 *
 *   s3_lister   ListObjectsV2 (delimiter "/", continuation tokens) over the
 *               AWSLogs layout, pruned with walk.h's own rules before a
 *               folder is listed. Keys come out in the order a local walk
 *               of a mirror of the bucket gives: each folder's entries
 *               sorted byte-wise by name, depth first. A one-day
 *               --since/--until lists the day folders it needs (plus the
 *               key slack) directly, not the year and month folders.
 *   s3_fetcher  GETs with libcurl's multi interface: up to N objects in
 *               flight over kept-alive connections, each body handed to a
 *               callback in chunks tagged with the caller's sequence
 *               number, never written to disk. 500/502/503/504, SlowDown,
 *               InternalError, RequestTimeout and broken connections are
 *               retried with capped exponential backoff and full jitter; a
 *               body cut short resumes with a Range request (If-Match the
 *               first answer's ETag), so the callback sees each byte once.
 *
 * Requests are signed with SigV4 (s3_sign.h) from s3_creds.h's chain;
 * credentials that expire are fetched again five minutes before. One thread
 * drives a client: its lister and fetchers are not shared across threads.
 */
#ifndef ORGTRAIL_S3_CLIENT_H
#define ORGTRAIL_S3_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "s3_creds.h"
#include "walk.h"

typedef struct s3_client s3_client;

typedef struct {
    unsigned max_attempts;        /* per request, first included; 0: 6 */
    unsigned backoff_base_ms;     /* first retry waits up to this; 0: 100 */
    unsigned backoff_cap_ms;      /* no wait is longer; 0: 5000 */
    long timeout_ms;              /* one request's idle limit (no byte for this long); 0: 30000 */
} s3_retry_policy;

typedef struct {
    uint64_t s3_list_requests;    /* ListObjectsV2 requests sent, retries included */
    uint64_t s3_get_requests;     /* GetObject requests sent, retries and resumes included */
    uint64_t s3_retries;          /* requests sent again after a retryable failure */
    uint64_t s3_resumes;          /* of those, Range requests after a cut body */
    uint64_t s3_bytes;            /* body bytes delivered */
} s3_counts;

/*
 * cfg, creds and policy (each may be NULL: defaults, unsigned requests) are
 * copied. Returns NULL when out of memory.
 */
s3_client *s3_client_create(const s3_config *cfg, const s3_credentials *creds, const s3_retry_policy *policy);
/* Accepts NULL. Listers and fetchers must be freed first. */
void s3_client_free(s3_client *c);
s3_counts s3_client_counts(const s3_client *c);
/*
 * A client from the environment: the endpoint (endpoint_url, else
 * s3_config_resolve's variables) and the credential chain. Returns 0 with
 * *out set, -EACCES with err one line (no credentials at all, the chain
 * failed, a bad endpoint) or -ENOMEM.
 */
int s3_client_from_env(const char *endpoint_url, s3_client **out, char *err, size_t errlen);

/* Splits "s3://bucket[/prefix]" into malloc'ed strings. Returns 0, -EINVAL
 * when url is not one, or -ENOMEM. */
int s3_url_parse(const char *url, char **bucket, char **prefix);

/* ---- listing ----------------------------------------------------------- */

typedef struct s3_lister s3_lister;

/*
 * Lists s3://bucket/prefix as a folder (a '/' is added to a prefix without
 * one). opt: walk.h's pruning and sharding (since/until/key_slack,
 * accounts, regions, org_regions, shard_index/count); may be NULL; it is
 * copied, its arrays borrowed. Returns NULL when out of memory.
 */
s3_lister *s3_lister_create(s3_client *c, const char *bucket, const char *prefix, const walk_options *opt);
void s3_lister_free(s3_lister *l);

/*
 * The next key (valid until the next call) and its size. Returns WALK_INPUT,
 * WALK_END, WALK_ERROR when a listing failed for good (err: one line naming
 * the bucket, the prefix listed and the S3 error code or the transport
 * error; the listing cannot go on), or -ENOMEM.
 */
int s3_lister_next(s3_lister *l, const char **key, uint64_t *size, char *err, size_t errlen);
/* The last key's version: a hash of its ETag as listed (LastModified when
 * the store gives none), which changes when the object is rewritten. For
 * --checkpoint's identity of an input, in place of a stat's size and mtime. */
uint64_t s3_lister_version(const s3_lister *l);
/* What the listing left out, in walk.h's counters. */
walk_counts s3_lister_counts(const s3_lister *l);

/* ---- fetching ---------------------------------------------------------- */

enum { S3_FETCH_PAUSE = 1 };      /* on_data: keep this chunk, stop the object until s3_fetcher_resume */

typedef struct {
    /* A chunk of object seq's body, in body order. Returns 0 (consumed),
     * S3_FETCH_PAUSE (not consumed: it is handed again after
     * s3_fetcher_resume) or a negative errno (abort this object). */
    int (*on_data)(void *ctx, uint64_t seq, const char *data, size_t len);
    /* Object seq is finished: status 0, or a negative errno (-ENOENT for
     * 404, -EACCES for 403, -EIO else) with err one line
     * "s3://bucket/key: HTTP 403 AccessDenied". Called once per object. */
    void (*on_done)(void *ctx, uint64_t seq, int status, const char *err);
    /* Optional (NULL: none): an x-amz-meta-NAME header of object seq's
     * answer (name without the prefix, lower case), before its body. An
     * object retried may say it again. */
    void (*on_meta)(void *ctx, uint64_t seq, const char *name, const char *value);
} s3_fetch_callbacks;

typedef struct s3_fetcher s3_fetcher;

/* concurrency: objects in flight (0: 128). cb is copied; ctx borrowed.
 * Returns NULL when out of memory. */
s3_fetcher *s3_fetcher_create(s3_client *c, const char *bucket, unsigned concurrency, const s3_fetch_callbacks *cb,
                              void *ctx);
void s3_fetcher_free(s3_fetcher *f);

/* Queues key (copied) as object seq. Objects start in the order added.
 * The queue is not bounded: add while s3_fetcher_pending() is below a
 * limit of your own. Returns 0 or -ENOMEM. */
int s3_fetcher_add(s3_fetcher *f, const char *key, uint64_t seq);
/* Objects queued, in flight or waiting to retry. */
size_t s3_fetcher_pending(const s3_fetcher *f);
/* Lets a paused object go on. Returns 0, or -ENOENT when seq is not paused. */
int s3_fetcher_resume(s3_fetcher *f, uint64_t seq);

/*
 * Moves the transfers on for at most timeout_ms (callbacks run inside).
 * Returns s3_fetcher_pending(), or a negative errno when libcurl failed.
 */
int s3_fetcher_run(s3_fetcher *f, int timeout_ms);

/* Makes a running (or the next) s3_fetcher_run return soon, so that its
 * caller can resume paused objects. The one call that is thread-safe. */
void s3_fetcher_wakeup(s3_fetcher *f);

#endif
