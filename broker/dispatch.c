/*
 * dispatch.c - the worker side of the broker: giving queued jobs to idle workers (dispatch
 * UPDATE returning the PDF, REQUEST) and handling what workers send (READY, PARTIAL, FINAL,
 * HEARTBEAT, DISCONNECT), results included (docs/broker.md, "Dispatch" and "Workers";
 * docs/protocol.md, section 2).
 *
 * Decisions about a job's or a worker's state are the job table's and the registry's; this
 * file checks what a worker claims (its token, its state), turns results into statements and
 * sends REQUESTs. Kept apart from broker.c, which holds the loop, timers and shared effects,
 * and from clients.c: the two sides of the ROUTER share nothing but the job table.
 */
#include "blob_reader.h"
#include "broker_metrics.h"
#include "broker_private.h"
#include "course_check.h"
#include "dispatch_hold.h"
#include "job_id.h"
#include "job_secret.h"
#include "log.h"
#include "pdf_cache.h"
#include "profai/worker_identity.h"
#include "search_indexer.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define ERROR_TEXT_MAX 300

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

/* A job error code from a worker, or "internal" when it is not a lower-case word. Codes this
 * broker does not know are kept: the worker may be newer. */
static const char *
s_clean_code(const char *code)
{
    const char *internal = profai_error_name(PROFAI_ERR_INTERNAL);
    if (code[0] < 'a' || code[0] > 'z')
        return internal;
    for (const char *p = code; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return internal;
    }
    return code;
}

/* Whether a worker's error code is transient (the attempt is retried), and which. Anything
 * else (not_pdf, encrypted, damaged, no_text, too_large, unknown codes) is deterministic:
 * another attempt would fail the same way. worker_lost is the broker's own verdict, never a
 * worker's. */
static bool
s_transient(const char *code, profai_error_t *known)
{
    profai_error_t e = profai_error_from_name(code);
    if (strcmp(profai_error_name(e), code) != 0 || !profai_error_is_transient(e) ||
        e == PROFAI_ERR_WORKER_LOST)
        return false;
    *known = e;
    return true;
}

/* A worker for identity, with the peer address of msg for its name. */
static worker_t *
s_worker_add(broker_t *self, zframe_t *identity, zmsg_t *msg, const char *service)
{
    zframe_t *first = zmsg_first(msg);
    const char *peer = first != NULL ? zframe_meta(first, "Peer-Address") : NULL;
    return worker_registry_add(self->workers, zframe_data(identity), zframe_size(identity), peer,
                               service, self->now);
}

/* ------------------------------------------------------------------ dispatch */

/* What a PDF read carries from its dispatch to the REQUEST: the dispatch's attempt and the
 * SHA-256 of its secret (one dispatch exactly, even if a job left memory and came back with the
 * same attempt number), and the REQUEST's fields. */
typedef struct {
    job_ctx_t job;
    char secret_sha256[JOB_SECRET_HASH_LEN + 1];
    char title[PROTO_TITLE_MAX + 1];
    char filename[PROTO_FILENAME_MAX + 1];
    char sha256[PROTO_SHA256_LEN + 1];
} s_read_ctx_t;

/* A read context for the dispatch of ctx (its secret's SHA-256: secret_sha256) with m's fields. */
static void
s_read_ctx(s_read_ctx_t *rctx, const job_ctx_t *ctx, const char *secret_sha256,
           const proto_job_t *m)
{
    memset(rctx, 0, sizeof *rctx);
    rctx->job = *ctx;
    snprintf(rctx->secret_sha256, sizeof rctx->secret_sha256, "%s", secret_sha256);
    memcpy(rctx->title, m->title, sizeof rctx->title);
    memcpy(rctx->filename, m->filename, sizeof rctx->filename);
    memcpy(rctx->sha256, m->sha256, sizeof rctx->sha256);
}

static void s_send_job(broker_t *self, job_t *job, worker_t *worker, proto_job_t *m);

/* Whether the job's PDF (size bytes) goes to worker by reference (docs/protocol.md 3.6): a
 * large one, a blob endpoint, and a worker that announced it can fetch. */
static bool
s_by_reference(const broker_t *self, const worker_t *worker, long long size)
{
    return self->blob_server != NULL && size >= BLOB_READER_LARGE &&
           worker_identity_can_fetch(worker->identity, worker->identity_len);
}

/* The job's dispatch fence (attempt) is committed: read its PDF (blob_reader.h), off the
 * store's connection, then send the REQUEST (dispatch_on_pdf); or, for a worker that fetches
 * it from the blob endpoint, send the REQUEST with a reference at once. */
