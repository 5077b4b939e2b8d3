/*
 * store.c - see store.h.
 *
 * Operations wait in `pending` until store_flush moves them into a segment: each statement
 * is sent with PQsendQueryPrepared and the segment ends with PQpipelineSync. PostgreSQL
 * answers every statement with one or more results followed by a NULL, and every Sync with a
 * PGRES_PIPELINE_SYNC result (not followed by a NULL). A segment's results are held until its
 * Sync result arrives; only then do the callbacks run, so they all see committed work.
 */
#include "store.h"

#include "pg_options.h"
#include "store_batch.h"
#include "store_ops.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000
#define CONNECT_TIMEOUT_MS 10000
/* A statement aborted by someone else's error (or whose COMMIT failed) is sent again this
 * many times at most; a bound keeps a poisoned batch from looping forever. */
#define MAX_RETRIES 10
#define ERROR_MAX 512

/* Connection states.
 *   DISCONNECTED: no connection; the next attempt starts at retry_at.
 *   CONNECTING:   PQconnectPoll in progress.
 *   PREPARING:    connected; the Prepare segment is in flight.
 *   READY:        statements prepared; operations flow. */
typedef enum {
    STORE_DISCONNECTED,
    STORE_CONNECTING,
    STORE_PREPARING,
    STORE_READY,
} store_state_t;

typedef struct segment_t {
    struct segment_t *next;
    opq_t ops;
    op_t *cursor;     /* first operation still waiting for results; NULL: waiting for Sync */
    bool prepare;     /* the Prepare segment of a new connection */
    bool fence;       /* its first operation is an OP_FENCE */
    char *sync_error; /* an error where the Sync was expected: nothing committed */
    size_t ncaller;   /* caller operations in it (a batch's members counted) */
} segment_t;

struct store_t {
    char *conninfo;
    char *name; /* application_name */
    const store_stmt_t *const *stmts;
    size_t nstmts;
    size_t max_pending;
    store_event_fn *on_event;
    void *owner;

    store_state_t state;
    PGconn *conn;
    PostgresPollingStatusType poll_status; /* CONNECTING: what PQconnectPoll waits for */
    bool want_write;                       /* output buffered in libpq: poll for writing */
    int64_t now;                           /* the clock of the current store_service call */
    int64_t retry_at;                      /* DISCONNECTED: next attempt */
    int64_t connect_deadline;              /* CONNECTING: give up then */
    int backoff_ms;
    int64_t pause_until; /* READY: no writes sent before (a statement was refused) */
    int pause_ms;

    opq_t pending;       /* not sent yet, in submission order */
    segment_t *seg_head; /* in flight, oldest first */
    segment_t *seg_tail;
    size_t nsegments;
    size_t inflight_ops; /* caller operations in flight */

    const store_stmt_t *fence_stmt; /* NULL: no fence */
    char *fence_value;
    bool fenced; /* the fence refused a transaction: nothing is sent any more */
};

/* ---------------------------------------------------------------- small helpers */

/* Copy a libpq message without its trailing newline. */
static void
s_copy_message(char *buf, size_t size, const char *prefix, const char *msg)
{
    if (msg == NULL || *msg == '\0')
        msg = "unknown error";
    int n = snprintf(buf, size, "%s%s", prefix, msg);
    size_t len = n < 0 ? 0 : ((size_t)n < size ? (size_t)n : size - 1);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        buf[--len] = '\0';
    /* One line: libpq's messages may span several. */
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')
            buf[i] = ' ';
    }
}

/* A one-line description of a failed statement: the primary message and its detail (not the
 * CONTEXT, which may quote the data). */
static void
s_result_error(const PGresult *res, char *buf, size_t size)
{
    const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    if (primary != NULL)
        snprintf(buf, size, "%s%s%s", primary, detail != NULL ? ": " : "",
                 detail != NULL ? detail : "");
    else if (res != NULL && PQresultStatus(res) == PGRES_PIPELINE_ABORTED)
        snprintf(buf, size, "aborted by an earlier statement of the same transaction");
    else
        s_copy_message(buf, size, "", res != NULL ? PQresultErrorMessage(res) : NULL);
    for (char *p = buf; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    }
}

static bool
s_result_is_error(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    return st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK;
}

