/* course.c - see course.h. */
#include "course.h"

#include "course/course_text.h"
#include "course/headings.h"
#include "json.h"
#include "strbuf.h"
#include "course/textclean.h"
#include "course/textline.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* One outline entry, flattened in reading order. */
typedef struct {
    int level;   /* 1 = top */
    char *title; /* owned; NULL when empty */
    int page;    /* 1-based, after normalisation */
} entry_t;

typedef struct {
    char *title; /* owned */
    int start;
    int end;
    size_t first_line; /* with headings: its lines, [first_line, end_line) of b->lines; */
    size_t end_line;   /* both 0 when the lesson is its pages */
    char *text;        /* owned (malloc); clean text, set by s_render_lessons */
    size_t len;
    size_t *offsets; /* owned (malloc); where each page's text begins in text */
} lesson_t;

typedef struct {
    char *title; /* owned */
    int start;
    int end;
    bool generated;
    GArray *lessons; /* of lesson_t */
} module_t;

/* Where the modules and lessons came from: the "structure" of the course document. */
typedef enum {
    STRUCTURE_PAGES,    /* page groups: no outline, no headings */
    STRUCTURE_OUTLINE,  /* the PDF's outline */
    STRUCTURE_HEADINGS, /* headings found from the typography */
} structure_t;

static const char *const s_structure_names[] = {"pages", "outline", "headings"};

/* Everything one build needs; lives for one course_build call. */
typedef struct {
    PopplerDocument *doc; /* borrowed */
    const course_options_t *options;
    int pages;
    char **texts;    /* page texts, texts[0] = page 1; owned */
    GArray *lines;   /* of text_line_t, pointing into texts */
    float *heights;  /* page heights in points; owned */
    GArray *entries; /* of entry_t */
    GArray *modules; /* of module_t */
    structure_t structure;
    course_text_t analysis; /* summaries, key terms, quiz, language */
} builder_t;

