/* db.c - see db.h: the connection pool, the statement runner every db_*.c file uses
 * (db_query.h), and the token and blob statements. */
#define _GNU_SOURCE
#include "db.h"

#include "db_query.h"
#include "fair_pool.h"
#include "log.h"

#include <czmq.h> /* zclock_mono: the monotonic clock, in ms */
#include <glib.h>
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
    pthread_mutex_t lock; /* last_log_ms */
    fair_pool_t *slots;   /* which connections are free; waiters served in arrival order */
    PGconn **conns;       /* NULL until first used */
    /* Per slot: the statements (db_statement_t ids, bits) prepared on the session of backend
     * prepared_pid[slot]; another pid means a new session, where none is. */
    uint32_t *prepared;
    int *prepared_pid;
    int64_t last_log_ms;   /* guarded by lock */
    db_replica_t *replica; /* reads may go there (db_query_read); NULL: none */
};

/* libpq messages end with a newline and may hold several lines: keep the first. */
/* Bytes of a PDF read and sent to PostgreSQL at once (db_blob_store_stream). */
#define DB_BLOB_PIECE (256 * 1024)

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
    self->slots = fair_pool_new(size);
    self->prepared = calloc((size_t)size, sizeof *self->prepared);
    self->prepared_pid = calloc((size_t)size, sizeof *self->prepared_pid);
    if (self->conninfo == NULL || self->conns == NULL || self->slots == NULL ||
        self->prepared == NULL || self->prepared_pid == NULL) {
        free(self->conninfo);
        free(self->conns);
        free(self->prepared);
        free(self->prepared_pid);
        fair_pool_destroy(&self->slots);
        free(self);
        return NULL;
    }
    self->size = size;
    self->acquire_timeout_ms = acquire_timeout_ms;
    pthread_mutex_init(&self->lock, NULL);
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
    pthread_mutex_destroy(&self->lock);
    fair_pool_destroy(&self->slots);
    free(self->conns);
    free(self->prepared);
    free(self->prepared_pid);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

/* A free connection slot, waiting up to acquire_timeout_ms behind earlier waiters (first come,
 * first served: fair_pool.h); -1 on timeout. */
static int
s_acquire(db_pool_t *self)
{
    return fair_pool_take(self->slots, self->acquire_timeout_ms);
}

