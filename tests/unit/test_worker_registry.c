/*
 * test_worker_registry.c - unit tests of the broker's worker registry
 * (broker/worker_registry.h), without sockets.
 *
 * Workers join with a ROUTER identity, are named, go through every state (impossible
 * transitions checked through the predicate worker_transition_ok: the setter aborts, by
 * design), keep their least-recently-used idle order, and expire by heartbeat liveness with the
 * time passed in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "worker_registry.h"

#include <string.h>

/* heartbeat_ivl 1000 ms, liveness 3: silent workers expire after 3 s. */
#define HEARTBEAT_IVL 1000
#define LIVENESS 3

static const uint8_t s_id_a[] = {0x00, 0x8c, 0xa4, 0xae};
static const uint8_t s_id_b[] = {0x00, 0x8c, 0xa4, 0xaf};
static const uint8_t s_id_c[] = {0x00, 0x8c, 0xa4, 0xb0};

static worker_registry_t *
s_registry(void)
{
    worker_registry_t *registry = worker_registry_new(HEARTBEAT_IVL, LIVENESS);
    assert_non_null(registry);
    return registry;
}

static worker_t *
s_add(worker_registry_t *registry, const uint8_t *id, const char *service, int64_t now)
{
    worker_t *worker = worker_registry_add(registry, id, 4, "127.0.0.1", service, now);
    assert_non_null(worker);
    return worker;
}

static void
test_add_lookup_name(void **state)
{
    (void)state;
    worker_registry_t *registry = s_registry();
    worker_t *a = s_add(registry, s_id_a, PROTO_SERVICE_COURSE, 0);
    assert_string_equal(a->key, "008ca4ae");
    assert_string_equal(a->name, "008ca4ae@127.0.0.1");
    assert_string_equal(a->service, PROTO_SERVICE_COURSE);
    assert_int_equal(a->identity_len, 4);
    assert_memory_equal(a->identity, s_id_a, 4);
    assert_int_equal(a->state, WORKER_IDLE);
    assert_null(a->job);
    assert_ptr_equal(worker_registry_lookup(registry, s_id_a, 4), a);
    assert_null(worker_registry_lookup(registry, s_id_b, 4));
    assert_null(worker_registry_lookup(registry, s_id_a, 3));
    assert_null(worker_registry_lookup(registry, s_id_a, 0));
    /* The same identity twice, an empty or an over-long one are refused. */
    assert_null(worker_registry_add(registry, s_id_a, 4, NULL, PROTO_SERVICE_COURSE, 0));
    assert_null(worker_registry_add(registry, s_id_b, 0, NULL, PROTO_SERVICE_COURSE, 0));
    uint8_t longest[WORKER_IDENTITY_MAX + 1];
    memset(longest, 0xab, sizeof longest);
    assert_null(worker_registry_add(registry, longest, sizeof longest, NULL, "x", 0));
    /* A long identity is shortened to 16 hex digits, '~' and a digest of the whole identity;
     * no peer address: '?'. */
    worker_t *l =
        worker_registry_add(registry, longest, WORKER_IDENTITY_MAX, NULL, PROTO_SERVICE_COURSE, 0);
    assert_non_null(l);
    assert_string_equal(l->name, "abababababababab~21ff69ec@?");
    /* Identities sharing a long prefix still get names of their own. */
    uint8_t other[WORKER_IDENTITY_MAX];
    memcpy(other, longest, sizeof other);
    other[WORKER_IDENTITY_MAX - 1] = 0xac;
    worker_t *o = worker_registry_add(registry, other, sizeof other, NULL, PROTO_SERVICE_COURSE, 0);
    assert_non_null(o);
    assert_string_not_equal(o->name, l->name);
    assert_memory_equal(o->name, l->name, 17);
    worker_registry_remove(registry, &o);
    assert_int_equal(strlen(l->key), 2 * WORKER_IDENTITY_MAX);
    assert_ptr_equal(worker_registry_lookup(registry, longest, WORKER_IDENTITY_MAX), l);
    assert_int_equal(worker_registry_size(registry), 2);
    worker_registry_remove(registry, &l);
    assert_null(l);
    worker_registry_remove(registry, &a);
    assert_int_equal(worker_registry_size(registry), 0);
    assert_int_equal(worker_registry_idle_count(registry), 0);
    assert_null(worker_registry_idle_first(registry));
    assert_null(worker_registry_first(registry));
    worker_registry_destroy(&registry);
    assert_null(registry);
    worker_registry_destroy(&registry); /* NULL is accepted */
}

