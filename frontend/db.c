/* db.c - see db.h. */
#define _GNU_SOURCE
#include "db.h"

#include "json.h"
#include "log.h"

#include <czmq.h> /* zclock_mono: the monotonic clock, in ms */
#include <glib.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Connection failures are logged at most this often (a database that is down would otherwise
 * log one line per request). */
#define DB_LOG_INTERVAL_MS 5000

struct db_pool_t {
    char *conninfo;
    int size;
    int acquire_timeout_ms;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled when a connection is released */
    PGconn **conns;      /* NULL until first used */
    int *free_slots;     /* stack of idle connection indexes */
    int nfree;
    int64_t last_log_ms; /* guarded by lock */
};

/* Timestamps as ISO 8601 UTC with milliseconds, or NULL (docs/api.md section 1). */
#define DB_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* One job as the API shows it (docs/api.md 4.2); json_build_object keeps the key order.
 * queue_position counts the queued jobs created before this one (the index jobs_unfinished
 * serves it). retry_at comes from migration 003 (the retry back-off); it is read through
 * to_jsonb(jobs) so that this statement works on a schema without that column as well (null
 * then), whichever of the two migrations the database has. */
/* clang-format off */
#define DB_JOB_JSON                                                                                \
    "json_build_object('job_id', jobs.id, 'title', jobs.title, 'state', jobs.state, "              \
    "'progress', jobs.progress, 'stage', jobs.stage, 'attempts', jobs.attempts, "                  \
    "'error', CASE WHEN jobs.error_code IS NULL THEN NULL "                                        \
    "ELSE json_build_object('code', jobs.error_code, 'message', jobs.error) END, "                 \
    "'course_id', CASE WHEN jobs.state = 'succeeded' THEN jobs.course_id END, "                    \
    "'queue_position', CASE WHEN jobs.state = 'queued' THEN 1 + (SELECT count(*) FROM jobs q "     \
    "WHERE q.state = 'queued' AND (q.created_at, q.id) < (jobs.created_at, jobs.id)) END, "        \
    "'retry_at', " DB_TS("(to_jsonb(jobs) ->> 'retry_at')::timestamptz") ", "                      \
    "'created_at', " DB_TS("jobs.created_at") ", "                                                 \
    "'started_at', " DB_TS("jobs.started_at") ", "                                                 \
    "'finished_at', " DB_TS("jobs.finished_at") ")::text"
/* clang-format on */

/* libpq messages end with a newline and may hold several lines: keep the first. */
static int
s_line_len(const char *msg)
{
    return msg ? (int)strcspn(msg, "\r\n") : 0;
}

static bool
s_should_log(db_pool_t *self)
{
    int64_t now = zclock_mono();
    pthread_mutex_lock(&self->lock);
    bool yes = self->last_log_ms == 0 || now - self->last_log_ms >= DB_LOG_INTERVAL_MS;
    if (yes)
        self->last_log_ms = now;
    pthread_mutex_unlock(&self->lock);
    return yes;
}

db_pool_t *
db_pool_new(const char *conninfo, int size, int acquire_timeout_ms)
{
    db_pool_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->conninfo = strdup(conninfo ? conninfo : "");
    self->conns = calloc((size_t)size, sizeof *self->conns);
    self->free_slots = calloc((size_t)size, sizeof *self->free_slots);
    if (self->conninfo == NULL || self->conns == NULL || self->free_slots == NULL) {
        free(self->conninfo);
        free(self->conns);
        free(self->free_slots);
        free(self);
        return NULL;
    }
    self->size = size;
    self->acquire_timeout_ms = acquire_timeout_ms;
    for (int i = 0; i < size; i++)
        self->free_slots[self->nfree++] = size - 1 - i;
    pthread_mutex_init(&self->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self->cond, &attr);
    pthread_condattr_destroy(&attr);
    return self;
}

