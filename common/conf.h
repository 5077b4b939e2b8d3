/*
 * conf.h - configuration files in ZPL (ZeroMQ RFC 4), read with czmq's zconfig.
 *
 * Keys are paths such as "broker/endpoint". Every program loads its file (-c FILE), then
 * applies command-line overrides with zconfig_put, then reads typed values with defaults.
 * The keys and their defaults are documented in docs/configuration.md and in the files under conf/.
 */
#ifndef PROFAI_CONF_H
#define PROFAI_CONF_H

#include <czmq.h>
#include <profai/compiler.h>
#include <stddef.h>

/* Load path (NULL: an empty configuration). Caller owns the result (zconfig_destroy).
 * On failure returns NULL and writes a sentence into err. */
zconfig_t *conf_load(const char *path, char *err, size_t err_size);

/* The string at path, or def when absent or empty. Borrowed from root. */
const char *conf_str(zconfig_t *root, const char *path, const char *def);

/* text as an integer within [min, max], with an optional suffix k, M or G (powers of 1024)
 * for sizes: 0, -1 when it is not such an integer, -2 when it is out of range. */
int conf_parse_int(const char *text, long long min, long long max,
                   long long *out) PROFAI_MUST_CHECK;

/* An integer at path within [min, max], or def when absent. Accepts the suffixes k, M, G
 * (powers of 1024) for sizes. -1 with a sentence in err when invalid or out of range. */
int conf_int(zconfig_t *root, const char *path, long long def, long long min, long long max,
             long long *out, char *err, size_t err_size) PROFAI_MUST_CHECK;

#endif
