/* migrate.c - see migrate.h. */
#include "migrate.h"

#include "log.h"
#include "store.h"

#include <czmq.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000
#define CONNECT_TIMEOUT_MS 10000
/* How often a wait looks at the stop flag. */
#define STOP_CHECK_MS 100
/* Session advisory lock serialising migrations: "PROFAI" 0x0001. */
#define MIGRATE_LOCK_KEY "5787213827046047745"

static void
s_log_notice(void *arg, const char *message)
{
    (void)arg;
    log_debug("postgres: %.*s", (int)strcspn(message, "\n"), message);
}

/* Sleep ms, waking early when *stop is set. */
static void
s_sleep(int ms, volatile sig_atomic_t *stop)
{
    int64_t until = zclock_mono() + ms;
    while (!*stop && zclock_mono() < until) {
        int64_t left = until - zclock_mono();
        zclock_sleep((int)(left < STOP_CHECK_MS ? left : STOP_CHECK_MS));
    }
}

/* Drive one non-blocking connection attempt to its end. Returns 1 connected, 0 failed, -1
 * stopped. */
static int
s_connect_once(PGconn *conn, volatile sig_atomic_t *stop)
{
    PostgresPollingStatusType status = PGRES_POLLING_WRITING;
    int64_t deadline = zclock_mono() + CONNECT_TIMEOUT_MS;
    while (status != PGRES_POLLING_OK) {
        if (status == PGRES_POLLING_FAILED || zclock_mono() >= deadline)
            return 0;
        if (*stop)
            return -1;
        struct pollfd pfd = {PQsocket(conn), status == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0};
        int rc = pfd.fd >= 0 ? poll(&pfd, 1, STOP_CHECK_MS) : 1;
        if (rc < 0 && errno != EINTR)
            return 0;
        if (rc > 0)
            status = PQconnectPoll(conn);
    }
    return 1;
}

PGconn *
migrate_connect(const char *conninfo, volatile sig_atomic_t *stop)
{
    int backoff = BACKOFF_MIN_MS;
    while (!*stop) {
        PGconn *conn = store_connect_start(conninfo);
        int rc = 0;
        if (conn != NULL && PQstatus(conn) != CONNECTION_BAD)
            rc = s_connect_once(conn, stop);
        if (rc == 1) {
            PQsetNoticeProcessor(conn, s_log_notice, NULL);
            return conn;
        }
        if (rc == 0) {
            const char *msg = conn != NULL ? PQerrorMessage(conn) : "out of memory";
            if (*msg == '\0')
                msg = "connection attempt timed out";
            log_warn("database unreachable: %.*s (next attempt in %d ms)", (int)strcspn(msg, "\n"),
                     msg, backoff);
        }
        PQfinish(conn);
        if (rc < 0)
            break;
        s_sleep(backoff, stop);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    return NULL;
}

/* Run sql (no parameters); -1 with err filled on failure. */
static int
s_exec(PGconn *conn, const char *sql, ExecStatusType expect, char *err, size_t err_size)
{
    PGresult *res = PQexec(conn, sql);
    int rc = 0;
    if (PQresultStatus(res) != expect) {
        const char *msg = PQresultErrorMessage(res);
        snprintf(err, err_size, "%.*s", (int)strcspn(msg, "\n"), msg);
        rc = -1;
    }
    PQclear(res);
    return rc;
}

static int
s_apply_one(PGconn *conn, const migration_t *m, char *err, size_t err_size)
{
    char detail[512];
    char version[16];
    snprintf(version, sizeof version, "%d", m->version);
    const char *params[] = {version, m->name};
    if (s_exec(conn, "BEGIN", PGRES_COMMAND_OK, detail, sizeof detail) != 0)
        goto fail;
    /* A file may hold several statements; PQexec reports the last one, which may be a
     * SELECT as well as DDL. */
    PGresult *script = PQexec(conn, m->sql);
    ExecStatusType st = PQresultStatus(script);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        snprintf(detail, sizeof detail, "%.*s", (int)strcspn(PQresultErrorMessage(script), "\n"),
                 PQresultErrorMessage(script));
    PQclear(script);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        goto fail;
    PGresult *res =
        PQexecParams(conn, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2, NULL,
                     params, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(detail, sizeof detail, "%.*s", (int)strcspn(PQresultErrorMessage(res), "\n"),
                 PQresultErrorMessage(res));
    PQclear(res);
    if (!ok || s_exec(conn, "COMMIT", PGRES_COMMAND_OK, detail, sizeof detail) != 0)
        goto fail;
    return 0;
fail:
    snprintf(err, err_size, "migration %s failed: %s", m->name, detail);
    PGresult *rollback = PQexec(conn, "ROLLBACK");
    PQclear(rollback);
    return -1;
}

/* Highest recorded version, or -1 with err filled. */
static int
s_applied_versions(PGconn *conn, const migration_t *list, size_t n, bool *applied, int *max,
                   char *err, size_t err_size)
{
    PGresult *res = PQexec(conn, "SELECT version FROM schema_migrations");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        snprintf(err, err_size, "cannot read schema_migrations: %.*s",
                 (int)strcspn(PQresultErrorMessage(res), "\n"), PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }
    *max = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        int v = atoi(PQgetvalue(res, i, 0));
        if (v > *max)
            *max = v;
        for (size_t j = 0; j < n; j++) {
            if (list[j].version == v)
                applied[j] = true;
        }
    }
    PQclear(res);
    return 0;
}

int
migrate_apply(PGconn *conn, const migration_t *list, size_t n, char *err, size_t err_size)
{
    bool *applied = calloc(n > 0 ? n : 1, sizeof *applied);
    if (applied == NULL) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    char detail[512];
    int rc = -1;
    int max = 0;
    if (s_exec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", PGRES_TUPLES_OK, detail,
               sizeof detail) != 0) {
        snprintf(err, err_size, "cannot take the migration lock: %s", detail);
        free(applied);
        return -1;
    }
    if (s_exec(conn,
               "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
               " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
               PGRES_COMMAND_OK, detail, sizeof detail) != 0) {
        snprintf(err, err_size, "cannot create schema_migrations: %s", detail);
        goto done;
    }
    if (s_applied_versions(conn, list, n, applied, &max, err, err_size) != 0)
        goto done;
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        if (applied[i])
            continue;
        log_info("applying migration %s", list[i].name);
        if (s_apply_one(conn, &list[i], err, err_size) != 0)
            goto done;
        count++;
        if (list[i].version > max)
            max = list[i].version;
    }
    int known = n > 0 ? list[n - 1].version : 0;
    if (max > known)
        log_warn("the database schema (version %d) is newer than this broker (version %d)", max,
                 known);
    log_info("schema at version %d (%d migrations applied now)", max, count);
    rc = 0;
done:
    s_exec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", PGRES_TUPLES_OK, detail,
           sizeof detail);
    free(applied);
    return rc;
}
