/*
 * test_dispatch_hold.c - unit tests of the held dispatch writes (broker/dispatch_hold.h): FIFO
 * by due time, take by sequence number once only, dead slots skipped, growth past the first
 * ring with entries taken out of order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dispatch_hold.h"

#include <stdio.h>
#include <string.h>

static dispatch_held_t
s_held(int i)
{
    dispatch_held_t d = {0};
    snprintf(d.job_id, sizeof d.job_id, "job-%d", i);
    d.attempt = (uint32_t)i;
    snprintf(d.worker, sizeof d.worker, "w%d", i);
    return d;
}

static void
test_due_in_order(void **state)
{
    (void)state;
    dispatch_hold_t *h = dispatch_hold_new();
    assert_non_null(h);
    dispatch_held_t a = s_held(1), b = s_held(2), out;
    uint64_t sa = dispatch_hold_put(h, &a, 100);
    uint64_t sb = dispatch_hold_put(h, &b, 110);
    assert_true(sa != 0 && sb != 0 && sa != sb);
    int64_t due;
    assert_true(dispatch_hold_next_due(h, &due));
    assert_int_equal(due, 100);
    assert_false(dispatch_hold_take_due(h, 99, &out));
    assert_true(dispatch_hold_take_due(h, 105, &out));
    assert_string_equal(out.job_id, "job-1");
    assert_false(dispatch_hold_take_due(h, 105, &out));
    assert_true(dispatch_hold_take_due(h, 110, &out));
    assert_string_equal(out.job_id, "job-2");
    assert_false(dispatch_hold_next_due(h, &due));
    assert_int_equal(dispatch_hold_count(h), 0);
    /* Taken by its due time: not again by its number. */
    assert_false(dispatch_hold_take(h, sa, &out));
    dispatch_hold_destroy(&h);
    assert_null(h);
}

static void
test_take_once(void **state)
{
    (void)state;
    dispatch_hold_t *h = dispatch_hold_new();
    dispatch_held_t a = s_held(1), b = s_held(2), c = s_held(3), out;
    uint64_t sa = dispatch_hold_put(h, &a, 10);
    uint64_t sb = dispatch_hold_put(h, &b, 20);
    uint64_t sc = dispatch_hold_put(h, &c, 30);
    assert_true(dispatch_hold_take(h, sb, &out));
    assert_string_equal(out.worker, "w2");
    assert_false(dispatch_hold_take(h, sb, &out));
    assert_int_equal(dispatch_hold_count(h), 2);
    assert_true(dispatch_hold_take(h, sa, &out));
    /* The head skips the dead slot of b: c is next, due at 30. */
    int64_t due;
    assert_true(dispatch_hold_next_due(h, &due));
    assert_int_equal(due, 30);
    assert_false(dispatch_hold_take(h, 0, &out));
    assert_false(dispatch_hold_take(h, sc + 1, &out));
    assert_true(dispatch_hold_take_due(h, INT64_MAX, &out));
    assert_string_equal(out.job_id, "job-3");
    dispatch_hold_destroy(&h);
}

static void
test_due_never_goes_back(void **state)
{
    (void)state;
    dispatch_hold_t *h = dispatch_hold_new();
    dispatch_held_t a = s_held(1), b = s_held(2), out;
    assert_true(dispatch_hold_put(h, &a, 50) != 0);
    assert_true(dispatch_hold_put(h, &b, 40) != 0); /* a clock step back: held as long as a */
    assert_true(dispatch_hold_take_due(h, 50, &out));
    assert_true(dispatch_hold_take_due(h, 50, &out));
    assert_string_equal(out.job_id, "job-2");
    dispatch_hold_destroy(&h);
}

static void
test_grow_with_holes(void **state)
{
    (void)state;
    dispatch_hold_t *h = dispatch_hold_new();
    enum { N = 1000 };
    static uint64_t seq[N];
    dispatch_held_t out;
    /* Wrap the ring first, so growth copies a ring that does not start at slot 0. */
    for (int i = 0; i < 40; i++) {
        dispatch_held_t d = s_held(i);
        uint64_t s = dispatch_hold_put(h, &d, i);
        assert_true(dispatch_hold_take(h, s, &out));
    }
    for (int i = 0; i < N; i++) {
        dispatch_held_t d = s_held(i);
        seq[i] = dispatch_hold_put(h, &d, 100 + i);
        assert_true(seq[i] != 0);
    }
    for (int i = 0; i < N; i += 3) {
        assert_true(dispatch_hold_take(h, seq[i], &out));
        assert_int_equal(out.attempt, (uint32_t)i);
    }
    int seen = 0;
    while (dispatch_hold_take_due(h, INT64_MAX, &out)) {
        assert_true(out.attempt % 3 != 0);
        seen++;
    }
    assert_int_equal(seen, N - (N + 2) / 3);
    assert_int_equal(dispatch_hold_count(h), 0);
    dispatch_hold_destroy(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_due_in_order),
        cmocka_unit_test(test_take_once),
        cmocka_unit_test(test_due_never_goes_back),
        cmocka_unit_test(test_grow_with_holes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
