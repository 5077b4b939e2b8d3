/*
 * admin.c - see admin.h; the protocol is docs/admin.md.
 *
 * One file per side of the broker: clients.c answers the frontend, dispatch.c the workers,
 * this file the operators. Read commands answer from memory (status, workers) or from one
 * fail-fast statement (jobs, one job's events); write commands change memory through the same
 * functions the other sides use (job table, worker registry, broker_job_drop) and, for jobs,
 * the database first: a reply never announces what is not committed.
 */
#include "admin.h"

#include "admin_sql.h"
#include "broker_private.h"
#include "log.h"
#include "profai/admin_proto.h"
#include "profai/worker_identity.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Requests read per loop turn: the admin socket never starves the workers' ROUTER. */
#define ADMIN_BATCH 50
#define ADMIN_HWM 10000
#define ADMIN_IPC_PREFIX "ipc://"
#define ADMIN_TCP_PREFIX "tcp://"

struct admin_t {
    broker_t *broker; /* borrowed */
    zsock_t *sock;
    char *path; /* ipc: the socket file, removed on destroy; NULL on tcp */
    bool curve; /* tcp: every request's key must be an admin key now (zap.h) */
    int64_t started_at;
};

/* Where a reply goes (copied into the store's operations). */
typedef struct {
    uint8_t identity[WORKER_IDENTITY_MAX];
    size_t identity_len;
    uint64_t rid;
    char service[PROTO_SERVICE_MAX + 1];
    char job_id[PROTO_UUID_LEN + 1];
    int64_t sent_us;
} admin_ctx_t;

/* ------------------------------------------------------------------ replies */

/* Encode m (a message of desc) and send it as a PARTIAL or FINAL on ctx's command. */
static void
s_send(admin_t *self, const admin_ctx_t *ctx, mdpc_command_t command, const proto_message_t *desc,
       const void *m)
{
    proto_buf_t body = {0};
    proto_error_t perr;
    if (proto_message_encode(desc, m, &body, &perr) != 0) {
        log_error("admin: cannot encode %s: %s", desc->name, perr.detail);
        return;
    }
    zmsg_t *msg = mdpc_build(command, ctx->service, body.data, body.size);
    proto_buf_free(&body);
    if (msg == NULL || zmsg_pushmem(msg, ctx->identity, ctx->identity_len) != 0) {
        zmsg_destroy(&msg);
        log_error("admin: out of memory replying on %s", ctx->service);
        return;
    }
    if (zmsg_send(&msg, self->sock) != 0) {
        zmsg_destroy(&msg);
        log_debug("admin: client gone, reply on %s dropped: %s", ctx->service, zmq_strerror(errno));
    }
}

/* The FINAL ADMIN_DONE: ok when code is PROFAI_OK; state may be NULL. */
static void
s_done(admin_t *self, const admin_ctx_t *ctx, profai_error_t code, uint64_t rows, const char *state,
       const char *detail)
{
    admin_done_t done = {.rid = ctx->rid, .ok = code == PROFAI_OK, .rows = rows};
    snprintf(done.state, sizeof done.state, "%s", state != NULL ? state : "");
    if (code != PROFAI_OK)
        snprintf(done.error_code, sizeof done.error_code, "%s", profai_error_name(code));
    snprintf(done.error, sizeof done.error, "%s", detail != NULL ? detail : "");
    s_send(self, ctx, MDPC_FINAL, &admin_message_done, &done);
}

/* A statement the store did not take: the database is down or the queue is full. */
static void
s_refused(admin_t *self, const admin_ctx_t *ctx, store_status_t st)
{
    if (st == STORE_DOWN)
        s_done(self, ctx, PROFAI_ERR_DB_UNAVAILABLE, 0, NULL,
               "the database is unavailable; retry later");
    else
        s_done(self, ctx, PROFAI_ERR_OVERLOADED, 0, NULL, "the broker's write queue is full");
}

