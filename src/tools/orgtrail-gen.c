/*
 * orgtrail-gen: a deterministic generator of realistic CloudTrail archives,
 * used by the tests (small corpora with ground truth) and the benchmarks.
 *
 *   orgtrail-gen --seed S --files N --events M [--org-rate R] [--no-traps]
 *                [--digest N] [--pretty] [--start YYYY-MM-DD] OUT_DIR
 *
 * Same arguments => byte-identical output: the only randomness is an own
 * xoshiro256** PRNG seeded through splitmix64; no clock, no rand(), no locale
 * (the program never calls setlocale, so strtod/snprintf run in the C locale);
 * gzip members are written by hand (mtime 0, no name, XFL 0, OS 3) around a
 * raw deflate stream at a fixed level, window and memLevel. (The deflate bytes
 * are those of the zlib the binary is linked with; stock zlib 1.2.x/1.3.x all
 * produce the same stream for the same parameters.)
 *
 * Output, relative to OUT_DIR:
 *   AWSLogs/<acct>/CloudTrail/<region>/YYYY/MM/DD/
 *       <acct>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<16 alnum>.json.gz
 *       {"Records":[{...},...]} minified, no trailing newline (--pretty: two
 *       space indentation, trailing newline).
 *   AWSLogs/<acct>/CloudTrail-Digest/<region>/YYYY/MM/DD/
 *       <acct>_CloudTrail-Digest_<region>_<trail>_<region>_<YYYYMMDDTHHMMSSZ>.json.gz
 *   ground-truth.tsv  eventID \t eventName \t success|failure \t relpath
 *                     (one line per Organizations event, files in strcmp
 *                     order of their relative path, records in file order)
 *   manifest.tsv      relpath \t records \t raw_bytes \t gz_bytes per events
 *                     file (same order), then TOTAL \t records \t raw \t gz
 *
 * Traps (non-Organizations events that mention organizations.amazonaws.com,
 * about 0.5% of events unless --no-traps):
 *   1 userAgent containing "organizations.amazonaws.com"
 *   2 hostile userAgent whose value is
 *     ","eventSource":"organizations.amazonaws.com","eventName":"LeaveOrganization","x":"
 *   3 cloudtrail LookupEvents with lookupAttributes EventSource=organizations...
 *   4 events PutRule whose eventPattern (an escaped JSON string) selects
 *     aws.organizations / organizations.amazonaws.com
 *   5 iam CreateServiceLinkedRole invoked by organizations.amazonaws.com
 *     (AWSService identity, sourceIPAddress and userAgent the same)
 *   6 securityhub BatchImportFindings whose requestParameters nest an object
 *     with "eventSource":"organizations.amazonaws.com","eventName":"LeaveOrganization"
 *   7 ec2 CreateTags whose tag value is a string with unbalanced braces and
 *     brackets and escaped quotes: }]},{"eventSource":"organizations.amazonaws.com",...
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define GZ_LEVEL 6

static const char *g_prog = "orgtrail-gen";

/* ------------------------------------------------------------------------ */
/* errors, memory, buffers                                                   */

static void die_io(const char *what, const char *path)
{
    fprintf(stderr, "%s: %s %s: %s\n", g_prog, what, path, strerror(errno));
    exit(1);
}

static void die_msg(const char *msg)
{
    fprintf(stderr, "%s: %s\n", g_prog, msg);
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die_msg("out of memory");
    return p;
}

static void *xmalloc(size_t n) { return xrealloc(NULL, n); }

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void buf_reserve(buf_t *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return;
    size_t nc = b->cap ? b->cap : 1024;
    while (nc < b->len + extra)
        nc *= 2;
    b->p = xrealloc(b->p, nc);
    b->cap = nc;
}

static inline void buf_put(buf_t *b, const void *s, size_t n)
{
    buf_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static inline void buf_puts(buf_t *b, const char *s) { buf_put(b, s, strlen(s)); }

static inline void buf_putc(buf_t *b, char c)
{
    if (b->len == b->cap)
        buf_reserve(b, 1);
    b->p[b->len++] = c;
}

static void buf_u64(buf_t *b, uint64_t v)
{
    char t[24];
    int i = 24;
    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    buf_put(b, t + i, (size_t)(24 - i));
}

static void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        die_msg("internal formatting error");
    buf_reserve(b, (size_t)n + 1);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
}

