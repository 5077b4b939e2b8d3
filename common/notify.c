/* notify.c - see notify.h. */
#include "notify.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>
#include <time.h>

/* The watchdog interval in microseconds (0: none) once asked, -1 before. */
static int64_t s_watchdog_usec = -1;
/* CLOCK_MONOTONIC microseconds of the last WATCHDOG=1. */
static int64_t s_watchdog_last = 0;

static int64_t
s_now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Send state with a STATUS= line made of fmt; sd_notify is a no-op without NOTIFY_SOCKET. */
static void
s_send_status(const char *state, const char *fmt, va_list ap)
{
    char status[512];
    vsnprintf(status, sizeof status, fmt, ap);
    /* Failures are not the daemon's business: systemd notices a missing READY=1 itself. */
    (void)sd_notifyf(0, "%sSTATUS=%s", state, status);
}

void
notify_ready(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_send_status("READY=1\n", fmt, ap);
    va_end(ap);
}

void
notify_status(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_send_status("", fmt, ap);
    va_end(ap);
}

void
notify_stopping(void)
{
    (void)sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

bool
notify_watchdog_enabled(void)
{
    if (s_watchdog_usec < 0) {
        uint64_t usec = 0;
        /* > 0 only when WATCHDOG_USEC is set for this very process (WATCHDOG_PID). */
        s_watchdog_usec = sd_watchdog_enabled(0, &usec) > 0 ? (int64_t)usec : 0;
    }
    return s_watchdog_usec > 0;
}

void
notify_watchdog(void)
{
    if (!notify_watchdog_enabled())
        return;
    int64_t now = s_now_usec();
    if (s_watchdog_last != 0 && now - s_watchdog_last < s_watchdog_usec / 4)
        return;
    s_watchdog_last = now;
    (void)sd_notify(0, "WATCHDOG=1");
}

long
notify_watchdog_cap(long timeout_ms)
{
    if (!notify_watchdog_enabled())
        return timeout_ms;
    long cap = (long)(s_watchdog_usec / 2000);
    if (cap < 1)
        cap = 1;
    return timeout_ms < 0 || timeout_ms > cap ? cap : timeout_ms;
}
