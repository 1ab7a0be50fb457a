#define _GNU_SOURCE   /* memmem */
#include "scan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "emit.h"
#include "finding.h"
#include "frame.h"
#include "parse.h"
#include "prefilter.h"

/* The needles: the record counter first (every CloudTrail event has one
 * eventVersion key; it is only counted), then what the rules require (a
 * record holding one is a candidate, sent to the parser). */
enum { NEEDLE_EVENT_VERSION = 0, NEEDLE_RULES = 1 };
#define COUNT_MASK (1u << NEEDLE_EVENT_VERSION)
#define NEEDLE_DIGEST (SCAN_MAX_RULE_NEEDLES + 1)   /* the digest marker's hits */

/* A digest document is one per file and names digestStartTime among its
 * first keys, so only the start of an input is searched for it. */
static const char digest_key[] = "\"digestStartTime\"";
#define DIGEST_SEARCH_BYTES 1024

enum window_mode {
    WINDOW_MORE,      /* more bytes follow */
    WINDOW_END,       /* the input ended cleanly: run the end-of-input checks */
    WINDOW_DAMAGED,   /* the input ended at an error: frame what is complete */
};

/* Rule sets with more needles than one prefilter holds get several, each
 * one more pass over the bytes. */
#define MAX_PREFILTERS (1 + SCAN_MAX_RULE_NEEDLES / PREFILTER_MAX_NEEDLES)

struct scanner {
    scan_options opt;
    decoder *dec;
    framer *fr;
    prefilter *pf[MAX_PREFILTERS];
    unsigned pf_base[MAX_PREFILTERS];   /* the needle number of each one's first needle */
    size_t npf;
    size_t overlap;           /* the longest needle less one */
    parse_ctx *pc;
    const rule **matched;     /* room for every rule: one record may match them all */
    finding_record *finding;  /* the matched record's shared part, built once */

    uint8_t *carry;           /* compressed bytes the decoder has not taken yet */
    size_t carry_len, carry_cap;

    uint8_t *win;             /* decoded bytes [win_base, win_base + win_len) */
    size_t win_len, win_cap;
    uint64_t win_base;

    uint64_t searched_to;     /* needles searched for below this stream offset */
    prefilter_hits hits;      /* pending hits; offsets are stream offsets */
    size_t hit_next;
    uint64_t counts[PREFILTER_MAX_NEEDLES];   /* of the first prefilter, which counts records */
    int parse_all;            /* some rule is unanchored: every record is a candidate */
    frame_records recs;

    int structured;           /* this input is being framed structurally */
    int digest_pending;       /* the input's first bytes are yet to be searched for a digest */
    int finished;             /* an error ended this input */
    int ended;                /* scan_end ran */
    int error_rank;           /* of the input's error so far: a stronger one replaces it */
    int frame_held;           /* a framing error waits for its member's check */
    uint64_t held_at;         /* its decoded offset */
    uint64_t out_base;        /* the stream offset of the decoder's first decoded byte */
    const char *path;
    scan_result *res;
};

void scan_stats_add(scan_stats *into, const scan_stats *s)
{
    into->files += s->files;
    into->bytes_in += s->bytes_in;
    into->bytes_decoded += s->bytes_decoded;
    into->records_seen += s->records_seen;
    into->candidates += s->candidates;
    into->records_parsed += s->records_parsed;
    into->records_repaired += s->records_repaired;
    into->findings += s->findings;
    into->errors += s->errors;
    into->skipped_digest_files += s->skipped_digest_files;
    into->skipped_insight_files += s->skipped_insight_files;
    into->outside_window += s->outside_window;
    into->below_min_severity += s->below_min_severity;
    into->correlation_matches += s->correlation_matches;
    into->correlation_findings += s->correlation_findings;
}

void scan_result_clear(scan_result *r)
{
    buf_recycle(&r->findings);      /* its lines are written: the next job to grow one reuses it */
    r->nlines = 0;
    r->corr.len = 0;
    r->ncorr = 0;
    r->error[0] = '\0';
    memset(&r->stats, 0, sizeof r->stats);
    memset(&r->end, 0, sizeof r->end);
}

