/* test_cache.c - the frontend's cache: items, time to live, and single flight (concurrent
 * misses of one key ask once; waiters take the leader's answer, or ask on their own when the
 * leader fails or is too slow, never waiting longer than their bound). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../frontend/cache.h"

#define WAITERS 8

static char *
s_dup(const char *text)
{
    char *copy = strdup(text);
    assert_non_null(copy);
    return copy;
}

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_put_get_and_ttl(void **state)
{
    (void)state;
    cache_t *cache = cache_new(1 << 20, 60000);
    assert_non_null(cache);
    bool fresh = false;
    assert_null(cache_get(cache, "k", &fresh));
    char *data = s_dup("hello");
    cache_item_t *item = cache_put(cache, "k", &data, 5, "etag");
    assert_null(data);
    assert_non_null(item);
    cache_item_release(&item);
    item = cache_get(cache, "k", &fresh);
    assert_non_null(item);
    assert_true(fresh);
    size_t len = 0;
    assert_memory_equal(cache_item_data(item, &len), "hello", 5);
    assert_int_equal(len, 5);
    assert_string_equal(cache_item_etag(item), "etag");
    cache_item_release(&item);
    /* ttl 0: returned, not kept */
    data = s_dup("gone");
    item = cache_put_ttl(cache, "k", &data, 4, NULL, 0);
    assert_non_null(item);
    cache_item_release(&item);
    assert_null(cache_get(cache, "k", NULL));
    cache_destroy(&cache);
}

typedef struct {
    cache_t *cache;
    const char *key;
    int wait_ms;
    cache_flight_t got;
    char data[32];
    int64_t waited_ms;
} joiner_t;

static void *
s_join(void *arg)
{
    joiner_t *j = arg;
    cache_item_t *item = NULL;
    int64_t start = s_now_ms();
    j->got = cache_flight_join(j->cache, j->key, j->wait_ms, &item);
    j->waited_ms = s_now_ms() - start;
    if (item != NULL) {
        size_t len = 0;
        const char *data = cache_item_data(item, &len);
        snprintf(j->data, sizeof j->data, "%.*s", (int)len, data);
        cache_item_release(&item);
    }
    return NULL;
}

/* Lead key, start WAITERS joiners and wait until they all wait on the flight. */
static void
s_start_waiters(cache_t *cache, const char *key, int wait_ms, joiner_t *j, pthread_t *t)
{
    cache_item_t *none = NULL;
    assert_int_equal(cache_flight_join(cache, key, wait_ms, &none), CACHE_FLIGHT_LEAD);
    assert_null(none);
    for (int i = 0; i < WAITERS; i++) {
        j[i] = (joiner_t){.cache = cache, .key = key, .wait_ms = wait_ms};
        assert_int_equal(pthread_create(&t[i], NULL, s_join, &j[i]), 0);
    }
    for (int tries = 0; tries < 6000; tries++) { /* up to a minute on a loaded machine */
        cache_stats_t st;
        cache_stats(cache, &st);
        if (st.waiting == WAITERS)
            return;
        usleep(10000);
    }
    fail_msg("the joiners did not all wait on the flight");
}

static void
test_flight_shares_the_leaders_answer(void **state)
{
    (void)state;
    cache_t *cache = cache_new(1 << 20, 60000);
    joiner_t j[WAITERS];
    pthread_t t[WAITERS];
    s_start_waiters(cache, "search:q", 60000, j, t);
    char *data = s_dup("answer");
    cache_item_t *item = cache_put(cache, "search:q", &data, 6, NULL);
    cache_flight_land(cache, "search:q", item);
    cache_item_release(&item); /* the leader's own reference; waiters hold theirs */
    for (int i = 0; i < WAITERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(j[i].got, CACHE_FLIGHT_SHARED);
        assert_string_equal(j[i].data, "answer");
    }
    cache_stats_t st;
    cache_stats(cache, &st);
    assert_int_equal(st.led, 1);
    assert_int_equal(st.shared, WAITERS);
    assert_int_equal(st.waiting, 0);
    /* Landed: the next miss of the key leads a new flight. */
    assert_int_equal(cache_flight_join(cache, "search:q", 1000, &item), CACHE_FLIGHT_LEAD);
    cache_flight_land(cache, "search:q", NULL);
    cache_destroy(&cache);
}

static void
test_flight_failure_sends_waiters_alone(void **state)
{
    (void)state;
    cache_t *cache = cache_new(1 << 20, 60000);
    joiner_t j[WAITERS];
    pthread_t t[WAITERS];
    s_start_waiters(cache, "k", 60000, j, t);
    cache_flight_land(cache, "k", NULL); /* the leader failed */
    for (int i = 0; i < WAITERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(j[i].got, CACHE_FLIGHT_ALONE);
        assert_string_equal(j[i].data, "");
    }
    cache_stats_t st;
    cache_stats(cache, &st);
    assert_int_equal(st.alone, WAITERS);
    cache_destroy(&cache);
}

static void
test_flight_wait_is_bounded(void **state)
{
    (void)state;
    cache_t *cache = cache_new(1 << 20, 60000);
    joiner_t j[WAITERS];
    pthread_t t[WAITERS];
    s_start_waiters(cache, "slow", 200, j, t); /* the leader never lands in time */
    for (int i = 0; i < WAITERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(j[i].got, CACHE_FLIGHT_ALONE);
        assert_true(j[i].waited_ms >= 150);
        assert_true(j[i].waited_ms < 30000); /* bounded (generous: a loaded machine) */
    }
    /* Other keys fly on their own, and a late landing harms nobody. */
    cache_item_t *item = NULL;
    assert_int_equal(cache_flight_join(cache, "other", 10, &item), CACHE_FLIGHT_LEAD);
    cache_flight_land(cache, "other", NULL);
    cache_flight_land(cache, "slow", NULL);
    cache_flight_land(cache, "never-led", NULL);
    cache_destroy(&cache);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_and_ttl),
        cmocka_unit_test(test_flight_shares_the_leaders_answer),
        cmocka_unit_test(test_flight_failure_sends_waiters_alone),
        cmocka_unit_test(test_flight_wait_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
