/*
 * test_fair_queue.c - unit tests of the broker's fair queue (broker/fair_queue.h): owners with
 * queued jobs served in turn, each owner's jobs in order, the cap on running jobs, owners
 * coming and going, retries going back to the front of their owner's queue. No sockets, no
 * database: items are small structs with a list node, as jobs are in the job table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fair_queue.h"

#include <stdio.h>
#include <string.h>

/* A queued thing: a name ("a1" = owner a's first) and its node. */
typedef struct {
    char name[16];
    list_node_t node;
    fair_owner_t *owner;
} item_t;

static item_t *
s_item(const list_node_t *node)
{
    return LIST_ENTRY(node, item_t, node);
}

/* Make item `name` of owner `owner` and queue it at the back. */
static void
s_push(fair_queue_t *fq, item_t *item, const char *owner, const char *name)
{
    memset(item, 0, sizeof *item);
    snprintf(item->name, sizeof item->name, "%s", name);
    item->owner = fair_queue_owner_hold(fq, owner);
    assert_non_null(item->owner);
    fair_queue_push(fq, item->owner, &item->node, false);
}

/* Serve up to n items (as the broker dispatches), their names joined by ',' into out. */
static void
s_serve(fair_queue_t *fq, int n, char *out, size_t size)
{
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        fair_owner_t *owner = NULL;
        list_node_t *node = fair_queue_next(fq, &owner);
        if (node == NULL)
            break;
        assert_ptr_equal(owner, s_item(node)->owner);
        fair_queue_take(fq, owner, node);
        if (out[0] != '\0')
            strncat(out, ",", size - strlen(out) - 1);
        strncat(out, s_item(node)->name, size - strlen(out) - 1);
    }
}

static void
test_round_robin(void **state)
{
    (void)state;
    fair_queue_t *fq = fair_queue_new(0);
    assert_non_null(fq);
    assert_null(fair_queue_next(fq, NULL));
    item_t items[7];
    s_push(fq, &items[0], "a", "a1");
    s_push(fq, &items[1], "a", "a2");
    s_push(fq, &items[2], "a", "a3");
    s_push(fq, &items[3], "a", "a4");
    s_push(fq, &items[4], "b", "b1");
    s_push(fq, &items[5], "c", "c1");
    s_push(fq, &items[6], "c", "c2");
    assert_int_equal(fair_queue_size(fq), 7);
    assert_int_equal(fair_owner_queued(items[0].owner), 4);
    char order[128];
    s_serve(fq, 100, order, sizeof order);
    /* Owners in the order they first queued something, one job each per turn. */
    assert_string_equal(order, "a1,b1,c1,a2,c2,a3,a4");
    assert_int_equal(fair_queue_size(fq), 0);
    assert_int_equal(fair_owner_running(items[0].owner), 4);
    assert_null(fair_queue_next(fq, NULL));
    fair_queue_destroy(&fq);
    assert_null(fq);
    fair_queue_destroy(&fq); /* NULL is accepted */
}

/* Teacher A's hundred jobs, then teacher B's one: B's goes second, not 101st. */
static void
test_late_owner_goes_early(void **state)
{
    (void)state;
    fair_queue_t *fq = fair_queue_new(0);
    item_t a[100], b;
    for (int i = 0; i < 100; i++) {
        char name[16];
        snprintf(name, sizeof name, "a%d", i + 1);
        s_push(fq, &a[i], "a", name);
    }
    char order[64];
    s_serve(fq, 3, order, sizeof order); /* A alone: A's jobs in order */
    assert_string_equal(order, "a1,a2,a3");
    s_push(fq, &b, "b", "b1");
    s_serve(fq, 3, order, sizeof order);
    /* B joined the ring at the back, behind A: one job of A, then B's; at most one job of
     * each owner ahead of it goes first. */
    assert_string_equal(order, "a4,b1,a5");
    fair_queue_destroy(&fq);
}

/* An owner whose queue empties leaves the ring; queueing again, it joins at the back. */
static void
test_owners_come_and_go(void **state)
{
    (void)state;
    fair_queue_t *fq = fair_queue_new(0);
    item_t a1, a2, b1, c1, b2;
    s_push(fq, &a1, "a", "a1");
    s_push(fq, &b1, "b", "b1");
    s_push(fq, &a2, "a", "a2");
    char order[64];
    s_serve(fq, 2, order, sizeof order);
    assert_string_equal(order, "a1,b1"); /* b has nothing left: out of the ring */
    s_push(fq, &c1, "c", "c1");
    s_push(fq, &b2, "b", "b2");
    s_serve(fq, 10, order, sizeof order);
    assert_string_equal(order, "a2,c1,b2");
    /* Records go with their last reference; another hold makes a new one. */
    fair_owner_t *b = b1.owner;
    fair_queue_run_end(fq, b);
    fair_queue_run_end(fq, b);
    fair_queue_owner_release(fq, &b1.owner);
    assert_null(b1.owner);
    assert_ptr_equal(fair_queue_owner_hold(fq, "b"), b); /* b2 still holds it */
    fair_queue_owner_release(fq, &b);
    fair_queue_owner_release(fq, &b2.owner);
    fair_owner_t *again = fair_queue_owner_hold(fq, "b");
    assert_non_null(again);
    assert_string_equal(fair_owner_id(again), "b");
    assert_int_equal(fair_owner_running(again), 0);
    fair_queue_owner_release(fq, &again);
    /* An id longer than the records hold is refused. */
    char long_id[80];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    assert_null(fair_queue_owner_hold(fq, long_id));
    fair_queue_destroy(&fq);
}

