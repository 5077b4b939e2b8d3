/* http_path.c - see http_path.h. */
#include "http_path.h"

#include "utf8.h"

#include <stdbool.h>
#include <string.h>

static int
s_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The characters a path may hold unescaped: RFC 3986 pchar (without '%') and '/'. */
static bool
s_path_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-._~!$&'()*+,;=:@/", c) != NULL);
}

/* Whether the decoded path has a "." or ".." segment, or an empty one before its end ("//"). */
static const char *
s_path_segments_bad(const char *path)
{
    const char *p = path + 1; /* past the leading '/' */
    while (*p != '\0') {
        size_t len = strcspn(p, "/");
        if (len == 0)
            return "the path contains an empty segment (//)";
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return "the path contains a . or .. segment";
        p += len;
        if (*p == '/')
            p++; /* a trailing '/' ends the path: "/app/" is fine */
    }
    return NULL;
}

int
http_path_decode(const char *raw, size_t len, char out[HTTP_PATH_MAX + 1], const char **why)
{
    if (raw == NULL || len == 0 || raw[0] != '/') {
        *why = "the request target must be a path";
        return 400;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c == '%') {
            int hi = i + 1 < len ? s_hex_digit(raw[i + 1]) : -1;
            int lo = hi >= 0 && i + 2 < len ? s_hex_digit(raw[i + 2]) : -1;
            if (lo < 0) {
                *why = "the path contains a malformed %-escape";
                return 400;
            }
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
            if (c == '/' || c == '\\') {
                *why = "the path contains an encoded / or \\";
                return 400;
            }
            if (c < 0x20 || c == 0x7f) {
                *why = "the path contains a NUL or control character";
                return 400;
            }
        } else if (!s_path_char_ok(c)) {
            *why = "the path contains a character that must be %-escaped";
            return 400;
        }
        if (n >= HTTP_PATH_MAX) {
            *why = "no such resource (the path is too long)";
            return 404;
        }
        out[n++] = (char)c;
    }
    out[n] = '\0';
    if (!utf8_valid(out, n)) {
        *why = "the path is not valid UTF-8";
        return 400;
    }
    *why = s_path_segments_bad(out);
    return *why == NULL ? 0 : 400;
}
