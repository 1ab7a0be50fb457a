/*
 * reader: gets inputs' bytes off the disk, many files in flight at once.
 *
 * The caller drives a small set of slots (one per file in flight) with
 * open/read/close requests and reaps their completions in batches. Two
 * backends sit behind this one interface:
 *   - io_uring: requests are queued as SQEs and submitted in one system
 *     call per batch; completions are reaped in batches;
 *   - sync: each request runs at once (openat/pread/close) and its
 *     completion is queued, for kernels or sandboxes without io_uring.
 * reader_notify() wakes a reader_wait() from another thread (workers use it
 * when they free a buffer or take a job).
 *
 * The reader knows nothing of what the bytes mean.
 */
#ifndef ORGTRAIL_READER_H
#define ORGTRAIL_READER_H

#include <stddef.h>
#include <stdint.h>

enum reader_io {
    READER_IO_AUTO = 0,   /* io_uring, else sync */
    READER_IO_URING,      /* io_uring or fail */
    READER_IO_SYNC,
};

enum reader_op {
    READER_OP_OPEN,
    READER_OP_READ,
    READER_OP_CLOSE,
};

typedef struct {
    unsigned slot;
    enum reader_op op;
    int res;             /* OPEN: fd; READ: bytes (0 at end); or -errno */
} reader_event;

typedef struct reader reader;

/*
 * Creates a reader for up to slots files in flight. With READER_IO_AUTO,
 * an io_uring that cannot be set up (ENOSYS, EPERM, missing opcodes) falls
 * back to sync and *fallback_reason says why ("" otherwise). Returns NULL
 * and *err (negative errno) on failure.
 */
reader *reader_create(enum reader_io io, unsigned slots, char *fallback_reason, size_t reason_len,
                      int *err);
/* Accepts NULL. */
void reader_free(reader *r);
/* "uring" or "sync". */
const char *reader_backend(const reader *r);

/* Requests: path NULL opens stdin (fd 0, never closed). A read at offset -1
 * reads at the file position (pipes, stdin). Buffers and paths must stay
 * valid until the completion is reaped. Returns 0 or -errno. */
int reader_open(reader *r, unsigned slot, const char *path);
int reader_read(reader *r, unsigned slot, int fd, void *buf, size_t len, int64_t offset);
int reader_close(reader *r, unsigned slot, int fd);

/* Submits queued requests and waits until at least one completion is ready
 * or reader_notify() was called; writes up to max events. Returns the
 * number of events (0 after a notify), or -errno. */
int reader_wait(reader *r, reader_event *events, size_t max);

/* Wakes reader_wait. Thread-safe. */
void reader_notify(reader *r);

/*
 * Reads the file at path start to end on the calling thread, without a
 * reader (any thread may call it): each read of up to len bytes lands in
 * buf and goes to chunk(ctx, buf, n), which returns nonzero to stop early.
 * A read shorter than len ends the file (files that grow while read are
 * read to where they were).
 * Returns 0, or -errno with *what ("cannot open", "read error") and
 * *offset (the bytes read before it failed).
 */
int reader_read_file(const char *path, uint8_t *buf, size_t len,
                     int (*chunk)(void *ctx, const uint8_t *buf, size_t n), void *ctx,
                     const char **what, uint64_t *offset);

#endif
