/*
 * broker.c - see broker.h; the design is described in docs/broker.md.
 *
 * The broker is one thread and one zmq_poll loop over the ROUTER socket and the PostgreSQL
 * sockets. Each turn: read up to ROUTER_BATCH messages, let the stores read results (callbacks
 * run here), run the timers, dispatch queued jobs to idle workers, then flush the database
 * writes queued during the turn as one transaction per store: the submission store (new jobs)
 * and the job store (everything else; docs/broker.md, "Submissions on a connection of their
 * own"). Nothing in the loop blocks. PostgreSQL is
 * the truth: every state change is a conditional UPDATE fenced by the job's attempt number.
 *
 * The broker's files, one concern each:
 *   main.c             options, configuration, signals, migrations, then broker_run
 *   broker.c           this file: the loop, the timers (heartbeats, expiry, deadlines,
 *                      orphans, back-offs, progress), start-up loading, lifecycle, and the
 *                      effects shared by the others (sends, writes, log lines;
 *                      broker_private.h)
 *   clients.c          the client services: job.submit, job.cancel, broker.ping
 *   dispatch.c         the worker side: dispatch (fence + PDF), READY/PARTIAL/FINAL/...
 *   job_table.c        unfinished jobs in memory: queue, waiting and orphan lists, the one
 *                      job state change, back-off (no I/O; tests/unit/test_job_table.c)
 *   fair_queue.c       which queued job goes next: owners in turn, each with its queue, an
 *                      optional cap per owner (no I/O; tests/unit/test_fair_queue.c)
 *   worker_registry.c  workers by ROUTER identity, idle order, liveness (no I/O;
 *                      tests/unit/test_worker_registry.c)
 *   sql.c              the loop's statements and typed readers of their results
 *   zap.c              CURVE: the ZAP handler, allow-lists of keys by role, their reload
 *                      (polled beside the ROUTER; each message's role checked in s_peer_allowed)
 *   job_secret.c       an attempt's secret (the end of its worker's token) and its SHA-256
 *   course_check.c     whether a worker's course document follows the course schema
 *   store.c            the asynchronous, pipelined, group-committed PostgreSQL connection;
 *                      two of them: the job store and the submission store
 *   store_ops.c        the store's operations and queues, gathered into multi-row statements
 *   blob_reader.c      dispatched jobs' PDFs, read on connections of their own (polled in
 *                      s_turn) so that no commit waits for PDF bytes
 *   pdf_cache.c        small PDFs by SHA-256, for REQUESTs sent before their dispatch commits
 *   job_id.c           random UUIDs for job and course ids (one getrandom per 32)
 *   dispatch_hold.c    early dispatches' writes held for their result (one update for both)
 *   blob_server.c      the blob endpoint: a thread from which workers fetch large PDFs in
 *                      chunks, so that their bytes never cross this loop
 *   search_indexer.c   new courses' search index, built on a connection of its own after
 *                      their commit (migrations 017, 024), woken by the job store's commit
 *                      of a course (dispatch.c), polled in s_turn
 *   pg_session.c       the non-blocking connection with back-off of blob_reader.c and
 *                      search_indexer.c
 *   pg_options.c       a connection's server settings: the store's, then the operator's
 *   migrate.c          schema migrations, run once at start
 *   leader.c           which broker leads: the lock session and the fencing epoch; the
 *                      store begins every transaction with the epoch's fence (store_set_fence)
 *   standby.c          the loop of a broker that does not lead yet: peers are sent away
 *   list.h             intrusive lists (used by job_table.c and worker_registry.c only)
 *   admin.c            the admin socket (docs/admin.md), polled beside the ROUTER in s_turn;
 *                      admin_sql.c its statements
 *   broker_metrics.c   the HTTP metrics endpoint (ZMQ_STREAM), polled in s_turn; it reads
 *                      broker_counters_t (broker_private.h) and the tables' counts
 */
#include "broker.h"

#include "admin.h"
#include "blob_reader.h"
#include "blob_server.h"
#include "broker_metrics.h"
#include "broker_private.h"
#include "dispatch_hold.h"
#include "leader.h"
#include "log.h"
#include "notify.h"
#include "pdf_cache.h"
#include "search_indexer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Messages read from the ROUTER per loop turn, so timers and database results keep flowing
 * under load while each turn's writes still share one transaction. */
#define ROUTER_BATCH 1000
/* Heartbeats sent per loop turn at most: with a thousand workers whose heartbeats fall due
 * together (after a restart), a turn sends a slice and the next turn, at once, the rest, so
 * that submissions and dispatches interleave with them. */
#define HEARTBEAT_BATCH 64
#define ROUTER_HWM 10000
#define ROUTER_MAXMSGSIZE (32 * 1024 * 1024 + 64 * 1024)
/* Progress is written at most this often per job; the latest value wins. */
#define PROGRESS_FLUSH_MS 500
/* Invalid messages are reported at most once per this interval. */
#define DROP_LOG_MS 1000

/* ------------------------------------------------------------------ effects */

