/* api.c - see api.h. */
#define _GNU_SOURCE
#include "api.h"

#include "broker_client.h"
#include "cache.h"
#include "json.h"
#include "json_in.h"
#include "log.h"
#include "static.h"

#include <ctype.h>
#include <glib.h>
#include <profai/proto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A multipart form may exceed max_upload by this much (boundaries, part headers, title). */
#define API_FORM_OVERHEAD (64 * 1024)
/* The PDF header must appear within the first bytes of the file (docs/api.md 4.1). */
#define API_PDF_SNIFF 1024
/* Longest title/filename read before refusing it (the limits themselves are smaller). */
#define API_TEXT_READ_MAX 1024
#define API_LIMIT_DEFAULT 20
#define API_LIMIT_MAX 100
#define API_RETRY_AFTER "Retry-After: 5\r\n"
#define API_DEFAULT_FILENAME "upload.pdf"
#define API_DEFAULT_TITLE "Untitled"
/* Largest JSON request body (a quiz attempt), and how deep and big it may be. */
#define API_JSON_BODY_MAX (64 * 1024)
#define API_JSON_DEPTH_MAX 8
#define API_JSON_VALUES_MAX 4096
/* Longest search string (bytes) and cursor (characters). */
#define API_QUERY_MAX 256
#define API_CURSOR_MAX 128
/* Search pages go this deep at most (offset cursors; docs/api.md 4.8). */
#define API_SEARCH_OFFSET_MAX 10000
/* Course and quiz answers may be stored by browsers, which must revalidate them (ETag); what
 * they hold depends on the caller (a student's course has no quiz). */
#define API_REVALIDATE "Cache-Control: private, no-cache\r\nVary: Authorization\r\n"
#define API_JSON_TYPE "application/json; charset=utf-8"

struct api_t {
    char *broker_endpoint;
    int broker_timeout_ms;
    size_t max_upload;
    int body_timeout_ms;
    db_pool_t *db;
    auth_t *auth;
    cache_t *cache; /* course documents, quizzes and answer keys by course id */
};

/* What each HTTP worker thread owns. */
typedef struct {
    broker_client_t *broker;
} api_thread_t;

typedef enum {
    ROUTE_NONE,
    ROUTE_STATIC,   /* / and /app/...                      */
    ROUTE_INDEX,    /* /api/v1                             */
    ROUTE_HEALTH,   /* /healthz                            */
    ROUTE_JOBS,     /* /api/v1/jobs                        */
    ROUTE_JOB,      /* /api/v1/jobs/{id}                   */
    ROUTE_COURSES,  /* /api/v1/courses                     */
    ROUTE_COURSE,   /* /api/v1/courses/{id}                */
    ROUTE_QUIZ,     /* /api/v1/courses/{id}/quiz           */
    ROUTE_ATTEMPTS, /* /api/v1/courses/{id}/quiz/attempts  */
} route_t;

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
    self->max_upload = cfg->max_upload;
    self->body_timeout_ms = cfg->body_timeout_ms;
    self->db = cfg->db;
    self->auth = cfg->auth;
    return self;
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
    thread->broker = broker_client_new(self->broker_endpoint, self->broker_timeout_ms);
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

/* ---------------------------------------------------------------- helpers */

static void
s_reply_json(http_request_t *req, int status, const char *headers, json_t *j)
{
    if (json_failed(j))
        http_reply_problem(req, 500, NULL, "out of memory");
    else
        http_reply_json(req, status, headers, j->data, j->len);
    json_free(j);
}

static void
s_reply_unavailable(http_request_t *req, const char *what)
{
    http_reply_problem(req, 503, API_RETRY_AFTER, "%s is not available; retry later", what);
}

/* A 409 problem document; `state` (may be NULL) is added as a member "state". */
static void
s_reply_conflict(http_request_t *req, const char *state, const char *detail)
{
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "type");
    json_cstring(&j, "urn:profai:problem:conflict");
    json_key(&j, "title");
    json_cstring(&j, "Conflict");
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

/* Authenticate the caller; on failure the answer is sent and false returned. */
static bool
s_authenticate(api_t *self, http_request_t *req, auth_user_t *user)
{
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
    case AUTH_UNAVAILABLE:
        s_reply_unavailable(req, "the database");
        return false;
    }
    return false;
}

/* A path id as a canonical uuid (upper-case hex accepted); false when it is not one. */
static bool
s_uuid_arg(const char *id, char out[PROTO_UUID_LEN + 1])
{
    if (strlen(id) != PROTO_UUID_LEN)
        return false;
    for (size_t i = 0; i < PROTO_UUID_LEN; i++)
        out[i] = (char)tolower((unsigned char)id[i]);
    out[PROTO_UUID_LEN] = '\0';
    return proto_is_uuid(out, PROTO_UUID_LEN);
}

/* The {id} of a path about a `what` ("job", "course") as a canonical uuid; else the 404 a
 * missing one gets (an id that cannot exist is just not found), and false. */
static bool
s_id_arg(http_request_t *req, const char *id_arg, const char *what, char out[PROTO_UUID_LEN + 1])
{
    if (s_uuid_arg(id_arg, out))
        return true;
    http_reply_problem(req, 404, NULL, "no %s with this id", what);
    return false;
}

/* The answer to a lookup of a `what` that did not succeed: 404, or 503 when the database
 * could not answer. */
static void
s_reply_not_ok(http_request_t *req, db_status_t status, const char *what)
{
    if (status == DB_NOT_FOUND)
        http_reply_problem(req, 404, NULL, "no %s with this id", what);
    else
        s_reply_unavailable(req, "the database");
}

/* Answer a database read of a `what` that produced JSON (freed here): `code` on DB_OK, else
 * as s_reply_not_ok. */
static void
s_reply_db_json(http_request_t *req, db_status_t status, int code, char *json, size_t len,
                const char *what)
{
    if (status == DB_OK)
        http_reply_json(req, code, NULL, json, len);
    else
        s_reply_not_ok(req, status, what);
    free(json);
}

/* Valid UTF-8 of at most max bytes without control characters (C0, DEL, C1). */
static bool
s_text_ok(const char *s, size_t len, size_t max)
{
    if (len > max || !proto_is_utf8(s, len))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
        /* U+0080..U+009F are encoded C2 80..C2 9F. */
        if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] < 0xa0)
            return false;
    }
    return true;
}

static bool
s_looks_like_pdf(const uint8_t *data, size_t len)
{
    if (data == NULL)
        return false;
    return memmem(data, len < API_PDF_SNIFF ? len : API_PDF_SNIFF, "%PDF-", 5) != NULL;
}

