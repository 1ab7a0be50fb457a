/*
 * verify: proves from CloudTrail's digest chains that an archive (a local
 * mirror of the log bucket) is complete and unaltered, offline.
 *
 * A digest names log files and digests by S3 key ("AWSLogs/..."); a key is
 * the local file at the same path from the last AWSLogs/ component of a
 * walked path, so a mirror verifies wherever it is mounted. Every problem
 * is one NDJSON finding on out, {"rule":"integrity.KIND", "severity",
 * "title", "integrity":{"kind", "key", "digest", ...}}, sorted by key, kind
 * and digest, so the output does not depend on -j or the file system.
 */
#ifndef ORGTRAIL_VERIFY_H
#define ORGTRAIL_VERIFY_H

#include <stdint.h>
#include <stdio.h>

#include "reader.h"
#include "walk.h"

typedef struct {
    const char *const *paths;     /* borrowed */
    size_t npaths;
    const char *public_keys;      /* `aws cloudtrail list-public-keys` JSON, or NULL */
    const char *signatures;       /* NDJSON {"key","signature"} of the newest digests, or NULL */
    walk_options walk;            /* since/until/key_slack/accounts/regions prune; include_digests is set */
    unsigned workers;             /* hashing threads, >= 1 */
    unsigned io_depth;            /* files in flight, >= 1 */
    enum reader_io io;
    int quiet;                    /* no notes about unverified digests */
    unsigned s3_concurrency;      /* s3:// objects in flight; 0: 128 */
    const char *endpoint_url;     /* for s3:// PATHs, or NULL (s3_config_resolve) */
} verify_options;

typedef struct {
    uint64_t digests, digests_valid;   /* digests checked; those whose signature and hash verified */
    uint64_t logs, logs_valid;         /* log files listed by a checked digest; those present and matching */
    uint64_t unverified;               /* digests with no signature to be had (not a problem) */
    uint64_t problems;                 /* findings written */
    uint64_t errors;                   /* inputs that could not be read or parsed (each said on err) */
    uint64_t bytes_hashed;             /* uncompressed bytes hashed */
} verify_report;

/*
 * Runs the verification: walks opt->paths, hashes every digest and log file
 * in parallel (the reader and pool of scan), checks the chains, writes the
 * findings to out and notes, errors and the closing summary line
 * ("N/M digest files valid, K/L log files valid, U unverified, P problems")
 * to err. Returns 0, or -errno when the run could not go on (out of memory,
 * output not writable); *report is filled in either case.
 */
int verify_run(const verify_options *opt, verify_report *report, FILE *out, FILE *err);

#endif
