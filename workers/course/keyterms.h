/*
 * keyterms.h - the words and short phrases that set one lesson apart from the rest of the
 * document (TF-IDF over the document's lessons). Method: docs/course-generation.md.
 *
 * Score of a gram g in lesson L: (1 + ln tf(g, L)) * idf(g) * (1 + 0.25 (words - 1)), with
 * idf = ln((1 + lessons) / (1 + df)) + 1. Candidates: no stop word, at least one letter, at
 * least 3 characters, no more than 3 words, found at least twice in the lesson (once in
 * lessons of fewer than 80 words). Picked greedily by score (ties: first occurrence), leaving
 * out a gram that overlaps one already picked (keyterms_overlap). A term is shown as the
 * lesson writes it inside a sentence, preferring running text to headings and lists.
 */
#ifndef PROFAI_KEYTERMS_H
#define PROFAI_KEYTERMS_H

#include "terms.h"

#include <stddef.h>

#define KEYTERMS_MAX 10

typedef struct {
    char *text; /* owned; as written in the lesson (a capital that only opens a sentence is
                   lowered: "Membranes are ..." -> "membranes") */
    long id;    /* gram id (lower case) */
    int words;
    double score;
} keyterm_t;

typedef struct {
    keyterm_t items[KEYTERMS_MAX];
    size_t count;
} keyterms_t;

/* The key terms of lesson `lesson` of t (terms_finish done); tally must hold that lesson's
 * counts (terms_tally). Returns -1 when out of memory; free *out with keyterms_free. */
int keyterms_pick(const terms_t *t, size_t lesson, const terms_tally_t *tally, keyterms_t *out)
    __attribute__((warn_unused_result));
void keyterms_free(keyterms_t *k);

/* Do two lower-case grams overlap for a reader: equal, one inside the other as whole words,
 * one the plural ("s", "es") of the other, or two words in common ("gnu general public" and
 * "general public license")? */
bool keyterms_overlap(const char *a, size_t alen, const char *b, size_t blen);

#endif
