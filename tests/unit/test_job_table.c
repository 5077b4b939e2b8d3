/*
 * test_job_table.c - unit tests of the broker's job table (broker/job_table.h) and its
 * fair queue as the table drives it (broker/fair_queue.h), without sockets or a database.
 *
 * Every transition of a job's life (docs/jobs.md) is driven through job_table_set_state and
 * job_table_retry; impossible ones are checked through the predicate job_transition_ok (the
 * setter aborts, by design). Time is passed in and the back-off jitter comes from a fixed
 * random source, so every number below is exact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "job_table.h"

#include <czmq.h>
#include <stdio.h>
#include <string.h>

#define JOB_A "00000000-0000-4000-8000-00000000000a"
#define JOB_B "00000000-0000-4000-8000-00000000000b"
#define JOB_C "00000000-0000-4000-8000-00000000000c"
#define OWNER "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

/* The next value the fixed random source returns. */
static uint64_t s_random_value;

static uint64_t
s_fixed_random(void *arg)
{
    (void)arg;
    return s_random_value;
}

/* A table with max_attempts 3, back-off 1 s doubling to 8 s, orphans waiting 6 s, and the fixed
 * random source (0: no jitter unless a test sets it). */
static job_table_t *
s_table(void)
{
    s_random_value = 0;
    job_table_config_t config = {
        .max_attempts = 3,
        .retry_base_ms = 1000,
        .retry_max_ms = 8000,
        .orphan_grace_ms = 6000,
        .random = s_fixed_random,
    };
    job_table_t *table = job_table_new(&config);
    assert_non_null(table);
    return table;
}

/* The ids of the queued jobs in dispatch order, joined by ','. */
static void
s_queue_ids(const job_table_t *table, char *out, size_t size)
{
    out[0] = '\0';
    for (job_t *job = job_table_queued_first(table); job != NULL;
         job = job_table_queued_next(table, job)) {
        if (out[0] != '\0')
            strncat(out, ",", size - strlen(out) - 1);
        strncat(out, job->id + strlen(job->id) - 1, size - strlen(out) - 1); /* last char */
    }
}

static void
test_add_lookup_counts(void **state)
{
    (void)state;
    job_table_t *table = s_table();
    job_t *a = job_table_add(table, JOB_A, OWNER, 0, JOB_QUEUED, 100, 0, -1);
    job_t *b = job_table_add(table, JOB_B, OWNER, 1, JOB_WAITING, 100, 500, -1);
    job_t *c = job_table_add(table, JOB_C, OWNER, 2, JOB_ORPHANED, 100, 0, 2500);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_ptr_equal(job_table_lookup(table, JOB_A), a);
    assert_string_equal(a->owner, OWNER);
    assert_int_equal(b->attempts, 1);
    assert_int_equal(b->retry_due, 600);
    assert_int_equal(c->orphan_deadline, 6100);
    assert_int_equal(c->deadline, 2600);
    job_table_counts_t counts = job_table_counts(table);
    assert_int_equal(counts.total, 3);
    assert_int_equal(counts.queued, 1);
    assert_int_equal(counts.waiting, 1);
    assert_int_equal(counts.orphaned, 1);
    /* An id already present, and a state no job is born in, are refused. */
    assert_null(job_table_add(table, JOB_A, OWNER, 0, JOB_QUEUED, 100, 0, -1));
    assert_null(job_table_add(table, "x", OWNER, 0, JOB_RUNNING, 100, 0, -1));
    assert_null(job_table_add(table, "y", OWNER, 0, JOB_DISPATCHING, 100, 0, -1));
    /* An orphan without a recorded deadline has none. */
    job_t *d = job_table_add(table, "d", OWNER, 1, JOB_ORPHANED, 100, 0, -1);
    assert_int_equal(d->deadline, 0);
    /* Removing takes each out of its list and memory. */
    job_table_remove(table, &a);
    assert_null(a);
    job_table_remove(table, &b);
    job_table_remove(table, &c);
    counts = job_table_counts(table);
    assert_int_equal(counts.total, 1);
    assert_int_equal(counts.queued, 0);
    assert_int_equal(counts.waiting, 0);
    assert_int_equal(counts.orphaned, 1);
    assert_null(job_table_lookup(table, JOB_A));
    job_table_destroy(&table);
    assert_null(table);
    job_table_destroy(&table); /* NULL is accepted */
}

