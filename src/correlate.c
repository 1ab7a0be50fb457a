#define _GNU_SOURCE   /* qsort_r */
#include "correlate.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- time ---------------------------------------------------------------- */

int corr_time_ms(const char *s, size_t n, int64_t *ms)
{
    int64_t sec;
    int date_only;
    if (parse_time(s, n, &sec, &date_only))
        return -1;
    int64_t frac = 0;
    /* parse_time drops the fraction: "YYYY-MM-DDTHH:MM:SS.mmm..." keeps it here */
    if (!date_only && n > 20 && s[19] == '.') {
        int digits = 0;
        for (size_t i = 20; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if (digits < 3) {
                frac = frac * 10 + (s[i] - '0');
                digits++;
            }
        for (; digits < 3; digits++)
            frac *= 10;
    }
    *ms = sec * 1000 + frac;
    return 0;
}

static int append_time(ot_buf *out, int64_t ms)
{
    int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int frac = (int)(ms - sec * 1000);
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return buf_append_str(out, "null");
    char text[48];
    size_t n = strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac)
        snprintf(text + n, sizeof text - n, ".%03dZ", frac);
    else
        snprintf(text + n, sizeof text - n, "Z");
    return buf_printf(out, "\"%s\"", text);
}

/* ---- capture ------------------------------------------------------------- */

typedef struct {
    const sigma_rule *sigma;
    uint32_t corr, ref;         /* correlation index, index in its rules */
} feed;

int corr_set_of_rules(const rules *r, corr_set *set)
{
    size_t n = rules_correlation_count(r);
    const sigma_correlation **list = n ? malloc(n * sizeof *list) : NULL;
    if (n && !list)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        list[i] = rules_correlation_at(r, i);
    *set = (corr_set){ list, n, rules_sources_hash(r) };
    return 0;
}

struct corr_feeds {
    corr_set set;
    feed *feeds;                /* sorted by sigma pointer */
    size_t n;
    unsigned what;              /* CORR_CAPTURE_LINES and/or CORR_CAPTURE_STORE */
};

static int by_sigma(const void *a, const void *b)
{
    const feed *x = a, *y = b;
    if (x->sigma != y->sigma)
        return (uintptr_t)x->sigma < (uintptr_t)y->sigma ? -1 : 1;
    if (x->corr != y->corr)
        return x->corr < y->corr ? -1 : 1;
    return x->ref < y->ref ? -1 : x->ref > y->ref;
}

corr_feeds *corr_feeds_create(const corr_set *set)
{
    corr_feeds *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->set = *set;
    f->what = CORR_CAPTURE_LINES;
    size_t total = 0, nc = set->n;
    for (size_t c = 0; c < nc; c++)
        total += set->list[c]->nrules;
    if (total == 0)
        return f;
    f->feeds = malloc(total * sizeof *f->feeds);
    if (!f->feeds) {
        free(f);
        return NULL;
    }
    for (size_t c = 0; c < nc; c++) {
        const sigma_correlation *sc = set->list[c];
        for (size_t i = 0; i < sc->nrules; i++)
            f->feeds[f->n++] = (feed){ sc->rules[i], (uint32_t)c, (uint32_t)i };
    }
    qsort(f->feeds, f->n, sizeof *f->feeds, by_sigma);
    return f;
}

void corr_feeds_set_capture(corr_feeds *f, unsigned what)
{
    f->what = what & (CORR_CAPTURE_LINES | CORR_CAPTURE_STORE) ? what : CORR_CAPTURE_LINES;
}

void corr_feeds_free(corr_feeds *f)
{
    if (!f)
        return;
    free(f->feeds);
    free(f);
}

int corr_feeds_any(const corr_feeds *f)
{
    return f && f->n > 0;
}

/* The first feed of sigma rule sg, or NULL. */
static const feed *first_feed(const corr_feeds *f, const sigma_rule *sg)
{
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)f->feeds[mid].sigma < (uintptr_t)sg)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < f->n && f->feeds[lo].sigma == sg ? &f->feeds[lo] : NULL;
}

int corr_feeds_rule(const corr_feeds *f, const rule *ru)
{
    return f && f->n > 0 && ru->sigma && first_feed(f, ru->sigma) != NULL;
}

/* A field's value as a JSON string: strings as they are, numbers and
 * booleans as their JSON text. 0 when absent, null, an object or array. */
static int value_text(parse_ctx *ev, const char *field, ot_slice *v)
{
    enum parse_type t = parse_get(ev, field, v);
    return t == PARSE_STRING || t == PARSE_NUMBER || t == PARSE_BOOL;
}

