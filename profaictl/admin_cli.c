/*
 * admin_cli.c - see admin_cli.h. Each command is a row of s_commands: its arguments, the
 * admin service it calls, the shape of the answer, and how a person sees it. The endpoint
 * comes from -a, else $PROFAI_ADMIN, else admin/endpoint in the broker's configuration file,
 * else systemd's runtime directory (docs/profaictl.md). A tcp:// endpoint is spoken with CURVE:
 * --key and --broker-key, else $PROFAI_ADMIN_KEY and $PROFAI_ADMIN_BROKER_KEY.
 */
#include "admin_cli.h"

#include "admin_client.h"
#include "conf.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define PROG "profaictl"
#define CLI_CONFIG_DEFAULT "/etc/profai/broker.conf"
#define CLI_ENDPOINT_DEFAULT "ipc:///run/profai/admin.sock"
#define CLI_TIMEOUT_MS 5000
#define CLI_CELL_MAX 96
#define CLI_COLUMNS_MAX 12

typedef struct {
    const char *header;
    const char *key;
} cli_column_t;

typedef struct cli_command_t cli_command_t;
typedef void(cli_show_fn)(const cli_command_t *cmd, const admin_reply_t *reply);

struct cli_command_t {
    const char *name;
    const char *args;    /* synopsis */
    const char *summary; /* one line for --help */
    const char *service;
    int nargs;         /* positional arguments */
    const char *field; /* which request field the argument fills */
    admin_shape_t shape;
    cli_show_fn *show;
    const cli_column_t *columns; /* tables */
};

static void s_show_status(const cli_command_t *cmd, const admin_reply_t *reply);
static void s_show_table(const cli_command_t *cmd, const admin_reply_t *reply);
static void s_show_job(const cli_command_t *cmd, const admin_reply_t *reply);
static void s_show_done(const cli_command_t *cmd, const admin_reply_t *reply);

static const cli_column_t s_worker_columns[] = {
    {"WORKER", "name"},       {"SERVICE", "service"},    {"STATE", "state"}, {"FOR", "since_ms"},
    {"JOB", "job_id"},        {"HEARD", "heartbeat_ms"}, {"DONE", "done"},   {"FAILED", "failed"},
    {"DRAINING", "draining"}, {"HOST", "host"},          {"PID", "pid"},     {NULL, NULL}};
static const cli_column_t s_job_columns[] = {
    {"JOB", "job_id"},        {"OWNER", "owner"},     {"STATE", "state"},
    {"ATTEMPTS", "attempts"}, {"STAGE", "stage"},     {"WORKER", "worker"},
    {"ERROR", "error_code"},  {"CREATED", "created"}, {NULL, NULL}};
static const cli_column_t s_event_columns[] = {
    {"AT", "at"},       {"STATE", "state"},      {"ATTEMPT", "attempt"}, {"WORKER", "worker"},
    {"STAGE", "stage"}, {"ERROR", "error_code"}, {"DETAIL", "error"},    {NULL, NULL}};

#define S_DONE_SHAPE                                                                               \
    {                                                                                              \
        NULL, NULL, &admin_message_done                                                            \
    }
static const cli_command_t s_commands[] = {
    {"status",
     "[--watch]",
     "the broker: version, uptime, queues, jobs and workers by state, "
     "database round trip",
     ADMIN_STATUS,
     0,
     NULL,
     {&admin_message_count, &admin_message_count, &admin_message_status},
     s_show_status,
     NULL},
    {"workers",
     "[--watch]",
     "every connected worker: state, current job, heartbeat, counts",
     ADMIN_WORKERS,
     0,
     NULL,
     {&admin_message_worker, &admin_message_worker, &admin_message_done},
     s_show_table,
     s_worker_columns},
    {"jobs",
     "[--state S] [--owner O] [--limit N]",
     "jobs, newest first, from the database",
     ADMIN_JOBS,
     0,
     NULL,
     {&admin_message_job, &admin_message_job, &admin_message_done},
     s_show_table,
     s_job_columns},
    {"job",
     "ID",
     "one job and its whole history (every state change)",
     ADMIN_JOB,
     1,
     "job_id",
     {&admin_message_job, &admin_message_event, &admin_message_done},
     s_show_job,
     s_event_columns},
    {"retry", "ID", "put a failed job back in the queue for a new attempt", ADMIN_RETRY, 1,
     "job_id", S_DONE_SHAPE, s_show_done, NULL},
    {"cancel", "ID", "cancel a queued or running job (any owner's)", ADMIN_CANCEL, 1, "job_id",
     S_DONE_SHAPE, s_show_done, NULL},
    {"drain", "WORKER", "let a worker finish its job and give it no other", ADMIN_DRAIN, 1,
     "worker", S_DONE_SHAPE, s_show_done, NULL},
    {"pause", "SERVICE", "stop dispatching a service's jobs (they keep queuing)", ADMIN_PAUSE, 1,
     "service", S_DONE_SHAPE, s_show_done, NULL},
    {"resume", "SERVICE", "dispatch a paused service's jobs again", ADMIN_RESUME, 1, "service",
     S_DONE_SHAPE, s_show_done, NULL},
    {"log-level", "LEVEL", "the broker's log level from now on: error, warn, info, debug",
     ADMIN_LOG_LEVEL, 1, "level", S_DONE_SHAPE, s_show_done, NULL},
};
#define CLI_NCOMMANDS (sizeof s_commands / sizeof s_commands[0])

