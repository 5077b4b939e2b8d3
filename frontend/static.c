/* static.c - see static.h. */
#define _GNU_SOURCE
#include "static.h"

#include <civetweb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Only this origin's own files and API; nothing inline; no plugins, frames, <base> or form
 * posts; Trusted Types with no policy, so the page cannot reach innerHTML-like sinks at all
 * (it builds every node with textContent: docs/web.md). */
#define STATIC_CSP                                                                                 \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; font-src 'none'; media-src 'none'; object-src 'none'; "                   \
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; "                                \
    "require-trusted-types-for 'script'; trusted-types 'none'"

/* Headers every answer of this module carries. */
#define STATIC_SECURITY_HEADERS                                                                    \
    "Content-Security-Policy: " STATIC_CSP "\r\n"                                                  \
    "X-Content-Type-Options: nosniff\r\n"                                                          \
    "Referrer-Policy: no-referrer\r\n"                                                             \
    "X-Frame-Options: DENY\r\n"                                                                    \
    "Cross-Origin-Opener-Policy: same-origin\r\n"                                                  \
    "Cross-Origin-Resource-Policy: same-origin\r\n"                                                \
    "Permissions-Policy: camera=(), microphone=(), geolocation=(), payment=()\r\n"

/* Bodies up to this size go out in the same write as the headers (one TCP segment train). */
#define STATIC_ONE_WRITE_MAX (256 * 1024)

#define STATIC_HEAD_MAX 2048

const static_asset_t *
static_find(const char *path)
{
    if (path == NULL)
        return NULL;
    for (size_t i = 0; i < static_assets_count; i++)
        if (strcmp(static_assets[i].path, path) == 0)
            return &static_assets[i];
    return NULL;
}

/* Whether the comma-separated list `list` holds `token` (case-insensitive). */
static bool
s_has_token(const char *list, const char *token)
{
    size_t len = strlen(token);
    const char *p = list;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *end = p;
        while (*end != '\0' && *end != ',' && *end != ' ' && *end != '\t')
            end++;
        if ((size_t)(end - p) == len && strncasecmp(p, token, len) == 0)
            return true;
        p = end;
    }
    return false;
}

/* Keep the connection open after the answer? Not when the client sent a body (it is not
 * read here, and civetweb cannot reuse a connection with unread bytes), not when it asked to
 * close, and by default only for HTTP/1.1 (as http.c decides for the API). */
static bool
s_keep_alive(struct mg_connection *conn)
{
    const struct mg_request_info *ri = mg_get_request_info(conn);
    if (ri->content_length > 0 || mg_get_header(conn, "Transfer-Encoding") != NULL)
        return false;
    const char *connection = mg_get_header(conn, "Connection");
    if (connection != NULL) {
        if (s_has_token(connection, "close"))
            return false;
        if (s_has_token(connection, "keep-alive"))
            return true;
    }
    return ri->http_version != NULL && strcmp(ri->http_version, "1.1") == 0;
}

/* Whether If-None-Match (a list of entity tags, or "*") matches etag. RFC 9110 13.1.2 uses
 * the weak comparison: a W/ prefix is ignored. A malformed member matches nothing. */
static bool
s_etag_matches(const char *header, const char *etag)
{
    size_t etag_len = strlen(etag);
    const char *p = header;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (*p != '"') {
            p = strchr(p, ',');
            if (p == NULL)
                return false;
            continue;
        }
        const char *end = strchr(p + 1, '"');
        if (end == NULL)
            return false;
        size_t len = (size_t)(end + 1 - p);
        if (len == etag_len && memcmp(p, etag, len) == 0)
            return true;
        p = end + 1;
    }
    return false;
}

