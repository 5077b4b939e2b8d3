/*
 * clients.c - the client services of the broker: job.submit, job.cancel and broker.ping
 * (docs/protocol.md, section 3; docs/broker.md, "Clients").
 *
 * A client REQUEST is decoded and validated here, turned into one fail-fast statement, and
 * answered from the statement's callback once PostgreSQL has committed (or refused) it: a
 * reply never announces what is not durable. Kept apart from broker.c so that the loop holds
 * only the loop, and from dispatch.c because clients and workers share nothing but the job
 * table. An admin service would be a file like this one.
 */
#include "broker_metrics.h"
#include "broker_private.h"
#include "job_id.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Longest ROUTER identity a reply context keeps. */
#define CLIENT_IDENTITY_MAX WORKER_IDENTITY_MAX

/* Where a reply goes (copied into the store's operation). */
typedef struct {
    uint8_t identity[CLIENT_IDENTITY_MAX];
    size_t identity_len;
    uint64_t rid;
    char job_id[PROTO_UUID_LEN + 1];
    char owner[PROTO_UUID_LEN + 1];
} client_ctx_t;

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
    if (broker_router_send(self, &msg) != 0)
        log_debug("client gone, reply on %s dropped: %s", service, zmq_strerror(errno));
}

/* An error reply whose code is a wire name (a decoder's, or profai_error_name's). */
static void
s_client_error_named(broker_t *self, const uint8_t *identity, size_t identity_len,
                     const char *service, uint64_t rid, const char *code, const char *detail)
{
    proto_buf_t body = {0};
    if (proto_error_reply_encode(rid, code, detail, &body) != 0) {
        log_error("cannot encode error reply %s", code);
        return;
    }
    s_client_send(self, identity, identity_len, service, &body);
}

static void
s_client_error(broker_t *self, const uint8_t *identity, size_t identity_len, const char *service,
               uint64_t rid, profai_error_t code, const char *detail)
{
    s_client_error_named(self, identity, identity_len, service, rid, profai_error_name(code),
                         detail);
}

/* Refuse a client REQUEST whose body did not decode (`what` names it in the log; NULL: no
 * log line): the error reply carries whatever rid can be read from the body. */
static void
s_client_refuse(broker_t *self, zframe_t *identity, const mdpc_view_t *view, const char *what,
                const char *code, const char *detail)
{
    if (what != NULL)
        log_info("%s refused code=%s detail=\"%s\"", what, code, detail);
    s_client_error_named(self, zframe_data(identity), zframe_size(identity), view->service,
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
        s_client_error(self, identity, identity_len, service, rid, PROFAI_ERR_DB_UNAVAILABLE,
                       detail);
    } else {
        s_client_error(self, identity, identity_len, service, rid, PROFAI_ERR_OVERLOADED,
                       "the broker's write queue is full; retry later");
    }
}

/* A reply context for identity's request rid. */
static void
s_client_ctx(client_ctx_t *ctx, zframe_t *identity, uint64_t rid)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->identity_len = zframe_size(identity);
    memcpy(ctx->identity, zframe_data(identity), ctx->identity_len);
    ctx->rid = rid;
}

/* ------------------------------------------------------------------ job.submit */

/* Unfinished jobs in memory up to which a new job keeps its REQUEST fields (job_t.request). */
#define CLIENTS_REQUEST_FIELDS_MAX 10000

/* Why the submit statement inserted nothing: the code and a sentence for the teacher. */
static profai_error_t
s_submit_refusal(const broker_t *self, const sql_submit_result_t *result, char *detail, size_t size)
{
    if (!result->owner_ok) {
        snprintf(detail, size, "no such user");
        return PROFAI_ERR_UNKNOWN_OWNER;
    }
    if (!result->blob_ok) {
        snprintf(detail, size, "no stored PDF has this sha256");
        return PROFAI_ERR_UNKNOWN_BLOB;
    }
    if (self->max_queued_per_owner > 0 && result->queued >= self->max_queued_per_owner) {
        snprintf(detail, size,
                 "%lld jobs of this teacher are queued, the most allowed; wait until some have "
                 "run",
                 self->max_queued_per_owner);
        return PROFAI_ERR_QUEUE_QUOTA;
    }
    if (self->max_bytes_per_owner > 0 && result->bytes > self->max_bytes_per_owner) {
        snprintf(detail, size,
                 "this PDF would bring this teacher's stored PDFs to %lld bytes, over the %lld "
                 "allowed; delete courses to make room",
                 (long long)result->bytes, self->max_bytes_per_owner);
        return PROFAI_ERR_STORAGE_QUOTA;
    }
    snprintf(detail, size, "the job was not created");
    return PROFAI_ERR_BAD_REQUEST;
}

