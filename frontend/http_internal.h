/*
 * http_internal.h - what the files of the HTTP layer (http.c, http_reply.c, http_body.c)
 * share with one another and with nothing else. Handlers use http.h only.
 */
#ifndef PROFAI_FRONTEND_HTTP_INTERNAL_H
#define PROFAI_FRONTEND_HTTP_INTERNAL_H

#include "http.h"
#include "http_watch.h"

#include <stdbool.h>
#include <stddef.h>

struct http_server_t {
    struct mg_context *ctx;
    http_config_t cfg;
    char *listen;
    http_watch_t *watch; /* the slow-client watchdog of request bodies */
};

/* Copy a client-controlled string into buf for the log: printable ASCII only, bounded. */
void http_log_safe(const char *s, char *buf, size_t size);

/* Stop the body read's watch, if one is armed (http_body.c); true if it had fired, and then
 * the connection cannot be reused. */
bool http_body_disarm(http_request_t *req);

#endif
