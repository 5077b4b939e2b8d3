/*
 * pdf_fetch.h - fetch one job's PDF from the broker's blob endpoint (docs/protocol.md 3.6), in
 * chunks of PROTO_CHUNK_MAX bytes with at most PROTO_FETCH_CREDIT requests outstanding, on a
 * DEALER socket of its own, driven from the worker's event loop: poll pdf_fetch_socket() for
 * input, call pdf_fetch_service() when it is readable and at pdf_fetch_deadline() at the
 * latest. The PDF is checked against its announced size and SHA-256 before it is handed out.
 *
 * The fetch owns its socket and its buffer (the PDF, at most PROTO_PDF_MAX bytes); the token
 * (with its secret) is copied and never logged. Nothing here logs.
 */
#ifndef PROFAI_PDF_FETCH_H
#define PROFAI_PDF_FETCH_H

#include "curve.h"
#include "profai/proto.h"

#include <stdint.h>

typedef enum {
    PDF_FETCH_RUNNING, /* chunks are still coming */
    PDF_FETCH_DONE,    /* the whole PDF is here and matches its size and hash */
    PDF_FETCH_FAILED   /* refused, cut short, corrupt or silent: pdf_fetch_error says why */
} pdf_fetch_state_t;

typedef struct pdf_fetch_t pdf_fetch_t;

/* Start fetching size bytes (1..PROTO_PDF_MAX) whose SHA-256 is sha256 (hex) from endpoint
 * with the attempt's token (token_len bytes, secret included). curve (borrowed for the call):
 * the slot's keys. The fetch fails when no answer comes for silence_ms. NULL with a sentence
 * in err on bad arguments or when no socket can be made. */
pdf_fetch_t *pdf_fetch_new(const char *endpoint, const curve_keys_t *curve, const uint8_t *token,
                           size_t token_len, uint32_t size, const char *sha256, int64_t silence_ms,
                           int64_t now, char *err, size_t err_size);

/* Close the socket, free the buffer and set *self_p to NULL; accepts NULL. */
void pdf_fetch_destroy(pdf_fetch_t **self_p);

/* The socket to poll for input (borrowed). */
zsock_t *pdf_fetch_socket(pdf_fetch_t *self);

/* Read every reply waiting (never blocks), ask for more, check the deadline. */
pdf_fetch_state_t pdf_fetch_service(pdf_fetch_t *self, int64_t now);

/* When pdf_fetch_service must run at the latest (monotonic ms). */
int64_t pdf_fetch_deadline(const pdf_fetch_t *self);

/* DONE: the PDF (borrowed from self) and its length. */
const uint8_t *pdf_fetch_data(const pdf_fetch_t *self, size_t *len);

/* FAILED: why, a sentence without the token. */
const char *pdf_fetch_error(const pdf_fetch_t *self);

#endif
