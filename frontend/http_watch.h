/*
 * http_watch.h - the slow-client defence for request bodies: a per-request overall deadline
 * and minimum rate, enforced even while a worker thread is blocked inside civetweb's mg_read.
 *
 * Why not civetweb alone: request_timeout_ms bounds each poll, not a read. mg_read(n) returns
 * only once n bytes have arrived or the client was silent for request_timeout_ms, so a client
 * that sends one byte a second holds the thread as long as it likes.
 *
 * Why not shut the socket down (what this module did before): civetweb 1.15 gives no access
 * to a connection's socket (no call, callback or request field carries it: mg_get_request_info,
 * mg_get_connection_info, init_connection and mg_set_user_connection_data were all checked),
 * and finding it by its TCP endpoints meant scanning /proc/self/fd.
 *
 * How instead: a watch names the thread that reads, not the socket. A watchdog thread wakes at
 * each armed watch's due time (the overall deadline, or the time by which min_rate would have
 * moved more than the bytes counted so far, never before the grace period ends) and, when one
 * is missed, marks it fired and sends that thread HTTP_WATCH_SIGNAL until the watch is
 * disarmed. The signal's handler does nothing (SA_RESTART); what counts is that civetweb's
 * mg_poll, which is where a reader waits for a trickling client, returns EINTR, and civetweb's
 * pull_inner treats that as an error: mg_read returns what it has. The reader then sees the
 * watch fired. The signal is repeated (every HTTP_WATCH_RESEND_MS) because one that arrives
 * while the thread is outside poll() interrupts nothing. Signals are only ever sent to a thread
 * while its watch is armed, and the body reader (http_body.c) arms it only for its reads, from
 * the first mg_read to the end of http_body_read_all, never while a handler talks to the
 * database or the broker.
 *
 * Bytes are counted by the reader after each mg_read, so a read in progress is not seen; the
 * body reader therefore asks mg_read for no more than the client's lead over the minimum rate
 * allows (http_watch_read_size), so a client at the minimum rate is never cut for bytes that
 * are still inside a read.
 *
 * Answers: a slow *reader* of a large answer cannot be cut this way (civetweb's mg_write loops
 * over EINTR until its own timeout), so http_reply.c writes large answers in pieces and checks
 * the rate between them with http_watch_due (module head comment there).
 */
#ifndef PROFAI_FRONTEND_HTTP_WATCH_H
#define PROFAI_FRONTEND_HTTP_WATCH_H

#include <profai/compiler.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Which limit a transfer missed (or would miss first). */
typedef enum {
    HTTP_LIMIT_DEADLINE, /* the overall deadline */
    HTTP_LIMIT_RATE      /* the minimum rate, after the grace period */
} http_limit_t;

/* When a transfer that started at start_ms and has moved `bytes` misses a limit, and which:
 * the overall deadline (INT64_MAX for none), or the time by which min_rate bytes per second
 * would have moved more than `bytes` (never before grace_ms after start_ms). min_rate <= 0:
 * the deadline only. Pure. */
int64_t http_watch_due(long long min_rate, int grace_ms, int64_t deadline_ms, int64_t start_ms,
                       size_t bytes, http_limit_t *limit);

/* How many bytes to ask of one mg_read at now_ms, when the transfer's due time is due_ms:
 * what min_rate moves by then (a client at the minimum rate completes the read in time),
 * between min and max. min_rate <= 0: max. Pure. */
size_t http_watch_read_size(long long min_rate, int64_t due_ms, int64_t now_ms, size_t min,
                            size_t max);

typedef struct http_watch_t http_watch_t;

/* Start the watchdog thread with room for `slots` watches at once and install the handler of
 * HTTP_WATCH_SIGNAL. NULL with a sentence in err. */
http_watch_t *http_watch_new(long long min_rate, int grace_ms, int slots, char *err,
                             size_t err_size);

/* Stop the watchdog thread and free. No watch may be armed. */
void http_watch_destroy(http_watch_t **self_p);

/* Watch the calling thread's transfer, with the limits above from start_ms. Returns the slot,
 * or -1 when every slot is taken (then nothing wakes a blocked read). */
PROFAI_MUST_CHECK int http_watch_arm(http_watch_t *self, int64_t deadline_ms, int64_t start_ms);

/* Count n more bytes moved under the watch in slot. */
void http_watch_progress(http_watch_t *self, int slot, size_t n);

/* Whether the watch in slot fired; then *limit says which limit. */
bool http_watch_fired(http_watch_t *self, int slot, http_limit_t *limit);

/* Stop watching: the watchdog sends no signal for this watch once this returns. True if the
 * watch had fired. */
bool http_watch_disarm(http_watch_t *self, int slot);

#endif
