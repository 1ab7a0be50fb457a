/*
 * stdin_cut: cuts a gzip stream (stdin, usually many CloudTrail files of
 * one member each) into parts at places where a member seems to begin, so
 * that the parts can be decoded in parallel. It reads nothing itself: the
 * caller reads into stdin_cut_space() and says what came with
 * stdin_cut_read(); stdin_cut_advance() then yields every part it can to
 * the callback it was created with. It knows gzip members and nothing of
 * the pipeline that consumes the parts.
 *
 * A part is cut once it holds part_size bytes, at the next member start.
 * Compressed data may look like a member start by chance: the consumer
 * must check that the part before really ended where the next began (run's
 * writer does). A member longer than STDIN_CUT_PART_MAX ends the cutting:
 * the rest of stdin is the tail, one last part the consumer reads on.
 */
#ifndef ORGTRAIL_STDIN_CUT_H
#define ORGTRAIL_STDIN_CUT_H

#include <stddef.h>
#include <stdint.h>

#include "scan.h"

#define STDIN_CUT_PART_MAX (4u << 20)   /* a member longer than this ends the cutting (>= --part-size) */

/* A part the cutter yields. */
typedef struct {
    const uint8_t *data;    /* the part's bytes; valid during the callback only */
    size_t len;
    scan_part at;           /* where it begins; out_offset is a guess from gzip trailers */
    int last;               /* stdin ends with this part (or, for a tail, goes on in it) */
    int tail;               /* a member too long to cut: the rest of stdin is read on after data */
    int read_error;         /* the last part only: the -errno that ended stdin, or 0 */
    uint64_t read_offset;   /* and where */
} stdin_part;

/* Takes a part: returns 0 when it took it, 1 when it has no room now (the
 * same part is yielded again at the next advance). */
typedef int (*stdin_part_fn)(void *ctx, const stdin_part *part);

enum stdin_cut_state {
    STDIN_CUT_WANTS_BYTES,  /* read more into stdin_cut_space */
    STDIN_CUT_BLOCKED,      /* the callback had no room: advance again later */
    STDIN_CUT_DONE,         /* all of stdin is in parts (the last one a tail, maybe): free the cutter */
};

typedef struct stdin_cut stdin_cut;

/*
 * Starts cutting with stdin's first n bytes (copied). Returns NULL when
 * part_size is 0, the bytes do not begin a gzip member or memory is short:
 * read stdin whole then. yield is called from stdin_cut_advance only, with
 * ctx; a part's bytes are valid during that call only.
 */
stdin_cut *stdin_cut_create(const uint8_t *first, size_t n, size_t part_size, stdin_part_fn yield, void *ctx);
/* Accepts NULL. */
void stdin_cut_free(stdin_cut *c);

/* Room for want more bytes of stdin: read them there, then stdin_cut_read.
 * NULL when memory is short: that ends stdin with -ENOMEM. The pointer
 * is valid until the next call on c. */
uint8_t *stdin_cut_space(stdin_cut *c, size_t want);
/* What a read into the space gave: bytes, 0 at the end of stdin, or -errno
 * (which ends it too; the last part carries it). Ignored after the end. */
void stdin_cut_read(stdin_cut *c, int res);

/* Yields every part the bytes so far allow. */
enum stdin_cut_state stdin_cut_advance(stdin_cut *c);

/* Bytes read and not yet yielded (what c holds). */
size_t stdin_cut_unparted(const stdin_cut *c);
/* 1 once the end (or an error) of stdin was read. */
int stdin_cut_at_end(const stdin_cut *c);

#endif
