/* test_queued_seen.c - the jobs last read as queued: kept, forgotten, replaced by slot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "../../frontend/queued_seen.h"

static queued_seen_t s_seen = QUEUED_SEEN_INIT; /* large: not on the stack */

static void
test_kept_then_forgotten(void **state)
{
    (void)state;
    const char *a = "5b0c2b5e-3f9a-4c51-9d7e-0c7a2f7d7a10";
    const char *b = "0d5d2c63-8e0e-4f6b-a0f5-6e8a3c1e4b21";
    assert_false(queued_seen_has(&s_seen, a));
    queued_seen_put(&s_seen, a, true);
    assert_true(queued_seen_has(&s_seen, a));
    assert_false(queued_seen_has(&s_seen, b));
    queued_seen_put(&s_seen, b, false); /* another job not queued: a stays */
    assert_true(queued_seen_has(&s_seen, a));
    queued_seen_put(&s_seen, a, false);
    assert_false(queued_seen_has(&s_seen, a));
    assert_false(queued_seen_has(&s_seen, ""));
}

/* Two ids of one slot: the newer replaces the older, and forgetting the older (no longer
 * there) leaves the newer. Found by trying ids until two share a slot. */
static void
test_a_slot_holds_the_newest(void **state)
{
    (void)state;
    char first[QUEUED_SEEN_ID_SIZE], id[QUEUED_SEEN_ID_SIZE];
    snprintf(first, sizeof first, "00000000-0000-4000-8000-%012d", 0);
    queued_seen_put(&s_seen, first, true);
    int found = 0;
    for (int i = 1; i < 100000 && !found; i++) {
        snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", i);
        queued_seen_put(&s_seen, id, true);
        if (!queued_seen_has(&s_seen, first))
            found = i;
    }
    assert_true(found > 0);
    assert_true(queued_seen_has(&s_seen, id));
    queued_seen_put(&s_seen, first, false);
    assert_true(queued_seen_has(&s_seen, id));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kept_then_forgotten),
        cmocka_unit_test(test_a_slot_holds_the_newest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
