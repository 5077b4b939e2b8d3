/* change_listen.c - see change_listen.h. */
#include "change_listen.h"

#include "db_query.h"
#include "log.h"

#include <czmq.h> /* zclock_mono, zclock_sleep */
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The longest the thread sleeps in poll before checking its stop flag and its ping. */
#define CHANGE_LISTEN_POLL_MS 100
/* Pause between two failed connection attempts. */
#define CHANGE_LISTEN_RETRY_MS 500

struct change_listen_t {
    db_pool_t *db;
    int max_stale_ms;
    change_listen_owner_t owners[CHANGE_LISTEN_OWNERS_MAX];
    size_t count;
    pthread_t thread;
    int stop; /* atomic */
    /* The thread's own state. */
    PGconn *conn;
    bool ping_pending;
    int64_t ping_sent_ms;
    bool logged_down; /* one log line per outage */
    bool lost_told;   /* owners' lost was called for this outage */
};

static bool
s_stopping(change_listen_t *self)
{
    return __atomic_load_n(&self->stop, __ATOMIC_ACQUIRE) != 0;
}

static int
s_line_len(const char *msg)
{
    return msg ? (int)strcspn(msg, "\r\n") : 0;
}

static void
s_drop(change_listen_t *self, const char *why)
{
    if (!self->logged_down)
        log_warn("change listener down (%s): cached tokens are trusted for at most %d ms more, "
                 "course revisions and visibility are asked of the database until it is back",
                 why, self->max_stale_ms);
    self->logged_down = true;
    if (!self->lost_told)
        for (size_t i = 0; i < self->count; i++)
            if (self->owners[i].lost != NULL)
                self->owners[i].lost(self->owners[i].arg);
    self->lost_told = true;
    if (self->conn != NULL)
        PQfinish(self->conn);
    self->conn = NULL;
    self->ping_pending = false;
}

static bool
s_exec_ok(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    PQclear(res);
    return ok;
}

/* Connect, name the connection, LISTEN, then flush every owner (what was missed while down is
 * forgotten) and tell them they are heard. */
static void
s_connect(change_listen_t *self)
{
    self->conn = db_pool_connect(self->db);
    if (self->conn == NULL || PQstatus(self->conn) != CONNECTION_OK) {
        const char *msg = self->conn ? PQerrorMessage(self->conn) : "out of memory";
        char why[160];
        snprintf(why, sizeof why, "%.*s", s_line_len(msg), msg);
        s_drop(self, why);
        return;
    }
    char sql[96];
    snprintf(sql, sizeof sql, "SET application_name = 'profai-frontend-listen %ld'",
             (long)getpid());
    bool ok = s_exec_ok(self->conn, sql);
    for (size_t i = 0; ok && i < self->count; i++)
        for (size_t c = 0; ok && c < CHANGE_LISTEN_CHANNELS_MAX; c++) {
            const char *channel = self->owners[i].channels[c];
            if (channel == NULL)
                break;
            snprintf(sql, sizeof sql, "LISTEN %s", channel);
            ok = s_exec_ok(self->conn, sql);
        }
    if (!ok || PQsetnonblocking(self->conn, 1) != 0) {
        s_drop(self, "LISTEN failed");
        return;
    }
    int64_t now = zclock_mono();
    for (size_t i = 0; i < self->count; i++)
        self->owners[i].flushed(self->owners[i].arg);
    for (size_t i = 0; i < self->count; i++)
        self->owners[i].heard(self->owners[i].arg, now);
    if (self->logged_down)
        log_info("change listener connected");
    self->logged_down = false;
    self->lost_told = false;
}

static void
s_notified(change_listen_t *self, const char *channel, const char *payload)
{
    for (size_t i = 0; i < self->count; i++)
        for (size_t c = 0; c < CHANGE_LISTEN_CHANNELS_MAX; c++) {
            const char *own = self->owners[i].channels[c];
            if (own == NULL)
                break;
            if (strcmp(own, channel) == 0) {
                self->owners[i].notified(self->owners[i].arg, channel, payload);
                return;
            }
        }
}

/* One round on a live connection: send a ping when due, wait for input, read notifications
 * and the ping's answer. */
static void
s_round(change_listen_t *self)
{
    int64_t now = zclock_mono();
    if (!self->ping_pending && now - self->ping_sent_ms >= CHANGE_LISTEN_PING_MS) {
        if (PQsendQuery(self->conn, "SELECT 1") != 1) {
            s_drop(self, "cannot send its ping");
            return;
        }
        self->ping_pending = true;
        self->ping_sent_ms = now;
    }
    if (PQflush(self->conn) < 0) {
        s_drop(self, "cannot write to the database");
        return;
    }
    struct pollfd pfd = {.fd = PQsocket(self->conn), .events = POLLIN};
    if (poll(&pfd, 1, CHANGE_LISTEN_POLL_MS) > 0) {
        if (PQconsumeInput(self->conn) != 1) {
            s_drop(self, "connection lost");
            return;
        }
        /* Notifications first: the ping's answer vouches for those that came before it. */
        PGnotify *n;
        while ((n = PQnotifies(self->conn)) != NULL) {
            s_notified(self, n->relname, n->extra);
            PQfreemem(n);
        }
        while (self->ping_pending && !PQisBusy(self->conn)) {
            PGresult *res = PQgetResult(self->conn);
            if (res == NULL) { /* the ping's answer is complete */
                self->ping_pending = false;
                for (size_t i = 0; i < self->count; i++)
                    self->owners[i].heard(self->owners[i].arg, self->ping_sent_ms);
                break;
            }
            PQclear(res);
        }
        while ((n = PQnotifies(self->conn)) != NULL) {
            s_notified(self, n->relname, n->extra);
            PQfreemem(n);
        }
    }
    if (self->ping_pending && zclock_mono() - self->ping_sent_ms > self->max_stale_ms)
        s_drop(self, "no answer to its ping");
}

static void *
s_run(void *arg)
{
    change_listen_t *self = arg;
    while (!s_stopping(self)) {
        if (self->conn == NULL) {
            s_connect(self);
            if (self->conn == NULL)
                for (int t = 0; t < CHANGE_LISTEN_RETRY_MS && !s_stopping(self);
                     t += CHANGE_LISTEN_POLL_MS)
                    zclock_sleep(CHANGE_LISTEN_POLL_MS);
        } else {
            s_round(self);
        }
    }
    if (self->conn != NULL)
        PQfinish(self->conn);
    self->conn = NULL;
    return NULL;
}

change_listen_t *
change_listen_new(db_pool_t *db, int max_stale_ms, const change_listen_owner_t *owners,
                  size_t count)
{
    if (count > CHANGE_LISTEN_OWNERS_MAX)
        return NULL;
    change_listen_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->db = db;
    self->max_stale_ms = max_stale_ms;
    memcpy(self->owners, owners, count * sizeof *owners);
    self->count = count;
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) {
        free(self);
        return NULL;
    }
    return self;
}

void
change_listen_destroy(change_listen_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    change_listen_t *self = *self_p;
    __atomic_store_n(&self->stop, 1, __ATOMIC_RELEASE);
    pthread_join(self->thread, NULL);
    free(self);
    *self_p = NULL;
}
