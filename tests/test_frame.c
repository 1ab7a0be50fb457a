/* frame: record boundaries for every shape, split at every offset, and the
 * vector path checked against the byte-at-a-time reference. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "frame.h"


typedef struct {
    frame_records recs;
    int rc;                 /* 0, or -1 from frame_scan / frame_finish */
    uint64_t err_offset;
    char err[160];
    uint64_t warn_offset;   /* frame_warning's, when warn[0] */
    char warn[160];
} outcome;

static void outcome_free(outcome *o)
{
    frame_records_free(&o->recs);
}

/* Feeds data in pieces ending at cuts[] (ascending, last == n), keeping only
 * what frame_keep_from() asks for, as the scanner does. */
static outcome frame_pieces(const char *data, size_t n, const size_t *cuts, size_t ncuts,
                            int scalar, size_t max_record)
{
    outcome o = { 0 };
    framer *f = frame_create(max_record);
    frame_set_impl(f, (enum frame_impl)scalar);
    uint8_t *win = malloc(n + 1);
    uint64_t base = 0;
    size_t win_len = 0, fed = 0;
    for (size_t c = 0; c < ncuts && o.rc == 0; c++) {
        memcpy(win + win_len, data + fed, cuts[c] - fed);
        win_len += cuts[c] - fed;
        fed = cuts[c];
        o.rc = frame_scan(f, win, base, win_len, &o.recs);
        if (o.rc)
            break;
        uint64_t keep = frame_keep_from(f);
        size_t drop = (size_t)(keep - base);
        memmove(win, win + drop, win_len - drop);
        win_len -= drop;
        base = keep;
    }
    if (o.rc == 0)
        o.rc = frame_finish(f);
    if (o.rc) {
        o.err_offset = frame_error_offset(f);
        snprintf(o.err, sizeof o.err, "%s", frame_error(f));
    }
    const char *warning = frame_warning(f, &o.warn_offset);
    snprintf(o.warn, sizeof o.warn, "%s", warning ? warning : "");
    free(win);
    frame_free(f);
    return o;
}

static outcome frame_whole(const char *data, size_t n, int scalar)
{
    size_t cut = n;
    return frame_pieces(data, n, &cut, 1, scalar, 1 << 20);
}

static int same_outcome(const outcome *a, const outcome *b)
{
    if (a->rc != b->rc || a->recs.len != b->recs.len)
        return 0;
    if (a->rc && (a->err_offset != b->err_offset || strcmp(a->err, b->err) != 0))
        return 0;
    if (strcmp(a->warn, b->warn) != 0 || (a->warn[0] && a->warn_offset != b->warn_offset))
        return 0;
    for (size_t i = 0; i < a->recs.len; i++) {
        const frame_record *x = &a->recs.recs[i], *y = &b->recs.recs[i];
        if (x->start != y->start || x->end != y->end || x->kind != y->kind)
            return 0;
    }
    return 1;
}

/* The records' texts joined by '|', for readable expectations. */
static char *record_texts(const char *data, const outcome *o)
{
    size_t total = 1;
    for (size_t i = 0; i < o->recs.len; i++)
        total += (size_t)(o->recs.recs[i].end - o->recs.recs[i].start) + 3;
    char *s = malloc(total), *p = s;
    for (size_t i = 0; i < o->recs.len; i++) {
        const frame_record *r = &o->recs.recs[i];
        if (i)
            *p++ = '|';
        if (r->kind == PARSE_KIND_WRAPPED)
            *p++ = 'W';
        memcpy(p, data + r->start, (size_t)(r->end - r->start));
        p += r->end - r->start;
    }
    *p = '\0';
    return s;
}

