/*
 * snippet.h - the one place search snippets become HTML (docs/api.md 4.8): PostgreSQL's
 * ts_headline marks each match with the bytes 0x01 (start) and 0x02 (stop) (db_courses.c asks
 * it to, after removing any of those bytes from the text); everything else is escaped here,
 * so a snippet is safe to insert as HTML and holds no markup but <mark>. Pure: no glib, no
 * database.
 */
#ifndef PROFAI_FRONTEND_SNIPPET_H
#define PROFAI_FRONTEND_SNIPPET_H

#include "strbuf.h"

#include <profai/compiler.h>
#include <stddef.h>

#define SNIPPET_MARK_START '\x01'
#define SNIPPET_MARK_STOP '\x02'

/* Append the HTML of a headline of len bytes to out: & < > " ' escaped, the marks made
 * <mark> / </mark> (always balanced, never nested), every run of white space made one space
 * (none at the start). 0, or -1 when out of memory (out failed). */
int snippet_html(const char *text, size_t len, strbuf_t *out) PROFAI_MUST_CHECK;

#endif
