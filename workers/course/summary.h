/*
 * summary.h - an extractive summary of a lesson: 2 to 4 of its own sentences, chosen by
 * TF-IDF centrality. Method: docs/course-generation.md, "Summary".
 *
 * Every candidate sentence (6 to 50 words, a complete sentence that starts with a capital or
 * a digit and is not code) is a vector of its words' tf * idf (stop words left out); its
 * score is the cosine similarity with the lesson's own vector (the centroid). The best
 * sentences are taken in score order (ties: the earlier one), skipping one too similar
 * (cosine > 0.6) to a sentence already taken, and printed in their original order.
 */
#ifndef PROFAI_SUMMARY_H
#define PROFAI_SUMMARY_H

#include "terms.h"

#include <stdbool.h>
#include <stddef.h>

#define SUMMARY_MIN_SENTENCES 3 /* fewer sentences in the lesson: no summary ("") */
#define SUMMARY_MIN_WORDS 40    /* fewer words in the lesson: no summary */
#define SUMMARY_MAX_SENTENCES 4
#define SUMMARY_TOKEN_MAX                                                                          \
    40 /* characters; a longer run without a space is glued words                                  \
          (Chinese and Japanese characters aside) */

typedef struct {
    double *scores; /* owned; by sentence of the lesson: centrality, -1 when not a candidate */
    size_t count;
    char *text; /* owned; the summary, "" when the lesson has too little text */
} summary_t;

/* Summarise lesson `lesson` of t; tally holds that lesson's counts (terms_tally). Returns -1
 * when out of memory; free *out with summary_free. Deterministic. */
int summary_build(const terms_t *t, size_t lesson, const terms_tally_t *tally, summary_t *out)
    __attribute__((warn_unused_result));
void summary_free(summary_t *s);

/* Is sentence s of a text a complete sentence of min..max words that is not code: it ends
 * with a sentence mark, starts with a capital letter, a digit or a letter of a script
 * without case, holds at most 3 of the signs { } < > \ | = ; $ (and fewer than one in 40
 * bytes), no run of more than SUMMARY_TOKEN_MAX characters without a space (words glued
 * together by an extraction that lost its spaces), and at least 70% of its words have
 * letters? */
bool summary_sentence_ok(const char *text, const sentences_t *all, const sentence_t *s,
                         size_t min_words, size_t max_words);

/* Does lesson `lesson` of t have enough text for a summary and a quiz? */
bool summary_enough_text(const terms_t *t, size_t lesson);

#endif
