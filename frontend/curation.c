/* curation.c - see curation.h. */
#define _GNU_SOURCE
#include "curation.h"

#include "api_common.h"
#include "broker_client.h"
#include "courses.h"
#include "db_curation.h"
#include "error_http.h"
#include "jobs.h"
#include "json.h"
#include "log.h"
#include "request_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- validation (422) */

/* A title member: UTF-8 text of 1..CURATION_TITLE_MAX bytes without control characters. */
static bool
s_take_title(http_request_t *req, const json_in_value_t *v, const char *key, json_t *out)
{
    if (v == NULL || v->type != JSON_IN_STRING || v->len == 0 ||
        !route_text_ok(v->text, v->len, CURATION_TITLE_MAX)) {
        http_reply_problem(req, 422, NULL,
                           "%s must be UTF-8 text of 1 to %d bytes without control characters", key,
                           CURATION_TITLE_MAX);
        return false;
    }
    json_key(out, key);
    json_string(out, v->text, v->len);
    return true;
}

/* The question members present in object (all of them unless partial) into out, checked:
 * prompt, exactly CURATION_CHOICES distinct choices, answer 0..3. */
static bool
s_take_question(http_request_t *req, const json_in_value_t *object, bool partial, json_t *out)
{
    static const char *const keys[] = {"prompt", "choices", "answer", NULL};
    if (!request_json_only(req, object, keys))
        return false;
    const json_in_value_t *prompt = json_in_member(object, "prompt");
    const json_in_value_t *choices = json_in_member(object, "choices");
    const json_in_value_t *answer = json_in_member(object, "answer");
    if (partial && prompt == NULL && choices == NULL && answer == NULL) {
        http_reply_problem(req, 422, NULL, "give at least one of prompt, choices, answer");
        return false;
    }
    if ((prompt != NULL || !partial) &&
        (prompt == NULL || prompt->type != JSON_IN_STRING || prompt->len == 0 ||
         !route_text_ok(prompt->text, prompt->len, CURATION_PROMPT_MAX))) {
        http_reply_problem(req, 422, NULL,
                           "prompt must be UTF-8 text of 1 to %d bytes without control "
                           "characters",
                           CURATION_PROMPT_MAX);
        return false;
    }
    if (choices != NULL || !partial) {
        if (choices == NULL || choices->type != JSON_IN_ARRAY ||
            choices->count != CURATION_CHOICES) {
            http_reply_problem(req, 422, NULL, "choices must be an array of exactly %d strings",
                               CURATION_CHOICES);
            return false;
        }
        for (size_t i = 0; i < choices->count; i++) {
            const json_in_value_t *c = &choices->items[i];
            if (c->type != JSON_IN_STRING || c->len == 0 ||
                !route_text_ok(c->text, c->len, CURATION_CHOICE_MAX)) {
                http_reply_problem(req, 422, NULL,
                                   "choices[%zu] must be UTF-8 text of 1 to %d bytes without "
                                   "control characters",
                                   i, CURATION_CHOICE_MAX);
                return false;
            }
            for (size_t k = 0; k < i; k++)
                if (strcmp(choices->items[k].text, c->text) == 0) {
                    http_reply_problem(req, 422, NULL,
                                       "choices must be distinct: choices[%zu] repeats "
                                       "choices[%zu]",
                                       i, k);
                    return false;
                }
        }
    }
    if ((answer != NULL || !partial) &&
        (answer == NULL || answer->type != JSON_IN_NUMBER || !answer->is_integer ||
         answer->integer < 0 || answer->integer >= CURATION_CHOICES)) {
        http_reply_problem(req, 422, NULL,
                           "answer must be the index of the right choice: an integer 0 to %d",
                           CURATION_CHOICES - 1);
        return false;
    }
    if (prompt != NULL) {
        json_key(out, "prompt");
        json_string(out, prompt->text, prompt->len);
    }
    if (choices != NULL) {
        json_key(out, "choices");
        json_array_begin(out);
        for (size_t i = 0; i < choices->count; i++)
            json_string(out, choices->items[i].text, choices->items[i].len);
        json_array_end(out);
    }
    if (answer != NULL) {
        json_key(out, "answer");
        json_int(out, answer->integer);
    }
    return true;
}

/* ---------------------------------------------------------------- answers */

/* Answer status with the course as its owner reads it now (Location when given). */
static void
s_reply_course(api_call_t *call, const char *id, int status_code, const char *location)
{
    cache_item_t *item = NULL;
    db_status_t status = courses_doc_item(call->api, id, true, &item);
    if (status != DB_OK || status_code == 200) {
        courses_reply_item(call->req, status, &item, false);
        return;
    }
    size_t len;
    const char *body = cache_item_data(item, &len);
    char headers[256];
    snprintf(headers, sizeof headers, "Location: %s\r\nETag: %s\r\n", location,
             cache_item_etag(item));
    http_reply(call->req, status_code, API_JSON_TYPE, headers, body, len);
    cache_item_release(&item);
}

