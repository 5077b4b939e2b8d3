/* http.c - see http.h. */
#define _GNU_SOURCE
#include "http.h"

#include "json.h"
#include "log.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

/* Bytes asked of civetweb per read: small enough that a reader without a watchdog (see
 * s_connection_fd) still notices its deadline often. */
#define HTTP_READ_CHUNK (64 * 1024)
/* First allocation of a body buffer; it doubles from there as data arrives. */
#define HTTP_BUF_INITIAL (64 * 1024)
/* Answers up to this size go out in one write together with their headers. */
#define HTTP_ONE_WRITE_MAX (16 * 1024)

/* One armed body deadline: the watchdog shuts the socket's read side at `deadline_ms`, which
 * wakes a reader blocked inside civetweb (mg_read only checks its own per-read timeout, and a
 * trickling client never trips that). */
typedef struct {
    int fd;
    int64_t deadline_ms;
    bool active;
    bool fired;
} s_watch_t;

struct http_server_t {
    struct mg_context *ctx;
    http_config_t cfg;
    char *listen;
    pthread_mutex_t lock; /* guards the watch table and `stopping` */
    pthread_cond_t cond;  /* signalled when a watch is armed or the server stops */
    pthread_t watchdog;
    bool watchdog_running;
    bool stopping;
    s_watch_t *watches;
    int nwatches;
};

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- deadline watchdog */

static void *
s_watchdog_run(void *arg)
{
    http_server_t *self = arg;
    pthread_mutex_lock(&self->lock);
    while (!self->stopping) {
        int64_t now = s_now_ms();
        int64_t next = INT64_MAX;
        for (int i = 0; i < self->nwatches; i++) {
            s_watch_t *w = &self->watches[i];
            if (!w->active || w->fired)
                continue;
            if (w->deadline_ms <= now) {
                /* The socket stays open (civetweb owns it): only further reads end, so the
                 * handler can still write its 408. */
                shutdown(w->fd, SHUT_RD);
                w->fired = true;
            } else if (w->deadline_ms < next) {
                next = w->deadline_ms;
            }
        }
        if (next == INT64_MAX) {
            pthread_cond_wait(&self->cond, &self->lock);
        } else {
            struct timespec ts = {.tv_sec = next / 1000, .tv_nsec = (next % 1000) * 1000000};
            pthread_cond_timedwait(&self->cond, &self->lock, &ts);
        }
    }
    pthread_mutex_unlock(&self->lock);
    return NULL;
}

static int
s_watch_arm(http_server_t *self, int fd, int64_t deadline_ms)
{
    int slot = -1;
    pthread_mutex_lock(&self->lock);
    for (int i = 0; i < self->nwatches; i++) {
        if (!self->watches[i].active) {
            self->watches[i] = (s_watch_t){.fd = fd, .deadline_ms = deadline_ms, .active = true};
            slot = i;
            break;
        }
    }
    pthread_cond_signal(&self->cond);
    pthread_mutex_unlock(&self->lock);
    return slot;
}

/* Disarm the request's watch; true if it had fired. */
static bool
s_watch_disarm(http_request_t *req)
{
    if (req->watch_slot < 0)
        return false;
    http_server_t *self = req->server;
    pthread_mutex_lock(&self->lock);
    bool fired = self->watches[req->watch_slot].fired;
    self->watches[req->watch_slot].active = false;
    pthread_mutex_unlock(&self->lock);
    req->watch_slot = -1;
    return fired;
}

static bool
s_watch_fired(http_request_t *req)
{
    if (req->watch_slot < 0)
        return false;
    pthread_mutex_lock(&req->server->lock);
    bool fired = req->server->watches[req->watch_slot].fired;
    pthread_mutex_unlock(&req->server->lock);
    return fired;
}

static int
s_sockaddr_port(const struct sockaddr_storage *sa)
{
    if (sa->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return -1;
}

static bool
s_socket_matches(int fd, const struct mg_request_info *ri)
{
    struct sockaddr_storage local, peer;
    socklen_t local_len = sizeof local, peer_len = sizeof peer;
    if (getsockname(fd, (struct sockaddr *)&local, &local_len) != 0 ||
        s_sockaddr_port(&local) != ri->server_port)
        return false;
    if (getpeername(fd, (struct sockaddr *)&peer, &peer_len) != 0 ||
        s_sockaddr_port(&peer) != ri->remote_port)
        return false;
    char addr[INET6_ADDRSTRLEN] = "";
    if (peer.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, addr, sizeof addr);
    else
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&peer)->sin6_addr, addr, sizeof addr);
    return strcmp(addr, ri->remote_addr) == 0;
}

/* civetweb 1.15 does not expose a connection's socket. Find it by its TCP endpoints, which
 * identify it uniquely while this thread serves the connection (only this thread closes it).
 * Costs a few hundred syscalls, paid once per upload. -1 when not found. */
static int
s_connection_fd(const struct mg_request_info *ri)
{
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL)
        return -1;
    int found = -1;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        char *end = NULL;
        long fd = strtol(de->d_name, &end, 10);
        if (end == de->d_name || *end != '\0' || fd == dirfd(dir))
            continue;
        if (s_socket_matches((int)fd, ri)) {
            found = (int)fd;
            break;
        }
    }
    closedir(dir);
    return found;
}

/* ---------------------------------------------------------------- server */

static void *
s_init_thread(const struct mg_context *ctx, int thread_type)
{
    http_server_t *self = mg_get_user_data(ctx);
    /* 1 = a worker thread serving connections; 0 master, 2 timer: no state. */
    if (self == NULL || thread_type != 1 || self->cfg.thread_init == NULL)
        return NULL;
    return self->cfg.thread_init(self->cfg.handler_arg);
}

static void
s_exit_thread(const struct mg_context *ctx, int thread_type, void *state)
{
    http_server_t *self = mg_get_user_data(ctx);
    if (self != NULL && thread_type == 1 && state != NULL && self->cfg.thread_exit != NULL)
        self->cfg.thread_exit(self->cfg.handler_arg, state);
}

static int
s_log_message(const struct mg_connection *conn, const char *message)
{
    size_t len = strcspn(message, "\r\n");
    log_warn("civetweb: %.*s", (int)len, message);
    return 1;
}

/* Copy a client-controlled path into buf for the log: printable ASCII only, bounded. */
static void
s_log_safe(const char *s, char *buf, size_t size)
{
    size_t i = 0;
    for (; s[i] != '\0' && i + 1 < size; i++)
        buf[i] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"') ? s[i] : '?';
    buf[i] = '\0';
}

static int
s_on_request(struct mg_connection *conn, void *cbdata)
{
    http_server_t *self = cbdata;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    http_request_t req;
    memset(&req, 0, sizeof req);
    req.conn = conn;
    req.server = self;
    req.method = ri->request_method ? ri->request_method : "";
    req.path = ri->local_uri ? ri->local_uri : "";
    req.query = ri->query_string;
    req.started_ms = s_now_ms();
    req.head = strcmp(req.method, "HEAD") == 0;
    req.watch_slot = -1;
    req.body_done = !http_has_body(&req);

    self->cfg.handler(&req, self->cfg.handler_arg);

    if (s_watch_disarm(&req))
        http_close_after(&req);
    if (req.status == 0)
        http_reply_problem(&req, 500, NULL, "the request was not answered");

    char path[160];
    s_log_safe(req.path, path, sizeof path);
    log_info("%s %s %d %lldms user=%s from=%s", req.method, path, req.status,
             (long long)(s_now_ms() - req.started_ms), req.user[0] ? req.user : "-",
             ri->remote_addr);
    return req.status;
}

http_server_t *
http_server_new(const http_config_t *cfg, char *err, size_t err_size)
{
    http_server_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->listen = strdup(cfg->listen);
    self->nwatches = cfg->threads + 4;
    self->watches = calloc((size_t)self->nwatches, sizeof *self->watches);
    if (self->listen == NULL || self->watches == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    self->cfg.listen = self->listen;

    pthread_mutex_init(&self->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&self->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&self->watchdog, NULL, s_watchdog_run, self) != 0) {
        snprintf(err, err_size, "cannot start the deadline thread");
        goto fail;
    }
    self->watchdog_running = true;

    char threads[16], request_timeout[16], keep_alive[16];
    snprintf(threads, sizeof threads, "%d", cfg->threads);
    snprintf(request_timeout, sizeof request_timeout, "%d", cfg->request_timeout_ms);
    snprintf(keep_alive, sizeof keep_alive, "%d", cfg->keep_alive_ms);
    /* No document_root: civetweb serves no files at all (its directory redirect in 1.14-1.16
     * has a heap overflow, CVE-2025-55763); every path reaches s_on_request. */
    const char *options[] = {"listening_ports",
                             self->listen,
                             "num_threads",
                             threads,
                             "request_timeout_ms",
                             request_timeout,
                             "enable_keep_alive",
                             "yes",
                             "keep_alive_timeout_ms",
                             keep_alive,
                             "tcp_nodelay",
                             "1",
                             NULL};
    struct mg_callbacks callbacks;
    memset(&callbacks, 0, sizeof callbacks);
    callbacks.init_thread = s_init_thread;
    callbacks.exit_thread = s_exit_thread;
    callbacks.log_message = s_log_message;
    struct mg_init_data init = {
        .callbacks = &callbacks, .user_data = self, .configuration_options = options};
    char text[256] = "";
    unsigned code = 0;
    struct mg_error_data error = {.code = &code, .text = text, .text_buffer_size = sizeof text};
    self->ctx = mg_start2(&init, &error);
    if (self->ctx == NULL) {
        snprintf(err, err_size, "cannot serve HTTP on %s: %s", self->listen,
                 text[0] ? text : "civetweb failed to start");
        goto fail;
    }
    mg_set_request_handler(self->ctx, "/", s_on_request, self);
    return self;
fail:
    http_server_destroy(&self);
    return NULL;
}

