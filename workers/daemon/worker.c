/* worker.c - see worker.h. */
#include "worker.h"

#include "log.h"
#include "notify.h"
#include "pdf_fetch.h"
#include "profai/worker_identity.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* docs/protocol.md section 5: worker DEALER options. */
#define WORKER_MAXMSGSIZE ((int)(PROTO_PDF_MAX + 64u * 1024))
#define WORKER_LINGER_MS 1000
/* Longest sleep of the loop: timers are computed, this only bounds clock surprises. */
#define WORKER_POLL_MAX_MS 1000

/*
 * Connection state of a slot. Transitions (all through s_slot_set_state):
 *   OFFLINE -> ONLINE   connected a new socket and sent READY
 *   ONLINE  -> OFFLINE  broker silent, DISCONNECT received, send failed or protocol error
 *   OFFLINE -> CLOSED   stopping with nothing left to deliver
 *   ONLINE  -> CLOSED   stopping: DISCONNECT sent, socket closed
 * CLOSED is final. A slot whose job outlives its connection stays OFFLINE until the job ends,
 * so that it never announces READY while it cannot take a job.
 */
typedef enum { SLOT_OFFLINE, SLOT_ONLINE, SLOT_CLOSED } slot_state_t;

static const char *const s_state_names[] = {"offline", "online", "closed"};

typedef struct {
    int index;
    slot_state_t state;
    zsock_t *sock;      /* ONLINE only */
    int64_t last_sent;  /* any command sent (for heartbeats) */
    int64_t last_heard; /* any valid command received (for liveness) */
    /* READY went out. The socket has ZMQ_IMMEDIATE set, so a send succeeds only once the
     * connection to a broker is up: until then the slot waits (ZeroMQ retries the connection
     * by itself), without heartbeats and without a liveness clock, so it connects within a
     * second of a broker coming back, however long it was away. */
    bool ready_sent;
    bool waiting_logged;  /* "broker not reachable yet" was logged for this socket */
    int64_t reconnect_at; /* OFFLINE: earliest next connect */
    int64_t backoff;      /* next back-off delay */
    int endpoint_at;      /* index in worker_t.endpoints of the broker tried now */
    int result_keeps;     /* DISCONNECTs after which the held result was kept (s_keep_result) */

    /* The job, if any: running (runner != NULL) or finished and not yet delivered. */
    uint8_t address[PROTO_ADDRESS_MAX];
    size_t address_len;
    char job_id[PROTO_ADDRESS_MAX + 1]; /* for logs: the job uuid, or the printable address */
    uint32_t attempt;                   /* for logs: 0 when the address is not a token */
    job_runner_t *runner;
    /* A job whose PDF comes by reference is fetched first (pdf_fetch.h): fetch != NULL, and
     * fetch_job holds its fields until the extractor starts. */
    pdf_fetch_t *fetch;
    proto_job_t fetch_job;
    proto_buf_t result; /* encoded RESULT body waiting for delivery; data NULL when none */
    /* The FINAL went out on the current connection. The result is kept until the broker is
     * heard from on it: a DEALER queues what it sends to a broker that is down, and a socket
     * closed after broker silence would throw the FINAL away. */
    bool result_sent;
    int64_t started;
    int64_t progress_sent; /* last PARTIAL */
    bool progress_dirty;   /* new progress not yet sent */
} slot_t;

/* Brokers a worker may follow (worker/broker, a comma-separated list): a leader and its
 * standbys (docs/broker.md, "Standby broker"). */
#define WORKER_ENDPOINTS_MAX 8

struct worker_t {
    char *endpoint;
    char *endpoints[WORKER_ENDPOINTS_MAX]; /* pointers into endpoint_list */
    int nendpoints;
    char *endpoint_list;
    char *service;
    char *extract_path;
    char *log_level;
    worker_config_t config; /* strings point at the copies above */
    slot_t *slots;
    bool draining;
    int64_t drain_deadline;
};

/* ---------------------------------------------------------------- lifecycle */

worker_t *
worker_new(const worker_config_t *config)
{
    if (config->concurrency < 1 || config->concurrency > WORKER_CONCURRENCY_MAX ||
        config->heartbeat_ivl < 1 || config->liveness < 1 || config->endpoint == NULL ||
        config->service == NULL || config->limits.extract_path == NULL)
        return NULL;
    worker_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->config = *config;
    self->endpoint = strdup(config->endpoint);
    self->service = strdup(config->service);
    self->extract_path = strdup(config->limits.extract_path);
    self->log_level = strdup(config->limits.log_level != NULL ? config->limits.log_level : "warn");
    self->slots = calloc((size_t)config->concurrency, sizeof *self->slots);
    if (self->endpoint == NULL || self->service == NULL || self->extract_path == NULL ||
        self->log_level == NULL || self->slots == NULL) {
        worker_destroy(&self);
        return NULL;
    }
    self->config.endpoint = self->endpoint;
    self->endpoint_list = strdup(config->endpoint);
    if (self->endpoint_list == NULL) {
        worker_destroy(&self);
        return NULL;
    }
    for (char *save = NULL, *e = strtok_r(self->endpoint_list, ", ", &save);
         e != NULL && self->nendpoints < WORKER_ENDPOINTS_MAX; e = strtok_r(NULL, ", ", &save))
        self->endpoints[self->nendpoints++] = e;
    if (self->nendpoints == 0) {
        worker_destroy(&self);
        return NULL;
    }
    self->config.service = self->service;
    self->config.limits.extract_path = self->extract_path;
    self->config.limits.log_level = self->log_level;
    for (int i = 0; i < config->concurrency; i++) {
        self->slots[i].index = i;
        self->slots[i].state = SLOT_OFFLINE;
        self->slots[i].backoff = WORKER_BACKOFF_MIN_MS;
        self->slots[i].endpoint_at = i % self->nendpoints;
    }
    return self;
}

