/*
 * report: one self-contained HTML page about a set of findings, to hand to
 * an incident channel or attach to a ticket. Inline CSS and inline SVG
 * only: no script, style sheet, font or image is loaded from anywhere, so it
 * works offline. The page is src/report.html, embedded at build time; this
 * module fills its @@SLOTS@@ from a summary. It stays readable at any size:
 * it aggregates, and lists only what a person can read (REPORT_MAX_ROWS
 * story rows, REPORT_MAX_ACCOUNTS account panels), saying what it left out.
 */
#ifndef ORGTRAIL_REPORT_H
#define ORGTRAIL_REPORT_H

#include <stdio.h>

#include "summary.h"

#define REPORT_MAX_ROWS 1000
#define REPORT_MAX_ACCOUNTS 60
#define REPORT_MAX_ACTORS 25

/* The page template (CMakeLists.txt embeds src/report.html). */
extern const char orgtrail_report_template[];

/* Writes the page. Returns 0, or -1 when out of memory or a write failed
 * (errno says which). */
int report_write(summary *s, FILE *out);

#endif
