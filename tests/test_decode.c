/*
 * test_decode: the streaming decoder of gzip members, zstd frames and plain
 * text (src/decode.h).
 *
 * Every compressed input is made here with zlib and libzstd. A driver plays
 * the caller decode_step() expects: it re-offers the bytes the decoder did
 * not consume, joined with the next piece, and it copies small buffers into
 * fresh allocations for every call, so ASan catches a decoder that keeps a
 * pointer into a buffer it was given earlier or writes past out_cap.
 */
#include "check.h"
#include "decode.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

static const char *cur_case = "";
static const char *cur_mode = "";

/* Names the case and the way it is fed in failure messages. */
static void set_context(void)
{
    static char context[200];
    snprintf(context, sizeof context, "%s%s%s", cur_case, *cur_mode ? " / " : "", cur_mode);
    check_context = context;
}

static void set_case(const char *name)
{
    cur_case = name;
    set_context();
}

static void set_mode(const char *mode)
{
    cur_mode = mode;
    set_context();
}

/* ---- helpers ------------------------------------------------------------ */

/* Two seeded xorshift64* streams: one makes the test data, the other drives
 * the feeding (piece and buffer sizes), so the data never depends on how a
 * decoder happened to consume it. */
static uint64_t gen_state = 0x9E3779B97F4A7C15ull;
static uint64_t drive_state = 0xD1B54A32D192ED03ull;

static uint64_t rnd(void)
{
    return check_rand(&gen_state);
}

static size_t rnd_below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static size_t drive_below(size_t n)
{
    return n ? (size_t)(check_rand(&drive_state) % n) : 0;
}

typedef struct {
    uint8_t *p;
    size_t n, cap;
} vec;

static void vec_add(vec *v, const void *p, size_t n)
{
    if (v->n + n > v->cap) {
        size_t cap = v->cap ? v->cap : 64;
        while (cap < v->n + n)
            cap *= 2;
        v->p = realloc(v->p, cap);
        if (!v->p) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        v->cap = cap;
    }
    if (n)
        memcpy(v->p + v->n, p, n);
    v->n += n;
}

static void vec_str(vec *v, const char *s)
{
    vec_add(v, s, strlen(s));
}

static void vec_vec(vec *v, const vec *w)
{
    vec_add(v, w->p, w->n);
}

static void vec_free(vec *v)
{
    free(v->p);
    v->p = NULL;
    v->n = v->cap = 0;
}

static vec vec_of(const void *p, size_t n)
{
    vec v = {0};
    vec_add(&v, p, n);
    return v;
}

/* Appends one gzip member of text. header_extras: HDR_FIELDS adds FEXTRA,
 * FNAME and FCOMMENT to the header (`gzip` writes FNAME), HDR_HCRC adds
 * FHCRC, the header's own CRC-16. */
enum { HDR_FIELDS = 1, HDR_HCRC = 2 };
static void gz_member(vec *out, const void *text, size_t n, int level, int strategy,
                      int header_extras)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, strategy) != Z_OK) {
        fprintf(stderr, "deflateInit2 failed\n");
        exit(2);
    }
    gz_header h;
    static unsigned char extra[] = "XYab";
    static unsigned char name[] = "events.json";
    static unsigned char comment[] = "a comment";
    if (header_extras) {
        memset(&h, 0, sizeof h);
        if (header_extras & HDR_FIELDS) {
            h.extra = extra;
            h.extra_len = 4;
            h.name = name;
            h.comment = comment;
        }
        h.hcrc = (header_extras & HDR_HCRC) != 0;
        h.os = 3;
        deflateSetHeader(&z, &h);
    }
    size_t bound = deflateBound(&z, (uLong)n) + 64;
    uint8_t *buf = malloc(bound);
    z.next_in = (Bytef *)text;
    z.avail_in = (uInt)n;
    z.next_out = buf;
    z.avail_out = (uInt)bound;
    int rc = deflate(&z, Z_FINISH);
    if (rc != Z_STREAM_END) {
        fprintf(stderr, "deflate failed: %d\n", rc);
        exit(2);
    }
    vec_add(out, buf, z.total_out);
    deflateEnd(&z);
    free(buf);
}

static void gz(vec *out, const vec *text)
{
    gz_member(out, text->p, text->n, 6, Z_DEFAULT_STRATEGY, 0);
}

/* Appends one zstd frame of text; checksum adds the XXH64 content checksum. */
static void zst_frame(vec *out, const void *text, size_t n, int level, int checksum)
{
    size_t bound = ZSTD_compressBound(n);
    uint8_t *buf = malloc(bound);
    ZSTD_CCtx *c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, checksum);
    size_t r = ZSTD_compress2(c, buf, bound, text, n);
    if (ZSTD_isError(r)) {
        fprintf(stderr, "ZSTD_compress2: %s\n", ZSTD_getErrorName(r));
        exit(2);
    }
    ZSTD_freeCCtx(c);
    vec_add(out, buf, r);
    free(buf);
}

static void zst(vec *out, const vec *text)
{
    size_t bound = ZSTD_compressBound(text->n);
    uint8_t *buf = malloc(bound);
    size_t r = ZSTD_compress(buf, bound, text->p, text->n, 3);
    if (ZSTD_isError(r)) {
        fprintf(stderr, "ZSTD_compress: %s\n", ZSTD_getErrorName(r));
        exit(2);
    }
    vec_add(out, buf, r);
    free(buf);
}

/* A zstd skippable frame: magic 0x184D2A50 + low (0..15), LE size, payload. */
static void skippable(vec *out, unsigned low, const void *payload, uint32_t n)
{
    uint32_t magic = 0x184D2A50u + (low & 15);
    uint8_t h[8] = {
        (uint8_t)magic, (uint8_t)(magic >> 8), (uint8_t)(magic >> 16), (uint8_t)(magic >> 24),
        (uint8_t)n,     (uint8_t)(n >> 8),     (uint8_t)(n >> 16),     (uint8_t)(n >> 24),
    };
    vec_add(out, h, 8);
    vec_add(out, payload, n);
}

/* JSON-ish CloudTrail text of about approx bytes, starting with '{'. Holds
 * some non-ASCII UTF-8, including "µ" (C2 B5), whose B5 is the byte the
 * plain-text scan looks for in a zstd magic. */
static void gen_json(vec *v, size_t approx)
{
    static const char *const names[] = {
        "CreateAccount", "LeaveOrganization", "AttachPolicy", "DescribeOrganization",
        "AssumeRole", "InviteAccountToOrganization", "ListAccounts", "GetObject",
    };
    static const char *const words[] = {
        "alpha", "bravo", "caf\xc3\xa9", "\xc2\xb5s", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
        "delta", "x(y)", "[z]", "arn:aws:iam::111122223333:role/Admin",
    };
    while (v->n < approx) {
        char rec[512];
        int n = snprintf(rec, sizeof rec,
                         "{\"eventVersion\":\"1.08\",\"eventSource\":\"%s.amazonaws.com\","
                         "\"eventName\":\"%s\",\"n\":%llu,\"s\":\"%s %s %s\"}\n",
                         rnd() & 1 ? "organizations" : "sts", names[rnd_below(8)],
                         (unsigned long long)(rnd() % 1000000), words[rnd_below(10)],
                         words[rnd_below(10)], words[rnd_below(10)]);
        vec_add(v, rec, (size_t)n);
    }
}

/* Random bytes over a small alphabet (compresses a little, never a magic). */
static void gen_bytes(vec *v, size_t n)
{
    static const char alpha[] = "{}[]\":, abcdefgh0123\n";
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)alpha[rnd_below(sizeof alpha - 1)];
        vec_add(v, &c, 1);
    }
}

/* ---- the driver --------------------------------------------------------- */

typedef struct {
    int step_rc;          /* first non-OK decode_step result, else DECODE_OK */
    int finish_rc;        /* decode_finish(), when every step was OK */
    int finished;         /* decode_finish() was called */
    vec out;
    size_t consumed;      /* sum of *in_used */
    size_t left;          /* input bytes never consumed */
    int bad_counts;       /* *in_used > in_len, *out_made > out_cap, bytes_in drift */
    int runaway;          /* more output than could ever be right */
    char bad_what[160];   /* the first bad count */
    char err[160];
    uint64_t err_off;
    uint64_t bytes_in;
} run_result;

enum { OUT_RANDOM = 0, BIG_OUT = 1 << 16 };
static uint8_t big_out[BIG_OUT];

