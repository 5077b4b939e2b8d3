/*
 * db_curation.h - the statements of course curation (docs/api.md 4.26, docs/database.md
 * migration 016): a course's revision, its edits (the overlay profai_course_edit appends to),
 * questions per attempt, and what a regeneration needs. Owned by curation.c; courses.c reads
 * the revision. owner_id NULL everywhere means "any owner" (an admin).
 */
#ifndef PROFAI_FRONTEND_DB_CURATION_H
#define PROFAI_FRONTEND_DB_CURATION_H

#include "db.h"

#include <profai/proto.h>

/* The course's revision (raised by every edit and regeneration). DB_OK or DB_NOT_FOUND. */
db_status_t db_course_revision(db_pool_t *self, const char *course_id,
                               long long *revision) PROFAI_MUST_CHECK;

/* Append one edit (kind as in course_edits; value a JSON object text or NULL) by editor_id.
 * DB_OK with *revision and target_out (the target; for question_add the new question's id);
 * DB_NOT_FOUND: no such course of this owner; DB_LIMIT: its target does not exist. */
db_status_t db_course_edit(db_pool_t *self, const char *course_id, const char *owner_id,
                           const char *editor_id, const char *kind, const char *target,
                           const char *value, long long *revision,
                           char target_out[72]) PROFAI_MUST_CHECK;

/* Set questions per attempt (0: all of them) and raise the revision. DB_OK, DB_NOT_FOUND. */
db_status_t db_course_set_per_attempt(db_pool_t *self, const char *course_id, const char *owner_id,
                                      int per_attempt) PROFAI_MUST_CHECK;

/* What a regeneration of a course submits: the course's owner, its job's title, file name and
 * PDF (sha256). DB_OK, DB_NOT_FOUND. */
typedef struct {
    char owner_id[37];
    char title[PROTO_TITLE_MAX + 1];
    char filename[PROTO_FILENAME_MAX + 1];
    char sha256[65];
} db_course_source_t;
db_status_t db_course_source(db_pool_t *self, const char *course_id, const char *owner_id,
                             db_course_source_t *source) PROFAI_MUST_CHECK;

/* Note that job_id rebuilds course_id (profai_course_regeneration_add: also when the job has
 * already succeeded, its course then lands at once). */
db_status_t db_course_regeneration_add(db_pool_t *self, const char *job_id,
                                       const char *course_id) PROFAI_MUST_CHECK;

#endif
