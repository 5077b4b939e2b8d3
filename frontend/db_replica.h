/*
 * db_replica.h - reads from a PostgreSQL hot standby (docs/api.md 1.3, docs/operations.md
 * "Read replicas"): a pool of connections to the replica, a thread that measures how far it
 * lags the primary every check interval, and the rule that sends each read-only statement to
 * the replica or to the primary.
 *
 * The lag is measured by comparing positions in the WAL, not clocks (replica_lag.h): every
 * check reads the primary's pg_current_wal_lsn(), then the replica's pg_last_wal_replay_lsn().
 *
 * A read goes to the replica when it answered the last check and lags at most max_lag_ms, or
 * when the primary did not answer the last check (whatever the lag: the replica is then the
 * only copy that can answer); else to the primary. A read that fails on one is tried on the
 * other; a single-row read that finds nothing on the replica is asked again of the primary.
 *
 * The db_replica_t owns its pool and thread; it borrows the primary pool, which must outlive
 * it. Thread-safe.
 */
#ifndef PROFAI_FRONTEND_DB_REPLICA_H
#define PROFAI_FRONTEND_DB_REPLICA_H

#include "db.h"

#include <stdbool.h>

typedef struct db_replica_t db_replica_t;

typedef struct {
    const char *conninfo;   /* database/read_conninfo; copied */
    int pool_size;          /* database/read_pool */
    int acquire_timeout_ms; /* as for the primary pool */
    int max_lag_ms;         /* database/read_max_lag */
    int check_interval_ms;  /* database/read_check_interval */
} db_replica_config_t;

/* A replica of primary's database, checked from a thread of its own that starts here (the
 * first check runs at once; until it has, reads go to the primary). NULL when out of memory
 * or the thread cannot start. */
db_replica_t *db_replica_new(db_pool_t *primary, const db_replica_config_t *cfg);

/* Stop the thread, close the connections, free; accepts NULL. */
void db_replica_destroy(db_replica_t **self_p);

/* What the last check found (plain data). */
typedef struct {
    bool checked;          /* a check has run */
    bool replica_up;       /* the replica answered it */
    bool primary_up;       /* the primary answered it */
    long long lag_ms;      /* the replica's lag; -1: unknown (primary or replica down) */
    bool reads_to_replica; /* where reads go now */
    unsigned long long reads_replica, reads_primary; /* reads served by each so far */
} db_replica_state_t;

void db_replica_state(db_replica_t *self, db_replica_state_t *state);

/* db_replica_state of the replica attached to primary; false (state untouched) when none is. */
bool db_replica_state_of(db_pool_t *primary, db_replica_state_t *state);

#endif
