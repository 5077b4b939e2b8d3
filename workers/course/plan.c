/* plan.c - see plan.h. */
#include "plan.h"

#include "headings.h"
#include "strbuf.h"
#include "textclean.h"
#include "utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_structure_names[] = {"pages", "outline", "headings"};

/* One planning run. Allocation failures set `failed`; the planner goes on with what it has
 * and plan_make reports -1 at the end, so the planning code reads like the method. */
typedef struct {
    docmodel_t *doc; /* borrowed */
    plan_t *plan;    /* borrowed */
    size_t *eline;   /* owned; with an outline: the line where each entry starts */
    bool failed;
} planner_t;

/* ---------------------------------------------------------------- helpers */

/* Is the line text of the document (not blank, not a running header or footer)? */
static bool
s_line_has_text(const text_line_t *line)
{
    const char *s = line->text;
    size_t len = line->len;
    docmodel_trim(&s, &len);
    return !line->running && len > 0;
}

static char *
s_strdup(planner_t *p, const char *s)
{
    char *copy = strdup(s);
    if (copy == NULL)
        p->failed = true;
    return copy;
}

static char *
s_pages_title(planner_t *p, int start, int end)
{
    char title[48];
    if (start == end)
        snprintf(title, sizeof title, "Page %d", start);
    else
        snprintf(title, sizeof title, "Pages %d-%d", start, end);
    return s_strdup(p, title);
}

/* A trimmed copy of raw (docmodel_title_dup); NULL when nothing is left or out of memory. */
static char *
s_title_dup(planner_t *p, const char *raw)
{
    char *title = NULL;
    if (docmodel_title_dup(raw, &title) != 0)
        p->failed = true;
    return title;
}

static void
s_lesson_free(plan_lesson_t *l)
{
    free(l->title);
    free(l->text);
    free(l->offsets);
}

static void
s_module_free(plan_module_t *m)
{
    free(m->title);
    for (size_t i = 0; i < m->nlessons; i++)
        s_lesson_free(&m->lessons[i]);
    free(m->lessons);
}

/* Append a module (taking ownership of title) and return it, or NULL when out of memory
 * (title is freed then). A NULL title only happens when out of memory. */
static plan_module_t *
s_module_add(planner_t *p, char *title, int start, int end, bool generated)
{
    plan_t *plan = p->plan;
    if (title == NULL || array_grow((void **)&plan->modules, &plan->modules_cap, plan->nmodules + 1,
                                    sizeof *plan->modules) != 0) {
        free(title);
        p->failed = true;
        return NULL;
    }
    plan->modules[plan->nmodules] =
        (plan_module_t){.title = title, .start = start, .end = end, .generated = generated};
    return &plan->modules[plan->nmodules++];
}

/* Append a lesson (taking ownership of title); the module's end grows to cover it. Returns
 * the lesson, or NULL when out of memory (title is freed then). */
static plan_lesson_t *
s_lesson_add(planner_t *p, plan_module_t *m, char *title, int start, int end)
{
    if (m == NULL || title == NULL ||
        array_grow((void **)&m->lessons, &m->lessons_cap, m->nlessons + 1, sizeof *m->lessons) !=
            0) {
        free(title);
        p->failed = true;
        return NULL;
    }
    m->lessons[m->nlessons] = (plan_lesson_t){.title = title, .start = start, .end = end};
    if (end > m->end)
        m->end = end;
    return &m->lessons[m->nlessons++];
}

/* Running headers that repeat the current chapter's title (textclean_mark_titles). */
static void
s_mark_title_echoes(planner_t *p, const char *const *titles, size_t n)
{
    docmodel_t *doc = p->doc;
    float body = textclean_body_size(doc->lines, doc->nlines);
    if (textclean_mark_titles(doc->lines, doc->nlines, titles, n, doc->heights, body) != 0)
        p->failed = true;
}

/* ---------------------------------------------------------------- outline */

/* Unknown pages inherit the previous entry's page (1 for the first); pages past the end are
 * clamped to the last page; an entry that goes backwards is clamped to the previous start so
 * that modules and lessons stay in reading order. */
static void
s_outline_normalise(docmodel_t *doc)
{
    int previous = 1;
    for (size_t i = 0; i < doc->nentries; i++) {
        doc_entry_t *e = &doc->entries[i];
        int page = e->page;
        if (page <= 0)
            page = previous;
        if (page > doc->pages)
            page = doc->pages;
        if (page < previous)
            page = previous;
        e->page = previous = page;
    }
}

