/*
 * multipart.h - a multipart/form-data parser (RFC 7578 over RFC 2046 section 5.1.1) for a
 * form held whole in memory.
 *
 * The caller names the fields it wants, each with a size cap; the parser walks every part of
 * the body, records where each wanted value lies (pointers into the body, nothing copied but
 * the file name) and ignores the other fields. Refused as malformed: a body that does not
 * start with its boundary (after an optional preamble) or does not end with the closing one,
 * a part whose header block has no Content-Disposition or no name, a header block longer
 * than MULTIPART_HEADERS_MAX bytes, and a wanted field that appears twice.
 *
 * Why a parser of our own: civetweb's mg_handle_form_request ignores its callbacks' requests
 * to stop in 1.15, can be driven into an endless loop by a crafted form (upstream issue 1348)
 * and copies overlapping memory. The upload is held in memory anyway (for its SHA-256 and the
 * database), so the form is read whole, size-capped and deadline-bound (http_body.c), and
 * parsed here.
 *
 * Pure: no civetweb, no allocation, no global state (unit tests: tests/unit/test_multipart.c;
 * fuzz target: fuzz/fuzz_multipart.c).
 */
#ifndef PROFAI_FRONTEND_MULTIPART_H
#define PROFAI_FRONTEND_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MULTIPART_BOUNDARY_MAX 70  /* RFC 2046 */
#define MULTIPART_HEADERS_MAX 8192 /* one part's header block */
#define MULTIPART_NAME_MAX 63      /* longest field name that can match a wanted one */

/* A field to find. The caller fills name, max, filename and filename_size; the parser fills
 * the results (zero them before the call). */
typedef struct {
    const char *name;     /* field name */
    size_t max;           /* most bytes its value may have */
    char *filename;       /* NULL, or receives the part's file name ("" when none) */
    size_t filename_size; /* size of filename */
    /* results */
    const uint8_t *value; /* borrowed from the body */
    size_t len;
    bool found;         /* the field was present */
    bool overflow;      /* its value was longer than max (value is NULL) */
    bool filename_long; /* its file name did not fit filename_size (it is cut) */
} multipart_field_t;

typedef enum {
    MULTIPART_OK = 0,    /* the whole form was walked */
    MULTIPART_MALFORMED, /* not a form RFC 7578 allows, or a wanted field twice */
    MULTIPART_TOO_LARGE  /* a wanted field over its max (its `overflow` is set) */
} multipart_status_t;

/* The boundary parameter of a multipart Content-Type value (quoted or token), copied into
 * out (NUL-terminated). 0, or -1 when there is none, it is empty, unterminated, longer than
 * MULTIPART_BOUNDARY_MAX or does not fit size. */
int multipart_boundary(const char *content_type, char *out, size_t size);

/* Walk the parts of the form data[0, len) with the given boundary (as multipart_boundary
 * gives it) and fill the n wanted fields. On MULTIPART_MALFORMED *why gets a static sentence
 * for the client. Values stay valid while data does. */
multipart_status_t multipart_parse(const uint8_t *data, size_t len, const char *boundary,
                                   multipart_field_t *fields, size_t n, const char **why);

#endif