/* Store one edit and answer (what: the name of the target's kind for a 404). */
static void
s_edit(api_call_t *call, const char *kind, const char *target, const char *what, json_t *value)
{
    const char *id = route_text(call->route, "id");
    if (value != NULL && json_failed(value)) {
        http_reply_problem(call->req, 500, NULL, "out of memory");
        return;
    }
    long long revision = 0;
    char new_target[72] = "";
    db_status_t status =
        db_course_edit(call->api->db, id, api_owner_filter(call->user), call->user->id, kind,
                       target, value ? value->data : NULL, &revision, new_target);
    if (status == DB_LIMIT) {
        http_reply_problem(call->req, 404, NULL, "no %s with this id in this course", what);
        return;
    }
    if (status != DB_OK) {
        api_reply_not_ok(call->req, status, "course");
        return;
    }
    log_info("course=%s edited by %s: %s %s (revision %lld)", id, call->user->name, kind,
             new_target, revision);
    courses_forget(call->api, id); /* its revision, and searches (lists show the title) */
    if (strcmp(kind, "question_add") == 0) {
        char location[160];
        snprintf(location, sizeof location, "/api/v1/courses/%s/questions/%s", id, new_target);
        s_reply_course(call, id, 201, location);
        return;
    }
    s_reply_course(call, id, 200, NULL);
}

/* Read the body as an object of only keys; NULL with the answer sent. */
static json_in_doc_t *
s_body(api_call_t *call, const char *const *keys)
{
    json_in_doc_t *doc = request_json_read(call->api, call->req);
    if (doc != NULL && !request_json_only(call->req, json_in_root(doc), keys))
        json_in_free(&doc);
    return doc;
}

/* A {"title"} edit of kind on target. */
static void
s_title_edit(api_call_t *call, const char *kind, const char *target, const char *what)
{
    static const char *const keys[] = {"title", NULL};
    json_in_doc_t *doc = s_body(call, keys);
    if (doc == NULL)
        return;
    json_t value;
    json_init(&value);
    json_object_begin(&value);
    if (s_take_title(call->req, json_in_member(json_in_root(doc), "title"), "title", &value)) {
        json_object_end(&value);
        s_edit(call, kind, target, what, &value);
    }
    json_free(&value);
    json_in_free(&doc);
}

/* ---------------------------------------------------------------- handlers */

/* PATCH /api/v1/courses/{id} {"title", "questions_per_attempt"}. */
void
curation_course_patch(api_call_t *call)
{
    static const char *const keys[] = {"title", "questions_per_attempt", NULL};
    json_in_doc_t *doc = s_body(call, keys);
    if (doc == NULL)
        return;
    const json_in_value_t *root = json_in_root(doc);
    const json_in_value_t *title = json_in_member(root, "title");
    const json_in_value_t *per = json_in_member(root, "questions_per_attempt");
    json_t value;
    json_init(&value);
    const char *id = route_text(call->route, "id");
    if (title == NULL && per == NULL) {
        http_reply_problem(call->req, 422, NULL, "give title, questions_per_attempt or both");
        goto done;
    }
    if (per != NULL && per->type != JSON_IN_NULL &&
        (per->type != JSON_IN_NUMBER || !per->is_integer || per->integer < 1 ||
         per->integer > CURATION_PER_ATTEMPT_MAX)) {
        http_reply_problem(call->req, 422, NULL,
                           "questions_per_attempt must be an integer from 1 to %d, or null",
                           CURATION_PER_ATTEMPT_MAX);
        goto done;
    }
    json_object_begin(&value);
    if (title != NULL && !s_take_title(call->req, title, "title", &value))
        goto done;
    json_object_end(&value);
    if (per != NULL) {
        int n = per->type == JSON_IN_NULL ? 0 : (int)per->integer;
        db_status_t status =
            db_course_set_per_attempt(call->api->db, id, api_owner_filter(call->user), n);
        if (status != DB_OK) {
            api_reply_not_ok(call->req, status, "course");
            goto done;
        }
        courses_forget(call->api, id); /* its revision */
        if (title == NULL) {
            log_info("course=%s: %d questions per attempt, set by %s", id, n, call->user->name);
            s_reply_course(call, id, 200, NULL);
            goto done;
        }
    }
    s_edit(call, "course_title", "course", "course", &value);
done:
    json_free(&value);
    json_in_free(&doc);
}