/* The letters of s[0..len), lower-cased, into out (a title's key: numbering, spaces and
 * punctuation left out, as "9.10 auto-multiple-choice-export" and the outline's
 * "auto-multiple-choice-export" compare equal). */
static void
s_letters_key(const char *s, size_t len, strbuf_t *out)
{
    strbuf_reset(out);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += utf8_decode(s + i, len - i, &cp);
        if (utf8_is_letter(cp))
            strbuf_append_cp(out, utf8_lower(cp));
    }
}

/* Does line l hold title's key (tkey): all of it, or the first part of a title set on two
 * lines (at least half of it)? */
static bool
s_line_holds_title(const text_line_t *l, const strbuf_t *tkey, strbuf_t *scratch)
{
    if (tkey->len == 0)
        return false;
    s_letters_key(l->text, l->len, scratch);
    if (scratch->len == 0 || scratch->len > tkey->len)
        return false;
    return memcmp(scratch->data, tkey->data, scratch->len) == 0 &&
           (scratch->len == tkey->len || 2 * scratch->len >= tkey->len);
}

#define PLAN_DEST_SLACK 4.0f  /* points a heading's box may start above its destination */
#define PLAN_TITLE_NEAR 72.0f /* a line holding the title this near the destination is it */
#define PLAN_DEST_NEAR 24.0f  /* ... even one marked as a running line, this near */

/* The line where outline entry e starts, not before line `floor`: the line holding its title
 * nearest to its destination (or the first one on its page when the destination has no
 * position); else the first line of text at or below the destination; else the page's first
 * line (its end when the destination is below every line). */
/* Is the line only a section number ("4.17", "B.2.")? */
static bool
s_number_only(const text_line_t *l)
{
    const char *t = l->text;
    size_t len = l->len, digits = 0;
    docmodel_trim(&t, &len);
    for (size_t i = 0; i < len; i++) {
        if (t[i] >= '0' && t[i] <= '9')
            digits++;
        else if (t[i] != '.' && !(i == 0 && t[i] >= 'A' && t[i] <= 'Z'))
            return false;
    }
    return digits > 0 && len <= 12;
}

static size_t
s_entry_line(docmodel_t *doc, const doc_entry_t *e, size_t floor, strbuf_t *tkey, strbuf_t *scratch)
{
    size_t b, end;
    textclean_page_lines(doc->lines, doc->nlines, e->page, &b, &end);
    if (b < floor)
        b = floor;
    if (b >= end)
        return b > floor ? b : floor;
    s_letters_key(e->title != NULL ? e->title : "", e->title != NULL ? strlen(e->title) : 0, tkey);
    size_t best = SIZE_MAX;
    float best_gap = PLAN_TITLE_NEAR;
    for (size_t i = b; i < end; i++) {
        const text_line_t *l = &doc->lines[i];
        if (!s_line_holds_title(l, tkey, scratch))
            continue;
        if (e->top < 0) {
            if (l->running)
                continue;
            best = i;
            break;
        }
        float gap = l->y0 > e->top ? l->y0 - e->top : e->top - l->y0;
        /* At its destination, a line taken for a running title echo is the heading. */
        if (text_line_has_box(l) && gap <= best_gap && (!l->running || gap <= PLAN_DEST_NEAR)) {
            best = i;
            best_gap = gap;
        }
    }
    if (best != SIZE_MAX) {
        doc->lines[best].running = false;
        /* A section number that poppler reads as a line of its own opens the heading. */
        if (best > b && s_number_only(&doc->lines[best - 1]) && !doc->lines[best - 1].running)
            best--;
        return best;
    }
    if (e->top < 0)
        return b;
    for (size_t i = b; i < end; i++) {
        const text_line_t *l = &doc->lines[i];
        if (s_line_has_text(l) && text_line_has_box(l) && l->y0 + PLAN_DEST_SLACK >= e->top)
            return i;
    }
    return end;
}

/* p->eline: the line of every entry of level 1 or 2, in reading order (never before the
 * previous one's); deeper entries get their level-2 entry's. */
