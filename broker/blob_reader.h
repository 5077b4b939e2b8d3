/*
 * blob_reader.h - reads stored PDFs (blobs.data) for dispatch on connections of their own,
 * so that the broker's store (its one write connection, store.h) never waits for PDF bytes
 * (docs/broker.md, "The PDF's path").
 *
 * `readers` connections, each non-blocking and reading one PDF at a time: at most `readers`
 * PDFs are being read (and held in memory) at once; further reads wait in two FIFO queues,
 * small PDFs and large ones (BLOB_READER_LARGE bytes or more). Small reads go first, and with
 * two readers or more, large reads occupy all but one of them at most: a small PDF never
 * waits for a large one to be read. Reads
 * only: no transaction, no fence. The caller polls every connection's socket
 * (blob_reader_pollfd) and calls blob_reader_service each turn of its loop.
 *
 * Failures: a lost connection puts its read back at the head of the queue and reconnects
 * (back-off 250 ms doubling to 5 s); a read is answered with an error only for a statement
 * error; a PDF that is not stored is answered with data NULL. The reader owns its queue and
 * the results; the caller owns nothing it passed (ctx and sha256 are copied).
 *
 * Nothing here logs: connection changes go to the event callback.
 */
#ifndef PROFAI_BROKER_BLOB_READER_H
#define PROFAI_BROKER_BLOB_READER_H

#include "profai/compiler.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most connections (PDFs read at once). */
#define BLOB_READER_MAX 16
/* A PDF this large or larger is read in the large lane. */
#define BLOB_READER_LARGE (1024 * 1024)

typedef struct blob_reader_t blob_reader_t;

/* A read finished. ctx: the caller's copy (borrowed for the call). data (len bytes, borrowed
 * for the call): the PDF, or NULL when no blob has that hash. error: NULL, or a sentence when
 * the statement failed (data NULL). The callback may call blob_reader_read. */
typedef void(blob_read_fn)(void *owner, void *ctx, const uint8_t *data, size_t len,
                           const char *error);

/* A connection was lost or could not be made (up false; detail says why), or is back (up
 * true, detail NULL). */
typedef void(blob_reader_event_fn)(void *owner, bool up, const char *detail);

/* Create a reader of `readers` (1..BLOB_READER_MAX) connections to conninfo; the first
 * attempts start at the first blob_reader_service. conninfo is copied. NULL on bad arguments
 * or allocation failure. */
blob_reader_t *blob_reader_new(const char *conninfo, int readers, blob_read_fn *done,
                               blob_reader_event_fn *on_event, void *owner);

/* Close the connections and drop every read without calling its callback. */
void blob_reader_destroy(blob_reader_t **self_p);

/* Queue a read of the blob sha256 (hex, NUL-terminated), large or not (its size is at least
 * BLOB_READER_LARGE); ctx (ctx_len bytes) is copied and handed to done. 0, or -1 on
 * allocation failure (done will not run). */
int blob_reader_read(blob_reader_t *self, const char *sha256, bool large, const void *ctx,
                     size_t ctx_len) PROFAI_MUST_CHECK;

/* Connection i's socket and the events (ZMQ_POLLIN/ZMQ_POLLOUT values) to wait for; -1 when
 * it has none now. i < blob_reader_count. */
int blob_reader_pollfd(const blob_reader_t *self, int i, short *events);
int blob_reader_count(const blob_reader_t *self);

/* Make progress on every connection without blocking: connect, send queued reads, read
 * answers (callbacks run here). now: monotonic milliseconds. */
void blob_reader_service(blob_reader_t *self, int64_t now);

/* Milliseconds until the next reconnection attempt is due, or -1 when none is. */
int64_t blob_reader_timeout(const blob_reader_t *self, int64_t now);

/* Reads queued or being read. */
size_t blob_reader_pending(const blob_reader_t *self);

#endif
