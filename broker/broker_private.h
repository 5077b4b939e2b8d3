/*
 * broker_private.h - the broker's state and the effects shared by the files of the broker
 * (broker.c, clients.c, dispatch.c); not part of broker.h's public surface.
 *
 * The effects (sends on the ROUTER, writes queued in the store, log lines) are defined in
 * broker.c; the decisions they carry out are made by the pure modules (job_table.h with its
 * fair_queue.h, worker_registry.h). Everything runs on the broker's one thread.
 */
#ifndef PROFAI_BROKER_PRIVATE_H
#define PROFAI_BROKER_PRIVATE_H

#include "broker.h"
#include "job_table.h"
#include "metrics.h"
#include "profai/errors.h"
#include "profai/proto.h"
#include "sql.h"
#include "store.h"
#include "worker_registry.h"
#include "zap.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

/* Counts since start, for logs and a future metrics module (which reads them rather than
 * adding code to the loop). */
typedef struct {
    uint64_t messages;   /* ROUTER messages read */
    uint64_t dropped;    /* of those, invalid and dropped */
    uint64_t dispatched; /* REQUESTs sent */
    uint64_t retried;    /* attempts that ended without a result and were retried */
    uint64_t failed;     /* jobs that failed for good */
    uint64_t completed;  /* results handed to the database */
    uint64_t merged;     /* of which written with their held dispatch as one update */
    /* For broker_metrics.c (docs/operations.md, "Metrics and alerts"). */
    uint64_t expired;                     /* workers forgotten after missed heartbeats */
    uint64_t requeues[PROFAI_ERR_COUNT];  /* retried attempts, by reason */
    uint64_t failures[PROFAI_ERR_COUNT];  /* jobs failed for good, by error code */
    metrics_histogram_t dispatch_latency; /* learnt (queued) -> REQUEST sent */
    metrics_histogram_t run_time;         /* REQUEST sent -> FINAL received */
} broker_counters_t;

struct broker_t {
    char *endpoint;
    char *conninfo;
    int heartbeat_ivl;
    int liveness;
    int shutdown_timeout;
    int max_attempts;
    int64_t retry_base_ms;
    int64_t retry_max_ms;
    int64_t job_deadline_ms;
    long long max_queued_per_owner; /* submission quotas (0: none), checked by sql_stmt_submit */
    long long max_bytes_per_owner;

    zsock_t *router;
    zap_t *zap;                       /* CURVE's ZAP handler and allow-lists; NULL: plaintext */
    store_t *store;                   /* the job store: every write but submissions */
    size_t max_pending_writes;        /* either store's queue bound for submissions */
    store_t *submits;                 /* the submission store: sql_stmt_submit only (docs/broker.md,
                                       * "Submissions on a connection of their own") */
    store_t *admin_reads;             /* admin.jobs and admin.job only: no fence (docs/broker.md,
                                       * "The admin socket's reads on a connection of their own") */
    struct blob_reader_t *blobs;      /* PDF reads for dispatch, off the store (blob_reader.h) */
    struct pdf_cache_t *pdfs;         /* small PDFs read before, for REQUESTs sent ahead of their
                                       * dispatch commit (pdf_cache.h); NULL: always after it */
    struct search_indexer_t *indexer; /* new courses' search index (search_indexer.h) */
    /* Early dispatches' writes held for their result (dispatch_hold.h); NULL: none held. */
    struct dispatch_hold_t *hold;
    int64_t dispatch_hold_ms;
    /* The blob endpoint workers fetch large PDFs from (blob_server.h); NULL: none, and
     * blob_connect is the address put into REQUESTs for it. */
    struct blob_server_t *blob_server;
    char *blob_connect;
    job_table_t *jobs;          /* every unfinished job */
    worker_registry_t *workers; /* every worker connection */
    broker_counters_t counters;
    struct admin_t *admin;            /* the admin socket (admin.h), or NULL */
    struct broker_metrics_t *metrics; /* the metrics endpoint (broker_metrics.h), or NULL */
    bool paused;                      /* admin.pause: queued jobs are not dispatched */

    int64_t now;           /* monotonic ms, read once per loop turn */
    int64_t next_tick;     /* heartbeats, expiry, orphans */
    int64_t next_progress; /* progress flush */
    bool db_seen_up;       /* the job store has been up once: later UPs are reconnects */
    bool submits_seen_up;  /* the same for the submission store */
    bool admin_seen_up;    /* the same for the admin reads store (nothing is reloaded) */
    bool stopping;

    /* Leadership (docs/broker.md, "Standby broker"; broker_lead). */
    struct leader_t *leader;   /* borrowed; NULL: not leading yet */
    int64_t epoch;             /* the fencing epoch this broker leads with */
    int lock_poll_ms;          /* between two checks of the lock session */
    int64_t next_leader_check; /* monotonic ms */
    bool deposed;              /* the leadership was lost: the loop ends at once */
    bool lockless;             /* the lock session is lost and could not be taken again yet */

