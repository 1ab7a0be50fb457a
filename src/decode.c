#include "decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>
#include <zstd_errors.h>
#ifdef ORGTRAIL_USE_ISAL
#include <isa-l/igzip_lib.h>
#else
#include <zlib.h>
#endif

enum segment {
    SEG_DETECT,      /* at the start of a member: look at the magic */
    SEG_GZIP,
    SEG_ZSTD,
    SEG_PLAIN,
    SEG_FAILED,
};

struct decoder {
    enum segment seg;
    int members_done;          /* compressed members finished in this input */
    uint64_t bytes_in;         /* compressed bytes consumed */
    uint64_t bytes_out;        /* decoded bytes made */
    int in_member;             /* in (or failed in) a gzip member or zstd frame */
    uint64_t member_in, member_out;   /* where it began, in input and decoded bytes */
    uint64_t error_offset;
    char error[128];
    int check_failed;          /* the error is a gzip CRC/length mismatch: all the member's text came out */
#ifdef ORGTRAIL_USE_ISAL
    struct inflate_state *gz;
#else
    z_stream gz;
    int gz_ready;
#endif
    ZSTD_DStream *zs;
    size_t zstd_last;          /* last ZSTD_decompressStream() hint; 0 at a frame end */
    int zstd_header_pending;   /* libzstd has not seen the frame's header yet */
    unsigned long long zstd_content_size;   /* the header's, or ZSTD_CONTENTSIZE_UNKNOWN */
};

static const uint8_t zstd_magic[4] = { 0x28, 0xB5, 0x2F, 0xFD };

const char *decode_inflate_backend(void)
{
#ifdef ORGTRAIL_USE_ISAL
    return "isal";
#else
    return "zlib";
#endif
}

decoder *decode_create(void)
{
    decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
#ifdef ORGTRAIL_USE_ISAL
    d->gz = malloc(sizeof *d->gz);
    if (!d->gz)
        goto fail;
#else
    if (inflateInit2(&d->gz, 15 + 16) != Z_OK)
        goto fail;
    d->gz_ready = 1;
#endif
    d->zs = ZSTD_createDStream();
    if (!d->zs)
        goto fail;
    decode_reset(d);
    return d;
fail:
    decode_free(d);
    return NULL;
}

void decode_free(decoder *d)
{
    if (!d)
        return;
#ifdef ORGTRAIL_USE_ISAL
    free(d->gz);
#else
    if (d->gz_ready)
        inflateEnd(&d->gz);
#endif
    ZSTD_freeDStream(d->zs);
    free(d);
}

void decode_reset(decoder *d)
{
    d->seg = SEG_DETECT;
    d->members_done = 0;
    d->bytes_in = 0;
    d->bytes_out = 0;
    d->in_member = 0;
    d->error_offset = 0;
    d->error[0] = '\0';
    d->check_failed = 0;
}

void decode_reset_after_member(decoder *d, uint64_t bytes_in)
{
    decode_reset(d);
    d->members_done = 1;
    d->bytes_in = bytes_in;
}

static int fail(decoder *d, uint64_t offset, const char *what)
{
    snprintf(d->error, sizeof d->error, "%s", what);
    d->error_offset = offset;
    d->seg = SEG_FAILED;
    return DECODE_ERROR;
}

static int is_zstd_magic(const uint8_t *p)
{
    if (memcmp(p, zstd_magic, 4) == 0)
        return 1;
    /* skippable frames: 0x184D2A50..5F, little endian */
    return (p[0] & 0xF0) == 0x50 && p[1] == 0x2A && p[2] == 0x4D && p[3] == 0x18;
}