static bool s_json; /* --json: the show functions write JSON */

/* ---------------------------------------------------------------- text */

/* ms as a short duration: 850ms, 12.3s, 4m05s, 2h10m. */
static void
s_duration(uint64_t ms, char *buf, size_t size)
{
    if (ms < 1000)
        snprintf(buf, size, "%" PRIu64 "ms", ms);
    else if (ms < 60000)
        snprintf(buf, size, "%.1fs", (double)ms / 1000.0);
    else if (ms < 3600000)
        snprintf(buf, size, "%" PRIu64 "m%02" PRIu64 "s", ms / 60000, ms / 1000 % 60);
    else
        snprintf(buf, size, "%" PRIu64 "h%02" PRIu64 "m", ms / 3600000, ms / 60000 % 60);
}

/* A cell: the field as text, durations shortened, "-" for nothing. */
static void
s_cell(const admin_msg_t *msg, const char *key, char *buf, size_t size)
{
    if (!admin_msg_text(msg, key, buf, size) || buf[0] == '\0') {
        snprintf(buf, size, "-");
        return;
    }
    size_t len = strlen(key);
    if (len > 3 && strcmp(key + len - 3, "_ms") == 0)
        s_duration(strtoull(buf, NULL, 10), buf, size);
}

static void
s_print_rows(const cli_column_t *columns, const admin_msg_t *rows, size_t count)
{
    size_t ncols = 0, width[CLI_COLUMNS_MAX] = {0};
    while (columns[ncols].header != NULL && ncols < CLI_COLUMNS_MAX)
        ncols++;
    char cell[CLI_CELL_MAX];
    for (size_t c = 0; c < ncols; c++) {
        width[c] = strlen(columns[c].header);
        for (size_t r = 0; r < count; r++) {
            s_cell(&rows[r], columns[c].key, cell, sizeof cell);
            if (strlen(cell) > width[c])
                width[c] = strlen(cell);
        }
    }
    /* The last column is not padded: no trailing blanks. */
    for (size_t c = 0; c < ncols; c++)
        printf("%-*s%s", c + 1 < ncols ? (int)width[c] : 0, columns[c].header,
               c + 1 < ncols ? "  " : "\n");
    for (size_t r = 0; r < count; r++)
        for (size_t c = 0; c < ncols; c++) {
            s_cell(&rows[r], columns[c].key, cell, sizeof cell);
            printf("%-*s%s", c + 1 < ncols ? (int)width[c] : 0, cell, c + 1 < ncols ? "  " : "\n");
        }
}

static void
s_json_print(json_t *j)
{
    if (json_failed(j)) {
        fprintf(stderr, PROG ": out of memory writing JSON\n");
    } else {
        fwrite(j->data, 1, j->len, stdout);
        putchar('\n');
    }
    json_free(j);
}

static void
s_json_rows(json_t *j, const admin_msg_t *rows, size_t count)
{
    json_array_begin(j);
    for (size_t i = 0; i < count; i++)
        admin_msg_json(j, &rows[i]);
    json_array_end(j);
}

/* ---------------------------------------------------------------- show */

static const char *
s_str(const admin_msg_t *msg, const char *key, char *buf, size_t size)
{
    if (!admin_msg_text(msg, key, buf, size))
        buf[0] = '\0';
    return buf;
}

static uint64_t
s_num(const admin_msg_t *msg, const char *key)
{
    char buf[32];
    return strtoull(s_str(msg, key, buf, sizeof buf), NULL, 10);
}

