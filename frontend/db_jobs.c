/* db_jobs.c - see db.h: the job statements (docs/api.md 4.2, 4.3, 4.7). */
#include "db.h"

#include "db_query.h"

#include <stdio.h>

/* The columns of one job as the API shows it, in the order s_job_write reads them.
 * queue_position counts the queued jobs created before this one (the index jobs_unfinished
 * serves it). retry_at comes from migration 003 (the retry back-off); it is read through
 * to_jsonb(jobs) so that this statement works on a schema without that column as well (null
 * then), whichever of the two migrations the database has. */
/* clang-format off */
#define DB_JOB_COLUMNS                                                                             \
    "jobs.id::text, jobs.title, jobs.state, jobs.progress, jobs.stage, jobs.attempts, "            \
    "jobs.error_code, jobs.error, "                                                                \
    "CASE WHEN jobs.state = 'succeeded' THEN jobs.course_id::text END, "                           \
    "CASE WHEN jobs.state = 'queued' THEN 1 + (SELECT count(*) FROM jobs q "                       \
    "WHERE q.state = 'queued' AND (q.created_at, q.id) < (jobs.created_at, jobs.id)) END, "        \
    DB_TS("(to_jsonb(jobs) ->> 'retry_at')::timestamptz") ", "                                     \
    DB_TS("jobs.created_at") ", " DB_TS("jobs.started_at") ", " DB_TS("jobs.finished_at")
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

db_status_t
db_job_json(db_pool_t *self, const char *job_id, const char *owner_id, char **json, size_t *len)
{
    const char *values[2] = {job_id, owner_id};
    PGresult *res = NULL;
    db_status_t status = db_query(self,
                                  "SELECT " DB_JOB_COLUMNS " FROM jobs WHERE id = $1::uuid "
                                  "AND ($2::uuid IS NULL OR owner_id = $2::uuid)",
                                  2, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    if (PQntuples(res) < 1) {
        PQclear(res);
        return DB_NOT_FOUND;
    }
    json_t j;
    json_init(&j);
    s_job_write(&j, res, 0);
    PQclear(res);
    return db_json_take(&j, json, len);
}

db_status_t
db_jobs_json(db_pool_t *self, const char *owner_id, int limit, char **json, size_t *len)
{
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit);
    const char *values[2] = {owner_id, limit_text};
    PGresult *res = NULL;
    db_status_t status = db_query(self,
                                  "SELECT " DB_JOB_COLUMNS " FROM jobs "
                                  "WHERE ($1::uuid IS NULL OR owner_id = $1::uuid) "
                                  "ORDER BY created_at DESC, id DESC LIMIT $2::int",
                                  2, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "jobs");
    json_array_begin(&j);
    for (int i = 0; i < PQntuples(res); i++)
        s_job_write(&j, res, i);
    json_array_end(&j);
    json_object_end(&j);
    PQclear(res);
    return db_json_take(&j, json, len);
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
