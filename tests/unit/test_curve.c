/* test_curve.c - common/curve.c: which endpoints count as loopback (a plaintext broker may bind
 * only those), and certificates written by curve_keygen read back by the loaders. */
#include "curve.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static void
test_loopback_endpoints(void **state)
{
    (void)state;
    assert_true(curve_endpoint_is_local("tcp://127.0.0.1:5555"));
    assert_true(curve_endpoint_is_local("tcp://127.1.2.3:1"));
    assert_true(curve_endpoint_is_local("tcp://localhost:5555"));
    assert_true(curve_endpoint_is_local("tcp://[::1]:5555"));
    assert_true(curve_endpoint_is_local("ipc:///run/profai/broker"));
    assert_true(curve_endpoint_is_local("inproc://x"));
}

static void
test_network_endpoints(void **state)
{
    (void)state;
    assert_false(curve_endpoint_is_local("tcp://*:5555"));
    assert_false(curve_endpoint_is_local("tcp://0.0.0.0:5555"));
    assert_false(curve_endpoint_is_local("tcp://10.0.0.1:5555"));
    assert_false(curve_endpoint_is_local("tcp://eth0:5555"));
    assert_false(curve_endpoint_is_local("tcp://lo:5555"));
    assert_false(curve_endpoint_is_local("tcp://127.0.0.1.evil.example:5555"));
    assert_false(curve_endpoint_is_local("tcp://127.0.0.1"));
    assert_false(curve_endpoint_is_local("tcp://[::]:5555"));
    assert_false(curve_endpoint_is_local("tcp://127.0.0.1;10.0.0.1:5555"));
    assert_false(curve_endpoint_is_local("pgm://eth0;239.192.1.1:5555"));
    assert_false(curve_endpoint_is_local("ws://127.0.0.1:5555"));
}

static void
test_keygen_round_trip(void **state)
{
    (void)state;
    char dir[] = "/tmp/profai-curve-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[512], public_key[CURVE_KEY_LEN + 1], path[600];
    assert_int_equal(curve_keygen(dir, "host-1", public_key, err, sizeof err), 0);
    assert_int_equal(strlen(public_key), CURVE_KEY_LEN);
    /* never overwritten; a name with a slash is refused */
    assert_int_equal(curve_keygen(dir, "host-1", NULL, err, sizeof err), -1);
    assert_int_equal(curve_keygen(dir, "../x", NULL, err, sizeof err), -1);

    snprintf(path, sizeof path, "%s/host-1", dir);
    curve_keys_t keys;
    memset(&keys, 0, sizeof keys);
    assert_int_equal(curve_load_certificate(path, &keys, err, sizeof err), 0);
    assert_true(keys.enabled);
    assert_string_equal(keys.public_key, public_key);
    char read_back[CURVE_KEY_LEN + 1];
    assert_int_equal(curve_load_public(path, read_back, err, sizeof err), 0);
    assert_string_equal(read_back, public_key);

    /* A client needs both files or neither. */
    assert_int_equal(curve_client_keys(NULL, NULL, &keys, err, sizeof err), 0);
    assert_false(keys.enabled);
    assert_int_equal(curve_client_keys(path, NULL, &keys, err, sizeof err), -1);
    assert_int_equal(curve_client_keys(path, path, &keys, err, sizeof err), 0);
    assert_string_equal(keys.server_key, public_key);

    /* The public file alone holds no secret. */
    char secret_path[700];
    snprintf(secret_path, sizeof secret_path, "%s_secret", path);
    struct stat st;
    assert_int_equal(stat(secret_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(unlink(secret_path), 0);
    assert_int_equal(curve_load_certificate(path, &keys, err, sizeof err), -1);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback_endpoints),
        cmocka_unit_test(test_network_endpoints),
        cmocka_unit_test(test_keygen_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
