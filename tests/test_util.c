/*
 * test_util: the growable buffer, the JSON string escaper, the --since/--until
 * parser and the CPU count's cgroup limit (src/util.h).
 *
 * The escaper's output is checked byte for byte on hand-made inputs, and on
 * random bytes by parsing it back with simdjson (src/parse.h) and comparing
 * with an expectation computed here by a validator of our own (Unicode
 * Table 3-7, "well-formed UTF-8 byte sequences"): every byte that does not
 * start a well-formed sequence becomes U+FFFD.
 */
#include "check.h"
#include "parse.h"
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>



/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_state = 0x13198A2E03707344ull;

static uint64_t rnd(void)
{
    return check_rand(&rng_state);
}

static size_t rnd_below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static int buf_is(const ot_buf *b, const void *bytes, size_t n)
{
    return b->len == n && (n == 0 || memcmp(b->data, bytes, n) == 0);
}

/* b holds exactly the NUL-terminated text (as C source writes it). */
static int buf_eq(const ot_buf *b, const char *text)
{
    return buf_is(b, text, strlen(text));
}

static int invariants(const ot_buf *b)
{
    return b->len <= b->cap && (b->cap == 0 || b->data != NULL);
}

/* Escapes n bytes into a fresh buffer and compares with want (C string). */
static int escapes_to(const void *s, size_t n, const char *want)
{
    ot_buf b = {0};
    int rc = buf_append_json_string(&b, s, n);
    int ok = rc == 0 && buf_eq(&b, want);
    if (!ok && failed < 40) {
        fprintf(stderr, "  escaping %zu bytes gave %zu bytes:", n, b.len);
        for (size_t i = 0; i < b.len && i < 48; i++)
            fprintf(stderr, " %02x", (unsigned char)b.data[i]);
        fprintf(stderr, "\n");
    }
    buf_free(&b);
    return ok;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or 0. */
static size_t well_formed(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    uint8_t lo = 0x80, hi = 0xBF;   /* range of the second byte */
    size_t len;
    if (c <= 0x7F)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c == 0xE0)
        len = 3, lo = 0xA0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
        len = 3;
    else if (c == 0xED)
        len = 3, hi = 0x9F;
    else if (c == 0xF0)
        len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        len = 4;
    else if (c == 0xF4)
        len = 4, hi = 0x8F;
    else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

/* The string the escaped JSON must decode to. Returns its length. */
static size_t expected_text(const uint8_t *s, size_t n, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t l = well_formed(s + i, n - i);
        if (l == 0) {
            out[o++] = 0xEF;
            out[o++] = 0xBF;
            out[o++] = 0xBD;
            i++;
        } else {
            memcpy(out + o, s + i, l);
            o += l;
            i += l;
        }
    }
    return o;
}

/* ---- the buffer --------------------------------------------------------- */

