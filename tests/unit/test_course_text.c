/*
 * test_course_text.c - unit tests of the pure-C text modules of course generation
 * (common/utf8, workers/course/textclean, headings, sentences, stopwords, keyterms, summary,
 * quiz, course_text; docs/course-generation.md).
 *
 * Lines are built by hand the way workers/extract/pdf_reader.c builds them from poppler:
 * text, page, font size, weight and box. Lesson texts are literals.
 *
 * Why one file of over 1,000 lines: the nine modules are one pipeline (clean text, find
 * headings, split sentences, weigh terms, summarise, ask), and most tests feed one module's
 * output to the next with the same hand-made lines and lessons; planning has its own file
 * (test_plan.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "course/course_text.h"
#include "course/headings.h"
#include "course/quiz.h"
#include "course/sentences.h"
#include "course/stopwords.h"
#include "course/strmap.h"
#include "course/textclean.h"
#include "strbuf.h"
#include "utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ================================================================ helpers */

#define PAGE_H 842.0f
#define LEFT 56.0f
#define RIGHT 540.0f

/* A line of `size` points at height y; full lines reach the right margin. */
static text_line_t
s_line(int page, const char *text, float size, bool bold, float y, bool full)
{
    text_line_t l = {.text = text, .len = strlen(text), .page = page, .size = size, .bold = bold};
    l.x0 = LEFT;
    l.y0 = y;
    l.x1 = full ? RIGHT : LEFT + 5.0f * (float)strlen(text);
    if (l.x1 > RIGHT)
        l.x1 = RIGHT;
    l.y1 = y + size;
    return l;
}

typedef struct {
    text_line_t lines[4096];
    size_t count;
    char texts[4096][96];
    float heights[256];
    int pages;
} doc_t;

static doc_t *
s_doc_new(void)
{
    doc_t *d = calloc(1, sizeof *d);
    assert_non_null(d);
    for (int i = 0; i < 256; i++)
        d->heights[i] = PAGE_H;
    return d;
}

/* Add a line whose text is formatted (kept in the doc). */
static text_line_t *
s_add(doc_t *d, int page, float size, bool bold, float y, bool full, const char *fmt, ...)
{
    assert_true(d->count < 4096);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->texts[d->count], sizeof d->texts[0], fmt, ap);
    va_end(ap);
    d->lines[d->count] = s_line(page, d->texts[d->count], size, bold, y, full);
    if (page > d->pages)
        d->pages = page;
    return &d->lines[d->count++];
}

/* Body text of one page: `n` full lines from y, the last one a short sentence end. */
static float
s_add_body(doc_t *d, int page, float y, int n, int seed)
{
    static const char *const words[] = {"water",    "moves",  "through", "tissues", "while",
                                        "sunlight", "drives", "growth",  "in",      "green",
                                        "plants",   "and",    "cells",   "divide",  "slowly"};
    for (int i = 0; i < n; i++) {
        int a = (seed * 7 + i * 3) % 15, b = (seed * 5 + i * 11) % 15, c = (seed + i * 13) % 15;
        bool last = i == n - 1;
        s_add(d, page, 10, false, y, !last, "%s %s %s the %s %s %s%s", words[a], words[b], words[c],
              words[(a + 1) % 15], words[(b + 2) % 15], words[(c + 4) % 15], last ? "." : "");
        y += 12;
    }
    return y;
}

static char *
s_render_all(doc_t *d)
{
    strbuf_t out;
    strbuf_init(&out);
    textclean_render_pages(d->lines, d->count, 1, d->pages, &out, NULL);
    return strbuf_steal(&out, NULL);
}

/* Render lines given as plain strings (no geometry, one page). */
static char *
s_render_strings(const char *const *texts, size_t n, float size)
{
    text_line_t lines[64];
    for (size_t i = 0; i < n; i++) {
        lines[i] =
            (text_line_t){.text = texts[i], .len = strlen(texts[i]), .page = 1, .size = size};
    }
    strbuf_t out;
    strbuf_init(&out);
    textclean_render_pages(lines, n, 1, 1, &out, NULL);
    return strbuf_steal(&out, NULL);
}

/* ================================================================ utf8 */

static void
test_utf8_decode_invalid_input(void **state)
{
    (void)state;
    uint32_t cp;
    assert_int_equal(utf8_decode("\xc3\xa9", 2, &cp), 2);
    assert_int_equal(cp, 0xe9);
    assert_int_equal(utf8_decode("\xe2\x82\xac", 3, &cp), 3);
    assert_int_equal(cp, 0x20ac);
    assert_int_equal(utf8_decode("\xf0\x9f\x98\x80", 4, &cp), 4);
    assert_int_equal(cp, 0x1f600);
    /* truncated, lone continuation, overlong, surrogate, past U+10FFFF, 0xff */
    const char *bad[] = {
        "\xc3", "\x80", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(utf8_decode(bad[i], strlen(bad[i]), &cp), 1);
        assert_int_equal(cp, UTF8_REPLACEMENT);
        assert_false(utf8_valid(bad[i], strlen(bad[i])));
    }
    assert_true(utf8_valid("caf\xc3\xa9 \xe2\x82\xac", 9));
    assert_true(utf8_valid("\xef\xbf\xbd", 3)); /* a real U+FFFD is valid */
}

static void
test_utf8_cut_never_splits_a_character(void **state)
{
    (void)state;
    const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"; /* a é € 😀 : 1+2+3+4 bytes */
    size_t len = strlen(s);
    size_t expected[] = {0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10};
    for (size_t max = 0; max <= len; max++) {
        size_t n = utf8_cut(s, len, max);
        assert_int_equal(n, expected[max]);
        assert_true(utf8_valid(s, n));
    }
    assert_int_equal(utf8_length(s, len), 4);
}

static void
test_utf8_char_start_steps_back_to_a_character(void **state)
{
    (void)state;
    const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"; /* a é € 😀 : 1+2+3+4 bytes */
    size_t expected[] = {0, 1, 1, 3, 3, 3, 6, 6, 6, 6};
    for (size_t i = 0; i < strlen(s); i++)
        assert_int_equal(utf8_char_start(s, i), expected[i]);
    /* Stray continuation bytes: back to the byte before them, however many there are. */
    assert_int_equal(utf8_char_start("x\x80\x80\x80\x80\x80", 5), 0);
    assert_int_equal(utf8_char_start("\x80\x80", 1), 0);
}