static void
s_on_dispatched(void *owner, void *ctx_p, PGresult *res, const char *error)
{
    broker_t *self = owner;
    job_ctx_t *ctx = ctx_p;
    job_t *job = job_table_lookup(self->jobs, ctx->job_id);
    if (job == NULL || job->state != JOB_DISPATCHING || job->attempts != ctx->attempt)
        return; /* its worker vanished meanwhile: already requeued */
    worker_t *worker = job->worker;
    if (error != NULL || !sql_write_applied(res)) {
        if (error != NULL)
            log_error("dispatch failed job=%s attempt=%" PRIu32 ": %s; left to the next start",
                      job->id, job->attempts, error);
        else
            log_info("job not runnable any more, dropped job=%s attempt=%" PRIu32, job->id,
                     job->attempts);
        broker_worker_release(self, worker);
        job_table_remove(self->jobs, &job);
        return;
    }
    const char *internal = profai_error_name(PROFAI_ERR_INTERNAL);
    proto_job_t m = {0};
    long long size = 0;
    if (sql_read_dispatched(res, &m, &size) != SQL_PDF_OK) {
        log_error("cannot build REQUEST for job=%s: the job's title, file name or hash is too "
                  "long",
                  job->id);
        broker_worker_release(self, worker);
        broker_job_fail(self, job, internal, "The job could not be sent to a worker.");
        return;
    }
    if (s_by_reference(self, worker, size)) {
        if (self->stopping)
            return; /* left 'running' in PostgreSQL: the next broker recovers it as an orphan */
        /* No PDF byte on this thread: the worker fetches it (blob_server.h). */
        m.pdf = (const uint8_t *)"";
        m.pdf_len = 0;
        m.pdf_size = (uint32_t)size;
        snprintf(m.pdf_endpoint, sizeof m.pdf_endpoint, "%s", self->blob_connect);
        s_send_job(self, job, worker, &m);
        return;
    }
    s_read_ctx_t rctx;
    s_read_ctx(&rctx, ctx, job->secret_sha256, &m);
    if (blob_reader_read(self->blobs, rctx.sha256, size >= BLOB_READER_LARGE, &rctx, sizeof rctx) !=
        0) {
        log_error("out of memory reading the PDF of job=%s", job->id);
        broker_worker_release(self, worker);
        broker_job_fail(self, job, internal, "The uploaded PDF could not be read.");
    }
}

/* Encode the REQUEST for the job's current attempt with its fetched fields. NULL on failure
 * with a reason in why. */
static zmsg_t *
s_build_request(const job_t *job, proto_job_t *m, const char **why)
{
    memcpy(m->job_id, job->id, sizeof m->job_id);
    m->attempt = job->attempts;
    proto_buf_t body = {0};
    proto_error_t perr;
    if (proto_job_encode(m, &body, &perr) != 0) {
        *why = "the job cannot be encoded (PDF too large?)";
        return NULL;
    }
    char token[PROTO_ADDRESS_MAX + 1];
    zmsg_t *msg = NULL;
    /* "<job id>/<attempt>" then "/<secret>": only this attempt's worker learns the secret. */
    size_t len;
    if (proto_token_format(job->id, job->attempts, token, sizeof token) == 0 &&
        (len = strlen(token)) + 1 + PROTO_SECRET_LEN < sizeof token &&
        strlen(job->secret) == PROTO_SECRET_LEN) {
        snprintf(token + len, sizeof token - len, "/%s", job->secret);
        msg = mdpw_build_job_message(MDPW_REQUEST, token, strlen(token), body.data, body.size);
    }
    proto_buf_free(&body);
    if (msg == NULL)
        *why = "out of memory";
    return msg;
}

/* The dispatch fence of a REQUEST sent before it, or whose PDF is being read meanwhile
 * (s_request_fields), has committed, or not. Nothing waits for it: the job's result, failure or
 * requeue travels behind it on the same connection and applies only to the attempt it recorded
 * (docs/broker.md, "Sending before the dispatch commits"). A job dropped here leaves memory, so
 * a PDF read for it that arrives later does nothing (dispatch_on_pdf). */
static void
s_on_dispatch_committed(void *owner, void *ctx_p, PGresult *res, const char *error)
{
    broker_t *self = owner;
    job_ctx_t *ctx = ctx_p;
    if (error == NULL && sql_write_applied(res))
        return;
    if (error != NULL)
        log_error("dispatch failed job=%s attempt=%" PRIu32 ": %s; left to the next start",
                  ctx->job_id, ctx->attempt, error);
    else
        log_info("job not runnable any more, dropped job=%s attempt=%" PRIu32, ctx->job_id,
                 ctx->attempt);
    job_t *job = job_table_lookup(self->jobs, ctx->job_id);
    if (job != NULL && job->attempts == ctx->attempt)
        broker_job_drop(self, job); /* its worker, if it still runs it, is told to drop it */
}

/* Whether the job's REQUEST fields are known since its submission (job_t.request); fills m's
 * title, file name and hash (no PDF). */