static int capture_one(ot_buf *out, const sigma_correlation *sc, const feed *fd, parse_ctx *ev, ot_slice shared,
                       const char *path, uint64_t offset, int64_t ms, const ot_slice *id)
{
    ot_slice v;
    size_t start = out->len;
    int rc = buf_printf(out, "{\"c\":%u,\"r\":%u,\"t\":%" PRId64 ",\"id\":", fd->corr, fd->ref, ms);
    rc = rc ? rc : id->ptr ? buf_append_json_string(out, id->ptr, id->len) : buf_append_str(out, "null");
    rc = rc ? rc : buf_append_str(out, ",\"g\":[");
    for (size_t g = 0; !rc && g < sc->ngroup; g++) {
        if (!value_text(ev, sc->group_fields[fd->ref * sc->ngroup + g], &v)) {
            out->len = start;   /* lacks a group-by value: takes no part */
            return 0;
        }
        rc = g ? buf_append(out, ",", 1) : 0;
        rc = rc ? rc : buf_append_json_string(out, v.ptr, v.len);
    }
    rc = rc ? rc : buf_append_str(out, "],\"v\":");
    if (!rc && sc->type == SIGMA_CORR_VALUE_COUNT) {
        const char *field = sc->value_fields ? sc->value_fields[fd->ref] : NULL;
        if (!field || !value_text(ev, field, &v)) {
            out->len = start;   /* nothing to count */
            return 0;
        }
        rc = buf_append_json_string(out, v.ptr, v.len);
    } else if (!rc) {
        rc = buf_append_str(out, "null");
    }
    rc = rc ? rc : buf_append_str(out, ",\"p\":");
    rc = rc ? rc : buf_append_json_string(out, path, strlen(path));
    rc = rc ? rc : buf_printf(out, ",\"o\":%" PRIu64 ",\"a\":", offset);
    rc = rc ? rc : buf_append_json_string(out, shared.ptr, shared.len);
    rc = rc ? rc : buf_append_str(out, "}\n");
    if (rc) {
        out->len = start;
        return rc;
    }
    return 1;
}

/*
 * A capture for this process's own store (CORR_CAPTURE_STORE): a head, then
 * its parts' bytes in the order of the lens. With CAP_FIELDS the parts are
 * what add_line would keep of the capture's state line, so the store takes
 * them as they are; without, the capture is its state line only (part
 * P_LINE), which the store reads with every check. Never written anywhere:
 * native layout, copied out with memcpy (no alignment).
 */
enum { P_ID, P_PATH, P_SHARED, P_VALUE, P_GROUP, P_LINE, NPARTS };
#define CAP_ID 1u               /* has an eventID */
#define CAP_VALUE 2u            /* has a counted value (value_count) */
#define CAP_FIELDS 4u           /* the parts P_ID..P_GROUP are there */
#define CAP_LINE 8u             /* its state line is there */

typedef struct {
    uint32_t corr, ref;
    int64_t t;
    uint64_t offset;
    uint32_t flags;
    uint32_t magic;             /* CAPTURE_MAGIC: its NUL byte is in no state line (JSON text) */
    uint64_t len[NPARTS];
} capture_head;
#define CAPTURE_MAGIC 0x0043524fu

/* An anchor's part past this size or this many '{' and '[' bytes goes
 * through the checks rather than be vouched for unparsed (a --raw event
 * nested ~1022 deep is one). */
#define TRUSTED_SHARED_MAX ((size_t)1 << 26)
#define TRUSTED_OPENS_MAX 1000
/* How deep the checks parse: a record's 1024 (simdjson's) and the finding
 * around it, so that they take whatever record the scan took. */
#define CORR_CHECK_DEPTH (1024 + 16)

/* 1 when no byte of s is 0x80 or above: then the state line's escaping and
 * simdjson's unescaping give back s exactly (invalid UTF-8 would become
 * U+FFFD on the way; valid UTF-8 goes the checked way too, which is rare). */
static int ascii(const char *s, size_t n)
{
    unsigned char any = 0;
    for (size_t i = 0; i < n; i++)
        any |= (unsigned char)s[i];
    return any < 0x80;
}

/*
 * 1 when the anchor's part surely passes shared_fits: no control byte but
 * the last newline, ASCII only (so no UTF-8 repair), and few brackets. It
 * is our own finding_shared's output, valid JSON members by construction;
 * anything unusual goes to the checks (0), which decide as they always
 * did. How it opens and closes the store checks itself (its format
 * decides).
 */
static int shared_trusted(const char *p, size_t n)
{
    if (n == 0 || n > TRUSTED_SHARED_MAX)
        return 0;
    size_t body = n - 1, i = 0, opens = 0;
    unsigned bad = 0;
#ifdef __SSE2__
    /* a signed compare below 0x20 catches the bytes from 0x80 too; the
     * brackets are counted per byte lane (a match is -1), summed before a
     * lane can pass 255 */
    __m128i low = _mm_setzero_si128();
    while (i + 16 <= body) {
        __m128i lanes = _mm_setzero_si128();
        for (int k = 0; k < 255 && i + 16 <= body; k++, i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
            low = _mm_or_si128(low, _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
            lanes = _mm_sub_epi8(lanes, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('{')),
                                                     _mm_cmpeq_epi8(v, _mm_set1_epi8('['))));
        }
        __m128i sums = _mm_sad_epu8(lanes, _mm_setzero_si128());
        opens += (size_t)_mm_cvtsi128_si32(sums) + (size_t)_mm_cvtsi128_si32(_mm_srli_si128(sums, 8));
    }
    bad = (unsigned)_mm_movemask_epi8(low);
#endif
    for (; i < body; i++) {
        unsigned char c = (unsigned char)p[i];
        bad |= c < 0x20 || c >= 0x80;
        opens += c == '{' || c == '[';
    }
    return !bad && opens < TRUSTED_OPENS_MAX;
}

/* Member i of a match's group as the finding shows it ({name: value, ...},
 * the braces the caller's): one rendering for captures and state lines
 * alike, so that the same match is the same whichever way it came. */
static int group_member(ot_buf *out, size_t i, const char *name, ot_slice v)
{
    int rc = i ? buf_append(out, ",", 1) : 0;
    rc = rc ? rc : buf_append_json_string(out, name, strlen(name));
    rc = rc ? rc : buf_append(out, ":", 1);
    return rc ? rc : buf_append_json_string(out, v.ptr, v.len);
}

/* The parts of a trusted capture after its head (P_ID..P_GROUP). Returns
 * 1, 0 when it takes no part, CHECKED_WAY when a value must go the
 * checked way, or -ENOMEM. */
