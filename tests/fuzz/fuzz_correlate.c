/*
 * fuzz_correlate: correlation state lines from anywhere (`orgtrail
 * correlate` reads states other machines wrote) into a store holding the
 * built-in correlations and tests/correlation/rules' four (one of each
 * type), then evaluated. Checked, beyond the absence of crashes: every
 * finding line is one strict JSON object, the count said is the lines
 * written, and the result does not depend on how the lines were handed
 * over (all at once, or cut in two at a line boundary, as the writer hands
 * them over input by input). The first byte picks the format and dedupe.
 * The same bytes handed to the trusted way (corr_store_add_captured, for a
 * scan's own captures only) never crash it, and a state (JSON text, no NUL
 * byte) is never taken that way: refused whole, nothing kept.
 */
#include "correlate.h"
#include "fuzz_common.h"
#include "json_check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void quiet(void *arg, const char *source, const char *rule_name, sigma_status status, const char *reason)
{
    (void)arg, (void)source, (void)rule_name, (void)status, (void)reason;
}

/* Evaluates the lines given as data[0..cut) then data[cut..size). */
static void run(const corr_set *set, const corr_options *o, const char *data, size_t size, size_t cut,
                FILE *devnull, ot_buf *out, uint64_t *findings)
{
    corr_store *s = corr_store_create(set, o);
    FUZZ_ASSERT(s, "corr_store_create");
    uint64_t bad = 0;
    int rc = corr_store_add(s, data, cut, "fuzz", 0, devnull, &bad);
    if (rc == 0)
        rc = corr_store_add(s, data + cut, size - cut, "fuzz", cut, devnull, &bad);
    FUZZ_ASSERT(rc == 0 || rc == -E2BIG, "corr_store_add: %d", rc);
    uint64_t matches = 0, below = 0;
    *findings = 0;
    if (rc == 0)
        FUZZ_ASSERT(corr_store_evaluate(s, out, &matches, findings, &below) == 0, "corr_store_evaluate failed");
    corr_store_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rules *r;
    static corr_set set;
    static FILE *devnull;
    if (!r) {
        r = rules_create(1);
        FUZZ_ASSERT(r, "rules_create");
        FUZZ_ASSERT(rules_add_sigma(r, ORGTRAIL_SOURCE_DIR "/tests/correlation/rules/correlations.yml", quiet,
                                    NULL) > 0,
                    "tests/correlation/rules/correlations.yml does not load");
        FUZZ_ASSERT(rules_link(r, quiet, NULL) == 6, "want 6 correlations");
        FUZZ_ASSERT(corr_set_of_rules(r, &set) == 0, "corr_set_of_rules");
        devnull = fopen("/dev/null", "w");
        FUZZ_ASSERT(devnull, "/dev/null");
    }
    if (size == 0)
        return 0;
    corr_options o = { data[0] & 1 ? FINDING_OCSF : FINDING_NDJSON, SEV_INFO, !(data[0] & 2), 1000 };
    const char *text = (const char *)data + 1;
    size_t n = size - 1;

    ot_buf whole = { 0 }, split = { 0 };
    uint64_t nwhole, nsplit;
    run(&set, &o, text, n, 0, devnull, &whole, &nwhole);
    const char *nl = memchr(text, '\n', n / 2 + 1 > n ? n : n / 2 + 1);
    size_t cut = nl ? (size_t)(nl - text) + 1 : 0;
    run(&set, &o, text, n, cut, devnull, &split, &nsplit);
    FUZZ_ASSERT(nwhole == nsplit && whole.len == split.len && (!whole.len || memcmp(whole.data, split.data, whole.len) == 0),
                "cut at %zu: another result", cut);

    corr_store *t = corr_store_create(&set, &o);
    FUZZ_ASSERT(t, "corr_store_create");
    uint64_t bad = 0, matches = 0, found = 0, below = 0;
    int rc = corr_store_add_captured(t, text, n, "<fuzz>", devnull, &bad);
    if (n > 0 && !memchr(text, '\0', n)) {
        FUZZ_ASSERT(rc == -EINVAL, "a state taken as captures: %d", rc);
        ot_buf none = { 0 };
        FUZZ_ASSERT(corr_store_evaluate(t, &none, &matches, &found, &below) == 0 && matches == 0 && none.len == 0,
                    "a state's matches kept as captures");
        buf_free(&none);
    }
    corr_store_free(t);

    uint64_t lines = 0;
    for (size_t at = 0; at < whole.len;) {
        const char *end = memchr(whole.data + at, '\n', whole.len - at);
        FUZZ_ASSERT(end, "a finding line without its newline");
        size_t len = (size_t)(end - (whole.data + at)), bad_at;
        const char *why = json_check_object((const uint8_t *)whole.data + at, len, &bad_at);
        FUZZ_ASSERT(!why, "finding %llu: %s at %zu", (unsigned long long)lines, why, bad_at);
        lines++;
        at += len + 1;
    }
    FUZZ_ASSERT(lines == nwhole, "%llu lines, %llu findings said", (unsigned long long)lines,
                (unsigned long long)nwhole);
    buf_free(&whole);
    buf_free(&split);
    return 0;
}
