/* log.c - see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *s_component = "profai";
static log_level_t s_level = PROFAI_LOG_INFO;
static const char *const s_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void
log_init(const char *component, log_level_t level)
{
    s_component = component;
    s_level = level;
}

int
log_level_parse(const char *name, log_level_t *level)
{
    static const char *const lower[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, lower[i]) == 0) {
            *level = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

bool
log_enabled(log_level_t level)
{
    return level <= s_level;
}

void
log_write(log_level_t level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    /* Format the whole line first so concurrent writers (frontend threads) never interleave. */
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, s_component, s_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

void
log_set_level(log_level_t level)
{
    s_level = level;
}
