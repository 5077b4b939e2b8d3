/*
 * pdf_reader.h - read a PDF with poppler-glib into the document model (course/docmodel.h).
 *
 * The only code of ProfAI that parses PDFs. It runs only inside profai-extract, the
 * short-lived sandboxed child of the worker: poppler is neither thread-safe nor safe on
 * hostile input, so one process parses one document. What it reads: each page's text
 * (poppler_page_get_text, the engine of pdftotext) and height; each line's font size, weight,
 * pitch and box; the outline with its pages and positions on them (depth-first, capped at
 * DOCMODEL_OUTLINE_DEPTH_MAX levels and DOCMODEL_OUTLINE_ITEMS_MAX entries); the Title and
 * Author metadata. Everything after that is course/course_build.h, which never sees poppler.
 *
 * Library code: nothing here logs or exits; failures come back as a course_error_t whose
 * code is one of the job error codes of docs/protocol.md section 4.
 */
#ifndef PROFAI_PDF_READER_H
#define PROFAI_PDF_READER_H

#include "course/course_build.h"
#include "course/docmodel.h"
#include "profai/compiler.h"

#include <glib.h>
#include <poppler.h>
#include <stddef.h>

/* Progress report: stage ("parsing", "outline", "text", "building"), percent 0..100, pages
 * done and page count (0 when not known yet). */
typedef void(pdf_reader_progress_fn)(void *arg, const char *stage, int percent, int page,
                                     int pages);

/* The next page to read (1-based), or 0 when there is none left. */
typedef int(pdf_reader_next_fn)(void *arg);

typedef struct {
    int max_pages;     /* more pages -> too_large; 0 = no limit */
    size_t max_output; /* more text than this -> too_large */
    int page_delay_ms; /* TEST SEAM: sleep this long after each page's text; 0 in production */
    /* Read only pages first_page..last_page (1-based; 0, 0 = every page): one part of a split
     * document (docs/worker.md, "Large documents"). The outline and metadata are read only by
     * the part that starts at page 1; a part without text is no refusal (the merge decides). */
    int first_page, last_page;
    /* With a range: the pages to read, in the order this gives them (inside the range), in
     * place of first_page..last_page in order (page_meet.h). The outline and metadata are read
     * only when the first page it gives is 1. NULL: every page of the range. */
    pdf_reader_next_fn *next_page;
    void *next_arg;
    pdf_reader_progress_fn *progress; /* may be NULL */
    void *progress_arg;
} pdf_reader_options_t;

/* Open a PDF held in memory. Refuses data without "%PDF-" in its first 1024 bytes (not_pdf),
 * and maps poppler's errors to encrypted / damaged. `bytes` is borrowed (poppler keeps its own
 * reference). On success the caller owns *doc (g_object_unref). */
int pdf_reader_open(GBytes *bytes, PopplerDocument **doc, course_error_t *err) PROFAI_MUST_CHECK;

/* Read doc (borrowed) into *model. Refuses a document without pages or without any text
 * (no_text), with more than max_pages pages or more than max_output bytes of text
 * (too_large); a range past the last page is refused as internal. With a page range, the
 * model has every page but only the range's texts and lines. On success the caller frees *model
 * with docmodel_free; on failure *model is zeroed. */
int pdf_reader_read(PopplerDocument *doc, const pdf_reader_options_t *options, docmodel_t *model,
                    course_error_t *err) PROFAI_MUST_CHECK;

#endif
