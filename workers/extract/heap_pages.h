/*
 * heap_pages.h - back the extractor's heap with transparent huge pages.
 *
 * A parse touches tens of megabytes of fresh heap (poppler's objects, the document model, the
 * course's text indexes). On 4 KiB pages every first touch is a page fault, and on a virtual
 * machine a fault costs several microseconds: 17 % of the CPU time of a split document's
 * merge went to faults (docs/performance.md, "PDF processing: huge pages for the
 * extractor's heap ..."). This is what glibc's glibc.malloc.hugetlb=1 tunable does, done
 * from inside the process so that the extractor needs nothing from its environment (the
 * worker gives it none).
 *
 * Owns nothing. Call once, early, in a single-threaded process, before the heap is large.
 */
#ifndef PROFAI_HEAP_PAGES_H
#define PROFAI_HEAP_PAGES_H

#include <stddef.h>

/* Grow the heap to at least `bytes` more than it holds now, keep malloc from giving that back
 * (no trimming) and from serving requests below 32 MiB with mmap, and ask the kernel for huge
 * pages on it (madvise MADV_HUGEPAGE; the kernel's "madvise" mode honours it). Memory is
 * only committed when touched: a small parse still touches little. Best effort: on any
 * failure the heap simply stays on normal pages. */
void heap_pages_reserve(size_t bytes);

#endif
