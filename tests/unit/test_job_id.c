/*
 * test_job_id.c - unit tests of the broker's random UUIDs (broker/job_id.h): canonical form,
 * version 4 and the RFC 4122 variant, and no repeat across many buffer refills.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "job_id.h"

#include <stdlib.h>
#include <string.h>

static void
s_check_form(const char *id)
{
    assert_int_equal(strlen(id), JOB_ID_LEN);
    for (int i = 0; i < JOB_ID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(id[i], '-');
        else
            assert_non_null(strchr("0123456789abcdef", id[i]));
    }
    assert_int_equal(id[14], '4');           /* version 4 */
    assert_non_null(strchr("89ab", id[19])); /* variant 10xx */
}

static int
s_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void
test_form_and_no_repeat(void **state)
{
    (void)state;
    enum { N = 10000 }; /* about 300 refills of the buffer */
    char(*ids)[JOB_ID_LEN + 1] = calloc(N, sizeof *ids);
    assert_non_null(ids);
    for (int i = 0; i < N; i++) {
        assert_int_equal(job_id_new(ids[i]), 0);
        s_check_form(ids[i]);
    }
    qsort(ids, N, sizeof *ids, s_cmp);
    for (int i = 1; i < N; i++)
        assert_true(strcmp(ids[i - 1], ids[i]) != 0);
    free(ids);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_and_no_repeat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
