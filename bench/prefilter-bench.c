/*
 * prefilter-bench: GB/s of prefilter_scan over a large buffer of realistic
 * CloudTrail text, for 2, 10, 30 and 50 needles, per implementation.
 *
 * Not part of the CMake build. Build by hand against the prefilter under
 * test (the same source also builds against the old 16-needle API, which
 * has no PREFILTER_NOCASE: it then times the old code, with several
 * prefilters of at most 16 needles where a set is larger):
 *
 *   gcc -std=gnu11 -O2 -march=x86-64 -Isrc bench/prefilter-bench.c src/prefilter.c -o /tmp/pfb
 *
 * Input: decoded CloudTrail JSON, e.g.
 *   build/orgtrail-gen --seed 7 --files 300 --events 500 /tmp/pfc
 *   find /tmp/pfc/AWSLogs -name '*.gz' | sort | xargs zcat > /tmp/pfc.json
 *   /tmp/pfb /tmp/pfc.json [MiB, default 1024] [runs, default 5] [sets, default 2,scan,10,30,50]
 * Sets: N = the first N needles below; scan = the pair scan.c builds now
 * ("eventVersion counted, "organizations. NOCASE listed). PFB_IMPL=name
 * limits the run to implementations whose name holds it.
 * The file is repeated until the buffer holds MiB mebibytes (0: the file
 * once). The buffer is
 * scanned in 4 MiB windows overlapping by the longest needle less one byte,
 * like scan.c; hits are dropped after each window. Prints the median of
 * runs, and the hit and count totals (equal for every implementation).
 */
#include "prefilter.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef PREFILTER_NOCASE
#define NEW_API 1
#else
#define NEW_API 0
#define PREFILTER_NOCASE 1u
#endif

typedef struct {
    const char *s;
    unsigned flags;
    int counted;
} bench_needle;

/* The first two are scan.c's pair, exactly: listed, counted. */
static const bench_needle all_needles[] = {
    {"\"organizations.", 0, 0},
    {"\"eventVersion", 0, 1},
    {"\"eventName\":\"DeleteBucket\"", 0, 0},
    {"\"CreateUser\"", 0, 0},
    {"\"ConsoleLogin\"", 0, 0},
    {"AssumeRole", 0, 0},
    {"\"eventName\":\"StopLogging\"", 0, 0},
    {"\"eventName\":\"DeleteTrail\"", 0, 0},
    {"deleteflowlogs", PREFILTER_NOCASE, 0},
    {"\"eventName\":\"PutBucketPolicy\"", 0, 0},
    /* 10 */
    {"\"eventName\":\"CreateAccessKey\"", 0, 0},
    {"\"eventName\":\"AttachUserPolicy\"", 0, 0},
    {"\"eventName\":\"PutUserPolicy\"", 0, 0},
    {"\"eventName\":\"UpdateTrail\"", 0, 0},
    {"\"eventName\":\"DeleteDetector\"", 0, 0},
    {"\"eventName\":\"DisableKey\"", 0, 0},
    {"\"eventName\":\"ScheduleKeyDeletion\"", 0, 0},
    {"\"eventName\":\"AuthorizeSecurityGroupIngress\"", 0, 0},
    {"\"eventName\":\"CreateLoginProfile\"", 0, 0},
    {"\"eventName\":\"UpdateLoginProfile\"", 0, 0},
    {"\"eventName\":\"DeactivateMFADevice\"", 0, 0},
    {"\"eventName\":\"LeaveOrganization\"", 0, 0},
    {"\"eventName\":\"DetachPolicy\"", 0, 0},
    {"\"eventName\":\"DeletePolicy\"", 0, 0},
    {"\"eventName\":\"PutEventSelectors\"", 0, 0},
    {"getsecretvalue", PREFILTER_NOCASE, 0},
    {"\"errorCode\":\"AccessDenied\"", 0, 0},
    {"\"eventName\":\"ModifyInstanceAttribute\"", 0, 0},
    {"\"eventName\":\"CreateNetworkAclEntry\"", 0, 0},
    {"\"type\":\"Root\"", 0, 0},
    /* 30 */
    {"\"eventName\":\"DeleteConfigRule\"", 0, 0},
    {"\"eventName\":\"StopConfigurationRecorder\"", 0, 0},
    {"\"eventName\":\"DisableSecurityHub\"", 0, 0},
    {"\"eventName\":\"DeleteFlowLogs\"", 0, 0},
    {"\"eventName\":\"PutBucketAcl\"", 0, 0},
    {"\"eventName\":\"PutBucketPublicAccessBlock\"", 0, 0},
    {"\"eventName\":\"CreateVirtualMFADevice\"", 0, 0},
    {"\"eventName\":\"EnableMFADevice\"", 0, 0},
    {"\"eventName\":\"DisableRule\"", 0, 0},
    {"\"eventName\":\"DeleteLogGroup\"", 0, 0},
    {"\"eventName\":\"RegisterDelegatedAdministrator\"", 0, 0},
    {"\"eventName\":\"DeregisterDelegatedAdministrator\"", 0, 0},
    {"\"eventName\":\"DisableAWSServiceAccess\"", 0, 0},
    {"\"eventName\":\"CreateAccount\"", 0, 0},
    {"\"eventName\":\"InviteAccountToOrganization\"", 0, 0},
    {"consolelogin", PREFILTER_NOCASE, 0},
    {"\"eventName\":\"CreateRole\"", 0, 0},
    {"\"eventName\":\"UpdateAssumeRolePolicy\"", 0, 0},
    {"stoplogging", PREFILTER_NOCASE, 0},
    {"\"eventName\":\"PutRolePolicy\"", 0, 0},
};
#define ALL_N (sizeof all_needles / sizeof *all_needles)