void scan_result_free(scan_result *r)
{
    buf_free(&r->findings);
    free(r->lines);
    r->lines = NULL;
    r->nlines = r->lines_cap = 0;
    buf_free(&r->corr);
    free(r->corr_lines);
    r->corr_lines = NULL;
    r->ncorr = r->corr_cap = 0;
}

scanner *scan_create(const scan_options *opt)
{
    scanner *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->opt = *opt;
    if (s->opt.window < 4096)
        s->opt.window = 4096;
    /* needle 0 counts records; 1.. are the rules' (Sigma ignores case) */
    size_t total = 1 + (opt->parse_all ? 0 : opt->nneedles);
    s->parse_all = opt->parse_all || opt->nneedles > SCAN_MAX_RULE_NEEDLES;
    if (s->parse_all)
        total = 1;
    int pf_ok = 1;
    for (size_t first = 0; first < total && pf_ok; first += PREFILTER_MAX_NEEDLES) {
        const char *needles[PREFILTER_MAX_NEEDLES];
        unsigned flags[PREFILTER_MAX_NEEDLES];
        size_t n = 0;
        for (size_t g = first; g < total && n < PREFILTER_MAX_NEEDLES; g++, n++) {
            needles[n] = g == 0 ? "\"eventVersion" : opt->needles[g - 1];
            flags[n] = g == 0 ? 0 : PREFILTER_NOCASE;
        }
        s->pf_base[s->npf] = (unsigned)first;
        s->pf[s->npf] = prefilter_create_ex(needles, flags, n);
        pf_ok = s->pf[s->npf] != NULL;
        if (pf_ok && prefilter_max_len(s->pf[s->npf]) - 1 > s->overlap)
            s->overlap = prefilter_max_len(s->pf[s->npf]) - 1;
        s->npf++;
    }
    s->dec = decode_create();
    s->fr = frame_create(opt->max_record);
    s->pc = parse_create();
    s->matched = malloc((rules_count(opt->rules) + 1) * sizeof *s->matched);
    finding_options fo = {
        .format = opt->format, .raw = opt->raw, .min_severity = opt->min_severity, .context = opt->context,
    };
    s->finding = finding_record_create(&fo);
    s->win_cap = s->opt.window;
    s->win = malloc(s->win_cap);
    if (!s->dec || !s->fr || !pf_ok || !s->pc || !s->matched || !s->finding || !s->win) {
        scan_free(s);
        return NULL;
    }
    return s;
}

void scan_free(scanner *s)
{
    if (!s)
        return;
    decode_free(s->dec);
    frame_free(s->fr);
    for (size_t k = 0; k < s->npf; k++)
        prefilter_free(s->pf[k]);
    parse_free(s->pc);
    finding_record_free(s->finding);
    free(s->matched);
    free(s->carry);
    free(s->win);
    prefilter_hits_free(&s->hits);
    frame_records_free(&s->recs);
    free(s);
}

void scan_begin(scanner *s, const char *path, scan_result *res)
{
    /* A window grown for an earlier input's long record would let this
     * input fit one window and take the no-hit fast path that a fresh
     * scanner does not take: its verdict would depend on what came before. */
    if (s->win_cap > s->opt.window) {
        uint8_t *w = realloc(s->win, s->opt.window);
        if (w)
            s->win = w;     /* else keep the bigger block; only its size in use shrinks */
        s->win_cap = s->opt.window;
    }
    decode_reset(s->dec);
    frame_reset(s->fr);
    s->carry_len = 0;
    s->win_len = 0;
    s->win_base = 0;
    s->searched_to = 0;
    s->hits.len = 0;
    s->hit_next = 0;
    memset(s->counts, 0, sizeof s->counts);
    s->structured = s->opt.validate || s->parse_all;
    s->digest_pending = 1;
    s->finished = 0;
    s->ended = 0;
    s->error_rank = 0;
    s->frame_held = 0;
    s->out_base = 0;
    s->path = path;
    s->res = res;
    res->stats.files++;
}

