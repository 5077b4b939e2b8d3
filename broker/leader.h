/*
 * leader.h - which broker leads: the session advisory lock on a dedicated PostgreSQL
 * connection (the lock session) and the fencing epoch of migration 012 (docs/broker.md,
 * "Standby broker").
 *
 * A leader_t owns its lock session, a blocking libpq connection separate from the store's.
 * leader_try_take takes the lock and increments the epoch in one statement; from then on
 * leader_check says whether the lock session still holds. Closing the session (or the
 * process dying) releases the lock, which is how a standby learns that the leader is gone.
 * Nothing here logs: failures come back as sentences in err.
 */
#ifndef PROFAI_BROKER_LEADER_H
#define PROFAI_BROKER_LEADER_H

#include "profai/compiler.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The leader's session advisory lock: "PROFAI" 0x0002 (migrations use 0x0001). */
#define LEADER_LOCK_KEY "5787213827046047746"

typedef struct leader_t leader_t;

/* A leader_t for conninfo (copied; "" uses the PG* environment) that calls itself name
 * (copied; written to broker_leader.leader for people to read). No connection is opened yet.
 * NULL when out of memory. */
leader_t *leader_new(const char *conninfo, const char *name);

/* Close the lock session (releasing the lock) and free; accepts NULL. */
void leader_destroy(leader_t **self_p);

/* Try once, without waiting for the lock, to take the leadership: connect the lock session if
 * needed (blocking, at most a few seconds), then take the lock and increment the epoch in one
 * statement. Returns 1 taken (*epoch is the new epoch), 0 another broker holds the lock, -1
 * the database could not be asked (a sentence in err; the session is closed and the next
 * call connects again). */
int leader_try_take(leader_t *self, int64_t *epoch, char *err, size_t err_size) PROFAI_MUST_CHECK;

typedef enum {
    LEADER_HELD,    /* the lock session is there: this broker still leads */
    LEADER_RETAKEN, /* it was lost and is open again, the lock taken at the same epoch */
    LEADER_LOST,    /* another broker holds the lock, or led since: stop leading */
    LEADER_UNKNOWN, /* the lock session is gone and the database cannot be reached to take the
                     * lock again; nobody may have led since (the fence will tell) */
} leader_status_t;

/* Leading: whether the lock session still holds (one round trip on it, bounded by its TCP
 * timeouts, about 3 s when the network is gone). A lost session is opened again at once and
 * the lock taken again *only* if the epoch is still this broker's: no other broker led in
 * between (a take-over increments the epoch in the statement that takes the lock), so nothing
 * this broker holds in memory is stale. LEADER_LOST and LEADER_UNKNOWN come with a sentence
 * in err. */
leader_status_t leader_check(leader_t *self, int64_t epoch, char *err, size_t err_size);

/* The lock session, borrowed while leading (for reads that must follow the take-over, such as
 * loading the unfinished jobs); NULL when not connected. */
PGconn *leader_connection(leader_t *self);

#endif