/*
 * Feeds in[0..len) in pieces ending at ends[0..nends) (increasing, the last
 * is len; a piece may be empty). out_cap is the output room of each call, or
 * OUT_RANDOM for a random 1..8 or 1..4096 per call, and now and then 0. eager adds the next piece
 * as soon as the pending input is used up; otherwise only once a call makes
 * no progress at all (which also checks calls with nothing new to offer).
 */
static void run(decoder *d, const uint8_t *in, size_t len, const size_t *ends, size_t nends,
                size_t out_cap, int eager, run_result *r)
{
    memset(r, 0, sizeof *r);
    uint64_t base = decode_bytes_in(d);
    size_t lo = 0, hi = ends[0], k = 1;
    for (;;) {
        if (eager && lo == hi && k < nends)
            hi = ends[k++];
        int final = hi == len && k == nends;
        size_t n = hi - lo;
        /* Small buffers are fresh copies (ASan then catches stale pointers
         * and overruns); big ones are used in place, to stay fast. */
        int copy_in = n <= 8192;
        uint8_t *ib = copy_in ? malloc(n ? n : 1) : (uint8_t *)in + lo;
        if (copy_in && n)
            memcpy(ib, in + lo, n);
        size_t cap = out_cap;
        if (cap == OUT_RANDOM) {
            /* now and then no room at all: nothing may come out */
            cap = drive_below(2) ? 1 + drive_below(8) : 1 + drive_below(4096);
            if (drive_below(16) == 0)
                cap = 0;
        }
        int copy_out = cap <= 8192;
        uint8_t *ob = copy_out ? malloc(cap ? cap : 1) : big_out;
        size_t used = (size_t)-1, made = (size_t)-1;
        int rc = decode_step(d, ib, n, final, &used, ob, cap, &made);
        if (copy_in)
            free(ib);
        if (used > n || made > cap) {
            if (!r->bad_counts)
                snprintf(r->bad_what, sizeof r->bad_what,
                         "call with %zu in, %zu out room: *in_used %zu, *out_made %zu", n, cap,
                         used, made);
            r->bad_counts++;
            if (copy_out)
                free(ob);
            r->step_rc = DECODE_ERROR;
            break;
        }
        vec_add(&r->out, ob, made);
        if (copy_out)
            free(ob);
        lo += used;
        r->consumed += used;
        if (decode_bytes_in(d) != base + r->consumed) {
            if (!r->bad_counts)
                snprintf(r->bad_what, sizeof r->bad_what,
                         "decode_bytes_in %llu, but %zu bytes were consumed",
                         (unsigned long long)(decode_bytes_in(d) - base), r->consumed);
            r->bad_counts++;
        }
        if (rc != DECODE_OK) {
            r->step_rc = rc;
            break;
        }
        if (r->out.n > 64 * len + (1u << 20)) {
            r->runaway = 1;
            break;
        }
        if (cap == 0)
            continue;   /* no progress expected; the next call has room */
        if (used == 0 && made == 0) {
            if (k < nends) {
                hi = ends[k++];
                continue;
            }
            break;
        }
    }
    r->left = len - lo;
    if (r->step_rc == DECODE_OK && !r->runaway) {
        r->finish_rc = decode_finish(d);
        r->finished = 1;
    }
    snprintf(r->err, sizeof r->err, "%s", decode_error(d));
    r->err_off = decode_error_offset(d);
    r->bytes_in = decode_bytes_in(d);
}

/* Piece layouts: where the pieces the driver feeds end. */
enum layout {
    L_WHOLE,    /* one piece */
    L_BYTES,    /* a byte at a time */
    L_SPLIT,    /* two pieces, split at arg */
    L_RANDOM,   /* random pieces of 0..arg bytes */
    L_FIXED,    /* pieces of arg bytes */
};

static size_t *make_ends(enum layout lay, size_t arg, size_t len, size_t *n)
{
    size_t *e = malloc((len + 2) * sizeof *e);
    size_t k = 0;
    switch (lay) {
    case L_WHOLE:
        break;
    case L_BYTES:
        for (size_t i = 1; i < len; i++)
            e[k++] = i;
        break;
    case L_SPLIT:
        e[k++] = arg;
        break;
    case L_FIXED:
        for (size_t pos = arg; pos < len; pos += arg)
            e[k++] = pos;
        break;
    case L_RANDOM:
        for (size_t pos = 0;;) {
            pos += drive_below(arg + 1);   /* 0 makes an empty piece */
            if (pos >= len)
                break;
            e[k++] = pos;
        }
        break;
    }
    e[k++] = len;
    *n = k;
    return e;
}

/* Where a and b first differ (a->n or b->n when one is a prefix of the other). */
static size_t first_diff(const vec *a, const uint8_t *b, size_t bn)
{
    size_t i = 0;
    while (i < a->n && i < bn && a->p[i] == b[i])
        i++;
    return i;
}

static int is_prefix(const vec *out, const vec *text)
{
    return out->n <= text->n && first_diff(out, text->p, text->n) == out->n;
}

/* One run that must decode in[] to exactly text[]: one CHECK per run. */
static void expect_ok_run(decoder *d, const vec *in, const vec *text, enum layout lay, size_t arg,
                          size_t out_cap, int eager)
{
    run_result r;
    size_t nends;
    size_t *ends = make_ends(lay, arg, in->n, &nends);
    decode_reset(d);
    int reset_ok = decode_bytes_in(d) == 0;
    run(d, in->p, in->n, ends, nends, out_cap, eager, &r);
    int api_ok = reset_ok && r.bad_counts == 0 && !r.runaway;
    int status_ok = r.step_rc == DECODE_OK && r.finished && r.finish_rc == DECODE_OK;
    int all_consumed = r.left == 0 && r.bytes_in == in->n;
    int text_ok = r.out.n == text->n && first_diff(&r.out, text->p, text->n) == text->n;
    int run_ok = api_ok && status_ok && all_consumed && text_ok;
    CHECK(run_ok);
    if (!run_ok && check_printed)
        fprintf(stderr,
                "  api %s%s, status %s (%s at %llu), consumed %zu of %zu, output %zu bytes of "
                "%zu, first difference at %zu\n",
                api_ok ? "ok" : "BAD: ", r.bad_what, status_ok ? "ok" : "BAD", r.err,
                (unsigned long long)r.err_off, r.consumed, in->n, r.out.n, text->n,
                first_diff(&r.out, text->p, text->n));
    vec_free(&r.out);
    free(ends);
}

/*
 * Decodes in[] under every feeding pattern: whole, a byte at a time, split
 * into two at every offset, and random pieces; with a large output buffer and
 * with 1..7-byte ones. split_limit bounds the every-offset splits to inputs
 * that small (they cost len^2).
 */
static void expect_ok(decoder *d, const char *name, const vec *in, const vec *text,
                      size_t split_limit)
{
    set_case(name);

    set_mode("whole, big out");
    expect_ok_run(d, in, text, L_WHOLE, 0, BIG_OUT, 0);
    set_mode("whole, big out, eager");
    expect_ok_run(d, in, text, L_WHOLE, 0, BIG_OUT, 1);
    for (size_t cap = 1; cap <= 7; cap++) {
        if (text->n > 20000 && cap != 7)
            continue;   /* big texts: tiny buffers come from the random runs too */
        set_mode("whole, tiny out");
        expect_ok_run(d, in, text, L_WHOLE, 0, cap, cap & 1);
    }
    if (in->n <= 8000) {
        set_mode("bytewise, big out");
        expect_ok_run(d, in, text, L_BYTES, 0, BIG_OUT, 0);
        set_mode("bytewise, big out, eager");
        expect_ok_run(d, in, text, L_BYTES, 0, BIG_OUT, 1);
        set_mode("bytewise, 1-byte out");
        expect_ok_run(d, in, text, L_BYTES, 0, 1, 1);
        set_mode("bytewise, 3-byte out");
        expect_ok_run(d, in, text, L_BYTES, 0, 3, 0);
    }
    if (in->n <= split_limit) {
        for (size_t at = 0; at <= in->n; at++) {
            set_mode("split in two, big out");
            expect_ok_run(d, in, text, L_SPLIT, at, BIG_OUT, (int)(at & 1));
            if (at % 3 == 0 || in->n < 100) {
                set_mode("split in two, small out");
                expect_ok_run(d, in, text, L_SPLIT, at, 17 * (1 + at / 3 % 7), (int)(at & 2));
            }
            if (at % 7 == 0 || in->n < 100) {
                set_mode("split in two, tiny out");
                expect_ok_run(d, in, text, L_SPLIT, at, 1 + at / 7 % 7, (int)(at & 4));
            }
        }
    }
    for (int rep = 0; rep < 6; rep++) {
        set_mode("random pieces, random out");
        expect_ok_run(d, in, text, L_RANDOM, rep < 3 && in->n <= 8000 ? 9 : 3000, OUT_RANDOM,
                      rep & 1);
    }
    set_mode("");
}

