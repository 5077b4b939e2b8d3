/*
 * proto.h - the ProfAI wire protocol codec (docs/protocol.md).
 *
 * Two layers:
 *   - framing: MDP/0.2 (ZeroMQ RFC 18) worker and client frames, on czmq zmsg_t;
 *   - bodies: one msgpack map per message, decoded with validation before any allocation.
 *     Each message is a table of fields (proto_message_t); one encoder and one decoder walk
 *     the tables, and the typed proto_<message>_encode/_decode wrap them.
 *
 * Library code: nothing here logs or exits. Every function returns 0 on success and -1 on
 * failure, filling a proto_error_t with a code and a sentence.
 */
#ifndef PROFAI_PROTO_H
#define PROFAI_PROTO_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h> /* offsetof, for the table-entry builders */
#include <stdint.h>

#include "profai/compiler.h"
#include "profai/errors.h"

/* The protocol version this build speaks, major.minor (docs/protocol.md 3.5): bodies carry the
 * major in `v` and the minor in `v_minor` (none when it is 0). Peers of the same major
 * interoperate whatever their minors; another major is refused (unsupported_version). A test
 * build may speak an older minor with -DPROTO_VERSION_MINOR=N. */
#define PROTO_VERSION 1
#ifndef PROTO_VERSION_MINOR
#define PROTO_VERSION_MINOR 2
#endif
#define MDPW_HEADER "MDPW02"
#define MDPC_HEADER "MDPC02"

/* Service names. */
#define PROTO_SERVICE_COURSE "course.build"
#define PROTO_SERVICE_SUBMIT "job.submit"
#define PROTO_SERVICE_PING "broker.ping"
#define PROTO_SERVICE_CANCEL "job.cancel"
/* The blob endpoint's one service (docs/protocol.md 3.6). */
#define PROTO_SERVICE_PDF_FETCH "pdf.fetch"

/* Limits (bytes), from docs/protocol.md. */
#define PROTO_SERVICE_MAX 32
#define PROTO_ADDRESS_MAX 96
/* Hex digits of a job attempt's secret at the end of its token (128 bits). */
#define PROTO_SECRET_LEN 32
#define PROTO_TITLE_MAX 200
#define PROTO_FILENAME_MAX 255
#define PROTO_STAGE_MAX 32
#define PROTO_STATE_MAX 16
#define PROTO_CODE_MAX 32
#define PROTO_ERROR_MAX 1024
#define PROTO_UUID_LEN 36
#define PROTO_SHA256_LEN 64
#define PROTO_PDF_MAX (64u * 1024 * 1024)
#define PROTO_COURSE_MAX (32u * 1024 * 1024)
#define PROTO_CONTROL_BODY_MAX (16u * 1024)
#define PROTO_JOB_BODY_MAX (PROTO_PDF_MAX + 16u * 1024)
#define PROTO_RESULT_BODY_MAX (PROTO_COURSE_MAX + 16u * 1024)
/* PDF fetch (docs/protocol.md 3.6): a JOB's `pdf_endpoint`, one CHUNK's bytes at most, the
 * FETCHes a worker keeps outstanding at most (its credit), a CHUNK body at most. */
#define PROTO_ENDPOINT_MAX 255
#define PROTO_CHUNK_MAX (1024u * 1024)
#define PROTO_FETCH_CREDIT 4
#define PROTO_CHUNK_BODY_MAX (PROTO_CHUNK_MAX + 16u * 1024)

/* Why a decode failed; `code` is one of the request error codes of the protocol document
 * ("bad_request", "unsupported_version", ...), the wire name of `id`; `detail` says which field
 * and why. */
typedef struct {
    char code[PROTO_CODE_MAX + 1];
    char detail[256];
    profai_error_t id; /* the same code as an enumeration (profai/errors.h) */
} proto_error_t;

/* ---------------------------------------------------------------- framing */

typedef enum {
    MDPW_READY = 1,
    MDPW_REQUEST = 2,
    MDPW_PARTIAL = 3,
    MDPW_FINAL = 4,
    MDPW_HEARTBEAT = 5,
    MDPW_DISCONNECT = 6
} mdpw_command_t;

typedef enum { MDPC_REQUEST = 1, MDPC_PARTIAL = 2, MDPC_FINAL = 3 } mdpc_command_t;

/* A parsed worker message. Pointers are borrowed from the zmsg_t given to mdpw_parse and valid
 * while it lives and is not modified. Unused members are NULL / 0. */
typedef struct {
    mdpw_command_t command;
    char service[PROTO_SERVICE_MAX + 1]; /* READY */
    const uint8_t *address;              /* REQUEST, PARTIAL, FINAL */
    size_t address_len;
    const uint8_t *body; /* REQUEST, PARTIAL, FINAL */
    size_t body_len;
} mdpw_view_t;

/* A parsed client message (same ownership rules as mdpw_view_t). */
typedef struct {
    mdpc_command_t command;
    char service[PROTO_SERVICE_MAX + 1];
    const uint8_t *body;
    size_t body_len;
} mdpc_view_t;

/* Which protocol a message (without ROUTER identity) speaks: 'W' for MDPW02, 'C' for MDPC02,
 * 0 for neither. msg is borrowed. */
char mdp_kind(zmsg_t *msg);

/* Parse a worker message (without ROUTER identity). msg is borrowed. Checks the header, the
 * command, the frame count and the size of every frame; `body_max` bounds the body frame. */
int mdpw_parse(zmsg_t *msg, size_t body_max, mdpw_view_t *view,
               proto_error_t *err) PROFAI_MUST_CHECK;

/* Parse a client message (without ROUTER identity). msg is borrowed. When a message with a
 * valid header, command and service has several body frames, view->command and
 * view->service are kept so that the caller can answer it; otherwise
 * view->service is empty. */
int mdpc_parse(zmsg_t *msg, size_t body_max, mdpc_view_t *view,
               proto_error_t *err) PROFAI_MUST_CHECK;

/* Builders: each returns a new message (caller owns it) or NULL on allocation failure or an
 * argument over its limit. Bodies are copied. */
zmsg_t *mdpw_build_ready(const char *service);
zmsg_t *mdpw_build_heartbeat(void);
zmsg_t *mdpw_build_disconnect(void);
/* command is MDPW_REQUEST, MDPW_PARTIAL or MDPW_FINAL. */
zmsg_t *mdpw_build_job_message(mdpw_command_t command, const void *address, size_t address_len,
                               const void *body, size_t body_len);
/* command is MDPC_REQUEST, MDPC_PARTIAL or MDPC_FINAL. body_len: at most PROTO_CONTROL_BODY_MAX,
 * or PROTO_CHUNK_BODY_MAX for service pdf.fetch. */
zmsg_t *mdpc_build(mdpc_command_t command, const char *service, const void *body, size_t body_len);

/* ---------------------------------------------------------------- job token */

/* Format "<uuid>/<attempt>" into buf (at least PROTO_ADDRESS_MAX + 1 bytes). */
int proto_token_format(const char *job_id, uint32_t attempt, char *buf,
                       size_t size) PROFAI_MUST_CHECK;
/* Parse a token; job_id receives PROTO_UUID_LEN + 1 bytes. */
int proto_token_parse(const uint8_t *address, size_t len, char *job_id,
                      uint32_t *attempt) PROFAI_MUST_CHECK;

/* A token "<uuid>/<attempt>/<secret>" ends in '/' and PROTO_SECRET_LEN lower-case hex digits
 * (docs/protocol.md, 3.1). Returns the length of the token without that part, which
 * proto_token_parse reads, and copies the secret into secret (PROTO_SECRET_LEN + 1 bytes; ""
 * and len returned when the address has none). */
size_t proto_token_split_secret(const uint8_t *address, size_t len, char *secret);

/* ---------------------------------------------------------------- validators */

bool proto_is_uuid(const char *s, size_t len);
bool proto_is_sha256(const char *s, size_t len);
bool proto_is_utf8(const char *s, size_t len);
bool proto_is_service(const char *s, size_t len);

/* ---------------------------------------------------------------- bodies */

/* A body encoded by one of the *_encode functions: caller owns data, frees with free(). */
typedef struct {
    uint8_t *data;
    size_t size;
} proto_buf_t;

