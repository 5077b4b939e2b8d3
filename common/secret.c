/* secret.c - see secret.h. */
#include "secret.h"

#include <sodium.h>
#include <string.h>

static const char s_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void
secret_base64url(const uint8_t *in, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = s_alphabet[(v >> 18) & 63];
        out[o++] = s_alphabet[(v >> 12) & 63];
        if (i + 1 < len)
            out[o++] = s_alphabet[(v >> 6) & 63];
        if (i + 2 < len)
            out[o++] = s_alphabet[v & 63];
    }
    out[o] = '\0';
}

int
secret_new(const char *prefix, char out[SECRET_SIZE])
{
    if (strlen(prefix) != SECRET_PREFIX_LEN || sodium_init() < 0)
        return -1;
    uint8_t random[32];
    randombytes_buf(random, sizeof random);
    memcpy(out, prefix, SECRET_PREFIX_LEN);
    secret_base64url(random, sizeof random, out + SECRET_PREFIX_LEN);
    sodium_memzero(random, sizeof random);
    return 0;
}

bool
secret_wellformed(const char *prefix, const char *s, size_t len)
{
    if (len != SECRET_LEN || memcmp(s, prefix, SECRET_PREFIX_LEN) != 0)
        return false;
    for (size_t i = SECRET_PREFIX_LEN; i < len; i++)
        if (s[i] == '\0' || strchr(s_alphabet, s[i]) == NULL)
            return false;
    return true;
}

void
secret_sha256(const char *s, size_t len, uint8_t out[32])
{
    crypto_hash_sha256(out, (const unsigned char *)s, len);
}
