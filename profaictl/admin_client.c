/*
 * admin_client.c - see admin_client.h.
 */
#include "admin_client.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ADMIN_IPC_PREFIX "ipc://"
/* Most rows an answer may carry (admin.jobs' limit, plus a job and its events). */
#define ADMIN_ROWS_MAX 100000

/* A Unix socket needs write permission on its file: say so rather than wait for a timeout. */
static int
s_check_ipc(const char *endpoint, char *err, size_t err_size)
{
    if (strncmp(endpoint, ADMIN_IPC_PREFIX, strlen(ADMIN_IPC_PREFIX)) != 0)
        return 0;
    const char *path = endpoint + strlen(ADMIN_IPC_PREFIX);
    if (access(path, W_OK) == 0)
        return 0;
    int e = errno;
    if (e == EACCES || e == EPERM)
        snprintf(err, err_size,
                 "permission denied on the admin socket %s: it is for the broker's user and "
                 "group",
                 path);
    else
        snprintf(err, err_size, "no admin socket at %s (%s): is the broker running?", path,
                 strerror(e));
    return -1;
}

static void *
s_decode(const proto_message_t *desc, zframe_t *body, char *err, size_t err_size)
{
    void *m = calloc(1, desc->size);
    proto_error_t perr;
    if (m == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if (proto_message_decode(desc, zframe_data(body), zframe_size(body), m, &perr) != 0) {
        snprintf(err, err_size, "the broker sent a %s that does not decode: %s", desc->name,
                 perr.detail);
        free(m);
        return NULL;
    }
    return m;
}

static int
s_add_row(admin_reply_t *reply, const proto_message_t *desc, void *m)
{
    admin_msg_t *rows = realloc(reply->rows, (reply->count + 1) * sizeof *rows);
    if (rows == NULL)
        return -1;
    reply->rows = rows;
    rows[reply->count++] = (admin_msg_t){desc, m};
    return 0;
}

/* Watch sock's handshakes on a PAIR socket: a key the broker's ZAP handler refuses comes
 * back as a failed CURVE handshake (ZMTP ERROR), which is worth saying at once rather than
 * after the timeout. NULL when the monitor cannot be made (then only the timeout tells). */
static zsock_t *
s_monitor_new(zsock_t *sock)
{
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://admin-monitor-%p", (void *)sock);
    if (zmq_socket_monitor(zsock_resolve(sock), endpoint,
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) !=
        0)
        return NULL;
    zsock_t *monitor = zsock_new(ZMQ_PAIR);
    if (monitor == NULL || zsock_connect(monitor, "%s", endpoint) != 0) {
        zsock_destroy(&monitor);
        return NULL;
    }
    zsock_set_rcvtimeo(monitor, 0);
    return monitor;
}

/* Read one monitor event: -1 with a sentence in err when it says the handshake failed. */
static int
s_monitor_read(zsock_t *monitor, const char *endpoint, char *err, size_t err_size)
{
    zmsg_t *event = zmsg_recv(monitor);
    if (event == NULL)
        return 0;
    zframe_t *head = zmsg_first(event);
    uint16_t id = 0;
    uint32_t value = 0;
    if (head != NULL && zframe_size(head) == 6) {
        memcpy(&id, zframe_data(head), sizeof id);
        memcpy(&value, zframe_data(head) + 2, sizeof value);
    }
    zmsg_destroy(&event);
    if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        snprintf(err, err_size,
                 "the broker at %s refused this key (status %" PRIu32
                 "): it is not in its admin list (curve/admins_dir), or it is a worker or "
                 "frontend key",
                 endpoint, value);
        return -1;
    }
    if (id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
        snprintf(err, err_size,
                 "the CURVE handshake with %s failed (protocol error %" PRIu32
                 "): is it a tcp:// admin socket?",
                 endpoint, value);
        return -1;
    }
    return 0;
}