static void
test_transitions(void **state)
{
    (void)state;
    /* expected[from][to] */
    static const bool expected[5][5] = {
        /*                 QUEUED WAITING DISPATCHING RUNNING ORPHANED */
        [JOB_QUEUED] = {false, false, true, false, false},
        [JOB_WAITING] = {true, false, false, false, false},
        [JOB_DISPATCHING] = {true, true, false, true, false},
        [JOB_RUNNING] = {true, true, false, false, false},
        [JOB_ORPHANED] = {true, true, false, true, false},
    };
    for (int from = JOB_QUEUED; from <= JOB_ORPHANED; from++)
        for (int to = JOB_QUEUED; to <= JOB_ORPHANED; to++)
            assert_int_equal(job_transition_ok((job_state_t)from, (job_state_t)to),
                             expected[from][to]);
    assert_string_equal(job_state_name(JOB_QUEUED), "queued");
    assert_string_equal(job_state_name(JOB_WAITING), "waiting");
    assert_string_equal(job_state_name(JOB_DISPATCHING), "dispatching");
    assert_string_equal(job_state_name(JOB_RUNNING), "running");
    assert_string_equal(job_state_name(JOB_ORPHANED), "orphaned");
    assert_string_equal(job_state_name((job_state_t)42), "?");
}

/* A job's ordinary life: queued, dispatched, running, then it loses its worker twice. */
static void
test_dispatch_and_lose_worker(void **state)
{
    (void)state;
    job_table_t *table = s_table();
    job_t *a = job_table_add(table, JOB_A, OWNER, 0, JOB_QUEUED, 0, 0, -1);
    job_t *b = job_table_add(table, JOB_B, OWNER, 0, JOB_QUEUED, 0, 0, -1);
    char ids[64];
    s_queue_ids(table, ids, sizeof ids);
    assert_string_equal(ids, "a,b");
    /* FIFO: the first submitted goes first. */
    assert_ptr_equal(job_table_next_to_dispatch(table), a);
    a->attempts++;
    job_table_set_state(table, a, JOB_DISPATCHING);
    assert_int_equal(a->state, JOB_DISPATCHING);
    assert_ptr_equal(job_table_next_to_dispatch(table), b);
    assert_int_equal(job_table_counts(table).queued, 1);
    job_table_set_state(table, a, JOB_RUNNING);
    a->deadline = 5000;
    a->progress_dirty = true;
    /* The first lost worker: back at the head of the queue at once. */
    int64_t delay = -1;
    assert_int_equal(job_table_retry(table, a, PROFAI_ERR_WORKER_LOST, 1000, &delay),
                     JOB_RETRY_AGAIN);
    assert_int_equal(delay, 0);
    assert_int_equal(a->state, JOB_QUEUED);
    assert_int_equal(a->lost, 1);
    assert_int_equal(a->deadline, 0);
    assert_false(a->progress_dirty);
    assert_null(a->worker);
    s_queue_ids(table, ids, sizeof ids);
    assert_string_equal(ids, "a,b");
    /* The second: a back-off of retry_base_ms doubled once (attempt 2). */
    a->attempts++;
    job_table_set_state(table, a, JOB_DISPATCHING);
    job_table_set_state(table, a, JOB_RUNNING);
    assert_int_equal(job_table_retry(table, a, PROFAI_ERR_WORKER_LOST, 2000, &delay),
                     JOB_RETRY_AGAIN);
    assert_int_equal(delay, 2000);
    assert_int_equal(a->state, JOB_WAITING);
    assert_int_equal(a->retry_due, 4000);
    assert_int_equal(job_table_counts(table).waiting, 1);
    int64_t due = 0;
    assert_true(job_table_next_retry(table, &due));
    assert_int_equal(due, 4000);
    s_queue_ids(table, ids, sizeof ids);
    assert_string_equal(ids, "b");
    job_table_destroy(&table);
}

