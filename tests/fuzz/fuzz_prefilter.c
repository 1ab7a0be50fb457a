/*
 * fuzz_prefilter: the prefilter against a naive search, on every
 * implementation this CPU can run. The input holds the needles and the
 * haystack:
 *   byte 0: needle count - 1 (mod PREFILTER_MAX_NEEDLES)
 *   per needle: a length byte (2 + b % 63), a flags byte (bit 0: NOCASE),
 *               then that many needle bytes (a NUL becomes 0x01: needles
 *               are C strings)
 *   the rest: the haystack.
 * A seed hashed from the input then plants copies of some needles in the
 * haystack (case-flipped for NOCASE ones), picks [from, to), the count
 * mask, and a hit left in out beforehand. The contract (prefilter.h): every
 * occurrence that starts in [from, to) and ends within the buffer, in
 * offset order, ties in needle order; masked needles counted instead.
 */
#include "fuzz_common.h"
#include "prefilter.h"

#include <stdlib.h>
#include <string.h>

static int fold(uint8_t b)
{
    return (b >= 'A' && b <= 'Z') ? b | 0x20 : b;
}

static int is_letter(uint8_t b)
{
    return (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z');
}

static int match_at(const uint8_t *p, const char *needle, size_t n, int nocase)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t nb = (uint8_t)needle[i];
        if (nocase && is_letter(nb) ? fold(p[i]) != fold(nb) : p[i] != nb)
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *needles[PREFILTER_MAX_NEEDLES];
    const char *cneedles[PREFILTER_MAX_NEEDLES];
    size_t nlen[PREFILTER_MAX_NEEDLES];
    unsigned flags[PREFILTER_MAX_NEEDLES];
    if (size < 1)
        return 0;
    size_t n = data[0] % PREFILTER_MAX_NEEDLES + 1, pos = 1, got = 0;
    while (got < n && pos + 2 <= size) {
        size_t len = 2 + data[pos] % 63;
        unsigned f = data[pos + 1] & 1;
        pos += 2;
        if (pos + len > size)
            break;
        needles[got] = malloc(len + 1);
        FUZZ_ASSERT(needles[got], "out of memory");
        for (size_t i = 0; i < len; i++)
            needles[got][i] = data[pos + i] ? (char)data[pos + i] : 1;
        needles[got][len] = '\0';
        cneedles[got] = needles[got];
        nlen[got] = len;
        flags[got] = f ? PREFILTER_NOCASE : 0;
        pos += len;
        got++;
    }
    if (got == 0)
        return 0;
    n = got;

    fuzz_rng rng;
    fuzz_rng_seed(&rng, data, size);
    size_t hay_len = size - pos;
    uint8_t *hay = malloc(hay_len ? hay_len : 1);
    FUZZ_ASSERT(hay, "out of memory");
    memcpy(hay, data + pos, hay_len);
    for (size_t k = 0; k < n; k++) {
        uint64_t v = fuzz_rng_next(&rng);
        if ((v & 1) || nlen[k] > hay_len)
            continue;
        size_t at = (size_t)((v >> 8) % (hay_len - nlen[k] + 1));
        for (size_t i = 0; i < nlen[k]; i++) {
            uint8_t b = (uint8_t)needles[k][i];
            if (flags[k] && is_letter(b) && ((v >> (16 + i % 40)) & 1))
                b ^= 0x20;
            hay[at + i] = b;
        }
    }
    uint64_t v = fuzz_rng_next(&rng);
    size_t from = 0, to = hay_len;
    if (v & 1) {
        from = (size_t)((v >> 8) % (hay_len + 1));
        to = from + (size_t)((v >> 32) % (hay_len - from + 1));
    }
    uint64_t count_mask = (v & 2) ? fuzz_rng_next(&rng) : 0;

    prefilter *pf = prefilter_create_ex(cneedles, flags, n);
    FUZZ_ASSERT(pf, "prefilter_create_ex refused %zu valid needles", n);
    size_t maxlen = 0;
    for (size_t k = 0; k < n; k++)
        maxlen = nlen[k] > maxlen ? nlen[k] : maxlen;
    FUZZ_ASSERT(prefilter_max_len(pf) == maxlen, "max_len %zu, want %zu", prefilter_max_len(pf), maxlen);

    /* the naive answer */
    prefilter_hits want = { 0 };
    uint64_t want_counts[PREFILTER_MAX_NEEDLES] = { 0 };
    for (size_t p = from; p < to; p++)
        for (size_t k = 0; k < n; k++) {
            if (p + nlen[k] > hay_len || !match_at(hay + p, needles[k], nlen[k], flags[k] != 0))
                continue;
            if (count_mask >> k & 1) {
                want_counts[k]++;
                continue;
            }
            if (want.len == want.cap) {
                want.cap = want.cap ? want.cap * 2 : 16;
                want.hits = realloc(want.hits, want.cap * sizeof *want.hits);
                FUZZ_ASSERT(want.hits, "out of memory");
            }
            want.hits[want.len++] = (prefilter_hit){ p, (unsigned)k };
        }

    static const enum prefilter_impl impls[] = { PREFILTER_IMPL_AUTO, PREFILTER_IMPL_SCALAR,
                                                 PREFILTER_IMPL_RARE_AVX2, PREFILTER_IMPL_TEDDY_SSSE3,
                                                 PREFILTER_IMPL_TEDDY_AVX2 };
    for (size_t ii = 0; ii < sizeof impls / sizeof impls[0]; ii++) {
        if (ii > 0 && prefilter_set_impl(pf, impls[ii]) != 0)
            continue;
        enum prefilter_impl impl = prefilter_get_impl(pf);
        prefilter_hits out = { 0 };
        uint64_t counts[PREFILTER_MAX_NEEDLES] = { 0 };
        /* a hit already there must stay as it is */
        out.cap = 4;
        out.hits = malloc(out.cap * sizeof *out.hits);
        FUZZ_ASSERT(out.hits, "out of memory");
        out.hits[0] = (prefilter_hit){ 123456789, 77 };
        out.len = 1;
        int rc = prefilter_scan(pf, hay, hay_len, from, to, count_mask, counts, &out);
        FUZZ_ASSERT(rc == 0, "impl %d: prefilter_scan %d", impl, rc);
        FUZZ_ASSERT(out.hits[0].offset == 123456789 && out.hits[0].needle == 77, "impl %d: old hit changed",
                    impl);
        size_t i = 0;
        while (i < want.len && i + 1 < out.len && out.hits[i + 1].offset == want.hits[i].offset &&
               out.hits[i + 1].needle == want.hits[i].needle)
            i++;
        if (i != want.len || out.len != want.len + 1) {
            fprintf(stderr, "impl %d, %zu needles, haystack %zu bytes, [%zu, %zu), mask %#llx\n", impl, n,
                    hay_len, from, to, (unsigned long long)count_mask);
            fprintf(stderr, "hits agree on the first %zu; got %zu, want %zu\n", i, out.len - 1, want.len);
            if (i < want.len)
                fprintf(stderr, "want next: offset %zu needle %u\n", want.hits[i].offset, want.hits[i].needle);
            if (i + 1 < out.len)
                fprintf(stderr, "got next: offset %zu needle %u\n", out.hits[i + 1].offset,
                        out.hits[i + 1].needle);
        }
        FUZZ_ASSERT(i == want.len && out.len == want.len + 1, "impl %d: hits differ from a naive search", impl);
        for (size_t k = 0; k < n; k++)
            FUZZ_ASSERT(counts[k] == want_counts[k], "impl %d: needle %zu counted %llu, want %llu", impl, k,
                        (unsigned long long)counts[k], (unsigned long long)want_counts[k]);
        prefilter_hits_free(&out);
    }
    free(want.hits);
    prefilter_free(pf);
    for (size_t k = 0; k < n; k++)
        free(needles[k]);
    free(hay);
    return 0;
}
