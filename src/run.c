/*
 * run: the pipeline.
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
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "decode.h"
#include "checkpoint.h"
#include "correlate.h"
#include "emit.h"
#include "pool.h"
#include "s3_client.h"
#include "stdin_cut.h"
#include "walk.h"

#define JOB_CHUNKS 2
#define WRITE_BATCH_BYTES ((size_t)4 << 20)   /* see "Wake-ups" */
#define PARTS_KEPT (16u << 20)    /* bytes of parts kept until written: the reader waits beyond;
                                     > STDIN_CUT_PART_MAX + --part-size + a read, what one part may need */

static const char stdin_name[] = "<stdin>";

typedef struct {
    uint8_t *buf;           /* from the pool; the worker gives it back */
    size_t len;
} chunk;

enum job_part {
    PART_NONE,              /* a whole input */
    PART_CUT,               /* a part of stdin up to a member boundary; bytes in data */
    PART_TAIL,              /* stdin from a member boundary to its end: data, then chunks */
};

typedef struct {
    uint64_t seq;
    char *path;             /* owned; NULL for stdin */
    uint64_t identity;      /* with --checkpoint: the input's name, size and mtime */
    enum job_part part;
    int part_last;          /* the last part of stdin */
    scan_part at;           /* where the part begins; out_offset is a guess from gzip trailers */
    uint8_t *data;          /* the part's bytes; kept until written */
    size_t data_len;
    /* the chunk channel, reader -> worker */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    chunk chunks[JOB_CHUNKS];
    unsigned head, count;
    int eof;                /* no more chunks will come */
    int read_error;         /* -errno of a failed open or read */
    const char *read_what;  /* "cannot open" or "read error" */
    char what_buf[200];     /* an s3:// object's error ("HTTP 403 AccessDenied"), said as it is */
    uint64_t read_offset;   /* bytes read before it failed */
    int taken;              /* a worker has the job */
    int worker_reads;       /* the worker reads the file itself (p->workers_read) */
    int cancel;             /* the scanner stopped early: stop reading */
    /* the result, worker -> writer */
    scan_result result;
    int done;               /* guarded by the pipeline's mu */
    size_t done_bytes;      /* its output when done: done_unwritten_bytes */
} job;

/* An s3:// object being fetched into its job (see the top of the file). */
typedef struct {
    int active;             /* between s3_fetcher_add and job_end_input */
    int paused;             /* on_data said S3_FETCH_PAUSE: resume it when a buffer or room may be free */
    int ended;              /* on_done came; its last chunk waits for room in the channel */
    int status;             /* on_done's */
    uint8_t *cur;           /* the buffer being filled, from the pool */
    size_t fill;
    size_t skip;            /* of the chunk curl hands again after a pause, the bytes already taken */
    uint64_t bytes;         /* body bytes taken */
} s3_object;

enum slot_state { SLOT_FREE, SLOT_OPENING, SLOT_IDLE, SLOT_READING };

typedef struct {
    enum slot_state state;
    job *j;
    int fd;
    int64_t offset;         /* next read; -1 for stdin */
    uint64_t bytes;         /* read so far */
    uint8_t *buf;           /* the read in flight */
    int delivered;          /* the job went to the workers */
    int cutting;            /* stdin being cut into parts (p->cut) */
} slot;

