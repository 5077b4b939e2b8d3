/*
 * test_plan.c - unit tests of course planning on hand-made document models, without poppler
 * (workers/course/docmodel, plan, course_json, course_build; docs/course-generation.md,
 * section 3 "Structure").
 *
 * A model is built page by page the way workers/extract/pdf_reader.c builds it from a PDF:
 * the page's text, then one line per text line with its font size, weight and box.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "course/course_build.h"
#include "course/docmodel.h"
#include "course/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ================================================================ helpers */

#define PAGE_H 842.0f
#define LEFT 56.0f
#define RIGHT 540.0f
#define BODY 11.0f

/* One line of a page being built. */
typedef struct {
    char text[160];
    float size;
    bool bold;
    float y;
    bool full; /* reaches the right margin */
} draft_line_t;

typedef struct {
    draft_line_t lines[64];
    int count;
} draft_page_t;

static void
s_draft(draft_page_t *d, float size, bool bold, float y, bool full, const char *fmt, ...)
{
    assert_true(d->count < 64);
    draft_line_t *l = &d->lines[d->count++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->text, sizeof l->text, fmt, ap);
    va_end(ap);
    l->size = size, l->bold = bold, l->y = y, l->full = full;
}

/* Give page `page` of dm the text and lines of d, as the PDF reader does. */
static void
s_page_commit(docmodel_t *dm, int page, const draft_page_t *d)
{
    char text[64 * 161] = "";
    size_t len = 0;
    for (int i = 0; i < d->count; i++) {
        len += (size_t)snprintf(text + len, sizeof text - len, "%s%s", i > 0 ? "\n" : "",
                                d->lines[i].text);
    }
    const char *copy = docmodel_page_set(dm, page, text, len, PAGE_H);
    assert_non_null(copy);
    const char *p = copy;
    for (int i = 0; i < d->count; i++) {
        const draft_line_t *dl = &d->lines[i];
        size_t n = strlen(dl->text);
        text_line_t line = {.text = p, .len = n, .page = page, .size = dl->size, .bold = dl->bold};
        line.x0 = LEFT;
        line.y0 = dl->y;
        line.x1 = dl->full ? RIGHT : LEFT + 5.0f * (float)n;
        if (line.x1 > RIGHT)
            line.x1 = RIGHT;
        line.y1 = dl->y + dl->size;
        assert_int_equal(docmodel_line_add(dm, &line), 0);
        p += n + 1;
    }
}

/* A paragraph of body text: `count` full lines and a short last one, from y on. Returns the
 * y after it. Each page's text differs (page and k in the words). */
static float
s_paragraph(draft_page_t *d, int page, int k, int count, float y)
{
    static const char *const words[] = {"membranes", "energy",   "proteins",  "cells",
                                        "transport", "gradient", "molecules", "water"};
    for (int i = 0; i < count; i++) {
        s_draft(d, BODY, false, y, true,
                "The %s of page %d move %s across the %s while the %s keeps going on", words[i % 8],
                page, words[(i + k) % 8], words[(i + 3) % 8], words[(i + page) % 8]);
        y += 14;
    }
    s_draft(d, BODY, false, y, false, "and that ends paragraph %d of page %d.", k, page);
    return y + 28;
}

/* A running header (the book's title) and footer ("Page N") on page `page`. */
static void
s_running(draft_page_t *d, int page, bool header_first)
{
    if (header_first)
        s_draft(d, 9, false, 30, false, "Cells and energy");
    else
        s_draft(d, 9, false, 800, false, "Page %d", page);
}

static void
s_model_new(docmodel_t *dm, int pages)
{
    assert_int_equal(docmodel_init(dm, pages), 0);
}

/* A model of `pages` pages of body text only (two paragraphs a page). */
static void
s_model_plain(docmodel_t *dm, int pages)
{
    s_model_new(dm, pages);
    for (int page = 1; page <= pages; page++) {
        draft_page_t d = {0};
        float y = s_paragraph(&d, page, 1, 4, 100);
        s_paragraph(&d, page, 2, 4, y);
        s_page_commit(dm, page, &d);
    }
}

