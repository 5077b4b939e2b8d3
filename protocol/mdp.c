/*
 * mdp.c - MDP/0.2 (ZeroMQ RFC 18) framing for ProfAI: parse and build worker (MDPW02) and
 * client (MDPC02) messages on czmq zmsg_t. See docs/protocol.md section 1.
 */
#include "proto_internal.h"

#include <string.h>

/* The most frames any valid message has (REQUEST: header, command, address, empty, body);
 * one more lets the parser see that a message has too many. */
#define MDP_FRAMES_MAX 5

/* Collect up to MDP_FRAMES_MAX + 1 frames of msg; returns how many the message has. */
static size_t
s_frames(zmsg_t *msg, zframe_t **frames)
{
    size_t n = 0;
    for (zframe_t *f = zmsg_first(msg); f != NULL && n <= MDP_FRAMES_MAX; f = zmsg_next(msg))
        frames[n++] = f;
    return zmsg_size(msg);
}

static bool
s_frame_is(zframe_t *frame, const char *text)
{
    size_t len = strlen(text);
    return frame != NULL && zframe_size(frame) == len && memcmp(zframe_data(frame), text, len) == 0;
}

char
mdp_kind(zmsg_t *msg)
{
    zframe_t *header = msg != NULL ? zmsg_first(msg) : NULL;
    if (s_frame_is(header, MDPW_HEADER))
        return 'W';
    if (s_frame_is(header, MDPC_HEADER))
        return 'C';
    return 0;
}

/* The one-byte command frame; 0 when the frame is not exactly one byte. */
static int
s_command(zframe_t *frame)
{
    if (zframe_size(frame) != 1)
        return 0;
    return zframe_data(frame)[0];
}

static int
s_check_body(zframe_t *frame, size_t body_max, const uint8_t **body, size_t *body_len,
             proto_error_t *err)
{
    size_t size = zframe_size(frame);
    if (size < 1)
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "body frame is empty");
    if (size > body_max)
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "body frame of %zu bytes exceeds %zu",
                               size, body_max);
    *body = zframe_data(frame);
    *body_len = size;
    return 0;
}

static int
s_check_service(zframe_t *frame, char *service, proto_error_t *err)
{
    size_t size = zframe_size(frame);
    if (!proto_is_service((const char *)zframe_data(frame), size))
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST,
                               "service frame is not 1..%d characters of [a-z0-9._-]",
                               PROTO_SERVICE_MAX);
    memcpy(service, zframe_data(frame), size);
    service[size] = '\0';
    return 0;
}

/* Frames a worker command must have, or 0 for an unknown command. */
static size_t
s_worker_frames(int command)
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
    default:
        return 0;
    }
}

int
mdpw_parse(zmsg_t *msg, size_t body_max, mdpw_view_t *view, proto_error_t *err)
{
    zframe_t *frames[MDP_FRAMES_MAX + 1] = {0};
    *view = (mdpw_view_t){0};
    size_t count = msg != NULL ? s_frames(msg, frames) : 0;
    if (count < 2)
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "worker message has %zu frames", count);
    if (!s_frame_is(frames[0], MDPW_HEADER))
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "header frame is not " MDPW_HEADER);
    int command = s_command(frames[1]);
    size_t expected = s_worker_frames(command);
    if (expected == 0)
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "unknown worker command frame");
    if (count != expected)
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST,
                               "worker command %d needs %zu frames, message has %zu", command,
                               expected, count);
    view->command = (mdpw_command_t)command;
    if (command == MDPW_READY)
        return s_check_service(frames[2], view->service, err);
    if (expected == 5) {
        size_t alen = zframe_size(frames[2]);
        if (alen < 1 || alen > PROTO_ADDRESS_MAX)
            return proto_error_set(err, PROFAI_ERR_BAD_REQUEST,
                                   "address frame of %zu bytes is not 1..%d", alen,
                                   PROTO_ADDRESS_MAX);
        if (zframe_size(frames[3]) != 0)
            return proto_error_set(err, PROFAI_ERR_BAD_REQUEST,
                                   "frame after the address is not empty");
        if (s_check_body(frames[4], body_max, &view->body, &view->body_len, err) != 0)
            return -1;
        view->address = zframe_data(frames[2]);
        view->address_len = alen;
    }
    return 0;
}

