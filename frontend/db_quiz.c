/* db_quiz.c - see db.h: a course's quiz and answer key, and quiz attempts (docs/api.md
 * 4.9-4.11). */
#include "db.h"

#include "db_query.h"
#include "strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The questions of a course's quiz that can be answered: objects with a plain string id and an
 * answer 0..3 (the extractor's contract; anything else in a stored document is left out of
 * both the quiz and its answer key, so the two always agree). */
#define DB_QUIZ_QUESTIONS                                                                          \
    "jsonb_array_elements(CASE jsonb_typeof(c.doc -> 'quiz') WHEN 'array' THEN c.doc -> 'quiz' "   \
    "ELSE '[]'::jsonb END) WITH ORDINALITY AS x (item, n) "                                        \
    "WHERE jsonb_typeof(x.item) = 'object' AND jsonb_typeof(x.item -> 'id') = 'string' "           \
    "AND x.item ->> 'id' ~ '^[A-Za-z0-9_.:-]{1,64}$' "                                             \
    "AND jsonb_typeof(x.item -> 'answer') = 'number' AND x.item ->> 'answer' IN ('0','1','2','3')"

/* One row per question, in quiz order (one row of NULLs after the course id when it has
 * none): the course id, then the key's id, answer and lesson (tabs and line ends made spaces),
 * then the quiz's id, lesson, prompt, choices and source_page as stored (JSON text, NULL when
 * absent), then the course's questions per attempt (migration 016; NULL: all). */
static const char s_sql_quiz[] =
    "SELECT c.id::text, q.item ->> 'id', q.item ->> 'answer', "
    "       coalesce(translate(q.item ->> 'lesson', E'\\t\\n\\r', '   '), ''), "
    "       (q.item -> 'id')::text, (q.item -> 'lesson')::text, (q.item -> 'prompt')::text, "
    "       (q.item -> 'choices')::text, (q.item -> 'source_page')::text, "
    "       c.questions_per_attempt "
    "FROM (SELECT id, questions_per_attempt, profai_course_apply(id, doc) AS doc "
    "      FROM courses WHERE id = $1::uuid) c "
    "LEFT JOIN LATERAL (SELECT x.item, x.n FROM " DB_QUIZ_QUESTIONS ") q ON true "
    "ORDER BY q.n";

