/* db_classes.c - see db_classes.h. */
#include "db_classes.h"

#include "db_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The columns of a class object, in the order s_class_write reads them ("k" is the class). */
#define DB_CLASS_COLUMNS                                                                           \
    "k.id::text, k.name, (SELECT u.name FROM users u WHERE u.id = k.owner_id), " DB_TS(            \
        "k.created_at") ", "                                                                       \
                        "(SELECT count(*) FROM class_members m WHERE m.class_id = k.id), "         \
                        "(SELECT count(*) FROM class_courses cc WHERE cc.class_id = k.id), "       \
                        "k.join_code"

/* A class object from columns DB_CLASS_COLUMNS at col; the members' count and the join code
 * only for its owner and admins (staff). Leaves the object open for more members. */
static void
s_class_begin(json_t *j, PGresult *res, int row, bool staff)
{
    json_object_begin(j);
    json_key(j, "id");
    db_write_text(j, res, row, 0);
    json_key(j, "name");
    db_write_text(j, res, row, 1);
    json_key(j, "owner");
    db_write_text(j, res, row, 2);
    json_key(j, "created_at");
    db_write_text(j, res, row, 3);
    if (staff) {
        json_key(j, "students");
        db_write_int(j, res, row, 4);
    }
    json_key(j, "courses");
    db_write_int(j, res, row, 5);
    if (staff) {
        json_key(j, "join_code");
        db_write_text(j, res, row, 6);
    }
}

/* The one-row result of a statement selecting DB_CLASS_COLUMNS as a class object. */
static db_status_t
s_class_answer(PGresult *res, bool staff, char **json, size_t *len)
{
    json_t j;
    json_init(&j);
    s_class_begin(&j, res, 0, staff);
    json_object_end(&j);
    PQclear(res);
    return db_json_take(&j, json, len);
}

/* ---------------------------------------------------------------- visibility */

/* One row of a visibility read: from the primary, so that unpublishing or removing a student
 * holds at once; only when the primary cannot answer, from the replica (docs/api.md 1.3: the
 * answers of a primary outage may be stale by up to database/read_max_lag). */
static db_status_t
s_visibility_row(db_pool_t *self, const char *sql, int nparams, const char *const *values,
                 PGresult **res)
{
    db_status_t status = db_query_row(self, sql, nparams, values, res);
    if (status != DB_UNAVAILABLE)
        return status;
    bool stale = false;
    return db_query_read(self, NULL, sql, nparams, values, true, res, &stale);
}

db_status_t
db_course_visible(db_pool_t *self, const char *course_id, const char *user_id, bool is_admin)
{
    const char *values[3] = {course_id, user_id, is_admin ? "true" : "false"};
    PGresult *res = NULL;
    db_status_t status =
        s_visibility_row(self,
                         "SELECT 1 FROM courses c WHERE c.id = $1::uuid "
                         "AND profai_course_visible(c.owner_id, c.id, $2::uuid, $3::bool)",
                         3, values, &res);
    PQclear(res);
    return status;
}

