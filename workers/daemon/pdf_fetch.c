/*
 * pdf_fetch.c - see pdf_fetch.h. Chunks are asked for in order, at most PROTO_FETCH_CREDIT at
 * a time (the zguide's credit-based file transfer); the broker's reader threads may answer
 * them in another order, so each chunk is placed by its offset and counted once (a bitmap:
 * at most PROTO_PDF_MAX / PROTO_CHUNK_MAX = 64 chunks).
 */
#include "pdf_fetch.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* docs/protocol.md section 5: the fetch DEALER. */
#define S_MAXMSGSIZE ((int)(PROTO_CHUNK_BODY_MAX + 64u * 1024))

struct pdf_fetch_t {
    zsock_t *sock;
    char token[PROTO_ADDRESS_MAX + 1];
    char sha256[PROTO_SHA256_LEN + 1];
    uint8_t *data;
    size_t size;
    size_t asked;                /* bytes asked for so far */
    size_t received;             /* bytes received */
    uint64_t asked_map, got_map; /* chunks asked for, chunks received (bit = offset / 1 MiB) */
    int outstanding;             /* requests without a reply */
    int64_t silence_ms, deadline;
    pdf_fetch_state_t state;
    char error[PROTO_CODE_MAX + PROTO_ERROR_MAX + 128];
};

pdf_fetch_t *
pdf_fetch_new(const char *endpoint, const curve_keys_t *curve, const uint8_t *token,
              size_t token_len, uint32_t size, const char *sha256, int64_t silence_ms, int64_t now,
              char *err, size_t err_size)
{
    if (endpoint == NULL || endpoint[0] == '\0' || token_len == 0 ||
        token_len > PROTO_ADDRESS_MAX || size == 0 || size > PROTO_PDF_MAX ||
        !proto_is_sha256(sha256, strlen(sha256))) {
        snprintf(err, err_size, "bad PDF reference (size, hash or endpoint)");
        return NULL;
    }
    pdf_fetch_t *self = calloc(1, sizeof *self);
    if (self == NULL || (self->data = malloc(size)) == NULL) {
        free(self);
        snprintf(err, err_size, "out of memory for %u bytes", size);
        return NULL;
    }
    memcpy(self->token, token, token_len);
    self->token[token_len] = '\0';
    snprintf(self->sha256, sizeof self->sha256, "%s", sha256);
    self->size = size;
    self->silence_ms = silence_ms;
    self->deadline = now + silence_ms;
    self->state = PDF_FETCH_RUNNING;
    self->sock = zsock_new(ZMQ_DEALER);
    if (self->sock == NULL) {
        snprintf(err, err_size, "cannot create a socket");
        pdf_fetch_destroy(&self);
        return NULL;
    }
    zsock_set_maxmsgsize(self->sock, S_MAXMSGSIZE);
    zsock_set_linger(self->sock, 0);
    zsock_set_sndtimeo(self->sock, 0);
    curve_apply_client(curve, self->sock);
    if (zsock_connect(self->sock, "%s", endpoint) != 0) {
        snprintf(err, err_size, "cannot connect to %s: %s", endpoint, zmq_strerror(zmq_errno()));
        pdf_fetch_destroy(&self);
        return NULL;
    }
    (void)pdf_fetch_service(self, now); /* the first requests */
    return self;
}

void
pdf_fetch_destroy(pdf_fetch_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    pdf_fetch_t *self = *self_p;
    zsock_destroy(&self->sock);
    free(self->data);
    free(self);
    *self_p = NULL;
}

zsock_t *
pdf_fetch_socket(pdf_fetch_t *self)
{
    return self->sock;
}

int64_t
pdf_fetch_deadline(const pdf_fetch_t *self)
{
    return self->deadline;
}

const char *
pdf_fetch_error(const pdf_fetch_t *self)
{
    return self->error;
}

const uint8_t *
pdf_fetch_data(const pdf_fetch_t *self, size_t *len)
{
    *len = self->state == PDF_FETCH_DONE ? self->size : 0;
    return self->state == PDF_FETCH_DONE ? self->data : NULL;
}