/* PATCH /api/v1/courses/{id}/modules/{module} {"title"}. */
void
curation_module_patch(api_call_t *call)
{
    s_title_edit(call, "module_title", route_text(call->route, "module"), "module");
}

/* PATCH /api/v1/courses/{id}/lessons/{lesson} {"title"}. */
void
curation_lesson_patch(api_call_t *call)
{
    s_title_edit(call, "lesson_title", route_text(call->route, "lesson"), "lesson");
}

/* DELETE /api/v1/courses/{id}/lessons/{lesson}. */
void
curation_lesson_delete(api_call_t *call)
{
    s_edit(call, "lesson_delete", route_text(call->route, "lesson"), "lesson", NULL);
}

/* POST /api/v1/courses/{id}/lessons/{lesson}/questions {"prompt", "choices", "answer"}. */
void
curation_question_add(api_call_t *call)
{
    json_in_doc_t *doc = request_json_read(call->api, call->req);
    if (doc == NULL)
        return;
    const char *lesson = route_text(call->route, "lesson");
    json_t value;
    json_init(&value);
    json_object_begin(&value);
    json_key(&value, "lesson");
    json_cstring(&value, lesson);
    if (s_take_question(call->req, json_in_root(doc), false, &value)) {
        json_object_end(&value);
        s_edit(call, "question_add", lesson, "lesson", &value);
    }
    json_free(&value);
    json_in_free(&doc);
}

/* PATCH /api/v1/courses/{id}/questions/{qid} with any of prompt, choices, answer. */
void
curation_question_patch(api_call_t *call)
{
    json_in_doc_t *doc = request_json_read(call->api, call->req);
    if (doc == NULL)
        return;
    json_t value;
    json_init(&value);
    json_object_begin(&value);
    if (s_take_question(call->req, json_in_root(doc), true, &value)) {
        json_object_end(&value);
        s_edit(call, "question_edit", route_text(call->route, "qid"), "question", &value);
    }
    json_free(&value);
    json_in_free(&doc);
}

/* DELETE /api/v1/courses/{id}/questions/{qid}. */
void
curation_question_delete(api_call_t *call)
{
    s_edit(call, "question_delete", route_text(call->route, "qid"), "question", NULL);
}

/* POST /api/v1/courses/{id}/regenerate: a new job from the stored PDF, on behalf of the
 * course's owner; its course replaces this one's generated part (migration 016 trigger). */
void
curation_regenerate(api_call_t *call)
{
    http_request_t *req = call->req;
    const char *id = route_text(call->route, "id");
    db_course_source_t source;
    db_status_t status = db_course_source(call->api->db, id, api_owner_filter(call->user), &source);
    if (status != DB_OK) {
        api_reply_not_ok(req, status, "course");
        return;
    }
    broker_client_t *broker = api_broker(call);
    if (broker == NULL) {
        api_reply_unavailable(req, "the broker");
        return;
    }
    proto_submit_t submit;
    memset(&submit, 0, sizeof submit);
    snprintf(submit.owner, sizeof submit.owner, "%s", source.owner_id);
    snprintf(submit.title, sizeof submit.title, "%s", source.title);
    snprintf(submit.filename, sizeof submit.filename, "%s", source.filename);
    snprintf(submit.sha256, sizeof submit.sha256, "%s", source.sha256);
    proto_submitted_t reply;
    char err[256];
    if (broker_client_submit(broker, &submit, &reply, err, sizeof err) != 0) {
        log_warn("regeneration of course=%s by %s not submitted: %s", id, call->user->name, err);
        api_reply_unavailable(req, "the broker");
        return;
    }
    if (!reply.ok) {
        int code = error_http_of_name(reply.error_code)->status;
        log_warn("broker refused the regeneration of course=%s: %s %s", id, reply.error_code,
                 reply.error);
        http_reply_problem(req, code >= 400 && code != 500 ? code : 500, NULL,
                           "the broker refused the job (%s): %s", reply.error_code, reply.error);
        return;
    }
    if (db_course_regeneration_add(call->api->db, reply.job_id, id) != DB_OK) {
        api_reply_unavailable(req, "the database");
        return;
    }
    log_info("course=%s regeneration job=%s submitted by %s", id, reply.job_id, call->user->name);
    char location[128], headers[160];
    snprintf(location, sizeof location, "/api/v1/jobs/%s", reply.job_id);
    snprintf(headers, sizeof headers, "Location: %s\r\n", location);
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    jobs_accepted_members(&j, reply.job_id, reply.state, location);
    json_key(&j, "course_id");
    json_cstring(&j, id);
    json_object_end(&j);
    api_reply_json(req, 202, headers, &j);
}
