/*
 * run: the pipeline. This file wires it and runs the workers; the reader
 * is run_read.c, the writer run_write.c, and what they share (the job, the
 * pipeline) is run_pipeline.h.
 *
 * Threads, and what each owns:
 *   - The calling thread is the reader. It walks the inputs in order and
 *     makes every input a job with a sequence number. With io_uring it
 *     keeps up to io_depth inputs in flight through the reader module: each
 *     open file has a slot, and each read lands in a buffer from a bounded
 *     pool; the job goes to the workers with its first chunk, and the rest
 *     of its chunks follow it through a small channel (at most JOB_CHUNKS
 *     queued). With synchronous reads the job goes out with its path alone
 *     and its worker reads the file (reader_read_file): the open, read and
 *     close calls then run on every worker instead of all on this thread,
 *     which on 2 cores was the part that did not scale (see the README's
 *     profile). stdin is always read here.
 *     An s3:// input is read here too, once the local inputs before it are
 *     all read (s3_read): an s3_lister gives its keys in a mirror's walk
 *     order, each becomes a job at once (the next sequence number), and an
 *     s3_fetcher keeps up to --s3-concurrency GETs in flight, run between
 *     the reader's looks at its jobs (s3_fetcher_run; a worker's poke wakes
 *     it with s3_fetcher_wakeup). Bodies land in pool buffers and go down
 *     the job's channel like a file's reads; an object with no room (a
 *     full channel, or no buffer under the reserve rule) is paused, and
 *     resumed when the reader looks again. --files-from lines that are
 *     s3:// objects are fetched the same way, a run of them at once.
 *     With --checkpoint the finished inputs are skipped as they come
 *     (resume_skip): a bucket is listed once, not once to check and again
 *     to read.
 *   - N workers. Each owns a scanner (decoder, framer, prefilter, parser)
 *     and, with synchronous reads, one read buffer. A worker takes a job,
 *     pushes its bytes through the scanner as they come, gives each pool
 *     buffer back, and leaves the findings, the input's one error line and
 *     its counters in the job.
 *   - One writer. It takes finished jobs strictly in sequence order, so the
 *     output is the same for any -j and --io; it writes the findings, prints
 *     the error line, adds the counters up and recycles the job.
 *
 * Wake-ups: waking a sleeping thread costs several microseconds on a VM,
 * more than scanning a TINY file, so no thread wakes another for each
 * input. The reader hands the jobs it made ready to the workers in one push
 * before it sleeps (push_ready); the writer sleeps until write_batch jobs
 * or WRITE_BATCH_BYTES of output are done (writer_may_go) and tells the
 * reader of the room once a batch. The bytes bound keeps big outputs few in
 * flight, so their buffers come back to be reused (buf_recycle) before the
 * next ones grow: with 32 results of a megabyte each in flight, all fresh
 * memory, the community set's run took 36,000 page faults (21,000 now).
 *
 * Bounds: at most max_jobs inputs between opened and written; at most
 * JOB_CHUNKS chunks queued per job; a fixed number of read buffers (plus
 * one a worker with synchronous reads). A full window stops the reader
 * until the writer catches up.
 *
 * Why it cannot deadlock: a job's first chunk may use a buffer only while
 * more than `reserve` buffers are free; later chunks are read only once a
 * worker has taken the job, and may use the reserve. A worker waiting for
 * its next chunk holds no buffer, so the reserve always has one for it.
 * An S3 object's job goes to the workers before its body comes (workers
 * take jobs in order, so the taken ones are the oldest objects); until it
 * is taken it holds at most JOB_CHUNKS + 1 buffers, and only while more
 * than the reserve are free, so a taken object always gets one. The
 * window (max_jobs) is at least --s3-concurrency + 4 per worker, so every
 * object in flight has its job.
 * Every job but stdin's tail becomes done without the writer, so the
 * writer's batch always comes; a tail's worker tells the writer it waits.
 * The reader pushes what it made ready before every wait.
 *
 * stdin cut into parts: a gzip stream on stdin (usually many CloudTrail
 * files, one member each) is cut by stdin_cut where a member seems to
 * begin once the part has --part-size bytes. The reader feeds the cutter
 * and its callback (take_part) makes each part a job of its own, scanned
 * from that place (scan_begin_part) by any worker. Compressed data may look
 * like a member start by chance, so the writer accepts a part only if it
 * ended cleanly exactly where the next part began; at the first part that
 * did not, the writer scans that part and every later one in order itself,
 * from the parts' kept bytes, which is what reading the stream in order
 * would have given. A member longer than STDIN_CUT_PART_MAX ends the
 * cutting: the rest of stdin becomes the tail part, read in chunks like a
 * file, which a worker scans once the writer has written everything before
 * it (with the writer's scanner if it had to take over). While stdin is
 * being cut no other input is opened, so the parts' sequence numbers follow
 * each other.
 *
 * Correlations: a scanner turns each match of a rule that feeds a
 * correlation into a capture (correlate.h) kept in the job's result. The
 * writer, taking jobs in sequence order, hands those to the correlation
 * store, which is its own (no lock) and takes them without parsing; with
 * --checkpoint they carry their state lines too, which go to CKPT.corr,
 * whose length each checkpoint records once it is synced. With
 * --correlation-state the scanners make state lines only, and the writer
 * writes them to that file instead. After the last
 * input the writer evaluates the store and writes the correlation findings
 * through the same emit writer and views. A checkpoint's output length stops
 * before them: a resumed run cuts them off and writes them again from every
 * match, the saved ones included.
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
#include <unistd.h>

#include "decode.h"
#include "run_pipeline.h"

const char stdin_name[] = "<stdin>";

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wakes the reader if it asked to be woken. */
void poke_reader(pipeline *p)
{
    if (atomic_exchange(&p->reader_wants_poke, 0)) {
        reader_notify(p->rd);
        s3_fetcher *f = atomic_load(&p->fetcher);
        if (f)
            s3_fetcher_wakeup(f);
    }
}

