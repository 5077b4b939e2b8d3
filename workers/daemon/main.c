/*
 * main.c - profai-worker: serve course.build jobs from a ProfAI broker.
 *
 * Reads the configuration (conf/worker.conf, ZPL) and command-line overrides, finds the
 * profai-extract program, turns SIGTERM/SIGINT into stop requests on a self-pipe, tells systemd
 * it is ready (Type=notify) and runs the event loop of worker.c. The worker needs nothing but
 * the broker endpoint: no database, no shared disk.
 */
#define _GNU_SOURCE
#include "extract_contract.h"
#include "log.h"
#include "notify.h"
#include "startup.h"
#include "worker.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
s_help(void)
{
    printf("Usage: profai-worker [OPTIONS]\n"
           "Take course.build jobs from the ProfAI broker and parse each PDF in a separate,\n"
           "limited profai-extract process. SIGTERM or SIGINT: finish running jobs (up to\n"
           "worker/drain_timeout), deliver them and exit; a second signal stops at once.\n"
           "\n"
           "Options:\n"
           "  -c, --config FILE        configuration file (ZPL), see conf/worker.conf\n"
           "  -b, --broker ENDPOINT    broker endpoint (worker/broker); a leader and its\n"
           "                           standby: both, comma-separated\n"
           "  -n, --concurrency N      job slots (worker/concurrency)\n"
           "  -k, --certificate FILE   this host's CURVE certificate (curve/certificate)\n"
           "  -K, --broker-key FILE    the broker's public certificate (curve/broker_key)\n"
           "  -v, --log-level LEVEL    error, warn, info or debug (log/level)\n"
           "  -h, --help               this text\n"
           "      --version            print the version\n"
           "\n"
           "Configuration keys (default):\n"
           "  worker/broker          tcp://127.0.0.1:5555\n"
           "  worker/service         course.build\n"
           "  curve/certificate      (none)     this host's certificate (profaictl keygen)\n"
           "  curve/broker_key       (none)     the broker's public certificate; both: CURVE\n"
           "  worker/concurrency     2          job slots, one broker connection each (1-64)\n"
           "  worker/heartbeat_ivl   1000       ms between heartbeats\n"
           "  worker/liveness        3          silent intervals before the broker is dead\n"
           "  worker/drain_timeout   30000      ms to finish jobs on SIGTERM\n"
           "  worker/extract         \"\"         profai-extract path (\"\": beside this "
           "program,\n"
           "                                    else ../libexec/profai/ from it)\n"
           "  worker/split_pages     200        more pages: read in parts at once (0 = never)\n"
           "  worker/split_processes CPUs       extractors reading one PDF's parts (1-16)\n"
           "  worker/page_delay_ms   0          TEST SEAM: extractor sleeps per page\n"
           "  worker/crash_attempts  0          TEST SEAM: SIGSEGV the extractor of attempts 1..N\n"
           "  limits/address_space   1G         extractor RLIMIT_AS (0 = inherit)\n"
           "  limits/cpu_seconds     120        extractor RLIMIT_CPU (0 = inherit)\n"
           "  limits/wall_seconds    300        extractor killed after this (timeout)\n"
           "  limits/open_files      64         extractor RLIMIT_NOFILE (0 = inherit)\n"
           "  limits/file_size       64M        extractor RLIMIT_FSIZE (0 = inherit)\n"
           "  limits/nice            0          extractor niceness over the worker's (0-19)\n"
           "  limits/max_pages       5000       longer PDFs fail with too_large\n"
           "  course/quiz_per_lesson 3          quiz questions per lesson at most\n"
           "  course/quiz_per_course 60         quiz questions per course at most\n"
           "  log/level              info\n");
}

/* The profai-extract beside this program's binary (bin/ of the build tree); when there is none
 * there, the installed one, $(PREFIX)/libexec/profai/ for $(PREFIX)/bin/profai-worker (make
 * install, docs/operations.md). Neither executable: the first, for the error message. */
static int
s_default_extract(char *buf, size_t size)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    const char *dir = dirname(self);
    char installed[PATH_MAX];
    int m = snprintf(buf, size, "%s/profai-extract", dir);
    if (m <= 0 || (size_t)m >= size)
        return -1;
    snprintf(installed, sizeof installed, "%s/../libexec/profai/profai-extract", dir);
    if (access(buf, X_OK) != 0 && access(installed, X_OK) == 0 && realpath(installed, self) &&
        strlen(self) < size)
        snprintf(buf, size, "%s", self);
    return 0;
}

static const startup_option_t s_options[] = {
    {"broker", 'b', "worker/broker", NULL},
    {"concurrency", 'n', "worker/concurrency", NULL},
    {"certificate", 'k', "curve/certificate", NULL},
    {"broker-key", 'K', "curve/broker_key", NULL},
    {NULL, 0, NULL, NULL},
};

static const startup_program_t s_program = {
    .prog = "profai-worker", .component = "worker", .help = s_help, .options = s_options};

/* Fill wc from the configuration (exits 2 when a value is invalid); extract receives the
 * extractor's path. Strings are borrowed from st. */
