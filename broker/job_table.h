/*
 * job_table.h - the broker's unfinished jobs in memory, with no I/O (docs/broker.md, "Jobs in
 * memory"; docs/jobs.md draws the whole life of a job).
 *
 * The table holds every unfinished job in a hash by id and in exactly one of three ordered
 * lists by state: the queue (QUEUED: one queue per owner, owners served in turn; fair_queue.h),
 * the waiting list (WAITING, earliest retry first) and the orphans (ORPHANED, earliest grace
 * end first). It tells the fair queue when a job of an owner starts and stops running, for the
 * cap on each owner's running jobs. Every state change goes through job_table_set_state,
 * which also moves the job between those lists; nothing outside this module touches the lists.
 * The table decides a failed attempt's fate (another attempt after a back-off, or giving up)
 * but neither logs, writes nor sends: the broker does that.
 * Time is passed in (monotonic ms); the back-off jitter comes from an injectable random source.
 */
#ifndef PROFAI_BROKER_JOB_TABLE_H
#define PROFAI_BROKER_JOB_TABLE_H

#include "list.h"
#include "profai/compiler.h"
#include "profai/errors.h"
#include "profai/proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A job in memory (finished jobs leave memory).
 *   QUEUED:      in the queue, waiting for an idle worker.
 *   WAITING:     a transient failure: 'queued' in PostgreSQL with retry_at; not dispatched
 *                before its back-off has passed (in the waiting list, earliest first).
 *   DISPATCHING: a worker is reserved; the dispatch UPDATE or the PDF read is in flight.
 *   RUNNING:     REQUEST sent; the worker holds the job until its deadline at most.
 *   ORPHANED:    'running' in PostgreSQL when this broker started (or reconnected) with no
 *                worker known; its worker may come back with a result until the grace ends. */
typedef enum {
    JOB_QUEUED,
    JOB_WAITING,
    JOB_DISPATCHING,
    JOB_RUNNING,
    JOB_ORPHANED,
} job_state_t;

struct worker_t;
struct fair_owner_t;

/* Plain data: the broker reads every field and writes worker, deadline and the progress
 * fields; state, node, fair, retry_due, orphan_deadline and the failure counts belong to the
 * table (change them only through job_table_* calls). */
typedef struct job_t {
    char id[PROTO_UUID_LEN + 1]; /* hash key */
    char owner[PROTO_UUID_LEN + 1];
    uint32_t attempts; /* dispatches so far; the current token's attempt */
    job_state_t state;
    struct worker_t *worker;   /* DISPATCHING, RUNNING; borrowed from the worker registry */
    list_node_t node;          /* its owner's queue (QUEUED), waiting (WAITING) or orphans */
    struct fair_owner_t *fair; /* its owner in the fair queue (a reference held by the table) */
    int64_t orphan_deadline;   /* ORPHANED: requeue then */
    int64_t retry_due;         /* WAITING: may be dispatched from then on */
    int64_t deadline;          /* RUNNING, ORPHANED: stopped on its worker then (0: none known) */
    /* Failed attempts seen by this broker process, by kind: for the final error message. */
    uint32_t lost, crashed, timed_out, internal;
    bool progress_dirty; /* progress not written yet */
    uint8_t progress;
    char stage[PROTO_STAGE_MAX + 1];
    int64_t added_at; /* when this broker process learnt it (job_table_add), for ages */
    /* The current attempt's secret (docs/broker.md, "Fenced results"): set at dispatch; an
     * orphan loaded after a restart knows only its SHA-256 (hex). "" when unknown. */
    char secret[PROTO_SECRET_LEN + 1];
    char secret_sha256[65];
    /* The CURVE public key (z85) of the worker the current attempt was sent to (migration
     * 013): only that key may report on it. "" without CURVE. Set by the broker. */
    char worker_key[41];
    /* What a REQUEST carries besides the PDF, when this broker learnt it at submission
     * (job_table_set_request; NULL otherwise, e.g. jobs loaded at start): "title\0filename\0
     * sha256\0", owned by the table. With it and the PDF at hand, the REQUEST is sent without
     * waiting for the dispatch commit (docs/broker.md, "Sending before the dispatch commits"). */
    char *request;
    /* The PDF's size in bytes (blobs.size), known with request; -1 when unknown. */
    int64_t request_pdf_size;
    /* Its dispatch write is held (dispatch_hold.h, docs/broker.md "Holding the dispatch
     * write"): the entry's sequence number; 0 when none. Set and cleared by the broker. */
    uint64_t hold_seq;
} job_t;

typedef struct job_table_t job_table_t;

/* A source of random numbers for the back-off jitter; arg is the config's random_arg. */
typedef uint64_t(job_random_fn)(void *arg);

typedef struct {
    int max_attempts;             /* broker/max_attempts: attempts at most */
    int64_t retry_base_ms;        /* back-off after a first failed attempt */
    int64_t retry_max_ms;         /* longest back-off */
    int64_t orphan_grace_ms;      /* how long an orphan waits for its worker */
    size_t max_running_per_owner; /* broker/max_running_per_owner: 0 = no cap */
    job_random_fn *random;        /* NULL: a xorshift generator seeded with seed */
    void *random_arg;
    uint64_t seed; /* for the default generator; 0 is replaced by 1 */
} job_table_config_t;

/* Counts for PONG and, later, metrics. */
typedef struct {
    size_t total;    /* every unfinished job */
    size_t queued;   /* QUEUED */
    size_t waiting;  /* WAITING */
    size_t orphaned; /* ORPHANED */
} job_table_counts_t;