#define CHECKED_WAY 2
static int capture_fields(ot_buf *out, const sigma_correlation *sc, const feed *fd, parse_ctx *ev,
                          capture_head *h, ot_slice shared, const char *path, size_t path_len, const ot_slice *id)
{
    ot_slice v;
    int rc = id->ptr ? buf_append(out, id->ptr, id->len) : 0;
    h->len[P_ID] = id->ptr ? id->len : 0;
    rc = rc ? rc : buf_append(out, path, path_len);
    rc = rc ? rc : buf_append(out, shared.ptr, shared.len);
    h->len[P_PATH] = path_len;
    h->len[P_SHARED] = shared.len;
    if (!rc && sc->type == SIGMA_CORR_VALUE_COUNT) {
        const char *field = sc->value_fields ? sc->value_fields[fd->ref] : NULL;
        if (!field || !value_text(ev, field, &v))
            return 0;   /* nothing to count */
        if (!ascii(v.ptr, v.len))
            return CHECKED_WAY;
        rc = buf_append(out, v.ptr, v.len);
        h->len[P_VALUE] = v.len;
        h->flags |= CAP_VALUE;
    }
    /* the group, rendered as add_line renders it: the finding's {name: value} object */
    size_t group = out->len;
    rc = rc ? rc : buf_append(out, "{", 1);
    for (size_t g = 0; !rc && g < sc->ngroup; g++) {
        if (!value_text(ev, sc->group_fields[fd->ref * sc->ngroup + g], &v))
            return 0;   /* lacks a group-by value: takes no part */
        if (!ascii(v.ptr, v.len))
            return CHECKED_WAY;
        rc = group_member(out, g, sc->group_by[g], v);
    }
    rc = rc ? rc : buf_append(out, "}", 1);
    h->len[P_GROUP] = out->len - group;
    return rc ? rc : 1;
}

/* One capture for the store: its fields when they can be trusted, its
 * state line when they cannot or when lines are wanted too. Returns 1, 0
 * (takes no part: nothing appended) or -ENOMEM. */
static int capture_record(ot_buf *out, unsigned what, const sigma_correlation *sc, const feed *fd, parse_ctx *ev,
                          ot_slice shared, int trusted, const char *path, size_t path_len, uint64_t offset,
                          int64_t ms, const ot_slice *id)
{
    size_t start = out->len;
    capture_head h = { .corr = fd->corr, .ref = fd->ref, .t = ms, .offset = offset, .flags = id->ptr ? CAP_ID : 0,
                       .magic = CAPTURE_MAGIC };
    int rc = buf_append(out, &h, sizeof h);
    if (rc)
        return rc;
    if (trusted) {
        rc = capture_fields(out, sc, fd, ev, &h, shared, path, path_len, id);
        if (rc == 0 || rc == -ENOMEM) {
            out->len = start;
            return rc;
        }
        if (rc == 1) {
            h.flags |= CAP_FIELDS;
        } else {    /* CHECKED_WAY: the line only */
            out->len = start + sizeof h;
            h.flags &= ~CAP_VALUE;
            memset(h.len, 0, sizeof h.len);
        }
    }
    if (!(h.flags & CAP_FIELDS) || (what & CORR_CAPTURE_LINES)) {
        size_t line = out->len;
        rc = capture_one(out, sc, fd, ev, shared, path, offset, ms, id);
        if (rc <= 0) {
            out->len = start;
            return rc;
        }
        h.flags |= CAP_LINE;
        h.len[P_LINE] = out->len - line;
    }
    memcpy(out->data + start, &h, sizeof h);
    return 1;
}

int corr_capture(const corr_feeds *f, ot_buf *out, const rule *ru, parse_ctx *ev, finding_record *fr,
                 const char *path, uint64_t offset)
{
    if (!f || f->n == 0 || !ru->sigma)
        return 0;
    const feed *fd = first_feed(f, ru->sigma);
    if (!fd)
        return 0;
    ot_slice t, id;
    int64_t ms;
    if (parse_get(ev, "eventTime", &t) != PARSE_STRING || corr_time_ms(t.ptr, t.len, &ms))
        return 0;   /* no readable eventTime: takes no part */
    if (parse_get(ev, "eventID", &id) != PARSE_STRING)
        id = (ot_slice){ NULL, 0 };
    ot_slice shared;
    int rc = finding_shared(fr, &shared);
    if (rc)
        return rc;
    size_t start = out->len;
    int lines = 0, store = (f->what & CORR_CAPTURE_STORE) != 0, trusted = 0;
    size_t path_len = strlen(path);
    if (store)
        trusted = ascii(path, path_len) && (!id.ptr || ascii(id.ptr, id.len)) &&
                  shared_trusted(shared.ptr, shared.len);
    for (const feed *end = f->feeds + f->n; fd < end && fd->sigma == ru->sigma; fd++) {
        const sigma_correlation *sc = f->set.list[fd->corr];
        rc = store ? capture_record(out, f->what, sc, fd, ev, shared, trusted, path, path_len, offset, ms, &id)
                   : capture_one(out, sc, fd, ev, shared, path, offset, ms, &id);
        if (rc < 0) {
            out->len = start;
            return rc;
        }
        lines += rc;
    }
    return lines;
}

int corr_state_header(ot_buf *out, const corr_set *set, finding_format format)
{
    return buf_printf(out, "{\"orgtrail_correlation_state\":1,\"format\":\"%s\",\"rules\":\"%016" PRIx64 "\"}\n",
                      format == FINDING_OCSF ? "ocsf" : "ndjson", set->sources_hash);
}

