/* db_results.c - see db_results.h. */
#include "db_results.h"

#include "csv.h"
#include "db_query.h"
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- results */

/* What the results read, for a course ($1) or a class ($2), owned by $3 (NULL: any): k the
 * class, crs the courses (the one, or those published to the class), mem the class's members,
 * att the attempts at those courses (by the class's members only, for a class). */
#define DB_RESULTS_SCOPE                                                                           \
    "WITH k AS (SELECT id FROM classes WHERE id = $2::uuid "                                       \
    "           AND ($3::uuid IS NULL OR owner_id = $3::uuid)), "                                  \
    "crs AS (SELECT c.id, c.title, profai_course_apply(c.id, c.doc) AS doc "                       \
    "        FROM courses c "                                                                      \
    "        WHERE (c.id = $1::uuid AND ($3::uuid IS NULL OR c.owner_id = $3::uuid)) "             \
    "        OR c.id IN (SELECT cc.course_id FROM class_courses cc JOIN k ON k.id = "              \
    "cc.class_id)), "                                                                              \
    "mem AS (SELECT m.user_id FROM class_members m JOIN k ON k.id = m.class_id), "                 \
    "att AS (SELECT a.* FROM quiz_attempts a JOIN crs ON crs.id = a.course_id "                    \
    "        WHERE $2::uuid IS NULL OR a.user_id IN (SELECT user_id FROM mem)) "

/* The course or class itself: its id and title or name (no row: not found, or not $3's). */
static const char s_sql_header[] =
    "SELECT c.id::text, c.title FROM courses c WHERE c.id = $1::uuid "
    "AND ($3::uuid IS NULL OR c.owner_id = $3::uuid) "
    "UNION ALL SELECT k.id::text, k.name FROM classes k WHERE k.id = $2::uuid "
    "AND ($3::uuid IS NULL OR k.owner_id = $3::uuid)";

/* Per student of a course: everyone who attempted it. */
static const char s_sql_course_students[] =
    DB_RESULTS_SCOPE "SELECT att.user_id::text, u.name, count(*), max(att.score), "
                     "(array_agg(att.score ORDER BY att.number DESC))[1], "
                     "(array_agg(att.total ORDER BY att.number DESC))[1], " DB_TS(
                         "max(att.created_at)") " "
                                                "FROM att JOIN users u ON u.id = att.user_id GROUP "
                                                "BY att.user_id, u.name "
                                                "ORDER BY u.name, att.user_id";

/* Per member of a class and course published to it, attempted or not. */
static const char s_sql_class_students[] = DB_RESULTS_SCOPE
    ", agg AS (SELECT att.user_id, att.course_id, count(*) AS n, max(att.score) AS best, "
    "          (array_agg(att.score ORDER BY att.number DESC))[1] AS latest, "
    "          (array_agg(att.total ORDER BY att.number DESC))[1] AS total, "
    "          max(att.created_at) AS last FROM att GROUP BY 1, 2) "
    "SELECT mem.user_id::text, u.name, crs.id::text, crs.title, coalesce(agg.n, 0), agg.best, "
    "agg.latest, agg.total, " DB_TS(
        "agg.last") " "
                    "FROM mem JOIN users u ON u.id = mem.user_id CROSS JOIN crs "
                    "LEFT JOIN agg ON agg.user_id = mem.user_id AND agg.course_id = crs.id "
                    "ORDER BY u.name, mem.user_id, crs.title, crs.id";

/* Per question of each course's quiz (quiz order): answers, right ones, their share. */
static const char s_sql_questions[] = DB_RESULTS_SCOPE
    ", q AS (SELECT crs.id AS course_id, crs.title, x.item ->> 'id' AS question, "
    "        x.item ->> 'lesson' AS lesson, x.n FROM crs, jsonb_array_elements(CASE "
    "        jsonb_typeof(crs.doc -> 'quiz') WHEN 'array' THEN crs.doc -> 'quiz' "
    "        ELSE '[]'::jsonb END) WITH ORDINALITY AS x (item, n) "
    "        WHERE jsonb_typeof(x.item -> 'id') = 'string'), "
    "r AS (SELECT att.course_id, e ->> 'question' AS question, count(*) AS n, "
    "      count(*) FILTER (WHERE e ->> 'correct' = 'true') AS ok "
    "      FROM att, json_array_elements(att.results) AS e GROUP BY 1, 2) "
    "SELECT q.course_id::text, q.title, q.question, q.lesson, coalesce(r.n, 0), "
    "coalesce(r.ok, 0), CASE WHEN r.n > 0 THEN round(r.ok::numeric / r.n, 3)::text END "
    "FROM q LEFT JOIN r ON r.course_id = q.course_id AND r.question = q.question "
    "ORDER BY q.title, q.course_id, q.n";