/* The default title: the file name without ".pdf", cut to the title limit on a character
 * boundary; "Untitled" when that leaves nothing. */
static void
s_default_title(const char *filename, char *title, size_t size)
{
    size_t len = strlen(filename);
    if (len >= 4 && strcasecmp(filename + len - 4, ".pdf") == 0)
        len -= 4;
    if (len > PROTO_TITLE_MAX)
        len = PROTO_TITLE_MAX;
    while (len > 0 && ((unsigned char)filename[len] & 0xc0) == 0x80)
        len--; /* do not split a UTF-8 sequence */
    if (len == 0 || len >= size) {
        snprintf(title, size, "%s", API_DEFAULT_TITLE);
        return;
    }
    memcpy(title, filename, len);
    title[len] = '\0';
}

/* Read ?limit= (1..API_LIMIT_MAX, default API_LIMIT_DEFAULT) into *limit. 0, or -1 with the
 * answer sent. */
static int
s_limit_param(http_request_t *req, int *limit)
{
    *limit = API_LIMIT_DEFAULT;
    char value[8];
    int n = http_query_param(req, "limit", value, sizeof value);
    if (n == -1)
        return 0;
    bool ok = n > 0 && n <= 3;
    for (int i = 0; ok && i < n; i++)
        ok = value[i] >= '0' && value[i] <= '9';
    *limit = ok ? atoi(value) : 0;
    if (*limit < 1 || *limit > API_LIMIT_MAX) {
        http_reply_problem(req, 400, NULL, "limit must be an integer from 1 to %d", API_LIMIT_MAX);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- validators (ETag) */

/* A strong validator for a body: the first 128 bits of its SHA-256, quoted. Every frontend
 * computes the same one for the same stored document. */
static void
s_etag(const char *body, size_t len, char out[35])
{
    char *sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)body, len);
    snprintf(out, 35, "\"%.32s\"", sum ? sum : "0");
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

/* Answer a GET with a body and its validator: 304 without the body when the client already
 * has it, else 200. */
static void
s_reply_tagged(http_request_t *req, const char *body, size_t len, const char *etag)
{
    char headers[160];
    snprintf(headers, sizeof headers, "ETag: %s\r\n" API_REVALIDATE, etag);
    const char *inm = http_header(req, "If-None-Match");
    if (inm != NULL && s_etag_matches(inm, etag))
        http_reply(req, 304, API_JSON_TYPE, headers, NULL, 0);
    else
        http_reply_json(req, 200, headers, body, len);
}

static void
s_reply_item(http_request_t *req, const cache_item_t *item)
{
    size_t len;
    const char *body = cache_item_data(item, &len);
    s_reply_tagged(req, body, len, cache_item_etag(item));
}

/* ---------------------------------------------------------------- upload */

typedef struct {
    char title[PROTO_TITLE_MAX + 1];
    char filename[PROTO_FILENAME_MAX + 1];
    http_buf_t body;    /* the request body as read */
    const uint8_t *pdf; /* the PDF: all of body, or the form's file part inside it */
    size_t pdf_len;
} s_upload_t;

/* Read ?name= into out (at most max bytes of text). 0 when absent or valid, else -1 with the
 * answer sent. */
static int
s_text_param(http_request_t *req, const char *name, size_t max, char *out)
{
    char value[API_TEXT_READ_MAX];
    int n = http_query_param(req, name, value, sizeof value);
    if (n == -1)
        return 0;
    if (n < 0 || (size_t)n > max) {
        http_reply_problem(req, 400, NULL, "%s is longer than %zu bytes", name, max);
        return -1;
    }
    if (!s_text_ok(value, (size_t)n, max)) {
        http_reply_problem(req, 400, NULL, "%s must be valid UTF-8 text without control characters",
                           name);
        return -1;
    }
    memcpy(out, value, (size_t)n);
    out[n] = '\0';
    return 0;
}

/* Answer a body read that failed. */
static void
s_reply_body_failure(api_t *self, http_request_t *req, http_body_status_t status, const char *why)
{
    http_close_after(req);
    switch (status) {
    case HTTP_BODY_TOO_LARGE:
        http_reply_problem(req, 413, NULL, "the PDF is larger than %zu bytes", self->max_upload);
        break;
    case HTTP_BODY_TIMEOUT:
        http_reply_problem(req, 408, NULL, "%s", http_body_timeout_reason(req));
        break;
    case HTTP_BODY_REJECTED:
        http_reply_problem(req, 415, NULL,
                           "the file is not a PDF (no %%PDF- header in its first %d bytes)",
                           API_PDF_SNIFF);
        break;
    case HTTP_BODY_MALFORMED:
        http_reply_problem(req, 400, NULL, "%s", why ? why : "malformed request body");
        break;
    case HTTP_BODY_IO:
        http_reply_problem(req, 400, NULL, "the request body ended early");
        break;
    case HTTP_BODY_NOMEM:
    case HTTP_BODY_OK:
        s_reply_unavailable(req, "memory for the upload");
        break;
    }
}

/* Read a multipart form and take its file and title into up. 0, or -1 with the answer
 * sent. */
static int
s_read_form(api_t *self, http_request_t *req, s_upload_t *up)
{
    char filename[API_TEXT_READ_MAX] = "";
    http_form_field_t fields[2] = {
        {.name = "file",
         .max = self->max_upload,
         .filename = filename,
         .filename_size = sizeof filename},
        {.name = "title", .max = PROTO_TITLE_MAX},
    };
    http_form_field_t *file = &fields[0], *title = &fields[1];
    up->body.max = self->max_upload + API_FORM_OVERHEAD;
    const char *why = NULL;
    http_body_status_t status = http_form_read(req, &up->body, fields, 2, &why);
    if (status == HTTP_BODY_TOO_LARGE && title->overflow) {
        http_reply_problem(req, 400, NULL, "title is longer than %d bytes", PROTO_TITLE_MAX);
        return -1;
    }
    if (status != HTTP_BODY_OK) {
        s_reply_body_failure(self, req, status, why);
        return -1;
    }
    if (!file->found) {
        http_reply_problem(req, 400, NULL, "the form has no \"file\" field");
        return -1;
    }
    if (!s_looks_like_pdf(file->value, file->len)) {
        s_reply_body_failure(self, req, HTTP_BODY_REJECTED, NULL);
        return -1;
    }
    if (title->found && !s_text_ok((const char *)title->value, title->len, PROTO_TITLE_MAX)) {
        http_reply_problem(req, 400, NULL,
                           "title must be valid UTF-8 text without control characters");
        return -1;
    }
    if (title->found && title->len > 0)
        memcpy(up->title, title->value, title->len);
    up->title[title->found ? title->len : 0] = '\0';

    /* The client's file name is information only: keep its last path component. */
    const char *base = filename;
    for (const char *p = filename; *p != '\0'; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    size_t len = strlen(base);
    if (file->filename_long || !s_text_ok(base, len, PROTO_FILENAME_MAX)) {
        http_reply_problem(req, 400, NULL,
                           "the file name must be valid UTF-8 of at most %d bytes without "
                           "control characters",
                           PROTO_FILENAME_MAX);
        return -1;
    }
    memcpy(up->filename, base, len + 1);
    up->pdf = file->value;
    up->pdf_len = file->len;
    return 0;
}

/* Hand the stored PDF to the broker and answer 202 (or 503/500). */
static void
s_submit(api_t *self, http_request_t *req, const auth_user_t *user, s_upload_t *up,
         const char *sha256)
{
    api_thread_t *thread = http_thread_state(req);
    if (thread == NULL) {
        s_reply_unavailable(req, "the broker");
        return;
    }
    proto_submit_t submit;
    memset(&submit, 0, sizeof submit);
    snprintf(submit.owner, sizeof submit.owner, "%s", user->id);
    snprintf(submit.title, sizeof submit.title, "%s", up->title);
    snprintf(submit.filename, sizeof submit.filename, "%s", up->filename);
    snprintf(submit.sha256, sizeof submit.sha256, "%s", sha256);
    proto_submitted_t reply;
    char err[256];
    if (broker_client_submit(thread->broker, &submit, &reply, err, sizeof err) != 0) {
        log_warn("upload by %s not submitted: %s", user->name, err);
        s_reply_unavailable(req, "the broker");
        return;
    }
    if (!reply.ok) {
        if (strcmp(reply.error_code, "db_unavailable") == 0 ||
            strcmp(reply.error_code, "overloaded") == 0) {
            log_warn("broker refused the upload by %s: %s %s", user->name, reply.error_code,
                     reply.error);
            http_reply_problem(req, 503, API_RETRY_AFTER,
                               "the broker cannot take jobs right now (%s); retry later",
                               reply.error_code);
        } else {
            log_error("broker refused the upload by %s: %s %s", user->name, reply.error_code,
                      reply.error);
            http_reply_problem(req, 500, NULL, "the broker refused the job (%s)", reply.error_code);
        }
        return;
    }
    log_info("job=%s submitted by %s: %zu bytes sha256=%s", reply.job_id, user->name, up->pdf_len,
             sha256);

    char location[128];
    snprintf(location, sizeof location, "/api/v1/jobs/%s", reply.job_id);
    char headers[160];
    snprintf(headers, sizeof headers, "Location: %s\r\n", location);
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "job_id");
    json_cstring(&j, reply.job_id);
    json_key(&j, "state");
    json_cstring(&j, reply.state);
    json_key(&j, "status_url");
    json_cstring(&j, location);
    json_object_end(&j);
    s_reply_json(req, 202, headers, &j);
}

static void
s_jobs_post(api_t *self, http_request_t *req, const auth_user_t *user)
{
    if (user->role == AUTH_ROLE_STUDENT) {
        http_reply_problem(req, 403, NULL, "students may not upload");
        return;
    }
    bool multipart = http_content_type_is(req, "multipart/form-data");
    if (!multipart && !http_content_type_is(req, "application/pdf")) {
        http_reply_problem(req, 415, NULL,
                           "send the PDF as application/pdf or multipart/form-data");
        return;
    }
    s_upload_t up;
    memset(&up, 0, sizeof up);
    if (!multipart && (s_text_param(req, "title", PROTO_TITLE_MAX, up.title) != 0 ||
                       s_text_param(req, "filename", PROTO_FILENAME_MAX, up.filename) != 0))
        return;
    long long length = http_content_length(req);
    size_t limit = self->max_upload + (multipart ? API_FORM_OVERHEAD : 0);
    if (length > 0 && (unsigned long long)length > limit) {
        http_close_after(req);
        http_reply_problem(req, 413, NULL, "the PDF is larger than %zu bytes", self->max_upload);
        return;
    }
    if (http_send_continue(req) != 0)
        return; /* the client is gone */

    http_body_begin(req, self->body_timeout_ms);
    if (multipart) {
        if (s_read_form(self, req, &up) != 0)
            goto done;
    } else {
        up.body = (http_buf_t){
            .max = self->max_upload, .check_at = API_PDF_SNIFF, .check = s_looks_like_pdf};
        http_body_status_t status = http_body_read_all(req, &up.body);
        if (status != HTTP_BODY_OK) {
            s_reply_body_failure(self, req, status, NULL);
            goto done;
        }
        up.pdf = up.body.data;
        up.pdf_len = up.body.len;
    }
    if (up.title[0] == '\0')
        s_default_title(up.filename, up.title, sizeof up.title);
    if (up.filename[0] == '\0')
        snprintf(up.filename, sizeof up.filename, "%s", API_DEFAULT_FILENAME);

    char *sha256 = g_compute_checksum_for_data(G_CHECKSUM_SHA256, up.pdf, up.pdf_len);
    if (sha256 == NULL) {
        s_reply_unavailable(req, "memory for the upload");
        goto done;
    }
    if (db_blob_store(self->db, sha256, up.pdf, up.pdf_len) != DB_OK)
        s_reply_unavailable(req, "the database");
    else
        s_submit(self, req, user, &up, sha256);
    g_free(sha256);
done:
    http_buf_free(&up.body);
}

/* ---------------------------------------------------------------- jobs */

static void
s_jobs_get(api_t *self, http_request_t *req, const auth_user_t *user)
{
    if (user->role == AUTH_ROLE_STUDENT) {
        http_reply_problem(req, 403, NULL, "students have no jobs");
        return;
    }
    int limit;
    if (s_limit_param(req, &limit) != 0)
        return;
    char *json = NULL;
    size_t len = 0;
    const char *owner = user->role == AUTH_ROLE_ADMIN ? NULL : user->id;
    if (db_jobs_json(self->db, owner, limit, &json, &len) != DB_OK) {
        s_reply_unavailable(req, "the database");
        return;
    }
    http_reply_json(req, 200, NULL, json, len);
    free(json);
}

static void
s_job_get(api_t *self, http_request_t *req, const auth_user_t *user, const char *id_arg)
{
    if (user->role == AUTH_ROLE_STUDENT) {
        http_reply_problem(req, 403, NULL, "students may not see jobs");
        return;
    }
    char id[PROTO_UUID_LEN + 1];
    if (!s_id_arg(req, id_arg, "job", id))
        return;
    char *json = NULL;
    size_t len = 0;
    const char *owner = user->role == AUTH_ROLE_ADMIN ? NULL : user->id;
    db_status_t status = db_job_json(self->db, id, owner, &json, &len);
    s_reply_db_json(req, status, 200, json, len, "job");
}

static bool
s_state_final(const char *state)
{
    return strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
           strcmp(state, "cancelled") == 0;
}

/* The broker cancelled the job: answer with the job as it is stored now. */
static void
s_reply_cancelled(api_t *self, http_request_t *req, const char *id)
{
    char *json = NULL;
    size_t len = 0;
    if (db_job_json(self->db, id, NULL, &json, &len) != DB_OK) {
        http_reply_problem(req, 503, API_RETRY_AFTER,
                           "the job was cancelled, but it cannot be read right now; retry later");
        return;
    }
    http_reply_json(req, 200, NULL, json, len);
    free(json);
}

/* DELETE /api/v1/jobs/{id}: cancel a job through the broker (docs/api.md 4.7). */
static void
s_job_delete(api_t *self, http_request_t *req, const auth_user_t *user, const char *id_arg)
{
    if (user->role == AUTH_ROLE_STUDENT) {
        http_reply_problem(req, 403, NULL, "students may not cancel jobs");
        return;
    }
    char id[PROTO_UUID_LEN + 1], owner[37], state[16];
    if (!s_id_arg(req, id_arg, "job", id))
        return;
    db_status_t status =
        db_job_owner(self->db, id, user->role == AUTH_ROLE_ADMIN ? NULL : user->id, owner, state);
    if (status != DB_OK) {
        s_reply_not_ok(req, status, "job");
        return;
    }
    if (s_state_final(state)) { /* final states never change: no need to ask the broker */
        s_reply_conflict(req, state, "the job has already ended");
        return;
    }
    api_thread_t *thread = http_thread_state(req);
    proto_cancelled_t reply;
    char err[256] = "no broker client";
    if (thread == NULL ||
        broker_client_cancel(thread->broker, owner, id, &reply, err, sizeof err) != 0) {
        log_warn("job=%s cancel by %s not delivered: %s", id, user->name, err);
        s_reply_unavailable(req, "the broker");
        return;
    }
    if (reply.ok) {
        log_info("job=%s cancelled by %s", id, user->name);
        s_reply_cancelled(self, req, id);
    } else if (strcmp(reply.error_code, "already_final") == 0) {
        s_reply_conflict(req, reply.state[0] ? reply.state : NULL, "the job has already ended");
    } else if (strcmp(reply.error_code, "unknown_job") == 0) {
        http_reply_problem(req, 404, NULL, "no job with this id");
    } else if (strcmp(reply.error_code, "db_unavailable") == 0 ||
               strcmp(reply.error_code, "overloaded") == 0) {
        log_warn("job=%s cancel by %s refused: %s %s", id, user->name, reply.error_code,
                 reply.error);
        http_reply_problem(req, 503, API_RETRY_AFTER,
                           "the broker cannot cancel jobs right now (%s); retry later",
                           reply.error_code);
    } else {
        log_error("job=%s cancel by %s refused: %s %s", id, user->name, reply.error_code,
                  reply.error);
        http_reply_problem(req, 500, NULL, "the broker refused the cancellation (%s)",
                           reply.error_code);
    }
}

/* ---------------------------------------------------------------- course cache */

/* Cache keys: one course's document, quiz and quiz answer key. */
static void
s_key(char *out, size_t size, const char *kind, const char *id)
{
    snprintf(out, size, "%s:%s", kind, id);
}

/* Forget everything cached about a course (it was deleted, or PostgreSQL says it is gone). */
static void
s_forget_course(api_t *self, const char *id)
{
    static const char *const kinds[] = {"course", "course-full", "quiz", "answers"};
    char key[64];
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        s_key(key, sizeof key, kinds[i], id);
        cache_remove(self->cache, key);
    }
}

