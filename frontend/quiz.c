/* quiz.c - see quiz.h. */
#define _GNU_SOURCE
#include "quiz.h"

#include "api_common.h"
#include "courses.h"
#include "json_in.h"
#include "log.h"
#include "quiz_score.h"
#include "request_json.h"
#include "visibility.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The kind of the cursors of a user's attempts (page.h). */
#define QUIZ_ATTEMPTS_CURSOR_KIND 'a'

/* GET /api/v1/courses/{id}/quiz (docs/api.md 4.9). */
void
quiz_get(api_call_t *call)
{
    cache_item_t *item = NULL;
    bool stale = false;
    const char *id = route_text(call->route, "id");
    db_status_t status = visibility_check(call->api, call->user, id);
    if (status == DB_OK)
        status = courses_quiz_item(call->api, id, COURSES_QUIZ, &item, &stale);
    courses_reply_item(call->req, status, &item, stale);
}

/* Score a parsed attempt against the course's answer key, store it, answer 201. */
static void
s_attempt_store(api_call_t *call, const char *id, const json_in_value_t *root, const char *key_text,
                size_t key_len)
{
    http_request_t *req = call->req;
    quiz_key_t key;
    json_t answers, results;
    json_init(&answers);
    json_init(&results);
    if (quiz_key_parse(&key, key_text, key_len) != 0) {
        api_reply_unavailable(req, "memory for the attempt");
        goto done;
    }
    if (key.count == 0) {
        api_reply_conflict(req, NULL, "this course has no quiz");
        goto done;
    }
    char why[256];
    if (quiz_answers_take(&key, root, why, sizeof why) != 0) {
        http_reply_problem(req, 400, NULL, "%s", why);
        goto done;
    }
    if (key.in_scope == 0) {
        snprintf(why, sizeof why, "lesson \"%.64s\" has no questions in this quiz", key.lesson);
        api_reply_conflict(req, NULL, why);
        goto done;
    }
    int score = quiz_score(&key, &answers, &results);
    if (json_failed(&answers) || json_failed(&results)) {
        api_reply_unavailable(req, "memory for the attempt");
        goto done;
    }
    gchar *attempt_id = g_uuid_string_random();
    char *json = NULL;
    size_t len = 0;
    bool privileged = call->user->role != AUTH_ROLE_STUDENT;
    int max = call->api->quiz_max_attempts;
    db_attempt_t attempt = {.id = attempt_id,
                            .course_id = id,
                            .user_id = call->user->id,
                            .score = score,
                            .total = (int)key.in_scope,
                            .lesson = key.lesson[0] ? key.lesson : NULL,
                            .answers = answers.data,
                            .results = results.data,
                            .max_attempts = quiz_attempt_limit(max, privileged),
                            .reveal_from = quiz_reveal_from(max, privileged)};
    db_status_t status = db_attempt_store(call->api->db, &attempt, &json, &len);
    if (status == DB_OK)
        log_info("course=%s quiz attempt=%s scope=%s by %s: %d/%zu", id, attempt_id,
                 key.lesson[0] ? key.lesson : "course", call->user->name, score, key.in_scope);
    if (status == DB_LIMIT) {
        char detail[256];
        snprintf(detail, sizeof detail,
                 "you have used all %d attempts at this quiz%s%.64s; your attempts and their "
                 "answers are listed at GET .../quiz/attempts",
                 max, key.lesson[0] ? " of lesson " : "", key.lesson);
        api_reply_conflict(req, NULL, detail);
    } else if (status == DB_CONFLICT) {
        api_reply_conflict(req, NULL,
                           "another attempt of yours was stored at the same moment; "
                           "try again");
    } else {
        api_reply_db_json(req, status, 201, json, len, "course");
        json = NULL;
    }
    free(json);
    g_free(attempt_id);
done:
    json_free(&answers);
    json_free(&results);
    quiz_key_free(&key);
}

/* POST /api/v1/courses/{id}/quiz/attempts (docs/api.md 4.10). */
void
quiz_attempt_submit(api_call_t *call)
{
    const char *id = route_text(call->route, "id");
    json_in_doc_t *doc = request_json_read(call->api, call->req);
    if (doc == NULL)
        return;
    cache_item_t *key = NULL;
    /* The answer key never changes: a replica's copy scores as well (the attempt itself is
     * stored on the primary, which checks that the course still exists). */
    bool stale = false;
    db_status_t status = visibility_check(call->api, call->user, id);
    if (status == DB_OK)
        status = courses_quiz_item(call->api, id, COURSES_ANSWERS, &key, &stale);
    if (status == DB_OK) {
        size_t len;
        const char *text = cache_item_data(key, &len);
        s_attempt_store(call, id, json_in_root(doc), text, len);
        cache_item_release(&key);
    } else {
        api_reply_not_ok(call->req, status, "course");
    }
    json_in_free(&doc);
}

/* GET /api/v1/courses/{id}/quiz/attempts: the caller's own, of one scope with ?lesson=
 * (docs/api.md 4.11). */
void
quiz_attempts_list(api_call_t *call)
{
    char *json = NULL;
    size_t len = 0;
    db_page_t page;
    page_cursor_t cursor;
    db_page_end_t end;
    if (!api_page_take(call, QUIZ_ATTEMPTS_CURSOR_KIND, true, &page, &cursor))
        return;
    bool privileged = call->user->role != AUTH_ROLE_STUDENT;
    const char *id = route_text(call->route, "id");
    db_status_t status = visibility_check(call->api, call->user, id);
    if (status != DB_OK) {
        api_reply_not_ok(call->req, status, "course");
        return;
    }
    const char *scope =
        route_present(call->route, "lesson") ? route_text(call->route, "lesson") : NULL;
    status = db_attempts_json(call->api->db, id, call->user->id, &page,
                              quiz_reveal_from(call->api->quiz_max_attempts, privileged), scope,
                              &json, &len, &end);
    if (status != DB_OK) {
        api_reply_not_ok(call->req, status, "course");
        return;
    }
    api_reply_list(call, NULL, NULL, "attempts", json, len, QUIZ_ATTEMPTS_CURSOR_KIND, &end);
}
