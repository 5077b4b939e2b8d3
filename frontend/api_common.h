/*
 * api_common.h - what the REST API's handler files (api.c, jobs.c, courses.c, quiz.c) share:
 * the service object, the call a handler receives, and the answers every resource gives the
 * same way (503 with Retry-After, 409 with a state, 404 or 503 after a lookup, JSON with an
 * ETag). Private to the API: main.c sees only api.h.
 */
#ifndef PROFAI_FRONTEND_API_COMMON_H
#define PROFAI_FRONTEND_API_COMMON_H

#include "api.h"
#include "broker_client.h"
#include "cache.h"
#include "json.h"
#include "json_in.h"
#include "routes.h"

#define API_RETRY_AFTER "Retry-After: 5\r\n"
#define API_JSON_TYPE "application/json; charset=utf-8"
/* Course and quiz answers may be stored by browsers, which must revalidate them (ETag); what
 * they hold depends on the caller (a student's course has no quiz). */
#define API_REVALIDATE "Cache-Control: private, no-cache\r\nVary: Authorization\r\n"
/* Length of a validator (api_etag), with its NUL. */
#define API_ETAG_SIZE 35

struct api_t {
    char *broker_endpoint;
    int broker_timeout_ms;
    curve_keys_t broker_keys;
    size_t max_upload;
    int body_timeout_ms;
    db_pool_t *db;
    auth_t *auth;
    cache_t *cache; /* course documents, quizzes and answer keys by course id (courses.h),
                     * and search answers (for search_ttl_ms) */
    int quiz_max_attempts;
    int search_ttl_ms;
    unsigned search_generation; /* atomic: bumped when a course is forgotten (courses.c) */
    limits_t *limits;           /* request rates (limits.h), or NULL */
    const char *metrics_token;  /* metrics/token (api_metrics.h), or NULL */
    accounts_t *accounts;       /* sign-in and sessions (accounts.h), or NULL: tokens only */
};

/* One request being handled (all borrowed for the handler call). */
struct api_call {
    api_t *api;
    http_request_t *req;
    const auth_user_t *user;     /* the caller; NULL on a public route */
    const route_result_t *route; /* the route and its checked parameters (route_text, ...) */
};

/* The broker client of the calling HTTP thread, or NULL when it has none. */
broker_client_t *api_broker(api_call_t *call);

/* The owner a teacher's reads and writes are limited to: NULL for an admin (every owner). */
const char *api_owner_filter(const auth_user_t *user);

/* Answer with j's JSON (500 when it failed); frees j. */
void api_reply_json(http_request_t *req, int status, const char *headers, json_t *j);

/* 503 with Retry-After: "<what> is not available; retry later". */
void api_reply_unavailable(http_request_t *req, const char *what);

/* A 409 problem document; state (may be NULL) is added as a member "state". */
void api_reply_conflict(http_request_t *req, const char *state, const char *detail);

/* The answer to a lookup of a `what` ("job", "course") that did not succeed: 404, or 503 when
 * the database could not answer. */
void api_reply_not_ok(http_request_t *req, db_status_t status, const char *what);

/* Answer a database read of a `what` that produced JSON (freed here): `code` on DB_OK, else as
 * api_reply_not_ok. */
void api_reply_db_json(http_request_t *req, db_status_t status, int code, char *json, size_t len,
                       const char *what);

/* A strong validator for a body: the first 128 bits of its SHA-256, quoted. Every frontend
 * computes the same one for the same stored document. */
void api_etag(const char *body, size_t len, char out[API_ETAG_SIZE]);

/* Answer a GET with a body and its validator: 304 without the body when the client already
 * has it (If-None-Match), else 200. */
void api_reply_tagged(http_request_t *req, const char *body, size_t len, const char *etag);

/* Read a JSON request body (its media type was checked by the route table) of at most
 * max_bytes, parsed strictly (json_in.h) within max_depth and max_values. The document (the
 * caller's: json_in_free), or NULL with the answer sent (400, 408, 413, 503). */
json_in_doc_t *api_read_json(api_t *self, http_request_t *req, long long max_bytes, int max_depth,
                             size_t max_values);

/* Handlers of api.c (routes.h): the API index, /healthz and the web page. */
void api_index(api_call_t *call);
void api_health(api_call_t *call); /* GET /healthz */
void api_ready(api_call_t *call);  /* GET /readyz */
void api_live(api_call_t *call);   /* GET /livez */
void api_static(api_call_t *call);

#endif
