#include "frame.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define KIND_BITS 64   /* bracket kinds remembered for mismatch checks */

struct framer {
    /* lexical state: the one bit each that simdjson's stage 1 carries */
    uint64_t pos;            /* stream offset of the next byte to scan */
    int in_string;
    int escaped;             /* the byte at pos is escaped by a backslash */

    /* bracket nesting */
    uint32_t depth;
    uint64_t is_array;       /* bit d: the container opened at depth d is an array */

    /* the current top-level value */
    uint64_t doc_start;
    int doc_is_array;
    int docs_seen;
    uint64_t gap_from;       /* at depth 0, bytes from here on must be blank */
    int in_container;        /* inside a Records / Events / logEvents array */
    enum parse_kind container_kind;

    /* the record being framed */
    int rec_open;
    uint32_t rec_depth;
    uint64_t rec_start;
    enum parse_kind rec_kind;

    /* the bytes after a record that is an array element, up to the next
     * bracket at the array's level: blanks and exactly one ',' before
     * another element, none before the ']' */
    int sep_open;
    int sep_other;           /* a byte that is neither: some other value, not judged */
    uint32_t sep_commas;
    uint64_t sep_from;       /* stream offset of the gap's next unchecked byte */

    size_t max_record;
    enum frame_impl impl;
    uint64_t error_offset;
    char error[160];
    int error_too_long;      /* the error is a record over max_record */
    char warning[160];       /* the first fault that does not stop framing, or "" */
    uint64_t warning_offset;
};

framer *frame_create(size_t max_record)
{
    framer *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->max_record = max_record;
    frame_reset(f);
    return f;
}

void frame_free(framer *f)
{
    free(f);
}

void frame_reset(framer *f)
{
    size_t max_record = f->max_record;
    enum frame_impl impl = f->impl;
    memset(f, 0, sizeof *f);
    f->max_record = max_record;
    f->impl = impl;
}

void frame_reset_at(framer *f, uint64_t pos, int docs_seen)
{
    frame_reset(f);
    f->pos = pos;
    f->gap_from = pos;
    f->docs_seen = docs_seen;
}

int frame_docs_seen(const framer *f)
{
    return f->docs_seen;
}

void frame_set_impl(framer *f, enum frame_impl impl)
{
    f->impl = impl;
}

uint64_t frame_position(const framer *f)
{
    return f->pos;
}

uint64_t frame_keep_from(const framer *f)
{
    return f->rec_open ? f->rec_start : f->pos;
}

const char *frame_error(const framer *f)
{
    return f->error;
}

int frame_error_too_long(const framer *f)
{
    return f->error_too_long;
}

const char *frame_warning(const framer *f, uint64_t *offset)
{
    *offset = f->warning_offset;
    return f->warning[0] ? f->warning : NULL;
}

uint64_t frame_error_offset(const framer *f)
{
    return f->error_offset;
}

void frame_records_free(frame_records *r)
{
    free(r->recs);
    r->recs = NULL;
    r->len = r->cap = 0;
}

static int fail_too_long(framer *f);

/* The input's first fault, in byte order. A fault inside an open record
 * past its max_record'th byte comes after the record went over the limit:
 * that is the fault then. How far the framer saw depends on the reads (a
 * damaged gzip member gives more or less of its text before the damage is
 * found), so without this a record over the limit was named with one read
 * and a later mismatched bracket with another. */
static int fail(framer *f, uint64_t offset, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(framer *f, uint64_t offset, const char *fmt, ...)
{
    if (f->rec_open && !f->error_too_long && offset >= f->rec_start && offset - f->rec_start >= f->max_record)
        return fail_too_long(f);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->error, sizeof f->error, fmt, ap);
    va_end(ap);
    f->error_offset = offset;
    return -1;
}

/* A record over max_record, said alike whether its end was in sight yet
 * or not: how the input was read must not change the line. */
static int fail_too_long(framer *f)
{
    f->error_too_long = 1;
    return fail(f, f->rec_start, "record is over --max-record (%zu bytes)", f->max_record);
}

