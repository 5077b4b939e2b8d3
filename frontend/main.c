/*
 * main.c - profai-frontend: the REST API server (docs/api.md).
 *
 * Reads the configuration (conf/frontend.conf), starts the database pool, the authenticator and
 * its token revocation listener (auth_listen.h) and the HTTP server, then waits for SIGTERM or
 * SIGINT and stops cleanly (exit 0).
 */
#include "api.h"
#include "auth.h"
#include "auth_listen.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "startup.h"

#include <civetweb.h>
#include <czmq.h>
#include <errno.h>
#include <profai/proto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "profai-frontend"
/* How long a request waits for a free database connection before answering 503. */
#define FRONTEND_DB_ACQUIRE_MS 5000

typedef struct {
    const char *listen;
    long long threads;
    long long max_upload;
    long long body_timeout;
    long long request_timeout;
    long long keep_alive;
    long long min_rate;
    long long min_rate_grace;
    const char *broker;
    long long broker_timeout;
    const char *conninfo;
    long long pool;
    long long cache_ttl;
    long long max_stale;
    long long read_cache_bytes;
    long long read_cache_ttl;
    long long quiz_max_attempts;
    const char *metrics_token;
} s_settings_t;

static void
s_help(void)
{
    printf("usage: " PROG " [OPTIONS]\n"
           "\n"
           "ProfAI's REST API server (docs/api.md): teachers upload PDFs, which it stores in\n"
           "PostgreSQL and submits to profai-broker; everyone reads jobs and courses.\n"
           "Stops cleanly on SIGTERM or SIGINT.\n"
           "\n"
           "options:\n"
           "  -c, --config FILE          configuration file (ZPL, see conf/frontend.conf)\n"
           "  -p, --port N               listen on 127.0.0.1:N (sets http/listen)\n"
           "  -l, --listen ADDR:PORT     listen address (http/listen; port 0 = any free port)\n"
           "  -b, --broker ENDPOINT      broker endpoint (broker/endpoint)\n"
           "  -d, --database CONNINFO    libpq conninfo (database/conninfo)\n"
           "  -v, --log-level LEVEL      error, warn, info or debug (log/level)\n"
           "  -h, --help                 show this help\n"
           "      --version              show the version\n"
           "\n"
           "configuration keys (default):\n"
           "  http/listen            127.0.0.1:8080\n"
           "  http/threads           64       connections served at once\n"
           "  http/max_upload        50M      largest PDF accepted (at most 64M)\n"
           "  http/body_timeout      60000    ms for a whole upload body to arrive\n"
           "  http/request_timeout   30000    ms for any single read or write\n"
           "  http/keep_alive        2000     ms an idle keep-alive connection is kept\n"
           "  http/min_rate          4k       bytes/s an upload (or a large answer) must keep up\n"
           "                                  on average after the grace period (0 = none)\n"
           "  http/min_rate_grace    5000     ms before the minimum rate applies\n"
           "  broker/endpoint        tcp://127.0.0.1:5555\n"
           "  broker/timeout         5000     ms to wait for the broker's answer\n"
           "  database/conninfo      \"\"       libpq conninfo (\"\" = PG* environment)\n"
           "  database/pool          16       PostgreSQL connections\n"
           "  auth/cache_ttl         30000    ms a valid token stays cached (0 = off); a\n"
           "                                  revocation evicts it at once (LISTEN/NOTIFY)\n"
           "  auth/max_stale         3000     ms cached tokens stay trusted once revocations\n"
           "                                  cannot be heard (database or listener down)\n"
           "  cache/max_bytes        64M      memory for cached courses and quizzes (0 = off)\n"
           "  cache/ttl              60000    ms a cached course is served before PostgreSQL is\n"
           "                                  asked again (0 = off; while PostgreSQL is down, a\n"
           "                                  cached course is served past it)\n"
           "  quiz/max_attempts      3        a student's attempts per quiz (0 = unlimited);\n"
           "                                  the right answers are shown on the last one\n"
           "  metrics/token          \"\"       bearer token GET /metrics asks for; \"\": served\n"
           "                                  to direct loopback peers only (docs/api.md)\n"
           "  log/level              info\n");
}