static void
s_entry_lines(planner_t *p)
{
    docmodel_t *doc = p->doc;
    p->eline = calloc(doc->nentries + 1, sizeof *p->eline);
    strbuf_t tkey, scratch;
    strbuf_init(&tkey);
    strbuf_init(&scratch);
    size_t floor = 0;
    for (size_t i = 0; p->eline != NULL && i < doc->nentries; i++) {
        if (doc->entries[i].level <= 2)
            floor = s_entry_line(doc, &doc->entries[i], floor, &tkey, &scratch);
        p->eline[i] = floor;
    }
    if (p->eline == NULL || strbuf_failed(&tkey) || strbuf_failed(&scratch))
        p->failed = true;
    strbuf_free(&tkey);
    strbuf_free(&scratch);
}

/* Cut the outline's lessons at their lines: each runs to the next one's first line (the
 * first lesson from the document's start, the last to its end), and its pages reach at
 * least the page of its last line of text, so that no text is lost or shared. */
static void
s_outline_cut(planner_t *p)
{
    const docmodel_t *doc = p->doc;
    plan_lesson_t *prev = NULL;
    for (size_t i = 0; i < p->plan->nmodules; i++) {
        plan_module_t *m = &p->plan->modules[i];
        for (size_t j = 0; j < m->nlessons; j++) {
            plan_lesson_t *l = &m->lessons[j];
            l->cut = true;
            if (prev == NULL)
                l->first_line = 0;
            else if (l->first_line < prev->first_line)
                l->first_line = prev->first_line;
            if (prev != NULL)
                prev->end_line = l->first_line;
            prev = l;
        }
    }
    if (prev != NULL)
        prev->end_line = doc->nlines;
    for (size_t i = 0; i < p->plan->nmodules; i++) {
        plan_module_t *m = &p->plan->modules[i];
        for (size_t j = 0; j < m->nlessons; j++) {
            plan_lesson_t *l = &m->lessons[j];
            for (size_t k = l->first_line; k < l->end_line; k++) {
                if (s_line_has_text(&doc->lines[k]) && doc->lines[k].page > l->end)
                    l->end = doc->lines[k].page;
            }
            if (l->end > m->end)
                m->end = l->end;
        }
    }
}

/* The index of the next entry at `level` or above (numerically <= level) after i, or the
 * entry count. */
static size_t
s_next_at_or_above(const docmodel_t *doc, size_t i, int level)
{
    for (size_t k = i + 1; k < doc->nentries; k++) {
        if (doc->entries[k].level <= level)
            return k;
    }
    return doc->nentries;
}

/* Where the item starting at `start` ends, given the start of the next one (0 = none). */
static int
s_range_end(int start, int next_start, int last)
{
    if (next_start <= 0)
        return start > last ? start : last;
    return next_start - 1 > start ? next_start - 1 : start;
}

static char *
s_entry_title(planner_t *p, const doc_entry_t *e)
{
    return e->title != NULL ? s_strdup(p, e->title) : s_pages_title(p, e->page, e->page);
}

/* The lessons of the module whose entry is at index i (children are entries i+1 .. stop-1). */
static void
s_outline_lessons(planner_t *p, plan_module_t *m, size_t i, size_t stop)
{
    const doc_entry_t *entries = p->doc->entries;
    size_t first = i + 1;
    while (first < stop && entries[first].level != 2)
        first++;
    plan_lesson_t *l;
    if (first >= stop) {
        l = s_lesson_add(p, m, s_entry_title(p, &entries[i]), m->start, m->end);
        if (l != NULL)
            l->first_line = p->eline[i];
        return;
    }
    /* Pages between the module's start and its first lesson (a chapter's opening pages)
     * become a lesson named after the module, so that no page of the module is lost; on the
     * same page, the module's heading opens its first lesson. */
    int first_start = entries[first].page;
    bool opening = first_start > m->start;
    if (opening) {
        l = s_lesson_add(p, m, s_entry_title(p, &entries[i]), m->start, first_start - 1);
        if (l != NULL)
            l->first_line = p->eline[i];
    }
    int module_end = m->end;
    for (size_t k = first; k < stop; k = s_next_at_or_above(p->doc, k, 2)) {
        const doc_entry_t *le = &entries[k];
        size_t next = s_next_at_or_above(p->doc, k, 2);
        int next_start = next < stop ? entries[next].page : 0;
        l = s_lesson_add(p, m, s_entry_title(p, le), le->page,
                         s_range_end(le->page, next_start, module_end));
        if (l != NULL)
            l->first_line = k == first && !opening ? p->eline[i] : p->eline[k];
    }
}

