/*
 * test_log.c - unit tests of the log line formats (common/log.h): text, journal (sd-daemon
 * priority prefixes) and JSON lines with the job, worker and owner fields taken from the
 * message, and the choice of the default format from JOURNAL_STREAM.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The line of msg at level in format, NUL-terminated, without its newline. */
static const char *
s_line(log_format_t format, log_level_t level, const char *msg)
{
    static char buf[8192];
    log_set_format(format);
    size_t n = log_format_line(buf, sizeof buf, level, msg);
    assert_true(n > 0 && n < sizeof buf);
    assert_int_equal(buf[n - 1], '\n');
    buf[n - 1] = '\0';
    return buf;
}

static void
test_text_lines_keep_the_historic_format(void **state)
{
    (void)state;
    log_init("broker", PROFAI_LOG_DEBUG);
    const char *line = s_line(PROFAI_LOG_TEXT, PROFAI_LOG_WARN, "job requeued job=abc");
    /* 2026-11-28T21:00:00.123Z broker WARN job requeued job=abc */
    assert_int_equal(strlen(line), 24 + strlen(" broker WARN job requeued job=abc"));
    assert_int_equal(line[10], 'T');
    assert_int_equal(line[23], 'Z');
    assert_string_equal(line + 24, " broker WARN job requeued job=abc");
}

static void
test_journal_lines_carry_the_syslog_priority(void **state)
{
    (void)state;
    log_init("worker", PROFAI_LOG_DEBUG);
    assert_string_equal(s_line(PROFAI_LOG_JOURNAL, PROFAI_LOG_ERROR, "boom"), "<3>ERROR boom");
    assert_string_equal(s_line(PROFAI_LOG_JOURNAL, PROFAI_LOG_WARN, "hm"), "<4>WARN hm");
    assert_string_equal(s_line(PROFAI_LOG_JOURNAL, PROFAI_LOG_INFO, "ok"), "<6>INFO ok");
    assert_string_equal(s_line(PROFAI_LOG_JOURNAL, PROFAI_LOG_DEBUG, "x"), "<7>DEBUG x");
}

static void
test_json_lines_have_fields_from_the_message_tokens(void **state)
{
    (void)state;
    log_init("broker", PROFAI_LOG_DEBUG);
    const char *line = s_line(PROFAI_LOG_JSON, PROFAI_LOG_INFO,
                              "cancellation refused job=j-1 owner=u7: \"quoted\"\t worker=w:9,");
    assert_true(strncmp(line, "{\"ts\":\"", 7) == 0);
    assert_non_null(strstr(line, ",\"level\":\"info\",\"component\":\"broker\","));
    assert_non_null(
        strstr(line, "\"msg\":\"cancellation refused job=j-1 owner=u7: \\\"quoted\\\"\\t"));
    /* Trailing punctuation is not part of a value; a colon inside one is. */
    assert_non_null(strstr(line, ",\"job\":\"j-1\",\"worker\":\"w:9\",\"owner\":\"u7\"}"));
    /* Only whole tokens count: "subjob=" and "jobs=" are not "job=". */
    line = s_line(PROFAI_LOG_JSON, PROFAI_LOG_ERROR, "subjob=1 jobs=2 worker=w-2");
    assert_null(strstr(line, "\"job\""));
    assert_non_null(strstr(line, "\"level\":\"error\""));
    assert_non_null(strstr(line, ",\"worker\":\"w-2\"}"));
}

/* A request id set on a thread ends each of its lines (a JSON member), only on that thread. */
static void *
s_other_thread(void *arg)
{
    (void)arg;
    return (void *)strdup(s_line(PROFAI_LOG_TEXT, PROFAI_LOG_INFO, "elsewhere"));
}

