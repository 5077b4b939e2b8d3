/* http.c - see http.h. */
#define _GNU_SOURCE
#include "http.h"

#include "json.h"
#include "log.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <dirent.h>
#include <errno.h>
#include <glib.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
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
/* Answers larger than this are sent under the watchdog (minimum rate): the kernel's socket
 * buffers take smaller ones whole, however slowly the client reads. */
#define HTTP_SEND_WATCH_MIN (256 * 1024)
/* Request line and headers together (civetweb's max_request_size): beyond it civetweb answers
 * 400 itself and closes the connection. Bearer tokens and browser headers need far less. */
#define HTTP_HEADERS_MAX "16384"
/* civetweb keeps at most this many headers (MG_MAX_HEADERS) and silently drops the rest, so a
 * request that reaches it is refused (431): a dropped header could change its meaning. */
#define HTTP_HEADERS_COUNT_MAX 64

/* Which limit of a watch passes first. */
typedef enum {
    S_LIMIT_DEADLINE, /* the overall deadline */
    S_LIMIT_RATE      /* the minimum rate, after the grace period */
} s_limit_t;

/* One armed watch: the watchdog shuts the socket (its read side while a body is read, both
 * sides while an answer is sent) when the transfer misses its overall deadline or its minimum
 * rate. That wakes a thread blocked inside civetweb: mg_read only checks its own per-read
 * timeout, which a trickling client never trips, and mg_write restarts its timeout at every
 * partial write. */
typedef struct {
    int fd;
    int how;             /* SHUT_RD or SHUT_RDWR */
    int64_t deadline_ms; /* overall; INT64_MAX for none */
    int64_t start_ms;    /* the minimum rate counts from here */
    uint64_t tcp_base;   /* the socket's byte counter (s_tcp_bytes) at start_ms */
    size_t bytes;        /* transferred since start_ms, as counted by the handler's thread */
    bool active;
    bool fired;
    s_limit_t limit; /* which limit fired */
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

/* czmq's zclock_mono, which the rest of the frontend uses, cannot be had here: czmq.h brings
 * netinet/tcp.h, whose struct tcp_info clashes with linux/tcp.h's (needed for
 * tcpi_bytes_received). Same clock, same unit. */
static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- deadline watchdog */

/* When a transfer that started at start_ms and has moved `bytes` misses a limit, and which:
 * the overall deadline, or the time by which min_rate would have moved more than `bytes`
 * (never before the grace period ends). */
static int64_t
s_limit_due(const http_config_t *cfg, int64_t deadline_ms, int64_t start_ms, size_t bytes,
            s_limit_t *limit)
{
    *limit = S_LIMIT_DEADLINE;
    if (cfg->min_rate <= 0)
        return deadline_ms;
    int64_t paced = (int64_t)((uint64_t)bytes * 1000 / (uint64_t)cfg->min_rate);
    if (paced < cfg->min_rate_grace_ms)
        paced = cfg->min_rate_grace_ms;
    if (start_ms + paced < deadline_ms) {
        *limit = S_LIMIT_RATE;
        return start_ms + paced;
    }
    return deadline_ms;
}

/* Bytes the kernel has received on (how == SHUT_RD) or delivered from (else) a TCP socket, or
 * 0 when unknown. mg_read and mg_write only return once their whole buffer has moved, so the
 * kernel's count is the only view of a transfer in progress. */
static uint64_t
s_tcp_bytes(int fd, int how)
{
    struct tcp_info info;
    socklen_t len = sizeof info;
    memset(&info, 0, sizeof info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
        return 0;
    if (len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received)
        return 0; /* a kernel older than 4.1 */
    return how == SHUT_RD ? info.tcpi_bytes_received : info.tcpi_bytes_acked;
}

/* Bytes moved under a watch so far. */
static size_t
s_watch_bytes(const s_watch_t *w)
{
    uint64_t now = s_tcp_bytes(w->fd, w->how);
    uint64_t kernel = now > w->tcp_base ? now - w->tcp_base : 0;
    return kernel > w->bytes ? (size_t)kernel : w->bytes;
}

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
            s_limit_t limit;
            int64_t due =
                s_limit_due(&self->cfg, w->deadline_ms, w->start_ms, s_watch_bytes(w), &limit);
            if (due <= now) {
                /* The socket stays open (civetweb owns it and closes it): only the transfer
                 * ends, so a handler whose body read failed can still write its 408. */
                shutdown(w->fd, w->how);
                w->fired = true;
                w->limit = limit;
            } else if (due < next) {
                /* Progress only moves a due time later: waking at the old one and looking
                 * again is enough, so the transfer never needs to signal. */
                next = due;
            }
        }
        /* A silent client never moves its due time: the wait ends there. A steady one moves
         * it forward, and the loop looks again then. */
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

/* Arm a watch on fd; the slot, or -1 when the table is full. */
static int
s_watch_arm(http_server_t *self, int fd, int how, int64_t deadline_ms, int64_t start_ms)
{
    int slot = -1;
    pthread_mutex_lock(&self->lock);
    for (int i = 0; i < self->nwatches; i++) {
        if (!self->watches[i].active) {
            self->watches[i] = (s_watch_t){.fd = fd,
                                           .how = how,
                                           .deadline_ms = deadline_ms,
                                           .start_ms = start_ms,
                                           .tcp_base = s_tcp_bytes(fd, how),
                                           .active = true};
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

/* Whether the request's watch fired; *limit gets which limit. */
static bool
s_watch_fired(http_request_t *req, s_limit_t *limit)
{
    if (req->watch_slot < 0)
        return false;
    pthread_mutex_lock(&req->server->lock);
    s_watch_t *w = &req->server->watches[req->watch_slot];
    bool fired = w->fired;
    *limit = w->limit;
    pthread_mutex_unlock(&req->server->lock);
    return fired;
}

/* Count bytes moved under the request's watch. */
static void
s_watch_progress(http_request_t *req, size_t n)
{
    if (req->watch_slot < 0)
        return;
    pthread_mutex_lock(&req->server->lock);
    req->server->watches[req->watch_slot].bytes += n;
    pthread_mutex_unlock(&req->server->lock);
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

/* ---------------------------------------------------------------- request checks */

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

/* Decode the raw request path (civetweb runs with decode_url=no, so it is as the client sent
 * it) into out, which holds HTTP_PATH_MAX + 1 bytes. Every path the handler sees is therefore
 * canonical: no dot segment (however encoded), no "//", no encoded '/', no NUL or control
 * byte, valid UTF-8. There is no document_root and no file is ever opened from a path; this
 * only makes sure that two spellings never name one resource. 0, or the status to refuse the
 * request with and a sentence in *why. */
static int
s_path_decode(const char *raw, char *out, const char **why)
{
    if (raw == NULL || raw[0] != '/') {
        *why = "the request target must be a path";
        return 400;
    }
    size_t n = 0;
    for (const char *p = raw; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '%') {
            int hi = s_hex_digit(p[1]);
            int lo = hi >= 0 ? s_hex_digit(p[2]) : -1;
            if (lo < 0) {
                *why = "the path contains a malformed %-escape";
                return 400;
            }
            c = (unsigned char)(hi * 16 + lo);
            p += 2;
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
    if (!g_utf8_validate(out, (gssize)n, NULL)) {
        *why = "the path is not valid UTF-8";
        return 400;
    }
    *why = s_path_segments_bad(out);
    return *why == NULL ? 0 : 400;
}

static bool
s_all_digits(const char *s)
{
    s += strspn(s, " \t");
    size_t n = strspn(s, "0123456789");
    return n > 0 && s[n + strspn(s + n, " \t")] == '\0';
}

/* Framing headers that civetweb accepts but that could make two readers of the same bytes
 * disagree on where the body ends (RFC 9112 section 6): refused, and the connection closed.
 * 0, or the status and a sentence in *why. */
static int
s_headers_check(const struct mg_request_info *ri, const char **why)
{
    if (ri->num_headers >= HTTP_HEADERS_COUNT_MAX) {
        *why = "the request has too many header fields";
        return 431;
    }
    int lengths = 0, encodings = 0;
    for (int i = 0; i < ri->num_headers; i++) {
        const char *name = ri->http_headers[i].name;
        const char *value = ri->http_headers[i].value ? ri->http_headers[i].value : "";
        if (name == NULL)
            continue;
        if (strcasecmp(name, "Content-Length") == 0) {
            lengths++;
            if (!s_all_digits(value)) {
                *why = "Content-Length is not a number";
                return 400;
            }
        } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
            encodings++;
            value += strspn(value, " \t");
            size_t len = strcspn(value, " \t");
            if (len != 7 || strncasecmp(value, "chunked", 7) != 0 ||
                value[len + strspn(value + len, " \t")] != '\0') {
                *why = "only Transfer-Encoding: chunked is supported";
                return 400;
            }
        }
    }
    if (lengths > 1 || encodings > 1) {
        *why = "Content-Length or Transfer-Encoding appears twice";
        return 400;
    }
    if (lengths == 1 && encodings == 1) {
        *why = "a request may not have both Content-Length and Transfer-Encoding";
        return 400;
    }
    return 0;
}

static int
s_on_request(struct mg_connection *conn, void *cbdata)
{
    http_server_t *self = cbdata;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    http_request_t req;
    memset(&req, 0, sizeof req);
    char path[HTTP_PATH_MAX + 1];
    const char *why = NULL;
    int refuse = s_headers_check(ri, &why);
    if (refuse == 0)
        refuse = s_path_decode(ri->local_uri_raw, path, &why);
    req.conn = conn;
    req.server = self;
    req.method = ri->request_method ? ri->request_method : "";
    req.path = refuse == 0 ? path : (ri->local_uri_raw ? ri->local_uri_raw : "");
    req.query = ri->query_string;
    req.started_ms = s_now_ms();
    req.head = strcmp(req.method, "HEAD") == 0;
    req.watch_slot = -1;
    req.body_done = !http_has_body(&req);

    if (refuse != 0) {
        /* The handler never sees the request; its body, if any, is not read. */
        http_close_after(&req);
        http_reply_problem(&req, refuse, NULL, "%s", why);
    } else {
        self->cfg.handler(&req, self->cfg.handler_arg);
    }

    if (s_watch_disarm(&req))
        http_close_after(&req);
    if (req.status == 0)
        http_reply_problem(&req, 500, NULL, "the request was not answered");

    char logged[160];
    s_log_safe(req.path, logged, sizeof logged);
    log_info("%s %s %d %lldms user=%s from=%s", req.method, logged, req.status,
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
    /* decode_url=no: the handler gets the path as sent, and s_path_decode decodes it with
     * checks that civetweb's decoder does not make (%00 ends its string early, %2f becomes a
     * separator). request_timeout_ms also bounds the request line and headers as a whole. */
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
                             "max_request_size",
                             HTTP_HEADERS_MAX,
                             "decode_url",
                             "no",
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

/* A large answer is sent under the watchdog: a client that stops reading (or reads slower than
 * the minimum rate) would otherwise hold this thread, since mg_write restarts its timeout at
 * every partial write. No overall deadline: a large course on a slow link is legitimate. */
static void
s_send_watch_arm(http_request_t *req, size_t body_len)
{
    if (body_len <= HTTP_SEND_WATCH_MIN || req->server->cfg.min_rate <= 0 || req->watch_slot >= 0)
        return;
    int fd = s_connection_fd(mg_get_request_info(req->conn));
    if (fd >= 0)
        req->watch_slot = s_watch_arm(req->server, fd, SHUT_RDWR, INT64_MAX, s_now_ms());
}

int
http_reply(http_request_t *req, int status, const char *content_type, const char *headers,
           const void *body, size_t len)
{
    if (req->status != 0)
        return -1;
    req->status = status;
    if (s_watch_disarm(req)) /* a body deadline fired: the connection cannot be reused */
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
                     "Connection: %s\r\n"
                     "%s"
                     "\r\n",
                     status, mg_get_response_code_text(req->conn, status), date, framing, cache,
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
        s_send_watch_arm(req, body_len);
        rc = mg_write(req->conn, head, (size_t)n) == n ? 0 : -1;
        if (rc == 0 && body_len > 0)
            rc = mg_write(req->conn, body, body_len) == (int)body_len ? 0 : -1;
        if (s_watch_disarm(req)) {
            char logged[160];
            s_log_safe(req->path, logged, sizeof logged);
            log_warn("%s %s: the client took the answer slower than %lld bytes per second: "
                     "connection cut",
                     req->method, logged, req->server->cfg.min_rate);
            rc = -1;
        }
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
    req->rate_start_ms = s_now_ms();
    if (req->body_done || req->watch_slot >= 0)
        return;
    int fd = s_connection_fd(mg_get_request_info(req->conn));
    if (fd < 0) {
        log_warn("cannot find the socket of this connection: the body deadline is only "
                 "checked between reads");
        return;
    }
    req->watch_slot = s_watch_arm(req->server, fd, SHUT_RD, req->deadline_ms, req->rate_start_ms);
}

/* Whether the body read is past a limit; if so, req->timeout_why says which. */
static bool
s_past_deadline(http_request_t *req)
{
    /* deadline_ms 0: http_body_begin was not called, no deadline. */
    if (req->deadline_ms == 0)
        return false;
    s_limit_t limit;
    bool past = s_watch_fired(req, &limit);
    if (!past) {
        int64_t due = s_limit_due(&req->server->cfg, req->deadline_ms, req->rate_start_ms,
                                  req->body_read, &limit);
        past = s_now_ms() >= due;
    }
    if (past && limit == S_LIMIT_RATE)
        snprintf(req->timeout_why, sizeof req->timeout_why,
                 "the upload arrived slower than %lld bytes per second",
                 req->server->cfg.min_rate);
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
    int n = mg_read(req->conn, buf, size);
    if (n > 0) {
        req->body_read += (size_t)n;
        s_watch_progress(req, (size_t)n);
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
