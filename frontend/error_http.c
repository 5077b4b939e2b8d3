/* error_http.c - see error_http.h. */
#include "error_http.h"

static const error_http_t s_ok = {200, "OK"};
static const error_http_t s_forbidden = {403, "Forbidden"};
static const error_http_t s_not_found = {404, "Not Found"};
static const error_http_t s_conflict = {409, "Conflict"};
static const error_http_t s_too_many = {429, "Too Many Requests"};
static const error_http_t s_internal = {500, "Internal Server Error"};
static const error_http_t s_unavailable = {503, "Service Unavailable"};

const error_http_t *
error_http_of(profai_error_t code)
{
    switch (code) {
    case PROFAI_OK:
        return &s_ok;
    case PROFAI_ERR_UNKNOWN_JOB:
        return &s_not_found;
    case PROFAI_ERR_ALREADY_FINAL:
        return &s_conflict;
    case PROFAI_ERR_DB_UNAVAILABLE:
    case PROFAI_ERR_OVERLOADED:
    case PROFAI_ERR_NOT_LEADER: /* only when no endpoint leads: a take-over is under way */
        return &s_unavailable;
    case PROFAI_ERR_QUEUE_QUOTA: /* waiting helps: the owner's jobs run meanwhile */
        return &s_too_many;
    case PROFAI_ERR_STORAGE_QUOTA: /* waiting does not help (courses keep their PDF) */
        return &s_forbidden;
    case PROFAI_ERR_BAD_REQUEST:
    case PROFAI_ERR_UNSUPPORTED_VERSION:
    case PROFAI_ERR_UNKNOWN_SERVICE:
    case PROFAI_ERR_UNKNOWN_BLOB:
    case PROFAI_ERR_UNKNOWN_OWNER:
    case PROFAI_ERR_UNKNOWN_WORKER: /* admin socket only */
    case PROFAI_ERR_NOT_FAILED:     /* admin socket only */
    case PROFAI_ERR_FORBIDDEN:      /* this frontend's key was refused: its operator must fix it */
    case PROFAI_ERR_NOT_PDF:
    case PROFAI_ERR_ENCRYPTED:
    case PROFAI_ERR_DAMAGED:
    case PROFAI_ERR_NO_TEXT:
    case PROFAI_ERR_TOO_LARGE:
    case PROFAI_ERR_PARSER_CRASHED:
    case PROFAI_ERR_TIMEOUT:
    case PROFAI_ERR_WORKER_LOST:
    case PROFAI_ERR_CANCELLED:
    case PROFAI_ERR_INVALID_COURSE:
    case PROFAI_ERR_INTERNAL:
    case PROFAI_ERR_COUNT:
        break;
    }
    return &s_internal;
}

const error_http_t *
error_http_of_name(const char *name)
{
    return error_http_of(profai_error_from_name(name));
}
