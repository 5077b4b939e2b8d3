/*
 * store_ops.h - the store's operations and their queues (private to store.c): one operation
 * per statement a caller submitted (with copies of its parameters and context), the internal
 * ones (prepare, fence), and the multi-row statements that stand for several (store_batch.h).
 *
 * Ownership: a queue owns the operations linked in it; a batch owns its members. Pure memory
 * handling: no connection, no logging.
 */
#ifndef PROFAI_BROKER_STORE_OPS_H
#define PROFAI_BROKER_STORE_OPS_H

#include "store.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    OP_STATEMENT, /* a caller's operation */
    OP_PREPARE,   /* PQsendPrepare of one statement, internal */
    OP_FENCE,     /* the fence that begins a segment (store_set_fence), internal */
    OP_BATCH,     /* a multi-row statement standing for its members (store_batch.h), internal */
} op_kind_t;

typedef struct op_t {
    struct op_t *next;
    op_kind_t kind;
    const store_stmt_t *stmt;
    int flags;
    int retries;
    store_done_fn *done;
    PGresult *result; /* the statement's result, held until the segment's Sync */
    bool got_result;
    bool single; /* never joins a multi-row statement (its batch was refused on data) */
    void *ctx;
    char *values[STORE_MAX_PARAMS]; /* NUL-terminated copies, in the same allocation */
    /* OP_BATCH: its members (caller operations, in order) and its parameters' arrays */
    struct op_t *members;
    size_t nmembers;
} op_t;

typedef struct {
    op_t *head;
    op_t *tail;
    size_t size;
} opq_t;

void store_opq_push(opq_t *q, op_t *op);
/* The first operation of q, unlinked; NULL when q is empty. */
op_t *store_opq_pop(opq_t *q);
/* Put every operation of front before those of q, keeping both orders; front is emptied. */
void store_opq_prepend(opq_t *q, opq_t *front);

/* A new operation with copies of values and ctx; NULL when out of memory. */
op_t *store_op_new(const store_stmt_t *stmt, const char *const *values, const size_t *lengths,
                   int flags, store_done_fn *done, const void *ctx, size_t ctx_len);
/* Free op, its result and (a batch) its members and arrays. NULL is allowed. */
void store_op_free(op_t *op);
/* Forget op's result (to send it again). */
void store_op_reset(op_t *op);
/* A batch's members (reset), in order, as a queue; the batch is freed and retries added to
 * each member's count. */
opq_t store_op_batch_members(op_t *batch, int retries);
/* Replace every batch of q by its members, in order. */
void store_opq_unbatch(opq_t *q);
/* Collapse a segment's operations (its fence excluded) into multi-row statements where
 * store_batch_plan allows. Out of memory: they travel one by one, as they came. */
void store_opq_batch(opq_t *ops);

#endif
