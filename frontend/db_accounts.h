/*
 * db_accounts.h - the frontend's statements of accounts (docs/database.md migration 009,
 * docs/api.md 2.1 and 4.19-4.23): passwords, sessions, a user's own tokens, invitations.
 * Secrets are passed as their SHA-256 (32 bytes); none is ever stored or logged. Same
 * conventions as db.h (DB_UNAVAILABLE logged there; strings copied into the caller's
 * buffers; *json the caller's).
 */
#ifndef PROFAI_FRONTEND_DB_ACCOUNTS_H
#define PROFAI_FRONTEND_DB_ACCOUNTS_H

#include "db.h"
#include "password.h"

#define DB_TIME_SIZE 32  /* an ISO 8601 timestamp as the API writes it, with its NUL */
#define DB_TOKENS_MAX 50 /* unrevoked tokens a user may hold (docs/api.md 4.22) */

/* A user found by name for a sign-in (plain data). */
typedef struct {
    char id[37];
    char name[257];
    char role[16];
    char password_hash[PASSWORD_HASH_SIZE]; /* "" when the user has no password */
} db_account_t;

/* The user named name. DB_NOT_FOUND when there is none. */
db_status_t db_account_by_name(db_pool_t *self, const char *name,
                               db_account_t *account) PROFAI_MUST_CHECK;

/* A new session of user_id ending absolute_ms from now; its end into expires_at. The user's
 * sessions that ended more than a day ago are deleted on the way. */
db_status_t db_session_create(db_pool_t *self, const uint8_t hash[32], const char *user_id,
                              long long absolute_ms,
                              char expires_at[DB_TIME_SIZE]) PROFAI_MUST_CHECK;

/* The user of a live session (not revoked, not past its end, used within idle_ms), whose idle
 * clock restarts now. DB_NOT_FOUND when there is no such live session. */
db_status_t db_session_user(db_pool_t *self, const uint8_t hash[32], long long idle_ms,
                            db_user_t *user) PROFAI_MUST_CHECK;

/* End one session (by hash), or every session of user_id (hash NULL). */
db_status_t db_session_revoke(db_pool_t *self, const uint8_t *hash,
                              const char *user_id) PROFAI_MUST_CHECK;

/* The JSON array of a page of user_id's unrevoked tokens, newest first (created_at, then id),
 * keyset as page.h (docs/api.md 4.22). */
db_status_t db_own_tokens_json(db_pool_t *self, const char *user_id, const db_page_t *page,
                               char **json, size_t *len, db_page_end_t *end) PROFAI_MUST_CHECK;

/* A new token of user_id, valid for days. DB_LIMIT when the user holds DB_TOKENS_MAX. */
db_status_t db_own_token_create(db_pool_t *self, const char *user_id, const uint8_t hash[32],
                                const char *label, long long days, char id[37],
                                char expires_at[DB_TIME_SIZE]) PROFAI_MUST_CHECK;

/* Revoke token_id if it is user_id's. DB_NOT_FOUND otherwise (or already revoked). */
db_status_t db_own_token_revoke(db_pool_t *self, const char *user_id,
                                const char *token_id) PROFAI_MUST_CHECK;

/* A new invitation to role, made by created_by, valid for hours. */
db_status_t db_invitation_create(db_pool_t *self, const uint8_t hash[32], const char *role,
                                 const char *created_by, long long hours, char id[37],
                                 char expires_at[DB_TIME_SIZE]) PROFAI_MUST_CHECK;

/* Use up an invitation: create user name with its role and password_hash, in one statement.
 * DB_NOT_FOUND for an unknown, used or expired invitation; DB_CONFLICT when the name is taken
 * (the invitation stays usable). */
db_status_t db_invitation_accept(db_pool_t *self, const uint8_t hash[32], const char *name,
                                 const char *password_hash, db_user_t *user) PROFAI_MUST_CHECK;

#endif
