/*
 * The scanner fed whole and in random pieces gives the same findings, error
 * line and finding count, for intact and damaged inputs alike. Regression:
 * with a damaged gzip member, how much of it ISA-L had handed out before it
 * found the damage depended on the read sizes, and so did the findings
 * taken from it (test_damaged_member_findings_split_independent).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "emit.h"
#include "parse.h"
#include "rules.h"
#include "scan.h"

static size_t gzip_member(const char *text, uint8_t *out, size_t cap)
{
    z_stream z = { 0 };
    deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)text;
    z.avail_in = (uInt)strlen(text);
    z.next_out = out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    size_t n = z.total_out;
    deflateEnd(&z);
    return n;
}

/* Records of Organizations events, with filler that makes the text long. */
static void records(char *out, size_t cap, int first, int n)
{
    size_t len = (size_t)snprintf(out, cap, "{\"Records\":[");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, cap - len,
                                "%s{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-03-01T10:00:00Z\","
                                "\"eventSource\":\"organizations.amazonaws.com\",\"eventName\":\"LeaveOrganization\","
                                "\"eventID\":\"e-%d\",\"userAgent\":\"agent-%d-%08x-%08x\"}",
                                i ? "," : "", first + i, i, (unsigned)(i * 2654435761u), (unsigned)(i * 40503u));
    snprintf(out + len, cap - len, "]}");
}

typedef struct {
    char *findings;
    size_t len;
    uint64_t count;
    char error[512];
} outcome;

static outcome scan_pieces(scanner *sc, const uint8_t *in, size_t n, uint64_t *seed)
{
    scan_result res = { 0 };
    scan_begin(sc, "input", &res);
    size_t at = 0;
    while (at < n) {
        size_t piece = seed ? 1 + check_rand(seed) % 3000 : n - at;
        if (piece > n - at)
            piece = n - at;
        if (scan_feed(sc, in + at, piece))
            break;
        at += piece;
    }
    scan_end(sc);
    outcome o = { malloc(res.findings.len + 1), res.findings.len, res.stats.findings, "" };
    memcpy(o.findings, res.findings.data, res.findings.len);
    snprintf(o.error, sizeof o.error, "%s", res.error);
    scan_result_free(&res);
    return o;
}

static void compare_splits(scanner *sc, const uint8_t *in, size_t n, const char *what)
{
    check_context = what;
    outcome whole = scan_pieces(sc, in, n, NULL);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (int round = 0; round < 12; round++) {
        outcome split = scan_pieces(sc, in, n, &seed);
        CHECK(split.len == whole.len && memcmp(split.findings, whole.findings, whole.len) == 0);
        CHECK(split.count == whole.count);
        CHECK(strcmp(split.error, whole.error) == 0);
        if (strcmp(split.error, whole.error) != 0 && check_printed)
            fprintf(stderr, "  whole: %s\n  split: %s\n", whole.error, split.error);
        free(split.findings);
    }
    free(whole.findings);
}

static void test_damaged_member_findings_split_independent(scanner *sc)
{
    static char text[1 << 20];
    size_t cap = 1 << 20;
    uint8_t *in = malloc(cap);
    records(text, sizeof text, 0, 3);
    size_t first = gzip_member(text, in, cap);
    records(text, sizeof text, 100, 3000);
    size_t second = gzip_member(text, in + first, cap - first);
    size_t n = first + second;
    compare_splits(sc, in, n, "intact");
    outcome intact = scan_pieces(sc, in, n, NULL);
    CHECK(intact.count == 3003 && intact.error[0] == '\0');
    free(intact.findings);
    /* flip bytes through the second member's deflate data */
    for (size_t pos = first + 20; pos < n - 8; pos += (n - first) / 23) {
        uint8_t *bad = malloc(n);
        memcpy(bad, in, n);
        bad[pos] ^= 0x5a;
        char what[64];
        snprintf(what, sizeof what, "flipped byte at %zu", pos);
        compare_splits(sc, bad, n, what);
        outcome o = scan_pieces(sc, bad, n, NULL);
        CHECK(o.error[0] != '\0');
        if (strstr(o.error, "CRC or length mismatch"))
            CHECK(o.count >= 3);      /* its text all came out: its findings stay */
        else
            CHECK(o.count == 3);      /* the intact first member's, and none of the damaged one's */
        free(o.findings);
        free(bad);
    }
    /* a truncated second member: what it held up to the cut is still read */
    for (size_t cut = first + 30; cut < n; cut += (n - first) / 7) {
        char what[64];
        snprintf(what, sizeof what, "truncated at %zu", cut);
        compare_splits(sc, in, cut, what);
        outcome o = scan_pieces(sc, in, cut, NULL);
        CHECK(strstr(o.error, "truncated") != NULL);
        CHECK(o.count > 3 || cut < first + 200);
        free(o.findings);
    }
    free(in);
}

