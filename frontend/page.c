/* page.c - see page.h. */
#include "page.h"

#include <glib.h>
#include <profai/proto.h>
#include <stdio.h>
#include <string.h>

void
page_cursor_encode(char kind, long long number, const char *id, char *out, size_t size)
{
    char plain[PAGE_CURSOR_MAX + 32];
    int n = snprintf(plain, sizeof plain, "%c:%lld:%s", kind, number, id);
    gchar *b64 = g_base64_encode((const guchar *)plain, n > 0 ? (size_t)n : 0);
    size_t len = 0;
    for (const char *p = b64; p && *p && *p != '=' && len + 1 < size; p++)
        out[len++] = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    out[len] = '\0';
    g_free(b64);
}

/* base64url text into plain (NUL-terminated, no NUL inside); false when it is not. */
static bool
s_decode(const char *text, char *plain, size_t size)
{
    size_t len = strlen(text);
    if (len == 0 || len > PAGE_CURSOR_MAX || len % 4 == 1)
        return false;
    char b64[PAGE_CURSOR_MAX + 4];
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && c != '-' && c != '_')
            return false;
        b64[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    size_t n = len;
    while (n % 4 != 0)
        b64[n++] = '=';
    b64[n] = '\0';
    gsize out_len = 0;
    guchar *data = g_base64_decode(b64, &out_len);
    bool ok = data != NULL && out_len > 0 && out_len < size && memchr(data, 0, out_len) == NULL;
    if (ok) {
        memcpy(plain, data, out_len);
        plain[out_len] = '\0';
    }
    g_free(data);
    return ok;
}

bool
page_cursor_decode(const char *text, char kind, page_cursor_t *cursor)
{
    char plain[PAGE_CURSOR_MAX];
    if (!s_decode(text, plain, sizeof plain) || plain[0] != kind || plain[1] != ':')
        return false;
    const char *digits = plain + 2;
    size_t n = strspn(digits, "0123456789");
    if (n == 0 || n > 18 || digits[n] != ':')
        return false;
    long long v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (digits[i] - '0');
    cursor->kind = kind;
    cursor->number = v;
    snprintf(cursor->id, sizeof cursor->id, "%s", digits + n + 1);
    return true;
}

bool
page_cursor_decode_uuid(const char *text, char kind, page_cursor_t *cursor)
{
    if (!page_cursor_decode(text, kind, cursor))
        return false;
    size_t len = strlen(cursor->id);
    if (len != PROTO_UUID_LEN || !proto_is_uuid(cursor->id, len))
        return false;
    for (size_t i = 0; i < len; i++)
        if (cursor->id[i] >= 'A' && cursor->id[i] <= 'F')
            return false;
    return true;
}

/* Append s to out at *at, percent-encoded unless unreserved (RFC 3986 2.3) when encode. */
static bool
s_append(char *out, size_t size, size_t *at, const char *s, size_t len, bool encode)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = !encode || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                     (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        if (*at + (plain ? 1 : 3) >= size)
            return false;
        if (plain) {
            out[(*at)++] = (char)c;
        } else {
            out[(*at)++] = '%';
            out[(*at)++] = hex[c >> 4];
            out[(*at)++] = hex[c & 15];
        }
    }
    out[*at] = '\0';
    return true;
}

bool
page_next_link(const char *path, const route_result_t *result, const char *next, char *out,
               size_t size)
{
    size_t at = 0;
    if (size == 0 || !s_append(out, size, &at, path, strlen(path), false))
        return false;
    char sep = '?';
    const route_t *route = result->route;
    for (size_t i = 0; i < ROUTE_PARAMS_MAX && route->params[i].type != ROUTE_PARAM_NONE; i++) {
        const route_param_t *param = &route->params[i];
        const route_value_t *value = &result->values[i];
        if (param->type == ROUTE_PARAM_UUID || !value->present ||
            strcmp(param->name, "cursor") == 0)
            continue;
        char number[24];
        const char *text = value->text;
        size_t len = value->len;
        if (param->type == ROUTE_PARAM_INT) {
            len = (size_t)snprintf(number, sizeof number, "%lld", value->number);
            text = number;
        }
        if (!s_append(out, size, &at, &sep, 1, false) ||
            !s_append(out, size, &at, param->name, strlen(param->name), true) ||
            !s_append(out, size, &at, "=", 1, false) || !s_append(out, size, &at, text, len, true))
            return false;
        sep = '&';
    }
    return s_append(out, size, &at, &sep, 1, false) &&
           s_append(out, size, &at, "cursor=", 7, false) &&
           s_append(out, size, &at, next, strlen(next), true);
}
