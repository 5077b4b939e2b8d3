/* page_meet.c - see page_meet.h. */
#define _GNU_SOURCE /* memfd_create */
#include "page_meet.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define LO(w) ((uint32_t)(w))
#define HI(w) ((uint32_t)((w) >> 32))
#define WORD(lo, hi) ((uint64_t)(uint32_t)(lo) | (uint64_t)(uint32_t)(hi) << 32)

uint64_t
page_meet_initial(int first, int last)
{
    return WORD(first + 1, last - 1);
}

int
page_meet_create(int first, int last)
{
    uint64_t word = page_meet_initial(first, last);
    int fd = memfd_create("profai-meet", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    if (pwrite(fd, &word, sizeof word, 0) != (ssize_t)sizeof word ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        int why = errno;
        close(fd);
        errno = why;
        return -1;
    }
    return fd;
}

void
page_meet_attach(page_meet_t *m, volatile uint64_t *word, bool down, int first, int last)
{
    *m = (page_meet_t){.word = word, .down = down, .first = first, .last = last};
    m->read_first = down ? last + 1 : first;
    m->read_last = m->read_first - 1;
}

int
page_meet_open(page_meet_t *m, int fd, bool down, int first, int last)
{
    struct stat st;
    if (first < 1 || last <= first || fstat(fd, &st) != 0) {
        errno = errno ? errno : EINVAL;
        return -1;
    }
    if (st.st_size != (off_t)sizeof(uint64_t)) {
        errno = EINVAL;
        return -1;
    }
    void *p = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return -1;
    page_meet_attach(m, p, down, first, last);
    return 0;
}

int
page_meet_next(page_meet_t *m)
{
    if (m->word == NULL)
        return 0;
    /* The page it owns comes first, without looking at the word. */
    if (m->read_first > m->read_last) {
        m->read_first = m->read_last = m->down ? m->last : m->first;
        return m->read_first;
    }
    uint64_t w = __atomic_load_n(m->word, __ATOMIC_ACQUIRE);
    for (;;) {
        uint32_t lo = LO(w), hi = HI(w);
        if (lo > hi)
            return 0; /* met */
        uint32_t want = m->down ? (uint32_t)m->read_first - 1 : (uint32_t)m->read_last + 1;
        uint32_t mine = m->down ? hi : lo;
        /* Anything but the page next to ours, inside the range, is a word we cannot trust. */
        if (mine != want || lo <= (uint32_t)m->first || hi >= (uint32_t)m->last)
            return 0;
        uint64_t next = m->down ? WORD(lo, hi - 1) : WORD(lo + 1, hi);
        if (__atomic_compare_exchange_n(m->word, &w, next, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            if (m->down)
                m->read_first = (int)mine;
            else
                m->read_last = (int)mine;
            return (int)mine;
        }
    }
}

void
page_meet_taken(uint64_t word, int first, int last, int *up, int *down)
{
    long long n = (long long)last - first + 1;
    long long u = (long long)LO(word) - first;
    long long d = (long long)last - HI(word);
    *up = (int)(u < 0 ? 0 : u > n ? n : u);
    *down = (int)(d < 0 ? 0 : d > n - *up ? n - *up : d);
}