static int is_blank(uint8_t c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Checks that buf[from..to) (indexes into buf) is blank at depth 0. */
static int check_gap(framer *f, const uint8_t *buf, uint64_t base, size_t from, size_t to)
{
    for (size_t j = from; j < to; j++) {
        if (is_blank(buf[j]))
            continue;
        if (!f->docs_seen)
            return fail(f, base + j, "not JSON (first byte 0x%02x, expected '{' or '[')", buf[j]);
        return fail(f, base + j, "unexpected byte 0x%02x between JSON values", buf[j]);
    }
    return 0;
}

static size_t gap_index(const framer *f, uint64_t base)
{
    return f->gap_from > base ? (size_t)(f->gap_from - base) : 0;
}

/*
 * The '[' at buf[i] opens an array inside a top-level object. Returns the
 * record kind when its key is one whose elements are records, else -1. The
 * '[' is known to be outside strings, so the key is the string token just
 * before ':'; an escaped quote before it means it is the tail of another key.
 */
static int container_key(const uint8_t *buf, size_t i)
{
    static const struct { const char *key; size_t len; enum parse_kind kind; } keys[] = {
        { "Records", 7, PARSE_KIND_EVENT },
        { "Events", 6, PARSE_KIND_WRAPPED },
        { "logEvents", 9, PARSE_KIND_WRAPPED },
    };
    size_t j = i;
    while (j > 0 && is_blank(buf[j - 1]))
        j--;
    if (j == 0 || buf[j - 1] != ':')
        return -1;
    j--;
    while (j > 0 && is_blank(buf[j - 1]))
        j--;
    if (j == 0 || buf[j - 1] != '"')
        return -1;
    size_t close_quote = j - 1;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        size_t len = keys[k].len;
        if (close_quote < len + 2)
            continue;
        size_t open_quote = close_quote - len - 1;
        uint8_t before = buf[open_quote - 1];
        if (buf[open_quote] == '"' && memcmp(buf + open_quote + 1, keys[k].key, len) == 0 &&
            (before == '{' || before == ',' || is_blank(before)))
            return (int)keys[k].kind;
    }
    return -1;
}

static int emit_record(framer *f, uint64_t end, frame_records *out)
{
    f->rec_open = 0;
    if (end - f->rec_start > f->max_record)
        return fail_too_long(f);
    if (ot_grow(&out->recs, &out->cap, out->len, sizeof *out->recs, 64))
        return -ENOMEM;
    out->recs[out->len++] = (frame_record){ f->rec_start, end, f->rec_kind };
    return 0;
}

static void open_record(framer *f, uint64_t at, enum parse_kind kind)
{
    f->rec_open = 1;
    f->rec_depth = f->depth;
    f->rec_start = at;
    f->rec_kind = kind;
}

/* Counts the separators in buf[sep_from - base, to). */
static void sep_scan(framer *f, const uint8_t *buf, uint64_t base, size_t to)
{
    size_t j = f->sep_from > base ? (size_t)(f->sep_from - base) : 0;
    for (; j < to && !f->sep_other; j++) {
        if (buf[j] == ',')
            f->sep_commas++;
        else if (!is_blank(buf[j]))
            f->sep_other = 1;
    }
    f->sep_from = base + to;
}

/* The bracket at buf[i] ends the gap after an array element record: were
 * the two separated by one comma (jq and every JSON parser insist)? */
static void sep_close(framer *f, const uint8_t *buf, uint64_t base, size_t i)
{
    sep_scan(f, buf, base, i);
    f->sep_open = 0;
    if (f->sep_other)
        return;
    int opens = buf[i] == '{' || buf[i] == '[';
    /* The records on both sides are whole all the same: say so once, and
     * frame on, so that no record after the fault is lost. */
    if (f->warning[0])
        return;
    if (opens && f->sep_commas == 0)
        snprintf(f->warning, sizeof f->warning, "missing ',' between array elements (before '%c')", buf[i]);
    else if (opens && f->sep_commas > 1)
        snprintf(f->warning, sizeof f->warning, "%u commas between array elements (before '%c')", f->sep_commas,
                 buf[i]);
    else if (!opens && f->sep_commas > 0)
        snprintf(f->warning, sizeof f->warning, "',' before the array's closing '%c'", buf[i]);
    f->warning_offset = base + i;
}

