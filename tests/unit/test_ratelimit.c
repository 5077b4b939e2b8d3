/*
 * test_ratelimit.c - unit tests of the token buckets (frontend/ratelimit.h): refill, burst,
 * the RateLimit-* values, many keys kept apart, the memory bound and its eviction order, and
 * many threads taking from one bucket without losing or inventing a token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../frontend/ratelimit.h"

#include <pthread.h>
#include <stdio.h>

static void
test_burst_then_refused(void **state)
{
    (void)state;
    /* 60 a minute = 1 a second, 5 at once. */
    ratelimit_t *rl = ratelimit_new(60, 5, 100);
    assert_non_null(rl);
    ratelimit_verdict_t v;
    for (int i = 0; i < 5; i++) {
        assert_true(ratelimit_take(rl, "alice", 1000, &v));
        assert_int_equal(v.limit, 5);
        assert_int_equal(v.remaining, 4 - i);
    }
    assert_false(ratelimit_take(rl, "alice", 1000, &v));
    assert_int_equal(v.remaining, 0);
    assert_int_equal(v.retry_after, 1);
    assert_int_equal(v.reset_s, 5);
    /* A refusal takes nothing: still one second to wait. */
    assert_false(ratelimit_take(rl, "alice", 1000, &v));
    assert_int_equal(v.retry_after, 1);
    ratelimit_destroy(&rl);
    assert_null(rl);
    ratelimit_destroy(&rl); /* NULL-safe */
}

static void
test_refill(void **state)
{
    (void)state;
    ratelimit_t *rl = ratelimit_new(60, 2, 100);
    assert_true(ratelimit_take(rl, "k", 0, NULL));
    assert_true(ratelimit_take(rl, "k", 0, NULL));
    assert_false(ratelimit_take(rl, "k", 500, NULL)); /* half a token */
    assert_true(ratelimit_take(rl, "k", 1000, NULL)); /* one */
    assert_false(ratelimit_take(rl, "k", 1000, NULL));
    /* Never more than the burst, however long the wait. */
    ratelimit_verdict_t v;
    assert_true(ratelimit_peek(rl, "k", 1000000, &v));
    assert_int_equal(v.remaining, 2);
    assert_int_equal(v.reset_s, 0);
    assert_true(ratelimit_take(rl, "k", 1000000, NULL));
    assert_true(ratelimit_take(rl, "k", 1000000, NULL));
    assert_false(ratelimit_take(rl, "k", 1000000, NULL));
    /* A clock that goes back gives nothing. */
    assert_false(ratelimit_take(rl, "k", 10, NULL));
    ratelimit_destroy(&rl);
}

static void
test_slow_rate_retry_after(void **state)
{
    (void)state;
    /* 2 a minute: a token every 30 s. */
    ratelimit_t *rl = ratelimit_new(2, 1, 10);
    ratelimit_verdict_t v;
    assert_true(ratelimit_take(rl, "t", 0, &v));
    assert_false(ratelimit_take(rl, "t", 10000, &v));
    assert_int_equal(v.retry_after, 20);
    assert_int_equal(v.reset_s, 20);
    assert_true(ratelimit_take(rl, "t", 30000, &v));
    ratelimit_destroy(&rl);
}

static void
test_keys_apart_and_peek(void **state)
{
    (void)state;
    ratelimit_t *rl = ratelimit_new(60, 1, 100);
    assert_true(ratelimit_peek(rl, "a", 0, NULL)); /* unknown: full, and not created */
    assert_int_equal(ratelimit_size(rl), 0);
    assert_true(ratelimit_take(rl, "a", 0, NULL));
    assert_false(ratelimit_peek(rl, "a", 0, NULL));
    assert_true(ratelimit_take(rl, "b", 0, NULL));
    assert_false(ratelimit_take(rl, "a", 0, NULL));
    assert_int_equal(ratelimit_size(rl), 2);
    ratelimit_destroy(&rl);
}

static void
test_memory_bound(void **state)
{
    (void)state;
    ratelimit_t *rl = ratelimit_new(60, 10, 100);
    char key[32];
    /* Ten thousand keys: never more than 100 buckets. */
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        assert_true(ratelimit_take(rl, key, i, NULL));
        assert_true(ratelimit_size(rl) <= 100);
    }
    ratelimit_destroy(&rl);

    /* Idle (refilled) buckets go first; a busy one stays. */
    rl = ratelimit_new(60, 2, 3);
    assert_true(ratelimit_take(rl, "busy", 0, NULL));
    assert_true(ratelimit_take(rl, "busy", 0, NULL));
    assert_true(ratelimit_take(rl, "idle1", 0, NULL));
    assert_true(ratelimit_take(rl, "idle2", 0, NULL));
    /* At 1.5 s the idle ones are full again, busy has 1.5 tokens. */
    assert_true(ratelimit_take(rl, "new", 1500, NULL));
    assert_int_equal(ratelimit_size(rl), 2);
    ratelimit_verdict_t v;
    assert_true(ratelimit_peek(rl, "busy", 1500, &v));
    assert_int_equal(v.remaining, 1); /* remembered, not reset */
    /* None idle: the oldest goes. */
    assert_true(ratelimit_take(rl, "new", 1500, NULL));
    assert_true(ratelimit_take(rl, "other", 1500, NULL));
    assert_int_equal(ratelimit_size(rl), 3);
    assert_true(ratelimit_take(rl, "third", 1600, NULL));
    assert_int_equal(ratelimit_size(rl), 3);
    ratelimit_destroy(&rl);
}

static void
test_invalid(void **state)
{
    (void)state;
    assert_null(ratelimit_new(0, 1, 1));
    assert_null(ratelimit_new(1, 0, 1));
    assert_null(ratelimit_new(1, 1, 0));
}

enum { THREADS = 8, TRIES = 5000 };

typedef struct {
    ratelimit_t *rl;
    int granted;
} s_worker_t;

static void *
s_take_many(void *arg)
{
    s_worker_t *w = arg;
    for (int i = 0; i < TRIES; i++)
        if (ratelimit_take(w->rl, "shared", 0, NULL))
            w->granted++;
    return NULL;
}

/* 8 threads x 5000 takes from one bucket of 1000 at a frozen clock: exactly 1000 granted. */
static void
test_threads(void **state)
{
    (void)state;
    ratelimit_t *rl = ratelimit_new(1, 1000, 10);
    pthread_t t[THREADS];
    s_worker_t w[THREADS] = {{0}};
    for (int i = 0; i < THREADS; i++) {
        w[i].rl = rl;
        assert_int_equal(pthread_create(&t[i], NULL, s_take_many, &w[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        total += w[i].granted;
    }
    assert_int_equal(total, 1000);
    ratelimit_destroy(&rl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_refused),
        cmocka_unit_test(test_refill),
        cmocka_unit_test(test_slow_rate_retry_after),
        cmocka_unit_test(test_keys_apart_and_peek),
        cmocka_unit_test(test_memory_bound),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
