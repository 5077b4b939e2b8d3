/*
 * sched.c - see sched.h: first in, first out.
 */
#include "sched.h"

#include <stdlib.h>

struct sched_t {
    int unused; /* a fair policy keeps its per-owner state here */
};

sched_t *
sched_new(void)
{
    return calloc(1, sizeof(sched_t));
}

void
sched_destroy(sched_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    free(*self_p);
    *self_p = NULL;
}

job_t *
sched_next(sched_t *self, const job_table_t *jobs)
{
    (void)self;
    return job_table_queued_first(jobs);
}
