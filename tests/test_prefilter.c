/*
 * test_prefilter: the raw-byte needle scan (src/prefilter.h).
 *
 * Every scan is checked against a naive memcmp at every offset. Buffers are
 * allocated at their exact length, so ASan catches a vector load that reads
 * past buf[len).
 */
#include "prefilter.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;
static const char *cur_case = "";

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (cond) {                                                           \
            passed++;                                                         \
        } else {                                                              \
            failed++;                                                         \
            if (failed <= 40)                                                 \
                fprintf(stderr, "%s:%d: CHECK failed: %s [%s]\n", __FILE__,   \
                        __LINE__, #cond, cur_case);                           \
        }                                                                     \
    } while (0)

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_state = 0x243F6A8885A308D3ull;

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static size_t rnd_below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

typedef struct {
    const char *name;
    const char *needles[PREFILTER_MAX_NEEDLES];
    size_t n;
    const char *alphabet;   /* random buffer bytes (a NUL in it is a byte too) */
    size_t alphabet_len;
} needle_set;

/* The reference: every occurrence of every listed needle that starts in
 * [from, to) and ends within len, sorted by offset then needle; counted
 * needles are added to counts[]. */
static void naive_scan(const needle_set *set, const uint8_t *buf, size_t len, size_t from,
                       size_t to, uint32_t count_mask, uint64_t *counts, prefilter_hits *out)
{
    for (size_t pos = from; pos < to; pos++) {
        for (size_t i = 0; i < set->n; i++) {
            size_t nl = strlen(set->needles[i]);
            if (pos + nl > len || memcmp(buf + pos, set->needles[i], nl) != 0)
                continue;
            if ((count_mask >> i) & 1) {
                counts[i]++;
                continue;
            }
            if (out->len == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 64;
                out->hits = realloc(out->hits, out->cap * sizeof *out->hits);
                if (!out->hits) {
                    fprintf(stderr, "out of memory\n");
                    exit(2);
                }
            }
            out->hits[out->len].offset = pos;
            out->hits[out->len].needle = (unsigned)i;
            out->len++;
        }
    }
}

static int hits_equal(const prefilter_hits *a, size_t a_from, const prefilter_hits *b)
{
    if (a->len - a_from != b->len)
        return 0;
    for (size_t i = 0; i < b->len; i++)
        if (a->hits[a_from + i].offset != b->hits[i].offset ||
            a->hits[a_from + i].needle != b->hits[i].needle)
            return 0;
    return 1;
}

static int sorted_from(const prefilter_hits *h, size_t from)
{
    for (size_t i = from + 1; i < h->len; i++)
        if (h->hits[i - 1].offset > h->hits[i].offset ||
            (h->hits[i - 1].offset == h->hits[i].offset &&
             h->hits[i - 1].needle >= h->hits[i].needle))
            return 0;
    return 1;
}

static void dump_mismatch(const needle_set *set, size_t len, size_t from, size_t to,
                          uint32_t mask, const prefilter_hits *got, size_t got_from,
                          const prefilter_hits *want)
{
    if (failed > 40)
        return;
    fprintf(stderr, "  set %s, len %zu, from %zu, to %zu, count_mask %#x: got %zu hits, want %zu\n",
            set->name, len, from, to, mask, got->len - got_from, want->len);
    for (size_t i = 0; i < want->len && i < 8; i++)
        fprintf(stderr, "    want (%zu, needle %u)\n", want->hits[i].offset, want->hits[i].needle);
    for (size_t i = got_from; i < got->len && i < got_from + 8; i++)
        fprintf(stderr, "    got  (%zu, needle %u)\n", got->hits[i].offset, got->hits[i].needle);
}

/*
 * One scan, compared with the reference: the listed hits (appended after
 * whatever out already held, which must stay untouched), their order, and
 * the counts (added to what counts[] already held).
 */
