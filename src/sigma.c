#define _GNU_SOURCE   /* memmem */
#include "sigma.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "util.h"

/* In a compiled pattern these bytes stand for the wildcards. */
#define WILD_ANY '\x01'
#define WILD_ONE '\x02'
#define MIN_NEEDLE 4            /* shorter literals are too common to anchor on */
#define NEEDLE_MAX 64           /* prefilter.h: needles are 2..64 bytes */

/*
 * Bounds on what one rule may cost, so that a hostile rule file is rejected
 * instead of exhausting the stack, the memory or the CPU:
 * - MAX_EXPANDED: values, map pairs, list entries and selections visited
 *   while compiling, counting every YAML alias as often as it is used, plus
 *   the size of each selection a condition names (what one event's
 *   evaluation may have to look at);
 * - MAX_EXPANDED_BYTES: the bytes of the values compiled;
 * - MAX_DEPTH: nesting of parentheses and `not` in a condition (the parser
 *   and the evaluation recurse once a level; a flat `a or b or ...` does
 *   not recurse);
 * - MAX_TERMS: selection names and quantifiers in one rule's conditions;
 * - MAX_RULE_NEEDLES: a rule needing more alternative literals than this is
 *   unanchored (it cannot be searched for cheaply anyway).
 */
#define MAX_EXPANDED 100000
#define MAX_EXPANDED_BYTES (4u << 20)
#define MAX_DEPTH 64
#define MAX_TERMS 10000
#define MAX_RULE_NEEDLES 256
#define RE_WEIGHT 100           /* one regex counts as this many values */

/* PCRE2's work per match (a hostile pattern cannot run away: a match that
 * hits a limit counts as no match). */
#define RE_MATCH_LIMIT 1000000
#define RE_DEPTH_LIMIT 10000
#define RE_HEAP_LIMIT_KIB 8192

enum item_kind { ITEM_MATCH, ITEM_RE, ITEM_EXISTS, ITEM_CIDR, ITEM_KEYWORDS, ITEM_FIELDREF };

typedef struct {
    unsigned char addr[16];
    int family;
    int bits;
} cidr_net;

/* How a MATCH or KEYWORDS pattern is compared, decided once when it is
 * compiled: most Sigma values are a plain string with at most a * at either
 * end, which is a folded compare at a known place, not a glob. */
enum match_kind { M_EXACT, M_PREFIX, M_SUFFIX, M_CONTAINS, M_GLOB };

typedef struct {
    char *field;                /* dotted path; NULL for keywords */
    enum item_kind kind;
    int all;                    /* |all: every value must match */
    size_t n;                   /* values */
    char **pats;                /* MATCH, KEYWORDS: glob patterns (NULL entry: the null value);
                                 * FIELDREF: the other fields, interned */
    size_t *lens;
    char **lows;                /* MATCH, KEYWORDS: pats with ASCII letters lowered, what is compared */
    unsigned char *how;         /* MATCH, KEYWORDS: enum match_kind of each pattern; FIELDREF: of all */
    pcre2_code **res;           /* RE: shared by the workers, read-only (pats: their sources) */
    char **re_lits;             /* RE: a run of bytes every match of res[k] contains, lowered (looked
                                 * for ignoring case: a superset) before PCRE2 runs; NULL: none known */
    size_t *re_lit_lens;
    uint32_t re_flags;          /* RE: PCRE2's compile options (|i: PCRE2_CASELESS, |m: PCRE2_MULTILINE) */
    cidr_net *nets;             /* CIDR */
    int exists;                 /* EXISTS: wanted presence */
} item;

typedef struct {
    size_t n;
    item *items;                /* AND */
} group;

typedef struct {
    char *name;
    size_t n;
    group *groups;              /* OR */
    size_t values;              /* of all its items: what evaluating it may look at */
} selection;

enum cond_op { C_SEL, C_AND, C_OR, C_NOT, C_ONE_OF, C_ALL_OF };

/* AND and OR are n-ary (a chain of 10,000 terms is one node, not 10,000
 * levels), their operands sorted cheapest first; NOT has one. */
typedef struct cond {
    enum cond_op op;
    uint64_t cost;              /* a rough price of evaluating it: cheap operands go first */
    struct cond **kids;         /* C_AND, C_OR, C_NOT */
    size_t nkids;
    size_t sel;                 /* C_SEL */
    size_t *sels;               /* C_ONE_OF, C_ALL_OF */
    size_t nsels;
} cond;

struct sigma_rule {
    char *id, *title, *description;
    char *name;                 /* `name`, what correlations may call it by, or NULL */
    const char *source;         /* the file it came from (one pointer per load) */
    int referenced;             /* by a linked correlation */
    int generates;              /* referenced by one with generate: true */
    int level;
    char **tags;
    size_t ntags;
    selection *sels;
    size_t nsels;
    cond *cond;
    char **needles;             /* NULL-terminated */
    const char *index_field;    /* an interned field path, or NULL: see sigma_rule_index */
    char **index_values;        /* NULL-terminated */
    uint64_t shape;             /* a hash of the selections' fields, kinds and sizes: see find_twin */
    size_t twin;                /* the set's position of an earlier rule with the same detection, or SIZE_MAX */
    const pcre2_match_context *re_match;   /* the set's: PCRE2's limits */
};

/* Everything a set allocates lives until sigma_set_free. */
typedef struct block {
    struct block *next;
    max_align_t data[];
} block;

struct sigma_set {
    sigma_rule **rules;
    size_t n, cap;
    char **fields;              /* interned field paths: one pointer per path */
    size_t nfields, fields_cap;
    block *blocks;
    pcre2_code **regexes;       /* compiled, to free */
    size_t nregex, regex_cap;
    pcre2_match_context *re_match;  /* the limits; read-only once made, so shared by the workers */
    uint64_t sources_hash;      /* of every source name and text loaded */
    struct corr_doc **corrs;    /* correlations: parsed, then (after sigma_set_link) the kept ones */
    size_t ncorr, corr_cap;
    size_t nlinked;             /* corrs[0..nlinked): linked and kept */
};

static void *set_alloc(sigma_set *s, size_t size);

static char *set_strndup(sigma_set *s, const char *p, size_t n);

/* One pointer per field path across the set, so that the parser's lookup
 * cache (keyed by pointer) serves every rule asking for the same field. */
static char *intern_field(sigma_set *s, const char *p, size_t n)
{
    for (size_t i = 0; i < s->nfields; i++)
        if (strlen(s->fields[i]) == n && memcmp(s->fields[i], p, n) == 0)
            return s->fields[i];
    if (ot_grow(&s->fields, &s->fields_cap, s->nfields, sizeof *s->fields, 32))
        return NULL;
    char *copy = set_strndup(s, p, n);
    if (copy)
        s->fields[s->nfields++] = copy;
    return copy;
}

static void *set_alloc(sigma_set *s, size_t size)
{
    block *b = calloc(1, sizeof *b + size);
    if (!b)
        return NULL;
    b->next = s->blocks;
    s->blocks = b;
    return b->data;
}

static char *set_strndup(sigma_set *s, const char *p, size_t n)
{
    char *d = set_alloc(s, n + 1);
    if (d)
        memcpy(d, p, n);
    return d;
}

sigma_set *sigma_set_create(void)
{
    sigma_set *s = calloc(1, sizeof(sigma_set));
    if (!s)
        return NULL;
    s->sources_hash = FNV_OFFSET;
    s->re_match = pcre2_match_context_create(NULL);
    if (!s->re_match) {
        free(s);
        return NULL;
    }
    pcre2_set_match_limit(s->re_match, RE_MATCH_LIMIT);
    pcre2_set_depth_limit(s->re_match, RE_DEPTH_LIMIT);
    pcre2_set_heap_limit(s->re_match, RE_HEAP_LIMIT_KIB);
    return s;
}

uint64_t sigma_sources_hash(const sigma_set *s)
{
    return s->sources_hash;
}

void sigma_set_free(sigma_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nregex; i++)
        pcre2_code_free(s->regexes[i]);
    free(s->regexes);
    pcre2_match_context_free(s->re_match);
    free(s->fields);
    while (s->blocks) {
        block *b = s->blocks;
        s->blocks = b->next;
        free(b);
    }
    free(s->rules);
    free(s->corrs);
    free(s);
}

size_t sigma_count(const sigma_set *s)
{
    return s->n;
}

const sigma_rule *sigma_at(const sigma_set *s, size_t i)
{
    return i < s->n ? s->rules[i] : NULL;
}

const char *sigma_rule_id(const sigma_rule *r)
{
    return r->id ? r->id : r->title;
}

const char *sigma_rule_title(const sigma_rule *r)
{
    return r->title;
}

int sigma_rule_level(const sigma_rule *r)
{
    return r->level;
}

const char *sigma_rule_description(const sigma_rule *r)
{
    return r->description ? r->description : "";
}

size_t sigma_rule_values(const sigma_rule *r, const char *field, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t s = 0; s < r->nsels; s++)
        for (size_t g = 0; g < r->sels[s].n; g++)
            for (size_t i = 0; i < r->sels[s].groups[g].n; i++) {
                const item *it = &r->sels[s].groups[g].items[i];
                if (it->kind != ITEM_MATCH || !it->field || strcmp(it->field, field) != 0)
                    continue;
                for (size_t k = 0; k < it->n && n < max; k++)
                    if (it->pats[k] && !memchr(it->pats[k], WILD_ANY, it->lens[k]) &&
                        !memchr(it->pats[k], WILD_ONE, it->lens[k]))
                        out[n++] = it->pats[k];
            }
    return n;
}

int sigma_rule_has_tag(const sigma_rule *r, const char *tag)
{
    for (size_t i = 0; i < r->ntags; i++)
        if (strcasecmp(r->tags[i], tag) == 0)
            return 1;
    return 0;
}

const char *const *sigma_rule_needles(const sigma_rule *r)
{
    return (const char *const *)r->needles;
}

const char *sigma_rule_index(const sigma_rule *r, const char *const **values)
{
    *values = (const char *const *)r->index_values;
    return r->index_field;
}

size_t sigma_rule_twin(const sigma_rule *r)
{
    return r->twin;
}

/* ---- matching ---- */

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Glob: WILD_ANY matches any run, WILD_ONE one byte; fold ignores ASCII case. */
static int glob_match_case(const char *p, size_t pn, const char *s, size_t sn, int fold)
{
    size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
    while (si < sn) {
        if (pi < pn && p[pi] == WILD_ANY) {
            star_p = pi++;
            star_s = si;
        } else if (pi < pn && (p[pi] == WILD_ONE || p[pi] == s[si] ||
                               (fold && lower((unsigned char)p[pi]) == lower((unsigned char)s[si])))) {
            pi++;
            si++;
        } else if (star_p != SIZE_MAX) {
            pi = star_p + 1;
            si = ++star_s;
        } else {
            return 0;
        }
    }
    while (pi < pn && p[pi] == WILD_ANY)
        pi++;
    return pi == pn;
}

/* Sigma values match case-insensitively. */
static int glob_match(const char *p, size_t pn, const char *s, size_t sn)
{
    return glob_match_case(p, pn, s, sn, 1);
}

static uint64_t load8(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* s[0..n) equals low[0..n) with s's ASCII letters lowered (low is lowered):
 * eight bytes a step, the last step overlapping the one before. */
__attribute__((always_inline)) static inline int folded_eq(const char *low, const char *s, size_t n)
{
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8)
            if (ascii_lower8(load8(s + i)) != load8(low + i))
                return 0;
        return ascii_lower8(load8(s + n - 8)) == load8(low + n - 8);
    }
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != (unsigned char)low[i])
            return 0;
    return 1;
}

/* Whether s holds low[0..n) (lowered), ignoring ASCII case: the places
 * where both its first and its last byte are (a letter as b | 0x20, which
 * only its two cases give) are found 16 at a time, the rest compared
 * there; the last 16 places overlap the ones before (masked off). */
static int folded_contains(const char *low, size_t n, const char *s, size_t sn)
{
    if (n == 0)
        return 1;
    if (sn < n)
        return 0;
    unsigned char first = (unsigned char)low[0], end = (unsigned char)low[n - 1];
    unsigned char fold_first = first >= 'a' && first <= 'z' ? 0x20 : 0;
    unsigned char fold_end = end >= 'a' && end <= 'z' ? 0x20 : 0;
    size_t places = sn - n + 1, i = 0;   /* where it could start: [0, places) */
#ifdef __SSE2__
    if (places >= 16) {
        __m128i want_first = _mm_set1_epi8((char)first), or_first = _mm_set1_epi8((char)fold_first);
        __m128i want_end = _mm_set1_epi8((char)end), or_end = _mm_set1_epi8((char)fold_end);
        for (;;) {
            unsigned skip = 0;          /* places of this step that an earlier one tried */
            if (i + 16 > places) {
                skip = (unsigned)(i + 16 - places);
                i = places - 16;
            }
            __m128i b = _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(s + i)), or_first);
            __m128i e = _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(s + i + n - 1)), or_end);
            unsigned at = (unsigned)_mm_movemask_epi8(
                _mm_and_si128(_mm_cmpeq_epi8(b, want_first), _mm_cmpeq_epi8(e, want_end)));
            at &= ~0u << skip;
            for (; at; at &= at - 1)
                if (folded_eq(low, s + i + (unsigned)__builtin_ctz(at), n))
                    return 1;
            i += 16;
            if (i >= places)
                return 0;
        }
    }
#endif
    for (; i < places; i++)
        if (((unsigned char)s[i] | fold_first) == first && folded_eq(low, s + i, n))
            return 1;
    return 0;
}

/* One pattern of a MATCH or KEYWORDS item against a value: the kind chosen
 * at compile time says which part of lows[k] is the literal. It and
 * folded_eq are inlined: every value compared runs them (measured: 3% of
 * the matching's instructions were the calls). */
__attribute__((always_inline)) static inline int pattern_matches(const item *it, size_t k, const char *s, size_t sn)
{
    const char *low = it->lows[k];
    size_t n = it->lens[k];
    switch ((enum match_kind)it->how[k]) {
    case M_EXACT:
        return sn == n && folded_eq(low, s, n);
    case M_PREFIX:
        return sn >= n - 1 && folded_eq(low, s, n - 1);
    case M_SUFFIX:
        return sn >= n - 1 && folded_eq(low + 1, s + sn - (n - 1), n - 1);
    case M_CONTAINS:
        return folded_contains(low + 1, n - 2, s, sn);
    case M_GLOB:
        break;
    }
    return glob_match(low, n, s, sn);
}

static int cidr_match(const cidr_net *net, const char *s, size_t n)
{
    char buf[64];
    unsigned char addr[16];
    if (n >= sizeof buf)
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(net->family, buf, addr) != 1)
        return 0;
    int full = net->bits / 8, rest = net->bits % 8;
    if (memcmp(addr, net->addr, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xFF << (8 - rest));
    return (addr[full] & mask) == (net->addr[full] & mask);
}

/*
 * pcre2_match needs match data it writes to, so each thread has its own:
 * made on a thread's first regex match, freed when the thread exits (the
 * key's destructor). One pair of offsets serves every pattern: only whether
 * it matched counts.
 */
static pthread_key_t match_data_key;
static pthread_once_t match_data_once = PTHREAD_ONCE_INIT;
static int match_data_key_ok;

static void match_data_free(void *md)
{
    pcre2_match_data_free(md);
}

static void match_data_key_create(void)
{
    match_data_key_ok = pthread_key_create(&match_data_key, match_data_free) == 0;
}

static pcre2_match_data *thread_match_data(void)
{
    pthread_once(&match_data_once, match_data_key_create);
    if (!match_data_key_ok)
        return NULL;
    pcre2_match_data *md = pthread_getspecific(match_data_key);
    if (md)
        return md;
    md = pcre2_match_data_create(1, NULL);
    if (md && pthread_setspecific(match_data_key, md) != 0) {
        pcre2_match_data_free(md);
        md = NULL;
    }
    return md;
}

