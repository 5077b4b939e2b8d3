/*
 * pdf_reader.c - see pdf_reader.h. Poppler in, document model out: no planning here.
 */
#include "pdf_reader.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- opening */

int
pdf_reader_open(GBytes *bytes, PopplerDocument **doc, course_error_t *err)
{
    *doc = NULL;
    gsize size = 0;
    const char *data = g_bytes_get_data(bytes, &size);
    /* The PDF header may follow some junk, but readers only look at the first kilobyte. */
    if (data == NULL || size == 0 || g_strstr_len(data, MIN(size, (gsize)1024), "%PDF-") == NULL)
        return course_fail(err, PROFAI_ERR_NOT_PDF, "This file is not a PDF document.");

    GError *error = NULL;
    *doc = poppler_document_new_from_bytes(bytes, NULL, &error);
    if (*doc != NULL)
        return 0;
    bool encrypted =
        error != NULL && error->domain == POPPLER_ERROR && error->code == POPPLER_ERROR_ENCRYPTED;
    g_clear_error(&error);
    if (encrypted)
        return course_fail(err, PROFAI_ERR_ENCRYPTED,
                           "This PDF is protected by a password. Please upload a copy that opens "
                           "without a password.");
    return course_fail(err, PROFAI_ERR_DAMAGED,
                       "This PDF is damaged and cannot be read. Please export it again from the "
                       "original document and upload the new file.");
}

/* ---------------------------------------------------------------- helpers */

/* Everything one read needs; lives for one pdf_reader_read call. */
typedef struct {
    PopplerDocument *doc; /* borrowed */
    const pdf_reader_options_t *options;
    docmodel_t *model; /* borrowed */
    int pages;
    int first, last; /* the pages read: every page unless options name a range */
    bool failed;     /* out of memory */
    GArray *named;   /* named_ref_t: outline entries whose page a named destination gives */
} reader_t;

/* An outline entry waiting for its named destination (looked up after the walk). */
typedef struct {
    size_t entry; /* index in model->entries */
    char *name;   /* owned (g_free) */
} named_ref_t;

static void
s_progress(reader_t *r, const char *stage, int percent, int page)
{
    if (r->options->progress != NULL)
        r->options->progress(r->options->progress_arg, stage, percent, page, r->pages);
}

static void
s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* ---------------------------------------------------------------- outline */

/* Where a destination points: its page's height minus its top (poppler gives the top in
 * PDF user space, from the page's bottom); -1 when the destination does not say. */
static float
s_dest_top(PopplerDocument *doc, const PopplerDest *dest)
{
    bool has_top = dest->change_top || dest->type == POPPLER_DEST_FITH ||
                   dest->type == POPPLER_DEST_FITBH || dest->type == POPPLER_DEST_FITR;
    if (!has_top || dest->page_num <= 0 || dest->page_num > poppler_document_get_n_pages(doc))
        return -1;
    PopplerPage *page = poppler_document_get_page(doc, dest->page_num - 1);
    if (page == NULL)
        return -1;
    double width = 0, height = 0;
    poppler_page_get_size(page, &width, &height);
    g_object_unref(page);
    double top = height - dest->top;
    return top >= 0 && top <= height ? (float)top : -1;
}

/* The 1-based page an outline action points at (0 when unknown) and where on it (*top,
 * points from the page's top, -1 when unknown). A named destination is not looked up here:
 * *name gets it (borrowed from the action) and the page is 0 until s_named_resolve. */
static int
s_action_page(PopplerDocument *doc, PopplerAction *action, float *top, const char **name)
{
    *top = -1;
    *name = NULL;
    if (action == NULL || action->type != POPPLER_ACTION_GOTO_DEST)
        return 0;
    PopplerDest *dest = action->goto_dest.dest;
    if (dest == NULL)
        return 0;
    if (dest->type != POPPLER_DEST_NAMED) {
        *top = s_dest_top(doc, dest);
        return dest->page_num;
    }
    *name = dest->named_dest;
    return 0;
}

/* Where each distinct name points: a page and a top. */
typedef struct {
    int page;
    float top;
} dest_place_t;

/* Look up the named destinations of the outline, each distinct name once, after the walk:
 * every lookup fetches its destination from an object stream, and the outline's own
 * objects fetched in between evicted streams from poppler's small cache. */
