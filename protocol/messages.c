/*
 * messages.c - the messages of the ProfAI protocol as data (docs/protocol.md section 3), and
 * the typed functions of profai/proto.h over them.
 *
 * Each table lists a message's fields in wire order after `v`; protocol/body.c encodes and
 * decodes any message from its table. To add a message: a struct in proto.h, a table and a
 * PROTO_MESSAGE here (and in proto_messages), its two one-line wrappers, and a section in
 * docs/protocol.md.
 */
#include "proto_internal.h"

#include "utf8.h"

#include <stdlib.h>
#include <string.h>

/* Fields several messages share; a table names its `ok` field by index in PROTO_MESSAGE. */
#define S_RID(T) PROTO_F_UINT(T, rid, "rid", PROTO_REQUIRED, 0, UINT64_MAX)
#define S_OK(T) PROTO_F_BOOL(T, ok, "ok", PROTO_REQUIRED)
#define S_ERROR_CODE(T)                                                                            \
    PROTO_F_STR(T, error_code, "error_code", PROTO_WHEN_NOT_OK, 1, PROTO_CODE_MAX)
#define S_ERROR(T) PROTO_F_STR(T, error, "error", PROTO_OPTIONAL, 0, PROTO_ERROR_MAX)

/* ---------------------------------------------------------------- worker messages */

static const proto_field_t s_job_fields[] = {
    PROTO_F_UUID(proto_job_t, job_id, "job_id", PROTO_REQUIRED),
    PROTO_F_UINT(proto_job_t, attempt, "attempt", PROTO_REQUIRED, 1, UINT32_MAX),
    PROTO_F_STR(proto_job_t, title, "title", PROTO_REQUIRED, 0, PROTO_TITLE_MAX),
    PROTO_F_STR(proto_job_t, filename, "filename", PROTO_REQUIRED, 0, PROTO_FILENAME_MAX),
    PROTO_F_SHA256(proto_job_t, sha256, "sha256", PROTO_REQUIRED),
    PROTO_F_BIN(proto_job_t, pdf, pdf_len, "pdf", PROTO_REQUIRED, 0, PROTO_PDF_MAX),
    PROTO_F_UINT(proto_job_t, pdf_size, "pdf_size", PROTO_OPTIONAL, 0, PROTO_PDF_MAX),
    PROTO_F_STR(proto_job_t, pdf_endpoint, "pdf_endpoint", PROTO_OPTIONAL, 0, PROTO_ENDPOINT_MAX),
};
const proto_message_t proto_message_job = PROTO_MESSAGE("JOB", proto_job_t, s_job_fields, -1);

static const proto_field_t s_progress_fields[] = {
    PROTO_F_UINT(proto_progress_t, progress, "progress", PROTO_REQUIRED, 0, 100),
    PROTO_F_STR(proto_progress_t, stage, "stage", PROTO_REQUIRED, 0, PROTO_STAGE_MAX),
    PROTO_F_UINT(proto_progress_t, page, "page", PROTO_OPTIONAL, 0, UINT32_MAX),
    PROTO_F_UINT(proto_progress_t, pages, "pages", PROTO_OPTIONAL, 0, UINT32_MAX),
};
const proto_message_t proto_message_progress =
    PROTO_MESSAGE("PROGRESS", proto_progress_t, s_progress_fields, -1);

static const proto_field_t s_result_fields[] = {
    S_OK(proto_result_t),
    PROTO_F_BIN(proto_result_t, course, course_len, "course", PROTO_WHEN_OK, 1, PROTO_COURSE_MAX),
    S_ERROR_CODE(proto_result_t),
    S_ERROR(proto_result_t),
};
const proto_message_t proto_message_result =
    PROTO_MESSAGE("RESULT", proto_result_t, s_result_fields, 0);

/* ---------------------------------------------------------------- client messages */

static const proto_field_t s_submit_fields[] = {
    S_RID(proto_submit_t),
    PROTO_F_UUID(proto_submit_t, owner, "owner", PROTO_REQUIRED),
    PROTO_F_STR(proto_submit_t, title, "title", PROTO_REQUIRED, 0, PROTO_TITLE_MAX),
    PROTO_F_STR(proto_submit_t, filename, "filename", PROTO_REQUIRED, 0, PROTO_FILENAME_MAX),
    PROTO_F_SHA256(proto_submit_t, sha256, "sha256", PROTO_REQUIRED),
};
const proto_message_t proto_message_submit =
    PROTO_MESSAGE("SUBMIT", proto_submit_t, s_submit_fields, -1);

static const proto_field_t s_submitted_fields[] = {
    S_RID(proto_submitted_t),
    S_OK(proto_submitted_t),
    PROTO_F_UUID(proto_submitted_t, job_id, "job_id", PROTO_WHEN_OK),
    PROTO_F_STR(proto_submitted_t, state, "state", PROTO_WHEN_OK, 1, PROTO_STATE_MAX),
    S_ERROR_CODE(proto_submitted_t),
    S_ERROR(proto_submitted_t),
};
const proto_message_t proto_message_submitted =
    PROTO_MESSAGE("SUBMITTED", proto_submitted_t, s_submitted_fields, 1);

static const proto_field_t s_ping_fields[] = {S_RID(proto_ping_t)};
const proto_message_t proto_message_ping = PROTO_MESSAGE("PING", proto_ping_t, s_ping_fields, -1);

