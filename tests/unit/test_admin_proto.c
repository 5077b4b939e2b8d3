/*
 * test_admin_proto.c - the admin socket's message tables (docs/admin.md) are well formed and
 * round-trip through the protocol codec; worker identities carry host, pid and version.
 */
#include "profai/admin_proto.h"
#include "profai/worker_identity.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static void
test_every_table_is_valid(void **state)
{
    (void)state;
    for (size_t i = 0; i < ADMIN_MESSAGE_COUNT; i++) {
        const char *why = NULL;
        if (!proto_message_valid(admin_messages[i], &why))
            fail_msg("%s: %s", admin_messages[i]->name, why);
    }
}

static void
test_worker_row_round_trips(void **state)
{
    (void)state;
    admin_worker_t in = {.rid = 9,
                         .draining = true,
                         .since_ms = 1200,
                         .heartbeat_ms = 40,
                         .done = 3,
                         .failed = 1,
                         .pid = 4242};
    strcpy(in.name, "8a1b2c3d4e5f6a7b+@127.0.0.1");
    strcpy(in.identity, "8a1b");
    strcpy(in.service, "course.build");
    strcpy(in.state, "busy");
    strcpy(in.job_id, "5b6f0c55-8a4e-4a57-9d61-0d3f8f0ef1a2");
    strcpy(in.host, "vm-7");
    strcpy(in.version, "0.1.0");
    proto_buf_t buf = {0};
    proto_error_t err;
    assert_int_equal(proto_message_encode(&admin_message_worker, &in, &buf, &err), 0);
    admin_worker_t out;
    assert_int_equal(proto_message_decode(&admin_message_worker, buf.data, buf.size, &out, &err),
                     0);
    assert_memory_equal(&in, &out, sizeof in);
    proto_buf_free(&buf);
}

static void
test_request_refuses_a_bad_uuid(void **state)
{
    (void)state;
    admin_request_t req = {.rid = 1};
    strcpy(req.job_id, "not-a-uuid");
    proto_buf_t buf = {0};
    proto_error_t err;
    assert_int_equal(proto_message_encode(&admin_message_request, &req, &buf, &err), -1);
    assert_string_equal(err.code, "bad_request");
}

static void
test_identity_round_trips(void **state)
{
    (void)state;
    const uint8_t random[WORKER_IDENTITY_RANDOM] = {0, 1, 2, 3, 4, 5, 6, 7};
    uint8_t id[WORKER_IDENTITY_SIZE];
    size_t len = worker_identity_format(id, random, "vm 7;x", 4242, "0.1.0");
    assert_true(id[0] != 0 && len < WORKER_IDENTITY_SIZE);
    char host[WORKER_IDENTITY_HOST_MAX + 1], version[WORKER_IDENTITY_VERSION_MAX + 1];
    uint32_t pid;
    assert_int_equal(worker_identity_parse(id, len, host, &pid, version), 0);
    assert_string_equal(host, "vm_7_x");
    assert_int_equal(pid, 4242);
    assert_string_equal(version, "0.1.0");
    /* ZeroMQ's own 5-byte identities are not of this format. */
    const uint8_t opaque[5] = {0, 0x6b, 0x8b, 0x45, 0x67};
    assert_int_equal(worker_identity_parse(opaque, sizeof opaque, host, &pid, version), -1);
    assert_string_equal(host, "");
    assert_int_equal(pid, 0);
    assert_false(worker_identity_can_fetch(opaque, sizeof opaque));
}

/* Protocol 1.2: the fetch capability rides at the end of the identity; host, pid and version
 * read as before (an older broker ignores it), and only "fetch=1" counts. */
static void
test_identity_announces_fetch(void **state)
{
    (void)state;
    const uint8_t random[WORKER_IDENTITY_RANDOM] = {9, 1, 2, 3, 4, 5, 6, 7};
    uint8_t id[WORKER_IDENTITY_SIZE];
    size_t len = worker_identity_format(id, random, "vm7", 42, "0.2.0");
    assert_false(worker_identity_can_fetch(id, len));
    size_t with = worker_identity_add_fetch(id, len);
    assert_int_equal(with, len + strlen(WORKER_IDENTITY_FETCH));
    assert_true(worker_identity_can_fetch(id, with));
    char host[WORKER_IDENTITY_HOST_MAX + 1], version[WORKER_IDENTITY_VERSION_MAX + 1];
    uint32_t pid;
    assert_int_equal(worker_identity_parse(id, with, host, &pid, version), 0);
    assert_string_equal(version, "0.2.0");
    assert_int_equal(pid, 42);
    memcpy(id + with - 1, "0", 1); /* fetch=0 */
    assert_false(worker_identity_can_fetch(id, with));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_table_is_valid),
        cmocka_unit_test(test_worker_row_round_trips),
        cmocka_unit_test(test_request_refuses_a_bad_uuid),
        cmocka_unit_test(test_identity_round_trips),
        cmocka_unit_test(test_identity_announces_fetch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
