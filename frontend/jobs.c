/* jobs.c - see jobs.h. */
#define _GNU_SOURCE
#include "jobs.h"

#include "api_common.h"
#include "error_http.h"
#include "form_upload.h"
#include "idempotency.h"
#include "job_stream.h"
#include "log.h"
#include "page.h"
#include "utf8.h"

#include <profai/proto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A multipart form may exceed max_upload by this much (boundaries, part headers, title). */
#define JOBS_FORM_OVERHEAD (64 * 1024)
/* The PDF header must appear within the first bytes of the file (docs/api.md 4.1). */
#define JOBS_PDF_SNIFF 1024
/* Longest file name read from a form before refusing it (the limit itself is smaller). */
#define JOBS_FILENAME_READ_MAX 1024
#define JOBS_DEFAULT_FILENAME "upload.pdf"
#define JOBS_DEFAULT_TITLE "Untitled"
/* The kinds of the cursors of the job list and of a job's events (page.h). */
#define JOBS_CURSOR_KIND 'j'
#define JOBS_EVENTS_CURSOR_KIND 'e'

/* ---------------------------------------------------------------- upload */

typedef struct {
    char title[PROTO_TITLE_MAX + 1];
    char filename[PROTO_FILENAME_MAX + 1];
    size_t pdf_len;
} s_upload_t;

static bool
s_looks_like_pdf(const uint8_t *data, size_t len)
{
    return memmem(data, len < JOBS_PDF_SNIFF ? len : JOBS_PDF_SNIFF, "%PDF-", 5) != NULL;
}

/* The default title: the file name without ".pdf", cut to the title limit on a character
 * boundary; "Untitled" when that leaves nothing. */
static void
s_default_title(const char *filename, char *title, size_t size)
{
    size_t len = strlen(filename);
    if (len >= 4 && strcasecmp(filename + len - 4, ".pdf") == 0)
        len -= 4;
    len = utf8_cut(filename, strlen(filename), len < PROTO_TITLE_MAX ? len : PROTO_TITLE_MAX);
    if (len == 0 || len >= size) {
        snprintf(title, size, "%s", JOBS_DEFAULT_TITLE);
        return;
    }
    memcpy(title, filename, len);
    title[len] = '\0';
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
                           JOBS_PDF_SNIFF);
        break;
    case HTTP_BODY_MALFORMED:
        http_reply_problem(req, 400, NULL, "%s", why ? why : "malformed request body");
        break;
    case HTTP_BODY_IO:
        http_reply_problem(req, 400, NULL, "the request body ended early");
        break;
    case HTTP_BODY_NOMEM:
    case HTTP_BODY_OK:
        api_reply_unavailable(req, "memory for the upload");
        break;
    }
}

/* The reader the database pulls the PDF through (db_blob_store_stream, db_blob_store_pieces):
 * the raw body, or the file part of a form (form_upload.h); it checks the PDF header in the
 * first JOBS_PDF_SNIFF bytes and keeps the reason of a failed read. */
typedef struct {
    http_request_t *req;
    form_upload_t *form;       /* NULL: the raw body */
    http_body_status_t status; /* why the read was abandoned; HTTP_BODY_OK while it was not */
    size_t total;              /* bytes given so far */
    uint8_t sniff[JOBS_PDF_SNIFF];
    size_t sniffed;
    bool checked;
} s_stream_t;

static long
s_stream_read(void *arg, uint8_t *buf, size_t size)
{
    s_stream_t *st = arg;
    long n;
    if (st->form != NULL) {
        n = form_upload_read(st->form, buf, size);
        if (n < 0)
            st->status = st->form->status;
    } else {
        n = (long)http_body_read_some(st->req, buf, size, &st->status);
    }
    if (n < 0)
        return -1;
    st->total += (size_t)n;
    if (!st->checked) {
        size_t take =
            (size_t)n < sizeof st->sniff - st->sniffed ? (size_t)n : sizeof st->sniff - st->sniffed;
        memcpy(st->sniff + st->sniffed, buf, take);
        st->sniffed += take;
        if (n == 0 || st->sniffed == sizeof st->sniff) {
            st->checked = true;
            if (!s_looks_like_pdf(st->sniff, st->sniffed)) {
                st->status = HTTP_BODY_REJECTED;
                return -1;
            }
        }
    }
    return n;
}