static void
test_utf8_case_and_classes(void **state)
{
    (void)state;
    assert_int_equal(utf8_lower('A'), 'a');
    assert_int_equal(utf8_lower(0xc9), 0xe9);     /* É é */
    assert_int_equal(utf8_lower(0xd7), 0xd7);     /* × */
    assert_int_equal(utf8_lower(0x152), 0x153);   /* Œ œ */
    assert_int_equal(utf8_lower(0x179), 0x17a);   /* Ź ź */
    assert_int_equal(utf8_lower(0x178), 0xff);    /* Ÿ ÿ */
    assert_int_equal(utf8_lower(0x3a3), 0x3c3);   /* Σ σ */
    assert_int_equal(utf8_lower(0x416), 0x436);   /* Ж ж */
    assert_int_equal(utf8_lower(0x401), 0x451);   /* Ё ё */
    assert_int_equal(utf8_lower(0x3042), 0x3042); /* あ: no case */
    assert_true(utf8_is_lower(0xdf) && utf8_is_lower(0x153) && utf8_is_lower(0x3c3));
    assert_false(utf8_is_lower(0x152) || utf8_is_lower(0x3042) || utf8_is_lower('1'));
    assert_true(utf8_is_letter(0xe9) && utf8_is_letter(0x3042) && utf8_is_letter(0x5b57));
    assert_false(utf8_is_letter(0x2014) || utf8_is_letter(0x3002) || utf8_is_letter('-'));
    assert_true(utf8_is_space(0xa0) && utf8_is_space(0x3000));
    assert_true(utf8_is_cjk(0x30ab) && !utf8_is_cjk('a'));
}

static void
test_normalise_whitespace_ligatures_and_invalid_bytes(void **state)
{
    (void)state;
    strbuf_t out;
    strbuf_init(&out);
    const char in[] = "  \xef\xac\x81le\t\xc2\xa0 of\x01 \xc3(  text\xe2\x80\x83 ";
    textclean_normalise(in, strlen(in), &out);
    assert_string_equal(out.data, "file of \xef\xbf\xbd( text");
    assert_true(utf8_valid(out.data, out.len));
    strbuf_free(&out);
}

/* ================================================================ running lines */

/* A document of `pages` pages: header "Cells and energy" and "Page N" at the edges, a
 * numbered heading "Section N.1" opening every page, body text. */
static doc_t *
s_book(int pages)
{
    doc_t *d = s_doc_new();
    for (int p = 1; p <= pages; p++) {
        s_add(d, p, 9, false, 30, false, "Cells and energy");
        s_add(d, p, 14, true, 70, false, "Section %d.1", p);
        s_add_body(d, p, 100, 8, p);
        s_add(d, p, 9, false, 800, false, "Page %d", p);
    }
    return d;
}

static void
test_running_headers_footers_and_page_numbers(void **state)
{
    (void)state;
    doc_t *d = s_book(8);
    assert_int_equal(textclean_mark_running(d->lines, d->count, d->pages, d->heights), 0);
    for (size_t i = 0; i < d->count; i++) {
        const text_line_t *l = &d->lines[i];
        bool header = strcmp(l->text, "Cells and energy") == 0 || strncmp(l->text, "Page ", 5) == 0;
        /* Headers and footers go; numbered headings that open every page stay. */
        assert_int_equal(l->running, header);
    }
    char *text = s_render_all(d);
    assert_null(strstr(text, "Cells and energy"));
    assert_null(strstr(text, "Page "));
    assert_non_null(strstr(text, "Section 8.1"));
    free(text);
    free(d);
}

static void
test_running_without_geometry_and_page_number_variants(void **state)
{
    (void)state;
    /* No boxes: the first and last lines of a page are its edges. Page numbers in other
     * forms ("- 3 -", "iv", "3 / 12") count as one line. */
    doc_t *d = s_doc_new();
    const char *forms[] = {"- %d -", "%d / 12", "Seite %d"};
    for (size_t f = 0; f < 3; f++) {
        d->count = 0;
        d->pages = 0;
        for (int p = 1; p <= 6; p++) {
            s_add(d, p, 0, false, 0, false, "Course notes");
            s_add(d, p, 0, false, 0, false, "The cell membrane controls what enters the cell.");
            s_add(d, p, 0, false, 0, false, "Water moves through tissues of plants %d.", p * 7);
            static const char *const colours[] = {"red",   "blue",   "green",
                                                  "white", "bright", "warm"};
            s_add(d, p, 0, false, 0, false, "Photosynthesis needs %s light.", colours[p - 1]);
            s_add(d, p, 0, false, 0, false, forms[f], p);
        }
        for (size_t i = 0; i < d->count; i++)
            d->lines[i].x0 = d->lines[i].y0 = d->lines[i].x1 = d->lines[i].y1 = 0;
        assert_int_equal(textclean_mark_running(d->lines, d->count, d->pages, NULL), 0);
        for (size_t i = 0; i < d->count; i++) {
            bool edge = i % 5 == 0 || i % 5 == 4;
            /* "The cell membrane ..." repeats on every page too: a line on most pages goes. */
            bool repeated = i % 5 == 1;
            assert_int_equal(d->lines[i].running, edge || repeated);
        }
    }
    free(d);
}

static void
test_chapter_running_header(void **state)
{
    (void)state;
    /* "Chapter 2. Plants" heads pages 6-12 only (not most pages): it repeats densely within
     * its chapter, so it is a running header as well. */
    doc_t *d = s_doc_new();
    for (int p = 1; p <= 16; p++) {
        if (p >= 6 && p <= 12)
            s_add(d, p, 9, false, 30, false, "Chapter 2. Plants");
        s_add_body(d, p, 100, 6, p);
    }
    assert_int_equal(textclean_mark_running(d->lines, d->count, d->pages, d->heights), 0);
    for (size_t i = 0; i < d->count; i++)
        assert_int_equal(d->lines[i].running, strcmp(d->lines[i].text, "Chapter 2. Plants") == 0);
    free(d);
}

static void
test_title_echo_in_header(void **state)
{
    (void)state;
    doc_t *d = s_doc_new();
    s_add(d, 1, 9, false, 30, false, "1 Cells");
    s_add(d, 1, 18, true, 70, false, "1 Cells");
    s_add_body(d, 1, 100, 4, 1);
    s_add(d, 2, 9, false, 30, false, "1 CELLS");
    s_add_body(d, 2, 100, 4, 2);
    const char *titles[] = {"1 Cells", "1.1 Membranes"};
    assert_int_equal(textclean_mark_titles(d->lines, d->count, titles, 2, d->heights, 10), 0);
    assert_true(d->lines[0].running);
    assert_false(d->lines[1].running); /* the heading itself: bold and large */
    assert_true(d->lines[6].running);
    free(d);
}