static void
s_show_status(const cli_command_t *cmd, const admin_reply_t *reply)
{
    (void)cmd;
    const admin_status_t *st = reply->final.m;
    static const char *const scopes[] = {"service", "owner", "jobs", "workers", "paused"};
    char scope[32], name[96];
    if (s_json) {
        json_t j;
        json_init(&j);
        json_object_begin(&j);
        json_key(&j, "version");
        json_cstring(&j, st->version);
        json_key(&j, "role");
        json_cstring(&j, st->role);
        json_key(&j, "uptime_ms");
        json_int(&j, (long long)st->uptime_ms);
        json_key(&j, "db");
        json_object_begin(&j);
        json_key(&j, "up");
        json_bool(&j, st->db_up);
        json_key(&j, "rtt_us");
        if (st->db_up)
            json_int(&j, (long long)st->db_rtt_us);
        else
            json_null(&j);
        json_key(&j, "pending_writes");
        json_int(&j, (long long)st->pending_writes);
        json_object_end(&j);
        /* queues by service and owner: lists; jobs and workers: maps state -> count */
        for (size_t s = 0; s < sizeof scopes / sizeof scopes[0]; s++) {
            bool list = s != 2 && s != 3;
            json_key(&j, s == 0 ? "services" : s == 1 ? "owners" : scopes[s]);
            if (list)
                json_array_begin(&j);
            else
                json_object_begin(&j);
            for (size_t i = 0; i < reply->count; i++) {
                const admin_msg_t *row = &reply->rows[i];
                if (strcmp(s_str(row, "scope", scope, sizeof scope), scopes[s]) != 0)
                    continue;
                s_str(row, "name", name, sizeof name);
                if (s == 4) {
                    json_cstring(&j, name);
                } else if (list) {
                    json_object_begin(&j);
                    json_key(&j, "name");
                    json_cstring(&j, name);
                    json_key(&j, "queued");
                    json_int(&j, (long long)s_num(row, "count"));
                    json_key(&j, "oldest_ms");
                    json_int(&j, (long long)s_num(row, "oldest_ms"));
                    json_object_end(&j);
                } else {
                    json_key(&j, name);
                    json_int(&j, (long long)s_num(row, "count"));
                }
            }
            if (list)
                json_array_end(&j);
            else
                json_object_end(&j);
        }
        json_object_end(&j);
        s_json_print(&j);
        return;
    }
    char up[32], rtt[32] = "";
    s_duration(st->uptime_ms, up, sizeof up);
    if (st->db_up)
        snprintf(rtt, sizeof rtt, "%.2f ms", (double)st->db_rtt_us / 1000.0);
    printf("broker %s, role %s, up %s\n", st->version, st->role, up);
    printf("database %s%s%s%s, %" PRIu64 " writes pending\n", st->db_up ? "up" : "DOWN",
           st->db_up ? " (round trip " : "", rtt, st->db_up ? ")" : "", st->pending_writes);
    for (size_t i = 0; i < reply->count; i++)
        if (strcmp(s_str(&reply->rows[i], "scope", scope, sizeof scope), "paused") == 0)
            printf("PAUSED: %s (jobs queue, none is dispatched)\n",
                   s_str(&reply->rows[i], "name", name, sizeof name));
    for (size_t s = 0; s < 2; s++) {
        printf("\n%-38s  %6s  %s\n", s == 0 ? "SERVICE" : "OWNER", "QUEUED", "OLDEST");
        for (size_t i = 0; i < reply->count; i++) {
            const admin_msg_t *row = &reply->rows[i];
            if (strcmp(s_str(row, "scope", scope, sizeof scope), scopes[s]) != 0)
                continue;
            char age[32];
            s_duration(s_num(row, "oldest_ms"), age, sizeof age);
            printf("%-38s  %6" PRIu64 "  %s\n", s_str(row, "name", name, sizeof name),
                   s_num(row, "count"), s_num(row, "count") > 0 ? age : "-");
        }
    }
    for (size_t s = 2; s < 4; s++) {
        printf("\n%-8s", s == 2 ? "jobs:" : "workers:");
        for (size_t i = 0; i < reply->count; i++) {
            const admin_msg_t *row = &reply->rows[i];
            if (strcmp(s_str(row, "scope", scope, sizeof scope), scopes[s]) == 0)
                printf(" %s %" PRIu64, s_str(row, "name", name, sizeof name), s_num(row, "count"));
        }
    }
    printf("\n");
}

