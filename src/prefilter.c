#include "prefilter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

static int sort_hits(const void *a, const void *b)
{
    const prefilter_hit *x = a, *y = b;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return (int)x->needle - (int)y->needle;
}

/* All occurrences of one needle starting in [from, to). */
static int scan_one(const needle *nd, unsigned idx, const uint8_t *buf, size_t len, size_t from,
                    size_t to, int count_only, uint64_t *count, prefilter_hits *out)
{
    if (len < nd->len)
        return 0;
    size_t last_start = len - nd->len;      /* the last start that fits */
    if (to > last_start + 1)
        to = last_start + 1;
    size_t pos = from;
#if defined(__SSE2__)
    const __m128i v1 = _mm_set1_epi8((char)nd->bytes[nd->rare1]);
    const __m128i v2 = _mm_set1_epi8((char)nd->bytes[nd->rare2]);
    /* Positions pos..pos+15 are tested; the loads reach pos+15+rare2 < len. */
    while (pos + 16 <= to && pos + 16 + nd->rare2 <= len) {
        __m128i a = _mm_loadu_si128((const __m128i *)(buf + pos + nd->rare1));
        __m128i b = _mm_loadu_si128((const __m128i *)(buf + pos + nd->rare2));
        unsigned mask = (unsigned)_mm_movemask_epi8(
            _mm_and_si128(_mm_cmpeq_epi8(a, v1), _mm_cmpeq_epi8(b, v2)));
        while (mask) {
            size_t at = pos + (size_t)__builtin_ctz(mask);
            mask &= mask - 1;
            if (memcmp(buf + at, nd->bytes, nd->len) == 0) {
                if (count_only) {
                    (*count)++;
                } else if (record_hit(out, at, idx)) {
                    return -ENOMEM;
                }
            }
        }
        pos += 16;
    }
#endif
    for (; pos < to; pos++) {
        if (buf[pos + nd->rare1] != nd->bytes[nd->rare1] || buf[pos + nd->rare2] != nd->bytes[nd->rare2])
            continue;
        if (memcmp(buf + pos, nd->bytes, nd->len) == 0) {
            if (count_only) {
                (*count)++;
            } else if (record_hit(out, pos, idx)) {
                return -ENOMEM;
            }
        }
    }
    return 0;
}

int prefilter_scan(const prefilter *pf, const uint8_t *buf, size_t len, size_t from, size_t to,
                   uint32_t count_mask, uint64_t *counts, prefilter_hits *out)
{
    size_t before = out->len;
    unsigned listed = 0;
    for (size_t i = 0; i < pf->n; i++) {
        int count_only = (count_mask >> i) & 1;
        listed += !count_only;
        int rc = scan_one(&pf->needles[i], (unsigned)i, buf, len, from, to, count_only,
                          count_only ? &counts[i] : NULL, out);
        if (rc)
            return rc;
    }
    if (listed > 1 && out->len - before > 1)
        qsort(out->hits + before, out->len - before, sizeof *out->hits, sort_hits);
    return 0;
}

void prefilter_hits_free(prefilter_hits *h)
{
    free(h->hits);
    h->hits = NULL;
    h->len = h->cap = 0;
}
