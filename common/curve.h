/*
 * curve.h - CURVE keys of the ZeroMQ links (docs/security.md, "The network between hosts";
 * docs/protocol.md, "Security"): loading czmq certificates, applying them to a socket,
 * writing a new pair (profaictl keygen), and telling a loopback endpoint from a network one.
 *
 * Certificates are czmq's (zcert, ZPL text): `NAME` holds the public key, `NAME_secret` the
 * public and the secret key; python3-zmq's zmq.auth reads and writes the same files.
 * Keys are handled as Z85 text (40 characters). Nothing here logs: errors come back as a
 * sentence in the caller's buffer.
 */
#ifndef PROFAI_CURVE_H
#define PROFAI_CURVE_H

#include <czmq.h>
#include <profai/compiler.h>
#include <stdbool.h>
#include <stddef.h>

#define CURVE_KEY_LEN 40 /* a key in Z85 */

/* A peer's keys, plain data. Empty strings when CURVE is off. */
typedef struct {
    bool enabled;
    char public_key[CURVE_KEY_LEN + 1];
    char secret_key[CURVE_KEY_LEN + 1];
    char server_key[CURVE_KEY_LEN + 1]; /* clients only: the broker's public key */
} curve_keys_t;

/* Load the certificate at path, which must hold a secret key (czmq's zcert_load reads
 * `path_secret` first, then `path`), into keys (public and secret). 0, or -1 with a sentence
 * in err. */
int curve_load_certificate(const char *path, curve_keys_t *keys, char *err,
                           size_t err_size) PROFAI_MUST_CHECK;

/* Read the public key of the certificate at path (public or secret file) into key (41 bytes).
 * 0, or -1 with a sentence in err. */
int curve_load_public(const char *path, char *key, char *err, size_t err_size) PROFAI_MUST_CHECK;

/* A client's keys from its configuration: certificate (its own secret certificate) and
 * broker_key (the broker's public certificate). Both NULL: CURVE off (keys->enabled false);
 * one without the other is an error. 0, or -1 with a sentence in err. */
int curve_client_keys(const char *certificate, const char *broker_key, curve_keys_t *keys,
                      char *err, size_t err_size) PROFAI_MUST_CHECK;

/* Make sock (not yet connected) a CURVE client with keys; nothing when keys are off. */
void curve_apply_client(const curve_keys_t *keys, zsock_t *sock);

/* Make sock (not yet bound) a CURVE server with keys whose ZAP handler is asked for every
 * connection under domain. */
void curve_apply_server(const curve_keys_t *keys, zsock_t *sock, const char *domain);

/* Write a new certificate pair: dir/name (public) and dir/name_secret (mode 0600). name is
 * 1-64 of [A-Za-z0-9._-] not starting with a dot; existing files are never overwritten.
 * The public key is copied to public_key (41 bytes) when not NULL. 0, or -1 with a sentence. */
int curve_keygen(const char *dir, const char *name, char *public_key, char *err,
                 size_t err_size) PROFAI_MUST_CHECK;

/* Whether endpoint reaches only this host: ipc:, inproc:, or tcp: on 127.0.0.0/8,
 * [::1] or localhost. A wildcard (tcp: star), an interface name or any other address is not. */
bool curve_endpoint_is_local(const char *endpoint);

#endif
