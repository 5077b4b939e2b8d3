/*
 * test_text_index.c - unit tests of workers/course/text_index.c: an indexed search finds
 * exactly what memmem finds, in the same order, on texts built to collide (few letters, long
 * repeats) and on the quiz's own uses (quiz_equiv_defined, quiz_also_correct with indexes).
 */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "course/quiz.h"
#include "course/quiz_equiv.h"
#include "course/text_index.h"

#include <stdlib.h>
#include <string.h>

/* Every occurrence of needle by memmem, into out; their count. */
static size_t
s_memmem_all(const char *hay, size_t len, const char *needle, size_t n, size_t *out, size_t max)
{
    size_t count = 0;
    for (size_t i = 0; n > 0 && i < len && count < max;) {
        const char *f = memmem(hay + i, len - i, needle, n);
        if (f == NULL)
            break;
        out[count++] = (size_t)(f - hay);
        i = (size_t)(f - hay) + 1;
    }
    return count;
}

/* Compare the indexed search with memmem for needle; fails the test on any difference. */
static void
s_check(const text_index_t *ix, const char *hay, size_t len, const char *needle, size_t n)
{
    static size_t want[1 << 16];
    size_t nwant = s_memmem_all(hay, len, needle, n, want, sizeof want / sizeof *want);
    text_search_t s;
    text_search_init(&s, ix, hay, len, needle, n);
    size_t got = 0;
    for (const char *f = text_search_next(&s); f != NULL; f = text_search_next(&s)) {
        assert_true(got < nwant);
        assert_int_equal((size_t)(f - hay), want[got]);
        got++;
    }
    assert_int_equal(got, nwant);
    assert_int_equal(text_index_contains(ix, hay, len, needle, n), nwant > 0);
}

static void
test_index_matches_memmem(void **state)
{
    (void)state;
    /* Three letters and spaces: every 4 bytes repeat often, and buckets collide. */
    size_t len = 4 * TEXT_INDEX_MIN;
    char *hay = malloc(len + 1);
    assert_non_null(hay);
    unsigned seed = 7;
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        hay[i] = "abc "[(seed >> 16) % 4];
    }
    hay[len] = '\0';
    text_index_t *ix = text_index_new(hay, len);
    assert_non_null(ix);
    char needle[32];
    for (int round = 0; round < 2000; round++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 16) % 12;
        if (round % 2 == 0) { /* taken from the text: found at least once */
            size_t at = (seed >> 8) % (len - n);
            memcpy(needle, hay + at, n);
        } else {
            for (size_t k = 0; k < n; k++) {
                seed = seed * 1103515245u + 12345u;
                needle[k] = "abcd "[(seed >> 16) % 5];
            }
        }
        s_check(ix, hay, len, needle, n);
    }
    /* The ends of the text, and needles as long as it or longer. */
    s_check(ix, hay, len, hay, 10);
    s_check(ix, hay, len, hay + len - 10, 10);
    s_check(ix, hay, len, hay, len);
    s_check(NULL, hay, len, hay + len - 7, 7);
    s_check(ix, hay, len, "", 0);
    text_index_free(ix);
    free(hay);
}

static void
test_index_repeats_and_small_texts(void **state)
{
    (void)state;
    const char *rep_short = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    size_t n = TEXT_INDEX_MIN + 3;
    char *rep = malloc(n + 1); /* overlapping matches everywhere */
    assert_non_null(rep);
    memset(rep, 'a', n);
    rep[n] = '\0';
    text_index_t *ix = text_index_new(rep, n);
    assert_non_null(ix);
    s_check(ix, rep, n, "aaaaa", 5);
    s_check(ix, rep, n, "aab", 3);
    s_check(ix, rep, n, "aaaab", 5);
    text_index_free(ix);
    free(rep);
    /* Short texts have no index; searches still work without one. */
    assert_null(text_index_new("abc", 3));
    assert_null(text_index_new(rep_short, strlen(rep_short)));
    assert_null(text_index_new(NULL, 0));
    s_check(NULL, "abc", 3, "bc", 2);
    text_index_free(NULL);
}