static void
s_show_table(const cli_command_t *cmd, const admin_reply_t *reply)
{
    if (s_json) {
        json_t j;
        json_init(&j);
        s_json_rows(&j, reply->rows, reply->count);
        s_json_print(&j);
        return;
    }
    s_print_rows(cmd->columns, reply->rows, reply->count);
}

static void
s_show_job(const cli_command_t *cmd, const admin_reply_t *reply)
{
    if (reply->count < 1)
        return;
    if (s_json) {
        json_t j;
        json_init(&j);
        json_object_begin(&j);
        json_key(&j, "job");
        admin_msg_json(&j, &reply->rows[0]);
        json_key(&j, "events");
        s_json_rows(&j, reply->rows + 1, reply->count - 1);
        json_object_end(&j);
        s_json_print(&j);
        return;
    }
    s_print_rows(s_job_columns, reply->rows, 1);
    printf("\n");
    s_print_rows(cmd->columns, reply->rows + 1, reply->count - 1);
}

static void
s_show_done(const cli_command_t *cmd, const admin_reply_t *reply)
{
    const admin_done_t *done = reply->final.m;
    if (s_json) {
        json_t j;
        json_init(&j);
        admin_msg_json(&j, &reply->final);
        s_json_print(&j);
        return;
    }
    printf("%s: done%s%s\n", cmd->name, done->state[0] ? ", now " : "", done->state);
}

/* ---------------------------------------------------------------- run */

bool
admin_cli_is_command(const char *name)
{
    for (size_t i = 0; i < CLI_NCOMMANDS; i++)
        if (strcmp(s_commands[i].name, name) == 0)
            return true;
    return false;
}

void
admin_cli_help(FILE *out)
{
    for (size_t i = 0; i < CLI_NCOMMANDS; i++) {
        char synopsis[96];
        snprintf(synopsis, sizeof synopsis, "%s%s%s", s_commands[i].name,
                 s_commands[i].args[0] ? " " : "", s_commands[i].args);
        fprintf(out, "  %s\n      %s\n", synopsis, s_commands[i].summary);
    }
}

/* -a, else $PROFAI_ADMIN, else admin/endpoint of the broker's configuration, else the
 * default of a broker under systemd. Returns a string the caller frees. */
static char *
s_endpoint(const admin_cli_options_t *opts, char *err, size_t err_size)
{
    if (opts->admin != NULL)
        return strdup(opts->admin);
    const char *env = getenv("PROFAI_ADMIN");
    if (env != NULL && env[0] != '\0')
        return strdup(env);
    const char *path = opts->config_path != NULL ? opts->config_path : CLI_CONFIG_DEFAULT;
    zconfig_t *conf = conf_load(path, err, err_size);
    if (conf == NULL && opts->config_path != NULL)
        return NULL; /* a file named with -c must be readable */
    const char *value = conf != NULL ? conf_str(conf, "admin/endpoint", NULL) : NULL;
    char *endpoint = strdup(value != NULL && value[0] != '\0' ? value : CLI_ENDPOINT_DEFAULT);
    zconfig_destroy(&conf);
    return endpoint;
}

static int
s_usage(const char *what)
{
    fprintf(stderr, PROG ": %s\ntry '" PROG " --help'\n", what);
    return 2;
}

/* Fill the request field named field with value. */
static void
s_request_set(admin_request_t *req, const char *field, const char *value)
{
    char *dest = strcmp(field, "job_id") == 0    ? req->job_id
                 : strcmp(field, "worker") == 0  ? req->worker
                 : strcmp(field, "service") == 0 ? req->service
                                                 : req->level;
    size_t size = strcmp(field, "job_id") == 0    ? sizeof req->job_id
                  : strcmp(field, "worker") == 0  ? sizeof req->worker
                  : strcmp(field, "service") == 0 ? sizeof req->service
                                                  : sizeof req->level;
    snprintf(dest, size, "%s", value);
}

/* The CURVE keys for endpoint into keys: tcp:// needs both (-k/-K, else the environment);
 * ipc:// takes none (-k/-K given there is a usage error). 0, 1 (failed: said on stderr) or 2
 * (usage). */
