/*
 * store.h - the broker's PostgreSQL connection, asynchronous and pipelined, driven from the
 * broker's event loop (docs/broker.md, "Talking to PostgreSQL").
 *
 * The caller submits operations (one prepared statement each). Operations queued between two
 * store_flush() calls are sent together as one pipeline segment ending in a Sync, which
 * PostgreSQL runs as one implicit transaction: group commit. An operation's callback runs only
 * when its segment's Sync has been answered, i.e. after COMMIT, so whatever the callback
 * announces is durable. While a segment is in flight, newer operations wait (at most
 * STORE_MAX_INFLIGHT segments travel at once), so batches grow with the load.
 *
 * Failures:
 *   - a statement error on data (SQLSTATE 22, 23) or a bug (42): that operation's callback gets
 *     the error; the other operations of its segment, rolled back with it (those that ran
 *     before it included, which are never announced as committed), are sent again in a later
 *     segment;
 *   - any other statement error (lock timeout, deadlock, resources...): STORE_FAIL_FAST
 *     operations fail; the others are sent again after a pause (all writes wait, in order);
 *   - STORE_ISOLATED operations travel in a segment of their own, so an error on data the
 *     broker does not control (a worker's course JSON) can never abort anyone else's write;
 *   - multi-row statements: within one segment, operations (flags 0, or all STORE_FAIL_FAST)
 *     of a statement with a
 *     `batch` form travel as ONE statement over arrays, at the place of the first of them
 *     (store_batch.h says which may move). Each operation's callback gets a result of its own:
 *     its rows, no command tag (sql_write_applied reads the rows then). When PostgreSQL refuses
 *     the multi-row statement on data (SQLSTATE 22, 23), its operations are sent again one by
 *     one, so only the refused one fails, as above;
 *   - connection loss: STORE_FAIL_FAST operations (sent or not) fail at once with an error;
 *     all other operations stay queued and are sent again after reconnecting, so their
 *     statements must be idempotent (conditional updates). Reconnection is non-blocking, with
 *     back-off from 250 ms doubling to 5 s; statements are prepared again on every connection.
 *
 * Nothing here logs: connection changes are reported through the event callback.
 */
#ifndef PROFAI_BROKER_STORE_H
#define PROFAI_BROKER_STORE_H

#include "profai/compiler.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most parameters a statement may take. */
#define STORE_MAX_PARAMS 8
/* Largest caller context copied into an operation (bytes). */
#define STORE_CTX_MAX 512
/* Segments in flight at once; newer operations wait and then travel together. One: each
 * commit waits for a WAL flush, so a second segment in flight only splits into two fsyncs
 * what one would carry (measured: 8 in flight 258 jobs/s and 643 fsyncs per 4,000 jobs,
 * 2: 395/s and 258, 1: 661/s and 178; docs/performance.md). */
#define STORE_MAX_INFLIGHT 1
/* Operations per segment at most (one transaction). */
#define STORE_MAX_SEGMENT_OPS 1000

typedef struct store_t store_t;

/* A statement, prepared on every connection. Static data: the store keeps the pointer. */
typedef struct store_stmt_t {
    const char *name; /* unique prepared-statement name */
    const char *sql;
    int nparams;       /* <= STORE_MAX_PARAMS; every parameter is sent as text */
    int binary_result; /* 1: the result comes in binary format (bytea as raw bytes) */
    /* 1: its first parameter is a key (a job id) and it reads and writes nothing but that
     * key's rows, so it commutes with keyed statements on other keys. 0: a barrier (nothing
     * is moved across it). */
    int keyed;
    /* NULL, or the multi-row form of this keyed statement (among the store's statements, text
     * results): parameter i is a text array of every operation's parameter i, and it returns
     * one row per operation that the single statement would have changed: the operation's
     * 1-based ordinal, then at least one column (the single statement's result columns when
     * it returns rows). */
    const struct store_stmt_t *batch;
    /* NULL, or whether one operation (its parameters) may join the multi-row form. */
    bool (*batchable)(const char *const *values);
} store_stmt_t;

/* Flags of an operation. */
enum {
    /* Travel in a transaction of its own: the statement may fail on data. */
    STORE_ISOLATED = 1 << 0,
    /* Never send again after a connection loss: fail instead (the caller replies
     * db_unavailable). Refused while the store is down or over its queue bound. */
    STORE_FAIL_FAST = 1 << 1,
};

typedef enum {
    STORE_OK = 0,
    STORE_DOWN,       /* STORE_FAIL_FAST refused: not connected */
    STORE_OVERLOADED, /* STORE_FAIL_FAST refused: max_pending operations queued */
    STORE_NOMEM,      /* allocation failed (any operation) */
} store_status_t;