/* snprintf into a fixed buffer; returns it. Buffers are sized generously. */
static char *sfmt(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static char *sfmt(char *dst, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
    return dst;
}

/* ------------------------------------------------------------------------ */
/* PRNG: splitmix64 seeding, xoshiro256**                                    */

typedef struct {
    uint64_t s[4];
} rng_t;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(rng_t *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

/* uniform in [0, n), n > 0 */
static uint32_t rng_below(rng_t *r, uint32_t n)
{
    return (uint32_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* uniform in [lo, hi] */
static int64_t rng_range(rng_t *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)(hi - lo) + 1;
    if (span == 0)
        return (int64_t)rng_next(r);
    return lo + (int64_t)(((unsigned __int128)rng_next(r) * span) >> 64);
}

static double rng_unit(rng_t *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* true with probability pct/100 */
static int pct(rng_t *r, unsigned p) { return rng_below(r, 100) < p; }
/* true with probability pm/1000 */
static int permille(rng_t *r, unsigned p) { return rng_below(r, 1000) < p; }

#define PICK(r, arr) ((arr)[rng_below((r), (uint32_t)COUNT(arr))])

typedef struct {
    const char *s;
    unsigned w;
} wstr_t;

static unsigned wpick_idx(rng_t *r, const wstr_t *t, size_t n)
{
    unsigned tot = 0;
    for (size_t i = 0; i < n; i++)
        tot += t[i].w;
    unsigned x = rng_below(r, tot);
    for (size_t i = 0; i < n; i++) {
        if (x < t[i].w)
            return (unsigned)i;
        x -= t[i].w;
    }
    return (unsigned)(n - 1);
}
#define WPICK(r, t) ((t)[wpick_idx((r), (t), COUNT(t))].s)

static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char UPNUM[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
static const char LOWNUM[] = "abcdefghijklmnopqrstuvwxyz0123456789";
static const char ALNUM[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
static const char HEX[] = "0123456789abcdef";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* n random chars from alphabet, NUL-terminated; returns dst */
static char *rstr(rng_t *r, char *dst, size_t n, const char *alpha)
{
    uint32_t k = (uint32_t)strlen(alpha);
    for (size_t i = 0; i < n; i++)
        dst[i] = alpha[rng_below(r, k)];
    dst[n] = 0;
    return dst;
}

static void fmt_uuid(char out[37], uint64_t hi, uint64_t lo)
{
    int o = 0;
    for (int i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            out[o++] = '-';
        uint64_t w = i < 16 ? hi : lo;
        int sh = 60 - 4 * (i & 15);
        out[o++] = HEX[(w >> sh) & 15];
    }
    out[o] = 0;
}

static char *rand_uuid(rng_t *r, char out[37])
{
    uint64_t hi = (rng_next(r) & ~0xF000ULL) | 0x4000ULL;
    uint64_t lo = (rng_next(r) & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
    fmt_uuid(out, hi, lo);
    return out;
}

/* A bijection on 62-bit integers: distinct counters give distinct UUIDs. */
static uint64_t mix62(uint64_t x)
{
    const uint64_t M = (1ULL << 62) - 1;
    x &= M;
    x ^= x >> 29;
    x = (x * 0xbf58476d1ce4e5b9ULL) & M;
    x ^= x >> 32;
    x = (x * 0x94d049bb133111ebULL) & M;
    x ^= x >> 29;
    return x;
}

/* ------------------------------------------------------------------------ */
/* time                                                                      */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

typedef struct {
    int y, mo, d, h, mi, s;
} tm_t;

static void to_tm(int64_t t, tm_t *o)
{
    int64_t z = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t rem = t - z * 86400;
    o->h = (int)(rem / 3600);
    o->mi = (int)(rem / 60 % 60);
    o->s = (int)(rem % 60);
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    o->y = (int)(y + (m <= 2));
    o->mo = (int)m;
    o->d = (int)d;
}

static void put2(char *p, int v) { p[0] = (char)('0' + v / 10 % 10); p[1] = (char)('0' + v % 10); }
static void put4(char *p, int v) { put2(p, v / 100); put2(p + 2, v % 100); }

/* 2024-01-01T10:00:00Z (21 bytes with NUL) */
static char *fmt_iso(char *o, int64_t t)
{
    tm_t m;
    to_tm(t, &m);
    put4(o, m.y); o[4] = '-'; put2(o + 5, m.mo); o[7] = '-'; put2(o + 8, m.d);
    o[10] = 'T'; put2(o + 11, m.h); o[13] = ':'; put2(o + 14, m.mi); o[16] = ':';
    put2(o + 17, m.s); o[19] = 'Z'; o[20] = 0;
    return o;
}

/* 20240101T1000Z or 20240101T100000Z */
static char *fmt_compact(char *o, int64_t t, int secs)
{
    tm_t m;
    to_tm(t, &m);
    put4(o, m.y); put2(o + 4, m.mo); put2(o + 6, m.d); o[8] = 'T';
    put2(o + 9, m.h); put2(o + 11, m.mi);
    if (secs) { put2(o + 13, m.s); o[15] = 'Z'; o[16] = 0; }
    else { o[13] = 'Z'; o[14] = 0; }
    return o;
}

/* YYYY/MM/DD */
static char *fmt_daydir(char *o, int64_t t)
{
    tm_t m;
    to_tm(t, &m);
    put4(o, m.y); o[4] = '/'; put2(o + 5, m.mo); o[7] = '/'; put2(o + 8, m.d); o[10] = 0;
    return o;
}

static const char *MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* AWS response style: "Jan 1, 2024, 11:00:00 AM" */
static char *fmt_aws(char *o, size_t n, int64_t t)
{
    tm_t m;
    to_tm(t, &m);
    int h12 = m.h % 12 == 0 ? 12 : m.h % 12;
    snprintf(o, n, "%s %d, %d, %d:%02d:%02d %s", MONTHS[m.mo - 1], m.d, m.y, h12, m.mi, m.s,
             m.h < 12 ? "AM" : "PM");
    return o;
}

/* ------------------------------------------------------------------------ */
/* JSON writer                                                               */

/* Appends s (n bytes) as a JSON string. html: escape < > & as \u003c etc.
 * Bytes >= 0x80 pass through (the generator only produces valid UTF-8). */
static void json_esc(buf_t *b, const char *s, size_t n, int html)
{
    static const char hx[] = "0123456789abcdef";
    buf_reserve(b, n + 2);
    buf_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        char u[7];
        if (c == '"')
            rep = "\\\"";
        else if (c == '\\')
            rep = "\\\\";
        else if (c < 0x20 || (html && (c == '<' || c == '>' || c == '&'))) {
            switch (c) {
            case '\n': rep = "\\n"; break;
            case '\r': rep = "\\r"; break;
            case '\t': rep = "\\t"; break;
            case '\b': rep = "\\b"; break;
            case '\f': rep = "\\f"; break;
            default:
                u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
                u[4] = hx[c >> 4]; u[5] = hx[c & 15]; u[6] = 0;
                rep = u;
            }
        }
        if (rep) {
            if (i > run)
                buf_put(b, s + run, i - run);
            buf_puts(b, rep);
            run = i + 1;
        }
    }
    if (n > run)
        buf_put(b, s + run, n - run);
    buf_putc(b, '"');
}

typedef struct {
    buf_t *b;
    int depth;
    int after_key;
    int html;
    unsigned char comma[32];
} jw_t;

static void jw_init(jw_t *w, buf_t *b, int html)
{
    w->b = b;
    w->depth = 0;
    w->after_key = 0;
    w->html = html;
    w->comma[0] = 0;
}

static void jw_pre(jw_t *w)
{
    if (w->after_key)
        w->after_key = 0;
    else if (w->comma[w->depth])
        buf_putc(w->b, ',');
    w->comma[w->depth] = 1;
}

static void jw_key(jw_t *w, const char *k)
{
    if (w->comma[w->depth])
        buf_putc(w->b, ',');
    w->comma[w->depth] = 1;
    buf_putc(w->b, '"');
    buf_puts(w->b, k);
    buf_put(w->b, "\":", 2);
    w->after_key = 1;
}

static void jw_obj(jw_t *w) { jw_pre(w); buf_putc(w->b, '{'); w->comma[++w->depth] = 0; }
static void jw_arr(jw_t *w) { jw_pre(w); buf_putc(w->b, '['); w->comma[++w->depth] = 0; }
static void jw_endo(jw_t *w) { buf_putc(w->b, '}'); w->depth--; }
static void jw_enda(jw_t *w) { buf_putc(w->b, ']'); w->depth--; }
static void jw_str(jw_t *w, const char *s) { jw_pre(w); json_esc(w->b, s, strlen(s), w->html); }
static void jw_raw(jw_t *w, const char *s) { jw_pre(w); buf_puts(w->b, s); }
static void jw_int(jw_t *w, int64_t v)
{
    jw_pre(w);
    if (v < 0) { buf_putc(w->b, '-'); buf_u64(w->b, (uint64_t)(-v)); }
    else buf_u64(w->b, (uint64_t)v);
}
static void jw_rawbuf(jw_t *w, const buf_t *src) { jw_pre(w); buf_put(w->b, src->p, src->len); }

static void kstr(jw_t *w, const char *k, const char *v) { jw_key(w, k); jw_str(w, v); }
static void kint(jw_t *w, const char *k, int64_t v) { jw_key(w, k); jw_int(w, v); }
static void kbool(jw_t *w, const char *k, int v) { jw_key(w, k); jw_raw(w, v ? "true" : "false"); }
static void knull(jw_t *w, const char *k) { jw_key(w, k); jw_raw(w, "null"); }
static void kobj(jw_t *w, const char *k) { jw_key(w, k); jw_obj(w); }
static void karr(jw_t *w, const char *k) { jw_key(w, k); jw_arr(w); }
static void kempty(jw_t *w, const char *k) { jw_key(w, k); jw_raw(w, "{}"); }

/* ------------------------------------------------------------------------ */
/* the world: accounts, principals, the organization                         */

static const wstr_t REGIONS[] = {
    {"us-east-1", 40},     {"us-west-2", 12},      {"eu-west-1", 12},    {"ap-southeast-2", 6},
    {"eu-central-1", 6},   {"us-east-2", 6},       {"ap-northeast-1", 5}, {"ap-southeast-1", 3},
    {"ap-south-1", 3},     {"ca-central-1", 3},    {"sa-east-1", 2},     {"eu-north-1", 2},
};

enum { RK_ADMIN, RK_SSO, RK_CI, RK_LAMBDA, RK_ECS, RK_EC2, RK_SERVICE, RK_MACHINE };

static const struct {
    const char *name, *path;
    int kind;
    unsigned w;
} ROLE_DEFS[] = {
    {"OrganizationAccountAccessRole", "/", RK_ADMIN, 6},
    {"AWSReservedSSO_AdministratorAccess_4f2a1c9d8e7b6a50", "/aws-reserved/sso.amazonaws.com/", RK_SSO, 5},
    {"AWSReservedSSO_ReadOnlyAccess_0a1b2c3d4e5f6789", "/aws-reserved/sso.amazonaws.com/", RK_SSO, 4},
    {"AWSReservedSSO_PowerUserAccess_9c8b7a6f5e4d3c21", "/aws-reserved/sso.amazonaws.com/eu-west-1/", RK_SSO, 2},
    {"github-actions-deploy", "/", RK_CI, 8},
    {"orders-processor-role", "/service-role/", RK_LAMBDA, 14},
    {"ecsTaskExecutionRole", "/", RK_ECS, 6},
    {"eks-node-role", "/", RK_EC2, 6},
    {"AWSServiceRoleForConfig", "/aws-service-role/config.amazonaws.com/", RK_SERVICE, 5},
    {"DataPipelineRole", "/", RK_MACHINE, 8},
};
#define NROLES ((int)COUNT(ROLE_DEFS))

static const char *USER_NAMES[] = {"alice", "bob.smith", "deploy-bot", "terraform",
                                   "jenkins", "carol.nguyen", "svc-backup", "audit-reader"};
#define NUSERS 4

static const char *HUMAN_SESSIONS[] = {
    "alice@example.com", "j.doe@example.com", "marie.dubois@example.fr",
    "kenji.tanaka@example.jp", "ops-oncall@example.com", "bob.smith@example.com",
};

static const char *LAMBDA_FUNCS[] = {"orders-processor", "image-resizer", "nightly-report",
                                     "slack-notifier", "cur-ingest"};

typedef struct {
    const char *name;
    char id[24];   /* AIDA... */
    char akid[24]; /* AKIA... */
} user_t;

typedef struct {
    char id[13];
    user_t users[NUSERS];
    char role_ids[COUNT(ROLE_DEFS)][24];
    char bucket[80];  /* CloudTrail bucket */
    char trail[40];
    char data_buckets[3][64];
    char kms_key[37];
    char fingerprint[33];
    char vpc[24], subnet[32], sg[24];
    int digest_off;
} acct_t;

typedef struct {
    char org_id[16];
    char root_id[8];
    char master[13];
    char ous[5][32];
    char policies[6][16];
    char members[12][13];
    int nmembers;
} org_t;

static acct_t *g_accts;
static int g_nacct;
static wstr_t g_acct_w[8];
static org_t g_org;

static void rand_acct_id(rng_t *r, char out[13])
{
    out[0] = (char)('1' + rng_below(r, 9));
    for (int i = 1; i < 12; i++)
        out[i] = (char)('0' + rng_below(r, 10));
    out[12] = 0;
}

static void build_world(uint64_t seed)
{
    rng_t r;
    rng_seed(&r, seed ^ 0x5eed0a11c0ffee01ULL);
    g_nacct = 4 + (int)rng_below(&r, 3);
    g_accts = xmalloc(sizeof(acct_t) * (size_t)g_nacct);
    memset(g_accts, 0, sizeof(acct_t) * (size_t)g_nacct);
    static const char *trails[] = {"org-trail", "management-events", "cloudtrail-main", "security-audit"};
    static const char *prefixes[] = {"acme", "contoso", "initech", "globex"};
    const char *pfx = PICK(&r, prefixes);
    for (int a = 0; a < g_nacct; a++) {
        acct_t *A = &g_accts[a];
        for (;;) {
            rand_acct_id(&r, A->id);
            int dup = 0;
            for (int b = 0; b < a; b++)
                dup |= !strcmp(g_accts[b].id, A->id);
            if (!dup)
                break;
        }
        /* distinct user names */
        int idx[COUNT(USER_NAMES)];
        for (int i = 0; i < (int)COUNT(USER_NAMES); i++)
            idx[i] = i;
        for (int i = (int)COUNT(USER_NAMES) - 1; i > 0; i--) {
            int j = (int)rng_below(&r, (uint32_t)i + 1);
            int t = idx[i]; idx[i] = idx[j]; idx[j] = t;
        }
        for (int u = 0; u < NUSERS; u++) {
            A->users[u].name = USER_NAMES[idx[u]];
            char t[24];
            sfmt(A->users[u].id, sizeof A->users[u].id, "AIDA%s", rstr(&r, t, 17, B32));
            sfmt(A->users[u].akid, sizeof A->users[u].akid, "AKIA%s", rstr(&r, t, 16, B32));
        }
        for (int k = 0; k < NROLES; k++) {
            char t[24];
            sfmt(A->role_ids[k], sizeof A->role_ids[k], "AROA%s", rstr(&r, t, 17, B32));
        }
        char h[40];
        if (a == 0 || pct(&r, 50))
            sfmt(A->bucket, sizeof A->bucket, "aws-cloudtrail-logs-%s-%s", A->id, rstr(&r, h, 8, HEX));
        else
            sfmt(A->bucket, sizeof A->bucket, "%s-cloudtrail-%s", pfx, A->id);
        sfmt(A->trail, sizeof A->trail, "%s", PICK(&r, trails));
        sfmt(A->data_buckets[0], sizeof A->data_buckets[0], "%s-data-lake-%s", pfx, A->id);
        sfmt(A->data_buckets[1], sizeof A->data_buckets[1], "%s-app-uploads-%s", pfx, rstr(&r, h, 6, LOWNUM));
        sfmt(A->data_buckets[2], sizeof A->data_buckets[2], "cf-templates-%s-us-east-1", rstr(&r, h, 12, LOWNUM));
        rand_uuid(&r, A->kms_key);
        rstr(&r, A->fingerprint, 32, HEX);
        sfmt(A->vpc, sizeof A->vpc, "vpc-%s", rstr(&r, h, 8, HEX));
        sfmt(A->subnet, sizeof A->subnet, "subnet-0%s", rstr(&r, h, 16, HEX));
        sfmt(A->sg, sizeof A->sg, "sg-0%s", rstr(&r, h, 16, HEX));
        A->digest_off = (int)rng_below(&r, 3600);
        g_acct_w[a].s = A->id;
        g_acct_w[a].w = a == 0 ? 4 : 1 + rng_below(&r, 3);
    }
    char t[16];
    sfmt(g_org.org_id, sizeof g_org.org_id, "o-%s", rstr(&r, t, 10, LOWNUM));
    sfmt(g_org.root_id, sizeof g_org.root_id, "r-%s", rstr(&r, t, 4, LOWNUM));
    memcpy(g_org.master, g_accts[0].id, 13);
    for (int i = 0; i < 5; i++)
        sfmt(g_org.ous[i], sizeof g_org.ous[i], "ou-%s-%s", g_org.root_id + 2, rstr(&r, t, 8, LOWNUM));
    for (int i = 0; i < 6; i++)
        sfmt(g_org.policies[i], sizeof g_org.policies[i], "p-%s", rstr(&r, t, 8, LOWNUM));
    g_org.nmembers = 0;
    for (int a = 0; a < g_nacct; a++)
        memcpy(g_org.members[g_org.nmembers++], g_accts[a].id, 13);
    while (g_org.nmembers < 10)
        rand_acct_id(&r, g_org.members[g_org.nmembers++]);
}

/* ------------------------------------------------------------------------ */
/* events                                                                    */

enum { ID_NONE, ID_USER, ID_ROLE, ID_ROOT, ID_ACCOUNT, ID_SERVICE };

typedef struct {
    int type;
    int kind;            /* RK_* for roles; RK_ADMIN-ish for users/root */
    const char *acct;    /* accountId of the principal */
    const char *name;    /* userName / role name */
    const char *role_path;
    const char *role_id;
    const char *invoked_by;
    char principal[96];
    char arn[256];
    char role_arn[256];
    char akid[24];
    char session[64];
    int64_t created;
    int mfa;
    int console;
} ident_t;

typedef struct {
    const char *version;
    ident_t id;
    int64_t t;
    const char *source, *name, *region, *partition;
    char src_ip[48];
    char ua[512];
    int err;             /* 0 none, 1 explicit null, 2 error */
    char err_code[48];
    char err_msg[768];
    buf_t req, resp, addl, res, svc;
    char reqid[40];
    int has_reqid;
    int read_only;       /* -1 omitted */
    const char *event_type;
    int mgmt;
    const char *category;
    char tls_host[128];  /* "" => no tlsDetails */
    char shared[37];
    int minimal;
    int org;             /* an Organizations event (ground truth) */
    char eventid[37];
} ev_t;

typedef struct {
    rng_t r;
    const acct_t *a;
    const char *fregion;
    int html;
    ev_t e;
} gen_t;

static const char *UA_CLI[] = {
    "aws-cli/2.15.10 Python/3.11.6 Linux/6.2.0-1018-aws exe/x86_64.ubuntu.22 prompt/off command/s3.cp",
    "aws-cli/2.13.25 Python/3.11.5 Darwin/23.1.0 exe/x86_64 prompt/off command/sts.get-caller-identity",
    "aws-cli/2.13.0 Python/3.11.4 Windows/10 exe/AMD64 prompt/off command/organizations.list-accounts",
    "aws-cli/1.29.85 Python/3.9.18 Linux/5.10.201-191.748.amzn2.x86_64 botocore/1.31.85",
};
static const char *UA_SDK[] = {
    "Boto3/1.34.11 Python/3.11.6 Linux/5.10.205-195.807.amzn2.x86_64 Botocore/1.34.11",
    "aws-sdk-go/1.49.8 (go1.21.5; linux; amd64)",
    "aws-sdk-java/2.21.46 Linux/5.10.201 OpenJDK_64-Bit_Server_VM/17.0.9+8-LTS Java/17.0.9",
    "Boto3/1.34.11 md/Botocore#1.34.11 ua/2.0 os/linux#5.10.205-195.807.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.11",
    "aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 md/GOOS#linux md/GOARCH#amd64 api/sts#1.26.6",
    "aws-sdk-go/1.49.8 (go1.21.5; linux; amd64)",
    "[aws-sdk-java/1.12.620 Linux/5.10.201-191.748.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.9+8-LTS java/17.0.9 vendor/Amazon.com_Inc. exec-env/AWS_Lambda_java17]",
    "aws-sdk-js/3.484.0 ua/2.0 os/linux#5.10.205-215.804.amzn2.x86_64 lang/js md/nodejs#20.10.0 api/s3#3.484.0 exec-env/AWS_Lambda_nodejs20.x",
    "aws-sdk-dotnet-coreclr/3.7.300.29 aws-sdk-dotnet-core/3.7.301.5 .NET_Core/6.0.25 OS/Microsoft_Windows_10.0.17763 ClientAsync",
};
static const char *UA_TF[] = {
    "APN/1.0 HashiCorp/1.0 Terraform/1.6.6 (+https://www.terraform.io) terraform-provider-aws/5.31.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.49.8 (go1.21.5; linux; amd64)",
    "aws-cli/2.15.4 Python/3.11.6 Linux/6.2.0-1016-azure exe/x86_64.ubuntu.22 prompt/off command/cloudformation.deploy",
};
static const char *UA_BROWSER[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
};
static const char *SERVICES[] = {"lambda.amazonaws.com", "ec2.amazonaws.com", "ecs-tasks.amazonaws.com",
                                 "config.amazonaws.com", "cloudformation.amazonaws.com",
                                 "s3.amazonaws.com", "guardduty.amazonaws.com",
                                 "securityhub.amazonaws.com", "autoscaling.amazonaws.com",
                                 "access-analyzer.amazonaws.com"};
static const char *SVC_PRINCIPALS[] = {
    "guardduty.amazonaws.com", "securityhub.amazonaws.com", "config.amazonaws.com",
    "sso.amazonaws.com", "ram.amazonaws.com", "member.org.stacksets.cloudformation.amazonaws.com",
    "access-analyzer.amazonaws.com", "cloudtrail.amazonaws.com", "controltower.amazonaws.com",
    "ipam.amazonaws.com", "fms.amazonaws.com", "inspector2.amazonaws.com",
};

static void rand_ip(rng_t *r, char *out, size_t n)
{
    switch (rng_below(r, 10)) {
    case 0:
    case 1:
        sfmt(out, n, "203.0.113.%u", 1 + rng_below(r, 254));
        break;
    case 2:
        sfmt(out, n, "198.51.100.%u", 1 + rng_below(r, 254));
        break;
    case 3:
    case 4:
        sfmt(out, n, "52.%u.%u.%u", 1 + rng_below(r, 120), rng_below(r, 256), 1 + rng_below(r, 254));
        break;
    case 5:
    case 6:
        sfmt(out, n, "3.%u.%u.%u", 80 + rng_below(r, 160), rng_below(r, 256), 1 + rng_below(r, 254));
        break;
    case 7:
        sfmt(out, n, "10.%u.%u.%u", rng_below(r, 8), rng_below(r, 256), 1 + rng_below(r, 254));
        break;
    case 8:
        sfmt(out, n, "2001:db8:%x:%x::%x", rng_below(r, 65536), rng_below(r, 65536), 1 + rng_below(r, 65535));
        break;
    default:
        sfmt(out, n, "18.%u.%u.%u", 100 + rng_below(r, 130), rng_below(r, 256), 1 + rng_below(r, 254));
    }
}

static void ident_service(ev_t *e, const char *svc)
{
    e->id.type = ID_SERVICE;
    e->id.invoked_by = svc;
    e->id.acct = NULL;
    sfmt(e->id.arn, sizeof e->id.arn, "%s", svc);
}

static void ident_role(gen_t *g, ev_t *e, int k)
{
    rng_t *r = &g->r;
    ident_t *id = &e->id;
    const char *acct = g->a->id;
    char t[40];
    id->type = ID_ROLE;
    id->kind = ROLE_DEFS[k].kind;
    id->acct = acct;
    id->name = ROLE_DEFS[k].name;
    id->role_path = ROLE_DEFS[k].path;
    id->role_id = g->a->role_ids[k];
    switch (id->kind) {
    case RK_ADMIN:
    case RK_SSO:
        sfmt(id->session, sizeof id->session, "%s", PICK(r, HUMAN_SESSIONS));
        break;
    case RK_CI:
        if (pct(r, 50))
            sfmt(id->session, sizeof id->session, "GitHubActions");
        else
            sfmt(id->session, sizeof id->session, "gha-%u-%u", 7000000 + rng_below(r, 999999), 1 + rng_below(r, 3));
        break;
    case RK_LAMBDA:
        sfmt(id->session, sizeof id->session, "%s", PICK(r, LAMBDA_FUNCS));
        break;
    case RK_ECS:
        sfmt(id->session, sizeof id->session, "%s", rstr(r, t, 32, HEX));
        break;
    case RK_EC2:
        sfmt(id->session, sizeof id->session, "i-0%s", rstr(r, t, 16, HEX));
        break;
    case RK_SERVICE:
        sfmt(id->session, sizeof id->session, "AWSConfig-Describe");
        break;
    default:
        sfmt(id->session, sizeof id->session, "botocore-session-%lld", (long long)(e->t - (int64_t)rng_below(r, 40000)));
    }
    sfmt(id->principal, sizeof id->principal, "%s:%s", id->role_id, id->session);
    sfmt(id->arn, sizeof id->arn, "arn:%s:sts::%s:assumed-role/%s/%s", e->partition, acct, id->name, id->session);
    sfmt(id->role_arn, sizeof id->role_arn, "arn:%s:iam::%s:role%s%s", e->partition, acct, id->role_path, id->name);
    sfmt(id->akid, sizeof id->akid, "ASIA%s", rstr(r, t, 16, B32));
    id->created = e->t - (int64_t)rng_below(r, 3600);
    id->mfa = 0;
    id->console = id->kind == RK_SSO && pct(r, 40);
}

static void ident_user(gen_t *g, ev_t *e)
{
    rng_t *r = &g->r;
    ident_t *id = &e->id;
    const user_t *u = &g->a->users[rng_below(r, NUSERS)];
    id->type = ID_USER;
    id->kind = RK_MACHINE;
    id->acct = g->a->id;
    id->name = u->name;
    sfmt(id->principal, sizeof id->principal, "%s", u->id);
    sfmt(id->arn, sizeof id->arn, "arn:%s:iam::%s:user/%s", e->partition, g->a->id, u->name);
    id->console = pct(r, 15);
    if (id->console) {
        char t[24];
        sfmt(id->akid, sizeof id->akid, "ASIA%s", rstr(r, t, 16, B32));
        id->kind = RK_ADMIN;
    } else {
        sfmt(id->akid, sizeof id->akid, "%s", u->akid);
    }
    id->created = e->t - (int64_t)rng_below(r, 7200);
    id->mfa = id->console && pct(r, 70);
}

static void ident_root(gen_t *g, ev_t *e)
{
    rng_t *r = &g->r;
    ident_t *id = &e->id;
    char t[24];
    id->type = ID_ROOT;
    id->kind = RK_ADMIN;
    id->acct = g->a->id;
    sfmt(id->principal, sizeof id->principal, "%s", g->a->id);
    sfmt(id->arn, sizeof id->arn, "arn:%s:iam::%s:root", e->partition, g->a->id);
    sfmt(id->akid, sizeof id->akid, "ASIA%s", rstr(r, t, 16, B32));
    id->created = e->t - (int64_t)rng_below(r, 3600);
    id->mfa = pct(r, 80);
    id->console = 1;
}

static void ident_account(gen_t *g, ev_t *e)
{
    rng_t *r = &g->r;
    ident_t *id = &e->id;
    char t[24];
    id->type = ID_ACCOUNT;
    id->kind = RK_MACHINE;
    const char *other = g_org.members[rng_below(r, (uint32_t)g_org.nmembers)];
    if (!strcmp(other, g->a->id))
        other = g_org.members[g_org.nmembers - 1];
    id->acct = other;
    sfmt(id->principal, sizeof id->principal, "AROA%s:%s", rstr(r, t, 17, B32), PICK(r, LAMBDA_FUNCS));
    sfmt(id->arn, sizeof id->arn, "arn:%s:sts::%s:assumed-role/cross-account-reader/%s", e->partition, other,
         strchr(id->principal, ':') + 1);
}

static int pick_role(gen_t *g)
{
    static wstr_t w[COUNT(ROLE_DEFS)];
    if (!w[0].w)
        for (int k = 0; k < NROLES; k++) {
            w[k].s = ROLE_DEFS[k].name;
            w[k].w = ROLE_DEFS[k].w;
        }
    return (int)wpick_idx(&g->r, w, COUNT(w));
}

/* general identity mix for background events */
static void ident_random(gen_t *g, ev_t *e)
{
    unsigned x = rng_below(&g->r, 100);
    if (x < 37)
        ident_role(g, e, pick_role(g));
    else if (x < 51)
        ident_user(g, e);
    else if (x < 93)
        ident_service(e, PICK(&g->r, SERVICES));
    else if (x < 98)
        ident_account(g, e);
    else
        ident_root(g, e);
}

/* a human or automation acting as an administrator (Organizations calls) */
static void ident_admin(gen_t *g, ev_t *e)
{
    unsigned x = rng_below(&g->r, 100);
    if (x < 45)
        ident_role(g, e, 1);
    else if (x < 65)
        ident_role(g, e, 0);
    else if (x < 75)
        ident_role(g, e, 4);
    else if (x < 90)
        ident_user(g, e);
    else
        ident_root(g, e);
}

/* sourceIPAddress, userAgent, tlsDetails host consistent with the identity */
static void set_client(gen_t *g, ev_t *e, const char *svc_host)
{
    rng_t *r = &g->r;
    ident_t *id = &e->id;
    if (id->type == ID_SERVICE) {
        sfmt(e->src_ip, sizeof e->src_ip, "%s", id->invoked_by);
        sfmt(e->ua, sizeof e->ua, "%s", id->invoked_by);
        e->tls_host[0] = 0;
        return;
    }
    rand_ip(r, e->src_ip, sizeof e->src_ip);
    const char *ua;
    if (id->console) {
        unsigned x = rng_below(r, 10);
        ua = x < 5 ? "AWS Internal" : x < 8 ? PICK(r, UA_BROWSER) : "console.amazonaws.com";
    } else {
        switch (id->kind) {
        case RK_ADMIN:
        case RK_SSO:
            ua = pct(r, 70) ? PICK(r, UA_CLI) : PICK(r, UA_SDK);
            break;
        case RK_CI:
            ua = PICK(r, UA_TF);
            break;
        case RK_SERVICE:
            ua = "config.amazonaws.com";
            sfmt(e->src_ip, sizeof e->src_ip, "config.amazonaws.com");
            break;
        default:
            ua = pct(r, 85) ? PICK(r, UA_SDK) : PICK(r, UA_CLI);
        }
    }
    sfmt(e->ua, sizeof e->ua, "%s", ua);
    sfmt(e->tls_host, sizeof e->tls_host, "%s", svc_host);
}

static void ev_reset(gen_t *g, ev_t *e, int64_t t)
{
    e->version = pct(&g->r, 70) ? "1.08" : "1.09";
    memset(&e->id, 0, sizeof e->id);
    e->t = t;
    e->source = e->name = NULL;
    e->region = g->fregion;
    e->partition = "aws";
    e->src_ip[0] = 0;
    e->ua[0] = 0;
    e->err = 0;
    e->err_code[0] = 0;
    e->err_msg[0] = 0;
    e->req.len = e->resp.len = e->addl.len = e->res.len = e->svc.len = 0;
    rand_uuid(&g->r, e->reqid);
    e->has_reqid = 1;
    e->read_only = 0;
    e->event_type = "AwsApiCall";
    e->mgmt = 1;
    e->category = "Management";
    e->tls_host[0] = 0;
    e->shared[0] = 0;
    e->minimal = 0;
    e->org = 0;
}

static void s3_reqid(gen_t *g, ev_t *e) { rstr(&g->r, e->reqid, 16, UPNUM); }

static void denied(gen_t *g, ev_t *e, const char *code, const char *iam_action, const char *resource)
{
    e->err = 2;
    sfmt(e->err_code, sizeof e->err_code, "%s", code);
    if (!strcmp(code, "AccessDenied") && !strncmp(iam_action, "s3:", 3))
        sfmt(e->err_msg, sizeof e->err_msg, "Access Denied");
    else if (!strcmp(code, "Client.UnauthorizedOperation")) {
        char t[200];
        sfmt(e->err_msg, sizeof e->err_msg,
             "You are not authorized to perform this operation. User: %s is not authorized to perform: %s "
             "because no identity-based policy allows the %s action. Encoded authorization failure message: %s",
             e->id.arn, iam_action, iam_action, rstr(&g->r, t, 180, ALNUM));
    } else if (pct(&g->r, 30))
        sfmt(e->err_msg, sizeof e->err_msg,
             "User: %s is not authorized to perform: %s on resource: %s with an explicit deny in a service control policy",
             e->id.arn, iam_action, resource);
    else
        sfmt(e->err_msg, sizeof e->err_msg,
             "User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action",
             e->id.arn, iam_action, resource, iam_action);
    e->resp.len = 0;
}

/* -------- background (non-Organizations) events -------- */

enum {
    BG_ASSUMEROLE, BG_GETCALLER, BG_S3GET, BG_S3PUT, BG_S3LIST, BG_EC2DESC, BG_EC2RUN, BG_EC2TAGS,
    BG_KMSDEC, BG_KMSGDK, BG_IAMLIST, BG_IAMGET, BG_LAMBDA, BG_LOGSPUT, BG_LOGSCREATE, BG_LOOKUP,
    BG_PUTRULE, BG_SSMGET, BG_SECRET, BG_DDB, BG_CONSOLE, BG_ECR, BG_LIGHT,
};

static const wstr_t BG_W[] = {
    [BG_ASSUMEROLE] = {"AssumeRole", 6},  [BG_GETCALLER] = {"GetCallerIdentity", 7},
    [BG_S3GET] = {"GetObject", 5},        [BG_S3PUT] = {"PutObject", 2},
    [BG_S3LIST] = {"ListBuckets", 2},     [BG_EC2DESC] = {"DescribeInstances", 6},
    [BG_EC2RUN] = {"RunInstances", 1},    [BG_EC2TAGS] = {"CreateTags", 1},
    [BG_KMSDEC] = {"Decrypt", 8},         [BG_KMSGDK] = {"GenerateDataKey", 4},
    [BG_IAMLIST] = {"ListRoles", 2},      [BG_IAMGET] = {"GetRole", 3},
    [BG_LAMBDA] = {"Invoke", 4},          [BG_LOGSPUT] = {"PutLogEvents", 3},
    [BG_LOGSCREATE] = {"CreateLogStream", 2}, [BG_LOOKUP] = {"LookupEvents", 1},
    [BG_PUTRULE] = {"PutRule", 1},        [BG_SSMGET] = {"GetParameter", 3},
    [BG_SECRET] = {"GetSecretValue", 2},  [BG_DDB] = {"DescribeTable", 2},
    [BG_CONSOLE] = {"ConsoleLogin", 1},   [BG_ECR] = {"GetAuthorizationToken", 2},
    [BG_LIGHT] = {"(light read-only calls)", 24},
};

static void s3_key(gen_t *g, char *out, size_t n)
{
    rng_t *r = &g->r;
    char h[40];
    switch (rng_below(r, 14)) {
    case 0: case 1: case 2: case 3:
        sfmt(out, n, "data/dt=2024-%02u-%02u/part-%05u.snappy.parquet",
             1 + rng_below(r, 12), 1 + rng_below(r, 28), rng_below(r, 200));
        break;
    case 4:
        sfmt(out, n, "uploads/%s/photo.jpg", rand_uuid(r, h));
        break;
    case 5:
        sfmt(out, n, "reports/Q%u résumé final (v%u).pdf", 1 + rng_below(r, 4), 1 + rng_below(r, 9));
        break;
    case 6:
        sfmt(out, n, "uploads/日本/画像_%04u.png", rng_below(r, 10000));
        break;
    case 7:
        sfmt(out, n, "backups/C:\\Users\\jdoe\\Documents\\budget-%u.xlsx", 2019 + rng_below(r, 6));
        break;
    case 8:
        sfmt(out, n, "templates/{env}/config[%u].json", rng_below(r, 10));
        break;
    case 9:
        sfmt(out, n, "notes/\"draft\" v%u.txt", 1 + rng_below(r, 20));
        break;
    case 10:
        sfmt(out, n, "web/<index-%u>.html", rng_below(r, 100));
        break;
    case 11:
        sfmt(out, n, "AWSLogs/%s/elasticloadbalancing/%s/2024/01/%02u/%s_elasticloadbalancing_%s_app.web.%s.log.gz",
             g->a->id, g->fregion, 1 + rng_below(r, 28), g->a->id, g->fregion, rstr(r, h, 16, HEX));
        break;
    default:
        sfmt(out, n, "logs/app-%u.log.gz", rng_below(r, 100000));
    }
}

static void s3_addl(gen_t *g, ev_t *e, int64_t in, int64_t out)
{
    jw_t q;
    char t[80];
    jw_init(&q, &e->addl, g->html);
    jw_obj(&q);
    kstr(&q, "SignatureVersion", "SigV4");
    kstr(&q, "CipherSuite", pct(&g->r, 70) ? "TLS_AES_128_GCM_SHA256" : "ECDHE-RSA-AES128-GCM-SHA256");
    kint(&q, "bytesTransferredIn", in);
    kstr(&q, "AuthenticationMethod", "AuthHeader");
    rstr(&g->r, t, 75, B64);
    t[75] = '=';
    t[76] = 0;
    kstr(&q, "x-amz-id-2", t);
    kint(&q, "bytesTransferredOut", out);
    jw_endo(&q);
}

static void resources1(gen_t *g, ev_t *e, const char *acct, const char *type, const char *arn)
{
    jw_t q;
    jw_init(&q, &e->res, g->html);
    jw_arr(&q);
    jw_obj(&q);
    if (acct)
        kstr(&q, "accountId", acct);
    kstr(&q, "type", type);
    kstr(&q, "ARN", arn);
    jw_endo(&q);
    jw_enda(&q);
}

static void host_for(char *out, size_t n, const char *svc, const char *region)
{
    sfmt(out, n, "%s.%s.amazonaws.com", svc, region);
}

static void bg_event(gen_t *g, ev_t *e, int kind)
{
    rng_t *r = &g->r;
    const acct_t *A = g->a;
    const char *reg = e->region;
    jw_t q, p;
    char host[128], arn[512], key[400], t[200], t2[64];
    jw_init(&q, &e->req, g->html);
    jw_init(&p, &e->resp, g->html);
    const char *iam_action = "";
    const char *res_arn = "*";
    const char *deny_code = "AccessDenied";
    int may_fail = 1;

    switch (kind) {
    case BG_ASSUMEROLE: {
        e->source = "sts.amazonaws.com";
        e->name = "AssumeRole";
        e->read_only = 1;
        int k = pick_role(g);
        if (pct(r, 45))
            ident_service(e, PICK(r, SERVICES));
        else
            ident_random(g, e);
        host_for(host, sizeof host, "sts", reg);
        set_client(g, e, host);
        sfmt(arn, sizeof arn, "arn:aws:iam::%s:role%s%s", A->id, ROLE_DEFS[k].path, ROLE_DEFS[k].name);
        char sess[64];
        if (e->id.type == ID_SERVICE)
            sfmt(sess, sizeof sess, "%s", rstr(r, t2, 32, HEX));
        else if (pct(r, 50))
            sfmt(sess, sizeof sess, "botocore-session-%lld", (long long)e->t);
        else
            sfmt(sess, sizeof sess, "%s", PICK(r, HUMAN_SESSIONS));
        jw_obj(&q);
        kstr(&q, "roleArn", arn);
        kstr(&q, "roleSessionName", sess);
        if (pct(r, 40))
            kint(&q, "durationSeconds", pct(r, 50) ? 3600 : 900);
        if (pct(r, 15)) {
            kstr(&q, "externalId", rand_uuid(r, t2));
        }
        jw_endo(&q);
        jw_obj(&p);
        kobj(&p, "credentials");
        kstr(&p, "accessKeyId", sfmt(t, sizeof t, "ASIA%s", rstr(r, t2, 16, B32)));
        kstr(&p, "expiration", fmt_aws(t, sizeof t, e->t + 3600));
        jw_endo(&p);
        kobj(&p, "assumedRoleUser");
        kstr(&p, "assumedRoleId", sfmt(t, sizeof t, "%s:%s", A->role_ids[k], sess));
        kstr(&p, "arn", sfmt(key, sizeof key, "arn:aws:sts::%s:assumed-role/%s/%s", A->id, ROLE_DEFS[k].name, sess));
        jw_endo(&p);
        jw_endo(&p);
        resources1(g, e, A->id, "AWS::IAM::Role", arn);
        if (e->id.type == ID_ACCOUNT || pct(r, 10))
            rand_uuid(r, e->shared);
        iam_action = "sts:AssumeRole";
        res_arn = "";
        may_fail = e->id.type != ID_SERVICE;
        break;
    }
    case BG_GETCALLER:
        e->source = "sts.amazonaws.com";
        e->name = "GetCallerIdentity";
        e->read_only = 1;
        if (pct(r, 50))
            ident_role(g, e, pick_role(g));
        else
            ident_random(g, e);
        if (e->id.type == ID_SERVICE)
            ident_user(g, e);
        host_for(host, sizeof host, "sts", reg);
        set_client(g, e, host);
        may_fail = 0;
        break;
    case BG_S3GET:
    case BG_S3PUT: {
        int put = kind == BG_S3PUT;
        e->source = "s3.amazonaws.com";
        e->name = put ? "PutObject" : "GetObject";
        e->read_only = !put;
        e->mgmt = 0;
        e->category = "Data";
        if (pct(r, 75))
            ident_role(g, e, pick_role(g));
        else
            ident_random(g, e);
        const char *b = A->data_buckets[rng_below(r, 3)];
        s3_key(g, key, sizeof key);
        sfmt(host, sizeof host, "%s.s3.%s.amazonaws.com", b, reg);
        set_client(g, e, host);
        s3_reqid(g, e);
        jw_obj(&q);
        kstr(&q, "bucketName", b);
        kstr(&q, "Host", host);
        kstr(&q, "key", key);
        if (!put && pct(r, 20))
            kstr(&q, "x-id", "GetObject");
        jw_endo(&q);
        if (put && pct(r, 70)) {
            jw_obj(&p);
            kstr(&p, "x-amz-server-side-encryption", pct(r, 70) ? "AES256" : "aws:kms");
            if (pct(r, 50))
                kstr(&p, "x-amz-version-id", rstr(r, t2, 32, ALNUM));
            jw_endo(&p);
        }
        int64_t sz = rng_range(r, 200, 8000000);
        s3_addl(g, e, put ? sz : 0, put ? 0 : sz);
        {
            jw_t s;
            jw_init(&s, &e->res, g->html);
            jw_arr(&s);
            jw_obj(&s);
            kstr(&s, "type", "AWS::S3::Object");
            kstr(&s, "ARN", sfmt(arn, sizeof arn, "arn:aws:s3:::%s/%s", b, key));
            jw_endo(&s);
            jw_obj(&s);
            kstr(&s, "accountId", A->id);
            kstr(&s, "type", "AWS::S3::Bucket");
            kstr(&s, "ARN", sfmt(arn, sizeof arn, "arn:aws:s3:::%s", b));
            jw_endo(&s);
            jw_enda(&s);
        }
        iam_action = put ? "s3:PutObject" : "s3:GetObject";
        if (!put && pct(r, 2)) {
            e->err = 2;
            sfmt(e->err_code, sizeof e->err_code, "NoSuchKey");
            sfmt(e->err_msg, sizeof e->err_msg, "The specified key does not exist.");
            may_fail = 0;
        }
        break;
    }
    case BG_S3LIST:
        e->source = "s3.amazonaws.com";
        e->name = "ListBuckets";
        e->read_only = 1;
        ident_admin(g, e);
        set_client(g, e, "s3.amazonaws.com");
        s3_reqid(g, e);
        jw_obj(&q);
        kstr(&q, "Host", "s3.amazonaws.com");
        jw_endo(&q);
        s3_addl(g, e, 0, rng_range(r, 400, 9000));
        iam_action = "s3:ListAllMyBuckets";
        break;
    case BG_EC2DESC:
        e->source = "ec2.amazonaws.com";
        e->name = "DescribeInstances";
        e->read_only = 1;
        ident_random(g, e);
        host_for(host, sizeof host, "ec2", reg);
        set_client(g, e, host);
        jw_obj(&q);
        switch (rng_below(r, 3)) {
        case 0:
            kempty(&q, "instancesSet");
            kempty(&q, "filterSet");
            break;
        case 1:
            kempty(&q, "instancesSet");
            kobj(&q, "filterSet");
            karr(&q, "items");
            jw_obj(&q);
            kstr(&q, "name", "tag:Name");
            kobj(&q, "valueSet");
            karr(&q, "items");
            jw_obj(&q);
            kstr(&q, "value", pct(r, 50) ? "web-*" : "bastion (prod)");
            jw_endo(&q);
            jw_enda(&q);
            jw_endo(&q);
            jw_endo(&q);
            jw_obj(&q);
            kstr(&q, "name", "instance-state-name");
            kobj(&q, "valueSet");
            karr(&q, "items");
            jw_obj(&q);
            kstr(&q, "value", "running");
            jw_endo(&q);
            jw_enda(&q);
            jw_endo(&q);
            jw_endo(&q);
            jw_enda(&q);
            jw_endo(&q);
            break;
        default:
            kobj(&q, "instancesSet");
            karr(&q, "items");
            jw_obj(&q);
            kstr(&q, "instanceId", sfmt(t, sizeof t, "i-0%s", rstr(r, t2, 16, HEX)));
            jw_endo(&q);
            jw_enda(&q);
            jw_endo(&q);
            kempty(&q, "filterSet");
            if (pct(r, 50))
                kint(&q, "maxResults", 1000);
        }
        jw_endo(&q);
        iam_action = "ec2:DescribeInstances";
        deny_code = "Client.UnauthorizedOperation";
        break;
    case BG_EC2RUN: {
        e->source = "ec2.amazonaws.com";
        e->name = "RunInstances";
        ident_random(g, e);
        if (e->id.type == ID_SERVICE)
            ident_service(e, "autoscaling.amazonaws.com");
        host_for(host, sizeof host, "ec2", reg);
        set_client(g, e, host);
        char ami[32], iid[32], ip[32], az[32];
        sfmt(ami, sizeof ami, "ami-0%s", rstr(r, t2, 16, HEX));
        sfmt(iid, sizeof iid, "i-0%s", rstr(r, t2, 16, HEX));
        sfmt(ip, sizeof ip, "10.0.%u.%u", rng_below(r, 8), 4 + rng_below(r, 250));
        sfmt(az, sizeof az, "%s%c", reg, 'a' + (int)rng_below(r, 3));
        const char *itype = pct(r, 50) ? "t3.micro" : "m6i.large";
        const char *tagv = pct(r, 50) ? "Serveur de données (prod) — « principal »" : "ビルドサーバー #2";
        jw_obj(&q);
        kobj(&q, "instancesSet");
        karr(&q, "items");
        jw_obj(&q);
        kstr(&q, "imageId", ami);
        kint(&q, "minCount", 1);
        kint(&q, "maxCount", 1);
        jw_endo(&q);
        jw_enda(&q);
        jw_endo(&q);
        kstr(&q, "instanceType", itype);
        kempty(&q, "blockDeviceMapping");
        kstr(&q, "tenancy", "default");
        kobj(&q, "monitoring");
        kbool(&q, "enabled", 0);
        jw_endo(&q);
        kbool(&q, "disableApiTermination", 0);
        kbool(&q, "disableApiStop", 0);
        kstr(&q, "clientToken", rand_uuid(r, t2));
        kobj(&q, "tagSpecificationSet");
        karr(&q, "items");
        jw_obj(&q);
        kstr(&q, "resourceType", "instance");
        karr(&q, "tags");
        jw_obj(&q);
        kstr(&q, "key", "Name");
        kstr(&q, "value", tagv);
        jw_endo(&q);
        jw_obj(&q);
        kstr(&q, "key", "Owner");
        kstr(&q, "value", PICK(r, HUMAN_SESSIONS));
        jw_endo(&q);
        jw_enda(&q);
        jw_endo(&q);
        jw_enda(&q);
        jw_endo(&q);
        jw_endo(&q);

        jw_obj(&p);
        kstr(&p, "requestId", rand_uuid(r, t2));
        kstr(&p, "reservationId", sfmt(t, sizeof t, "r-0%s", rstr(r, t2, 16, HEX)));
        kstr(&p, "ownerId", A->id);
        kempty(&p, "groupSet");
        kobj(&p, "instancesSet");
        karr(&p, "items");
        jw_obj(&p);
        kstr(&p, "instanceId", iid);
        kstr(&p, "imageId", ami);
        kstr(&p, "currentInstanceBootMode", "legacy-bios");
        kobj(&p, "instanceState");
        kint(&p, "code", 0);
        kstr(&p, "name", "pending");
        jw_endo(&p);
        kstr(&p, "privateDnsName", sfmt(t, sizeof t, "ip-%s.ec2.internal", ip));
        kint(&p, "amiLaunchIndex", 0);
        kempty(&p, "productCodes");
        kstr(&p, "instanceType", itype);
        kint(&p, "launchTime", e->t * 1000);
        kobj(&p, "placement");
        kstr(&p, "availabilityZone", az);
        kstr(&p, "tenancy", "default");
        jw_endo(&p);
        kobj(&p, "monitoring");
        kstr(&p, "state", "disabled");
        jw_endo(&p);
        kstr(&p, "subnetId", A->subnet);
        kstr(&p, "vpcId", A->vpc);
        kstr(&p, "privateIpAddress", ip);
        kobj(&p, "stateReason");
        kstr(&p, "code", "pending");
        kstr(&p, "message", "pending");
        jw_endo(&p);
        kstr(&p, "architecture", "x86_64");
        kstr(&p, "rootDeviceType", "ebs");
        kstr(&p, "rootDeviceName", "/dev/xvda");
        kempty(&p, "blockDeviceMapping");
        kstr(&p, "virtualizationType", "hvm");
        kstr(&p, "hypervisor", "xen");
        kobj(&p, "tagSet");
        karr(&p, "items");
        jw_obj(&p);
        kstr(&p, "key", "Name");
        kstr(&p, "value", tagv);
        jw_endo(&p);
        jw_enda(&p);
        jw_endo(&p);
        kobj(&p, "groupSet");
        karr(&p, "items");
        jw_obj(&p);
        kstr(&p, "groupId", A->sg);
        kstr(&p, "groupName", "default");
        jw_endo(&p);
        jw_enda(&p);
        jw_endo(&p);
        kbool(&p, "sourceDestCheck", 1);
        kbool(&p, "ebsOptimized", 0);
        kobj(&p, "enclaveOptions");
        kbool(&p, "enabled", 0);
        jw_endo(&p);
        kobj(&p, "metadataOptions");
        kstr(&p, "state", "pending");
        kstr(&p, "httpTokens", "required");
        kint(&p, "httpPutResponseHopLimit", 2);
        kstr(&p, "httpEndpoint", "enabled");
        jw_endo(&p);
        jw_endo(&p);
        jw_enda(&p);
        jw_endo(&p);
        kstr(&p, "requesterId", "");
        jw_endo(&p);
        iam_action = "ec2:RunInstances";
        deny_code = "Client.UnauthorizedOperation";
        break;
    }
    case BG_EC2TAGS: {
        e->source = "ec2.amazonaws.com";
        e->name = "CreateTags";
        ident_admin(g, e);
        host_for(host, sizeof host, "ec2", reg);
        set_client(g, e, host);
        static const char *vals[] = {"Build \"nightly\" {v2}", "Équipe données", "日本 / 東京",
                                     "C:\\deploy\\scripts\\run.ps1", "[legacy] <do not delete>",
                                     "cost-center=4711"};
        jw_obj(&q);
        kobj(&q, "resourcesSet");
        karr(&q, "items");
        jw_obj(&q);
        kstr(&q, "resourceId", sfmt(t, sizeof t, "i-0%s", rstr(r, t2, 16, HEX)));
        jw_endo(&q);
        jw_enda(&q);
        jw_endo(&q);
        kobj(&q, "tagSet");
        karr(&q, "items");
        jw_obj(&q);
        kstr(&q, "key", pct(r, 50) ? "Description" : "Team");
        kstr(&q, "value", PICK(r, vals));
        jw_endo(&q);
        jw_enda(&q);
        jw_endo(&q);
        jw_endo(&q);
        jw_obj(&p);
        kstr(&p, "requestId", rand_uuid(r, t2));
        kbool(&p, "_return", 1);
        jw_endo(&p);
        iam_action = "ec2:CreateTags";
        deny_code = "Client.UnauthorizedOperation";
        break;
    }
    case BG_KMSDEC:
    case BG_KMSGDK: {
        int gdk = kind == BG_KMSGDK;
        e->source = "kms.amazonaws.com";
        e->name = gdk ? "GenerateDataKey" : "Decrypt";
        e->read_only = 1;
        if (pct(r, 40))
            ident_service(e, pct(r, 50) ? "s3.amazonaws.com" : "secretsmanager.amazonaws.com");
        else
            ident_role(g, e, pick_role(g));
        host_for(host, sizeof host, "kms", reg);
        set_client(g, e, host);
        sfmt(arn, sizeof arn, "arn:aws:kms:%s:%s:key/%s", reg, A->id, A->kms_key);
        jw_obj(&q);
        if (gdk)
            kstr(&q, "keyId", pct(r, 50) ? "alias/aws/s3" : arn);
        else if (pct(r, 30))
            kstr(&q, "keyId", arn);
        kobj(&q, "encryptionContext");
        switch (rng_below(r, 4)) {
        case 0:
            kstr(&q, "aws:lambda:FunctionArn",
                 sfmt(key, sizeof key, "arn:aws:lambda:%s:%s:function:%s", reg, A->id, PICK(r, LAMBDA_FUNCS)));
            break;
        case 1: {
            char k2[300];
            s3_key(g, k2, sizeof k2);
            kstr(&q, "aws:s3:arn", sfmt(key, sizeof key, "arn:aws:s3:::%s/%s", A->data_buckets[0], k2));
            break;
        }
        case 2:
            kstr(&q, "SecretARN", sfmt(key, sizeof key, "arn:aws:secretsmanager:%s:%s:secret:prod/db-%s", reg, A->id,
                                       rstr(r, t2, 6, ALNUM)));
            kstr(&q, "SecretVersionId", rand_uuid(r, t2));
            break;
        default:
            kstr(&q, "aws:ebs:id", sfmt(key, sizeof key, "vol-0%s", rstr(r, t2, 16, HEX)));
        }
        jw_endo(&q);
        if (gdk)
            kstr(&q, "keySpec", "AES_256");
        else
            kstr(&q, "encryptionAlgorithm", "SYMMETRIC_DEFAULT");
        jw_endo(&q);
        resources1(g, e, A->id, "AWS::KMS::Key", arn);
        iam_action = gdk ? "kms:GenerateDataKey" : "kms:Decrypt";
        res_arn = arn;
        deny_code = "AccessDeniedException";
        may_fail = e->id.type != ID_SERVICE;
        break;
    }
    case BG_IAMLIST:
    case BG_IAMGET:
        e->source = "iam.amazonaws.com";
        e->name = kind == BG_IAMLIST ? "ListRoles" : "GetRole";
        e->region = "us-east-1";
        e->read_only = 1;
        ident_random(g, e);
        set_client(g, e, "iam.amazonaws.com");
        if (kind == BG_IAMGET) {
            int k = pick_role(g);
            jw_obj(&q);
            kstr(&q, "roleName", ROLE_DEFS[k].name);
            jw_endo(&q);
            sfmt(arn, sizeof arn, "arn:aws:iam::%s:role%s%s", A->id, ROLE_DEFS[k].path, ROLE_DEFS[k].name);
            res_arn = arn;
            iam_action = "iam:GetRole";
        } else {
            if (pct(r, 50)) {
                jw_obj(&q);
                kint(&q, "maxItems", 100);
                if (pct(r, 30))
                    kstr(&q, "pathPrefix", "/service-role/");
                jw_endo(&q);
            }
            iam_action = "iam:ListRoles";
        }
        break;
    case BG_LAMBDA: {
        e->source = "lambda.amazonaws.com";
        e->name = "Invoke";
        e->mgmt = 0;
        e->category = "Data";
        e->version = "1.08";
        ident_random(g, e);
        host_for(host, sizeof host, "lambda", reg);
        set_client(g, e, host);
        const char *fn = PICK(r, LAMBDA_FUNCS);
        sfmt(arn, sizeof arn, "arn:aws:lambda:%s:%s:function:%s", reg, A->id, fn);
        jw_obj(&q);
        kstr(&q, "functionName", arn);
        if (e->id.type == ID_SERVICE)
            kstr(&q, "sourceArn", sfmt(key, sizeof key, "arn:aws:s3:::%s", A->data_buckets[1]));
        else if (pct(r, 30))
            kstr(&q, "invocationType", "Event");
        jw_endo(&q);
        {
            jw_t s;
            jw_init(&s, &e->addl, g->html);
            jw_obj(&s);
            kstr(&s, "functionVersion", sfmt(key, sizeof key, "%s:$LATEST", arn));
            jw_endo(&s);
        }
        resources1(g, e, A->id, "AWS::Lambda::Function", arn);
        iam_action = "lambda:InvokeFunction";
        res_arn = arn;
        deny_code = "AccessDeniedException";
        may_fail = e->id.type != ID_SERVICE;
        break;
    }
    case BG_LOGSPUT:
    case BG_LOGSCREATE: {
        e->source = "logs.amazonaws.com";
        e->name = kind == BG_LOGSPUT ? "PutLogEvents" : "CreateLogStream";
        if (kind == BG_LOGSPUT) {
            e->mgmt = 0;
            e->category = "Data";
        }
        ident_role(g, e, pct(r, 60) ? 5 : pick_role(g));
        host_for(host, sizeof host, "logs", reg);
        set_client(g, e, host);
        const char *fn = PICK(r, LAMBDA_FUNCS);
        tm_t m;
        to_tm(e->t, &m);
        jw_obj(&q);
        kstr(&q, "logGroupName", sfmt(key, sizeof key, "/aws/lambda/%s", fn));
        kstr(&q, "logStreamName",
             sfmt(t, sizeof t, "%04d/%02d/%02d/[$LATEST]%s", m.y, m.mo, m.d, rstr(r, t2, 32, HEX)));
        jw_endo(&q);
        if (kind == BG_LOGSPUT && pct(r, 50)) {
            jw_obj(&p);
            kstr(&p, "nextSequenceToken", rstr(r, t2, 56, "0123456789"));
            jw_endo(&p);
        }
        iam_action = kind == BG_LOGSPUT ? "logs:PutLogEvents" : "logs:CreateLogStream";
        deny_code = "AccessDeniedException";
        break;
    }
    case BG_LOOKUP: {
        e->source = "cloudtrail.amazonaws.com";
        e->name = "LookupEvents";
        e->read_only = 1;
        ident_admin(g, e);
        host_for(host, sizeof host, "cloudtrail", reg);
        set_client(g, e, host);
        static const struct {
            const char *k, *v;
        } attrs[] = {{"EventName", "ConsoleLogin"},
                     {"Username", "alice"},
                     {"ResourceType", "AWS::S3::Bucket"},
                     {"EventSource", "iam.amazonaws.com"},
                     {"ReadOnly", "false"}};
        unsigned a = rng_below(r, COUNT(attrs));
        jw_obj(&q);
        kint(&q, "maxResults", 50);
        karr(&q, "lookupAttributes");
        jw_obj(&q);
        kstr(&q, "attributeKey", attrs[a].k);
        kstr(&q, "attributeValue", attrs[a].v);
        jw_endo(&q);
        jw_enda(&q);
        if (pct(r, 50)) {
            kstr(&q, "startTime", fmt_aws(t, sizeof t, e->t - 86400));
        }
        jw_endo(&q);
        iam_action = "cloudtrail:LookupEvents";
        break;
    }
    case BG_PUTRULE: {
        e->source = "events.amazonaws.com";
        e->name = "PutRule";
        ident_admin(g, e);
        host_for(host, sizeof host, "events", reg);
        set_client(g, e, host);
        static const char *pats[] = {
            "{\"source\":[\"aws.ec2\"],\"detail-type\":[\"EC2 Instance State-change Notification\"],\"detail\":{\"state\":[\"stopped\",\"terminated\"]}}",
            "{\n  \"source\": [\"aws.guardduty\"],\n  \"detail-type\": [\"GuardDuty Finding\"],\n  \"detail\": {\n    \"severity\": [{\"numeric\": [\">=\", 7]}]\n  }\n}",
            "{\"source\":[\"aws.s3\"],\"detail\":{\"bucket\":{\"name\":[{\"prefix\":\"acme-\"}]}}}",
        };
        const char *name = pct(r, 50) ? "ec2-state-change" : "guardduty-high-severity";
        jw_obj(&q);
        kstr(&q, "name", name);
        kstr(&q, "eventPattern", PICK(r, pats));
        kstr(&q, "state", "ENABLED");
        if (pct(r, 50))
            kstr(&q, "description", "Route findings to the SOC's SNS topic (see runbook §4.2)");
        jw_endo(&q);
        jw_obj(&p);
        kstr(&p, "ruleArn", sfmt(arn, sizeof arn, "arn:aws:events:%s:%s:rule/%s", reg, A->id, name));
        jw_endo(&p);
        iam_action = "events:PutRule";
        deny_code = "AccessDeniedException";
        break;
    }
    case BG_SSMGET: {
        e->source = "ssm.amazonaws.com";
        e->name = "GetParameter";
        e->read_only = 1;
        ident_role(g, e, pick_role(g));
        host_for(host, sizeof host, "ssm", reg);
        set_client(g, e, host);
        static const char *names[] = {"/app/prod/db/password", "/app/prod/api-key",
                                      "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
                                      "/cdk-bootstrap/hnb659fds/version"};
        const char *nm = PICK(r, names);
        jw_obj(&q);
        kstr(&q, "name", nm);
        if (nm[1] == 'a' && nm[2] == 'p')
            kbool(&q, "withDecryption", 1);
        jw_endo(&q);
        iam_action = "ssm:GetParameter";
        deny_code = "AccessDeniedException";
        break;
    }
    case BG_SECRET:
        e->source = "secretsmanager.amazonaws.com";
        e->name = "GetSecretValue";
        e->read_only = 1;
        ident_role(g, e, pick_role(g));
        host_for(host, sizeof host, "secretsmanager", reg);
        set_client(g, e, host);
        sfmt(arn, sizeof arn, "arn:aws:secretsmanager:%s:%s:secret:prod/db-%s", reg, A->id, rstr(r, t2, 6, ALNUM));
        jw_obj(&q);
        kstr(&q, "secretId", arn);
        jw_endo(&q);
        iam_action = "secretsmanager:GetSecretValue";
        res_arn = arn;
        deny_code = "AccessDeniedException";
        break;
    case BG_DDB: {
        e->source = "dynamodb.amazonaws.com";
        e->name = "DescribeTable";
        e->read_only = 1;
        ident_random(g, e);
        host_for(host, sizeof host, "dynamodb", reg);
        set_client(g, e, host);
        static const char *tables[] = {"orders", "sessions", "terraform-locks", "user-profiles"};
        const char *tb = PICK(r, tables);
        jw_obj(&q);
        kstr(&q, "tableName", tb);
        jw_endo(&q);
        sfmt(arn, sizeof arn, "arn:aws:dynamodb:%s:%s:table/%s", reg, A->id, tb);
        resources1(g, e, A->id, "AWS::DynamoDB::Table", arn);
        iam_action = "dynamodb:DescribeTable";
        res_arn = arn;
        deny_code = "AccessDeniedException";
        break;
    }
    case BG_CONSOLE: {
        e->source = "signin.amazonaws.com";
        e->name = "ConsoleLogin";
        e->region = "us-east-1";
        e->event_type = "AwsConsoleSignIn";
        e->has_reqid = 0;
        unsigned x = rng_below(r, 10);
        if (x < 5)
            ident_role(g, e, 1 + (int)rng_below(r, 3));
        else if (x < 9)
            ident_user(g, e);
        else
            ident_root(g, e);
        e->id.console = 0;
        rand_ip(r, e->src_ip, sizeof e->src_ip);
        sfmt(e->ua, sizeof e->ua, "%s", PICK(r, UA_BROWSER));
        sfmt(e->tls_host, sizeof e->tls_host, "signin.aws.amazon.com");
        int fail = pct(r, 8);
        if (fail) {
            e->err = 2;
            sfmt(e->err_msg, sizeof e->err_msg, "Failed authentication");
            e->err_code[0] = 0;
        }
        jw_obj(&p);
        kstr(&p, "ConsoleLogin", fail ? "Failure" : "Success");
        jw_endo(&p);
        {
            jw_t s;
            jw_init(&s, &e->addl, g->html);
            jw_obj(&s);
            kstr(&s, "LoginTo", "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_7f3a9c2b1d");
            kstr(&s, "MobileVersion", "No");
            kstr(&s, "MFAUsed", e->id.type == ID_ROOT || pct(r, 60) ? "Yes" : "No");
            jw_endo(&s);
        }
        may_fail = 0;
        break;
    }
    case BG_LIGHT: {
        static const struct {
            const char *svc, *host, *name, *pkey, *pval, *action;
        } L[] = {
            {"ec2.amazonaws.com", "ec2", "DescribeRegions", "regionSet", NULL, "ec2:DescribeRegions"},
            {"ec2.amazonaws.com", "ec2", "DescribeVolumes", "volumeSet", NULL, "ec2:DescribeVolumes"},
            {"monitoring.amazonaws.com", "monitoring", "DescribeAlarms", "maxRecords", "100", "cloudwatch:DescribeAlarms"},
            {"sns.amazonaws.com", "sns", "ListTopics", NULL, NULL, "sns:ListTopics"},
            {"config.amazonaws.com", "config", "DescribeConfigRules", NULL, NULL, "config:DescribeConfigRules"},
            {"cloudformation.amazonaws.com", "cloudformation", "DescribeStacks", "stackName", "network-baseline", "cloudformation:DescribeStacks"},
            {"elasticloadbalancing.amazonaws.com", "elasticloadbalancing", "DescribeLoadBalancers", "pageSize", "400", "elasticloadbalancing:DescribeLoadBalancers"},
            {"autoscaling.amazonaws.com", "autoscaling", "DescribeAutoScalingGroups", NULL, NULL, "autoscaling:DescribeAutoScalingGroups"},
        };
        unsigned i = rng_below(r, COUNT(L));
        e->source = L[i].svc;
        e->name = L[i].name;
        e->read_only = 1;
        ident_random(g, e);
        host_for(host, sizeof host, L[i].host, reg);
        set_client(g, e, host);
        if (L[i].pkey) {
            jw_obj(&q);
            if (!L[i].pval)
                kempty(&q, L[i].pkey);
            else if (L[i].pval[0] >= '0' && L[i].pval[0] <= '9')
                kint(&q, L[i].pkey, atoi(L[i].pval));
            else
                kstr(&q, L[i].pkey, L[i].pval);
            jw_endo(&q);
        }
        iam_action = L[i].action;
        deny_code = !strncmp(L[i].svc, "ec2", 3) ? "Client.UnauthorizedOperation" : "AccessDenied";
        break;
    }
    default: /* BG_ECR */
        e->source = "ecr.amazonaws.com";
        e->name = "GetAuthorizationToken";
        e->read_only = 1;
        ident_role(g, e, pct(r, 50) ? 6 : 7);
        host_for(host, sizeof host, "api.ecr", reg);
        set_client(g, e, host);
        if (pct(r, 40)) {
            jw_obj(&q);
            karr(&q, "registryIds");
            jw_str(&q, A->id);
            jw_enda(&q);
            jw_endo(&q);
        }
        iam_action = "ecr:GetAuthorizationToken";
        deny_code = "AccessDeniedException";
        break;
    }

    if (e->id.type == ID_ROLE && e->id.kind == RK_SERVICE)
        may_fail = 0;
    if (may_fail && e->err == 0 && permille(r, 20)) {
        if (!*res_arn) {
            sfmt(arn, sizeof arn, "arn:aws:iam::%s:role/%s", A->id, ROLE_DEFS[0].name);
            res_arn = arn;
        }
        denied(g, e, deny_code, iam_action, res_arn);
        e->resp.len = 0;
    } else if (e->err == 0 && permille(r, 5)) {
        e->err = 1; /* "errorCode": null written out */
    }
}

/* -------- Organizations events -------- */

enum {
    O_DESCRIBEORG, O_LISTACCOUNTS, O_LISTPOLICIES, O_DESCRIBEACCOUNT, O_LISTROOTS, O_LISTOUS,
    O_LEAVE, O_DELETEORG, O_DISABLEPT, O_REMOVEACCT, O_DEPARTED, O_DELETEPOLICY, O_DETACH,
    O_UPDATEPOLICY, O_DEREGDA, O_DISABLESVC, O_CLOSE, O_REGDA, O_ATTACH, O_CREATEACCT, O_INVITE,
    O_CREATERESULT, O_ACCEPT, O_MOVE, O_ENABLESVC, O_CREATEPOLICY, O_ENABLEPT, O_ENABLEALL,
    O_CREATEOU, O_DELETEOU, O_TAG, O_NREAD = O_LEAVE,
};

static const wstr_t ORG_W[] = {
    [O_DESCRIBEORG] = {"DescribeOrganization", 60},
    [O_LISTACCOUNTS] = {"ListAccounts", 50},
    [O_LISTPOLICIES] = {"ListPolicies", 20},
    [O_DESCRIBEACCOUNT] = {"DescribeAccount", 20},
    [O_LISTROOTS] = {"ListRoots", 16},
    [O_LISTOUS] = {"ListOrganizationalUnitsForParent", 16},
    [O_LEAVE] = {"LeaveOrganization", 2},
    [O_DELETEORG] = {"DeleteOrganization", 1},
    [O_DISABLEPT] = {"DisablePolicyType", 2},
    [O_REMOVEACCT] = {"RemoveAccountFromOrganization", 2},
    [O_DEPARTED] = {"AccountDepartedOrganization", 2},
    [O_DELETEPOLICY] = {"DeletePolicy", 2},
    [O_DETACH] = {"DetachPolicy", 4},
    [O_UPDATEPOLICY] = {"UpdatePolicy", 4},
    [O_DEREGDA] = {"DeregisterDelegatedAdministrator", 2},
    [O_DISABLESVC] = {"DisableAWSServiceAccess", 2},
    [O_CLOSE] = {"CloseAccount", 2},
    [O_REGDA] = {"RegisterDelegatedAdministrator", 2},
    [O_ATTACH] = {"AttachPolicy", 6},
    [O_CREATEACCT] = {"CreateAccount", 4},
    [O_INVITE] = {"InviteAccountToOrganization", 2},
    [O_CREATERESULT] = {"CreateAccountResult", 4},
    [O_ACCEPT] = {"AcceptHandshake", 2},
    [O_MOVE] = {"MoveAccount", 4},
    [O_ENABLESVC] = {"EnableAWSServiceAccess", 3},
    [O_CREATEPOLICY] = {"CreatePolicy", 4},
    [O_ENABLEPT] = {"EnablePolicyType", 2},
    [O_ENABLEALL] = {"EnableAllFeatures", 1},
    [O_CREATEOU] = {"CreateOrganizationalUnit", 3},
    [O_DELETEOU] = {"DeleteOrganizationalUnit", 2},
    [O_TAG] = {"TagResource", 4},
};

static const char *SCP_CONTENTS[] = {
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"DenyLeaveOrg\",\"Effect\":\"Deny\",\"Action\":[\"organizations:LeaveOrganization\"],\"Resource\":\"*\"}]}",
    "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Sid\": \"DenyOutsideApprovedRegions\",\n      \"Effect\": \"Deny\",\n      \"NotAction\": [\"iam:*\", \"organizations:*\", \"sts:*\", \"support:*\"],\n      \"Resource\": \"*\",\n      \"Condition\": {\n        \"StringNotEquals\": {\n          \"aws:RequestedRegion\": [\"us-east-1\", \"eu-west-1\"]\n        }\n      }\n    }\n  ]\n}",
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"ProtectCloudTrail\",\"Effect\":\"Deny\",\"Action\":[\"cloudtrail:StopLogging\",\"cloudtrail:DeleteTrail\",\"cloudtrail:UpdateTrail\"],\"Resource\":\"arn:aws:cloudtrail:*:*:trail/org-trail\",\"Condition\":{\"ArnNotLike\":{\"aws:PrincipalARN\":\"arn:aws:iam::*:role/OrganizationAccountAccessRole\"}}}]}",
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"ec2:RunInstances\",\"Resource\":\"arn:aws:ec2:*:*:instance/*\",\"Condition\":{\"StringNotLike\":{\"ec2:InstanceType\":[\"t3.*\",\"m6i.*\"]}}}]}",
};

static const char *ACCOUNT_NAMES[] = {"prod-workloads", "Sandbox – Équipe Data", "log-archive",
                                      "security-tooling", "dev-東京", "shared-services"};

static const char *org_member(gen_t *g) { return g_org.members[rng_below(&g->r, (uint32_t)g_org.nmembers)]; }

static const char *org_target(gen_t *g, char *buf, size_t n)
{
    unsigned x = rng_below(&g->r, 10);
    if (x < 5)
        return sfmt(buf, n, "%s", org_member(g));
    if (x < 9)
        return sfmt(buf, n, "%s", g_org.ous[rng_below(&g->r, 5)]);
    return sfmt(buf, n, "%s", g_org.root_id);
}

static void org_policy_summary(jw_t *p, gen_t *g, const char *pid, const char *name, const char *desc)
{
    char arn[256];
    kobj(p, "policySummary");
    kstr(p, "id", pid);
    kstr(p, "arn", sfmt(arn, sizeof arn, "arn:%s:organizations::%s:policy/%s/service_control_policy/%s",
                        g->e.partition, g_org.master, g_org.org_id, pid));
    kstr(p, "name", name);
    kstr(p, "description", desc);
    kstr(p, "type", "SERVICE_CONTROL_POLICY");
    kbool(p, "awsManaged", 0);
    jw_endo(p);
}

static void org_handshake(jw_t *p, gen_t *g, const char *action, const char *target)
{
    char t[64], arn[256];
    const char *part = g->e.partition;
    rstr(&g->r, t, 8, LOWNUM);
    char hid[16];
    sfmt(hid, sizeof hid, "h-%s", t);
    kobj(p, "handshake");
    kstr(p, "id", hid);
    kstr(p, "arn", sfmt(arn, sizeof arn, "arn:%s:organizations::%s:handshake/%s/%s/%s", part, g_org.master,
                        g_org.org_id, !strcmp(action, "INVITE") ? "invite" : "enable_all_features", hid));
    karr(p, "parties");
    jw_obj(p);
    kstr(p, "id", g_org.org_id);
    kstr(p, "type", "ORGANIZATION");
    jw_endo(p);
    jw_obj(p);
    kstr(p, "id", target);
    kstr(p, "type", "ACCOUNT");
    jw_endo(p);
    jw_enda(p);
    kstr(p, "state", "OPEN");
    kstr(p, "requestedTimestamp", fmt_aws(t, sizeof t, g->e.t));
    kstr(p, "expirationTimestamp", fmt_aws(t, sizeof t, g->e.t + 15 * 86400));
    kstr(p, "action", action);
    karr(p, "resources");
    jw_obj(p);
    kstr(p, "value", g_org.org_id);
    kstr(p, "type", "ORGANIZATION");
    jw_endo(p);
    jw_enda(p);
    jw_endo(p);
}

static void org_event(gen_t *g, ev_t *e)
{
    rng_t *r = &g->r;
    unsigned k = wpick_idx(r, ORG_W, COUNT(ORG_W));
    char t[256], t2[64], arn[512], tgt[32], host[128];
    e->org = 1;
    e->name = ORG_W[k].s;
    e->source = "organizations.amazonaws.com";
    e->region = "us-east-1";
    sfmt(host, sizeof host, "organizations.us-east-1.amazonaws.com");
    if (pct(r, 10)) {
        unsigned v = rng_below(r, 10);
        if (v < 6) {
            e->source = "organizations.us-east-1.amazonaws.com";
        } else if (v < 8) {
            e->source = "organizations.us-gov-west-1.amazonaws.com";
            e->region = "us-gov-west-1";
            e->partition = "aws-us-gov";
            sfmt(host, sizeof host, "%s", e->source);
        } else {
            e->source = "organizations.cn-northwest-1.amazonaws.com.cn";
            e->region = "cn-northwest-1";
            e->partition = "aws-cn";
            sfmt(host, sizeof host, "%s", e->source);
        }
    } else if (pct(r, 4)) {
        e->region = g->fregion;
    }
    if (pct(r, 5)) {
        e->minimal = 1;
        return;
    }
    int read = k < O_NREAD;
    e->read_only = read;
    jw_t q, p;
    jw_init(&q, &e->req, g->html);
    jw_init(&p, &e->resp, g->html);

    if (k == O_CREATERESULT || k == O_DEPARTED) {
        e->version = "1.08";
        ident_service(e, "organizations.amazonaws.com");
        sfmt(e->src_ip, sizeof e->src_ip, "AWS Internal");
        sfmt(e->ua, sizeof e->ua, "AWS Internal");
        e->has_reqid = 0;
        e->event_type = "AwsServiceEvent";
        jw_t s;
        jw_init(&s, &e->svc, g->html);
        jw_obj(&s);
        if (k == O_CREATERESULT) {
            int ok = pct(r, 85);
            kobj(&s, "createAccountStatus");
            kstr(&s, "id", sfmt(t, sizeof t, "car-%s", rstr(r, t2, 32, HEX)));
            kstr(&s, "state", ok ? "SUCCEEDED" : "FAILED");
            kstr(&s, "accountName", PICK(r, ACCOUNT_NAMES));
            if (ok)
                kstr(&s, "accountId", org_member(g));
            else
                kstr(&s, "failureReason", "EMAIL_ALREADY_EXISTS");
            kstr(&s, "requestedTimestamp", fmt_aws(t, sizeof t, e->t - 120));
            kstr(&s, "completedTimestamp", fmt_aws(t, sizeof t, e->t));
            jw_endo(&s);
        } else {
            /* the fields AWS's announcement names (no example is published) */
            kstr(&s, "accountId", org_member(g));
            kstr(&s, "departedMethod", pct(r, 50) ? "Left" : "Removed");
            kstr(&s, "departedTime", fmt_aws(t, sizeof t, e->t));
        }
        jw_endo(&s);
        if (permille(r, 10))
            e->err = 1;
        return;
    }

    if (k == O_LEAVE && pct(r, 30))
        ident_root(g, e);
    else if (read && pct(r, 25))
        ident_random(g, e);
    else
        ident_admin(g, e);
    if (e->id.type == ID_SERVICE)
        ident_role(g, e, 1);
    set_client(g, e, host);

    const char *pid = g_org.policies[rng_below(r, 6)];
    const char *svcp = PICK(r, SVC_PRINCIPALS);
    switch (k) {
    case O_DESCRIBEORG:
    case O_LISTROOTS:
    case O_LEAVE:
    case O_DELETEORG:
        break;
    case O_LISTACCOUNTS:
        if (pct(r, 40)) {
            jw_obj(&q);
            kint(&q, "maxResults", 20);
            if (pct(r, 50))
                kstr(&q, "nextToken", rstr(r, t, 120, B64));
            jw_endo(&q);
        }
        break;
    case O_LISTPOLICIES:
        jw_obj(&q);
        kstr(&q, "filter", pct(r, 80) ? "SERVICE_CONTROL_POLICY" : "TAG_POLICY");
        jw_endo(&q);
        break;
    case O_DESCRIBEACCOUNT:
    case O_REMOVEACCT:
    case O_CLOSE:
        jw_obj(&q);
        kstr(&q, "accountId", org_member(g));
        jw_endo(&q);
        break;
    case O_LISTOUS:
        jw_obj(&q);
        kstr(&q, "parentId", pct(r, 60) ? g_org.root_id : g_org.ous[rng_below(r, 5)]);
        jw_endo(&q);
        break;
    case O_DISABLEPT:
    case O_ENABLEPT: {
        const char *pt = pct(r, 80) ? "SERVICE_CONTROL_POLICY" : "TAG_POLICY";
        jw_obj(&q);
        kstr(&q, "rootId", g_org.root_id);
        kstr(&q, "policyType", pt);
        jw_endo(&q);
        jw_obj(&p);
        kobj(&p, "root");
        kstr(&p, "id", g_org.root_id);
        kstr(&p, "arn", sfmt(arn, sizeof arn, "arn:%s:organizations::%s:root/%s/%s", e->partition, g_org.master,
                             g_org.org_id, g_org.root_id));
        kstr(&p, "name", "Root");
        karr(&p, "policyTypes");
        if (k == O_ENABLEPT) {
            jw_obj(&p);
            kstr(&p, "type", pt);
            kstr(&p, "status", "PENDING_ENABLE");
            jw_endo(&p);
        }
        jw_enda(&p);
        jw_endo(&p);
        jw_endo(&p);
        break;
    }
    case O_DELETEPOLICY:
        jw_obj(&q);
        kstr(&q, "policyId", pid);
        jw_endo(&q);
        break;
    case O_DETACH:
    case O_ATTACH:
        jw_obj(&q);
        kstr(&q, "policyId", pct(r, 15) ? "p-FullAWSAccess" : pid);
        kstr(&q, "targetId", org_target(g, tgt, sizeof tgt));
        jw_endo(&q);
        break;
    case O_UPDATEPOLICY:
    case O_CREATEPOLICY: {
        const char *content = PICK(r, SCP_CONTENTS);
        const char *name = pct(r, 50) ? "deny-leave-organization" : "guardrails-baseline";
        const char *desc = pct(r, 50) ? "Baseline guardrails – managed by Terraform" : "Prevents member accounts from leaving the org";
        jw_obj(&q);
        if (k == O_UPDATEPOLICY)
            kstr(&q, "policyId", pid);
        kstr(&q, "content", content);
        kstr(&q, "description", desc);
        kstr(&q, "name", name);
        if (k == O_CREATEPOLICY) {
            kstr(&q, "type", "SERVICE_CONTROL_POLICY");
            if (pct(r, 40)) {
                karr(&q, "tags");
                jw_obj(&q);
                kstr(&q, "key", "ManagedBy");
                kstr(&q, "value", "terraform");
                jw_endo(&q);
                jw_enda(&q);
            }
        }
        jw_endo(&q);
        if (k == O_CREATEPOLICY)
            pid = sfmt(t2, sizeof t2, "p-%s", rstr(r, tgt, 8, LOWNUM));
        jw_obj(&p);
        kobj(&p, "policy");
        org_policy_summary(&p, g, pid, name, desc);
        kstr(&p, "content", content);
        jw_endo(&p);
        jw_endo(&p);
        break;
    }
    case O_DEREGDA:
    case O_REGDA:
        jw_obj(&q);
        kstr(&q, "accountId", org_member(g));
        kstr(&q, "servicePrincipal", svcp);
        jw_endo(&q);
        break;
    case O_DISABLESVC:
    case O_ENABLESVC:
        jw_obj(&q);
        kstr(&q, "servicePrincipal", svcp);
        jw_endo(&q);
        break;
    case O_CREATEACCT: {
        const char *an = PICK(r, ACCOUNT_NAMES);
        jw_obj(&q);
        kstr(&q, "accountName", an);
        if (pct(r, 70))
            kstr(&q, "email", sfmt(t, sizeof t, "aws+%s-%s@example.com", pct(r, 50) ? "prod" : "sandbox",
                                   rstr(r, tgt, 6, LOWNUM)));
        else
            kstr(&q, "email", "HIDDEN_DUE_TO_SECURITY_REASONS");
        kstr(&q, "roleName", "OrganizationAccountAccessRole");
        if (pct(r, 50))
            kstr(&q, "iamUserAccessToBilling", "ALLOW");
        jw_endo(&q);
        jw_obj(&p);
        kobj(&p, "createAccountStatus");
        kstr(&p, "id", sfmt(t, sizeof t, "car-%s", rstr(r, t2, 32, HEX)));
        kstr(&p, "accountName", an);
        kstr(&p, "state", "IN_PROGRESS");
        kstr(&p, "requestedTimestamp", fmt_aws(t, sizeof t, e->t));
        jw_endo(&p);
        jw_endo(&p);
        break;
    }
    case O_INVITE: {
        const char *target = org_member(g);
        jw_obj(&q);
        kobj(&q, "target");
        kstr(&q, "id", target);
        kstr(&q, "type", "ACCOUNT");
        jw_endo(&q);
        if (pct(r, 50))
            kstr(&q, "notes", "Welcome to the \"Acme\" organization — please accept by Friday");
        jw_endo(&q);
        jw_obj(&p);
        org_handshake(&p, g, "INVITE", target);
        jw_endo(&p);
        break;
    }
    case O_ENABLEALL:
        jw_obj(&p);
        org_handshake(&p, g, "ENABLE_ALL_FEATURES", g_org.master);
        jw_endo(&p);
        break;
    case O_ACCEPT:
        jw_obj(&q);
        kstr(&q, "handshakeId", sfmt(t, sizeof t, "h-%s", rstr(r, t2, 8, LOWNUM)));
        jw_endo(&q);
        break;
    case O_MOVE:
        jw_obj(&q);
        kstr(&q, "accountId", org_member(g));
        kstr(&q, "sourceParentId", pct(r, 50) ? g_org.root_id : g_org.ous[0]);
        kstr(&q, "destinationParentId", g_org.ous[1 + rng_below(r, 4)]);
        jw_endo(&q);
        break;
    case O_CREATEOU: {
        static const char *ous[] = {"Workloads", "Sandbox", "Security", "Suspended", "Infrastructure – Réseau"};
        const char *nm = PICK(r, ous);
        const char *parent = pct(r, 70) ? g_org.root_id : g_org.ous[0];
        jw_obj(&q);
        kstr(&q, "parentId", parent);
        kstr(&q, "name", nm);
        jw_endo(&q);
        jw_obj(&p);
        kobj(&p, "organizationalUnit");
        const char *ou = g_org.ous[rng_below(r, 5)];
        kstr(&p, "id", ou);
        kstr(&p, "arn", sfmt(arn, sizeof arn, "arn:%s:organizations::%s:ou/%s/%s", e->partition, g_org.master,
                             g_org.org_id, ou));
        kstr(&p, "name", nm);
        jw_endo(&p);
        jw_endo(&p);
        break;
    }
    case O_DELETEOU:
        jw_obj(&q);
        kstr(&q, "organizationalUnitId", g_org.ous[rng_below(r, 5)]);
        jw_endo(&q);
        break;
    default: /* O_TAG */
        jw_obj(&q);
        kstr(&q, "resourceId", org_target(g, tgt, sizeof tgt));
        karr(&q, "tags");
        jw_obj(&q);
        kstr(&q, "key", "CostCenter");
        kstr(&q, "value", sfmt(t, sizeof t, "%u", 1000 + rng_below(r, 9000)));
        jw_endo(&q);
        if (pct(r, 50)) {
            jw_obj(&q);
            kstr(&q, "key", "Owner");
            kstr(&q, "value", PICK(r, HUMAN_SESSIONS));
            jw_endo(&q);
        }
        jw_enda(&q);
        jw_endo(&q);
        break;
    }

    /* outcomes */
    if (!read && pct(r, 15)) {
        int ade = pct(r, 50);
        e->err = 2;
        sfmt(e->err_code, sizeof e->err_code, "%s", ade ? "AccessDeniedException" : "AccessDenied");
        unsigned m = rng_below(r, 3);
        if (m == 0)
            sfmt(e->err_msg, sizeof e->err_msg, "You don't have permissions to access this resource.");
        else
            sfmt(e->err_msg, sizeof e->err_msg,
                 "User: %s is not authorized to perform: organizations:%s on resource: arn:%s:organizations::%s:organization/%s %s",
                 e->id.arn, e->name, e->partition, g_org.master, g_org.org_id,
                 m == 1 ? "with an explicit deny in a service control policy"
                        : "because no identity-based policy allows the action");
        e->resp.len = 0;
    } else if (read && pct(r, 3)) {
        e->err = 2;
        if (k == O_DESCRIBEACCOUNT) {
            sfmt(e->err_code, sizeof e->err_code, "AccountNotFoundException");
            sfmt(e->err_msg, sizeof e->err_msg, "You specified an account that doesn't exist.");
        } else {
            sfmt(e->err_code, sizeof e->err_code, "AWSOrganizationsNotInUseException");
            sfmt(e->err_msg, sizeof e->err_msg, "Your account is not a member of an organization.");
        }
        e->resp.len = 0;
    } else if (permille(r, 10)) {
        e->err = 1;
    }
}

/* -------- traps -------- */

static void trap_event(gen_t *g, ev_t *e)
{
    rng_t *r = &g->r;
    const acct_t *A = g->a;
    char t[256], t2[64], host[128], arn[256];
    unsigned kind = 1 + rng_below(r, 7);
    jw_t q, p;
    switch (kind) {
    case 1: {
        static const int kinds[] = {BG_GETCALLER, BG_S3GET, BG_EC2DESC, BG_ASSUMEROLE, BG_KMSDEC};
        static const char *uas[] = {
            "organizations.amazonaws.com",
            "aws-sdk-java/1.12.500 Linux/5.10 OpenJDK_64-Bit_Server_VM/17 (via organizations.amazonaws.com)",
            "Boto3/1.34.11 Botocore/1.34.11 md/endpoint#organizations.amazonaws.com",
        };
        bg_event(g, e, PICK(r, kinds));
        sfmt(e->ua, sizeof e->ua, "%s", PICK(r, uas));
        break;
    }
    case 2:
        bg_event(g, e, pct(r, 50) ? BG_GETCALLER : BG_S3GET);
        sfmt(e->ua, sizeof e->ua, "%s",
             "\",\"eventSource\":\"organizations.amazonaws.com\",\"eventName\":\"LeaveOrganization\",\"x\":\"");
        break;
    case 3:
        bg_event(g, e, BG_LOOKUP);
        e->req.len = 0;
        jw_init(&q, &e->req, g->html);
        jw_obj(&q);
        karr(&q, "lookupAttributes");
        jw_obj(&q);
        kstr(&q, "attributeKey", "EventSource");
        kstr(&q, "attributeValue", "organizations.amazonaws.com");
        jw_endo(&q);
        jw_enda(&q);
        if (pct(r, 50))
            kint(&q, "maxResults", 50);
        jw_endo(&q);
        break;
    case 4:
        bg_event(g, e, BG_PUTRULE);
        e->req.len = 0;
        e->resp.len = 0;
        jw_init(&q, &e->req, g->html);
        jw_obj(&q);
        kstr(&q, "name", "org-change-alerts");
        kstr(&q, "eventPattern",
             pct(r, 50)
                 ? "{\"source\":[\"aws.organizations\"],\"detail\":{\"eventSource\":[\"organizations.amazonaws.com\"]}}"
                 : "{\"source\":[\"aws.organizations\"],\"detail-type\":[\"AWS API Call via CloudTrail\"],\"detail\":{\"eventSource\":[\"organizations.amazonaws.com\"],\"eventName\":[\"LeaveOrganization\",\"RemoveAccountFromOrganization\"]}}");
        kstr(&q, "state", "ENABLED");
        kstr(&q, "description", "Alert on AWS Organizations changes");
        jw_endo(&q);
        if (e->err != 2) {
            jw_init(&p, &e->resp, g->html);
            jw_obj(&p);
            kstr(&p, "ruleArn", sfmt(arn, sizeof arn, "arn:aws:events:%s:%s:rule/org-change-alerts", e->region, A->id));
            jw_endo(&p);
        }
        break;
    case 5: {
        const char *svc = PICK(r, SVC_PRINCIPALS);
        e->source = "iam.amazonaws.com";
        e->name = "CreateServiceLinkedRole";
        e->region = "us-east-1";
        ident_service(e, "organizations.amazonaws.com");
        sfmt(e->src_ip, sizeof e->src_ip, "organizations.amazonaws.com");
        sfmt(e->ua, sizeof e->ua, "organizations.amazonaws.com");
        jw_init(&q, &e->req, g->html);
        jw_obj(&q);
        kstr(&q, "aWSServiceName", svc);
        jw_endo(&q);
        char rn[96];
        {
            /* AWSServiceRoleFor<Service> */
            char nm[48];
            size_t i = 0;
            for (const char *c = svc; *c && *c != '.' && i < sizeof nm - 1; c++)
                nm[i++] = *c == '-' ? '_' : *c;
            nm[i] = 0;
            if (nm[0] >= 'a' && nm[0] <= 'z')
                nm[0] = (char)(nm[0] - 'a' + 'A');
            sfmt(rn, sizeof rn, "AWSServiceRoleFor%s", nm);
        }
        jw_init(&p, &e->resp, g->html);
        jw_obj(&p);
        kobj(&p, "role");
        kstr(&p, "path", sfmt(t, sizeof t, "/aws-service-role/%s/", svc));
        kstr(&p, "roleName", rn);
        kstr(&p, "roleId", sfmt(t2, sizeof t2, "AROA%s", rstr(r, arn, 17, B32)));
        kstr(&p, "arn", sfmt(arn, sizeof arn, "arn:aws:iam::%s:role/aws-service-role/%s/%s", A->id, svc, rn));
        kstr(&p, "createDate", fmt_aws(t2, sizeof t2, e->t));
        kstr(&p, "assumeRolePolicyDocument",
             sfmt(t, sizeof t, "%%7B%%22Version%%22%%3A%%222012-10-17%%22%%2C%%22Statement%%22%%3A%%5B%%7B%%22Action%%22%%3A%%5B%%22sts%%3AAssumeRole%%22%%5D%%2C%%22Effect%%22%%3A%%22Allow%%22%%2C%%22Principal%%22%%3A%%7B%%22Service%%22%%3A%%5B%%22%s%%22%%5D%%7D%%7D%%5D%%7D", svc));
        jw_endo(&p);
        jw_endo(&p);
        break;
    }
    case 6:
        e->source = "securityhub.amazonaws.com";
        e->name = "BatchImportFindings";
        ident_role(g, e, pick_role(g));
        host_for(host, sizeof host, "securityhub", e->region);
        set_client(g, e, host);
        jw_init(&q, &e->req, g->html);
        jw_obj(&q);
        karr(&q, "findings");
        jw_obj(&q);
        kstr(&q, "schemaVersion", "2018-10-08");
        kstr(&q, "id", rand_uuid(r, t2));
        kstr(&q, "title", "Member account attempted to leave the organization");
        kobj(&q, "productFields");
        kobj(&q, "cloudTrailEvent");
        kstr(&q, "eventSource", "organizations.amazonaws.com");
        kstr(&q, "eventName", "LeaveOrganization");
        kstr(&q, "awsRegion", "us-east-1");
        jw_endo(&q);
        jw_endo(&q);
        jw_endo(&q);
        jw_enda(&q);
        jw_endo(&q);
        jw_init(&p, &e->resp, g->html);
        jw_obj(&p);
        kint(&p, "failedCount", 0);
        kint(&p, "successCount", 1);
        jw_endo(&p);
        break;
    default:
        bg_event(g, e, BG_EC2TAGS);
        e->req.len = 0;
        jw_init(&q, &e->req, g->html);
        jw_obj(&q);
        kobj(&q, "resourcesSet");
        karr(&q, "items");
        jw_obj(&q);
        kstr(&q, "resourceId", sfmt(t, sizeof t, "i-0%s", rstr(r, t2, 16, HEX)));
        jw_endo(&q);
        jw_enda(&q);
        jw_endo(&q);
        kobj(&q, "tagSet");
        karr(&q, "items");
        jw_obj(&q);
        kstr(&q, "key", "Note");
        kstr(&q, "value",
             pct(r, 50) ? "}]},{\"eventSource\":\"organizations.amazonaws.com\",\"eventName\":\"LeaveOrganization\""
                        : "]]}}{[\"eventSource\": \"organizations.amazonaws.com\"\\\"}");
        jw_endo(&q);
        jw_enda(&q);
        jw_endo(&q);
        jw_endo(&q);
        break;
    }
}

/* -------- record emission -------- */

/* The identity fields every signed-in principal has. */
static void emit_principal(jw_t *w, const ident_t *id, const char *type)
{
    kstr(w, "type", type);
    kstr(w, "principalId", id->principal);
    kstr(w, "arn", id->arn);
    kstr(w, "accountId", id->acct);
    kstr(w, "accessKeyId", id->akid);
}

/* sessionContext: the issuer (an assumed role's, or empty) and the session's
 * attributes. */
static void emit_session(jw_t *w, const ident_t *id, int role_issuer)
{
    char ts[24];
    kobj(w, "sessionContext");
    if (role_issuer) {
        kobj(w, "sessionIssuer");
        kstr(w, "type", "Role");
        kstr(w, "principalId", id->role_id);
        kstr(w, "arn", id->role_arn);
        kstr(w, "accountId", id->acct);
        kstr(w, "userName", id->name);
        jw_endo(w);
    } else {
        kempty(w, "sessionIssuer");
    }
    kempty(w, "webIdFederationData");
    kobj(w, "attributes");
    kstr(w, "creationDate", fmt_iso(ts, id->created));
    kstr(w, "mfaAuthenticated", id->mfa ? "true" : "false");
    jw_endo(w);
    jw_endo(w);
}

static void emit_identity(jw_t *w, const ev_t *e)
{
    const ident_t *id = &e->id;
    jw_obj(w);
    switch (id->type) {
    case ID_SERVICE:
        kstr(w, "type", "AWSService");
        kstr(w, "invokedBy", id->invoked_by);
        break;
    case ID_USER:
        emit_principal(w, id, "IAMUser");
        kstr(w, "userName", id->name);
        if (id->console)
            emit_session(w, id, 0);
        break;
    case ID_ROLE:
        emit_principal(w, id, "AssumedRole");
        emit_session(w, id, 1);
        break;
    case ID_ROOT:
        emit_principal(w, id, "Root");
        emit_session(w, id, 0);
        break;
    default: /* ID_ACCOUNT */
        kstr(w, "type", "AWSAccount");
        kstr(w, "principalId", id->principal);
        kstr(w, "accountId", id->acct);
        break;
    }
    jw_endo(w);
}

static const struct {
    const char *v, *c;
} TLS[] = {{"TLSv1.3", "TLS_AES_128_GCM_SHA256"},
           {"TLSv1.3", "TLS_AES_256_GCM_SHA384"},
           {"TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"}};

static void emit_record(jw_t *w, gen_t *g, ev_t *e)
{
    char ts[24];
    jw_obj(w);
    kstr(w, "eventVersion", e->version);
    if (!e->minimal && e->id.type != ID_NONE) {
        jw_key(w, "userIdentity");
        emit_identity(w, e);
    }
    kstr(w, "eventTime", fmt_iso(ts, e->t));
    kstr(w, "eventSource", e->source);
    kstr(w, "eventName", e->name);
    kstr(w, "awsRegion", e->region);
    if (e->minimal) {
        kstr(w, "eventID", e->eventid);
        jw_endo(w);
        return;
    }
    kstr(w, "sourceIPAddress", e->src_ip);
    kstr(w, "userAgent", e->ua);
    if (e->err == 1) {
        knull(w, "errorCode");
    } else if (e->err == 2) {
        if (e->err_code[0])
            kstr(w, "errorCode", e->err_code);
        kstr(w, "errorMessage", e->err_msg);
    }
    jw_key(w, "requestParameters");
    if (e->req.len)
        jw_rawbuf(w, &e->req);
    else
        jw_raw(w, "null");
    jw_key(w, "responseElements");
    if (e->resp.len)
        jw_rawbuf(w, &e->resp);
    else
        jw_raw(w, "null");
    if (e->addl.len) {
        jw_key(w, "additionalEventData");
        jw_rawbuf(w, &e->addl);
    }
    if (e->has_reqid)
        kstr(w, "requestID", e->reqid);
    kstr(w, "eventID", e->eventid);
    if (e->read_only >= 0)
        kbool(w, "readOnly", e->read_only);
    if (e->res.len) {
        jw_key(w, "resources");
        jw_rawbuf(w, &e->res);
    }
    kstr(w, "eventType", e->event_type);
    kbool(w, "managementEvent", e->mgmt);
    kstr(w, "recipientAccountId", g->a->id);
    if (e->shared[0])
        kstr(w, "sharedEventID", e->shared);
    if (e->svc.len) {
        jw_key(w, "serviceEventDetails");
        jw_rawbuf(w, &e->svc);
    }
    kstr(w, "eventCategory", e->category);
    if (e->tls_host[0]) {
        unsigned k = rng_below(&g->r, COUNT(TLS));
        kobj(w, "tlsDetails");
        kstr(w, "tlsVersion", TLS[k].v);
        kstr(w, "cipherSuite", TLS[k].c);
        kstr(w, "clientProvidedHostHeader", e->tls_host);
        jw_endo(w);
    }
    if (e->id.console && e->id.type != ID_SERVICE)
        kstr(w, "sessionCredentialFromConsole", "true");
    jw_endo(w);
}

/* ------------------------------------------------------------------------ */
/* pretty printer (input: minified JSON produced above)                      */

static void indent(buf_t *o, int d)
{
    buf_putc(o, '\n');
    buf_reserve(o, (size_t)d * 2);
    for (int i = 0; i < d; i++) {
        o->p[o->len++] = ' ';
        o->p[o->len++] = ' ';
    }
}

static void pretty(const buf_t *in, buf_t *o)
{
    int d = 0;
    o->len = 0;
    buf_reserve(o, in->len * 2);
    for (size_t i = 0; i < in->len; i++) {
        char c = in->p[i];
        switch (c) {
        case '"': {
            size_t j = i + 1;
            while (in->p[j] != '"') {
                if (in->p[j] == '\\')
                    j++;
                j++;
            }
            buf_put(o, in->p + i, j - i + 1);
            i = j;
            break;
        }
        case '{':
        case '[':
            if (i + 1 < in->len && (in->p[i + 1] == '}' || in->p[i + 1] == ']')) {
                buf_putc(o, c);
                buf_putc(o, in->p[++i]);
            } else {
                buf_putc(o, c);
                indent(o, ++d);
            }
            break;
        case '}':
        case ']':
            indent(o, --d);
            buf_putc(o, c);
            break;
        case ',':
            buf_putc(o, ',');
            indent(o, d);
            break;
        case ':':
            buf_put(o, ": ", 2);
            break;
        default:
            buf_putc(o, c);
        }
    }
    buf_putc(o, '\n');
}

/* ------------------------------------------------------------------------ */
/* gzip and files                                                            */

static z_stream g_zs;
static int g_zs_ready;

static void gzip_buf(const unsigned char *in, size_t n, buf_t *out)
{
    if (!g_zs_ready) {
        memset(&g_zs, 0, sizeof g_zs);
        if (deflateInit2(&g_zs, GZ_LEVEL, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            die_msg("deflateInit2 failed");
        g_zs_ready = 1;
    } else if (deflateReset(&g_zs) != Z_OK) {
        die_msg("deflateReset failed");
    }
    static const unsigned char hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    out->len = 0;
    buf_put(out, hdr, sizeof hdr);
    uLong crc = crc32(0L, Z_NULL, 0);
    size_t off = 0;
    int ret;
    do {
        size_t chunk = n - off;
        if (chunk > (1u << 30))
            chunk = 1u << 30;
        int flush = off + chunk == n ? Z_FINISH : Z_NO_FLUSH;
        g_zs.next_in = (Bytef *)(uintptr_t)(in + off);
        g_zs.avail_in = (uInt)chunk;
        crc = crc32(crc, in + off, (uInt)chunk);
        off += chunk;
        do {
            size_t room = deflateBound(&g_zs, chunk) + 64;
            buf_reserve(out, room);
            g_zs.next_out = (Bytef *)(out->p + out->len);
            g_zs.avail_out = (uInt)room;
            ret = deflate(&g_zs, flush);
            if (ret == Z_STREAM_ERROR)
                die_msg("deflate failed");
            out->len += room - g_zs.avail_out;
        } while (g_zs.avail_out == 0 || (flush == Z_FINISH && ret != Z_STREAM_END));
    } while (off < n);
    unsigned char tr[8];
    uint32_t c32 = (uint32_t)crc, isz = (uint32_t)(n & 0xffffffffu);
    for (int i = 0; i < 4; i++) {
        tr[i] = (unsigned char)(c32 >> (8 * i));
        tr[4 + i] = (unsigned char)(isz >> (8 * i));
    }
    buf_put(out, tr, 8);
}

static char *g_lastdir;

/* mkdir -p: try the full path first; only on ENOENT create the parent */
static void mkdir_rec(char *p)
{
    if (mkdir(p, 0755) == 0)
        return;
    int err = errno;
    struct stat st;
    if (err == EEXIST) {
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            return;
        errno = ENOTDIR;
        die_io("cannot create directory", p);
    }
    char *slash = strrchr(p, '/');
    if (err != ENOENT || !slash || slash == p) {
        errno = err;
        die_io("cannot create directory", p);
    }
    *slash = 0;
    mkdir_rec(p);
    *slash = '/';
    if (mkdir(p, 0755) != 0 && !(errno == EEXIST && stat(p, &st) == 0 && S_ISDIR(st.st_mode)))
        die_io("cannot create directory", p);
}

static void mkdir_p(const char *dir)
{
    if (g_lastdir && !strcmp(g_lastdir, dir))
        return;
    char *p = xstrdup(dir);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = 0;
    mkdir_rec(p);
    free(g_lastdir);
    g_lastdir = p;
}

static void write_file(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die_io("cannot create", path);
    const char *p = data;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            die_io("cannot write", path);
        }
        p += k;
        n -= (size_t)k;
    }
    if (close(fd) != 0)
        die_io("cannot write", path);
}

/* writes OUT_DIR/rel, creating directories */
static void write_rel(const char *outdir, const char *rel, const void *data, size_t n)
{
    size_t lo = strlen(outdir), lr = strlen(rel);
    char *full = xmalloc(lo + lr + 2);
    memcpy(full, outdir, lo);
    full[lo] = '/';
    memcpy(full + lo + 1, rel, lr + 1);
    char *slash = strrchr(full, '/');
    *slash = 0;
    mkdir_p(full);
    *slash = '/';
    write_file(full, data, n);
    free(full);
}

/* ------------------------------------------------------------------------ */
/* corpus plan                                                               */

typedef struct {
    char *rel;
    int acct;
    const char *region;
    int64_t deliver;
    int nrec;
    uint64_t seed;
    int64_t oldest, newest;
} file_t;

typedef struct {
    uint64_t seed;
    long files;
    long events;
    double org_rate;
    int traps;
    long digests;
    int pretty;
    int64_t start;
    const char *outdir;
} opts_t;

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const file_t *)a)->rel, ((const file_t *)b)->rel);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void file_rel(file_t *f, rng_t *r)
{
    char buf[256], day[16], ts[20], sfx[20];
    const char *acct = g_accts[f->acct].id;
    sfmt(buf, sizeof buf, "AWSLogs/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz", acct, f->region,
         fmt_daydir(day, f->deliver), acct, f->region, fmt_compact(ts, f->deliver, 0), rstr(r, sfx, 16, ALNUM));
    free(f->rel);
    f->rel = xstrdup(buf);
}

static file_t *plan_files(const opts_t *o)
{
    rng_t r;
    rng_seed(&r, o->seed ^ 0x9a7c3e15d2b4f601ULL);
    long n = o->files;
    file_t *F = xmalloc(sizeof(file_t) * (size_t)n);
    memset(F, 0, sizeof(file_t) * (size_t)n);
    long per_day = (n + 364) / 365;
    if (per_day < 4)
        per_day = 4;
    int64_t gap = 86400 / per_day;
    int64_t cur = o->start + 900 + (int64_t)rng_below(&r, (uint32_t)(gap / 2 + 1));
    for (long i = 0; i < n; i++) {
        file_t *f = &F[i];
        f->acct = (int)wpick_idx(&r, g_acct_w, (size_t)g_nacct);
        f->region = WPICK(&r, REGIONS);
        f->deliver = cur - cur % 60;
        cur += gap / 2 + (int64_t)rng_below(&r, (uint32_t)(gap + 1));
        long m = o->events;
        if (m <= 2)
            f->nrec = (int)m;
        else
            f->nrec = (int)rng_range(&r, m / 2 > 1 ? m / 2 : 1, m + m / 2);
        f->seed = rng_next(&r);
        file_rel(f, &r);
    }
    for (;;) {
        qsort(F, (size_t)n, sizeof *F, cmp_file);
        int dup = 0;
        for (long i = 1; i < n; i++)
            if (!strcmp(F[i].rel, F[i - 1].rel)) {
                file_rel(&F[i], &r);
                dup = 1;
            }
        if (!dup)
            break;
    }
    return F;
}

/* ------------------------------------------------------------------------ */
/* digests                                                                   */

typedef struct {
    int acct;
    const char *region;
    int64_t hour; /* window end */
    long first, count;
} dgroup_t;

static void write_digests(const opts_t *o, file_t *F, long n)
{
    if (o->digests <= 0)
        return;
    rng_t r;
    rng_seed(&r, o->seed ^ 0x0d16e57d16e57001ULL);
    dgroup_t *G = xmalloc(sizeof(dgroup_t) * (size_t)(n + 1));
    long ng = 0;
    for (long i = 0; i < n; i++) {
        const acct_t *A = &g_accts[F[i].acct];
        int64_t t = F[i].deliver - A->digest_off;
        int64_t h = (t >= 0 ? t / 3600 : -((-t + 3599) / 3600));
        int64_t end = (h + 1) * 3600 + A->digest_off;
        if (ng && G[ng - 1].acct == F[i].acct && G[ng - 1].region == F[i].region && G[ng - 1].hour == end) {
            G[ng - 1].count++;
        } else {
            G[ng].acct = F[i].acct;
            G[ng].region = F[i].region;
            G[ng].hour = end;
            G[ng].first = i;
            G[ng].count = 1;
            ng++;
        }
    }
    buf_t doc = {0}, pb = {0}, gz = {0};
    for (long k = 0; k < o->digests; k++) {
        dgroup_t d;
        if (k < ng && o->digests <= ng) {
            d = G[(long)((k * (__int128)ng) / o->digests)];
        } else if (k < ng) {
            d = G[k];
        } else {
            long j = k - ng;
            d.acct = (int)(j % g_nacct);
            d.region = "us-east-1";
            const acct_t *A = &g_accts[d.acct];
            int64_t t = o->start - A->digest_off;
            int64_t h = (t >= 0 ? t / 3600 : -((-t + 3599) / 3600));
            d.hour = h * 3600 + A->digest_off - 3600 * (j / g_nacct);
            d.first = 0;
            d.count = 0;
        }
        const acct_t *A = &g_accts[d.acct];
        char rel[300], prev[300], day[16], ts[20], a[24], b[24], h1[80], sig[520];
        int64_t end = d.hour, start = end - 3600;
        sfmt(rel, sizeof rel, "AWSLogs/%s/CloudTrail-Digest/%s/%s/%s_CloudTrail-Digest_%s_%s_%s_%s.json.gz", A->id,
             d.region, fmt_daydir(day, end), A->id, d.region, A->trail, d.region, fmt_compact(ts, end, 1));
        sfmt(prev, sizeof prev, "AWSLogs/%s/CloudTrail-Digest/%s/%s/%s_CloudTrail-Digest_%s_%s_%s_%s.json.gz", A->id,
             d.region, fmt_daydir(day, start), A->id, d.region, A->trail, d.region, fmt_compact(ts, start, 1));
        int64_t oldest = INT64_MAX, newest = INT64_MIN;
        for (long i = d.first; i < d.first + d.count; i++) {
            if (F[i].oldest < oldest)
                oldest = F[i].oldest;
            if (F[i].newest > newest)
                newest = F[i].newest;
        }
        jw_t w;
        doc.len = 0;
        jw_init(&w, &doc, 0);
        jw_obj(&w);
        kstr(&w, "awsAccountId", A->id);
        kstr(&w, "digestStartTime", fmt_iso(a, start));
        kstr(&w, "digestEndTime", fmt_iso(a, end));
        kstr(&w, "digestS3Bucket", A->bucket);
        kstr(&w, "digestS3Object", rel);
        if (d.count) {
            kstr(&w, "newestEventTime", fmt_iso(a, newest));
            kstr(&w, "oldestEventTime", fmt_iso(b, oldest));
        }
        kstr(&w, "previousDigestS3Bucket", A->bucket);
        kstr(&w, "previousDigestS3Object", prev);
        kstr(&w, "previousDigestHashValue", rstr(&r, h1, 64, HEX));
        kstr(&w, "previousDigestHashAlgorithm", "SHA-256");
        kstr(&w, "previousDigestSignature", rstr(&r, sig, 512, HEX));
        kstr(&w, "digestPublicKeyFingerprint", A->fingerprint);
        kstr(&w, "digestSignatureAlgorithm", "SHA256withRSA");
        karr(&w, "logFiles");
        for (long i = d.first; i < d.first + d.count; i++) {
            jw_obj(&w);
            kstr(&w, "s3Bucket", A->bucket);
            kstr(&w, "s3Object", F[i].rel);
            kstr(&w, "hashValue", rstr(&r, h1, 64, HEX));
            kstr(&w, "hashAlgorithm", "SHA-256");
            kstr(&w, "newestEventTime", fmt_iso(a, F[i].newest));
            kstr(&w, "oldestEventTime", fmt_iso(b, F[i].oldest));
            jw_endo(&w);
        }
        jw_enda(&w);
        jw_endo(&w);
        const buf_t *raw = &doc;
        if (o->pretty) {
            pretty(&doc, &pb);
            raw = &pb;
        }
        gzip_buf((const unsigned char *)raw->p, raw->len, &gz);
        write_rel(o->outdir, rel, gz.p, gz.len);
    }
    free(doc.p);
    free(pb.p);
    free(gz.p);
    free(G);
}

/* ------------------------------------------------------------------------ */
/* main                                                                      */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: orgtrail-gen --seed S --files N --events M [--org-rate R] [--no-traps]\n"
            "                    [--digest N] [--pretty] [--start YYYY-MM-DD] OUT_DIR\n"
            "  --seed S         PRNG seed (unsigned 64-bit integer)\n"
            "  --files N        number of CloudTrail log files (>= 1)\n"
            "  --events M       mean records per file; each file gets max(1,M/2)..M+M/2\n"
            "                   (exactly M when M <= 2)\n"
            "  --org-rate R     probability that a record is an AWS Organizations event\n"
            "                   (0..1, default 0.002)\n"
            "  --no-traps       no decoy records mentioning organizations.amazonaws.com\n"
            "  --digest N       digest files to write (default 2 if N files >= 10, else 0)\n"
            "  --pretty         pretty-print JSON (2 spaces) instead of CloudTrail's minified form\n"
            "  --start DATE     first day of the corpus (default 2024-01-01)\n"
            "writes OUT_DIR/AWSLogs/..., OUT_DIR/ground-truth.tsv, OUT_DIR/manifest.tsv\n");
}

static void bad(const char *msg, const char *arg)
{
    fprintf(stderr, "%s: %s%s%s\n", g_prog, msg, arg ? ": " : "", arg ? arg : "");
    usage(stderr);
    exit(2);
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_date(const char *s, int64_t *out)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || m < 1 || m > 12 || d < 1)
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] + (m == 2 && leap))
        return -1;
    *out = days_from_civil(y, (unsigned)m, (unsigned)d) * 86400;
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o;
    memset(&o, 0, sizeof o);
    o.org_rate = 0.002;
    o.traps = 1;
    o.digests = -1;
    parse_date("2024-01-01", &o.start);
    int have_seed = 0, have_files = 0, have_events = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--no-traps")) {
            o.traps = 0;
        } else if (!strcmp(a, "--pretty")) {
            o.pretty = 1;
        } else if (!strcmp(a, "--seed") || !strcmp(a, "--files") || !strcmp(a, "--events") ||
                   !strcmp(a, "--org-rate") || !strcmp(a, "--digest") || !strcmp(a, "--start")) {
            if (i + 1 >= argc)
                bad("missing value for", a);
            const char *val = argv[++i];
            if (!strcmp(a, "--seed")) {
                if (parse_u64(val, &o.seed))
                    bad("bad --seed", val);
                have_seed = 1;
            } else if (!strcmp(a, "--files")) {
                if (parse_u64(val, &v) || v < 1 || v > 100000000)
                    bad("bad --files (1..100000000)", val);
                o.files = (long)v;
                have_files = 1;
            } else if (!strcmp(a, "--events")) {
                if (parse_u64(val, &v) || v > 10000000)
                    bad("bad --events (0..10000000)", val);
                o.events = (long)v;
                have_events = 1;
            } else if (!strcmp(a, "--digest")) {
                if (parse_u64(val, &v) || v > 1000000)
                    bad("bad --digest (0..1000000)", val);
                o.digests = (long)v;
            } else if (!strcmp(a, "--org-rate")) {
                char *end;
                errno = 0;
                double d = strtod(val, &end);
                if (!*val || *end || errno || !(d >= 0.0 && d <= 1.0))
                    bad("bad --org-rate (0..1)", val);
                o.org_rate = d;
            } else {
                if (parse_date(val, &o.start))
                    bad("bad --start (YYYY-MM-DD)", val);
            }
        } else if (a[0] == '-' && a[1]) {
            bad("unknown option", a);
        } else {
            if (o.outdir)
                bad("more than one OUT_DIR", a);
            o.outdir = a;
        }
    }
    if (!have_seed || !have_files || !have_events || !o.outdir)
        bad("--seed, --files, --events and OUT_DIR are required", NULL);
    if (o.digests < 0)
        o.digests = o.files >= 10 ? 2 : 0;

    mkdir_p(o.outdir);
    build_world(o.seed);
    file_t *F = plan_files(&o);
    long n = o.files;

    gen_t *g = xmalloc(sizeof *g);
    memset(g, 0, sizeof *g);
    buf_t doc = {0}, pb = {0}, gz = {0}, gt = {0}, man = {0};
    int64_t *times = NULL;
    size_t times_cap = 0;
    uint64_t idkey = mix62(o.seed ^ 0x1d0e7f3c5b2a4968ULL);
    uint64_t counter = 0;
    uint64_t tot_rec = 0, tot_raw = 0, tot_gz = 0;

    for (long fi = 0; fi < n; fi++) {
        file_t *f = &F[fi];
        rng_seed(&g->r, f->seed);
        g->a = &g_accts[f->acct];
        g->fregion = f->region;
        if ((size_t)f->nrec > times_cap) {
            times_cap = (size_t)f->nrec;
            times = xrealloc(times, times_cap * sizeof *times);
        }
        for (int i = 0; i < f->nrec; i++)
            times[i] = f->deliver - rng_range(&g->r, 1, 900);
        if (f->nrec > 1)
            qsort(times, (size_t)f->nrec, sizeof *times, cmp_i64);
        f->oldest = f->nrec ? times[0] : f->deliver - 900;
        f->newest = f->nrec ? times[f->nrec - 1] : f->deliver - 1;

        doc.len = 0;
        buf_put(&doc, "{\"Records\":[", 12);
        for (int i = 0; i < f->nrec; i++) {
            ev_t *e = &g->e;
            g->html = permille(&g->r, 150);
            ev_reset(g, e, times[i]);
            uint64_t lo = mix62(counter++ ^ idkey) | 0x8000000000000000ULL;
            uint64_t hi = (rng_next(&g->r) & ~0xF000ULL) | 0x4000ULL;
            fmt_uuid(e->eventid, hi, lo);
            if (rng_unit(&g->r) < o.org_rate) {
                org_event(g, e);
            } else if (o.traps && permille(&g->r, 5)) {
                trap_event(g, e);
            } else {
                int kind;
                do
                    kind = (int)wpick_idx(&g->r, BG_W, COUNT(BG_W));
                while (strcmp(g->fregion, "us-east-1") &&
                       (kind == BG_IAMLIST || kind == BG_IAMGET || kind == BG_CONSOLE));
                bg_event(g, e, kind);
            }
            if (i)
                buf_putc(&doc, ',');
            jw_t w;
            jw_init(&w, &doc, g->html);
            emit_record(&w, g, e);
            if (e->org) {
                buf_puts(&gt, e->eventid);
                buf_putc(&gt, '\t');
                buf_puts(&gt, e->name);
                buf_puts(&gt, e->err == 2 ? "\tfailure\t" : "\tsuccess\t");
                buf_puts(&gt, f->rel);
                buf_putc(&gt, '\n');
            }
        }
        buf_put(&doc, "]}", 2);
        const buf_t *raw = &doc;
        if (o.pretty) {
            pretty(&doc, &pb);
            raw = &pb;
        }
        gzip_buf((const unsigned char *)raw->p, raw->len, &gz);
        write_rel(o.outdir, f->rel, gz.p, gz.len);
        buf_printf(&man, "%s\t%d\t%zu\t%zu\n", f->rel, f->nrec, raw->len, gz.len);
        tot_rec += (uint64_t)f->nrec;
        tot_raw += raw->len;
        tot_gz += gz.len;
    }
    buf_printf(&man, "TOTAL\t%llu\t%llu\t%llu\n", (unsigned long long)tot_rec, (unsigned long long)tot_raw,
               (unsigned long long)tot_gz);

    write_digests(&o, F, n);

    free(g_lastdir);
    g_lastdir = NULL;
    write_rel(o.outdir, "ground-truth.tsv", gt.p ? gt.p : "", gt.len);
    write_rel(o.outdir, "manifest.tsv", man.p, man.len);

    if (g_zs_ready)
        deflateEnd(&g_zs);
    for (long i = 0; i < n; i++)
        free(F[i].rel);
    free(F);
    free(times);
    free(doc.p);
    free(pb.p);
    free(gz.p);
    free(gt.p);
    free(man.p);
    free(g->e.req.p);
    free(g->e.resp.p);
    free(g->e.addl.p);
    free(g->e.res.p);
    free(g->e.svc.p);
    free(g);
    free(g_accts);
    free(g_lastdir);
    return 0;
}