int
mdpc_parse(zmsg_t *msg, size_t body_max, mdpc_view_t *view, proto_error_t *err)
{
    zframe_t *frames[MDP_FRAMES_MAX + 1] = {0};
    *view = (mdpc_view_t){0};
    size_t count = msg != NULL ? s_frames(msg, frames) : 0;
    if (count < 2 || !s_frame_is(frames[0], MDPC_HEADER))
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "header frame is not " MDPC_HEADER);
    int command = s_command(frames[1]);
    if (command < MDPC_REQUEST || command > MDPC_FINAL)
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "unknown client command frame");
    if (count < 4)
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST,
                               "client command %d needs 4 frames, message has %zu", command, count);
    view->command = (mdpc_command_t)command;
    if (s_check_service(frames[2], view->service, err) != 0) {
        view->service[0] = '\0';
        return -1;
    }
    /* Several body frames are valid MDP but not ours: command and service stay in the view so
     * that the broker can answer the REQUEST with an error instead of silence. */
    if (count != 4)
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST,
                               "client command %d needs 4 frames, message has more", command);
    if (s_check_body(frames[3], body_max, &view->body, &view->body_len, err) != 0) {
        view->service[0] = '\0';
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- builders */

static zmsg_t *
s_build_start(const char *header, int command)
{
    zmsg_t *msg = zmsg_new();
    uint8_t byte = (uint8_t)command;
    if (msg == NULL)
        return NULL;
    if (zmsg_addstr(msg, header) != 0 || zmsg_addmem(msg, &byte, 1) != 0)
        zmsg_destroy(&msg);
    return msg;
}

static bool
s_service_ok(const char *service)
{
    return proto_is_service(service, proto_strlen_max(service, PROTO_SERVICE_MAX));
}

zmsg_t *
mdpw_build_ready(const char *service)
{
    if (!s_service_ok(service))
        return NULL;
    zmsg_t *msg = s_build_start(MDPW_HEADER, MDPW_READY);
    if (msg != NULL && zmsg_addstr(msg, service) != 0)
        zmsg_destroy(&msg);
    return msg;
}

zmsg_t *
mdpw_build_heartbeat(void)
{
    return s_build_start(MDPW_HEADER, MDPW_HEARTBEAT);
}

zmsg_t *
mdpw_build_disconnect(void)
{
    return s_build_start(MDPW_HEADER, MDPW_DISCONNECT);
}

zmsg_t *
mdpw_build_job_message(mdpw_command_t command, const void *address, size_t address_len,
                       const void *body, size_t body_len)
{
    if (command != MDPW_REQUEST && command != MDPW_PARTIAL && command != MDPW_FINAL)
        return NULL;
    if (address == NULL || address_len < 1 || address_len > PROTO_ADDRESS_MAX)
        return NULL;
    if (body == NULL || body_len < 1 || body_len > PROTO_JOB_BODY_MAX)
        return NULL;
    zmsg_t *msg = s_build_start(MDPW_HEADER, command);
    if (msg == NULL)
        return NULL;
    if (zmsg_addmem(msg, address, address_len) != 0 || zmsg_addmem(msg, NULL, 0) != 0 ||
        zmsg_addmem(msg, body, body_len) != 0)
        zmsg_destroy(&msg);
    return msg;
}

zmsg_t *
mdpc_build(mdpc_command_t command, const char *service, const void *body, size_t body_len)
{
    if (command < MDPC_REQUEST || command > MDPC_FINAL || !s_service_ok(service))
        return NULL;
    /* Control bodies, except a CHUNK of the blob endpoint (docs/protocol.md 3.6). */
    size_t max = strcmp(service, PROTO_SERVICE_PDF_FETCH) == 0 ? PROTO_CHUNK_BODY_MAX
                                                               : PROTO_CONTROL_BODY_MAX;
    if (body == NULL || body_len < 1 || body_len > max)
        return NULL;
    zmsg_t *msg = s_build_start(MDPC_HEADER, command);
    if (msg == NULL)
        return NULL;
    if (zmsg_addstr(msg, service) != 0 || zmsg_addmem(msg, body, body_len) != 0)
        zmsg_destroy(&msg);
    return msg;
}