const char *job_name(const job *j)
{
    return j->path ? j->path : stdin_name;
}

/* ---- workers ---- */

/*
 * Whether the writer, sleeping on job seq, may go: the walk is over and
 * every job written, or job seq is done and so is a batch of jobs (or
 * every job made so far, or a tail waits on the writer). Waking a thread
 * costs several microseconds here (most of TINY's time went into it when
 * the writer woke for every file), so the writer wakes once a batch.
 * Every job but a tail becomes done without the writer, so the batch
 * always comes. Called with p->mu held.
 */
int writer_may_go(const pipeline *p, uint64_t seq)
{
    if (p->walk_done && seq == p->total)
        return 1;
    if (seq >= p->total || !p->jobs[seq % p->max_jobs].done)
        return 0;
    return p->done_unwritten >= p->write_batch || p->done_unwritten_bytes >= WRITE_BATCH_BYTES ||
           p->done_unwritten == p->total - seq || p->tail_waits;
}

/* Marks the job done, and wakes the writer if it may go now. */
void job_done(pipeline *p, job *j)
{
    pthread_mutex_lock(&p->mu);
    j->done = 1;
    p->done_unwritten++;
    j->done_bytes = j->result.findings.len + j->result.corr.len;
    p->done_unwritten_bytes += j->done_bytes;
    if (p->writer_wants != UINT64_MAX && writer_may_go(p, p->writer_wants))
        pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

/* A part that is all of stdin (one member) is scanned as a whole input. */
int whole_part(const job *j)
{
    return j->part_last && j->at.in_offset == 0;
}

/* The end of a job's bytes: its read error, if any, then the end checks. */
void finish_input(scanner *sc, const job *j)
{
    if (j->read_error && j->what_buf[0]) {
        scan_fail(sc, j->read_offset, j->what_buf);
    } else if (j->read_error) {
        char what[160];
        snprintf(what, sizeof what, "%s: %s", j->read_what, strerror(-j->read_error));
        scan_fail(sc, j->read_offset, what);
    }
    scan_end(sc);
}

typedef struct {
    pipeline *p;
    scanner *sc;
    uint8_t *buf;           /* with p->workers_read: its reads land here */
    size_t buf_size;
} worker_arg;

static int feed_chunk(void *ctx, const uint8_t *buf, size_t n)
{
    return scan_feed(ctx, buf, n) != 0;
}

/* The job's bytes as the reader sends them: its data, then its chunks,
 * each buffer given back as soon as it is scanned. */
static void take_chunks(pipeline *p, job *j, scanner *sc, int skip)
{
    int stopped = skip;
    if (j->data && !stopped && scan_feed(sc, j->data, j->data_len) != 0) {
        stopped = 1;
        pthread_mutex_lock(&j->mu);
        j->cancel = 1;
        pthread_mutex_unlock(&j->mu);
    }
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

        if (!stopped && scan_feed(sc, c.buf, c.len) != 0) {
            stopped = 1;
            pthread_mutex_lock(&j->mu);
            j->cancel = 1;
            pthread_mutex_unlock(&j->mu);
        }
        pool_buffers_give(p->bufs, c.buf);
        poke_reader(p);
    }
}