static int s_fail(course_error_t *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
s_fail(course_error_t *err, const char *code, const char *fmt, ...)
{
    snprintf(err->code, sizeof err->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---------------------------------------------------------------- opening */

int
course_document_open(GBytes *bytes, PopplerDocument **doc, course_error_t *err)
{
    *doc = NULL;
    gsize size = 0;
    const char *data = g_bytes_get_data(bytes, &size);
    /* The PDF header may follow some junk, but readers only look at the first kilobyte. */
    if (data == NULL || size == 0 || g_strstr_len(data, MIN(size, (gsize)1024), "%PDF-") == NULL)
        return s_fail(err, "not_pdf", "This file is not a PDF document.");

    GError *error = NULL;
    *doc = poppler_document_new_from_bytes(bytes, NULL, &error);
    if (*doc != NULL)
        return 0;
    bool encrypted =
        error != NULL && error->domain == POPPLER_ERROR && error->code == POPPLER_ERROR_ENCRYPTED;
    g_clear_error(&error);
    if (encrypted)
        return s_fail(err, "encrypted",
                      "This PDF is protected by a password. Please upload a copy that opens "
                      "without a password.");
    return s_fail(err, "damaged",
                  "This PDF is damaged and cannot be read. Please export it again from the "
                  "original document and upload the new file.");
}

/* ---------------------------------------------------------------- helpers */

static void
s_progress(builder_t *b, const char *stage, int percent, int page)
{
    if (b->options->progress != NULL)
        b->options->progress(b->options->progress_arg, stage, percent, page, b->pages);
}

/* A copy of title without surrounding whitespace, cut to COURSE_TITLE_MAX bytes at a character
 * boundary; NULL when nothing is left. Caller owns the result (g_free). */
static char *
s_title_dup(const char *raw)
{
    if (raw == NULL)
        return NULL;
    char *title = g_strstrip(g_strdup(raw));
    size_t len = strlen(title);
    if (len > COURSE_TITLE_MAX) {
        len = COURSE_TITLE_MAX;
        while (len > 0 && ((unsigned char)title[len] & 0xc0) == 0x80)
            len--;
        title[len] = '\0';
        g_strchomp(title);
    }
    if (title[0] == '\0') {
        g_free(title);
        return NULL;
    }
    return title;
}

static char *
s_pages_title(int start, int end)
{
    return start == end ? g_strdup_printf("Page %d", start)
                        : g_strdup_printf("Pages %d-%d", start, end);
}

static bool
s_is_blank(const char *s)
{
    for (; s != NULL && *s != '\0'; s++) {
        if (!g_ascii_isspace(*s))
            return false;
    }
    return true;
}

static bool
s_is_blank_n(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!g_ascii_isspace(s[i]))
            return false;
    }
    return true;
}

static void
s_lesson_clear(gpointer p)
{
    lesson_t *l = p;
    g_free(l->title);
    free(l->text);
    free(l->offsets);
}

static void
s_module_clear(gpointer p)
{
    module_t *m = p;
    g_free(m->title);
    if (m->lessons != NULL)
        g_array_free(m->lessons, TRUE);
}

static void
s_entry_clear(gpointer p)
{
    g_free(((entry_t *)p)->title);
}

/* Append a module (taking ownership of title) and return it. */
static module_t *
s_module_add(builder_t *b, char *title, int start, int end, bool generated)
{
    module_t m = {title, start, end, generated, g_array_new(FALSE, FALSE, sizeof(lesson_t))};
    g_array_set_clear_func(m.lessons, s_lesson_clear);
    g_array_append_val(b->modules, m);
    return &g_array_index(b->modules, module_t, b->modules->len - 1);
}

/* Append a lesson (taking ownership of title); the module's end grows to cover it. */
static void
s_lesson_add(module_t *m, char *title, int start, int end)
{
    lesson_t l = {title, start, end, 0, 0, NULL, 0, NULL};
    g_array_append_val(m->lessons, l);
    if (end > m->end)
        m->end = end;
}

/* ---------------------------------------------------------------- outline */

/* The 1-based page an outline action points at, 0 when unknown. */
static int
s_action_page(PopplerDocument *doc, PopplerAction *action)
{
    if (action == NULL || action->type != POPPLER_ACTION_GOTO_DEST)
        return 0;
    PopplerDest *dest = action->goto_dest.dest;
    if (dest == NULL)
        return 0;
    if (dest->type != POPPLER_DEST_NAMED)
        return dest->page_num;
    if (dest->named_dest == NULL)
        return 0;
    PopplerDest *found = poppler_document_find_dest(doc, dest->named_dest);
    int page = found != NULL ? found->page_num : 0;
    if (found != NULL)
        poppler_dest_free(found);
    return page;
}

/* Depth-first walk in reading order. Depth and count are capped: malformed outlines (cycles,
 * huge trees) have crashed or hung readers. */
static void
s_outline_walk(builder_t *b, PopplerIndexIter *iter, int level)
{
    do {
        if (b->entries->len >= COURSE_OUTLINE_ITEMS_MAX)
            return;
        PopplerAction *action = poppler_index_iter_get_action(iter);
        entry_t e = {level, NULL, 0};
        if (action != NULL) {
            e.title = s_title_dup(action->any.title);
            e.page = s_action_page(b->doc, action);
            poppler_action_free(action);
        }
        g_array_append_val(b->entries, e);
        if (level < COURSE_OUTLINE_DEPTH_MAX) {
            PopplerIndexIter *child = poppler_index_iter_get_child(iter);
            if (child != NULL) {
                s_outline_walk(b, child, level + 1);
                poppler_index_iter_free(child);
            }
        }
    } while (poppler_index_iter_next(iter));
}

/* Unknown pages inherit the previous entry's page (1 for the first); pages past the end are
 * clamped to the last page; an entry that goes backwards is clamped to the previous start so
 * that modules and lessons stay in reading order. */
static void
s_outline_normalise(builder_t *b)
{
    int previous = 1;
    for (guint i = 0; i < b->entries->len; i++) {
        entry_t *e = &g_array_index(b->entries, entry_t, i);
        int page = e->page;
        if (page <= 0)
            page = previous;
        if (page > b->pages)
            page = b->pages;
        if (page < previous)
            page = previous;
        e->page = previous = page;
    }
}

static void
s_outline_read(builder_t *b)
{
    PopplerIndexIter *iter = poppler_index_iter_new(b->doc);
    if (iter == NULL)
        return;
    s_outline_walk(b, iter, 1);
    poppler_index_iter_free(iter);
    s_outline_normalise(b);
}

/* The index of the next entry at `level` or above (numerically <= level) after i, or len. */
static guint
s_next_at_or_above(builder_t *b, guint i, int level)
{
    for (guint k = i + 1; k < b->entries->len; k++) {
        if (g_array_index(b->entries, entry_t, k).level <= level)
            return k;
    }
    return b->entries->len;
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
s_entry_title(const entry_t *e)
{
    return e->title != NULL ? g_strdup(e->title) : s_pages_title(e->page, e->page);
}

/* The lessons of the module whose entry is at index i (children are entries i+1 .. stop-1). */
static void
s_outline_lessons(builder_t *b, module_t *m, guint i, guint stop)
{
    const entry_t *me = &g_array_index(b->entries, entry_t, i);
    guint first = i + 1;
    while (first < stop && g_array_index(b->entries, entry_t, first).level != 2)
        first++;
    if (first >= stop) {
        s_lesson_add(m, s_entry_title(me), m->start, m->end);
        return;
    }
    /* Pages between the module's start and its first lesson (a chapter's opening pages)
     * become a lesson named after the module, so that no page of the module is lost. */
    int first_start = g_array_index(b->entries, entry_t, first).page;
    if (first_start > m->start)
        s_lesson_add(m, s_entry_title(me), m->start, first_start - 1);
    int module_end = m->end;
    for (guint k = first; k < stop; k = s_next_at_or_above(b, k, 2)) {
        const entry_t *le = &g_array_index(b->entries, entry_t, k);
        guint next = s_next_at_or_above(b, k, 2);
        int next_start = next < stop ? g_array_index(b->entries, entry_t, next).page : 0;
        s_lesson_add(m, s_entry_title(le), le->page, s_range_end(le->page, next_start, module_end));
    }
}

/* Modules and lessons from b->entries (the outline, or the headings found). */
static void
s_plan_entries(builder_t *b, structure_t structure)
{
    guint first = 0;
    while (first < b->entries->len && g_array_index(b->entries, entry_t, first).level != 1)
        first++;
    if (first >= b->entries->len)
        return;
    int first_page = g_array_index(b->entries, entry_t, first).page;
    if (first_page > 1) {
        module_t *m = s_module_add(b, g_strdup("Front matter"), 1, first_page - 1, true);
        s_lesson_add(m, g_strdup("Front matter"), 1, first_page - 1);
    }
    for (guint i = first; i < b->entries->len; i = s_next_at_or_above(b, i, 1)) {
        const entry_t *e = &g_array_index(b->entries, entry_t, i);
        guint next = s_next_at_or_above(b, i, 1);
        int next_start = next < b->entries->len ? g_array_index(b->entries, entry_t, next).page : 0;
        module_t *m = s_module_add(b, s_entry_title(e), e->page,
                                   s_range_end(e->page, next_start, b->pages), false);
        s_outline_lessons(b, m, i, next);
    }
    b->structure = structure;
}

/* ---------------------------------------------------------------- headings */

/* Without an outline, the headings found in the text cut it at their lines: level 1 starts a
 * module, level 2 a lesson, deeper levels fold into their lesson. A lesson's text runs from
 * its heading to the next one; its pages are those its lines are on, and at least up to the
 * page before the next heading, so that pages stay covered. */
typedef struct {
    builder_t *b;
    const text_line_t *lines;
    size_t count;
    const heading_t *h; /* the headings */
    size_t nh;
} anchors_t;

/* Do lines [first + skip, end) hold any text (running lines aside)? */
static bool
s_has_body(const anchors_t *a, size_t first, size_t end, size_t skip)
{
    for (size_t i = first + skip; i < end; i++) {
        if (!a->lines[i].running && !s_is_blank_n(a->lines[i].text, a->lines[i].len))
            return true;
    }
    return false;
}

/* Pages of the lines [first, end): from the first line's page to the page of the last line
 * with text, and at least to the page before `next_page` (the next part's first page). */
static void
s_anchor_pages(const anchors_t *a, size_t first, size_t end, int next_page, int *start, int *stop)
{
    *start = first == 0 ? 1 : first < a->count ? a->lines[first].page : a->b->pages;
    int last = *start;
    for (size_t i = first; i < end; i++) {
        if (!a->lines[i].running && !s_is_blank_n(a->lines[i].text, a->lines[i].len))
            last = a->lines[i].page;
    }
    if (next_page - 1 > last)
        last = next_page - 1;
    *stop = MIN(MAX(last, *start), a->b->pages);
}

/* The first page of the part that starts at line `line` (count: the end of the document). */
static int
s_anchor_page(const anchors_t *a, size_t line)
{
    return line < a->count ? a->lines[line].page : a->b->pages + 1;
}

static void
s_anchored_lesson(const anchors_t *a, module_t *m, char *title, size_t first, size_t end)
{
    int start, stop;
    s_anchor_pages(a, first, end, s_anchor_page(a, end), &start, &stop);
    s_lesson_add(m, title, start, stop);
    lesson_t *l = &g_array_index(m->lessons, lesson_t, m->lessons->len - 1);
    l->first_line = first;
    l->end_line = end;
}

/* The module of the level-1 heading h[i], whose lines end at `end`. */
static void
s_anchored_module(const anchors_t *a, size_t i, size_t end)
{
    const heading_t *mh = &a->h[i];
    int start = a->lines[mh->line].page; /* lessons widen the module to their last page */
    module_t *m = s_module_add(a->b, s_title_dup(mh->title), start, start, false);
    if (m->title == NULL)
        m->title = s_pages_title(start, start);
    size_t k = i + 1;
    while (k < a->nh && a->h[k].level != 2 && a->h[k].level != 1)
        k++;
    if (k >= a->nh || a->h[k].level == 1) {
        s_anchored_lesson(a, m, g_strdup(m->title), mh->line, end);
        return;
    }
    /* Text between the module's heading and its first lesson opens the module as a lesson of
     * its own; a bare heading joins the first lesson instead. */
    size_t first = mh->line;
    if (s_has_body(a, mh->line, a->h[k].line, (size_t)mh->lines)) {
        s_anchored_lesson(a, m, g_strdup(m->title), mh->line, a->h[k].line);
        first = a->h[k].line;
    }
    while (k < a->nh && a->h[k].level != 1) {
        size_t next = k + 1;
        while (next < a->nh && a->h[next].level > 2)
            next++;
        size_t stop_line = next < a->nh ? a->h[next].line : a->count;
        if (stop_line > end)
            stop_line = end;
        char *title = s_title_dup(a->h[k].title);
        s_anchored_lesson(a, m, title != NULL ? title : g_strdup(m->title), first, stop_line);
        first = stop_line;
        k = next;
    }
}

static void
s_plan_anchored(builder_t *b, const headings_t *found)
{
    anchors_t a = {b, (const text_line_t *)b->lines->data, b->lines->len, found->items,
                   found->count};
    size_t first = 0;
    while (first < a.nh && a.h[first].level != 1)
        first++;
    if (first >= a.nh)
        return;
    size_t line = a.h[first].line;
    if (a.h[first].page > 1 || s_has_body(&a, 0, line, 0)) {
        module_t *m = s_module_add(b, g_strdup("Front matter"), 1, 1, true);
        s_anchored_lesson(&a, m, g_strdup("Front matter"), 0, line);
    }
    for (size_t i = first; i < a.nh;) {
        size_t next = i + 1;
        while (next < a.nh && a.h[next].level != 1)
            next++;
        s_anchored_module(&a, i, next < a.nh ? a.h[next].line : a.count);
        i = next;
    }
    b->structure = STRUCTURE_HEADINGS;
}

/* Running headers that repeat the current chapter's title (textclean_mark_titles). */
static int
s_mark_title_echoes(builder_t *b, const char *const *titles, size_t n)
{
    text_line_t *lines = (text_line_t *)b->lines->data;
    float body = textclean_body_size(lines, b->lines->len);
    return textclean_mark_titles(lines, b->lines->len, titles, n, b->heights, body);
}

static int
s_plan_headings(builder_t *b)
{
    headings_t found;
    if (headings_detect((const text_line_t *)b->lines->data, b->lines->len, &found) != 0)
        return -1;
    const char **titles = g_new0(const char *, found.count + 1);
    size_t n = 0;
    for (size_t i = 0; i < found.count; i++) {
        if (found.items[i].level <= 2)
            titles[n++] = found.items[i].title;
    }
    int rc = s_mark_title_echoes(b, titles, n);
    if (rc == 0)
        s_plan_anchored(b, &found);
    g_free(titles);
    headings_free(&found);
    return rc;
}

/* ---------------------------------------------------------------- page groups */

/* The first line of page `page` (running headers left out) if it looks like a heading:
 * short, with a letter, not ending like a sentence. Caller owns the result; NULL when it does
 * not look like one. */
static char *
s_heading_guess(builder_t *b, int page)
{
    const text_line_t *lines = (const text_line_t *)b->lines->data;
    size_t begin, end;
    textclean_page_lines(lines, b->lines->len, page, &begin, &end);
    const text_line_t *first = NULL;
    for (size_t i = begin; i < end && first == NULL; i++) {
        if (!lines[i].running && !s_is_blank_n(lines[i].text, lines[i].len))
            first = &lines[i];
    }
    if (first == NULL || first->len > 4 * COURSE_HEADING_MAX ||
        !g_utf8_validate(first->text, (gssize)first->len, NULL))
        return NULL;
    char *line = g_strstrip(g_strndup(first->text, first->len));
    size_t chars = g_utf8_strlen(line, -1);
    bool letter = false;
    for (const char *p = line; *p != '\0'; p = g_utf8_next_char(p))
        letter = letter || g_unichar_isalpha(g_utf8_get_char(p));
    char last = line[0] != '\0' ? line[strlen(line) - 1] : '.';
    if (chars == 0 || chars >= COURSE_HEADING_MAX || !letter || strchr(".,;", last) != NULL) {
        g_free(line);
        return NULL;
    }
    return line;
}

static void
s_plan_pages(builder_t *b)
{
    for (int start = 1; start <= b->pages; start += COURSE_PAGES_PER_MODULE) {
        int end = MIN(start + COURSE_PAGES_PER_MODULE - 1, b->pages);
        module_t *m = s_module_add(b, s_pages_title(start, end), start, end, true);
        for (int ls = start; ls <= end; ls += COURSE_PAGES_PER_LESSON) {
            int le = MIN(ls + COURSE_PAGES_PER_LESSON - 1, end);
            char *title = s_heading_guess(b, ls);
            s_lesson_add(m, title != NULL ? title : s_pages_title(ls, le), ls, le);
        }
    }
    b->structure = STRUCTURE_PAGES;
}

/* ---------------------------------------------------------------- text */

static void
s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Font names say the weight and the pitch: "DejaVuSans-Bold", "ABCDEF+Arial,Bold",
 * "CMBX12" (Computer Modern bold extended); "DejaVuSansMono", "Courier", "CMTT10". */
static bool
s_font_is_bold(const char *name)
{
    if (name == NULL)
        return false;
    static const char *const marks[] = {"bold", "black", "heavy", "demi", "cmbx", ",bd", "-bd"};
    char *lower = g_ascii_strdown(name, -1);
    bool bold = false;
    for (size_t i = 0; i < G_N_ELEMENTS(marks) && !bold; i++)
        bold = strstr(lower, marks[i]) != NULL;
    g_free(lower);
    return bold;
}

static bool
s_font_is_mono(const char *name)
{
    if (name == NULL)
        return false;
    static const char *const marks[] = {"mono",   "courier", "consol",      "typewriter", "cmtt",
                                        "lmmono", "menlo",   "inconsolata", "code"};
    char *lower = g_ascii_strdown(name, -1);
    bool mono = false;
    for (size_t i = 0; i < G_N_ELEMENTS(marks) && !mono; i++)
        mono = strstr(lower, marks[i]) != NULL;
    g_free(lower);
    return mono;
}

/* Typography of the characters of a page, indexed like poppler's text (characters). */
typedef struct {
    PopplerTextAttributes **attrs; /* sorted by start_index; borrowed from `list` */
    guint nattrs;
    GList *list;
    bool *bold; /* by attribute */
    bool *mono;
    PopplerRectangle *rects; /* by character; owned by poppler's allocator (g_free) */
    guint nrects;
} page_style_t;

static gint
s_attr_cmp(gconstpointer a, gconstpointer b)
{
    const PopplerTextAttributes *x = *(PopplerTextAttributes *const *)a;
    const PopplerTextAttributes *y = *(PopplerTextAttributes *const *)b;
    return x->start_index < y->start_index ? -1 : x->start_index > y->start_index;
}

static void
s_page_style_read(PopplerPage *page, page_style_t *ps)
{
    memset(ps, 0, sizeof *ps);
    ps->list = poppler_page_get_text_attributes(page);
    ps->nattrs = g_list_length(ps->list);
    ps->attrs = g_new0(PopplerTextAttributes *, ps->nattrs + 1);
    ps->bold = g_new0(bool, ps->nattrs + 1);
    ps->mono = g_new0(bool, ps->nattrs + 1);
    guint i = 0;
    for (GList *l = ps->list; l != NULL; l = l->next)
        ps->attrs[i++] = l->data;
    qsort(ps->attrs, ps->nattrs, sizeof *ps->attrs, s_attr_cmp);
    for (i = 0; i < ps->nattrs; i++) {
        ps->bold[i] = s_font_is_bold(ps->attrs[i]->font_name);
        ps->mono[i] = s_font_is_mono(ps->attrs[i]->font_name);
    }
    if (!poppler_page_get_text_layout(page, &ps->rects, &ps->nrects)) {
        ps->rects = NULL;
        ps->nrects = 0;
    }
}

static void
s_page_style_free(page_style_t *ps)
{
    poppler_page_free_text_attributes(ps->list);
    g_free(ps->attrs);
    g_free(ps->bold);
    g_free(ps->mono);
    g_free(ps->rects);
    memset(ps, 0, sizeof *ps);
}

/* Counts for one line while its characters are walked. */
typedef struct {
    float sizes[4]; /* the first four distinct sizes and their character counts */
    int counts[4];
    int chars, bold, mono;
    bool box;
    double x0, y0, x1, y1;
} line_acc_t;

static void
s_acc_char(line_acc_t *acc, const page_style_t *ps, guint attr, long ci)
{
    acc->chars++;
    if (attr < ps->nattrs && ps->attrs[attr]->start_index <= ci &&
        ci <= ps->attrs[attr]->end_index) {
        float size = (float)ps->attrs[attr]->font_size;
        for (int k = 0; k < 4; k++) {
            if (acc->counts[k] == 0 || acc->sizes[k] == size) {
                acc->sizes[k] = size;
                acc->counts[k]++;
                break;
            }
        }
        acc->bold += ps->bold[attr];
        acc->mono += ps->mono[attr];
    }
    if (ci >= 0 && (guint)ci < ps->nrects) {
        const PopplerRectangle *r = &ps->rects[ci];
        if (!acc->box) {
            acc->x0 = r->x1, acc->y0 = r->y1, acc->x1 = r->x2, acc->y1 = r->y2;
            acc->box = true;
        } else {
            acc->x0 = MIN(acc->x0, r->x1), acc->y0 = MIN(acc->y0, r->y1);
            acc->x1 = MAX(acc->x1, r->x2), acc->y1 = MAX(acc->y1, r->y2);
        }
    }
}

static void
s_line_add(builder_t *b, int page, const char *text, size_t len, const line_acc_t *acc)
{
    text_line_t line = {.text = text, .len = len, .page = page};
    int best = 0;
    for (int k = 1; k < 4; k++) {
        if (acc->counts[k] > acc->counts[best])
            best = k;
    }
    line.size = acc->counts[best] > 0 ? acc->sizes[best] : 0;
    line.bold = acc->chars > 0 && 2 * acc->bold > acc->chars;
    line.mono = acc->chars > 0 && 2 * acc->mono > acc->chars;
    if (acc->box && acc->x1 > acc->x0 && acc->y1 > acc->y0) {
        line.x0 = (float)acc->x0, line.y0 = (float)acc->y0;
        line.x1 = (float)acc->x1, line.y1 = (float)acc->y1;
    }
    g_array_append_val(b->lines, line);
}

/* Split a page's text into lines and give each its font size, weight, pitch and box. Poppler's
 * attribute and layout indices count characters of the same text. */
static void
s_page_lines(builder_t *b, int page, PopplerPage *pp, const char *text)
{
    page_style_t ps;
    s_page_style_read(pp, &ps);
    long ci = 0;
    guint attr = 0;
    const char *p = text;
    while (*p != '\0') {
        const char *eol = strchr(p, '\n');
        size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);
        line_acc_t acc = {0};
        for (const char *c = p; c < p + len; c = g_utf8_next_char(c), ci++) {
            while (attr < ps.nattrs && ps.attrs[attr]->end_index < ci)
                attr++;
            if (!g_ascii_isspace(*c))
                s_acc_char(&acc, &ps, attr, ci);
        }
        s_line_add(b, page, p, len, &acc);
        if (eol == NULL)
            break;
        p = eol + 1;
        ci++; /* the newline */
    }
    s_page_style_free(&ps);
}

/* Text and lines of every page (poppler_page_get_text: the engine of pdftotext). */
static int
s_text_read(builder_t *b, course_error_t *err)
{
    size_t total = 0;
    bool any = false;
    b->texts = g_new0(char *, (gsize)b->pages);
    b->heights = g_new0(float, (gsize)b->pages);
    for (int i = 0; i < b->pages; i++) {
        PopplerPage *page = poppler_document_get_page(b->doc, i);
        char *text = page != NULL ? poppler_page_get_text(page) : NULL;
        b->texts[i] = text != NULL && g_utf8_validate(text, -1, NULL) ? text : g_strdup("");
        if (b->texts[i] != text)
            g_free(text);
        if (page != NULL) {
            double width = 0, height = 0;
            poppler_page_get_size(page, &width, &height);
            b->heights[i] = (float)height;
            if (b->texts[i][0] != '\0')
                s_page_lines(b, i + 1, page, b->texts[i]);
            g_object_unref(page);
        }
        any = any || !s_is_blank(b->texts[i]);
        total += strlen(b->texts[i]);
        if (total > b->options->max_output)
            return s_fail(err, "too_large",
                          "This PDF holds more text than a course may have (%zu MiB).",
                          b->options->max_output >> 20);
        if (b->options->page_delay_ms > 0)
            s_sleep_ms(b->options->page_delay_ms);
        s_progress(b, "text", 5 + (int)(90LL * (i + 1) / b->pages), i + 1);
    }
    if (!any)
        return s_fail(err, "no_text",
                      "This PDF contains no text that can be extracted; it may be made of "
                      "scanned images. Please upload a PDF whose text can be selected.");
    return 0;
}

/* ---------------------------------------------------------------- lessons */

static int
s_fail_memory(course_error_t *err)
{
    return s_fail(err, "too_large", "This PDF needs more memory than the parser may use.");
}

/* The clean text of every lesson, then what course_text derives from them. */
static int
s_render_lessons(builder_t *b, course_error_t *err)
{
    const text_line_t *lines = (const text_line_t *)b->lines->data;
    size_t total = 0, count = 0;
    for (guint i = 0; i < b->modules->len; i++)
        count += g_array_index(b->modules, module_t, i).lessons->len;
    course_text_lesson_t *input = g_new0(course_text_lesson_t, count + 1);
    size_t k = 0;
    int rc = 0;
    for (guint i = 0; i < b->modules->len && rc == 0; i++) {
        GArray *lessons = g_array_index(b->modules, module_t, i).lessons;
        for (guint j = 0; j < lessons->len && rc == 0; j++) {
            lesson_t *l = &g_array_index(lessons, lesson_t, j);
            strbuf_t text;
            strbuf_init(&text);
            l->offsets = calloc((size_t)(l->end - l->start + 1), sizeof *l->offsets);
            if (l->end_line > l->first_line)
                textclean_render(lines, b->lines->len, l->first_line, l->end_line, l->start, l->end,
                                 &text, l->offsets);
            else
                textclean_render_pages(lines, b->lines->len, l->start, l->end, &text, l->offsets);
            l->text = strbuf_steal(&text, &l->len);
            total += l->len;
            if (l->text == NULL || l->offsets == NULL)
                rc = s_fail_memory(err);
            else if (total > b->options->max_output)
                rc = s_fail(err, "too_large",
                            "The course built from this PDF is larger than %zu MiB.",
                            b->options->max_output >> 20);
            else
                input[k++] = (course_text_lesson_t){l->text, l->len, l->start, l->end, l->offsets};
        }
    }
    if (rc == 0 && course_text_analyse(input, k, &b->analysis) != 0)
        rc = s_fail_memory(err);
    g_free(input);
    return rc;
}

/* ---------------------------------------------------------------- JSON */

/* A document metadata string, NULL when absent or blank. Caller owns it. */
static char *
s_meta(gchar *value)
{
    char *v = s_title_dup(value);
    g_free(value);
    return v;
}

static void
s_json_lesson(json_t *j, const lesson_t *l, size_t index, const course_text_result_t *r)
{
    char id[32];
    snprintf(id, sizeof id, "l%zu", index + 1);
    json_object_begin(j);
    json_key(j, "id");
    json_cstring(j, id);
    json_key(j, "title");
    json_cstring(j, l->title);
    json_key(j, "page_start");
    json_int(j, l->start);
    json_key(j, "page_end");
    json_int(j, l->end);
    json_key(j, "text");
    json_string(j, l->text != NULL ? l->text : "", l->len);
    json_key(j, "summary");
    json_cstring(j, r != NULL && r->summary != NULL ? r->summary : "");
    json_key(j, "key_terms");
    json_array_begin(j);
    for (size_t i = 0; r != NULL && i < r->keyterms.count; i++)
        json_cstring(j, r->keyterms.items[i].text);
    json_array_end(j);
    json_object_end(j);
}

static void
s_json_modules(builder_t *b, json_t *j)
{
    size_t lesson = 0;
    json_key(j, "modules");
    json_array_begin(j);
    for (guint i = 0; i < b->modules->len && j->len <= b->options->max_output; i++) {
        const module_t *m = &g_array_index(b->modules, module_t, i);
        char id[32];
        snprintf(id, sizeof id, "m%u", i + 1);
        json_object_begin(j);
        json_key(j, "id");
        json_cstring(j, id);
        json_key(j, "title");
        json_cstring(j, m->title);
        json_key(j, "page_start");
        json_int(j, m->start);
        json_key(j, "page_end");
        json_int(j, m->end);
        json_key(j, "generated");
        json_bool(j, m->generated);
        json_key(j, "lessons");
        json_array_begin(j);
        for (guint k = 0; k < m->lessons->len && j->len <= b->options->max_output; k++) {
            const course_text_result_t *r =
                lesson < b->analysis.nlessons ? &b->analysis.lessons[lesson] : NULL;
            s_json_lesson(j, &g_array_index(m->lessons, lesson_t, k), lesson, r);
            lesson++;
        }
        json_array_end(j);
        json_object_end(j);
    }
    json_array_end(j);
}

static void
s_json_quiz(builder_t *b, json_t *j)
{
    const quiz_t *quiz = &b->analysis.quiz;
    json_key(j, "quiz");
    json_array_begin(j);
    for (size_t i = 0; i < quiz->count && j->len <= b->options->max_output; i++) {
        const quiz_question_t *q = &quiz->items[i];
        char id[32], lesson[32];
        snprintf(id, sizeof id, "q%zu", i + 1);
        snprintf(lesson, sizeof lesson, "l%zu", q->lesson + 1);
        json_object_begin(j);
        json_key(j, "id");
        json_cstring(j, id);
        json_key(j, "lesson");
        json_cstring(j, lesson);
        json_key(j, "prompt");
        json_cstring(j, q->prompt);
        json_key(j, "choices");
        json_array_begin(j);
        for (int c = 0; c < QUIZ_CHOICES; c++)
            json_cstring(j, q->choices[c]);
        json_array_end(j);
        json_key(j, "answer");
        json_int(j, q->answer);
        json_key(j, "source_page");
        json_int(j, b->analysis.source_pages[i]);
        json_object_end(j);
    }
    json_array_end(j);
}

static int
s_json_write(builder_t *b, json_t *j, course_error_t *err)
{
    const course_options_t *o = b->options;
    char *pdf_title = s_meta(poppler_document_get_title(b->doc));
    char *author = s_meta(poppler_document_get_author(b->doc));

    json_object_begin(j);
    json_key(j, "title");
    json_cstring(j, o->title != NULL    ? o->title
                    : pdf_title != NULL ? pdf_title
                                        : "Untitled course");
    json_key(j, "source");
    json_object_begin(j);
    json_key(j, "filename");
    json_cstring(j, o->filename != NULL ? o->filename : "");
    json_key(j, "sha256");
    json_cstring(j, o->sha256 != NULL ? o->sha256 : "");
    json_key(j, "pages");
    json_int(j, b->pages);
    json_key(j, "pdf_title");
    json_cstring(j, pdf_title);
    json_key(j, "author");
    json_cstring(j, author);
    json_object_end(j);
    json_key(j, "structure");
    json_cstring(j, s_structure_names[b->structure]);
    json_key(j, "language");
    json_cstring(j, b->analysis.language);
    s_json_modules(b, j);
    s_json_quiz(b, j);
    json_object_end(j);

    g_free(pdf_title);
    g_free(author);
    if (j->len > o->max_output)
        return s_fail(err, "too_large", "The course built from this PDF is larger than %zu MiB.",
                      o->max_output >> 20);
    if (json_failed(j))
        return s_fail_memory(err);
    return 0;
}

/* ---------------------------------------------------------------- build */

/* Modules and lessons: the outline, else the headings, else page groups. */
static int
s_plan(builder_t *b, course_error_t *err)
{
    if (textclean_mark_running((text_line_t *)b->lines->data, b->lines->len, b->pages,
                               b->heights) != 0)
        return s_fail_memory(err);
    s_plan_entries(b, STRUCTURE_OUTLINE);
    if (b->modules->len > 0) {
        const char **titles = g_new0(const char *, b->entries->len + 1);
        size_t n = 0;
        for (guint i = 0; i < b->entries->len; i++) {
            const entry_t *e = &g_array_index(b->entries, entry_t, i);
            if (e->level <= 2 && e->title != NULL)
                titles[n++] = e->title;
        }
        int rc = s_mark_title_echoes(b, titles, n);
        g_free(titles);
        if (rc != 0)
            return s_fail_memory(err);
    }
    if (b->modules->len == 0) {
        g_array_set_size(b->entries, 0);
        if (s_plan_headings(b) != 0)
            return s_fail_memory(err);
    }
    if (b->modules->len == 0)
        s_plan_pages(b);
    return 0;
}

int
course_build(PopplerDocument *doc, const course_options_t *options, char **json, size_t *len,
             course_error_t *err)
{
    int rc = -1;
    json_t j;
    json_init(&j);
    builder_t b = {.doc = doc, .options = options};
    b.entries = g_array_new(FALSE, FALSE, sizeof(entry_t));
    g_array_set_clear_func(b.entries, s_entry_clear);
    b.modules = g_array_new(FALSE, FALSE, sizeof(module_t));
    g_array_set_clear_func(b.modules, s_module_clear);
    b.lines = g_array_new(FALSE, FALSE, sizeof(text_line_t));
    *json = NULL;
    *len = 0;

    b.pages = poppler_document_get_n_pages(doc);
    s_progress(&b, "parsing", 2, 0);
    if (b.pages <= 0) {
        s_fail(err, "no_text", "This PDF has no pages.");
        goto done;
    }
    if (options->max_pages > 0 && b.pages > options->max_pages) {
        s_fail(err, "too_large", "This PDF has %d pages; a course may have at most %d.", b.pages,
               options->max_pages);
        goto done;
    }
    s_progress(&b, "outline", 4, 0);
    s_outline_read(&b);
    s_progress(&b, "text", 5, 0);
    if (s_text_read(&b, err) != 0)
        goto done;
    s_progress(&b, "building", 96, b.pages);
    if (s_plan(&b, err) != 0 || s_render_lessons(&b, err) != 0 || s_json_write(&b, &j, err) != 0)
        goto done;
    *json = json_steal(&j, len);
    rc = 0;
done:
    json_free(&j);
    course_text_free(&b.analysis);
    if (b.texts != NULL) {
        for (int i = 0; i < b.pages; i++)
            g_free(b.texts[i]);
        g_free(b.texts);
    }
    g_free(b.heights);
    g_array_free(b.lines, TRUE);
    g_array_free(b.entries, TRUE);
    g_array_free(b.modules, TRUE);
    return rc;
}