static int
s_keys(const admin_cli_options_t *opts, const char *endpoint, curve_keys_t *keys)
{
    memset(keys, 0, sizeof *keys);
    bool tcp = strncmp(endpoint, "tcp://", 6) == 0;
    if (!tcp) {
        if (opts->key != NULL || opts->broker_key != NULL)
            return s_usage("--key and --broker-key are for a tcp:// admin socket (an ipc:// one "
                           "is guarded by its file's permissions)");
        return 0;
    }
    const char *key = opts->key != NULL ? opts->key : getenv("PROFAI_ADMIN_KEY");
    const char *broker_key =
        opts->broker_key != NULL ? opts->broker_key : getenv("PROFAI_ADMIN_BROKER_KEY");
    if (key == NULL || key[0] == '\0' || broker_key == NULL || broker_key[0] == '\0')
        return s_usage("a tcp:// admin socket needs CURVE: --key FILE (your key pair, "
                       "profaictl keygen) and --broker-key FILE (the broker's public "
                       "certificate), or PROFAI_ADMIN_KEY and PROFAI_ADMIN_BROKER_KEY");
    char err[512];
    if (curve_client_keys(key, broker_key, keys, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    return 0;
}

static int
s_run_once(const cli_command_t *cmd, const char *endpoint, const curve_keys_t *keys,
           const admin_request_t *req)
{
    admin_reply_t reply;
    char err[512];
    if (admin_call(endpoint, keys, cmd->service, req, &cmd->shape, CLI_TIMEOUT_MS, &reply, err,
                   sizeof err) != 0) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    /* Every FINAL starts rid, ok (ADMIN_DONE and ADMIN_STATUS alike). */
    const admin_done_t *done = reply.final.desc == &admin_message_done ? reply.final.m : NULL;
    const admin_status_t *status = reply.final.desc == &admin_message_status ? reply.final.m : NULL;
    bool ok = done != NULL ? done->ok : status->ok;
    if (!ok) {
        const char *code = done != NULL ? done->error_code : status->error_code;
        const char *detail = done != NULL ? done->error : status->error;
        const char *state = done != NULL ? done->state : "";
        if (s_json) {
            json_t j;
            json_init(&j);
            admin_msg_json(&j, &reply.final);
            s_json_print(&j);
        }
        fprintf(stderr, PROG ": %s refused: %s%s%s%s%s\n", cmd->name, code, detail[0] ? ": " : "",
                detail, state[0] ? "; state " : "", state);
        admin_reply_free(&reply);
        return 1;
    }
    cmd->show(cmd, &reply);
    admin_reply_free(&reply);
    return 0;
}

int
admin_cli_run(const admin_cli_options_t *opts, int nargs, char **args)
{
    const cli_command_t *cmd = NULL;
    for (size_t i = 0; i < CLI_NCOMMANDS; i++)
        if (strcmp(s_commands[i].name, args[0]) == 0)
            cmd = &s_commands[i];
    if (cmd == NULL)
        return s_usage("unknown command");
    char what[160];
    if (nargs - 1 != cmd->nargs) {
        snprintf(what, sizeof what, "usage: " PROG " %s %s", cmd->name, cmd->args);
        return s_usage(what);
    }
    if (opts->watch && cmd->show != s_show_status && cmd->columns != s_worker_columns)
        return s_usage("--watch is for status and workers");
    if ((opts->state != NULL || opts->owner != NULL || opts->limit != 0) &&
        strcmp(cmd->name, "jobs") != 0)
        return s_usage("--state, --owner and --limit are for jobs");
    if (opts->limit < 0 || opts->limit > ADMIN_LIMIT_MAX) {
        snprintf(what, sizeof what, "--limit is 1..%d", ADMIN_LIMIT_MAX);
        return s_usage(what);
    }
    admin_request_t req = {.rid = 1, .limit = (uint32_t)opts->limit};
    snprintf(req.state, sizeof req.state, "%s", opts->state != NULL ? opts->state : "");
    snprintf(req.owner, sizeof req.owner, "%s", opts->owner != NULL ? opts->owner : "");
    if (cmd->nargs == 1)
        s_request_set(&req, cmd->field, args[1]);
    char err[512];
    char *endpoint = s_endpoint(opts, err, sizeof err);
    if (endpoint == NULL) {
        fprintf(stderr, PROG ": %s\n", err);
        return 2;
    }
    curve_keys_t keys;
    int rc = s_keys(opts, endpoint, &keys);
    if (rc != 0) {
        free(endpoint);
        return rc;
    }
    s_json = opts->json;
    while (true) {
        if (opts->watch && !opts->json)
            printf("\033[H\033[2J%s   (every 1 s; Ctrl-C stops)\n\n", endpoint);
        rc = s_run_once(cmd, endpoint, &keys, &req);
        fflush(stdout);
        if (!opts->watch || zsys_interrupted)
            break;
        req.rid++;
        zclock_sleep(1000);
        if (zsys_interrupted)
            break;
    }
    free(endpoint);
    return rc;
}
