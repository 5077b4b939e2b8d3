/* api.c - see api.h. Dispatch through the route table (routes.h), authentication, the answers
 * every resource shares (api_common.h), and the small public endpoints: the API index,
 * /healthz and the web page. The resources are in jobs.c, courses.c and quiz.c. */
#define _GNU_SOURCE
#include "api.h"

#include "api_common.h"
#include "api_metrics.h"
#include "error_http.h"
#include "job_stream.h"
#include "json_in.h"
#include "log.h"
#include "page.h"
#include "static.h"

#include <czmq.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What each HTTP worker thread owns. */
typedef struct {
    broker_client_t *broker;
} api_thread_t;

api_t *
api_new(const api_config_t *cfg)
{
    api_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->broker_endpoint = strdup(cfg->broker_endpoint);
    size_t cache_bytes = cfg->cache_bytes ? cfg->cache_bytes : API_CACHE_BYTES_DEFAULT;
    int ttl = cfg->cache_ttl_ms ? cfg->cache_ttl_ms : API_CACHE_TTL_DEFAULT;
    self->cache = cache_new(ttl < 0 ? 0 : cache_bytes, ttl < 0 ? 0 : ttl);
    if (self->broker_endpoint == NULL || self->cache == NULL) {
        api_destroy(&self);
        return NULL;
    }
    self->broker_timeout_ms = cfg->broker_timeout_ms;
    self->broker_keys = cfg->broker_keys;
    self->max_upload = cfg->max_upload;
    self->body_timeout_ms = cfg->body_timeout_ms;
    self->search_ttl_ms = ttl < 0 ? 0 : cfg->search_ttl_ms;
    self->db = cfg->db;
    self->auth = cfg->auth;
    self->quiz_max_attempts = cfg->quiz_max_attempts;
    self->limits = cfg->limits;
    self->metrics_token = cfg->metrics_token;
    self->streams_max = cfg->event_streams > 0 ? cfg->event_streams : JOB_STREAM_MAX_DEFAULT;
    self->accounts = cfg->accounts;
    api_metrics_init();
    return self;
}

void
api_stop(api_t *self)
{
    if (self != NULL)
        job_stream_stop(self);
}

void
api_destroy(api_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    api_t *self = *self_p;
    if (self->cache != NULL) {
        cache_stats_t stats;
        cache_stats(self->cache, &stats);
        log_info("course cache: %llu hits, %llu stale, %llu misses, %llu evictions",
                 (unsigned long long)stats.hits, (unsigned long long)stats.stale,
                 (unsigned long long)stats.misses, (unsigned long long)stats.evictions);
    }
    cache_destroy(&self->cache);
    free(self->broker_endpoint);
    free(self);
    *self_p = NULL;
}

void *
api_thread_new(void *arg)
{
    api_t *self = arg;
    api_thread_t *thread = calloc(1, sizeof *thread);
    if (thread == NULL)
        return NULL;
    thread->broker =
        broker_client_new(self->broker_endpoint, self->broker_timeout_ms, &self->broker_keys);
    if (thread->broker == NULL) {
        free(thread);
        return NULL;
    }
    return thread;
}

void
api_thread_destroy(void *arg, void *state)
{
    api_thread_t *thread = state;
    if (thread == NULL)
        return;
    broker_client_destroy(&thread->broker);
    free(thread);
}

broker_client_t *
api_broker(api_call_t *call)
{
    api_thread_t *thread = http_thread_state(call->req);
    return thread ? thread->broker : NULL;
}

const char *
api_owner_filter(const auth_user_t *user)
{
    return user->role == AUTH_ROLE_ADMIN ? NULL : user->id;
}

/* ---------------------------------------------------------------- shared answers */

void
api_reply_json(http_request_t *req, int status, const char *headers, json_t *j)
{
    if (json_failed(j))
        http_reply_problem(req, 500, NULL, "out of memory");
    else
        http_reply_json(req, status, headers, j->data, j->len);
    json_free(j);
}

void
api_reply_unavailable(http_request_t *req, const char *what)
{
    http_reply_problem(req, 503, API_RETRY_AFTER, "%s is not available; retry later", what);
}

void
api_reply_conflict(http_request_t *req, const char *state, const char *detail)
{
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "type");
    json_cstring(&j, "urn:profai:problem:conflict");
    json_key(&j, "title");
    json_cstring(&j, error_http_of(PROFAI_ERR_ALREADY_FINAL)->title);
    json_key(&j, "status");
    json_int(&j, 409);
    json_key(&j, "detail");
    json_cstring(&j, detail);
    if (state != NULL) {
        json_key(&j, "state");
        json_cstring(&j, state);
    }
    json_object_end(&j);
    if (json_failed(&j))
        http_reply_problem(req, 500, NULL, "out of memory");
    else
        http_reply(req, 409, "application/problem+json", NULL, j.data, j.len);
    json_free(&j);
}