static int is_json_start(uint8_t c)
{
    return c == '{' || c == '[' || c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* The length of the gzip header at in[], 0 if in[] does not hold all of it
 * yet. ISA-L must see a header whole: it restarts the header CRC (FHCRC)
 * on each call. */
static size_t gzip_header_length(const uint8_t *in, size_t len)
{
    if (len < 10)
        return 0;
    uint8_t flags = in[3];
    size_t pos = 10;
    if (flags & 0x04) {                      /* FEXTRA */
        if (len < pos + 2)
            return 0;
        pos += 2 + (size_t)(in[pos] | in[pos + 1] << 8);
    }
    for (uint8_t bit = 0x08; bit <= 0x10; bit <<= 1) {   /* FNAME, FCOMMENT */
        if (!(flags & bit))
            continue;
        if (pos >= len)
            return 0;
        const uint8_t *z = memchr(in + pos, 0, len - pos);
        if (!z)
            return 0;
        pos = (size_t)(z - in) + 1;
    }
    if (flags & 0x02)                        /* FHCRC */
        pos += 2;
    return pos <= len ? pos : 0;
}

/* The length of the zstd frame header at in[] (magic included; RFC 8878
 * 3.1.1.1), 0 if in[] does not hold all of it yet. */
static size_t zstd_header_length(const uint8_t *in, size_t len)
{
    static const size_t did_size[4] = { 0, 1, 2, 4 };
    static const size_t fcs_size[4] = { 0, 2, 4, 8 };
    if (len < 4)
        return 0;
    if (memcmp(in, zstd_magic, 4) != 0)
        return len >= 8 ? 8 : 0;             /* skippable: magic, 4-byte size */
    if (len < 5)
        return 0;
    uint8_t fhd = in[4];
    int single_segment = (fhd >> 5) & 1;
    size_t n = 5 + (single_segment ? 0 : 1) + did_size[fhd & 3] +
               ((fhd >> 6) == 0 ? (size_t)single_segment : fcs_size[fhd >> 6]);
    return n <= len ? n : 0;
}

static void start_member(decoder *d)
{
    d->in_member = 1;
    d->member_in = d->bytes_in;
    d->member_out = d->bytes_out;
}

/* Picks the next segment from its first bytes. Returns 1 when decided,
 * 0 when more input is needed, DECODE_ERROR on junk after a member. */
static int detect(decoder *d, const uint8_t *in, size_t in_len, int final)
{
    if (in_len >= 2 && in[0] == 0x1F && in[1] == 0x8B) {
        if (!final && gzip_header_length(in, in_len) == 0)
            return 0;
#ifdef ORGTRAIL_USE_ISAL
        isal_inflate_init(d->gz);
        d->gz->crc_flag = ISAL_GZIP;
#else
        inflateReset(&d->gz);
#endif
        d->seg = SEG_GZIP;
        start_member(d);
        return 1;
    }
    if (in_len >= 4 && is_zstd_magic(in)) {
        ZSTD_DCtx_reset(d->zs, ZSTD_reset_session_only);
        d->zstd_last = 1;
        d->zstd_header_pending = 1;
        d->seg = SEG_ZSTD;
        start_member(d);
        return 1;
    }
    if (in_len < 4 && !final) {
        /* Could still be a magic split across reads. */
        if (in_len == 0 || in[0] == 0x1F || in[0] == 0x28 || (in[0] & 0xF0) == 0x50)
            return 0;
    }
    if (d->members_done > 0 && in_len > 0 && !is_json_start(in[0]))
        return fail(d, d->bytes_in, "junk after compressed data (not gzip, zstd or JSON)");
    d->seg = SEG_PLAIN;
    return 1;
}

/*
 * Plain text runs until a gzip or zstd magic. Each magic holds a byte that
 * raw JSON text never has where the magic has it: 0x1F starts gzip, 0xB5
 * follows zstd's '(' (and is never valid UTF-8 after an ASCII byte), 0x18
 * ends a skippable frame's magic. memchr finds them cheaply. Returns the
 * run length; *magic_next says a magic starts right after it. Unless the
 * input is final, a possible magic cut short by the end of in[] is held back
 * for the next call.
 */
static size_t plain_run_length(const uint8_t *in, size_t in_len, int final, int *magic_next)
{
    static const struct { uint8_t byte; size_t at, len; } marks[] = {
        { 0x1F, 0, 2 },   /* gzip: 1f 8b */
        { 0xB5, 1, 4 },   /* zstd: 28 b5 2f fd */
        { 0x18, 3, 4 },   /* skippable zstd: 5? 2a 4d 18 */
    };
    *magic_next = 0;
    /* Where each mark byte next occurs (SIZE_MAX: nowhere). Each is looked
     * for again only once the scan has passed it, so each byte of in[] is
     * searched once per mark: text full of 0xB5 ("µ", Cyrillic) stays
     * linear. */
    size_t next[3];
    for (size_t k = 0; k < 3; k++) {
        const uint8_t *m = marks[k].at < in_len ? memchr(in + marks[k].at, marks[k].byte, in_len - marks[k].at) : NULL;
        next[k] = m ? (size_t)(m - in) : SIZE_MAX;
    }
    size_t pos = 0;
    for (;;) {
        size_t best = SIZE_MAX, best_len = 0;
        for (size_t k = 0; k < 3; k++) {
            size_t from = pos + marks[k].at;
            if (next[k] != SIZE_MAX && next[k] < from) {
                const uint8_t *m = from < in_len ? memchr(in + from, marks[k].byte, in_len - from) : NULL;
                next[k] = m ? (size_t)(m - in) : SIZE_MAX;
            }
            if (next[k] != SIZE_MAX && next[k] - marks[k].at < best) {
                best = next[k] - marks[k].at;
                best_len = marks[k].len;
            }
        }
        if (best == SIZE_MAX)
            break;
        if (best + best_len > in_len) {
            if (!final)
                return best;      /* decide when the rest arrives */
        } else if (best_len == 2 ? in[best + 1] == 0x8B : is_zstd_magic(in + best)) {
            *magic_next = 1;
            return best;
        }
        pos = best + 1;
    }
    if (!final) {
        /* the start of a zstd magic at the very end */
        if (in_len >= 1 && in[in_len - 1] == 0x28)
            return in_len - 1;
        for (size_t k = 3; k >= 1; k--)
            if (in_len >= k && (in[in_len - k] & 0xF0) == 0x50 &&
                memcmp(in + in_len - k + 1, "\x2A\x4D", k - 1) == 0)
                return in_len - k;
    }
    return in_len;
}

#ifdef ORGTRAIL_USE_ISAL
static int step_gzip(decoder *d, const uint8_t *in, size_t in_len, size_t *used,
                     uint8_t *out, size_t out_cap, size_t *made)
{
    struct inflate_state *s = d->gz;
    s->next_in = (uint8_t *)in;
    s->avail_in = (uint32_t)(in_len > UINT32_MAX ? UINT32_MAX : in_len);
    s->next_out = out;
    s->avail_out = (uint32_t)(out_cap > UINT32_MAX ? UINT32_MAX : out_cap);
    uint32_t avail_in0 = s->avail_in, avail_out0 = s->avail_out;
    int rc = isal_inflate(s);
    /* After an error ISA-L may report a byte more than it was given. */
    *used = s->avail_in <= avail_in0 ? avail_in0 - s->avail_in : avail_in0;
    *made = avail_out0 - s->avail_out;
    if (rc < 0 && rc != ISAL_INCORRECT_CHECKSUM) {
        /* At a back-reference before the start of its output, ISA-L's
         * decoder (2.30) has already moved next_out past the copy it then
         * refuses: up to 257 bytes it never wrote are counted as output,
         * old bytes of out[] or of its own buffer (an earlier input's text).
         * Nothing a failing call made is handed out: the member is damaged,
         * and its text from the earlier calls is all a caller can get. */
        *made = 0;
    }
    if (rc < 0) {
        const char *why = rc == ISAL_INCORRECT_CHECKSUM ? "corrupt gzip member (CRC or length mismatch)"
                        : rc == ISAL_INVALID_WRAPPER   ? "corrupt gzip header"
                        : "corrupt gzip member (invalid deflate data)";
        d->check_failed = rc == ISAL_INCORRECT_CHECKSUM;
        return fail(d, d->member_in, why);   /* where the read split it is not the bytes' property */
    }
    if (s->block_state == ISAL_BLOCK_FINISH) {
        d->seg = SEG_DETECT;
        d->members_done++;
        d->in_member = 0;
    }
    return DECODE_OK;
}
#else
static int step_gzip(decoder *d, const uint8_t *in, size_t in_len, size_t *used,
                     uint8_t *out, size_t out_cap, size_t *made)
{
    z_stream *z = &d->gz;
    z->next_in = (Bytef *)in;
    z->avail_in = (uInt)(in_len > UINT32_MAX ? UINT32_MAX : in_len);
    z->next_out = out;
    z->avail_out = (uInt)(out_cap > UINT32_MAX ? UINT32_MAX : out_cap);
    uInt avail_in0 = z->avail_in, avail_out0 = z->avail_out;
    int rc = inflate(z, Z_NO_FLUSH);
    *used = avail_in0 - z->avail_in;
    *made = avail_out0 - z->avail_out;
    if (rc == Z_STREAM_END) {
        d->seg = SEG_DETECT;
        d->members_done++;
        d->in_member = 0;
        return DECODE_OK;
    }
    if (rc == Z_OK || rc == Z_BUF_ERROR)
        return DECODE_OK;
    d->check_failed = rc == Z_DATA_ERROR && z->msg && strstr(z->msg, "check");
    const char *why = d->check_failed ? "corrupt gzip member (CRC or length mismatch)"
                                      : "corrupt gzip member (invalid deflate data)";
    return fail(d, d->member_in, why);   /* where the read split it is not the bytes' property */
}
#endif

static int step_zstd(decoder *d, const uint8_t *in, size_t in_len, int final, size_t *used,
                     uint8_t *out, size_t out_cap, size_t *made)
{
    /*
     * libzstd gets a frame's header whole and alone in one call, the rest
     * in the calls after it. Whole: when it completes a header begun in an
     * earlier call, its one-pass shortcut takes the frame to begin at that
     * call's input and decodes whatever stands there (a skippable frame,
     * another frame) as this frame. Alone: that shortcut, taken when the
     * whole frame is in the call that completes the header, checks the
     * frame otherwise than the streaming path (window and block limits,
     * what comes out before a bad checksum), so the verdict would depend on
     * the reads; without it the streaming path decides every frame.
     */
    if (d->zstd_header_pending) {
        size_t header = zstd_header_length(in, in_len);
        if (header == 0 && !final) {
            *used = *made = 0;       /* decide when the rest of the header arrives */
            return DECODE_OK;
        }
        d->zstd_header_pending = 0;
        d->zstd_content_size = ZSTD_CONTENTSIZE_UNKNOWN;
        if (header > 0) {            /* else cut short by the end of the input */
            unsigned long long size = ZSTD_getFrameContentSize(in, header);
            if (size != ZSTD_CONTENTSIZE_ERROR)
                d->zstd_content_size = size;
            in_len = header;
        }
    }
    ZSTD_inBuffer ib = { in, in_len, 0 };
    ZSTD_outBuffer ob = { out, out_cap, 0 };
    size_t rc = ZSTD_decompressStream(d->zs, &ob, &ib);
    *used = ib.pos;
    *made = ob.pos;
    if (ZSTD_isError(rc)) {
        char why[100];
        /* More content than the frame declares is reported as a full
         * buffer (libzstd sizes its own to the declared size): it is
         * corruption, as a frame with too little content is. */
        if (ZSTD_getErrorCode(rc) == ZSTD_error_dstSize_tooSmall)
            rc = (size_t)-ZSTD_error_corruption_detected;
        snprintf(why, sizeof why, "corrupt zstd frame (%s)", ZSTD_getErrorName(rc));
        return fail(d, d->member_in, why);   /* where the read split it is not the bytes' property */
    }
    d->zstd_last = rc;
    /* The streaming path checks the content size the header declares at
     * the end of the last block, but not when that block is empty. */
    if (rc == 0 && d->zstd_content_size != ZSTD_CONTENTSIZE_UNKNOWN &&
        d->bytes_out - d->member_out + ob.pos != d->zstd_content_size) {
        char why[100];
        snprintf(why, sizeof why, "corrupt zstd frame (%s)", ZSTD_getErrorString(ZSTD_error_corruption_detected));
        return fail(d, d->member_in, why);
    }
    if (rc == 0) {
        d->seg = SEG_DETECT;
        d->members_done++;
        d->in_member = 0;
    }
    return DECODE_OK;
}

int decode_step(decoder *d, const uint8_t *in, size_t in_len, int final,
                size_t *in_used, uint8_t *out, size_t out_cap, size_t *out_made)
{
    size_t used = 0, made = 0;
    int rc = DECODE_OK;
    while (rc == DECODE_OK) {
        const uint8_t *ip = in + used;
        size_t il = in_len - used;
        uint8_t *op = out + made;
        size_t ol = out_cap - made;
        size_t u = 0, m = 0;
        if (d->seg == SEG_FAILED) {
            rc = DECODE_ERROR;
            break;
        }
        if (d->seg == SEG_DETECT) {
            if (il == 0)
                break;
            int dr = detect(d, ip, il, final);
            if (dr == 0)
                break;
            if (dr < 0) {
                rc = DECODE_ERROR;
                break;
            }
            continue;
        }
        if (ol == 0)
            break;
        if (d->seg == SEG_PLAIN) {
            int magic_next;
            /* Only what fits the output room (and a magic's length more, to
             * tell a magic there) is looked at: a caller with little room
             * must not make each call scan all of a big input again. */
            size_t view = il > ol + 4 ? ol + 4 : il;
            size_t n = plain_run_length(ip, view, final && view == il, &magic_next);
            if (n > ol) {
                n = ol;
                magic_next = 0;
            }
            if (n > 0)
                memcpy(op, ip, n);
            u = m = n;
            if (magic_next)
                d->seg = SEG_DETECT;
        } else if (d->seg == SEG_GZIP) {
            rc = step_gzip(d, ip, il, &u, op, ol, &m);
        } else {
            rc = step_zstd(d, ip, il, final, &u, op, ol, &m);
        }
        used += u;
        made += m;
        d->bytes_in += u;
        d->bytes_out += m;
        if (u == 0 && m == 0 && d->seg != SEG_DETECT)
            break;   /* needs more input (or output room) */
    }
    *in_used = used;
    *out_made = made;
    return rc;
}

int decode_finish(decoder *d)
{
    if (d->seg == SEG_FAILED)
        return DECODE_ERROR;
    if (d->seg == SEG_GZIP)
        return fail(d, d->bytes_in, "truncated gzip member");
    if (d->seg == SEG_ZSTD && d->zstd_last != 0)
        return fail(d, d->bytes_in, "truncated zstd frame");
    if (d->seg == SEG_DETECT && d->members_done == 0)
        d->seg = SEG_PLAIN;
    return DECODE_OK;
}

const char *decode_error(const decoder *d)
{
    return d->error;
}

uint64_t decode_error_offset(const decoder *d)
{
    return d->error_offset;
}

size_t decode_find_member(const uint8_t *buf, size_t from, size_t len, size_t *resume_at)
{
    /* memchr, not memmem: 0x1F comes once in 256 bytes of compressed data,
     * and memchr's vector loop beats memmem's set-up for a 3-byte needle */
    while (from < len) {
        const uint8_t *m = memchr(buf + from, 0x1F, len - from);
        if (!m)
            break;
        size_t i = (size_t)(m - buf);
        if (len - i < 10) {
            *resume_at = i;     /* the header may be cut off: look again with more */
            return len;
        }
        if (m[1] == 0x8B && m[2] == 0x08 && (m[3] & 0xE0) == 0 && (m[8] == 0 || m[8] == 2 || m[8] == 4) &&
            (m[9] <= 13 || m[9] == 255))
            return i;
        from = i + 1;
    }
    *resume_at = len > from ? len : from;
    return len;
}

int decode_member_start(const decoder *d, uint64_t *out_start)
{
    *out_start = d->member_out;
    return d->in_member;
}

int decode_check_failed(const decoder *d)
{
    return d->seg == SEG_FAILED && d->check_failed;
}

uint64_t decode_bytes_in(const decoder *d)
{
    return d->bytes_in;
}
