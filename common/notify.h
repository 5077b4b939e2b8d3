/*
 * notify.h - tell the service manager how the daemon is doing: systemd's Type=notify
 * readiness, stopping and status messages, and its watchdog (sd_notify(3), sd_watchdog_enabled(3)).
 *
 * Every function is a no-op when the daemon was not started by a service manager that asked
 * for it (NOTIFY_SOCKET unset, as under `make run` and the tests), so the daemons call them
 * unconditionally:
 *
 *     ... bind, load ...
 *     notify_ready("serving on %s", endpoint);          // READY=1: systemctl start returns
 *     while (!stop) {
 *         zmq_poll(..., notify_watchdog_cap(timeout));  // wake up in time to ping
 *         notify_watchdog();                            // WATCHDOG=1, from the event loop
 *         ...
 *     }
 *     notify_stopping();                                // STOPPING=1
 *
 * WATCHDOG=1 must come from the loop that does the daemon's work, never from a side thread:
 * a loop that hangs then stops the pings and systemd restarts the service (WatchdogSec=).
 * Not thread-safe; call from one thread (the event loop's, or the frontend's main thread).
 */
#ifndef PROFAI_NOTIFY_H
#define PROFAI_NOTIFY_H

#include <profai/compiler.h>
#include <stdbool.h>

/* READY=1 with a STATUS= line: start-up is over and the daemon serves. */
void notify_ready(const char *fmt, ...) PROFAI_PRINTF(1, 2);

/* A STATUS= line alone, shown by `systemctl status` (e.g. while waiting for the database). */
void notify_status(const char *fmt, ...) PROFAI_PRINTF(1, 2);

/* STOPPING=1: the daemon is shutting down (finishing jobs, flushing writes). */
void notify_stopping(void);

/* Whether the service manager expects WATCHDOG=1 pings from this process. */
bool notify_watchdog_enabled(void);

/* WATCHDOG=1, at most once per quarter of the watchdog interval (a busy loop may call it every
 * turn). No-op without a watchdog. */
void notify_watchdog(void);

/* timeout_ms (negative: infinite, as zmq_poll and poll take it) capped so that a loop waiting
 * that long still pings in time: at most half the watchdog interval. Unchanged without a
 * watchdog. */
long notify_watchdog_cap(long timeout_ms);

#endif
