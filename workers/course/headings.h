/*
 * headings.h - find a document's headings from its typography, for PDFs without an outline.
 *
 * Pure C over the lines of textline.h (workers/extract/pdf_reader.c builds them from poppler), so
 * it is tested on synthetic line arrays. Method, thresholds and limits: docs/course-generation.md,
 * "Headings without an outline". In short: the body size is the font size of most
 * characters; a heading is a short line (or up to three lines of one style) set larger than
 * the body, or bold and numbered ("2.3", "Chapter 4"); a style that is used for headings on
 * at least two pages, more often than for other text, is a heading style; the largest such
 * style is level 1, the next level 2, and so on.
 */
#ifndef PROFAI_HEADINGS_H
#define PROFAI_HEADINGS_H

#include "textline.h"

#include <stddef.h>

#define HEADINGS_SIZE_RATIO 1.12f /* larger than the body by this much: a heading size */
#define HEADINGS_TITLE_MAX 200    /* bytes of a title; longer ones are cut at a character */
#define HEADINGS_MAX_WORDS 18     /* a line with more words is text, not a heading */
#define HEADINGS_MAX_CHARS 120    /* ... and so is one with more characters */
#define HEADINGS_MAX_LINES 3      /* lines of one heading (a wrapped title) */

typedef struct {
    int level;   /* 1 = the largest heading style (a module), 2 = the next (a lesson), ... */
    int page;    /* 1-based */
    size_t line; /* index of its first line in the lines array */
    int lines;   /* lines it takes (a wrapped title: more than one) */
    char *title; /* owned; valid UTF-8, whitespace normalised, numbering kept ("2.3 Roots") */
} heading_t;

typedef struct {
    heading_t *items; /* owned; in reading order */
    size_t count;
    float body_size; /* points */
    int levels;      /* heading styles found */
} headings_t;

/* Find the headings of lines[0..count) (sorted by page, text order; lines marked running
 * are ignored). On success *out holds them (maybe none) and the caller frees it with
 * headings_free. Returns -1 when out of memory. */
int headings_detect(const text_line_t *lines, size_t count, headings_t *out)
    __attribute__((warn_unused_result));

void headings_free(headings_t *h);

/* Numbering depth of a title: "Chapter 4" or "4." -> 1, "2.3" -> 2, "2.3.1" -> 3; 0 when the
 * title does not start with a section number. */
int headings_numbering(const char *title, size_t len);

/* Is title that of an unnumbered chapter of a book's front matter: it starts with
 * Acknowledg(e)ments, Preface, Foreword, About this book, About the author, Introduction,
 * Dedication, Prologue (or their French, German and Spanish names), case aside? Such headings
 * are kept before a document's first numbered chapter. */
bool headings_front_matter(const char *title);

/* Is s[0..len) the title of a table of contents or an index, alone ("Contents", "Index",
 * "Table des matières", ...; ASCII case aside)? On a page of contents such a line is still a
 * heading, so that the listing becomes a lesson of its own, which course_build leaves out. */
bool headings_listing_title(const char *s, size_t len);

#endif
