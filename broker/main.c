/*
 * main.c - profai-broker: options, configuration, start-up (database, migrations, unfinished
 * jobs), then the event loop of broker.c until SIGINT or SIGTERM.
 */
#include "broker.h"
#include "conf.h"
#include "log.h"
#include "migrate.h"

#include <czmq.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ENDPOINT "tcp://*:5555"

static volatile sig_atomic_t s_stop = 0;

static void
s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void
s_usage(FILE *out)
{
    fprintf(out,
            "Usage: profai-broker [OPTIONS]\n"
            "\n"
            "The ProfAI job broker. Binds one ZeroMQ ROUTER socket speaking Majordomo 0.2 to\n"
            "frontends (MDPC02: job.submit, job.cancel, broker.ping) and workers (MDPW02:\n"
            "course.build), and keeps every job durable in PostgreSQL. At start it waits for\n"
            "the database, applies the schema migrations compiled into it, reloads unfinished\n"
            "jobs (queued ones are dispatched again, after their retry back-off; running ones\n"
            "wait for their worker to come back, then are retried), and serves until SIGINT or\n"
            "SIGTERM. Failed attempts are retried with back-off, deterministic failures are\n"
            "final. Run exactly one broker per database. See docs/broker.md and docs/jobs.md.\n"
            "\n"
            "Options:\n"
            "  -c, --config FILE         read configuration FILE (ZPL; see conf/broker.conf)\n"
            "  -e, --endpoint ENDPOINT   overrides broker/endpoint, e.g. tcp://127.0.0.1:5555\n"
            "  -d, --database CONNINFO   overrides database/conninfo (libpq string or URI)\n"
            "  -v, --log-level LEVEL     overrides log/level: error, warn, info or debug\n"
            "  -h, --help                print this help and exit\n"
            "      --version             print the version and exit\n"
            "\n"
            "Configuration keys (default):\n"
            "  broker/endpoint = " DEFAULT_ENDPOINT "\n"
            "      where the ROUTER socket binds; workers and frontends connect here\n"
            "  broker/heartbeat_ivl = 1000\n"
            "      ms between heartbeats to each worker; use the workers' value\n"
            "  broker/liveness = 3\n"
            "      a worker silent for heartbeat_ivl * liveness ms is dead; its job is requeued\n"
            "  broker/max_attempts = 5\n"
            "      attempts per job at most: a transient failure (worker lost, parser crashed,\n"
            "      timeout, internal) of the last one fails the job with that reason\n"
            "  broker/retry_base_ms = 1000\n"
            "      back-off before retrying a job whose first attempt failed; it doubles with\n"
            "      each failed attempt (plus up to 10%% jitter)\n"
            "  broker/retry_max_ms = 60000\n"
            "      longest back-off between two attempts\n"
            "  broker/job_deadline_ms = 600000\n"
            "      an attempt running longer is stopped on its worker and retried (timeout)\n"
            "  broker/max_pending_writes = 100000\n"
            "      database writes queued at most; beyond it submissions get 'overloaded'\n"
            "  broker/shutdown_timeout = 5000\n"
            "      ms allowed on SIGTERM to commit writes already queued\n"
            "  database/conninfo = \"\"\n"
            "      libpq connection string; empty uses the PG* environment variables\n"
            "  log/level = info\n"
            "      lowest level logged (to stderr, one line per event)\n"
            "\n"
            "Needs: a reachable PostgreSQL 15 database the broker may create tables in (it\n"
            "retries until the server answers). Exit status: 0 after SIGINT/SIGTERM, 1 on a\n"
            "start-up failure (bind, migration), 2 on a usage or configuration error.\n");
}

/* Read a bounded integer key; on error print and return -1. */
static int
s_conf_int(zconfig_t *root, const char *path, long long def, long long min, long long max,
           long long *out)
{
    char err[256];
    if (conf_int(root, path, def, min, max, out, err, sizeof err) != 0) {
        fprintf(stderr, "profai-broker: %s\n", err);
        return -1;
    }
    return 0;
}

/* Fill config from root; -1 (message printed) when a value is invalid. Strings are borrowed
 * from root. */
