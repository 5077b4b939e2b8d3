/*
 * main.c - profai-broker: options, configuration, start-up (database, migrations, unfinished
 * jobs), then the event loop of broker.c until SIGINT or SIGTERM. Under systemd (Type=notify)
 * it says what it waits for while starting and READY=1 once the socket is bound and the jobs
 * are loaded.
 */
#include "admin.h"
#include "blob_reader.h"
#include "blob_server.h"
#include "broker.h"
#include "leader.h"
#include "log.h"
#include "migrate.h"
#include "notify.h"
#include "standby.h"
#include "startup.h"

#include <czmq.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_ENDPOINT "tcp://127.0.0.1:5555"

static void
s_help(void)
{
    printf("Usage: profai-broker [OPTIONS]\n"
           "\n"
           "The ProfAI job broker. Binds one ZeroMQ ROUTER socket speaking Majordomo 0.2 to\n"
           "frontends (MDPC02: job.submit, job.cancel, broker.ping) and workers (MDPW02:\n"
           "course.build), and keeps every job durable in PostgreSQL. At start it waits for\n"
           "the database, applies the schema migrations compiled into it, reloads unfinished\n"
           "jobs (queued ones are dispatched again, after their retry back-off; running ones\n"
           "wait for their worker to come back, then are retried), and serves until SIGINT or\n"
           "SIGTERM. Failed attempts are retried with back-off, deterministic failures are\n"
           "final. Several brokers may run on one database: the one holding PostgreSQL's\n"
           "leader lock leads, the others stand by (answering not_leader) and take over when\n"
           "it goes. See docs/broker.md and docs/jobs.md.\n"
           "\n"
           "Options:\n"
           "  -c, --config FILE         read configuration FILE (ZPL; see conf/broker.conf)\n"
           "  -e, --endpoint ENDPOINT   overrides broker/endpoint, e.g. tcp://0.0.0.0:5555\n"
           "  -a, --admin ENDPOINT      overrides admin/endpoint, e.g. ipc://var/admin.sock\n"
           "  -d, --database CONNINFO   overrides database/conninfo (libpq string or URI)\n"
           "  -v, --log-level LEVEL     overrides log/level: error, warn, info or debug\n"
           "  -h, --help                print this help and exit\n"
           "      --version             print the version and exit\n"
           "\n"
           "Configuration keys (default):\n"
           "  broker/endpoint = " DEFAULT_ENDPOINT "\n"
           "      where the ROUTER socket binds; workers and frontends connect here. Without\n"
           "      CURVE keys only loopback (tcp://127.x.x.x, localhost, [::1]) or ipc:\n"
           "  broker/allow_plaintext = 0\n"
           "      1: bind a non-loopback endpoint without CURVE anyway (warned at every start)\n"
           "  curve/certificate = (none)\n"
           "      the broker's own certificate (NAME of a pair from profaictl keygen): CURVE on\n"
           "  curve/workers_dir = (none)\n"
           "      directory of public certificates of the worker hosts allowed to serve jobs\n"
           "  curve/frontends_dir = (none)\n"
           "      directory of public certificates of the frontends allowed to submit/cancel\n"
           "  curve/admins_dir = (none)\n"
           "      directory of public certificates of the operators allowed on a tcp:// admin\n"
           "      socket (profaictl --key); needed by a tcp:// admin/endpoint\n"
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
           "  broker/max_running_per_owner = 0\n"
           "      jobs of one owner running at once at most (0: no cap); owners with queued\n"
           "      jobs are served in turn whatever this is\n"
           "  broker/max_queued_per_owner = 500\n"
           "      queued jobs per owner at most; beyond it submissions get\n"
           "      'queue_quota_exceeded' (0: no quota)\n"
           "  broker/max_bytes_per_owner = 2147483648\n"
           "      bytes of the PDFs of an owner's unfinished jobs and courses at most; beyond\n"
           "      it submissions get 'storage_quota_exceeded' (0: no quota)\n"
           "  broker/max_pending_writes = 100000\n"
           "      database writes queued at most; beyond it submissions get 'overloaded'\n"
           "  broker/pdf_readers = 2\n"
           "      PDFs read from the database at once for dispatch, each on a connection\n"
           "      of its own beside the write connection (docs/broker.md)\n"
           "  broker/dispatch_hold_ms = 20\n"
           "      ms an early dispatch waits unwritten for its result, to be written with\n"
           "      it as one update (0: never held; docs/broker.md)\n"
           "  broker/blob_endpoint = \"\"\n"
           "      where the blob endpoint binds, e.g. tcp://127.0.0.1:5556: workers of protocol\n"
           "      1.2 fetch PDFs of 1 MiB or more from it in chunks instead of receiving them in\n"
           "      the REQUEST (docs/protocol.md 3.6); \"\": every PDF goes inline\n"
           "  broker/blob_connect = \"\" (broker/blob_endpoint)\n"
           "      the address workers are told to fetch from; needed when blob_endpoint binds a\n"
           "      wildcard (tcp://*:5556)\n"
           "  broker/blob_threads = 2\n"
           "      the blob endpoint's reader threads, each with a database connection of its own\n"
           "  broker/lock_poll_ms = 500\n"
           "      standby: ms between attempts to take the leader's lock; leader: ms between\n"
           "      checks of its lock session (docs/broker.md, \"Standby broker\")\n"
           "  broker/shutdown_timeout = 5000\n"
           "      ms allowed on SIGTERM to commit writes already queued and answer admin\n"
           "      reads in flight\n"
           "  database/conninfo = \"\"\n"
           "      libpq connection string; empty uses the PG* environment variables\n"
           "  admin/endpoint = ipc://$RUNTIME_DIRECTORY/admin.sock, else ipc://var/admin.sock\n"
           "      the admin socket (docs/admin.md): ipc:// (mode 0660), or tcp:// with CURVE\n"
           "      and curve/admins_dir; \"\" disables it\n"
           "  metrics/endpoint = \"\"\n"
           "      tcp://ADDR:PORT of the HTTP metrics endpoint (GET /metrics, Prometheus text;\n"
           "      docs/operations.md), e.g. tcp://127.0.0.1:9101; \"\": none\n"
           "  log/level = info\n"
           "      lowest level logged (to stderr, one line per event)\n"
           "\n"
           "Needs: a reachable PostgreSQL 15 database the broker may create tables in (it\n"
           "retries until the server answers). Exit status: 0 after SIGINT/SIGTERM, 1 on a\n"
           "start-up failure (bind, migration), 2 on a usage or configuration error, 3\n"
           "when it lost the leadership (started again, it stands by).\n");
}