static void check_scan(const prefilter *pf, const needle_set *set, const uint8_t *buf,
                       size_t len, size_t from, size_t to, uint32_t mask, int preload)
{
    prefilter_hits got = {0}, want = {0};
    uint64_t counts[PREFILTER_MAX_NEEDLES], want_counts[PREFILTER_MAX_NEEDLES];
    for (size_t i = 0; i < PREFILTER_MAX_NEEDLES; i++)
        counts[i] = want_counts[i] = 1000 + i;
    size_t before = 0;
    if (preload) {
        /* Hits of an earlier scan: kept as they are, never re-sorted. */
        got.hits = malloc(3 * sizeof *got.hits);
        got.cap = 3;
        got.len = before = 3;
        for (size_t i = 0; i < 3; i++) {
            got.hits[i].offset = 1000000 - i;
            got.hits[i].needle = 7;
        }
    }
    int rc = prefilter_scan(pf, buf, len, from, to, mask, counts, &got);
    naive_scan(set, buf, len, from, to, mask, want_counts, &want);
    CHECK(rc == 0);
    int same = hits_equal(&got, before, &want);
    CHECK(same);
    if (!same)
        dump_mismatch(set, len, from, to, mask, &got, before, &want);
    CHECK(sorted_from(&got, before));
    CHECK(memcmp(counts, want_counts, sizeof counts) == 0);
    if (preload)
        CHECK(got.hits[0].offset == 1000000 && got.hits[1].offset == 999999 &&
              got.hits[2].offset == 999998 && got.hits[2].needle == 7);
    prefilter_hits_free(&got);
    prefilter_hits_free(&want);
}

/* A random buffer over the set's alphabet, with needles planted at random
 * offsets, at 0, at the very end and across 16-byte boundaries (so across
 * the blocks of 16- and 32-byte vector loops alike). */
static uint8_t *make_buffer(const needle_set *set, size_t len)
{
    uint8_t *buf = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)set->alphabet[rnd_below(set->alphabet_len)];
    size_t plants = rnd_below(6);
    for (size_t p = 0; p < plants; p++) {
        const char *nd = set->needles[rnd_below(set->n)];
        size_t nl = strlen(nd);
        if (nl > len)
            continue;
        size_t at;
        switch (rnd_below(5)) {
        case 0:
            at = 0;
            break;
        case 1:
            at = len - nl;
            break;
        case 2: {
            /* straddle a 16-byte boundary by 1..nl-1 bytes */
            size_t boundary = 16 * (1 + rnd_below(len / 16 + 1));
            size_t back = 1 + rnd_below(nl - 1);
            at = boundary >= back ? boundary - back : 0;
            break;
        }
        default:
            at = rnd_below(len - nl + 1);
            break;
        }
        if (at + nl > len)
            at = len - nl;
        memcpy(buf + at, nd, nl);
    }
    return buf;
}

/* ---- needle sets -------------------------------------------------------- */

#define ALPHABET(s) s, sizeof(s) - 1

static const needle_set sets[] = {
    {"cloudtrail",
     {"\"organizations.", "\"eventVersion", "\"digestStartTime\""},
     3,
     ALPHABET("\"organizatiosevVrdgSTm.")},
    {"short overlapping",
     {"aa", "aaa", "ab", "ba", "aab", "bab"},
     6,
     ALPHABET("abc")},
    {"sixteen, 2 to 64 bytes",
     {"aa", "ab", "ba", "bb", "aab", "abb", "bba", "aaaa", "abab", "baba",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "abababababababababababababababababababababababababababababababab",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "bbbbbbbbbbbbbbbba", "\"a", "a\""},
     16,
     ALPHABET("ab\"")},
    {"high bytes and NUL in the buffer",
     {"\xff\xfe", "\x80" "a\x80", "\xfe\xff\xfe", "\x01\x7f"},
     4,
     ALPHABET("\xff\xfe\x80" "a\x01\x7f\0")},
    {"one needle",
     {"\"eventVersion"},
     1,
     ALPHABET("\"eventVrsion")},
};

/* ---- tests -------------------------------------------------------------- */