static void expect_records(const char *data, const char *want, int line)
{
    size_t n = strlen(data);
    for (int scalar = 0; scalar <= 2; scalar++) {
        outcome o = frame_whole(data, n, scalar);
        char *got = record_texts(data, &o);
        if (o.rc != 0 || strcmp(got, want) != 0) {
            failed++;
            fprintf(stderr, "line %d (scalar=%d): rc=%d err='%s'\n  got  %s\n  want %s\n", line, scalar,
                    o.rc, o.err, got, want);
        } else {
            passed++;
        }
        free(got);
        outcome_free(&o);
    }
}

static void expect_error(const char *data, uint64_t offset, const char *err_part, int line)
{
    size_t n = strlen(data);
    for (int scalar = 0; scalar <= 2; scalar++) {
        outcome o = frame_whole(data, n, scalar);
        if (o.rc != -1 || o.err_offset != offset || !strstr(o.err, err_part)) {
            failed++;
            fprintf(stderr, "line %d (scalar=%d): rc=%d offset=%llu err='%s', want offset %llu '%s'\n", line,
                    scalar, o.rc, (unsigned long long)o.err_offset, o.err, (unsigned long long)offset,
                    err_part);
        } else {
            passed++;
        }
        outcome_free(&o);
    }
}

static void test_shapes(void)
{
    /* CloudTrail S3 delivery */
    expect_records("{\"Records\":[{\"a\":1},{\"b\":{\"c\":[2]}}]}", "{\"a\":1}|{\"b\":{\"c\":[2]}}", __LINE__);
    expect_records("{\"Records\":[]}", "", __LINE__);
    expect_records("{\"Records\":[{\"a\":1}]}{\"Records\":[{\"b\":2}]}", "{\"a\":1}|{\"b\":2}", __LINE__);
    /* pretty-printed, keys sorted, other keys before Records */
    expect_records("{\n  \"Other\": [1, {\"x\": 2}],\n  \"Records\" : [\n    {\"a\": 1},\n    {\"b\": 2}\n  ]\n}\n",
                   "{\"a\": 1}|{\"b\": 2}", __LINE__);
    /* a bare array, and arrays back to back */
    expect_records("[{\"a\":1},{\"b\":2}]\n[{\"c\":3}]", "{\"a\":1}|{\"b\":2}|{\"c\":3}", __LINE__);
    expect_records("[]", "", __LINE__);
    /* NDJSON and concatenated objects */
    expect_records("{\"a\":1}\n{\"b\":[1,2]}\n", "{\"a\":1}|{\"b\":[1,2]}", __LINE__);
    expect_records("{\"a\":1}{\"b\":2}  {\"c\":3}", "{\"a\":1}|{\"b\":2}|{\"c\":3}", __LINE__);
    /* EventBridge envelope: the whole object is the record */
    expect_records("{\"detail-type\":\"AWS API Call via CloudTrail\",\"resources\":[],\"detail\":{\"eventSource\":\"x\"}}",
                   "{\"detail-type\":\"AWS API Call via CloudTrail\",\"resources\":[],\"detail\":{\"eventSource\":\"x\"}}",
                   __LINE__);
    /* CloudWatch Logs and lookup-events: wrapped records */
    expect_records("{\"messageType\":\"DATA_MESSAGE\",\"subscriptionFilters\":[\"f\"],\"logEvents\":[{\"id\":\"1\",\"message\":\"{\\\"a\\\":1}\"}]}",
                   "W{\"id\":\"1\",\"message\":\"{\\\"a\\\":1}\"}", __LINE__);
    expect_records("{\"Events\":[{\"EventId\":\"1\",\"CloudTrailEvent\":\"{}\"},{\"EventId\":\"2\"}],\"NextToken\":\"t\"}",
                   "W{\"EventId\":\"1\",\"CloudTrailEvent\":\"{}\"}|W{\"EventId\":\"2\"}", __LINE__);
    /* strings full of structure characters, quotes and backslashes */
    expect_records("{\"Records\":[{\"ua\":\"}]},{\\\"x\\\":[\"},{\"p\":\"C:\\\\dir\\\\\"},{\"q\":\"\\\\\\\"}\"}]}",
                   "{\"ua\":\"}]},{\\\"x\\\":[\"}|{\"p\":\"C:\\\\dir\\\\\"}|{\"q\":\"\\\\\\\"}\"}", __LINE__);
    /* a key that merely ends in Records is not the container */
    expect_records("{\"xRecords\":[{\"a\":1}]}", "{\"xRecords\":[{\"a\":1}]}", __LINE__);
    expect_records("{\"a\\\"Records\":[{\"a\":1}]}", "{\"a\\\"Records\":[{\"a\":1}]}", __LINE__);
    /* Records nested deeper is just data */
    expect_records("{\"x\":{\"Records\":[{\"a\":1}]}}", "{\"x\":{\"Records\":[{\"a\":1}]}}", __LINE__);
    /* blank and empty inputs */
    expect_records("", "", __LINE__);
    expect_records(" \n\t\r\n", "", __LINE__);
    expect_records("{}", "{}", __LINE__);
    /* non-object array elements are not records */
    expect_records("[1,\"{\",[{\"a\":1}],{\"b\":2}]", "{\"b\":2}", __LINE__);
}