/*
 * Message descriptors. Every body is described once, as data: a table of fields in wire order
 * (after `v`, which every body carries first), each naming its key, its type and limits, when
 * it is present, and where it lives in the message's C struct. One encoder and one decoder walk
 * these tables (protocol/body.c); the tables of the messages below are in protocol/messages.c.
 * A new message is a struct, a table, and a section of docs/protocol.md.
 */

/* Wire type of a field, and the C member it is read from and written to. */
typedef enum {
    PROTO_FIELD_UINT,   /* msgpack non-negative integer; member uint32_t or uint64_t */
    PROTO_FIELD_BOOL,   /* msgpack boolean; member bool */
    PROTO_FIELD_STR,    /* UTF-8 string without NUL; member char[max + 1] (at least) */
    PROTO_FIELD_UUID,   /* a STR in canonical lower-case uuid form; member char[37] */
    PROTO_FIELD_SHA256, /* a STR of 64 lower-case hex digits; member char[65] */
    PROTO_FIELD_BIN     /* msgpack bin; members const uint8_t * and size_t (borrowed) */
} proto_field_type_t;

/* When a field is on the wire. "ok" is the message's outcome field (proto_message_t.ok_field).
 * An optional field is sent when its member is not 0 / not empty; a decoded absent or nil one
 * leaves its member 0 / "". A field that is not there for the outcome is neither sent nor read
 * into the struct (a decoder still checks it when a peer sends it). */
typedef enum {
    PROTO_REQUIRED,        /* always */
    PROTO_OPTIONAL,        /* may be absent or nil */
    PROTO_WHEN_OK,         /* required when ok; not there otherwise */
    PROTO_WHEN_NOT_OK,     /* required when not ok; not there otherwise */
    PROTO_REQUIRED_WHEN_OK /* required when ok; optional otherwise */
} proto_presence_t;

/* One field. `min`/`max` bound a UINT's value, and a STR's or BIN's length in bytes. */
typedef struct {
    const char *key;
    proto_field_type_t type;
    proto_presence_t presence;
    size_t offset;     /* of the member in the message struct */
    size_t size;       /* of the member */
    size_t len_offset; /* BIN: of the size_t length member */
    uint64_t min;
    uint64_t max;
} proto_field_t;

/* Most fields a message may have (besides `v`). */
#define PROTO_FIELDS_MAX 16

/* One message: its struct and its fields in wire order. */
typedef struct {
    const char *name;            /* "JOB", for error details and tests */
    size_t size;                 /* sizeof the message struct */
    const proto_field_t *fields; /* static storage */
    size_t count;
    int ok_field; /* index of the BOOL that WHEN_OK fields depend on; -1 when none */
} proto_message_t;

/* Table-entry builders: T is the message struct, M the member (P and L: BIN pointer, length). */
#define PROTO_MEMBER(T, M) .offset = offsetof(T, M), .size = sizeof(((T *)0)->M)
#define PROTO_F_UINT(T, M, key_, presence_, min_, max_)                                            \
    {                                                                                              \
        .key = (key_), .type = PROTO_FIELD_UINT, .presence = (presence_), PROTO_MEMBER(T, M),      \
        .min = (min_), .max = (max_)                                                               \
    }
#define PROTO_F_BOOL(T, M, key_, presence_)                                                        \
    {                                                                                              \
        .key = (key_), .type = PROTO_FIELD_BOOL, .presence = (presence_), PROTO_MEMBER(T, M),      \
        .max = 1                                                                                   \
    }
#define PROTO_F_STR(T, M, key_, presence_, min_, max_)                                             \
    {                                                                                              \
        .key = (key_), .type = PROTO_FIELD_STR, .presence = (presence_), PROTO_MEMBER(T, M),       \
        .min = (min_), .max = (max_)                                                               \
    }
#define PROTO_F_UUID(T, M, key_, presence_)                                                        \
    {                                                                                              \
        .key = (key_), .type = PROTO_FIELD_UUID, .presence = (presence_), PROTO_MEMBER(T, M),      \
        .min = PROTO_UUID_LEN, .max = PROTO_UUID_LEN                                               \
    }