/* One structural bracket outside strings, at buf[i]. */
static int on_bracket(framer *f, const uint8_t *buf, uint64_t base, size_t i, frame_records *out)
{
    uint8_t c = buf[i];
    uint64_t at = base + i;
    int opens = c == '{' || c == '[';

    /* the gap is open at the array's level, so this bracket is at it */
    if (f->sep_open)
        sep_close(f, buf, base, i);

    if (opens) {
        if (f->depth == 0) {
            if (check_gap(f, buf, base, gap_index(f, base), i))
                return -1;
            f->doc_start = at;
            f->doc_is_array = c == '[';
            f->docs_seen = 1;
            f->in_container = 0;
            if (c == '{')
                open_record(f, at, PARSE_KIND_EVENT);
        } else if (f->depth == 1) {
            if (f->doc_is_array) {
                if (c == '{')
                    open_record(f, at, PARSE_KIND_EVENT);
            } else if (c == '[' && f->rec_open && f->rec_depth == 0) {
                int kind = container_key(buf, i);
                if (kind >= 0) {
                    /* a container, but only once its key came: a document
                     * longer than max_record before it went over the limit
                     * first, as a window ending before the key says */
                    if (at - f->rec_start >= f->max_record)
                        return fail_too_long(f);
                    f->rec_open = 0;          /* the document is a container, not an event */
                    f->in_container = 1;
                    f->container_kind = (enum parse_kind)kind;
                }
            }
        } else if (f->depth == 2 && f->in_container && c == '{') {
            open_record(f, at, f->container_kind);
        }
        if (f->depth < KIND_BITS) {
            uint64_t bit = 1ULL << f->depth;
            f->is_array = c == '[' ? f->is_array | bit : f->is_array & ~bit;
        }
        f->depth++;
        return 0;
    }

    if (f->depth == 0) {
        if (check_gap(f, buf, base, gap_index(f, base), i))
            return -1;      /* junk before the stray bracket is the first problem */
        return fail(f, at, "unexpected '%c' outside any JSON object or array", c);
    }
    f->depth--;
    if (f->depth < KIND_BITS) {
        uint8_t want = (f->is_array >> f->depth) & 1 ? ']' : '}';
        if (c != want)
            return fail(f, at, "mismatched '%c' (expected '%c')", c, want);
    }
    if (f->rec_open && f->depth == f->rec_depth) {
        int rc = emit_record(f, at + 1, out);
        if (rc)
            return rc;
        if (f->depth > 0) {       /* an array element: a separator must follow */
            f->sep_open = 1;
            f->sep_other = 0;
            f->sep_commas = 0;
            f->sep_from = at + 1;
        }
    }
    if (f->depth == 1)
        f->in_container = 0;
    if (f->depth == 0)
        f->gap_from = at + 1;
    return 0;
}

/*
 * The common case, inline: a bracket deep inside a record (depth 3 and more)
 * changes nothing but the depth. Returns 1 when it handled the bracket.
 * Mismatched closes go the slow way, which reports them.
 */
static inline int plain_bracket(framer *f, uint8_t c)
{
    uint32_t d = f->depth;
    if (c == '{' || c == '[') {
        if (d < 3 || d >= KIND_BITS)
            return 0;
        f->is_array = c == '[' ? f->is_array | 1ULL << d : f->is_array & ~(1ULL << d);
        f->depth = d + 1;
        return 1;
    }
    if (d < 4 || d > KIND_BITS || ((f->is_array >> (d - 1)) & 1) != (c == ']'))
        return 0;
    f->depth = d - 1;
    return 1;
}