static const startup_option_t s_options[] = {
    {"endpoint", 'e', "broker/endpoint", NULL},
    {"database", 'd', "database/conninfo", NULL},
    {"admin", 'a', "admin/endpoint", NULL},
    {NULL, 0, NULL, NULL},
};

static const startup_program_t s_program = {
    .prog = "profai-broker", .component = "broker", .help = s_help, .options = s_options};

/* Whether the admin socket is to be on the network (it then needs CURVE and admin keys). */
static bool
s_admin_is_tcp(const broker_config_t *config)
{
    return config->admin_endpoint != NULL && strncmp(config->admin_endpoint, "tcp://", 6) == 0;
}

/* CURVE keys, or plaintext only where it is safe (docs/security.md, "The network between
 * hosts"): exits 2 when a key cannot be read or a plaintext bind would reach the network
 * without broker/allow_plaintext. */
static void
s_config_curve(startup_t *st, broker_config_t *config)
{
    const char *certificate = startup_conf_str(st, "curve/certificate", NULL);
    config->workers_dir = startup_conf_str(st, "curve/workers_dir", NULL);
    config->frontends_dir = startup_conf_str(st, "curve/frontends_dir", NULL);
    config->admins_dir = startup_conf_str(st, "curve/admins_dir", NULL);
    bool allow_plaintext = startup_conf_int(st, "broker/allow_plaintext", 0, 0, 1) == 1;
    char err[512];
    if (certificate != NULL) {
        if (curve_load_certificate(certificate, &config->curve, err, sizeof err) != 0)
            startup_fail(st, "curve/certificate: %s", err);
        if (config->workers_dir == NULL && config->frontends_dir == NULL)
            startup_fail(st, "curve/certificate is set but neither curve/workers_dir nor "
                             "curve/frontends_dir: no peer could connect");
        if (s_admin_is_tcp(config) && config->admins_dir == NULL)
            startup_fail(st,
                         "admin/endpoint %s is tcp:// but curve/admins_dir is not set: no "
                         "operator key could use it (docs/admin.md)",
                         config->admin_endpoint);
        return;
    }
    if (config->workers_dir != NULL || config->frontends_dir != NULL || config->admins_dir != NULL)
        startup_fail(st, "curve/workers_dir, curve/frontends_dir and curve/admins_dir need "
                         "curve/certificate (the broker's own key pair; profaictl keygen writes "
                         "one)");
    if (s_admin_is_tcp(config))
        startup_fail(st,
                     "admin/endpoint %s is tcp:// without CURVE: anyone reaching it could cancel "
                     "jobs. Set curve/certificate and curve/admins_dir (docs/admin.md), or use "
                     "ipc://",
                     config->admin_endpoint);
    if (curve_endpoint_is_local(config->endpoint))
        return;
    if (!allow_plaintext)
        startup_fail(st,
                     "broker/endpoint %s is not loopback and no CURVE keys are set: any host that "
                     "reaches it could serve or submit jobs. Set curve/certificate, "
                     "curve/workers_dir and curve/frontends_dir (docs/operations.md, \"Keys\"), "
                     "bind tcp://127.0.0.1 or ipc://, or set broker/allow_plaintext = 1",
                     config->endpoint);
    config->allow_plaintext = true;
}