static bool
s_request_fields(const job_t *job, proto_job_t *m)
{
    if (job->request == NULL)
        return false;
    const char *title = job->request;
    const char *filename = title + strlen(title) + 1;
    const char *sha256 = filename + strlen(filename) + 1;
    if (strlen(title) >= sizeof m->title || strlen(filename) >= sizeof m->filename ||
        strlen(sha256) >= sizeof m->sha256)
        return false;
    memset(m, 0, sizeof *m);
    memcpy(m->title, title, strlen(title) + 1);
    memcpy(m->filename, filename, strlen(filename) + 1);
    memcpy(m->sha256, sha256, strlen(sha256) + 1);
    return true;
}

/* How a dispatch goes (docs/broker.md, "Sending before the dispatch commits"). */
typedef enum {
    S_AFTER_COMMIT, /* dispatch statement, then the PDF read or a reference, then REQUEST */
    S_NOW,          /* PDF in the cache: REQUEST in this turn, the commit behind it */
    S_EARLY_READ,   /* small PDF read in parallel with the commit: REQUEST when it arrives */
} s_route_t;

/* How the job's dispatch (ctx, secret's SHA-256 hash) goes; for S_NOW m holds the REQUEST's
 * fields and the cached PDF, for S_EARLY_READ the read is queued. */
static s_route_t
s_route(broker_t *self, const job_t *job, const job_ctx_t *ctx, const char *hash, proto_job_t *m)
{
    if (!s_request_fields(job, m))
        return S_AFTER_COMMIT;
    size_t len = 0;
    const uint8_t *pdf = self->pdfs != NULL ? pdf_cache_get(self->pdfs, m->sha256, &len) : NULL;
    if (pdf != NULL) { /* small, so never by reference */
        m->pdf = pdf;
        m->pdf_len = len;
        return S_NOW;
    }
    /* A large PDF may go by reference, and the blob endpoint serves only a committed attempt. */
    if (job->request_pdf_size < 0 || job->request_pdf_size >= BLOB_READER_LARGE)
        return S_AFTER_COMMIT;
    s_read_ctx_t rctx;
    s_read_ctx(&rctx, ctx, hash, m);
    /* Queued before the dispatch statement: if that cannot be queued, the job stays QUEUED and
     * the read, whose secret no dispatch has, does nothing when it arrives. */
    if (blob_reader_read(self->blobs, rctx.sha256, false, &rctx, sizeof rctx) != 0)
        return S_AFTER_COMMIT;
    return S_EARLY_READ;
}

void
dispatch_on_pdf(void *owner, void *ctx_p, const uint8_t *data, size_t len, const char *error)
{
    broker_t *self = owner;
    s_read_ctx_t *rctx = ctx_p;
    job_ctx_t *ctx = &rctx->job;
    /* Offered for the next jobs of the same PDF, whatever became of this one: kept from its
     * second read on (pdf_cache.h), so a PDF read once costs no hash and no copy here. */
    if (data != NULL && self->pdfs != NULL && len <= PDF_CACHE_ITEM_MAX)
        (void)pdf_cache_put(self->pdfs, rctx->sha256, data, len);
    job_t *job = job_table_lookup(self->jobs, ctx->job_id);
    if (job == NULL || job->state != JOB_DISPATCHING || job->attempts != ctx->attempt ||
        strcmp(job->secret_sha256, rctx->secret_sha256) != 0)
        return; /* superseded: the worker vanished and the job went back to the queue, or the
                 * dispatch did not apply and the job left memory (or its dispatch never was) */
    worker_t *worker = job->worker;
    if (self->stopping) /* left 'running' (an orphan) or, before an early read's dispatch */
        return;         /* commits, 'queued' in PostgreSQL: the next broker runs it either way */
    const char *internal = profai_error_name(PROFAI_ERR_INTERNAL);
    if (data == NULL) {
        log_error("cannot read the PDF of job=%s: %s", job->id,
                  error != NULL ? error : "no such blob");
        broker_worker_release(self, worker);
        broker_job_fail(self, job, internal, "The uploaded PDF could not be read.");
        return;
    }
    proto_job_t m = {0};
    memcpy(m.title, rctx->title, sizeof m.title);
    memcpy(m.filename, rctx->filename, sizeof m.filename);
    memcpy(m.sha256, rctx->sha256, sizeof m.sha256);
    m.pdf = data;
    m.pdf_len = len;
    s_send_job(self, job, worker, &m);
}

/* Send the REQUEST of the job's current attempt (m: its fields) to its reserved worker; the
 * job runs from now on. */
