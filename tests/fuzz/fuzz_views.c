/*
 * fuzz_views: finding lines from anywhere (a findings file may come from
 * another machine) through the views: the summary (its --json must be one
 * strict JSON object), the terminal table (no control byte from the input
 * may reach the terminal: only printable text, UTF-8, and the newlines) and
 * the HTML report (no markup from the input: no "<script" or "<img", however
 * the input spells them).
 */
#define _GNU_SOURCE
#include "fuzz_common.h"
#include "json_check.h"
#include "report.h"
#include "summary.h"
#include "table.h"

#include <stdlib.h>
#include <string.h>

static char *memstream(void (*fill)(summary *, FILE *), summary *s, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    FUZZ_ASSERT(f, "open_memstream");
    fill(s, f);
    fclose(f);
    return text;
}

static void fill_json(summary *s, FILE *f)
{
    FUZZ_ASSERT(summary_print_json(s, f) == 0, "summary_print_json failed");
}

static void fill_text(summary *s, FILE *f)
{
    summary_print_text(s, f);
}

static void fill_report(summary *s, FILE *f)
{
    FUZZ_ASSERT(report_write(s, f) == 0, "report_write failed");
}

static void no_controls(const char *what, const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        FUZZ_ASSERT(p[i] >= 0x20 || p[i] == '\n', "%s: control byte 0x%02x at %zu", what, p[i], i);
        FUZZ_ASSERT(p[i] != 0x7f, "%s: DEL at %zu", what, i);
        FUZZ_ASSERT(!(p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f),
                    "%s: a C1 control at %zu", what, i);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    summary *s = summary_create();
    FUZZ_ASSERT(s, "summary_create");
    FUZZ_ASSERT(summary_add_lines(s, (const char *)data, size) >= 0, "summary_add_lines failed");

    size_t len;
    char *json = memstream(fill_json, s, &len);
    size_t at;
    const char *why = json_check_object((const uint8_t *)json, len ? len - 1 : 0, &at);
    FUZZ_ASSERT(!why, "summary --json: %s at %zu", why, at);
    free(json);

    char *text = memstream(fill_text, s, &len);
    no_controls("summary", (const unsigned char *)text, len);
    free(text);

    table *t = table_create(80, 0);
    ot_buf out = { 0 };
    FUZZ_ASSERT(t && table_render(t, (const char *)data, size, &out) == 0, "table_render failed");
    /* a line that is not a finding passes through as it is: check only the table's lines */
    for (size_t i = 0; i < out.len;) {
        const char *nl = memchr(out.data + i, '\n', out.len - i);
        size_t n = nl ? (size_t)(nl - (out.data + i)) : out.len - i;
        if (!memmem(data, size, out.data + i, n))
            no_controls("table", (const unsigned char *)out.data + i, n);
        i += n + 1;
    }
    buf_free(&out);
    table_free(t);

    char *page = memstream(fill_report, s, &len);
    FUZZ_ASSERT(!memmem(page, len, "<script", 7) && !memmem(page, len, "<img", 4), "markup from the input");
    free(page);
    summary_free(s);
    return 0;
}
