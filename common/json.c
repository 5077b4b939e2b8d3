/* json.c - see json.h. */
#include "json.h"

#include "strbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
json_init(json_t *j)
{
    memset(j, 0, sizeof *j);
}

void
json_free(json_t *j)
{
    free(j->data);
    json_init(j);
}

char *
json_steal(json_t *j, size_t *len)
{
    char *d = j->data;
    if (len)
        *len = j->len;
    json_init(j);
    return d;
}

bool
json_failed(const json_t *j)
{
    return j->failed;
}

static void
s_append(json_t *j, const char *s, size_t n)
{
    if (j->failed)
        return;
    /* The growth rule of every growable buffer (strbuf.h). */
    if (n > SIZE_MAX / 4 - j->len ||
        array_grow((void **)&j->data, &j->cap, j->len + n + 1, 1) != 0) {
        j->failed = true;
        return;
    }
    memcpy(j->data + j->len, s, n);
    j->len += n;
    j->data[j->len] = '\0';
}

/* Called before every value or key: writes the comma that separates it from the previous one. */
static void
s_before_value(json_t *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->need_comma[j->depth])
        s_append(j, ",", 1);
    j->need_comma[j->depth] = true;
}

static void
s_open(json_t *j, char c)
{
    s_before_value(j);
    if (j->depth >= JSON_MAX_DEPTH) {
        j->failed = true;
        return;
    }
    s_append(j, &c, 1);
    j->depth++;
    j->need_comma[j->depth] = false;
}

static void
s_close(json_t *j, char c)
{
    if (j->depth <= 0 || j->after_key) {
        j->failed = true;
        return;
    }
    j->depth--;
    s_append(j, &c, 1);
}

void
json_object_begin(json_t *j)
{
    s_open(j, '{');
}
void
json_object_end(json_t *j)
{
    s_close(j, '}');
}
void
json_array_begin(json_t *j)
{
    s_open(j, '[');
}
void
json_array_end(json_t *j)
{
    s_close(j, ']');
}

void
json_key(json_t *j, const char *key)
{
    s_before_value(j);
    s_append(j, "\"", 1);
    json_escape_append(j, key, strlen(key));
    s_append(j, "\":", 2);
    j->after_key = true;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if invalid. */
static size_t
s_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

void
json_escape_append(json_t *j, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;
    while (i < len) {
        unsigned char c = p[i];
        const char *esc = NULL;
        char buf[8];
        size_t seq = 1;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\t')
            esc = "\\t";
        else if (c == '\r')
            esc = "\\r";
        else if (c == 0)
            esc = "";
        else if (c < 0x20) {
            snprintf(buf, sizeof buf, "\\u%04x", c);
            esc = buf;
        } else if (c >= 0x80) {
            seq = s_utf8_seq(p + i, len - i);
            if (seq == 0) {
                esc = "\xEF\xBF\xBD"; /* U+FFFD */
                seq = 1;
            }
        }
        if (esc == NULL) {
            i += seq;
            run += seq;
            continue;
        }
        s_append(j, (const char *)p + i - run, run);
        run = 0;
        s_append(j, esc, strlen(esc));
        i += seq;
    }
    s_append(j, (const char *)p + i - run, run);
}

void
json_string(json_t *j, const char *s, size_t len)
{
    s_before_value(j);
    s_append(j, "\"", 1);
    json_escape_append(j, s, len);
    s_append(j, "\"", 1);
}

void
json_cstring(json_t *j, const char *s)
{
    if (s == NULL)
        json_null(j);
    else
        json_string(j, s, strlen(s));
}

void
json_int(json_t *j, long long v)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld", v);
    s_before_value(j);
    s_append(j, buf, (size_t)n);
}

void
json_bool(json_t *j, bool v)
{
    s_before_value(j);
    s_append(j, v ? "true" : "false", v ? 4 : 5);
}

void
json_null(json_t *j)
{
    s_before_value(j);
    s_append(j, "null", 4);
}

void
json_raw(json_t *j, const char *value, size_t len)
{
    s_before_value(j);
    s_append(j, value, len);
}

/* JSON's insignificant white space. */
static bool
s_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void
json_raw_members(json_t *j, const char *object, size_t len)
{
    while (len > 0 && s_blank(object[len - 1]))
        len--;
    while (len > 0 && s_blank(object[0])) {
        object++;
        len--;
    }
    if (len < 2 || object[0] != '{' || object[len - 1] != '}' || j->after_key || j->depth <= 0) {
        j->failed = true;
        return;
    }
    object++;
    len -= 2;
    size_t blank = 0;
    while (blank < len && s_blank(object[blank]))
        blank++;
    if (blank == len)
        return; /* {} */
    s_before_value(j);
    s_append(j, object, len);
}