/* ================================================================ joining lines */

static void
test_hyphenated_words_joined(void **state)
{
    (void)state;
    const char *lines[] = {"The cell membrane controls the informa-",
                           "tion that enters the",
                           "cell. Text in AMC-",
                           "TXT format and \xc3\xa9l\xc3\xa8-",
                           "ves learn well-",
                           "Known names and 1999-",
                           "2007 dates."};
    char *text = s_render_strings(lines, 7, 10);
    assert_string_equal(text, "The cell membrane controls the information that enters the cell. "
                              "Text in AMC-TXT format and \xc3\xa9l\xc3\xa8ves learn "
                              "well-Known names and 1999-2007 dates.");
    free(text);
    /* A soft hyphen (U+00AD) and U+2010 work the same way. */
    const char *soft[] = {"photo\xc2\xad", "synthesis and mem\xe2\x80\x90", "brane"};
    text = s_render_strings(soft, 3, 10);
    assert_string_equal(text, "photosynthesis and membrane");
    free(text);
}

static void
test_hyphen_across_a_page_break(void **state)
{
    (void)state;
    doc_t *d = s_doc_new();
    s_add(d, 1, 10, false, 100, true, "Water moves through the tissues of green plants by osmo-");
    s_add(d, 2, 10, false, 100, true, "sis while the sun shines.");
    s_add(d, 2, 10, false, 112, false, "Short one.");
    char *text = s_render_all(d);
    assert_string_equal(text, "Water moves through the tissues of green plants by osmosis while "
                              "the sun shines. Short one.");
    free(text);
    free(d);
}

static void
test_paragraphs_kept(void **state)
{
    (void)state;
    doc_t *d = s_doc_new();
    s_add(d, 1, 16, true, 60, false, "1 Water");
    float y = s_add_body(d, 1, 100, 3, 1); /* paragraph 1: short last line */
    y = s_add_body(d, 1, y, 2, 2);         /* paragraph 2: right after, short end */
    y = s_add_body(d, 1, y + 14, 3, 3);    /* paragraph 3: after a gap */
    s_add(d, 1, 10, false, y, false, "\xe2\x80\xa2 first item");
    s_add(d, 1, 10, false, y + 12, false, "\xe2\x80\xa2 second item");
    text_line_t *code = s_add(d, 1, 9, false, y + 40, false, "int main(void)");
    code->mono = true;
    code = s_add(d, 1, 9, false, y + 51, false, "{ return 0; }");
    code->mono = true;
    char *text = s_render_all(d);
    /* heading, 3 paragraphs, a list, code */
    int blank = 0;
    for (const char *p = text; (p = strstr(p, "\n\n")) != NULL; p += 2)
        blank++;
    assert_int_equal(blank, 5);
    assert_non_null(strstr(text, "1 Water\n\n"));
    assert_non_null(strstr(text, ".\n\n\xe2\x80\xa2 first item\n\xe2\x80\xa2 second item\n\n"));
    assert_non_null(strstr(text, "int main(void)\n{ return 0; }"));
    assert_null(strstr(text, "  "));
    assert_true(text[strlen(text) - 1] != '\n' && text[0] != ' ');
    free(text);
    free(d);
}

static void
test_japanese_lines_join_without_space(void **state)
{
    (void)state;
    const char *lines[] = {"\xe8\xa9\xa6\xe9\xa8\x93\xe5\x95\x8f\xe9\xa1\x8c\xe3\x82\x92",
                           "\xe5\x8d\xb0\xe5\x88\xb7\xe3\x81\x99\xe3\x82\x8b\xe3\x80\x82"};
    char *text = s_render_strings(lines, 2, 10);
    assert_string_equal(text, "\xe8\xa9\xa6\xe9\xa8\x93\xe5\x95\x8f\xe9\xa1\x8c\xe3\x82\x92"
                              "\xe5\x8d\xb0\xe5\x88\xb7\xe3\x81\x99\xe3\x82\x8b\xe3\x80\x82");
    free(text);
}

static void
test_render_output_is_valid_utf8_from_invalid_lines(void **state)
{
    (void)state;
    const char *lines[] = {"caf\xc3", "\xa9 ol\xe2\x82", "\xff\xfe end \xf0\x9f\x98"};
    char *text = s_render_strings(lines, 3, 10);
    assert_true(utf8_valid(text, strlen(text)));
    assert_non_null(strstr(text, "caf\xef\xbf\xbd"));
    free(text);
}

static void
test_page_offsets(void **state)
{
    (void)state;
    doc_t *d = s_doc_new();
    s_add(d, 1, 10, false, 100, false, "First page.");
    s_add(d, 3, 10, false, 100, false, "Third page.");
    strbuf_t out;
    strbuf_init(&out);
    size_t offsets[3];
    textclean_render_pages(d->lines, d->count, 1, 3, &out, offsets);
    assert_string_equal(out.data, "First page.\n\nThird page.");
    assert_int_equal(offsets[0], 0);
    assert_int_equal(offsets[2], 13);
    course_text_lesson_t lesson = {out.data, out.len, 1, 3, offsets, NULL};
    assert_int_equal(course_text_page_at(&lesson, 0), 1);
    assert_int_equal(course_text_page_at(&lesson, 13), 3);
    strbuf_free(&out);
    free(d);
}

/* ================================================================ headings */

/* A 12-page document: title page (24 pt), a table of contents, chapters at 16 pt bold
 * ("1 Water", "2 Light", "3 Soil"), sections at 13 pt ("1.1 ..."), body at 10 pt. */
