/*
 * test_quiz_deal.c - unit tests of the deal of questions per attempt (frontend/quiz_deal.h):
 * exactly N distinct questions, all of the attempt's scope, the same for the same course,
 * student, scope and attempt number, and a deal for each attempt number that varies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "quiz_deal.h"

#include <stdio.h>
#include <string.h>

#define COURSE "0d5d2c63-8e0e-4f6b-a0f5-6e8a3c1e4b21"
#define ALICE "11111111-2222-4333-8444-555555555555"
#define BOB "99999999-2222-4333-8444-555555555555"

/* A key of 20 questions q0..q19, the even ones of lesson l1, the odd ones of l2, dealing per. */
static void
s_key(quiz_key_t *key, int per)
{
    char text[1024];
    size_t len = 0;
    for (int i = 0; i < 20; i++)
        len +=
            (size_t)snprintf(text + len, sizeof text - len, "q%d\t%d\tl%d\n", i, i % 4, 1 + i % 2);
    len += (size_t)snprintf(text + len, sizeof text - len, "*\t%d", per);
    assert_int_equal(quiz_key_parse(key, text, len), 0);
    assert_int_equal(key->count, 20);
    assert_int_equal(key->per_attempt, per);
}

/* The dealt questions as a bit set (bit i: q<i>), checking there are n of them. */
static uint32_t
s_dealt(const quiz_key_t *key, size_t n)
{
    uint32_t set = 0;
    size_t count = 0;
    for (size_t i = 0; i < key->count; i++) {
        if (key->questions[i].in_scope) {
            set |= UINT32_C(1) << i;
            count++;
        }
    }
    assert_int_equal(count, n);
    assert_int_equal(key->in_scope, n);
    return set;
}

static uint32_t
s_deal(int per, const char *lesson, const char *user, long long number)
{
    quiz_key_t key;
    s_key(&key, per);
    quiz_scope_set(&key, lesson);
    assert_true(quiz_deal_applies(&key));
    assert_int_equal(quiz_deal(&key, COURSE, user, number), 0);
    uint32_t set = s_dealt(&key, (size_t)per);
    quiz_key_free(&key);
    return set;
}

static void
test_deal_is_n_distinct_of_the_scope(void **state)
{
    (void)state;
    for (long long number = 1; number <= 50; number++) {
        s_deal(5, "", ALICE, number); /* counts checked inside */
        uint32_t l1 = s_deal(3, "l1", ALICE, number);
        assert_int_equal(l1 & UINT32_C(0xaaaaa), 0); /* only even questions: lesson l1 */
        uint32_t l2 = s_deal(9, "l2", BOB, number);
        assert_int_equal(l2 & UINT32_C(0x55555), 0);
    }
}

static void
test_deal_is_deterministic_and_varies(void **state)
{
    (void)state;
    assert_int_equal(s_deal(5, "", ALICE, 1), s_deal(5, "", ALICE, 1));
    assert_int_equal(s_deal(4, "l2", BOB, 7), s_deal(4, "l2", BOB, 7));
    /* Over many attempt numbers, students and scopes, deals differ (20 choose 5 = 15504:
     * a fixed deal would give one set). */
    uint32_t first = s_deal(5, "", ALICE, 1);
    int differ_by_number = 0, differ_by_user = 0;
    for (long long n = 2; n <= 20; n++)
        differ_by_number += s_deal(5, "", ALICE, n) != first;
    for (long long n = 1; n <= 20; n++)
        differ_by_user += s_deal(5, "", ALICE, n) != s_deal(5, "", BOB, n);
    assert_true(differ_by_number >= 15);
    assert_true(differ_by_user >= 15);
    /* every question turns up in some deal */
    uint32_t seen = 0;
    for (long long n = 1; n <= 200; n++)
        seen |= s_deal(5, "", ALICE, n);
    assert_int_equal(seen, UINT32_C(0xfffff));
}

static void
test_no_deal_when_not_needed(void **state)
{
    (void)state;
    quiz_key_t key;
    s_key(&key, 10);
    quiz_scope_set(&key, "l1"); /* 10 questions: all of them */
    assert_false(quiz_deal_applies(&key));
    assert_int_equal(quiz_deal(&key, COURSE, ALICE, 1), 0);
    s_dealt(&key, 10);
    quiz_scope_set(&key, NULL);
    assert_true(quiz_deal_applies(&key));
    quiz_key_free(&key);
    /* no "*" line: no deal */
    const char *text = "q1\t0\t\nq2\t1\t\nq3\t2\t";
    assert_int_equal(quiz_key_parse(&key, text, strlen(text)), 0);
    assert_int_equal(key.per_attempt, 0);
    assert_false(quiz_deal_applies(&key));
    quiz_key_free(&key);
}

/* An answer to a question of the scope that is not dealt is refused, naming the deal; one of
 * another lesson still names the lesson; unanswered dealt questions score as wrong. */
static void
test_answers_against_a_deal(void **state)
{
    (void)state;
    quiz_key_t key;
    s_key(&key, 3);
    json_in_limits_t limits = {.max_depth = 8, .max_values = 4096};
    char err[256], why[256];
    const char *body_text = "{\"lesson\": \"l1\", \"answers\": {}}";
    json_in_doc_t *doc = json_in_parse(body_text, strlen(body_text), &limits, err, sizeof err);
    assert_non_null(doc);
    assert_int_equal(quiz_attempt_scope(&key, json_in_root(doc), why, sizeof why), 0);
    json_in_free(&doc);
    assert_int_equal(key.in_scope, 10);
    assert_int_equal(quiz_deal(&key, COURSE, ALICE, 2), 0);
    s_dealt(&key, 3);
    int dealt = -1, undealt = -1;
    for (int i = 0; i < 20; i += 2) {
        if (key.questions[i].in_scope && dealt < 0)
            dealt = i;
        if (!key.questions[i].in_scope && undealt < 0)
            undealt = i;
    }
    char body[128];
    snprintf(body, sizeof body, "{\"answers\": {\"q%d\": %d}}", dealt, dealt % 4);
    doc = json_in_parse(body, strlen(body), &limits, err, sizeof err);
    assert_int_equal(quiz_answers_note(&key, json_in_root(doc), why, sizeof why), 0);
    json_in_free(&doc);
    json_t answers, results;
    json_init(&answers);
    json_init(&results);
    assert_int_equal(quiz_score(&key, &answers, &results), 1);
    size_t listed = 0;
    for (const char *p = results.data; (p = strstr(p, "\"question\"")) != NULL; p++)
        listed++;
    assert_int_equal(listed, 3);
    json_free(&answers);
    json_free(&results);

    snprintf(body, sizeof body, "{\"answers\": {\"q%d\": 0}}", undealt);
    doc = json_in_parse(body, strlen(body), &limits, err, sizeof err);
    assert_int_equal(quiz_answers_note(&key, json_in_root(doc), why, sizeof why), -1);
    assert_non_null(strstr(why, "dealt"));
    json_in_free(&doc);
    body_text = "{\"answers\": {\"q1\": 0}}";
    doc = json_in_parse(body_text, strlen(body_text), &limits, err, sizeof err);
    assert_int_equal(quiz_answers_note(&key, json_in_root(doc), why, sizeof why), -1);
    assert_non_null(strstr(why, "lesson \"l1\""));
    json_in_free(&doc);
    quiz_key_free(&key);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deal_is_n_distinct_of_the_scope),
        cmocka_unit_test(test_deal_is_deterministic_and_varies),
        cmocka_unit_test(test_no_deal_when_not_needed),
        cmocka_unit_test(test_answers_against_a_deal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