void
broker_job_ctx(job_ctx_t *ctx, const job_t *job)
{
    memset(ctx, 0, sizeof *ctx);
    memcpy(ctx->job_id, job->id, sizeof ctx->job_id);
    ctx->attempt = job->attempts;
}

void
broker_drop(broker_t *self, const char *what, const char *detail)
{
    self->counters.dropped++;
    self->dropped++;
    if (self->now < self->drop_log_at)
        return;
    log_warn("dropped invalid message: %s%s%s (%u dropped since last report)", what,
             detail != NULL ? ": " : "", detail != NULL ? detail : "", self->dropped);
    self->dropped = 0;
    self->drop_log_at = self->now + DROP_LOG_MS;
}

/* Frames are sent with ZFRAME_REUSE and the message destroyed here whatever happens, so
 * nothing depends on how a czmq version treats a message whose send failed (large frames are
 * shared, not copied). */
int
broker_router_send(broker_t *self, zmsg_t **msg_p)
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

int
broker_worker_send(broker_t *self, worker_t *worker, zmsg_t **msg_p)
{
    if (*msg_p == NULL)
        return -1;
    if (zmsg_pushmem(*msg_p, worker->identity, worker->identity_len) != 0) {
        zmsg_destroy(msg_p);
        return -1;
    }
    if (broker_router_send(self, msg_p) != 0)
        return -1;
    worker_registry_sent(self->workers, worker, self->now);
    return 0;
}

void
broker_send_disconnect(broker_t *self, const uint8_t *identity, size_t identity_len)
{
    zmsg_t *msg = mdpw_build_disconnect();
    if (msg == NULL || zmsg_pushmem(msg, identity, identity_len) != 0) {
        zmsg_destroy(&msg);
        return;
    }
    broker_router_send(self, &msg);
}

bool
broker_db_up(const broker_t *self)
{
    return store_is_up(self->store) && store_is_up(self->submits);
}

size_t
broker_pending_writes(const broker_t *self)
{
    return store_pending(self->store) + store_pending(self->submits);
}

void
broker_write(broker_t *self, const store_stmt_t *stmt, const char *const *values,
             store_done_fn *done, const void *ctx, size_t ctx_len)
{
    dispatch_release_job(self, values[0]); /* its held dispatch first, if any */
    if (sql_submit(self->store, stmt, values, 0, done, ctx, ctx_len) != STORE_OK)
        log_error("out of memory: cannot queue statement %s for job=%s", stmt->name, values[0]);
}

static void
s_on_failed_committed(void *owner, void *ctx_p, PGresult *res, const char *error)
{
    (void)owner;
    job_ctx_t *ctx = ctx_p;
    if (error != NULL)
        log_error("cannot record failure of job=%s attempt=%" PRIu32 ": %s", ctx->job_id,
                  ctx->attempt, error);
    else if (!sql_write_applied(res))
        log_info("failure of job=%s attempt=%" PRIu32 " not recorded: attempt superseded",
                 ctx->job_id, ctx->attempt);
}

void
broker_job_record_failure(broker_t *self, const char *job_id, uint32_t attempt, const char *code,
                          const char *message)
{
    char attempts[16];
    snprintf(attempts, sizeof attempts, "%" PRIu32, attempt);
    const char *values[] = {job_id, attempts, code, message};
    job_ctx_t ctx = {0};
    snprintf(ctx.job_id, sizeof ctx.job_id, "%s", job_id);
    ctx.attempt = attempt;
    broker_write(self, &sql_stmt_fail, values, s_on_failed_committed, &ctx, sizeof ctx);
}

void
broker_job_fail(broker_t *self, job_t *job, const char *code, const char *message)
{
    log_warn("job failed job=%s attempt=%" PRIu32 " code=%s error=\"%s\"", job->id, job->attempts,
             code, message);
    self->counters.failed++;
    broker_metrics_failed(self, code);
    broker_job_record_failure(self, job->id, job->attempts, code, message);
    job_table_remove(self->jobs, &job);
}

void
broker_job_retry(broker_t *self, job_t *job, profai_error_t code, const char *why)
{
    int64_t delay = 0;
    if (job_table_retry(self->jobs, job, code, self->now, &delay) == JOB_RETRY_GIVE_UP) {
        char message[160];
        job_final_error(job, code, message, sizeof message);
        log_warn("job gave up after %" PRIu32 " attempts job=%s why=\"%s\"", job->attempts, job->id,
                 why);
        broker_job_fail(self, job, profai_error_name(code), message);
        return;
    }
    self->counters.retried++;
    self->counters.requeues[code < PROFAI_ERR_COUNT ? code : PROFAI_ERR_INTERNAL]++;
    log_info("job requeued job=%s attempt=%" PRIu32 " retry_in=%" PRId64 "ms why=\"%s\"", job->id,
             job->attempts, delay, why);
    char attempts[16], delay_ms[24];
    snprintf(attempts, sizeof attempts, "%" PRIu32, job->attempts);
    snprintf(delay_ms, sizeof delay_ms, "%" PRId64, delay);
    const char *values[] = {job->id, attempts, delay_ms, profai_error_name(code), why};
    broker_write(self, &sql_stmt_requeue, values, NULL, NULL, 0);
}