/* A decoder that failed stays failed, and decode_reset() revives it. */
static void check_sticky_then_reset(decoder *d)
{
    size_t used = 99, made = 99;
    uint8_t out[16];
    const uint8_t text[] = "{}";
    CHECK(decode_step(d, text, 2, 1, &used, out, sizeof out, &made) == DECODE_ERROR);
    CHECK(used == 0 && made == 0);
    CHECK(decode_finish(d) == DECODE_ERROR);
    CHECK(decode_error(d)[0] != '\0');
    decode_reset(d);
    CHECK(decode_bytes_in(d) == 0);
    used = made = 99;
    CHECK(decode_step(d, text, 2, 1, &used, out, sizeof out, &made) == DECODE_OK);
    CHECK(used == 2 && made == 2 && memcmp(out, "{}", 2) == 0);
    CHECK(decode_finish(d) == DECODE_OK);
}

typedef struct {
    const vec *text;      /* output must be a prefix of this (NULL: not checked) */
    size_t min_out;       /* at least this much of it must have been delivered */
    uint64_t off_lo, off_hi;
} err_expect;

/* One run that must end in an error: one CHECK per run. */
static void expect_err_run(decoder *d, const vec *in, const err_expect *x, enum layout lay,
                           size_t arg, size_t out_cap, int eager)
{
    run_result r;
    size_t nends;
    size_t *ends = make_ends(lay, arg, in->n, &nends);
    decode_reset(d);
    run(d, in->p, in->n, ends, nends, out_cap, eager, &r);
    int api_ok = r.bad_counts == 0 && !r.runaway;
    int errored = r.step_rc == DECODE_ERROR || (r.finished && r.finish_rc == DECODE_ERROR);
    int message_ok = r.err[0] != '\0' && strchr(r.err, '\n') == NULL;
    int offset_ok = r.err_off >= x->off_lo && r.err_off <= x->off_hi;
    /* Whatever was decoded before the error was delivered, and is right. */
    int text_ok = !x->text || (is_prefix(&r.out, x->text) && r.out.n >= x->min_out);
    int run_ok = api_ok && errored && message_ok && offset_ok && text_ok;
    CHECK(run_ok);
    if (!run_ok && check_printed)
        fprintf(stderr,
                "  api %s%s, errored %d, error \"%s\" at %llu (want %llu..%llu), output %zu "
                "bytes (want a prefix of at least %zu)\n",
                api_ok ? "ok" : "BAD: ", r.bad_what, errored, r.err, (unsigned long long)r.err_off,
                (unsigned long long)x->off_lo, (unsigned long long)x->off_hi, r.out.n,
                x->min_out);
    if (errored)
        check_sticky_then_reset(d);
    vec_free(&r.out);
    free(ends);
}

static void expect_err(decoder *d, const char *name, const vec *in, const err_expect *x,
                       size_t split_limit)
{
    set_case(name);
    set_mode("whole, big out");
    expect_err_run(d, in, x, L_WHOLE, 0, BIG_OUT, 0);
    set_mode("whole, 1-byte out");
    expect_err_run(d, in, x, L_WHOLE, 0, 1, 1);
    set_mode("whole, 5-byte out");
    expect_err_run(d, in, x, L_WHOLE, 0, 5, 0);
    set_mode("bytewise, big out");
    expect_err_run(d, in, x, L_BYTES, 0, BIG_OUT, 1);
    set_mode("bytewise, 2-byte out");
    expect_err_run(d, in, x, L_BYTES, 0, 2, 0);
    if (in->n <= split_limit) {
        for (size_t at = 0; at <= in->n; at += 1 + in->n / 64) {
            set_mode("split in two");
            expect_err_run(d, in, x, L_SPLIT, at, at & 1 ? BIG_OUT : 3, (int)(at & 2));
        }
    }
    set_mode("random pieces, random out");
    expect_err_run(d, in, x, L_RANDOM, 40, OUT_RANDOM, 1);
    set_mode("");
}

/* ---- tests -------------------------------------------------------------- */

static void test_backend(void)
{
    set_case("backend");
    const char *b = decode_inflate_backend();
    CHECK(b != NULL);
    CHECK(b && (strcmp(b, "isal") == 0 || strcmp(b, "zlib") == 0));
#ifdef ORGTRAIL_USE_ISAL
    CHECK(b && strcmp(b, "isal") == 0);
#else
    CHECK(b && strcmp(b, "zlib") == 0);
#endif
}

static void test_tiny_plain(decoder *d)
{
    static const char *const tiny[] = {"", "{", "[]", "{} ", " ", "\n", "x", "ab", "abc",
                                       "(", "P", "((", "\x1f{", "\x1f\x1f"};
    for (size_t i = 0; i < sizeof tiny / sizeof *tiny; i++) {
        vec t = vec_of(tiny[i], strlen(tiny[i]));
        char name[64];
        snprintf(name, sizeof name, "tiny plain #%zu (%zu bytes)", i, t.n);
        expect_ok(d, name, &t, &t, 64);
        vec_free(&t);
    }
    /* A lone 0x1F cannot be a gzip magic: it is plain text and must come
     * through, not vanish. */
    vec one = vec_of("\x1f", 1);
    expect_ok(d, "lone 0x1f", &one, &one, 64);
    vec_free(&one);

    /* Empty input: decode_finish is fine with no step at all. */
    set_case("no input");
    decode_reset(d);
    CHECK(decode_finish(d) == DECODE_OK);
    CHECK(decode_bytes_in(d) == 0);
}

static void test_truncated_magic(decoder *d)
{
    /* Truncation is found at the end of the input, where the offset points. */
    /* "\x1f\x8b" is a gzip magic with nothing after it: truncated. */
    vec gzmagic = vec_of("\x1f\x8b", 2);
    err_expect x = {NULL, 0, 2, 2};
    expect_err(d, "bare gzip magic", &gzmagic, &x, 64);
    vec_free(&gzmagic);

    /* A full gzip header with no deflate data. */
    vec t = {0}, g = {0};
    vec_str(&t, "{\"a\":1}");
    gz(&g, &t);
    vec hdr = vec_of(g.p, 10);
    err_expect xh = {&t, 0, 10, 10};
    expect_err(d, "gzip header only", &hdr, &xh, 64);

    /* A bare zstd magic: a frame that never came. */
    vec zmagic = vec_of("\x28\xb5\x2f\xfd", 4);
    err_expect xz = {NULL, 0, 4, 4};
    expect_err(d, "bare zstd magic", &zmagic, &xz, 64);
    vec_free(&zmagic);
    vec_free(&hdr);
    vec_free(&g);
    vec_free(&t);
}

static void test_plain(decoder *d)
{
    vec t = {0};
    gen_json(&t, 3000);
    expect_ok(d, "plain json", &t, &t, 400);

    /* Plain text holding near-magics that are not magics: 0x1F not followed
     * by 0x8B, '(' 0xB5 not followed by 2F FD, and "µ" (C2 B5) everywhere. */
    vec n = {0};
    for (int i = 0; i < 40; i++) {
        vec_str(&n, "{\"k\":\"\xc2\xb5\"}\x1f{\x1f\x1f");
        vec_add(&n, "(\xb5/\x00(\xb5\x2f(\xb5", 9);
        vec_str(&n, "\xb5\xb5(\xc2\xb5)");
    }
    expect_ok(d, "plain with near-magics", &n, &n, 300);

    /* Plain text whose last bytes are the start of a magic: with final set
     * they are just text. */
    static const char *const tails[] = {"{}\x1f", "{}(", "{}(\xb5", "{}(\xb5/", "{}P*M",
                                        "{}\x50\x2a"};
    for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
        vec tt = vec_of(tails[i], strlen(tails[i]));
        expect_ok(d, "plain ending in a partial magic", &tt, &tt, 64);
        vec_free(&tt);
    }
    vec_free(&n);
    vec_free(&t);
}

