/*
 * heap_pages.c - see heap_pages.h.
 */
#include "heap_pages.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE ((uintptr_t)2 << 20) /* x86-64 and arm64 with 4 KiB pages */
#define MMAP_THRESHOLD_MAX (32u << 20) /* glibc's upper bound for M_MMAP_THRESHOLD */

void
heap_pages_reserve(size_t bytes)
{
    /* Freed memory stays in the heap (one extension, one madvise); requests below 32 MiB
     * come from the heap instead of mmap (whose fresh pages are faulted 4 KiB at a time). */
    if (mallopt(M_TRIM_THRESHOLD, (int)(bytes < INT32_MAX ? bytes : INT32_MAX)) != 1 ||
        mallopt(M_MMAP_THRESHOLD, (int)MMAP_THRESHOLD_MAX) != 1)
        return;
    /* One extension of the heap by `bytes` (M_TOP_PAD is what sysmalloc adds to a request). */
    void *start = sbrk(0);
    if (start == (void *)-1 ||
        mallopt(M_TOP_PAD, (int)(bytes < INT32_MAX ? bytes : INT32_MAX)) != 1)
        return;
    void *volatile probe = malloc(HUGE_PAGE); /* volatile: the pair is not optimised away */
    free(probe);
    mallopt(M_TOP_PAD, 128 * 1024); /* glibc's default again, for later extensions */
    void *end = sbrk(0);
    if (end == (void *)-1 || end <= start)
        return; /* the heap could not grow (RLIMIT_AS): malloc used mmap instead */
    uintptr_t from = ((uintptr_t)start + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    uintptr_t to = (uintptr_t)end & ~(HUGE_PAGE - 1);
    if (to > from)
        (void)madvise((void *)from, to - from, MADV_HUGEPAGE);
}
