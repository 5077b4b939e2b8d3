/*
 * db.h - the frontend's PostgreSQL access: a fixed pool of blocking libpq connections shared by
 * the HTTP worker threads, and the few queries the REST API needs (docs/database.md). The pool
 * and the token and blob statements are db.c; the job statements db_jobs.c, the course
 * statements db_courses.c, the quiz and attempt statements db_quiz.c (they share db_query.h).
 * Answers that are JSON are written from typed columns by the JSON writer (common/json.h);
 * a stored course document is inserted as PostgreSQL gives it.
 *
 * Each connection serves one request at a time; requests waiting for one are served in arrival
 * order (fair_pool.h). Connections are opened lazily and checked
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

/* Open up to n of the pool's connections now, one after another (at start, before requests
 * are served), so that the first crowd of requests finds them open instead of each opening a
 * backend of its own while the others wait. Stops at the first that fails. How many of the
 * pool's connections are open afterwards. */
int db_pool_warm(db_pool_t *self, int n);

/* SELECT 1. */
db_status_t db_ping(db_pool_t *self) PROFAI_MUST_CHECK;

/* The user of an unrevoked token, by the token's SHA-256 (32 bytes); an expired token is found
 * with user->expired set. */
db_status_t db_token_user(db_pool_t *self, const uint8_t hash[32],
                          db_user_t *user) PROFAI_MUST_CHECK;

/* Take one token from the shared bucket `key` (migration 014 rate_take: refilled at
 * rate_per_min a minute up to burst, by the database's clock). *allowed; *remaining whole
 * tokens left; *retry_after_s until one is back (0 when allowed). */
db_status_t db_rate_take(db_pool_t *self, const char *key, long rate_per_min, long burst,
                         bool *allowed, long *remaining, long *retry_after_s) PROFAI_MUST_CHECK;

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

/* db_blob_store_stream for a PDF whose length is not known before its end (a multipart form's
 * file, a chunked body): read until it gives 0, at most max bytes. Each piece is a row of a
 * temporary table, joined into the blob by PostgreSQL (memory here: one piece). *len gets
 * the PDF's length. DB_LIMIT when the reader abandoned, gave nothing, or more than max
 * (nothing stored). */
db_status_t db_blob_store_pieces(db_pool_t *self, size_t max, db_blob_reader_fn read, void *arg,
                                 char sha256[65], size_t *len) PROFAI_MUST_CHECK;

/* Delete every stored PDF that nothing refers to (no queued or running job, no course) and
 * that was last stored more than grace_ms ago (migration 007 blobs_sweep); *deleted gets the
 * number deleted. */
db_status_t db_blobs_sweep(db_pool_t *self, long long grace_ms, long *deleted) PROFAI_MUST_CHECK;

/* The JSON object of one job (docs/api.md 4.2). owner_id NULL: any owner, else only that
 * owner's job (another owner's job is DB_NOT_FOUND). On DB_OK *json is the caller's (free()). */
db_status_t db_job_json(db_pool_t *self, const char *job_id, const char *owner_id, char **json,
                        size_t *len) PROFAI_MUST_CHECK;

/* Which page of a list to read (page.h): limit rows after a keyset, or from the start. */
typedef struct {
    int limit;              /* 1..100 */
    const char *after_id;   /* NULL: the first page; else continue after this row (uuid)... */
    long long after_number; /* ...whose key is this (microseconds of its time, or its seq) */
} db_page_t;

/* What a page read says about the rest (plain data). */
typedef struct {
    bool more;             /* another page follows */
    long long last_number; /* the keyset of the page's last row, for the next cursor */
    char last_id[37];
} db_page_end_t;

/* The JSON array of a page of jobs, newest first; owner_id NULL: every owner. */
db_status_t db_jobs_json(db_pool_t *self, const char *owner_id, const db_page_t *page, char **json,
                         size_t *len, db_page_end_t *end) PROFAI_MUST_CHECK;

/* The JSON array of a page of a job's history, oldest first (docs/api.md 4.14; the job_events
 * rows of migration 006): the events after seq page->after_number (after_id is ignored; -1:
 * from the first). owner_id as for db_job_json; DB_NOT_FOUND when there is no such job. */
db_status_t db_job_events_json(db_pool_t *self, const char *job_id, const char *owner_id,
                               const db_page_t *page, char **json, size_t *len,
                               db_page_end_t *end) PROFAI_MUST_CHECK;

/* What a watcher of a job needs to tell that it changed (job_stream.h): its state, progress,
 * stage and attempts and its last event's seq as one line into version (at most size bytes),
 * and whether its state is final. owner_id as for db_job_json. */
db_status_t db_job_version(db_pool_t *self, const char *job_id, const char *owner_id, char *version,
                           size_t size, long long *last_seq, bool *final) PROFAI_MUST_CHECK;

/* The owner (uuid) and state of a job. owner_id NULL: any owner, else only that owner's job
 * (another owner's job is DB_NOT_FOUND). */
db_status_t db_job_owner(db_pool_t *self, const char *job_id, const char *owner_id, char owner[37],
                         char state[16]) PROFAI_MUST_CHECK;

/* Reads that may be answered by a hot standby (db_replica.h, docs/api.md 1.3) take `stale`:
 * NULL to read the primary only; else the read may go to the replica, and *stale says
 * whether it did (the answer may then lack the newest commits). */