/* Keep a body under key with its ETag; the item (referenced) in *item. */
static db_status_t
s_keep(api_t *self, const char *key, char **body, size_t len, cache_item_t **item)
{
    char etag[35];
    s_etag(*body, len, etag);
    *item = cache_put(self->cache, key, body, len, etag);
    return *item ? DB_OK : DB_UNAVAILABLE;
}

/* What to do with a cached item after PostgreSQL answered `status`: DB_OK is handled by the
 * caller; DB_NOT_FOUND drops it; DB_UNAVAILABLE serves it even past its TTL (an outage: a
 * course changes only by being deleted, so an old copy is better than a 503). */
static db_status_t
s_fallback(api_t *self, const char *id, db_status_t status, cache_item_t **cached,
           cache_item_t **item)
{
    if (status == DB_NOT_FOUND) {
        cache_item_release(cached);
        s_forget_course(self, id);
        return DB_NOT_FOUND;
    }
    if (*cached != NULL) {
        log_debug("course=%s served from the cache past its TTL: the database is unavailable", id);
        *item = *cached;
        *cached = NULL;
        return DB_OK;
    }
    return DB_UNAVAILABLE;
}

/* The cached item under key when it can be served as it is: fresh, or stale but its course
 * still exists (courses never change once stored, they can only be deleted: checking that
 * costs PostgreSQL far less than reading the document again, and then the item is fresh for
 * another TTL). *status is DB_OK then; otherwise NULL with the existence check's answer in
 * *status (DB_OK when there was nothing to check), and *stale keeps the stale item (if any)
 * for s_fallback. */