/* Transitions: DISCONNECTED -> CONNECTING -> PREPARING -> READY, and any state but
 * DISCONNECTED -> DISCONNECTED. Anything else is a bug in this file. */
static void
s_set_state(store_t *self, store_state_t next)
{
    bool ok = false;
    switch (next) {
    case STORE_DISCONNECTED:
        ok = self->state != STORE_DISCONNECTED;
        break;
    case STORE_CONNECTING:
        ok = self->state == STORE_DISCONNECTED;
        break;
    case STORE_PREPARING:
        ok = self->state == STORE_CONNECTING;
        break;
    case STORE_READY:
        ok = self->state == STORE_PREPARING;
        break;
    }
    if (!ok) {
        fprintf(stderr, "store: impossible state transition %d -> %d\n", self->state, next);
        abort();
    }
    self->state = next;
}

/* ---------------------------------------------------------------- connection */

/* The broker's connection defaults, then conninfo (which overrides them); options: server
 * settings of the session (libpq's `options`), or NULL. They go after conninfo, merged with
 * the operator's own (pg_options.h): libpq takes one `options`, and the last one given wins. */
static PGconn *
s_connect_start(const char *conninfo, const char *name, const char *options)
{
    /* Defaults first: with expand_dbname, the connection string given later overrides them. */
    const char *keywords[9] = {"application_name", "client_encoding",     "keepalives",
                               "keepalives_idle",  "keepalives_interval", "keepalives_count"};
    const char *values[9] = {name, "UTF8", "1", "10", "5", "3"};
    int n = 6;
    keywords[n] = "dbname";
    values[n++] = conninfo != NULL ? conninfo : "";
    /* NULL when out of memory: the store's settings alone then. */
    char *merged =
        options != NULL ? pg_options_merge(options, conninfo, getenv("PGOPTIONS")) : NULL;
    if (options != NULL) {
        keywords[n] = "options";
        values[n++] = merged != NULL ? merged : options;
    }
    keywords[n] = NULL;
    values[n] = NULL;
    PGconn *conn = PQconnectStartParams(keywords, values, 1);
    free(merged);
    return conn;
}

PGconn *
store_connect_start(const char *conninfo)
{
    return s_connect_start(conninfo, "profai-broker", NULL);
}

static void
s_ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Drop the connection: FAIL_FAST operations fail, the others wait for the next connection in
 * their original order. reason: why (borrowed). */
static void
s_lose_connection(store_t *self, const char *reason)
{
    bool was_ready = self->state == STORE_READY;
    PQfinish(self->conn);
    self->conn = NULL;
    self->want_write = false;

    opq_t keep = {0};
    opq_t fail = {0};
    while (self->seg_head != NULL) {
        segment_t *seg = self->seg_head;
        self->seg_head = seg->next;
        op_t *op;
        store_opq_unbatch(&seg->ops);
        while ((op = store_opq_pop(&seg->ops)) != NULL) {
            store_op_reset(op);
            if (op->kind != OP_STATEMENT)
                store_op_free(op);
            else
                store_opq_push((op->flags & STORE_FAIL_FAST) ? &fail : &keep, op);
        }
        free(seg->sync_error);
        free(seg);
    }
    self->seg_tail = NULL;
    self->nsegments = 0;
    self->inflight_ops = 0;
    op_t *op;
    while ((op = store_opq_pop(&self->pending)) != NULL)
        store_opq_push((op->flags & STORE_FAIL_FAST) ? &fail : &keep, op);
    self->pending = keep;

    s_set_state(self, STORE_DISCONNECTED);
    self->pause_until = 0;
    self->pause_ms = BACKOFF_MIN_MS;
    self->retry_at = self->now + self->backoff_ms;
    char detail[ERROR_MAX];
    snprintf(detail, sizeof detail, "%s (next attempt in %d ms)", reason, self->backoff_ms);
    self->backoff_ms =
        self->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : self->backoff_ms * 2;
    if (self->on_event != NULL)
        self->on_event(self->owner, was_ready ? STORE_EVENT_DOWN : STORE_EVENT_RETRY, detail);

    char error[ERROR_MAX];
    snprintf(error, sizeof error, "database connection lost: %s", reason);
    while ((op = store_opq_pop(&fail)) != NULL) {
        if (op->done != NULL)
            op->done(self->owner, op->ctx, NULL, error);
        store_op_free(op);
    }
}

