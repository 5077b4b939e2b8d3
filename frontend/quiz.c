/* quiz.c - see quiz.h. */
#define _GNU_SOURCE
#include "quiz.h"

#include "api_common.h"
#include "courses.h"
#include "json_in.h"
#include "log.h"
#include "quiz_deal.h"
#include "quiz_score.h"
#include "request_json.h"
#include "visibility.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The kind of the cursors of a user's attempts (page.h). */
#define QUIZ_ATTEMPTS_CURSOR_KIND 'a'

/* Write a parsed JSON value back out as JSON. */
static void
s_value_write(json_t *j, const json_in_value_t *v)
{
    switch (v->type) {
    case JSON_IN_NULL:
        json_null(j);
        break;
    case JSON_IN_BOOL:
        json_bool(j, v->boolean);
        break;
    case JSON_IN_NUMBER:
        json_raw(j, v->text, v->len);
        break;
    case JSON_IN_STRING:
        json_string(j, v->text, v->len);
        break;
    case JSON_IN_ARRAY:
        json_array_begin(j);
        for (size_t i = 0; i < v->count; i++)
            s_value_write(j, &v->items[i]);
        json_array_end(j);
        break;
    case JSON_IN_OBJECT:
        json_object_begin(j);
        for (size_t i = 0; i < v->count; i++) {
            json_key(j, v->keys[i]);
            s_value_write(j, &v->items[i]);
        }
        json_object_end(j);
        break;
    }
}

/* Whether the quiz's question of id is in key's scope (the key lists the same questions in
 * the same order, so index is tried first). */
static bool
s_in_scope(const quiz_key_t *key, size_t index, const char *id)
{
    if (index < key->count && strcmp(key->questions[index].id, id) == 0)
        return key->questions[index].in_scope;
    for (size_t k = 0; k < key->count; k++)
        if (strcmp(key->questions[k].id, id) == 0)
            return key->questions[k].in_scope;
    return false;
}

/* The quiz text (db_course_quiz) with only the questions in key's scope, into out. 0, or -1
 * (the text is not a quiz, or out of memory). */
static int
s_quiz_filter(const char *text, size_t len, const quiz_key_t *key, json_t *out)
{
    json_in_limits_t limits = {.max_depth = 64, .max_values = 8 * len + 16};
    char err[128];
    json_in_doc_t *doc = json_in_parse(text, len, &limits, err, sizeof err);
    if (doc == NULL)
        return -1;
    const json_in_value_t *root = json_in_root(doc);
    const json_in_value_t *questions = json_in_member(root, "questions");
    if (questions == NULL || questions->type != JSON_IN_ARRAY) {
        json_in_free(&doc);
        return -1;
    }
    json_object_begin(out);
    for (size_t i = 0; i < root->count; i++) {
        json_key(out, root->keys[i]);
        if (&root->items[i] != questions) {
            s_value_write(out, &root->items[i]);
            continue;
        }
        json_array_begin(out);
        for (size_t q = 0; q < questions->count; q++) {
            const json_in_value_t *id = json_in_member(&questions->items[q], "id");
            if (id != NULL && id->type == JSON_IN_STRING && s_in_scope(key, q, id->text))
                s_value_write(out, &questions->items[q]);
        }
        json_array_end(out);
    }
    json_object_end(out);
    json_in_free(&doc);
    return json_failed(out) ? -1 : 0;
}

/* Deal key's scope for the caller's next attempt at it when the caller is a student and the
 * course deals (quiz_deal.h); *number is that attempt's number, 0 when not dealt. */
static db_status_t
s_deal(api_call_t *call, const char *id, quiz_key_t *key, long long *number)
{
    *number = 0;
    if (call->user->role != AUTH_ROLE_STUDENT || !quiz_deal_applies(key))
        return DB_OK;
    db_status_t status = db_attempt_next_number(call->api->db, id, call->user->id,
                                                key->lesson[0] ? key->lesson : NULL, number);
    if (status != DB_OK)
        return status;
    return quiz_deal(key, id, call->user->id, *number) == 0 ? DB_OK : DB_UNAVAILABLE;
}

/* GET /api/v1/courses/{id}/quiz (docs/api.md 4.9): the cached quiz of the course as it is for
 * teachers and admins; a lesson's questions, or a student's deal, are made from the cached
 * quiz and answer key for each request (a deal is one student's: it is never cached). */
void
quiz_get(api_call_t *call)
{
    cache_item_t *item = NULL, *answers = NULL;
    bool stale = false;
    const char *id = route_text(call->route, "id");
    const char *lesson =
        route_present(call->route, "lesson") ? route_text(call->route, "lesson") : "";
    db_status_t status = visibility_check(call->api, call->user, id);
    if (status == DB_OK)
        status = courses_quiz_item(call->api, id, COURSES_QUIZ, &item, &stale);
    if (status == DB_OK)
        status = courses_quiz_item(call->api, id, COURSES_ANSWERS, &answers, &stale);
    if (status != DB_OK) {
        cache_item_release(&item);
        courses_reply_item(call->req, status, &answers, stale);
        return;
    }
    size_t key_len, quiz_len;
    const char *key_text = cache_item_data(answers, &key_len);
    quiz_key_t key;
    long long number = 0;
    if (quiz_key_parse(&key, key_text, key_len) != 0) {
        status = DB_UNAVAILABLE;
    } else {
        quiz_scope_set(&key, lesson);
        status = s_deal(call, id, &key, &number);
    }
    cache_item_release(&answers);
    if (status == DB_OK && lesson[0] == '\0' && number == 0) { /* the quiz as cached */
        quiz_key_free(&key);
        courses_reply_item(call->req, status, &item, stale);
        return;
    }
    json_t out;
    json_init(&out);
    const char *quiz_text = cache_item_data(item, &quiz_len);
    if (status == DB_OK && s_quiz_filter(quiz_text, quiz_len, &key, &out) != 0)
        status = DB_UNAVAILABLE;
    if (status == DB_OK) {
        char etag[API_ETAG_SIZE];
        api_etag(out.data, out.len, etag);
        api_reply_tagged(call->req, out.data, out.len, etag, stale);
    } else {
        api_reply_not_ok(call->req, status, "course");
    }
    json_free(&out);
    quiz_key_free(&key);
    cache_item_release(&item);
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
    if (quiz_attempt_scope(&key, root, why, sizeof why) != 0) {
        http_reply_problem(req, 400, NULL, "%s", why);
        goto done;
    }
    long long number = 0;
    db_status_t dealt = s_deal(call, id, &key, &number);
    if (dealt != DB_OK) {
        api_reply_not_ok(req, dealt, "course");
        goto done;
    }
    if (quiz_answers_note(&key, root, why, sizeof why) != 0) {
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
                            .reveal_from = quiz_reveal_from(max, privileged),
                            .number = number};
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