static void
s_entry(docmodel_t *dm, int level, const char *title, int page)
{
    assert_int_equal(docmodel_entry_add(dm, level, title, page, -1.0f), 0);
}

static const plan_lesson_t *
s_lesson(const plan_t *plan, size_t module, size_t lesson)
{
    assert_true(module < plan->nmodules);
    assert_true(lesson < plan->modules[module].nlessons);
    return &plan->modules[module].lessons[lesson];
}

static void
s_assert_module(const plan_t *plan, size_t i, const char *title, int start, int end, bool generated,
                size_t lessons)
{
    assert_true(i < plan->nmodules);
    const plan_module_t *m = &plan->modules[i];
    assert_string_equal(m->title, title);
    assert_int_equal(m->start, start);
    assert_int_equal(m->end, end);
    assert_int_equal(m->generated, generated);
    assert_int_equal(m->nlessons, lessons);
}

static void
s_assert_lesson(const plan_t *plan, size_t module, size_t lesson, const char *title, int start,
                int end)
{
    const plan_lesson_t *l = s_lesson(plan, module, lesson);
    assert_string_equal(l->title, title);
    assert_int_equal(l->start, start);
    assert_int_equal(l->end, end);
}

/* Every page belongs to a lesson, lessons are in page order and inside their module. */
static void
s_assert_covers(const plan_t *plan, int pages)
{
    int next = 1;
    for (size_t i = 0; i < plan->nmodules; i++) {
        const plan_module_t *m = &plan->modules[i];
        assert_true(m->nlessons > 0);
        assert_true(m->start <= m->end);
        for (size_t k = 0; k < m->nlessons; k++) {
            const plan_lesson_t *l = &m->lessons[k];
            assert_true(l->start <= l->end);
            assert_true(l->start >= m->start && l->end <= m->end);
            assert_true(l->start <= next); /* no page left out */
            if (l->end + 1 > next)
                next = l->end + 1;
        }
    }
    assert_int_equal(next, pages + 1);
}

static void
s_render_all(const docmodel_t *dm, plan_t *plan)
{
    for (size_t i = 0; i < plan->nmodules; i++) {
        for (size_t k = 0; k < plan->modules[i].nlessons; k++)
            assert_int_equal(plan_render_lesson(dm, &plan->modules[i].lessons[k]), 0);
    }
}

/* ================================================================ outline */

static void
test_outline_modules_and_lessons(void **state)
{
    docmodel_t dm;
    s_model_plain(&dm, 8);
    s_entry(&dm, 1, "  Chapter A\n", 2); /* trimmed */
    s_entry(&dm, 2, "A.1", 2);
    s_entry(&dm, 3, "A.1.1 folds into A.1", 3);
    s_entry(&dm, 2, "A.2", 4);
    s_entry(&dm, 1, "Chapter B", 5);
    s_entry(&dm, 2, "B.1", 6); /* pages 5..5 open the chapter: a lesson "Chapter B" */
    s_entry(&dm, 1, "Chapter C", 8);
    plan_t plan;
    assert_int_equal(plan_make(&dm, &plan), 0);
    assert_int_equal(plan.structure, PLAN_STRUCTURE_OUTLINE);
    assert_string_equal(plan_structure_name(plan.structure), "outline");
    assert_int_equal(plan.nmodules, 4);
    s_assert_module(&plan, 0, "Front matter", 1, 1, true, 1);
    s_assert_lesson(&plan, 0, 0, "Front matter", 1, 1);
    s_assert_module(&plan, 1, "Chapter A", 2, 4, false, 2);
    s_assert_lesson(&plan, 1, 0, "A.1", 2, 3);
    s_assert_lesson(&plan, 1, 1, "A.2", 4, 4);
    s_assert_module(&plan, 2, "Chapter B", 5, 7, false, 2);
    s_assert_lesson(&plan, 2, 0, "Chapter B", 5, 5);
    s_assert_lesson(&plan, 2, 1, "B.1", 6, 7);
    s_assert_module(&plan, 3, "Chapter C", 8, 8, false, 1);
    s_assert_lesson(&plan, 3, 0, "Chapter C", 8, 8);
    s_assert_covers(&plan, 8);

    /* Entries at the top of their pages: a lesson's lines are its pages', here 2 and 3. */
    const plan_lesson_t *l = s_lesson(&plan, 1, 0);
    assert_true(l->cut);
    assert_int_equal(dm.lines[l->first_line].page, 2);
    assert_int_equal(dm.lines[l->end_line].page, 4);
    assert_true(dm.lines[l->end_line - 1].page == 3);
    assert_int_equal(plan_render_lesson(&dm, (plan_lesson_t *)l), 0);
    assert_non_null(strstr(l->text, "of page 2 move"));
    assert_non_null(strstr(l->text, "of page 3 move"));
    assert_null(strstr(l->text, "of page 4 move"));
    assert_int_equal(l->offsets[0], 0);
    assert_true(l->offsets[1] > 0 && l->offsets[1] < l->len);
    plan_free(&plan);
    docmodel_free(&dm);
}

