#include "rules.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static const rule catch_all = { .id = "org.event",
                                .title = "Organizations event",
                                .level = SEV_INFO,
                                .rationale = "any other Organizations call (only with --all-org-events)" };

/*
 * The rule index. Most rules require eventName (or, failing that,
 * eventSource, or failing that some other field such as userIdentity.type)
 * to be one of a few plain values (sigma_rule_index), so a record need
 * only be tried against the rules its own values of those fields admit,
 * plus the few rules that require none. Each key is a value as a rule
 * gives it, found by a hash of its ASCII-lowered bytes and compared
 * ignoring ASCII case, which is how Sigma compares it; each slot lists its
 * rules in list order, so that a record's candidates merge back into list
 * order.
 */
typedef struct {
    const char *key;          /* NULL: a free slot */
    size_t len;
    uint64_t hash;            /* of the lowered key */
    size_t *rules;            /* indexes into the list, ascending */
    size_t n, cap;
} index_slot;

typedef struct {
    const char *field;        /* the set's interned field: its parse_get is cached */
    index_slot *slots;        /* open addressing; cap a power of two, at most half used */
    size_t cap, used;
    uint64_t lens;            /* bit n: a key n bytes long (bit 63: 63 or more), so that most
                               * values (a userAgent) are turned down without a hash */
} rule_index;

typedef struct {
    size_t *v;
    size_t n, cap;
} index_list;

/* Fields indexed at most (each costs every record a lookup); a rule
 * indexed by a further field is tried on every record. */
#define MAX_INDEXES 16

struct rules {
    rule *list;               /* the built-in pack (copied), then one per Sigma rule */
    size_t n, cap;
    size_t builtin;           /* how many of list are the built-in pack */
    sigma_set *sigma;
    const char **needles;     /* rules_needles' last answer */
    size_t nneedles;
    rule_index indexes[MAX_INDEXES];   /* one a field, in the order the list first names them */
    size_t nindexes;
    index_list unindexed;     /* the others: tried on every record */
};

/* The lowered word of p[i..i+8), or of p[i..n) zero-padded when shorter
 * (inlined: every lookup hashes and compares with it). */
__attribute__((always_inline)) static inline uint64_t lowered_word(const char *p, size_t i, size_t n)
{
    uint64_t w = 0;
    if (i + 8 <= n)
        memcpy(&w, p + i, 8);
    else
        for (size_t k = i; k < n; k++)
            w |= (uint64_t)(unsigned char)p[k] << 8 * (k - i);
    return ascii_lower8(w);
}

/* A hash of p[0..n) with ASCII letters lowered, eight bytes a step (the
 * last step overlaps the one before when n >= 8). */
static uint64_t hash_lowered(const char *p, size_t n)
{
    uint64_t h = FNV_OFFSET ^ n;
    for (size_t i = 0; i < n; i += 8) {
        h = (h ^ lowered_word(p, n >= 8 && i + 8 > n ? n - 8 : i, n)) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
    }
    return h;
}

static int same_folded(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        size_t at = n >= 8 && i + 8 > n ? n - 8 : i;
        if (lowered_word(a, at, n) != lowered_word(b, at, n))
            return 0;
    }
    return 1;
}

static int list_add(index_list *l, size_t i)
{
    if (ot_grow(&l->v, &l->cap, l->n, sizeof *l->v, 4))
        return -1;
    l->v[l->n++] = i;
    return 0;
}

static void index_clear(rule_index *x)
{
    for (size_t i = 0; i < x->cap; i++)
        free(x->slots[i].rules);
    free(x->slots);
    *x = (rule_index){ 0 };
}

/* The slot of key p[0..n): its own, or the free one where it would go. */
static index_slot *index_find(const rule_index *x, const char *p, size_t n, uint64_t h)
{
    for (size_t i = (size_t)h & (x->cap - 1);; i = (i + 1) & (x->cap - 1)) {
        index_slot *s = &x->slots[i];
        if (!s->key || (s->hash == h && s->len == n && same_folded(s->key, p, n)))
            return s;
    }
}

