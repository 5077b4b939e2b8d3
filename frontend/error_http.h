/*
 * error_http.h - the one table from protocol error codes (include/profai/errors.h) to the HTTP
 * answer the REST API gives when the broker refuses a request with that code (docs/api.md
 * section 3): unknown_job is 404, already_final 409, queue_quota_exceeded 429 and
 * storage_quota_exceeded 403 (a teacher's quotas), db_unavailable and overloaded 503 (with
 * Retry-After: a retry may succeed), every other code 500 (the client cannot fix it).
 */
#ifndef PROFAI_FRONTEND_ERROR_HTTP_H
#define PROFAI_FRONTEND_ERROR_HTTP_H

#include <profai/errors.h>

/* An HTTP answer (plain data, static storage). */
typedef struct {
    int status;        /* HTTP status code */
    const char *title; /* its reason phrase, the problem document's "title" */
} error_http_t;

/* The answer to a refusal with code (a value out of range is treated as internal). */
const error_http_t *error_http_of(profai_error_t code);

/* The answer to a refusal named by its wire name (profai_error_from_name). */
const error_http_t *error_http_of_name(const char *name);

#endif
