/*
 * accounts.h - people's accounts on the REST API (docs/api.md 2.1, 4.19-4.23): sign-in with a
 * name and password (Argon2id, common/password.h) that opens a server-side session held in a
 * cookie (session.h), authentication of a request by that cookie, the CSRF and Origin checks
 * of cookie-authenticated state-changing requests, sign-out (one session or every one), who am
 * I, a user's own API tokens, and invitations.
 *
 * Password checks are costly on purpose (memory-hard): at most max_concurrent run at once, and
 * a sign-in that cannot start one within ACCOUNTS_PASSWORD_WAIT_MS gets 503, so sign-ins can
 * never hold more than that many HTTP threads and max_concurrent * memlimit bytes.
 * A stored hash whose cost exceeds the configured one is refused, not checked.
 *
 * An accounts_t is made once by main.c, borrowed by the API (api_config_t) and used from every
 * HTTP thread: thread-safe.
 */
#ifndef PROFAI_FRONTEND_ACCOUNTS_H
#define PROFAI_FRONTEND_ACCOUNTS_H

#include "auth.h"
#include "db.h"
#include "http.h"
#include "limits.h"
#include "routes.h"

#include <profai/compiler.h>
#include <stdbool.h>
#include <stddef.h>

#define ACCOUNTS_PASSWORD_WAIT_MS 5000

typedef struct {
    long long idle_ms;           /* session/idle */
    long long absolute_ms;       /* session/absolute */
    bool secure_always;          /* session/secure_cookie = always */
    const char *origins;         /* session/origins (copied); NULL or "": none */
    unsigned long long opslimit; /* password/opslimit */
    size_t memlimit;             /* password/memlimit */
    int max_concurrent;          /* password/max_concurrent */
} accounts_config_t;

typedef struct accounts_t accounts_t;

/* NULL when out of memory or the configuration is impossible (it makes one hash, at the
 * configured cost, to check unknown names against: startup takes that long). */
accounts_t *accounts_new(const accounts_config_t *cfg);
void accounts_destroy(accounts_t **self_p);

/* Whether the request carries the session cookie at all (and no Authorization header: a
 * bearer token always wins). */
bool accounts_has_session_cookie(http_request_t *req);

/* Authenticate req by its session cookie into user (user->session set): AUTH_OK, or false
 * with the answer sent (401 that clears the cookie, 503). */
bool accounts_authenticate(accounts_t *self, db_pool_t *db, http_request_t *req,
                           auth_user_t *user) PROFAI_MUST_CHECK;

/* For a session-authenticated request: true when it may go on (a GET or HEAD, or a request
 * with the session's X-CSRF-Token, and an Origin and Sec-Fetch-Site of this site); false with
 * the 403 sent. */
bool accounts_csrf_allowed(accounts_t *self, http_request_t *req,
                           const auth_user_t *user) PROFAI_MUST_CHECK;

/* Handlers (routes.h). */
void accounts_sign_in(api_call_t *call);             /* POST /api/v1/session */
void accounts_sign_out(api_call_t *call);            /* DELETE /api/v1/session */
void accounts_sign_out_everywhere(api_call_t *call); /* DELETE /api/v1/sessions */
void accounts_me(api_call_t *call);                  /* GET /api/v1/me */
void accounts_tokens_list(api_call_t *call);         /* GET /api/v1/me/tokens */
void accounts_token_create(api_call_t *call);        /* POST /api/v1/me/tokens */
void accounts_token_revoke(api_call_t *call);        /* DELETE /api/v1/me/tokens/{id} */
void accounts_invitation_create(api_call_t *call);   /* POST /api/v1/invitations */
void accounts_invitation_accept(api_call_t *call);   /* POST .../invitations/{token}/accept */

#endif