void
broker_job_drop(broker_t *self, job_t *job)
{
    worker_t *worker = job->worker;
    if (job->state == JOB_DISPATCHING && worker != NULL) {
        broker_worker_release(self, worker);
    } else if (job->state == JOB_RUNNING && worker != NULL) {
        worker->job = NULL;
        job->worker = NULL;
        log_info("worker told to drop its job worker=%s job=%s", worker->name, job->id);
        broker_send_disconnect(self, worker->identity, worker->identity_len);
        worker_registry_remove(self->workers, &worker);
    }
    job_table_remove(self->jobs, &job);
}

void
broker_worker_forget(broker_t *self, worker_t *worker, const char *why)
{
    job_t *job = worker->job;
    log_info("worker gone worker=%s state=%s why=\"%s\"%s%s", worker->name,
             worker_state_name(worker->state), why, job != NULL ? " job=" : "",
             job != NULL ? job->id : "");
    char reason[160];
    snprintf(reason, sizeof reason, "worker %s: %s", worker->name, why);
    worker->job = NULL;
    worker_registry_remove(self->workers, &worker);
    if (job != NULL)
        broker_job_retry(self, job, PROFAI_ERR_WORKER_LOST, reason);
}

void
broker_worker_reject(broker_t *self, worker_t *worker, const char *why)
{
    broker_send_disconnect(self, worker->identity, worker->identity_len);
    broker_worker_forget(self, worker, why);
}

void
broker_worker_release(broker_t *self, worker_t *worker)
{
    if (worker->job != NULL) {
        worker->job->worker = NULL;
        worker->job = NULL;
    }
    worker_registry_set_state(self->workers, worker,
                              worker->draining ? WORKER_UNSERVED : WORKER_IDLE);
    worker->state_since = self->now;
}

/* ------------------------------------------------------------------ unfinished jobs */

/* Jobs 'queued' or 'running' in PostgreSQL that memory does not know yet: queued ones join
 * the queue (or wait for their retry_at), running ones become orphans. Used at start and after
 * every reconnect. */
