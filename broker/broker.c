/*
 * broker.c - see broker.h; the design is described in docs/broker.md.
 *
 * One thread, one zmq_poll loop over the ROUTER socket and the PostgreSQL socket. Each turn:
 * read up to ROUTER_BATCH messages, let the store read results (callbacks run here), run the
 * timers, dispatch queued jobs to idle workers, then flush the database writes queued during
 * the turn as one transaction. Nothing in the loop blocks.
 *
 * In memory: every unfinished job (small: ids, attempt, state, worker, latest progress) in a
 * hash by id, the FIFO queue of jobs waiting, the orphans (jobs 'running' in PostgreSQL when
 * this broker started, waiting for their worker to come back), and every worker in a hash by
 * ROUTER identity, idle ones in least-recently-used order. PostgreSQL is the truth: every
 * state change is a conditional UPDATE fenced by the job's attempt number.
 */
#include "broker.h"

#include "list.h"
#include "log.h"
#include "profai/proto.h"
#include "store.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Messages read from the ROUTER per loop turn, so timers and database results keep flowing
 * under load while each turn's writes still share one transaction. */
#define ROUTER_BATCH 1000
#define ROUTER_HWM 10000
#define ROUTER_MAXMSGSIZE (32 * 1024 * 1024 + 64 * 1024)
#define IDENTITY_MAX 255
#define WORKER_NAME_MAX 72
/* Progress is written at most this often per job; the latest value wins. */
#define PROGRESS_FLUSH_MS 500
/* Invalid messages are reported at most once per this interval. */
#define DROP_LOG_MS 1000
#define ERROR_TEXT_MAX 300

/* ------------------------------------------------------------------ statements */

/* The statements the broker runs in its loop (docs/database.md, "How the broker writes").
 * Parameters are text; every state change is conditional so that a statement sent again
 * after a reconnect changes nothing twice. */
static const store_stmt_t s_stmt_submit = {
    "submit",
    "WITH chk AS (SELECT EXISTS (SELECT 1 FROM blobs WHERE sha256 = $5) AS blob_ok,"
    "                    EXISTS (SELECT 1 FROM users WHERE id = $2::uuid) AS owner_ok),"
    "     ins AS (INSERT INTO jobs (id, owner_id, title, filename, blob_sha256, state, stage)"
    "             SELECT $1::uuid, $2::uuid, $3, $4, $5, 'queued', 'queued' FROM chk"
    "             WHERE chk.blob_ok AND chk.owner_ok RETURNING 1)"
    " SELECT chk.blob_ok, chk.owner_ok, (SELECT count(*) FROM ins) FROM chk",
    5, 0};
static const store_stmt_t s_stmt_dispatch = {
    "dispatch",
    "UPDATE jobs SET state = 'running', attempts = $2, worker = $3, stage = 'starting',"
    " progress = 0, started_at = coalesce(started_at, now()), retry_at = NULL,"
    " deadline_at = now() + $4::bigint * interval '1 millisecond', updated_at = now()"
    " WHERE id = $1 AND attempts = $2 - 1 AND state IN ('queued', 'running')",
    4, 0};
static const store_stmt_t s_stmt_fetch = {
    "fetch_pdf",
    "SELECT j.title, j.filename, j.blob_sha256, b.data FROM jobs j"
    " JOIN blobs b ON b.sha256 = j.blob_sha256 WHERE j.id = $1",
    1, 1};
static const store_stmt_t s_stmt_progress = {
    "progress",
    "UPDATE jobs SET progress = $3, stage = $4, updated_at = now()"
    " WHERE id = $1 AND attempts = $2 AND state = 'running'",
    4, 0};
static const store_stmt_t s_stmt_adopt = {"adopt",
                                          "UPDATE jobs SET worker = $3, updated_at = now()"
                                          " WHERE id = $1 AND attempts = $2 AND state = 'running'",
                                          3, 0};
static const store_stmt_t s_stmt_succeed = {
    "succeed",
    "WITH j AS (UPDATE jobs SET state = 'succeeded', progress = 100, stage = 'done',"
    "           course_id = $2, finished_at = now(), updated_at = now(), error_code = NULL,"
    "           error = NULL, retry_at = NULL, deadline_at = NULL"
    "           WHERE id = $1 AND attempts = $3 AND state = 'running'"
    "           RETURNING id, owner_id, title)"
    " INSERT INTO courses (id, job_id, owner_id, title, doc)"
    " SELECT $2, j.id, j.owner_id, j.title, $4::jsonb FROM j ON CONFLICT (job_id) DO NOTHING",
    4, 0};
static const store_stmt_t s_stmt_fail = {
    "fail",
    "UPDATE jobs SET state = 'failed', stage = 'failed', error_code = $3, error = $4,"
    " worker = NULL, retry_at = NULL, deadline_at = NULL, finished_at = now(),"
    " updated_at = now() WHERE id = $1 AND attempts = $2 AND state IN ('queued', 'running')",
    4, 0};
/* Back to 'queued' after a transient failure; $3 ms of back-off before the next dispatch
 * (0: at once, retry_at NULL). */
static const store_stmt_t s_stmt_requeue = {
    "requeue",
    "UPDATE jobs SET state = 'queued', stage = 'queued', progress = 0, worker = NULL,"
    " retry_at = CASE WHEN $3::bigint > 0 THEN now() + $3::bigint * interval '1 millisecond'"
    " END, deadline_at = NULL, updated_at = now()"
    " WHERE id = $1 AND attempts = $2 AND state = 'running'",
    3, 0};
/* Cancel the owner's job if it has not ended: one row (its state before, 1 if cancelled now)
 * or none (no such job of this owner). 'cancelled' is final: every other statement's
 * condition excludes it. */
static const store_stmt_t s_stmt_cancel = {
    "cancel",
    "WITH target AS (SELECT id, state FROM jobs WHERE id = $1::uuid AND owner_id = $2::uuid),"
    "     done AS (UPDATE jobs j SET state = 'cancelled', stage = 'cancelled', worker = NULL,"
    "              retry_at = NULL, deadline_at = NULL, finished_at = now(), updated_at = now()"
    "              FROM target WHERE j.id = target.id AND j.state IN ('queued', 'running')"
    "              RETURNING j.id)"
    " SELECT target.state, (SELECT count(*) FROM done) FROM target",
    2, 0};
/* Unfinished jobs with the ms left before their retry (queued; 0 when due) and their deadline
 * (running; -1 when none is recorded), computed by the database so that the broker's clock
 * does not matter. */
static const store_stmt_t s_stmt_unfinished = {
    "unfinished",
    "SELECT id, owner_id, state, attempts,"
    " greatest(0, ceil(extract(epoch FROM retry_at - now()) * 1000))::bigint,"
    " CASE WHEN deadline_at IS NULL THEN -1"
    "      ELSE greatest(0, ceil(extract(epoch FROM deadline_at - now()) * 1000))::bigint END"
    " FROM jobs WHERE state IN ('queued', 'running') ORDER BY created_at",
    0, 0};

static const store_stmt_t *const s_statements[] = {
    &s_stmt_submit,  &s_stmt_dispatch, &s_stmt_fetch,   &s_stmt_progress, &s_stmt_adopt,
    &s_stmt_succeed, &s_stmt_fail,     &s_stmt_requeue, &s_stmt_cancel,   &s_stmt_unfinished};

/* ------------------------------------------------------------------ types */

/* A job in memory (finished jobs leave memory; docs/jobs.md draws the whole life of a job).
 *   QUEUED:      in the queue, waiting for an idle worker.
 *   WAITING:     a transient failure: 'queued' in PostgreSQL with retry_at; not dispatched
 *                before its back-off has passed (in the waiting list, earliest first).
 *   DISPATCHING: a worker is reserved; the dispatch UPDATE or the PDF read is in flight.
 *   RUNNING:     REQUEST sent; the worker holds the job until its deadline at most.
 *   ORPHANED:    'running' in PostgreSQL when this broker started (or reconnected) with no
 *                worker known; its worker may come back with a result until the grace ends. */
typedef enum {
    JOB_QUEUED,
    JOB_WAITING,
    JOB_DISPATCHING,
    JOB_RUNNING,
    JOB_ORPHANED,
} job_state_t;

static const char *const s_job_state_names[] = {"queued", "waiting", "dispatching", "running",
                                                "orphaned"};

/* Why an attempt ended without a result. Every kind is transient: retried with back-off up to
 * max_attempts. The worker's deterministic refusals (not_pdf, encrypted, ...) are not here:
 * they fail the job at once. */
typedef enum {
    FAILURE_LOST,    /* worker died, went silent, handed the job back, broke the protocol */
    FAILURE_CRASHED, /* parser_crashed */
    FAILURE_TIMEOUT, /* the worker's time limit, or the broker's job deadline */
    FAILURE_INTERNAL /* internal, reported by the worker (e.g. it could not start a parser) */
} failure_t;

/* A worker connection, keyed by ROUTER identity (gone workers leave memory).
 *   IDLE:     ready; in the idle list, least recently used first.
 *   RESERVED: a job is being prepared for it (dispatch UPDATE, PDF read).
 *   BUSY:     REQUEST sent; the worker is running the job.
 *   UNSERVED: ready for a service this broker has no jobs for: heartbeats only. */
typedef enum {
    WORKER_IDLE,
    WORKER_RESERVED,
    WORKER_BUSY,
    WORKER_UNSERVED,
} worker_state_t;

static const char *const s_worker_state_names[] = {"idle", "reserved", "busy", "unserved"};

typedef struct worker_t worker_t;