/* A transient failure reported by a worker waits its back-off even the first time. */
static void
test_transient_failures_wait(void **state)
{
    (void)state;
    job_table_t *table = s_table();
    job_t *a = job_table_add(table, JOB_A, OWNER, 0, JOB_QUEUED, 0, 0, -1);
    a->attempts = 1;
    job_table_set_state(table, a, JOB_DISPATCHING);
    job_table_set_state(table, a, JOB_RUNNING);
    int64_t delay = 0;
    assert_int_equal(job_table_retry(table, a, PROFAI_ERR_PARSER_CRASHED, 0, &delay),
                     JOB_RETRY_AGAIN);
    assert_int_equal(delay, 1000);
    assert_int_equal(a->crashed, 1);
    assert_int_equal(a->state, JOB_WAITING);
    /* A dispatch that lost its worker before the REQUEST: DISPATCHING -> WAITING. */
    job_table_release_waiting(table, 1000, NULL, NULL);
    assert_int_equal(a->state, JOB_QUEUED);
    a->attempts = 2;
    job_table_set_state(table, a, JOB_DISPATCHING);
    assert_int_equal(job_table_retry(table, a, PROFAI_ERR_TIMEOUT, 1000, &delay), JOB_RETRY_AGAIN);
    assert_int_equal(delay, 2000);
    assert_int_equal(a->timed_out, 1);
    assert_int_equal(a->state, JOB_WAITING);
    job_table_destroy(&table);
}

static void
test_backoff(void **state)
{
    (void)state;
    job_table_t *table = s_table();
    /* No jitter: base doubling per attempt, capped at retry_max_ms. */
    assert_int_equal(job_table_backoff_ms(table, 1), 1000);
    assert_int_equal(job_table_backoff_ms(table, 2), 2000);
    assert_int_equal(job_table_backoff_ms(table, 3), 4000);
    assert_int_equal(job_table_backoff_ms(table, 4), 8000);
    assert_int_equal(job_table_backoff_ms(table, 5), 8000);
    assert_int_equal(job_table_backoff_ms(table, 1000), 8000);
    /* Jitter: up to 10% more, random value modulo (delay / 10 + 1). */
    s_random_value = 57;
    assert_int_equal(job_table_backoff_ms(table, 1), 1057);
    s_random_value = 100;
    assert_int_equal(job_table_backoff_ms(table, 1), 1100);
    s_random_value = 101;
    assert_int_equal(job_table_backoff_ms(table, 1), 1000);
    s_random_value = UINT64_MAX;
    assert_int_equal(job_table_backoff_ms(table, 4), 8000 + (int64_t)(UINT64_MAX % 801));
    job_table_destroy(&table);

    /* A base over the maximum is capped; a tiny delay has no jitter. */
    job_table_config_t config = {
        .max_attempts = 3, .retry_base_ms = 9, .retry_max_ms = 5, .random = s_fixed_random};
    s_random_value = 3;
    table = job_table_new(&config);
    assert_int_equal(job_table_backoff_ms(table, 1), 5);
    job_table_destroy(&table);

    /* The default source is a generator seeded from the config: same seed, same delays,
     * always within the 10%. */
    job_table_config_t seeded = {
        .max_attempts = 3, .retry_base_ms = 1000, .retry_max_ms = 8000, .seed = 12345};
    job_table_t *one = job_table_new(&seeded);
    job_table_t *two = job_table_new(&seeded);
    for (uint32_t n = 1; n < 20; n++) {
        int64_t d = job_table_backoff_ms(one, n);
        assert_int_equal(d, job_table_backoff_ms(two, n));
        int64_t base = n >= 4 ? 8000 : 1000 << (n - 1);
        assert_true(d >= base && d <= base + base / 10);
    }
    job_table_destroy(&one);
    job_table_destroy(&two);
}

