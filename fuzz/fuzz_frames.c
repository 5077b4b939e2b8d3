/*
 * fuzz_frames.c - libFuzzer target for the MDP/0.2 framing: mdp_kind, mdpw_parse and
 * mdpc_parse (include/profai/proto.h, docs/protocol.md section 1).
 *
 * Input: byte 0 picks the body limit given to the parsers (mod 4: 1 byte, 16 bytes, the
 * control-body limit, the JOB-body limit). Then up to S_FRAMES_MAX frames, each a length byte
 * L followed by L bytes (fewer if the input ends first); L = 0xff makes the rest of the input
 * one frame, so that large bodies can occur.
 *
 * Properties checked (a broken one aborts, leaving a crash file):
 *   - mdp_kind says 'W' exactly when frame 0 is "MDPW02" and 'C' exactly when it is "MDPC02";
 *   - at most one parser accepts a message, and only the one mdp_kind names;
 *   - a refusal reports bad_request with a terminated detail;
 *   - an accepted message has the frame count of its command; its service is NUL-terminated
 *     and valid; address and body point at exactly the bytes of their frames; the body is
 *     within the limit;
 *   - the builders, given the parsed view, give back the same frames;
 *   - parsing leaves the message unchanged;
 *   - the body and address of an accepted message go through the decoders a broker or worker
 *     would use next (their own properties are checked by fuzz_bodies and fuzz_token).
 */
#include "profai/proto.h"

#include "fuzz_check.h"

#include <stdint.h>
#include <string.h>

/* More than the five frames of the longest command, so that extra frames occur. */
#define S_FRAMES_MAX 8

static const size_t s_body_limits[4] = {1, 16, PROTO_CONTROL_BODY_MAX, PROTO_JOB_BODY_MAX};

/* Split the input into a message as described above; the frames are copies. */
static zmsg_t *
s_split(const uint8_t *data, size_t len)
{
    zmsg_t *msg = zmsg_new();
    size_t off = 0;
    if (msg == NULL)
        abort();
    while (off < len && zmsg_size(msg) < S_FRAMES_MAX) {
        size_t n = data[off++];
        if (n == 0xff || n > len - off)
            n = len - off;
        if (zmsg_addmem(msg, data + off, n) != 0)
            abort();
        off += n;
    }
    return msg;
}

/* Frame i of msg, or NULL. Moves the message's cursor. */
static zframe_t *
s_frame(zmsg_t *msg, size_t i)
{
    zframe_t *f = zmsg_first(msg);
    while (f != NULL && i-- > 0)
        f = zmsg_next(msg);
    return f;
}

static bool
s_frame_equals(zframe_t *f, const void *p, size_t n)
{
    return f != NULL && zframe_size(f) == n && (n == 0 || memcmp(zframe_data(f), p, n) == 0);
}

static bool
s_same_message(zmsg_t *a, zmsg_t *b)
{
    if (zmsg_size(a) != zmsg_size(b))
        return false;
    for (size_t i = 0; i < zmsg_size(a); i++) {
        if (!zframe_eq(s_frame(a, i), s_frame(b, i)))
            return false;
    }
    return true;
}

static void
s_check_error(const proto_error_t *err)
{
    FUZZ_CHECK(strnlen(err->code, sizeof err->code) < sizeof err->code);
    FUZZ_CHECK(strnlen(err->detail, sizeof err->detail) < sizeof err->detail);
    FUZZ_CHECK(strcmp(err->code, "bad_request") == 0 ||
               strcmp(err->code, "unsupported_version") == 0);
}

/* The service member of a view: terminated, valid, and the bytes of frame `index`. */
static void
s_check_service(const char *service, size_t size, zmsg_t *msg, size_t index)
{
    size_t n = strnlen(service, size);
    FUZZ_CHECK(n < size);
    FUZZ_CHECK(proto_is_service(service, n));
    FUZZ_CHECK(s_frame_equals(s_frame(msg, index), service, n));
}