/* Unknown pages take the previous entry's, pages past the end the last, backwards entries the
 * previous start; an entry without a title is named after its page. */
/* Sections that share a page: each lesson's text starts at its heading (found by its title,
 * or at its destination's position) and ends at the next one's; no text is shared or lost. */
static void
test_outline_cuts_inside_pages(void **state)
{
    docmodel_t dm;
    s_model_new(&dm, 2);
    draft_page_t d = {0};
    s_draft(&d, 16, true, 60, false, "1 Alpha chapter");
    float y = s_paragraph(&d, 1, 1, 3, 90);
    s_draft(&d, 13, true, y, false, "1.1 Beta section");
    y = s_paragraph(&d, 1, 2, 3, y + 20);
    s_draft(&d, 13, true, y, false, "1.2 Gamma section"); /* found by its destination */
    float gamma_top = y - 2;
    y = s_paragraph(&d, 1, 3, 3, y + 20);
    s_page_commit(&dm, 1, &d);
    draft_page_t d2 = {0};
    y = s_paragraph(&d2, 2, 4, 3, 60); /* Gamma goes on over the page */
    s_draft(&d2, 13, true, y, false, "1.3 Delta section");
    float delta_top = y - 3;
    s_paragraph(&d2, 2, 5, 3, y + 20);
    s_page_commit(&dm, 2, &d2);
    assert_int_equal(docmodel_entry_add(&dm, 1, "Alpha chapter", 1, 50), 0);
    assert_int_equal(docmodel_entry_add(&dm, 2, "Beta section", 1, -1), 0);
    assert_int_equal(docmodel_entry_add(&dm, 2, "Other words", 1, gamma_top), 0);
    assert_int_equal(docmodel_entry_add(&dm, 2, "Delta section", 2, delta_top), 0);
    plan_t plan;
    assert_int_equal(plan_make(&dm, &plan), 0);
    assert_int_equal(plan.nmodules, 1);
    const plan_module_t *m = &plan.modules[0];
    assert_int_equal(m->nlessons, 3);
    const char *starts[] = {"1 Alpha chapter", "1.2 Gamma section", "1.3 Delta section"};
    const char *holds[] = {"paragraph 2 of page 1.", "paragraph 4 of page 2.",
                           "paragraph 5 of page 2."};
    size_t total = 0;
    for (size_t i = 0; i < 3; i++) {
        plan_lesson_t *l = &m->lessons[i];
        assert_int_equal(plan_render_lesson(&dm, l), 0);
        assert_true(strncmp(l->text, starts[i], strlen(starts[i])) == 0);
        assert_non_null(strstr(l->text, holds[i]));
        for (size_t k = 0; k < 3; k++) /* no paragraph in two lessons */
            assert_true(k == i || strstr(l->text, holds[k]) == NULL);
        total += l->len;
    }
    /* Gamma's text goes on to page 2: its pages say so. */
    assert_int_equal(m->lessons[1].start, 1);
    assert_int_equal(m->lessons[1].end, 2);
    assert_int_equal(m->lessons[2].start, 2);
    /* The lessons together are the document's text. */
    plan_lesson_t whole = {.start = 1, .end = 2};
    assert_int_equal(plan_render_lesson(&dm, &whole), 0);
    assert_true(total + 4 >= whole.len && total <= whole.len);
    free(whole.text);
    free(whole.offsets);
    plan_free(&plan);
    docmodel_free(&dm);
}