/* The pair scan.c builds now for the built-in rules: the record counter
 * first, then the rules' needle, case-insensitive (set "scan"). */
static const bench_needle scan_now[] = {
    {"\"eventVersion", 0, 1},
    {"\"organizations.", PREFILTER_NOCASE, 0},
};

#define WINDOW (4u << 20)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One group of prefilters covering a needle set: one prefilter with the
 * new API, ceil(n/16) with the old one. */
typedef struct {
    prefilter *pf[8];
    size_t first[8];     /* index of each prefilter's first needle in the set */
    size_t npf;
    uint64_t mask[8];
    size_t max_len;
} group;

static int make_group(group *g, const bench_needle *list, size_t n, int impl)
{
    memset(g, 0, sizeof *g);
#if NEW_API
    const char *nd[PREFILTER_MAX_NEEDLES];
    unsigned fl[PREFILTER_MAX_NEEDLES];
    for (size_t i = 0; i < n; i++) {
        nd[i] = list[i].s;
        fl[i] = list[i].flags;
        if (list[i].counted)
            g->mask[0] |= 1ull << i;
    }
    g->pf[0] = prefilter_create_ex(nd, fl, n);
    if (!g->pf[0])
        return -1;
    if (impl && prefilter_set_impl(g->pf[0], (enum prefilter_impl)impl) != 0) {
        prefilter_free(g->pf[0]);
        return 1;
    }
    g->npf = 1;
    g->max_len = prefilter_max_len(g->pf[0]);
#else
    (void)impl;
    for (size_t at = 0; at < n; at += PREFILTER_MAX_NEEDLES) {
        size_t m = n - at < PREFILTER_MAX_NEEDLES ? n - at : PREFILTER_MAX_NEEDLES;
        const char *nd[PREFILTER_MAX_NEEDLES];
        for (size_t i = 0; i < m; i++) {
            nd[i] = list[at + i].s;   /* NOCASE needles searched exactly */
            if (list[at + i].counted)
                g->mask[g->npf] |= 1ull << i;
        }
        g->pf[g->npf] = prefilter_create(nd, m);
        if (!g->pf[g->npf])
            return -1;
        g->first[g->npf] = at;
        if (prefilter_max_len(g->pf[g->npf]) > g->max_len)
            g->max_len = prefilter_max_len(g->pf[g->npf]);
        g->npf++;
    }
#endif
    return 0;
}

static void free_group(group *g)
{
    for (size_t i = 0; i < g->npf; i++)
        prefilter_free(g->pf[i]);
}