void
db_pool_destroy(db_pool_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    db_pool_t *self = *self_p;
    for (int i = 0; i < self->size; i++)
        if (self->conns[i] != NULL)
            PQfinish(self->conns[i]);
    pthread_cond_destroy(&self->cond);
    pthread_mutex_destroy(&self->lock);
    free(self->conns);
    free(self->free_slots);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

/* A free connection slot, waiting up to acquire_timeout_ms; -1 on timeout. */
static int
s_acquire(db_pool_t *self)
{
    int64_t deadline = zclock_mono() + self->acquire_timeout_ms;
    struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
    int slot = -1;
    pthread_mutex_lock(&self->lock);
    while (self->nfree == 0) {
        if (pthread_cond_timedwait(&self->cond, &self->lock, &ts) != 0 && self->nfree == 0)
            break;
    }
    if (self->nfree > 0)
        slot = self->free_slots[--self->nfree];
    pthread_mutex_unlock(&self->lock);
    return slot;
}

static void
s_release(db_pool_t *self, int slot)
{
    pthread_mutex_lock(&self->lock);
    self->free_slots[self->nfree++] = slot;
    pthread_cond_signal(&self->cond);
    pthread_mutex_unlock(&self->lock);
}

/* 0 when the connection's schema is new enough, -2 when it is older than this frontend needs,
 * -3 when there is none yet (the broker creates it), -1 when the query failed otherwise. A
 * sentence in err. */
static int
s_schema_check(PGconn *conn, char *err, size_t err_size)
{
    PGresult *res = PQexec(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        bool missing = state != NULL && strcmp(state, "42P01") == 0; /* undefined_table */
        snprintf(err, err_size, "%s",
                 missing ? "the database has no ProfAI schema yet: run profai-broker once to "
                           "create it"
                         : "cannot read the schema version");
        rc = missing ? -3 : -1;
    } else {
        long version = strtol(PQgetvalue(res, 0, 0), NULL, 10);
        if (version == 0) {
            snprintf(err, err_size,
                     "the database has no ProfAI schema yet: run profai-broker once to create it");
            rc = -3;
        } else if (version < DB_SCHEMA_VERSION) {
            snprintf(err, err_size,
                     "the database schema is at version %ld, this frontend needs %d: run the "
                     "newer profai-broker once to migrate it",
                     version, DB_SCHEMA_VERSION);
            rc = -2;
        }
    }
    PQclear(res);
    return rc;
}

/* Search statements make PostgreSQL send NOTICEs (a query of stop words only); libpq would
 * print each on stderr. They carry nothing an operator needs. */
static void
s_ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *
s_connect(db_pool_t *self)
{
    /* Defaults first: the conninfo (expanded from dbname, last) overrides any of them. GSSAPI
     * negotiation is off by default because it can use deep stacks (and we run on civetweb's
     * small ones). */
    const char *keys[] = {"connect_timeout", "application_name", "gssencmode",
                          "options",         "dbname",           NULL};
    const char *values[] = {
        "5", "profai-frontend", "disable", "-c statement_timeout=15000", self->conninfo, NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (conn != NULL)
        PQsetNoticeProcessor(conn, s_ignore_notice, NULL);
    return conn;
}

/* Make sure the slot holds a working connection with a usable schema. */
static int
s_ready(db_pool_t *self, int slot)
{
    PGconn *conn = self->conns[slot];
    if (conn != NULL && PQstatus(conn) == CONNECTION_OK)
        return 0;
    if (conn != NULL)
        PQfinish(conn);
    conn = s_connect(self);
    self->conns[slot] = conn;
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
        if (s_should_log(self))
            log_error("database unreachable: %.*s", s_line_len(msg), msg);
        return -1;
    }
    char err[256];
    if (s_schema_check(conn, err, sizeof err) != 0) {
        if (s_should_log(self))
            log_error("database not usable: %s", err);
        PQfinish(conn);
        self->conns[slot] = NULL;
        return -1;
    }
    return 0;
}

/* Run one parameterised statement and hand back its result when its status is `want`. A
 * broken connection is reset and the statement retried once (every statement here is
 * idempotent). */
static db_status_t
s_query(db_pool_t *self, const char *sql, int nparams, const char *const *values,
        const int *lengths, const int *formats, ExecStatusType want, PGresult **out)
{
    *out = NULL;
    int slot = s_acquire(self);
    if (slot < 0) {
        log_error("no free database connection within %d ms", self->acquire_timeout_ms);
        return DB_UNAVAILABLE;
    }
    db_status_t status = DB_UNAVAILABLE;
    if (s_ready(self, slot) != 0)
        goto done;
    for (int attempt = 0; attempt < 2; attempt++) {
        PGconn *conn = self->conns[slot];
        PGresult *res = PQexecParams(conn, sql, nparams, NULL, values, lengths, formats, 0);
        if (PQresultStatus(res) == want) {
            *out = res;
            status = DB_OK;
            goto done;
        }
        if (PQstatus(conn) != CONNECTION_BAD) {
            const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
            log_error("database query failed: %.*s", s_line_len(msg), msg);
            PQclear(res);
            goto done;
        }
        PQclear(res);
        if (attempt > 0)
            break;
        log_warn("database connection lost (%.*s): resetting it", s_line_len(PQerrorMessage(conn)),
                 PQerrorMessage(conn));
        PQreset(conn);
        char err[256];
        if (PQstatus(conn) != CONNECTION_OK) {
            log_error("database unreachable: %.*s", s_line_len(PQerrorMessage(conn)),
                      PQerrorMessage(conn));
            break;
        }
        if (s_schema_check(conn, err, sizeof err) != 0) {
            log_error("database not usable: %s", err);
            break;
        }
    }
done:
    s_release(self, slot);
    return status;
}

int
db_pool_check(db_pool_t *self, char *err, size_t err_size)
{
    int slot = s_acquire(self);
    if (slot < 0) {
        snprintf(err, err_size, "no free database connection");
        return -1;
    }
    int rc = 0;
    PGconn *conn = self->conns[slot];
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        if (conn != NULL)
            PQfinish(conn);
        conn = self->conns[slot] = s_connect(self);
    }
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
        snprintf(err, err_size, "cannot connect to the database: %.*s", s_line_len(msg), msg);
        rc = -1;
    } else {
        rc = s_schema_check(conn, err, err_size);
        if (rc == -3)
            rc = -1; /* not created yet: the broker may be about to */
        if (rc != 0) {
            /* Checked again when next used (s_ready). */
            PQfinish(conn);
            self->conns[slot] = NULL;
        }
    }
    s_release(self, slot);
    return rc;
}

