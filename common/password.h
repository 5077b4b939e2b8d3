/*
 * password.h - passwords (docs/api.md 2.1): Argon2id through libsodium's crypto_pwhash_str,
 * whose string holds the salt and the cost, so a hash made with one cost is still checked
 * after the configuration changes. Used by profaictl (user create|passwd) and the frontend
 * (invitations, sign-in). Never logs; a password is never copied anywhere but libsodium.
 */
#ifndef PROFAI_COMMON_PASSWORD_H
#define PROFAI_COMMON_PASSWORD_H

#include <profai/compiler.h>
#include <stdbool.h>
#include <stddef.h>

#define PASSWORD_MIN 8
#define PASSWORD_MAX 256
/* libsodium's interactive cost: about 0.1 s and 64 MiB per hash. */
#define PASSWORD_OPSLIMIT_DEFAULT 2ULL
#define PASSWORD_MEMLIMIT_DEFAULT ((size_t)64 << 20)
/* Room for a crypto_pwhash_str string (crypto_pwhash_STRBYTES). */
#define PASSWORD_HASH_SIZE 128

/* Whether len bytes are an acceptable password: PASSWORD_MIN..PASSWORD_MAX bytes of UTF-8
 * without NUL. */
bool password_acceptable(const char *pw, size_t len);

/* Hash a password with Argon2id at this cost into out (NUL-terminated). 0, or -1 (out of
 * memory, or libsodium cannot start). */
int password_hash(const char *pw, size_t len, unsigned long long opslimit, size_t memlimit,
                  char out[PASSWORD_HASH_SIZE]) PROFAI_MUST_CHECK;

/* Whether a stored hash is an Argon2id string whose cost is within opslimit and memlimit
 * (checking a costlier one could take the server's time and memory). */
bool password_cost_within(const char *hash, unsigned long long opslimit, size_t memlimit);

/* Whether pw matches the stored hash. */
bool password_verify(const char *hash, const char *pw, size_t len);

#endif
