/*
 * limits.h - the REST API's request-rate limits (docs/api.md 3.1, docs/security.md), applied
 * once per request by api.c:
 *
 *   - per caller, after authentication: one token bucket (ratelimit.h) for reads and one for
 *     uploads (routes flagged ROUTE_UPLOAD), keyed by the user id, so every token of a user
 *     shares one budget. The upload bucket lives in PostgreSQL (db_rate_take, migration 014)
 *     so that every frontend spends the same one; while the database cannot be asked, a
 *     local bucket stands in;
 *   - per client address, around authentication: each failed authentication (401) takes a
 *     token from the address' bucket; once it is empty, the address is blocked: its requests
 *     pass only with a valid token (api.c checks it in the token cache, and in the database
 *     within limits_blocked_lookup's budget); the others get 429.
 *
 * A refusal is answered here: 429 with Retry-After, RateLimit-Limit, RateLimit-Remaining and
 * RateLimit-Reset (draft-ietf-httpapi-ratelimit-headers) and a problem document; accepted
 * requests are not given the headers (the answers stay as they were).
 *
 * The client address is the HTTP layer's (http_client_addr: the peer's, or behind a trusted
 * proxy the last address of its X-Forwarded-For). Thread-safe.
 */
#ifndef PROFAI_FRONTEND_LIMITS_H
#define PROFAI_FRONTEND_LIMITS_H

#include "db.h"
#include "http.h"

#include <profai/compiler.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    long read_rate, read_burst;           /* per user, per minute / at once */
    long upload_rate, upload_burst;       /* per user, per minute / at once */
    long auth_fail_rate, auth_fail_burst; /* failed authentications per address */
    /* failed sign-ins per name and per address (0: LIMITS_SIGNIN_FAIL_*) */
    long signin_fail_rate, signin_fail_burst;
    size_t max_keys; /* buckets kept per table (memory bound) */
    db_pool_t *db;   /* borrowed: the shared upload buckets; NULL: local buckets only */
} limits_config_t;

#define LIMITS_READ_RATE 1800
#define LIMITS_READ_BURST 120
#define LIMITS_UPLOAD_RATE 20
#define LIMITS_UPLOAD_BURST 10
#define LIMITS_AUTH_FAIL_RATE 30
#define LIMITS_AUTH_FAIL_BURST 20
#define LIMITS_SIGNIN_FAIL_RATE 10
#define LIMITS_SIGNIN_FAIL_BURST 10
#define LIMITS_MAX_KEYS 100000
/* Token lookups in the database for blocked addresses, all together: this many times the
 * failed-authentication rate and burst. */
#define LIMITS_BLOCKED_LOOKUP_FACTOR 10

typedef struct limits_t limits_t;

/* NULL when out of memory or a rate or burst is not positive. */
limits_t *limits_new(const limits_config_t *cfg);
void limits_destroy(limits_t **self_p);

/* Before authentication: false (429 answered) when req's address has spent its failed
 * authentications. */
bool limits_auth_allowed(limits_t *self, http_request_t *req) PROFAI_MUST_CHECK;

/* Whether req's address has spent its failed authentications (nothing answered). */
bool limits_address_blocked(limits_t *self, http_request_t *req) PROFAI_MUST_CHECK;

/* Whether a token of a request from a blocked address may be looked up in the database now
 * (takes one from the budget all blocked addresses share). */
bool limits_blocked_lookup(limits_t *self) PROFAI_MUST_CHECK;

/* After a failed authentication (the 401 is answered by the caller): spend one of the
 * address' tokens. */
void limits_auth_failed(limits_t *self, http_request_t *req);

/* Before a password is checked (sign-in, docs/api.md 2.1): false (429 answered) when failed
 * sign-ins for name, or from req's address, are spent. */
bool limits_signin_allowed(limits_t *self, http_request_t *req, const char *name) PROFAI_MUST_CHECK;

/* After a failed sign-in: spend one token of the name's and one of the address' bucket. */
void limits_signin_failed(limits_t *self, http_request_t *req, const char *name);

/* After authentication: false (429 answered) when user_id has spent its budget of uploads
 * (upload true) or reads. */
bool limits_request_allowed(limits_t *self, http_request_t *req, const char *user_id,
                            bool upload) PROFAI_MUST_CHECK;

#endif