void
worker_destroy(worker_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    worker_t *self = *self_p;
    for (int i = 0; self->slots != NULL && i < self->config.concurrency; i++) {
        slot_t *slot = &self->slots[i];
        job_runner_destroy(&slot->runner);
        pdf_fetch_destroy(&slot->fetch);
        proto_buf_free(&slot->result);
        zsock_destroy(&slot->sock);
    }
    free(self->slots);
    free(self->endpoint);
    free(self->endpoint_list);
    free(self->service);
    free(self->extract_path);
    free(self->log_level);
    free(self);
    *self_p = NULL;
}

/* ---------------------------------------------------------------- slot helpers */

static void
s_slot_set_state(slot_t *slot, slot_state_t next)
{
    bool allowed = (slot->state == SLOT_OFFLINE && next != SLOT_OFFLINE) ||
                   (slot->state == SLOT_ONLINE && next != SLOT_ONLINE);
    if (!allowed) {
        log_error("slot=%d impossible state change %s -> %s", slot->index,
                  s_state_names[slot->state], s_state_names[next]);
        abort(); /* a programming error, never an input error */
    }
    slot->state = next;
}

static bool
s_slot_busy(const slot_t *slot)
{
    return slot->runner != NULL || slot->fetch != NULL || slot->result.data != NULL;
}

/* Whether the slot's job is still at work: its PDF being fetched, or its extractor running. */
static bool
s_slot_working(const slot_t *slot)
{
    return slot->runner != NULL || slot->fetch != NULL;
}

/* Whether a stopping slot has nothing left to do. A FINAL already sent goes out before the
 * DISCONNECT (same connection, socket linger): waiting for the broker's word would only delay
 * the exit. */
static bool
s_slot_may_close(const slot_t *slot)
{
    return !s_slot_busy(slot) || (!s_slot_working(slot) && slot->result_sent);
}

/* Send msg (always consumed). Updates last_sent on success. */
static int
s_slot_send(slot_t *slot, zmsg_t **msg, int64_t now)
{
    if (*msg == NULL)
        return -1;
    if (slot->sock == NULL || zmsg_send(msg, slot->sock) != 0) {
        zmsg_destroy(msg);
        return -1;
    }
    slot->last_sent = now;
    return 0;
}

static void
s_slot_send_command(slot_t *slot, zmsg_t *msg, int64_t now)
{
    s_slot_send(slot, &msg, now);
}

/* The broker endpoint the slot uses now. */
static const char *
s_endpoint(const worker_t *self, const slot_t *slot)
{
    return self->endpoints[slot->endpoint_at];
}

/* Close the socket after a failure; reconnect after the back-off (and after the job ends), to
 * the next endpoint when there are several: a standby sends DISCONNECT, a dead leader is
 * silent, and the next endpoint may be the leader now. */
static void
s_slot_go_offline(worker_t *self, slot_t *slot, int64_t now, const char *why)
{
    const char *left = s_endpoint(self, slot);
    slot->endpoint_at = (slot->endpoint_at + 1) % self->nendpoints;
    if (slot->result_sent)
        log_info("slot=%d job=%s attempt=%u result not confirmed by the broker; sent again "
                 "after reconnecting",
                 slot->index, slot->job_id, slot->attempt);
    slot->result_sent = false;
    zsock_destroy(&slot->sock);
    s_slot_set_state(slot, SLOT_OFFLINE);
    slot->reconnect_at = now + slot->backoff;
    log_warn("slot=%d %s at %s; reconnecting to %s in %lld ms%s", slot->index, why, left,
             s_endpoint(self, slot), (long long)slot->backoff,
             s_slot_working(slot) ? " once its job ends" : "");
    slot->backoff *= 2;
    if (slot->backoff > WORKER_BACKOFF_MAX_MS)
        slot->backoff = WORKER_BACKOFF_MAX_MS;
}

/* Leave for good: DISCONNECT if connected (the broker then requeues whatever it thinks we
 * hold), close. */