typedef struct {
    char id[PROTO_UUID_LEN + 1]; /* hash key */
    char owner[PROTO_UUID_LEN + 1];
    uint32_t attempts; /* dispatches so far; the current token's attempt */
    job_state_t state;
    worker_t *worker;        /* DISPATCHING, RUNNING */
    list_node_t node;        /* queue (QUEUED), waiting (WAITING) or orphans (ORPHANED) */
    int64_t orphan_deadline; /* ORPHANED: requeue then */
    int64_t retry_due;       /* WAITING: may be dispatched from then on */
    int64_t deadline;        /* RUNNING, ORPHANED: stopped on its worker then (0: none known) */
    /* Failed attempts seen by this broker process, by kind: for the final error message. */
    uint32_t lost, crashed, timed_out, internal;
    bool progress_dirty; /* progress not written yet */
    uint8_t progress;
    char stage[PROTO_STAGE_MAX + 1];
} job_t;

struct worker_t {
    char key[2 * IDENTITY_MAX + 1]; /* hex of the ROUTER identity: hash key */
    zframe_t *identity;
    char name[WORKER_NAME_MAX + 1]; /* for logs and jobs.worker: short hex @ peer address */
    char service[PROTO_SERVICE_MAX + 1];
    worker_state_t state;
    job_t *job;            /* RESERVED, BUSY */
    list_node_t idle_node; /* in idle when IDLE */
    list_node_t all_node;  /* in workers_all always */
    int64_t expires_at;    /* dead when silent until then */
    int64_t last_sent;     /* last message sent to it */
};

struct broker_t {
    char *endpoint;
    char *conninfo;
    int heartbeat_ivl;
    int liveness;
    int max_attempts;
    int shutdown_timeout;
    int64_t retry_base_ms;
    int64_t retry_max_ms;
    int64_t job_deadline_ms;
    uint64_t rng; /* xorshift state for the back-off jitter */

    zsock_t *router;
    store_t *store;
    zhashx_t *jobs;    /* id -> job_t (not owned by the hash) */
    zhashx_t *workers; /* key -> worker_t (not owned by the hash) */
    list_t queue;      /* QUEUED jobs in dispatch order */
    list_t waiting;    /* WAITING jobs, earliest retry_due first */
    list_t orphans;    /* ORPHANED jobs, earliest deadline first */
    list_t idle;       /* IDLE workers, least recently used first */
    list_t workers_all;

    int64_t now;
    int64_t next_tick;     /* heartbeats, expiry, orphans */
    int64_t next_progress; /* progress flush */
    bool db_seen_up;       /* the store has been up once: later UPs are reconnects */
    bool stopping;

    int64_t drop_log_at; /* rate limit of invalid-message reports */
    unsigned dropped;
};

/* Context of a job operation (copied into the store's operation). */
typedef struct {
    char job_id[PROTO_UUID_LEN + 1];
    uint32_t attempt;
    char course_id[PROTO_UUID_LEN + 1];
    char worker[WORKER_NAME_MAX + 1];
} job_ctx_t;

/* Context of a cancellation: where the reply goes. */
typedef struct {
    uint8_t identity[IDENTITY_MAX];
    size_t identity_len;
    uint64_t rid;
    char job_id[PROTO_UUID_LEN + 1];
    char owner[PROTO_UUID_LEN + 1];
} cancel_ctx_t;

/* Context of a submission: where the reply goes. */
typedef struct {
    uint8_t identity[IDENTITY_MAX];
    size_t identity_len;
    uint64_t rid;
    char job_id[PROTO_UUID_LEN + 1];
    char owner[PROTO_UUID_LEN + 1];
} submit_ctx_t;

static void s_job_retry(broker_t *self, job_t *job, failure_t failure, const char *why);
static void s_worker_forget(broker_t *self, worker_t *worker, const char *why);
static void s_worker_remove(broker_t *self, worker_t *worker);
static void s_worker_release(broker_t *self, worker_t *worker);
static void s_send_disconnect(broker_t *self, zframe_t *identity);

/* ------------------------------------------------------------------ helpers */

static void
s_hex(const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
}

/* Report a dropped message, at most once per DROP_LOG_MS (a flood must not flood the log). */
static void
s_drop(broker_t *self, const char *what, const char *detail)
{
    self->dropped++;
    if (self->now < self->drop_log_at)
        return;
    log_warn("dropped invalid message: %s%s%s (%u dropped since last report)", what,
             detail != NULL ? ": " : "", detail != NULL ? detail : "", self->dropped);
    self->dropped = 0;
    self->drop_log_at = self->now + DROP_LOG_MS;
}

