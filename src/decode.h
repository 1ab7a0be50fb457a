/*
 * decode: turns the bytes of one input into its decoded JSON text.
 *
 * The format is read from the bytes, never from the file name: gzip members
 * (magic 1f 8b), zstd frames (28 b5 2f fd, and skippable frames), or plain
 * text. A stream may hold any sequence of them back to back, as
 * `cat a.json.gz b.json.zst c.json` makes; each member's checksums are
 * verified. Plain text ends where a gzip or zstd magic begins.
 *
 * The decoder is a streaming state machine: the caller owns both buffers and
 * keeps any input the decoder did not consume for the next call.
 */
#ifndef ORGTRAIL_DECODE_H
#define ORGTRAIL_DECODE_H

#include <stddef.h>
#include <stdint.h>

typedef struct decoder decoder;

enum decode_status {
    DECODE_OK = 0,      /* made progress, or needs more input / output room */
    DECODE_ERROR = -1,  /* corrupt input; see decode_error() */
};

/* Returns a decoder, or NULL when out of memory. */
decoder *decode_create(void);
/* Accepts NULL. */
void decode_free(decoder *d);
/* Forgets all state: the next byte is the start of a new input. */
void decode_reset(decoder *d);
/* The same, for the rest of an input cut right after a gzip member: the
 * next byte is input byte `bytes_in`, and a member came before it. */
void decode_reset_after_member(decoder *d, uint64_t bytes_in);

/*
 * Decodes from in[0..in_len) into out[0..out_cap). Sets *in_used and
 * *out_made. final says that no input follows in[]. Decodes until the input
 * is used up, the output is full, or it needs more input than in[] holds
 * (e.g. a magic number split across calls; it then consumes nothing of it).
 * Returns DECODE_OK or DECODE_ERROR; after an error the decoder stays failed
 * until decode_reset().
 */
int decode_step(decoder *d, const uint8_t *in, size_t in_len, int final,
                size_t *in_used, uint8_t *out, size_t out_cap, size_t *out_made);

/* Call once all input is consumed: DECODE_ERROR if it ended inside a
 * compressed member (truncated), else DECODE_OK. */
int decode_finish(decoder *d);

/* The last error as one line ("truncated gzip member"), and the offset in
 * the compressed input where it was found. */
const char *decode_error(const decoder *d);
uint64_t decode_error_offset(const decoder *d);

/*
 * Looks in buf[from, len) for the first place that looks like the start of
 * a gzip member (magic, deflate, no reserved flags, a known XFL and OS).
 * Returns its index; or len when there is none, with *resume_at set to
 * where to look again once more bytes follow (a header may be cut off).
 * Compressed data can hold such bytes by chance: a caller that cuts there
 * must check that the member before really ended at the cut.
 */
size_t decode_find_member(const uint8_t *buf, size_t from, size_t len, size_t *resume_at);

/* 1 when the decoder is inside a gzip member or zstd frame whose end it
 * has not verified yet (or it failed in one), with the decoded bytes made
 * before that member in *out_start; else 0. Bytes decoded from the member
 * are only known good once it has ended. After an error in a member, the
 * bytes before *out_start came out whatever the reads; how many of the
 * member's own came out depends on them (the inflaters buffer ahead), but
 * each is its real text, never a byte of anything else. */
int decode_member_start(const decoder *d, uint64_t *out_start);

/* 1 when the last error is a gzip member's CRC or length mismatch: its
 * text was all decoded (however the input was read), only its check failed. */
int decode_check_failed(const decoder *d);

/* Bytes of compressed input consumed so far. */
uint64_t decode_bytes_in(const decoder *d);

/* "isal" or "zlib": the gzip inflate library chosen at configure time. */
const char *decode_inflate_backend(void);

#endif
