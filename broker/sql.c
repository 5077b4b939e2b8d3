/*
 * sql.c - see sql.h.
 */
#include "sql.h"

#include "admin_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A job's state in an UPDATE of that job by id, as `(...) IS TRUE`: the same rows, but not a
 * condition that implies the predicate of the partial indexes on state (jobs_unfinished,
 * jobs_owner_unfinished), so that the plan is always the primary key's. A generic plan made
 * while few jobs were unfinished (the statistics of a young table, or of one where nearly every
 * job has ended) read every unfinished job's entry of jobs_unfinished for each statement, one
 * row or a segment's (docs/performance.md, "Fewer index entries per job (migration 021)"). */
#define S_JOB_UNFINISHED "(jobs.state IN ('queued', 'running')) IS TRUE"
#define S_JOB_RUNNING "(jobs.state = 'running') IS TRUE"

/* The job_events row of a state change, as the last part of a statement whose CTE `from`
 * returns the changed job's id (sql.h, migration 006): written by the same statement, so in
 * the same transaction. The statement's row count is the count of changed jobs. */
#define S_EVENT(state, attempt, worker, code, error, from)                                         \
    " INSERT INTO job_events (job_id, state, attempt, worker, stage, error_code, error)"           \
    " SELECT " from ".id, " state ", " attempt ", " worker ", " from ".stage, " code               \
    "::text, " error "::text FROM " from
/* The job's worker before an UPDATE clears it, for the event (joined as `old`). */
#define S_OLD_WORKER "(SELECT id, worker FROM jobs WHERE id = $1) old"

/* The multi-row forms (store.h, store_batch.h; docs/broker.md "Multi-row statements"): one
 * statement for every operation of a kind in a segment, the parameters as arrays, the same
 * conditions row by row, and one result row per operation that applied, led by its ordinal. */
#define S_ARGS(types, names)                                                                       \
    "WITH a AS (SELECT * FROM unnest(" types ") WITH ORDINALITY AS a(" names ", n)),"
/* The rows of a multi-row result statement: each updated job (CTE j, with its ordinal n) whose
 * course was inserted (CTE c). A hashed lookup, once per row: CTE scans have no statistics, and
 * a join of j and c was a nested loop comparing every pair (17,030 comparisons for 131 jobs);
 * `IS TRUE` keeps the IN from becoming that join (docs/performance.md, "Index lookups per job
 * whatever the statistics"). */
#define S_RESULT_ROWS " SELECT j.n, j.id FROM j WHERE (j.id IN (SELECT job_id FROM c)) IS TRUE"
#define S_DISPATCH_MANY                                                                            \
    S_ARGS("$1::uuid[], $2::integer[], $3::text[], $4::bigint[], $5::text[], $6::text[],"          \
           " $7::bigint[]",                                                                        \
           "id, attempt, worker, deadline, token, wkey, age")                                      \
    "     u AS (UPDATE jobs SET state = 'running', attempts = a.attempt, worker = a.worker,"       \
    "           stage = 'starting', progress = 0,"                                                 \
    "           started_at = coalesce(started_at, now() - a.age * interval '1 millisecond'),"      \
    "           retry_at = NULL,"                                                                  \
    "           deadline_at = now() + (a.deadline - a.age) * interval '1 millisecond',"            \
    "           updated_at = now(), token_sha256 = a.token, worker_key = nullif(a.wkey, '')"       \
    "           FROM a WHERE jobs.id = a.id AND jobs.attempts = a.attempt - 1"                     \
    "           AND " S_JOB_UNFINISHED                                                             \
    "           RETURNING a.n, jobs.id, jobs.attempts, jobs.worker, jobs.stage, jobs.title,"       \
    "           jobs.filename, jobs.blob_sha256),"                                                 \
    "     ev AS (INSERT INTO job_events (job_id, state, attempt, worker, stage)"                   \
    "            SELECT id, 'running', attempts, worker, stage FROM u)"
const store_stmt_t sql_stmt_dispatch_many = {
    "dispatch_many",
    S_DISPATCH_MANY " SELECT u.n, u.title, u.filename, u.blob_sha256,"
                    " (SELECT b.size FROM blobs b WHERE b.sha256 = u.blob_sha256) FROM u",
    7,
    0,
    1,
    NULL,
    NULL};