/* Take a streamed form's title and file name into up. 0, or -1 with the answer sent. */
static int
s_form_fields(http_request_t *req, const form_upload_t *form, s_upload_t *up)
{
    if (form->title_found && !route_text_ok(form->title, form->title_len, PROTO_TITLE_MAX)) {
        http_reply_problem(req, 400, NULL,
                           "title must be valid UTF-8 text without control characters");
        return -1;
    }
    memcpy(up->title, form->title, form->title_len);
    up->title[form->title_len] = '\0';

    /* The client's file name is information only: keep its last path component. */
    const char *base = form->filename;
    for (const char *p = form->filename; *p != '\0'; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    size_t len = strlen(base);
    if (form->filename_long || len >= JOBS_FILENAME_READ_MAX ||
        !route_text_ok(base, len, PROTO_FILENAME_MAX)) {
        http_reply_problem(req, 400, NULL,
                           "the file name must be valid UTF-8 of at most %d bytes without "
                           "control characters",
                           PROTO_FILENAME_MAX);
        return -1;
    }
    memcpy(up->filename, base, len + 1);
    return 0;
}

/* Seconds a teacher over the queued-jobs quota is told to wait (Retry-After): about the time
 * a few of its jobs take to run. */
#define QUOTA_RETRY_AFTER_S 60

/* The broker refused a submission for one of the teacher's quotas (docs/api.md 4.1): a problem
 * document of type quota-exceeded whose member `quota` says which, with the broker's sentence
 * (it has the numbers) as its detail. */
static void
s_reply_quota(http_request_t *req, profai_error_t code, const char *detail)
{
    const error_http_t *http = error_http_of(code);
    bool queue = code == PROFAI_ERR_QUEUE_QUOTA;
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "type");
    json_cstring(&j, "urn:profai:problem:quota-exceeded");
    json_key(&j, "title");
    json_cstring(&j, http->title);
    json_key(&j, "status");
    json_int(&j, http->status);
    json_key(&j, "detail");
    json_cstring(&j, detail);
    json_key(&j, "quota");
    json_cstring(&j, queue ? "queued_jobs" : "stored_bytes");
    json_object_end(&j);
    char headers[48];
    snprintf(headers, sizeof headers, "Retry-After: %d\r\n", QUOTA_RETRY_AFTER_S);
    if (json_failed(&j))
        http_reply_problem(req, 500, NULL, "out of memory");
    else
        http_reply(req, http->status, "application/problem+json", queue ? headers : NULL, j.data,
                   j.len);
    json_free(&j);
}

static void s_submit_claimed(api_call_t *call, s_upload_t *up, const char *sha256, const char *key);

/* The 202 of a submitted job (or of its replay: replayed). */
static void
s_reply_accepted(http_request_t *req, const char *job_id, const char *body, size_t len,
                 bool replayed)
{
    char headers[192];
    snprintf(headers, sizeof headers, "Location: /api/v1/jobs/%s\r\n%s", job_id,
             replayed ? "Idempotent-Replayed: true\r\n" : "");
    http_reply_json(req, 202, headers, body, len);
}

/* An upload with an Idempotency-Key (idempotency.h): true when the caller goes on to submit
 * (the key is claimed), false when the answer was sent (the first answer again, 422, 409 or
 * 503). */
