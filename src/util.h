/*
 * util: the growable byte buffer every stage writes into, and the JSON string
 * escaper that keeps orgtrail's output valid whatever the input held.
 */
#ifndef ORGTRAIL_UTIL_H
#define ORGTRAIL_UTIL_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} ot_buf;

/* Makes room for extra more bytes. Returns 0 or -ENOMEM. */
int buf_reserve(ot_buf *b, size_t extra);
/* Appends n bytes. Returns 0 or -ENOMEM. */
int buf_append(ot_buf *b, const void *p, size_t n);
int buf_append_str(ot_buf *b, const char *s);
/* printf-style append. Returns 0 or -ENOMEM. */
int buf_printf(ot_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s (n bytes) as a quoted JSON string: quotes, backslashes and
 * control characters are escaped, and every invalid UTF-8 byte becomes
 * U+FFFD, so the result is valid JSON whatever s holds. */
int buf_append_json_string(ot_buf *b, const char *s, size_t n);
void buf_free(ot_buf *b);

#endif
