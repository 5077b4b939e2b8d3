/*
 * job_table.c - see job_table.h. The only place where jobs join and leave the queue (the fair
 * queue, fair_queue.h), the waiting list and the orphans (list.h).
 */
#include "job_table.h"

#include "fair_queue.h"
#include "log.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct job_table_t {
    job_table_config_t config;
    uint64_t rng;        /* xorshift state of the default random source */
    zhashx_t *jobs;      /* id -> job_t (owned by the table, not by the hash) */
    fair_queue_t *queue; /* QUEUED jobs, per owner, served in turn (fair_queue.h) */
    list_t waiting;      /* WAITING jobs, earliest retry_due first */
    list_t orphans;      /* ORPHANED jobs, earliest orphan_deadline first */
};

static const char *const s_state_names[] = {"queued", "waiting", "dispatching", "running",
                                            "orphaned"};

static uint64_t
s_xorshift(void *arg)
{
    uint64_t *state = arg;
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

job_table_t *
job_table_new(const job_table_config_t *config)
{
    job_table_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->config = *config;
    self->rng = config->seed != 0 ? config->seed : 1;
    if (self->config.random == NULL) {
        self->config.random = s_xorshift;
        self->config.random_arg = &self->rng;
    }
    list_init(&self->waiting);
    list_init(&self->orphans);
    self->jobs = zhashx_new();
    self->queue = fair_queue_new(config->max_running_per_owner);
    if (self->jobs == NULL || self->queue == NULL) {
        zhashx_destroy(&self->jobs);
        fair_queue_destroy(&self->queue);
        free(self);
        return NULL;
    }
    /* Keys point into the job structs, which outlive their hash entries. */
    zhashx_set_key_duplicator(self->jobs, NULL);
    zhashx_set_key_destructor(self->jobs, NULL);
    return self;
}

void
job_table_destroy(job_table_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    job_table_t *self = *self_p;
    for (job_t *job = zhashx_first(self->jobs); job != NULL; job = zhashx_next(self->jobs)) {
        free(job->request);
        free(job);
    }
    zhashx_destroy(&self->jobs);
    fair_queue_destroy(&self->queue); /* the owner records; the jobs are gone already */
    free(self);
    *self_p = NULL;
}

/* The list a job in this state lives in; NULL for the states outside every list (the queue
 * is the fair queue's, see s_leave). */
static list_t *
s_list_of(job_table_t *self, job_state_t state)
{
    switch (state) {
    case JOB_QUEUED:
        return NULL;
    case JOB_WAITING:
        return &self->waiting;
    case JOB_ORPHANED:
        return &self->orphans;
    case JOB_DISPATCHING:
    case JOB_RUNNING:
        return NULL;
    }
    return NULL;
}

/* Put a WAITING job into the waiting list, kept in retry_due order. Retries are few (only
 * failed attempts wait), so a walk from the tail, where new ones usually go, is enough. */
static void
s_waiting_insert(job_table_t *self, job_t *job)
{
    list_node_t *at = list_last(&self->waiting);
    while (at != NULL && LIST_ENTRY(at, job_t, node)->retry_due > job->retry_due)
        at = list_prev(&self->waiting, at);
    if (at == NULL)
        list_push_front(&self->waiting, &job->node);
    else
        list_insert_between(&self->waiting, &job->node, at, at->next);
}

job_t *
job_table_add(job_table_t *self, const char *id, const char *owner, uint32_t attempts,
              job_state_t state, int64_t now, int64_t retry_in_ms, int64_t deadline_in_ms)
{
    if (state != JOB_QUEUED && state != JOB_WAITING && state != JOB_ORPHANED)
        return NULL;
    if (zhashx_lookup(self->jobs, id) != NULL)
        return NULL;
    job_t *job = calloc(1, sizeof *job);
    if (job == NULL)
        return NULL;
    snprintf(job->id, sizeof job->id, "%s", id);
    snprintf(job->owner, sizeof job->owner, "%s", owner);
    job->attempts = attempts;
    job->state = state;
    job->added_at = now;
    job->request_pdf_size = -1;
    job->fair = fair_queue_owner_hold(self->queue, job->owner);
    if (job->fair == NULL || zhashx_insert(self->jobs, job->id, job) != 0) {
        fair_queue_owner_release(self->queue, &job->fair);
        free(job);
        return NULL;
    }
    switch (state) {
    case JOB_QUEUED:
        fair_queue_push(self->queue, job->fair, &job->node, false);
        break;
    case JOB_WAITING:
        job->retry_due = now + retry_in_ms;
        s_waiting_insert(self, job);
        break;
    default:
        job->orphan_deadline = now + self->config.orphan_grace_ms;
        job->deadline = deadline_in_ms >= 0 ? now + deadline_in_ms : 0;
        list_push_back(&self->orphans, &job->node);
        fair_queue_run_begin(self->queue, job->fair); /* it may still run on a worker */
        break;
    }
    return job;
}

int
job_table_set_request(job_t *job, const char *title, const char *filename, const char *sha256,
                      int64_t pdf_size)
{
    size_t lt = strlen(title), lf = strlen(filename), ls = strlen(sha256);
    char *request = malloc(lt + lf + ls + 3);
    if (request == NULL)
        return -1;
    memcpy(request, title, lt + 1);
    memcpy(request + lt + 1, filename, lf + 1);
    memcpy(request + lt + lf + 2, sha256, ls + 1);
    free(job->request);
    job->request = request;
    job->request_pdf_size = pdf_size;
    return 0;
}

job_t *
job_table_lookup(job_table_t *self, const char *id)
{
    return (job_t *)zhashx_lookup(self->jobs, id);
}

/* Whether a job in this state counts toward its owner's cap on running jobs: a worker holds it
 * or is about to, or (an orphan) may still hold it. */
static bool
s_is_running(job_state_t state)
{
    return state == JOB_DISPATCHING || state == JOB_RUNNING || state == JOB_ORPHANED;
}

void
job_table_remove(job_table_t *self, job_t **job_p)
{
    job_t *job = *job_p;
    list_t *list = s_list_of(self, job->state);
    if (list != NULL && list_linked(&job->node))
        list_remove(list, &job->node);
    if (job->state == JOB_QUEUED)
        fair_queue_remove(self->queue, job->fair, &job->node);
    else if (s_is_running(job->state))
        fair_queue_run_end(self->queue, job->fair);
    fair_queue_owner_release(self->queue, &job->fair);
    zhashx_delete(self->jobs, job->id);
    free(job->request);
    free(job);
    *job_p = NULL;
}

bool
job_transition_ok(job_state_t from, job_state_t to)
{
    switch (to) {
    case JOB_QUEUED: /* a new attempt at once, or the back-off has passed */
        return from != JOB_QUEUED;
    case JOB_WAITING: /* an attempt failed: back-off */
        return from == JOB_DISPATCHING || from == JOB_RUNNING || from == JOB_ORPHANED;
    case JOB_DISPATCHING:
        return from == JOB_QUEUED;
    case JOB_RUNNING:
        return from == JOB_DISPATCHING || from == JOB_ORPHANED;
    case JOB_ORPHANED:
        return false; /* jobs are born orphaned (at load), never become so */
    }
    return false;
}

const char *
job_state_name(job_state_t state)
{
    if ((int)state < 0 || (size_t)state >= sizeof s_state_names / sizeof s_state_names[0])
        return "?";
    return s_state_names[state];
}

void
job_table_set_state(job_table_t *self, job_t *job, job_state_t next)
{
    if (!job_transition_ok(job->state, next)) {
        log_error("bug: job=%s cannot go from %s to %s", job->id, job_state_name(job->state),
                  job_state_name(next));
        abort();
    }
    list_t *from = s_list_of(self, job->state);
    if (from != NULL && list_linked(&job->node))
        list_remove(from, &job->node);
    if (job->state == JOB_QUEUED) /* only to DISPATCHING: the owner was served */
        fair_queue_take(self->queue, job->fair, &job->node);
    else if (s_is_running(job->state) && !s_is_running(next))
        fair_queue_run_end(self->queue, job->fair);
    job->state = next;
    if (next == JOB_QUEUED) /* older than the owner's other queued jobs: first of them */
        fair_queue_push(self->queue, job->fair, &job->node, true);
    else if (next == JOB_WAITING)
        s_waiting_insert(self, job);
}

int64_t
job_table_backoff_ms(job_table_t *self, uint32_t n)
{
    int64_t delay = self->config.retry_base_ms;
    for (uint32_t i = 1; i < n && delay < self->config.retry_max_ms; i++)
        delay *= 2;
    if (delay > self->config.retry_max_ms)
        delay = self->config.retry_max_ms;
    uint64_t r = self->config.random(self->config.random_arg);
    int64_t jitter = delay / 10;
    return delay + (jitter > 0 ? (int64_t)(r % (uint64_t)(jitter + 1)) : 0);
}

/* The counter of failed attempts of this kind. */
static uint32_t *
s_failure_count(job_t *job, profai_error_t code)
{
    switch (code) {
    case PROFAI_ERR_WORKER_LOST:
        return &job->lost;
    case PROFAI_ERR_PARSER_CRASHED:
        return &job->crashed;
    case PROFAI_ERR_TIMEOUT:
        return &job->timed_out;
    default:
        return &job->internal;
    }
}

job_retry_t
job_table_retry(job_table_t *self, job_t *job, profai_error_t code, int64_t now, int64_t *delay_ms)
{
    job->worker = NULL;
    job->deadline = 0;
    job->progress_dirty = false;
    (*s_failure_count(job, code))++;
    *delay_ms = 0;
    if (job->attempts >= (uint32_t)self->config.max_attempts)
        return JOB_RETRY_GIVE_UP;
    int64_t delay = code == PROFAI_ERR_WORKER_LOST && job->lost == 1
                        ? 0
                        : job_table_backoff_ms(self, job->attempts);
    if (delay == 0) {
        job_table_set_state(self, job, JOB_QUEUED);
    } else {
        job->retry_due = now + delay;
        job_table_set_state(self, job, JOB_WAITING);
    }
    *delay_ms = delay;
    return JOB_RETRY_AGAIN;
}

void
job_final_error(const job_t *job, profai_error_t code, char *message, size_t size)
{
    const char *what = code == PROFAI_ERR_WORKER_LOST      ? "The job lost its worker"
                       : code == PROFAI_ERR_PARSER_CRASHED ? "The PDF parser crashed"
                       : code == PROFAI_ERR_TIMEOUT ? "Reading this PDF took longer than allowed"
                                                    : "The worker failed to process this PDF";
    uint32_t same = *s_failure_count((job_t *)job, code);
    if (same >= job->attempts)
        snprintf(message, size, "%s on every one of %" PRIu32 " attempts; giving up.", what,
                 job->attempts);
    else
        snprintf(message, size, "%s on %" PRIu32 " of %" PRIu32 " attempts; giving up.", what, same,
                 job->attempts);
}

void
job_table_release_waiting(job_table_t *self, int64_t now, job_fn *each, void *arg)
{
    list_node_t *last = NULL;
    for (list_node_t *node = list_first(&self->waiting);
         node != NULL && LIST_ENTRY(node, job_t, node)->retry_due <= now;
         node = list_next(&self->waiting, node))
        last = node;
    while (last != NULL) {
        list_node_t *prev = list_prev(&self->waiting, last);
        job_t *job = LIST_ENTRY(last, job_t, node);
        job_table_set_state(self, job, JOB_QUEUED);
        if (each != NULL)
            each(job, arg);
        last = prev;
    }
}

void
job_table_expire_orphans(job_table_t *self, int64_t now, job_fn *expire, void *arg)
{
    list_node_t *last = NULL;
    for (list_node_t *node = list_first(&self->orphans);
         node != NULL && LIST_ENTRY(node, job_t, node)->orphan_deadline <= now;
         node = list_next(&self->orphans, node))
        last = node;
    while (last != NULL) {
        list_node_t *prev = list_prev(&self->orphans, last);
        expire(LIST_ENTRY(last, job_t, node), arg);
        last = prev;
    }
}

bool
job_table_next_retry(const job_table_t *self, int64_t *due)
{
    list_node_t *first = list_first(&self->waiting);
    if (first == NULL)
        return false;
    *due = LIST_ENTRY(first, job_t, node)->retry_due;
    return true;
}

job_t *
job_table_next_to_dispatch(const job_table_t *self)
{
    list_node_t *node = fair_queue_next(self->queue, NULL);
    return node != NULL ? LIST_ENTRY(node, job_t, node) : NULL;
}

job_t *
job_table_queued_first(const job_table_t *self)
{
    list_node_t *node = fair_queue_first(self->queue);
    return node != NULL ? LIST_ENTRY(node, job_t, node) : NULL;
}

job_t *
job_table_queued_next(const job_table_t *self, const job_t *job)
{
    list_node_t *node = fair_queue_after(self->queue, job->fair, &job->node);
    return node != NULL ? LIST_ENTRY(node, job_t, node) : NULL;
}

zhash_t *
job_table_queued_by_owner(const job_table_t *self, job_tally_t *all)
{
    zhash_t *owners = zhash_new();
    *all = (job_tally_t){0, 0};
    for (job_t *job = job_table_queued_first(self); job != NULL;
         job = job_table_queued_next(self, job)) {
        all->count++;
        if (all->oldest == 0 || job->added_at < all->oldest)
            all->oldest = job->added_at;
        job_tally_t *tally = owners != NULL ? zhash_lookup(owners, job->owner) : NULL;
        if (tally == NULL && owners != NULL) {
            tally = calloc(1, sizeof *tally);
            if (tally == NULL || zhash_insert(owners, job->owner, tally) != 0) {
                free(tally);
                continue;
            }
            zhash_freefn(owners, job->owner, free);
            tally->oldest = job->added_at;
        }
        if (tally != NULL) {
            tally->count++;
            if (job->added_at < tally->oldest)
                tally->oldest = job->added_at;
        }
    }
    return owners;
}

job_table_counts_t
job_table_counts(const job_table_t *self)
{
    return (job_table_counts_t){
        .total = zhashx_size(self->jobs),
        .queued = fair_queue_size(self->queue),
        .waiting = list_size(&self->waiting),
        .orphaned = list_size(&self->orphans),
    };
}
