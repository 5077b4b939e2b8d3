/*
 * course_json.h - write the course document (docs/course-generation.md, "The course
 * document"): the source, the structure, modules with their lessons, and the quiz.
 *
 * Pure C over the plan (plan.h), the model's metadata (docmodel.h) and the analysis
 * (course_text.h); nothing here plans or analyses.
 */
#ifndef PROFAI_COURSE_JSON_H
#define PROFAI_COURSE_JSON_H

#include "course_text.h"
#include "docmodel.h"
#include "json.h"
#include "plan.h"

#include <stddef.h>

/* What the teacher and the worker said about the PDF; all borrowed, each may be NULL. */
typedef struct {
    const char *title;    /* the teacher's course title; else the PDF's, else "Untitled course" */
    const char *filename; /* original file name */
    const char *sha256;   /* of the PDF */
    course_text_options_t quiz; /* the worker's bounds of the quiz; zeros: the defaults */
} course_source_t;

/* Write the course of doc as planned in plan (lessons rendered) and analysed in analysis
 * (one result per lesson in plan order) into j. Modules, lessons and quiz questions stop
 * being added once j holds more than max_output bytes; the caller checks j->len and
 * json_failed(j) afterwards. */
void course_json_write(json_t *j, const course_source_t *source, const docmodel_t *doc,
                       const plan_t *plan, const course_text_t *analysis, size_t max_output);

#endif
