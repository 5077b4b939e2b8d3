/*
 * quiz_equiv.h - whether a distractor says the same as the answer, by the document's own
 * evidence and without a dictionary (docs/course-generation.md, "Quiz" step 4): such a
 * distractor is "also correct" and is refused.
 *
 * Pure functions of their arguments; nothing is owned across calls.
 */
#ifndef PROFAI_COURSE_QUIZ_EQUIV_H
#define PROFAI_COURSE_QUIZ_EQUIV_H

#include "quiz.h"

#include <stdbool.h>
#include <stddef.h>

/* Are a and b the same term once case, hyphens, spaces, punctuation and a plural ending are
 * left out ("e-mail" and "Email", "cell membranes" and "cell membrane")? */
bool quiz_equiv_normal(const char *a, const char *b);

/* The length of the lower-case word w[0..n) without a plural ending ("es" after s, x, z, h;
 * else "s"): the one stemming of the quiz's checks. */
size_t quiz_equiv_stem_len(const char *w, size_t n);

/* Is short_form an abbreviation of long_form: 2 to 8 letters (or digits) that are the
 * initials of long_form's words (of 2 words or more; hyphens split words), with or without
 * its short words of one or two letters ("PDF" and "Portable Document Format", "DPI" and
 * "dots per inch")? Case is ignored. */
bool quiz_equiv_abbreviation(const char *short_form, const char *long_form);

/* Does the document (doc->lower) define one term as the other: "a (b)", "a, or b", "a (or
 * b)", "a, i.e. b", "a, i.e., b", "a, that is b", "a, also called b", "a, also known as b",
 * "a, aka b", "a stands for b", "a means b" (b may take the article "the", "a" or "an"), in
 * either order, each term as whole words? */
bool quiz_equiv_defined(const quiz_doc_t *doc, const char *a, const char *b);

/* Any of the three. */
bool quiz_equiv_terms(const quiz_doc_t *doc, const char *a, const char *b);

#endif