static void
s_slot_close(slot_t *slot, int64_t now)
{
    if (slot->state == SLOT_ONLINE)
        s_slot_send_command(slot, mdpw_build_disconnect(), now);
    zsock_destroy(&slot->sock);
    s_slot_set_state(slot, SLOT_CLOSED);
    log_info("slot=%d closed", slot->index);
}

/* Send the held RESULT as FINAL if connected; keep it until the broker answers anything on
 * this connection (s_slot_confirm_delivery). */
static void
s_slot_deliver(worker_t *self, slot_t *slot, int64_t now)
{
    if (slot->result.data == NULL || slot->state != SLOT_ONLINE || !slot->ready_sent ||
        slot->result_sent)
        return;
    zmsg_t *msg = mdpw_build_job_message(MDPW_FINAL, slot->address, slot->address_len,
                                         slot->result.data, slot->result.size);
    if (s_slot_send(slot, &msg, now) != 0) {
        s_slot_go_offline(self, slot, now, "cannot send FINAL");
        return;
    }
    slot->result_sent = true;
    log_debug("slot=%d job=%s attempt=%u result sent", slot->index, slot->job_id, slot->attempt);
}

/* The broker spoke on the connection the FINAL went out on: it has it (messages of one
 * connection arrive in order), so the result can go. */
static void
s_slot_confirm_delivery(slot_t *slot)
{
    if (slot->result.data == NULL || !slot->result_sent)
        return;
    log_info("slot=%d job=%s attempt=%u result delivered", slot->index, slot->job_id,
             slot->attempt);
    proto_buf_free(&slot->result);
    slot->result_sent = false;
    slot->result_keeps = 0;
}

/* Send READY once the new socket is connected (then the held result, if any). */
static void
s_slot_try_ready(worker_t *self, slot_t *slot, int64_t now)
{
    if (slot->state != SLOT_ONLINE || slot->ready_sent)
        return;
    zmsg_t *msg = mdpw_build_ready(self->service);
    if (s_slot_send(slot, &msg, now) != 0)
        return; /* not connected yet */
    slot->ready_sent = true;
    slot->last_heard = now; /* the liveness clock starts with READY */
    log_info("slot=%d connected to %s, READY %s%s", slot->index, s_endpoint(self, slot),
             self->service, slot->result.data != NULL ? ", delivering the held result" : "");
    s_slot_deliver(self, slot, now);
}

/* A fresh identity per socket carrying host, pid and version for the broker's admin socket
 * (profai/worker_identity.h); fresh, so that a reconnecting slot is never taken for its old
 * connection. Without one, ZeroMQ makes up an opaque identity, which works as well. */
static void
s_set_identity(zsock_t *sock)
{
    uint8_t random[WORKER_IDENTITY_RANDOM], identity[WORKER_IDENTITY_SIZE];
    char host[WORKER_IDENTITY_HOST_MAX + 1] = "";
    if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random)
        return;
    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    size_t len = worker_identity_format(identity, random, host, (uint32_t)getpid(), PROFAI_VERSION);
    /* Protocol 1.2: large PDFs may come by reference (docs/protocol.md 3.6). */
    len = worker_identity_add_fetch(identity, len);
    zmq_setsockopt(zsock_resolve(sock), ZMQ_ROUTING_ID, identity, len);
}

static void
s_slot_connect(worker_t *self, slot_t *slot, int64_t now)
{
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (sock == NULL) {
        s_slot_go_offline(self, slot, now, "cannot create a socket");
        return;
    }
    zsock_set_maxmsgsize(sock, WORKER_MAXMSGSIZE);
    zsock_set_linger(sock, WORKER_LINGER_MS);
    s_set_identity(sock);
    /* Never block the loop on a send: a full queue means the broker is not reading. */
    zsock_set_sndtimeo(sock, 0);
    /* Queue nothing for a broker that is not there: a send succeeds only on a live connection
     * (docs/worker.md, "Waiting for a broker that is down"). ZeroMQ retries the connection
     * itself, 100 ms doubling to 1 s. */
    zsock_set_immediate(sock, 1);
    zsock_set_reconnect_ivl_max(sock, WORKER_RECONNECT_IVL_MAX_MS);
    curve_apply_client(&self->config.curve, sock);
    if (zsock_connect(sock, "%s", s_endpoint(self, slot)) != 0) {
        zsock_destroy(&sock);
        log_error("slot=%d cannot connect to %s: %s", slot->index, s_endpoint(self, slot),
                  zmq_strerror(zmq_errno()));
        slot->reconnect_at = now + WORKER_BACKOFF_MAX_MS;
        return;
    }
    slot->sock = sock;
    s_slot_set_state(slot, SLOT_ONLINE);
    slot->last_heard = now;
    slot->ready_sent = false;
    slot->waiting_logged = false;
    s_slot_try_ready(self, slot, now);
}

/* ---------------------------------------------------------------- jobs */