static void
s_lose_with_pq_error(store_t *self, const char *what)
{
    char reason[ERROR_MAX];
    s_copy_message(reason, sizeof reason, what,
                   self->conn != NULL ? PQerrorMessage(self->conn) : "no connection");
    s_lose_connection(self, reason);
}

static void
s_connect_begin(store_t *self)
{
    s_set_state(self, STORE_CONNECTING);
    /* Generic plans: the planner kept a custom plan for the submit statement (its quota
     * subqueries fold away when a quota is 0), so it planned it again on every execution; the
     * others went generic after five. Measured: docs/performance.md.
     * No sequential scans where an index serves: a generic plan is made once, at a statement's
     * first execution (or the first after an ANALYZE), often while `jobs` is a few pages, and
     * then read every job per statement as the table grew: a multi-row update compared each
     * of its ids with every job (docs/performance.md, "Index lookups per job whatever the
     * statistics"). Every statement of the broker's stores finds its rows by key. */
    self->conn = s_connect_start(self->conninfo, self->name,
                                 "-c plan_cache_mode=force_generic_plan -c enable_seqscan=off");
    if (self->conn == NULL) {
        s_lose_connection(self, "out of memory");
        return;
    }
    PQsetNoticeProcessor(self->conn, s_ignore_notice, NULL);
    if (PQstatus(self->conn) == CONNECTION_BAD) {
        s_lose_with_pq_error(self, "cannot connect: ");
        return;
    }
    /* libpq: before the first PQconnectPoll, behave as if it returned POLLING_WRITING. */
    self->poll_status = PGRES_POLLING_WRITING;
    self->connect_deadline = self->now + CONNECT_TIMEOUT_MS;
}

static void
s_segment_append(store_t *self, segment_t *seg)
{
    seg->cursor = seg->ops.head;
    if (self->seg_tail != NULL)
        self->seg_tail->next = seg;
    else
        self->seg_head = seg;
    self->seg_tail = seg;
    self->nsegments++;
}

static void
s_flush_output(store_t *self)
{
    int rc = PQflush(self->conn);
    if (rc < 0)
        s_lose_with_pq_error(self, "write failed: ");
    else
        self->want_write = rc == 1;
}

/* Connected: switch to non-blocking pipeline mode and prepare every statement in one
 * segment, whose Sync result moves the store to READY. */
static void
s_connect_established(store_t *self)
{
    if (PQsetnonblocking(self->conn, 1) != 0 || PQenterPipelineMode(self->conn) != 1) {
        s_lose_with_pq_error(self, "cannot enter pipeline mode: ");
        return;
    }
    s_set_state(self, STORE_PREPARING);
    segment_t *seg = calloc(1, sizeof *seg);
    if (seg == NULL) {
        s_lose_connection(self, "out of memory");
        return;
    }
    seg->prepare = true;
    s_segment_append(self, seg);
    for (size_t i = 0; i < self->nstmts; i++) {
        op_t *op = calloc(1, sizeof *op);
        if (op == NULL) {
            s_lose_connection(self, "out of memory");
            return;
        }
        op->kind = OP_PREPARE;
        op->stmt = self->stmts[i];
        store_opq_push(&seg->ops, op);
        if (seg->cursor == NULL)
            seg->cursor = op;
        if (!PQsendPrepare(self->conn, op->stmt->name, op->stmt->sql, op->stmt->nparams, NULL)) {
            s_lose_with_pq_error(self, "cannot send Prepare: ");
            return;
        }
    }
    if (!PQpipelineSync(self->conn)) {
        s_lose_with_pq_error(self, "cannot send Sync: ");
        return;
    }
    s_flush_output(self);
}

static void
s_connect_poll(store_t *self)
{
    self->poll_status = PQconnectPoll(self->conn);
    switch (self->poll_status) {
    case PGRES_POLLING_OK:
        s_connect_established(self);
        break;
    case PGRES_POLLING_FAILED:
        s_lose_with_pq_error(self, "cannot connect: ");
        break;
    default:
        break; /* READING or WRITING: wait for the socket */
    }
}

/* ---------------------------------------------------------------- results */

