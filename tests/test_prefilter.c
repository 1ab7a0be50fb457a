/*
 * test_prefilter: the raw-byte needle scan (src/prefilter.h).
 *
 * Every scan is checked against a naive compare at every offset, for every
 * implementation this CPU runs (scalar, rare-byte AVX2, Teddy SSSE3, Teddy
 * AVX2), forced with prefilter_set_impl. Buffers are allocated at their
 * exact length, so ASan catches a vector load that reads past buf[len).
 */
#include "check.h"
#include "prefilter.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *cur_impl_name = "auto";
static enum prefilter_impl cur_impl = PREFILTER_IMPL_AUTO;

/* Names the case, and the implementation it runs on, in failure messages. */
static void set_case(const char *name)
{
    static char context[160];
    snprintf(context, sizeof context, "%s, %s", name, cur_impl_name);
    check_context = context;
}

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_state = 0x243F6A8885A308D3ull;

static uint64_t rnd(void)
{
    return check_rand(&rng_state);
}

static size_t rnd_below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static uint64_t all_bits(size_t n)
{
    return n >= 64 ? ~0ull : (1ull << n) - 1;
}

#define NC PREFILTER_NOCASE

typedef struct {
    const char *name;
    const char *needles[PREFILTER_MAX_NEEDLES];
    size_t n;
    const char *alphabet;   /* random buffer bytes (a NUL in it is a byte too) */
    size_t alphabet_len;
    unsigned flags[PREFILTER_MAX_NEEDLES];
    const char *const *vocab;   /* when set, buffers are runs of these instead */
    int iters;                  /* random buffers (0: the default) */
} needle_set;

/* Creates a prefilter for the needles and forces the implementation under
 * test. */
static prefilter *pf_create_ex(const char *const *needles, const unsigned *flags, size_t n)
{
    prefilter *pf = prefilter_create_ex(needles, flags, n);
    if (pf && prefilter_set_impl(pf, cur_impl) != 0) {
        fprintf(stderr, "cannot force %s\n", cur_impl_name);
        exit(2);
    }
    return pf;
}

static prefilter *pf_create(const char *const *needles, size_t n)
{
    return pf_create_ex(needles, NULL, n);
}

static prefilter *pf_create_set(const needle_set *set)
{
    return pf_create_ex(set->needles, set->flags, set->n);
}

