/* http_watch.c - see http_watch.h. */
#include "http_watch.h"

#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The signal that interrupts a watched thread's poll(): a real-time signal nothing else in the
 * frontend uses (SIGRTMIN itself may be taken by a library). */
#define HTTP_WATCH_SIGNAL (SIGRTMIN + 3)
/* How often a fired watch's thread is signalled again until it disarms. */
#define HTTP_WATCH_RESEND_MS 20

typedef struct {
    pthread_t thread;    /* the thread reading */
    int64_t deadline_ms; /* overall; INT64_MAX for none */
    int64_t start_ms;    /* the minimum rate counts from here */
    size_t bytes;        /* moved since start_ms, as counted by the reading thread */
    bool active;
    bool fired;
    http_limit_t limit; /* which limit fired */
} s_watch_t;

struct http_watch_t {
    long long min_rate;
    int grace_ms;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t cond;  /* signalled when a watch is armed or the watchdog stops */
    pthread_t watchdog;
    bool running;
    bool stopping;
    s_watch_t *watches;
    int nwatches;
};

int64_t
http_watch_due(long long min_rate, int grace_ms, int64_t deadline_ms, int64_t start_ms,
               size_t bytes, http_limit_t *limit)
{
    *limit = HTTP_LIMIT_DEADLINE;
    if (min_rate <= 0)
        return deadline_ms;
    int64_t paced = (int64_t)((uint64_t)bytes * 1000 / (uint64_t)min_rate);
    if (paced < grace_ms)
        paced = grace_ms;
    if (start_ms + paced < deadline_ms) {
        *limit = HTTP_LIMIT_RATE;
        return start_ms + paced;
    }
    return deadline_ms;
}

size_t
http_watch_read_size(long long min_rate, int64_t due_ms, int64_t now_ms, size_t min, size_t max)
{
    if (min_rate <= 0)
        return max;
    int64_t lead_ms = due_ms > now_ms ? due_ms - now_ms : 0;
    uint64_t n = (uint64_t)lead_ms * (uint64_t)min_rate / 1000;
    if (n < min)
        return min;
    return n > max ? max : (size_t)n;
}

/* Does nothing: the signal exists to make the reading thread's poll() return EINTR. */
static void
s_on_signal(int sig)
{
    (void)sig;
}

static void *
s_watchdog_run(void *arg)
{
    http_watch_t *self = arg;
    pthread_mutex_lock(&self->lock);
    while (!self->stopping) {
        int64_t now = zclock_mono();
        int64_t next = INT64_MAX;
        for (int i = 0; i < self->nwatches; i++) {
            s_watch_t *w = &self->watches[i];
            if (!w->active)
                continue;
            if (!w->fired) {
                http_limit_t limit;
                int64_t due = http_watch_due(self->min_rate, self->grace_ms, w->deadline_ms,
                                             w->start_ms, w->bytes, &limit);
                if (due > now) {
                    /* Progress only moves a due time later: waking at the old one and
                     * looking again is enough, so the reader never needs to signal. */
                    if (due < next)
                        next = due;
                    continue;
                }
                w->fired = true;
                w->limit = limit;
            }
            /* Fired and not yet disarmed: (again) interrupt whatever the thread waits in. */
            pthread_kill(w->thread, HTTP_WATCH_SIGNAL);
            if (now + HTTP_WATCH_RESEND_MS < next)
                next = now + HTTP_WATCH_RESEND_MS;
        }
        /* A silent client never moves its due time: the wait ends there. A steady one moves
         * it forward, and the loop looks again then. */
        if (next == INT64_MAX) {
            pthread_cond_wait(&self->cond, &self->lock);
        } else {
            struct timespec ts = {.tv_sec = next / 1000, .tv_nsec = (next % 1000) * 1000000};
            pthread_cond_timedwait(&self->cond, &self->lock, &ts);
        }
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

http_watch_t *
http_watch_new(long long min_rate, int grace_ms, int slots, char *err, size_t err_size)
{
    http_watch_t *self = calloc(1, sizeof *self);
    if (self != NULL)
        self->watches = calloc((size_t)slots, sizeof *self->watches);
    if (self == NULL || self->watches == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    self->min_rate = min_rate;
    self->grace_ms = grace_ms;
    self->nwatches = slots;

    /* SA_RESTART: a signal that lands anywhere but in poll() changes nothing. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(HTTP_WATCH_SIGNAL, &sa, NULL) != 0) {
        snprintf(err, err_size, "cannot install the deadline signal: %s", strerror(errno));
        goto fail;
    }

    pthread_mutex_init(&self->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* zclock_mono's clock */
    pthread_cond_init(&self->cond, &attr);
    pthread_condattr_destroy(&attr);
    /* The watchdog itself must never take the signal's place in a reader: block it here. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, HTTP_WATCH_SIGNAL);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int rc = pthread_create(&self->watchdog, NULL, s_watchdog_run, self);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&self->cond);
        pthread_mutex_destroy(&self->lock);
        snprintf(err, err_size, "cannot start the deadline thread");
        goto fail;
    }
    self->running = true;
    return self;
fail:
    if (self != NULL)
        free(self->watches);
    free(self);
    return NULL;
}

void
http_watch_destroy(http_watch_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    http_watch_t *self = *self_p;
    if (self->running) {
        pthread_mutex_lock(&self->lock);
        self->stopping = true;
        pthread_cond_signal(&self->cond);
        pthread_mutex_unlock(&self->lock);
        pthread_join(self->watchdog, NULL);
        pthread_cond_destroy(&self->cond);
        pthread_mutex_destroy(&self->lock);
    }
    free(self->watches);
    free(self);
    *self_p = NULL;
}

int
http_watch_arm(http_watch_t *self, int64_t deadline_ms, int64_t start_ms)
{
    int slot = -1;
    pthread_mutex_lock(&self->lock);
    for (int i = 0; i < self->nwatches; i++) {
        if (!self->watches[i].active) {
            self->watches[i] = (s_watch_t){.thread = pthread_self(),
                                           .deadline_ms = deadline_ms,
                                           .start_ms = start_ms,
                                           .active = true};
            slot = i;
            break;
        }
    }
    pthread_cond_signal(&self->cond);
    pthread_mutex_unlock(&self->lock);
    return slot;
}

void
http_watch_progress(http_watch_t *self, int slot, size_t n)
{
    if (slot < 0)
        return;
    pthread_mutex_lock(&self->lock);
    self->watches[slot].bytes += n;
    pthread_mutex_unlock(&self->lock);
}

bool
http_watch_fired(http_watch_t *self, int slot, http_limit_t *limit)
{
    if (slot < 0)
        return false;
    pthread_mutex_lock(&self->lock);
    s_watch_t *w = &self->watches[slot];
    bool fired = w->fired;
    *limit = w->limit;
    pthread_mutex_unlock(&self->lock);
    return fired;
}

bool
http_watch_disarm(http_watch_t *self, int slot)
{
    if (slot < 0)
        return false;
    pthread_mutex_lock(&self->lock);
    bool fired = self->watches[slot].fired;
    self->watches[slot].active = false;
    pthread_mutex_unlock(&self->lock);
    return fired;
}