static void test_gzip(decoder *d)
{
    vec t = {0}, in = {0};
    gen_json(&t, 1000);
    gz(&in, &t);
    expect_ok(d, "one gzip member", &in, &t, 100000);

    /* Empty member, stored blocks, fixed Huffman, header with FNAME etc. */
    vec empty = {0}, ge = {0};
    gz_member(&ge, "", 0, 6, Z_DEFAULT_STRATEGY, 0);
    expect_ok(d, "empty gzip member", &ge, &empty, 1000);

    vec g0 = {0};
    gz_member(&g0, t.p, t.n, 0, Z_DEFAULT_STRATEGY, 0);
    expect_ok(d, "gzip stored blocks", &g0, &t, 0);

    vec gf = {0};
    gz_member(&gf, t.p, t.n, 9, Z_FIXED, 0);
    expect_ok(d, "gzip fixed huffman", &gf, &t, 0);

    vec gh = {0};
    gz_member(&gh, t.p, t.n, 6, Z_DEFAULT_STRATEGY, HDR_FIELDS);
    expect_ok(d, "gzip header with name, comment, extra", &gh, &t, 1000);

    /* FHCRC: the header's CRC-16 must hold however the header is split. */
    vec gc = {0};
    gz_member(&gc, t.p, t.n, 6, Z_DEFAULT_STRATEGY, HDR_FIELDS | HDR_HCRC);
    expect_ok(d, "gzip header with FHCRC", &gc, &t, 1000);
    vec_free(&gc);

    /* Several members back to back, as `cat a.gz b.gz c.gz` makes. */
    vec all = {0}, cat = {0};
    for (int i = 0; i < 4; i++) {
        vec ti = {0};
        gen_json(&ti, 60 + 80 * (size_t)i);
        gz_member(&cat, ti.p, ti.n, 1 + 3 * (i & 1), Z_DEFAULT_STRATEGY, i == 2 ? HDR_FIELDS : 0);
        vec_vec(&all, &ti);
        vec_free(&ti);
    }
    gz_member(&cat, "", 0, 6, Z_DEFAULT_STRATEGY, 0);
    expect_ok(d, "several gzip members", &cat, &all, 100000);

    /* A big member: many deflate blocks and a full 32 KiB window. */
    vec big = {0}, gbig = {0};
    gen_json(&big, 60000);
    gen_bytes(&big, 20000);
    gz(&gbig, &big);
    expect_ok(d, "big gzip member", &gbig, &big, 0);

    vec_free(&big);
    vec_free(&gbig);
    vec_free(&all);
    vec_free(&cat);
    vec_free(&gh);
    vec_free(&gf);
    vec_free(&g0);
    vec_free(&ge);
    vec_free(&t);
    vec_free(&in);
}

static void test_zstd(decoder *d)
{
    vec t = {0}, in = {0};
    gen_json(&t, 1500);
    zst(&in, &t);
    expect_ok(d, "one zstd frame", &in, &t, 100000);

    vec all = {0}, cat = {0};
    for (int i = 0; i < 4; i++) {
        vec ti = {0};
        gen_json(&ti, 60 + 100 * (size_t)i);
        zst_frame(&cat, ti.p, ti.n, 1 + 5 * (i & 1), i & 1);
        vec_vec(&all, &ti);
        vec_free(&ti);
    }
    zst_frame(&cat, "", 0, 3, 0);
    expect_ok(d, "several zstd frames", &cat, &all, 100000);

    vec big = {0}, zbig = {0};
    gen_json(&big, 60000);
    gen_bytes(&big, 20000);
    zst_frame(&zbig, big.p, big.n, 3, 1);
    expect_ok(d, "big zstd frame", &zbig, &big, 0);

    vec_free(&big);
    vec_free(&zbig);
    vec_free(&all);
    vec_free(&cat);
    vec_free(&t);
    vec_free(&in);
}

static void test_mixed(decoder *d)
{
    vec a = {0}, b = {0}, c = {0}, e = {0};
    gen_json(&a, 300);
    gen_json(&b, 200);
    gen_json(&c, 150);
    gen_json(&e, 150);

    /* gzip + zstd + plain (plain last). */
    vec in = {0}, want = {0};
    gz(&in, &a);
    zst(&in, &b);
    vec_vec(&in, &c);
    vec_vec(&want, &a);
    vec_vec(&want, &b);
    vec_vec(&want, &c);
    expect_ok(d, "gzip + zstd + plain", &in, &want, 100000);
    vec_free(&in);
    vec_free(&want);

    /* plain + gzip: the plain run ends where the magic starts. */
    vec_vec(&in, &c);
    gz(&in, &a);
    vec_vec(&want, &c);
    vec_vec(&want, &a);
    expect_ok(d, "plain + gzip", &in, &want, 100000);
    vec_free(&in);
    vec_free(&want);

    /* plain + zstd + plain + gzip + zstd. */
    vec_vec(&in, &c);
    zst(&in, &a);
    vec_str(&in, "\n");
    vec_vec(&in, &e);
    gz(&in, &b);
    zst(&in, &e);
    vec_vec(&want, &c);
    vec_vec(&want, &a);
    vec_str(&want, "\n");
    vec_vec(&want, &e);
    vec_vec(&want, &b);
    vec_vec(&want, &e);
    expect_ok(d, "plain + zstd + plain + gzip + zstd", &in, &want, 100000);
    vec_free(&in);
    vec_free(&want);

    /* Plain text with near-magics right before a real magic. */
    vec_str(&in, "{\"a\":\"\xc2\xb5\"}\x1f(\xb5");
    vec_vec(&want, &in);
    gz(&in, &a);
    vec_vec(&want, &a);
    expect_ok(d, "near-magics + gzip", &in, &want, 100000);
    vec_free(&in);
    vec_free(&want);

    /* Skippable zstd frames between, before and after members. */
    skippable(&in, 0, "ignored", 7);
    gz(&in, &a);
    skippable(&in, 5, "", 0);
    zst(&in, &b);
    skippable(&in, 15, "\x1f\x8b\x28\xb5\x2f\xfd junk that must not be decoded", 37);
    gz(&in, &c);
    skippable(&in, 1, "tail", 4);
    vec_vec(&want, &a);
    vec_vec(&want, &b);
    vec_vec(&want, &c);
    expect_ok(d, "skippable frames around members", &in, &want, 100000);
    vec_free(&in);
    vec_free(&want);

    /* plain + zstd, the case where a call boundary can fall right after the
     * magic's first byte (0x28, '('): that byte must not be taken as text. */
    vec_vec(&in, &c);
    zst(&in, &a);
    vec_vec(&want, &c);
    vec_vec(&want, &a);
    expect_ok(d, "plain + zstd", &in, &want, 100000);
    vec_free(&in);
    vec_free(&want);

    /* plain + skippable frame + plain: a skippable frame is a zstd magic
     * (decode.h), so it ends the plain run and its payload is dropped. */
    vec_vec(&in, &c);
    skippable(&in, 2, "payload", 7);
    vec_str(&in, "{}\n");
    vec_vec(&want, &c);
    vec_str(&want, "{}\n");
    expect_ok(d, "plain + skippable frame + plain", &in, &want, 0);
    vec_free(&in);
    vec_free(&want);

    /* Compressed members around an empty member, then plain whitespace. */
    zst(&in, &a);
    gz_member(&in, "", 0, 6, Z_DEFAULT_STRATEGY, 0);
    zst_frame(&in, "", 0, 3, 1);
    vec_str(&in, " \n");
    vec_vec(&want, &a);
    vec_str(&want, " \n");
    expect_ok(d, "zstd + empty gzip + empty zstd + whitespace", &in, &want, 100000);

    vec_free(&in);
    vec_free(&want);
    vec_free(&a);
    vec_free(&b);
    vec_free(&c);
    vec_free(&e);
}