/* Copy text for the database: control characters become spaces (UTF-8 is kept as is). */
static void
s_clean_text(const char *in, char *out, size_t size)
{
    size_t i = 0;
    for (; in[i] != '\0' && i + 1 < size; i++) {
        unsigned char c = (unsigned char)in[i];
        out[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    out[i] = '\0';
}

/* A job error code from a worker, or "internal" when it is not a lower-case word. */
static const char *
s_clean_code(const char *code)
{
    if (code[0] < 'a' || code[0] > 'z')
        return "internal";
    for (const char *p = code; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return "internal";
    }
    return code;
}

static void
s_job_ctx(job_ctx_t *ctx, const job_t *job)
{
    memset(ctx, 0, sizeof *ctx);
    memcpy(ctx->job_id, job->id, sizeof ctx->job_id);
    ctx->attempt = job->attempts;
}

/* Queue a statement whose parameters are C strings. Returns the store's status. */
static store_status_t
s_submit(broker_t *self, const store_stmt_t *stmt, const char *const *values, int flags,
         store_done_fn *done, const void *ctx, size_t ctx_len)
{
    size_t lengths[STORE_MAX_PARAMS];
    for (int i = 0; i < stmt->nparams; i++)
        lengths[i] = strlen(values[i]);
    return store_submit(self->store, stmt, values, lengths, flags, done, ctx, ctx_len);
}

/* Queue a write that must happen (retried over reconnects); only memory exhaustion can
 * refuse it, and then the next broker start recovers the job from PostgreSQL. */
static void
s_submit_write(broker_t *self, const store_stmt_t *stmt, const char *const *values,
               store_done_fn *done, const void *ctx, size_t ctx_len)
{
    if (s_submit(self, stmt, values, 0, done, ctx, ctx_len) != STORE_OK)
        log_error("out of memory: cannot queue statement %s for job=%s", stmt->name, values[0]);
}

/* ------------------------------------------------------------------ jobs */

/* Every job state change goes through here; an impossible transition is a bug. */
static void
s_job_set_state(job_t *job, job_state_t next)
{
    bool ok = false;
    switch (next) {
    case JOB_QUEUED: /* a new attempt at once, or the back-off has passed */
        ok = job->state != JOB_QUEUED;
        break;
    case JOB_WAITING: /* an attempt failed: back-off */
        ok = job->state == JOB_DISPATCHING || job->state == JOB_RUNNING ||
             job->state == JOB_ORPHANED;
        break;
    case JOB_DISPATCHING:
        ok = job->state == JOB_QUEUED;
        break;
    case JOB_RUNNING:
        ok = job->state == JOB_DISPATCHING || job->state == JOB_ORPHANED;
        break;
    case JOB_ORPHANED:
        ok = false; /* jobs are born orphaned (at load), never become so */
        break;
    }
    if (!ok) {
        log_error("bug: job=%s cannot go from %s to %s", job->id, s_job_state_names[job->state],
                  s_job_state_names[next]);
        abort();
    }
    job->state = next;
}

/* Put a WAITING job into the waiting list, kept in retry_due order. Retries are few (only
 * failed attempts wait), so a walk from the tail, where new ones usually go, is enough. */
static void
s_waiting_insert(broker_t *self, job_t *job)
{
    list_node_t *at = list_last(&self->waiting);
    while (at != NULL && LIST_ENTRY(at, job_t, node)->retry_due > job->retry_due)
        at = list_prev(&self->waiting, at);
    if (at == NULL)
        list_push_front(&self->waiting, &job->node);
    else
        list_insert_between(&self->waiting, &job->node, at, at->next);
}

/* A job found unfinished in PostgreSQL (at start, or after a reconnect). QUEUED and WAITING
 * (retry_in_ms > 0) jobs join the queue or the waiting list, ORPHANED ones the orphans with
 * their grace; deadline_in_ms (< 0: unknown) is what remains of an orphan's deadline. */
static job_t *
s_job_new(broker_t *self, const char *id, const char *owner, uint32_t attempts, job_state_t state,
          int64_t retry_in_ms, int64_t deadline_in_ms)
{
    job_t *job = calloc(1, sizeof *job);
    if (job == NULL)
        return NULL;
    snprintf(job->id, sizeof job->id, "%s", id);
    snprintf(job->owner, sizeof job->owner, "%s", owner);
    job->attempts = attempts;
    job->state = state;
    if (zhashx_insert(self->jobs, job->id, job) != 0) {
        free(job);
        return NULL;
    }
    switch (state) {
    case JOB_QUEUED:
        list_push_back(&self->queue, &job->node);
        break;
    case JOB_WAITING:
        job->retry_due = self->now + retry_in_ms;
        s_waiting_insert(self, job);
        break;
    default:
        job->orphan_deadline = self->now + 2 * (int64_t)self->heartbeat_ivl * self->liveness;
        job->deadline = deadline_in_ms >= 0 ? self->now + deadline_in_ms : 0;
        list_push_back(&self->orphans, &job->node);
        break;
    }
    return job;
}

/* The job leaves memory (finished, or no longer runnable). Its worker must be detached. */
static void
s_job_free(broker_t *self, job_t *job)
{
    if (list_linked(&job->node)) {
        if (job->state == JOB_QUEUED)
            list_remove(&self->queue, &job->node);
        else if (job->state == JOB_WAITING)
            list_remove(&self->waiting, &job->node);
        else if (job->state == JOB_ORPHANED)
            list_remove(&self->orphans, &job->node);
    }
    zhashx_delete(self->jobs, job->id);
    free(job);
}

static job_t *
s_job_lookup(broker_t *self, const char *id)
{
    return (job_t *)zhashx_lookup(self->jobs, id);
}

static void
s_on_failed_committed(void *owner, void *ctx_p, PGresult *res, const char *error)
{
    (void)owner;
    job_ctx_t *ctx = ctx_p;
    if (error != NULL)
        log_error("cannot record failure of job=%s attempt=%" PRIu32 ": %s", ctx->job_id,
                  ctx->attempt, error);
    else if (strcmp(PQcmdTuples(res), "0") == 0)
        log_info("failure of job=%s attempt=%" PRIu32 " not recorded: attempt superseded",
                 ctx->job_id, ctx->attempt);
}

/* Record a failure of the job's current attempt (the caller frees the job if in memory). */
static void
s_job_record_failure(broker_t *self, const char *job_id, uint32_t attempt, const char *code,
                     const char *message)
{
    char attempts[16];
    snprintf(attempts, sizeof attempts, "%" PRIu32, attempt);
    const char *values[] = {job_id, attempts, code, message};
    job_ctx_t ctx = {0};
    snprintf(ctx.job_id, sizeof ctx.job_id, "%s", job_id);
    ctx.attempt = attempt;
    s_submit_write(self, &s_stmt_fail, values, s_on_failed_committed, &ctx, sizeof ctx);
}

/* Fail a job in memory whose worker is detached, and forget it. */
static void
s_job_fail(broker_t *self, job_t *job, const char *code, const char *message)
{
    log_warn("job failed job=%s attempt=%" PRIu32 " code=%s error=\"%s\"", job->id, job->attempts,
             code, message);
    s_job_record_failure(self, job->id, job->attempts, code, message);
    s_job_free(self, job);
}

/* Take a job out of memory whatever its state (it was cancelled, or PostgreSQL says it has
 * ended): a reserved worker is idle again, a busy one is told DISCONNECT (it kills the job
 * and reconnects) and forgotten. Nothing is written. */
static void
s_job_drop(broker_t *self, job_t *job)
{
    worker_t *worker = job->worker;
    if (job->state == JOB_DISPATCHING && worker != NULL) {
        s_worker_release(self, worker);
    } else if (job->state == JOB_RUNNING && worker != NULL) {
        worker->job = NULL;
        job->worker = NULL;
        log_info("worker told to drop its job worker=%s job=%s", worker->name, job->id);
        s_send_disconnect(self, worker->identity);
        s_worker_remove(self, worker);
    }
    s_job_free(self, job);
}

/* Milliseconds to wait before the attempt after failed attempt n (>= 1): retry_base_ms
 * doubling per attempt up to retry_max_ms, plus up to 10% of jitter so that jobs that failed
 * together (a worker crash) do not come back together. */
static int64_t
s_backoff_ms(broker_t *self, uint32_t n)
{
    int64_t delay = self->retry_base_ms;
    for (uint32_t i = 1; i < n && delay < self->retry_max_ms; i++)
        delay *= 2;
    if (delay > self->retry_max_ms)
        delay = self->retry_max_ms;
    self->rng ^= self->rng << 13;
    self->rng ^= self->rng >> 7;
    self->rng ^= self->rng << 17;
    int64_t jitter = delay / 10;
    return delay + (jitter > 0 ? (int64_t)(self->rng % (uint64_t)(jitter + 1)) : 0);
}

/* The error a teacher sees when the last attempt failed too: the code of that failure, and a
 * sentence counting the attempts that failed the same way (as seen by this broker process). */
static const char *
s_final_error(const job_t *job, failure_t failure, char *message, size_t size)
{
    static const struct {
        const char *code;
        const char *what;
    } kinds[] = {
        [FAILURE_LOST] = {"worker_lost", "The job lost its worker"},
        [FAILURE_CRASHED] = {"parser_crashed", "The PDF parser crashed"},
        [FAILURE_TIMEOUT] = {"timeout", "Reading this PDF took longer than allowed"},
        [FAILURE_INTERNAL] = {"internal", "The worker failed to process this PDF"},
    };
    uint32_t counts[] = {job->lost, job->crashed, job->timed_out, job->internal};
    uint32_t same = counts[failure];
    if (same >= job->attempts)
        snprintf(message, size, "%s on every one of %" PRIu32 " attempts; giving up.",
                 kinds[failure].what, job->attempts);
    else
        snprintf(message, size, "%s on %" PRIu32 " of %" PRIu32 " attempts; giving up.",
                 kinds[failure].what, same, job->attempts);
    return kinds[failure].code;
}

/* An attempt ended without a result (its worker, if any, is detached): the job fails for good
 * after max_attempts attempts; otherwise it goes back to the queue after a back-off (at once
 * the first time it loses a worker: the worker, not the job, is the likely culprit). */
static void
s_job_retry(broker_t *self, job_t *job, failure_t failure, const char *why)
{
    if (job->state == JOB_ORPHANED)
        list_remove(&self->orphans, &job->node);
    job->worker = NULL;
    job->deadline = 0;
    job->progress_dirty = false;
    uint32_t *count = failure == FAILURE_LOST      ? &job->lost
                      : failure == FAILURE_CRASHED ? &job->crashed
                      : failure == FAILURE_TIMEOUT ? &job->timed_out
                                                   : &job->internal;
    (*count)++;
    if (job->attempts >= (uint32_t)self->max_attempts) {
        char message[160];
        const char *code = s_final_error(job, failure, message, sizeof message);
        log_warn("job gave up after %" PRIu32 " attempts job=%s why=\"%s\"", job->attempts, job->id,
                 why);
        s_job_fail(self, job, code, message);
        return;
    }
    int64_t delay =
        failure == FAILURE_LOST && job->lost == 1 ? 0 : s_backoff_ms(self, job->attempts);
    if (delay == 0) {
        s_job_set_state(job, JOB_QUEUED);
        list_push_front(&self->queue, &job->node);
    } else {
        s_job_set_state(job, JOB_WAITING);
        job->retry_due = self->now + delay;
        s_waiting_insert(self, job);
    }
    log_info("job requeued job=%s attempt=%" PRIu32 " retry_in=%" PRId64 "ms why=\"%s\"", job->id,
             job->attempts, delay, why);
    char attempts[16], delay_ms[24];
    snprintf(attempts, sizeof attempts, "%" PRIu32, job->attempts);
    snprintf(delay_ms, sizeof delay_ms, "%" PRId64, delay);
    const char *values[] = {job->id, attempts, delay_ms};
    s_submit_write(self, &s_stmt_requeue, values, NULL, NULL, 0);
}

/* Move the jobs whose back-off has passed from the waiting list to the head of the queue,
 * earliest first: they are older than the jobs submitted meanwhile. */
static void
s_release_waiting(broker_t *self)
{
    list_node_t *last = NULL;
    for (list_node_t *node = list_first(&self->waiting);
         node != NULL && LIST_ENTRY(node, job_t, node)->retry_due <= self->now;
         node = list_next(&self->waiting, node))
        last = node;
    while (last != NULL) {
        list_node_t *prev = list_prev(&self->waiting, last);
        job_t *job = LIST_ENTRY(last, job_t, node);
        list_remove(&self->waiting, last);
        s_job_set_state(job, JOB_QUEUED);
        list_push_front(&self->queue, &job->node);
        log_debug("job back in the queue after its back-off job=%s attempt=%" PRIu32, job->id,
                  job->attempts);
        last = prev;
    }
}

/* An integer column of row i; def when NULL or not a number. */
static int64_t
s_column_int(PGresult *res, int i, int col, int64_t def)
{
    if (PQgetisnull(res, i, col))
        return def;
    char *end = NULL;
    long long v = strtoll(PQgetvalue(res, i, col), &end, 10);
    return end != NULL && *end == '\0' ? (int64_t)v : def;
}

/* Jobs 'queued' or 'running' in PostgreSQL that memory does not know yet: queued ones join
 * the queue (or wait for their retry_at), running ones become orphans. Used at start and after
 * every reconnect. Columns: s_stmt_unfinished. */
static int
s_jobs_adopt_rows(broker_t *self, PGresult *res)
{
    int nqueued = 0, nwaiting = 0, norphans = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *id = PQgetvalue(res, i, 0);
        const char *owner = PQgetvalue(res, i, 1);
        const char *state = PQgetvalue(res, i, 2);
        int64_t attempts = s_column_int(res, i, 3, -1);
        int64_t retry_in = s_column_int(res, i, 4, 0);
        int64_t deadline_in = s_column_int(res, i, 5, -1);
        if (!proto_is_uuid(id, strlen(id)) || !proto_is_uuid(owner, strlen(owner)) ||
            attempts < 0 || attempts > UINT32_MAX)
            continue;
        if (s_job_lookup(self, id) != NULL)
            continue;
        bool running = strcmp(state, "running") == 0;
        job_state_t initial = running ? JOB_ORPHANED : retry_in > 0 ? JOB_WAITING : JOB_QUEUED;
        job_t *job = s_job_new(self, id, owner, (uint32_t)attempts, initial, retry_in, deadline_in);
        if (job == NULL) {
            log_error("out of memory loading job=%s", id);
            return -1;
        }
        if (running) {
            norphans++;
            log_info("job orphaned job=%s attempt=%" PRIu32 " waiting %" PRId64
                     " ms for its worker",
                     id, job->attempts, job->orphan_deadline - self->now);
        } else if (initial == JOB_WAITING) {
            nwaiting++;
            log_info("job waiting for its retry job=%s attempt=%" PRIu32 " retry_in=%" PRId64 "ms",
                     id, job->attempts, retry_in);
        } else {
            nqueued++;
            log_debug("job loaded job=%s attempt=%" PRIu32, id, job->attempts);
        }
    }
    log_info("loaded %d queued, %d waiting and %d orphaned jobs (%zu unfinished in memory)",
             nqueued, nwaiting, norphans, zhashx_size(self->jobs));
    return 0;
}

static void
s_on_unfinished(void *owner, void *ctx, PGresult *res, const char *error)
{
    (void)ctx;
    broker_t *self = owner;
    if (error != NULL) {
        log_error("cannot reload unfinished jobs: %s", error);
        return;
    }
    if (s_jobs_adopt_rows(self, res) != 0)
        log_error("some unfinished jobs were not loaded; they run after the next start");
}

/* ------------------------------------------------------------------ workers */

static bool
s_worker_transition_ok(worker_state_t from, worker_state_t to)
{
    switch (to) {
    case WORKER_IDLE:
        return from == WORKER_RESERVED || from == WORKER_BUSY;
    case WORKER_RESERVED:
        return from == WORKER_IDLE;
    case WORKER_BUSY:
        return from == WORKER_RESERVED || from == WORKER_IDLE; /* IDLE: adopting an orphan */
    case WORKER_UNSERVED:
        return false; /* only at creation */
    }
    return false;
}

/* Every worker state change goes through here; it also keeps the idle list right: a worker
 * becoming IDLE goes to the tail (most recently used). */
static void
s_worker_set_state(broker_t *self, worker_t *worker, worker_state_t next)
{
    if (!s_worker_transition_ok(worker->state, next)) {
        log_error("bug: worker=%s cannot go from %s to %s", worker->name,
                  s_worker_state_names[worker->state], s_worker_state_names[next]);
        abort();
    }
    if (worker->state == WORKER_IDLE)
        list_remove(&self->idle, &worker->idle_node);
    worker->state = next;
    if (next == WORKER_IDLE)
        list_push_back(&self->idle, &worker->idle_node);
}

static worker_t *
s_worker_lookup(broker_t *self, zframe_t *identity)
{
    char key[2 * IDENTITY_MAX + 1];
    s_hex(zframe_data(identity), zframe_size(identity), key);
    return (worker_t *)zhashx_lookup(self->workers, key);
}

/* A new worker from a READY (or from a result for an orphan: then it starts as if READY).
 * peer_frame: any frame of its message, for the peer address. Takes nothing. */
static worker_t *
s_worker_new(broker_t *self, zframe_t *identity, zframe_t *peer_frame, const char *service)
{
    worker_t *worker = calloc(1, sizeof *worker);
    if (worker == NULL)
        return NULL;
    s_hex(zframe_data(identity), zframe_size(identity), worker->key);
    worker->identity = zframe_dup(identity);
    if (worker->identity == NULL || zhashx_insert(self->workers, worker->key, worker) != 0) {
        zframe_destroy(&worker->identity);
        free(worker);
        return NULL;
    }
    const char *peer = peer_frame != NULL ? zframe_meta(peer_frame, "Peer-Address") : NULL;
    size_t keylen = strlen(worker->key);
    snprintf(worker->name, sizeof worker->name, "%.16s%s@%s", worker->key, keylen > 16 ? "+" : "",
             peer != NULL ? peer : "?");
    snprintf(worker->service, sizeof worker->service, "%s", service);
    worker->expires_at = self->now + (int64_t)self->heartbeat_ivl * self->liveness;
    worker->last_sent = self->now;
    list_push_back(&self->workers_all, &worker->all_node);
    if (strcmp(service, PROTO_SERVICE_COURSE) == 0) {
        worker->state = WORKER_IDLE;
        list_push_back(&self->idle, &worker->idle_node);
    } else {
        worker->state = WORKER_UNSERVED;
    }
    return worker;
}

/* Send msg (taken) on the ROUTER; -1 when the peer is gone or at its high-water mark (the
 * socket never waits: SNDTIMEO 0, ROUTER_MANDATORY). Frames are sent with ZFRAME_REUSE and
 * the message destroyed here whatever happens, so nothing depends on how a czmq version
 * treats a message whose send failed (large frames are shared, not copied). */
static int
s_router_send(broker_t *self, zmsg_t **msg_p)
{
    int rc = 0;
    size_t left = zmsg_size(*msg_p);
    for (zframe_t *frame = zmsg_first(*msg_p); frame != NULL; frame = zmsg_next(*msg_p)) {
        left--;
        if (zframe_send(&frame, self->router, ZFRAME_REUSE | (left > 0 ? ZFRAME_MORE : 0)) != 0) {
            rc = -1;
            break;
        }
    }
    zmsg_destroy(msg_p);
    return rc;
}

/* Send msg to the worker (takes ownership). A failed send means the peer is gone or stuck at
 * its high-water mark: the caller must forget the worker. */
static int
s_worker_send(broker_t *self, worker_t *worker, zmsg_t **msg_p)
{
    if (*msg_p == NULL)
        return -1;
    zframe_t *identity = zframe_dup(worker->identity);
    if (identity == NULL) {
        zmsg_destroy(msg_p);
        return -1;
    }
    zmsg_prepend(*msg_p, &identity);
    if (s_router_send(self, msg_p) != 0)
        return -1;
    worker->last_sent = self->now;
    return 0;
}

/* Send DISCONNECT to an identity we do not (or no longer) know; best effort. */
static void
s_send_disconnect(broker_t *self, zframe_t *identity)
{
    zmsg_t *msg = mdpw_build_disconnect();
    zframe_t *copy = zframe_dup(identity);
    if (msg == NULL || copy == NULL) {
        zmsg_destroy(&msg);
        zframe_destroy(&copy);
        return;
    }
    zmsg_prepend(msg, &copy);
    s_router_send(self, &msg);
}

/* The worker leaves memory; its job, if any, must be detached by the caller. */
static void
s_worker_remove(broker_t *self, worker_t *worker)
{
    if (worker->state == WORKER_IDLE)
        list_remove(&self->idle, &worker->idle_node);
    list_remove(&self->workers_all, &worker->all_node);
    zhashx_delete(self->workers, worker->key);
    zframe_destroy(&worker->identity);
    free(worker);
}

/* Forget a worker (gone, expired, or rejected); its job is retried (a lost worker). */
static void
s_worker_forget(broker_t *self, worker_t *worker, const char *why)
{
    job_t *job = worker->job;
    log_info("worker gone worker=%s state=%s why=\"%s\"%s%s", worker->name,
             s_worker_state_names[worker->state], why, job != NULL ? " job=" : "",
             job != NULL ? job->id : "");
    char reason[160];
    snprintf(reason, sizeof reason, "worker %s: %s", worker->name, why);
    worker->job = NULL;
    s_worker_remove(self, worker);
    if (job != NULL)
        s_job_retry(self, job, FAILURE_LOST, reason);
}

/* The worker broke the protocol: tell it (it reconnects with a fresh socket) and forget it. */
static void
s_worker_reject(broker_t *self, worker_t *worker, const char *why)
{
    s_send_disconnect(self, worker->identity);
    s_worker_forget(self, worker, why);
}

/* Detach the worker's job (the caller decides the job's fate) and make it IDLE. */
static void
s_worker_release(broker_t *self, worker_t *worker)
{
    if (worker->job != NULL) {
        worker->job->worker = NULL;
        worker->job = NULL;
    }
    s_worker_set_state(self, worker, WORKER_IDLE);
}

/* ------------------------------------------------------------------ clients */

static void
s_client_send(broker_t *self, const uint8_t *identity, size_t identity_len, const char *service,
              proto_buf_t *body)
{
    zmsg_t *msg = mdpc_build(MDPC_FINAL, service, body->data, body->size);
    proto_buf_free(body);
    if (msg == NULL || zmsg_pushmem(msg, identity, identity_len) != 0) {
        zmsg_destroy(&msg);
        log_error("out of memory building a reply on service %s", service);
        return;
    }
    if (s_router_send(self, &msg) != 0)
        log_debug("client gone, reply on %s dropped: %s", service, zmq_strerror(errno));
}

static void
s_client_error(broker_t *self, const uint8_t *identity, size_t identity_len, const char *service,
               uint64_t rid, const char *code, const char *detail)
{
    proto_buf_t body = {0};
    if (proto_error_reply_encode(rid, code, detail, &body) != 0) {
        log_error("cannot encode error reply %s", code);
        return;
    }
    s_client_send(self, identity, identity_len, service, &body);
}

/* Refuse a client REQUEST whose body did not decode (`what` names it in the log; NULL: no
 * log line): the error reply carries whatever rid can be read from the body. */
static void
s_client_refuse(broker_t *self, zframe_t *identity, const mdpc_view_t *view, const char *what,
                const char *code, const char *detail)
{
    if (what != NULL)
        log_info("%s refused code=%s detail=\"%s\"", what, code, detail);
    s_client_error(self, zframe_data(identity), zframe_size(identity), view->service,
                   proto_peek_rid(view->body, view->body_len), code, detail);
}

/* Answer a fail-fast write the store did not take (st is not STORE_OK): the database is down
 * (`nothing` says what was left undone) or the write queue is full. */
static void
s_client_store_refusal(broker_t *self, const uint8_t *identity, size_t identity_len,
                       const char *service, uint64_t rid, store_status_t st, const char *nothing)
{
    char detail[128];
    if (st == STORE_DOWN) {
        snprintf(detail, sizeof detail, "the database is unavailable; %s; retry later", nothing);
        s_client_error(self, identity, identity_len, service, rid, "db_unavailable", detail);
    } else {
        s_client_error(self, identity, identity_len, service, rid, "overloaded",
                       "the broker's write queue is full; retry later");
    }
}

static void
s_on_submitted(void *owner, void *ctx_p, PGresult *res, const char *error)
{
    broker_t *self = owner;
    submit_ctx_t *ctx = ctx_p;
    if (error != NULL) {
        log_warn("submission not confirmed job=%s owner=%s: %s", ctx->job_id, ctx->owner, error);
        s_client_error(self, ctx->identity, ctx->identity_len, PROTO_SERVICE_SUBMIT, ctx->rid,
                       "db_unavailable", "the database did not confirm the job; retry later");
        return;
    }
    bool blob_ok = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    bool owner_ok = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    bool inserted = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 2), "1") == 0;
    if (!inserted) {
        const char *code = !owner_ok ? "unknown_owner" : !blob_ok ? "unknown_blob" : "bad_request";
        log_info("submission refused owner=%s code=%s", ctx->owner, code);
        s_client_error(self, ctx->identity, ctx->identity_len, PROTO_SERVICE_SUBMIT, ctx->rid, code,
                       !owner_ok  ? "no such user"
                       : !blob_ok ? "no stored PDF has this sha256"
                                  : "the job was not created");
        return;
    }
    if (s_job_new(self, ctx->job_id, ctx->owner, 0, JOB_QUEUED, 0, -1) == NULL)
        log_error("out of memory: job=%s stays queued in the database until the next start",
                  ctx->job_id);
    else
        log_info("job queued job=%s owner=%s", ctx->job_id, ctx->owner);
    proto_submitted_t reply = {.rid = ctx->rid, .ok = true};
    memcpy(reply.job_id, ctx->job_id, sizeof reply.job_id);
    snprintf(reply.state, sizeof reply.state, "queued");
    proto_buf_t body = {0};
    proto_error_t perr;
    if (proto_submitted_encode(&reply, &body, &perr) != 0) {
        log_error("cannot encode SUBMITTED: %s", perr.detail);
        return;
    }
    s_client_send(self, ctx->identity, ctx->identity_len, PROTO_SERVICE_SUBMIT, &body);
}

