/*
 * reader: gets an input's bytes off the disk (or stdin) and hands them on in
 * chunks. This is the synchronous reader; it knows nothing of what the
 * bytes mean.
 */
#ifndef ORGTRAIL_READER_H
#define ORGTRAIL_READER_H

#include <stddef.h>
#include <stdint.h>

/* Receives each chunk in order. Returns 0 to go on, nonzero to stop. */
typedef int (*reader_sink)(void *arg, const uint8_t *buf, size_t len);

/*
 * Reads path (stdin when path is NULL) to its end in chunks of up to
 * bufsize bytes, using buf, and passes each to sink. Returns 0, the
 * sink's nonzero value, or a negative errno; on -errno, *fail_offset says
 * how many bytes had been read (0 for a failed open).
 */
int reader_read_all(const char *path, uint8_t *buf, size_t bufsize, reader_sink sink, void *arg,
                    uint64_t *fail_offset);

#endif
