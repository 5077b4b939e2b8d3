/*
 * test_quiz_score.c - unit tests of quiz scoring (frontend/quiz_score.h): answer keys as
 * db_course_quiz gives them, attempts as json_in parses them, and the stored answers and
 * results the scoring writes, with the edge cases: unanswered questions, unknown question ids,
 * duplicate members, choices of the wrong type or range, malformed key lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "quiz_score.h"

#include <stdio.h>
#include <string.h>

#define KEY "q1\t2\tl1\nq2\t0\t\nq3\t3\tl2"

static json_in_doc_t *
s_parse(const char *text)
{
    json_in_limits_t limits = {.max_depth = 8, .max_values = 4096};
    char err[256];
    json_in_doc_t *doc = json_in_parse(text, strlen(text), &limits, err, sizeof err);
    return doc;
}

/* Take the attempt text against KEY: 0, or -1 with why. */
static int
s_take(quiz_key_t *key, const char *attempt, char *why, size_t size)
{
    assert_int_equal(quiz_key_parse(key, KEY, strlen(KEY)), 0);
    json_in_doc_t *doc = s_parse(attempt);
    assert_non_null(doc);
    int rc = quiz_answers_take(key, json_in_root(doc), why, size);
    json_in_free(&doc);
    return rc;
}

static void
test_key_parse(void **state)
{
    (void)state;
    quiz_key_t key;
    assert_int_equal(quiz_key_parse(&key, KEY, strlen(KEY)), 0);
    assert_int_equal(key.count, 3);
    assert_string_equal(key.questions[0].id, "q1");
    assert_int_equal(key.questions[0].answer, 2);
    assert_string_equal(key.questions[0].lesson, "l1");
    assert_string_equal(key.questions[1].lesson, "");
    assert_int_equal(key.questions[2].answer, 3);
    for (size_t i = 0; i < key.count; i++)
        assert_int_equal(key.questions[i].chosen, -1);
    quiz_key_free(&key);
    quiz_key_free(&key); /* twice is harmless */

    /* no quiz; lines without two tabs are skipped; the key need not be NUL-terminated */
    assert_int_equal(quiz_key_parse(&key, "", 0), 0);
    assert_int_equal(key.count, 0);
    quiz_key_free(&key);
    static const char odd[] = "broken\nq1\t1\t\n\nq2 1\nq3\t2\tlx\nIGNORED";
    assert_int_equal(quiz_key_parse(&key, odd, strlen(odd) - 8), 0);
    assert_int_equal(key.count, 2);
    assert_string_equal(key.questions[1].id, "q3");
    assert_string_equal(key.questions[1].lesson, "lx");
    quiz_key_free(&key);
}

static void
test_full_marks_and_results(void **state)
{
    (void)state;
    quiz_key_t key;
    char why[256];
    assert_int_equal(s_take(&key, "{\"answers\":{\"q3\":3,\"q1\":2,\"q2\":0}}", why, sizeof why),
                     0);
    json_t answers, results;
    json_init(&answers);
    json_init(&results);
    assert_int_equal(quiz_score(&key, &answers, &results), 3);
    assert_false(json_failed(&answers) || json_failed(&results));
    /* in quiz order, whatever the attempt's order */
    assert_string_equal(answers.data, "{\"q1\":2,\"q2\":0,\"q3\":3}");
    assert_string_equal(results.data,
                        "[{\"question\":\"q1\",\"lesson\":\"l1\",\"chosen\":2,\"correct\":true,"
                        "\"answer\":2},{\"question\":\"q2\",\"lesson\":null,\"chosen\":0,"
                        "\"correct\":true,\"answer\":0},{\"question\":\"q3\",\"lesson\":\"l2\","
                        "\"chosen\":3,\"correct\":true,\"answer\":3}]");
    json_free(&answers);
    json_free(&results);
    quiz_key_free(&key);
}

