/* multipart.c - see multipart.h. */
#define _GNU_SOURCE /* memmem */
#include "multipart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int
multipart_boundary(const char *content_type, char *out, size_t size)
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
        if (len == 0 || len > MULTIPART_BOUNDARY_MAX || len >= size)
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

/* ---------------------------------------------------------------- incremental parser */

typedef enum {
    S_PREAMBLE, /* before the first delimiter */
    S_AFTER,    /* just after a delimiter: "--", or padding and CRLF */
    S_HEADERS,  /* a part's header block */
    S_VALUE,    /* a part's value */
    S_DONE,     /* the closing delimiter was seen */
    S_ERROR,
} s_state_t;

struct multipart_stream_t {
    char delimiter[MULTIPART_BOUNDARY_MAX + 5]; /* "\r\n--" boundary */
    size_t dlen;
    s_state_t state;
    const char *why; /* S_ERROR */
    uint8_t *buf;    /* MULTIPART_STREAM_WINDOW bytes: the form's bytes not yet parsed */
    size_t start;    /* [start, end) is unparsed */
    size_t end;
    uint64_t pos; /* where buf[start] is in the form, plus 2 (the CRLF put before it) */
    bool ended;   /* multipart_stream_end was called */
    bool padded;  /* S_AFTER: padding seen (then "--" cannot follow) */
    char name[MULTIPART_NAME_MAX + 1];
    char filename[MULTIPART_FILENAME_MAX + 1];
};

multipart_stream_t *
multipart_stream_new(const char *boundary)
{
    size_t blen = strlen(boundary);
    if (blen == 0 || blen > MULTIPART_BOUNDARY_MAX)
        return NULL;
    multipart_stream_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->buf = malloc(MULTIPART_STREAM_WINDOW);
    if (self->buf == NULL) {
        free(self);
        return NULL;
    }
    self->dlen = (size_t)snprintf(self->delimiter, sizeof self->delimiter, "\r\n--%s", boundary);
    /* A CRLF before the form makes its first delimiter one like any other: "--B" at the very
     * start, or "\r\n--B" after a preamble. */
    memcpy(self->buf, "\r\n", 2);
    self->end = 2;
    self->state = S_PREAMBLE;
    return self;
}

void
multipart_stream_destroy(multipart_stream_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    free((*self_p)->buf);
    free(*self_p);
    *self_p = NULL;
}

size_t
multipart_stream_space(multipart_stream_t *self, uint8_t **at)
{
    if (self->start > 0) {
        memmove(self->buf, self->buf + self->start, self->end - self->start);
        self->end -= self->start;
        self->start = 0;
    }
    *at = self->buf + self->end;
    return self->ended ? 0 : MULTIPART_STREAM_WINDOW - self->end;
}

void
multipart_stream_wrote(multipart_stream_t *self, size_t n)
{
    self->end += n;
}

size_t
multipart_stream_feed(multipart_stream_t *self, const uint8_t *data, size_t len)
{
    uint8_t *at;
    size_t room = multipart_stream_space(self, &at);
    size_t n = len < room ? len : room;
    memcpy(at, data, n);
    multipart_stream_wrote(self, n);
    return n;
}

void
multipart_stream_end(multipart_stream_t *self)
{
    self->ended = true;
}

static void
s_consume(multipart_stream_t *self, size_t n)
{
    self->start += n;
    self->pos += n;
}

static void
s_fail(multipart_stream_t *self, multipart_event_t *ev, const char *why)
{
    self->state = S_ERROR;
    self->why = why;
    ev->type = MULTIPART_EV_ERROR;
    ev->why = why;
}

/* Not enough bytes to go on: MORE, or the error `why` when no more will come. */
static void
s_more(multipart_stream_t *self, multipart_event_t *ev, const char *why)
{
    if (self->ended)
        s_fail(self, ev, why);
    else
        ev->type = MULTIPART_EV_MORE;
}

/* A complete header block [p, p + len) (its final CRLF included): the PART event. */
static void
s_part(multipart_stream_t *self, const char *p, size_t len, multipart_event_t *ev)
{
    const char *disposition = NULL, *disposition_end = NULL;
    if (s_disposition(p, p + len, &disposition, &disposition_end) != 0) {
        s_fail(self, ev, "a form part has no Content-Disposition header");
        return;
    }
    long name_len =
        s_disposition_param(disposition, disposition_end, "name", self->name, sizeof self->name);
    if (name_len < 0) {
        s_fail(self, ev, "a form part has no name");
        return;
    }
    long file_len = s_disposition_param(disposition, disposition_end, "filename", self->filename,
                                        sizeof self->filename);
    if (file_len < 0)
        self->filename[0] = '\0';
    ev->type = MULTIPART_EV_PART;
    ev->name = self->name;
    ev->name_long = name_len >= (long)sizeof self->name;
    ev->filename = self->filename;
    ev->filename_long = file_len >= (long)sizeof self->filename;
    self->state = S_VALUE;
}

