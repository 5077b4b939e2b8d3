/*
 * test_course_check.c - unit tests of the broker's course check (broker/course_check.h): a
 * course as the extractor writes it passes; each break of docs/api.md section 5 is refused
 * with a sentence naming the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "course_check.h"

#include <stdio.h>
#include <string.h>

/* A full course: two pages, one module, one lesson, one question. %s slots let a test replace
 * parts: the title value, the source, the modules, the quiz. */
#define COURSE_FMT                                                                                 \
    "{\"title\": %s, \"source\": %s, \"structure\": \"outline\", \"language\": \"en\","            \
    " \"modules\": %s, \"quiz\": %s}"
#define GOOD_TITLE "\"Biology <img src=x onerror=alert(1)>\""
#define GOOD_SOURCE                                                                                \
    "{\"filename\": \"b.pdf\", \"sha256\": \"" SHA "\", \"pages\": 2, \"pdf_title\": null,"        \
    " \"author\": \"A\"}"
#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define GOOD_LESSON                                                                                \
    "{\"id\": \"l1\", \"title\": \"Cells\", \"page_start\": 1, \"page_end\": 2, \"text\": \"x\","  \
    " \"summary\": \"s\", \"key_terms\": [\"cell\"]}"
#define GOOD_MODULES                                                                               \
    "[{\"id\": \"m1\", \"title\": \"Cells\", \"page_start\": 1, \"page_end\": 2,"                  \
    " \"generated\": false, \"lessons\": [" GOOD_LESSON "]}]"
#define GOOD_QUIZ                                                                                  \
    "[{\"id\": \"q1\", \"lesson\": \"l1\", \"prompt\": \"A _____ lives\", \"choices\": [\"cell\"," \
    " \"rock\", \"sea\", \"sky\"], \"answer\": 0, \"source_page\": 1}]"

static char s_buf[8192];
static char s_why[256];

static int
s_check(const char *title, const char *source, const char *modules, const char *quiz)
{
    snprintf(s_buf, sizeof s_buf, COURSE_FMT, title, source, modules, quiz);
    s_why[0] = '\0';
    return course_check(s_buf, strlen(s_buf), s_why, sizeof s_why);
}

static void
s_refused(const char *title, const char *source, const char *modules, const char *quiz,
          const char *why_part)
{
    assert_int_equal(s_check(title, source, modules, quiz), -1);
    if (strstr(s_why, why_part) == NULL)
        fail_msg("why \"%s\" lacks \"%s\"", s_why, why_part);
}

static void
test_good_course_passes(void **state)
{
    (void)state;
    assert_int_equal(s_check(GOOD_TITLE, GOOD_SOURCE, GOOD_MODULES, GOOD_QUIZ), 0);
    assert_int_equal(s_check(GOOD_TITLE, GOOD_SOURCE, GOOD_MODULES, "[]"), 0);
    /* The minimal course of the broker's tests: no ids, no quiz, no language. */
    const char *minimal =
        "{\"title\": \"T\", \"source\": " GOOD_SOURCE ", \"structure\": \"pages\","
        " \"modules\": [{\"title\": \"Pages 1-2\", \"page_start\": 1, \"page_end\": 2,"
        " \"generated\": true, \"lessons\": [{\"title\": \"Page 1\", \"page_start\": 1,"
        " \"page_end\": 2, \"text\": \"\"}]}], \"extra\": {\"grows\": true}}";
    assert_int_equal(course_check(minimal, strlen(minimal), s_why, sizeof s_why), 0);
}

