/* job_rate.c - see job_rate.h. */
#include "job_rate.h"

bool
job_rate_get(job_rate_t *self, int64_t now_ms, double *seconds_per_job)
{
    pthread_mutex_lock(&self->lock);
    bool fresh =
        self->known && now_ms >= self->at_ms && now_ms - self->at_ms <= JOB_RATE_MAX_AGE_MS;
    if (fresh)
        *seconds_per_job = self->seconds_per_job;
    pthread_mutex_unlock(&self->lock);
    return fresh;
}

void
job_rate_put(job_rate_t *self, int64_t now_ms, long long n, double span)
{
    pthread_mutex_lock(&self->lock);
    self->known = n >= JOB_RATE_MIN_JOBS && span > 0;
    if (self->known) {
        self->seconds_per_job = span / (double)n;
        self->at_ms = now_ms;
    }
    pthread_mutex_unlock(&self->lock);
}