/* Keep the address to echo it; split it into job id and attempt for log lines (an address
 * that is not a token is logged as printable text). The attempt's secret at the end of the
 * token (docs/protocol.md, 3.1) is echoed but never logged nor passed on. */
static void
s_slot_set_address(slot_t *slot, const uint8_t *address, size_t len)
{
    memcpy(slot->address, address, len);
    slot->address_len = len;
    slot->attempt = 0;
    char secret[PROTO_SECRET_LEN + 1];
    len = proto_token_split_secret(address, len, secret);
    if (proto_token_parse(address, len, slot->job_id, &slot->attempt) == 0)
        return;
    for (size_t i = 0; i < len; i++)
        slot->job_id[i] = isprint(address[i]) ? (char)address[i] : '?';
    slot->job_id[len] = '\0';
}

/* A job that fails before any child runs: deliver ok = false at once. */
static void
s_slot_fail_job(worker_t *self, slot_t *slot, int64_t now, profai_error_t code,
                const char *sentence)
{
    if (job_runner_failure_body(code, sentence, &slot->result) != 0) {
        /* Cannot even say why: let the broker requeue the job elsewhere. */
        s_slot_go_offline(self, slot, now, "cannot encode a RESULT");
        return;
    }
    log_warn("slot=%d job=%s attempt=%u failed before parsing: %s: %s", slot->index, slot->job_id,
             slot->attempt, profai_error_name(code), sentence);
    s_slot_deliver(self, slot, now);
}

static void
s_slot_send_progress(slot_t *slot, int64_t now)
{
    proto_buf_t body = {0};
    proto_error_t err;
    slot->progress_sent = now;
    slot->progress_dirty = false;
    if (proto_progress_encode(job_runner_progress(slot->runner), &body, &err) != 0)
        return;
    zmsg_t *msg = mdpw_build_job_message(MDPW_PARTIAL, slot->address, slot->address_len, body.data,
                                         body.size);
    proto_buf_free(&body);
    s_slot_send(slot, &msg, now); /* a lost PARTIAL is harmless: the next one follows */
}

static void s_slot_run_job(worker_t *self, slot_t *slot, const proto_job_t *job, int64_t now);

/* How long a fetch may go without an answer: a liveness period, and at least
 * WORKER_FETCH_SILENCE_MIN_MS, as the blob endpoint serves every fetching worker in turn. */
static int64_t
s_fetch_silence_ms(const worker_t *self)
{
    int64_t period = self->config.heartbeat_ivl * self->config.liveness;
    return period > WORKER_FETCH_SILENCE_MIN_MS ? period : WORKER_FETCH_SILENCE_MIN_MS;
}

/* The REQUEST carried a reference (docs/protocol.md 3.6): fetch the PDF from the blob
 * endpoint with the attempt's token first. A failure fails the attempt with `internal`, which
 * the broker retries. */
static void
s_slot_fetch_pdf(worker_t *self, slot_t *slot, const proto_job_t *job, int64_t now)
{
    char reason[256];
    if (job->pdf_len != 0) {
        s_slot_fail_job(self, slot, now, PROFAI_ERR_INTERNAL,
                        "bad job message: both a PDF and a PDF reference");
        return;
    }
    slot->fetch = pdf_fetch_new(job->pdf_endpoint, &self->config.curve, slot->address,
                                slot->address_len, job->pdf_size, job->sha256,
                                s_fetch_silence_ms(self), now, reason, sizeof reason);
    if (slot->fetch == NULL) {
        char sentence[PROTO_ERROR_MAX];
        snprintf(sentence, sizeof sentence, "The worker could not fetch the PDF: %.900s.", reason);
        s_slot_fail_job(self, slot, now, PROFAI_ERR_INTERNAL, sentence);
        return;
    }
    slot->fetch_job = *job;
    slot->fetch_job.pdf = NULL;
    slot->started = now;
    log_info("slot=%d job=%s attempt=%u fetching %u bytes from %s", slot->index, job->job_id,
             job->attempt, job->pdf_size, job->pdf_endpoint);
}

/* Make progress on the slot's fetch; run the job once its PDF is here and checked. */
static void
s_slot_on_fetch(worker_t *self, slot_t *slot, int64_t now)
{
    pdf_fetch_state_t state = pdf_fetch_service(slot->fetch, now);
    if (state == PDF_FETCH_RUNNING)
        return;
    if (state == PDF_FETCH_FAILED) {
        char sentence[PROTO_ERROR_MAX];
        snprintf(sentence, sizeof sentence, "The worker could not fetch the PDF: %.900s.",
                 pdf_fetch_error(slot->fetch));
        pdf_fetch_destroy(&slot->fetch);
        s_slot_fail_job(self, slot, now, PROFAI_ERR_INTERNAL, sentence);
        return;
    }
    proto_job_t job = slot->fetch_job;
    job.pdf = pdf_fetch_data(slot->fetch, &job.pdf_len);
    log_info("slot=%d job=%s attempt=%u fetched %zu bytes in %lld ms, SHA-256 checked", slot->index,
             slot->job_id, slot->attempt, job.pdf_len, (long long)(now - slot->started));
    s_slot_run_job(self, slot, &job, now); /* copies the PDF into the extractor's memfd */
    pdf_fetch_destroy(&slot->fetch);
}