/* A match that fails to run (a limit hit, no memory) is no match. */
static int re_match(const pcre2_code *re, const pcre2_match_context *mctx, ot_slice v)
{
    pcre2_match_data *md = thread_match_data();
    if (!md)
        return 0;
    int rc = pcre2_match(re, (PCRE2_SPTR)v.ptr, v.len, 0, 0, md, (pcre2_match_context *)mctx);
    return rc >= 0;   /* 0: matched, the offsets did not fit the one pair */
}

/* s[0..n) equals t[0..n), ignoring ASCII case (neither is lowered). */
static int both_folded_eq(const char *s, const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != lower((unsigned char)t[i]))
            return 0;
    return 1;
}

/* Whether s holds t, ignoring ASCII case: both lowered into copies and
 * searched with memmem, which is linear (both come from the event, and
 * either may be long). A copy that cannot be made is no match. */
static int both_folded_contains(ot_slice s, ot_slice t)
{
    if (t.len > s.len)
        return 0;
    char *ls = malloc(s.len + 1), *lt = malloc(t.len + 1);
    int found = 0;
    if (ls && lt) {
        for (size_t i = 0; i < s.len; i++)
            ls[i] = (char)lower((unsigned char)s.ptr[i]);
        for (size_t i = 0; i < t.len; i++)
            lt[i] = (char)lower((unsigned char)t.ptr[i]);
        found = t.len == 0 || memmem(ls, s.len, lt, t.len) != NULL;
    }
    free(ls);
    free(lt);
    return found;
}

/* fieldref: the item's field against the value of another field of the
 * same event, compared as Sigma compares values (ignoring ASCII case);
 * both must be there and not null. */
static int fieldref_matches(const item *it, size_t k, enum parse_type t, ot_slice v, parse_ctx *ev)
{
    ot_slice o;
    enum parse_type ot = parse_get(ev, it->pats[k], &o);
    if (t == PARSE_ABSENT || t == PARSE_NULL || ot == PARSE_ABSENT || ot == PARSE_NULL)
        return 0;
    switch ((enum match_kind)it->how[0]) {
    case M_EXACT:
        return v.len == o.len && both_folded_eq(v.ptr, o.ptr, o.len);
    case M_PREFIX:
        return v.len >= o.len && both_folded_eq(v.ptr, o.ptr, o.len);
    case M_SUFFIX:
        return v.len >= o.len && both_folded_eq(v.ptr + v.len - o.len, o.ptr, o.len);
    default:
        return both_folded_contains(v, o);
    }
}

static int value_matches(const item *it, const pcre2_match_context *mctx, size_t k, enum parse_type t, ot_slice v)
{
    switch (it->kind) {
    case ITEM_MATCH:
        if (!it->pats[k])
            return t == PARSE_ABSENT || t == PARSE_NULL;
        return t != PARSE_ABSENT && t != PARSE_NULL && pattern_matches(it, k, v.ptr, v.len);
    case ITEM_RE:
        if (t == PARSE_ABSENT || t == PARSE_NULL)
            return 0;
        /* a value without the literal every match holds cannot match: most
         * values are turned down here for the price of a memmem */
        if (it->re_lits[k] && !folded_contains(it->re_lits[k], it->re_lit_lens[k], v.ptr, v.len))
            return 0;
        return re_match(it->res[k], mctx, v);
    case ITEM_CIDR:
        return t == PARSE_STRING && cidr_match(&it->nets[k], v.ptr, v.len);
    default:
        return 0;
    }
}

static int item_matches(const item *it, const pcre2_match_context *mctx, parse_ctx *ev)
{
    ot_slice v;
    if (it->kind == ITEM_KEYWORDS) {
        v = parse_event_json(ev);
        for (size_t k = 0; k < it->n; k++)
            if (pattern_matches(it, k, v.ptr, v.len))
                return 1;
        return 0;
    }
    enum parse_type t = parse_get(ev, it->field, &v);
    if (it->kind == ITEM_EXISTS)
        return (t != PARSE_ABSENT) == it->exists;
    for (size_t k = 0; k < it->n; k++) {
        int m = it->kind == ITEM_FIELDREF ? fieldref_matches(it, k, t, v, ev) : value_matches(it, mctx, k, t, v);
        if (m && !it->all)
            return 1;
        if (!m && it->all)
            return 0;
    }
    return it->all && it->n > 0;
}

static int selection_matches(const sigma_rule *r, const selection *sel, parse_ctx *ev)
{
    for (size_t g = 0; g < sel->n; g++) {
        size_t i = 0;
        while (i < sel->groups[g].n && item_matches(&sel->groups[g].items[i], r->re_match, ev))
            i++;
        if (i == sel->groups[g].n)
            return 1;
    }
    return 0;
}

static int cond_eval(const sigma_rule *r, const cond *c, parse_ctx *ev);

/* An operand of an AND or OR: most are a selection, tested without a
 * level of recursion. */
static int kid_eval(const sigma_rule *r, const cond *c, parse_ctx *ev)
{
    return c->op == C_SEL ? selection_matches(r, &r->sels[c->sel], ev) : cond_eval(r, c, ev);
}

/* Recurses once a nesting level of the condition: at most MAX_DEPTH. */
static int cond_eval(const sigma_rule *r, const cond *c, parse_ctx *ev)
{
    switch (c->op) {
    case C_SEL:
        return selection_matches(r, &r->sels[c->sel], ev);
    case C_AND:   /* the cheaper operands first; all are pure */
        for (size_t i = 0; i < c->nkids; i++)
            if (!kid_eval(r, c->kids[i], ev))
                return 0;
        return 1;
    case C_OR:
        for (size_t i = 0; i < c->nkids; i++)
            if (kid_eval(r, c->kids[i], ev))
                return 1;
        return 0;
    case C_NOT:
        return !cond_eval(r, c->kids[0], ev);
    case C_ONE_OF:
        for (size_t i = 0; i < c->nsels; i++)
            if (selection_matches(r, &r->sels[c->sels[i]], ev))
                return 1;
        return 0;
    case C_ALL_OF:
        for (size_t i = 0; i < c->nsels; i++)
            if (!selection_matches(r, &r->sels[c->sels[i]], ev))
                return 0;
        return 1;
    }
    return 0;
}

int sigma_rule_matches(const sigma_rule *r, parse_ctx *ev)
{
    return kid_eval(r, r->cond, ev);
}

/* ---- compiling ---- */

typedef struct {
    sigma_set *set;
    yaml_document_t *doc;
    size_t expanded;            /* see MAX_EXPANDED */
    size_t expanded_bytes;      /* see MAX_EXPANDED_BYTES */
    size_t terms;               /* see MAX_TERMS */
    size_t term_values;         /* the values of the selections the terms name */
    char reason[256];           /* why the rule is unsupported */
} compiler;

