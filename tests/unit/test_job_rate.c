/* test_job_rate.c - the recent throughput kept for at most a second, from enough jobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../frontend/job_rate.h"

static void
test_nothing_kept_at_first(void **state)
{
    (void)state;
    job_rate_t rate = JOB_RATE_INIT;
    double s = -1;
    assert_false(job_rate_get(&rate, 5000, &s));
    assert_true(s == -1);
}

static void
test_kept_for_a_second(void **state)
{
    (void)state;
    job_rate_t rate = JOB_RATE_INIT;
    double s = 0;
    job_rate_put(&rate, 10000, 200, 100.0); /* 200 jobs in 100 s: 0.5 s per job */
    assert_true(job_rate_get(&rate, 10000, &s));
    assert_true(s == 0.5);
    assert_true(job_rate_get(&rate, 10000 + JOB_RATE_MAX_AGE_MS, &s));
    assert_false(job_rate_get(&rate, 10000 + JOB_RATE_MAX_AGE_MS + 1, &s));
    assert_false(job_rate_get(&rate, 9999, &s)); /* a clock before the count: count again */
    job_rate_put(&rate, 20000, 300, 60.0);
    assert_true(job_rate_get(&rate, 20500, &s));
    assert_true(s == 0.2);
}

static void
test_few_jobs_are_always_counted(void **state)
{
    (void)state;
    job_rate_t rate = JOB_RATE_INIT;
    double s = 0;
    job_rate_put(&rate, 10000, JOB_RATE_MIN_JOBS - 1, 100.0);
    assert_false(job_rate_get(&rate, 10000, &s));
    job_rate_put(&rate, 10000, JOB_RATE_MIN_JOBS, 100.0);
    assert_true(job_rate_get(&rate, 10000, &s));
    /* A later count from fewer jobs forgets the kept one. */
    job_rate_put(&rate, 10100, 3, 100.0);
    assert_false(job_rate_get(&rate, 10100, &s));
    job_rate_put(&rate, 10200, 500, 0.0);
    assert_false(job_rate_get(&rate, 10200, &s));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_kept_at_first),
        cmocka_unit_test(test_kept_for_a_second),
        cmocka_unit_test(test_few_jobs_are_always_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