/* -p N: listen on 127.0.0.1:N. */
static int
s_port_convert(const char *arg, char *value, size_t value_size, char *err, size_t err_size)
{
    char *end = NULL;
    long port = strtol(arg, &end, 10);
    if (end == arg || *end != '\0' || port < 0 || port > 65535) {
        snprintf(err, err_size, "--port %s is not a port number", arg);
        return -1;
    }
    snprintf(value, value_size, "127.0.0.1:%ld", port);
    return 0;
}

static const startup_option_t s_options[] = {
    {"port", 'p', "http/listen", s_port_convert},
    {"listen", 'l', "http/listen", NULL},
    {"broker", 'b', "broker/endpoint", NULL},
    {"database", 'd', "database/conninfo", NULL},
    {NULL, 0, NULL, NULL},
};

static const startup_program_t s_program = {
    .prog = PROG, .component = "frontend", .help = s_help, .options = s_options};

/* Read every setting with its default and range; exits 2 when one is invalid. Strings are
 * borrowed from st. */
static void
s_settings_read(startup_t *st, s_settings_t *s)
{
    s->listen = startup_conf_str(st, "http/listen", "127.0.0.1:8080");
    s->broker = startup_conf_str(st, "broker/endpoint", "tcp://127.0.0.1:5555");
    s->conninfo = startup_conf_str(st, "database/conninfo", "");
    s->threads = startup_conf_int(st, "http/threads", 64, 1, 4096);
    s->max_upload = startup_conf_int(st, "http/max_upload", 50LL << 20, 1024, PROTO_PDF_MAX);
    s->body_timeout = startup_conf_int(st, "http/body_timeout", 60000, 100, 3600000);
    s->request_timeout = startup_conf_int(st, "http/request_timeout", 30000, 100, 600000);
    s->keep_alive = startup_conf_int(st, "http/keep_alive", 2000, 0, 600000);
    s->min_rate = startup_conf_int(st, "http/min_rate", 4096, 0, 1LL << 30);
    s->min_rate_grace = startup_conf_int(st, "http/min_rate_grace", 5000, 0, 3600000);
    s->broker_timeout = startup_conf_int(st, "broker/timeout", 5000, 10, 600000);
    s->pool = startup_conf_int(st, "database/pool", 16, 1, 1000);
    s->cache_ttl = startup_conf_int(st, "auth/cache_ttl", 30000, 0, 3600000);
    s->max_stale = startup_conf_int(st, "auth/max_stale", 3000, 100, 60000);
    s->read_cache_bytes =
        startup_conf_int(st, "cache/max_bytes", (long long)API_CACHE_BYTES_DEFAULT, 0, 1LL << 40);
    s->read_cache_ttl = startup_conf_int(st, "cache/ttl", API_CACHE_TTL_DEFAULT, 0, 3600000);
    s->quiz_max_attempts = startup_conf_int(st, "quiz/max_attempts", 3, 0, 1000);
    s->metrics_token = startup_conf_str(st, "metrics/token", "");
}