db_status_t
db_course_quiz(db_pool_t *self, const char *course_id, char **quiz, size_t *quiz_len, char **key,
               size_t *key_len, bool *stale)
{
    const char *values[1] = {course_id};
    PGresult *res = NULL;
    db_status_t status = db_query_read(self, NULL, s_sql_quiz, 1, values, true, &res, stale);
    if (status != DB_OK)
        return status;
    int rows = PQntuples(res);
    if (rows < 1) {
        PQclear(res);
        return DB_NOT_FOUND;
    }
    static const char *const keys[] = {"id", "lesson", "prompt", "choices", "source_page"};
    json_t j;
    json_init(&j);
    strbuf_t answers;
    strbuf_init(&answers);
    json_object_begin(&j);
    json_key(&j, "course_id");
    db_write_text(&j, res, 0, 0);
    json_key(&j, "questions_per_attempt");
    db_write_int(&j, res, 0, 9);
    json_key(&j, "questions");
    json_array_begin(&j);
    for (int row = 0; row < rows; row++) {
        if (PQgetisnull(res, row, 1))
            continue; /* the course has no quiz */
        json_object_begin(&j);
        for (int k = 0; k < (int)(sizeof keys / sizeof keys[0]); k++) {
            json_key(&j, keys[k]);
            db_write_raw(&j, res, row, 4 + k);
        }
        json_object_end(&j);
        if (answers.len > 0)
            strbuf_append_char(&answers, '\n');
        for (int col = 1; col <= 3; col++) {
            strbuf_append(&answers, PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
            if (col < 3)
                strbuf_append_char(&answers, '\t');
        }
    }
    json_array_end(&j);
    json_object_end(&j);
    /* the questions dealt per attempt (quiz_score.h, quiz_deal.h) */
    if (answers.len > 0 && !PQgetisnull(res, 0, 9)) {
        strbuf_append(&answers, "\n*\t", 3);
        strbuf_append(&answers, PQgetvalue(res, 0, 9), (size_t)PQgetlength(res, 0, 9));
    }
    PQclear(res);
    if (strbuf_failed(&answers) || db_json_take(&j, quiz, quiz_len) != DB_OK) {
        strbuf_free(&answers);
        return DB_UNAVAILABLE;
    }
    /* "" when the course has no quiz */
    *key_len = 0;
    *key = answers.data ? strbuf_steal(&answers, key_len) : strdup("");
    if (*key == NULL) {
        free(*quiz);
        *quiz = NULL;
        return DB_UNAVAILABLE;
    }
    return DB_OK;
}

/* The columns of one stored attempt, in the order s_attempt_write reads them. The results show
 * each question's right answer only when `reveal` (an SQL boolean) holds; otherwise "answer"
 * is left out of each result, keeping the other members in their order. */
#define DB_ATTEMPT_COLUMNS(reveal)                                                                 \
    "a.id::text, a.course_id::text, a.lesson, a.number, a.score, a.total, " DB_TS(                 \
        "a.created_at") ", "                                                                       \
                        "CASE WHEN " reveal                                                        \
                        " THEN a.results::text ELSE coalesce((SELECT json_agg(json_build_object("  \
                        "'question', e -> 'question', 'lesson', e -> 'lesson', 'chosen', e -> "    \
                        "'chosen', "                                                               \
                        "'correct', e -> 'correct') ORDER BY n) FROM "                             \
                        "json_array_elements(a.results) "                                          \
                        "WITH ORDINALITY AS x (e, n)), '[]'::json)::text END"

/* When answers are revealed, from $reveal_from (see db.h) and the user's attempts so far at
 * the attempt's scope. */
#define DB_REVEAL(param, used)                                                                     \
    "(" param "::int = 0 OR (" param "::int > 0 AND " used " >= " param "::int))"

/* One stored attempt (columns DB_ATTEMPT_COLUMNS from col on) as the API shows it
 * (docs/api.md 4.10). */
static void
s_attempt_write(json_t *j, PGresult *res, int row, int col)
{
    static const char *const names[] = {"attempt_id", "course_id", "lesson",    "number",
                                        "score",      "total",     "created_at"};
    static const bool numeric[] = {false, false, false, true, true, true, false};
    json_object_begin(j);
    for (int k = 0; k < (int)(sizeof names / sizeof names[0]); k++) {
        json_key(j, names[k]);
        if (numeric[k])
            db_write_int(j, res, row, col + k);
        else
            db_write_text(j, res, row, col + k);
    }
    json_key(j, "results");
    db_write_raw(j, res, row, col + 7);
    json_object_end(j);
}

/* The attempt's statement (db_attempt_store below explains it), prepared once per connection:
 * a student's quiz attempt is the most frequent write of the load (docs/performance.md). */
static const char s_sql_attempt[] =
    "WITH c AS (SELECT id FROM courses WHERE id = $2::uuid), "
    "u AS (SELECT coalesce(max(number), 0) AS used FROM quiz_attempts "
    "      WHERE course_id = $2::uuid AND user_id = $3::uuid "
    "      AND lesson IS NOT DISTINCT FROM $10::text), "
    "old AS (SELECT * FROM quiz_attempts WHERE id = $1::uuid AND user_id = $3::uuid), "
    "ins AS (INSERT INTO quiz_attempts (id, course_id, user_id, number, score, total, answers, "
    "        results, lesson) SELECT $1::uuid, c.id, $3::uuid, u.used + 1, $4::int, $5::int, "
    "        $6::jsonb, $7::json, $10::text FROM c, u "
    "        WHERE NOT EXISTS (SELECT 1 FROM old) AND ($8::int = 0 OR u.used < $8::int) "
    "        AND ($11::bigint = 0 OR u.used + 1 = $11::bigint) "
    "        ON CONFLICT DO NOTHING RETURNING *), "
    "a AS (SELECT * FROM ins UNION ALL SELECT * FROM old) "
    "SELECT EXISTS (SELECT 1 FROM c), u.used, " DB_ATTEMPT_COLUMNS(
        DB_REVEAL("$9", "a.number")) " "
                                     "FROM u LEFT JOIN a ON true";
static const db_statement_t s_stmt_attempt = {DB_STMT_ATTEMPT, "profai_attempt", s_sql_attempt};

db_status_t
db_attempt_store(db_pool_t *self, const db_attempt_t *attempt, char **json, size_t *len)
{
    char score_text[16], total_text[16], max_text[16], reveal_text[16];
    snprintf(score_text, sizeof score_text, "%d", attempt->score);
    snprintf(total_text, sizeof total_text, "%d", attempt->total);
    snprintf(max_text, sizeof max_text, "%d", attempt->max_attempts);
    snprintf(reveal_text, sizeof reveal_text, "%d", attempt->reveal_from);
    char number_text[24];
    snprintf(number_text, sizeof number_text, "%lld", attempt->number);
    const char *values[11] = {attempt->id, attempt->course_id, attempt->user_id, score_text,
                              total_text,  attempt->answers,   attempt->results, max_text,
                              reveal_text, attempt->lesson,    number_text};
    PGresult *res = NULL;
    /* The id comes from the caller, so that the retry after a lost connection (db_query) finds
     * the row its first try may have committed instead of storing it twice (the first SELECT
     * of `a`). The attempt's number is one more than the user's last at the same scope ($10:
     * a lesson, NULL for the whole course); two attempts at a scope sent at once get the same
     * number and the unique index (course, user, scope, number) lets one in, so the limit ($8,
     * 0 = none) holds; a dealt attempt ($11 > 0) is stored only under the number it was dealt
     * for. Columns: the course exists, attempts used before, then the attempt
     * (NULLs when none was stored). */
    db_status_t status = db_query_prepared(self, &s_stmt_attempt, NULL, 11, values, NULL, NULL,
                                           PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    if (PQntuples(res) < 1 || strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        PQclear(res);
        return DB_NOT_FOUND;
    }
    if (PQgetisnull(res, 0, 2)) { /* the limit, or another attempt stored at the same time */
        int used = atoi(PQgetvalue(res, 0, 1));
        PQclear(res);
        return attempt->max_attempts > 0 && used >= attempt->max_attempts ? DB_LIMIT : DB_CONFLICT;
    }
    json_t j;
    json_init(&j);
    s_attempt_write(&j, res, 0, 2);
    PQclear(res);
    return db_json_take(&j, json, len);
}

db_status_t
db_attempt_next_number(db_pool_t *self, const char *course_id, const char *user_id,
                       const char *lesson, long long *number)
{
    const char *values[3] = {course_id, user_id, lesson};
    PGresult *res = NULL;
    db_status_t status = db_query(self,
                                  "SELECT coalesce(max(number), 0) + 1 FROM quiz_attempts "
                                  "WHERE course_id = $1::uuid AND user_id = $2::uuid "
                                  "AND lesson IS NOT DISTINCT FROM $3::text",
                                  3, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    *number = PQntuples(res) == 1 ? atoll(PQgetvalue(res, 0, 0)) : 1;
    PQclear(res);
    return DB_OK;
}

db_status_t
db_attempts_json(db_pool_t *self, const char *course_id, const char *user_id, const db_page_t *page,
                 int reveal_from, const char *scope, char **json, size_t *len, db_page_end_t *end)
{
    db_page_values_t pv;
    char reveal_text[16];
    db_page_values(page, &pv);
    snprintf(reveal_text, sizeof reveal_text, "%d", reveal_from);
    const char *values[7] = {course_id,   user_id,         pv.limit, reveal_text,
                             pv.after_id, pv.after_number, scope};
    PGresult *res = NULL;
    /* Whether the course exists, then a page of its attempts by the user (none: one row of
     * NULLs) of the scope $7 when it is not NULL ('' for the whole course's), after the keyset
     * ($5 id, $6 microseconds), with the keyset of each last; an attempt's answers are revealed
     * once the user's attempts at its scope reach $4. */
    db_status_t status = db_query(
        self,
        "SELECT e.found, " DB_ATTEMPT_COLUMNS(DB_REVEAL(
            "$4",
            "a.used")) ", (extract(epoch FROM a.created_at) * 1000000)::bigint FROM "
                       "(SELECT EXISTS (SELECT 1 FROM courses WHERE id = $1::uuid) AS found) e "
                       "LEFT JOIN LATERAL (SELECT q.*, (SELECT max(p.number) FROM quiz_attempts p "
                       "    WHERE p.course_id = q.course_id AND p.user_id = q.user_id "
                       "    AND p.lesson IS NOT DISTINCT FROM q.lesson) AS used "
                       "  FROM quiz_attempts q "
                       "  WHERE q.course_id = $1::uuid AND q.user_id = $2::uuid "
                       "  AND ($7::text IS NULL OR coalesce(q.lesson, '') = $7::text) "
                       "  AND ($5::uuid IS NULL OR (q.created_at, q.id) < ('epoch'::timestamptz "
                       "       + $6::bigint * interval '1 microsecond', $5::uuid)) "
                       "  ORDER BY q.created_at DESC, q.id DESC LIMIT $3::int) a ON e.found "
                       "ORDER BY a.created_at DESC, a.id DESC",
        7, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    if (PQntuples(res) < 1 || strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        PQclear(res);
        return DB_NOT_FOUND;
    }
    int rows = db_page_end_read(res, page->limit, 9, 1, end);
    json_t j;
    json_init(&j);
    json_array_begin(&j);
    for (int i = 0; i < rows; i++)
        if (!PQgetisnull(res, i, 1))
            s_attempt_write(&j, res, i, 1);
    json_array_end(&j);
    PQclear(res);
    return db_json_take(&j, json, len);
}
