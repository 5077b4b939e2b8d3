/*
 * blob_reader.c - see blob_reader.h.
 *
 * Each connection: DOWN (waiting for retry_at) -> CONNECTING (PQconnectPoll) -> IDLE <-> BUSY
 * (one SELECT in flight, its read op held in `op`). Every service call tries every connection;
 * libpq's calls used here never block on a non-blocking connection.
 */
#include "blob_reader.h"

#include "store.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_RETRY_MIN_MS 250
#define S_RETRY_MAX_MS 5000
#define S_CONNECT_TIMEOUT_MS 10000
#define S_SQL "SELECT data FROM blobs WHERE sha256 = $1"

typedef struct read_op_t {
    struct read_op_t *next;
    bool large;
    char sha256[65];
    size_t ctx_len;
    unsigned char ctx[]; /* the caller's context */
} read_op_t;

/* A FIFO of reads not yet sent. */
typedef struct {
    read_op_t *head, *tail;
} s_queue_t;

typedef enum { S_DOWN, S_CONNECTING, S_IDLE, S_BUSY } s_state_t;

typedef struct {
    PGconn *conn;
    s_state_t state;
    PostgresPollingStatusType poll_status;
    int64_t retry_at, connect_deadline, backoff;
    bool want_write;
    read_op_t *op; /* BUSY: the read in flight */
    PGresult *res; /* BUSY: its first result, kept until the last one */
} s_conn_t;

struct blob_reader_t {
    char *conninfo;
    blob_read_fn *done;
    blob_reader_event_fn *on_event;
    void *owner;
    int n;
    s_conn_t conns[BLOB_READER_MAX];
    s_queue_t queue[2]; /* not yet sent: [0] small PDFs, [1] large ones */
    int busy_large;     /* connections reading a large PDF */
    size_t pending;     /* queued plus in flight */
    int64_t now;
};

blob_reader_t *
blob_reader_new(const char *conninfo, int readers, blob_read_fn *done,
                blob_reader_event_fn *on_event, void *owner)
{
    if (readers < 1 || readers > BLOB_READER_MAX || done == NULL)
        return NULL;
    blob_reader_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->conninfo = strdup(conninfo != NULL ? conninfo : "");
    if (self->conninfo == NULL) {
        free(self);
        return NULL;
    }
    self->done = done;
    self->on_event = on_event;
    self->owner = owner;
    self->n = readers;
    for (int i = 0; i < readers; i++)
        self->conns[i].backoff = S_RETRY_MIN_MS;
    return self;
}

