/*
 * store_batch.h - multi-row statements for the store (docs/broker.md, "Talking to
 * PostgreSQL", "Multi-row statements"): which operations of one segment collapse into one
 * statement over arrays, the array parameters of that statement, and its result cut back into
 * one result per operation.
 *
 * Pure helpers of store.c: no connection, no logging. The store owns the operations; these
 * functions see only their statements, keys and values.
 */
#ifndef PROFAI_BROKER_STORE_BATCH_H
#define PROFAI_BROKER_STORE_BATCH_H

#include "store.h"

#include "profai/compiler.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* One operation of a segment, as the planner sees it. */
typedef struct {
    const store_stmt_t *stmt;
    const char *key; /* its first parameter when stmt->keyed; NULL: a barrier */
    bool batchable;  /* stmt->batch set and the operation may join a batch */
} store_batch_item_t;

/* Plan the segment's items (in order): anchor[i] is the index of the item whose place item i
 * takes, i itself when it travels at its own place. Items sharing an anchor run as one
 * statement there (the anchor's stmt->batch). An item moves before earlier ones only when
 * none of the items it passes is a barrier or has its key, so no two operations on one key
 * change order and nothing moves across a statement that is not keyed. Returns 0, or -1 when
 * out of memory (then every item keeps its place). */
int store_batch_plan(const store_batch_item_t *items, size_t n, size_t *anchor) PROFAI_MUST_CHECK;

/* A PostgreSQL text array literal of the n values ({"a","b"}, quotes and backslashes
 * escaped), NUL-terminated; *len its length. The caller frees it. NULL when out of memory. */
char *store_batch_array(const char *const *values, size_t n, size_t *len);

/* Cut a batch statement's result (the ordinal, then at least one column): rows whose first
 * column is k (1 to n) make out[k - 1], a result with the other columns and no command tag (its
 * rows are the operation's answer). Every out[i] is set (rows or none). Returns 0, or -1 when out
 * of memory or when a row's first column is not in 1..n (every out[i] NULL then). */
int store_batch_split(const PGresult *res, size_t n, PGresult **out) PROFAI_MUST_CHECK;

#endif
