/*
 * admin_messages.c - the admin socket's messages as data (docs/admin.md section 3); encoded
 * and decoded by protocol/body.c like every other message.
 */
#include "profai/admin_proto.h"

#define S_RID(T) PROTO_F_UINT(T, rid, "rid", PROTO_REQUIRED, 0, UINT64_MAX)
#define S_OK(T) PROTO_F_BOOL(T, ok, "ok", PROTO_REQUIRED)
#define S_ERROR_CODE(T)                                                                            \
    PROTO_F_STR(T, error_code, "error_code", PROTO_WHEN_NOT_OK, 1, PROTO_CODE_MAX)
#define S_ERROR(T) PROTO_F_STR(T, error, "error", PROTO_OPTIONAL, 0, PROTO_ERROR_MAX)
#define S_OPT_STR(T, M, key, max) PROTO_F_STR(T, M, key, PROTO_OPTIONAL, 0, max)
#define S_UINT(T, M, key, presence) PROTO_F_UINT(T, M, key, presence, 0, UINT64_MAX)

static const proto_field_t s_request_fields[] = {
    S_RID(admin_request_t),
    PROTO_F_UUID(admin_request_t, job_id, "job_id", PROTO_OPTIONAL),
    S_OPT_STR(admin_request_t, worker, "worker", ADMIN_NAME_MAX),
    S_OPT_STR(admin_request_t, service, "service", PROTO_SERVICE_MAX),
    S_OPT_STR(admin_request_t, state, "state", PROTO_STATE_MAX),
    PROTO_F_UUID(admin_request_t, owner, "owner", PROTO_OPTIONAL),
    PROTO_F_UINT(admin_request_t, limit, "limit", PROTO_OPTIONAL, 0, ADMIN_LIMIT_MAX),
    S_OPT_STR(admin_request_t, level, "level", PROTO_STATE_MAX),
};
const proto_message_t admin_message_request =
    PROTO_MESSAGE("ADMIN_REQUEST", admin_request_t, s_request_fields, -1);

static const proto_field_t s_done_fields[] = {
    S_RID(admin_done_t),
    S_OK(admin_done_t),
    S_UINT(admin_done_t, rows, "rows", PROTO_OPTIONAL),
    S_OPT_STR(admin_done_t, state, "state", PROTO_STATE_MAX),
    S_ERROR_CODE(admin_done_t),
    S_ERROR(admin_done_t),
};
const proto_message_t admin_message_done =
    PROTO_MESSAGE("ADMIN_DONE", admin_done_t, s_done_fields, 1);

static const proto_field_t s_status_fields[] = {
    S_RID(admin_status_t),
    S_OK(admin_status_t),
    PROTO_F_STR(admin_status_t, version, "version", PROTO_WHEN_OK, 1, ADMIN_VERSION_MAX),
    PROTO_F_STR(admin_status_t, role, "role", PROTO_WHEN_OK, 1, PROTO_STATE_MAX),
    S_UINT(admin_status_t, uptime_ms, "uptime_ms", PROTO_WHEN_OK),
    PROTO_F_BOOL(admin_status_t, db_up, "db_up", PROTO_WHEN_OK),
    S_UINT(admin_status_t, db_rtt_us, "db_rtt_us", PROTO_OPTIONAL),
    S_UINT(admin_status_t, pending_writes, "pending_writes", PROTO_WHEN_OK),
    S_ERROR_CODE(admin_status_t),
    S_ERROR(admin_status_t),
};
const proto_message_t admin_message_status =
    PROTO_MESSAGE("ADMIN_STATUS", admin_status_t, s_status_fields, 1);

static const proto_field_t s_count_fields[] = {
    S_RID(admin_count_t),
    PROTO_F_STR(admin_count_t, scope, "scope", PROTO_REQUIRED, 1, PROTO_STATE_MAX),
    PROTO_F_STR(admin_count_t, name, "name", PROTO_REQUIRED, 1, ADMIN_NAME_MAX),
    S_UINT(admin_count_t, count, "count", PROTO_REQUIRED),
    S_UINT(admin_count_t, oldest_ms, "oldest_ms", PROTO_OPTIONAL),
};
const proto_message_t admin_message_count =
    PROTO_MESSAGE("ADMIN_COUNT", admin_count_t, s_count_fields, -1);