static void
s_prepare_finished(store_t *self, segment_t *seg)
{
    char reason[ERROR_MAX] = "";
    op_t *op;
    while ((op = store_opq_pop(&seg->ops)) != NULL) {
        if (reason[0] == '\0' && (op->result == NULL || s_result_is_error(op->result))) {
            char message[ERROR_MAX - 64];
            s_result_error(op->result, message, sizeof message);
            snprintf(reason, sizeof reason, "cannot prepare statement %s: %s", op->stmt->name,
                     message);
        }
        store_op_free(op);
    }
    if (reason[0] == '\0' && seg->sync_error != NULL)
        snprintf(reason, sizeof reason, "%s", seg->sync_error);
    free(seg->sync_error);
    free(seg);
    if (reason[0] != '\0') {
        s_lose_connection(self, reason);
        return;
    }
    s_set_state(self, STORE_READY);
    self->backoff_ms = BACKOFF_MIN_MS;
    if (self->on_event != NULL)
        self->on_event(self->owner, STORE_EVENT_UP, NULL);
}

/* What becomes of an operation once its segment is over. */
typedef enum {
    OUTCOME_DONE,         /* committed: the callback runs */
    OUTCOME_RESEND,       /* did not run: the COMMIT failed (counts against MAX_RETRIES) */
    OUTCOME_RESEND_FREE,  /* ran or not, rolled back by another statement's error: sent again,
                           * not counted (each failing statement leaves for good, so an
                           * operation is rolled back this way a bounded number of times) */
    OUTCOME_RESEND_LATER, /* refused for a passing reason: send again after a pause */
    OUTCOME_FAILED,       /* the callback gets the error */
} outcome_t;

/* Errors on the data itself (SQLSTATE class 22: data exception, e.g. invalid JSON; 23:
 * integrity constraint) and bugs (42: syntax, undefined object, privilege) fail for good;
 * anything else (lock or statement timeout, serialization failure, deadlock, resources,
 * shutdown...) may pass, so a write that must happen is sent again after a pause, and a
 * STORE_FAIL_FAST one fails at once (its client retries). */
static outcome_t
s_outcome(const segment_t *seg, const op_t *op, bool rolled_back, bool refused)
{
    bool ok = op->result != NULL && !s_result_is_error(op->result);
    bool aborted = op->result != NULL && PQresultStatus(op->result) == PGRES_PIPELINE_ABORTED;
    if (seg->sync_error == NULL && ok && !rolled_back)
        return OUTCOME_DONE;
    /* Rolled back by another statement: refused for a passing reason, a fail-fast operation
     * fails like that statement would have (its client retries); otherwise sent again. */
    if (seg->sync_error == NULL && (ok || aborted))
        return refused && (op->flags & STORE_FAIL_FAST) ? OUTCOME_FAILED : OUTCOME_RESEND_FREE;
    if (seg->sync_error != NULL || op->result == NULL)
        return op->retries < MAX_RETRIES ? OUTCOME_RESEND : OUTCOME_FAILED;
    const char *state = PQresultErrorField(op->result, PG_DIAG_SQLSTATE);
    if (state != NULL && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
                          strncmp(state, "42", 2) == 0))
        return OUTCOME_FAILED;
    return (op->flags & STORE_FAIL_FAST) ? OUTCOME_FAILED : OUTCOME_RESEND_LATER;
}

/* Whether a statement failed for a passing reason (lock timeout, deadlock, ...). */
static bool
s_refused(const op_t *op)
{
    if (op->result == NULL || !s_result_is_error(op->result) ||
        PQresultStatus(op->result) == PGRES_PIPELINE_ABORTED)
        return false;
    const char *state = PQresultErrorField(op->result, PG_DIAG_SQLSTATE);
    return state == NULL || !(strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
                              strncmp(state, "42", 2) == 0);
}

static void
s_op_fail(store_t *self, const segment_t *seg, op_t *op)
{
    char error[ERROR_MAX];
    if (seg->sync_error != NULL)
        s_copy_message(error, sizeof error, "transaction failed: ", seg->sync_error);
    else
        s_result_error(op->result, error, sizeof error);
    if (op->done != NULL)
        op->done(self->owner, op->ctx, op->result, error);
    store_op_free(op);
}