/* ---- the store ----------------------------------------------------------- */

/* Strings live in the store's arena, named by offset (the arena moves). */
typedef struct {
    size_t off, len;
} span;

typedef struct {
    uint32_t corr, ref;
    int64_t t;
    int has_id;
    span id, group, value, shared, path;    /* group: the rendered {name: value} object */
    uint64_t offset;
    size_t value_rank;          /* value_count: the value's number among its group's */
} match;

struct corr_store {
    corr_set set;
    corr_options opt;
    match *m;
    size_t n, cap;
    ot_buf arena;
    parse_ctx *pc;
    parse_ctx *check;           /* for an anchor's part, which pc's slices point into */
    ot_buf scratch;
    int header_bad;             /* in the buffer corr_store_add reads: the lines since its last header are another run's */
};

corr_store *corr_store_create(const corr_set *set, const corr_options *o)
{
    corr_store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->set = *set;
    s->opt = *o;
    if (!s->opt.max_matches)
        s->opt.max_matches = CORR_DEFAULT_MAX_MATCHES;
    s->pc = parse_create();
    s->check = parse_create();
    if (!s->pc || !s->check) {
        corr_store_free(s);
        return NULL;
    }
    /* an anchor's part wraps its record (--raw), which may nest as deep as
     * simdjson lets a record nest: the check must not refuse what the scan
     * took (a DeletePolicy burst hidden by one deep requestParameters) */
    parse_set_depth(s->check, CORR_CHECK_DEPTH);
    return s;
}

void corr_store_free(corr_store *s)
{
    if (!s)
        return;
    free(s->m);
    buf_free(&s->arena);
    buf_free(&s->scratch);
    parse_free(s->pc);
    parse_free(s->check);
    free(s);
}

void corr_store_cap_message(const corr_store *s, char *msg, size_t n)
{
    snprintf(msg, n, "correlation matches exceed --max-correlation-matches %" PRIu64 "; raise it or narrow the input",
             s->opt.max_matches);
}

static int keep(corr_store *s, const char *p, size_t n, span *sp)
{
    sp->off = s->arena.len;
    sp->len = n;
    return buf_append(&s->arena, p, n);
}

/* A header line: 1 when it fits this store, 0 when it does not. */
static int header_fits(corr_store *s)
{
    ot_slice f, h;
    if (parse_get(s->pc, "format", &f) != PARSE_STRING || parse_get(s->pc, "rules", &h) != PARSE_STRING)
        return 0;
    const char *want = s->opt.format == FINDING_OCSF ? "ocsf" : "ndjson";
    char hash[17];
    snprintf(hash, sizeof hash, "%016" PRIx64, s->set.sources_hash);
    return f.len == strlen(want) && memcmp(f.ptr, want, f.len) == 0 && h.len == 16 && memcmp(h.ptr, hash, 16) == 0;
}

/* 1 when an anchor's part (",..." up to the closing braces and the
 * newline) is what a finding line may hold: it is copied into the output as
 * it is, and a state may come from anywhere. So: no control byte but the
 * last newline (a raw newline would end the line: a forged finding after
 * it), valid UTF-8 as it is, and one JSON object when an opening member
 * goes before it. */
static int shared_fits(corr_store *s, const char *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if ((unsigned char)p[i] < 0x20)
            return 0;
    static const char open[] = "{\"_\":0";
    s->scratch.len = 0;
    if (buf_append(&s->scratch, open, sizeof open - 1) || buf_append(&s->scratch, p, n - 1))
        return 0;
    char err[64];
    size_t err_at;
    return parse_record(s->check, s->scratch.data, s->scratch.len, PARSE_KIND_EVENT, err, sizeof err, &err_at) == 0 &&
           !parse_repaired(s->check);
}

/* What a match is made of, before the store keeps it (slices borrowed). */
typedef struct {
    uint32_t corr, ref;
    int64_t t;
    uint64_t offset;
    int has_id, has_value;
    ot_slice id, path, shared, value, group;   /* group: the rendered {name: value} object */
} match_parts;

/* Keeps a new match. Returns 1, -E2BIG or -ENOMEM (nothing kept). */
static int push_match(corr_store *s, const match_parts *in)
{
    if (s->n >= s->opt.max_matches)
        return -E2BIG;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        if (cap > s->opt.max_matches)
            cap = (size_t)s->opt.max_matches;
        match *m = realloc(s->m, cap * sizeof *m);
        if (!m)
            return -ENOMEM;
        s->m = m;
        s->cap = cap;
    }
    match *m = &s->m[s->n];
    memset(m, 0, sizeof *m);
    m->corr = in->corr;
    m->ref = in->ref;
    m->t = in->t;
    m->has_id = in->has_id;
    m->offset = in->offset;
    size_t mark = s->arena.len;
    int rc = m->has_id ? keep(s, in->id.ptr, in->id.len, &m->id) : 0;
    rc = rc ? rc : keep(s, in->path.ptr, in->path.len, &m->path);
    rc = rc ? rc : keep(s, in->shared.ptr, in->shared.len, &m->shared);
    rc = rc ? rc : in->has_value ? keep(s, in->value.ptr, in->value.len, &m->value) : 0;
    rc = rc ? rc : keep(s, in->group.ptr, in->group.len, &m->group);
    if (rc) {
        s->arena.len = mark;
        return rc;
    }
    s->n++;
    return 1;
}

/* 1 when an anchor's part opens and closes as finding_shared makes it for
 * the store's format (its closing braces are cut off in produce). */