typedef struct {
    const run_options *opt;
    reader *rd;
    pool_buffers *bufs;
    pool_queue *queue;
    size_t reserve;             /* buffers kept for taken jobs */
    int workers_read;           /* sync reads: a worker reads its file itself */
    job **ready;                /* jobs for the workers, pushed at once before the reader sleeps */
    size_t nready;
    job *jobs;
    size_t max_jobs;
    atomic_int reader_wants_poke;
    atomic_int stop;            /* the output is gone: open nothing more */

    pthread_mutex_t mu;         /* guards job.done, written, total, walk_done */
    pthread_cond_t cv;
    uint64_t written;           /* jobs the writer is done with */
    uint64_t writer_wants;      /* the sequence number the writer sleeps on */
    uint64_t done_unwritten;    /* jobs done and not yet written */
    size_t done_unwritten_bytes;    /* their output */
    uint64_t write_batch;       /* the writer waits for this many (see writer_may_go) */
    int tail_waits;             /* a tail's worker waits for the writer */
    uint64_t total;             /* jobs created */
    int walk_done;

    emit_writer *out;
    FILE *errout;
    run_report *report;
    int write_rc;               /* the writer's fatal error */
    emit_dedupe *dedupe;        /* NULL with --no-dedupe */
    uint64_t skip_inputs;       /* a checkpoint's inputs_done */
    checkpoint_inputs *inputs;        /* with --checkpoint: the finished inputs' identities */
    uint64_t inputs_hash;       /* their running hash */
    int walk_complete;          /* the walk reached its end; guarded by mu */
    checkpoint_pending pending; /* a walk result looked at before the reader ran */
    uint64_t total_hint;        /* inputs the walk will give, known early (walk_total); 0: not known */
    uint64_t next_seq;          /* the reader's next job */
    uint64_t inputs_total;      /* inputs the walk gave (parts of stdin count once) */
    uint64_t inputs_written;

    /* s3:// inputs: read on this thread between fetcher runs */
    const walk_options *wopt;   /* the walk's pruning and shards, for the lister */
    s3_client *s3;              /* made at the first s3:// input */
    s3_object *s3objs;          /* one per job, by seq % max_jobs */
    s3_fetcher **fetchers;      /* every one made, freed after the threads are joined (poke_reader) */
    size_t nfetchers, cap_fetchers;
    _Atomic(s3_fetcher *) fetcher;  /* the one running: poke_reader wakes it */
    walk_counts s3_walk;        /* what the listings left out */
    /* --checkpoint with s3:// inputs: the finished inputs are skipped as
     * the walk and the listings give them (resume_skip), not before */
    const checkpoint *resume;   /* the checkpoint resumed, or NULL */
    uint64_t *resume_ids;       /* its finished inputs' identities */
    uint64_t resume_next;       /* of those, the ones skipped so far */

    /* stdin in parts: the reader's side */
    stdin_cut *cut;             /* while stdin is being cut */
    job *cut_first;             /* stdin's job, for the first part */
    job *cut_tail;              /* the tail part, just yielded */
    slot *slots;                /* the reader's, for take_part */
    atomic_size_t parts_kept;   /* bytes of parts not yet written */
    /* the writer's side */
    pthread_cond_t part_cv;     /* a tail waits here for the writer */
    scan_part expect;           /* where the next part must begin; guarded by mu */
    atomic_int in_order;        /* a part was not clean: the writer scans the rest in order */
    scanner *order_sc;          /* the writer's scanner for that */
    scan_result order_res;
    double t0;
    /* correlations: the writer's */
    corr_set corr_set;          /* the rules' correlations (list malloc'd) */
    corr_feeds *corr_feeds;     /* which rules feed them; NULL when none does */
    corr_store *corr;           /* the matches so far; NULL with --correlation-state or none */
    emit_writer *corr_out;      /* the matches file: --correlation-state, or the checkpoint's .corr */
    int corr_captures;          /* the results hold captures (a store at the start), not state lines */
    ot_buf corr_lines;          /* the captures' state lines on their way to corr_out */
    char corr_path[4096];
    int progress_shown;         /* a progress line is on the terminal */
    int findings_on_tty;        /* findings go to the terminal that shows the progress line */
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
    if (atomic_exchange(&p->reader_wants_poke, 0)) {
        reader_notify(p->rd);
        s3_fetcher *f = atomic_load(&p->fetcher);
        if (f)
            s3_fetcher_wakeup(f);
    }
}

static const char *job_name(const job *j)
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
static int writer_may_go(const pipeline *p, uint64_t seq)
{
    if (p->walk_done && seq == p->total)
        return 1;
    if (seq >= p->total || !p->jobs[seq % p->max_jobs].done)
        return 0;
    return p->done_unwritten >= p->write_batch || p->done_unwritten_bytes >= WRITE_BATCH_BYTES ||
           p->done_unwritten == p->total - seq || p->tail_waits;
}

/* Marks the job done, and wakes the writer if it may go now. */
static void job_done(pipeline *p, job *j)
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
static int whole_part(const job *j)
{
    return j->part_last && j->at.in_offset == 0;
}

/* The end of a job's bytes: its read error, if any, then the end checks. */
static void finish_input(scanner *sc, const job *j)
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

/* The matches passed --max-correlation-matches: said once, counted as an
 * error, and the store goes (memory stays bounded); the scan goes on. */
