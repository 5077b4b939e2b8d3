/*
 * broker_metrics.h - the broker's metrics endpoint (docs/operations.md, "Metrics and alerts"): a
 * ZMQ_STREAM socket polled in the broker's loop beside the ROUTER, answering `GET /metrics`
 * as a minimal HTTP/1.0 server (read the request, answer the Prometheus text, close).
 *
 * It reads the broker's state (job table, worker registry, store, broker_counters_t) on the
 * broker's one thread; the loop's hooks (broker_metrics_*) only count. The page is answered
 * after a fail-fast ping through the store's pipeline, so it carries the database round trip
 * that jobs' statements see; when the store is down it is answered at once.
 */
#ifndef PROFAI_BROKER_BROKER_METRICS_H
#define PROFAI_BROKER_BROKER_METRICS_H

#include "broker_private.h"

typedef struct broker_metrics_t broker_metrics_t;

/* Bind endpoint (tcp://ADDR:PORT). NULL with err set when it cannot. */
broker_metrics_t *broker_metrics_new(broker_t *broker, const char *endpoint, char *err,
                                     size_t err_size);
void broker_metrics_destroy(broker_metrics_t **self_p);

/* The socket to poll for input, and what to call when it has some. */
void *broker_metrics_socket(broker_metrics_t *self);
void broker_metrics_read(broker_metrics_t *self);

/* Hooks of the loop (counts only). */
void broker_metrics_dispatched(broker_t *broker, const job_t *job); /* REQUEST sent */
void broker_metrics_finished(broker_t *broker, const job_t *job);   /* FINAL received */
void broker_metrics_failed(broker_t *broker, const char *code);     /* failed for good */

/* Distinct worker processes: connections counted once per (host, pid) of their identity;
 * an identity of another format counts as one. */
size_t broker_worker_processes(const broker_t *broker);

#endif
