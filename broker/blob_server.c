/*
 * blob_server.c - see blob_server.h. czmq actors: a front thread owns the ROUTER and passes
 * each FETCH, with the User-Id its connection authenticated as (ZeroMQ's metadata does not
 * cross an inproc hop), to `threads` reader threads over an inproc DEALER (round robin); each
 * reader checks it, reads with one blocking statement on its own connection (it blocks nothing
 * but that thread) and answers with one CHUNK, which the front thread routes back. Messages
 * move between sockets without their bytes being copied.
 */
#include "blob_server.h"

#include "job_secret.h"
#include "log.h"
#include "pg_session.h"
#include "profai/proto.h"
#include "zap.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Frames a FETCH has at most (MDPC02 framing: header, command, service, body). */
#define S_FETCH_MSG_MAX (PROTO_CONTROL_BODY_MAX + 1024)
/* Queued replies at most: every worker keeps PROTO_FETCH_CREDIT requests outstanding. */
#define S_SNDHWM 1000

/* The check and the read in one statement: rows only while the token's attempt runs. The
 * offset is 0-based on the wire, 1-based in SQL. */
#define S_SQL                                                                                      \
    "SELECT substring(b.data FROM $4::int + 1 FOR $5::int), b.size::text"                          \
    " FROM jobs j JOIN blobs b ON b.sha256 = j.blob_sha256"                                        \
    " WHERE j.id = $1::uuid AND j.attempts = $2::int AND j.state = 'running'"                      \
    " AND j.token_sha256 = $3 AND coalesce(j.worker_key, '') = $6"

/* What the thread owns (from zactor_new to zactor_destroy). */
typedef struct {
    char *endpoint;
    char *conninfo;
    curve_keys_t curve;
    int threads;
    char backend[64]; /* inproc endpoint between the front thread and the readers */
    char err[256];    /* the bind failure, read by blob_server_new after the signal */
    zsock_t *router;
} s_server_t;

/* One reader thread's own: its socket to the front thread and its database connection. */
typedef struct {
    const s_server_t *srv;
    zsock_t *sock;
    PGconn *conn;
} s_reader_t;

struct blob_server_t {
    zactor_t *actor;
    s_server_t *srv;
};

static void
s_server_free(s_server_t *srv)
{
    if (srv == NULL)
        return;
    free(srv->endpoint);
    free(srv->conninfo);
    free(srv);
}

/* Send one CHUNK to identity (consumed); a peer gone or at its high-water mark is dropped
 * (it times out and fails its attempt, which is retried). */
static void
s_reply(s_reader_t *srv, zframe_t **identity, const proto_chunk_t *chunk)
{
    proto_buf_t body = {0};
    proto_error_t perr;
    zmsg_t *msg = NULL;
    if (proto_chunk_encode(chunk, &body, &perr) == 0)
        msg = mdpc_build(MDPC_FINAL, PROTO_SERVICE_PDF_FETCH, body.data, body.size);
    proto_buf_free(&body);
    if (msg == NULL) {
        log_error("pdf fetch: cannot encode a CHUNK of %zu bytes", chunk->data_len);
        zframe_destroy(identity);
        return;
    }
    zmsg_prepend(msg, identity);
    if (zmsg_send(&msg, srv->sock) != 0)
        zmsg_destroy(&msg);
}

static void
s_refuse(s_reader_t *srv, zframe_t **identity, profai_error_t code, const char *why)
{
    proto_chunk_t chunk;
    memset(&chunk, 0, sizeof chunk);
    chunk.ok = false;
    snprintf(chunk.error_code, sizeof chunk.error_code, "%s", profai_error_name(code));
    snprintf(chunk.error, sizeof chunk.error, "%s", why);
    s_reply(srv, identity, &chunk);
}

/* Run the read; one reconnection when the connection was lost. NULL when the database
 * cannot answer (why filled). */
