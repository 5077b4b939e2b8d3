/*
 * test_json_in.c - unit tests of the request-body JSON reader (frontend/json_in.h).
 *
 * Values of every type, then each refusal the header promises: nesting depth, value count,
 * duplicate keys, invalid UTF-8, escapes (surrogate pairs, lone surrogates, \u0000), control
 * characters, trailing text, numbers (big, leading zeros) and every extension.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../frontend/json_in.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const json_in_limits_t s_limits = {.max_depth = 4, .max_values = 64};
static char s_err[256];

static json_in_doc_t *
s_parse_n(const char *text, size_t len)
{
    s_err[0] = '\0';
    return json_in_parse(text, len, &s_limits, s_err, sizeof s_err);
}

static json_in_doc_t *
s_parse(const char *text)
{
    return s_parse_n(text, strlen(text));
}

/* The text is refused, with an error mentioning `why`. */
static void
s_refused(const char *text, const char *why)
{
    json_in_doc_t *doc = s_parse(text);
    if (doc != NULL)
        fail_msg("accepted: %s", text);
    if (strstr(s_err, why) == NULL)
        fail_msg("%s: error \"%s\" does not say \"%s\"", text, s_err, why);
}

static void
test_values(void **state)
{
    json_in_doc_t *doc =
        s_parse(" {\"a\": [1, -2.5e3, true, false, null], \"s\": \"x\", \"o\": {}} \n");
    assert_non_null(doc);
    const json_in_value_t *root = json_in_root(doc);
    assert_int_equal(root->type, JSON_IN_OBJECT);
    assert_int_equal(root->count, 3);
    const json_in_value_t *a = json_in_member(root, "a");
    assert_non_null(a);
    assert_int_equal(a->type, JSON_IN_ARRAY);
    assert_int_equal(a->count, 5);
    assert_true(a->items[0].is_integer);
    assert_int_equal(a->items[0].integer, 1);
    assert_false(a->items[1].is_integer);
    assert_string_equal(a->items[1].text, "-2.5e3");
    assert_true(a->items[2].boolean);
    assert_int_equal(a->items[3].type, JSON_IN_BOOL);
    assert_false(a->items[3].boolean);
    assert_int_equal(a->items[4].type, JSON_IN_NULL);
    assert_string_equal(json_in_member(root, "s")->text, "x");
    assert_int_equal(json_in_member(root, "o")->count, 0);
    assert_null(json_in_member(root, "missing"));
    assert_null(json_in_member(a, "a")); /* not an object */
    json_in_free(&doc);
    assert_null(doc);
    json_in_free(&doc); /* NULL-safe */
    /* Scalars at the top are values too. */
    doc = s_parse("\"top\"");
    assert_non_null(doc);
    assert_string_equal(json_in_root(doc)->text, "top");
    json_in_free(&doc);
}

static void
test_depth(void **state)
{
    json_in_doc_t *doc = s_parse("[[[[1]]]]"); /* 4 levels: the limit */
    assert_non_null(doc);
    json_in_free(&doc);
    s_refused("[[[[[1]]]]]", "nested deeper than 4 levels");
    s_refused("{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}", "nested deeper");
    /* A deep bomb fails at the limit, not by recursion. */
    char bomb[100001];
    memset(bomb, '[', sizeof bomb - 1);
    bomb[sizeof bomb - 1] = '\0';
    s_refused(bomb, "nested deeper");
}

static void
test_value_count(void **state)
{
    char text[1024] = "[";
    for (int i = 0; i < 63; i++) /* 63 items + the array = 64 values */
        strcat(text, i ? ",0" : "0");
    strcat(text, "]");
    json_in_doc_t *doc = s_parse(text);
    assert_non_null(doc);
    json_in_free(&doc);
    text[strlen(text) - 1] = '\0';
    strcat(text, ",0]");
    s_refused(text, "more than 64 values");
}

static void
test_numbers(void **state)
{
    json_in_doc_t *doc = s_parse("[9223372036854775807, -9223372036854775808, "
                                 "9223372036854775808, 1e400, 123456789012345678901234567890, 0, "
                                 "-0, 0.5]");
    assert_non_null(doc);
    const json_in_value_t *a = json_in_root(doc);
    assert_true(a->items[0].is_integer);
    assert_true(a->items[0].integer == LLONG_MAX);
    assert_true(a->items[1].is_integer);
    assert_true(a->items[1].integer == LLONG_MIN);
    assert_false(a->items[2].is_integer); /* out of range: text only */
    assert_string_equal(a->items[2].text, "9223372036854775808");
    assert_false(a->items[3].is_integer);
    assert_string_equal(a->items[4].text, "123456789012345678901234567890");
    assert_true(a->items[5].is_integer);
    assert_true(a->items[6].is_integer);
    assert_int_equal(a->items[6].integer, 0);
    json_in_free(&doc);
    s_refused("01", "may not start with 0");
    s_refused("-", "needs digits");
    s_refused("1.", "fraction needs digits");
    s_refused("1e", "exponent needs digits");
    s_refused("+1", "unexpected character");
    s_refused(".5", "unexpected character");
    s_refused("NaN", "unexpected character");
    s_refused("Infinity", "unexpected character");
    s_refused("0x10", "text after the value");
}

