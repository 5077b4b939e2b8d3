/*
 * page_meet.h - two readers of one page range meet where their work balances.
 *
 * A split document's readers (docs/worker.md, "Large documents") are given page ranges of
 * equal length, but pages differ in content, so one range costs more than another and the
 * merge waits for the slowest. Two readers that share a range share one 8-byte word (a memfd
 * the worker made, fd EXTRACT_MEET_FD): the next page the "up" reader may take and the next
 * page the "down" reader may take. Each takes its next page with one compare-and-swap; the up
 * reader reads from the range's first page upwards, the down reader from its last downwards,
 * and they stop where they meet. Each reads one contiguous run of pages (the up reader always
 * at least the first, the down reader at least the last), and together they read every page
 * of the range once, whichever runs faster.
 *
 * The word is written by both readers, so a reader trusts nothing in it: a page it takes must
 * be the one after (or before) its last, inside the range, else it stops; the merge then finds
 * a page missing and refuses the parts (docs/worker.md).
 *
 * Not thread-safe within one process (one reader per process); lock-free across processes.
 */
#ifndef PROFAI_PAGE_MEET_H
#define PROFAI_PAGE_MEET_H

#include "profai/compiler.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    volatile uint64_t *word;   /* shared: low 32 bits the up reader's next, high the down's */
    bool down;                 /* this reader reads downwards */
    int first, last;           /* the shared range */
    int read_first, read_last; /* the pages taken so far (read_first > read_last: none) */
} page_meet_t;

/* The word's value before either reader started, for range first..last (first < last): the
 * up reader owns `first`, the down reader `last`, the rest is free. */
uint64_t page_meet_initial(int first, int last);

/* The word two readers of first..last share, as the worker makes it: a memfd (close-on-exec)
 * of 8 bytes holding page_meet_initial(first, last), sealed against growing and shrinking.
 * The fd, or -1 (errno). */
int page_meet_create(int first, int last) PROFAI_MUST_CHECK;

/* Map the shared word of fd (a memfd of 8 bytes), for the reader going up or down over
 * first..last. The fd may be closed afterwards. 0 or -1 (errno). */
int page_meet_open(page_meet_t *m, int fd, bool down, int first, int last) PROFAI_MUST_CHECK;
/* The same over a word in this process's memory (tests). */
void page_meet_attach(page_meet_t *m, volatile uint64_t *word, bool down, int first, int last);

/* The next page this reader reads, 1-based, or 0 when it is done. */
int page_meet_next(page_meet_t *m);

/* How many pages of the range each reader has taken so far, from the word (what the worker
 * shows as progress). Clamped to the range. */
void page_meet_taken(uint64_t word, int first, int last, int *up, int *down);

#endif