static int unsupported(compiler *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int unsupported(compiler *c, const char *fmt, ...)
{
    if (!c->reason[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->reason, sizeof c->reason, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Counts n more things (bytes more bytes) against the rule's bounds;
 * returns -1 once they are passed. Call it before allocating for them. */
static int spend(compiler *c, size_t n, size_t bytes)
{
    c->expanded += n;
    c->expanded_bytes += bytes;
    if (c->expanded > MAX_EXPANDED || c->expanded_bytes > MAX_EXPANDED_BYTES)
        return unsupported(c, "too big: its values, lists and condition terms expand to more than %d "
                              "(or %u MiB; a YAML alias counts each time it is used)",
                           MAX_EXPANDED, MAX_EXPANDED_BYTES >> 20);
    return 0;
}

static yaml_node_t *node(compiler *c, int index)
{
    return yaml_document_get_node(c->doc, index);
}

static const char *scalar(yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *map_get(compiler *c, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const char *k = scalar(node(c, p->key));
        if (k && strcmp(k, key) == 0)
            return node(c, p->value);
    }
    return NULL;
}

/* A plain YAML null: ~, null, or nothing. */
static int is_null(yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *v = (const char *)n->data.scalar.value;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

/* A Sigma value to a pattern: unescaped * and ? become wildcards; \*, \?
 * and \\ are the characters themselves. */
static char *compile_pattern(compiler *c, const char *v, const char *pre, const char *post, size_t *len)
{
    size_t n = strlen(v);
    if (spend(c, 0, n))
        return NULL;
    char *p = set_alloc(c->set, n + 3);
    if (!p)
        return NULL;
    size_t o = 0;
    if (*pre)
        p[o++] = WILD_ANY;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '\\' && i + 1 < n && (v[i + 1] == '*' || v[i + 1] == '?' || v[i + 1] == '\\')) {
            p[o++] = v[++i];
        } else if (v[i] == '*') {
            p[o++] = WILD_ANY;
        } else if (v[i] == '?') {
            p[o++] = WILD_ONE;
        } else {
            p[o++] = v[i];
        }
    }
    if (*post)
        p[o++] = WILD_ANY;
    *len = o;
    return p;
}

/* The compared form of pattern k of it: lowered, and its kind. */
static int classify_pattern(compiler *c, item *it, size_t k)
{
    const char *p = it->pats[k];
    size_t n = it->lens[k];
    char *low = set_alloc(c->set, n + 1);
    if (!low)
        return unsupported(c, "out of memory");
    size_t wild_inside = 0;
    for (size_t i = 0; i < n; i++) {
        low[i] = (char)lower((unsigned char)p[i]);
        if ((p[i] == WILD_ANY || p[i] == WILD_ONE) && i > 0 && i + 1 < n)
            wild_inside++;
    }
    int any_first = n > 0 && p[0] == WILD_ANY, any_last = n > 1 && p[n - 1] == WILD_ANY;
    int one_end = (n > 0 && p[0] == WILD_ONE) || (n > 0 && p[n - 1] == WILD_ONE) || (n == 1 && any_first);
    enum match_kind how = M_GLOB;
    if (!wild_inside && !one_end)
        how = any_first && any_last ? M_CONTAINS : any_first ? M_SUFFIX : any_last ? M_PREFIX : M_EXACT;
    it->lows[k] = low;
    it->how[k] = (unsigned char)how;
    return 0;
}

/* Room for the compared forms of n patterns. */
static int alloc_compared(compiler *c, item *it)
{
    it->lows = set_alloc(c->set, (it->n ? it->n : 1) * sizeof *it->lows);
    it->how = set_alloc(c->set, it->n ? it->n : 1);
    return it->lows && it->how ? 0 : unsupported(c, "out of memory");
}

/* The values of a field: one scalar or a list of them. */
static int values_of(compiler *c, yaml_node_t *v, yaml_node_t ***out, size_t *n)
{
    if (v->type == YAML_SCALAR_NODE) {
        if (spend(c, 1, 0))
            return -1;
        *out = set_alloc(c->set, sizeof **out);
        if (!*out)
            return -1;
        (*out)[0] = v;
        *n = 1;
        return 0;
    }
    if (v->type != YAML_SEQUENCE_NODE)
        return unsupported(c, "a field's value is a map");
    size_t count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (spend(c, count + 1, 0))
        return -1;
    *out = set_alloc(c->set, (count ? count : 1) * sizeof **out);
    if (!*out)
        return -1;
    for (size_t i = 0; i < count; i++) {
        (*out)[i] = node(c, v->data.sequence.items.start[i]);
        if ((*out)[i]->type != YAML_SCALAR_NODE)
            return unsupported(c, "a list of values holds a list or a map");
    }
    *n = count;
    return 0;
}

static int compile_cidr(compiler *c, const char *v, cidr_net *net)
{
    char buf[64];
    const char *slash = strchr(v, '/');
    size_t alen = slash ? (size_t)(slash - v) : strlen(v);
    if (alen >= sizeof buf)
        return unsupported(c, "bad cidr '%s'", v);
    memcpy(buf, v, alen);
    buf[alen] = '\0';
    net->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
    int max = net->family == AF_INET ? 32 : 128;
    net->bits = slash ? atoi(slash + 1) : max;
    if (inet_pton(net->family, buf, net->addr) != 1 || net->bits < 0 || net->bits > max)
        return unsupported(c, "bad cidr '%s'", v);
    return 0;
}

/* field|fieldref: other.field (with contains, startswith, endswith or
 * all): each value names a field of the same event. */
static int compile_fieldref(compiler *c, item *it, yaml_node_t **vals, const char *pre, const char *post)
{
    if (it->kind != ITEM_MATCH)
        return unsupported(c, "fieldref on '%s' combines only with contains, startswith, endswith and all",
                           it->field);
    it->kind = ITEM_FIELDREF;
    it->pats = set_alloc(c->set, (it->n ? it->n : 1) * sizeof *it->pats);
    it->lens = set_alloc(c->set, (it->n ? it->n : 1) * sizeof *it->lens);
    it->how = set_alloc(c->set, 1);
    if (!it->pats || !it->lens || !it->how)
        return unsupported(c, "out of memory");
    it->how[0] = (unsigned char)(*pre && *post ? M_CONTAINS : *pre ? M_SUFFIX : *post ? M_PREFIX : M_EXACT);
    for (size_t k = 0; k < it->n; k++) {
        const char *s = scalar(vals[k]);
        if (is_null(vals[k]) || !s || !s[0])
            return unsupported(c, "fieldref on '%s' wants field names", it->field);
        if (spend(c, 0, strlen(s)))
            return -1;
        it->pats[k] = intern_field(c->set, s, strlen(s));
        if (!it->pats[k])
            return unsupported(c, "out of memory");
        it->lens[k] = strlen(s);
    }
    return 0;
}

static char *regex_required(compiler *c, const char *p, int caseless, int multiline, size_t *len);

static int compile_item(compiler *c, const char *key, yaml_node_t *v, item *it)
{
    /* field|mod|mod */
    if (spend(c, 0, strlen(key)))
        return -1;
    const char *bar = strchr(key, '|');
    it->field = intern_field(c->set, key, bar ? (size_t)(bar - key) : strlen(key));
    if (!it->field)
        return unsupported(c, "out of memory");
    const char *pre = "", *post = "";
    int fieldref = 0;
    /* UTF-8 patterns; a subject that is not valid UTF-8 just fails to match there */
    uint32_t re_flags = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C;
    it->kind = ITEM_MATCH;
    for (const char *m = bar; m; m = strchr(m + 1, '|')) {
        const char *end = strchr(m + 1, '|');
        size_t ml = end ? (size_t)(end - m - 1) : strlen(m + 1);
        char mod[32];
        if (ml >= sizeof mod)
            return unsupported(c, "unknown modifier in '%s'", key);
        memcpy(mod, m + 1, ml);
        mod[ml] = '\0';
        if (strcmp(mod, "contains") == 0) {
            pre = post = "*";
        } else if (strcmp(mod, "startswith") == 0) {
            post = "*";
        } else if (strcmp(mod, "endswith") == 0) {
            pre = "*";
        } else if (strcmp(mod, "all") == 0) {
            it->all = 1;
        } else if (strcmp(mod, "re") == 0) {
            it->kind = ITEM_RE;
        } else if (it->kind == ITEM_RE && strcmp(mod, "i") == 0) {
            re_flags |= PCRE2_CASELESS;
        } else if (it->kind == ITEM_RE && strcmp(mod, "m") == 0) {
            re_flags |= PCRE2_MULTILINE;
        } else if (it->kind == ITEM_RE && strcmp(mod, "s") == 0) {
            re_flags |= PCRE2_DOTALL;
        } else if (strcmp(mod, "exists") == 0) {
            it->kind = ITEM_EXISTS;
        } else if (strcmp(mod, "cidr") == 0) {
            it->kind = ITEM_CIDR;
        } else if (strcmp(mod, "fieldref") == 0) {
            fieldref = 1;
        } else {
            return unsupported(c, "unsupported modifier '%s' on field '%s'", mod, it->field);
        }
    }
    yaml_node_t **vals;
    if (values_of(c, v, &vals, &it->n))
        return -1;
    if (fieldref)
        return compile_fieldref(c, it, vals, pre, post);
    if (it->kind == ITEM_EXISTS) {
        const char *s = scalar(vals[0]);
        if (it->n != 1 || !s || (strcmp(s, "true") && strcmp(s, "false")))
            return unsupported(c, "exists on '%s' wants true or false", it->field);
        it->exists = strcmp(s, "true") == 0;
        return 0;
    }
    it->pats = set_alloc(c->set, (it->n ? it->n : 1) * sizeof *it->pats);
    it->lens = set_alloc(c->set, (it->n ? it->n : 1) * sizeof *it->lens);
    if (it->kind == ITEM_RE) {
        it->res = set_alloc(c->set, (it->n ? it->n : 1) * sizeof *it->res);
        it->re_lits = set_alloc(c->set, (it->n ? it->n : 1) * sizeof *it->re_lits);
        it->re_lit_lens = set_alloc(c->set, (it->n ? it->n : 1) * sizeof *it->re_lit_lens);
        if (!it->re_lits || !it->re_lit_lens)
            return unsupported(c, "out of memory");
    }
    if (it->kind == ITEM_CIDR)
        it->nets = set_alloc(c->set, (it->n ? it->n : 1) * sizeof *it->nets);
    if (!it->pats || !it->lens || (it->kind == ITEM_RE && !it->res) || (it->kind == ITEM_CIDR && !it->nets))
        return unsupported(c, "out of memory");
    if (it->kind == ITEM_MATCH && alloc_compared(c, it))
        return -1;
    for (size_t k = 0; k < it->n; k++) {
        const char *s = scalar(vals[k]);
        if (is_null(vals[k])) {
            if (it->kind != ITEM_MATCH || *pre || *post)
                return unsupported(c, "null with a modifier on '%s'", it->field);
            it->pats[k] = NULL;
            continue;
        }
        if (it->kind == ITEM_RE) {
            if (ot_grow(&c->set->regexes, &c->set->regex_cap, c->set->nregex, sizeof *c->set->regexes, 16))
                return unsupported(c, "out of memory");
            /* compiled code and JIT memory are far bigger than a value: a regex weighs more */
            if (spend(c, RE_WEIGHT, strlen(s)))
                return -1;
            int err;
            PCRE2_SIZE at;
            it->res[k] = pcre2_compile((PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, re_flags, &err, &at, NULL);
            if (!it->res[k]) {
                PCRE2_UCHAR msg[128];
                if (pcre2_get_error_message(err, msg, sizeof msg) < 0)
                    snprintf((char *)msg, sizeof msg, "error %d", err);
                return unsupported(c, "regular expression '%.80s%s': %s at offset %zu", s,
                                   strlen(s) > 80 ? "..." : "", (const char *)msg, (size_t)at);
            }
            c->set->regexes[c->set->nregex++] = it->res[k];
            it->pats[k] = set_strndup(c->set, s, strlen(s));   /* for its literal */
            if (!it->pats[k])
                return unsupported(c, "out of memory");
            it->re_flags = re_flags;
            /* none found (out of memory too): the regex alone decides */
            it->re_lits[k] = regex_required(c, s, (re_flags & PCRE2_CASELESS) != 0, (re_flags & PCRE2_MULTILINE) != 0,
                                            &it->re_lit_lens[k]);
            /* no JIT (not built in, no executable memory): the interpreter runs it */
            (void)pcre2_jit_compile(it->res[k], PCRE2_JIT_COMPLETE);
        } else if (it->kind == ITEM_CIDR) {
            if (compile_cidr(c, s, &it->nets[k]))
                return -1;
        } else {
            it->pats[k] = compile_pattern(c, s, pre, post, &it->lens[k]);
            if (!it->pats[k])
                return unsupported(c, "out of memory");
            if (classify_pattern(c, it, k))
                return -1;
        }
    }
    return 0;
}

static int compile_group(compiler *c, yaml_node_t *map, group *g)
{
    g->n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    if (spend(c, g->n + 1, 0))
        return -1;
    g->items = set_alloc(c->set, (g->n ? g->n : 1) * sizeof *g->items);
    if (!g->items)
        return unsupported(c, "out of memory");
    size_t i = 0;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++, i++) {
        const char *key = scalar(node(c, p->key));
        if (!key)
            return unsupported(c, "a selection key is not a string");
        if (compile_item(c, key, node(c, p->value), &g->items[i]))
            return -1;
    }
    return 0;
}

static int compile_keywords(compiler *c, yaml_node_t *v, group *g)
{
    g->n = 1;
    g->items = set_alloc(c->set, sizeof *g->items);
    if (!g->items)
        return unsupported(c, "out of memory");
    item *it = &g->items[0];
    it->kind = ITEM_KEYWORDS;
    yaml_node_t **vals;
    if (values_of(c, v, &vals, &it->n))
        return -1;
    it->pats = set_alloc(c->set, (it->n ? it->n : 1) * sizeof *it->pats);
    it->lens = set_alloc(c->set, (it->n ? it->n : 1) * sizeof *it->lens);
    if (!it->pats || !it->lens || alloc_compared(c, it))
        return unsupported(c, "out of memory");
    for (size_t k = 0; k < it->n; k++) {
        it->pats[k] = compile_pattern(c, scalar(vals[k]), "*", "*", &it->lens[k]);
        if (!it->pats[k])
            return unsupported(c, "out of memory");
        if (classify_pattern(c, it, k))
            return -1;
    }
    return 0;
}

/* Every item counts at least once: an exists has no values but is a test. */
static size_t selection_values(const selection *sel)
{
    size_t n = 0;
    for (size_t g = 0; g < sel->n; g++)
        for (size_t i = 0; i < sel->groups[g].n; i++)
            n += sel->groups[g].items[i].n + 1;
    return n;
}

static int compile_selection(compiler *c, const char *name, yaml_node_t *v, selection *sel)
{
    if (spend(c, 0, strlen(name)))
        return -1;
    sel->name = set_strndup(c->set, name, strlen(name));
    if (!sel->name)
        return unsupported(c, "out of memory");
    if (v->type == YAML_MAPPING_NODE) {
        sel->n = 1;
        sel->groups = set_alloc(c->set, sizeof *sel->groups);
        return sel->groups ? compile_group(c, v, &sel->groups[0]) : unsupported(c, "out of memory");
    }
    if (v->type == YAML_SCALAR_NODE) {
        sel->n = 1;
        sel->groups = set_alloc(c->set, sizeof *sel->groups);
        return sel->groups ? compile_keywords(c, v, &sel->groups[0]) : unsupported(c, "out of memory");
    }
    size_t count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (count == 0)
        return unsupported(c, "selection '%s' is an empty list", name);
    yaml_node_t *first = node(c, v->data.sequence.items.start[0]);
    if (first->type == YAML_SCALAR_NODE) {
        sel->n = 1;
        sel->groups = set_alloc(c->set, sizeof *sel->groups);
        return sel->groups ? compile_keywords(c, v, &sel->groups[0]) : unsupported(c, "out of memory");
    }
    if (spend(c, count, 0))
        return -1;
    sel->n = count;
    sel->groups = set_alloc(c->set, count * sizeof *sel->groups);
    if (!sel->groups)
        return unsupported(c, "out of memory");
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *m = node(c, v->data.sequence.items.start[i]);
        if (m->type != YAML_MAPPING_NODE)
            return unsupported(c, "selection '%s' mixes maps and values", name);
        if (compile_group(c, m, &sel->groups[i]))
            return -1;
    }
    return 0;
}

/* ---- conditions: a small recursive-descent parser ---- */

/* Recursion: parse_or -> parse_and -> parse_factor, and back to parse_or
 * only through '(' or 'not', each of which counts a level of depth. */
typedef struct {
    compiler *c;
    sigma_rule *r;
    const char *p;
    char tok[128];
    int depth;                  /* parentheses and nots open */
} cparser;

static void next_token(cparser *cp)
{
    while (*cp->p == ' ' || *cp->p == '\t' || *cp->p == '\n')
        cp->p++;
    size_t n = 0;
    if (*cp->p == '(' || *cp->p == ')' || *cp->p == '|') {
        cp->tok[n++] = *cp->p++;
    } else {
        while (*cp->p && !strchr(" \t\n()|", *cp->p) && n < sizeof cp->tok - 1)
            cp->tok[n++] = *cp->p++;
    }
    cp->tok[n] = '\0';
}

static cond *new_cond(compiler *c, enum cond_op op)
{
    cond *e = set_alloc(c->set, sizeof *e);
    if (e)
        e->op = op;
    else
        unsupported(c, "out of memory");
    return e;
}

/* A node of op over kids[0..n) (copied). */
static cond *new_kids(compiler *c, enum cond_op op, cond **kids, size_t n)
{
    cond *e = new_cond(c, op);
    if (!e)
        return NULL;
    e->kids = set_alloc(c->set, n * sizeof *e->kids);
    if (!e->kids) {
        unsupported(c, "out of memory");
        return NULL;
    }
    memcpy(e->kids, kids, n * sizeof *kids);
    e->nkids = n;
    return e;
}

/* One more term (a selection name or a quantifier) naming selections of
 * `values` values in all. */
static int count_term(compiler *c, size_t values)
{
    if (++c->terms > MAX_TERMS)
        return unsupported(c, "condition: more than %d terms", MAX_TERMS);
    c->term_values += values;
    if (c->term_values > MAX_EXPANDED)
        return unsupported(c, "condition: its terms name selections of more than %d values in all",
                           MAX_EXPANDED);
    return 0;
}

static int enter(cparser *cp)
{
    if (++cp->depth > MAX_DEPTH)
        return unsupported(cp->c, "condition: nested deeper than %d levels of parentheses and 'not'", MAX_DEPTH);
    return 0;
}

/* A selection name against a pattern of "1 of X*": case-sensitive, * wild. */
static int name_matches(const char *pattern, const char *name)
{
    char buf[128];
    size_t n = strlen(pattern);
    if (n >= sizeof buf)
        return 0;
    for (size_t i = 0; i < n; i++)
        buf[i] = pattern[i] == '*' ? WILD_ANY : pattern[i];
    return glob_match_case(buf, n, name, strlen(name), 0);
}

static cond *parse_or(cparser *cp);

static cond *parse_factor(cparser *cp)
{
    if (strcmp(cp->tok, "not") == 0) {
        if (enter(cp))
            return NULL;
        next_token(cp);
        cond *a = parse_factor(cp);
        cp->depth--;
        return a ? new_kids(cp->c, C_NOT, &a, 1) : NULL;
    }
    if (strcmp(cp->tok, "(") == 0) {
        if (enter(cp))
            return NULL;
        next_token(cp);
        cond *a = parse_or(cp);
        cp->depth--;
        if (!a)
            return NULL;
        if (strcmp(cp->tok, ")") != 0) {
            unsupported(cp->c, "condition: missing ')'");
            return NULL;
        }
        next_token(cp);
        return a;
    }
    if (strcmp(cp->tok, "1") == 0 || strcmp(cp->tok, "all") == 0 || strcmp(cp->tok, "any") == 0) {
        enum cond_op op = strcmp(cp->tok, "all") == 0 ? C_ALL_OF : C_ONE_OF;
        next_token(cp);
        if (strcmp(cp->tok, "of") != 0) {
            unsupported(cp->c, "condition: expected 'of' after a quantifier");
            return NULL;
        }
        next_token(cp);
        const char *pattern = strcmp(cp->tok, "them") == 0 ? "*" : cp->tok;
        cond *c = new_cond(cp->c, op);
        if (!c || !(c->sels = set_alloc(cp->c->set, (cp->r->nsels ? cp->r->nsels : 1) * sizeof *c->sels)))
            return NULL;
        size_t values = 0;
        for (size_t i = 0; i < cp->r->nsels; i++)
            if (name_matches(pattern, cp->r->sels[i].name) &&
                (strcmp(cp->tok, "them") != 0 || cp->r->sels[i].name[0] != '_')) {
                c->sels[c->nsels++] = i;
                values += cp->r->sels[i].values;
            }
        if (c->nsels == 0) {
            unsupported(cp->c, "condition: no selection matches '%s'", cp->tok);
            return NULL;
        }
        if (count_term(cp->c, values))
            return NULL;
        next_token(cp);
        return c;
    }
    if (!cp->tok[0] || strcmp(cp->tok, ")") == 0 || strcmp(cp->tok, "and") == 0 || strcmp(cp->tok, "or") == 0) {
        unsupported(cp->c, "condition: unexpected '%s'", cp->tok[0] ? cp->tok : "end");
        return NULL;
    }
    if (strcmp(cp->tok, "|") == 0) {
        unsupported(cp->c, "condition: aggregations ('| count()' and the like) are not supported");
        return NULL;
    }
    for (size_t i = 0; i < cp->r->nsels; i++) {
        if (strcmp(cp->r->sels[i].name, cp->tok) == 0) {
            if (count_term(cp->c, cp->r->sels[i].values))
                return NULL;
            cond *c = new_cond(cp->c, C_SEL);
            if (c)
                c->sel = i;
            next_token(cp);
            return c;
        }
    }
    unsupported(cp->c, "condition names an unknown selection '%s'", cp->tok);
    return NULL;
}

/* A chain `sub word sub word ...` as one n-ary node: a long flat chain
 * costs no recursion. */
static cond *parse_chain(cparser *cp, cond *(*sub)(cparser *), const char *word, enum cond_op op)
{
    cond *first = sub(cp);
    if (!first || strcmp(cp->tok, word) != 0)
        return first;
    size_t n = 0, cap = 8;
    cond **kids = malloc(cap * sizeof *kids), *e = NULL;
    if (!kids) {
        unsupported(cp->c, "out of memory");
        return NULL;
    }
    kids[n++] = first;
    while (strcmp(cp->tok, word) == 0) {
        next_token(cp);
        cond *b = sub(cp);
        if (!b)
            goto out;
        if (n == cap) {
            cond **k = realloc(kids, 2 * cap * sizeof *k);
            if (!k) {
                unsupported(cp->c, "out of memory");
                goto out;
            }
            kids = k;
            cap *= 2;
        }
        kids[n++] = b;
    }
    e = new_kids(cp->c, op, kids, n);
out:
    free(kids);
    return e;
}

static cond *parse_and(cparser *cp)
{
    return parse_chain(cp, parse_factor, "and", C_AND);
}

static cond *parse_or(cparser *cp)
{
    return parse_chain(cp, parse_and, "or", C_OR);
}

static cond *compile_condition(compiler *c, sigma_rule *r, const char *text)
{
    cparser cp = { .c = c, .r = r, .p = text };
    next_token(&cp);
    cond *e = parse_or(&cp);
    if (e && cp.tok[0]) {
        if (strcmp(cp.tok, "|") == 0)
            unsupported(c, "condition: aggregations ('| count()' and the like) are not supported");
        else
            unsupported(c, "condition: unexpected '%s'", cp.tok);
        return NULL;
    }
    return e;
}

/* ---- evaluation order: regexes and keyword searches last ---- */

/* A regex with a literal for each value runs only where a folded search
 * finds it: it costs about that search. */
static unsigned item_cost(const item *it)
{
    int searched = it->kind == ITEM_RE;
    for (size_t k = 0; searched && k < it->n; k++)
        searched = it->re_lits[k] != NULL;
    unsigned per = searched ? 2
                   : it->kind == ITEM_RE || it->kind == ITEM_KEYWORDS ? 50
                   : it->kind == ITEM_CIDR ? 3
                                             : 1;
    return per * (unsigned)(it->n ? it->n : 1);
}

static int by_cost(const void *x, const void *y)
{
    unsigned a = item_cost(x), b = item_cost(y);
    return a < b ? -1 : a > b;
}

/* Sorts each AND group cheapest first and returns the selection's cost. */
static unsigned selection_cost(selection *sel)
{
    unsigned cost = 0;
    for (size_t g = 0; g < sel->n; g++) {
        qsort(sel->groups[g].items, sel->groups[g].n, sizeof *sel->groups[g].items, by_cost);
        for (size_t i = 0; i < sel->groups[g].n; i++)
            cost += item_cost(&sel->groups[g].items[i]);
    }
    return cost;
}

static int by_cond_cost(const void *x, const void *y)
{
    uint64_t a = (*(cond *const *)x)->cost, b = (*(cond *const *)y)->cost;
    return a < b ? -1 : a > b;
}

/* Sets the costs and sorts each AND and OR cheapest first (recursing once
 * a level: at most MAX_DEPTH). */
static uint64_t cond_cost(sigma_rule *r, cond *c, const unsigned *sel_cost)
{
    switch (c->op) {
    case C_SEL:
        c->cost = sel_cost[c->sel];
        break;
    case C_AND:
    case C_OR:
    case C_NOT:
        c->cost = 0;
        for (size_t i = 0; i < c->nkids; i++)
            c->cost += cond_cost(r, c->kids[i], sel_cost);
        qsort(c->kids, c->nkids, sizeof *c->kids, by_cond_cost);
        break;
    case C_ONE_OF:
    case C_ALL_OF:
        c->cost = 0;
        for (size_t i = 0; i < c->nsels; i++)
            c->cost += sel_cost[c->sels[i]];
        break;
    }
    return c->cost;
}

/* ---- needles: literals every match must contain ---- */

typedef struct {
    char **v;
    size_t n;
    size_t cap;                 /* of v when this set owns it (either() appends); 0: v is shared */
    int none;                   /* no literal can be required */
    int service_wide;           /* from a broad field, e.g. eventSource: every call to a service has it */
} needle_set;

static int safe_byte(unsigned char ch)
{
    /* bytes that stand as themselves in raw JSON text */
    return ch >= 0x20 && ch < 0x7F && ch != '"' && ch != '\\';
}

/* The longest run of plain bytes in a pattern; at its start (no wildcard
 * before it) it gains the opening quote of the JSON string. */
static char *pattern_literal(compiler *c, const char *p, size_t n)
{
    size_t best = 0, best_len = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && safe_byte((unsigned char)p[j]))
            j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j + 1;
    }
    if (best_len < MIN_NEEDLE)
        return NULL;
    /* The opening quote only where the value must be a JSON string: a value
     * like false or 42, or a pattern such as false* or 4?2 that such a text
     * can match, may be a boolean or a number in the event. */
    int scalar_like = best == 0 &&
                      ((best_len <= 4 && strncasecmp(p, "true", best_len) == 0) ||
                       (best_len <= 5 && strncasecmp(p, "false", best_len) == 0) ||
                       (best_len <= 4 && strncasecmp(p, "null", best_len) == 0) ||
                       strspn(p, "0123456789+-.eE") >= best_len);
    int quoted = best == 0 && !scalar_like;
    /* The prefilter takes needles of at most NEEDLE_MAX bytes: a record
     * holding the literal holds its first bytes too (with the quote, which
     * anchors best), and the rule's full match confirms the rest. */
    if (best_len > NEEDLE_MAX - (size_t)quoted)
        best_len = NEEDLE_MAX - (size_t)quoted;
    char *lit = set_alloc(c->set, best_len + 2);
    if (!lit)
        return NULL;
    if (quoted)
        lit[0] = '"';
    memcpy(lit + quoted, p + best, best_len);
    return lit;
}

