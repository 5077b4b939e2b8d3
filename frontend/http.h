/*
 * http.h - the frontend's HTTP layer on civetweb: server setup, one request context per call,
 * request helpers, responses (JSON and RFC 9457 problem documents) and a streaming body reader
 * with a size cap and an overall deadline.
 *
 * The server hands every request to one handler function with an http_request_t. The handler
 * answers with exactly one http_reply* call; http.c then writes the access log line (method,
 * path, status, duration, user). Everything a handler needs from civetweb goes through here,
 * so the API code never touches civetweb directly.
 *
 * Files: http.c (server, request checks, request helpers), http_reply.c (answers),
 * http_body.c (body reader), http_watch.c (slow-client watchdog), and the pure parsers
 * http_path.c (request path) and multipart.c (forms; form_upload.c streams an upload's file).
 *
 * Threads: civetweb serves each connection on one of `threads` worker threads. A per-thread
 * state (e.g. a broker socket) is created by the thread_init hook on each worker thread and
 * destroyed by thread_exit; handlers get it with http_thread_state().
 */
#ifndef PROFAI_FRONTEND_HTTP_H
#define PROFAI_FRONTEND_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http_path.h"

/* Longest X-Request-Id taken from a client. */
#define HTTP_REQUEST_ID_MAX 64

struct mg_connection;
typedef struct http_server_t http_server_t;

/* One request being served. Created by http.c on the worker thread's stack for the duration
 * of one handler call; handlers read the public fields and set `user`. */
typedef struct {
    struct mg_connection *conn; /* borrowed from civetweb */
    const char *method;         /* "GET", "POST", ... */
    const char *path;           /* URL-decoded path without the query string: canonical (no
                                 * "." or ".." segment, no "//", no NUL or control character,
                                 * valid UTF-8, at most HTTP_PATH_MAX bytes), or the request
                                 * was refused before the handler saw it */
    const char *query;          /* raw query string, or NULL */
    int64_t started_ms;         /* monotonic clock, when the headers had arrived */
    int status;                 /* status of the answer sent; 0 while none */
    char user[257];             /* name of the authenticated caller, for the log line */
    /* The request's id (docs/api.md "Request ids"): the client's X-Request-Id when it is 1 to
     * HTTP_REQUEST_ID_MAX letters, digits or "-._:", else 32 random hex digits. Sent back on
     * the answer and carried by every log line of the request (log_set_request_id). */
    char request_id[HTTP_REQUEST_ID_MAX + 1];
    /* private to the http*.c files */
    http_server_t *server;
    bool head;      /* HEAD: headers only */
    bool body_done; /* the request body was read to its end */
    bool close;     /* answer with Connection: close */
    bool continued; /* "100 Continue" was sent */
    int watch_slot; /* slow-client watch (http_watch.h) while the body is read, -1 when none */
    int64_t deadline_ms;
    int64_t rate_start_ms; /* when the body read began: the minimum rate counts from here */
    size_t body_read;      /* body bytes read so far */
    char timeout_why[128]; /* why the body read timed out, once it did */
} http_request_t;

/* HTTP_PATH_MAX, the longest request path served: http_path.h. */

typedef void (*http_handler_fn)(http_request_t *req, void *arg);

typedef struct {
    const char *listen;     /* "ADDR:PORT"; port 0 picks a free port */
    int threads;            /* worker threads = connections served at once */
    int request_timeout_ms; /* civetweb's per-read timeout; also bounds the request headers */
    int keep_alive_ms;      /* idle keep-alive connection timeout */
    /* Connections the kernel completes and queues until a thread takes one (listen(2)'s
     * backlog, capped by net.core.somaxconn); 0 = civetweb's default (200). */
    int backlog;
    /* Slow clients: after min_rate_grace_ms, a request body must arrive (and a large answer be
     * taken) at min_rate bytes per second on average, else the connection is cut (408 for a
     * body). 0 = no minimum rate. */
    long long min_rate;
    int min_rate_grace_ms;
    http_handler_fn handler; /* called for every request */
    void *handler_arg;
    /* Optional per-worker-thread state: thread_init(handler_arg) on each worker thread when it
     * starts, thread_exit(handler_arg, state) when it ends (inside http_server_destroy). */
    void *(*thread_init)(void *arg);
    void (*thread_exit)(void *arg, void *state);
    /* Peers whose X-Forwarded-For names the client (the edge proxy): comma-separated
     * addresses as the peer's address is written ("127.0.0.1", "::1"); NULL or "" for none. */
    const char *trusted_proxies;
} http_config_t;

/* Start serving. Returns the server or NULL with a sentence in err. cfg is copied (strings
 * too). Signals: the caller blocks SIGINT/SIGTERM before calling, so no server thread takes
 * them. */
http_server_t *http_server_new(const http_config_t *cfg, char *err, size_t err_size);

/* Stop serving: waits for running handlers, runs thread_exit on every worker, frees. */
void http_server_destroy(http_server_t **self_p);

/* The first TCP port the server listens on (useful with port 0), or -1. */
int http_server_port(http_server_t *self);

/* The state thread_init made for the calling worker thread, or NULL. */
void *http_thread_state(http_request_t *req);

/* ---------------------------------------------------------------- request */