static void
s_send_job(broker_t *self, job_t *job, worker_t *worker, proto_job_t *m)
{
    const char *internal = profai_error_name(PROFAI_ERR_INTERNAL);
    const char *why = "";
    zmsg_t *msg = s_build_request(job, m, &why);
    if (msg == NULL) {
        log_error("cannot build REQUEST for job=%s: %s", job->id, why);
        broker_worker_release(self, worker);
        broker_job_fail(self, job, internal, "The job could not be sent to a worker.");
        return;
    }
    if (broker_worker_send(self, worker, &msg) != 0) {
        broker_worker_forget(self, worker, "unreachable");
        return;
    }
    job_table_set_state(self->jobs, job, JOB_RUNNING);
    worker_registry_set_state(self->workers, worker, WORKER_BUSY);
    worker->state_since = self->now;
    job->deadline = self->now + self->job_deadline_ms;
    self->counters.dispatched++;
    broker_metrics_dispatched(self, job);
    log_info("job dispatched job=%s attempt=%" PRIu32 " worker=%s%s", job->id, job->attempts,
             worker->name, m->pdf_size > 0 ? " pdf=by-reference" : "");
}

/* ------------------------------------------------------------------ held dispatch writes */

/* The job's next dispatch (to worker, its secret's SHA-256: hash), as the dispatch statement
 * writes it, into d. */
static void
s_dispatch_record(broker_t *self, const job_t *job, const worker_t *worker, const char *hash,
                  dispatch_held_t *d)
{
    *d = (dispatch_held_t){.attempt = job->attempts + 1, .dispatched_at = self->now};
    snprintf(d->job_id, sizeof d->job_id, "%s", job->id);
    snprintf(d->worker, sizeof d->worker, "%s", worker->name);
    snprintf(d->secret_sha256, sizeof d->secret_sha256, "%s", hash);
    snprintf(d->worker_key, sizeof d->worker_key, "%s", worker->curve_key);
}

/* The parameters of sql_stmt_dispatch and sql_stmt_dispatch_sent for the dispatch d; values
 * points into d and into the buffers here, so both must outlive its use. The age (ms since the
 * dispatch) dates started_at and the deadline from the REQUEST, not from the write: a held
 * dispatch is written up to broker/dispatch_hold_ms later, like a merged one
 * (sql_stmt_dispatch_succeed). */
typedef struct {
    char attempt[16];
    char deadline[24];
    char age[24];
    const char *values[7];
} s_dispatch_values_t;

static void
s_dispatch_values(broker_t *self, const dispatch_held_t *d, s_dispatch_values_t *out)
{
    snprintf(out->attempt, sizeof out->attempt, "%" PRIu32, d->attempt);
    snprintf(out->deadline, sizeof out->deadline, "%" PRId64, self->job_deadline_ms);
    int64_t age = self->now > d->dispatched_at ? self->now - d->dispatched_at : 0;
    snprintf(out->age, sizeof out->age, "%" PRId64, age);
    /* id, attempt, worker, deadline (ms), token's SHA-256, worker key, age (ms) */
    const char *values[] = {d->job_id,        out->attempt,  d->worker, out->deadline,
                            d->secret_sha256, d->worker_key, out->age};
    memcpy(out->values, values, sizeof out->values);
}

/* Hold the write of the dispatch d: its sequence number, or 0 when nothing is held (no hold
 * configured, out of memory). */
static uint64_t
s_hold(broker_t *self, const dispatch_held_t *d)
{
    if (self->hold == NULL)
        return 0;
    return dispatch_hold_put(self->hold, d, self->now + self->dispatch_hold_ms);
}

/* Queue the held dispatch d's write, as an unheld early dispatch's (dispatch_sent). */
static void
s_write_held(broker_t *self, const dispatch_held_t *d)
{
    s_dispatch_values_t v;
    s_dispatch_values(self, d, &v);
    job_ctx_t ctx = {0};
    snprintf(ctx.job_id, sizeof ctx.job_id, "%s", d->job_id);
    ctx.attempt = d->attempt;
    if (sql_submit(self->store, &sql_stmt_dispatch_sent, v.values, 0, s_on_dispatch_committed, &ctx,
                   sizeof ctx) != STORE_OK)
        log_error("out of memory writing the dispatch of job=%s attempt=%" PRIu32
                  "; it stays queued in the database and runs again after a restart",
                  d->job_id, d->attempt);
}

/* The job's held dispatch, taken out of the hold into d: false when it has none. */
static bool
s_take_held(broker_t *self, job_t *job, dispatch_held_t *d)
{
    uint64_t seq = job->hold_seq;
    job->hold_seq = 0;
    return seq != 0 && self->hold != NULL && dispatch_hold_take(self->hold, seq, d);
}

void
dispatch_release_job(broker_t *self, const char *job_id)
{
    if (self->hold == NULL || dispatch_hold_count(self->hold) == 0)
        return;
    job_t *job = job_table_lookup(self->jobs, job_id);
    dispatch_held_t d;
    if (job != NULL && s_take_held(self, job, &d))
        s_write_held(self, &d);
}

