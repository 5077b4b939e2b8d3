/*
 * replica_lag.h - how far a PostgreSQL hot standby lags its primary, by WAL position (pure:
 * no I/O, no clock of its own; db_replica.c feeds it). docs/operations.md "Read replicas".
 *
 * Each check remembers the primary's pg_current_wal_lsn() and when it was read. Everything
 * the primary had committed at time t lies at or before the position read at t, so a standby
 * whose pg_last_wal_replay_lsn() has reached that position has all of it. The lag is the age
 * of the newest remembered position the standby has reached: 0 when it reached the one just
 * read; unknown (-1) when it reached none of the REPLICA_LAG_SAMPLES remembered. An idle
 * primary lags nothing; a standby whose replay is paused lags from its first missing write on.
 *
 * Plain data, owned by the caller; not thread-safe (one checker thread uses it).
 */
#ifndef PROFAI_FRONTEND_REPLICA_LAG_H
#define PROFAI_FRONTEND_REPLICA_LAG_H

#include <stdbool.h>
#include <stdint.h>

/* Positions remembered: at one check a second, a standby that reached none lags by minutes. */
#define REPLICA_LAG_SAMPLES 128

typedef struct {
    struct {
        int64_t at_ms; /* monotonic: when the primary was at lsn */
        uint64_t lsn;
    } samples[REPLICA_LAG_SAMPLES];
    int count; /* remembered, at most REPLICA_LAG_SAMPLES */
    int next;  /* where the next one goes (a ring) */
} replica_lag_t;

/* Forget every sample. */
void replica_lag_init(replica_lag_t *self);

/* The primary was at lsn at at_ms (times never go back). The oldest sample makes room. */
void replica_lag_sample(replica_lag_t *self, int64_t at_ms, uint64_t lsn);

/* The lag in ms at now_ms of a standby that has replayed up to `replayed`: 0 when it has
 * reached the newest sample, else now_ms minus the time of the newest sample it has reached;
 * -1 when it has reached none (or there is none). */
long long replica_lag_ms(const replica_lag_t *self, uint64_t replayed, int64_t now_ms);

/* A pg_lsn as PostgreSQL prints it ("16/B374D848") into a number; false when text is not one. */
bool replica_lsn_parse(const char *text, uint64_t *lsn);

#endif