void scan_begin_part(scanner *s, const char *path, scan_result *res, const scan_part *at)
{
    scan_begin(s, path, res);
    s->structured = 1;
    if (!at)
        return;
    res->stats.files--;     /* counted by the first part */
    decode_reset_after_member(s->dec, at->in_offset);
    frame_reset_at(s->fr, at->out_offset, at->docs_seen);
    s->out_base = at->out_offset;
    s->win_base = s->searched_to = at->out_offset;
    s->digest_pending = 0;  /* a digest is known by its first bytes, long gone */
}

/*
 * Records the input's error: one line an input. A bad record does not end
 * the input; if the input later turns out damaged (a CRC mismatch found at
 * the end of a gzip member, say), that cause replaces the record's symptom.
 * So does it a framing error in the bytes of a member not yet checked: the
 * damage decoded into them is the cause, the bracket the symptom.
 */
enum { RANK_RECORD = 1, RANK_HELD_FRAME = 2, RANK_FIRM = 3 };

static void report_rank(scanner *s, int rank, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void report_rank(scanner *s, int rank, const char *fmt, ...)
{
    if (s->res->error[0] && rank <= s->error_rank)
        return;
    if (!s->res->error[0])
        s->res->stats.errors++;
    s->error_rank = rank;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->res->error, sizeof s->res->error, fmt, ap);
    va_end(ap);
}

/* The input's error, of the firm kind (most are). */
#define report(s, ...) report_rank(s, RANK_FIRM, __VA_ARGS__)

/* 1 when the current event's eventTime is inside --since/--until. An event
 * without a readable eventTime cannot be shown to be inside: it is not. */
static int in_window(scanner *s)
{
    ot_slice t;
    int64_t at;
    int date_only;
    if (parse_get(s->pc, "eventTime", &t) != PARSE_STRING || parse_time(t.ptr, t.len, &at, &date_only))
        return 0;
    return (!s->opt.has_since || at >= s->opt.since) && (!s->opt.has_until || at < s->opt.until);
}

static int push_line(scan_finding **lines, size_t *n, size_t *cap, scan_finding f)
{
    if (ot_grow(lines, cap, *n, sizeof **lines, 16))
        return -ENOMEM;
    (*lines)[(*n)++] = f;
    return 0;
}

static int add_line(scan_result *r, uint64_t key, uint64_t record_end)
{
    return push_line(&r->lines, &r->nlines, &r->lines_cap, (scan_finding){ r->findings.len, key, record_end });
}

/* The record's matches of ru that feed correlations, as state lines (kept
 * whatever the severity: a silent rule's level is no finding's). */
static int capture(scanner *s, const rule *ru, const frame_record *rec)
{
    scan_result *r = s->res;
    int n = corr_capture(s->opt.corr, &r->corr, ru, s->pc, s->finding, s->path, rec->start);
    if (n <= 0)
        return n;
    return push_line(&r->corr_lines, &r->ncorr, &r->corr_cap, (scan_finding){ r->corr.len, 0, rec->end });
}

/* Whether any of the n matched rules makes a line: a finding at or above
 * --min-severity (a rule's level bounds its findings' severity: a denied
 * call and the context only lower it), or a capture for a correlation.
 * When none does, the record's fields are not fetched. */
static int makes_line(const scanner *s, const rule *const *matched, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((!matched[i]->silent && rules_severity(matched[i], 0) >= s->opt.min_severity) ||
            corr_feeds_rule(s->opt.corr, matched[i]))
            return 1;
    return 0;
}

/* Parses the record; for a candidate, confirms it and emits its findings.
 * needles_seen: bit i says rule needle i occurs in the record. */
