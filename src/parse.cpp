/*
 * parse: simdjson's DOM parser behind the C interface of parse.h.
 *
 * Every entry point catches all C++ exceptions (std::bad_alloc from the
 * string arena, mostly); simdjson itself reports errors by code.
 *
 * Repairs, so that hostile bytes in one string cannot hide a record: invalid
 * UTF-8 becomes U+FFFD, and so does a \uD800-style escape that is not half
 * of a surrogate pair (simdjson rejects the whole document for either).
 *
 * Lifetimes: the current event, the strings parse_get hands out (views into
 * the parser's string buffer) and the minified JSON texts (kept in
 * ctx->minified) all last until the next parse_record() or parse_free().
 */
#include "parse.h"

#include <simdjson.h>

extern "C" {
#include "util.h"
}

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <new>
#include <type_traits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

using simdjson::error_code;
namespace dom = simdjson::dom;

constexpr size_t PAD = simdjson::SIMDJSON_PADDING;

/* After a record bigger than this, the parser and buffers are released
 * again at the next smaller record: simdjson's DOM needs roughly 14 bytes
 * of tape and index per input byte, which one 64 MiB record per worker
 * should not pin for the rest of the run. */
constexpr size_t KEEP_BYTES = size_t(8) << 20;

/* Bytes followed by PAD zeroed bytes, as simdjson requires; reused across
 * records and grown on demand. */
struct padded_buffer {
    char *data = nullptr;
    size_t capacity = 0; /* usable bytes, not counting the padding */

    padded_buffer() = default;
    padded_buffer(const padded_buffer &) = delete;
    padded_buffer &operator=(const padded_buffer &) = delete;
    ~padded_buffer() { std::free(data); }

    /* Makes room for n bytes plus padding; false when out of memory. */
    bool reserve(size_t n)
    {
        if (n <= capacity && data)
            return true;
        if (n > SIZE_MAX - PAD)
            return false;
        char *grown = static_cast<char *>(std::malloc(n + PAD));
        if (!grown)
            return false;
        std::free(data);
        data = grown;
        capacity = n;
        return true;
    }

    void zero_padding_after(size_t n) { std::memset(data + n, 0, PAD); }

    void release()
    {
        std::free(data);
        data = nullptr;
        capacity = 0;
    }
};

} // namespace

struct parse_ctx {
    dom::parser parser;
    size_t max_depth = 0;   /* parse_set_depth's; 0: simdjson's 1024 */
    padded_buffer input;    /* the JSON text being parsed (record or inner event) */
    padded_buffer repaired; /* input with invalid UTF-8 replaced by U+FFFD */
    /* texts handed out by parse_get/parse_event_json: the first
     * minified_used of minified. The buffers stay from record to record,
     * so that a minified value costs no
     * allocation (simdjson::minify grew a fresh vector a byte at a time,
     * then copied it into a fresh string). */
    struct kept_text {
        ot_buf text = {};
        kept_text() = default;
        kept_text(const kept_text &) = delete;
        kept_text &operator=(const kept_text &) = delete;
        ~kept_text() { buf_free(&text); }
    };
    std::deque<kept_text> minified;     /* a deque: a kept text never moves */
    size_t minified_used = 0;
    simdjson::internal::string_builder<> builder;   /* for doubles: simdjson's digits */
    size_t builder_peak = 0;    /* the longest text kept since the buffers were released */

    dom::object event;    /* the current event; valid only when has_event */
    bool has_event = false;
    bool was_repaired = false;
    bool has_event_json = false;
    ot_slice event_json = {"", 0};

    /* parse_get's answers for the current event, by path pointer: many
     * rules ask for the same few fields (their paths are interned) */
    struct cached_field {
        const char *path;
        unsigned generation;
        enum parse_type type;
        ot_slice value;
    } cache[512] = {};
    unsigned generation = 1;  /* bumped by every parse_record */

    /* The current event's top-level members by key, built by one pass over
     * the object at its first lookup: a finding asks for some 30 fields,
     * and at_key is a linear scan of the ~20 members of a CloudTrail event.
     * A slot is live when its generation is the event's, so nothing is
     * cleared between records. */
    struct top_field {
        unsigned generation;
        uint32_t len;
        const char *key;
        dom::element value;
    } top[128] = {};
    unsigned top_generation = 0;  /* the generation the index was built for */
    bool top_indexed = false;     /* false: the event has too many members, use at_key */
};

