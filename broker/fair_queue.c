/*
 * fair_queue.c - see fair_queue.h: round-robin over owners, each with its own queue.
 */
#include "fair_queue.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#define OWNER_ID_MAX 63

struct fair_owner_t {
    char id[OWNER_ID_MAX + 1]; /* hash key */
    list_t queued;             /* its queued nodes, first served first */
    list_node_t ring_node;     /* in the ring: something queued and under the cap */
    list_node_t all_node;      /* in every owner's list, creation order */
    size_t running;            /* jobs counting toward the cap */
    size_t refs;               /* references held by the caller */
};

struct fair_queue_t {
    size_t max_running; /* 0: no cap */
    size_t queued;      /* nodes queued over every owner */
    zhashx_t *by_id;    /* id -> fair_owner_t (the records are freed here, not by the hash) */
    list_t ring;        /* owners that may be served, next first */
    list_t owners;      /* every record, creation order */
};

fair_queue_t *
fair_queue_new(size_t max_running)
{
    fair_queue_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->max_running = max_running;
    list_init(&self->ring);
    list_init(&self->owners);
    self->by_id = zhashx_new();
    if (self->by_id == NULL) {
        free(self);
        return NULL;
    }
    /* Keys point into the records, which outlive their hash entries. */
    zhashx_set_key_duplicator(self->by_id, NULL);
    zhashx_set_key_destructor(self->by_id, NULL);
    return self;
}

void
fair_queue_destroy(fair_queue_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    fair_queue_t *self = *self_p;
    list_node_t *node;
    while ((node = list_pop_front(&self->owners)) != NULL)
        free(LIST_ENTRY(node, fair_owner_t, all_node));
    zhashx_destroy(&self->by_id);
    free(self);
    *self_p = NULL;
}

/* Whether the owner may be served now. */
static bool
s_eligible(const fair_queue_t *self, const fair_owner_t *owner)
{
    return list_size(&owner->queued) > 0 &&
           (self->max_running == 0 || owner->running < self->max_running);
}

/* Put the owner in the ring (at the back) or out of it, as its queue and cap say. */
static void
s_place(fair_queue_t *self, fair_owner_t *owner)
{
    bool in_ring = list_linked(&owner->ring_node);
    bool eligible = s_eligible(self, owner);
    if (eligible && !in_ring)
        list_push_back(&self->ring, &owner->ring_node);
    else if (!eligible && in_ring)
        list_remove(&self->ring, &owner->ring_node);
}

fair_owner_t *
fair_queue_owner_hold(fair_queue_t *self, const char *id)
{
    if (strlen(id) > OWNER_ID_MAX)
        return NULL;
    fair_owner_t *owner = zhashx_lookup(self->by_id, id);
    if (owner == NULL) {
        owner = calloc(1, sizeof *owner);
        if (owner == NULL)
            return NULL;
        strcpy(owner->id, id);
        list_init(&owner->queued);
        if (zhashx_insert(self->by_id, owner->id, owner) != 0) {
            free(owner);
            return NULL;
        }
        list_push_back(&self->owners, &owner->all_node);
    }
    owner->refs++;
    return owner;
}

void
fair_queue_owner_release(fair_queue_t *self, fair_owner_t **owner_p)
{
    fair_owner_t *owner = *owner_p;
    *owner_p = NULL;
    if (owner == NULL || --owner->refs > 0)
        return;
    if (list_linked(&owner->ring_node))
        list_remove(&self->ring, &owner->ring_node);
    list_remove(&self->owners, &owner->all_node);
    zhashx_delete(self->by_id, owner->id);
    free(owner);
}

const char *
fair_owner_id(const fair_owner_t *owner)
{
    return owner->id;
}

void
fair_queue_push(fair_queue_t *self, fair_owner_t *owner, list_node_t *node, bool front)
{
    if (front)
        list_push_front(&owner->queued, node);
    else
        list_push_back(&owner->queued, node);
    self->queued++;
    s_place(self, owner);
}

void
fair_queue_remove(fair_queue_t *self, fair_owner_t *owner, list_node_t *node)
{
    list_remove(&owner->queued, node);
    self->queued--;
    s_place(self, owner);
}

list_node_t *
fair_queue_next(const fair_queue_t *self, fair_owner_t **owner_p)
{
    list_node_t *head = list_first(&self->ring);
    fair_owner_t *owner = head != NULL ? LIST_ENTRY(head, fair_owner_t, ring_node) : NULL;
    if (owner_p != NULL)
        *owner_p = owner;
    return owner != NULL ? list_first(&owner->queued) : NULL;
}

void
fair_queue_take(fair_queue_t *self, fair_owner_t *owner, list_node_t *node)
{
    list_remove(&owner->queued, node);
    self->queued--;
    owner->running++;
    /* Served: to the back of the ring, behind every owner that waits for its turn. */
    if (list_linked(&owner->ring_node))
        list_remove(&self->ring, &owner->ring_node);
    s_place(self, owner);
}

void
fair_queue_run_begin(fair_queue_t *self, fair_owner_t *owner)
{
    owner->running++;
    s_place(self, owner);
}

void
fair_queue_run_end(fair_queue_t *self, fair_owner_t *owner)
{
    if (owner->running > 0)
        owner->running--;
    s_place(self, owner);
}

size_t
fair_queue_size(const fair_queue_t *self)
{
    return self->queued;
}

size_t
fair_owner_queued(const fair_owner_t *owner)
{
    return list_size(&owner->queued);
}

size_t
fair_owner_running(const fair_owner_t *owner)
{
    return owner->running;
}

/* The first queued node of the first owner from `from` on (a node of self->owners) that has
 * one. */
static list_node_t *
s_first_from(const fair_queue_t *self, const list_node_t *from)
{
    for (const list_node_t *at = from; at != NULL; at = list_next(&self->owners, at)) {
        const fair_owner_t *owner = LIST_ENTRY(at, fair_owner_t, all_node);
        if (list_size(&owner->queued) > 0)
            return list_first(&owner->queued);
    }
    return NULL;
}

list_node_t *
fair_queue_first(const fair_queue_t *self)
{
    return s_first_from(self, list_first(&self->owners));
}

list_node_t *
fair_queue_after(const fair_queue_t *self, const fair_owner_t *owner, const list_node_t *node)
{
    list_node_t *next = list_next(&owner->queued, node);
    if (next != NULL)
        return next;
    return s_first_from(self, list_next(&self->owners, &owner->all_node));
}