static void
s_on_submit(broker_t *self, zframe_t *identity, const mdpc_view_t *view)
{
    const uint8_t *id = zframe_data(identity);
    size_t id_len = zframe_size(identity);
    proto_submit_t submit;
    proto_error_t perr;
    if (proto_submit_decode(view->body, view->body_len, &submit, &perr) != 0) {
        s_client_refuse(self, identity, view, "submission", perr.code, perr.detail);
        return;
    }
    submit_ctx_t ctx = {.identity_len = id_len, .rid = submit.rid};
    memcpy(ctx.identity, id, id_len);
    memcpy(ctx.owner, submit.owner, sizeof ctx.owner);
    zuuid_t *uuid = zuuid_new();
    if (uuid == NULL) {
        s_client_error(self, id, id_len, view->service, submit.rid, "overloaded", "out of memory");
        return;
    }
    snprintf(ctx.job_id, sizeof ctx.job_id, "%s", zuuid_str_canonical(uuid));
    zuuid_destroy(&uuid);
    const char *values[] = {ctx.job_id, submit.owner, submit.title, submit.filename, submit.sha256};
    store_status_t st =
        s_submit(self, &s_stmt_submit, values, STORE_FAIL_FAST, s_on_submitted, &ctx, sizeof ctx);
    if (st != STORE_OK)
        s_client_store_refusal(self, id, id_len, view->service, submit.rid, st,
                               "nothing was committed");
}