/* A cancelled job leaves without costing its owner its turn. */
static void
test_remove_keeps_turn(void **state)
{
    (void)state;
    fair_queue_t *fq = fair_queue_new(0);
    item_t a1, a2, b1, c1;
    s_push(fq, &a1, "a", "a1");
    s_push(fq, &a2, "a", "a2");
    s_push(fq, &b1, "b", "b1");
    s_push(fq, &c1, "c", "c1");
    fair_queue_remove(fq, a1.owner, &a1.node); /* a keeps the head of the ring */
    assert_int_equal(fair_queue_size(fq), 3);
    assert_ptr_equal(fair_queue_next(fq, NULL), &a2.node);
    fair_queue_remove(fq, b1.owner, &b1.node); /* b has nothing left: out of the ring */
    char order[64];
    s_serve(fq, 10, order, sizeof order);
    assert_string_equal(order, "a2,c1");
    fair_queue_destroy(&fq);
}

/* A job going back after a failed attempt is its owner's first again; the owner waits for
 * its turn like anybody. */
static void
test_retry_goes_to_front_of_its_owner(void **state)
{
    (void)state;
    fair_queue_t *fq = fair_queue_new(0);
    item_t a1, a2, b1, b2;
    s_push(fq, &a1, "a", "a1");
    s_push(fq, &a2, "a", "a2");
    s_push(fq, &b1, "b", "b1");
    s_push(fq, &b2, "b", "b2");
    char order[64];
    s_serve(fq, 1, order, sizeof order);
    assert_string_equal(order, "a1");
    fair_queue_run_end(fq, a1.owner); /* a1 failed: back to the front of a's queue */
    fair_queue_push(fq, a1.owner, &a1.node, true);
    s_serve(fq, 10, order, sizeof order);
    assert_string_equal(order, "b1,a1,b2,a2");
    fair_queue_destroy(&fq);
}

/* With a cap, an owner at it is skipped (its jobs stay queued) and comes back at the back of
 * the ring when one of its jobs ends. */
static void
test_cap_on_running(void **state)
{
    (void)state;
    fair_queue_t *fq = fair_queue_new(2);
    item_t a[4], b[2];
    s_push(fq, &a[0], "a", "a1");
    s_push(fq, &a[1], "a", "a2");
    s_push(fq, &a[2], "a", "a3");
    s_push(fq, &a[3], "a", "a4");
    char order[64];
    s_serve(fq, 10, order, sizeof order);
    assert_string_equal(order, "a1,a2"); /* at its cap: nothing may be served */
    assert_null(fair_queue_next(fq, NULL));
    assert_int_equal(fair_queue_size(fq), 2);
    s_push(fq, &b[0], "b", "b1");
    s_push(fq, &b[1], "b", "b2");
    s_serve(fq, 10, order, sizeof order);
    assert_string_equal(order, "b1,b2");
    fair_queue_run_end(fq, a[0].owner); /* a1 ended: a may run one more */
    s_serve(fq, 10, order, sizeof order);
    assert_string_equal(order, "a3");
    fair_queue_run_end(fq, b[0].owner);
    fair_queue_run_end(fq, a[1].owner);
    s_serve(fq, 10, order, sizeof order);
    assert_string_equal(order, "a4");
    /* Jobs found running at start count too: an owner with two orphans waits for them. */
    item_t c1;
    fair_owner_t *c = fair_queue_owner_hold(fq, "c");
    fair_queue_run_begin(fq, c);
    fair_queue_run_begin(fq, c);
    s_push(fq, &c1, "c", "c1");
    assert_null(fair_queue_next(fq, NULL));
    fair_queue_run_end(fq, c);
    s_serve(fq, 10, order, sizeof order);
    assert_string_equal(order, "c1");
    fair_queue_owner_release(fq, &c);
    fair_queue_destroy(&fq);
}

/* Inspection walks every queued item once, owner by owner, each in its queue's order. */
static void
test_walk(void **state)
{
    (void)state;
    fair_queue_t *fq = fair_queue_new(0);
    assert_null(fair_queue_first(fq));
    item_t a1, b1, a2, c1;
    s_push(fq, &a1, "a", "a1");
    s_push(fq, &b1, "b", "b1");
    s_push(fq, &a2, "a", "a2");
    s_push(fq, &c1, "c", "c1");
    fair_queue_remove(fq, b1.owner, &b1.node); /* an owner with nothing queued is skipped */
    char names[64] = "";
    for (list_node_t *node = fair_queue_first(fq); node != NULL;
         node = fair_queue_after(fq, s_item(node)->owner, node)) {
        strcat(names, s_item(node)->name);
        strcat(names, " ");
    }
    assert_string_equal(names, "a1 a2 c1 ");
    fair_queue_destroy(&fq);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_robin),
        cmocka_unit_test(test_late_owner_goes_early),
        cmocka_unit_test(test_owners_come_and_go),
        cmocka_unit_test(test_remove_keeps_turn),
        cmocka_unit_test(test_retry_goes_to_front_of_its_owner),
        cmocka_unit_test(test_cap_on_running),
        cmocka_unit_test(test_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
