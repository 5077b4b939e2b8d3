/* form_upload.c - see form_upload.h. */
#include "form_upload.h"

#include <string.h>

/* Bytes of an epilogue (after the closing delimiter) read and dropped per read. */
#define FORM_UPLOAD_DRAIN 4096

int
form_upload_begin(form_upload_t *self, http_request_t *req, size_t file_max, size_t body_max)
{
    memset(self, 0, sizeof *self);
    self->req = req;
    self->file_max = file_max;
    self->body_max = body_max;
    self->status = HTTP_BODY_MALFORMED;
    char boundary[MULTIPART_BOUNDARY_MAX + 1];
    const char *content_type = http_header(req, "Content-Type");
    if (content_type == NULL || multipart_boundary(content_type, boundary, sizeof boundary) != 0) {
        self->why = "the multipart form has no valid boundary";
        return -1;
    }
    self->stream = multipart_stream_new(boundary);
    if (self->stream == NULL) {
        self->status = HTTP_BODY_NOMEM;
        return -1;
    }
    self->status = HTTP_BODY_OK;
    return 0;
}

void
form_upload_fini(form_upload_t *self)
{
    multipart_stream_destroy(&self->stream);
}

static long
s_fail(form_upload_t *self, http_body_status_t status, const char *why)
{
    self->status = status;
    self->why = why;
    return -1;
}

/* More of the body into the parser: 0, or -1 with self->status. */
static int
s_fill(form_upload_t *self)
{
    uint8_t *at;
    size_t room = multipart_stream_space(self->stream, &at);
    http_body_status_t status = HTTP_BODY_OK;
    ssize_t n = http_body_read_some(self->req, at, room, &status);
    if (n < 0)
        return (int)s_fail(self, status, NULL);
    if (self->req->body_read > self->body_max)
        return (int)s_fail(self, HTTP_BODY_TOO_LARGE, NULL);
    if (n == 0)
        multipart_stream_end(self->stream);
    else
        multipart_stream_wrote(self->stream, (size_t)n);
    return 0;
}

/* After the closing delimiter: read the rest of the body (an epilogue) so that the connection
 * can serve its next request; 0 or -1. */
static long
s_drain(form_upload_t *self)
{
    uint8_t scratch[FORM_UPLOAD_DRAIN];
    for (;;) {
        http_body_status_t status = HTTP_BODY_OK;
        ssize_t n = http_body_read_some(self->req, scratch, sizeof scratch, &status);
        if (n < 0)
            return s_fail(self, status, NULL);
        if (n == 0)
            return 0;
        if (self->req->body_read > self->body_max)
            return s_fail(self, HTTP_BODY_TOO_LARGE, NULL);
    }
}

/* A part begins: which of ours it is. -1 for a field twice. */
static long
s_part(form_upload_t *self, const multipart_event_t *ev)
{
    self->part = FORM_UPLOAD_OTHER;
    if (ev->name_long)
        return 0;
    if (strcmp(ev->name, "file") == 0) {
        if (self->file_found)
            return s_fail(self, HTTP_BODY_MALFORMED, "a form field appears twice");
        self->file_found = true;
        self->part = FORM_UPLOAD_FILE;
        size_t len = strlen(ev->filename);
        memcpy(self->filename, ev->filename, len + 1);
        self->filename_long = ev->filename_long;
    } else if (strcmp(ev->name, "title") == 0) {
        if (self->title_found)
            return s_fail(self, HTTP_BODY_MALFORMED, "a form field appears twice");
        self->title_found = true;
        self->part = FORM_UPLOAD_TITLE;
    }
    return 0;
}

long
form_upload_read(void *arg, uint8_t *buf, size_t size)
{
    form_upload_t *self = arg;
    if (self->status != HTTP_BODY_OK)
        return -1;
    for (;;) {
        if (self->pending_len > 0) {
            size_t n = self->pending_len < size ? self->pending_len : size;
            memcpy(buf, self->pending, n);
            self->pending += n;
            self->pending_len -= n;
            return (long)n;
        }
        if (self->done)
            return 0;
        multipart_event_t ev;
        multipart_stream_next(self->stream, &ev);
        switch (ev.type) {
        case MULTIPART_EV_MORE:
            if (s_fill(self) != 0)
                return -1;
            break;
        case MULTIPART_EV_PART:
            if (s_part(self, &ev) != 0)
                return -1;
            break;
        case MULTIPART_EV_DATA:
            if (self->part == FORM_UPLOAD_FILE) {
                if (ev.len > self->file_max - self->file_len)
                    return s_fail(self, HTTP_BODY_TOO_LARGE, NULL);
                self->file_len += ev.len;
                self->pending = ev.data; /* valid until the stream's next call */
                self->pending_len = ev.len;
            } else if (self->part == FORM_UPLOAD_TITLE) {
                if (ev.len > FORM_UPLOAD_TITLE_MAX - self->title_len) {
                    self->title_long = true;
                    return s_fail(self, HTTP_BODY_TOO_LARGE, NULL);
                }
                memcpy(self->title + self->title_len, ev.data, ev.len);
                self->title_len += ev.len;
                self->title[self->title_len] = '\0';
            }
            break;
        case MULTIPART_EV_END:
            self->part = FORM_UPLOAD_OTHER;
            break;
        case MULTIPART_EV_DONE:
            if (!self->file_found)
                return s_fail(self, HTTP_BODY_MALFORMED, "the form has no \"file\" field");
            if (s_drain(self) != 0)
                return -1;
            self->done = true;
            return 0;
        case MULTIPART_EV_ERROR:
            return s_fail(self, HTTP_BODY_MALFORMED, ev.why);
        }
    }
}
