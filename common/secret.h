/*
 * secret.h - the random credentials ProfAI hands out, one format for all of them: a prefix
 * naming the kind ("pai_" API token, "pas_" browser session, "inv_" invitation) followed by 43
 * base64url characters (32 random bytes from the kernel, via libsodium). Only the SHA-256 of a
 * secret is ever stored (docs/security.md). Pure but for the random bytes; never logs.
 */
#ifndef PROFAI_COMMON_SECRET_H
#define PROFAI_COMMON_SECRET_H

#include <profai/compiler.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SECRET_PREFIX_LEN 4
#define SECRET_RANDOM_CHARS 43 /* 32 bytes, base64url without padding */
#define SECRET_LEN (SECRET_PREFIX_LEN + SECRET_RANDOM_CHARS)
#define SECRET_SIZE (SECRET_LEN + 1)

/* A new secret prefix (4 characters) + 43 base64url characters into out (SECRET_SIZE bytes,
 * NUL-terminated). 0, or -1 when libsodium cannot start. */
int secret_new(const char *prefix, char out[SECRET_SIZE]) PROFAI_MUST_CHECK;

/* Whether s (len bytes) has the format of a secret with this prefix. */
bool secret_wellformed(const char *prefix, const char *s, size_t len);

/* The SHA-256 of len bytes of s: what is stored and looked up. */
void secret_sha256(const char *s, size_t len, uint8_t out[32]);

/* base64url without padding (RFC 4648 section 5) of len bytes; out holds 4 * ceil(len / 3) + 1
 * bytes. */
void secret_base64url(const uint8_t *in, size_t len, char *out);

#endif