static doc_t *
s_structured(void)
{
    doc_t *d = s_doc_new();
    s_add(d, 1, 24, true, 300, false, "Plants and their world");
    s_add(d, 1, 12, false, 340, false, "A. Teacher");
    s_add(d, 2, 16, true, 60, false, "Contents");
    for (int i = 0; i < 8; i++)
        s_add(d, 2, 10, true, 100 + 14.0f * (float)i, false, "%d.%d Entry of the table %d",
              i / 3 + 1, i % 3 + 1, i + 3);
    const char *chapters[] = {"Water", "Light", "Soil"};
    int page = 3;
    for (int c = 0; c < 3; c++) {
        s_add(d, page, 16, true, 60, false, "%d %s", c + 1, chapters[c]);
        s_add_body(d, page, 90, 6, page);
        s_add(d, page, 13, false, 180, false, "%d.1 How %s moves", c + 1, chapters[c]);
        s_add_body(d, page, 200, 20, page + 1);
        page++;
        s_add_body(d, page, 60, 30, page);
        s_add(d, page, 13, false, 440, false, "%d.2 Why %s matters for", c + 1, chapters[c]);
        s_add(d, page, 13, false, 456, false, "every plant");
        s_add_body(d, page, 480, 10, page + 3);
        page++;
        s_add_body(d, page, 60, 30, page);
        page++;
    }
    return d;
}

static void
test_headings_from_typography(void **state)
{
    (void)state;
    doc_t *d = s_structured();
    headings_t h;
    assert_int_equal(headings_detect(d->lines, d->count, &h), 0);
    assert_true(h.body_size == 10.0f);
    const struct {
        int level;
        int page;
        const char *title;
    } expected[] = {{1, 3, "1 Water"},
                    {2, 3, "1.1 How Water moves"},
                    {2, 4, "1.2 Why Water matters for every plant"},
                    {1, 6, "2 Light"},
                    {2, 6, "2.1 How Light moves"},
                    {2, 7, "2.2 Why Light matters for every plant"},
                    {1, 9, "3 Soil"},
                    {2, 9, "3.1 How Soil moves"},
                    {2, 10, "3.2 Why Soil matters for every plant"}};
    /* The title page's style is used on one page only; "Contents" comes before the first
     * numbered heading of its style; the table of contents' bold entries are on a TOC page. */
    assert_int_equal(h.count, sizeof expected / sizeof expected[0]);
    for (size_t i = 0; i < h.count; i++) {
        assert_int_equal(h.items[i].level, expected[i].level);
        assert_int_equal(h.items[i].page, expected[i].page);
        assert_string_equal(h.items[i].title, expected[i].title);
    }
    assert_int_equal(h.items[2].lines, 2); /* a wrapped title */
    headings_free(&h);
    free(d);
}

static void
test_headings_number_on_the_same_baseline(void **state)
{
    (void)state;
    /* LaTeX: "1" and "Introduction" are separate runs on one baseline; "3Usage" glued. */
    doc_t *d = s_doc_new();
    s_add(d, 1, 14.3f, true, 100, false, "1");
    text_line_t *l = s_add(d, 1, 14.3f, true, 100, false, "Introduction");
    l->x0 = 90;
    s_add_body(d, 1, 130, 20, 1);
    s_add(d, 2, 14.3f, true, 100, false, "2Samples and more");
    s_add_body(d, 2, 130, 20, 2);
    headings_t h;
    assert_int_equal(headings_detect(d->lines, d->count, &h), 0);
    assert_int_equal(h.count, 2);
    assert_string_equal(h.items[0].title, "1 Introduction");
    assert_string_equal(h.items[1].title, "2 Samples and more");
    headings_free(&h);
    free(d);
}

static void
test_no_headings_in_uniform_text(void **state)
{
    (void)state;
    /* One size everywhere (docbook's reference): nothing to find. A larger font used for
     * whole paragraphs is text, not headings; nor are letters of a big watermark. */
    doc_t *d = s_doc_new();
    for (int p = 1; p <= 5; p++)
        s_add_body(d, p, 60, 40, p);
    for (int p = 1; p <= 5; p++) {
        for (int k = 0; k < 4; k++)
            s_add(d, p, 13, false, 600 + 14.0f * (float)k, true,
                  "A long paragraph in a larger font that goes on and on %d", k);
        s_add(d, p, 13, false, 680, false, "Short larger line");
        s_add(d, p, 80, false, 300, false, "DR");
        s_add(d, p, 80, false, 380, false, "AF");
    }
    headings_t h;
    assert_int_equal(headings_detect(d->lines, d->count, &h), 0);
    assert_int_equal(h.count, 0);
    headings_free(&h);
    free(d);
}

static void
test_headings_numbering(void **state)
{
    (void)state;
    assert_int_equal(headings_numbering("2.3 Roots", 9), 2);
    assert_int_equal(headings_numbering("2.3.1 Hairs", 11), 3);
    assert_int_equal(headings_numbering("4. Results", 10), 1);
    assert_int_equal(headings_numbering("Chapter 4", 9), 1);
    assert_int_equal(headings_numbering("Appendix A", 10), 1);
    assert_int_equal(headings_numbering("3Usage", 6), 1);
    assert_int_equal(headings_numbering("2020 was a year", 15), 1);
    assert_int_equal(headings_numbering("Roots", 5), 0);
    assert_int_equal(headings_numbering("3rd place", 9), 0);
    assert_int_equal(headings_numbering("1,5 kg", 6), 0);
}

/* ================================================================ sentences and stop words */

static void
test_sentences_split(void **state)
{
    (void)state;
    const char *text = "Dr. Smith studies cells, e.g. the membrane. It controls what enters! "
                       "Does it? Yes.\n\nA new paragraph without an end\nJ. S. Bach wrote "
                       "2.5 pieces in glossary.collection files.";
    sentences_t s;
    assert_int_equal(sentences_split(text, strlen(text), &s), 0);
    const char *expected[] = {"Dr. Smith studies cells, e.g. the membrane.",
                              "It controls what enters!",
                              "Does it?",
                              "Yes.",
                              "A new paragraph without an end",
                              "J. S. Bach wrote 2.5 pieces in glossary.collection files."};
    assert_int_equal(s.nsentences, 6);
    for (size_t i = 0; i < 6; i++) {
        const sentence_t *x = &s.sentences[i];
        assert_int_equal(x->end - x->start, strlen(expected[i]));
        assert_memory_equal(text + x->start, expected[i], strlen(expected[i]));
    }
    assert_false(s.sentences[4].terminated);
    assert_true(s.sentences[5].terminated);
    /* "glossary.collection" and "2.5" are single words. */
    const sentence_t *last = &s.sentences[5];
    assert_int_equal(last->count, 9);
    sentences_free(&s);
}