/* How a failed attempt ends (job_table_retry). */
typedef enum {
    JOB_RETRY_AGAIN,   /* QUEUED or WAITING again, for another attempt after *delay_ms */
    JOB_RETRY_GIVE_UP, /* the last attempt failed: the caller records the failure and removes */
} job_retry_t;

/* Called with a job the table hands back during a walk (job_table_release_waiting,
 * job_table_expire_orphans). */
typedef void(job_fn)(job_t *job, void *arg);

/* Create an empty table; config is copied. NULL when out of memory. */
job_table_t *job_table_new(const job_table_config_t *config);

/* Free the table and every job in it; accepts NULL. */
void job_table_destroy(job_table_t **self_p);

/* Add a job found unfinished in PostgreSQL or just submitted, in state QUEUED (at the back of
 * its owner's queue; an owner with nothing queued joins the back of the ring), WAITING (its
 * back-off ends at now + retry_in_ms) or ORPHANED (its grace ends at now + orphan_grace_ms;
 * deadline_in_ms < 0: no deadline known). The table owns the job; the pointer is valid until
 * job_table_remove. NULL when out of memory or the id is present. */
job_t *job_table_add(job_table_t *self, const char *id, const char *owner, uint32_t attempts,
                     job_state_t state, int64_t now, int64_t retry_in_ms, int64_t deadline_in_ms);

/* Keep the job's title, file name, PDF hash and PDF size (bytes, -1: unknown) for its REQUESTs
 * (job_t.request, job_t.request_pdf_size). Returns 0, or -1 when out of memory (the job keeps
 * none). */
int job_table_set_request(job_t *job, const char *title, const char *filename, const char *sha256,
                          int64_t pdf_size) PROFAI_MUST_CHECK;

/* The job with this id, or NULL. Borrowed. */
job_t *job_table_lookup(job_table_t *self, const char *id);

/* The job leaves its list and memory; *job_p is set to NULL. Its worker must be detached. */
void job_table_remove(job_table_t *self, job_t **job_p);

/* Whether a job may go from `from` to `to`. */
bool job_transition_ok(job_state_t from, job_state_t to);

/* The name of a state for logs ("queued", ...). */
const char *job_state_name(job_state_t state);

/* Every job state change goes through here: the job leaves its state's list and joins the new
 * one (QUEUED: the front of its owner's queue, an earlier job going back; WAITING: in
 * retry_due order, so set retry_due first). QUEUED -> DISPATCHING serves the job's owner,
 * which goes to the back of the ring. An impossible transition is a bug: it aborts. */
void job_table_set_state(job_table_t *self, job_t *job, job_state_t next);

/* An attempt ended without a result (code: one of the transient job errors, worker_lost,
 * parser_crashed, timeout, internal; the job's worker is detached): count it; after
 * max_attempts attempts give up, otherwise go back to the queue at once the first time the job
 * loses a worker (the worker, not the job, is the likely culprit) or wait a back-off. Clears
 * the worker, deadline and unwritten progress. */
job_retry_t job_table_retry(job_table_t *self, job_t *job, profai_error_t code, int64_t now,
                            int64_t *delay_ms) PROFAI_MUST_CHECK;

/* Milliseconds to wait before the attempt after failed attempt n (>= 1): retry_base_ms
 * doubling per attempt up to retry_max_ms, plus up to 10% of jitter so that jobs that failed
 * together (a worker crash) do not come back together. */
int64_t job_table_backoff_ms(job_table_t *self, uint32_t n);

/* The error a teacher sees when the job gave up after failing with code: a sentence counting
 * the attempts that failed the same way (as seen by this broker process), in message. */
void job_final_error(const job_t *job, profai_error_t code, char *message, size_t size);

/* Move the WAITING jobs whose back-off has passed by now to the front of their owners' queues,
 * earliest first (they are older than the jobs submitted meanwhile); each (may be NULL) sees
 * each. */
void job_table_release_waiting(job_table_t *self, int64_t now, job_fn *each, void *arg);

/* Hand the orphans whose grace has ended by now to expire, newest first; expire must take each
 * out of ORPHANED (job_table_retry, or remove), so that requeued ones end up oldest first in
 * their owners' queues. */
void job_table_expire_orphans(job_table_t *self, int64_t now, job_fn *expire, void *arg);

/* The earliest retry_due of the waiting jobs; false when none waits. */
bool job_table_next_retry(const job_table_t *self, int64_t *due);

/* The queued job to dispatch next in the fair order (fair_queue.h), or NULL when none may go:
 * nothing queued, or every owner with queued jobs at its cap. Borrowed; the caller moves it
 * to DISPATCHING before asking again. */
job_t *job_table_next_to_dispatch(const job_table_t *self);

/* Every queued job once, for inspection: owner by owner (in the order the table first held a
 * job of each), each owner's queue in its order (with one owner: the dispatch order). NULL at
 * the end. Borrowed. */
job_t *job_table_queued_first(const job_table_t *self);
job_t *job_table_queued_next(const job_table_t *self, const job_t *job);

job_table_counts_t job_table_counts(const job_table_t *self);

/* Queued jobs of one owner, or of all (job_table_queued_by_owner). */
typedef struct {
    uint64_t count;
    int64_t oldest; /* added_at of the oldest; 0 when none */
} job_tally_t;

/* The QUEUED jobs by owner, for the admin status and the metrics: a new hash, owner ->
 * job_tally_t (the caller destroys it; NULL when out of memory), and in *all the tally of every
 * queued job (counted even when out of memory). */
struct _zhash_t *job_table_queued_by_owner(const job_table_t *self, job_tally_t *all);

#endif