static cache_item_t *
s_cached(api_t *self, const char *key, const char *id, db_status_t *status, cache_item_t **stale)
{
    bool fresh = false;
    cache_item_t *cached = cache_get(self->cache, key, &fresh);
    *stale = NULL;
    *status = DB_OK;
    if (cached == NULL || fresh)
        return cached;
    *status = db_course_exists(self->db, id);
    if (*status == DB_OK) {
        cache_touch(self->cache, cached);
        return cached;
    }
    *stale = cached;
    return NULL;
}

/* The course document (course JSON with "id" and "job_id"; with the quiz and its answers for
 * teachers and admins, without for students), from the cache when it can. */
static db_status_t
s_course_doc(api_t *self, const char *id, bool with_quiz, cache_item_t **item)
{
    char key[64];
    s_key(key, sizeof key, with_quiz ? "course-full" : "course", id);
    db_status_t status;
    cache_item_t *cached = NULL;
    *item = s_cached(self, key, id, &status, &cached);
    if (*item != NULL)
        return DB_OK;
    if (status != DB_OK)
        return s_fallback(self, id, status, &cached, item);
    char *json = NULL;
    size_t len = 0;
    status = db_course_json(self->db, id, with_quiz, &json, &len);
    if (status == DB_OK)
        return s_keep(self, key, &json, len, item);
    return s_fallback(self, id, status, &cached, item);
}

