/*
 * test_docmodel_wire.c - unit tests of workers/course/docmodel_wire: the parts of a split
 * document's model, encoded by the readers of its page ranges and merged back by the process
 * that builds the course (docs/worker.md, "Large documents: split across processes").
 *
 * The merged model must be the model one reader builds (same course, to the byte), and bytes
 * that are not such parts (cut short, out of order, lying about sizes) must be refused without
 * a crash: a reader that parsed a hostile PDF may write anything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "course/course_build.h"
#include "course/docmodel.h"
#include "course/docmodel_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGES 5

/* A model of PAGES pages as the PDF reader builds it: texts, heights, lines with their
 * typography, an outline whose entries point into several pages, and metadata. */
static void
s_model(docmodel_t *dm)
{
    assert_int_equal(docmodel_init(dm, PAGES), 0);
    for (int p = 1; p <= PAGES; p++) {
        char text[512];
        int n = snprintf(text, sizeof text,
                         "Chapter %d\nThe cell turns sugar into energy on page %d.\n"
                         "Mitochondria hold the enzymes of respiration.\n%d",
                         (p + 1) / 2, p, p);
        const char *copy = docmodel_page_set(dm, p, text, (size_t)n, 842.0f - (float)p);
        assert_non_null(copy);
        const char *at = copy;
        float y = 60;
        for (int k = 0; *at != '\0'; k++) {
            const char *eol = strchr(at, '\n');
            size_t len = eol ? (size_t)(eol - at) : strlen(at);
            text_line_t line = {.text = at, .len = len, .page = p, .size = k == 0 ? 18.5f : 11};
            line.bold = k == 0;
            line.mono = k == 3;
            line.x0 = 56, line.y0 = y, line.x1 = 540, line.y1 = y + 12;
            y += 14;
            assert_int_equal(docmodel_line_add(dm, &line), 0);
            at = eol ? eol + 1 : at + len;
        }
    }
    assert_int_equal(docmodel_entry_add(dm, 1, "Chapter 1", 1, 60), 0);
    assert_int_equal(docmodel_entry_add(dm, 2, "  Section 1.1 ", 2, -1), 0);
    assert_int_equal(docmodel_entry_add(dm, 1, "Chapter 2", 3, 60), 0);
    assert_int_equal(docmodel_entry_add(dm, 1, NULL, 0, -1), 0);
    assert_int_equal(docmodel_entry_add(dm, 1, "Past the end", 99, 10), 0);
    assert_int_equal(docmodel_meta_set(dm, "Cells", NULL), 0);
}

/* The parts of dm for the given ranges, concatenated. */
static uint8_t *
s_parts(const docmodel_t *dm, const int (*ranges)[2], int count, size_t *len)
{
    uint8_t *all = NULL;
    *len = 0;
    for (int i = 0; i < count; i++) {
        uint8_t *part = NULL;
        size_t n = 0;
        assert_int_equal(docmodel_wire_encode(dm, ranges[i][0], ranges[i][1], i == 0, &part, &n),
                         0);
        all = realloc(all, *len + n);
        assert_non_null(all);
        memcpy(all + *len, part, n);
        *len += n;
        free(part);
    }
    return all;
}

static void
s_assert_same_model(const docmodel_t *a, const docmodel_t *b)
{
    assert_int_equal(a->pages, b->pages);
    for (int i = 0; i < a->pages; i++) {
        assert_string_equal(a->texts[i], b->texts[i]);
        assert_true(a->heights[i] == b->heights[i]);
    }
    assert_int_equal(a->nlines, b->nlines);
    for (size_t i = 0; i < a->nlines; i++) {
        const text_line_t *x = &a->lines[i], *y = &b->lines[i];
        assert_int_equal(x->page, y->page);
        assert_int_equal(x->len, y->len);
        assert_int_equal(x->text - a->texts[x->page - 1], y->text - b->texts[y->page - 1]);
        assert_true(x->size == y->size && x->x0 == y->x0 && x->y0 == y->y0 && x->x1 == y->x1 &&
                    x->y1 == y->y1);
        assert_int_equal(x->bold, y->bold);
        assert_int_equal(x->mono, y->mono);
    }
    assert_int_equal(a->nentries, b->nentries);
    for (size_t i = 0; i < a->nentries; i++) {
        assert_int_equal(a->entries[i].level, b->entries[i].level);
        assert_int_equal(a->entries[i].page, b->entries[i].page);
        assert_true(a->entries[i].top == b->entries[i].top);
        if (a->entries[i].title == NULL)
            assert_null(b->entries[i].title);
        else
            assert_string_equal(a->entries[i].title, b->entries[i].title);
    }
    assert_string_equal(a->title, b->title);
    assert_null(b->author);
}

