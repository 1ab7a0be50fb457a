#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define NOTIFY_SLOT 0xFFFFFFu     /* user_data of the eventfd read */

struct reader {
    int uring;                    /* 1: io_uring backend, 0: sync */
    unsigned slots;

    /* io_uring */
    struct io_uring ring;
    int ring_ready;
    int event_fd;
    uint64_t event_value;         /* the eventfd read lands here */
    int notify_armed;             /* that read is in the ring */
    unsigned queued;              /* SQEs not yet submitted */

    /* sync: completions of requests already run */
    reader_event *done;
    size_t done_count, done_cap;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int notified;
};

static uint64_t pack(unsigned slot, enum reader_op op)
{
    return (uint64_t)slot << 8 | (uint64_t)op;
}

static int uring_setup(reader *r, unsigned slots, char *why, size_t why_len)
{
    int rc = io_uring_queue_init(slots * 2 + 8, &r->ring, 0);
    if (rc < 0) {
        snprintf(why, why_len, "io_uring unavailable (%s)", strerror(-rc));
        return rc;
    }
    r->ring_ready = 1;
    struct io_uring_probe *probe = io_uring_get_probe_ring(&r->ring);
    int ok = probe && io_uring_opcode_supported(probe, IORING_OP_OPENAT) &&
             io_uring_opcode_supported(probe, IORING_OP_READ) &&
             io_uring_opcode_supported(probe, IORING_OP_CLOSE);
    io_uring_free_probe(probe);
    if (!ok) {
        snprintf(why, why_len, "io_uring lacks openat/read/close (kernel too old)");
        return -ENOSYS;
    }
    r->event_fd = eventfd(0, EFD_CLOEXEC);
    if (r->event_fd < 0) {
        snprintf(why, why_len, "eventfd: %s", strerror(errno));
        return -errno;
    }
    return 0;
}

reader *reader_create(enum reader_io io, unsigned slots, char *why, size_t why_len, int *err)
{
    reader *r = calloc(1, sizeof *r);
    if (!r) {
        *err = -ENOMEM;
        return NULL;
    }
    why[0] = '\0';
    r->slots = slots;
    r->event_fd = -1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (io != READER_IO_SYNC) {
        int rc = uring_setup(r, slots, why, why_len);
        if (rc == 0) {
            r->uring = 1;
            return r;
        }
        if (r->ring_ready)
            io_uring_queue_exit(&r->ring);
        r->ring_ready = 0;
        if (r->event_fd >= 0)
            close(r->event_fd);
        r->event_fd = -1;
        if (io == READER_IO_URING) {
            reader_free(r);
            *err = rc;
            return NULL;
        }
    }
    r->done_cap = slots * 3 + 8;
    r->done = malloc(r->done_cap * sizeof *r->done);
    if (!r->done) {
        reader_free(r);
        *err = -ENOMEM;
        return NULL;
    }
    return r;
}

void reader_free(reader *r)
{
    if (!r)
        return;
    if (r->ring_ready)
        io_uring_queue_exit(&r->ring);
    if (r->event_fd >= 0)
        close(r->event_fd);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->done);
    free(r);
}

const char *reader_backend(const reader *r)
{
    return r->uring ? "uring" : "sync";
}

/* An SQE, submitting what is queued when the ring is full. */
static struct io_uring_sqe *get_sqe(reader *r)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (!sqe) {
        io_uring_submit(&r->ring);
        r->queued = 0;
        sqe = io_uring_get_sqe(&r->ring);
    }
    if (sqe)
        r->queued++;
    return sqe;
}

