/*
 * test_fair_pool.c - unit tests of the database connections' wait order (frontend/fair_pool.h),
 * with real threads.
 *
 * Waiters get given-back slots in the order they started waiting; a thread arriving while
 * others wait never overtakes them (not even with a free-looking pool); a waiter that times
 * out leaves the queue without taking a slot; slots in use are never handed out twice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../frontend/fair_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define WAITERS 12

static void
s_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Wait (up to 10 s) until n threads are queued in the pool. */
static void
s_wait_queued(fair_pool_t *pool, int n)
{
    for (int i = 0; i < 10000 && fair_pool_waiting(pool) < n; i++)
        s_sleep_ms(1);
    assert_int_equal(fair_pool_waiting(pool), n);
}

typedef struct {
    fair_pool_t *pool;
    int index;
    int timeout_ms;
    int slot;
    /* shared */
    pthread_mutex_t *lock;
    int *order;
    int *served;
} s_waiter_arg_t;

static void *
s_waiter(void *p)
{
    s_waiter_arg_t *a = p;
    a->slot = fair_pool_take(a->pool, a->timeout_ms);
    if (a->slot >= 0) {
        pthread_mutex_lock(a->lock);
        a->order[(*a->served)++] = a->index;
        pthread_mutex_unlock(a->lock);
        s_sleep_ms(2); /* hold it a little, as a query does */
        fair_pool_give(a->pool, a->slot);
    }
    return NULL;
}

static void
test_free_slots(void **state)
{
    (void)state;
    fair_pool_t *pool = fair_pool_new(3);
    assert_non_null(pool);
    /* All three, each once; then none, at once (timeout 0) and after a wait. */
    int seen[3] = {0};
    for (int i = 0; i < 3; i++) {
        int s = fair_pool_take(pool, 0);
        assert_true(s >= 0 && s < 3);
        seen[s]++;
    }
    assert_int_equal(seen[0] + seen[1] + seen[2], 3);
    assert_true(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
    assert_int_equal(fair_pool_take(pool, 0), -1);
    assert_int_equal(fair_pool_take(pool, 30), -1);
    assert_int_equal(fair_pool_waiting(pool), 0);
    /* The slot given back last goes out first (its connection is warm). */
    fair_pool_give(pool, 1);
    fair_pool_give(pool, 2);
    assert_int_equal(fair_pool_take(pool, 0), 2);
    assert_int_equal(fair_pool_take(pool, 0), 1);
    fair_pool_destroy(&pool);
    assert_null(pool);
}

/* WAITERS threads queue up one after another on a pool of one busy slot; the slot then goes
 * round them in exactly their arrival order. */
static void
test_waiters_served_in_arrival_order(void **state)
{
    (void)state;
    fair_pool_t *pool = fair_pool_new(1);
    int held = fair_pool_take(pool, 0);
    assert_int_equal(held, 0);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    int order[WAITERS], served = 0;
    pthread_t threads[WAITERS];
    s_waiter_arg_t args[WAITERS];
    for (int i = 0; i < WAITERS; i++) {
        args[i] = (s_waiter_arg_t){.pool = pool,
                                   .index = i,
                                   .timeout_ms = 20000,
                                   .lock = &lock,
                                   .order = order,
                                   .served = &served};
        assert_int_equal(pthread_create(&threads[i], NULL, s_waiter, &args[i]), 0);
        s_wait_queued(pool, i + 1); /* thread i waits before thread i + 1 starts */
    }
    fair_pool_give(pool, held);
    for (int i = 0; i < WAITERS; i++)
        pthread_join(threads[i], NULL);
    assert_int_equal(served, WAITERS);
    for (int i = 0; i < WAITERS; i++)
        assert_int_equal(order[i], i);
    /* All given back: the one slot is free again. */
    assert_int_equal(fair_pool_take(pool, 0), 0);
    fair_pool_destroy(&pool);
}

/* A slot given back while a thread waits is that thread's: a newcomer, even one that asks at
 * once, does not get it (with a plain condition variable it often did, and the sleeping
 * waiter timed out). */
static void
test_newcomer_does_not_overtake(void **state)
{
    (void)state;
    fair_pool_t *pool = fair_pool_new(1);
    int held = fair_pool_take(pool, 0);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    int order[1], served = 0;
    s_waiter_arg_t arg = {.pool = pool,
                          .index = 7,
                          .timeout_ms = 20000,
                          .lock = &lock,
                          .order = order,
                          .served = &served};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, s_waiter, &arg), 0);
    s_wait_queued(pool, 1);
    fair_pool_give(pool, held);
    /* Straight after the give, before the waiter can have run: nothing for the newcomer. */
    assert_int_equal(fair_pool_take(pool, 0), -1);
    pthread_join(t, NULL);
    assert_int_equal(arg.slot, held);
    assert_int_equal(served, 1);
    assert_int_equal(order[0], 7);
    fair_pool_destroy(&pool);
}

