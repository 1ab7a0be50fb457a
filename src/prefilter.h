/*
 * prefilter: the raw-byte needle scan that runs over every decoded byte
 * before any parse. It proposes candidates; the full parse confirms them
 * (ripgrep's locate-then-verify).
 *
 * Each needle is checked first on its two rarest bytes, 32 positions at a
 * time with AVX2 (byte at a time where the CPU lacks it), and only then
 * compared in full. All needles share one pass, so a buffer with no hit
 * costs a few vector compares per 32 bytes and needle.
 */
#ifndef ORGTRAIL_PREFILTER_H
#define ORGTRAIL_PREFILTER_H

#include <stddef.h>
#include <stdint.h>

#define PREFILTER_MAX_NEEDLES 16

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
 * bad needles or out of memory. */
prefilter *prefilter_create(const char *const *needles, size_t n);
/* Accepts NULL. */
void prefilter_free(prefilter *pf);
/* Length of the longest needle. */
size_t prefilter_max_len(const prefilter *pf);

/*
 * Appends to out, in offset order, every occurrence of every needle that
 * starts in buf[from..to) and ends within buf[0..len). Needles marked in
 * count_mask (bit i = needle i) are not appended but counted into
 * counts[i]. Returns 0 or -ENOMEM.
 */
int prefilter_scan(const prefilter *pf, const uint8_t *buf, size_t len, size_t from, size_t to,
                   uint32_t count_mask, uint64_t *counts, prefilter_hits *out);

void prefilter_hits_free(prefilter_hits *h);

#endif
