/*
 * test_page_meet.c - unit tests of workers/extract/page_meet.c (two readers of one page range
 * meet where their work balances) and of docmodel_lines_order (the down reader's lines put
 * back in page order): whatever the speeds of the two readers, each reads one contiguous run,
 * the up reader from the first page, the down reader to the last, and together every page once;
 * two real processes sharing a memfd do the same; a word the other reader spoiled stops a
 * reader instead of sending it outside its run.
 */
#define _GNU_SOURCE /* memfd_create */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "course/docmodel.h"
#include "extract/page_meet.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* Check that the runs of up and down cover first..last once, in order. */
static void
s_check_cover(const page_meet_t *up, const page_meet_t *down, int first, int last)
{
    assert_int_equal(up->read_first, first);
    assert_int_equal(down->read_last, last);
    assert_true(up->read_last >= up->read_first);
    assert_true(down->read_last >= down->read_first);
    assert_int_equal(up->read_last + 1, down->read_first);
}

/* Two readers in one process, the up reader taking `ratio` pages for each of the down
 * reader's (a faster up reader), or the other way round. */
static void
test_meet_covers_every_page_once(void **state)
{
    (void)state;
    static const struct {
        int first, last, up_steps, down_steps;
    } cases[] = {{1, 2372, 1, 1},    {1, 2372, 3, 1}, {1, 2372, 1, 5}, {1, 2, 1, 1},
                 {5, 6, 7, 1},       {10, 11, 1, 1},  {1, 3, 1, 1},    {1, 1000, 1000, 1},
                 {1, 1000, 1, 1000}, {201, 400, 2, 3}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int first = cases[c].first, last = cases[c].last;
        volatile uint64_t word = page_meet_initial(first, last);
        page_meet_t up, down;
        page_meet_attach(&up, &word, false, first, last);
        page_meet_attach(&down, &word, true, first, last);
        char *seen = calloc((size_t)last + 2, 1);
        int prev_up = first - 1, prev_down = last + 1;
        bool up_done = false, down_done = false;
        while (!up_done || !down_done) {
            for (int i = 0; i < cases[c].up_steps && !up_done; i++) {
                int p = page_meet_next(&up);
                if (p == 0) {
                    up_done = true;
                    break;
                }
                assert_int_equal(p, prev_up + 1); /* upwards, no gap */
                prev_up = p;
                assert_int_equal(seen[p]++, 0);
            }
            for (int i = 0; i < cases[c].down_steps && !down_done; i++) {
                int p = page_meet_next(&down);
                if (p == 0) {
                    down_done = true;
                    break;
                }
                assert_int_equal(p, prev_down - 1); /* downwards, no gap */
                prev_down = p;
                assert_int_equal(seen[p]++, 0);
            }
        }
        for (int p = first; p <= last; p++)
            assert_int_equal(seen[p], 1);
        s_check_cover(&up, &down, first, last);
        /* A faster reader took more. */
        if (last - first > 10 && cases[c].up_steps > cases[c].down_steps)
            assert_true(up.read_last - up.read_first > down.read_last - down.read_first);
        if (last - first > 10 && cases[c].up_steps < cases[c].down_steps)
            assert_true(up.read_last - up.read_first < down.read_last - down.read_first);
        int taken_up = 0, taken_down = 0;
        page_meet_taken(word, first, last, &taken_up, &taken_down);
        assert_int_equal(taken_up, up.read_last - up.read_first + 1);
        assert_int_equal(taken_down, down.read_last - down.read_first + 1);
        free(seen);
    }
}

/* Two processes, as the worker starts them: one memfd, both map it; the parent checks what
 * each child took (sent back through a pipe). */
