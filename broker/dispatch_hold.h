/*
 * dispatch_hold.h - early dispatches whose write waits for the job's result (docs/broker.md,
 * "Holding the dispatch write").
 *
 * A FIFO of held dispatch writes, in the order they were put (their due times never go down:
 * one hold for all), each named by a sequence number that the job keeps (job_t.hold_seq) so
 * that its result or any other write takes it in O(1). Taking an entry leaves a dead slot
 * that the head skips. The FIFO owns copies of everything; it does no I/O and never logs.
 */
#ifndef PROFAI_BROKER_DISPATCH_HOLD_H
#define PROFAI_BROKER_DISPATCH_HOLD_H

#include "profai/compiler.h"
#include "profai/proto.h"
#include "worker_registry.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the dispatch statement needs, besides the configured deadline. */
typedef struct {
    char job_id[PROTO_UUID_LEN + 1];
    uint32_t attempt;
    char worker[WORKER_NAME_MAX + 1];
    char secret_sha256[65];
    char worker_key[41];
    int64_t dispatched_at; /* monotonic ms */
} dispatch_held_t;

typedef struct dispatch_hold_t dispatch_hold_t;

/* NULL when out of memory. */
dispatch_hold_t *dispatch_hold_new(void);
void dispatch_hold_destroy(dispatch_hold_t **self_p);

/* Hold d until due (not before the last due put); its sequence number (never 0), or 0 when out
 * of memory. */
PROFAI_MUST_CHECK uint64_t dispatch_hold_put(dispatch_hold_t *self, const dispatch_held_t *d,
                                             int64_t due);

/* Take the held entry seq into out: false when it was taken already (or never was). */
PROFAI_MUST_CHECK bool dispatch_hold_take(dispatch_hold_t *self, uint64_t seq,
                                          dispatch_held_t *out);

/* Take the oldest entry if it is due at now (or any when now is INT64_MAX): false when none. */
PROFAI_MUST_CHECK bool dispatch_hold_take_due(dispatch_hold_t *self, int64_t now,
                                              dispatch_held_t *out);

/* The due time of the oldest entry still held: false when none. */
bool dispatch_hold_next_due(dispatch_hold_t *self, int64_t *due);

/* Entries still held. */
size_t dispatch_hold_count(const dispatch_hold_t *self);

#endif