static void test_errors(void)
{
    expect_error("<html>", 0, "not JSON", __LINE__);
    expect_error("  xyz", 2, "not JSON", __LINE__);
    expect_error("{\"a\":1} x", 8, "between JSON values", __LINE__);
    expect_error("{\"a\":1}\n\"str\"", 8, "between JSON values", __LINE__);
    expect_error("{\"Records\":[{\"a\":\"open", 12, "record not closed", __LINE__);
    expect_error("{\"Records\":[{\"a\":1}", 0, "document not closed", __LINE__);
    expect_error("{", 0, "record not closed", __LINE__);
    expect_error("[", 0, "document not closed", __LINE__);
    expect_error("}", 0, "unexpected '}'", __LINE__);
    expect_error("{\"a\":[1}", 7, "mismatched '}'", __LINE__);
    expect_error("{\"a\":1}]", 7, "unexpected ']'", __LINE__);
}

static void test_max_record(void)
{
    const char *doc = "{\"Records\":[{\"a\":\"0123456789\"},{\"b\":1}]}";
    size_t n = strlen(doc), cut = n;
    outcome o = frame_pieces(doc, n, &cut, 1, 0, 12);   /* the container's 12 bytes before its key fit */
    CHECK(o.rc == -1 && o.err_offset == 12 && strstr(o.err, "--max-record"));
    outcome_free(&o);
    o = frame_pieces(doc, n, &cut, 1, 0, 18);   /* the longest record is exactly 18 bytes */
    CHECK(o.rc == 0 && o.recs.len == 2);
    outcome_free(&o);
    o = frame_pieces(doc, n, &cut, 1, 0, 17);
    CHECK(o.rc == -1 && o.err_offset == 12);
    outcome_free(&o);
    /* while a long record is still open, the limit applies before its end */
    size_t cuts[] = { 26, n };
    o = frame_pieces(doc, n, cuts, 2, 0, 12);
    CHECK(o.rc == -1 && o.err_offset == 12);
    outcome_free(&o);
}

/* Every cut of doc (each implementation, one cut or none) gives one error,
 * at want_at, with want in its text. */
static void expect_error_every_cut(const char *doc, size_t max_record, uint64_t want_at, const char *want, int line)
{
    size_t n = strlen(doc);
    for (int scalar = 0; scalar < 2; scalar++)
        for (size_t cut = 1; cut <= n; cut++) {
            size_t cuts[] = { cut, n };
            outcome o = frame_pieces(doc, n, cuts, cut == n ? 1 : 2, scalar, max_record);
            if (!(o.rc == -1 && o.err_offset == want_at && strstr(o.err, want)))
                fprintf(stderr, "line %d: cut %zu: rc %d at %llu: %s\n", line, cut, o.rc,
                        (unsigned long long)o.err_offset, o.err);
            CHECK(o.rc == -1 && o.err_offset == want_at && strstr(o.err, want));
            outcome_free(&o);
        }
}