static void
test_missing_answers_are_wrong(void **state)
{
    (void)state;
    quiz_key_t key;
    char why[256];
    assert_int_equal(s_take(&key, "{\"answers\":{\"q2\":1}}", why, sizeof why), 0);
    json_t answers, results;
    json_init(&answers);
    json_init(&results);
    assert_int_equal(quiz_score(&key, &answers, &results), 0);
    assert_string_equal(answers.data, "{\"q2\":1}");
    assert_non_null(strstr(results.data, "{\"question\":\"q1\",\"lesson\":\"l1\",\"chosen\":null,"
                                         "\"correct\":false,\"answer\":2}"));
    json_free(&answers);
    json_free(&results);
    quiz_key_free(&key);

    /* an empty attempt scores nothing and stores {} */
    assert_int_equal(s_take(&key, "{\"answers\":{}}", why, sizeof why), 0);
    json_init(&answers);
    json_init(&results);
    assert_int_equal(quiz_score(&key, &answers, &results), 0);
    assert_string_equal(answers.data, "{}");
    json_free(&answers);
    json_free(&results);
    quiz_key_free(&key);
}

static void
test_bad_attempts(void **state)
{
    (void)state;
    static const struct {
        const char *attempt, *why;
    } cases[] = {
        {"[]", "the body must be a JSON object"},
        {"{\"answers\":{},\"extra\":1}",
         "unknown member \"extra\" (only \"answers\" and \"lesson\")"},
        {"{\"answers\":{},\"lesson\":1}",
         "\"lesson\" must be a lesson id (a string of 1 to 64 bytes)"},
        {"{\"answers\":{},\"lesson\":\"\"}",
         "\"lesson\" must be a lesson id (a string of 1 to 64 bytes)"},
        {"{\"answers\":{\"q3\":1},\"lesson\":\"l1\"}",
         "question \"q3\" is not one of lesson \"l1\""},
        {"{\"lesson\":\"l2\",\"answers\":{\"q1\":1}}",
         "question \"q1\" is not one of lesson \"l2\""},
        {"{}", "\"answers\" must be an object of question ids to choices 0-3"},
        {"{\"answers\":[2]}", "\"answers\" must be an object of question ids to choices 0-3"},
        {"{\"answers\":{\"q9\":1}}", "the quiz has no question \"q9\""},
        {"{\"answers\":{\"q1\":4}}", "the answer to \"q1\" must be an integer from 0 to 3"},
        {"{\"answers\":{\"q1\":-1}}", "the answer to \"q1\" must be an integer from 0 to 3"},
        {"{\"answers\":{\"q1\":1.0}}", "the answer to \"q1\" must be an integer from 0 to 3"},
        {"{\"answers\":{\"q1\":\"1\"}}", "the answer to \"q1\" must be an integer from 0 to 3"},
        {"{\"answers\":{\"q1\":null}}", "the answer to \"q1\" must be an integer from 0 to 3"},
        {"{\"answers\":{\"q1\":true}}", "the answer to \"q1\" must be an integer from 0 to 3"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        quiz_key_t key;
        char why[256] = "";
        assert_int_equal(s_take(&key, cases[i].attempt, why, sizeof why), -1);
        assert_string_equal(why, cases[i].why);
        quiz_key_free(&key);
    }
}

/* An attempt at one lesson's quiz is scored over that lesson's questions only (issue 11): the
 * others are neither counted nor listed in the results. */
static void
test_lesson_scope(void **state)
{
    (void)state;
    quiz_key_t key;
    char why[256] = "";
    assert_int_equal(s_take(&key, "{\"lesson\":\"l2\",\"answers\":{}}", why, sizeof why), 0);
    assert_string_equal(key.lesson, "l2");
    assert_int_equal(key.in_scope, 1);
    json_t answers, results;
    json_init(&answers);
    json_init(&results);
    assert_int_equal(quiz_score(&key, &answers, &results), 0);
    assert_string_equal(results.data, "[{\"question\":\"q3\",\"lesson\":\"l2\",\"chosen\":null,"
                                      "\"correct\":false,\"answer\":3}]");
    json_free(&answers);
    json_free(&results);
    quiz_key_free(&key);

    /* A partial attempt at l1 (q1 of q1): 1 out of 1, never out of the quiz's 3. */
    assert_int_equal(s_take(&key, "{\"answers\":{\"q1\":2},\"lesson\":\"l1\"}", why, sizeof why),
                     0);
    assert_int_equal(key.in_scope, 1);
    json_init(&answers);
    json_init(&results);
    assert_int_equal(quiz_score(&key, &answers, &results), 1);
    assert_string_equal(answers.data, "{\"q1\":2}");
    json_free(&answers);
    json_free(&results);
    quiz_key_free(&key);

    /* A lesson without questions: taken, with an empty scope (the caller's 409). */
    assert_int_equal(s_take(&key, "{\"answers\":{},\"lesson\":\"l7\"}", why, sizeof why), 0);
    assert_int_equal(key.in_scope, 0);
    quiz_key_free(&key);

    /* Without a lesson: the whole quiz. */
    assert_int_equal(s_take(&key, "{\"answers\":{}}", why, sizeof why), 0);
    assert_string_equal(key.lesson, "");
    assert_int_equal(key.in_scope, 3);
    quiz_key_free(&key);
}

static void
test_long_ids_are_cut_in_the_sentence(void **state)
{
    (void)state;
    char attempt[256], id[101];
    memset(id, 'x', 100);
    id[100] = '\0';
    snprintf(attempt, sizeof attempt, "{\"answers\":{\"%s\":1}}", id);
    quiz_key_t key;
    char why[256];
    assert_int_equal(s_take(&key, attempt, why, sizeof why), -1);
    assert_int_equal(strlen(why), strlen("the quiz has no question \"\"") + 64);
    quiz_key_free(&key);
}

/* Duplicate members never reach the scoring: the JSON reader refuses them. */
static void
test_duplicate_answers_are_refused_by_the_reader(void **state)
{
    (void)state;
    assert_null(s_parse("{\"answers\":{\"q1\":1,\"q1\":2}}"));
    assert_null(s_parse("{\"answers\":{},\"answers\":{}}"));
}

/* A key that names one question twice: the first takes the answer, the second is unanswered
 * (as before the scoring had its own module). */
static void
test_duplicate_questions_in_a_key(void **state)
{
    (void)state;
    static const char text[] = "q1\t1\t\nq1\t1\t";
    quiz_key_t key;
    assert_int_equal(quiz_key_parse(&key, text, strlen(text)), 0);
    json_in_doc_t *doc = s_parse("{\"answers\":{\"q1\":1}}");
    char why[64];
    assert_int_equal(quiz_answers_take(&key, json_in_root(doc), why, sizeof why), 0);
    json_t answers, results;
    json_init(&answers);
    json_init(&results);
    assert_int_equal(quiz_score(&key, &answers, &results), 1);
    json_free(&answers);
    json_free(&results);
    json_in_free(&doc);
    quiz_key_free(&key);
}

/* The answer policy (docs/api.md 4.10): a student sees the right answers from the final
 * allowed attempt on, never with unlimited attempts; teachers and admins always, unlimited. */
static void
test_reveal_policy(void **state)
{
    (void)state;
    assert_int_equal(quiz_reveal_from(3, false), 3);
    assert_int_equal(quiz_reveal_from(1, false), 1);
    assert_int_equal(quiz_reveal_from(0, false), -1);
    assert_int_equal(quiz_reveal_from(3, true), 0);
    assert_int_equal(quiz_reveal_from(0, true), 0);
    assert_int_equal(quiz_attempt_limit(3, false), 3);
    assert_int_equal(quiz_attempt_limit(0, false), 0);
    assert_int_equal(quiz_attempt_limit(3, true), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_parse),
        cmocka_unit_test(test_full_marks_and_results),
        cmocka_unit_test(test_missing_answers_are_wrong),
        cmocka_unit_test(test_bad_attempts),
        cmocka_unit_test(test_lesson_scope),
        cmocka_unit_test(test_long_ids_are_cut_in_the_sentence),
        cmocka_unit_test(test_duplicate_answers_are_refused_by_the_reader),
        cmocka_unit_test(test_duplicate_questions_in_a_key),
        cmocka_unit_test(test_reveal_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