static void
s_on_ping(broker_t *self, zframe_t *identity, const mdpc_view_t *view)
{
    proto_ping_t ping;
    proto_error_t perr;
    if (proto_ping_decode(view->body, view->body_len, &ping, &perr) != 0) {
        s_client_refuse(self, identity, view, NULL, perr.code, perr.detail);
        return;
    }
    proto_pong_t pong = {
        .rid = ping.rid,
        .ok = true,
        .db = store_is_up(self->store),
        .workers = zhashx_size(self->workers),
        .queued = list_size(&self->queue) + list_size(&self->waiting),
        .running = zhashx_size(self->jobs) - list_size(&self->queue) - list_size(&self->waiting),
    };
    proto_buf_t body = {0};
    if (proto_pong_encode(&pong, &body, &perr) != 0) {
        log_error("cannot encode PONG: %s", perr.detail);
        return;
    }
    s_client_send(self, zframe_data(identity), zframe_size(identity), view->service, &body);
}

static void
s_cancel_reply(broker_t *self, const cancel_ctx_t *ctx, bool ok, const char *state,
               const char *code, const char *detail)
{
    proto_cancelled_t reply = {.rid = ctx->rid, .ok = ok};
    snprintf(reply.state, sizeof reply.state, "%s", state != NULL ? state : "");
    snprintf(reply.error_code, sizeof reply.error_code, "%s", code != NULL ? code : "");
    snprintf(reply.error, sizeof reply.error, "%s", detail != NULL ? detail : "");
    proto_buf_t body = {0};
    proto_error_t perr;
    if (proto_cancelled_encode(&reply, &body, &perr) != 0) {
        log_error("cannot encode CANCELLED: %s", perr.detail);
        return;
    }
    s_client_send(self, ctx->identity, ctx->identity_len, PROTO_SERVICE_CANCEL, &body);
}

/* The cancel statement committed (or failed: then nothing changed, memory included). Only now
 * does memory follow: whatever the job did meanwhile (dispatched, finished, failed), its own
 * writes come after the cancel's and find it 'cancelled'. */
static void
s_on_cancel_committed(void *owner, void *ctx_p, PGresult *res, const char *error)
{
    broker_t *self = owner;
    cancel_ctx_t *ctx = ctx_p;
    if (error != NULL) {
        log_warn("cancellation not confirmed job=%s owner=%s: %s", ctx->job_id, ctx->owner, error);
        s_client_error(self, ctx->identity, ctx->identity_len, PROTO_SERVICE_CANCEL, ctx->rid,
                       "db_unavailable", "the database did not confirm the cancellation; retry");
        return;
    }
    if (PQntuples(res) != 1) {
        log_info("cancellation refused job=%s owner=%s code=unknown_job", ctx->job_id, ctx->owner);
        s_cancel_reply(self, ctx, false, NULL, "unknown_job", "no such job of this owner");
        return;
    }
    const char *before = PQgetvalue(res, 0, 0);
    bool cancelled = strcmp(PQgetvalue(res, 0, 1), "1") == 0;
    job_t *job = s_job_lookup(self, ctx->job_id);
    if (job != NULL) {
        if (!cancelled)
            log_warn("job=%s was %s in the database but %s here; forgetting it", job->id, before,
                     s_job_state_names[job->state]);
        s_job_drop(self, job); /* a running job's worker is told to kill it */
    }
    if (!cancelled) {
        log_info("cancellation refused job=%s owner=%s code=already_final state=%s", ctx->job_id,
                 ctx->owner, before);
        s_cancel_reply(self, ctx, false, before, "already_final", "the job has already ended");
        return;
    }
    log_info("job cancelled job=%s owner=%s was=%s", ctx->job_id, ctx->owner, before);
    s_cancel_reply(self, ctx, true, "cancelled", NULL, NULL);
}

static void
s_on_cancel(broker_t *self, zframe_t *identity, const mdpc_view_t *view)
{
    const uint8_t *id = zframe_data(identity);
    size_t id_len = zframe_size(identity);
    proto_cancel_t cancel;
    proto_error_t perr;
    if (proto_cancel_decode(view->body, view->body_len, &cancel, &perr) != 0) {
        s_client_refuse(self, identity, view, "cancellation", perr.code, perr.detail);
        return;
    }
    cancel_ctx_t ctx = {.identity_len = id_len, .rid = cancel.rid};
    memcpy(ctx.identity, id, id_len);
    memcpy(ctx.job_id, cancel.job_id, sizeof ctx.job_id);
    memcpy(ctx.owner, cancel.owner, sizeof ctx.owner);
    job_t *job = s_job_lookup(self, cancel.job_id);
    if (job != NULL && strcmp(job->owner, cancel.owner) != 0) {
        log_info("cancellation refused job=%s owner=%s code=unknown_job (not the owner)",
                 cancel.job_id, cancel.owner);
        s_cancel_reply(self, &ctx, false, NULL, "unknown_job", "no such job of this owner");
        return;
    }
    /* Fail-fast: a cancellation is either confirmed now or refused with db_unavailable; it is
     * never left to replay later, when the caller has given up on it. */
    const char *values[] = {cancel.job_id, cancel.owner};
    store_status_t st = s_submit(self, &s_stmt_cancel, values, STORE_FAIL_FAST,
                                 s_on_cancel_committed, &ctx, sizeof ctx);
    if (st != STORE_OK)
        s_client_store_refusal(self, id, id_len, view->service, cancel.rid, st,
                               "nothing was changed");
}

static void
s_on_client_message(broker_t *self, zframe_t *identity, zmsg_t *msg)
{
    mdpc_view_t view;
    proto_error_t perr;
    if (mdpc_parse(msg, PROTO_CONTROL_BODY_MAX, &view, &perr) != 0) {
        s_drop(self, "invalid client message", perr.detail);
        return;
    }
    if (view.command != MDPC_REQUEST) {
        s_drop(self, "client message is not a REQUEST", NULL);
        return;
    }
    if (strcmp(view.service, PROTO_SERVICE_SUBMIT) == 0) {
        s_on_submit(self, identity, &view);
    } else if (strcmp(view.service, PROTO_SERVICE_PING) == 0) {
        s_on_ping(self, identity, &view);
    } else if (strcmp(view.service, PROTO_SERVICE_CANCEL) == 0) {
        s_on_cancel(self, identity, &view);
    } else {
        log_info("request for unknown service %s", view.service);
        s_client_refuse(self, identity, &view, NULL, "unknown_service", "no such service");
    }
}

/* ------------------------------------------------------------------ dispatch */

static void s_on_fetched(void *owner, void *ctx_p, PGresult *res, const char *error);

/* The job's dispatch fence (attempt) is committed, or it failed. */
static void
s_on_dispatched(void *owner, void *ctx_p, PGresult *res, const char *error)
{
    broker_t *self = owner;
    job_ctx_t *ctx = ctx_p;
    job_t *job = s_job_lookup(self, ctx->job_id);
    if (job == NULL || job->state != JOB_DISPATCHING || job->attempts != ctx->attempt)
        return; /* its worker vanished meanwhile: already requeued */
    worker_t *worker = job->worker;
    if (error != NULL || strcmp(PQcmdTuples(res), "0") == 0) {
        if (error != NULL)
            log_error("dispatch failed job=%s attempt=%" PRIu32 ": %s; left to the next start",
                      job->id, job->attempts, error);
        else
            log_info("job not runnable any more, dropped job=%s attempt=%" PRIu32, job->id,
                     job->attempts);
        s_worker_release(self, worker);
        s_job_free(self, job);
        return;
    }
    const char *values[] = {job->id};
    if (s_submit(self, &s_stmt_fetch, values, 0, s_on_fetched, ctx, sizeof *ctx) != STORE_OK) {
        log_error("out of memory reading the PDF of job=%s", job->id);
        s_worker_release(self, worker);
        s_job_retry(self, job, FAILURE_LOST, "out of memory");
    }
}

