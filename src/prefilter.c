#include "prefilter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t bytes[64];
    size_t len;
    size_t rare1, rare2;   /* offsets of the two rarest bytes, rare1 < rare2 */
} needle;

struct prefilter {
    needle needles[PREFILTER_MAX_NEEDLES];
    size_t n;
    size_t max_len;
};

/* How common a byte is in CloudTrail JSON, roughly (higher = more common).
 * Only the order matters: it picks the two bytes of a needle least likely
 * to match by chance. */
static int byte_commonness(uint8_t c)
{
    if (c == '"' || c == ':' || c == ',')
        return 90;
    if (c >= '0' && c <= '9')
        return 80;
    if (c == '-' || c == '.' || c == '/' || c == '_')
        return 60;
    if (c >= 'a' && c <= 'z') {
        static const char order[] = "etaoinsrlcdumhpgfybwkvxjqz"; /* most to least common */
        const char *p = strchr(order, c);
        return 70 - (int)(p - order) * 2;
    }
    if (c >= 'A' && c <= 'Z')
        return 20;
    return 10;
}

prefilter *prefilter_create(const char *const *needles, size_t n)
{
    if (n == 0 || n > PREFILTER_MAX_NEEDLES)
        return NULL;
    prefilter *pf = calloc(1, sizeof *pf);
    if (!pf)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        needle *nd = &pf->needles[i];
        nd->len = strlen(needles[i]);
        if (nd->len < 2 || nd->len > sizeof nd->bytes) {
            free(pf);
            return NULL;
        }
        memcpy(nd->bytes, needles[i], nd->len);
        size_t a = 0;
        for (size_t j = 1; j < nd->len; j++)
            if (byte_commonness(nd->bytes[j]) < byte_commonness(nd->bytes[a]))
                a = j;
        size_t b = a == 0 ? 1 : 0;
        for (size_t j = 0; j < nd->len; j++)
            if (j != a && byte_commonness(nd->bytes[j]) < byte_commonness(nd->bytes[b]))
                b = j;
        nd->rare1 = a < b ? a : b;
        nd->rare2 = a < b ? b : a;
        if (nd->len > pf->max_len)
            pf->max_len = nd->len;
    }
    pf->n = n;
    return pf;
}

void prefilter_free(prefilter *pf)
{
    free(pf);
}

size_t prefilter_max_len(const prefilter *pf)
{
    return pf->max_len;
}

static int record_hit(prefilter_hits *out, size_t offset, unsigned idx)
{
    if (out->len == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 64;
        prefilter_hit *h = realloc(out->hits, cap * sizeof *h);
        if (!h)
            return -ENOMEM;
        out->hits = h;
        out->cap = cap;
    }
    out->hits[out->len].offset = offset;
    out->hits[out->len].needle = idx;
    out->len++;
    return 0;
}

/* Checks needle k at position at, and records or counts it. */
static inline int verify(const prefilter *pf, unsigned k, const uint8_t *buf, size_t at,
                         uint32_t count_mask, uint64_t *counts, prefilter_hits *out)
{
    const needle *nd = &pf->needles[k];
    if (memcmp(buf + at, nd->bytes, nd->len) != 0)
        return 0;
    if ((count_mask >> k) & 1) {
        counts[k]++;
        return 0;
    }
    return record_hit(out, at, k);
}

/* Positions [pos, to) one at a time; the reference for the vector loops. */
static int scan_scalar(const prefilter *pf, const uint8_t *buf, size_t len, size_t pos, size_t to,
                       uint32_t count_mask, uint64_t *counts, prefilter_hits *out)
{
    for (; pos < to; pos++) {
        for (unsigned k = 0; k < pf->n; k++) {
            const needle *nd = &pf->needles[k];
            if (pos + nd->len > len || buf[pos + nd->rare1] != nd->bytes[nd->rare1] ||
                buf[pos + nd->rare2] != nd->bytes[nd->rare2])
                continue;
            if (verify(pf, k, buf, pos, count_mask, counts, out))
                return -ENOMEM;
        }
    }
    return 0;
}

#if defined(__x86_64__)
#include <immintrin.h>

/*
 * All needles in one pass, 32 positions at a time: for each needle, its two
 * rare bytes are compared at their offsets, and only positions where both
 * match are compared in full. Hits come out in offset order.
 */
__attribute__((target("avx2"))) static int scan_avx2(const prefilter *pf, const uint8_t *buf, size_t len,
                                                      size_t *from, size_t to, uint32_t count_mask,
                                                      uint64_t *counts, prefilter_hits *out)
{
    __m256i first[PREFILTER_MAX_NEEDLES], second[PREFILTER_MAX_NEEDLES];
    size_t reach = 0;        /* how far past a position the loads and compares read */
    for (unsigned k = 0; k < pf->n; k++) {
        first[k] = _mm256_set1_epi8((char)pf->needles[k].bytes[pf->needles[k].rare1]);
        second[k] = _mm256_set1_epi8((char)pf->needles[k].bytes[pf->needles[k].rare2]);
        if (pf->needles[k].len > reach)
            reach = pf->needles[k].len;
    }
    size_t pos = *from;
    while (pos + 32 <= to && pos + 32 + reach <= len) {
        uint32_t masks[PREFILTER_MAX_NEEDLES];
        uint32_t any = 0;
        for (unsigned k = 0; k < pf->n; k++) {
            const needle *nd = &pf->needles[k];
            __m256i a = _mm256_loadu_si256((const __m256i *)(buf + pos + nd->rare1));
            __m256i b = _mm256_loadu_si256((const __m256i *)(buf + pos + nd->rare2));
            masks[k] = (uint32_t)_mm256_movemask_epi8(
                _mm256_and_si256(_mm256_cmpeq_epi8(a, first[k]), _mm256_cmpeq_epi8(b, second[k])));
            any |= masks[k];
        }
        while (any) {
            unsigned bit = (unsigned)__builtin_ctz(any);
            any &= any - 1;
            for (unsigned k = 0; k < pf->n; k++)
                if (((masks[k] >> bit) & 1) && verify(pf, k, buf, pos + bit, count_mask, counts, out))
                    return -ENOMEM;
        }
        pos += 32;
    }
    *from = pos;
    return 0;
}

#endif

int prefilter_scan(const prefilter *pf, const uint8_t *buf, size_t len, size_t from, size_t to,
                   uint32_t count_mask, uint64_t *counts, prefilter_hits *out)
{
    if (to > len)
        to = len;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) {
        int rc = scan_avx2(pf, buf, len, &from, to, count_mask, counts, out);
        if (rc)
            return rc;
    }
#endif
    return scan_scalar(pf, buf, len, from, to, count_mask, counts, out);
}

void prefilter_hits_free(prefilter_hits *h)
{
    free(h->hits);
    h->hits = NULL;
    h->len = h->cap = 0;
}
