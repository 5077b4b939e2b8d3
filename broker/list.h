/*
 * list.h - intrusive doubly linked lists for the broker's in-memory queues.
 *
 * A list_node_t lives inside the object it links (a job, a worker), so linking and unlinking
 * never allocate and unlinking from the middle is O(1): the job queue, the orphan list, the
 * idle-worker LRU list. Recover the object with LIST_ENTRY. A node is in at most one list at
 * a time; an unlinked node has NULL pointers.
 */
#ifndef PROFAI_BROKER_LIST_H
#define PROFAI_BROKER_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct list_node_t {
    struct list_node_t *prev;
    struct list_node_t *next;
} list_node_t;

/* A circular list with a sentinel; initialise with list_init before use. */
typedef struct {
    list_node_t head;
    size_t size;
} list_t;

#define LIST_ENTRY(node, type, member) ((type *)((char *)(node)-offsetof(type, member)))

static inline void
list_init(list_t *list)
{
    list->head.prev = &list->head;
    list->head.next = &list->head;
    list->size = 0;
}

static inline bool
list_linked(const list_node_t *node)
{
    return node->next != NULL;
}

static inline void
list_insert_between(list_t *list, list_node_t *node, list_node_t *prev, list_node_t *next)
{
    node->prev = prev;
    node->next = next;
    prev->next = node;
    next->prev = node;
    list->size++;
}

static inline void
list_push_back(list_t *list, list_node_t *node)
{
    list_insert_between(list, node, list->head.prev, &list->head);
}

static inline void
list_push_front(list_t *list, list_node_t *node)
{
    list_insert_between(list, node, &list->head, list->head.next);
}

/* Unlink node from list (it must be in that list). */
static inline void
list_remove(list_t *list, list_node_t *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = NULL;
    node->next = NULL;
    list->size--;
}

/* The first node, or NULL when empty. */
static inline list_node_t *
list_first(const list_t *list)
{
    return list->size > 0 ? list->head.next : NULL;
}

/* The last node, or NULL when empty. */
static inline list_node_t *
list_last(const list_t *list)
{
    return list->size > 0 ? list->head.prev : NULL;
}

/* The node after node, or NULL at the end. */
static inline list_node_t *
list_next(const list_t *list, const list_node_t *node)
{
    return node->next == &list->head ? NULL : node->next;
}

/* The node before node, or NULL at the start. */
static inline list_node_t *
list_prev(const list_t *list, const list_node_t *node)
{
    return node->prev == &list->head ? NULL : node->prev;
}

static inline list_node_t *
list_pop_front(list_t *list)
{
    list_node_t *node = list_first(list);
    if (node != NULL)
        list_remove(list, node);
    return node;
}

static inline size_t
list_size(const list_t *list)
{
    return list->size;
}

#endif