const store_stmt_t sql_stmt_dispatch_sent_many = {
    "dispatch_sent_many", S_DISPATCH_MANY " SELECT u.n, u.id FROM u", 7, 0, 1, NULL, NULL};
const store_stmt_t sql_stmt_succeed_many = {
    "succeed_many",
    S_ARGS(
        "$1::uuid[], $2::uuid[], $3::integer[], $4::text[]",
        "id, course, attempt, doc") "     j AS (UPDATE jobs SET state = 'succeeded', progress = "
                                    "100, stage = 'done',"
                                    "           course_id = a.course, finished_at = now(), "
                                    "updated_at = now(), error_code = NULL,"
                                    "           error = NULL, retry_at = NULL, deadline_at = NULL"
                                    "           FROM a WHERE jobs.id = a.id AND jobs.attempts = "
                                    "a.attempt"
                                    "           AND " S_JOB_RUNNING
                                    "           RETURNING a.n, jobs.id, jobs.owner_id, jobs.title, "
                                    "jobs.attempts, jobs.worker,"
                                    "           jobs.stage, a.course, a.doc),"
                                    "     ev AS (INSERT INTO job_events (job_id, state, attempt, "
                                    "worker, stage)"
                                    "            SELECT id, 'succeeded', attempts, worker, stage "
                                    "FROM j),"
                                    "     c AS (INSERT INTO courses (id, job_id, owner_id, title, "
                                    "doc)"
                                    "           SELECT j.course, j.id, j.owner_id, j.title, "
                                    "j.doc::jsonb FROM j"
                                    "           ON CONFLICT (job_id) DO NOTHING RETURNING "
                                    "job_id)" S_RESULT_ROWS,
    4,
    0,
    1,
    NULL,
    NULL};

/* The quotas are checked in the statement that inserts, so that they hold whichever frontend
 * submits: the broker is the one writer of jobs and runs its submissions in order on one
 * connection (the submission store), so each check sees every job inserted before it. `bytes`
 * counts each distinct PDF of the owner's unfinished jobs and courses once, the new one included. A
 * quota of 0 is not computed at all (both are 0 then): each costs a scan of the owner's jobs or
 * courses. */
/* Submissions gather into one statement only when neither quota is computed ($6 = $7 = 0):
 * a quota check must see every insert before it, which one statement over many rows does not.
 * Each submission gets its one row back, as from sql_stmt_submit (queued and bytes 0). */
static bool
s_submit_batchable(const char *const *values)
{
    return strcmp(values[5], "0") == 0 && strcmp(values[6], "0") == 0;
}
#define S_SUBMIT_MANY                                                                              \
    S_ARGS("$1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::bigint[],"             \
           " $7::bigint[]",                                                                        \
           "id, owner, title, filename, sha, max_queued, max_bytes")                               \
    "     chk AS (SELECT a.*, b.size AS blob_size, b.sha256 IS NOT NULL AS blob_ok,"               \
    "                    EXISTS (SELECT 1 FROM users u WHERE u.id = a.owner) AS owner_ok"          \
    "             FROM a LEFT JOIN blobs b ON b.sha256 = a.sha),"                                  \
    "     ins AS (INSERT INTO jobs (id, owner_id, title, filename, blob_sha256, state, stage)"     \
    "             SELECT id, owner, title, filename, sha, 'queued', 'queued' FROM chk"             \
    "             WHERE blob_ok AND owner_ok ORDER BY n"                                           \
    "             RETURNING id, title, filename, blob_sha256),"                                    \
    "     ev AS (INSERT INTO job_events (job_id, state, attempt, stage)"                           \
    "            SELECT id, 'queued', 0, 'queued' FROM ins)"                                       \
    " SELECT chk.n, chk.blob_ok, chk.owner_ok, (ins.id IS NOT NULL)::integer, 0::bigint,"          \
    " 0::bigint, ins.title, ins.filename, ins.blob_sha256, chk.blob_size"                          \
    " FROM chk LEFT JOIN ins ON ins.id = chk.id"
const store_stmt_t sql_stmt_submit_many = {"submit_many", S_SUBMIT_MANY, 7, 0, 1, NULL, NULL};

