#define _GNU_SOURCE     /* sched_getaffinity, vasprintf */
#include "util.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int buf_reserve(ot_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    size_t want = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    char *p = want < b->len ? NULL : realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return -ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int ot_grow_slow(void *arrayp, size_t *cap, size_t elem, size_t first)
{
    size_t n = *cap ? *cap * 2 : first;
    if (n <= *cap || elem == 0 || n > SIZE_MAX / elem)
        return -ENOMEM;
    void *old;
    memcpy(&old, arrayp, sizeof old);   /* the T * as a void *: no T ** read as void ** */
    void *p = realloc(old, n * elem);
    if (!p)
        return -ENOMEM;
    memcpy(arrayp, &p, sizeof p);
    *cap = n;
    return 0;
}

char *printable_text(char *s)
{
    unsigned char *p = (unsigned char *)s, *o = p;
    for (; *p; p++) {
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
            *o++ = '?';
        } else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            *o++ = '?';     /* e.g. an 8-bit CSI */
            p++;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return s;
}

int ot_say(FILE *f, const char *fmt, ...)
{
    char small[512], *text = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return n;
    if ((size_t)n >= sizeof small) {
        va_start(ap, fmt);
        n = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (n < 0)
            return n;
    }
    int newline = n > 0 && text[n - 1] == '\n';
    if (newline)
        text[n - 1] = '\0';
    printable_text(text);
    int rc = fprintf(f, "%s%s", text, newline ? "\n" : "");
    if (text != small)
        free(text);
    return rc;
}

int buf_read_file(ot_buf *b, const char *path)
{
    /* open and read, not stdio: a rule pack is hundreds of small files,
     * and each paid for fopen's FILE, its buffer and the fstat sizing it
     * (1-2 ms of the community set's 73 ms of loading) */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = 0;
    for (;;) {
        if (buf_reserve(b, 1 << 16)) {
            rc = -ENOMEM;
            break;
        }
        ssize_t n = read(fd, b->data + b->len, 1 << 16);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : 0;
            break;
        }
        b->len += (size_t)n;
    }
    close(fd);
    return rc;
}

