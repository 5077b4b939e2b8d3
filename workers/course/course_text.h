/*
 * course_text.h - what course generation derives from the lessons' clean texts: the
 * document's language, each lesson's summary and key terms, and the quiz.
 *
 * Pure C (no poppler): course_build.c hands over the texts plan.c rendered with textclean; the unit
 * tests hand over literals. Cost is linear in the text, plus a sort per lesson.
 */
#ifndef PROFAI_COURSE_TEXT_H
#define PROFAI_COURSE_TEXT_H

#include "keyterms.h"
#include "quiz.h"

#include <stddef.h>

typedef struct {
    const char *text; /* clean lesson text, valid UTF-8; borrowed */
    size_t len;
    int page_start; /* its pages */
    int page_end;
    const size_t *page_offsets; /* byte offset where each page's text begins (page_end -
                                   page_start + 1 entries); borrowed; NULL = all page_start */
    const char *title;          /* borrowed; may be NULL (quiz_is_boilerplate reads it) */
} course_text_lesson_t;

/* Bounds of the quiz: questions per lesson and per course (quiz_select); 0 = the default,
 * QUIZ_PER_LESSON and QUIZ_PER_COURSE. */
typedef struct {
    int quiz_per_lesson;
    int quiz_per_course;
} course_text_options_t;

typedef struct {
    char *summary;       /* owned; "" when the lesson has too little text */
    keyterms_t keyterms; /* owned */
} course_text_result_t;

typedef struct {
    char language[4];              /* "en", "fr", "de", "es" or "und" */
    course_text_result_t *lessons; /* owned; one per input lesson */
    size_t nlessons;
    quiz_t quiz;       /* owned */
    int *source_pages; /* owned; page of each quiz question's sentence */
} course_text_t;

/* Analyse lessons[0..n) with options (NULL: the defaults). Returns 0 and fills *out (free
 * with course_text_free), or -1 when out of memory. The same input always gives the same
 * output. */
int course_text_analyse(const course_text_lesson_t *lessons, size_t n,
                        const course_text_options_t *options, course_text_t *out)
    __attribute__((warn_unused_result));
void course_text_free(course_text_t *ct);

/* The page of byte `offset` of a lesson's text. */
int course_text_page_at(const course_text_lesson_t *lesson, size_t offset);

#endif
