/*
 * form_upload.h - the file of a multipart/form-data upload (docs/api.md 4.1) as a byte stream:
 * the request body is read piece by piece through the incremental parser of multipart.h, and
 * the bytes of the form's "file" part come out of form_upload_read (a db_blob_reader_fn, for
 * db_blob_store_pieces), so the frontend holds one parser window of the form, never the PDF.
 * The "title" field is kept (it may come before or after the file); every other field is
 * skipped.
 *
 * The form must be whole and well-formed: form_upload_read gives its end (0) only after the
 * closing delimiter, so a PDF is stored only from a complete form. A failed read returns -1
 * with status (and why) saying what went wrong: HTTP_BODY_MALFORMED (no "file" field, a
 * field twice, not RFC 7578), HTTP_BODY_TOO_LARGE (the file over file_max, the title over
 * FORM_UPLOAD_TITLE_MAX: title_long, or the whole body over body_max), or the body reader's
 * own (timeout, I/O).
 */
#ifndef PROFAI_FRONTEND_FORM_UPLOAD_H
#define PROFAI_FRONTEND_FORM_UPLOAD_H

#include "http.h"
#include "multipart.h"

#include <profai/compiler.h>
#include <profai/proto.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FORM_UPLOAD_TITLE_MAX PROTO_TITLE_MAX

typedef struct {
    /* results, once form_upload_read has given 0 (title and filename also on failure) */
    char title[FORM_UPLOAD_TITLE_MAX + 1];
    size_t title_len;
    bool title_found;
    bool title_long;                           /* over FORM_UPLOAD_TITLE_MAX */
    char filename[MULTIPART_FILENAME_MAX + 1]; /* the file part's filename parameter */
    bool filename_long;
    bool file_found;
    size_t file_len;           /* file bytes given so far */
    http_body_status_t status; /* why a read failed; HTTP_BODY_OK while none did */
    const char *why;           /* HTTP_BODY_MALFORMED: a static sentence for the client */
    /* private */
    http_request_t *req;
    multipart_stream_t *stream;
    size_t file_max, body_max;
    enum { FORM_UPLOAD_OTHER, FORM_UPLOAD_FILE, FORM_UPLOAD_TITLE } part;
    const uint8_t *pending; /* file bytes of the last event not yet given */
    size_t pending_len;
    bool done;
} form_upload_t;

/* Prepare to read req's form (its Content-Type names the boundary). 0; -1 with why set when
 * the boundary is missing or invalid, or out of memory. Call form_upload_fini in both cases. */
int form_upload_begin(form_upload_t *self, http_request_t *req, size_t file_max,
                      size_t body_max) PROFAI_MUST_CHECK;
void form_upload_fini(form_upload_t *self);

/* db_blob_reader_fn over a form_upload_t: up to size bytes of the file; 0 at the form's end;
 * -1 with self->status. */
long form_upload_read(void *self, uint8_t *buf, size_t size);

#endif