static void test_gzip_errors(decoder *d)
{
    vec t = {0}, g = {0};
    gen_json(&t, 600);
    gz(&g, &t);

    /* Truncated member, cut at several points: in the header, in the deflate
     * data, in the trailer. decode_finish reports it; the offset is the end
     * of what was given. */
    size_t cuts[] = {3, 9, 10, 11, g.n / 3, g.n / 2, g.n - 9, g.n - 8, g.n - 5, g.n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        vec cut = vec_of(g.p, cuts[i]);
        /* Once the trailer has started, all of the text has been decoded. */
        size_t min_out = cuts[i] >= g.n - 8 ? t.n : 0;
        err_expect x = {&t, min_out, cuts[i], cuts[i]};
        char name[64];
        snprintf(name, sizeof name, "truncated gzip member (%zu of %zu bytes)", cuts[i], g.n);
        expect_err(d, name, &cut, &x, 400);
        vec_free(&cut);
    }

    /* Flipped CRC and ISIZE bytes: the text decodes in full, then the check
     * fails. */
    for (size_t k = 8; k >= 1; k--) {
        vec bad = vec_of(g.p, g.n);
        bad.p[g.n - k] ^= 0x01;
        err_expect x = {&t, t.n, 0, 0};   /* the member's start */
        expect_err(d, k > 4 ? "flipped CRC byte" : "flipped ISIZE byte", &bad, &x, 0);
        vec_free(&bad);
    }

    /* Corrupt deflate data: the first block claims the reserved type 3. */
    {
        vec bad = vec_of(g.p, g.n);
        bad.p[10] |= 0x06;
        err_expect x = {&t, 0, 0, 0};
        expect_err(d, "reserved deflate block type", &bad, &x, 400);
        vec_free(&bad);
    }
    /* Bytes flipped inside the deflate data (not the last one, whose high
     * bits may be padding): whatever the decoder makes of them, the CRC or
     * the deflate check must catch it. */
    for (size_t pos = 11; pos < g.n - 9; pos += 37) {
        vec bad = vec_of(g.p, g.n);
        bad.p[pos] ^= 0x5A;
        err_expect x = {NULL, 0, 0, 0};
        expect_err(d, "flipped deflate byte", &bad, &x, 0);
        vec_free(&bad);
    }

    /* Corrupt deflate data fed in fixed pieces: however the inflater meets
     * the error, *in_used never exceeds in_len (run() checks every call). */
    {
        vec ct = {0}, cg = {0};
        for (int i = 0; ct.n < 1000; i++) {
            char rec[64];
            int k = snprintf(rec, sizeof rec, "{\"eventName\":\"Create%d\",\"n\":%d}\n",
                             i * 7 % 13, i * i);
            vec_add(&ct, rec, (size_t)k);
        }
        gz(&cg, &ct);
        /* the member's start, or its end when the flip makes it run on */
        err_expect x = {NULL, 0, 0, cg.n};
        set_case("corrupt deflate data in fixed pieces");
        /* (The last deflate byte is left alone: its high bits may be padding.) */
        for (size_t pos = 11; pos < cg.n - 9; pos++) {
            vec bad = vec_of(cg.p, cg.n);
            bad.p[pos] ^= pos & 1 ? 0x01 : 0x80;
            set_mode("16-byte pieces");
            expect_err_run(d, &bad, &x, L_FIXED, 16, 4096, 0);
            set_mode("21-byte pieces");
            expect_err_run(d, &bad, &x, L_FIXED, 21, 2, 1);
            vec_free(&bad);
        }
        set_mode("");
        vec_free(&ct);
        vec_free(&cg);
    }

    /* Junk after a complete member: the member's text is delivered in full,
     * the junk is an error at its own offset, not consumed. */
    {
        vec bad = vec_of(g.p, g.n);
        vec_str(&bad, "XYZ");
        err_expect x = {&t, t.n, g.n, g.n};
        expect_err(d, "junk after gzip member", &bad, &x, 400);
        vec_free(&bad);

        vec bad2 = vec_of(g.p, g.n);
        vec_add(&bad2, "\0\0\0\0\0\0\0\0", 8);
        expect_err(d, "zero padding after gzip member", &bad2, &x, 400);
        vec_free(&bad2);

        /* And once more after a second member. */
        vec two = vec_of(g.p, g.n);
        vec_vec(&two, &g);
        vec_str(&two, "X");
        vec tt = vec_of(t.p, t.n);
        vec_vec(&tt, &t);
        err_expect x2 = {&tt, tt.n, two.n - 1, two.n - 1};
        expect_err(d, "junk after two gzip members", &two, &x2, 0);
        vec_free(&two);
        vec_free(&tt);

        /* A gzip member after zstd, then junk. */
        vec zz = {0};
        zst(&zz, &t);
        size_t zn = zz.n;
        vec_vec(&zz, &g);
        vec_str(&zz, "\x01junk");
        vec ztt = vec_of(t.p, t.n);
        vec_vec(&ztt, &t);
        err_expect x3 = {&ztt, ztt.n, zn + g.n, zn + g.n};
        expect_err(d, "junk after zstd + gzip", &zz, &x3, 0);
        vec_free(&zz);
        vec_free(&ztt);
    }

    /* Text decoded before a bad member is still delivered. */
    {
        vec in = vec_of(t.p, t.n);
        vec bad = vec_of(g.p, g.n);
        bad.p[g.n - 6] ^= 0x80;   /* CRC */
        vec_vec(&in, &bad);
        vec tt = vec_of(t.p, t.n);
        vec_vec(&tt, &t);
        err_expect x = {&tt, t.n, t.n, t.n};
        expect_err(d, "plain then a member with a bad CRC", &in, &x, 0);
        vec_free(&in);
        vec_free(&bad);
        vec_free(&tt);
    }
    vec_free(&t);
    vec_free(&g);
}

static void test_zstd_errors(decoder *d)
{
    vec t = {0}, z = {0};
    gen_json(&t, 600);
    zst_frame(&z, t.p, t.n, 3, 1);
    /* Frame header size, from the frame header descriptor (RFC 8878). */
    uint8_t fhd = z.p[4];
    static const size_t did_size[4] = {0, 1, 2, 4};
    static const size_t fcs_size[4] = {0, 2, 4, 8};
    int single = (fhd >> 5) & 1;
    size_t hdr = 5 + (single ? 0 : 1) + did_size[fhd & 3] +
                 ((fhd >> 6) == 0 ? (size_t)single : fcs_size[fhd >> 6]);
    CHECK(hdr >= 6 && hdr < z.n);

    size_t cuts[] = {4, 5, hdr, hdr + 1, hdr + 3, z.n / 2, z.n - 4, z.n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        vec cut = vec_of(z.p, cuts[i]);
        err_expect x = {&t, 0, cuts[i], cuts[i]};
        char name[64];
        snprintf(name, sizeof name, "truncated zstd frame (%zu of %zu bytes)", cuts[i], z.n);
        expect_err(d, name, &cut, &x, 400);
        vec_free(&cut);
    }

    /* Corrupt blocks or checksum. With the content checksum on, any change
     * past the frame header must be caught one way or another. */
    for (size_t pos = hdr; pos < z.n; pos += 1 + (pos < hdr + 8 ? 0 : 29)) {
        vec bad = vec_of(z.p, z.n);
        bad.p[pos] ^= 0x21;
        err_expect x = {NULL, 0, 0, 0};
        expect_err(d, "corrupt zstd frame", &bad, &x, 0);
        vec_free(&bad);
    }
    /* Checksum byte: all text decoded, then the check fails. */
    {
        vec bad = vec_of(z.p, z.n);
        bad.p[z.n - 2] ^= 0x01;
        err_expect x = {&t, 0, 0, 0};
        expect_err(d, "flipped zstd checksum", &bad, &x, 400);
        vec_free(&bad);
    }
    /* Junk after a complete frame. */
    {
        vec bad = vec_of(z.p, z.n);
        vec_str(&bad, "XYZ");
        err_expect x = {&t, t.n, z.n, z.n};
        expect_err(d, "junk after zstd frame", &bad, &x, 400);
        vec_free(&bad);
    }
    /* A truncated skippable frame. */
    {
        vec sk = {0};
        skippable(&sk, 3, "0123456789", 10);
        sk.n -= 4;
        err_expect x = {&t, 0, sk.n, sk.n};
        expect_err(d, "truncated skippable frame", &sk, &x, 400);
        vec_free(&sk);
    }
    vec_free(&t);
    vec_free(&z);
}

