/* job_stream.c - see job_stream.h. */
#define _GNU_SOURCE /* strcasestr */
#include "job_stream.h"

#include "log.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool
job_stream_wanted(http_request_t *req)
{
    const char *accept = http_header(req, "Accept");
    return accept != NULL && strcasestr(accept, "text/event-stream") != NULL;
}

void
job_stream_stop(api_t *api)
{
    __atomic_store_n(&api->streams_stopping, true, __ATOMIC_RELEASE);
}

static bool
s_stopping(api_t *api)
{
    return __atomic_load_n(&api->streams_stopping, __ATOMIC_ACQUIRE);
}

/* Send one event: "id: <seq>\nevent: <name>\ndata: <one line of JSON>\n\n". */
static int
s_send(http_request_t *req, long long seq, const char *name, const char *data, size_t len)
{
    char head[96];
    int n = seq >= 0 ? snprintf(head, sizeof head, "id: %lld\nevent: %s\ndata: ", seq, name)
                     : snprintf(head, sizeof head, "event: %s\ndata: ", name);
    if (http_stream_write(req, head, (size_t)n) != 0 || http_stream_write(req, data, len) != 0)
        return -1;
    return http_stream_write(req, "\n\n", 2);
}

/* Send the job as it is now. 0, or -1 when the stream must end (client gone, database). */
static int
s_send_job(api_call_t *call, const char *id, long long seq)
{
    char *json = NULL;
    size_t len = 0;
    if (db_job_json(call->api->db, id, api_owner_filter(call->user), &json, &len) != DB_OK) {
        static const char gone[] = "{\"detail\":\"the job cannot be read right now\"}";
        (void)s_send(call->req, -1, "error", gone, sizeof gone - 1);
        return -1;
    }
    int rc = s_send(call->req, seq, "job", json, len);
    free(json);
    return rc;
}

/* The stream, once admitted. */
static void
s_stream(api_call_t *call, const char *id)
{
    api_t *api = call->api;
    http_request_t *req = call->req;
    const char *owner = api_owner_filter(call->user);
    char version[256], sent[256] = "";
    long long seq = 0;
    bool final = false;
    db_status_t status = db_job_version(api->db, id, owner, version, sizeof version, &seq, &final);
    if (status != DB_OK) {
        api_reply_not_ok(req, status, "job");
        return;
    }
    if (http_stream_begin(req, "text/event-stream", "X-Accel-Buffering: no\r\n") != 0 ||
        strcmp(req->method, "HEAD") == 0)
        return; /* HEAD: the headers are the whole answer */
    log_info("job=%s event stream opened by %s", id, call->user->name);
    int64_t start = zclock_mono(), written = start;
    const char *why = "the stream's time is up";
    for (;;) {
        if (strcmp(version, sent) != 0) {
            if (s_send_job(call, id, seq) != 0) {
                why = "the client went away or the database failed";
                break;
            }
            snprintf(sent, sizeof sent, "%s", version);
            written = zclock_mono();
        }
        if (final) {
            static const char end[] = "{\"reason\":\"the job has ended\"}";
            (void)s_send(req, -1, "end", end, sizeof end - 1);
            why = "the job has ended";
            break;
        }
        if (s_stopping(api)) {
            why = "the frontend is stopping";
            break;
        }
        int64_t now = zclock_mono();
        if (now - start >= JOB_STREAM_MAX_MS)
            break;
        if (now - written >= JOB_STREAM_KEEPALIVE_MS) {
            if (http_stream_write(req, ": keep-alive\n\n", 14) != 0) {
                why = "the client went away";
                break;
            }
            written = now;
        }
        zclock_sleep(JOB_STREAM_POLL_MS);
        status = db_job_version(api->db, id, owner, version, sizeof version, &seq, &final);
        if (status != DB_OK) {
            static const char lost[] = "{\"detail\":\"the job cannot be read right now\"}";
            (void)s_send(req, -1, "error", lost, sizeof lost - 1);
            why = "the database failed";
            break;
        }
    }
    log_info("job=%s event stream closed after %llds: %s", id,
             (long long)((zclock_mono() - start) / 1000), why);
}

void
job_stream_serve(api_call_t *call)
{
    api_t *api = call->api;
    const char *id = route_text(call->route, "id");
    int active = __atomic_add_fetch(&api->streams_active, 1, __ATOMIC_ACQ_REL);
    if (s_stopping(api)) {
        api_reply_unavailable(call->req, "an event stream");
    } else if (active > api->streams_max) {
        log_warn("job=%s event stream refused: %d streams run (http/event_streams)", id,
                 api->streams_max);
        http_reply_problem(call->req, 503, API_RETRY_AFTER,
                           "too many event streams are open; retry later or poll the job");
    } else {
        s_stream(call, id);
    }
    __atomic_sub_fetch(&api->streams_active, 1, __ATOMIC_ACQ_REL);
}
