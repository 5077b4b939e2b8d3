/*
 * course_build.h - from a document model to the course document: plan (plan.h), render each
 * lesson's clean text, analyse the texts (course_text.h), write the JSON (course_json.h).
 *
 * Pure C, no poppler: profai-extract calls it on the model it read from the PDF
 * (workers/extract/pdf_reader.h); the unit tests call it on hand-made models. Library code:
 * nothing here logs or exits; failures come back as a course_error_t.
 */
#ifndef PROFAI_COURSE_BUILD_H
#define PROFAI_COURSE_BUILD_H

#include "course_json.h"
#include "docmodel.h"
#include "profai/compiler.h"
#include "profai/errors.h"

#include <stddef.h>

/* Why a document was refused: `code` is one of the job error codes an extractor refuses with
 * (not_pdf, encrypted, damaged, no_text, too_large, internal), `message` a sentence a teacher
 * understands. */
typedef struct {
    profai_error_t code;
    char message[512];
} course_error_t;

/* Set err to code and a formatted message; returns -1, for `return course_fail(...)`. */
int course_fail(course_error_t *err, profai_error_t code, const char *fmt, ...) PROFAI_PRINTF(3, 4);

/* Set err to too_large, "needs more memory than the parser may use"; returns -1. */
int course_fail_memory(course_error_t *err);

/* Set err to too_large, "more text than a course may have (N MiB)"; returns -1. */
int course_fail_text_size(course_error_t *err, size_t max_output);

/* Set err to no_text, "no text that can be extracted"; returns -1. */
int course_fail_no_text(course_error_t *err);

/* Refuse doc when it holds more than max_output bytes of page text (too_large) or no page
 * with text other than whitespace (no_text), as the PDF reader does while it reads: for a
 * model merged from the parts of a split document. 0 or -1. */
int course_check_text(const docmodel_t *doc, size_t max_output,
                      course_error_t *err) PROFAI_MUST_CHECK;

/* Build the course document of doc (borrowed; planning marks its running lines and
 * normalises its outline pages, see plan_make). A text or a JSON larger than max_output
 * bytes is refused as too_large, and so is running out of memory. On success the caller
 * owns *json, a NUL-terminated UTF-8 JSON text of *len bytes (free with free()). */
int course_build(docmodel_t *doc, const course_source_t *source, size_t max_output, char **json,
                 size_t *len, course_error_t *err) PROFAI_MUST_CHECK;

#endif