/* A worker for a service this broker has no jobs for only gets heartbeats. */
static void
test_unserved(void **state)
{
    (void)state;
    worker_registry_t *registry = s_registry();
    worker_t *w = s_add(registry, s_id_a, "echo", 0);
    assert_int_equal(w->state, WORKER_UNSERVED);
    assert_int_equal(worker_registry_idle_count(registry), 0);
    assert_null(worker_registry_idle_first(registry));
    assert_ptr_equal(worker_registry_first(registry), w);
    worker_registry_remove(registry, &w);
    worker_registry_destroy(&registry);
}

static void
test_transitions(void **state)
{
    (void)state;
    /* expected[from][to] */
    static const bool expected[4][4] = {
        /*                   IDLE   RESERVED BUSY   UNSERVED */
        /* Any state may become UNSERVED: a worker drained by an operator. */
        [WORKER_IDLE] = {false, true, true, true},
        [WORKER_RESERVED] = {true, false, true, true},
        [WORKER_BUSY] = {true, false, false, true},
        [WORKER_UNSERVED] = {false, false, false, false},
    };
    for (int from = WORKER_IDLE; from <= WORKER_UNSERVED; from++)
        for (int to = WORKER_IDLE; to <= WORKER_UNSERVED; to++)
            assert_int_equal(worker_transition_ok((worker_state_t)from, (worker_state_t)to),
                             expected[from][to]);
    assert_string_equal(worker_state_name(WORKER_IDLE), "idle");
    assert_string_equal(worker_state_name(WORKER_RESERVED), "reserved");
    assert_string_equal(worker_state_name(WORKER_BUSY), "busy");
    assert_string_equal(worker_state_name(WORKER_UNSERVED), "unserved");
    assert_string_equal(worker_state_name((worker_state_t)9), "?");
}

/* The counts the admin status and the metrics report: by state, draining, and RESERVED or BUSY
 * workers holding a job. */
static void
test_counts(void **state)
{
    (void)state;
    worker_registry_t *registry = s_registry();
    worker_registry_counts_t counts = worker_registry_counts(registry);
    assert_int_equal(counts.by_state[WORKER_IDLE] + counts.draining + counts.running, 0);
    worker_t *a = s_add(registry, s_id_a, PROTO_SERVICE_COURSE, 0);
    worker_t *b = s_add(registry, s_id_b, PROTO_SERVICE_COURSE, 0);
    worker_t *c = s_add(registry, s_id_c, "echo", 0);
    struct job_t *job = (struct job_t *)&job; /* only compared with NULL */
    worker_registry_set_state(registry, a, WORKER_RESERVED);
    a->job = job;
    worker_registry_set_state(registry, b, WORKER_RESERVED);
    worker_registry_set_state(registry, b, WORKER_BUSY);
    b->job = job;
    c->draining = true;
    counts = worker_registry_counts(registry);
    assert_int_equal(counts.by_state[WORKER_IDLE], 0);
    assert_int_equal(counts.by_state[WORKER_RESERVED], 1);
    assert_int_equal(counts.by_state[WORKER_BUSY], 1);
    assert_int_equal(counts.by_state[WORKER_UNSERVED], 1);
    assert_int_equal(counts.draining, 1);
    assert_int_equal(counts.dispatching, 1);
    assert_int_equal(counts.running, 1);
    /* BUSY without a job (not yet adopted) is a busy worker but no running job. */
    b->job = NULL;
    counts = worker_registry_counts(registry);
    assert_int_equal(counts.by_state[WORKER_BUSY], 1);
    assert_int_equal(counts.running, 0);
    a->job = NULL;
    worker_registry_destroy(&registry);
}