int64_t
dispatch_release_due(broker_t *self, int64_t now)
{
    if (self->hold == NULL)
        return INT64_MAX;
    dispatch_held_t d;
    while (dispatch_hold_take_due(self->hold, now, &d)) {
        job_t *job = job_table_lookup(self->jobs, d.job_id);
        if (job != NULL && job->attempts == d.attempt)
            job->hold_seq = 0;
        s_write_held(self, &d);
    }
    int64_t due;
    return dispatch_hold_next_due(self->hold, &due) ? due : INT64_MAX;
}

void
dispatch_jobs(broker_t *self)
{
    if (self->stopping || self->paused || !store_is_up(self->store))
        return; /* paused: docs/admin.md, admin.pause */
    job_t *job;
    worker_t *worker;
    while ((worker = worker_registry_idle_first(self->workers)) != NULL &&
           (job = job_table_next_to_dispatch(self->jobs)) != NULL) {
        char secret[PROTO_SECRET_LEN + 1];
        char hash[JOB_SECRET_HASH_LEN + 1];
        if (job_secret_new(secret) != 0) {
            log_error("no random bytes for the secret of job=%s; dispatch waits", job->id);
            return;
        }
        job_secret_hash(secret, hash);
        dispatch_held_t d;
        s_dispatch_record(self, job, worker, hash, &d);
        job_ctx_t ctx;
        broker_job_ctx(&ctx, job);
        ctx.attempt = job->attempts + 1;
        proto_job_t m;
        s_route_t route = s_route(self, job, &ctx, hash, &m);
        bool early = route != S_AFTER_COMMIT;
        /* An early dispatch's write waits for its result (docs/broker.md, "Holding the
         * dispatch write"); out of memory, it goes at once. */
        uint64_t held = early ? s_hold(self, &d) : 0;
        if (held == 0) {
            s_dispatch_values_t v;
            s_dispatch_values(self, &d, &v);
            if (sql_submit(self->store, early ? &sql_stmt_dispatch_sent : &sql_stmt_dispatch,
                           v.values, 0, early ? s_on_dispatch_committed : s_on_dispatched, &ctx,
                           sizeof ctx) != STORE_OK) {
                log_error("out of memory dispatching job=%s", job->id);
                return;
            }
        }
        job->hold_seq = held;
        job->attempts++;
        memcpy(job->secret, secret, sizeof job->secret);
        memcpy(job->secret_sha256, hash, sizeof job->secret_sha256);
        memcpy(job->worker_key, worker->curve_key, sizeof job->worker_key);
        job_table_set_state(self->jobs, job, JOB_DISPATCHING);
        job->worker = worker;
        worker->job = job;
        worker_registry_set_state(self->workers, worker, WORKER_RESERVED);
        log_debug("job dispatching job=%s attempt=%" PRIu32 " worker=%s%s", job->id, job->attempts,
                  worker->name, route == S_EARLY_READ ? " pdf=read-before-commit" : "");
        /* Its fence is queued ahead of anything the worker's answer writes; an early read's
         * REQUEST goes when the PDF arrives (dispatch_on_pdf), committed or not. */
        if (route == S_NOW)
            s_send_job(self, job, worker, &m);
    }
}

/* ------------------------------------------------------------------ worker messages */

/* Read the job, attempt and secret of a PARTIAL's or FINAL's token; -1 when it is not one. */
static int
s_token_read(const mdpw_view_t *view, char *job_id, uint32_t *attempt, char *secret)
{
    size_t base = proto_token_split_secret(view->address, view->address_len, secret);
    return proto_token_parse(view->address, base, job_id, attempt);
}

/* The CURVE public key (z85) the sender of msg authenticated with, into key (41 bytes): the
 * User-Id of its connection (zap.h). "" without CURVE. */
static void
s_sender_key(broker_t *self, zmsg_t *msg, char *key)
{
    key[0] = '\0';
    if (self->zap != NULL)
        (void)zap_peer_role(self->zap, zmsg_first(msg), key);
}

/* Whether a message naming the job's current attempt proves that its sender received it
 * (docs/broker.md, "Fenced results"): the secret held in memory since dispatch or, for an
 * orphan loaded after a restart, the secret whose SHA-256 was stored at dispatch; and, when
 * the attempt was sent to a CURVE key (in memory, or jobs.worker_key after a restart), the
 * sender's key (sender_key, "" without CURVE) is that key. Logs a refusal with the worker,
 * job and public keys, never the secret. */