/* Keyed (store.h): its quota counts read other jobs of the owner, but a dispatch or result of
 * another job moved before it by a multi-row statement changes them no more than had the
 * broker written it a moment earlier. */
const store_stmt_t sql_stmt_submit = {
    "submit",
    "WITH chk AS (SELECT EXISTS (SELECT 1 FROM blobs WHERE sha256 = $5) AS blob_ok,"
    "                    (SELECT size FROM blobs WHERE sha256 = $5) AS blob_size,"
    "                    EXISTS (SELECT 1 FROM users WHERE id = $2::uuid) AS owner_ok,"
    "                    CASE WHEN $6::bigint = 0 THEN 0 ELSE"
    "                    (SELECT count(*) FROM jobs WHERE owner_id = $2::uuid"
    "                     AND state = 'queued') END AS queued,"
    "                    CASE WHEN $7::bigint = 0 THEN 0 ELSE"
    "                    (SELECT coalesce(sum(b.size), 0) FROM blobs b WHERE b.sha256 IN"
    "                      (SELECT blob_sha256 FROM jobs WHERE owner_id = $2::uuid"
    "                       AND state IN ('queued', 'running')"
    "                       UNION SELECT j.blob_sha256 FROM courses c"
    "                       JOIN jobs j ON j.id = c.job_id WHERE c.owner_id = $2::uuid"
    "                       UNION SELECT $5)) END AS bytes),"
    "     ins AS (INSERT INTO jobs (id, owner_id, title, filename, blob_sha256, state, stage)"
    "             SELECT $1::uuid, $2::uuid, $3, $4, $5, 'queued', 'queued' FROM chk"
    "             WHERE chk.blob_ok AND chk.owner_ok"
    "             AND ($6::bigint = 0 OR chk.queued < $6::bigint)"
    "             AND ($7::bigint = 0 OR chk.bytes <= $7::bigint)"
    "             RETURNING id, title, filename, blob_sha256),"
    "     ev AS (INSERT INTO job_events (job_id, state, attempt, stage)"
    "            SELECT id, 'queued', 0, 'queued' FROM ins)"
    " SELECT chk.blob_ok, chk.owner_ok, (SELECT count(*) FROM ins), chk.queued, chk.bytes,"
    " ins.title, ins.filename, ins.blob_sha256, chk.blob_size FROM chk LEFT JOIN ins ON true",
    7,
    0,
    1,
    &sql_stmt_submit_many,
    s_submit_batchable};
/* The PDF is not read here: a 32 MiB PDF read in the write transaction held every other
 * job's commit behind it (docs/performance.md, "The PDF's path"); blob_reader.c reads it. */
const store_stmt_t sql_stmt_dispatch = {
    "dispatch",
    "WITH u AS (UPDATE jobs SET state = 'running', attempts = $2, worker = $3,"
    "           stage = 'starting', progress = 0,"
    "           started_at = coalesce(started_at, now() - $7::bigint * interval '1 millisecond'),"
    "           retry_at = NULL,"
    "           deadline_at = now() + ($4::bigint - $7::bigint) * interval '1 millisecond',"
    "           updated_at = now(), token_sha256 = $5, worker_key = nullif($6, '')"
    "           WHERE id = $1 AND attempts = $2 - 1 AND " S_JOB_UNFINISHED
    "           RETURNING id, attempts, worker, stage, title, filename, blob_sha256),"
    "     ev AS (INSERT INTO job_events (job_id, state, attempt, worker, stage)"
    "            SELECT id, 'running', attempts, worker, stage FROM u)"
    " SELECT u.title, u.filename, u.blob_sha256,"
    " (SELECT b.size FROM blobs b WHERE b.sha256 = u.blob_sha256) FROM u",
    7,
    0,
    1,
    &sql_stmt_dispatch_many,
    NULL};
/* The same fence when the REQUEST has gone already (docs/broker.md, "Sending before the
 * dispatch commits"): nothing to return; its row count is 1 when the attempt was recorded. */
