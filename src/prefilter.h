/*
 * prefilter: the raw-byte needle scan that runs over every decoded byte
 * before any parse. It proposes candidates; the full parse confirms them
 * (ripgrep's locate-then-verify).
 *
 * A vector filter, chosen by needle count (measured on CloudTrail text),
 * then a full compare of each candidate:
 *  - one needle: its two rarest bytes are compared, 32 positions at a time
 *    with AVX2. The cost of this filter grows with every needle.
 *  - two or more: Teddy (Hyperscan's and ripgrep's multi-literal filter).
 *    Each needle contributes a 3-byte window to one of 8 buckets; per
 *    window byte, two 16-entry nibble tables (PSHUFB lookups) say which
 *    buckets accept it, and an AND over the 3 bytes leaves, per position,
 *    the buckets whose windows may pass there: 32 positions a step (AVX2),
 *    16 (SSSE3). The cost per byte does not depend on the needle count,
 *    only the rate of candidates does. Windows and buckets are placed to
 *    keep that rate low on CloudTrail JSON (byte frequencies, JSON keys,
 *    a built-in sample record), and a candidate's bucket is narrowed to
 *    the needles that can match by a hash of 8 bytes around it.
 *  - no AVX2 nor SSSE3: the same windows, byte at a time, each window byte
 *    looked up in a 256-entry table of needle bits.
 * NOCASE needles fold ASCII letters (b | 0x20) in the filter tables and in
 * the compare; every other byte matches exactly.
 */
#ifndef ORGTRAIL_PREFILTER_H
#define ORGTRAIL_PREFILTER_H

#include <stddef.h>
#include <stdint.h>

#define PREFILTER_MAX_NEEDLES 64

/* Needle flags for prefilter_create_ex. */
#define PREFILTER_NOCASE 1u   /* ASCII letters match either case; other bytes exactly */

typedef struct prefilter prefilter;

typedef struct {
    size_t offset;      /* where the needle starts in the scanned buffer */
    unsigned needle;    /* index into the needles given at create time */
} prefilter_hit;

typedef struct {
    prefilter_hit *hits;
    size_t len;
    size_t cap;
} prefilter_hits;

/* Builds a scanner for n needles (each 2..64 bytes, copied). Returns NULL on
 * bad needles or out of memory. Same as prefilter_create_ex with all flags 0. */
prefilter *prefilter_create(const char *const *needles, size_t n);
/* The same, with flags[i] (PREFILTER_NOCASE or 0) for needle i; flags may be
 * NULL (all 0). Unknown flag bits are rejected (NULL). */
prefilter *prefilter_create_ex(const char *const *needles, const unsigned *flags, size_t n);
/* Accepts NULL. */
void prefilter_free(prefilter *pf);
/* Length of the longest needle. */
size_t prefilter_max_len(const prefilter *pf);

/*
 * Appends to out, in offset order (ties: needle index order), every
 * occurrence of every needle that starts in buf[from..to) and ends within
 * buf[0..len). Needles marked in count_mask (bit i = needle i) are not
 * appended but counted into counts[i]. Hits already in out are left as
 * they are. Returns 0 or -ENOMEM.
 */
int prefilter_scan(const prefilter *pf, const uint8_t *buf, size_t len, size_t from, size_t to,
                   uint64_t count_mask, uint64_t *counts, prefilter_hits *out);

void prefilter_hits_free(prefilter_hits *h);

enum prefilter_impl {
    PREFILTER_IMPL_AUTO = 0,      /* by CPU and needle count */
    PREFILTER_IMPL_SCALAR,        /* byte at a time: no vector instructions */
    PREFILTER_IMPL_RARE_AVX2,     /* two rare bytes per needle */
    PREFILTER_IMPL_TEDDY_SSSE3,   /* Teddy, 16 positions a step */
    PREFILTER_IMPL_TEDDY_AVX2,    /* Teddy, 32 positions a step */
};
/* Tests and benchmarks only: forces one implementation. Returns 0, or -1
 * (nothing changed) when this CPU or build cannot run it. */
int prefilter_set_impl(prefilter *pf, enum prefilter_impl impl);
/* The implementation prefilter_scan uses (never PREFILTER_IMPL_AUTO). */
enum prefilter_impl prefilter_get_impl(const prefilter *pf);

#endif
