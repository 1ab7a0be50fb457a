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
    if (ot_grow(&s->buf, &s->cap, s->len, 1, READ_FIRST))
        return -ENOMEM;
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

/* ---- s3:// items: fetched whole, then hashed like a file ---- */

typedef struct {
    hash_item *const *items;
    ot_buf *bodies;               /* by item index */
    hash_pool *hp;
    size_t bucket_len;            /* of "s3://bucket/" */
    int rc;                       /* -ENOMEM, -EPIPE: the run cannot go on */
} s3_hash;

static int s3_hash_data(void *ctx, uint64_t seq, const char *data, size_t len)
{
    s3_hash *h = ctx;
    return buf_append(&h->bodies[seq], data, len) ? -ENOMEM : 0;
}

static void s3_hash_meta(void *ctx, uint64_t seq, const char *name, const char *value)
{
    s3_hash *h = ctx;
    hash_item *f = h->items[seq];
    if (strcmp(name, "signature") == 0) {
        free(f->signature);
        f->signature = strdup(value);    /* none when out of memory: the digest is then unverified */
    }
}

static void s3_hash_done(void *ctx, uint64_t seq, int status, const char *err)
{
    s3_hash *h = ctx;
    hash_item *f = h->items[seq];
    ot_buf *b = &h->bodies[seq];
    if (status) {
        f->read_error = status;
        /* err names the object as the item does: say the rest */
        size_t pl = strlen(f->path);
        snprintf(f->read_what, sizeof f->read_what, "%s",
                 strncmp(err, f->path, pl) == 0 && strncmp(err + pl, ": ", 2) == 0 ? err + pl + 2 : err);
        buf_free(b);
        return;
    }
    hash_job *j = malloc(sizeof *j);
    if (!j) {
        h->rc = -ENOMEM;
        buf_free(b);
        return;
    }
    *j = (hash_job){ .f = f, .buf = (uint8_t *)b->data, .len = b->len };
    *b = (ot_buf){ 0 };
    /* blocks while the workers are busy: they wait on nothing but the queue */
    if (pool_queue_push(h->hp->jobs, j) != 0) {
        free(j->buf);
        free(j);
        h->rc = -EPIPE;
    }
}

/* The bucket of an s3:// path: its length with the slash after it, or 0. */
static size_t bucket_len(const char *path)
{
    const char *slash = strncmp(path, "s3://", 5) == 0 ? strchr(path + 5, '/') : NULL;
    return slash ? (size_t)(slash - path) + 1 : 0;
}

/* Fetches the s3:// items, a bucket at a time, into the workers' queue.
 * Returns 0 or -errno. */
static int hash_s3(hash_item *const *items, size_t n, const hash_options *opt, hash_pool *hp)
{
    static const s3_fetch_callbacks cb = { s3_hash_data, s3_hash_done, s3_hash_meta };
    unsigned conc = opt->s3_concurrency ? opt->s3_concurrency : 128;
    s3_hash h = { .items = items, .hp = hp, .bodies = calloc(n ? n : 1, sizeof(ot_buf)) };
    unsigned char *done = calloc(n ? n : 1, 1);
    int rc = 0;
    if (!h.bodies || !done) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t first = 0; first < n && rc == 0; first++) {
        size_t bl = bucket_len(items[first]->path);
        if (!bl || done[first])
            continue;
        char *bucket = strndup(items[first]->path + 5, bl - 6);
        s3_fetcher *f = bucket ? s3_fetcher_create(opt->s3, bucket, conc, &cb, &h) : NULL;
        free(bucket);
        if (!f) {
            rc = -ENOMEM;
            break;
        }
        size_t next = first;
        for (;;) {
            /* a bounded queue of this bucket's items, in order */
            for (; next < n && s3_fetcher_pending(f) < 2 * (size_t)conc; next++) {
                const char *p = items[next]->path;
                if (done[next] || bucket_len(p) != bl || strncmp(p, items[first]->path, bl) != 0)
                    continue;
                done[next] = 1;
                if ((rc = s3_fetcher_add(f, p + bl, next)) != 0)
                    break;
            }
            if (rc || h.rc)
                break;
            int left = s3_fetcher_run(f, 1000);
            if (left < 0) {
                rc = left;
                break;
            }
            if (left == 0 && next == n)
                break;
        }
        s3_fetcher_free(f);
        if (!rc)
            rc = h.rc;
    }
out:
    for (size_t i = 0; h.bodies && i < n; i++)
        buf_free(&h.bodies[i]);
    free(h.bodies);
    free(done);
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
        ot_say(err, "orgtrail: cannot read files: %s\n", why[0] ? why : strerror(-rc));
        goto out;
    }
    rc = 0;
    if (why[0] && !opt->quiet && opt->io != READER_IO_AUTO)
        ot_say(err, "orgtrail: %s\n", why);
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
            if (bucket_len(items[next]->path)) {   /* fetched by hash_s3 */
                next++;
                i--;
                continue;
            }
            slots[i] = (read_slot){ .f = items[next++] };
            active++;
            rc = reader_open(r, i, slots[i].f->path);
            if (rc)
                break;
        }
        if (rc)
            break;
        if (active == 0)
            continue;                /* the rest are s3:// items */
        int got = reader_wait(r, events, sizeof events / sizeof events[0]);
        if (got < 0) {
            rc = got;
            break;
        }
        for (int e = 0; e < got && rc == 0; e++)
            rc = on_read_event(r, slots, &events[e], &hp, &active);
    }
    if (rc == 0 && opt->s3)
        rc = hash_s3(items, n, opt, &hp);
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