void
blob_reader_destroy(blob_reader_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    blob_reader_t *self = *self_p;
    for (int i = 0; i < self->n; i++) {
        s_conn_t *c = &self->conns[i];
        PQclear(c->res);
        free(c->op);
        if (c->conn != NULL)
            PQfinish(c->conn);
    }
    for (int q = 0; q < 2; q++)
        while (self->queue[q].head != NULL) {
            read_op_t *op = self->queue[q].head;
            self->queue[q].head = op->next;
            free(op);
        }
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

int
blob_reader_read(blob_reader_t *self, const char *sha256, bool large, const void *ctx,
                 size_t ctx_len)
{
    size_t len = strlen(sha256);
    if (len >= sizeof((read_op_t *)0)->sha256)
        return -1;
    read_op_t *op = malloc(sizeof *op + ctx_len);
    if (op == NULL)
        return -1;
    op->next = NULL;
    op->large = large;
    memcpy(op->sha256, sha256, len + 1);
    op->ctx_len = ctx_len;
    if (ctx_len > 0)
        memcpy(op->ctx, ctx, ctx_len);
    s_queue_t *q = &self->queue[large ? 1 : 0];
    if (q->tail != NULL)
        q->tail->next = op;
    else
        q->head = op;
    q->tail = op;
    self->pending++;
    return 0;
}

/* Drop c's connection: its read (if any) goes back to the head of the queue. */
static void
s_lose(blob_reader_t *self, s_conn_t *c, const char *why)
{
    char detail[256];
    const char *pq = c->conn != NULL ? PQerrorMessage(c->conn) : "";
    snprintf(detail, sizeof detail, "%s%s%.*s", why, pq[0] != '\0' ? ": " : "",
             (int)strcspn(pq, "\n"), pq);
    if (c->op != NULL) {
        s_queue_t *q = &self->queue[c->op->large ? 1 : 0];
        if (c->op->large)
            self->busy_large--;
        c->op->next = q->head;
        q->head = c->op;
        if (q->tail == NULL)
            q->tail = c->op;
        c->op = NULL;
    }
    PQclear(c->res);
    c->res = NULL;
    if (c->conn != NULL)
        PQfinish(c->conn);
    c->conn = NULL;
    c->state = S_DOWN;
    c->retry_at = self->now + c->backoff;
    c->backoff = c->backoff * 2 > S_RETRY_MAX_MS ? S_RETRY_MAX_MS : c->backoff * 2;
    if (self->on_event != NULL)
        self->on_event(self->owner, false, detail);
}

static void
s_connect_begin(blob_reader_t *self, s_conn_t *c)
{
    c->conn = store_connect_start(self->conninfo);
    if (c->conn == NULL || PQstatus(c->conn) == CONNECTION_BAD) {
        s_lose(self, c, "cannot connect");
        return;
    }
    c->state = S_CONNECTING;
    c->poll_status = PGRES_POLLING_WRITING;
    c->connect_deadline = self->now + S_CONNECT_TIMEOUT_MS;
}

static void
s_connect_poll(blob_reader_t *self, s_conn_t *c)
{
    if (self->now >= c->connect_deadline) {
        s_lose(self, c, "connection attempt timed out");
        return;
    }
    c->poll_status = PQconnectPoll(c->conn);
    if (c->poll_status == PGRES_POLLING_FAILED) {
        s_lose(self, c, "cannot connect");
    } else if (c->poll_status == PGRES_POLLING_OK) {
        if (PQsetnonblocking(c->conn, 1) != 0) {
            s_lose(self, c, "cannot make the connection non-blocking");
            return;
        }
        c->state = S_IDLE;
        c->backoff = S_RETRY_MIN_MS;
        if (self->on_event != NULL)
            self->on_event(self->owner, true, NULL);
    }
}

/* The queue to serve next: small PDFs first; a large one only while another connection is
 * left for small ones (or there is only one). NULL: nothing may be sent now. */
static s_queue_t *
s_next_queue(blob_reader_t *self)
{
    if (self->queue[0].head != NULL)
        return &self->queue[0];
    if (self->queue[1].head != NULL && (self->n == 1 || self->busy_large < self->n - 1))
        return &self->queue[1];
    return NULL;
}

/* IDLE with a read to send in q: send its first. */
static void
s_send(blob_reader_t *self, s_conn_t *c, s_queue_t *q)
{
    read_op_t *op = q->head;
    q->head = op->next;
    if (q->head == NULL)
        q->tail = NULL;
    op->next = NULL;
    if (op->large)
        self->busy_large++;
    c->op = op;
    c->state = S_BUSY;
    const char *values[1] = {op->sha256};
    if (!PQsendQueryParams(c->conn, S_SQL, 1, NULL, values, NULL, NULL, 1)) {
        s_lose(self, c, "cannot send the read");
        return;
    }
    int rc = PQflush(c->conn);
    if (rc < 0)
        s_lose(self, c, "write failed");
    else
        c->want_write = rc == 1;
}

/* BUSY: read what has arrived; answer the read once its last result is in. */
static void
s_receive(blob_reader_t *self, s_conn_t *c)
{
    if (c->want_write) {
        int rc = PQflush(c->conn);
        if (rc < 0) {
            s_lose(self, c, "write failed");
            return;
        }
        c->want_write = rc == 1;
    }
    if (!PQconsumeInput(c->conn)) {
        s_lose(self, c, "read failed");
        return;
    }
    while (!PQisBusy(c->conn)) {
        PGresult *res = PQgetResult(c->conn);
        if (res != NULL) {
            if (c->res == NULL)
                c->res = res;
            else
                PQclear(res);
            continue;
        }
        /* The read is complete. */
        if (PQstatus(c->conn) == CONNECTION_BAD) {
            s_lose(self, c, "connection lost");
            return;
        }
        read_op_t *op = c->op;
        PGresult *got = c->res;
        c->op = NULL;
        c->res = NULL;
        c->state = S_IDLE;
        if (op->large)
            self->busy_large--;
        self->pending--;
        if (got != NULL && PQresultStatus(got) == PGRES_TUPLES_OK) {
            bool one = PQntuples(got) == 1 && !PQgetisnull(got, 0, 0);
            self->done(self->owner, op->ctx, one ? (const uint8_t *)PQgetvalue(got, 0, 0) : NULL,
                       one ? (size_t)PQgetlength(got, 0, 0) : 0, NULL);
        } else {
            char why[256];
            const char *msg = got != NULL ? PQresultErrorMessage(got) : "no result";
            snprintf(why, sizeof why, "%.*s", (int)strcspn(msg, "\n"), msg);
            self->done(self->owner, op->ctx, NULL, 0, why);
        }
        PQclear(got);
        free(op);
        return;
    }
}

void
blob_reader_service(blob_reader_t *self, int64_t now)
{
    self->now = now;
    for (int i = 0; i < self->n; i++) {
        s_conn_t *c = &self->conns[i];
        if (c->state == S_DOWN && now >= c->retry_at)
            s_connect_begin(self, c);
        if (c->state == S_CONNECTING)
            s_connect_poll(self, c);
        if (c->state == S_IDLE && (!PQconsumeInput(c->conn) || PQstatus(c->conn) == CONNECTION_BAD))
            s_lose(self, c, "connection lost");
        if (c->state == S_BUSY)
            s_receive(self, c);
        s_queue_t *q;
        if (c->state == S_IDLE && (q = s_next_queue(self)) != NULL)
            s_send(self, c, q);
    }
}

int
blob_reader_count(const blob_reader_t *self)
{
    return self->n;
}

int
blob_reader_pollfd(const blob_reader_t *self, int i, short *events)
{
    const s_conn_t *c = &self->conns[i];
    *events = 0;
    if (c->conn == NULL || c->state == S_DOWN)
        return -1;
    if (c->state == S_CONNECTING)
        *events = c->poll_status == PGRES_POLLING_READING ? ZMQ_POLLIN : ZMQ_POLLOUT;
    else
        *events = ZMQ_POLLIN | (c->want_write ? ZMQ_POLLOUT : 0);
    return PQsocket(c->conn);
}

int64_t
blob_reader_timeout(const blob_reader_t *self, int64_t now)
{
    int64_t best = -1;
    for (int i = 0; i < self->n; i++) {
        const s_conn_t *c = &self->conns[i];
        int64_t at;
        if (c->state == S_DOWN)
            at = c->retry_at;
        else if (c->state == S_CONNECTING)
            at = c->connect_deadline;
        else
            continue;
        int64_t wait = at > now ? at - now : 0;
        if (best < 0 || wait < best)
            best = wait;
    }
    return best;
}

size_t
blob_reader_pending(const blob_reader_t *self)
{
    return self->pending;
}
