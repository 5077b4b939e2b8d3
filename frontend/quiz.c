/* quiz.c - see quiz.h. */
#define _GNU_SOURCE
#include "quiz.h"

#include "api_common.h"
#include "courses.h"
#include "json_in.h"
#include "log.h"
#include "quiz_score.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest JSON request body (a quiz attempt), and how deep and big it may be. */
#define QUIZ_BODY_MAX (64 * 1024)
#define QUIZ_DEPTH_MAX 8
#define QUIZ_VALUES_MAX 4096

/* GET /api/v1/courses/{id}/quiz (docs/api.md 4.9). */
void
quiz_get(api_call_t *call)
{
    cache_item_t *item = NULL;
    db_status_t status =
        courses_quiz_item(call->api, route_text(call->route, "id"), COURSES_QUIZ, &item);
    courses_reply_item(call->req, status, &item);
}

/* Read the attempt's JSON body (its media type was checked by the route table). Returns the
 * parsed document, or NULL with the answer sent. */
static json_in_doc_t *
s_read_json(api_t *self, http_request_t *req)
{
    long long length = http_content_length(req);
    if (length > QUIZ_BODY_MAX) {
        http_close_after(req);
        http_reply_problem(req, 413, NULL, "the body is larger than %d bytes", QUIZ_BODY_MAX);
        return NULL;
    }
    if (http_send_continue(req) != 0)
        return NULL;
    http_body_begin(req, self->body_timeout_ms);
    http_buf_t body = {.max = QUIZ_BODY_MAX};
    http_body_status_t status = http_body_read_all(req, &body);
    json_in_doc_t *doc = NULL;
    char err[256];
    switch (status) {
    case HTTP_BODY_OK: {
        json_in_limits_t limits = {.max_depth = QUIZ_DEPTH_MAX, .max_values = QUIZ_VALUES_MAX};
        doc = json_in_parse((const char *)body.data, body.len, &limits, err, sizeof err);
        if (doc == NULL)
            http_reply_problem(req, 400, NULL, "%s", err);
        break;
    }
    case HTTP_BODY_TOO_LARGE:
        http_close_after(req);
        http_reply_problem(req, 413, NULL, "the body is larger than %d bytes", QUIZ_BODY_MAX);
        break;
    case HTTP_BODY_TIMEOUT:
        http_close_after(req);
        http_reply_problem(req, 408, NULL, "%s", http_body_timeout_reason(req));
        break;
    case HTTP_BODY_NOMEM:
        http_close_after(req);
        api_reply_unavailable(req, "memory for the request");
        break;
    default:
        http_close_after(req);
        http_reply_problem(req, 400, NULL, "the request body is malformed or ended early");
        break;
    }
    http_buf_free(&body);
    return doc;
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
    json_in_doc_t *doc = s_read_json(call->api, call->req);
    if (doc == NULL)
        return;
    cache_item_t *key = NULL;
    db_status_t status = courses_quiz_item(call->api, id, COURSES_ANSWERS, &key);
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
    bool privileged = call->user->role != AUTH_ROLE_STUDENT;
    const char *scope =
        route_present(call->route, "lesson") ? route_text(call->route, "lesson") : NULL;
    db_status_t status = db_attempts_json(
        call->api->db, route_text(call->route, "id"), call->user->id,
        (int)route_int(call->route, "limit"),
        quiz_reveal_from(call->api->quiz_max_attempts, privileged), scope, &json, &len);
    api_reply_db_json(call->req, status, 200, json, len, "course");
}