static void
test_request_id_is_carried_by_the_thread_lines(void **state)
{
    (void)state;
    log_init("frontend", PROFAI_LOG_DEBUG);
    log_set_request_id("req-1");
    assert_string_equal(s_line(PROFAI_LOG_JOURNAL, PROFAI_LOG_INFO, "job=j submitted"),
                        "<6>INFO job=j submitted request_id=req-1");
    const char *line = s_line(PROFAI_LOG_TEXT, PROFAI_LOG_WARN, "slow");
    assert_string_equal(line + 24, " frontend WARN slow request_id=req-1");
    line = s_line(PROFAI_LOG_JSON, PROFAI_LOG_INFO, "job=j submitted");
    assert_non_null(
        strstr(line, "\"msg\":\"job=j submitted\",\"job\":\"j\",\"request_id\":\"req-1\"}"));
    pthread_t thread;
    void *other = NULL;
    assert_int_equal(pthread_create(&thread, NULL, s_other_thread, NULL), 0);
    assert_int_equal(pthread_join(thread, &other), 0);
    assert_null(strstr(other, "request_id"));
    free(other);
    log_set_request_id(NULL);
    assert_null(strstr(s_line(PROFAI_LOG_TEXT, PROFAI_LOG_INFO, "done"), "request_id"));
}

static void
test_json_lines_stay_valid_when_cut(void **state)
{
    (void)state;
    log_init("frontend", PROFAI_LOG_DEBUG);
    char msg[2000];
    memset(msg, '"', sizeof msg - 1); /* each escapes to two bytes */
    msg[sizeof msg - 1] = '\0';
    log_set_format(PROFAI_LOG_JSON);
    char buf[1024];
    size_t n = log_format_line(buf, sizeof buf, PROFAI_LOG_INFO, msg);
    assert_true(n > 0 && n <= sizeof buf);
    assert_int_equal(buf[n - 1], '\n');
    assert_int_equal(buf[n - 2], '}');
    assert_non_null(memmem(buf, n, "\\\"\\\"", 4));
}

static void
test_formats_parse_and_default_follows_journal_stream(void **state)
{
    (void)state;
    log_format_t format = PROFAI_LOG_TEXT;
    assert_int_equal(log_format_parse("json", &format), 0);
    assert_int_equal(format, PROFAI_LOG_JSON);
    assert_int_equal(log_format_parse("journal", &format), 0);
    assert_int_equal(format, PROFAI_LOG_JOURNAL);
    assert_int_equal(log_format_parse("syslog", &format), -1);

    struct stat st;
    assert_int_equal(fstat(STDERR_FILENO, &st), 0);
    char stream[64];
    snprintf(stream, sizeof stream, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    assert_int_equal(setenv("JOURNAL_STREAM", stream, 1), 0);
    assert_int_equal(log_format_default(), PROFAI_LOG_JOURNAL);
    /* Set by systemd for another stream: stderr was redirected since. */
    snprintf(stream, sizeof stream, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino + 1);
    assert_int_equal(setenv("JOURNAL_STREAM", stream, 1), 0);
    assert_int_equal(log_format_default(), PROFAI_LOG_TEXT);
    assert_int_equal(unsetenv("JOURNAL_STREAM"), 0);
    assert_int_equal(log_format_default(), PROFAI_LOG_TEXT);
}

static void
test_level_changes_live(void **state)
{
    (void)state;
    log_init("test", PROFAI_LOG_INFO);
    assert_false(log_enabled(PROFAI_LOG_DEBUG));
    log_set_level(PROFAI_LOG_DEBUG);
    assert_true(log_enabled(PROFAI_LOG_DEBUG));
    log_set_level(PROFAI_LOG_ERROR);
    assert_false(log_enabled(PROFAI_LOG_WARN));
    assert_string_equal(log_level_name(PROFAI_LOG_WARN), "warn");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_lines_keep_the_historic_format),
        cmocka_unit_test(test_journal_lines_carry_the_syslog_priority),
        cmocka_unit_test(test_json_lines_have_fields_from_the_message_tokens),
        cmocka_unit_test(test_request_id_is_carried_by_the_thread_lines),
        cmocka_unit_test(test_json_lines_stay_valid_when_cut),
        cmocka_unit_test(test_formats_parse_and_default_follows_journal_stream),
        cmocka_unit_test(test_level_changes_live),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