static void
s_slot_start_job(worker_t *self, slot_t *slot, const mdpw_view_t *view, int64_t now)
{
    s_slot_set_address(slot, view->address, view->address_len);
    proto_job_t job;
    proto_error_t err;
    if (proto_job_decode(view->body, view->body_len, &job, &err) != 0) {
        char sentence[PROTO_ERROR_MAX];
        snprintf(sentence, sizeof sentence, "bad job message: %s", err.detail);
        s_slot_fail_job(self, slot, now, PROFAI_ERR_INTERNAL, sentence);
        return;
    }
    if (slot->attempt == 0 || strcmp(slot->job_id, job.job_id) != 0 ||
        slot->attempt != job.attempt) {
        s_slot_fail_job(self, slot, now, PROFAI_ERR_INTERNAL,
                        "bad job message: the job token does not match the job");
        return;
    }
    if (job.pdf_size > 0) {
        s_slot_fetch_pdf(self, slot, &job, now);
        return;
    }
    s_slot_run_job(self, slot, &job, now);
}

/* Start the extractor on job's PDF. */
static void
s_slot_run_job(worker_t *self, slot_t *slot, const proto_job_t *job, int64_t now)
{
    char reason[256];
    /* The extractor's --job= names the job for its logs: the token without the secret, which
     * any local user could read in its command line. */
    char token[PROTO_ADDRESS_MAX + 1], secret[PROTO_SECRET_LEN + 1];
    size_t token_len = proto_token_split_secret(slot->address, slot->address_len, secret);
    memcpy(token, slot->address, token_len);
    token[token_len] = '\0';
    /* A large PDF is split over the cores this host has to spare: those the other slots' jobs
     * do not hold (docs/worker.md, "Large documents"). */
    job_limits_t limits = self->config.limits;
    for (int i = 0; i < self->config.concurrency; i++) {
        if (&self->slots[i] != slot && self->slots[i].runner != NULL)
            limits.split_processes--;
    }
    slot->runner = job_runner_start(&limits, job, token, now, reason, sizeof reason);
    if (slot->runner == NULL) {
        log_error("slot=%d job=%s attempt=%u %s", slot->index, slot->job_id, slot->attempt, reason);
        s_slot_fail_job(self, slot, now, PROFAI_ERR_INTERNAL,
                        "The worker could not start the PDF parser.");
        return;
    }
    slot->started = now;
    log_info("slot=%d job=%s attempt=%u started: %zu bytes, pid %ld", slot->index, job->job_id,
             job->attempt, job->pdf_len, (long)job_runner_pid(slot->runner));
    s_slot_send_progress(slot, now);
}

static void
s_slot_finish_job(worker_t *self, slot_t *slot, int64_t now)
{
    job_outcome_t outcome = JOB_OUTCOME_FAILED;
    char summary[160];
    snprintf(summary, sizeof summary, "%s", profai_error_name(PROFAI_ERR_INTERNAL));
    uint32_t pages = job_runner_progress(slot->runner)->pages;
    if (job_runner_take_result(slot->runner, &slot->result, &outcome, summary, sizeof summary) !=
        0) {
        snprintf(summary, sizeof summary, "%s (cannot encode the result)",
                 profai_error_name(PROFAI_ERR_INTERNAL));
        if (job_runner_failure_body(PROFAI_ERR_INTERNAL, "The worker could not encode the result.",
                                    &slot->result) != 0)
            proto_buf_free(&slot->result);
    }
    job_runner_destroy(&slot->runner);
    bool bad = outcome == JOB_OUTCOME_CRASHED || outcome == JOB_OUTCOME_TIMEOUT ||
               outcome == JOB_OUTCOME_FAILED;
    log_write(bad ? PROFAI_LOG_WARN : PROFAI_LOG_INFO,
              "slot=%d job=%s attempt=%u finished: %s, pages=%u, %lld ms%s", slot->index,
              slot->job_id, slot->attempt, summary, pages, (long long)(now - slot->started),
              slot->state == SLOT_ONLINE ? "" : ", result held until the broker is back");
    if (slot->result.data == NULL) {
        if (slot->state == SLOT_ONLINE)
            s_slot_go_offline(self, slot, now, "cannot encode a RESULT");
        return;
    }
    s_slot_deliver(self, slot, now);
}

/* ---------------------------------------------------------------- messages */