void
api_reply_not_ok(http_request_t *req, db_status_t status, const char *what)
{
    if (status == DB_NOT_FOUND)
        http_reply_problem(req, 404, NULL, "no %s with this id", what);
    else
        api_reply_unavailable(req, "the database");
}

void
api_reply_db_json(http_request_t *req, db_status_t status, int code, char *json, size_t len,
                  const char *what)
{
    if (status == DB_OK)
        http_reply_json(req, code, NULL, json, len);
    else
        api_reply_not_ok(req, status, what);
    free(json);
}

void
api_etag(const char *body, size_t len, char out[API_ETAG_SIZE])
{
    char *sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)body, len);
    snprintf(out, API_ETAG_SIZE, "\"%.32s\"", sum ? sum : "0");
    g_free(sum);
}

/* Whether an If-None-Match value (RFC 9110 13.1.2: "*" or a list of entity tags, weak or
 * strong) matches etag, by the weak comparison that header uses. A malformed list matches
 * nothing from the first error on. */
static bool
s_etag_matches(const char *header, const char *etag)
{
    size_t etag_len = strlen(etag);
    const char *p = header;
    for (;;) {
        p += strspn(p, " \t,");
        if (*p == '\0')
            return false;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (*p != '"')
            return false;
        const char *end = strchr(p + 1, '"');
        if (end == NULL)
            return false;
        size_t len = (size_t)(end - p) + 1;
        if (len == etag_len && memcmp(p, etag, len) == 0)
            return true;
        p = end + 1;
    }
}

void
api_reply_tagged(http_request_t *req, const char *body, size_t len, const char *etag, bool stale)
{
    api_reply_tagged_with(req, body, len, etag, NULL, stale);
}

void
api_reply_tagged_with(http_request_t *req, const char *body, size_t len, const char *etag,
                      const char *extra, bool stale)
{
    char headers[192 + PAGE_LINK_MAX];
    snprintf(headers, sizeof headers, "ETag: %s\r\n" API_REVALIDATE "%s%s", etag,
             extra ? extra : "", stale ? API_STALE_HEADER : "");
    const char *inm = http_header(req, "If-None-Match");
    if (inm != NULL && s_etag_matches(inm, etag))
        http_reply(req, 304, API_JSON_TYPE, headers, NULL, 0);
    else
        http_reply_json(req, 200, headers, body, len);
}

void
api_page_link(api_call_t *call, const char *next_cursor, char *headers, size_t size)
{
    char link[PAGE_LINK_MAX];
    headers[0] = '\0';
    if (next_cursor != NULL && next_cursor[0] != '\0' &&
        page_next_link(call->req->path, call->route, next_cursor, link, sizeof link))
        snprintf(headers, size, "Link: <%s>; rel=\"next\"\r\n", link);
}

void
api_reply_page(api_call_t *call, json_t *j, const char *next_cursor)
{
    char link[PAGE_LINK_MAX];
    bool more = next_cursor != NULL && next_cursor[0] != '\0' &&
                page_next_link(call->req->path, call->route, next_cursor, link, sizeof link);
    json_key(j, "next_cursor");
    json_cstring(j, more ? next_cursor : NULL);
    json_key(j, "next");
    json_cstring(j, more ? link : NULL);
    json_object_end(j);
    char headers[PAGE_LINK_MAX + 32] = "";
    if (more)
        snprintf(headers, sizeof headers, "Link: <%s>; rel=\"next\"\r\n", link);
    api_reply_json(call->req, 200, headers[0] ? headers : NULL, j);
}

bool
api_page_take(api_call_t *call, char kind, bool with_id, db_page_t *page, page_cursor_t *cursor)
{
    const char *text = route_text(call->route, "cursor");
    page->limit = (int)route_int(call->route, "limit");
    page->after_id = NULL;
    page->after_number = with_id ? 0 : -1;
    if (text[0] == '\0')
        return true;
    bool ok = with_id ? page_cursor_decode_uuid(text, kind, cursor)
                      : page_cursor_decode(text, kind, cursor) && cursor->id[0] == '\0';
    if (!ok) {
        http_reply_problem(call->req, 400, NULL, "cursor is not a next_cursor of this list");
        return false;
    }
    page->after_id = with_id ? cursor->id : NULL;
    page->after_number = cursor->number;
    return true;
}

void
api_reply_list(api_call_t *call, const char *id_key, const char *id, const char *member,
               char *array, size_t len, char kind, const db_page_end_t *end)
{
    char next[PAGE_CURSOR_MAX + 1] = "";
    if (end->more)
        page_cursor_encode(kind, end->last_number, end->last_id, next, sizeof next);
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    if (id_key != NULL) {
        json_key(&j, id_key);
        json_cstring(&j, id);
    }
    json_key(&j, member);
    json_raw(&j, array, len);
    free(array);
    api_reply_page(call, &j, next);
}