/* A view's pointer is exactly the data of frame `index`. */
static void
s_check_borrowed(const uint8_t *p, size_t n, zmsg_t *msg, size_t index)
{
    zframe_t *f = s_frame(msg, index);
    FUZZ_CHECK(f != NULL && p == zframe_data(f) && n == zframe_size(f));
}

/* ---------------------------------------------------------------- what comes after parsing */

/* Decode a body as the receiving side would; only "no crash, sane error" is checked here. */
static void
s_decode_worker_body(const mdpw_view_t *view)
{
    proto_error_t err = {.code = ""};
    int rc = 0;
    char job_id[PROTO_UUID_LEN + 1];
    uint32_t attempt;

    if (proto_token_parse(view->address, view->address_len, job_id, &attempt) == 0)
        FUZZ_CHECK(attempt >= 1 && proto_is_uuid(job_id, strlen(job_id)));
    if (view->command == MDPW_REQUEST) {
        proto_job_t job;
        rc = proto_job_decode(view->body, view->body_len, &job, &err);
    } else if (view->command == MDPW_PARTIAL) {
        proto_progress_t progress;
        rc = proto_progress_decode(view->body, view->body_len, &progress, &err);
    } else {
        proto_result_t result;
        rc = proto_result_decode(view->body, view->body_len, &result, &err);
    }
    if (rc != 0)
        s_check_error(&err);
}

static void
s_decode_client_body(const mdpc_view_t *view)
{
    proto_error_t err = {.code = ""};
    bool submit = strcmp(view->service, PROTO_SERVICE_SUBMIT) == 0;
    bool ping = strcmp(view->service, PROTO_SERVICE_PING) == 0;
    bool cancel = strcmp(view->service, PROTO_SERVICE_CANCEL) == 0;
    bool request = view->command == MDPC_REQUEST;
    int rc = 0;

    if (submit && request) {
        proto_submit_t m;
        rc = proto_submit_decode(view->body, view->body_len, &m, &err);
    } else if (submit) {
        proto_submitted_t m;
        rc = proto_submitted_decode(view->body, view->body_len, &m, &err);
    } else if (ping && request) {
        proto_ping_t m;
        rc = proto_ping_decode(view->body, view->body_len, &m, &err);
    } else if (ping) {
        proto_pong_t m;
        rc = proto_pong_decode(view->body, view->body_len, &m, &err);
    } else if (cancel && request) {
        proto_cancel_t m;
        rc = proto_cancel_decode(view->body, view->body_len, &m, &err);
    } else if (cancel) {
        proto_cancelled_t m;
        rc = proto_cancelled_decode(view->body, view->body_len, &m, &err);
    } else {
        (void)proto_peek_rid(view->body, view->body_len); /* the unknown-service reply */
    }
    if (rc != 0)
        s_check_error(&err);
}

/* ---------------------------------------------------------------- worker */

static size_t
s_worker_frame_count(mdpw_command_t command)
{
    switch (command) {
    case MDPW_READY:
        return 3;
    case MDPW_REQUEST:
    case MDPW_PARTIAL:
    case MDPW_FINAL:
        return 5;
    case MDPW_HEARTBEAT:
    case MDPW_DISCONNECT:
        return 2;
    }
    return 0;
}

static zmsg_t *
s_rebuild_worker(const mdpw_view_t *view)
{
    switch (view->command) {
    case MDPW_READY:
        return mdpw_build_ready(view->service);
    case MDPW_HEARTBEAT:
        return mdpw_build_heartbeat();
    case MDPW_DISCONNECT:
        return mdpw_build_disconnect();
    case MDPW_REQUEST:
    case MDPW_PARTIAL:
    case MDPW_FINAL:
        return mdpw_build_job_message(view->command, view->address, view->address_len, view->body,
                                      view->body_len);
    }
    return NULL;
}