/* Regression (fuzz_scan: max-record-or-damage-by-split): a record over the
 * limit with a later fault inside it (there, the text of a damaged gzip
 * member) was named as over the limit when a window ended before the
 * fault, and by the fault when the framer saw that far. The first fault in
 * byte order is named, for every cut. */
static void test_max_record_or_later_fault_by_split(void)
{
    /* the record at 12 has 17 bytes before its stray ']' */
    expect_error_every_cut("{\"Records\":[{\"a\":\"0123456789\"]}", 14, 12, "--max-record", __LINE__);
    expect_error_every_cut("{\"Records\":[{\"a\":\"0123456789\"]}", 17, 12, "--max-record", __LINE__);
    expect_error_every_cut("{\"Records\":[{\"a\":\"0123456789\"]}", 18, 29, "mismatched ']'", __LINE__);
    /* a document is a container once its Records key comes: 23 bytes before
     * it are over a limit of 12 (cut before the key, or after) */
    expect_error_every_cut("{\"x\":\"01234\",\"Records\":[{\"a\":1}]}", 12, 0, "--max-record", __LINE__);
    size_t cut = 33;
    outcome o = frame_pieces("{\"x\":\"01234\",\"Records\":[{\"a\":1}]}", cut, &cut, 1, 0, 24);
    CHECK(o.rc == 0 && o.recs.len == 1);
    outcome_free(&o);
}

/* Every split point (each implementation), and every pair of split points
 * (step apart), gives the outcome ref. */
static void same_at_every_split(const char *doc, size_t n, const outcome *ref, size_t step)
{
    for (size_t a = 0; a <= n; a++) {
        for (int scalar = 0; scalar <= 2; scalar++) {
            size_t cuts[] = { a, n };
            outcome o = frame_pieces(doc, n, cuts, 2, scalar, 1 << 20);
            CHECK(same_outcome(&o, ref));
            outcome_free(&o);
        }
        for (size_t b = a; b <= n; b += step) {
            size_t cuts[] = { a, b, n };
            outcome o = frame_pieces(doc, n, cuts, 3, 0, 1 << 20);
            CHECK(same_outcome(&o, ref));
            outcome_free(&o);
        }
    }
}

/* The Stratus Red Team export's fault: records in an array not separated
 * by commas. Every JSON parser rejects it; the framer says so (a warning,
 * at the second record) and frames on, so that no record after it is lost:
 * whole and split at every point (and pair of points). */
static void expect_warning(const char *data, uint64_t offset, const char *part, size_t nrecs, int line)
{
    size_t n = strlen(data);
    for (int scalar = 0; scalar <= 2; scalar++) {
        outcome o = frame_whole(data, n, scalar);
        if (o.rc != 0 || o.warn_offset != offset || !strstr(o.warn, part) || o.recs.len != nrecs) {
            failed++;
            fprintf(stderr, "line %d (scalar=%d): rc=%d records=%zu warning at %llu '%s', want %zu records, "
                            "at %llu '%s'\n", line, scalar, o.rc, o.recs.len, (unsigned long long)o.warn_offset,
                    o.warn, nrecs, (unsigned long long)offset, part);
        } else {
            passed++;
        }
        outcome_free(&o);
    }
}

