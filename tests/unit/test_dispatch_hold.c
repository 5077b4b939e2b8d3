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

#include <stdbool.h>
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

/* One call on the hold, and what it must answer. */
typedef enum { S_OP_END, S_OP_PUT, S_OP_TAKE, S_OP_TAKE_DUE, S_OP_NEXT_DUE, S_OP_COUNT } s_op_t;

/* A take's entry: the n-th put (from 1), or one of these sequence numbers never handed out. */
enum { S_SEQ_ZERO = 0, S_SEQ_PAST = -1 /* one past the last put's */ };

typedef struct {
    s_op_t op;
    int64_t arg; /* put: due; take: entry; take due: now; count: the count */
    bool ok;     /* take, take due, next due: the answer */
    int entry;   /* take and take due when ok: the put taken (s_held) */
    int64_t due; /* next due when ok: the due time */
} s_step_t;

/* The steps, by what each must answer (entries are numbered by their put, from 1). */
/* clang-format off */
#define S_PUT(due)           {S_OP_PUT, (due), false, 0, 0}
#define S_TAKE(e)            {S_OP_TAKE, (e), true, (e), 0}
#define S_TAKE_NONE(e)       {S_OP_TAKE, (e), false, 0, 0}
#define S_TAKE_DUE(now, e)   {S_OP_TAKE_DUE, (now), true, (e), 0}
#define S_TAKE_DUE_NONE(now) {S_OP_TAKE_DUE, (now), false, 0, 0}
#define S_NEXT_DUE(due)      {S_OP_NEXT_DUE, 0, true, 0, (due)}
#define S_NEXT_DUE_NONE      {S_OP_NEXT_DUE, 0, false, 0, 0}
#define S_COUNT(n)           {S_OP_COUNT, (n), false, 0, 0}
/* clang-format on */

#define S_STEPS_MAX 12

typedef struct {
    const char *name;
    s_step_t steps[S_STEPS_MAX]; /* up to the first S_OP_END */
} s_case_t;

/* A failed expectation names the case and the step (cmocka would name only this file's line). */
#define S_EXPECT(cond)                                                                             \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_msg("%s, step %d: expected %s", c->name, i + 1, #cond);                           \
    } while (0)

/* Run a case's steps on a new hold: each put's sequence number is non-zero and new; each taken
 * entry is the put expected, whole. */
static void
s_run(const s_case_t *c)
{
    dispatch_hold_t *h = dispatch_hold_new();
    assert_non_null(h);
    uint64_t seq[S_STEPS_MAX + 1] = {0};
    int puts = 0;
    for (int i = 0; i < S_STEPS_MAX && c->steps[i].op != S_OP_END; i++) {
        const s_step_t *st = &c->steps[i];
        dispatch_held_t out;
        int64_t due;
        bool ok = false;
        switch (st->op) {
        case S_OP_PUT: {
            dispatch_held_t d = s_held(++puts);
            seq[puts] = dispatch_hold_put(h, &d, st->arg);
            S_EXPECT(seq[puts] != 0);
            for (int k = 1; k < puts; k++)
                S_EXPECT(seq[k] != seq[puts]);
            continue;
        }
        case S_OP_TAKE: {
            uint64_t s = st->arg == S_SEQ_ZERO   ? 0
                         : st->arg == S_SEQ_PAST ? seq[puts] + 1
                                                 : seq[st->arg];
            ok = dispatch_hold_take(h, s, &out);
            break;
        }
        case S_OP_TAKE_DUE:
            ok = dispatch_hold_take_due(h, st->arg, &out);
            break;
        case S_OP_NEXT_DUE:
            ok = dispatch_hold_next_due(h, &due);
            S_EXPECT(ok == st->ok);
            S_EXPECT(!ok || due == st->due);
            continue;
        case S_OP_END: /* not reached */
        case S_OP_COUNT:
            S_EXPECT(dispatch_hold_count(h) == (size_t)st->arg);
            continue;
        }
        S_EXPECT(ok == st->ok);
        if (ok) {
            dispatch_held_t want = s_held(st->entry);
            S_EXPECT(strcmp(out.job_id, want.job_id) == 0);
            S_EXPECT(strcmp(out.worker, want.worker) == 0);
            S_EXPECT(out.attempt == want.attempt);
        }
    }
    dispatch_hold_destroy(&h);
    assert_null(h);
}

static const s_case_t s_cases[] = {
    {"due in order",
     {S_PUT(100), S_PUT(110), S_NEXT_DUE(100), S_TAKE_DUE_NONE(99), S_TAKE_DUE(105, 1),
      S_TAKE_DUE_NONE(105), S_TAKE_DUE(110, 2), S_NEXT_DUE_NONE, S_COUNT(0),
      S_TAKE_NONE(1)}}, /* taken by its due time: not again by its number */
    {"take once",
     {S_PUT(10), S_PUT(20), S_PUT(30), S_TAKE(2), S_TAKE_NONE(2), S_COUNT(2), S_TAKE(1),
      S_NEXT_DUE(30), /* the head skips the dead slot of 2: 3 is next */
      S_TAKE_NONE(S_SEQ_ZERO), S_TAKE_NONE(S_SEQ_PAST), S_TAKE_DUE(INT64_MAX, 3)}},
    {"due never goes back",
     {S_PUT(50), S_PUT(40), /* a clock step back: held as long as 1 */
      S_TAKE_DUE(50, 1), S_NEXT_DUE(50), S_TAKE_DUE_NONE(45), S_TAKE_DUE(50, 2)}},
};

static void
test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases[0]; i++)
        s_run(&s_cases[i]);
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
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_grow_with_holes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
