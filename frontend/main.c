/*
 * main.c - profai-frontend: the REST API server (docs/api.md).
 *
 * Reads the configuration (conf/frontend.conf), starts the database pool, the authenticator and
 * its change listener (change_listen.h: revoked tokens, changed courses and classes) and the HTTP
 * server, tells systemd it is ready, then waits for SIGTERM or SIGINT and stops cleanly (exit 0).
 * Under a systemd watchdog (WatchdogSec=), the main thread, which serves no request itself, asks
 * the server for GET /api/v1 before each WATCHDOG=1: a server whose threads are all stuck stops the
 * pings and systemd restarts it.
 */
#include "accounts.h"
#include "api.h"
#include "auth.h"
#include "auth_listen.h"
#include "blob_sweep.h"
#include "change_listen.h"
#include "course_listen.h"
#include "db.h"
#include "db_replica.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "password.h"
#include "routes.h"
#include "startup.h"

#include <civetweb.h>
#include <czmq.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <profai/proto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROG "profai-frontend"
/* How long a request waits for a free database connection before answering 503. */
#define FRONTEND_DB_ACQUIRE_MS 5000
/* The longest wait for the watchdog's own request (shorter when the watchdog is tighter). */
#define FRONTEND_PROBE_MS 5000

typedef struct {
    const char *listen;
    long long threads;
    long long event_streams;
    long long max_upload;
    long long body_timeout;
    long long request_timeout;
    long long keep_alive;
    long long backlog;
    long long min_rate;
    long long min_rate_grace;
    const char *broker;
    curve_keys_t broker_keys;
    long long broker_timeout;
    const char *conninfo;
    long long pool, pool_warm;
    const char *read_conninfo;
    long long read_pool, read_max_lag, read_check_interval;
    long long cache_ttl;
    long long max_stale;
    long long read_cache_bytes;
    long long read_cache_ttl;
    long long quiz_max_attempts;
    long long search_cache_ttl;
    const char *trusted_proxies;
    long long read_rate, read_burst, upload_rate, upload_burst, auth_fail_rate, auth_fail_burst;
    long long sweep_interval, sweep_grace;
    const char *metrics_token;
    long long signin_fail_rate, signin_fail_burst;
    long long session_idle, session_absolute, password_opslimit, password_memlimit;
    long long password_concurrent;
    const char *secure_cookie, *origins;
} s_settings_t;

