/*
 * sched.h - which queued job the broker dispatches next (docs/broker.md, "Dispatch").
 *
 * The one place that chooses among the queued jobs, so that another policy (fair per-owner
 * round-robin, priorities) replaces this module only. Today: first in, first out, in the job
 * table's queue order (a job going back after a failed attempt is at the head). No I/O.
 */
#ifndef PROFAI_BROKER_SCHED_H
#define PROFAI_BROKER_SCHED_H

#include "job_table.h"

typedef struct sched_t sched_t;

/* A scheduler; NULL when out of memory. */
sched_t *sched_new(void);

/* Free it; accepts NULL. */
void sched_destroy(sched_t **self_p);

/* The queued job to dispatch next, or NULL when none is queued. Borrowed from jobs; the caller
 * moves it out of QUEUED (job_table_set_state) before asking again. */
job_t *sched_next(sched_t *self, const job_table_t *jobs);

#endif