const store_stmt_t sql_stmt_dispatch_sent = {
    "dispatch_sent",
    "WITH u AS (UPDATE jobs SET state = 'running', attempts = $2, worker = $3,"
    "           stage = 'starting', progress = 0,"
    "           started_at = coalesce(started_at, now() - $7::bigint * interval '1 millisecond'),"
    "           retry_at = NULL,"
    "           deadline_at = now() + ($4::bigint - $7::bigint) * interval '1 millisecond',"
    "           updated_at = now(), token_sha256 = $5, worker_key = nullif($6, '')"
    "           WHERE id = $1 AND attempts = $2 - 1 AND " S_JOB_UNFINISHED
    "           RETURNING id, attempts, worker, stage)" S_EVENT("'running'", "u.attempts",
                                                                "u.worker", "NULL", "NULL", "u"),
    7,
    0,
    1,
    &sql_stmt_dispatch_sent_many,
    NULL};
const store_stmt_t sql_stmt_progress = {
    "progress",
    "UPDATE jobs SET progress = $3, stage = $4, updated_at = now()"
    " WHERE id = $1 AND attempts = $2 AND " S_JOB_RUNNING,
    4,
    0,
    1,
    NULL,
    NULL};
const store_stmt_t sql_stmt_adopt = {
    "adopt",
    "WITH u AS (UPDATE jobs SET worker = $3, updated_at = now()"
    "           WHERE id = $1 AND attempts = $2 AND " S_JOB_RUNNING
    "           RETURNING id, attempts, worker, stage)" S_EVENT("'running'", "u.attempts",
                                                                "u.worker", "NULL", "NULL", "u"),
    3,
    0,
    1,
    NULL,
    NULL};
const store_stmt_t sql_stmt_succeed = {
    "succeed",
    "WITH j AS (UPDATE jobs SET state = 'succeeded', progress = 100, stage = 'done',"
    "           course_id = $2, finished_at = now(), updated_at = now(), error_code = NULL,"
    "           error = NULL, retry_at = NULL, deadline_at = NULL"
    "           WHERE id = $1 AND attempts = $3 AND " S_JOB_RUNNING
    "           RETURNING id, owner_id, title, attempts, worker, stage),"
    "     ev AS (INSERT INTO job_events (job_id, state, attempt, worker, stage)"
    "            SELECT id, 'succeeded', attempts, worker, stage FROM j)"
    " INSERT INTO courses (id, job_id, owner_id, title, doc)"
    " SELECT $2, j.id, j.owner_id, j.title, $4::jsonb FROM j ON CONFLICT (job_id) DO NOTHING",
    4,
    0,
    1,
    &sql_stmt_succeed_many,
    NULL};
/* An early dispatch held until its result came (docs/broker.md, "Holding the dispatch write"):
 * the dispatch's fence (attempt n-1, queued or running) and the result in ONE update of the
 * job, its two events (running, then succeeded, as two statements wrote them) and the course.
 * $4: ms since the dispatch, for started_at. Row count as sql_stmt_succeed's. */
#define S_DISPATCH_SUCCEED_SET                                                                     \
    "SET state = 'succeeded', attempts = a.attempt, worker = a.worker, stage = 'done',"            \
    " progress = 100,"                                                                             \
    " started_at = coalesce(started_at, now() - a.age * interval '1 millisecond'),"                \
    " finished_at = now(), updated_at = now(), error_code = NULL, error = NULL, retry_at = NULL,"  \
    " deadline_at = NULL, token_sha256 = a.token, worker_key = nullif(a.wkey, ''),"                \
    " course_id = a.course"
/* Every running event before every succeeded one: each job's two in that order. */
#define S_TWO_EVENTS                                                                               \
    "     ev AS (INSERT INTO job_events (job_id, state, attempt, worker, stage)"                   \
    "            SELECT j.id, e.state, j.attempts, j.worker, e.stage FROM j CROSS JOIN"            \
    "            (VALUES (1, 'running', 'starting'), (2, 'succeeded', 'done')) e(k, state, stage)" \
    "            ORDER BY e.k)"
