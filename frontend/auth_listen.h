/*
 * auth_listen.h - hears token revocations: a thread holding one PostgreSQL connection that
 * LISTENs on channel profai_token_revoked (migration 004: a trigger on the tokens and users
 * tables NOTIFYs the hex SHA-256 of every token revoked, expired early or deleted, whatever
 * statement did it) and evicts each announced token from the auth cache (auth.h).
 *
 * Every AUTH_LISTEN_PING_MS it sends "SELECT 1" on that connection; its answer tells that every
 * notification committed before it was sent has arrived, and auth_heard is told so. While the
 * connection is down, or a ping goes unanswered for max_stale_ms, auth_heard is not called (so
 * the cache stops being trusted after max_stale_ms); on every (re)connection the whole cache
 * is flushed, since revocations may have been missed meanwhile.
 */
#ifndef PROFAI_FRONTEND_AUTH_LISTEN_H
#define PROFAI_FRONTEND_AUTH_LISTEN_H

#include "auth.h"
#include "db.h"

#define AUTH_LISTEN_CHANNEL "profai_token_revoked"
#define AUTH_LISTEN_PING_MS 500

typedef struct auth_listen_t auth_listen_t;

/* Start the thread. auth and db are borrowed and must outlive the listener. NULL when the
 * thread cannot be started. */
auth_listen_t *auth_listen_new(auth_t *auth, db_pool_t *db, int max_stale_ms);

/* Stop the thread (within a tenth of a second, or a connection attempt's timeout), close
 * its connection, free. Accepts NULL; sets *self_p to NULL. */
void auth_listen_destroy(auth_listen_t **self_p);

#endif
