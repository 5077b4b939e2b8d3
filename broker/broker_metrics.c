/* broker_metrics.c - see broker_metrics.h. */
#include "broker_metrics.h"

#include "admin_sql.h"
#include "log.h"
#include "profai/worker_identity.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Bytes of a request kept until its header ends; a longer one is answered 431. */
#define METRICS_REQUEST_MAX 2048
/* Connections with a partial request at once; more are closed. */
#define METRICS_CONNECTIONS_MAX 32

struct broker_metrics_t {
    broker_t *broker;
    zsock_t *stream;
    zhash_t *partial; /* hex identity -> strbuf_t of the request so far */
};

/* Where an answer goes once the database ping returns (copied into the store's operation). */
typedef struct {
    uint8_t id[256];
    size_t id_len;
    bool head;
    int64_t sent_us;
} metrics_ctx_t;

static void
s_hex(const uint8_t *id, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* Send data to the peer then close its connection (an empty frame closes it). */
static void
s_send_close(broker_metrics_t *self, const uint8_t *id, size_t id_len, const char *data, size_t len)
{
    void *sock = zsock_resolve(self->stream);
    if (len > 0 && (zmq_send(sock, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
                    zmq_send(sock, data, len, ZMQ_DONTWAIT) < 0))
        log_debug("metrics: answer dropped: %s", zmq_strerror(errno));
    if (zmq_send(sock, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        (void)zmq_send(sock, "", 0, ZMQ_DONTWAIT);
}

static void
s_answer(broker_metrics_t *self, const uint8_t *id, size_t id_len, int status, const char *reason,
         const char *type, const char *body, size_t body_len, bool head)
{
    strbuf_t out;
    strbuf_init(&out);
    char line[256];
    snprintf(line, sizeof line,
             "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
             "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
             status, reason, type, body_len);
    strbuf_append_cstr(&out, line);
    if (!head)
        strbuf_append(&out, body, body_len);
    if (strbuf_failed(&out))
        log_error("metrics: out of memory answering");
    else
        s_send_close(self, id, id_len, out.data, out.len);
    strbuf_free(&out);
}

/* ------------------------------------------------------------------ the page */

static void
s_gauge(strbuf_t *b, const char *name, const char *help, uint64_t value)
{
    metrics_family(b, name, "gauge", help);
    metrics_sample_u64(b, name, NULL, value);
}

static void
s_counter(strbuf_t *b, const char *name, const char *help, uint64_t value)
{
    metrics_family(b, name, "counter", help);
    metrics_sample_u64(b, name, NULL, value);
}

static void
s_queues(broker_t *b, strbuf_t *out)
{
    job_tally_t all;
    zhash_t *owners = job_table_queued_by_owner(b->jobs, &all);
    job_table_counts_t counts = job_table_counts(b->jobs);
    const char *svc[] = {"service", PROTO_SERVICE_COURSE, NULL};
    metrics_family(out, "profai_broker_queue_depth", "gauge",
                   "Jobs waiting for a worker (queued, or in their retry back-off).");
    metrics_sample_u64(out, "profai_broker_queue_depth", svc, counts.queued + counts.waiting);
    metrics_family(out, "profai_broker_queue_oldest_age_seconds", "gauge",
                   "Age of the oldest queued job (since the broker learnt it); 0 when none.");
    metrics_sample(out, "profai_broker_queue_oldest_age_seconds", svc,
                   all.oldest != 0 ? (double)(b->now - all.oldest) / 1000.0 : 0.0);
    metrics_family(out, "profai_broker_owner_queue_depth", "gauge",
                   "Queued jobs per owner (owners with none are not listed).");
    for (job_tally_t *t = owners ? zhash_first(owners) : NULL; t != NULL; t = zhash_next(owners)) {
        const char *labels[] = {"owner", zhash_cursor(owners), NULL};
        metrics_sample_u64(out, "profai_broker_owner_queue_depth", labels, t->count);
    }
    s_gauge(out, "profai_broker_queue_owners", "Owners with queued jobs.",
            owners ? zhash_size(owners) : 0);
    zhash_destroy(&owners);

    worker_registry_counts_t workers = worker_registry_counts(b->workers);
    uint64_t by_state[] = {counts.queued, counts.waiting, workers.dispatching, workers.running,
                           counts.orphaned};
    metrics_family(out, "profai_broker_jobs", "gauge", "Unfinished jobs in memory, by state.");
    for (int s = JOB_QUEUED; s <= JOB_ORPHANED; s++) {
        const char *labels[] = {"state", job_state_name((job_state_t)s), NULL};
        metrics_sample_u64(out, "profai_broker_jobs", labels, by_state[s]);
    }
    s_gauge(out, "profai_broker_workers_alive", "Worker connections (job slots).",
            worker_registry_size(b->workers));
    s_gauge(out, "profai_broker_worker_processes", "Distinct worker processes (host, pid).",
            broker_worker_processes(b));
    s_gauge(out, "profai_broker_workers_busy", "Worker slots with a job (reserved or busy).",
            workers.by_state[WORKER_RESERVED] + workers.by_state[WORKER_BUSY]);
    s_gauge(out, "profai_broker_workers_idle", "Worker slots ready for a job.",
            workers.by_state[WORKER_IDLE]);
    s_gauge(out, "profai_broker_workers_draining", "Worker slots drained by an operator.",
            workers.draining);
    s_gauge(out, "profai_broker_paused", "1 when dispatching is paused (profaictl pause).",
            b->paused ? 1 : 0);
}

static void
s_counters(broker_t *b, strbuf_t *out)
{
    const broker_counters_t *c = &b->counters;
    s_counter(out, "profai_broker_messages_total", "ROUTER messages read.", c->messages);
    s_counter(out, "profai_broker_messages_dropped_total", "Invalid messages dropped.", c->dropped);
    s_counter(out, "profai_broker_dispatched_total", "Jobs sent to workers (attempts).",
              c->dispatched);
    s_counter(out, "profai_broker_completed_total", "Results handed to the database.",
              c->completed);
    s_counter(out, "profai_broker_dispatch_merged_total",
              "Results written with their held dispatch as one update.", c->merged);
    s_counter(out, "profai_broker_heartbeats_missed_total",
              "Workers forgotten because their heartbeats stopped (expiries).", c->expired);
    metrics_family(out, "profai_broker_requeues_total", "counter",
                   "Attempts that ended without a result and were queued again, by reason.");
    for (int e = 0; e < PROFAI_ERR_COUNT; e++) {
        const char *labels[] = {"reason", profai_error_name((profai_error_t)e), NULL};
        if (profai_error_is_transient((profai_error_t)e) || c->requeues[e] != 0)
            metrics_sample_u64(out, "profai_broker_requeues_total", labels, c->requeues[e]);
    }
    metrics_family(out, "profai_broker_failures_total", "counter",
                   "Jobs failed for good, by error code.");
    for (int e = 0; e < PROFAI_ERR_COUNT; e++) {
        const char *labels[] = {"code", profai_error_name((profai_error_t)e), NULL};
        if (profai_error_is_job((profai_error_t)e) || c->failures[e] != 0)
            metrics_sample_u64(out, "profai_broker_failures_total", labels, c->failures[e]);
    }
    metrics_family(out, "profai_broker_dispatch_latency_seconds", "histogram",
                   "From when the broker learnt a queued job to each REQUEST sent.");
    metrics_histogram_write(out, "profai_broker_dispatch_latency_seconds", NULL,
                            &c->dispatch_latency);
    metrics_family(out, "profai_broker_job_run_seconds", "histogram",
                   "From REQUEST sent to the worker's FINAL (success or failure).");
    metrics_histogram_write(out, "profai_broker_job_run_seconds", NULL, &c->run_time);
}

static void
s_page(broker_metrics_t *self, const metrics_ctx_t *ctx, bool db_up, int64_t rtt_us)
{
    broker_t *b = self->broker;
    b->now = zclock_mono();
    strbuf_t out;
    strbuf_init(&out);
    s_queues(b, &out);
    s_counters(b, &out);
    s_gauge(&out, "profai_broker_database_up",
            "1 when the broker's PostgreSQL connections are up (a ping answered).", db_up ? 1 : 0);
    metrics_family(&out, "profai_broker_database_rtt_seconds", "gauge",
                   "Round trip of a ping through the broker's statement pipeline (0 when down).");
    metrics_sample(&out, "profai_broker_database_rtt_seconds", NULL,
                   db_up ? (double)rtt_us / 1e6 : 0.0);
    s_gauge(&out, "profai_broker_database_pending_writes",
            "Statements queued or in flight on the broker's two store connections.",
            broker_pending_writes(b));
    if (strbuf_failed(&out))
        s_answer(self, ctx->id, ctx->id_len, 500, "Internal Server Error", "text/plain", "", 0,
                 ctx->head);
    else
        s_answer(self, ctx->id, ctx->id_len, 200, "OK", METRICS_CONTENT_TYPE, out.data, out.len,
                 ctx->head);
    strbuf_free(&out);
}

static void
s_on_ping(void *owner, void *ctx_p, PGresult *res, const char *error)
{
    (void)res;
    broker_t *b = owner;
    if (b->metrics == NULL)
        return;
    const metrics_ctx_t *ctx = ctx_p;
    /* Up: the job store answered and the submission store is connected. */
    s_page(b->metrics, ctx, error == NULL && store_is_up(b->submits),
           zclock_usecs() - ctx->sent_us);
}

/* ------------------------------------------------------------------ requests */

/* A whole request header: answer it. */
static void
s_request(broker_metrics_t *self, const uint8_t *id, size_t id_len, const char *req)
{
    char method[8] = "", path[64] = "";
    if (sscanf(req, "%7s %63s", method, path) != 2) {
        s_answer(self, id, id_len, 400, "Bad Request", "text/plain", "bad request\n", 12, false);
        return;
    }
    bool head = strcmp(method, "HEAD") == 0;
    if (strcmp(path, "/metrics") != 0) {
        s_answer(self, id, id_len, 404, "Not Found", "text/plain", "only /metrics\n", 14, head);
        return;
    }
    if (!head && strcmp(method, "GET") != 0) {
        s_answer(self, id, id_len, 405, "Method Not Allowed", "text/plain", "GET only\n", 9, false);
        return;
    }
    metrics_ctx_t ctx = {.id_len = id_len, .head = head, .sent_us = zclock_usecs()};
    memcpy(ctx.id, id, id_len);
    if (sql_submit(self->broker->store, &admin_sql_ping, NULL, STORE_FAIL_FAST, s_on_ping, &ctx,
                   sizeof ctx) != STORE_OK)
        s_page(self, &ctx, false, 0);
}

void
broker_metrics_read(broker_metrics_t *self)
{
    for (int i = 0; i < 64; i++) {
        zmsg_t *msg = zmsg_recv_nowait(self->stream);
        if (msg == NULL)
            return;
        zframe_t *idf = zmsg_first(msg), *data = zmsg_next(msg);
        if (idf == NULL || data == NULL || zframe_size(idf) > 255) {
            zmsg_destroy(&msg);
            continue;
        }
        char key[2 * 255 + 1];
        s_hex(zframe_data(idf), zframe_size(idf), key);
        strbuf_t *buf = zhash_lookup(self->partial, key);
        if (zframe_size(data) == 0) { /* connected or disconnected */
            if (buf != NULL) {
                strbuf_free(buf);
                free(buf);
                zhash_delete(self->partial, key);
            }
            zmsg_destroy(&msg);
            continue;
        }
        if (buf == NULL) {
            if (zhash_size(self->partial) >= METRICS_CONNECTIONS_MAX ||
                (buf = calloc(1, sizeof *buf)) == NULL) {
                s_send_close(self, zframe_data(idf), zframe_size(idf), NULL, 0);
                zmsg_destroy(&msg);
                continue;
            }
            strbuf_init(buf);
            zhash_insert(self->partial, key, buf);
            zhash_freefn(self->partial, key, NULL);
        }
        strbuf_append(buf, (const char *)zframe_data(data), zframe_size(data));
        if (strbuf_failed(buf) || buf->len > METRICS_REQUEST_MAX) {
            s_answer(self, zframe_data(idf), zframe_size(idf), 431,
                     "Request Header Fields Too Large", "text/plain", "", 0, false);
        } else if (strstr(buf->data, "\r\n\r\n") != NULL || strstr(buf->data, "\n\n") != NULL) {
            s_request(self, zframe_data(idf), zframe_size(idf), buf->data);
        } else {
            zmsg_destroy(&msg);
            continue; /* more to come */
        }
        strbuf_free(buf);
        free(buf);
        zhash_delete(self->partial, key);
        zmsg_destroy(&msg);
    }
}

/* ------------------------------------------------------------------ hooks */

void
broker_metrics_dispatched(broker_t *broker, const job_t *job)
{
    int64_t ms = broker->now - job->added_at;
    metrics_histogram_observe_us(&broker->counters.dispatch_latency,
                                 ms > 0 ? (uint64_t)ms * 1000 : 0);
}

void
broker_metrics_finished(broker_t *broker, const job_t *job)
{
    if (job->deadline == 0)
        return; /* dispatched by an earlier broker process: start unknown */
    int64_t ms = broker->now - (job->deadline - broker->job_deadline_ms);
    metrics_histogram_observe_us(&broker->counters.run_time, ms > 0 ? (uint64_t)ms * 1000 : 0);
}

void
broker_metrics_failed(broker_t *broker, const char *code)
{
    broker->counters.failures[profai_error_from_name(code)]++;
}

size_t
broker_worker_processes(const broker_t *broker)
{
    zhash_t *seen = zhash_new();
    size_t n = 0;
    for (worker_t *w = worker_registry_first(broker->workers); w != NULL;
         w = worker_registry_next(broker->workers, w)) {
        char host[WORKER_IDENTITY_HOST_MAX + 1], version[WORKER_IDENTITY_VERSION_MAX + 1];
        uint32_t pid = 0;
        char key[WORKER_IDENTITY_HOST_MAX + 16];
        if (seen == NULL ||
            worker_identity_parse(w->identity, w->identity_len, host, &pid, version) != 0) {
            n++; /* an identity of another format: a process of its own */
            continue;
        }
        snprintf(key, sizeof key, "%s;%" PRIu32, host, pid);
        if (zhash_lookup(seen, key) == NULL) {
            zhash_insert(seen, key, (void *)1);
            n++;
        }
    }
    zhash_destroy(&seen);
    return n;
}

/* ------------------------------------------------------------------ life */

broker_metrics_t *
broker_metrics_new(broker_t *broker, const char *endpoint, char *err, size_t err_size)
{
    broker_metrics_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    self->broker = broker;
    self->partial = zhash_new();
    self->stream = zsock_new(ZMQ_STREAM);
    if (self->partial == NULL || self->stream == NULL) {
        snprintf(err, err_size, "out of memory");
        broker_metrics_destroy(&self);
        return NULL;
    }
    zsock_set_linger(self->stream, 0);
    zsock_set_maxmsgsize(self->stream, METRICS_REQUEST_MAX);
    if (zsock_bind(self->stream, "%s", endpoint) < 0) {
        snprintf(err, err_size, "cannot bind the metrics endpoint %s: %s", endpoint,
                 zmq_strerror(errno));
        broker_metrics_destroy(&self);
        return NULL;
    }
    metrics_histogram_init(&broker->counters.dispatch_latency, metrics_bounds_job,
                           metrics_bounds_job_n);
    metrics_histogram_init(&broker->counters.run_time, metrics_bounds_job, metrics_bounds_job_n);
    return self;
}

void
broker_metrics_destroy(broker_metrics_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    broker_metrics_t *self = *self_p;
    if (self->partial != NULL) {
        for (strbuf_t *buf = zhash_first(self->partial); buf != NULL;
             buf = zhash_next(self->partial)) {
            strbuf_free(buf);
            free(buf);
        }
        zhash_destroy(&self->partial);
    }
    zsock_destroy(&self->stream);
    free(self);
    *self_p = NULL;
}

void *
broker_metrics_socket(broker_metrics_t *self)
{
    return zsock_resolve(self->stream);
}