static void
test_not_json_or_not_an_object(void **state)
{
    (void)state;
    const char *bad[] = {"{\"title\": \"unterminated", "[]", "\"x\"", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(course_check(bad[i], strlen(bad[i]), s_why, sizeof s_why), -1);
}

static void
test_types_and_sizes(void **state)
{
    (void)state;
    s_refused("5", GOOD_SOURCE, GOOD_MODULES, GOOD_QUIZ, "title: not a string");
    char long_title[COURSE_TITLE_MAX + 8];
    memset(long_title, 'a', sizeof long_title);
    long_title[0] = '"';
    long_title[sizeof long_title - 2] = '"';
    long_title[sizeof long_title - 1] = '\0';
    s_refused(long_title, GOOD_SOURCE, GOOD_MODULES, GOOD_QUIZ, "title: ");
    s_refused(GOOD_TITLE, "{\"filename\": \"b.pdf\", \"sha256\": \"XYZ\", \"pages\": 2}",
              GOOD_MODULES, GOOD_QUIZ, "source.sha256");
    s_refused(GOOD_TITLE,
              "{\"filename\": \"b\", \"sha256\": \"" SHA "\", \"pages\": 0, \"pdf_title\": null,"
              " \"author\": null}",
              GOOD_MODULES, GOOD_QUIZ, "source.pages");
    s_refused(GOOD_TITLE, GOOD_SOURCE, "[]", GOOD_QUIZ, "modules: 0 items");
    s_refused(GOOD_TITLE, GOOD_SOURCE, "{}", GOOD_QUIZ, "modules: not an array");
    s_refused(GOOD_TITLE, GOOD_SOURCE,
              "[{\"title\": \"M\", \"page_start\": 1, \"page_end\": 2, \"generated\": false,"
              " \"lessons\": []}]",
              "[]", "modules[0].lessons: 0 items");
    s_refused(GOOD_TITLE, GOOD_SOURCE,
              "[{\"title\": \"M\", \"page_start\": 1, \"page_end\": 2, \"generated\": false,"
              " \"lessons\": [{\"title\": \"L\", \"page_start\": 1, \"page_end\": 2,"
              " \"text\": 7}]}]",
              "[]", "modules[0].lessons[0].text: not a string");
    s_refused(GOOD_TITLE, GOOD_SOURCE,
              "[{\"title\": \"M\", \"page_start\": 1, \"page_end\": 2, \"generated\": \"no\","
              " \"lessons\": [" GOOD_LESSON "]}]",
              "[]", "generated");
}

static void
test_page_ranges(void **state)
{
    (void)state;
    s_refused(GOOD_TITLE, GOOD_SOURCE,
              "[{\"title\": \"M\", \"page_start\": 1, \"page_end\": 3, \"generated\": false,"
              " \"lessons\": [" GOOD_LESSON "]}]",
              "[]", "modules[0].page_end: 3 is not within 1..2");
    s_refused(GOOD_TITLE, GOOD_SOURCE,
              "[{\"title\": \"M\", \"page_start\": 2, \"page_end\": 2, \"generated\": false,"
              " \"lessons\": [" GOOD_LESSON "]}]",
              "[]", "modules[0].lessons[0].page_start");
    s_refused(GOOD_TITLE, GOOD_SOURCE,
              "[{\"title\": \"M\", \"page_start\": 2, \"page_end\": 1, \"generated\": false,"
              " \"lessons\": [" GOOD_LESSON "]}]",
              "[]", "page_start 2 after page_end 1");
}

static void
test_quiz(void **state)
{
    (void)state;
    s_refused(GOOD_TITLE, GOOD_SOURCE, GOOD_MODULES,
              "[{\"id\": \"q1\", \"lesson\": \"l1\", \"prompt\": \"p\", \"choices\": [\"a\","
              " \"b\", \"c\", \"d\"], \"answer\": 4, \"source_page\": 1}]",
              "quiz[0].answer: 4 is not within 0..3");
    s_refused(GOOD_TITLE, GOOD_SOURCE, GOOD_MODULES,
              "[{\"id\": \"q1\", \"lesson\": \"l1\", \"prompt\": \"p\", \"choices\": [\"a\","
              " \"b\", \"c\"], \"answer\": 0, \"source_page\": 1}]",
              "quiz[0].choices: 3 items");
    s_refused(GOOD_TITLE, GOOD_SOURCE, GOOD_MODULES,
              "[{\"id\": \"q1\", \"lesson\": \"l1\", \"prompt\": \"p\", \"choices\": [\"a\","
              " \"b\", \"a\", \"d\"], \"answer\": 0, \"source_page\": 1}]",
              "choices[2] repeats choices[0]");
    s_refused(GOOD_TITLE, GOOD_SOURCE, GOOD_MODULES,
              "[{\"id\": \"q1\", \"lesson\": \"l9\", \"prompt\": \"p\", \"choices\": [\"a\","
              " \"b\", \"c\", \"d\"], \"answer\": 0, \"source_page\": 1}]",
              "not a lesson of the course");
    s_refused(GOOD_TITLE, GOOD_SOURCE, GOOD_MODULES,
              "[{\"id\": \"q1\", \"lesson\": \"l1\", \"prompt\": \"p\", \"choices\": [\"a\","
              " \"b\", \"c\", \"d\"], \"answer\": 0, \"source_page\": 9}]",
              "quiz[0].source_page");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_course_passes),
        cmocka_unit_test(test_not_json_or_not_an_object),
        cmocka_unit_test(test_types_and_sizes),
        cmocka_unit_test(test_page_ranges),
        cmocka_unit_test(test_quiz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
