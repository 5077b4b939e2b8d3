/*
 * request_json.h - reading a JSON request body (docs/api.md section 1): the one reader of the
 * quiz attempt, the class and the account requests. The body's media type was checked by the route
 * table; its size (64 KiB), read time (http/body_timeout), depth and number of values are
 * bounded here, and it is parsed strictly by json_in.h.
 */
#ifndef PROFAI_FRONTEND_REQUEST_JSON_H
#define PROFAI_FRONTEND_REQUEST_JSON_H

#include "api.h"
#include "http.h"
#include "json_in.h"

/* Largest JSON request body. */
#define REQUEST_JSON_MAX (64 * 1024)

/* Read and parse req's body. Returns the document (caller owns it: json_in_free), or NULL
 * with the answer (400, 408, 413 or 503) already sent. */
json_in_doc_t *request_json_read(api_t *api, http_request_t *req);

/* request_json_read with tighter bounds: at most max_bytes, max_depth levels, max_values. */
json_in_doc_t *request_json_read_limited(api_t *api, http_request_t *req, long long max_bytes,
                                         int max_depth, size_t max_values);

/* The text member `key` of object as UTF-8 without control characters, 1..max bytes: true
 * with *text (borrowed from the document) and *len; false with a 400 sent naming key. */
bool request_json_text(http_request_t *req, const json_in_value_t *object, const char *key,
                       size_t max, const char **text, size_t *len);

/* Whether object is a JSON object whose members are all among the NULL-terminated keys;
 * false with a 400 sent. */
bool request_json_only(http_request_t *req, const json_in_value_t *object, const char *const *keys);

#endif