/* Fill config from the configuration; exits 2 when a value is invalid. Strings are borrowed
 * from st. */
static void
s_config_read(startup_t *st, broker_config_t *config)
{
    config->heartbeat_ivl = (int)startup_conf_int(st, "broker/heartbeat_ivl", 1000, 10, 600000);
    config->liveness = (int)startup_conf_int(st, "broker/liveness", 3, 2, 100);
    config->max_attempts = (int)startup_conf_int(st, "broker/max_attempts", 5, 1, 1000);
    config->max_pending_writes =
        (size_t)startup_conf_int(st, "broker/max_pending_writes", 100000, 1, 100000000);
    config->shutdown_timeout =
        (int)startup_conf_int(st, "broker/shutdown_timeout", 5000, 0, 600000);
    config->pdf_readers = (int)startup_conf_int(st, "broker/pdf_readers", 2, 1, BLOB_READER_MAX);
    config->dispatch_hold_ms = (int)startup_conf_int(st, "broker/dispatch_hold_ms", 20, 0, 60000);
    config->lock_poll_ms = (int)startup_conf_int(st, "broker/lock_poll_ms", 500, 10, 60000);
    config->retry_base_ms = startup_conf_int(st, "broker/retry_base_ms", 1000, 1, 3600000);
    config->retry_max_ms = startup_conf_int(st, "broker/retry_max_ms", 60000, 1, 86400000);
    config->job_deadline_ms =
        startup_conf_int(st, "broker/job_deadline_ms", 600000, 100, 7 * 86400000LL);
    config->max_running_per_owner =
        (size_t)startup_conf_int(st, "broker/max_running_per_owner", 0, 0, 1000000);
    config->max_queued_per_owner =
        startup_conf_int(st, "broker/max_queued_per_owner", 500, 0, 100000000);
    config->max_bytes_per_owner =
        startup_conf_int(st, "broker/max_bytes_per_owner", 2147483648LL, 0, 1LL << 50);
    if (config->retry_max_ms < config->retry_base_ms)
        startup_fail(st, "broker/retry_max_ms (%lld) is less than broker/retry_base_ms (%lld)",
                     config->retry_max_ms, config->retry_base_ms);
    config->endpoint = startup_conf_str(st, "broker/endpoint", DEFAULT_ENDPOINT);
    config->conninfo = startup_conf_str(st, "database/conninfo", "");
    static char admin_default[512];
    admin_default_endpoint(admin_default, sizeof admin_default);
    config->admin_endpoint = startup_conf_str(st, "admin/endpoint", admin_default);
    config->admin_optional = config->admin_endpoint == admin_default;
    s_config_curve(st, config);
    config->metrics_endpoint = startup_conf_str(st, "metrics/endpoint", "");
    config->blob_endpoint = startup_conf_str(st, "broker/blob_endpoint", "");
    config->blob_connect = startup_conf_str(st, "broker/blob_connect", "");
    config->blob_threads = (int)startup_conf_int(
        st, "broker/blob_threads", BLOB_SERVER_THREADS_DEFAULT, 1, BLOB_SERVER_THREADS_MAX);
    if (config->blob_endpoint[0] != '\0' && !config->curve.enabled &&
        startup_conf_int(st, "broker/allow_plaintext", 0, 0, 1) == 0 &&
        !curve_endpoint_is_local(config->blob_endpoint))
        startup_fail(st,
                     "broker/blob_endpoint %s is not loopback and no CURVE keys are set: any "
                     "host that reaches it could read PDFs of running jobs. Set the curve/ keys, "
                     "bind tcp://127.0.0.1 or ipc://, or set broker/allow_plaintext = 1",
                     config->blob_endpoint);

    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(config->conninfo, &errmsg);
    if (opts == NULL) {
        /* libpq's message ends with a newline */
        char msg[512];
        snprintf(msg, sizeof msg, "%.*s", errmsg != NULL ? (int)strcspn(errmsg, "\n") : 13,
                 errmsg != NULL ? errmsg : "out of memory");
        PQfreemem(errmsg);
        startup_fail(st, "database/conninfo is invalid: %s", msg);
    }
    PQconninfoFree(opts);
}

