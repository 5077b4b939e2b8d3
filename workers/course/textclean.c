/* textclean.c - see textclean.h and docs/course-generation.md ("Clean text"). */
#include "textclean.h"

#include "strbuf.h"
#include "strmap.h"
#include "utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EDGE_LINES 3      /* without geometry: the first and last lines of a page are edges */
#define EDGE_TOP 0.12f    /* with geometry: a line starting in the top 12% of the page */
#define EDGE_BOTTOM 0.85f /* ... or starting below 85% of the page height */
#define MIN_REPEAT 3      /* a running line repeats on at least this many pages */
#define LOCAL_REPEAT 4    /* a chapter's running header: on this many pages ... */
#define LOCAL_DENSITY 0.4 /* ... and on this share of the pages between its first and last */
#define TRACK_SHARE 0.6   /* share of occurrences whose number follows the page number */
#define PROMINENT 1.12f   /* a line this much larger than the body text is a heading */

/* ---------------------------------------------------------------- normalising */

static bool
s_is_control(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == 0x200b || cp == 0x200e ||
           cp == 0x200f || cp == 0xfeff;
}

/* Spelled-out forms of the Latin ligatures U+FB00..U+FB06, NULL for other characters. */
static const char *
s_ligature(uint32_t cp)
{
    static const char *const forms[] = {"ff", "fi", "fl", "ffi", "ffl", "ft", "st"};
    return cp >= 0xfb00 && cp <= 0xfb06 ? forms[cp - 0xfb00] : NULL;
}

void
textclean_normalise(const char *s, size_t len, strbuf_t *out)
{
    bool pending_space = false;
    bool any = false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += utf8_decode(s + i, len - i, &cp);
        if (utf8_is_space(cp) && cp != 0x200b && cp != 0xfeff) {
            pending_space = any;
            continue;
        }
        if (s_is_control(cp))
            continue;
        if (pending_space)
            strbuf_append_char(out, ' ');
        pending_space = false;
        any = true;
        const char *lig = s_ligature(cp);
        if (lig != NULL)
            strbuf_append_cstr(out, lig);
        else
            strbuf_append_cp(out, cp);
    }
}

/* ---------------------------------------------------------------- line keys */

/* What a line looks like once its case, spacing and numbers are set aside. */
typedef struct {
    strbuf_t exact;  /* lower case, whitespace normalised */
    strbuf_t digits; /* the same with every run of digits as '#' (roman page numbers too) */
    int letters;     /* letters in the line */
    int page_words;  /* letters that belong to words such as "page", "of", "seite" */
    int numbers;     /* runs of digits */
    long first;      /* value of the first run of digits (capped), -1 when none */
    long last;       /* value of the last one */
} key_t_;

static bool
s_is_page_word(const char *w, size_t n)
{
    /* With their lengths: this runs for every word of every line (a strlen per entry was a
     * tenth of the line keys' cost). */
#define W(s)                                                                                       \
    {                                                                                              \
        s, sizeof s - 1                                                                            \
    }
    static const struct {
        const char *word;
        size_t len;
    } words[] = {W("page"), W("pages"),  W("p"),      W("pp"),    W("pg"),    W("seite"),
                 W("s"),    W("página"), W("pagina"), W("of"),    W("sur"),   W("de"),
                 W("von"),  W("van"),    W("from"),   W("sheet"), W("folio"), W("slide")};
#undef W
    if (n > 7) /* "página" is the longest: 7 bytes */
        return false;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (words[i].len == n && memcmp(words[i].word, w, n) == 0)
            return true;
    }
    return false;
}

static bool
s_is_roman(const char *s, size_t n)
{
    if (n == 0 || n > 7)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (strchr("ivxlcdm", s[i]) == NULL)
            return false;
    }
    return true;
}

/* Count the letters of the words of k->exact, and those of page words. */
static void
s_key_words(key_t_ *k)
{
    const char *s = k->exact.data;
    size_t n = k->exact.len;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t step = utf8_decode(s + i, n - i, &cp);
        if (!utf8_is_letter(cp)) {
            i += step;
            continue;
        }
        size_t start = i;
        int letters = 0;
        while (i < n) {
            step = utf8_decode(s + i, n - i, &cp);
            if (!utf8_is_letter(cp))
                break;
            letters++;
            i += step;
        }
        k->letters += letters;
        if (s_is_page_word(s + start, i - start))
            k->page_words += letters;
    }
}

