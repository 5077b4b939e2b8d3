/*
 * docmodel.h - the document model: what profai-extract reads from a PDF, as plain data.
 *
 * The sandboxed extractor (workers/extract/pdf_reader.c) fills it with poppler; everything
 * after that (planning, lesson texts, the course JSON) reads only this model, so it runs and
 * is tested without poppler (tests/unit/test_plan.c builds models by hand).
 *
 * Ownership: the model owns every pointer in it. Lines point into the page texts, which the
 * model copied; both live until docmodel_free. Planning (plan.h) may change a line's `running`
 * flag and the outline entries' pages, nothing else.
 */
#ifndef PROFAI_DOCMODEL_H
#define PROFAI_DOCMODEL_H

#include "profai/compiler.h"
#include "textline.h"

#include <stdbool.h>
#include <stddef.h>

#define DOCMODEL_OUTLINE_DEPTH_MAX 16    /* deeper outline entries are ignored */
#define DOCMODEL_OUTLINE_ITEMS_MAX 10000 /* entries after this many are ignored */
#define DOCMODEL_TITLE_MAX 1024          /* bytes; longer titles are cut at a character */

/* One outline entry, in reading order (a depth-first walk of the PDF's outline). */
typedef struct {
    int level;   /* 1 = top */
    char *title; /* owned; trimmed (docmodel_title_dup); NULL when empty */
    int page;    /* 1-based as the PDF says; 0 when unknown; may be past the last page */
    float top;   /* where on the page its destination points: points from the page's top
                  * (the lines' y, textline.h); negative when unknown */
} doc_entry_t;

typedef struct {
    int pages;          /* page count, > 0 */
    char **texts;       /* texts[i]: page i+1's text, NUL-terminated; owned; NULL until set */
    float *heights;     /* heights[i]: page i+1's height in points; 0 when unknown */
    text_line_t *lines; /* owned array; sorted by page, then in the page's text order */
    size_t nlines;
    size_t lines_cap;
    doc_entry_t *entries; /* owned array; the outline, empty without one */
    size_t nentries;
    size_t entries_cap;
    char *title;  /* owned; the PDF's Title metadata, trimmed; NULL when absent or blank */
    char *author; /* owned; the PDF's Author metadata, likewise */
} docmodel_t;

/* An empty model of `pages` pages (> 0): no text (NULL) and height 0 for every page, no
 * lines, no outline, no metadata. 0, or -1 when out of memory (then *dm needs no docmodel_free). */
int docmodel_init(docmodel_t *dm, int pages) PROFAI_MUST_CHECK;

/* Free everything the model owns and zero it. Accepts a zeroed model. */
void docmodel_free(docmodel_t *dm);

/* Set page `page` (1-based)'s text (copied: len bytes, without NUL bytes) and height.
 * Call it before adding the page's lines. Returns the model's copy, or NULL when out of
 * memory or when page is out of range. */
const char *docmodel_page_set(docmodel_t *dm, int page, const char *text, size_t len,
                              float height) PROFAI_MUST_CHECK;

/* Append a line (copied; its text must point into the model's text of line->page, and lines
 * come in page order). 0, or -1 when out of memory. */
int docmodel_line_add(docmodel_t *dm, const text_line_t *line) PROFAI_MUST_CHECK;

/* Put the lines in page order, each page's lines in the order they were added: for a reader
 * that read its pages out of order (a split document's reader going down, page_meet.h).
 * 0, or -1 when out of memory (the model unchanged). */
int docmodel_lines_order(docmodel_t *dm) PROFAI_MUST_CHECK;
/* Is there room for another outline entry? False past DOCMODEL_OUTLINE_ITEMS_MAX
 * entries, so that a reader can stop walking a huge outline early. */
bool docmodel_entry_wanted(const docmodel_t *dm);

/* Append an outline entry; raw_title (borrowed, may be NULL) is trimmed with
 * docmodel_title_dup; top is the destination's position on the page (doc_entry_t.top,
 * negative when unknown). Entries deeper than DOCMODEL_OUTLINE_DEPTH_MAX or past
 * DOCMODEL_OUTLINE_ITEMS_MAX are ignored (0 all the same). 0, or -1 when out of memory. */
int docmodel_entry_add(docmodel_t *dm, int level, const char *raw_title, int page,
                       float top) PROFAI_MUST_CHECK;

/* Set the metadata (borrowed strings, may be NULL; trimmed copies are kept). 0, or -1 when
 * out of memory. */
int docmodel_meta_set(docmodel_t *dm, const char *title, const char *author) PROFAI_MUST_CHECK;

/* Narrow s[0..*len) to its text without surrounding ASCII whitespace (space, \t, \n, \v,
 * \f, \r: GLib's g_ascii_isspace, with which titles were always trimmed): advances *s and
 * shortens *len; *len becomes 0 for a blank text. */
void docmodel_trim(const char **s, size_t *len);

/* A copy of raw without surrounding ASCII whitespace, cut to DOCMODEL_TITLE_MAX bytes at a
 * character boundary. Sets *out to the copy (caller frees it with free()) or to NULL when
 * raw is NULL or nothing is left. 0, or -1 when out of memory. */
int docmodel_title_dup(const char *raw, char **out) PROFAI_MUST_CHECK;

#endif
