/*
 * hashfiles: the SHA-256 of many files' uncompressed text, in parallel,
 * with the reader and pool of scan.
 *
 * Threads: the calling thread keeps up to io_depth files in flight through
 * the reader (io_uring or sync), each read whole into its own buffer; a
 * file read to its end goes as a job through a bounded pool_queue to the
 * workers. A worker owns a decoder and a SHA-256 context: it decodes the
 * file (gzip, zstd or plain, as decode.c tells them apart), hashes the
 * text, keeps it when asked, and frees the buffer. A full queue blocks the
 * reading thread; workers wait for nothing but the next job, so nothing
 * can deadlock. When every file is read the queue is closed (the sentinel)
 * and every worker joined before hash_files returns.
 */
#ifndef ORGTRAIL_HASHFILES_H
#define ORGTRAIL_HASHFILES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "reader.h"
#include "s3_client.h"
#include "util.h"

/* One file: the caller sets path and keep_text; hash_files the rest. A
 * path "s3://bucket/key" is fetched through hash_options.s3. */
typedef struct {
    char *path;                   /* owned by the caller */
    int keep_text;                /* keep the uncompressed text in text */
    char *signature;              /* an s3:// object's x-amz-meta-signature, or NULL; the caller frees it */
    char read_what[200];          /* an s3:// object's error ("HTTP 403 AccessDenied"), with read_error */
    char sha256[65];              /* lower-case hex, when it decoded cleanly */
    int read_error;               /* -errno of open or read, or 0 */
    char decode_error[96];        /* "" when the text decoded cleanly */
    uint64_t error_offset;        /* where in the file decode_error was found */
    ot_buf text;                  /* with keep_text; the caller frees it */
} hash_item;

typedef struct {
    unsigned workers;             /* threads hashing, >= 1 */
    unsigned io_depth;            /* files in flight, >= 1 */
    enum reader_io io;
    int quiet;
    s3_client *s3;                /* for s3:// items; NULL when there are none */
    unsigned s3_concurrency;      /* s3:// objects in flight; 0: 128 */
} hash_options;

/*
 * Reads, decodes and hashes *items[0..n). A file that cannot be read or
 * decoded is noted in its item, and the others go on. *bytes: the
 * uncompressed bytes hashed. Returns 0, or -errno when the run could not
 * go on (out of memory, no reader: said on err).
 */
int hash_files(hash_item *const *items, size_t n, const hash_options *opt, uint64_t *bytes, FILE *err);

#endif