static void test_buffer_growth(void)
{
    check_context = "buffer growth";
    ot_buf b = {0};
    CHECK(buf_reserve(&b, 0) == 0);
    CHECK(invariants(&b) && b.len == 0);
    CHECK(buf_append(&b, NULL, 0) == 0 && b.len == 0);
    CHECK(buf_append(&b, "abc", 3) == 0);
    CHECK(buf_eq(&b, "abc") && invariants(&b));
    CHECK(buf_append_str(&b, "") == 0 && buf_eq(&b, "abc"));
    CHECK(buf_append_str(&b, "def") == 0 && buf_eq(&b, "abcdef"));

    /* Reserve makes room without touching the content. */
    CHECK(buf_reserve(&b, 10000) == 0);
    CHECK(b.cap - b.len >= 10000 && buf_eq(&b, "abcdef"));
    char *before = b.data;
    size_t cap = b.cap;
    CHECK(buf_reserve(&b, 100) == 0);
    CHECK(b.data == before && b.cap == cap);   /* enough room: no realloc */
    buf_free(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
    buf_free(&b);   /* twice is fine */

    /* Many appends of random sizes, against a plain copy. */
    size_t total = 0;
    unsigned char *want = malloc(1 << 20);
    for (int i = 0; i < 3000 && total < (1 << 20) - 4096; i++) {
        unsigned char chunk[4096];
        size_t n = rnd_below(i % 50 == 0 ? sizeof chunk : 40);
        for (size_t k = 0; k < n; k++)
            chunk[k] = (unsigned char)rnd();
        CHECK(buf_append(&b, chunk, n) == 0);
        memcpy(want + total, chunk, n);
        total += n;
        if (i % 97 == 0)
            CHECK(buf_reserve(&b, rnd_below(5000)) == 0);
    }
    CHECK(invariants(&b));
    CHECK(buf_is(&b, want, total));
    buf_free(&b);
    free(want);

    /* Exactly filling the capacity, then one more byte. */
    CHECK(buf_reserve(&b, 1) == 0);
    size_t room = b.cap - b.len;
    char *fill = malloc(room + 1);
    memset(fill, 'f', room + 1);
    CHECK(buf_append(&b, fill, room) == 0 && b.len == b.cap);
    CHECK(buf_append(&b, "g", 1) == 0 && b.len == room + 1 && b.data[room] == 'g');
    CHECK(memcmp(b.data, fill, room) == 0);
    CHECK(invariants(&b));
    free(fill);
    buf_free(&b);
}

/* ot_grow gives room for one more element: nothing while there is room,
 * first elements for an empty array, then twice as many, the elements
 * kept; a size that would overflow is refused with the array unchanged. */
static void test_array_growth(void)
{
    struct pair { uint64_t a, b; } *v = NULL;
    size_t n = 0, cap = 0;
    for (uint64_t i = 0; i < 100; i++) {
        size_t before = cap;
        CHECK(ot_grow(&v, &cap, n, sizeof *v, 4) == 0);
        CHECK(cap == (n < before ? before : before ? before * 2 : 4));
        v[n++] = (struct pair){ i, ~i };
    }
    CHECK(cap == 128);
    int kept = 1;
    for (uint64_t i = 0; i < n; i++)
        kept &= v[i].a == i && v[i].b == ~i;
    CHECK(kept);
    struct pair *same = v;
    size_t full = cap;
    CHECK(ot_grow(&v, &full, 5, sizeof *v, 4) == 0 && v == same && full == 128);  /* room: nothing done */
    size_t huge = SIZE_MAX / sizeof *v / 2 + 1;                                     /* doubling overflows */
    CHECK(ot_grow(&v, &huge, huge, sizeof *v, 4) == -ENOMEM && v == same && huge == SIZE_MAX / sizeof *v / 2 + 1);
    size_t top = SIZE_MAX / 2 + 1;                                                  /* the count itself overflows */
    CHECK(ot_grow(&v, &top, top, 1, 4) == -ENOMEM && v == same);
    free(v);

    char *bytes = NULL;
    size_t bcap = 0;
    CHECK(ot_grow(&bytes, &bcap, 0, 1, 1) == 0 && bcap == 1 && bytes != NULL);
    free(bytes);
}

/* printable_text turns C0 controls but a tab, DEL and C1 controls into
 * '?'; ot_say does so to a whole diagnostic but its last newline, short
 * or longer than its stack buffer. */
static void test_printable(void)
{
    char s[] = "a\033[2J\bb\tc\177d\302\233e\302\240f\303\251";
    CHECK(strcmp(printable_text(s), "a?[2J?b\tc?d?e\302\240f\303\251") == 0);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    CHECK(f != NULL);
    if (!f)
        return;
    char name[2000];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    name[1500] = '\r';
    ot_say(f, "orgtrail: %s: x\033y\n", "k\033[1A\n");
    ot_say(f, "orgtrail: %s: z\n", name);
    ot_say(f, "no newline\r");
    fclose(f);
    char want[2200];
    name[1500] = '?';
    snprintf(want, sizeof want, "orgtrail: k?[1A?: x?y\norgtrail: %s: z\nno newline?", name);
    CHECK(text && strcmp(text, want) == 0);
    free(text);
}

/* buf_recycle keeps a big buffer's memory for the next buf_take_spare
 * (output written into memory already touched: no page faults), frees a
 * small one, and a taken spare is an empty buffer that grows as usual. */
static void test_spare_buffers(void)
{
    ot_buf big = { 0 }, small = { 0 }, taker = { 0 }, busy = { 0 };
    CHECK(buf_reserve(&big, 200u << 10) == 0);
    memset(big.data, 'x', 100);
    big.len = 100;
    char *memory = big.data;
    size_t cap = big.cap;
    buf_recycle(&big);
    CHECK(big.data == NULL && big.len == 0 && big.cap == 0);
    CHECK(buf_append(&small, "abc", 3) == 0);
    buf_recycle(&small);            /* too small to keep: freed */
    CHECK(small.data == NULL && small.len == 0 && small.cap == 0);
    CHECK(buf_append(&busy, "q", 1) == 0);
    buf_take_spare(&busy);          /* a buffer in use keeps its own */
    CHECK(busy.len == 1 && busy.data[0] == 'q');
    buf_take_spare(&taker);
    CHECK(taker.data == memory && taker.cap == cap && taker.len == 0);
    CHECK(buf_append(&taker, "hello", 5) == 0 && taker.len == 5 && memcmp(taker.data, "hello", 5) == 0);
    ot_buf none = { 0 };
    buf_take_spare(&none);          /* nothing kept: stays empty */
    CHECK(none.data == NULL && none.cap == 0);
    buf_free(&taker);
    buf_free(&busy);
}

/* The spares keep at most 64 MiB in all: a run of huge outputs does not
 * leave them all behind. */
static void test_spare_buffers_bounded(void)
{
    for (int i = 0; i < 5; i++) {
        ot_buf b = { 0 };
        CHECK(buf_reserve(&b, (16u << 20) - 300) == 0);     /* grows to 16 MiB: not touched */
        buf_recycle(&b);
    }
    int taken = 0;
    for (;;) {
        ot_buf b = { 0 };
        buf_take_spare(&b);
        if (!b.data)
            break;
        taken++;
        buf_free(&b);
    }
    CHECK(taken == 4);
    /* buf_spares_free, at a run's end, gives the kept ones back */
    for (int i = 0; i < 3; i++) {
        ot_buf b = { 0 };
        CHECK(buf_reserve(&b, 1u << 20) == 0);
        buf_recycle(&b);
    }
    buf_spares_free();
    ot_buf none = { 0 };
    buf_take_spare(&none);
    CHECK(none.data == NULL && none.cap == 0);
}

static void test_printf(void)
{
    check_context = "buf_printf";
    ot_buf b = {0};
    CHECK(buf_printf(&b, "%s", "") == 0 && b.len == 0);
    CHECK(buf_printf(&b, "%d-%s-%zu", -42, "x", (size_t)7) == 0);
    CHECK(buf_eq(&b, "-42-x-7"));
    CHECK(buf_printf(&b, "|%05.1f|%c", 3.5, 'Z') == 0);
    CHECK(buf_eq(&b, "-42-x-7|003.5|Z"));
    buf_free(&b);

    /* Outputs around the 256-byte scratch size, onto a non-empty buffer. */
    char big[2100];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = (char)('a' + i % 26);
    big[sizeof big - 1] = '\0';
    static const size_t lens[] = {0, 1, 254, 255, 256, 257, 258, 511, 512, 1000, 2099};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        for (int prefix = 0; prefix < 2; prefix++) {
            if (prefix)
                buf_append_str(&b, "prefix:");
            size_t start = b.len;
            CHECK(buf_printf(&b, "%.*s", (int)lens[i], big) == 0);
            CHECK(b.len == start + lens[i]);
            CHECK(lens[i] == 0 || memcmp(b.data + start, big, lens[i]) == 0);
            CHECK(!prefix || memcmp(b.data, "prefix:", 7) == 0);
            CHECK(invariants(&b));
            buf_free(&b);
        }
    }

    /* A long printf with several conversions, more than 256 bytes. */
    CHECK(buf_printf(&b, "%s=%d;%s=%llu;%s", "first", 1, big + 1000, 18446744073709551615ull,
                     "end") == 0);
    char want[2200];
    int n = snprintf(want, sizeof want, "%s=%d;%s=%llu;%s", "first", 1, big + 1000,
                     18446744073709551615ull, "end");
    CHECK(n > 256 && buf_is(&b, want, (size_t)n));
    /* The buffer is not NUL-terminated by contract; content is what counts. */
    buf_free(&b);

    /* Many small printfs in a row. */
    char expect[8000];
    size_t el = 0;
    for (int i = 0; i < 500; i++) {
        CHECK(buf_printf(&b, "%d,", i * 31) == 0);
        el += (size_t)snprintf(expect + el, sizeof expect - el, "%d,", i * 31);
    }
    CHECK(buf_is(&b, expect, el));
    buf_free(&b);
}

