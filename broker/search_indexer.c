/*
 * search_indexer.c - see search_indexer.h.
 *
 * One connection, a pg_session (DOWN -> CONNECTING -> UP, reconnecting with back-off); once
 * UP it is IDLE <-> BUSY (one drain in flight). The first drain of a connection also sets the
 * connection's synchronous_commit, in the same simple query. A drain is due when the broker
 * says a course committed (search_indexer_wake), on connecting, after a drain that took a
 * whole batch, and every SEARCH_INDEXER_SWEEP_MS; a woken drain waits until
 * SEARCH_INDEXER_GATHER_MS after the last one ended, so that one drain takes what many commits
 * queued.
 */
#include "search_indexer.h"

#include "pg_session.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_STR(x) #x
#define S_XSTR(x) S_STR(x)
#define S_DRAIN "SELECT profai_index_pending(" S_XSTR(SEARCH_INDEXER_BATCH) ")"
/* The index is derived from committed courses and its queue rows are deleted by the same
 * transaction that indexes them, so a drain lost in a crash only leaves its courses queued, to
 * be indexed again: its commit need not wait for a WAL flush of its own. One flush less per
 * drain (about one per store commit under load) that the store's commit would otherwise queue
 * behind (docs/performance.md, "Dispatch latency: ..."). */
#define S_SET_AND_DRAIN "SET synchronous_commit = off; " S_DRAIN

struct search_indexer_t {
    char *conninfo;
    search_indexer_event_fn *on_event;
    void *owner;
    pg_session_t session;
    bool busy; /* UP with a drain in flight */
    int64_t now;
    int64_t next_sweep; /* IDLE: drain then at the latest */
    bool configured;    /* the SET of this connection was sent */
    bool due;           /* a drain is wanted as soon as IDLE and not before not_before */
    int64_t not_before; /* a due drain waits until then, gathering courses */
    PGresult *last;     /* BUSY: the last result of the drain so far */
    bool failed;        /* BUSY: one of its results was an error */
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
    pg_session_init(&self->session);
    return self;
}

void
search_indexer_destroy(search_indexer_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    search_indexer_t *self = *self_p;
    PQclear(self->last);
    pg_session_close(&self->session);
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
    PQclear(self->last);
    self->last = NULL;
    self->busy = false;
    self->configured = false;
    char detail[256];
    pg_session_lose(&self->session, self->now, why, detail, sizeof detail);
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

/* DOWN or CONNECTING: go on connecting. */
static void
s_connect(search_indexer_t *self)
{
    const char *why = NULL;
    switch (pg_session_connect(&self->session, self->conninfo, self->now, &why)) {
    case PG_SESSION_FAILED:
        s_lose(self, why);
        break;
    case PG_SESSION_CAME_UP:
        PQsetNoticeProcessor(self->session.conn, s_ignore_notice, NULL);
        self->due = true; /* what was queued while away */
        s_report(self, true, NULL);
        break;
    case PG_SESSION_WAITING:
        break;
    }
}

/* Read what has arrived. false: connection lost. */
static bool
s_consume(search_indexer_t *self)
{
    if (self->session.want_write && pg_session_flush(&self->session) != 0) {
        s_lose(self, "write failed");
        return false;
    }
    if (!PQconsumeInput(self->session.conn) || PQstatus(self->session.conn) == CONNECTION_BAD) {
        s_lose(self, "connection lost");
        return false;
    }
    return true;
}

static void
s_send(search_indexer_t *self)
{
    self->due = false;
    self->failed = false;
    self->busy = true;
    if (!PQsendQuery(self->session.conn, self->configured ? S_DRAIN : S_SET_AND_DRAIN)) {
        s_lose(self, "cannot send the drain");
        return;
    }
    self->configured = true;
    if (pg_session_flush(&self->session) != 0)
        s_lose(self, "write failed");
}

/* BUSY: collect the drain's results; once complete, drain again if it took a whole batch. */
static void
s_receive(search_indexer_t *self)
{
    while (!PQisBusy(self->session.conn)) {
        PGresult *res = PQgetResult(self->session.conn);
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
        self->busy = false;
        self->next_sweep = self->now + SEARCH_INDEXER_SWEEP_MS;
        self->not_before = self->now + SEARCH_INDEXER_GATHER_MS;
        if (self->failed || got == NULL || PQntuples(got) != 1) {
            char why[256];
            const char *msg = got != NULL ? PQresultErrorMessage(got) : "no result";
            pg_session_first_line(why, sizeof why, "search indexing failed: ",
                                  msg[0] != '\0' ? msg : "unexpected answer");
            s_report(self, false, why);
            /* A failed simple query rolls back the SET sent with it: send it again. */
            self->configured = false;
            /* Not again before the next sweep, however many commits wake it meanwhile: a
             * drain that fails for every course would otherwise run (and be reported) once
             * per SEARCH_INDEXER_GATHER_MS. */
            self->not_before = self->next_sweep;
        } else {
            long taken = strtol(PQgetvalue(got, 0, 0), NULL, 10);
            if (taken >= SEARCH_INDEXER_BATCH) {
                self->due = true;
                self->not_before = self->now;
            }
        }
        PQclear(got);
        return;
    }
}

void
search_indexer_wake(search_indexer_t *self)
{
    self->due = true;
}

void
search_indexer_service(search_indexer_t *self, int64_t now)
{
    self->now = now;
    if (self->session.state != PG_SESSION_UP)
        s_connect(self);
    if (self->session.state != PG_SESSION_UP || !s_consume(self))
        return;
    if (self->busy)
        s_receive(self);
    if (self->session.state == PG_SESSION_UP && !self->busy &&
        ((self->due && now >= self->not_before) || now >= self->next_sweep))
        s_send(self);
}

int
search_indexer_pollfd(const search_indexer_t *self, short *events)
{
    return pg_session_pollfd(&self->session, events);
}

int64_t
search_indexer_timeout(const search_indexer_t *self, int64_t now)
{
    int64_t at = pg_session_due(&self->session);
    if (at < 0 && self->busy)
        return -1;
    if (at < 0)
        at = self->due && self->not_before < self->next_sweep ? self->not_before : self->next_sweep;
    return at > now ? at - now : 0;
}