/* One pass over the whole buffer; returns seconds. */
static double one_pass(const group *g, const uint8_t *buf, size_t total, uint64_t *hits,
                       uint64_t *counts)
{
    prefilter_hits h = {0};
    size_t overlap = g->max_len - 1;
    double t0 = now();
    for (size_t p = 0; p < g->npf; p++) {
        for (size_t off = 0; off < total;) {
            size_t len = total - off < WINDOW ? total - off : WINDOW;
            size_t to = off + len == total ? len : len - overlap;
            h.len = 0;
            if (prefilter_scan(g->pf[p], buf + off, len, 0, to, g->mask[p], counts + g->first[p], &h)) {
                fprintf(stderr, "out of memory\n");
                exit(1);
            }
            *hits += h.len;
            off += to;
        }
    }
    double t = now() - t0;
    prefilter_hits_free(&h);
    return t;
}

static const struct {
    int impl;
    const char *name;
} impls[] = {
#if NEW_API
    {PREFILTER_IMPL_AUTO, "new auto"},
    {PREFILTER_IMPL_RARE_AVX2, "new rare-byte avx2"},
    {PREFILTER_IMPL_TEDDY_AVX2, "new teddy avx2"},
    {PREFILTER_IMPL_TEDDY_SSSE3, "new teddy ssse3"},
    {PREFILTER_IMPL_SCALAR, "new scalar"},
#else
    {0, "old"},
#endif
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [MiB] [runs] [sets]\n", argv[0]);
        return 2;
    }
    size_t mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 1024;
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    const char *sets = argc > 4 ? argv[4] : "2,scan,10,30,50";
    const char *only = getenv("PFB_IMPL");   /* substring of an impl name */

    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    size_t cap = 1 << 20, flen = 0;
    uint8_t *src = malloc(cap);
    size_t r;
    while ((r = fread(src + flen, 1, cap - flen, f)) > 0) {
        flen += r;
        if (flen == cap)
            src = realloc(src, cap *= 2);
    }
    fclose(f);
    if (flen == 0) {
        fprintf(stderr, "empty input\n");
        return 1;
    }
    size_t total = mib ? mib << 20 : flen;   /* 0: the file once, as is */
    uint8_t *buf = malloc(total);
    for (size_t off = 0; off < total; off += flen)
        memcpy(buf + off, src, total - off < flen ? total - off : flen);
    free(src);

    printf("buffer %zu bytes (input %zu bytes, repeated), %d runs, median\n", total, flen, runs);
    printf("%-9s %-22s %8s %8s %12s %12s\n", "needles", "impl", "GB/s", "min s", "hits",
           "counted");
    for (const char *s = sets; *s;) {
        const bench_needle *list = all_needles;
        const char *label = NULL;
        size_t n;
        if (strncmp(s, "scan", 4) == 0) {
            list = scan_now;
            n = sizeof scan_now / sizeof *scan_now;
            label = "2 scan.c";
            s += 4;
        } else {
            n = strtoul(s, (char **)&s, 10);
        }
        while (*s && *s != ',')
            s++;
        if (*s == ',')
            s++;
        if (n < 1 || n > ALL_N)
            continue;
        char name[16];
        if (!label) {
            snprintf(name, sizeof name, "%zu", n);
            label = name;
        }
        for (size_t ii = 0; ii < sizeof impls / sizeof *impls; ii++) {
            if (only && !strstr(impls[ii].name, only))
                continue;
            group g;
            int rc = make_group(&g, list, n, impls[ii].impl);
            if (rc < 0) {
                fprintf(stderr, "create failed for %zu needles\n", n);
                return 1;
            }
            if (rc > 0) {
                printf("%-9s %-22s %8s\n", label, impls[ii].name, "n/a");
                continue;
            }
            double t[64];
            uint64_t hits = 0, counts[ALL_N], counted = 0;
            if (runs > 64)
                runs = 64;
            for (int k = 0; k < runs; k++) {
                hits = 0;
                memset(counts, 0, sizeof counts);
                t[k] = one_pass(&g, buf, total, &hits, counts);
            }
            for (size_t i = 0; i < n; i++)
                counted += counts[i];
            qsort(t, (size_t)runs, sizeof *t, cmp_double);
            double med = t[runs / 2];
            printf("%-9s %-22s %8.2f %8.3f %12llu %12llu%s\n", label, impls[ii].name,
                   (double)total / med / 1e9, t[0], (unsigned long long)hits,
                   (unsigned long long)counted, g.npf > 1 ? "  (several prefilters)" : "");
            fflush(stdout);
            free_group(&g);
        }
    }
    free(buf);
    return 0;
}
