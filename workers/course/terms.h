/*
 * terms.h - the words and short phrases of a document's lessons, with their document
 * frequencies: the statistics that key terms, summaries and quizzes share.
 *
 * A "gram" is a lower-case word ("membrane") or a phrase of two or three words that follow
 * each other with a single space inside one sentence and contain no stop word ("cell
 * membrane"). Every lesson is added once (terms_add_lesson), the language is guessed from
 * all of them, then terms_finish builds the phrases and counts in how many lessons each gram
 * occurs. Plain data: the other modules read the arrays directly.
 */
#ifndef PROFAI_TERMS_H
#define PROFAI_TERMS_H

#include "sentences.h"
#include "stopwords.h"
#include "strmap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TERMS_MAX_WORDS 3  /* longest phrase */
#define TERMS_MIN_CHARS 3  /* shortest key term, in characters (2 in Chinese and Japanese) */
#define TERMS_MAX_CHARS 40 /* longest word that can be a key term */

/* 32-bit fields (a lesson has fewer than 2^31 tokens and grams, its text being at most
 * 32 MiB): 12 bytes an occurrence, fresh memory the kernel clears, instead of 24. */
typedef struct {
    int32_t id;     /* gram id */
    uint32_t token; /* index of its first word in the lesson's tokens */
    int words;      /* 1..TERMS_MAX_WORDS */
} gram_at_t;

typedef struct {
    const char *text; /* borrowed, valid while the terms_t lives */
    size_t len;
    const sentences_t *sentences; /* borrowed */
    long *word_ids;               /* owned; gram id of each token (its lower-case form) */
    gram_at_t *grams;             /* owned; key-term candidates in text order (terms_finish) */
    size_t ngrams;
} terms_lesson_t;

typedef struct {
    const stopwords_t *stopwords; /* borrowed */
    strmap_t *grams;              /* owned */
    unsigned char *langs;         /* by gram id: stop-word languages of a single word */
    unsigned char *words;         /* by gram id: words in the gram */
    bool *candidate;              /* by gram id: may be a key term (single words: see .c) */
    int *df;                      /* by gram id: lessons that contain it */
    long *last;                   /* by gram id: scratch */
    size_t cap;                   /* of the arrays by gram id */
    terms_lesson_t *lessons;      /* owned */
    size_t nlessons;
    size_t lessons_cap;
    unsigned stop_mask;               /* STOPWORDS_* lists in force (terms_finish) */
    size_t hits[STOPWORDS_LANGUAGES]; /* words found in each stop-word list */
    size_t counted;                   /* words looked at for the language guess */
    size_t letters;                   /* letters seen, and those of Chinese or Japanese */
    size_t cjk;
} terms_t;

/* Start with the stop-word lists `stopwords` (borrowed). Returns -1 when out of memory. */
int terms_init(terms_t *t, const stopwords_t *stopwords) __attribute__((warn_unused_result));
void terms_free(terms_t *t);

/* Add the next lesson: its clean text (borrowed) and its words and sentences (borrowed). */
int terms_add_lesson(terms_t *t, const char *text, size_t len, const sentences_t *s)
    __attribute__((warn_unused_result));

/* The language of the lessons added so far: one STOPWORDS_* bit, or 0 when undetermined
 * (too few stop words, or mostly Chinese/Japanese text). */
unsigned terms_language(const terms_t *t);

/* Apply the stop-word lists of stop_mask, build the phrases and the document frequencies. */
int terms_finish(terms_t *t, unsigned stop_mask) __attribute__((warn_unused_result));

/* A single word in one of the stop-word lists in force. */
bool terms_is_stop(const terms_t *t, long id);

/* Inverse document frequency of a gram: ln((1 + lessons) / (1 + df)) + 1. */
double terms_idf(const terms_t *t, long id);

/* How often each gram occurs in one lesson; reused from lesson to lesson. */
typedef struct {
    int *count;                /* by gram id */
    size_t *first;             /* by gram id: index in the lesson's grams of its first occurrence */
    size_t *shown;             /* ... of the occurrence to show: inside running text if any */
    unsigned char *shown_rank; /* by gram id: 0 in running text, 1 not first of a sentence,
                                  2 otherwise */
    long *touched;             /* ids with count > 0 */
    size_t ntouched;
    size_t cap; /* of the arrays by gram id */
    size_t touched_cap;
    long lesson; /* the lesson counted, -1 for none */
} terms_tally_t;

void terms_tally_init(terms_tally_t *tally);
void terms_tally_free(terms_tally_t *tally);
/* Count the grams of lesson `lesson` (terms_finish done) into tally. */
int terms_tally(const terms_t *t, size_t lesson, terms_tally_t *tally)
    __attribute__((warn_unused_result));

/* The lower-case text of a gram (borrowed, valid while t lives and no gram is added). */
const char *terms_text(const terms_t *t, long id, size_t *len);

#endif