static int index_grow(rule_index *x)
{
    rule_index bigger = { x->field, calloc(x->cap ? x->cap * 2 : 64, sizeof(index_slot)),
                          x->cap ? x->cap * 2 : 64, x->used, x->lens };
    if (!bigger.slots)
        return -1;
    for (size_t i = 0; i < x->cap; i++)
        if (x->slots[i].key)
            *index_find(&bigger, x->slots[i].key, x->slots[i].len, x->slots[i].hash) = x->slots[i];
    free(x->slots);
    *x = bigger;
    return 0;
}

/* Files rule i under key (rules come in ascending order). */
static int index_add(rule_index *x, const char *key, size_t i)
{
    if (2 * (x->used + 1) > x->cap && index_grow(x))
        return -1;
    size_t n = strlen(key);
    uint64_t h = hash_lowered(key, n);
    x->lens |= 1ULL << (n < 63 ? n : 63);
    index_slot *s = index_find(x, key, n, h);
    if (!s->key) {
        *s = (index_slot){ key, n, h, NULL, 0, 0 };
        x->used++;
    }
    if (s->n && s->rules[s->n - 1] == i)   /* the same value twice in one rule */
        return 0;
    index_list l = { s->rules, s->n, s->cap };
    if (list_add(&l, i))
        return -1;
    s->rules = l.v;
    s->n = l.n;
    s->cap = l.cap;
    return 0;
}

/* Rebuilds the index over the whole list. */
static int index_build(rules *r)
{
    for (size_t k = 0; k < r->nindexes; k++)
        index_clear(&r->indexes[k]);
    r->nindexes = 0;
    r->unindexed.n = 0;
    for (size_t i = 0; i < r->n; i++) {
        const char *const *values;
        const char *field = sigma_rule_index(r->list[i].sigma, &values);
        rule_index *x = NULL;
        for (size_t k = 0; field && !x && k < r->nindexes; k++)
            if (r->indexes[k].field == field)   /* interned: one pointer a path */
                x = &r->indexes[k];
        if (field && !x && r->nindexes < MAX_INDEXES)
            x = &r->indexes[r->nindexes++];
        if (!x) {
            if (list_add(&r->unindexed, i))
                return -1;
            continue;
        }
        x->field = field;
        for (; *values; values++)
            if (index_add(x, *values, i))
                return -1;
    }
    return 0;
}

/* The rules the event's value of x's field admits (none: n = 0). */
static const size_t *index_lookup(const rule_index *x, parse_ctx *event, size_t *n)
{
    ot_slice v;
    *n = 0;
    if (!x->used)
        return NULL;
    enum parse_type t = parse_get(event, x->field, &v);
    if (t == PARSE_ABSENT || t == PARSE_NULL)
        return NULL;   /* the rules compare it with a string: no match */
    if (!(x->lens >> (v.len < 63 ? v.len : 63) & 1))
        return NULL;
    const index_slot *s = index_find(x, v.ptr, v.len, hash_lowered(v.ptr, v.len));
    if (!s->key)
        return NULL;
    *n = s->n;
    return s->rules;
}

static int add(rules *r, rule ru)
{
    if (ot_grow(&r->list, &r->cap, r->n, sizeof *r->list, 32))
        return -1;
    r->list[r->n++] = ru;
    return 0;
}

/* Turns the set's Sigma rules from index `from` on into list entries. */
static int add_from(rules *r, size_t from)
{
    for (size_t i = from; i < sigma_count(r->sigma); i++) {
        const sigma_rule *s = sigma_at(r->sigma, i);
        rule ru = { .id = sigma_rule_id(s),
                    .title = sigma_rule_title(s),
                    .level = (severity)sigma_rule_level(s),
                    .rationale = sigma_rule_description(s),
                    .sigma = s,
                    .lower_when_denied = sigma_rule_has_tag(s, "orgtrail.denied_one_level_lower"),
                    /* until rules_link says otherwise */
                    .silent = 0,
                    /* the list holds the set's rules in its order */
                    .twin = sigma_rule_twin(s) };
        if (add(r, ru))
            return -1;
    }
    return index_build(r);
}