static void test_create_rejects(void)
{
    cur_case = "create";
    const char *ok2[] = {"ab"};
    const char *too_short[] = {"ab", "a"};
    const char *empty[] = {""};
    char n64[65], n65[66];
    memset(n64, 'x', 64);
    n64[64] = '\0';
    memset(n65, 'x', 65);
    n65[65] = '\0';
    const char *max_len[] = {"ab", n64};
    const char *over_len[] = {n65, "ab"};
    const char *sixteen[PREFILTER_MAX_NEEDLES + 1];
    for (size_t i = 0; i <= PREFILTER_MAX_NEEDLES; i++)
        sixteen[i] = "\"eventVersion";

    CHECK(prefilter_create(ok2, 0) == NULL);
    CHECK(prefilter_create(sixteen, PREFILTER_MAX_NEEDLES + 1) == NULL);
    CHECK(prefilter_create(too_short, 2) == NULL);
    CHECK(prefilter_create(empty, 1) == NULL);
    CHECK(prefilter_create(over_len, 2) == NULL);

    prefilter *pf = prefilter_create(ok2, 1);
    CHECK(pf != NULL);
    CHECK(pf && prefilter_max_len(pf) == 2);
    prefilter_free(pf);

    pf = prefilter_create(max_len, 2);
    CHECK(pf != NULL);
    CHECK(pf && prefilter_max_len(pf) == 64);
    prefilter_free(pf);

    pf = prefilter_create(sixteen, PREFILTER_MAX_NEEDLES);
    CHECK(pf != NULL);
    CHECK(pf && prefilter_max_len(pf) == strlen("\"eventVersion"));
    prefilter_free(pf);

    prefilter_free(NULL);
    prefilter_hits empty_hits = {0};
    prefilter_hits_free(&empty_hits);
    CHECK(empty_hits.hits == NULL && empty_hits.len == 0 && empty_hits.cap == 0);
}

/* The needles are copied: changing the caller's strings later changes nothing. */
static void test_needles_copied(void)
{
    cur_case = "needles copied";
    char a[] = "\"organizations.";
    char b[] = "\"eventVersion";
    const char *nd[] = {a, b};
    prefilter *pf = prefilter_create(nd, 2);
    CHECK(pf != NULL);
    if (!pf)
        return;
    memset(a, 'z', sizeof a - 1);
    memset(b, 'z', sizeof b - 1);
    static const char text[] = "{\"eventVersion\":\"1.08\",\"eventSource\":\"organizations.amazonaws.com\"}";
    size_t len = sizeof text - 1;
    uint8_t *buf = malloc(len);
    memcpy(buf, text, len);
    prefilter_hits h = {0};
    CHECK(prefilter_scan(pf, buf, len, 0, len, 0, NULL, &h) == 0);
    CHECK(h.len == 2);
    CHECK(h.len == 2 && h.hits[0].offset == 1 && h.hits[0].needle == 1);
    CHECK(h.len == 2 && h.hits[1].offset == 37 && h.hits[1].needle == 0);
    prefilter_hits_free(&h);
    CHECK(h.hits == NULL && h.len == 0 && h.cap == 0);
    free(buf);
    prefilter_free(pf);
}

