/*
 * sql.h - the statements the broker runs in its loop and typed readers of their results
 * (docs/database.md, "How the broker writes").
 *
 * Parameters are text; every state change is conditional (fenced by the job's attempt number)
 * so that a statement sent again after a reconnect changes nothing twice. The readers turn a
 * PGresult into plain structs, so that no other broker file reads a PGresult's cells. The
 * statements are static data that outlive the store; nothing here logs or sends.
 */
#ifndef PROFAI_BROKER_SQL_H
#define PROFAI_BROKER_SQL_H

#include "profai/compiler.h"
#include "profai/proto.h"
#include "store.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Insert a job if its blob and owner exist and the owner's quotas allow it: $1 id, $2 owner,
 * $3 title, $4 filename, $5 sha256, $6 most queued jobs of the owner, $7 most bytes of the
 * owner's PDFs (0: no quota). Read with sql_read_submit. */
extern const store_stmt_t sql_stmt_submit;
/* Start attempt $2 on worker $3 with a deadline $4 ms away: $1 id. Returns, when it applied,
 * the REQUEST's fields but not the PDF, which blob_reader.h reads on a connection of its own
 * (docs/broker.md, "The PDF's path"): read with sql_read_dispatched. */
extern const store_stmt_t sql_stmt_dispatch;
/* $1-$6 as sql_stmt_dispatch, for a REQUEST sent already: returns nothing; applied or not. */
extern const store_stmt_t sql_stmt_dispatch_sent;
/* Progress $3 and stage $4 of job $1, attempt $2. */
extern const store_stmt_t sql_stmt_progress;
/* A worker $3 came back with orphan $1, attempt $2. */
extern const store_stmt_t sql_stmt_adopt;
/* Job $1 attempt $3 succeeded with course $2 whose document is $4. */
extern const store_stmt_t sql_stmt_succeed;
/* An early dispatch held until its result (dispatch_hold.h): both as one update. */
extern const store_stmt_t sql_stmt_dispatch_succeed;
extern const store_stmt_t sql_stmt_dispatch_succeed_many;
/* Job $1 attempt $2 failed for good with error_code $3 and error $4. */
extern const store_stmt_t sql_stmt_fail;
/* Job $1 attempt $2 back to 'queued' after a transient failure, $3 ms of back-off; $4 and
 * $5: the error code and text of the attempt that ended (its event's). */
extern const store_stmt_t sql_stmt_requeue;
/* Cancel job $1 of owner $2. Read with sql_read_cancel. */
extern const store_stmt_t sql_stmt_cancel;
/* The unfinished jobs, oldest first (ties by id, so that a restart rebuilds the same fair
 * order). Read with sql_read_unfinished. */
extern const store_stmt_t sql_stmt_unfinished;
/* The multi-row forms of dispatch, dispatch_sent, succeed and submit (without quotas) (their
 * `batch`; store.h), run by the store for several operations of one segment. */
extern const store_stmt_t sql_stmt_dispatch_many;
extern const store_stmt_t sql_stmt_dispatch_sent_many;
extern const store_stmt_t sql_stmt_succeed_many;
extern const store_stmt_t sql_stmt_submit_many;
/* $1 epoch: the leader's fence, first in every transaction (store_set_fence). */
extern const store_stmt_t sql_stmt_fence;

/* Every state change above also writes its job_events row in the same statement (migration
 * 004). */

/* The job store's statements (store_new): every statement above but the submissions, and the
 * admin socket's writes and ping (admin_sql.h). */
extern const store_stmt_t *const sql_statements[];
extern const size_t sql_statement_count;
/* The submission store's (docs/broker.md, "Submissions on a connection of their own"): the
 * fence, sql_stmt_submit and its multi-row form. */
extern const store_stmt_t *const sql_submit_statements[];
extern const size_t sql_submit_statement_count;
/* The admin reads store's (docs/broker.md, "The admin socket's reads on a connection of their
 * own"): admin_sql_jobs and admin_sql_job. */
extern const store_stmt_t *const sql_admin_read_statements[];
extern const size_t sql_admin_read_statement_count;

/* Queue stmt with C-string parameters (lengths by strlen); see store_submit. */
store_status_t sql_submit(store_t *store, const store_stmt_t *stmt, const char *const *values,
                          int flags, store_done_fn *done, const void *ctx,
                          size_t ctx_len) PROFAI_MUST_CHECK;

/* Whether a conditional write changed a row (false: its condition excluded it, e.g. the
 * attempt was superseded). A multi-row statement's part (no command tag) applied when it has a
 * row. */
bool sql_write_applied(PGresult *res);

/* Whether a failed statement's error is of SQLSTATE class 22 (data exception: PostgreSQL
 * refused a value itself, e.g. a course document). res may be NULL. */
bool sql_error_is_data(const PGresult *res);

/* sql_stmt_submit's answer. */
typedef struct {
    bool blob_ok;   /* a blob with this sha256 is stored */
    bool owner_ok;  /* the owner exists */
    bool inserted;  /* the job was created */
    int64_t queued; /* the owner's queued jobs before this one */
    int64_t bytes;  /* bytes of the owner's PDFs, this one included (each PDF once) */
    /* The inserted job's fields (borrowed from the result); NULL when not inserted. */
    const char *title, *filename, *sha256;
    int64_t pdf_size; /* the PDF's size in bytes (blobs.size); -1 when not inserted */
} sql_submit_result_t;

void sql_read_submit(const PGresult *res, sql_submit_result_t *out);

/* sql_stmt_cancel's answer. */
typedef struct {
    bool found;                       /* the owner has such a job */
    bool cancelled;                   /* it is cancelled now (false: it had ended) */
    char before[PROTO_STATE_MAX + 1]; /* its state before, when found */
} sql_cancel_result_t;

void sql_read_cancel(const PGresult *res, sql_cancel_result_t *out);

/* One row of sql_stmt_unfinished. */
typedef struct {
    char id[PROTO_UUID_LEN + 1];
    char owner[PROTO_UUID_LEN + 1];
    bool running;           /* 'running' (else 'queued') */
    uint32_t attempts;      /* dispatches so far */
    int64_t retry_in_ms;    /* queued: back-off left (0: due) */
    int64_t deadline_in_ms; /* running: time left before its deadline (-1: none recorded) */
    char token_sha256[65];  /* running: SHA-256 hex of its attempt's secret ("": none) */
    char worker_key[41];    /* running: CURVE key (z85) it was sent to ("": none, no CURVE) */
} sql_unfinished_row_t;

/* Rows of a result. */
int sql_row_count(const PGresult *res);

/* Read row i of sql_stmt_unfinished; false when the row is not valid (a bad id or owner, an
 * attempt count out of range): skip it. */
bool sql_read_unfinished(const PGresult *res, int i, sql_unfinished_row_t *row);

/* What sql_read_dispatched found. */
typedef enum {
    SQL_PDF_OK,       /* job filled */
    SQL_PDF_MISSING,  /* no such job */
    SQL_PDF_TOO_LONG, /* the title, file name or hash is over the protocol's limits */
} sql_pdf_status_t;

/* Fill the title, filename and sha256 of job from sql_stmt_dispatch's answer (not its pdf),
 * and size with the PDF's size in bytes (0 when it is not stored). */
sql_pdf_status_t sql_read_dispatched(const PGresult *res, proto_job_t *job,
                                     long long *size) PROFAI_MUST_CHECK;

#endif
