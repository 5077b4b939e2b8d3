/*
 * fuzz_multipart.c - libFuzzer target for the multipart/form-data parser
 * (frontend/multipart.h, docs/security.md "HTTP").
 *
 * Input: byte 0 (mod 70, plus 1) the boundary length L, byte 1 the size of the file-name
 * buffer (mod 48), byte 2 the max of the "title" field, then L bytes of boundary (NUL bytes
 * become 'x'), then the form. Checked:
 *   - the parser ends with OK, MALFORMED (with a sentence) or TOO_LARGE (with exactly one
 *     field flagged `overflow`, whose len is over its max and value NULL);
 *   - a found field's value lies inside the form, is at most its max, and is followed at once
 *     by CR LF "--" boundary (the delimiter that ends it);
 *   - the file name is NUL-terminated inside its buffer, at its last byte when it was cut
 *     (`filename_long`);
 *   - the same input parses the same way twice (no hidden state);
 *   - multipart_boundary on a Content-Type built from the boundary gives it back or refuses.
 */
#include "../frontend/multipart.h"

#include "fuzz_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_check_field(const multipart_field_t *f, const uint8_t *form, size_t len, const char *boundary)
{
    if (!f->found) {
        FUZZ_CHECK(f->value == NULL && f->len == 0 && !f->overflow);
        return;
    }
    if (f->overflow) {
        FUZZ_CHECK(f->value == NULL && f->len > f->max);
        return;
    }
    FUZZ_CHECK(f->len <= f->max);
    FUZZ_CHECK(f->value >= form && f->value + f->len <= form + len);
    size_t blen = strlen(boundary);
    const uint8_t *after = f->value + f->len;
    FUZZ_CHECK((size_t)(form + len - after) >= 4 + blen);
    FUZZ_CHECK(memcmp(after, "\r\n--", 4) == 0 && memcmp(after + 4, boundary, blen) == 0);
    if (f->filename != NULL && f->filename_size > 0) {
        /* The name may hold NUL bytes of its own (a C string then ends early). */
        FUZZ_CHECK(memchr(f->filename, '\0', f->filename_size) != NULL);
        if (f->filename_long)
            FUZZ_CHECK(f->filename[f->filename_size - 1] == '\0');
    }
}

static multipart_status_t
s_parse(const uint8_t *form, size_t len, const char *boundary, multipart_field_t fields[2],
        char *filename, size_t filename_size, size_t title_max, const char **why)
{
    memset(fields, 0, 2 * sizeof fields[0]);
    fields[0] = (multipart_field_t){.name = "file",
                                    .max = 1 << 20,
                                    .filename = filename_size ? filename : NULL,
                                    .filename_size = filename_size};
    fields[1] = (multipart_field_t){.name = "title", .max = title_max};
    *why = NULL;
    return multipart_parse(form, len, boundary, fields, 2, why);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t blen = data[0] % MULTIPART_BOUNDARY_MAX + 1;
    size_t filename_size = data[1] % 48;
    size_t title_max = data[2];
    data += 3, size -= 3;
    if (size < blen)
        return 0;
    char boundary[MULTIPART_BOUNDARY_MAX + 1];
    for (size_t i = 0; i < blen; i++)
        boundary[i] = data[i] ? (char)data[i] : 'x';
    boundary[blen] = '\0';
    data += blen, size -= blen;

    /* The form in a buffer of its own size, so that ASan sees every read past it. */
    uint8_t *form = malloc(size ? size : 1);
    FUZZ_CHECK(form != NULL);
    memcpy(form, data, size);

    multipart_field_t fields[2], again[2];
    char filename[48], filename2[48];
    const char *why, *why2;
    multipart_status_t st =
        s_parse(form, size, boundary, fields, filename, filename_size, title_max, &why);
    multipart_status_t st2 =
        s_parse(form, size, boundary, again, filename2, filename_size, title_max, &why2);
    FUZZ_CHECK(st == st2);
    FUZZ_CHECK(st == MULTIPART_OK || st == MULTIPART_MALFORMED || st == MULTIPART_TOO_LARGE);
    if (st == MULTIPART_MALFORMED)
        FUZZ_CHECK(why != NULL && why[0] != '\0' && why2 == why);
    int overflows = fields[0].overflow + fields[1].overflow;
    FUZZ_CHECK(st == MULTIPART_TOO_LARGE ? overflows == 1 : overflows == 0);
    for (int i = 0; i < 2; i++) {
        s_check_field(&fields[i], form, size, boundary);
        FUZZ_CHECK(fields[i].found == again[i].found && fields[i].len == again[i].len &&
                   fields[i].value == again[i].value);
    }
    if (fields[0].found && !fields[0].overflow && filename_size > 0)
        FUZZ_CHECK(strcmp(filename, filename2) == 0);

    /* The boundary parameter, quoted, reads back (unless it holds a quote). */
    char ct[128], got[MULTIPART_BOUNDARY_MAX + 1];
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=\"%s\"", boundary);
    if (multipart_boundary(ct, got, sizeof got) == 0)
        FUZZ_CHECK(strchr(boundary, '"') == NULL ? strcmp(got, boundary) == 0 : strlen(got) < blen);
    else
        FUZZ_CHECK(strchr(boundary, '"') != NULL);
    free(form);
    return 0;
}