db_status_t
db_user_class_set(db_pool_t *self, const char *user_id, char out[65])
{
    const char *values[1] = {user_id};
    PGresult *res = NULL;
    db_status_t status = s_visibility_row(
        self,
        "SELECT encode(sha256(convert_to(coalesce(string_agg(class_id::text, ',' "
        "ORDER BY class_id), ''), 'UTF8')), 'hex') FROM class_members WHERE user_id = $1::uuid",
        1, values, &res);
    if (status == DB_OK)
        snprintf(out, 65, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return status;
}

/* ---------------------------------------------------------------- classes */

db_status_t
db_class_create(db_pool_t *self, const char *owner_id, const char *name, const char *code,
                char **json, size_t *len)
{
    const char *values[3] = {owner_id, name, code};
    PGresult *res = NULL;
    db_status_t status = db_query_row(
        self,
        "WITH k AS (INSERT INTO classes (owner_id, name, join_code) "
        "           VALUES ($1::uuid, $2, $3) ON CONFLICT (join_code) DO NOTHING RETURNING *) "
        "SELECT k.id::text, k.name, (SELECT u.name FROM users u WHERE u.id = k.owner_id), " DB_TS(
            "k.created_at") ", 0, 0, k.join_code FROM k",
        3, values, &res);
    if (status == DB_NOT_FOUND)
        return DB_CONFLICT;
    if (status != DB_OK)
        return status;
    return s_class_answer(res, true, json, len);
}

db_status_t
db_classes_json(db_pool_t *self, db_classes_view_t view, const char *user_id, const db_page_t *page,
                char **json, size_t *len, db_page_end_t *end)
{
    db_page_values_t pv;
    db_page_values(page, &pv);
    const char *values[5] = {view == DB_CLASSES_ALL ? NULL : user_id, pv.limit,
                             view == DB_CLASSES_MEMBER ? "true" : "false", pv.after_id,
                             pv.after_number};
    PGresult *res = NULL;
    /* A page after the keyset ($4 id, $5 microseconds), with the keyset of each row last. */
    db_status_t status = db_query(
        self,
        "SELECT " DB_CLASS_COLUMNS ", (extract(epoch FROM k.created_at) * 1000000)::bigint "
        "FROM classes k "
        "WHERE CASE WHEN $3::bool THEN EXISTS (SELECT 1 FROM class_members m "
        "           WHERE m.class_id = k.id AND m.user_id = $1::uuid) "
        "      ELSE $1::uuid IS NULL OR k.owner_id = $1::uuid END "
        "AND ($4::uuid IS NULL OR (k.created_at, k.id) < ('epoch'::timestamptz "
        "     + $5::bigint * interval '1 microsecond', $4::uuid)) "
        "ORDER BY k.created_at DESC, k.id DESC LIMIT $2::int",
        5, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    int rows = db_page_end_read(res, page->limit, 7, 0, end);
    json_t j;
    json_init(&j);
    json_array_begin(&j);
    for (int row = 0; row < rows; row++) {
        s_class_begin(&j, res, row, view != DB_CLASSES_MEMBER);
        json_object_end(&j);
    }
    json_array_end(&j);
    PQclear(res);
    return db_json_take(&j, json, len);
}

db_status_t
db_class_json(db_pool_t *self, const char *class_id, const char *owner_id, bool member_view,
              const char *user_id, char **json, size_t *len)
{
    const char *values[3] = {class_id, member_view ? user_id : owner_id,
                             member_view ? "true" : "false"};
    PGresult *res = NULL;
    /* The class's row, then one row per course (kind 'c') and, for staff, per member ('m'). */
    db_status_t status = db_query(
        self,
        "WITH k AS (SELECT * FROM classes k WHERE k.id = $1::uuid AND CASE WHEN $3::bool "
        "           THEN EXISTS (SELECT 1 FROM class_members m WHERE m.class_id = k.id "
        "                        AND m.user_id = $2::uuid) "
        "           ELSE $2::uuid IS NULL OR k.owner_id = $2::uuid END) "
        "SELECT * FROM ("
        "  SELECT 'k' AS kind, " DB_CLASS_COLUMNS ", 0 AS rank, now() AS at, '' AS name2 FROM k "
        "  UNION ALL SELECT 'c', c.id::text, c.title, " DB_TS(
            "cc.published_at") ", "
                               "         NULL, NULL, NULL, NULL, 1, cc.published_at, c.title "
                               "  FROM k JOIN class_courses cc ON cc.class_id = k.id "
                               "  JOIN courses c ON c.id = cc.course_id "
                               "  UNION ALL SELECT 'm', m.user_id::text, u.name, " DB_TS(
                                   "m.joined_at") ", "
                                                  "         NULL, NULL, NULL, NULL, 2, now(), "
                                                  "u.name "
                                                  "  FROM k JOIN class_members m ON m.class_id = "
                                                  "k.id JOIN users u ON u.id = m.user_id "
                                                  "  WHERE NOT $3::bool) x "
                                                  "ORDER BY x.rank, x.at DESC, x.name2, 2",
        3, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    int rows = PQntuples(res);
    if (rows < 1 || strcmp(PQgetvalue(res, 0, 0), "k") != 0) {
        PQclear(res);
        return DB_NOT_FOUND;
    }
    json_t j;
    json_init(&j);
    /* The class object as s_class_begin writes it (its columns start at 1 here), with the
     * list of courses in place of their count. */
    json_object_begin(&j);
    static const char *const class_keys[] = {"id", "name", "owner", "created_at"};
    for (int k = 0; k < 4; k++) {
        json_key(&j, class_keys[k]);
        db_write_text(&j, res, 0, 1 + k);
    }
    if (!member_view) {
        json_key(&j, "students");
        db_write_int(&j, res, 0, 5);

        json_key(&j, "join_code");
        db_write_text(&j, res, 0, 7);
    }
    static const char kinds[2] = {'c', 'm'};
    static const char *const lists[2] = {"courses", "members"};
    static const char *const keys[2][3] = {{"id", "title", "published_at"},
                                           {"user_id", "name", "joined_at"}};
    for (int kind = 0; kind < 2; kind++) {
        if (kind == 1 && member_view)
            break;
        json_key(&j, lists[kind]);
        json_array_begin(&j);
        for (int row = 1; row < rows; row++) {
            if (PQgetvalue(res, row, 0)[0] != kinds[kind])
                continue;
            json_object_begin(&j);
            for (int k = 0; k < 3; k++) {
                json_key(&j, keys[kind][k]);
                db_write_text(&j, res, row, 1 + k);
            }
            json_object_end(&j);
        }
        json_array_end(&j);
    }
    json_object_end(&j);
    PQclear(res);
    return db_json_take(&j, json, len);
}

db_status_t
db_class_rename(db_pool_t *self, const char *class_id, const char *owner_id, const char *name,
                char **json, size_t *len)
{
    const char *values[3] = {class_id, owner_id, name};
    PGresult *res = NULL;
    db_status_t status = db_query_row(self,
                                      "WITH k AS (UPDATE classes SET name = $3 WHERE id = $1::uuid "
                                      "AND ($2::uuid IS NULL OR owner_id = $2::uuid) RETURNING *) "
                                      "SELECT " DB_CLASS_COLUMNS " FROM k",
                                      3, values, &res);
    if (status != DB_OK)
        return status;
    return s_class_answer(res, true, json, len);
}

/* Run a statement that changes rows and returns one row per change: DB_NOT_FOUND when it
 * changed none. */
static db_status_t
s_change(db_pool_t *self, const char *sql, int n, const char *const *values)
{
    PGresult *res = NULL;
    db_status_t status = db_query_row(self, sql, n, values, &res);
    PQclear(res);
    return status;
}

db_status_t
db_class_delete(db_pool_t *self, const char *class_id, const char *owner_id)
{
    const char *values[2] = {class_id, owner_id};
    return s_change(self,
                    "DELETE FROM classes WHERE id = $1::uuid "
                    "AND ($2::uuid IS NULL OR owner_id = $2::uuid) RETURNING id",
                    2, values);
}

db_status_t
db_class_set_code(db_pool_t *self, const char *class_id, const char *owner_id, const char *code)
{
    const char *values[3] = {class_id, owner_id, code};
    PGresult *res = NULL;
    /* Columns: the class exists (is the owner's), the code was set. */
    db_status_t status =
        db_query_row(self,
                     "WITH k AS (SELECT id FROM classes WHERE id = $1::uuid "
                     "           AND ($2::uuid IS NULL OR owner_id = $2::uuid)), "
                     "taken AS (SELECT 1 FROM classes WHERE join_code = $3), "
                     "u AS (UPDATE classes SET join_code = $3 WHERE id IN (SELECT id FROM k) "
                     "      AND NOT EXISTS (SELECT 1 FROM taken) RETURNING id) "
                     "SELECT EXISTS (SELECT 1 FROM k), EXISTS (SELECT 1 FROM u)",
                     3, values, &res);
    if (status != DB_OK)
        return status;
    bool exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    bool set = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    PQclear(res);
    return !exists ? DB_NOT_FOUND : set ? DB_OK : DB_CONFLICT;
}

db_status_t
db_class_enrol(db_pool_t *self, const char *class_id, const char *owner_id, const char *name,
               bool *created, char **json, size_t *len)
{
    const char *values[3] = {class_id, owner_id, name};
    PGresult *res = NULL;
    /* Columns: the class exists, then the student's id, name, joined_at and whether this
     * statement enrolled it (NULLs when no student has the name). */
    db_status_t status = db_query_row(
        self,
        "WITH k AS (SELECT id FROM classes WHERE id = $1::uuid "
        "           AND ($2::uuid IS NULL OR owner_id = $2::uuid)), "
        "s AS (SELECT id, name FROM users WHERE name = $3 AND role = 'student'), "
        "ins AS (INSERT INTO class_members (class_id, user_id) SELECT k.id, s.id FROM k, s "
        "        ON CONFLICT DO NOTHING RETURNING user_id, joined_at), "
        "m AS (SELECT user_id, joined_at, true AS new FROM ins UNION ALL "
        "      SELECT m.user_id, m.joined_at, false FROM class_members m, k, s "
        "      WHERE m.class_id = k.id AND m.user_id = s.id) "
        "SELECT EXISTS (SELECT 1 FROM k), s.id::text, s.name, " DB_TS(
            "m.joined_at") ", m.new "
                           "FROM (SELECT 1) one LEFT JOIN s ON true "
                           "LEFT JOIN m ON m.user_id = s.id ORDER BY m.new DESC LIMIT 1",
        3, values, &res);
    if (status != DB_OK)
        return status;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        PQclear(res);
        return DB_NOT_FOUND;
    }
    if (PQgetisnull(res, 0, 1) || PQgetisnull(res, 0, 3)) {
        PQclear(res);
        return DB_LIMIT;
    }
    *created = strcmp(PQgetvalue(res, 0, 4), "t") == 0;
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "user_id");
    db_write_text(&j, res, 0, 1);
    json_key(&j, "name");
    db_write_text(&j, res, 0, 2);
    json_key(&j, "joined_at");
    db_write_text(&j, res, 0, 3);
    json_object_end(&j);
    PQclear(res);
    return db_json_take(&j, json, len);
}

db_status_t
db_class_unenrol(db_pool_t *self, const char *class_id, const char *owner_id, const char *user_id)
{
    const char *values[3] = {class_id, owner_id, user_id};
    return s_change(self,
                    "DELETE FROM class_members m USING classes k WHERE k.id = m.class_id "
                    "AND m.class_id = $1::uuid AND m.user_id = $3::uuid "
                    "AND ($2::uuid IS NULL OR k.owner_id = $2::uuid) RETURNING m.user_id",
                    3, values);
}

db_status_t
db_class_join(db_pool_t *self, const char *code, const char *user_id, char **json, size_t *len)
{
    const char *values[2] = {code, user_id};
    PGresult *res = NULL;
    db_status_t status = db_query_row(
        self,
        "WITH k0 AS (SELECT id FROM classes WHERE join_code = $1), "
        "ins AS (INSERT INTO class_members (class_id, user_id) SELECT id, $2::uuid FROM k0 "
        "        ON CONFLICT DO NOTHING RETURNING class_id) "
        "SELECT " DB_CLASS_COLUMNS " FROM classes k WHERE k.id IN (SELECT id FROM k0)",
        2, values, &res);
    if (status != DB_OK)
        return status;
    /* The counts were read before this statement's insert (one snapshot). */
    return s_class_answer(res, false, json, len);
}

/* ---------------------------------------------------------------- publishing */

db_status_t
db_course_publish(db_pool_t *self, const char *course_id, const char *class_id,
                  const char *owner_id, bool publish, const char **missing)
{
    const char *values[4] = {course_id, class_id, owner_id, publish ? "true" : "false"};
    PGresult *res = NULL;
    /* Columns: the course is the owner's, the class is the owner's, a row changed. */
    db_status_t status = db_query_row(
        self,
        "WITH c AS (SELECT id FROM courses WHERE id = $1::uuid "
        "           AND ($3::uuid IS NULL OR owner_id = $3::uuid)), "
        "k AS (SELECT id FROM classes WHERE id = $2::uuid "
        "      AND ($3::uuid IS NULL OR owner_id = $3::uuid)), "
        "ins AS (INSERT INTO class_courses (class_id, course_id) SELECT k.id, c.id FROM k, c "
        "        WHERE $4::bool ON CONFLICT DO NOTHING RETURNING 1), "
        "del AS (DELETE FROM class_courses WHERE NOT $4::bool AND class_id IN (SELECT id FROM k) "
        "        AND course_id IN (SELECT id FROM c) RETURNING 1) "
        "SELECT EXISTS (SELECT 1 FROM c), EXISTS (SELECT 1 FROM k), EXISTS (SELECT 1 FROM del)",
        4, values, &res);
    if (status != DB_OK)
        return status;
    bool course = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    bool klass = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    bool deleted = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
    PQclear(res);
    *missing = !course ? "course" : !klass ? "class" : NULL;
    if (*missing == NULL && !publish && !deleted)
        *missing = "publication";
    return *missing ? DB_NOT_FOUND : DB_OK;
}

db_status_t
db_course_classes_json(db_pool_t *self, const char *course_id, const char *owner_id,
                       const db_page_t *page, char **json, size_t *len, db_page_end_t *end)
{
    db_page_values_t pv;
    db_page_values(page, &pv);
    const char *values[5] = {course_id, owner_id, pv.limit, pv.after_id, pv.after_number};
    PGresult *res = NULL;
    /* One row even when the page is empty (the course exists: c.id), the keyset of each class
     * last ($4 id, $5 microseconds of published_at). */
    db_status_t status = db_query(
        self,
        "SELECT c.id IS NOT NULL, k.id::text, k.name, " DB_TS(
            "cc.published_at") ", (extract(epoch FROM cc.published_at) * 1000000)::bigint "
                               "FROM (SELECT 1) one "
                               "LEFT JOIN courses c ON c.id = $1::uuid "
                               "AND ($2::uuid IS NULL OR c.owner_id = $2::uuid) "
                               "LEFT JOIN class_courses cc ON cc.course_id = c.id "
                               "AND ($4::uuid IS NULL OR (cc.published_at, cc.class_id) < "
                               "     ('epoch'::timestamptz + $5::bigint * interval '1 "
                               "microsecond', "
                               "      $4::uuid)) "
                               "LEFT JOIN classes k ON k.id = cc.class_id "
                               "ORDER BY cc.published_at DESC, cc.class_id DESC LIMIT $3::int",
        5, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    if (PQntuples(res) < 1 || strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        PQclear(res);
        return DB_NOT_FOUND;
    }
    json_t j;
    json_init(&j);
    int rows = db_page_end_read(res, page->limit, 4, 1, end);
    json_array_begin(&j);
    for (int row = 0; row < rows; row++) {
        if (PQgetisnull(res, row, 1))
            continue;
        json_object_begin(&j);
        json_key(&j, "id");
        db_write_text(&j, res, row, 1);
        json_key(&j, "name");
        db_write_text(&j, res, row, 2);
        json_key(&j, "published_at");
        db_write_text(&j, res, row, 3);
        json_object_end(&j);
    }
    json_array_end(&j);
    PQclear(res);
    return db_json_take(&j, json, len);
}
