/* text_index.c - see text_index.h. */
#define _GNU_SOURCE /* memmem */
#include "text_index.h"

#include <stdlib.h>
#include <string.h>

#define GRAM 4 /* bytes hashed per position */

struct text_index {
    const char *text; /* borrowed */
    size_t len;
    unsigned bits;    /* buckets = 1 << bits */
    uint32_t *starts; /* bucket b's positions are pos[starts[b + 1]..starts[b + 2]) */
    uint32_t *pos;    /* every position with GRAM bytes after it, grouped by bucket, ascending */
};

static uint32_t
s_hash(const char *p, unsigned bits)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return (uint32_t)(v * 2654435761u) >> (32 - bits);
}

text_index_t *
text_index_new(const char *text, size_t len)
{
    if (text == NULL || len < TEXT_INDEX_MIN || len >= UINT32_MAX)
        return NULL;
    text_index_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    size_t grams = len - GRAM + 1;
    unsigned bits = 10;
    while (bits < 16 && ((size_t)1 << bits) < grams / 16)
        bits++;
    size_t buckets = (size_t)1 << bits;
    *self = (text_index_t){.text = text, .len = len, .bits = bits};
    self->starts = calloc(buckets + 2, sizeof *self->starts);
    self->pos = malloc(grams * sizeof *self->pos);
    if (self->starts == NULL || self->pos == NULL) {
        text_index_free(self);
        return NULL;
    }
    /* Counting sort by bucket, in place: counts, then each bucket's end, then the positions
     * from the last down, which leaves starts[b + 1] at bucket b's first position and every
     * bucket in ascending order. */
    uint32_t *ends = self->starts + 1;
    for (size_t i = 0; i < grams; i++)
        ends[s_hash(text + i, bits)]++;
    for (size_t b = 1; b <= buckets; b++)
        ends[b] += ends[b - 1];
    for (size_t i = grams; i-- > 0;)
        self->pos[--ends[s_hash(text + i, bits)]] = (uint32_t)i;
    return self;
}

void
text_index_free(text_index_t *self)
{
    if (self == NULL)
        return;
    free(self->starts);
    free(self->pos);
    free(self);
}

void
text_search_init(text_search_t *s, const text_index_t *index, const char *hay, size_t len,
                 const char *needle, size_t n)
{
    *s = (text_search_t){.hay = hay, .len = len, .needle = needle, .n = n};
    if (index == NULL || n < GRAM || index->text != hay || index->len != len)
        return;
    /* The needle's rarest 4 bytes: the shortest list to walk. */
    size_t best = SIZE_MAX;
    for (size_t i = 0; i + GRAM <= n; i++) {
        uint32_t b = s_hash(needle + i, index->bits);
        size_t count = index->starts[b + 2] - index->starts[b + 1];
        if (count < best) {
            best = count;
            s->offset = i;
            s->at = index->pos + index->starts[b + 1];
            s->end = index->pos + index->starts[b + 2];
            if (count == 0)
                break;
        }
    }
    s->indexed = true;
}

const char *
text_search_next(text_search_t *s)
{
    if (s->n == 0 || s->hay == NULL)
        return NULL;
    if (s->indexed) {
        while (s->at < s->end) {
            size_t p = *s->at++;
            if (p < s->offset)
                continue;
            size_t start = p - s->offset;
            if (start + s->n <= s->len && memcmp(s->hay + start, s->needle, s->n) == 0)
                return s->hay + start;
        }
        return NULL;
    }
    if (s->next >= s->len)
        return NULL;
    const char *f = memmem(s->hay + s->next, s->len - s->next, s->needle, s->n);
    s->next = f != NULL ? (size_t)(f - s->hay) + 1 : s->len;
    return f;
}

bool
text_index_contains(const text_index_t *index, const char *hay, size_t len, const char *needle,
                    size_t n)
{
    text_search_t s;
    text_search_init(&s, index, hay, len, needle, n);
    return text_search_next(&s) != NULL;
}