static void
s_help(void)
{
    printf(
        "usage: " PROG " [OPTIONS]\n"
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
        "      --list-routes          print every route (METHOD PATTERN, one a line) and exit:\n"
        "                             what docs/openapi.json must describe\n"
        "\n"
        "configuration keys (default):\n"
        "  http/listen            127.0.0.1:8080\n"
        "  http/threads           64       connections served at once\n"
        "  http/event_streams     16       job event streams served at once (each holds a\n"
        "                                  thread: keep it well under http/threads)\n"
        "  http/max_upload        50M      largest PDF accepted (at most 64M)\n"
        "  http/body_timeout      60000    ms for a whole upload body to arrive\n"
        "  http/request_timeout   30000    ms for any single read or write\n"
        "  http/keep_alive        2000     ms an idle keep-alive connection is kept\n"
        "  http/backlog           4096     connections the kernel accepts ahead of the threads\n"
        "  http/min_rate          4k       bytes/s an upload (or a large answer) must keep up\n"
        "                                  on average after the grace period (0 = none)\n"
        "  http/min_rate_grace    5000     ms before the minimum rate applies\n"
        "  broker/endpoint        tcp://127.0.0.1:5555\n"
        "                         (several, comma-separated: a leader and its standbys)\n"
        "  broker/timeout         5000     ms to wait for the broker's answer\n"
        "  curve/certificate      (none)   this frontend's certificate (profaictl keygen)\n"
        "  curve/broker_key       (none)   the broker's public certificate; both set: CURVE\n"
        "  database/conninfo      \"\"       libpq conninfo (\"\" = PG* environment)\n"
        "  database/pool          16       PostgreSQL connections\n"
        "  database/pool_warm     0        of them opened at start (0: when first needed)\n"
        "  database/read_conninfo \"\"       a hot standby for course, list, search and quiz\n"
        "                                  reads (\"\" = none: all reads go to conninfo)\n"
        "  database/read_pool     pool     connections to the standby\n"
        "  database/read_max_lag  5000     ms the standby may lag and still serve reads\n"
        "  database/read_check_interval 1000  ms between two measurements of its lag\n"
        "  auth/cache_ttl         30000    ms a valid token stays cached (0 = off); a\n"
        "                                  revocation evicts it at once (LISTEN/NOTIFY)\n"
        "  auth/max_stale         3000     ms cached tokens stay trusted once revocations\n"
        "                                  cannot be heard (database or listener down)\n"
        "  cache/max_bytes        64M      memory for cached courses and quizzes (0 = off)\n"
        "  cache/ttl              60000    ms a cached course is served before PostgreSQL is\n"
        "                                  asked again (0 = off; while PostgreSQL is down, a\n"
        "                                  cached course is served past it)\n"
        "  quiz/max_attempts      3        a student's attempts per quiz scope, the course or\n"
        "                                  one lesson (0 = unlimited); answers come with the last\n"
        "  limits/read_rate       1800     requests a user may make per minute (reads and\n"
        "                                  quiz attempts; all of a user's tokens together)\n"
        "  limits/read_burst      120      requests a user may make at once\n"
        "  limits/upload_rate     20       uploads a user may make per minute (all frontends)\n"
        "  limits/upload_burst    10       uploads a user may make at once\n"
        "  limits/auth_fail_rate  30       failed authentications per minute per address\n"
        "  limits/auth_fail_burst 20       failed authentications at once per address\n"
        "  limits/signin_fail_rate 10      failed sign-ins per minute per name and per address\n"
        "  limits/signin_fail_burst 10     failed sign-ins at once per name and per address\n"
        "  session/idle           3600000  ms a signed-in session lives without a request\n"
        "  session/absolute       43200000 ms a session lives from sign-in\n"
        "  session/secure_cookie  auto     auto (Secure over TLS) or always\n"
        "  session/origins        \"\"       other origins that may use the session cookie\n"
        "  password/opslimit      2        Argon2id passes (the most a stored hash may ask)\n"
        "  password/memlimit      64M      Argon2id memory (the most a stored hash may ask)\n"
        "  password/max_concurrent 2       password checks at once; others wait, then 503\n"
        "  http/trusted_proxies   127.0.0.1,::1  peers whose X-Forwarded-For names the client\n"
        "  blobs/sweep_interval   60000    ms between deletions of stored PDFs nothing refers to\n"
        "  blobs/grace            600000   ms an unreferenced PDF is kept after it was stored\n"
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
    s->trusted_proxies = startup_conf_str(st, "http/trusted_proxies", "127.0.0.1,::1");
    s->threads = startup_conf_int(st, "http/threads", 64, 1, 4096);
    s->event_streams = startup_conf_int(st, "http/event_streams", 16, 1, 4096);
    s->max_upload = startup_conf_int(st, "http/max_upload", 50LL << 20, 1024, PROTO_PDF_MAX);
    s->body_timeout = startup_conf_int(st, "http/body_timeout", 60000, 100, 3600000);
    s->request_timeout = startup_conf_int(st, "http/request_timeout", 30000, 100, 600000);
    s->keep_alive = startup_conf_int(st, "http/keep_alive", 2000, 0, 600000);
    s->backlog = startup_conf_int(st, "http/backlog", 4096, 1, 65535);
    s->min_rate = startup_conf_int(st, "http/min_rate", 4096, 0, 1LL << 30);
    s->min_rate_grace = startup_conf_int(st, "http/min_rate_grace", 5000, 0, 3600000);
    s->broker_timeout = startup_conf_int(st, "broker/timeout", 5000, 10, 600000);
    char err[512];
    if (curve_client_keys(startup_conf_str(st, "curve/certificate", NULL),
                          startup_conf_str(st, "curve/broker_key", NULL), &s->broker_keys, err,
                          sizeof err) != 0)
        startup_fail(st, "%s", err);
    s->pool = startup_conf_int(st, "database/pool", 16, 1, 1000);
    s->pool_warm = startup_conf_int(st, "database/pool_warm", 0, 0, 1000);
    if (s->pool_warm > s->pool)
        startup_fail(st, "database/pool_warm (%lld) must be at most database/pool (%lld)",
                     s->pool_warm, s->pool);
    s->read_conninfo = startup_conf_str(st, "database/read_conninfo", "");
    s->read_pool = startup_conf_int(st, "database/read_pool", s->pool, 1, 1000);
    s->read_max_lag = startup_conf_int(st, "database/read_max_lag", 5000, 0, 3600000);
    s->read_check_interval = startup_conf_int(st, "database/read_check_interval", 1000, 50, 60000);
    s->cache_ttl = startup_conf_int(st, "auth/cache_ttl", 30000, 0, 3600000);
    s->max_stale = startup_conf_int(st, "auth/max_stale", 3000, 100, 60000);
    s->read_cache_bytes =
        startup_conf_int(st, "cache/max_bytes", (long long)API_CACHE_BYTES_DEFAULT, 0, 1LL << 40);
    s->read_cache_ttl = startup_conf_int(st, "cache/ttl", API_CACHE_TTL_DEFAULT, 0, 3600000);
    s->quiz_max_attempts = startup_conf_int(st, "quiz/max_attempts", 3, 0, 1000);
    s->search_cache_ttl = startup_conf_int(st, "cache/search_ttl", 2000, 0, 60000);
    s->read_rate = startup_conf_int(st, "limits/read_rate", LIMITS_READ_RATE, 1, 100000000);
    s->read_burst = startup_conf_int(st, "limits/read_burst", LIMITS_READ_BURST, 1, 100000000);
    s->upload_rate = startup_conf_int(st, "limits/upload_rate", LIMITS_UPLOAD_RATE, 1, 1000000);
    s->upload_burst = startup_conf_int(st, "limits/upload_burst", LIMITS_UPLOAD_BURST, 1, 1000000);
    s->auth_fail_rate =
        startup_conf_int(st, "limits/auth_fail_rate", LIMITS_AUTH_FAIL_RATE, 1, 100000000);
    s->auth_fail_burst =
        startup_conf_int(st, "limits/auth_fail_burst", LIMITS_AUTH_FAIL_BURST, 1, 100000000);
    s->sweep_interval = startup_conf_int(st, "blobs/sweep_interval", 60000, 100, 86400000);
    s->sweep_grace = startup_conf_int(st, "blobs/grace", 600000, 0, 86400000LL * 30);
    s->metrics_token = startup_conf_str(st, "metrics/token", "");
    s->signin_fail_rate =
        startup_conf_int(st, "limits/signin_fail_rate", LIMITS_SIGNIN_FAIL_RATE, 1, 100000000);
    s->signin_fail_burst =
        startup_conf_int(st, "limits/signin_fail_burst", LIMITS_SIGNIN_FAIL_BURST, 1, 100000000);
    s->session_idle = startup_conf_int(st, "session/idle", 3600000, 60000, 2592000000LL);
    s->session_absolute = startup_conf_int(st, "session/absolute", 43200000, 60000, 2592000000LL);
    s->secure_cookie = startup_conf_str(st, "session/secure_cookie", "auto");
    s->origins = startup_conf_str(st, "session/origins", "");
    s->password_opslimit =
        startup_conf_int(st, "password/opslimit", (long long)PASSWORD_OPSLIMIT_DEFAULT, 1, 10);
    s->password_memlimit = startup_conf_int(
        st, "password/memlimit", (long long)PASSWORD_MEMLIMIT_DEFAULT, 8LL << 20, 1LL << 30);
    s->password_concurrent = startup_conf_int(st, "password/max_concurrent", 2, 1, 64);
}

/* Milliseconds left until deadline (CLOCK_MONOTONIC ms), at least 0. */
static int
s_ms_left(long long deadline)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long left = deadline - ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    return left > 0 ? (int)left : 0;
}

/* Wait up to the deadline for events on fd; false on timeout or error. */
static bool
s_wait_fd(int fd, short events, long long deadline)
{
    struct pollfd p = {.fd = fd, .events = events};
    int rc;
    do
        rc = poll(&p, 1, s_ms_left(deadline));
    while (rc < 0 && errno == EINTR);
    return rc == 1 && (p.revents & (events | POLLHUP)) != 0;
}

/*
 * Whether the HTTP server answers GET /api/v1 (a constant document: no database, no broker,
 * no token) with 200 within timeout_ms, asked over a connection to its own address (a
 * wildcard address is asked on loopback). Only the status line is read.
 */
static bool
s_http_probe(const char *host, int port, int timeout_ms)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long deadline = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 + timeout_ms;
    if (strcmp(host, "0.0.0.0") == 0 || *host == '\0')
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, service, &hints, &ai) != 0)
        return false;
    bool ok = false;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto done;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
        (errno != EINPROGRESS || !s_wait_fd(fd, POLLOUT, deadline)))
        goto done;
    static const char request[] = "GET /api/v1 HTTP/1.0\r\nUser-Agent: profai-watchdog\r\n\r\n";
    if (send(fd, request, sizeof request - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof request - 1))
        goto done;
    char status[16];
    size_t len = 0;
    while (len < sizeof status - 1 && s_wait_fd(fd, POLLIN, deadline)) {
        ssize_t n = recv(fd, status + len, sizeof status - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    status[len] = '\0';
    /* "HTTP/1.1 200 " */
    ok = len >= 12 && strncmp(status, "HTTP/1.", 7) == 0 && strncmp(status + 8, " 200", 4) == 0;
done:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return ok;
}

/* Wait for SIGTERM or SIGINT and return it; under a systemd watchdog, ping it meanwhile as long
 * as the server answers. */
static int
s_serve_until_signal(const char *host, int port)
{
    for (;;) {
        long wait = notify_watchdog_cap(-1);
        int sig = startup_wait_signal_for(wait);
        if (sig > 0)
            return sig;
        int probe_ms = wait / 2 < FRONTEND_PROBE_MS ? (int)(wait / 2) : FRONTEND_PROBE_MS;
        if (s_http_probe(host, port, probe_ms))
            notify_watchdog();
        else
            log_warn("watchdog: GET /api/v1 on %s:%d got no 200 within %d ms; systemd restarts "
                     "the frontend if this goes on (WatchdogSec=)",
                     host, port, probe_ms);
    }
}

static void
s_print_route(void *arg, const char *method, const char *pattern)
{
    (void)arg;
    printf("%s %s\n", method, pattern);
}

int
main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--list-routes") == 0) {
        route_each(s_print_route, NULL);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    db_pool_t *db = NULL;
    db_replica_t *replica = NULL;
    auth_t *auth = NULL;
    change_listen_t *listener = NULL;
    api_t *api = NULL;
    limits_t *limits = NULL;
    accounts_t *accounts = NULL;
    blob_sweep_t *sweep = NULL;
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
    /* broker/endpoint may list a leader and its standbys, comma-separated. */
    bool endpoint_ok = strspn(s.broker, ", ") < strlen(s.broker);
    char list[1024];
    snprintf(list, sizeof list, "%s", s.broker);
    for (char *save = NULL, *e = strtok_r(list, ", ", &save); e != NULL && endpoint_ok;
         e = strtok_r(NULL, ", ", &save)) {
        zsock_t *probe = zsock_new(ZMQ_DEALER);
        endpoint_ok = probe != NULL && zsock_connect(probe, "%s", e) == 0;
        zsock_destroy(&probe);
    }
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
    int check = db_pool_check(db, err, sizeof err);
    if (check == -2) {
        log_error("%s", err);
        goto done;
    }
    if (check == -1)
        log_warn("%s (serving anyway: requests that need it answer 503 until it is back)", err);
    else if (s.pool_warm > 0) {
        int open = db_pool_warm(db, (int)s.pool_warm);
        if (open < s.pool_warm)
            log_warn("database pool: %d of %lld connections opened at start (the rest open when "
                     "first needed)",
                     open, s.pool_warm);
        else
            log_info("database pool: %d connections opened at start", open);
    }
    if (s.read_conninfo[0] != '\0') {
        db_replica_config_t replica_cfg = {.conninfo = s.read_conninfo,
                                           .pool_size = (int)s.read_pool,
                                           .acquire_timeout_ms = FRONTEND_DB_ACQUIRE_MS,
                                           .max_lag_ms = (int)s.read_max_lag,
                                           .check_interval_ms = (int)s.read_check_interval};
        if ((replica = db_replica_new(db, &replica_cfg)) == NULL) {
            log_error("cannot start the read replica's checker");
            goto done;
        }
        log_info("course, list, search and quiz reads may go to the read replica (lag at most "
                 "%lld ms, checked every %lld ms)",
                 s.read_max_lag, s.read_check_interval);
    }

    limits_config_t limits_cfg = {.read_rate = (long)s.read_rate,
                                  .read_burst = (long)s.read_burst,
                                  .upload_rate = (long)s.upload_rate,
                                  .upload_burst = (long)s.upload_burst,
                                  .auth_fail_rate = (long)s.auth_fail_rate,
                                  .auth_fail_burst = (long)s.auth_fail_burst,
                                  .signin_fail_rate = (long)s.signin_fail_rate,
                                  .signin_fail_burst = (long)s.signin_fail_burst,
                                  .db = db};
    if (strcmp(s.secure_cookie, "auto") != 0 && strcmp(s.secure_cookie, "always") != 0) {
        log_error("session/secure_cookie must be auto or always, not %s", s.secure_cookie);
        goto done;
    }
    accounts_config_t accounts_cfg = {.idle_ms = s.session_idle,
                                      .absolute_ms = s.session_absolute,
                                      .secure_always = strcmp(s.secure_cookie, "always") == 0,
                                      .origins = s.origins,
                                      .opslimit = (unsigned long long)s.password_opslimit,
                                      .memlimit = (size_t)s.password_memlimit,
                                      .max_concurrent = (int)s.password_concurrent};
    if ((accounts = accounts_new(&accounts_cfg)) == NULL) {
        log_error("cannot set up sign-in (out of memory for a password hash?)");
        goto done;
    }
    if ((sweep = blob_sweep_new(db, (int)s.sweep_interval, s.sweep_grace)) == NULL) {
        log_error("cannot start the blob sweep");
        goto done;
    }
    if ((limits = limits_new(&limits_cfg)) == NULL) {
        log_error("out of memory");
        goto done;
    }
    api_config_t api_cfg = {.limits = limits,
                            .broker_endpoint = s.broker,
                            .broker_timeout_ms = (int)s.broker_timeout,
                            .broker_keys = s.broker_keys,
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
                            .search_ttl_ms = (int)s.search_cache_ttl,
                            .metrics_token = s.metrics_token,
                            .event_streams = (int)s.event_streams,
                            .accounts = accounts};
    api = api_new(&api_cfg);
    if (api == NULL) {
        log_error("out of memory");
        goto done;
    }
    /* Change notifications for the caches that are on (without a cache there is nothing to
     * evict): revoked tokens, changed courses and classes (change_listen.h). */
    change_listen_owner_t owners[2];
    size_t owner_count = 0;
    if (s.cache_ttl > 0)
        owners[owner_count++] = auth_listen_owner(auth);
    if (api_cfg.cache_ttl_ms > 0)
        owners[owner_count++] = course_listen_owner(api, (int)s.max_stale);
    if (owner_count > 0 &&
        (listener = change_listen_new(db, (int)s.max_stale, owners, owner_count)) == NULL) {
        log_error("cannot start the change listener");
        goto done;
    }
    http_config_t http_cfg = {.listen = s.listen,
                              .threads = (int)s.threads,
                              .request_timeout_ms = (int)s.request_timeout,
                              .keep_alive_ms = (int)s.keep_alive,
                              .backlog = (int)s.backlog,
                              .min_rate = s.min_rate,
                              .min_rate_grace_ms = (int)s.min_rate_grace,
                              .handler = api_handle,
                              .handler_arg = api,
                              .thread_init = api_thread_new,
                              .thread_exit = api_thread_destroy,
                              .trusted_proxies = s.trusted_proxies};
    server = http_server_new(&http_cfg, err, sizeof err);
    if (server == NULL) {
        log_error("%s", err);
        goto done;
    }
    char host[64] = "0.0.0.0"; /* civetweb reads a bare port as every address */
    if (strchr(s.listen, ':') != NULL)
        snprintf(host, sizeof host, "%.*s", (int)strcspn(s.listen, ":"), s.listen);
    int port = http_server_port(server);
    log_info("listening on http://%s:%d (threads=%lld, max_upload=%lld, broker=%s)", host, port,
             s.threads, s.max_upload, s.broker);

    served = true;
    notify_ready("listening on http://%s:%d", host, port);
    int sig = s_serve_until_signal(host, port);
    notify_stopping();
    log_info("%s received: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    rc = 0;
done:
    api_stop(api);
    http_server_destroy(&server);
    change_listen_destroy(&listener); /* its callbacks use api and auth */
    api_destroy(&api);
    limits_destroy(&limits);
    accounts_destroy(&accounts);
    blob_sweep_destroy(&sweep);
    auth_destroy(&auth);
    db_replica_destroy(&replica);
    db_pool_destroy(&db);
    startup_destroy(&st);
    if (started)
        mg_exit_library();
    if (served)
        log_info("stopped");
    return rc;
}
