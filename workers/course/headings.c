/* headings.c - see headings.h and docs/course-generation.md. */
#include "headings.h"

#include "strbuf.h"
#include "textclean.h"
#include "utf8.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TOC_MIN_LINES 5      /* a table of contents page: this many lines ending in a number */
#define TOC_SHARE 0.4        /* ... making up this share of its lines */
#define STYLE_MAX_SHARE 0.3  /* a heading style holds at most this share of the characters */
#define STYLE_MAX_PER_PAGE 5 /* ... and at most this many headings per page it is used on */
#define NUMBERED_SHARE 0.7   /* a style whose headings are numbered this often is "numbered" */

/* A style: a heading size in half points, or the body size in bold (numbered headings). */
typedef struct {
    int half_points;
    bool bold; /* only for body-size styles */
} style_t;

typedef struct {
    style_t style;
    int candidates; /* lines of headings in this style */
    int others;     /* other lines in this style */
    int pages;      /* distinct pages with a heading in it */
    int last_page;
    int headings; /* headings in it */
    int numbered; /* ... of which numbered */
    size_t chars;
    int level; /* 0 = not a heading style */
} style_stat_t;

typedef struct {
    style_t style;
    int page;
    size_t line;
    int nlines;
    bool numbered;
    char *title; /* owned */
} candidate_t;

typedef struct {
    const text_line_t *lines;
    size_t count;
    float body;
    int pages;
    bool *toc; /* toc[p] for pages 1..pages */
    style_stat_t *styles;
    size_t nstyles;
    size_t styles_cap;
    candidate_t *cands;
    size_t ncands;
    size_t cands_cap;
    size_t total_chars;
} detector_t;

static bool
s_usable(const text_line_t *l)
{
    if (l->running || l->mono || l->size <= 0)
        return false;
    for (size_t i = 0; i < l->len; i++) {
        if ((unsigned char)l->text[i] > ' ')
            return true;
    }
    return false;
}

static int
s_half_points(float size)
{
    return (int)(size * 2 + 0.5f);
}

/* ---------------------------------------------------------------- tables of contents */

static bool
s_ends_with_number(const text_line_t *l)
{
    size_t n = l->len;
    while (n > 0 && (unsigned char)l->text[n - 1] <= ' ')
        n--;
    if (n == 0 || l->text[n - 1] < '0' || l->text[n - 1] > '9')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)l->text[i];
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
            return true;
        if (c >= 0x80)
            return true; /* a letter of another script, most likely */
    }
    return false;
}

/* Pages of a table of contents: many lines ending with a page number. Their entries look
 * like headings (bold, numbered, short) and must not become modules. */
static void
s_find_toc(detector_t *d)
{
    for (int p = 1; p <= d->pages; p++) {
        size_t b, e;
        textclean_page_lines(d->lines, d->count, p, &b, &e);
        int lines = 0, numbered = 0;
        for (size_t i = b; i < e; i++) {
            if (!s_usable(&d->lines[i]))
                continue;
            lines++;
            numbered += s_ends_with_number(&d->lines[i]);
        }
        d->toc[p] = numbered >= TOC_MIN_LINES && numbered >= TOC_SHARE * lines;
    }
}

/* ---------------------------------------------------------------- numbering */

static size_t
s_skip_number(const char *s, size_t len, size_t i, int *depth)
{
    size_t start = i;
    while (i < len) {
        size_t digits = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == digits)
            break;
        (*depth)++;
        if (i < len && s[i] == '.' && i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '9')
            i++;
        else
            break;
    }
    if (*depth > 0 && i < len && (s[i] == '.' || s[i] == ')'))
        i++;
    return *depth > 0 ? i : start;
}

int
headings_numbering(const char *s, size_t len)
{
    static const char *const words[] = {
        "chapter ", "chapitre ", "kapitel ",  "capítulo ", "capitulo ", "part ",    "partie ",
        "teil ",    "parte ",    "section ",  "lesson ",   "leçon ",    "lektion ", "lección ",
        "unit ",    "module ",   "appendix ", "annexe ",   "anhang ",   "anexo "};
    size_t i = 0;
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        size_t n = strlen(words[w]);
        if (len > n && strncasecmp(s, words[w], n) == 0) {
            i = n;
            if (s[i] >= 'A' && s[i] <= 'Z' && (i + 1 == len || s[i + 1] == ' ' || s[i + 1] == '.'))
                return 1; /* "Appendix A" */
            int depth = 0;
            if (s_skip_number(s, len, i, &depth) > i)
                return 1;
            return 0;
        }
    }
    int depth = 0;
    size_t end = s_skip_number(s, len, 0, &depth);
    if (depth == 0)
        return 0;
    /* "2.3 Roots", "4. Results", or "3Usage" from a PDF without a space after the number. */
    if (end == len || s[end] == ' ' || (unsigned char)s[end] >= 0x80 ||
        (s[end] >= 'A' && s[end] <= 'Z'))
        return depth;
    return 0;
}

