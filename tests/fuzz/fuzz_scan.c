/*
 * fuzz_scan: one input through the whole per-input pipeline (decode ->
 * prefilter -> frame -> parse -> rules -> finding lines) with the built-in
 * rules, fed once whole and once in pieces whose sizes come from a seed
 * hashed from the input. Each finding line must be one strict JSON object
 * ending in a newline, and both feeds must give the same findings bytes,
 * line ends and keys, error line and exact counters (README: bytes_in is
 * exact only when there was no error).
 *
 * The seed also picks the options (--validate, --raw, --all-org-events,
 * --since/--until) and the decoded window (the smallest, 4 KiB, or the CLI's
 * 4 MiB): a small window makes a small input span several windows, which
 * is where framing state has to be carried. It also picks --format ocsf
 * and the organization's context (an inventory, a trusted principal and
 * --min-severity medium), whose lines must be just as valid.
 */
#include "fuzz_common.h"
#include "json_check.h"
#include "rules.h"
#include "scan.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    rules *r;
    const char *const *needles;
    size_t nneedles;
    int parse_all;
} rule_pack;

static rule_pack packs[2];   /* by all_org_events: rules_needles' list lives in its rules */

static org_context *org_ctx;     /* an inventory and a trusted principal, for the seeds' ids */

static void context_init(void)
{
    char path[] = "/tmp/fuzz-scan-inventory-XXXXXX";
    int fd = mkstemp(path);
    FUZZ_ASSERT(fd >= 0, "mkstemp failed");
    static const char inv[] = "{\"Policies\":[{\"Id\":\"p-tag00001\",\"Type\":\"TAG_POLICY\"},"
                              "{\"Id\":\"p-deny0001\",\"Type\":\"SERVICE_CONTROL_POLICY\"}],"
                              "\"Accounts\":[{\"Id\":\"222222222222\",\"Name\":\"Prod \\u00e9\"}]}";
    FUZZ_ASSERT(write(fd, inv, sizeof inv - 1) == (ssize_t)(sizeof inv - 1), "write failed");
    close(fd);
    char err[300];
    org_ctx = context_create();
    FUZZ_ASSERT(org_ctx && context_load_inventory(org_ctx, path, err, sizeof err) == 3, "inventory: %s", err);
    FUZZ_ASSERT(context_add_trusted(org_ctx, "arn:aws:sts::*:assumed-role/OrgAdmin/*") == 0, "trusted");
    unlink(path);
}

static void packs_init(void)
{
    context_init();
    for (int org = 0; org < 2; org++) {
        const rule *unanchored = NULL;
        packs[org].r = rules_create(1);
        FUZZ_ASSERT(packs[org].r, "rules_create(1) failed");
        packs[org].needles = rules_needles(packs[org].r, org, &packs[org].nneedles, &unanchored);
        packs[org].parse_all = unanchored != NULL;
    }
}

/* A scanner per option set, reused as a worker reuses its own: building
 * one (the prefilter's bucket assignment) costs more than most inputs. */
static scanner *scanners[256];

static void run(scanner *s, const uint8_t *data, size_t size, fuzz_rng *split, scan_result *res)
{
    scan_begin(s, "fuzz", res);
    size_t pos = 0;
    while (pos < size) {
        size_t n = split ? fuzz_rng_size(split, size - pos) : size - pos;
        int rc = scan_feed(s, data + pos, n);
        FUZZ_ASSERT(rc >= 0, "scan_feed: %d", rc);
        pos += n;
        if (rc == 1)
            break;
    }
    scan_end(s);
}

static void check_lines(const scan_result *res)
{
    size_t start = 0;
    for (size_t i = 0; i < res->nlines; i++) {
        size_t end = res->lines[i].end;
        FUZZ_ASSERT(end > start && end <= res->findings.len, "line %zu ends at %zu (start %zu, %zu bytes)", i,
                    end, start, res->findings.len);
        const uint8_t *line = (const uint8_t *)res->findings.data + start;
        size_t len = end - start;
        FUZZ_ASSERT(line[len - 1] == '\n', "line %zu does not end in a newline", i);
        FUZZ_ASSERT(!memchr(line, '\n', len - 1), "line %zu holds a raw newline", i);
        size_t at;
        const char *why = json_check_object(line, len - 1, &at);
        if (why)
            fprintf(stderr, "line %zu: %.*s", i, (int)len, (const char *)line);
        FUZZ_ASSERT(!why, "finding line %zu is not JSON: %s at byte %zu", i, why, at);
        start = end;
    }
    FUZZ_ASSERT(start == res->findings.len, "%zu findings bytes after the last line end %zu",
                res->findings.len, start);
}

#define SAME_STAT(f) FUZZ_ASSERT(a->stats.f == b->stats.f, #f ": whole %llu, split %llu", \
                                 (unsigned long long)a->stats.f, (unsigned long long)b->stats.f)

