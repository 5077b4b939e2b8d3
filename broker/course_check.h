/*
 * course_check.h - whether a worker's course document follows the course schema of
 * docs/api.md section 5 before the broker stores it (docs/broker.md, "Results"): types, sizes
 * and counts of every field the schema names, page ranges within the PDF, quiz answers among
 * their choices and quiz questions on existing lessons. Keys the schema does not name are
 * allowed (version 1 can grow). The limits are COURSE_* below, documented in docs/api.md.
 *
 * Pure: a function over the JSON text (frontend/json_in.h parses it, strictly and bounded); no
 * I/O, nothing logged. Unit tests: tests/unit/test_course_check.c.
 */
#ifndef PROFAI_BROKER_COURSE_CHECK_H
#define PROFAI_BROKER_COURSE_CHECK_H

#include "profai/compiler.h"

#include <stddef.h>

#define COURSE_TITLE_MAX 1024     /* bytes of any title, file name or quiz choice */
#define COURSE_META_MAX 65536     /* bytes of pdf_title, author (PDF metadata), a quiz prompt */
#define COURSE_SUMMARY_MAX 65536  /* bytes of a lesson summary */
#define COURSE_ID_MAX 16          /* bytes of a module, lesson or question id */
#define COURSE_PAGES_MAX 100000   /* source.pages */
#define COURSE_MODULES_MAX 10000  /* modules of a course */
#define COURSE_LESSONS_MAX 100000 /* lessons of a whole course */
#define COURSE_KEY_TERMS_MAX 10   /* key terms of a lesson */
#define COURSE_QUIZ_MAX 10000     /* quiz questions */
#define COURSE_CHOICES 4          /* choices of a quiz question, exactly */
#define COURSE_DEPTH_MAX 8        /* JSON nesting */
#define COURSE_VALUES_MAX 4000000 /* JSON values in all */

/* 0 when the len bytes of json are a course that follows the schema; -1 otherwise with a
 * sentence naming the first fault (e.g. "modules[2].lessons[0].page_end: beyond
 * source.pages") in why (why_size bytes). */
int course_check(const char *json, size_t len, char *why, size_t why_size) PROFAI_MUST_CHECK;

#endif
