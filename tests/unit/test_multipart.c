/*
 * test_multipart.c - unit tests of the multipart/form-data parser (frontend/multipart.h).
 *
 * Forms as browsers and curl send them, then every way a form can be malformed or hostile:
 * boundary parameters, a missing opening or closing delimiter, text that looks like a
 * delimiter inside a value, header injection in a part, huge part header blocks, duplicate
 * fields, file names (quoted, escaped, cut) and value limits. The incremental parser
 * (multipart_stream_t) is checked against itself: every form, split at every byte boundary
 * (and fed one byte at a time), gives the same parts, values and verdict as fed whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../frontend/multipart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B "XyZ"

/* The two fields the upload handler asks for. */
typedef struct {
    multipart_field_t fields[2];
    char filename[32];
    const char *why;
} s_form_t;

static multipart_status_t
s_parse(s_form_t *f, const char *body, size_t len)
{
    memset(f, 0, sizeof *f);
    f->fields[0] = (multipart_field_t){
        .name = "file", .max = 64, .filename = f->filename, .filename_size = sizeof f->filename};
    f->fields[1] = (multipart_field_t){.name = "title", .max = 16};
    return multipart_parse((const uint8_t *)body, len, B, f->fields, 2, &f->why);
}

static multipart_status_t
s_parse_str(s_form_t *f, const char *body)
{
    return s_parse(f, body, strlen(body));
}

static void
s_value_is(const multipart_field_t *field, const char *want)
{
    assert_true(field->found);
    assert_non_null(field->value);
    assert_int_equal(field->len, strlen(want));
    assert_memory_equal(field->value, want, field->len);
}

static void
test_boundary_parameter(void **state)
{
    char b[MULTIPART_BOUNDARY_MAX + 1];
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=abc", b, sizeof b), 0);
    assert_string_equal(b, "abc");
    assert_int_equal(multipart_boundary("multipart/form-data;boundary=\"a b;c\"", b, sizeof b), 0);
    assert_string_equal(b, "a b;c");
    assert_int_equal(
        multipart_boundary("multipart/form-data; charset=x; BOUNDARY=q1 ", b, sizeof b), 0);
    assert_string_equal(b, "q1");
    assert_int_equal(multipart_boundary("multipart/form-data", b, sizeof b), -1);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=", b, sizeof b), -1);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=\"abc", b, sizeof b), -1);
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=\"\"", b, sizeof b), -1);
    /* 70 characters are allowed (RFC 2046), 71 are not. */
    char ct[200];
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%070d", 7);
    assert_int_equal(multipart_boundary(ct, b, sizeof b), 0);
    assert_int_equal(strlen(b), 70);
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%071d", 7);
    assert_int_equal(multipart_boundary(ct, b, sizeof b), -1);
    /* ... and never more than the caller's buffer. */
    assert_int_equal(multipart_boundary("multipart/form-data; boundary=abcdef", b, 4), -1);
}

static void
test_curl_form(void **state)
{
    s_form_t f;
    const char *body = "--" B "\r\n"
                       "Content-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n"
                       "Content-Type: application/pdf\r\n"
                       "\r\n"
                       "%PDF-1.4 data\r\n"
                       "--" B "\r\n"
                       "Content-Disposition: form-data; name=\"title\"\r\n"
                       "\r\n"
                       "My title\r\n"
                       "--" B "--\r\n";
    assert_int_equal(s_parse_str(&f, body), MULTIPART_OK);
    s_value_is(&f.fields[0], "%PDF-1.4 data");
    assert_string_equal(f.filename, "a.pdf");
    assert_false(f.fields[0].filename_long);
    s_value_is(&f.fields[1], "My title");
}

static void
test_preamble_padding_and_epilogue(void **state)
{
    s_form_t f;
    const char *body = "preamble text\r\n--" B "  \t\r\n"
                       "content-disposition: form-data; name=title\r\n\r\n"
                       "t\r\n--" B "--epilogue is ignored";
    assert_int_equal(s_parse_str(&f, body), MULTIPART_OK);
    s_value_is(&f.fields[1], "t");
    assert_false(f.fields[0].found);
}

