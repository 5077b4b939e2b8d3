/* account_data.c - see account_data.h. */
#include "account_data.h"

#include "api_common.h"
#include "courses.h"
#include "error_http.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Cancel the caller's unfinished jobs through the broker, as DELETE /api/v1/jobs/{id} does:
 * the broker holds them, so only it may end them. *cancelled: how many it cancelled. 0; -1
 * when the broker or the database could not be asked (503 answered). */
static int
s_cancel_unfinished(api_call_t *call, long *cancelled)
{
    const auth_user_t *user = call->user;
    char(*ids)[37] = malloc(ACCOUNT_CANCEL_MAX * sizeof *ids);
    size_t n = 0;
    if (ids == NULL ||
        db_account_unfinished(call->api->db, user->id, ids, ACCOUNT_CANCEL_MAX, &n) != DB_OK) {
        free(ids);
        api_reply_unavailable(call->req, "the database");
        return -1;
    }
    broker_client_t *broker = n > 0 ? api_broker(call) : NULL;
    for (size_t i = 0; i < n; i++) {
        proto_cancelled_t reply;
        char err[256] = "no broker client";
        if (broker == NULL ||
            broker_client_cancel(broker, user->id, ids[i], &reply, err, sizeof err) != 0) {
            log_warn("job=%s cancel for %s's data deletion not delivered: %s", ids[i], user->name,
                     err);
            free(ids);
            api_reply_unavailable(call->req, "the broker");
            return -1;
        }
        if (reply.ok) {
            (*cancelled)++;
        } else if (error_http_of_name(reply.error_code)->status == 503) {
            free(ids);
            http_reply_problem(call->req, 503, API_RETRY_AFTER,
                               "the broker cannot cancel jobs right now (%s); retry later",
                               reply.error_code);
            return -1;
        }
        /* Otherwise it ended meanwhile (already_final, unknown_job): deleted below. */
    }
    free(ids);
    return 0;
}

static void
s_forget(void *arg, const char *id)
{
    courses_forget(arg, id);
}

/* DELETE /api/v1/me/data (docs/api.md 4.24). */
void
account_data_delete(api_call_t *call)
{
    long cancelled = 0;
    if (s_cancel_unfinished(call, &cancelled) != 0)
        return;
    db_account_deleted_t deleted;
    memset(&deleted, 0, sizeof deleted);
    if (db_account_delete(call->api->db, call->user->id, &deleted, s_forget, call->api) != DB_OK) {
        api_reply_unavailable(call->req, "the database");
        return;
    }
    log_info("data of %s deleted: %ld jobs cancelled, %ld jobs, %ld courses, %ld attempts, "
             "%ld unfinished jobs kept",
             call->user->name, cancelled, deleted.jobs, deleted.courses, deleted.attempts,
             deleted.jobs_kept);
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "jobs_cancelled");
    json_int(&j, cancelled);
    json_key(&j, "jobs");
    json_int(&j, deleted.jobs);
    json_key(&j, "courses");
    json_int(&j, deleted.courses);
    json_key(&j, "attempts");
    json_int(&j, deleted.attempts);
    json_key(&j, "jobs_kept");
    json_int(&j, deleted.jobs_kept);
    json_object_end(&j);
    api_reply_json(call->req, 200, NULL, &j);
}

/* GET /api/v1/users/{id}/export (docs/api.md 4.25). */
void
account_data_export(api_call_t *call)
{
    const char *id = route_text(call->route, "id");
    char *json = NULL;
    size_t len = 0;
    db_status_t status = db_user_export_json(call->api->db, id, &json, &len);
    if (status == DB_OK) {
        log_info("data of user %s exported by %s", id, call->user->name);
        char headers[128];
        snprintf(headers, sizeof headers,
                 "Content-Disposition: attachment; filename=\"profai-user-%.36s.json\"\r\n", id);
        http_reply_json(call->req, 200, headers, json, len);
    } else {
        api_reply_not_ok(call->req, status, "user");
    }
    free(json);
}
