/*
 * admin_client.h - profaictl's side of the broker's admin socket (docs/admin.md): send one
 * command, collect its PARTIAL rows and its FINAL, decoded with the protocol's message tables;
 * and show any decoded message as JSON or as text, field by field, from its table.
 *
 * Nothing here prints: errors come back as a sentence in the caller's buffer.
 */
#ifndef PROFAI_CTL_ADMIN_CLIENT_H
#define PROFAI_CTL_ADMIN_CLIENT_H

#include "curve.h"
#include "json.h"
#include "profai/admin_proto.h"

#include <stddef.h>

/* One decoded message; m is a struct of desc's message, owned by the reply. */
typedef struct {
    const proto_message_t *desc;
    void *m;
} admin_msg_t;

/* A command's answer: its rows, in order, and its FINAL. */
typedef struct {
    admin_msg_t *rows;
    size_t count;
    admin_msg_t final;
} admin_reply_t;

/* What the answer of a command is made of: the first row's message (may differ: admin.job),
 * every other row's, and the FINAL's. Rows are NULL for a command without rows. */
typedef struct {
    const proto_message_t *first_row;
    const proto_message_t *row;
    const proto_message_t *final;
} admin_shape_t;

/* Send service's request req over a fresh connection to endpoint and wait at most timeout_ms
 * for the whole answer. keys (borrowed; NULL or not enabled: none) make the connection a CURVE
 * client, as a tcp:// admin socket requires (docs/admin.md). Returns 0 with reply filled (free
 * it with admin_reply_free), or -1 with a sentence in err: the socket file is not writable by
 * this user, the broker refused the key, no answer in time, or a message that does not
 * decode. */
int admin_call(const char *endpoint, const curve_keys_t *keys, const char *service,
               const admin_request_t *req, const admin_shape_t *shape, int timeout_ms,
               admin_reply_t *reply, char *err, size_t err_size) PROFAI_MUST_CHECK;

/* Free a reply's messages and zero it; accepts a zeroed reply. */
void admin_reply_free(admin_reply_t *reply);

/* The field `key` of msg as text ("" when absent or 0 for an optional field); false when the
 * message has no such field. */
bool admin_msg_text(const admin_msg_t *msg, const char *key, char *buf, size_t size);

/* msg as one JSON object (every field but rid; optional empty fields as null). */
void admin_msg_json(json_t *j, const admin_msg_t *msg);

#endif