/* Idle workers are handed out least recently used first; one back from a job goes last. */
static void
test_idle_order(void **state)
{
    (void)state;
    worker_registry_t *registry = s_registry();
    worker_t *a = s_add(registry, s_id_a, PROTO_SERVICE_COURSE, 0);
    worker_t *b = s_add(registry, s_id_b, PROTO_SERVICE_COURSE, 0);
    worker_t *c = s_add(registry, s_id_c, PROTO_SERVICE_COURSE, 0);
    assert_int_equal(worker_registry_idle_count(registry), 3);
    assert_ptr_equal(worker_registry_idle_first(registry), a);
    /* IDLE -> RESERVED -> BUSY -> IDLE: a goes to the tail. */
    worker_registry_set_state(registry, a, WORKER_RESERVED);
    assert_ptr_equal(worker_registry_idle_first(registry), b);
    assert_int_equal(worker_registry_idle_count(registry), 2);
    worker_registry_set_state(registry, a, WORKER_BUSY);
    worker_registry_set_state(registry, a, WORKER_IDLE);
    assert_int_equal(worker_registry_idle_count(registry), 3);
    /* RESERVED -> IDLE (the dispatch was abandoned): b goes after a. */
    worker_registry_set_state(registry, b, WORKER_RESERVED);
    worker_registry_set_state(registry, b, WORKER_IDLE);
    /* IDLE -> BUSY (an orphan adopted): c leaves the idle list. */
    worker_registry_set_state(registry, c, WORKER_BUSY);
    assert_int_equal(worker_registry_idle_count(registry), 2);
    assert_ptr_equal(worker_registry_idle_first(registry), a);
    worker_registry_set_state(registry, a, WORKER_RESERVED);
    assert_ptr_equal(worker_registry_idle_first(registry), b);
    /* Removing an idle worker takes it out of the idle list too. */
    worker_registry_remove(registry, &b);
    assert_int_equal(worker_registry_idle_count(registry), 0);
    assert_null(worker_registry_idle_first(registry));
    assert_int_equal(worker_registry_size(registry), 2);
    worker_registry_destroy(&registry); /* frees the workers left */
}

/* Every message renews a worker's liveness; silence for heartbeat_ivl * liveness expires it. */
static void
test_expiry_and_heartbeats(void **state)
{
    (void)state;
    worker_registry_t *registry = s_registry();
    worker_t *a = s_add(registry, s_id_a, PROTO_SERVICE_COURSE, 1000);
    assert_int_equal(a->expires_at, 4000);
    assert_false(worker_expired(a, 3999));
    assert_true(worker_expired(a, 4000));
    worker_registry_touch(registry, a, 3500);
    assert_false(worker_expired(a, 6499));
    assert_true(worker_expired(a, 6500));
    /* A heartbeat is due after 3/4 of an interval without sending anything. */
    assert_int_equal(a->last_sent, 1000);
    assert_false(worker_registry_heartbeat_due(registry, a, 1749));
    assert_true(worker_registry_heartbeat_due(registry, a, 1750));
    worker_registry_sent(a, 1750);
    assert_false(worker_registry_heartbeat_due(registry, a, 2499));
    assert_true(worker_registry_heartbeat_due(registry, a, 2500));
    worker_registry_destroy(&registry);
}

/* The broker's tick walks every worker and may remove the current one. */
static void
test_walk_with_removal(void **state)
{
    (void)state;
    worker_registry_t *registry = s_registry();
    s_add(registry, s_id_a, PROTO_SERVICE_COURSE, 0);
    s_add(registry, s_id_b, PROTO_SERVICE_COURSE, 1000);
    s_add(registry, s_id_c, "echo", 0);
    int seen = 0, expired = 0;
    worker_t *w = worker_registry_first(registry);
    while (w != NULL) {
        worker_t *next = worker_registry_next(registry, w);
        seen++;
        if (worker_expired(w, 3000)) {
            expired++;
            worker_registry_remove(registry, &w);
        }
        w = next;
    }
    assert_int_equal(seen, 3);
    assert_int_equal(expired, 2);
    assert_int_equal(worker_registry_size(registry), 1);
    worker_t *left = worker_registry_first(registry);
    assert_memory_equal(left->identity, s_id_b, 4);
    assert_null(worker_registry_next(registry, left));
    assert_ptr_equal(worker_registry_idle_first(registry), left);
    worker_registry_destroy(&registry);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_lookup_name),
        cmocka_unit_test(test_unserved),
        cmocka_unit_test(test_transitions),
        cmocka_unit_test(test_idle_order),
        cmocka_unit_test(test_expiry_and_heartbeats),
        cmocka_unit_test(test_walk_with_removal),
        cmocka_unit_test(test_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
