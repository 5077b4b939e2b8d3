/*
 * queued_seen.h - which jobs this frontend's last read found queued (pure: no I/O, no logging).
 *
 * A job's read (db_jobs.c) reads the row with a small statement and ranks the job with a
 * second one only when it is queued. A job polled while queued would then cost both on every
 * poll; the job read remembers here the jobs its rank found queued and ranks them at once
 * next time (the rank statement reads the whole row too). It is a hint only: either statement
 * answers every state right, a wrong hint costs one statement more or less.
 *
 * A fixed table of QUEUED_SEEN_SLOTS ids, one per slot by a hash of the id: a newer id
 * replaces an older one of the same slot; nothing else expires (a job that ended is forgotten
 * on its next read). The job read owns the one queued_seen_t of the process. Thread-safe:
 * every call takes its mutex.
 */
#ifndef PROFAI_FRONTEND_QUEUED_SEEN_H
#define PROFAI_FRONTEND_QUEUED_SEEN_H

#include <profai/compiler.h>
#include <pthread.h>
#include <stdbool.h>

enum { QUEUED_SEEN_SLOTS = 4096, QUEUED_SEEN_ID_SIZE = 37 }; /* a uuid's text and its NUL */

typedef struct {
    pthread_mutex_t lock;
    char ids[QUEUED_SEEN_SLOTS][QUEUED_SEEN_ID_SIZE]; /* "" = empty slot */
} queued_seen_t;

#define QUEUED_SEEN_INIT                                                                           \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER,                                                                 \
        {                                                                                          \
            {                                                                                      \
                0                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

/* Whether the last read of job id (as the caller spells it: db_jobs.c uses lower case) that
 * was remembered here found it queued. */
bool queued_seen_has(queued_seen_t *self, const char *id) PROFAI_MUST_CHECK;

/* Remember what a read of job id found: queued (kept, replacing its slot's id) or not
 * (forgotten, when its slot holds it). */
void queued_seen_put(queued_seen_t *self, const char *id, bool queued);

#endif