static void
s_on_submitted(void *owner, void *ctx_p, PGresult *res, const char *error)
{
    broker_t *self = owner;
    client_ctx_t *ctx = ctx_p;
    if (error != NULL) {
        log_warn("submission not confirmed job=%s owner=%s: %s", ctx->job_id, ctx->owner, error);
        s_client_error(self, ctx->identity, ctx->identity_len, PROTO_SERVICE_SUBMIT, ctx->rid,
                       PROFAI_ERR_DB_UNAVAILABLE,
                       "the database did not confirm the job; retry later");
        return;
    }
    sql_submit_result_t result;
    sql_read_submit(res, &result);
    if (!result.inserted) {
        char detail[160];
        profai_error_t code = s_submit_refusal(self, &result, detail, sizeof detail);
        log_info("submission refused owner=%s code=%s detail=\"%s\"", ctx->owner,
                 profai_error_name(code), detail);
        s_client_error(self, ctx->identity, ctx->identity_len, PROTO_SERVICE_SUBMIT, ctx->rid, code,
                       detail);
        return;
    }
    /* A read of the unfinished jobs on the job store may have loaded it already, between its
     * commit and this confirmation (docs/broker.md, "Submissions on a connection of their
     * own"): it is not added twice. */
    job_t *job = NULL;
    if (job_table_lookup(self->jobs, ctx->job_id) != NULL)
        log_info("job queued job=%s owner=%s (loaded before its confirmation)", ctx->job_id,
                 ctx->owner);
    else if ((job = job_table_add(self->jobs, ctx->job_id, ctx->owner, 0, JOB_QUEUED, self->now, 0,
                                  -1)) == NULL)
        log_error("out of memory: job=%s stays queued in the database until the next start",
                  ctx->job_id);
    else
        log_info("job queued job=%s owner=%s", ctx->job_id, ctx->owner);
    /* Without its fields the job is sent only after its dispatch commits (dispatch.c). A long
     * queue keeps none: its jobs wait for workers anyway, and the broker's memory stays small
     * (benchmark 7: 100,000 queued jobs). */
    if (job != NULL && result.title != NULL &&
        job_table_counts(self->jobs).total <= CLIENTS_REQUEST_FIELDS_MAX &&
        job_table_set_request(job, result.title, result.filename, result.sha256, result.pdf_size) !=
            0)
        log_warn("out of memory: job=%s waits for its dispatch commit", ctx->job_id);
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
    proto_submit_t submit;
    proto_error_t perr;
    if (proto_submit_decode(view->body, view->body_len, &submit, &perr) != 0) {
        s_client_refuse(self, identity, view, "submission", perr.code, perr.detail);
        return;
    }
    client_ctx_t ctx;
    s_client_ctx(&ctx, identity, submit.rid);
    memcpy(ctx.owner, submit.owner, sizeof ctx.owner);
    if (job_id_new(ctx.job_id) != 0) {
        s_client_error(self, ctx.identity, ctx.identity_len, view->service, submit.rid,
                       PROFAI_ERR_OVERLOADED, "no random bytes for a job id");
        return;
    }
    char max_queued[24], max_bytes[24];
    snprintf(max_queued, sizeof max_queued, "%lld", self->max_queued_per_owner);
    snprintf(max_bytes, sizeof max_bytes, "%lld", self->max_bytes_per_owner);
    const char *values[] = {ctx.job_id,    submit.owner, submit.title, submit.filename,
                            submit.sha256, max_queued,   max_bytes};
    /* On the submission store; a job store that falls behind still refuses (overloaded). */
    store_status_t st = store_pending(self->store) >= self->max_pending_writes
                            ? STORE_OVERLOADED
                            : sql_submit(self->submits, &sql_stmt_submit, values, STORE_FAIL_FAST,
                                         s_on_submitted, &ctx, sizeof ctx);
    if (st != STORE_OK)
        s_client_store_refusal(self, ctx.identity, ctx.identity_len, view->service, submit.rid, st,
                               "nothing was committed");
}

/* ------------------------------------------------------------------ broker.ping */

static void
s_on_ping(broker_t *self, zframe_t *identity, const mdpc_view_t *view)
{
    proto_ping_t ping;
    proto_error_t perr;
    if (proto_ping_decode(view->body, view->body_len, &ping, &perr) != 0) {
        s_client_refuse(self, identity, view, NULL, perr.code, perr.detail);
        return;
    }
    job_table_counts_t counts = job_table_counts(self->jobs);
    proto_pong_t pong = {
        .rid = ping.rid,
        .ok = true,
        .db = broker_db_up(self),
        .workers = worker_registry_size(self->workers),
        .queued = counts.queued + counts.waiting,
        .running = counts.total - counts.queued - counts.waiting,
        .processes = broker_worker_processes(self),
    };
    proto_buf_t body = {0};
    if (proto_pong_encode(&pong, &body, &perr) != 0) {
        log_error("cannot encode PONG: %s", perr.detail);
        return;
    }
    s_client_send(self, zframe_data(identity), zframe_size(identity), view->service, &body);
}

/* ------------------------------------------------------------------ job.cancel */

