/*
 * db.h - the frontend's PostgreSQL access: a fixed pool of blocking libpq connections shared by
 * the HTTP worker threads, and the few queries the REST API needs (docs/database.md). The pool
 * and the token and blob statements are db.c; the job statements db_jobs.c, the course
 * statements db_courses.c, the quiz and attempt statements db_quiz.c (they share db_query.h).
 * Answers that are JSON are written from typed columns by the JSON writer (common/json.h);
 * a stored course document is inserted as PostgreSQL gives it.
 *
 * Each connection serves one request at a time. Connections are opened lazily and checked
 * against the schema version when they open; a query that fails because the connection broke
 * is retried once after PQreset. All statements are parameterised; every result is cleared.
 * Failures are logged here (one line each) and reported as DB_UNAVAILABLE, which the API
 * answers with 503.
 */
#ifndef PROFAI_FRONTEND_DB_H
#define PROFAI_FRONTEND_DB_H

#include <profai/compiler.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The oldest schema (highest migration number) this frontend works with. */
#define DB_SCHEMA_VERSION 16

typedef enum {
    DB_OK = 0,
    DB_NOT_FOUND = 1,    /* the query ran and found nothing */
    DB_UNAVAILABLE = -1, /* no connection, a failed query, or a schema too old */
    DB_LIMIT = 2,        /* a limit refused the write (quiz attempts) */
    DB_CONFLICT = 3,     /* a concurrent write won; trying again may succeed */
} db_status_t;

typedef struct db_pool_t db_pool_t;

/* A user found by token (plain data). */
typedef struct {
    char id[37];
    char name[257];
    char role[16];
    long long expires_ms; /* the token's expires_at, ms since the Unix epoch; 0: never */
    bool expired;         /* expires_at has passed, by PostgreSQL's clock */
} db_user_t;

/* A pool of `size` connections to conninfo (libpq conninfo, "" = PG* environment). Nothing
 * connects yet. Waiting for a free connection gives up after acquire_timeout_ms. conninfo is
 * copied. NULL when out of memory. */
db_pool_t *db_pool_new(const char *conninfo, int size, int acquire_timeout_ms);
void db_pool_destroy(db_pool_t **self_p);

/* Startup check: connect one connection and check the schema. 0 when usable; -1 when the
 * database cannot be reached or has no schema yet (requests answer 503 until it has: the
 * broker creates it); -2 when its schema is older than DB_SCHEMA_VERSION (refuse to run). A
 * sentence in err. */
int db_pool_check(db_pool_t *self, char *err, size_t err_size) PROFAI_MUST_CHECK;

/* SELECT 1. */
db_status_t db_ping(db_pool_t *self) PROFAI_MUST_CHECK;

/* The user of an unrevoked token, by the token's SHA-256 (32 bytes); an expired token is found
 * with user->expired set. */
db_status_t db_token_user(db_pool_t *self, const uint8_t hash[32],
                          db_user_t *user) PROFAI_MUST_CHECK;

/* Store a PDF once by its SHA-256 (64 lower-case hex digits); a second store only marks it
 * used now (a blob sweep spares it for its grace period). */
db_status_t db_blob_store(db_pool_t *self, const char *sha256, const uint8_t *data,
                          size_t len) PROFAI_MUST_CHECK;

/* Where db_blob_store_stream gets the PDF: up to size bytes into buf; > 0 bytes, 0 at the
 * end, -1 to abandon the store (the reader keeps its reason). */
typedef long (*db_blob_reader_fn)(void *arg, uint8_t *buf, size_t size);

/* Store a PDF of exactly len bytes read piece by piece from read (memory: one piece, never the
 * whole PDF), computing its SHA-256 on the way (64 hex digits and a NUL into sha256), like
 * db_blob_store for dedup. The bytes are streamed into a temporary table with COPY and moved
 * into blobs in the same transaction. DB_OK; DB_LIMIT when the reader abandoned or gave more
 * or fewer than len bytes (nothing stored); DB_UNAVAILABLE when PostgreSQL failed. */
db_status_t db_blob_store_stream(db_pool_t *self, size_t len, db_blob_reader_fn read, void *arg,
                                 char sha256[65]) PROFAI_MUST_CHECK;

/* Delete every stored PDF that nothing refers to (no queued or running job, no course) and
 * that was last stored more than grace_ms ago (migration 007 blobs_sweep); *deleted gets the
 * number deleted. */
db_status_t db_blobs_sweep(db_pool_t *self, long long grace_ms, long *deleted) PROFAI_MUST_CHECK;

/* The JSON object of one job (docs/api.md 4.2). owner_id NULL: any owner, else only that
 * owner's job (another owner's job is DB_NOT_FOUND). On DB_OK *json is the caller's (free()). */
db_status_t db_job_json(db_pool_t *self, const char *job_id, const char *owner_id, char **json,
                        size_t *len) PROFAI_MUST_CHECK;

/* {"jobs":[...]} newest first, at most limit; owner_id NULL: every owner. */
db_status_t db_jobs_json(db_pool_t *self, const char *owner_id, int limit, char **json,
                         size_t *len) PROFAI_MUST_CHECK;

