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
                            .total = (int)key.count,
                            .answers = answers.data,
                            .results = results.data,
                            .max_attempts = quiz_attempt_limit(max, privileged),
                            .reveal_from = quiz_reveal_from(max, privileged)};
    db_status_t status = db_attempt_store(call->api->db, &attempt, &json, &len);
    if (status == DB_OK)
        log_info("course=%s quiz attempt=%s by %s: %d/%zu", id, attempt_id, call->user->name, score,
                 key.count);
    if (status == DB_LIMIT) {
        char detail[128];
        snprintf(detail, sizeof detail,
                 "you have used all %d attempts at this quiz; your attempts and their answers "
                 "are listed at GET .../quiz/attempts",
                 max);
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
    json_in_doc_t *doc =
        api_read_json(call->api, call->req, QUIZ_BODY_MAX, QUIZ_DEPTH_MAX, QUIZ_VALUES_MAX);
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

/* GET /api/v1/courses/{id}/quiz/attempts: the caller's own (docs/api.md 4.11). */
void
quiz_attempts_list(api_call_t *call)
{
    char *json = NULL;
    size_t len = 0;
    bool privileged = call->user->role != AUTH_ROLE_STUDENT;
    db_status_t status =
        db_attempts_json(call->api->db, route_text(call->route, "id"), call->user->id,
                         (int)route_int(call->route, "limit"),
                         quiz_reveal_from(call->api->quiz_max_attempts, privileged), &json, &len);
    api_reply_db_json(call->req, status, 200, json, len, "course");
}
