/*
 * run_read: the reader stage (see the top of run.c), on the calling
 * thread. It walks the inputs in order and makes each a job: a file
 * through the io_uring reader's slots (or, with synchronous reads, its
 * path alone, for a worker to read), stdin cut into parts at gzip member
 * boundaries (stdin_cut), an s3:// object listed and fetched into pool
 * buffers. With --checkpoint the finished inputs are skipped as they come.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_pipeline.h"

static job *job_start(pipeline *p, uint64_t seq, const char *path)
{
    job *j = &p->jobs[seq % p->max_jobs];
    j->seq = seq;
    j->path = path ? strdup(path) : NULL;
    j->part = PART_NONE;
    j->part_last = 0;
    j->at = (scan_part){ 0 };
    j->data = NULL;
    j->data_len = 0;
    j->head = j->count = 0;
    j->eof = j->taken = j->cancel = j->worker_reads = 0;
    j->read_error = 0;
    j->read_offset = 0;
    j->what_buf[0] = '\0';
    scan_result_clear(&j->result);
    return j;
}

/* Returns the number of chunks now queued. */
static unsigned job_push_chunk(job *j, uint8_t *buf, size_t len)
{
    pthread_mutex_lock(&j->mu);
    j->chunks[(j->head + j->count) % JOB_CHUNKS] = (chunk){ buf, len };
    unsigned count = ++j->count;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return count;
}

