/*
 * blob_reader.c - see blob_reader.h.
 *
 * Each connection is a pg_session (DOWN -> CONNECTING -> UP, reconnecting with back-off); once
 * UP it is IDLE <-> BUSY (one SELECT in flight, its read op held in `op`). Every service call
 * tries every connection; libpq's calls used here never block on a non-blocking connection.
 */
#include "blob_reader.h"

#include "pg_session.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

typedef struct {
    pg_session_t session;
    read_op_t *op; /* BUSY (UP with a read in flight): that read */
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
        pg_session_init(&self->conns[i].session);
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
        pg_session_close(&c->session);
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
    char detail[256];
    pg_session_lose(&c->session, self->now, why, detail, sizeof detail);
    if (self->on_event != NULL)
        self->on_event(self->owner, false, detail);
}

/* DOWN or CONNECTING: go on connecting. */
static void
s_connect(blob_reader_t *self, s_conn_t *c)
{
    const char *why = NULL;
    switch (pg_session_connect(&c->session, self->conninfo, self->now, &why)) {
    case PG_SESSION_FAILED:
        s_lose(self, c, why);
        break;
    case PG_SESSION_CAME_UP:
        if (self->on_event != NULL)
            self->on_event(self->owner, true, NULL);
        break;
    case PG_SESSION_WAITING:
        break;
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
    const char *values[1] = {op->sha256};
    if (!PQsendQueryParams(c->session.conn, S_SQL, 1, NULL, values, NULL, NULL, 1))
        s_lose(self, c, "cannot send the read");
    else if (pg_session_flush(&c->session) != 0)
        s_lose(self, c, "write failed");
}

/* BUSY: read what has arrived; answer the read once its last result is in. */
static void
s_receive(blob_reader_t *self, s_conn_t *c)
{
    PGconn *conn = c->session.conn;
    if (c->session.want_write && pg_session_flush(&c->session) != 0) {
        s_lose(self, c, "write failed");
        return;
    }
    if (!PQconsumeInput(conn)) {
        s_lose(self, c, "read failed");
        return;
    }
    while (!PQisBusy(conn)) {
        PGresult *res = PQgetResult(conn);
        if (res != NULL) {
            if (c->res == NULL)
                c->res = res;
            else
                PQclear(res);
            continue;
        }
        /* The read is complete. */
        if (PQstatus(conn) == CONNECTION_BAD) {
            s_lose(self, c, "connection lost");
            return;
        }
        read_op_t *op = c->op;
        PGresult *got = c->res;
        c->op = NULL;
        c->res = NULL;
        if (op->large)
            self->busy_large--;
        self->pending--;
        if (got != NULL && PQresultStatus(got) == PGRES_TUPLES_OK) {
            bool one = PQntuples(got) == 1 && !PQgetisnull(got, 0, 0);
            self->done(self->owner, op->ctx, one ? (const uint8_t *)PQgetvalue(got, 0, 0) : NULL,
                       one ? (size_t)PQgetlength(got, 0, 0) : 0, NULL);
        } else {
            char why[256];
            pg_session_first_line(why, sizeof why, "",
                                  got != NULL ? PQresultErrorMessage(got) : "no result");
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
        if (c->session.state != PG_SESSION_UP)
            s_connect(self, c);
        if (c->session.state != PG_SESSION_UP)
            continue;
        if (c->op == NULL &&
            (!PQconsumeInput(c->session.conn) || PQstatus(c->session.conn) == CONNECTION_BAD))
            s_lose(self, c, "connection lost");
        else if (c->op != NULL)
            s_receive(self, c);
        s_queue_t *q;
        if (c->session.state == PG_SESSION_UP && c->op == NULL && (q = s_next_queue(self)) != NULL)
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
    return pg_session_pollfd(&self->conns[i].session, events);
}

int64_t
blob_reader_timeout(const blob_reader_t *self, int64_t now)
{
    int64_t best = -1;
    for (int i = 0; i < self->n; i++) {
        int64_t at = pg_session_due(&self->conns[i].session);
        if (at < 0)
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