/* decode_bytes_in between calls, and decode_reset in the middle of members. */
static void test_bytes_in_and_reset(decoder *d)
{
    set_case("bytes_in and reset");
    vec t = {0}, g = {0}, z = {0};
    gen_json(&t, 2000);
    gz(&g, &t);
    zst(&z, &t);
    uint8_t *out = malloc(t.n + 16);
    size_t used, made;

    /* One call with all of a gzip member and room for all its text. */
    decode_reset(d);
    CHECK(decode_step(d, g.p, g.n, 1, &used, out, t.n + 16, &made) == DECODE_OK);
    CHECK(used == g.n && made == t.n);
    CHECK(decode_bytes_in(d) == g.n);
    CHECK(decode_finish(d) == DECODE_OK);
    CHECK(decode_bytes_in(d) == g.n);

    /* Half a member, not final: consumed bytes are counted so far. */
    decode_reset(d);
    CHECK(decode_bytes_in(d) == 0);
    CHECK(decode_step(d, g.p, g.n / 2, 0, &used, out, t.n + 16, &made) == DECODE_OK);
    CHECK(used <= g.n / 2 && decode_bytes_in(d) == used);
    CHECK(made < t.n && memcmp(out, t.p, made) == 0);

    /* decode_reset mid-member: the next bytes are a new input. Plain text
     * must come out as is, not be fed to the inflater. */
    decode_reset(d);
    CHECK(decode_bytes_in(d) == 0);
    CHECK(decode_step(d, (const uint8_t *)"{\"x\":1}", 7, 1, &used, out, 64, &made) == DECODE_OK);
    CHECK(used == 7 && made == 7 && memcmp(out, "{\"x\":1}", 7) == 0);
    CHECK(decode_finish(d) == DECODE_OK);
    CHECK(decode_bytes_in(d) == 7);

    /* Reset mid-zstd-frame, then a gzip member. */
    decode_reset(d);
    CHECK(decode_step(d, z.p, z.n / 2, 0, &used, out, t.n + 16, &made) == DECODE_OK);
    decode_reset(d);
    CHECK(decode_step(d, g.p, g.n, 1, &used, out, t.n + 16, &made) == DECODE_OK);
    CHECK(used == g.n && made == t.n && memcmp(out, t.p, t.n) == 0);
    CHECK(decode_finish(d) == DECODE_OK);

    /* Reset mid-gzip-member, then a zstd frame. */
    decode_reset(d);
    CHECK(decode_step(d, g.p, g.n / 2, 0, &used, out, t.n + 16, &made) == DECODE_OK);
    decode_reset(d);
    size_t total_used = 0, total_made = 0;
    for (int i = 0; i < 100 && total_used < z.n; i++) {
        CHECK(decode_step(d, z.p + total_used, z.n - total_used, 1, &used, out + total_made,
                          t.n + 16 - total_made, &made) == DECODE_OK);
        total_used += used;
        total_made += made;
        if (!used && !made)
            break;
    }
    CHECK(total_used == z.n && total_made == t.n && memcmp(out, t.p, t.n) == 0);
    CHECK(decode_finish(d) == DECODE_OK);
    CHECK(decode_bytes_in(d) == z.n);

    /* After an error: junk after a member. bytes_in stops before the junk. */
    vec bad = vec_of(g.p, g.n);
    vec_str(&bad, "XYZ");
    decode_reset(d);
    int rc = decode_step(d, bad.p, bad.n, 1, &used, out, t.n + 16, &made);
    CHECK(rc == DECODE_ERROR);
    CHECK(used == g.n && made == t.n && memcmp(out, t.p, t.n) == 0);
    CHECK(decode_bytes_in(d) == g.n);
    CHECK(decode_error_offset(d) == g.n);
    CHECK(decode_error(d)[0] != '\0');
    check_sticky_then_reset(d);

    /* A fresh decoder reports no error. */
    decoder *f = decode_create();
    CHECK(f != NULL);
    if (f) {
        CHECK(decode_bytes_in(f) == 0);
        CHECK(decode_error(f) != NULL && decode_error(f)[0] == '\0');
        CHECK(decode_finish(f) == DECODE_OK);
        decode_free(f);
    }
    decode_free(NULL);

    free(out);
    vec_free(&bad);
    vec_free(&t);
    vec_free(&g);
    vec_free(&z);
    set_case("");
}

/* decode_find_member: every real member start is found, whatever the
 * header and level; a cut-off header asks for more bytes; lookalikes with
 * reserved flags, an unknown XFL or OS, or another method are passed over. */
static void test_find_member(void)
{
    set_case("find_member");
    set_mode("");
    vec in = { 0 };
    size_t starts[40];
    for (size_t k = 0; k < 40; k++) {
        starts[k] = in.n;
        vec text = { 0 };
        gen_json(&text, 1 + rnd_below(20000));
        gz_member(&in, text.p, text.n, (int)rnd_below(10), Z_DEFAULT_STRATEGY,
                  (int)rnd_below(4));
        vec_free(&text);
    }
    /* walking from each start + 1 reaches the next start, perhaps via lookalikes */
    for (size_t k = 0; k + 1 < 40; k++) {
        size_t from = starts[k] + 1, at, resume = 0;
        while ((at = decode_find_member(in.p, from, in.n, &resume)) < starts[k + 1])
            from = at + 1;
        CHECK(at == starts[k + 1]);
        /* with the buffer ending inside the next header: look again from it */
        for (size_t cut = starts[k + 1]; cut < starts[k + 1] + 10; cut++) {
            CHECK(decode_find_member(in.p, starts[k + 1], cut, &resume) == cut);
            CHECK(resume == starts[k + 1]);
        }
    }
    size_t resume = 0;
    CHECK(decode_find_member(in.p, starts[39] + 1, starts[39] + 1, &resume) == starts[39] + 1);
    CHECK(resume == starts[39] + 1);
    vec_free(&in);

    static const uint8_t good[10] = { 0x1F, 0x8B, 0x08, 0x00, 1, 2, 3, 4, 0x00, 0x03 };
    uint8_t b[32];
    memset(b, 'x', sizeof b);
    memcpy(b + 5, good, 10);
    CHECK(decode_find_member(b, 0, sizeof b, &resume) == 5);
    const struct { size_t at; uint8_t v; } bad[] = {
        { 2, 0x07 },    /* not deflate */
        { 3, 0x20 },    /* a reserved flag */
        { 8, 0x01 },    /* XFL */
        { 9, 0x0E },    /* OS */
        { 1, 0x8C },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(b + 5, good, 10);
        b[5 + bad[i].at] = bad[i].v;
        CHECK(decode_find_member(b, 0, sizeof b, &resume) == sizeof b);
        CHECK(resume == sizeof b);
    }
    memcpy(b + 5, good, 10);
    b[5 + 9] = 0xFF;    /* OS unknown */
    CHECK(decode_find_member(b, 0, sizeof b, &resume) == 5);
}

/* Plain text full of 0xB5 (the second byte of a zstd magic, and of "µ" and
 * much Cyrillic in UTF-8) was quadratic: every 0xB5 made the other marks be
 * looked for again to the end of the input (4 MiB took 7 s). A child decodes
 * 16 MiB under a CPU limit of 10 s, some 500 times what a linear scan
 * needs, in one call and in calls with little output room. */
