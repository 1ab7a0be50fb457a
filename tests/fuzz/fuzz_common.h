/*
 * Helpers shared by the libFuzzer harnesses (zstd's tests/fuzz habits):
 * a split generator seeded from the input itself, and FUZZ_ASSERT, which
 * prints what differed and traps, so that libFuzzer saves the reproducer.
 *
 * The split seed is a hash of the whole input, not a prefix of it: a seed
 * file is then a real archive as it is (a gzip trailer, a zstd frame), and
 * any mutation of its bytes also moves the splits.
 */
#ifndef ORGTRAIL_FUZZ_COMMON_H
#define ORGTRAIL_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FUZZ_ASSERT(cond, ...)                                                                  \
    do {                                                                                        \
        if (!(cond)) {                                                                          \
            fprintf(stderr, "%s:%d: assertion failed: %s: ", __FILE__, __LINE__, #cond);        \
            fprintf(stderr, __VA_ARGS__);                                                       \
            fputc('\n', stderr);                                                                \
            __builtin_trap();                                                                   \
        }                                                                                       \
    } while (0)

typedef struct {
    uint64_t s;
} fuzz_rng;

/* FNV-1a over the input, then splitmix64 steps. */
static inline void fuzz_rng_seed(fuzz_rng *r, const uint8_t *data, size_t size)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 0x100000001b3ull;
    r->s = h;
}

static inline uint64_t fuzz_rng_next(fuzz_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A piece size in 1..max: mostly tiny (the edges of magics, headers and
 * trailers), sometimes anything up to max. */
static inline size_t fuzz_rng_size(fuzz_rng *r, size_t max)
{
    uint64_t v = fuzz_rng_next(r);
    size_t lim = (v & 3) == 0 ? max : (v & 3) == 1 ? 64 : 8;
    if (lim > max)
        lim = max;
    return lim ? 1 + (size_t)((v >> 8) % lim) : 1;
}

#endif