int buf_append(ot_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    int rc = buf_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int buf_append_str(ot_buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_printf(ot_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n < sizeof small)
        return buf_append(b, small, (size_t)n);
    int rc = buf_reserve(b, (size_t)n + 1);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 if invalid. */
static size_t utf8_sequence_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t min;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2; min = 0x80; cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3; min = 0x800; cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4; min = 0x10000; cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* The escape of a C0 control (below 0x20): two bytes (\n) or six
 * (\u001f); of a C1 control (U+0080..U+009F, given as its code point):
 * six (\u009b). */
static char *put_control(char *o, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    *o++ = '\\';
    switch (c) {
    case '\n': *o++ = 'n'; break;
    case '\r': *o++ = 'r'; break;
    case '\t': *o++ = 't'; break;
    case '\b': *o++ = 'b'; break;
    case '\f': *o++ = 'f'; break;
    default:
        *o++ = 'u'; *o++ = '0'; *o++ = '0';
        *o++ = hex[c >> 4]; *o++ = hex[c & 15];
    }
    return o;
}

/* The byte at *pp, which is not plain ASCII, as JSON: escaped, copied as
 * a whole valid UTF-8 sequence, or U+FFFD for one invalid byte. A C1
 * control (C2 80..C2 9F) is escaped too: valid JSON either way, but a
 * terminal may act on the raw bytes (U+009B is CSI) when a findings file
 * is shown on it. */
static char *put_special(char *o, const unsigned char **pp, const unsigned char *end)
{
    const unsigned char *p = *pp;
    unsigned char c = *p;
    if (c == '"' || c == '\\') {
        *o++ = '\\';
        *o++ = (char)c;
        *pp = p + 1;
        return o;
    }
    if (c < 0x20) {
        *pp = p + 1;
        return put_control(o, c);
    }
    if (c < 0x80) {
        *o++ = (char)c;
        *pp = p + 1;
        return o;
    }
    size_t len = utf8_sequence_len(p, (size_t)(end - p));
    if (len == 0) {
        *o++ = (char)0xEF; *o++ = (char)0xBF; *o++ = (char)0xBD;
        *pp = p + 1;
        return o;
    }
    if (len == 2 && p[0] == 0xC2 && p[1] < 0xA0) {
        *pp = p + 2;
        return put_control(o, p[1]);
    }
    memcpy(o, p, len);
    *pp = p + len;
    return o + len;
}

#ifdef __SSE2__
/* Lanes that need more than a copy: below 0x20 or from 0x80 (a signed
 * compare catches both), a quote, a backslash. */
static inline unsigned special_lanes(__m128i v)
{
    __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                               _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                            _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
    return (unsigned)_mm_movemask_epi8(bad);
}

/* n (1..15) bytes at p as a vector's first n lanes, read without going
 * past p + n: two overlapping loads, or-ed (an overlapped lane gets the
 * same byte twice). The lanes from n on are zero. */
static inline __m128i load_short(const unsigned char *p, size_t n)
{
    uint64_t lo, hi = 0;
    if (n >= 8) {
        memcpy(&lo, p, 8);
        if (n > 8) {
            memcpy(&hi, p + n - 8, 8);
            hi >>= 8 * (16 - n);
        }
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        lo = a | (uint64_t)b << (8 * (n - 4));
    } else {
        lo = p[0] | (uint64_t)p[n / 2] << (8 * (n / 2)) | (uint64_t)p[n - 1] << (8 * (n - 1));
    }
    return _mm_set_epi64x((long long)hi, (long long)lo);
}
#endif

char *json_put_string(char *o, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + n;
    *o++ = '"';
#ifdef __SSE2__
    /* The common case first: a string of 16 bytes or more with nothing to
     * escape. While every byte so far was copied as it is, the last 1..16
     * bytes are one load of the string's last 16, stored to end where the
     * string's copy ends (rewriting copied bytes with themselves). */
    if (n >= 16) {
        while (end - p > 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)p);
            if (special_lanes(v))
                goto general;
            _mm_storeu_si128((__m128i *)o, v);
            o += 16;
            p += 16;
        }
        size_t left = (size_t)(end - p);    /* 1..16 */
        __m128i v = _mm_loadu_si128((const __m128i *)(end - 16));
        if ((special_lanes(v) >> (16 - left)) == 0) {
            _mm_storeu_si128((__m128i *)(o - (16 - left)), v);
            o += left;
            *o++ = '"';
            return o;
        }
    }
general:
    /* 16 bytes a step, each vector stored whole (the room has 16 bytes to
     * spare) and the output advanced past its plain lanes; the first lane
     * that is not plain goes to put_special, and the next vector starts
     * after it. A string shorter than 16 bytes, or the tail of one, is one
     * short load: most strings here are, and most need no escape. */
    while (p < end) {
        size_t left = (size_t)(end - p);
        __m128i v;
        unsigned mask;
        size_t take;
        if (left >= 16) {
            v = _mm_loadu_si128((const __m128i *)p);
            mask = special_lanes(v);
            take = 16;
        } else {
            v = load_short(p, left);
            mask = special_lanes(v) & ((1u << left) - 1);
            take = left;
        }
        _mm_storeu_si128((__m128i *)o, v);
        if (mask == 0) {
            o += take;
            p += take;
            continue;
        }
        size_t clean = (size_t)__builtin_ctz(mask);
        o += clean;
        p += clean;
        o = put_special(o, &p, end);
    }
#else
    while (p < end) {
        unsigned char c = *p;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *o++ = (char)c;
            p++;
        } else {
            o = put_special(o, &p, end);
        }
    }
#endif
    *o++ = '"';
    return o;
}