static void test_plain_full_of_b5_is_linear(void)
{
    set_case("plain text full of 0xB5 is linear");
    size_t n = 16u << 20;
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct rlimit lim = {10, 10};
        setrlimit(RLIMIT_CPU, &lim);
        uint8_t *in = malloc(n), *out = malloc(n);
        if (!in || !out)
            _exit(3);
        static const char unit[] = "\"\xD0\xB5\xC2\xB5\" ";
        for (size_t i = 0; i < n; i++)
            in[i] = (uint8_t)unit[i % (sizeof unit - 1)];
        decoder *d = decode_create();
        for (int pass = 0; pass < 2; pass++) {
            decode_reset(d);
            size_t pos = 0, made_total = 0, room = pass == 0 ? n : 65536;
            while (pos < n) {
                size_t used, made;
                if (decode_step(d, in + pos, n - pos, 1, &used, out + made_total, room, &made) != DECODE_OK)
                    _exit(4);
                if (used == 0 && made == 0)
                    _exit(5);
                pos += used;
                made_total += made;
                if (made_total + room > n)
                    room = n - made_total;
            }
            if (decode_finish(d) != DECODE_OK || made_total != n || memcmp(in, out, n) != 0)
                _exit(6);
        }
        decode_free(d);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    CHECK(ok);
    if (!ok && check_printed)
        fprintf(stderr, "  child %s %d\n", WIFSIGNALED(status) ? "killed by signal" : "exited",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    set_case("");
}

/* One damaged or intact input fed whole and in random pieces (random output
 * room too): the error text and offset must not depend on the cuts, nor
 * must the text of an intact input or of one whose gzip check alone failed.
 * How much of a damaged member's own text comes out before its damage is
 * found still does (inflaters buffer ahead): the text before the member
 * must all come out, and past it one read's text is a prefix of the
 * other's (a damaged member gives nothing but its real text). */
static void expect_split_free(decoder *d, const char *name, const vec *in)
{
    set_case(name);
    size_t nends;
    size_t *ends = make_ends(L_WHOLE, 0, in->n, &nends);
    run_result whole;
    decode_reset(d);
    run(d, in->p, in->n, ends, nends, BIG_OUT, 0, &whole);
    uint64_t whole_start = 0;
    int whole_in_member = decode_member_start(d, &whole_start);
    int damaged = whole.err[0] && whole_in_member && !decode_check_failed(d);
    free(ends);
    for (int rep = 0; rep < 40; rep++) {
        run_result r;
        int big = rep & 1;
        ends = make_ends(L_RANDOM, rep < 20 ? 7 : 300, in->n, &nends);
        decode_reset(d);
        run(d, in->p, in->n, ends, nends, big ? BIG_OUT : OUT_RANDOM, rep & 2, &r);
        uint64_t start = 0;
        int in_member = decode_member_start(d, &start);
        size_t same = first_diff(&r.out, whole.out.p, whole.out.n);
        int text_ok = damaged ? in_member && start == whole_start && r.out.n >= start &&
                                    whole.out.n >= start && (same == r.out.n || same == whole.out.n)
                              : r.out.n == whole.out.n && same == r.out.n;
        int ok = strcmp(r.err, whole.err) == 0 && r.err_off == whole.err_off && text_ok;
        CHECK(ok);
        if (!ok && check_printed)
            fprintf(stderr, "  whole: \"%s\" at %llu, %zu bytes out; cut: \"%s\" at %llu, %zu bytes out, "
                    "%zu the same%s\n", whole.err, (unsigned long long)whole.err_off, whole.out.n, r.err,
                    (unsigned long long)r.err_off, r.out.n, same, damaged ? " (damaged member)" : "");
        vec_free(&r.out);
        free(ends);
    }
    vec_free(&whole.out);
    set_case("");
}

static void test_damage_split_never_changes_result(decoder *d)
{
    vec t = {0}, g = {0}, z = {0};
    gen_json(&t, 3000);
    gz(&g, &t);
    zst_frame(&z, t.p, t.n, 3, 1);
    expect_split_free(d, "split: intact gzip", &g);
    expect_split_free(d, "split: intact zstd", &z);
    expect_split_free(d, "split: plain", &t);
    {
        vec bad = vec_of(g.p, g.n);
        bad.p[g.n - 6] ^= 0x80;
        expect_split_free(d, "split: gzip with a bad CRC", &bad);
        vec_free(&bad);
    }
    for (size_t pos = 11; pos < g.n - 9; pos += 53) {
        vec bad = vec_of(g.p, g.n);
        bad.p[pos] ^= 0x5A;
        expect_split_free(d, "split: gzip with a flipped deflate byte", &bad);
        vec_free(&bad);
    }
    {
        vec cut = vec_of(g.p, g.n / 2);
        expect_split_free(d, "split: truncated gzip", &cut);
        vec_free(&cut);
    }
    for (size_t pos = 8; pos < z.n; pos += 41) {
        vec bad = vec_of(z.p, z.n);
        bad.p[pos] ^= 0x21;
        expect_split_free(d, "split: corrupt zstd", &bad);
        vec_free(&bad);
    }
    {
        /* A frame declaring its content size, the content in a raw block,
         * then an empty raw last block. */
        vec f = {0};
        size_t n = 200;
        vec_add(&f, "\x28\xB5\x2F\xFD", 4);
        vec_add(&f, "\x20", 1);                    /* FHD: single segment, 1-byte FCS */
        uint8_t fcs[1] = {(uint8_t)n};
        vec_add(&f, fcs, 1);
        uint32_t bh = (uint32_t)(n << 3) | 0;      /* raw, not last */
        uint8_t b[3] = {(uint8_t)bh, (uint8_t)(bh >> 8), (uint8_t)(bh >> 16)};
        vec_add(&f, b, 3);
        vec_add(&f, t.p, n);
        vec_add(&f, "\x01\x00\x00", 3);            /* raw, last, empty */
        expect_split_free(d, "split: zstd frame with an empty last block", &f);
        vec_free(&f);
    }
    vec_free(&t);
    vec_free(&g);
    vec_free(&z);
}

/* Appends a gzip member of text whose deflate data was made with dict as a
 * preset dictionary, which gzip has no room for: its back-references into
 * dict reach before the start of the output (damaged deflate data). */
static void gz_member_with_lost_dict(vec *out, const vec *dict, const vec *text)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK ||
        deflateSetDictionary(&z, dict->p, (uInt)dict->n) != Z_OK) {
        fprintf(stderr, "deflateInit2/deflateSetDictionary failed\n");
        exit(2);
    }
    size_t bound = deflateBound(&z, (uLong)text->n) + 64;
    uint8_t *buf = malloc(bound);
    z.next_in = text->p;
    z.avail_in = (uInt)text->n;
    z.next_out = buf;
    z.avail_out = (uInt)bound;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
        fprintf(stderr, "deflate failed\n");
        exit(2);
    }
    static const uint8_t header[10] = {0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3};
    vec_add(out, header, sizeof header);
    vec_add(out, buf, z.total_out);
    uint32_t crc = (uint32_t)crc32(0, text->p, (uInt)text->n), isize = (uint32_t)text->n;
    uint8_t trailer[8] = {(uint8_t)crc,   (uint8_t)(crc >> 8),   (uint8_t)(crc >> 16),   (uint8_t)(crc >> 24),
                          (uint8_t)isize, (uint8_t)(isize >> 8), (uint8_t)(isize >> 16), (uint8_t)(isize >> 24)};
    vec_add(out, trailer, sizeof trailer);
    deflateEnd(&z);
    free(buf);
}

/*
 * A back-reference before the start of the output: ISA-L counted the bytes
 * of the copy it then refused as output, so what stood in the caller's
 * buffer or in ISA-L's own (the previous input's text, after
 * decode_reset) came out before "invalid deflate data". Whatever comes out
 * of a damaged member must be a prefix of its real text, never an old byte.
 */
static void test_gzip_bad_distance_hands_out_old_bytes(decoder *d)
{
    set_case("gzip bad distance hands out old bytes");
    vec dict = {0}, text = {0}, bad = {0}, old_text = {0}, old = {0};
    gen_json(&dict, 2000);
    vec_str(&text, "{\"before\":\"the damage\"}\n");
    vec_vec(&text, &dict);
    gz_member_with_lost_dict(&bad, &dict, &text);
    for (size_t i = 0; i < 70000; i++)
        vec_add(&old_text, "Q", 1);
    gz(&old, &old_text);
    static uint8_t ob[BIG_OUT];
    for (int pass = 0; pass < 6; pass++) {
        decode_reset(d);
        if (pass & 1) {
            /* the previous input: ISA-L's window full of 'Q' */
            size_t pos = 0, made = 0, used = 0, got = 0;
            int rc = DECODE_OK;
            while (rc == DECODE_OK && pos < old.n) {
                rc = decode_step(d, old.p + pos, old.n - pos, 1, &used, ob, 4096, &made);
                pos += used;
                got += made;
            }
            CHECK(rc == DECODE_OK && got == old_text.n);
            decode_reset(d);
        }
        size_t cap = pass < 2 ? sizeof ob : pass < 4 ? 300 : 9;
        vec out = {0};
        size_t pos = 0;
        int rc = DECODE_OK;
        for (int calls = 0; rc == DECODE_OK && calls < 100000; calls++) {
            size_t used = 0, made = 0;
            memset(ob, 'Q', cap);   /* the caller's old output */
            rc = decode_step(d, bad.p + pos, bad.n - pos, 1, &used, ob, cap, &made);
            pos += used;
            vec_add(&out, ob, made);
            if (used == 0 && made == 0)
                break;
        }
        if (rc == DECODE_OK)
            rc = decode_finish(d);
        int ok = rc == DECODE_ERROR && is_prefix(&out, &text);
        CHECK(ok);
        if (!ok && check_printed)
            fprintf(stderr, "  pass %d (%zu-byte out%s): rc %d \"%s\", %zu bytes out, %zu of them the text's\n",
                    pass, cap, pass & 1 ? ", after a previous input" : "", rc, decode_error(d), out.n,
                    first_diff(&out, text.p, text.n));
        vec_free(&out);
    }
    vec_free(&dict);
    vec_free(&text);
    vec_free(&bad);
    vec_free(&old_text);
    vec_free(&old);
    set_case("");
}