/* The quiz without answers ("quiz") or its answer key ("answers"; db.h db_course_quiz), from
 * the cache when it can; both are loaded and kept together. */
static db_status_t
s_course_quiz(api_t *self, const char *id, const char *kind, cache_item_t **item)
{
    char key[64], quiz_key[64], answers_key[64];
    s_key(key, sizeof key, kind, id);
    s_key(quiz_key, sizeof quiz_key, "quiz", id);
    s_key(answers_key, sizeof answers_key, "answers", id);
    db_status_t status;
    cache_item_t *cached = NULL;
    *item = s_cached(self, key, id, &status, &cached);
    if (*item != NULL)
        return DB_OK;
    if (status != DB_OK)
        return s_fallback(self, id, status, &cached, item);
    char *quiz = NULL, *answers = NULL;
    size_t quiz_len = 0, answers_len = 0;
    status = db_course_quiz(self->db, id, &quiz, &quiz_len, &answers, &answers_len);
    if (status != DB_OK)
        return s_fallback(self, id, status, &cached, item);
    cache_item_t *quiz_item = NULL, *answers_item = NULL;
    status = s_keep(self, quiz_key, &quiz, quiz_len, &quiz_item);
    if (status == DB_OK)
        status = s_keep(self, answers_key, &answers, answers_len, &answers_item);
    free(answers); /* when the first s_keep failed */
    if (status == DB_OK) {
        bool want_quiz = strcmp(kind, "quiz") == 0;
        *item = want_quiz ? quiz_item : answers_item;
        if (want_quiz)
            quiz_item = NULL;
        else
            answers_item = NULL;
    }
    cache_item_release(&quiz_item);
    cache_item_release(&answers_item);
    return status;
}

/* Answer with a course item, or the problem that status means. */
static void
s_reply_course_item(http_request_t *req, db_status_t status, cache_item_t **item)
{
    if (status != DB_OK) {
        s_reply_not_ok(req, status, "course");
        return;
    }
    s_reply_item(req, *item);
    cache_item_release(item);
}

/* ---------------------------------------------------------------- courses */

/* GET /api/v1/courses/{id}: students get the document without its quiz (they take the quiz
 * through /quiz, which hides the answers); teachers and admins get all of it. */
static void
s_course_get(api_t *self, http_request_t *req, const auth_user_t *user, const char *id_arg)
{
    char id[PROTO_UUID_LEN + 1];
    if (!s_id_arg(req, id_arg, "course", id))
        return;
    cache_item_t *item = NULL;
    db_status_t status = s_course_doc(self, id, user->role != AUTH_ROLE_STUDENT, &item);
    s_reply_course_item(req, status, &item);
}

static void
s_quiz_get(api_t *self, http_request_t *req, const char *id_arg)
{
    char id[PROTO_UUID_LEN + 1];
    if (!s_id_arg(req, id_arg, "course", id))
        return;
    cache_item_t *item = NULL;
    db_status_t status = s_course_quiz(self, id, "quiz", &item);
    s_reply_course_item(req, status, &item);
}

/* DELETE /api/v1/courses/{id}: its owner or an admin. Other frontends may serve it from their
 * caches for up to their TTL (docs/api.md 4.12). */
static void
s_course_delete(api_t *self, http_request_t *req, const auth_user_t *user, const char *id_arg)
{
    if (user->role == AUTH_ROLE_STUDENT) {
        http_reply_problem(req, 403, NULL, "students may not delete courses");
        return;
    }
    char id[PROTO_UUID_LEN + 1];
    if (!s_id_arg(req, id_arg, "course", id))
        return;
    const char *owner = user->role == AUTH_ROLE_ADMIN ? NULL : user->id;
    db_status_t status = db_course_delete(self->db, id, owner);
    if (status != DB_OK) {
        s_reply_not_ok(req, status, "course");
        return;
    }
    s_forget_course(self, id);
    log_info("course=%s deleted by %s", id, user->name);
    http_reply(req, 204, API_JSON_TYPE, NULL, NULL, 0);
}

/* ---------------------------------------------------------------- course list and search */

/* Cursors are opaque to clients: base64url (no padding) of "l:<microseconds>:<uuid>" (the
 * keyset of the last course of the page: the list goes on after it) or "s:<offset>:<hash>"
 * (a search goes on at offset; hash binds it to its search string). */
static void
s_cursor_encode(const char *plain, char *out, size_t size)
{
    gchar *b64 = g_base64_encode((const guchar *)plain, strlen(plain));
    size_t n = 0;
    for (const char *p = b64; p && *p && *p != '=' && n + 1 < size; p++)
        out[n++] = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    out[n] = '\0';
    g_free(b64);
}

