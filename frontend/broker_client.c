/* broker_client.c - see broker_client.h. */
#include "broker_client.h"

#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* docs/protocol.md section 5: the frontend DEALER refuses anything bigger than a control
 * reply. */
#define BROKER_CLIENT_MAXMSGSIZE (64 * 1024)

/* Brokers a frontend may follow (a leader and its standbys). */
#define BROKER_CLIENT_ENDPOINTS_MAX 8

struct broker_client_t {
    char *endpoint; /* the list as configured; endpoints[] point into it */
    char *endpoints[BROKER_CLIENT_ENDPOINTS_MAX];
    int nendpoints;
    int current; /* index of the endpoint sock is connected to, or will be */
    int timeout_ms;
    curve_keys_t keys;
    zsock_t *sock; /* NULL until needed, and again after a failed request */
    uint64_t next_rid;
};

broker_client_t *
broker_client_new(const char *endpoint, int timeout_ms, const curve_keys_t *keys)
{
    broker_client_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->endpoint = strdup(endpoint);
    if (self->endpoint == NULL) {
        free(self);
        return NULL;
    }
    for (char *save = NULL, *e = strtok_r(self->endpoint, ", ", &save);
         e != NULL && self->nendpoints < BROKER_CLIENT_ENDPOINTS_MAX;
         e = strtok_r(NULL, ", ", &save))
        self->endpoints[self->nendpoints++] = e;
    if (self->nendpoints == 0)
        self->endpoints[self->nendpoints++] = self->endpoint; /* "": connect reports it */
    self->timeout_ms = timeout_ms;
    self->keys = *keys;
    return self;
}

void
broker_client_destroy(broker_client_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    broker_client_t *self = *self_p;
    zsock_destroy(&self->sock);
    free(self->endpoint);
    free(self);
    *self_p = NULL;
}

static int
s_socket(broker_client_t *self, char *err, size_t err_size)
{
    if (self->sock != NULL)
        return 0;
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (sock == NULL) {
        snprintf(err, err_size, "cannot create a ZeroMQ socket");
        return -1;
    }
    /* IMMEDIATE: queue nothing while disconnected, so a send to a dead broker fails (after
     * SNDTIMEO) instead of delivering a stale request when it comes back. */
    zsock_set_immediate(sock, 1);
    zsock_set_linger(sock, 0);
    zsock_set_maxmsgsize(sock, BROKER_CLIENT_MAXMSGSIZE);
    zsock_set_sndtimeo(sock, self->timeout_ms);
    curve_apply_client(&self->keys, sock);
    const char *endpoint = self->endpoints[self->current];
    if (zsock_connect(sock, "%s", endpoint) != 0) {
        snprintf(err, err_size, "cannot connect to broker endpoint %s", endpoint);
        zsock_destroy(&sock);
        return -1;
    }
    self->sock = sock;
    return 0;
}

/* Leave the current endpoint: the next request (or attempt) goes to the next one. */
static void
s_next_endpoint(broker_client_t *self)
{
    zsock_destroy(&self->sock);
    self->current = (self->current + 1) % self->nendpoints;
}

/* Whether a FINAL body is the generic error reply `not_leader` (a standby answered). */
static bool
s_is_not_leader(const mdpc_view_t *view)
{
    proto_submitted_t refusal;
    proto_error_t perr;
    return proto_submitted_decode(view->body, view->body_len, &refusal, &perr) == 0 &&
           !refusal.ok && strcmp(refusal.error_code, profai_error_name(PROFAI_ERR_NOT_LEADER)) == 0;
}

/* One attempt at the current endpoint: 1 answered (*reply, *view set), 0 not sent (no
 * connection before send_until), -1 sent but no answer before deadline. */
