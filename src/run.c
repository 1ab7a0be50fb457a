#include "run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decode.h"
#include "emit.h"
#include "reader.h"
#include "walk.h"

static const char stdin_name[] = "<stdin>";

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sink_to_scanner(void *arg, const uint8_t *buf, size_t len)
{
    return scan_feed(arg, buf, len);
}

/* Reads one input through the scanner into res. */
static void scan_one(scanner *sc, const char *path, uint8_t *buf, size_t bufsize, scan_result *res)
{
    const char *name = path ? path : stdin_name;
    scan_begin(sc, name, res);
    uint64_t fail_offset;
    int rc = reader_read_all(path, buf, bufsize, sink_to_scanner, sc, &fail_offset);
    if (rc < 0 && rc != -ENOMEM) {
        char what[160];
        snprintf(what, sizeof what, "%s: %s", fail_offset ? "read error" : "cannot open", strerror(-rc));
        scan_fail(sc, fail_offset, what);
    }
    scan_end(sc);
}

int run_scan(const run_options *opt, run_report *report, FILE *errout)
{
    static const char *const stdin_only[] = { "-" };
    const char *const *paths = opt->npaths ? opt->paths : stdin_only;
    size_t npaths = opt->npaths ? opt->npaths : 1;
    double t0 = now_seconds();
    int rc = 0;
    memset(report, 0, sizeof *report);

    size_t bufsize = opt->read_size ? opt->read_size : 1u << 20;
    uint8_t *buf = malloc(bufsize);
    scanner *sc = scan_create(&opt->scan);
    walker *w = walk_create(paths, npaths);
    scan_result res = { 0 };
    int werr = 0;
    emit_writer *out = emit_open(opt->output, &werr);
    if (!buf || !sc || !w || !out) {
        rc = out ? -ENOMEM : werr;
        goto out;
    }

    for (;;) {
        const char *path;
        char err[300];
        int st = walk_next(w, &path, err, sizeof err);
        if (st == WALK_END)
            break;
        if (st < 0) {
            rc = st;
            goto out;
        }
        if (st == WALK_ERROR) {
            fprintf(errout, "orgtrail: %s: %s\n", path, err);
            report->stats.errors++;
            continue;
        }
        scan_result_clear(&res);
        scan_one(sc, path, buf, bufsize, &res);
        if (res.findings.len > 0) {
            int wrc = emit_write(out, res.findings.data, res.findings.len);
            if (wrc == -EPIPE) {
                report->output_closed = 1;
                scan_stats_add(&report->stats, &res.stats);
                break;
            }
            if (wrc) {
                report->output_failed = 1;
                rc = wrc;
                goto out;
            }
        }
        if (res.error[0])
            fprintf(errout, "orgtrail: %s: %s\n", path ? path : stdin_name, res.error);
        scan_stats_add(&report->stats, &res.stats);
    }
    report->stats.skipped_digest_files += walk_skipped_digest(w);
    report->stats.skipped_insight_files += walk_skipped_insight(w);
out:
    report->seconds = now_seconds() - t0;
    if (out) {
        int crc = emit_close(out);
        if (crc && !rc) {
            report->output_failed = 1;
            rc = crc;
        }
    }
    scan_result_free(&res);
    walk_free(w);
    scan_free(sc);
    free(buf);
    return rc;
}

void run_print_stats(const run_report *r, FILE *out)
{
    const scan_stats *s = &r->stats;
    fprintf(out,
            "{\"files\":%llu,\"bytes_in\":%llu,\"bytes_decoded\":%llu,\"records_seen\":%llu,"
            "\"candidates\":%llu,\"records_parsed\":%llu,\"records_repaired\":%llu,\"findings\":%llu,"
            "\"errors\":%llu,\"skipped_digest_files\":%llu,\"skipped_insight_files\":%llu,"
            "\"seconds\":%.3f,\"inflate\":\"%s\",\"io\":\"sync\",\"threads\":1}\n",
            (unsigned long long)s->files, (unsigned long long)s->bytes_in,
            (unsigned long long)s->bytes_decoded, (unsigned long long)s->records_seen,
            (unsigned long long)s->candidates, (unsigned long long)s->records_parsed,
            (unsigned long long)s->records_repaired, (unsigned long long)s->findings,
            (unsigned long long)s->errors, (unsigned long long)s->skipped_digest_files,
            (unsigned long long)s->skipped_insight_files, r->seconds, decode_inflate_backend());
}
