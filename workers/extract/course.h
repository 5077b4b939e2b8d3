/*
 * course.h - turn a PDF into a ProfAI course document (JSON), with poppler-glib.
 *
 * Used only inside profai-extract, the short-lived sandboxed child of the worker: poppler is
 * neither thread-safe nor safe on hostile input, so one process parses one document.
 *
 * Method (docs/course-generation.md): level-1 outline entries become modules, level-2 entries
 * their lessons, deeper entries fold into their level-2 lesson. Without an outline, headings
 * found from the typography (headings.h) play the outline's part; a document without either
 * is cut into page groups. Lesson text is the clean text (textclean.h) of the lesson's pages;
 * summaries, key terms, the quiz and the language come from course_text.h. This file holds
 * everything that needs poppler; the text algorithms are pure C modules.
 *
 * Library code: nothing here logs or exits; failures come back as a course_error_t whose
 * code is one of the job error codes of docs/protocol.md section 4.
 */
#ifndef PROFAI_COURSE_H
#define PROFAI_COURSE_H

#include <glib.h>
#include <poppler.h>
#include <stdbool.h>
#include <stddef.h>

#define COURSE_OUTLINE_DEPTH_MAX 16    /* deeper outline entries are ignored */
#define COURSE_OUTLINE_ITEMS_MAX 10000 /* entries after this many are ignored */
#define COURSE_TITLE_MAX 1024          /* bytes; longer titles are cut at a character */
#define COURSE_PAGES_PER_MODULE 10     /* without outline */
#define COURSE_PAGES_PER_LESSON 3      /* without outline */
#define COURSE_HEADING_MAX 80          /* characters of a first line taken as a lesson title */

/* Why a document was refused: `code` is a job error code ("not_pdf", "encrypted", "damaged",
 * "no_text", "too_large", "internal"), `message` a sentence a teacher understands. */
typedef struct {
    char code[33];
    char message[512];
} course_error_t;

/* Progress report: stage ("parsing", "outline", "text", "building"), percent 0..100, pages
 * done and page count (0 when not known yet). */
typedef void(course_progress_fn)(void *arg, const char *stage, int percent, int page, int pages);

typedef struct {
    const char *title;    /* the teacher's course title; borrowed */
    const char *filename; /* original file name; borrowed */
    const char *sha256;   /* of the PDF; borrowed */
    int max_pages;        /* more pages -> too_large; 0 = no limit */
    size_t max_output;    /* a larger JSON -> too_large */
    int page_delay_ms;    /* TEST SEAM: sleep this long after each page's text; 0 in production */
    course_progress_fn *progress; /* may be NULL */
    void *progress_arg;
} course_options_t;

/* Open a PDF held in memory. Refuses data without "%PDF-" in its first 1024 bytes (not_pdf),
 * and maps poppler's errors to encrypted / damaged. `bytes` is borrowed (poppler keeps its own
 * reference). On success the caller owns *doc (g_object_unref). */
int course_document_open(GBytes *bytes, PopplerDocument **doc, course_error_t *err)
    __attribute__((warn_unused_result));

/* Build the course document of `doc` (borrowed). On success the caller owns *json, a
 * NUL-terminated UTF-8 JSON text of *len bytes (free with free()). */
int course_build(PopplerDocument *doc, const course_options_t *options, char **json, size_t *len,
                 course_error_t *err) __attribute__((warn_unused_result));

#endif
