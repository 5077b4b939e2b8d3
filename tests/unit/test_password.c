/* test_password.c - passwords and secrets (common/password.h, common/secret.h): Argon2id
 * hashes that verify, carry their cost and are refused when costlier than allowed; secrets of
 * one format whose SHA-256 is what is stored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "password.h"
#include "secret.h"

/* The cheapest cost libsodium allows for Argon2id: fast tests. */
#define OPS 1ULL
#define MEM ((size_t)8 << 20)

static void
test_hash_verifies_and_says_its_cost(void **state)
{
    (void)state;
    char hash[PASSWORD_HASH_SIZE];
    const char *pw = "correct horse battery";
    assert_int_equal(password_hash(pw, strlen(pw), OPS, MEM, hash), 0);
    assert_true(strncmp(hash, "$argon2id$v=19$m=8192,t=1,p=1$", 30) == 0);
    assert_null(strstr(hash, pw));
    assert_true(password_verify(hash, pw, strlen(pw)));
    assert_false(password_verify(hash, "correct horse batterY", strlen(pw)));
    assert_false(password_verify(hash, pw, strlen(pw) - 1));
    /* Two hashes of one password differ (salt), both verify. */
    char again[PASSWORD_HASH_SIZE];
    assert_int_equal(password_hash(pw, strlen(pw), OPS, MEM, again), 0);
    assert_string_not_equal(hash, again);
    assert_true(password_verify(again, pw, strlen(pw)));

    assert_true(password_cost_within(hash, OPS, MEM));
    assert_true(password_cost_within(hash, 2, (size_t)64 << 20));
    assert_false(password_cost_within(hash, OPS, MEM - 1024)); /* more memory than allowed */
    assert_false(password_cost_within("$argon2id$v=19$m=8192,t=3,p=1$c2FsdA$aGFzaA", 2, MEM));
    assert_false(password_cost_within("$argon2i$v=19$m=8192,t=1,p=1$c2FsdA$aGFzaA", 2, MEM));
    assert_false(password_cost_within("", 2, MEM));
    assert_false(password_verify("", pw, strlen(pw)));
}

static void
test_acceptable_passwords(void **state)
{
    (void)state;
    assert_true(password_acceptable("12345678", 8));
    assert_false(password_acceptable("1234567", 7));
    assert_false(password_acceptable("1234\0"
                                     "5678",
                                     9));
    assert_false(password_acceptable("12345678\xff", 9));
    char longest[PASSWORD_MAX + 1];
    memset(longest, 'a', sizeof longest);
    assert_true(password_acceptable(longest, PASSWORD_MAX));
    assert_false(password_acceptable(longest, PASSWORD_MAX + 1));
}

static void
test_secrets_have_one_format(void **state)
{
    (void)state;
    char a[SECRET_SIZE], b[SECRET_SIZE];
    assert_int_equal(secret_new("pas_", a), 0);
    assert_int_equal(secret_new("pas_", b), 0);
    assert_int_equal(strlen(a), SECRET_LEN);
    assert_string_not_equal(a, b);
    assert_true(secret_wellformed("pas_", a, strlen(a)));
    assert_false(secret_wellformed("pai_", a, strlen(a)));
    assert_false(secret_wellformed("pas_", a, strlen(a) - 1));
    a[10] = '.';
    assert_false(secret_wellformed("pas_", a, strlen(a)));
    assert_int_equal(secret_new("toolong_", a), -1);
    /* SHA-256 of "abc" (FIPS 180-2). */
    uint8_t digest[32];
    secret_sha256("abc", 3, digest);
    static const uint8_t abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                    0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                    0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    assert_memory_equal(digest, abc, 32);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_verifies_and_says_its_cost),
        cmocka_unit_test(test_acceptable_passwords),
        cmocka_unit_test(test_secrets_have_one_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