#define S_DISPATCH_SUCCEED_MANY                                                                    \
    S_ARGS("$1::uuid[], $2::integer[], $3::text[], $4::bigint[], $5::text[], $6::text[],"          \
           " $7::uuid[], $8::text[]",                                                              \
           "id, attempt, worker, age, token, wkey, course, doc")                                   \
    "     j AS (UPDATE jobs " S_DISPATCH_SUCCEED_SET                                               \
    "           FROM a WHERE jobs.id = a.id AND jobs.attempts = a.attempt - 1"                     \
    "           AND " S_JOB_UNFINISHED                                                             \
    "           RETURNING a.n, jobs.id, jobs.owner_id, jobs.title, jobs.attempts, jobs.worker,"    \
    "           a.course, a.doc)," S_TWO_EVENTS ","                                                \
    "     c AS (INSERT INTO courses (id, job_id, owner_id, title, doc)"                            \
    "           SELECT j.course, j.id, j.owner_id, j.title, j.doc::jsonb FROM j"                   \
    "           ON CONFLICT (job_id) DO NOTHING RETURNING job_id)" S_RESULT_ROWS
#define S_DISPATCH_SUCCEED                                                                         \
    "WITH a AS (SELECT $2::integer AS attempt, $3::text AS worker, $4::bigint AS age,"             \
    "                  $5::text AS token, $6::text AS wkey, $7::uuid AS course),"                  \
    "     j AS (UPDATE jobs " S_DISPATCH_SUCCEED_SET                                               \
    "           FROM a WHERE jobs.id = $1 AND jobs.attempts = a.attempt - 1"                       \
    "           AND " S_JOB_UNFINISHED "           RETURNING jobs.id, jobs.owner_id, jobs.title,"  \
    "           jobs.attempts, jobs.worker)," S_TWO_EVENTS                                         \
    " INSERT INTO courses (id, job_id, owner_id, title, doc)"                                      \
    " SELECT $7, j.id, j.owner_id, j.title, $8::jsonb FROM j ON CONFLICT (job_id) DO NOTHING"
const store_stmt_t sql_stmt_dispatch_succeed_many = {
    "dispatch_succeed_many", S_DISPATCH_SUCCEED_MANY, 8, 0, 1, NULL, NULL};
const store_stmt_t sql_stmt_dispatch_succeed = {
    "dispatch_succeed", S_DISPATCH_SUCCEED, 8, 0, 1, &sql_stmt_dispatch_succeed_many, NULL};
const store_stmt_t sql_stmt_fail = {
    "fail",
    "WITH u AS (UPDATE jobs SET state = 'failed', stage = 'failed', error_code = $3,"
    "           error = $4, worker = NULL, retry_at = NULL, deadline_at = NULL,"
    "           finished_at = now(), updated_at = now() FROM " S_OLD_WORKER
    "           WHERE jobs.id = old.id AND attempts = $2 AND " S_JOB_UNFINISHED
    "           RETURNING jobs.id, jobs.attempts, old.worker, jobs.stage)" S_EVENT(
        "'failed'", "u.attempts", "u.worker", "$3", "$4", "u"),
    4,
    0,
    1,
    NULL,
    NULL};
/* Back to 'queued' after a transient failure; $3 ms of back-off before the next dispatch
 * (0: at once, retry_at NULL). Why the attempt ended ($4 code, $5 text) goes to its event
 * only: the job itself has not failed. */
const store_stmt_t sql_stmt_requeue = {
    "requeue",
    "WITH u AS (UPDATE jobs SET state = 'queued', stage = 'queued', progress = 0,"
    "           worker = NULL, retry_at = CASE WHEN $3::bigint > 0"
    "           THEN now() + $3::bigint * interval '1 millisecond' END, deadline_at = NULL,"
    "           updated_at = now() FROM " S_OLD_WORKER
    "           WHERE jobs.id = old.id AND attempts = $2 AND " S_JOB_RUNNING
    "           RETURNING jobs.id, jobs.attempts, old.worker, jobs.stage)" S_EVENT(
        "'queued'", "u.attempts", "u.worker", "$4", "$5", "u"),
    5,
    0,
    1,
    NULL,
    NULL};
/* Cancel the owner's job if it has not ended: one row (its state before, 1 if cancelled now)
 * or none (no such job of this owner). 'cancelled' is final: every other statement's
 * condition excludes it. */