static void
s_config_read(startup_t *st, worker_config_t *wc, char *extract, size_t extract_size)
{
    wc->concurrency = (int)startup_conf_int(st, "worker/concurrency", 2, 1, WORKER_CONCURRENCY_MAX);
    wc->heartbeat_ivl = startup_conf_int(st, "worker/heartbeat_ivl", 1000, 10, 600000);
    wc->liveness = startup_conf_int(st, "worker/liveness", 3, 1, 100);
    wc->drain_timeout = startup_conf_int(st, "worker/drain_timeout", 30000, 0, 86400000);
    job_limits_t *limits = &wc->limits;
    limits->page_delay_ms = startup_conf_int(st, "worker/page_delay_ms", 0, 0, 60000);
    limits->crash_attempts = startup_conf_int(st, "worker/crash_attempts", 0, 0, 1000000);
    limits->address_space = startup_conf_int(st, "limits/address_space", 1LL << 30, 0, 1LL << 40);
    limits->cpu_seconds = startup_conf_int(st, "limits/cpu_seconds", 120, 0, 86400);
    limits->wall_ms = startup_conf_int(st, "limits/wall_seconds", 300, 1, 86400) * 1000;
    limits->open_files = startup_conf_int(st, "limits/open_files", 64, 0, 1 << 20);
    limits->file_size = startup_conf_int(st, "limits/file_size", 64LL << 20, 0, 1LL << 40);
    limits->nice = startup_conf_int(st, "limits/nice", 0, 0, 19);
    limits->max_pages = startup_conf_int(st, "limits/max_pages", 5000, 0, 10000000);
    limits->split_pages = startup_conf_int(st, "worker/split_pages", 200, 0, 10000000);
    if (limits->split_pages != 0 && limits->split_pages < EXTRACT_SPLIT_PARTS_MAX)
        startup_fail(st, "worker/split_pages must be 0 or at least %d", EXTRACT_SPLIT_PARTS_MAX);
    /* One reader per core this host has, unless told otherwise. */
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    long long cores = online < 1                         ? 1
                      : online > EXTRACT_SPLIT_PARTS_MAX ? EXTRACT_SPLIT_PARTS_MAX
                                                         : online;
    limits->split_processes =
        startup_conf_int(st, "worker/split_processes", cores, 1, EXTRACT_SPLIT_PARTS_MAX);
    limits->quiz_per_lesson = startup_conf_int(st, "course/quiz_per_lesson", 3, 1, 100);
    limits->quiz_per_course = startup_conf_int(st, "course/quiz_per_course", 60, 1, 100000);
    if (limits->open_files != 0 && limits->open_files < 8)
        startup_fail(st, "limits/open_files must be 0 or at least 8");
    wc->endpoint = startup_conf_str(st, "worker/broker", "tcp://127.0.0.1:5555");
    wc->service = startup_conf_str(st, "worker/service", PROTO_SERVICE_COURSE);
    char err[512];
    if (curve_client_keys(startup_conf_str(st, "curve/certificate", NULL),
                          startup_conf_str(st, "curve/broker_key", NULL), &wc->curve, err,
                          sizeof err) != 0)
        startup_fail(st, "%s", err);
    if (!proto_is_service(wc->service, strlen(wc->service)))
        startup_fail(st, "worker/service '%s' is not a valid service name", wc->service);
    log_level_t level = startup_init_log(st);
    /* The extractor logs only what goes wrong unless the worker is debugging. */
    limits->log_level = level == PROFAI_LOG_DEBUG ? "debug" : "warn";
    const char *path = startup_conf_str(st, "worker/extract", NULL);
    if (path != NULL)
        snprintf(extract, extract_size, "%s", path);
    else if (s_default_extract(extract, extract_size) != 0)
        startup_fail(st, "cannot locate profai-extract; set worker/extract");
    if (access(extract, X_OK) != 0)
        startup_fail(st, "extractor %s is not executable: %s", extract, strerror(errno));
    limits->extract_path = extract;
}

int
main(int argc, char **argv)
{
    startup_t *st = startup_new(&s_program, argc, argv);
    worker_config_t wc;
    memset(&wc, 0, sizeof wc);
    char extract[PATH_MAX];
    s_config_read(st, &wc, extract, sizeof extract);
    int rc = 1;
    worker_t *worker = NULL;
    /* SA_RESTART: the worker's reads, writes and waits on its extractors resume after a signal;
     * its loop learns of the signal from the stop pipe. */
    if (startup_catch_signals(st, true) != 0) {
        log_error("cannot install signal handlers: %s", strerror(errno));
        goto done;
    }
    worker = worker_new(&wc);
    if (worker == NULL) {
        log_error("cannot create the worker (out of memory?)");
        goto done;
    }
    /* Ready: the slots connect on their own (ZeroMQ retries until the broker listens), so a
     * worker started before its broker serves as soon as the broker is there. */
    notify_ready("%d job slots for %s at %s", wc.concurrency, wc.service, wc.endpoint);
    rc = worker_run(worker, startup_stop_fd(st)) == 0 ? 0 : 1;
done:
    worker_destroy(&worker);
    startup_destroy(&st);
    return rc;
}