/* ---------------------------------------------------------------- candidates */

static style_t
s_style_of(const detector_t *d, const text_line_t *l)
{
    style_t st = {s_half_points(l->size), false};
    if (l->size < d->body * HEADINGS_SIZE_RATIO) {
        st.half_points = s_half_points(d->body);
        st.bold = l->bold;
    }
    return st;
}

static bool
s_style_eq(style_t a, style_t b)
{
    return a.half_points == b.half_points && a.bold == b.bold;
}

/* A style that can hold headings at all. */
static bool
s_heading_style(const detector_t *d, style_t st)
{
    return st.half_points > s_half_points(d->body) || st.bold;
}

static style_stat_t *
s_stat(detector_t *d, style_t st)
{
    for (size_t i = 0; i < d->nstyles; i++) {
        if (s_style_eq(d->styles[i].style, st))
            return &d->styles[i];
    }
    if (array_grow((void **)&d->styles, &d->styles_cap, d->nstyles + 1, sizeof *d->styles) != 0)
        return NULL;
    style_stat_t *s = &d->styles[d->nstyles++];
    memset(s, 0, sizeof *s);
    s->style = st;
    return s;
}

/* Does line j continue the heading whose last line is i (same page, style, next to it)? */
static bool
s_continues(const detector_t *d, size_t i, size_t j, bool number_only)
{
    const text_line_t *a = &d->lines[i], *b = &d->lines[j];
    if (a->page != b->page || !s_style_eq(s_style_of(d, a), s_style_of(d, b)))
        return false;
    if (!text_line_has_box(a) || !text_line_has_box(b))
        return number_only;
    float h = a->y1 - a->y0;
    if (b->y0 > a->y0 - 0.5f * h && b->y0 < a->y0 + 0.5f * h)
        return true; /* the same baseline: "1" and "Introduction" */
    return b->y0 >= a->y0 && b->y0 - a->y1 < 0.8f * a->size;
}

/* Title of a heading: its lines joined, whitespace normalised, a space after a number glued
 * to the first word ("3Usage" -> "3 Usage"), cut at HEADINGS_TITLE_MAX bytes. */
static char *
s_title(const detector_t *d, size_t first, size_t last)
{
    strbuf_t raw, out;
    strbuf_init(&raw);
    strbuf_init(&out);
    for (size_t i = first; i <= last; i++) {
        if (!s_usable(&d->lines[i]))
            continue;
        if (raw.len > 0)
            strbuf_append_char(&raw, ' ');
        strbuf_append(&raw, d->lines[i].text, d->lines[i].len);
    }
    textclean_normalise(raw.data != NULL ? raw.data : "", raw.len, &out);
    strbuf_free(&raw);
    const char *s = out.data != NULL ? out.data : "";
    size_t i = 0;
    while (i < out.len && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
        i++;
    if (i > 0 && i + 1 < out.len && s[i] >= 'A' && s[i] <= 'Z' && s[i + 1] >= 'a' &&
        s[i + 1] <= 'z') {
        strbuf_t fixed;
        strbuf_init(&fixed);
        strbuf_append(&fixed, s, i);
        strbuf_append_char(&fixed, ' ');
        strbuf_append(&fixed, s + i, out.len - i);
        strbuf_free(&out);
        out = fixed;
    }
    size_t cut = utf8_cut(out.data != NULL ? out.data : "", out.len, HEADINGS_TITLE_MAX);
    out.len = cut;
    if (out.data != NULL)
        out.data[cut] = '\0';
    strbuf_trim_spaces(&out);
    return strbuf_steal(&out, NULL);
}

/* Does a title read like a heading: short, mostly letters, not a sentence or a fragment? */
static bool
s_title_ok(const char *t, bool numbered)
{
    size_t len = strlen(t);
    size_t chars = 0, letters = 0, words = 0, signs = 0, run = 0, longest = 0;
    bool in_word = false;
    uint32_t first_letter = 0, last = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += utf8_decode(t + i, len - i, &cp);
        chars++;
        if (cp == ' ') {
            in_word = false;
            run = 0;
            continue;
        }
        if (!in_word)
            words++;
        in_word = true;
        if (utf8_is_letter(cp)) {
            letters++;
            run = utf8_is_cjk(cp) ? 3 : run + 1;
            longest = run > longest ? run : longest;
            if (first_letter == 0)
                first_letter = cp;
        } else {
            run = 0;
            signs += !utf8_is_digit(cp);
        }
        last = cp;
    }
    /* A word of three letters at least: not "DR", "AF", "T" (letters of a watermark). */
    if (longest < 3 || chars > HEADINGS_MAX_CHARS || words > HEADINGS_MAX_WORDS)
        return false;
    if (signs * 2 > letters + signs)
        return false; /* formulas, code, dot leaders */
    if (last == ',' || last == ';' || (last == '.' && words > 8 && !numbered))
        return false;
    return !utf8_is_lower(first_letter) || numbered;
}

