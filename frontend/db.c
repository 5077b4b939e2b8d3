/* db.c - see db.h: the connection pool, the statement runner every db_*.c file uses
 * (db_query.h), and the token and blob statements. */
#define _GNU_SOURCE
#include "db.h"

#include "db_query.h"
#include "log.h"

#include <czmq.h> /* zclock_mono: the monotonic clock, in ms */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Connection failures are logged at most this often (a database that is down would otherwise
 * log one line per request). */
#define DB_LOG_INTERVAL_MS 5000

struct db_pool_t {
    char *conninfo;
    int size;
    int acquire_timeout_ms;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled when a connection is released */
    PGconn **conns;      /* NULL until first used */
    int *free_slots;     /* stack of idle connection indexes */
    int nfree;
    int64_t last_log_ms; /* guarded by lock */
};

/* libpq messages end with a newline and may hold several lines: keep the first. */
static int
s_line_len(const char *msg)
{
    return msg ? (int)strcspn(msg, "\r\n") : 0;
}

static bool
s_should_log(db_pool_t *self)
{
    int64_t now = zclock_mono();
    pthread_mutex_lock(&self->lock);
    bool yes = self->last_log_ms == 0 || now - self->last_log_ms >= DB_LOG_INTERVAL_MS;
    if (yes)
        self->last_log_ms = now;
    pthread_mutex_unlock(&self->lock);
    return yes;
}

db_pool_t *
db_pool_new(const char *conninfo, int size, int acquire_timeout_ms)
{
    db_pool_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->conninfo = strdup(conninfo ? conninfo : "");
    self->conns = calloc((size_t)size, sizeof *self->conns);
    self->free_slots = calloc((size_t)size, sizeof *self->free_slots);
    if (self->conninfo == NULL || self->conns == NULL || self->free_slots == NULL) {
        free(self->conninfo);
        free(self->conns);
        free(self->free_slots);
        free(self);
        return NULL;
    }
    self->size = size;
    self->acquire_timeout_ms = acquire_timeout_ms;
    for (int i = 0; i < size; i++)
        self->free_slots[self->nfree++] = size - 1 - i;
    pthread_mutex_init(&self->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self->cond, &attr);
    pthread_condattr_destroy(&attr);
    return self;
}

