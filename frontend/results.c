/* results.c - see results.h. */
#include "results.h"

#include "api_common.h"
#include "db_results.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The kind letter of a cursor of GET /api/v1/me/attempts (page.h). */
#define RESULTS_MY_ATTEMPTS_CURSOR_KIND 'm'
#define RESULTS_MY_PROGRESS_CURSOR_KIND 'g' /* courses of a user's progress */

/* Whether the caller asked for CSV: ?format=csv, or Accept naming text/csv without ?format. */
static bool
s_wants_csv(api_call_t *call)
{
    const char *format = route_text(call->route, "format");
    if (format[0] != '\0')
        return strcmp(format, "csv") == 0;
    const char *accept = http_header(call->req, "Accept");
    return accept != NULL && strstr(accept, "text/csv") != NULL;
}

static void
s_results(api_call_t *call, const db_results_scope_t *scope, const char *what)
{
    const char *id = route_text(call->route, "id");
    char *body = NULL;
    size_t len = 0;
    if (!s_wants_csv(call)) {
        db_status_t status = db_results_json(call->api->db, scope, &body, &len);
        api_reply_db_json(call->req, status, 200, body, len, what);
        return;
    }
    db_results_table_t table =
        route_int(call->route, "table") == 1 ? DB_RESULTS_QUESTIONS : DB_RESULTS_STUDENTS;
    db_status_t status = db_results_csv(call->api->db, scope, table, &body, &len);
    if (status != DB_OK) {
        api_reply_not_ok(call->req, status, what);
        return;
    }
    char headers[160];
    snprintf(headers, sizeof headers,
             "Content-Disposition: attachment; filename=\"%s-%s-%s.csv\"\r\n", what, id,
             table == DB_RESULTS_QUESTIONS ? "questions" : "students");
    http_reply(call->req, 200, "text/csv; charset=utf-8", headers, body, len);
    free(body);
}

void
results_course(api_call_t *call)
{
    db_results_scope_t scope = {.course_id = route_text(call->route, "id"),
                                .owner_id = api_owner_filter(call->user)};
    s_results(call, &scope, "course");
}

void
results_class(api_call_t *call)
{
    db_results_scope_t scope = {.class_id = route_text(call->route, "id"),
                                .owner_id = api_owner_filter(call->user)};
    s_results(call, &scope, "class");
}

void
results_my_attempts(api_call_t *call)
{
    char *json = NULL;
    size_t len = 0;
    db_page_t page;
    page_cursor_t cursor;
    db_page_end_t end;
    if (!api_page_take(call, RESULTS_MY_ATTEMPTS_CURSOR_KIND, true, &page, &cursor))
        return;
    db_status_t status =
        db_my_attempts_json(call->api->db, call->user->id, &page, &json, &len, &end);
    if (status != DB_OK) {
        api_reply_not_ok(call->req, status, "user");
        return;
    }
    api_reply_list(call, NULL, NULL, "attempts", json, len, RESULTS_MY_ATTEMPTS_CURSOR_KIND, &end);
}

void
results_my_progress(api_call_t *call)
{
    char *json = NULL;
    size_t len = 0;
    db_page_t page;
    page_cursor_t cursor;
    db_page_end_t end;
    if (!api_page_take(call, RESULTS_MY_PROGRESS_CURSOR_KIND, true, &page, &cursor))
        return;
    db_status_t status =
        db_my_progress_json(call->api->db, call->user->id, call->user->role == AUTH_ROLE_ADMIN,
                            &page, &json, &len, &end);
    if (status != DB_OK) {
        api_reply_not_ok(call->req, status, "user");
        return;
    }
    api_reply_list(call, NULL, NULL, "courses", json, len, RESULTS_MY_PROGRESS_CURSOR_KIND, &end);
}

void
results_lesson_open(api_call_t *call)
{
    char *json = NULL;
    size_t len = 0;
    const char *id = route_text(call->route, "id");
    db_status_t status =
        db_lesson_open(call->api->db, id, route_text(call->route, "lesson"), call->user->id,
                       call->user->role == AUTH_ROLE_ADMIN, &json, &len);
    if (status == DB_NOT_FOUND) {
        free(json);
        http_reply_problem(call->req, 404, NULL, "no such lesson in a course you can read");
        return;
    }
    api_reply_db_json(call->req, status, 200, json, len, "course");
}