static void
test_outline_pages_are_normalised(void **state)
{
    docmodel_t dm;
    s_model_plain(&dm, 6);
    s_entry(&dm, 1, "One", 0);  /* unknown: page 1 */
    s_entry(&dm, 1, NULL, 3);   /* no title: "Page 3" */
    s_entry(&dm, 1, "Back", 2); /* backwards: page 3 */
    s_entry(&dm, 1, " \t ", 0); /* blank title and unknown page: "Page 3" */
    s_entry(&dm, 1, "Far", 99); /* past the end: page 6 */
    plan_t plan;
    assert_int_equal(plan_make(&dm, &plan), 0);
    assert_int_equal(dm.entries[0].page, 1);
    assert_int_equal(dm.entries[2].page, 3);
    assert_int_equal(dm.entries[4].page, 6);
    assert_int_equal(plan.nmodules, 5);
    s_assert_module(&plan, 0, "One", 1, 2, false, 1);
    s_assert_module(&plan, 1, "Page 3", 3, 3, false, 1);
    s_assert_module(&plan, 2, "Back", 3, 3, false, 1); /* two modules may share a page */
    s_assert_module(&plan, 3, "Page 3", 3, 5, false, 1);
    s_assert_module(&plan, 4, "Far", 6, 6, false, 1);
    s_assert_covers(&plan, 6);
    plan_free(&plan);
    docmodel_free(&dm);
}

/* An outline without a level-1 entry is not used: the document has no headings either, so
 * it is cut into page groups. */
static void
test_outline_without_level_one_falls_back(void **state)
{
    docmodel_t dm;
    s_model_plain(&dm, 4);
    s_entry(&dm, 2, "Orphan", 2);
    plan_t plan;
    assert_int_equal(plan_make(&dm, &plan), 0);
    assert_int_equal(plan.structure, PLAN_STRUCTURE_PAGES);
    s_assert_covers(&plan, 4);
    plan_free(&plan);
    docmodel_free(&dm);
}

/* ================================================================ headings */

/* A book without outline: running header and footer on every page, numbered bold headings,
 * chapters at 18 pt and sections at 14 pt. */
static void
s_model_book(docmodel_t *dm)
{
    s_model_new(dm, 6);
    for (int page = 1; page <= 6; page++) {
        draft_page_t d = {0};
        s_running(&d, page, true);
        float y = 100;
        switch (page) {
        case 1:
            s_draft(&d, 18, true, y, false, "1 Cells"), y += 40;
            s_draft(&d, 14, true, y, false, "1.1 Membranes"), y += 30;
            break;
        case 3:
            s_draft(&d, 14, true, y, false, "1.2 Energy"), y += 30;
            break;
        case 4:
            s_draft(&d, 18, true, y, false, "2 Plants"), y += 40;
            y = s_paragraph(&d, page, 0, 3, y); /* the chapter's opening text */
            s_draft(&d, 14, true, y, false, "2.1 Leaves"), y += 30;
            break;
        case 6:
            s_draft(&d, 14, true, y, false, "2.2 Roots"), y += 30;
            break;
        }
        y = s_paragraph(&d, page, 1, 4, y);
        s_paragraph(&d, page, 2, 4, y);
        s_running(&d, page, false);
        s_page_commit(dm, page, &d);
    }
}