static bool
s_idempotency_begin(api_call_t *call, const char *key, const s_upload_t *up, const char *sha256)
{
    http_request_t *req = call->req;
    char fingerprint[IDEMPOTENCY_FINGERPRINT_SIZE], job_id[37] = "";
    idempotency_fingerprint(sha256, up->title, up->filename, fingerprint);
    int status = 0;
    char *answer = NULL;
    switch (idempotency_begin(call->api->db, call->user->id, key, fingerprint, &status, job_id,
                              &answer)) {
    case IDEMPOTENCY_NEW:
        return true;
    case IDEMPOTENCY_REPLAY:
        log_info("job=%s upload by %s repeated with its Idempotency-Key: first answer again",
                 job_id, call->user->name);
        if (status == 202)
            s_reply_accepted(req, job_id, answer, strlen(answer), true);
        else
            http_reply_json(req, status, "Idempotent-Replayed: true\r\n", answer, strlen(answer));
        free(answer);
        return false;
    case IDEMPOTENCY_MISMATCH:
        http_reply_problem(req, 422, NULL,
                           "this Idempotency-Key was used for another upload in the last 24 hours");
        return false;
    case IDEMPOTENCY_IN_FLIGHT:
        http_reply_problem(req, 409, API_RETRY_AFTER,
                           "an upload with this Idempotency-Key is still being submitted");
        return false;
    case IDEMPOTENCY_FAILED:
        break;
    }
    api_reply_unavailable(req, "the database");
    return false;
}

/* Hand the stored PDF to the broker and answer 202 (or 429/403 for a quota, 503/500); with an
 * Idempotency-Key (NULL: none), only the first time. */
static void
s_submit(api_call_t *call, s_upload_t *up, const char *sha256, const char *key)
{
    http_request_t *req = call->req;
    const auth_user_t *user = call->user;
    broker_client_t *broker = api_broker(call);
    if (broker == NULL) {
        api_reply_unavailable(req, "the broker");
        return;
    }
    if (key != NULL && !s_idempotency_begin(call, key, up, sha256))
        return;
    s_submit_claimed(call, up, sha256, key);
    if (key != NULL && req->status != 202 &&
        idempotency_release(call->api->db, user->id, key) != DB_OK)
        log_warn("upload by %s made no job; its Idempotency-Key stays claimed until it expires",
                 user->name);
}