static void *worker_main(void *arg)
{
    worker_arg *w = arg;
    pipeline *p = w->p;
    job *j;
    while ((j = pool_queue_pop(p->queue)) != NULL) {
        pthread_mutex_lock(&j->mu);
        j->taken = 1;
        pthread_mutex_unlock(&j->mu);
        if (!j->worker_reads)
            poke_reader(p);   /* the reader reads a job's later chunks once it is taken */

        scanner *sc = w->sc;
        scan_result *res = &j->result;
        int skip = 0;
        if (j->part == PART_TAIL) {
            /* the tail goes on from where the writer says the parts before it ended */
            pthread_mutex_lock(&p->mu);
            p->tail_waits = 1;
            if (p->writer_wants != UINT64_MAX && writer_may_go(p, p->writer_wants))
                pthread_cond_signal(&p->cv);
            while (p->written < j->seq)
                pthread_cond_wait(&p->part_cv, &p->mu);
            p->tail_waits = 0;
            scan_part at = p->expect;
            pthread_mutex_unlock(&p->mu);
            if (atomic_load(&p->in_order)) {
                sc = p->order_sc;
                res = &p->order_res;
            } else {
                scan_begin_part(sc, stdin_name, res, at.in_offset ? &at : NULL);
            }
        } else if (j->part == PART_CUT && !whole_part(j)) {
            skip = atomic_load(&p->in_order);   /* the writer scans it anyway */
            if (!skip)
                scan_begin_part(sc, stdin_name, res, j->at.in_offset ? &j->at : NULL);
        } else {
            scan_begin(sc, job_name(j), res);
        }
        if (j->worker_reads && !atomic_load(&p->stop))   /* the output is gone: read no more */
            j->read_error = reader_read_file(j->path, w->buf, w->buf_size, feed_chunk, sc, &j->read_what,
                                             &j->read_offset);
        else if (!j->worker_reads)
            take_chunks(p, j, sc, skip);
        if (!skip)
            finish_input(sc, j);

        job_done(p, j);
    }
    return NULL;
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
        ot_say(errout, "orgtrail: %s: cannot read the output to resume\n", output);
        rc = -EIO;
    } else if (emit_dedupe_load(p->dedupe, buf, bytes) < 0) {
        rc = -ENOMEM;
    }
    if (f)
        fclose(f);
    free(buf);
    return rc;
}

/* Opens the matches file: a fresh one (a state file starts with its
 * header), or, resuming, the one of the checkpointed run cut back to what
 * its checkpoint covers, whose matches go back into the store. */
