/* pool: the bounded queue and the buffer pool under real threads. Built
 * with ThreadSanitizer too (scripts/test), which checks the locking. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "pool.h"


#define ITEMS 20000
#define PRODUCERS 3
#define CONSUMERS 3

typedef struct {
    pool_queue *q;
    int id;
    long sum;
    long count;
    uintptr_t last_seen[PRODUCERS];   /* per producer: items arrive in order */
    int out_of_order;
} side;

static void *produce(void *arg)
{
    side *s = arg;
    for (uintptr_t i = 1; i <= ITEMS; i++)
        if (pool_queue_push(s->q, (void *)(i * PRODUCERS + (uintptr_t)s->id)) != 0)
            break;
    return NULL;
}

static void *consume(void *arg)
{
    side *s = arg;
    void *item;
    while ((item = pool_queue_pop(s->q)) != NULL) {
        uintptr_t v = (uintptr_t)item;
        uintptr_t producer = v % PRODUCERS, seq = v / PRODUCERS;
        if (seq <= s->last_seen[producer])
            s->out_of_order = 1;
        s->last_seen[producer] = seq;
        s->sum += (long)seq;
        s->count++;
    }
    return NULL;
}

/* Every item pushed by several producers is popped exactly once, each
 * producer's items in its order, with a queue far smaller than the load. */
static void test_queue_threads(void)
{
    pool_queue *q = pool_queue_create(4);
    side prod[PRODUCERS], cons[CONSUMERS];
    pthread_t pt[PRODUCERS], ct[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++) {
        cons[i] = (side){ .q = q, .id = i };
        pthread_create(&ct[i], NULL, consume, &cons[i]);
    }
    for (int i = 0; i < PRODUCERS; i++) {
        prod[i] = (side){ .q = q, .id = i };
        pthread_create(&pt[i], NULL, produce, &prod[i]);
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(pt[i], NULL);
    pool_queue_close(q);              /* the sentinel: consumers drain, then stop */
    long sum = 0, count = 0;
    int order_ok = 1;
    for (int i = 0; i < CONSUMERS; i++) {
        pthread_join(ct[i], NULL);
        sum += cons[i].sum;
        count += cons[i].count;
        order_ok &= !cons[i].out_of_order;
    }
    CHECK(count == (long)ITEMS * PRODUCERS);
    CHECK(sum == (long)PRODUCERS * ITEMS * (ITEMS + 1) / 2);
    CHECK(order_ok);
    pool_queue_free(q);
}

/* A full queue blocks the producer; close wakes it and refuses the push. */
static void *push_one(void *arg)
{
    long rc = pool_queue_push(arg, (void *)1);
    return (void *)rc;
}

static void test_queue_bounds_and_close(void)
{
    pool_queue *q = pool_queue_create(2);
    CHECK(pool_queue_push(q, (void *)1) == 0);
    CHECK(pool_queue_push(q, (void *)2) == 0);
    pthread_t t;
    pthread_create(&t, NULL, push_one, q);   /* blocks: the queue is full */
    pool_queue_close(q);
    void *rc;
    pthread_join(t, &rc);
    CHECK((long)rc == -1);
    CHECK(pool_queue_pop(q) == (void *)1);   /* closed, but drained in order */
    CHECK(pool_queue_pop(q) == (void *)2);
    CHECK(pool_queue_pop(q) == NULL);
    CHECK(pool_queue_push(q, (void *)3) == -1);
    pool_queue_free(q);
    pool_queue_free(NULL);
}

#define BATCH 7
#define BATCHES 50

static void *push_batches(void *arg)
{
    void *items[BATCH];
    long rc = 0;
    for (uintptr_t b = 0; b < BATCHES && rc == 0; b++) {
        for (uintptr_t i = 0; i < BATCH; i++)
            items[i] = (void *)(b * BATCH + i + 1);
        rc = pool_queue_push_many(arg, items, BATCH);
    }
    return (void *)rc;
}

/* A batch longer than the queue: the producer must wake the consumer for
 * what it has put in before it waits for room, or both sleep for ever. */
static void test_queue_push_many(void)
{
    pool_queue *q = pool_queue_create(3);
    pthread_t t;
    pthread_create(&t, NULL, push_batches, q);
    int in_order = 1;
    for (uintptr_t i = 1; i <= (uintptr_t)BATCH * BATCHES; i++)
        in_order &= pool_queue_pop(q) == (void *)i;
    void *rc;
    pthread_join(t, &rc);
    CHECK(in_order);
    CHECK((long)rc == 0);
    CHECK(pool_queue_push_many(q, NULL, 0) == 0);
    void *two[2] = { (void *)1, (void *)2 };
    pool_queue_close(q);
    CHECK(pool_queue_push_many(q, two, 2) == -1);
    CHECK(pool_queue_pop(q) == NULL);
    pool_queue_free(q);
}

typedef struct {
    pool_buffers *b;
    long taken;
} buf_side;

static void *churn(void *arg)
{
    buf_side *s = arg;
    for (int i = 0; i < 20000; i++) {
        uint8_t *p = pool_buffers_take(s->b, 0);
        if (!p)
            continue;
        p[0] = (uint8_t)i;                   /* the buffer is really ours */
        p[pool_buffers_size(s->b) - 1] = (uint8_t)i;
        s->taken++;
        pool_buffers_give(s->b, p);
    }
    return NULL;
}

static void test_buffers(void)
{
    pool_buffers *b = pool_buffers_create(3, 4096);
    CHECK(pool_buffers_free_count(b) == 3);
    uint8_t *x = pool_buffers_take(b, 1), *y = pool_buffers_take(b, 1);
    CHECK(x && y && x != y);
    CHECK(pool_buffers_take(b, 1) == NULL);  /* the last one is kept in reserve */
    uint8_t *z = pool_buffers_take(b, 0);
    CHECK(z != NULL);
    CHECK(pool_buffers_take(b, 0) == NULL);  /* bounded: never more than count */
    pool_buffers_give(b, x);
    pool_buffers_give(b, y);
    pool_buffers_give(b, z);
    CHECK(pool_buffers_free_count(b) == 3);

    buf_side s[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        s[i] = (buf_side){ b, 0 };
        pthread_create(&t[i], NULL, churn, &s[i]);
    }
    long total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += s[i].taken;
    }
    CHECK(total > 0);
    CHECK(pool_buffers_free_count(b) == 3);
    pool_buffers_free(b);
    pool_buffers_free(NULL);
}

int main(void)
{
    test_queue_threads();
    test_queue_bounds_and_close();
    test_queue_push_many();
    test_buffers();
    return check_summary();
}
