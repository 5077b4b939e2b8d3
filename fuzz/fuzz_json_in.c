/*
 * fuzz_json_in.c - libFuzzer target for the request-body JSON reader (frontend/json_in.h,
 * docs/security.md "HTTP").
 *
 * Input: byte 0 picks the limits (low nibble + 1: max_depth; high nibble * 8 + 1:
 * max_values), the rest is the text. Checked:
 *   - a refusal has a sentence that starts "invalid JSON at byte" or says the text is not
 *     UTF-8 (any text that is not UTF-8 is refused);
 *   - an accepted tree keeps the limits (depth, number of values); every string and key is
 *     valid UTF-8 without NUL and its len is its strlen; keys of an object are distinct;
 *     a number marked integer reads back with strtoll as the same value;
 *   - the tree written back as JSON (by a writer here) parses to an equal tree under the
 *     same limits: nothing accepted is lost or changed by the parser.
 */
#include "../frontend/json_in.h"
#include "utf8.h"

#include "fuzz_check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *data;
    size_t len, cap;
} s_out_t;

static void
s_put(s_out_t *o, const char *s, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        o->cap = (o->len + n + 1) * 2;
        o->data = realloc(o->data, o->cap);
        FUZZ_CHECK(o->data != NULL);
    }
    memcpy(o->data + o->len, s, n);
    o->len += n;
}

static void
s_put_string(s_out_t *o, const char *s, size_t n)
{
    s_put(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            s_put(o, e, 2);
        } else if (c < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", c);
            s_put(o, e, 6);
        } else {
            s_put(o, (const char *)&s[i], 1);
        }
    }
    s_put(o, "\"", 1);
}

/* Check one value and write it; returns the number of values in it. */
static size_t
s_walk(const json_in_value_t *v, int depth, const json_in_limits_t *limits, s_out_t *o)
{
    size_t values = 1;
    switch (v->type) {
    case JSON_IN_NULL:
        s_put(o, "null", 4);
        break;
    case JSON_IN_BOOL:
        s_put(o, v->boolean ? "true" : "false", v->boolean ? 4 : 5);
        break;
    case JSON_IN_NUMBER:
        FUZZ_CHECK(v->len == strlen(v->text) && v->len > 0);
        if (v->is_integer) {
            errno = 0;
            FUZZ_CHECK(strtoll(v->text, NULL, 10) == v->integer && errno == 0);
            FUZZ_CHECK(strpbrk(v->text, ".eE") == NULL);
        }
        s_put(o, v->text, v->len);
        break;
    case JSON_IN_STRING:
        FUZZ_CHECK(v->len == strlen(v->text));
        FUZZ_CHECK(utf8_valid(v->text, v->len));
        s_put_string(o, v->text, v->len);
        break;
    case JSON_IN_ARRAY:
    case JSON_IN_OBJECT: {
        bool object = v->type == JSON_IN_OBJECT;
        FUZZ_CHECK(depth + 1 <= limits->max_depth);
        s_put(o, object ? "{" : "[", 1);
        for (size_t i = 0; i < v->count; i++) {
            if (i > 0)
                s_put(o, ",", 1);
            if (object) {
                const char *k = v->keys[i];
                FUZZ_CHECK(utf8_valid(k, strlen(k)));
                for (size_t j = 0; j < i; j++)
                    FUZZ_CHECK(strcmp(v->keys[j], k) != 0);
                FUZZ_CHECK(json_in_member(v, k) == &v->items[i]);
                s_put_string(o, k, strlen(k));
                s_put(o, ":", 1);
            }
            values += s_walk(&v->items[i], depth + 1, limits, o);
        }
        s_put(o, object ? "}" : "]", 1);
        break;
    }
    default:
        FUZZ_CHECK(!"unknown type");
    }
    return values;
}

static bool
s_equal(const json_in_value_t *a, const json_in_value_t *b)
{
    if (a->type != b->type || a->boolean != b->boolean || a->is_integer != b->is_integer ||
        a->integer != b->integer || a->len != b->len || a->count != b->count)
        return false;
    if ((a->type == JSON_IN_STRING || a->type == JSON_IN_NUMBER) &&
        memcmp(a->text, b->text, a->len) != 0)
        return false;
    for (size_t i = 0; i < a->count; i++) {
        if (a->type == JSON_IN_OBJECT && strcmp(a->keys[i], b->keys[i]) != 0)
            return false;
        if (!s_equal(&a->items[i], &b->items[i]))
            return false;
    }
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    json_in_limits_t limits = {.max_depth = (data[0] & 15) + 1,
                               .max_values = (size_t)(data[0] >> 4) * 8 + 1};
    data++, size--;
    char *text = malloc(size ? size : 1); /* exactly the text: ASan sees reads past it */
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    char err[256] = "";
    json_in_doc_t *doc = json_in_parse(text, size, &limits, err, sizeof err);
    if (doc == NULL) {
        FUZZ_CHECK(strncmp(err, "invalid JSON at byte ", 21) == 0 ||
                   strcmp(err, "the body is not valid UTF-8") == 0);
        free(text);
        return 0;
    }
    FUZZ_CHECK(utf8_valid(text, size));
    s_out_t o = {0};
    size_t values = s_walk(json_in_root(doc), 0, &limits, &o);
    FUZZ_CHECK(values <= limits.max_values);
    json_in_doc_t *again = json_in_parse(o.data, o.len, &limits, err, sizeof err);
    if (again == NULL)
        fprintf(stderr, "re-parse failed: %s\n", err);
    FUZZ_CHECK(again != NULL);
    FUZZ_CHECK(s_equal(json_in_root(doc), json_in_root(again)));
    json_in_free(&again);
    json_in_free(&doc);
    free(o.data);
    free(text);
    return 0;
}