static void test_validate_missing_comma(void)
{
    static const struct { const char *doc; uint64_t offset; const char *err; size_t nrecs; } cases[] = {
        { "{\"Records\":[{\"a\":1}{\"b\":2}]}", 19, "missing ','", 2 },
        { "{\"Records\":[{\"a\":1}\n  {\"b\":2}]}", 22, "missing ','", 2 },
        { "[{\"a\":1}\n{\"b\":2}]", 9, "missing ','", 2 },
        { "[{\"a\":1} [2]]", 9, "missing ','", 1 },
        { "[{\"a\":1},,{\"b\":2}]", 10, "2 commas", 2 },
        { "[{\"a\":1},\n]", 10, "',' before the array's closing ']'", 1 },
        { "{\"Events\":[{\"CloudTrailEvent\":\"{}\"} {\"CloudTrailEvent\":\"{}\"}]}", 36, "missing ','", 2 },
        /* long records, so the gap falls between and across 64-byte blocks */
        { "{\"Records\":[{\"eventSource\":\"organizations.amazonaws.com\",\"eventName\":\"CreateAccount\"}"
          "                                                                {\"eventName\":\"x\"}]}", 149, "missing ','", 2 },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *doc = cases[c].doc;
        size_t n = strlen(doc);
        expect_warning(doc, cases[c].offset, cases[c].err, cases[c].nrecs, __LINE__);
        outcome ref = frame_whole(doc, n, FRAME_IMPL_SCALAR);
        same_at_every_split(doc, n, &ref, 5);
        outcome_free(&ref);
    }
    /* what stays valid: blanks around one comma, non-object elements, NDJSON */
    expect_records("[{\"a\":1} \n, \t{\"b\":2} ]", "{\"a\":1}|{\"b\":2}", __LINE__);
    expect_records("[{\"a\":1},\"s}{\",2,null,{\"b\":2}]", "{\"a\":1}|{\"b\":2}", __LINE__);
    expect_records("{\"a\":1}{\"b\":2}\n{\"c\":3}", "{\"a\":1}|{\"b\":2}|{\"c\":3}", __LINE__);
}

/* Every split point, and every pair of split points for short docs, gives
 * the same records as the whole. */
static void test_splits(void)
{
    const char *docs[] = {
        "{\"Records\":[{\"eventSource\":\"organizations.amazonaws.com\",\"ua\":\"\\\\\\\"}]\"},"
        "{\"k\":\"[{\\\"\\\\\"},{}]}\n{\"Records\":[]}",
        "[{\"a\":\"\\u003c}\"},{\"b\":[[],{}]}]\n{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[{\"message\":\"{\\\"x\\\":\\\"}\\\"}\"}]}",
        "{\"detail-type\":\"x\",\"detail\":{\"a\":\"\\\\\"}} {\"Events\":[{\"CloudTrailEvent\":\"{}\"}]}",
    };
    for (size_t d = 0; d < sizeof docs / sizeof docs[0]; d++) {
        const char *doc = docs[d];
        size_t n = strlen(doc);
        outcome ref = frame_whole(doc, n, FRAME_IMPL_SCALAR);
        CHECK(ref.rc == 0 && ref.recs.len > 0);
        same_at_every_split(doc, n, &ref, 7);
        outcome_free(&ref);
    }
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* The SSE2 path against the byte-at-a-time reference on random structure,
 * whole and split at random points: same records, same errors. */
static void test_vector_matches_scalar(void)
{
    static const char alphabet[] = "{}[]\"\\\\a:, \n{\"}";
    char buf[400];
    int mismatches = 0;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = rng() % sizeof buf;
        /* mostly-valid documents make records happen: wrap random bodies */
        size_t p = 0;
        if (iter % 2) {
            static const char head[] = "{\"Records\":[";
            memcpy(buf, head, sizeof head - 1);
            p = sizeof head - 1;
        }
        for (; p < n; p++)
            buf[p] = alphabet[rng() % (sizeof alphabet - 1)];
        outcome ref = frame_whole(buf, n, FRAME_IMPL_SCALAR);
        outcome vec = frame_whole(buf, n, FRAME_IMPL_AUTO);
        outcome sse = frame_whole(buf, n, FRAME_IMPL_SSE2);
        size_t cuts[3] = { n ? rng() % n : 0, 0, n };
        cuts[1] = cuts[0] + (n - cuts[0] ? rng() % (n - cuts[0]) : 0);
        outcome split = frame_pieces(buf, n, cuts, 3, 0, 1 << 20);
        if (!same_outcome(&ref, &vec) || !same_outcome(&ref, &sse) || !same_outcome(&ref, &split))
            mismatches++;
        outcome_free(&ref);
        outcome_free(&vec);
        outcome_free(&sse);
        outcome_free(&split);
    }
    CHECK(mismatches == 0);
    if (mismatches)
        fprintf(stderr, "%d random inputs framed differently by the vector path\n", mismatches);
}