const store_stmt_t sql_stmt_cancel = {
    "cancel",
    "WITH target AS (SELECT id, state, worker FROM jobs"
    "                WHERE id = $1::uuid AND owner_id = $2::uuid),"
    "     done AS (UPDATE jobs j SET state = 'cancelled', stage = 'cancelled', worker = NULL,"
    "              retry_at = NULL, deadline_at = NULL, finished_at = now(), updated_at = now()"
    "              FROM target WHERE j.id = target.id"
    "              AND (j.state IN ('queued', 'running')) IS TRUE"
    "              RETURNING j.id, j.attempts, target.worker),"
    "     ev AS (INSERT INTO job_events (job_id, state, attempt, worker, stage)"
    "            SELECT id, 'cancelled', attempts, worker, 'cancelled' FROM done)"
    " SELECT target.state, (SELECT count(*) FROM done) FROM target",
    2,
    0,
    0, /* not keyed: its id comes from a client as written, not in the broker's spelling */
    NULL,
    NULL};
/* Unfinished jobs with the ms left before their retry (queued; 0 when due) and their deadline
 * (running; -1 when none is recorded), computed by the database so that the broker's clock
 * does not matter. */
const store_stmt_t sql_stmt_unfinished = {
    "unfinished",
    "SELECT id, owner_id, state, attempts,"
    " greatest(0, ceil(extract(epoch FROM retry_at - now()) * 1000))::bigint,"
    " CASE WHEN deadline_at IS NULL THEN -1"
    "      ELSE greatest(0, ceil(extract(epoch FROM deadline_at - now()) * 1000))::bigint END,"
    " token_sha256, worker_key FROM jobs WHERE state IN ('queued', 'running')"
    " ORDER BY created_at, id",
    0,
    0,
    0,
    NULL,
    NULL};

/* The fence that begins every transaction of a leading broker (store_set_fence; migration 012,
 * docs/broker.md "Standby broker"): raises PF001 when $1 is no longer the current epoch. */
const store_stmt_t sql_stmt_fence = {"fence", "SELECT profai_fence($1::bigint)", 1, 0, 0, NULL,
                                     NULL};

const store_stmt_t *const sql_statements[] = {
    &sql_stmt_fence, &sql_stmt_dispatch, &sql_stmt_dispatch_sent, &sql_stmt_progress,
    &sql_stmt_adopt, &sql_stmt_succeed, &sql_stmt_fail, &sql_stmt_requeue, &sql_stmt_cancel,
    &sql_stmt_unfinished, &sql_stmt_dispatch_many, &sql_stmt_dispatch_sent_many,
    &sql_stmt_succeed_many, &sql_stmt_dispatch_succeed, &sql_stmt_dispatch_succeed_many,
    /* the admin socket's writes and ping (admin_sql.h) */
    &admin_sql_ping, &admin_sql_retry, &admin_sql_cancel};

const size_t sql_statement_count = sizeof sql_statements / sizeof sql_statements[0];

const store_stmt_t *const sql_submit_statements[] = {&sql_stmt_fence, &sql_stmt_submit,
                                                     &sql_stmt_submit_many};

const size_t sql_submit_statement_count =
    sizeof sql_submit_statements / sizeof sql_submit_statements[0];

const store_stmt_t *const sql_admin_read_statements[] = {&admin_sql_jobs, &admin_sql_job};

const size_t sql_admin_read_statement_count =
    sizeof sql_admin_read_statements / sizeof sql_admin_read_statements[0];

store_status_t
sql_submit(store_t *store, const store_stmt_t *stmt, const char *const *values, int flags,
           store_done_fn *done, const void *ctx, size_t ctx_len)
{
    size_t lengths[STORE_MAX_PARAMS];
    for (int i = 0; i < stmt->nparams; i++)
        lengths[i] = strlen(values[i]);
    return store_submit(store, stmt, values, lengths, flags, done, ctx, ctx_len);
}

bool
sql_write_applied(PGresult *res)
{
    /* A multi-row statement's part has no command tag: its rows are its answer (store.h). */
    const char *count = PQcmdTuples(res);
    if (*count == '\0')
        return PQntuples(res) > 0;
    return strcmp(count, "0") != 0;
}

bool
sql_error_is_data(const PGresult *res)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return state != NULL && strncmp(state, "22", 2) == 0;
}

/* Whether column col of row i is the text value. */
static bool
s_cell_is(const PGresult *res, int i, int col, const char *value)
{
    return strcmp(PQgetvalue(res, i, col), value) == 0;
}