void
multipart_stream_next(multipart_stream_t *self, multipart_event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    for (;;) {
        const uint8_t *p = self->buf + self->start;
        size_t avail = self->end - self->start;
        switch (self->state) {
        case S_PREAMBLE: {
            const uint8_t *d = memmem(p, avail, self->delimiter, self->dlen);
            if (d == NULL) {
                /* Keep what may be the start of a delimiter cut by the end of the input. */
                if (avail >= self->dlen)
                    s_consume(self, avail - (self->dlen - 1));
                s_more(self, ev, "the form does not start with its boundary");
                return;
            }
            s_consume(self, (size_t)(d - p) + self->dlen);
            self->state = S_AFTER;
            self->padded = false;
            continue;
        }
        case S_AFTER:
            if (avail >= 1 && (p[0] == ' ' || p[0] == '\t')) { /* transport padding */
                s_consume(self, 1);
                self->padded = true;
                continue;
            }
            if (avail < 2) {
                s_more(self, ev, "the multipart form is malformed");
                return;
            }
            if (p[0] == '-' && p[1] == '-' && !self->padded) {
                self->state = S_DONE;
                continue;
            }
            if (p[0] != '\r' || p[1] != '\n') {
                s_fail(self, ev, "the multipart form is malformed");
                return;
            }
            s_consume(self, 2);
            self->state = S_HEADERS;
            continue;
        case S_HEADERS: {
            size_t window = avail < MULTIPART_HEADERS_MAX ? avail : MULTIPART_HEADERS_MAX;
            const uint8_t *end = memmem(p, window, "\r\n\r\n", 4);
            if (end == NULL) {
                if (avail >= MULTIPART_HEADERS_MAX)
                    s_fail(self, ev, "a form part has no Content-Disposition header");
                else
                    s_more(self, ev, "a form part has no Content-Disposition header");
                return;
            }
            size_t len = (size_t)(end - p) + 4;
            s_part(self, (const char *)p, len - 2, ev);
            if (ev->type == MULTIPART_EV_PART) {
                s_consume(self, len);
                ev->offset = self->pos - 2; /* where its value begins */
            }
            return;
        }
        case S_VALUE: {
            const uint8_t *d = memmem(p, avail, self->delimiter, self->dlen);
            size_t safe = d != NULL             ? (size_t)(d - p)
                          : avail >= self->dlen ? avail - (self->dlen - 1)
                                                : 0;
            if (safe > 0) {
                ev->type = MULTIPART_EV_DATA;
                ev->data = p;
                ev->len = safe;
                ev->offset = self->pos - 2;
                s_consume(self, safe);
                return;
            }
            if (d == NULL) {
                s_more(self, ev, "the form does not end with its closing boundary");
                return;
            }
            s_consume(self, self->dlen);
            self->state = S_AFTER;
            self->padded = false;
            ev->type = MULTIPART_EV_END;
            return;
        }
        case S_DONE:
            ev->type = MULTIPART_EV_DONE;
            return;
        case S_ERROR:
            ev->type = MULTIPART_EV_ERROR;
            ev->why = self->why;
            return;
        }
    }
}

/* ---------------------------------------------------------------- whole forms */

static multipart_status_t
s_malformed(const char **why, const char *sentence)
{
    *why = sentence;
    return MULTIPART_MALFORMED;
}

static multipart_field_t *
s_field(multipart_field_t *fields, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fields[i].name, name) == 0)
            return &fields[i];
    return NULL;
}

/* A wanted part begins: its file name into the caller's buffer (the field counts as found
 * once its value has ended). */
static multipart_status_t
s_take(multipart_field_t *field, const multipart_event_t *ev, const char **why)
{
    if (field->found)
        return s_malformed(why, "a form field appears twice");
    if (field->filename != NULL && field->filename_size > 0) {
        size_t len = strlen(ev->filename);
        size_t n = len < field->filename_size ? len : field->filename_size - 1;
        memcpy(field->filename, ev->filename, n);
        field->filename[n] = '\0';
        field->filename_long = ev->filename_long || len >= field->filename_size;
    }
    return MULTIPART_OK;
}

multipart_status_t
multipart_parse(const uint8_t *data, size_t len, const char *boundary, multipart_field_t *fields,
                size_t n, const char **why)
{
    multipart_stream_t *stream = multipart_stream_new(boundary);
    if (stream == NULL)
        return s_malformed(why, "the multipart form has no valid boundary");
    multipart_status_t status = MULTIPART_OK;
    multipart_field_t *field = NULL; /* the wanted part being read */
    size_t start = 0, value_len = 0; /* its value so far */
    size_t fed = 0;
    for (bool more = true; more;) {
        multipart_event_t ev;
        multipart_stream_next(stream, &ev);
        switch (ev.type) {
        case MULTIPART_EV_MORE:
            fed += multipart_stream_feed(stream, data + fed, len - fed);
            if (fed == len)
                multipart_stream_end(stream);
            break;
        case MULTIPART_EV_PART:
            field = ev.name_long ? NULL : s_field(fields, n, ev.name);
            start = (size_t)ev.offset;
            value_len = 0;
            if (field != NULL && (status = s_take(field, &ev, why)) != MULTIPART_OK)
                more = false;
            break;
        case MULTIPART_EV_DATA:
            value_len += ev.len;
            break;
        case MULTIPART_EV_END:
            if (field != NULL) {
                field->found = true;
                field->len = value_len;
                if (value_len > field->max) {
                    field->overflow = true;
                    status = MULTIPART_TOO_LARGE;
                    more = false;
                } else {
                    field->value = data + start;
                }
            }
            field = NULL;
            break;
        case MULTIPART_EV_DONE:
            more = false;
            break;
        case MULTIPART_EV_ERROR:
            status = s_malformed(why, ev.why);
            more = false;
            break;
        }
    }
    multipart_stream_destroy(&stream);
    return status;
}
