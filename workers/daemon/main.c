/*
 * main.c - profai-worker: serve course.build jobs from a ProfAI broker.
 *
 * Reads the configuration (conf/worker.conf, ZPL) and command-line overrides, finds the
 * profai-extract program, turns SIGTERM/SIGINT into stop requests on a self-pipe, and runs
 * the event loop of worker.c. The worker needs nothing but the broker endpoint: no database,
 * no shared disk.
 */
#define _GNU_SOURCE
#include "conf.h"
#include "log.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int s_stop_pipe[2] = {-1, -1};

static void
s_on_signal(int sig)
{
    int saved = errno;
    char byte = (char)sig;
    if (write(s_stop_pipe[1], &byte, 1) < 0) {
        /* the pipe is full: enough stop requests are pending already */
    }
    errno = saved;
}

static void
s_usage(FILE *out)
{
    fprintf(out,
            "Usage: profai-worker [OPTIONS]\n"
            "Take course.build jobs from the ProfAI broker and parse each PDF in a separate,\n"
            "limited profai-extract process. SIGTERM or SIGINT: finish running jobs (up to\n"
            "worker/drain_timeout), deliver them and exit; a second signal stops at once.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE        configuration file (ZPL), see conf/worker.conf\n"
            "  -b, --broker ENDPOINT    broker endpoint (worker/broker)\n"
            "  -n, --concurrency N      job slots (worker/concurrency)\n"
            "  -v, --log-level LEVEL    error, warn, info or debug (log/level)\n"
            "  -h, --help               this text\n"
            "      --version            print the version\n"
            "\n"
            "Configuration keys (default):\n"
            "  worker/broker          tcp://127.0.0.1:5555\n"
            "  worker/service         course.build\n"
            "  worker/concurrency     2          job slots, one broker connection each (1-64)\n"
            "  worker/heartbeat_ivl   1000       ms between heartbeats\n"
            "  worker/liveness        3          silent intervals before the broker is dead\n"
            "  worker/drain_timeout   30000      ms to finish jobs on SIGTERM\n"
            "  worker/extract         \"\"         profai-extract path (\"\": beside this "
            "program)\n"
            "  worker/page_delay_ms   0          TEST SEAM: extractor sleeps per page\n"
            "  worker/crash_attempts  0          TEST SEAM: SIGSEGV the extractor of attempts 1..N\n"
            "  limits/address_space   1G         extractor RLIMIT_AS (0 = inherit)\n"
            "  limits/cpu_seconds     120        extractor RLIMIT_CPU (0 = inherit)\n"
            "  limits/wall_seconds    300        extractor killed after this (timeout)\n"
            "  limits/open_files      64         extractor RLIMIT_NOFILE (0 = inherit)\n"
            "  limits/file_size       64M        extractor RLIMIT_FSIZE (0 = inherit)\n"
            "  limits/max_pages       5000       longer PDFs fail with too_large\n"
            "  log/level              info\n");
}

/* The profai-extract beside this program's binary. */
static int
s_default_extract(char *buf, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    int m = snprintf(buf, size, "%s/profai-extract", dirname(self));
    return m > 0 && (size_t)m < size ? 0 : -1;
}

typedef struct {
    const char *name;
    long long def, min, max;
    long long *out;
} int_key_t;