static void
s_submit(admin_t *self, const admin_ctx_t *ctx, const store_stmt_t *stmt, const char *const *values,
         store_done_fn *done)
{
    /* The reads on a connection of their own: admin.jobs reads the whole jobs table, and no
     * dispatch or result should wait for it (docs/broker.md). Which statements are reads is
     * sql.c's table of that store's statements. */
    store_t *store = store_prepares(self->broker->admin_reads, stmt) ? self->broker->admin_reads
                                                                     : self->broker->store;
    store_status_t st = sql_submit(store, stmt, values, STORE_FAIL_FAST, done, ctx, sizeof *ctx);
    if (st != STORE_OK)
        s_refused(self, ctx, st);
}

/* The start of a statement's callback: false when nothing is left to do (the admin socket
 * closed meanwhile, or the statement failed and the request got db_unavailable). */
static bool
s_answered(broker_t *b, admin_ctx_t *ctx, const char *error)
{
    if (b->admin == NULL)
        return false;
    if (error != NULL) {
        s_done(b->admin, ctx, PROFAI_ERR_DB_UNAVAILABLE, 0, NULL, error);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ status */

static void
s_count_row(admin_t *self, const admin_ctx_t *ctx, const char *scope, const char *name,
            uint64_t count, uint64_t oldest_ms)
{
    admin_count_t row = {.rid = ctx->rid, .count = count, .oldest_ms = oldest_ms};
    snprintf(row.scope, sizeof row.scope, "%s", scope);
    snprintf(row.name, sizeof row.name, "%s", name);
    s_send(self, ctx, MDPC_PARTIAL, &admin_message_count, &row);
}

/* The queue per service and per owner (QUEUED jobs; WAITING ones count for the service). */
static void
s_status_queues(admin_t *self, const admin_ctx_t *ctx)
{
    broker_t *b = self->broker;
    job_tally_t all;
    zhash_t *owners = job_table_queued_by_owner(b->jobs, &all);
    if (owners == NULL)
        return;
    job_table_counts_t counts = job_table_counts(b->jobs);
    s_count_row(self, ctx, "service", PROTO_SERVICE_COURSE, all.count + counts.waiting,
                all.count > 0 ? (uint64_t)(b->now - all.oldest) : 0);
    for (job_tally_t *t = zhash_first(owners); t != NULL; t = zhash_next(owners))
        s_count_row(self, ctx, "owner", zhash_cursor(owners), t->count,
                    (uint64_t)(b->now - t->oldest));
    zhash_destroy(&owners);
}

static void
s_status_reply(admin_t *self, const admin_ctx_t *ctx, bool db_up, uint64_t rtt_us)
{
    broker_t *b = self->broker;
    s_status_queues(self, ctx);
    worker_registry_counts_t workers = worker_registry_counts(b->workers);
    job_table_counts_t counts = job_table_counts(b->jobs);
    s_count_row(self, ctx, "jobs", job_state_name(JOB_QUEUED), counts.queued, 0);
    s_count_row(self, ctx, "jobs", job_state_name(JOB_WAITING), counts.waiting, 0);
    s_count_row(self, ctx, "jobs", job_state_name(JOB_DISPATCHING), workers.dispatching, 0);
    s_count_row(self, ctx, "jobs", job_state_name(JOB_RUNNING), workers.running, 0);
    s_count_row(self, ctx, "jobs", job_state_name(JOB_ORPHANED), counts.orphaned, 0);
    for (int s = WORKER_IDLE; s <= WORKER_UNSERVED; s++)
        s_count_row(self, ctx, "workers", worker_state_name((worker_state_t)s), workers.by_state[s],
                    0);
    s_count_row(self, ctx, "workers", "draining", workers.draining, 0);
    if (b->paused)
        s_count_row(self, ctx, "paused", PROTO_SERVICE_COURSE, 1, 0);
    admin_status_t status = {
        .rid = ctx->rid,
        .ok = true,
        .uptime_ms = (uint64_t)(zclock_mono() - self->started_at),
        .db_up = db_up,
        .db_rtt_us = rtt_us,
        .pending_writes = broker_pending_writes(b),
    };
    snprintf(status.version, sizeof status.version, "%s", PROFAI_VERSION);
    snprintf(status.role, sizeof status.role, "broker");
    s_send(self, ctx, MDPC_FINAL, &admin_message_status, &status);
}

static void
s_on_ping(void *owner, void *ctx_p, PGresult *res, const char *error)
{
    (void)res;
    broker_t *b = owner;
    admin_ctx_t *ctx = ctx_p;
    if (b->admin == NULL)
        return;
    int64_t rtt = zclock_usecs() - ctx->sent_us;
    bool up = error == NULL && store_is_up(b->submits); /* both store connections */
    s_status_reply(b->admin, ctx, up, up ? (uint64_t)(rtt > 0 ? rtt : 1) : 0);
}

/* The database's round trip is measured through the broker's own pipeline, behind its
 * writes: what a job's statement waits too. */
static void
s_cmd_status(admin_t *self, admin_ctx_t *ctx, const admin_request_t *req)
{
    (void)req;
    ctx->sent_us = zclock_usecs();
    if (sql_submit(self->broker->store, &admin_sql_ping, NULL, STORE_FAIL_FAST, s_on_ping, ctx,
                   sizeof *ctx) != STORE_OK)
        s_status_reply(self, ctx, false, 0);
}

/* ------------------------------------------------------------------ workers */

static void
s_cmd_workers(admin_t *self, admin_ctx_t *ctx, const admin_request_t *req)
{
    (void)req;
    broker_t *b = self->broker;
    int64_t expiry = (int64_t)b->heartbeat_ivl * b->liveness;
    uint64_t rows = 0;
    for (worker_t *w = worker_registry_first(b->workers); w != NULL;
         w = worker_registry_next(b->workers, w)) {
        admin_worker_t row = {.rid = ctx->rid, .draining = w->draining};
        snprintf(row.name, sizeof row.name, "%s", w->name);
        snprintf(row.identity, sizeof row.identity, "%s", w->key);
        snprintf(row.service, sizeof row.service, "%s", w->service);
        snprintf(row.state, sizeof row.state, "%s", worker_state_name(w->state));
        if (w->job != NULL)
            memcpy(row.job_id, w->job->id, sizeof row.job_id);
        int64_t heard = w->expires_at - expiry;
        row.since_ms = b->now > w->state_since ? (uint64_t)(b->now - w->state_since) : 0;
        row.heartbeat_ms = b->now > heard ? (uint64_t)(b->now - heard) : 0;
        row.done = w->jobs_done;
        row.failed = w->jobs_failed;
        if (worker_identity_parse(w->identity, w->identity_len, row.host, &row.pid, row.version) !=
            0)
            row.pid = 0; /* an older worker: host, pid and version unknown */
        s_send(self, ctx, MDPC_PARTIAL, &admin_message_worker, &row);
        rows++;
    }
    s_done(self, ctx, PROFAI_OK, rows, NULL, NULL);
}

/* ------------------------------------------------------------------ jobs, one job */

static void
s_on_jobs(void *owner, void *ctx_p, PGresult *res, const char *error)
{
    broker_t *b = owner;
    admin_ctx_t *ctx = ctx_p;
    if (!s_answered(b, ctx, error))
        return;
    uint64_t rows = 0;
    for (int i = 0; i < sql_row_count(res); i++) {
        admin_job_t job = {.rid = ctx->rid};
        if (!admin_sql_read_job(res, i, &job))
            continue;
        s_send(b->admin, ctx, MDPC_PARTIAL, &admin_message_job, &job);
        rows++;
    }
    s_done(b->admin, ctx, PROFAI_OK, rows, NULL, NULL);
}

static bool
s_db_state_ok(const char *state)
{
    static const char *const states[] = {"queued", "running", "succeeded", "failed", "cancelled"};
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        if (strcmp(state, states[i]) == 0)
            return true;
    return false;
}

static void
s_cmd_jobs(admin_t *self, admin_ctx_t *ctx, const admin_request_t *req)
{
    if (req->state[0] != '\0' && !s_db_state_ok(req->state)) {
        s_done(self, ctx, PROFAI_ERR_BAD_REQUEST, 0, NULL,
               "state is one of queued, running, succeeded, failed, cancelled");
        return;
    }
    char limit[16];
    snprintf(limit, sizeof limit, "%" PRIu32, req->limit > 0 ? req->limit : ADMIN_LIMIT_DEFAULT);
    const char *values[] = {req->state, req->owner, limit};
    s_submit(self, ctx, &admin_sql_jobs, values, s_on_jobs);
}

static void
s_on_job(void *owner, void *ctx_p, PGresult *res, const char *error)
{
    broker_t *b = owner;
    admin_ctx_t *ctx = ctx_p;
    if (!s_answered(b, ctx, error))
        return;
    admin_job_t job = {.rid = ctx->rid};
    if (sql_row_count(res) < 1 || !admin_sql_read_job(res, 0, &job)) {
        s_done(b->admin, ctx, PROFAI_ERR_UNKNOWN_JOB, 0, NULL, "no such job");
        return;
    }
    s_send(b->admin, ctx, MDPC_PARTIAL, &admin_message_job, &job);
    uint64_t rows = 0;
    for (int i = 0; i < sql_row_count(res); i++) {
        admin_event_t event = {.rid = ctx->rid};
        if (!admin_sql_read_event(res, i, &event))
            continue;
        s_send(b->admin, ctx, MDPC_PARTIAL, &admin_message_event, &event);
        rows++;
    }
    s_done(b->admin, ctx, PROFAI_OK, rows, NULL, NULL);
}

/* A command on one job: stmt with the job's id (required), answered by done. */
static void
s_submit_on_job(admin_t *self, admin_ctx_t *ctx, const admin_request_t *req,
                const store_stmt_t *stmt, store_done_fn *done)
{
    if (req->job_id[0] == '\0') {
        s_done(self, ctx, PROFAI_ERR_BAD_REQUEST, 0, NULL, "job_id is required");
        return;
    }
    memcpy(ctx->job_id, req->job_id, sizeof ctx->job_id);
    const char *values[] = {req->job_id};
    s_submit(self, ctx, stmt, values, done);
}

static void
s_cmd_job(admin_t *self, admin_ctx_t *ctx, const admin_request_t *req)
{
    s_submit_on_job(self, ctx, req, &admin_sql_job, s_on_job);
}

/* ------------------------------------------------------------------ retry, cancel */

/* What a retry or cancel changed; false when there is no such job (answered). */
static bool
s_read_change(broker_t *b, admin_ctx_t *ctx, PGresult *res, admin_sql_change_t *change)
{
    admin_sql_read_change(res, change);
    if (!change->found)
        s_done(b->admin, ctx, PROFAI_ERR_UNKNOWN_JOB, 0, NULL, "no such job");
    return change->found;
}

static void
s_on_retry(void *owner, void *ctx_p, PGresult *res, const char *error)
{
    broker_t *b = owner;
    admin_ctx_t *ctx = ctx_p;
    if (!s_answered(b, ctx, error))
        return;
    admin_sql_change_t change;
    if (!s_read_change(b, ctx, res, &change))
        return;
    if (!change.changed && strcmp(change.before, "failed") == 0 && !change.pdf_stored) {
        s_done(b->admin, ctx, PROFAI_ERR_UNKNOWN_BLOB, 0, change.before,
               "its PDF is no longer stored (swept after the job failed); submit it again");
        return;
    }
    if (!change.changed) {
        s_done(b->admin, ctx, PROFAI_ERR_NOT_FAILED, 0, change.before,
               "only a failed job can be retried");
        return;
    }
    if (job_table_lookup(b->jobs, ctx->job_id) == NULL &&
        job_table_add(b->jobs, ctx->job_id, change.owner, change.attempts, JOB_QUEUED, b->now, 0,
                      -1) == NULL)
        log_error("out of memory requeueing job=%s; it runs after the next start", ctx->job_id);
    log_info("admin: job retried job=%s next_attempt=%" PRIu32, ctx->job_id, change.attempts + 1);
    s_done(b->admin, ctx, PROFAI_OK, 0, "queued", NULL);
}

static void
s_cmd_retry(admin_t *self, admin_ctx_t *ctx, const admin_request_t *req)
{
    s_submit_on_job(self, ctx, req, &admin_sql_retry, s_on_retry);
}

static void
s_on_cancel(void *owner, void *ctx_p, PGresult *res, const char *error)
{
    broker_t *b = owner;
    admin_ctx_t *ctx = ctx_p;
    if (!s_answered(b, ctx, error))
        return;
    admin_sql_change_t change;
    if (!s_read_change(b, ctx, res, &change))
        return;
    job_t *job = job_table_lookup(b->jobs, ctx->job_id);
    if (job != NULL)
        broker_job_drop(b, job); /* a running job's worker is told to kill it */
    if (!change.changed) {
        s_done(b->admin, ctx, PROFAI_ERR_ALREADY_FINAL, 0, change.before,
               "the job has already ended");
        return;
    }
    log_info("admin: job cancelled job=%s was=%s", ctx->job_id, change.before);
    s_done(b->admin, ctx, PROFAI_OK, 0, "cancelled", NULL);
}

static void
s_cmd_cancel(admin_t *self, admin_ctx_t *ctx, const admin_request_t *req)
{
    s_submit_on_job(self, ctx, req, &admin_sql_cancel, s_on_cancel);
}

/* ------------------------------------------------------------------ drain, pause, log level */

static void
s_cmd_drain(admin_t *self, admin_ctx_t *ctx, const admin_request_t *req)
{
    broker_t *b = self->broker;
    worker_t *w = worker_registry_first(b->workers);
    while (w != NULL && strcmp(w->name, req->worker) != 0 && strcmp(w->key, req->worker) != 0)
        w = worker_registry_next(b->workers, w);
    if (req->worker[0] == '\0' || w == NULL) {
        s_done(self, ctx, PROFAI_ERR_UNKNOWN_WORKER, 0, NULL, "no such worker");
        return;
    }
    w->draining = true;
    if (w->state == WORKER_IDLE) {
        worker_registry_set_state(b->workers, w, WORKER_UNSERVED);
        w->state_since = b->now;
    }
    log_info("admin: worker draining worker=%s state=%s%s%s", w->name, worker_state_name(w->state),
             w->job != NULL ? " job=" : "", w->job != NULL ? w->job->id : "");
    s_done(self, ctx, PROFAI_OK, 0, worker_state_name(w->state), NULL);
}

static void
s_pause(admin_t *self, admin_ctx_t *ctx, const admin_request_t *req, bool paused)
{
    if (strcmp(req->service, PROTO_SERVICE_COURSE) != 0) {
        s_done(self, ctx, PROFAI_ERR_UNKNOWN_SERVICE, 0, NULL,
               "this broker dispatches the service " PROTO_SERVICE_COURSE " only");
        return;
    }
    self->broker->paused = paused;
    log_info("admin: service %s service=%s", paused ? "paused" : "resumed", req->service);
    s_done(self, ctx, PROFAI_OK, 0, paused ? "paused" : "running", NULL);
}

static void
s_cmd_pause(admin_t *self, admin_ctx_t *ctx, const admin_request_t *req)
{
    s_pause(self, ctx, req, true);
}

static void
s_cmd_resume(admin_t *self, admin_ctx_t *ctx, const admin_request_t *req)
{
    s_pause(self, ctx, req, false);
}

static void
s_cmd_log_level(admin_t *self, admin_ctx_t *ctx, const admin_request_t *req)
{
    log_level_t level;
    if (log_level_parse(req->level, &level) != 0) {
        s_done(self, ctx, PROFAI_ERR_BAD_REQUEST, 0, NULL,
               "level is one of error, warn, info, debug");
        return;
    }
    log_warn("admin: log level set to %s", req->level);
    log_set_level(level);
    s_done(self, ctx, PROFAI_OK, 0, req->level, NULL);
}

/* ------------------------------------------------------------------ requests */

typedef void(admin_cmd_fn)(admin_t *self, admin_ctx_t *ctx, const admin_request_t *req);

static const struct {
    const char *service;
    admin_cmd_fn *run;
} s_commands[] = {
    {ADMIN_STATUS, s_cmd_status}, {ADMIN_WORKERS, s_cmd_workers},
    {ADMIN_JOBS, s_cmd_jobs},     {ADMIN_JOB, s_cmd_job},
    {ADMIN_RETRY, s_cmd_retry},   {ADMIN_CANCEL, s_cmd_cancel},
    {ADMIN_DRAIN, s_cmd_drain},   {ADMIN_PAUSE, s_cmd_pause},
    {ADMIN_RESUME, s_cmd_resume}, {ADMIN_LOG_LEVEL, s_cmd_log_level},
};

/* On tcp://, a request passes only when its connection's key (the ZAP User-Id) is an admin
 * key as the list stands now: a key deleted from curve/admins_dir is refused `forbidden` on
 * the connections it opened before, and logged with the key. */
static bool
s_key_allowed(admin_t *self, zmsg_t *msg, admin_ctx_t *ctx, const mdpc_view_t *view)
{
    broker_t *b = self->broker;
    char key[CURVE_KEY_LEN + 1];
    if (zap_peer_role(b->zap, zmsg_first(msg), key) == ZAP_ROLE_ADMIN)
        return true;
    zap_log_refusal(b->zap, key, "admin", "admin request from a key not in the admin list now",
                    b->now);
    b->counters.dropped++;
    ctx->rid = proto_peek_rid(view->body, view->body_len);
    s_done(self, ctx, PROFAI_ERR_FORBIDDEN, 0, NULL, "this key is not in the broker's admin list");
    return false;
}

static void
s_on_request(admin_t *self, zmsg_t *msg)
{
    zframe_t *identity = zmsg_pop(msg);
    mdpc_view_t view;
    proto_error_t perr;
    if (identity == NULL || zframe_size(identity) == 0 ||
        zframe_size(identity) > WORKER_IDENTITY_MAX || mdp_kind(msg) != 'C' ||
        mdpc_parse(msg, ADMIN_REQUEST_BODY_MAX, &view, &perr) != 0 ||
        view.command != MDPC_REQUEST) {
        broker_drop(self->broker, "invalid admin message", NULL);
        zframe_destroy(&identity);
        return;
    }
    admin_ctx_t ctx = {.identity_len = zframe_size(identity)};
    memcpy(ctx.identity, zframe_data(identity), ctx.identity_len);
    zframe_destroy(&identity);
    snprintf(ctx.service, sizeof ctx.service, "%s", view.service);
    if (self->curve && !s_key_allowed(self, msg, &ctx, &view))
        return;
    admin_request_t req;
    if (proto_message_decode(&admin_message_request, view.body, view.body_len, &req, &perr) != 0) {
        ctx.rid = proto_peek_rid(view.body, view.body_len);
        s_done(self, &ctx, perr.id, 0, NULL, perr.detail);
        return;
    }
    ctx.rid = req.rid;
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++) {
        if (strcmp(s_commands[i].service, view.service) == 0) {
            s_commands[i].run(self, &ctx, &req);
            return;
        }
    }
    s_done(self, &ctx, PROFAI_ERR_UNKNOWN_SERVICE, 0, NULL, "no such admin command");
}

void
admin_read(admin_t *self)
{
    for (int i = 0; i < ADMIN_BATCH; i++) {
        zmsg_t *msg = zmsg_recv(self->sock); /* RCVTIMEO 0 */
        if (msg == NULL)
            return;
        s_on_request(self, msg);
        zmsg_destroy(&msg);
    }
}

/* ------------------------------------------------------------------ lifecycle */

const char *
admin_default_endpoint(char *buf, size_t size)
{
    const char *dir = getenv("RUNTIME_DIRECTORY");
    if (dir != NULL && dir[0] != '\0')
        snprintf(buf, size, ADMIN_IPC_PREFIX "%.*s/admin.sock", (int)strcspn(dir, ":"), dir);
    else
        snprintf(buf, size, ADMIN_IPC_PREFIX "var/admin.sock");
    return buf;
}

/* The socket with the options both transports share. */
static zsock_t *
s_socket_new(void)
{
    zsock_t *sock = zsock_new(ZMQ_ROUTER);
    if (sock == NULL)
        return NULL;
    zsock_set_router_mandatory(sock, 1);
    zsock_set_sndtimeo(sock, 0);
    zsock_set_rcvtimeo(sock, 0);
    zsock_set_maxmsgsize(sock, ADMIN_REQUEST_BODY_MAX + 1024);
    zsock_set_sndhwm(sock, ADMIN_HWM);
    zsock_set_linger(sock, 0);
    return sock;
}

/* ipc://: the file's mode and the peer's uid and gid guard it. */
static int
s_bind_ipc(admin_t *self, const char *endpoint, char *err, size_t err_size)
{
    self->path = strdup(endpoint + strlen(ADMIN_IPC_PREFIX));
    if (self->path == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    /* Peers of another uid and gid are dropped on accept (SO_PEERCRED), where libzmq has the
     * filters; the file mode below holds everywhere. */
    int uid = (int)getuid(), gid = (int)getgid();
    void *raw = zsock_resolve(self->sock);
    if (zmq_setsockopt(raw, ZMQ_IPC_FILTER_UID, &uid, sizeof uid) != 0 ||
        zmq_setsockopt(raw, ZMQ_IPC_FILTER_GID, &gid, sizeof gid) != 0)
        log_info("admin: this libzmq has no ipc peer filters; the socket file's mode guards it");
    mode_t old = umask(0117); /* the socket file is created 0660 */
    int rc = zsock_bind(self->sock, "%s", endpoint);
    int bind_errno = errno;
    umask(old);
    if (rc < 0) {
        snprintf(err, err_size, "cannot bind admin socket %s: %s", endpoint,
                 zmq_strerror(bind_errno));
        return -1;
    }
    if (chmod(self->path, 0660) != 0) {
        snprintf(err, err_size, "cannot chmod admin socket %s: %s", self->path, strerror(errno));
        return -1;
    }
    log_info("admin socket endpoint=%s mode=0660", endpoint);
    return 0;
}

/* tcp://: CURVE, with the broker's ZAP handler admitting admin keys only (ZAP_DOMAIN_ADMIN). */
static int
s_bind_tcp(admin_t *self, const char *endpoint, const curve_keys_t *keys, char *err,
           size_t err_size)
{
    if (keys == NULL || !keys->enabled || self->broker->zap == NULL) {
        snprintf(err, err_size,
                 "admin/endpoint %s is tcp:// without CURVE (docs/admin.md: set "
                 "curve/certificate and curve/admins_dir, or use ipc://)",
                 endpoint);
        return -1;
    }
    curve_apply_server(keys, self->sock, ZAP_DOMAIN_ADMIN);
    self->curve = true;
    if (zsock_bind(self->sock, "%s", endpoint) < 0) {
        snprintf(err, err_size, "cannot bind admin socket %s: %s", endpoint, zmq_strerror(errno));
        return -1;
    }
    log_info("admin socket endpoint=%s curve=on (keys of curve/admins_dir only)", endpoint);
    return 0;
}

admin_t *
admin_new(broker_t *broker, const char *endpoint, const curve_keys_t *keys, char *err,
          size_t err_size)
{
    bool ipc = strncmp(endpoint, ADMIN_IPC_PREFIX, strlen(ADMIN_IPC_PREFIX)) == 0 &&
               endpoint[strlen(ADMIN_IPC_PREFIX)] != '\0';
    bool tcp = strncmp(endpoint, ADMIN_TCP_PREFIX, strlen(ADMIN_TCP_PREFIX)) == 0;
    if (!ipc && !tcp) {
        snprintf(err, err_size,
                 "admin/endpoint %s is neither ipc://PATH (local, guarded by file permissions) "
                 "nor tcp:// (CURVE with an admin key list): docs/admin.md",
                 endpoint);
        return NULL;
    }
    admin_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    self->broker = broker;
    self->started_at = zclock_mono();
    self->sock = s_socket_new();
    if (self->sock == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    if ((ipc ? s_bind_ipc(self, endpoint, err, err_size)
             : s_bind_tcp(self, endpoint, keys, err, err_size)) != 0)
        goto fail;
    return self;
fail:
    admin_destroy(&self);
    return NULL;
}

void
admin_destroy(admin_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    admin_t *self = *self_p;
    zsock_destroy(&self->sock);
    free(self->path);
    free(self);
    *self_p = NULL;
}

void *
admin_socket(admin_t *self)
{
    return zsock_resolve(self->sock);
}