/* The quiz gives the same answers with and without the indexes. */
static void
test_quiz_with_index(void **state)
{
    (void)state;
    /* The sentences the quiz looks for, after enough other text to be indexed. */
    const char *said = " the marks are exported to an ods file. scans are read at 300 dots per "
                       "inch. the answer sheet, also called the form, is printed once. a "
                       "checkbox (box) is ticked. optical mark recognition (omr) reads it. a gizmo "
                       "(gadgets) sits. notgizmo, i.e. thing. a widget (or doohickey) turns; "
                       "a sprocket (or cog turns. a knob, that is, a dial.";
    size_t len = TEXT_INDEX_MIN + strlen(said);
    char *lower = malloc(len + 1);
    assert_non_null(lower);
    for (size_t i = 0; i < TEXT_INDEX_MIN; i++)
        lower[i] = "lorem ipsum dolor sit amet "[i % 27];
    memcpy(lower + TEXT_INDEX_MIN, said, strlen(said) + 1);
    text_index_t *ix = text_index_new(lower, len);
    assert_non_null(ix);
    quiz_doc_t plain = {lower, len, lower, len, NULL, 3, NULL, NULL};
    quiz_doc_t indexed = {lower, len, lower, len, NULL, 3, ix, ix};
    static const char *const pairs[][2] = {
        {"answer sheet", "form"}, {"form", "answer sheet"}, {"checkbox", "box"},
        {"omr", "optical mark"},  {"form", "spreadsheet"},  {"answer", "form"},
        {"gizmo", "gadget"},      {"gizmo", "thing"},       {"widget", "doohickey"},
        {"sprocket", "cog"},      {"dial", "knob"},         {"box", "checkbox"}};
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++)
        assert_int_equal(quiz_equiv_defined(&plain, pairs[i][0], pairs[i][1]),
                         quiz_equiv_defined(&indexed, pairs[i][0], pairs[i][1]));
    assert_true(quiz_equiv_defined(&indexed, "answer sheet", "form"));
    assert_false(quiz_equiv_defined(&indexed, "answer", "form"));
    /* Whole words on both sides, a ")" after a bracket link, either order of the terms. */
    assert_false(quiz_equiv_defined(&indexed, "gizmo", "gadget"));
    assert_false(quiz_equiv_defined(&indexed, "gizmo", "thing"));
    assert_true(quiz_equiv_defined(&indexed, "widget", "doohickey"));
    assert_false(quiz_equiv_defined(&indexed, "sprocket", "cog"));
    assert_true(quiz_equiv_defined(&indexed, "dial", "knob"));
    assert_true(quiz_equiv_defined(&indexed, "omr", "optical mark recognition"));
    const char *prompt = "The marks are exported to a _____ file.";
    static const char *const candidates[] = {"ODS", "annotate", "PDF", "form", "box"};
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++)
        assert_int_equal(quiz_also_correct(&plain, prompt, "CSV", candidates[i]),
                         quiz_also_correct(&indexed, prompt, "CSV", candidates[i]));
    assert_true(quiz_also_correct(&indexed, prompt, "CSV", "ODS"));
    assert_false(quiz_also_correct(&indexed, prompt, "CSV", "annotate"));
    assert_true(quiz_also_correct(&indexed, "The _____ is printed once.", "answer sheet", "form"));
    text_index_free(ix);
    free(lower);
}

/* The index lists every other position: needles of 4 to 8 bytes at every start, odd and even,
 * first and last bytes of the text included, are found as memmem finds them. */
static void
test_index_every_start(void **state)
{
    (void)state;
    size_t len = TEXT_INDEX_MIN + 3; /* odd: the last start of a 5-byte needle is even */
    char *hay = malloc(len + 1);
    assert_non_null(hay);
    uint32_t seed = 7;
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        hay[i] = (char)('a' + (seed >> 16) % 23);
    }
    hay[len] = '\0';
    text_index_t *ix = text_index_new(hay, len);
    assert_non_null(ix);
    size_t starts[] = {0, 1, 2, 3, 1001, 1002, len - 9, len - 8, len - 7, len - 6, len - 5};
    for (size_t n = 4; n <= 8; n++) {
        for (size_t k = 0; k < sizeof starts / sizeof *starts; k++) {
            if (starts[k] + n > len)
                continue;
            s_check(ix, hay, len, hay + starts[k], n);
        }
    }
    text_index_free(ix);
    free(hay);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index_matches_memmem),
        cmocka_unit_test(test_index_repeats_and_small_texts),
        cmocka_unit_test(test_quiz_with_index),
        cmocka_unit_test(test_index_every_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
