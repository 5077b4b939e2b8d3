/* fair_pool.c - see fair_pool.h: slots handed out in FIFO order, a given-back slot handed
 * directly to the longest waiter. */
#include "fair_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* One waiting thread, on its own stack: its own condition variable, so that a given-back slot
 * wakes exactly the thread it was handed to. */
typedef struct s_waiter_t {
    struct s_waiter_t *prev, *next;
    pthread_cond_t cond;
    int slot; /* -1 until a slot is handed over */
} s_waiter_t;

struct fair_pool_t {
    pthread_mutex_t lock;
    int *free_slots; /* stack of free slots */
    int nfree;
    s_waiter_t *head, *tail; /* FIFO of waiting threads, oldest first */
    int waiting;
};

fair_pool_t *
fair_pool_new(int size)
{
    fair_pool_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->free_slots = calloc(size > 0 ? (size_t)size : 1, sizeof *self->free_slots);
    if (self->free_slots == NULL) {
        free(self);
        return NULL;
    }
    for (int i = 0; i < size; i++) /* slot 0 on top: it goes out first */
        self->free_slots[self->nfree++] = size - 1 - i;
    pthread_mutex_init(&self->lock, NULL);
    return self;
}

void
fair_pool_destroy(fair_pool_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    fair_pool_t *self = *self_p;
    pthread_mutex_destroy(&self->lock);
    free(self->free_slots);
    free(self);
    *self_p = NULL;
}

static void
s_unlink(fair_pool_t *self, s_waiter_t *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        self->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        self->tail = w->prev;
    w->prev = w->next = NULL;
    self->waiting--;
}

int
fair_pool_take(fair_pool_t *self, int timeout_ms)
{
    pthread_mutex_lock(&self->lock);
    if (self->head == NULL && self->nfree > 0) {
        int slot = self->free_slots[--self->nfree];
        pthread_mutex_unlock(&self->lock);
        return slot;
    }
    if (timeout_ms <= 0) {
        pthread_mutex_unlock(&self->lock);
        return -1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = ts.tv_nsec + (int64_t)(timeout_ms % 1000) * 1000000;
    ts.tv_sec += timeout_ms / 1000 + (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);

    s_waiter_t w = {.prev = self->tail, .next = NULL, .slot = -1};
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w.cond, &attr);
    pthread_condattr_destroy(&attr);
    if (self->tail != NULL)
        self->tail->next = &w;
    else
        self->head = &w;
    self->tail = &w;
    self->waiting++;
    while (w.slot < 0) {
        if (pthread_cond_timedwait(&w.cond, &self->lock, &ts) == ETIMEDOUT && w.slot < 0) {
            s_unlink(self, &w); /* gave up: no slot was handed to it */
            break;
        }
    }
    pthread_mutex_unlock(&self->lock);
    pthread_cond_destroy(&w.cond);
    return w.slot;
}

void
fair_pool_give(fair_pool_t *self, int slot)
{
    pthread_mutex_lock(&self->lock);
    s_waiter_t *w = self->head;
    if (w != NULL) {
        s_unlink(self, w);
        w->slot = slot;
        pthread_cond_signal(&w->cond); /* under the lock: w lives until it has seen its slot */
    } else {
        self->free_slots[self->nfree++] = slot;
    }
    pthread_mutex_unlock(&self->lock);
}

int
fair_pool_waiting(fair_pool_t *self)
{
    pthread_mutex_lock(&self->lock);
    int n = self->waiting;
    pthread_mutex_unlock(&self->lock);
    return n;
}