static void
s_key_build(key_t_ *k, const text_line_t *line, strbuf_t *scratch)
{
    strbuf_reset(&k->exact);
    strbuf_reset(&k->digits);
    k->letters = k->page_words = k->numbers = 0;
    k->first = k->last = -1;
    strbuf_reset(scratch);
    textclean_normalise(line->text, line->len, scratch);
    for (size_t i = 0; i < scratch->len;) {
        unsigned char c = (unsigned char)scratch->data[i];
        if (c < 0x80) { /* ASCII: utf8_lower's own answer, without decoding */
            strbuf_append_char(&k->exact, (char)(c >= 'A' && c <= 'Z' ? c + 0x20 : c));
            i++;
            continue;
        }
        uint32_t cp;
        i += utf8_decode(scratch->data + i, scratch->len - i, &cp);
        strbuf_append_cp(&k->exact, utf8_lower(cp));
    }
    const char *s = k->exact.data != NULL ? k->exact.data : "";
    for (size_t i = 0; i < k->exact.len;) {
        if (s[i] >= '0' && s[i] <= '9') {
            long value = 0;
            while (i < k->exact.len && s[i] >= '0' && s[i] <= '9') {
                if (value < 1000000)
                    value = value * 10 + (s[i] - '0');
                i++;
            }
            if (k->numbers++ == 0)
                k->first = value;
            k->last = value;
            strbuf_append_char(&k->digits, '#');
            continue;
        }
        size_t run = i; /* up to the next digit, in one append */
        while (i < k->exact.len && !(s[i] >= '0' && s[i] <= '9'))
            i++;
        strbuf_append(&k->digits, s + run, i - run);
    }
    if (s_is_roman(s, k->exact.len)) {
        strbuf_reset(&k->digits);
        strbuf_append_char(&k->digits, '#');
        k->numbers = 1;
    }
    s_key_words(k);
}

/* A page number alone, perhaps with words such as "Page" or "of": "12", "- 12 -", "iv",
 * "Page 3 of 10", "3 / 92". */
static bool
s_key_is_page_number(const key_t_ *k)
{
    return k->numbers > 0 && k->letters == k->page_words && k->exact.len <= 40;
}

/* ---------------------------------------------------------------- body size */

#define SIZES_MAX 512 /* distinct font sizes tracked */

float
textclean_body_size(const text_line_t *lines, size_t count)
{
    int keys[SIZES_MAX];
    size_t weights[SIZES_MAX];
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (lines[i].running || lines[i].size <= 0)
            continue;
        int key = (int)(lines[i].size * 2 + 0.5f); /* half points */
        size_t k = 0;
        while (k < n && keys[k] != key)
            k++;
        if (k == n) {
            if (n == SIZES_MAX)
                continue;
            keys[n] = key;
            weights[n++] = 0;
        }
        weights[k] += lines[i].len;
    }
    size_t best = 0;
    for (size_t k = 1; k < n; k++) {
        if (weights[k] > weights[best] || (weights[k] == weights[best] && keys[k] < keys[best]))
            best = k;
    }
    return n > 0 ? (float)keys[best] / 2 : 0;
}

/* ---------------------------------------------------------------- running lines */

/* Where a key was seen at a page edge. */
typedef struct {
    long id;
    int page;
    long first;
    long last;
} seen_t;

typedef struct {
    int pages;      /* distinct pages */
    int first_page; /* first and last page where it was seen */
    int last_page;
    int letters;
    bool numbered; /* a digits key of a line with letters: needs the page-number check */
    bool pagenum;  /* a page number alone */
    bool running;
} stat_t;

typedef struct {
    strmap_t *keys;
    stat_t *stats;
    size_t stats_len; /* entries initialised */
    size_t stats_cap;
    seen_t *seen;
    size_t seen_len;
    size_t seen_cap;
} counter_t;

static void
s_counter_free(counter_t *c)
{
    strmap_destroy(&c->keys);
    free(c->stats);
    free(c->seen);
    memset(c, 0, sizeof *c);
}

