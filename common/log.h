/*
 * log.h - operator logs: one line per event on stderr (journald keeps them).
 *
 * Line format: `2026-11-28T21:00:00.123Z broker INFO job=... message`. The component is set
 * once by log_init; the caller puts the job or worker it concerns in the message.
 */
#ifndef PROFAI_LOG_H
#define PROFAI_LOG_H

#include <stdbool.h>

typedef enum {
    PROFAI_LOG_ERROR = 0,
    PROFAI_LOG_WARN = 1,
    PROFAI_LOG_INFO = 2,
    PROFAI_LOG_DEBUG = 3
} log_level_t;

/* Set the component name (borrowed, must outlive logging) and the lowest level written. */
void log_init(const char *component, log_level_t level);

/* Parse "error", "warn", "info" or "debug"; -1 for anything else. */
int log_level_parse(const char *name, log_level_t *level) __attribute__((warn_unused_result));

/* Write one line if level is enabled. */
void log_write(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

bool log_enabled(log_level_t level);

#define log_error(...) log_write(PROFAI_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_write(PROFAI_LOG_WARN, __VA_ARGS__)
#define log_info(...) log_write(PROFAI_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_write(PROFAI_LOG_DEBUG, __VA_ARGS__)

#endif
