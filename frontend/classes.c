/* classes.c - see classes.h. */
#include "classes.h"

#include "api_common.h"
#include "db_classes.h"
#include "log.h"
#include "request_json.h"
#include "visibility.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Join codes: 10 of these 32 characters (no I, O, 0, 1, which read alike), 50 bits. */
static const char s_code_alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/* A fresh code that is taken already is made again, this many times at most. */
#define CLASSES_CODE_TRIES 4
/* The kind letter of a cursor of GET /api/v1/classes (page.h). */
#define CLASSES_CURSOR_KIND 'k'
#define CLASSES_OF_COURSE_CURSOR_KIND 'p' /* the classes a course is published to */

/* A new join code from the kernel's random bytes; -1 when there are none. */
static int
s_code_make(char out[DB_JOIN_CODE_LEN + 1])
{
    unsigned char bytes[DB_JOIN_CODE_LEN];
    if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes)
        return -1;
    for (size_t i = 0; i < DB_JOIN_CODE_LEN; i++)
        out[i] = s_code_alphabet[bytes[i] % 32];
    out[DB_JOIN_CODE_LEN] = '\0';
    return 0;
}

/* Read a JSON object body with only the member `key`, a text of 1..max bytes, into out
 * (NUL-terminated, out_size > max). false with the answer sent. */
static bool
s_read_one_text(api_call_t *call, const char *key, size_t max, char *out, size_t out_size)
{
    json_in_doc_t *doc = request_json_read(call->api, call->req);
    if (doc == NULL)
        return false;
    const char *keys[] = {key, NULL};
    const char *text = NULL;
    size_t len = 0;
    bool ok = request_json_only(call->req, json_in_root(doc), keys) &&
              request_json_text(call->req, json_in_root(doc), key, max, &text, &len);
    if (ok)
        snprintf(out, out_size, "%.*s", (int)len, text);
    json_in_free(&doc);
    return ok;
}

/* ---------------------------------------------------------------- classes */

void
classes_create(api_call_t *call)
{
    char name[CLASSES_NAME_MAX + 1];
    if (!s_read_one_text(call, "name", CLASSES_NAME_MAX, name, sizeof name))
        return;
    char *json = NULL;
    size_t len = 0;
    db_status_t status = DB_CONFLICT;
    for (int i = 0; i < CLASSES_CODE_TRIES && status == DB_CONFLICT; i++) {
        char code[DB_JOIN_CODE_LEN + 1];
        if (s_code_make(code) != 0) {
            api_reply_unavailable(call->req, "randomness for a join code");
            return;
        }
        status = db_class_create(call->api->db, call->user->id, name, code, &json, &len);
    }
    if (status == DB_OK)
        log_info("class created by %s", call->user->name);
    api_reply_db_json(call->req, status == DB_OK ? DB_OK : DB_UNAVAILABLE, 201, json, len, "class");
}

void
classes_list(api_call_t *call)
{
    db_classes_view_t view = call->user->role == AUTH_ROLE_ADMIN     ? DB_CLASSES_ALL
                             : call->user->role == AUTH_ROLE_TEACHER ? DB_CLASSES_OWNED
                                                                     : DB_CLASSES_MEMBER;
    char *json = NULL;
    size_t len = 0;
    db_page_t page;
    page_cursor_t cursor;
    db_page_end_t end;
    if (!api_page_take(call, CLASSES_CURSOR_KIND, true, &page, &cursor))
        return;
    db_status_t status =
        db_classes_json(call->api->db, view, call->user->id, &page, &json, &len, &end);
    if (status != DB_OK) {
        api_reply_not_ok(call->req, status, "class");
        return;
    }
    api_reply_list(call, NULL, NULL, "classes", json, len, CLASSES_CURSOR_KIND, &end);
}

void
classes_get(api_call_t *call)
{
    char *json = NULL;
    size_t len = 0;
    bool member_view = call->user->role == AUTH_ROLE_STUDENT;
    db_status_t status =
        db_class_json(call->api->db, route_text(call->route, "id"), api_owner_filter(call->user),
                      member_view, call->user->id, &json, &len);
    api_reply_db_json(call->req, status, 200, json, len, "class");
}

void
classes_rename(api_call_t *call)
{
    char name[CLASSES_NAME_MAX + 1];
    if (!s_read_one_text(call, "name", CLASSES_NAME_MAX, name, sizeof name))
        return;
    char *json = NULL;
    size_t len = 0;
    db_status_t status = db_class_rename(call->api->db, route_text(call->route, "id"),
                                         api_owner_filter(call->user), name, &json, &len);
    api_reply_db_json(call->req, status, 200, json, len, "class");
}

void
classes_delete(api_call_t *call)
{
    const char *id = route_text(call->route, "id");
    db_status_t status = db_class_delete(call->api->db, id, api_owner_filter(call->user));
    if (status != DB_OK) {
        api_reply_not_ok(call->req, status, "class");
        return;
    }
    visibility_forget(call->api);
    log_info("class=%s deleted by %s", id, call->user->name);
    http_reply(call->req, 204, API_JSON_TYPE, NULL, NULL, 0);
}