static void
test_sentences_japanese(void **state)
{
    (void)state;
    /* 試験問題を印刷する。採点する。 : two sentences; kanji, hiragana and katakana split words */
    const char *text = "\xe8\xa9\xa6\xe9\xa8\x93\xe5\x95\x8f\xe9\xa1\x8c\xe3\x82\x92\xe5\x8d"
                       "\xb0\xe5\x88\xb7\xe3\x81\x99\xe3\x82\x8b\xe3\x80\x82\xe6\x8e\xa1\xe7"
                       "\x82\xb9\xe3\x81\x99\xe3\x82\x8b\xe3\x80\x82";
    sentences_t s;
    assert_int_equal(sentences_split(text, strlen(text), &s), 0);
    assert_int_equal(s.nsentences, 2);
    assert_int_equal(s.sentences[0].count, 4); /* 試験問題 を 印刷 する */
    assert_true(s.tokens[1].flags & TOKEN_KANA);
    assert_false(s.tokens[0].flags & TOKEN_KANA);
    sentences_free(&s);
}

static void
test_stopwords_and_language(void **state)
{
    (void)state;
    stopwords_t *sw = stopwords_new();
    assert_non_null(sw);
    assert_int_equal(stopwords_langs(sw, "the", 3), STOPWORDS_EN);
    assert_true(stopwords_langs(sw, "die", 3) & STOPWORDS_DE);
    assert_true(stopwords_langs(sw, "\xc3\xa9t\xc3\xa9", 5) & STOPWORDS_FR); /* été */
    assert_true(stopwords_langs(sw, "para", 4) & STOPWORDS_ES);
    assert_int_equal(stopwords_langs(sw, "membrane", 8), 0);
    size_t hits[4] = {40, 3, 2, 1};
    assert_int_equal(stopwords_guess(hits, 100), STOPWORDS_EN);
    size_t close[4] = {20, 18, 0, 0};
    assert_int_equal(stopwords_guess(close, 100), 0);
    size_t few[4] = {2, 0, 0, 0};
    assert_int_equal(stopwords_guess(few, 100), 0);
    assert_string_equal(stopwords_code(STOPWORDS_FR), "fr");
    assert_string_equal(stopwords_code(0), "und");
    stopwords_destroy(&sw);
    assert_null(sw);
}

/* ================================================================ analysis */

static const char *const s_lessons_en[] = {
    "Photosynthesis turns light into chemical energy in green plants. The chloroplast holds "
    "chlorophyll, which absorbs red and blue light. During photosynthesis the chloroplast "
    "splits water and releases oxygen into the air. The Calvin cycle then fixes carbon dioxide "
    "into sugar molecules inside the chloroplast. Plants store this sugar as starch for the "
    "night. Farmers know that light and water limit the growth of their crops. My cat sleeps.",
    "Osmosis moves water across a membrane from dilute to concentrated solutions. The cell "
    "membrane lets water pass but holds back larger molecules. Root hairs take up water by "
    "osmosis from the soil. When a cell loses water by osmosis, the vacuole shrinks and the "
    "plant wilts. Gardeners water their plants in the evening to reduce losses.",
    "Mitochondria release energy from sugar through cellular respiration. Every living cell "
    "uses respiration to make adenosine triphosphate. The mitochondria consume oxygen and "
    "produce carbon dioxide and water. Muscles with many mitochondria tire less quickly during "
    "exercise. Athletes train to grow more mitochondria in their muscles.",
    "Enzymes speed up chemical reactions in living cells without being used up. Each enzyme "
    "has an active site that fits its substrate like a key fits a lock. High temperature "
    "changes the shape of the active site and the enzyme stops working. Digestive enzymes "
    "break starch and proteins into small molecules. Cooks use enzymes from pineapple to "
    "soften meat.",
    "Pollination carries pollen from the stamen to the stigma of a flower. Bees and other "
    "insects visit flowers for nectar and carry pollen between plants. Wind pollination needs "
    "light pollen and large feathery stigmas. After pollination, fertilisation produces seeds "
    "inside the ovary. Orchards rent beehives to improve pollination of fruit trees.",
};

static void
s_analyse(const char *const *texts, size_t n, course_text_t *out)
{
    course_text_lesson_t lessons[16];
    for (size_t i = 0; i < n; i++)
        lessons[i] =
            (course_text_lesson_t){texts[i], strlen(texts[i]), (int)i + 1, (int)i + 1, NULL, NULL};
    assert_int_equal(course_text_analyse(lessons, n, NULL, out), 0);
}

static bool
s_ci_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p != '\0'; p++) {
        if (strncasecmp(p, needle, n) == 0)
            return true;
    }
    return false;
}

static void
test_key_terms_distinguish_lessons_without_stop_words(void **state)
{
    (void)state;
    course_text_t ct;
    s_analyse(s_lessons_en, 5, &ct);
    assert_string_equal(ct.language, "en");
    const char *expected[] = {"chloroplast", "osmosis", "mitochondria", "active site",
                              "pollination"};
    stopwords_t *sw = stopwords_new();
    for (size_t i = 0; i < 5; i++) {
        const keyterms_t *k = &ct.lessons[i].keyterms;
        assert_true(k->count > 0 && k->count <= KEYTERMS_MAX);
        bool found = false;
        for (size_t t = 0; t < k->count; t++) {
            const char *term = k->items[t].text;
            found = found || strcasecmp(term, expected[i]) == 0;
            assert_true(s_ci_contains(s_lessons_en[i], term));
            assert_true(utf8_length(term, strlen(term)) >= 3);
            /* no stop word in any of its words, no pure number */
            char copy[128];
            snprintf(copy, sizeof copy, "%s", term);
            for (char *w = strtok(copy, " "); w != NULL; w = strtok(NULL, " ")) {
                for (char *c = w; *c; c++)
                    *c = (char)((*c >= 'A' && *c <= 'Z') ? *c + 32 : *c);
                assert_int_equal(stopwords_langs(sw, w, strlen(w)) & STOPWORDS_EN, 0);
                assert_false(strspn(w, "0123456789") == strlen(w));
            }
        }
        assert_true(found);
    }
    stopwords_destroy(&sw);
    course_text_free(&ct);
}