/* After max_attempts the table gives up, and the final message counts the failures. */
static void
test_give_up(void **state)
{
    (void)state;
    job_table_t *table = s_table();
    job_t *a = job_table_add(table, JOB_A, OWNER, 0, JOB_QUEUED, 0, 0, -1);
    profai_error_t codes[] = {PROFAI_ERR_WORKER_LOST, PROFAI_ERR_PARSER_CRASHED,
                              PROFAI_ERR_PARSER_CRASHED};
    int64_t now = 0, delay = 0;
    for (int i = 0; i < 3; i++) {
        if (a->state == JOB_WAITING) {
            now = a->retry_due;
            job_table_release_waiting(table, now, NULL, NULL);
        }
        assert_int_equal(a->state, JOB_QUEUED);
        a->attempts++;
        job_table_set_state(table, a, JOB_DISPATCHING);
        job_table_set_state(table, a, JOB_RUNNING);
        job_retry_t r = job_table_retry(table, a, codes[i], now, &delay);
        assert_int_equal(r, i < 2 ? JOB_RETRY_AGAIN : JOB_RETRY_GIVE_UP);
    }
    assert_int_equal(delay, 0);
    /* Given up: still in memory, for the caller to record and remove. */
    assert_int_equal(a->state, JOB_RUNNING);
    char message[160];
    job_final_error(a, PROFAI_ERR_PARSER_CRASHED, message, sizeof message);
    assert_string_equal(message, "The PDF parser crashed on 2 of 3 attempts; giving up.");
    job_final_error(a, PROFAI_ERR_WORKER_LOST, message, sizeof message);
    assert_string_equal(message, "The job lost its worker on 1 of 3 attempts; giving up.");
    a->timed_out = 3;
    job_final_error(a, PROFAI_ERR_TIMEOUT, message, sizeof message);
    assert_string_equal(message,
                        "Reading this PDF took longer than allowed on every one of 3 attempts; "
                        "giving up.");
    a->internal = 1;
    job_final_error(a, PROFAI_ERR_INTERNAL, message, sizeof message);
    assert_string_equal(message,
                        "The worker failed to process this PDF on 1 of 3 attempts; giving up.");
    job_table_remove(table, &a);
    assert_int_equal(job_table_counts(table).total, 0);
    job_table_destroy(&table);
}

/* Due waiting jobs go to the head of the queue, earliest first, ahead of newer submissions. */
static void
test_release_waiting(void **state)
{
    (void)state;
    job_table_t *table = s_table();
    job_t *c = job_table_add(table, JOB_C, OWNER, 1, JOB_WAITING, 0, 300, -1);
    job_t *a = job_table_add(table, JOB_A, OWNER, 1, JOB_WAITING, 0, 100, -1);
    job_t *b = job_table_add(table, JOB_B, OWNER, 1, JOB_WAITING, 0, 200, -1);
    assert_non_null(job_table_add(table, "q", OWNER, 0, JOB_QUEUED, 0, 0, -1));
    int64_t due = 0;
    assert_true(job_table_next_retry(table, &due));
    assert_int_equal(due, 100);
    job_table_release_waiting(table, 99, NULL, NULL);
    assert_int_equal(job_table_counts(table).waiting, 3);
    job_table_release_waiting(table, 200, NULL, NULL);
    assert_int_equal(a->state, JOB_QUEUED);
    assert_int_equal(b->state, JOB_QUEUED);
    assert_int_equal(c->state, JOB_WAITING);
    char ids[64];
    s_queue_ids(table, ids, sizeof ids);
    assert_string_equal(ids, "a,b,q");
    assert_true(job_table_next_retry(table, &due));
    assert_int_equal(due, 300);
    job_table_release_waiting(table, 1000, NULL, NULL);
    assert_false(job_table_next_retry(table, &due));
    s_queue_ids(table, ids, sizeof ids);
    assert_string_equal(ids, "c,a,b,q");
    job_table_destroy(&table);
}

/* The walk's callback sees each released job. */
static void
s_count(job_t *job, void *arg)
{
    (void)job;
    (*(int *)arg)++;
}

static void
test_release_callback(void **state)
{
    (void)state;
    job_table_t *table = s_table();
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "w%d", i);
        assert_non_null(job_table_add(table, id, OWNER, 1, JOB_WAITING, 0, 10 * (5 - i), -1));
    }
    int seen = 0;
    job_table_release_waiting(table, 30, s_count, &seen);
    assert_int_equal(seen, 3);
    assert_int_equal(job_table_counts(table).waiting, 2);
    /* In retry order: the earliest due (w4 at 10) first. */
    assert_string_equal(job_table_queued_first(table)->id, "w4");
    job_table_destroy(&table);
}

