/*
 * text_index.h - find byte strings in one large text without scanning all of it.
 *
 * The quiz asks, for every candidate distractor of every question, whether the whole document
 * holds some phrase (quiz.c, quiz_equiv.c): with memmem that is a scan of the document per
 * question, so whole courses grew with the square of their length. This index lists, for each
 * hash of the 4 bytes at a position, every position in ascending order; a search walks the
 * list of the needle's rarest 4 bytes and compares in place. The answers are exactly memmem's,
 * in the same order: every occurrence, overlapping ones included, from the first to the last.
 *
 * The index borrows the text (it must outlive the index) and owns its tables. It lists every
 * other position only (half the memory); a needle of 5 bytes or more holds a listed position
 * wherever it starts, so a search walks two lists, one per parity of the start, and merges
 * them. Needles shorter than 5 bytes, and searches without an index (NULL), fall back to
 * memmem in order. Texts
 * shorter than TEXT_INDEX_MIN get no index: a few scans of them cost less than building one.
 */
#ifndef PROFAI_TEXT_INDEX_H
#define PROFAI_TEXT_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TEXT_INDEX_MIN 65536 /* bytes */

typedef struct text_index text_index_t;

/* An index of text[0..len) (borrowed), or NULL when out of memory, or the text is shorter than
 * TEXT_INDEX_MIN or larger than the index can address (callers then search without it). Caller owns
 * it (text_index_free). */
text_index_t *text_index_new(const char *text, size_t len);
void text_index_free(text_index_t *self);

/* One bucket walked by an indexed search: the matches that start at one residue modulo the
 * index's stride. */
typedef struct {
    const uint32_t *at, *end; /* the bucket's positions not yet looked at */
    size_t offset;            /* of the needle's bytes that bucket lists */
    size_t start;             /* a match found and not yet returned; SIZE_MAX: none */
} text_walk_t;

/* One search: the occurrences of needle[0..n) in the indexed text (or, without an index, in
 * hay[0..len) by memmem). Plain data, no cleanup. */
typedef struct {
    const char *hay;
    size_t len;
    const char *needle;
    size_t n;
    text_walk_t walks[2]; /* indexed search: one per residue of the stride */
    size_t next;          /* memmem search: where to look next */
    bool indexed;
} text_search_t;

/* Start a search of needle[0..n) in hay[0..len), through index when it is not NULL (it must
 * then index hay[0..len)). Both strings are borrowed for the search's life. */
void text_search_init(text_search_t *s, const text_index_t *index, const char *hay, size_t len,
                      const char *needle, size_t n);
/* The next occurrence (a pointer into hay), NULL when there is none left; in ascending order
 * either way. An empty needle has none. */
const char *text_search_next(text_search_t *s);
/* Does hay hold needle (through index when not NULL)? */
bool text_index_contains(const text_index_t *index, const char *hay, size_t len, const char *needle,
                         size_t n);

#endif