void
classes_rotate_code(api_call_t *call)
{
    const char *id = route_text(call->route, "id");
    char code[DB_JOIN_CODE_LEN + 1];
    db_status_t status = DB_CONFLICT;
    for (int i = 0; i < CLASSES_CODE_TRIES && status == DB_CONFLICT; i++) {
        if (s_code_make(code) != 0) {
            api_reply_unavailable(call->req, "randomness for a join code");
            return;
        }
        status = db_class_set_code(call->api->db, id, api_owner_filter(call->user), code);
    }
    if (status != DB_OK) {
        api_reply_not_ok(call->req, status == DB_CONFLICT ? DB_UNAVAILABLE : status, "class");
        return;
    }
    log_info("class=%s join code replaced by %s", id, call->user->name);
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "join_code");
    json_cstring(&j, code);
    json_object_end(&j);
    api_reply_json(call->req, 200, NULL, &j);
}

/* ---------------------------------------------------------------- members */

void
classes_enrol(api_call_t *call)
{
    char name[257];
    if (!s_read_one_text(call, "name", 256, name, sizeof name))
        return;
    const char *id = route_text(call->route, "id");
    char *json = NULL;
    size_t len = 0;
    bool created = false;
    db_status_t status = db_class_enrol(call->api->db, id, api_owner_filter(call->user), name,
                                        &created, &json, &len);
    if (status == DB_LIMIT) {
        http_reply_problem(call->req, 422, NULL, "no student is named \"%s\"", name);
        return;
    }
    if (status == DB_OK)
        visibility_forget(call->api); /* the student's class set */
    if (status == DB_OK && created)
        log_info("class=%s: %s enrolled by %s", id, name, call->user->name);
    api_reply_db_json(call->req, status, created ? 201 : 200, json, len, "class");
}

void
classes_unenrol(api_call_t *call)
{
    const char *id = route_text(call->route, "id");
    const char *user_id = route_text(call->route, "user_id");
    db_status_t status = db_class_unenrol(call->api->db, id, api_owner_filter(call->user), user_id);
    if (status != DB_OK) {
        if (status == DB_NOT_FOUND)
            http_reply_problem(call->req, 404, NULL, "no such student in a class of yours");
        else
            api_reply_unavailable(call->req, "the database");
        return;
    }
    visibility_forget(call->api);
    log_info("class=%s: user %s removed by %s", id, user_id, call->user->name);
    http_reply(call->req, 204, API_JSON_TYPE, NULL, NULL, 0);
}

void
classes_join(api_call_t *call)
{
    char code[64];
    if (!s_read_one_text(call, "code", 32, code, sizeof code))
        return;
    for (char *p = code; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    char *json = NULL;
    size_t len = 0;
    db_status_t status = DB_NOT_FOUND;
    if (strlen(code) == DB_JOIN_CODE_LEN && strspn(code, s_code_alphabet) == DB_JOIN_CODE_LEN)
        status = db_class_join(call->api->db, code, call->user->id, &json, &len);
    if (status == DB_NOT_FOUND) {
        http_reply_problem(call->req, 404, NULL, "no class has this join code");
        return;
    }
    if (status == DB_OK) {
        visibility_forget(call->api); /* the caller's class set */
        log_info("%s joined a class by its code", call->user->name);
    }
    api_reply_db_json(call->req, status, 200, json, len, "class");
}

/* ---------------------------------------------------------------- publishing */

static void
s_publish(api_call_t *call, bool publish)
{
    const char *id = route_text(call->route, "id");
    const char *class_id = route_text(call->route, "class_id");
    const char *missing = NULL;
    db_status_t status = db_course_publish(call->api->db, id, class_id,
                                           api_owner_filter(call->user), publish, &missing);
    if (status == DB_NOT_FOUND) {
        if (strcmp(missing, "publication") == 0)
            http_reply_problem(call->req, 404, NULL, "the course is not published to this class");
        else
            http_reply_problem(call->req, 404, NULL, "no %s with this id", missing);
        return;
    }
    if (status != DB_OK) {
        api_reply_unavailable(call->req, "the database");
        return;
    }
    visibility_forget(call->api);
    log_info("course=%s %s class=%s by %s", id, publish ? "published to" : "withdrawn from",
             class_id, call->user->name);
    http_reply(call->req, 204, API_JSON_TYPE, NULL, NULL, 0);
}

void
classes_publish(api_call_t *call)
{
    s_publish(call, true);
}

void
classes_unpublish(api_call_t *call)
{
    s_publish(call, false);
}

void
classes_of_course(api_call_t *call)
{
    char *json = NULL;
    size_t len = 0;
    db_page_t page;
    page_cursor_t cursor;
    db_page_end_t end;
    if (!api_page_take(call, CLASSES_OF_COURSE_CURSOR_KIND, true, &page, &cursor))
        return;
    db_status_t status =
        db_course_classes_json(call->api->db, route_text(call->route, "id"),
                               api_owner_filter(call->user), &page, &json, &len, &end);
    if (status != DB_OK) {
        api_reply_not_ok(call->req, status, "course");
        return;
    }
    api_reply_list(call, NULL, NULL, "classes", json, len, CLASSES_OF_COURSE_CURSOR_KIND, &end);
}