/* ---- the JSON string escaper --------------------------------------------- */

static void test_escape_fixed(void)
{
    check_context = "escape: ASCII, quotes, backslashes";
    CHECK(escapes_to("", 0, "\"\""));
    CHECK(escapes_to("hello world", 11, "\"hello world\""));
    CHECK(escapes_to("a\"b\\c", 5, "\"a\\\"b\\\\c\""));
    CHECK(escapes_to("\"\"\\\\", 4, "\"\\\"\\\"\\\\\\\\\""));
    CHECK(escapes_to("/<>'~\x7f", 6, "\"/<>'~\x7f\""));

    check_context = "escape: control characters";
    for (unsigned c = 0; c < 0x20; c++) {
        char in = (char)c;
        char uform[8], shortform[4] = "";
        snprintf(uform, sizeof uform, "\\u%04x", c);
        switch (c) {
        case '\b': strcpy(shortform, "\\b"); break;
        case '\f': strcpy(shortform, "\\f"); break;
        case '\n': strcpy(shortform, "\\n"); break;
        case '\r': strcpy(shortform, "\\r"); break;
        case '\t': strcpy(shortform, "\\t"); break;
        default: break;
        }
        ot_buf b = {0};
        CHECK(buf_append_json_string(&b, &in, 1) == 0);
        /* "\u00XX" (either case of hex) or the short form where JSON has one */
        int ok = b.len >= 4 && b.data[0] == '"' && b.data[b.len - 1] == '"';
        if (ok) {
            size_t inner = b.len - 2;
            const char *p = b.data + 1;
            int is_u = inner == 6 && strncasecmp(p, uform, 6) == 0;
            int is_short = *shortform && inner == 2 && memcmp(p, shortform, 2) == 0;
            ok = is_u || is_short;
        }
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  control 0x%02x escaped as %.*s\n", c, (int)b.len, b.data);
        buf_free(&b);
    }
    /* All of them in one string: no raw control byte survives. */
    {
        char all[32];
        for (int c = 0; c < 32; c++)
            all[c] = (char)c;
        ot_buf b = {0};
        CHECK(buf_append_json_string(&b, all, 32) == 0);
        int raw = 0;
        for (size_t i = 0; i < b.len; i++)
            raw |= (unsigned char)b.data[i] < 0x20;
        CHECK(!raw);
        buf_free(&b);
    }

    /* C1 controls (U+0080..U+009F) escaped: no raw C2 80..9F survives,
     * so a findings file cannot send CSI (U+009B) to a terminal */
    check_context = "escape: C1 controls";
    for (unsigned c = 0x80; c < 0xA0; c++) {
        char in[3] = { 'a', (char)0xC2, (char)c }, want[16];
        snprintf(want, sizeof want, "\"a\\u00%02x\"", c);
        CHECK(escapes_to(in, 3, want));
    }
    CHECK(escapes_to("\xc2\x9b[2J\xc2\x9b" "1A", 9, "\"\\u009b[2J\\u009b1A\""));

    check_context = "escape: valid UTF-8 kept";
    static const char *const valid[] = {
        "caf\xc3\xa9",                /* 2-byte */
        "\xe2\x82\xac",               /* 3-byte */
        "\xf0\x9f\x98\x80",           /* 4-byte */
        "\xc2\xa0",                   /* U+00A0, the first after the C1 controls */
        "\xdf\xbf",                   /* U+07FF */
        "\xe0\xa0\x80",               /* U+0800 */
        "\xed\x9f\xbf",               /* U+D7FF */
        "\xee\x80\x80",               /* U+E000 */
        "\xef\xbf\xbf",               /* U+FFFF */
        "\xef\xbf\xbd",               /* U+FFFD itself */
        "\xf0\x90\x80\x80",           /* U+10000 */
        "\xf4\x8f\xbf\xbf",           /* U+10FFFF */
        "\xe2\x80\xa8\xe2\x80\xa9",   /* U+2028, U+2029 (valid raw in JSON) */
        "a\xc3\xa9z\xf0\x9f\x98\x80\"\xe2\x82\xac",
    };
    for (size_t i = 0; i < sizeof valid / sizeof *valid; i++) {
        const char *s = valid[i];
        size_t n = strlen(s);
        char want[64];
        size_t o = 0;
        want[o++] = '"';
        for (size_t k = 0; k < n; k++) {
            if (s[k] == '"')
                want[o++] = '\\';
            want[o++] = s[k];
        }
        want[o++] = '"';
        want[o] = '\0';
        CHECK(escapes_to(s, n, want));
    }

    check_context = "escape: invalid UTF-8 replaced";
#define FFFD "\xef\xbf\xbd"
    static const struct {
        const char *in;
        size_t n;
        const char *want;
    } invalid[] = {
        {"\x80", 1, "\"" FFFD "\""},                                /* lone continuation */
        {"a\xbf" "b", 3, "\"a" FFFD "b\""},
        {"\xc0\x80", 2, "\"" FFFD FFFD "\""},                       /* overlong NUL */
        {"\xc1\xbf", 2, "\"" FFFD FFFD "\""},                       /* overlong */
        {"\xe0\x80\x80", 3, "\"" FFFD FFFD FFFD "\""},              /* overlong 3-byte */
        {"\xf0\x80\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\""},     /* overlong 4-byte */
        {"\xed\xa0\x80", 3, "\"" FFFD FFFD FFFD "\""},              /* surrogate U+D800 */
        {"\xed\xbf\xbf", 3, "\"" FFFD FFFD FFFD "\""},              /* surrogate U+DFFF */
        {"\xf4\x90\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\""},     /* U+110000 */
        {"\xf5\x80\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\""},     /* F5 lead */
        {"\xf8", 1, "\"" FFFD "\""},
        {"\xfe\xff", 2, "\"" FFFD FFFD "\""},
        {"\xe2\x82", 2, "\"" FFFD FFFD "\""},                       /* truncated at end */
        {"x\xf0\x9f\x98", 4, "\"x" FFFD FFFD FFFD "\""},            /* truncated 4-byte */
        {"\xc3", 1, "\"" FFFD "\""},
        {"\xc3" "A", 2, "\"" FFFD "A\""},                           /* lead, then ASCII */
        {"\xe2\x82" "\"", 3, "\"" FFFD FFFD "\\\"\""},              /* lead, then a quote */
        {"\xe2\x82\n", 3, "\"" FFFD FFFD "\\n\""},                  /* lead, then control */
        {"\xc3\xa9\xa9", 3, "\"\xc3\xa9" FFFD "\""},                /* one continuation too many */
        {"\xf0\x9f\x98\x80\x80", 5, "\"\xf0\x9f\x98\x80" FFFD "\""},
    };
#undef FFFD
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
        int ok = escapes_to(invalid[i].in, invalid[i].n, invalid[i].want);
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  (invalid input #%zu)\n", i);
    }

    check_context = "escape: appends";
    ot_buf b = {0};
    buf_append_str(&b, "{\"k\":");
    CHECK(buf_append_json_string(&b, "v\x01", 2) == 0);
    buf_append_str(&b, "}");
    CHECK(buf_eq(&b, "{\"k\":\"v\\u0001\"}"));
    buf_free(&b);
}