/* Hold every write back for a while (back-off), reported once per refusal. */
static void
s_pause(store_t *self, const op_t *op)
{
    char error[ERROR_MAX / 2];
    s_result_error(op->result, error, sizeof error);
    char detail[ERROR_MAX];
    snprintf(detail, sizeof detail, "statement %s refused: %s (writes resume in %d ms)",
             op->stmt->name, error, self->pause_ms);
    self->pause_until = self->now + self->pause_ms;
    self->pause_ms = self->pause_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : self->pause_ms * 2;
    if (self->on_event != NULL)
        self->on_event(self->owner, STORE_EVENT_STALLED, detail);
}

/* The segment's first operation, its fence, is over. Returns true when the segment's other
 * operations go on as usual (*paused set when the fence was refused for a passing reason: the
 * others were rolled back with it and go again after a pause); false when the fence refused
 * the transaction for good: the store is fenced, the segment freed, its operations queued
 * again and never sent. */
static bool
s_fence_finished(store_t *self, segment_t *seg, bool *paused)
{
    op_t *fence = store_opq_pop(&seg->ops);
    bool failed = fence->result == NULL || s_result_is_error(fence->result);
    const char *state =
        fence->result != NULL ? PQresultErrorField(fence->result, PG_DIAG_SQLSTATE) : NULL;
    if (failed && state != NULL && strcmp(state, STORE_FENCED_SQLSTATE) == 0) {
        char detail[ERROR_MAX];
        s_result_error(fence->result, detail, sizeof detail);
        store_op_free(fence);
        self->fenced = true;
        op_t *op;
        opq_t back = {0};
        store_opq_unbatch(&seg->ops);
        while ((op = store_opq_pop(&seg->ops)) != NULL) {
            store_op_reset(op);
            store_opq_push(&back, op);
        }
        free(seg->sync_error);
        free(seg);
        store_opq_prepend(&self->pending, &back);
        if (self->on_event != NULL)
            self->on_event(self->owner, STORE_EVENT_FENCED, detail);
        return false;
    }
    /* Any other failure of the fence (a lock timeout, or a bug such as a missing function)
     * pauses the writes rather than sending them again at once. */
    if (failed && fence->result != NULL &&
        PQresultStatus(fence->result) != PGRES_PIPELINE_ABORTED) {
        s_pause(self, fence);
        *paused = true;
    }
    store_op_free(fence);
    return true;
}

/* Whether a statement was refused on its data (SQLSTATE class 22 or 23). */
static bool
s_refused_on_data(const op_t *op)
{
    const char *state =
        op->result != NULL ? PQresultErrorField(op->result, PG_DIAG_SQLSTATE) : NULL;
    return state != NULL && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0);
}

/* Every member of batch fails with error (and the batch's result, if any); batch is freed. */
static void
s_batch_fail(store_t *self, op_t *batch, const char *error)
{
    for (op_t *m = batch->members; m != NULL; m = m->next) {
        if (m->done != NULL)
            m->done(self->owner, m->ctx, batch->result, error);
    }
    store_op_free(batch);
}

/* A multi-row statement's segment is over: its members get their own rows (committed), go
 * again as the batch would have (still free to batch), or, when PostgreSQL refused it on
 * data, go again one by one, so that only the refused row fails. Returns false when the
 * segment was not clean (a failure or a pause). */