static int shared_frames(const corr_store *s, const char *p, size_t n)
{
    const char *tail = s->opt.format == FINDING_OCSF ? "}}\n" : "}\n";
    size_t tl = strlen(tail);
    return n >= tl + 1 && p[0] == ',' && memcmp(p + n - tl, tail, tl) == 0;
}

/* Parses one state line into a new match. Returns 1 kept, 0 a header, -EINVAL
 * damaged, -E2BIG, -ENOMEM. */
static int add_line(corr_store *s, const char *line, size_t len)
{
    char err[128];
    size_t err_at;
    if (parse_record(s->pc, line, len, PARSE_KIND_EVENT, err, sizeof err, &err_at))
        return -EINVAL;
    ot_slice v;
    if (parse_get(s->pc, "orgtrail_correlation_state", &v) != PARSE_ABSENT) {
        s->header_bad = !header_fits(s);
        return s->header_bad ? -ESTALE : 0;
    }
    if (s->header_bad)
        return 0;
    int64_t c, ref, t, offset;
    if (parse_get_int(s->pc, "c", &c) || parse_get_int(s->pc, "r", &ref) || parse_get_int(s->pc, "t", &t) ||
        parse_get_int(s->pc, "o", &offset) || c < 0 || ref < 0 || offset < 0 || (uint64_t)c >= s->set.n)
        return -EINVAL;
    const sigma_correlation *sc = s->set.list[c];
    if ((uint64_t)ref >= sc->nrules || parse_array_len(s->pc, "g") != (long)sc->ngroup)
        return -EINVAL;
    match_parts in = { .corr = (uint32_t)c, .ref = (uint32_t)ref, .t = t, .offset = (uint64_t)offset };
    enum parse_type idt = parse_get(s->pc, "id", &in.id);
    enum parse_type vt = parse_get(s->pc, "v", &in.value);
    if ((idt != PARSE_STRING && idt != PARSE_NULL) || parse_get(s->pc, "p", &in.path) != PARSE_STRING ||
        parse_get(s->pc, "a", &in.shared) != PARSE_STRING || (vt != PARSE_STRING && vt != PARSE_NULL))
        return -EINVAL;
    /* the anchor's part must close the line as finding_shared says */
    if (!shared_frames(s, in.shared.ptr, in.shared.len) || !shared_fits(s, in.shared.ptr, in.shared.len))
        return -EINVAL;
    if (sc->type == SIGMA_CORR_VALUE_COUNT && vt != PARSE_STRING)
        return -EINVAL;
    if (s->n >= s->opt.max_matches)
        return -E2BIG;
    in.has_id = idt == PARSE_STRING;
    in.has_value = vt == PARSE_STRING;
    /* the group, rendered once as the finding's {name: value} object */
    ot_buf *g = &s->scratch;
    g->len = 0;
    int rc = buf_append(g, "{", 1);
    for (size_t i = 0; !rc && i < sc->ngroup; i++) {
        ot_slice gv;
        if (parse_get_element(s->pc, "g", i, NULL, &gv) != PARSE_STRING)
            return -EINVAL;
        rc = group_member(g, i, sc->group_by[i], gv);
    }
    rc = rc ? rc : buf_append(g, "}", 1);
    if (rc)
        return rc;
    in.group = (ot_slice){ g->data, g->len };
    return push_match(s, &in);
}

/* A line add_line refused (-EINVAL or -ESTALE), at byte at of name: said
 * and counted. */
static void say_bad(int rc, const char *name, uint64_t at, FILE *errout, uint64_t *bad)
{
    (*bad)++;
    if (rc == -ESTALE)
        ot_say(errout, "orgtrail: %s: correlation state made with other rules or another --format "
                       "(at byte %" PRIu64 "); its matches are left out\n", name, at);
    else
        ot_say(errout, "orgtrail: %s: damaged correlation state line at byte %" PRIu64 "\n", name, at);
}