/* Byte at a time; the reference the vector path must agree with. */
static int scan_scalar(framer *f, const uint8_t *buf, uint64_t base, size_t from, size_t to,
                       frame_records *out)
{
    for (size_t i = from; i < to; i++) {
        uint8_t c = buf[i];
        int escaped = f->escaped;
        f->escaped = c == '\\' && !escaped;
        if (c == '"' && !escaped) {
            f->in_string = !f->in_string;
        } else if (!f->in_string && (c == '{' || c == '}' || c == '[' || c == ']')) {
            f->pos = base + i + 1;
            int rc = on_bracket(f, buf, base, i, out);
            if (rc)
                return rc;
        }
    }
    f->pos = base + to;
    return 0;
}

#if defined(__x86_64__)
#include <immintrin.h>

/* Bits of the bytes that follow an odd run of backslashes (simdjson). */
static inline uint64_t find_escaped(uint64_t backslash, uint64_t *prev_escaped)
{
    backslash &= ~*prev_escaped;
    uint64_t follows_escape = backslash << 1 | *prev_escaped;
    const uint64_t even_bits = 0x5555555555555555ULL;
    uint64_t odd_sequence_starts = backslash & ~even_bits & ~follows_escape;
    unsigned long long sequences_starting_on_even_bits;
    *prev_escaped = __builtin_uaddll_overflow(odd_sequence_starts, backslash, &sequences_starting_on_even_bits);
    uint64_t invert_mask = sequences_starting_on_even_bits << 1;
    return (even_bits ^ invert_mask) & follows_escape;
}

/* Bit i = the xor of bits 0..i: inside-string from quote positions. */
__attribute__((target("pclmul,sse2"))) static inline uint64_t prefix_xor_clmul(uint64_t x)
{
    __m128i v = _mm_clmulepi64_si128(_mm_set_epi64x(0, (long long)x), _mm_set1_epi8((char)0xFF), 0);
    return (uint64_t)_mm_cvtsi128_si64(v);
}

static inline uint64_t prefix_xor(uint64_t x)
{
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

/* The masks of one 64-byte block. '[' | 0x20 == '{' and ']' | 0x20 == '}'. */
typedef struct {
    uint64_t backslash, quote, bracket;
} block_masks;

static inline block_masks masks_sse2(const uint8_t *p)
{
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
    const __m128i lower = _mm_set1_epi8(0x20), open = _mm_set1_epi8('{'), close = _mm_set1_epi8('}');
    block_masks m = { 0, 0, 0 };
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k));
        __m128i l = _mm_or_si128(v, lower);
        m.backslash |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, backslash)) << (16 * k);
        m.quote |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) << (16 * k);
        m.bracket |= (uint64_t)(uint32_t)_mm_movemask_epi8(
                         _mm_or_si128(_mm_cmpeq_epi8(l, open), _mm_cmpeq_epi8(l, close))) << (16 * k);
    }
    return m;
}

__attribute__((target("avx2"))) static inline block_masks masks_avx2(const uint8_t *p)
{
    const __m256i quote = _mm256_set1_epi8('"'), backslash = _mm256_set1_epi8('\\');
    const __m256i lower = _mm256_set1_epi8(0x20), open = _mm256_set1_epi8('{'), close = _mm256_set1_epi8('}');
    block_masks m = { 0, 0, 0 };
    for (int k = 0; k < 2; k++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(p + 32 * k));
        __m256i l = _mm256_or_si256(v, lower);
        m.backslash |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, backslash)) << (32 * k);
        m.quote |= (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, quote)) << (32 * k);
        m.bracket |= (uint64_t)(uint32_t)_mm256_movemask_epi8(
                         _mm256_or_si256(_mm256_cmpeq_epi8(l, open), _mm256_cmpeq_epi8(l, close))) << (32 * k);
    }
    return m;
}

/* 64 bytes at a time (simdjson's stage 1, only what framing needs): the
 * brackets outside strings, visited in order. Stops at `until` once no
 * record is open. The tail of fewer than 64 bytes goes byte by byte. */
