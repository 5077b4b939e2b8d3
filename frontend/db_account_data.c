/* db_account_data.c - see db.h: one user's data as a whole (docs/api.md 4.24, 4.25): the jobs
 * still to cancel, the deletion of everything the user made, and the export. */
#include "db.h"

#include "db_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

db_status_t
db_account_unfinished(db_pool_t *self, const char *user_id, char (*ids)[37], size_t max, size_t *n)
{
    char limit[24];
    snprintf(limit, sizeof limit, "%zu", max);
    const char *values[2] = {user_id, limit};
    PGresult *res = NULL;
    db_status_t status = db_query(self,
                                  "SELECT id::text FROM jobs WHERE owner_id = $1::uuid AND "
                                  "state IN ('queued', 'running') ORDER BY created_at LIMIT $2",
                                  2, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    *n = (size_t)PQntuples(res);
    for (size_t i = 0; i < *n; i++)
        snprintf(ids[i], sizeof ids[i], "%s", PQgetvalue(res, (int)i, 0));
    PQclear(res);
    return DB_OK;
}

/* One statement, so one transaction: its data-modifying parts see one snapshot, and the
 * foreign key from courses to jobs is checked at its end, after both are gone. Attempts at
 * the courses, their search index and the jobs' events go with them (ON DELETE CASCADE). */
db_status_t
db_account_delete(db_pool_t *self, const char *user_id, db_account_deleted_t *deleted,
                  void (*each_course)(void *arg, const char *id), void *arg)
{
    const char *values[1] = {user_id};
    PGresult *res = NULL;
    db_status_t status = db_query_row(
        self,
        "WITH a AS (DELETE FROM quiz_attempts WHERE user_id = $1::uuid RETURNING 1), "
        "c AS (DELETE FROM courses WHERE owner_id = $1::uuid RETURNING id), "
        "j AS (DELETE FROM jobs WHERE owner_id = $1::uuid "
        "      AND state NOT IN ('queued', 'running') RETURNING 1) "
        "SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM c), (SELECT count(*) FROM j), "
        "(SELECT count(*) FROM jobs WHERE owner_id = $1::uuid), "
        "(SELECT coalesce(string_agg(id::text, ','), '') FROM c)",
        1, values, &res);
    if (status != DB_OK)
        return status == DB_NOT_FOUND ? DB_UNAVAILABLE : status;
    deleted->attempts = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    deleted->courses = strtol(PQgetvalue(res, 0, 1), NULL, 10);
    deleted->jobs = strtol(PQgetvalue(res, 0, 2), NULL, 10);
    /* The count before the deletion, less the jobs deleted: the unfinished ones kept. */
    deleted->jobs_kept = strtol(PQgetvalue(res, 0, 3), NULL, 10) - deleted->jobs;
    const char *ids = PQgetvalue(res, 0, 4);
    while (each_course != NULL && *ids != '\0') {
        char id[37];
        size_t len = strcspn(ids, ",");
        if (len < sizeof id) {
            memcpy(id, ids, len);
            id[len] = '\0';
            each_course(arg, id);
        }
        ids += len + (ids[len] == ',');
    }
    PQclear(res);
    return DB_OK;
}

/* ---------------------------------------------------------------- export */

/* Write each row of a query as an object whose keys are the result's column names; columns
 * named "*_json" hold JSON (written as it is, key without the suffix), those named "n_*"
 * integers (key without the prefix), the others text. */
static db_status_t
s_rows(db_pool_t *self, json_t *j, const char *key, const char *sql, const char *user_id)
{
    const char *values[1] = {user_id};
    PGresult *res = NULL;
    db_status_t status = db_query(self, sql, 1, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    json_key(j, key);
    json_array_begin(j);
    int cols = PQnfields(res);
    for (int row = 0; row < PQntuples(res); row++) {
        json_object_begin(j);
        for (int col = 0; col < cols; col++) {
            const char *name = PQfname(res, col);
            size_t len = strlen(name);
            if (len > 5 && strcmp(name + len - 5, "_json") == 0) {
                char plain[64];
                snprintf(plain, sizeof plain, "%.*s", (int)(len - 5), name);
                json_key(j, plain);
                db_write_raw(j, res, row, col);
            } else if (strncmp(name, "n_", 2) == 0) {
                json_key(j, name + 2);
                db_write_int(j, res, row, col);
            } else {
                json_key(j, name);
                db_write_text(j, res, row, col);
            }
        }
        json_object_end(j);
    }
    json_array_end(j);
    PQclear(res);
    return DB_OK;
}

db_status_t
db_user_export_json(db_pool_t *self, const char *user_id, char **json, size_t *len)
{
    const char *values[1] = {user_id};
    PGresult *res = NULL;
    db_status_t status = db_query_row(
        self, "SELECT id::text, name, role, " DB_TS("created_at") " FROM users WHERE id = $1::uuid",
        1, values, &res);
    if (status != DB_OK)
        return status;
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "user");
    json_object_begin(&j);
    static const char *const user_keys[] = {"id", "name", "role", "created_at"};
    for (int col = 0; col < 4; col++) {
        json_key(&j, user_keys[col]);
        db_write_text(&j, res, 0, col);
    }
    json_object_end(&j);
    PQclear(res);
    /* Oldest first; a token by its id only, a PDF by its hash and size. */
    static const struct {
        const char *key, *sql;
    } lists[] = {
        {"tokens", "SELECT id::text AS id, " DB_TS("created_at") " AS created_at, " DB_TS(
                       "expires_at") " AS expires_at, " DB_TS("revoked_at") " AS revoked_at "
                                                                            "FROM tokens WHERE "
                                                                            "user_id = $1::uuid "
                                                                            "ORDER BY created_at, "
                                                                            "id"},
        {"jobs",
         "SELECT j.id::text AS job_id, j.title, j.filename, j.blob_sha256 AS pdf_sha256, "
         "b.size AS n_pdf_size, j.state, "
         "CASE WHEN j.error_code IS NULL THEN NULL ELSE json_build_object('code', j.error_code, "
         "'message', j.error) END AS error_json, "
         "CASE WHEN j.state = 'succeeded' THEN j.course_id::text END AS course_id, " DB_TS(
             "j.created_at") " AS created_at, " DB_TS("j.finished_at") " AS finished_at "
                                                                       "FROM jobs j LEFT JOIN "
                                                                       "blobs b ON b.sha256 = "
                                                                       "j.blob_sha256 "
                                                                       "WHERE j.owner_id = "
                                                                       "$1::uuid ORDER BY "
                                                                       "j.created_at, j.id"},
        {"courses", "SELECT id::text AS id, job_id::text AS job_id, title, " DB_TS(
                        "created_at") " AS created_at, doc AS doc_json FROM courses "
                                      "WHERE owner_id = $1::uuid ORDER BY created_at, id"},
        {"attempts", "SELECT id::text AS id, course_id::text AS course_id, number AS n_number, "
                     "score AS n_score, total AS n_total, answers AS answers_json, " DB_TS(
                         "created_at") " AS created_at FROM quiz_attempts WHERE user_id = $1::uuid "
                                       "ORDER BY created_at, id"},
    };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        status = s_rows(self, &j, lists[i].key, lists[i].sql, user_id);
        if (status != DB_OK) {
            json_free(&j);
            return status;
        }
    }
    json_object_end(&j);
    return db_json_take(&j, json, len);
}