static void
test_meet_across_processes(void **state)
{
    (void)state;
    const int first = 1, last = 20000;
    for (int round = 0; round < 5; round++) {
        int fd = page_meet_create(first, last); /* as the worker makes it */
        assert_true(fd >= 0);
        uint64_t grown = 0;
        assert_int_equal(pwrite(fd, &grown, sizeof grown, 8), -1); /* sealed: cannot grow */
        int pipes[2][2];
        pid_t pids[2];
        for (int k = 0; k < 2; k++) {
            assert_int_equal(pipe(pipes[k]), 0);
            pids[k] = fork();
            assert_true(pids[k] >= 0);
            if (pids[k] == 0) {
                page_meet_t m;
                if (page_meet_open(&m, fd, k == 1, first, last) != 0)
                    _exit(1);
                int prev = k == 1 ? last + 1 : first - 1, p;
                while ((p = page_meet_next(&m)) != 0) {
                    if (p != (k == 1 ? prev - 1 : prev + 1))
                        _exit(2);
                    prev = p;
                    if (k == 0 && round % 2 == 0)
                        for (volatile int spin = 0; spin < 200; spin++) {
                        }
                }
                int range[2] = {m.read_first, m.read_last};
                _exit(write(pipes[k][1], range, sizeof range) == sizeof range ? 0 : 3);
            }
            close(pipes[k][1]);
        }
        int ranges[2][2];
        for (int k = 0; k < 2; k++) {
            int status = 0;
            assert_int_equal(waitpid(pids[k], &status, 0), pids[k]);
            assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
            assert_int_equal(read(pipes[k][0], ranges[k], sizeof ranges[k]),
                             (ssize_t)sizeof ranges[k]);
            close(pipes[k][0]);
        }
        assert_int_equal(ranges[0][0], first);
        assert_int_equal(ranges[1][1], last);
        assert_int_equal(ranges[0][1] + 1, ranges[1][0]);
        close(fd);
    }
}

/* A word that is not what this reader left (the other reader wrote nonsense): it stops. */
static void
test_meet_spoiled_word_stops(void **state)
{
    (void)state;
    volatile uint64_t word = page_meet_initial(1, 100);
    page_meet_t up, down;
    page_meet_attach(&up, &word, false, 1, 100);
    page_meet_attach(&down, &word, true, 1, 100);
    assert_int_equal(page_meet_next(&up), 1);
    assert_int_equal(page_meet_next(&up), 2);
    word = (uint64_t)50 | (uint64_t)60 << 32; /* skips pages 3-49 */
    assert_int_equal(page_meet_next(&up), 0);
    assert_int_equal(up.read_last, 2);
    assert_int_equal(page_meet_next(&down), 100);
    word = (uint64_t)2 | (uint64_t)500 << 32; /* past the range */
    assert_int_equal(page_meet_next(&down), 0);
    assert_int_equal(down.read_first, 100);
    /* Too small a range or no word: nothing to share. */
    page_meet_t none = {0};
    assert_int_equal(page_meet_next(&none), 0);
    assert_int_equal(page_meet_open(&none, -1, false, 3, 3), -1);
}

/* Lines added page by page from the last page down come out in page order, each page's
 * lines in their order. */
static void
test_lines_order(void **state)
{
    (void)state;
    docmodel_t dm;
    assert_int_equal(docmodel_init(&dm, 5), 0);
    static const char *texts[] = {"", "a\nb\nc", "", "d\ne", "f"};
    for (int page = 5; page >= 1; page--) {
        const char *copy =
            docmodel_page_set(&dm, page, texts[page - 1], strlen(texts[page - 1]), 800.0f);
        assert_non_null(copy);
        for (size_t at = 0; copy[at] != '\0'; at += copy[at + 1] != '\0' ? 2 : 1) {
            text_line_t line = {.page = page, .text = copy + at, .len = 1};
            assert_int_equal(docmodel_line_add(&dm, &line), 0);
        }
    }
    assert_int_equal(dm.lines[0].page, 5);
    assert_int_equal(docmodel_lines_order(&dm), 0);
    static const char order[] = "abcdef";
    static const int pages[] = {2, 2, 2, 4, 4, 5};
    assert_int_equal(dm.nlines, 6);
    for (size_t i = 0; i < dm.nlines; i++) {
        assert_int_equal(dm.lines[i].text[0], order[i]);
        assert_int_equal(dm.lines[i].page, pages[i]);
    }
    docmodel_free(&dm);
    docmodel_t empty;
    assert_int_equal(docmodel_init(&empty, 1), 0);
    assert_int_equal(docmodel_lines_order(&empty), 0);
    docmodel_free(&empty);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meet_covers_every_page_once),
        cmocka_unit_test(test_meet_across_processes),
        cmocka_unit_test(test_meet_spoiled_word_stops),
        cmocka_unit_test(test_lines_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