int corr_store_add(corr_store *s, const char *buf, size_t len, const char *name, uint64_t base, FILE *errout,
                   uint64_t *bad)
{
    size_t at = 0;
    s->header_bad = 0;      /* a header speaks for the lines after it in this buffer only */
    while (at < len) {
        const char *nl = memchr(buf + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t n = end - at;
        if (n > 0) {
            int rc = add_line(s, buf + at, n);
            if (rc == -E2BIG || rc == -ENOMEM)
                return rc;
            if (rc == -EINVAL || rc == -ESTALE)
                say_bad(rc, name, base + at, errout, bad);
        }
        at = end + 1;
    }
    s->header_bad = 0;
    return 0;
}

/* The capture at buf[at]: its head and where each part starts. Returns the
 * offset past it, or 0 when buf holds no whole capture there. */
static size_t read_capture(const char *buf, size_t len, size_t at, capture_head *h, const char **part)
{
    if (len - at < sizeof *h)
        return 0;
    memcpy(h, buf + at, sizeof *h);
    if (h->magic != CAPTURE_MAGIC)
        return 0;
    size_t p = at + sizeof *h;
    for (int i = 0; i < NPARTS; i++) {
        if (h->len[i] > len - p)
            return 0;
        part[i] = buf + p;
        p += (size_t)h->len[i];
    }
    return p;
}

int corr_captured_lines(const char *buf, size_t len, ot_buf *lines, uint64_t *n)
{
    *n = 0;
    for (size_t at = 0; at < len;) {
        capture_head h;
        const char *part[NPARTS];
        size_t next = read_capture(buf, len, at, &h, part);
        if (!next || (lines && !(h.flags & CAP_LINE)))
            return -EINVAL;
        int rc = lines ? buf_append(lines, part[P_LINE], (size_t)h.len[P_LINE]) : 0;
        if (rc)
            return rc;
        (*n)++;
        at = next;
    }
    return 0;
}

/* A trusted capture's fields into a new match: no parse, no check but
 * the bound and the format's closing braces (a stale header read from a
 * state file speaks for that file's lines, not for this run's matches). */
static int add_trusted(corr_store *s, const capture_head *h, const char *const *part)
{
    if (h->corr >= s->set.n || h->ref >= s->set.list[h->corr]->nrules ||
        !shared_frames(s, part[P_SHARED], (size_t)h->len[P_SHARED]))
        return -EINVAL;
    match_parts in = {
        .corr = h->corr, .ref = h->ref, .t = h->t, .offset = h->offset,
        .has_id = (h->flags & CAP_ID) != 0, .has_value = (h->flags & CAP_VALUE) != 0,
        .id = { part[P_ID], (size_t)h->len[P_ID] },
        .path = { part[P_PATH], (size_t)h->len[P_PATH] },
        .shared = { part[P_SHARED], (size_t)h->len[P_SHARED] },
        .value = { part[P_VALUE], (size_t)h->len[P_VALUE] },
        .group = { part[P_GROUP], (size_t)h->len[P_GROUP] },
    };
    return push_match(s, &in);
}

int corr_store_add_captured(corr_store *s, const char *buf, size_t len, const char *name, FILE *errout,
                            uint64_t *bad)
{
    for (size_t at = 0; at < len;) {
        capture_head h;
        const char *part[NPARTS];
        size_t next = read_capture(buf, len, at, &h, part);
        if (!next)
            return -EINVAL;
        int rc;
        if (h.flags & CAP_FIELDS) {
            rc = add_trusted(s, &h, part);
            if (rc == -EINVAL)
                say_bad(rc, name, h.offset, errout, bad);
        } else if (h.flags & CAP_LINE) {   /* one line: its offset is the record's */
            rc = corr_store_add(s, part[P_LINE], (size_t)h.len[P_LINE], name, h.offset, errout, bad);
        } else {
            return -EINVAL;     /* not a capture: the caller's mistake */
        }
        if (rc == -E2BIG || rc == -ENOMEM)
            return rc;
        at = next;
    }
    return 0;
}

/* ---- evaluation ---------------------------------------------------------- */

static int cmp_span(const char *a, const span *x, const span *y)
{
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(a + x->off, a + y->off, n);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Everything else, so that equal keys still sort the same on every run. */
static int cmp_rest(const char *a, const match *x, const match *y)
{
    int c = cmp_span(a, &x->shared, &y->shared);
    if (c)
        return c;
    c = cmp_span(a, &x->path, &y->path);
    if (c)
        return c;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return cmp_span(a, &x->value, &y->value);
}

static int cmp_group(const match *x, const match *y, const char *a)
{
    if (x->corr != y->corr)
        return x->corr < y->corr ? -1 : 1;
    return cmp_span(a, &x->group, &y->group);
}

static int cmp_id(const match *x, const match *y, const char *a)
{
    if (x->has_id != y->has_id)
        return x->has_id ? 1 : -1;      /* no eventID first */
    return x->has_id ? cmp_span(a, &x->id, &y->id) : 0;
}

/* 1 when two matches' anchors say the same of their event (each one's
 * finding_content_span): copies of one event, not a record that only
 * reuses another's eventID. */
static int same_content(const char *a, const match *x, const match *y)
{
    size_t xa, xl, ya, yl;
    return finding_content_span(a + x->shared.off, x->shared.len, a + x->path.off, x->path.len, x->offset, &xa,
                                &xl) == 0 &&
           finding_content_span(a + y->shared.off, y->shared.len, a + y->path.off, y->path.len, y->offset, &ya,
                                &yl) == 0 &&
           xl == yl && memcmp(a + x->shared.off + xa, a + y->shared.off + ya, xl) == 0;
}

/* (correlation, group, eventID, rule, time, ...): duplicates side by side
 * (copies of one event have the same anchor up to its input member) */
static int by_identity(const void *pa, const void *pb, void *arg)
{
    const match *x = pa, *y = pb;
    const char *a = arg;
    int c = cmp_group(x, y, a);
    c = c ? c : cmp_id(x, y, a);
    if (!c && x->ref != y->ref)
        c = x->ref < y->ref ? -1 : 1;
    if (!c && x->t != y->t)
        c = x->t < y->t ? -1 : 1;
    return c ? c : cmp_rest(a, x, y);
}

/* (correlation, group, time, eventID, rule, ...): a group's order */
static int by_time(const void *pa, const void *pb, void *arg)
{
    const match *x = pa, *y = pb;
    const char *a = arg;
    int c = cmp_group(x, y, a);
    if (!c && x->t != y->t)
        c = x->t < y->t ? -1 : 1;
    c = c ? c : cmp_id(x, y, a);
    if (!c && x->ref != y->ref)
        c = x->ref < y->ref ? -1 : 1;
    return c ? c : cmp_rest(a, x, y);
}

/* value_count: each match's value numbered among its group's (sorted by
 * value), so that a window counts distinct values with an array. */
static int by_value(const void *pa, const void *pb, void *arg)
{
    const match *const *x = pa, *const *y = pb;
    return cmp_span(arg, &(*x)->value, &(*y)->value);
}

typedef struct {
    int64_t first;
    uint32_t corr;
    span group;
    size_t line, line_len;      /* in the store's output buffer */
} produced;

typedef struct {
    corr_store *s;
    ot_buf lines;
    produced *f;
    size_t nf, capf;
    uint64_t below;
    size_t *counts;             /* per value rank or per rule, in the window */
    size_t ncounts;
} eval;

static int conds_hold(const sigma_correlation *sc, uint64_t count)
{
    for (size_t i = 0; i < sc->nconds; i++) {
        uint64_t v = sc->conds[i].value;
        int ok = 0;
        switch (sc->conds[i].op) {
        case SIGMA_CMP_GT: ok = count > v; break;
        case SIGMA_CMP_GTE: ok = count >= v; break;
        case SIGMA_CMP_LT: ok = count < v; break;
        case SIGMA_CMP_LTE: ok = count <= v; break;
        case SIGMA_CMP_EQ: ok = count == v; break;
        }
        if (!ok)
            return 0;
    }
    return 1;
}

static severity level_severity(int level)
{
    return level < SEV_INFO ? SEV_INFO : level > SEV_CRITICAL ? SEV_CRITICAL : (severity)level;
}

static const char *type_name(sigma_corr_type t)
{
    switch (t) {
    case SIGMA_CORR_EVENT_COUNT: return "event_count";
    case SIGMA_CORR_VALUE_COUNT: return "value_count";
    case SIGMA_CORR_TEMPORAL: return "temporal";
    case SIGMA_CORR_TEMPORAL_ORDERED: return "temporal_ordered";
    }
    return "?";
}

/* One finding: the matches g[a..b) used, count as it is reported. */
static int produce(eval *e, const sigma_correlation *sc, const match *g, size_t a, size_t b, uint64_t count)
{
    const char *ar = e->s->arena.data;
    const match *anchor = &g[a];
    severity sev = level_severity(sc->level);
    if (sev < e->s->opt.min_severity) {
        e->below++;
        return 0;
    }
    if (e->nf == e->capf) {
        size_t cap = e->capf ? e->capf * 2 : 64;
        produced *f = realloc(e->f, cap * sizeof *f);
        if (!f)
            return -ENOMEM;
        e->f = f;
        e->capf = cap;
    }
    ot_buf *out = &e->lines;
    size_t start = out->len;
    int ocsf = e->s->opt.format == FINDING_OCSF;
    rule head = { .id = sc->id, .title = sc->title, .level = sev };
    ot_slice id = anchor->has_id ? (ot_slice){ ar + anchor->id.off, anchor->id.len } : (ot_slice){ NULL, 0 };
    char path[4096];
    snprintf(path, sizeof path, "%.*s", (int)anchor->path.len, ar + anchor->path.off);
    ot_slice content = { "", 0 };    /* the anchor's content span, for OCSF's uid */
    size_t at, len;
    int rc = finding_content_span(ar + anchor->shared.off, anchor->shared.len, ar + anchor->path.off,
                                  anchor->path.len, anchor->offset, &at, &len);
    if (rc == -ENOMEM)
        return rc;
    if (rc == 0)
        content = (ot_slice){ ar + anchor->shared.off + at, len };
    rc = finding_append_head(out, e->s->opt.format, &head, sev, &id, &content, path, anchor->offset);
    /* the anchor's shared part, its closing braces after the correlation */
    size_t tail = ocsf ? 3 : 2;
    rc = rc ? rc : buf_append(out, ar + anchor->shared.off, anchor->shared.len - tail);
    rc = rc ? rc : buf_printf(out, ",\"correlation\":{\"type\":\"%s\",\"group\":", type_name(sc->type));
    rc = rc ? rc : buf_append(out, ar + anchor->group.off, anchor->group.len);
    rc = rc ? rc : buf_printf(out, ",\"count\":%" PRIu64 ",\"events\":[", count);
    for (size_t i = a; !rc && i < b; i++) {
        rc = i > a ? buf_append(out, ",", 1) : 0;
        rc = rc ? rc : g[i].has_id ? buf_append_json_string(out, ar + g[i].id.off, g[i].id.len)
                                   : buf_append_str(out, "null");
    }
    rc = rc ? rc : buf_append_str(out, "],\"first\":");
    rc = rc ? rc : append_time(out, g[a].t);
    rc = rc ? rc : buf_append_str(out, ",\"last\":");
    rc = rc ? rc : append_time(out, g[b - 1].t);
    rc = rc ? rc : buf_append(out, "}", 1);
    rc = rc ? rc : buf_append(out, ar + anchor->shared.off + anchor->shared.len - tail, tail);
    if (rc) {
        out->len = start;
        return rc;
    }
    e->f[e->nf++] = (produced){ g[a].t, anchor->corr, anchor->group, start, out->len - start };
    return 0;
}

static int grow_counts(eval *e, size_t n)
{
    if (n > e->ncounts) {
        size_t *c = realloc(e->counts, n * sizeof *c);
        if (!c)
            return -ENOMEM;
        e->counts = c;
        e->ncounts = n;
    }
    memset(e->counts, 0, n * sizeof *e->counts);
    return 0;
}

/* event_count, value_count, temporal: a window [i, e) slides over the
 * group; counts[] holds per value rank (value_count) or per rule (temporal)
 * how many matches of the window have it, and distinct how many are > 0. */
static int eval_window_types(eval *e, const sigma_correlation *sc, match *g, size_t n)
{
    int by_value_rank = sc->type == SIGMA_CORR_VALUE_COUNT;
    int by_rule = sc->type == SIGMA_CORR_TEMPORAL;
    size_t kinds = 0;
    if (by_value_rank) {
        match **order = malloc(n * sizeof *order);
        if (!order)
            return -ENOMEM;
        for (size_t i = 0; i < n; i++)
            order[i] = &g[i];
        qsort_r(order, n, sizeof *order, by_value, e->s->arena.data);
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && cmp_span(e->s->arena.data, &order[i - 1]->value, &order[i]->value) != 0)
                kinds++;
            order[i]->value_rank = kinds;
        }
        kinds++;
        free(order);
    } else if (by_rule) {
        kinds = sc->nrules;
    }
    if (kinds && grow_counts(e, kinds))
        return -ENOMEM;
    size_t i = 0, end = 0, distinct = 0;
    while (i < n) {
        int64_t limit = g[i].t > INT64_MAX - sc->timespan_ms ? INT64_MAX : g[i].t + sc->timespan_ms;
        for (; end < n && g[end].t <= limit; end++)
            if (kinds) {
                size_t k = by_value_rank ? g[end].value_rank : g[end].ref;
                distinct += e->counts[k]++ == 0;
            }
        int ok;
        uint64_t count = end - i;
        if (by_rule) {
            ok = distinct == sc->nrules;
        } else {
            if (by_value_rank)
                count = distinct;
            ok = conds_hold(sc, count);
        }
        size_t next = ok ? end : i + 1;
        if (ok) {
            int rc = produce(e, sc, g, i, end, by_rule ? end - i : count);
            if (rc)
                return rc;
        }
        for (; i < next; i++)
            if (kinds) {
                size_t k = by_value_rank ? g[i].value_rank : g[i].ref;
                distinct -= --e->counts[k] == 0;
            }
    }
    return 0;
}