static void
s_http_date(char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, size, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Write head and body (body may be NULL) to conn, in one write when small enough. */
static void
s_send(struct mg_connection *conn, const char *head, size_t head_len, const void *body,
       size_t body_len)
{
    if (body == NULL || body_len == 0) {
        mg_write(conn, head, head_len);
        return;
    }
    if (body_len <= STATIC_ONE_WRITE_MAX) {
        char *all = malloc(head_len + body_len);
        if (all != NULL) {
            memcpy(all, head, head_len);
            memcpy(all + head_len, body, body_len);
            mg_write(conn, all, head_len + body_len);
            free(all);
            return;
        }
    }
    if (mg_write(conn, head, head_len) == (int)head_len)
        mg_write(conn, body, body_len);
}

/* 405: the asset exists, but only for GET and HEAD. */
static int
s_reply_method_not_allowed(struct mg_connection *conn, bool keep, const char *date,
                           const char *extra)
{
    static const char body[] = "{\"type\":\"urn:profai:problem:method-not-allowed\","
                               "\"title\":\"Method Not Allowed\",\"status\":405,"
                               "\"detail\":\"only GET and HEAD are allowed here\"}";
    char head[STATIC_HEAD_MAX];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 405 Method Not Allowed\r\n"
                     "Date: %s\r\n"
                     "Allow: GET, HEAD\r\n"
                     "Content-Type: application/problem+json\r\n"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n" STATIC_SECURITY_HEADERS "%s"
                     "Connection: %s\r\n"
                     "\r\n",
                     date, sizeof body - 1, extra, keep ? "keep-alive" : "close");
    if (n > 0 && (size_t)n < sizeof head)
        s_send(conn, head, (size_t)n, body, sizeof body - 1);
    return 405;
}

/* 200 with the file, or 304 when the client's copy is current. */
static int
s_reply_asset(struct mg_connection *conn, const static_asset_t *asset, bool head_only, bool keep,
              const char *date, const char *extra)
{
    const char *inm = mg_get_header(conn, "If-None-Match");
    bool not_modified = inm != NULL && s_etag_matches(inm, asset->etag);
    char length[48] = "";
    if (!not_modified)
        snprintf(length, sizeof length, "Content-Length: %zu\r\n", asset->len);

    char head[STATIC_HEAD_MAX];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\n"
                     "Date: %s\r\n"
                     "Content-Type: %s\r\n"
                     "%s"
                     "ETag: %s\r\n"
                     "Cache-Control: no-cache\r\n" STATIC_SECURITY_HEADERS "%s"
                     "Connection: %s\r\n"
                     "\r\n",
                     not_modified ? "304 Not Modified" : "200 OK", date, asset->content_type,
                     length, asset->etag, extra, keep ? "keep-alive" : "close");
    if (n <= 0 || (size_t)n >= sizeof head)
        return 500;
    bool with_body = !not_modified && !head_only;
    s_send(conn, head, (size_t)n, with_body ? asset->data : NULL, with_body ? asset->len : 0);
    return not_modified ? 304 : 200;
}

int
static_serve_status(struct mg_connection *conn, const char *path, int *status)
{
    return static_serve_with(conn, path, NULL, status);
}

int
static_serve_with(struct mg_connection *conn, const char *path, const char *headers, int *status)
{
    const char *extra = headers ? headers : "";
    const static_asset_t *asset = static_find(path);
    if (conn == NULL || asset == NULL)
        return 0;
    const char *method = mg_get_request_info(conn)->request_method;
    bool get = method != NULL && strcmp(method, "GET") == 0;
    bool head = method != NULL && strcmp(method, "HEAD") == 0;

    bool keep = s_keep_alive(conn);
    if (!keep)
        mg_disable_keep_alive(conn);
    char date[64];
    s_http_date(date, sizeof date);

    int sent;
    if (get || head)
        sent = s_reply_asset(conn, asset, head, keep, date, extra);
    else
        sent = s_reply_method_not_allowed(conn, keep, date, extra);
    if (status != NULL)
        *status = sent;
    return 1;
}

int
static_serve(struct mg_connection *conn, const char *path)
{
    return static_serve_status(conn, path, NULL);
}