/* Decode a cursor into plain text; false when it is not one of ours. */
static bool
s_cursor_decode(const char *cursor, size_t len, char *plain, size_t size)
{
    if (len == 0 || len > API_CURSOR_MAX || len % 4 == 1)
        return false;
    char b64[API_CURSOR_MAX + 4];
    for (size_t i = 0; i < len; i++) {
        char c = cursor[i];
        if (!isalnum((unsigned char)c) && c != '-' && c != '_')
            return false;
        b64[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    size_t n = len;
    while (n % 4 != 0)
        b64[n++] = '=';
    b64[n] = '\0';
    gsize out_len = 0;
    guchar *data = g_base64_decode(b64, &out_len);
    bool ok = data != NULL && out_len > 0 && out_len < size && memchr(data, 0, out_len) == NULL;
    if (ok) {
        memcpy(plain, data, out_len);
        plain[out_len] = '\0';
    }
    g_free(data);
    return ok;
}

/* A decimal number of 1-18 digits. */
static bool
s_parse_digits(const char *s, size_t len, long long *out)
{
    if (len == 0 || len > 18)
        return false;
    long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* The first 16 hex digits of the SHA-256 of a search string. */
static void
s_query_hash(const char *q, char out[17])
{
    char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, q, -1);
    snprintf(out, 17, "%.16s", sum ? sum : "0");
    g_free(sum);
}

/* Read ?cursor= into query (after_id/after_us or offset). 0, or -1 with the answer sent. */
static int
s_cursor_param(http_request_t *req, db_course_query_t *query, char *after_id, size_t id_size)
{
    char cursor[API_CURSOR_MAX + 1], plain[API_CURSOR_MAX];
    int n = http_query_param(req, "cursor", cursor, sizeof cursor);
    if (n == -1 || n == 0)
        return 0;
    if (n < 0 || !s_cursor_decode(cursor, (size_t)n, plain, sizeof plain))
        goto bad;
    char *first = strchr(plain, ':');
    char *second = first ? strchr(first + 1, ':') : NULL;
    if (first == NULL || second == NULL || first != plain + 1)
        goto bad;
    long long number;
    if (!s_parse_digits(first + 1, (size_t)(second - first - 1), &number))
        goto bad;
    if (plain[0] == 'l' && query->q == NULL) {
        if (strlen(second + 1) != PROTO_UUID_LEN || !proto_is_uuid(second + 1, PROTO_UUID_LEN))
            goto bad;
        snprintf(after_id, id_size, "%s", second + 1);
        query->after_id = after_id;
        query->after_us = number;
        return 0;
    }
    if (plain[0] == 's' && query->q != NULL) {
        char hash[17];
        s_query_hash(query->q, hash);
        if (strcmp(second + 1, hash) != 0 || number > API_SEARCH_OFFSET_MAX)
            goto bad;
        query->offset = number;
        return 0;
    }
bad:
    http_reply_problem(req, 400, NULL,
                       "cursor is not a next_cursor of this list (or of this search)");
    return -1;
}

/* Read ?q=: empty or absent means no search. 0, or -1 with the answer sent. */
static int
s_search_param(http_request_t *req, char *q, size_t size)
{
    int n = http_query_param(req, "q", q, size);
    if (n == -1) {
        q[0] = '\0';
        return 0;
    }
    if (n < 0 || !s_text_ok(q, (size_t)n, API_QUERY_MAX)) {
        http_reply_problem(req, 400, NULL,
                           "q must be valid UTF-8 text of at most %d bytes without control "
                           "characters",
                           API_QUERY_MAX);
        return -1;
    }
    /* Surrounding white space changes nothing but the cursor's hash: drop it. */
    char *start = q + strspn(q, " ");
    size_t len = strlen(start);
    while (len > 0 && start[len - 1] == ' ')
        len--;
    memmove(q, start, len);
    q[len] = '\0';
    return 0;
}

/* GET /api/v1/courses: newest first with keyset cursors, or ?q= full-text search, best first,
 * with offset cursors (docs/api.md 4.8). */
static void
s_courses_get(api_t *self, http_request_t *req)
{
    char q[API_QUERY_MAX + 1], after_id[PROTO_UUID_LEN + 1];
    db_course_query_t query = {0};
    if (s_search_param(req, q, sizeof q) != 0 || s_limit_param(req, &query.limit) != 0)
        return;
    query.q = q[0] ? q : NULL;
    if (s_cursor_param(req, &query, after_id, sizeof after_id) != 0)
        return;
    db_course_page_t page;
    if (db_courses_json(self->db, &query, &page) != DB_OK) {
        s_reply_unavailable(req, "the database");
        return;
    }
    char next[API_CURSOR_MAX + 1] = "", plain[96];
    if (page.more && query.q == NULL) {
        snprintf(plain, sizeof plain, "l:%lld:%s", page.last_us, page.last_id);
        s_cursor_encode(plain, next, sizeof next);
    } else if (page.more && query.offset + query.limit <= API_SEARCH_OFFSET_MAX) {
        char hash[17];
        s_query_hash(query.q, hash);
        snprintf(plain, sizeof plain, "s:%lld:%s", query.offset + query.limit, hash);
        s_cursor_encode(plain, next, sizeof next);
    }
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "courses");
    json_raw(&j, page.json, page.len);
    json_key(&j, "next_cursor");
    json_cstring(&j, next[0] ? next : NULL);
    json_object_end(&j);
    free(page.json);
    if (json_failed(&j)) {
        json_free(&j);
        http_reply_problem(req, 500, NULL, "out of memory");
        return;
    }
    char etag[35];
    s_etag(j.data, j.len, etag);
    s_reply_tagged(req, j.data, j.len, etag);
    json_free(&j);
}

/* ---------------------------------------------------------------- quiz attempts */

/* One question of an answer key (pointers into a copy of the key's text). */
typedef struct {
    const char *id;
    int answer;
    const char *lesson; /* "" when the question names no lesson */
    int chosen;         /* -1: not answered */
} s_question_t;

/* Split an answer key (db.h db_course_quiz) in place. Returns the number of questions. */
static size_t
s_key_parse(char *text, s_question_t *questions, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL && n < max;
         line = strtok_r(NULL, "\n", &save)) {
        char *answer = strchr(line, '\t');
        char *lesson = answer ? strchr(answer + 1, '\t') : NULL;
        if (lesson == NULL)
            continue;
        *answer++ = '\0';
        *lesson++ = '\0';
        questions[n++] =
            (s_question_t){.id = line, .answer = atoi(answer), .lesson = lesson, .chosen = -1};
    }
    return n;
}

/* Read the attempt's JSON body. Returns the parsed document, or NULL with the answer sent. */
static json_in_doc_t *
s_read_json(api_t *self, http_request_t *req)
{
    if (!http_content_type_is(req, "application/json")) {
        http_reply_problem(req, 415, NULL, "send the attempt as application/json");
        return NULL;
    }
    long long length = http_content_length(req);
    if (length > API_JSON_BODY_MAX) {
        http_close_after(req);
        http_reply_problem(req, 413, NULL, "the body is larger than %d bytes", API_JSON_BODY_MAX);
        return NULL;
    }
    if (http_send_continue(req) != 0)
        return NULL;
    http_body_begin(req, self->body_timeout_ms);
    http_buf_t body = {.max = API_JSON_BODY_MAX};
    http_body_status_t status = http_body_read_all(req, &body);
    json_in_doc_t *doc = NULL;
    char err[256];
    switch (status) {
    case HTTP_BODY_OK: {
        json_in_limits_t limits = {.max_depth = API_JSON_DEPTH_MAX,
                                   .max_values = API_JSON_VALUES_MAX};
        doc = json_in_parse((const char *)body.data, body.len, &limits, err, sizeof err);
        if (doc == NULL)
            http_reply_problem(req, 400, NULL, "%s", err);
        break;
    }
    case HTTP_BODY_TOO_LARGE:
        http_close_after(req);
        http_reply_problem(req, 413, NULL, "the body is larger than %d bytes", API_JSON_BODY_MAX);
        break;
    case HTTP_BODY_TIMEOUT:
        http_close_after(req);
        http_reply_problem(req, 408, NULL, "%s", http_body_timeout_reason(req));
        break;
    case HTTP_BODY_NOMEM:
        http_close_after(req);
        s_reply_unavailable(req, "memory for the request");
        break;
    default:
        http_close_after(req);
        http_reply_problem(req, 400, NULL, "the request body is malformed or ended early");
        break;
    }
    http_buf_free(&body);
    return doc;
}