static int handle_record(scanner *s, const frame_record *rec, int candidate, uint64_t needles_seen)
{
    scan_stats *st = &s->res->stats;
    const char *bytes = (const char *)s->win + (rec->start - s->win_base);
    char err[200];
    size_t err_offset = 0;

    if (candidate)
        st->candidates++;
    st->records_parsed++;
    if (parse_record(s->pc, bytes, (size_t)(rec->end - rec->start), rec->kind, err, sizeof err, &err_offset)) {
        report_rank(s, RANK_RECORD, "%s (%s) at decoded byte %llu",
               candidate ? "candidate record does not parse" : "invalid JSON record", err,
               (unsigned long long)(rec->start + err_offset));
        return 0;
    }
    st->records_repaired += (uint64_t)parse_repaired(s->pc);
    if (!candidate)
        return 0;
    if (parse_is_digest(s->pc)) {
        st->skipped_digest_files++;
        return 0;
    }
    ot_slice v;
    if (parse_get(s->pc, "eventType", &v) == PARSE_STRING && v.len == 20 &&
        memcmp(v.ptr, "AwsCloudTrailInsight", 20) == 0)
        return 0;
    const rule **matched = s->matched;
    size_t n = rules_match(s->opt.rules, s->pc, s->parse_all ? UINT64_MAX : needles_seen, matched,
                           rules_count(s->opt.rules));
    size_t shown = 0;   /* the rules that make findings: a silent one only feeds correlations */
    for (size_t i = 0; i < n; i++)
        shown += !matched[i]->silent;
    if (shown == 0 && s->opt.all_org_events && parse_get(s->pc, "eventSource", &v) == PARSE_STRING &&
        rules_is_org_source(v.ptr, v.len))
        matched[n++] = rules_catch_all();
    if (n == 0)
        return 0;
    if ((s->opt.has_since || s->opt.has_until) && !in_window(s)) {
        st->outside_window++;
        return 0;
    }
    if (!makes_line(s, matched, n)) {
        for (size_t i = 0; i < n; i++)
            st->below_min_severity += !matched[i]->silent;
        return 0;
    }
    int rc = finding_prepare(s->finding, s->pc, s->path, rec->start);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        rc = s->opt.corr ? capture(s, matched[i], rec) : 0;
        if (rc)
            return rc;
        if (matched[i]->silent)
            continue;
        rc = finding_append(&s->res->findings, s->finding, matched[i]);
        if (rc == 0) {
            st->below_min_severity++;
            continue;
        }
        if (rc > 0)
            rc = add_line(s->res, s->opt.no_dedupe_keys ? 0 : finding_dedupe_key(s->finding, matched[i]), rec->end);
        if (rc)
            return rc;
        st->findings++;
    }
    return 0;
}

/* Matches the framed records against pending hits, in stream order. */
static int handle_records(scanner *s)
{
    prefilter_hits *h = &s->hits;
    for (size_t i = 0; i < s->recs.len; i++) {
        const frame_record *rec = &s->recs.recs[i];
        while (s->hit_next < h->len && h->hits[s->hit_next].offset < rec->start)
            s->hit_next++;                      /* a hit outside any record */
        int candidate = 0;
        uint64_t seen = 0;
        while (s->hit_next < h->len && h->hits[s->hit_next].offset < rec->end) {
            unsigned k = h->hits[s->hit_next].needle;
            candidate = 1;
            if (k >= NEEDLE_RULES && k != NEEDLE_DIGEST && k - NEEDLE_RULES < 64)
                seen |= 1ULL << (k - NEEDLE_RULES);
            s->hit_next++;
        }
        if (candidate || s->opt.validate || s->parse_all) {
            int rc = handle_record(s, rec, candidate || s->parse_all, seen);
            if (rc)
                return rc;
        }
    }
    if (s->opt.validate)
        s->res->stats.records_seen += s->recs.len;
    s->recs.len = 0;
    return 0;
}

