/*
 * test_course_fallbacks.c - unit tests of what course generation does when a document's text
 * is not plain prose (issue 11; docs/course-generation.md): glued words and the summary by
 * headings and key terms (workers/course/glue.c), distractors that say the same as the answer
 * (quiz_equiv.c, quiz_also_correct), indexes and tables of contents recognised by their text
 * (quiz_is_index_listing) and left out of the plan (plan_drop_lessons).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "course/course_text.h"
#include "course/glue.h"
#include "course/plan.h"
#include "course/quiz.h"
#include "course/quiz_equiv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- glued words */

static void
test_glue_signs(void **state)
{
    (void)state;
    const char *glued = "Namehtmlhelp.button.printNamehtmlhelp.button.prevNamehtml.head";
    assert_true(glue_long_run(glued, strlen(glued)));
    assert_true(glue_found(glued, strlen(glued)));
    /* A change of case inside a long word, after 3 lower-case letters. */
    assert_true(glue_found("A or upperalphaUppercase letter", 31));
    assert_true(glue_found("arabicArabic numeration", 23));
    assert_false(glue_long_run("arabicArabic numeration", 23));
    /* CamelCase identifiers of fewer than GLUE_WORD_MIN letters, acronyms, ordinary text. */
    assert_false(glue_found("JavaScript and PostgreSQL and DocBook", 37));
    assert_false(glue_found("The cell membrane lets water through.", 37));
    /* Chinese and Japanese are written without spaces. */
    const char *ja =
        "これは日本語の長い文章でありスペースを含まないが単語が接着されているわけではない。";
    assert_false(glue_long_run(ja, strlen(ja)));
    assert_false(glue_found(ja, strlen(ja)));
}

/* A lesson whose sentences are glued gets its headings and key terms as summary, never a
 * glued token (issue 11, point 4). */
static void
test_glued_lesson_is_summarised_by_headings_and_terms(void **state)
{
    (void)state;
    static const char glued[] =
        "Appendix labels\n\n"
        "Theappendixlabelparameterspecifiesthelabelingformatforappendixtitles. "
        "Thenumberformatmatchesoneofthefollowingvaluesforappendixnumbering. "
        "Anyothervaluegeneratesthedefaultnumberformatforappendixlabels.\n\n"
        "Chapter labels\n\n"
        "Thechapterlabelparameterspecifiesthelabelingformatforchaptertitles. "
        "Thelabelingformatforchapterlabelsappliestoeverychapterofthebook. "
        "upperalphaUppercase letter numeration labels chapters and appendix labels. "
        "numbering format numbering format appendix titles appendix titles appendix titles "
        "chapter labels chapter labels roman numerals roman numerals roman numerals "
        "numbering format for appendix titles and chapter labels with roman numerals";
    static const char prose[] =
        "The cell membrane separates the cell from its surroundings. Water crosses the "
        "membrane by osmosis, from the side with fewer solutes to the side with more. "
        "Proteins in the membrane carry ions across it, and they use energy to do so. "
        "The nucleus holds the genetic material of the cell and directs its work. "
        "Ribosomes read the genetic code and build proteins from amino acids.";
    course_text_lesson_t lessons[2] = {
        {glued, strlen(glued), 1, 1, NULL, "Pages 1-1"},
        {prose, strlen(prose), 2, 2, NULL, "Cells"},
    };
    course_text_t out;
    assert_int_equal(course_text_analyse(lessons, 2, NULL, &out), 0);
    const char *summary = out.lessons[0].summary;
    assert_non_null(summary);
    assert_true(strncmp(summary, "Appendix labels; Chapter labels — ", 34) == 0);
    assert_true(summary[strlen(summary) - 1] == '.');
    assert_false(glue_found(summary, strlen(summary)));
    /* The terms listed are the lesson's key terms. */
    assert_true(out.lessons[0].keyterms.count > 0);
    bool listed = false;
    for (size_t k = 0; k < out.lessons[0].keyterms.count; k++)
        listed = listed || strstr(summary, out.lessons[0].keyterms.items[k].text) != NULL;
    assert_true(listed);
    /* Prose keeps its summary of sentences. */
    assert_non_null(strstr(prose, out.lessons[1].summary) == NULL ? NULL : prose);
    assert_true(strlen(out.lessons[1].summary) > 0);
    assert_null(strstr(out.lessons[1].summary, " — "));
    course_text_free(&out);

    /* Without headings or clean key terms, nothing to show: "". */
    keyterms_t none = {0};
    char *empty = glue_outline("Gluedwordsgluedwordsgluedwordsgluedwordsgluedwords.", 51, &none);
    assert_non_null(empty);
    assert_string_equal(empty, "");
    free(empty);
}