/* Expired orphans are handed back newest first; requeued, they end up oldest first. */
static void
s_requeue_orphan(job_t *job, void *arg)
{
    job_table_t *table = arg;
    int64_t delay = 0;
    assert_int_equal(job_table_retry(table, job, PROFAI_ERR_WORKER_LOST, 0, &delay),
                     JOB_RETRY_AGAIN);
    assert_int_equal(delay, 0);
}

static void
test_orphans(void **state)
{
    (void)state;
    job_table_t *table = s_table();
    job_t *a = job_table_add(table, JOB_A, OWNER, 1, JOB_ORPHANED, 0, 0, 1000);
    job_t *b = job_table_add(table, JOB_B, OWNER, 1, JOB_ORPHANED, 10, 0, -1);
    job_t *c = job_table_add(table, JOB_C, OWNER, 1, JOB_ORPHANED, 20, 0, -1);
    assert_non_null(job_table_add(table, "q", OWNER, 0, JOB_QUEUED, 0, 0, -1));
    /* Its worker came back: adopted, the orphan runs again. */
    job_table_set_state(table, c, JOB_RUNNING);
    assert_int_equal(job_table_counts(table).orphaned, 2);
    /* Nothing has expired before the grace (6 s) ends. */
    job_table_expire_orphans(table, 5999, s_requeue_orphan, table);
    assert_int_equal(job_table_counts(table).orphaned, 2);
    job_table_expire_orphans(table, 6010, s_requeue_orphan, table);
    assert_int_equal(job_table_counts(table).orphaned, 0);
    assert_int_equal(a->state, JOB_QUEUED);
    assert_int_equal(b->state, JOB_QUEUED);
    assert_int_equal(a->deadline, 0);
    char ids[64];
    s_queue_ids(table, ids, sizeof ids);
    assert_string_equal(ids, "a,b,q");
    /* A transient failure of an orphan's result: ORPHANED -> WAITING. */
    job_t *d = job_table_add(table, "d", OWNER, 1, JOB_ORPHANED, 0, 0, -1);
    int64_t delay = 0;
    assert_int_equal(job_table_retry(table, d, PROFAI_ERR_INTERNAL, 0, &delay), JOB_RETRY_AGAIN);
    assert_int_equal(d->state, JOB_WAITING);
    assert_int_equal(delay, 1000);
    assert_int_equal(job_table_counts(table).orphaned, 0);
    /* An orphan that gives up stays ORPHANED until removed, then leaves its list. */
    job_t *e = job_table_add(table, "e", OWNER, 3, JOB_ORPHANED, 0, 0, -1);
    assert_int_equal(job_table_retry(table, e, PROFAI_ERR_WORKER_LOST, 0, &delay),
                     JOB_RETRY_GIVE_UP);
    assert_int_equal(job_table_counts(table).orphaned, 1);
    job_table_remove(table, &e);
    assert_int_equal(job_table_counts(table).orphaned, 0);
    job_table_destroy(&table);
}

/* Dispatch every job the table lets go, up to n, as the broker does; their last id characters
 * joined by ',' into out. */
static void
s_dispatch(job_table_t *table, int n, char *out, size_t size)
{
    out[0] = '\0';
    job_t *job;
    for (int i = 0; i < n && (job = job_table_next_to_dispatch(table)) != NULL; i++) {
        job->attempts++;
        job_table_set_state(table, job, JOB_DISPATCHING);
        if (out[0] != '\0')
            strncat(out, ",", size - strlen(out) - 1);
        strncat(out, job->id, size - strlen(out) - 1);
    }
}

#define OWNER_A "aaaaaaaa-0000-4000-8000-000000000000"
#define OWNER_B "bbbbbbbb-0000-4000-8000-000000000000"