/* Every length up to 40 with one byte to escape at every place: the
 * escaper tests and stores 16 bytes at a time, and the last 1..15 from a
 * copy, so each place of a tail must still be seen. */
static void test_escape_tails(void)
{
    check_context = "escape: tails";
    static const struct { char c; const char *escaped; } specials[] = {
        { '"', "\\\"" }, { '\\', "\\\\" }, { '\x01', "\\u0001" }, { '\n', "\\n" }, { '\xff', "\xEF\xBF\xBD" },
    };
    for (size_t n = 1; n <= 40; n++) {
        for (size_t at = 0; at <= n; at++) {     /* at == n: nothing to escape */
            for (size_t k = 0; k < sizeof specials / sizeof specials[0]; k++) {
                char in[41], want[64];
                memset(in, 'a', n);
                if (at < n)
                    in[at] = specials[k].c;
                size_t wl = 0;
                want[wl++] = '"';
                for (size_t i = 0; i < n; i++) {
                    if (i == at) {
                        size_t el = strlen(specials[k].escaped);
                        memcpy(want + wl, specials[k].escaped, el);
                        wl += el;
                    } else {
                        want[wl++] = 'a';
                    }
                }
                want[wl++] = '"';
                ot_buf b = {0};
                CHECK(buf_append_json_string(&b, in, n) == 0);
                CHECK(b.len == wl && memcmp(b.data, want, wl) == 0);
                buf_free(&b);
            }
        }
    }
}

