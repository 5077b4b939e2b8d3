/* log.c - see log.h. */
#include "log.h"

#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A formatted message at most (longer ones are cut), and a whole line at most: a JSON line may
 * escape every byte of the message. */
#define LOG_MSG_MAX 2048
#define LOG_LINE_MAX 8192

static const char *s_component = "profai";
/* Read by every logging thread, changed live by log_set_level: relaxed atomics. */
static int s_level = PROFAI_LOG_INFO;
static log_format_t s_format = PROFAI_LOG_TEXT;
static const char *const s_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
static const char *const s_lower[] = {"error", "warn", "info", "debug"};
/* sd-daemon(3) priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
static const char s_priority[] = {'3', '4', '6', '7'};
/* Message tokens copied into fields of a JSON line. */
static const char *const s_fields[] = {"job", "worker", "owner"};
/* The request the calling thread serves (log_set_request_id), or NULL. */
static __thread const char *s_request_id;

void
log_init(const char *component, log_level_t level)
{
    s_component = component;
    log_set_level(level);
}

int
log_level_parse(const char *name, log_level_t *level)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, s_lower[i]) == 0) {
            *level = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

const char *
log_level_name(log_level_t level)
{
    return s_lower[level];
}

void
log_set_level(log_level_t level)
{
    __atomic_store_n(&s_level, (int)level, __ATOMIC_RELAXED);
}

int
log_format_parse(const char *name, log_format_t *format)
{
    static const char *const formats[] = {"text", "journal", "json"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(name, formats[i]) == 0) {
            *format = (log_format_t)i;
            return 0;
        }
    }
    return -1;
}

log_format_t
log_format_default(void)
{
    /* systemd.exec(5): JOURNAL_STREAM is "device:inode" of the stream it connected; a program
     * whose stderr was redirected since (a shell pipeline in a unit) must not trust it. */
    const char *stream = getenv("JOURNAL_STREAM");
    unsigned long long dev = 0, ino = 0;
    struct stat st;
    if (stream != NULL && sscanf(stream, "%llu:%llu", &dev, &ino) == 2 &&
        fstat(STDERR_FILENO, &st) == 0 && (unsigned long long)st.st_dev == dev &&
        (unsigned long long)st.st_ino == ino)
        return PROFAI_LOG_JOURNAL;
    return PROFAI_LOG_TEXT;
}

void
log_set_format(log_format_t format)
{
    s_format = format;
}

void
log_set_request_id(const char *id)
{
    s_request_id = id;
}

bool
log_enabled(log_level_t level)
{
    return (int)level <= __atomic_load_n(&s_level, __ATOMIC_RELAXED);
}

/* The value of the first `name=value` token of msg (a token starts the message or follows a
 * space); trailing punctuation is not part of it. false when msg has none. */
static bool
s_token_find(const char *msg, const char *name, const char **value, size_t *len)
{
    size_t name_len = strlen(name);
    for (const char *p = msg; (p = strstr(p, name)) != NULL; p += name_len) {
        if ((p != msg && p[-1] != ' ') || p[name_len] != '=')
            continue;
        const char *v = p + name_len + 1;
        size_t n = strcspn(v, " \t\n\"");
        while (n > 0 && strchr(",;:)", v[n - 1]) != NULL)
            n--;
        if (n == 0)
            continue;
        *value = v;
        *len = n;
        return true;
    }
    return false;
}

/* The JSON line of msg cut to msg_len bytes, or 0 when it does not fit in size (or no memory). */
static size_t
s_json_line(char *buf, size_t size, const char *stamp, log_level_t level, const char *msg,
            size_t msg_len)
{
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "ts");
    json_cstring(&j, stamp);
    json_key(&j, "level");
    json_cstring(&j, s_lower[level]);
    json_key(&j, "component");
    json_cstring(&j, s_component);
    json_key(&j, "msg");
    json_string(&j, msg, msg_len);
    for (size_t i = 0; i < sizeof s_fields / sizeof s_fields[0]; i++) {
        const char *value = NULL;
        size_t len = 0;
        if (s_token_find(msg, s_fields[i], &value, &len)) {
            json_key(&j, s_fields[i]);
            json_string(&j, value, len);
        }
    }
    if (s_request_id != NULL) {
        json_key(&j, "request_id");
        json_cstring(&j, s_request_id);
    }
    json_object_end(&j);
    size_t n = 0;
    if (!json_failed(&j) && j.len + 1 <= size) {
        memcpy(buf, j.data, j.len);
        buf[j.len] = '\n';
        n = j.len + 1;
    }
    json_free(&j);
    return n;
}

size_t
log_format_line(char *buf, size_t size, log_level_t level, const char *msg)
{
    char stamp[96]; /* 24 bytes; room for what gcc cannot rule out */
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    if (s_format == PROFAI_LOG_JSON) {
        /* Cut the message until the escaped line fits; an empty message always does. */
        for (size_t len = strlen(msg);; len /= 2) {
            size_t n = s_json_line(buf, size, stamp, level, msg, len);
            if (n > 0 || len == 0)
                return n;
        }
    }
    int n;
    const char *rid = s_request_id ? " request_id=" : "",
               *rid_value = s_request_id ? s_request_id : "";
    if (s_format == PROFAI_LOG_JOURNAL)
        n = snprintf(buf, size, "<%c>%s %s%s%s", s_priority[level], s_names[level], msg, rid,
                     rid_value);
    else
        n = snprintf(buf, size, "%s %s %s %s%s%s", stamp, s_component, s_names[level], msg, rid,
                     rid_value);
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len > size - 2)
        len = size - 2;
    buf[len++] = '\n';
    return len;
}

void
log_write(log_level_t level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    /* Format the whole line first so concurrent writers (frontend threads) never interleave. */
    char msg[LOG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char line[LOG_LINE_MAX];
    size_t len = log_format_line(line, sizeof line, level, msg);
    fwrite(line, 1, len, stderr);
}
