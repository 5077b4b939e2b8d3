/* api.c - see api.h. */
#define _GNU_SOURCE
#include "api.h"

#include "broker_client.h"
#include "json.h"
#include "log.h"

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
#define API_JOBS_LIMIT_DEFAULT 20
#define API_JOBS_LIMIT_MAX 100
#define API_RETRY_AFTER "Retry-After: 5\r\n"
#define API_DEFAULT_FILENAME "upload.pdf"
#define API_DEFAULT_TITLE "Untitled"

struct api_t {
    char *broker_endpoint;
    int broker_timeout_ms;
    size_t max_upload;
    int body_timeout_ms;
    db_pool_t *db;
    auth_t *auth;
};

/* What each HTTP worker thread owns. */
typedef struct {
    broker_client_t *broker;
} api_thread_t;

typedef enum {
    ROUTE_NONE,
    ROUTE_INDEX,  /* /               */
    ROUTE_HEALTH, /* /healthz        */
    ROUTE_JOBS,   /* /api/v1/jobs    */
    ROUTE_JOB,    /* /api/v1/jobs/{id} */
    ROUTE_COURSE  /* /api/v1/courses/{id} */
} route_t;

api_t *
api_new(const api_config_t *cfg)
{
    api_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->broker_endpoint = strdup(cfg->broker_endpoint);
    if (self->broker_endpoint == NULL) {
        free(self);
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
    free((*self_p)->broker_endpoint);
    free(*self_p);
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
        http_reply_problem(req, 408, NULL, "the upload did not arrive within %d ms",
                           self->body_timeout_ms);
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

/* ---------------------------------------------------------------- reads */

static void
s_jobs_get(api_t *self, http_request_t *req, const auth_user_t *user)
{
    if (user->role == AUTH_ROLE_STUDENT) {
        http_reply_problem(req, 403, NULL, "students have no jobs");
        return;
    }
    int limit = API_JOBS_LIMIT_DEFAULT;
    char value[8];
    int n = http_query_param(req, "limit", value, sizeof value);
    if (n != -1) {
        bool ok = n > 0 && n <= 3;
        for (int i = 0; ok && i < n; i++)
            ok = value[i] >= '0' && value[i] <= '9';
        limit = ok ? atoi(value) : 0;
        if (limit < 1 || limit > API_JOBS_LIMIT_MAX) {
            http_reply_problem(req, 400, NULL, "limit must be an integer from 1 to %d",
                               API_JOBS_LIMIT_MAX);
            return;
        }
    }
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
    if (!s_uuid_arg(id_arg, id)) {
        http_reply_problem(req, 404, NULL, "no job with this id");
        return;
    }
    char *json = NULL;
    size_t len = 0;
    const char *owner = user->role == AUTH_ROLE_ADMIN ? NULL : user->id;
    switch (db_job_json(self->db, id, owner, &json, &len)) {
    case DB_OK:
        http_reply_json(req, 200, NULL, json, len);
        free(json);
        break;
    case DB_NOT_FOUND:
        http_reply_problem(req, 404, NULL, "no job with this id");
        break;
    case DB_UNAVAILABLE:
        s_reply_unavailable(req, "the database");
        break;
    }
}

static void
s_course_get(api_t *self, http_request_t *req, const char *id_arg)
{
    char id[PROTO_UUID_LEN + 1];
    if (!s_uuid_arg(id_arg, id)) {
        http_reply_problem(req, 404, NULL, "no course with this id");
        return;
    }
    char *json = NULL;
    size_t len = 0;
    switch (db_course_json(self->db, id, &json, &len)) {
    case DB_OK:
        http_reply_json(req, 200, NULL, json, len);
        free(json);
        break;
    case DB_NOT_FOUND:
        http_reply_problem(req, 404, NULL, "no course with this id");
        break;
    case DB_UNAVAILABLE:
        s_reply_unavailable(req, "the database");
        break;
    }
}

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
    bool ok = broker && database;
    bool details = broker && pong.ok;

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
    static const char body[] = "{\"service\":\"profai\",\"api\":\"/api/v1\","
                               "\"docs\":\"docs/api.md\"}";
    http_reply_json(req, 200, NULL, body, sizeof body - 1);
}

/* ---------------------------------------------------------------- routing */

static route_t
s_route(const char *path, const char **id)
{
    static const char jobs[] = "/api/v1/jobs/", courses[] = "/api/v1/courses/";
    if (strcmp(path, "/") == 0)
        return ROUTE_INDEX;
    if (strcmp(path, "/healthz") == 0)
        return ROUTE_HEALTH;
    if (strcmp(path, "/api/v1/jobs") == 0)
        return ROUTE_JOBS;
    if (strncmp(path, jobs, sizeof jobs - 1) == 0 && strchr(path + sizeof jobs - 1, '/') == NULL) {
        *id = path + sizeof jobs - 1;
        return ROUTE_JOB;
    }
    if (strncmp(path, courses, sizeof courses - 1) == 0 &&
        strchr(path + sizeof courses - 1, '/') == NULL) {
        *id = path + sizeof courses - 1;
        return ROUTE_COURSE;
    }
    return ROUTE_NONE;
}

void
api_handle(http_request_t *req, void *arg)
{
    api_t *self = arg;
    const char *id = NULL;
    route_t route = s_route(req->path, &id);
    if (route == ROUTE_NONE) {
        http_reply_problem(req, 404, NULL, "no such resource");
        return;
    }
    bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    bool post = strcmp(req->method, "POST") == 0;
    if (!get && !(post && route == ROUTE_JOBS)) {
        http_reply_problem(
            req, 405, route == ROUTE_JOBS ? "Allow: GET, HEAD, POST\r\n" : "Allow: GET, HEAD\r\n",
            "%s is not allowed here", req->method);
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
        if (post)
            s_jobs_post(self, req, &user);
        else
            s_jobs_get(self, req, &user);
        break;
    case ROUTE_JOB:
        s_job_get(self, req, &user, id);
        break;
    case ROUTE_COURSE:
        s_course_get(self, req, id);
        break;
    default:
        http_reply_problem(req, 404, NULL, "no such resource");
        break;
    }
}