/* The escaper's output for n bytes, one byte at a time: the plain
 * reference the vector paths must agree with. */
static size_t escape_reference(const uint8_t *s, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t l = well_formed(s + i, n - i);
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
            i++;
        } else if (c == 0xC2 && l == 2 && s[i + 1] < 0xA0) {
            /* a C1 control: escaped like a C0 one */
            memcpy(out + o, "\\u00", 4);
            o += 4;
            out[o++] = hex[s[i + 1] >> 4];
            out[o++] = hex[s[i + 1] & 15];
            i += 2;
        } else if (c < 0x20) {
            const char *e = c == '\n' ? "n" : c == '\r' ? "r" : c == '\t' ? "t" : c == '\b' ? "b" : c == '\f' ? "f" : NULL;
            out[o++] = '\\';
            if (e) {
                out[o++] = e[0];
            } else {
                memcpy(out + o, "u00", 3);
                o += 3;
                out[o++] = hex[c >> 4];
                out[o++] = hex[c & 15];
            }
            i++;
        } else if (l == 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, s + i, l);
            o += l;
            i += l;
        }
    }
    out[o++] = '"';
    return o;
}

/* Each kind of byte that is not a plain copy (a quote, a backslash, a
 * control byte, invalid UTF-8, a valid 2/3/4-byte sequence, one cut short)
 * at each place of strings of every length up to 70, each in a heap block
 * of exactly its length (ASan: the short loads never read past it), and
 * through json_put_string into a buffer of exactly JSON_STRING_ROOM. */