void
http_server_destroy(http_server_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    http_server_t *self = *self_p;
    if (self->ctx != NULL)
        mg_stop(self->ctx);
    if (self->watchdog_running) {
        pthread_mutex_lock(&self->lock);
        self->stopping = true;
        pthread_cond_signal(&self->cond);
        pthread_mutex_unlock(&self->lock);
        pthread_join(self->watchdog, NULL);
        pthread_cond_destroy(&self->cond);
        pthread_mutex_destroy(&self->lock);
    }
    free(self->watches);
    free(self->listen);
    free(self);
    *self_p = NULL;
}

int
http_server_port(http_server_t *self)
{
    struct mg_server_port ports[4];
    int n = mg_get_server_ports(self->ctx, 4, ports);
    return n > 0 ? ports[0].port : -1;
}

void *
http_thread_state(http_request_t *req)
{
    return mg_get_thread_pointer(req->conn);
}

/* ---------------------------------------------------------------- request */

const char *
http_header(http_request_t *req, const char *name)
{
    return mg_get_header(req->conn, name);
}

int
http_query_param(http_request_t *req, const char *name, char *buf, size_t size)
{
    if (req->query == NULL)
        return -1;
    int n = mg_get_var2(req->query, strlen(req->query), name, buf, size, 0);
    if (n >= 0)
        return n;
    return n == -1 ? -1 : -2;
}

static bool
s_is_chunked(http_request_t *req)
{
    const char *te = http_header(req, "Transfer-Encoding");
    return te != NULL && strcasestr(te, "chunked") != NULL;
}

bool
http_has_body(http_request_t *req)
{
    return s_is_chunked(req) || mg_get_request_info(req->conn)->content_length > 0;
}

long long
http_content_length(http_request_t *req)
{
    if (s_is_chunked(req))
        return -1;
    long long n = mg_get_request_info(req->conn)->content_length;
    return n >= 0 ? n : -1;
}

bool
http_content_type_is(http_request_t *req, const char *type)
{
    const char *v = http_header(req, "Content-Type");
    if (v == NULL)
        return false;
    v += strspn(v, " \t");
    size_t n = strlen(type);
    if (strncasecmp(v, type, n) != 0)
        return false;
    return v[n] == '\0' || v[n] == ';' || v[n] == ' ' || v[n] == '\t';
}

/* ---------------------------------------------------------------- responses */

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

int
http_reply(http_request_t *req, int status, const char *content_type, const char *headers,
           const void *body, size_t len)
{
    if (req->status != 0)
        return -1;
    req->status = status;
    bool keep = s_keep_alive(req);
    if (!keep)
        mg_disable_keep_alive(req->conn);

    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);

    size_t body_len = req->head ? 0 : len;
    char *head = NULL;
    int n = asprintf(&head,
                     "HTTP/1.1 %d %s\r\n"
                     "Date: %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "Connection: %s\r\n"
                     "%s"
                     "\r\n",
                     status, mg_get_response_code_text(req->conn, status), date, content_type, len,
                     keep ? "keep-alive" : "close", headers ? headers : "");
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
        rc = mg_write(req->conn, head, (size_t)n) == n ? 0 : -1;
        if (rc == 0 && body_len > 0)
            rc = mg_write(req->conn, body, body_len) == (int)body_len ? 0 : -1;
    }
    free(head);
    return rc;
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