/* Hand-made edge cases around from, to and len. */
static void test_bounds(void)
{
    cur_case = "bounds";
    const char *nd[] = {"\"eventVersion"};
    const size_t nl = 13;
    prefilter *pf = prefilter_create(nd, 1);
    CHECK(pf != NULL);
    if (!pf)
        return;
    uint8_t *buf = malloc(64);
    memset(buf, ' ', 64);
    memcpy(buf + 10, nd[0], nl);   /* bytes 10..22 */
    prefilter_hits h = {0};

#define HITS(len_, from_, to_)                                                \
    (prefilter_hits_free(&h), prefilter_scan(pf, buf, (len_), (from_), (to_), 0, NULL, &h), h.len)

    CHECK(HITS(64, 0, 64) == 1 && h.hits[0].offset == 10);
    CHECK(HITS(64, 10, 11) == 1);            /* starts at from */
    CHECK(HITS(64, 0, 11) == 1);             /* starts before to, ends after it */
    CHECK(HITS(23, 0, 11) == 1);             /* ends exactly at len */
    CHECK(HITS(23, 0, 23) == 1);
    CHECK(HITS(22, 0, 22) == 0);             /* would end after len */
    CHECK(HITS(22, 0, 11) == 0);
    CHECK(HITS(64, 0, 10) == 0);             /* starts at to */
    CHECK(HITS(64, 11, 64) == 0);            /* starts before from */
    CHECK(HITS(64, 10, 10) == 0);            /* empty range */
    CHECK(HITS(64, 64, 64) == 0);
    CHECK(HITS(0, 0, 0) == 0);               /* empty buffer */
    CHECK(HITS(12, 0, 12) == 0);             /* buffer shorter than the needle */
    CHECK(HITS(1, 0, 1) == 0);

    /* A needle at offset 0 and one ending at the very end. */
    memset(buf, ' ', 64);
    memcpy(buf, nd[0], nl);
    memcpy(buf + 64 - nl, nd[0], nl);
    CHECK(HITS(64, 0, 64) == 2 && h.hits[0].offset == 0 && h.hits[1].offset == 64 - nl);
    CHECK(HITS(64, 0, 64 - nl) == 1);
    CHECK(HITS(64, 1, 64 - nl + 1) == 1 && h.hits[0].offset == 64 - nl);
    /* A buffer exactly one needle long. */
    CHECK(HITS(nl, 0, nl) == 1 && h.hits[0].offset == 0);
    CHECK(HITS(nl, 0, 1) == 1);
    CHECK(HITS(nl, 1, nl) == 0);
#undef HITS

    prefilter_hits_free(&h);
    free(buf);
    prefilter_free(pf);

    /* Overlapping occurrences: "aa" in "aaaa" is at 0, 1 and 2. */
    cur_case = "overlapping";
    const char *aa[] = {"aa"};
    pf = prefilter_create(aa, 1);
    CHECK(pf != NULL);
    if (!pf)
        return;
    uint8_t *a4 = malloc(4);
    memcpy(a4, "aaaa", 4);
    CHECK(prefilter_scan(pf, a4, 4, 0, 4, 0, NULL, &h) == 0);
    CHECK(h.len == 3 && h.hits[0].offset == 0 && h.hits[1].offset == 1 && h.hits[2].offset == 2);
    prefilter_hits_free(&h);
    uint64_t count = 5;
    CHECK(prefilter_scan(pf, a4, 4, 0, 4, 1, &count, &h) == 0);
    CHECK(h.len == 0 && count == 8);
    free(a4);

    /* A long run of 'a': every offset is a hit, through the vector loop and
     * the scalar tail. */
    for (size_t len = 2; len <= 80; len++) {
        uint8_t *run = malloc(len);
        memset(run, 'a', len);
        prefilter_hits r = {0};
        CHECK(prefilter_scan(pf, run, len, 0, len, 0, NULL, &r) == 0);
        int ok = r.len == len - 1;
        for (size_t i = 0; ok && i < r.len; i++)
            ok = r.hits[i].offset == i && r.hits[i].needle == 0;
        CHECK(ok);
        prefilter_hits_free(&r);
        free(run);
    }
    prefilter_free(pf);
}

/* A needle cut short by the end of the buffer is no hit, and finding that
 * out reads nothing past buf[len) (the buffers are exact-size allocations). */
static void test_truncated_at_end(void)
{
    cur_case = "needle cut by the buffer end";
    for (size_t s = 0; s < sizeof sets / sizeof *sets; s++) {
        const needle_set *set = &sets[s];
        prefilter *pf = prefilter_create(set->needles, set->n);
        if (!pf) {
            CHECK(pf != NULL);
            continue;
        }
        for (size_t i = 0; i < set->n; i++) {
            size_t nl = strlen(set->needles[i]);
            for (size_t lead = 0; lead <= 40; lead += 1 + lead / 4) {
                for (size_t cut = 1; cut < nl; cut++) {
                    /* lead filler bytes, then the needle minus its last cut bytes */
                    size_t len = lead + nl - cut;
                    uint8_t *buf = malloc(len);
                    memset(buf, '~', lead);
                    memcpy(buf + lead, set->needles[i], nl - cut);
                    check_scan(pf, set, buf, len, 0, len, 0, 0);
                    free(buf);
                }
            }
        }
        prefilter_free(pf);
    }
}

/* Hits of several needles come out in offset order, whatever the needle order. */
static void test_sorted_across_needles(void)
{
    cur_case = "sorted across needles";
    const char *nd[] = {"zz", "yy", "xx"};
    prefilter *pf = prefilter_create(nd, 3);
    CHECK(pf != NULL);
    if (!pf)
        return;
    static const char text[] = "xx..yy..zz..zz..yy..xxyyzz...................................xx";
    size_t len = sizeof text - 1;
    uint8_t *buf = malloc(len);
    memcpy(buf, text, len);
    prefilter_hits h = {0};
    CHECK(prefilter_scan(pf, buf, len, 0, len, 0, NULL, &h) == 0);
    static const size_t want_off[] = {0, 4, 8, 12, 16, 20, 22, 24, 0 /* len - 2 */};
    static const unsigned want_nd[] = {2, 1, 0, 0, 1, 2, 1, 0, 2};
    CHECK(h.len == 9);
    int ok = h.len == 9;
    for (size_t i = 0; ok && i < 9; i++)
        ok = h.hits[i].offset == (i == 8 ? len - 2 : want_off[i]) && h.hits[i].needle == want_nd[i];
    CHECK(ok);
    prefilter_hits_free(&h);

    /* Only "yy" listed, the others counted. */
    uint64_t counts[3] = {0, 0, 0};
    CHECK(prefilter_scan(pf, buf, len, 0, len, 0x5, counts, &h) == 0);
    CHECK(h.len == 3 && h.hits[0].offset == 4 && h.hits[1].offset == 16 &&
          h.hits[2].offset == 22);
    CHECK(counts[0] == 3 && counts[1] == 0 && counts[2] == 3);
    prefilter_hits_free(&h);

    /* Everything counted: nothing listed, counts exact. */
    memset(counts, 0, sizeof counts);
    CHECK(prefilter_scan(pf, buf, len, 0, len, 0x7, counts, &h) == 0);
    CHECK(h.len == 0 && counts[0] == 3 && counts[1] == 3 && counts[2] == 3);
    prefilter_hits_free(&h);
    free(buf);
    prefilter_free(pf);
}