static bool
s_token_proven(const job_t *job, const worker_t *worker, const char *sender_key, const char *secret,
               const char *what)
{
    const char *name = worker != NULL ? worker->name : "(unregistered peer)";
    bool ok = job->secret[0] != '\0' ? job_secret_equal(job->secret, secret)
                                     : job_secret_matches_hash(job->secret_sha256, secret);
    if (!ok) {
        log_warn("forged %s refused job=%s attempt=%" PRIu32 " worker=%s: %s", what, job->id,
                 job->attempts, name, secret[0] == '\0' ? "no secret" : "wrong secret");
        return false;
    }
    if (job->worker_key[0] != '\0' && strcmp(job->worker_key, sender_key) != 0) {
        log_warn("forged %s refused job=%s attempt=%" PRIu32 " worker=%s key=%s: the attempt "
                 "was sent to key=%s",
                 what, job->id, job->attempts, name, sender_key[0] != '\0' ? sender_key : "-",
                 job->worker_key);
        return false;
    }
    if (job->state == JOB_RUNNING && job->worker != worker)
        log_warn("%s refused job=%s attempt=%" PRIu32 " worker=%s: the attempt runs on worker=%s",
                 what, job->id, job->attempts, name, job->worker != NULL ? job->worker->name : "?");
    return true;
}

/* Take over an orphan whose worker came back (a PARTIAL with its exact token). */
static void
s_job_adopt(broker_t *self, job_t *job, worker_t *worker)
{
    job_table_set_state(self->jobs, job, JOB_RUNNING);
    if (job->deadline == 0) /* a job dispatched before deadlines were recorded */
        job->deadline = self->now + self->job_deadline_ms;
    job->worker = worker;
    worker->job = job;
    worker_registry_set_state(self->workers, worker, WORKER_BUSY);
    worker->state_since = self->now;
    log_info("job adopted job=%s attempt=%" PRIu32 " worker=%s", job->id, job->attempts,
             worker->name);
    char attempts[16];
    snprintf(attempts, sizeof attempts, "%" PRIu32, job->attempts);
    const char *values[] = {job->id, attempts, worker->name};
    broker_write(self, &sql_stmt_adopt, values, NULL, NULL, 0);
}

/* A message a worker should not have sent: reject a known worker, send an unknown one away. */
static void
s_refuse(broker_t *self, zframe_t *identity, worker_t *worker, const char *why)
{
    if (worker != NULL)
        broker_worker_reject(self, worker, why);
    else
        broker_send_disconnect(self, zframe_data(identity), zframe_size(identity));
}