static char *
s_course(docmodel_t *dm, size_t *len)
{
    course_source_t source = {"Biology", "cells.pdf", NULL, {3, 60}};
    char *json = NULL;
    course_error_t err;
    assert_int_equal(course_build(dm, &source, 1 << 20, &json, len, &err), 0);
    return json;
}

/* Split at every possible place, in 1, 2 and 3 parts: the merged model is the model, and its
 * course is the course, to the byte. */
static void
test_parts_merge_into_the_same_model_and_course(void **state)
{
    (void)state;
    docmodel_t whole;
    s_model(&whole);
    size_t want_len;
    docmodel_t copy;
    s_model(&copy);
    char *want = s_course(&copy, &want_len);
    docmodel_free(&copy);
    const int splits[][3][2] = {
        {{1, PAGES}},     {{1, 1}, {2, PAGES}},         {{1, 2}, {3, PAGES}},
        {{1, 4}, {5, 5}}, {{1, 1}, {2, 3}, {4, PAGES}}, {{1, 2}, {3, 3}, {4, PAGES}}};
    const int counts[] = {1, 2, 2, 2, 3, 3};
    for (size_t s = 0; s < sizeof counts / sizeof counts[0]; s++) {
        size_t len;
        uint8_t *bytes = s_parts(&whole, splits[s], counts[s], &len);
        docmodel_t merged;
        char why[200];
        assert_int_equal(docmodel_wire_decode(bytes, len, &merged, why, sizeof why), 0);
        s_assert_same_model(&whole, &merged);
        assert_int_equal(course_check_text(&merged, 1 << 20, &(course_error_t){0}), 0);
        size_t got_len;
        char *got = s_course(&merged, &got_len);
        assert_int_equal(got_len, want_len);
        assert_memory_equal(got, want, want_len);
        free(got);
        docmodel_free(&merged);
        free(bytes);
    }
    free(want);
    docmodel_free(&whole);
}

/* Parts that do not cover the pages once and in order are refused, with a reason. */
static void
test_parts_out_of_order_or_with_gaps_are_refused(void **state)
{
    (void)state;
    docmodel_t dm;
    s_model(&dm);
    const int bad[][3][2] = {{{2, PAGES}},                  /* page 1 missing */
                             {{1, 2}},                      /* pages 3-5 missing */
                             {{1, 2}, {4, PAGES}},          /* a gap */
                             {{1, 3}, {3, PAGES}},          /* an overlap */
                             {{1, 2}, {3, 3}, {3, PAGES}}}; /* a part twice */
    const int counts[] = {1, 1, 2, 2, 3};
    for (size_t s = 0; s < sizeof counts / sizeof counts[0]; s++) {
        size_t len;
        uint8_t *bytes = s_parts(&dm, bad[s], counts[s], &len);
        docmodel_t merged;
        char why[200] = "";
        assert_int_equal(docmodel_wire_decode(bytes, len, &merged, why, sizeof why), -1);
        assert_true(why[0] != '\0');
        assert_int_equal(merged.pages, 0);
        free(bytes);
    }
    /* The outline on the second part instead of the first. */
    uint8_t *a = NULL, *b = NULL;
    size_t alen, blen;
    assert_int_equal(docmodel_wire_encode(&dm, 1, 2, false, &a, &alen), 0);
    assert_int_equal(docmodel_wire_encode(&dm, 3, PAGES, true, &b, &blen), 0);
    uint8_t *ab = malloc(alen + blen);
    memcpy(ab, a, alen);
    memcpy(ab + alen, b, blen);
    docmodel_t merged;
    char why[200];
    assert_int_equal(docmodel_wire_decode(ab, alen + blen, &merged, why, sizeof why), -1);
    /* No bytes at all, or a range past the model. */
    assert_int_equal(docmodel_wire_decode(ab, 0, &merged, why, sizeof why), -1);
    uint8_t *none = NULL;
    size_t nlen;
    assert_int_equal(docmodel_wire_encode(&dm, 2, PAGES + 1, false, &none, &nlen), -1);
    assert_int_equal(docmodel_wire_encode(&dm, 0, 1, false, &none, &nlen), -1);
    free(a);
    free(b);
    free(ab);
    docmodel_free(&dm);
}

