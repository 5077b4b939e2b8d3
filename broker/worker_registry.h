/*
 * worker_registry.h - the workers the broker knows, with no I/O (docs/broker.md, "Workers").
 *
 * Workers are keyed by their ROUTER identity (kept as bytes; the broker builds the frame when
 * it sends). Idle workers are kept least recently used first; every worker's liveness is
 * renewed by each message it sends and it expires after heartbeat_ivl * liveness ms of
 * silence. Every state change goes through worker_registry_set_state, which also keeps the
 * idle order. Every worker is also kept in the order of the last message sent to it (least
 * recently sent first, worker_registry_quiet_first), so that finding those due a heartbeat
 * costs O(1) per worker due, not a walk of all of them. Time is passed in (monotonic ms, never
 * going back); nothing here logs, sends or writes.
 */
#ifndef PROFAI_BROKER_WORKER_REGISTRY_H
#define PROFAI_BROKER_WORKER_REGISTRY_H

#include "list.h"
#include "profai/proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest ROUTER identity (ZeroMQ's limit). */
#define WORKER_IDENTITY_MAX 255
/* Longest worker name: hex of the identity (long ones: 16 hex digits, "~" and a digest of the
 * whole identity) @ peer address. */
#define WORKER_NAME_MAX 72

/* A worker connection (gone workers leave memory).
 *   IDLE:     ready; in the idle list, least recently used first.
 *   RESERVED: a job is being prepared for it (dispatch UPDATE, PDF read).
 *   BUSY:     REQUEST sent; the worker is running the job.
 *   UNSERVED: ready for a service this broker has no jobs for, or drained by an operator
 *             (docs/admin.md): heartbeats only. */
typedef enum {
    WORKER_IDLE,
    WORKER_RESERVED,
    WORKER_BUSY,
    WORKER_UNSERVED,
} worker_state_t;

struct job_t;

/* Plain data: the broker reads every field and writes job; state, the nodes, expires_at and
 * last_sent belong to the registry (change them only through worker_registry_* calls). */
typedef struct worker_t {
    char key[2 * WORKER_IDENTITY_MAX + 1]; /* hex of the ROUTER identity: hash key */
    uint8_t identity[WORKER_IDENTITY_MAX];
    size_t identity_len;
    char name[WORKER_NAME_MAX + 1]; /* for logs and jobs.worker: see WORKER_NAME_MAX */
    char service[PROTO_SERVICE_MAX + 1];
    char curve_key[41]; /* its CURVE public key (z85), "" without CURVE; set by the broker */
    worker_state_t state;
    struct job_t *job;     /* RESERVED, BUSY; borrowed from the job table */
    list_node_t idle_node; /* in the idle list when IDLE */
    list_node_t all_node;  /* in the list of all workers always */
    list_node_t sent_node; /* in the list by last_sent always */
    int64_t expires_at;    /* dead when silent until then */
    int64_t last_sent;     /* last message sent to it */
    /* Written by the broker, read by the admin socket (docs/admin.md). */
    int64_t state_since; /* when it entered its state (set at creation, then by the broker) */
    bool draining;       /* finish the current job, take no other (state UNSERVED after) */
    uint64_t jobs_done;  /* results returned, by outcome */
    uint64_t jobs_failed;
} worker_t;

typedef struct worker_registry_t worker_registry_t;

/* heartbeat_ivl (ms) and liveness (intervals): broker/heartbeat_ivl, broker/liveness. NULL when
 * out of memory. */
worker_registry_t *worker_registry_new(int heartbeat_ivl, int liveness);

/* Free the registry and every worker in it; accepts NULL. */
void worker_registry_destroy(worker_registry_t **self_p);

/* Add a worker for identity (1..WORKER_IDENTITY_MAX bytes, copied) ready for service, seen at
 * now from peer (its address for the name; NULL: unknown). A worker of the course service
 * starts IDLE (most recently used), any other UNSERVED. The registry owns the worker; the
 * pointer is valid until worker_registry_remove. NULL when out of memory, the identity is
 * empty or too long, or already present. */
worker_t *worker_registry_add(worker_registry_t *self, const uint8_t *identity, size_t identity_len,
                              const char *peer, const char *service, int64_t now);

/* The worker with this identity, or NULL. Borrowed. */
worker_t *worker_registry_lookup(worker_registry_t *self, const uint8_t *identity,
                                 size_t identity_len);

/* The worker leaves memory; *worker_p is set to NULL. Its job must be detached by the caller. */
void worker_registry_remove(worker_registry_t *self, worker_t **worker_p);

/* Whether a worker may go from `from` to `to`. */
bool worker_transition_ok(worker_state_t from, worker_state_t to);

/* The name of a state for logs ("idle", ...). */
const char *worker_state_name(worker_state_t state);

/* Every worker state change goes through here; a worker becoming IDLE goes to the tail of the
 * idle list (most recently used). An impossible transition is a bug: it aborts. */
void worker_registry_set_state(worker_registry_t *self, worker_t *worker, worker_state_t next);

/* The worker showed a sign of life at now: it lives heartbeat_ivl * liveness ms more. */
void worker_registry_touch(worker_registry_t *self, worker_t *worker, int64_t now);

/* The broker sent the worker something at now (not before the last call's now): it goes to
 * the tail of the order by last message sent. */
void worker_registry_sent(worker_registry_t *self, worker_t *worker, int64_t now);

/* Whether the worker has been silent too long by now. */
bool worker_expired(const worker_t *worker, int64_t now);

/* Whether the broker has sent the worker nothing for 3/4 of an interval by now: a heartbeat is
 * due. */
bool worker_registry_heartbeat_due(const worker_registry_t *self, const worker_t *worker,
                                   int64_t now);

/* The worker sent nothing for the longest time (the first due a heartbeat), or NULL; and when
 * a heartbeat to worker is due (monotonic ms). Borrowed. */
worker_t *worker_registry_quiet_first(const worker_registry_t *self);
int64_t worker_registry_heartbeat_at(const worker_registry_t *self, const worker_t *worker);

/* The least recently used idle worker, or NULL. Borrowed. */
worker_t *worker_registry_idle_first(const worker_registry_t *self);

/* Every worker, oldest first, and the one after worker (NULL at the end). Removing the current
 * worker during a walk is allowed once its successor has been taken. */
worker_t *worker_registry_first(const worker_registry_t *self);
worker_t *worker_registry_next(const worker_registry_t *self, const worker_t *worker);

size_t worker_registry_size(const worker_registry_t *self);

/* The workers by state, and those draining, and those RESERVED (dispatching) or BUSY (running)
 * with a job: what the admin status and the metrics report. */
typedef struct {
    uint64_t by_state[WORKER_UNSERVED + 1];
    uint64_t draining;
    uint64_t dispatching;
    uint64_t running;
} worker_registry_counts_t;

worker_registry_counts_t worker_registry_counts(const worker_registry_t *self);
size_t worker_registry_idle_count(const worker_registry_t *self);

#endif