    int64_t drop_log_at; /* rate limit of invalid-message reports */
    unsigned dropped;    /* since the last report */
};

/* Context of a job operation (copied into the store's operation). */
typedef struct {
    char job_id[PROTO_UUID_LEN + 1];
    uint32_t attempt;
    char course_id[PROTO_UUID_LEN + 1];
    char worker[WORKER_NAME_MAX + 1];
} job_ctx_t;

/* A context for the job's current attempt. */
void broker_job_ctx(job_ctx_t *ctx, const job_t *job);

/* Report a dropped message, at most once a second (a flood must not flood the log). */
void broker_drop(broker_t *self, const char *what, const char *detail);

/* Send msg (taken, destroyed whatever happens) on the ROUTER; its first frame is the peer's
 * identity. -1 when the peer is gone or at its high-water mark (the socket never waits). */
int broker_router_send(broker_t *self, zmsg_t **msg_p);

/* Send msg (taken) to the worker. -1: the peer is gone or stuck; the caller must forget it. */
int broker_worker_send(broker_t *self, worker_t *worker, zmsg_t **msg_p);

/* Send DISCONNECT to an identity we do not (or no longer) know; best effort. */
void broker_send_disconnect(broker_t *self, const uint8_t *identity, size_t identity_len);

/* Queue a write that must happen (retried over reconnects); only memory exhaustion can refuse
 * it, and then the next broker start recovers the job from PostgreSQL. */
/* Both stores are connected: the database counts as up. */
bool broker_db_up(const broker_t *self);
/* Operations queued or in flight on both stores. */
size_t broker_pending_writes(const broker_t *self);

void broker_write(broker_t *self, const store_stmt_t *stmt, const char *const *values,
                  store_done_fn *done, const void *ctx, size_t ctx_len);

/* Record a failure of attempt `attempt` of a job (code: a job error's wire name). */
void broker_job_record_failure(broker_t *self, const char *job_id, uint32_t attempt,
                               const char *code, const char *message);

/* Fail a job in memory whose worker is detached, for good, and forget it. */
void broker_job_fail(broker_t *self, job_t *job, const char *code, const char *message);

/* An attempt ended without a result (code: worker_lost, parser_crashed, timeout or internal;
 * the job's worker, if any, is detached): requeue it with a back-off, or fail it for good after
 * max_attempts (job_table_retry decides). */
void broker_job_retry(broker_t *self, job_t *job, profai_error_t code, const char *why);

/* Take a job out of memory whatever its state (cancelled, or ended in PostgreSQL): a reserved
 * worker is idle again, a busy one is told DISCONNECT and forgotten. Nothing is written. */
void broker_job_drop(broker_t *self, job_t *job);

/* Forget a worker (gone, expired, or unreachable); its job is retried (a lost worker). */
void broker_worker_forget(broker_t *self, worker_t *worker, const char *why);

/* The worker broke the protocol: tell it (it reconnects with a fresh socket) and forget it. */
void broker_worker_reject(broker_t *self, worker_t *worker, const char *why);

/* Detach the worker's job (the caller decides the job's fate) and make it IDLE. */
void broker_worker_release(broker_t *self, worker_t *worker);

/* clients.c: a client message (MDPC) from identity; msg is borrowed, identity removed. */
void clients_on_message(broker_t *self, zframe_t *identity, zmsg_t *msg);

/* clients.c: refuse a client REQUEST in msg (borrowed, identity removed) with an error FINAL
 * carrying code and detail; nothing is sent for a message that is not a REQUEST. */
void clients_refuse(broker_t *self, zframe_t *identity, zmsg_t *msg, profai_error_t code,
                    const char *detail);

/* dispatch.c: a worker message (MDPW) from identity; msg is borrowed, identity removed. */
void dispatch_on_worker_message(broker_t *self, zframe_t *identity, zmsg_t *msg);

/* dispatch.c: give queued jobs to idle workers (the job table's fair queue chooses the job). */
void dispatch_jobs(broker_t *self);

/* Write the job's held dispatch now, if it has one (before any other write about it; docs/
 * broker.md "Holding the dispatch write"). */
void dispatch_release_job(broker_t *self, const char *job_id);

/* Write every held dispatch that is due at now (INT64_MAX: all); the due time of the next
 * (INT64_MAX: none). */
int64_t dispatch_release_due(broker_t *self, int64_t now);

/* A dispatched job's PDF was read (blob_reader_new's callback, blob_read_fn): send the REQUEST
 * if the worker is still reserved for this attempt. */
void dispatch_on_pdf(void *owner, void *ctx, const uint8_t *data, size_t len, const char *error);

#endif