/* ---------------------------------------------------------------- also correct */

static void
test_equivalent_terms(void **state)
{
    (void)state;
    /* Normalised forms: case, hyphens, spaces, a plural ending. */
    assert_true(quiz_equiv_normal("e-mail", "Email"));
    assert_true(quiz_equiv_normal("cell membranes", "Cell membrane"));
    assert_true(quiz_equiv_normal("box", "boxes"));
    assert_false(quiz_equiv_normal("membrane", "nucleus"));
    /* Abbreviations and their expansions, with or without short words. */
    assert_true(quiz_equiv_abbreviation("PDF", "Portable Document Format"));
    assert_true(quiz_equiv_abbreviation("DPI", "dots per inch"));
    assert_true(quiz_equiv_abbreviation("OMR", "optical mark recognition"));
    assert_true(quiz_equiv_abbreviation("TOC", "table of contents"));
    assert_false(quiz_equiv_abbreviation("CSV", "Portable Document Format"));
    assert_false(quiz_equiv_abbreviation("PDF", "PDF"));   /* one word: no expansion */
    assert_false(quiz_equiv_abbreviation("P-D", "pdf d")); /* not letters */
    /* Synonyms the document defines. */
    const char *lower = "a scan is read by optical mark recognition (omr). the answer sheet, "
                        "also called the form, is printed once. the box, or checkbox, is "
                        "ticked. the marks go to a spreadsheet.";
    quiz_doc_t doc = {lower, strlen(lower), lower, strlen(lower), NULL, 3, NULL, NULL};
    assert_true(quiz_equiv_defined(&doc, "answer sheet", "form"));
    assert_true(quiz_equiv_defined(&doc, "form", "answer sheet"));
    assert_true(quiz_equiv_defined(&doc, "checkbox", "box"));
    assert_true(quiz_equiv_defined(&doc, "optical mark recognition", "OMR"));
    assert_false(quiz_equiv_defined(&doc, "form", "spreadsheet"));
    assert_false(quiz_equiv_defined(&doc, "answer", "form")); /* whole terms only */
}

/* A distractor that is also a correct answer is refused (issue 11, point 3). */
static void
test_also_correct_widened(void **state)
{
    (void)state;
    const char *lower = "the marks are exported to an ods file. scans are read at 300 dots per "
                        "inch. the answer sheet, also called the form, is printed once. each "
                        "student fills answer sheets with a pen. the annotate command writes "
                        "corrected sheets.";
    quiz_doc_t doc = {lower, strlen(lower), lower, strlen(lower), NULL, 3, NULL, NULL};
    const char *prompt = "The marks are exported to a _____ file.";
    /* "a" and "an" are one article. */
    assert_true(quiz_also_correct(&doc, prompt, "CSV", "ODS"));
    assert_false(quiz_also_correct(&doc, prompt, "CSV", "annotate"));
    /* An abbreviation of the answer, its expansion, a defined synonym, a normalised form. */
    const char *scan = "Scans are read at 300 _____ for the recognition.";
    assert_true(quiz_also_correct(&doc, scan, "dots per inch", "DPI"));
    assert_true(quiz_also_correct(&doc, "The _____ is printed once.", "answer sheet", "form"));
    assert_true(
        quiz_also_correct(&doc, "The _____ is printed once.", "answer-sheets", "Answer sheet"));
    /* Plural and singular of the candidate in the document's context. */
    assert_true(
        quiz_also_correct(&doc, "Each student fills _____ with a pen.", "forms", "answer sheet"));
    assert_false(quiz_also_correct(&doc, "The _____ is printed once.", "answer sheet", "pen"));
}

/* ---------------------------------------------------------------- indexes */

