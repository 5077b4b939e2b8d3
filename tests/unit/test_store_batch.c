/*
 * test_store_batch.c - unit tests of the store's multi-row helpers (broker/store_batch.h):
 * which operations of a segment may share one statement, the array literals, and a batch's
 * result cut into one result per operation (built with libpq, no server).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const store_stmt_t s_many = {"many", "x", 1, 0, 1, NULL, NULL};
static const store_stmt_t s_a = {"a", "x", 1, 0, 1, &s_many, NULL};
static const store_stmt_t s_b_many = {"b_many", "x", 1, 0, 1, NULL, NULL};
static const store_stmt_t s_b = {"b", "x", 1, 0, 1, &s_b_many, NULL};
static const store_stmt_t s_keyed = {"keyed", "x", 1, 0, 1, NULL, NULL};
static const store_stmt_t s_barrier = {"barrier", "x", 0, 0, 0, NULL, NULL};

static store_batch_item_t
s_item(const store_stmt_t *stmt, const char *key)
{
    return (store_batch_item_t){stmt, stmt->keyed ? key : NULL, stmt->batch != NULL};
}

/* Same-kind operations on different keys gather at the first one's place, across other keyed
 * operations; two kinds make two batches. */
static void
test_plan_gathers_by_kind(void **state)
{
    (void)state;
    store_batch_item_t items[] = {s_item(&s_a, "1"), s_item(&s_b, "2"), s_item(&s_keyed, "3"),
                                  s_item(&s_a, "4"), s_item(&s_b, "5"), s_item(&s_a, "6")};
    size_t anchor[6];
    assert_int_equal(store_batch_plan(items, 6, anchor), 0);
    size_t want[] = {0, 1, 2, 0, 1, 0};
    assert_memory_equal(anchor, want, sizeof want);
}

/* Nothing moves before an operation on its own key, nor across a barrier. */
static void
test_plan_keeps_the_order_of_a_key_and_barriers(void **state)
{
    (void)state;
    /* a(1), keyed(1), a(1) again: the second a(1) must not pass keyed(1); a(2) after it may
     * only join the batch that starts after the window break. */
    store_batch_item_t items[] = {s_item(&s_a, "1"), s_item(&s_keyed, "1"),    s_item(&s_a, "1"),
                                  s_item(&s_a, "2"), s_item(&s_barrier, NULL), s_item(&s_a, "3"),
                                  s_item(&s_a, "4")};
    size_t anchor[7];
    assert_int_equal(store_batch_plan(items, 7, anchor), 0);
    size_t want[] = {0, 1, 2, 2, 4, 5, 5};
    assert_memory_equal(anchor, want, sizeof want);
}

/* An operation that may not batch (its flags, or refused before) keeps its place and still
 * counts as its key. */
static void
test_plan_unbatchable_items(void **state)
{
    (void)state;
    store_batch_item_t items[] = {s_item(&s_a, "1"), s_item(&s_a, "2"), s_item(&s_a, "3")};
    items[1].batchable = false;
    size_t anchor[3];
    assert_int_equal(store_batch_plan(items, 3, anchor), 0);
    size_t want[] = {0, 1, 0};
    assert_memory_equal(anchor, want, sizeof want);
}

/* Many keys: the hash set of a window holds them all (no false "seen"). */
static void
test_plan_many_keys(void **state)
{
    (void)state;
    enum { N = 1000 };
    static char keys[N][16];
    static store_batch_item_t items[N];
    static size_t anchor[N];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "job-%d", i);
        items[i] = s_item(i % 2 ? &s_a : &s_b, keys[i]);
    }
    assert_int_equal(store_batch_plan(items, N, anchor), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(anchor[i], (size_t)(i % 2));
}

static void
test_array_literal_escapes(void **state)
{
    (void)state;
    const char *values[] = {"plain", "a \"quoted\" \\ back", "", "{\"json\": [1, 2]}"};
    size_t len;
    char *s = store_batch_array(values, 4, &len);
    assert_non_null(s);
    assert_string_equal(s, "{\"plain\",\"a \\\"quoted\\\" \\\\ back\",\"\","
                           "\"{\\\"json\\\": [1, 2]}\"}");
    assert_int_equal(len, strlen(s));
    free(s);
    s = store_batch_array(values, 0, &len);
    assert_string_equal(s, "{}");
    free(s);
}

/* A result with (ordinal, value) rows, as a batch statement returns. */
static PGresult *
s_result(const char *const rows[][2], int n)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc attrs[2] = {{.name = "n", .typid = 20, .typlen = 8, .atttypmod = -1},
                             {.name = "title", .typid = 25, .typlen = -1, .atttypmod = -1}};
    assert_true(PQsetResultAttrs(res, 2, attrs));
    for (int r = 0; r < n; r++) {
        for (int c = 0; c < 2; c++)
            assert_true(PQsetvalue(res, r, c, (char *)rows[r][c],
                                   rows[r][c] != NULL ? (int)strlen(rows[r][c]) : -1));
    }
    return res;
}

static void
test_split_gives_each_operation_its_rows(void **state)
{
    (void)state;
    const char *rows[][2] = {{"3", "third"}, {"1", "first"}, {"3", NULL}};
    PGresult *res = s_result(rows, 3);
    PGresult *out[4];
    assert_int_equal(store_batch_split(res, 4, out), 0);
    assert_int_equal(PQntuples(out[0]), 1);
    assert_string_equal(PQgetvalue(out[0], 0, 0), "first");
    assert_string_equal(PQfname(out[0], 0), "title");
    assert_int_equal(PQnfields(out[0]), 1);
    assert_int_equal(PQntuples(out[1]), 0); /* did not apply */
    assert_int_equal(PQnfields(out[1]), 1);
    assert_int_equal(PQntuples(out[2]), 2);
    assert_string_equal(PQgetvalue(out[2], 0, 0), "third");
    assert_true(PQgetisnull(out[2], 1, 0));
    assert_int_equal(PQntuples(out[3]), 0);
    assert_string_equal(PQcmdTuples(out[0]), ""); /* no command tag: rows are the answer */
    for (int i = 0; i < 4; i++)
        PQclear(out[i]);
    PQclear(res);
}

static void
test_split_refuses_a_bad_ordinal(void **state)
{
    (void)state;
    const char *rows[][2] = {{"1", "a"}, {"5", "b"}};
    PGresult *res = s_result(rows, 2);
    PGresult *out[2];
    assert_int_equal(store_batch_split(res, 2, out), -1);
    assert_null(out[0]);
    assert_null(out[1]);
    PQclear(res);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_gathers_by_kind),
        cmocka_unit_test(test_plan_keeps_the_order_of_a_key_and_barriers),
        cmocka_unit_test(test_plan_unbatchable_items),
        cmocka_unit_test(test_plan_many_keys),
        cmocka_unit_test(test_array_literal_escapes),
        cmocka_unit_test(test_split_gives_each_operation_its_rows),
        cmocka_unit_test(test_split_refuses_a_bad_ordinal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
