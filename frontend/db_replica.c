/* db_replica.c - see db_replica.h: the replica's pool, its lag checker and the read rule
 * (db_query_read of db_query.h). */
#define _GNU_SOURCE
#include "db_replica.h"

#include "db_query.h"
#include "log.h"
#include "replica_lag.h"

#include <czmq.h> /* zclock_mono: the monotonic clock, in ms */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct db_replica_t {
    db_pool_t *primary; /* borrowed */
    db_pool_t *pool;    /* the replica's connections */
    int max_lag_ms;
    int check_interval_ms;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled to stop the thread */
    bool stopping;       /* guarded by lock */
    /* What the last check found; guarded by lock. */
    bool checked, replica_up, primary_up;
    long long lag_ms;
    unsigned long long reads_replica, reads_primary;
    /* The checker thread's own. */
    replica_lag_t lag;
    PGconn *primary_conn, *replica_conn;
    bool logged_state; /* the thread logged where reads go at least once */
    bool to_replica;   /* ...and that was it */
    bool primary_down; /* ...and the primary did not answer */
};

/* ---------------------------------------------------------------- the checker */

/* A working connection in *conn (made anew when it is broken), or false. */
static bool
s_conn_ready(db_pool_t *pool, PGconn **conn)
{
    if (*conn != NULL && PQstatus(*conn) == CONNECTION_OK)
        return true;
    if (*conn != NULL)
        PQfinish(*conn);
    *conn = db_pool_connect(pool);
    return *conn != NULL && PQstatus(*conn) == CONNECTION_OK;
}

/* Run a one-row query on the checker's connection: the result (caller clears), or NULL with
 * the connection closed so that the next check connects again. */
static PGresult *
s_probe(db_pool_t *pool, PGconn **conn, const char *sql)
{
    if (!s_conn_ready(pool, conn))
        return NULL;
    PGresult *res = PQexec(*conn, sql);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        return res;
    PQclear(res);
    PQfinish(*conn);
    *conn = NULL;
    return NULL;
}

/* One check: the primary's position first, then the replica's (so that a replica that keeps
 * up is at or past the position just read). */
static void
s_check(db_replica_t *self)
{
    int64_t now = zclock_mono();
    bool primary_up = false, replica_up = false;
    long long lag = -1;
    PGresult *res = s_probe(self->primary, &self->primary_conn,
                            "SELECT pg_is_in_recovery(), "
                            "CASE WHEN pg_is_in_recovery() THEN NULL "
                            "ELSE pg_current_wal_lsn()::text END");
    uint64_t lsn = 0;
    if (res != NULL && !PQgetisnull(res, 0, 1) && replica_lsn_parse(PQgetvalue(res, 0, 1), &lsn)) {
        primary_up = true;
        replica_lag_sample(&self->lag, now, lsn);
    }
    PQclear(res);
    res = s_probe(self->pool, &self->replica_conn,
                  "SELECT pg_is_in_recovery(), "
                  "coalesce(pg_last_wal_replay_lsn(), '0/0'::pg_lsn)::text");
    if (res != NULL) {
        replica_up = true;
        uint64_t replayed = 0;
        if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
            lag = 0; /* not (or no longer) a standby: nothing to lag behind */
        else if (primary_up && replica_lsn_parse(PQgetvalue(res, 0, 1), &replayed))
            lag = replica_lag_ms(&self->lag, replayed, zclock_mono()); /* as of now */
    }
    PQclear(res);
    pthread_mutex_lock(&self->lock);
    self->checked = true;
    self->primary_up = primary_up;
    self->replica_up = replica_up;
    self->lag_ms = lag;
    pthread_mutex_unlock(&self->lock);
}

/* Where reads go, from what the last check found; called with lock held. */
static bool
s_to_replica_locked(const db_replica_t *self)
{
    if (!self->checked || !self->replica_up)
        return false;
    if (!self->primary_up)
        return true;
    return self->lag_ms >= 0 && self->lag_ms <= self->max_lag_ms;
}

/* A line when reads move or the primary stops or starts answering (operators see it once per
 * change, not once per check). */
static void
s_log_move(db_replica_t *self)
{
    pthread_mutex_lock(&self->lock);
    bool to_replica = s_to_replica_locked(self);
    bool replica_up = self->replica_up, primary_up = self->primary_up;
    long long lag = self->lag_ms;
    pthread_mutex_unlock(&self->lock);
    if (self->logged_state && to_replica == self->to_replica && primary_up != self->primary_down)
        return;
    self->logged_state = true;
    self->to_replica = to_replica;
    self->primary_down = !primary_up;
    if (to_replica && !primary_up)
        log_warn("reads go to the replica: the primary does not answer (answers are marked "
                 "ProfAI-Stale)");
    else if (to_replica)
        log_info("reads go to the replica (lag %lld ms, at most %d)", lag, self->max_lag_ms);
    else if (!replica_up)
        log_warn("reads go to the primary: the replica does not answer");
    else
        log_warn("reads go to the primary: the replica lags %s%lld ms (at most %d)",
                 lag < 0 ? "more than " : "",
                 lag < 0 ? (long long)REPLICA_LAG_SAMPLES * self->check_interval_ms : lag,
                 self->max_lag_ms);
}

