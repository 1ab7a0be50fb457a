#include "rules.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const rule catch_all = { "org.event", "Organizations event", SEV_INFO,
                                "any other Organizations call (only with --all-org-events)", NULL, 0, 0 };

struct rules {
    rule *list;               /* the built-in pack (copied), then one per Sigma rule */
    size_t n, cap;
    size_t builtin;           /* how many of list are the built-in pack */
    sigma_set *sigma;
    const char **needles;     /* rules_needles' last answer */
    size_t nneedles;
};

static int add(rules *r, rule ru)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        rule *l = realloc(r->list, cap * sizeof *l);
        if (!l)
            return -1;
        r->list = l;
        r->cap = cap;
    }
    r->list[r->n++] = ru;
    return 0;
}

/* Turns the set's Sigma rules from index `from` on into list entries. */
static int add_from(rules *r, size_t from)
{
    for (size_t i = from; i < sigma_count(r->sigma); i++) {
        const sigma_rule *s = sigma_at(r->sigma, i);
        rule ru = { sigma_rule_id(s), sigma_rule_title(s), (severity)sigma_rule_level(s), sigma_rule_description(s),
                    s, sigma_rule_has_tag(s, "orgtrail.denied_one_level_lower"), 0 };
        if (add(r, ru))
            return -1;
    }
    return 0;
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
    for (const embedded_rules_file *f = orgtrail_builtin_rules; with_builtin && f->name; f++) {
        if (sigma_load_text(r->sigma, f->name, (const char *)f->text, f->len, NULL, NULL) != 1) {
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
    free(r->needles);
    r->nneedles = 0;
    *unanchored = NULL;
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
    size_t found = 0;
    for (size_t i = 0; i < r->n && found < max; i++) {
        uint64_t need = r->list[i].needle_mask;
        /* an anchored rule whose literals are all absent cannot match
         * (UINT64_MAX: some of its needles are past the mask's reach) */
        if (need && need != UINT64_MAX && !(need & needles_seen))
            continue;
        if (sigma_rule_matches(r->list[i].sigma, event))
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