static void
test_headings_cut_the_text(void **state)
{
    docmodel_t dm;
    s_model_book(&dm);
    plan_t plan;
    assert_int_equal(plan_make(&dm, &plan), 0);
    assert_int_equal(plan.structure, PLAN_STRUCTURE_HEADINGS);
    assert_string_equal(plan_structure_name(plan.structure), "headings");
    assert_int_equal(plan.nmodules, 2);
    s_assert_module(&plan, 0, "1 Cells", 1, 3, false, 2);
    s_assert_lesson(&plan, 0, 0, "1.1 Membranes", 1, 2);
    s_assert_lesson(&plan, 0, 1, "1.2 Energy", 3, 3);
    s_assert_module(&plan, 1, "2 Plants", 4, 6, false, 3);
    s_assert_lesson(&plan, 1, 0, "2 Plants", 4, 4); /* text before the first section */
    s_assert_lesson(&plan, 1, 1, "2.1 Leaves", 4, 5);
    s_assert_lesson(&plan, 1, 2, "2.2 Roots", 6, 6);
    s_assert_covers(&plan, 6);

    /* Lessons are cut at heading lines: "2 Plants" opening text is not in "2.1 Leaves". */
    s_render_all(&dm, &plan);
    const plan_lesson_t *opening = s_lesson(&plan, 1, 0);
    const plan_lesson_t *leaves = s_lesson(&plan, 1, 1);
    assert_true(opening->end_line > opening->first_line);
    assert_non_null(strstr(opening->text, "ends paragraph 0 of page 4"));
    assert_null(strstr(opening->text, "ends paragraph 1 of page 4"));
    assert_non_null(strstr(leaves->text, "2.1 Leaves"));
    assert_non_null(strstr(leaves->text, "ends paragraph 1 of page 4"));
    assert_null(strstr(leaves->text, "ends paragraph 0 of page 4"));
    plan_free(&plan);
    docmodel_free(&dm);
}

/* Running headers, footers and page numbers are marked, and no lesson text holds them. */
static void
test_running_lines_are_removed(void **state)
{
    docmodel_t dm;
    s_model_book(&dm);
    plan_t plan;
    assert_int_equal(plan_make(&dm, &plan), 0);
    size_t running = 0;
    for (size_t i = 0; i < dm.nlines; i++) {
        const text_line_t *l = &dm.lines[i];
        bool header = (l->len == 16 && strncmp(l->text, "Cells and energy", 16) == 0) ||
                      strncmp(l->text, "Page ", 5) == 0;
        if (header)
            running++;
        if (dm.lines[i].running != header)
            fail_msg("line %zu \"%.*s\" on page %d: running %d", i, (int)dm.lines[i].len,
                     dm.lines[i].text, dm.lines[i].page, dm.lines[i].running);
    }
    assert_int_equal(running, 12);
    s_render_all(&dm, &plan);
    for (size_t i = 0; i < plan.nmodules; i++) {
        for (size_t k = 0; k < plan.modules[i].nlessons; k++) {
            const char *text = plan.modules[i].lessons[k].text;
            assert_null(strstr(text, "Cells and energy"));
            assert_null(strstr(text, "Page "));
        }
    }
    plan_free(&plan);
    docmodel_free(&dm);
}

