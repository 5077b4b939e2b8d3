/*
 * zap.h - the broker's ZAP handler (ZeroMQ RFC 27) and its allow-lists of public keys, kept
 * apart by role (docs/protocol.md, "Security"; docs/security.md, "The network between hosts").
 *
 * libzmq asks the socket bound at inproc://zeromq.zap.01 about every CURVE handshake on the
 * broker's ROUTER (ZAP domain ZAP_DOMAIN) and on a tcp:// admin socket (ZAP_DOMAIN_ADMIN); this
 * module binds it and is polled by the broker's own loop (zap_socket, zap_handle). On the
 * ROUTER, a key found in the workers directory is accepted as a worker, one in the frontends
 * directory as a frontend; on the admin socket only a key of the admins directory, as an
 * admin (docs/admin.md). Any other key, domain or mechanism is refused. The reply's User-Id
 * is "<role>:<z85 key>" and rides on every message of that connection, where
 * zap_peer_role reads it and checks the key against the current allow-lists, so a key deleted
 * from its directory stops working on connections made before (the broker decides what to do
 * with their messages). The directories are read again when a file in them changes
 * (zap_reload_due, at most once a second).
 *
 * Every refusal is logged with the peer's public key (never a secret), at most once per
 * ZAP_LOG_INTERVAL_MS per key with a count of those left out (a refused peer retries its
 * connection several times a second). Runs on the broker's thread; not thread-safe.
 */
#ifndef PROFAI_BROKER_ZAP_H
#define PROFAI_BROKER_ZAP_H

#include "curve.h"
#include "profai/compiler.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define ZAP_DOMAIN "profai"             /* the ROUTER of workers and frontends */
#define ZAP_DOMAIN_ADMIN "profai-admin" /* a tcp:// admin socket */
#define ZAP_RELOAD_MS 1000
#define ZAP_LOG_INTERVAL_MS 10000

typedef enum {
    ZAP_ROLE_NONE,     /* not (or no longer) allowed */
    ZAP_ROLE_WORKER,   /* may serve jobs (MDPW02) */
    ZAP_ROLE_FRONTEND, /* may submit, cancel and ping (MDPC02) */
    ZAP_ROLE_ADMIN,    /* may use a tcp:// admin socket, and nothing else */
} zap_role_t;

typedef struct zap_t zap_t;

/* Bind the ZAP handler and read the three directories (any may be NULL: no key has that
 * role). Must run before a CURVE socket binds: without a handler libzmq accepts every key.
 * NULL with a sentence in err when a directory cannot be read or the handler cannot bind. */
zap_t *zap_new(const char *workers_dir, const char *frontends_dir, const char *admins_dir,
               char *err, size_t err_size);

/* Unbind and free; accepts NULL. Destroy the CURVE socket first. */
void zap_destroy(zap_t **self_p);

/* The handler's socket, for the caller's poll. Borrowed. */
zsock_t *zap_socket(zap_t *self);

/* Answer every ZAP request waiting (never blocks); now: monotonic ms, for the log limit. */
void zap_handle(zap_t *self, int64_t now);

/* Read the directories again if a file in them changed since the last look, at most once per
 * ZAP_RELOAD_MS. True when the allow-lists changed (the caller then checks its peers). */
bool zap_reload_due(zap_t *self, int64_t now);

/* The role of the peer that sent frame (a received frame, e.g. the first after the ROUTER
 * identity) as its key stands now in the allow-lists; its key is copied to key (41 bytes,
 * "" when the frame carries none). ZAP_ROLE_NONE when the key was revoked or moved. */
zap_role_t zap_peer_role(zap_t *self, zframe_t *frame, char *key);

/* Whether key (z85) is allowed in role now. */
bool zap_key_allowed(zap_t *self, const char *key, zap_role_t role);

/* Log a refusal of key (z85; "" when unknown) with why, at most once per
 * ZAP_LOG_INTERVAL_MS per key and kind of refusal (a short word: "handshake", "READY"...). */
void zap_log_refusal(zap_t *self, const char *key, const char *kind, const char *why, int64_t now);

/* "worker", "frontend", "admin" or "none". */
const char *zap_role_name(zap_role_t role);

#endif