/* s_submit once the key, if any, is claimed: the answer of a job made is recorded under it. */
static void
s_submit_claimed(api_call_t *call, s_upload_t *up, const char *sha256, const char *key)
{
    http_request_t *req = call->req;
    const auth_user_t *user = call->user;
    broker_client_t *broker = api_broker(call);
    proto_submit_t submit;
    memset(&submit, 0, sizeof submit);
    snprintf(submit.owner, sizeof submit.owner, "%s", user->id);
    snprintf(submit.title, sizeof submit.title, "%s", up->title);
    snprintf(submit.filename, sizeof submit.filename, "%s", up->filename);
    snprintf(submit.sha256, sizeof submit.sha256, "%s", sha256);
    proto_submitted_t reply;
    char err[256];
    if (broker_client_submit(broker, &submit, &reply, err, sizeof err) != 0) {
        log_warn("upload by %s not submitted: %s", user->name, err);
        api_reply_unavailable(req, "the broker");
        return;
    }
    if (!reply.ok) {
        profai_error_t code = profai_error_from_name(reply.error_code);
        if (code == PROFAI_ERR_QUEUE_QUOTA || code == PROFAI_ERR_STORAGE_QUOTA) {
            log_info("upload by %s refused: %s %s", user->name, reply.error_code, reply.error);
            s_reply_quota(req, code, reply.error);
        } else if (error_http_of_name(reply.error_code)->status == 503) {
            log_warn("broker refused the upload by %s: %s %s", user->name, reply.error_code,
                     reply.error);
            http_reply_problem(req, 503, API_RETRY_AFTER,
                               "the broker cannot take jobs right now (%s); retry later",
                               reply.error_code);
        } else { /* nothing the client can fix: whatever the code, a submission refused is ours */
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
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    jobs_accepted_members(&j, reply.job_id, reply.state, location);
    json_object_end(&j);
    if (json_failed(&j)) {
        http_reply_problem(req, 500, NULL, "out of memory");
    } else {
        if (key != NULL &&
            idempotency_finish(call->api->db, user->id, key, reply.job_id, 202, j.data) != DB_OK)
            log_warn(
                "job=%s: its Idempotency-Key could not be recorded; a repeat makes another job",
                reply.job_id);
        s_reply_accepted(req, reply.job_id, j.data, j.len, false);
    }
    json_free(&j);
}

void
jobs_accepted_members(json_t *j, const char *job_id, const char *state, const char *location)
{
    json_key(j, "job_id");
    json_cstring(j, job_id);
    json_key(j, "state");
    json_cstring(j, state);
    json_key(j, "status_url");
    json_cstring(j, location);
}

void
jobs_submit(api_call_t *call)
{
    api_t *self = call->api;
    http_request_t *req = call->req;
    bool multipart = http_content_type_is(req, "multipart/form-data");
    const char *key = http_header(req, "Idempotency-Key");
    if (key != NULL && !idempotency_key_ok(key)) {
        http_reply_problem(req, 400, NULL,
                           "Idempotency-Key must be 1 to %d visible ASCII characters",
                           IDEMPOTENCY_KEY_MAX);
        return;
    }
    s_upload_t up;
    memset(&up, 0, sizeof up);
    if (!multipart) { /* the route table checked them (and skips them for a form) */
        snprintf(up.title, sizeof up.title, "%s", route_text(call->route, "title"));
        snprintf(up.filename, sizeof up.filename, "%s", route_text(call->route, "filename"));
    }
    long long length = http_content_length(req);
    size_t limit = self->max_upload + (multipart ? JOBS_FORM_OVERHEAD : 0);
    if (length > 0 && (unsigned long long)length > limit) {
        http_close_after(req);
        http_reply_problem(req, 413, NULL, "the PDF is larger than %zu bytes", self->max_upload);
        return;
    }
    if (http_send_continue(req) != 0)
        return; /* the client is gone */

    http_body_begin(req, self->body_timeout_ms);
    /* The PDF streams into PostgreSQL piece by piece, from a raw body or a form's file part:
     * the frontend never holds more than one piece of it (docs/performance.md "Upload
     * memory"). A raw body of known length is one COPY row; a form or a chunked body, whose
     * PDF length is known only at its end, goes in pieces that PostgreSQL joins. */
    s_stream_t st = {.req = req, .status = HTTP_BODY_OK};
    form_upload_t form;
    bool form_ok = !multipart || form_upload_begin(&form, req, self->max_upload, limit) == 0;
    char sum[65];
    db_status_t stored = DB_LIMIT;
    if (!form_ok) {
        st.status = form.status;
    } else if (multipart) {
        st.form = &form;
        stored =
            db_blob_store_pieces(self->db, self->max_upload, s_stream_read, &st, sum, &up.pdf_len);
    } else if (length > 0) {
        stored = db_blob_store_stream(self->db, (size_t)length, s_stream_read, &st, sum);
        up.pdf_len = (size_t)length;
    } else {
        stored =
            db_blob_store_pieces(self->db, self->max_upload, s_stream_read, &st, sum, &up.pdf_len);
    }
    http_body_end(req);
    int fields = 0;
    if (stored == DB_LIMIT && multipart && st.status == HTTP_BODY_TOO_LARGE && form.title_long)
        http_reply_problem(req, 400, NULL, "title is longer than %d bytes", PROTO_TITLE_MAX);
    else if (stored == DB_LIMIT && st.status == HTTP_BODY_OK) /* the store refused the length */
        s_reply_body_failure(
            self, req, st.total > self->max_upload ? HTTP_BODY_TOO_LARGE : HTTP_BODY_IO, NULL);
    else if (stored == DB_LIMIT)
        s_reply_body_failure(self, req, st.status, multipart ? form.why : NULL);
    else if (stored != DB_OK)
        api_reply_unavailable(req, "the database");
    else if (multipart)
        fields = s_form_fields(req, &form, &up);
    if (multipart)
        form_upload_fini(&form);
    if (stored != DB_OK || fields != 0)
        return;
    if (up.title[0] == '\0')
        s_default_title(up.filename, up.title, sizeof up.title);
    if (up.filename[0] == '\0')
        snprintf(up.filename, sizeof up.filename, "%s", JOBS_DEFAULT_FILENAME);
    s_submit(call, &up, sum, key);
}

/* ---------------------------------------------------------------- reads */

/* GET /api/v1/jobs: newest first, a page at a time (docs/api.md 4.3). */
void
jobs_list(api_call_t *call)
{
    char *json = NULL;
    size_t len = 0;
    db_page_t page;
    page_cursor_t cursor;
    db_page_end_t end;
    if (!api_page_take(call, JOBS_CURSOR_KIND, true, &page, &cursor))
        return;
    if (db_jobs_json(call->api->db, api_owner_filter(call->user), &page, &json, &len, &end) !=
        DB_OK) {
        api_reply_unavailable(call->req, "the database");
        return;
    }
    api_reply_list(call, NULL, NULL, "jobs", json, len, JOBS_CURSOR_KIND, &end);
}

void
jobs_get(api_call_t *call)
{
    char *json = NULL;
    size_t len = 0;
    db_status_t status = db_job_json(call->api->db, route_text(call->route, "id"),
                                     api_owner_filter(call->user), &json, &len);
    api_reply_db_json(call->req, status, 200, json, len, "job");
}

/* GET /api/v1/jobs/{id}/events: the job's history, oldest first, a page at a time, to its
 * owner and admins (docs/api.md 4.14); with Accept: text/event-stream, a stream (job_stream.h). */
void
jobs_events(api_call_t *call)
{
    char *json = NULL;
    size_t len = 0;
    db_page_t page;
    page_cursor_t cursor;
    db_page_end_t end;
    if (job_stream_wanted(call->req)) {
        job_stream_serve(call);
        return;
    }
    if (!api_page_take(call, JOBS_EVENTS_CURSOR_KIND, false, &page, &cursor))
        return;
    const char *id = route_text(call->route, "id");
    db_status_t status = db_job_events_json(call->api->db, id, api_owner_filter(call->user), &page,
                                            &json, &len, &end);
    if (status != DB_OK) {
        api_reply_not_ok(call->req, status, "job");
        return;
    }
    api_reply_list(call, "job_id", id, "events", json, len, JOBS_EVENTS_CURSOR_KIND, &end);
}

/* ---------------------------------------------------------------- cancellation */

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
void
jobs_cancel(api_call_t *call)
{
    api_t *self = call->api;
    http_request_t *req = call->req;
    const auth_user_t *user = call->user;
    const char *id = route_text(call->route, "id");
    char owner[37], state[16];
    db_status_t status = db_job_owner(self->db, id, api_owner_filter(user), owner, state);
    if (status != DB_OK) {
        api_reply_not_ok(req, status, "job");
        return;
    }
    if (s_state_final(state)) { /* final states never change: no need to ask the broker */
        api_reply_conflict(req, state, "the job has already ended");
        return;
    }
    broker_client_t *broker = api_broker(call);
    proto_cancelled_t reply;
    char err[256] = "no broker client";
    if (broker == NULL || broker_client_cancel(broker, owner, id, &reply, err, sizeof err) != 0) {
        log_warn("job=%s cancel by %s not delivered: %s", id, user->name, err);
        api_reply_unavailable(req, "the broker");
        return;
    }
    if (reply.ok) {
        log_info("job=%s cancelled by %s", id, user->name);
        s_reply_cancelled(self, req, id);
        return;
    }
    switch (error_http_of_name(reply.error_code)->status) {
    case 409:
        api_reply_conflict(req, reply.state[0] ? reply.state : NULL, "the job has already ended");
        break;
    case 404:
        http_reply_problem(req, 404, NULL, "no job with this id");
        break;
    case 503:
        log_warn("job=%s cancel by %s refused: %s %s", id, user->name, reply.error_code,
                 reply.error);
        http_reply_problem(req, 503, API_RETRY_AFTER,
                           "the broker cannot cancel jobs right now (%s); retry later",
                           reply.error_code);
        break;
    default:
        log_error("job=%s cancel by %s refused: %s %s", id, user->name, reply.error_code,
                  reply.error);
        http_reply_problem(req, 500, NULL, "the broker refused the cancellation (%s)",
                           reply.error_code);
        break;
    }
}