void
db_pool_destroy(db_pool_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    db_pool_t *self = *self_p;
    for (int i = 0; i < self->size; i++)
        if (self->conns[i] != NULL)
            PQfinish(self->conns[i]);
    pthread_cond_destroy(&self->cond);
    pthread_mutex_destroy(&self->lock);
    free(self->conns);
    free(self->free_slots);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

/* A free connection slot, waiting up to acquire_timeout_ms; -1 on timeout. */
static int
s_acquire(db_pool_t *self)
{
    int64_t deadline = zclock_mono() + self->acquire_timeout_ms;
    struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
    int slot = -1;
    pthread_mutex_lock(&self->lock);
    while (self->nfree == 0) {
        if (pthread_cond_timedwait(&self->cond, &self->lock, &ts) != 0 && self->nfree == 0)
            break;
    }
    if (self->nfree > 0)
        slot = self->free_slots[--self->nfree];
    pthread_mutex_unlock(&self->lock);
    return slot;
}

static void
s_release(db_pool_t *self, int slot)
{
    pthread_mutex_lock(&self->lock);
    self->free_slots[self->nfree++] = slot;
    pthread_cond_signal(&self->cond);
    pthread_mutex_unlock(&self->lock);
}

/* 0 when the connection's schema is new enough, -2 when it is older than this frontend needs,
 * -3 when there is none yet (the broker creates it), -1 when the query failed otherwise. A
 * sentence in err. */
static int
s_schema_check(PGconn *conn, char *err, size_t err_size)
{
    PGresult *res = PQexec(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        bool missing = state != NULL && strcmp(state, "42P01") == 0; /* undefined_table */
        snprintf(err, err_size, "%s",
                 missing ? "the database has no ProfAI schema yet: run profai-broker once to "
                           "create it"
                         : "cannot read the schema version");
        rc = missing ? -3 : -1;
    } else {
        long version = strtol(PQgetvalue(res, 0, 0), NULL, 10);
        if (version == 0) {
            snprintf(err, err_size,
                     "the database has no ProfAI schema yet: run profai-broker once to create it");
            rc = -3;
        } else if (version < DB_SCHEMA_VERSION) {
            snprintf(err, err_size,
                     "the database schema is at version %ld, this frontend needs %d: run the "
                     "newer profai-broker once to migrate it",
                     version, DB_SCHEMA_VERSION);
            rc = -2;
        }
    }
    PQclear(res);
    return rc;
}

/* Search statements make PostgreSQL send NOTICEs (a query of stop words only); libpq would
 * print each on stderr. They carry nothing an operator needs. */
static void
s_ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *
s_connect(db_pool_t *self)
{
    /* Defaults first: the conninfo (expanded from dbname, last) overrides any of them. GSSAPI
     * negotiation is off by default because it can use deep stacks (and we run on civetweb's
     * small ones). */
    const char *keys[] = {"connect_timeout", "application_name", "gssencmode",
                          "options",         "dbname",           NULL};
    const char *values[] = {
        "5", "profai-frontend", "disable", "-c statement_timeout=15000", self->conninfo, NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (conn != NULL)
        PQsetNoticeProcessor(conn, s_ignore_notice, NULL);
    return conn;
}

PGconn *
db_pool_connect(db_pool_t *self)
{
    return s_connect(self);
}

/* Make sure the slot holds a working connection with a usable schema. */
static int
s_ready(db_pool_t *self, int slot)
{
    PGconn *conn = self->conns[slot];
    if (conn != NULL && PQstatus(conn) == CONNECTION_OK)
        return 0;
    if (conn != NULL)
        PQfinish(conn);
    conn = s_connect(self);
    self->conns[slot] = conn;
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
        if (s_should_log(self))
            log_error("database unreachable: %.*s", s_line_len(msg), msg);
        return -1;
    }
    char err[256];
    if (s_schema_check(conn, err, sizeof err) != 0) {
        if (s_should_log(self))
            log_error("database not usable: %s", err);
        PQfinish(conn);
        self->conns[slot] = NULL;
        return -1;
    }
    return 0;
}

db_status_t
db_query(db_pool_t *self, const char *sql, int nparams, const char *const *values,
         const int *lengths, const int *formats, ExecStatusType want, PGresult **out)
{
    *out = NULL;
    int slot = s_acquire(self);
    if (slot < 0) {
        log_error("no free database connection within %d ms", self->acquire_timeout_ms);
        return DB_UNAVAILABLE;
    }
    db_status_t status = DB_UNAVAILABLE;
    if (s_ready(self, slot) != 0)
        goto done;
    for (int attempt = 0; attempt < 2; attempt++) {
        PGconn *conn = self->conns[slot];
        PGresult *res = PQexecParams(conn, sql, nparams, NULL, values, lengths, formats, 0);
        if (PQresultStatus(res) == want) {
            *out = res;
            status = DB_OK;
            goto done;
        }
        if (PQstatus(conn) != CONNECTION_BAD) {
            const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
            log_error("database query failed: %.*s", s_line_len(msg), msg);
            PQclear(res);
            goto done;
        }
        PQclear(res);
        if (attempt > 0)
            break;
        log_warn("database connection lost (%.*s): resetting it", s_line_len(PQerrorMessage(conn)),
                 PQerrorMessage(conn));
        PQreset(conn);
        char err[256];
        if (PQstatus(conn) != CONNECTION_OK) {
            log_error("database unreachable: %.*s", s_line_len(PQerrorMessage(conn)),
                      PQerrorMessage(conn));
            break;
        }
        if (s_schema_check(conn, err, sizeof err) != 0) {
            log_error("database not usable: %s", err);
            break;
        }
    }
done:
    s_release(self, slot);
    return status;
}

int
db_pool_check(db_pool_t *self, char *err, size_t err_size)
{
    int slot = s_acquire(self);
    if (slot < 0) {
        snprintf(err, err_size, "no free database connection");
        return -1;
    }
    int rc = 0;
    PGconn *conn = self->conns[slot];
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        if (conn != NULL)
            PQfinish(conn);
        conn = self->conns[slot] = s_connect(self);
    }
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
        snprintf(err, err_size, "cannot connect to the database: %.*s", s_line_len(msg), msg);
        rc = -1;
    } else {
        rc = s_schema_check(conn, err, err_size);
        if (rc == -3)
            rc = -1; /* not created yet: the broker may be about to */
        if (rc != 0) {
            /* Checked again when next used (s_ready). */
            PQfinish(conn);
            self->conns[slot] = NULL;
        }
    }
    s_release(self, slot);
    return rc;
}