/* A column of a table of results: its name (JSON member and CSV header), its kind ('t' text,
 * 'i' integer, 'n' a number as PostgreSQL wrote it) and its column in the result. */
typedef struct {
    const char *name;
    char kind;
    int col;
} db_column_t;

static const db_column_t s_course_students[] = {{"user_id", 't', 0},         {"name", 't', 1},
                                                {"attempts", 'i', 2},        {"best_score", 'i', 3},
                                                {"latest_score", 'i', 4},    {"total", 'i', 5},
                                                {"last_attempt_at", 't', 6}, {NULL, 0, 0}};
static const db_column_t s_class_students[] = {
    {"user_id", 't', 0},         {"name", 't', 1},
    {"course_id", 't', 2},       {"course_title", 't', 3},
    {"attempts", 'i', 4},        {"best_score", 'i', 5},
    {"latest_score", 'i', 6},    {"total", 'i', 7},
    {"last_attempt_at", 't', 8}, {NULL, 0, 0}};
static const db_column_t s_course_questions[] = {{"question", 't', 2},     {"lesson", 't', 3},
                                                 {"answers", 'i', 4},      {"correct", 'i', 5},
                                                 {"success_rate", 'n', 6}, {NULL, 0, 0}};
static const db_column_t s_class_questions[] = {
    {"course_id", 't', 0}, {"course_title", 't', 1}, {"question", 't', 2},     {"lesson", 't', 3},
    {"answers", 'i', 4},   {"correct", 'i', 5},      {"success_rate", 'n', 6}, {NULL, 0, 0}};

/* The statement and columns of a table of a scope. */
static void
s_table_of(const db_results_scope_t *scope, db_results_table_t table, const char **sql,
           const db_column_t **cols)
{
    bool klass = scope->class_id != NULL;
    if (table == DB_RESULTS_STUDENTS) {
        *sql = klass ? s_sql_class_students : s_sql_course_students;
        *cols = klass ? s_class_students : s_course_students;
    } else {
        *sql = s_sql_questions;
        *cols = klass ? s_class_questions : s_course_questions;
    }
}

static db_status_t
s_run(db_pool_t *self, const db_results_scope_t *scope, const char *sql, PGresult **res)
{
    const char *values[3] = {scope->course_id, scope->class_id, scope->owner_id};
    return db_query(self, sql, 3, values, NULL, NULL, PGRES_TUPLES_OK, res);
}

/* The scope's header row: DB_NOT_FOUND when it is not there (or not the owner's). */
static db_status_t
s_header(db_pool_t *self, const db_results_scope_t *scope, PGresult **res)
{
    const char *values[3] = {scope->course_id, scope->class_id, scope->owner_id};
    return db_query_row(self, s_sql_header, 3, values, res);
}

static void
s_table_json(json_t *j, PGresult *res, const db_column_t *cols, int rows)
{
    json_array_begin(j);
    for (int row = 0; row < rows; row++) {
        json_object_begin(j);
        for (const db_column_t *c = cols; c->name != NULL; c++) {
            json_key(j, c->name);
            if (c->kind == 't')
                db_write_text(j, res, row, c->col);
            else if (c->kind == 'i')
                db_write_int(j, res, row, c->col);
            else
                db_write_raw(j, res, row, c->col);
        }
        json_object_end(j);
    }
    json_array_end(j);
}

static void
s_table_csv(strbuf_t *out, PGresult *res, const db_column_t *cols)
{
    for (const db_column_t *c = cols; c->name != NULL; c++)
        csv_field(out, c == cols, c->name, strlen(c->name), true);
    csv_end_record(out);
    for (int row = 0; row < PQntuples(res); row++) {
        for (const db_column_t *c = cols; c->name != NULL; c++) {
            bool null = PQgetisnull(res, row, c->col);
            csv_field(out, c == cols, null ? NULL : PQgetvalue(res, row, c->col),
                      null ? 0 : (size_t)PQgetlength(res, row, c->col), c->kind == 't');
        }
        csv_end_record(out);
    }
}