/* Copy a column of a one-row result into buf (size bytes, NUL-terminated); -1 if too long. */
static int
s_copy_column(PGresult *res, int col, char *buf, size_t size)
{
    size_t len = (size_t)PQgetlength(res, 0, col);
    if (len >= size)
        return -1;
    memcpy(buf, PQgetvalue(res, 0, col), len);
    buf[len] = '\0';
    return 0;
}

/* Encode the REQUEST for the job's current attempt from the fetched row. NULL on failure with
 * a reason in why. */
static zmsg_t *
s_build_request(const job_t *job, PGresult *res, const char **why)
{
    proto_job_t m = {0};
    memcpy(m.job_id, job->id, sizeof m.job_id);
    m.attempt = job->attempts;
    if (s_copy_column(res, 0, m.title, sizeof m.title) != 0 ||
        s_copy_column(res, 1, m.filename, sizeof m.filename) != 0 ||
        s_copy_column(res, 2, m.sha256, sizeof m.sha256) != 0) {
        *why = "the job's title, file name or hash is too long";
        return NULL;
    }
    m.pdf = (const uint8_t *)PQgetvalue(res, 0, 3);
    m.pdf_len = (size_t)PQgetlength(res, 0, 3);
    proto_buf_t body = {0};
    proto_error_t perr;
    if (proto_job_encode(&m, &body, &perr) != 0) {
        *why = "the job cannot be encoded (PDF too large?)";
        return NULL;
    }
    char token[PROTO_ADDRESS_MAX + 1];
    zmsg_t *msg = NULL;
    if (proto_token_format(job->id, job->attempts, token, sizeof token) == 0)
        msg = mdpw_build_job_message(MDPW_REQUEST, token, strlen(token), body.data, body.size);
    proto_buf_free(&body);
    if (msg == NULL)
        *why = "out of memory";
    return msg;
}

/* The PDF arrived: send the REQUEST if the worker is still reserved for this attempt. */
static void
s_on_fetched(void *owner, void *ctx_p, PGresult *res, const char *error)
{
    broker_t *self = owner;
    job_ctx_t *ctx = ctx_p;
    job_t *job = s_job_lookup(self, ctx->job_id);
    if (job == NULL || job->state != JOB_DISPATCHING || job->attempts != ctx->attempt)
        return; /* superseded: the worker vanished and the job went back to the queue */
    worker_t *worker = job->worker;
    if (self->stopping)
        return; /* left 'running' in PostgreSQL: the next broker recovers it as an orphan */
    if (error != NULL || PQntuples(res) != 1) {
        log_error("cannot read the PDF of job=%s: %s", job->id,
                  error != NULL ? error : "no such job or blob");
        s_worker_release(self, worker);
        s_job_fail(self, job, "internal", "The uploaded PDF could not be read.");
        return;
    }
    const char *why = NULL;
    zmsg_t *msg = s_build_request(job, res, &why);
    if (msg == NULL) {
        log_error("cannot build REQUEST for job=%s: %s", job->id, why);
        s_worker_release(self, worker);
        s_job_fail(self, job, "internal", "The job could not be sent to a worker.");
        return;
    }
    if (s_worker_send(self, worker, &msg) != 0) {
        s_worker_forget(self, worker, "unreachable");
        return;
    }
    s_job_set_state(job, JOB_RUNNING);
    s_worker_set_state(self, worker, WORKER_BUSY);
    job->deadline = self->now + self->job_deadline_ms;
    log_info("job dispatched job=%s attempt=%" PRIu32 " worker=%s", job->id, job->attempts,
             worker->name);
}

/* Give queued jobs to idle workers, least recently used first. The REQUEST follows once the
 * new attempt number is committed (s_on_dispatched, s_on_fetched). */
static void
s_dispatch(broker_t *self)
{
    if (self->stopping || !store_is_up(self->store))
        return;
    while (list_size(&self->queue) > 0 && list_size(&self->idle) > 0) {
        job_t *job = LIST_ENTRY(list_first(&self->queue), job_t, node);
        worker_t *worker = LIST_ENTRY(list_first(&self->idle), worker_t, idle_node);
        char attempts[16], deadline[24];
        snprintf(attempts, sizeof attempts, "%" PRIu32, job->attempts + 1);
        snprintf(deadline, sizeof deadline, "%" PRId64, self->job_deadline_ms);
        const char *values[] = {job->id, attempts, worker->name, deadline};
        job_ctx_t ctx;
        s_job_ctx(&ctx, job);
        ctx.attempt = job->attempts + 1;
        if (s_submit(self, &s_stmt_dispatch, values, 0, s_on_dispatched, &ctx, sizeof ctx) !=
            STORE_OK) {
            log_error("out of memory dispatching job=%s", job->id);
            return;
        }
        list_remove(&self->queue, &job->node);
        job->attempts++;
        s_job_set_state(job, JOB_DISPATCHING);
        job->worker = worker;
        worker->job = job;
        s_worker_set_state(self, worker, WORKER_RESERVED);
        log_debug("job dispatching job=%s attempt=%" PRIu32 " worker=%s", job->id, job->attempts,
                  worker->name);
    }
}

/* ------------------------------------------------------------------ worker messages */

/* Take over an orphan whose worker came back (a PARTIAL with its exact token). */
static void
s_job_adopt(broker_t *self, job_t *job, worker_t *worker)
{
    list_remove(&self->orphans, &job->node);
    s_job_set_state(job, JOB_RUNNING);
    if (job->deadline == 0) /* a job dispatched before deadlines were recorded */
        job->deadline = self->now + self->job_deadline_ms;
    job->worker = worker;
    worker->job = job;
    s_worker_set_state(self, worker, WORKER_BUSY);
    log_info("job adopted job=%s attempt=%" PRIu32 " worker=%s", job->id, job->attempts,
             worker->name);
    char attempts[16];
    snprintf(attempts, sizeof attempts, "%" PRIu32, job->attempts);
    const char *values[] = {job->id, attempts, worker->name};
    s_submit_write(self, &s_stmt_adopt, values, NULL, NULL, 0);
}

static void
s_on_partial(broker_t *self, zframe_t *identity, zmsg_t *msg, worker_t *worker,
             const mdpw_view_t *view)
{
    char job_id[PROTO_UUID_LEN + 1];
    uint32_t attempt;
    proto_progress_t progress;
    proto_error_t perr;
    if (proto_token_parse(view->address, view->address_len, job_id, &attempt) != 0 ||
        proto_progress_decode(view->body, view->body_len, &progress, &perr) != 0) {
        s_drop(self, "invalid PARTIAL from a worker", NULL);
        if (worker != NULL)
            s_worker_reject(self, worker, "invalid PARTIAL");
        else
            s_send_disconnect(self, identity);
        return;
    }
    job_t *job = s_job_lookup(self, job_id);
    bool current = job != NULL && job->attempts == attempt;
    if (current && job->state == JOB_ORPHANED) {
        if (worker == NULL) {
            worker = s_worker_new(self, identity, zmsg_first(msg), PROTO_SERVICE_COURSE);
            if (worker == NULL) {
                log_error("out of memory adopting job=%s", job_id);
                return;
            }
            log_info("worker ready worker=%s service=%s (came back with a job)", worker->name,
                     worker->service);
        }
        if (worker->state == WORKER_IDLE)
            s_job_adopt(self, job, worker);
    }
    if (current && job->state == JOB_RUNNING && job->worker == worker) {
        job->progress = (uint8_t)(progress.progress > 100 ? 100 : progress.progress);
        snprintf(job->stage, sizeof job->stage, "%s", progress.stage);
        job->progress_dirty = true;
        log_debug("job progress job=%s attempt=%" PRIu32 " progress=%u stage=%s page=%" PRIu32
                  "/%" PRIu32,
                  job->id, attempt, job->progress, job->stage, progress.page, progress.pages);
        return;
    }
    if (current && job->state == JOB_ORPHANED)
        return; /* its worker is busy with another job: wait for the FINAL */
    log_debug("ignoring stale progress job=%s attempt=%" PRIu32, job_id, attempt);
    if (worker == NULL)
        s_send_disconnect(self, identity);
    else if (worker->state == WORKER_BUSY)
        s_worker_reject(self, worker, "progress for a job it does not hold");
}

static void
s_on_succeeded(void *owner, void *ctx_p, PGresult *res, const char *error)
{
    broker_t *self = owner;
    job_ctx_t *ctx = ctx_p;
    if (error != NULL) {
        log_warn("course rejected by the database job=%s attempt=%" PRIu32 " worker=%s: %s",
                 ctx->job_id, ctx->attempt, ctx->worker, error);
        /* SQLSTATE class 22 (data exception): PostgreSQL refused the JSON itself. */
        const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        bool bad_document = state != NULL && strncmp(state, "22", 2) == 0;
        char clean[ERROR_TEXT_MAX];
        char message[ERROR_TEXT_MAX + 64];
        s_clean_text(error, clean, sizeof clean);
        snprintf(message, sizeof message, "%s: %s",
                 bad_document ? "The worker produced an invalid course document"
                              : "The course could not be stored",
                 clean);
        s_job_record_failure(self, ctx->job_id, ctx->attempt, "internal", message);
        return;
    }
    if (strcmp(PQcmdTuples(res), "0") == 0)
        log_info("result of job=%s attempt=%" PRIu32 " not recorded: attempt superseded",
                 ctx->job_id, ctx->attempt);
    else
        log_info("job succeeded job=%s attempt=%" PRIu32 " worker=%s course=%s", ctx->job_id,
                 ctx->attempt, ctx->worker, ctx->course_id);
}