static int
s_add_candidate(detector_t *d, style_t st, size_t first, size_t last, bool numbered, char *title)
{
    if (array_grow((void **)&d->cands, &d->cands_cap, d->ncands + 1, sizeof *d->cands) != 0) {
        free(title);
        return -1;
    }
    d->cands[d->ncands++] =
        (candidate_t){st, d->lines[first].page, first, (int)(last - first + 1), numbered, title};
    return 0;
}

bool
headings_listing_title(const char *s, size_t len)
{
    static const char *const names[] = {"index",
                                        "contents",
                                        "table of contents",
                                        "sommaire",
                                        "table des matières",
                                        "inhalt",
                                        "inhaltsverzeichnis",
                                        "índice",
                                        "indice"};
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '.' || s[len - 1] == ':'))
        len--;
    while (len > 0 && *s == ' ') {
        s++;
        len--;
    }
    for (size_t k = 0; k < sizeof names / sizeof *names; k++)
        if (strlen(names[k]) == len && strncasecmp(s, names[k], len) == 0)
            return true;
    return false;
}

/* Walk the lines: group heading-styled lines into blocks, keep the blocks that read like
 * headings, and count for each style how many of its lines are headings and how many not. */
static int
s_collect(detector_t *d)
{
    for (size_t i = 0; i < d->count;) {
        const text_line_t *l = &d->lines[i];
        /* A contents or index page's entries are no headings, but its own title is. */
        if (!s_usable(l) || (d->toc[l->page] && !headings_listing_title(l->text, l->len))) {
            i++;
            continue;
        }
        d->total_chars += l->len;
        style_t st = s_style_of(d, l);
        style_stat_t *stat = s_stat(d, st);
        if (stat == NULL)
            return -1;
        if (!s_heading_style(d, st)) {
            stat->others++;
            i++;
            continue;
        }
        size_t last = i;
        int depth = 0;
        size_t trimmed = l->len;
        while (trimmed > 0 && (unsigned char)l->text[trimmed - 1] <= ' ')
            trimmed--;
        bool number_only = s_skip_number(l->text, trimmed, 0, &depth) == trimmed;
        while (last + 1 < d->count && last - i + 1 < HEADINGS_MAX_LINES &&
               s_usable(&d->lines[last + 1]) && s_continues(d, last, last + 1, number_only)) {
            last++;
            d->total_chars += d->lines[last].len;
        }
        char *title = s_title(d, i, last);
        if (title == NULL)
            return -1;
        int numbered = headings_numbering(title, strlen(title));
        bool larger = st.half_points > s_half_points(d->body);
        bool ok = s_title_ok(title, numbered > 0) && (larger || numbered > 0);
        int nlines = (int)(last - i + 1);
        if (!ok) {
            free(title);
            stat->others += nlines;
            i = last + 1;
            continue;
        }
        stat->candidates += nlines;
        stat->headings++;
        stat->numbered += numbered > 0;
        stat->chars += strlen(title);
        if (stat->last_page != l->page) {
            stat->pages++;
            stat->last_page = l->page;
        }
        if (s_add_candidate(d, st, i, last, numbered > 0, title) != 0)
            return -1;
        i = last + 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- levels */

static int
s_style_rank_cmp(const void *a, const void *b)
{
    const style_stat_t *x = *(style_stat_t *const *)a, *y = *(style_stat_t *const *)b;
    if (x->style.half_points != y->style.half_points)
        return y->style.half_points - x->style.half_points;
    return (int)y->style.bold - (int)x->style.bold;
}

/* Heading styles: used for headings on two pages or more, for headings more often than for
 * other lines, and not for a large part of the text. Ranked by size: level 1 is the largest. */
static int
s_assign_levels(detector_t *d)
{
    style_stat_t **ranked = malloc((d->nstyles + 1) * sizeof *ranked);
    if (ranked == NULL)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < d->nstyles; i++) {
        style_stat_t *s = &d->styles[i];
        s->level = 0;
        if (s->candidates == 0 || s->pages < 2 || s->others > s->candidates)
            continue;
        if ((double)s->chars > STYLE_MAX_SHARE * (double)d->total_chars ||
            s->headings > STYLE_MAX_PER_PAGE * s->pages)
            continue;
        ranked[n++] = s;
    }
    qsort(ranked, n, sizeof *ranked, s_style_rank_cmp);
    for (size_t i = 0; i < n; i++)
        ranked[i]->level = (int)i + 1;
    free(ranked);
    return (int)n;
}

bool
headings_front_matter(const char *title)
{
    static const char *const names[] = {
        "acknowledg",   "preface",        "foreword",    "about this book", "about the author",
        "introduction", "dedication",     "prologue",    "remerciement",    "préface",
        "avant-propos", "vorwort",        "danksagung",  "einleitung",      "prefacio",
        "prólogo",      "agradecimiento", "introducción"};
    strbuf_t lower;
    strbuf_init(&lower);
    size_t len = strlen(title);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += utf8_decode(title + i, len - i, &cp);
        strbuf_append_cp(&lower, utf8_lower(cp));
    }
    bool found = false;
    for (size_t k = 0; k < sizeof names / sizeof *names && !strbuf_failed(&lower) && !found; k++)
        found =
            lower.len >= strlen(names[k]) && strncmp(lower.data, names[k], strlen(names[k])) == 0;
    strbuf_free(&lower);
    return found;
}

