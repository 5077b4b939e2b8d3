/*
 * http_body.c - the request body reader: a heap buffer capped at its max, an overall deadline
 * and a minimum rate (http_watch.h says how a read blocked on a slow client is woken), and
 * the piecewise reader that uploads stream through (form_upload.c parses forms from it).
 *
 * Every body byte goes through s_body_read, which sizes each mg_read by the client's lead over
 * the minimum rate, so that the bytes the watchdog has not seen yet (those inside a read in
 * progress) never make an honest client late.
 */
#include "http_internal.h"
#include "log.h"

#include <civetweb.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Most bytes asked of civetweb per read (a fast client's reads). */
#define HTTP_READ_CHUNK (64 * 1024)
/* Fewest bytes asked per read however slow the client: a client at the minimum rate sends
 * them in at most HTTP_READ_MIN / min_rate seconds, the tolerance of the rate check. */
#define HTTP_READ_MIN 256
/* First allocation of a body buffer; it doubles from there as data arrives. */
#define HTTP_BUF_INITIAL (64 * 1024)

void
http_buf_free(http_buf_t *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

/* Make room for `want` bytes in total (want <= max + 1), doubling from HTTP_BUF_INITIAL. */
static int
s_buf_reserve(http_buf_t *buf, size_t want)
{
    if (buf->cap >= want)
        return 0;
    size_t cap = buf->cap ? buf->cap : HTTP_BUF_INITIAL;
    while (cap < want)
        cap *= 2;
    if (cap > buf->max + 1)
        cap = buf->max + 1;
    uint8_t *data = realloc(buf->data, cap);
    if (data == NULL)
        return -1;
    buf->data = data;
    buf->cap = cap;
    return 0;
}

static http_body_status_t
s_buf_check(http_buf_t *buf, bool at_end)
{
    if (buf->check == NULL || buf->checked || (!at_end && buf->len < buf->check_at))
        return HTTP_BODY_OK;
    buf->checked = true;
    return buf->check(buf->data, buf->len) ? HTTP_BODY_OK : HTTP_BODY_REJECTED;
}

void
http_body_begin(http_request_t *req, int timeout_ms)
{
    req->deadline_ms = req->started_ms + timeout_ms;
    req->rate_start_ms = zclock_mono();
}

bool
http_body_disarm(http_request_t *req)
{
    bool fired = http_watch_disarm(req->server->watch, req->watch_slot);
    req->watch_slot = -1;
    return fired;
}

/* When the body read misses a limit at its current count, and which. */
static int64_t
s_due(const http_request_t *req, http_limit_t *limit)
{
    const http_config_t *cfg = &req->server->cfg;
    return http_watch_due(cfg->min_rate, cfg->min_rate_grace_ms, req->deadline_ms,
                          req->rate_start_ms, req->body_read, limit);
}

/* Whether the body read is past a limit; if so, req->timeout_why says which. */
static bool
s_past_deadline(http_request_t *req)
{
    /* deadline_ms 0: http_body_begin was not called, no deadline. */
    if (req->deadline_ms == 0)
        return false;
    http_limit_t limit;
    bool past = http_watch_fired(req->server->watch, req->watch_slot, &limit);
    if (!past)
        past = zclock_mono() >= s_due(req, &limit);
    if (past && limit == HTTP_LIMIT_RATE)
        snprintf(req->timeout_why, sizeof req->timeout_why,
                 "the upload arrived slower than %lld bytes per second", req->server->cfg.min_rate);
    else if (past)
        snprintf(req->timeout_why, sizeof req->timeout_why,
                 "the upload did not arrive within %lld ms",
                 (long long)(req->deadline_ms - req->started_ms));
    return past;
}

const char *
http_body_timeout_reason(const http_request_t *req)
{
    return req->timeout_why[0] ? req->timeout_why : "the upload did not arrive in time";
}

/* Read up to size body bytes: > 0 bytes read, 0 at the end of the body, -1 with *status. */
static ssize_t
s_body_read(http_request_t *req, void *buf, size_t size, http_body_status_t *status)
{
    if (req->body_done)
        return 0;
    if (s_past_deadline(req)) {
        *status = HTTP_BODY_TIMEOUT;
        return -1;
    }
    if (req->deadline_ms != 0) {
        http_limit_t limit;
        size_t most = http_watch_read_size(req->server->cfg.min_rate, s_due(req, &limit),
                                           zclock_mono(), HTTP_READ_MIN, HTTP_READ_CHUNK);
        if (size > most)
            size = most;
    }
    int n = mg_read(req->conn, buf, size);
    if (n > 0) {
        req->body_read += (size_t)n;
        http_watch_progress(req->server->watch, req->watch_slot, (size_t)n);
        return n;
    }
    long long length = http_content_length(req);
    if (n == 0 && (length < 0 || req->body_read >= (size_t)length)) {
        req->body_done = true;
        return 0;
    }
    *status = s_past_deadline(req) ? HTTP_BODY_TIMEOUT : HTTP_BODY_IO;
    return -1;
}

/* The watch is armed for the reads only, so that no signal reaches this thread while the
 * handler goes on to slower work (database, broker). */
static void
s_watch_arm(http_request_t *req)
{
    if (req->deadline_ms != 0 && req->watch_slot < 0 && !req->body_done) {
        req->watch_slot = http_watch_arm(req->server->watch, req->deadline_ms, req->rate_start_ms);
        http_watch_progress(req->server->watch, req->watch_slot, req->body_read);
        if (req->watch_slot < 0)
            log_warn("no free deadline watch: the body deadline is only checked between reads");
    }
}

ssize_t
http_body_read_some(http_request_t *req, void *buf, size_t size, http_body_status_t *status)
{
    s_watch_arm(req);
    long long length = http_content_length(req);
    if (length >= 0 && req->body_read >= (size_t)length)
        req->body_done = true;
    return s_body_read(req, buf, size, status);
}

void
http_body_end(http_request_t *req)
{
    if (http_body_disarm(req))
        http_close_after(req);
}

static http_body_status_t
s_body_read_all(http_request_t *req, http_buf_t *buf)
{
    long long length = http_content_length(req);
    s_watch_arm(req);
    for (;;) {
        if (length >= 0 && req->body_read >= (size_t)length)
            req->body_done = true;
        if (req->body_done)
            break;
        size_t want = buf->len + HTTP_READ_CHUNK;
        if (want > buf->max + 1)
            want = buf->max + 1;
        if (want <= buf->len)
            return HTTP_BODY_TOO_LARGE;
        if (s_buf_reserve(buf, want) != 0)
            return HTTP_BODY_NOMEM;
        http_body_status_t status = HTTP_BODY_OK;
        ssize_t n = s_body_read(req, buf->data + buf->len, want - buf->len, &status);
        if (n < 0)
            return status;
        if (n == 0)
            break;
        buf->len += (size_t)n;
        if (buf->len > buf->max)
            return HTTP_BODY_TOO_LARGE;
        status = s_buf_check(buf, false);
        if (status != HTTP_BODY_OK)
            return status;
    }
    return s_buf_check(buf, true);
}

http_body_status_t
http_body_read_all(http_request_t *req, http_buf_t *buf)
{
    http_body_status_t status = s_body_read_all(req, buf);
    /* A deadline that fired at the very end still costs the connection. */
    if (http_body_disarm(req))
        http_close_after(req);
    return status;
}