static PGresult *
s_query(s_reader_t *srv, const char *const *values, char *why, size_t why_size)
{
    for (int round = 0; round < 2; round++) {
        if (srv->conn == NULL || PQstatus(srv->conn) == CONNECTION_BAD) {
            if (srv->conn != NULL)
                PQfinish(srv->conn);
            srv->conn = PQconnectdb(srv->srv->conninfo);
        }
        if (PQstatus(srv->conn) != CONNECTION_OK) {
            pg_session_first_line(why, why_size, "cannot connect: ", PQerrorMessage(srv->conn));
            continue;
        }
        int formats[6] = {0};
        PGresult *res = PQexecParams(srv->conn, S_SQL, 6, NULL, values, NULL, formats, 1);
        if (PQresultStatus(res) == PGRES_TUPLES_OK)
            return res;
        pg_session_first_line(why, why_size, "", PQresultErrorMessage(res));
        PQclear(res);
        if (PQstatus(srv->conn) != CONNECTION_BAD)
            return NULL; /* a statement error: another round would fail the same way */
    }
    return NULL;
}

/* One FETCH, already framed: check who asks and for what, read, answer. */
static void
s_fetch(s_reader_t *srv, zframe_t **identity, const char *user, const mdpc_view_t *view)
{
    char key[CURVE_KEY_LEN + 1] = "";
    if (srv->srv->curve.enabled) {
        /* The ZAP handler named the role at the handshake (zap.h): only a worker key. */
        if (strncmp(user, "worker:", 7) != 0 || strlen(user + 7) != CURVE_KEY_LEN) {
            log_warn("pdf fetch refused key=%s: not a worker key", user[0] != '\0' ? user : "-");
            s_refuse(srv, identity, PROFAI_ERR_FORBIDDEN, "only worker keys may fetch PDFs");
            return;
        }
        snprintf(key, sizeof key, "%s", user + 7);
    }
    proto_fetch_t req;
    proto_error_t perr;
    if (proto_fetch_decode(view->body, view->body_len, &req, &perr) != 0) {
        s_refuse(srv, identity, perr.id, perr.detail);
        return;
    }
    char job_id[PROTO_UUID_LEN + 1], secret[PROTO_SECRET_LEN + 1];
    uint32_t attempt;
    size_t base = proto_token_split_secret((const uint8_t *)req.token, strlen(req.token), secret);
    if (proto_token_parse((const uint8_t *)req.token, base, job_id, &attempt) != 0) {
        s_refuse(srv, identity, PROFAI_ERR_BAD_REQUEST, "token is not a job token");
        return;
    }
    if (secret[0] == '\0') {
        log_warn("pdf fetch refused job=%s attempt=%u: no secret", job_id, attempt);
        s_refuse(srv, identity, PROFAI_ERR_FORBIDDEN, "the token has no secret");
        return;
    }
    char hash[JOB_SECRET_HASH_LEN + 1], attempts[16], offset[24], size[16];
    job_secret_hash(secret, hash);
    snprintf(attempts, sizeof attempts, "%u", attempt);
    snprintf(offset, sizeof offset, "%llu", (unsigned long long)req.offset);
    snprintf(size, sizeof size, "%u", req.size);
    const char *values[6] = {job_id, attempts, hash, offset, size, key};
    char why[256];
    PGresult *res = s_query(srv, values, why, sizeof why);
    if (res == NULL) {
        log_error("pdf fetch job=%s attempt=%u: database: %s", job_id, attempt, why);
        s_refuse(srv, identity, PROFAI_ERR_DB_UNAVAILABLE, "the PDF cannot be read now");
        return;
    }
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        PQclear(res);
        log_warn("pdf fetch refused job=%s attempt=%u key=%s: not the running attempt, wrong "
                 "secret or another worker's",
                 job_id, attempt, key[0] != '\0' ? key : "-");
        s_refuse(srv, identity, PROFAI_ERR_FORBIDDEN,
                 "the token is not that of the job's running attempt on this worker");
        return;
    }
    proto_chunk_t chunk;
    memset(&chunk, 0, sizeof chunk);
    chunk.ok = true;
    chunk.offset = req.offset;
    chunk.total = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
    chunk.data = (const uint8_t *)PQgetvalue(res, 0, 0);
    chunk.data_len = (size_t)PQgetlength(res, 0, 0);
    if (req.offset > chunk.total) {
        PQclear(res);
        s_refuse(srv, identity, PROFAI_ERR_BAD_REQUEST, "offset past the end of the PDF");
        return;
    }
    s_reply(srv, identity, &chunk);
    PQclear(res);
}