/* The table serves owners in turn: B's one job after A's many goes second. */
static void
test_fair_between_owners(void **state)
{
    (void)state;
    job_table_t *table = s_table();
    char name[16];
    for (int i = 1; i <= 100; i++) {
        snprintf(name, sizeof name, "a%d", i);
        assert_non_null(job_table_add(table, name, OWNER_A, 0, JOB_QUEUED, 0, 0, -1));
    }
    assert_non_null(job_table_add(table, "b1", OWNER_B, 0, JOB_QUEUED, 0, 0, -1));
    char order[64];
    s_dispatch(table, 4, order, sizeof order);
    assert_string_equal(order, "a1,b1,a2,a3");
    /* a1 loses its worker: back at the front of A's queue. B had nothing left, so its new job
     * joins the ring behind A, whose turn it is. */
    job_t *a1 = job_table_lookup(table, "a1");
    job_table_set_state(table, a1, JOB_RUNNING);
    assert_non_null(job_table_add(table, "b2", OWNER_B, 0, JOB_QUEUED, 0, 0, -1));
    int64_t delay;
    assert_int_equal(job_table_retry(table, a1, PROFAI_ERR_WORKER_LOST, 0, &delay),
                     JOB_RETRY_AGAIN);
    s_dispatch(table, 3, order, sizeof order);
    assert_string_equal(order, "a1,b2,a4");
    /* A back-off that ends puts the job at the front of its owner's queue too. */
    job_t *a2 = job_table_lookup(table, "a2");
    job_table_set_state(table, a2, JOB_RUNNING);
    assert_int_equal(job_table_retry(table, a2, PROFAI_ERR_TIMEOUT, 0, &delay), JOB_RETRY_AGAIN);
    assert_int_equal(a2->state, JOB_WAITING);
    job_table_release_waiting(table, delay, NULL, NULL);
    s_dispatch(table, 2, order, sizeof order);
    assert_string_equal(order, "a2,a5");
    job_table_destroy(&table);
}

/* A restarted broker loads the unfinished jobs oldest first: owners take turns in the order of
 * their oldest queued job, and B's job submitted after A's hundred still goes early. Jobs
 * found running (orphans) count toward the cap. */
static void
test_fair_order_after_restart(void **state)
{
    (void)state;
    job_table_config_t config = {.max_attempts = 3,
                                 .retry_base_ms = 1000,
                                 .retry_max_ms = 8000,
                                 .orphan_grace_ms = 6000,
                                 .random = s_fixed_random,
                                 .max_running_per_owner = 1};
    job_table_t *table = job_table_new(&config);
    /* As sql_stmt_unfinished returns them: by created_at. a0 was running. */
    assert_non_null(job_table_add(table, "a0", OWNER_A, 1, JOB_ORPHANED, 0, 0, -1));
    char name[16];
    for (int i = 1; i <= 100; i++) {
        snprintf(name, sizeof name, "a%d", i);
        assert_non_null(job_table_add(table, name, OWNER_A, 0, JOB_QUEUED, 0, 0, -1));
    }
    assert_non_null(job_table_add(table, "b1", OWNER_B, 0, JOB_QUEUED, 0, 0, -1));
    assert_non_null(job_table_add(table, "b2", OWNER_B, 0, JOB_QUEUED, 0, 0, -1));
    char order[64];
    /* A's orphan may still run: A is at its cap of 1, B goes first, then B is at its cap. */
    s_dispatch(table, 10, order, sizeof order);
    assert_string_equal(order, "b1");
    /* b1 finishes: B may run another, but A has waited for a turn longer. The orphan's
     * worker never comes back: requeued, it is A's first. */
    job_t *b1 = job_table_lookup(table, "b1");
    job_table_remove(table, &b1);
    job_t *a0 = job_table_lookup(table, "a0");
    int64_t delay;
    assert_int_equal(job_table_retry(table, a0, PROFAI_ERR_WORKER_LOST, 0, &delay),
                     JOB_RETRY_AGAIN);
    s_dispatch(table, 10, order, sizeof order);
    assert_string_equal(order, "b2,a0");
    assert_null(job_table_next_to_dispatch(table)); /* both at their caps */
    job_t *b2 = job_table_lookup(table, "b2");
    job_table_remove(table, &b2);
    assert_null(job_table_next_to_dispatch(table)); /* B has nothing queued, A is at its cap */
    a0 = job_table_lookup(table, "a0");
    job_table_remove(table, &a0);
    s_dispatch(table, 10, order, sizeof order);
    assert_string_equal(order, "a1");
    assert_int_equal(job_table_counts(table).queued, 99);
    job_table_destroy(&table);
}