/* Whether a worker's error code is transient (the attempt is retried), and which kind.
 * Anything else (not_pdf, encrypted, damaged, no_text, too_large, unknown codes) is
 * deterministic: another attempt would fail the same way. */
static bool
s_failure_of(const char *code, failure_t *failure)
{
    if (strcmp(code, "parser_crashed") == 0)
        *failure = FAILURE_CRASHED;
    else if (strcmp(code, "timeout") == 0)
        *failure = FAILURE_TIMEOUT;
    else if (strcmp(code, "internal") == 0)
        *failure = FAILURE_INTERNAL;
    else
        return false;
    return true;
}

/* Record the result of the job's current attempt: a course, a deterministic failure, or a
 * transient failure that is retried. The job leaves memory unless it is retried. */
static void
s_job_complete(broker_t *self, job_t *job, const proto_result_t *result, const char *worker_name)
{
    job_ctx_t ctx;
    s_job_ctx(&ctx, job);
    snprintf(ctx.worker, sizeof ctx.worker, "%s", worker_name);
    if (!result->ok) {
        char message[PROTO_ERROR_MAX + 1];
        const char *code = s_clean_code(result->error_code);
        s_clean_text(result->error, message, sizeof message);
        failure_t failure;
        if (s_failure_of(code, &failure)) {
            char why[PROTO_ERROR_MAX + 64];
            snprintf(why, sizeof why, "%s: %s", code, message);
            s_job_retry(self, job, failure, why);
        } else {
            s_job_fail(self, job, code, message);
        }
        return;
    }
    zuuid_t *uuid = zuuid_new();
    if (uuid == NULL) {
        s_job_retry(self, job, FAILURE_INTERNAL, "out of memory storing its result");
        return;
    }
    snprintf(ctx.course_id, sizeof ctx.course_id, "%s", zuuid_str_canonical(uuid));
    zuuid_destroy(&uuid);
    char attempts[16];
    snprintf(attempts, sizeof attempts, "%" PRIu32, job->attempts);
    const char *values[] = {job->id, ctx.course_id, attempts, (const char *)result->course};
    size_t lengths[] = {strlen(job->id), strlen(ctx.course_id), strlen(attempts),
                        result->course_len};
    if (store_submit(self->store, &s_stmt_succeed, values, lengths, STORE_ISOLATED, s_on_succeeded,
                     &ctx, sizeof ctx) != STORE_OK) {
        log_error("out of memory storing the course of job=%s; it runs again after a restart",
                  job->id);
    }
    log_debug("job result received job=%s attempt=%" PRIu32 " worker=%s", job->id, job->attempts,
              worker_name);
    s_job_free(self, job);
}

static void
s_on_final(broker_t *self, zframe_t *identity, zmsg_t *msg, worker_t *worker,
           const mdpw_view_t *view)
{
    char job_id[PROTO_UUID_LEN + 1];
    uint32_t attempt;
    proto_result_t result;
    proto_error_t perr;
    if (proto_token_parse(view->address, view->address_len, job_id, &attempt) != 0 ||
        proto_result_decode(view->body, view->body_len, &result, &perr) != 0) {
        s_drop(self, "invalid FINAL from a worker", perr.detail);
        if (worker != NULL)
            s_worker_reject(self, worker, "invalid FINAL");
        else
            s_send_disconnect(self, identity);
        return;
    }
    job_t *job = s_job_lookup(self, job_id);
    bool current = job != NULL && job->attempts == attempt;
    if (current && job->state == JOB_RUNNING && job->worker == worker) {
        s_worker_release(self, worker);
        s_job_complete(self, job, &result, worker->name);
        return;
    }
    if (current && job->state == JOB_ORPHANED) {
        /* A worker that finished while no broker was listening: the token proves it. After a
         * FINAL an MDP worker is ready, so an unknown sender becomes an idle worker. */
        if (worker == NULL) {
            worker = s_worker_new(self, identity, zmsg_first(msg), PROTO_SERVICE_COURSE);
            if (worker != NULL)
                log_info("worker ready worker=%s service=%s (came back with a result)",
                         worker->name, worker->service);
        }
        log_info("orphan result accepted job=%s attempt=%" PRIu32 " worker=%s", job->id, attempt,
                 worker != NULL ? worker->name : "?");
        s_job_complete(self, job, &result, worker != NULL ? worker->name : "?");
        return;
    }
    log_info("dropping late result job=%s attempt=%" PRIu32 " current=%" PRIu32, job_id, attempt,
             job != NULL ? job->attempts : 0);
    if (worker == NULL)
        s_send_disconnect(self, identity);
    else if (worker->state == WORKER_BUSY)
        s_worker_reject(self, worker, "result for a job it does not hold");
}

static void
s_on_ready(broker_t *self, zframe_t *identity, zmsg_t *msg, worker_t *worker,
           const mdpw_view_t *view)
{
    if (worker != NULL) {
        s_worker_reject(self, worker, "READY while already known");
        return;
    }
    worker = s_worker_new(self, identity, zmsg_first(msg), view->service);
    if (worker == NULL) {
        log_error("out of memory accepting a worker");
        s_send_disconnect(self, identity);
        return;
    }
    if (worker->state == WORKER_UNSERVED)
        log_warn("worker ready worker=%s service=%s: no jobs for this service here; it only "
                 "gets heartbeats",
                 worker->name, worker->service);
    else
        log_info("worker ready worker=%s service=%s", worker->name, worker->service);
}

static void
s_on_worker_message(broker_t *self, zframe_t *identity, zmsg_t *msg)
{
    mdpw_view_t view;
    proto_error_t perr;
    worker_t *worker = s_worker_lookup(self, identity);
    if (mdpw_parse(msg, PROTO_RESULT_BODY_MAX, &view, &perr) != 0) {
        s_drop(self, "invalid worker message", perr.detail);
        if (worker != NULL)
            s_worker_reject(self, worker, "invalid message");
        return;
    }
    if (worker != NULL && view.command != MDPW_DISCONNECT)
        worker->expires_at = self->now + (int64_t)self->heartbeat_ivl * self->liveness;
    switch (view.command) {
    case MDPW_READY:
        s_on_ready(self, identity, msg, worker, &view);
        break;
    case MDPW_PARTIAL:
        s_on_partial(self, identity, msg, worker, &view);
        break;
    case MDPW_FINAL:
        s_on_final(self, identity, msg, worker, &view);
        break;
    case MDPW_HEARTBEAT:
        /* While orphans wait, an unknown peer may be the worker of one whose connection
         * moved silently to this broker (ZeroMQ reconnects by itself): let it show the
         * token with its next PARTIAL rather than sending it away. */
        if (worker == NULL && list_size(&self->orphans) == 0)
            s_send_disconnect(self, identity);
        break;
    case MDPW_DISCONNECT:
        if (worker != NULL)
            s_worker_forget(self, worker, "disconnected");
        break;
    default: /* REQUEST goes broker -> worker only */
        if (worker != NULL)
            s_worker_reject(self, worker, "unexpected command");
        else
            s_send_disconnect(self, identity);
        break;
    }
}

/* ------------------------------------------------------------------ loop */

static void
s_on_message(broker_t *self, zmsg_t *msg)
{
    zframe_t *identity = zmsg_pop(msg);
    if (identity == NULL || zframe_size(identity) == 0 || zframe_size(identity) > IDENTITY_MAX) {
        s_drop(self, "message without a ROUTER identity", NULL);
        zframe_destroy(&identity);
        return;
    }
    switch (mdp_kind(msg)) {
    case 'W':
        s_on_worker_message(self, identity, msg);
        break;
    case 'C':
        s_on_client_message(self, identity, msg);
        break;
    default:
        s_drop(self, "neither MDPW02 nor MDPC02", NULL);
        break;
    }
    zframe_destroy(&identity);
}

static void
s_read_router(broker_t *self)
{
    for (int i = 0; i < ROUTER_BATCH; i++) {
        zmsg_t *msg = zmsg_recv(self->router); /* RCVTIMEO 0: NULL when nothing is left */
        if (msg == NULL)
            return;
        s_on_message(self, msg);
        zmsg_destroy(&msg);
    }
}

/* The job of a busy worker ran past its deadline: the worker is told DISCONNECT (it kills the
 * job and reconnects) and forgotten, and the attempt counts as a timeout. */
static void
s_job_stop_at_deadline(broker_t *self, worker_t *worker)
{
    job_t *job = worker->job;
    log_warn("job past its deadline job=%s attempt=%" PRIu32 " worker=%s deadline=%" PRId64
             "ms; stopping it",
             job->id, job->attempts, worker->name, self->job_deadline_ms);
    s_send_disconnect(self, worker->identity);
    worker->job = NULL;
    job->worker = NULL;
    s_worker_remove(self, worker);
    char why[96];
    snprintf(why, sizeof why, "ran past its deadline of %" PRId64 " ms", self->job_deadline_ms);
    s_job_retry(self, job, FAILURE_TIMEOUT, why);
}

/* Heartbeat every worker not sent anything for 3/4 of an interval (the tick runs every
 * quarter interval, so none waits longer than one); forget those silent for liveness
 * intervals; stop jobs past their deadline; requeue orphans whose grace expired. */