static int
s_read_config(zconfig_t *root, broker_config_t *config, log_level_t *level)
{
    long long ivl, liveness, attempts, pending, shutdown;
    if (s_conf_int(root, "broker/heartbeat_ivl", 1000, 10, 600000, &ivl) != 0 ||
        s_conf_int(root, "broker/liveness", 3, 2, 100, &liveness) != 0 ||
        s_conf_int(root, "broker/max_attempts", 5, 1, 1000, &attempts) != 0 ||
        s_conf_int(root, "broker/max_pending_writes", 100000, 1, 100000000, &pending) != 0 ||
        s_conf_int(root, "broker/shutdown_timeout", 5000, 0, 600000, &shutdown) != 0 ||
        s_conf_int(root, "broker/retry_base_ms", 1000, 1, 3600000, &config->retry_base_ms) != 0 ||
        s_conf_int(root, "broker/retry_max_ms", 60000, 1, 86400000, &config->retry_max_ms) != 0 ||
        s_conf_int(root, "broker/job_deadline_ms", 600000, 100, 7 * 86400000LL,
                   &config->job_deadline_ms) != 0)
        return -1;
    if (config->retry_max_ms < config->retry_base_ms) {
        fprintf(stderr,
                "profai-broker: broker/retry_max_ms (%lld) is less than "
                "broker/retry_base_ms (%lld)\n",
                config->retry_max_ms, config->retry_base_ms);
        return -1;
    }
    config->endpoint = conf_str(root, "broker/endpoint", DEFAULT_ENDPOINT);
    config->conninfo = conf_str(root, "database/conninfo", "");
    config->heartbeat_ivl = (int)ivl;
    config->liveness = (int)liveness;
    config->max_attempts = (int)attempts;
    config->max_pending_writes = (size_t)pending;
    config->shutdown_timeout = (int)shutdown;

    const char *level_name = conf_str(root, "log/level", "info");
    if (log_level_parse(level_name, level) != 0) {
        fprintf(stderr, "profai-broker: log/level = %s is not error, warn, info or debug\n",
                level_name);
        return -1;
    }
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(config->conninfo, &errmsg);
    if (opts == NULL) {
        fprintf(stderr, "profai-broker: database/conninfo is invalid: %s",
                errmsg != NULL ? errmsg : "out of memory\n");
        PQfreemem(errmsg);
        return -1;
    }
    PQconninfoFree(opts);
    return 0;
}

/* Parse the command line into the configuration tree. Returns 0 to run, 1 to exit 0 (help,
 * version), 2 on a usage error. */
static int
s_parse_args(int argc, char **argv, zconfig_t **root_p)
{
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"endpoint", required_argument, NULL, 'e'},
                                            {"database", required_argument, NULL, 'd'},
                                            {"log-level", required_argument, NULL, 'v'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, 'V'},
                                            {NULL, 0, NULL, 0}};
    const char *config_path = NULL;
    const char *endpoint = NULL, *database = NULL, *level = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "c:e:d:v:h", options, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'e':
            endpoint = optarg;
            break;
        case 'd':
            database = optarg;
            break;
        case 'v':
            level = optarg;
            break;
        case 'h':
            s_usage(stdout);
            return 1;
        case 'V':
            printf("profai-broker " PROFAI_VERSION "\n");
            return 1;
        default:
            fprintf(stderr, "Try 'profai-broker --help'.\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "profai-broker: unexpected argument '%s'\nTry 'profai-broker --help'.\n",
                argv[optind]);
        return 2;
    }
    char err[512];
    zconfig_t *root = conf_load(config_path, err, sizeof err);
    if (root == NULL) {
        fprintf(stderr, "profai-broker: %s\n", err);
        return 2;
    }
    if (endpoint != NULL)
        zconfig_put(root, "broker/endpoint", endpoint);
    if (database != NULL)
        zconfig_put(root, "database/conninfo", database);
    if (level != NULL)
        zconfig_put(root, "log/level", level);
    *root_p = root;
    return 0;
}

static void
s_install_signals(void)
{
    /* czmq's own handler would only set zsys_interrupted; ours stops the loop, and no
     * SA_RESTART so that zmq_poll and poll return at once. */
    zsys_handler_set(NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Start-up work on the database, then the loop. Returns the exit status. */
static int
s_serve(const broker_config_t *config)
{
    char err[512];
    PGconn *conn = migrate_connect(config->conninfo, &s_stop);
    if (conn == NULL)
        return 0; /* stopped while waiting for the database */
    log_info("database reachable; checking the schema");
    broker_t *broker = NULL;
    int status = 1;
    if (migrate_apply(conn, migrations, migrations_count, err, sizeof err) != 0) {
        log_error("%s", err);
        goto done;
    }
    broker = broker_new(config, err, sizeof err);
    if (broker == NULL) {
        log_error("%s", err);
        goto done;
    }
    if (broker_load_jobs(broker, conn, err, sizeof err) != 0) {
        log_error("%s", err);
        goto done;
    }
    PQfinish(conn);
    conn = NULL;
    status = broker_run(broker, &s_stop) == 0 ? 0 : 1;
done:
    PQfinish(conn);
    broker_destroy(&broker);
    return status;
}

int
main(int argc, char **argv)
{
    zconfig_t *root = NULL;
    int rc = s_parse_args(argc, argv, &root);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    broker_config_t config;
    log_level_t level;
    if (s_read_config(root, &config, &level) != 0) {
        zconfig_destroy(&root);
        return 2;
    }
    log_init("broker", level);
    s_install_signals();
    log_info("profai-broker " PROFAI_VERSION " starting");
    int status = s_serve(&config);
    zconfig_destroy(&root);
    return status;
}
