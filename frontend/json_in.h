/*
 * json_in.h - a strict, bounded JSON parser (RFC 8259) for request bodies.
 *
 * The whole text is parsed into a tree before anything uses it. Refused, with a sentence for
 * the client: invalid UTF-8 (the text, and every \u escape: no lone surrogates), \u0000,
 * control characters in strings, duplicate keys in an object, nesting deeper than max_depth,
 * more than max_values values in all, anything after the value but whitespace, and every
 * extension (comments, NaN, trailing commas, single quotes, leading zeros). Numbers keep their
 * text; integers within the range of long long are also decoded.
 *
 * Written here rather than taking json-glib because request bodies are small and few, and a
 * parser that enforces every limit above in a few hundred lines is easier to trust (and fuzz)
 * than a general library's configuration.
 *
 * Pure: a function over a buffer (no civetweb, no global state; UTF-8 by common/utf8.h). Unit
 * tests: tests/unit/test_json_in.c; fuzz target: fuzz/fuzz_json_in.c.
 */
#ifndef PROFAI_FRONTEND_JSON_IN_H
#define PROFAI_FRONTEND_JSON_IN_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    JSON_IN_NULL,
    JSON_IN_BOOL,
    JSON_IN_NUMBER,
    JSON_IN_STRING,
    JSON_IN_ARRAY,
    JSON_IN_OBJECT
} json_in_type_t;

typedef struct json_in_value_t json_in_value_t;

/* One parsed value (plain data, owned by its json_in_doc_t). */
struct json_in_value_t {
    json_in_type_t type;
    bool boolean;           /* BOOL */
    bool is_integer;        /* NUMBER without fraction or exponent, within long long */
    long long integer;      /* when is_integer */
    const char *text;       /* STRING: decoded UTF-8, NUL-terminated; NUMBER: its text */
    size_t len;             /* length of text */
    size_t count;           /* ARRAY, OBJECT: number of members */
    const char **keys;      /* OBJECT: count keys (decoded, NUL-terminated, distinct) */
    json_in_value_t *items; /* ARRAY, OBJECT: count values (of the keys, in order) */
};

typedef struct {
    int max_depth;     /* nesting of arrays and objects; 1 = a flat object */
    size_t max_values; /* values in the whole text (every member counts) */
} json_in_limits_t;

typedef struct json_in_doc_t json_in_doc_t;

/* Parse len bytes of text. NULL when the text is not acceptable JSON (or out of memory), with
 * a sentence for the client in err. */
json_in_doc_t *json_in_parse(const char *text, size_t len, const json_in_limits_t *limits,
                             char *err, size_t err_size);
void json_in_free(json_in_doc_t **doc_p);

/* The top-level value (borrowed, valid until json_in_free). */
const json_in_value_t *json_in_root(const json_in_doc_t *doc);

/* An object's member by key, or NULL (also when value is not an object). */
const json_in_value_t *json_in_member(const json_in_value_t *object, const char *key);

#endif