/* {"job_id":..., "events":[...]}: the job's history, oldest first (docs/api.md 4.14; the
 * job_events rows of migration 006). owner_id as for db_job_json. */
db_status_t db_job_events_json(db_pool_t *self, const char *job_id, const char *owner_id,
                               char **json, size_t *len) PROFAI_MUST_CHECK;

/* The owner (uuid) and state of a job. owner_id NULL: any owner, else only that owner's job
 * (another owner's job is DB_NOT_FOUND). */
db_status_t db_job_owner(db_pool_t *self, const char *job_id, const char *owner_id, char owner[37],
                         char state[16]) PROFAI_MUST_CHECK;

/* A course document with "id" and "job_id" first (docs/api.md 4.4); without its "quiz"
 * (which holds the answers) unless with_quiz. */
db_status_t db_course_json(db_pool_t *self, const char *course_id, bool with_quiz, char **json,
                           size_t *len) PROFAI_MUST_CHECK;

/* Whether a course exists. DB_OK or DB_NOT_FOUND. (The course cache asks for the course's
 * revision instead: db_curation.h.) */
db_status_t db_course_exists(db_pool_t *self, const char *course_id) PROFAI_MUST_CHECK;

/* Which page of the course list to read (docs/api.md 4.8). */
typedef struct {
    const char *q;        /* NULL: every course, newest first; else a full-text search */
    int limit;            /* courses per page, 1..100 */
    const char *after_id; /* list: continue after this course (NULL: from the newest)... */
    long long after_us;   /* ...created at this many microseconds after the Unix epoch */
    long long offset;     /* search: results to skip */
    /* Who sees "owner_id" (students never do): every course's (owner_id_all: admins), or only
     * on the courses of this owner (a teacher's own uuid; NULL: none). */
    bool owner_id_all;
    const char *owner_id_own;
    /* Whose list it is: only the courses this user sees (docs/api.md 2; every course when
     * owner_id_all, the admin's view). */
    const char *viewer_id;
} db_course_query_t;

/* One page of the course list (plain data but json, which the caller frees). */
typedef struct {
    char *json; /* the courses as a JSON array */
    size_t len;
    bool more;         /* another page follows */
    long long last_us; /* the keyset of the page's last course (list mode), see above */
    char last_id[37];
} db_course_page_t;

/* A page of courses: newest first, or (q set) best matches first, each with "lesson" (the id
 * of the lesson that matched best, or null) and "snippet" (HTML: the matches in <mark>, the
 * rest escaped). */
db_status_t db_courses_json(db_pool_t *self, const db_course_query_t *query,
                            db_course_page_t *page) PROFAI_MUST_CHECK;

/* A course's quiz without answers as JSON (docs/api.md 4.9), and its answer key: one line per
 * question, "<question id>\t<answer 0-3>\t<lesson id or empty>", "\n" between lines, in
 * quiz order ("" when the course has no quiz). On DB_OK both are the caller's (free()). */
db_status_t db_course_quiz(db_pool_t *self, const char *course_id, char **quiz, size_t *quiz_len,
                           char **key, size_t *key_len) PROFAI_MUST_CHECK;

/* A scored quiz attempt to store (plain data, strings borrowed). */
typedef struct {
    const char *id;        /* a new uuid made by the caller */
    const char *course_id; /* uuid */
    const char *user_id;   /* uuid */
    int score;
    int total;
    const char *answers; /* JSON object as submitted */
    const char *results; /* JSON array, with each question's right answer */
    int max_attempts;    /* the user's attempts at the course may not exceed it; 0: no limit */
    int reveal_from;     /* reveal answers once the user has made this many attempts; 0: always,
                            -1: never (quiz_reveal_from in quiz_score.h) */
} db_attempt_t;

/* Store a scored attempt, numbered after the user's previous ones, and return it as the API
 * shows it (docs/api.md 4.10). DB_NOT_FOUND when the course does not exist (any more),
 * DB_LIMIT when the user has made max_attempts already, DB_CONFLICT when another attempt of
 * the user was stored at the same moment. */
db_status_t db_attempt_store(db_pool_t *self, const db_attempt_t *attempt, char **json,
                             size_t *len) PROFAI_MUST_CHECK;

/* {"attempts":[...]}: the user's attempts at the course, newest first, at most limit, with
 * the answers revealed as reveal_from says (db_attempt_t). DB_NOT_FOUND when the course does
 * not exist. */
db_status_t db_attempts_json(db_pool_t *self, const char *course_id, const char *user_id, int limit,
                             int reveal_from, char **json, size_t *len) PROFAI_MUST_CHECK;

/* Delete a course (its search rows and quiz attempts go with it; its job keeps its course_id).
 * owner_id NULL: any owner, else only that owner's course. DB_NOT_FOUND when there is no such
 * course (or it is another owner's). */
db_status_t db_course_delete(db_pool_t *self, const char *course_id,
                             const char *owner_id) PROFAI_MUST_CHECK;

#endif