static void
test_key_terms_french(void **state)
{
    (void)state;
    const char *fr[] = {
        "La photosynth\xc3\xa8se transforme la lumi\xc3\xa8re en \xc3\xa9nergie chimique dans les "
        "plantes vertes. Le chloroplaste contient la chlorophylle qui absorbe la lumi\xc3\xa8re. "
        "Pendant la photosynth\xc3\xa8se, le chloroplaste lib\xc3\xa8re de l'oxyg\xc3\xa8ne. Les "
        "plantes stockent le sucre sous forme d'amidon pour la nuit.",
        "L'osmose d\xc3\xa9place l'eau \xc3\xa0 travers une membrane. La membrane de la cellule "
        "laisse passer l'eau mais retient les grosses mol\xc3\xa9"
        "cules. Les racines "
        "absorbent l'eau du sol par osmose. Quand une cellule perd de l'eau, la vacuole se "
        "r\xc3\xa9tr\xc3\xa9"
        "cit et la plante fl\xc3\xa9trit."};
    course_text_t ct;
    s_analyse(fr, 2, &ct);
    assert_string_equal(ct.language, "fr");
    stopwords_t *sw = stopwords_new();
    for (size_t i = 0; i < 2; i++) {
        const keyterms_t *k = &ct.lessons[i].keyterms;
        assert_true(k->count > 0);
        for (size_t t = 0; t < k->count; t++) {
            const char *term = k->items[t].text;
            assert_true(utf8_valid(term, strlen(term)));
            assert_int_equal(stopwords_langs(sw, term, strlen(term)) & STOPWORDS_FR, 0);
        }
    }
    bool found = false;
    for (size_t t = 0; t < ct.lessons[0].keyterms.count; t++)
        found = found || strcmp(ct.lessons[0].keyterms.items[t].text, "chloroplaste") == 0;
    assert_true(found);
    stopwords_destroy(&sw);
    course_text_free(&ct);
}

static void
test_summary_chooses_central_sentences_deterministically(void **state)
{
    (void)state;
    course_text_t a, b;
    s_analyse(s_lessons_en, 5, &a);
    s_analyse(s_lessons_en, 5, &b);
    for (size_t i = 0; i < 5; i++) {
        const char *summary = a.lessons[i].summary;
        assert_string_equal(summary, b.lessons[i].summary);
        assert_true(strlen(summary) > 0);
    }
    /* Lesson 1: the sentences about the chloroplast, never "My cat sleeps." */
    const char *s1 = a.lessons[0].summary;
    assert_non_null(strstr(s1, "chloroplast"));
    assert_null(strstr(s1, "My cat sleeps"));
    /* Its sentences are the lesson's own, in their original order. */
    const char *first = strstr(s_lessons_en[0], "The chloroplast holds");
    const char *second = strstr(s_lessons_en[0], "During photosynthesis the chloroplast");
    assert_non_null(first);
    assert_non_null(second);
    const char *in_summary_1 = strstr(s1, "The chloroplast holds");
    const char *in_summary_2 = strstr(s1, "During photosynthesis the chloroplast");
    if (in_summary_1 != NULL && in_summary_2 != NULL)
        assert_true(in_summary_1 < in_summary_2);
    course_text_free(&a);
    course_text_free(&b);
    /* Too little text: no summary. */
    const char *tiny[] = {"Cells divide. Plants grow.", "Roots drink water slowly."};
    course_text_t t;
    s_analyse(tiny, 2, &t);
    assert_string_equal(t.lessons[0].summary, "");
    assert_int_equal(t.quiz.count, 0);
    course_text_free(&t);
}

static void
test_quiz_invariants(void **state)
{
    (void)state;
    course_text_t ct;
    s_analyse(s_lessons_en, 5, &ct);
    assert_true(ct.quiz.count >= 5);
    int positions[4] = {0};
    for (size_t q = 0; q < ct.quiz.count; q++) {
        const quiz_question_t *item = &ct.quiz.items[q];
        const char *answer = item->choices[item->answer];
        /* one blank; the answer is in the lesson, never visible in the prompt */
        const char *blank = strstr(item->prompt, QUIZ_BLANK);
        assert_non_null(blank);
        assert_null(strstr(blank + 1, QUIZ_BLANK));
        assert_true(s_ci_contains(s_lessons_en[item->lesson], answer));
        assert_false(s_ci_contains(item->prompt, answer));
        assert_false(quiz_reveals(item->prompt, answer));
        /* 4 distinct choices (case-insensitively), none of the distractors in the prompt */
        for (int i = 0; i < QUIZ_CHOICES; i++) {
            for (int j = i + 1; j < QUIZ_CHOICES; j++)
                assert_int_not_equal(strcasecmp(item->choices[i], item->choices[j]), 0);
            assert_false(s_ci_contains(item->prompt, item->choices[i]));
        }
        assert_int_equal(ct.source_pages[q], (int)item->lesson + 1);
        positions[item->answer]++;
    }
    int min = positions[0], max = positions[0];
    for (int i = 1; i < 4; i++) {
        min = positions[i] < min ? positions[i] : min;
        max = positions[i] > max ? positions[i] : max;
    }
    assert_true(max - min <= 1);
    course_text_free(&ct);
}

static void
test_quiz_reveals_and_positions(void **state)
{
    (void)state;
    assert_true(quiz_reveals("The _____ holds membranes.", "membrane"));
    assert_true(quiz_reveals("The _____ holds a membrane.", "membranes"));
    assert_true(quiz_reveals("The _____ of the CELL.", "cell"));
    assert_true(quiz_reveals("Water crosses the cell _____.", "cell membrane"));
    assert_false(quiz_reveals("Water crosses the _____.", "cell membrane"));
    assert_true(quiz_reveals("L'_____ de l'\xc3\x89L\xc3\x88VE.", "\xc3\xa9l\xc3\xa8ve"));
    int counts[4] = {0};
    for (size_t n = 0; n < 400; n++) {
        int p = quiz_answer_position(n);
        assert_true(p >= 0 && p < 4);
        counts[p]++;
        if (n % 4 == 3) { /* every block of four uses each position once */
            int seen = 0;
            for (size_t k = n - 3; k <= n; k++)
                seen |= 1 << quiz_answer_position(k);
            assert_int_equal(seen, 15);
        }
    }
    assert_int_equal(counts[0], 100);
    assert_int_equal(counts[3], 100);
    /* not a fixed rotation 0,1,2,3,0,1,2,3 */
    bool varied = false;
    for (size_t n = 0; n < 40; n++)
        varied = varied || quiz_answer_position(n) != (int)(n % 4);
    assert_true(varied);
}

static void
test_single_lesson_has_no_quiz_and_no_crash_on_empty(void **state)
{
    (void)state;
    course_text_t ct;
    s_analyse(s_lessons_en, 1, &ct);
    assert_int_equal(ct.quiz.count, 0); /* distractors come from other lessons */
    course_text_free(&ct);
    const char *empty[] = {"", "   ", "\xff\xfe"};
    s_analyse(empty, 3, &ct);
    assert_string_equal(ct.language, "und");
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(ct.lessons[i].keyterms.count, 0);
    course_text_free(&ct);
}