namespace {

/* ---- error reporting ---------------------------------------------------- */

/* The one-line reason a parse failed. No byte offset: simdjson's DOM API
 * does not say where in the text it stopped. */
struct parse_failure {
    char text[200];
};

void fail(parse_failure &f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fail(parse_failure &f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(f.text, sizeof f.text, fmt, ap);
    va_end(ap);
}

/* simdjson messages are one line already; the prefix says where. */
void fail_json(parse_failure &f, const char *what, error_code code, bool after_repair)
{
    if (code == simdjson::MEMALLOC)
        fail(f, "out of memory");
    else
        fail(f, "%s%s: %s", what, after_repair ? " (after repairing invalid UTF-8)" : "",
             simdjson::error_message(code));
}

/* ---- repairs --------------------------------------------------------------
 * Both run only after simdjson rejected a text. */

/*
 * Copies src to dst (when dst is not NULL) with every ill-formed UTF-8
 * sequence replaced by U+FFFD, one replacement per maximal subpart
 * (Unicode 3.9, Table 3-7), so that an ASCII byte is never swallowed.
 * Returns the output length.
 */
size_t utf8_repair(const unsigned char *src, size_t len, unsigned char *dst)
{
    static const unsigned char replacement[3] = {0xEF, 0xBF, 0xBD};
    size_t in = 0, out = 0;
    while (in < len) {
        unsigned char lead = src[in];
        size_t seq_len = 0;
        unsigned char second_lo = 0x80, second_hi = 0xBF;
        if (lead < 0x80) {
            seq_len = 1;
        } else if (lead >= 0xC2 && lead <= 0xDF) {
            seq_len = 2;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            seq_len = 3;
            if (lead == 0xE0)
                second_lo = 0xA0; /* no overlong forms */
            else if (lead == 0xED)
                second_hi = 0x9F; /* no surrogates */
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            seq_len = 4;
            if (lead == 0xF0)
                second_lo = 0x90; /* no overlong forms */
            else if (lead == 0xF4)
                second_hi = 0x8F; /* nothing above U+10FFFF */
        }

        if (seq_len == 0) { /* a byte that never starts a sequence */
            if (dst)
                std::memcpy(dst + out, replacement, sizeof replacement);
            out += sizeof replacement;
            in++;
            continue;
        }

        /* valid: how many bytes form a well-formed prefix of the sequence */
        size_t valid = 1;
        if (seq_len > 1 && in + 1 < len && src[in + 1] >= second_lo && src[in + 1] <= second_hi) {
            valid = 2;
            while (valid < seq_len && in + valid < len && src[in + valid] >= 0x80 &&
                   src[in + valid] <= 0xBF)
                valid++;
        }

        if (valid == seq_len) {
            if (dst)
                std::memcpy(dst + out, src + in, seq_len);
            out += seq_len;
            in += seq_len;
        } else {
            if (dst)
                std::memcpy(dst + out, replacement, sizeof replacement);
            out += sizeof replacement;
            in += valid;
        }
    }
    return out;
}

int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The code unit of the \uXXXX escape at text[at], or -1 if there is none. */
long u_escape_at(const char *text, size_t len, size_t at)
{
    if (at + 6 > len || text[at] != '\\' || text[at + 1] != 'u')
        return -1;
    long unit = 0;
    for (size_t i = 2; i < 6; i++) {
        int h = hex_value(text[at + i]);
        if (h < 0)
            return -1;
        unit = unit * 16 + h;
    }
    return unit;
}

/*
 * simdjson rejects a whole document (STRING_ERROR) for one \uD800-style
 * escape that is not half of a surrogate pair. Rewrites each such escape in
 * place to \uFFFD (same length). Returns how many were rewritten.
 */
size_t fix_lone_surrogates(char *text, size_t len)
{
    size_t fixed = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (!in_string) {
            in_string = (c == '"');
            continue;
        }
        if (c == '"') {
            in_string = false;
            continue;
        }
        if (c != '\\')
            continue;
        long unit = u_escape_at(text, len, i);
        if (unit < 0) {
            i++; /* skip the escaped character, e.g. \" or \\ */
            continue;
        }
        if (unit >= 0xD800 && unit <= 0xDBFF) {
            long low = u_escape_at(text, len, i + 6);
            if (low >= 0xDC00 && low <= 0xDFFF) {
                i += 11; /* a proper pair */
                continue;
            }
        }
        if (unit >= 0xD800 && unit <= 0xDFFF) {
            std::memcpy(text + i + 2, "FFFD", 4);
            fixed++;
        }
        i += 5;
    }
    return fixed;
}

/* ---- parsing ------------------------------------------------------------ */

/*
 * Parses len bytes of JSON text (copied first, so text may point into the
 * parser's own string buffer) into *root, repairing invalid UTF-8 and lone
 * surrogate escapes. what names the text in error messages.
 */
bool parse_json_text(parse_ctx *ctx, const char *text, size_t len, const char *what,
                     dom::element *root, parse_failure &f)
{
    if (!ctx->input.reserve(len)) {
        fail(f, "out of memory");
        return false;
    }
    if (len)
        std::memcpy(ctx->input.data, text, len);
    ctx->input.zero_padding_after(len);

    char *current = ctx->input.data;
    size_t current_len = len;
    bool utf8_repaired = false;
    if (ctx->max_depth && ctx->parser.max_depth() != ctx->max_depth &&
        ctx->parser.allocate(len < 4096 ? 4096 : len, ctx->max_depth)) {
        fail(f, "out of memory");
        return false;
    }
    error_code code = ctx->parser.parse(current, current_len, false).get(*root);

    if (code == simdjson::UTF8_ERROR) {
        const auto *src = reinterpret_cast<const unsigned char *>(current);
        size_t repaired_len = utf8_repair(src, current_len, nullptr);
        if (!ctx->repaired.reserve(repaired_len)) {
            fail(f, "out of memory");
            return false;
        }
        utf8_repair(src, current_len, reinterpret_cast<unsigned char *>(ctx->repaired.data));
        ctx->repaired.zero_padding_after(repaired_len);
        current = ctx->repaired.data;
        current_len = repaired_len;
        utf8_repaired = true;
        ctx->was_repaired = true;
        code = ctx->parser.parse(current, current_len, false).get(*root);
    }
    if (code == simdjson::STRING_ERROR && fix_lone_surrogates(current, current_len) > 0) {
        ctx->was_repaired = true;
        code = ctx->parser.parse(current, current_len, false).get(*root);
    }
    if (code) {
        fail_json(f, what, code, utf8_repaired);
        return false;
    }
    return true;
}

/* The event of an EVENT-kind document: the detail of an EventBridge
 * envelope, else the root object itself. */
bool event_of_document(dom::element root, dom::object *event)
{
    dom::object obj;
    if (root.get_object().get(obj))
        return false;
    if (obj.at_key("detail-type").error() || obj.at_key("detail").get_object().get(*event))
        *event = obj;
    return true;
}

/* The escaped event text of a WRAPPED record, unescaped by simdjson. */
bool wrapped_event_text(dom::element root, std::string_view *text)
{
    dom::object obj;
    if (root.get_object().get(obj))
        return false;
    return !obj.at_key("message").get_string().get(*text) ||
           !obj.at_key("CloudTrailEvent").get_string().get(*text);
}

bool parse_into_ctx(parse_ctx *ctx, const char *buf, size_t len, enum parse_kind kind,
                    parse_failure &f)
{
    if (kind != PARSE_KIND_EVENT && kind != PARSE_KIND_WRAPPED) {
        fail(f, "unknown record kind %d", int(kind));
        return false;
    }
    if (!buf && len) {
        fail(f, "no record bytes");
        return false;
    }

    dom::element root;
    if (!parse_json_text(ctx, buf ? buf : "", len, "invalid JSON", &root, f))
        return false;

    if (kind == PARSE_KIND_WRAPPED) {
        std::string_view inner;
        if (!root.is_object()) {
            fail(f, "record is not a JSON object");
            return false;
        }
        if (!wrapped_event_text(root, &inner)) {
            fail(f, "record has no \"message\" or \"CloudTrailEvent\" string");
            return false;
        }
        /* parse_json_text copies inner before the parser reuses its storage */
        if (!parse_json_text(ctx, inner.data(), inner.size(), "embedded event: invalid JSON", &root,
                             f))
            return false;
        if (!event_of_document(root, &ctx->event)) {
            fail(f, "embedded event is not a JSON object");
            return false;
        }
        return true;
    }

    if (!event_of_document(root, &ctx->event)) {
        fail(f, "record is not a JSON object");
        return false;
    }
    return true;
}

/*
 * Minified JSON written straight into a kept buffer, byte for byte what
 * simdjson's string_builder<mini_formatter> writes (its vector grew by an
 * insert per token and was then copied again): strings escaped as it does
 * (quote, backslash, \b \t \n \f \r, \u00xx for other bytes below 0x20;
 * a DOM string is valid UTF-8, which json_put_string copies as it is),
 * integers in decimal, doubles through simdjson's own to_chars (the
 * builder). May throw std::bad_alloc.
 */
inline void reserve_or_throw(ot_buf *b, size_t n)
{
    if (b->cap - b->len < n && buf_reserve(b, n))   /* the check inline: most calls have room */
        throw std::bad_alloc();
}

void put_text(ot_buf *b, const char *s, size_t n)
{
    reserve_or_throw(b, n);
    std::memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* s as a JSON string, after the byte before and followed by after (0:
 * none): a member's comma, key and colon in one reserve. */
void put_string(ot_buf *b, char before, std::string_view s, char after)
{
    reserve_or_throw(b, JSON_STRING_ROOM(s.size()) + 2);
    char *o = b->data + b->len;
    if (before)
        *o++ = before;
    o = json_put_string(o, s.data(), s.size());
    if (after)
        *o++ = after;
    b->len = size_t(o - b->data);
}

void put_unsigned(ot_buf *b, uint64_t v, bool negative)
{
    char digits[24];
    char *end = digits + sizeof digits, *p = end;
    do {
        *--p = char('0' + v % 10);
        v /= 10;
    } while (v);
    if (negative)
        *--p = '-';
    put_text(b, p, size_t(end - p));
}

void put_element(parse_ctx *ctx, ot_buf *b, dom::element value);

void put_object(parse_ctx *ctx, ot_buf *b, dom::object obj)
{
    put_text(b, "{", 1);
    bool first = true;
    for (dom::key_value_pair field : obj) {
        std::string_view text;
        if (!field.value.get_string().get(text)) {
            /* a string member, the most common, in one reserve */
            reserve_or_throw(b, JSON_STRING_ROOM(field.key.size()) + JSON_STRING_ROOM(text.size()) + 2);
            char *o = b->data + b->len;
            if (!first)
                *o++ = ',';
            o = json_put_string(o, field.key.data(), field.key.size());
            *o++ = ':';
            o = json_put_string(o, text.data(), text.size());
            b->len = size_t(o - b->data);
        } else {
            put_string(b, first ? 0 : ',', field.key, ':');
            put_element(ctx, b, field.value);
        }
        first = false;
    }
    put_text(b, "}", 1);
}

/* Recursion is as deep as the document, which simdjson bounds (1024). */
void put_element(parse_ctx *ctx, ot_buf *b, dom::element value)
{
    switch (value.type()) {
    case dom::element_type::OBJECT:
        put_object(ctx, b, dom::object(value));
        return;
    case dom::element_type::ARRAY: {
        put_text(b, "[", 1);
        bool first = true;
        for (dom::element item : dom::array(value)) {
            if (!first)
                put_text(b, ",", 1);
            first = false;
            put_element(ctx, b, item);
        }
        put_text(b, "]", 1);
        return;
    }
    case dom::element_type::STRING:
        put_string(b, 0, std::string_view(value), 0);
        return;
    case dom::element_type::INT64: {
        int64_t v = int64_t(value);
        uint64_t magnitude;
        std::memcpy(&magnitude, &v, sizeof v);
        put_unsigned(b, v < 0 ? ~magnitude + 1 : magnitude, v < 0);
        return;
    }
    case dom::element_type::UINT64:
        put_unsigned(b, uint64_t(value), false);
        return;
    case dom::element_type::DOUBLE: {
        ctx->builder.clear();
        ctx->builder.append(value);
        std::string_view text = ctx->builder.str();
        put_text(b, text.data(), text.size());
        return;
    }
    case dom::element_type::BOOL:
        if (bool(value))
            put_text(b, "true", 4);
        else
            put_text(b, "false", 5);
        return;
    case dom::element_type::NULL_VALUE:
        put_text(b, "null", 4);
        return;
    }
}

/* value as minified JSON text, kept until the next parse. May throw (out
 * of memory). */
template <class T> ot_slice keep_minified(parse_ctx *ctx, T value)
{
    if (ctx->minified_used == ctx->minified.size())
        ctx->minified.emplace_back();
    ot_buf *kept = &ctx->minified[ctx->minified_used].text;
    kept->len = 0;
    if constexpr (std::is_same_v<T, dom::object>)
        put_object(ctx, kept, value);
    else
        put_element(ctx, kept, value);
    if (kept->len > ctx->builder_peak)
        ctx->builder_peak = kept->len;
    ctx->minified_used++;
    return ot_slice{kept->data, kept->len};
}

void release_oversized(parse_ctx *ctx, size_t next_len)
{
    if (next_len > KEEP_BYTES)
        return;
    if (ctx->parser.capacity() > KEEP_BYTES)
        ctx->parser = dom::parser{};
    if (ctx->input.capacity > KEEP_BYTES)
        ctx->input.release();
    if (ctx->repaired.capacity > KEEP_BYTES)
        ctx->repaired.release();
    if (ctx->builder_peak > KEEP_BYTES) {  /* and so may a kept text be */
        ctx->builder = simdjson::internal::string_builder<>{};
        ctx->builder_peak = 0;
        for (parse_ctx::kept_text &kept : ctx->minified)
            if (kept.text.cap > KEEP_BYTES)
                buf_free(&kept.text);
    }
}

void forget_event(parse_ctx *ctx)
{
    ctx->minified_used = 0;
    ctx->has_event = false;
    if (++ctx->generation == 0) {
        /* wrapped: slots stamped 2^32 records ago must not look current */
        std::memset(ctx->cache, 0, sizeof ctx->cache);
        for (parse_ctx::top_field &t : ctx->top)
            t.generation = 0;
        ctx->generation = 1;
        ctx->top_generation = 0;
    }
    ctx->was_repaired = false;
    ctx->has_event_json = false;
    ctx->event_json = ot_slice{"", 0};
}

} // namespace

/* ---- the C interface ---------------------------------------------------- */

extern "C" {

parse_ctx *parse_create(void)
{
    try {
        return new parse_ctx();
    } catch (...) {
        return nullptr;
    }
}

void parse_set_depth(parse_ctx *ctx, size_t depth)
{
    if (ctx)
        ctx->max_depth = depth;
}

void parse_free(parse_ctx *ctx)
{
    delete ctx; /* destructors do not throw */
}

int parse_record(parse_ctx *ctx, const char *buf, size_t len, enum parse_kind kind, char *err,
                 size_t errlen, size_t *err_offset)
{
    parse_failure f;
    f.text[0] = '\0';
    bool ok = false;

    if (!ctx) {
        fail(f, "no parse context");
    } else {
        try {
            forget_event(ctx);
            release_oversized(ctx, len);
            ok = parse_into_ctx(ctx, buf, len, kind, f);
        } catch (...) {
            fail(f, "out of memory");
            ok = false;
        }
        ctx->has_event = ok;
        if (!ok)
            ctx->was_repaired = false;
    }

    if (ok)
        return 0;
    if (err && errlen) {
        std::snprintf(err, errlen, "%s", f.text);
    }
    if (err_offset)
        *err_offset = 0;
    return -1;
}

int parse_repaired(const parse_ctx *ctx)
{
    return ctx && ctx->has_event && ctx->was_repaired;
}

/* memcmp(a, b, n) == 0 inline for the short keys of CloudTrail (a call
 * to memcmp was a third of comparing a member): two overlapping loads of
 * each, never reading past n bytes. */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
    uint64_t x0, x1, y0, y1;
    if (n >= 8 && n <= 16) {
        std::memcpy(&x0, a, 8);
        std::memcpy(&y0, b, 8);
        std::memcpy(&x1, a + n - 8, 8);
        std::memcpy(&y1, b + n - 8, 8);
        return ((x0 ^ y0) | (x1 ^ y1)) == 0;
    }
    if (n >= 4 && n < 8) {
        uint32_t p0, p1, q0, q1;
        std::memcpy(&p0, a, 4);
        std::memcpy(&q0, b, 4);
        std::memcpy(&p1, a + n - 4, 4);
        std::memcpy(&q1, b + n - 4, 4);
        return ((p0 ^ q0) | (p1 ^ q1)) == 0;
    }
    return std::memcmp(a, b, n) == 0;
}

/* The slot where a key's probe starts. Its length and three of its bytes:
 * hashing every byte cost more than the scan it replaces, and CloudTrail's
 * keys differ in those (a collision only costs a probe). */
static size_t top_hash(const char *key, size_t len)
{
    const unsigned char *k = reinterpret_cast<const unsigned char *>(key);
    uint32_t h = uint32_t(len);
    if (len)
        h ^= uint32_t(k[0]) << 8 ^ uint32_t(k[len / 2]) << 16 ^ uint32_t(k[len - 1]) << 24;
    return (h * 0x9E3779B1u) >> 25;     /* 7 bits: TOP_SLOTS */
}

constexpr size_t TOP_SLOTS = sizeof(((parse_ctx *)nullptr)->top) / sizeof(((parse_ctx *)nullptr)->top[0]);
constexpr size_t TOP_MAX_FIELDS = TOP_SLOTS / 2;    /* keeps probe runs short */
static_assert(TOP_SLOTS == 128, "top_hash gives 7 bits");

/* Indexes the current event's members once per record. A repeated key
 * keeps its first value, as at_key would find it. */
static void index_top(parse_ctx *ctx)
{
    ctx->top_generation = ctx->generation;
    ctx->top_indexed = false;
    if (ctx->event.size() > TOP_MAX_FIELDS)
        return;
    for (dom::key_value_pair field : ctx->event) {
        std::string_view k = field.key;
        size_t slot = top_hash(k.data(), k.size()) & (TOP_SLOTS - 1);
        for (;; slot = (slot + 1) & (TOP_SLOTS - 1)) {
            parse_ctx::top_field &t = ctx->top[slot];
            if (t.generation != ctx->generation) {
                t = parse_ctx::top_field{ctx->generation, uint32_t(k.size()), k.data(), field.value};
                break;
            }
            if (t.len == k.size() && same_bytes(t.key, k.data(), k.size()))
                break;  /* a repeated key: the first stays */
        }
    }
    ctx->top_indexed = true;
}

/* The current event's member key, through the index. */
static bool top_member(parse_ctx *ctx, const char *key, size_t len, dom::element &value)
{
    if (ctx->top_generation != ctx->generation)
        index_top(ctx);
    if (!ctx->top_indexed)
        return !ctx->event.at_key(std::string_view(key, len)).get(value);
    for (size_t slot = top_hash(key, len) & (TOP_SLOTS - 1);; slot = (slot + 1) & (TOP_SLOTS - 1)) {
        const parse_ctx::top_field &t = ctx->top[slot];
        if (t.generation != ctx->generation)
            return false;
        if (t.len == len && same_bytes(t.key, key, len)) {
            value = t.value;
            return true;
        }
    }
}

int parse_is_digest(parse_ctx *ctx)
{
    dom::element value;
    return ctx && ctx->has_event && top_member(ctx, "digestStartTime", 15, value) &&
           top_member(ctx, "logFiles", 8, value);
}

/* Walks a dotted path from obj, one object member a dot. */
static bool find_path(dom::object obj, const char *path, dom::element &value)
{
    const char *segment = path;
    for (;;) {
        const char *dot = std::strchr(segment, '.');
        size_t segment_len = dot ? size_t(dot - segment) : std::strlen(segment);
        if (obj.at_key(std::string_view(segment, segment_len)).get(value))
            return false;
        if (!dot)
            return true;
        if (value.get_object().get(obj))
            return false;
        segment = dot + 1;
    }
}

/* find_path from the current event, its first step through the index. */
static bool find_event_path(parse_ctx *ctx, const char *path, dom::element &value)
{
    const char *dot = std::strchr(path, '.');
    size_t len = dot ? size_t(dot - path) : std::strlen(path);
    if (!top_member(ctx, path, len, value))
        return false;
    if (!dot)
        return true;
    dom::object obj;
    return !value.get_object().get(obj) && find_path(obj, dot + 1, value);
}

/* A found value as parse_get hands it out. May throw (out of memory). */
static enum parse_type describe(parse_ctx *ctx, dom::element value, ot_slice *result)
{
    switch (value.type()) {
    case dom::element_type::STRING: {
        std::string_view s;
        if (value.get_string().get(s))
            return PARSE_ABSENT;
        *result = ot_slice{s.data(), s.size()};
        return PARSE_STRING;
    }
    case dom::element_type::NULL_VALUE:
        *result = ot_slice{"null", 4};
        return PARSE_NULL;
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
        *result = keep_minified(ctx, value);
        return PARSE_NUMBER;
    case dom::element_type::BOOL:
        *result = keep_minified(ctx, value);
        return PARSE_BOOL;
    case dom::element_type::OBJECT:
        *result = keep_minified(ctx, value);
        return PARSE_OBJECT;
    case dom::element_type::ARRAY:
        *result = keep_minified(ctx, value);
        return PARSE_ARRAY;
    }
    return PARSE_ABSENT;
}

/* The answer for a found value (NULL: not found), in *out when out is set. */
static enum parse_type answer(parse_ctx *ctx, dom::element *value, ot_slice *out)
{
    ot_slice result = {"", 0};
    enum parse_type type = PARSE_ABSENT;
    if (value) {
        try {
            type = describe(ctx, *value, &result);
        } catch (...) {
            /* out of memory while minifying: report the value as absent */
            result = ot_slice{"", 0};
            type = PARSE_ABSENT;
        }
    }
    if (out)
        *out = result;
    return type;
}

enum parse_type parse_get(parse_ctx *ctx, const char *path, ot_slice *out)
{
    ot_slice result = {"", 0};
    enum parse_type type = PARSE_ABSENT;
    parse_ctx::cached_field *slot = nullptr;

