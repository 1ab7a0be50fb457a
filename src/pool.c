#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

struct pool_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    void **items;
    size_t cap, head, count;
    int closed;
};

pool_queue *pool_queue_create(size_t cap)
{
    pool_queue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->items = calloc(cap ? cap : 1, sizeof *q->items);
    if (!q->items) {
        free(q);
        return NULL;
    }
    q->cap = cap ? cap : 1;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    return q;
}

void pool_queue_free(pool_queue *q)
{
    if (!q)
        return;
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->items);
    free(q);
}

int pool_queue_push(pool_queue *q, void *item)
{
    int rc = 0;
    pthread_mutex_lock(&q->mu);
    while (q->count == q->cap && !q->closed)
        pthread_cond_wait(&q->not_full, &q->mu);
    if (q->closed) {
        rc = -1;
        goto out;
    }
    q->items[(q->head + q->count) % q->cap] = item;
    q->count++;
    pthread_cond_signal(&q->not_empty);
out:
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int pool_queue_push_many(pool_queue *q, void *const *items, size_t n)
{
    int rc = 0;
    size_t added = 0;
    pthread_mutex_lock(&q->mu);
    for (size_t i = 0; i < n; i++) {
        while (q->count == q->cap && !q->closed) {
            if (added)
                pthread_cond_broadcast(&q->not_empty);   /* what is in must be taken to make room */
            added = 0;
            pthread_cond_wait(&q->not_full, &q->mu);
        }
        if (q->closed) {
            rc = -1;
            break;
        }
        q->items[(q->head + q->count) % q->cap] = items[i];
        q->count++;
        added++;
    }
    if (added == 1)
        pthread_cond_signal(&q->not_empty);
    else if (added > 1)
        pthread_cond_broadcast(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

void *pool_queue_pop(pool_queue *q)
{
    void *item = NULL;
    pthread_mutex_lock(&q->mu);
    while (q->count == 0 && !q->closed)
        pthread_cond_wait(&q->not_empty, &q->mu);
    if (q->count > 0) {
        item = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->mu);
    return item;
}

void pool_queue_close(pool_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->mu);
}

struct pool_buffers {
    pthread_mutex_t mu;
    uint8_t **free_list;      /* NULL entries are not allocated yet */
    size_t free_count, count, size;
};

pool_buffers *pool_buffers_create(size_t count, size_t size)
{
    pool_buffers *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->free_list = calloc(count ? count : 1, sizeof *b->free_list);
    if (!b->free_list) {
        free(b);
        return NULL;
    }
    b->count = b->free_count = count;
    b->size = size;
    pthread_mutex_init(&b->mu, NULL);
    return b;
}

void pool_buffers_free(pool_buffers *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->free_count; i++)
        free(b->free_list[i]);
    pthread_mutex_destroy(&b->mu);
    free(b->free_list);
    free(b);
}

size_t pool_buffers_size(const pool_buffers *b)
{
    return b->size;
}

uint8_t *pool_buffers_take(pool_buffers *b, size_t keep)
{
    uint8_t *buf = NULL;
    pthread_mutex_lock(&b->mu);
    if (b->free_count > keep) {
        size_t i = --b->free_count;
        buf = b->free_list[i];
        b->free_list[i] = NULL;
        if (!buf) {
            buf = malloc(b->size);
            if (!buf)
                b->free_count++;   /* the slot stays free; the caller sees NULL */
        }
    }
    pthread_mutex_unlock(&b->mu);
    return buf;
}

void pool_buffers_give(pool_buffers *b, uint8_t *buf)
{
    pthread_mutex_lock(&b->mu);
    b->free_list[b->free_count++] = buf;
    pthread_mutex_unlock(&b->mu);
}

size_t pool_buffers_free_count(pool_buffers *b)
{
    pthread_mutex_lock(&b->mu);
    size_t n = b->free_count;
    pthread_mutex_unlock(&b->mu);
    return n;
}
