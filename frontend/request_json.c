/* request_json.c - see request_json.h. */
#include "request_json.h"

#include "api_common.h"
#include "routes.h"

#include <string.h>

/* How deep and big a request body may be. */
#define REQUEST_JSON_DEPTH_MAX 8
#define REQUEST_JSON_VALUES_MAX 4096

json_in_doc_t *
request_json_read(api_t *api, http_request_t *req)
{
    return request_json_read_limited(api, req, REQUEST_JSON_MAX, REQUEST_JSON_DEPTH_MAX,
                                     REQUEST_JSON_VALUES_MAX);
}

json_in_doc_t *
request_json_read_limited(api_t *api, http_request_t *req, long long max_bytes, int max_depth,
                          size_t max_values)
{
    long long length = http_content_length(req);
    if (length > max_bytes) {
        http_close_after(req);
        http_reply_problem(req, 413, NULL, "the body is larger than %lld bytes", max_bytes);
        return NULL;
    }
    if (http_send_continue(req) != 0)
        return NULL;
    http_body_begin(req, api->body_timeout_ms);
    http_buf_t body = {.max = (size_t)max_bytes};
    http_body_status_t status = http_body_read_all(req, &body);
    json_in_doc_t *doc = NULL;
    char err[256];
    switch (status) {
    case HTTP_BODY_OK: {
        json_in_limits_t limits = {.max_depth = max_depth, .max_values = max_values};
        doc = json_in_parse((const char *)body.data, body.len, &limits, err, sizeof err);
        if (doc == NULL)
            http_reply_problem(req, 400, NULL, "%s", err);
        break;
    }
    case HTTP_BODY_TOO_LARGE:
        http_close_after(req);
        http_reply_problem(req, 413, NULL, "the body is larger than %lld bytes", max_bytes);
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

bool
request_json_only(http_request_t *req, const json_in_value_t *object, const char *const *keys)
{
    if (object == NULL || object->type != JSON_IN_OBJECT) {
        http_reply_problem(req, 400, NULL, "the body must be a JSON object");
        return false;
    }
    for (size_t i = 0; i < object->count; i++) {
        bool known = false;
        for (size_t k = 0; !known && keys[k] != NULL; k++)
            known = strcmp(object->keys[i], keys[k]) == 0;
        if (!known) {
            http_reply_problem(req, 400, NULL, "unknown member \"%.64s\"", object->keys[i]);
            return false;
        }
    }
    return true;
}

bool
request_json_text(http_request_t *req, const json_in_value_t *object, const char *key, size_t max,
                  const char **text, size_t *len)
{
    const json_in_value_t *v = json_in_member(object, key);
    if (v == NULL || v->type != JSON_IN_STRING || v->len == 0 ||
        !route_text_ok(v->text, v->len, max)) {
        http_reply_problem(req, 400, NULL,
                           "%s must be UTF-8 text of 1 to %zu bytes without control characters",
                           key, max);
        return false;
    }
    *text = v->text;
    *len = v->len;
    return true;
}
