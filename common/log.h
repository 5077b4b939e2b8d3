/*
 * log.h - operator logs: one line per event on stderr (journald keeps them).
 *
 * Line format: `2026-11-28T21:00:00.123Z broker INFO job=... message`. The component is set
 * once by log_init (startup_init_log in the daemons); the caller puts the job or worker it
 * concerns in the message.
 *
 * The log_error ... log_debug macros test the level first: when it is disabled their arguments
 * are neither evaluated nor formatted, so a debug line may call something costly.
 */
#ifndef PROFAI_LOG_H
#define PROFAI_LOG_H

#include <profai/compiler.h>
#include <stdbool.h>

typedef enum {
    PROFAI_LOG_ERROR = 0,
    PROFAI_LOG_WARN = 1,
    PROFAI_LOG_INFO = 2,
    PROFAI_LOG_DEBUG = 3
} log_level_t;

/* Set the component name (borrowed, must outlive logging) and the lowest level written. Call
 * before any thread logs. */
void log_init(const char *component, log_level_t level);

/* Parse "error", "warn", "info" or "debug" into *level; -1 for anything else. */
int log_level_parse(const char *name, log_level_t *level) PROFAI_MUST_CHECK;

/* Change the lowest level written, live (the broker's admin socket: docs/admin.md). */
void log_set_level(log_level_t level);

/* Whether lines of this level are written. */
bool log_enabled(log_level_t level);

/* Write one line if level is enabled. Thread-safe: the line is written with one call. */
void log_write(log_level_t level, const char *fmt, ...) PROFAI_PRINTF(2, 3);

#define PROFAI_LOG_AT(level, ...)                                                                  \
    do {                                                                                           \
        if (log_enabled(level))                                                                    \
            log_write(level, __VA_ARGS__);                                                         \
    } while (0)

#define log_error(...) PROFAI_LOG_AT(PROFAI_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) PROFAI_LOG_AT(PROFAI_LOG_WARN, __VA_ARGS__)
#define log_info(...) PROFAI_LOG_AT(PROFAI_LOG_INFO, __VA_ARGS__)
#define log_debug(...) PROFAI_LOG_AT(PROFAI_LOG_DEBUG, __VA_ARGS__)

#endif
