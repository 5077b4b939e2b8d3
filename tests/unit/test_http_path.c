/*
 * test_http_path.c - unit tests of the request path decoder (frontend/http_path.h).
 *
 * What a canonical path is: plain paths pass unchanged, %-escapes decode, and every second
 * spelling of a resource is refused (dot segments however encoded, "//", encoded separators,
 * NUL and control bytes, invalid or overlong UTF-8); a path over HTTP_PATH_MAX is 404.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../frontend/http_path.h"

#include <string.h>

/* Decode a NUL-terminated raw path; the status, the decoded path in out. */
static int
s_decode(const char *raw, char out[HTTP_PATH_MAX + 1])
{
    const char *why = NULL;
    int status = http_path_decode(raw, strlen(raw), out, &why);
    if (status != 0)
        assert_non_null(why);
    return status;
}

static void
s_accepts(const char *raw, const char *want)
{
    char out[HTTP_PATH_MAX + 1];
    assert_int_equal(s_decode(raw, out), 0);
    assert_string_equal(out, want);
}

static void
s_refuses(const char *raw, int status)
{
    char out[HTTP_PATH_MAX + 1];
    assert_int_equal(s_decode(raw, out), status);
}

static void
test_plain_paths(void **state)
{
    s_accepts("/", "/");
    s_accepts("/api/v1/jobs", "/api/v1/jobs");
    s_accepts("/app/", "/app/");
    s_accepts("/a-b._~!$&'()*+,;=:@c", "/a-b._~!$&'()*+,;=:@c");
    s_accepts("/.well-known/x", "/.well-known/x");
    s_accepts("/a/...", "/a/...");
}

static void
test_percent_encoding(void **state)
{
    s_accepts("/a%20b", "/a b");
    s_accepts("/%41%62c", "/Abc");
    s_accepts("/%c3%a9t%C3%A9", "/\xc3\xa9t\xc3\xa9");
    s_accepts("/%25", "/%");
    s_refuses("/a%2", 400);
    s_refuses("/a%", 400);
    s_refuses("/a%g0", 400);
    s_refuses("/a%0g", 400);
    s_refuses("/a%2fb", 400); /* encoded separator */
    s_refuses("/a%2Fb", 400);
    s_refuses("/a%5cb", 400);
    s_refuses("/a b", 400); /* must be escaped */
    s_refuses("/a\"b", 400);
    s_refuses("/a?b", 400); /* the query string is not part of the path */
    s_refuses("/a#b", 400);
    s_refuses("/a\\b", 400);
}

static void
test_nul_and_controls(void **state)
{
    s_refuses("/a%00b", 400);
    s_refuses("/a%00", 400);
    s_refuses("/a%0d%0aX-Injected:%201", 400);
    s_refuses("/a%1f", 400);
    s_refuses("/a%7f", 400);
    s_refuses("/a\tb", 400);
    /* A raw NUL inside the given length is refused too, never taken as the end. */
    char out[HTTP_PATH_MAX + 1];
    const char *why = NULL;
    assert_int_equal(http_path_decode("/a\0b", 4, out, &why), 400);
}

static void
test_dot_segments_and_slashes(void **state)
{
    s_refuses("/.", 400);
    s_refuses("/..", 400);
    s_refuses("/a/./b", 400);
    s_refuses("/a/../b", 400);
    s_refuses("/a/..", 400);
    s_refuses("/a/%2e%2e/b", 400);
    s_refuses("/a/%2E./b", 400);
    s_refuses("/a/.%2e", 400);
    s_refuses("/a/%2e", 400);
    s_refuses("//a", 400);
    s_refuses("/a//b", 400);
    s_refuses("/a/b//", 400);
    s_refuses("", 400);
    s_refuses("a/b", 400);
    s_refuses("*", 400);
    s_refuses("http://host/a", 400);
}

static void
test_utf8(void **state)
{
    s_accepts("/%e2%82%ac", "/\xe2\x82\xac");        /* 3 bytes */
    s_accepts("/%F0%9F%98%80", "/\xf0\x9f\x98\x80"); /* 4 bytes */
    s_accepts("/%ef%bf%bd", "/\xef\xbf\xbd");        /* a genuine U+FFFD */
}

static void
test_invalid_utf8(void **state)
{
    s_refuses("/%c3%28", 400);       /* bad continuation */
    s_refuses("/%c0%af", 400);       /* overlong '/' */
    s_refuses("/%e0%80%af", 400);    /* overlong, 3 bytes */
    s_refuses("/%ed%a0%80", 400);    /* surrogate */
    s_refuses("/%f4%90%80%80", 400); /* past U+10FFFF */
    s_refuses("/%ff", 400);
    s_refuses("/%e2%82", 400);   /* truncated */
    s_refuses("/\xc3\xa9", 400); /* raw non-ASCII must be escaped */
}

static void
test_length(void **state)
{
    char raw[3 * HTTP_PATH_MAX + 8], out[HTTP_PATH_MAX + 1];
    const char *why = NULL;
    /* Exactly HTTP_PATH_MAX decoded bytes: served. */
    raw[0] = '/';
    memset(raw + 1, 'a', HTTP_PATH_MAX - 1);
    assert_int_equal(http_path_decode(raw, HTTP_PATH_MAX, out, &why), 0);
    assert_int_equal(strlen(out), HTTP_PATH_MAX);
    /* One more: no such resource. */
    raw[HTTP_PATH_MAX] = 'a';
    assert_int_equal(http_path_decode(raw, HTTP_PATH_MAX + 1, out, &why), 404);
    /* The limit counts decoded bytes: HTTP_PATH_MAX escapes fit, one more does not. */
    size_t n = 1;
    for (int i = 0; i < HTTP_PATH_MAX - 1; i++, n += 3)
        memcpy(raw + n, "%41", 3);
    assert_int_equal(http_path_decode(raw, n, out, &why), 0);
    memcpy(raw + n, "%41", 3);
    assert_int_equal(http_path_decode(raw, n + 3, out, &why), 404);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_paths),
        cmocka_unit_test(test_percent_encoding),
        cmocka_unit_test(test_nul_and_controls),
        cmocka_unit_test(test_dot_segments_and_slashes),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
