/*
 * db_query.h - what the frontend's data-access files (db.c, db_jobs.c, db_courses.c,
 * db_quiz.c) share: the statement runner and the column readers that write a result's typed
 * columns with the JSON writer (common/json.h), the one way the frontend makes JSON. Private to
 * those files; the rest of the frontend sees db.h.
 */
#ifndef PROFAI_FRONTEND_DB_QUERY_H
#define PROFAI_FRONTEND_DB_QUERY_H

#include "db.h"
#include "json.h"

#include <libpq-fe.h>

/* A timestamp column as ISO 8601 UTC text with milliseconds, or NULL (docs/api.md section 1). */
#define DB_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Run one parameterised statement (values as in PQexecParams; lengths and formats may be NULL
 * for text) and hand back its result in *out when its status is want: DB_OK, and the caller
 * clears *out. A broken connection is reset and the statement retried once (every statement
 * of the frontend is idempotent). DB_UNAVAILABLE otherwise, logged here, *out NULL. */
db_status_t db_query(db_pool_t *self, const char *sql, int nparams, const char *const *values,
                     const int *lengths, const int *formats, ExecStatusType want,
                     PGresult **out) PROFAI_MUST_CHECK;

/* db_query of a SELECT expected to find a row: DB_NOT_FOUND (nothing left to clear) when it
 * returned none, else as db_query. */
db_status_t db_query_row(db_pool_t *self, const char *sql, int nparams, const char *const *values,
                         PGresult **out) PROFAI_MUST_CHECK;

/* A new connection outside the pool, with the pool's conninfo and defaults (for the
 * change listener, change_listen.h). The caller owns it (PQfinish), also when it failed
 * (check PQstatus); NULL only when out of memory. */
PGconn *db_pool_connect(db_pool_t *self);
/* A statement prepared once per connection (PQprepare, then PQexecPrepared): PostgreSQL
 * plans it once per session instead of on every call. id is unique among them, 0-31; name is
 * the prepared statement's name. */
typedef struct {
    int id;
    const char *name;
    const char *sql;
} db_statement_t;

/* Identifiers of the prepared statements (db_statement_t.id). */
enum { DB_STMT_COURSES = 0, DB_STMT_SEARCH = 1, DB_STMT_ATTEMPT = 2, DB_STMT_SEARCH_SEEN = 3 };
enum { DB_STMT_JOB = 8 };       /* db_jobs.c: GET /api/v1/jobs/{id} */
enum { DB_STMT_TOKEN = 9 };     /* db.c: a token's user, on its first sight */
enum { DB_STMT_JOB_RANK = 10 }; /* db_jobs.c: the same, a queued job ranked */

/* db_query with stmt (sql NULL) or, when stmt is NULL, sql as db_query runs it. */
db_status_t db_query_prepared(db_pool_t *self, const db_statement_t *stmt, const char *sql,
                              int nparams, const char *const *values, const int *lengths,
                              const int *formats, ExecStatusType want,
                              PGresult **out) PROFAI_MUST_CHECK;

/* The replica (db_replica.h) whose pool reads of self may go to: attached by db_replica_new
 * before any request is served and detached by db_replica_destroy after the last; NULL: none. */
typedef struct db_replica_t db_replica_t;
void db_pool_set_replica(db_pool_t *self, db_replica_t *replica);
db_replica_t *db_pool_replica(db_pool_t *self);

/* A read-only SELECT (stmt or sql as for db_query_prepared, text parameters) that may be
 * answered by self's replica (db_replica.h has the rule; none attached or stale NULL: self
 * only). *stale is set true when the answer came from the replica. need_row: an answer of no
 * rows from the replica is asked again of the primary (a row made since). Otherwise as
 * db_query_prepared with want PGRES_TUPLES_OK. Defined in db_replica.c. */
db_status_t db_query_read(db_pool_t *self, const db_statement_t *stmt, const char *sql, int nparams,
                          const char *const *values, bool need_row, PGresult **out,
                          bool *stale) PROFAI_MUST_CHECK;

/* Write one column of a result row as a JSON value: a string (db_write_text), an integer
 * (db_write_int) or a value that is already JSON text (db_write_raw: json and jsonb columns);
 * a NULL column is null. */
void db_write_text(json_t *j, PGresult *res, int row, int col);
void db_write_int(json_t *j, PGresult *res, int row, int col);
void db_write_raw(json_t *j, PGresult *res, int row, int col);

/* The statement parameters of a page read (db.h db_page_t) as text, filled in place by
 * db_page_values (the pointers point into the struct: do not copy it). */
typedef struct {
    char limit[16];           /* page->limit + 1: the extra row tells whether more follow */
    char number[24];          /* page->after_number (a list keyed by a number alone) */
    const char *after_id;     /* page->after_id: NULL on the first page */
    const char *after_number; /* number, or NULL on the first page */
} db_page_values_t;
void db_page_values(const db_page_t *page, db_page_values_t *values);

/* Where a page read with LIMIT page->limit + 1 ends (db.h db_page_t): another page follows
 * when res has more than limit rows; the last row shown has its keyset in columns number_col
 * and id_col (-1: none; a NULL key is 0). Returns the rows to show. */
int db_page_end_read(PGresult *res, int limit, int number_col, int id_col, db_page_end_t *end);

/* Hand j's text to the caller (*json, *len; free()): DB_OK, or DB_UNAVAILABLE when j failed
 * (out of memory), j freed. */
db_status_t db_json_take(json_t *j, char **json, size_t *len);

#endif
