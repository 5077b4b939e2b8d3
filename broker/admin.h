/*
 * admin.h - the broker's admin socket (docs/admin.md): a second ROUTER, bound on an ipc://
 * path only its user and group may use, or on tcp:// as a CURVE server that admits only the
 * keys of curve/admins_dir (zap.h, ZAP_DOMAIN_ADMIN), answering the admin.* commands (status,
 * workers, jobs, one job's history; retry, cancel, drain, pause, resume, log level).
 *
 * Runs on the broker's thread: broker.c polls admin_socket() beside its ROUTER and calls
 * admin_read() when it is readable. Replies that need PostgreSQL are sent from the store's
 * callbacks. The admin object borrows the broker, which owns it (broker_t.admin).
 */
#ifndef PROFAI_BROKER_ADMIN_H
#define PROFAI_BROKER_ADMIN_H

#include "broker.h"

#include <stddef.h>

typedef struct admin_t admin_t;

/* Bind the admin socket of broker (borrowed; must outlive the result) at endpoint. ipc://:
 * the socket file is made 0660, and peers of another uid and gid are dropped where libzmq
 * supports it. tcp://: a CURVE server with keys (borrowed, read now; the broker's own pair),
 * which needs the broker's ZAP handler (broker->zap) to exist; each request is checked against
 * the admin keys as they stand. NULL with a sentence in err when it cannot be bound, or the
 * endpoint is neither, or tcp:// lacks CURVE. */
admin_t *admin_new(broker_t *broker, const char *endpoint, const curve_keys_t *keys, char *err,
                   size_t err_size);

/* Close the socket (libzmq removes the file it created), free; accepts NULL. */
void admin_destroy(admin_t **self_p);

/* The socket to poll for ZMQ_POLLIN (borrowed). */
void *admin_socket(admin_t *self);

/* Read and answer the requests waiting (a bounded batch per call). */
void admin_read(admin_t *self);

/* The default endpoint: ipc://$RUNTIME_DIRECTORY/admin.sock when the variable is set (systemd
 * RuntimeDirectory=), else ipc://var/admin.sock. Writes into buf; returns buf. */
const char *admin_default_endpoint(char *buf, size_t size);

#endif
