/*
 * search_indexer.c - see search_indexer.h.
 *
 * One connection: DOWN (waiting for retry_at) -> CONNECTING (PQconnectPoll) -> IDLE <-> BUSY
 * (one drain in flight). The first drain of a connection also sends the LISTEN, in the same
 * simple query, so no notification sent after it can be missed.
 */
#include "search_indexer.h"

#include "store.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_RETRY_MIN_MS 250
#define S_RETRY_MAX_MS 5000
#define S_CONNECT_TIMEOUT_MS 10000
#define S_STR(x) #x
#define S_XSTR(x) S_STR(x)
#define S_DRAIN "SELECT profai_index_pending(" S_XSTR(SEARCH_INDEXER_BATCH) ")"
#define S_LISTEN_AND_DRAIN "LISTEN profai_course_index; " S_DRAIN

typedef enum { S_DOWN, S_CONNECTING, S_IDLE, S_BUSY } s_state_t;

struct search_indexer_t {
    char *conninfo;
    search_indexer_event_fn *on_event;
    void *owner;
    PGconn *conn;
    s_state_t state;
    PostgresPollingStatusType poll_status;
    int64_t now, retry_at, connect_deadline, backoff;
    int64_t next_sweep; /* IDLE: drain then at the latest */
    bool listening;     /* the LISTEN of this connection was sent */
    bool due;           /* a drain is wanted as soon as IDLE */
    bool want_write;
    PGresult *last; /* BUSY: the last result of the drain so far */
    bool failed;    /* BUSY: one of its results was an error */
};

search_indexer_t *
search_indexer_new(const char *conninfo, search_indexer_event_fn *on_event, void *owner)
{
    search_indexer_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->conninfo = strdup(conninfo != NULL ? conninfo : "");
    if (self->conninfo == NULL) {
        free(self);
        return NULL;
    }
    self->on_event = on_event;
    self->owner = owner;
    self->backoff = S_RETRY_MIN_MS;
    return self;
}