/*
 * ---- literals from regexes ----
 *
 * The longest run of bytes every match of a PCRE2 pattern must contain, as
 * ripgrep and Hyperscan find them, but only the simple, certain case: a
 * top-level sequence of atoms, where a literal byte counts when no
 * quantifier makes it optional; groups, classes, dots and anchors end a run
 * (their contents are not needed). Anything not understood for sure gives
 * up (NULL: the rule stays unanchored, which is correct, only slower): a
 * top-level |, escapes with arguments (\x41, \1, \p{..}, \Q..\E), option
 * settings other than a leading (?i), extended mode.
 *
 * Case: a case-sensitive pattern's literal is still searched ignoring case
 * (what every needle does), which finds a superset. A caseless one breaks
 * runs at k and s: in UTF mode PCRE2 matches them with the Kelvin sign and
 * the long s, which the raw bytes would spell differently.
 */

typedef struct {
    char run[NEEDLE_MAX];       /* the run being read (at most NEEDLE_MAX bytes kept) */
    size_t len;                 /* bytes in run, past NEEDLE_MAX only counted */
    char best[NEEDLE_MAX + 1];  /* NUL-terminated (pattern_literal and strspn read it) */
    size_t best_len;
    int run_first;              /* the run starts the value (right after a leading ^) */
    int best_first;
} re_runs;

static void re_end_run(re_runs *rr)
{
    size_t kept = rr->len < NEEDLE_MAX ? rr->len : NEEDLE_MAX;
    if (kept > rr->best_len) {
        memcpy(rr->best, rr->run, kept);
        rr->best_len = kept;
        rr->best_first = rr->run_first;
    }
    rr->len = 0;
    rr->run_first = 0;
}

/* Past a {n}, {n,}, {n,m} or {,m} quantifier at p[*i] == '{': 1 with
 * *i moved past it and *min its minimum (0 when unsure), or 0 when PCRE2
 * reads the brace as a literal byte. */
static int re_brace_quantifier(const char *p, size_t *i, unsigned long *min)
{
    size_t j = *i + 1, digits = 0;
    unsigned long m = 0;
    while (p[j] >= '0' && p[j] <= '9') {
        m = m < 100000 ? m * 10 + (unsigned long)(p[j] - '0') : m;
        j++;
        digits++;
    }
    size_t after_comma = 0;
    if (p[j] == ',') {
        j++;
        while (p[j] >= '0' && p[j] <= '9') {
            j++;
            after_comma++;
        }
    }
    if (p[j] == '}' && (digits || after_comma)) {
        *i = j + 1;
        *min = m;
        return 1;
    }
    /* PCRE2 10.43 also reads spaces inside the braces ({ 2 }, {1, 3}) as
     * a quantifier, 10.42 as bytes: either way nothing in it is required */
    for (j = *i + 1, digits = 0; (p[j] >= '0' && p[j] <= '9') || p[j] == ' ' || p[j] == ','; j++)
        digits += p[j] >= '0' && p[j] <= '9';
    if (p[j] != '}' || !digits)
        return 0;
    *i = j + 1;
    *min = 0;
    return 1;
}

/* Past the quantifier at p[*i], if any (and its lazy or possessive mark).
 * Returns -1: none there; 0: the atom before it may occur zero times; 1:
 * at least once. */
static int re_quantifier(const char *p, size_t *i)
{
    int at_least_once;
    unsigned long min;
    if (p[*i] == '*' || p[*i] == '?') {
        at_least_once = 0;
        (*i)++;
    } else if (p[*i] == '+') {
        at_least_once = 1;
        (*i)++;
    } else if (p[*i] == '{' && re_brace_quantifier(p, i, &min)) {
        at_least_once = min > 0;
    } else {
        return -1;
    }
    if (p[*i] == '?' || p[*i] == '+')
        (*i)++;
    return at_least_once;
}

/* Past the class at p[*i] == '['. Returns 0, or -1 when it does not end. */
static int re_skip_class(const char *p, size_t *i)
{
    size_t j = *i + 1;
    if (p[j] == '^')
        j++;
    if (p[j] == ']')
        j++;
    for (; p[j] && p[j] != ']'; j++) {
        if (p[j] == '\\' && p[j + 1]) {
            j++;
        } else if (p[j] == '[' && p[j + 1] == ':') {   /* [:alpha:] */
            const char *end = strstr(p + j + 2, ":]");
            if (!end)
                return -1;
            j = (size_t)(end - p) + 1;
        }
    }
    if (!p[j])
        return -1;
    *i = j + 1;
    return 0;
}

/* Past the group at p[*i] == '(' (nested groups and classes in it).
 * Returns 0, or -1 for what this reader does not follow: an option
 * setting such as (?i) or (?x:...), a comment, or no closing parenthesis. */
static int re_skip_group(const char *p, size_t *i)
{
    if (p[*i + 1] == '?' && (strchr("imnsxJU-^#", p[*i + 2]) || p[*i + 2] == '\0'))
        return -1;
    size_t j = *i + 1;
    int depth = 1;
    while (p[j] && depth > 0) {
        if (p[j] == '\\') {
            if (p[j + 1] == 'Q' || p[j + 1] == '\0')
                return -1;
            j += 2;
        } else if (p[j] == '[') {
            if (re_skip_class(p, &j))
                return -1;
        } else {
            if (p[j] == '(' && p[j + 1] == '?' && strchr("imnsxJU-^#", p[j + 2]))
                return -1;
            depth += p[j] == '(' ? 1 : p[j] == ')' ? -1 : 0;
            j++;
        }
    }
    if (depth > 0)
        return -1;
    *i = j;
    return 0;
}

/* Escapes that stand for one of a set of bytes, or a position, and take
 * no argument. */
static int re_plain_escape(char e)
{
    return e && strchr("dDwWsShHvVRXbBAzZGKntrfea", e) != NULL;
}

/* The longest run every match holds, in rr->best (rr->best_len 0: none
 * known, or p is not read for sure). caseless: |i; multiline: |m. */