/* temporal_ordered: from an anchor of rule 1, each next rule's first match
 * later in the order and inside the window; next[] finds it in O(1). */
static int eval_ordered(eval *e, const sigma_correlation *sc, match *g, size_t n)
{
    size_t nr = sc->nrules;
    if (nr == 0)
        return 0;
    size_t *next = malloc(nr * (n + 1) * sizeof *next);
    if (!next)
        return -ENOMEM;
    for (size_t r = 0; r < nr; r++) {
        size_t *nx = next + r * (n + 1);
        nx[n] = n;
        for (size_t p = n; p-- > 0;)
            nx[p] = g[p].ref == r ? p : nx[p + 1];
    }
    size_t i = 0;
    while (i < n) {
        if (g[i].ref != 0) {
            i++;
            continue;
        }
        int64_t limit = g[i].t > INT64_MAX - sc->timespan_ms ? INT64_MAX : g[i].t + sc->timespan_ms;
        size_t k = i;
        int ok = 1;
        for (size_t r = 1; ok && r < nr; r++) {
            size_t p = next[r * (n + 1) + k + 1];
            ok = p < n && g[p].t <= limit;
            k = p;
        }
        if (!ok) {
            i++;
            continue;
        }
        int rc = produce(e, sc, g, i, k + 1, k + 1 - i);
        if (rc) {
            free(next);
            return rc;
        }
        i = k + 1;
    }
    free(next);
    return 0;
}

