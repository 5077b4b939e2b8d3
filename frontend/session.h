/*
 * session.h - the pure rules of browser sessions (docs/api.md 2.1): the cookie's name and
 * attributes, reading the session id from a Cookie header, the CSRF token derived from the
 * session id, and whether a state-changing request's Origin and Sec-Fetch-Site may use the
 * cookie. No I/O and no logging: tests/unit/test_session.c drives it directly; accounts.c
 * applies it to requests.
 */
#ifndef PROFAI_FRONTEND_SESSION_H
#define PROFAI_FRONTEND_SESSION_H

#include "secret.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SESSION_COOKIE "profai_session"
#define SESSION_PREFIX "pas_"
#define SESSION_CSRF_SIZE 44 /* 43 base64url characters and a NUL */

/* The session id of a Cookie header value (may be NULL) into id: true when the cookie
 * SESSION_COOKIE is present exactly once with a well-formed id. *present tells whether the
 * cookie was there at all (well-formed or not). */
bool session_cookie_id(const char *cookie_header, char id[SECRET_SIZE], bool *present);

/* The CSRF token of a session: base64url of SHA-256("profai-csrf:" + id). Only a page that
 * signed in, or may read GET /api/v1/me with the cookie, learns it; it differs from the stored
 * hash of the id. */
void session_csrf(const char *id, char out[SESSION_CSRF_SIZE]);

/* Whether header (may be NULL) equals the expected CSRF token, in constant time. */
bool session_csrf_matches(const char *header, const char *expected);

/* Why a cross-site check failed, or NULL when it passed: Origin, when present, must be
 * "http://" or "https://" followed by host (the request's Host header), or one of allowed
 * (comma-separated origins; may be NULL); Sec-Fetch-Site, when present, must be same-origin or
 * none. */
const char *session_origin_problem(const char *origin, const char *sec_fetch_site, const char *host,
                                   const char *allowed);

/* The Set-Cookie header line (with its CRLF) that sets id for max_age_s seconds, or, with id
 * NULL, clears the cookie. */
void session_set_cookie(char *out, size_t size, const char *id, long long max_age_s, bool secure);

#endif