/* Modules and lessons from the outline entries. */
static void
s_plan_outline(planner_t *p)
{
    const docmodel_t *doc = p->doc;
    size_t first = 0;
    while (first < doc->nentries && doc->entries[first].level != 1)
        first++;
    if (first >= doc->nentries)
        return;
    int first_page = doc->entries[first].page;
    /* Pages before the first entry, or text above it on its page (a title page's), are
     * the front matter. */
    bool text_before = false;
    for (size_t i = 0; i < p->eline[first] && !text_before; i++)
        text_before = s_line_has_text(&doc->lines[i]);
    if (first_page > 1 || text_before) {
        int end = first_page > 1 ? first_page - 1 : 1;
        plan_module_t *m = s_module_add(p, s_strdup(p, "Front matter"), 1, end, true);
        s_lesson_add(p, m, s_strdup(p, "Front matter"), 1, end);
    }
    for (size_t i = first; i < doc->nentries && !p->failed; i = s_next_at_or_above(doc, i, 1)) {
        const doc_entry_t *e = &doc->entries[i];
        size_t next = s_next_at_or_above(doc, i, 1);
        int next_start = next < doc->nentries ? doc->entries[next].page : 0;
        plan_module_t *m = s_module_add(p, s_entry_title(p, e), e->page,
                                        s_range_end(e->page, next_start, doc->pages), false);
        if (m != NULL)
            s_outline_lessons(p, m, i, next);
    }
    if (!p->failed)
        s_outline_cut(p);
    p->plan->structure = PLAN_STRUCTURE_OUTLINE;
}

/* ---------------------------------------------------------------- headings */

/* Without an outline, the headings found in the text cut it at their lines: level 1 starts a
 * module, level 2 a lesson, deeper levels fold into their lesson. A lesson's text runs from
 * its heading to the next one; its pages are those its lines are on, and at least up to the
 * page before the next heading, so that pages stay covered. */
typedef struct {
    planner_t *p;
    const text_line_t *lines;
    size_t count;
    int pages;
    const heading_t *h; /* the headings */
    size_t nh;
} anchors_t;

/* Do lines [first + skip, end) hold any text (running lines aside)? */
static bool
s_has_body(const anchors_t *a, size_t first, size_t end, size_t skip)
{
    for (size_t i = first + skip; i < end; i++) {
        if (s_line_has_text(&a->lines[i]))
            return true;
    }
    return false;
}

/* Pages of the lines [first, end): from the first line's page to the page of the last line
 * with text, and at least to the page before `next_page` (the next part's first page). */
static void
s_anchor_pages(const anchors_t *a, size_t first, size_t end, int next_page, int *start, int *stop)
{
    *start = first == 0 ? 1 : first < a->count ? a->lines[first].page : a->pages;
    int last = *start;
    for (size_t i = first; i < end; i++) {
        if (s_line_has_text(&a->lines[i]))
            last = a->lines[i].page;
    }
    if (next_page - 1 > last)
        last = next_page - 1;
    if (last < *start)
        last = *start;
    *stop = last < a->pages ? last : a->pages;
}

/* The first page of the part that starts at line `line` (count: the end of the document). */
static int
s_anchor_page(const anchors_t *a, size_t line)
{
    return line < a->count ? a->lines[line].page : a->pages + 1;
}

static void
s_anchored_lesson(const anchors_t *a, plan_module_t *m, char *title, size_t first, size_t end)
{
    int start, stop;
    s_anchor_pages(a, first, end, s_anchor_page(a, end), &start, &stop);
    plan_lesson_t *l = s_lesson_add(a->p, m, title, start, stop);
    if (l != NULL) {
        l->cut = true;
        l->first_line = first;
        l->end_line = end;
    }
}

