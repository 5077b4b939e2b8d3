/*
 * test_pg_options.c - unit tests of broker/pg_options.h: the broker's session settings first,
 * the operator's (conninfo's `options`, else PGOPTIONS) after them, parsed by libpq itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pg_options.h"

#include <stdlib.h>
#include <string.h>

#define OURS "-c plan_cache_mode=force_generic_plan -c enable_seqscan=off"

static void
s_expect(const char *conninfo, const char *pgoptions, const char *want)
{
    char *got = pg_options_merge(OURS, conninfo, pgoptions);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

/* Nothing of the operator's: ours alone. */
static void
test_ours_alone(void **state)
{
    (void)state;
    s_expect(NULL, NULL, OURS);
    s_expect("", NULL, OURS);
    s_expect("host=db port=5433 dbname=profai", NULL, OURS);
    s_expect("host=db options=''", "", OURS);
}

/* conninfo's options, as a quoted key=value and as a URI parameter, come after ours. */
static void
test_conninfo_options_after_ours(void **state)
{
    (void)state;
    s_expect("dbname=profai options='-c statement_timeout=30s -c enable_seqscan=on'", NULL,
             OURS " -c statement_timeout=30s -c enable_seqscan=on");
    s_expect("postgresql://db:5432/profai?options=-c%20work_mem%3D8MB", NULL,
             OURS " -c work_mem=8MB");
}

/* PGOPTIONS counts only when conninfo names no options, as libpq would read it. */
static void
test_pgoptions_when_conninfo_has_none(void **state)
{
    (void)state;
    s_expect("dbname=profai", "-c lock_timeout=5s", OURS " -c lock_timeout=5s");
    s_expect("dbname=profai options='-c work_mem=8MB'", "-c lock_timeout=5s",
             OURS " -c work_mem=8MB");
}

/* A conninfo that is not key=value nor a URI (a bare database name, or a broken string libpq
 * reports at connect) names no options: PGOPTIONS, if any, follows ours. */
static void
test_conninfo_without_keywords(void **state)
{
    (void)state;
    s_expect("profai", NULL, OURS);
    s_expect("profai", "-c lock_timeout=5s", OURS " -c lock_timeout=5s");
    s_expect("host=db options='-c x", NULL, OURS);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ours_alone),
        cmocka_unit_test(test_conninfo_options_after_ours),
        cmocka_unit_test(test_pgoptions_when_conninfo_has_none),
        cmocka_unit_test(test_conninfo_without_keywords),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
