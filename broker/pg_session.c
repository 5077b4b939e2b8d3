/*
 * pg_session.c - see pg_session.h.
 */
#include "pg_session.h"

#include "store.h"

#include <stdio.h>
#include <string.h>
#include <zmq.h>

void
pg_session_init(pg_session_t *s)
{
    *s = (pg_session_t){.state = PG_SESSION_DOWN, .backoff = PG_SESSION_RETRY_MIN_MS};
}

void
pg_session_close(pg_session_t *s)
{
    if (s->conn != NULL)
        PQfinish(s->conn);
    s->conn = NULL;
    s->state = PG_SESSION_DOWN;
    s->want_write = false;
}

pg_session_step_t
pg_session_connect(pg_session_t *s, const char *conninfo, int64_t now, const char **why)
{
    if (s->state == PG_SESSION_DOWN) {
        if (now < s->retry_at)
            return PG_SESSION_WAITING;
        s->conn = store_connect_start(conninfo);
        if (s->conn == NULL || PQstatus(s->conn) == CONNECTION_BAD) {
            *why = "cannot connect";
            return PG_SESSION_FAILED;
        }
        s->state = PG_SESSION_CONNECTING;
        s->poll_status = PGRES_POLLING_WRITING;
        s->connect_deadline = now + PG_SESSION_CONNECT_TIMEOUT_MS;
    }
    if (s->state != PG_SESSION_CONNECTING)
        return PG_SESSION_WAITING;
    if (now >= s->connect_deadline) {
        *why = "connection attempt timed out";
        return PG_SESSION_FAILED;
    }
    s->poll_status = PQconnectPoll(s->conn);
    if (s->poll_status == PGRES_POLLING_FAILED) {
        *why = "cannot connect";
        return PG_SESSION_FAILED;
    }
    if (s->poll_status != PGRES_POLLING_OK)
        return PG_SESSION_WAITING;
    if (PQsetnonblocking(s->conn, 1) != 0) {
        *why = "cannot make the connection non-blocking";
        return PG_SESSION_FAILED;
    }
    s->state = PG_SESSION_UP;
    s->want_write = false;
    s->backoff = PG_SESSION_RETRY_MIN_MS;
    return PG_SESSION_CAME_UP;
}

void
pg_session_first_line(char *buf, size_t size, const char *prefix, const char *msg)
{
    snprintf(buf, size, "%s%.*s", prefix, (int)strcspn(msg, "\n"), msg);
}

void
pg_session_lose(pg_session_t *s, int64_t now, const char *why, char *detail, size_t detail_size)
{
    const char *pq = s->conn != NULL ? PQerrorMessage(s->conn) : "";
    snprintf(detail, detail_size, "%s%s%.*s", why, pq[0] != '\0' ? ": " : "",
             (int)strcspn(pq, "\n"), pq);
    pg_session_close(s);
    s->retry_at = now + s->backoff;
    s->backoff =
        s->backoff * 2 > PG_SESSION_RETRY_MAX_MS ? PG_SESSION_RETRY_MAX_MS : s->backoff * 2;
}

int
pg_session_flush(pg_session_t *s)
{
    int rc = PQflush(s->conn);
    if (rc < 0)
        return -1;
    s->want_write = rc == 1;
    return 0;
}

int
pg_session_pollfd(const pg_session_t *s, short *events)
{
    *events = 0;
    if (s->conn == NULL || s->state == PG_SESSION_DOWN)
        return -1;
    if (s->state == PG_SESSION_CONNECTING)
        *events = s->poll_status == PGRES_POLLING_READING ? ZMQ_POLLIN : ZMQ_POLLOUT;
    else
        *events = ZMQ_POLLIN | (s->want_write ? ZMQ_POLLOUT : 0);
    return PQsocket(s->conn);
}

int64_t
pg_session_due(const pg_session_t *s)
{
    if (s->state == PG_SESSION_DOWN)
        return s->retry_at;
    if (s->state == PG_SESSION_CONNECTING)
        return s->connect_deadline;
    return -1;
}