static int sync_complete(reader *r, unsigned slot, enum reader_op op, int res)
{
    pthread_mutex_lock(&r->mu);
    int rc = 0;
    if (r->done_count == r->done_cap) {
        size_t cap = r->done_cap * 2;
        reader_event *d = realloc(r->done, cap * sizeof *d);
        if (!d) {
            rc = -ENOMEM;
            goto out;
        }
        r->done = d;
        r->done_cap = cap;
    }
    r->done[r->done_count++] = (reader_event){ slot, op, res };
out:
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int reader_open(reader *r, unsigned slot, const char *path)
{
    if (!path) {
        /* stdin is already open: complete at once */
        if (!r->uring)
            return sync_complete(r, slot, READER_OP_OPEN, STDIN_FILENO);
        struct io_uring_sqe *sqe = get_sqe(r);
        if (!sqe)
            return -EBUSY;
        io_uring_prep_nop(sqe);
        sqe->user_data = pack(slot, READER_OP_OPEN) | (uint64_t)1 << 63;   /* a NOP standing for fd 0 */
        return 0;
    }
    if (!r->uring) {
        int fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
        return sync_complete(r, slot, READER_OP_OPEN, fd < 0 ? -errno : fd);
    }
    struct io_uring_sqe *sqe = get_sqe(r);
    if (!sqe)
        return -EBUSY;
    io_uring_prep_openat(sqe, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
    sqe->user_data = pack(slot, READER_OP_OPEN);
    return 0;
}

int reader_read(reader *r, unsigned slot, int fd, void *buf, size_t len, int64_t offset)
{
    if (!r->uring) {
        ssize_t n;
        do {
            n = offset < 0 ? read(fd, buf, len) : pread(fd, buf, len, (off_t)offset);
        } while (n < 0 && errno == EINTR);
        return sync_complete(r, slot, READER_OP_READ, n < 0 ? -errno : (int)n);
    }
    struct io_uring_sqe *sqe = get_sqe(r);
    if (!sqe)
        return -EBUSY;
    io_uring_prep_read(sqe, fd, buf, (unsigned)len, offset < 0 ? (uint64_t)-1 : (uint64_t)offset);
    sqe->user_data = pack(slot, READER_OP_READ);
    return 0;
}

int reader_close(reader *r, unsigned slot, int fd)
{
    if (fd == STDIN_FILENO)
        return 0;             /* never close stdin; no completion either */
    if (!r->uring) {
        close(fd);
        return 0;             /* nobody waits for a close */
    }
    struct io_uring_sqe *sqe = get_sqe(r);
    if (!sqe) {
        close(fd);
        return 0;
    }
    io_uring_prep_close(sqe, fd);
    sqe->user_data = pack(slot, READER_OP_CLOSE);
    return 0;
}

static int arm_notify(reader *r)
{
    struct io_uring_sqe *sqe = get_sqe(r);
    if (!sqe)
        return -EBUSY;
    io_uring_prep_read(sqe, r->event_fd, &r->event_value, sizeof r->event_value, 0);
    sqe->user_data = pack(NOTIFY_SLOT, READER_OP_READ);
    return 0;
}

static int uring_wait(reader *r, reader_event *events, size_t max)
{
    if (!r->notify_armed) {
        int rc = arm_notify(r);
        if (rc)
            return rc;
        r->notify_armed = 1;
    }
    int rc = io_uring_submit_and_wait(&r->ring, 1);
    r->queued = 0;
    if (rc < 0 && rc != -EINTR)
        return rc;
    struct io_uring_cqe *cqes[64];
    unsigned n = io_uring_peek_batch_cqe(&r->ring, cqes, 64);
    size_t out = 0, i;
    for (i = 0; i < n && out < max; i++) {
        uint64_t ud = cqes[i]->user_data;
        unsigned slot = (unsigned)((ud & ~((uint64_t)1 << 63)) >> 8);
        enum reader_op op = (enum reader_op)(ud & 0xFF);
        if (slot == NOTIFY_SLOT) {
            r->notify_armed = 0;
            continue;
        }
        if (op == READER_OP_CLOSE)
            continue;                    /* nobody waits for a close */
        int res = cqes[i]->res;
        if (ud >> 63)
            res = STDIN_FILENO;          /* the NOP that opens stdin */
        events[out++] = (reader_event){ slot, op, res };
    }
    io_uring_cq_advance(&r->ring, (unsigned)i);
    return (int)out;
}

static int sync_wait(reader *r, reader_event *events, size_t max)
{
    pthread_mutex_lock(&r->mu);
    while (r->done_count == 0 && !r->notified)
        pthread_cond_wait(&r->cv, &r->mu);
    r->notified = 0;
    size_t n = r->done_count < max ? r->done_count : max;
    memcpy(events, r->done, n * sizeof *events);
    memmove(r->done, r->done + n, (r->done_count - n) * sizeof *events);
    r->done_count -= n;
    pthread_mutex_unlock(&r->mu);
    return (int)n;
}

int reader_wait(reader *r, reader_event *events, size_t max)
{
    return r->uring ? uring_wait(r, events, max) : sync_wait(r, events, max);
}

void reader_notify(reader *r)
{
    if (r->uring) {
        uint64_t one = 1;
        ssize_t n = write(r->event_fd, &one, sizeof one);
        (void)n;
        return;
    }
    pthread_mutex_lock(&r->mu);
    r->notified = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

int reader_read_file(const char *path, uint8_t *buf, size_t len,
                     int (*chunk)(void *ctx, const uint8_t *buf, size_t n), void *ctx,
                     const char **what, uint64_t *offset)
{
    int rc = 0;
    uint64_t at = 0;
    int fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *what = "cannot open";
        *offset = 0;
        return -errno;
    }
    for (;;) {
        ssize_t n = pread(fd, buf, len, (off_t)at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            *what = "read error";
            *offset = at;
            goto out;
        }
        if (n == 0 || chunk(ctx, buf, (size_t)n))
            goto out;
        at += (uint64_t)n;
        /* A file read short is at its end: the read that would say 0 is
         * not made (one system call a file, a tenth of TINY's). */
        if ((size_t)n < len)
            goto out;
    }
out:
    close(fd);
    return rc;
}