static void regex_run(const char *p, int caseless, int multiline, re_runs *rr_out)
{
    re_runs rr = { .len = 0 };
    *rr_out = rr;                      /* until the whole pattern is read */
    size_t i = 0;
    if (strncmp(p, "(?i)", 4) == 0) {
        caseless = 1;
        i = 4;
    }
    if (p[i] == '^' && !multiline) {
        rr.run_first = 1;
        i++;
    }
    while (p[i]) {
        char ch = p[i];
        int literal = -1;              /* the byte an atom stands for, if one */
        if (ch == '\\') {
            char e = p[i + 1];
            if (e && !((e >= '0' && e <= '9') || (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z'))) {
                literal = (unsigned char)e;
            } else if (!re_plain_escape(e)) {
                return;
            }
            i += 2;
        } else if (ch == '[') {
            if (re_skip_class(p, &i))
                return;
        } else if (ch == '(') {
            if (re_skip_group(p, &i))
                return;
        } else if (ch == '|' || ch == ')') {
            return;
        } else if (ch == '*' || ch == '+' || ch == '?' ||
                   (ch == '{' && re_quantifier(p, &(size_t){ i }) >= 0)) {
            return;               /* a quantifier with nothing before it */
        } else {
            i++;
            if (ch != '.' && ch != '^' && ch != '$')
                literal = (unsigned char)ch;
        }
        int once = re_quantifier(p, &i);
        int keep = literal >= 0 && safe_byte((unsigned char)literal) &&
                   !(caseless && strchr("kKsS", literal)) && once != 0;
        if (!keep) {
            re_end_run(&rr);
            continue;
        }
        if (rr.len < NEEDLE_MAX)
            rr.run[rr.len] = (char)literal;
        rr.len++;
        if (once == 1)                 /* repeated: what follows is not next to it for sure */
            re_end_run(&rr);
    }
    re_end_run(&rr);
    *rr_out = rr;
}

/* What the matcher looks for before it runs the regex: the run, lowered
 * (found ignoring case, which holds for a case-sensitive pattern too), of
 * any length and digits too (the regex and the look run on the same text),
 * or NULL with *len 0. */
static char *regex_required(compiler *c, const char *p, int caseless, int multiline, size_t *len)
{
    re_runs rr;
    regex_run(p, caseless, multiline, &rr);
    *len = 0;
    if (rr.best_len == 0)
        return NULL;
    char *lit = set_alloc(c->set, rr.best_len + 1);
    if (!lit)
        return NULL;
    for (size_t i = 0; i < rr.best_len; i++)
        lit[i] = (char)lower((unsigned char)rr.best[i]);
    *len = rr.best_len;
    return lit;
}

/* The needle of a regex, or NULL: see above. A leading ^ (not multi-line)
 * makes the run after it the value's start, which gains the JSON string's
 * opening quote as startswith does. */
static char *regex_literal(compiler *c, const char *p, int caseless, int multiline)
{
    re_runs rr;
    regex_run(p, caseless, multiline, &rr);
    /* a number's text in the event is reformatted (minified): digits do not anchor */
    if (rr.best_len < MIN_NEEDLE || strspn(rr.best, "0123456789+-.eE") >= rr.best_len)
        return NULL;
    if (rr.best_first)                 /* the value begins with it: as a startswith pattern */
        return pattern_literal(c, rr.best, rr.best_len);
    char *lit = set_alloc(c->set, rr.best_len + 1);
    if (lit)
        memcpy(lit, rr.best, rr.best_len);
    return lit;
}

/* Fields whose values many records share: their literals anchor poorly. */
static int broad_field(const char *field)
{
    static const char *const broad[] = { "eventSource", "userIdentity.type", "awsRegion", "eventType",
                                         "eventCategory", "recipientAccountId", "readOnly", "eventVersion" };
    for (size_t i = 0; i < sizeof broad / sizeof broad[0]; i++)
        if (strcasecmp(field, broad[i]) == 0)
            return 1;
    return 0;
}

static needle_set item_needles(compiler *c, const item *it, const char *field)
{
    (void)field;
    needle_set out = { 0 };
    if (it->kind != ITEM_MATCH && it->kind != ITEM_KEYWORDS && it->kind != ITEM_RE) {
        out.none = 1;
        return out;
    }
    out.v = set_alloc(c->set, (it->n ? it->n : 1) * sizeof *out.v);
    if (!out.v) {
        out.none = 1;
        return out;
    }
    for (size_t k = 0; k < it->n; k++) {
        char *lit = it->kind == ITEM_RE ? regex_literal(c, it->pats[k], (it->re_flags & PCRE2_CASELESS) != 0,
                                                        (it->re_flags & PCRE2_MULTILINE) != 0)
                    : it->pats[k]      ? pattern_literal(c, it->pats[k], it->lens[k])
                                       : NULL;
        if (it->all) {                  /* each value must be there: one literal is enough */
            if (lit) {
                out.v[0] = lit;
                out.n = 1;
                return out;
            }
            continue;
        }
        if (!lit) {
            out.none = 1;
            return out;
        }
        out.v[out.n++] = lit;
    }
    out.none = out.n == 0 || out.n > MAX_RULE_NEEDLES;
    out.service_wide = it->field && broad_field(it->field);
    return out;
}

/* A broad field's one literal is in every call to a service (thousands a
 * file); up to this many literals of other fields (eventNames) are rarer,
 * even together. */
#define RARER_THAN_BROAD 32

/* Of two requirements both of which hold, the one that anchors better:
 * not from a broad field (eventSource is shared by every call to a
 * service) unless the other needs more than RARER_THAN_BROAD alternatives,
 * then fewer alternatives, then longer ones. */
static needle_set better(needle_set a, needle_set b)
{
    if (a.none)
        return b;
    if (b.none)
        return a;
    if (a.service_wide != b.service_wide) {
        needle_set narrow = a.service_wide ? b : a, broad = a.service_wide ? a : b;
        return narrow.n <= RARER_THAN_BROAD || narrow.n <= broad.n ? narrow : broad;
    }
    if (a.n != b.n)
        return a.n < b.n ? a : b;
    size_t la = 0, lb = 0;
    for (size_t i = 0; i < a.n; i++)
        la += strlen(a.v[i]);
    for (size_t i = 0; i < b.n; i++)
        lb += strlen(b.v[i]);
    return la >= lb ? a : b;
}

/* Either of two requirements holds: a record must contain one of all. a's
 * list grows in place (doubling, so a long OR chain stays linear), without
 * the literals it has already (Sigma ignores case); past MAX_RULE_NEEDLES
 * alternatives nothing is required. */
static needle_set either(compiler *c, needle_set a, needle_set b)
{
    needle_set none = { .none = 1 };
    if (a.none || b.none)
        return none;
    for (size_t i = 0; i < b.n; i++) {
        size_t k = 0;
        while (k < a.n && strcasecmp(a.v[k], b.v[i]) != 0)
            k++;
        if (k < a.n)
            continue;
        if (a.n == MAX_RULE_NEEDLES)
            return none;
        if (a.n >= a.cap) {   /* full, or not ours (cap 0) */
            size_t cap = a.n < 8 ? 16 : 2 * a.n;
            char **v = set_alloc(c->set, cap * sizeof *v);
            if (!v)
                return none;
            memcpy(v, a.v, a.n * sizeof *v);
            a.v = v;
            a.cap = cap;
        }
        a.v[a.n++] = b.v[i];
    }
    a.service_wide = 0;   /* as a whole it is not one broad field's */
    return a;
}

/* ---- index keys: the values a field must equal in every match ---- */

/* An item comparing field with plain values (no wildcard, no modifier):
 * one of them is the field's value in every event the item matches. */
static needle_set item_keys(compiler *c, const item *it, const char *field)
{
    (void)c;
    needle_set none = { .none = 1 };
    if (it->kind != ITEM_MATCH || it->field != field || it->n == 0 || (it->all && it->n > 1))
        return none;
    for (size_t k = 0; k < it->n; k++)
        if (!it->pats[k] || it->how[k] != M_EXACT || memchr(it->pats[k], '\0', it->lens[k]))
            return none;
    return (needle_set){ .v = it->pats, .n = it->n };
}

/* Of two key sets both of which hold, the one with fewer values. */
static needle_set fewer(needle_set a, needle_set b)
{
    if (a.none)
        return b;
    if (b.none || a.n <= b.n)
        return a;
    return b;
}

/* ---- what a condition requires, of either kind ---- */

/* What one item requires (needles or keys of field), and which of two
 * requirements that both hold to keep. */
typedef struct {
    needle_set (*item)(compiler *c, const item *it, const char *field);
    needle_set (*both)(needle_set a, needle_set b);
    const char *field;
} requirement;

static const requirement needles_req = { item_needles, better, NULL };

static needle_set selection_reqs(compiler *c, const selection *sel, const requirement *q)
{
    needle_set out = { .none = 1 };
    for (size_t g = 0; g < sel->n; g++) {
        needle_set best = { .none = 1 };
        for (size_t i = 0; i < sel->groups[g].n; i++)
            best = q->both(best, q->item(c, &sel->groups[g].items[i], q->field));
        out = g == 0 ? best : either(c, out, best);
        if (out.none)
            return out;
    }
    return out;
}

/* Recurses once a nesting level of the condition: at most MAX_DEPTH. */
static needle_set cond_reqs(compiler *c, const sigma_rule *r, const cond *e, const requirement *q)
{
    needle_set none = { .none = 1 };
    switch (e->op) {
    case C_SEL:
        return selection_reqs(c, &r->sels[e->sel], q);
    case C_AND: {
        needle_set out = none;
        for (size_t i = 0; i < e->nkids; i++)
            out = q->both(out, cond_reqs(c, r, e->kids[i], q));
        return out;
    }
    case C_OR: {
        needle_set out = cond_reqs(c, r, e->kids[0], q);
        for (size_t i = 1; i < e->nkids && !out.none; i++)
            out = either(c, out, cond_reqs(c, r, e->kids[i], q));
        return out;
    }
    case C_NOT:
        return none;
    case C_ONE_OF: {
        needle_set out = selection_reqs(c, &r->sels[e->sels[0]], q);
        for (size_t i = 1; i < e->nsels && !out.none; i++)
            out = either(c, out, selection_reqs(c, &r->sels[e->sels[i]], q));
        return out;
    }
    case C_ALL_OF: {
        needle_set out = none;
        for (size_t i = 0; i < e->nsels; i++)
            out = q->both(out, selection_reqs(c, &r->sels[e->sels[i]], q));
        return out;
    }
    }
    return none;
}

/* A set's literals as a NULL-terminated list (empty when none). */
static char **reqs_list(compiler *c, needle_set ns)
{
    char **list = set_alloc(c->set, ((ns.none ? 0 : ns.n) + 1) * sizeof *list);
    for (size_t i = 0; list && !ns.none && i < ns.n; i++)
        list[i] = ns.v[i];
    return list;
}

/* ---- twins: rules with the same detection ---- */

/* Earlier rules find_twin compares a rule with (SigmaHQ's rules and their
 * copies in suzaku-rules lie a few hundred apart). */
#define TWIN_WINDOW 4096

static uint64_t shape_mix(uint64_t h, uint64_t v)
{
    return (h ^ v) * 0x100000001B3ULL;   /* FNV-1a's prime */
}

static uint64_t shape_bytes(uint64_t h, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = shape_mix(h, (unsigned char)p[i]);
    return shape_mix(h, n);
}

/* A hash of what same_detection compares of the selections (not the
 * condition): rules of one shape are twins but for a collision, so that
 * each new rule is compared in full with hardly any other. */
static uint64_t rule_shape(const sigma_rule *r)
{
    uint64_t h = shape_mix(FNV_OFFSET, r->nsels);
    for (size_t s = 0; s < r->nsels; s++) {
        h = shape_mix(h, r->sels[s].n);
        for (size_t g = 0; g < r->sels[s].n; g++)
            for (size_t i = 0; i < r->sels[s].groups[g].n; i++) {
                const item *it = &r->sels[s].groups[g].items[i];
                h = shape_mix(shape_mix(shape_mix(h, (uintptr_t)it->field), it->kind), it->n);
                h = shape_mix(shape_mix(shape_mix(h, (uint64_t)it->all), (uint64_t)it->exists), it->re_flags);
                for (size_t k = 0; k < it->n; k++)
                    if (it->kind == ITEM_MATCH || it->kind == ITEM_KEYWORDS)
                        h = it->pats[k] ? shape_bytes(h, it->pats[k], it->lens[k]) : shape_mix(h, 1);
                    else if (it->kind == ITEM_RE)
                        h = shape_bytes(h, it->pats[k], strlen(it->pats[k]));
                    else if (it->kind == ITEM_FIELDREF)
                        h = shape_mix(h, (uintptr_t)it->pats[k]);
            }
    }
    return h;
}

static int same_item(const item *a, const item *b)
{
    if (a->field != b->field || a->kind != b->kind || a->all != b->all || a->n != b->n ||
        a->exists != b->exists || a->re_flags != b->re_flags)
        return 0;
    if (a->kind == ITEM_FIELDREF && a->how[0] != b->how[0])
        return 0;
    for (size_t k = 0; k < a->n; k++) {
        switch (a->kind) {
        case ITEM_MATCH:
        case ITEM_KEYWORDS:
            if (!a->pats[k] != !b->pats[k] ||
                (a->pats[k] && (a->lens[k] != b->lens[k] || a->how[k] != b->how[k] ||
                                memcmp(a->pats[k], b->pats[k], a->lens[k]) != 0)))
                return 0;
            break;
        case ITEM_FIELDREF:            /* interned */
            if (a->pats[k] != b->pats[k])
                return 0;
            break;
        case ITEM_RE:
            if (strcmp(a->pats[k], b->pats[k]) != 0)
                return 0;
            break;
        case ITEM_CIDR:
            if (a->nets[k].family != b->nets[k].family || a->nets[k].bits != b->nets[k].bits ||
                memcmp(a->nets[k].addr, b->nets[k].addr, sizeof a->nets[k].addr) != 0)
                return 0;
            break;
        case ITEM_EXISTS:
            break;
        }
    }
    return 1;
}

/* Recurses once a nesting level of the condition: at most MAX_DEPTH. */
static int same_cond(const cond *a, const cond *b)
{
    if (a->op != b->op || a->nkids != b->nkids || a->nsels != b->nsels || (a->op == C_SEL && a->sel != b->sel))
        return 0;
    for (size_t i = 0; i < a->nsels; i++)
        if (a->sels[i] != b->sels[i])
            return 0;
    for (size_t i = 0; i < a->nkids; i++)
        if (!same_cond(a->kids[i], b->kids[i]))
            return 0;
    return 1;
}

/* Whether a and b match the same events: the same compiled detection
 * (items compared value by value; an order that differs only makes them
 * not twins, which costs time, not matches). */
static int same_detection(const sigma_rule *a, const sigma_rule *b)
{
    if (a->shape != b->shape || a->nsels != b->nsels || !same_cond(a->cond, b->cond))
        return 0;
    for (size_t s = 0; s < a->nsels; s++) {
        if (a->sels[s].n != b->sels[s].n)
            return 0;
        for (size_t g = 0; g < a->sels[s].n; g++) {
            const group *ga = &a->sels[s].groups[g], *gb = &b->sels[s].groups[g];
            if (ga->n != gb->n)
                return 0;
            for (size_t i = 0; i < ga->n; i++)
                if (!same_item(&ga->items[i], &gb->items[i]))
                    return 0;
        }
    }
    return 1;
}

/* r's twin: the nearest of the last TWIN_WINDOW rules of the set with the
 * same detection, whose match a record's evaluation can reuse. */
static void find_twin(compiler *c, sigma_rule *r)
{
    const sigma_set *s = c->set;
    r->shape = rule_shape(r);
    r->twin = SIZE_MAX;
    for (size_t j = s->n; j-- > 0 && s->n - j <= TWIN_WINDOW;)
        if (same_detection(s->rules[j], r)) {
            r->twin = s->rules[j]->twin != SIZE_MAX ? s->rules[j]->twin : j;
            return;
        }
}

/* How many other fields index_rule weighs for a rule that requires no
 * eventName nor eventSource (each costs a walk of the condition). */
#define INDEX_OTHER_FIELDS 8

/* The fields of the rule's plain-valued items, the first max of them,
 * each once. */
static size_t keyed_fields(const sigma_rule *r, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t s = 0; s < r->nsels; s++)
        for (size_t g = 0; g < r->sels[s].n; g++)
            for (size_t i = 0; i < r->sels[s].groups[g].n && n < max; i++) {
                const item *it = &r->sels[s].groups[g].items[i];
                size_t k = 0;
                if (it->kind != ITEM_MATCH || !it->field)
                    continue;
                while (k < n && out[k] != it->field)
                    k++;
                if (k == n)
                    out[n++] = it->field;
            }
    return n;
}

/* The rule's index: eventName's keys, else eventSource's, else the keys of
 * the field among the next few that needs the fewest, else none; and its
 * twin. */
static int index_rule(compiler *c, sigma_rule *r)
{
    static const char *const fields[] = { "eventName", "eventSource" };
    find_twin(c, r);
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        char *field = intern_field(c->set, fields[f], strlen(fields[f]));
        if (!field)
            return unsupported(c, "out of memory");
        requirement keys = { item_keys, fewer, field };
        needle_set ns = cond_reqs(c, r, r->cond, &keys);
        if (!ns.none) {
            r->index_field = field;
            r->index_values = reqs_list(c, ns);
            return r->index_values ? 0 : unsupported(c, "out of memory");
        }
    }
    const char *other[INDEX_OTHER_FIELDS];
    size_t nother = keyed_fields(r, other, INDEX_OTHER_FIELDS);
    needle_set best = { .none = 1 };
    const char *best_field = NULL;
    for (size_t f = 0; f < nother; f++) {
        requirement keys = { item_keys, fewer, other[f] };
        needle_set ns = cond_reqs(c, r, r->cond, &keys);
        if (!ns.none && (best.none || ns.n < best.n)) {
            best = ns;
            best_field = other[f];
        }
    }
    if (best.none)
        return 0;
    r->index_field = best_field;
    r->index_values = reqs_list(c, best);
    return r->index_values ? 0 : unsupported(c, "out of memory");
}

/* ---- rules ---- */

static int level_of(const char *s)
{
    static const char *const names[] = { "informational", "low", "medium", "high", "critical" };
    for (int i = 0; i < 5; i++)
        if (s && strcasecmp(s, names[i]) == 0)
            return i;
    return -1;
}

static char *copy_scalar(compiler *c, yaml_node_t *n)
{
    const char *s = scalar(n);
    return s && !spend(c, 0, strlen(s)) ? set_strndup(c->set, s, strlen(s)) : NULL;
}

static int add_rule(sigma_set *s, sigma_rule *r)
{
    if (ot_grow(&s->rules, &s->cap, s->n, sizeof *s->rules, 16))
        return -1;
    s->rules[s->n++] = r;
    return 0;
}

/* Compiles one document. Returns SIGMA_* and, for SKIPPED/UNSUPPORTED, a reason. */
static sigma_status compile_rule(compiler *c, yaml_node_t *root, sigma_rule **out)
{
    if (!root || root->type != YAML_MAPPING_NODE)
        return unsupported(c, "not a Sigma rule (the document is not a map)"), SIGMA_UNSUPPORTED;
    sigma_rule *r = set_alloc(c->set, sizeof *r);
    if (!r)
        return unsupported(c, "out of memory"), SIGMA_UNSUPPORTED;
    *out = r;
    r->title = copy_scalar(c, map_get(c, root, "title"));
    r->id = copy_scalar(c, map_get(c, root, "id"));
    r->description = copy_scalar(c, map_get(c, root, "description"));
    r->name = copy_scalar(c, map_get(c, root, "name"));
    if (!r->title)
        return unsupported(c, "no title"), SIGMA_UNSUPPORTED;
    yaml_node_t *ls = map_get(c, root, "logsource");
    const char *product = scalar(map_get(c, ls, "product")), *service = scalar(map_get(c, ls, "service"));
    if (!product || strcasecmp(product, "aws") != 0 || !service || strcasecmp(service, "cloudtrail") != 0) {
        snprintf(c->reason, sizeof c->reason, "logsource is not aws/cloudtrail");
        return SIGMA_SKIPPED;
    }
    const char *lvl = scalar(map_get(c, root, "level"));
    r->level = lvl ? level_of(lvl) : 2;
    if (r->level < 0)
        return unsupported(c, "unknown level '%s'", lvl), SIGMA_UNSUPPORTED;
    yaml_node_t *tags = map_get(c, root, "tags");
    if (tags && tags->type == YAML_SEQUENCE_NODE) {
        size_t n = (size_t)(tags->data.sequence.items.top - tags->data.sequence.items.start);
        if (spend(c, n, 0))
            return SIGMA_UNSUPPORTED;
        r->tags = set_alloc(c->set, (n ? n : 1) * sizeof *r->tags);
        for (size_t i = 0; r->tags && i < n; i++) {
            char *t = copy_scalar(c, node(c, tags->data.sequence.items.start[i]));
            if (t)
                r->tags[r->ntags++] = t;
        }
    }
    yaml_node_t *det = map_get(c, root, "detection");
    if (!det || det->type != YAML_MAPPING_NODE)
        return unsupported(c, "no detection map"), SIGMA_UNSUPPORTED;
    if (map_get(c, det, "timeframe"))
        return unsupported(c, "timeframe (aggregation) is not supported"), SIGMA_UNSUPPORTED;
    size_t n = (size_t)(det->data.mapping.pairs.top - det->data.mapping.pairs.start);
    if (spend(c, n, 0))
        return SIGMA_UNSUPPORTED;
    r->sels = set_alloc(c->set, (n ? n : 1) * sizeof *r->sels);
    if (!r->sels)
        return unsupported(c, "out of memory"), SIGMA_UNSUPPORTED;
    yaml_node_t *condition = NULL;
    for (yaml_node_pair_t *p = det->data.mapping.pairs.start; p < det->data.mapping.pairs.top; p++) {
        const char *key = scalar(node(c, p->key));
        if (!key)
            return unsupported(c, "a detection key is not a string"), SIGMA_UNSUPPORTED;
        if (strcmp(key, "condition") == 0) {
            condition = node(c, p->value);
            continue;
        }
        if (compile_selection(c, key, node(c, p->value), &r->sels[r->nsels]))
            return SIGMA_UNSUPPORTED;
        r->sels[r->nsels].values = selection_values(&r->sels[r->nsels]);
        r->nsels++;
    }
    if (!condition)
        return unsupported(c, "no condition"), SIGMA_UNSUPPORTED;
    /* a list of conditions means any of them */
    if (condition->type == YAML_SEQUENCE_NODE) {
        size_t count = (size_t)(condition->data.sequence.items.top - condition->data.sequence.items.start);
        if (spend(c, count, 0))
            return SIGMA_UNSUPPORTED;
        cond **any = set_alloc(c->set, (count ? count : 1) * sizeof *any);
        if (!any)
            return unsupported(c, "out of memory"), SIGMA_UNSUPPORTED;
        for (size_t i = 0; i < count; i++) {
            const char *text = scalar(node(c, condition->data.sequence.items.start[i]));
            any[i] = text ? compile_condition(c, r, text) : NULL;
            if (!any[i])
                return unsupported(c, "bad condition"), SIGMA_UNSUPPORTED;
        }
        r->cond = count == 1 ? any[0] : count ? new_kids(c, C_OR, any, count) : NULL;
    } else {
        const char *text = scalar(condition);
        r->cond = text ? compile_condition(c, r, text) : NULL;
    }
    if (!r->cond)
        return unsupported(c, "bad condition"), SIGMA_UNSUPPORTED;
    unsigned *sel_cost = set_alloc(c->set, (r->nsels ? r->nsels : 1) * sizeof *sel_cost);
    if (!sel_cost)
        return unsupported(c, "out of memory"), SIGMA_UNSUPPORTED;
    for (size_t i = 0; i < r->nsels; i++)
        sel_cost[i] = selection_cost(&r->sels[i]);
    cond_cost(r, r->cond, sel_cost);
    r->needles = reqs_list(c, cond_reqs(c, r, r->cond, &needles_req));
    if (!r->needles)
        return unsupported(c, "out of memory"), SIGMA_UNSUPPORTED;
    if (index_rule(c, r))
        return SIGMA_UNSUPPORTED;
    return SIGMA_LOADED;
}

