/*
 * log.h - operator logs: one line per event on stderr (journald keeps them).
 *
 * Three line formats (log/format, docs/configuration.md):
 *   text     `2026-11-28T21:00:00.123Z broker INFO job dispatched job=... attempt=1`
 *   journal  `<6>INFO job dispatched job=... attempt=1`: the sd-daemon priority prefix lets
 *            journald store the level (`journalctl -p err`); it adds the time and the program
 *            name itself
 *   json     `{"ts":"2026-...Z","level":"info","component":"broker","msg":"...","job":"..."}`
 *            one object per line for log shippers; the job, worker and owner fields are the
 *            values of the message's `job=`, `worker=` and `owner=` tokens, when it has them
 * A line written while the thread serves an HTTP request (log_set_request_id) also carries the
 * request's id: `request_id=ID` at the end of a text or journal line, "request_id" in JSON.
 * The component is set once by log_init (startup_init_log in the daemons); the caller puts the
 * job or worker it concerns in the message as `job=ID`, `worker=ID`, `owner=ID` tokens.
 *
 * The log_error ... log_debug macros test the level first: when it is disabled their arguments
 * are neither evaluated nor formatted, so a debug line may call something costly. The level may
 * change while threads log (log_set_level).
 */
#ifndef PROFAI_LOG_H
#define PROFAI_LOG_H

#include <profai/compiler.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum {
    PROFAI_LOG_ERROR = 0,
    PROFAI_LOG_WARN = 1,
    PROFAI_LOG_INFO = 2,
    PROFAI_LOG_DEBUG = 3
} log_level_t;

typedef enum {
    PROFAI_LOG_TEXT = 0,    /* time, component, level, message: for a terminal or a file */
    PROFAI_LOG_JOURNAL = 1, /* <N> priority prefix, level, message: for journald */
    PROFAI_LOG_JSON = 2     /* one JSON object per line: for log shippers */
} log_format_t;

/* Set the component name (borrowed, must outlive logging) and the lowest level written; the
 * format stays as it was (text unless log_set_format changed it). Call before any thread
 * logs. */
void log_init(const char *component, log_level_t level);

/* Parse "error", "warn", "info" or "debug" into *level; -1 for anything else. */
int log_level_parse(const char *name, log_level_t *level) PROFAI_MUST_CHECK;

/* The lower-case name of a level ("error" ...). */
const char *log_level_name(log_level_t level);

/* Change the lowest level written; safe while other threads log (the broker's admin socket
 * changes it live: docs/admin.md). */
void log_set_level(log_level_t level);

/* Parse "text", "journal" or "json" into *format; -1 for anything else. */
int log_format_parse(const char *name, log_format_t *format) PROFAI_MUST_CHECK;

/* The format to use when the configuration names none: journal when stderr is the stream
 * systemd connected to journald (JOURNAL_STREAM names stderr's device and inode), else text. */
log_format_t log_format_default(void);

/* Change the line format. Call before any thread logs. */
void log_set_format(log_format_t format);

/* The id of the request the calling thread serves (borrowed: the caller keeps it alive until
 * it sets NULL), or NULL for none. While set, every line this thread writes carries it: a
 * ` request_id=ID` token at the end of a text or journal line, a "request_id" member of a JSON
 * line (docs/api.md "Request ids"). Thread-local: other threads are not affected. */
void log_set_request_id(const char *id);

/* Whether lines of this level are written. */
bool log_enabled(log_level_t level);

/* Write one line if level is enabled. Thread-safe: the line is written with one call. */
void log_write(log_level_t level, const char *fmt, ...) PROFAI_PRINTF(2, 3);

/* Format one line of message msg at level into buf (at most size bytes, size > 64), ending
 * with a newline, in the current format and component; returns its length. A message too long
 * for buf is cut (a JSON line stays valid). What log_write writes; public for the tests. */
size_t log_format_line(char *buf, size_t size, log_level_t level, const char *msg);

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