/* Count `key` (with its zone prefix) once for `page`; returns its id or -1. */
static long
s_count(counter_t *c, const char *zone, const strbuf_t *key, int page, int letters)
{
    strbuf_t full;
    strbuf_init(&full);
    strbuf_append_cstr(&full, zone);
    strbuf_append(&full, key->data != NULL ? key->data : "", key->len);
    long id = strbuf_failed(&full) ? -1 : strmap_intern(c->keys, full.data, full.len);
    strbuf_free(&full);
    if (id < 0)
        return -1;
    if ((size_t)id >= c->stats_len) {
        if (array_grow((void **)&c->stats, &c->stats_cap, (size_t)id + 1, sizeof *c->stats) != 0)
            return -1;
        memset(&c->stats[c->stats_len], 0, ((size_t)id + 1 - c->stats_len) * sizeof *c->stats);
        c->stats_len = (size_t)id + 1;
    }
    stat_t *st = &c->stats[id];
    if (st->last_page != page) {
        if (st->pages == 0)
            st->first_page = page;
        st->pages++;
        st->last_page = page;
    }
    st->letters = letters;
    return id;
}

static int
s_long_cmp(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

/* The most common value of page - number among the occurrences of one key, as a share. */
static double
s_tracking_share(seen_t *seen, size_t n, bool use_last)
{
    if (n == 0)
        return 0;
    long *d = malloc(n * sizeof *d);
    if (d == NULL)
        return 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        long v = use_last ? seen[i].last : seen[i].first;
        if (v >= 0)
            d[m++] = seen[i].page - v;
    }
    qsort(d, m, sizeof *d, s_long_cmp);
    size_t best = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && d[j] == d[i])
            j++;
        if (j - i > best)
            best = j - i;
        i = j;
    }
    free(d);
    return (double)best / (double)n;
}

static int
s_seen_cmp(const void *a, const void *b)
{
    const seen_t *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->page < y->page ? -1 : x->page > y->page;
}

/* Decide which edge keys are running, given the number of pages that have text. */
static void
s_decide(counter_t *c, int text_pages)
{
    if (c->seen_len > 0) /* qsort(NULL, 0, ...) is undefined behaviour */
        qsort(c->seen, c->seen_len, sizeof *c->seen, s_seen_cmp);
    size_t n = strmap_count(c->keys);
    for (size_t id = 0; id < n; id++) {
        stat_t *st = &c->stats[id];
        bool global = st->pages >= MIN_REPEAT && 2 * st->pages >= text_pages;
        int span = st->last_page - st->first_page + 1;
        bool local =
            st->pages >= LOCAL_REPEAT && st->letters >= 3 && st->pages >= LOCAL_DENSITY * span;
        if (st->pagenum)
            st->running = st->pages >= MIN_REPEAT;
        else
            st->running = global || local;
    }
    /* A numbered line with words ("Chapter 3 Usage 15", "Page 3 of 10") is running only when
     * one of its numbers follows the page number; headings such as "Section 2.1" that open
     * many pages do not. */
    for (size_t i = 0; i < c->seen_len;) {
        size_t j = i;
        while (j < c->seen_len && c->seen[j].id == c->seen[i].id)
            j++;
        stat_t *st = &c->stats[c->seen[i].id];
        if (st->running && st->numbered && !st->pagenum) {
            double share = s_tracking_share(c->seen + i, j - i, false);
            double share_last = s_tracking_share(c->seen + i, j - i, true);
            st->running = share >= TRACK_SHARE || share_last >= TRACK_SHARE;
        }
        i = j;
    }
}

void
textclean_page_lines(const text_line_t *lines, size_t count, int page, size_t *begin, size_t *end)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (lines[mid].page < page)
            lo = mid + 1;
        else
            hi = mid;
    }
    *begin = lo;
    size_t e = lo;
    while (e < count && lines[e].page == page)
        e++;
    *end = e;
}

static bool
s_blank(const text_line_t *l)
{
    for (size_t i = 0; i < l->len; i++) {
        unsigned char c = (unsigned char)l->text[i];
        if (c > ' ' && c != 0xc2) /* NBSP is c2 a0: a line of only NBSPs is rare enough */
            return false;
    }
    return true;
}

