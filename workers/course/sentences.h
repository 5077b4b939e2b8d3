/*
 * sentences.h - words and sentences of a clean lesson text (textclean output).
 *
 * A word is a run of letters and digits, with '-', '.', '_' inside it allowed ("cell-based",
 * "glossary.collection", "2.3"); in scripts written without spaces (Chinese, Japanese) a
 * change of script (kanji, hiragana, katakana, Latin) also ends a word. A sentence ends at a
 * line break, or after '.', '!', '?' or '...' followed by a space and a character that is
 * not a lower-case letter, unless the word before the full stop is a known abbreviation or
 * an initial ("e.g.", "Dr.", "J."); after '。', '！' or '？' always.
 */
#ifndef PROFAI_SENTENCES_H
#define PROFAI_SENTENCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOKEN_LETTER 1u  /* has at least one letter */
#define TOKEN_UPPER 2u   /* starts with an upper-case letter */
#define TOKEN_INITIAL 4u /* first word of its sentence */
#define TOKEN_JOINED 8u  /* follows the previous word after exactly one space */
#define TOKEN_KANA 16u   /* hiragana only: grammatical particles, never a key term */
#define TOKEN_PROSE 32u  /* in a sentence that ends with a sentence mark (not a heading) */

/* 32-bit offsets: a text is at most 32 MiB (course_build.h), and a document has about one
 * token per 6 bytes, so 12 bytes a token instead of 24 are a tenth of a large course's memory,
 * all of it fresh pages the kernel must clear. */
typedef struct {
    uint32_t start; /* bytes of the word in the text */
    uint32_t end;
    unsigned flags;
} token_t;

typedef struct {
    size_t start; /* bytes of the sentence, without surrounding whitespace */
    size_t end;
    size_t first; /* its words: tokens[first .. first + count) */
    size_t count;
    bool terminated; /* ends with a sentence mark ('.', '!', '?', '...', '。') */
} sentence_t;

typedef struct {
    token_t *tokens;
    size_t ntokens;
    sentence_t *sentences;
    size_t nsentences;
} sentences_t;

/* Split text[0..len) (valid UTF-8) into words and sentences. On success the caller frees
 * *out with sentences_free. Returns -1 when out of memory. */
int sentences_split(const char *text, size_t len, sentences_t *out)
    __attribute__((warn_unused_result));
void sentences_free(sentences_t *s);

#endif