int buf_append_json_string(ot_buf *b, const char *s, size_t n)
{
    int rc = buf_reserve(b, JSON_STRING_ROOM(n));
    if (rc)
        return rc;
    b->len = (size_t)(json_put_string(b->data + b->len, s, n) - b->data);
    return 0;
}

void buf_free(ot_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* A job's findings grow to about a megabyte for a BIG file, and the run
 * keeps one result per job slot (136 at -j2), so a run of a few hundred
 * files wrote every byte of its output into fresh memory: 45,000 page
 * faults, a fifth of the community set's CPU time. Kept buffers make the
 * memory touched about what is in flight between workers and writer. */
#define SPARES_MAX 32
#define SPARE_MIN_BYTES ((size_t)64 << 10)
#define SPARE_MAX_BYTES ((size_t)16 << 20)  /* one huge output need not stay */
#define SPARES_MAX_TOTAL ((size_t)64 << 20) /* nor many big ones */

static pthread_mutex_t spares_mu = PTHREAD_MUTEX_INITIALIZER;
static struct { char *data; size_t cap; } spares[SPARES_MAX];
static size_t nspares, spares_bytes;

void buf_recycle(ot_buf *b)
{
    if (b->cap >= SPARE_MIN_BYTES && b->cap <= SPARE_MAX_BYTES) {
        pthread_mutex_lock(&spares_mu);
        int kept = nspares < SPARES_MAX && spares_bytes + b->cap <= SPARES_MAX_TOTAL;
        if (kept) {
            spares[nspares].data = b->data;
            spares[nspares].cap = b->cap;
            nspares++;
            spares_bytes += b->cap;
        }
        pthread_mutex_unlock(&spares_mu);
        if (kept) {
            *b = (ot_buf){ 0 };
            return;
        }
    }
    buf_free(b);
    b->failed = 0;
}

void buf_take_spare(ot_buf *b)
{
    if (b->cap != 0)
        return;
    pthread_mutex_lock(&spares_mu);
    if (nspares > 0) {
        nspares--;
        b->data = spares[nspares].data;
        b->cap = spares[nspares].cap;
        b->len = 0;
        spares_bytes -= b->cap;
    }
    pthread_mutex_unlock(&spares_mu);
}

void buf_spares_free(void)
{
    pthread_mutex_lock(&spares_mu);
    while (nspares > 0)
        free(spares[--nspares].data);
    spares_bytes = 0;
    pthread_mutex_unlock(&spares_mu);
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Howard Hinnant's algorithm */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* n digits at s as a number, or -1. */
static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int parse_time(const char *s, size_t n, int64_t *epoch, int *date_only)
{
    if (n < 10 || s[4] != '-' || s[7] != '-')
        return -1;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return -1;
    int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400;
    if (n == 10) {
        *epoch = t;
        *date_only = 1;
        return 0;
    }
    if (n < 20 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
        return -1;
    int hh = digits(s + 11, 2), mm = digits(s + 14, 2), ss = digits(s + 17, 2);
    if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60)
        return -1;
    t += hh * 3600 + mm * 60 + ss;
    size_t i = 19;
    if (i < n && s[i] == '.') {
        i++;
        size_t start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start)
            return -1;
    }
    if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z')) {
        /* UTC */
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -1;
        int64_t off = oh * 3600 + om * 60;
        t += s[i] == '+' ? -off : off;
    } else {
        return -1;
    }
    *epoch = t;
    *date_only = 0;
    return 0;
}