/* 't' (top), 'b' (bottom) or 0 (not at an edge) for line i of the page lines[b..e). */
static char
s_zone(const text_line_t *lines, size_t b, size_t e, size_t i, const float *heights)
{
    const text_line_t *l = &lines[i];
    float h = heights != NULL ? heights[l->page - 1] : 0;
    if (h > 0 && text_line_has_box(l)) {
        if (l->y0 < EDGE_TOP * h)
            return 't';
        if (l->y0 > EDGE_BOTTOM * h)
            return 'b';
        return 0;
    }
    /* Only the first and last EDGE_LINES non-blank lines matter: look no further. */
    size_t before = 0, after = 0;
    for (size_t k = b; k < i && before < EDGE_LINES; k++)
        before += !s_blank(&lines[k]);
    if (before < EDGE_LINES)
        return 't';
    for (size_t k = e; k > i + 1 && after < EDGE_LINES; k--)
        after += !s_blank(&lines[k - 1]);
    if (after < EDGE_LINES)
        return 'b';
    return 0;
}

/* Count one key of an edge line. */
static long
s_count_edge(counter_t *c, const char *prefix, const strbuf_t *key, const key_t_ *k, int page,
             bool pagenum, bool numbered)
{
    long id = s_count(c, prefix, key, page, k->letters);
    if (id < 0 ||
        array_grow((void **)&c->seen, &c->seen_cap, c->seen_len + 1, sizeof *c->seen) != 0)
        return -1;
    c->stats[id].pagenum = pagenum;
    c->stats[id].numbered = numbered;
    c->seen[c->seen_len++] = (seen_t){id, page, k->first, k->last};
    return id;
}

/* Count the edge lines of every page. ids[2 i] receives the key id of line i (-1: none): its
 * exact text, or a page number's digit pattern; ids[2 i + 1] that of a line with words and
 * numbers whose digits are set aside ("Page 3 of 10", "Chapter 3 Usage 15"). */
static int
s_count_edges(counter_t *c, const text_line_t *lines, size_t count, int pages, const float *heights,
              long *ids)
{
    float body = textclean_body_size(lines, count);
    key_t_ k = {0};
    strbuf_t scratch;
    strbuf_init(&scratch);
    int rc = 0;
    for (int p = 1; p <= pages && rc == 0; p++) {
        size_t b, e;
        textclean_page_lines(lines, count, p, &b, &e);
        for (size_t i = b; i < e && rc == 0; i++) {
            char zone = s_blank(&lines[i]) ? 0 : s_zone(lines, b, e, i, heights);
            if (zone == 0)
                continue;
            s_key_build(&k, &lines[i], &scratch);
            /* A heading ("Section 4.1" opening page 4) is no page number. */
            bool prominent = lines[i].bold || (body > 0 && lines[i].size > PROMINENT * body);
            bool pagenum = !prominent && s_key_is_page_number(&k);
            char prefix[3] = {zone, pagenum ? 'p' : 'e', '\0'};
            ids[2 * i] =
                s_count_edge(c, prefix, pagenum ? &k.digits : &k.exact, &k, p, pagenum, false);
            if (!pagenum && !prominent && k.numbers > 0) {
                prefix[1] = 'n';
                ids[2 * i + 1] = s_count_edge(c, prefix, &k.digits, &k, p, false, true);
                rc = ids[2 * i + 1] < 0 ? -1 : rc;
            }
            rc = ids[2 * i] < 0 ? -1 : rc;
        }
    }
    if (strbuf_failed(&k.exact) || strbuf_failed(&k.digits) || strbuf_failed(&scratch))
        rc = -1;
    strbuf_free(&k.exact);
    strbuf_free(&k.digits);
    strbuf_free(&scratch);
    return rc;
}

/* Lines anywhere whose exact text (with a letter) is on more than half the pages: a watermark,
 * a running title that poppler reads in the middle of the page. */