#define PROTO_F_SHA256(T, M, key_, presence_)                                                      \
    {                                                                                              \
        .key = (key_), .type = PROTO_FIELD_SHA256, .presence = (presence_), PROTO_MEMBER(T, M),    \
        .min = PROTO_SHA256_LEN, .max = PROTO_SHA256_LEN                                           \
    }
#define PROTO_F_BIN(T, P, L, key_, presence_, min_, max_)                                          \
    {                                                                                              \
        .key = (key_), .type = PROTO_FIELD_BIN, .presence = (presence_), PROTO_MEMBER(T, P),       \
        .len_offset = offsetof(T, L), .min = (min_), .max = (max_)                                 \
    }
/* A message of struct T described by the array `fields_`. */
#define PROTO_MESSAGE(name_, T, fields_, ok_field_)                                                \
    {                                                                                              \
        .name = (name_), .size = sizeof(T), .fields = (fields_),                                   \
        .count = sizeof(fields_) / sizeof((fields_)[0]), .ok_field = (ok_field_)                   \
    }

/* Whether a descriptor is well formed: 1..PROTO_FIELDS_MAX fields with distinct keys other than
 * "v", members of the size their type and limits need, ok_field a required BOOL when some field
 * depends on it. On false *why (may be NULL) gets a static sentence. The codec refuses a
 * descriptor that is not. */
bool proto_message_valid(const proto_message_t *msg, const char **why);

/* Encode the struct m of message msg: check every field as the decoder would (returning -1 and
 * filling err on the first one out of its limits), then write `v` and the present fields, in
 * table order, into a new buffer the caller frees. Deterministic. */
int proto_message_encode(const proto_message_t *msg, const void *m, proto_buf_t *out,
                         proto_error_t *err) PROFAI_MUST_CHECK;

/* Decode data into the struct m of message msg (zeroed first, and left zeroed on failure):
 * pre-scan the raw bytes (nothing allocated for a hostile body), unpack exactly one map, check
 * `v` first (missing or nil: bad_request; another value: unsupported_version), then every field
 * of the table in order; unknown keys are ignored, a known key twice is refused. STR members
 * are copied; BIN pointers borrow from data. */
int proto_message_decode(const proto_message_t *msg, const uint8_t *data, size_t len, void *m,
                         proto_error_t *err) PROFAI_MUST_CHECK;

/* JOB: REQUEST body, broker -> worker. Decoded `pdf` is borrowed from the input buffer. */
typedef struct {
    char job_id[PROTO_UUID_LEN + 1];
    uint32_t attempt;
    char title[PROTO_TITLE_MAX + 1];
    char filename[PROTO_FILENAME_MAX + 1];
    char sha256[PROTO_SHA256_LEN + 1];
    const uint8_t *pdf;
    size_t pdf_len;
    /* 1.2, optional (docs/protocol.md 3.6): when pdf_size is not 0, `pdf` is empty and the PDF
     * (pdf_size bytes, SHA-256 sha256) is fetched from pdf_endpoint. */
    uint32_t pdf_size;
    char pdf_endpoint[PROTO_ENDPOINT_MAX + 1];
} proto_job_t;

/* PROGRESS: PARTIAL body, worker -> broker. `page`/`pages` are 0 when absent. */
typedef struct {
    uint32_t progress;
    char stage[PROTO_STAGE_MAX + 1];
    uint32_t page;
    uint32_t pages;
} proto_progress_t;

/* RESULT: FINAL body, worker -> broker. Decoded `course` is borrowed from the input buffer. */
typedef struct {
    bool ok;
    const uint8_t *course; /* UTF-8 JSON, when ok */
    size_t course_len;
    char error_code[PROTO_CODE_MAX + 1]; /* when !ok */
    char error[PROTO_ERROR_MAX + 1];     /* optional, "" when absent */
} proto_result_t;

/* SUBMIT: client REQUEST body for job.submit. */
typedef struct {
    uint64_t rid;
    char owner[PROTO_UUID_LEN + 1];
    char title[PROTO_TITLE_MAX + 1];
    char filename[PROTO_FILENAME_MAX + 1];
    char sha256[PROTO_SHA256_LEN + 1];
} proto_submit_t;