static void compare(const scan_result *a, const scan_result *b)
{
    /* ORGTRAIL_FUZZ_LAX_ERRORS=1 (see fuzz_decode.c): for a damaged input,
     * only that both saw an error and that the findings agree as far as
     * both got. */
    static int lax = -1;
    if (lax < 0)
        lax = getenv("ORGTRAIL_FUZZ_LAX_ERRORS") && atoi(getenv("ORGTRAIL_FUZZ_LAX_ERRORS")) == 1;
    if (lax && (a->error[0] || b->error[0])) {
        FUZZ_ASSERT(a->error[0] && b->error[0], "whole error \"%s\", split error \"%s\"", a->error, b->error);
        size_t m = a->findings.len < b->findings.len ? a->findings.len : b->findings.len;
        FUZZ_ASSERT(m == 0 || memcmp(a->findings.data, b->findings.data, m) == 0, "findings differ before the error");
        return;
    }
    if (strcmp(a->error, b->error) != 0)
        fprintf(stderr, "whole error: %s\nsplit error: %s\n", a->error, b->error);
    FUZZ_ASSERT(strcmp(a->error, b->error) == 0, "the error lines differ");
    size_t n = a->findings.len < b->findings.len ? a->findings.len : b->findings.len, same = 0;
    while (same < n && a->findings.data[same] == b->findings.data[same])
        same++;
    FUZZ_ASSERT(a->findings.len == b->findings.len && same == n,
                "findings differ: whole %zu bytes, split %zu, equal for %zu", a->findings.len, b->findings.len,
                same);
    FUZZ_ASSERT(a->nlines == b->nlines, "whole %zu lines, split %zu", a->nlines, b->nlines);
    for (size_t i = 0; i < a->nlines; i++)
        FUZZ_ASSERT(a->lines[i].end == b->lines[i].end && a->lines[i].key == b->lines[i].key,
                    "line %zu: end/key differ", i);
    SAME_STAT(files);
    if (!a->error[0])
        SAME_STAT(bytes_in);
    /* An error that ends the input (damage, a record over --max-record)
     * stops decoding where the reads had got to, and how much of a damaged
     * member's text comes out depends on them too (its findings are
     * dropped, see scan.c): like bytes_in, the counters of what was
     * decoded and looked at are exact without an error, or after a
     * CRC/length-only failure, which gave all of its member. */
    if (!a->error[0] || strstr(a->error, "CRC or length mismatch")) {
        SAME_STAT(bytes_decoded);
        SAME_STAT(records_seen);
        SAME_STAT(candidates);
        SAME_STAT(records_parsed);
        SAME_STAT(records_repaired);
        SAME_STAT(skipped_digest_files);
        SAME_STAT(skipped_insight_files);
        SAME_STAT(outside_window);
        SAME_STAT(below_min_severity);
    }
    SAME_STAT(findings);
    SAME_STAT(errors);
    FUZZ_ASSERT(a->stats.findings == a->nlines, "findings %llu, lines %zu",
                (unsigned long long)a->stats.findings, a->nlines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!packs[0].r)
        packs_init();
    fuzz_rng rng;
    fuzz_rng_seed(&rng, data, size);
    uint64_t mode = fuzz_rng_next(&rng);
    int org = mode & 1;
    scan_options opt = {
        .all_org_events = org,
        .raw = (mode >> 1) & 1,
        .validate = (mode >> 2) & 1,
        .max_record = (mode >> 3) & 1 ? 1u << 20 : 256,
        .window = (mode >> 4) & 1 ? 4u << 20 : 4096,
        .rules = packs[org].r,
        .needles = packs[org].needles,
        .nneedles = packs[org].nneedles,
        .parse_all = packs[org].parse_all,
        .format = (mode >> 8) & 1 ? FINDING_OCSF : FINDING_NDJSON,
    };
    if ((mode >> 9) & 1) {
        opt.context = org_ctx;
        opt.min_severity = SEV_MEDIUM;
    }
    if (((mode >> 5) & 7) == 0) {
        /* 2024-03-01T10:00:00Z .. 2024-03-01T10:30:00Z: inside the seeds' day */
        opt.has_since = opt.has_until = 1;
        opt.since = 1709287200;
        opt.until = 1709289000;
    }
    size_t key = (mode & 31) | (opt.has_since ? 32 : 0) | (opt.format ? 64 : 0) | (opt.context ? 128 : 0);
    if (!scanners[key])
        FUZZ_ASSERT(scanners[key] = scan_create(&opt), "scan_create failed");
    scan_result whole = { 0 }, split = { 0 };
    run(scanners[key], data, size, NULL, &whole);
    run(scanners[key], data, size, &rng, &split);
    check_lines(&whole);
    compare(&whole, &split);
    scan_result_free(&whole);
    scan_result_free(&split);
    return 0;
}
