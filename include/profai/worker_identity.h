/*
 * worker_identity.h - the ZeroMQ routing identity a worker gives each of its sockets
 * (docs/protocol.md, "Worker identity"): 8 random bytes (the first one never 0, which ZeroMQ
 * reserves), then "|host=H;pid=P;version=V". The broker shows host, pid and version on its
 * admin socket (docs/admin.md). A broker that does not know this format treats the identity
 * as opaque bytes, as before, so old and new brokers and workers mix.
 *
 * Library code: nothing here logs.
 */
#ifndef PROFAI_WORKER_IDENTITY_H
#define PROFAI_WORKER_IDENTITY_H

#include "profai/compiler.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WORKER_IDENTITY_RANDOM 8
#define WORKER_IDENTITY_HOST_MAX 64
#define WORKER_IDENTITY_VERSION_MAX 32
/* Bytes an identity takes at most (within ZeroMQ's 255). */
#define WORKER_IDENTITY_SIZE 160

/* Write an identity into buf (WORKER_IDENTITY_SIZE bytes) from random (8 bytes), host (cut to
 * 64 bytes, characters other than [A-Za-z0-9._-] become '_'), pid and version (cut to 32).
 * Returns its length in bytes. */
size_t worker_identity_format(uint8_t *buf, const uint8_t *random, const char *host, uint32_t pid,
                              const char *version);

/* Read host (65 bytes), pid and version (33 bytes) from an identity; -1 when it is not one of
 * this format (an older worker's: then they are "" and 0). */
int worker_identity_parse(const uint8_t *identity, size_t len, char *host, uint32_t *pid,
                          char *version) PROFAI_MUST_CHECK;

/* The capability a worker of protocol 1.2 or later appends to its identity when it can fetch
 * a large PDF from the blob endpoint (docs/protocol.md 3.6); a worker without it gets every
 * PDF inline. */
#define WORKER_IDENTITY_FETCH ";fetch=1"

/* Append WORKER_IDENTITY_FETCH to an identity of len bytes in buf (WORKER_IDENTITY_SIZE
 * bytes); returns the new length (len unchanged when it does not fit). */
size_t worker_identity_add_fetch(uint8_t *buf, size_t len);

/* Whether an identity of this format announces WORKER_IDENTITY_FETCH. */
bool worker_identity_can_fetch(const uint8_t *identity, size_t len);

#endif