static void
s_slot_on_request(worker_t *self, slot_t *slot, const mdpw_view_t *view, int64_t now)
{
    if (s_slot_busy(slot) || self->draining) {
        /* The broker thinks we are free and we are not: say goodbye so that it requeues the
         * job, and come back with READY when we can take one. */
        log_warn("slot=%d REQUEST while %s; sending DISCONNECT", slot->index,
                 self->draining ? "stopping" : "busy");
        s_slot_send_command(slot, mdpw_build_disconnect(), now);
        if (self->draining && !s_slot_busy(slot)) {
            zsock_destroy(&slot->sock);
            s_slot_set_state(slot, SLOT_CLOSED);
        } else {
            s_slot_go_offline(self, slot, now, "protocol state mismatch");
        }
        return;
    }
    s_slot_start_job(self, slot, view, now);
}

/* The broker took this slot's job away (cancelled, past its deadline, or given to another
 * worker): it only sends DISCONNECT to a busy worker then. Kill the parser and drop the result;
 * the slot comes back free, with READY on a new connection. */
static void
s_slot_drop_job(slot_t *slot)
{
    if (!s_slot_busy(slot))
        return;
    if (slot->runner != NULL)
        log_warn("slot=%d job=%s attempt=%u stopped: the broker took the job away (pid %ld "
                 "killed)",
                 slot->index, slot->job_id, slot->attempt, (long)job_runner_pid(slot->runner));
    else
        log_warn("slot=%d job=%s attempt=%u result dropped: the broker took the job away",
                 slot->index, slot->job_id, slot->attempt);
    if (slot->fetch != NULL)
        log_warn("slot=%d job=%s attempt=%u fetch stopped: the broker took the job away",
                 slot->index, slot->job_id, slot->attempt);
    pdf_fetch_destroy(&slot->fetch);
    job_runner_destroy(&slot->runner); /* SIGKILL, then reaped */
    proto_buf_free(&slot->result);
    slot->result_sent = false;
    slot->result_keeps = 0;
}

/* A DISCONNECT came while a finished job's result waits for delivery. With one endpoint it
 * means the broker dropped the result (a late attempt): drop it. With several, it may be a
 * standby's answer to READY (docs/broker.md, "Standby broker"), so the result is kept and
 * offered to the next endpoint, once per other endpoint at most; a leader that refuses it too
 * ends it. */
static bool
s_slot_keep_result(const worker_t *self, slot_t *slot)
{
    if (self->nendpoints < 2 || s_slot_working(slot) || slot->result.data == NULL ||
        slot->result_keeps >= self->nendpoints - 1)
        return false;
    slot->result_keeps++;
    slot->result_sent = false;
    return true;
}

static void
s_slot_receive(worker_t *self, slot_t *slot, int64_t now)
{
    zmsg_t *msg = zmsg_recv(slot->sock);
    if (msg == NULL)
        return;
    mdpw_view_t view;
    proto_error_t err;
    if (mdpw_parse(msg, PROTO_JOB_BODY_MAX, &view, &err) != 0) {
        /* Whatever it was (perhaps a REQUEST we cannot read), the broker and this slot no
         * longer agree: start over, so that the broker requeues anything it thinks we hold. */
        zmsg_destroy(&msg);
        char why[320];
        snprintf(why, sizeof why, "invalid message from the broker (%s)", err.detail);
        s_slot_send_command(slot, mdpw_build_disconnect(), now);
        s_slot_go_offline(self, slot, now, why);
        return;
    }
    slot->last_heard = now;
    slot->backoff = WORKER_BACKOFF_MIN_MS; /* the connection works */
    if (view.command == MDPW_DISCONNECT && s_slot_keep_result(self, slot)) {
        log_info("slot=%d job=%s attempt=%u result kept for the next endpoint", slot->index,
                 slot->job_id, slot->attempt);
        s_slot_go_offline(self, slot, now, "DISCONNECT from the broker");
        return;
    }
    s_slot_confirm_delivery(slot);
    switch (view.command) {
    case MDPW_HEARTBEAT:
        break;
    case MDPW_DISCONNECT:
        s_slot_drop_job(slot);
        s_slot_go_offline(self, slot, now, "DISCONNECT from the broker");
        break;
    case MDPW_REQUEST:
        s_slot_on_request(self, slot, &view, now);
        break;
    default:
        log_warn("slot=%d ignored unexpected command %d from the broker", slot->index,
                 (int)view.command);
        break;
    }
    zmsg_destroy(&msg);
}

/* ---------------------------------------------------------------- timers */

static void
s_slot_tick_job(worker_t *self, slot_t *slot, int64_t now)
{
    if (slot->fetch != NULL && now >= pdf_fetch_deadline(slot->fetch))
        s_slot_on_fetch(self, slot, now);
    if (slot->runner == NULL)
        return;
    if (now >= job_runner_next_check(slot->runner) && job_runner_check(slot->runner, now)) {
        s_slot_finish_job(self, slot, now);
        return;
    }
    if (slot->state != SLOT_ONLINE)
        return;
    int64_t since = now - slot->progress_sent;
    if ((slot->progress_dirty && since >= WORKER_PROGRESS_MIN_GAP_MS) ||
        since >= WORKER_PROGRESS_KEEPALIVE_MS)
        s_slot_send_progress(slot, now);
}

