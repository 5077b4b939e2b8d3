/*
 * plan.h - the structure of a course: modules and lessons with their pages and clean text,
 * planned from a document model (docmodel.h). Pure C, no poppler: tests/unit/test_plan.c
 * plans hand-made models.
 *
 * Method (docs/course-generation.md): running headers, footers and page numbers are marked
 * first (textclean.h). Level-1 outline entries become modules, level-2 entries their lessons,
 * deeper entries fold into their level-2 lesson; each lesson's text runs from its entry's
 * line (the line its destination points at, or the line of the page that holds its title)
 * to the next lesson's, so that lessons sharing a page share none of its text. Without an
 * outline, headings found from the typography (headings.h) play the outline's part and cut
 * the text at their lines; a document without either is cut into page groups whose lessons
 * are named after their first line when it looks like a heading.
 */
#ifndef PROFAI_PLAN_H
#define PROFAI_PLAN_H

#include "docmodel.h"
#include "profai/compiler.h"

#include <stdbool.h>
#include <stddef.h>

#define PLAN_PAGES_PER_MODULE 10 /* without outline or headings */
#define PLAN_PAGES_PER_LESSON 3  /* without outline or headings */
#define PLAN_HEADING_MAX 80      /* characters of a first line taken as a lesson title */

/* Where the modules and lessons came from: the "structure" of the course document. */
typedef enum {
    PLAN_STRUCTURE_PAGES,    /* page groups: no outline, no headings */
    PLAN_STRUCTURE_OUTLINE,  /* the PDF's outline */
    PLAN_STRUCTURE_HEADINGS, /* headings found from the typography */
} plan_structure_t;

typedef struct {
    char *title; /* owned */
    int start;   /* pages, 1-based, start <= end */
    int end;
    bool cut;          /* its text is the lines [first_line, end_line) of the model's */
    size_t first_line; /* (outline and headings); else it is its pages' text and both are 0 */
    size_t end_line;
    char *text; /* owned; clean text, set by plan_render_lesson; NULL before */
    size_t len;
    size_t *offsets; /* owned; where each page's text begins in text (end - start + 1) */
} plan_lesson_t;

typedef struct {
    char *title; /* owned */
    int start;
    int end;
    bool generated;         /* made up by the planner ("Front matter", "Pages 1-10") */
    plan_lesson_t *lessons; /* owned array */
    size_t nlessons;
    size_t lessons_cap;
} plan_module_t;

typedef struct {
    plan_structure_t structure;
    plan_module_t *modules; /* owned array; in page order */
    size_t nmodules;
    size_t modules_cap;
} plan_t;

/* Plan the course of doc: mark its running lines and title echoes, normalise its outline
 * entries' pages (unknown: the previous entry's; past the end: the last page; backwards: the
 * previous start), then cut it by outline, else headings, else page groups. Every page of the
 * document belongs to a lesson, and every module has at least one lesson. On success the
 * caller frees *plan with plan_free. -1 when out of memory (then *plan is empty). */
int plan_make(docmodel_t *doc, plan_t *plan) PROFAI_MUST_CHECK;

/* Render the clean text (textclean.h) of one lesson of a plan made from doc: sets its text,
 * len and offsets. 0, or -1 when out of memory. */
int plan_render_lesson(const docmodel_t *doc, plan_lesson_t *lesson) PROFAI_MUST_CHECK;

/* Leave out of the plan every lesson for which drop(lesson, arg) holds (rendered or not), and
 * every module left without a lesson: the pages of what is dropped then belong to no lesson.
 * When that would leave no lesson at all nothing is dropped. Returns how many lessons went. */
size_t plan_drop_lessons(plan_t *plan, bool (*drop)(const plan_lesson_t *lesson, void *arg),
                         void *arg);

/* Free everything the plan owns and zero it. Accepts a zeroed plan. */
void plan_free(plan_t *plan);

/* "pages", "outline" or "headings" (the course document's "structure"). */
const char *plan_structure_name(plan_structure_t structure);

#endif
