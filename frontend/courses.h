/*
 * courses.h - the handlers of /api/v1/courses (docs/api.md 4.4, 4.8, 4.12): the course list
 * and full-text search with opaque cursors, one course, its deletion; and the course cache
 * (cache.h) that quiz.c reads too: documents, quizzes and answer keys by course id, served
 * with ETags and kept through a database outage.
 */
#ifndef PROFAI_FRONTEND_COURSES_H
#define PROFAI_FRONTEND_COURSES_H

#include "api.h"
#include "cache.h"
#include "db.h"
#include "http.h"
#include "routes.h"

/* Longest search string ?q= (bytes) and cursor (characters) of the course list. */
#define COURSES_QUERY_MAX 256
#define COURSES_CURSOR_MAX 128

void courses_list(api_call_t *call);   /* GET /api/v1/courses */
void courses_get(api_call_t *call);    /* GET /api/v1/courses/{id} */
void courses_delete(api_call_t *call); /* DELETE /api/v1/courses/{id} */

/* Forget everything this frontend caches about a course that is gone or changed (its
 * revision, document, quiz, answer key, and every cached search). */
void courses_forget(api_t *api, const char *id);

/* Forget every kept course revision (each is asked of PostgreSQL again on its next read), and
 * every cached search (course_listen.h: notifications may have been missed). */
void courses_forget_revisions(api_t *api);

/* The cached kinds of a course's quiz: without answers (docs/api.md 4.9) or its answer key
 * (db.h db_course_quiz). */
typedef enum { COURSES_QUIZ, COURSES_ANSWERS } courses_quiz_kind_t;

/* A course's quiz or answer key, from the cache when it can (both are loaded and kept
 * together). On DB_OK *item is a reference the caller releases (cache_item_release).
 * *stale: PostgreSQL was asked and the replica answered (db.h); false otherwise. */
db_status_t courses_quiz_item(api_t *api, const char *id, courses_quiz_kind_t kind,
                              cache_item_t **item, bool *stale) PROFAI_MUST_CHECK;

/* A course's document as its owner reads it (with_quiz) or a student does, from the cache
 * when it holds the course's current revision (docs/api.md 4.26). On DB_OK *item is a
 * reference the caller releases. */
db_status_t courses_doc_item(api_t *api, const char *id, bool with_quiz,
                             cache_item_t **item) PROFAI_MUST_CHECK;

/* Forget every cached search of this frontend, and keep any search under way from storing
 * its answer (which courses a search finds has changed: a deletion, a publication). */
void courses_forget_searches(api_t *api);

/* Answer with a course item and release it, or the problem that status means; stale: marked
 * as read from the replica (docs/api.md 1.3). */
void courses_reply_item(http_request_t *req, db_status_t status, cache_item_t **item, bool stale);

#endif