/* ---------------------------------------------------------------- index, health, page */

/* /healthz, /readyz (docs/api.md 4.5): ready adds "at least one worker process". */
static void
s_health(api_call_t *call, bool readiness)
{
    broker_client_t *broker_client = api_broker(call);
    proto_pong_t pong;
    char err[256] = "no broker client";
    bool broker =
        broker_client != NULL && broker_client_ping(broker_client, &pong, err, sizeof err) == 0;
    if (!broker)
        log_debug("health: %s", err);
    bool database = db_ping(call->api->db) == DB_OK;
    bool details = broker && pong.ok;
    /* An older broker sends no process count: its connections stand in for processes. */
    uint64_t processes = details ? (pong.processes ? pong.processes : pong.workers) : 0;
    /* Healthy means "a submission would be accepted now": the broker must also have its own
     * database connection up, or it answers db_unavailable to every job. Ready means a job
     * would also run: some worker process is connected. */
    bool ok = details && pong.db && database;
    bool ready = ok && processes > 0;
    bool answer_ok = readiness ? ready : ok;

    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "status");
    json_cstring(&j, answer_ok ? "ok" : "unavailable");
    json_key(&j, "ready");
    json_bool(&j, ready);
    json_key(&j, "broker");
    json_bool(&j, broker);
    json_key(&j, "database");
    json_bool(&j, database);
    json_key(&j, "broker_database");
    details ? json_bool(&j, pong.db) : json_null(&j);
    json_key(&j, "workers");
    details ? json_int(&j, (long long)processes) : json_null(&j);
    json_key(&j, "slots");
    details ? json_int(&j, (long long)pong.workers) : json_null(&j);
    json_key(&j, "queued");
    details ? json_int(&j, (long long)pong.queued) : json_null(&j);
    json_key(&j, "running");
    details ? json_int(&j, (long long)pong.running) : json_null(&j);
    json_object_end(&j);
    api_reply_json(call->req, answer_ok ? 200 : 503, answer_ok ? NULL : API_RETRY_AFTER, &j);
}

void
api_health(api_call_t *call)
{
    s_health(call, false);
}

void
api_ready(api_call_t *call)
{
    s_health(call, true);
}

/* GET /livez: the process serves HTTP; nothing else is asked. */
void
api_live(api_call_t *call)
{
    static const char body[] = "{\"status\":\"live\"}";
    http_reply_json(call->req, 200, NULL, body, sizeof body - 1);
}

static void
s_index_endpoint(void *arg, const char *method, const char *pattern)
{
    json_t *j = arg;
    char line[128];
    snprintf(line, sizeof line, "%s %s", method, pattern);
    json_cstring(j, line);
}

/* GET /api/v1 (docs/api.md 4.6): the endpoints are the route table's. */
void
api_index(api_call_t *call)
{
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "service");
    json_cstring(&j, "profai");
    json_key(&j, "version");
    json_cstring(&j, PROFAI_VERSION);
    json_key(&j, "api");
    json_cstring(&j, "/api/v1");
    json_key(&j, "docs");
    json_cstring(&j, "docs/api.md");
    json_key(&j, "endpoints");
    json_array_begin(&j);
    route_each_listed(s_index_endpoint, &j);
    json_array_end(&j);
    json_object_end(&j);
    api_reply_json(call->req, 200, NULL, &j);
}

/* GET /api/v1/openapi.json: docs/openapi.json, compiled in with the web page's files
 * (Makefile, scripts/embed-web.sh). */
void
api_openapi(api_call_t *call)
{
    const static_asset_t *doc = static_find("/app/openapi.json");
    if (doc == NULL) {
        http_reply_problem(call->req, 404, NULL, "this build has no API description");
        return;
    }
    api_reply_tagged(call->req, (const char *)doc->data, doc->len, doc->etag, false);
}

/* The web page: static.h answers (200, 304 or 405) or says the path is not one of its files. */
void
api_static(api_call_t *call)
{
    http_request_t *req = call->req;
    int status = 0;
    char headers[32 + HTTP_REQUEST_ID_MAX];
    snprintf(headers, sizeof headers, "X-Request-Id: %s\r\n", req->request_id);
    if (static_serve_with(req->conn, req->path, headers, &status) == 0) {
        http_reply_problem(req, 404, NULL, "no such resource");
        return;
    }
    req->status = status ? status : 200; /* answered: for http.c's access log */
}

/* ---------------------------------------------------------------- dispatch */

