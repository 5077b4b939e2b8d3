/* docmodel.c - see docmodel.h. */
#include "docmodel.h"

#include "strbuf.h"
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

static bool
s_is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int
docmodel_init(docmodel_t *dm, int pages)
{
    memset(dm, 0, sizeof *dm);
    if (pages <= 0)
        return -1;
    dm->texts = calloc((size_t)pages, sizeof *dm->texts);
    dm->heights = calloc((size_t)pages, sizeof *dm->heights);
    if (dm->texts == NULL || dm->heights == NULL) {
        free(dm->texts);
        free(dm->heights);
        memset(dm, 0, sizeof *dm);
        return -1;
    }
    dm->pages = pages;
    return 0;
}

void
docmodel_free(docmodel_t *dm)
{
    for (int i = 0; dm->texts != NULL && i < dm->pages; i++)
        free(dm->texts[i]);
    free(dm->texts);
    free(dm->heights);
    free(dm->lines);
    for (size_t i = 0; i < dm->nentries; i++)
        free(dm->entries[i].title);
    free(dm->entries);
    free(dm->title);
    free(dm->author);
    memset(dm, 0, sizeof *dm);
}

const char *
docmodel_page_set(docmodel_t *dm, int page, const char *text, size_t len, float height)
{
    if (page < 1 || page > dm->pages)
        return NULL;
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, text, len);
    copy[len] = '\0';
    free(dm->texts[page - 1]);
    dm->texts[page - 1] = copy;
    dm->heights[page - 1] = height;
    return copy;
}

int
docmodel_line_add(docmodel_t *dm, const text_line_t *line)
{
    if (array_grow((void **)&dm->lines, &dm->lines_cap, dm->nlines + 1, sizeof *dm->lines) != 0)
        return -1;
    dm->lines[dm->nlines++] = *line;
    return 0;
}

int
docmodel_lines_order(docmodel_t *dm)
{
    if (dm->nlines == 0)
        return 0;
    /* A counting sort by page: stable, so each page keeps its lines' order. */
    size_t *at = calloc((size_t)dm->pages + 2, sizeof *at);
    text_line_t *sorted = malloc(dm->nlines * sizeof *sorted);
    if (at == NULL || sorted == NULL) {
        free(at);
        free(sorted);
        return -1;
    }
    for (size_t i = 0; i < dm->nlines; i++) {
        int page = dm->lines[i].page;
        at[page >= 1 && page <= dm->pages ? page : dm->pages + 1]++;
    }
    size_t sum = 0;
    for (int p = 0; p <= dm->pages + 1; p++) {
        size_t n = at[p];
        at[p] = sum;
        sum += n;
    }
    for (size_t i = 0; i < dm->nlines; i++) {
        int page = dm->lines[i].page;
        sorted[at[page >= 1 && page <= dm->pages ? page : dm->pages + 1]++] = dm->lines[i];
    }
    free(at);
    free(dm->lines);
    dm->lines = sorted;
    dm->lines_cap = dm->nlines;
    return 0;
}

bool
docmodel_entry_wanted(const docmodel_t *dm)
{
    return dm->nentries < DOCMODEL_OUTLINE_ITEMS_MAX;
}

int
docmodel_entry_add(docmodel_t *dm, int level, const char *raw_title, int page, float top)
{
    if (level > DOCMODEL_OUTLINE_DEPTH_MAX || !docmodel_entry_wanted(dm))
        return 0;
    doc_entry_t e = {level, NULL, page, top >= 0 ? top : -1.0f};
    if (docmodel_title_dup(raw_title, &e.title) != 0)
        return -1;
    if (array_grow((void **)&dm->entries, &dm->entries_cap, dm->nentries + 1,
                   sizeof *dm->entries) != 0) {
        free(e.title);
        return -1;
    }
    dm->entries[dm->nentries++] = e;
    return 0;
}

int
docmodel_meta_set(docmodel_t *dm, const char *title, const char *author)
{
    char *t = NULL, *a = NULL;
    if (docmodel_title_dup(title, &t) != 0 || docmodel_title_dup(author, &a) != 0) {
        free(t);
        return -1;
    }
    free(dm->title);
    free(dm->author);
    dm->title = t;
    dm->author = a;
    return 0;
}

void
docmodel_trim(const char **s, size_t *len)
{
    while (*len > 0 && s_is_ascii_space(**s))
        (*s)++, (*len)--;
    while (*len > 0 && s_is_ascii_space((*s)[*len - 1]))
        (*len)--;
}

int
docmodel_title_dup(const char *raw, char **out)
{
    *out = NULL;
    if (raw == NULL)
        return 0;
    size_t len = strlen(raw);
    docmodel_trim(&raw, &len);
    if (len > DOCMODEL_TITLE_MAX) {
        len = utf8_char_start(raw, DOCMODEL_TITLE_MAX); /* cut before that character */
        while (len > 0 && s_is_ascii_space(raw[len - 1]))
            len--;
    }
    if (len == 0)
        return 0;
    char *title = malloc(len + 1);
    if (title == NULL)
        return -1;
    memcpy(title, raw, len);
    title[len] = '\0';
    *out = title;
    return 0;
}