static int corr_open(pipeline *p, int resume, uint64_t bytes)
{
    int err = 0;
    if (!resume) {
        p->corr_out = emit_open(p->corr_path, &err);
        if (p->corr_out && p->opt->correlation_state) {
            ot_buf h = { 0 };
            err = corr_state_header(&h, &p->corr_set, p->opt->scan.format);
            err = err ? err : emit_write(p->corr_out, h.data, h.len);
            buf_free(&h);
        }
    } else {
        p->corr_out = emit_open_resume(p->corr_path, bytes, &err);
    }
    if (!p->corr_out || err) {
        ot_say(p->errout, "orgtrail: %s: %s\n", p->corr_path,
               err == -ESPIPE ? "shorter than the checkpoint says (remove the checkpoint to start over)"
                              : strerror(err ? -err : EIO));
        return err ? err : -EIO;
    }
    if (!resume || !p->corr || bytes == 0)
        return 0;
    char *buf = malloc(bytes);
    FILE *f = fopen(p->corr_path, "r");
    int rc = 0;
    if (!buf) {
        rc = -ENOMEM;
    } else if (!f || fread(buf, 1, bytes, f) != bytes) {
        ot_say(p->errout, "orgtrail: %s: cannot read the correlation matches to resume\n", p->corr_path);
        rc = -EIO;
    } else {
        uint64_t bad = 0;
        rc = corr_store_add(p->corr, buf, bytes, p->corr_path, 0, p->errout, &bad);
        p->report->stats.errors += bad;
        if (rc == -E2BIG)
            rc = corr_over_cap(p);
    }
    if (f)
        fclose(f);
    free(buf);
    return rc;
}

/* 1 when a PATH is an s3:// URL. */
static int reads_s3(const run_options *opt)
{
    for (size_t i = 0; i < opt->npaths; i++)
        if (strncmp(opt->paths[i], "s3://", 5) == 0)
            return 1;
    return 0;
}