/* ---- correlations ---- */

/*
 * Bounds on one correlation, besides the budget every document spends:
 * linking it compares rules x group-by names x alias entries, so each is
 * kept small (real correlations name 1 to 3 rules and 1 or 2 group-by
 * fields). A timespan is at most 100 years, so that an event time plus it
 * cannot overflow; a condition's count at most 10^12.
 */
#define MAX_CORR_RULES 64
#define MAX_CORR_GROUP 16
#define MAX_CORR_ALIASES 256
#define MAX_TIMESPAN_MS (36500LL * 86400 * 1000)
#define MAX_CORR_COUNT 1000000000000ULL

typedef struct {
    const char *alias;          /* a group-by name (or value_count's condition.field) */
    const char *rule_ref;       /* the rule, as the aliases map names it */
    const char *field;          /* the field it stands for in that rule's events */
    size_t rule;                /* index into the correlation's rules, once linked */
} corr_alias;

typedef struct corr_doc {
    sigma_correlation pub;
    const char *id_raw;         /* `id`, or NULL */
    const char **refs;          /* `rules`, as written */
    const char *value_field;    /* value_count: condition.field, as written */
    corr_alias *aliases;
    size_t naliases;
} corr_doc;

static const char *const corr_type_names[] = { "event_count", "value_count", "temporal", "temporal_ordered" };
static const char *const corr_cmp_names[] = { "gt", "gte", "lt", "lte", "eq" };

/* A scalar or a list of scalars (none empty), copied into the set. */
static int string_list(compiler *c, yaml_node_t *v, const char *what, size_t max, const char ***out, size_t *n)
{
    if (v->type == YAML_MAPPING_NODE)
        return unsupported(c, "correlation: %s is a map, not a list", what);
    size_t count = v->type == YAML_SCALAR_NODE
                       ? 1
                       : (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (count > max)
        return unsupported(c, "correlation: more than %zu %s", max, what);
    if (spend(c, count + 1, 0))
        return -1;
    const char **list = set_alloc(c->set, (count ? count : 1) * sizeof *list);
    if (!list)
        return unsupported(c, "out of memory");
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *e = v->type == YAML_SCALAR_NODE ? v : node(c, v->data.sequence.items.start[i]);
        const char *str = copy_scalar(c, e);
        if (!str || !str[0])
            return unsupported(c, "correlation: an entry of %s is %s", what, str ? "empty" : "not a string");
        list[i] = str;
    }
    *out = list;
    *n = count;
    return 0;
}

/* "10m": digits and one unit of s, m, h, d (lowercase, as the spec
 * writes them: M could be read as months). */
static int parse_timespan(compiler *c, const char *t, int64_t *ms)
{
    static const struct {
        char unit;
        int64_t ms;
    } units[] = { { 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 }, { 'd', 86400000 } };
    size_t n = strlen(t), digits = strspn(t, "0123456789");
    if (digits == 0 || digits + 1 != n)
        return unsupported(c, "correlation: timespan '%s' is not a number and a unit (s, m, h or d)", t);
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        if (t[n - 1] != units[u].unit)
            continue;
        int64_t v = 0;
        for (size_t i = 0; i < digits; i++) {
            v = v * 10 + (t[i] - '0');
            if (v > MAX_TIMESPAN_MS / units[u].ms)
                return unsupported(c, "correlation: timespan '%s' is longer than 100 years", t);
        }
        if (v == 0)
            return unsupported(c, "correlation: timespan '%s' is zero", t);
        *ms = v * units[u].ms;
        return 0;
    }
    return unsupported(c, "correlation: timespan '%s': the unit must be s, m, h or d", t);
}

/* A condition's count: a plain non-negative integer. */
static int parse_count(compiler *c, const char *op, const char *v, uint64_t *out)
{
    size_t digits = v ? strspn(v, "0123456789") : 0;
    if (!v || digits == 0 || v[digits] != '\0')
        return unsupported(c, "correlation: condition %s wants a non-negative integer, not '%s'", op,
                           v ? v : "a list or a map");
    uint64_t n = 0;
    for (size_t i = 0; i < digits; i++) {
        n = n * 10 + (uint64_t)(v[i] - '0');
        if (n > MAX_CORR_COUNT)
            return unsupported(c, "correlation: condition %s %s is more than 10^12", op, v);
    }
    *out = n;
    return 0;
}

/* Whether every comparison of the condition holds of count. */
static int conds_hold(const sigma_correlation *p, uint64_t count)
{
    for (size_t i = 0; i < p->nconds; i++) {
        uint64_t v = p->conds[i].value;
        int ok = p->conds[i].op == SIGMA_CMP_GT    ? count > v
                 : p->conds[i].op == SIGMA_CMP_GTE ? count >= v
                 : p->conds[i].op == SIGMA_CMP_LT  ? count < v
                 : p->conds[i].op == SIGMA_CMP_LTE ? count <= v
                                                   : count == v;
        if (!ok)
            return 0;
    }
    return 1;
}

static int is_temporal(sigma_corr_type t)
{
    return t == SIGMA_CORR_TEMPORAL || t == SIGMA_CORR_TEMPORAL_ORDERED;
}

/*
 * condition: a map of comparisons, all of which must hold of the count,
 * and `field` for value_count. The temporal types count the rules that
 * matched in the window, which the engine requires to be all of them: a
 * condition there is accepted only when it means exactly that (gte: N, eq: N
 * or gt: N-1 for N rules), and then dropped.
 */
static int compile_corr_condition(compiler *c, corr_doc *d, yaml_node_t *cond)
{
    sigma_correlation *p = &d->pub;
    const char *type = corr_type_names[p->type];
    if (!cond)
        return is_temporal(p->type) ? 0 : unsupported(c, "correlation: %s needs a condition", type);
    if (cond->type != YAML_MAPPING_NODE)
        return unsupported(c, "correlation: condition is not a map (of gt, gte, lt, lte, eq, field)");
    for (yaml_node_pair_t *q = cond->data.mapping.pairs.start; q < cond->data.mapping.pairs.top; q++) {
        const char *key = scalar(node(c, q->key));
        if (key && strcmp(key, "field") == 0) {
            d->value_field = copy_scalar(c, node(c, q->value));
            if (!d->value_field || !d->value_field[0])
                return unsupported(c, "correlation: condition field is not a field name");
            continue;
        }
        size_t op = 0;
        while (op < sizeof corr_cmp_names / sizeof corr_cmp_names[0] && (!key || strcmp(key, corr_cmp_names[op])))
            op++;
        if (op == sizeof corr_cmp_names / sizeof corr_cmp_names[0])
            return unsupported(c, "correlation: unknown condition '%s' (gt, gte, lt, lte, eq or field)",
                               key ? key : "?");
        if (p->nconds == SIGMA_CORR_MAX_CONDS)
            return unsupported(c, "correlation: more than %d comparisons in the condition", SIGMA_CORR_MAX_CONDS);
        p->conds[p->nconds].op = (sigma_corr_cmp)op;
        if (parse_count(c, key, scalar(node(c, q->value)), &p->conds[p->nconds].value))
            return -1;
        p->nconds++;
    }
    if (p->type == SIGMA_CORR_VALUE_COUNT && !d->value_field)
        return unsupported(c, "correlation: value_count needs condition.field (the field whose values it counts)");
    if (p->type != SIGMA_CORR_VALUE_COUNT && d->value_field)
        return unsupported(c, "correlation: condition.field is only for value_count");
    if (!is_temporal(p->type) && p->nconds == 0)
        return unsupported(c, "correlation: the condition has no comparison (gt, gte, lt, lte or eq)");
    if (is_temporal(p->type) && p->nconds) {
        if (!conds_hold(p, p->nrules) || conds_hold(p, p->nrules - 1))
            return unsupported(c, "correlation: %s with a condition other than all %zu of its rules is not "
                                  "supported", type, p->nrules);
        p->nconds = 0;
    }
    return 0;
}

