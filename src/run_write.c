/*
 * run_write: the writer stage (see the top of run.c). One thread takes the
 * finished jobs strictly in sequence order: it writes their findings (less
 * the duplicates), hands their correlation captures to the store, prints
 * each input's error line, adds the counters up, saves the checkpoint and
 * shows the progress line; after the last input it writes the correlation
 * findings.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "run_pipeline.h"

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
int corr_over_cap(pipeline *p)
{
    char msg[200];
    corr_store_cap_message(p->corr, msg, sizeof msg);
    if (p->progress_shown)
        fputs("\r\033[K", p->errout);
    ot_say(p->errout, "orgtrail: %s\n", msg);
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
    if (with_stats && r->error[0] && !atomic_load(&p->stop)) {
        if (p->progress_shown)
            fputs("\r\033[K", p->errout);
        ot_say(p->errout, "orgtrail: %s: %s\n", job_name(j), r->error);
    }
}

/* A part of stdin (see the top of run.c). */
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

void *writer_main(void *arg)
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
