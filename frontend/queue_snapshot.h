/*
 * queue_snapshot.h - the fair order of the queued jobs, kept briefly (pure: no I/O, no logging,
 * the clock is the caller's).
 *
 * queue_position (docs/api.md 4.2) is a queued job's number in the fair order. Computing it
 * reads one index entry per owner with unfinished jobs or more, so with many jobs queued a
 * frontend polled for many of them numbers them all at once (one window over the queue) and
 * answers the next reads from that numbering while it is at most QUEUE_SNAPSHOT_MAX_AGE_MS old
 * and covered at least QUEUE_SNAPSHOT_MIN_JOBS jobs (with fewer, computing is cheap: every read
 * computes). A job missing from it (queued since) is computed. The job read (db_jobs.c) owns
 * the one queue_snapshot_t of the process. Thread-safe: every call takes its mutex.
 */
#ifndef PROFAI_FRONTEND_QUEUE_SNAPSHOT_H
#define PROFAI_FRONTEND_QUEUE_SNAPSHOT_H

#include <profai/compiler.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { QUEUE_SNAPSHOT_MAX_AGE_MS = 1000, QUEUE_SNAPSHOT_MIN_JOBS = 100 };
enum { QUEUE_SNAPSHOT_ID_SIZE = 37 }; /* a uuid's text and its NUL */

typedef struct {
    char id[QUEUE_SNAPSHOT_ID_SIZE];
    long long position;
} queue_snapshot_entry_t;

typedef struct {
    pthread_mutex_t lock;
    queue_snapshot_entry_t *entries; /* sorted by id */
    size_t count;
    int64_t at_ms;   /* when it was taken */
    bool refreshing; /* a caller is taking a new one (queue_snapshot_claim) */
} queue_snapshot_t;

#define QUEUE_SNAPSHOT_INIT                                                                        \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, false                                               \
    }

/* The position of job id in a snapshot taken at most QUEUE_SNAPSHOT_MAX_AGE_MS before now_ms;
 * false: none kept, too old, or the job is not in it. */
bool queue_snapshot_find(queue_snapshot_t *self, int64_t now_ms, const char *id,
                         long long *position) PROFAI_MUST_CHECK;

/* Whether the caller should take a new snapshot at now_ms: the kept one is too old (or none)
 * and no other caller is taking one. True claims it: the caller then calls
 * queue_snapshot_put (also when the read failed, with count 0). */
bool queue_snapshot_claim(queue_snapshot_t *self, int64_t now_ms) PROFAI_MUST_CHECK;

/* A snapshot taken at now_ms: count entries (any order; copied). Kept when count >=
 * QUEUE_SNAPSHOT_MIN_JOBS, else the kept one is forgotten. Ends the claim. -1: out of memory
 * (the kept one is forgotten). */
int queue_snapshot_put(queue_snapshot_t *self, int64_t now_ms,
                       const queue_snapshot_entry_t *entries, size_t count);

#endif