static void
s_named_resolve(reader_t *r)
{
    if (r->named == NULL || r->named->len == 0)
        return;
    GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    for (guint i = 0; i < r->named->len; i++) {
        named_ref_t *ref = &g_array_index(r->named, named_ref_t, i);
        dest_place_t *place = g_hash_table_lookup(seen, ref->name);
        if (place == NULL) {
            place = g_new(dest_place_t, 1);
            place->page = 0;
            place->top = -1;
            PopplerDest *found = poppler_document_find_dest(r->doc, ref->name);
            if (found != NULL) {
                place->page = found->page_num;
                place->top = s_dest_top(r->doc, found);
                poppler_dest_free(found);
            }
            g_hash_table_insert(seen, ref->name, place);
        }
        doc_entry_t *e = &r->model->entries[ref->entry];
        e->page = place->page;
        e->top = place->top >= 0 ? place->top : -1.0f;
    }
    g_hash_table_destroy(seen);
}

static void
s_named_free(reader_t *r)
{
    if (r->named == NULL)
        return;
    for (guint i = 0; i < r->named->len; i++)
        g_free(g_array_index(r->named, named_ref_t, i).name);
    g_array_free(r->named, TRUE);
    r->named = NULL;
}

/* Depth-first walk in reading order. Depth and count are capped (docmodel.h): malformed
 * outlines (cycles, huge trees) have crashed or hung readers. */
static void
s_outline_walk(reader_t *r, PopplerIndexIter *iter, int level)
{
    do {
        if (!docmodel_entry_wanted(r->model) || r->failed)
            return;
        PopplerAction *action = poppler_index_iter_get_action(iter);
        const char *title = action != NULL ? action->any.title : NULL;
        float top = -1;
        const char *name = NULL;
        int page = action != NULL ? s_action_page(r->doc, action, &top, &name) : 0;
        size_t before = r->model->nentries;
        if (docmodel_entry_add(r->model, level, title, page, top) != 0)
            r->failed = true;
        else if (name != NULL && r->model->nentries > before) {
            named_ref_t ref = {before, g_strdup(name)};
            g_array_append_val(r->named, ref);
        }
        if (action != NULL)
            poppler_action_free(action);
        if (level < DOCMODEL_OUTLINE_DEPTH_MAX) {
            PopplerIndexIter *child = poppler_index_iter_get_child(iter);
            if (child != NULL) {
                s_outline_walk(r, child, level + 1);
                poppler_index_iter_free(child);
            }
        }
    } while (poppler_index_iter_next(iter));
}

static void
s_outline_read(reader_t *r)
{
    PopplerIndexIter *iter = poppler_index_iter_new(r->doc);
    if (iter == NULL)
        return;
    /* Load the whole page tree first, in one pass (asking for the last page does). Otherwise
     * each entry's page lookup loads a little more of it between two named-destination
     * lookups, thrashing poppler's cache of 5 object streams: 6% of the instructions of the
     * English AMC manual's course went to parsing the same object streams again. */
    PopplerPage *last = poppler_document_get_page(r->doc, r->pages - 1);
    if (last != NULL)
        g_object_unref(last);
    r->named = g_array_new(FALSE, FALSE, sizeof(named_ref_t));
    s_outline_walk(r, iter, 1);
    poppler_index_iter_free(iter);
    if (!r->failed)
        s_named_resolve(r);
    s_named_free(r);
}

/* ---------------------------------------------------------------- text */

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

static int
s_line_add(docmodel_t *model, int page, const char *text, size_t len, const line_acc_t *acc)
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
    return docmodel_line_add(model, &line);
}

/* Split a page's text into lines and give each its font size, weight, pitch and box. Poppler's
 * attribute and layout indices count characters of the same text. */
static int
s_page_lines(docmodel_t *model, int page, PopplerPage *pp, const char *text)
{
    page_style_t ps;
    s_page_style_read(pp, &ps);
    int rc = 0;
    long ci = 0;
    guint attr = 0;
    const char *p = text;
    while (*p != '\0' && rc == 0) {
        const char *eol = strchr(p, '\n');
        size_t len = eol != NULL ? (size_t)(eol - p) : strlen(p);
        line_acc_t acc = {0};
        for (const char *c = p; c < p + len; c = g_utf8_next_char(c), ci++) {
            while (attr < ps.nattrs && ps.attrs[attr]->end_index < ci)
                attr++;
            if (!g_ascii_isspace(*c))
                s_acc_char(&acc, &ps, attr, ci);
        }
        rc = s_line_add(model, page, p, len, &acc);
        if (eol == NULL)
            break;
        p = eol + 1;
        ci++; /* the newline */
    }
    s_page_style_free(&ps);
    return rc;
}