/* ================================================================ hostile input */

static uint32_t
s_rand(uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 8) & 0xffffff;
}

static void
test_random_input_keeps_every_invariant(void **state)
{
    (void)state;
    /* Pieces that stress the tokeniser: multi-byte characters, broken ones, marks, blanks. */
    static const char *const pieces[] = {"Cell",
                                         "membrane",
                                         "photosynthesis",
                                         "Osmosis",
                                         " ",
                                         " ",
                                         ". ",
                                         "! ",
                                         "? ",
                                         "\n",
                                         "\n\n",
                                         "-",
                                         "_____",
                                         "e.g.",
                                         "\xc3\xa9l\xc3\xa8ve",
                                         "\xe8\xa9\xa6\xe9\xa8\x93",
                                         "\xe3\x80\x82",
                                         "\xc3",
                                         "\xa9",
                                         "\xff",
                                         "\xf0\x9f\x98\x80",
                                         "2.3",
                                         "1999",
                                         "the",
                                         "de",
                                         "AMC-TXT",
                                         "\xef\xac\x81",
                                         "\xc2\xad",
                                         ",",
                                         "(",
                                         ")",
                                         "\t",
                                         "Dr. "};
    uint32_t seed = 7;
    for (int round = 0; round < 60; round++) {
        char texts[6][2048];
        const char *ptrs[6];
        for (int l = 0; l < 6; l++) {
            size_t len = 0;
            size_t n = s_rand(&seed) % 300;
            for (size_t k = 0; k < n; k++) {
                const char *piece = pieces[s_rand(&seed) % (sizeof pieces / sizeof pieces[0])];
                size_t plen = strlen(piece);
                if (len + plen + 1 >= sizeof texts[l])
                    break;
                memcpy(texts[l] + len, piece, plen);
                len += plen;
            }
            texts[l][len] = '\0';
            ptrs[l] = texts[l];
        }
        /* As lines: rendering gives valid UTF-8 without runs of blanks. */
        char *text = s_render_strings(ptrs, 6, 10);
        assert_true(utf8_valid(text, strlen(text)));
        assert_null(strstr(text, "\n\n\n"));
        free(text);
        /* As lesson texts (made valid the way pdf_reader.c makes them). */
        strbuf_t valid[6];
        const char *clean[6];
        for (int l = 0; l < 6; l++) {
            strbuf_init(&valid[l]);
            textclean_normalise(texts[l], strlen(texts[l]), &valid[l]);
            clean[l] = valid[l].data != NULL ? valid[l].data : "";
        }
        course_text_t ct;
        s_analyse(clean, 6, &ct);
        for (int l = 0; l < 6; l++) {
            assert_true(utf8_valid(ct.lessons[l].summary, strlen(ct.lessons[l].summary)));
            for (size_t t = 0; t < ct.lessons[l].keyterms.count; t++) {
                const char *term = ct.lessons[l].keyterms.items[t].text;
                assert_true(utf8_valid(term, strlen(term)));
            }
        }
        for (size_t q = 0; q < ct.quiz.count; q++) {
            const quiz_question_t *item = &ct.quiz.items[q];
            assert_true(utf8_valid(item->prompt, strlen(item->prompt)));
            assert_false(quiz_reveals(item->prompt, item->choices[item->answer]));
        }
        course_text_free(&ct);
        for (int l = 0; l < 6; l++)
            strbuf_free(&valid[l]);
    }
}

/* ================================================================ small modules */

/* ================================================================ quiz: kinds of terms */

/* A person's name for a concept: "Hiroto Kagotani" is a name (never in lower case in the
 * document), "General Public" is not ("general" and "public" are written in lower case). */
static void
test_quiz_person_names(void **state)
{
    const char *text = "See the GNU General Public License. Thanks to Hiroto Kagotani and "
                       "Alexis Bienvenue. The general idea is public, and scanned sheets too.";
    quiz_doc_t doc = {text, strlen(text), NULL, 0, NULL, 3, NULL, NULL};
    assert_true(quiz_is_name(&doc, "Hiroto Kagotani"));
    assert_true(quiz_is_name(&doc, "Alexis Bienvenue"));
    assert_false(quiz_is_name(&doc, "General Public"));
    assert_false(quiz_is_name(&doc, "GNU General Public")); /* an acronym is no name */
    assert_false(quiz_is_name(&doc, "Kagotani"));           /* one word: no telling */
    assert_false(quiz_is_name(&doc, "scanned sheets"));
}

/* A distractor that also completes the sentence is refused: the document writes it where
 * the blank is. */
static void
test_quiz_also_correct(void **state)
{
    const char *lower = "the marks are exported to an ods sheet. the marks are exported to a "
                        "csv file. the annotate command writes corrected sheets.";
    quiz_doc_t doc = {lower, strlen(lower), lower, strlen(lower), NULL, 3, NULL, NULL};
    const char *prompt = "The marks are exported to a _____ file.";
    assert_true(quiz_also_correct(&doc, prompt, NULL, "CSV"));
    assert_false(quiz_also_correct(&doc, prompt, NULL, "annotate"));
    assert_false(quiz_also_correct(&doc, prompt, NULL, "PDF"));
    /* Both sides must be found: "exported to an ods" is in the text, "ods file" is not. */
    assert_false(quiz_also_correct(&doc, prompt, NULL, "ODS"));
    assert_true(
        quiz_also_correct(&doc, "The _____ command writes corrected sheets.", NULL, "annotate"));
}

static void
test_quiz_boilerplate(void **state)
{
    assert_true(quiz_is_boilerplate("GNU Free Documentation License", "", 0));
    assert_true(quiz_is_boilerplate("Copyright notice", "", 0));
    assert_true(quiz_is_boilerplate("Front matter", "", 0));
    assert_true(quiz_is_boilerplate("Index", "", 0));
    assert_true(quiz_is_boilerplate("Bibliography", "", 0));
    assert_false(quiz_is_boilerplate("Indexing the scans", "", 0));
    assert_false(quiz_is_boilerplate("Cell membranes", "Cells are small.", 16));
    /* An index without a title saying so: numbers are a quarter of its words. */
    char index[4096] = "";
    for (int i = 0; i < 30; i++) {
        char entry[64];
        snprintf(entry, sizeof entry, "entry%d, %d, %d\n", i, i + 3, 2 * i + 10);
        strcat(index, entry);
    }
    assert_true(quiz_is_boilerplate(NULL, index, strlen(index)));
    assert_true(quiz_is_index(NULL, index, strlen(index)));
    assert_true(quiz_is_index("Table of Contents", "", 0));
    assert_true(quiz_is_index("Index", "", 0));
    assert_false(quiz_is_index("GNU Free Documentation License", "", 0));
    assert_false(quiz_is_index("Indexing the scans", "", 0));
}