static void test_escape_every_place(void)
{
    check_context = "escape: every special at every place";
    static const struct { const char *bytes; size_t len; } specials[] = {
        { "\"", 1 }, { "\\", 1 }, { "\x01", 1 }, { "\x1f", 1 }, { "\n", 1 }, { "\x7f", 1 }, { "\x80", 1 },
        { "\xff", 1 }, { "\xc3\xa9", 2 }, { "\xe2\x82\xac", 3 }, { "\xf0\x9f\x98\x80", 4 }, { "\xe2\x82", 2 },
        { "\xed\xa0\x80", 3 }, { "\"\\", 2 }, { "\xc2\x80", 2 }, { "\xc2\x9b", 2 }, { "\xc2\x9f", 2 },
        { "\xc2\xa0", 2 },
    };
    for (size_t n = 0; n <= 70; n++) {
        for (size_t k = 0; k < sizeof specials / sizeof specials[0]; k++) {
            for (size_t at = 0; at <= n; at++) {
                size_t sl = specials[k].len;
                if (at + sl > n && at != n)
                    continue;
                uint8_t *in = malloc(n ? n : 1);
                for (size_t i = 0; i < n; i++)
                    in[i] = (uint8_t)('a' + i % 26);
                if (at < n)
                    memcpy(in + at, specials[k].bytes, sl);
                char want[70 * 6 + 2];
                size_t wl = escape_reference(in, n, want);
                ot_buf b = {0};
                CHECK(buf_append_json_string(&b, (const char *)in, n) == 0);
                int same = b.len == wl && memcmp(b.data, want, wl) == 0;
                CHECK(same);
                if (!same && check_printed)
                    fprintf(stderr, "  n %zu, special %zu at %zu\n", n, k, at);
                char *room = malloc(JSON_STRING_ROOM(n));
                char *end = json_put_string(room, (const char *)in, n);
                CHECK((size_t)(end - room) == wl && memcmp(room, want, wl) == 0);
                free(room);
                buf_free(&b);
                free(in);
            }
        }
    }
    /* long values: one special every few bytes, and none in 100,000 */
    size_t n = 100000;
    uint8_t *in = malloc(n);
    char *want = malloc(n * 6 + 2);
    for (int kind = 0; kind < 2; kind++) {
        for (size_t i = 0; i < n; i++)
            in[i] = kind == 0 ? (uint8_t)('a' + i % 26) : "ab\"c\\\x01\xc3\xa9\xff"[i % 9];
        size_t wl = escape_reference(in, n, want);
        ot_buf b = {0};
        CHECK(buf_append_json_string(&b, (const char *)in, n) == 0);
        CHECK(b.len == wl && memcmp(b.data, want, wl) == 0);
        buf_free(&b);
    }
    free(want);
    free(in);
}

/* The worst cases for the escaper's up-front reserve: every byte a \u00XX
 * escape, or every byte a 3-byte U+FFFD, onto a buffer with little room. */
static void test_escape_worst_case(void)
{
    check_context = "escape: worst-case growth";
    for (size_t n = 1; n <= 3000; n = n * 3 + 1) {
        for (int kind = 0; kind < 3; kind++) {
            unsigned char *s = malloc(n);
            memset(s, kind == 0 ? 0x01 : kind == 1 ? 0xFF : '"', n);
            ot_buf b = {0};
            buf_append(&b, "x", 1);
            CHECK(buf_append_json_string(&b, (const char *)s, n) == 0);
            size_t per = kind == 0 ? 6 : kind == 1 ? 3 : 2;
            CHECK(b.len == 1 + 2 + n * per);
            CHECK(invariants(&b));
            CHECK(b.data[0] == 'x' && b.data[1] == '"' && b.data[b.len - 1] == '"');
            buf_free(&b);
            free(s);
        }
    }
}