int parse_when(const char *s, int64_t now, int64_t *epoch, enum when_kind *kind)
{
    int64_t v = 0;
    size_t i = 0;
    /* a duration is digits and one unit; anything longer is a date */
    while (s[i] >= '0' && s[i] <= '9' && i < 13)
        v = v * 10 + (s[i++] - '0');
    char unit = i > 0 ? s[i] : '\0';
    int64_t mul = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 :
                  unit == 'w' ? 7 * 86400 : 0;
    if (mul && s[i + 1] == '\0') {
        /* 13 digits of weeks stay far inside int64 */
        *epoch = now - v * mul;
        *kind = WHEN_RELATIVE;
        return 0;
    }
    int date_only;
    if (parse_time(s, strlen(s), epoch, &date_only))
        return -1;
    *kind = date_only ? WHEN_DATE : WHEN_EXACT;
    return 0;
}

uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {    /* unrolled: the loop's own work was half of it */
        h = (h ^ b[i]) * 1099511628211ULL;
        h = (h ^ b[i + 1]) * 1099511628211ULL;
        h = (h ^ b[i + 2]) * 1099511628211ULL;
        h = (h ^ b[i + 3]) * 1099511628211ULL;
    }
    for (; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

/* Up to two words of the file dir/name, into a and b; how many were read. */
static int cgroup_words(const char *dir, const char *name, char a[32], char b[32])
{
    char path[4300];    /* dir is at most 4200 bytes */
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    int n = f ? fscanf(f, "%31s %31s", a, b) : 0;
    if (f)
        fclose(f);
    return n > 0 ? n : 0;
}

/* The CPU limit one cgroup folder sets: 0 none (or unreadable). */
static unsigned quota_cpus(const char *dir, int v2)
{
    char quota[32], period[32], rest[32];
    /* v2: "max 100000" or "250000 100000"; v1: a quota ("-1": none) and a period */
    int read = v2 ? cgroup_words(dir, "cpu.max", quota, period) == 2
                  : cgroup_words(dir, "cpu.cfs_quota_us", quota, rest) &&
                        cgroup_words(dir, "cpu.cfs_period_us", period, rest);
    if (!read)
        return 0;
    long long q = strtoll(quota, NULL, 10), p = strtoll(period, NULL, 10);     /* "max": 0 */
    if (q <= 0 || p <= 0)
        return 0;
    long long n = (q + p - 1) / p;
    return n > 4096 ? 4096 : (unsigned)n;
}

unsigned ot_cgroup_cpus(const char *root)
{
    char path[4200], line[4096];
    snprintf(path, sizeof path, "%s/proc/self/cgroup", root);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    unsigned limit = 0;
    while (fgets(line, sizeof line, f)) {
        /* "0::/path" (v2), "N:cpu,cpuacct:/path" (v1) */
        line[strcspn(line, "\n")] = 0;
        char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
        if (!b || b[1] != '/')
            continue;
        *b = 0;
        int v2 = a[1] == 0;
        int v1_cpu = 0;
        char *save;
        for (char *c = strtok_r(a + 1, ",", &save); c && !v2; c = strtok_r(NULL, ",", &save))
            v1_cpu |= strcmp(c, "cpu") == 0;
        if (!v2 && !v1_cpu)
            continue;
        /* this cgroup's folder and every one above it, to the mount's root */
        char cg[4096], dir[4200];
        snprintf(cg, sizeof cg, "%s", b + 1);
        for (;;) {
            snprintf(dir, sizeof dir, "%s/sys/fs/cgroup%s%s", root, v2 ? "" : "/cpu", strcmp(cg, "/") ? cg : "");
            unsigned n = quota_cpus(dir, v2);
            if (n && (!limit || n < limit))
                limit = n;
            char *slash = strrchr(cg, '/');
            if (!slash || strcmp(cg, "/") == 0)
                break;
            slash[slash == cg] = 0;     /* "/a/b" -> "/a", "/a" -> "/" */
        }
    }
    fclose(f);
    return limit;
}

unsigned ot_cpus(void)
{
    cpu_set_t set;
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned n = online > 0 ? (unsigned)online : 1;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        n = (unsigned)CPU_COUNT(&set);
    unsigned limit = ot_cgroup_cpus("");
    return limit && limit < n ? limit : n;
}