/* Start-up work on the database, then the loop. Returns the exit status. */
static int
s_serve(const broker_config_t *config)
{
    volatile sig_atomic_t *stop = startup_stop_flag();
    char err[512];
    notify_status("waiting for the database");
    PGconn *conn = migrate_connect(config->conninfo, stop);
    if (conn == NULL)
        return 0; /* stopped while waiting for the database */
    log_info("database reachable; checking the schema");
    broker_t *broker = NULL;
    leader_t *leader = NULL;
    int status = 1;
    if (migrate_apply(conn, migrations, migrations_count, err, sizeof err) != 0) {
        log_error("%s", err);
        goto done;
    }
    PQfinish(conn);
    conn = NULL;
    broker = broker_new(config, err, sizeof err);
    if (broker == NULL) {
        log_error("%s", err);
        goto done;
    }
    /* Who this broker is, for broker_leader.leader (people read it). */
    char host[256] = "";
    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    char name[512];
    snprintf(name, sizeof name, "%s pid %d %s", host, (int)getpid(), config->endpoint);
    leader = leader_new(config->conninfo, name);
    if (leader == NULL) {
        log_error("out of memory");
        goto done;
    }
    /* A broker that leads at once is ready once its jobs are loaded, as before; one that
     * stands by is ready as a standby (systemd must not time its start out), and says when
     * it leads. */
    int64_t epoch = 0;
    int rc = leader_try_take(leader, &epoch, err, sizeof err);
    bool standby = rc != 1;
    if (standby) {
        notify_ready("standing by on %s", config->endpoint);
        rc = standby_wait(broker, leader, config->lock_poll_ms, stop, &epoch);
        if (rc <= 0) {
            status = rc == 0 ? 0 : 1;
            goto done;
        }
    }
    log_info("leading epoch=%lld: loading the unfinished jobs", (long long)epoch);
    if (broker_lead(broker, leader, epoch, config->lock_poll_ms) != 0) {
        log_error("out of memory");
        goto done;
    }
    /* On the lock session: its reads follow the take-over's commit, so they see every write
     * the previous leader committed. */
    if (broker_load_jobs(broker, leader_connection(leader), err, sizeof err) != 0) {
        log_error("%s", err);
        goto done;
    }
    if (standby)
        notify_status("leading (epoch %lld), serving on %s", (long long)epoch, config->endpoint);
    else
        notify_ready("serving on %s", config->endpoint);
    status = broker_run(broker, stop) == 0 ? 0 : 1;
    if (broker_deposed(broker))
        status = 3;
done:
    PQfinish(conn);
    broker_destroy(&broker);
    leader_destroy(&leader);
    return status;
}

int
main(int argc, char **argv)
{
    startup_t *st = startup_new(&s_program, argc, argv);
    broker_config_t config;
    memset(&config, 0, sizeof config);
    s_config_read(st, &config);
    startup_init_log(st);
    /* No SA_RESTART: a signal interrupts libpq's and ZeroMQ's waits at once. */
    if (startup_catch_signals(st, false) != 0) {
        log_error("cannot install signal handlers: %s", strerror(errno));
        startup_destroy(&st);
        return 1;
    }
    log_info("profai-broker " PROFAI_VERSION " starting");
    if (config.allow_plaintext)
        log_warn("PLAINTEXT on a network endpoint (%s, broker/allow_plaintext = 1): anyone who "
                 "reaches it can serve, forge or submit jobs and read every PDF; use CURVE "
                 "(docs/security.md)",
                 config.endpoint);
    int status = s_serve(&config);
    startup_destroy(&st);
    return status;
}
