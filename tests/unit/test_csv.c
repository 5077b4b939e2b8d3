/*
 * test_csv.c - unit tests of the CSV writer of the results export (frontend/csv.h): RFC 4180
 * quoting, bare numbers, empty NULLs, and the formula guard.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "csv.h"

#include <stdlib.h>
#include <string.h>

static char *
s_record(const char *const *fields, const bool *text, size_t n)
{
    strbuf_t out;
    strbuf_init(&out);
    for (size_t i = 0; i < n; i++)
        csv_field(&out, i == 0, fields[i], fields[i] ? strlen(fields[i]) : 0, text[i]);
    csv_end_record(&out);
    size_t len = 0;
    return strbuf_steal(&out, &len);
}

static void
test_quotes_text_and_leaves_numbers_bare(void **state)
{
    (void)state;
    const char *fields[] = {"Smith, \"Jo\"", "3", NULL, "line\nend"};
    const bool text[] = {true, false, false, true};
    char *line = s_record(fields, text, 4);
    assert_string_equal(line, "\"Smith, \"\"Jo\"\"\",3,,\"line\nend\"\r\n");
    free(line);
}

static void
test_guards_formulas(void **state)
{
    (void)state;
    const char *fields[] = {"=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "ok", ""};
    const bool text[] = {true, true, true, true, true, true};
    char *line = s_record(fields, text, 6);
    assert_string_equal(line,
                        "\"'=HYPERLINK(\"\"x\"\")\",\"'+1\",\"'-2\",\"'@SUM(A1)\",\"ok\",\"\"\r\n");
    free(line);
    /* Numbers are not guarded: a negative score stays a number. */
    const char *numbers[] = {"-1", "0.500"};
    const bool bare[] = {false, false};
    line = s_record(numbers, bare, 2);
    assert_string_equal(line, "-1,0.500\r\n");
    free(line);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quotes_text_and_leaves_numbers_bare),
        cmocka_unit_test(test_guards_formulas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