/* The client's address into buf (NUL-terminated, at most size - 1 bytes): the peer's, or when
 * the peer is one of the trusted proxies and sent X-Forwarded-For, that header's last address
 * (the one the proxy itself saw). The one place the frontend decides who a client is: the
 * access log, and whatever counts requests per client. Returns buf. */
const char *http_client_addr(http_request_t *req, char *buf, size_t size);

/* Whether the client reached us over TLS: civetweb's own TLS, or a trusted proxy (as for
 * http_client_addr) saying "X-Forwarded-Proto: https". */
bool http_is_https(http_request_t *req);

/* A request header's value (borrowed, valid during the call), or NULL. */
const char *http_header(http_request_t *req, const char *name);

/* Copy the URL-decoded value of query parameter `name` into buf (NUL-terminated; it may
 * contain NUL bytes decoded from %00, hence the length). Returns the value's length, -1 when
 * absent, -2 when longer than size - 1. */
int http_query_param(http_request_t *req, const char *name, char *buf, size_t size);

/* Whether the request announces a body (Content-Length > 0 or chunked). */
bool http_has_body(http_request_t *req);

/* The Content-Length, or -1 when there is none (chunked or no body). */
long long http_content_length(http_request_t *req);

/* Whether the media type of Content-Type is `type` (case-insensitive, parameters ignored). */
bool http_content_type_is(http_request_t *req, const char *type);

/* ---------------------------------------------------------------- responses */

/* Send the whole answer in one go: status line, Date, Content-Type, Content-Length,
 * Cache-Control: no-store, X-Content-Type-Options: nosniff, X-Request-Id, Connection, `headers`
 * (extra lines "Name: value\r\n", or NULL) and body (omitted for HEAD). Only the first reply of a
 * request is sent; later calls return -1. Returns 0, or -1 when the client is gone. */
int http_reply(http_request_t *req, int status, const char *content_type, const char *headers,
               const void *body, size_t len);

/* http_reply with application/json; charset=utf-8. */
int http_reply_json(http_request_t *req, int status, const char *headers, const char *json,
                    size_t len);

/* An RFC 9457 problem document {"type","title","status","detail"}; type is
 * "urn:profai:problem:<kind>" with the kind derived from the status (docs/api.md section 3). */
int http_reply_problem(http_request_t *req, int status, const char *headers, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Start a streamed answer (Server-Sent Events): status 200, content_type, no Content-Length,
 * Cache-Control: no-store, X-Request-Id, Connection: close, and `headers` (or NULL); the body
 * follows with http_stream_write until the handler returns (the connection then closes).
 * 0, or -1 when the client is gone or an answer was already sent. */
int http_stream_begin(http_request_t *req, const char *content_type, const char *headers);

/* Write the next piece of a streamed answer: 0, or -1 when the client is gone. */
int http_stream_write(http_request_t *req, const void *data, size_t len);

/* Force Connection: close on the answer (and the end of the connection after it). */
void http_close_after(http_request_t *req);

/* If the client sent "Expect: 100-continue", send "HTTP/1.1 100 Continue" (once). Call after
 * every check that could refuse the request without its body. */
int http_send_continue(http_request_t *req);

/* ---------------------------------------------------------------- body */

typedef enum {
    HTTP_BODY_OK = 0,    /* read to the end */
    HTTP_BODY_TOO_LARGE, /* over the buffer's max: reading stopped */
    HTTP_BODY_TIMEOUT,   /* the deadline passed: reading stopped */
    HTTP_BODY_REJECTED,  /* the buffer's check refused the first bytes: reading stopped */
    HTTP_BODY_MALFORMED, /* broken chunking or multipart form */
    HTTP_BODY_IO,        /* the client went away */
    HTTP_BODY_NOMEM      /* out of memory */
} http_body_status_t;

/* A heap buffer grown as data arrives, never beyond max + 1 bytes. */
typedef struct {
    uint8_t *data; /* owned; free with http_buf_free */
    size_t len;
    size_t cap;
    size_t max; /* most bytes accepted */
    /* Optional: check(data, len) is called once, as soon as len reaches check_at or the data
     * ends; false stops the read with HTTP_BODY_REJECTED. */
    size_t check_at;
    bool (*check)(const uint8_t *data, size_t len);
    bool checked;
} http_buf_t;

void http_buf_free(http_buf_t *buf);

/* Start reading the body: the whole body must then arrive within timeout_ms of the request's
 * start, and at the server's minimum rate (http_config_t min_rate) counted from now. A reader
 * blocked on a silent or trickling client is woken when either limit passes. */
void http_body_begin(http_request_t *req, int timeout_ms);

/* After HTTP_BODY_TIMEOUT: a sentence saying which limit the body missed (the overall
 * deadline or the minimum rate), for the 408 problem detail. Borrowed from req. */
const char *http_body_timeout_reason(const http_request_t *req);

/* Read the whole (raw) body into buf. */
http_body_status_t http_body_read_all(http_request_t *req, http_buf_t *buf);

/* Read up to size bytes of the body (after http_body_begin), under the same deadline and
 * minimum rate: > 0 bytes read, 0 at the end of the body, -1 with *status. Call http_body_end
 * once done reading (also after a failure). */
ssize_t http_body_read_some(http_request_t *req, void *buf, size_t size,
                            http_body_status_t *status);
void http_body_end(http_request_t *req);

#endif