static int
s_attempt(broker_client_t *self, const char *service, uint64_t rid, const proto_buf_t *body,
          int64_t send_until, int64_t deadline, zmsg_t **reply, mdpc_view_t *view, char *err,
          size_t err_size)
{
    if (s_socket(self, err, err_size) != 0)
        return 0;
    int64_t send_ms = send_until - zclock_mono();
    zsock_set_sndtimeo(self->sock, (int)(send_ms > 0 ? send_ms : 0));
    zmsg_t *msg = mdpc_build(MDPC_REQUEST, service, body->data, body->size);
    if (msg == NULL) {
        snprintf(err, err_size, "cannot build the request");
        return -1;
    }
    if (zmsg_send(&msg, self->sock) != 0) {
        zmsg_destroy(&msg);
        snprintf(err, err_size, "no connection to the broker at %s",
                 self->endpoints[self->current]);
        return 0;
    }
    for (;;) {
        int64_t left = deadline - zclock_mono();
        if (left <= 0)
            break;
        zmq_pollitem_t item = {zsock_resolve(self->sock), 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll(&item, 1, (long)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            break;
        zmsg_t *in = zmsg_recv(self->sock);
        if (in == NULL)
            break;
        mdpc_view_t v;
        proto_error_t perr;
        if (mdpc_parse(in, PROTO_CONTROL_BODY_MAX, &v, &perr) != 0 || v.command != MDPC_FINAL ||
            strcmp(v.service, service) != 0 || proto_peek_rid(v.body, v.body_len) != rid) {
            /* A late answer to an earlier request, or garbage: not ours. */
            log_debug("broker client: discarded a reply that is not for rid %llu",
                      (unsigned long long)rid);
            zmsg_destroy(&in);
            continue;
        }
        *reply = in;
        *view = v;
        return 1;
    }
    snprintf(err, err_size, "the broker at %s did not answer within %d ms",
             self->endpoints[self->current], self->timeout_ms);
    return -1;
}

/* Send one request and wait for the FINAL on `service` that carries `rid`, following the
 * leader across the endpoints (broker_client.h). On success *reply is the caller's message and
 * *view points into it. On failure the socket is dropped. */
static int
s_call(broker_client_t *self, const char *service, uint64_t rid, const proto_buf_t *body,
       zmsg_t **reply, mdpc_view_t *view, char *err, size_t err_size)
{
    int64_t deadline = zclock_mono() + self->timeout_ms;
    for (int tries = self->nendpoints; tries > 0; tries--) {
        /* Each endpoint left gets its share of the time left to connect; once sent, the
         * request waits for its answer until the deadline. */
        int64_t now = zclock_mono();
        int64_t until = now + (deadline - now) / tries;
        int rc = s_attempt(self, service, rid, body, until, deadline, reply, view, err, err_size);
        if (rc == 1 && (self->nendpoints == 1 || !s_is_not_leader(view)))
            return 0;
        if (rc == 1 && tries == 1)
            return 0; /* no endpoint leads: the caller sees not_leader (503) */
        if (rc == 1)
            zmsg_destroy(reply);
        s_next_endpoint(self);
        if (rc < 0)
            return -1; /* sent: it may have been done, so it is not sent again */
    }
    return -1;
}

int
broker_client_submit(broker_client_t *self, proto_submit_t *submit, proto_submitted_t *reply,
                     char *err, size_t err_size)
{
    submit->rid = ++self->next_rid;
    proto_buf_t body = {0};
    proto_error_t perr;
    if (proto_submit_encode(submit, &body, &perr) != 0) {
        snprintf(err, err_size, "cannot encode SUBMIT: %s", perr.detail);
        return -1;
    }
    zmsg_t *msg = NULL;
    mdpc_view_t view;
    int rc = s_call(self, PROTO_SERVICE_SUBMIT, submit->rid, &body, &msg, &view, err, err_size);
    proto_buf_free(&body);
    if (rc != 0)
        return -1;
    rc = proto_submitted_decode(view.body, view.body_len, reply, &perr);
    zmsg_destroy(&msg);
    if (rc != 0) {
        snprintf(err, err_size, "invalid SUBMITTED from the broker: %s", perr.detail);
        return -1;
    }
    return 0;
}

int
broker_client_ping(broker_client_t *self, proto_pong_t *pong, char *err, size_t err_size)
{
    proto_ping_t ping = {.rid = ++self->next_rid};
    proto_buf_t body = {0};
    proto_error_t perr;
    if (proto_ping_encode(&ping, &body, &perr) != 0) {
        snprintf(err, err_size, "cannot encode PING: %s", perr.detail);
        return -1;
    }
    zmsg_t *msg = NULL;
    mdpc_view_t view;
    int rc = s_call(self, PROTO_SERVICE_PING, ping.rid, &body, &msg, &view, err, err_size);
    proto_buf_free(&body);
    if (rc != 0)
        return -1;
    memset(pong, 0, sizeof *pong);
    rc = proto_pong_decode(view.body, view.body_len, pong, &perr);
    if (rc != 0) {
        /* The broker is alive but refused the ping: the generic error reply. */
        proto_submitted_t refusal;
        proto_error_t perr2;
        if (proto_submitted_decode(view.body, view.body_len, &refusal, &perr2) == 0 &&
            !refusal.ok) {
            memset(pong, 0, sizeof *pong);
            pong->rid = refusal.rid;
            rc = 0;
        } else {
            snprintf(err, err_size, "invalid PONG from the broker: %s", perr.detail);
        }
    }
    zmsg_destroy(&msg);
    return rc == 0 ? 0 : -1;
}

int
broker_client_cancel(broker_client_t *self, const char *owner, const char *job_id,
                     proto_cancelled_t *reply, char *err, size_t err_size)
{
    proto_cancel_t cancel = {.rid = ++self->next_rid};
    proto_buf_t body = {0};
    proto_error_t perr;
    snprintf(cancel.owner, sizeof cancel.owner, "%s", owner != NULL ? owner : "");
    snprintf(cancel.job_id, sizeof cancel.job_id, "%s", job_id != NULL ? job_id : "");
    if (proto_cancel_encode(&cancel, &body, &perr) != 0) {
        snprintf(err, err_size, "cannot encode CANCEL: %s", perr.detail);
        return -1;
    }
    zmsg_t *msg = NULL;
    mdpc_view_t view;
    int rc = s_call(self, PROTO_SERVICE_CANCEL, cancel.rid, &body, &msg, &view, err, err_size);
    proto_buf_free(&body);
    if (rc != 0)
        return -1;
    /* CANCELLED, or the generic error reply (which decodes as CANCELLED with ok = false). */
    rc = proto_cancelled_decode(view.body, view.body_len, reply, &perr);
    zmsg_destroy(&msg);
    if (rc != 0) {
        snprintf(err, err_size, "invalid CANCELLED from the broker: %s", perr.detail);
        return -1;
    }
    return 0;
}
