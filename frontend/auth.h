/*
 * auth.h - bearer-token authentication for the REST API (docs/api.md section 2).
 *
 * A token is "pai_" + 43 base64url characters (32 random bytes, made by profaictl). Only its
 * SHA-256 is stored (table tokens). A malformed token is refused without a database query;
 * a well-formed one is looked up by hash, joined with its user, unless revoked; one past its
 * expires_at is AUTH_EXPIRED.
 *
 * Successful lookups are cached for cache_ttl_ms in a small fixed-size table (failures never
 * are). A cached token is trusted only while revocations can be heard: the listener
 * (auth_listen.h) evicts a token as soon as PostgreSQL announces its revocation and calls
 * auth_heard whenever it has confirmed that its connection is alive. When it has not
 * confirmed so for max_stale_ms (the database or the listening connection is down), nothing
 * cached is trusted: every token goes to the database (503 while it cannot answer). So a
 * revoked token is refused on every frontend within milliseconds, and at worst max_stale_ms
 * after its revocation (docs/api.md 2, docs/security.md).
 */
#ifndef PROFAI_FRONTEND_AUTH_H
#define PROFAI_FRONTEND_AUTH_H

#include "db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_TOKEN_PREFIX "pai_"
#define AUTH_TOKEN_LEN 47 /* "pai_" + 43 */

typedef enum { AUTH_ROLE_TEACHER, AUTH_ROLE_STUDENT, AUTH_ROLE_ADMIN } auth_role_t;

/* The authenticated caller (plain data). */
typedef struct {
    char id[37];    /* users.id, canonical uuid */
    char name[257]; /* users.name */
    auth_role_t role;
    /* Set when the caller was authenticated by a session cookie (accounts.h), not a token. */
    bool session;
    uint8_t session_hash[32]; /* the session id's SHA-256 */
    char csrf[44];            /* the session's CSRF token (session.h) */
} auth_user_t;

typedef enum {
    AUTH_OK = 0,
    AUTH_MISSING,    /* no Authorization header, or not a Bearer one */
    AUTH_MALFORMED,  /* a string that cannot be a token */
    AUTH_INVALID,    /* unknown or revoked token */
    AUTH_EXPIRED,    /* a token past its expires_at */
    AUTH_UNAVAILABLE /* the database could not answer */
} auth_result_t;

typedef struct auth_t auth_t;

/* db is borrowed and must outlive the auth_t. cache_ttl_ms 0 disables the cache; max_stale_ms
 * is how long after the listener's last confirmation cached tokens are still trusted. */
auth_t *auth_new(db_pool_t *db, int cache_ttl_ms, int max_stale_ms);
void auth_destroy(auth_t **self_p);

/* Authenticate an Authorization header value (may be NULL). Thread-safe. */
auth_result_t auth_check(auth_t *self, const char *authorization, auth_user_t *user);

/* auth_check without the database: AUTH_OK only when the token is cached as valid now (as
 * auth_check would trust it), AUTH_EXPIRED when cached but expired, AUTH_INVALID when it is
 * not cached (it may still be valid), AUTH_MISSING or AUTH_MALFORMED. Thread-safe. */
auth_result_t auth_check_cached(auth_t *self, const char *authorization, auth_user_t *user);

/* Forget a cached token by its SHA-256 (a revocation was announced). Thread-safe. */
void auth_evict(auth_t *self, const uint8_t hash[32]);

/* Forget every cached token (revocations may have been missed). Thread-safe. */
void auth_flush(auth_t *self);

/* The listener confirmed at mono_ms (zclock_mono) that every revocation committed before then
 * has been heard. Thread-safe. */
void auth_heard(auth_t *self, int64_t mono_ms);

/* Whether s has the token format (length, prefix, alphabet). */
bool auth_token_wellformed(const char *s, size_t len);

const char *auth_role_name(auth_role_t role);
int auth_role_parse(const char *name, auth_role_t *role) __attribute__((warn_unused_result));

#endif
