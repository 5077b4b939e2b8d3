/*
 * admin_proto.h - the messages of the broker's admin socket (docs/admin.md), described as
 * tables like those of proto.h and encoded and decoded by the same codec
 * (proto_message_encode / proto_message_decode). Framing is MDPC02 (mdpc_parse, mdpc_build);
 * the command is the service name.
 *
 * Library code: nothing here logs. Decoded strings are copied into the structs.
 */
#ifndef PROFAI_ADMIN_PROTO_H
#define PROFAI_ADMIN_PROTO_H

#include "profai/proto.h"

/* Command names (the MDPC service frame). */
#define ADMIN_STATUS "admin.status"
#define ADMIN_WORKERS "admin.workers"
#define ADMIN_JOBS "admin.jobs"
#define ADMIN_JOB "admin.job"
#define ADMIN_RETRY "admin.retry"
#define ADMIN_CANCEL "admin.cancel"
#define ADMIN_DRAIN "admin.drain"
#define ADMIN_PAUSE "admin.pause"
#define ADMIN_RESUME "admin.resume"
#define ADMIN_LOG_LEVEL "admin.log_level"

/* Limits (bytes, or rows). */
#define ADMIN_NAME_MAX 72
#define ADMIN_IDENTITY_HEX_MAX 510
#define ADMIN_HOST_MAX 64
#define ADMIN_VERSION_MAX 32
#define ADMIN_TIME_MAX 32
#define ADMIN_LIMIT_MAX 1000
#define ADMIN_LIMIT_DEFAULT 50
#define ADMIN_REQUEST_BODY_MAX (16u * 1024)

/* ADMIN_REQUEST: every command's REQUEST body; each command reads the fields it needs. */
typedef struct {
    uint64_t rid;
    char job_id[PROTO_UUID_LEN + 1];
    char worker[ADMIN_NAME_MAX + 1];
    char service[PROTO_SERVICE_MAX + 1];
    char state[PROTO_STATE_MAX + 1];
    char owner[PROTO_UUID_LEN + 1];
    uint32_t limit;
    char level[PROTO_STATE_MAX + 1];
} admin_request_t;

/* ADMIN_DONE: the FINAL of every command but admin.status (and the generic error reply). */
typedef struct {
    uint64_t rid;
    bool ok;
    uint64_t rows;
    char state[PROTO_STATE_MAX + 1];
    char error_code[PROTO_CODE_MAX + 1];
    char error[PROTO_ERROR_MAX + 1];
} admin_done_t;

/* ADMIN_STATUS: the FINAL of admin.status. */
typedef struct {
    uint64_t rid;
    bool ok;
    char version[ADMIN_VERSION_MAX + 1];
    char role[PROTO_STATE_MAX + 1];
    uint64_t uptime_ms;
    bool db_up;
    uint64_t db_rtt_us;
    uint64_t pending_writes;
    char error_code[PROTO_CODE_MAX + 1];
    char error[PROTO_ERROR_MAX + 1];
} admin_status_t;

/* ADMIN_COUNT: a PARTIAL row of admin.status. */
typedef struct {
    uint64_t rid;
    char scope[PROTO_STATE_MAX + 1];
    char name[ADMIN_NAME_MAX + 1];
    uint64_t count;
    uint64_t oldest_ms;
} admin_count_t;

/* ADMIN_WORKER: a PARTIAL row of admin.workers. */
typedef struct {
    uint64_t rid;
    char name[ADMIN_NAME_MAX + 1];
    char identity[ADMIN_IDENTITY_HEX_MAX + 1];
    char service[PROTO_SERVICE_MAX + 1];
    char state[PROTO_STATE_MAX + 1];
    bool draining;
    char job_id[PROTO_UUID_LEN + 1];
    uint64_t since_ms;
    uint64_t heartbeat_ms;
    uint64_t done;
    uint64_t failed;
    char host[ADMIN_HOST_MAX + 1];
    uint32_t pid;
    char version[ADMIN_VERSION_MAX + 1];
} admin_worker_t;

/* ADMIN_JOB: a PARTIAL row of admin.jobs and admin.job. */
typedef struct {
    uint64_t rid;
    char job_id[PROTO_UUID_LEN + 1];
    char owner[PROTO_UUID_LEN + 1];
    char state[PROTO_STATE_MAX + 1];
    uint32_t attempts;
    char stage[PROTO_STAGE_MAX + 1];
    char worker[ADMIN_NAME_MAX + 1];
    char error_code[PROTO_CODE_MAX + 1];
    char created[ADMIN_TIME_MAX + 1];
    char updated[ADMIN_TIME_MAX + 1];
} admin_job_t;

/* ADMIN_EVENT: a PARTIAL row of admin.job (a job_events row). */
typedef struct {
    uint64_t rid;
    uint64_t seq;
    char at[ADMIN_TIME_MAX + 1];
    char state[PROTO_STATE_MAX + 1];
    uint32_t attempt;
    char worker[ADMIN_NAME_MAX + 1];
    char stage[PROTO_STAGE_MAX + 1];
    char error_code[PROTO_CODE_MAX + 1];
    char error[PROTO_ERROR_MAX + 1];
} admin_event_t;

extern const proto_message_t admin_message_request;
extern const proto_message_t admin_message_done;
extern const proto_message_t admin_message_status;
extern const proto_message_t admin_message_count;
extern const proto_message_t admin_message_worker;
extern const proto_message_t admin_message_job;
extern const proto_message_t admin_message_event;
#define ADMIN_MESSAGE_COUNT 7
extern const proto_message_t *const admin_messages[ADMIN_MESSAGE_COUNT];

#endif