/* SUBMITTED: client FINAL body from job.submit; also the generic error reply (ok = false). */
typedef struct {
    uint64_t rid;
    bool ok;
    char job_id[PROTO_UUID_LEN + 1];     /* when ok */
    char state[PROTO_STATE_MAX + 1];     /* when ok */
    char error_code[PROTO_CODE_MAX + 1]; /* when !ok */
    char error[PROTO_ERROR_MAX + 1];
} proto_submitted_t;

/* PING: client REQUEST body for broker.ping. */
typedef struct {
    uint64_t rid;
} proto_ping_t;

/* PONG: client FINAL body from broker.ping. */
typedef struct {
    uint64_t rid;
    bool ok;
    bool db;
    uint64_t workers; /* worker connections: job slots (one DEALER per slot) */
    uint64_t queued;
    uint64_t running;
    uint64_t processes; /* distinct worker processes (host, pid); optional: 0 from older brokers */
} proto_pong_t;

/* CANCEL: client REQUEST body for job.cancel. `owner` is the job's owner: the caller's own id,
 * or, for an administrator, the job's real owner (the broker refuses any other). */
typedef struct {
    uint64_t rid;
    char owner[PROTO_UUID_LEN + 1];
    char job_id[PROTO_UUID_LEN + 1];
} proto_cancel_t;

/* CANCELLED: client FINAL body from job.cancel. ok: the job is cancelled now (state
 * "cancelled"). Not ok: error_code says why; "already_final" comes with the job's final state
 * in `state`, "unknown_job" and the generic errors (db_unavailable, ...) with state "". */
typedef struct {
    uint64_t rid;
    bool ok;
    char state[PROTO_STATE_MAX + 1];     /* required when ok; optional otherwise */
    char error_code[PROTO_CODE_MAX + 1]; /* when !ok */
    char error[PROTO_ERROR_MAX + 1];
} proto_cancelled_t;

/* FETCH: request body of service pdf.fetch on the blob endpoint, worker -> broker (1.2). */
typedef struct {
    char token[PROTO_ADDRESS_MAX + 1]; /* the attempt's job token with its secret (3.1) */
    uint64_t offset;                   /* first byte wanted */
    uint32_t size;                     /* bytes wanted, 1..PROTO_CHUNK_MAX */
} proto_fetch_t;

/* CHUNK: reply body of pdf.fetch (1.2). Decoded `data` is borrowed from the input buffer. */
typedef struct {
    bool ok;
    uint64_t offset;     /* when ok: where data starts */
    uint64_t total;      /* when ok: the PDF's size */
    const uint8_t *data; /* when ok: at most the size asked for, fewer only at the end */
    size_t data_len;
    char error_code[PROTO_CODE_MAX + 1]; /* when !ok */
    char error[PROTO_ERROR_MAX + 1];
} proto_chunk_t;

/* The descriptors of the messages above (protocol/messages.c), and all of them in one list
 * (PROTO_MESSAGE_COUNT entries), for code that walks every message. */
extern const proto_message_t proto_message_job;
extern const proto_message_t proto_message_progress;
extern const proto_message_t proto_message_result;
extern const proto_message_t proto_message_submit;
extern const proto_message_t proto_message_submitted;
extern const proto_message_t proto_message_ping;
extern const proto_message_t proto_message_pong;
extern const proto_message_t proto_message_cancel;
extern const proto_message_t proto_message_cancelled;
extern const proto_message_t proto_message_fetch;
extern const proto_message_t proto_message_chunk;
#define PROTO_MESSAGE_COUNT 11
extern const proto_message_t *const proto_messages[PROTO_MESSAGE_COUNT];

/* Generic client error reply {v, rid, ok:false, error_code, error}: what the broker sends for
 * an unknown service or an invalid body. Decode it with proto_submitted_decode (ok = false). */
int proto_error_reply_encode(uint64_t rid, const char *code, const char *detail,
                             proto_buf_t *out) PROFAI_MUST_CHECK;