int
admin_call(const char *endpoint, const curve_keys_t *keys, const char *service,
           const admin_request_t *req, const admin_shape_t *shape, int timeout_ms,
           admin_reply_t *reply, char *err, size_t err_size)
{
    memset(reply, 0, sizeof *reply);
    if (s_check_ipc(endpoint, err, err_size) != 0)
        return -1;
    proto_buf_t body = {0};
    proto_error_t perr;
    if (proto_message_encode(&admin_message_request, req, &body, &perr) != 0) {
        snprintf(err, err_size, "bad request: %s", perr.detail);
        return -1;
    }
    int rc = -1;
    zsock_t *monitor = NULL;
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    zmsg_t *msg = mdpc_build(MDPC_REQUEST, service, body.data, body.size);
    proto_buf_free(&body);
    if (sock == NULL || msg == NULL) {
        snprintf(err, err_size, "out of memory");
        goto done;
    }
    zsock_set_linger(sock, 0);
    zsock_set_rcvtimeo(sock, 0);
    if (keys != NULL && keys->enabled) {
        curve_apply_client(keys, sock);
        monitor = s_monitor_new(sock);
        /* A refused peer is not retried by libzmq: the send must not wait for a peer. */
        zsock_set_sndtimeo(sock, timeout_ms);
    }
    if (zsock_connect(sock, "%s", endpoint) != 0) {
        snprintf(err, err_size, "cannot connect to %s: %s", endpoint, zmq_strerror(errno));
        goto done;
    }
    if (zmsg_send(&msg, sock) != 0) {
        snprintf(err, err_size, "cannot send to %s", endpoint);
        goto done;
    }
    int64_t deadline = zclock_mono() + timeout_ms;
    while (true) {
        zmq_pollitem_t items[2] = {
            {zsock_resolve(sock), 0, ZMQ_POLLIN, 0},
            {monitor != NULL ? zsock_resolve(monitor) : NULL, 0, ZMQ_POLLIN, 0}};
        int64_t left = deadline - zclock_mono();
        if (zmq_poll(items, monitor != NULL ? 2 : 1, left < 200 ? (left > 0 ? left : 0) : 200) <
                0 &&
            errno != EINTR) {
            snprintf(err, err_size, "cannot poll: %s", zmq_strerror(errno));
            goto done;
        }
        if (monitor != NULL && (items[1].revents & ZMQ_POLLIN) &&
            s_monitor_read(monitor, endpoint, err, err_size) != 0)
            goto done;
        zmsg_t *in = (items[0].revents & ZMQ_POLLIN) ? zmsg_recv(sock) : NULL;
        if (in == NULL) {
            if (zclock_mono() >= deadline || zsys_interrupted) {
                snprintf(err, err_size,
                         "no answer from the admin socket %s within %d ms (broker down, this "
                         "user refused%s)",
                         endpoint, timeout_ms,
                         keys != NULL && keys->enabled ? ", or a wrong --broker-key" : "");
                goto done;
            }
            continue;
        }
        mdpc_view_t view;
        if (mdpc_parse(in, PROTO_RESULT_BODY_MAX, &view, &perr) != 0 ||
            strcmp(view.service, service) != 0 || view.command == MDPC_REQUEST) {
            snprintf(err, err_size, "the broker sent an invalid message: %s", perr.detail);
            zmsg_destroy(&in);
            goto done;
        }
        zframe_t *frame = zmsg_last(in);
        if (view.command == MDPC_FINAL) {
            reply->final.desc = shape->final;
            reply->final.m = s_decode(shape->final, frame, err, err_size);
            zmsg_destroy(&in);
            rc = reply->final.m != NULL ? 0 : -1;
            goto done;
        }
        const proto_message_t *desc = reply->count == 0 ? shape->first_row : shape->row;
        void *m = desc != NULL ? s_decode(desc, frame, err, err_size) : NULL;
        zmsg_destroy(&in);
        if (desc == NULL)
            continue; /* rows this version does not expect: a newer broker */
        if (m == NULL || reply->count >= ADMIN_ROWS_MAX || s_add_row(reply, desc, m) != 0) {
            free(m);
            if (m != NULL)
                snprintf(err, err_size, "too many rows");
            goto done;
        }
    }
done:
    zmsg_destroy(&msg);
    if (monitor != NULL)
        zmq_socket_monitor(zsock_resolve(sock), NULL, 0);
    zsock_destroy(&monitor);
    zsock_destroy(&sock);
    if (rc != 0)
        admin_reply_free(reply);
    return rc;
}

void
admin_reply_free(admin_reply_t *reply)
{
    for (size_t i = 0; i < reply->count; i++)
        free(reply->rows[i].m);
    free(reply->rows);
    free(reply->final.m);
    memset(reply, 0, sizeof *reply);
}

static const proto_field_t *
s_field(const proto_message_t *desc, const char *key)
{
    for (size_t i = 0; i < desc->count; i++)
        if (strcmp(desc->fields[i].key, key) == 0)
            return &desc->fields[i];
    return NULL;
}

static uint64_t
s_uint(const proto_field_t *f, const void *m)
{
    const char *p = (const char *)m + f->offset;
    if (f->size == sizeof(uint32_t)) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

bool
admin_msg_text(const admin_msg_t *msg, const char *key, char *buf, size_t size)
{
    const proto_field_t *f = s_field(msg->desc, key);
    if (f == NULL)
        return false;
    const char *p = (const char *)msg->m + f->offset;
    switch (f->type) {
    case PROTO_FIELD_UINT:
        snprintf(buf, size, "%" PRIu64, s_uint(f, msg->m));
        break;
    case PROTO_FIELD_BOOL:
        snprintf(buf, size, "%s", *(const bool *)p ? "yes" : "no");
        break;
    case PROTO_FIELD_BIN:
        snprintf(buf, size, "(binary)");
        break;
    default:
        snprintf(buf, size, "%s", p);
        break;
    }
    return true;
}

void
admin_msg_json(json_t *j, const admin_msg_t *msg)
{
    json_object_begin(j);
    for (size_t i = 0; i < msg->desc->count; i++) {
        const proto_field_t *f = &msg->desc->fields[i];
        const char *p = (const char *)msg->m + f->offset;
        if (strcmp(f->key, "rid") == 0 || f->type == PROTO_FIELD_BIN)
            continue;
        json_key(j, f->key);
        switch (f->type) {
        case PROTO_FIELD_UINT:
            json_int(j, (long long)s_uint(f, msg->m));
            break;
        case PROTO_FIELD_BOOL:
            json_bool(j, *(const bool *)p);
            break;
        default:
            if (p[0] == '\0' && f->presence != PROTO_REQUIRED)
                json_null(j);
            else
                json_cstring(j, p);
            break;
        }
    }
    json_object_end(j);
}