/* Check the attempt {"answers": {"<question id>": 0..3, ...}} and note each choice in
 * questions. 0, or -1 with the 400 sent. */
static int
s_answers_take(http_request_t *req, const json_in_value_t *root, s_question_t *questions, size_t n)
{
    if (root->type != JSON_IN_OBJECT) {
        http_reply_problem(req, 400, NULL, "the body must be a JSON object");
        return -1;
    }
    for (size_t i = 0; i < root->count; i++) {
        if (strcmp(root->keys[i], "answers") != 0) {
            http_reply_problem(req, 400, NULL, "unknown member \"%.64s\" (only \"answers\")",
                               root->keys[i]);
            return -1;
        }
    }
    const json_in_value_t *answers = json_in_member(root, "answers");
    if (answers == NULL || answers->type != JSON_IN_OBJECT) {
        http_reply_problem(req, 400, NULL,
                           "\"answers\" must be an object of question ids to choices 0-3");
        return -1;
    }
    for (size_t i = 0; i < answers->count; i++) {
        const char *qid = answers->keys[i];
        const json_in_value_t *v = &answers->items[i];
        size_t k = 0;
        while (k < n && strcmp(questions[k].id, qid) != 0)
            k++;
        if (k == n) {
            http_reply_problem(req, 400, NULL, "the quiz has no question \"%.64s\"", qid);
            return -1;
        }
        if (v->type != JSON_IN_NUMBER || !v->is_integer || v->integer < 0 || v->integer > 3) {
            http_reply_problem(req, 400, NULL,
                               "the answer to \"%.64s\" must be an integer from 0 to 3", qid);
            return -1;
        }
        questions[k].chosen = (int)v->integer;
    }
    return 0;
}

/* Score the choices and write the stored answers object and the results array. */
static int
s_score(const s_question_t *questions, size_t n, json_t *answers, json_t *results)
{
    int score = 0;
    json_object_begin(answers);
    json_array_begin(results);
    for (size_t i = 0; i < n; i++) {
        const s_question_t *q = &questions[i];
        bool correct = q->chosen == q->answer;
        score += correct;
        if (q->chosen >= 0) {
            json_key(answers, q->id);
            json_int(answers, q->chosen);
        }
        json_object_begin(results);
        json_key(results, "question");
        json_cstring(results, q->id);
        json_key(results, "lesson");
        json_cstring(results, q->lesson[0] ? q->lesson : NULL);
        json_key(results, "chosen");
        q->chosen >= 0 ? json_int(results, q->chosen) : json_null(results);
        json_key(results, "correct");
        json_bool(results, correct);
        json_key(results, "answer");
        json_int(results, q->answer);
        json_object_end(results);
    }
    json_object_end(answers);
    json_array_end(results);
    return score;
}

/* Score a parsed attempt against the course's answer key, store it, answer 201. */
static void
s_attempt_store(api_t *self, http_request_t *req, const auth_user_t *user, const char *id,
                const json_in_value_t *root, const char *key_text, size_t key_len)
{
    size_t max = 1;
    for (size_t i = 0; i < key_len; i++)
        max += key_text[i] == '\n';
    char *key = strndup(key_text, key_len);
    s_question_t *questions = calloc(max, sizeof *questions);
    json_t answers, results;
    json_init(&answers);
    json_init(&results);
    if (key == NULL || questions == NULL) {
        s_reply_unavailable(req, "memory for the attempt");
        goto done;
    }
    size_t n = s_key_parse(key, questions, max);
    if (n == 0) {
        s_reply_conflict(req, NULL, "this course has no quiz");
        goto done;
    }
    if (s_answers_take(req, root, questions, n) != 0)
        goto done;
    int score = s_score(questions, n, &answers, &results);
    if (json_failed(&answers) || json_failed(&results)) {
        s_reply_unavailable(req, "memory for the attempt");
        goto done;
    }
    gchar *attempt_id = g_uuid_string_random();
    char *json = NULL;
    size_t len = 0;
    db_status_t status = db_attempt_store(self->db, attempt_id, id, user->id, score, (int)n,
                                          answers.data, results.data, &json, &len);
    if (status == DB_OK)
        log_info("course=%s quiz attempt=%s by %s: %d/%zu", id, attempt_id, user->name, score, n);
    s_reply_db_json(req, status, 201, json, len, "course");
    g_free(attempt_id);
done:
    json_free(&answers);
    json_free(&results);
    free(questions);
    free(key);
}

/* POST /api/v1/courses/{id}/quiz/attempts (docs/api.md 4.10). */
static void
s_attempts_post(api_t *self, http_request_t *req, const auth_user_t *user, const char *id_arg)
{
    char id[PROTO_UUID_LEN + 1];
    if (!s_id_arg(req, id_arg, "course", id))
        return;
    json_in_doc_t *doc = s_read_json(self, req);
    if (doc == NULL)
        return;
    cache_item_t *key = NULL;
    db_status_t status = s_course_quiz(self, id, "answers", &key);
    if (status == DB_OK) {
        size_t len;
        const char *text = cache_item_data(key, &len);
        s_attempt_store(self, req, user, id, json_in_root(doc), text, len);
        cache_item_release(&key);
    } else {
        s_reply_not_ok(req, status, "course");
    }
    json_in_free(&doc);
}

/* GET /api/v1/courses/{id}/quiz/attempts: the caller's own (docs/api.md 4.11). */
static void
s_attempts_get(api_t *self, http_request_t *req, const auth_user_t *user, const char *id_arg)
{
    char id[PROTO_UUID_LEN + 1];
    if (!s_id_arg(req, id_arg, "course", id))
        return;
    int limit;
    if (s_limit_param(req, &limit) != 0)
        return;
    char *json = NULL;
    size_t len = 0;
    db_status_t status = db_attempts_json(self->db, id, user->id, limit, &json, &len);
    s_reply_db_json(req, status, 200, json, len, "course");
}

/* ---------------------------------------------------------------- index, health, page */