/* A course document with "id" and "job_id" first (docs/api.md 4.4); without its "quiz"
 * (which holds the answers) unless with_quiz. */
db_status_t db_course_json(db_pool_t *self, const char *course_id, bool with_quiz, char **json,
                           size_t *len, bool *stale) PROFAI_MUST_CHECK;

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
    bool stale; /* read from the replica (db_replica.h): it may lack the newest courses */
} db_course_page_t;

/* A page of courses (read from the replica when it may: page->stale): newest first, or (q set) best
 * matches first, each with "lesson" (the id of the lesson that matched best, or null) and "snippet"
 * (HTML: the matches in <mark>, the rest escaped). */
db_status_t db_courses_json(db_pool_t *self, const db_course_query_t *query,
                            db_course_page_t *page) PROFAI_MUST_CHECK;

/* A course's quiz without answers as JSON (docs/api.md 4.9), and its answer key: one line per
 * question, "<question id>\t<answer 0-3>\t<lesson id or empty>", "\n" between lines, in
 * quiz order ("" when the course has no quiz). On DB_OK both are the caller's (free()). */
db_status_t db_course_quiz(db_pool_t *self, const char *course_id, char **quiz, size_t *quiz_len,
                           char **key, size_t *key_len, bool *stale) PROFAI_MUST_CHECK;

/* A scored quiz attempt to store (plain data, strings borrowed). */
typedef struct {
    const char *id;        /* a new uuid made by the caller */
    const char *course_id; /* uuid */
    const char *user_id;   /* uuid */
    int score;
    int total;
    const char *answers; /* JSON object as submitted */
    const char *results; /* JSON array, with each question's right answer */
    const char *lesson;  /* the attempt's scope: a lesson id, or NULL for the whole course */
    int max_attempts;    /* the user's attempts at the scope may not exceed it; 0: no limit */
    int reveal_from;     /* reveal answers once the user has made this many attempts; 0: always,
                            -1: never (quiz_reveal_from in quiz_score.h) */
    long long number;    /* a dealt attempt's number (quiz_deal.h): stored only under it;
                            0: the next one, whatever it is */
} db_attempt_t;

/* The number user_id's next attempt at course_id's scope lesson (NULL: the whole course's
 * quiz) would get: one more than their last there (1 for the first). */
db_status_t db_attempt_next_number(db_pool_t *self, const char *course_id, const char *user_id,
                                   const char *lesson, long long *number) PROFAI_MUST_CHECK;

/* Store a scored attempt, numbered after the user's previous ones, and return it as the API
 * shows it (docs/api.md 4.10). DB_NOT_FOUND when the course does not exist (any more),
 * DB_LIMIT when the user has made max_attempts already, DB_CONFLICT when another attempt of
 * the user was stored at the same moment. */
db_status_t db_attempt_store(db_pool_t *self, const db_attempt_t *attempt, char **json,
                             size_t *len) PROFAI_MUST_CHECK;

/* The JSON array of a page of the user's attempts at the course, newest first, with the
 * answers revealed per scope as reveal_from says (db_attempt_t); only those at scope when it
 * is not NULL (a lesson id, or "" for the whole course's quiz). DB_NOT_FOUND when the course
 * does not exist. */
db_status_t db_attempts_json(db_pool_t *self, const char *course_id, const char *user_id,
                             const db_page_t *page, int reveal_from, const char *scope, char **json,
                             size_t *len, db_page_end_t *end) PROFAI_MUST_CHECK;

/* Delete a course (its search rows and quiz attempts go with it; its job keeps its course_id).
 * owner_id NULL: any owner, else only that owner's course. DB_NOT_FOUND when there is no such
 * course (or it is another owner's). */
db_status_t db_course_delete(db_pool_t *self, const char *course_id,
                             const char *owner_id) PROFAI_MUST_CHECK;

/* ---------------------------------------------------------------- one user's data
 * (db_account_data.c; docs/api.md 4.24, 4.25) */

/* The ids of user_id's queued and running jobs, oldest first, at most max of them into ids;
 * *n how many. */
db_status_t db_account_unfinished(db_pool_t *self, const char *user_id, char (*ids)[37], size_t max,
                                  size_t *n) PROFAI_MUST_CHECK;

/* What db_account_delete deleted (plain data). */
typedef struct {
    long attempts;  /* the user's own quiz attempts */
    long courses;   /* the user's courses (with everyone's attempts at them) */
    long jobs;      /* the user's finished jobs */
    long jobs_kept; /* its queued or running jobs, which only the broker may end */
} db_account_deleted_t;

/* Delete in one transaction the user's quiz attempts, courses and finished jobs; each deleted
 * course's id is handed to each_course (may be NULL), for the caches. Their PDFs are left to
 * the blob sweep (migration 007), which deletes each once nothing refers to it. */
db_status_t db_account_delete(db_pool_t *self, const char *user_id, db_account_deleted_t *deleted,
                              void (*each_course)(void *arg, const char *id),
                              void *arg) PROFAI_MUST_CHECK;

/* Everything stored about a user as one JSON document (docs/api.md 4.25); DB_NOT_FOUND for
 * an unknown user. The caller frees *json. */
db_status_t db_user_export_json(db_pool_t *self, const char *user_id, char **json,
                                size_t *len) PROFAI_MUST_CHECK;

#endif
