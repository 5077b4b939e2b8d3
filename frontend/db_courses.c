/* db_courses.c - see db.h: the course statements (docs/api.md 4.4, 4.8, 4.12). */
#include "db.h"

#include "db_query.h"
#include "snippet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

db_status_t
db_course_json(db_pool_t *self, const char *course_id, bool with_quiz, char **json, size_t *len,
               bool *stale)
{
    const char *values[2] = {course_id, with_quiz ? "true" : "false"};
    PGresult *res = NULL;
    /* jsonb orders keys by length, so "id" and "job_id" are put first here; the document
     * itself should not hold them, but must never duplicate them. */
    db_status_t status = db_query_read(self, NULL,
                                       "SELECT id::text, job_id::text, jsonb_typeof(doc), "
                                       "(CASE WHEN $2::bool THEN doc ELSE doc - 'quiz' END "
                                       " - 'id' - 'job_id' - 'revision' - 'questions_per_attempt')"
                                       "::text, revision, questions_per_attempt "
                                       "FROM (SELECT id, job_id, revision, questions_per_attempt, "
                                       "profai_course_apply(id, doc) AS doc FROM courses "
                                       "WHERE id = $1::uuid) c",
                                       2, values, true, &res, stale);
    if (status != DB_OK)
        return status;
    if (PQntuples(res) < 1) {
        PQclear(res);
        return DB_NOT_FOUND;
    }
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "id");
    db_write_text(&j, res, 0, 0);
    json_key(&j, "job_id");
    db_write_text(&j, res, 0, 1);
    json_key(&j, "revision");
    db_write_int(&j, res, 0, 4);
    json_key(&j, "questions_per_attempt");
    db_write_int(&j, res, 0, 5);
    if (strcmp(PQgetvalue(res, 0, 2), "object") == 0) {
        json_raw_members(&j, PQgetvalue(res, 0, 3), (size_t)PQgetlength(res, 0, 3));
    } else { /* not a document the extractor writes; still serve valid JSON */
        json_key(&j, "content");
        db_write_raw(&j, res, 0, 3);
    }
    json_object_end(&j);
    PQclear(res);
    return db_json_take(&j, json, len);
}

/* ---------------------------------------------------------------- course lists and search */

/* The columns of one course in a list, in the order s_course_item reads them. */
/* clang-format off */
#define DB_COURSE_ITEM                                                                             \
    "c.id::text, c.title, " DB_TS("c.created_at") ", u.name, c.owner_id::text, "                   \
    "c.module_count, c.lesson_count, (extract(epoch FROM c.created_at) * 1000000)::bigint"
/* clang-format on */
#define DB_COURSE_ITEM_COLUMNS 8

/* Newest first, continuing after the keyset ($1 id, $2 microseconds) when $1 is not null; only
 * the courses the viewer sees ($4 user, $5 admin: profai_course_visible, migration 011). */
static const char s_sql_courses[] =
    "SELECT " DB_COURSE_ITEM " FROM courses c JOIN users u ON u.id = c.owner_id "
    "WHERE ($1::uuid IS NULL OR (c.created_at, c.id) < "
    "('epoch'::timestamptz + $2::bigint * interval '1 microsecond', $1::uuid)) "
    "AND profai_course_visible(c.owner_id, c.id, $4::uuid, $5::bool) "
    "ORDER BY c.created_at DESC, c.id DESC LIMIT $3::int";

/* Full-text search (migration 002), in proportion to its page rather than to its matches:
 * the lessons matching the search of the courses the viewer sees (DB_SEARCH_CAND, one
 * statement per kind of viewer), only the newest DB_SEARCH_CANDIDATES of them
 * (by their course's age: a cheap top-N sort, no lesson read), ranked (an exact phrase first,
 * then cover density); the best lesson of each course, courses in that order; then the page's
 * snippets: ts_headline over the first DB_SEARCH_SNIPPET_CHARS characters of the best
 * lesson's text (not its whole text), highlighting every word of the search, with the bytes
 * 0x01 / 0x02 around matches, which snippet.h turns into <mark> / </mark> after HTML-escaping
 * the rest (the text loses any 0x01 / 0x02 of its own first). docs/api.md 4.8. */
#define DB_SEARCH_CANDIDATES "200"
#define DB_SEARCH_SNIPPET_CHARS "3000"
/* The candidates' columns, from course_lessons l and courses c; then the statement after them. */
#define DB_SEARCH_CAND "SELECT l.course_id, l.position, l.search, c.created_at "
/* clang-format off */
#define DB_SEARCH_REST                                                                             \
    "         ORDER BY c.created_at DESC, l.course_id DESC, l.position "                           \
    "         LIMIT " DB_SEARCH_CANDIDATES "), "                                                   \
    "best AS (SELECT DISTINCT ON (b.course_id) b.course_id, b.position, b.created_at, "            \
    "                b.search @@ q.p AS phrase, ts_rank_cd(b.search, q.q) AS rank "                \
    "         FROM cand b, q ORDER BY b.course_id, 4 DESC, 5 DESC, b.position), "                  \
    "page AS (SELECT * FROM best b "                                                               \
    "         ORDER BY b.phrase DESC, b.rank DESC, b.created_at DESC, b.course_id DESC "           \
    "         LIMIT $2::int OFFSET $3::bigint) "                                                   \
    "SELECT " DB_COURSE_ITEM ", l.lesson_id, "                                                     \
    "       ts_headline(l.config, "                                                                \
    "                   translate(left(l.text, " DB_SEARCH_SNIPPET_CHARS "), chr(1) || chr(2), ''), " \
    "                   profai_highlight_query(l.config, $1), "                                    \
    "                   'StartSel=' || chr(1) || ', StopSel=' || chr(2) || ', MaxWords=35, "        \
    "                   MinWords=15, ShortWord=0, MaxFragments=2, FragmentDelimiter=\" ... \"') "  \
    "FROM page p JOIN courses c ON c.id = p.course_id JOIN users u ON u.id = c.owner_id "          \
    "JOIN course_lessons l ON l.course_id = p.course_id AND l.position = p.position "              \
    "ORDER BY p.phrase DESC, p.rank DESC, p.created_at DESC, p.course_id DESC"
