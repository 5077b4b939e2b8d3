/*
 * dispatch_hold.c - see dispatch_hold.h.
 *
 * A ring of slots; slot i of the ring holds sequence number base + i (relative to head). A
 * taken slot stays until the head passes it, so a sequence number maps to its slot with one
 * subtraction.
 */
#include "dispatch_hold.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    dispatch_held_t d;
    int64_t due;
    bool live;
} s_slot_t;

struct dispatch_hold_t {
    s_slot_t *ring;
    size_t cap;        /* slots in ring (a power of two) */
    size_t head;       /* index of the oldest slot */
    size_t len;        /* slots from head, live or not */
    uint64_t head_seq; /* sequence number of the slot at head */
    size_t live;
    int64_t last_due;
};

dispatch_hold_t *
dispatch_hold_new(void)
{
    dispatch_hold_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->head_seq = 1;
    return self;
}

void
dispatch_hold_destroy(dispatch_hold_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    free((*self_p)->ring);
    free(*self_p);
    *self_p = NULL;
}

static s_slot_t *
s_at(dispatch_hold_t *self, size_t i)
{
    return &self->ring[(self->head + i) & (self->cap - 1)];
}

/* Drop dead slots at the head. */
static void
s_trim(dispatch_hold_t *self)
{
    while (self->len > 0 && !s_at(self, 0)->live) {
        self->head = (self->head + 1) & (self->cap - 1);
        self->len--;
        self->head_seq++;
    }
}

static int
s_grow(dispatch_hold_t *self)
{
    size_t cap = self->cap > 0 ? self->cap * 2 : 64;
    s_slot_t *ring = malloc(cap * sizeof *ring);
    if (ring == NULL)
        return -1;
    for (size_t i = 0; i < self->len; i++)
        ring[i] = *s_at(self, i);
    free(self->ring);
    self->ring = ring;
    self->cap = cap;
    self->head = 0;
    return 0;
}

uint64_t
dispatch_hold_put(dispatch_hold_t *self, const dispatch_held_t *d, int64_t due)
{
    s_trim(self);
    if (self->len == self->cap && s_grow(self) != 0)
        return 0;
    if (due < self->last_due)
        due = self->last_due; /* FIFO: the head is always the first due */
    self->last_due = due;
    s_slot_t *slot = s_at(self, self->len);
    slot->d = *d;
    slot->due = due;
    slot->live = true;
    self->len++;
    self->live++;
    return self->head_seq + self->len - 1;
}

bool
dispatch_hold_take(dispatch_hold_t *self, uint64_t seq, dispatch_held_t *out)
{
    if (seq < self->head_seq || seq - self->head_seq >= self->len)
        return false;
    s_slot_t *slot = s_at(self, (size_t)(seq - self->head_seq));
    if (!slot->live)
        return false;
    *out = slot->d;
    slot->live = false;
    self->live--;
    s_trim(self);
    return true;
}

bool
dispatch_hold_take_due(dispatch_hold_t *self, int64_t now, dispatch_held_t *out)
{
    s_trim(self);
    if (self->len == 0 || s_at(self, 0)->due > now)
        return false;
    return dispatch_hold_take(self, self->head_seq, out);
}

bool
dispatch_hold_next_due(dispatch_hold_t *self, int64_t *due)
{
    s_trim(self);
    if (self->len == 0)
        return false;
    *due = s_at(self, 0)->due;
    return true;
}

size_t
dispatch_hold_count(const dispatch_hold_t *self)
{
    return self->live;
}