db_status_t
db_ping(db_pool_t *self)
{
    PGresult *res = NULL;
    db_status_t status = s_query(self, "SELECT 1", 0, NULL, NULL, NULL, PGRES_TUPLES_OK, &res);
    PQclear(res);
    return status;
}

db_status_t
db_token_user(db_pool_t *self, const uint8_t hash[32], db_user_t *user)
{
    const char *values[1] = {(const char *)hash};
    const int lengths[1] = {32};
    const int formats[1] = {1};
    PGresult *res = NULL;
    db_status_t status = s_query(self,
                                 "SELECT u.id::text, u.name, u.role FROM tokens t "
                                 "JOIN users u ON u.id = t.user_id "
                                 "WHERE t.hash = $1 AND t.revoked_at IS NULL",
                                 1, values, lengths, formats, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    if (PQntuples(res) < 1) {
        status = DB_NOT_FOUND;
    } else {
        snprintf(user->id, sizeof user->id, "%s", PQgetvalue(res, 0, 0));
        snprintf(user->name, sizeof user->name, "%s", PQgetvalue(res, 0, 1));
        snprintf(user->role, sizeof user->role, "%s", PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    return status;
}

db_status_t
db_blob_store(db_pool_t *self, const char *sha256, const uint8_t *data, size_t len)
{
    char size[32];
    snprintf(size, sizeof size, "%zu", len);
    const char *values[3] = {sha256, size, (const char *)data};
    const int lengths[3] = {0, 0, (int)len};
    const int formats[3] = {0, 0, 1};
    PGresult *res = NULL;
    db_status_t status = s_query(self,
                                 "INSERT INTO blobs (sha256, size, data) VALUES ($1, $2, $3) "
                                 "ON CONFLICT (sha256) DO NOTHING",
                                 3, values, lengths, formats, PGRES_COMMAND_OK, &res);
    PQclear(res);
    return status;
}

/* Copy a text result value to a new heap string. */
static db_status_t
s_dup_value(PGresult *res, int row, int col, char **json, size_t *len)
{
    size_t n = (size_t)PQgetlength(res, row, col);
    char *s = malloc(n + 1);
    if (s == NULL)
        return DB_UNAVAILABLE;
    memcpy(s, PQgetvalue(res, row, col), n);
    s[n] = '\0';
    *json = s;
    *len = n;
    return DB_OK;
}

db_status_t
db_job_json(db_pool_t *self, const char *job_id, const char *owner_id, char **json, size_t *len)
{
    const char *values[2] = {job_id, owner_id};
    PGresult *res = NULL;
    db_status_t status = s_query(self,
                                 "SELECT " DB_JOB_JSON " FROM jobs WHERE id = $1::uuid "
                                 "AND ($2::uuid IS NULL OR owner_id = $2::uuid)",
                                 2, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    status = PQntuples(res) < 1 ? DB_NOT_FOUND : s_dup_value(res, 0, 0, json, len);
    PQclear(res);
    return status;
}

db_status_t
db_jobs_json(db_pool_t *self, const char *owner_id, int limit, char **json, size_t *len)
{
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit);
    const char *values[2] = {owner_id, limit_text};
    PGresult *res = NULL;
    db_status_t status = s_query(self,
                                 "SELECT " DB_JOB_JSON " FROM jobs "
                                 "WHERE ($1::uuid IS NULL OR owner_id = $1::uuid) "
                                 "ORDER BY created_at DESC, id DESC LIMIT $2::int",
                                 2, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "jobs");
    json_array_begin(&j);
    for (int i = 0; i < PQntuples(res); i++)
        json_raw(&j, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
    json_array_end(&j);
    json_object_end(&j);
    PQclear(res);
    if (json_failed(&j)) {
        json_free(&j);
        return DB_UNAVAILABLE;
    }
    *json = json_steal(&j, len);
    return DB_OK;
}

db_status_t
db_course_json(db_pool_t *self, const char *course_id, bool with_quiz, char **json, size_t *len)
{
    const char *values[2] = {course_id, with_quiz ? "true" : "false"};
    PGresult *res = NULL;
    /* jsonb orders keys by length, so "id" and "job_id" are put first by hand below; the
     * document itself should not hold them, but must never duplicate them. */
    db_status_t status = s_query(self,
                                 "SELECT id::text, job_id::text, jsonb_typeof(doc), "
                                 "(CASE WHEN $2::bool THEN doc ELSE doc - 'quiz' END "
                                 " - 'id' - 'job_id')::text FROM courses WHERE id = $1::uuid",
                                 2, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    if (PQntuples(res) < 1) {
        PQclear(res);
        return DB_NOT_FOUND;
    }
    const char *doc = PQgetvalue(res, 0, 3);
    size_t doc_len = (size_t)PQgetlength(res, 0, 3);
    bool object = strcmp(PQgetvalue(res, 0, 2), "object") == 0 && doc_len >= 2 && doc[0] == '{';
    char *out = NULL;
    int n;
    if (!object) /* not a document the extractor writes; still serve valid JSON */
        n = asprintf(&out, "{\"id\":\"%s\",\"job_id\":\"%s\",\"content\":%s}",
                     PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), doc);
    else if (doc_len == 2) /* "{}" */
        n = asprintf(&out, "{\"id\":\"%s\",\"job_id\":\"%s\"}", PQgetvalue(res, 0, 0),
                     PQgetvalue(res, 0, 1));
    else
        n = asprintf(&out, "{\"id\":\"%s\",\"job_id\":\"%s\",%s", PQgetvalue(res, 0, 0),
                     PQgetvalue(res, 0, 1), doc + 1);
    PQclear(res);
    if (n < 0)
        return DB_UNAVAILABLE;
    *json = out;
    *len = (size_t)n;
    return DB_OK;
}

/* ---------------------------------------------------------------- jobs: cancellation */

db_status_t
db_job_owner(db_pool_t *self, const char *job_id, const char *owner_id, char owner[37],
             char state[16])
{
    const char *values[2] = {job_id, owner_id};
    PGresult *res = NULL;
    db_status_t status = s_query(self,
                                 "SELECT owner_id::text, state FROM jobs WHERE id = $1::uuid "
                                 "AND ($2::uuid IS NULL OR owner_id = $2::uuid)",
                                 2, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    if (PQntuples(res) < 1) {
        status = DB_NOT_FOUND;
    } else {
        snprintf(owner, 37, "%s", PQgetvalue(res, 0, 0));
        snprintf(state, 16, "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return status;
}

db_status_t
db_course_exists(db_pool_t *self, const char *course_id)
{
    const char *values[1] = {course_id};
    PGresult *res = NULL;
    db_status_t status = s_query(self, "SELECT 1 FROM courses WHERE id = $1::uuid", 1, values, NULL,
                                 NULL, PGRES_TUPLES_OK, &res);
    if (status == DB_OK && PQntuples(res) < 1)
        status = DB_NOT_FOUND;
    PQclear(res);
    return status;
}

/* ---------------------------------------------------------------- course lists and search */

/* The columns of one course in a list, in the order s_course_item reads them. */
/* clang-format off */
#define DB_COURSE_ITEM                                                                             \
    "c.id::text, c.title, " DB_TS("c.created_at") ", u.name, c.owner_id::text, "                   \
    "c.module_count, c.lesson_count, (extract(epoch FROM c.created_at) * 1000000)::bigint"
/* clang-format on */
#define DB_COURSE_ITEM_COLUMNS 8

/* Newest first, continuing after the keyset ($1 id, $2 microseconds) when $1 is not null. */
static const char s_sql_courses[] =
    "SELECT " DB_COURSE_ITEM " FROM courses c JOIN users u ON u.id = c.owner_id "
    "WHERE $1::uuid IS NULL OR (c.created_at, c.id) < "
    "('epoch'::timestamptz + $2::bigint * interval '1 microsecond', $1::uuid) "
    "ORDER BY c.created_at DESC, c.id DESC LIMIT $3::int";

/* Full-text search (migration 002): the best lesson of each matching course (an exact phrase
 * first, then cover density), courses in that order, then the page's snippets: ts_headline
 * over the best lesson's text, highlighting every word of the search, with the bytes 0x01 /
 * 0x02 around matches, which s_snippet turns into <mark> / </mark> after HTML-escaping the
 * rest (the text loses any 0x01 / 0x02 of its own first). */
static const char s_sql_search[] =
    "WITH q AS (SELECT profai_search_query($1) AS q, profai_phrase_query($1) AS p), "
    "best AS (SELECT DISTINCT ON (l.course_id) l.course_id, l.position, "
    "                l.search @@ q.p AS phrase, ts_rank_cd(l.search, q.q) AS rank "
    "         FROM course_lessons l, q WHERE l.search @@ q.q "
    "         ORDER BY l.course_id, 3 DESC, 4 DESC, l.position), "
    "page AS (SELECT b.*, c.created_at FROM best b JOIN courses c ON c.id = b.course_id "
    "         ORDER BY b.phrase DESC, b.rank DESC, c.created_at DESC, b.course_id DESC "
    "         LIMIT $2::int OFFSET $3::bigint) "
    "SELECT " DB_COURSE_ITEM ", l.lesson_id, "
    "       ts_headline(l.config, translate(l.text, chr(1) || chr(2), ''), "
    "                   profai_highlight_query(l.config, $1), "
    "                   'StartSel=' || chr(1) || ', StopSel=' || chr(2) || ', MaxWords=35, "
    "                   MinWords=15, ShortWord=0, MaxFragments=2, FragmentDelimiter=\" ... \"') "
    "FROM page p JOIN courses c ON c.id = p.course_id JOIN users u ON u.id = c.owner_id "
    "JOIN course_lessons l ON l.course_id = p.course_id AND l.position = p.position, q "
    "ORDER BY p.phrase DESC, p.rank DESC, p.created_at DESC, p.course_id DESC";

/* A nullable integer column as JSON. */
static void
s_json_int_or_null(json_t *j, PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        json_null(j);
    else
        json_int(j, strtoll(PQgetvalue(res, row, col), NULL, 10));
}

/* ts_headline's output as HTML: everything escaped, 0x01 / 0x02 made <mark> / </mark> (always
 * balanced), runs of white space made one space. */
static void
s_snippet(json_t *j, const char *text, size_t len)
{
    GString *html = g_string_sized_new(len + 32);
    bool open = false, space = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            space = html->len > 0;
            continue;
        }
        if (space)
            g_string_append_c(html, ' ');
        space = false;
        switch (c) {
        case 0x01:
            if (!open)
                g_string_append(html, "<mark>");
            open = true;
            break;
        case 0x02:
            if (open)
                g_string_append(html, "</mark>");
            open = false;
            break;
        case '&':
            g_string_append(html, "&amp;");
            break;
        case '<':
            g_string_append(html, "&lt;");
            break;
        case '>':
            g_string_append(html, "&gt;");
            break;
        case '"':
            g_string_append(html, "&quot;");
            break;
        case '\'':
            g_string_append(html, "&#39;");
            break;
        default:
            g_string_append_c(html, (char)c);
            break;
        }
    }
    if (open)
        g_string_append(html, "</mark>");
    json_string(j, html->str, html->len);
    g_string_free(html, TRUE);
}

/* One course of a list (columns DB_COURSE_ITEM, then for a search the lesson and snippet). */
static void
s_course_item(json_t *j, PGresult *res, int row, bool search)
{
    json_object_begin(j);
    json_key(j, "id");
    json_cstring(j, PQgetvalue(res, row, 0));
    json_key(j, "title");
    json_string(j, PQgetvalue(res, row, 1), (size_t)PQgetlength(res, row, 1));
    json_key(j, "created_at");
    json_cstring(j, PQgetvalue(res, row, 2));
    json_key(j, "owner");
    json_string(j, PQgetvalue(res, row, 3), (size_t)PQgetlength(res, row, 3));
    json_key(j, "owner_id");
    json_cstring(j, PQgetvalue(res, row, 4));
    json_key(j, "modules");
    s_json_int_or_null(j, res, row, 5);
    json_key(j, "lessons");
    s_json_int_or_null(j, res, row, 6);
    if (search) {
        int col = DB_COURSE_ITEM_COLUMNS;
        json_key(j, "lesson");
        json_cstring(j, PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col));
        json_key(j, "snippet");
        s_snippet(j, PQgetvalue(res, row, col + 1), (size_t)PQgetlength(res, row, col + 1));
    }
    json_object_end(j);
}

db_status_t
db_courses_json(db_pool_t *self, const db_course_query_t *query, db_course_page_t *page)
{
    memset(page, 0, sizeof *page);
    bool search = query->q != NULL;
    char limit[16], second[32];
    /* One row more than asked tells whether another page follows. */
    snprintf(limit, sizeof limit, "%d", query->limit + 1);
    snprintf(second, sizeof second, "%lld", search ? query->offset : query->after_us);
    const char *values[3];
    if (search) {
        values[0] = query->q;
        values[1] = limit;
        values[2] = second;
    } else {
        values[0] = query->after_id;
        values[1] = query->after_id ? second : NULL;
        values[2] = limit;
    }
    PGresult *res = NULL;
    db_status_t status = s_query(self, search ? s_sql_search : s_sql_courses, 3, values, NULL, NULL,
                                 PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    int rows = PQntuples(res);
    page->more = rows > query->limit;
    if (page->more)
        rows = query->limit;
    json_t j;
    json_init(&j);
    json_array_begin(&j);
    for (int i = 0; i < rows; i++)
        s_course_item(&j, res, i, search);
    json_array_end(&j);
    if (rows > 0) {
        page->last_us = strtoll(PQgetvalue(res, rows - 1, 7), NULL, 10);
        snprintf(page->last_id, sizeof page->last_id, "%s", PQgetvalue(res, rows - 1, 0));
    }
    PQclear(res);
    if (json_failed(&j)) {
        json_free(&j);
        return DB_UNAVAILABLE;
    }
    page->json = json_steal(&j, &page->len);
    return DB_OK;
}

/* ---------------------------------------------------------------- quiz */

/* The questions of a course's quiz that can be answered: objects with a plain string id and an
 * answer 0..3 (the extractor's contract; anything else in a stored document is left out of
 * both the quiz and its answer key, so the two always agree). */
#define DB_QUIZ_QUESTIONS                                                                          \
    "jsonb_array_elements(CASE jsonb_typeof(c.doc -> 'quiz') WHEN 'array' THEN c.doc -> 'quiz' "   \
    "ELSE '[]'::jsonb END) WITH ORDINALITY AS x (item, n) "                                        \
    "WHERE jsonb_typeof(x.item) = 'object' AND jsonb_typeof(x.item -> 'id') = 'string' "           \
    "AND x.item ->> 'id' ~ '^[A-Za-z0-9_.:-]{1,64}$' "                                             \
    "AND jsonb_typeof(x.item -> 'answer') = 'number' AND x.item ->> 'answer' IN ('0','1','2','3')"

db_status_t
db_course_quiz(db_pool_t *self, const char *course_id, char **quiz, size_t *quiz_len, char **key,
               size_t *key_len)
{
    const char *values[1] = {course_id};
    PGresult *res = NULL;
    db_status_t status = s_query(
        self,
        "SELECT json_build_object('course_id', c.id, 'questions', coalesce(("
        "  SELECT json_agg(json_build_object('id', x.item -> 'id', 'lesson', x.item -> 'lesson', "
        "         'prompt', x.item -> 'prompt', 'choices', x.item -> 'choices', "
        "         'source_page', x.item -> 'source_page') ORDER BY x.n) "
        "  FROM " DB_QUIZ_QUESTIONS "), '[]'::json))::text, "
        "coalesce((SELECT string_agg((x.item ->> 'id') || E'\\t' || (x.item ->> 'answer') || "
        "  E'\\t' || coalesce(translate(x.item ->> 'lesson', E'\\t\\n\\r', '   '), ''), E'\\n' "
        "  ORDER BY x.n) FROM " DB_QUIZ_QUESTIONS "), '') "
        "FROM courses c WHERE c.id = $1::uuid",
        1, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    if (PQntuples(res) < 1) {
        PQclear(res);
        return DB_NOT_FOUND;
    }
    status = s_dup_value(res, 0, 0, quiz, quiz_len);
    if (status == DB_OK && s_dup_value(res, 0, 1, key, key_len) != DB_OK) {
        free(*quiz);
        *quiz = NULL;
        status = DB_UNAVAILABLE;
    }
    PQclear(res);
    return status;
}

/* One stored attempt as the API shows it (docs/api.md 4.10). */
#define DB_ATTEMPT_JSON                                                                            \
    "json_build_object('attempt_id', a.id, 'course_id', a.course_id, 'score', a.score, "           \
    "'total', a.total, 'created_at', " DB_TS("a.created_at") ", 'results', a.results)"

db_status_t
db_attempt_store(db_pool_t *self, const char *attempt_id, const char *course_id,
                 const char *user_id, int score, int total, const char *answers,
                 const char *results, char **json, size_t *len)
{
    char score_text[16], total_text[16];
    snprintf(score_text, sizeof score_text, "%d", score);
    snprintf(total_text, sizeof total_text, "%d", total);
    const char *values[7] = {attempt_id, course_id, user_id, score_text,
                             total_text, answers,   results};
    PGresult *res = NULL;
    /* The id comes from the caller, so that the retry after a lost connection (s_query) finds
     * the row its first try may have committed instead of storing the attempt twice. */
    db_status_t status = s_query(
        self,
        "WITH a AS (INSERT INTO quiz_attempts (id, course_id, user_id, score, total, answers, "
        "           results) SELECT $1::uuid, c.id, $3::uuid, $4::int, $5::int, $6::jsonb, "
        "           $7::json FROM courses c WHERE c.id = $2::uuid "
        "           ON CONFLICT (id) DO UPDATE SET score = quiz_attempts.score RETURNING *) "
        "SELECT " DB_ATTEMPT_JSON "::text FROM a",
        7, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    status = PQntuples(res) < 1 ? DB_NOT_FOUND : s_dup_value(res, 0, 0, json, len);
    PQclear(res);
    return status;
}

db_status_t
db_attempts_json(db_pool_t *self, const char *course_id, const char *user_id, int limit,
                 char **json, size_t *len)
{
    char limit_text[16];
    snprintf(limit_text, sizeof limit_text, "%d", limit);
    const char *values[3] = {course_id, user_id, limit_text};
    PGresult *res = NULL;
    db_status_t status = s_query(
        self,
        "SELECT EXISTS (SELECT 1 FROM courses WHERE id = $1::uuid), "
        "json_build_object('attempts', coalesce((SELECT json_agg(p.j ORDER BY p.created_at DESC, "
        "  p.id DESC) FROM (SELECT " DB_ATTEMPT_JSON " AS j, a.created_at, a.id "
        "  FROM quiz_attempts a WHERE a.course_id = $1::uuid AND a.user_id = $2::uuid "
        "  ORDER BY a.created_at DESC, a.id DESC LIMIT $3::int) p), '[]'::json))::text",
        3, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    if (PQntuples(res) < 1 || strcmp(PQgetvalue(res, 0, 0), "t") != 0)
        status = DB_NOT_FOUND;
    else
        status = s_dup_value(res, 0, 1, json, len);
    PQclear(res);
    return status;
}

/* ---------------------------------------------------------------- course deletion */

db_status_t
db_course_delete(db_pool_t *self, const char *course_id, const char *owner_id)
{
    const char *values[2] = {course_id, owner_id};
    PGresult *res = NULL;
    db_status_t status = s_query(self,
                                 "DELETE FROM courses WHERE id = $1::uuid "
                                 "AND ($2::uuid IS NULL OR owner_id = $2::uuid) RETURNING id",
                                 2, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    status = PQntuples(res) < 1 ? DB_NOT_FOUND : DB_OK;
    PQclear(res);
    return status;
}
