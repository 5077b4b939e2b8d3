/* db_curation.c - see db_curation.h. */
#include "db_curation.h"

#include "db_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

db_status_t
db_course_revision(db_pool_t *self, const char *course_id, long long *revision)
{
    const char *values[1] = {course_id};
    PGresult *res = NULL;
    db_status_t status =
        db_query_row(self, "SELECT revision FROM courses WHERE id = $1::uuid", 1, values, &res);
    if (status != DB_OK)
        return status;
    *revision = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return DB_OK;
}

db_status_t
db_course_edit(db_pool_t *self, const char *course_id, const char *owner_id, const char *editor_id,
               const char *kind, const char *target, const char *value, long long *revision,
               char target_out[72])
{
    const char *values[6] = {course_id, owner_id, editor_id, kind, target, value};
    PGresult *res = NULL;
    db_status_t status = db_query_row(self,
                                      "SELECT r_revision, r_target FROM profai_course_edit("
                                      "$1::uuid, $2::uuid, $3::uuid, $4, $5, $6::jsonb)",
                                      6, values, &res);
    if (status != DB_OK)
        return status;
    if (PQgetisnull(res, 0, 0))
        status = DB_NOT_FOUND;
    else if ((*revision = strtoll(PQgetvalue(res, 0, 0), NULL, 10)) < 0)
        status = DB_LIMIT;
    else
        snprintf(target_out, 72, "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    return status;
}

db_status_t
db_course_set_per_attempt(db_pool_t *self, const char *course_id, const char *owner_id,
                          int per_attempt)
{
    char n[16];
    snprintf(n, sizeof n, "%d", per_attempt);
    const char *values[3] = {course_id, owner_id, per_attempt > 0 ? n : NULL};
    PGresult *res = NULL;
    db_status_t status = db_query_row(self,
                                      "UPDATE courses SET questions_per_attempt = $3::int, "
                                      "revision = revision + 1 WHERE id = $1::uuid "
                                      "AND ($2::uuid IS NULL OR owner_id = $2::uuid) RETURNING 1",
                                      3, values, &res);
    if (status == DB_OK)
        PQclear(res);
    return status;
}

db_status_t
db_course_source(db_pool_t *self, const char *course_id, const char *owner_id,
                 db_course_source_t *source)
{
    const char *values[2] = {course_id, owner_id};
    PGresult *res = NULL;
    db_status_t status = db_query_row(self,
                                      "SELECT c.owner_id::text, j.title, j.filename, j.blob_sha256 "
                                      "FROM courses c JOIN jobs j ON j.id = c.job_id "
                                      "WHERE c.id = $1::uuid "
                                      "AND ($2::uuid IS NULL OR c.owner_id = $2::uuid)",
                                      2, values, &res);
    if (status != DB_OK)
        return status;
    snprintf(source->owner_id, sizeof source->owner_id, "%s", PQgetvalue(res, 0, 0));
    snprintf(source->title, sizeof source->title, "%s", PQgetvalue(res, 0, 1));
    snprintf(source->filename, sizeof source->filename, "%s", PQgetvalue(res, 0, 2));
    snprintf(source->sha256, sizeof source->sha256, "%s", PQgetvalue(res, 0, 3));
    PQclear(res);
    return DB_OK;
}

db_status_t
db_course_regeneration_add(db_pool_t *self, const char *job_id, const char *course_id)
{
    const char *values[2] = {job_id, course_id};
    PGresult *res = NULL;
    db_status_t status = db_query(self, "SELECT profai_course_regeneration_add($1::uuid, $2::uuid)",
                                  2, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    PQclear(res);
    return status;
}
