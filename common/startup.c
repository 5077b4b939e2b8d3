/* startup.c - see startup.h. */
#define _GNU_SOURCE
#include "startup.h"

#include "conf.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Options that override a key, at most (a programmer's limit: the frontend has five). */
#define STARTUP_OPTIONS_MAX 16
/* getopt_long's value for --version, which has no short form. */
#define STARTUP_OPT_VERSION 256
/* The key -v/--log-level overrides. */
#define STARTUP_KEY_LOG_LEVEL "log/level"
/* The key of the line format; absent: log_format_default. */
#define STARTUP_KEY_LOG_FORMAT "log/format"

/* The common options that override a key, like a program's own. */
static const startup_option_t s_common_options[] = {
    {"log-level", 'v', STARTUP_KEY_LOG_LEVEL, NULL},
    {NULL, 0, NULL, NULL},
};

struct startup_t {
    const startup_program_t *program; /* borrowed */
    zconfig_t *conf;                  /* owned: the file with the command line applied */
    int stop_pipe[2];                 /* owned once startup_catch_signals made it, else -1 */
};

/* Written by the signal handler only. */
static volatile sig_atomic_t s_stop = 0;
static volatile sig_atomic_t s_stop_write = -1;

static void
s_on_signal(int sig)
{
    int saved = errno;
    s_stop = 1;
    char byte = (char)sig;
    if (s_stop_write >= 0 && write(s_stop_write, &byte, 1) < 0) {
        /* the pipe is full: enough stop requests are pending already */
    }
    errno = saved;
}

/* A usage error: say what and where help is, free what is built so far, exit 2. */
_Noreturn static void s_usage_error(const startup_program_t *program, zconfig_t **overrides,
                                    const char *fmt, ...) PROFAI_PRINTF(3, 4);

_Noreturn static void
s_usage_error(const startup_program_t *program, zconfig_t **overrides, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", program->prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\ntry '%s --help'\n", program->prog);
    va_end(ap);
    zconfig_destroy(overrides);
    exit(2);
}

static const startup_option_t *
s_option_find(const startup_program_t *program, int letter)
{
    const startup_option_t *tables[] = {s_common_options, program->options};
    for (size_t i = 0; i < 2; i++) {
        for (const startup_option_t *o = tables[i]; o != NULL && o->name != NULL; o++) {
            if (o->letter == letter)
                return o;
        }
    }
    return NULL;
}

/* Parse argv: the -c path into *config_path, every override into overrides. Exits on -h,
 * --version and usage errors. */
static void
s_args_parse(const startup_program_t *program, int argc, char **argv, const char **config_path,
             zconfig_t **overrides)
{
    struct option longopts[STARTUP_OPTIONS_MAX + 4] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, STARTUP_OPT_VERSION},
    };
    char shortopts[8 + 2 * STARTUP_OPTIONS_MAX] = ":c:h";
    size_t n = 3, len = strlen(shortopts);
    const startup_option_t *tables[] = {s_common_options, program->options};
    for (size_t i = 0; i < 2; i++) {
        for (const startup_option_t *o = tables[i]; o != NULL && o->name != NULL; o++) {
            assert(n < STARTUP_OPTIONS_MAX + 3);
            longopts[n++] = (struct option){o->name, required_argument, NULL, o->letter};
            shortopts[len++] = (char)o->letter;
            shortopts[len++] = ':';
        }
    }
    shortopts[len] = '\0';
    longopts[n] = (struct option){NULL, 0, NULL, 0};

    optind = 0; /* glibc: start afresh, even if getopt ran before */
    opterr = 0; /* the messages below name the program, not argv[0] */
    int c;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        const startup_option_t *option = NULL;
        switch (c) {
        case 'c':
            *config_path = optarg;
            break;
        case 'h':
            program->help();
            zconfig_destroy(overrides);
            exit(0);
        case STARTUP_OPT_VERSION:
            printf("%s %s\n", program->prog, PROFAI_VERSION);
            zconfig_destroy(overrides);
            exit(0);
        case ':':
            s_usage_error(program, overrides, "option %s needs a value", argv[optind - 1]);
        case '?':
            if (optopt != 0)
                s_usage_error(program, overrides, "unknown option -%c", optopt);
            s_usage_error(program, overrides, "unknown option %s", argv[optind - 1]);
        default:
            option = s_option_find(program, c);
            assert(option != NULL);
            if (option->convert == NULL) {
                zconfig_put(*overrides, option->key, optarg);
                break;
            }
            char value[256], err[256];
            if (option->convert(optarg, value, sizeof value, err, sizeof err) != 0)
                s_usage_error(program, overrides, "%s", err);
            zconfig_put(*overrides, option->key, value);
            break;
        }
    }
    if (optind < argc)
        s_usage_error(program, overrides, "unexpected argument %s", argv[optind]);
}

