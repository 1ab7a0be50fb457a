/*
 * pool: the bounded pieces the pipeline is built from (zstd's POOL_, pigz's
 * yarn): a blocking FIFO of jobs, and a fixed set of I/O buffers that travel
 * with their chunk and go back when the last holder is done with them.
 */
#ifndef ORGTRAIL_POOL_H
#define ORGTRAIL_POOL_H

#include <stddef.h>
#include <stdint.h>

/* A bounded FIFO of pointers. A full queue blocks the producer. */
typedef struct pool_queue pool_queue;

/* Returns NULL when out of memory. cap >= 1. */
pool_queue *pool_queue_create(size_t cap);
/* Accepts NULL. The queue must be empty of waiters. */
void pool_queue_free(pool_queue *q);
/* Appends item, waiting while the queue is full. Returns 0, or -1 once the
 * queue is closed (item not added). */
int pool_queue_push(pool_queue *q, void *item);
/* Appends n items under one lock, waiting while the queue is full, and
 * wakes the consumers once for them all (a wake-up costs more than the
 * lock). Returns 0, or -1 once the queue is closed (the rest not added). */
int pool_queue_push_many(pool_queue *q, void *const *items, size_t n);
/* Takes the oldest item, waiting while the queue is empty. Returns NULL
 * once the queue is closed and drained: the shutdown sentinel. */
void *pool_queue_pop(pool_queue *q);
/* Wakes every waiter; no push succeeds after this. */
void pool_queue_close(pool_queue *q);

/* count buffers of size bytes each, allocated on first use. */
typedef struct pool_buffers pool_buffers;

pool_buffers *pool_buffers_create(size_t count, size_t size);
/* Accepts NULL. Every buffer must have been given back. */
void pool_buffers_free(pool_buffers *b);
size_t pool_buffers_size(const pool_buffers *b);
/* A free buffer, or NULL when fewer than keep are free (never blocks).
 * keep lets a caller hold buffers in reserve for another use. */
uint8_t *pool_buffers_take(pool_buffers *b, size_t keep);
/* Gives a buffer back. Thread-safe. */
void pool_buffers_give(pool_buffers *b, uint8_t *buf);
size_t pool_buffers_free_count(pool_buffers *b);

#endif