static void
s_on_partial(broker_t *self, zframe_t *identity, zmsg_t *msg, worker_t *worker,
             const mdpw_view_t *view)
{
    char job_id[PROTO_UUID_LEN + 1], secret[PROTO_SECRET_LEN + 1];
    uint32_t attempt;
    proto_progress_t progress;
    proto_error_t perr = {.detail = "not a job token"};
    if (s_token_read(view, job_id, &attempt, secret) != 0 ||
        proto_progress_decode(view->body, view->body_len, &progress, &perr) != 0) {
        broker_drop(self, "invalid PARTIAL from a worker", perr.detail);
        s_refuse(self, identity, worker, "invalid PARTIAL");
        return;
    }
    job_t *job = job_table_lookup(self->jobs, job_id);
    char sender_key[CURVE_KEY_LEN + 1];
    s_sender_key(self, msg, sender_key);
    bool current = job != NULL && job->attempts == attempt &&
                   (job->state == JOB_RUNNING || job->state == JOB_ORPHANED) &&
                   s_token_proven(job, worker, sender_key, secret, "PARTIAL");
    if (current && job->state == JOB_ORPHANED) {
        if (worker == NULL) {
            worker = s_worker_add(self, identity, msg, PROTO_SERVICE_COURSE);
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
        broker_send_disconnect(self, zframe_data(identity), zframe_size(identity));
    else /* RFC 18: a PARTIAL or FINAL without a pending request is invalid */
        broker_worker_reject(self, worker, "progress for a job it does not hold");
}

static void
s_on_succeeded(void *owner, void *ctx_p, PGresult *res, const char *error)
{
    broker_t *self = owner;
    job_ctx_t *ctx = ctx_p;
    if (error != NULL) {
        log_warn("course rejected by the database job=%s attempt=%" PRIu32 " worker=%s: %s",
                 ctx->job_id, ctx->attempt, ctx->worker, error);
        /* A data exception: PostgreSQL refused the JSON itself. */
        bool bad_document = sql_error_is_data(res);
        char clean[ERROR_TEXT_MAX];
        char message[ERROR_TEXT_MAX + 64];
        s_clean_text(error, clean, sizeof clean);
        snprintf(message, sizeof message, "%s: %s",
                 bad_document ? "The worker produced an invalid course document"
                              : "The course could not be stored",
                 clean);
        broker_job_record_failure(self, ctx->job_id, ctx->attempt,
                                  profai_error_name(PROFAI_ERR_INTERNAL), message);
        return;
    }
    if (!sql_write_applied(res))
        log_info("result of job=%s attempt=%" PRIu32 " not recorded: attempt superseded",
                 ctx->job_id, ctx->attempt);
    else {
        log_info("job succeeded job=%s attempt=%" PRIu32 " worker=%s course=%s", ctx->job_id,
                 ctx->attempt, ctx->worker, ctx->course_id);
        search_indexer_wake(self->indexer);
    }
}

/* A held dispatch and its course, written as one (sql_stmt_dispatch_succeed). */
typedef struct {
    job_ctx_t job;
    dispatch_held_t held;
} s_merged_ctx_t;

/* The held dispatch and the course went as one statement: when PostgreSQL refused it, nothing
 * of it committed, so the dispatch is written alone first and then the failure, as for a job
 * whose dispatch had committed before its course was refused. */
static void
s_on_dispatch_succeeded(void *owner, void *ctx_p, PGresult *res, const char *error)
{
    broker_t *self = owner;
    s_merged_ctx_t *ctx = ctx_p;
    if (error != NULL)
        s_write_held(self, &ctx->held);
    s_on_succeeded(owner, &ctx->job, res, error);
}

/* Queue the course of the job's current attempt (values: sql_stmt_succeed's): with its held
 * dispatch as one statement when it has one, else alone. */
static store_status_t
s_write_course(broker_t *self, job_t *job, const char *const *values, const size_t *lengths,
               const job_ctx_t *ctx)
{
    s_merged_ctx_t merged = {.job = *ctx};
    if (!s_take_held(self, job, &merged.held))
        return store_submit(self->store, &sql_stmt_succeed, values, lengths, 0, s_on_succeeded, ctx,
                            sizeof *ctx);
    const dispatch_held_t *d = &merged.held;
    char age[24];
    int64_t ms = self->now - d->dispatched_at;
    snprintf(age, sizeof age, "%" PRId64, ms > 0 ? ms : 0);
    /* id, attempt, worker, age, token, worker key, course, document */
    const char *v[] = {values[0],        values[2],     d->worker, age,
                       d->secret_sha256, d->worker_key, values[1], values[3]};
    size_t l[8];
    for (int i = 0; i < 7; i++)
        l[i] = strlen(v[i]);
    l[7] = lengths[3];
    store_status_t st = store_submit(self->store, &sql_stmt_dispatch_succeed, v, l, 0,
                                     s_on_dispatch_succeeded, &merged, sizeof merged);
    if (st != STORE_OK) /* the dispatch at least, as it would have gone */
        s_write_held(self, d);
    else
        self->counters.merged++;
    return st;
}

/* Record the result of the job's current attempt: a course, a deterministic failure, or a
 * transient failure that is retried. The job leaves memory unless it is retried. */
static void
s_job_complete(broker_t *self, job_t *job, const proto_result_t *result, const char *worker_name)
{
    job_ctx_t ctx;
    broker_job_ctx(&ctx, job);
    snprintf(ctx.worker, sizeof ctx.worker, "%s", worker_name);
    broker_metrics_finished(self, job);
    if (!result->ok) {
        char message[PROTO_ERROR_MAX + 1];
        const char *code = s_clean_code(result->error_code);
        s_clean_text(result->error, message, sizeof message);
        profai_error_t transient;
        if (s_transient(code, &transient)) {
            char why[PROTO_ERROR_MAX + 64];
            snprintf(why, sizeof why, "%s: %s", code, message);
            broker_job_retry(self, job, transient, why);
        } else {
            broker_job_fail(self, job, code, message);
        }
        return;
    }
    /* A course that breaks the schema of docs/api.md 5 is never stored: the attempt fails for
     * good (the same worker code would produce it again). */
    char why[200];
    if (course_check((const char *)result->course, result->course_len, why, sizeof why) != 0) {
        char clean[sizeof why];
        char message[sizeof why + 64];
        s_clean_text(why, clean, sizeof clean);
        log_warn("invalid course refused job=%s attempt=%" PRIu32 " worker=%s: %s", job->id,
                 job->attempts, worker_name, clean);
        snprintf(message, sizeof message, "The worker produced an invalid course document: %s",
                 clean);
        broker_job_fail(self, job, profai_error_name(PROFAI_ERR_INVALID_COURSE), message);
        return;
    }
    if (job_id_new(ctx.course_id) != 0) {
        broker_job_retry(self, job, PROFAI_ERR_INTERNAL, "no random bytes for a course id");
        return;
    }
    char attempts[16];
    snprintf(attempts, sizeof attempts, "%" PRIu32, job->attempts);
    const char *values[] = {job->id, ctx.course_id, attempts, (const char *)result->course};
    size_t lengths[] = {strlen(job->id), strlen(ctx.course_id), strlen(attempts),
                        result->course_len};
    /* Not isolated: results commit together (one commit for many jobs). A course the
     * database refuses fails alone; the store sends the rest of its transaction again. */
    if (s_write_course(self, job, values, lengths, &ctx) != STORE_OK) {
        log_error("out of memory storing the course of job=%s; it runs again after a restart",
                  job->id);
    }
    log_debug("job result received job=%s attempt=%" PRIu32 " worker=%s", job->id, job->attempts,
              worker_name);
    self->counters.completed++;
    job_table_remove(self->jobs, &job);
}

static void
s_on_final(broker_t *self, zframe_t *identity, zmsg_t *msg, worker_t *worker,
           const mdpw_view_t *view)
{
    char job_id[PROTO_UUID_LEN + 1], secret[PROTO_SECRET_LEN + 1];
    uint32_t attempt;
    proto_result_t result;
    proto_error_t perr = {.detail = "not a job token"};
    if (s_token_read(view, job_id, &attempt, secret) != 0 ||
        proto_result_decode(view->body, view->body_len, &result, &perr) != 0) {
        broker_drop(self, "invalid FINAL from a worker", perr.detail);
        s_refuse(self, identity, worker, "invalid FINAL");
        return;
    }
    job_t *job = job_table_lookup(self->jobs, job_id);
    char sender_key[CURVE_KEY_LEN + 1];
    s_sender_key(self, msg, sender_key);
    bool current = job != NULL && job->attempts == attempt &&
                   (job->state == JOB_RUNNING || job->state == JOB_ORPHANED) &&
                   s_token_proven(job, worker, sender_key, secret, "FINAL");
    if (current && job->state == JOB_RUNNING && job->worker == worker) {
        if (result.ok)
            worker->jobs_done++;
        else
            worker->jobs_failed++;
        broker_worker_release(self, worker);
        s_job_complete(self, job, &result, worker->name);
        return;
    }
    if (current && job->state == JOB_ORPHANED) {
        /* A worker that finished while no broker was listening: the token proves it. After a
         * FINAL an MDP worker is ready, so an unknown sender becomes an idle worker. */
        if (worker == NULL) {
            worker = s_worker_add(self, identity, msg, PROTO_SERVICE_COURSE);
            if (worker != NULL)
                log_info("worker ready worker=%s service=%s (came back with a result)",
                         worker->name, worker->service);
        }
        log_info("orphan result accepted job=%s attempt=%" PRIu32 " worker=%s", job->id, attempt,
                 worker != NULL ? worker->name : "?");
        s_job_complete(self, job, &result, worker != NULL ? worker->name : "?");
        return;
    }
    /* Late: the job finished or went to another attempt. Otherwise s_token_proven has said why
     * (a token not proven, or the attempt runs on another worker). */
    if (job == NULL || job->attempts != attempt ||
        (job->state != JOB_RUNNING && job->state != JOB_ORPHANED))
        log_info("dropping late result job=%s attempt=%" PRIu32 " current=%" PRIu32, job_id,
                 attempt, job != NULL ? job->attempts : 0);
    if (worker == NULL)
        broker_send_disconnect(self, zframe_data(identity), zframe_size(identity));
    else /* RFC 18: a PARTIAL or FINAL without a pending request is invalid */
        broker_worker_reject(self, worker, "result for a job it does not hold");
}

static void
s_on_ready(broker_t *self, zframe_t *identity, zmsg_t *msg, worker_t *worker,
           const mdpw_view_t *view)
{
    if (worker != NULL) {
        broker_worker_reject(self, worker, "READY while already known");
        return;
    }
    worker = s_worker_add(self, identity, msg, view->service);
    if (worker == NULL) {
        log_error("out of memory accepting a worker");
        broker_send_disconnect(self, zframe_data(identity), zframe_size(identity));
        return;
    }
    if (worker->state == WORKER_UNSERVED)
        log_warn("worker ready worker=%s service=%s: no jobs for this service here; it only "
                 "gets heartbeats",
                 worker->name, worker->service);
    else
        log_info("worker ready worker=%s service=%s", worker->name, worker->service);
}

void
dispatch_on_worker_message(broker_t *self, zframe_t *identity, zmsg_t *msg)
{
    mdpw_view_t view;
    proto_error_t perr;
    worker_t *worker =
        worker_registry_lookup(self->workers, zframe_data(identity), zframe_size(identity));
    if (mdpw_parse(msg, PROTO_RESULT_BODY_MAX, &view, &perr) != 0) {
        broker_drop(self, "invalid worker message", perr.detail);
        if (worker != NULL)
            broker_worker_reject(self, worker, "invalid message");
        return;
    }
    if (worker != NULL && view.command != MDPW_DISCONNECT)
        worker_registry_touch(self->workers, worker, self->now);
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
        if (worker == NULL && job_table_counts(self->jobs).orphaned == 0)
            broker_send_disconnect(self, zframe_data(identity), zframe_size(identity));
        break;
    case MDPW_DISCONNECT:
        if (worker != NULL)
            broker_worker_forget(self, worker, "disconnected");
        break;
    default: /* REQUEST goes broker -> worker only */
        s_refuse(self, identity, worker, "unexpected command");
        break;
    }
}
