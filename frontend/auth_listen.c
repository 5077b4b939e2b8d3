/* auth_listen.c - see auth_listen.h. */
#include "auth_listen.h"

#include "db_query.h"
#include "log.h"

#include <czmq.h> /* zclock_mono, zclock_sleep */
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The longest the thread sleeps in poll before checking its stop flag and its ping. */
#define AUTH_LISTEN_POLL_MS 100
/* Pause between two failed connection attempts. */
#define AUTH_LISTEN_RETRY_MS 500

struct auth_listen_t {
    auth_t *auth;
    db_pool_t *db;
    int max_stale_ms;
    pthread_t thread;
    int stop; /* atomic */
    /* The thread's own state. */
    PGconn *conn;
    bool ping_pending;
    int64_t ping_sent_ms;
    bool logged_down; /* one log line per outage */
};

static bool
s_stopping(auth_listen_t *self)
{
    return __atomic_load_n(&self->stop, __ATOMIC_ACQUIRE) != 0;
}

static int
s_line_len(const char *msg)
{
    return msg ? (int)strcspn(msg, "\r\n") : 0;
}

static void
s_drop(auth_listen_t *self, const char *why)
{
    if (!self->logged_down)
        log_warn("token revocation listener down (%s): cached tokens are trusted for at most "
                 "%d ms more",
                 why, self->max_stale_ms);
    self->logged_down = true;
    if (self->conn != NULL)
        PQfinish(self->conn);
    self->conn = NULL;
    self->ping_pending = false;
}

/* Connect, LISTEN, then flush the cache (what was missed while down is forgotten). */
static void
s_connect(auth_listen_t *self)
{
    self->conn = db_pool_connect(self->db);
    if (self->conn == NULL || PQstatus(self->conn) != CONNECTION_OK) {
        const char *msg = self->conn ? PQerrorMessage(self->conn) : "out of memory";
        char why[160];
        snprintf(why, sizeof why, "%.*s", s_line_len(msg), msg);
        s_drop(self, why);
        return;
    }
    PGresult *res = PQexec(self->conn, "LISTEN " AUTH_LISTEN_CHANNEL);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok || PQsetnonblocking(self->conn, 1) != 0) {
        s_drop(self, "LISTEN failed");
        return;
    }
    int64_t now = zclock_mono();
    auth_flush(self->auth);
    auth_heard(self->auth, now);
    if (self->logged_down)
        log_info("token revocation listener connected");
    self->logged_down = false;
}

static int
s_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static void
s_notified(auth_listen_t *self, const char *payload)
{
    uint8_t hash[32];
    if (strlen(payload) != 64) {
        auth_flush(self->auth); /* not ours to parse: be safe */
        return;
    }
    for (int i = 0; i < 32; i++) {
        int hi = s_hex(payload[2 * i]), lo = s_hex(payload[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            auth_flush(self->auth);
            return;
        }
        hash[i] = (uint8_t)(hi << 4 | lo);
    }
    auth_evict(self->auth, hash);
}

/* One round on a live connection: send a ping when due, wait for input, read notifications
 * and the ping's answer. */
static void
s_round(auth_listen_t *self)
{
    int64_t now = zclock_mono();
    if (!self->ping_pending && now - self->ping_sent_ms >= AUTH_LISTEN_PING_MS) {
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
    if (poll(&pfd, 1, AUTH_LISTEN_POLL_MS) > 0) {
        if (PQconsumeInput(self->conn) != 1) {
            s_drop(self, "connection lost");
            return;
        }
        while (self->ping_pending && !PQisBusy(self->conn)) {
            PGresult *res = PQgetResult(self->conn);
            if (res == NULL) { /* the ping's answer is complete */
                self->ping_pending = false;
                auth_heard(self->auth, self->ping_sent_ms);
                break;
            }
            PQclear(res);
        }
        PGnotify *n;
        while ((n = PQnotifies(self->conn)) != NULL) {
            s_notified(self, n->extra);
            PQfreemem(n);
        }
    }
    if (self->ping_pending && zclock_mono() - self->ping_sent_ms > self->max_stale_ms)
        s_drop(self, "no answer to its ping");
}

static void *
s_run(void *arg)
{
    auth_listen_t *self = arg;
    while (!s_stopping(self)) {
        if (self->conn == NULL) {
            s_connect(self);
            if (self->conn == NULL)
                for (int t = 0; t < AUTH_LISTEN_RETRY_MS && !s_stopping(self);
                     t += AUTH_LISTEN_POLL_MS)
                    zclock_sleep(AUTH_LISTEN_POLL_MS);
        } else {
            s_round(self);
        }
    }
    if (self->conn != NULL)
        PQfinish(self->conn);
    self->conn = NULL;
    return NULL;
}

auth_listen_t *
auth_listen_new(auth_t *auth, db_pool_t *db, int max_stale_ms)
{
    auth_listen_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->auth = auth;
    self->db = db;
    self->max_stale_ms = max_stale_ms;
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) {
        free(self);
        return NULL;
    }
    return self;
}

void
auth_listen_destroy(auth_listen_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    auth_listen_t *self = *self_p;
    __atomic_store_n(&self->stop, 1, __ATOMIC_RELEASE);
    pthread_join(self->thread, NULL);
    free(self);
    *self_p = NULL;
}