static void job_end_input(job *j, int read_error, const char *what, uint64_t offset)
{
    pthread_mutex_lock(&j->mu);
    j->eof = 1;
    j->read_error = read_error;
    j->read_what = what;
    j->read_offset = offset;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

/* Hands the jobs made ready to the workers: one wake-up for them all. */
static void push_ready(pipeline *p)
{
    if (p->nready) {
        pool_queue_push_many(p->queue, (void *const *)p->ready, p->nready);   /* never blocks: the queue holds max_jobs */
        p->nready = 0;
    }
}

static void deliver(pipeline *p, slot *s)
{
    if (!s->delivered) {
        s->delivered = 1;
        p->ready[p->nready++] = s->j;      /* never more than max_jobs: the window */
    }
}

/* The slot's input is over (its end, an error, or a cancel): tell the
 * worker, close the file, free the slot. */
static void slot_finish(pipeline *p, slot *slots, slot *s, int read_error)
{
    job_end_input(s->j, read_error, s->fd < 0 ? "cannot open" : "read error", s->bytes);
    deliver(p, s);
    if (s->fd >= 0)
        reader_close(p->rd, (unsigned)(s - slots), s->fd);
    s->state = SLOT_FREE;
    s->j = NULL;
    s->fd = -1;
}

/* ---- stdin in parts (see the top of run.c) ---- */

/* The job for stdin's next part, or NULL while the window is full. */
static job *part_job(pipeline *p)
{
    if (p->cut_first) {
        job *j = p->cut_first;
        p->cut_first = NULL;
        return j;
    }
    pthread_mutex_lock(&p->mu);
    int full = p->next_seq >= p->written + p->max_jobs;
    if (!full)
        p->total = p->next_seq + 1;
    pthread_mutex_unlock(&p->mu);
    return full ? NULL : job_start(p, p->next_seq++, NULL);
}

/* The cutter's callback: a part becomes a job; a cut part goes to the
 * workers, a tail to the slot that goes on reading it (cut_advance). */
static int take_part(void *ctx, const stdin_part *part)
{
    pipeline *p = ctx;
    /* A tail's worker waits for every job before it, so those must all be
     * read and handed out first. */
    for (slot *o = p->slots; part->tail && o < p->slots + p->opt->io_depth; o++)
        if (!o->cutting && o->state != SLOT_FREE)
            return 1;
    job *j = part_job(p);
    if (!j)
        return 1;
    j->part = part->tail ? PART_TAIL : PART_CUT;
    j->part_last = part->last;
    j->at = part->at;
    j->data = malloc(part->len ? part->len : 1);
    if (j->data) {
        memcpy(j->data, part->data, part->len);
        j->data_len = part->len;
        atomic_fetch_add(&p->parts_kept, part->len);
    }
    p->report->stdin_parts++;
    if (part->tail) {
        p->cut_tail = j;
        return 0;
    }
    if (!j->data)
        job_end_input(j, -ENOMEM, "cannot keep a part", part->at.in_offset);
    else
        job_end_input(j, part->read_error, "read error", part->read_offset);
    pool_queue_push(p->queue, j);
    return 0;
}

/* Cuts what stdin has given so far into parts. Returns 1 while it waits
 * for room (the window, or other inputs still being read). */
static int cut_advance(pipeline *p, slot *slots, slot *s)
{
    enum stdin_cut_state st = stdin_cut_advance(p->cut);
    if (st != STDIN_CUT_DONE)
        return st == STDIN_CUT_BLOCKED;
    stdin_cut_free(p->cut);
    p->cut = NULL;
    s->cutting = 0;
    if (p->cut_tail) {           /* the slot reads on for the tail's worker */
        s->j = p->cut_tail;
        p->cut_tail = NULL;
        s->delivered = 0;
        deliver(p, s);
        return 0;
    }
    if (s->fd >= 0 && s->state != SLOT_FREE)
        reader_close(p->rd, (unsigned)(s - slots), s->fd);
    s->state = SLOT_FREE;
    s->j = NULL;
    s->fd = -1;
    return 0;
}

/* A read of stdin while it is being cut: the bytes are in the cutter's
 * buffer already. */
static void cut_read(pipeline *p, slot *s, int res)
{
    stdin_cut_read(p->cut, res);
    if (res > 0)
        s->bytes += (uint64_t)res;
    s->buf = NULL;
    s->state = SLOT_IDLE;
}

/* The first read of stdin: a gzip stream is cut into parts. The read's
 * buffer is the pool's: the cutter copies its bytes and it goes back. */
static int cut_begin(pipeline *p, slot *s, size_t n)
{
    if (s->j->path || s->bytes > 0 || p->cut)
        return 0;
    p->cut = stdin_cut_create(s->buf, n, p->opt->part_size, take_part, p);
    if (!p->cut)
        return 0;
    pool_buffers_give(p->bufs, s->buf);
    s->buf = NULL;
    s->bytes += n;
    s->state = SLOT_IDLE;
    s->cutting = 1;
    p->cut_first = s->j;
    s->j = NULL;
    return 1;
}

/* Submits a read for an idle slot if its job has room and a buffer is to
 * be had under the reserve rule. Returns 1 when it is blocked on a worker
 * (no room, not taken, no buffer). */
static int slot_try_read(pipeline *p, slot *slots, slot *s)
{
    if (atomic_load(&p->stop)) {       /* the output is gone: read no more */
        if (!s->cutting) {
            slot_finish(p, slots, s, 0);
            return 0;
        }
        stdin_cut_read(p->cut, 0);   /* stdin ends here */
        return cut_advance(p, slots, s);
    }
    if (s->cutting) {
        if (stdin_cut_at_end(p->cut))
            return 0;
        if (atomic_load(&p->parts_kept) + stdin_cut_unparted(p->cut) >= PARTS_KEPT)
            return 1;
        size_t want = pool_buffers_size(p->bufs);
        s->buf = stdin_cut_space(p->cut, want);     /* straight into the cutter's buffer */
        if (!s->buf)
            return cut_advance(p, slots, s);
        s->state = SLOT_READING;
        reader_read(p->rd, (unsigned)(s - slots), s->fd, s->buf, want, s->offset);
        return 0;
    }
    job *j = s->j;
    pthread_mutex_lock(&j->mu);
    int room = j->count < JOB_CHUNKS, taken = j->taken, cancel = j->cancel;
    pthread_mutex_unlock(&j->mu);
    if (cancel) {
        slot_finish(p, slots, s, 0);
        return 0;
    }
    if (!room || (s->delivered && !taken))
        return 1;
    uint8_t *buf = pool_buffers_take(p->bufs, s->delivered ? 0 : p->reserve);
    if (!buf)
        return 1;
    s->buf = buf;
    s->state = SLOT_READING;
    reader_read(p->rd, (unsigned)(s - slots), s->fd, buf, pool_buffers_size(p->bufs), s->offset);
    return 0;
}

static void on_event(pipeline *p, slot *slots, const reader_event *ev)
{
    slot *s = &slots[ev->slot];
    if (ev->op == READER_OP_OPEN) {
        if (ev->res < 0) {
            slot_finish(p, slots, s, ev->res);
            return;
        }
        s->fd = ev->res;
        s->offset = s->j->path ? 0 : -1;
        s->state = SLOT_IDLE;
        return;
    }
    /* a read: short reads simply continue at the new offset */
    if (ev->res == -EAGAIN || ev->res == -EINTR) {
        reader_read(p->rd, ev->slot, s->fd, s->buf, pool_buffers_size(p->bufs), s->offset);
        return;
    }
    if (s->cutting) {
        cut_read(p, s, ev->res);
        return;
    }
    if (ev->res > 0 && cut_begin(p, s, (size_t)ev->res))
        return;
    if (ev->res > 0) {
        /* The job goes to the workers once its channel is full or its input
         * ended, so a small file arrives whole and its worker never waits. */
        if (job_push_chunk(s->j, s->buf, (size_t)ev->res) == JOB_CHUNKS)
            deliver(p, s);
        s->buf = NULL;
        s->bytes += (uint64_t)ev->res;
        if (s->offset >= 0)
            s->offset += ev->res;
        s->state = SLOT_IDLE;
        return;
    }
    pool_buffers_give(p->bufs, s->buf);
    s->buf = NULL;
    slot_finish(p, slots, s, ev->res);
}

/* Creates a finished job that carries a walk error (a loop, a missing path). */
static void job_walk_error(pipeline *p, uint64_t seq, const char *path, const char *err, uint64_t identity)
{
    job *j = job_start(p, seq, path);
    j->identity = identity;
    snprintf(j->result.error, sizeof j->result.error, "%s", err);
    j->result.stats.errors = 1;
    job_done(p, j);
}

/* The walk's next input, or the one run_scan looked at already. */
static int next_input(pipeline *p, walker *w, const char **path, char *err, size_t errlen)
{
    if (!p->pending.set)
        return walk_next(w, path, err, errlen);
    p->pending.set = 0;
    *path = p->pending.path;
    snprintf(err, errlen, "%s", p->pending.err);
    return p->pending.status;
}

void publish_walk_done(pipeline *p)
{
    pthread_mutex_lock(&p->mu);
    p->walk_done = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/*
 * With --checkpoint over s3:// inputs (see run_scan): the next input is one
 * the checkpointed run finished when the checkpoint says there are more;
 * it must be the one it finished there. Returns 1 (skip it), 0 (read it),
 * or -EINVAL when it is not that one (said; the run stops).
 */
int resume_skip(pipeline *p, uint64_t identity, const char *name)
{
    if (!p->resume || p->resume_next >= p->resume->inputs_done)
        return 0;
    if (identity != p->resume_ids[p->resume_next]) {
        checkpoint_say_mismatch(p->errout, p->opt->checkpoint, p->resume_next, name);
        p->report->refused = 1;
        atomic_store(&p->stop, 1);      /* the checkpoint stays as it is */
        return -EINVAL;
    }
    p->resume_next++;           /* run_scan reports it: the writer's progress line reads resumed_from */
    return 1;
}

/* The walk is over: every input the checkpoint finished must have come. */
static int resume_end(pipeline *p)
{
    if (!p->resume || p->resume_next == p->resume->inputs_done)
        return 0;
    checkpoint_say_ended(p->errout, p->opt->checkpoint, p->resume, p->resume_next);
    p->report->refused = 1;
    atomic_store(&p->stop, 1);
    return -EINVAL;
}

/* ---- s3:// inputs (see the top of run.c) ---- */

static int s3_pause(s3_object *o, size_t taken)
{
    o->skip = taken;
    o->paused = 1;
    return S3_FETCH_PAUSE;
}

/* A chunk of object seq's body goes into its job's buffer; a full buffer
 * becomes a chunk of the job's channel. Pauses the object when the channel
 * is full or no buffer may be taken (the reserve rule); curl hands the
 * same chunk again after s3_fetcher_resume, and o->skip says how much of
 * it was taken before. */
static int s3_on_data(void *ctx, uint64_t seq, const char *data, size_t len)
{
    pipeline *p = ctx;
    job *j = &p->jobs[seq % p->max_jobs];
    s3_object *o = &p->s3objs[seq % p->max_jobs];
    size_t size = pool_buffers_size(p->bufs), taken = o->skip;
    pthread_mutex_lock(&j->mu);
    int cancel = j->cancel, is_taken = j->taken;
    unsigned count = j->count;
    pthread_mutex_unlock(&j->mu);
    if (cancel || atomic_load(&p->stop))
        return -ECANCELED;
    while (taken < len) {
        if (o->cur && o->fill == size) {
            if (count >= JOB_CHUNKS)
                return s3_pause(o, taken);
            count = job_push_chunk(j, o->cur, o->fill);
            o->cur = NULL;
        }
        if (!o->cur) {
            o->cur = pool_buffers_take(p->bufs, is_taken ? 0 : p->reserve);
            if (!o->cur)
                return s3_pause(o, taken);
            o->fill = 0;
        }
        size_t n = size - o->fill < len - taken ? size - o->fill : len - taken;
        memcpy(o->cur + o->fill, data + taken, n);
        o->fill += n;
        o->bytes += n;
        taken += n;
    }
    o->skip = 0;
    return 0;
}

/* Ends the object's job once its last chunk has room in the channel.
 * Returns 1 when it did. */
static int s3_try_end(pipeline *p, uint64_t seq)
{
    job *j = &p->jobs[seq % p->max_jobs];
    s3_object *o = &p->s3objs[seq % p->max_jobs];
    pthread_mutex_lock(&j->mu);
    int cancel = j->cancel;
    unsigned count = j->count;
    pthread_mutex_unlock(&j->mu);
    if (o->cur && (o->fill == 0 || cancel || o->status)) {
        pool_buffers_give(p->bufs, o->cur);   /* a body that failed is not scanned on from its half */
        o->cur = NULL;
    }
    if (o->cur) {
        if (count >= JOB_CHUNKS)
            return 0;
        job_push_chunk(j, o->cur, o->fill);
        o->cur = NULL;
    }
    int status = cancel || atomic_load(&p->stop) ? 0 : o->status;
    job_end_input(j, status, "read error", o->bytes);
    o->active = 0;
    return 1;
}

static void s3_on_done(void *ctx, uint64_t seq, int status, const char *err)
{
    pipeline *p = ctx;
    job *j = &p->jobs[seq % p->max_jobs];
    s3_object *o = &p->s3objs[seq % p->max_jobs];
    o->ended = 1;
    o->status = status;
    if (status) {
        /* err names the object as the job does: the error line says it once */
        size_t n = strlen(j->path);
        const char *what = strncmp(err, j->path, n) == 0 && strncmp(err + n, ": ", 2) == 0 ? err + n + 2 : err;
        snprintf(j->what_buf, sizeof j->what_buf, "%s", what);
    }
    s3_try_end(p, seq);
}

/* Ends the objects whose last chunk waited and lets the paused ones go
 * on. Returns 1 while an end still waits. */
static int s3_settle(pipeline *p, s3_fetcher *f)
{
    int waiting = 0;
    for (size_t i = 0; i < p->max_jobs; i++) {
        s3_object *o = &p->s3objs[i];
        if (!o->active)
            continue;
        if (o->ended)
            waiting |= !s3_try_end(p, p->jobs[i].seq);
        else if (o->paused && s3_fetcher_resume(f, p->jobs[i].seq) == 0)
            o->paused = 0;
    }
    return waiting;
}

/* The S3 client, made at the first s3:// input. Returns 0, or -EACCES with
 * err set when there are no credentials. */
static int s3_start(pipeline *p, char *err, size_t errlen)
{
    return p->s3 ? 0 : s3_client_from_env(p->opt->endpoint_url, &p->s3, err, errlen);
}

/* A finished job that says why an s3:// input could not be listed. err
 * names what was listed ("s3://b/prefix/: listing failed: ..."): that
 * part becomes the job's name. */
static void s3_fail(pipeline *p, const char *url, const char *err)
{
    char name[1024];
    const char *colon = strncmp(err, "s3://", 5) == 0 ? strstr(err, ": ") : NULL;
    if (colon && (size_t)(colon - err) < sizeof name) {
        memcpy(name, err, (size_t)(colon - err));
        name[colon - err] = '\0';
        url = name;
        err = colon + 2;
    }
    pthread_mutex_lock(&p->mu);
    p->total = p->next_seq + 1;
    pthread_mutex_unlock(&p->mu);
    job_walk_error(p, p->next_seq++, url, err, 0);
}

/*
 * The next of a run of --files-from lines that are objects of bucket (the
 * first is first_key): they are fetched together. Whatever the walk gives
 * after them waits in p->pending for the reader's loop. Returns WALK_INPUT,
 * WALK_END or -ENOMEM.
 */
static int next_object(pipeline *p, walker *w, const char *bucket, const char **first_key, const char **key)
{
    if (*first_key) {
        *key = *first_key;
        *first_key = NULL;
        return WALK_INPUT;
    }
    const char *path = NULL;     /* walk_next sets neither at WALK_END */
    char err[300] = "";
    size_t bl = strlen(bucket);
    int st = next_input(p, w, &path, err, sizeof err);
    if (st < 0)
        return st;
    if (st == WALK_INPUT && path && walk_is_object(w) && strncmp(path + 5, bucket, bl) == 0 && path[5 + bl] == '/') {
        *key = path + 5 + bl + 1;
        return WALK_INPUT;
    }
    char *kept = path ? strdup(path) : NULL;
    if (path && !kept)
        return -ENOMEM;
    free(p->pending.path);
    p->pending = (checkpoint_pending){ .set = 1, .status = st, .path = kept };
    snprintf(p->pending.err, sizeof p->pending.err, "%s", err);
    return WALK_END;
}

/*
 * Reads one s3:// input: lists it and fetches its objects, each a job in
 * listing order, until every one is handed to the workers. is_object: url
 * is one object, a --files-from line, fetched with the lines after it that
 * are objects of the same bucket (next_object). Returns 0, 1 when the
 * listing failed (the run stops: its job says why), or a negative errno.
 */
static int s3_read(pipeline *p, walker *w, const char *url, int is_object)
{
    char *bucket = NULL, *prefix = NULL, err[1024];
    const char *first_key = NULL;
    s3_lister *l = NULL;
    s3_fetcher *f = NULL;
    unsigned conc = p->opt->s3_concurrency ? p->opt->s3_concurrency : 128;
    int rc = s3_start(p, err, sizeof err), listed = 0, failed = 0;
    if (rc == -EACCES) {
        s3_fail(p, url, err);
        rc = 1;
        goto out;
    }
    if (rc)
        goto out;
    rc = s3_url_parse(url, &bucket, &prefix);
    if (rc == -EINVAL) {
        s3_fail(p, url, "not an s3://bucket[/prefix] URL");
        rc = 1;
        goto out;
    }
    if (rc)
        goto out;
    static const s3_fetch_callbacks cb = { s3_on_data, s3_on_done, NULL };
    if (p->nfetchers == p->cap_fetchers) {
        size_t cap = p->cap_fetchers ? 2 * p->cap_fetchers : 4;
        s3_fetcher **n = realloc(p->fetchers, cap * sizeof *n);
        if (!n) {
            rc = -ENOMEM;
            goto out;
        }
        p->fetchers = n;
        p->cap_fetchers = cap;
    }
    first_key = prefix;
    l = is_object ? NULL : s3_lister_create(p->s3, bucket, prefix, p->wopt);
    f = s3_fetcher_create(p->s3, bucket, conc, &cb, p);
    if ((!is_object && !l) || !f) {
        rc = -ENOMEM;
        goto out;
    }
    p->fetchers[p->nfetchers++] = f;
    atomic_store(&p->fetcher, f);
    for (;;) {
        atomic_store(&p->reader_wants_poke, 1);   /* before looking, as reader_loop does */
        while (!listed && s3_fetcher_pending(f) < conc) {
            pthread_mutex_lock(&p->mu);
            int window_full = p->next_seq >= p->written + p->max_jobs;
            pthread_mutex_unlock(&p->mu);
            if (window_full)
                break;
            if (atomic_load(&p->stop)) {
                listed = 1;
                break;
            }
            const char *key;
            uint64_t size = 0;
            int st = l ? s3_lister_next(l, &key, &size, err, sizeof err) : next_object(p, w, bucket, &first_key, &key);
            if (st < 0 || st == WALK_END || st == WALK_ERROR) {
                listed = 1;
                if (st < 0)
                    rc = st;
                if (st == WALK_ERROR) {
                    s3_fail(p, url, err);
                    failed = 1;
                }
                break;
            }
            char *name = malloc(strlen(bucket) + strlen(key) + 7);
            if (!name) {
                rc = -ENOMEM;
                listed = 1;
                break;
            }
            sprintf(name, "s3://%s/%s", bucket, key);
            /* a listed object is known by its size and ETag; a --files-from line by its name, as a local one */
            uint64_t identity = !p->opt->checkpoint ? 0
                                : l ? checkpoint_s3_identity(name, size, s3_lister_version(l))
                                    : checkpoint_input_identity(name);
            int skip = resume_skip(p, identity, name);
            if (skip) {
                free(name);
                if (skip < 0) {
                    rc = skip;
                    listed = 1;
                    break;
                }
                continue;
            }
            p->inputs_total++;
            pthread_mutex_lock(&p->mu);
            p->total = p->next_seq + 1;
            pthread_mutex_unlock(&p->mu);
            job *j = job_start(p, p->next_seq++, NULL);
            j->path = name;
            j->identity = identity;
            p->s3objs[j->seq % p->max_jobs] = (s3_object){ .active = 1 };
            if (s3_fetcher_add(f, key, j->seq)) {
                job_end_input(j, -ENOMEM, "cannot fetch", 0);
                p->s3objs[j->seq % p->max_jobs].active = 0;
            }
            /* the job goes out at once: the workers take jobs in order, so
             * the earliest objects are the taken ones, which may use the
             * reserve (see the top of run.c) */
            p->ready[p->nready++] = j;
        }
        int waiting = s3_settle(p, f);
        if (listed && s3_fetcher_pending(f) == 0 && !waiting)
            break;
        push_ready(p);
        int n = s3_fetcher_run(f, 1000);
        if (n < 0) {
            /* libcurl itself failed: the objects in flight end with an error, the run stops */
            for (size_t i = 0; i < p->max_jobs; i++) {
                s3_object *o = &p->s3objs[i];
                if (o->active) {
                    o->ended = 1;
                    o->status = -EIO;
                    snprintf(p->jobs[i].what_buf, sizeof p->jobs[i].what_buf, "transfer failed (libcurl)");
                    s3_try_end(p, p->jobs[i].seq);
                }
            }
            failed = 1;
            break;
        }
    }
    push_ready(p);
    atomic_store(&p->fetcher, NULL);
    walk_counts c = l ? s3_lister_counts(l) : (walk_counts){ 0 };
    p->s3_walk.skipped_digest += c.skipped_digest;
    p->s3_walk.skipped_insight += c.skipped_insight;
    p->s3_walk.files_pruned += c.files_pruned;
    p->s3_walk.dirs_pruned += c.dirs_pruned;
    p->s3_walk.files_other_shards += c.files_other_shards;
    p->s3_walk.skipped_other_files += c.skipped_other_files;
    p->s3_walk.skipped_other_dirs += c.skipped_other_dirs;
    p->s3_walk.skipped_own_files += c.skipped_own_files;
    if (!rc)
        rc = failed;
out:
    if (!f || p->nfetchers == 0 || p->fetchers[p->nfetchers - 1] != f)
        s3_fetcher_free(f);
    s3_lister_free(l);
    free(bucket);
    free(prefix);
    return rc;
}

int reader_loop(pipeline *p, walker *w)
{
    unsigned nslots = p->opt->io_depth;
    slot *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    p->slots = slots;
    for (unsigned i = 0; i < nslots; i++)
        slots[i].fd = -1;
    reader_event events[64];
    int walk_done = 0, published = 0, rc = 0;
    char *s3_next = NULL;       /* an s3:// input, read once every slot is free */
    int s3_next_object = 0;     /* it is one object (walk_is_object) */

    for (;;) {
        /* Ask to be woken before looking, so that a worker that frees
         * something after the look still wakes us; cleared below when
         * nothing here waits on a worker. */
        atomic_store(&p->reader_wants_poke, 1);
        int blocked = 0;
        /* open more inputs while there is a free slot and room in the window */
        for (unsigned i = 0; i < nslots && !walk_done && !p->cut && !s3_next; i++) {
            if (slots[i].state != SLOT_FREE)
                continue;
            pthread_mutex_lock(&p->mu);
            int window_full = p->next_seq >= p->written + p->max_jobs;
            pthread_mutex_unlock(&p->mu);
            if (window_full) {
                blocked = 1;
                break;
            }
            if (atomic_load(&p->stop)) {
                walk_done = 1;
                break;
            }
            const char *path;
            char err[300];
            int st = next_input(p, w, &path, err, sizeof err);
            if (st == WALK_END && (rc = resume_end(p)) != 0) {
                walk_done = 1;       /* the checkpoint stays as it is */
                break;
            }
            if (st < 0 || st == WALK_END) {
                rc = st < 0 ? st : 0;
                walk_done = 1;
                pthread_mutex_lock(&p->mu);
                p->walk_complete = st == WALK_END;
                pthread_mutex_unlock(&p->mu);
                if (st == WALK_END && p->resume && p->resume->complete && p->next_seq == 0) {
                    p->report->already_complete = 1;    /* a bucket that did not grow */
                    if (!p->opt->quiet)
                        checkpoint_say_complete(p->errout, p->opt->checkpoint, p->resume, p->opt->output);
                }
                break;
            }
            if (st == WALK_INPUT && path && strncmp(path, "s3://", 5) == 0) {
                s3_next_object = walk_is_object(w);
                if (!(s3_next = strdup(path))) {
                    rc = -ENOMEM;
                    walk_done = 1;
                }
                break;
            }
            uint64_t identity = p->opt->checkpoint ? checkpoint_input_identity(path) : 0;
            int skip = resume_skip(p, identity, path);
            if (skip < 0) {
                rc = skip;
                walk_done = 1;
                break;
            }
            if (skip) {
                i--;                 /* the slot is still free */
                continue;
            }
            p->inputs_total++;
            pthread_mutex_lock(&p->mu);
            p->total = p->next_seq + 1;
            pthread_mutex_unlock(&p->mu);
            if (st == WALK_ERROR) {
                job_walk_error(p, p->next_seq++, path, err, identity);
                i--;                 /* the slot is still free */
                continue;
            }
            if (p->workers_read && path) {
                job *j = job_start(p, p->next_seq++, path);
                j->identity = identity;
                j->worker_reads = 1;
                p->ready[p->nready++] = j;
                i--;                 /* the slot is still free */
                continue;
            }
            slot *s = &slots[i];
            s->j = job_start(p, p->next_seq++, path);
            s->j->identity = identity;
            s->delivered = 0;
            s->bytes = 0;
            s->fd = -1;
            s->state = SLOT_OPENING;
            reader_open(p->rd, i, s->j->path);
        }
        /* read for every idle slot that may */
        int busy = 0, stdin_busy = 0;
        for (unsigned i = 0; i < nslots; i++) {
            slot *s = &slots[i];
            if (s->cutting && s->state == SLOT_IDLE)
                blocked |= cut_advance(p, slots, s);
            if (s->state == SLOT_IDLE)
                blocked |= slot_try_read(p, slots, s);
            busy |= s->state != SLOT_FREE;
            stdin_busy |= s->state != SLOT_FREE && (s->cutting || !s->j->path);
        }
        /* the jobs are all made once the walk is over and stdin, which
         * may yet be cut into parts, is read */
        if (s3_next && !busy) {
            /* Read here, between the local inputs before and after it:
             * its objects' jobs follow theirs in sequence order. */
            push_ready(p);
            int src = s3_read(p, w, s3_next, s3_next_object);
            free(s3_next);
            s3_next = NULL;
            if (src) {                /* a listing that failed stops the run */
                rc = src < 0 ? src : 0;
                walk_done = 1;
            }
            continue;
        }
        if (walk_done && !stdin_busy && !published) {
            publish_walk_done(p);     /* the total is known now: the ETA can start */
            published = 1;
        }
        if (walk_done && !busy)
            break;
        if (!blocked)
            atomic_store(&p->reader_wants_poke, 0);   /* completions will wake us */
        push_ready(p);
        int n = reader_wait(p->rd, events, sizeof events / sizeof events[0]);
        if (n < 0) {
            rc = n;
            break;
        }
        for (int e = 0; e < n; e++)
            on_event(p, slots, &events[e]);
    }
    push_ready(p);
    free(s3_next);
    free(slots);
    p->slots = NULL;
    publish_walk_done(p);
    return rc;
}