static void
test_duplicate_keys(void **state)
{
    s_refused("{\"a\":1,\"a\":2}", "the key \"a\" appears twice");
    /* The same key spelt with an escape is the same key. */
    s_refused("{\"a\":1,\"\\u0061\":2}", "appears twice");
    /* Same key in different objects is fine. */
    json_in_doc_t *doc = s_parse("{\"a\":{\"a\":1},\"b\":{\"a\":2}}");
    assert_non_null(doc);
    json_in_free(&doc);
}

static void
test_strings_and_escapes(void **state)
{
    json_in_doc_t *doc = s_parse("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u00e9\\u20AC\", "
                                 "\"\\ud83d\\ude00\", \"\xc3\xa9\"]");
    assert_non_null(doc);
    const json_in_value_t *a = json_in_root(doc);
    assert_string_equal(a->items[0].text, "\"\\/\b\f\n\r\t");
    assert_int_equal(a->items[0].len, 8);
    assert_string_equal(a->items[1].text, "\xc3\xa9\xe2\x82\xac");
    assert_string_equal(a->items[2].text, "\xf0\x9f\x98\x80");
    assert_string_equal(a->items[3].text, "\xc3\xa9");
    json_in_free(&doc);
    s_refused("\"\\u0000\"", "\\u0000 is not accepted");
    s_refused("\"\\ud83d\"", "high surrogate without its low surrogate");
    s_refused("\"\\ud83dx\"", "high surrogate without");
    s_refused("\"\\ud83d\\u0041\"", "high surrogate without");
    s_refused("\"\\ude00\"", "lone low surrogate");
    s_refused("\"\\u12\"", "four hex digits");
    s_refused("\"\\u12G4\"", "four hex digits");
    s_refused("\"\\x41\"", "unknown escape");
    s_refused("\"\\'\"", "unknown escape");
    s_refused("\"a\tb\"", "control character");
    s_refused("\"a\nb\"", "control character");
    s_refused("\"abc", "without its closing quote");
    s_refused("\"abc\\\"", "without its closing quote");
    s_refused("'a'", "unexpected character");
}

static void
test_invalid_utf8(void **state)
{
    s_refused("\"\xff\"", "not valid UTF-8");
    s_refused("\"\xc3\x28\"", "not valid UTF-8");
    s_refused("\"\xc0\xaf\"", "not valid UTF-8");     /* overlong */
    s_refused("\"\xed\xa0\x80\"", "not valid UTF-8"); /* encoded surrogate */
    s_refused("\"\xf4\x90\x80\x80\"", "not valid UTF-8");
    s_refused("\"\xe2\x82\"", "not valid UTF-8"); /* truncated */
    s_refused("{\"k\xff\":1}", "not valid UTF-8");
    /* A raw NUL byte is a control character inside a string, and garbage outside. */
    json_in_doc_t *doc = s_parse_n("\"a\0b\"", 5);
    assert_null(doc);
    assert_non_null(strstr(s_err, "control character"));
    assert_null(s_parse_n("1\0", 2));
}

static void
test_trailing_and_extensions(void **state)
{
    s_refused("{} {}", "text after the value");
    s_refused("1 x", "text after the value");
    s_refused("[1,]", "unexpected character");
    s_refused("{\"a\":1,}", "object key must be a string");
    s_refused("{a:1}", "object key must be a string");
    s_refused("{\"a\" 1}", "a ':' must follow");
    s_refused("[1 2]", "expected ',' or ']'");
    s_refused("// c\n1", "unexpected character");
    s_refused("/* c */ 1", "unexpected character");
    s_refused("tru", "unknown word");
    s_refused("nul", "unknown word");
    s_refused("", "a value is missing");
    s_refused("   ", "a value is missing");
    s_refused("[", "a value is missing");
    s_refused("{", "object key must be a string");
    /* Errors say where. */
    s_refused("[1,x]", "at byte 3");
}

static void
test_size_caps(void **state)
{
    /* A large flat string is fine within the value count: size is the caller's cap. */
    size_t n = 1 << 20;
    char *text = malloc(n + 3);
    assert_non_null(text);
    text[0] = '"';
    memset(text + 1, 'a', n);
    text[n + 1] = '"';
    json_in_doc_t *doc = s_parse_n(text, n + 2);
    assert_non_null(doc);
    assert_int_equal(json_in_root(doc)->len, n);
    json_in_free(&doc);
    /* Only the given length is read: a cut text is refused, never read past. */
    assert_null(s_parse_n(text, n + 1));
    assert_non_null(strstr(s_err, "without its closing quote"));
    free(text);
    /* Width bombs stop at max_values. */
    char wide[4096] = "{";
    for (int i = 0; i < 100; i++) {
        char member[32];
        snprintf(member, sizeof member, "%s\"k%d\":[]", i ? "," : "", i);
        strcat(wide, member);
    }
    strcat(wide, "}");
    s_refused(wide, "more than 64 values");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),         cmocka_unit_test(test_depth),
        cmocka_unit_test(test_value_count),    cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_duplicate_keys), cmocka_unit_test(test_strings_and_escapes),
        cmocka_unit_test(test_invalid_utf8),   cmocka_unit_test(test_trailing_and_extensions),
        cmocka_unit_test(test_size_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
