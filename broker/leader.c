/*
 * leader.c - see leader.h.
 */
#include "leader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct leader_t {
    char *conninfo;
    char *name;
    PGconn *conn; /* the lock session; NULL when not connected */
    bool leading;
};

/* Take the lock and the next epoch together: no row when another session holds the lock. */
static const char s_take_sql[] =
    "WITH l AS (SELECT pg_try_advisory_lock(" LEADER_LOCK_KEY ") AS got)"
    " UPDATE broker_leader SET epoch = epoch + 1, leader = $1, since = now()"
    " FROM l WHERE l.got AND broker_leader.one RETURNING epoch";

leader_t *
leader_new(const char *conninfo, const char *name)
{
    leader_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->conninfo = strdup(conninfo != NULL ? conninfo : "");
    self->name = strdup(name != NULL ? name : "");
    if (self->conninfo == NULL || self->name == NULL) {
        leader_destroy(&self);
        return NULL;
    }
    return self;
}

void
leader_destroy(leader_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    leader_t *self = *self_p;
    PQfinish(self->conn);
    free(self->conninfo);
    free(self->name);
    free(self);
    *self_p = NULL;
}

/* Copy libpq's message on one line into err. */
static void
s_error(char *err, size_t err_size, const char *what, const char *msg)
{
    snprintf(err, err_size, "%s%s", what, msg != NULL && *msg != '\0' ? msg : "unknown error");
    for (char *p = err; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r')
            *p = *(p + 1) == '\0' ? '\0' : ' ';
    }
}

static void
s_close(leader_t *self)
{
    PQfinish(self->conn);
    self->conn = NULL;
    self->leading = false;
}

/* The lock session detects a vanished peer in about 3 s on both ends: the client's keepalives
 * and user timeout here, and the server's (set for this session only through `options`), so
 * that PostgreSQL frees the lock of a leader whose host left the network (docs/operations.md,
 * "Standby broker"). The conninfo given last overrides any of these. */
static int
s_connect(leader_t *self, char *err, size_t err_size)
{
    if (self->conn != NULL)
        return 0;
    const char *keywords[] = {"application_name",
                              "client_encoding",
                              "connect_timeout",
                              "keepalives",
                              "keepalives_idle",
                              "keepalives_interval",
                              "keepalives_count",
                              "tcp_user_timeout",
                              "options",
                              "dbname",
                              NULL};
    const char *values[] = {"profai-broker-lock",
                            "UTF8",
                            "3",
                            "1",
                            "1",
                            "1",
                            "2",
                            "3000",
                            "-c tcp_keepalives_idle=1 -c tcp_keepalives_interval=1 "
                            "-c tcp_keepalives_count=2 -c tcp_user_timeout=3000",
                            self->conninfo,
                            NULL};
    self->conn = PQconnectdbParams(keywords, values, 1);
    if (self->conn == NULL || PQstatus(self->conn) != CONNECTION_OK) {
        s_error(err, err_size, "cannot open the lock session: ",
                self->conn != NULL ? PQerrorMessage(self->conn) : "out of memory");
        s_close(self);
        return -1;
    }
    return 0;
}

int
leader_try_take(leader_t *self, int64_t *epoch, char *err, size_t err_size)
{
    if (s_connect(self, err, err_size) != 0)
        return -1;
    const char *params[] = {self->name};
    PGresult *res = PQexecParams(self->conn, s_take_sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        /* The lock may have been taken before the UPDATE failed: closing the session frees
         * it, so it is never held without its epoch. */
        s_error(err, err_size, "cannot take the leadership: ", PQresultErrorMessage(res));
        PQclear(res);
        s_close(self);
        return -1;
    }
    int rc = 0;
    if (PQntuples(res) == 1) {
        *epoch = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        self->leading = true;
        rc = 1;
    }
    PQclear(res);
    return rc;
}

/* Take the lock again without a new epoch: the lock, and the epoch as it is. */
static const char s_retake_sql[] =
    "WITH l AS (SELECT pg_try_advisory_lock(" LEADER_LOCK_KEY ") AS got)"
    " SELECT l.got, b.epoch FROM l, broker_leader b WHERE b.one";

static leader_status_t
s_retake(leader_t *self, int64_t epoch, char *err, size_t err_size)
{
    if (s_connect(self, err, err_size) != 0)
        return LEADER_UNKNOWN;
    PGresult *res = PQexec(self->conn, s_retake_sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        s_error(err, err_size, "cannot take the lock again: ", PQresultErrorMessage(res));
        PQclear(res);
        s_close(self);
        return LEADER_UNKNOWN;
    }
    bool got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    int64_t now_epoch = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    if (got && now_epoch == epoch) {
        self->leading = true;
        return LEADER_RETAKEN;
    }
    snprintf(err, err_size,
             got ? "epoch %lld has replaced this broker's %lld"
                 : "another broker holds the lock (epoch %lld, this broker's %lld)",
             (long long)now_epoch, (long long)epoch);
    s_close(self); /* releases the lock if it was taken */
    return LEADER_LOST;
}

leader_status_t
leader_check(leader_t *self, int64_t epoch, char *err, size_t err_size)
{
    if (self->conn != NULL && self->leading) {
        PGresult *res = PQexec(self->conn, "SELECT 1");
        bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
        if (ok)
            return LEADER_HELD;
        s_close(self);
    }
    return s_retake(self, epoch, err, err_size);
}

PGconn *
leader_connection(leader_t *self)
{
    return self->conn;
}