static int
s_jobs_adopt_rows(broker_t *self, PGresult *res)
{
    int nqueued = 0, nwaiting = 0, norphans = 0;
    for (int i = 0; i < sql_row_count(res); i++) {
        sql_unfinished_row_t row;
        if (!sql_read_unfinished(res, i, &row) || job_table_lookup(self->jobs, row.id) != NULL)
            continue;
        job_state_t initial = row.running           ? JOB_ORPHANED
                              : row.retry_in_ms > 0 ? JOB_WAITING
                                                    : JOB_QUEUED;
        job_t *job = job_table_add(self->jobs, row.id, row.owner, row.attempts, initial, self->now,
                                   row.retry_in_ms, row.deadline_in_ms);
        if (job == NULL) {
            log_error("out of memory loading job=%s", row.id);
            return -1;
        }
        if (row.running) {
            norphans++;
            memcpy(job->secret_sha256, row.token_sha256, sizeof job->secret_sha256);
            memcpy(job->worker_key, row.worker_key, sizeof job->worker_key);
            log_info("job orphaned job=%s attempt=%" PRIu32 " waiting %" PRId64
                     " ms for its worker",
                     row.id, job->attempts, job->orphan_deadline - self->now);
        } else if (initial == JOB_WAITING) {
            nwaiting++;
            log_info("job waiting for its retry job=%s attempt=%" PRIu32 " retry_in=%" PRId64 "ms",
                     row.id, job->attempts, row.retry_in_ms);
        } else {
            nqueued++;
            log_debug("job loaded job=%s attempt=%" PRIu32, row.id, job->attempts);
        }
    }
    log_info("loaded %d queued, %d waiting and %d orphaned jobs (%zu unfinished in memory)",
             nqueued, nwaiting, norphans, job_table_counts(self->jobs).total);
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

/* ------------------------------------------------------------------ loop */

/* With CURVE, a message passes only when the role of its sender's key, as the allow-lists
 * stand now, matches the side of the protocol it speaks (docs/protocol.md, "Security"): a
 * worker key speaks MDPW02 only, a frontend key MDPC02 only, a revoked key nothing. A refused
 * worker message gets DISCONNECT (a registered worker is forgotten and its job requeued); a
 * refused client REQUEST gets an error FINAL `forbidden`. Each refusal is logged with the key. */
static bool
s_peer_allowed(broker_t *self, zframe_t *identity, zmsg_t *msg, char kind, char *key)
{
    key[0] = '\0';
    if (self->zap == NULL || (kind != 'W' && kind != 'C'))
        return true;
    zap_role_t role = zap_peer_role(self->zap, zmsg_first(msg), key);
    zap_role_t needed = kind == 'W' ? ZAP_ROLE_WORKER : ZAP_ROLE_FRONTEND;
    if (role == needed)
        return true;
    char why[160];
    snprintf(why, sizeof why, "%s key sent %s",
             role == ZAP_ROLE_NONE ? "revoked" : zap_role_name(role),
             kind == 'W' ? "a worker message (MDPW02): DISCONNECT"
                         : "a client request (MDPC02): forbidden");
    zap_log_refusal(self->zap, key, kind == 'W' ? "MDPW02" : "MDPC02", why, self->now);
    self->counters.dropped++;
    if (kind == 'W') {
        worker_t *worker =
            worker_registry_lookup(self->workers, zframe_data(identity), zframe_size(identity));
        if (worker != NULL)
            broker_worker_reject(self, worker, "its key is not allowed to serve");
        else
            broker_send_disconnect(self, zframe_data(identity), zframe_size(identity));
    } else {
        clients_refuse(self, identity, msg, PROFAI_ERR_FORBIDDEN,
                       role == ZAP_ROLE_NONE ? "this key was revoked"
                                             : "a worker key may not use client services");
    }
    return false;
}

/* The allow-lists changed: workers whose key is no longer a worker key are told DISCONNECT
 * and forgotten at once, before a job can be dispatched to them (their jobs are requeued). */
static void
s_revoke_workers(broker_t *self)
{
    worker_t *worker = worker_registry_first(self->workers);
    while (worker != NULL) {
        worker_t *next = worker_registry_next(self->workers, worker);
        if (worker->curve_key[0] != '\0' &&
            !zap_key_allowed(self->zap, worker->curve_key, ZAP_ROLE_WORKER)) {
            zap_log_refusal(self->zap, worker->curve_key, "revoked",
                            "worker key revoked: DISCONNECT", self->now);
            broker_worker_reject(self, worker, "its key was revoked");
        }
        worker = next;
    }
}

static void
s_on_message(broker_t *self, zmsg_t *msg)
{
    self->counters.messages++;
    zframe_t *identity = zmsg_pop(msg);
    if (identity == NULL || zframe_size(identity) == 0 ||
        zframe_size(identity) > WORKER_IDENTITY_MAX) {
        broker_drop(self, "message without a ROUTER identity", NULL);
        zframe_destroy(&identity);
        return;
    }
    char kind = mdp_kind(msg);
    /* RFC 18: a registered worker that sends anything but MDPW02 is invalid; forget it (before
     * the role check, which would only refuse that one message). */
    worker_t *worker = kind == 'W' ? NULL
                                   : worker_registry_lookup(self->workers, zframe_data(identity),
                                                            zframe_size(identity));
    char key[CURVE_KEY_LEN + 1];
    if (worker != NULL) {
        broker_drop(self, "worker message without the MDPW02 header", NULL);
        broker_worker_reject(self, worker, "wrong protocol header");
    } else if (!s_peer_allowed(self, identity, msg, kind, key)) {
        /* refused and logged there */
    } else if (kind == 'W') {
        dispatch_on_worker_message(self, identity, msg);
        /* Remember the key of a worker (registered by this READY, or earlier), so that a
         * revocation finds it before it is sent a job (s_revoke_workers). */
        worker =
            worker_registry_lookup(self->workers, zframe_data(identity), zframe_size(identity));
        if (worker != NULL && worker->curve_key[0] == '\0' && key[0] != '\0')
            snprintf(worker->curve_key, sizeof worker->curve_key, "%s", key);
    } else if (kind == 'C') {
        clients_on_message(self, identity, msg);
    } else {
        broker_drop(self, "neither MDPW02 nor MDPC02", NULL);
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
    broker_send_disconnect(self, worker->identity, worker->identity_len);
    worker->job = NULL;
    job->worker = NULL;
    worker_registry_remove(self->workers, &worker);
    char why[96];
    snprintf(why, sizeof why, "ran past its deadline of %" PRId64 " ms", self->job_deadline_ms);
    broker_job_retry(self, job, PROFAI_ERR_TIMEOUT, why);
}

static void
s_on_orphan_expired(job_t *job, void *arg)
{
    broker_job_retry(arg, job, PROFAI_ERR_WORKER_LOST, "orphan: no worker came back");
}

static void
s_on_retry_due(job_t *job, void *arg)
{
    (void)arg;
    log_debug("job back in the queue after its back-off job=%s attempt=%" PRIu32, job->id,
              job->attempts);
}

/* Forget workers silent for liveness intervals; stop jobs past their deadline; requeue
 * orphans whose grace expired (newest first, each to the head of the queue, so that the
 * oldest ends up first). Every quarter interval. */
static void
s_tick(broker_t *self)
{
    worker_t *worker = worker_registry_first(self->workers);
    while (worker != NULL) {
        worker_t *next = worker_registry_next(self->workers, worker);
        if (worker_expired(worker, self->now)) {
            self->counters.expired++;
            broker_worker_forget(self, worker, "expired");
        } else if (worker->state == WORKER_BUSY && worker->job->deadline != 0 &&
                   self->now >= worker->job->deadline) {
            s_job_stop_at_deadline(self, worker);
        }
        worker = next;
    }
    job_table_expire_orphans(self->jobs, self->now, s_on_orphan_expired, self);
}

/* Heartbeat each worker sent nothing for 3/4 of an interval, when that falls due: the workers
 * wait in the order of their last message (worker_registry_quiet_first), so a turn looks at
 * those due only, and each worker keeps its own phase instead of all being sent theirs in
 * one burst per tick. HEARTBEAT_BATCH per turn at most. */
static void
s_heartbeat(broker_t *self)
{
    worker_t *worker;
    for (int i = 0; i < HEARTBEAT_BATCH; i++) {
        if ((worker = worker_registry_quiet_first(self->workers)) == NULL ||
            !worker_registry_heartbeat_due(self->workers, worker, self->now))
            return;
        zmsg_t *msg = mdpw_build_heartbeat();
        if (broker_worker_send(self, worker, &msg) != 0)
            broker_worker_forget(self, worker, "unreachable");
    }
}

/* Write the latest progress of every running job that reported some. */
static void
s_flush_progress(broker_t *self)
{
    if (!store_is_up(self->store))
        return; /* kept in memory; written once the database is back */
    for (worker_t *worker = worker_registry_first(self->workers); worker != NULL;
         worker = worker_registry_next(self->workers, worker)) {
        job_t *job = worker->job;
        if (job == NULL || !job->progress_dirty)
            continue;
        char attempts[16], progress[8];
        snprintf(attempts, sizeof attempts, "%" PRIu32, job->attempts);
        snprintf(progress, sizeof progress, "%u", job->progress);
        const char *values[] = {job->id, attempts, progress, job->stage};
        broker_write(self, &sql_stmt_progress, values, NULL, NULL, 0);
        job->progress_dirty = false;
    }
}

/* The lock session must still be ours; if not, another broker may lead already. */
static void
s_check_leadership(broker_t *self)
{
    if (self->leader == NULL || self->now < self->next_leader_check)
        return;
    char err[512];
    switch (leader_check(self->leader, self->epoch, err, sizeof err)) {
    case LEADER_HELD:
        break;
    case LEADER_RETAKEN:
        log_info("lock session restored epoch=%" PRId64 ": still leading", self->epoch);
        self->lockless = false;
        break;
    case LEADER_LOST:
        log_error("leadership lost epoch=%" PRId64 ": %s; stopping at once", self->epoch, err);
        self->deposed = true;
        return;
    case LEADER_UNKNOWN:
        /* Like a database outage: keep serving; if another broker takes over meanwhile, the
         * fence refuses this one's writes and the next check finds the lock taken. */
        if (!self->lockless)
            log_warn("lock session lost epoch=%" PRId64 ": %s; taking it again every %d ms",
                     self->epoch, err, self->lock_poll_ms);
        self->lockless = true;
        break;
    }
    self->now = zclock_mono(); /* the check is a round trip */
    self->next_leader_check = self->now + self->lock_poll_ms;
}

static void
s_run_timers(broker_t *self)
{
    s_check_leadership(self);
    if (self->zap != NULL && zap_reload_due(self->zap, self->now))
        s_revoke_workers(self);
    job_table_release_waiting(self->jobs, self->now, s_on_retry_due, self);
    s_heartbeat(self);
    if (self->now >= self->next_tick) {
        s_tick(self);
        int64_t step = self->heartbeat_ivl / 4 > 0 ? self->heartbeat_ivl / 4 : 1;
        self->next_tick = self->now + step;
    }
    (void)dispatch_release_due(self, self->now);
    if (self->now >= self->next_progress) {
        s_flush_progress(self);
        self->next_progress = self->now + PROGRESS_FLUSH_MS;
    }
}

/* A connection of a store changed (name: "jobs", "submissions" or "admin"); seen_up: whether
 * that store had been up before. */
static void
s_store_event(broker_t *self, const char *name, bool *seen_up, store_event_t event,
              const char *detail)
{
    switch (event) {
    case STORE_EVENT_UP:
        log_info("database up connection=%s", name);
        if (*seen_up && seen_up != &self->admin_seen_up) {
            /* A submission whose commit was not confirmed may exist: look again, on the job
             * store. There the query runs after the writes still queued, so it sees them
             * applied; a submission confirmed after it finds its job loaded (clients.c). */
            if (sql_submit(self->store, &sql_stmt_unfinished, NULL, 0, s_on_unfinished, NULL, 0) !=
                STORE_OK)
                log_error("out of memory: cannot reload unfinished jobs");
        }
        *seen_up = true;
        break;
    case STORE_EVENT_DOWN:
        log_error("database down connection=%s: %s", name, detail);
        break;
    case STORE_EVENT_RETRY:
        log_warn("database unreachable connection=%s: %s", name, detail);
        break;
    case STORE_EVENT_STALLED:
        log_warn("database refused a write connection=%s: %s", name, detail);
        break;
    case STORE_EVENT_FENCED:
        log_error("leadership lost epoch=%" PRId64 ": %s; stopping at once", self->epoch, detail);
        self->deposed = true;
        break;
    }
}

static void
s_on_store_event(void *owner, store_event_t event, const char *detail)
{
    broker_t *self = owner;
    s_store_event(self, "jobs", &self->db_seen_up, event, detail);
}

static void
s_on_submits_event(void *owner, store_event_t event, const char *detail)
{
    broker_t *self = owner;
    s_store_event(self, "submissions", &self->submits_seen_up, event, detail);
}

static void
s_on_admin_reads_event(void *owner, store_event_t event, const char *detail)
{
    broker_t *self = owner;
    s_store_event(self, "admin", &self->admin_seen_up, event, detail);
}

static void
s_on_blobs_event(void *owner, bool up, const char *detail)
{
    (void)owner;
    if (up)
        log_debug("PDF reader connected");
    else
        log_warn("PDF reader connection: %s (dispatched jobs wait for their PDF)", detail);
}

static void
s_on_indexer_event(void *owner, bool up, const char *detail)
{
    (void)owner;
    if (up)
        log_debug("search indexer connected");
    else
        log_warn("search indexer: %s (new courses wait to become searchable)", detail);
}

static int
s_timeout(broker_t *self)
{
    int64_t deadline =
        self->next_tick < self->next_progress ? self->next_tick : self->next_progress;
    if (self->zap != NULL && self->now + ZAP_RELOAD_MS < deadline)
        deadline = self->now + ZAP_RELOAD_MS;
    if (self->leader != NULL && self->next_leader_check < deadline)
        deadline = self->next_leader_check;
    worker_t *quiet = worker_registry_quiet_first(self->workers);
    if (quiet != NULL && worker_registry_heartbeat_at(self->workers, quiet) < deadline)
        deadline = worker_registry_heartbeat_at(self->workers, quiet);
    int64_t retry_due;
    if (job_table_next_retry(self->jobs, &retry_due) && retry_due < deadline)
        deadline = retry_due;
    int64_t hold_due;
    if (self->hold != NULL && dispatch_hold_next_due(self->hold, &hold_due) && hold_due < deadline)
        deadline = hold_due;
    int64_t timeout = deadline > self->now ? deadline - self->now : 0;
    int64_t store_wait = store_timeout(self->store, self->now);
    if (store_wait >= 0 && store_wait < timeout)
        timeout = store_wait;
    int64_t submits_wait = store_timeout(self->submits, self->now);
    if (submits_wait >= 0 && submits_wait < timeout)
        timeout = submits_wait;
    int64_t admin_wait = store_timeout(self->admin_reads, self->now);
    if (admin_wait >= 0 && admin_wait < timeout)
        timeout = admin_wait;
    int64_t blobs_wait = blob_reader_timeout(self->blobs, self->now);
    if (blobs_wait >= 0 && blobs_wait < timeout)
        timeout = blobs_wait;
    int64_t index_wait = search_indexer_timeout(self->indexer, self->now);
    if (index_wait >= 0 && index_wait < timeout)
        timeout = index_wait;
    return (int)timeout;
}

/* One turn of the loop: wait, read, let the store work, timers, dispatch, flush. */
static int
s_turn(broker_t *self, bool read_router)
{
    /* The ROUTER, the ZAP handler (CURVE), the admin socket and the metrics endpoint while
     * serving, then the three stores, the PDF readers and the indexer. */
    zmq_pollitem_t items[8 + BLOB_READER_MAX];
    int n = 0, zap_at = -1, admin_at = -1, metrics_at = -1, store_at = -1, submits_at = -1,
        reads_at = -1;
    if (read_router) {
        items[n++] = (zmq_pollitem_t){zsock_resolve(self->router), 0, ZMQ_POLLIN, 0};
        if (self->zap != NULL) {
            zap_at = n;
            items[n++] = (zmq_pollitem_t){zsock_resolve(zap_socket(self->zap)), 0, ZMQ_POLLIN, 0};
        }
        if (self->admin != NULL) {
            admin_at = n;
            items[n++] = (zmq_pollitem_t){admin_socket(self->admin), 0, ZMQ_POLLIN, 0};
        }
        if (self->metrics != NULL) {
            metrics_at = n;
            items[n++] = (zmq_pollitem_t){broker_metrics_socket(self->metrics), 0, ZMQ_POLLIN, 0};
        }
    }
    short events = 0;
    int fd = store_pollfd(self->store, &events);
    if (fd >= 0) {
        store_at = n;
        items[n++] = (zmq_pollitem_t){NULL, fd, events, 0};
    }
    if ((fd = store_pollfd(self->submits, &events)) >= 0) {
        submits_at = n;
        items[n++] = (zmq_pollitem_t){NULL, fd, events, 0};
    }
    if ((fd = store_pollfd(self->admin_reads, &events)) >= 0) {
        reads_at = n;
        items[n++] = (zmq_pollitem_t){NULL, fd, events, 0};
    }
    for (int i = 0; i < blob_reader_count(self->blobs); i++)
        if ((fd = blob_reader_pollfd(self->blobs, i, &events)) >= 0)
            items[n++] = (zmq_pollitem_t){NULL, fd, events, 0};
    if ((fd = search_indexer_pollfd(self->indexer, &events)) >= 0)
        items[n++] = (zmq_pollitem_t){NULL, fd, events, 0};
    self->now = zclock_mono();
    if (zmq_poll(items, n, notify_watchdog_cap(s_timeout(self))) < 0) {
        if (errno == EINTR)
            return 0;
        log_error("zmq_poll failed: %s", zmq_strerror(errno));
        return -1;
    }
    notify_watchdog(); /* systemd's WatchdogSec=: this loop still turns */
    self->now = zclock_mono();
    if (zap_at >= 0 && (items[zap_at].revents & ZMQ_POLLIN))
        zap_handle(self->zap, self->now);
    if (read_router && (items[0].revents & ZMQ_POLLIN))
        s_read_router(self);
    if (admin_at >= 0 && (items[admin_at].revents & ZMQ_POLLIN))
        admin_read(self->admin);
    if (metrics_at >= 0 && (items[metrics_at].revents & ZMQ_POLLIN))
        broker_metrics_read(self->metrics);
    store_service(self->submits, submits_at >= 0 ? items[submits_at].revents : 0, self->now);
    store_service(self->store, store_at >= 0 ? items[store_at].revents : 0, self->now);
    store_service(self->admin_reads, reads_at >= 0 ? items[reads_at].revents : 0, self->now);
    blob_reader_service(self->blobs, self->now);
    search_indexer_service(self->indexer, self->now);
    s_run_timers(self);
    dispatch_jobs(self);
    store_flush(self->submits);
    store_flush(self->store);
    store_flush(self->admin_reads);
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
        " retry_max_ms=%" PRId64 " job_deadline_ms=%" PRId64
        " max_queued_per_owner=%lld max_bytes_per_owner=%lld",
        self->endpoint, self->heartbeat_ivl, self->liveness, self->max_attempts,
        self->retry_base_ms, self->retry_max_ms, self->job_deadline_ms, self->max_queued_per_owner,
        self->max_bytes_per_owner);
    while (!*stop && !self->deposed) {
        if (s_turn(self, true) != 0)
            return -1;
    }
    if (self->deposed) {
        /* Nothing more may commit; what did not is in PostgreSQL's hands and the new
         * leader's. */
        log_info("stopped: no longer the leader (%zu unfinished jobs, %zu workers dropped)",
                 job_table_counts(self->jobs).total, worker_registry_size(self->workers));
        return 0;
    }
    /* Stop taking work; let the writes already queued (results, requeues) commit. */
    self->stopping = true;
    notify_stopping();
    (void)dispatch_release_due(self, INT64_MAX); /* jobs still running are 'running' */
    s_flush_progress(self);
    store_flush(self->submits);
    store_flush(self->store);
    store_flush(self->admin_reads);
    /* The admin reads too: a `profaictl jobs` sent before the SIGTERM gets its answer, not a
     * timeout. */
    int64_t deadline = zclock_mono() + self->shutdown_timeout;
    while (((store_pending(self->store) > 0 && store_is_up(self->store)) ||
            (store_pending(self->submits) > 0 && store_is_up(self->submits)) ||
            (store_pending(self->admin_reads) > 0 && store_is_up(self->admin_reads))) &&
           zclock_mono() < deadline) {
        if (s_turn(self, false) != 0)
            break;
    }
    if (broker_pending_writes(self) > 0)
        log_warn("stopping with %zu database writes not done; PostgreSQL keeps those jobs "
                 "'running' and the next broker recovers them",
                 broker_pending_writes(self));
    log_info("stopped (%zu unfinished jobs, %zu workers)", job_table_counts(self->jobs).total,
             worker_registry_size(self->workers));
    return 0;
}

/* ------------------------------------------------------------------ lifecycle */

int
broker_lead(broker_t *self, struct leader_t *leader, int64_t epoch, int lock_poll_ms)
{
    char value[24];
    snprintf(value, sizeof value, "%" PRId64, epoch);
    if (store_set_fence(self->store, &sql_stmt_fence, value) != 0 ||
        store_set_fence(self->submits, &sql_stmt_fence, value) != 0)
        return -1;
    self->leader = leader;
    self->epoch = epoch;
    self->lock_poll_ms = lock_poll_ms;
    self->next_leader_check = zclock_mono() + lock_poll_ms;
    return 0;
}

bool
broker_deposed(const broker_t *self)
{
    return self->deposed;
}

int
broker_load_jobs(broker_t *self, PGconn *conn, char *err, size_t err_size)
{
    self->now = zclock_mono();
    PGresult *res = PQexec(conn, sql_stmt_unfinished.sql);
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
    self->shutdown_timeout = config->shutdown_timeout;
    self->max_attempts = config->max_attempts;
    self->retry_base_ms = config->retry_base_ms;
    self->retry_max_ms = config->retry_max_ms;
    self->job_deadline_ms = config->job_deadline_ms;
    self->max_queued_per_owner = config->max_queued_per_owner;
    self->max_bytes_per_owner = config->max_bytes_per_owner;
    job_table_config_t jobs_config = {
        .max_attempts = config->max_attempts,
        .retry_base_ms = config->retry_base_ms,
        .retry_max_ms = config->retry_max_ms,
        /* An orphan's worker has two liveness periods to come back with its token. */
        .orphan_grace_ms = 2 * (int64_t)config->heartbeat_ivl * config->liveness,
        .max_running_per_owner = config->max_running_per_owner,
        .seed = (uint64_t)zclock_mono() * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid(),
    };
    self->jobs = job_table_new(&jobs_config);
    self->workers = worker_registry_new(config->heartbeat_ivl, config->liveness);
    self->router = zsock_new(ZMQ_ROUTER);
    self->store =
        store_new(self->conninfo, "profai-broker-jobs", sql_statements, sql_statement_count,
                  config->max_pending_writes, s_on_store_event, self);
    self->submits =
        store_new(self->conninfo, "profai-broker-submissions", sql_submit_statements,
                  sql_submit_statement_count, config->max_pending_writes, s_on_submits_event, self);
    self->admin_reads = store_new(self->conninfo, "profai-broker-admin", sql_admin_read_statements,
                                  sql_admin_read_statement_count, config->max_pending_writes,
                                  s_on_admin_reads_event, self);
    self->max_pending_writes = config->max_pending_writes;
    self->blobs = blob_reader_new(self->conninfo, config->pdf_readers > 0 ? config->pdf_readers : 2,
                                  dispatch_on_pdf, s_on_blobs_event, self);
    self->indexer = search_indexer_new(self->conninfo, s_on_indexer_event, self);
    self->pdfs = pdf_cache_new(); /* NULL: every REQUEST waits for its dispatch commit */
    self->dispatch_hold_ms = config->dispatch_hold_ms;
    if (config->dispatch_hold_ms > 0)
        self->hold = dispatch_hold_new(); /* NULL: every dispatch is written at once */
    if (self->endpoint == NULL || self->conninfo == NULL || self->jobs == NULL ||
        self->workers == NULL || self->router == NULL || self->store == NULL ||
        self->submits == NULL || self->admin_reads == NULL || self->blobs == NULL ||
        self->indexer == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    zsock_set_router_mandatory(self->router, 1);
    zsock_set_sndtimeo(self->router, 0);
    zsock_set_rcvtimeo(self->router, 0);
    zsock_set_maxmsgsize(self->router, ROUTER_MAXMSGSIZE);
    zsock_set_sndhwm(self->router, ROUTER_HWM);
    zsock_set_rcvhwm(self->router, ROUTER_HWM);
    zsock_set_linger(self->router, 0);
    if (config->curve.enabled) {
        /* The handler first: a CURVE socket with no ZAP handler accepts every key. */
        self->zap =
            zap_new(config->workers_dir, config->frontends_dir, config->admins_dir, err, err_size);
        if (self->zap == NULL)
            goto fail;
        curve_apply_server(&config->curve, self->router, ZAP_DOMAIN);
    }
    if (zsock_bind(self->router, "%s", self->endpoint) < 0) {
        snprintf(err, err_size, "cannot bind %s: %s", self->endpoint, zmq_strerror(errno));
        goto fail;
    }
    if (config->blob_endpoint != NULL && config->blob_endpoint[0] != '\0') {
        blob_server_config_t blob_config = {
            .endpoint = config->blob_endpoint,
            .conninfo = self->conninfo,
            .curve = &config->curve,
            .threads = config->blob_threads,
        };
        const char *connect = config->blob_connect != NULL && config->blob_connect[0] != '\0'
                                  ? config->blob_connect
                                  : config->blob_endpoint;
        self->blob_connect = strdup(connect);
        self->blob_server = blob_server_new(&blob_config, err, err_size);
        if (self->blob_server == NULL || self->blob_connect == NULL)
            goto fail;
        log_info("blob endpoint on %s: workers fetch PDFs of %d bytes or more from %s",
                 config->blob_endpoint, BLOB_READER_LARGE, self->blob_connect);
    }
    if (config->admin_endpoint != NULL && config->admin_endpoint[0] != '\0') {
        self->admin = admin_new(self, config->admin_endpoint, &config->curve, err, err_size);
        if (self->admin == NULL && !config->admin_optional)
            goto fail;
        if (self->admin == NULL)
            log_warn("no admin socket: %s (set admin/endpoint)", err);
    }
    if (config->metrics_endpoint != NULL && config->metrics_endpoint[0] != '\0') {
        self->metrics = broker_metrics_new(self, config->metrics_endpoint, err, err_size);
        if (self->metrics == NULL)
            goto fail;
        log_info("metrics on %s (GET /metrics)", config->metrics_endpoint);
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
    admin_destroy(&self->admin);
    broker_metrics_destroy(&self->metrics);
    worker_registry_destroy(&self->workers);
    job_table_destroy(&self->jobs);
    blob_reader_destroy(&self->blobs);
    pdf_cache_destroy(&self->pdfs);
    dispatch_hold_destroy(&self->hold);
    blob_server_destroy(&self->blob_server);
    free(self->blob_connect);
    search_indexer_destroy(&self->indexer);
    store_destroy(&self->store);
    store_destroy(&self->submits);
    store_destroy(&self->admin_reads);
    zsock_destroy(&self->router);
    zap_destroy(&self->zap);
    free(self->endpoint);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}
