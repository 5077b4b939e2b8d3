/*
 * errors.c - the table of error codes; see profai/errors.h.
 */
#include "profai/errors.h"

#include <string.h>

static const char *const s_names[PROFAI_ERR_COUNT] = {
    [PROFAI_OK] = "ok",
    [PROFAI_ERR_BAD_REQUEST] = "bad_request",
    [PROFAI_ERR_UNSUPPORTED_VERSION] = "unsupported_version",
    [PROFAI_ERR_UNKNOWN_SERVICE] = "unknown_service",
    [PROFAI_ERR_UNKNOWN_BLOB] = "unknown_blob",
    [PROFAI_ERR_UNKNOWN_OWNER] = "unknown_owner",
    [PROFAI_ERR_UNKNOWN_JOB] = "unknown_job",
    [PROFAI_ERR_ALREADY_FINAL] = "already_final",
    [PROFAI_ERR_DB_UNAVAILABLE] = "db_unavailable",
    [PROFAI_ERR_OVERLOADED] = "overloaded",
    [PROFAI_ERR_QUEUE_QUOTA] = "queue_quota_exceeded",
    [PROFAI_ERR_STORAGE_QUOTA] = "storage_quota_exceeded",
    [PROFAI_ERR_UNKNOWN_WORKER] = "unknown_worker",
    [PROFAI_ERR_NOT_FAILED] = "not_failed",
    [PROFAI_ERR_FORBIDDEN] = "forbidden",
    [PROFAI_ERR_NOT_LEADER] = "not_leader",
    [PROFAI_ERR_NOT_PDF] = "not_pdf",
    [PROFAI_ERR_ENCRYPTED] = "encrypted",
    [PROFAI_ERR_DAMAGED] = "damaged",
    [PROFAI_ERR_NO_TEXT] = "no_text",
    [PROFAI_ERR_TOO_LARGE] = "too_large",
    [PROFAI_ERR_PARSER_CRASHED] = "parser_crashed",
    [PROFAI_ERR_TIMEOUT] = "timeout",
    [PROFAI_ERR_WORKER_LOST] = "worker_lost",
    [PROFAI_ERR_CANCELLED] = "cancelled",
    [PROFAI_ERR_INVALID_COURSE] = "invalid_course",
    [PROFAI_ERR_INTERNAL] = "internal",
};

const char *
profai_error_name(profai_error_t code)
{
    if ((int)code < 0 || code >= PROFAI_ERR_COUNT)
        return s_names[PROFAI_ERR_INTERNAL];
    return s_names[code];
}

profai_error_t
profai_error_from_name(const char *name)
{
    if (name == NULL)
        return PROFAI_ERR_INTERNAL;
    for (int i = PROFAI_OK + 1; i < PROFAI_ERR_COUNT; i++)
        if (strcmp(s_names[i], name) == 0)
            return (profai_error_t)i;
    return PROFAI_ERR_INTERNAL;
}

bool
profai_error_is_job(profai_error_t code)
{
    return code >= PROFAI_ERR_NOT_PDF && code <= PROFAI_ERR_INTERNAL;
}

bool
profai_error_is_transient(profai_error_t code)
{
    return code == PROFAI_ERR_PARSER_CRASHED || code == PROFAI_ERR_TIMEOUT ||
           code == PROFAI_ERR_INTERNAL || code == PROFAI_ERR_WORKER_LOST;
}