static void
test_empty_and_binary_values(void **state)
{
    s_form_t f;
    static const char body[] = "--" B "\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n"
                               "\0\r\n\xff--\r\n" B "\r\n"
                               "--" B "\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n"
                               "\r\n--" B "--";
    assert_int_equal(s_parse(&f, body, sizeof body - 1), MULTIPART_OK);
    assert_int_equal(f.fields[0].len, 11);
    assert_memory_equal(f.fields[0].value, "\0\r\n\xff--\r\nXyZ", 11);
    assert_string_equal(f.filename, ""); /* no filename parameter */
    s_value_is(&f.fields[1], "");
}

static void
test_delimiter_lookalikes_in_values(void **state)
{
    s_form_t f;
    /* "--XyZ" without the CRLF before it, and "\r\n--Xy" cut short, are data. */
    const char *body = "--" B "\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n"
                       "a--" B "b\r\n--Xy\r\n"
                       "\r\n--" B "--\r\n";
    assert_int_equal(s_parse_str(&f, body), MULTIPART_OK);
    s_value_is(&f.fields[1], "a--XyZb\r\n--Xy\r\n");
}

static void
test_missing_delimiters(void **state)
{
    s_form_t f;
    assert_int_equal(s_parse_str(&f, ""), MULTIPART_MALFORMED);
    assert_int_equal(s_parse_str(&f, "no delimiter at all"), MULTIPART_MALFORMED);
    assert_string_equal(f.why, "the form does not start with its boundary");
    const char *unclosed = "--" B "\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nabc";
    assert_int_equal(s_parse_str(&f, unclosed), MULTIPART_MALFORMED);
    assert_string_equal(f.why, "the form does not end with its closing boundary");
    /* A last delimiter without "--" opens a part that has no headers. */
    const char *open = "--" B "\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nabc\r\n"
                       "--" B "\r\n";
    assert_int_equal(s_parse_str(&f, open), MULTIPART_MALFORMED);
    /* Garbage after a delimiter. */
    assert_int_equal(s_parse_str(&f, "--" B "x\r\n"), MULTIPART_MALFORMED);
    assert_int_equal(s_parse_str(&f, "--" B), MULTIPART_MALFORMED);
    /* The empty form is allowed. */
    assert_int_equal(s_parse_str(&f, "--" B "--"), MULTIPART_OK);
}

static void
test_part_headers(void **state)
{
    s_form_t f;
    assert_int_equal(s_parse_str(&f, "--" B "\r\nX-Other: 1\r\n\r\nzz\r\n--" B "--"),
                     MULTIPART_MALFORMED);
    assert_string_equal(f.why, "a form part has no Content-Disposition header");
    assert_int_equal(
        s_parse_str(&f, "--" B "\r\nContent-Disposition: form-data\r\n\r\nzz\r\n--" B "--"),
        MULTIPART_MALFORMED);
    assert_string_equal(f.why, "a form part has no name");
    assert_int_equal(
        s_parse_str(&f,
                    "--" B "\r\nContent-Disposition: form-data; name=\"tit\r\n\r\nz\r\n--" B "--"),
        MULTIPART_MALFORMED);
    /* A name that only appears inside another header's value is not the disposition. */
    assert_int_equal(s_parse_str(&f, "--" B "\r\nX-A: Content-Disposition: form-data; "
                                     "name=title\r\n\r\nz\r\n--" B "--"),
                     MULTIPART_MALFORMED);
}

static void
test_header_injection(void **state)
{
    s_form_t f;
    /* A quoted value does not run on past its line: the CR LF inside the open quote ends the
     * Content-Disposition header, and the injected line after it is just another header. */
    const char *body = "--" B "\r\nContent-Disposition: form-data; name=\"title\"; "
                       "filename=\"x\r\nContent-Disposition: form-data; name=\\\"file\\\"\"\r\n"
                       "\r\nv\r\n--" B "--";
    assert_int_equal(s_parse_str(&f, body), MULTIPART_OK);
    s_value_is(&f.fields[1], "v");
    assert_false(f.fields[0].found);
    /* The first Content-Disposition line wins: a second one does not rename the part. */
    body = "--" B "\r\nContent-Disposition: form-data; name=\"title\"\r\n"
           "Content-Disposition: form-data; name=\"file\"\r\n\r\nv\r\n--" B "--";
    assert_int_equal(s_parse_str(&f, body), MULTIPART_OK);
    s_value_is(&f.fields[1], "v");
    assert_false(f.fields[0].found);
}

static void
test_huge_part_headers(void **state)
{
    s_form_t f;
    size_t pad = MULTIPART_HEADERS_MAX;
    char *body = malloc(pad + 256);
    assert_non_null(body);
    int n = snprintf(body, 256, "--" B "\r\nContent-Disposition: form-data; name=\"title\"\r\nX: ");
    /* A header block that ends just inside the limit is fine ... */
    size_t fill = MULTIPART_HEADERS_MAX - (size_t)n + 2 - 2 - 4 - 4; /* headers + "\r\n\r\n" */
    memset(body + n, 'a', fill);
    size_t len = (size_t)n + fill;
    len += (size_t)snprintf(body + len, pad + 256 - len, "\r\n\r\nv\r\n--" B "--");
    assert_int_equal(s_parse(&f, body, len), MULTIPART_OK);
    s_value_is(&f.fields[1], "v");
    /* ... one that does not end within MULTIPART_HEADERS_MAX bytes is refused. */
    memset(body + n, 'a', pad);
    len = (size_t)n + pad;
    len += (size_t)snprintf(body + len, pad + 256 - len, "\r\n\r\nv\r\n--" B "--");
    assert_int_equal(s_parse(&f, body, len), MULTIPART_MALFORMED);
    assert_string_equal(f.why, "a form part has no Content-Disposition header");
    /* ... and so is one that never ends. */
    memset(body + n, 'a', pad);
    assert_int_equal(s_parse(&f, body, (size_t)n + pad), MULTIPART_MALFORMED);
    free(body);
}

static void
test_duplicate_fields(void **state)
{
    s_form_t f;
    const char *title = "--" B "\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nt\r\n";
    char body[512];
    snprintf(body, sizeof body, "%s%s--" B "--", title, title);
    assert_int_equal(s_parse_str(&f, body), MULTIPART_MALFORMED);
    assert_string_equal(f.why, "a form field appears twice");
    /* Fields nobody asked for may repeat. */
    const char *other = "--" B "\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nt\r\n";
    snprintf(body, sizeof body, "%s%s%s--" B "--", other, title, other);
    assert_int_equal(s_parse_str(&f, body), MULTIPART_OK);
    s_value_is(&f.fields[1], "t");
    /* Names match exactly (case and length). */
    const char *upper = "--" B "\r\nContent-Disposition: form-data; name=\"TITLE\"\r\n\r\nu\r\n";
    snprintf(body, sizeof body, "%s%s--" B "--", upper, title);
    assert_int_equal(s_parse_str(&f, body), MULTIPART_OK);
    s_value_is(&f.fields[1], "t");
}