db_status_t
db_results_json(db_pool_t *self, const db_results_scope_t *scope, char **json, size_t *len)
{
    PGresult *header = NULL, *students = NULL, *questions = NULL;
    db_status_t status = s_header(self, scope, &header);
    const char *sql;
    const db_column_t *student_cols, *question_cols;
    s_table_of(scope, DB_RESULTS_STUDENTS, &sql, &student_cols);
    if (status == DB_OK)
        status = s_run(self, scope, sql, &students);
    s_table_of(scope, DB_RESULTS_QUESTIONS, &sql, &question_cols);
    if (status == DB_OK)
        status = s_run(self, scope, sql, &questions);
    if (status != DB_OK)
        goto done;
    bool klass = scope->class_id != NULL;
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, klass ? "class_id" : "course_id");
    db_write_text(&j, header, 0, 0);
    json_key(&j, klass ? "name" : "title");
    db_write_text(&j, header, 0, 1);
    json_key(&j, "students");
    s_table_json(&j, students, student_cols, PQntuples(students));
    json_key(&j, "questions");
    s_table_json(&j, questions, question_cols, PQntuples(questions));
    json_object_end(&j);
    status = db_json_take(&j, json, len);
done:
    PQclear(header);
    PQclear(students);
    PQclear(questions);
    return status;
}

db_status_t
db_results_csv(db_pool_t *self, const db_results_scope_t *scope, db_results_table_t table,
               char **csv, size_t *len)
{
    PGresult *header = NULL, *rows = NULL;
    const char *sql;
    const db_column_t *cols;
    s_table_of(scope, table, &sql, &cols);
    db_status_t status = s_header(self, scope, &header);
    PQclear(header);
    if (status == DB_OK)
        status = s_run(self, scope, sql, &rows);
    if (status != DB_OK)
        return status;
    strbuf_t out;
    strbuf_init(&out);
    s_table_csv(&out, rows, cols);
    PQclear(rows);
    if (strbuf_failed(&out)) {
        strbuf_free(&out);
        return DB_UNAVAILABLE;
    }
    *len = 0;
    *csv = strbuf_steal(&out, len);
    return *csv ? DB_OK : DB_UNAVAILABLE;
}

/* ---------------------------------------------------------------- history and progress */

