/*
 * startup.h - what every daemon (profai-broker, profai-worker, profai-frontend) does before its
 * own work: read the command line, load the configuration file, read typed settings, start
 * logging and set up SIGINT, SIGTERM and SIGPIPE.
 *
 * Command line: the common options -c/--config FILE, -v/--log-level LEVEL, -h/--help and
 * --version, plus the program's own options from a table; each of those puts its value at a
 * configuration key, so a command-line value overrides the file's. Usage and configuration
 * errors all end the same way: "prog: sentence" on stderr and exit status 2 (docs/
 * configuration.md); --help and --version exit 0. Status 1 is left to the program for failures
 * at run time.
 *
 *     startup_t *st = startup_new(&program, argc, argv);   // exits on --help or an error
 *     long long ivl = startup_conf_int(st, "broker/heartbeat_ivl", 1000, 10, 600000);
 *     startup_init_log(st);
 *     if (startup_catch_signals(st, false) != 0) ...
 *     ... serve until *startup_stop_flag() ...
 *     startup_destroy(&st);
 */
#ifndef PROFAI_STARTUP_H
#define PROFAI_STARTUP_H

#include "log.h"

#include <czmq.h>
#include <profai/compiler.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* One program-specific option. Every one takes a value, which overrides the configuration key
 * `key`. When convert is set, it turns the value into the key's (e.g. a port into an address):
 * -1 with a sentence in err makes it a usage error. */
typedef struct {
    const char *name; /* long name without dashes, e.g. "broker" */
    int letter;       /* short option letter, e.g. 'b' */
    const char *key;  /* configuration key, e.g. "worker/broker" */
    int (*convert)(const char *arg, char *value, size_t value_size, char *err, size_t err_size);
} startup_option_t;

/* What the start-up code needs to know about a program; plain data, usually a static const. */
typedef struct {
    const char *prog;                /* "profai-broker": starts messages and --version */
    const char *component;           /* "broker": the component of its log lines */
    void (*help)(void);              /* prints the --help text on stdout */
    const startup_option_t *options; /* the program's own options; ends at a NULL name */
} startup_program_t;

typedef struct startup_t startup_t;

/* Parse argv, load the -c file (none: an empty configuration) and apply the command-line
 * overrides. Prints the help or the version and exits 0 for -h and --version; prints a
 * sentence and exits 2 on a usage error or a file that cannot be read. Removes czmq's own
 * SIGINT/SIGTERM handler before anything can install it. program is borrowed for the life of
 * the result; the caller owns the result (startup_destroy). */
startup_t *startup_new(const startup_program_t *program, int argc, char **argv);

/* Close the stop pipe (if startup_catch_signals made one), free the configuration and every
 * string borrowed from it, and set *self_p to NULL. Accepts NULL. */
void startup_destroy(startup_t **self_p);

/* The configuration tree, file and overrides merged. Borrowed, valid until startup_destroy. */
zconfig_t *startup_conf(startup_t *self);

/* The string at key, or def when absent or empty. Borrowed, valid until startup_destroy. */
const char *startup_conf_str(startup_t *self, const char *key, const char *def);

/* The integer at key within [min, max] (suffixes k, M, G as in conf_int), or def when absent.
 * A value that is not an integer or out of range is a configuration error: exits 2. */
long long startup_conf_int(startup_t *self, const char *key, long long def, long long min,
                           long long max);

/* Read log/level (default info; anything but error, warn, info, debug is a configuration
 * error) and log/format (text, journal or json; absent: journal when stderr goes to journald,
 * else text), start logging under the program's component and return the level. */
log_level_t startup_init_log(startup_t *self);

/* A configuration error the program found itself: print "prog: sentence" on stderr, free self
 * and exit 2. */
_Noreturn void startup_fail(startup_t *self, const char *fmt, ...) PROFAI_PRINTF(2, 3);

/* Catch SIGINT and SIGTERM: the handler sets the stop flag and writes the signal's number to
 * the stop pipe (startup_stop_fd). SIGPIPE is ignored. restart: SA_RESTART, so that other
 * system calls resume after the handler (poll, zmq_poll and sleeps return EINTR either way);
 * without it every blocking call returns EINTR at once. Once per process. -1 with errno. */
int startup_catch_signals(startup_t *self, bool restart) PROFAI_MUST_CHECK;

/* Non-zero once SIGINT or SIGTERM came (after startup_catch_signals). Process-wide. */
volatile sig_atomic_t *startup_stop_flag(void);

/* Read end of the stop pipe: one byte (the signal number) per signal. Non-blocking,
 * close-on-exec, owned by self; -1 before startup_catch_signals. */
int startup_stop_fd(const startup_t *self);

/* For programs whose threads must never see the stop signals (the frontend): block SIGINT and
 * SIGTERM in the calling thread, so in every thread it starts later, and ignore SIGPIPE. Call
 * first in main, before any thread exists. -1 with errno. */
int startup_block_signals(void) PROFAI_MUST_CHECK;

/* Wait until SIGINT or SIGTERM arrives (after startup_block_signals); returns its number. */
int startup_wait_signal(void);

/* The same for at most timeout_ms (negative: no limit): the signal's number, or 0 when the time
 * is up first (an interrupted wait starts its full time again). */
int startup_wait_signal_for(long timeout_ms);

#endif
