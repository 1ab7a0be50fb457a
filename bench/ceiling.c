/*
 * The inflate-only ceiling: reads every file named on stdin (one path a
 * line) and inflates it with the same gzip library orgtrail uses, on one
 * thread, and does nothing else with the bytes. Prints
 * "files decoded_bytes seconds".
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef ORGTRAIL_USE_ISAL
#include <isa-l/igzip_lib.h>
#else
#include <zlib.h>
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    size_t in_cap = 1 << 20, out_cap = 4 << 20;
    uint8_t *in = malloc(in_cap), *out = malloc(out_cap);
    char path[4096];
    uint64_t files = 0, decoded = 0;
#ifdef ORGTRAIL_USE_ISAL
    struct inflate_state *st = malloc(sizeof *st);
#else
    z_stream z;
    memset(&z, 0, sizeof z);
    inflateInit2(&z, 15 + 16);
#endif
    double t0 = now();
    while (fgets(path, sizeof path, stdin)) {
        path[strcspn(path, "\n")] = '\0';
        int fd = open(path, O_RDONLY);
        if (fd < 0) {
            perror(path);
            return 1;
        }
        size_t len = 0;
        ssize_t n;
        while ((n = read(fd, in + len, in_cap - len)) > 0) {
            len += (size_t)n;
            if (len == in_cap) {
                in_cap *= 2;
                in = realloc(in, in_cap);
            }
        }
        close(fd);
        files++;
        size_t pos = 0;
        while (pos < len) {   /* every gzip member */
#ifdef ORGTRAIL_USE_ISAL
            isal_inflate_init(st);
            st->crc_flag = ISAL_GZIP;
            st->next_in = in + pos;
            st->avail_in = (uint32_t)(len - pos);
            do {
                st->next_out = out;
                st->avail_out = (uint32_t)out_cap;
                if (isal_inflate(st) < 0) {
                    fprintf(stderr, "%s: inflate error\n", path);
                    return 1;
                }
                decoded += out_cap - st->avail_out;
            } while (st->block_state != ISAL_BLOCK_FINISH && st->avail_in > 0);
            pos = len - st->avail_in;
            if (st->block_state != ISAL_BLOCK_FINISH)
                break;
#else
            inflateReset(&z);
            z.next_in = in + pos;
            z.avail_in = (uInt)(len - pos);
            int rc;
            do {
                z.next_out = out;
                z.avail_out = (uInt)out_cap;
                rc = inflate(&z, Z_NO_FLUSH);
                if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
                    fprintf(stderr, "%s: inflate error\n", path);
                    return 1;
                }
                decoded += out_cap - z.avail_out;
            } while (rc != Z_STREAM_END && z.avail_in > 0);
            pos = len - z.avail_in;
            if (rc != Z_STREAM_END)
                break;
#endif
        }
    }
    printf("%llu %llu %.6f\n", (unsigned long long)files, (unsigned long long)decoded, now() - t0);
    return 0;
}