/* aliases: {alias: {rule: field, ...}, ...}, flattened into entries. */
static int compile_aliases(compiler *c, corr_doc *d, yaml_node_t *al)
{
    if (al->type != YAML_MAPPING_NODE)
        return unsupported(c, "correlation: aliases is not a map of alias: {rule: field}");
    size_t total = 0;
    for (yaml_node_pair_t *q = al->data.mapping.pairs.start; q < al->data.mapping.pairs.top; q++) {
        yaml_node_t *per = node(c, q->value);
        if (!scalar(node(c, q->key)) || !per || per->type != YAML_MAPPING_NODE)
            return unsupported(c, "correlation: aliases is not a map of alias: {rule: field}");
        total += (size_t)(per->data.mapping.pairs.top - per->data.mapping.pairs.start);
        if (total > MAX_CORR_ALIASES)
            return unsupported(c, "correlation: more than %d alias entries", MAX_CORR_ALIASES);
    }
    if (spend(c, total + 1, 0))
        return -1;
    d->aliases = set_alloc(c->set, (total ? total : 1) * sizeof *d->aliases);
    if (!d->aliases)
        return unsupported(c, "out of memory");
    for (yaml_node_pair_t *q = al->data.mapping.pairs.start; q < al->data.mapping.pairs.top; q++) {
        const char *alias = copy_scalar(c, node(c, q->key));
        yaml_node_t *per = node(c, q->value);
        for (yaml_node_pair_t *e = per->data.mapping.pairs.start; e < per->data.mapping.pairs.top; e++) {
            corr_alias *a = &d->aliases[d->naliases];
            a->alias = alias;
            a->rule_ref = copy_scalar(c, node(c, e->key));
            a->field = copy_scalar(c, node(c, e->value));
            if (!a->alias || !a->rule_ref || !a->field || !a->field[0])
                return unsupported(c, "correlation: alias '%s' maps a rule to something that is not a field name",
                                   alias ? alias : "?");
            d->naliases++;
        }
    }
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const yes[] = { "true", "True", "TRUE" }, *const no[] = { "false", "False", "FALSE" };
    for (size_t i = 0; v && i < 3; i++) {
        if (strcmp(v, yes[i]) == 0)
            return *out = 1, 0;
        if (strcmp(v, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

/* Compiles a document with a `correlation` map; its references are
 * resolved later, by sigma_set_link. */
static sigma_status compile_correlation(compiler *c, yaml_node_t *root, const char *source, corr_doc **out)
{
    static const char *const keys[] = { "type", "rules", "group-by", "timespan", "condition", "generate",
                                        "aliases" };
    corr_doc *d = set_alloc(c->set, sizeof *d);
    if (!d)
        return unsupported(c, "out of memory"), SIGMA_UNSUPPORTED;
    *out = d;
    sigma_correlation *p = &d->pub;
    p->title = copy_scalar(c, map_get(c, root, "title"));
    d->id_raw = copy_scalar(c, map_get(c, root, "id"));
    p->id = d->id_raw ? d->id_raw : p->title;
    p->name = copy_scalar(c, map_get(c, root, "name"));
    const char *desc = copy_scalar(c, map_get(c, root, "description"));
    p->description = desc ? desc : "";
    p->source = source;
    if (!p->title)
        return unsupported(c, "no title"), SIGMA_UNSUPPORTED;
    /* a correlation needs no logsource; one that names another is not ours */
    yaml_node_t *ls = map_get(c, root, "logsource");
    const char *product = scalar(map_get(c, ls, "product")), *service = scalar(map_get(c, ls, "service"));
    if (ls && (!product || strcasecmp(product, "aws") != 0 || !service || strcasecmp(service, "cloudtrail") != 0)) {
        snprintf(c->reason, sizeof c->reason, "logsource is not aws/cloudtrail");
        return SIGMA_SKIPPED;
    }
    if (map_get(c, root, "detection"))
        return unsupported(c, "a document with both a correlation and a detection"), SIGMA_UNSUPPORTED;
    const char *lvl = scalar(map_get(c, root, "level"));
    p->level = lvl ? level_of(lvl) : 2;
    if (p->level < 0)
        return unsupported(c, "unknown level '%s'", lvl), SIGMA_UNSUPPORTED;
    yaml_node_t *corr = map_get(c, root, "correlation");
    if (!corr || corr->type != YAML_MAPPING_NODE)
        return unsupported(c, "correlation is not a map"), SIGMA_UNSUPPORTED;
    for (yaml_node_pair_t *q = corr->data.mapping.pairs.start; q < corr->data.mapping.pairs.top; q++) {
        const char *key = scalar(node(c, q->key));
        size_t k = 0;
        while (k < sizeof keys / sizeof keys[0] && (!key || strcmp(key, keys[k]) != 0))
            k++;
        if (k == sizeof keys / sizeof keys[0])
            return unsupported(c, "correlation: unknown key '%s'", key ? key : "?"), SIGMA_UNSUPPORTED;
    }
    const char *type = scalar(map_get(c, corr, "type"));
    size_t t = 0;
    while (type && t < 4 && strcmp(type, corr_type_names[t]) != 0)
        t++;
    if (!type || t == 4)
        return unsupported(c, "correlation: %s%s%s (event_count, value_count, temporal or temporal_ordered)",
                           type ? "unknown type '" : "no type", type ? type : "", type ? "'" : ""),
               SIGMA_UNSUPPORTED;
    p->type = (sigma_corr_type)t;
    yaml_node_t *rules = map_get(c, corr, "rules");
    if (!rules)
        return unsupported(c, "correlation: no rules"), SIGMA_UNSUPPORTED;
    if (string_list(c, rules, "rules", MAX_CORR_RULES, &d->refs, &p->nrules))
        return SIGMA_UNSUPPORTED;
    if (p->nrules == 0)
        return unsupported(c, "correlation: rules is empty"), SIGMA_UNSUPPORTED;
    yaml_node_t *group = map_get(c, corr, "group-by");
    const char **group_by = NULL;
    if (group && !is_null(group) && string_list(c, group, "group-by names", MAX_CORR_GROUP, &group_by, &p->ngroup))
        return SIGMA_UNSUPPORTED;
    p->group_by = group_by;
    for (size_t g = 0; g < p->ngroup; g++)
        for (size_t h = 0; h < g; h++)
            if (strcmp(p->group_by[g], p->group_by[h]) == 0)
                return unsupported(c, "correlation: group-by names '%s' twice", p->group_by[g]), SIGMA_UNSUPPORTED;
    const char *span = scalar(map_get(c, corr, "timespan"));
    if (!span)
        return unsupported(c, "correlation: no timespan"), SIGMA_UNSUPPORTED;
    if (parse_timespan(c, span, &p->timespan_ms))
        return SIGMA_UNSUPPORTED;
    if (compile_corr_condition(c, d, map_get(c, corr, "condition")))
        return SIGMA_UNSUPPORTED;
    /* the spec puts generate beside correlation; suzaku-rules puts it inside */
    yaml_node_t *gen = map_get(c, corr, "generate");
    if (!gen)
        gen = map_get(c, root, "generate");
    if (gen && parse_bool(scalar(gen), &p->generate))
        return unsupported(c, "correlation: generate is not true or false"), SIGMA_UNSUPPORTED;
    yaml_node_t *al = map_get(c, corr, "aliases");
    if (al && compile_aliases(c, d, al))
        return SIGMA_UNSUPPORTED;
    return SIGMA_LOADED;
}

static int add_corr(sigma_set *s, corr_doc *d)
{
    if (ot_grow(&s->corrs, &s->corr_cap, s->ncorr, sizeof *s->corrs, 8))
        return -1;
    s->corrs[s->ncorr++] = d;
    return 0;
}

/*
 * ---- linking: references to rules ----
 *
 * Every rule and correlation of the set is filed under its id, name and
 * title, sorted by (key, kind, source, load order), so that a reference
 * is found by binary search: hostile sets of many rules and references
 * cost n log n, not n^2.
 */
enum { KEY_ID, KEY_NAME, KEY_TITLE };

typedef struct {
    const char *key;
    int kind;
    const char *source;
    size_t order;               /* load order: the last tie-break */
    sigma_rule *rule;           /* NULL: a correlation */
} ref_key;

/* Compares the first `fields` of (key, kind, source, order). */
static int ref_key_cmp(const ref_key *a, const ref_key *b, int fields)
{
    int k = strcmp(a->key, b->key);
    if (k || fields < 2)
        return k;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (fields < 3)
        return 0;
    if (a->source != b->source)
        return (uintptr_t)a->source < (uintptr_t)b->source ? -1 : 1;
    if (fields < 4)
        return 0;
    return a->order < b->order ? -1 : a->order > b->order;
}

static int ref_key_sort(const void *a, const void *b)
{
    return ref_key_cmp(a, b, 4);
}

/* The first entry not below want (on its first `fields`). */
static size_t ref_key_lower(const ref_key *keys, size_t n, const ref_key *want, int fields)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ref_key_cmp(&keys[mid], want, fields) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*
 * The rule a reference names: looked up among the documents of the
 * correlation's own file first, then in the whole set; in each, by id,
 * then name, then title. Two rules answering at the same step make it
 * ambiguous, a correlation answering is a chain: both unsupported.
 */
static int resolve_ref(compiler *c, const ref_key *keys, size_t n, const corr_doc *d, const char *ref,
                       sigma_rule **out)
{
    static const char *const kinds[] = { "id", "name", "title" };
    for (int scope = 0; scope < 2; scope++)
        for (int kind = KEY_ID; kind <= KEY_TITLE; kind++) {
            ref_key want = { ref, kind, scope == 0 ? d->pub.source : NULL, 0, NULL };
            int fields = scope == 0 ? 3 : 2;
            size_t at = ref_key_lower(keys, n, &want, fields);
            if (at == n || ref_key_cmp(&keys[at], &want, fields) != 0)
                continue;
            if (at + 1 < n && ref_key_cmp(&keys[at + 1], &want, fields) == 0) {
                int later = keys[at].order > keys[at + 1].order;   /* name them in load order */
                return unsupported(c, "rule reference '%s' is ambiguous: two rules have that %s (in %s and %s)", ref,
                                   kinds[kind], keys[at + later].source, keys[at + !later].source);
            }
            if (!keys[at].rule)
                return unsupported(c, "rule reference '%s' names a correlation: a correlation of correlations is "
                                      "not supported", ref);
            *out = keys[at].rule;
            return 0;
        }
    return unsupported(c, "rule reference '%s': no rule of the set has that id, name or title (an unsupported or "
                          "skipped rule is not loaded)", ref);
}

static int names_rule(const sigma_rule *r, const char *ref)
{
    return (r->id && strcmp(r->id, ref) == 0) || (r->name && strcmp(r->name, ref) == 0) ||
           strcmp(r->title, ref) == 0;
}

/* The field that name (a group-by name or condition.field) stands for in
 * rule i's events: its alias for that rule, else itself; interned. */
static int alias_field(compiler *c, const corr_doc *d, const char *name, size_t i, const char **out)
{
    const char *field = NULL;
    int is_alias = 0;
    for (size_t k = 0; k < d->naliases && !field; k++)
        if (strcmp(d->aliases[k].alias, name) == 0) {
            is_alias = 1;
            if (d->aliases[k].rule == i)
                field = d->aliases[k].field;
        }
    if (is_alias && !field)
        return unsupported(c, "alias '%s' names no field for rule '%s'", name, d->refs[i]);
    if (!field)
        field = name;
    *out = intern_field(c->set, field, strlen(field));
    return *out ? 0 : unsupported(c, "out of memory");
}

static int link_one(compiler *c, const ref_key *keys, size_t nkeys, corr_doc *d)
{
    sigma_correlation *p = &d->pub;
    sigma_rule **rules = set_alloc(c->set, p->nrules * sizeof *rules);
    size_t nfields = p->nrules * p->ngroup;
    const char **fields = set_alloc(c->set, (nfields > 0 ? nfields : 1) * sizeof *fields);
    if (!rules || !fields)
        return unsupported(c, "out of memory");
    for (size_t i = 0; i < p->nrules; i++) {
        if (resolve_ref(c, keys, nkeys, d, d->refs[i], &rules[i]))
            return -1;
        for (size_t j = 0; j < i; j++)
            if (rules[j] == rules[i])
                return unsupported(c, "rule references '%s' and '%s' name the same rule", d->refs[j], d->refs[i]);
    }
    for (size_t k = 0; k < d->naliases; k++) {
        corr_alias *a = &d->aliases[k];
        a->rule = 0;
        while (a->rule < p->nrules && strcmp(a->rule_ref, d->refs[a->rule]) != 0 &&
               !names_rule(rules[a->rule], a->rule_ref))
            a->rule++;
        if (a->rule == p->nrules)
            return unsupported(c, "alias '%s' names rule '%s', which the correlation does not reference", a->alias,
                               a->rule_ref);
    }
    for (size_t i = 0; i < p->nrules; i++)
        for (size_t g = 0; g < p->ngroup; g++)
            if (alias_field(c, d, p->group_by[g], i, &fields[i * p->ngroup + g]))
                return -1;
    if (d->value_field) {
        const char **values = set_alloc(c->set, p->nrules * sizeof *values);
        if (!values)
            return unsupported(c, "out of memory");
        for (size_t i = 0; i < p->nrules; i++)
            if (alias_field(c, d, d->value_field, i, &values[i]))
                return -1;
        p->value_fields = values;
    }
    p->rules = (const sigma_rule *const *)rules;
    p->group_fields = fields;
    return 0;
}

int sigma_set_link(sigma_set *s, sigma_report_fn report, void *arg)
{
    if (s->nlinked == s->ncorr)
        return (int)s->nlinked;     /* nothing new since the last link */
    size_t cap = 3 * (s->n + s->ncorr), nkeys = 0;
    ref_key *keys = malloc((cap ? cap : 1) * sizeof *keys);
    if (!keys)
        return -ENOMEM;
    for (size_t i = 0; i < s->n; i++) {
        sigma_rule *r = s->rules[i];
        const char *k[3] = { r->id, r->name, r->title };
        for (int kind = KEY_ID; kind <= KEY_TITLE; kind++)
            if (k[kind])
                keys[nkeys++] = (ref_key){ k[kind], kind, r->source, i, r };
    }
    for (size_t i = 0; i < s->ncorr; i++) {
        const sigma_correlation *p = &s->corrs[i]->pub;
        const char *k[3] = { s->corrs[i]->id_raw, p->name, p->title };
        for (int kind = KEY_ID; kind <= KEY_TITLE; kind++)
            if (k[kind])
                keys[nkeys++] = (ref_key){ k[kind], kind, p->source, s->n + i, NULL };
    }
    qsort(keys, nkeys, sizeof *keys, ref_key_sort);
    int oom = 0;
    size_t kept = s->nlinked;
    for (size_t i = s->nlinked; i < s->ncorr; i++) {
        corr_doc *d = s->corrs[i];
        compiler c = { .set = s };
        int bad = link_one(&c, keys, nkeys, d);
        oom |= bad && strcmp(c.reason, "out of memory") == 0;
        if (!bad) {
            for (size_t k = 0; k < d->pub.nrules; k++) {
                sigma_rule *r = (sigma_rule *)d->pub.rules[k];
                r->referenced = 1;
                r->generates |= d->pub.generate;
            }
            s->corrs[kept++] = d;
        }
        char name[160];
        snprintf(name, sizeof name, "%s", d->pub.id);
        printable_text(name);   /* names and reasons quote the rule file */
        printable_text(c.reason);
        if (report)
            report(arg, d->pub.source, name, bad ? SIGMA_UNSUPPORTED : SIGMA_LOADED, c.reason);
    }
    free(keys);
    s->ncorr = s->nlinked = kept;
    return oom ? -ENOMEM : (int)kept;
}

size_t sigma_correlation_count(const sigma_set *s)
{
    return s->nlinked;
}

const sigma_correlation *sigma_correlation_at(const sigma_set *s, size_t i)
{
    return i < s->nlinked ? &s->corrs[i]->pub : NULL;
}

int sigma_rule_generates(const sigma_rule *r)
{
    return !r->referenced || r->generates;
}

static void report_bad_file(sigma_report_fn report, void *arg, const char *path, size_t line, const char *fmt,
                            ...) __attribute__((format(printf, 5, 6)));
static void report_bad_file(sigma_report_fn report, void *arg, const char *path, size_t line, const char *fmt, ...)
{
    if (!report)
        return;
    char why[256], at[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    printable_text(why);
    snprintf(at, sizeof at, "%zu", line);
    report(arg, path, line ? at : NULL, SIGMA_BAD_FILE, why);
}

/* The YAML error that ended a source's stream. problem is libyaml's (a
 * string constant), NULL when it ran out of memory. */
static void report_yaml_error(sigma_report_fn report, void *arg, const char *source, size_t line,
                              const char *problem)
{
    report_bad_file(report, arg, source, line, "YAML error: %s", problem ? problem : "out of memory");
}

/* Compiles one document of a source and reports it (a correlation that
 * compiles is reported by sigma_set_link instead). src is the set's copy
 * of source. Returns 1 when it added a rule, else 0. */
static int load_doc(sigma_set *s, const char *source, const char *src, yaml_document_t *doc, int docno,
                    sigma_report_fn report, void *arg)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    compiler c = { .set = s, .doc = doc };
    sigma_rule *r = NULL;
    corr_doc *corr = NULL;
    int is_corr = map_get(&c, root, "correlation") != NULL;
    sigma_status st = is_corr ? compile_correlation(&c, root, src, &corr) : compile_rule(&c, root, &r);
    const char *id = r ? r->id : corr ? corr->id_raw : NULL, *title = r ? r->title : corr ? corr->pub.title : NULL;
    char name[160];
    snprintf(name, sizeof name, "%s", id ? id : title ? title : "");
    if (!name[0])
        snprintf(name, sizeof name, "document %d", docno);
    if (st == SIGMA_LOADED && (is_corr ? add_corr(s, corr) : add_rule(s, r)) != 0) {
        st = SIGMA_UNSUPPORTED;
        snprintf(c.reason, sizeof c.reason, "out of memory");
    }
    if (st == SIGMA_LOADED && is_corr)
        return 0;                    /* sigma_set_link reports it, once its references are resolved */
    if (st == SIGMA_LOADED) {
        r->re_match = s->re_match;
        r->source = src;
    }
    printable_text(name);   /* names and reasons quote the rule file */
    printable_text(c.reason);
    if (report)
        report(arg, source, name, st, c.reason);
    return st == SIGMA_LOADED;
}

/* What every load of a source does first: its name and text go into the
 * sources hash, and the set keeps one copy of its name (what a
 * correlation's references look for first). Returns that copy, or NULL
 * after reporting that memory ran out. */
static const char *load_begin(sigma_set *s, const char *source, const char *text, size_t len,
                              sigma_report_fn report, void *arg)
{
    s->sources_hash = hash_bytes(hash_bytes(s->sources_hash, source, strlen(source) + 1), text, len);
    const char *src = set_strndup(s, source, strlen(source));
    if (!src)
        report_bad_file(report, arg, source, 0, "out of memory");
    return src;
}

int sigma_load_text(sigma_set *s, const char *source, const char *text, size_t len, sigma_report_fn report,
                    void *arg)
{
    const char *src = load_begin(s, source, text, len, report, arg);
    if (!src)
        return -1;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        report_bad_file(report, arg, source, 0, "out of memory");
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int loaded = 0;
    for (int docno = 1;; docno++) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            report_yaml_error(report, arg, source, parser.problem_mark.line + 1, parser.problem);
            loaded = -1;
            break;
        }
        if (!yaml_document_get_root_node(&doc)) {
            yaml_document_delete(&doc);
            break;                       /* end of the stream */
        }
        loaded += load_doc(s, source, src, &doc, docno, report, arg);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return loaded;
}

static int has_yaml_suffix(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && strcmp(name + n - 4, ".yml") == 0) || (n > 5 && strcmp(name + n - 5, ".yaml") == 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The whole file into *text (malloc'd, NUL-terminated). Returns 0 or -errno. */
static int read_file(const char *path, char **text, size_t *len)
{
    ot_buf b = { 0 };
    int rc = buf_read_file(&b, path);
    rc = rc ? rc : buf_append(&b, "", 1);
    if (rc) {
        buf_free(&b);
        return rc;
    }
    *text = b.data;
    *len = b.len - 1;
    return 0;
}

/* One file, read and loaded by the calling thread. */
static int load_file(sigma_set *s, const char *path, sigma_report_fn report, void *arg)
{
    char *text;
    size_t len;
    int rc = read_file(path, &text, &len);
    if (rc) {
        report_bad_file(report, arg, path, 0, "cannot read: %s", strerror(-rc));
        return -1;
    }
    rc = sigma_load_text(s, path, text, len, report, arg);
    free(text);
    return rc;
}

/*
 * Loading a directory on several threads. Nearly all of a rule set's load
 * is libyaml's parse (80% of the community set's instructions), which
 * needs nothing but the file; the compile writes the set (interned fields,
 * its allocations, the rules' order) and reports. So the calling thread
 * first walks the tree (names sorted, as the serial load visits them) into
 * a list of items: the files, and the walk's own errors at the place they
 * are met. Then threads take the items in list order, read each file and
 * parse all its documents, while the calling thread compiles the items in
 * list order, each once it is parsed (taking an item itself when it would
 * otherwise wait). Every report, the rules' order and the sources hash are
 * those of a serial load, for any number of threads.
 *
 * Memory: the threads take items in chunks of at most LOAD_CHUNK_BYTES of
 * text, at most LOAD_WINDOW_PER_THREAD x threads chunks past the one being
 * compiled, and parse ahead only files of at most LOAD_AHEAD_MAX_BYTES.
 * libyaml's documents take up to ~60 times their text (a flow list of
 * empty maps), so a chunk holds at most ~4 MiB, and the chunks parsed and
 * not yet freed are at most about twice the window, plus the one each
 * thread is parsing: ~20 MiB with 2 threads, ~80 MiB with 8, in the worst
 * case (the community set's 850 files, 1.3 MB, load in a peak RSS of 16 MB,
 * 14 MB serially). A bigger file is
 * read and parsed by the compiling thread when its turn comes, one
 * document at a time, as a serial load does. libyaml does not expand
 * aliases (a node refers to its anchor), so an alias bomb parses in the
 * memory of its text; the compile's bounds (MAX_EXPANDED) catch it as
 * before.
 */
#define LOAD_MAX_THREADS 8
#define LOAD_WINDOW_PER_THREAD 2
#define LOAD_AHEAD_MAX_BYTES (64u << 10)
#define LOAD_CHUNK_BYTES (64u << 10)
#define LOAD_CHUNK_ITEMS 64

enum load_what {
    LOAD_FILE,                  /* a file to load */
    LOAD_LOOP,                  /* a directory that links back to a parent */
    LOAD_ERRNO,                 /* stat or opendir failed with err */
    LOAD_NOMEM,                 /* the walk of path ran out of memory */
};

typedef struct {
    char *path;
    enum load_what what;
    int err;                    /* LOAD_ERRNO */
    off_t size;                 /* LOAD_FILE: at the walk */
    /* set by the thread that takes it, read by the compiling thread once
     * its chunk is ready (under the loader's lock) */
    int parsed;                 /* read and parsed ahead: the fields below hold; else the compile reads it */
    int read_rc;                /* 0, or -errno: it cannot be read (no text) */
    char *text;
    size_t len;
    yaml_document_t *docs;      /* the documents before the end of the stream or the YAML error */
    size_t ndocs;
    int yaml_failed;            /* the stream ends in a YAML error at err_line: problem */
    size_t err_line;
    const char *problem;        /* libyaml's: a string constant, or NULL (out of memory) */
} load_item;

typedef struct {
    load_item *items;
    size_t n, cap;
    int nomem;                  /* an item could not be added: the load reports it at the end */
} load_list;

/* The directories from the walk's root down to here: a symlink back up
 * would otherwise be walked forever. */
typedef struct dir_seen {
    dev_t dev;
    ino_t ino;
    const struct dir_seen *up;
} dir_seen;

static void load_list_add(load_list *l, const char *path, enum load_what what, int err, off_t size)
{
    if (ot_grow(&l->items, &l->cap, l->n, sizeof *l->items, 64)) {
        l->nomem = 1;
        return;
    }
    load_item *it = &l->items[l->n];
    *it = (load_item){ .path = strdup(path), .what = what, .err = err, .size = size };
    if (!it->path)
        l->nomem = 1;
    else
        l->n++;
}

static void walk_stat(load_list *l, const char *path, const struct stat *st, int err, const dir_seen *up);

static void walk_dir(load_list *l, const char *path, const struct stat *st, const dir_seen *up)
{
    for (const dir_seen *d = up; d; d = d->up)
        if (d->dev == st->st_dev && d->ino == st->st_ino) {
            load_list_add(l, path, LOAD_LOOP, 0, 0);
            return;
        }
    dir_seen here = { st->st_dev, st->st_ino, up };
    DIR *d = opendir(path);
    if (!d) {
        load_list_add(l, path, LOAD_ERRNO, errno, 0);
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int nomem = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (ot_grow(&names, &cap, n, sizeof *names, 32)) {
            nomem = 1;
            break;
        }
        names[n] = strdup(e->d_name);
        if (!names[n]) {
            nomem = 1;
            break;
        }
        n++;
    }
    closedir(d);
    if (nomem)
        load_list_add(l, path, LOAD_NOMEM, 0, 0);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char *child = malloc(strlen(path) + strlen(names[i]) + 2);
        if (!child) {
            load_list_add(l, path, LOAD_NOMEM, 0, 0);
        } else {
            sprintf(child, "%s/%s", path, names[i]);
            /* one stat a name (the serial load's walk made two): a .yml
             * that stat cannot see (a dangling link) is reported */
            struct stat cst;
            int seen = stat(child, &cst) == 0, err = errno;
            if ((seen && S_ISDIR(cst.st_mode)) || has_yaml_suffix(names[i]))
                walk_stat(l, child, seen ? &cst : NULL, err, &here);
            free(child);
        }
        free(names[i]);
    }
    free(names);
}

/* Adds a file, or a directory's items, given path's stat (NULL when it
 * failed with err). */
static void walk_stat(load_list *l, const char *path, const struct stat *st, int err, const dir_seen *up)
{
    if (!st)
        load_list_add(l, path, LOAD_ERRNO, err, 0);
    else if (S_ISDIR(st->st_mode))
        walk_dir(l, path, st, up);
    else
        load_list_add(l, path, LOAD_FILE, 0, st->st_size);
}

static void load_item_release(load_item *it);

/* Reads and parses a small file ahead of its compile; leaves a big one
 * (or one whose parse runs out of memory) to the compiling thread. scratch
 * is the thread's read buffer: the text kept is a copy of its exact size
 * (buf_read_file's buffer is 64 KiB bigger than the file, and past
 * malloc's mmap threshold once many are held). */
static void load_ahead(load_item *it, ot_buf *scratch)
{
    if (it->what != LOAD_FILE || it->size > (off_t)LOAD_AHEAD_MAX_BYTES)
        return;
    scratch->len = 0;
    int rc = buf_read_file(scratch, it->path);
    if (rc) {
        it->read_rc = rc;
        it->parsed = 1;
        return;
    }
    size_t len = scratch->len;
    /* a file that grew past the bound since the walk is the compiling thread's too */
    char *text = len <= LOAD_AHEAD_MAX_BYTES ? malloc(len + 1) : NULL;
    if (!text)
        return;
    memcpy(text, scratch->data, len);
    text[len] = '\0';
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        free(text);
        return;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    size_t cap = 0;
    for (;;) {
        yaml_document_t doc;
        if (!yaml_parser_load(&parser, &doc)) {
            it->yaml_failed = 1;
            it->err_line = parser.problem_mark.line + 1;
            it->problem = parser.problem;
            break;
        }
        if (!yaml_document_get_root_node(&doc)) {
            yaml_document_delete(&doc);
            break;
        }
        if (ot_grow(&it->docs, &cap, it->ndocs, sizeof *it->docs, 4)) {
            yaml_document_delete(&doc);
            goto out_nomem;
        }
        it->docs[it->ndocs++] = doc;
    }
    yaml_parser_delete(&parser);
    it->text = text;
    it->len = len;
    it->parsed = 1;
    return;
out_nomem:
    yaml_parser_delete(&parser);
    it->text = text;
    load_item_release(it);
    it->text = NULL;
    it->docs = NULL;
    it->ndocs = 0;
}

/* Compiles one item of the list (load_item_release frees what it was
 * parsed into). Returns as load_path. */
static int load_item_compile(sigma_set *s, load_item *it, sigma_report_fn report, void *arg)
{
    int loaded = -1;
    switch (it->what) {
    case LOAD_LOOP:
        report_bad_file(report, arg, it->path, 0, "cannot read: a directory loop (a link back to a parent)");
        break;
    case LOAD_ERRNO:
        report_bad_file(report, arg, it->path, 0, "cannot read: %s", strerror(it->err));
        break;
    case LOAD_NOMEM:
        report_bad_file(report, arg, it->path, 0, "cannot read: out of memory");
        break;
    case LOAD_FILE:
        if (!it->parsed) {
            loaded = load_file(s, it->path, report, arg);
        } else if (it->read_rc) {
            report_bad_file(report, arg, it->path, 0, "cannot read: %s", strerror(-it->read_rc));
        } else {
            const char *src = load_begin(s, it->path, it->text, it->len, report, arg);
            loaded = 0;
            for (size_t i = 0; src && i < it->ndocs; i++)
                loaded += load_doc(s, it->path, src, &it->docs[i], (int)i + 1, report, arg);
            if (!src) {
                loaded = -1;
            } else if (it->yaml_failed) {
                report_yaml_error(report, arg, it->path, it->err_line, it->problem);
                loaded = -1;
            }
        }
        break;
    }
    free(it->path);
    return loaded;
}

/* Frees what load_ahead made of the item. */
static void load_item_release(load_item *it)
{
    for (size_t i = 0; i < it->ndocs; i++)
        yaml_document_delete(&it->docs[i]);
    free(it->docs);
    free(it->text);
}

/* The threads take items in runs (a chunk: consecutive items of at most
 * LOAD_CHUNK_BYTES of files parsed ahead, at most LOAD_CHUNK_ITEMS of
 * them): one handover a chunk, not a file, as a file parses in ~50 us.
 * The thread that parsed a chunk frees it once compiled: freeing into
 * another thread's malloc arena would contend with that thread's
 * allocations. */
typedef struct {
    size_t first, end;          /* items[first..end) */
    int ready;                  /* taken and parsed */
    unsigned owner;             /* who took it: 0 the compiling thread, else loader thread owner - 1 */
} load_chunk;

typedef struct {
    load_item *items;
    load_chunk *chunks;
    size_t nchunks;
    size_t next_take;           /* the first chunk no thread has taken */
    size_t next_compile;        /* the chunk the compiling thread is at */
    size_t window;              /* chunks past next_compile that may be taken */
    int compiler_waits;         /* the compiling thread sleeps on ready */
    unsigned threads_wait;      /* loader threads sleeping on room */
    pthread_mutex_t lock;
    pthread_cond_t ready;       /* a chunk is ready */
    pthread_cond_t room;        /* next_compile moved */
} loader;

/* Cuts items[0..n) into chunks (*out, malloc'd), at least 4 a thread
 * when there are items enough (the last chunks of the load are not left to
 * one thread). Returns how many, 0 when out of memory. */
static size_t load_chunks(const load_item *items, size_t n, unsigned threads, load_chunk **out)
{
    load_chunk *c = malloc((n ? n : 1) * sizeof *c);
    size_t nc = 0, most = n / ((size_t)threads * 4);
    if (!c)
        return 0;
    most = most < 1 ? 1 : most > LOAD_CHUNK_ITEMS ? LOAD_CHUNK_ITEMS : most;
    for (size_t i = 0; i < n;) {
        size_t first = i, bytes = 0;
        for (; i < n && i - first < most; i++) {
            off_t size = items[i].what == LOAD_FILE && items[i].size <= (off_t)LOAD_AHEAD_MAX_BYTES
                             ? items[i].size : 0;
            if (i > first && bytes + (size_t)size > LOAD_CHUNK_BYTES)
                break;
            bytes += (size_t)size;
        }
        c[nc++] = (load_chunk){ .first = first, .end = i };
    }
    *out = c;
    return nc;
}

/* Takes the next chunk for owner and parses it; called and returns with
 * the lock held. */
static void loader_take(loader *L, unsigned owner, ot_buf *scratch)
{
    load_chunk *c = &L->chunks[L->next_take++];
    c->owner = owner;
    pthread_mutex_unlock(&L->lock);
    for (size_t i = c->first; i < c->end; i++)
        load_ahead(&L->items[i], scratch);
    pthread_mutex_lock(&L->lock);
    c->ready = 1;
    if (L->compiler_waits)
        pthread_cond_signal(&L->ready);
}

static void loader_release(loader *L, size_t k)
{
    for (size_t i = L->chunks[k].first; i < L->chunks[k].end; i++)
        load_item_release(&L->items[i]);
}

typedef struct {
    loader *L;
    unsigned owner;
} loader_arg;

/* Takes chunks while the window has room, and frees those it took once
 * they are compiled; returns when every chunk is taken and its own are
 * freed. */
static void *loader_thread(void *arg)
{
    loader *L = ((loader_arg *)arg)->L;
    unsigned owner = ((loader_arg *)arg)->owner;
    ot_buf scratch = { 0 };
    size_t freed_to = 0, pending = 0;   /* chunks [0, freed_to) of its own are freed; pending are not */
    pthread_mutex_lock(&L->lock);
    for (;;) {
        size_t compiled = L->next_compile;
        if (freed_to < compiled) {
            pthread_mutex_unlock(&L->lock);
            for (; freed_to < compiled; freed_to++)
                if (L->chunks[freed_to].owner == owner) {
                    loader_release(L, freed_to);
                    pending--;
                }
            pthread_mutex_lock(&L->lock);
        } else if (L->next_take < L->nchunks && L->next_take < L->next_compile + L->window) {
            loader_take(L, owner, &scratch);
            pending++;
        } else if (L->next_take >= L->nchunks && !pending) {
            break;
        } else {
            L->threads_wait++;
            pthread_cond_wait(&L->room, &L->lock);
            L->threads_wait--;
        }
    }
    pthread_mutex_unlock(&L->lock);
    buf_free(&scratch);
    return NULL;
}

/* Starts threads - 1 loader threads (fewer if some do not start). Returns
 * how many started; with none, L needs no cleanup. */
static unsigned loader_start(loader *L, pthread_t *tid, loader_arg *args, unsigned threads)
{
    unsigned started = 0;
    if (threads < 2 || pthread_mutex_init(&L->lock, NULL) != 0)
        return 0;
    if (pthread_cond_init(&L->ready, NULL) == 0) {
        if (pthread_cond_init(&L->room, NULL) == 0) {
            /* a thread that does not start leaves its share to the others */
            for (; started < threads - 1; started++) {
                args[started] = (loader_arg){ L, started + 1 };
                if (pthread_create(&tid[started], NULL, loader_thread, &args[started]) != 0)
                    break;
            }
            if (!started)
                pthread_cond_destroy(&L->room);
        }
        if (!started)
            pthread_cond_destroy(&L->ready);
    }
    if (!started)
        pthread_mutex_destroy(&L->lock);
    return started;
}

/* Loads the items in order, threads of them (the calling thread counts)
 * reading and parsing ahead. Returns the number loaded, or -1 if some item
 * was bad. */
static int load_items(sigma_set *s, load_item *items, size_t n, unsigned threads, sigma_report_fn report,
                      void *arg)
{
    loader L = { .items = items, .window = (size_t)threads * LOAD_WINDOW_PER_THREAD };
    pthread_t tid[LOAD_MAX_THREADS - 1];
    loader_arg args[LOAD_MAX_THREADS - 1];
    ot_buf scratch = { 0 };
    unsigned started = 0;
    if (threads > 1) {
        L.nchunks = load_chunks(items, n, threads, &L.chunks);
        started = L.nchunks > 1 ? loader_start(&L, tid, args, threads) : 0;
    }
    int total = 0, bad = 0;
    for (size_t k = 0, i = 0; i < n; k++) {
        size_t end = n;              /* without threads: the one run of every item, serially */
        if (started) {
            pthread_mutex_lock(&L.lock);
            while (!L.chunks[k].ready) {
                /* rather than wait, parse what a loader thread would take next */
                if (L.next_take < L.nchunks && L.next_take < L.next_compile + L.window) {
                    loader_take(&L, 0, &scratch);
                } else {
                    L.compiler_waits = 1;
                    pthread_cond_wait(&L.ready, &L.lock);
                    L.compiler_waits = 0;
                }
            }
            pthread_mutex_unlock(&L.lock);
            end = L.chunks[k].end;
        }
        for (; i < end; i++) {
            int got = load_item_compile(s, &items[i], report, arg);
            if (got < 0)
                bad = 1;
            else
                total += got;
        }
        if (started) {
            if (L.chunks[k].owner == 0)
                loader_release(&L, k);
            pthread_mutex_lock(&L.lock);
            L.next_compile = k + 1;
            if (L.threads_wait)
                pthread_cond_broadcast(&L.room);
            pthread_mutex_unlock(&L.lock);
        }
    }
    if (started) {
        for (unsigned t = 0; t < started; t++)
            pthread_join(tid[t], NULL);
        pthread_cond_destroy(&L.room);
        pthread_cond_destroy(&L.ready);
        pthread_mutex_destroy(&L.lock);
    }
    free(L.chunks);
    buf_free(&scratch);
    return bad ? -1 : total;
}

/* 0: one per CPU this process may use (ot_cpus), at most LOAD_MAX_THREADS. */
static unsigned load_threads(unsigned threads)
{
    if (!threads)
        threads = ot_cpus();
    return threads < LOAD_MAX_THREADS ? threads : LOAD_MAX_THREADS;
}

int sigma_load_path_threads(sigma_set *s, const char *path, unsigned threads, sigma_report_fn report, void *arg)
{
    load_list l = { 0 };
    struct stat st;
    int seen = stat(path, &st) == 0;
    walk_stat(&l, path, seen ? &st : NULL, errno, NULL);
    threads = load_threads(threads);
    if (threads > l.n)
        threads = l.n ? (unsigned)l.n : 1;
    int rc = load_items(s, l.items, l.n, threads, report, arg);
    free(l.items);
    if (l.nomem) {
        report_bad_file(report, arg, path, 0, "cannot read: out of memory");
        rc = -1;
    }
    return rc;
}

int sigma_load_path(sigma_set *s, const char *path, sigma_report_fn report, void *arg)
{
    return sigma_load_path_threads(s, path, 0, report, arg);
}