static void
s_health(api_t *self, http_request_t *req)
{
    api_thread_t *thread = http_thread_state(req);
    proto_pong_t pong;
    char err[256] = "no broker client";
    bool broker = thread != NULL && broker_client_ping(thread->broker, &pong, err, sizeof err) == 0;
    if (!broker)
        log_debug("health: %s", err);
    bool database = db_ping(self->db) == DB_OK;
    bool details = broker && pong.ok;
    /* Healthy means "a submission would be accepted now": the broker must also have its own
     * database connection up, or it answers db_unavailable to every job. */
    bool ok = details && pong.db && database;

    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "status");
    json_cstring(&j, ok ? "ok" : "unavailable");
    json_key(&j, "broker");
    json_bool(&j, broker);
    json_key(&j, "database");
    json_bool(&j, database);
    json_key(&j, "broker_database");
    details ? json_bool(&j, pong.db) : json_null(&j);
    json_key(&j, "workers");
    details ? json_int(&j, (long long)pong.workers) : json_null(&j);
    json_key(&j, "queued");
    details ? json_int(&j, (long long)pong.queued) : json_null(&j);
    json_key(&j, "running");
    details ? json_int(&j, (long long)pong.running) : json_null(&j);
    json_object_end(&j);
    s_reply_json(req, ok ? 200 : 503, ok ? NULL : API_RETRY_AFTER, &j);
}

static void
s_index(http_request_t *req)
{
    static const char body[] =
        "{\"service\":\"profai\",\"version\":\"" PROFAI_VERSION "\",\"api\":\"/api/v1\","
        "\"docs\":\"docs/api.md\",\"endpoints\":["
        "\"GET /api/v1/jobs\",\"POST /api/v1/jobs\",\"GET /api/v1/jobs/{id}\","
        "\"DELETE /api/v1/jobs/{id}\",\"GET /api/v1/courses\",\"GET /api/v1/courses/{id}\","
        "\"DELETE /api/v1/courses/{id}\",\"GET /api/v1/courses/{id}/quiz\","
        "\"GET /api/v1/courses/{id}/quiz/attempts\",\"POST /api/v1/courses/{id}/quiz/attempts\","
        "\"GET /healthz\"]}";
    http_reply_json(req, 200, NULL, body, sizeof body - 1);
}

/* The web page: static.h answers (200, 304 or 405) or says the path is not one of its files. */
static void
s_static(http_request_t *req)
{
    int status = 0;
    if (static_serve_status(req->conn, req->path, &status) == 0) {
        http_reply_problem(req, 404, NULL, "no such resource");
        return;
    }
    req->status = status ? status : 200; /* answered: for http.c's access log */
}

/* ---------------------------------------------------------------- routing */

/* The route of a path; *id gets the {id} segment (borrowed from path, NUL-terminated only
 * for routes ending with it: the others copy it into id_buf). */
static route_t
s_route(const char *path, const char **id, char *id_buf, size_t id_size)
{
    static const char jobs[] = "/api/v1/jobs/", courses[] = "/api/v1/courses/";
    if (strcmp(path, "/") == 0 || strncmp(path, "/app/", 5) == 0)
        return ROUTE_STATIC;
    if (strcmp(path, "/api/v1") == 0 || strcmp(path, "/api/v1/") == 0)
        return ROUTE_INDEX;
    if (strcmp(path, "/healthz") == 0)
        return ROUTE_HEALTH;
    if (strcmp(path, "/api/v1/jobs") == 0)
        return ROUTE_JOBS;
    if (strcmp(path, "/api/v1/courses") == 0)
        return ROUTE_COURSES;
    if (strncmp(path, jobs, sizeof jobs - 1) == 0) {
        *id = path + sizeof jobs - 1;
        return strchr(*id, '/') == NULL ? ROUTE_JOB : ROUTE_NONE;
    }
    if (strncmp(path, courses, sizeof courses - 1) != 0)
        return ROUTE_NONE;
    const char *rest = path + sizeof courses - 1;
    const char *slash = strchr(rest, '/');
    if (slash == NULL) {
        *id = rest;
        return ROUTE_COURSE;
    }
    size_t len = (size_t)(slash - rest);
    if (len >= id_size)
        len = id_size - 1; /* too long for a uuid: the handler answers 404 */
    memcpy(id_buf, rest, len);
    id_buf[len] = '\0';
    *id = id_buf;
    if (strcmp(slash, "/quiz") == 0)
        return ROUTE_QUIZ;
    if (strcmp(slash, "/quiz/attempts") == 0)
        return ROUTE_ATTEMPTS;
    return ROUTE_NONE;
}

/* The methods a route takes, as an Allow header line. */
static const char *
s_allow(route_t route)
{
    switch (route) {
    case ROUTE_JOBS:
    case ROUTE_ATTEMPTS:
        return "Allow: GET, HEAD, POST\r\n";
    case ROUTE_JOB:
    case ROUTE_COURSE:
        return "Allow: GET, HEAD, DELETE\r\n";
    default:
        return "Allow: GET, HEAD\r\n";
    }
}

static bool
s_method_allowed(route_t route, bool get, bool post, bool del)
{
    if (get)
        return true;
    if (post)
        return route == ROUTE_JOBS || route == ROUTE_ATTEMPTS;
    if (del)
        return route == ROUTE_JOB || route == ROUTE_COURSE;
    return false;
}

void
api_handle(http_request_t *req, void *arg)
{
    api_t *self = arg;
    const char *id = NULL;
    char id_buf[PROTO_UUID_LEN + 2];
    route_t route = s_route(req->path, &id, id_buf, sizeof id_buf);
    if (route == ROUTE_NONE) {
        http_reply_problem(req, 404, NULL, "no such resource");
        return;
    }
    if (route == ROUTE_STATIC) { /* static.h answers other methods itself (405) */
        s_static(req);
        return;
    }
    bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    bool post = strcmp(req->method, "POST") == 0;
    bool del = strcmp(req->method, "DELETE") == 0;
    if (!s_method_allowed(route, get, post, del)) {
        http_reply_problem(req, 405, s_allow(route), "%s is not allowed here", req->method);
        return;
    }
    if (route == ROUTE_INDEX) {
        s_index(req);
        return;
    }
    if (route == ROUTE_HEALTH) {
        s_health(self, req);
        return;
    }
    auth_user_t user;
    if (!s_authenticate(self, req, &user))
        return;
    switch (route) {
    case ROUTE_JOBS:
        post ? s_jobs_post(self, req, &user) : s_jobs_get(self, req, &user);
        break;
    case ROUTE_JOB:
        del ? s_job_delete(self, req, &user, id) : s_job_get(self, req, &user, id);
        break;
    case ROUTE_COURSES:
        s_courses_get(self, req);
        break;
    case ROUTE_COURSE:
        del ? s_course_delete(self, req, &user, id) : s_course_get(self, req, &user, id);
        break;
    case ROUTE_QUIZ:
        s_quiz_get(self, req, id);
        break;
    case ROUTE_ATTEMPTS:
        post ? s_attempts_post(self, req, &user, id) : s_attempts_get(self, req, &user, id);
        break;
    default:
        http_reply_problem(req, 404, NULL, "no such resource");
        break;
    }
}