db_status_t
db_ping(db_pool_t *self)
{
    PGresult *res = NULL;
    db_status_t status = db_query(self, "SELECT 1", 0, NULL, NULL, NULL, PGRES_TUPLES_OK, &res);
    PQclear(res);
    return status;
}

db_status_t
db_token_user(db_pool_t *self, const uint8_t hash[32], db_user_t *user)
{
    const char *values[1] = {(const char *)hash};
    const int lengths[1] = {32};
    const int formats[1] = {1};
    PGresult *res = NULL;
    db_status_t status = db_query(self,
                                  "SELECT u.id::text, u.name, u.role, "
                                  "coalesce(t.expires_at <= now(), false), "
                                  "coalesce(floor(extract(epoch FROM t.expires_at) * 1000)"
                                  "::bigint, 0) FROM tokens t "
                                  "JOIN users u ON u.id = t.user_id "
                                  "WHERE t.hash = $1 AND t.revoked_at IS NULL",
                                  1, values, lengths, formats, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    if (PQntuples(res) < 1) {
        status = DB_NOT_FOUND;
    } else {
        snprintf(user->id, sizeof user->id, "%s", PQgetvalue(res, 0, 0));
        snprintf(user->name, sizeof user->name, "%s", PQgetvalue(res, 0, 1));
        snprintf(user->role, sizeof user->role, "%s", PQgetvalue(res, 0, 2));
        user->expired = strcmp(PQgetvalue(res, 0, 3), "t") == 0;
        user->expires_ms = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
    }
    PQclear(res);
    return status;
}

db_status_t
db_blob_store(db_pool_t *self, const char *sha256, const uint8_t *data, size_t len)
{
    char size[32];
    snprintf(size, sizeof size, "%zu", len);
    const char *values[3] = {sha256, size, (const char *)data};
    const int lengths[3] = {0, 0, (int)len};
    const int formats[3] = {0, 0, 1};
    PGresult *res = NULL;
    db_status_t status = db_query(self,
                                  "INSERT INTO blobs (sha256, size, data) VALUES ($1, $2, $3) "
                                  "ON CONFLICT (sha256) DO UPDATE SET used_at = now()",
                                  3, values, lengths, formats, PGRES_COMMAND_OK, &res);
    PQclear(res);
    return status;
}

db_status_t
db_blobs_sweep(db_pool_t *self, long long grace_ms, long *deleted)
{
    char grace[32];
    snprintf(grace, sizeof grace, "%lld", grace_ms);
    const char *values[1] = {grace};
    PGresult *res = NULL;
    db_status_t status =
        db_query(self, "SELECT blobs_sweep($1)", 1, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    *deleted = status == DB_OK && PQntuples(res) == 1 ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    return status;
}

/* ---------------------------------------------------------------- column readers */

void
db_write_text(json_t *j, PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        json_null(j);
    else
        json_string(j, PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

void
db_write_int(json_t *j, PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        json_null(j);
    else
        json_int(j, strtoll(PQgetvalue(res, row, col), NULL, 10));
}

void
db_write_raw(json_t *j, PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        json_null(j);
    else
        json_raw(j, PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

db_status_t
db_json_take(json_t *j, char **json, size_t *len)
{
    if (json_failed(j)) {
        json_free(j);
        return DB_UNAVAILABLE;
    }
    *json = json_steal(j, len);
    return DB_OK;
}