static int by_output(const void *pa, const void *pb, void *arg)
{
    const produced *x = pa, *y = pb;
    corr_store *s = arg;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    if (x->corr != y->corr) {
        int c = strcmp(s->set.list[x->corr]->id, s->set.list[y->corr]->id);
        if (c)
            return c;
        return x->corr < y->corr ? -1 : 1;
    }
    int c = cmp_span(s->arena.data, &x->group, &y->group);
    if (c)
        return c;
    return x->line < y->line ? -1 : x->line > y->line;
}

int corr_store_evaluate(corr_store *s, ot_buf *out, uint64_t *matches, uint64_t *findings, uint64_t *below)
{
    eval e = { .s = s };
    int rc = 0;
    *matches = *findings = *below = 0;
    if (s->n == 0)
        return 0;
    char *ar = s->arena.data;
    if (s->opt.dedupe) {
        qsort_r(s->m, s->n, sizeof *s->m, by_identity, ar);
        size_t w = 0;
        for (size_t i = 0; i < s->n; i++) {
            const match *p = w ? &s->m[w - 1] : NULL;
            if (p && s->m[i].has_id && p->has_id && p->ref == s->m[i].ref && cmp_group(p, &s->m[i], ar) == 0 &&
                cmp_id(p, &s->m[i], ar) == 0 && same_content(ar, p, &s->m[i]))
                continue;   /* the same event again: the earliest copy stays */
            s->m[w++] = s->m[i];
        }
        s->n = w;
    }
    qsort_r(s->m, s->n, sizeof *s->m, by_time, ar);
    *matches = s->n;
    for (size_t i = 0; i < s->n && !rc;) {
        size_t j = i + 1;
        while (j < s->n && cmp_group(&s->m[i], &s->m[j], ar) == 0)
            j++;
        const sigma_correlation *sc = s->set.list[s->m[i].corr];
        rc = sc->type == SIGMA_CORR_TEMPORAL_ORDERED ? eval_ordered(&e, sc, s->m + i, j - i)
                                                     : eval_window_types(&e, sc, s->m + i, j - i);
        i = j;
    }
    if (!rc && e.nf > 1)
        qsort_r(e.f, e.nf, sizeof *e.f, by_output, s);
    for (size_t i = 0; !rc && i < e.nf; i++)
        rc = buf_append(out, e.lines.data + e.f[i].line, e.f[i].line_len);
    if (!rc) {
        *findings = e.nf;
        *below = e.below;
    }
    buf_free(&e.lines);
    free(e.f);
    free(e.counts);
    return rc;
}