static pdf_fetch_state_t
s_fail(pdf_fetch_t *self, const char *fmt, const char *detail)
{
    snprintf(self->error, sizeof self->error, fmt, detail);
    self->state = PDF_FETCH_FAILED;
    return self->state;
}

/* Ask for chunks while credit is left. */
static int
s_ask(pdf_fetch_t *self)
{
    while (self->outstanding < PROTO_FETCH_CREDIT && self->asked < self->size) {
        proto_fetch_t req;
        memset(&req, 0, sizeof req);
        snprintf(req.token, sizeof req.token, "%s", self->token);
        req.offset = self->asked;
        size_t left = self->size - self->asked;
        req.size = (uint32_t)(left < PROTO_CHUNK_MAX ? left : PROTO_CHUNK_MAX);
        proto_buf_t body = {0};
        proto_error_t perr;
        if (proto_fetch_encode(&req, &body, &perr) != 0)
            return -1;
        zmsg_t *msg = mdpc_build(MDPC_REQUEST, PROTO_SERVICE_PDF_FETCH, body.data, body.size);
        proto_buf_free(&body);
        if (msg == NULL || zmsg_send(&msg, self->sock) != 0) {
            zmsg_destroy(&msg);
            return -1;
        }
        self->asked_map |= 1ull << (self->asked / PROTO_CHUNK_MAX);
        self->asked += req.size;
        self->outstanding++;
    }
    return 0;
}

/* One reply: a chunk in order, or a refusal. */
static pdf_fetch_state_t
s_on_reply(pdf_fetch_t *self, zmsg_t *msg)
{
    mdpc_view_t view;
    proto_error_t perr;
    proto_chunk_t chunk;
    if (mdpc_parse(msg, PROTO_CHUNK_BODY_MAX, &view, &perr) != 0 ||
        proto_chunk_decode(view.body, view.body_len, &chunk, &perr) != 0)
        return s_fail(self, "invalid reply from the blob endpoint: %s", perr.detail);
    if (!chunk.ok) {
        char why[PROTO_CODE_MAX + PROTO_ERROR_MAX + 4];
        snprintf(why, sizeof why, "%s: %s", chunk.error_code, chunk.error);
        return s_fail(self, "the blob endpoint refused: %s", why);
    }
    if (chunk.total != self->size)
        return s_fail(self, "%s", "the stored PDF's size is not the announced one");
    size_t index = (size_t)(chunk.offset / PROTO_CHUNK_MAX);
    size_t want = self->size - (size_t)chunk.offset;
    want = want < PROTO_CHUNK_MAX ? want : PROTO_CHUNK_MAX;
    if (chunk.offset % PROTO_CHUNK_MAX != 0 || chunk.offset >= self->size ||
        !(self->asked_map & (1ull << index)) || (self->got_map & (1ull << index)) ||
        chunk.data_len != want)
        return s_fail(self, "%s", "a chunk came that was not asked for, twice, or cut short");
    self->got_map |= 1ull << index;
    memcpy(self->data + chunk.offset, chunk.data, chunk.data_len);
    self->received += chunk.data_len;
    self->outstanding--;
    if (self->received < self->size)
        return self->state;
    gchar *hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, self->data, self->size);
    bool same = hex != NULL && strcmp(hex, self->sha256) == 0;
    g_free(hex);
    if (!same)
        return s_fail(self, "%s", "the fetched PDF does not match its SHA-256");
    self->state = PDF_FETCH_DONE;
    return self->state;
}

pdf_fetch_state_t
pdf_fetch_service(pdf_fetch_t *self, int64_t now)
{
    while (self->state == PDF_FETCH_RUNNING && (zsock_events(self->sock) & ZMQ_POLLIN)) {
        zmsg_t *msg = zmsg_recv(self->sock);
        if (msg == NULL)
            break;
        s_on_reply(self, msg);
        zmsg_destroy(&msg);
        self->deadline = now + self->silence_ms;
    }
    if (self->state != PDF_FETCH_RUNNING)
        return self->state;
    if (s_ask(self) != 0)
        return s_fail(self, "%s", "cannot send a request to the blob endpoint");
    if (now >= self->deadline)
        return s_fail(self, "%s", "no answer from the blob endpoint in time");
    return self->state;
}