static bool
s_batch_finished(store_t *self, const segment_t *seg, op_t *batch, bool rolled_back, bool refused,
                 opq_t *retry, bool *paused)
{
    outcome_t outcome = s_outcome(seg, batch, rolled_back, refused);
    opq_t members;
    op_t *m;
    switch (outcome) {
    case OUTCOME_DONE: {
        PGresult *parts[STORE_MAX_SEGMENT_OPS];
        if (store_batch_split(batch->result, batch->nmembers, parts) != 0) {
            /* committed, but which row is whose cannot be told (out of memory) */
            s_batch_fail(self, batch,
                         "committed, but its answer could not be read (out of memory)");
            return false;
        }
        size_t i = 0;
        while ((m = batch->members) != NULL) {
            batch->members = m->next;
            m->result = parts[i++];
            if (m->done != NULL)
                m->done(self->owner, m->ctx, m->result, NULL);
            store_op_free(m);
        }
        store_op_free(batch);
        return true;
    }
    case OUTCOME_RESEND:
    case OUTCOME_RESEND_FREE:
        members = store_op_batch_members(batch, outcome == OUTCOME_RESEND ? 1 : 0);
        while ((m = store_opq_pop(&members)) != NULL)
            store_opq_push(retry, m);
        return true;
    case OUTCOME_RESEND_LATER:
        if (!*paused)
            s_pause(self, batch);
        *paused = true;
        members = store_op_batch_members(batch, 0);
        while ((m = store_opq_pop(&members)) != NULL)
            store_opq_push(retry, m);
        return false;
    case OUTCOME_FAILED:
        break;
    }
    if (seg->sync_error == NULL && s_refused_on_data(batch)) {
        /* One row (or more) refused: each goes again alone, the others commit. */
        members = store_op_batch_members(batch, 0);
        while ((m = store_opq_pop(&members)) != NULL) {
            m->single = true;
            store_opq_push(retry, m);
        }
        return false;
    }
    /* Any other failure is every member's. */
    char error[ERROR_MAX];
    if (seg->sync_error != NULL)
        s_copy_message(error, sizeof error, "transaction failed: ", seg->sync_error);
    else
        s_result_error(batch->result, error, sizeof error);
    s_batch_fail(self, batch, error);
    return false;
}

/* The segment's Sync arrived: its transaction is over. Run the callbacks in order; put the
 * operations to send again back at the head of the queue, in order. */
static void
s_segment_finished(store_t *self, segment_t *seg)
{
    self->nsegments--;
    if (seg->prepare) {
        s_prepare_finished(self, seg);
        return;
    }
    self->inflight_ops -= seg->ncaller;
    /* One statement's error rolls back the whole implicit transaction, the statements that
     * ran before it included: those are sent again, never announced as committed. */
    bool rolled_back = false;
    bool refused = false; /* by a statement refused for a passing reason (not its data) */
    for (const op_t *o = seg->ops.head; o != NULL; o = o->next) {
        rolled_back = rolled_back || o->result == NULL || s_result_is_error(o->result);
        refused = refused || s_refused(o);
    }
    opq_t retry = {0};
    bool clean = true;
    bool paused = false;
    op_t *op;
    if (seg->fence) {
        /* false: fenced, seg is freed and its operations went back to the queue, never
         * announced (so seg must not be read again here) */
        if (!s_fence_finished(self, seg, &paused))
            return;
        clean = !paused;
    }
    while ((op = store_opq_pop(&seg->ops)) != NULL) {
        if (op->kind == OP_BATCH) {
            clean = s_batch_finished(self, seg, op, rolled_back, refused, &retry, &paused) && clean;
            continue;
        }
        switch (s_outcome(seg, op, rolled_back, refused)) {
        case OUTCOME_DONE:
            if (op->done != NULL)
                op->done(self->owner, op->ctx, op->result, NULL);
            store_op_free(op);
            break;
        case OUTCOME_RESEND:
            op->retries++;
            /* fall through */
        case OUTCOME_RESEND_FREE:
            store_op_reset(op);
            store_opq_push(&retry, op);
            break;
        case OUTCOME_RESEND_LATER:
            if (!paused)
                s_pause(self, op);
            paused = true;
            clean = false;
            store_op_reset(op);
            store_opq_push(&retry, op);
            break;
        case OUTCOME_FAILED:
            clean = false;
            s_op_fail(self, seg, op);
            break;
        }
    }
    if (clean)
        self->pause_ms = BACKOFF_MIN_MS;
    free(seg->sync_error);
    free(seg);
    store_opq_prepend(&self->pending, &retry);
}

/* Keep one result per statement: the first, unless a later one is an error. */
static void
s_op_take_result(op_t *op, PGresult *res)
{
    op->got_result = true;
    if (op->result == NULL) {
        op->result = res;
    } else if (s_result_is_error(res) && !s_result_is_error(op->result)) {
        PQclear(op->result);
        op->result = res;
    } else {
        PQclear(res);
    }
}

