/*
 * fair_queue.h - which queued job the broker dispatches next: owners served in turn
 * (docs/broker.md, "Fair scheduling").
 *
 * Every owner (teacher) with queued jobs has its own first-in-first-out queue, and the owners
 * with queued jobs form a ring: the next job is the first job of the owner at the head of the
 * ring, and an owner that was served goes to the back of the ring. This is round-robin, which
 * is deficit round-robin when every job costs one unit. An owner whose first job joins the
 * queue enters the ring at the back; so a teacher who submits one job after another's hundred
 * waits for at most one job of each owner ahead, not for the hundred.
 *
 * An optional cap bounds the jobs of one owner running at once: an owner at its cap leaves
 * the ring (its jobs stay queued) and comes back at the back of the ring when one of its jobs
 * ends. Every operation is O(1): no walk over owners or jobs.
 *
 * The queue links nodes it does not own (list.h): the job table keeps each QUEUED job's node
 * in its owner's queue and tells this module when a job starts and stops running. Owner
 * records are reference-counted by the caller (one reference per job in memory), so that
 * queueing and starting never allocate. No I/O, no logging.
 */
#ifndef PROFAI_BROKER_FAIR_QUEUE_H
#define PROFAI_BROKER_FAIR_QUEUE_H

#include "list.h"
#include "profai/compiler.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct fair_queue_t fair_queue_t;

/* One owner's record (opaque); valid while the caller holds a reference. */
typedef struct fair_owner_t fair_owner_t;

/* A queue whose owners may run at most max_running jobs at once (0: no cap). NULL when out of
 * memory. */
fair_queue_t *fair_queue_new(size_t max_running);

/* Free it and every owner record; accepts NULL. Nodes still queued are left linked to freed
 * memory: empty the queue first, or drop the nodes with it (as the job table does). */
void fair_queue_destroy(fair_queue_t **self_p);

/* A reference to the record of owner id (a NUL-terminated key of at most 63 bytes), created
 * on first use. NULL when out of memory or the id is too long. Give it back with
 * fair_queue_owner_release. */
fair_owner_t *fair_queue_owner_hold(fair_queue_t *self, const char *id) PROFAI_MUST_CHECK;

/* Give back a reference; the record goes with the last one (the owner must then have nothing
 * queued or running). *owner_p is set to NULL. */
void fair_queue_owner_release(fair_queue_t *self, fair_owner_t **owner_p);

/* The owner's id. Borrowed, valid while the record is. */
const char *fair_owner_id(const fair_owner_t *owner);

/* Queue node (not linked anywhere) in its owner's queue: at the back (a new job), or at the
 * front (a job going back after a failed attempt, older than the owner's other queued jobs).
 * An owner with nothing queued before joins the ring at the back, unless it is at its cap. */
void fair_queue_push(fair_queue_t *self, fair_owner_t *owner, list_node_t *node, bool front);

/* Take a queued node out without serving it (a cancelled job): the owner keeps its place in
 * the ring, or leaves it when nothing of it is queued any more. */
void fair_queue_remove(fair_queue_t *self, fair_owner_t *owner, list_node_t *node);

/* The node to serve next and its owner (*owner_p may be NULL), or NULL when nothing may be
 * served: nothing queued, or every owner with queued jobs at its cap. Borrowed; serve it with
 * fair_queue_take before asking again. */
list_node_t *fair_queue_next(const fair_queue_t *self, fair_owner_t **owner_p);

/* Serve a queued node (dispatch): it leaves the queue, counts as running for its owner, and
 * the owner goes to the back of the ring (or out of it, when it has nothing else queued or
 * has reached its cap). */
void fair_queue_take(fair_queue_t *self, fair_owner_t *owner, list_node_t *node);

/* A job of owner runs without having been taken from the queue (a job found running at start,
 * an orphan): it counts toward the cap. */
void fair_queue_run_begin(fair_queue_t *self, fair_owner_t *owner);

/* A running job of owner stopped (finished, failed, cancelled, or back to the queue): an
 * owner that was at its cap with queued jobs rejoins the ring at the back. */
void fair_queue_run_end(fair_queue_t *self, fair_owner_t *owner);

/* Nodes queued, over every owner. */
size_t fair_queue_size(const fair_queue_t *self);

/* The owner's queued nodes and running jobs. */
size_t fair_owner_queued(const fair_owner_t *owner);
size_t fair_owner_running(const fair_owner_t *owner);

/* Every queued node once, for inspection (not in dispatch order when several owners have
 * queued jobs): owner by owner, in the order their records were created, each owner's queue
 * front to back. first: NULL when nothing is queued; after (node queued by owner): NULL after
 * the last. Borrowed. */
list_node_t *fair_queue_first(const fair_queue_t *self);
list_node_t *fair_queue_after(const fair_queue_t *self, const fair_owner_t *owner,
                              const list_node_t *node);

#endif
