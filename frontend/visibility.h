/*
 * visibility.h - who sees which course (docs/api.md section 2 and 1.1): an admin every
 * course, a teacher its own, a student those published to a class it is enrolled in
 * (profai_course_visible, migration 011). The course cache (courses.h) holds one document for
 * every viewer, so every read of a course, its quiz or a lesson asks here first.
 *
 * A "yes" is kept per caller and course in the API's cache; a "no" never is (it may turn into
 * a yes at any time, and is cheap to ask again). While the change notifications are heard
 * (course_listen.h), a kept "yes" is trusted for cache/ttl and a student's set of classes is
 * kept too: notifications make them forgotten. Otherwise a "yes" is kept for cache/search_ttl
 * only and the set is asked of PostgreSQL on every search. During a database outage a kept
 * "yes" is served even past its time, as the course itself is.
 */
#ifndef PROFAI_FRONTEND_VISIBILITY_H
#define PROFAI_FRONTEND_VISIBILITY_H

#include "api.h"
#include "auth.h"
#include "db.h"

/* Whether user sees course_id: DB_OK; DB_NOT_FOUND when it does not exist or user does not see
 * it (answered as one: 404); DB_UNAVAILABLE when PostgreSQL could not tell. */
db_status_t visibility_check(api_t *api, const auth_user_t *user,
                             const char *course_id) PROFAI_MUST_CHECK;

/* Forget every kept answer and class set, and every cached search (a publication, a
 * membership or a class went away, or came: lists must follow at once on this frontend). */
void visibility_forget(api_t *api);

/* Forget the kept answers about one course (it was published, withdrawn, deleted). */
void visibility_forget_course(api_t *api, const char *course_id);

/* Forget one user's kept answers and class set, and every cached search (it joined or left a
 * class). */
void visibility_forget_user(api_t *api, const char *user_id);

/* The part of a search's cache key that stands for its viewer: "admin", a teacher's id, or for
 * a student "c:" and the hash of its set of classes (students with the same classes see the
 * same courses). -1 when PostgreSQL could not tell (the search is then not cached). */
int visibility_viewer_key(api_t *api, const auth_user_t *user, char *out,
                          size_t size) PROFAI_MUST_CHECK;

#endif
