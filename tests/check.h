/*
 * The unit tests' one assertion. CHECK counts passes and failures and
 * prints the first failures, with check_context (what the test is on, set by
 * the test) beside them; check_summary prints the closing line CI reads.
 * check_rand is the tests' one random number generator.
 */
#ifndef ORGTRAIL_TESTS_CHECK_H
#define ORGTRAIL_TESTS_CHECK_H

#include <stdint.h>
#include <stdio.h>

static int passed, failed;
static const char *check_context = "";
static int check_printed;   /* the last failed CHECK was printed: details may follow */

static void check_one(int ok, const char *file, int line, const char *expr)
{
    if (ok) {
        passed++;
        return;
    }
    check_printed = ++failed <= 40;
    if (check_printed)
        fprintf(stderr, "%s:%d: CHECK failed: %s%s%s%s\n", file, line, expr, *check_context ? " [" : "",
                check_context, *check_context ? "]" : "");
}

#define CHECK(cond) check_one((cond) != 0, __FILE__, __LINE__, #cond)

/* xorshift64*: the tests' seeded pseudo-random numbers; state must not be 0. */
static inline uint64_t check_rand(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545F4914F6CDD1Dull;
}

/* "N passed, M failed"; returns the exit status. */
static int check_summary(void)
{
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif
