/*
 * http_reply.c - answers: the one reply of a request (status line, framing, keep-alive
 * decision, body), JSON answers, RFC 9457 problem documents and "100 Continue".
 *
 * Large answers to slow readers: civetweb's mg_write returns only when the whole buffer is
 * with the kernel, restarting its request_timeout at every partial write, and a signal does
 * not end it (it polls again after EINTR). So an answer over HTTP_SEND_WATCH_MIN goes out in
 * HTTP_SEND_PIECE pieces, and between pieces the transfer is held against the minimum rate
 * (http_watch_due, from the start of the reply, after the grace period); a client behind it is
 * cut (logged, connection closed). A piece to a client that takes nothing returns after
 * request_timeout_ms; one to a client that trickles can last longer, so a piece is small.
 */
#define _GNU_SOURCE /* asprintf, strcasestr */
#include "http_internal.h"
#include "json.h"
#include "log.h"

#include <civetweb.h>
#include <czmq.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Answers up to this size go out in one write together with their headers. */
#define HTTP_ONE_WRITE_MAX (16 * 1024)
/* Answers larger than this are held to the minimum rate: the kernel's socket buffers take
 * smaller ones whole, however slowly the client reads. */
#define HTTP_SEND_WATCH_MIN (256 * 1024)
/* The pieces of an answer held to the minimum rate. */
#define HTTP_SEND_PIECE (8 * 1024)

/* Whether `list` (a comma-separated header value) holds `token`, case-insensitively. */
static bool
s_has_token(const char *list, const char *token)
{
    size_t n = strlen(token);
    const char *p = list;
    while (*p != '\0') {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        size_t trimmed = len;
        while (trimmed > 0 && (p[trimmed - 1] == ' ' || p[trimmed - 1] == '\t'))
            trimmed--;
        if (trimmed == n && strncasecmp(p, token, n) == 0)
            return true;
        p += len;
    }
    return false;
}

/* Mirrors civetweb's own keep-alive decision, plus our reasons to close. */
static bool
s_keep_alive(http_request_t *req)
{
    if (req->close || !req->body_done)
        return false;
    const char *connection = http_header(req, "Connection");
    if (connection != NULL)
        return s_has_token(connection, "keep-alive");
    const char *version = mg_get_request_info(req->conn)->http_version;
    return version != NULL && strcmp(version, "1.1") == 0;
}

void
http_close_after(http_request_t *req)
{
    req->close = true;
}

/* Write the body of a large answer in pieces, held to the minimum rate from start_ms. */
static int
s_write_paced(http_request_t *req, const uint8_t *body, size_t len, int64_t start_ms)
{
    const http_config_t *cfg = &req->server->cfg;
    size_t sent = 0;
    while (sent < len) {
        http_limit_t limit;
        int64_t due = http_watch_due(cfg->min_rate, cfg->min_rate_grace_ms, INT64_MAX, start_ms,
                                     sent, &limit);
        if (zclock_mono() >= due) {
            char logged[160];
            http_log_safe(req->path, logged, sizeof logged);
            log_warn("%s %s: the client took the answer slower than %lld bytes per second: "
                     "connection cut",
                     req->method, logged, cfg->min_rate);
            return -1;
        }
        size_t piece = len - sent < HTTP_SEND_PIECE ? len - sent : HTTP_SEND_PIECE;
        if (mg_write(req->conn, body + sent, piece) != (int)piece)
            return -1;
        sent += piece;
    }
    return 0;
}

int
http_reply(http_request_t *req, int status, const char *content_type, const char *headers,
           const void *body, size_t len)
{
    if (req->status != 0)
        return -1;
    req->status = status;
    if (http_body_disarm(req)) /* a body deadline fired: the connection cannot be reused */
        req->close = true;
    bool keep = s_keep_alive(req);
    if (!keep)
        mg_disable_keep_alive(req->conn);

    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);

    /* 204 and 304 have no content (RFC 9110 8.6, 15.4.5): no Content-Type or Content-Length. */
    bool no_content = status == 204 || status == 304;
    size_t body_len = req->head || no_content ? 0 : len;
    char framing[256] = "";
    if (!no_content)
        snprintf(framing, sizeof framing, "Content-Type: %s\r\nContent-Length: %zu\r\n",
                 content_type, len);
    /* Nothing may be cached unless the handler says otherwise (an ETag answer). */
    const char *cache = headers != NULL && strcasestr(headers, "Cache-Control:") != NULL
                            ? ""
                            : "Cache-Control: no-store\r\n";
    char *head = NULL;
    int n = asprintf(&head,
                     "HTTP/1.1 %d %s\r\n"
                     "Date: %s\r\n"
                     "%s%s"
                     "X-Content-Type-Options: nosniff\r\n"
                     "X-Request-Id: %s\r\n"
                     "Connection: %s\r\n"
                     "%s"
                     "\r\n",
                     status, mg_get_response_code_text(req->conn, status), date, framing, cache,
                     req->request_id, keep ? "keep-alive" : "close", headers ? headers : "");
    if (n < 0)
        return -1;
    int rc = 0;
    if (body_len > 0 && body_len <= HTTP_ONE_WRITE_MAX) {
        char *all = realloc(head, (size_t)n + body_len);
        if (all == NULL) {
            free(head);
            return -1;
        }
        head = all;
        memcpy(head + n, body, body_len);
        rc =
            mg_write(req->conn, head, (size_t)n + body_len) == (int)((size_t)n + body_len) ? 0 : -1;
    } else {
        int64_t start_ms = zclock_mono();
        rc = mg_write(req->conn, head, (size_t)n) == n ? 0 : -1;
        if (rc == 0 && body_len > HTTP_SEND_WATCH_MIN && req->server->cfg.min_rate > 0)
            rc = s_write_paced(req, body, body_len, start_ms);
        else if (rc == 0 && body_len > 0)
            rc = mg_write(req->conn, body, body_len) == (int)body_len ? 0 : -1;
        if (rc != 0)
            mg_disable_keep_alive(req->conn); /* the answer is cut: so is the connection */
    }
    free(head);
    return rc;
}

int
http_stream_begin(http_request_t *req, const char *content_type, const char *headers)
{
    if (req->status != 0)
        return -1;
    req->status = 200;
    req->close = true;
    mg_disable_keep_alive(req->conn);
    char *head = NULL;
    int n = asprintf(&head,
                     "HTTP/1.1 200 OK\r\n"
                     "Content-Type: %s\r\n"
                     "Cache-Control: no-store\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "X-Request-Id: %s\r\n"
                     "Connection: close\r\n"
                     "%s"
                     "\r\n",
                     content_type, req->request_id, headers ? headers : "");
    if (n < 0)
        return -1;
    int rc = mg_write(req->conn, head, (size_t)n) == n ? 0 : -1;
    free(head);
    return rc;
}

int
http_stream_write(http_request_t *req, const void *data, size_t len)
{
    if (req->head)
        return 0;
    return mg_write(req->conn, data, len) == (int)len ? 0 : -1;
}

int
http_reply_json(http_request_t *req, int status, const char *headers, const char *json, size_t len)
{
    return http_reply(req, status, "application/json; charset=utf-8", headers, json, len);
}

static const char *
s_problem_kind(int status)
{
    switch (status) {
    case 400:
        return "bad-request";
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "not-found";
    case 405:
        return "method-not-allowed";
    case 408:
        return "request-timeout";
    case 413:
        return "payload-too-large";
    case 415:
        return "unsupported-media-type";
    case 409:
        return "conflict";
    case 422:
        return "unprocessable-content";
    case 429:
        return "too-many-requests";
    case 431:
        return "request-header-fields-too-large";
    case 503:
        return "unavailable";
    default:
        return "internal";
    }
}

int
http_reply_problem(http_request_t *req, int status, const char *headers, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);

    char type[64];
    snprintf(type, sizeof type, "urn:profai:problem:%s", s_problem_kind(status));
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "type");
    json_cstring(&j, type);
    json_key(&j, "title");
    json_cstring(&j, mg_get_response_code_text(req->conn, status));
    json_key(&j, "status");
    json_int(&j, status);
    json_key(&j, "detail");
    json_cstring(&j, detail);
    json_object_end(&j);
    int rc;
    if (json_failed(&j))
        rc = http_reply(req, status, "application/problem+json", headers, "{}", 2);
    else
        rc = http_reply(req, status, "application/problem+json", headers, j.data, j.len);
    json_free(&j);
    return rc;
}

int
http_send_continue(http_request_t *req)
{
    if (req->continued)
        return 0;
    const char *expect = http_header(req, "Expect");
    const char *version = mg_get_request_info(req->conn)->http_version;
    if (expect == NULL || strcasecmp(expect, "100-continue") != 0 || version == NULL ||
        strcmp(version, "1.1") != 0)
        return 0;
    req->continued = true;
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    return mg_write(req->conn, line, sizeof line - 1) == (int)(sizeof line - 1) ? 0 : -1;
}
