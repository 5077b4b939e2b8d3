/*
 * broker.h - the ProfAI broker: one ROUTER socket speaking MDP/0.2 to workers and clients,
 * jobs kept durable in PostgreSQL (docs/broker.md, docs/protocol.md, docs/database.md).
 *
 * Lifecycle: broker_new binds the socket; broker_load_jobs reads the unfinished jobs once
 * (blocking, before the loop); broker_run serves until *stop becomes non-zero, then lets the
 * pending database writes finish (at most shutdown_timeout ms); broker_destroy frees it all.
 */
#ifndef PROFAI_BROKER_H
#define PROFAI_BROKER_H

#include "curve.h"
#include "profai/compiler.h"

#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* Configuration; strings are copied by broker_new. Keys and defaults: conf/broker.conf. */
typedef struct {
    const char *endpoint;      /* broker/endpoint: where the ROUTER binds */
    const char *conninfo;      /* database/conninfo: libpq connection string */
    int heartbeat_ivl;         /* broker/heartbeat_ivl, ms */
    int liveness;              /* broker/liveness, intervals */
    int max_attempts;          /* broker/max_attempts: dispatches per job at most */
    size_t max_pending_writes; /* broker/max_pending_writes: database queue bound */
    int dispatch_hold_ms;      /* broker/dispatch_hold_ms (docs/broker.md; 0: never held) */
    int pdf_readers;           /* broker/pdf_readers: PDFs read at once for dispatch (0: 2) */
    int shutdown_timeout;      /* broker/shutdown_timeout, ms to finish writes on exit */
    long long retry_base_ms;   /* broker/retry_base_ms: back-off after a first failed attempt */
    long long retry_max_ms;    /* broker/retry_max_ms: longest back-off */
    long long job_deadline_ms; /* broker/job_deadline_ms: longest run of one attempt */
    int lock_poll_ms;          /* broker/lock_poll_ms: standby's lock attempts, leader's checks */

    /* Fairness between owners (docs/broker.md, "Fair scheduling"); 0: no cap, no quota. */
    size_t max_running_per_owner;   /* broker/max_running_per_owner */
    long long max_queued_per_owner; /* broker/max_queued_per_owner */
    long long max_bytes_per_owner;  /* broker/max_bytes_per_owner */
    /* admin/endpoint: ipc:// or (CURVE only) tcp:// admin socket (docs/admin.md); "": none */
    const char *admin_endpoint;
    bool admin_optional;       /* it is the default: a failure to bind it is only a warning */
    curve_keys_t curve;        /* curve/certificate loaded; curve.enabled false: plaintext */
    const char *workers_dir;   /* curve/workers_dir: public keys allowed to serve jobs */
    const char *frontends_dir; /* curve/frontends_dir: public keys allowed to submit, cancel */
    const char *admins_dir;    /* curve/admins_dir: public keys allowed on a tcp:// admin socket */
    bool allow_plaintext;      /* a non-loopback plaintext endpoint was allowed explicitly */
    /* metrics/endpoint: tcp:// address of the HTTP metrics endpoint (broker_metrics.h); ""
     * or NULL: none */
    const char *metrics_endpoint;
    /* broker/blob_endpoint: where the blob endpoint binds (blob_server.h; docs/protocol.md
     * 3.6); "" or NULL: none, every PDF goes inline in its REQUEST */
    const char *blob_endpoint;
    /* broker/blob_connect: the address workers are told to fetch from ("": blob_endpoint) */
    const char *blob_connect;
    int blob_threads; /* broker/blob_threads: the blob endpoint's reader threads (0: 2) */
} broker_config_t;

typedef struct broker_t broker_t;

/* Create the broker and bind its ROUTER socket. Returns NULL with a sentence in err when the
 * endpoint cannot be bound or memory runs out. */
broker_t *broker_new(const broker_config_t *config, char *err, size_t err_size);

/* Free everything; accepts NULL. Jobs still running stay 'running' in PostgreSQL and are
 * recovered as orphans by the next broker. */
void broker_destroy(broker_t **self_p);

/* Read the unfinished jobs (queued ones join the queue, running ones become orphans waiting
 * for their worker) over conn, a blocking connection borrowed for the call. Returns 0, or -1
 * with a sentence in err. */
int broker_load_jobs(broker_t *self, PGconn *conn, char *err, size_t err_size) PROFAI_MUST_CHECK;

struct leader_t;

/* Lead with epoch, which leader (borrowed, kept for the broker's life) has just taken: every
 * transaction from now on begins with the epoch's fence, and the lock session is checked every
 * lock_poll_ms. Call before broker_load_jobs and broker_run. Returns 0, or -1 when out of
 * memory. */
int broker_lead(broker_t *self, struct leader_t *leader, int64_t epoch,
                int lock_poll_ms) PROFAI_MUST_CHECK;

/* Whether broker_run ended because the leadership was lost (a fenced transaction or a lost
 * lock session): nothing more may be written; the process exits 3 and stands by after its
 * restart. */
bool broker_deposed(const broker_t *self);

/* Serve until *stop is non-zero (set by a signal handler), then flush pending writes for at
 * most shutdown_timeout ms. Returns 0, or -1 when the event loop itself failed. */
int broker_run(broker_t *self, volatile sig_atomic_t *stop) PROFAI_MUST_CHECK;

#endif
