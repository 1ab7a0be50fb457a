/*
 * run_pipeline: what run.c's three stages share (see the top of run.c):
 * the job, the reader's slots, the pipeline, and the few calls between
 * them. Private to run.c (the wiring and the workers), run_read.c (the
 * reader, on the calling thread) and run_write.c (the writer).
 */
#ifndef ORGTRAIL_RUN_PIPELINE_H
#define ORGTRAIL_RUN_PIPELINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "checkpoint.h"
#include "correlate.h"
#include "emit.h"
#include "pool.h"
#include "reader.h"
#include "run.h"
#include "s3_client.h"
#include "scan.h"
#include "stdin_cut.h"
#include "walk.h"

#define JOB_CHUNKS 2
#define WRITE_BATCH_BYTES ((size_t)4 << 20)   /* see "Wake-ups" */
#define PARTS_KEPT (16u << 20)    /* bytes of parts kept until written: the reader waits beyond;
                                     > STDIN_CUT_PART_MAX + --part-size + a read, what one part may need */

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

/* An s3:// object being fetched into its job (see the top of run.c). */
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

extern const char stdin_name[];

/* run.c: the jobs' state, which all three touch */
double now_seconds(void);
void poke_reader(pipeline *p);
const char *job_name(const job *j);
int writer_may_go(const pipeline *p, uint64_t seq);
void job_done(pipeline *p, job *j);
int whole_part(const job *j);
void finish_input(scanner *sc, const job *j);

/* run_read.c: the reader */
int reader_loop(pipeline *p, walker *w);
void publish_walk_done(pipeline *p);
int resume_skip(pipeline *p, uint64_t identity, const char *name);

/* run_write.c: the writer */
void *writer_main(void *arg);
int corr_over_cap(pipeline *p);

#endif