static const proto_field_t s_worker_fields[] = {
    S_RID(admin_worker_t),
    PROTO_F_STR(admin_worker_t, name, "name", PROTO_REQUIRED, 1, ADMIN_NAME_MAX),
    PROTO_F_STR(admin_worker_t, identity, "identity", PROTO_REQUIRED, 1, ADMIN_IDENTITY_HEX_MAX),
    PROTO_F_STR(admin_worker_t, service, "service", PROTO_REQUIRED, 1, PROTO_SERVICE_MAX),
    PROTO_F_STR(admin_worker_t, state, "state", PROTO_REQUIRED, 1, PROTO_STATE_MAX),
    PROTO_F_BOOL(admin_worker_t, draining, "draining", PROTO_REQUIRED),
    PROTO_F_UUID(admin_worker_t, job_id, "job_id", PROTO_OPTIONAL),
    S_UINT(admin_worker_t, since_ms, "since_ms", PROTO_REQUIRED),
    S_UINT(admin_worker_t, heartbeat_ms, "heartbeat_ms", PROTO_REQUIRED),
    S_UINT(admin_worker_t, done, "done", PROTO_REQUIRED),
    S_UINT(admin_worker_t, failed, "failed", PROTO_REQUIRED),
    S_OPT_STR(admin_worker_t, host, "host", ADMIN_HOST_MAX),
    PROTO_F_UINT(admin_worker_t, pid, "pid", PROTO_OPTIONAL, 0, UINT32_MAX),
    S_OPT_STR(admin_worker_t, version, "version", ADMIN_VERSION_MAX),
};
const proto_message_t admin_message_worker =
    PROTO_MESSAGE("ADMIN_WORKER", admin_worker_t, s_worker_fields, -1);

static const proto_field_t s_job_fields[] = {
    S_RID(admin_job_t),
    PROTO_F_UUID(admin_job_t, job_id, "job_id", PROTO_REQUIRED),
    PROTO_F_UUID(admin_job_t, owner, "owner", PROTO_REQUIRED),
    PROTO_F_STR(admin_job_t, state, "state", PROTO_REQUIRED, 1, PROTO_STATE_MAX),
    PROTO_F_UINT(admin_job_t, attempts, "attempts", PROTO_REQUIRED, 0, UINT32_MAX),
    S_OPT_STR(admin_job_t, stage, "stage", PROTO_STAGE_MAX),
    S_OPT_STR(admin_job_t, worker, "worker", ADMIN_NAME_MAX),
    S_OPT_STR(admin_job_t, error_code, "error_code", PROTO_CODE_MAX),
    PROTO_F_STR(admin_job_t, created, "created", PROTO_REQUIRED, 1, ADMIN_TIME_MAX),
    PROTO_F_STR(admin_job_t, updated, "updated", PROTO_REQUIRED, 1, ADMIN_TIME_MAX),
};
const proto_message_t admin_message_job = PROTO_MESSAGE("ADMIN_JOB", admin_job_t, s_job_fields, -1);

static const proto_field_t s_event_fields[] = {
    S_RID(admin_event_t),
    S_UINT(admin_event_t, seq, "seq", PROTO_REQUIRED),
    PROTO_F_STR(admin_event_t, at, "at", PROTO_REQUIRED, 1, ADMIN_TIME_MAX),
    PROTO_F_STR(admin_event_t, state, "state", PROTO_REQUIRED, 1, PROTO_STATE_MAX),
    PROTO_F_UINT(admin_event_t, attempt, "attempt", PROTO_REQUIRED, 0, UINT32_MAX),
    S_OPT_STR(admin_event_t, worker, "worker", ADMIN_NAME_MAX),
    S_OPT_STR(admin_event_t, stage, "stage", PROTO_STAGE_MAX),
    S_OPT_STR(admin_event_t, error_code, "error_code", PROTO_CODE_MAX),
    S_OPT_STR(admin_event_t, error, "error", PROTO_ERROR_MAX),
};
const proto_message_t admin_message_event =
    PROTO_MESSAGE("ADMIN_EVENT", admin_event_t, s_event_fields, -1);

const proto_message_t *const admin_messages[ADMIN_MESSAGE_COUNT] = {
    &admin_message_request, &admin_message_done, &admin_message_status, &admin_message_count,
    &admin_message_worker,  &admin_message_job,  &admin_message_event,
};