static void
s_question_add(quiz_t *quiz, size_t lesson, const char *prompt, const char *answer)
{
    assert_int_equal(
        array_grow((void **)&quiz->items, &quiz->cap, quiz->count + 1, sizeof *quiz->items), 0);
    quiz_question_t q = {lesson, 0, strdup(prompt), {NULL}, 0};
    q.choices[0] = strdup(answer);
    q.choices[1] = strdup("alpha");
    q.choices[2] = strdup("beta");
    q.choices[3] = strdup("gamma");
    quiz->items[quiz->count++] = q;
}

/* Same prompts (case, spaces, digits aside) go; the cap takes every lesson's first question
 * before any second one; answers are placed anew. */
static void
test_quiz_select(void **state)
{
    quiz_t quiz = {0};
    s_question_add(&quiz, 0, "The _____ of 3 cells.", "wall");
    s_question_add(&quiz, 0, "Energy moves _____ fast.", "very");
    s_question_add(&quiz, 1, "the  _____ of 12 Cells.", "wall"); /* the same as the first */
    s_question_add(&quiz, 1, "Roots take _____ in.", "water");
    s_question_add(&quiz, 2, "Leaves _____ light.", "catch");
    s_question_add(&quiz, 2, "_____ take water in.", "Roots"); /* lesson 1's sentence, restored */
    quiz_select(&quiz, 3);
    assert_int_equal(quiz.count, 3);
    assert_string_equal(quiz.items[0].prompt, "The _____ of 3 cells.");
    assert_string_equal(quiz.items[1].prompt, "Roots take _____ in.");
    assert_string_equal(quiz.items[2].prompt, "Leaves _____ light.");
    for (size_t i = 0; i < quiz.count; i++)
        assert_int_equal(quiz.items[i].answer, quiz_answer_position(i));
    assert_string_equal(quiz.items[1].choices[quiz.items[1].answer], "water");
    quiz_free(&quiz);
}

static void
test_array_grow(void **state)
{
    (void)state;
    int *a = NULL;
    size_t cap = 0;
    assert_int_equal(array_grow((void **)&a, &cap, 1, sizeof *a), 0);
    assert_int_equal(cap, 32);
    assert_int_equal(array_grow((void **)&a, &cap, 32, sizeof *a), 0);
    assert_int_equal(cap, 32); /* enough already: nothing moves */
    assert_int_equal(array_grow((void **)&a, &cap, 1000, sizeof *a), 0);
    assert_int_equal(cap, 1024);
    for (int i = 0; i < 1000; i++)
        a[i] = i; /* all of it is writable (ASan checks under make check-asan) */
    int *before = a;
    assert_int_equal(array_grow((void **)&a, &cap, SIZE_MAX / 2, sizeof *a), -1);
    assert_ptr_equal(a, before); /* an overflow leaves the array as it was */
    assert_int_equal(cap, 1024);
    free(a);
}

static void
test_strmap_interns(void **state)
{
    (void)state;
    strmap_t *m = strmap_new();
    assert_non_null(m);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "word%d", i);
        assert_int_equal(strmap_intern(m, key, strlen(key)), i);
    }
    for (int i = 0; i < 5000; i += 7) {
        snprintf(key, sizeof key, "word%d", i);
        assert_int_equal(strmap_find(m, key, strlen(key)), i);
        assert_int_equal(strmap_intern(m, key, strlen(key)), i);
    }
    size_t len;
    assert_string_equal(strmap_key(m, 42, &len), "word42");
    assert_int_equal(strmap_find(m, "nope", 4), -1);
    assert_int_equal(strmap_count(m), 5000);
    strmap_destroy(&m);
    assert_null(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_decode_invalid_input),
        cmocka_unit_test(test_utf8_cut_never_splits_a_character),
        cmocka_unit_test(test_utf8_char_start_steps_back_to_a_character),
        cmocka_unit_test(test_utf8_case_and_classes),
        cmocka_unit_test(test_normalise_whitespace_ligatures_and_invalid_bytes),
        cmocka_unit_test(test_running_headers_footers_and_page_numbers),
        cmocka_unit_test(test_running_without_geometry_and_page_number_variants),
        cmocka_unit_test(test_chapter_running_header),
        cmocka_unit_test(test_title_echo_in_header),
        cmocka_unit_test(test_hyphenated_words_joined),
        cmocka_unit_test(test_hyphen_across_a_page_break),
        cmocka_unit_test(test_paragraphs_kept),
        cmocka_unit_test(test_japanese_lines_join_without_space),
        cmocka_unit_test(test_render_output_is_valid_utf8_from_invalid_lines),
        cmocka_unit_test(test_page_offsets),
        cmocka_unit_test(test_headings_from_typography),
        cmocka_unit_test(test_headings_number_on_the_same_baseline),
        cmocka_unit_test(test_no_headings_in_uniform_text),
        cmocka_unit_test(test_headings_numbering),
        cmocka_unit_test(test_sentences_split),
        cmocka_unit_test(test_sentences_japanese),
        cmocka_unit_test(test_stopwords_and_language),
        cmocka_unit_test(test_key_terms_distinguish_lessons_without_stop_words),
        cmocka_unit_test(test_key_terms_french),
        cmocka_unit_test(test_summary_chooses_central_sentences_deterministically),
        cmocka_unit_test(test_quiz_invariants),
        cmocka_unit_test(test_quiz_reveals_and_positions),
        cmocka_unit_test(test_single_lesson_has_no_quiz_and_no_crash_on_empty),
        cmocka_unit_test(test_random_input_keeps_every_invariant),
        cmocka_unit_test(test_quiz_person_names),
        cmocka_unit_test(test_quiz_also_correct),
        cmocka_unit_test(test_quiz_boilerplate),
        cmocka_unit_test(test_quiz_select),
        cmocka_unit_test(test_array_grow),
        cmocka_unit_test(test_strmap_interns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
