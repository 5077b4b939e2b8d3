/*
 * broker_client.h - one frontend thread's MDP client (MDPC02) connection to the broker
 * (docs/protocol.md sections 1, 3.3 and 5).
 *
 * Not thread-safe: each HTTP worker thread owns one broker_client_t. Its DEALER socket is
 * created on first use (from czmq's process-wide context) and destroyed after any request
 * that got no valid answer in time, so the next request starts on a fresh socket ("lazy
 * pirate"): a reply that arrives late can never be mistaken for the next one's. Every request
 * carries a new rid; replies with another rid are discarded.
 */
#ifndef PROFAI_FRONTEND_BROKER_CLIENT_H
#define PROFAI_FRONTEND_BROKER_CLIENT_H

#include "curve.h"

#include <profai/proto.h>

#include <stddef.h>

typedef struct broker_client_t broker_client_t;

/* A client for the broker at endpoint (copied) with CURVE keys (copied; keys->enabled false:
 * plaintext); each request waits at most timeout_ms in all (connecting, sending and waiting
 * for the reply). NULL when out of memory.
 *
 * endpoint may list several brokers, comma-separated: a leader and its standbys
 * (docs/broker.md, "Standby broker"). Requests go to the one that answered last; one answered
 * `not_leader`, or that cannot be reached (no connection within its share of timeout_ms), is
 * left for the next at once, within the same request. A request sent that got no answer in
 * time is not sent again (it may have been done); the next request starts at the next
 * endpoint. */
broker_client_t *broker_client_new(const char *endpoint, int timeout_ms, const curve_keys_t *keys);
void broker_client_destroy(broker_client_t **self_p);

/* Send SUBMIT (job.submit; submit->rid is set here) and wait for its SUBMITTED. 0: *reply
 * holds the broker's answer, ok or not; -1: no valid answer in time (a sentence in err). */
int broker_client_submit(broker_client_t *self, proto_submit_t *submit, proto_submitted_t *reply,
                         char *err, size_t err_size) PROFAI_MUST_CHECK;

/* Send PING (broker.ping) and wait for PONG. 0: *pong holds the answer (pong->ok false when
 * the broker answered with an error body); -1: no valid answer in time. */
int broker_client_ping(broker_client_t *self, proto_pong_t *pong, char *err,
                       size_t err_size) PROFAI_MUST_CHECK;

/* Send CANCEL (job.cancel) for job_id on behalf of owner (the job's owner: the caller's id, or
 * for an administrator the job's real owner; both canonical uuids) and wait for CANCELLED.
 * 0: *reply holds the broker's answer (check reply->ok; error_code "unknown_job",
 * "already_final" with reply->state, "db_unavailable", ...); -1: no valid answer in time, or
 * an argument the protocol refuses (a sentence in err): answer 503. */
int broker_client_cancel(broker_client_t *self, const char *owner, const char *job_id,
                         proto_cancelled_t *reply, char *err, size_t err_size) PROFAI_MUST_CHECK;

#endif
