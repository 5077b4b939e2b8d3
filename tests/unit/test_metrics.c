/* test_metrics.c - the Prometheus text writer (common/metrics.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "metrics.h"

#include <pthread.h>
#include <string.h>

static void
test_family_and_samples(void **state)
{
    (void)state;
    strbuf_t b;
    strbuf_init(&b);
    metrics_family(&b, "x_total", "counter", "a \\ help\nline");
    const char *labels[] = {"route", "/a\"b\\c\nd", "status", "200", NULL};
    metrics_sample_u64(&b, "x_total", labels, 18446744073709551615ull);
    metrics_sample(&b, "y", NULL, 0.5);
    metrics_sample(&b, "z", NULL, 1.0 / 0.0);
    assert_false(strbuf_failed(&b));
    assert_string_equal(b.data, "# HELP x_total a \\\\ help\\nline\n"
                                "# TYPE x_total counter\n"
                                "x_total{route=\"/a\\\"b\\\\c\\nd\",status=\"200\"} "
                                "18446744073709551615\n"
                                "y 0.5\n"
                                "z +Inf\n");
    strbuf_free(&b);
}

static void
test_histogram(void **state)
{
    (void)state;
    static const double bounds[] = {0.01, 1};
    metrics_histogram_t h;
    metrics_histogram_init(&h, bounds, 2);
    metrics_histogram_observe_us(&h, 10000);   /* 0.01 s: le="0.01" (upper bound inclusive) */
    metrics_histogram_observe_us(&h, 500000);  /* le="1" */
    metrics_histogram_observe_us(&h, 2500000); /* +Inf */
    strbuf_t b;
    strbuf_init(&b);
    const char *labels[] = {"route", "/r", NULL};
    metrics_histogram_write(&b, "d_seconds", labels, &h);
    assert_string_equal(b.data, "d_seconds_bucket{route=\"/r\",le=\"0.01\"} 1\n"
                                "d_seconds_bucket{route=\"/r\",le=\"1\"} 2\n"
                                "d_seconds_bucket{route=\"/r\",le=\"+Inf\"} 3\n"
                                "d_seconds_sum{route=\"/r\"} 3.010000\n"
                                "d_seconds_count{route=\"/r\"} 3\n");
    strbuf_reset(&b);
    metrics_histogram_write(&b, "e", NULL, &h);
    assert_non_null(strstr(b.data, "e_bucket{le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(b.data, "e_count 3\n"));
    strbuf_free(&b);
}

static metrics_counter_t s_counter;
static metrics_histogram_t s_hist;

static void *
s_adder(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        metrics_counter_add(&s_counter, 1);
        metrics_histogram_observe_us(&s_hist, 1);
    }
    return NULL;
}

static void
test_threads(void **state)
{
    (void)state;
    metrics_histogram_init(&s_hist, metrics_bounds_request, metrics_bounds_request_n);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, s_adder, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(metrics_counter_get(&s_counter), 400000);
    assert_int_equal(s_hist.counts[0], 400000);
    assert_int_equal(s_hist.sum_us, 400000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family_and_samples),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
