/*
 * api.h - the REST API (docs/api.md): the service object main.c creates, and the handler it
 * gives the HTTP server. api_handle finds the request's row in the route table (routes.h),
 * authenticates the caller, lets the table check the role and parameters, then calls the
 * row's handler: jobs.c (upload, job reads, cancellation), courses.c (course list and search,
 * course reads with ETags from an in-process cache (cache.h), deletion), quiz.c (the quiz and
 * its attempts), or api.c itself (/healthz, the API index, the web page: static.h).
 *
 * api_handle is the http_handler_fn given to http_server_new; api_thread_new/destroy are its
 * thread_init/thread_exit hooks and give each HTTP worker thread its own broker client.
 */
#ifndef PROFAI_FRONTEND_API_H
#define PROFAI_FRONTEND_API_H

#include "accounts.h"
#include "auth.h"
#include "curve.h"
#include "db.h"
#include "http.h"
#include "limits.h"

#include <stddef.h>

typedef struct {
    const char *broker_endpoint; /* copied */
    int broker_timeout_ms;
    curve_keys_t broker_keys; /* curve/certificate, curve/broker_key; copied */
    size_t max_upload;        /* largest PDF accepted, bytes */
    int body_timeout_ms;      /* the whole upload body must arrive within this */
    db_pool_t *db;            /* borrowed: must outlive the api_t */
    auth_t *auth;             /* borrowed: must outlive the api_t */
    /* Course and quiz cache (docs/api.md 1.1): bytes it may hold (0: API_CACHE_BYTES_DEFAULT)
     * and milliseconds an entry is served without asking PostgreSQL (0:
     * API_CACHE_TTL_DEFAULT; negative: no cache at all). */
    size_t cache_bytes;
    int cache_ttl_ms;
    int quiz_max_attempts; /* a student's attempts per course (0: unlimited), docs/api.md 4.10 */
    /* Milliseconds a search answer is served from that cache (0: none): docs/api.md 4.8. */
    int search_ttl_ms;
    limits_t *limits;          /* borrowed, must outlive the api_t; NULL: no rate limits */
    const char *metrics_token; /* metrics/token: borrowed; NULL or "": loopback only */
    int event_streams;         /* job event streams at once (0: JOB_STREAM_MAX_DEFAULT) */
    accounts_t *accounts;      /* borrowed, must outlive the api_t; NULL: no sign-in */
} api_config_t;

#define API_CACHE_BYTES_DEFAULT ((size_t)64 << 20)
#define API_CACHE_TTL_DEFAULT 60000

typedef struct api_t api_t;

api_t *api_new(const api_config_t *cfg);
void api_destroy(api_t **self_p);

/* End the job event streams being served and refuse new ones: call before
 * http_server_destroy, which waits for every handler. */
void api_stop(api_t *self);

/* Serve one request (an http_handler_fn; arg is the api_t). */
void api_handle(http_request_t *req, void *arg);

/* Per-HTTP-thread state (http_config_t thread_init / thread_exit; arg is the api_t). */
void *api_thread_new(void *arg);
void api_thread_destroy(void *arg, void *state);

#endif
