/* test_session.c - the pure rules of browser sessions (frontend/session.h, docs/api.md 2.1):
 * the cookie read from a Cookie header, the CSRF token, the Origin and Sec-Fetch-Site checks,
 * and the Set-Cookie line's attributes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "session.h"

#define ID "pas_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define ID2 "pas_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"

static void
test_cookie_is_found_once_and_well_formed(void **state)
{
    (void)state;
    char id[SECRET_SIZE];
    bool present;
    assert_true(session_cookie_id("profai_session=" ID, id, &present));
    assert_true(present);
    assert_string_equal(id, ID);
    assert_true(session_cookie_id("a=b; profai_session=" ID "; c=d", id, &present));
    assert_string_equal(id, ID);
    /* Absent, malformed, a look-alike name, or twice: not a session. */
    assert_false(session_cookie_id(NULL, id, &present));
    assert_false(present);
    assert_false(session_cookie_id("x_profai_session=" ID, id, &present));
    assert_false(present);
    assert_false(session_cookie_id("profai_session=pas_short", id, &present));
    assert_true(present);
    assert_false(session_cookie_id("profai_session=pai_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                   id, &present));
    assert_false(session_cookie_id("profai_session=" ID "; profai_session=" ID2, id, &present));
    assert_true(present);
}

static void
test_csrf_token_is_derived_and_compared_exactly(void **state)
{
    (void)state;
    char a[SESSION_CSRF_SIZE], b[SESSION_CSRF_SIZE], again[SESSION_CSRF_SIZE];
    session_csrf(ID, a);
    session_csrf(ID2, b);
    session_csrf(ID, again);
    assert_int_equal(strlen(a), 43);
    assert_string_equal(a, again);
    assert_string_not_equal(a, b);
    /* Never the session id itself, nor contained in it. */
    assert_null(strstr(ID, a));
    assert_true(session_csrf_matches(a, a));
    assert_false(session_csrf_matches(b, a));
    assert_false(session_csrf_matches(NULL, a));
    assert_false(session_csrf_matches("", a));
}

static void
test_origin_and_fetch_site(void **state)
{
    (void)state;
    const char *host = "profai.example:8080";
    assert_null(session_origin_problem(NULL, NULL, host, NULL));
    assert_null(session_origin_problem("http://profai.example:8080", NULL, host, NULL));
    assert_null(session_origin_problem("https://profai.example:8080", "same-origin", host, NULL));
    assert_null(session_origin_problem(NULL, "none", host, NULL));
    assert_non_null(session_origin_problem("https://evil.example", NULL, host, NULL));
    assert_non_null(session_origin_problem("http://profai.example", NULL, host, NULL));
    assert_non_null(session_origin_problem("null", NULL, host, NULL));
    assert_non_null(session_origin_problem(NULL, "cross-site", host, NULL));
    assert_non_null(session_origin_problem(NULL, "same-site", host, NULL));
    assert_non_null(session_origin_problem("http://profai.example:8080", "cross-site", host, NULL));
    /* A configured other origin is allowed; nothing else is. */
    assert_null(session_origin_problem("https://app.example", NULL, host,
                                       "https://other.example, https://app.example"));
    assert_non_null(
        session_origin_problem("https://app.example.evil", NULL, host, "https://app.example"));
}

static void
test_set_cookie_attributes(void **state)
{
    (void)state;
    char line[256];
    session_set_cookie(line, sizeof line, ID, 3600, false);
    assert_string_equal(line, "Set-Cookie: profai_session=" ID
                              "; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict\r\n");
    session_set_cookie(line, sizeof line, ID, 60, true);
    assert_non_null(strstr(line, "; Secure\r\n"));
    session_set_cookie(line, sizeof line, NULL, 0, false);
    assert_string_equal(line, "Set-Cookie: profai_session=; Path=/; Max-Age=0; HttpOnly; "
                              "SameSite=Strict\r\n");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cookie_is_found_once_and_well_formed),
        cmocka_unit_test(test_csrf_token_is_derived_and_compared_exactly),
        cmocka_unit_test(test_origin_and_fetch_site),
        cmocka_unit_test(test_set_cookie_attributes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