/* A built-in document that does not load (the tests rule it out). */
static void on_builtin(void *arg, const char *source, const char *name, sigma_status st, const char *reason)
{
    (void)source;
    (void)name;
    (void)reason;
    if (st != SIGMA_LOADED)
        *(int *)arg = 1;
}

rules *rules_create(int with_builtin)
{
    rules *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->sigma = sigma_set_create();
    if (!r->sigma) {
        free(r);
        return NULL;
    }
    int builtin_bad = 0;
    for (const embedded_rules_file *f = orgtrail_builtin_rules; with_builtin && f->name; f++) {
        /* a file holds one rule, or a correlation and its base rules: every document must load */
        size_t before = sigma_count(r->sigma);
        if (sigma_load_text(r->sigma, f->name, (const char *)f->text, f->len, on_builtin, &builtin_bad) < 0 ||
            builtin_bad || sigma_count(r->sigma) == before) {
            rules_free(r);
            return NULL;
        }
    }
    if (add_from(r, 0)) {
        rules_free(r);
        return NULL;
    }
    r->builtin = r->n;
    return r;
}

size_t rules_builtin_count(const rules *r)
{
    return r->builtin;
}

int rules_add_sigma(rules *r, const char *path, sigma_report_fn report, void *arg)
{
    size_t before = sigma_count(r->sigma);
    int got = sigma_load_path(r->sigma, path, report, arg);
    return add_from(r, before) ? -1 : got;
}

void rules_free(rules *r)
{
    if (!r)
        return;
    sigma_set_free(r->sigma);
    for (size_t k = 0; k < r->nindexes; k++)
        index_clear(&r->indexes[k]);
    free(r->unindexed.v);
    free(r->needles);
    free(r->list);
    free(r);
}

uint64_t rules_sources_hash(const rules *r)
{
    return sigma_sources_hash(r->sigma);
}

size_t rules_count(const rules *r)
{
    return r->n;
}

const rule *rules_at(const rules *r, size_t i)
{
    return i < r->n ? &r->list[i] : NULL;
}

const char *const *rules_needles(rules *r, int org_events, size_t *n, const rule **unanchored)
{
    /* every scan asks for its needles: a caller that never linked (a test, a
     * fuzzer) still gets silent base rules; after rules_link this does nothing */
    *n = 0;
    *unanchored = NULL;
    if (rules_link(r, NULL, NULL) < 0)
        return NULL;
    free(r->needles);
    r->nneedles = 0;
    size_t cap = 1;
    for (size_t i = 0; i < r->n; i++)
        for (const char *const *nd = sigma_rule_needles(r->list[i].sigma); *nd; nd++)
            cap++;
    r->needles = malloc(cap * sizeof *r->needles);
    if (!r->needles) {
        *n = 0;
        return NULL;
    }
    if (org_events)
        r->needles[r->nneedles++] = "\"organizations.";
    for (size_t i = 0; i < r->n; i++) {
        const char *const *nd = sigma_rule_needles(r->list[i].sigma);
        r->list[i].needle_mask = 0;
        if (!*nd && !*unanchored)
            *unanchored = &r->list[i];
        for (; *nd; nd++) {
            size_t k = 0;
            while (k < r->nneedles && strcasecmp(r->needles[k], *nd) != 0)
                k++;
            if (k == r->nneedles)
                r->needles[r->nneedles++] = *nd;
            if (k < 64)
                r->list[i].needle_mask |= 1ULL << k;
            else
                r->list[i].needle_mask = UINT64_MAX;   /* beyond the mask: always evaluated */
        }
    }
    *n = r->nneedles;
    return r->needles;
}