static void
s_check_worker(zmsg_t *msg, const mdpw_view_t *view, size_t body_max)
{
    size_t expected = s_worker_frame_count(view->command);
    FUZZ_CHECK(expected != 0 && zmsg_size(msg) == expected);
    FUZZ_CHECK(s_frame_equals(s_frame(msg, 1), &(uint8_t){(uint8_t)view->command}, 1));
    if (view->command == MDPW_READY)
        s_check_service(view->service, sizeof view->service, msg, 2);
    else
        FUZZ_CHECK(view->service[0] == '\0');
    if (expected == 5) {
        FUZZ_CHECK(view->address_len >= 1 && view->address_len <= PROTO_ADDRESS_MAX);
        s_check_borrowed(view->address, view->address_len, msg, 2);
        FUZZ_CHECK(zframe_size(s_frame(msg, 3)) == 0);
        FUZZ_CHECK(view->body_len >= 1 && view->body_len <= body_max);
        s_check_borrowed(view->body, view->body_len, msg, 4);
    } else {
        FUZZ_CHECK(view->address == NULL && view->address_len == 0);
        FUZZ_CHECK(view->body == NULL && view->body_len == 0);
    }
    zmsg_t *rebuilt = s_rebuild_worker(view);
    FUZZ_CHECK(rebuilt != NULL && s_same_message(msg, rebuilt));
    zmsg_destroy(&rebuilt);
    if (expected == 5)
        s_decode_worker_body(view);
}

/* ---------------------------------------------------------------- client */

static void
s_check_client(zmsg_t *msg, const mdpc_view_t *view, size_t body_max)
{
    FUZZ_CHECK(view->command >= MDPC_REQUEST && view->command <= MDPC_FINAL);
    FUZZ_CHECK(zmsg_size(msg) == 4);
    FUZZ_CHECK(s_frame_equals(s_frame(msg, 1), &(uint8_t){(uint8_t)view->command}, 1));
    s_check_service(view->service, sizeof view->service, msg, 2);
    FUZZ_CHECK(view->body_len >= 1 && view->body_len <= body_max);
    s_check_borrowed(view->body, view->body_len, msg, 3);
    /* mdpc_build refuses bodies over the control limit: a client body never needs more. */
    zmsg_t *rebuilt = mdpc_build(view->command, view->service, view->body, view->body_len);
    if (view->body_len <= PROTO_CONTROL_BODY_MAX)
        FUZZ_CHECK(rebuilt != NULL && s_same_message(msg, rebuilt));
    else
        FUZZ_CHECK(rebuilt == NULL);
    zmsg_destroy(&rebuilt);
    s_decode_client_body(view);
}

/* ---------------------------------------------------------------- entry point */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t body_max = s_body_limits[data[0] % 4];
    zmsg_t *msg = s_split(data + 1, size - 1);
    zmsg_t *copy = zmsg_dup(msg);
    mdpw_view_t wview;
    mdpc_view_t cview;
    proto_error_t werr = {.code = ""}, cerr = {.code = ""};
    FUZZ_CHECK(copy != NULL);

    char kind = mdp_kind(msg);
    zframe_t *header = zmsg_first(msg);
    FUZZ_CHECK((kind == 'W') == s_frame_equals(header, MDPW_HEADER, 6));
    FUZZ_CHECK((kind == 'C') == s_frame_equals(header, MDPC_HEADER, 6));
    FUZZ_CHECK(kind == 'W' || kind == 'C' || kind == 0);

    int wrc = mdpw_parse(msg, body_max, &wview, &werr);
    int crc = mdpc_parse(msg, body_max, &cview, &cerr);
    FUZZ_CHECK(s_same_message(msg, copy));
    FUZZ_CHECK(wrc == 0 || wrc == -1);
    FUZZ_CHECK(crc == 0 || crc == -1);
    if (wrc == 0) {
        FUZZ_CHECK(kind == 'W');
        s_check_worker(msg, &wview, body_max);
    } else {
        s_check_error(&werr);
    }
    if (crc == 0) {
        FUZZ_CHECK(kind == 'C');
        s_check_client(msg, &cview, body_max);
    } else {
        s_check_error(&cerr);
    }
    FUZZ_CHECK(s_same_message(msg, copy));
    zmsg_destroy(&copy);
    zmsg_destroy(&msg);
    return 0;
}