static int
s_mark_everywhere(text_line_t *lines, size_t count, int pages, int text_pages, bool *marks)
{
    counter_t c = {0};
    c.keys = strmap_new();
    long *ids = malloc((count + 1) * sizeof *ids);
    key_t_ k = {0};
    strbuf_t scratch;
    strbuf_init(&scratch);
    int rc = c.keys != NULL && ids != NULL ? 0 : -1;
    for (size_t i = 0; i < count && rc == 0; i++) {
        ids[i] = -1;
        if (s_blank(&lines[i]))
            continue;
        s_key_build(&k, &lines[i], &scratch);
        if (k.letters < 1)
            continue;
        ids[i] = s_count(&c, "a", &k.exact, lines[i].page, k.letters);
        if (ids[i] < 0)
            rc = -1;
    }
    for (size_t i = 0; i < count && rc == 0; i++) {
        if (ids[i] >= 0) {
            const stat_t *st = &c.stats[ids[i]];
            marks[i] = marks[i] || (st->pages >= MIN_REPEAT && 2 * st->pages > text_pages);
        }
    }
    (void)pages;
    if (strbuf_failed(&k.exact) || strbuf_failed(&k.digits) || strbuf_failed(&scratch))
        rc = -1;
    strbuf_free(&k.exact);
    strbuf_free(&k.digits);
    strbuf_free(&scratch);
    free(ids);
    s_counter_free(&c);
    return rc;
}

static int
s_text_pages(const text_line_t *lines, size_t count)
{
    int n = 0, last = 0;
    for (size_t i = 0; i < count; i++) {
        if (lines[i].page != last && !s_blank(&lines[i])) {
            n++;
            last = lines[i].page;
        }
    }
    return n;
}

int
textclean_mark_running(text_line_t *lines, size_t count, int pages, const float *page_heights)
{
    if (count == 0)
        return 0;
    counter_t c = {0};
    c.keys = strmap_new();
    long *ids = malloc(2 * count * sizeof *ids);
    bool *marks = calloc(count, sizeof *marks);
    int rc = -1;
    if (c.keys == NULL || ids == NULL || marks == NULL)
        goto done;
    for (size_t i = 0; i < 2 * count; i++)
        ids[i] = -1;
    int text_pages = s_text_pages(lines, count);
    if (s_count_edges(&c, lines, count, pages, page_heights, ids) != 0)
        goto done;
    s_decide(&c, text_pages);
    for (size_t i = 0; i < count; i++)
        marks[i] = (ids[2 * i] >= 0 && c.stats[ids[2 * i]].running) ||
                   (ids[2 * i + 1] >= 0 && c.stats[ids[2 * i + 1]].running);
    if (s_mark_everywhere(lines, count, pages, text_pages, marks) != 0)
        goto done;
    for (size_t i = 0; i < count; i++)
        lines[i].running = marks[i];
    rc = 0;
done:
    free(ids);
    free(marks);
    s_counter_free(&c);
    return rc;
}

/* ---------------------------------------------------------------- titles */

/* A title's comparable form: lower case, letters and digits only, single spaces, without a
 * leading section number or "chapter"-like word with its number. */
static void
s_title_key(const char *s, size_t len, strbuf_t *out)
{
    strbuf_t lower;
    strbuf_init(&lower);
    bool space = false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += utf8_decode(s + i, len - i, &cp);
        if (utf8_is_word(cp)) {
            if (space && lower.len > 0)
                strbuf_append_char(&lower, ' ');
            space = false;
            strbuf_append_cp(&lower, utf8_lower(cp));
        } else if (cp != '.') {
            space = true;
        }
    }
    const char *t = lower.data != NULL ? lower.data : "";
    size_t i = 0;
    static const char *const words[] = {"chapter ", "chapitre ", "kapitel ", "capítulo ", "part ",
                                        "partie ",  "teil ",     "parte ",   "section "};
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        size_t n = strlen(words[w]);
        if (lower.len > n && memcmp(t, words[w], n) == 0) {
            i = n;
            break;
        }
    }
    size_t digits = i;
    while (digits < lower.len && ((t[digits] >= '0' && t[digits] <= '9')))
        digits++;
    if (digits > i && (digits == lower.len || t[digits] == ' '))
        i = digits < lower.len ? digits + 1 : digits;
    else if (i > 0)
        i = 0; /* "Part of the problem": no number after the word */
    strbuf_append(out, t + i, lower.len - i);
    strbuf_free(&lower);
}