/* code: PROFAI_OK when ok. */
static void
s_cancel_reply(broker_t *self, const client_ctx_t *ctx, bool ok, const char *state,
               profai_error_t code, const char *detail)
{
    proto_cancelled_t reply = {.rid = ctx->rid, .ok = ok};
    snprintf(reply.state, sizeof reply.state, "%s", state != NULL ? state : "");
    snprintf(reply.error_code, sizeof reply.error_code, "%s",
             code != PROFAI_OK ? profai_error_name(code) : "");
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
    client_ctx_t *ctx = ctx_p;
    if (error != NULL) {
        log_warn("cancellation not confirmed job=%s owner=%s: %s", ctx->job_id, ctx->owner, error);
        s_client_error(self, ctx->identity, ctx->identity_len, PROTO_SERVICE_CANCEL, ctx->rid,
                       PROFAI_ERR_DB_UNAVAILABLE,
                       "the database did not confirm the cancellation; retry");
        return;
    }
    sql_cancel_result_t result;
    sql_read_cancel(res, &result);
    if (!result.found) {
        log_info("cancellation refused job=%s owner=%s code=unknown_job", ctx->job_id, ctx->owner);
        s_cancel_reply(self, ctx, false, NULL, PROFAI_ERR_UNKNOWN_JOB, "no such job of this owner");
        return;
    }
    job_t *job = job_table_lookup(self->jobs, ctx->job_id);
    if (job != NULL) {
        if (!result.cancelled)
            log_warn("job=%s was %s in the database but %s here; forgetting it", job->id,
                     result.before, job_state_name(job->state));
        broker_job_drop(self, job); /* a running job's worker is told to kill it */
    }
    if (!result.cancelled) {
        log_info("cancellation refused job=%s owner=%s code=already_final state=%s", ctx->job_id,
                 ctx->owner, result.before);
        s_cancel_reply(self, ctx, false, result.before, PROFAI_ERR_ALREADY_FINAL,
                       "the job has already ended");
        return;
    }
    log_info("job cancelled job=%s owner=%s was=%s", ctx->job_id, ctx->owner, result.before);
    s_cancel_reply(self, ctx, true, "cancelled", PROFAI_OK, NULL);
}

static void
s_on_cancel(broker_t *self, zframe_t *identity, const mdpc_view_t *view)
{
    proto_cancel_t cancel;
    proto_error_t perr;
    if (proto_cancel_decode(view->body, view->body_len, &cancel, &perr) != 0) {
        s_client_refuse(self, identity, view, "cancellation", perr.code, perr.detail);
        return;
    }
    client_ctx_t ctx;
    s_client_ctx(&ctx, identity, cancel.rid);
    memcpy(ctx.job_id, cancel.job_id, sizeof ctx.job_id);
    memcpy(ctx.owner, cancel.owner, sizeof ctx.owner);
    job_t *job = job_table_lookup(self->jobs, cancel.job_id);
    if (job != NULL && strcmp(job->owner, cancel.owner) != 0) {
        log_info("cancellation refused job=%s owner=%s code=unknown_job (not the owner)",
                 cancel.job_id, cancel.owner);
        s_cancel_reply(self, &ctx, false, NULL, PROFAI_ERR_UNKNOWN_JOB,
                       "no such job of this owner");
        return;
    }
    if (job != NULL) /* its held dispatch first (docs/broker.md, "Holding the dispatch write") */
        dispatch_release_job(self, job->id);
    /* Fail-fast: a cancellation is either confirmed now or refused with db_unavailable; it is
     * never left to replay later, when the caller has given up on it. */
    const char *values[] = {cancel.job_id, cancel.owner};
    store_status_t st = sql_submit(self->store, &sql_stmt_cancel, values, STORE_FAIL_FAST,
                                   s_on_cancel_committed, &ctx, sizeof ctx);
    if (st != STORE_OK)
        s_client_store_refusal(self, ctx.identity, ctx.identity_len, view->service, cancel.rid, st,
                               "nothing was changed");
}

/* ------------------------------------------------------------------ routing */

void
clients_on_message(broker_t *self, zframe_t *identity, zmsg_t *msg)
{
    mdpc_view_t view;
    proto_error_t perr;
    if (mdpc_parse(msg, PROTO_CONTROL_BODY_MAX, &view, &perr) != 0) {
        broker_drop(self, "invalid client message", perr.detail);
        /* A REQUEST whose service could be read gets an answer (RFC 18 allows several body
         * frames; this broker takes one): a client waits for no reply that never comes. */
        if (view.command == MDPC_REQUEST && view.service[0] != '\0')
            s_client_error(self, zframe_data(identity), zframe_size(identity), view.service, 0,
                           PROFAI_ERR_BAD_REQUEST, perr.detail);
        return;
    }
    if (view.command != MDPC_REQUEST) {
        broker_drop(self, "client message is not a REQUEST", NULL);
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
        s_client_refuse(self, identity, &view, NULL, profai_error_name(PROFAI_ERR_UNKNOWN_SERVICE),
                        "no such service");
    }
}

void
clients_refuse(broker_t *self, zframe_t *identity, zmsg_t *msg, profai_error_t code,
               const char *detail)
{
    mdpc_view_t view;
    proto_error_t perr;
    if (mdpc_parse(msg, PROTO_CONTROL_BODY_MAX, &view, &perr) != 0 || view.command != MDPC_REQUEST)
        return;
    s_client_refuse(self, identity, &view, NULL, profai_error_name(code), detail);
}
