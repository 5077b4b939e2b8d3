/*
 * glue.h - words run together by an extraction that lost the spaces between them, and what a
 * lesson made of such text is summarised by instead of its sentences (docs/course-generation.md,
 * "Summary").
 *
 * Without a dictionary, two signs tell glued words (docbook-xsl's reference manual sets the
 * glyphs of neighbouring words edge to edge, so neither poppler nor the glyph positions see a
 * gap): a run of more than GLUE_RUN_MAX characters without a space, and a change from lower to
 * upper case inside a long word, after 3 lower-case letters and before a Capitalised word
 * ("upperalphaUppercase", "arabicArabic"), which identifiers in CamelCase of up to
 * GLUE_WORD_MIN - 1 letters ("JavaScript", "PostgreSQL") are not taken for. Chinese and Japanese
 * are written without spaces: their characters never count.
 *
 * Pure functions; glue_outline's result is owned by the caller.
 */
#ifndef PROFAI_COURSE_GLUE_H
#define PROFAI_COURSE_GLUE_H

#include "keyterms.h"

#include <stdbool.h>
#include <stddef.h>

#define GLUE_RUN_MAX 40  /* characters without a space: glued words (SUMMARY_TOKEN_MAX) */
#define GLUE_WORD_MIN 12 /* letters of a word in which a change of case is a glued boundary */
#define GLUE_HEADINGS_MAX 3
#define GLUE_TERMS_MAX 6

/* Does text[0..len) hold a run of more than GLUE_RUN_MAX characters without a space? The
 * sure sign: such a sentence is no summary or quiz sentence. */
bool glue_long_run(const char *text, size_t len);

/* How many runs of more than GLUE_RUN_MAX characters without a space text[0..len) holds that
 * are made of letters, digits and the punctuation of words (. , - _ ' ’ ( )) only: glued
 * prose, where code ("\\newcommand{\\x}[2]{%") and addresses ("https://...") are not. */
size_t glue_word_runs(const char *text, size_t len);

/* Does text[0..len) hold glued words by either sign above? The change of case also marks some
 * long CamelCase identifiers ("NetworkManager"), so it only keeps words out of glue_outline. */
bool glue_found(const char *text, size_t len);

/* The summary of a lesson whose sentences are glued (no summary of sentences, and two
 * glue_word_runs or more): up to GLUE_HEADINGS_MAX of its heading
 * lines (a paragraph of one line of 2 to 80 bytes and at most 12 words, starting with a
 * capital or a digit, not ending with . , ; or :, without glued words), joined by "; ", then
 * " — " and up to GLUE_TERMS_MAX of its key terms without glued words, joined by ", ", and a
 * full stop: "Appendix labels; Chapter labels — numbering format, appendix titles.". "" when
 * it has neither. NULL when out of memory. */
char *glue_outline(const char *text, size_t len, const keyterms_t *terms);

#endif