static void
test_index_listing(void **state)
{
    (void)state;
    /* An index, one entry a line; a table of contents with dot leaders; both joined. */
    static const char index[] = "A\n\nabsorption, 12, 45\nacid, 7\namino acids, 19-21\n"
                                "B\n\nbase, 8\nbinding, 30, 31\nbond, 4\nbuffer, 9\ncell, 1, 2\n";
    assert_true(quiz_is_index_listing(index, strlen(index)));
    static const char joined[] = "B\n\n\\bareme . . . . . . . 21, 2608 \\baremeDefautM . . . . 21, "
                                 "2609 \\bf . . . . . . . . 1528 bloc (option) . . . . . 21";
    assert_true(quiz_is_index_listing(joined, strlen(joined)));
    static const char toc[] = "Contents\n\n1 License 1\n\n2 Prerequisites 1\n\n2.1 Operating "
                              "system . . . . . . . 1 2.2 Software . . . . . . . 1 2.3 LaTeX . . "
                              ". . . 1\n\n3 Usage notes 2\n\n3.1 Numerical limitations . . . . 2";
    assert_true(quiz_is_index_listing(toc, strlen(toc)));
    /* Settings with numbers, code with line numbers, and prose are no index. */
    static const char settings[] =
        "Scans conversion\n\nVector formats density (DPI) : 250\nBlack & white threshold : "
        "0.60\nErase red from scans : unticked\nMarks size max increase: 0.20\nMarks size max "
        "decrease: 0.20\nDefault darkness threshold: 0.15\nBox size proportion: 0.80\nProcess "
        "with 3 marks: unticked\nMagick command: convert\n";
    assert_false(quiz_is_index_listing(settings, strlen(settings)));
    static const char code[] = "12 13 14 15\n\n\\element{geo}{\n\\begin{question}{Paris}\nIn which "
                               "continent is Paris?\n\\correctchoice{Europe}\n\\wrongchoice{Africa}"
                               "\n\\end{question}\n}\n16 17 18\n";
    assert_false(quiz_is_index_listing(code, strlen(code)));
    static const char prose_with_toc[] =
        "This document can be used according to the terms of the GNU General Public License, "
        "version 2 or any later version published by the Free Software Foundation, and it comes "
        "without any warranty whatsoever as described in the licence text itself.\n\n"
        "1 License . . . . 1 2 Prerequisites . . . . 1 3 Usage . . . . 2 4 Syntax . . . . 2";
    assert_false(quiz_is_index_listing(prose_with_toc, strlen(prose_with_toc)));
}

static plan_lesson_t
s_lesson(const char *title, int start, int end, const char *text)
{
    plan_lesson_t l = {.title = strdup(title), .start = start, .end = end};
    l.text = strdup(text);
    l.len = strlen(text);
    return l;
}

static bool
s_drop_index(const plan_lesson_t *lesson, void *arg)
{
    int *calls = arg;
    (*calls)++;
    return quiz_is_index(lesson->title, NULL, 0) ||
           quiz_is_index_listing(lesson->text, lesson->len);
}

/* Indexes and contents are left out of the plan, and a module left empty goes too. */
static void
test_plan_drops_indexes(void **state)
{
    (void)state;
    plan_t plan = {.structure = PLAN_STRUCTURE_HEADINGS};
    plan.nmodules = plan.modules_cap = 3;
    plan.modules = calloc(3, sizeof *plan.modules);
    const char *names[3] = {"Contents", "1 Cells", "Index"};
    for (int i = 0; i < 3; i++) {
        plan.modules[i].title = strdup(names[i]);
        plan.modules[i].start = plan.modules[i].end = i + 1;
        plan.modules[i].lessons = calloc(2, sizeof(plan_lesson_t));
        plan.modules[i].lessons_cap = 2;
    }
    plan.modules[0].lessons[0] = s_lesson("Contents", 1, 1, "1 Cells 2\n\n2 Index 3");
    plan.modules[0].nlessons = 1;
    plan.modules[1].lessons[0] = s_lesson("1 Cells", 2, 2, "Cells are small. Cells divide.");
    plan.modules[1].lessons[1] = s_lesson(
        "1.1 Words", 2, 2,
        "acid, 7\namino, 19\nbase, 8\nbinding, 30\nbond, 4\nbuffer, 9\ncell, 1\ncode, 3\n");
    plan.modules[1].nlessons = 2;
    plan.modules[2].lessons[0] = s_lesson("Index", 3, 3, "acid, 7");
    plan.modules[2].nlessons = 1;
    int calls = 0;
    assert_int_equal(plan_drop_lessons(&plan, s_drop_index, &calls), 3);
    assert_int_equal(plan.nmodules, 1);
    assert_string_equal(plan.modules[0].title, "1 Cells");
    assert_int_equal(plan.modules[0].nlessons, 1);
    assert_string_equal(plan.modules[0].lessons[0].title, "1 Cells");
    /* Nothing left would be no course: then nothing is dropped. */
    plan_lesson_t *only = &plan.modules[0].lessons[0];
    free(only->title);
    only->title = strdup("Index");
    assert_int_equal(plan_drop_lessons(&plan, s_drop_index, &calls), 0);
    assert_int_equal(plan.nmodules, 1);
    plan_free(&plan);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glue_signs),
        cmocka_unit_test(test_glued_lesson_is_summarised_by_headings_and_terms),
        cmocka_unit_test(test_equivalent_terms),
        cmocka_unit_test(test_also_correct_widened),
        cmocka_unit_test(test_index_listing),
        cmocka_unit_test(test_plan_drops_indexes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
