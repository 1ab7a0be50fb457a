/*
 * emit: findings as NDJSON, and the one writer that puts them out in input
 * order. Every line is valid JSON whatever the input held: strings are
 * re-escaped, and invalid UTF-8 becomes U+FFFD.
 */
#ifndef ORGTRAIL_EMIT_H
#define ORGTRAIL_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include "parse.h"
#include "rules.h"
#include "util.h"

/*
 * Appends one finding line for the parse context's current event to out.
 * path and offset say where the record was: the input's name, and the
 * record's byte offset in that input's decoded stream. raw adds the whole
 * event as "event". Returns 0 or -ENOMEM.
 */
int emit_finding(ot_buf *out, const rule *ru, int denied, parse_ctx *event,
                 const char *path, uint64_t offset, int raw);

/* 1 when the event was denied: errorCode present and not null. */
int emit_event_denied(parse_ctx *event);

typedef struct emit_writer emit_writer;

/* Opens the output: path, or stdout when path is NULL. Returns NULL and
 * sets *err to a negative errno on failure. */
emit_writer *emit_open(const char *path, int *err);
/* Writes all of buf. Returns 0, -EPIPE when the reader went away, or
 * another negative errno. */
int emit_write(emit_writer *w, const void *buf, size_t len);
/* Flushes and closes (stdout is flushed, not closed). Accepts NULL.
 * Returns 0 or a negative errno. */
int emit_close(emit_writer *w);

#endif