/* The module of the level-1 heading h[i], whose lines end at `end`. */
static void
s_anchored_module(const anchors_t *a, size_t i, size_t end)
{
    planner_t *p = a->p;
    const heading_t *mh = &a->h[i];
    int start = a->lines[mh->line].page; /* lessons widen the module to their last page */
    char *title = s_title_dup(p, mh->title);
    if (title == NULL && !p->failed)
        title = s_pages_title(p, start, start);
    plan_module_t *m = s_module_add(p, title, start, start, false);
    if (m == NULL)
        return;
    size_t k = i + 1;
    while (k < a->nh && a->h[k].level != 2 && a->h[k].level != 1)
        k++;
    if (k >= a->nh || a->h[k].level == 1) {
        s_anchored_lesson(a, m, s_strdup(p, m->title), mh->line, end);
        return;
    }
    /* Text between the module's heading and its first lesson opens the module as a lesson of
     * its own; a bare heading joins the first lesson instead. */
    size_t first = mh->line;
    if (s_has_body(a, mh->line, a->h[k].line, (size_t)mh->lines)) {
        s_anchored_lesson(a, m, s_strdup(p, m->title), mh->line, a->h[k].line);
        first = a->h[k].line;
    }
    while (k < a->nh && a->h[k].level != 1) {
        size_t next = k + 1;
        while (next < a->nh && a->h[next].level > 2)
            next++;
        size_t stop_line = next < a->nh ? a->h[next].line : a->count;
        if (stop_line > end)
            stop_line = end;
        char *lesson_title = s_title_dup(p, a->h[k].title);
        if (lesson_title == NULL && !p->failed)
            lesson_title = s_strdup(p, m->title);
        s_anchored_lesson(a, m, lesson_title, first, stop_line);
        first = stop_line;
        k = next;
    }
}

static void
s_plan_anchored(planner_t *p, const headings_t *found)
{
    const docmodel_t *doc = p->doc;
    anchors_t a = {p, doc->lines, doc->nlines, doc->pages, found->items, found->count};
    size_t first = 0;
    while (first < a.nh && a.h[first].level != 1)
        first++;
    if (first >= a.nh)
        return;
    size_t line = a.h[first].line;
    if (a.h[first].page > 1 || s_has_body(&a, 0, line, 0)) {
        plan_module_t *m = s_module_add(p, s_strdup(p, "Front matter"), 1, 1, true);
        s_anchored_lesson(&a, m, s_strdup(p, "Front matter"), 0, line);
    }
    for (size_t i = first; i < a.nh && !p->failed;) {
        size_t next = i + 1;
        while (next < a.nh && a.h[next].level != 1)
            next++;
        s_anchored_module(&a, i, next < a.nh ? a.h[next].line : a.count);
        i = next;
    }
    p->plan->structure = PLAN_STRUCTURE_HEADINGS;
}

static void
s_plan_headings(planner_t *p)
{
    headings_t found;
    if (headings_detect(p->doc->lines, p->doc->nlines, &found) != 0) {
        p->failed = true;
        return;
    }
    const char **titles = calloc(found.count + 1, sizeof *titles);
    if (titles == NULL) {
        p->failed = true;
        headings_free(&found);
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < found.count; i++) {
        if (found.items[i].level <= 2)
            titles[n++] = found.items[i].title;
    }
    s_mark_title_echoes(p, titles, n);
    if (!p->failed)
        s_plan_anchored(p, &found);
    free(titles);
    headings_free(&found);
}

/* ---------------------------------------------------------------- page groups */

/* The first line of page `page` (running headers left out) if it looks like a heading:
 * short, with a letter (utf8_is_letter), not ending like a sentence. Caller owns the result; NULL
 * when it does not look like one (or when out of memory: then p->failed is set). */
static char *
s_heading_guess(planner_t *p, int page)
{
    const text_line_t *lines = p->doc->lines;
    size_t begin, end;
    textclean_page_lines(lines, p->doc->nlines, page, &begin, &end);
    const text_line_t *first = NULL;
    for (size_t i = begin; i < end && first == NULL; i++) {
        if (s_line_has_text(&lines[i]))
            first = &lines[i];
    }
    if (first == NULL || first->len > 4 * PLAN_HEADING_MAX ||
        memchr(first->text, '\0', first->len) != NULL || !utf8_valid(first->text, first->len))
        return NULL;
    const char *s = first->text;
    size_t len = first->len;
    docmodel_trim(&s, &len);
    size_t chars = utf8_length(s, len);
    bool letter = false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += utf8_decode(s + i, len - i, &cp);
        letter = letter || utf8_is_letter(cp);
    }
    char last = len > 0 ? s[len - 1] : '.';
    if (chars == 0 || chars >= PLAN_HEADING_MAX || !letter || strchr(".,;", last) != NULL)
        return NULL;
    char *title = strndup(s, len);
    if (title == NULL)
        p->failed = true;
    return title;
}