void
search_indexer_destroy(search_indexer_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    search_indexer_t *self = *self_p;
    PQclear(self->last);
    if (self->conn != NULL)
        PQfinish(self->conn);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

static void
s_report(search_indexer_t *self, bool up, const char *detail)
{
    if (self->on_event != NULL)
        self->on_event(self->owner, up, detail);
}

static void
s_lose(search_indexer_t *self, const char *why)
{
    char detail[256];
    const char *pq = self->conn != NULL ? PQerrorMessage(self->conn) : "";
    snprintf(detail, sizeof detail, "%s%s%.*s", why, pq[0] != '\0' ? ": " : "",
             (int)strcspn(pq, "\n"), pq);
    PQclear(self->last);
    self->last = NULL;
    if (self->conn != NULL)
        PQfinish(self->conn);
    self->conn = NULL;
    self->state = S_DOWN;
    self->listening = false;
    self->want_write = false;
    self->retry_at = self->now + self->backoff;
    self->backoff = self->backoff * 2 > S_RETRY_MAX_MS ? S_RETRY_MAX_MS : self->backoff * 2;
    s_report(self, false, detail);
}

/* A course that cannot be indexed raises a WARNING (migration 002): the server log has it;
 * libpq would print it on stderr, outside the broker's log format. */
static void
s_ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void
s_connect_begin(search_indexer_t *self)
{
    self->conn = store_connect_start(self->conninfo);
    if (self->conn == NULL || PQstatus(self->conn) == CONNECTION_BAD) {
        s_lose(self, "cannot connect");
        return;
    }
    PQsetNoticeProcessor(self->conn, s_ignore_notice, NULL);
    self->state = S_CONNECTING;
    self->poll_status = PGRES_POLLING_WRITING;
    self->connect_deadline = self->now + S_CONNECT_TIMEOUT_MS;
}

static void
s_connect_poll(search_indexer_t *self)
{
    if (self->now >= self->connect_deadline) {
        s_lose(self, "connection attempt timed out");
        return;
    }
    self->poll_status = PQconnectPoll(self->conn);
    if (self->poll_status == PGRES_POLLING_FAILED) {
        s_lose(self, "cannot connect");
    } else if (self->poll_status == PGRES_POLLING_OK) {
        if (PQsetnonblocking(self->conn, 1) != 0) {
            s_lose(self, "cannot make the connection non-blocking");
            return;
        }
        self->state = S_IDLE;
        self->backoff = S_RETRY_MIN_MS;
        self->due = true; /* what was queued while away */
        s_report(self, true, NULL);
    }
}

/* Read what has arrived; a notification makes a drain due. false: connection lost. */
static bool
s_consume(search_indexer_t *self)
{
    if (self->want_write) {
        int rc = PQflush(self->conn);
        if (rc < 0) {
            s_lose(self, "write failed");
            return false;
        }
        self->want_write = rc == 1;
    }
    if (!PQconsumeInput(self->conn) || PQstatus(self->conn) == CONNECTION_BAD) {
        s_lose(self, "connection lost");
        return false;
    }
    PGnotify *n;
    while ((n = PQnotifies(self->conn)) != NULL) {
        self->due = true;
        PQfreemem(n);
    }
    return true;
}

static void
s_send(search_indexer_t *self)
{
    self->due = false;
    self->failed = false;
    self->state = S_BUSY;
    if (!PQsendQuery(self->conn, self->listening ? S_DRAIN : S_LISTEN_AND_DRAIN)) {
        s_lose(self, "cannot send the drain");
        return;
    }
    self->listening = true;
    int rc = PQflush(self->conn);
    if (rc < 0)
        s_lose(self, "write failed");
    else
        self->want_write = rc == 1;
}

/* BUSY: collect the drain's results; once complete, drain again if it took a whole batch. */
static void
s_receive(search_indexer_t *self)
{
    while (!PQisBusy(self->conn)) {
        PGresult *res = PQgetResult(self->conn);
        if (res != NULL) {
            ExecStatusType st = PQresultStatus(res);
            if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
                self->failed = true;
                PQclear(self->last);
                self->last = res; /* keep the error */
            } else if (!self->failed) {
                PQclear(self->last);
                self->last = res;
            } else {
                PQclear(res);
            }
            continue;
        }
        PGresult *got = self->last;
        self->last = NULL;
        self->state = S_IDLE;
        self->next_sweep = self->now + SEARCH_INDEXER_SWEEP_MS;
        if (self->failed || got == NULL || PQntuples(got) != 1) {
            char why[256];
            const char *msg = got != NULL ? PQresultErrorMessage(got) : "no result";
            snprintf(why, sizeof why, "search indexing failed: %.*s", (int)strcspn(msg, "\n"),
                     msg[0] != '\0' ? msg : "unexpected answer");
            s_report(self, false, why);
            /* A failed simple query rolls back the LISTEN sent with it: send it again. */
            self->listening = false;
        } else {
            long taken = strtol(PQgetvalue(got, 0, 0), NULL, 10);
            if (taken >= SEARCH_INDEXER_BATCH)
                self->due = true;
        }
        PQclear(got);
        return;
    }
}

void
search_indexer_service(search_indexer_t *self, int64_t now)
{
    self->now = now;
    if (self->state == S_DOWN && now >= self->retry_at)
        s_connect_begin(self);
    if (self->state == S_CONNECTING)
        s_connect_poll(self);
    if ((self->state == S_IDLE || self->state == S_BUSY) && !s_consume(self))
        return;
    if (self->state == S_BUSY)
        s_receive(self);
    if (self->state == S_IDLE && (self->due || now >= self->next_sweep))
        s_send(self);
}

int
search_indexer_pollfd(const search_indexer_t *self, short *events)
{
    *events = 0;
    if (self->conn == NULL || self->state == S_DOWN)
        return -1;
    if (self->state == S_CONNECTING)
        *events = self->poll_status == PGRES_POLLING_READING ? ZMQ_POLLIN : ZMQ_POLLOUT;
    else
        *events = ZMQ_POLLIN | (self->want_write ? ZMQ_POLLOUT : 0);
    return PQsocket(self->conn);
}

int64_t
search_indexer_timeout(const search_indexer_t *self, int64_t now)
{
    int64_t at;
    switch (self->state) {
    case S_DOWN:
        at = self->retry_at;
        break;
    case S_CONNECTING:
        at = self->connect_deadline;
        break;
    case S_IDLE:
        at = self->due ? now : self->next_sweep;
        break;
    default:
        return -1;
    }
    return at > now ? at - now : 0;
}