int
textclean_mark_titles(text_line_t *lines, size_t count, const char *const *titles, size_t ntitles,
                      const float *page_heights, float max_size)
{
    strmap_t *keys = strmap_new();
    strbuf_t key;
    strbuf_init(&key);
    int rc = keys != NULL ? 0 : -1;
    for (size_t i = 0; i < ntitles && rc == 0; i++) {
        strbuf_reset(&key);
        s_title_key(titles[i], strlen(titles[i]), &key);
        if (key.len >= 3 && !strbuf_failed(&key) && strmap_intern(keys, key.data, key.len) < 0)
            rc = -1;
    }
    size_t b = 0, e = 0; /* the lines of the current line's page */
    for (size_t i = 0; i < count && rc == 0 && strmap_count(keys) > 0; i++) {
        text_line_t *l = &lines[i];
        if (i >= e)
            textclean_page_lines(lines, count, l->page, &b, &e);
        if (l->running || l->bold || s_blank(l) || (max_size > 0 && l->size > max_size))
            continue;
        if (s_zone(lines, b, e, i, page_heights) == 0)
            continue;
        strbuf_reset(&key);
        s_title_key(l->text, l->len, &key);
        if (key.len > 0 && !strbuf_failed(&key) && strmap_find(keys, key.data, key.len) >= 0)
            l->running = true;
    }
    if (strbuf_failed(&key))
        rc = -1;
    strbuf_free(&key);
    strmap_destroy(&keys);
    return rc;
}

/* ---------------------------------------------------------------- rendering */

typedef enum {
    SEP_SPACE,     /* same paragraph */
    SEP_LINE,      /* a new line: code, list items */
    SEP_PARAGRAPH, /* a blank line */
} sep_t;

/* Layout of one page's kept lines, for paragraph decisions. */
typedef struct {
    float pitch;  /* usual distance between the tops of consecutive lines; 0 unknown */
    float right;  /* right edge of full lines; 0 unknown */
    size_t chars; /* usual length of a full line, in bytes */
} layout_t;

