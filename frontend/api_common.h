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
#include "page.h"
#include "routes.h"

#define API_RETRY_AFTER "Retry-After: 5\r\n"
#define API_JSON_TYPE "application/json; charset=utf-8"
/* Course and quiz answers may be stored by browsers, which must revalidate them (ETag); what
 * they hold depends on the caller (a student's course has no quiz). */
#define API_REVALIDATE "Cache-Control: private, no-cache\r\nVary: Authorization\r\n"
/* The mark of an answer read from a hot standby (docs/api.md 1.3). */
#define API_STALE_HEADER "ProfAI-Stale: replica\r\n"
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
    int streams_max;            /* http/event_streams (job_stream.h) */
    int streams_active;         /* atomic: event streams being served */
    bool streams_stopping;      /* atomic: job_stream_stop was called */
    accounts_t *accounts;       /* sign-in and sessions (accounts.h), or NULL: tokens only */
    /* Change notifications (course_listen.h): when they were last known heard (zclock_mono,
     * 0: not heard), for how long that is trusted, and a counter bumped before every
     * forgetting they cause (a read that began before must not store what it read). */
    int64_t changes_heard_ms; /* atomic */
    int changes_max_stale_ms;
    unsigned changes_generation; /* atomic */
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
 * has it (If-None-Match), else 200; stale: the body was read from the replica, which the
 * answer says (API_STALE_HEADER). */
void api_reply_tagged(http_request_t *req, const char *body, size_t len, const char *etag,
                      bool stale);

/* Answer a GET with a body and its validator as api_reply_tagged, with extra header lines
 * (NULL for none). */
void api_reply_tagged_with(http_request_t *req, const char *body, size_t len, const char *etag,
                           const char *extra, bool stale);

/* The Link header line of a list's next page ("" on the last page: next_cursor NULL or "")
 * into headers (page.h). */
void api_page_link(api_call_t *call, const char *next_cursor, char *headers, size_t size);

/* Finish and send a list (page.h): j is an open object holding the list's member; this adds
 * "next_cursor" and "next" (the link to the next page; both null on the last), closes it and
 * answers 200 with a Link header to the next page. Frees j. */
void api_reply_page(api_call_t *call, json_t *j, const char *next_cursor);

/* The page a list's route asks for (page.h): its "limit", and its "cursor" of kind decoded
 * into *cursor (with a uuid id when with_id, else with none: after_number is then the
 * cursor's number, -1 without a cursor). false with the 400 sent when the cursor is not one. */
bool api_page_take(api_call_t *call, char kind, bool with_id, db_page_t *page,
                   page_cursor_t *cursor) PROFAI_MUST_CHECK;

/* Send a page of a list read by db (frees array, a JSON array of len bytes):
 * {[id_key: id,] member: array, "next_cursor", "next"} with the Link header (api_reply_page);
 * the next cursor is of kind, from end. id_key NULL: no id member. */
void api_reply_list(api_call_t *call, const char *id_key, const char *id, const char *member,
                    char *array, size_t len, char kind, const db_page_end_t *end);

/* Handlers of api.c (routes.h): the API index, /healthz and the web page. */
void api_index(api_call_t *call);
void api_openapi(api_call_t *call); /* GET /api/v1/openapi.json */
void api_health(api_call_t *call);  /* GET /healthz */
void api_ready(api_call_t *call);   /* GET /readyz */
void api_live(api_call_t *call);    /* GET /livez */
void api_static(api_call_t *call);

#endif
