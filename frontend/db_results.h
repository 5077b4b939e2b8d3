/*
 * db_results.h - the statements of results, history and progress (docs/api.md 4.17-4.18):
 * who attempted a course's quiz, how each question fared, a user's attempts, and the lessons
 * it opened (lesson_opens, migration 011). Same conventions as db.h; the tables of results
 * are written as JSON or as CSV (csv.h) from one description of their columns.
 */
#ifndef PROFAI_FRONTEND_DB_RESULTS_H
#define PROFAI_FRONTEND_DB_RESULTS_H

#include "db.h"

/* Results of a course (class_id NULL) or of a class (course_id NULL). */
typedef struct {
    const char *course_id;
    const char *class_id;
    const char *owner_id; /* the course's or class's owner; NULL: any (admin) */
} db_results_scope_t;

typedef enum { DB_RESULTS_STUDENTS, DB_RESULTS_QUESTIONS } db_results_table_t;

/* The whole answer as JSON (both tables, docs/api.md 4.17). DB_NOT_FOUND when the course or
 * class does not exist or is not owner_id's. */
db_status_t db_results_json(db_pool_t *self, const db_results_scope_t *scope, char **json,
                            size_t *len) PROFAI_MUST_CHECK;

/* One table as CSV, with its header record. Errors as db_results_json. */
db_status_t db_results_csv(db_pool_t *self, const db_results_scope_t *scope,
                           db_results_table_t table, char **csv, size_t *len) PROFAI_MUST_CHECK;

/* The JSON array of a page of the user's attempts at every course, newest first (created_at,
 * then id), keyset as page.h. */
db_status_t db_my_attempts_json(db_pool_t *self, const char *user_id, const db_page_t *page,
                                char **json, size_t *len, db_page_end_t *end) PROFAI_MUST_CHECK;

/* The JSON array of a page of the courses user_id opened lessons of (that user_id may still
 * read), each with its lessons opened; the course opened first most recently first (the
 * course's first opening, then course id), keyset as page.h (docs/api.md 4.18). */
db_status_t db_my_progress_json(db_pool_t *self, const char *user_id, bool is_admin,
                                const db_page_t *page, char **json, size_t *len,
                                db_page_end_t *end) PROFAI_MUST_CHECK;

/* One lesson of a course the user sees, with "course_id" and "module_id" first, recording
 * the open. DB_NOT_FOUND when the course is not seen or has no such lesson. */
db_status_t db_lesson_open(db_pool_t *self, const char *course_id, const char *lesson_id,
                           const char *user_id, bool is_admin, char **json,
                           size_t *len) PROFAI_MUST_CHECK;

#endif