/* Random buffers against the reference, over many (from, to, len). */
static void test_random(void)
{
    for (size_t s = 0; s < sizeof sets / sizeof *sets; s++) {
        const needle_set *set = &sets[s];
        cur_case = set->name;
        prefilter *pf = prefilter_create(set->needles, set->n);
        CHECK(pf != NULL);
        if (!pf)
            continue;
        size_t maxlen = 0;
        for (size_t i = 0; i < set->n; i++)
            if (strlen(set->needles[i]) > maxlen)
                maxlen = strlen(set->needles[i]);
        CHECK(prefilter_max_len(pf) == maxlen);

        for (int iter = 0; iter < 250; iter++) {
            size_t len = iter < 70 ? (size_t)iter : rnd_below(iter % 10 == 0 ? 1200 : 200);
            uint8_t *buf = make_buffer(set, len);
            size_t froms[6] = {0, 0, 1, rnd_below(len + 1), rnd_below(len + 1), len};
            for (int f = 0; f < 6; f++) {
                size_t from = froms[f] > len ? len : froms[f];
                size_t tos[5] = {len, from, from + 1, from + rnd_below(len - from + 1),
                                 len > maxlen ? len - rnd_below(maxlen) : from};
                for (int t = 0; t < 5; t++) {
                    size_t to = tos[t] > len ? len : tos[t];
                    if (to < from)
                        to = from;
                    uint32_t mask = 0;
                    switch ((iter + f + t) % 4) {
                    case 1:
                        mask = (uint32_t)rnd() & ((1u << set->n) - 1);
                        break;
                    case 2:
                        mask = (1u << set->n) - 1;   /* all counted */
                        break;
                    default:
                        break;
                    }
                    check_scan(pf, set, buf, len, from, to, mask, (iter + t) % 3 == 0);
                }
            }
            free(buf);
        }
        prefilter_free(pf);
    }
}

/* Scanning a buffer window by window, [from, to) consecutive and buf[len)
 * the whole buffer, finds exactly what one scan of the whole finds. */
static void test_windows(void)
{
    for (size_t s = 0; s < sizeof sets / sizeof *sets; s++) {
        const needle_set *set = &sets[s];
        cur_case = "windows";
        prefilter *pf = prefilter_create(set->needles, set->n);
        if (!pf) {
            CHECK(pf != NULL);
            continue;
        }
        for (int iter = 0; iter < 30; iter++) {
            size_t len = 1 + rnd_below(700);
            uint8_t *buf = make_buffer(set, len);
            prefilter_hits whole = {0}, pieces = {0};
            CHECK(prefilter_scan(pf, buf, len, 0, len, 0, NULL, &whole) == 0);
            for (size_t from = 0; from < len;) {
                size_t to = from + 1 + rnd_below(40);
                if (to > len)
                    to = len;
                CHECK(prefilter_scan(pf, buf, len, from, to, 0, NULL, &pieces) == 0);
                from = to;
            }
            int same = hits_equal(&pieces, 0, &whole);
            CHECK(same);
            prefilter_hits_free(&whole);
            prefilter_hits_free(&pieces);
            free(buf);
        }
        prefilter_free(pf);
    }
}

int main(void)
{
    test_create_rejects();
    test_needles_copied();
    test_bounds();
    test_truncated_at_end();
    test_sorted_across_needles();
    test_random();
    test_windows();

    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