/* The typed codec: proto_<message>_encode/_decode are proto_message_encode/_decode on that
 * message's descriptor. Encoders validate their input against the limits (returning -1 and
 * filling err if over) and produce a new buffer the caller frees. Decoders validate everything
 * listed in docs/protocol.md section 3 and fill the struct; data is borrowed. */
int proto_job_encode(const proto_job_t *m, proto_buf_t *out, proto_error_t *err) PROFAI_MUST_CHECK;
int proto_job_decode(const uint8_t *data, size_t len, proto_job_t *m,
                     proto_error_t *err) PROFAI_MUST_CHECK;
int proto_progress_encode(const proto_progress_t *m, proto_buf_t *out,
                          proto_error_t *err) PROFAI_MUST_CHECK;
int proto_progress_decode(const uint8_t *data, size_t len, proto_progress_t *m,
                          proto_error_t *err) PROFAI_MUST_CHECK;
int proto_result_encode(const proto_result_t *m, proto_buf_t *out,
                        proto_error_t *err) PROFAI_MUST_CHECK;
int proto_result_decode(const uint8_t *data, size_t len, proto_result_t *m,
                        proto_error_t *err) PROFAI_MUST_CHECK;
int proto_submit_encode(const proto_submit_t *m, proto_buf_t *out,
                        proto_error_t *err) PROFAI_MUST_CHECK;
int proto_submit_decode(const uint8_t *data, size_t len, proto_submit_t *m,
                        proto_error_t *err) PROFAI_MUST_CHECK;
int proto_submitted_encode(const proto_submitted_t *m, proto_buf_t *out,
                           proto_error_t *err) PROFAI_MUST_CHECK;
int proto_submitted_decode(const uint8_t *data, size_t len, proto_submitted_t *m,
                           proto_error_t *err) PROFAI_MUST_CHECK;
int proto_ping_encode(const proto_ping_t *m, proto_buf_t *out,
                      proto_error_t *err) PROFAI_MUST_CHECK;
int proto_ping_decode(const uint8_t *data, size_t len, proto_ping_t *m,
                      proto_error_t *err) PROFAI_MUST_CHECK;
int proto_pong_encode(const proto_pong_t *m, proto_buf_t *out,
                      proto_error_t *err) PROFAI_MUST_CHECK;
int proto_pong_decode(const uint8_t *data, size_t len, proto_pong_t *m,
                      proto_error_t *err) PROFAI_MUST_CHECK;
int proto_cancel_encode(const proto_cancel_t *m, proto_buf_t *out,
                        proto_error_t *err) PROFAI_MUST_CHECK;
int proto_cancel_decode(const uint8_t *data, size_t len, proto_cancel_t *m,
                        proto_error_t *err) PROFAI_MUST_CHECK;
/* The generic error reply also decodes as a CANCELLED (ok = false, state ""). */
int proto_cancelled_encode(const proto_cancelled_t *m, proto_buf_t *out,
                           proto_error_t *err) PROFAI_MUST_CHECK;
int proto_cancelled_decode(const uint8_t *data, size_t len, proto_cancelled_t *m,
                           proto_error_t *err) PROFAI_MUST_CHECK;
int proto_fetch_encode(const proto_fetch_t *m, proto_buf_t *out,
                       proto_error_t *err) PROFAI_MUST_CHECK;
int proto_fetch_decode(const uint8_t *data, size_t len, proto_fetch_t *m,
                       proto_error_t *err) PROFAI_MUST_CHECK;
int proto_chunk_encode(const proto_chunk_t *m, proto_buf_t *out,
                       proto_error_t *err) PROFAI_MUST_CHECK;
int proto_chunk_decode(const uint8_t *data, size_t len, proto_chunk_t *m,
                       proto_error_t *err) PROFAI_MUST_CHECK;

/* Best-effort: the `rid` of a client body, 0 if it cannot be read. For error replies to
 * bodies that failed to decode. */
uint64_t proto_peek_rid(const uint8_t *data, size_t len);

/* Free a buffer's data and zero it; accepts a zeroed buffer. */
void proto_buf_free(proto_buf_t *buf);

#endif