int rules_link(rules *r, sigma_report_fn report, void *arg)
{
    int kept = sigma_set_link(r->sigma, report, arg);
    /* a base rule still matches (its matches feed the correlation) but makes no finding of its own */
    for (size_t i = 0; i < r->n; i++)
        r->list[i].silent = !sigma_rule_generates(r->list[i].sigma);
    return kept;
}

size_t rules_correlation_count(const rules *r)
{
    return sigma_correlation_count(r->sigma);
}

const sigma_correlation *rules_correlation_at(const rules *r, size_t i)
{
    return sigma_correlation_at(r->sigma, i);
}

const rule *rules_catch_all(void)
{
    return &catch_all;
}

static int has_suffix(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

int rules_is_org_source(const char *s, size_t n)
{
    static const char prefix[] = "organizations.";
    size_t p = sizeof prefix - 1;
    if (n < p || memcmp(s, prefix, p) != 0)
        return 0;
    const char *rest = s + p;
    size_t m = n - p;
    size_t tail;
    if (has_suffix(rest, m, "amazonaws.com"))
        tail = 13;
    else if (has_suffix(rest, m, "amazonaws.com.cn"))
        tail = 16;
    else
        return 0;
    if (m == tail)
        return 1;                        /* organizations.amazonaws.com */
    /* organizations.<region>.amazonaws.com: one label of [a-z0-9-] */
    size_t region_len = m - tail;
    if (region_len < 2 || rest[region_len - 1] != '.')
        return 0;
    for (size_t i = 0; i < region_len - 1; i++) {
        char c = rest[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

size_t rules_match(const rules *r, parse_ctx *event, uint64_t needles_seen, const rule **out, size_t max)
{
    /* the candidates: ascending lists (a rule is in one), the empty ones
     * left out, merged back into list order */
    const size_t *lists[MAX_INDEXES + 1];
    size_t lens[MAX_INDEXES + 1], at[MAX_INDEXES + 1], nlists = 0;
    if (r->unindexed.n) {
        lists[nlists] = r->unindexed.v;
        lens[nlists++] = r->unindexed.n;
    }
    for (size_t k = 0; k < r->nindexes; k++) {
        lists[nlists] = index_lookup(&r->indexes[k], event, &lens[nlists]);
        nlists += lens[nlists] > 0;
    }
    for (size_t j = 0; j < nlists; j++)
        at[j] = 0;
    /* the rules tried so far and their answers, for their twins */
    size_t tried[32];
    unsigned char answer[32];
    size_t ntried = 0;
    size_t found = 0;
    while (found < max) {
        size_t k = SIZE_MAX;
        for (size_t j = 0; j < nlists; j++)
            if (at[j] < lens[j] && (k == SIZE_MAX || lists[j][at[j]] < lists[k][at[k]]))
                k = j;
        if (k == SIZE_MAX)
            break;
        size_t i = lists[k][at[k]++];
        uint64_t need = r->list[i].needle_mask;
        /* an anchored rule whose literals are all absent cannot match
         * (UINT64_MAX: some of its needles are past the mask's reach) */
        if (need && need != UINT64_MAX && !(need & needles_seen))
            continue;
        /* a twin has the same needles and index keys: tried before this one, if at all */
        size_t t = ntried;
        if (r->list[i].twin != SIZE_MAX)
            for (t = 0; t < ntried && tried[t] != r->list[i].twin; t++)
                ;
        int m = t < ntried ? answer[t] : sigma_rule_matches(r->list[i].sigma, event);
        if (ntried < sizeof tried / sizeof tried[0]) {
            tried[ntried] = i;
            answer[ntried++] = (unsigned char)m;
        }
        if (m)
            out[found++] = &r->list[i];
    }
    return found;
}

severity rules_severity(const rule *ru, int denied)
{
    if (denied && ru->lower_when_denied && ru->level > SEV_INFO)
        return (severity)(ru->level - 1);
    return ru->level;
}

const char *severity_name(severity s)
{
    static const char *const names[] = { "info", "low", "medium", "high", "critical" };
    return names[s];
}