/* Authenticate the caller; on failure the answer is sent and false returned. */
static bool
s_authenticate(api_t *self, http_request_t *req, auth_user_t *user)
{
    memset(user, 0, sizeof *user);
    /* No Authorization header but the session cookie: a signed-in browser (docs/api.md 2.1). */
    if (self->accounts != NULL && accounts_has_session_cookie(req))
        return accounts_authenticate(self->accounts, self->db, req, user);
    switch (auth_check(self->auth, http_header(req, "Authorization"), user)) {
    case AUTH_OK:
        snprintf(req->user, sizeof req->user, "%s", user->name);
        return true;
    case AUTH_MISSING:
        http_reply_problem(req, 401, "WWW-Authenticate: Bearer realm=\"profai\"\r\n",
                           "missing bearer token");
        return false;
    case AUTH_MALFORMED:
    case AUTH_INVALID:
        http_reply_problem(req, 401,
                           "WWW-Authenticate: Bearer realm=\"profai\", error=\"invalid_token\"\r\n",
                           "the bearer token is not valid");
        return false;
    case AUTH_EXPIRED:
        http_reply_problem(req, 401,
                           "WWW-Authenticate: Bearer realm=\"profai\", error=\"invalid_token\", "
                           "error_description=\"the token has expired\"\r\n",
                           "the bearer token has expired: ask for a new one");
        return false;
    case AUTH_UNAVAILABLE:
        api_reply_unavailable(req, "the database");
        return false;
    }
    return false;
}

/* A request from a blocked address (limits.h) passes only with a valid token: one the token
 * cache vouches for, or, within the budget all blocked addresses share, one the database
 * does. Anything else gets the address' 429, never a 401 (docs/api.md 3.1). */
static bool
s_authenticate_blocked(api_t *self, http_request_t *req, auth_user_t *user)
{
    const char *authorization = http_header(req, "Authorization");
    auth_result_t result = auth_check_cached(self->auth, authorization, user);
    if (result == AUTH_INVALID && limits_blocked_lookup(self->limits))
        result = auth_check(self->auth, authorization, user);
    if (result != AUTH_OK) {
        (void)!limits_auth_allowed(self->limits, req); /* answers the 429 */
        return false;
    }
    snprintf(req->user, sizeof req->user, "%s", user->name);
    return true;
}

/* Authenticate within the limits: a request from an address that has spent its failed
 * authentications needs a valid token (s_authenticate_blocked), a 401 spends one, and an
 * authenticated caller spends its read or upload budget (limits.h). */
static bool
s_authenticate_limited(api_t *self, http_request_t *req, const route_t *route, auth_user_t *user)
{
    if (self->limits != NULL && limits_address_blocked(self->limits, req)) {
        if (!s_authenticate_blocked(self, req, user))
            return false;
    } else if (!s_authenticate(self, req, user)) {
        if (self->limits != NULL && req->status == 401)
            limits_auth_failed(self->limits, req);
        return false;
    }
    return self->limits == NULL ||
           limits_request_allowed(self->limits, req, user->id, route->flags & ROUTE_UPLOAD);
}

static int
s_query(void *ctx, const char *name, char *buf, size_t size)
{
    return http_query_param(ctx, name, buf, size);
}

static bool
s_content_type_is(void *ctx, const char *type)
{
    return http_content_type_is(ctx, type);
}

static void s_dispatch(api_t *self, http_request_t *req, const route_t **route);

void
api_handle(http_request_t *req, void *arg)
{
    const route_t *route = NULL;
    s_dispatch(arg, req, &route);
    int64_t ms = zclock_mono() - req->started_ms;
    api_metrics_observe(route, req->status, ms > 0 ? (uint64_t)ms * 1000 : 0);
}

/* Check and run the request's route; *route is the route matched, if any. */
static void
s_dispatch(api_t *self, http_request_t *req, const route_t **route)
{
    route_request_t request = {.method = req->method,
                               .path = req->path,
                               .query = s_query,
                               .content_type_is = s_content_type_is,
                               .ctx = req,
                               .query_string = req->query};
    route_result_t result;
    bool matched = route_match(&request, &result);
    *route = result.route; /* NULL on a 404 or 405: counted as "unmatched" */
    if (!matched) {
        http_reply_problem(req, result.status, result.headers[0] ? result.headers : NULL, "%s",
                           result.detail);
        return;
    }
    api_call_t call = {.api = self, .req = req, .route = &result};
    auth_user_t user = {0}; /* zeroed: not every way in sets every member (session) */
    if (!route_is_public(result.route)) {
        if (!s_authenticate_limited(self, req, result.route, &user))
            return;
        /* A cookie from another site cannot change anything (docs/api.md 2.1). */
        if (user.session && !accounts_csrf_allowed(self->accounts, req, &user))
            return;
        call.user = &user;
    }
    if (!route_check(&request, call.user ? user.role : AUTH_ROLE_ADMIN, &result)) {
        http_reply_problem(req, result.status, NULL, "%s", result.detail);
        return;
    }
    result.route->handler(&call);
}
