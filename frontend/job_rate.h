/*
 * job_rate.h - the recent throughput of all workers, kept briefly (pure: no I/O, no logging,
 * the clock is the caller's).
 *
 * estimated_start (docs/api.md 4.2) divides a queued job's position by the recent throughput:
 * n jobs ended in the last 5 minutes over a span of seconds. Counting them reads n rows, so a
 * frontend polled for many queued jobs keeps the figure it last read, as seconds per job, and
 * passes it to the job read instead of counting again, while it is at most JOB_RATE_MAX_AGE_MS
 * old and came from at least JOB_RATE_MIN_JOBS jobs (with fewer, counting is cheap and one job
 * more or less moves the figure much: it is counted on every read). The job read (db_jobs.c)
 * owns the one job_rate_t of the process. Thread-safe: every call takes its mutex.
 */
#ifndef PROFAI_FRONTEND_JOB_RATE_H
#define PROFAI_FRONTEND_JOB_RATE_H

#include <profai/compiler.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

enum { JOB_RATE_MAX_AGE_MS = 1000, JOB_RATE_MIN_JOBS = 100 };

typedef struct {
    pthread_mutex_t lock;
    double seconds_per_job; /* span / n of the last count kept */
    int64_t at_ms;          /* when it was counted (the caller's monotonic clock) */
    bool known;             /* a count from at least JOB_RATE_MIN_JOBS jobs is kept */
} job_rate_t;

#define JOB_RATE_INIT                                                                              \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, 0.0, 0, false                                                   \
    }

/* The kept seconds per job, when one may be used at now_ms (counted at most
 * JOB_RATE_MAX_AGE_MS before now_ms, from at least JOB_RATE_MIN_JOBS jobs); false: count. */
bool job_rate_get(job_rate_t *self, int64_t now_ms, double *seconds_per_job) PROFAI_MUST_CHECK;

/* A count read at now_ms: n jobs ended over span seconds. Kept when n >= JOB_RATE_MIN_JOBS
 * and span > 0, else whatever was kept is forgotten. */
void job_rate_put(job_rate_t *self, int64_t now_ms, long long n, double span);

#endif