/* Every prefix of valid parts, and every single-byte change of them, is refused or decoded
 * into a model whose lines lie inside their pages' texts: never a crash or an overread (the
 * ASan build of make check-asan runs this too). */
static void
test_cut_and_corrupted_parts_never_crash(void **state)
{
    (void)state;
    docmodel_t dm;
    s_model(&dm);
    const int ranges[2][2] = {{1, 2}, {3, PAGES}};
    size_t len;
    uint8_t *bytes = s_parts(&dm, ranges, 2, &len);
    char why[200];
    for (size_t cut = 0; cut < len; cut++) {
        docmodel_t merged;
        assert_int_equal(docmodel_wire_decode(bytes, cut, &merged, why, sizeof why), -1);
    }
    uint8_t *changed = malloc(len);
    for (size_t i = 0; i < len; i++) {
        for (int v = 0; v < 3; v++) {
            memcpy(changed, bytes, len);
            changed[i] = v == 0 ? 0xff : v == 1 ? 0x00 : (uint8_t)(bytes[i] + 1);
            docmodel_t merged;
            int rc = docmodel_wire_decode(changed, len, &merged, why, sizeof why);
            assert_true(rc == 0 || rc == -1);
            if (rc != 0)
                continue;
            for (size_t k = 0; k < merged.nlines; k++) {
                const text_line_t *l = &merged.lines[k];
                const char *text = merged.texts[l->page - 1];
                assert_true(l->text >= text && l->text + l->len <= text + strlen(text));
            }
            docmodel_free(&merged);
        }
    }
    free(changed);
    /* A header that claims 2^31 pages in a few bytes is refused before any allocation. */
    uint8_t huge[24] = "PDM1";
    uint32_t fields[5] = {0x7fffffffu, 1, 1, 1, 0};
    memcpy(huge + 4, fields, sizeof huge - 4);
    docmodel_t merged;
    assert_int_equal(docmodel_wire_decode(huge, sizeof huge, &merged, why, sizeof why), -1);
    free(bytes);
    docmodel_free(&dm);
}

/* The merge refuses what the reader refuses while it reads: no text, too much text. */
static void
test_merged_text_is_checked_like_the_readers(void **state)
{
    (void)state;
    docmodel_t dm;
    assert_int_equal(docmodel_init(&dm, 2), 0);
    assert_non_null(docmodel_page_set(&dm, 1, " \n ", 3, 100));
    assert_non_null(docmodel_page_set(&dm, 2, "", 0, 100));
    course_error_t err;
    assert_int_equal(course_check_text(&dm, 1 << 20, &err), -1);
    assert_int_equal(err.code, PROFAI_ERR_NO_TEXT);
    assert_non_null(docmodel_page_set(&dm, 2, "Some words", 10, 100));
    assert_int_equal(course_check_text(&dm, 1 << 20, &err), 0);
    assert_int_equal(course_check_text(&dm, 8, &err), -1);
    assert_int_equal(err.code, PROFAI_ERR_TOO_LARGE);
    docmodel_free(&dm);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts_merge_into_the_same_model_and_course),
        cmocka_unit_test(test_parts_out_of_order_or_with_gaps_are_refused),
        cmocka_unit_test(test_cut_and_corrupted_parts_never_crash),
        cmocka_unit_test(test_merged_text_is_checked_like_the_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
