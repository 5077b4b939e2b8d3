/*
 * job_secret.c - see job_secret.h. SHA-256 comes from GLib's GChecksum, as the frontend's
 * token hashes do.
 */
#include "job_secret.h"

#include <glib.h>
#include <string.h>
#include <sys/random.h>

int
job_secret_new(char *secret)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char bytes[PROTO_SECRET_LEN / 2];
    if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes)
        return -1;
    for (size_t i = 0; i < sizeof bytes; i++) {
        secret[2 * i] = digits[bytes[i] >> 4];
        secret[2 * i + 1] = digits[bytes[i] & 15];
    }
    secret[PROTO_SECRET_LEN] = '\0';
    return 0;
}

void
job_secret_hash(const char *secret, char *hash)
{
    gchar *hex = g_compute_checksum_for_string(G_CHECKSUM_SHA256, secret, -1);
    snprintf(hash, JOB_SECRET_HASH_LEN + 1, "%s", hex != NULL ? hex : "");
    g_free(hex);
}

bool
job_secret_equal(const char *expected, const char *given)
{
    size_t len = strlen(expected);
    if (len == 0 || strlen(given) != len)
        return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < len; i++)
        diff |= (unsigned char)(expected[i] ^ given[i]);
    return diff == 0;
}

bool
job_secret_matches_hash(const char *hash, const char *given)
{
    if (hash[0] == '\0' || given[0] == '\0')
        return false;
    char computed[JOB_SECRET_HASH_LEN + 1];
    job_secret_hash(given, computed);
    return job_secret_equal(hash, computed);
}