static void
test_filenames(void **state)
{
    s_form_t f;
    char body[512];
    const char *fmt = "--" B "\r\nContent-Disposition: form-data; name=\"file\"; %s\r\n\r\n"
                      "d\r\n--" B "--";
    snprintf(body, sizeof body, fmt, "filename=\"a \\\"q\\\" b.pdf\"");
    assert_int_equal(s_parse_str(&f, body), MULTIPART_OK);
    assert_string_equal(f.filename, "a \"q\" b.pdf");
    snprintf(body, sizeof body, fmt, "filename=plain.pdf");
    assert_int_equal(s_parse_str(&f, body), MULTIPART_OK);
    assert_string_equal(f.filename, "plain.pdf");
    /* A path is kept as sent (the caller never builds a path from it). */
    snprintf(body, sizeof body, fmt, "filename=\"../../etc/passwd\"");
    assert_int_equal(s_parse_str(&f, body), MULTIPART_OK);
    assert_string_equal(f.filename, "../../etc/passwd");
    /* Too long for the caller's buffer: cut and flagged. */
    snprintf(body, sizeof body, fmt, "filename=\"0123456789012345678901234567890123456789.pdf\"");
    assert_int_equal(s_parse_str(&f, body), MULTIPART_OK);
    assert_true(f.fields[0].filename_long);
    assert_int_equal(strlen(f.filename), sizeof f.filename - 1);
    /* Exactly filling it is not too long. */
    snprintf(body, sizeof body, fmt, "filename=\"0123456789012345678901234567890\"");
    assert_int_equal(s_parse_str(&f, body), MULTIPART_OK);
    assert_false(f.fields[0].filename_long);
    assert_string_equal(f.filename, "0123456789012345678901234567890");
    /* filename* and other parameters are not the file name. */
    snprintf(body, sizeof body, fmt, "filename*=UTF-8''x.pdf; size=3");
    assert_int_equal(s_parse_str(&f, body), MULTIPART_OK);
    assert_string_equal(f.filename, "");
    /* An unterminated quoted file name breaks the header. */
    snprintf(body, sizeof body, fmt, "filename=\"abc");
    assert_int_equal(s_parse_str(&f, body), MULTIPART_OK); /* name parsed first: still found */
    assert_string_equal(f.filename, "");
}

static void
test_limits(void **state)
{
    s_form_t f;
    char body[512];
    const char *fmt =
        "--" B "\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n%s\r\n--" B "--";
    snprintf(body, sizeof body, fmt, "0123456789abcdef"); /* max 16: fits */
    assert_int_equal(s_parse_str(&f, body), MULTIPART_OK);
    assert_int_equal(f.fields[1].len, 16);
    snprintf(body, sizeof body, fmt, "0123456789abcdefg");
    assert_int_equal(s_parse_str(&f, body), MULTIPART_TOO_LARGE);
    assert_true(f.fields[1].overflow);
    assert_null(f.fields[1].value);
    assert_int_equal(f.fields[1].len, 17);
    /* A name longer than MULTIPART_NAME_MAX never matches, and is no error. */
    char name[MULTIPART_NAME_MAX + 8];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    snprintf(body, sizeof body,
             "--" B "\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\nv\r\n--" B "--", name);
    assert_int_equal(s_parse_str(&f, body), MULTIPART_OK);
    /* An invalid boundary given by a careless caller is refused, not overrun. */
    char big[MULTIPART_BOUNDARY_MAX + 2];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    multipart_field_t none = {.name = "x", .max = 1};
    const char *why = NULL;
    assert_int_equal(multipart_parse((const uint8_t *)"--", 2, big, &none, 1, &why),
                     MULTIPART_MALFORMED);
    assert_int_equal(multipart_parse((const uint8_t *)"--", 2, "", &none, 1, &why),
                     MULTIPART_MALFORMED);
}

/* ---------------------------------------------------------------- incremental parser */

/* What the stream reported, however its DATA pieces were cut: "P<name>|<filename>|<flags>;"
 * per part, "V<length>:<value bytes>E;" at its end, then "DONE" or "ERROR:<why>". */
typedef struct {
    uint8_t out[4096];
    size_t len;
    uint8_t value[4096]; /* the current part's value so far */
    size_t value_len;
} s_trace_t;

static void
s_trace_add(s_trace_t *t, const void *data, size_t len)
{
    assert_true(t->len + len <= sizeof t->out);
    memcpy(t->out + t->len, data, len);
    t->len += len;
}

static void
s_trace_str(s_trace_t *t, const char *s)
{
    s_trace_add(t, s, strlen(s));
}

/* Feed body[0, len) to a stream in pieces ending at cut_a, then at cut_b, then the rest; or,
 * bytewise, one byte at a time. */
