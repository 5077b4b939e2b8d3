/*
 * auth_listen.h - the auth cache as an owner of change notifications (change_listen.h):
 * channel profai_token_revoked (migration 004: a trigger on the tokens and users tables
 * NOTIFYs the hex SHA-256 of every token revoked, expired early or deleted, whatever statement
 * did it). Each announced token is evicted from the auth cache (auth.h); a (re)connection
 * flushes it; heard feeds auth_heard, so cached tokens stop being trusted max_stale_ms after
 * revocations were last known to be heard.
 */
#ifndef PROFAI_FRONTEND_AUTH_LISTEN_H
#define PROFAI_FRONTEND_AUTH_LISTEN_H

#include "auth.h"
#include "change_listen.h"

#define AUTH_LISTEN_CHANNEL "profai_token_revoked"

/* The owner record for auth (borrowed: must outlive the listener). */
change_listen_owner_t auth_listen_owner(auth_t *auth);

#endif
