/* json_in.c - see json_in.h. */
#include "json_in.h"

#include "utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct json_in_doc_t {
    json_in_value_t root;
};

typedef struct {
    const char *start;
    const char *p;
    const char *end;
    int depth;
    size_t values;
    json_in_limits_t limits;
    char *err;
    size_t err_size;
    bool failed;
} s_parser_t;

static int s_fail(s_parser_t *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record the first error (with its byte offset) and return -1. */
static int
s_fail(s_parser_t *ps, const char *fmt, ...)
{
    if (ps->failed)
        return -1;
    ps->failed = true;
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(ps->err, ps->err_size, "invalid JSON at byte %zu: %s", (size_t)(ps->p - ps->start),
             what);
    return -1;
}

static void
s_value_clear(json_in_value_t *v)
{
    if (v->type == JSON_IN_STRING || v->type == JSON_IN_NUMBER)
        free((char *)v->text);
    if (v->type == JSON_IN_ARRAY || v->type == JSON_IN_OBJECT) {
        for (size_t i = 0; i < v->count; i++) {
            s_value_clear(&v->items[i]);
            if (v->keys != NULL)
                free((char *)v->keys[i]);
        }
        free(v->items);
        free(v->keys);
    }
    memset(v, 0, sizeof *v);
}

static void
s_skip_space(s_parser_t *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static bool
s_literal(s_parser_t *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    ps->p += n;
    return true;
}

static int
s_hex4(s_parser_t *ps, unsigned *out)
{
    if (ps->end - ps->p < 4)
        return s_fail(ps, "a \\u escape needs four hex digits");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *ps->p++;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return s_fail(ps, "a \\u escape needs four hex digits");
    }
    *out = v;
    return 0;
}

/* One \u escape (after the backslash and 'u'), with its low surrogate when it is a high one. */
static int
s_unicode_escape(s_parser_t *ps, unsigned *cp)
{
    unsigned hi;
    if (s_hex4(ps, &hi) != 0)
        return -1;
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return s_fail(ps, "a lone low surrogate in a \\u escape");
    if (hi >= 0xd800 && hi <= 0xdbff) {
        unsigned lo;
        if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
            return s_fail(ps, "a high surrogate without its low surrogate");
        ps->p += 2;
        if (s_hex4(ps, &lo) != 0)
            return -1;
        if (lo < 0xdc00 || lo > 0xdfff)
            return s_fail(ps, "a high surrogate without its low surrogate");
        hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
    }
    if (hi == 0)
        return s_fail(ps, "\\u0000 is not accepted");
    *cp = hi;
    return 0;
}

/* A string (at the opening quote) decoded into a new heap buffer. The input was checked to be
 * valid UTF-8 as a whole, and a decoded string is never longer than its encoded form. */
static int
s_string(s_parser_t *ps, char **out, size_t *out_len)
{
    ps->p++; /* the opening quote */
    const char *q = ps->p;
    while (q < ps->end && *q != '"') {
        if (*q == '\\' && q + 1 < ps->end)
            q++;
        q++;
    }
    if (q >= ps->end)
        return s_fail(ps, "a string without its closing quote");
    char *buf = malloc((size_t)(q - ps->p) + 1);
    if (buf == NULL)
        return s_fail(ps, "out of memory");
    size_t n = 0;
    while (*ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20) {
            free(buf);
            return s_fail(ps, "a control character inside a string");
        }
        if (c != '\\') {
            buf[n++] = (char)c;
            ps->p++;
            continue;
        }
        ps->p++;
        char e = *ps->p++;
        unsigned cp = 0;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            buf[n++] = e;
            break;
        case 'b':
            buf[n++] = '\b';
            break;
        case 'f':
            buf[n++] = '\f';
            break;
        case 'n':
            buf[n++] = '\n';
            break;
        case 'r':
            buf[n++] = '\r';
            break;
        case 't':
            buf[n++] = '\t';
            break;
        case 'u':
            /* "\uXXXX" is 6 bytes, its UTF-8 at most 3; a surrogate pair is 12 for 4. */
            if (s_unicode_escape(ps, &cp) != 0) {
                free(buf);
                return -1;
            }
            n += utf8_encode(cp, buf + n);
            break;
        default:
            ps->p--;
            free(buf);
            return s_fail(ps, "an unknown escape in a string");
        }
    }
    ps->p++; /* the closing quote */
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return 0;
}

