/*
 * ratelimit.h - token buckets by key (pure: no I/O, no logging, the clock is the caller's).
 *
 * A ratelimit_t holds one bucket per key (a user id, a client address): each holds at most
 * `burst` tokens and gains `rate_per_min` / 60 of them per second; a request takes one, and is
 * refused while less than one is left. A bucket that has refilled to `burst` is the same as no
 * bucket, so such idle buckets are dropped whenever the table is full; when none is idle, the
 * bucket touched longest ago is dropped (its key starts again with a full budget: the memory
 * bound wins over exactness, and docs/security.md says so). Memory is thus bounded by max_keys.
 *
 * Thread-safe: every call takes the table's mutex (civetweb serves requests on many threads).
 * Keys are copied; the table owns its buckets.
 */
#ifndef PROFAI_FRONTEND_RATELIMIT_H
#define PROFAI_FRONTEND_RATELIMIT_H

#include <profai/compiler.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ratelimit_t ratelimit_t;

/* What a take or a peek found (plain data): the RateLimit-* and Retry-After values. */
typedef struct {
    long limit;       /* the burst: requests a full bucket allows at once */
    long remaining;   /* whole tokens left after this request */
    long reset_s;     /* seconds until the bucket is full again (rounded up) */
    long retry_after; /* when refused: seconds until one token is back (rounded up, >= 1) */
} ratelimit_verdict_t;

/* A table of buckets of `burst` tokens refilled at rate_per_min per minute, holding at most
 * max_keys buckets. NULL when out of memory or when an argument is 0. */
ratelimit_t *ratelimit_new(long rate_per_min, long burst, size_t max_keys);
void ratelimit_destroy(ratelimit_t **self_p);

/* Take one token from key's bucket at now_ms (a monotonic clock): true when there was one,
 * false (nothing taken) when the request must be refused. verdict may be NULL. */
bool ratelimit_take(ratelimit_t *self, const char *key, int64_t now_ms,
                    ratelimit_verdict_t *verdict) PROFAI_MUST_CHECK;

/* Whether key's bucket holds a token at now_ms, without taking it (an unknown key has a full
 * bucket). verdict may be NULL. */
bool ratelimit_peek(ratelimit_t *self, const char *key, int64_t now_ms,
                    ratelimit_verdict_t *verdict) PROFAI_MUST_CHECK;

/* Buckets held now (for tests). */
size_t ratelimit_size(ratelimit_t *self);

#endif