/* An integer column of row i; def when NULL or not a number. */
static int64_t
s_column_int(const PGresult *res, int i, int col, int64_t def)
{
    if (PQgetisnull(res, i, col))
        return def;
    char *end = NULL;
    long long v = strtoll(PQgetvalue(res, i, col), &end, 10);
    return end != NULL && *end == '\0' ? (int64_t)v : def;
}

void
sql_read_submit(const PGresult *res, sql_submit_result_t *out)
{
    bool one = PQntuples(res) == 1;
    out->blob_ok = one && s_cell_is(res, 0, 0, "t");
    out->owner_ok = one && s_cell_is(res, 0, 1, "t");
    out->inserted = one && s_cell_is(res, 0, 2, "1");
    out->queued = one ? s_column_int(res, 0, 3, 0) : 0;
    out->bytes = one ? s_column_int(res, 0, 4, 0) : 0;
    bool fields = one && out->inserted && PQnfields(res) >= 8 && !PQgetisnull(res, 0, 5);
    out->title = fields ? PQgetvalue(res, 0, 5) : NULL;
    out->filename = fields ? PQgetvalue(res, 0, 6) : NULL;
    out->sha256 = fields ? PQgetvalue(res, 0, 7) : NULL;
    out->pdf_size = fields && PQnfields(res) >= 9 ? s_column_int(res, 0, 8, -1) : -1;
}

void
sql_read_cancel(const PGresult *res, sql_cancel_result_t *out)
{
    memset(out, 0, sizeof *out);
    out->found = PQntuples(res) == 1;
    if (!out->found)
        return;
    snprintf(out->before, sizeof out->before, "%s", PQgetvalue(res, 0, 0));
    out->cancelled = s_cell_is(res, 0, 1, "1");
}

int
sql_row_count(const PGresult *res)
{
    return PQntuples(res);
}

bool
sql_read_unfinished(const PGresult *res, int i, sql_unfinished_row_t *row)
{
    const char *id = PQgetvalue(res, i, 0);
    const char *owner = PQgetvalue(res, i, 1);
    int64_t attempts = s_column_int(res, i, 3, -1);
    if (!proto_is_uuid(id, strlen(id)) || !proto_is_uuid(owner, strlen(owner)) || attempts < 0 ||
        attempts > UINT32_MAX)
        return false;
    memset(row, 0, sizeof *row);
    memcpy(row->id, id, PROTO_UUID_LEN);
    memcpy(row->owner, owner, PROTO_UUID_LEN);
    row->running = s_cell_is(res, i, 2, "running");
    row->attempts = (uint32_t)attempts;
    row->retry_in_ms = s_column_int(res, i, 4, 0);
    row->deadline_in_ms = s_column_int(res, i, 5, -1);
    const char *hash = PQgetvalue(res, i, 6);
    if (!PQgetisnull(res, i, 6) && strlen(hash) < sizeof row->token_sha256)
        memcpy(row->token_sha256, hash, strlen(hash) + 1);
    const char *key = PQgetvalue(res, i, 7);
    if (!PQgetisnull(res, i, 7) && strlen(key) < sizeof row->worker_key)
        memcpy(row->worker_key, key, strlen(key) + 1);
    return true;
}

/* Copy a column of a one-row result into buf (size bytes, NUL-terminated); -1 if too long. */
static int
s_copy_column(const PGresult *res, int col, char *buf, size_t size)
{
    size_t len = (size_t)PQgetlength(res, 0, col);
    if (len >= size)
        return -1;
    memcpy(buf, PQgetvalue(res, 0, col), len);
    buf[len] = '\0';
    return 0;
}

sql_pdf_status_t
sql_read_dispatched(const PGresult *res, proto_job_t *job, long long *size)
{
    if (PQntuples(res) != 1)
        return SQL_PDF_MISSING;
    *size = PQgetisnull(res, 0, 3) ? 0 : strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    if (s_copy_column(res, 0, job->title, sizeof job->title) != 0 ||
        s_copy_column(res, 1, job->filename, sizeof job->filename) != 0 ||
        s_copy_column(res, 2, job->sha256, sizeof job->sha256) != 0)
        return SQL_PDF_TOO_LONG;
    return SQL_PDF_OK;
}
