/*
 * json.h - a small JSON writer with automatic commas and always-valid UTF-8 output.
 *
 * Usage: json_t j; json_init(&j); json_object_begin(&j); json_key(&j, "a"); json_int(&j, 1);
 * json_object_end(&j); then j.data / j.len (NUL-terminated) unless json_failed(&j).
 * Invalid UTF-8 in strings is replaced by U+FFFD, control characters are escaped, so the
 * output is always valid JSON accepted by PostgreSQL's jsonb (which refuses \u0000: NUL bytes
 * are dropped).
 */
#ifndef PROFAI_JSON_H
#define PROFAI_JSON_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_MAX_DEPTH 32

typedef struct {
    char *data; /* owned; NUL-terminated */
    size_t len;
    size_t cap;
    int depth;
    bool after_key;
    bool need_comma[JSON_MAX_DEPTH + 1];
    bool failed; /* allocation failure or misuse: output unusable */
} json_t;

void json_init(json_t *j);
/* Free the buffer and reset. */
void json_free(json_t *j);
/* Take the buffer (caller frees it with free()); j is reset. */
char *json_steal(json_t *j, size_t *len);
bool json_failed(const json_t *j);

void json_object_begin(json_t *j);
void json_object_end(json_t *j);
void json_array_begin(json_t *j);
void json_array_end(json_t *j);
void json_key(json_t *j, const char *key);
void json_string(json_t *j, const char *s, size_t len);
void json_cstring(json_t *j, const char *s); /* NULL writes null */
void json_int(json_t *j, long long v);
void json_bool(json_t *j, bool v);
void json_null(json_t *j);
/* Insert an already-encoded JSON value verbatim. */
void json_raw(json_t *j, const char *value, size_t len);

/* Insert the members of an already-encoded JSON object (its text, braces included) into the
 * object being written, as if each had been written with json_key and json_raw: a stored
 * document's members after members of our own. Text that is not braces around members makes
 * j failed. */
void json_raw_members(json_t *j, const char *object, size_t len);
/* Append s to j's buffer as an escaped JSON string body (no quotes); used by json_string. */
void json_escape_append(json_t *j, const char *s, size_t len);

#endif
