/* multipart.c - see multipart.h. */
#define _GNU_SOURCE /* memmem */
#include "multipart.h"

#include <stdio.h>
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

/* Record a wanted part: its value [value, value + len) and its file name. */
static multipart_status_t
s_take(multipart_field_t *field, const uint8_t *value, size_t len, const char *disposition,
       const char *disposition_end, const char **why)
{
    if (field->found)
        return s_malformed(why, "a form field appears twice");
    field->found = true;
    field->len = len;
    if (len > field->max) {
        field->overflow = true;
        return MULTIPART_TOO_LARGE;
    }
    field->value = value;
    if (field->filename != NULL && field->filename_size > 0) {
        long n = s_disposition_param(disposition, disposition_end, "filename", field->filename,
                                     field->filename_size);
        if (n < 0)
            field->filename[0] = '\0';
        field->filename_long = n >= (long)field->filename_size;
    }
    return MULTIPART_OK;
}

multipart_status_t
multipart_parse(const uint8_t *data, size_t len, const char *boundary, multipart_field_t *fields,
                size_t n, const char **why)
{
    char delimiter[MULTIPART_BOUNDARY_MAX + 5];
    size_t blen = strlen(boundary);
    if (blen == 0 || blen > MULTIPART_BOUNDARY_MAX)
        return s_malformed(why, "the multipart form has no valid boundary");
    size_t dlen = (size_t)snprintf(delimiter, sizeof delimiter, "\r\n--%s", boundary);
    const uint8_t *end = data + len;
    /* The first delimiter opens the body, or follows a preamble. */
    const uint8_t *p = NULL;
    if (len >= dlen - 2 && memcmp(data, delimiter + 2, dlen - 2) == 0)
        p = data + dlen - 2;
    else if ((p = memmem(data, len, delimiter, dlen)) != NULL)
        p += dlen;
    else
        return s_malformed(why, "the form does not start with its boundary");

    for (;;) {
        /* After a delimiter: "--" closes the form, else optional padding and CRLF. */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return MULTIPART_OK;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return s_malformed(why, "the multipart form is malformed");
        p += 2;
        size_t window =
            (size_t)(end - p) < MULTIPART_HEADERS_MAX ? (size_t)(end - p) : MULTIPART_HEADERS_MAX;
        const uint8_t *headers_end = memmem(p, window, "\r\n\r\n", 4);
        const char *disposition = NULL, *disposition_end = NULL;
        if (headers_end == NULL || s_disposition((const char *)p, (const char *)headers_end + 2,
                                                 &disposition, &disposition_end) != 0)
            return s_malformed(why, "a form part has no Content-Disposition header");
        const uint8_t *value = headers_end + 4;
        const uint8_t *next = memmem(value, (size_t)(end - value), delimiter, dlen);
        if (next == NULL)
            return s_malformed(why, "the form does not end with its closing boundary");

        char name[MULTIPART_NAME_MAX + 1];
        long name_len =
            s_disposition_param(disposition, disposition_end, "name", name, sizeof name);
        if (name_len < 0)
            return s_malformed(why, "a form part has no name");
        multipart_field_t *field = (size_t)name_len < sizeof name ? s_field(fields, n, name) : NULL;
        if (field != NULL) {
            multipart_status_t status =
                s_take(field, value, (size_t)(next - value), disposition, disposition_end, why);
            if (status != MULTIPART_OK)
                return status;
        }
        p = next + dlen;
    }
}