typedef enum {
    STORE_EVENT_UP,      /* connected and statements prepared; detail NULL */
    STORE_EVENT_DOWN,    /* a working connection was lost; detail says why */
    STORE_EVENT_RETRY,   /* a connection attempt failed; detail says why and when the next is */
    STORE_EVENT_STALLED, /* a write was refused for a passing reason (lock timeout, ...): writes
                          * pause (back-off 250 ms to 5 s) and it is sent again */
    STORE_EVENT_FENCED,  /* the fence (store_set_fence) refused a transaction: nothing of it
                          * committed and nothing more is sent; detail says why */
} store_event_t;

/* An operation finished. owner: from store_new. ctx: the operation's copy of the context
 * given to store_submit (borrowed for the call). res: the statement's result, borrowed for the
 * call (NULL when the statement never ran). error: NULL on success (committed), otherwise a
 * sentence (the statement failed, or the connection was lost for a STORE_FAIL_FAST
 * operation). The callback may call store_submit, never store_destroy. */
typedef void(store_done_fn)(void *owner, void *ctx, PGresult *res, const char *error);

/* The connection changed; detail is borrowed for the call. */
typedef void(store_event_fn)(void *owner, store_event_t event, const char *detail);

/* Create a store for conninfo (libpq connection string; "" uses the PG* environment).
 * stmts (n of them) and owner are borrowed and must outlive the store. max_pending bounds
 * queued plus in-flight operations for STORE_FAIL_FAST submissions. name: the connection's
 * application_name to PostgreSQL (copied) unless conninfo sets one. The first connection
 * attempt starts at the first store_service call. Returns NULL on allocation failure. */
store_t *store_new(const char *conninfo, const char *name, const store_stmt_t *const *stmts,
                   size_t n, size_t max_pending, store_event_fn *on_event, void *owner);

/* Close the connection and free every operation without calling its callback. */
void store_destroy(store_t **self_p);

/* Queue one operation. values[i] (lengths[i] bytes, need not be NUL-terminated) are copied;
 * ctx (ctx_len <= STORE_CTX_MAX bytes) is copied and handed to done. done may be NULL.
 * Returns STORE_OK, or a refusal (the callback will not run). */
store_status_t store_submit(store_t *self, const store_stmt_t *stmt, const char *const *values,
                            const size_t *lengths, int flags, store_done_fn *done, const void *ctx,
                            size_t ctx_len) PROFAI_MUST_CHECK;

/* SQLSTATE of a fence that refuses a transaction (raised by profai_fence, migration 012). */
#define STORE_FENCED_SQLSTATE "PF001"

/* Begin every transaction from now on with stmt (one parameter: value, copied), e.g. the
 * broker's epoch check (docs/broker.md, "Standby broker"). When it fails with
 * STORE_FENCED_SQLSTATE, none of the transaction's operations is announced (their callbacks
 * never run), the store sends nothing more and reports STORE_EVENT_FENCED; other failures of
 * the fence pause the writes like any refused statement. stmt must be among the store's
 * statements. Returns 0, or -1 when out of memory. */
int store_set_fence(store_t *self, const store_stmt_t *stmt, const char *value) PROFAI_MUST_CHECK;

/* Whether the fence has refused a transaction (the store sends nothing any more). */
bool store_is_fenced(const store_t *self);

/* Send the queued operations (call once at the end of every loop turn). */
void store_flush(store_t *self);

/* The socket to poll (-1: none now) and the events wanted (ZMQ_POLLIN / ZMQ_POLLOUT). */
int store_pollfd(store_t *self, short *events);

/* Milliseconds until store_service must run even without socket activity; -1: no deadline. */
int64_t store_timeout(store_t *self, int64_t now_ms);

/* Do the work due: connection steps, reading results (running callbacks), writing. revents
 * are the events seen on store_pollfd's socket (0 if none). now_ms: monotonic clock. */
void store_service(store_t *self, short revents, int64_t now_ms);

/* True when connected with statements prepared. */
bool store_is_up(const store_t *self);

/* True when stmt is one of the statements this store prepares (store_new's stmts): the only
 * ones store_submit takes. */
bool store_prepares(const store_t *self, const store_stmt_t *stmt);

/* Operations queued or in flight. */
size_t store_pending(const store_t *self);

/* Start a non-blocking connection with the broker's defaults (application_name, UTF-8 client
 * encoding, TCP keepalives), which conninfo overrides. Caller owns the result (PQfinish),
 * NULL only when out of memory; check PQstatus. */
PGconn *store_connect_start(const char *conninfo);

#endif
