/*
 * A small strict JSON checker (RFC 8259) for the finding lines: one value,
 * no trailing bytes, valid UTF-8 (no overlongs, no surrogates), no raw
 * control characters in strings, a \u escape of a high surrogate followed by
 * a low one. Recursion is bounded; findings are never deep.
 */
#ifndef ORGTRAIL_FUZZ_JSON_CHECK_H
#define ORGTRAIL_FUZZ_JSON_CHECK_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *p;
    size_t len, pos;
    const char *why;    /* the first problem, or NULL */
} json_check;

static int jc_fail(json_check *c, const char *why)
{
    if (!c->why)
        c->why = why;
    return -1;
}

static void jc_ws(json_check *c)
{
    while (c->pos < c->len &&
           (c->p[c->pos] == ' ' || c->p[c->pos] == '\t' || c->p[c->pos] == '\n' || c->p[c->pos] == '\r'))
        c->pos++;
}

static int jc_hex4(json_check *c, unsigned *v)
{
    if (c->len - c->pos < 4)
        return jc_fail(c, "short \\u escape");
    *v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t h = c->p[c->pos++];
        unsigned d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10u
                   : h >= 'A' && h <= 'F' ? h - 'A' + 10u : 16u;
        if (d == 16)
            return jc_fail(c, "bad hex digit in \\u escape");
        *v = *v << 4 | d;
    }
    return 0;
}

/* One UTF-8 sequence at c->pos whose first byte is >= 0x80. */
static int jc_utf8(json_check *c)
{
    const uint8_t *s = c->p + c->pos;
    size_t left = c->len - c->pos, n;
    uint32_t cp, min;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2, cp = s[0] & 0x1f, min = 0x80;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3, cp = s[0] & 0x0f, min = 0x800;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4, cp = s[0] & 0x07, min = 0x10000;
    else
        return jc_fail(c, "invalid UTF-8 lead byte");
    if (left < n)
        return jc_fail(c, "truncated UTF-8 sequence");
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return jc_fail(c, "invalid UTF-8 continuation byte");
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return jc_fail(c, "overlong, surrogate or out-of-range UTF-8");
    c->pos += n;
    return 0;
}

static int jc_string(json_check *c)
{
    c->pos++;   /* the opening quote */
    while (c->pos < c->len) {
        uint8_t b = c->p[c->pos];
        if (b == '"') {
            c->pos++;
            return 0;
        }
        if (b < 0x20)
            return jc_fail(c, "raw control character in a string");
        if (b >= 0x80) {
            if (jc_utf8(c))
                return -1;
            continue;
        }
        c->pos++;
        if (b != '\\')
            continue;
        if (c->pos >= c->len)
            return jc_fail(c, "string ends in a backslash");
        b = c->p[c->pos++];
        if (b == 'u') {
            unsigned v;
            if (jc_hex4(c, &v))
                return -1;
            if (v >= 0xdc00 && v <= 0xdfff)
                return jc_fail(c, "lone low surrogate escape");
            if (v >= 0xd800 && v <= 0xdbff) {
                unsigned lo;
                if (c->len - c->pos < 2 || c->p[c->pos] != '\\' || c->p[c->pos + 1] != 'u')
                    return jc_fail(c, "high surrogate escape without a low one");
                c->pos += 2;
                if (jc_hex4(c, &lo))
                    return -1;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return jc_fail(c, "high surrogate escape without a low one");
            }
        } else if (!(b == '"' || b == '\\' || b == '/' || b == 'b' || b == 'f' || b == 'n' || b == 'r' ||
                     b == 't')) {
            return jc_fail(c, "unknown escape");
        }
    }
    return jc_fail(c, "unterminated string");
}

static int jc_digits(json_check *c)
{
    size_t start = c->pos;
    while (c->pos < c->len && c->p[c->pos] >= '0' && c->p[c->pos] <= '9')
        c->pos++;
    return c->pos > start ? 0 : jc_fail(c, "number without digits");
}

static int jc_number(json_check *c)
{
    if (c->p[c->pos] == '-')
        c->pos++;
    if (c->pos < c->len && c->p[c->pos] == '0')
        c->pos++;
    else if (jc_digits(c))
        return -1;
    if (c->pos < c->len && c->p[c->pos] == '.') {
        c->pos++;
        if (jc_digits(c))
            return -1;
    }
    if (c->pos < c->len && (c->p[c->pos] == 'e' || c->p[c->pos] == 'E')) {
        c->pos++;
        if (c->pos < c->len && (c->p[c->pos] == '+' || c->p[c->pos] == '-'))
            c->pos++;
        if (jc_digits(c))
            return -1;
    }
    return 0;
}

static int jc_word(json_check *c, const char *w, size_t n)
{
    if (c->len - c->pos < n)
        return jc_fail(c, "bad literal");
    for (size_t i = 0; i < n; i++)
        if (c->p[c->pos + i] != (uint8_t)w[i])
            return jc_fail(c, "bad literal");
    c->pos += n;
    return 0;
}

static int jc_value(json_check *c, int depth)
{
    if (depth > 256)
        return jc_fail(c, "nested deeper than 256");
    jc_ws(c);
    if (c->pos >= c->len)
        return jc_fail(c, "value expected");
    uint8_t b = c->p[c->pos];
    if (b == '"')
        return jc_string(c);
    if (b == '-' || (b >= '0' && b <= '9'))
        return jc_number(c);
    if (b == 't')
        return jc_word(c, "true", 4);
    if (b == 'f')
        return jc_word(c, "false", 5);
    if (b == 'n')
        return jc_word(c, "null", 4);
    if (b != '{' && b != '[')
        return jc_fail(c, "value expected");
    uint8_t close = b == '{' ? '}' : ']';
    c->pos++;
    jc_ws(c);
    if (c->pos < c->len && c->p[c->pos] == close) {
        c->pos++;
        return 0;
    }
    for (;;) {
        if (close == '}') {
            jc_ws(c);
            if (c->pos >= c->len || c->p[c->pos] != '"')
                return jc_fail(c, "object key expected");
            if (jc_string(c))
                return -1;
            jc_ws(c);
            if (c->pos >= c->len || c->p[c->pos] != ':')
                return jc_fail(c, "':' expected");
            c->pos++;
        }
        if (jc_value(c, depth + 1))
            return -1;
        jc_ws(c);
        if (c->pos >= c->len)
            return jc_fail(c, "unterminated object or array");
        if (c->p[c->pos] == close) {
            c->pos++;
            return 0;
        }
        if (c->p[c->pos] != ',')
            return jc_fail(c, "',' expected");
        c->pos++;
    }
}

/* NULL when p[0..len) is one JSON object, else what is wrong, with *at set
 * to the offset. */
static const char *json_check_object(const uint8_t *p, size_t len, size_t *at)
{
    json_check c = { p, len, 0, NULL };
    jc_ws(&c);
    if (c.pos >= len || p[c.pos] != '{')
        jc_fail(&c, "not an object");
    else if (jc_value(&c, 0) == 0) {
        jc_ws(&c);
        if (c.pos != len)
            jc_fail(&c, "bytes after the value");
    }
    *at = c.pos;
    return c.why;
}

#endif