static int corr_over_cap(pipeline *p)
{
    char msg[200];
    corr_store_cap_message(p->corr, msg, sizeof msg);
    fprintf(p->errout, "%sorgtrail: %s\n", p->progress_shown ? "\r\033[K" : "", msg);
    p->report->stats.errors++;
    corr_store_free(p->corr);
    p->corr = NULL;
    return 0;
}

/* Hands a result's base-rule matches to the matches file and the store,
 * in input order like the findings. */
static void take_matches(pipeline *p, const char *name, const scan_result *r)
{
    if (r->corr.len == 0 || atomic_load(&p->stop))
        return;
    int rc = 0;
    uint64_t n = 0;
    if (!p->corr_captures) {    /* --correlation-state: state lines as they are */
        rc = p->corr_out ? emit_write(p->corr_out, r->corr.data, r->corr.len) : 0;
        for (size_t i = 0; i < r->corr.len; i++)
            n += r->corr.data[i] == '\n';
    } else if (p->corr_out || !p->corr) {
        p->corr_lines.len = 0;
        rc = corr_captured_lines(r->corr.data, r->corr.len, p->corr_out ? &p->corr_lines : NULL, &n);
        rc = rc || !p->corr_out ? rc : emit_write(p->corr_out, p->corr_lines.data, p->corr_lines.len);
    }
    if (!p->corr)   /* no store (--correlation-state, or past the cap): the matches written are the ones counted */
        p->report->stats.correlation_matches += n;
    if (!rc && p->corr) {
        uint64_t bad = 0;
        rc = corr_store_add_captured(p->corr, r->corr.data, r->corr.len, name, p->errout, &bad);
        p->report->stats.errors += bad;     /* a match refused is one lost: the exit code says so */
        if (rc == -E2BIG)
            rc = corr_over_cap(p);
    }
    if (rc) {
        p->write_rc = rc;
        atomic_store(&p->stop, 1);
    }
}

/* After the last input: the correlation findings, through the same writer
 * (and its view) as every other finding. */
static void write_correlations(pipeline *p)
{
    if (!p->corr || atomic_load(&p->stop))
        return;
    ot_buf out = { 0 };
    scan_stats *st = &p->report->stats;
    uint64_t below = 0;
    int rc = corr_store_evaluate(p->corr, &out, &st->correlation_matches, &st->correlation_findings, &below);
    st->below_min_severity += below;
    if (!rc && out.len > 0) {
        if (p->progress_shown && p->findings_on_tty) {
            fputs("\r\033[K", p->errout);
            p->progress_shown = 0;
        }
        rc = emit_write(p->out, out.data, out.len);
    }
    st->findings += rc ? 0 : st->correlation_findings;
    if (rc == -EPIPE)
        p->report->output_closed = 1;
    else if (rc)
        p->write_rc = rc;
    buf_free(&out);
}

/* Writes the findings; with_stats (the input's end) also adds up its
 * counters and prints its error line. */
static void write_result(pipeline *p, const job *j, scan_result *r, int with_stats)
{
    if (with_stats)
        scan_stats_add(&p->report->stats, &r->stats);
    if (r->findings.len > 0 && !atomic_load(&p->stop)) {
        if (p->progress_shown && p->findings_on_tty) {
            fputs("\r\033[K", p->errout);   /* a finding never shares the progress line */
            p->progress_shown = 0;
        }
        int rc = write_findings(p, r);
        if (rc == -EPIPE) {
            p->report->output_closed = 1;
        } else if (rc) {
            p->write_rc = rc;
        }
        if (rc)
            atomic_store(&p->stop, 1);
    }
    take_matches(p, job_name(j), r);
    if (with_stats && r->error[0] && !atomic_load(&p->stop))
        fprintf(p->errout, "%sorgtrail: %s: %s\n", p->progress_shown ? "\r\033[K" : "", job_name(j),
                r->error);
}

