/*
 * run: one scan over all inputs, start to finish.
 *
 * Threads: for now one. The walker yields inputs in order; each input is
 * read, pushed through a scanner (decode -> prefilter -> frame -> parse ->
 * rules) into a scan_result, and the result is written out (findings to
 * the output, the input's one error line to stderr) before the next input
 * starts. Output order is input order, then record order.
 */
#ifndef ORGTRAIL_RUN_H
#define ORGTRAIL_RUN_H

#include <stddef.h>
#include <stdio.h>

#include "scan.h"

typedef struct {
    const char *const *paths;   /* "-" is stdin; an empty list reads stdin */
    size_t npaths;
    const char *output;         /* NULL: stdout */
    scan_options scan;          /* rules must be set */
    size_t read_size;           /* bytes per read */
} run_options;

typedef struct {
    scan_stats stats;
    double seconds;
    int output_closed;          /* the output's reader went away (EPIPE) */
    int output_failed;          /* writing the output failed otherwise */
} run_report;

/*
 * Scans every input. Error lines ("orgtrail: PATH: what") go to errout as
 * they happen, in input order. Returns 0 when the run completed (bad inputs
 * included: see report->stats.errors), or a negative errno when it could
 * not start or could not write its output.
 */
int run_scan(const run_options *opt, run_report *report, FILE *errout);

/* Writes the --stats JSON object (one line). */
void run_print_stats(const run_report *report, FILE *out);

#endif
