/* blob_sweep.c - see blob_sweep.h. */
#include "blob_sweep.h"

#include "idempotency.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct blob_sweep_t {
    db_pool_t *db;
    int interval_ms;
    long long grace_ms;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
};

static void *
s_run(void *arg)
{
    blob_sweep_t *self = arg;
    pthread_mutex_lock(&self->lock);
    while (!self->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += self->interval_ms / 1000;
        until.tv_nsec += (long)(self->interval_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!self->stop && pthread_cond_timedwait(&self->wake, &self->lock, &until) != ETIMEDOUT)
            ;
        if (self->stop)
            break;
        pthread_mutex_unlock(&self->lock);
        long deleted = 0;
        if (db_blobs_sweep(self->db, self->grace_ms, &deleted) != DB_OK)
            log_warn("blob sweep failed (trying again in %d ms)", self->interval_ms);
        else if (deleted > 0)
            log_info("blob sweep: deleted %ld stored PDFs nothing refers to", deleted);
        /* Idempotency keys expire on the same round (idempotency.h). */
        if (idempotency_sweep(self->db, &deleted) != DB_OK)
            log_warn("idempotency key sweep failed (trying again in %d ms)", self->interval_ms);
        else if (deleted > 0)
            log_info("idempotency sweep: forgot %ld keys older than 24 hours", deleted);
        pthread_mutex_lock(&self->lock);
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

blob_sweep_t *
blob_sweep_new(db_pool_t *db, int interval_ms, long long grace_ms)
{
    blob_sweep_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->db = db;
    self->interval_ms = interval_ms;
    self->grace_ms = grace_ms;
    pthread_mutex_init(&self->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) {
        pthread_cond_destroy(&self->wake);
        pthread_mutex_destroy(&self->lock);
        free(self);
        return NULL;
    }
    return self;
}

void
blob_sweep_destroy(blob_sweep_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    blob_sweep_t *self = *self_p;
    pthread_mutex_lock(&self->lock);
    self->stop = true;
    pthread_cond_signal(&self->wake);
    pthread_mutex_unlock(&self->lock);
    pthread_join(self->thread, NULL);
    pthread_cond_destroy(&self->wake);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}
