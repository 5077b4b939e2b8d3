/*
 * http.c - the HTTP server on civetweb: start and stop, options, the request entry point and
 * the refusals made before any handler runs (framing headers that two readers could
 * disagree on, too many headers, a path that is not canonical: http_path.c), the access log
 * line, and the request helpers of http.h.
 *
 * The rest of the layer: answers in http_reply.c, the body reader in http_body.c, the
 * slow-client watchdog in http_watch.c, the multipart parser in multipart.c.
 */
#define _GNU_SOURCE /* strcasestr */
#include "http_internal.h"
#include "http_path.h"
#include "log.h"

#include <civetweb.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

/* Request line and headers together (civetweb's max_request_size): beyond it civetweb answers
 * 400 itself and closes the connection. Bearer tokens and browser headers need far less. */
#define HTTP_HEADERS_MAX "16384"
/* civetweb keeps at most this many headers (MG_MAX_HEADERS) and silently drops the rest, so a
 * request that reaches it is refused (431): a dropped header could change its meaning. */
#define HTTP_HEADERS_COUNT_MAX 64

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

void
http_log_safe(const char *s, char *buf, size_t size)
{
    size_t i = 0;
    for (; s[i] != '\0' && i + 1 < size; i++)
        buf[i] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"') ? s[i] : '?';
    buf[i] = '\0';
}

/* ---------------------------------------------------------------- client address */

/* Whether addr is one of the trusted proxies (exact text, entries separated by commas and
 * blanks). */
static bool
s_trusted(const http_server_t *self, const char *addr)
{
    size_t n = strlen(addr);
    const char *p = self->trusted_proxies;
    while (n > 0 && *p != '\0') {
        p += strspn(p, ", \t");
        size_t len = strcspn(p, ", \t");
        if (len == n && strncmp(p, addr, n) == 0)
            return true;
        p += len;
    }
    return false;
}

const char *
http_client_addr(http_request_t *req, char *buf, size_t size)
{
    const char *peer = mg_get_request_info(req->conn)->remote_addr;
    const char *xff =
        s_trusted(req->server, peer) ? mg_get_header(req->conn, "X-Forwarded-For") : NULL;
    if (xff != NULL) {
        /* The last entry: the address the trusted proxy accepted the connection from (those
         * before it came from the client and prove nothing). */
        const char *last = strrchr(xff, ',');
        last = last ? last + 1 : xff;
        last += strspn(last, " \t");
        size_t len = strcspn(last, " \t");
        /* Only an address's characters (IPv4, IPv6): anything else is not logged as one. */
        if (len > 0 && len < size && len < 46 && strspn(last, "0123456789abcdefABCDEF.:") == len) {
            memcpy(buf, last, len);
            buf[len] = '\0';
            return buf;
        }
    }
    snprintf(buf, size, "%s", peer);
    return buf;
}

bool
http_is_https(http_request_t *req)
{
    const struct mg_request_info *ri = mg_get_request_info(req->conn);
    if (ri->is_ssl)
        return true;
    const char *proto = s_trusted(req->server, ri->remote_addr)
                            ? mg_get_header(req->conn, "X-Forwarded-Proto")
                            : NULL;
    return proto != NULL && strcasecmp(proto, "https") == 0;
}

/* ---------------------------------------------------------------- request checks */

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
    int lengths = 0, encodings = 0, authorizations = 0;
    for (int i = 0; i < ri->num_headers; i++) {
        const char *name = ri->http_headers[i].name;
        const char *value = ri->http_headers[i].value ? ri->http_headers[i].value : "";
        if (name == NULL)
            continue;
        if (strcasecmp(name, "Authorization") == 0) {
            /* Two credentials: which one is meant cannot be told (docs/api.md 2). */
            if (++authorizations > 1) {
                *why = "the Authorization header appears more than once";
                return 400;
            }
        } else if (strcasecmp(name, "Content-Length") == 0) {
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

/* The request's id into out: the client's X-Request-Id when it is safe to repeat in a header
 * and a log line, else a new random one. */
static void
s_request_id(struct mg_connection *conn, char out[HTTP_REQUEST_ID_MAX + 1])
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:";
    const char *given = mg_get_header(conn, "X-Request-Id");
    size_t len = given ? strlen(given) : 0;
    if (len > 0 && len <= HTTP_REQUEST_ID_MAX && strspn(given, safe) == len) {
        memcpy(out, given, len + 1);
        return;
    }
    uint8_t random[16];
    if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random) {
        /* No entropy yet (early boot): unique enough within this process. */
        static uint64_t counter;
        uint64_t n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
        int64_t now = zclock_usecs();
        memcpy(random, &n, 8);
        memcpy(random + 8, &now, 8);
    }
    for (size_t i = 0; i < sizeof random; i++)
        snprintf(out + 2 * i, 3, "%02x", random[i]);
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
        refuse = http_path_decode(ri->local_uri_raw,
                                  ri->local_uri_raw ? strlen(ri->local_uri_raw) : 0, path, &why);
    req.conn = conn;
    req.server = self;
    req.method = ri->request_method ? ri->request_method : "";
    req.path = refuse == 0 ? path : (ri->local_uri_raw ? ri->local_uri_raw : "");
    req.query = ri->query_string;
    req.started_ms = zclock_mono();
    req.head = strcmp(req.method, "HEAD") == 0;
    req.watch_slot = -1;
    req.body_done = !http_has_body(&req);
    s_request_id(conn, req.request_id);
    log_set_request_id(req.request_id);

    if (refuse != 0) {
        /* The handler never sees the request; its body, if any, is not read. */
        http_close_after(&req);
        http_reply_problem(&req, refuse, NULL, "%s", why);
    } else {
        self->cfg.handler(&req, self->cfg.handler_arg);
    }

    if (http_body_disarm(&req))
        http_close_after(&req);
    if (req.status == 0)
        http_reply_problem(&req, 500, NULL, "the request was not answered");

    char logged[160], from[64];
    http_log_safe(req.path, logged, sizeof logged);
    http_client_addr(&req, from, sizeof from);
    log_info("%s %s %d %lldms user=%s from=%s", req.method, logged, req.status,
             (long long)(zclock_mono() - req.started_ms), req.user[0] ? req.user : "-", from);
    log_set_request_id(NULL);
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
    if (self->listen == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    self->cfg.listen = self->listen;
    self->trusted_proxies = strdup(cfg->trusted_proxies ? cfg->trusted_proxies : "");
    if (self->trusted_proxies == NULL) {
        snprintf(err, err_size, "out of memory");
        goto fail;
    }
    self->cfg.trusted_proxies = self->trusted_proxies;
    /* One watch per worker thread is enough (a thread reads one body at a time). */
    self->watch =
        http_watch_new(cfg->min_rate, cfg->min_rate_grace_ms, cfg->threads + 4, err, err_size);
    if (self->watch == NULL)
        goto fail;

    char threads[16], request_timeout[16], keep_alive[16], backlog[16];
    snprintf(threads, sizeof threads, "%d", cfg->threads);
    snprintf(request_timeout, sizeof request_timeout, "%d", cfg->request_timeout_ms);
    snprintf(keep_alive, sizeof keep_alive, "%d", cfg->keep_alive_ms);
    /* civetweb listens with a backlog of 200: a burst of connects past it (an edge proxy
     * opening one upstream connection per request in flight) has its SYNs dropped and
     * retried after 1 s, 3 s, 7 s. A queued connection costs only kernel memory. */
    snprintf(backlog, sizeof backlog, "%d", cfg->backlog > 0 ? cfg->backlog : 200);
    /* No document_root: civetweb serves no files at all (its directory redirect in 1.14-1.16
     * has a heap overflow, CVE-2025-55763); every path reaches s_on_request. */
    /* decode_url=no: the handler gets the path as sent, and http_path_decode decodes it with
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
                             "listen_backlog",
                             backlog,
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
    http_watch_destroy(&self->watch);
    free(self->listen);
    free(self->trusted_proxies);
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
