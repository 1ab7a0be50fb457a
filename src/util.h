/*
 * util: the growable byte buffer every stage writes into, and the JSON string
 * escaper that keeps orgtrail's output valid whatever the input held.
 */
#ifndef ORGTRAIL_UTIL_H
#define ORGTRAIL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    int failed;     /* an append ran out of memory: what is here is not all that was meant */
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
/* The room json_put_string needs for n bytes: each byte may become six
 * (\u001f), and its vector stores may run 16 bytes past what it writes. */
#define JSON_STRING_ROOM(n) ((n) * 6 + 2 + 16)
/* buf_append_json_string into o, which has JSON_STRING_ROOM(n) bytes of
 * room; returns the end of what it wrote. For writers that reserve once
 * for many strings. */
char *json_put_string(char *o, const char *s, size_t n);
/* Appends the whole file at path to b. Returns 0 or -errno (-ENOMEM, or
 * open's or read's). */
int buf_read_file(ot_buf *b, const char *path);
void buf_free(ot_buf *b);

/*
 * Text for a terminal, in place: every control byte (C0 but a tab, DEL,
 * and the C1 controls U+0080..U+009F in UTF-8) becomes '?'. A C1 control
 * takes two bytes and leaves one, so s only shrinks. Returns s.
 */
char *printable_text(char *s);
/*
 * One diagnostic line to f, formatted as by fprintf, through
 * printable_text but for its last newline: a file name, an S3 key or a
 * digest's text quoted in it can put no terminal code on the terminal (an
 * escape sequence could move the cursor and overwrite the findings shown
 * there). Returns as fprintf.
 */
int ot_say(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Room for one more element in a growable array: *cap elements of elem
 * bytes, len of them in use. arrayp is the address of the array's pointer
 * (a T **, T the element type). When len has reached *cap the array is
 * doubled (first elements when it is empty). Returns 0, or -ENOMEM with
 * the array and *cap as they were.
 */
int ot_grow_slow(void *arrayp, size_t *cap, size_t elem, size_t first);
static inline int ot_grow(void *arrayp, size_t *cap, size_t len, size_t elem, size_t first)
{
    return len < *cap ? 0 : ot_grow_slow(arrayp, cap, elem, first);
}

/*
 * Spare buffers, shared by all threads: buf_recycle empties b and keeps its
 * memory when it is big (else frees it); buf_take_spare gives an empty b
 * (cap 0) the memory of a kept one, and does nothing when none is kept.
 * For output that is written and then thrown away in large amounts: memory
 * used again costs no page faults, fresh memory costs one per 4 KiB.
 */
void buf_recycle(ot_buf *b);
void buf_take_spare(ot_buf *b);
void buf_spares_free(void);     /* frees the kept ones: when no thread uses them */

/*
 * Parses an RFC 3339 time ("2024-03-01T10:00:02Z", "2024-03-01T10:00:02.5+01:00";
 * a space for the T is accepted) or a bare date ("2024-03-01", midnight UTC),
 * n bytes of s. Returns 0 with *epoch (seconds since 1970, UTC, fraction
 * dropped) and *date_only, or -1 when s is not such a time.
 */
int parse_time(const char *s, size_t n, int64_t *epoch, int *date_only);

/* What parse_when() read. */
enum when_kind { WHEN_EXACT, WHEN_DATE, WHEN_RELATIVE };

/*
 * Parses a --since/--until value: what parse_time() takes, or a duration
 * back from now ("7d", "36h", "30m", "90s", "2w"), which gives now minus the
 * duration, exactly. now is seconds since 1970 UTC (injected, for tests).
 * Returns 0 with *epoch and *kind, or -1 when s is neither.
 */
int parse_when(const char *s, int64_t now, int64_t *epoch, enum when_kind *kind);

/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

/* Eight bytes with their ASCII letters lowered, all at once: bit 7 of each
 * byte of ge_a (gt_z) says its low seven bits are >= 'A' (> 'Z'), and no
 * sum carries into the next byte; bytes >= 0x80 stay as they are. */
static inline uint64_t ascii_lower8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL;
    uint64_t low7 = x & (0x7F * ones);
    uint64_t ge_a = low7 + (0x80 - 'A') * ones, gt_z = low7 + (0x7F - 'Z') * ones;
    return x | (ge_a & ~gt_z & ~x & (0x80 * ones)) >> 2;
}

/* The CPUs this process may use, at least 1: its affinity mask (taskset,
 * a container's cpuset), lowered to a CPU limit of its cgroup and the
 * cgroups above it (v2 cpu.max, v1 cpu.cfs_quota_us over cfs_period_us:
 * a Kubernetes or Docker limit), rounded up. */
unsigned ot_cpus(void);
/* That cgroup limit alone, read below root ("" for this system: tests give
 * a copy of /proc/self/cgroup and /sys/fs/cgroup under another root);
 * 0 when there is none. */
unsigned ot_cgroup_cpus(const char *root);

/* 64-bit FNV-1a, continued from h (start with FNV_OFFSET). */
#define FNV_OFFSET 14695981039346656037ULL
uint64_t hash_bytes(uint64_t h, const void *p, size_t n);

#endif