static bool
s_digit(const s_parser_t *ps)
{
    return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

static int
s_number(s_parser_t *ps, json_in_value_t *v)
{
    const char *begin = ps->p;
    bool integer = true;
    if (*ps->p == '-')
        ps->p++;
    if (!s_digit(ps))
        return s_fail(ps, "a number needs digits");
    if (*ps->p == '0') {
        ps->p++;
        if (s_digit(ps))
            return s_fail(ps, "a number may not start with 0");
    } else {
        while (s_digit(ps))
            ps->p++;
    }
    if (ps->p < ps->end && *ps->p == '.') {
        integer = false;
        ps->p++;
        if (!s_digit(ps))
            return s_fail(ps, "a fraction needs digits");
        while (s_digit(ps))
            ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        integer = false;
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (!s_digit(ps))
            return s_fail(ps, "an exponent needs digits");
        while (s_digit(ps))
            ps->p++;
    }
    size_t len = (size_t)(ps->p - begin);
    char *text = malloc(len + 1);
    if (text == NULL)
        return s_fail(ps, "out of memory");
    memcpy(text, begin, len);
    text[len] = '\0';
    v->type = JSON_IN_NUMBER;
    v->text = text;
    v->len = len;
    if (integer) {
        errno = 0;
        long long n = strtoll(text, NULL, 10);
        if (errno == 0) {
            v->is_integer = true;
            v->integer = n;
        }
    }
    return 0;
}

static int s_value(s_parser_t *ps, json_in_value_t *v);

/* Make room for one more member of a container being built. */
static int
s_grow(s_parser_t *ps, json_in_value_t *v, size_t *cap, bool keyed)
{
    if (v->count < *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 8;
    json_in_value_t *items = realloc(v->items, n * sizeof *items);
    if (items == NULL)
        return s_fail(ps, "out of memory");
    v->items = items;
    if (keyed) {
        const char **keys = realloc(v->keys, n * sizeof *keys);
        if (keys == NULL)
            return s_fail(ps, "out of memory");
        v->keys = keys;
    }
    *cap = n;
    return 0;
}

/* An array or object (at its opening bracket). */
static int
s_container(s_parser_t *ps, json_in_value_t *v, bool object)
{
    if (++ps->depth > ps->limits.max_depth)
        return s_fail(ps, "nested deeper than %d levels", ps->limits.max_depth);
    v->type = object ? JSON_IN_OBJECT : JSON_IN_ARRAY;
    char close = object ? '}' : ']';
    size_t cap = 0;
    ps->p++;
    s_skip_space(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return 0;
    }
    for (;;) {
        if (s_grow(ps, v, &cap, object) != 0)
            return -1;
        char *key = NULL;
        if (object) {
            s_skip_space(ps);
            size_t key_len;
            if (ps->p >= ps->end || *ps->p != '"')
                return s_fail(ps, "an object key must be a string");
            if (s_string(ps, &key, &key_len) != 0)
                return -1;
            for (size_t i = 0; i < v->count; i++) {
                if (strcmp(v->keys[i], key) == 0) {
                    free(key);
                    return s_fail(ps, "the key \"%.64s\" appears twice", v->keys[i]);
                }
            }
            s_skip_space(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(key);
                return s_fail(ps, "a ':' must follow an object key");
            }
            ps->p++;
            v->keys[v->count] = key;
        }
        memset(&v->items[v->count], 0, sizeof v->items[0]);
        v->count++; /* counted now, so that a failure below frees the key */
        if (s_value(ps, &v->items[v->count - 1]) != 0)
            return -1;
        s_skip_space(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            ps->depth--;
            return 0;
        }
        return s_fail(ps, "expected ',' or '%c'", close);
    }
}

static int
s_value(s_parser_t *ps, json_in_value_t *v)
{
    if (++ps->values > ps->limits.max_values)
        return s_fail(ps, "more than %zu values", ps->limits.max_values);
    s_skip_space(ps);
    if (ps->p >= ps->end)
        return s_fail(ps, "a value is missing");
    switch (*ps->p) {
    case '{':
        return s_container(ps, v, true);
    case '[':
        return s_container(ps, v, false);
    case '"': {
        char *s = NULL;
        size_t len = 0;
        if (s_string(ps, &s, &len) != 0)
            return -1;
        v->type = JSON_IN_STRING;
        v->text = s;
        v->len = len;
        return 0;
    }
    case 't':
    case 'f':
    case 'n':
        if (s_literal(ps, "true")) {
            v->type = JSON_IN_BOOL;
            v->boolean = true;
            return 0;
        }
        if (s_literal(ps, "false")) {
            v->type = JSON_IN_BOOL;
            return 0;
        }
        if (s_literal(ps, "null")) {
            v->type = JSON_IN_NULL;
            return 0;
        }
        return s_fail(ps, "an unknown word");
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return s_number(ps, v);
        return s_fail(ps, "an unexpected character");
    }
}

json_in_doc_t *
json_in_parse(const char *text, size_t len, const json_in_limits_t *limits, char *err,
              size_t err_size)
{
    if (!utf8_valid(text, len)) {
        snprintf(err, err_size, "the body is not valid UTF-8");
        return NULL;
    }
    json_in_doc_t *doc = calloc(1, sizeof *doc);
    if (doc == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    s_parser_t ps = {.start = text,
                     .p = text,
                     .end = text + len,
                     .limits = *limits,
                     .err = err,
                     .err_size = err_size};
    if (s_value(&ps, &doc->root) == 0) {
        s_skip_space(&ps);
        if (ps.p != ps.end)
            s_fail(&ps, "text after the value");
    }
    if (ps.failed) {
        json_in_free(&doc);
        return NULL;
    }
    return doc;
}

void
json_in_free(json_in_doc_t **doc_p)
{
    if (doc_p == NULL || *doc_p == NULL)
        return;
    s_value_clear(&(*doc_p)->root);
    free(*doc_p);
    *doc_p = NULL;
}

const json_in_value_t *
json_in_root(const json_in_doc_t *doc)
{
    return &doc->root;
}

const json_in_value_t *
json_in_member(const json_in_value_t *object, const char *key)
{
    if (object == NULL || object->type != JSON_IN_OBJECT)
        return NULL;
    for (size_t i = 0; i < object->count; i++)
        if (strcmp(object->keys[i], key) == 0)
            return &object->items[i];
    return NULL;
}
