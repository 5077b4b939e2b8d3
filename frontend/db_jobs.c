/* db_jobs.c - see db.h: the job statements (docs/api.md 4.2, 4.3, 4.7, 4.14). */
#include "db.h"

#include "db_query.h"
#include "job_rate.h"
#include "queue_snapshot.h"
#include "queued_seen.h"

#include <ctype.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The fair order of the queued jobs and the recent throughput, for queue_position and
 * estimated_start (docs/api.md 4.2, "Queue position and estimated start"). The broker serves
 * the owners with queued jobs in turn (docs/broker.md, "Fair scheduling"), so a job that is
 * r-th in its owner's queue goes in round r: before it go every owner's first r-1 jobs, and
 * the r-th jobs of the owners whose r-th job is older. The queued jobs are numbered in that
 * order (rank among the owner's queued jobs, then created_at, then id).
 *
 * Two ways to the same numbers (tests/system/test_queue_position.py checks both):
 * - a list ranks every queued job once (DB_JOB_WITH: `fair`, a window over all of them) and
 *   joins its page to the ranks;
 * - one job's read (DB_JOB_ONE_WITH, DB_JOB_ONE_FROM) counts only what goes before that one
 *   job, and only when it is queued (s_stmt_job_rank, run only after s_stmt_job read the job
 *   as queued):
 *   `ahead` of its owner's queued jobs are older (r = ahead + 1), and from each owner with
 *   unfinished jobs (`owners`, a skip scan of jobs_owner_unfinished, one probe per owner)
 *   at most the first r queued jobs are read: those ranked <= ahead count, the r-th counts if
 *   older than this job. A poll of a running or finished job reads no other job's row.
 * `recent` counts the jobs that ended in the last 5 minutes and the time they span (from the
 * earliest start among them, at most 5 minutes back, at least 1 s), whose ratio is the recent
 * throughput. A job's read is given the position when a snapshot of the whole order taken at
 * most 1 s before has it ($4: queue_snapshot.h, kept with 100 or more queued jobs), and
 * then ranks nothing. It computes the throughput only for a queued job, and not when given a
 * figure kept from a count of at least 100 jobs at most 1 s ago ($3, seconds per job:
 * job_rate.h). The index jobs_owner_unfinished serves the ranks, jobs_finished the count
 * (migration 005). */
/* clang-format off */
#define DB_JOB_RECENT_OF(cond)                                                                     \
    "SELECT count(*) AS n, greatest(1.0, extract(epoch FROM now() - greatest("                     \
    "min(coalesce(f.started_at, f.finished_at)), now() - interval '5 minutes'))) AS span "         \
    "FROM jobs f WHERE f.state IN ('succeeded', 'failed') "                                        \
    "AND f.finished_at > now() - interval '5 minutes'" cond
#define DB_JOB_WITH                                                                                \
    "WITH ranked AS (SELECT id, created_at, row_number() OVER "                                    \
    "(PARTITION BY owner_id ORDER BY created_at, id) AS r FROM jobs WHERE state = 'queued'), "     \
    "fair AS (SELECT id, row_number() OVER (ORDER BY r, created_at, id) AS position "              \
    "FROM ranked), "                                                                               \
    "recent AS (" DB_JOB_RECENT_OF("") ") "
#define DB_JOB_FROM " jobs LEFT JOIN fair ON fair.id = jobs.id CROSS JOIN recent "
#define DB_JOB_ONE_WITH                                                                            \
    "WITH RECURSIVE owners(owner_id) AS ((SELECT owner_id FROM jobs "                              \
    "WHERE state IN ('queued', 'running') ORDER BY owner_id, created_at, id LIMIT 1) "             \
    "UNION ALL SELECT (SELECT u.owner_id FROM jobs u WHERE u.state IN ('queued', 'running') "      \
    "AND u.owner_id > o.owner_id ORDER BY u.owner_id, u.created_at, u.id LIMIT 1) FROM owners o "  \
    "WHERE o.owner_id IS NOT NULL) "
#define DB_JOB_ONE_FROM                                                                            \
    " jobs LEFT JOIN LATERAL (SELECT CASE WHEN $4::bigint IS NOT NULL THEN $4::bigint::numeric "   \
    "ELSE (SELECT 1 + sum(c.n) FROM "                                                              \
    "(SELECT count(*) AS ahead FROM jobs m WHERE m.owner_id = jobs.owner_id "                      \
    "AND m.state = 'queued' AND (m.created_at, m.id) < (jobs.created_at, jobs.id)) me "            \
    "CROSS JOIN owners CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE x.k <= me.ahead "         \
    "OR (x.created_at, x.id) < (jobs.created_at, jobs.id)) AS n FROM (SELECT q.created_at, q.id, " \
    "row_number() OVER (ORDER BY q.created_at, q.id) AS k FROM jobs q "                            \
    "WHERE q.owner_id = owners.owner_id AND q.state = 'queued' ORDER BY q.created_at, q.id "       \
    "LIMIT me.ahead + 1) x) c) END AS position WHERE jobs.state = 'queued') fair ON true "         \
    "LEFT JOIN LATERAL (" DB_JOB_RECENT_OF(" AND fair.position IS NOT NULL AND $3::float8 IS NULL") \
    ") recent ON true "

/* The columns of one job as the API shows it, in the order s_job_write reads them.
 * retry_at comes from migration 003 (the retry back-off).
 * estimated_start: now + wait (seconds: position / throughput), not before retry_at; null when
 * nothing ended recently (the throughput is unknown) or the job is not queued. */
#define DB_JOB_RETRY_AT "jobs.retry_at"
#define DB_JOB_WAIT "(fair.position * recent.span / nullif(recent.n, 0))::float8"
#define DB_JOB_ONE_WAIT "coalesce(fair.position * $3::float8, " DB_JOB_WAIT ")"
#define DB_JOB_COLUMNS_OF(wait)                                                                    \
    "jobs.id::text, jobs.title, jobs.state, jobs.progress, jobs.stage, jobs.attempts, "            \
    "jobs.error_code, jobs.error, "                                                                \
    "CASE WHEN jobs.state = 'succeeded' THEN jobs.course_id::text END, "                           \
    "CASE WHEN jobs.state = 'queued' THEN fair.position END, "                                     \
    DB_TS(DB_JOB_RETRY_AT) ", "                                                                    \
    DB_TS("jobs.created_at") ", " DB_TS("jobs.started_at") ", " DB_TS("jobs.finished_at") ", "     \
    DB_TS("CASE WHEN jobs.state = 'queued' AND fair.position IS NOT NULL AND " wait " IS NOT NULL "\
          "THEN greatest(now() + " wait " * interval '1 second', " DB_JOB_RETRY_AT ") END")
#define DB_JOB_COLUMNS DB_JOB_COLUMNS_OF(DB_JOB_WAIT)
/* One job's row (s_stmt_job): its position is $4's, from the snapshot, its wait $3's. */
#define DB_JOB_ROW_SQL                                                                             \
    "SELECT " DB_JOB_COLUMNS_OF("(fair.position * $3::float8)") " FROM jobs "                      \
    "CROSS JOIN (SELECT $4::bigint AS position) fair WHERE jobs.id = $1::uuid "                    \
    "AND ($2::uuid IS NULL OR jobs.owner_id = $2::uuid)"
/* The keyset of a list: created_at in microseconds since the Unix epoch (column 15). */
#define DB_JOB_KEY "(extract(epoch FROM jobs.created_at) * 1000000)::bigint"
/* clang-format on */

/* One job (columns DB_JOB_COLUMNS) as the API shows it (docs/api.md 4.2). */
static void
s_job_write(json_t *j, PGresult *res, int row)
{
    json_object_begin(j);
    json_key(j, "job_id");
    db_write_text(j, res, row, 0);
    json_key(j, "title");
    db_write_text(j, res, row, 1);
    json_key(j, "state");
    db_write_text(j, res, row, 2);
    json_key(j, "progress");
    db_write_int(j, res, row, 3);
    json_key(j, "stage");
    db_write_text(j, res, row, 4);
    json_key(j, "attempts");
    db_write_int(j, res, row, 5);
    json_key(j, "error");
    if (PQgetisnull(res, row, 6)) {
        json_null(j);
    } else {
        json_object_begin(j);
        json_key(j, "code");
        db_write_text(j, res, row, 6);
        json_key(j, "message");
        db_write_text(j, res, row, 7);
        json_object_end(j);
    }
    json_key(j, "course_id");
    db_write_text(j, res, row, 8);
    json_key(j, "queue_position");
    db_write_int(j, res, row, 9);
    json_key(j, "estimated_start");
    db_write_text(j, res, row, 14);
    json_key(j, "retry_at");
    db_write_text(j, res, row, 10);
    json_key(j, "created_at");
    db_write_text(j, res, row, 11);
    json_key(j, "started_at");
    db_write_text(j, res, row, 12);
    json_key(j, "finished_at");
    db_write_text(j, res, row, 13);
    json_object_end(j);
}

/* Prepared: the teachers' progress polls run the job read more than any other job statement,
 * and parsing and planning it cost PostgreSQL several times its execution (docs/performance.md,
 * "A fair database pool and a prepared job read"). Two statements, because PostgreSQL sets up
 * a prepared statement's whole generic plan on every execution, also the parts a row never
 * reaches: the rank's plan (a recursive CTE and two lateral subqueries) cost a finished job's
 * read more than the read itself (docs/performance.md, "The job read: a small statement for
 * the row, the rank only for a queued job").
 * - s_stmt_job reads the row alone (one index probe). With $4, a position from the snapshot,
 *   and $3, a kept throughput, it answers a queued job too; without them a queued job's
 *   position is null there and the caller runs s_stmt_job_rank.
 * - s_stmt_job_rank reads the row again with its position and the recent throughput, so the
 *   answer's state and position come from one snapshot of the database (a job dispatched
 *   between the two statements is answered as running, without a position). A job whose
 *   last rank found it queued is ranked at once (queued_seen.h): a poll of a waiting job
 *   costs one statement, as before. */
static const db_statement_t s_stmt_job = {DB_STMT_JOB, "profai_job", DB_JOB_ROW_SQL};
static const db_statement_t s_stmt_job_rank = {
    DB_STMT_JOB_RANK, "profai_job_rank",
    DB_JOB_ONE_WITH "SELECT " DB_JOB_COLUMNS_OF(
        DB_JOB_ONE_WAIT) ", recent.n, recent.span::float8 "
                         "FROM" DB_JOB_ONE_FROM "WHERE jobs.id = $1::uuid "
                         "AND ($2::uuid IS NULL OR jobs.owner_id = $2::uuid)"};

/* The recent throughput and the fair order of the process's job reads (job_rate.h,
 * queue_snapshot.h). */
static job_rate_t s_rate = JOB_RATE_INIT;
static queue_snapshot_t s_queue = QUEUE_SNAPSHOT_INIT;
/* The jobs whose last rank found them queued: polled again, they are ranked at once. */
static queued_seen_t s_seen = QUEUED_SEEN_INIT;

/* Number every queued job in the fair order (DB_JOB_WITH's `fair`) and keep that for the
 * next reads (queue_snapshot_put; the caller claimed it). */
static void
s_queue_snapshot_take(db_pool_t *self, int64_t now_ms)
{
    PGresult *res = NULL;
    queue_snapshot_entry_t *entries = NULL;
    size_t count = 0;
    if (db_query(self, DB_JOB_WITH "SELECT id::text, position FROM fair", 0, NULL, NULL, NULL,
                 PGRES_TUPLES_OK, &res) == DB_OK) {
        int rows = PQntuples(res);
        entries = rows > 0 ? calloc((size_t)rows, sizeof *entries) : NULL;
        for (int i = 0; entries != NULL && i < rows; i++) {
            snprintf(entries[i].id, sizeof entries[i].id, "%s", PQgetvalue(res, i, 0));
            entries[i].position = atoll(PQgetvalue(res, i, 1));
        }
        count = entries != NULL ? (size_t)rows : 0;
        PQclear(res);
    }
    (void)queue_snapshot_put(&s_queue, now_ms, entries, count); /* -1: none kept, computed */
    free(entries);
}

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

db_status_t
db_job_json(db_pool_t *self, const char *job_id, const char *owner_id, char **json, size_t *len)
{
    int64_t now_ms = s_now_ms();
    double kept = 0;
    char kept_text[32];
    bool use_kept = job_rate_get(&s_rate, now_ms, &kept);
    if (use_kept)
        snprintf(kept_text, sizeof kept_text, "%.17g", kept);
    /* The snapshot names jobs by uuid text as PostgreSQL writes it: lower case. */
    char id[QUEUE_SNAPSHOT_ID_SIZE];
    snprintf(id, sizeof id, "%s", job_id);
    for (char *c = id; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    long long position = 0;
    char position_text[24];
    bool use_snapshot = queue_snapshot_find(&s_queue, now_ms, id, &position);
    if (use_snapshot)
        snprintf(position_text, sizeof position_text, "%lld", position);
    const char *values[4] = {job_id, owner_id, use_kept ? kept_text : NULL,
                             use_snapshot ? position_text : NULL};
    /* A queued job without both kept figures is ranked: at once when its last rank found it
     * queued (one statement per poll while it waits), else after its row says it is queued
     * (the rank reads the row again). */
    bool rank_queued = !(use_snapshot && use_kept);
    bool ranked = rank_queued && queued_seen_has(&s_seen, id);
    PGresult *res = NULL;
    db_status_t status = DB_OK;
    if (!ranked) {
        status = db_query_prepared(self, &s_stmt_job, NULL, 4, values, NULL, NULL, PGRES_TUPLES_OK,
                                   &res);
        ranked = rank_queued && status == DB_OK && PQntuples(res) > 0 &&
                 strcmp(PQgetvalue(res, 0, 2), "queued") == 0;
        if (ranked) {
            PQclear(res);
            res = NULL;
        }
    }
    if (ranked) {
        status = db_query_prepared(self, &s_stmt_job_rank, NULL, 4, values, NULL, NULL,
                                   PGRES_TUPLES_OK, &res);
        if (status == DB_OK && PQntuples(res) > 0) /* none: not this reader's job */
            queued_seen_put(&s_seen, id, strcmp(PQgetvalue(res, 0, 2), "queued") == 0);
    }
    if (status == DB_OK && PQntuples(res) < 1) {
        PQclear(res);
        return DB_NOT_FOUND;
    }
    if (status != DB_OK)
        return status;
    /* A queued job's rank without a kept figure counted the jobs that ended recently. */
    if (ranked && !use_kept && !PQgetisnull(res, 0, 9) && !PQgetisnull(res, 0, 15))
        job_rate_put(&s_rate, now_ms, atoll(PQgetvalue(res, 0, 15)),
                     strtod(PQgetvalue(res, 0, 16), NULL));
    /* A queued job computed: number the whole queue for the next reads, once a second. */
    if (ranked && !use_snapshot && !PQgetisnull(res, 0, 9) &&
        queue_snapshot_claim(&s_queue, now_ms))
        s_queue_snapshot_take(self, now_ms);
    json_t j;
    json_init(&j);
    s_job_write(&j, res, 0);
    PQclear(res);
    return db_json_take(&j, json, len);
}

void
db_page_values(const db_page_t *page, db_page_values_t *values)
{
    snprintf(values->limit, sizeof values->limit, "%d", page->limit + 1);
    snprintf(values->number, sizeof values->number, "%lld", page->after_number);
    values->after_id = page->after_id;
    values->after_number = page->after_id ? values->number : NULL;
}

int
db_page_end_read(PGresult *res, int limit, int number_col, int id_col, db_page_end_t *end)
{
    int rows = PQntuples(res);
    end->more = rows > limit;
    if (end->more)
        rows = limit;
    end->last_number = 0;
    end->last_id[0] = '\0';
    if (rows > 0 && !PQgetisnull(res, rows - 1, number_col)) {
        end->last_number = atoll(PQgetvalue(res, rows - 1, number_col));
        if (id_col >= 0)
            snprintf(end->last_id, sizeof end->last_id, "%s", PQgetvalue(res, rows - 1, id_col));
    }
    return rows;
}

db_status_t
db_jobs_json(db_pool_t *self, const char *owner_id, const db_page_t *page, char **json, size_t *len,
             db_page_end_t *end)
{
    db_page_values_t pv;
    db_page_values(page, &pv);
    const char *values[4] = {owner_id, pv.limit, pv.after_id, pv.after_number};
    PGresult *res = NULL;
    db_status_t status = db_query(
        self,
        DB_JOB_WITH "SELECT " DB_JOB_COLUMNS ", " DB_JOB_KEY " FROM" DB_JOB_FROM
                    "WHERE ($1::uuid IS NULL OR jobs.owner_id = $1::uuid) "
                    "AND ($3::uuid IS NULL OR (jobs.created_at, jobs.id) < "
                    "('epoch'::timestamptz + $4::bigint * interval '1 microsecond', $3::uuid)) "
                    "ORDER BY jobs.created_at DESC, jobs.id DESC LIMIT $2::int",
        4, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    int rows = db_page_end_read(res, page->limit, 15, 0, end);
    json_t j;
    json_init(&j);
    json_array_begin(&j);
    for (int i = 0; i < rows; i++)
        s_job_write(&j, res, i);
    json_array_end(&j);
    PQclear(res);
    return db_json_take(&j, json, len);
}

db_status_t
db_job_version(db_pool_t *self, const char *job_id, const char *owner_id, char *version,
               size_t size, long long *last_seq, bool *final)
{
    const char *values[2] = {job_id, owner_id};
    PGresult *res = NULL;
    db_status_t status = db_query_row(
        self,
        "SELECT concat_ws('|', j.state, j.progress, j.stage, j.attempts), "
        "coalesce((SELECT max(seq) FROM job_events e WHERE e.job_id = j.id), 0), "
        "j.state IN ('succeeded', 'failed', 'cancelled') "
        "FROM jobs j WHERE j.id = $1::uuid AND ($2::uuid IS NULL OR j.owner_id = $2::uuid)",
        2, values, &res);
    if (status != DB_OK)
        return status;
    snprintf(version, size, "%s|%s", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    *last_seq = atoll(PQgetvalue(res, 0, 1));
    *final = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
    PQclear(res);
    return DB_OK;
}

db_status_t
db_job_owner(db_pool_t *self, const char *job_id, const char *owner_id, char owner[37],
             char state[16])
{
    const char *values[2] = {job_id, owner_id};
    PGresult *res = NULL;
    db_status_t status = db_query(self,
                                  "SELECT owner_id::text, state FROM jobs WHERE id = $1::uuid "
                                  "AND ($2::uuid IS NULL OR owner_id = $2::uuid)",
                                  2, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    if (PQntuples(res) < 1) {
        status = DB_NOT_FOUND;
    } else {
        snprintf(owner, 37, "%s", PQgetvalue(res, 0, 0));
        snprintf(state, 16, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return status;
}

db_status_t
db_job_events_json(db_pool_t *self, const char *job_id, const char *owner_id, const db_page_t *page,
                   char **json, size_t *len, db_page_end_t *end)
{
    db_page_values_t pv;
    db_page_values(page, &pv);
    const char *values[4] = {job_id, owner_id, pv.number, pv.limit};
    PGresult *res = NULL;
    db_status_t status = db_query_row(
        self,
        "SELECT e.seq, " DB_TS(
            "e.at") ", e.state, e.attempt, e.worker, e.stage,"
                    " e.error_code, e.error FROM jobs j LEFT JOIN LATERAL (SELECT * FROM"
                    " job_events x WHERE x.job_id = j.id AND x.seq > $3::bigint ORDER BY x.seq"
                    " LIMIT $4::int) e ON true"
                    " WHERE j.id = $1::uuid AND ($2::uuid IS NULL OR j.owner_id = $2::uuid)"
                    " ORDER BY e.seq",
        4, values, &res);
    if (status != DB_OK)
        return status;
    int rows = db_page_end_read(res, page->limit, 0, -1, end);
    json_t j;
    json_init(&j);
    json_array_begin(&j);
    for (int i = 0; i < rows; i++) {
        if (PQgetisnull(res, i, 0))
            continue; /* a job without events (LEFT JOIN) */
        json_object_begin(&j);
        json_key(&j, "seq");
        db_write_int(&j, res, i, 0);
        json_key(&j, "at");
        db_write_text(&j, res, i, 1);
        json_key(&j, "state");
        db_write_text(&j, res, i, 2);
        json_key(&j, "attempt");
        db_write_int(&j, res, i, 3);
        json_key(&j, "worker");
        db_write_text(&j, res, i, 4);
        json_key(&j, "stage");
        db_write_text(&j, res, i, 5);
        json_key(&j, "error");
        if (PQgetisnull(res, i, 6) && PQgetisnull(res, i, 7)) {
            json_null(&j);
        } else {
            json_object_begin(&j);
            json_key(&j, "code");
            db_write_text(&j, res, i, 6);
            json_key(&j, "message");
            db_write_text(&j, res, i, 7);
            json_object_end(&j);
        }
        json_object_end(&j);
    }
    json_array_end(&j);
    PQclear(res);
    return db_json_take(&j, json, len);
}