/* Random bytes: escaped, wrapped into {"k":...}, parsed by simdjson. */
static void test_escape_fuzz(parse_ctx *ctx)
{
    check_context = "escape: fuzz through parse_record";
    /* Pieces to splice in: well-formed sequences and near misses. */
    static const char *const frags[] = {
        "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf",
        "\xed\xa0\x80", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\\u0041",
        "\\ud800", "\"", "\\", "\\\"", "}", "\"k\":",
    };
    int parse_failures = 0, repaired = 0, mismatches = 0;
    for (int iter = 0; iter < 2000; iter++) {
        unsigned char s[200];
        size_t n = 0, target = rnd_below(iter < 100 ? 8 : 120);
        while (n < target) {
            unsigned r = (unsigned)rnd_below(10);
            if (r < 3) {
                s[n++] = (unsigned char)rnd();                        /* any byte */
            } else if (r < 5) {
                s[n++] = (unsigned char)(0x80 + rnd_below(0x80));    /* high bytes */
            } else if (r < 6) {
                s[n++] = (unsigned char)rnd_below(0x20);             /* controls */
            } else if (r < 8) {
                s[n++] = (unsigned char)(0x20 + rnd_below(0x5f));    /* printable */
            } else {
                const char *f = frags[rnd_below(sizeof frags / sizeof *frags)];
                size_t fl = strlen(f);
                if (rnd() & 1)
                    fl -= rnd_below(fl);                            /* maybe cut short */
                if (n + fl > sizeof s)
                    break;
                memcpy(s + n, f, fl);
                n += fl;
            }
        }

        ot_buf b = {0};
        buf_append_str(&b, "{\"k\":");
        int rc = buf_append_json_string(&b, (const char *)s, n);
        buf_append_str(&b, "}");
        CHECK(rc == 0);

        unsigned char want[600];
        size_t wl = expected_text(s, n, want);

        char err[256];
        size_t off = 0;
        if (parse_record(ctx, b.data, b.len, PARSE_KIND_EVENT, err, sizeof err, &off) != 0) {
            parse_failures++;
            if (parse_failures <= 3)
                fprintf(stderr, "  parse failed: %s at %zu: %.*s\n", err, off, (int)b.len,
                        b.data);
            buf_free(&b);
            continue;
        }
        if (parse_repaired(ctx))
            repaired++;
        ot_slice v = {0};
        enum parse_type t = parse_get(ctx, "k", &v);
        if (t != PARSE_STRING || v.len != wl || (wl && memcmp(v.ptr, want, wl) != 0)) {
            mismatches++;
            if (mismatches <= 3) {
                fprintf(stderr, "  input:");
                for (size_t i = 0; i < n; i++)
                    fprintf(stderr, " %02x", s[i]);
                fprintf(stderr, "\n  got (type %d, %zu bytes), want %zu bytes\n", (int)t, v.len,
                        wl);
            }
        }
        buf_free(&b);
    }
    CHECK(parse_failures == 0);
    CHECK(repaired == 0);
    CHECK(mismatches == 0);
}

/* The validator used as the fuzz oracle agrees with the fixed cases. */
static void test_oracle(void)
{
    check_context = "oracle";
    CHECK(well_formed((const uint8_t *)"\xf4\x8f\xbf\xbf", 4) == 4);
    CHECK(well_formed((const uint8_t *)"\xf4\x90\x80\x80", 4) == 0);
    CHECK(well_formed((const uint8_t *)"\xed\xa0\x80", 3) == 0);
    CHECK(well_formed((const uint8_t *)"\xe0\xa0\x80", 3) == 3);
    CHECK(well_formed((const uint8_t *)"\xe2\x82", 2) == 0);
    CHECK(well_formed((const uint8_t *)"\xc1\xbf", 2) == 0);
    uint8_t out[16];
    CHECK(expected_text((const uint8_t *)"\xe2\x82" "A", 3, out) == 7 &&
          memcmp(out, "\xef\xbf\xbd\xef\xbf\xbd" "A", 7) == 0);
}

