/*
 * frame: finds record boundaries in decoded JSON text, in a stream that may
 * arrive in pieces of any size.
 *
 * A record is one CloudTrail event as it sits in the stream:
 *   - each object in a {"Records":[...]} document's Records array;
 *   - each object in a bare top-level array;
 *   - each top-level object of an NDJSON or concatenated stream (an event or
 *     an EventBridge envelope);
 *   - each element of a CloudWatch Logs "logEvents" array or a lookup-events
 *     "Events" array: an object with the event as an escaped string inside
 *     (PARSE_KIND_WRAPPED).
 * A top-level object is a record until a "Records", "Events" or "logEvents"
 * array shows up among its keys; then its array elements are the records.
 *
 * The scan tracks only what it needs: inside-a-string, escapes, and bracket
 * depth. It works on 64 bytes at a time with AVX2 or SSE2 bitmasks
 * (simdjson's stage-1 approach), and the whole state carries across calls,
 * so a record may be split at any byte. It does not check JSON grammar inside records;
 * that is the parser's job, for the records that get parsed. Between records
 * it does, because no parser sees those bytes: records in an array must be
 * separated by exactly one ',' (`}{`, `}\n{`, `},,{` and `},]` are errors),
 * in every mode, as a mismatched bracket is.
 */
#ifndef ORGTRAIL_FRAME_H
#define ORGTRAIL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "parse.h"

typedef struct {
    uint64_t start;         /* offset of the record's first byte in the decoded stream */
    uint64_t end;           /* one past its last byte */
    enum parse_kind kind;
} frame_record;

typedef struct {
    frame_record *recs;
    size_t len;
    size_t cap;
} frame_records;

typedef struct framer framer;

/* max_record: the largest record, in bytes, that may be framed. */
framer *frame_create(size_t max_record);
/* Accepts NULL. */
void frame_free(framer *f);
/* Starts a new input at stream offset 0. */
void frame_reset(framer *f);
/* Starts the rest of an input at stream offset pos, between top-level
 * values; docs_seen says whether a value came before. */
void frame_reset_at(framer *f, uint64_t pos, int docs_seen);
/* 1 once a top-level JSON value has begun. */
int frame_docs_seen(const framer *f);
enum frame_impl {
    FRAME_IMPL_AUTO = 0,    /* AVX2 where the CPU has it, else SSE2 */
    FRAME_IMPL_SCALAR,      /* byte at a time: the reference */
    FRAME_IMPL_SSE2,
};
/* Tests only: forces one implementation. */
void frame_set_impl(framer *f, enum frame_impl impl);

/*
 * buf holds decoded bytes [base, base + len) of the stream, and must start
 * at or before frame_keep_from() and reach at least frame_position(). Scans
 * from frame_position() to the end of buf, appending every record that ends
 * in that range to out, in stream order.
 * Returns 0, -1 on bad structure (see frame_error), or -ENOMEM.
 */
int frame_scan(framer *f, const uint8_t *buf, uint64_t base, size_t len, frame_records *out);

/* The same, but it may stop early: once it has passed stream offset until
 * and no record is open (at a 64-byte step), it returns with
 * frame_position() short of the end of buf. */
int frame_scan_until(framer *f, const uint8_t *buf, uint64_t base, size_t len, uint64_t until,
                     frame_records *out);

/* End of input: -1 if a string, record or document is still open. */
int frame_finish(framer *f);

/* Stream offset up to which bytes have been scanned. */
uint64_t frame_position(const framer *f);
/* The first stream offset still needed: the start of the open record, or
 * frame_position() when no record is open. */
uint64_t frame_keep_from(const framer *f);
/* The last structural error as one line, and the stream offset it names. */
const char *frame_error(const framer *f);
uint64_t frame_error_offset(const framer *f);
/* 1 when that error is a record over max_record. */
int frame_error_too_long(const framer *f);
/* The first fault of the input that did not stop framing (records of an
 * array not separated by exactly one comma: the records themselves are
 * whole), with its stream offset; NULL when there was none. */
const char *frame_warning(const framer *f, uint64_t *offset);

void frame_records_free(frame_records *r);

#endif