/* In a style whose headings are numbered ("1 License", "2 Prerequisites"), unnumbered ones
 * before the first numbered one belong to the front matter: a title page's author line set
 * in the chapter size, "Contents". They are dropped, but for the chapters of the front matter
 * (headings_front_matter: "Preface", "Acknowledgements"). Later ones ("Index") stay. */
static void
s_drop_front_unnumbered(detector_t *d)
{
    for (size_t si = 0; si < d->nstyles; si++) {
        style_stat_t *s = &d->styles[si];
        if (s->level == 0 || s->numbered < NUMBERED_SHARE * s->headings)
            continue;
        for (size_t i = 0; i < d->ncands; i++) {
            candidate_t *c = &d->cands[i];
            if (!s_style_eq(c->style, s->style))
                continue;
            if (c->numbered)
                break;
            if (c->title != NULL && headings_front_matter(c->title))
                continue;
            free(c->title);
            c->title = NULL;
        }
    }
}

static int
s_emit(detector_t *d, headings_t *out)
{
    s_drop_front_unnumbered(d);
    size_t n = 0;
    for (size_t i = 0; i < d->ncands; i++)
        n += s_stat(d, d->cands[i].style)->level > 0 && d->cands[i].title != NULL;
    out->items = calloc(n + 1, sizeof *out->items);
    if (out->items == NULL)
        return -1;
    for (size_t i = 0; i < d->ncands; i++) {
        candidate_t *c = &d->cands[i];
        int level = s_stat(d, c->style)->level;
        if (level == 0 || c->title == NULL)
            continue;
        out->items[out->count++] = (heading_t){level, c->page, c->line, c->nlines, c->title};
        c->title = NULL;
    }
    return 0;
}

int
headings_detect(const text_line_t *lines, size_t count, headings_t *out)
{
    memset(out, 0, sizeof *out);
    detector_t d = {.lines = lines, .count = count};
    d.pages = count > 0 ? lines[count - 1].page : 0;
    int rc = -1;
    d.toc = calloc((size_t)d.pages + 1, sizeof *d.toc);
    if (d.toc == NULL)
        goto done;
    d.body = textclean_body_size(lines, count);
    out->body_size = d.body;
    if (d.body <= 0) {
        rc = 0; /* no font sizes: no headings */
        goto done;
    }
    s_find_toc(&d);
    if (s_collect(&d) != 0)
        goto done;
    int levels = s_assign_levels(&d);
    if (levels < 0)
        goto done;
    out->levels = levels;
    if (s_emit(&d, out) != 0)
        goto done;
    rc = 0;
done:
    for (size_t i = 0; i < d.ncands; i++)
        free(d.cands[i].title);
    free(d.cands);
    free(d.styles);
    free(d.toc);
    if (rc != 0)
        headings_free(out);
    return rc;
}

void
headings_free(headings_t *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->count; i++)
        free(h->items[i].title);
    free(h->items);
    memset(h, 0, sizeof *h);
}
