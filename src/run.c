/*
 * run: the pipeline.
 *
 * Threads, and what each owns:
 *   - The calling thread is the reader. It walks the inputs in order and
 *     keeps up to io_depth of them in flight through the reader module
 *     (io_uring, or synchronous reads): each open file has a slot, and each
 *     read lands in a buffer from a bounded pool. Every input becomes a job
 *     with a sequence number; the job goes to the workers with its first
 *     chunk, and the rest of its chunks follow it through a small channel
 *     (at most JOB_CHUNKS queued).
 *   - N workers. Each owns a scanner (decoder, framer, prefilter, parser).
 *     A worker takes a job, pushes its chunks through the scanner as they
 *     come, gives each buffer back to the pool, and leaves the findings, the
 *     input's one error line and its counters in the job.
 *   - One writer. It takes finished jobs strictly in sequence order, so the
 *     output is the same for any -j and --io; it writes the findings, prints
 *     the error line, adds the counters up and recycles the job.
 *
 * Bounds: at most max_jobs inputs between opened and written; at most
 * JOB_CHUNKS chunks queued per job; a fixed number of read buffers. A full
 * window stops the reader until the writer catches up.
 *
 * Why it cannot deadlock: a job's first chunk may use a buffer only while
 * more than `reserve` buffers are free; later chunks are read only once a
 * worker has taken the job, and may use the reserve. A worker waiting for
 * its next chunk holds no buffer, so the reserve always has one for it.
 *
 * Shutdown: when the walk is over and every file is read, the job queue is
 * closed (the sentinel); workers drain it and return; the writer returns
 * after the last sequence number; all threads are joined before run_scan
 * returns.
 */
#include "run.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "emit.h"
#include "pool.h"
#include "walk.h"

#define JOB_CHUNKS 2

static const char stdin_name[] = "<stdin>";

typedef struct {
    uint8_t *buf;           /* from the pool; the worker gives it back */
    size_t len;
} chunk;

typedef struct {
    uint64_t seq;
    char *path;             /* owned; NULL for stdin */
    /* the chunk channel, reader -> worker */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    chunk chunks[JOB_CHUNKS];
    unsigned head, count;
    int eof;                /* no more chunks will come */
    int read_error;         /* -errno of a failed open or read */
    const char *read_what;  /* "cannot open" or "read error" */
    uint64_t read_offset;   /* bytes read before it failed */
    int taken;              /* a worker has the job */
    int cancel;             /* the scanner stopped early: stop reading */
    /* the result, worker -> writer */
    scan_result result;
    int done;               /* guarded by the pipeline's mu */
} job;

enum slot_state { SLOT_FREE, SLOT_OPENING, SLOT_IDLE, SLOT_READING };

typedef struct {
    enum slot_state state;
    job *j;
    int fd;
    int64_t offset;         /* next read; -1 for stdin */
    uint64_t bytes;         /* read so far */
    uint8_t *buf;           /* the read in flight */
    int delivered;          /* the job went to the workers */
} slot;

typedef struct {
    const run_options *opt;
    reader *rd;
    pool_buffers *bufs;
    pool_queue *queue;
    size_t reserve;             /* buffers kept for taken jobs */
    job *jobs;
    size_t max_jobs;
    atomic_int reader_wants_poke;
    atomic_int stop;            /* the output is gone: open nothing more */

    pthread_mutex_t mu;         /* guards job.done, written, total, walk_done */
    pthread_cond_t cv;
    uint64_t written;           /* jobs the writer is done with */
    uint64_t writer_wants;      /* the sequence number the writer sleeps on */
    uint64_t total;             /* jobs created */
    int walk_done;

    emit_writer *out;
    FILE *errout;
    run_report *report;
    int write_rc;               /* the writer's fatal error */
    emit_dedupe *dedupe;        /* NULL with --no-dedupe */
    uint64_t skip_inputs;       /* a checkpoint's inputs_done */
    double t0;
    int progress_shown;         /* a progress line is on the terminal */
} pipeline;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wakes the reader if it asked to be woken. */
static void poke_reader(pipeline *p)
{
    if (atomic_exchange(&p->reader_wants_poke, 0))
        reader_notify(p->rd);
}

