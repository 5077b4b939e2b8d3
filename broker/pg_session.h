/*
 * pg_session.h - one non-blocking PostgreSQL connection that reconnects itself, for the
 * broker's side connections that run one statement at a time on their own (blob_reader.c,
 * search_indexer.c). The store (store.c) has its own pipelined connection.
 *
 * States: DOWN (waiting for retry_at) -> CONNECTING (PQconnectPoll, at most
 * PG_SESSION_CONNECT_TIMEOUT_MS) -> UP (non-blocking). A lost or failed connection goes DOWN
 * and is tried again after a back-off that doubles from PG_SESSION_RETRY_MIN_MS to
 * PG_SESSION_RETRY_MAX_MS and restarts at the minimum once a connection is made.
 *
 * Who owns what: the session owns the PGconn (opened with store_connect_start's defaults,
 * closed by pg_session_lose and pg_session_close) and its connection timers. The caller owns
 * every statement and result it sends on `conn` while UP, and what it holds for them: on
 * PG_SESSION_FAILED, or when its own reads or writes fail, it drops those and calls
 * pg_session_lose. Nothing here logs or reports: the caller turns the sentence
 * pg_session_lose writes into its event.
 */
#ifndef PROFAI_BROKER_PG_SESSION_H
#define PROFAI_BROKER_PG_SESSION_H

#include "profai/compiler.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_SESSION_RETRY_MIN_MS 250
#define PG_SESSION_RETRY_MAX_MS 5000
#define PG_SESSION_CONNECT_TIMEOUT_MS 10000

typedef enum { PG_SESSION_DOWN, PG_SESSION_CONNECTING, PG_SESSION_UP } pg_session_state_t;

/* What pg_session_connect did. */
typedef enum {
    PG_SESSION_WAITING, /* nothing changed, or the attempt goes on */
    PG_SESSION_CAME_UP, /* the connection was just made: UP */
    PG_SESSION_FAILED   /* the attempt failed: the caller calls pg_session_lose with *why */
} pg_session_step_t;

typedef struct {
    PGconn *conn; /* NULL when DOWN */
    pg_session_state_t state;
    PostgresPollingStatusType poll_status; /* CONNECTING: what PQconnectPoll waits for */
    int64_t retry_at;                      /* DOWN: the next attempt (ms, the caller's clock) */
    int64_t connect_deadline;              /* CONNECTING: when the attempt fails */
    int64_t backoff;                       /* the wait after the next loss */
    bool want_write;                       /* UP: libpq holds output not yet written */
} pg_session_t;

/* A DOWN session whose first attempt is due at once. */
void pg_session_init(pg_session_t *s);

/* Close the connection, if any (the session is DOWN afterwards). */
void pg_session_close(pg_session_t *s);

/* At time now: DOWN and due, start an attempt; CONNECTING, advance it (a CONNECTING session
 * past its deadline fails). */
pg_session_step_t pg_session_connect(pg_session_t *s, const char *conninfo, int64_t now,
                                     const char **why) PROFAI_MUST_CHECK;

/* Drop the connection: DOWN until now plus the back-off, which doubles. detail: why and
 * libpq's last message, on one line. */
void pg_session_lose(pg_session_t *s, int64_t now, const char *why, char *detail,
                     size_t detail_size);

/* UP: write what libpq holds (sets want_write). 0, or -1 when the write failed. */
int pg_session_flush(pg_session_t *s) PROFAI_MUST_CHECK;

/* The socket to poll and its events (ZMQ_POLLIN/ZMQ_POLLOUT); -1 when DOWN. */
int pg_session_pollfd(const pg_session_t *s, short *events);

/* DOWN: when the next attempt is due; CONNECTING: its deadline; UP: -1 (nothing timed). */
int64_t pg_session_due(const pg_session_t *s);

/* The first line of msg (a libpq message) into buf, after prefix (also used by the blocking
 * connections of blob_server.c). */
void pg_session_first_line(char *buf, size_t size, const char *prefix, const char *msg);

#endif