static int first_blank_skip(uint8_t c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* The cheap structural check of a one-window input with no hit: does it
 * start and end like JSON? Anything else takes the structural scan, which
 * then names the exact problem. */
static int looks_complete(const uint8_t *p, size_t n)
{
    size_t a = 0;
    while (a < n && first_blank_skip(p[a]))
        a++;
    if (a == n)
        return 1;
    size_t b = n;
    while (first_blank_skip(p[b - 1]))
        b--;
    return (p[a] == '{' || p[a] == '[') && (p[b - 1] == '}' || p[b - 1] == ']');
}

static int by_offset(const void *a, const void *b)
{
    const prefilter_hit *x = a, *y = b;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return x->needle < y->needle ? -1 : x->needle > y->needle;
}

static int add_hit(prefilter_hits *h, size_t offset, unsigned needle)
{
    if (ot_grow(&h->hits, &h->cap, h->len, sizeof *h->hits, 16))
        return -ENOMEM;
    h->hits[h->len++] = (prefilter_hit){ offset, needle };
    return 0;
}

/* Moves the one digest hit (first) to its place among the sorted others. */
static void place_digest_hit(prefilter_hit *h, size_t n)
{
    prefilter_hit digest = h[0];
    size_t i = 1;
    for (; i < n && h[i].offset < digest.offset; i++)
        h[i - 1] = h[i];
    h[i - 1] = digest;
}

/* 1 when decoded byte `at` came from a member the decoder has not checked
 * to its end yet. */
static int in_unchecked_member(const scanner *s, uint64_t at)
{
    uint64_t start;
    return decode_member_start(s->dec, &start) && s->out_base + start <= at;
}

/* Holds a framing error found in bytes of a member not checked yet: the
 * member's CRC (or checksum) decides whether damage there is the cause to
 * name. judged_at is the decoded byte the error is about (for a record
 * over --max-record, its byte past the limit). Returns 1 when it was held. */
static int hold_frame_error(scanner *s, uint64_t judged_at, const char *what, uint64_t at)
{
    if (!in_unchecked_member(s, judged_at))
        return 0;
    report_rank(s, RANK_HELD_FRAME, "%s at decoded byte %llu", what, (unsigned long long)at);
    s->frame_held = 1;
    s->held_at = judged_at;
    return 1;
}

static int process_window(scanner *s, enum window_mode mode)
{
    if (s->frame_held) {
        /* framing stopped at a held error: the bytes only go through the
         * member's check */
        s->win_base += s->win_len;
        s->win_len = 0;
        return 0;
    }
    uint64_t base = s->win_base;
    size_t len = s->win_len;
    size_t overlap = s->overlap;

    /* 1. needles: a needle may straddle the end unless nothing follows */
    size_t search_to = mode != WINDOW_MORE ? len : (len > overlap ? len - overlap : 0);
    size_t from = (size_t)(s->searched_to - base);
    if (search_to > from) {
        size_t before = s->hits.len;
        if (s->digest_pending) {
            s->digest_pending = 0;
            size_t n = len < DIGEST_SEARCH_BYTES ? len : DIGEST_SEARCH_BYTES;
            const uint8_t *d = memmem(s->win, n, digest_key, sizeof digest_key - 1);
            if (d && add_hit(&s->hits, (size_t)(d - s->win), NEEDLE_DIGEST))
                return -ENOMEM;
        }
        size_t listed = s->hits.len;
        for (size_t k = 0; k < s->npf; k++) {
            size_t from_hit = s->hits.len;
            uint64_t unused[PREFILTER_MAX_NEEDLES];
            int rc = prefilter_scan(s->pf[k], s->win, len, from, search_to, k == 0 ? COUNT_MASK : 0,
                                    k == 0 ? s->counts : unused, &s->hits);
            if (rc)
                return rc;
            for (size_t i = from_hit; i < s->hits.len; i++)
                s->hits.hits[i].needle += s->pf_base[k];
        }
        if (s->npf > 1 && s->hits.len > listed + 1)
            qsort(s->hits.hits + listed, s->hits.len - listed, sizeof *s->hits.hits, by_offset);
        if (s->hits.len > before + 1 && s->hits.hits[before].needle == NEEDLE_DIGEST)
            place_digest_hit(s->hits.hits + before, s->hits.len - before);
        for (size_t i = before; i < s->hits.len; i++)
            s->hits.hits[i].offset += base;
        s->searched_to = base + search_to;
    }

    /* 2. structure, unless a one-window input with no hit looks whole. A
     * one-window input with hits is framed only as far as its last hit: its
     * tail gets the same cheap check as an input with no hit. */
    uint64_t until = UINT64_MAX;
    if (!s->structured) {
        int no_hits = s->hit_next == s->hits.len;
        if (mode == WINDOW_END && no_hits && looks_complete(s->win, len))
            return 0;
        s->structured = 1;
        if (mode == WINDOW_END && !no_hits && !s->opt.validate)
            until = s->hits.hits[s->hits.len - 1].offset + 1;
    }
    int frc = frame_scan_until(s->fr, s->win, base, len, until, &s->recs);
    int rc = handle_records(s);
    if (rc)
        return rc;
    if (frc == 0 && frame_position(s->fr) < base + len) {
        if (looks_complete(s->win, len))
            return 0;
        frc = frame_scan(s->fr, s->win, base, len, &s->recs);   /* find the exact problem */
        rc = handle_records(s);
        if (rc)
            return rc;
    }
    if (frc == -ENOMEM)
        return frc;
    uint64_t warned_at;
    const char *warning = frame_warning(s->fr, &warned_at);
    if (warning)   /* like a bad record: named, and the input goes on */
        report_rank(s, RANK_RECORD, "%s at decoded byte %llu", warning, (unsigned long long)warned_at);
    if (frc == 0 && mode == WINDOW_END)
        frc = frame_finish(s->fr);
    if (frc) {
        uint64_t at = frame_error_offset(s->fr);
        uint64_t judged_at = frame_error_too_long(s->fr) ? at + s->opt.max_record : at;
        if (hold_frame_error(s, judged_at, frame_error(s->fr), at))
            return 0;
        report(s, "%s at decoded byte %llu", frame_error(s->fr), (unsigned long long)at);
        s->finished = 1;
        return 0;
    }

    /* 3. hits that no record can still hold are dropped */
    uint64_t keep = frame_keep_from(s->fr);
    while (s->hit_next < s->hits.len && s->hits.hits[s->hit_next].offset < keep)
        s->hit_next++;
    if (s->hit_next == s->hits.len)
        s->hits.len = s->hit_next = 0;

    /* 4. slide the window: keep the open record and the needle overlap */
    if (keep > s->searched_to)
        keep = s->searched_to;
    size_t drop = (size_t)(keep - base);
    memmove(s->win, s->win + drop, len - drop);
    s->win_len = len - drop;
    s->win_base = keep;
    return 0;
}

/* Makes room in the window: slide it, and grow it only for a long record. */
static int window_make_room(scanner *s)
{
    int rc = process_window(s, WINDOW_MORE);
    if (rc || s->finished)
        return rc;
    if (s->win_len < s->win_cap)
        return 0;
    size_t cap = s->win_cap * 2;
    size_t limit = s->opt.max_record + s->opt.window;
    if (cap > limit)
        cap = limit;
    if (cap <= s->win_cap) {
        char what[96];
        snprintf(what, sizeof what, "record is over --max-record (%zu bytes)", s->opt.max_record);
        uint64_t at = frame_keep_from(s->fr);
        if (hold_frame_error(s, at + s->opt.max_record, what, at))
            return process_window(s, WINDOW_MORE);   /* its bytes now only go through the check */
        report(s, "%s at decoded byte %llu", what, (unsigned long long)at);
        s->finished = 1;
        return 0;
    }
    uint8_t *w = realloc(s->win, cap);
    if (!w)
        return -ENOMEM;
    s->win = w;
    s->win_cap = cap;
    return 0;
}

/*
 * A member (or frame) is damaged: how much of its text the inflater had
 * handed out before it found the damage depends on how the input was cut
 * into reads (ISA-L buffers ahead; libzstd's one-piece path gives nothing).
 * So no finding comes from a record that ends inside it: the findings are
 * those before the damaged member, whatever the reads. A gzip member whose
 * only fault is its CRC or length gave all its text, the same for any
 * reads: its findings stay, beside the error line.
 */
static void drop_damaged_findings(scanner *s)
{
    uint64_t start;
    if (decode_check_failed(s->dec) || !decode_member_start(s->dec, &start))
        return;
    scan_result *r = s->res;
    size_t keep = r->nlines;
    while (keep > 0 && r->lines[keep - 1].record_end > s->out_base + start)
        keep--;
    r->stats.findings -= r->nlines - keep;
    r->findings.len = keep ? r->lines[keep - 1].end : 0;
    r->nlines = keep;
    keep = r->ncorr;    /* and the matches for correlations, the same way */
    while (keep > 0 && r->corr_lines[keep - 1].record_end > s->out_base + start)
        keep--;
    r->corr.len = keep ? r->corr_lines[keep - 1].end : 0;
    r->ncorr = keep;
}

/* Decodes in[] into the window, framing each time it fills. Leaves what the
 * decoder could not take yet in *used. */
static int decode_into_window(scanner *s, const uint8_t *in, size_t len, int final, size_t *used)
{
    size_t pos = 0;
    *used = 0;
    for (;;) {
        if (s->win_len == s->win_cap) {
            int rc = window_make_room(s);
            if (rc || s->finished)
                return rc;
        }
        size_t u = 0, m = 0;
        int drc = decode_step(s->dec, in + pos, len - pos, final, &u, s->win + s->win_len,
                              s->win_cap - s->win_len, &m);
        pos += u;
        s->win_len += m;
        s->res->stats.bytes_decoded += m;
        if (s->frame_held && !in_unchecked_member(s, s->held_at)) {
            s->error_rank = RANK_FIRM;   /* its member checked out: the framing error stands */
            s->finished = 1;
            *used = pos;
            return 0;
        }
        if (drc != DECODE_OK) {
            int rc = process_window(s, WINDOW_DAMAGED);
            drop_damaged_findings(s);
            report(s, "%s at input byte %llu", decode_error(s->dec),
                   (unsigned long long)decode_error_offset(s->dec));
            s->finished = 1;
            *used = pos;
            return rc;
        }
        if (u == 0 && m == 0)
            break;
    }
    *used = pos;
    return 0;
}

static int carry_keep(scanner *s, const uint8_t *p, size_t n)
{
    if (n > s->carry_cap) {
        uint8_t *c = realloc(s->carry, n);
        if (!c)
            return -ENOMEM;
        s->carry = c;
        s->carry_cap = n;
    }
    memmove(s->carry, p, n);
    s->carry_len = n;
    return 0;
}

static int feed(scanner *s, const uint8_t *buf, size_t len, int final)
{
    size_t used;
    int rc;
    if (s->carry_len > 0) {
        /* Rare: a few bytes were left over (a split magic). Join them. */
        size_t total = s->carry_len + len;
        if (total > s->carry_cap) {
            uint8_t *c = realloc(s->carry, total);
            if (!c)
                return -ENOMEM;
            s->carry = c;
            s->carry_cap = total;
        }
        if (len > 0)
            memcpy(s->carry + s->carry_len, buf, len);
        s->carry_len = total;
        rc = decode_into_window(s, s->carry, total, final, &used);
        if (rc)
            return rc;
        return carry_keep(s, s->carry + used, total - used);
    }
    rc = decode_into_window(s, buf, len, final, &used);
    if (rc || used == len)
        return rc;
    return carry_keep(s, buf + used, len - used);
}

int scan_feed(scanner *s, const uint8_t *buf, size_t len)
{
    if (s->finished)
        return 1;
    s->res->stats.bytes_in += len;
    int rc = feed(s, buf, len, 0);
    if (rc)
        return rc;
    return s->finished;
}

void scan_fail(scanner *s, uint64_t offset, const char *what)
{
    if (!s->finished && process_window(s, WINDOW_DAMAGED) == -ENOMEM)
        report(s, "out of memory");
    report(s, "%s at input byte %llu", what, (unsigned long long)offset);
    s->finished = 1;
}

void scan_end(scanner *s)
{
    static const uint8_t nothing[1];
    int rc = 0;
    if (s->ended)
        return;
    s->ended = 1;
    if (!s->finished) {
        /* the last bytes the decoder held back, now known to be the end */
        size_t used;
        rc = s->carry_len > 0 ? decode_into_window(s, s->carry, s->carry_len, 1, &used)
                              : decode_into_window(s, nothing, 0, 1, &used);
        s->carry_len = 0;
    }
    if (!rc && !s->finished) {
        if (decode_finish(s->dec) != DECODE_OK) {
            rc = process_window(s, WINDOW_DAMAGED);
            report(s, "%s at input byte %llu", decode_error(s->dec),
                   (unsigned long long)decode_error_offset(s->dec));
        } else {
            rc = process_window(s, WINDOW_END);
        }
    }
    if (rc == -ENOMEM)
        report(s, "out of memory");
    if (!s->opt.validate)
        s->res->stats.records_seen += s->counts[NEEDLE_EVENT_VERSION];
    s->res->end = (scan_part){ decode_bytes_in(s->dec), s->win_base + s->win_len, frame_docs_seen(s->fr) };
    s->finished = 1;
}
