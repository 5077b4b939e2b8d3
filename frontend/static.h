/*
 * static.h - the web page (frontend/web/), compiled into profai-frontend and served from memory.
 *
 * GET / answers index.html; GET /app/<name> answers frontend/web/<name>. The files are turned
 * into the byte arrays of build/frontend/web_assets.c by scripts/embed-web.sh at build time, so
 * the running frontend never opens a file to serve the page (and civetweb's document_root stays
 * unset: docs/web.md says why).
 *
 * Every answer carries a strong ETag, `Cache-Control: no-cache` (a browser revalidates on each
 * load and gets a 304 when nothing changed) and the page's security headers: a
 * Content-Security-Policy that allows only this origin's own script, style, images and API
 * calls (no inline script, no inline style, Trusted Types required so that no script can use
 * innerHTML-like sinks), X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer and
 * framing refused.
 */
#ifndef PROFAI_FRONTEND_STATIC_H
#define PROFAI_FRONTEND_STATIC_H

#include <stddef.h>

struct mg_connection;

/* One embedded file (plain data, generated; all pointers are to static storage). */
typedef struct {
    const char *path;          /* URL path: "/" for index.html, else "/app/<file name>" */
    const char *content_type;  /* media type with charset for text */
    const unsigned char *data; /* the file's bytes */
    size_t len;
    const char *etag; /* quoted strong validator, e.g. "\"3f2a...\"" */
} static_asset_t;

/* The table scripts/embed-web.sh generates (build/frontend/web_assets.c). */
extern const static_asset_t static_assets[];
extern const size_t static_assets_count;

/* The asset served at URL path `path` (decoded, without query string), or NULL. */
const static_asset_t *static_find(const char *path);

/* Answer the request on conn if `path` names an asset: 200 with the file, 304 when
 * If-None-Match matches its ETag, 405 (with Allow: GET, HEAD) for another method. HEAD gets
 * the headers only. Returns 1 when it answered (or tried to: the client may be gone), 0 when
 * `path` is not an asset and nothing was sent. */
int static_serve(struct mg_connection *conn, const char *path);

/* static_serve that also stores the status it sent (200, 304 or 405) in *status when it
 * answered, for the caller's access log. status may be NULL. */
int static_serve_status(struct mg_connection *conn, const char *path, int *status);

/* static_serve_status with extra header lines ("Name: value\r\n", or NULL) on the answer
 * (the request id). */
int static_serve_with(struct mg_connection *conn, const char *path, const char *headers,
                      int *status);

#endif