    if (ctx && ctx->has_event && path) {
        slot = &ctx->cache[(uint64_t(reinterpret_cast<uintptr_t>(path)) * 0x9E3779B97F4A7C15ull) >> 55];   /* 512 slots */
        if (slot->path == path && slot->generation == ctx->generation) {
            if (out)
                *out = slot->value;
            return slot->type;
        }
    }
    if (ctx && ctx->has_event && path) {
        dom::element value;
        type = answer(ctx, find_event_path(ctx, path, value) ? &value : nullptr, &result);
    }

    if (slot) {
        *slot = parse_ctx::cached_field{path, ctx->generation, type, result};
    }
    if (out)
        *out = result;
    return type;
}

enum parse_type parse_get_uncached(parse_ctx *ctx, const char *path, ot_slice *out)
{
    dom::element value;
    bool found = ctx && ctx->has_event && path && find_event_path(ctx, path, value);
    return answer(ctx, found ? &value : nullptr, out);
}

int parse_get_int(parse_ctx *ctx, const char *path, int64_t *v)
{
    dom::element value;
    int64_t x;
    if (!ctx || !ctx->has_event || !path || !find_event_path(ctx, path, value) || value.get_int64().get(x))
        return -1;
    *v = x;
    return 0;
}

long parse_array_len(parse_ctx *ctx, const char *path)
{
    dom::element value;
    dom::array array;
    if (!ctx || !ctx->has_event || !path || !find_event_path(ctx, path, value) || value.get_array().get(array))
        return -1;
    return long(array.size());
}

enum parse_type parse_get_element(parse_ctx *ctx, const char *path, size_t index, const char *key, ot_slice *out)
{
    dom::element value, element;
    dom::array array;
    dom::object obj;
    bool found = ctx && ctx->has_event && path && find_event_path(ctx, path, value) &&
                 !value.get_array().get(array) && !array.at(index).get(element);
    if (found && key)
        found = !element.get_object().get(obj) && find_path(obj, key, value);
    else if (found)
        value = element;
    return answer(ctx, found ? &value : nullptr, out);
}

/* A member key's bucket among a path set node's children. */
static size_t key_bucket(const char *key, size_t len)
{
    return len ? (len * 7 + (unsigned char)key[0] + (unsigned char)key[len - 1] * 3u) & 31 : 0;
}

/* A node of a path set: one path segment. children holds the segments
 * that follow it; result is the index of the path that ends here, or -1. */
struct parse_pathset {
    struct node {
        std::string key;
        long result = -1;
        std::vector<size_t> children;   /* indexes into nodes */
        /* the children by key_bucket: the first, then each one's next (-1: none) */
        int head[32];
        std::vector<int> next;
        node() { std::fill(head, head + 32, -1); }
    };
    std::vector<node> nodes;            /* nodes[0]: the root, the event itself */
    std::vector<std::pair<size_t, size_t>> repeats;  /* (path, the earlier same path) */
    size_t npaths = 0;
};

parse_pathset *parse_pathset_create(const char *const *paths, size_t n)
{
    try {
        std::unique_ptr<parse_pathset> set(new parse_pathset());
        set->nodes.emplace_back();
        set->npaths = n;
        for (size_t i = 0; i < n; i++) {
            size_t at = 0;
            const char *segment = paths[i];
            for (;;) {
                const char *dot = std::strchr(segment, '.');
                std::string key(segment, dot ? size_t(dot - segment) : std::strlen(segment));
                size_t next = 0;
                for (size_t c : set->nodes[at].children)
                    if (set->nodes[c].key == key)
                        next = c;
                if (!next) {
                    next = set->nodes.size();
                    set->nodes.emplace_back();
                    set->nodes[next].key = key;
                    set->nodes[at].children.push_back(next);
                }
                at = next;
                if (!dot)
                    break;
                segment = dot + 1;
            }
            if (set->nodes[at].result < 0)
                set->nodes[at].result = long(i);
            else
                set->repeats.emplace_back(i, size_t(set->nodes[at].result));
        }
        for (parse_pathset::node &node : set->nodes) {
            if (node.children.size() > 64)  /* get_below's bit mask */
                return nullptr;
            node.next.assign(node.children.size(), -1);
            for (size_t c = node.children.size(); c-- > 0;) {   /* chains in order */
                const std::string &key = set->nodes[node.children[c]].key;
                size_t b = key_bucket(key.data(), key.size());
                node.next[c] = node.head[b];
                node.head[b] = int(c);
            }
        }
        return set.release();
    } catch (...) {
        return nullptr;
    }
}

void parse_pathset_free(parse_pathset *set)
{
    delete set;
}

/* Fills the results below node from obj: each member is compared with the
 * node's children once; the first member of a key is the one, as for
 * at_key. A path whose value is a string or absent stops there. */
static void get_below(parse_ctx *ctx, const parse_pathset *set, size_t at, dom::object obj,
                      enum parse_type *types, ot_slice *out)
{
    const parse_pathset::node &node = set->nodes[at];
    size_t left = node.children.size();
    uint64_t seen = 0;      /* bit c: child c found (a later repeat is not the one) */
    for (dom::key_value_pair field : obj) {
        std::string_view k = field.key;
        for (int c = node.head[key_bucket(k.data(), k.size())]; c >= 0; c = node.next[size_t(c)]) {
            const parse_pathset::node &child = set->nodes[node.children[size_t(c)]];
            if ((seen >> c & 1) || child.key.size() != k.size() || !same_bytes(child.key.data(), k.data(), k.size()))
                continue;
            seen |= uint64_t(1) << c;
            left--;
            dom::element value = field.value;
            std::string_view text;
            if (child.result >= 0 && !value.get_string().get(text)) {
                types[child.result] = PARSE_STRING;     /* describe's answer for a string, inline */
                out[child.result] = ot_slice{text.data(), text.size()};
            } else if (child.result >= 0) {
                types[child.result] = answer(ctx, &value, &out[child.result]);
            }
            dom::object inner;
            if (!child.children.empty() && !value.get_object().get(inner))
                get_below(ctx, set, node.children[size_t(c)], inner, types, out);
            break;
        }
        if (left == 0)
            break;
    }
}

void parse_get_set(parse_ctx *ctx, const parse_pathset *set, enum parse_type *types, ot_slice *out)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->npaths; i++) {
        types[i] = PARSE_ABSENT;
        out[i] = ot_slice{"", 0};
    }
    if (ctx && ctx->has_event)
        get_below(ctx, set, 0, ctx->event, types, out);
    for (const auto &repeat : set->repeats) {
        types[repeat.first] = types[repeat.second];
        out[repeat.first] = out[repeat.second];
    }
}

ot_slice parse_event_json(parse_ctx *ctx)
{
    if (!ctx || !ctx->has_event)
        return ot_slice{"", 0};
    if (!ctx->has_event_json) {
        try {
            ctx->event_json = keep_minified(ctx, ctx->event);
            ctx->has_event_json = true;
        } catch (...) {
            return ot_slice{"", 0};
        }
    }
    return ctx->event_json;
}

} /* extern "C" */