/* A waiter that gives up leaves the queue and takes nothing: the next waiter behind it gets
 * the slot, and the slot count stays right. */
static void
test_timed_out_waiter_leaves_queue(void **state)
{
    (void)state;
    fair_pool_t *pool = fair_pool_new(1);
    int held = fair_pool_take(pool, 0);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    int order[2], served = 0;
    s_waiter_arg_t quick = {.pool = pool,
                            .index = 0,
                            .timeout_ms = 50,
                            .lock = &lock,
                            .order = order,
                            .served = &served};
    s_waiter_arg_t patient = {.pool = pool,
                              .index = 1,
                              .timeout_ms = 20000,
                              .lock = &lock,
                              .order = order,
                              .served = &served};
    pthread_t tq, tp;
    assert_int_equal(pthread_create(&tq, NULL, s_waiter, &quick), 0);
    s_wait_queued(pool, 1);
    assert_int_equal(pthread_create(&tp, NULL, s_waiter, &patient), 0);
    pthread_join(tq, NULL); /* the quick one gives up after 50 ms */
    assert_int_equal(quick.slot, -1);
    s_wait_queued(pool, 1); /* only the patient one is left */
    fair_pool_give(pool, held);
    pthread_join(tp, NULL);
    assert_int_equal(patient.slot, held);
    assert_int_equal(served, 1);
    assert_int_equal(order[0], 1);
    assert_int_equal(fair_pool_take(pool, 0), held);
    assert_int_equal(fair_pool_take(pool, 0), -1);
    fair_pool_destroy(&pool);
}

/* Many threads hammering a small pool: a slot is never held by two at once, and every take
 * with a generous timeout succeeds. */
#define HAMMER_THREADS 16
#define HAMMER_ROUNDS 300
#define HAMMER_SLOTS 4
static atomic_int s_holders[HAMMER_SLOTS];
static atomic_int s_double, s_failed;

static void *
s_hammer(void *p)
{
    fair_pool_t *pool = p;
    for (int i = 0; i < HAMMER_ROUNDS; i++) {
        int s = fair_pool_take(pool, 20000);
        if (s < 0 || s >= HAMMER_SLOTS) {
            atomic_fetch_add(&s_failed, 1);
            continue;
        }
        if (atomic_fetch_add(&s_holders[s], 1) != 0)
            atomic_fetch_add(&s_double, 1);
        atomic_fetch_sub(&s_holders[s], 1);
        fair_pool_give(pool, s);
    }
    return NULL;
}

static void
test_slots_never_shared(void **state)
{
    (void)state;
    fair_pool_t *pool = fair_pool_new(HAMMER_SLOTS);
    pthread_t t[HAMMER_THREADS];
    for (int i = 0; i < HAMMER_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, s_hammer, pool), 0);
    for (int i = 0; i < HAMMER_THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&s_failed), 0);
    assert_int_equal(atomic_load(&s_double), 0);
    assert_int_equal(fair_pool_waiting(pool), 0);
    int seen = 0;
    while (fair_pool_take(pool, 0) >= 0)
        seen++;
    assert_int_equal(seen, HAMMER_SLOTS);
    fair_pool_destroy(&pool);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_slots),
        cmocka_unit_test(test_waiters_served_in_arrival_order),
        cmocka_unit_test(test_newcomer_does_not_overtake),
        cmocka_unit_test(test_timed_out_waiter_leaves_queue),
        cmocka_unit_test(test_slots_never_shared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