static int is_alpha(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static uint8_t to_lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

/* The definition: NOCASE letters match either case, every other byte itself. */
static int naive_match(const char *nd, size_t nl, unsigned flags, const uint8_t *p)
{
    for (size_t i = 0; i < nl; i++) {
        uint8_t a = p[i], b = (uint8_t)nd[i];
        if ((flags & NC) && is_alpha(b) ? to_lower(a) != to_lower(b) : a != b)
            return 0;
    }
    return 1;
}

static void push_hit(prefilter_hits *out, size_t pos, unsigned needle)
{
    if (out->len == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 64;
        out->hits = realloc(out->hits, out->cap * sizeof *out->hits);
        if (!out->hits) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
    }
    out->hits[out->len].offset = pos;
    out->hits[out->len].needle = needle;
    out->len++;
}

/* The reference: every occurrence of every listed needle that starts in
 * [from, to) and ends within len, sorted by offset then needle; counted
 * needles are added to counts[]. */
static void naive_scan(const needle_set *set, const uint8_t *buf, size_t len, size_t from,
                       size_t to, uint64_t count_mask, uint64_t *counts, prefilter_hits *out)
{
    for (size_t pos = from; pos < to; pos++) {
        for (size_t i = 0; i < set->n; i++) {
            size_t nl = strlen(set->needles[i]);
            if (pos + nl > len || !naive_match(set->needles[i], nl, set->flags[i], buf + pos))
                continue;
            if ((count_mask >> i) & 1) {
                counts[i]++;
                continue;
            }
            push_hit(out, pos, (unsigned)i);
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
                          uint64_t mask, const prefilter_hits *got, size_t got_from,
                          const prefilter_hits *want)
{
    if (failed > 40)
        return;
    fprintf(stderr, "  set %s, len %zu, from %zu, to %zu, count_mask %#llx: got %zu hits, want %zu\n",
            set->name, len, from, to, (unsigned long long)mask, got->len - got_from, want->len);
    size_t i = 0;
    while (i < want->len && i + got_from < got->len &&
           want->hits[i].offset == got->hits[got_from + i].offset &&
           want->hits[i].needle == got->hits[got_from + i].needle)
        i++;
    fprintf(stderr, "  first difference at hit %zu\n", i);
    for (size_t k = i; k < want->len && k < i + 8; k++)
        fprintf(stderr, "    want (%zu, needle %u)\n", want->hits[k].offset, want->hits[k].needle);
    for (size_t k = got_from + i; k < got->len && k < got_from + i + 8; k++)
        fprintf(stderr, "    got  (%zu, needle %u)\n", got->hits[k].offset, got->hits[k].needle);
}

/*
 * One scan, compared with the reference: the listed hits (appended after
 * whatever out already held, which must stay untouched), their order, and
 * the counts (added to what counts[] already held).
 */
static void check_scan(const prefilter *pf, const needle_set *set, const uint8_t *buf,
                       size_t len, size_t from, size_t to, uint64_t mask, int preload)
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

/* Writes needle i of the set at buf + at: NOCASE letters in random case,
 * and now and then an exact needle with one letter's case flipped or its
 * last byte changed (a near miss). */
static void plant(const needle_set *set, size_t i, uint8_t *buf, size_t at)
{
    const char *nd = set->needles[i];
    size_t nl = strlen(nd);
    memcpy(buf + at, nd, nl);
    if (set->flags[i] & NC) {
        for (size_t k = 0; k < nl; k++)
            if (is_alpha(buf[at + k]) && (rnd() & 1))
                buf[at + k] ^= 0x20;
    } else if (rnd_below(6) == 0) {
        size_t k = rnd_below(nl);
        if (is_alpha(buf[at + k]))
            buf[at + k] ^= 0x20;
        else
            buf[at + nl - 1] ^= 1;
    }
}

/* A random buffer over the set's alphabet (or a run of its vocabulary),
 * with needles planted at random offsets, at 0, at the very end and across
 * 16-byte boundaries (so across the blocks of 16- and 32-byte vector loops
 * alike). */
static uint8_t *make_buffer(const needle_set *set, size_t len)
{
    uint8_t *buf = malloc(len ? len : 1);
    if (set->vocab) {
        size_t nv = 0;
        while (set->vocab[nv])
            nv++;
        for (size_t i = 0; i < len;) {
            const char *w = set->vocab[rnd_below(nv)];
            for (size_t k = 0; w[k] && i < len; k++)
                buf[i++] = (uint8_t)w[k];
        }
    } else {
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)set->alphabet[rnd_below(set->alphabet_len)];
    }
    size_t plants = rnd_below(set->n > 16 ? 12 : 6);
    for (size_t p = 0; p < plants; p++) {
        size_t i = rnd_below(set->n);
        size_t nl = strlen(set->needles[i]);
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
        plant(set, i, buf, at);
    }
    return buf;
}

/* ---- needle sets -------------------------------------------------------- */

#define ALPHABET(s) s, sizeof(s) - 1

static const char *const ct_vocab[] = {
    "{\"eventVersion\":\"1.08\",", "\"eventName\":\"", "\"eventSource\":\"", "organizations.",
    "amazonaws.com\",", "Delete", "Bucket", "Trail", "Policy", "\"", "\":\"", "\",", "Create",
    "User", "Console", "Login", "Assume", "Role", "Put", "Get", "Describe", "Instances", "Stop",
    "Logging", "DELETE", "delete", "bucket", "LOGIN", "\"type\":\"Root\"", "Access", "Denied",
    "\"errorCode\":\"", "Key", "MFA", "Device", "Organization", "Leave", "}", "{", ",", "x",
    "Detach", "Attach", "Secret", "Value", "getsecretvalue", "GetSecretValue", "\xc3\xa9", NULL,
};

static needle_set sets[] = {
    {"cloudtrail",
     {"\"organizations.", "\"eventVersion", "\"digestStartTime\""},
     3,
     ALPHABET("\"organizatiosevVrdgSTm."), {0}, NULL, 0},
    {"short overlapping",
     {"aa", "aaa", "ab", "ba", "aab", "bab"},
     6,
     ALPHABET("abc"), {0}, NULL, 0},
    {"sixteen, 2 to 64 bytes",
     {"aa", "ab", "ba", "bb", "aab", "abb", "bba", "aaaa", "abab", "baba",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "abababababababababababababababababababababababababababababababab",
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "bbbbbbbbbbbbbbbba", "\"a", "a\""},
     16,
     ALPHABET("ab\""), {0}, NULL, 0},
    {"high bytes and NUL in the buffer",
     {"\xff\xfe", "\x80" "a\x80", "\xfe\xff\xfe", "\x01\x7f"},
     4,
     ALPHABET("\xff\xfe\x80" "a\x01\x7f\0"), {0}, NULL, 0},
    {"one needle",
     {"\"eventVersion"},
     1,
     ALPHABET("\"eventVrsion"), {0}, NULL, 0},
    {"scan.c's pair",
     {"\"organizations.", "\"eventVersion"},
     2,
     ALPHABET("\"organizatiosevVrdgSTm.:{},"), {0}, NULL, 0},
    /* High bytes that share a nibble with the needles' bytes, which never
     * hold one: PSHUFB on such a byte must not make a match. */
    {"ascii needles, high bytes around",
     {"abc", "zyx!", "QqQ", "a!z"},
     4,
     ALPHABET("abcxyz!Qq\xe1\xe2\xe3\xfa\xf9\xf8\x81\xa1\x21\xd1"), {0}, NULL, 0},
    /* NOCASE folds letters only: [ and {, @ and `, ^ and ~ differ by 0x20 too. */
    {"nocase",
     {"AbC", "abd", "x[y", "X{Y", "@a", "`A", "ZZZZZZZZZ", "eventname", "\"eventName\":\"",
      "^~", "DeleteTrail", "q1Q"},
     12,
     ALPHABET("aAbBcCdDxXyYzZ[{@`^~\"eEvVnNtTmM:1qQ"),
     {NC, 0, NC, 0, NC, 0, NC, NC, 0, NC, NC, NC}, NULL, 0},
    {"prefixes and suffixes of each other",
     {"abc", "abcd", "abcde", "abcdef", "bcdef", "cdef", "def", "ef", "abcdefabcdef", "fabc",
      "cab", "abca", "ABCDEF", "bc"},
     14,
     ALPHABET("abcdefABC"), {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NC, 0}, NULL, 0},
    {"duplicates",
     {"abc", "abc", "ABC", "abc", "xabcx"},
     5,
     ALPHABET("abcxABC"), {0, NC, 0, NC, 0}, NULL, 0},
    {"shared prefixes, cloudtrail words",
     {"\"eventName\":\"DeleteBucket\"", "\"eventName\":\"DeleteTrail\"", "\"eventName\":\"Delete",
      "\"eventName\":\"", "DeleteTrail\"", "Trail", "\"eventName\":\"DeleteBucketPolicy\"",
      "\"eventName\":\"PutBucketPolicy\"", "Policy\"", "\"type\":\"Root\"", "organizations.",
      "\"organizations.", "deletebucket", "consolelogin", "\"errorCode\":\"AccessDenied\"",
      "AssumeRole", "\"eventVersion", "getsecretvalue"},
     18,
     NULL, 0,
     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NC, NC, 0, 0, 0, NC},
     ct_vocab, 0},
};
#define NSTATIC (sizeof sets / sizeof *sets)

/* Generated sets, built at start. */
static needle_set gen_sets[3];
static char gen_store[3][PREFILTER_MAX_NEEDLES][65];

static const char *const bench_like[] = {
    "\"organizations.", "\"eventVersion", "\"eventName\":\"DeleteBucket\"", "\"CreateUser\"",
    "\"ConsoleLogin\"", "AssumeRole", "\"eventName\":\"StopLogging\"", "\"eventName\":\"DeleteTrail\"",
    "deleteflowlogs", "\"eventName\":\"PutBucketPolicy\"", "\"eventName\":\"CreateAccessKey\"",
    "\"eventName\":\"AttachUserPolicy\"", "\"eventName\":\"PutUserPolicy\"", "\"eventName\":\"UpdateTrail\"",
    "\"eventName\":\"DeleteDetector\"", "\"eventName\":\"DisableKey\"", "\"eventName\":\"ScheduleKeyDeletion\"",
    "\"eventName\":\"AuthorizeSecurityGroupIngress\"", "\"eventName\":\"CreateLoginProfile\"",
    "\"eventName\":\"UpdateLoginProfile\"", "\"eventName\":\"DeactivateMFADevice\"",
    "\"eventName\":\"LeaveOrganization\"", "\"eventName\":\"DetachPolicy\"", "\"eventName\":\"DeletePolicy\"",
    "\"eventName\":\"PutEventSelectors\"", "getsecretvalue", "\"errorCode\":\"AccessDenied\"",
    "\"eventName\":\"ModifyInstanceAttribute\"", "\"eventName\":\"CreateNetworkAclEntry\"",
    "\"type\":\"Root\"", "\"eventName\":\"DeleteConfigRule\"", "\"eventName\":\"StopConfigurationRecorder\"",
    "\"eventName\":\"DisableSecurityHub\"", "\"eventName\":\"DeleteFlowLogs\"", "\"eventName\":\"PutBucketAcl\"",
    "\"eventName\":\"PutBucketPublicAccessBlock\"", "\"eventName\":\"CreateVirtualMFADevice\"",
    "\"eventName\":\"EnableMFADevice\"", "\"eventName\":\"DisableRule\"", "\"eventName\":\"DeleteLogGroup\"",
    "\"eventName\":\"RegisterDelegatedAdministrator\"", "\"eventName\":\"DeregisterDelegatedAdministrator\"",
    "\"eventName\":\"DisableAWSServiceAccess\"", "\"eventName\":\"CreateAccount\"",
    "\"eventName\":\"InviteAccountToOrganization\"", "consolelogin", "\"eventName\":\"CreateRole\"",
    "\"eventName\":\"UpdateAssumeRolePolicy\"", "stoplogging", "\"eventName\":\"PutRolePolicy\"",
    "Trail", "Bucket\"", "\"eventName\":\"Delete", "DeleteTrail\"", "Policy", "Role\"", "ee",
    "\":\"", "MFA", "LOGIN", "xyz", "\"eventName\":\"Get", "Organization\"", "ab",
};

static void make_gen_sets(void)
{
    /* 64 needles, lengths 2..64 (many short, some long), a third NOCASE,
     * over a small alphabet: many hits, many of them overlapping. */
    needle_set *g = &gen_sets[0];
    g->name = "64 random, 2 to 64 bytes, some NOCASE";
    g->n = PREFILTER_MAX_NEEDLES;
    g->alphabet = "abAB\"x";
    g->alphabet_len = 6;
    g->iters = 90;
    for (size_t i = 0; i < g->n; i++) {
        size_t nl = i < 16 ? 2 + rnd_below(3) : i < 48 ? 5 + rnd_below(20) : 25 + rnd_below(40);
        if (i == 20)
            nl = 64;
        for (size_t k = 0; k < nl; k++)
            gen_store[0][i][k] = g->alphabet[rnd_below(i < 16 ? 3 : 6)];
        gen_store[0][i][nl] = '\0';
        g->needles[i] = gen_store[0][i];
        g->flags[i] = rnd_below(3) == 0 ? NC : 0;
    }

    /* 64 CloudTrail-like needles over CloudTrail-like text. */
    g = &gen_sets[1];
    g->name = "64 cloudtrail-like";
    g->n = sizeof bench_like / sizeof *bench_like;
    g->vocab = ct_vocab;
    g->iters = 90;
    for (size_t i = 0; i < g->n; i++) {
        g->needles[i] = bench_like[i];
        g->flags[i] = i % 5 == 3 ? NC : 0;
    }

    /* 64 needles that are prefixes and suffixes of one 64-byte string. */
    g = &gen_sets[2];
    g->name = "64 prefixes and suffixes of one string";
    g->n = PREFILTER_MAX_NEEDLES;
    g->alphabet = "abcdAB";
    g->alphabet_len = 6;
    g->iters = 60;
    char base[65];
    for (size_t k = 0; k < 64; k++)
        base[k] = "abcd"[rnd_below(4)];
    base[64] = '\0';
    for (size_t i = 0; i < g->n; i++) {
        size_t nl = 2 + i % 32 + (i >= 62 ? 30 : 0);
        if (i % 2 == 0)
            memcpy(gen_store[2][i], base, nl);             /* a prefix */
        else
            memcpy(gen_store[2][i], base + 64 - nl, nl);   /* a suffix */
        gen_store[2][i][nl] = '\0';
        g->needles[i] = gen_store[2][i];
        g->flags[i] = i % 7 == 0 ? NC : 0;
    }
}

/* Every set, static and generated. */
static needle_set *set_at(size_t i)
{
    return i < NSTATIC ? &sets[i] : &gen_sets[i - NSTATIC];
}
#define NSETS (NSTATIC + sizeof gen_sets / sizeof *gen_sets)

/* ---- tests -------------------------------------------------------------- */

static void test_create_rejects(void)
{
    set_case("create");
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
    const char *many[PREFILTER_MAX_NEEDLES + 1];
    for (size_t i = 0; i <= PREFILTER_MAX_NEEDLES; i++)
        many[i] = "\"eventVersion";

    CHECK(PREFILTER_MAX_NEEDLES >= 64);
    CHECK(prefilter_create(ok2, 0) == NULL);
    CHECK(prefilter_create(many, PREFILTER_MAX_NEEDLES + 1) == NULL);
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

    pf = prefilter_create(many, PREFILTER_MAX_NEEDLES);
    CHECK(pf != NULL);
    CHECK(pf && prefilter_max_len(pf) == strlen("\"eventVersion"));
    prefilter_free(pf);

    /* flags: NULL is all 0, unknown bits are refused */
    unsigned fl[2] = {PREFILTER_NOCASE, 0};
    pf = prefilter_create_ex(max_len, fl, 2);
    CHECK(pf != NULL);
    prefilter_free(pf);
    pf = prefilter_create_ex(max_len, NULL, 2);
    CHECK(pf != NULL);
    prefilter_free(pf);
    unsigned bad[2] = {0, 2};
    CHECK(prefilter_create_ex(max_len, bad, 2) == NULL);
    unsigned bad2[2] = {PREFILTER_NOCASE | 0x80000000u, 0};
    CHECK(prefilter_create_ex(max_len, bad2, 2) == NULL);
    CHECK(prefilter_create_ex(too_short, fl, 2) == NULL);

    /* implementations: AUTO resolves to a real one; forcing one sticks */
    pf = prefilter_create(max_len, 2);
    CHECK(pf && prefilter_get_impl(pf) != PREFILTER_IMPL_AUTO);
    CHECK(pf && prefilter_set_impl(pf, PREFILTER_IMPL_SCALAR) == 0);
    CHECK(pf && prefilter_get_impl(pf) == PREFILTER_IMPL_SCALAR);
    CHECK(pf && prefilter_set_impl(pf, PREFILTER_IMPL_AUTO) == 0);
    CHECK(pf && prefilter_get_impl(pf) != PREFILTER_IMPL_AUTO);
    CHECK(pf && prefilter_set_impl(pf, (enum prefilter_impl)99) == -1);
    prefilter_free(pf);

    prefilter_free(NULL);
    prefilter_hits empty_hits = {0};
    prefilter_hits_free(&empty_hits);
    CHECK(empty_hits.hits == NULL && empty_hits.len == 0 && empty_hits.cap == 0);
}

/* The needles are copied: changing the caller's strings later changes nothing. */
static void test_needles_copied(void)
{
    set_case("needles copied");
    char a[] = "\"organizations.";
    char b[] = "\"eventVersion";
    const char *nd[] = {a, b};
    prefilter *pf = pf_create(nd, 2);
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
    set_case("bounds");
    const char *nd[] = {"\"eventVersion"};
    const size_t nl = 13;
    prefilter *pf = pf_create(nd, 1);
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
    CHECK(HITS(64, 11, 5) == 0);             /* from after to */
    CHECK(HITS(23, 0, 1000) == 1);           /* to past len */

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
    set_case("overlapping");
    const char *aa[] = {"aa"};
    pf = pf_create(aa, 1);
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

/* NOCASE by hand: letters fold, nothing else does. */
static void test_nocase(void)
{
    set_case("nocase by hand");
    const char *nd[] = {"AbC", "a[", "x@", "DeleteTrail", "ABC"};
    unsigned fl[] = {NC, NC, NC, NC, 0};
    prefilter *pf = pf_create_ex(nd, fl, 5);
    CHECK(pf != NULL);
    if (!pf)
        return;
    static const struct {
        const char *text;
        size_t off;       /* (size_t)-1: no hit */
        unsigned needle;
    } cases[] = {
        {"..abc..", 2, 0},  {"..ABC..", 2, 0},  {"..aBc..", 2, 0},   {"..abd..", (size_t)-1, 0},
        {"..a[..", 2, 1},   {"..A[..", 2, 1},   {"..a{..", (size_t)-1, 0}, {"..A{..", (size_t)-1, 0},
        {"..x@..", 2, 2},   {"..X@..", 2, 2},   {"..x`..", (size_t)-1, 0},
        {"deletetrail", 0, 3}, {"DELETETRAIL", 0, 3}, {"dELETEtRAIL", 0, 3},
        {"DeleteTrai1", (size_t)-1, 0}, {"DeleteTrail", 0, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t len = strlen(cases[i].text);
        uint8_t *buf = malloc(len);
        memcpy(buf, cases[i].text, len);
        prefilter_hits h = {0};
        CHECK(prefilter_scan(pf, buf, len, 0, len, 0, NULL, &h) == 0);
        /* "ABC" (exact, needle 4) also hits where the text is ABC */
        size_t want = cases[i].off == (size_t)-1 ? 0 : 1;
        if (strstr(cases[i].text, "ABC"))
            want++;
        CHECK(h.len == want);
        if (want && h.len == want)
            CHECK(h.hits[0].offset == cases[i].off && h.hits[0].needle == cases[i].needle);
        prefilter_hits_free(&h);
        free(buf);
    }
    prefilter_free(pf);
}

/* A needle cut short by the end of the buffer is no hit, and finding that
 * out reads nothing past buf[len) (the buffers are exact-size allocations). */
static void test_truncated_at_end(void)
{
    set_case("needle cut by the buffer end");
    for (size_t s = 0; s < NSETS; s++) {
        const needle_set *set = set_at(s);
        prefilter *pf = pf_create_set(set);
        if (!pf) {
            CHECK(pf != NULL);
            continue;
        }
        for (size_t i = 0; i < set->n; i++) {
            size_t nl = strlen(set->needles[i]);
            size_t step = set->n > 16 ? 7 : 1;
            for (size_t lead = (i % 3); lead <= 40; lead += step + lead / 4) {
                for (size_t cut = 1; cut < nl; cut += set->n > 16 ? 1 + cut / 3 : 1) {
                    /* lead filler bytes, then the needle minus its last cut bytes */
                    size_t len = lead + nl - cut;
                    uint8_t *buf = malloc(len);
                    memset(buf, '~', lead);
                    memcpy(buf + lead, set->needles[i], nl - cut);
                    check_scan(pf, set, buf, len, 0, len, 0, 0);
                    /* and whole, at the very end */
                    uint8_t *whole = malloc(lead + nl);
                    memset(whole, '~', lead);
                    memcpy(whole + lead, set->needles[i], nl);
                    check_scan(pf, set, whole, lead + nl, 0, lead + nl, 0, 0);
                    free(whole);
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
    set_case("sorted across needles");
    const char *nd[] = {"zz", "yy", "xx"};
    prefilter *pf = pf_create(nd, 3);
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

/* Many hits at every offset, from needles whose filter windows sit at
 * different offsets inside them: the hits are found out of order and must
 * come out sorted. The 64th needle is counted through bit 63 of the mask. */
static void test_dense(void)
{
    set_case("dense hits");
    needle_set set = {"dense", {0}, PREFILTER_MAX_NEEDLES, ALPHABET("aA"), {0}, NULL, 0};
    static char store[PREFILTER_MAX_NEEDLES][65];
    for (size_t i = 0; i < set.n; i++) {
        size_t nl = 2 + (i * 37) % 63;
        memset(store[i], 'a', nl);
        if (i % 4 == 1)
            store[i][nl - 1] = 'b';   /* never in the buffer */
        store[i][nl] = '\0';
        set.needles[i] = store[i];
        set.flags[i] = i % 3 == 0 ? NC : 0;
    }
    prefilter *pf = pf_create_set(&set);
    CHECK(pf != NULL);
    if (!pf)
        return;
    for (int iter = 0; iter < 6; iter++) {
        size_t len = iter < 3 ? 300 + (size_t)iter * 1000 : rnd_below(200);
        uint8_t *buf = malloc(len ? len : 1);
        for (size_t i = 0; i < len; i++)
            buf[i] = iter % 2 ? 'a' : (uint8_t)"aaaaA"[rnd_below(5)];
        check_scan(pf, &set, buf, len, 0, len, 0, 0);
        check_scan(pf, &set, buf, len, 0, len, 1ull << 63, 1);
        check_scan(pf, &set, buf, len, len / 3, len - len / 5, rnd(), 0);
        free(buf);
    }
    prefilter_free(pf);
}

/* Random buffers against the reference, over many (from, to, len). */
static void test_random(void)
{
    for (size_t s = 0; s < NSETS; s++) {
        const needle_set *set = set_at(s);
        set_case(set->name);
        prefilter *pf = pf_create_set(set);
        CHECK(pf != NULL);
        if (!pf)
            continue;
        size_t maxlen = 0;
        for (size_t i = 0; i < set->n; i++)
            if (strlen(set->needles[i]) > maxlen)
                maxlen = strlen(set->needles[i]);
        CHECK(prefilter_max_len(pf) == maxlen);

        int iters = set->iters ? set->iters : 250;
        for (int iter = 0; iter < iters; iter++) {
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
                    uint64_t mask = 0;
                    switch ((iter + f + t) % 4) {
                    case 1:
                        mask = rnd() & all_bits(set->n);
                        break;
                    case 2:
                        mask = all_bits(set->n);   /* all counted */
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
    for (size_t s = 0; s < NSETS; s++) {
        const needle_set *set = set_at(s);
        set_case("windows");
        prefilter *pf = pf_create_set(set);
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
                size_t to = from + 1 + rnd_below(iter % 2 ? 40 : 150);
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

/* All implementations agree on one large CloudTrail-like buffer, hit for
 * hit, with the 64 CloudTrail-like needles (scan.c's windows: 4 KiB and
 * the longest needle less one byte of overlap). */
static void test_impls_agree(void)
{
    set_case("implementations agree");
    const needle_set *set = &gen_sets[1];
    size_t len = 1 << 18;
    uint8_t *buf = make_buffer(set, len);
    for (size_t i = 0; i < 200; i++)
        plant(set, rnd_below(set->n), buf, rnd_below(len - 64));
    static const enum prefilter_impl impls[] = {PREFILTER_IMPL_SCALAR, PREFILTER_IMPL_RARE_AVX2,
                                                PREFILTER_IMPL_TEDDY_SSSE3, PREFILTER_IMPL_TEDDY_AVX2};
    prefilter_hits ref = {0};
    naive_scan(set, buf, len, 0, len, 0, NULL, &ref);
    CHECK(ref.len > 200);
    for (size_t k = 0; k < sizeof impls / sizeof *impls; k++) {
        prefilter *pf = prefilter_create_ex(set->needles, set->flags, set->n);
        CHECK(pf != NULL);
        if (!pf)
            continue;
        if (prefilter_set_impl(pf, impls[k]) != 0) {
            prefilter_free(pf);
            continue;
        }
        prefilter_hits got = {0};
        size_t overlap = prefilter_max_len(pf) - 1;
        for (size_t off = 0; off < len;) {
            size_t wl = len - off < 4096 ? len - off : 4096;
            size_t to = off + wl == len ? wl : wl - overlap;
            size_t before = got.len;
            CHECK(prefilter_scan(pf, buf + off, wl, 0, to, 0, NULL, &got) == 0);
            for (size_t i = before; i < got.len; i++)
                got.hits[i].offset += off;
            off += to;
        }
        CHECK(hits_equal(&got, 0, &ref));
        prefilter_hits_free(&got);
        prefilter_free(pf);
    }
    prefilter_hits_free(&ref);
    free(buf);
}

static const struct {
    enum prefilter_impl impl;
    const char *name;
} impls[] = {
    {PREFILTER_IMPL_AUTO, "auto"},
    {PREFILTER_IMPL_SCALAR, "scalar"},
    {PREFILTER_IMPL_RARE_AVX2, "rare-byte avx2"},
    {PREFILTER_IMPL_TEDDY_SSSE3, "teddy ssse3"},
    {PREFILTER_IMPL_TEDDY_AVX2, "teddy avx2"},
};

int main(void)
{
    make_gen_sets();
    test_create_rejects();
    for (size_t i = 0; i < sizeof impls / sizeof *impls; i++) {
        const char *probe[] = {"ab"};
        prefilter *pf = prefilter_create(probe, 1);
        int ok = pf && prefilter_set_impl(pf, impls[i].impl) == 0;
        prefilter_free(pf);
        if (!ok) {
            printf("skipped: %s (not on this CPU)\n", impls[i].name);
            continue;
        }
        cur_impl = impls[i].impl;
        cur_impl_name = impls[i].name;
        int before = passed + failed;
        test_needles_copied();
        test_bounds();
        test_nocase();
        test_truncated_at_end();
        test_sorted_across_needles();
        test_dense();
        test_random();
        test_windows();
        printf("%s: %d checks\n", impls[i].name, passed + failed - before);
    }
    cur_impl = PREFILTER_IMPL_AUTO;
    cur_impl_name = "all";
    test_impls_agree();

    return check_summary();
}
