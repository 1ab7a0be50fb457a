/*
 * run: one scan over all inputs, start to finish: the pipeline that wires
 * walk -> reader -> pool -> scan (decode, prefilter, frame, parse, rules)
 * -> emit. See the essay at the top of run.c for its threads.
 */
#ifndef ORGTRAIL_RUN_H
#define ORGTRAIL_RUN_H

#include <stddef.h>
#include <stdio.h>

#include "emit.h"
#include "reader.h"
#include "scan.h"
#include "walk.h"

typedef struct {
    const char *const *paths;   /* "-" is stdin; an empty list reads stdin */
    size_t npaths;
    const char *output;         /* NULL: stdout */
    scan_options scan;          /* rules must be set */
    unsigned workers;           /* scanning threads, >= 1 */
    unsigned io_depth;          /* files in flight, >= 1 */
    unsigned s3_concurrency;    /* s3:// objects in flight; 0: 128 */
    const char *endpoint_url;   /* --endpoint-url for s3:// inputs, or NULL (s3_config_resolve) */
    enum reader_io io;
    size_t read_size;           /* bytes per read; 0: 256 KiB */
    int quiet;                  /* no notices (the io_uring fallback) */
    walk_options walk;          /* pruning, sharding, --files-from */
    size_t part_size;           /* a gzip stdin is cut into parts of about this; 0: not cut */
    const char *checkpoint;     /* resume file; needs output */
    double checkpoint_interval; /* seconds between checkpoints */
    uint64_t fingerprint;       /* the command, for the checkpoint */
    int progress;               /* 0: none; 1: a line on the terminal errout is; 2: plain lines (errout a file) */
    int dedupe;                 /* drop a finding whose rule and event (eventID and content) were emitted */
    uint64_t crash_after_bytes; /* testing: SIGKILL after this many output bytes; 0: never */
    const emit_view *view;      /* what the finding lines pass through on their way out; NULL: none */
    const char *correlation_state;  /* write the base-rule matches here (correlate.h) instead of correlating */
    uint64_t max_correlation_matches; /* the correlation store's bound; 0: CORR_DEFAULT_MAX_MATCHES */
} run_options;

typedef struct {
    scan_stats stats;
    double seconds;
    const char *io;             /* "uring" or "sync": the reader that ran */
    char io_fallback[160];      /* why io_uring was not used, or "" */
    unsigned workers;
    int output_closed;          /* the output's reader went away (EPIPE) */
    walk_counts walk;           /* what the walk left out */
    uint64_t resumed_from;      /* inputs a checkpoint said were done */
    int refused;                /* the checkpoint does not fit this command or its inputs (exit 2) */
    int already_complete;       /* the checkpointed run had finished: nothing was done */
    uint64_t duplicates_dropped;
    uint64_t stdin_parts;           /* parts a gzip stdin was cut into */
    uint64_t stdin_parts_in_order;  /* of those, scanned in order by the writer */
    uint64_t s3_list_requests, s3_get_requests, s3_retries;   /* s3:// inputs' requests (s3_counts) */
} run_report;

/*
 * Scans every input. Error lines ("orgtrail: PATH: what") and notices go to
 * errout, in input order. Returns 0 when the run completed (bad inputs
 * included: see report->stats.errors), or a negative errno when it could
 * not start (the output cannot be opened, io_uring was forced and is
 * missing, out of memory) or could not write its output.
 */
int run_scan(const run_options *opt, run_report *report, FILE *errout);

/* `orgtrail correlate`: the reduce step of a sharded run. */
typedef struct {
    const char *const *paths;   /* the state files of `scan --correlation-state`; "-" is stdin */
    size_t npaths;
    const char *output;         /* NULL: stdout */
    const rules *rules;         /* the scan's */
    finding_format format;      /* the scan's */
    severity min_severity;
    int dedupe;
    uint64_t max_matches;       /* 0: CORR_DEFAULT_MAX_MATCHES */
} correlate_options;

/*
 * Reads every state file into one store and writes the correlation
 * findings (the same lines an unsharded scan ends with). A file that cannot
 * be read, a damaged line or a state made otherwise is said on errout and
 * counted in report->stats.errors; the rest go on. Returns 0, or a negative
 * errno when the output cannot be opened or written, or out of memory.
 */
int run_correlate(const correlate_options *opt, run_report *report, FILE *errout);

/* Writes the --stats JSON object (one line). */
void run_print_stats(const run_report *report, FILE *out);

#endif
