/*
 * idempotency.h - Idempotency-Key on uploads (docs/api.md 4.1 "Idempotent uploads"; the
 * idempotency_keys table of migration 010, docs/database.md).
 *
 * A teacher's upload that carries `Idempotency-Key: K` is remembered for 24 hours under
 * (teacher, K) with the fingerprint of what was uploaded: the same upload again with K gets the
 * first answer again (its status and body, the one job), never a second job; another upload
 * with K is 422. The upload is read and stored first (its PDF's SHA-256 is known only then),
 * then the key is claimed, the job submitted and its answer recorded; a submission that
 * fails releases the key, so that the client's retry can make the job.
 *
 * Data access through db_query.h (this module speaks SQL like the db_*.c files).
 */
#ifndef PROFAI_FRONTEND_IDEMPOTENCY_H
#define PROFAI_FRONTEND_IDEMPOTENCY_H

#include "db.h"

#include <profai/compiler.h>
#include <stdbool.h>
#include <stddef.h>

/* Longest key taken (bytes); a key is 1 to this many visible ASCII characters (0x21-0x7e). */
#define IDEMPOTENCY_KEY_MAX 255
/* A fingerprint: 64 hex digits of a SHA-256, and a NUL. */
#define IDEMPOTENCY_FINGERPRINT_SIZE 65

/* Whether a header value is a key this API takes. */
bool idempotency_key_ok(const char *key);

/* The fingerprint of an upload: SHA-256 of its PDF's SHA-256, title and file name. */
void idempotency_fingerprint(const char *pdf_sha256, const char *title, const char *filename,
                             char out[IDEMPOTENCY_FINGERPRINT_SIZE]);

typedef enum {
    IDEMPOTENCY_NEW,       /* claimed: submit the job, then idempotency_finish or _release */
    IDEMPOTENCY_REPLAY,    /* the same upload was answered: answer *status and *answer again */
    IDEMPOTENCY_MISMATCH,  /* the key was used for another upload: 422 */
    IDEMPOTENCY_IN_FLIGHT, /* the same key's first upload is still being submitted: 409 */
    IDEMPOTENCY_FAILED,    /* the database could not answer: 503 */
} idempotency_outcome_t;

/* Claim (owner_id, key) for an upload of fingerprint, or find what it was used for. On
 * IDEMPOTENCY_REPLAY *status, job_id and *answer (the caller's, free()) hold the first answer.
 * A key last used more than 24 hours ago is claimed anew. */
idempotency_outcome_t idempotency_begin(db_pool_t *db, const char *owner_id, const char *key,
                                        const char *fingerprint, int *status, char job_id[37],
                                        char **answer) PROFAI_MUST_CHECK;

/* Record the answer given to the claimed key's upload (the job it made). */
db_status_t idempotency_finish(db_pool_t *db, const char *owner_id, const char *key,
                               const char *job_id, int status,
                               const char *answer) PROFAI_MUST_CHECK;

/* Give up a claimed key whose upload made no job (a retry may claim it again). */
db_status_t idempotency_release(db_pool_t *db, const char *owner_id,
                                const char *key) PROFAI_MUST_CHECK;

/* Delete the keys older than 24 hours; *deleted gets how many. */
db_status_t idempotency_sweep(db_pool_t *db, long *deleted) PROFAI_MUST_CHECK;

#endif
