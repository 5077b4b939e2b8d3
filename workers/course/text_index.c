/* text_index.c - see text_index.h. */
#define _GNU_SOURCE /* memmem */
#include "text_index.h"

#include <stdlib.h>
#include <string.h>

#define GRAM 4 /* bytes hashed per position */
/* Only every STRIDE-th position is listed: a needle of GRAM + STRIDE - 1 bytes or more holds a
 * listed position wherever it starts, at one of STRIDE offsets, so a search walks STRIDE lists
 * of about 1/STRIDE the length. The index costs half the time and memory to build (a large
 * course's merge touched 52 MB for its two indexes); shorter needles search with memmem. */
#define STRIDE 2
_Static_assert(sizeof((text_search_t *)0)->walks / sizeof(text_walk_t) == STRIDE,
               "one walk per residue of the stride");

struct text_index {
    const char *text; /* borrowed */
    size_t len;
    unsigned bits;    /* buckets = 1 << bits */
    uint32_t *starts; /* bucket b's positions are pos[starts[b + 1]..starts[b + 2]) */
    uint32_t *pos;    /* every STRIDE-th position with GRAM bytes after it, grouped by bucket,
                       * ascending */
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
    size_t grams = (len - GRAM) / STRIDE + 1; /* positions 0, STRIDE, ... up to len - GRAM */
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
        ends[s_hash(text + i * STRIDE, bits)]++;
    for (size_t b = 1; b <= buckets; b++)
        ends[b] += ends[b - 1];
    for (size_t i = grams; i-- > 0;)
        self->pos[--ends[s_hash(text + i * STRIDE, bits)]] = (uint32_t)(i * STRIDE);
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
    if (index == NULL || n < GRAM + STRIDE - 1 || index->text != hay || index->len != len)
        return;
    /* For each start modulo STRIDE, the needle's rarest 4 bytes at an offset that puts them on
     * a listed position: the shortest list to walk. */
    for (size_t r = 0; r < STRIDE; r++) {
        text_walk_t *w = &s->walks[r];
        size_t best = SIZE_MAX;
        for (size_t i = r; i + GRAM <= n; i += STRIDE) {
            uint32_t b = s_hash(needle + i, index->bits);
            size_t count = index->starts[b + 2] - index->starts[b + 1];
            if (count < best) {
                best = count;
                *w = (text_walk_t){index->pos + index->starts[b + 1],
                                   index->pos + index->starts[b + 2], i, SIZE_MAX};
                if (count == 0)
                    break;
            }
        }
    }
    s->indexed = true;
}

/* The walk's next start of a match (SIZE_MAX when none is left), cached in w->start. */
static size_t
s_walk_peek(const text_search_t *s, text_walk_t *w)
{
    while (w->start == SIZE_MAX && w->at < w->end) {
        size_t p = *w->at++;
        if (p < w->offset)
            continue;
        size_t start = p - w->offset;
        if (start + s->n <= s->len && memcmp(s->hay + start, s->needle, s->n) == 0)
            w->start = start;
    }
    return w->start;
}

const char *
text_search_next(text_search_t *s)
{
    if (s->n == 0 || s->hay == NULL)
        return NULL;
    if (s->indexed) {
        /* The walks find starts of different residues: the smallest of their next ones. */
        text_walk_t *first = NULL;
        size_t least = SIZE_MAX;
        for (size_t r = 0; r < STRIDE; r++) {
            size_t start = s_walk_peek(s, &s->walks[r]);
            if (start < least)
                least = start, first = &s->walks[r];
        }
        if (first == NULL)
            return NULL;
        first->start = SIZE_MAX;
        return s->hay + least;
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
