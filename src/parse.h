/*
 * parse: the full JSON parse of one candidate record, and the only C++ in
 * orgtrail. simdjson's DOM parser sits behind an opaque handle; no C++
 * exception ever crosses into C.
 *
 * One parse_ctx per worker thread: a context is not thread-safe, but distinct
 * contexts are independent.
 */
#ifndef ORGTRAIL_PARSE_H
#define ORGTRAIL_PARSE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct parse_ctx parse_ctx;

/* A byte range that someone else owns. Not NUL-terminated. */
typedef struct {
    const char *ptr;
    size_t len;
} ot_slice;

enum parse_kind {
    /* The record is an event object, or an EventBridge envelope
     * ({"detail-type":..., "detail":{...event...}}): the event is its detail. */
    PARSE_KIND_EVENT = 0,
    /* The record is an object holding the event as an escaped JSON string in
     * "message" (CloudWatch Logs logEvents[]) or "CloudTrailEvent"
     * (cloudtrail lookup-events Events[]). */
    PARSE_KIND_WRAPPED = 1,
};

enum parse_type {
    PARSE_ABSENT = 0,
    PARSE_NULL,
    PARSE_STRING,
    PARSE_NUMBER,
    PARSE_BOOL,
    PARSE_OBJECT,
    PARSE_ARRAY,
};

/* Returns a new context, or NULL when out of memory. */
parse_ctx *parse_create(void);
/* Accepts NULL. */
void parse_free(parse_ctx *ctx);
/* Lets the context's parses nest depth deep instead of simdjson's 1024:
 * for texts that wrap a record's JSON, which may itself nest 1024 deep. */
void parse_set_depth(parse_ctx *ctx, size_t depth);

/*
 * Parses one record of len bytes (no NUL needed; the bytes are copied into
 * padded storage, so buf need only live for the call) and makes its event
 * the context's current event.
 *
 * Invalid UTF-8 does not fail the parse: the offending bytes are replaced
 * by U+FFFD and the record parsed again (parse_repaired() then says 1), so
 * hostile bytes in one field can never hide the rest of the record.
 *
 * Returns 0 on success. On failure returns -1, writes a one-line reason to
 * err (errlen bytes, always NUL-terminated) and, when simdjson can tell,
 * the byte offset of the problem within buf to *err_offset (else 0).
 * A WRAPPED record whose inner string is missing or not a JSON object fails.
 */
int parse_record(parse_ctx *ctx, const char *buf, size_t len, enum parse_kind kind,
                 char *err, size_t errlen, size_t *err_offset);

/* 1 when the last successful parse had to repair invalid UTF-8. */
int parse_repaired(const parse_ctx *ctx);

/* 1 when the current event is a CloudTrail digest document: an object with
 * both "digestStartTime" and "logFiles" keys. */
int parse_is_digest(parse_ctx *ctx);

/*
 * Looks up a dotted path (e.g. "userIdentity.sessionContext.sessionIssuer.arn")
 * in the current event; each dot descends into an object member. Returns its
 * type and, in *out:
 *   - STRING: the unescaped string (valid UTF-8, may contain any character);
 *   - NUMBER, BOOL, OBJECT, ARRAY: the value as minified JSON text;
 *   - NULL: "null"; ABSENT: an empty slice.
 * Slices stay valid until the next parse_record() or parse_free().
 */
enum parse_type parse_get(parse_ctx *ctx, const char *path, ot_slice *out);

/* parse_get for a path built on the fly (parse_get's answers are cached by
 * the path's address, for paths that are constants). */
enum parse_type parse_get_uncached(parse_ctx *ctx, const char *path, ot_slice *out);

/* The integer at path (as parse_get finds it) in *v: 0, or -1 when there
 * is none there (absent, another type, a fraction, outside int64). */
int parse_get_int(parse_ctx *ctx, const char *path, int64_t *v);

/* The number of elements of the array at path (as parse_get finds it), or
 * -1 when there is no array there. */
long parse_array_len(parse_ctx *ctx, const char *path);

/* Like parse_get, for the dotted path key inside the index'th element (an
 * object) of the array at path: ("Policies", 3, "Id") is Policies[3].Id;
 * key NULL: the element itself. Not cached; same lifetimes as parse_get. */
enum parse_type parse_get_element(parse_ctx *ctx, const char *path, size_t index, const char *key, ot_slice *out);

/*
 * A set of dotted paths compiled once, for parse_get_set: the fields every
 * finding shows. Returns NULL when out of memory. The paths are copied.
 */
typedef struct parse_pathset parse_pathset;
parse_pathset *parse_pathset_create(const char *const *paths, size_t n);
/* Accepts NULL. */
void parse_pathset_free(parse_pathset *set);

/*
 * parse_get for each path of set at once: types[i] and out[i] are what
 * parse_get(ctx, paths[i], &out[i]) would give (same texts, same
 * lifetimes), found in one pass over the event's members and one over the
 * members of each object the paths go into, instead of a scan per path.
 */
void parse_get_set(parse_ctx *ctx, const parse_pathset *set, enum parse_type *types, ot_slice *out);

/* The whole current event as minified JSON. Same lifetime as parse_get. */
ot_slice parse_event_json(parse_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
