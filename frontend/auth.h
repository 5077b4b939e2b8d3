/*
 * auth.h - bearer-token authentication for the REST API (docs/api.md section 2).
 *
 * A token is "pai_" + 43 base64url characters (32 random bytes, made by profaictl). Only its
 * SHA-256 is stored (table tokens). A malformed token is refused without a database query;
 * a well-formed one is looked up by hash, joined with its user, unless revoked. Successful
 * lookups are cached for cache_ttl_ms in a small fixed-size table (failures never are), so a
 * revocation takes effect within that time. While the database cannot answer (an outage), a
 * cached token whose TTL ended less than AUTH_STALE_GRACE_MS ago is still accepted, so that
 * what the frontend can serve from its caches stays readable (docs/api.md 2).
 */
#ifndef PROFAI_FRONTEND_AUTH_H
#define PROFAI_FRONTEND_AUTH_H

#include "db.h"

#include <stdbool.h>
#include <stddef.h>

#define AUTH_TOKEN_PREFIX "pai_"
#define AUTH_TOKEN_LEN 47 /* "pai_" + 43 */
/* How long past its TTL a cached token stays good while the database is unavailable (ms). */
#define AUTH_STALE_GRACE_MS (10 * 60 * 1000)

typedef enum { AUTH_ROLE_TEACHER, AUTH_ROLE_STUDENT, AUTH_ROLE_ADMIN } auth_role_t;

/* The authenticated caller (plain data). */
typedef struct {
    char id[37];    /* users.id, canonical uuid */
    char name[257]; /* users.name */
    auth_role_t role;
} auth_user_t;

typedef enum {
    AUTH_OK = 0,
    AUTH_MISSING,    /* no Authorization header, or not a Bearer one */
    AUTH_MALFORMED,  /* a string that cannot be a token */
    AUTH_INVALID,    /* unknown or revoked token */
    AUTH_UNAVAILABLE /* the database could not answer */
} auth_result_t;

typedef struct auth_t auth_t;

/* db is borrowed and must outlive the auth_t. cache_ttl_ms 0 disables the cache. */
auth_t *auth_new(db_pool_t *db, int cache_ttl_ms);
void auth_destroy(auth_t **self_p);

/* Authenticate an Authorization header value (may be NULL). Thread-safe. */
auth_result_t auth_check(auth_t *self, const char *authorization, auth_user_t *user);

/* Whether s has the token format (length, prefix, alphabet). */
bool auth_token_wellformed(const char *s, size_t len);

const char *auth_role_name(auth_role_t role);
int auth_role_parse(const char *name, auth_role_t *role) __attribute__((warn_unused_result));

#endif