/* Text before the first chapter heading becomes the generated module "Front matter". */
static void
test_headings_front_matter(void **state)
{
    docmodel_t dm;
    s_model_new(&dm, 4);
    for (int page = 1; page <= 4; page++) {
        draft_page_t d = {0};
        float y = 100;
        if (page == 2 || page == 4)
            s_draft(&d, 18, true, y, false, "%d Chapter", page / 2), y += 40;
        y = s_paragraph(&d, page, 1, 4, y);
        s_paragraph(&d, page, 2, 4, y);
        s_page_commit(&dm, page, &d);
    }
    plan_t plan;
    assert_int_equal(plan_make(&dm, &plan), 0);
    assert_int_equal(plan.structure, PLAN_STRUCTURE_HEADINGS);
    assert_int_equal(plan.nmodules, 3);
    s_assert_module(&plan, 0, "Front matter", 1, 1, true, 1);
    s_assert_lesson(&plan, 0, 0, "Front matter", 1, 1);
    s_assert_module(&plan, 1, "1 Chapter", 2, 3, false, 1);
    s_assert_lesson(&plan, 1, 0, "1 Chapter", 2, 3);
    s_assert_module(&plan, 2, "2 Chapter", 4, 4, false, 1);
    s_assert_covers(&plan, 4);
    plan_free(&plan);
    docmodel_free(&dm);
}

/* ================================================================ page groups */

/* A word of n letters c (static storage, valid until the next call). */
static const char *
s_letters(char c, int n)
{
    static char word[256];
    memset(word, c, (size_t)n);
    word[n] = '\0';
    return word;
}

static void
test_page_groups(void **state)
{
    docmodel_t dm;
    s_model_new(&dm, 25);
    for (int page = 1; page <= 25; page++) {
        draft_page_t d = {0};
        float y = 100;
        if (page == 4)
            s_draft(&d, BODY, false, y, false, "  Topic two  "), y += 14; /* a title */
        if (page == 7)
            s_draft(&d, BODY, false, y, false, "A sentence, not a title."), y += 14;
        if (page == 10) /* PLAN_HEADING_MAX characters: too long for a title */
            s_draft(&d, BODY, false, y, false, "%s", s_letters('x', PLAN_HEADING_MAX)), y += 14;
        if (page == 14) /* one less: a title */
            s_draft(&d, BODY, false, y, false, "%s", s_letters('y', PLAN_HEADING_MAX - 1)), y += 14;
        if (page == 17)
            s_draft(&d, BODY, false, y, false, "2024 - 42"), y += 14; /* no letter */
        y = s_paragraph(&d, page, 1, 4, y);
        s_paragraph(&d, page, 2, 4, y);
        s_page_commit(&dm, page, &d);
    }
    plan_t plan;
    assert_int_equal(plan_make(&dm, &plan), 0);
    assert_int_equal(plan.structure, PLAN_STRUCTURE_PAGES);
    assert_string_equal(plan_structure_name(plan.structure), "pages");
    assert_int_equal(plan.nmodules, 3);
    s_assert_module(&plan, 0, "Pages 1-10", 1, 10, true, 4);
    s_assert_lesson(&plan, 0, 0, "Pages 1-3", 1, 3);
    s_assert_lesson(&plan, 0, 1, "Topic two", 4, 6);
    s_assert_lesson(&plan, 0, 2, "Pages 7-9", 7, 9);
    s_assert_lesson(&plan, 0, 3, "Page 10", 10, 10);
    s_assert_module(&plan, 1, "Pages 11-20", 11, 20, true, 4);
    s_assert_lesson(&plan, 1, 0, "Pages 11-13", 11, 13);
    s_assert_lesson(&plan, 1, 1, s_letters('y', PLAN_HEADING_MAX - 1), 14, 16);
    s_assert_lesson(&plan, 1, 2, "Pages 17-19", 17, 19);
    s_assert_module(&plan, 2, "Pages 21-25", 21, 25, true, 2);
    s_assert_lesson(&plan, 2, 1, "Pages 24-25", 24, 25);
    s_assert_covers(&plan, 25);
    plan_free(&plan);
    docmodel_free(&dm);
}

/* ================================================================ degenerate input */

