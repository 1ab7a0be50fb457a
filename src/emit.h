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
#include "util.h"

/*
 * Dedupe keys. A finding is a duplicate of one already emitted when its
 * rule is the same and so is what its line says of the event: the span
 * from its "outcome" member up to its "input" member (eventID, time,
 * actor, target, request and response, ...; finding_content_span), so
 * that a copy of an event in another file (or twice in one) is dropped,
 * but a record that only reuses another's eventID is not taken for it.
 * The span is hashed with a key drawn at random once a process (GHASH, a
 * universal hash, see emit.c): a log's author, who never sees the key,
 * cannot make two spans collide.
 */
typedef struct emit_hasher emit_hasher;
/* Returns NULL when out of memory or without randomness. */
emit_hasher *emit_hasher_create(void);
/* Accepts NULL. */
void emit_hasher_free(emit_hasher *h);
/* The keyed hash of a finding's content span, in *out. Returns 0, or -1
 * when libcrypto refused it (the finding then has no key: never dropped). */
int emit_content_hash(emit_hasher *h, const char *content, size_t len, uint64_t *out);
/* The hash of a rule id, once for all of its findings. */
uint64_t emit_rule_hash(const char *rule_id, size_t rule_len);
/* The dedupe key of rule's finding on content. Never 0. */
uint64_t emit_finding_key(uint64_t rule_hash, uint64_t content_hash);

/* The set of finding keys already emitted. Memory grows with findings only. */
typedef struct emit_dedupe emit_dedupe;
emit_dedupe *emit_dedupe_create(void);
/* Accepts NULL. */
void emit_dedupe_free(emit_dedupe *d);
/* Adds key. Returns 1 when it is new, 0 when it was there, or -ENOMEM. */
int emit_dedupe_add(emit_dedupe *d, uint64_t key);
/* Adds the key of every finding line in buf (a previous run's output, NDJSON or OCSF;
 * finding_line_key). Returns the number of lines, or -ENOMEM. */
long emit_dedupe_load(emit_dedupe *d, const char *buf, size_t len);

typedef struct emit_writer emit_writer;

/* Opens the output: path, or stdout when path is NULL. Returns NULL and
 * sets *err to a negative errno on failure. */
emit_writer *emit_open(const char *path, int *err);
/* Opens path to continue a run: cut back to keep bytes, writing after them.
 * A file shorter than keep is not that run's output: -ESPIPE. */
emit_writer *emit_open_resume(const char *path, uint64_t keep, int *err);
/* Bytes written to the output file so far (from its start). */
uint64_t emit_offset(const emit_writer *w);
/* Makes what was written durable. Returns 0 or -errno. */
int emit_sync(emit_writer *w);
/*
 * A view of the finding lines on their way out: observe sees every line
 * written (the summary of `scan --summary`), render replaces them by what
 * is written instead (the terminal table). Either may be NULL; both get
 * whole lines. arg is theirs. The view must outlive the writer.
 */
typedef struct {
    void (*observe)(void *arg, const char *lines, size_t len);
    int (*render)(void *arg, const char *lines, size_t len, ot_buf *out);   /* 0 or -ENOMEM */
    void *arg;
} emit_view;
void emit_set_view(emit_writer *w, const emit_view *view);

/* Writes all of buf (finding lines, through the view when one is set).
 * Returns 0, -EPIPE when the reader went away, or another negative errno. */
int emit_write(emit_writer *w, const void *buf, size_t len);

/* Testing: the process SIGKILLs itself once this writer has written `bytes`
 * more bytes, which may tear a line (ORGTRAIL_CRASH_AFTER_BYTES). 0: never. */
void emit_crash_after(emit_writer *w, uint64_t bytes);
/* Flushes and closes (stdout is flushed, not closed). Accepts NULL.
 * Returns 0 or a negative errno. */
int emit_close(emit_writer *w);

#endif