/* --since/--until values: durations back from an injected now, and dates. */
static void test_parse_when(void)
{
    check_context = "parse_when";
    const int64_t now = 1709287200; /* 2024-03-01T10:00:00Z */
    int64_t t = 0;
    enum when_kind k = WHEN_EXACT;
    CHECK(parse_when("7d", now, &t, &k) == 0 && t == now - 7 * 86400 && k == WHEN_RELATIVE);
    CHECK(parse_when("36h", now, &t, &k) == 0 && t == now - 36 * 3600 && k == WHEN_RELATIVE);
    CHECK(parse_when("30m", now, &t, &k) == 0 && t == now - 1800 && k == WHEN_RELATIVE);
    CHECK(parse_when("90s", now, &t, &k) == 0 && t == now - 90 && k == WHEN_RELATIVE);
    CHECK(parse_when("2w", now, &t, &k) == 0 && t == now - 14 * 86400 && k == WHEN_RELATIVE);
    CHECK(parse_when("0s", now, &t, &k) == 0 && t == now && k == WHEN_RELATIVE);
    CHECK(parse_when("100000d", now, &t, &k) == 0 && t == now - 100000LL * 86400);
    CHECK(parse_when("2024-03-01", now, &t, &k) == 0 && t == 1709251200 && k == WHEN_DATE);
    CHECK(parse_when("2024-03-01T10:00:00Z", now, &t, &k) == 0 && t == now && k == WHEN_EXACT);
    CHECK(parse_when("2024-03-01T11:00:00+01:00", now, &t, &k) == 0 && t == now && k == WHEN_EXACT);
    /* a bare number, a unit alone, a unit unknown or repeated, a sign, a compound */
    static const char *const bad[] = { "7", "d", "7x", "7dd", "-7d", "+7d", "7 d", " 7d", "1d12h", "", "7D",
                                       "yesterday", "99999999999999d", "2024-03-01T10:00" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (parse_when(bad[i], now, &t, &k) != -1) {
            fprintf(stderr, "  parse_when accepted '%s'\n", bad[i]);
            CHECK(0);
        }
    }
}

/* put_file ROOT/REL TEXT: the file and the folders above it */
static void put_file(const char *root, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
        *p = 0;
        mkdir(path, 0700);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* ot_cgroup_cpus on copies of /proc/self/cgroup and /sys/fs/cgroup: the
 * smallest limit of the cgroup and those above it, rounded up (v2 and v1);
 * none where there is no limit or no file. */
static void test_cgroup_cpus(void)
{
    check_context = "cgroup cpus";
    char v2[] = "/tmp/orgtrail-cg.XXXXXX", v1[] = "/tmp/orgtrail-cg.XXXXXX", none[] = "/tmp/orgtrail-cg.XXXXXX";
    CHECK(mkdtemp(v2) && mkdtemp(v1) && mkdtemp(none));
    /* a Kubernetes pod: the pod limits 2.5 CPUs, its QoS folder 8, the container nothing */
    put_file(v2, "proc/self/cgroup", "0::/kubepods/pod1/c1\n");
    put_file(v2, "sys/fs/cgroup/kubepods/cpu.max", "800000 100000\n");
    put_file(v2, "sys/fs/cgroup/kubepods/pod1/cpu.max", "250000 100000\n");
    put_file(v2, "sys/fs/cgroup/kubepods/pod1/c1/cpu.max", "max 100000\n");
    CHECK(ot_cgroup_cpus(v2) == 3);
    put_file(v2, "sys/fs/cgroup/kubepods/pod1/cpu.max", "max 100000\n");
    CHECK(ot_cgroup_cpus(v2) == 8);
    put_file(v2, "sys/fs/cgroup/kubepods/cpu.max", "max 100000\n");
    CHECK(ot_cgroup_cpus(v2) == 0);
    /* v1 (Docker on an older host): 1.5 CPUs in the cpu controller's folder */
    put_file(v1, "proc/self/cgroup", "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n");
    put_file(v1, "sys/fs/cgroup/cpu/docker/abc/cpu.cfs_quota_us", "150000\n");
    put_file(v1, "sys/fs/cgroup/cpu/docker/abc/cpu.cfs_period_us", "100000\n");
    CHECK(ot_cgroup_cpus(v1) == 2);
    put_file(v1, "sys/fs/cgroup/cpu/docker/abc/cpu.cfs_quota_us", "-1\n");
    CHECK(ot_cgroup_cpus(v1) == 0);
    CHECK(ot_cgroup_cpus(none) == 0);                        /* no /proc/self/cgroup */
    put_file(none, "proc/self/cgroup", "0::/\n");
    CHECK(ot_cgroup_cpus(none) == 0);                        /* the root, no cpu.max */
    CHECK(ot_cpus() >= 1);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s %s", v2, v1, none);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    test_parse_when();
    test_buffer_growth();
    test_array_growth();
    test_printable();
    test_printf();
    test_oracle();
    test_spare_buffers();
    test_spare_buffers_bounded();
    test_escape_fixed();
    test_escape_tails();
    test_escape_every_place();
    test_escape_worst_case();
    test_cgroup_cpus();

    parse_ctx *ctx = parse_create();
    CHECK(ctx != NULL);
    if (ctx) {
        test_escape_fuzz(ctx);
        parse_free(ctx);
    }

    return check_summary();
}
