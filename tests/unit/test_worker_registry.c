/*
 * test_worker_registry.c - unit tests of the broker's worker registry
 * (broker/worker_registry.h), without sockets.
 *
 * Workers join with a ROUTER identity, are named, go through every state (impossible
 * transitions checked through the predicate worker_transition_ok: the setter aborts, by
 * design), keep their least-recently-used idle order and their order by last message sent
 * (heartbeats), and expire by heartbeat liveness with the time passed in; the same with a
 * thousand workers.
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
    worker_registry_sent(registry, a, 1750);
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

/* The order by last message sent: the first is the one due a heartbeat first, and a message
 * sent moves a worker to the end. */
static void
test_quiet_order(void **state)
{
    (void)state;
    worker_registry_t *registry = s_registry();
    assert_null(worker_registry_quiet_first(registry));
    worker_t *a = s_add(registry, s_id_a, PROTO_SERVICE_COURSE, 1000);
    worker_t *b = s_add(registry, s_id_b, PROTO_SERVICE_COURSE, 1100);
    worker_t *c = s_add(registry, s_id_c, "echo", 1200);
    assert_ptr_equal(worker_registry_quiet_first(registry), a);
    assert_int_equal(worker_registry_heartbeat_at(registry, a), 1750);
    worker_registry_sent(registry, a, 1750);
    assert_ptr_equal(worker_registry_quiet_first(registry), b);
    assert_int_equal(worker_registry_heartbeat_at(registry, b), 1850);
    worker_registry_remove(registry, &b);
    assert_ptr_equal(worker_registry_quiet_first(registry), c);
    worker_registry_sent(registry, c, 1800);
    assert_ptr_equal(worker_registry_quiet_first(registry), a);
    assert_int_equal(worker_registry_heartbeat_at(registry, a), 2500);
    worker_registry_destroy(&registry);
}

#define S_MANY 1000

static void
s_id_of(int i, uint8_t *id)
{
    /* 5 bytes, as ZeroMQ's own identities. */
    id[0] = 0x00;
    id[1] = (uint8_t)(i >> 24);
    id[2] = (uint8_t)(i >> 16);
    id[3] = (uint8_t)(i >> 8);
    id[4] = (uint8_t)i;
}

/* A thousand workers: every lookup finds its own; the idle order, the order by last message
 * sent and the counts hold through dispatches, heartbeats and removals; taking the next idle
 * worker and the next heartbeat due never depend on the others. */
static void
test_thousand_workers(void **state)
{
    (void)state;
    worker_registry_t *registry = s_registry();
    worker_t *w[S_MANY];
    uint8_t id[5];
    for (int i = 0; i < S_MANY; i++) {
        s_id_of(i, id);
        w[i] = worker_registry_add(registry, id, sizeof id, "10.0.0.1", PROTO_SERVICE_COURSE, i);
        assert_non_null(w[i]);
    }
    assert_int_equal(worker_registry_size(registry), S_MANY);
    assert_int_equal(worker_registry_idle_count(registry), S_MANY);
    for (int i = 0; i < S_MANY; i++) {
        s_id_of(i, id);
        assert_ptr_equal(worker_registry_lookup(registry, id, sizeof id), w[i]);
    }
    /* The least recently used idle worker goes first: 0, 1, 2, ... */
    for (int i = 0; i < S_MANY / 2; i++) {
        worker_t *first = worker_registry_idle_first(registry);
        assert_ptr_equal(first, w[i]);
        worker_registry_set_state(registry, first, WORKER_RESERVED);
        worker_registry_sent(registry, first, 2000 + i); /* its REQUEST */
        worker_registry_set_state(registry, first, WORKER_BUSY);
    }
    worker_registry_counts_t counts = worker_registry_counts(registry);
    assert_int_equal(counts.by_state[WORKER_BUSY], S_MANY / 2);
    assert_int_equal(counts.by_state[WORKER_IDLE], S_MANY / 2);
    assert_ptr_equal(worker_registry_idle_first(registry), w[S_MANY / 2]);
    /* Heartbeats fall due in the order of the last message sent: the never-dispatched half
     * first (added at 500..999), then the dispatched half (sent to at 2000..2499). */
    int64_t now = 2700; /* before 2000 + 750: none of the dispatched half is due */
    int sent = 0;
    worker_t *q;
    while ((q = worker_registry_quiet_first(registry)) != NULL &&
           worker_registry_heartbeat_due(registry, q, now)) {
        assert_ptr_equal(q, w[S_MANY / 2 + sent]);
        worker_registry_sent(registry, q, now);
        sent++;
    }
    assert_int_equal(sent, S_MANY / 2); /* 500..999 were sent nothing since 1499 at most */
    assert_ptr_equal(worker_registry_quiet_first(registry), w[0]);
    assert_int_equal(worker_registry_heartbeat_at(registry, w[0]), 2000 + 750);
    /* The busy ones finish in reverse order: the idle list takes them in that order, after
     * the workers idle all along. */
    for (int i = S_MANY / 2 - 1; i >= 0; i--)
        worker_registry_set_state(registry, w[i], WORKER_IDLE);
    assert_int_equal(worker_registry_idle_count(registry), S_MANY);
    for (int i = S_MANY / 2; i < S_MANY; i++) {
        assert_ptr_equal(worker_registry_idle_first(registry), w[i]);
        worker_registry_set_state(registry, w[i], WORKER_RESERVED);
    }
    assert_ptr_equal(worker_registry_idle_first(registry), w[S_MANY / 2 - 1]);
    /* Remove every odd worker: the rest are still found, the lists skip the removed. */
    for (int i = 1; i < S_MANY; i += 2)
        worker_registry_remove(registry, &w[i]);
    assert_int_equal(worker_registry_size(registry), S_MANY / 2);
    for (int i = 0; i < S_MANY; i++) {
        s_id_of(i, id);
        assert_ptr_equal(worker_registry_lookup(registry, id, sizeof id), i % 2 ? NULL : w[i]);
    }
    assert_ptr_equal(worker_registry_quiet_first(registry), w[0]);
    int n = 0;
    for (worker_t *it = worker_registry_first(registry); it != NULL;
         it = worker_registry_next(registry, it), n++)
        assert_ptr_equal(it, w[2 * n]);
    assert_int_equal(n, S_MANY / 2);
    counts = worker_registry_counts(registry);
    assert_int_equal(counts.by_state[WORKER_IDLE], S_MANY / 4);
    assert_int_equal(counts.by_state[WORKER_RESERVED], S_MANY / 4);
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
        cmocka_unit_test(test_quiet_order),
        cmocka_unit_test(test_thousand_workers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
