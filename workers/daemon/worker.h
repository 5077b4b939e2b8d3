/*
 * worker.h - the profai-worker event loop: N job slots, each one MDP/0.2 worker on its own
 * DEALER socket to the broker, each running at most one job in a profai-extract child.
 *
 * Single-threaded: one zmq_poll over every slot's socket, every running child's progress pipe
 * and a stop fd, plus timers for heartbeats, reconnects, deadlines and progress reports.
 * docs/worker.md describes the design; docs/protocol.md the wire protocol.
 */
#ifndef PROFAI_WORKER_H
#define PROFAI_WORKER_H

#include "curve.h"
#include "job_runner.h"

#define WORKER_CONCURRENCY_MAX 64
#define WORKER_BACKOFF_MIN_MS 250
#define WORKER_BACKOFF_MAX_MS 8000
#define WORKER_RECONNECT_IVL_MAX_MS 1000  /* ZeroMQ's own retries while no broker listens */
#define WORKER_PROGRESS_MIN_GAP_MS 250    /* at most about 4 PARTIALs per second */
#define WORKER_PROGRESS_KEEPALIVE_MS 2000 /* and at least one every 2 s while a job runs */
#define WORKER_FETCH_SILENCE_MIN_MS 10000 /* a PDF fetch fails after this long without answer */

typedef struct {
    const char *endpoint;    /* broker endpoint, e.g. tcp://127.0.0.1:5555 */
    const char *service;     /* course.build */
    int concurrency;         /* slots, 1..WORKER_CONCURRENCY_MAX */
    long long heartbeat_ivl; /* ms */
    long long liveness;      /* intervals of silence before the broker counts as dead */
    long long drain_timeout; /* ms a stop waits for running jobs */
    job_limits_t limits;
    curve_keys_t curve; /* curve/certificate, curve/broker_key; enabled false: plaintext */
} worker_config_t;

typedef struct worker_t worker_t;

/* A worker for config; strings are copied. NULL when config is invalid or memory is short. */
worker_t *worker_new(const worker_config_t *config);

/* Kill running children, close sockets, free, set *self_p to NULL. Accepts NULL. */
void worker_destroy(worker_t **self_p);

/* Serve jobs until stopped. Every byte that becomes readable on stop_fd is one stop request
 * (the signal handler of main writes them): the first drains (running jobs finish and are
 * delivered, up to drain_timeout), the second stops at once. Returns 0 after a clean stop,
 * -1 on a fatal error (logged). */
int worker_run(worker_t *self, int stop_fd);

#endif