#define SCAN_VECTOR_BODY(MASKS, PREFIX_XOR)                                           \
    uint64_t prev_escaped = (uint64_t)f->escaped;                                     \
    uint64_t prev_in_string = f->in_string ? ~0ULL : 0;                               \
    size_t i = from;                                                                  \
    for (; i + 64 <= to; i += 64) {                                                   \
        if (base + i >= until && !f->rec_open)                                        \
            break;                                                                    \
        block_masks m = MASKS(buf + i);                                               \
        uint64_t escaped = find_escaped(m.backslash, &prev_escaped);                  \
        uint64_t in_string = PREFIX_XOR(m.quote & ~escaped) ^ prev_in_string;         \
        prev_in_string = (uint64_t)((int64_t)in_string >> 63);                        \
        uint64_t brackets = m.bracket & ~in_string;                                   \
        while (brackets) {                                                            \
            size_t at = i + (size_t)__builtin_ctzll(brackets);                        \
            brackets &= brackets - 1;                                                 \
            if (plain_bracket(f, buf[at]))                                            \
                continue;                                                             \
            f->pos = base + at + 1;                                                   \
            int rc = on_bracket(f, buf, base, at, out);                               \
            if (rc)                                                                   \
                return rc;                                                            \
        }                                                                             \
    }                                                                                 \
    f->escaped = (int)prev_escaped;                                                   \
    f->in_string = prev_in_string != 0;                                               \
    f->pos = base + i;                                                                \
    if (base + i >= until && !f->rec_open)                                            \
        return 0;                                                                     \
    return scan_scalar(f, buf, base, i, to, out);

static int scan_sse2(framer *f, const uint8_t *buf, uint64_t base, size_t from, size_t to,
                     uint64_t until, frame_records *out)
{
    SCAN_VECTOR_BODY(masks_sse2, prefix_xor)
}

__attribute__((target("avx2,pclmul"))) static int scan_avx2(framer *f, const uint8_t *buf, uint64_t base,
                                                             size_t from, size_t to, uint64_t until,
                                                             frame_records *out)
{
    SCAN_VECTOR_BODY(masks_avx2, prefix_xor_clmul)
}
#endif

int frame_scan_until(framer *f, const uint8_t *buf, uint64_t base, size_t len, uint64_t until,
                     frame_records *out)
{
    size_t from = (size_t)(f->pos - base);
    int rc;
#if defined(__x86_64__)
    if (f->impl == FRAME_IMPL_SCALAR)
        rc = scan_scalar(f, buf, base, from, len, out);
    else if (f->impl == FRAME_IMPL_AUTO && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("pclmul"))
        rc = scan_avx2(f, buf, base, from, len, until, out);
    else
        rc = scan_sse2(f, buf, base, from, len, until, out);
#else
    rc = scan_scalar(f, buf, base, from, len, out);
#endif
    if (rc)
        return rc;
    if (f->sep_open)
        sep_scan(f, buf, base, (size_t)(f->pos - base));   /* the gap's bytes may go now */
    if (f->pos < base + len)
        return 0;           /* stopped early at `until` */
    if (f->depth == 0) {
        rc = check_gap(f, buf, base, gap_index(f, base), len);
        if (rc)
            return rc;
        f->gap_from = base + len;
    }
    if (f->rec_open && base + len - f->rec_start > f->max_record)
        return fail_too_long(f);
    return 0;
}

int frame_scan(framer *f, const uint8_t *buf, uint64_t base, size_t len, frame_records *out)
{
    return frame_scan_until(f, buf, base, len, UINT64_MAX, out);
}

int frame_finish(framer *f)
{
    if (f->rec_open)
        return fail(f, f->rec_start, "truncated JSON: record not closed at end of input");
    if (f->depth > 0)
        return fail(f, f->doc_start, "truncated JSON: document not closed at end of input");
    if (f->in_string)
        return fail(f, f->pos, "truncated JSON: unterminated string at end of input");
    return 0;
}
