/*
 * job_stream.h - a job's progress as Server-Sent Events (docs/api.md 4.14 "Event stream"):
 * GET /api/v1/jobs/{id}/events with Accept: text/event-stream.
 *
 * The stream sends the job (as GET /api/v1/jobs/{id} shows it) at once, then again each time
 * its state, progress, stage, attempts or history change, as `event: job` with `id:` its last
 * history seq; when the job has ended it sends `event: end` and closes. A comment line every
 * JOB_STREAM_KEEPALIVE_MS keeps proxies from timing it out.
 *
 * Bounds, because each stream holds one of the server's HTTP threads: the job is read from
 * PostgreSQL every JOB_STREAM_POLL_MS (two small statements); at most http/event_streams
 * streams run at once (more get 503 with Retry-After); a stream ends after JOB_STREAM_MAX_MS
 * (the client reconnects: EventSource does so by itself); and every stream ends within one
 * poll when the frontend stops (job_stream_stop).
 */
#ifndef PROFAI_FRONTEND_JOB_STREAM_H
#define PROFAI_FRONTEND_JOB_STREAM_H

#include "api_common.h"

#include <stdbool.h>

#define JOB_STREAM_POLL_MS 250
#define JOB_STREAM_KEEPALIVE_MS 15000
#define JOB_STREAM_MAX_MS (10 * 60 * 1000)
/* http/event_streams when unset. */
#define JOB_STREAM_MAX_DEFAULT 16

/* Whether the request asks for an event stream (Accept names text/event-stream). */
bool job_stream_wanted(http_request_t *req);

/* Serve the stream of the checked route's job {id} to call's user (the route has checked the
 * role): 404 when the job is not the caller's, 503 when http/event_streams streams run. */
void job_stream_serve(api_call_t *call);

/* End every stream within one poll, and refuse new ones (the frontend is stopping). */
void job_stream_stop(api_t *api);

#endif
