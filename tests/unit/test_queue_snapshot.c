/* test_queue_snapshot.c - the fair order kept for at most a second, from enough jobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "../../frontend/queue_snapshot.h"

/* n entries whose ids are "job-<i>" (unsorted: from the last), position i + 1. */
static queue_snapshot_entry_t *
s_entries(size_t n)
{
    queue_snapshot_entry_t *e = test_calloc(n, sizeof *e);
    for (size_t i = 0; i < n; i++) {
        size_t k = n - 1 - i;
        snprintf(e[i].id, sizeof e[i].id, "job-%zu", k);
        e[i].position = (long long)k + 1;
    }
    return e;
}

static void
test_found_while_fresh(void **state)
{
    (void)state;
    queue_snapshot_t q = QUEUE_SNAPSHOT_INIT;
    long long p = 0;
    assert_false(queue_snapshot_find(&q, 1000, "job-1", &p));
    assert_true(queue_snapshot_claim(&q, 1000));
    assert_false(queue_snapshot_claim(&q, 1000)); /* one taker at a time */
    queue_snapshot_entry_t *e = s_entries(150);
    assert_int_equal(queue_snapshot_put(&q, 1000, e, 150), 0);
    test_free(e);
    assert_true(queue_snapshot_find(&q, 1000, "job-0", &p));
    assert_int_equal(p, 1);
    assert_true(queue_snapshot_find(&q, 1000 + QUEUE_SNAPSHOT_MAX_AGE_MS, "job-149", &p));
    assert_int_equal(p, 150);
    assert_true(queue_snapshot_find(&q, 1500, "job-77", &p));
    assert_int_equal(p, 78);
    assert_false(queue_snapshot_find(&q, 1500, "job-150", &p)); /* queued since: computed */
    assert_false(queue_snapshot_claim(&q, 1500));               /* fresh: nothing to take */
    assert_false(queue_snapshot_find(&q, 1001 + QUEUE_SNAPSHOT_MAX_AGE_MS, "job-0", &p));
    assert_false(queue_snapshot_find(&q, 999, "job-0", &p));
    assert_true(queue_snapshot_claim(&q, 1001 + QUEUE_SNAPSHOT_MAX_AGE_MS));
    assert_int_equal(queue_snapshot_put(&q, 3000, NULL, 0), 0); /* a failed read */
    assert_false(queue_snapshot_find(&q, 3000, "job-0", &p));
}

static void
test_few_jobs_are_not_kept(void **state)
{
    (void)state;
    queue_snapshot_t q = QUEUE_SNAPSHOT_INIT;
    long long p = 0;
    queue_snapshot_entry_t *e = s_entries(QUEUE_SNAPSHOT_MIN_JOBS);
    assert_true(queue_snapshot_claim(&q, 0));
    assert_int_equal(queue_snapshot_put(&q, 0, e, QUEUE_SNAPSHOT_MIN_JOBS - 1), 0);
    assert_false(queue_snapshot_find(&q, 0, "job-1", &p));
    assert_true(queue_snapshot_claim(&q, 0)); /* nothing kept: the next may take one */
    assert_int_equal(queue_snapshot_put(&q, 0, e, QUEUE_SNAPSHOT_MIN_JOBS), 0);
    assert_true(queue_snapshot_find(&q, 0, "job-1", &p));
    assert_int_equal(queue_snapshot_put(&q, 10, e, 3), 0); /* fewer now: forgotten */
    assert_false(queue_snapshot_find(&q, 10, "job-1", &p));
    test_free(e);
    assert_int_equal(queue_snapshot_put(&q, 20, NULL, 0), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_found_while_fresh),
        cmocka_unit_test(test_few_jobs_are_not_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
