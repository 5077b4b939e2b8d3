/*
 * test_startup.c - unit tests of the daemons' shared start-up code (common/startup.h) and of
 * the level-gated log macros (common/log.h).
 *
 * Paths that end the process (--help, usage and configuration errors) run in a forked child
 * whose exit status is checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "conf.h"
#include "log.h"
#include "startup.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ================================================================ fixtures */

static void
s_help(void)
{
    printf("usage: test-daemon\n");
}

static int
s_port_convert(const char *arg, char *value, size_t value_size, char *err, size_t err_size)
{
    if (strspn(arg, "0123456789") != strlen(arg) || *arg == '\0') {
        snprintf(err, err_size, "--port %s is not a port number", arg);
        return -1;
    }
    snprintf(value, value_size, "127.0.0.1:%s", arg);
    return 0;
}

static const startup_option_t s_options[] = {
    {"broker", 'b', "test/broker", NULL},
    {"port", 'p', "http/listen", s_port_convert},
    {NULL, 0, NULL, NULL},
};

static const startup_program_t s_program = {
    .prog = "test-daemon", .component = "test", .help = s_help, .options = s_options};

/* A configuration file with text; its path in path (PATH_MAX-sized). */
static void
s_conf_file(char *path, size_t size, const char *text)
{
    snprintf(path, size, "/tmp/test_startup.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* Run startup_new on argv (and, with key, read that integer key) in a child; its exit status,
 * or 100 when it returned. */
static int
s_child_status(char **argv, const char *key, long long min, long long max)
{
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (freopen("/dev/null", "w", stdout) == NULL || freopen("/dev/null", "w", stderr) == NULL)
            _exit(99);
        startup_t *st = startup_new(&s_program, argc, argv);
        if (key != NULL)
            (void)startup_conf_int(st, key, 0, min, max);
        startup_destroy(&st);
        _exit(100);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* ================================================================ options and configuration */

static void
test_command_line_overrides_the_file(void **state)
{
    (void)state;
    char path[64];
    s_conf_file(path, sizeof path,
                "test\n    broker = tcp://file:1\n    size = 4k\nlog\n    level = warn\n");
    char *argv[] = {"test-daemon", "-c",   path, "--broker", "tcp://cli:2",
                    "-p",          "8081", "-v", "debug",    NULL};
    startup_t *st = startup_new(&s_program, 9, argv);
    assert_non_null(st);
    assert_string_equal(startup_conf_str(st, "test/broker", "x"), "tcp://cli:2");
    assert_string_equal(startup_conf_str(st, "http/listen", "x"), "127.0.0.1:8081");
    assert_string_equal(startup_conf_str(st, "test/absent", "def"), "def");
    assert_int_equal(startup_conf_int(st, "test/size", 1, 0, 1 << 20), 4096);
    assert_int_equal(startup_conf_int(st, "test/absent", 7, 0, 10), 7);
    assert_int_equal(startup_init_log(st), PROFAI_LOG_DEBUG);
    assert_non_null(startup_conf(st));
    startup_destroy(&st);
    assert_null(st);
    startup_destroy(&st); /* NULL is accepted */
    unlink(path);
}

/* Integers with size suffixes, as configuration files and profai-extract's options give them. */
static void
test_integers_and_sizes(void **state)
{
    (void)state;
    long long n = 0;
    assert_int_equal(conf_parse_int("4k", 0, 1 << 20, &n), 0);
    assert_int_equal(n, 4096);
    assert_int_equal(conf_parse_int("2M", 0, 1LL << 40, &n), 0);
    assert_int_equal(n, 2LL << 20);
    assert_int_equal(conf_parse_int("1G", 0, 1LL << 40, &n), 0);
    assert_int_equal(n, 1LL << 30);
    assert_int_equal(conf_parse_int("-3", -5, 5, &n), 0);
    assert_int_equal(n, -3);
    n = 7;
    assert_int_equal(conf_parse_int("", 0, 10, &n), -1);
    assert_int_equal(conf_parse_int("12x", 0, 100, &n), -1);
    assert_int_equal(conf_parse_int("4kB", 0, 1 << 20, &n), -1);
    assert_int_equal(conf_parse_int("99999999999999999999", 0, 10, &n), -1);
    assert_int_equal(conf_parse_int("11", 0, 10, &n), -2);
    assert_int_equal(conf_parse_int("-1", 0, 10, &n), -2);
    assert_int_equal(conf_parse_int("1G", 0, 1 << 20, &n), -2);
    assert_int_equal(n, 7); /* untouched on failure */
}

static void
test_without_a_file_every_default_applies(void **state)
{
    (void)state;
    char *argv[] = {"test-daemon", NULL};
    startup_t *st = startup_new(&s_program, 1, argv);
    assert_string_equal(startup_conf_str(st, "test/broker", "tcp://def:3"), "tcp://def:3");
    assert_int_equal(startup_init_log(st), PROFAI_LOG_INFO);
    assert_int_equal(startup_stop_fd(st), -1);
    startup_destroy(&st);
}

static void
test_help_version_and_usage_errors_exit(void **state)
{
    (void)state;
    char *help[] = {"test-daemon", "--help", NULL};
    char *version[] = {"test-daemon", "--version", NULL};
    char *unknown[] = {"test-daemon", "--no-such-option", NULL};
    char *missing[] = {"test-daemon", "-b", NULL};
    char *extra[] = {"test-daemon", "extra", NULL};
    char *bad_port[] = {"test-daemon", "--port", "eighty", NULL};
    char *no_file[] = {"test-daemon", "-c", "/nonexistent/test.conf", NULL};
    char *ok[] = {"test-daemon", "-p", "80", NULL};
    assert_int_equal(s_child_status(help, NULL, 0, 0), 0);
    assert_int_equal(s_child_status(version, NULL, 0, 0), 0);
    assert_int_equal(s_child_status(unknown, NULL, 0, 0), 2);
    assert_int_equal(s_child_status(missing, NULL, 0, 0), 2);
    assert_int_equal(s_child_status(extra, NULL, 0, 0), 2);
    assert_int_equal(s_child_status(bad_port, NULL, 0, 0), 2);
    assert_int_equal(s_child_status(no_file, NULL, 0, 0), 2);
    assert_int_equal(s_child_status(ok, NULL, 0, 0), 100);
}

static void
test_configuration_errors_exit_2(void **state)
{
    (void)state;
    char path[64];
    s_conf_file(path, sizeof path, "test\n    n = 12\n    word = twelve\n");
    char *argv[] = {"test-daemon", "-c", path, NULL};
    assert_int_equal(s_child_status(argv, "test/n", 0, 100), 100);
    assert_int_equal(s_child_status(argv, "test/n", 0, 10), 2);
    assert_int_equal(s_child_status(argv, "test/word", 0, 100), 2);
    /* A file that is not valid ZPL exits 2 through the same path as a missing one (conf_load
     * fails), but czmq's zconfig_load leaks on it, which LeakSanitizer would report. */
    unlink(path);
}

/* ================================================================ signals */

static void
test_signals_set_the_flag_and_fill_the_pipe(void **state)
{
    (void)state;
    char *argv[] = {"test-daemon", NULL};
    startup_t *st = startup_new(&s_program, 1, argv);
    assert_int_equal(startup_catch_signals(st, true), 0);
    assert_int_equal(*startup_stop_flag(), 0);
    char byte = 0;
    assert_int_equal(read(startup_stop_fd(st), &byte, 1), -1); /* empty, non-blocking */
    raise(SIGTERM);
    assert_int_equal(*startup_stop_flag(), 1);
    assert_int_equal(read(startup_stop_fd(st), &byte, 1), 1);
    assert_int_equal(byte, SIGTERM);
    startup_destroy(&st);
    raise(SIGINT); /* the pipe is gone: only the flag is set */
    assert_int_equal(*startup_stop_flag(), 1);
}

/* ================================================================ log macros */

static int s_calls = 0;

static int
s_count(void)
{
    return ++s_calls;
}

static void
test_disabled_log_levels_evaluate_nothing(void **state)
{
    (void)state;
    log_init("test", PROFAI_LOG_ERROR);
    s_calls = 0;
    log_debug("debug %d", s_count());
    log_info("info %d", s_count());
    log_warn("warn %d", s_count());
    assert_int_equal(s_calls, 0);
    assert_false(log_enabled(PROFAI_LOG_WARN));
    assert_true(log_enabled(PROFAI_LOG_ERROR));
    if (s_calls == 0)
        log_debug("a macro is one statement: %d", s_count());
    else
        fail();
    assert_int_equal(s_calls, 0);
    log_error("error %d (expected in this test's output)", s_count());
    assert_int_equal(s_calls, 1);
    log_level_t level = PROFAI_LOG_ERROR;
    assert_int_equal(log_level_parse("debug", &level), 0);
    assert_int_equal(level, PROFAI_LOG_DEBUG);
    assert_int_equal(log_level_parse("loud", &level), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_line_overrides_the_file),
        cmocka_unit_test(test_without_a_file_every_default_applies),
        cmocka_unit_test(test_integers_and_sizes),
        cmocka_unit_test(test_help_version_and_usage_errors_exit),
        cmocka_unit_test(test_configuration_errors_exit_2),
        cmocka_unit_test(test_signals_set_the_flag_and_fill_the_pipe),
        cmocka_unit_test(test_disabled_log_levels_evaluate_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
