/*
 * admin_sql.c - see admin_sql.h.
 */
#include "admin_sql.h"

#include "utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ISO 8601 UTC text of a timestamptz column. */
#define S_TIME(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
#define S_JOB_COLUMNS                                                                              \
    "j.id, j.owner_id, j.state, j.attempts, j.stage, j.worker, j.error_code, " S_TIME(             \
        "j.created_at") ", " S_TIME("j.updated_at")
#define S_JOB_NCOLS 9

const store_stmt_t admin_sql_ping = {"admin_ping", "SELECT 1", 0, 0, 0, NULL, NULL};
const store_stmt_t admin_sql_jobs = {
    "admin_jobs",
    "SELECT " S_JOB_COLUMNS " FROM jobs j"
    " WHERE ($1 = '' OR j.state = $1) AND ($2 = '' OR j.owner_id::text = $2)"
    " ORDER BY j.created_at DESC, j.id LIMIT $3::integer",
    3,
    0,
    0,
    NULL,
    NULL};
const store_stmt_t admin_sql_job = {
    "admin_job",
    "SELECT " S_JOB_COLUMNS ", e.seq, " S_TIME(
        "e.at") ", e.state, e.attempt, e.worker,"
                " e.stage, e.error_code, e.error"
                " FROM jobs j LEFT JOIN job_events e ON e.job_id = j.id WHERE j.id = $1::uuid"
                " ORDER BY e.seq",
    1,
    0,
    0,
    NULL,
    NULL};
/* The retry's event says who asked; its next dispatch is attempt attempts + 1. A job whose
 * PDF was swept (blobs_sweep: it ended without a course) is not requeued: column 5 says whether
 * the PDF is (still) there. The retry touches the blob's used_at, as an upload of the same PDF
 * does, so a sweep running at the same moment waits for the row and then finds it freshly used. */
const store_stmt_t admin_sql_retry = {
    "admin_retry",
    "WITH t AS (SELECT id, state, owner_id, attempts, blob_sha256 FROM jobs WHERE id = $1::uuid),"
    "     b AS (UPDATE blobs SET used_at = now() FROM t"
    "           WHERE blobs.sha256 = t.blob_sha256 AND t.state = 'failed' RETURNING blobs.sha256),"
    "     u AS (UPDATE jobs SET state = 'queued', stage = 'queued', progress = 0,"
    "           error_code = NULL, error = NULL, worker = NULL, retry_at = NULL,"
    "           deadline_at = NULL, finished_at = NULL, updated_at = now()"
    "           FROM t WHERE jobs.id = t.id AND jobs.state = 'failed'"
    "           AND EXISTS (SELECT 1 FROM b) RETURNING jobs.id),"
    "     ev AS (INSERT INTO job_events (job_id, state, attempt, stage, error)"
    "            SELECT t.id, 'queued', t.attempts, 'queued', 'retried by an administrator'"
    "            FROM t JOIN u ON u.id = t.id)"
    " SELECT t.state, (SELECT count(*) FROM u), t.owner_id, t.attempts,"
    "        EXISTS (SELECT 1 FROM b) FROM t",
    1,
    0,
    0,
    NULL,
    NULL};
const store_stmt_t admin_sql_cancel = {
    "admin_cancel",
    "WITH t AS (SELECT id, state, owner_id, attempts, worker FROM jobs WHERE id = $1::uuid),"
    "     u AS (UPDATE jobs SET state = 'cancelled', stage = 'cancelled', worker = NULL,"
    "           retry_at = NULL, deadline_at = NULL, finished_at = now(), updated_at = now()"
    "           FROM t WHERE jobs.id = t.id AND jobs.state IN ('queued', 'running')"
    "           RETURNING jobs.id),"
    "     ev AS (INSERT INTO job_events (job_id, state, attempt, worker, stage, error)"
    "            SELECT t.id, 'cancelled', t.attempts, t.worker, 'cancelled',"
    "            'cancelled by an administrator' FROM t JOIN u ON u.id = t.id)"
    " SELECT t.state, (SELECT count(*) FROM u), t.owner_id, t.attempts FROM t",
    1,
    0,
    0,
    NULL,
    NULL};

void
admin_sql_read_change(const PGresult *res, admin_sql_change_t *out)
{
    memset(out, 0, sizeof *out);
    out->found = PQntuples(res) == 1;
    if (!out->found)
        return;
    snprintf(out->before, sizeof out->before, "%s", PQgetvalue(res, 0, 0));
    out->changed = strcmp(PQgetvalue(res, 0, 1), "1") == 0;
    snprintf(out->owner, sizeof out->owner, "%s", PQgetvalue(res, 0, 2));
    out->attempts = (uint32_t)strtoul(PQgetvalue(res, 0, 3), NULL, 10);
    out->pdf_stored = PQnfields(res) < 5 || strcmp(PQgetvalue(res, 0, 4), "t") == 0;
}

/* Copy cell (i, col) into buf of size bytes; "" when NULL; false when too long. */
static bool
s_cell(const PGresult *res, int i, int col, char *buf, size_t size)
{
    size_t len = (size_t)PQgetlength(res, i, col);
    if (len >= size)
        return false;
    memcpy(buf, PQgetvalue(res, i, col), len);
    buf[len] = '\0';
    return true;
}

/* Copy cell (i, col) into buf, cut at a character boundary to fit: long texts (an error) are
 * shown cut rather than not at all. */
static void
s_cell_cut(const PGresult *res, int i, int col, char *buf, size_t size)
{
    size_t len = utf8_cut(PQgetvalue(res, i, col), (size_t)PQgetlength(res, i, col), size - 1);
    memcpy(buf, PQgetvalue(res, i, col), len);
    buf[len] = '\0';
}

static uint64_t
s_cell_uint(const PGresult *res, int i, int col)
{
    return PQgetisnull(res, i, col) ? 0 : strtoull(PQgetvalue(res, i, col), NULL, 10);
}

bool
admin_sql_read_job(const PGresult *res, int i, admin_job_t *job)
{
    job->attempts = (uint32_t)s_cell_uint(res, i, 3);
    return s_cell(res, i, 0, job->job_id, sizeof job->job_id) &&
           s_cell(res, i, 1, job->owner, sizeof job->owner) &&
           s_cell(res, i, 2, job->state, sizeof job->state) &&
           s_cell(res, i, 4, job->stage, sizeof job->stage) &&
           s_cell(res, i, 5, job->worker, sizeof job->worker) &&
           s_cell(res, i, 6, job->error_code, sizeof job->error_code) &&
           s_cell(res, i, 7, job->created, sizeof job->created) &&
           s_cell(res, i, 8, job->updated, sizeof job->updated);
}

bool
admin_sql_read_event(const PGresult *res, int i, admin_event_t *event)
{
    int c = S_JOB_NCOLS;
    if (PQgetisnull(res, i, c))
        return false;
    event->seq = s_cell_uint(res, i, c);
    event->attempt = (uint32_t)s_cell_uint(res, i, c + 3);
    if (!s_cell(res, i, c + 1, event->at, sizeof event->at) ||
        !s_cell(res, i, c + 2, event->state, sizeof event->state) ||
        !s_cell(res, i, c + 4, event->worker, sizeof event->worker) ||
        !s_cell(res, i, c + 5, event->stage, sizeof event->stage) ||
        !s_cell(res, i, c + 6, event->error_code, sizeof event->error_code))
        return false;
    s_cell_cut(res, i, c + 7, event->error, sizeof event->error);
    return true;
}