/* Consume every result libpq has parsed, without blocking. */
static void
s_read_results(store_t *self)
{
    while (self->conn != NULL && self->seg_head != NULL) {
        segment_t *seg = self->seg_head;
        if (PQisBusy(self->conn))
            return;
        PGresult *res = PQgetResult(self->conn);
        if (seg->cursor != NULL) {
            op_t *op = seg->cursor;
            if (res == NULL) {
                if (!op->got_result)
                    return; /* nothing more parsed yet */
                seg->cursor = op->next;
                continue;
            }
            s_op_take_result(op, res);
            continue;
        }
        if (res == NULL)
            return;
        if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            self->seg_head = seg->next;
            if (self->seg_head == NULL)
                self->seg_tail = NULL;
            s_segment_finished(self, seg);
            continue;
        }
        /* An error where the Sync was expected: the implicit COMMIT failed. */
        if (seg->sync_error == NULL) {
            char msg[ERROR_MAX];
            s_result_error(res, msg, sizeof msg);
            seg->sync_error = strdup(msg);
            if (seg->sync_error == NULL)
                seg->sync_error = strdup("out of memory");
        }
        PQclear(res);
    }
}

static void
s_service_connection(store_t *self, short revents)
{
    if ((revents & ZMQ_POLLOUT) || self->want_write) {
        s_flush_output(self);
        if (self->conn == NULL)
            return;
    }
    if ((revents & ZMQ_POLLIN) && !PQconsumeInput(self->conn)) {
        s_lose_with_pq_error(self, "read failed: ");
        return;
    }
    s_read_results(self);
    if (self->conn != NULL && PQstatus(self->conn) == CONNECTION_BAD)
        s_lose_with_pq_error(self, "connection closed: ");
}

/* ---------------------------------------------------------------- public */

store_t *
store_new(const char *conninfo, const char *name, const store_stmt_t *const *stmts, size_t n,
          size_t max_pending, store_event_fn *on_event, void *owner)
{
    store_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->conninfo = strdup(conninfo != NULL ? conninfo : "");
    self->name = strdup(name != NULL ? name : "profai-broker");
    if (self->conninfo == NULL || self->name == NULL) {
        free(self->conninfo);
        free(self->name);
        free(self);
        return NULL;
    }
    self->stmts = stmts;
    self->nstmts = n;
    self->max_pending = max_pending;
    self->on_event = on_event;
    self->owner = owner;
    self->state = STORE_DISCONNECTED;
    self->backoff_ms = BACKOFF_MIN_MS;
    self->pause_ms = BACKOFF_MIN_MS;
    return self;
}

void
store_destroy(store_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    store_t *self = *self_p;
    PQfinish(self->conn);
    while (self->seg_head != NULL) {
        segment_t *seg = self->seg_head;
        self->seg_head = seg->next;
        op_t *op;
        while ((op = store_opq_pop(&seg->ops)) != NULL)
            store_op_free(op);
        free(seg->sync_error);
        free(seg);
    }
    op_t *op;
    while ((op = store_opq_pop(&self->pending)) != NULL)
        store_op_free(op);
    free(self->conninfo);
    free(self->name);
    free(self->fence_value);
    free(self);
    *self_p = NULL;
}

store_status_t
store_submit(store_t *self, const store_stmt_t *stmt, const char *const *values,
             const size_t *lengths, int flags, store_done_fn *done, const void *ctx, size_t ctx_len)
{
    assert(stmt != NULL && stmt->nparams >= 0 && stmt->nparams <= STORE_MAX_PARAMS);
    assert(ctx_len <= STORE_CTX_MAX);
    assert(store_prepares(self, stmt));
    if (flags & STORE_FAIL_FAST) {
        if (self->state != STORE_READY)
            return STORE_DOWN;
        if (store_pending(self) >= self->max_pending)
            return STORE_OVERLOADED;
    }
    op_t *op = store_op_new(stmt, values, lengths, flags, done, ctx, ctx_len);
    if (op == NULL)
        return STORE_NOMEM;
    store_opq_push(&self->pending, op);
    return STORE_OK;
}

int
store_set_fence(store_t *self, const store_stmt_t *stmt, const char *value)
{
    assert(stmt != NULL && stmt->nparams == 1);
    char *copy = strdup(value);
    if (copy == NULL)
        return -1;
    free(self->fence_value);
    self->fence_value = copy;
    self->fence_stmt = stmt;
    return 0;
}

bool
store_is_fenced(const store_t *self)
{
    return self->fenced;
}

/* Move queued operations into segments: an ISOLATED operation alone, others together up to
 * STORE_MAX_SEGMENT_OPS, while fewer than STORE_MAX_INFLIGHT segments travel. */