/* The queued jobs by owner (the admin status and the metrics): counts and oldest, WAITING and
 * ORPHANED jobs left out. */
static void
test_queued_by_owner(void **state)
{
    (void)state;
    job_table_t *table = s_table();
    job_tally_t all;
    zhash_t *owners = job_table_queued_by_owner(table, &all);
    assert_non_null(owners);
    assert_int_equal(zhash_size(owners), 0);
    assert_int_equal(all.count, 0);
    assert_int_equal(all.oldest, 0);
    zhash_destroy(&owners);
    assert_non_null(job_table_add(table, JOB_A, OWNER, 0, JOB_QUEUED, 300, 0, -1));
    assert_non_null(job_table_add(table, JOB_B, OWNER, 0, JOB_QUEUED, 200, 0, -1));
    assert_non_null(job_table_add(table, JOB_C, "other", 0, JOB_QUEUED, 400, 0, -1));
    assert_non_null(job_table_add(table, "w", "other", 1, JOB_WAITING, 100, 500, -1));
    assert_non_null(job_table_add(table, "o", "other", 1, JOB_ORPHANED, 50, 0, 2500));
    owners = job_table_queued_by_owner(table, &all);
    assert_non_null(owners);
    assert_int_equal(all.count, 3);
    assert_int_equal(all.oldest, 200);
    assert_int_equal(zhash_size(owners), 2);
    job_tally_t *mine = zhash_lookup(owners, OWNER), *other = zhash_lookup(owners, "other");
    assert_non_null(mine);
    assert_non_null(other);
    assert_int_equal(mine->count, 2);
    assert_int_equal(mine->oldest, 200);
    assert_int_equal(other->count, 1);
    assert_int_equal(other->oldest, 400);
    zhash_destroy(&owners);
    job_table_destroy(&table);
}

/* A job's REQUEST fields: none until set, then the three strings in order; freed with the job
 * (removed or left in the table at its destruction: the sanitizers and valgrind see leaks). */
static void
test_request_fields(void **state)
{
    (void)state;
    job_table_t *table = s_table();
    job_t *a = job_table_add(table, JOB_A, OWNER, 0, JOB_QUEUED, 100, 0, -1);
    job_t *b = job_table_add(table, JOB_B, OWNER, 0, JOB_QUEUED, 100, 0, -1);
    assert_null(a->request);
    assert_int_equal(a->request_pdf_size, -1);
    assert_int_equal(job_table_set_request(a, "Biology", "bio.pdf", "ab12", 1000), 0);
    assert_int_equal(job_table_set_request(a, "Chemistry", "", "cd34", 2000), 0); /* replaced */
    assert_int_equal(a->request_pdf_size, 2000);
    assert_string_equal(a->request, "Chemistry");
    assert_string_equal(a->request + strlen("Chemistry") + 1, "");
    assert_string_equal(a->request + strlen("Chemistry") + 2, "cd34");
    assert_int_equal(job_table_set_request(b, "", "x.pdf", "ef56", -1), 0);
    job_table_remove(table, &a);
    assert_null(a);
    job_table_destroy(&table); /* b and its fields */
    assert_null(table);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_lookup_counts),
        cmocka_unit_test(test_transitions),
        cmocka_unit_test(test_dispatch_and_lose_worker),
        cmocka_unit_test(test_transient_failures_wait),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_give_up),
        cmocka_unit_test(test_release_waiting),
        cmocka_unit_test(test_release_callback),
        cmocka_unit_test(test_orphans),
        cmocka_unit_test(test_fair_between_owners),
        cmocka_unit_test(test_fair_order_after_restart),
        cmocka_unit_test(test_queued_by_owner),
        cmocka_unit_test(test_request_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
