/* stdin_cut: the cutter alone, fed like the reader feeds it, its parts
 * taken by a callback that keeps them (or says it has no room). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "stdin_cut.h"

#define MAX_PARTS 64

typedef struct {
    stdin_part part[MAX_PARTS];   /* data copied into kept */
    uint8_t *kept;
    size_t kept_len;
    int n;
    int refuse;                   /* say "no room" this many times */
} taker;

static int take(void *ctx, const stdin_part *part)
{
    taker *t = ctx;
    if (t->refuse > 0) {
        t->refuse--;
        return 1;
    }
    if (t->n == MAX_PARTS)
        return 1;
    t->kept = realloc(t->kept, t->kept_len + part->len + 1);
    memcpy(t->kept + t->kept_len, part->data, part->len);
    t->part[t->n] = *part;
    t->part[t->n].data = NULL;    /* valid during the call only */
    t->kept_len += part->len;
    t->n++;
    return 0;
}

/* One gzip member of n bytes of text, or of noise (stored blocks; no 0x1f
 * byte in it, so nothing there looks like a member's start). */
static size_t gzip_member(uint8_t *out, size_t cap, size_t n, int noise, uint64_t *seed)
{
    uint8_t *in = malloc(n);
    for (size_t i = 0; i < n; i++)
        in[i] = noise ? (uint8_t)(check_rand(seed) % 0x1f) : (uint8_t)("{\"eventName\":\"CloseAccount\"}\n"[i % 29]);
    z_stream z = { 0 };
    deflateInit2(&z, noise ? 0 : 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);   /* noise: stored as it is */
    z.next_in = in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    free(in);
    return len;
}

/* Feeds buf to a cutter in reads of `step` bytes, the first read given to
 * create; ends with end_res (0, or -errno). */
static stdin_cut *feed(const uint8_t *buf, size_t len, size_t step, size_t part_size, taker *t, int end_res,
                       enum stdin_cut_state *last_state)
{
    stdin_cut *c = stdin_cut_create(buf, step < len ? step : len, part_size, take, t);
    if (!c)
        return NULL;
    size_t at = step < len ? step : len;
    enum stdin_cut_state st;
    for (;;) {
        st = stdin_cut_advance(c);
        while (st == STDIN_CUT_BLOCKED)
            st = stdin_cut_advance(c);     /* the taker makes room by itself */
        if (st == STDIN_CUT_DONE)
            break;
        size_t n = len - at < step ? len - at : step;
        uint8_t *space = stdin_cut_space(c, step);
        CHECK(space != NULL);
        memcpy(space, buf + at, n);
        stdin_cut_read(c, n ? (int)n : end_res);
        at += n;
    }
    *last_state = st;
    return c;
}

static void test_parts_at_members(void)
{
    check_context = "parts at members";
    uint64_t seed = 7;
    size_t cap = 1 << 20, len = 0, isize[10], starts[10];
    uint8_t *buf = malloc(cap);
    for (int m = 0; m < 10; m++) {
        starts[m] = len;
        isize[m] = 3000 + (size_t)m * 100;
        len += gzip_member(buf + len, cap - len, isize[m], m % 3 == 0, &seed);
    }
    taker t = { .refuse = 2 };          /* the first part is refused twice: it comes again */
    enum stdin_cut_state st;
    stdin_cut *c = feed(buf, len, 1000, 2500, &t, 0, &st);
    CHECK(c != NULL);
    CHECK(st == STDIN_CUT_DONE);
    CHECK(t.n >= 2);
    CHECK(t.kept_len == len && memcmp(t.kept, buf, len) == 0);   /* every byte, once, in order */
    uint64_t in = 0;
    for (int i = 0; i < t.n; i++) {
        const stdin_part *p = &t.part[i];
        CHECK(p->at.in_offset == in);
        int at_member = 0;
        uint64_t out = 0;
        for (int m = 0; m < 10; m++) {
            if (starts[m] == p->at.in_offset)
                at_member = 1;
            if (starts[m] < p->at.in_offset)
                out += isize[m];
        }
        CHECK(at_member);
        CHECK(p->at.out_offset == out);   /* decoded bytes before it, from the trailers */
        CHECK(p->last == (i == t.n - 1));
        CHECK(!p->tail);
        CHECK(p->read_error == 0);
        CHECK(i == t.n - 1 || p->len >= 2500);
        in += p->len;
    }
    CHECK(stdin_cut_unparted(c) == 0);
    CHECK(stdin_cut_at_end(c));
    stdin_cut_free(c);
    free(t.kept);
    free(buf);
}

static void test_read_error_in_last_part(void)
{
    check_context = "read error";
    uint64_t seed = 9;
    size_t cap = 1 << 16;
    uint8_t *buf = malloc(cap);
    size_t len = gzip_member(buf, cap, 4000, 0, &seed);
    len += gzip_member(buf + len, cap - len, 4000, 0, &seed);
    taker t = { 0 };
    enum stdin_cut_state st;
    stdin_cut *c = feed(buf, len, 100, 1 << 20, &t, -EIO, &st);
    CHECK(st == STDIN_CUT_DONE);
    CHECK(t.n == 1);
    CHECK(t.part[0].last && t.part[0].read_error == -EIO);
    CHECK(t.part[0].read_offset == len);       /* where stdin failed */
    stdin_cut_read(c, 5);                      /* after the end: ignored */
    CHECK(stdin_cut_unparted(c) == 0);
    stdin_cut_free(c);
    free(t.kept);
    free(buf);
}

static void test_long_member_is_the_tail(void)
{
    check_context = "long member";
    uint64_t seed = 11;
    size_t cap = 8u << 20, len;
    uint8_t *buf = malloc(cap);
    len = gzip_member(buf, cap, 2000, 1, &seed);   /* longer than the part size */
    size_t second = len;
    len += gzip_member(buf + len, cap - len, STDIN_CUT_PART_MAX + (1u << 20), 1, &seed);   /* noise: as long */
    taker t = { 0 };
    enum stdin_cut_state st;
    stdin_cut *c = feed(buf, len, 1 << 16, 1000, &t, 0, &st);
    CHECK(st == STDIN_CUT_DONE);
    CHECK(t.n == 2);
    if (t.n != 2)
        fprintf(stderr, "  %d parts\n", t.n);
    CHECK(t.part[0].len == second && !t.part[0].last);
    CHECK(t.part[1].tail && t.part[1].last);
    CHECK(t.part[1].at.in_offset == second);
    CHECK(t.part[1].len > STDIN_CUT_PART_MAX && t.part[1].len < len - second);   /* the rest is read on */
    stdin_cut_free(c);
    free(t.kept);
    free(buf);
}

static void test_not_cut(void)
{
    check_context = "not cut";
    taker t = { 0 };
    uint8_t gz[64];
    uint64_t seed = 3;
    size_t n = gzip_member(gz, sizeof gz, 10, 0, &seed);
    CHECK(stdin_cut_create((const uint8_t *)"{\"Records\":[]}", 14, 1000, take, &t) == NULL);   /* not gzip */
    CHECK(stdin_cut_create(gz, n, 0, take, &t) == NULL);                                   /* no --part-size */
    CHECK(stdin_cut_create(gz, 5, 1000, take, &t) == NULL);                                /* too short to tell */
    stdin_cut_free(NULL);
}

int main(void)
{
    test_parts_at_members();
    test_read_error_in_last_part();
    test_long_member_is_the_tail();
    test_not_cut();
    return check_summary();
}
