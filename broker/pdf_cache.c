/*
 * pdf_cache.c - see pdf_cache.h.
 */
#include "pdf_cache.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char sha256[65]; /* "" when free */
    uint8_t *data;
    size_t len;
} s_entry_t;

struct pdf_cache_t {
    s_entry_t entries[PDF_CACHE_ITEMS];
    size_t next; /* the entry replaced by the next put (the oldest) */
};

pdf_cache_t *
pdf_cache_new(void)
{
    return calloc(1, sizeof(pdf_cache_t));
}

void
pdf_cache_destroy(pdf_cache_t **self_p)
{
    pdf_cache_t *self = *self_p;
    if (self == NULL)
        return;
    for (size_t i = 0; i < PDF_CACHE_ITEMS; i++)
        free(self->entries[i].data);
    free(self);
    *self_p = NULL;
}

static s_entry_t *
s_find(pdf_cache_t *self, const char *sha256)
{
    for (size_t i = 0; i < PDF_CACHE_ITEMS; i++) {
        if (self->entries[i].data != NULL && strcmp(self->entries[i].sha256, sha256) == 0)
            return &self->entries[i];
    }
    return NULL;
}

const uint8_t *
pdf_cache_get(pdf_cache_t *self, const char *sha256, size_t *len)
{
    s_entry_t *e = s_find(self, sha256);
    if (e == NULL)
        return NULL;
    *len = e->len;
    return e->data;
}

int
pdf_cache_put(pdf_cache_t *self, const char *sha256, const uint8_t *data, size_t len)
{
    if (len > PDF_CACHE_ITEM_MAX || strlen(sha256) != 64)
        return -1;
    if (s_find(self, sha256) != NULL)
        return 0;
    gchar *hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, len);
    bool same = hex != NULL && strcmp(hex, sha256) == 0;
    g_free(hex);
    if (!same)
        return -1;
    uint8_t *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL)
        return -1;
    memcpy(copy, data, len);
    s_entry_t *e = &self->entries[self->next];
    self->next = (self->next + 1) % PDF_CACHE_ITEMS;
    free(e->data);
    memcpy(e->sha256, sha256, 65);
    e->data = copy;
    e->len = len;
    return 0;
}
