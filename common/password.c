/* password.c - see password.h. */
#include "password.h"

#include "utf8.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

bool
password_acceptable(const char *pw, size_t len)
{
    return len >= PASSWORD_MIN && len <= PASSWORD_MAX && memchr(pw, '\0', len) == NULL &&
           utf8_valid(pw, len);
}

int
password_hash(const char *pw, size_t len, unsigned long long opslimit, size_t memlimit,
              char out[PASSWORD_HASH_SIZE])
{
    _Static_assert(PASSWORD_HASH_SIZE >= crypto_pwhash_STRBYTES, "hash buffer too small");
    if (sodium_init() < 0)
        return -1;
    return crypto_pwhash_str_alg(out, pw, len, opslimit, memlimit, crypto_pwhash_ALG_ARGON2ID13);
}

bool
password_cost_within(const char *hash, unsigned long long opslimit, size_t memlimit)
{
    /* "$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>" */
    unsigned long m = 0, t = 0, p = 0;
    int end = 0;
    if (sscanf(hash, "$argon2id$v=19$m=%lu,t=%lu,p=%lu$%n", &m, &t, &p, &end) != 3 || end == 0)
        return false;
    return t >= 1 && t <= opslimit && m <= memlimit / 1024 && p == 1;
}

bool
password_verify(const char *hash, const char *pw, size_t len)
{
    if (sodium_init() < 0)
        return false;
    return crypto_pwhash_str_verify(hash, pw, len) == 0;
}