static void
s_plan_pages(planner_t *p)
{
    int pages = p->doc->pages;
    for (int start = 1; start <= pages && !p->failed; start += PLAN_PAGES_PER_MODULE) {
        int end =
            start + PLAN_PAGES_PER_MODULE - 1 < pages ? start + PLAN_PAGES_PER_MODULE - 1 : pages;
        plan_module_t *m = s_module_add(p, s_pages_title(p, start, end), start, end, true);
        for (int ls = start; ls <= end && m != NULL; ls += PLAN_PAGES_PER_LESSON) {
            int le = ls + PLAN_PAGES_PER_LESSON - 1 < end ? ls + PLAN_PAGES_PER_LESSON - 1 : end;
            char *title = s_heading_guess(p, ls);
            if (title == NULL && !p->failed)
                title = s_pages_title(p, ls, le);
            s_lesson_add(p, m, title, ls, le);
        }
    }
    p->plan->structure = PLAN_STRUCTURE_PAGES;
}

/* ---------------------------------------------------------------- plan */

int
plan_make(docmodel_t *doc, plan_t *plan)
{
    memset(plan, 0, sizeof *plan);
    planner_t p = {doc, plan, NULL, false};
    if (textclean_mark_running(doc->lines, doc->nlines, doc->pages, doc->heights) != 0)
        return -1;
    s_outline_normalise(doc);
    bool outline = false;
    for (size_t i = 0; i < doc->nentries && !outline; i++)
        outline = doc->entries[i].level == 1;
    if (outline) {
        /* Running headers that echo the outline's titles first: they are no entry's line. */
        const char **titles = calloc(doc->nentries + 1, sizeof *titles);
        size_t n = 0;
        for (size_t i = 0; titles != NULL && i < doc->nentries; i++) {
            if (doc->entries[i].level <= 2 && doc->entries[i].title != NULL)
                titles[n++] = doc->entries[i].title;
        }
        if (titles == NULL)
            p.failed = true;
        else
            s_mark_title_echoes(&p, titles, n);
        free(titles);
        if (!p.failed)
            s_entry_lines(&p);
        if (!p.failed)
            s_plan_outline(&p);
    }
    free(p.eline);
    if (plan->nmodules == 0 && !p.failed)
        s_plan_headings(&p);
    if (plan->nmodules == 0 && !p.failed)
        s_plan_pages(&p);
    if (p.failed) {
        plan_free(plan);
        return -1;
    }
    return 0;
}

int
plan_render_lesson(const docmodel_t *doc, plan_lesson_t *l)
{
    strbuf_t text;
    strbuf_init(&text);
    free(l->offsets);
    free(l->text);
    l->text = NULL;
    l->len = 0;
    l->offsets = calloc((size_t)(l->end - l->start + 1), sizeof *l->offsets);
    if (l->offsets == NULL)
        return -1;
    if (l->cut)
        textclean_render(doc->lines, doc->nlines, l->first_line, l->end_line, l->start, l->end,
                         &text, l->offsets);
    else
        textclean_render_pages(doc->lines, doc->nlines, l->start, l->end, &text, l->offsets);
    l->text = strbuf_steal(&text, &l->len);
    return l->text != NULL ? 0 : -1;
}

size_t
plan_drop_lessons(plan_t *plan, bool (*drop)(const plan_lesson_t *lesson, void *arg), void *arg)
{
    size_t total = 0, dropped = 0;
    for (size_t i = 0; i < plan->nmodules; i++) {
        total += plan->modules[i].nlessons;
        for (size_t j = 0; j < plan->modules[i].nlessons; j++)
            dropped += drop(&plan->modules[i].lessons[j], arg);
    }
    if (dropped == 0 || dropped == total)
        return 0;
    size_t kept_modules = 0;
    for (size_t i = 0; i < plan->nmodules; i++) {
        plan_module_t *m = &plan->modules[i];
        size_t kept = 0;
        for (size_t j = 0; j < m->nlessons; j++) {
            if (drop(&m->lessons[j], arg))
                s_lesson_free(&m->lessons[j]);
            else
                m->lessons[kept++] = m->lessons[j];
        }
        m->nlessons = kept;
        if (kept == 0)
            s_module_free(m);
        else
            plan->modules[kept_modules++] = *m;
    }
    plan->nmodules = kept_modules;
    return dropped;
}

void
plan_free(plan_t *plan)
{
    for (size_t i = 0; i < plan->nmodules; i++)
        s_module_free(&plan->modules[i]);
    free(plan->modules);
    memset(plan, 0, sizeof *plan);
}

const char *
plan_structure_name(plan_structure_t structure)
{
    return (unsigned)structure < sizeof s_structure_names / sizeof *s_structure_names
               ? s_structure_names[structure]
               : "pages";
}