/* 1 when the inputs include stdin. */
static int reads_stdin(const run_options *opt)
{
    int yes = opt->npaths == 0 && !opt->walk.files_from;
    for (size_t i = 0; i < opt->npaths; i++)
        yes |= strcmp(opt->paths[i], "-") == 0;
    return yes;
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
    size_t s3_jobs = (size_t)(opt->s3_concurrency ? opt->s3_concurrency : 128) + 4 * (size_t)nworkers;
    if (reads_s3(opt) && p.max_jobs < s3_jobs)
        p.max_jobs = s3_jobs;      /* every object in flight has its job */
    p.reserve = (size_t)nworkers * (JOB_CHUNKS + 1);
    p.write_batch = p.max_jobs / 4 < 32 ? p.max_jobs / 4 : 32;
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    pthread_cond_init(&p.part_cv, NULL);

    worker_arg *wargs = calloc(nworkers, sizeof *wargs);
    pthread_t *threads = calloc(nworkers, sizeof *threads);
    pthread_t writer;
    unsigned started = 0;
    int writer_started = 0;
    /* the run's own files are never inputs, even inside a scanned folder */
    static const char *const ck_files[] = { "", ".tmp", ".inputs", ".corr" };
    char ck_names[4][4096];
    const char *own[6];
    walk_options wopt = opt->walk;
    if (opt->output)
        own[wopt.nexclude++] = opt->output;
    if (opt->correlation_state)
        own[wopt.nexclude++] = opt->correlation_state;
    for (size_t i = 0; opt->checkpoint && i < 4; i++)
        if (snprintf(ck_names[i], sizeof ck_names[i], "%s%s", opt->checkpoint, ck_files[i]) < (int)sizeof ck_names[i])
            own[wopt.nexclude++] = ck_names[i];
    wopt.exclude = own;
    p.wopt = &wopt;
    walker *w = walk_create(paths, npaths, &wopt);
    if (w && !walk_total(w, &p.total_hint))   /* read it now: the reader thread owns the walker later */
        p.total_hint = 0;
    p.t0 = t0;
    p.findings_on_tty = opt->progress == 1 && !opt->output && isatty(STDOUT_FILENO);
    p.inputs_hash = FNV_OFFSET;
    /* correlations: which rules feed them, and where their matches go */
    rc = corr_set_of_rules(opt->scan.rules, &p.corr_set);
    if (rc)
        goto out;
    if (p.corr_set.n > 0 && !(p.corr_feeds = corr_feeds_create(&p.corr_set))) {
        rc = -ENOMEM;
        goto out;
    }
    if (p.corr_feeds && !corr_feeds_any(p.corr_feeds)) {
        corr_feeds_free(p.corr_feeds);
        p.corr_feeds = NULL;
    }
    o.scan.corr = p.corr_feeds;
    if (p.corr_feeds && !opt->correlation_state) {
        corr_options co = { opt->scan.format, opt->scan.min_severity, opt->dedupe, opt->max_correlation_matches };
        if (!(p.corr = corr_store_create(&p.corr_set, &co))) {
            rc = -ENOMEM;
            goto out;
        }
    }
    if (opt->correlation_state)
        snprintf(p.corr_path, sizeof p.corr_path, "%s", opt->correlation_state);
    else if (opt->checkpoint && p.corr)
        snprintf(p.corr_path, sizeof p.corr_path, "%s.corr", opt->checkpoint);
    /* the store takes captures, not state lines to parse back: only a file gets lines */
    p.corr_captures = p.corr != NULL;
    if (p.corr)
        corr_feeds_set_capture(p.corr_feeds, CORR_CAPTURE_STORE | (p.corr_path[0] ? CORR_CAPTURE_LINES : 0));
    if (opt->checkpoint && reads_stdin(opt)) {
        ot_say(errout, "orgtrail: --checkpoint: a stream on stdin cannot be resumed; give files or a folder\n");
        report->refused = 1;
        rc = -EINVAL;
        goto out;
    }
    checkpoint cp;
    if (opt->checkpoint) {
        int lrc = checkpoint_load(opt->checkpoint, &cp);
        if (lrc == 0 && cp.fingerprint != opt->fingerprint) {
            ot_say(errout, "orgtrail: %s: checkpoint of a different command (other inputs, options or rules); "
                           "remove it to start over\n", opt->checkpoint);
            lrc = -EINVAL;
        } else if (lrc == -EINVAL) {
            ot_say(errout, "orgtrail: %s: not an orgtrail checkpoint (or one of an older orgtrail); "
                           "remove it to start over\n", opt->checkpoint);
        } else if (lrc == 0 && w && reads_s3(opt)) {
            /* Listing a bucket is the reader's work: it skips the finished
             * inputs as they come (resume_skip), listing once. */
            lrc = checkpoint_resume_ids(opt->checkpoint, &cp, errout, &p.resume_ids);
            p.resume = lrc == 0 ? &cp : NULL;
        } else if (lrc == 0 && w) {
            lrc = checkpoint_resume(opt->checkpoint, &cp, w, opt->output, opt->quiet, errout,
                                    &report->resumed_from, &p.pending);
        }
        if (lrc == 1) {               /* already complete: nothing is changed */
            report->already_complete = 1;
            goto out;
        }
        if (lrc == -EINVAL)
            report->refused = 1;
        if (lrc < 0 && lrc != -ENOENT) {
            rc = lrc;
            goto out;
        }
        if (lrc == 0) {
            p.skip_inputs = cp.inputs_done;
            p.inputs_hash = cp.inputs_hash;
            p.out = emit_open_resume(opt->output, cp.output_bytes, &err);
            if (!p.out) {
                ot_say(errout, "orgtrail: %s: cannot resume: %s\n", opt->output,
                       err == -ESPIPE ? "shorter than the checkpoint says (remove the checkpoint to start over)"
                                      : strerror(-err));
                rc = err;
                goto out;
            }
            if (p.out && opt->dedupe && (rc = reload_dedupe(&p, opt->output, cp.output_bytes, errout)))
                goto out;
            if (p.corr_path[0] && (rc = corr_open(&p, 1, cp.corr_bytes)))
                goto out;
        }
        p.inputs = checkpoint_inputs_open(opt->checkpoint, p.skip_inputs, &err);
        if (!p.inputs) {
            ot_say(errout, "orgtrail: %s.inputs: %s\n", opt->checkpoint, strerror(-err));
            rc = err;
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
        ot_say(errout, "orgtrail: %s: %s\n", opt->output ? opt->output : "<stdout>", strerror(-err));
        rc = err;
        goto out;
    }
    if (p.corr_path[0] && !p.corr_out && (rc = corr_open(&p, 0, 0)))
        goto out;
    if (opt->crash_after_bytes)
        emit_crash_after(p.out, opt->crash_after_bytes);
    if (opt->view)
        emit_set_view(p.out, opt->view);
    p.rd = reader_create(opt->io, depth, why, sizeof why, &err);
    if (!p.rd) {
        ot_say(errout, "orgtrail: --io=uring: %s\n", why[0] ? why : strerror(-err));
        rc = err;
        goto out;
    }
    if (why[0] && !opt->quiet)
        ot_say(errout, "orgtrail: %s; using synchronous reads\n", why);
    snprintf(report->io_fallback, sizeof report->io_fallback, "%s", why);
    report->io = reader_backend(p.rd);
    p.workers_read = strcmp(report->io, "sync") == 0;
    p.bufs = pool_buffers_create(p.max_jobs + p.reserve, opt->read_size ? opt->read_size : 256u << 10);
    p.queue = pool_queue_create(p.max_jobs);
    p.jobs = calloc(p.max_jobs, sizeof *p.jobs);
    p.ready = calloc(p.max_jobs, sizeof *p.ready);
    p.s3objs = calloc(p.max_jobs, sizeof *p.s3objs);
    if (!wargs || !threads || !w || !p.bufs || !p.queue || !p.jobs || !p.ready || !p.s3objs) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < p.max_jobs; i++) {
        pthread_mutex_init(&p.jobs[i].mu, NULL);
        pthread_cond_init(&p.jobs[i].cv, NULL);
    }
    for (unsigned i = 0; i < nworkers; i++) {
        wargs[i].p = &p;
        wargs[i].sc = scan_create(&o.scan);
        wargs[i].buf_size = pool_buffers_size(p.bufs);
        wargs[i].buf = p.workers_read ? malloc(wargs[i].buf_size) : NULL;
        if (!wargs[i].sc || (p.workers_read && !wargs[i].buf)) {
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
        report->walk.skipped_digest += p.s3_walk.skipped_digest;
        report->walk.skipped_insight += p.s3_walk.skipped_insight;
        report->walk.files_pruned += p.s3_walk.files_pruned;
        report->walk.dirs_pruned += p.s3_walk.dirs_pruned;
        report->walk.files_other_shards += p.s3_walk.files_other_shards;
        report->walk.skipped_other_files += p.s3_walk.skipped_other_files;
        report->walk.skipped_other_dirs += p.s3_walk.skipped_other_dirs;
        report->walk.skipped_own_files += p.s3_walk.skipped_own_files;
        report->stats.skipped_digest_files += report->walk.skipped_digest;
        report->stats.skipped_insight_files += report->walk.skipped_insight;
        char why[512];
        if (rc == 0 && !opt->quiet && walk_explain_empty(w, why, sizeof why))
            ot_say(errout, "orgtrail: notice: %s\n", why);
    }
    if (rc == -ENOMEM || rc == -EAGAIN)
        ot_say(errout, "orgtrail: %s\n", strerror(-rc));
    if (writer_started && !rc && !opt->quiet && (opt->scan.has_since || opt->scan.has_until) &&
        report->stats.findings == 0 && report->stats.outside_window > 0)
        ot_say(errout, "orgtrail: notice: --since/--until: all %llu events that rules matched lie outside the "
                       "window\n", (unsigned long long)report->stats.outside_window);
    if (p.out) {
        int crc = emit_close(p.out);
        if (!p.write_rc)
            p.write_rc = crc;
    }
    if (p.corr_out) {
        int crc = emit_close(p.corr_out);
        if (crc && !p.write_rc)
            ot_say(errout, "orgtrail: %s: write error: %s\n", p.corr_path, strerror(-crc));
        if (crc && !rc)
            rc = crc;
    }
    if (p.write_rc) {
        ot_say(errout, "orgtrail: %s: write error: %s\n", opt->output ? opt->output : "<stdout>",
               strerror(-p.write_rc));
        if (!rc)
            rc = p.write_rc;
    }
    report->seconds = now_seconds() - t0;
    for (unsigned i = 0; wargs && i < nworkers; i++) {
        scan_free(wargs[i].sc);
        free(wargs[i].buf);
    }
    if (p.jobs) {
        for (size_t i = 0; i < p.max_jobs; i++) {
            free(p.jobs[i].path);
            free(p.jobs[i].data);
            scan_result_free(&p.jobs[i].result);
            pthread_mutex_destroy(&p.jobs[i].mu);
            pthread_cond_destroy(&p.jobs[i].cv);
        }
    }
    free(p.jobs);
    free(p.ready);
    free(p.s3objs);
    if (p.resume)
        report->resumed_from = p.resume_next;
    free(p.resume_ids);
    for (size_t i = 0; i < p.nfetchers; i++)
        s3_fetcher_free(p.fetchers[i]);
    free(p.fetchers);
    if (p.s3) {
        s3_counts c = s3_client_counts(p.s3);
        report->s3_list_requests = c.s3_list_requests;
        report->s3_get_requests = c.s3_get_requests;
        report->s3_retries = c.s3_retries;
    }
    s3_client_free(p.s3);
    emit_dedupe_free(p.dedupe);
    checkpoint_inputs_close(p.inputs);
    free(p.pending.path);
    pool_queue_free(p.queue);
    pool_buffers_free(p.bufs);
    reader_free(p.rd);
    walk_free(w);
    free(wargs);
    free(threads);
    stdin_cut_free(p.cut);
    scan_free(p.order_sc);
    corr_store_free(p.corr);
    buf_free(&p.corr_lines);
    corr_feeds_free(p.corr_feeds);
    free((void *)p.corr_set.list);
    scan_result_free(&p.order_res);
    buf_spares_free();      /* every thread is joined */
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    pthread_cond_destroy(&p.part_cv);
    return rc;
}

static const char state_header_key[] = "{\"orgtrail_correlation_state\"";

int run_correlate(const correlate_options *opt, run_report *report, FILE *errout)
{
    double t0 = now_seconds();
    memset(report, 0, sizeof *report);
    scan_stats *st = &report->stats;
    corr_set set;
    corr_store *store = NULL;
    emit_writer *out = NULL;
    ot_buf in = { 0 }, lines = { 0 };
    int rc = corr_set_of_rules(opt->rules, &set), err = 0;
    if (rc)
        return rc;
    corr_options co = { opt->format, opt->min_severity, opt->dedupe, opt->max_matches };
    store = corr_store_create(&set, &co);
    if (!store) {
        rc = -ENOMEM;
        goto out;
    }
    int over = 0;
    for (size_t i = 0; i < opt->npaths && !over; i++) {
        const char *name = strcmp(opt->paths[i], "-") == 0 ? "<stdin>" : opt->paths[i];
        in.len = 0;
        rc = buf_read_file(&in, strcmp(opt->paths[i], "-") == 0 ? "/dev/stdin" : opt->paths[i]);
        if (rc == -ENOMEM)
            goto out;
        st->files++;
        st->bytes_in += in.len;
        if (rc) {
            ot_say(errout, "orgtrail: %s: %s\n", name, strerror(-rc));
            st->errors++;
            rc = 0;
            continue;
        }
        /* a state file says what made it first: anything else is not one */
        if (in.len < sizeof state_header_key - 1 || memcmp(in.data, state_header_key, sizeof state_header_key - 1)) {
            ot_say(errout, "orgtrail: %s: not a correlation state (from scan --correlation-state) at byte 0\n", name);
            st->errors++;
            continue;
        }
        uint64_t bad = 0;
        rc = corr_store_add(store, in.data, in.len, name, 0, errout, &bad);
        st->errors += bad;
        if (rc == -E2BIG) {
            char msg[200];
            corr_store_cap_message(store, msg, sizeof msg);
            ot_say(errout, "orgtrail: %s\n", msg);
            st->errors++;
            over = 1;
            rc = 0;
        } else if (rc) {
            goto out;
        }
    }
    out = emit_open(opt->output, &err);
    if (!out) {
        ot_say(errout, "orgtrail: %s: %s\n", opt->output ? opt->output : "<stdout>", strerror(-err));
        rc = err;
        goto out;
    }
    if (!over) {
        rc = corr_store_evaluate(store, &lines, &st->correlation_matches, &st->correlation_findings,
                                 &st->below_min_severity);
        rc = rc ? rc : emit_write(out, lines.data, lines.len);
        st->findings = st->correlation_findings;
    }
    err = emit_close(out);
    rc = rc ? rc : err;
    if (rc == -EPIPE) {
        report->output_closed = 1;
        rc = 0;
    } else if (rc && rc != -ENOMEM) {
        ot_say(errout, "orgtrail: %s: write error: %s\n", opt->output ? opt->output : "<stdout>", strerror(-rc));
    }
out:
    if (rc == -ENOMEM)
        ot_say(errout, "orgtrail: %s\n", strerror(ENOMEM));
    report->seconds = now_seconds() - t0;
    buf_free(&in);
    buf_free(&lines);
    corr_store_free(store);
    free((void *)set.list);
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
            "\"errors\":%llu,\"skipped_digest_files\":%llu,\"skipped_insight_files\":%llu,\"skipped_other_files\":%llu,\"skipped_other_dirs\":%llu,"
            "\"outside_window\":%llu,\"below_min_severity\":%llu,\"files_pruned\":%llu,\"dirs_pruned\":%llu,\"files_other_shards\":%llu,"
            "\"resumed_from\":%llu,\"duplicates_dropped\":%llu,\"correlation_matches\":%llu,\"correlation_findings\":%llu,\"stdin_parts\":%llu,\"stdin_parts_in_order\":%llu,"
            "\"s3_list_requests\":%llu,\"s3_get_requests\":%llu,\"s3_retries\":%llu,"
            "\"seconds\":%.3f,\"inflate\":\"%s\",\"io\":\"%s\",\"io_fallback\":%s,\"threads\":%u}\n",
            (unsigned long long)s->files, (unsigned long long)s->bytes_in,
            (unsigned long long)s->bytes_decoded, (unsigned long long)s->records_seen,
            (unsigned long long)s->candidates, (unsigned long long)s->records_parsed,
            (unsigned long long)s->records_repaired, (unsigned long long)s->findings,
            (unsigned long long)s->errors, (unsigned long long)s->skipped_digest_files,
            (unsigned long long)s->skipped_insight_files, (unsigned long long)r->walk.skipped_other_files,
            (unsigned long long)r->walk.skipped_other_dirs, (unsigned long long)s->outside_window,
            (unsigned long long)s->below_min_severity, (unsigned long long)r->walk.files_pruned, (unsigned long long)r->walk.dirs_pruned,
            (unsigned long long)r->walk.files_other_shards, (unsigned long long)r->resumed_from,
            (unsigned long long)r->duplicates_dropped, (unsigned long long)s->correlation_matches,
            (unsigned long long)s->correlation_findings, (unsigned long long)r->stdin_parts,
            (unsigned long long)r->stdin_parts_in_order, (unsigned long long)r->s3_list_requests,
            (unsigned long long)r->s3_get_requests, (unsigned long long)r->s3_retries, r->seconds, decode_inflate_backend(),
            r->io ? r->io : "none", why.data, r->workers);
    buf_free(&why);
}