/* One page without any line: one generated module and lesson "Page 1" with empty text. */
static void
test_empty_document(void **state)
{
    docmodel_t dm;
    s_model_new(&dm, 1);
    plan_t plan;
    assert_int_equal(plan_make(&dm, &plan), 0);
    assert_int_equal(plan.structure, PLAN_STRUCTURE_PAGES);
    s_assert_module(&plan, 0, "Page 1", 1, 1, true, 1);
    s_assert_lesson(&plan, 0, 0, "Page 1", 1, 1);
    s_render_all(&dm, &plan);
    assert_string_equal(s_lesson(&plan, 0, 0)->text, "");
    plan_free(&plan);
    plan_free(&plan); /* a freed plan is zeroed */
    docmodel_free(&dm);
    docmodel_free(&dm);
    assert_int_equal(docmodel_init(&dm, 0), -1);
}

/* Blank lines and a document whose outline points past its only page. */
static void
test_blank_lines_and_one_page_outline(void **state)
{
    docmodel_t dm;
    s_model_new(&dm, 1);
    draft_page_t d = {0};
    s_draft(&d, BODY, false, 100, false, "   ");
    s_draft(&d, BODY, false, 114, false, "\t");
    s_page_commit(&dm, 1, &d);
    s_entry(&dm, 1, "Only", 7);
    s_entry(&dm, 2, "Child", 9);
    plan_t plan;
    assert_int_equal(plan_make(&dm, &plan), 0);
    assert_int_equal(plan.structure, PLAN_STRUCTURE_OUTLINE);
    s_assert_module(&plan, 0, "Only", 1, 1, false, 1);
    s_assert_lesson(&plan, 0, 0, "Child", 1, 1);
    s_render_all(&dm, &plan);
    assert_string_equal(s_lesson(&plan, 0, 0)->text, "");
    plan_free(&plan);
    docmodel_free(&dm);
}

/* ================================================================ caps */

static void
test_outline_caps(void **state)
{
    docmodel_t dm;
    s_model_new(&dm, 2);
    s_entry(&dm, DOCMODEL_OUTLINE_DEPTH_MAX, "deepest kept", 1);
    s_entry(&dm, DOCMODEL_OUTLINE_DEPTH_MAX + 1, "too deep", 1);
    assert_int_equal(dm.nentries, 1);
    for (int i = 1; i < DOCMODEL_OUTLINE_ITEMS_MAX; i++)
        s_entry(&dm, 1, "x", 1);
    assert_int_equal(dm.nentries, DOCMODEL_OUTLINE_ITEMS_MAX);
    assert_false(docmodel_entry_wanted(&dm));
    s_entry(&dm, 1, "one too many", 2);
    assert_int_equal(dm.nentries, DOCMODEL_OUTLINE_ITEMS_MAX);
    assert_string_equal(dm.entries[dm.nentries - 1].title, "x");
    docmodel_free(&dm);
}

static void
test_title_caps(void **state)
{
    char *out = NULL;
    assert_int_equal(docmodel_title_dup(NULL, &out), 0);
    assert_null(out);
    assert_int_equal(docmodel_title_dup(" \r\n\t\v\f", &out), 0);
    assert_null(out);
    assert_int_equal(docmodel_title_dup("\n A title \t", &out), 0);
    assert_string_equal(out, "A title");
    free(out);

    /* 1023 ASCII bytes then "é" (2 bytes) straddling the 1024-byte cap: cut before it. */
    char raw[1100];
    memset(raw, 'a', 1023);
    strcpy(raw + 1023, "\xc3\xa9zzz");
    assert_int_equal(docmodel_title_dup(raw, &out), 0);
    assert_int_equal(strlen(out), 1023);
    free(out);
    /* Exactly 1024 bytes before a space: kept whole, trailing blanks after the cut dropped. */
    memset(raw, 'b', sizeof raw);
    raw[1020] = ' ';
    raw[1021] = ' ';
    raw[1099] = '\0';
    assert_int_equal(docmodel_title_dup(raw, &out), 0);
    assert_int_equal(strlen(out), 1024);
    free(out);
    raw[1024] = '\0';
    memset(raw + 1000, ' ', 24);
    assert_int_equal(docmodel_title_dup(raw, &out), 0);
    assert_int_equal(strlen(out), 1000);
    free(out);

    docmodel_t dm;
    s_model_new(&dm, 1);
    assert_int_equal(docmodel_meta_set(&dm, "  The PDF title ", "   "), 0);
    assert_string_equal(dm.title, "The PDF title");
    assert_null(dm.author);
    assert_null(docmodel_page_set(&dm, 2, "x", 1, 0)); /* no page 2 */
    docmodel_free(&dm);
}

