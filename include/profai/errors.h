/*
 * errors.h - every error code that crosses a process boundary, named once (docs/protocol.md,
 * section 4). Broker, frontend and worker use the enumeration; the wire, the database
 * (jobs.error_code) and the REST API carry the names.
 *
 * Two families share one enumeration: request errors (in client FINAL bodies) and job errors
 * (in a worker's FINAL, stored with the job). profai_error_is_job() tells which.
 */
#ifndef PROFAI_ERRORS_H
#define PROFAI_ERRORS_H

#include <stdbool.h>

typedef enum {
    PROFAI_OK = 0,
    /* Request errors. */
    PROFAI_ERR_BAD_REQUEST,         /* the body is malformed or a field is invalid */
    PROFAI_ERR_UNSUPPORTED_VERSION, /* `v` is not one this peer speaks */
    PROFAI_ERR_UNKNOWN_SERVICE,     /* no such service */
    PROFAI_ERR_UNKNOWN_BLOB,        /* SUBMIT names a PDF that is not stored; admin retry: swept */
    PROFAI_ERR_UNKNOWN_OWNER,       /* SUBMIT names a user that does not exist */
    PROFAI_ERR_UNKNOWN_JOB,         /* CANCEL names a job that is not there or not the owner's */
    PROFAI_ERR_ALREADY_FINAL,       /* CANCEL names a job that has ended */
    PROFAI_ERR_DB_UNAVAILABLE,      /* PostgreSQL is down; nothing was committed */
    PROFAI_ERR_OVERLOADED,          /* the broker's write queue is full */
    PROFAI_ERR_QUEUE_QUOTA,         /* SUBMIT: the owner has max_queued_per_owner jobs queued */
    PROFAI_ERR_STORAGE_QUOTA,       /* SUBMIT: the owner's PDFs would pass max_bytes_per_owner */
    PROFAI_ERR_UNKNOWN_WORKER,      /* an admin command names a worker the broker does not know */
    PROFAI_ERR_NOT_FAILED,          /* an admin retry names a job that is not 'failed' */
    PROFAI_ERR_FORBIDDEN,           /* the peer's key may not use this service (its role) */
    PROFAI_ERR_NOT_LEADER,          /* this broker is a standby: ask the other endpoint */
    /* Job errors. */
    PROFAI_ERR_NOT_PDF,        /* the file is not a PDF */
    PROFAI_ERR_ENCRYPTED,      /* the PDF needs a password */
    PROFAI_ERR_DAMAGED,        /* damaged beyond repair */
    PROFAI_ERR_NO_TEXT,        /* no extractable text */
    PROFAI_ERR_TOO_LARGE,      /* a limit was exceeded */
    PROFAI_ERR_PARSER_CRASHED, /* the isolated parser died */
    PROFAI_ERR_TIMEOUT,        /* wall-clock, CPU or job deadline exceeded */
    PROFAI_ERR_WORKER_LOST,    /* the last allowed attempt lost its worker */
    PROFAI_ERR_CANCELLED,      /* the owner cancelled the job */
    PROFAI_ERR_INVALID_COURSE, /* the worker's course breaks the schema (docs/api.md 5) */
    PROFAI_ERR_INTERNAL,       /* a bug or resource failure */
    PROFAI_ERR_COUNT
} profai_error_t;

/* The wire name of code ("bad_request", ...); "internal" for a value out of range. Static
 * storage. */
const char *profai_error_name(profai_error_t code);

/* The code named name; PROFAI_ERR_INTERNAL for NULL or a name not in the table (a peer's
 * unknown code is never trusted as something more specific). PROFAI_OK is never returned. */
profai_error_t profai_error_from_name(const char *name);

/* True for the job error codes (stored in jobs.error_code). */
bool profai_error_is_job(profai_error_t code);

/* True for the job errors a retry may cure (parser_crashed, timeout, internal, worker_lost):
 * the broker retries them with back-off up to broker/max_attempts (docs/jobs.md). */
bool profai_error_is_transient(profai_error_t code);

#endif