static int
s_config_read(zconfig_t *conf, worker_config_t *wc, char *extract, size_t extract_size,
              log_level_t *level)
{
    char err[256];
    long long concurrency = 0, wall_seconds = 0;
    int_key_t keys[] = {
        {"worker/concurrency", 2, 1, WORKER_CONCURRENCY_MAX, &concurrency},
        {"worker/heartbeat_ivl", 1000, 10, 600000, &wc->heartbeat_ivl},
        {"worker/liveness", 3, 1, 100, &wc->liveness},
        {"worker/drain_timeout", 30000, 0, 86400000, &wc->drain_timeout},
        {"worker/page_delay_ms", 0, 0, 60000, &wc->limits.page_delay_ms},
        {"worker/crash_attempts", 0, 0, 1000000, &wc->limits.crash_attempts},
        {"limits/address_space", 1LL << 30, 0, 1LL << 40, &wc->limits.address_space},
        {"limits/cpu_seconds", 120, 0, 86400, &wc->limits.cpu_seconds},
        {"limits/wall_seconds", 300, 1, 86400, &wall_seconds},
        {"limits/open_files", 64, 0, 1 << 20, &wc->limits.open_files},
        {"limits/file_size", 64LL << 20, 0, 1LL << 40, &wc->limits.file_size},
        {"limits/max_pages", 5000, 0, 10000000, &wc->limits.max_pages},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (conf_int(conf, keys[i].name, keys[i].def, keys[i].min, keys[i].max, keys[i].out, err,
                     sizeof err) != 0) {
            fprintf(stderr, "profai-worker: %s\n", err);
            return -1;
        }
    }
    if (wc->limits.open_files != 0 && wc->limits.open_files < 8) {
        fprintf(stderr, "profai-worker: limits/open_files must be 0 or at least 8\n");
        return -1;
    }
    wc->concurrency = (int)concurrency;
    wc->limits.wall_ms = wall_seconds * 1000;
    wc->endpoint = conf_str(conf, "worker/broker", "tcp://127.0.0.1:5555");
    wc->service = conf_str(conf, "worker/service", PROTO_SERVICE_COURSE);
    if (!proto_is_service(wc->service, strlen(wc->service))) {
        fprintf(stderr, "profai-worker: worker/service '%s' is not a valid service name\n",
                wc->service);
        return -1;
    }
    const char *level_name = conf_str(conf, "log/level", "info");
    if (log_level_parse(level_name, level) != 0) {
        fprintf(stderr, "profai-worker: log/level '%s' is not error, warn, info or debug\n",
                level_name);
        return -1;
    }
    /* The extractor logs only what goes wrong unless the worker is debugging. */
    wc->limits.log_level = *level == PROFAI_LOG_DEBUG ? "debug" : "warn";
    const char *path = conf_str(conf, "worker/extract", NULL);
    if (path != NULL)
        snprintf(extract, extract_size, "%s", path);
    else if (s_default_extract(extract, extract_size) != 0) {
        fprintf(stderr, "profai-worker: cannot locate profai-extract; set worker/extract\n");
        return -1;
    }
    if (access(extract, X_OK) != 0) {
        fprintf(stderr, "profai-worker: extractor %s is not executable: %s\n", extract,
                strerror(errno));
        return -1;
    }
    wc->limits.extract_path = extract;
    return 0;
}

/* Parse the command line into conf (loading -c first, then applying overrides). */
static zconfig_t *
s_args_parse(int argc, char **argv)
{
    enum { OPT_VERSION = 256 };
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"broker", required_argument, NULL, 'b'},
                                            {"concurrency", required_argument, NULL, 'n'},
                                            {"log-level", required_argument, NULL, 'v'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, OPT_VERSION},
                                            {NULL, 0, NULL, 0}};
    const char *path = NULL, *broker = NULL, *concurrency = NULL, *level = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "c:b:n:v:h", options, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'b':
            broker = optarg;
            break;
        case 'n':
            concurrency = optarg;
            break;
        case 'v':
            level = optarg;
            break;
        case 'h':
            s_usage(stdout);
            exit(0);
        case OPT_VERSION:
            printf("profai-worker %s\n", PROFAI_VERSION);
            exit(0);
        default:
            fprintf(stderr, "Try 'profai-worker --help'.\n");
            exit(2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "profai-worker: unexpected argument '%s'\n", argv[optind]);
        exit(2);
    }
    char err[512];
    zconfig_t *conf = conf_load(path, err, sizeof err);
    if (conf == NULL) {
        fprintf(stderr, "profai-worker: %s\n", err);
        exit(2);
    }
    if (broker != NULL)
        zconfig_put(conf, "worker/broker", broker);
    if (concurrency != NULL)
        zconfig_put(conf, "worker/concurrency", concurrency);
    if (level != NULL)
        zconfig_put(conf, "log/level", level);
    return conf;
}

static int
s_signals_install(void)
{
    if (pipe2(s_stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

int
main(int argc, char **argv)
{
    /* czmq would install its own SIGINT/SIGTERM handler on first use; ours drains instead. */
    zsys_handler_set(NULL);
    zconfig_t *conf = s_args_parse(argc, argv);
    worker_config_t wc;
    memset(&wc, 0, sizeof wc);
    char extract[PATH_MAX];
    log_level_t level = PROFAI_LOG_INFO;
    if (s_config_read(conf, &wc, extract, sizeof extract, &level) != 0) {
        zconfig_destroy(&conf);
        return 2; /* like a usage error: the configuration is wrong, not the world */
    }
    log_init("worker", level);
    int rc = 1;
    worker_t *worker = NULL;
    if (s_signals_install() != 0) {
        log_error("cannot install signal handlers: %s", strerror(errno));
        goto done;
    }
    worker = worker_new(&wc);
    if (worker == NULL) {
        log_error("cannot create the worker (out of memory?)");
        goto done;
    }
    rc = worker_run(worker, s_stop_pipe[0]) == 0 ? 0 : 1;
done:
    worker_destroy(&worker);
    zconfig_destroy(&conf);
    for (int i = 0; i < 2; i++) {
        if (s_stop_pipe[i] >= 0)
            close(s_stop_pipe[i]);
    }
    return rc;
}