static void
s_release(db_pool_t *self, int slot)
{
    fair_pool_give(self->slots, slot);
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

void
db_pool_set_replica(db_pool_t *self, db_replica_t *replica)
{
    self->replica = replica;
}

db_replica_t *
db_pool_replica(db_pool_t *self)
{
    return self->replica;
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

/* Run stmt (prepared on this connection first if it is not yet) or, without one, sql. */
static PGresult *
s_exec(db_pool_t *self, int slot, const db_statement_t *stmt, const char *sql, int nparams,
       const char *const *values, const int *lengths, const int *formats)
{
    PGconn *conn = self->conns[slot];
    if (stmt == NULL)
        return PQexecParams(conn, sql, nparams, NULL, values, lengths, formats, 0);
    int pid = PQbackendPID(conn);
    if (pid != self->prepared_pid[slot]) {
        self->prepared_pid[slot] = pid;
        self->prepared[slot] = 0;
    }
    uint32_t bit = 1u << stmt->id;
    if ((self->prepared[slot] & bit) == 0) {
        PGresult *res = PQprepare(conn, stmt->name, stmt->sql, nparams, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            return res; /* the caller logs it or resets the connection */
        PQclear(res);
        self->prepared[slot] |= bit;
    }
    return PQexecPrepared(conn, stmt->name, nparams, values, lengths, formats, 0);
}

db_status_t
db_query(db_pool_t *self, const char *sql, int nparams, const char *const *values,
         const int *lengths, const int *formats, ExecStatusType want, PGresult **out)
{
    return db_query_prepared(self, NULL, sql, nparams, values, lengths, formats, want, out);
}

db_status_t
db_query_row(db_pool_t *self, const char *sql, int nparams, const char *const *values,
             PGresult **out)
{
    db_status_t status = db_query(self, sql, nparams, values, NULL, NULL, PGRES_TUPLES_OK, out);
    if (status == DB_OK && PQntuples(*out) < 1) {
        PQclear(*out);
        *out = NULL;
        return DB_NOT_FOUND;
    }
    return status;
}

db_status_t
db_query_prepared(db_pool_t *self, const db_statement_t *stmt, const char *sql, int nparams,
                  const char *const *values, const int *lengths, const int *formats,
                  ExecStatusType want, PGresult **out)
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
        PGresult *res = s_exec(self, slot, stmt, sql, nparams, values, lengths, formats);
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
db_pool_warm(db_pool_t *self, int n)
{
    int slots[n > 0 ? n : 1];
    int taken = 0, open = 0;
    /* Distinct slots: take them all first (nothing else waits for the pool yet), then give
     * them back in reverse, so the stack of free slots hands out the warm ones first. */
    while (taken < n) {
        int slot = fair_pool_take(self->slots, 0); /* a free slot at once, or -1 */
        if (slot < 0)
            break;
        slots[taken++] = slot;
    }
    for (int i = 0; i < taken; i++) {
        if (s_ready(self, slots[i]) != 0)
            break;
        open++;
    }
    for (int i = taken - 1; i >= 0; i--)
        s_release(self, slots[i]);
    return open;
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
    /* Prepared: 5,500 users arriving at once are 5,500 first sights of a token. */
    static const db_statement_t stmt = {
        DB_STMT_TOKEN, "profai_token_user",
        "SELECT u.id::text, u.name, u.role, coalesce(t.expires_at <= now(), false), "
        "coalesce(floor(extract(epoch FROM t.expires_at) * 1000)::bigint, 0) FROM tokens t "
        "JOIN users u ON u.id = t.user_id WHERE t.hash = $1 AND t.revoked_at IS NULL"};
    PGresult *res = NULL;
    db_status_t status =
        db_query_prepared(self, &stmt, NULL, 1, values, lengths, formats, PGRES_TUPLES_OK, &res);
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

/* Big-endian integers of PostgreSQL's binary COPY format. */
static void
s_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static bool
s_exec_ok(PGconn *conn, const char *sql, ExecStatusType want)
{
    PGresult *res = PQexec(conn, sql);
    bool ok = PQresultStatus(res) == want;
    if (!ok)
        log_error("database query failed: %.*s", s_line_len(PQresultErrorMessage(res)),
                  PQresultErrorMessage(res));
    PQclear(res);
    return ok;
}

/* End a binary COPY that ended with rc (0 all sent; else aborted here) and collect its
 * results: rc, or -1 when PostgreSQL refused what was sent. */
static int
s_copy_end(PGconn *conn, int rc)
{
    if (rc != 0)
        (void)PQputCopyEnd(conn, "upload abandoned");
    PGresult *res;
    bool copied = true;
    while ((res = PQgetResult(conn)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            copied = false;
        if (rc == 0 && !copied)
            log_error("database COPY failed: %.*s", s_line_len(PQresultErrorMessage(res)),
                      PQresultErrorMessage(res));
        PQclear(res);
    }
    return rc == 0 && !copied ? -1 : rc;
}

/* Stream one row (data bytea, size bigint, sha256 text) into upload_blob: 0, -1 when
 * PostgreSQL failed, -2 when the reader did. The COPY is ended (or aborted) here. */
static int
s_copy_blob(PGconn *conn, size_t len, db_blob_reader_fn read, void *arg, char sha256[65])
{
    uint8_t head[19 + 2 + 4];
    memcpy(head, "PGCOPY\n\377\r\n\0", 11);
    s_be32(head + 11, 0); /* flags */
    s_be32(head + 15, 0); /* header extension */
    head[19] = 0;         /* three fields */
    head[20] = 3;
    s_be32(head + 21, (uint32_t)len);
    if (PQputCopyData(conn, (const char *)head, sizeof head) != 1)
        return -1;
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    uint8_t *buf = malloc(DB_BLOB_PIECE);
    int rc = -1;
    if (sum == NULL || buf == NULL)
        goto fail;
    size_t done = 0;
    for (;;) {
        size_t want = len - done < DB_BLOB_PIECE ? len - done : DB_BLOB_PIECE;
        /* One byte more than announced is a lie too: ask for it to find out. */
        long n = read(arg, buf, want ? want : 1);
        if (n < 0 || (n > 0 && want == 0) || (n == 0 && done != len)) {
            rc = -2;
            goto fail;
        }
        if (n == 0)
            break;
        g_checksum_update(sum, buf, (gssize)n);
        if (PQputCopyData(conn, (const char *)buf, (int)n) != 1)
            goto fail;
        done += (size_t)n;
    }
    snprintf(sha256, 65, "%s", g_checksum_get_string(sum));
    uint8_t tail[4 + 8 + 4 + 64 + 2];
    s_be32(tail, 8);
    s_be32(tail + 4, (uint32_t)((uint64_t)len >> 32));
    s_be32(tail + 8, (uint32_t)len);
    s_be32(tail + 12, 64);
    memcpy(tail + 16, sha256, 64);
    tail[80] = 0xff; /* end of data: -1 */
    tail[81] = 0xff;
    if (PQputCopyData(conn, (const char *)tail, sizeof tail) != 1 || PQputCopyEnd(conn, NULL) != 1)
        goto fail;
    rc = 0;
fail:
    if (sum != NULL)
        g_checksum_free(sum);
    free(buf);
    return s_copy_end(conn, rc);
}

/* Stream the PDF as rows (seq int4, data bytea), one per piece read, into upload_piece, up to
 * max bytes: 0 (*len, sha256 set), -1 when PostgreSQL failed, -2 when the reader did or gave
 * nothing or more than max. The COPY is ended (or aborted) here. */
static int
s_copy_pieces(PGconn *conn, size_t max, db_blob_reader_fn read, void *arg, char sha256[65],
              size_t *len)
{
    static const uint8_t head[19] = "PGCOPY\n\377\r\n\0"; /* flags and extension: 0 */
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    uint8_t *buf = malloc(14 + DB_BLOB_PIECE);
    int rc = -1;
    if (sum == NULL || buf == NULL || PQputCopyData(conn, (const char *)head, sizeof head) != 1)
        goto fail;
    size_t done = 0;
    for (uint32_t seq = 0;; seq++) {
        /* One byte more than max is too many: ask for it to find out. */
        size_t want = max - done < DB_BLOB_PIECE ? max - done + 1 : DB_BLOB_PIECE;
        long n = read(arg, buf + 14, want);
        if (n < 0 || done + (size_t)n > max || (n == 0 && done == 0)) {
            rc = -2;
            goto fail;
        }
        if (n == 0)
            break;
        buf[0] = 0; /* two fields */
        buf[1] = 2;
        s_be32(buf + 2, 4);
        s_be32(buf + 6, seq);
        s_be32(buf + 10, (uint32_t)n);
        g_checksum_update(sum, buf + 14, (gssize)n);
        if (PQputCopyData(conn, (const char *)buf, (int)(14 + n)) != 1)
            goto fail;
        done += (size_t)n;
    }
    snprintf(sha256, 65, "%s", g_checksum_get_string(sum));
    *len = done;
    static const uint8_t tail[2] = {0xff, 0xff}; /* end of data: -1 */
    if (PQputCopyData(conn, (const char *)tail, sizeof tail) != 1 || PQputCopyEnd(conn, NULL) != 1)
        goto fail;
    rc = 0;
fail:
    if (sum != NULL)
        g_checksum_free(sum);
    free(buf);
    return s_copy_end(conn, rc);
}

/* Store a PDF read from `read` in one transaction: of exactly `len` bytes through one COPY
 * row (len > 0), or of unknown length up to max through pieces joined by PostgreSQL (len 0).
 * See db_blob_store_stream and db_blob_store_pieces. */
static db_status_t
s_blob_store(db_pool_t *self, size_t len, size_t max, db_blob_reader_fn read, void *arg,
             char sha256[65], size_t *stored)
{
    int slot = s_acquire(self);
    if (slot < 0) {
        log_error("no free database connection within %d ms", self->acquire_timeout_ms);
        return DB_UNAVAILABLE;
    }
    db_status_t status = DB_UNAVAILABLE;
    if (s_ready(self, slot) != 0)
        goto done;
    PGconn *conn = self->conns[slot];
    /* A broken idle connection is found out here, before any byte of the body is read. */
    if (!s_exec_ok(conn, "BEGIN", PGRES_COMMAND_OK)) {
        PQreset(conn);
        if (PQstatus(conn) != CONNECTION_OK || !s_exec_ok(conn, "BEGIN", PGRES_COMMAND_OK))
            goto done;
    }
    int copied;
    if (len > 0) {
        if (!s_exec_ok(conn,
                       "CREATE TEMP TABLE IF NOT EXISTS upload_blob (data bytea, size bigint, "
                       "sha256 text) ON COMMIT DELETE ROWS",
                       PGRES_COMMAND_OK) ||
            !s_exec_ok(conn, "COPY upload_blob (data, size, sha256) FROM STDIN (FORMAT binary)",
                       PGRES_COPY_IN))
            goto rollback;
        copied = s_copy_blob(conn, len, read, arg, sha256);
        *stored = len;
    } else {
        if (!s_exec_ok(conn,
                       "CREATE TEMP TABLE IF NOT EXISTS upload_piece (seq integer, data bytea) "
                       "ON COMMIT DELETE ROWS",
                       PGRES_COMMAND_OK) ||
            !s_exec_ok(conn, "COPY upload_piece (seq, data) FROM STDIN (FORMAT binary)",
                       PGRES_COPY_IN))
            goto rollback;
        copied = s_copy_pieces(conn, max, read, arg, sha256, stored);
    }
    if (copied != 0) {
        status = copied == -2 ? DB_LIMIT : DB_UNAVAILABLE;
        goto rollback;
    }
    bool inserted;
    if (len > 0) {
        inserted = s_exec_ok(conn,
                             "INSERT INTO blobs (sha256, size, data) SELECT sha256, size, data "
                             "FROM upload_blob ON CONFLICT (sha256) DO UPDATE SET used_at = now()",
                             PGRES_COMMAND_OK);
    } else {
        char size[24];
        snprintf(size, sizeof size, "%zu", *stored);
        const char *values[2] = {sha256, size};
        PGresult *res =
            PQexecParams(conn,
                         "INSERT INTO blobs (sha256, size, data) SELECT $1, $2::bigint, "
                         "string_agg(data, ''::bytea ORDER BY seq) FROM upload_piece "
                         "ON CONFLICT (sha256) DO UPDATE SET used_at = now()",
                         2, NULL, values, NULL, NULL, 0);
        inserted = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!inserted)
            log_error("storing an upload failed: %.*s", s_line_len(PQresultErrorMessage(res)),
                      PQresultErrorMessage(res));
        PQclear(res);
    }
    if (!inserted || !s_exec_ok(conn, "COMMIT", PGRES_COMMAND_OK))
        goto rollback;
    status = DB_OK;
    goto done;
rollback:
    if (PQstatus(conn) == CONNECTION_OK)
        PQclear(PQexec(conn, "ROLLBACK"));
done:
    s_release(self, slot);
    return status;
}

db_status_t
db_blob_store_stream(db_pool_t *self, size_t len, db_blob_reader_fn read, void *arg,
                     char sha256[65])
{
    if (len == 0 || len > INT32_MAX)
        return DB_LIMIT;
    size_t stored = 0;
    return s_blob_store(self, len, len, read, arg, sha256, &stored);
}

db_status_t
db_blob_store_pieces(db_pool_t *self, size_t max, db_blob_reader_fn read, void *arg,
                     char sha256[65], size_t *len)
{
    if (max == 0 || max > INT32_MAX)
        return DB_LIMIT;
    return s_blob_store(self, 0, max, read, arg, sha256, len);
}

db_status_t
db_rate_take(db_pool_t *self, const char *key, long rate_per_min, long burst, bool *allowed,
             long *remaining, long *retry_after_s)
{
    char rate[24], size[24];
    snprintf(rate, sizeof rate, "%ld", rate_per_min);
    snprintf(size, sizeof size, "%ld", burst);
    const char *values[3] = {key, rate, size};
    PGresult *res = NULL;
    db_status_t status =
        db_query_row(self, "SELECT allowed, remaining, retry_after_s FROM rate_take($1, $2, $3)", 3,
                     values, &res);
    if (status != DB_OK)
        return status == DB_NOT_FOUND ? DB_UNAVAILABLE : status;
    *allowed = PQgetvalue(res, 0, 0)[0] == 't';
    *remaining = strtol(PQgetvalue(res, 0, 1), NULL, 10);
    *retry_after_s = strtol(PQgetvalue(res, 0, 2), NULL, 10);
    PQclear(res);
    return DB_OK;
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