/* One FETCH from the front thread: [identity, user id, MDPC02 frames...]. */
static void
s_receive(s_reader_t *srv)
{
    zmsg_t *msg = zmsg_recv(srv->sock);
    if (msg == NULL)
        return;
    zframe_t *identity = zmsg_pop(msg);
    char *user = zmsg_popstr(msg);
    mdpc_view_t view;
    proto_error_t perr;
    memset(&view, 0, sizeof view);
    if (identity == NULL || user == NULL ||
        mdpc_parse(msg, PROTO_CONTROL_BODY_MAX, &view, &perr) != 0) {
        /* Framing that is not one FETCH: answer when there is a service to answer on. */
        if (identity != NULL && view.service[0] != '\0')
            s_refuse(srv, &identity, PROFAI_ERR_BAD_REQUEST, perr.detail);
    } else if (view.command != MDPC_REQUEST || strcmp(view.service, PROTO_SERVICE_PDF_FETCH) != 0) {
        s_refuse(srv, &identity, PROFAI_ERR_UNKNOWN_SERVICE, "this endpoint serves pdf.fetch");
    } else {
        s_fetch(srv, &identity, user, &view);
    }
    zstr_free(&user);
    zframe_destroy(&identity);
    zmsg_destroy(&msg);
}

/* An actor's wait: poller polls pipe and the actor's sockets. The socket with a message
 * waiting, or NULL once $TERM came on pipe or the poller was interrupted. */
static void *
s_actor_wait(zsock_t *pipe, zpoller_t *poller)
{
    while (poller != NULL) {
        void *which = zpoller_wait(poller, -1);
        if (which == pipe) {
            char *command = zstr_recv(pipe);
            bool stop = command == NULL || strcmp(command, "$TERM") == 0;
            zstr_free(&command);
            if (stop)
                return NULL;
        } else if (which != NULL) {
            return which;
        } else if (zpoller_terminated(poller)) {
            return NULL;
        }
    }
    return NULL;
}

/* A reader thread: FETCHes from the front thread until $TERM. */
static void
s_reader_actor(zsock_t *pipe, void *args)
{
    s_reader_t reader = {.srv = args};
    reader.sock = zsock_new_dealer(reader.srv->backend);
    zsock_signal(pipe, reader.sock != NULL ? 0 : 1);
    zpoller_t *poller = reader.sock != NULL ? zpoller_new(pipe, reader.sock, NULL) : NULL;
    while (s_actor_wait(pipe, poller) != NULL)
        s_receive(&reader);
    zpoller_destroy(&poller);
    zsock_destroy(&reader.sock);
    if (reader.conn != NULL)
        PQfinish(reader.conn);
}

/* Front thread: a FETCH from the network goes to a reader with its sender's User-Id. */
static void
s_forward_request(s_server_t *srv, zsock_t *backend)
{
    zmsg_t *msg = zmsg_recv(srv->router);
    if (msg == NULL)
        return;
    (void)zmsg_first(msg);
    zframe_t *second = zmsg_next(msg); /* after the identity: a frame the peer sent */
    const char *user = second != NULL ? zframe_meta(second, "User-Id") : NULL;
    zframe_t *identity = zmsg_pop(msg);
    if (zmsg_pushstr(msg, user != NULL ? user : "") != 0 || zmsg_prepend(msg, &identity) != 0 ||
        zmsg_send(&msg, backend) != 0)
        zmsg_destroy(&msg);
    zframe_destroy(&identity);
}

