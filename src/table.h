/*
 * table: findings as a person reads them on a terminal, one line each:
 * time, severity (coloured), the rule's title, account, actor, target,
 * outcome, fitted to the terminal's width. It renders finding lines as
 * `scan` writes them, so it sits at the very end of the pipeline (the
 * writer's view, see emit.h) and a pipe or a file still gets NDJSON.
 *
 * Control characters from the log are shown as '?': a hostile event cannot
 * send escape sequences to the terminal.
 */
#ifndef ORGTRAIL_TABLE_H
#define ORGTRAIL_TABLE_H

#include <stddef.h>

#include "util.h"

typedef struct table table;

/* width: the terminal's columns (a line never exceeds it; at least 40 are
 * used); color: ANSI colours for the severity. Returns NULL when out of
 * memory. */
table *table_create(size_t width, int color);
/* Accepts NULL. */
void table_free(table *t);

/* Appends the table line of each finding line in buf (whole lines) to out;
 * a line that is not a finding is passed through as it is. Returns 0 or
 * -ENOMEM. */
int table_render(table *t, const char *buf, size_t len, ot_buf *out);

#endif