/* ================================================================ course_build */

static void
test_course_build_writes_the_document(void **state)
{
    docmodel_t dm;
    s_model_plain(&dm, 3);
    s_entry(&dm, 1, "Chapter \"One\"", 1);
    assert_int_equal(docmodel_meta_set(&dm, "PDF title", "An author"), 0);
    course_source_t source = {NULL, "a.pdf", "abc", {0, 0}};
    char *json = NULL;
    size_t len = 0;
    course_error_t err = {PROFAI_OK, {0}};
    assert_int_equal(course_build(&dm, &source, 1 << 20, &json, &len, &err), 0);
    assert_int_equal(strlen(json), len);
    assert_true(strncmp(json,
                        "{\"title\":\"PDF title\",\"source\":{\"filename\":\"a.pdf\",\"sha256\":"
                        "\"abc\",\"pages\":3,\"pdf_title\":\"PDF title\",\"author\":\"An "
                        "author\"},\"structure\":\"outline\",\"language\":\"en\",\"modules\":[{"
                        "\"id\":\"m1\",\"title\":\"Chapter \\\"One\\\"\",\"page_start\":1,"
                        "\"page_end\":3,\"generated\":false,\"lessons\":[{\"id\":\"l1\"",
                        strlen("{\"title\":\"PDF title\"")) == 0);
    assert_non_null(strstr(json, "\"structure\":\"outline\""));
    assert_non_null(strstr(json, "\"title\":\"Chapter \\\"One\\\"\",\"page_start\":1,"
                                 "\"page_end\":3,\"generated\":false"));
    assert_non_null(strstr(json, "\"quiz\":["));
    free(json);
    docmodel_free(&dm);

    /* Without any title: "Untitled course", null metadata. */
    s_model_plain(&dm, 1);
    source = (course_source_t){NULL, NULL, NULL, {0, 0}};
    assert_int_equal(course_build(&dm, &source, 1 << 20, &json, &len, &err), 0);
    assert_true(strncmp(json,
                        "{\"title\":\"Untitled course\",\"source\":{\"filename\":\"\",\"sha256\":"
                        "\"\",\"pages\":1,\"pdf_title\":null,\"author\":null},\"structure\":"
                        "\"pages\"",
                        strlen("{\"title\":\"Untitled course\",\"source\":{\"filename\":\"\","
                               "\"sha256\":\"\",\"pages\":1,\"pdf_title\":null,\"author\":null},"
                               "\"structure\":\"pages\"")) == 0);
    free(json);

    /* The teacher's title wins; a course over max_output is refused as too_large. */
    source.title = "Teacher's title";
    assert_int_equal(course_build(&dm, &source, 100, &json, &len, &err), -1);
    assert_null(json);
    assert_int_equal(err.code, PROFAI_ERR_TOO_LARGE);
    assert_non_null(strstr(err.message, "larger than"));
    docmodel_free(&dm);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outline_modules_and_lessons),
        cmocka_unit_test(test_outline_cuts_inside_pages),
        cmocka_unit_test(test_outline_pages_are_normalised),
        cmocka_unit_test(test_outline_without_level_one_falls_back),
        cmocka_unit_test(test_headings_cut_the_text),
        cmocka_unit_test(test_running_lines_are_removed),
        cmocka_unit_test(test_headings_front_matter),
        cmocka_unit_test(test_page_groups),
        cmocka_unit_test(test_empty_document),
        cmocka_unit_test(test_blank_lines_and_one_page_outline),
        cmocka_unit_test(test_outline_caps),
        cmocka_unit_test(test_title_caps),
        cmocka_unit_test(test_course_build_writes_the_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
