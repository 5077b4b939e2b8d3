/*
 * test_http_watch.c - unit tests of the slow-client watchdog (frontend/http_watch.h).
 *
 * The due-time and read-size arithmetic, then the mechanism itself: a thread blocked in
 * poll() on a silent pipe (as civetweb's reader is on a silent client) is woken by the
 * watchdog once its deadline or minimum rate is missed, and not before.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../frontend/http_watch.h"

#include <czmq.h>
#include <errno.h>
#include <poll.h>
#include <unistd.h>

static void
test_due(void **state)
{
    http_limit_t limit;
    /* No minimum rate: the deadline only. */
    assert_true(http_watch_due(0, 1500, 5000, 0, 0, &limit) == 5000);
    assert_int_equal(limit, HTTP_LIMIT_DEADLINE);
    /* Within the grace period nothing is late. */
    assert_true(http_watch_due(1000, 1500, 5000, 100, 0, &limit) == 1600);
    assert_int_equal(limit, HTTP_LIMIT_RATE);
    assert_true(http_watch_due(1000, 1500, 5000, 100, 1000, &limit) == 1600);
    /* After it, 1000 B/s: 3000 bytes buy 3 s from the start. */
    assert_true(http_watch_due(1000, 1500, 5000, 100, 3000, &limit) == 3100);
    assert_int_equal(limit, HTTP_LIMIT_RATE);
    /* The deadline comes first for a fast client. */
    assert_true(http_watch_due(1000, 1500, 5000, 100, 100000, &limit) == 5000);
    assert_int_equal(limit, HTTP_LIMIT_DEADLINE);
    /* No deadline (answers). */
    assert_true(http_watch_due(1000, 0, INT64_MAX, 0, SIZE_MAX / 2, &limit) > 0);
}

static void
test_read_size(void **state)
{
    assert_int_equal(http_watch_read_size(0, 0, 100, 256, 65536), 65536);
    /* 1.5 s of lead at 1000 B/s: 1500 bytes. */
    assert_int_equal(http_watch_read_size(1000, 1600, 100, 256, 65536), 1500);
    /* Late or nearly: the minimum. */
    assert_int_equal(http_watch_read_size(1000, 100, 200, 256, 65536), 256);
    assert_int_equal(http_watch_read_size(1000, 200, 100, 256, 65536), 256);
    /* Far ahead: the maximum. */
    assert_int_equal(http_watch_read_size(4096, INT64_MAX, 0, 256, 65536), 65536);
}

/* Block in poll() on a pipe nobody writes; the milliseconds until poll returned, *err its
 * errno. */
static int64_t
s_blocked_poll(int timeout_ms, int *err)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
    int64_t start = zclock_mono();
    int rc = poll(&pfd, 1, timeout_ms);
    *err = rc < 0 ? errno : 0;
    int64_t took = zclock_mono() - start;
    close(fds[0]);
    close(fds[1]);
    return took;
}

static void
test_wakes_a_blocked_reader(void **state)
{
    char err[128];
    http_watch_t *watch = http_watch_new(0, 0, 2, err, sizeof err);
    assert_non_null(watch);
    int64_t now = zclock_mono();
    int slot = http_watch_arm(watch, now + 100, now);
    assert_true(slot >= 0);
    int e = 0;
    int64_t took = s_blocked_poll(5000, &e);
    assert_int_equal(e, EINTR);
    assert_true(took >= 90 && took < 2000);
    http_limit_t limit;
    assert_true(http_watch_fired(watch, slot, &limit));
    assert_int_equal(limit, HTTP_LIMIT_DEADLINE);
    assert_true(http_watch_disarm(watch, slot));
    /* Disarmed: nothing interrupts this thread any more. */
    took = s_blocked_poll(200, &e);
    assert_int_equal(e, 0);
    assert_true(took >= 190);
    http_watch_destroy(&watch);
    assert_null(watch);
}

static void
test_minimum_rate(void **state)
{
    char err[128];
    http_watch_t *watch = http_watch_new(1000, 100, 1, err, sizeof err);
    assert_non_null(watch);
    int64_t now = zclock_mono();
    int slot = http_watch_arm(watch, INT64_MAX, now);
    assert_true(slot >= 0);
    /* The only slot is taken. */
    assert_int_equal(http_watch_arm(watch, INT64_MAX, now), -1);
    /* 300 bytes buy 300 ms at 1000 B/s. */
    http_watch_progress(watch, slot, 300);
    int e = 0;
    int64_t took = s_blocked_poll(5000, &e);
    assert_int_equal(e, EINTR);
    assert_true(took >= 250 && took < 2000);
    http_limit_t limit;
    assert_true(http_watch_fired(watch, slot, &limit));
    assert_int_equal(limit, HTTP_LIMIT_RATE);
    assert_true(http_watch_disarm(watch, slot));
    /* A watch that is disarmed in time never fires. */
    slot = http_watch_arm(watch, zclock_mono() + 300, zclock_mono());
    assert_true(slot >= 0);
    assert_false(http_watch_fired(watch, slot, &limit));
    assert_false(http_watch_disarm(watch, slot));
    took = s_blocked_poll(500, &e);
    assert_int_equal(e, 0);
    http_watch_destroy(&watch);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_due),
        cmocka_unit_test(test_read_size),
        cmocka_unit_test(test_wakes_a_blocked_reader),
        cmocka_unit_test(test_minimum_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