static void
s_tick(broker_t *self)
{
    int64_t quiet = (int64_t)self->heartbeat_ivl * 3 / 4;
    list_node_t *node = list_first(&self->workers_all);
    while (node != NULL) {
        list_node_t *next = list_next(&self->workers_all, node);
        worker_t *worker = LIST_ENTRY(node, worker_t, all_node);
        if (self->now >= worker->expires_at) {
            s_worker_forget(self, worker, "expired");
        } else if (worker->state == WORKER_BUSY && worker->job->deadline != 0 &&
                   self->now >= worker->job->deadline) {
            s_job_stop_at_deadline(self, worker);
        } else if (self->now - worker->last_sent >= quiet) {
            zmsg_t *msg = mdpw_build_heartbeat();
            if (s_worker_send(self, worker, &msg) != 0)
                s_worker_forget(self, worker, "unreachable");
        }
        node = next;
    }
    /* Orphans expire in list order; requeue the expired ones newest first, each to the head
     * of the queue, so that the oldest ends up first. */
    list_node_t *last = NULL;
    for (node = list_first(&self->orphans);
         node != NULL && LIST_ENTRY(node, job_t, node)->orphan_deadline <= self->now;
         node = list_next(&self->orphans, node))
        last = node;
    while (last != NULL) {
        list_node_t *prev = list_prev(&self->orphans, last);
        s_job_retry(self, LIST_ENTRY(last, job_t, node), FAILURE_LOST,
                    "orphan: no worker came back");
        last = prev;
    }
}

/* Write the latest progress of every running job that reported some. */
static void
s_flush_progress(broker_t *self)
{
    if (!store_is_up(self->store))
        return; /* kept in memory; written once the database is back */
    for (list_node_t *node = list_first(&self->workers_all); node != NULL;
         node = list_next(&self->workers_all, node)) {
        worker_t *worker = LIST_ENTRY(node, worker_t, all_node);
        job_t *job = worker->job;
        if (job == NULL || !job->progress_dirty)
            continue;
        char attempts[16], progress[8];
        snprintf(attempts, sizeof attempts, "%" PRIu32, job->attempts);
        snprintf(progress, sizeof progress, "%u", job->progress);
        const char *values[] = {job->id, attempts, progress, job->stage};
        s_submit_write(self, &s_stmt_progress, values, NULL, NULL, 0);
        job->progress_dirty = false;
    }
}

static void
s_run_timers(broker_t *self)
{
    s_release_waiting(self);
    if (self->now >= self->next_tick) {
        s_tick(self);
        int64_t step = self->heartbeat_ivl / 4 > 0 ? self->heartbeat_ivl / 4 : 1;
        self->next_tick = self->now + step;
    }
    if (self->now >= self->next_progress) {
        s_flush_progress(self);
        self->next_progress = self->now + PROGRESS_FLUSH_MS;
    }
}

static void
s_on_store_event(void *owner, store_event_t event, const char *detail)
{
    broker_t *self = owner;
    switch (event) {
    case STORE_EVENT_UP:
        log_info("database up");
        if (self->db_seen_up) {
            /* A submission whose commit was not confirmed may exist: look again. The query
             * runs after the writes still queued, so it sees them applied. */
            if (s_submit(self, &s_stmt_unfinished, NULL, 0, s_on_unfinished, NULL, 0) != STORE_OK)
                log_error("out of memory: cannot reload unfinished jobs");
        }
        self->db_seen_up = true;
        break;
    case STORE_EVENT_DOWN:
        log_error("database down: %s", detail);
        break;
    case STORE_EVENT_RETRY:
        log_warn("database unreachable: %s", detail);
        break;
    case STORE_EVENT_STALLED:
        log_warn("database refused a write: %s", detail);
        break;
    }
}

static int
s_timeout(broker_t *self)
{
    int64_t deadline =
        self->next_tick < self->next_progress ? self->next_tick : self->next_progress;
    list_node_t *first = list_first(&self->waiting);
    if (first != NULL && LIST_ENTRY(first, job_t, node)->retry_due < deadline)
        deadline = LIST_ENTRY(first, job_t, node)->retry_due;
    int64_t timeout = deadline > self->now ? deadline - self->now : 0;
    int64_t store_wait = store_timeout(self->store, self->now);
    if (store_wait >= 0 && store_wait < timeout)
        timeout = store_wait;
    return (int)timeout;
}

/* One turn of the loop: wait, read, let the store work, timers, dispatch, flush. */
static int
s_turn(broker_t *self, bool read_router)
{
    zmq_pollitem_t items[2] = {{zsock_resolve(self->router), 0, ZMQ_POLLIN, 0}};
    int n = 1;
    short events = 0;
    int fd = store_pollfd(self->store, &events);
    if (fd >= 0) {
        items[1] = (zmq_pollitem_t){NULL, fd, events, 0};
        n = 2;
    }
    self->now = zclock_mono();
    if (zmq_poll(read_router ? items : items + 1, read_router ? n : n - 1, s_timeout(self)) < 0) {
        if (errno == EINTR)
            return 0;
        log_error("zmq_poll failed: %s", zmq_strerror(errno));
        return -1;
    }
    self->now = zclock_mono();
    if (read_router && (items[0].revents & ZMQ_POLLIN))
        s_read_router(self);
    store_service(self->store, n == 2 ? items[1].revents : 0, self->now);
    s_run_timers(self);
    s_dispatch(self);
    store_flush(self->store);
    return 0;
}

int
broker_run(broker_t *self, volatile sig_atomic_t *stop)
{
    self->now = zclock_mono();
    self->next_tick = self->now;
    self->next_progress = self->now + PROGRESS_FLUSH_MS;
    log_info(
        "serving endpoint=%s heartbeat_ivl=%d liveness=%d max_attempts=%d retry_base_ms=%" PRId64
        " retry_max_ms=%" PRId64 " job_deadline_ms=%" PRId64,
        self->endpoint, self->heartbeat_ivl, self->liveness, self->max_attempts,
        self->retry_base_ms, self->retry_max_ms, self->job_deadline_ms);
    while (!*stop) {
        if (s_turn(self, true) != 0)
            return -1;
    }
    /* Stop taking work; let the writes already queued (results, requeues) commit. */
    self->stopping = true;
    s_flush_progress(self);
    store_flush(self->store);
    int64_t deadline = zclock_mono() + self->shutdown_timeout;
    while (store_pending(self->store) > 0 && store_is_up(self->store) && zclock_mono() < deadline) {
        if (s_turn(self, false) != 0)
            break;
    }
    if (store_pending(self->store) > 0)
        log_warn("stopping with %zu database writes not done; PostgreSQL keeps those jobs "
                 "'running' and the next broker recovers them",
                 store_pending(self->store));
    log_info("stopped (%zu unfinished jobs, %zu workers)", zhashx_size(self->jobs),
             zhashx_size(self->workers));
    return 0;
}

/* ------------------------------------------------------------------ lifecycle */

int
broker_load_jobs(broker_t *self, PGconn *conn, char *err, size_t err_size)
{
    self->now = zclock_mono();
    PGresult *res = PQexec(conn, s_stmt_unfinished.sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, err_size, "cannot load unfinished jobs: %s", PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    int rc = s_jobs_adopt_rows(self, res);
    PQclear(res);
    if (rc != 0)
        snprintf(err, err_size, "out of memory loading jobs");
    return rc;
}

broker_t *
broker_new(const broker_config_t *config, char *err, size_t err_size)
{
    broker_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    self->endpoint = strdup(config->endpoint);
    self->conninfo = strdup(config->conninfo != NULL ? config->conninfo : "");
    self->heartbeat_ivl = config->heartbeat_ivl;
    self->liveness = config->liveness;
    self->max_attempts = config->max_attempts;
    self->shutdown_timeout = config->shutdown_timeout;
    self->retry_base_ms = config->retry_base_ms;
    self->retry_max_ms = config->retry_max_ms;
    self->job_deadline_ms = config->job_deadline_ms;
    self->rng = (uint64_t)zclock_mono() * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    if (self->rng == 0)
        self->rng = 1;
    list_init(&self->queue);
    list_init(&self->waiting);
    list_init(&self->orphans);
    list_init(&self->idle);
    list_init(&self->workers_all);
    self->jobs = zhashx_new();
    self->workers = zhashx_new();
    self->router = zsock_new(ZMQ_ROUTER);
    self->store =
        store_new(self->conninfo, s_statements, sizeof s_statements / sizeof s_statements[0],
                  config->max_pending_writes, s_on_store_event, self);
    if (self->endpoint == NULL || self->conninfo == NULL || self->jobs == NULL ||
        self->workers == NULL || self->router == NULL || self->store == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    /* Keys point into the job / worker structs, which outlive their hash entries. */
    zhashx_set_key_duplicator(self->jobs, NULL);
    zhashx_set_key_destructor(self->jobs, NULL);
    zhashx_set_key_duplicator(self->workers, NULL);
    zhashx_set_key_destructor(self->workers, NULL);

    zsock_set_router_mandatory(self->router, 1);
    zsock_set_sndtimeo(self->router, 0);
    zsock_set_rcvtimeo(self->router, 0);
    zsock_set_maxmsgsize(self->router, ROUTER_MAXMSGSIZE);
    zsock_set_sndhwm(self->router, ROUTER_HWM);
    zsock_set_rcvhwm(self->router, ROUTER_HWM);
    zsock_set_linger(self->router, 0);
    if (zsock_bind(self->router, "%s", self->endpoint) < 0) {
        snprintf(err, err_size, "cannot bind %s: %s", self->endpoint, zmq_strerror(errno));
        goto fail;
    }
    return self;
fail:
    broker_destroy(&self);
    return NULL;
}

void
broker_destroy(broker_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    broker_t *self = *self_p;
    if (self->workers != NULL) {
        list_node_t *node;
        while ((node = list_first(&self->workers_all)) != NULL) {
            worker_t *worker = LIST_ENTRY(node, worker_t, all_node);
            list_remove(&self->workers_all, node);
            zframe_destroy(&worker->identity);
            free(worker);
        }
        zhashx_destroy(&self->workers);
    }
    if (self->jobs != NULL) {
        for (job_t *job = zhashx_first(self->jobs); job != NULL; job = zhashx_next(self->jobs))
            free(job);
        zhashx_destroy(&self->jobs);
    }
    store_destroy(&self->store);
    zsock_destroy(&self->router);
    free(self->endpoint);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}
