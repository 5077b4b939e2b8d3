/*
 * blob_server.h - the blob endpoint (docs/protocol.md 3.6; docs/broker.md, "The PDF's path"):
 * threads of the broker with a ROUTER socket of their own and PostgreSQL connections of their
 * own, from which workers fetch the PDFs of the attempts they run, in chunks, so that no byte
 * of a large PDF crosses the broker's loop thread.
 *
 * Each FETCH names an attempt by its job token (with its secret) and a byte range; it is
 * answered only while that attempt is the job's running one, the secret hashes to
 * jobs.token_sha256 and (with CURVE) the sender's key is a worker key and the attempt's
 * jobs.worker_key. The check and the read are one statement, so a job cancelled, requeued or
 * given to another worker stops being served at its next chunk. `threads` reader threads,
 * each with its own connection, serve FETCHes in parallel, each holding one chunk at a time;
 * workers keep at most PROTO_FETCH_CREDIT requests outstanding, which bounds what ZeroMQ
 * queues. With CURVE the socket uses the broker's certificate and ZAP domain, whose
 * handshakes the loop thread answers (zap.h): no PDF byte goes there.
 *
 * The threads log refusals and database trouble themselves (one line each).
 */
#ifndef PROFAI_BROKER_BLOB_SERVER_H
#define PROFAI_BROKER_BLOB_SERVER_H

#include "curve.h"

#include <stddef.h>

/* Reader threads (each with its own database connection): default and most. */
#define BLOB_SERVER_THREADS_DEFAULT 2
#define BLOB_SERVER_THREADS_MAX 16

typedef struct {
    const char *endpoint;      /* broker/blob_endpoint: where the ROUTER binds */
    int threads;               /* broker/blob_threads: reader threads, 1..16 (0: the default) */
    const char *conninfo;      /* database/conninfo */
    const curve_keys_t *curve; /* enabled: CURVE server in ZAP_DOMAIN, worker keys only */
} blob_server_config_t;

typedef struct blob_server_t blob_server_t;

/* Start the thread and bind its socket (config is copied). NULL with a sentence in err when
 * the endpoint cannot be bound or memory is short. Needs the ZAP handler bound first when
 * CURVE is on. */
blob_server_t *blob_server_new(const blob_server_config_t *config, char *err, size_t err_size);

/* Stop the thread, close its socket and connection, free; accepts NULL. */
void blob_server_destroy(blob_server_t **self_p);

#endif