static void *
s_run(void *arg)
{
    db_replica_t *self = arg;
    pthread_mutex_lock(&self->lock);
    while (!self->stopping) {
        pthread_mutex_unlock(&self->lock);
        s_check(self);
        s_log_move(self);
        int64_t deadline = zclock_mono() + self->check_interval_ms;
        struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
        pthread_mutex_lock(&self->lock);
        while (!self->stopping && pthread_cond_timedwait(&self->cond, &self->lock, &ts) == 0)
            ;
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

/* ---------------------------------------------------------------- lifecycle */

db_replica_t *
db_replica_new(db_pool_t *primary, const db_replica_config_t *cfg)
{
    db_replica_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->primary = primary;
    self->max_lag_ms = cfg->max_lag_ms;
    self->check_interval_ms = cfg->check_interval_ms;
    self->lag_ms = -1;
    replica_lag_init(&self->lag);
    self->pool = db_pool_new(cfg->conninfo, cfg->pool_size, cfg->acquire_timeout_ms);
    if (self->pool == NULL) {
        free(self);
        return NULL;
    }
    pthread_mutex_init(&self->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) {
        pthread_cond_destroy(&self->cond);
        pthread_mutex_destroy(&self->lock);
        db_pool_destroy(&self->pool);
        free(self);
        return NULL;
    }
    db_pool_set_replica(primary, self);
    return self;
}

void
db_replica_destroy(db_replica_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    db_replica_t *self = *self_p;
    db_pool_set_replica(self->primary, NULL);
    pthread_mutex_lock(&self->lock);
    self->stopping = true;
    pthread_cond_signal(&self->cond);
    pthread_mutex_unlock(&self->lock);
    pthread_join(self->thread, NULL);
    if (self->primary_conn != NULL)
        PQfinish(self->primary_conn);
    if (self->replica_conn != NULL)
        PQfinish(self->replica_conn);
    pthread_cond_destroy(&self->cond);
    pthread_mutex_destroy(&self->lock);
    db_pool_destroy(&self->pool);
    free(self);
    *self_p = NULL;
}

void
db_replica_state(db_replica_t *self, db_replica_state_t *state)
{
    pthread_mutex_lock(&self->lock);
    *state = (db_replica_state_t){.checked = self->checked,
                                  .replica_up = self->replica_up,
                                  .primary_up = self->primary_up,
                                  .lag_ms = self->lag_ms,
                                  .reads_to_replica = s_to_replica_locked(self),
                                  .reads_replica = self->reads_replica,
                                  .reads_primary = self->reads_primary};
    pthread_mutex_unlock(&self->lock);
}

bool
db_replica_state_of(db_pool_t *primary, db_replica_state_t *state)
{
    db_replica_t *self = db_pool_replica(primary);
    if (self == NULL)
        return false;
    db_replica_state(self, state);
    return true;
}

/* ---------------------------------------------------------------- the read rule */

/* Where a read goes now, and whether the other one may answer when it fails. */
static bool
s_route(db_replica_t *self, bool *replica_up)
{
    pthread_mutex_lock(&self->lock);
    bool to_replica = s_to_replica_locked(self);
    *replica_up = self->replica_up;
    pthread_mutex_unlock(&self->lock);
    return to_replica;
}

static void
s_count(db_replica_t *self, bool replica)
{
    pthread_mutex_lock(&self->lock);
    if (replica)
        self->reads_replica++;
    else
        self->reads_primary++;
    pthread_mutex_unlock(&self->lock);
}

db_status_t
db_query_read(db_pool_t *self, const db_statement_t *stmt, const char *sql, int nparams,
              const char *const *values, bool need_row, PGresult **out, bool *stale)
{
    db_replica_t *replica = db_pool_replica(self);
    if (stale != NULL)
        *stale = false;
    if (replica == NULL || stale == NULL)
        return db_query_prepared(self, stmt, sql, nparams, values, NULL, NULL, PGRES_TUPLES_OK,
                                 out);
    bool replica_up = false;
    bool to_replica = s_route(replica, &replica_up);
    db_status_t status;
    if (to_replica) {
        status = db_query_prepared(replica->pool, stmt, sql, nparams, values, NULL, NULL,
                                   PGRES_TUPLES_OK, out);
        if (status == DB_OK && (!need_row || PQntuples(*out) > 0)) {
            *stale = true;
            s_count(replica, true);
            return status;
        }
        /* Nothing there (yet), or the replica failed: the primary may know better. */
        PGresult *replica_res = *out;
        *out = NULL;
        status =
            db_query_prepared(self, stmt, sql, nparams, values, NULL, NULL, PGRES_TUPLES_OK, out);
        if (status == DB_OK) {
            PQclear(replica_res);
            s_count(replica, false);
            return status;
        }
        if (replica_res != NULL) { /* the primary is down: the replica's "none" stands */
            *out = replica_res;
            *stale = true;
            s_count(replica, true);
            return DB_OK;
        }
        return status;
    }
    status = db_query_prepared(self, stmt, sql, nparams, values, NULL, NULL, PGRES_TUPLES_OK, out);
    if (status == DB_OK) {
        s_count(replica, false);
        return status;
    }
    /* The primary failed before the checker noticed: a replica that answers is better than a
     * 503 (whatever its lag, as when the checker finds the primary down). */
    if (!replica_up)
        return status;
    status = db_query_prepared(replica->pool, stmt, sql, nparams, values, NULL, NULL,
                               PGRES_TUPLES_OK, out);
    if (status == DB_OK) {
        *stale = true;
        s_count(replica, true);
    }
    return status;
}
