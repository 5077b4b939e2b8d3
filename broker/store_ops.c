/*
 * store_ops.c - see store_ops.h.
 */
#include "store_ops.h"

#include "store_batch.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void
store_opq_push(opq_t *q, op_t *op)
{
    op->next = NULL;
    if (q->tail != NULL)
        q->tail->next = op;
    else
        q->head = op;
    q->tail = op;
    q->size++;
}

op_t *
store_opq_pop(opq_t *q)
{
    op_t *op = q->head;
    if (op == NULL)
        return NULL;
    q->head = op->next;
    if (q->head == NULL)
        q->tail = NULL;
    q->size--;
    op->next = NULL;
    return op;
}

/* Put every operation of front before those of q, keeping both orders. */
void
store_opq_prepend(opq_t *q, opq_t *front)
{
    if (front->head == NULL)
        return;
    front->tail->next = q->head;
    if (q->tail == NULL)
        q->tail = front->tail;
    q->head = front->head;
    q->size += front->size;
    *front = (opq_t){0};
}

void
store_op_free(op_t *op)
{
    if (op == NULL)
        return;
    while (op->members != NULL) {
        op_t *m = op->members;
        op->members = m->next;
        store_op_free(m);
    }
    PQclear(op->result);
    if (op->kind == OP_BATCH) {
        for (int i = 0; i < op->stmt->nparams; i++)
            free(op->values[i]);
    }
    free(op);
}

void
store_op_reset(op_t *op)
{
    PQclear(op->result);
    op->result = NULL;
    op->got_result = false;
}

/* Put a batch's members (reset) in its place in q, in order, and free it; retries is added
 * to each member's count. Returns the members as a queue. */
opq_t
store_op_batch_members(op_t *batch, int retries)
{
    opq_t q = {0};
    op_t *m;
    while ((m = batch->members) != NULL) {
        batch->members = m->next;
        store_op_reset(m);
        m->retries += retries;
        store_opq_push(&q, m);
    }
    store_op_free(batch);
    return q;
}

/* Replace every batch of q by its members, in order. */
void
store_opq_unbatch(opq_t *q)
{
    opq_t out = {0};
    op_t *op;
    while ((op = store_opq_pop(q)) != NULL) {
        if (op->kind != OP_BATCH) {
            store_opq_push(&out, op);
            continue;
        }
        opq_t members = store_op_batch_members(op, 0);
        while ((op = store_opq_pop(&members)) != NULL)
            store_opq_push(&out, op);
    }
    *q = out;
}

static size_t
s_align(size_t n)
{
    const size_t a = _Alignof(max_align_t);
    return (n + a - 1) / a * a;
}

/* A new operation with copies of values and ctx; NULL when out of memory. */
op_t *
store_op_new(const store_stmt_t *stmt, const char *const *values, const size_t *lengths, int flags,
             store_done_fn *done, const void *ctx, size_t ctx_len)
{
    size_t header = s_align(sizeof(op_t));
    size_t size = header + s_align(ctx_len);
    for (int i = 0; i < stmt->nparams; i++) {
        if (lengths[i] > SIZE_MAX / 2 - size)
            return NULL;
        size += lengths[i] + 1;
    }
    op_t *op = calloc(1, size);
    if (op == NULL)
        return NULL;
    op->kind = OP_STATEMENT;
    op->stmt = stmt;
    op->flags = flags;
    op->done = done;
    char *p = (char *)op + header;
    op->ctx = p;
    if (ctx_len > 0)
        memcpy(p, ctx, ctx_len);
    p += s_align(ctx_len);
    for (int i = 0; i < stmt->nparams; i++) {
        op->values[i] = p;
        if (lengths[i] > 0)
            memcpy(p, values[i], lengths[i]);
        p[lengths[i]] = '\0';
        p += lengths[i] + 1;
    }
    return op;
}

/* A multi-row statement for the n operations v[] (in order; not linked yet): NULL when out of
 * memory. */
static op_t *
s_batch_new(op_t *const *v, size_t n)
{
    const store_stmt_t *stmt = v[0]->stmt->batch;
    assert(stmt->nparams == v[0]->stmt->nparams && !stmt->binary_result);
    for (size_t i = 1; i < n; i++) {
        if (v[i]->flags != v[0]->flags)
            return NULL; /* fail-fast and not: each keeps its own rules, alone */
    }
    op_t *batch = calloc(1, sizeof *batch);
    const char **column = malloc(n * sizeof *column);
    if (batch == NULL || column == NULL) {
        free(batch);
        free(column);
        return NULL;
    }
    batch->kind = OP_BATCH;
    batch->stmt = stmt;
    batch->flags = v[0]->flags;
    for (int p = 0; p < stmt->nparams; p++) {
        for (size_t i = 0; i < n; i++)
            column[i] = v[i]->values[p];
        size_t len;
        batch->values[p] = store_batch_array(column, n, &len);
        if (batch->values[p] == NULL) {
            free(column);
            store_op_free(batch);
            return NULL;
        }
    }
    free(column);
    op_t **tail = &batch->members;
    for (size_t i = 0; i < n; i++) {
        *tail = v[i];
        v[i]->next = NULL;
        tail = &v[i]->next;
        batch->retries = v[i]->retries > batch->retries ? v[i]->retries : batch->retries;
    }
    batch->nmembers = n;
    return batch;
}

/* Collapse a segment's operations (its fence excluded) into multi-row statements where
 * store_batch_plan allows. Out of memory: they travel one by one, as they came. */
void
store_opq_batch(opq_t *ops)
{
    size_t n = ops->size;
    if (n < 2)
        return;
    op_t **v = malloc(n * sizeof *v);
    op_t **group = malloc(n * sizeof *group); /* a group's members, by anchor, in order */
    store_batch_item_t *items = malloc(n * sizeof *items);
    size_t *anchor = malloc(n * sizeof *anchor);
    size_t *count = calloc(n, sizeof *count);
    op_t **batch = calloc(n, sizeof *batch);
    if (v == NULL || group == NULL || items == NULL || anchor == NULL || count == NULL ||
        batch == NULL)
        goto out;
    size_t i = 0;
    for (op_t *op = ops->head; op != NULL; op = op->next, i++) {
        v[i] = op;
        items[i] = (store_batch_item_t){
            .stmt = op->stmt,
            .key = op->stmt->keyed ? op->values[0] : NULL,
            .batchable = op->stmt->batch != NULL && (op->flags & ~STORE_FAIL_FAST) == 0 &&
                         !op->single &&
                         (op->stmt->batchable == NULL ||
                          op->stmt->batchable((const char *const *)op->values)),
        };
    }
    if (store_batch_plan(items, n, anchor) != 0)
        goto out;
    for (i = 0; i < n; i++)
        count[anchor[i]]++;
    /* Each group of two or more: its members, in order, then its statement. */
    for (size_t a = 0; a < n; a++) {
        if (anchor[a] != a || count[a] < 2)
            continue;
        size_t k = 0;
        for (i = a; i < n && k < count[a]; i++) {
            if (anchor[i] == a)
                group[k++] = v[i];
        }
        batch[a] = s_batch_new(group, k); /* NULL: its members keep their places */
    }
    opq_t out = {0};
    for (i = 0; i < n; i++) {
        if (batch[anchor[i]] == NULL)
            store_opq_push(&out, v[i]);
        else if (anchor[i] == i)
            store_opq_push(&out, batch[i]);
    }
    *ops = out;
out:
    free(v);
    free(group);
    free(items);
    free(anchor);
    free(count);
    free(batch);
}
