/*
 * multipart.h - a multipart/form-data parser (RFC 7578 over RFC 2046 section 5.1.1): an
 * incremental one (multipart_stream_t) that takes the form in pieces of any size and holds at
 * most MULTIPART_STREAM_WINDOW bytes of it, and, built on it, one for a form held whole in
 * memory (multipart_parse).
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
 * and copies overlapping memory. An upload's file part streams from the socket through
 * multipart_stream_t into PostgreSQL (frontend/form_upload.c), so the frontend never holds
 * the PDF whole.
 *
 * Pure: no civetweb, no I/O, no global state; multipart_parse allocates nothing but its
 * stream's window (unit tests: tests/unit/test_multipart.c, which also feeds every form split
 * at every byte; fuzz target: fuzz/fuzz_multipart.c).
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

/* ---------------------------------------------------------------- incremental parser */

/* Bytes of the form the stream holds at most (a part's header block must fit in it). */
#define MULTIPART_STREAM_WINDOW (64 * 1024)
/* Longest file name a part event carries whole (longer ones are cut and flagged). */
#define MULTIPART_FILENAME_MAX 1023

typedef struct multipart_stream_t multipart_stream_t;

typedef enum {
    MULTIPART_EV_MORE,  /* give it more of the form (or say it ended) */
    MULTIPART_EV_PART,  /* a part begins: name and filename */
    MULTIPART_EV_DATA,  /* the next bytes of the current part's value: data, len, offset */
    MULTIPART_EV_END,   /* the current part's value ended */
    MULTIPART_EV_DONE,  /* the closing delimiter: the form is whole (what follows is ignored) */
    MULTIPART_EV_ERROR, /* not a form RFC 7578 allows: why */
} multipart_event_type_t;

/* What multipart_stream_next found (plain data; pointers borrowed from the stream, valid until
 * its next call). */
typedef struct {
    multipart_event_type_t type;
    const char *name;     /* PART: the field name, NUL-terminated */
    bool name_long;       /* PART: the name is longer than MULTIPART_NAME_MAX (cut) */
    const char *filename; /* PART: its filename parameter, "" when it has none */
    bool filename_long;   /* PART: longer than MULTIPART_FILENAME_MAX (cut) */
    const uint8_t *data;  /* DATA */
    size_t len;           /* DATA */
    uint64_t offset;      /* DATA: where data starts in the form, counted from its first byte;
                             PART: where the part's value begins */
    const char *why;      /* ERROR: a static sentence for the client */
} multipart_event_t;

/* A parser for a form with this boundary (as multipart_boundary gives it); NULL when the
 * boundary is empty or too long, or out of memory. The caller owns it. */
multipart_stream_t *multipart_stream_new(const char *boundary);
void multipart_stream_destroy(multipart_stream_t **self_p);

/* Where the next bytes of the form go: *at, and how many fit (0: call multipart_stream_next
 * first). Then multipart_stream_wrote says how many were put there. */
size_t multipart_stream_space(multipart_stream_t *self, uint8_t **at);
void multipart_stream_wrote(multipart_stream_t *self, size_t n);
/* Copy up to len bytes of the form in; how many were taken. */
size_t multipart_stream_feed(multipart_stream_t *self, const uint8_t *data, size_t len);
/* The form has no more bytes: what is missing is now an error, not MULTIPART_EV_MORE. */
void multipart_stream_end(multipart_stream_t *self);

/* The next event of the form given so far. After DONE or ERROR, the same again. */
void multipart_stream_next(multipart_stream_t *self, multipart_event_t *ev);

#endif