/* Text and lines of every page (poppler_page_get_text: the engine of pdftotext). */
/* The page after `page` to read (1-based), 0 when done: the next of the range, or the one
 * options->next_page gives (0 also when it leaves the range). */
static int
s_page_next(reader_t *r, int page)
{
    if (r->options->next_page == NULL)
        return page < r->last ? page + 1 : 0;
    int next = r->options->next_page(r->options->next_arg);
    return next >= r->first && next <= r->last ? next : 0;
}

/* Text and lines of every page given, from `start` (poppler_page_get_text: the engine of
 * pdftotext). */
static int
s_text_read(reader_t *r, int start, course_error_t *err)
{
    size_t total = 0;
    bool any = false;
    for (int number = start; number != 0; number = s_page_next(r, number)) {
        int i = number - 1;
        PopplerPage *page = poppler_document_get_page(r->doc, i);
        char *text = page != NULL ? poppler_page_get_text(page) : NULL;
        bool valid = text != NULL && g_utf8_validate(text, -1, NULL);
        double width = 0, height = 0;
        if (page != NULL)
            poppler_page_get_size(page, &width, &height);
        size_t len = valid ? strlen(text) : 0;
        const char *copy =
            docmodel_page_set(r->model, i + 1, valid ? text : "", len, (float)height);
        g_free(text);
        int rc = copy != NULL ? 0 : -1;
        if (rc == 0 && page != NULL && copy[0] != '\0')
            rc = s_page_lines(r->model, i + 1, page, copy);
        if (page != NULL)
            g_object_unref(page);
        if (rc != 0)
            return course_fail_memory(err);
        const char *body = copy;
        size_t body_len = len;
        docmodel_trim(&body, &body_len);
        any = any || body_len > 0;
        total += len;
        if (total > r->options->max_output)
            return course_fail_text_size(err, r->options->max_output);
        if (r->options->page_delay_ms > 0)
            s_sleep_ms(r->options->page_delay_ms);
        s_progress(r, "text", 5 + (int)(90LL * (i + 1) / r->pages), i + 1);
    }
    if (!any && r->first == 1 && r->last == r->pages && r->options->next_page == NULL)
        return course_fail_no_text(err);
    return 0;
}

/* A document metadata string, trimmed into the model. */
static int
s_meta_read(reader_t *r)
{
    gchar *title = poppler_document_get_title(r->doc);
    gchar *author = poppler_document_get_author(r->doc);
    int rc = docmodel_meta_set(r->model, title, author);
    g_free(title);
    g_free(author);
    return rc;
}

/* ---------------------------------------------------------------- read */

int
pdf_reader_read(PopplerDocument *doc, const pdf_reader_options_t *options, docmodel_t *model,
                course_error_t *err)
{
    memset(model, 0, sizeof *model);
    reader_t r = {.doc = doc, .options = options, .model = model};
    r.pages = poppler_document_get_n_pages(doc);
    s_progress(&r, "parsing", 2, 0);
    if (r.pages <= 0)
        return course_fail(err, PROFAI_ERR_NO_TEXT, "This PDF has no pages.");
    if (options->max_pages > 0 && r.pages > options->max_pages)
        return course_fail(err, PROFAI_ERR_TOO_LARGE,
                           "This PDF has %d pages; a course may have at most %d.", r.pages,
                           options->max_pages);
    r.first = options->first_page > 0 ? options->first_page : 1;
    r.last = options->last_page > 0 ? options->last_page : r.pages;
    if (r.first > r.last || r.last > r.pages)
        return course_fail(err, PROFAI_ERR_INTERNAL,
                           "The PDF parser was given pages %d-%d of a PDF of %d pages.", r.first,
                           r.last, r.pages);
    if (docmodel_init(model, r.pages) != 0)
        return course_fail_memory(err);
    int start = s_page_next(&r, r.first - 1);
    s_progress(&r, "outline", 4, 0);
    if (start == 1)
        s_outline_read(&r);
    if (r.failed) {
        course_fail_memory(err);
        goto fail;
    }
    s_progress(&r, "text", 5, 0);
    if (s_text_read(&r, start, err) != 0)
        goto fail;
    /* Pages given out of order (a reader going down) left their lines out of order. */
    if (options->next_page != NULL && docmodel_lines_order(model) != 0) {
        course_fail_memory(err);
        goto fail;
    }
    if (start == 1 && s_meta_read(&r) != 0) {
        course_fail_memory(err);
        goto fail;
    }
    s_progress(&r, "building", 96, r.pages);
    return 0;
fail:
    docmodel_free(model);
    return -1;
}
