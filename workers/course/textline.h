/*
 * textline.h - one line of page text with its typography: the plain data that the PDF
 * reader (workers/extract/pdf_reader.c) builds from poppler into the document model
 * (docmodel.h), and that the pure-C text modules (textclean, headings, plan) work on.
 */
#ifndef PROFAI_TEXTLINE_H
#define PROFAI_TEXTLINE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    const char *text; /* UTF-8 (not necessarily valid), without '\n'; borrowed */
    size_t len;       /* bytes */
    int page;         /* 1-based; lines are sorted by page, then in the page's text order */
    float size;       /* font size of most of its characters, points; 0 when unknown */
    float x0, y0;     /* top-left corner of its box, points, y growing downwards */
    float x1, y1;     /* bottom-right corner; a box of all zeros means "unknown" */
    bool bold;        /* most characters in a bold face */
    bool mono;        /* most characters in a monospaced face (code) */
    bool running;     /* output of textclean_mark_running: header, footer or page number */
} text_line_t;

static inline bool
text_line_has_box(const text_line_t *l)
{
    return l->x1 > l->x0 && l->y1 > l->y0;
}

#endif