/* A random valid JSON value; strings are full of escaped structure. */
static void gen_value(char *out, size_t *p, size_t cap, int depth)
{
    static const char chars[] = "{}[]\",:a \\";
    int kind = depth > 3 ? 2 : (int)(rng() % 4);
    if (*p + 64 > cap)
        kind = 3;
    if (kind == 0 || kind == 1) {
        out[(*p)++] = kind == 0 ? '{' : '[';
        int n = (int)(rng() % 4);
        for (int i = 0; i < n && *p + 64 < cap; i++) {
            if (i)
                out[(*p)++] = ',';
            if (kind == 0) {
                out[(*p)++] = '"';
                out[(*p)++] = 'k';
                out[(*p)++] = '"';
                out[(*p)++] = ':';
            }
            gen_value(out, p, cap, depth + 1);
        }
        out[(*p)++] = kind == 0 ? '}' : ']';
    } else if (kind == 2) {
        out[(*p)++] = '"';
        int n = (int)(rng() % 12);
        for (int i = 0; i < n; i++) {
            char c = chars[rng() % (sizeof chars - 1)];
            if (c == '"' || c == '\\')
                out[(*p)++] = '\\';
            out[(*p)++] = c;
        }
        out[(*p)++] = '"';
    } else {
        out[(*p)++] = '1';
    }
}

/* Valid documents of every shape: the count of records is known, and the
 * vector path, the scalar path and random splits all agree. */
static void test_random_valid_documents(void)
{
    char buf[8192];
    int wrong = 0;
    for (int iter = 0; iter < 3000; iter++) {
        size_t p = 0;
        int shape = iter % 3, want = 0;
        const char *head = shape == 0 ? "{\"Records\":[" : shape == 1 ? "[" : "";
        memcpy(buf, head, strlen(head));
        p = strlen(head);
        int n = (int)(rng() % 6);
        for (int i = 0; i < n; i++) {
            if (i && shape != 2)
                buf[p++] = ',';
            if (shape == 2)
                buf[p++] = '\n';
            buf[p++] = '{';
            buf[p++] = '"';
            buf[p++] = 'v';
            buf[p++] = '"';
            buf[p++] = ':';
            gen_value(buf, &p, sizeof buf - 16, 1);
            buf[p++] = '}';
            want++;
        }
        if (shape == 0) {
            buf[p++] = ']';
            buf[p++] = '}';
        } else if (shape == 1) {
            buf[p++] = ']';
        }
        outcome ref = frame_whole(buf, p, FRAME_IMPL_SCALAR);
        outcome vec = frame_whole(buf, p, FRAME_IMPL_AUTO);
        outcome sse = frame_whole(buf, p, FRAME_IMPL_SSE2);
        size_t cuts[3] = { p ? rng() % p : 0, 0, p };
        cuts[1] = cuts[0] + (p - cuts[0] ? rng() % (p - cuts[0]) : 0);
        outcome split = frame_pieces(buf, p, cuts, 3, 0, 1 << 20);
        if (ref.rc != 0 || ref.recs.len != (size_t)want || !same_outcome(&ref, &vec) ||
            !same_outcome(&ref, &sse) || !same_outcome(&ref, &split))
            wrong++;
        outcome_free(&sse);
        outcome_free(&ref);
        outcome_free(&vec);
        outcome_free(&split);
    }
    CHECK(wrong == 0);
}

int main(void)
{
    test_shapes();
    test_errors();
    test_max_record();
    test_max_record_or_later_fault_by_split();
    test_validate_missing_comma();
    test_splits();
    test_vector_matches_scalar();
    test_random_valid_documents();
    return check_summary();
}