void
store_flush(store_t *self)
{
    if (self->now < self->pause_until || self->fenced)
        return;
    while (self->state == STORE_READY && self->pending.head != NULL &&
           self->nsegments < STORE_MAX_INFLIGHT) {
        segment_t *seg = calloc(1, sizeof *seg);
        if (seg == NULL)
            return; /* try again next turn */
        if (self->fence_stmt != NULL) {
            size_t len = strlen(self->fence_value);
            const char *value = self->fence_value;
            op_t *fence = store_op_new(self->fence_stmt, &value, &len, 0, NULL, NULL, 0);
            if (fence == NULL) {
                free(seg);
                return; /* try again next turn */
            }
            fence->kind = OP_FENCE;
            store_opq_push(&seg->ops, fence);
            seg->fence = true;
        }
        do {
            op_t *op = store_opq_pop(&self->pending);
            store_opq_push(&seg->ops, op);
            if (op->flags & STORE_ISOLATED)
                break;
        } while (self->pending.head != NULL && !(self->pending.head->flags & STORE_ISOLATED) &&
                 seg->ops.size < STORE_MAX_SEGMENT_OPS);
        seg->ncaller = seg->ops.size - (seg->fence ? 1 : 0);
        if (seg->fence) {
            /* the fence stays first, outside the batching */
            op_t *fence = store_opq_pop(&seg->ops);
            store_opq_batch(&seg->ops);
            opq_t front = {0};
            store_opq_push(&front, fence);
            store_opq_prepend(&seg->ops, &front);
        } else {
            store_opq_batch(&seg->ops);
        }
        s_segment_append(self, seg);
        self->inflight_ops += seg->ncaller;
        for (op_t *op = seg->ops.head; op != NULL; op = op->next) {
            if (!PQsendQueryPrepared(self->conn, op->stmt->name, op->stmt->nparams,
                                     (const char *const *)op->values, NULL, NULL,
                                     op->stmt->binary_result)) {
                s_lose_with_pq_error(self, "cannot send statement: ");
                return;
            }
        }
        if (!PQpipelineSync(self->conn)) {
            s_lose_with_pq_error(self, "cannot send Sync: ");
            return;
        }
    }
    if (self->conn != NULL && self->state == STORE_READY)
        s_flush_output(self);
}

int
store_pollfd(store_t *self, short *events)
{
    *events = 0;
    if (self->conn == NULL)
        return -1;
    if (self->state == STORE_CONNECTING)
        *events = self->poll_status == PGRES_POLLING_READING ? ZMQ_POLLIN : ZMQ_POLLOUT;
    else
        *events = ZMQ_POLLIN | (self->want_write ? ZMQ_POLLOUT : 0);
    return PQsocket(self->conn);
}

int64_t
store_timeout(store_t *self, int64_t now_ms)
{
    int64_t deadline;
    if (self->state == STORE_DISCONNECTED)
        deadline = self->retry_at;
    else if (self->state == STORE_CONNECTING)
        deadline = self->connect_deadline;
    else if (self->pending.head != NULL && self->pause_until > now_ms)
        deadline = self->pause_until;
    else
        return -1;
    return deadline > now_ms ? deadline - now_ms : 0;
}

void
store_service(store_t *self, short revents, int64_t now_ms)
{
    self->now = now_ms;
    switch (self->state) {
    case STORE_DISCONNECTED:
        if (now_ms >= self->retry_at)
            s_connect_begin(self);
        break;
    case STORE_CONNECTING:
        if (now_ms >= self->connect_deadline)
            s_lose_connection(self, "connection attempt timed out");
        else if (revents != 0 || PQsocket(self->conn) < 0)
            s_connect_poll(self);
        break;
    case STORE_PREPARING:
    case STORE_READY:
        s_service_connection(self, revents);
        break;
    }
}

bool
store_is_up(const store_t *self)
{
    return self->state == STORE_READY;
}

bool
store_prepares(const store_t *self, const store_stmt_t *stmt)
{
    for (size_t i = 0; i < self->nstmts; i++)
        if (self->stmts[i] == stmt)
            return true;
    return false;
}

size_t
store_pending(const store_t *self)
{
    return self->pending.size + self->inflight_ops;
}
