/*
 * The unit tests' one assertion. CHECK counts passes and failures and
 * prints the first failures, with check_context (what the test is on, set by
 * the test) beside them; check_summary prints the closing line CI reads.
 */
#ifndef ORGTRAIL_TESTS_CHECK_H
#define ORGTRAIL_TESTS_CHECK_H

#include <stdio.h>

static int passed, failed;
static const char *check_context = "";

static void check_one(int ok, const char *file, int line, const char *expr)
{
    if (ok) {
        passed++;
        return;
    }
    if (++failed <= 40)
        fprintf(stderr, "%s:%d: CHECK failed: %s%s%s%s\n", file, line, expr, *check_context ? " [" : "",
                check_context, *check_context ? "]" : "");
}

#define CHECK(cond) check_one((cond) != 0, __FILE__, __LINE__, #cond)

/* "N passed, M failed"; returns the exit status. */
static int check_summary(void)
{
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif
