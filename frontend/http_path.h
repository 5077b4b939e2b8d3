/*
 * http_path.h - the request path decoder: raw request target to one canonical path.
 *
 * civetweb runs with decode_url=no, so the path arrives as the client sent it; this module
 * decodes it with checks civetweb's own decoder does not make (%00 ends its string early, %2f
 * becomes a separator). Every path a handler sees is canonical: no dot segment (however
 * encoded), no "//", no encoded '/' or '\', no NUL or control byte, valid UTF-8, at most
 * HTTP_PATH_MAX bytes. There is no document root and no file is ever opened from a path; this
 * only makes sure that two spellings never name one resource.
 *
 * Pure: no civetweb, no allocation, no global state (unit tests: tests/unit/test_http_path.c;
 * fuzz target: fuzz/fuzz_path.c).
 */
#ifndef PROFAI_FRONTEND_HTTP_PATH_H
#define PROFAI_FRONTEND_HTTP_PATH_H

#include <stddef.h>

/* Longest request path served; a longer one names no resource (404). */
#define HTTP_PATH_MAX 1024

/* Decode the raw path raw[0, len) (without the query string) into out, which holds
 * HTTP_PATH_MAX + 1 bytes; out is NUL-terminated on success. Returns 0, or the HTTP status to
 * refuse the request with (400 malformed, 404 too long) with a static sentence in *why. */
int http_path_decode(const char *raw, size_t len, char out[HTTP_PATH_MAX + 1], const char **why);

#endif