/* A part of stdin (see the top of the file). */
static void write_part(pipeline *p, job *j)
{
    scan_result *r = &j->result;
    if (!atomic_load(&p->in_order)) {
        int clean = j->part == PART_TAIL || whole_part(j) ||
                    (!r->error[0] && j->at.in_offset == p->expect.in_offset &&
                     j->at.out_offset == p->expect.out_offset);
        if (clean) {
            write_result(p, j, r, 1);
            int docs_seen = p->expect.docs_seen || r->end.docs_seen;
            pthread_mutex_lock(&p->mu);
            p->expect = j->part_last ? (scan_part){ 0 } : r->end;
            p->expect.docs_seen = docs_seen && !j->part_last;
            pthread_mutex_unlock(&p->mu);
            return;
        }
        /* from here on, in order: what reading the stream in order gives */
        if (!p->order_sc && !(p->order_sc = scan_create(&p->opt->scan))) {
            p->write_rc = -ENOMEM;
            atomic_store(&p->stop, 1);
            return;
        }
        scan_result_clear(&p->order_res);
        scan_begin_part(p->order_sc, stdin_name, &p->order_res, p->expect.in_offset ? &p->expect : NULL);
        atomic_store(&p->in_order, 1);
    }
    p->report->stdin_parts_in_order++;
    if (j->part == PART_CUT) {
        scan_feed(p->order_sc, j->data, j->data_len);
        if (j->part_last || j->read_error)
            finish_input(p->order_sc, j);   /* a part that could not be kept ends the input */
    }
    /* the tail's worker has scanned it with order_sc */
    write_result(p, j, &p->order_res, j->part_last);
    p->order_res.findings.len = 0;
    p->order_res.nlines = 0;
    p->order_res.corr.len = 0;
    p->order_res.ncorr = 0;
    if (j->part_last) {
        pthread_mutex_lock(&p->mu);
        p->expect = (scan_part){ 0 };
        pthread_mutex_unlock(&p->mu);
        atomic_store(&p->in_order, 0);
    }
}

/* output_bytes: where the output of the inputs written so far ends. */
static int save_checkpoint(pipeline *p, int complete, uint64_t output_bytes)
{
    int rc = emit_sync(p->out);
    if (!rc && p->corr_out)
        rc = emit_sync(p->corr_out);
    if (!rc)
        rc = checkpoint_inputs_sync(p->inputs);
    if (rc)
        return rc;
    checkpoint cp = { p->opt->fingerprint, p->skip_inputs + p->inputs_written, output_bytes,
                      p->inputs_hash, complete, p->corr_out ? emit_offset(p->corr_out) : 0 };
    return checkpoint_save(p->opt->checkpoint, &cp);
}