db_status_t
db_my_attempts_json(db_pool_t *self, const char *user_id, const db_page_t *page, char **json,
                    size_t *len, db_page_end_t *end)
{
    db_page_values_t pv;
    db_page_values(page, &pv);
    const char *values[4] = {user_id, pv.limit, pv.after_id, pv.after_number};
    PGresult *res = NULL;
    /* A page after the keyset ($3 id, $4 microseconds), with the keyset of each row last. */
    db_status_t status = db_query(
        self,
        "SELECT a.id::text, a.course_id::text, c.title, a.number, a.score, a.total, " DB_TS(
            "a.created_at") ", (extract(epoch FROM a.created_at) * 1000000)::bigint "
                            "FROM quiz_attempts a JOIN courses c ON c.id = a.course_id "
                            "WHERE a.user_id = $1::uuid "
                            "AND ($3::uuid IS NULL OR (a.created_at, a.id) < ('epoch'::timestamptz "
                            "     + $4::bigint * interval '1 microsecond', $3::uuid)) "
                            "ORDER BY a.created_at DESC, a.id DESC LIMIT $2::int",
        4, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    int rows = db_page_end_read(res, page->limit, 7, 0, end);
    static const db_column_t cols[] = {
        {"attempt_id", 't', 0}, {"course_id", 't', 1}, {"course_title", 't', 2}, {"number", 'i', 3},
        {"score", 'i', 4},      {"total", 'i', 5},     {"created_at", 't', 6},   {NULL, 0, 0}};
    json_t j;
    json_init(&j);
    s_table_json(&j, res, cols, rows);
    PQclear(res);
    return db_json_take(&j, json, len);
}

db_status_t
db_my_progress_json(db_pool_t *self, const char *user_id, bool is_admin, const db_page_t *page,
                    char **json, size_t *len, db_page_end_t *end)
{
    db_page_values_t pv;
    db_page_values(page, &pv);
    const char *values[5] = {user_id, is_admin ? "true" : "false", pv.limit, pv.after_id,
                             pv.after_number};
    PGresult *res = NULL;
    /* A page of courses (p: limit + 1 of them after the keyset $4 course id, $5 microseconds of
     * the course's first opening, which never changes), then one row per lesson opened. */
    db_status_t status = db_query(
        self,
        "WITH p AS (SELECT o.course_id, min(o.first_at) AS since FROM lesson_opens o "
        "           JOIN courses c ON c.id = o.course_id WHERE o.user_id = $1::uuid "
        "           AND profai_course_visible(c.owner_id, c.id, $1::uuid, $2::bool) "
        "           GROUP BY o.course_id "
        "           HAVING $4::uuid IS NULL OR (min(o.first_at), o.course_id) < "
        "                  ('epoch'::timestamptz + $5::bigint * interval '1 microsecond', "
        "$4::uuid) "
        "           ORDER BY since DESC, o.course_id DESC LIMIT $3::int) "
        "SELECT c.id::text, c.title, c.lesson_count, o.lesson_id, " DB_TS("o.first_at") ", " DB_TS(
            "o.last_at") ", o.opens, (extract(epoch FROM p.since) * 1000000)::bigint "
                         "FROM p JOIN courses c ON c.id = p.course_id "
                         "JOIN lesson_opens o ON o.course_id = p.course_id AND o.user_id = "
                         "$1::uuid "
                         "ORDER BY p.since DESC, p.course_id DESC, o.first_at, o.lesson_id",
        5, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    int rows = PQntuples(res);
    end->more = false;
    end->last_number = 0;
    end->last_id[0] = '\0';
    json_t j;
    json_init(&j);
    json_array_begin(&j);
    for (int row = 0, courses = 0; row < rows; courses++) {
        if (courses == page->limit) {
            end->more = true;
            break;
        }
        int stop = row;
        while (stop < rows && strcmp(PQgetvalue(res, stop, 0), PQgetvalue(res, row, 0)) == 0)
            stop++;
        end->last_number = atoll(PQgetvalue(res, row, 7));
        snprintf(end->last_id, sizeof end->last_id, "%s", PQgetvalue(res, row, 0));
        json_object_begin(&j);
        json_key(&j, "course_id");
        db_write_text(&j, res, row, 0);
        json_key(&j, "title");
        db_write_text(&j, res, row, 1);
        json_key(&j, "lessons");
        db_write_int(&j, res, row, 2);
        json_key(&j, "opened");
        json_int(&j, stop - row);
        json_key(&j, "lessons_opened");
        json_array_begin(&j);
        for (int r = row; r < stop; r++) {
            json_object_begin(&j);
            json_key(&j, "lesson");
            db_write_text(&j, res, r, 3);
            json_key(&j, "first_opened_at");
            db_write_text(&j, res, r, 4);
            json_key(&j, "last_opened_at");
            db_write_text(&j, res, r, 5);
            json_key(&j, "opens");
            db_write_int(&j, res, r, 6);
            json_object_end(&j);
        }
        json_array_end(&j);
        json_object_end(&j);
        row = stop;
    }
    json_array_end(&j);
    PQclear(res);
    return db_json_take(&j, json, len);
}

db_status_t
db_lesson_open(db_pool_t *self, const char *course_id, const char *lesson_id, const char *user_id,
               bool is_admin, char **json, size_t *len)
{
    const char *values[4] = {course_id, lesson_id, user_id, is_admin ? "true" : "false"};
    PGresult *res = NULL;
    /* The lesson is read and its opening recorded in one statement, so an open is recorded
     * exactly when the lesson was served. (A retry after a lost connection, db_query, may
     * count one open twice: opens is a count for people, not a fence.) */
    db_status_t status = db_query_row(
        self,
        "WITH c AS (SELECT id, profai_course_apply(id, doc) AS doc FROM courses "
        "           WHERE id = $1::uuid "
        "           AND profai_course_visible(owner_id, id, $3::uuid, $4::bool)), "
        "l AS (SELECT m.item ->> 'id' AS module_id, x.item AS lesson FROM c, "
        "      jsonb_array_elements(CASE jsonb_typeof(c.doc -> 'modules') WHEN 'array' "
        "      THEN c.doc -> 'modules' ELSE '[]'::jsonb END) AS m (item), "
        "      jsonb_array_elements(CASE jsonb_typeof(m.item -> 'lessons') WHEN 'array' "
        "      THEN m.item -> 'lessons' ELSE '[]'::jsonb END) AS x (item) "
        "      WHERE jsonb_typeof(x.item) = 'object' AND x.item ->> 'id' = $2 LIMIT 1), "
        "o AS (INSERT INTO lesson_opens (user_id, course_id, lesson_id) "
        "      SELECT $3::uuid, $1::uuid, $2 FROM l "
        "      ON CONFLICT (user_id, course_id, lesson_id) DO UPDATE "
        "      SET last_at = now(), opens = lesson_opens.opens + 1 RETURNING 1) "
        "SELECT l.module_id, l.lesson::text, (SELECT count(*) FROM o) FROM l",
        4, values, &res);
    if (status != DB_OK)
        return status;
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "course_id");
    json_cstring(&j, course_id);
    json_key(&j, "module_id");
    db_write_text(&j, res, 0, 0);
    json_raw_members(&j, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
    json_object_end(&j);
    PQclear(res);
    return db_json_take(&j, json, len);
}
