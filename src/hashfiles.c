#include "hashfiles.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "pool.h"

#define READ_FIRST (256u << 10)   /* first read of a file; the buffer doubles after */
#define DECODE_OUT (1u << 20)

typedef struct {
    hash_item *f;
    uint8_t *buf;
    size_t len;
} hash_job;

typedef struct {
    pool_queue *jobs;
    pthread_mutex_t mu;
    uint64_t bytes;               /* under mu */
    int failed;                   /* -ENOMEM in a worker, under mu */
} hash_pool;

static void hash_file(hash_pool *hp, decoder *dec, EVP_MD_CTX *md, uint8_t *out, hash_job *j)
{
    hash_item *f = j->f;
    size_t pos = 0;
    uint64_t made_total = 0;
    int oom = 0;
    decode_reset(dec);
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (;;) {
        size_t used = 0, made = 0;
        int rc = decode_step(dec, j->buf + pos, j->len - pos, 1, &used, out, DECODE_OUT, &made);
        pos += used;
        if (made) {
            EVP_DigestUpdate(md, out, made);
            made_total += made;
            if (f->keep_text && buf_append(&f->text, out, made))
                oom = 1;
        }
        if (rc != DECODE_ERROR && (used || made))
            continue;
        /* an error, or all input consumed and no output left */
        if (rc == DECODE_ERROR || decode_finish(dec) == DECODE_ERROR) {
            snprintf(f->decode_error, sizeof f->decode_error, "%s", decode_error(dec));
            f->error_offset = decode_error_offset(dec);
        } else if (pos < j->len) {
            snprintf(f->decode_error, sizeof f->decode_error, "decoding stopped before the end");
            f->error_offset = pos;
        }
        break;
    }
    unsigned char mdv[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(md, mdv, &mdlen);
    for (unsigned i = 0; i < mdlen && i < 32; i++)
        snprintf(f->sha256 + 2 * i, 3, "%02x", mdv[i]);
    pthread_mutex_lock(&hp->mu);
    hp->bytes += made_total;
    if (oom)
        hp->failed = -ENOMEM;
    pthread_mutex_unlock(&hp->mu);
}

static void *hash_worker(void *arg)
{
    hash_pool *hp = arg;
    decoder *dec = decode_create();
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t *out = malloc(DECODE_OUT);
    hash_job *j;
    while ((j = pool_queue_pop(hp->jobs)) != NULL) {
        if (dec && md && out) {
            hash_file(hp, dec, md, out, j);
        } else {
            pthread_mutex_lock(&hp->mu);
            hp->failed = -ENOMEM;
            pthread_mutex_unlock(&hp->mu);
        }
        free(j->buf);
        free(j);
    }
    free(out);
    EVP_MD_CTX_free(md);
    decode_free(dec);
    return NULL;
}

typedef struct {
    hash_item *f;                     /* NULL: free */
    int fd;
    uint8_t *buf;
    size_t len, cap;
} read_slot;

static int slot_read(reader *r, read_slot *slots, unsigned i)
{
    read_slot *s = &slots[i];
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : READ_FIRST;
        uint8_t *b = realloc(s->buf, cap);
        if (!b)
            return -ENOMEM;
        s->buf = b;
        s->cap = cap;
    }
    return reader_read(r, i, s->fd, s->buf + s->len, s->cap - s->len, (int64_t)s->len);
}

/* A reader event for slot i. Returns 0 or -errno (the run cannot go on). */
static int on_read_event(reader *r, read_slot *slots, const reader_event *ev, hash_pool *hp, unsigned *active)
{
    read_slot *s = &slots[ev->slot];
    if (ev->op == READER_OP_OPEN) {
        if (ev->res < 0) {
            s->f->read_error = ev->res;
            s->f = NULL;
            (*active)--;
            return 0;
        }
        s->fd = ev->res;
        return slot_read(r, slots, ev->slot);
    }
    if (ev->op != READER_OP_READ)
        return 0;
    if (ev->res > 0) {
        s->len += (size_t)ev->res;
        return slot_read(r, slots, ev->slot);
    }
    if (ev->res < 0)
        s->f->read_error = ev->res;
    /* a close has no completion: the slot is free at once, and a file read
     * to its end goes to the workers */
    int rc = reader_close(r, ev->slot, s->fd);
    if (rc == 0 && !s->f->read_error) {
        hash_job *j = malloc(sizeof *j);
        if (!j) {
            rc = -ENOMEM;
        } else {
            *j = (hash_job){ .f = s->f, .buf = s->buf, .len = s->len };
            s->buf = NULL;
            if (pool_queue_push(hp->jobs, j) != 0) {
                free(j->buf);
                free(j);
                rc = -EPIPE;
            }
        }
    }
    free(s->buf);
    *s = (read_slot){ .f = NULL };
    (*active)--;
    return rc;
}

int hash_files(hash_item *const *items, size_t n, const hash_options *opt, uint64_t *bytes, FILE *err)
{
    unsigned depth = opt->io_depth ? opt->io_depth : 1, workers = opt->workers ? opt->workers : 1;
    char why[160] = "";
    int rc = 0;
    reader *r = reader_create(opt->io, depth, why, sizeof why, &rc);
    read_slot *slots = calloc(depth, sizeof *slots);
    pthread_t *threads = calloc(workers, sizeof *threads);
    hash_pool hp = { .jobs = pool_queue_create(2 * (size_t)workers) };
    unsigned started = 0;
    pthread_mutex_init(&hp.mu, NULL);
    if (!r) {
        fprintf(err, "orgtrail: cannot read files: %s\n", why[0] ? why : strerror(-rc));
        goto out;
    }
    rc = 0;
    if (why[0] && !opt->quiet && opt->io != READER_IO_AUTO)
        fprintf(err, "orgtrail: %s\n", why);
    if (!slots || !threads || !hp.jobs) {
        rc = -ENOMEM;
        goto out;
    }
    for (; started < workers; started++)
        if (pthread_create(&threads[started], NULL, hash_worker, &hp) != 0)
            break;
    if (started == 0) {
        rc = -EAGAIN;
        goto out;
    }
    size_t next = 0;
    unsigned active = 0;
    reader_event events[64];
    while (rc == 0 && (next < n || active > 0)) {
        for (unsigned i = 0; i < depth && next < n; i++) {
            if (slots[i].f)
                continue;
            slots[i] = (read_slot){ .f = items[next++] };
            active++;
            rc = reader_open(r, i, slots[i].f->path);
            if (rc)
                break;
        }
        if (rc)
            break;
        int got = reader_wait(r, events, sizeof events / sizeof events[0]);
        if (got < 0) {
            rc = got;
            break;
        }
        for (int e = 0; e < got && rc == 0; e++)
            rc = on_read_event(r, slots, &events[e], &hp, &active);
    }
out:
    if (hp.jobs)
        pool_queue_close(hp.jobs);
    for (unsigned i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    /* after an error, slots still in flight keep their buffers */
    for (unsigned i = 0; slots && i < depth; i++)
        free(slots[i].buf);
    if (rc == 0)
        rc = hp.failed;
    *bytes = hp.bytes;
    pthread_mutex_destroy(&hp.mu);
    pool_queue_free(hp.jobs);
    free(threads);
    free(slots);
    reader_free(r);
    return rc;
}

