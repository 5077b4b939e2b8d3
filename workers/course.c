/* course.c - see course.h. */
#include "course.h"

#include "json.h"

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
} lesson_t;

typedef struct {
    char *title; /* owned */
    int start;
    int end;
    bool generated;
    GArray *lessons; /* of lesson_t */
} module_t;

/* Everything one build needs; lives for one course_build call. */
typedef struct {
    PopplerDocument *doc; /* borrowed */
    const course_options_t *options;
    int pages;
    char **texts;      /* page texts, texts[0] = page 1; owned */
    GArray *entries;   /* of entry_t */
    GArray *modules;   /* of module_t */
    bool from_outline; /* structure "outline" rather than "pages" */
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

static void
s_lesson_clear(gpointer p)
{
    g_free(((lesson_t *)p)->title);
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
    lesson_t l = {title, start, end};
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

static void
s_plan_outline(builder_t *b)
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
    b->from_outline = true;
}

/* ---------------------------------------------------------------- page groups */

/* The first non-empty line of text if it looks like a heading: short, with a letter, not
 * ending like a sentence. Caller owns the result; NULL when it does not look like one. */
static char *
s_heading_guess(const char *text)
{
    while (*text != '\0' && g_ascii_isspace(*text))
        text++;
    const char *eol = strchr(text, '\n');
    size_t len = eol != NULL ? (size_t)(eol - text) : strlen(text);
    if (len == 0 || len > 4 * COURSE_HEADING_MAX || !g_utf8_validate(text, (gssize)len, NULL))
        return NULL;
    char *line = g_strstrip(g_strndup(text, len));
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
            char *title = s_heading_guess(b->texts[ls - 1]);
            s_lesson_add(m, title != NULL ? title : s_pages_title(ls, le), ls, le);
        }
    }
    b->from_outline = false;
}

/* ---------------------------------------------------------------- text */

static void
s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Text of every page, as poppler_page_get_text gives it (the engine of pdftotext). */
static int
s_text_read(builder_t *b, course_error_t *err)
{
    size_t total = 0;
    bool any = false;
    b->texts = g_new0(char *, (gsize)b->pages);
    for (int i = 0; i < b->pages; i++) {
        PopplerPage *page = poppler_document_get_page(b->doc, i);
        char *text = page != NULL ? poppler_page_get_text(page) : NULL;
        if (page != NULL)
            g_object_unref(page);
        b->texts[i] = text != NULL ? text : g_strdup("");
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
s_json_lesson(builder_t *b, json_t *j, const lesson_t *l, GString *text)
{
    g_string_truncate(text, 0);
    for (int p = l->start; p <= l->end; p++) {
        if (p > l->start)
            g_string_append_c(text, '\n');
        g_string_append(text, b->texts[p - 1]);
    }
    json_object_begin(j);
    json_key(j, "title");
    json_cstring(j, l->title);
    json_key(j, "page_start");
    json_int(j, l->start);
    json_key(j, "page_end");
    json_int(j, l->end);
    json_key(j, "text");
    json_string(j, text->str, text->len);
    json_object_end(j);
}

static int
s_json_write(builder_t *b, json_t *j, course_error_t *err)
{
    const course_options_t *o = b->options;
    char *pdf_title = s_meta(poppler_document_get_title(b->doc));
    char *author = s_meta(poppler_document_get_author(b->doc));
    GString *text = g_string_new(NULL);

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
    json_cstring(j, b->from_outline ? "outline" : "pages");
    json_key(j, "modules");
    json_array_begin(j);
    for (guint i = 0; i < b->modules->len && j->len <= o->max_output; i++) {
        const module_t *m = &g_array_index(b->modules, module_t, i);
        json_object_begin(j);
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
        for (guint k = 0; k < m->lessons->len && j->len <= o->max_output; k++)
            s_json_lesson(b, j, &g_array_index(m->lessons, lesson_t, k), text);
        json_array_end(j);
        json_object_end(j);
    }
    json_array_end(j);
    json_object_end(j);

    g_string_free(text, TRUE);
    g_free(pdf_title);
    g_free(author);
    if (j->len > o->max_output)
        return s_fail(err, "too_large", "The course built from this PDF is larger than %zu MiB.",
                      o->max_output >> 20);
    if (json_failed(j))
        return s_fail(err, "too_large", "This PDF needs more memory than the parser may use.");
    return 0;
}

/* ---------------------------------------------------------------- build */

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
    s_plan_outline(&b);
    if (b.modules->len == 0)
        s_plan_pages(&b);
    if (s_json_write(&b, &j, err) != 0)
        goto done;
    *json = json_steal(&j, len);
    rc = 0;
done:
    json_free(&j);
    if (b.texts != NULL) {
        for (int i = 0; i < b.pages; i++)
            g_free(b.texts[i]);
        g_free(b.texts);
    }
    g_array_free(b.entries, TRUE);
    g_array_free(b.modules, TRUE);
    return rc;
}
