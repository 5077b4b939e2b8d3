/*
 * search_indexer.h - builds the search index of new courses after their commit, on a
 * PostgreSQL connection of its own (migrations 017 and 024; docs/database.md, docs/broker.md
 * "Search indexing", docs/performance.md "Search indexing off the job's commit").
 *
 * Inserting a course only queues its id (course_index_queue). The broker whose store
 * committed a course wakes this indexer (search_indexer_wake), which drains the queue with
 * `SELECT profai_index_pending(SEARCH_INDEXER_BATCH)` at most SEARCH_INDEXER_GATHER_MS after
 * its last drain, and again at once while a call takes a whole batch. It also drains on
 * connecting and every SEARCH_INDEXER_SWEEP_MS, for courses queued while it was away or by
 * anyone else. So the store's connection, which commits every job, does not pay for indexing,
 * one drain indexes the courses of many commits, and a course becomes searchable within about
 * SEARCH_INDEXER_GATHER_MS of its job's commit. Concurrent drains (another broker, an
 * operator) skip each other's rows.
 *
 * Failures: a lost connection reconnects with back-off (250 ms doubling to 5 s); a failed
 * drain is reported and tried again at the next sweep, however often the broker wakes the
 * indexer meanwhile. Nothing here logs: connection changes
 * and failures go to the event callback. The caller polls the socket (search_indexer_pollfd)
 * and calls search_indexer_service every turn of its loop.
 */
#ifndef PROFAI_BROKER_SEARCH_INDEXER_H
#define PROFAI_BROKER_SEARCH_INDEXER_H

#include <stdbool.h>
#include <stdint.h>

/* Courses indexed per statement (one transaction). */
#define SEARCH_INDEXER_BATCH 64
/* A woken drain waits until this long after the last drain ended (ms). */
#define SEARCH_INDEXER_GATHER_MS 50
/* Drain at least this often even when not woken (ms). */
#define SEARCH_INDEXER_SWEEP_MS 1000

typedef struct search_indexer_t search_indexer_t;

/* The connection is up (up true, detail NULL), or was lost, could not be made, or a drain
 * failed (up false; detail says why, borrowed for the call). */
typedef void(search_indexer_event_fn)(void *owner, bool up, const char *detail);

/* Create an indexer for conninfo (copied); the first connection attempt starts at the first
 * search_indexer_service. on_event and owner are borrowed. NULL on allocation failure. */
search_indexer_t *search_indexer_new(const char *conninfo, search_indexer_event_fn *on_event,
                                     void *owner);

/* Close the connection and free the indexer; accepts NULL. */
void search_indexer_destroy(search_indexer_t **self_p);

/* The socket to poll (-1: none now) and the events wanted (ZMQ_POLLIN / ZMQ_POLLOUT). */
int search_indexer_pollfd(const search_indexer_t *self, short *events);

/* Milliseconds until search_indexer_service must run even without socket activity. */
int64_t search_indexer_timeout(const search_indexer_t *self, int64_t now);

/* A course committed: drain once SEARCH_INDEXER_GATHER_MS have passed since the last drain
 * ended (at once if they have). */
void search_indexer_wake(search_indexer_t *self);

/* Connect, read answers, send the next drain; never blocks. now: monotonic
 * milliseconds. */
void search_indexer_service(search_indexer_t *self, int64_t now);

#endif