static void
s_stream_run(const char *body, size_t len, size_t cut_a, size_t cut_b, bool bytewise, s_trace_t *t)
{
    memset(t, 0, sizeof *t);
    multipart_stream_t *st = multipart_stream_new(B);
    assert_non_null(st);
    size_t fed = 0;
    uint64_t next_offset = 0;
    char line[256];
    for (;;) {
        multipart_event_t ev;
        multipart_stream_next(st, &ev);
        switch (ev.type) {
        case MULTIPART_EV_MORE: {
            size_t until = bytewise ? fed + 1 : fed < cut_a ? cut_a : fed < cut_b ? cut_b : len;
            if (until > len)
                until = len;
            fed += multipart_stream_feed(st, (const uint8_t *)body + fed, until - fed);
            if (fed == len)
                multipart_stream_end(st);
            continue;
        }
        case MULTIPART_EV_PART:
            snprintf(line, sizeof line, "P%s|%s|%d%d;", ev.name, ev.filename, ev.name_long,
                     ev.filename_long);
            s_trace_str(t, line);
            t->value_len = 0;
            next_offset = 0;
            continue;
        case MULTIPART_EV_DATA:
            /* Never empty; its offset says where it lies in the form, after the last piece. */
            assert_true(ev.len > 0);
            assert_true(ev.offset + ev.len <= len);
            assert_memory_equal(body + ev.offset, ev.data, ev.len);
            assert_true(ev.offset >= next_offset);
            assert_true(next_offset == 0 || ev.offset == next_offset);
            next_offset = ev.offset + ev.len;
            assert_true(t->value_len + ev.len <= sizeof t->value);
            memcpy(t->value + t->value_len, ev.data, ev.len);
            t->value_len += ev.len;
            continue;
        case MULTIPART_EV_END:
            snprintf(line, sizeof line, "V%zu:", t->value_len);
            s_trace_str(t, line);
            s_trace_add(t, t->value, t->value_len);
            s_trace_str(t, "E;");
            t->value_len = 0;
            continue;
        case MULTIPART_EV_DONE:
            s_trace_str(t, "DONE");
            break;
        case MULTIPART_EV_ERROR:
            snprintf(line, sizeof line, "ERROR:%s", ev.why);
            s_trace_str(t, line);
            break;
        }
        break;
    }
    /* After the verdict, the stream keeps it. */
    multipart_event_t again;
    multipart_stream_next(st, &again);
    assert_true(again.type == MULTIPART_EV_DONE || again.type == MULTIPART_EV_ERROR);
    multipart_stream_destroy(&st);
}

static void
s_trace_equal(const s_trace_t *a, const s_trace_t *b, const char *body, size_t i, size_t j)
{
    if (a->len != b->len || memcmp(a->out, b->out, a->len) != 0)
        fail_msg("form \"%s\" cut at %zu and %zu: \"%.*s\" != \"%.*s\"", body, i, j, (int)a->len,
                 (const char *)a->out, (int)b->len, (const char *)b->out);
}

/* Forms good and bad, with delimiter lookalikes where cuts hurt most. */
static const char *const s_forms[] = {
    "--" B "\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nMy title\r\n"
    "--" B "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n"
    "Content-Type: application/pdf\r\n\r\n%PDF-1.4\r\n\r\n--" B "x--\r\n--X\r\n--" B "--\r\n",
    "preamble\r\n--XyZ!\r\n--" B " \t\r\nContent-Disposition: form-data; name=a\r\n\r\n\r\n"
    "--" B "--epilogue",
    "\r\n\r\n--" B "\r\nContent-Disposition: form-data; name=t\r\n\r\n"
    "\r\r\n\r\n-\r\n--\r\n--X\r\n--Xy\r\n-" B "\r\n\r\n--" B "--",
    "--" B "--",
    "",
    "no delimiter",
    "--" B "\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nunclosed\r\n--" B,
    "--" B "\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nunclosed\r\n--X",
    "--" B "\r\nX-Other: 1\r\n\r\nzz\r\n--" B "--",
    "--" B "\r\nContent-Disposition: form-data\r\n\r\nzz\r\n--" B "--",
    "--" B "\r\nContent-Disposition: form-data; name=\"a\r\n\r\nzz\r\n--" B "--",
    "--" B "x\r\n",
    "--" B " --",
    "--" B "\r\nContent-Disposition: form-data; name=t\r\n",
};