/* ---------------------------------------------------------------- body */

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
    if (req->body_done || req->watch_slot >= 0)
        return;
    int fd = s_connection_fd(mg_get_request_info(req->conn));
    if (fd < 0) {
        log_warn("cannot find the socket of this connection: the body deadline is only "
                 "checked between reads");
        return;
    }
    req->watch_slot = s_watch_arm(req->server, fd, req->deadline_ms);
}

static bool
s_past_deadline(http_request_t *req)
{
    /* deadline_ms 0: http_body_begin was not called, no deadline. */
    return (req->deadline_ms > 0 && s_now_ms() >= req->deadline_ms) || s_watch_fired(req);
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
    int n = mg_read(req->conn, buf, size);
    if (n > 0) {
        req->body_read += (size_t)n;
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

static http_body_status_t
s_body_read_all(http_request_t *req, http_buf_t *buf)
{
    long long length = http_content_length(req);
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
    /* The deadline is for reading only: disarm it before the handler goes on to slower work
     * (database, broker). A deadline that fired at the very end still costs the connection. */
    if (s_watch_disarm(req))
        http_close_after(req);
    return status;
}

/* ---------------------------------------------------------------- multipart */

/* civetweb's mg_handle_form_request is not used: in 1.15 it ignores its callbacks' requests to
 * stop, can be driven into an endless loop by a crafted form (upstream issue 1348) and copies
 * overlapping memory. The upload is held in memory anyway (for its SHA-256 and the database),
 * so the form is read whole, size-capped and deadline-bound, and parsed here. */

#define HTTP_BOUNDARY_MAX 70       /* RFC 2046 */
#define HTTP_PART_HEADERS_MAX 8192 /* one part's header block */

/* The boundary parameter of a multipart Content-Type, or -1. */
static int
s_boundary(const char *content_type, char *out, size_t size)
{
    const char *p = content_type;
    while ((p = strchr(p, ';')) != NULL) {
        p++;
        p += strspn(p, " \t");
        if (strncasecmp(p, "boundary=", 9) != 0)
            continue;
        p += 9;
        size_t len;
        if (*p == '"') {
            p++;
            len = strcspn(p, "\"");
            if (p[len] != '"')
                return -1;
        } else {
            len = strcspn(p, " \t;");
        }
        if (len == 0 || len > HTTP_BOUNDARY_MAX || len >= size)
            return -1;
        memcpy(out, p, len);
        out[len] = '\0';
        return 0;
    }
    return -1;
}

/* The value of parameter `name` ("name", "filename") of a Content-Disposition value [p, end),
 * unquoted (quoted-string with backslash escapes, or token), copied into out (truncated to
 * size - 1). Returns the value's full length, or -1 when absent or unterminated. */
static long
s_disposition_param(const char *p, const char *end, const char *name, char *out, size_t size)
{
    size_t name_len = strlen(name);
    while (p < end && *p != ';') /* the disposition type, "form-data" */
        p++;
    while (p < end) {
        p++; /* past ';' */
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *key = p;
        while (p < end && *p != '=' && *p != ';')
            p++;
        const char *key_end = p;
        while (key_end > key && (key_end[-1] == ' ' || key_end[-1] == '\t'))
            key_end--;
        bool match = (size_t)(key_end - key) == name_len && strncasecmp(key, name, name_len) == 0;
        if (p >= end || *p == ';')
            continue; /* a parameter without value */
        p++;          /* past '=' */
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        size_t len = 0;
        if (p < end && *p == '"') {
            for (p++; p < end && *p != '"'; p++, len++) {
                if (*p == '\\' && p + 1 < end)
                    p++;
                if (match && len + 1 < size)
                    out[len] = *p;
            }
            if (p >= end)
                return -1;
            p++; /* past the closing quote */
            while (p < end && *p != ';')
                p++;
        } else {
            for (; p < end && *p != ';' && *p != ' ' && *p != '\t'; p++, len++)
                if (match && len + 1 < size)
                    out[len] = *p;
            while (p < end && *p != ';')
                p++;
        }
        if (match) {
            if (size > 0)
                out[len < size ? len : size - 1] = '\0';
            return (long)len;
        }
    }
    return -1;
}

/* The Content-Disposition value of a part's header block [p, end); -1 when there is none. */
static int
s_disposition(const char *p, const char *end, const char **value, const char **value_end)
{
    static const char key[] = "Content-Disposition:";
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        const char *line_end = eol ? eol : end;
        if ((size_t)(line_end - p) >= sizeof key - 1 && strncasecmp(p, key, sizeof key - 1) == 0) {
            *value = p + sizeof key - 1;
            *value_end = line_end;
            return 0;
        }
        p = eol ? eol + 2 : end;
    }
    return -1;
}

static http_body_status_t
s_malformed(const char **why, const char *sentence)
{
    *why = sentence;
    return HTTP_BODY_MALFORMED;
}

static http_form_field_t *
s_form_field(http_form_field_t *fields, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fields[i].name, name) == 0)
            return &fields[i];
    return NULL;
}

