/*
 * test_replica_lag.c - unit tests of the standby's lag by WAL position (frontend/replica_lag.h):
 * a standby that keeps up lags 0, a paused one lags from its first missing write, an idle
 * primary makes no lag, a standby behind every remembered sample is unknown, the ring keeps
 * the newest samples, and pg_lsn text parses strictly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../frontend/replica_lag.h"

static void
test_keeping_up_is_no_lag(void **state)
{
    (void)state;
    replica_lag_t lag;
    replica_lag_init(&lag);
    assert_int_equal(replica_lag_ms(&lag, 100, 0), -1); /* nothing known yet */
    replica_lag_sample(&lag, 1000, 100);
    assert_int_equal(replica_lag_ms(&lag, 100, 1001), 0);
    assert_int_equal(replica_lag_ms(&lag, 250, 1001), 0); /* past the sample: it moved on */
}

static void
test_paused_replay_lags_from_its_first_missing_write(void **state)
{
    (void)state;
    replica_lag_t lag;
    replica_lag_init(&lag);
    /* One check a second; the primary writes from t = 3 s on; replay stopped at 100. */
    uint64_t lsn[] = {100, 100, 100, 150, 200, 260};
    for (int i = 0; i < 6; i++)
        replica_lag_sample(&lag, 1000 * i, lsn[i]);
    /* It has everything the primary had at t = 2 s (the newest sample at 100): lags since. */
    assert_int_equal(replica_lag_ms(&lag, 100, 5000), 3000);
    assert_int_equal(replica_lag_ms(&lag, 100, 6500), 4500);
    /* Replay reaches 200: all of t = 4 s, not t = 5 s. */
    assert_int_equal(replica_lag_ms(&lag, 200, 5000), 1000);
    /* Caught up. */
    assert_int_equal(replica_lag_ms(&lag, 260, 5000), 0);
}

static void
test_idle_primary_makes_no_lag(void **state)
{
    (void)state;
    replica_lag_t lag;
    replica_lag_init(&lag);
    for (int i = 0; i < 1000; i++)
        replica_lag_sample(&lag, 1000 * i, 4242);
    assert_int_equal(replica_lag_ms(&lag, 4242, 999000), 0);
}

static void
test_behind_every_sample_is_unknown_and_the_ring_keeps_the_newest(void **state)
{
    (void)state;
    replica_lag_t lag;
    replica_lag_init(&lag);
    for (int i = 0; i < REPLICA_LAG_SAMPLES + 10; i++)
        replica_lag_sample(&lag, 1000 * i, 1000 + (uint64_t)i);
    assert_int_equal(lag.count, REPLICA_LAG_SAMPLES);
    /* Samples 0..9 are gone: a standby at 1005 reached none of those left. */
    assert_int_equal(replica_lag_ms(&lag, 1005, 200000), -1);
    /* At 1010 it reached the oldest one kept (taken at 10 s). */
    assert_int_equal(replica_lag_ms(&lag, 1010, 200000), 190000);
}

static void
test_lsn_parse(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_true(replica_lsn_parse("16/B374D848", &v));
    assert_true(v == ((uint64_t)0x16 << 32 | 0xB374D848u));
    assert_true(replica_lsn_parse("0/0", &v));
    assert_true(v == 0);
    assert_true(replica_lsn_parse("FFFFFFFF/FFFFFFFF", &v));
    assert_true(v == UINT64_MAX);
    const char *bad[] = {"", "16", "16/", "/5", "16/B374D848x", "x/1", "1/-1", "123456789/0", NULL};
    for (int i = 0; bad[i] != NULL; i++) {
        v = 7;
        assert_false(replica_lsn_parse(bad[i], &v));
        assert_true(v == 7);
    }
    assert_false(replica_lsn_parse(NULL, &v));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keeping_up_is_no_lag),
        cmocka_unit_test(test_paused_replay_lags_from_its_first_missing_write),
        cmocka_unit_test(test_idle_primary_makes_no_lag),
        cmocka_unit_test(test_behind_every_sample_is_unknown_and_the_ring_keeps_the_newest),
        cmocka_unit_test(test_lsn_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
