/*
 * stopwords.h - stop words of English, French, German and Spanish, and a language guess.
 *
 * The lists are compact (function words, auxiliaries, pronouns, and a few words of document
 * boilerplate such as "example" or "chapter"), in lower case; look-ups take a lower-case word
 * (utf8_lower). A word can belong to several languages ("die", "son"), hence bit masks.
 */
#ifndef PROFAI_STOPWORDS_H
#define PROFAI_STOPWORDS_H

#include <stddef.h>

#define STOPWORDS_EN 1u
#define STOPWORDS_FR 2u
#define STOPWORDS_DE 4u
#define STOPWORDS_ES 8u
#define STOPWORDS_ALL 15u
#define STOPWORDS_LANGUAGES 4

typedef struct stopwords stopwords_t;

/* The four lists, NULL when out of memory. Caller owns it (stopwords_destroy). */
stopwords_t *stopwords_new(void);
void stopwords_destroy(stopwords_t **self_p);

/* The languages (mask of STOPWORDS_*) whose list holds the lower-case word w[0..len). */
unsigned stopwords_langs(const stopwords_t *self, const char *w, size_t len);

/* The ISO 639-1 code of one language bit ("en", "fr", "de", "es"), "und" for anything else. */
const char *stopwords_code(unsigned lang);

/* Bit of language index i (0 = en, 1 = fr, 2 = de, 3 = es). */
unsigned stopwords_bit(int i);

/* The language of a text from hits[i], the number of its words in language i's list, out of
 * `words` words: the language with most hits when they are at least 8% of the words and 1.5
 * times the runner-up; otherwise 0 (undetermined). */
unsigned stopwords_guess(const size_t hits[STOPWORDS_LANGUAGES], size_t words);

/* The stop-word mask to apply to a text in `lang`: its own list and English (technical terms
 * in English are common in other languages), or all four lists when lang is 0. */
unsigned stopwords_mask_for(unsigned lang);

#endif