/* Put the override of key, if the command line gave one, into conf. */
static void
s_override(zconfig_t *conf, zconfig_t *overrides, const char *key)
{
    const char *v = zconfig_get(overrides, key, NULL);
    if (v != NULL)
        zconfig_put(conf, key, v);
}

startup_t *
startup_new(const startup_program_t *program, int argc, char **argv)
{
    /* czmq would catch SIGINT and SIGTERM itself when first used (only setting
     * zsys_interrupted); every daemon stops its own way. Once only: czmq's second call would
     * restore the default actions. */
    zsys_handler_set(NULL);
    zconfig_t *overrides = zconfig_new("root", NULL);
    if (overrides == NULL) {
        fprintf(stderr, "%s: out of memory\n", program->prog);
        exit(1);
    }
    const char *config_path = NULL;
    s_args_parse(program, argc, argv, &config_path, &overrides);

    char err[512];
    zconfig_t *conf = conf_load(config_path, err, sizeof err);
    if (conf == NULL) {
        fprintf(stderr, "%s: %s\n", program->prog, err);
        zconfig_destroy(&overrides);
        exit(2);
    }
    /* Command-line values override the file's. */
    for (const startup_option_t *o = s_common_options; o->name != NULL; o++)
        s_override(conf, overrides, o->key);
    for (const startup_option_t *o = program->options; o != NULL && o->name != NULL; o++)
        s_override(conf, overrides, o->key);
    zconfig_destroy(&overrides);

    startup_t *self = calloc(1, sizeof *self);
    if (self == NULL) {
        fprintf(stderr, "%s: out of memory\n", program->prog);
        zconfig_destroy(&conf);
        exit(1);
    }
    self->program = program;
    self->conf = conf;
    self->stop_pipe[0] = self->stop_pipe[1] = -1;
    return self;
}

void
startup_destroy(startup_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    startup_t *self = *self_p;
    if (self->stop_pipe[1] >= 0)
        s_stop_write = -1;
    for (int i = 0; i < 2; i++) {
        if (self->stop_pipe[i] >= 0)
            close(self->stop_pipe[i]);
    }
    zconfig_destroy(&self->conf);
    free(self);
    *self_p = NULL;
}

zconfig_t *
startup_conf(startup_t *self)
{
    return self->conf;
}

const char *
startup_conf_str(startup_t *self, const char *key, const char *def)
{
    return conf_str(self->conf, key, def);
}

long long
startup_conf_int(startup_t *self, const char *key, long long def, long long min, long long max)
{
    char err[512];
    long long value = 0;
    if (conf_int(self->conf, key, def, min, max, &value, err, sizeof err) != 0)
        startup_fail(self, "%s", err);
    return value;
}

log_level_t
startup_init_log(startup_t *self)
{
    const char *name = startup_conf_str(self, STARTUP_KEY_LOG_LEVEL, "info");
    log_level_t level = PROFAI_LOG_INFO;
    if (log_level_parse(name, &level) != 0)
        startup_fail(self, STARTUP_KEY_LOG_LEVEL " = %s is not error, warn, info or debug", name);
    const char *format_name = startup_conf_str(self, STARTUP_KEY_LOG_FORMAT, NULL);
    log_format_t format = log_format_default();
    if (format_name != NULL && log_format_parse(format_name, &format) != 0)
        startup_fail(self, STARTUP_KEY_LOG_FORMAT " = %s is not text, journal or json",
                     format_name);
    log_set_format(format);
    log_init(self->program->component, level);
    return level;
}

_Noreturn void
startup_fail(startup_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", self->program->prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    startup_destroy(&self);
    exit(2);
}

int
startup_catch_signals(startup_t *self, bool restart)
{
    assert(self->stop_pipe[0] < 0);
    if (pipe2(self->stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    s_stop_write = self->stop_pipe[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = restart ? SA_RESTART : 0;
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return -1;
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}

volatile sig_atomic_t *
startup_stop_flag(void)
{
    return &s_stop;
}

int
startup_stop_fd(const startup_t *self)
{
    return self->stop_pipe[0];
}

static void
s_stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

int
startup_block_signals(void)
{
    sigset_t set;
    s_stop_signals(&set);
    int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGPIPE, &sa, NULL);
}

int
startup_wait_signal(void)
{
    sigset_t set;
    s_stop_signals(&set);
    int sig = 0;
    sigwait(&set, &sig); /* fails only for an invalid set */
    return sig;
}

int
startup_wait_signal_for(long timeout_ms)
{
    if (timeout_ms < 0)
        return startup_wait_signal();
    sigset_t set;
    s_stop_signals(&set);
    struct timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (timeout_ms % 1000) * 1000000};
    for (;;) {
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig > 0)
            return sig;
        if (errno != EINTR)
            return 0; /* EAGAIN: the time is up */
    }
}
