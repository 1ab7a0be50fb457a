#include "stdin_cut.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "util.h"

#define MEMBER_MIN 20                   /* the shortest gzip member: header, empty deflate, trailer */

struct stdin_cut {
    ot_buf b;               /* bytes read; those not yet in a part: [start, b.len) */
    size_t part_size;
    size_t start;
    size_t look_from;       /* no member start before this */
    size_t last_member;     /* the last member start found, >= start */
    uint64_t isize_sum;     /* ISIZE of the members in [start, last_member) */
    uint64_t in_offset;     /* stdin offset of buf[start] */
    uint64_t out_guess;     /* decoded offset of buf[start], from the members' ISIZE */
    int eof;
    int read_error;
    uint64_t read_offset;
    stdin_part_fn yield;
    void *ctx;
};

void stdin_cut_free(stdin_cut *c)
{
    if (!c)
        return;
    buf_free(&c->b);
    free(c);
}

/* Makes room for `want` more bytes at the end of the cutter's buffer. */
static int cut_make_room(stdin_cut *c, size_t want)
{
    if (c->b.cap - c->b.len < want && c->start > 0) {
        memmove(c->b.data, c->b.data + c->start, c->b.len - c->start);
        c->b.len -= c->start;
        c->look_from = c->look_from > c->start ? c->look_from - c->start : 0;
        c->last_member -= c->start;
        c->start = 0;
    }
    return buf_reserve(&c->b, want);
}

stdin_cut *stdin_cut_create(const uint8_t *first, size_t n, size_t part_size, stdin_part_fn yield, void *ctx)
{
    size_t unused;
    if (!part_size || n < 10 || decode_find_member(first, 0, n, &unused) != 0)
        return NULL;
    stdin_cut *c = calloc(1, sizeof *c);
    if (!c || cut_make_room(c, n)) {
        stdin_cut_free(c);
        return NULL;
    }
    memcpy(c->b.data, first, n);
    c->b.len = n;
    c->part_size = part_size;
    c->yield = yield;
    c->ctx = ctx;
    return c;
}

static uint32_t le32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Yields buf[start, end) as the next part. Returns 0, or 1 when the
 * callback had no room. */
static int cut_part(stdin_cut *c, size_t end, int last, int tail)
{
    size_t n = end - c->start;
    stdin_part part = { (const uint8_t *)c->b.data + c->start, n, { c->in_offset, c->out_guess, 0 },
                        last, tail, last && !tail ? c->read_error : 0, c->read_offset };
    if (c->yield(c->ctx, &part))
        return 1;
    c->out_guess += c->isize_sum;
    c->isize_sum = 0;
    c->in_offset += n;
    c->start = c->last_member = end;
    return 0;
}

enum stdin_cut_state stdin_cut_advance(stdin_cut *c)
{
    for (;;) {
        if (c->last_member > c->start && c->last_member - c->start >= c->part_size) {
            if (cut_part(c, c->last_member, 0, 0))
                return STDIN_CUT_BLOCKED;
            continue;
        }
        size_t from = c->last_member + MEMBER_MIN;
        if (c->look_from > from)
            from = c->look_from;
        size_t at = decode_find_member((uint8_t *)c->b.data, from, c->b.len, &c->look_from);
        if (at < c->b.len) {
            c->isize_sum += le32((uint8_t *)c->b.data + at - 4);   /* the ISIZE of the member before */
            c->last_member = at;
            continue;
        }
        if (c->eof)
            return cut_part(c, c->b.len, 1, 0) ? STDIN_CUT_BLOCKED : STDIN_CUT_DONE;
        if (c->b.len - c->last_member <= STDIN_CUT_PART_MAX)
            return STDIN_CUT_WANTS_BYTES;
        /* a long member: the rest is the tail */
        return cut_part(c, c->b.len, 1, 1) ? STDIN_CUT_BLOCKED : STDIN_CUT_DONE;
    }
}

size_t stdin_cut_unparted(const stdin_cut *c)
{
    return c->b.len - c->start;
}

int stdin_cut_at_end(const stdin_cut *c)
{
    return c->eof;
}

void stdin_cut_read(stdin_cut *c, int res)
{
    if (c->eof)
        return;
    if (res > 0) {
        c->b.len += (size_t)res;
        return;
    }
    c->eof = 1;
    c->read_error = res;
    c->read_offset = c->in_offset + (c->b.len - c->start);
}

uint8_t *stdin_cut_space(stdin_cut *c, size_t want)
{
    if (cut_make_room(c, want)) {
        stdin_cut_read(c, -ENOMEM);
        return NULL;
    }
    return (uint8_t *)c->b.data + c->b.len;
}
