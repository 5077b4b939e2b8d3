/*
 * test_page.c - unit tests of cursor pagination (frontend/page.h): cursors round-trip and are
 * refused when edited or of another list, and the next link keeps the request's parameters.
 * The next link is made from the real route table's checked values (routes.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "page.h"

#include "route_handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID "5b0c2b5e-3f9a-4c51-9d7e-0c7a2f7d7a10"

/* The route table's handlers: never called here. */
#define STUB(name)                                                                                 \
    void name(api_call_t *call)                                                                    \
    {                                                                                              \
        (void)call;                                                                                \
    }
ROUTE_HANDLERS(STUB)

static void
test_cursors_round_trip(void **state)
{
    (void)state;
    char text[PAGE_CURSOR_MAX + 1];
    page_cursor_t cursor;
    page_cursor_encode('j', 1733330000123456LL, ID, text, sizeof text);
    assert_true(strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
                strlen(text));
    assert_true(page_cursor_decode_uuid(text, 'j', &cursor));
    assert_int_equal(cursor.number, 1733330000123456LL);
    assert_string_equal(cursor.id, ID);

    page_cursor_encode('e', 42, "", text, sizeof text);
    assert_true(page_cursor_decode(text, 'e', &cursor));
    assert_int_equal(cursor.number, 42);
    assert_string_equal(cursor.id, "");
}

static void
test_cursors_of_another_list_or_edited_are_refused(void **state)
{
    (void)state;
    char text[PAGE_CURSOR_MAX + 1], edited[PAGE_CURSOR_MAX + 1];
    page_cursor_t cursor;
    page_cursor_encode('j', 5, ID, text, sizeof text);
    assert_false(page_cursor_decode_uuid(text, 'a', &cursor)); /* another list's kind */
    snprintf(edited, sizeof edited, "%s", text);
    edited[strlen(edited) - 3] = edited[strlen(edited) - 3] == 'A' ? 'B' : 'A';
    assert_false(page_cursor_decode_uuid(edited, 'j', &cursor)); /* the id no longer a uuid */
    edited[5] = '!';
    assert_false(page_cursor_decode(edited, 'j', &cursor)); /* not base64url */
    assert_false(page_cursor_decode("", 'j', &cursor));
    assert_false(page_cursor_decode("AAAA", 'j', &cursor));
    page_cursor_encode('j', 5, "not-a-uuid", text, sizeof text);
    assert_false(page_cursor_decode_uuid(text, 'j', &cursor));
    page_cursor_encode('j', 5, "5B0C2B5E-3F9A-4C51-9D7E-0C7A2F7D7A10", text, sizeof text);
    assert_false(page_cursor_decode_uuid(text, 'j', &cursor)); /* never given out in capitals */
    char long_text[PAGE_CURSOR_MAX + 8];
    memset(long_text, 'A', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    assert_false(page_cursor_decode(long_text, 'j', &cursor));
}

/* The checked values of a request to the route of method path with query. */
typedef struct {
    const char *names[4], *values[4];
} s_query_t;

static int
s_query(void *ctx, const char *name, char *buf, size_t size)
{
    s_query_t *q = ctx;
    for (size_t i = 0; i < 4 && q->names[i] != NULL; i++) {
        if (strcmp(q->names[i], name) == 0) {
            snprintf(buf, size, "%s", q->values[i]);
            return (int)strlen(q->values[i]);
        }
    }
    return -1;
}

static bool
s_type(void *ctx, const char *type)
{
    (void)ctx;
    (void)type;
    return false;
}

static void
test_next_link_keeps_the_parameters(void **state)
{
    (void)state;
    s_query_t q = {{"q", "limit", "cursor"}, {"cell wall & more", "7", "old"}};
    route_request_t request = {.method = "GET",
                               .path = "/api/v1/courses",
                               .query = s_query,
                               .content_type_is = s_type,
                               .ctx = &q};
    route_result_t result;
    assert_true(route_match(&request, &result));
    assert_true(route_check(&request, AUTH_ROLE_STUDENT, &result));
    char link[PAGE_LINK_MAX];
    assert_true(page_next_link("/api/v1/courses", &result, "bmV4dA", link, sizeof link));
    assert_string_equal(link, "/api/v1/courses?q=cell%20wall%20%26%20more&limit=7&cursor=bmV4dA");

    /* Defaults the client did not give are left out; a link too long is refused. */
    s_query_t none = {{NULL}, {NULL}};
    request.ctx = &none;
    request.path = "/api/v1/jobs";
    assert_true(route_match(&request, &result));
    assert_true(route_check(&request, AUTH_ROLE_TEACHER, &result));
    assert_true(page_next_link("/api/v1/jobs", &result, "Yw", link, sizeof link));
    assert_string_equal(link, "/api/v1/jobs?cursor=Yw");
    assert_false(page_next_link("/api/v1/jobs", &result, "Yw", link, 10));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cursors_round_trip),
        cmocka_unit_test(test_cursors_of_another_list_or_edited_are_refused),
        cmocka_unit_test(test_next_link_keeps_the_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