static void
s_slot_tick_drain(worker_t *self, slot_t *slot, int64_t now)
{
    if (now >= self->drain_deadline) {
        if (slot->runner != NULL)
            log_warn(
                "slot=%d job=%s attempt=%u abandoned at the drain timeout (the broker requeues it)",
                slot->index, slot->job_id, slot->attempt);
        else if (slot->result.data != NULL)
            log_warn("slot=%d job=%s attempt=%u result dropped at the drain timeout", slot->index,
                     slot->job_id, slot->attempt);
        job_runner_destroy(&slot->runner);
        pdf_fetch_destroy(&slot->fetch);
        proto_buf_free(&slot->result);
        slot->result_sent = false;
    }
    if (s_slot_may_close(slot))
        s_slot_close(slot, now);
}

static void
s_slot_tick(worker_t *self, slot_t *slot, int64_t now)
{
    if (slot->state == SLOT_CLOSED)
        return;
    s_slot_tick_job(self, slot, now);
    if (self->draining) {
        s_slot_tick_drain(self, slot, now);
        if (slot->state == SLOT_CLOSED)
            return;
    }
    if (slot->state == SLOT_ONLINE && !slot->ready_sent) {
        s_slot_try_ready(self, slot, now);
        int64_t waited = now - slot->last_heard;
        int64_t period = self->config.heartbeat_ivl * self->config.liveness;
        if (!slot->ready_sent && !slot->waiting_logged && waited >= period) {
            log_warn("slot=%d broker at %s not reachable for %lld ms; still trying (with CURVE, "
                     "also check that the broker accepts this host's key)",
                     slot->index, s_endpoint(self, slot), (long long)waited);
            slot->waiting_logged = true;
        }
        /* Several brokers: one that cannot be reached for a liveness period may be a leader
         * that died; try the next. */
        if (!slot->ready_sent && self->nendpoints > 1 && waited >= period) {
            zsock_destroy(&slot->sock);
            s_slot_set_state(slot, SLOT_OFFLINE);
            slot->endpoint_at = (slot->endpoint_at + 1) % self->nendpoints;
            s_slot_connect(self, slot, now);
            return;
        }
        /* libzmq 4.3 ends a connection's retries for good when the broker refuses the CURVE
         * handshake (a key not yet, or no longer, in its allow-list): a fresh socket tries
         * again, so a key added at the broker is taken within about this period. */
        if (!slot->ready_sent && self->config.curve.enabled && waited >= 2 * period) {
            bool logged = slot->waiting_logged;
            zsock_destroy(&slot->sock);
            s_slot_set_state(slot, SLOT_OFFLINE);
            s_slot_connect(self, slot, now);
            slot->waiting_logged = logged;
        }
    } else if (slot->state == SLOT_ONLINE) {
        int64_t silent = now - slot->last_heard;
        if (silent >= self->config.heartbeat_ivl * self->config.liveness) {
            char why[96];
            snprintf(why, sizeof why, "broker silent for %lld ms", (long long)silent);
            s_slot_go_offline(self, slot, now, why);
        } else if (now - slot->last_sent >= self->config.heartbeat_ivl) {
            s_slot_send_command(slot, mdpw_build_heartbeat(), now);
        }
    } else if (!s_slot_working(slot) && now >= slot->reconnect_at) {
        s_slot_connect(self, slot, now);
    }
}

/* The earliest time any timer of slot needs the loop. */
static int64_t
s_slot_next_timer(const worker_t *self, const slot_t *slot)
{
    int64_t next = INT64_MAX;
#define EARLIER(t)                                                                                 \
    do {                                                                                           \
        int64_t t_ = (t);                                                                          \
        if (t_ < next)                                                                             \
            next = t_;                                                                             \
    } while (0)
    if (slot->state == SLOT_CLOSED)
        return next;
    if (slot->fetch != NULL)
        EARLIER(pdf_fetch_deadline(slot->fetch));
    if (slot->runner != NULL) {
        EARLIER(job_runner_next_check(slot->runner));
        if (slot->state == SLOT_ONLINE)
            EARLIER(slot->progress_sent + (slot->progress_dirty ? WORKER_PROGRESS_MIN_GAP_MS
                                                                : WORKER_PROGRESS_KEEPALIVE_MS));
    }
    if (slot->state == SLOT_ONLINE && !slot->ready_sent) {
        /* POLLOUT says when the connection is up; this timer only logs the wait once. */
        if (!slot->waiting_logged)
            EARLIER(slot->last_heard + self->config.heartbeat_ivl * self->config.liveness);
    } else if (slot->state == SLOT_ONLINE) {
        EARLIER(slot->last_heard + self->config.heartbeat_ivl * self->config.liveness);
        EARLIER(slot->last_sent + self->config.heartbeat_ivl);
    } else if (!s_slot_working(slot)) {
        EARLIER(slot->reconnect_at);
    }
    if (self->draining)
        EARLIER(s_slot_may_close(slot) ? 0 : self->drain_deadline); /* idle: close at once */
#undef EARLIER
    return next;
}