static const char *job_name(const job *j)
{
    return j->path ? j->path : stdin_name;
}

/* ---- workers ---- */

typedef struct {
    pipeline *p;
    scanner *sc;
} worker_arg;

static void *worker_main(void *arg)
{
    worker_arg *w = arg;
    pipeline *p = w->p;
    job *j;
    while ((j = pool_queue_pop(p->queue)) != NULL) {
        pthread_mutex_lock(&j->mu);
        j->taken = 1;
        pthread_mutex_unlock(&j->mu);
        poke_reader(p);

        scan_begin(w->sc, job_name(j), &j->result);
        int stopped = 0;
        for (;;) {
            pthread_mutex_lock(&j->mu);
            while (j->count == 0 && !j->eof)
                pthread_cond_wait(&j->cv, &j->mu);
            if (j->count == 0) {
                pthread_mutex_unlock(&j->mu);
                break;
            }
            chunk c = j->chunks[j->head];
            j->head = (j->head + 1) % JOB_CHUNKS;
            j->count--;
            pthread_mutex_unlock(&j->mu);

            if (!stopped && scan_feed(w->sc, c.buf, c.len) != 0) {
                stopped = 1;
                pthread_mutex_lock(&j->mu);
                j->cancel = 1;
                pthread_mutex_unlock(&j->mu);
            }
            pool_buffers_give(p->bufs, c.buf);
            poke_reader(p);
        }
        if (j->read_error) {
            char what[160];
            snprintf(what, sizeof what, "%s: %s", j->read_what, strerror(-j->read_error));
            scan_fail(w->sc, j->read_offset, what);
        }
        scan_end(w->sc);

        pthread_mutex_lock(&p->mu);
        j->done = 1;
        if (p->writer_wants == j->seq)
            pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

/* ---- writer ---- */

/* Writes the job's findings, less those already emitted (counted in
 * report->duplicates_dropped and taken off the findings count). */
static int write_findings(pipeline *p, const scan_result *r)
{
    if (!p->dedupe)
        return emit_write(p->out, r->findings.data, r->findings.len);
    size_t keep_from = 0, line_start = 0;
    for (size_t i = 0; i < r->nlines; i++) {
        size_t end = r->lines[i].end;
        int fresh = r->lines[i].key == 0 ? 1 : emit_dedupe_add(p->dedupe, r->lines[i].key);
        if (fresh < 0)
            return fresh;
        if (!fresh) {
            p->report->duplicates_dropped++;
            p->report->stats.findings--;
            int rc = emit_write(p->out, r->findings.data + keep_from, line_start - keep_from);
            if (rc)
                return rc;
            keep_from = end;
        }
        line_start = end;
    }
    return emit_write(p->out, r->findings.data + keep_from, r->findings.len - keep_from);
}

static int save_checkpoint(pipeline *p, uint64_t jobs_written)
{
    int rc = emit_sync(p->out);
    if (rc)
        return rc;
    emit_checkpoint cp = { p->opt->fingerprint, p->skip_inputs + jobs_written, emit_offset(p->out) };
    return emit_checkpoint_save(p->opt->checkpoint, &cp);
}

static void show_progress(pipeline *p, uint64_t done, int final)
{
    const scan_stats *s = &p->report->stats;
    double secs = now_seconds() - p->t0;
    pthread_mutex_lock(&p->mu);
    uint64_t total = p->walk_done ? p->total : 0;
    pthread_mutex_unlock(&p->mu);
    char eta[32] = "";
    if (total && done && done < total) {
        long left = (long)(secs * (double)(total - done) / (double)done);
        snprintf(eta, sizeof eta, ", ETA %ld:%02ld", left / 60, left % 60);
    }
    char of_total[32] = "";
    if (total)
        snprintf(of_total, sizeof of_total, "/%llu", (unsigned long long)total);
    fprintf(p->errout, "\r\033[Korgtrail: %llu%s files, %.1f MB decoded (%.1f MB read), %.0f MB/s, %llu findings%s%s",
            (unsigned long long)done, of_total, (double)s->bytes_decoded / 1e6, (double)s->bytes_in / 1e6,
            secs > 0 ? (double)s->bytes_decoded / 1e6 / secs : 0.0, (unsigned long long)s->findings, eta,
            final ? "\n" : "");
    fflush(p->errout);
    p->progress_shown = !final;
}

static void *writer_main(void *arg)
{
    pipeline *p = arg;
    double last_checkpoint = now_seconds(), last_progress = 0;
    uint64_t seq = 0;
    for (;; seq++) {
        pthread_mutex_lock(&p->mu);
        job *j = &p->jobs[seq % p->max_jobs];
        p->writer_wants = seq;
        while (!(seq < p->total && j->done) && !(p->walk_done && seq == p->total))
            pthread_cond_wait(&p->cv, &p->mu);
        p->writer_wants = UINT64_MAX;
        int finished = p->walk_done && seq == p->total;
        pthread_mutex_unlock(&p->mu);
        if (finished)
            break;

        scan_result *r = &j->result;
        scan_stats_add(&p->report->stats, &r->stats);
        if (r->findings.len > 0 && !atomic_load(&p->stop)) {
            int rc = write_findings(p, r);
            if (rc == -EPIPE) {
                p->report->output_closed = 1;
            } else if (rc) {
                p->write_rc = rc;
            }
            if (rc)
                atomic_store(&p->stop, 1);
        }
        if (r->error[0] && !atomic_load(&p->stop))
            fprintf(p->errout, "%sorgtrail: %s: %s\n", p->progress_shown ? "\r\033[K" : "", job_name(j),
                    r->error);
        double now = now_seconds();
        if (p->opt->checkpoint && !atomic_load(&p->stop) && now - last_checkpoint >= p->opt->checkpoint_interval) {
            int rc = save_checkpoint(p, seq + 1);
            if (rc) {
                p->write_rc = rc;
                atomic_store(&p->stop, 1);
            }
            last_checkpoint = now;
        }
        if (p->opt->progress && now - last_progress >= 0.1) {
            show_progress(p, seq + 1, 0);
            last_progress = now;
        }

        free(j->path);
        j->path = NULL;
        scan_result_clear(r);
        pthread_mutex_lock(&p->mu);
        j->done = 0;
        p->written = seq + 1;
        pthread_mutex_unlock(&p->mu);
        poke_reader(p);
    }
    if (p->opt->checkpoint && !atomic_load(&p->stop)) {
        int rc = save_checkpoint(p, seq);
        if (rc)
            p->write_rc = rc;
    }
    if (p->opt->progress)
        show_progress(p, seq, 1);
    return NULL;
}

/* ---- reader (the calling thread) ---- */

static job *job_start(pipeline *p, uint64_t seq, const char *path)
{
    job *j = &p->jobs[seq % p->max_jobs];
    j->seq = seq;
    j->path = path ? strdup(path) : NULL;
    j->head = j->count = 0;
    j->eof = j->taken = j->cancel = 0;
    j->read_error = 0;
    j->read_offset = 0;
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

static void deliver(pipeline *p, slot *s)
{
    if (!s->delivered) {
        s->delivered = 1;
        pool_queue_push(p->queue, s->j);   /* never blocks: the queue holds max_jobs */
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

/* Submits a read for an idle slot if its job has room and a buffer is to
 * be had under the reserve rule. Returns 1 when it is blocked on a worker
 * (no room, not taken, no buffer). */
static int slot_try_read(pipeline *p, slot *slots, slot *s)
{
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
static void job_walk_error(pipeline *p, uint64_t seq, const char *path, const char *err)
{
    job *j = job_start(p, seq, path);
    snprintf(j->result.error, sizeof j->result.error, "%s", err);
    j->result.stats.errors = 1;
    pthread_mutex_lock(&p->mu);
    j->done = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void publish_walk_done(pipeline *p)
{
    pthread_mutex_lock(&p->mu);
    p->walk_done = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static int reader_loop(pipeline *p, walker *w)
{
    unsigned nslots = p->opt->io_depth;
    slot *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return -ENOMEM;
    for (unsigned i = 0; i < nslots; i++)
        slots[i].fd = -1;
    reader_event events[64];
    uint64_t next_seq = 0;
    int walk_done = 0, rc = 0;

    for (;;) {
        /* Ask to be woken before looking, so that a worker that frees
         * something after the look still wakes us; cleared below when
         * nothing here waits on a worker. */
        atomic_store(&p->reader_wants_poke, 1);
        int blocked = 0;
        /* open more inputs while there is a free slot and room in the window */
        for (unsigned i = 0; i < nslots && !walk_done; i++) {
            if (slots[i].state != SLOT_FREE)
                continue;
            pthread_mutex_lock(&p->mu);
            int window_full = next_seq >= p->written + p->max_jobs;
            pthread_mutex_unlock(&p->mu);
            if (window_full) {
                blocked = 1;
                break;
            }
            if (atomic_load(&p->stop)) {
                walk_done = 1;
                publish_walk_done(p);
                break;
            }
            const char *path;
            char err[300];
            int st = walk_next(w, &path, err, sizeof err);
            if ((st == WALK_INPUT || st == WALK_ERROR) && p->report->resumed_from < p->skip_inputs) {
                p->report->resumed_from++;   /* finished before the checkpoint */
                i--;
                continue;
            }
            if (st < 0 || st == WALK_END) {
                rc = st < 0 ? st : 0;
                walk_done = 1;
                publish_walk_done(p);     /* the total is known now: the ETA can start */
                break;
            }
            pthread_mutex_lock(&p->mu);
            p->total = next_seq + 1;
            pthread_mutex_unlock(&p->mu);
            if (st == WALK_ERROR) {
                job_walk_error(p, next_seq++, path, err);
                i--;                 /* the slot is still free */
                continue;
            }
            slot *s = &slots[i];
            s->j = job_start(p, next_seq++, path);
            s->delivered = 0;
            s->bytes = 0;
            s->fd = -1;
            s->state = SLOT_OPENING;
            reader_open(p->rd, i, s->j->path);
        }
        /* read for every idle slot that may */
        int busy = 0;
        for (unsigned i = 0; i < nslots; i++) {
            if (slots[i].state == SLOT_IDLE)
                blocked |= slot_try_read(p, slots, &slots[i]);
            busy |= slots[i].state != SLOT_FREE;
        }
        if (walk_done && !busy)
            break;
        if (!blocked)
            atomic_store(&p->reader_wants_poke, 0);   /* completions will wake us */
        int n = reader_wait(p->rd, events, sizeof events / sizeof events[0]);
        if (n < 0) {
            rc = n;
            break;
        }
        for (int e = 0; e < n; e++)
            on_event(p, slots, &events[e]);
    }
    free(slots);
    publish_walk_done(p);
    return rc;
}

/* Dedupe holds across a resumed run: the findings already in the output
 * are the ones emitted. */
static int reload_dedupe(pipeline *p, const char *output, uint64_t bytes, FILE *errout)
{
    p->dedupe = emit_dedupe_create();
    char *buf = malloc(bytes ? bytes : 1);
    FILE *f = fopen(output, "r");
    int rc = 0;
    if (!p->dedupe || !buf) {
        rc = -ENOMEM;
    } else if (!f || fread(buf, 1, bytes, f) != bytes) {
        fprintf(errout, "orgtrail: %s: cannot read the output to resume\n", output);
        rc = -EIO;
    } else if (emit_dedupe_load(p->dedupe, buf, bytes) < 0) {
        rc = -ENOMEM;
    }
    if (f)
        fclose(f);
    free(buf);
    return rc;
}

int run_scan(const run_options *opt, run_report *report, FILE *errout)
{
    static const char *const stdin_only[] = { "-" };
    int default_stdin = opt->npaths == 0 && !opt->walk.files_from;
    const char *const *paths = default_stdin ? stdin_only : opt->paths;
    size_t npaths = default_stdin ? 1 : opt->npaths;
    unsigned nworkers = opt->workers ? opt->workers : 1;
    unsigned depth = opt->io_depth ? opt->io_depth : 1;
    double t0 = now_seconds();
    int rc = 0, err = 0;
    char why[160];

    memset(report, 0, sizeof *report);
    report->workers = nworkers;
    pipeline p = { .opt = opt, .errout = errout, .report = report, .writer_wants = UINT64_MAX };
    run_options o = *opt;
    o.io_depth = depth;
    p.opt = &o;
    p.max_jobs = 2 * (size_t)depth + 4 * (size_t)nworkers;
    p.reserve = (size_t)nworkers * (JOB_CHUNKS + 1);
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);

    worker_arg *wargs = calloc(nworkers, sizeof *wargs);
    pthread_t *threads = calloc(nworkers, sizeof *threads);
    pthread_t writer;
    unsigned started = 0;
    int writer_started = 0;
    walker *w = walk_create(paths, npaths, &opt->walk);
    p.t0 = t0;
    if (opt->checkpoint) {
        emit_checkpoint cp;
        int lrc = emit_checkpoint_load(opt->checkpoint, &cp);
        if (lrc == 0 && cp.fingerprint != opt->fingerprint) {
            fprintf(errout, "orgtrail: %s: checkpoint of a different command (other inputs or options); "
                            "remove it to start over\n", opt->checkpoint);
            rc = -EINVAL;
            goto out;
        }
        if (lrc == -EINVAL) {
            fprintf(errout, "orgtrail: %s: not an orgtrail checkpoint\n", opt->checkpoint);
            rc = -EINVAL;
            goto out;
        }
        if (lrc == 0) {
            p.skip_inputs = cp.inputs_done;
            p.out = emit_open_resume(opt->output, cp.output_bytes, &err);
            if (!p.out) {
                fprintf(errout, "orgtrail: %s: cannot resume: %s\n", opt->output,
                        err == -ESPIPE ? "shorter than the checkpoint says (remove the checkpoint to start over)"
                                       : strerror(-err));
                rc = err;
                goto out;
            }
            if (p.out && opt->dedupe && (rc = reload_dedupe(&p, opt->output, cp.output_bytes, errout)))
                goto out;
        }
    }
    if (opt->dedupe && !p.dedupe) {
        p.dedupe = emit_dedupe_create();
        if (!p.dedupe) {
            rc = -ENOMEM;
            goto out;
        }
    }
    if (!p.out)
        p.out = emit_open(opt->output, &err);
    if (!p.out) {
        fprintf(errout, "orgtrail: %s: %s\n", opt->output ? opt->output : "<stdout>", strerror(-err));
        rc = err;
        goto out;
    }
    if (opt->crash_after_bytes)
        emit_crash_after(p.out, opt->crash_after_bytes);
    p.rd = reader_create(opt->io, depth, why, sizeof why, &err);
    if (!p.rd) {
        fprintf(errout, "orgtrail: --io=uring: %s\n", why[0] ? why : strerror(-err));
        rc = err;
        goto out;
    }
    if (why[0] && !opt->quiet)
        fprintf(errout, "orgtrail: %s; using synchronous reads\n", why);
    snprintf(report->io_fallback, sizeof report->io_fallback, "%s", why);
    report->io = reader_backend(p.rd);
    p.bufs = pool_buffers_create(p.max_jobs + p.reserve, opt->read_size ? opt->read_size : 256u << 10);
    p.queue = pool_queue_create(p.max_jobs);
    p.jobs = calloc(p.max_jobs, sizeof *p.jobs);
    if (!wargs || !threads || !w || !p.bufs || !p.queue || !p.jobs) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < p.max_jobs; i++) {
        pthread_mutex_init(&p.jobs[i].mu, NULL);
        pthread_cond_init(&p.jobs[i].cv, NULL);
    }
    for (unsigned i = 0; i < nworkers; i++) {
        wargs[i].p = &p;
        wargs[i].sc = scan_create(&opt->scan);
        if (!wargs[i].sc) {
            rc = -ENOMEM;
            goto out;
        }
    }
    for (; started < nworkers; started++)
        if (pthread_create(&threads[started], NULL, worker_main, &wargs[started]) != 0) {
            rc = -EAGAIN;
            goto out;
        }
    if (pthread_create(&writer, NULL, writer_main, &p) != 0) {
        rc = -EAGAIN;
        goto out;
    }
    writer_started = 1;

    rc = reader_loop(&p, w);
out:
    if (p.queue)
        pool_queue_close(p.queue);
    for (unsigned i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    if (writer_started) {
        publish_walk_done(&p);
        pthread_join(writer, NULL);
    }
    if (w) {   /* the writer has been joined: the counters are ours again */
        report->walk = walk_get_counts(w);
        report->stats.skipped_digest_files += report->walk.skipped_digest;
        report->stats.skipped_insight_files += report->walk.skipped_insight;
    }
    if (rc == -ENOMEM || rc == -EAGAIN)
        fprintf(errout, "orgtrail: %s\n", strerror(-rc));
    if (p.out) {
        int crc = emit_close(p.out);
        if (!p.write_rc)
            p.write_rc = crc;
    }
    if (p.write_rc) {
        fprintf(errout, "orgtrail: %s: write error: %s\n", opt->output ? opt->output : "<stdout>",
                strerror(-p.write_rc));
        if (!rc)
            rc = p.write_rc;
    }
    report->seconds = now_seconds() - t0;
    for (unsigned i = 0; wargs && i < nworkers; i++)
        scan_free(wargs[i].sc);
    if (p.jobs) {
        for (size_t i = 0; i < p.max_jobs; i++) {
            free(p.jobs[i].path);
            scan_result_free(&p.jobs[i].result);
            pthread_mutex_destroy(&p.jobs[i].mu);
            pthread_cond_destroy(&p.jobs[i].cv);
        }
    }
    free(p.jobs);
    emit_dedupe_free(p.dedupe);
    pool_queue_free(p.queue);
    pool_buffers_free(p.bufs);
    reader_free(p.rd);
    walk_free(w);
    free(wargs);
    free(threads);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    return rc;
}

void run_print_stats(const run_report *r, FILE *out)
{
    const scan_stats *s = &r->stats;
    ot_buf why = { 0 };
    if (buf_append_json_string(&why, r->io_fallback, strlen(r->io_fallback)) || buf_append(&why, "", 1)) {
        buf_free(&why);
        return;
    }
    fprintf(out,
            "{\"files\":%llu,\"bytes_in\":%llu,\"bytes_decoded\":%llu,\"records_seen\":%llu,"
            "\"candidates\":%llu,\"records_parsed\":%llu,\"records_repaired\":%llu,\"findings\":%llu,"
            "\"errors\":%llu,\"skipped_digest_files\":%llu,\"skipped_insight_files\":%llu,"
            "\"outside_window\":%llu,\"files_pruned\":%llu,\"dirs_pruned\":%llu,\"files_other_shards\":%llu,"
            "\"resumed_from\":%llu,\"duplicates_dropped\":%llu,"
            "\"seconds\":%.3f,\"inflate\":\"%s\",\"io\":\"%s\",\"io_fallback\":%s,\"threads\":%u}\n",
            (unsigned long long)s->files, (unsigned long long)s->bytes_in,
            (unsigned long long)s->bytes_decoded, (unsigned long long)s->records_seen,
            (unsigned long long)s->candidates, (unsigned long long)s->records_parsed,
            (unsigned long long)s->records_repaired, (unsigned long long)s->findings,
            (unsigned long long)s->errors, (unsigned long long)s->skipped_digest_files,
            (unsigned long long)s->skipped_insight_files, (unsigned long long)s->outside_window,
            (unsigned long long)r->walk.files_pruned, (unsigned long long)r->walk.dirs_pruned,
            (unsigned long long)r->walk.files_other_shards, (unsigned long long)r->resumed_from,
            (unsigned long long)r->duplicates_dropped, r->seconds, decode_inflate_backend(),
            r->io ? r->io : "none", why.data, r->workers);
    buf_free(&why);
}