/* The width of the terminal the progress line is on. */
static size_t terminal_width(FILE *f)
{
    struct winsize ws;
    if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

/*
 * The progress line: as many of its fields as fit the terminal, the most
 * useful first; mode 2 (not a terminal) writes whole lines, no \r or
 * escapes.
 */
static void show_progress(pipeline *p, int final)
{
    const scan_stats *s = &p->report->stats;
    double secs = now_seconds() - p->t0;
    uint64_t resumed = p->report->resumed_from, done = p->inputs_written;
    pthread_mutex_lock(&p->mu);
    uint64_t total = p->walk_done ? resumed + p->inputs_total : p->total_hint;
    pthread_mutex_unlock(&p->mu);
    char field[6][64];
    snprintf(field[0], sizeof field[0], "%llu", (unsigned long long)(resumed + done));
    if (total)
        snprintf(field[0] + strlen(field[0]), sizeof field[0] - strlen(field[0]), "/%llu",
                 (unsigned long long)total);
    strcat(field[0], " files");
    snprintf(field[1], sizeof field[1], ", %llu findings", (unsigned long long)s->findings);
    field[2][0] = '\0';
    if (total && done && resumed + done < total) {
        long left = (long)(secs * (double)(total - resumed - done) / (double)done);
        snprintf(field[2], sizeof field[2], ", ETA %ld:%02ld:%02ld", left / 3600, left / 60 % 60, left % 60);
    }
    snprintf(field[3], sizeof field[3], ", %.1f MB decoded", (double)s->bytes_decoded / 1e6);
    snprintf(field[4], sizeof field[4], ", %.0f MB/s", secs > 0 ? (double)s->bytes_decoded / 1e6 / secs : 0.0);
    snprintf(field[5], sizeof field[5], " (%.1f MB read)", (double)s->bytes_in / 1e6);
    static const int order[6] = { 0, 3, 5, 4, 1, 2 };    /* how they read */
    int shown[6] = { 0 };
    size_t room = (p->opt->progress == 1 ? terminal_width(p->errout) : 200) - 1, used = strlen("orgtrail: ");
    for (int i = 0; i < 6; i++) {      /* by usefulness: files, findings, ETA, decoded, speed, read */
        size_t n = strlen(field[i]);
        if (used + n <= room && (i != 5 || shown[3])) {
            shown[i] = 1;
            used += n;
        }
    }
    char line[512] = "orgtrail: ";
    for (int k = 0; k < 6; k++)
        if (shown[order[k]])
            strcat(line, field[order[k]]);
    if (p->opt->progress == 1)
        fprintf(p->errout, "\r\033[K%s%s", line, final ? "\n" : "");
    else
        fprintf(p->errout, "%s\n", line);
    fflush(p->errout);
    p->progress_shown = p->opt->progress == 1 && !final;
}

static void *writer_main(void *arg)
{
    pipeline *p = arg;
    double last_checkpoint = now_seconds(), last_progress = 0;
    uint64_t seq = 0;
    for (;; seq++) {
        pthread_mutex_lock(&p->mu);
        job *j = &p->jobs[seq % p->max_jobs];
        if (!(seq < p->total && j->done)) {
            /* about to sleep: the reader hears of the room first */
            pthread_mutex_unlock(&p->mu);
            poke_reader(p);
            pthread_mutex_lock(&p->mu);
            p->writer_wants = seq;
            while (!writer_may_go(p, seq))
                pthread_cond_wait(&p->cv, &p->mu);
            p->writer_wants = UINT64_MAX;
        }
        int finished = p->walk_done && seq == p->total;
        pthread_mutex_unlock(&p->mu);
        if (finished)
            break;

        if (atomic_load(&p->stop)) {
            /* the output is gone: inputs cut short by it are not counted */
        } else if (j->part == PART_NONE) {
            write_result(p, j, &j->result, 1);
        } else {
            write_part(p, j);
        }
        if (j->part == PART_NONE || j->part_last) {
            p->inputs_written++;
            if (p->inputs) {
                p->inputs_hash = checkpoint_inputs_hash(p->inputs_hash, j->identity);
                if (checkpoint_inputs_append(p->inputs, j->identity) && !p->write_rc) {
                    p->write_rc = -ENOMEM;
                    atomic_store(&p->stop, 1);
                }
            }
        }
        double now = now_seconds();
        if (p->opt->checkpoint && !atomic_load(&p->stop) && now - last_checkpoint >= p->opt->checkpoint_interval) {
            int rc = save_checkpoint(p, 0, emit_offset(p->out));
            if (rc) {
                p->write_rc = rc;
                atomic_store(&p->stop, 1);
            }
            last_checkpoint = now;
        }
        if (p->opt->progress && now - last_progress >= (p->opt->progress == 1 ? 0.1 : 5.0)) {
            show_progress(p, 0);
            last_progress = now;
        }

        free(j->path);
        j->path = NULL;
        if (j->data) {
            atomic_fetch_sub(&p->parts_kept, j->data_len);
            free(j->data);
            j->data = NULL;
        }
        scan_result_clear(&j->result);
        pthread_mutex_lock(&p->mu);
        j->done = 0;
        p->done_unwritten--;
        p->done_unwritten_bytes -= j->done_bytes;
        p->written = seq + 1;
        pthread_cond_broadcast(&p->part_cv);
        pthread_mutex_unlock(&p->mu);
        if ((seq + 1) % p->write_batch == 0)
            poke_reader(p);   /* and once a batch while it does not sleep */
    }
    pthread_mutex_lock(&p->mu);
    int complete = p->walk_complete;
    pthread_mutex_unlock(&p->mu);
    /* The checkpoint's output ends before the correlation findings: a run
     * resumed over more inputs (a bucket that grew) cuts them off and
     * writes them again from every match, as one run over all would. */
    uint64_t before = emit_offset(p->out);
    write_correlations(p);
    if (p->opt->checkpoint && !atomic_load(&p->stop)) {
        int rc = save_checkpoint(p, complete, before);
        if (rc)
            p->write_rc = rc;
    }
    if (p->opt->progress)
        show_progress(p, 1);
    return NULL;
}

/* ---- reader (the calling thread) ---- */

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

/* ---- stdin in parts (see the top of the file) ---- */

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

static void publish_walk_done(pipeline *p)
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
static int resume_skip(pipeline *p, uint64_t identity, const char *name)
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

/* ---- s3:// inputs (see the top of the file) ---- */

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
             * reserve (see the top of the file) */
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

static int reader_loop(pipeline *p, walker *w)
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
        fprintf(p->errout, "orgtrail: %s: %s\n", p->corr_path,
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
        fprintf(p->errout, "orgtrail: %s: cannot read the correlation matches to resume\n", p->corr_path);
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
        fprintf(errout, "orgtrail: --checkpoint: a stream on stdin cannot be resumed; give files or a folder\n");
        report->refused = 1;
        rc = -EINVAL;
        goto out;
    }
    checkpoint cp;
    if (opt->checkpoint) {
        int lrc = checkpoint_load(opt->checkpoint, &cp);
        if (lrc == 0 && cp.fingerprint != opt->fingerprint) {
            fprintf(errout, "orgtrail: %s: checkpoint of a different command (other inputs, options or rules); "
                            "remove it to start over\n", opt->checkpoint);
            lrc = -EINVAL;
        } else if (lrc == -EINVAL) {
            fprintf(errout, "orgtrail: %s: not an orgtrail checkpoint (or one of an older orgtrail); "
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
                fprintf(errout, "orgtrail: %s: cannot resume: %s\n", opt->output,
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
            fprintf(errout, "orgtrail: %s.inputs: %s\n", opt->checkpoint, strerror(-err));
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
        fprintf(errout, "orgtrail: %s: %s\n", opt->output ? opt->output : "<stdout>", strerror(-err));
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
        fprintf(errout, "orgtrail: --io=uring: %s\n", why[0] ? why : strerror(-err));
        rc = err;
        goto out;
    }
    if (why[0] && !opt->quiet)
        fprintf(errout, "orgtrail: %s; using synchronous reads\n", why);
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
            fprintf(errout, "orgtrail: notice: %s\n", why);
    }
    if (rc == -ENOMEM || rc == -EAGAIN)
        fprintf(errout, "orgtrail: %s\n", strerror(-rc));
    if (writer_started && !rc && !opt->quiet && (opt->scan.has_since || opt->scan.has_until) &&
        report->stats.findings == 0 && report->stats.outside_window > 0)
        fprintf(errout, "orgtrail: notice: --since/--until: all %llu events that rules matched lie outside the "
                        "window\n", (unsigned long long)report->stats.outside_window);
    if (p.out) {
        int crc = emit_close(p.out);
        if (!p.write_rc)
            p.write_rc = crc;
    }
    if (p.corr_out) {
        int crc = emit_close(p.corr_out);
        if (crc && !p.write_rc)
            fprintf(errout, "orgtrail: %s: write error: %s\n", p.corr_path, strerror(-crc));
        if (crc && !rc)
            rc = crc;
    }
    if (p.write_rc) {
        fprintf(errout, "orgtrail: %s: write error: %s\n", opt->output ? opt->output : "<stdout>",
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
            fprintf(errout, "orgtrail: %s: %s\n", name, strerror(-rc));
            st->errors++;
            rc = 0;
            continue;
        }
        /* a state file says what made it first: anything else is not one */
        if (in.len < sizeof state_header_key - 1 || memcmp(in.data, state_header_key, sizeof state_header_key - 1)) {
            fprintf(errout, "orgtrail: %s: not a correlation state (from scan --correlation-state) at byte 0\n", name);
            st->errors++;
            continue;
        }
        uint64_t bad = 0;
        rc = corr_store_add(store, in.data, in.len, name, 0, errout, &bad);
        st->errors += bad;
        if (rc == -E2BIG) {
            char msg[200];
            corr_store_cap_message(store, msg, sizeof msg);
            fprintf(errout, "orgtrail: %s\n", msg);
            st->errors++;
            over = 1;
            rc = 0;
        } else if (rc) {
            goto out;
        }
    }
    out = emit_open(opt->output, &err);
    if (!out) {
        fprintf(errout, "orgtrail: %s: %s\n", opt->output ? opt->output : "<stdout>", strerror(-err));
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
        fprintf(errout, "orgtrail: %s: write error: %s\n", opt->output ? opt->output : "<stdout>", strerror(-rc));
    }
out:
    if (rc == -ENOMEM)
        fprintf(errout, "orgtrail: %s\n", strerror(ENOMEM));
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
