/*
 * db_classes.h - the statements of classes, enrolment, publishing and course visibility
 * (docs/api.md 2 and 4.15-4.16; tables of migration 011). Same conventions as db.h: blocking,
 * parameterised, JSON written with common/json.h; on DB_OK a *json is the caller's (free()).
 *
 * owner_id parameters limit a statement to one teacher's classes (and courses): NULL for an
 * admin (api_owner_filter). Another teacher's class is DB_NOT_FOUND, as one that does not
 * exist.
 */
#ifndef PROFAI_FRONTEND_DB_CLASSES_H
#define PROFAI_FRONTEND_DB_CLASSES_H

#include "db.h"

/* Length of a join code, without its NUL (migration 011). */
#define DB_JOIN_CODE_LEN 10

/* Whether the user sees a course (profai_course_visible): DB_OK, or DB_NOT_FOUND when it does
 * not exist or the user does not see it. */
db_status_t db_course_visible(db_pool_t *self, const char *course_id, const char *user_id,
                              bool is_admin) PROFAI_MUST_CHECK;

/* The set of classes a user is enrolled in, as 64 hex digits (the SHA-256 of their sorted ids;
 * that of "" when none): students with the same set see the same courses. */
db_status_t db_user_class_set(db_pool_t *self, const char *user_id, char out[65]) PROFAI_MUST_CHECK;

/* Create a class owned by owner_id with a join code; the class object (docs/api.md 4.15).
 * DB_CONFLICT when the code is taken (make another). */
db_status_t db_class_create(db_pool_t *self, const char *owner_id, const char *name,
                            const char *code, char **json, size_t *len) PROFAI_MUST_CHECK;

/* The JSON array of a page of classes: user_id's own, every class (all), or the classes user_id
 * is enrolled in (student view); newest first (created_at, then id), keyset as page.h. */
typedef enum { DB_CLASSES_OWNED, DB_CLASSES_ALL, DB_CLASSES_MEMBER } db_classes_view_t;
db_status_t db_classes_json(db_pool_t *self, db_classes_view_t view, const char *user_id,
                            const db_page_t *page, char **json, size_t *len,
                            db_page_end_t *end) PROFAI_MUST_CHECK;

/* One class with its courses, and its members unless member_view. member_view: user_id must
 * be enrolled; else owner_id (NULL: any) must own it. */
db_status_t db_class_json(db_pool_t *self, const char *class_id, const char *owner_id,
                          bool member_view, const char *user_id, char **json,
                          size_t *len) PROFAI_MUST_CHECK;

/* Rename a class; the class object. */
db_status_t db_class_rename(db_pool_t *self, const char *class_id, const char *owner_id,
                            const char *name, char **json, size_t *len) PROFAI_MUST_CHECK;

db_status_t db_class_delete(db_pool_t *self, const char *class_id,
                            const char *owner_id) PROFAI_MUST_CHECK;

/* Replace a class's join code: DB_CONFLICT when code is taken (make another). */
db_status_t db_class_set_code(db_pool_t *self, const char *class_id, const char *owner_id,
                              const char *code) PROFAI_MUST_CHECK;

/* Enrol the student named name: {"user_id","name","joined_at"}, *created false when it was
 * enrolled already. DB_NOT_FOUND: no such class; DB_LIMIT: no student has that name. */
db_status_t db_class_enrol(db_pool_t *self, const char *class_id, const char *owner_id,
                           const char *name, bool *created, char **json,
                           size_t *len) PROFAI_MUST_CHECK;

/* Remove a member: DB_NOT_FOUND when no such class or not enrolled. */
db_status_t db_class_unenrol(db_pool_t *self, const char *class_id, const char *owner_id,
                             const char *user_id) PROFAI_MUST_CHECK;

/* Enrol user_id in the class whose join code is code (upper case): the class as its
 * members see it. DB_NOT_FOUND when no class has the code. */
db_status_t db_class_join(db_pool_t *self, const char *code, const char *user_id, char **json,
                          size_t *len) PROFAI_MUST_CHECK;

/* Publish (or unpublish) a course to a class, both owner_id's (NULL: anyone's). DB_NOT_FOUND
 * with *missing "course" or "class" (or, unpublishing, "publication"). */
db_status_t db_course_publish(db_pool_t *self, const char *course_id, const char *class_id,
                              const char *owner_id, bool publish,
                              const char **missing) PROFAI_MUST_CHECK;

/* The JSON array [{"id","name","published_at"}] of a page of the classes a course of owner_id
 * (NULL: any) is published to, newest publication first (published_at, then class id), keyset
 * as page.h. DB_NOT_FOUND when there is no such course. */
db_status_t db_course_classes_json(db_pool_t *self, const char *course_id, const char *owner_id,
                                   const db_page_t *page, char **json, size_t *len,
                                   db_page_end_t *end) PROFAI_MUST_CHECK;

#endif
