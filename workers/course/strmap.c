/* strmap.c - see strmap.h. */
#include "strmap.h"

#include "strbuf.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t offset; /* into arena */
    size_t len;
    uint64_t hash;
} key_t_;

struct strmap {
    char *arena;
    size_t arena_len;
    size_t arena_cap;
    key_t_ *keys;
    size_t count;
    size_t keys_cap;
    long *slots;      /* -1 = empty; else an id */
    size_t slots_cap; /* a power of two, at least twice count */
};

uint64_t
strmap_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

strmap_t *
strmap_new(void)
{
    strmap_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->slots_cap = 64;
    self->slots = malloc(self->slots_cap * sizeof *self->slots);
    if (self->slots == NULL) {
        free(self);
        return NULL;
    }
    memset(self->slots, 0xff, self->slots_cap * sizeof *self->slots);
    return self;
}

void
strmap_destroy(strmap_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    strmap_t *self = *self_p;
    free(self->arena);
    free(self->keys);
    free(self->slots);
    free(self);
    *self_p = NULL;
}

static size_t
s_slot(const strmap_t *self, const char *s, size_t len, uint64_t hash)
{
    size_t mask = self->slots_cap - 1;
    size_t i = (size_t)hash & mask;
    for (;;) {
        long id = self->slots[i];
        if (id < 0)
            return i;
        const key_t_ *k = &self->keys[id];
        if (k->hash == hash && k->len == len && memcmp(self->arena + k->offset, s, len) == 0)
            return i;
        i = (i + 1) & mask;
    }
}

long
strmap_find(const strmap_t *self, const char *s, size_t len)
{
    return self->slots[s_slot(self, s, len, strmap_hash(s, len))];
}

static int
s_grow_slots(strmap_t *self)
{
    size_t cap = self->slots_cap * 2;
    long *slots = malloc(cap * sizeof *slots);
    if (slots == NULL)
        return -1;
    memset(slots, 0xff, cap * sizeof *slots);
    for (size_t id = 0; id < self->count; id++) {
        size_t i = (size_t)self->keys[id].hash & (cap - 1);
        while (slots[i] >= 0)
            i = (i + 1) & (cap - 1);
        slots[i] = (long)id;
    }
    free(self->slots);
    self->slots = slots;
    self->slots_cap = cap;
    return 0;
}

static int
s_store(strmap_t *self, const char *s, size_t len, uint64_t hash)
{
    if (array_grow((void **)&self->keys, &self->keys_cap, self->count + 1, sizeof *self->keys) !=
            0 ||
        array_grow((void **)&self->arena, &self->arena_cap, self->arena_len + len + 1, 1) != 0)
        return -1;
    memcpy(self->arena + self->arena_len, s, len);
    self->arena[self->arena_len + len] = '\0';
    self->keys[self->count] = (key_t_){self->arena_len, len, hash};
    self->arena_len += len + 1;
    return 0;
}

long
strmap_intern(strmap_t *self, const char *s, size_t len)
{
    uint64_t hash = strmap_hash(s, len);
    size_t i = s_slot(self, s, len, hash);
    if (self->slots[i] >= 0)
        return self->slots[i];
    if (s_store(self, s, len, hash) != 0)
        return -1;
    long id = (long)self->count++;
    self->slots[i] = id;
    if (self->count * 2 > self->slots_cap && s_grow_slots(self) != 0) {
        /* The key stays findable: the old table still has room below full. */
        if (self->count * 4 > self->slots_cap * 3) {
            self->slots[i] = -1;
            self->count--;
            return -1;
        }
    }
    return id;
}

const char *
strmap_key(const strmap_t *self, long id, size_t *len)
{
    if (id < 0 || (size_t)id >= self->count) {
        if (len != NULL)
            *len = 0;
        return "";
    }
    if (len != NULL)
        *len = self->keys[id].len;
    return self->arena + self->keys[id].offset;
}

size_t
strmap_count(const strmap_t *self)
{
    return self->count;
}