static const proto_field_t s_pong_fields[] = {
    S_RID(proto_pong_t),
    S_OK(proto_pong_t),
    PROTO_F_BOOL(proto_pong_t, db, "db", PROTO_REQUIRED),
    PROTO_F_UINT(proto_pong_t, workers, "workers", PROTO_REQUIRED, 0, UINT64_MAX),
    PROTO_F_UINT(proto_pong_t, queued, "queued", PROTO_REQUIRED, 0, UINT64_MAX),
    PROTO_F_UINT(proto_pong_t, running, "running", PROTO_REQUIRED, 0, UINT64_MAX),
    PROTO_F_UINT(proto_pong_t, processes, "processes", PROTO_OPTIONAL, 0, UINT64_MAX),
};
const proto_message_t proto_message_pong = PROTO_MESSAGE("PONG", proto_pong_t, s_pong_fields, 1);

static const proto_field_t s_cancel_fields[] = {
    S_RID(proto_cancel_t),
    PROTO_F_UUID(proto_cancel_t, owner, "owner", PROTO_REQUIRED),
    PROTO_F_UUID(proto_cancel_t, job_id, "job_id", PROTO_REQUIRED),
};
const proto_message_t proto_message_cancel =
    PROTO_MESSAGE("CANCEL", proto_cancel_t, s_cancel_fields, -1);

/* `state` also comes with already_final (the job's final state). */
static const proto_field_t s_cancelled_fields[] = {
    S_RID(proto_cancelled_t),
    S_OK(proto_cancelled_t),
    PROTO_F_STR(proto_cancelled_t, state, "state", PROTO_REQUIRED_WHEN_OK, 1, PROTO_STATE_MAX),
    S_ERROR_CODE(proto_cancelled_t),
    S_ERROR(proto_cancelled_t),
};
const proto_message_t proto_message_cancelled =
    PROTO_MESSAGE("CANCELLED", proto_cancelled_t, s_cancelled_fields, 1);

/* ---------------------------------------------------------------- blob endpoint (1.2) */

static const proto_field_t s_fetch_fields[] = {
    PROTO_F_STR(proto_fetch_t, token, "token", PROTO_REQUIRED, 1, PROTO_ADDRESS_MAX),
    PROTO_F_UINT(proto_fetch_t, offset, "offset", PROTO_REQUIRED, 0, PROTO_PDF_MAX),
    PROTO_F_UINT(proto_fetch_t, size, "size", PROTO_REQUIRED, 1, PROTO_CHUNK_MAX),
};
const proto_message_t proto_message_fetch =
    PROTO_MESSAGE("FETCH", proto_fetch_t, s_fetch_fields, -1);

static const proto_field_t s_chunk_fields[] = {
    S_OK(proto_chunk_t),
    PROTO_F_UINT(proto_chunk_t, offset, "offset", PROTO_WHEN_OK, 0, PROTO_PDF_MAX),
    PROTO_F_UINT(proto_chunk_t, total, "total", PROTO_WHEN_OK, 0, PROTO_PDF_MAX),
    PROTO_F_BIN(proto_chunk_t, data, data_len, "data", PROTO_WHEN_OK, 0, PROTO_CHUNK_MAX),
    S_ERROR_CODE(proto_chunk_t),
    S_ERROR(proto_chunk_t),
};
const proto_message_t proto_message_chunk =
    PROTO_MESSAGE("CHUNK", proto_chunk_t, s_chunk_fields, 0);

const proto_message_t *const proto_messages[PROTO_MESSAGE_COUNT] = {
    &proto_message_job,       &proto_message_progress, &proto_message_result, &proto_message_submit,
    &proto_message_submitted, &proto_message_ping,     &proto_message_pong,   &proto_message_cancel,
    &proto_message_cancelled, &proto_message_fetch,    &proto_message_chunk,
};

/* ---------------------------------------------------------------- typed wrappers */

#define S_TYPED(name, T)                                                                           \
    int proto_##name##_encode(const T *m, proto_buf_t *out, proto_error_t *err)                    \
    {                                                                                              \
        return proto_message_encode(&proto_message_##name, m, out, err);                           \
    }                                                                                              \
    int proto_##name##_decode(const uint8_t *data, size_t len, T *m, proto_error_t *err)           \
    {                                                                                              \
        return proto_message_decode(&proto_message_##name, data, len, m, err);                     \
    }

S_TYPED(job, proto_job_t)
S_TYPED(progress, proto_progress_t)
S_TYPED(result, proto_result_t)
S_TYPED(submit, proto_submit_t)
S_TYPED(submitted, proto_submitted_t)
S_TYPED(ping, proto_ping_t)
S_TYPED(pong, proto_pong_t)
S_TYPED(cancel, proto_cancel_t)
S_TYPED(cancelled, proto_cancelled_t)
S_TYPED(fetch, proto_fetch_t)
S_TYPED(chunk, proto_chunk_t)

/* ---------------------------------------------------------------- error reply */

int
proto_error_reply_encode(uint64_t rid, const char *code, const char *detail, proto_buf_t *out)
{
    proto_submitted_t *m = calloc(1, sizeof *m);
    int rc = -1;
    if (out != NULL)
        *out = (proto_buf_t){0};
    if (m == NULL || out == NULL || code == NULL)
        goto fail;
    if (proto_strlen_max(code, PROTO_CODE_MAX) > PROTO_CODE_MAX)
        goto fail;
    m->rid = rid;
    m->ok = false;
    strcpy(m->error_code, code);
    if (detail != NULL) {
        /* A reply must always go out: a long detail is cut, not refused. */
        size_t n = utf8_cut(detail, strlen(detail), PROTO_ERROR_MAX);
        memcpy(m->error, detail, n);
        m->error[n] = '\0';
    }
    rc = proto_submitted_encode(m, out, NULL);
fail:
    free(m);
    return rc;
}
