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
    size_t next;                   /* the entry replaced by the next put (the oldest) */
    char seen[PDF_CACHE_SEEN][65]; /* hashes offered once, a ring ("" when free) */
    size_t seen_next;              /* the slot the next first sighting takes (the oldest) */
    GHashTable *seen_set;          /* the ring's hashes (keys point into seen) */
};

pdf_cache_t *
pdf_cache_new(void)
{
    pdf_cache_t *self = calloc(1, sizeof(pdf_cache_t));
    if (self == NULL)
        return NULL;
    self->seen_set = g_hash_table_new(g_str_hash, g_str_equal);
    return self;
}

void
pdf_cache_destroy(pdf_cache_t **self_p)
{
    pdf_cache_t *self = *self_p;
    if (self == NULL)
        return;
    for (size_t i = 0; i < PDF_CACHE_ITEMS; i++)
        free(self->entries[i].data);
    g_hash_table_destroy(self->seen_set);
    free(self);
    *self_p = NULL;
}

/* Whether sha256 was offered before (and is still remembered); if not, remember it now,
 * forgetting the oldest remembered hash when the ring is full. */
static bool
s_seen_before(pdf_cache_t *self, const char *sha256)
{
    if (g_hash_table_contains(self->seen_set, sha256))
        return true;
    char *slot = self->seen[self->seen_next];
    self->seen_next = (self->seen_next + 1) % PDF_CACHE_SEEN;
    if (slot[0] != '\0')
        g_hash_table_remove(self->seen_set, slot);
    memcpy(slot, sha256, 65);
    g_hash_table_add(self->seen_set, slot);
    return false;
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
    if (!s_seen_before(self, sha256))
        return 1; /* most PDFs are read once: no hash, no copy */
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