/* clang-format on */
#define DB_SEARCH_Q                                                                                \
    "WITH q AS (SELECT profai_search_query($1) AS q, profai_phrase_query($1) AS p), "
/* An admin sees every course: the lessons matching the search (GIN index). */
static const char s_sql_search_all[] =
    DB_SEARCH_Q "cand AS (" DB_SEARCH_CAND
                "         FROM course_lessons l JOIN courses c ON c.id = l.course_id, q "
                "         WHERE l.search @@ q.q " DB_SEARCH_REST;
/* Anyone else ($4): the lessons of the courses it sees (profai_viewer_course_ids, migration
 * 019: its own and its classes', read by key), not every matching lesson tested for visibility
 * (that cost in proportion to every course on the site). Two statements rather than one with
 * both branches: PostgreSQL keeps a generic plan of each (planned once per connection), where
 * one statement with a branch per kind of viewer would be planned anew on every call. */
static const char s_sql_search_seen[] =
    DB_SEARCH_Q "cand AS (" DB_SEARCH_CAND "         FROM profai_viewer_course_ids($4::uuid) v "
                "         JOIN courses c ON c.id = v.course_id "
                "         JOIN course_lessons l ON l.course_id = v.course_id, q "
                "         WHERE l.search @@ q.q " DB_SEARCH_REST;

static const db_statement_t s_stmt_search_all = {DB_STMT_SEARCH, "profai_search_all",
                                                 s_sql_search_all};
static const db_statement_t s_stmt_search_seen = {DB_STMT_SEARCH_SEEN, "profai_search_seen",
                                                  s_sql_search_seen};
static const db_statement_t s_stmt_courses = {DB_STMT_COURSES, "profai_courses", s_sql_courses};

/* One course of a list (columns DB_COURSE_ITEM, then for a search the lesson and snippet);
 * "owner_id" only where the query's viewer may see it. */
static void
s_course_item(json_t *j, PGresult *res, int row, bool search, const db_course_query_t *query)
{
    json_object_begin(j);
    json_key(j, "id");
    db_write_text(j, res, row, 0);
    json_key(j, "title");
    db_write_text(j, res, row, 1);
    json_key(j, "created_at");
    db_write_text(j, res, row, 2);
    json_key(j, "owner");
    db_write_text(j, res, row, 3);
    if (query->owner_id_all || (query->owner_id_own != NULL &&
                                strcmp(query->owner_id_own, PQgetvalue(res, row, 4)) == 0)) {
        json_key(j, "owner_id");
        db_write_text(j, res, row, 4);
    }
    json_key(j, "modules");
    db_write_int(j, res, row, 5);
    json_key(j, "lessons");
    db_write_int(j, res, row, 6);
    if (search) {
        int col = DB_COURSE_ITEM_COLUMNS;
        json_key(j, "lesson");
        db_write_text(j, res, row, col);
        json_key(j, "snippet");
        strbuf_t html;
        strbuf_init(&html);
        if (snippet_html(PQgetvalue(res, row, col + 1), (size_t)PQgetlength(res, row, col + 1),
                         &html) != 0)
            j->failed = true; /* out of memory: the page is not answered */
        else
            json_string(j, html.data ? html.data : "", html.len);
        strbuf_free(&html);
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
    const char *values[5];
    values[3] = query->viewer_id;
    values[4] = query->owner_id_all ? "true" : "false";
    const db_statement_t *stmt = &s_stmt_courses;
    int nparams = 5;
    if (search) {
        values[0] = query->q;
        values[1] = limit;
        values[2] = second;
        /* Every course for an admin ($1-$3), else those of the viewer ($1-$4). */
        stmt = query->owner_id_all ? &s_stmt_search_all : &s_stmt_search_seen;
        nparams = query->owner_id_all ? 3 : 4;
    } else {
        values[0] = query->after_id;
        values[1] = query->after_id ? second : NULL;
        values[2] = limit;
    }
    PGresult *res = NULL;
    db_status_t status =
        db_query_read(self, stmt, NULL, nparams, values, false, &res, &page->stale);
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
        s_course_item(&j, res, i, search, query);
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

/* ---------------------------------------------------------------- course deletion */

db_status_t
db_course_delete(db_pool_t *self, const char *course_id, const char *owner_id)
{
    const char *values[2] = {course_id, owner_id};
    PGresult *res = NULL;
    db_status_t status = db_query(self,
                                  "DELETE FROM courses WHERE id = $1::uuid "
                                  "AND ($2::uuid IS NULL OR owner_id = $2::uuid) RETURNING id",
                                  2, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    status = PQntuples(res) < 1 ? DB_NOT_FOUND : DB_OK;
    PQclear(res);
    return status;
}