/* Decodes in[] whole, then cut at each of cuts[] (two pieces, big output
 * room): the verdict, the error and its offset must be the whole read's,
 * and so must the text when there is no error. */
static void expect_same_when_cut(decoder *d, const char *name, const vec *in, const size_t *cuts,
                                 size_t ncuts)
{
    set_case(name);
    size_t nends;
    size_t *ends = make_ends(L_WHOLE, 0, in->n, &nends);
    run_result whole;
    decode_reset(d);
    run(d, in->p, in->n, ends, nends, BIG_OUT, 0, &whole);
    free(ends);
    int whole_failed = whole.step_rc != DECODE_OK || whole.finish_rc != DECODE_OK;
    for (size_t i = 0; i < ncuts; i++) {
        run_result r;
        ends = make_ends(L_SPLIT, cuts[i], in->n, &nends);
        decode_reset(d);
        run(d, in->p, in->n, ends, nends, BIG_OUT, (int)(i & 1), &r);
        int failed = r.step_rc != DECODE_OK || r.finish_rc != DECODE_OK;
        int ok = failed == whole_failed && strcmp(r.err, whole.err) == 0 && r.err_off == whole.err_off &&
                 (whole_failed || (r.out.n == whole.out.n && first_diff(&r.out, whole.out.p, whole.out.n) == r.out.n));
        CHECK(ok);
        if (!ok && check_printed)
            fprintf(stderr, "  cut at %zu: whole: %s \"%s\" at %llu, %zu bytes out; cut: %s \"%s\" at %llu, %zu bytes out\n",
                    cuts[i], whole_failed ? "error" : "ok", whole.err, (unsigned long long)whole.err_off,
                    whole.out.n, failed ? "error" : "ok", r.err, (unsigned long long)r.err_off, r.out.n);
        vec_free(&r.out);
        free(ends);
    }
    vec_free(&whole.out);
    set_case("");
}

/*
 * A zstd frame header given to libzstd in two calls: once it has the rest,
 * libzstd 1.5's one-pass shortcut took the frame to begin at the second
 * call's input and decoded whatever stood there. A damaged frame whose
 * header bytes after the magic read as a skippable frame (50 2a 4d 18
 * 00 00 00 00) followed by an intact frame was then accepted when cut after
 * the magic, though reading it whole says it is corrupt.
 */
static void test_zstd_damage_accepted_when_split(decoder *d)
{
    vec t = {0}, inner = {0};
    gen_json(&t, 500);
    zst_frame(&inner, t.p, t.n, 3, 1);
    static const uint8_t header_like_skippable[] = {0x28, 0xB5, 0x2F, 0xFD, 0x50, 0x2A, 0x4D, 0x18,
                                                    0x00, 0x00, 0x00, 0x00};
    vec bad = vec_of(header_like_skippable, sizeof header_like_skippable);
    vec_vec(&bad, &inner);
    size_t cuts[] = {4, 5, 6, 7, 8, 9, 12, 20};
    expect_same_when_cut(d, "zstd damage accepted when split: header cut", &bad, cuts, sizeof cuts / sizeof *cuts);
    /* the same after plain text, as the fuzzer found it */
    vec mixed = vec_of("{\"a\":1}\n", 8);
    vec_vec(&mixed, &bad);
    size_t mixed_cuts[] = {8, 12, 13, 14, 16};
    expect_same_when_cut(d, "zstd damage accepted when split: after text", &mixed, mixed_cuts,
                         sizeof mixed_cuts / sizeof *mixed_cuts);
    /* an intact frame cut anywhere in its header still decodes */
    size_t intact_cuts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
    expect_same_when_cut(d, "zstd damage accepted when split: intact frame", &inner, intact_cuts,
                         sizeof intact_cuts / sizeof *intact_cuts);
    /* tests/fuzz/corpus/decode/zstd-truncated-accepted-by-split: text, then
     * a frame whose header reads on as a skippable frame */
    static const uint8_t found[111] = {
        0x1f, 0x75, 0x9a, 0xee, 0x57, 0xa4, 0xb2, 0x2a, 0x0a, 0x9a, 0x67, 0x18, 0x18, 0x18, 0x18, 0x18,
        0x18, 0x18, 0x0d, 0x61, 0x74, 0x29, 0xfa, 0x18, 0x7e, 0x59, 0x33, 0x9e, 0x70, 0x29, 0xf9, 0x6c,
        0xb4, 0xbc, 0x54, 0x66, 0x38, 0x2f, 0x75, 0xf7, 0xfd, 0xfd, 0x00, 0x00, 0x00, 0x23, 0x00, 0x40,
        0x00, 0x9f, 0x0a, 0x00, 0x6f, 0xdb, 0x30, 0x28, 0xb5, 0x2f, 0xfd, 0x50, 0x2a, 0x4d, 0x18, 0x00,
        0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x0f, 0x3a, 0x57, 0x64, 0xe4, 0x27, 0xd8, 0xd8, 0xd8,
        0xd8, 0xd8, 0xd8, 0x00, 0x27, 0x68, 0x8f, 0xd7, 0x37, 0x39, 0xaf, 0x4a, 0xb9, 0x6c, 0xf7, 0x65,
        0xaf, 0xff, 0x67, 0x8f, 0x19, 0xec, 0x7f, 0x00, 0x00, 0x7d, 0xb4, 0x4d, 0x6f, 0xdb, 0x00,
    };
    vec f = vec_of(found, sizeof found);
    size_t found_cuts[] = {55, 59, 60, 63};
    expect_same_when_cut(d, "zstd damage accepted when split: fuzzer input", &f, found_cuts,
                         sizeof found_cuts / sizeof *found_cuts);
    vec_free(&f);
    vec_free(&mixed);
    vec_free(&bad);
    vec_free(&inner);
    vec_free(&t);
}

/*
 * libzstd's streaming path checks a frame's declared content size at the
 * end of its last block, except when that block is empty; its one-pass
 * path, which a frame read whole in one call took, always does. A frame
 * declaring more content than it holds, ended by an empty last block, was
 * corrupt when read whole and intact when read in pieces
 * (tests/fuzz/crashes/scan/zstd-corruption-missed-by-split).
 */
static void test_zstd_missing_content_accepted_when_split(decoder *d)
{
    vec t = {0};
    gen_json(&t, 300);
    for (size_t held = 0; held <= 150; held += 150) {
        vec f = {0};
        vec_add(&f, "\x28\xB5\x2F\xFD", 4);
        vec_add(&f, "\x20", 1);                    /* FHD: single segment, 1-byte FCS */
        vec_add(&f, "\xC8", 1);                    /* declares 200 bytes */
        if (held) {
            uint32_t bh = (uint32_t)(held << 3);   /* raw, not last */
            uint8_t b[3] = {(uint8_t)bh, (uint8_t)(bh >> 8), (uint8_t)(bh >> 16)};
            vec_add(&f, b, 3);
            vec_add(&f, t.p, held);
        }
        vec_add(&f, "\x01\x00\x00", 3);            /* raw, last, empty */
        err_expect x = {&t, 0, 0, 0};
        expect_err(d, held ? "zstd frame holding 150 of its declared 200 bytes"
                           : "zstd frame holding none of its declared 200 bytes", &f, &x, 400);
        size_t cuts[] = {1, 4, 5, 6, 7, 8, 9, f.n - 3, f.n - 1};
        expect_same_when_cut(d, "zstd missing content accepted when split", &f, cuts, sizeof cuts / sizeof *cuts);
        vec_free(&f);
    }
    vec_free(&t);
}

int main(void)
{
    decoder *d = decode_create();
    CHECK(d != NULL);
    if (!d) {
        return check_summary();
    }
    test_backend();
    test_tiny_plain(d);
    test_truncated_magic(d);
    test_plain(d);
    test_gzip(d);
    test_zstd(d);
    test_mixed(d);
    test_gzip_errors(d);
    test_zstd_errors(d);
    test_bytes_in_and_reset(d);
    test_find_member();
    test_plain_full_of_b5_is_linear();
    test_damage_split_never_changes_result(d);
    test_zstd_damage_accepted_when_split(d);
    test_gzip_bad_distance_hands_out_old_bytes(d);
    test_zstd_missing_content_accepted_when_split(d);
    decode_free(d);

    return check_summary();
}
