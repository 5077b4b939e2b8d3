/*
 * fair_pool.h - N interchangeable slots (the frontend's database connections) handed out first
 * come, first served.
 *
 * A thread that finds no free slot waits in a FIFO; a slot given back goes straight to the
 * longest waiter, never to a thread that arrives meanwhile (no barging), so under overload
 * every waiter's time is bounded by the waiters ahead of it. (With one condition variable and
 * a free list, a released slot went to whichever thread took the lock first: new arrivals
 * overtook sleeping waiters, which then ran into the acquire timeout and answered 503.)
 * Free slots are a stack: the connection used last, whose backend is warm, goes out first.
 *
 * The pool owns only slot numbers and its lock; what a slot stands for is the caller's.
 * Thread-safe; no logging.
 */
#ifndef PROFAI_FRONTEND_FAIR_POOL_H
#define PROFAI_FRONTEND_FAIR_POOL_H

#include <profai/compiler.h>

typedef struct fair_pool_t fair_pool_t;

/* A pool of slots 0..size-1, all free. NULL when out of memory. */
fair_pool_t *fair_pool_new(int size);
void fair_pool_destroy(fair_pool_t **self_p);

/* A free slot, waiting up to timeout_ms (0: none) behind earlier waiters; -1 on timeout. */
int fair_pool_take(fair_pool_t *self, int timeout_ms) PROFAI_MUST_CHECK;

/* Give slot back: to the longest waiter if any, else to the free slots. */
void fair_pool_give(fair_pool_t *self, int slot);

/* Threads waiting right now (metrics, tests). */
int fair_pool_waiting(fair_pool_t *self);

#endif