int
main(int argc, char **argv)
{
    db_pool_t *db = NULL;
    auth_t *auth = NULL;
    auth_listen_t *listener = NULL;
    api_t *api = NULL;
    http_server_t *server = NULL;
    int rc = 1;
    bool started = false; /* libraries are initialised */
    bool served = false;  /* the HTTP server ran */
    char err[512] = "";

    /* Block the stop signals first: every thread started later (civetweb, ZeroMQ, libpq)
     * inherits the mask, so they reach only startup_wait_signal below, even if they come
     * during start. */
    if (startup_block_signals() != 0) {
        fprintf(stderr, PROG ": cannot block signals: %s\n", strerror(errno));
        return 1;
    }
    startup_t *st = startup_new(&s_program, argc, argv);
    s_settings_t s;
    s_settings_read(st, &s);
    startup_init_log(st);

    /* Create czmq's context now: its lazy creation is not thread-safe. */
    zsys_init();
    mg_init_library(0);
    started = true;

    /* A mistyped endpoint would otherwise only show as 503s: check its syntax now. */
    zsock_t *probe = zsock_new(ZMQ_DEALER);
    bool endpoint_ok = probe != NULL && zsock_connect(probe, "%s", s.broker) == 0;
    zsock_destroy(&probe);
    if (!endpoint_ok) {
        log_error("broker/endpoint = %s is not a ZeroMQ endpoint (e.g. tcp://127.0.0.1:5555)",
                  s.broker);
        rc = 2;
        goto done;
    }

    db = db_pool_new(s.conninfo, (int)s.pool, FRONTEND_DB_ACQUIRE_MS);
    auth = db ? auth_new(db, (int)s.cache_ttl, (int)s.max_stale) : NULL;
    if (auth == NULL) {
        log_error("out of memory");
        goto done;
    }
    /* Without a cache there is nothing to evict. */
    if (s.cache_ttl > 0 && (listener = auth_listen_new(auth, db, (int)s.max_stale)) == NULL) {
        log_error("cannot start the token revocation listener");
        goto done;
    }
    int check = db_pool_check(db, err, sizeof err);
    if (check == -2) {
        log_error("%s", err);
        goto done;
    }
    if (check == -1)
        log_warn("%s (serving anyway: requests that need it answer 503 until it is back)", err);

    api_config_t api_cfg = {.broker_endpoint = s.broker,
                            .broker_timeout_ms = (int)s.broker_timeout,
                            .max_upload = (size_t)s.max_upload,
                            .body_timeout_ms = (int)s.body_timeout,
                            .db = db,
                            .auth = auth,
                            .cache_bytes = (size_t)s.read_cache_bytes,
                            /* api_config_t: a negative TTL is "no cache" */
                            .cache_ttl_ms = s.read_cache_bytes == 0 || s.read_cache_ttl == 0
                                                ? -1
                                                : (int)s.read_cache_ttl,
                            .quiz_max_attempts = (int)s.quiz_max_attempts,
                            .metrics_token = s.metrics_token};
    api = api_new(&api_cfg);
    if (api == NULL) {
        log_error("out of memory");
        goto done;
    }
    http_config_t http_cfg = {.listen = s.listen,
                              .threads = (int)s.threads,
                              .request_timeout_ms = (int)s.request_timeout,
                              .keep_alive_ms = (int)s.keep_alive,
                              .min_rate = s.min_rate,
                              .min_rate_grace_ms = (int)s.min_rate_grace,
                              .handler = api_handle,
                              .handler_arg = api,
                              .thread_init = api_thread_new,
                              .thread_exit = api_thread_destroy};
    server = http_server_new(&http_cfg, err, sizeof err);
    if (server == NULL) {
        log_error("%s", err);
        goto done;
    }
    char host[64] = "0.0.0.0"; /* civetweb reads a bare port as every address */
    if (strchr(s.listen, ':') != NULL)
        snprintf(host, sizeof host, "%.*s", (int)strcspn(s.listen, ":"), s.listen);
    log_info("listening on http://%s:%d (threads=%lld, max_upload=%lld, broker=%s)", host,
             http_server_port(server), s.threads, s.max_upload, s.broker);

    served = true;
    int sig = startup_wait_signal();
    log_info("%s received: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    rc = 0;
done:
    http_server_destroy(&server);
    api_destroy(&api);
    auth_listen_destroy(&listener);
    auth_destroy(&auth);
    db_pool_destroy(&db);
    startup_destroy(&st);
    if (started)
        mg_exit_library();
    if (served)
        log_info("stopped");
    return rc;
}