/* Record a wanted part: its value [value, value + len) and its file name. */
static http_body_status_t
s_form_take(http_form_field_t *field, const uint8_t *value, size_t len, const char *disposition,
            const char *disposition_end, const char **why)
{
    if (field->found)
        return s_malformed(why, "a form field appears twice");
    field->found = true;
    field->len = len;
    if (len > field->max) {
        field->overflow = true;
        return HTTP_BODY_TOO_LARGE;
    }
    field->value = value;
    if (field->filename != NULL && field->filename_size > 0) {
        long n = s_disposition_param(disposition, disposition_end, "filename", field->filename,
                                     field->filename_size);
        if (n < 0)
            field->filename[0] = '\0';
        field->filename_long = n >= (long)field->filename_size;
    }
    return HTTP_BODY_OK;
}

/* Walk the parts of a multipart body held in data[0, len) (RFC 2046 section 5.1.1). */
static http_body_status_t
s_form_parse(const uint8_t *data, size_t len, const char *boundary, http_form_field_t *fields,
             size_t n, const char **why)
{
    char delimiter[HTTP_BOUNDARY_MAX + 5];
    size_t dlen = (size_t)snprintf(delimiter, sizeof delimiter, "\r\n--%s", boundary);
    const uint8_t *end = data + len;
    /* The first delimiter opens the body, or follows a preamble. */
    const uint8_t *p = NULL;
    if (len >= dlen - 2 && memcmp(data, delimiter + 2, dlen - 2) == 0)
        p = data + dlen - 2;
    else if ((p = memmem(data, len, delimiter, dlen)) != NULL)
        p += dlen;
    else
        return s_malformed(why, "the form does not start with its boundary");

    for (;;) {
        /* After a delimiter: "--" closes the form, else optional padding and CRLF. */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return HTTP_BODY_OK;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return s_malformed(why, "the multipart form is malformed");
        p += 2;
        size_t window =
            (size_t)(end - p) < HTTP_PART_HEADERS_MAX ? (size_t)(end - p) : HTTP_PART_HEADERS_MAX;
        const uint8_t *headers_end = memmem(p, window, "\r\n\r\n", 4);
        const char *disposition = NULL, *disposition_end = NULL;
        if (headers_end == NULL || s_disposition((const char *)p, (const char *)headers_end + 2,
                                                 &disposition, &disposition_end) != 0)
            return s_malformed(why, "a form part has no Content-Disposition header");
        const uint8_t *value = headers_end + 4;
        const uint8_t *next = memmem(value, (size_t)(end - value), delimiter, dlen);
        if (next == NULL)
            return s_malformed(why, "the form does not end with its closing boundary");

        char name[64];
        long name_len =
            s_disposition_param(disposition, disposition_end, "name", name, sizeof name);
        if (name_len < 0)
            return s_malformed(why, "a form part has no name");
        http_form_field_t *field =
            (size_t)name_len < sizeof name ? s_form_field(fields, n, name) : NULL;
        if (field != NULL) {
            http_body_status_t status = s_form_take(field, value, (size_t)(next - value),
                                                    disposition, disposition_end, why);
            if (status != HTTP_BODY_OK)
                return status;
        }
        p = next + dlen;
    }
}

http_body_status_t
http_form_read(http_request_t *req, http_buf_t *body, http_form_field_t *fields, size_t n,
               const char **why)
{
    char boundary[HTTP_BOUNDARY_MAX + 1];
    const char *content_type = http_header(req, "Content-Type");
    if (content_type == NULL || s_boundary(content_type, boundary, sizeof boundary) != 0)
        return s_malformed(why, "the multipart form has no valid boundary");
    http_body_status_t status = http_body_read_all(req, body);
    if (status != HTTP_BODY_OK)
        return status;
    return s_form_parse(body->data, body->len, boundary, fields, n, why);
}