static void
s_actor(zsock_t *pipe, void *args)
{
    s_server_t *srv = args;
    srv->router = zsock_new(ZMQ_ROUTER);
    if (srv->router == NULL) {
        snprintf(srv->err, sizeof srv->err, "cannot create the blob socket");
        zsock_signal(pipe, 1);
        return;
    }
    zsock_set_router_mandatory(srv->router, 1);
    zsock_set_sndtimeo(srv->router, 0);
    zsock_set_maxmsgsize(srv->router, S_FETCH_MSG_MAX);
    zsock_set_sndhwm(srv->router, S_SNDHWM);
    zsock_set_linger(srv->router, 0);
    if (srv->curve.enabled)
        curve_apply_server(&srv->curve, srv->router, ZAP_DOMAIN);
    if (zsock_bind(srv->router, "%s", srv->endpoint) < 0) {
        snprintf(srv->err, sizeof srv->err, "cannot bind %s: %s", srv->endpoint,
                 zmq_strerror(zmq_errno()));
        zsock_destroy(&srv->router);
        zsock_signal(pipe, 1);
        return;
    }
    zactor_t *readers[BLOB_SERVER_THREADS_MAX] = {0};
    snprintf(srv->backend, sizeof srv->backend, "inproc://profai-blob-%p", (void *)srv);
    zsock_t *backend = zsock_new_dealer(NULL);
    bool ok = backend != NULL && zsock_bind(backend, "%s", srv->backend) == 0;
    for (int i = 0; ok && i < srv->threads; i++)
        ok = (readers[i] = zactor_new(s_reader_actor, srv)) != NULL;
    if (!ok) {
        snprintf(srv->err, sizeof srv->err, "cannot start the blob endpoint's threads");
        for (int i = 0; i < srv->threads; i++)
            zactor_destroy(&readers[i]);
        zsock_destroy(&backend);
        zsock_destroy(&srv->router);
        zsock_signal(pipe, 1);
        return;
    }
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, srv->router, backend, NULL);
    void *which;
    while ((which = s_actor_wait(pipe, poller)) != NULL) {
        if (which == srv->router) {
            s_forward_request(srv, backend);
        } else {
            /* A CHUNK: [identity, MDPC02 frames], routed as it is. */
            zmsg_t *msg = zmsg_recv(backend);
            if (msg != NULL && zmsg_send(&msg, srv->router) != 0)
                zmsg_destroy(&msg);
        }
    }
    zpoller_destroy(&poller);
    for (int i = 0; i < srv->threads; i++)
        zactor_destroy(&readers[i]);
    zsock_destroy(&backend);
    zsock_destroy(&srv->router);
}

blob_server_t *
blob_server_new(const blob_server_config_t *config, char *err, size_t err_size)
{
    blob_server_t *self = calloc(1, sizeof *self);
    s_server_t *srv = calloc(1, sizeof *srv);
    if (self == NULL || srv == NULL)
        goto fail;
    srv->endpoint = strdup(config->endpoint);
    srv->conninfo = strdup(config->conninfo != NULL ? config->conninfo : "");
    if (srv->endpoint == NULL || srv->conninfo == NULL)
        goto fail;
    if (config->curve != NULL)
        srv->curve = *config->curve;
    srv->threads = config->threads >= 1 && config->threads <= BLOB_SERVER_THREADS_MAX
                       ? config->threads
                       : BLOB_SERVER_THREADS_DEFAULT;
    /* zactor_new returns once the actor signalled: bound, or failed with srv->err set. */
    self->actor = zactor_new(s_actor, srv);
    if (self->actor == NULL)
        goto fail;
    if (srv->router == NULL) {
        snprintf(err, err_size, "%s", srv->err);
        zactor_destroy(&self->actor);
        s_server_free(srv);
        free(self);
        return NULL;
    }
    /* srv now belongs to the thread until zactor_destroy returns; freed then. */
    self->srv = srv;
    return self;
fail:
    snprintf(err, err_size, "out of memory");
    s_server_free(srv);
    free(self);
    return NULL;
}

void
blob_server_destroy(blob_server_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    blob_server_t *self = *self_p;
    zactor_destroy(&self->actor);
    s_server_free(self->srv);
    free(self);
    *self_p = NULL;
}
