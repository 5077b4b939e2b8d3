/*
 * textclean.h - clean page text: running headers, footers and page numbers out, words
 * hyphenated at line ends joined, paragraphs kept, whitespace normalised, valid UTF-8 out.
 *
 * Works on the lines of a whole document (textline.h), as workers/extract/pdf_reader.c
 * reads them from poppler; pure C, no poppler. Method and limits: docs/course-generation.md, "Clean
 * text".
 */
#ifndef PROFAI_TEXTCLEAN_H
#define PROFAI_TEXTCLEAN_H

#include "strbuf.h"
#include "textline.h"

#include <stddef.h>

/* Set `running` on every line of lines[0..count) that is a running header, footer or page
 * number: a line near the top or bottom of its page whose text repeats there on many pages
 * (digits count as equal when the number follows the page number, as in "Page 3"/"Page 4"),
 * a page number alone, or any line repeated on more than half of the pages. Lines are
 * sorted by page; pages is the document's page count; page_heights[p - 1] is the height of
 * page p in points, or NULL (then the first and last three lines of a page are its edges).
 * Returns 0, or -1 when out of memory (no line marked). */
int textclean_mark_running(text_line_t *lines, size_t count, int pages, const float *page_heights)
    __attribute__((warn_unused_result));

/* The body size: the font size (points) of most characters of lines not marked running
 * (weighted by length; ties: the smaller size); 0 when no line has a size. */
float textclean_body_size(const text_line_t *lines, size_t count);

/* Set `running` on lines at a page's top or bottom edge (see textclean_mark_running) that
 * repeat the title of a chapter or section - titles[0..ntitles) - in a regular (not bold)
 * font no larger than max_size points: a running header that names the current chapter, on chapters
 * too short for textclean_mark_running to see it repeat. Titles match case-insensitively, without
 * their numbering ("Chapter 3.", "2.1") and punctuation. Returns -1 when out of memory. */
int textclean_mark_titles(text_line_t *lines, size_t count, const char *const *titles,
                          size_t ntitles, const float *page_heights, float max_size)
    __attribute__((warn_unused_result));

/* Append the clean text of lines[begin..end) to out (lines sorted by page, all of them on
 * pages first_page..last_page; running lines skipped): lines of a paragraph joined by a
 * space, "informa-" + "tion" joined when a lower-case letter follows, "\n" between code
 * lines and list items, "\n\n" between paragraphs, no leading or trailing whitespace, valid
 * UTF-8. page_offsets (last_page - first_page + 1 entries, may be NULL) receives, for each
 * page, the byte offset in out where its text begins (pages without text: where the next
 * text begins). */
void textclean_render(const text_line_t *lines, size_t count, size_t begin, size_t end,
                      int first_page, int last_page, strbuf_t *out, size_t *page_offsets);

/* textclean_render of every line of pages first_page..last_page. */
void textclean_render_pages(const text_line_t *lines, size_t count, int first_page, int last_page,
                            strbuf_t *out, size_t *page_offsets);

/* Append s[0..len) to out with whitespace runs collapsed to one space, control characters
 * dropped, ligatures (U+FB00..FB06) spelled out and invalid UTF-8 replaced by U+FFFD; no
 * leading or trailing space. */
void textclean_normalise(const char *s, size_t len, strbuf_t *out);

/* The index range [*begin, *end) of the lines of `page` (lines sorted by page). */
void textclean_page_lines(const text_line_t *lines, size_t count, int page, size_t *begin,
                          size_t *end);

#endif