/* Each finding line's dedupe key is the one its line gives back
 * (finding_line_key: what a resumed run loads), or 0 when the event has no
 * eventID string; one record matched by two rules gets two keys; a copy of
 * a record (the last) gets its keys, a record that only shares its eventID
 * (the one before, in another region) does not. */
static void test_finding_keys_are_emit_keys(scanner *sc)
{
    check_context = "finding keys";
    static const char text[] =
        "{\"Records\":["
        "{\"eventSource\":\"organizations.amazonaws.com\",\"eventName\":\"LeaveOrganization\",\"eventID\":\"e-1\"},"
        "{\"eventSource\":\"organizations.amazonaws.com\",\"eventName\":\"LeaveOrganization\",\"eventID\":\"e-\\\"2\\\\\"},"
        "{\"eventSource\":\"organizations.amazonaws.com\",\"eventName\":\"LeaveOrganization\",\"eventID\":3},"
        "{\"eventSource\":\"organizations.amazonaws.com\",\"eventName\":\"LeaveOrganization\"},"
        "{\"eventSource\":\"organizations.amazonaws.com\",\"eventName\":\"DeleteOrganization\",\"eventID\":\"e-5\"},"
        "{\"eventSource\":\"organizations.amazonaws.com\",\"eventName\":\"LeaveOrganization\",\"eventID\":\"e-1\","
        "\"awsRegion\":\"eu-west-1\"},"
        "{\"eventSource\":\"organizations.amazonaws.com\",\"eventName\":\"LeaveOrganization\",\"eventID\":\"e-1\"}"
        "]}";
    scan_result res = { 0 };
    scan_begin(sc, "input", &res);
    CHECK(scan_feed(sc, (const uint8_t *)text, sizeof text - 1) == 0);
    scan_end(sc);
    CHECK(res.nlines >= 7);
    parse_ctx *pc = parse_create();
    emit_hasher *h = emit_hasher_create();
    CHECK(h != NULL);
    size_t zero = 0;
    for (size_t i = 0; i < res.nlines; i++) {
        size_t start = i ? res.lines[i - 1].end : 0, end = res.lines[i].end;
        char err[128];
        size_t off;
        CHECK(parse_record(pc, res.findings.data + start, end - start, PARSE_KIND_EVENT, err, sizeof err, &off) == 0);
        ot_slice id;
        if (parse_get(pc, "eventID", &id) == PARSE_STRING) {
            CHECK(res.lines[i].key != 0);
            CHECK(res.lines[i].key == finding_line_key(pc, h, res.findings.data + start, end - start));
        } else {
            CHECK(res.lines[i].key == 0);
            zero++;
        }
    }
    /* the first record's line, its copy's (the last line) and the other region's (the one before) */
    CHECK(res.lines[res.nlines - 1].key == res.lines[0].key);
    CHECK(res.lines[res.nlines - 2].key != res.lines[0].key);
    emit_hasher_free(h);
    CHECK(zero == 2);     /* the numeric eventID and the missing one */
    parse_free(pc);
    scan_result_free(&res);
}

int main(void)
{
    rules *r = rules_create(1);
    size_t nneedles;
    const rule *unanchored;
    const char *const *needles = rules_needles(r, 0, &nneedles, &unanchored);
    scan_options opt = { .max_record = 64u << 20, .window = 1u << 16, .rules = r, .needles = needles,
                         .nneedles = nneedles };
    scanner *sc = scan_create(&opt);
    test_damaged_member_findings_split_independent(sc);
    test_finding_keys_are_emit_keys(sc);
    scan_free(sc);
    /* --no-dedupe: no key is made (and no content hashed) */
    check_context = "no dedupe keys";
    opt.no_dedupe_keys = 1;
    sc = scan_create(&opt);
    static const char one[] = "{\"Records\":[{\"eventSource\":\"organizations.amazonaws.com\","
                              "\"eventName\":\"LeaveOrganization\",\"eventID\":\"e-1\"}]}";
    scan_result res = { 0 };
    scan_begin(sc, "input", &res);
    CHECK(scan_feed(sc, (const uint8_t *)one, sizeof one - 1) == 0);
    scan_end(sc);
    CHECK(res.nlines == 1 && res.lines[0].key == 0);
    scan_result_free(&res);
    scan_free(sc);
    rules_free(r);
    return check_summary();
}