/* ---------------------------------------------------------------- loop */

static int
s_running_jobs(const worker_t *self)
{
    int n = 0;
    for (int i = 0; i < self->config.concurrency; i++)
        n += s_slot_busy(&self->slots[i]);
    return n;
}

static void
s_on_stop_request(worker_t *self, int64_t now)
{
    if (!self->draining) {
        self->draining = true;
        notify_stopping();
        self->drain_deadline = now + self->config.drain_timeout;
        log_info("stopping: %d job(s) to finish and deliver, for up to %lld ms",
                 s_running_jobs(self), self->config.drain_timeout);
    } else if (self->drain_deadline > now) {
        self->drain_deadline = now;
        log_info("second stop request: abandoning running jobs");
    }
}

static bool
s_all_closed(const worker_t *self)
{
    for (int i = 0; i < self->config.concurrency; i++) {
        if (self->slots[i].state != SLOT_CLOSED)
            return false;
    }
    return true;
}

typedef enum { ITEM_STOP, ITEM_SOCKET, ITEM_PIPE, ITEM_FETCH } item_kind_t;

int
worker_run(worker_t *self, int stop_fd)
{
    int n_max = 1 + 3 * self->config.concurrency;
    zmq_pollitem_t items[1 + 3 * WORKER_CONCURRENCY_MAX];
    item_kind_t kinds[1 + 3 * WORKER_CONCURRENCY_MAX];
    slot_t *owners[1 + 3 * WORKER_CONCURRENCY_MAX];
    log_info("worker started: %d slot(s) for %s at %s", self->config.concurrency, self->service,
             self->endpoint);
    for (;;) {
        int64_t now = zclock_mono();
        int64_t next = INT64_MAX;
        for (int i = 0; i < self->config.concurrency; i++)
            s_slot_tick(self, &self->slots[i], now);
        if (self->draining && s_all_closed(self))
            break;
        int n = 0;
        items[n] = (zmq_pollitem_t){NULL, stop_fd, ZMQ_POLLIN, 0};
        kinds[n] = ITEM_STOP, owners[n++] = NULL;
        for (int i = 0; i < self->config.concurrency && n < n_max; i++) {
            slot_t *slot = &self->slots[i];
            int64_t t = s_slot_next_timer(self, slot);
            next = t < next ? t : next;
            if (slot->state == SLOT_ONLINE) {
                short events = ZMQ_POLLIN | (slot->ready_sent ? 0 : ZMQ_POLLOUT);
                items[n] = (zmq_pollitem_t){zsock_resolve(slot->sock), 0, events, 0};
                kinds[n] = ITEM_SOCKET, owners[n++] = slot;
            }
            if (slot->runner != NULL && job_runner_fd(slot->runner) >= 0) {
                items[n] = (zmq_pollitem_t){NULL, job_runner_fd(slot->runner), ZMQ_POLLIN, 0};
                kinds[n] = ITEM_PIPE, owners[n++] = slot;
            }
            if (slot->fetch != NULL) {
                items[n] = (zmq_pollitem_t){zsock_resolve(pdf_fetch_socket(slot->fetch)), 0,
                                            ZMQ_POLLIN, 0};
                kinds[n] = ITEM_FETCH, owners[n++] = slot;
            }
        }
        int64_t wait = next - now;
        wait = wait < 0 ? 0 : wait > WORKER_POLL_MAX_MS ? WORKER_POLL_MAX_MS : wait;
        if (zmq_poll(items, n, notify_watchdog_cap((long)wait)) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            log_error("zmq_poll failed: %s", zmq_strerror(zmq_errno()));
            return -1;
        }
        notify_watchdog(); /* systemd's WatchdogSec=: this loop still turns */
        now = zclock_mono();
        for (int k = 0; k < n; k++) {
            slot_t *slot = owners[k];
            if (kinds[k] == ITEM_SOCKET && (items[k].revents & ZMQ_POLLOUT))
                s_slot_try_ready(self, slot, now);
            if (!(items[k].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
                continue;
            if (kinds[k] == ITEM_STOP) {
                char buf[16];
                ssize_t got = read(stop_fd, buf, sizeof buf);
                for (ssize_t b = 0; b < got; b++)
                    s_on_stop_request(self, now);
            } else if (kinds[k] == ITEM_SOCKET && slot->state == SLOT_ONLINE) {
                s_slot_receive(self, slot, now);
            } else if (kinds[k] == ITEM_FETCH && slot->fetch != NULL) {
                s_slot_on_fetch(self, slot, now);
            } else if (kinds[k] == ITEM_PIPE && slot->runner != NULL) {
                if (job_runner_read_progress(slot->runner))
                    slot->progress_dirty = true;
            }
        }
    }
    log_info("worker stopped");
    return 0;
}