static void
test_stream_every_split(void **state)
{
    for (size_t f = 0; f < sizeof s_forms / sizeof s_forms[0]; f++) {
        const char *body = s_forms[f];
        size_t len = strlen(body);
        s_trace_t whole, split;
        s_stream_run(body, len, len, len, false, &whole);
        /* The stream's verdict is multipart_parse's, which is built on it. */
        s_form_t parsed;
        bool ok = s_parse(&parsed, body, len) == MULTIPART_OK;
        bool done = whole.len >= 4 && memcmp(whole.out + whole.len - 4, "DONE", 4) == 0;
        assert_int_equal(ok, done);
        for (size_t i = 0; i <= len; i++)
            for (size_t j = i; j <= len; j++) {
                s_stream_run(body, len, i, j, false, &split);
                s_trace_equal(&whole, &split, body, i, j);
            }
        s_stream_run(body, len, 0, 0, true, &split);
        s_trace_equal(&whole, &split, body, 1, 1);
    }
}

static void
test_stream_large_value_bounded_window(void **state)
{
    /* A value many windows long streams through: the stream never holds more than its window,
     * and the value comes out whole, in order, with exact offsets. */
    size_t value_len = 5 * MULTIPART_STREAM_WINDOW + 123;
    const char *head =
        "--" B "\r\nContent-Disposition: form-data; name=\"file\"; filename=f\r\n\r\n";
    const char *tail = "\r\n--" B "--";
    size_t len = strlen(head) + value_len + strlen(tail);
    uint8_t *body = malloc(len);
    assert_non_null(body);
    memcpy(body, head, strlen(head));
    for (size_t i = 0; i < value_len; i++) /* "\r\n--Xy" lookalikes throughout */
        body[strlen(head) + i] = (uint8_t) "\r\n--Xyab"[i % 8];
    memcpy(body + strlen(head) + value_len, tail, strlen(tail));
    multipart_stream_t *st = multipart_stream_new(B);
    size_t fed = 0, got = 0;
    bool done = false;
    while (!done) {
        multipart_event_t ev;
        multipart_stream_next(st, &ev);
        switch (ev.type) {
        case MULTIPART_EV_MORE: {
            uint8_t *at;
            size_t room = multipart_stream_space(st, &at);
            assert_true(room > 0 && room <= MULTIPART_STREAM_WINDOW);
            size_t n = len - fed < room ? len - fed : room;
            memcpy(at, body + fed, n);
            multipart_stream_wrote(st, n);
            fed += n;
            if (fed == len)
                multipart_stream_end(st);
            break;
        }
        case MULTIPART_EV_DATA:
            assert_int_equal(ev.offset, strlen(head) + got);
            assert_memory_equal(ev.data, body + ev.offset, ev.len);
            got += ev.len;
            break;
        case MULTIPART_EV_PART:
            assert_string_equal(ev.filename, "f");
            break;
        case MULTIPART_EV_END:
            assert_int_equal(got, value_len);
            break;
        case MULTIPART_EV_DONE:
            done = true;
            break;
        case MULTIPART_EV_ERROR:
            fail_msg("%s", ev.why);
        }
    }
    multipart_stream_destroy(&st);
    free(body);
    /* A boundary the stream cannot use is refused. */
    assert_null(multipart_stream_new(""));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary_parameter),
        cmocka_unit_test(test_curl_form),
        cmocka_unit_test(test_preamble_padding_and_epilogue),
        cmocka_unit_test(test_empty_and_binary_values),
        cmocka_unit_test(test_delimiter_lookalikes_in_values),
        cmocka_unit_test(test_missing_delimiters),
        cmocka_unit_test(test_part_headers),
        cmocka_unit_test(test_header_injection),
        cmocka_unit_test(test_huge_part_headers),
        cmocka_unit_test(test_duplicate_fields),
        cmocka_unit_test(test_filenames),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_stream_every_split),
        cmocka_unit_test(test_stream_large_value_bounded_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