static int
s_float_cmp(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static int
s_size_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static bool
s_kept(const text_line_t *l)
{
    return !l->running && !s_blank(l);
}

static void
s_layout(const text_line_t *lines, size_t b, size_t e, layout_t *out)
{
    memset(out, 0, sizeof *out);
    size_t n = e - b;
    if (n == 0)
        return;
    float *pitch = malloc(n * sizeof *pitch);
    float *right = malloc(n * sizeof *right);
    size_t *chars = malloc(n * sizeof *chars);
    if (pitch == NULL || right == NULL || chars == NULL)
        goto done;
    size_t np = 0, nr = 0, nc = 0;
    const text_line_t *prev = NULL;
    for (size_t i = b; i < e; i++) {
        const text_line_t *l = &lines[i];
        if (!s_kept(l))
            continue;
        if (l->len >= 20)
            chars[nc++] = l->len;
        if (text_line_has_box(l) && l->len >= 20)
            right[nr++] = l->x1;
        if (prev != NULL && text_line_has_box(l) && text_line_has_box(prev) && !l->mono) {
            float d = l->y0 - prev->y0;
            float h = l->y1 - l->y0;
            if (d > 0.5f * h && d < 3 * h)
                pitch[np++] = d;
        }
        prev = l;
    }
    if (np > 0) {
        qsort(pitch, np, sizeof *pitch, s_float_cmp);
        out->pitch = pitch[np / 2];
    }
    if (nr > 0) {
        qsort(right, nr, sizeof *right, s_float_cmp);
        out->right = right[(nr - 1) * 8 / 10];
    }
    if (nc > 0) {
        qsort(chars, nc, sizeof *chars, s_size_cmp);
        out->chars = chars[(nc - 1) * 8 / 10];
    }
done:
    free(pitch);
    free(right);
    free(chars);
}

/* The last character of s[0..len) that is not a closing quote or bracket. */
static uint32_t
s_last_char(const char *s, size_t len)
{
    size_t i = len;
    while (i > 0) {
        size_t start = utf8_char_start(s, i - 1);
        uint32_t cp;
        utf8_decode(s + start, i - start, &cp);
        if (!(cp == ')' || cp == ']' || cp == '"' || cp == '\'' || cp == 0x2019 || cp == 0x201d ||
              cp == 0xbb || cp == ' '))
            return cp;
        i = start;
    }
    return 0;
}

static bool
s_ends_sentence(const char *s, size_t len)
{
    uint32_t cp = s_last_char(s, len);
    return cp == '.' || cp == '!' || cp == '?' || cp == ':' || cp == 0x2026 || cp == 0x3002 ||
           cp == 0xff01 || cp == 0xff1f;
}

/* A list item: a bullet, or "1." / "a)" / "(iv)" followed by a space. */
static bool
s_starts_item(const char *s, size_t len)
{
    if (len == 0)
        return false;
    uint32_t cp;
    size_t n = utf8_decode(s, len, &cp);
    static const uint32_t bullets[] = {0x2022, 0x25e6, 0x25aa, 0x25ab, 0x2023, 0x2043, 0x2219,
                                       0xb7,   0x2013, 0x2014, '-',    '*',    0x25ba, 0x25b6,
                                       0x2713, 0x2714, 0x25a1, 0x25a0, 0x27a2, 0xf0b7};
    for (size_t i = 0; i < sizeof bullets / sizeof bullets[0]; i++) {
        if (cp == bullets[i])
            return n == len || s[n] == ' ';
    }
    size_t i = s[0] == '(' ? 1 : 0;
    size_t start = i;
    while (i < len && i - start < 4 &&
           ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z')))
        i++;
    if (i == start || i + 1 >= len)
        return false;
    bool digits = s[start] >= '0' && s[start] <= '9';
    if (!digits && i - start > 1 && !s_is_roman(s + start, i - start))
        return false;
    return (s[i] == '.' || s[i] == ')') && s[i + 1] == ' ';
}

/* How the kept line `cur` continues after `prev` on the same page. */
static sep_t
s_separator(const text_line_t *prev, const char *ptext, size_t plen, const text_line_t *cur,
            const char *ctext, size_t clen, const layout_t *layout, bool in_list)
{
    if (prev->mono && cur->mono)
        return SEP_LINE;
    if (prev->mono != cur->mono)
        return SEP_PARAGRAPH;
    bool geometry = text_line_has_box(prev) && text_line_has_box(cur);
    if (geometry) {
        float h = prev->y1 - prev->y0;
        if (cur->y0 < prev->y0 - 0.5f * h)
            return SEP_PARAGRAPH; /* back up: a new column or block */
        if (cur->y0 < prev->y0 + 0.5f * h)
            return SEP_SPACE; /* the same baseline */
        if (layout->pitch > 0 && cur->y0 - prev->y0 > 1.35f * layout->pitch)
            return SEP_PARAGRAPH;
    }
    float big = prev->size > cur->size ? prev->size : cur->size;
    float diff = prev->size > cur->size ? prev->size - cur->size : cur->size - prev->size;
    if (big > 0 && diff > 0.12f * big)
        return SEP_PARAGRAPH; /* a heading and the text after it */
    if (prev->bold != cur->bold && (prev->bold ? plen : clen) < 80)
        return SEP_PARAGRAPH;
    if (s_starts_item(ctext, clen))
        return in_list ? SEP_LINE : SEP_PARAGRAPH; /* the next item, or a list after text */
    if (s_ends_sentence(ptext, plen)) {
        bool short_line = geometry && layout->right > 0
                              ? prev->x1 < layout->right - 0.15f * (layout->right - prev->x0)
                              : layout->chars > 0 && plen * 10 < layout->chars * 7;
        if (short_line)
            return SEP_PARAGRAPH;
    }
    return SEP_SPACE;
}

/* Bytes of the dash ending out after a letter or digit (*letter: after a letter), 0 when out
 * does not end so. */
static size_t
s_trailing_hyphen(const strbuf_t *out, bool *letter)
{
    *letter = false;
    if (out->len < 2)
        return 0;
    size_t start = utf8_char_start(out->data, out->len - 1);
    uint32_t dash;
    utf8_decode(out->data + start, out->len - start, &dash);
    if (!utf8_is_dash(dash) || start == 0)
        return 0;
    size_t before = utf8_char_start(out->data, start - 1);
    uint32_t cp;
    utf8_decode(out->data + before, start - before, &cp);
    *letter = utf8_is_letter(cp);
    return utf8_is_word(cp) ? out->len - start : 0;
}

static uint32_t
s_first_char(const char *s, size_t len)
{
    uint32_t cp = 0;
    if (len > 0)
        utf8_decode(s, len, &cp);
    return cp;
}

/* Written without spaces between words: Chinese, Japanese, their punctuation and full-width
 * forms. A line break between two such characters is no space. */
static bool
s_unspaced(uint32_t cp)
{
    return utf8_is_cjk(cp) || (cp >= 0x3000 && cp <= 0x303f) || (cp >= 0xff00 && cp <= 0xffef);
}

static uint32_t
s_out_last_char(const strbuf_t *out)
{
    if (out->len == 0)
        return 0;
    size_t start = utf8_char_start(out->data, out->len - 1);
    uint32_t cp;
    utf8_decode(out->data + start, out->len - start, &cp);
    return cp;
}

/* Append line text `t` after the separator; joins a word hyphenated at the end of out. */
static void
s_append_line(strbuf_t *out, bool first_line, sep_t sep, const char *t, size_t tlen)
{
    if (first_line) {
        strbuf_append(out, t, tlen);
        return;
    }
    bool letter;
    size_t hyphen = s_trailing_hyphen(out, &letter);
    uint32_t first = s_first_char(t, tlen);
    if (hyphen > 0 && letter && sep == SEP_SPACE && utf8_is_lower(first)) {
        out->len -= hyphen; /* "informa-" + "tion" */
        out->data[out->len] = '\0';
    } else if (hyphen > 0 && sep == SEP_SPACE && utf8_is_word(first) &&
               out->data[out->len - 1] == '-') {
        /* "AMC-" + "TXT", "1999-" + "2007": split at a hyphen of its own, kept whole */
    } else if (sep == SEP_SPACE && s_unspaced(first) && s_unspaced(s_out_last_char(out))) {
        /* a Japanese or Chinese sentence that goes on at the next line */
    } else {
        strbuf_append_cstr(out, sep == SEP_PARAGRAPH ? "\n\n" : sep == SEP_LINE ? "\n" : " ");
    }
    strbuf_append(out, t, tlen);
}

void
textclean_render(const text_line_t *lines, size_t count, size_t begin, size_t end, int first_page,
                 int last_page, strbuf_t *out, size_t *page_offsets)
{
    strbuf_t line;
    strbuf_init(&line);
    const text_line_t *prev = NULL;
    strbuf_t prev_text;
    strbuf_init(&prev_text);
    bool in_list = false; /* the current paragraph is a list */
    for (int p = first_page; p <= last_page; p++) {
        size_t b, e;
        textclean_page_lines(lines, count, p, &b, &e);
        layout_t layout;
        s_layout(lines, b, e, &layout); /* of the whole page, whatever part is rendered */
        bool page_start = true;
        if (page_offsets != NULL)
            page_offsets[p - first_page] = out->len;
        for (size_t i = b > begin ? b : begin; i < e && i < end; i++) {
            const text_line_t *l = &lines[i];
            if (!s_kept(l))
                continue;
            strbuf_reset(&line);
            textclean_normalise(l->text, l->len, &line);
            if (line.len == 0)
                continue;
            sep_t sep = SEP_PARAGRAPH;
            if (prev != NULL && !page_start)
                sep = s_separator(prev, prev_text.data, prev_text.len, l, line.data, line.len,
                                  &layout, in_list);
            else if (prev != NULL && !s_ends_sentence(prev_text.data, prev_text.len) &&
                     utf8_is_lower(s_first_char(line.data, line.len)) && !l->mono)
                sep = SEP_SPACE; /* a sentence that goes on over the page break */
            s_append_line(out, prev == NULL, sep, line.data, line.len);
            if (prev == NULL || sep == SEP_PARAGRAPH)
                in_list = s_starts_item(line.data, line.len);
            if (page_start && page_offsets != NULL) {
                /* The page's text starts with this line (after any joined hyphen). */
                page_offsets[p - first_page] = out->len - line.len;
            }
            page_start = false;
            prev = l;
            strbuf_reset(&prev_text);
            strbuf_append(&prev_text, line.data, line.len);
        }
    }
    strbuf_free(&line);
    strbuf_free(&prev_text);
}

void
textclean_render_pages(const text_line_t *lines, size_t count, int first_page, int last_page,
                       strbuf_t *out, size_t *page_offsets)
{
    size_t begin, end, unused;
    textclean_page_lines(lines, count, first_page, &begin, &unused);
    textclean_page_lines(lines, count, last_page, &unused, &end);
    textclean_render(lines, count, begin, end, first_page, last_page, out, page_offsets);
}
