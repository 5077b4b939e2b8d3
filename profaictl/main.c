/*
 * main.c - profaictl: ProfAI's administration tool (docs/profaictl.md).
 *
 * Subcommands are rows of s_commands: "GROUP VERB ARGS...", managing users and API tokens
 * directly in PostgreSQL. The commands of the broker's admin socket (status, workers, jobs,
 * ...) are rows of admin_cli.c's table.
 *
 * Exit status: 0 done, 1 failed (database unreachable, unknown user, ...), 2 usage error.
 */
#include "admin_cli.h"
#include "conf.h"
#include "curve.h"
#include "password.h"
#include "secret.h"

#include <ctype.h>
#include <getopt.h>
#include <glib.h>
#include <libpq-fe.h>
#include <profai/compiler.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define PROG "profaictl"
/* The oldest schema this tool works with (docs/database.md, migrations). */
#define CTL_SCHEMA_VERSION 9
/* Token format, shared with the frontend (frontend/auth.h, docs/api.md section 2). */
#define CTL_TOKEN_PREFIX "pai_"
#define CTL_NAME_MAX 64

/* What a subcommand works with; connections are opened on first use. */
typedef struct {
    const char *conninfo;   /* libpq conninfo ("" = PG* environment) */
    const char *role;       /* --role, or NULL */
    const char *expires;    /* --expires DURATION, or NULL */
    const char *expires_at; /* --expires-at TIME, or NULL */
    const char *id;         /* --id (token revoke), or NULL */
    const char *label;      /* --label (token create), or NULL */
    PGconn *db;
} ctl_t;

typedef struct {
    const char *group;   /* "token", "user" */
    const char *verb;    /* "create", "list", ... */
    const char *args;    /* argument synopsis for the help */
    const char *summary; /* one line for the help */
    int nargs;           /* positional arguments after GROUP VERB; -1: 0 or 1 */
    int (*run)(ctl_t *ctl, char **args);
} ctl_command_t;

static int s_token_create(ctl_t *ctl, char **args);
static int s_token_list(ctl_t *ctl, char **args);
static int s_token_revoke(ctl_t *ctl, char **args);
static int s_user_list(ctl_t *ctl, char **args);
static int s_user_create(ctl_t *ctl, char **args);
static int s_user_passwd(ctl_t *ctl, char **args);

static const ctl_command_t s_commands[] = {
    {"token", "create",
     "--role teacher|student|admin [--label TEXT] [--expires DURATION|--expires-at TIME] NAME",
     "new API token for user NAME (created with ROLE if missing), valid for 90 days unless\n"
     "      --expires says otherwise (30m, 12h, 7d, never); prints only the token",
     1, s_token_create},
    {"token", "list", "",
     "every token's id, user, role, creation, expiry and revocation (never the token)", 0,
     s_token_list},
    {"token", "revoke", "--id ID | NAME",
     "revoke the one token ID (from token list), or EVERY token of user NAME", -1, s_token_revoke},
    {"user", "list", "", "every user with role, creation and active token count", 0, s_user_list},
    {"user", "create", "--role teacher|student|admin NAME",
     "new user NAME who signs in with a password, read from standard input (asked twice on a\n"
     "      terminal)",
     1, s_user_create},
    {"user", "passwd", "NAME",
     "new password for user NAME (standard input, as user create); ends its sessions", 1,
     s_user_passwd},
};
#define CTL_NCOMMANDS (sizeof s_commands / sizeof s_commands[0])

/* ---------------------------------------------------------------- output */

static void s_fail(const char *fmt, ...) PROFAI_PRINTF(1, 2);

static void
s_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, PROG ": ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static void
s_help(void)
{
    printf("usage: " PROG " [OPTIONS] COMMAND [ARGS]\n"
           "\n"
           "Administer ProfAI: users and their API tokens, and the running broker through its\n"
           "admin socket (docs/profaictl.md, docs/admin.md).\n"
           "\n"
           "key commands:\n"
           "  keygen NAME [--dir DIR]\n"
           "      new CURVE key pair for a broker, worker host, frontend or operator: DIR/NAME\n"
           "      (public, copy it to the broker's key directory) and DIR/NAME_secret (stays on\n"
           "      the host)\n"
           "\n"
           "broker commands:\n");
    admin_cli_help(stdout);
    printf("\n"
           "user and token commands (database):\n");
    for (size_t i = 0; i < CTL_NCOMMANDS; i++) {
        char synopsis[128];
        snprintf(synopsis, sizeof synopsis, "%s %s%s%s", s_commands[i].group, s_commands[i].verb,
                 s_commands[i].args[0] ? " " : "", s_commands[i].args);
        printf("  %s\n      %s\n", synopsis, s_commands[i].summary);
    }
    printf("\n"
           "options:\n"
           "  -d, --database CONNINFO   libpq conninfo of ProfAI's database\n"
           "                            (default: $PROFAI_DATABASE, else \"\" = PG* environment)\n"
           "  -c, --config FILE         read database/conninfo from a ZPL file (e.g. the\n"
           "                            broker's or frontend's configuration)\n"
           "  -r, --role ROLE           role for token create and user create: teacher, student\n"
           "                            or admin\n"
           "  -e, --expires DURATION    token create: lifetime, N followed by s, m, h or d\n"
           "                            (default 90d), or never\n"
           "      --expires-at TIME     token create: expiry as an ISO 8601 time\n"
           "                            (2026-09-01T00:00:00Z)\n"
           "      --id ID               token revoke: the one token to revoke\n"
           "      --label TEXT          token create: what the token is for (1-64 characters)\n"
           "  -a, --admin ENDPOINT      the broker's admin socket (default: $PROFAI_ADMIN, else\n"
           "                            admin/endpoint in -c FILE or /etc/profai/broker.conf,\n"
           "                            else ipc:///run/profai/admin.sock)\n"
           "  -k, --key FILE            a tcp:// admin socket: your key pair (NAME from\n"
           "                            profaictl keygen NAME, or NAME_secret), listed in the\n"
           "                            broker's curve/admins_dir (default: $PROFAI_ADMIN_KEY)\n"
           "  -K, --broker-key FILE     a tcp:// admin socket: the broker's public certificate\n"
           "                            (default: $PROFAI_ADMIN_BROKER_KEY)\n"
           "      --json                broker commands: JSON on stdout instead of tables\n"
           "      --watch               status, workers: redraw every second until Ctrl-C\n"
           "      --state S, --owner O, --limit N\n"
           "                            jobs: only state S (queued, running, succeeded, failed,\n"
           "                            cancelled), only owner O (uuid), at most N (default 50)\n"
           "      --dir DIR             directory for keygen (default: the current one)\n"
           "  -h, --help                show this help\n"
           "      --version             show the version\n"
           "\n"
           "The database is the one profai-broker created (run it once first). Precedence:\n"
           "-d, then -c, then $PROFAI_DATABASE, then libpq's PG* environment variables.\n"
           "\n"
           "example:\n"
           "  T=$(" PROG " token create --role teacher alice)\n");
}

static int
s_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, PROG ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\ntry '" PROG " --help'\n");
    return 2;
}

/* ---------------------------------------------------------------- database */

static int
s_line_len(const char *msg)
{
    return msg ? (int)strcspn(msg, "\r\n") : 0;
}

/* The database connection, opened and checked on first use; NULL after saying why. */
static PGconn *
s_db(ctl_t *ctl)
{
    if (ctl->db != NULL)
        return ctl->db;
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *values[] = {"10", PROG, ctl->conninfo, NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
        s_fail("cannot connect to the database: %.*s", s_line_len(msg), msg);
        PQfinish(conn);
        return NULL;
    }
    PGresult *res = PQexec(conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    long version = ok ? strtol(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (!ok && !(state != NULL && strcmp(state, "42P01") == 0)) { /* 42P01: no such table */
        const char *msg = PQresultErrorMessage(res);
        s_fail("cannot read the schema version: %.*s", s_line_len(msg), msg);
    } else if (version < CTL_SCHEMA_VERSION) {
        s_fail("the database has no ProfAI schema (or an older one, version %ld): run "
               "profai-broker once to create the schema",
               version);
        ok = false;
    }
    PQclear(res);
    if (!ok) {
        PQfinish(conn);
        return NULL;
    }
    ctl->db = conn;
    return conn;
}

/* Run a parameterised statement; NULL (after saying why) unless its status is `want`. */
static PGresult *
s_exec(PGconn *db, const char *sql, int n, const char *const *values, const int *lengths,
       const int *formats, ExecStatusType want)
{
    PGresult *res = PQexecParams(db, sql, n, NULL, values, lengths, formats, 0);
    if (PQresultStatus(res) != want) {
        const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(db);
        s_fail("database error: %.*s", s_line_len(msg), msg);
        PQclear(res);
        return NULL;
    }
    return res;
}

static bool
s_command_ok(PGconn *db, const char *sql)
{
    PGresult *res = s_exec(db, sql, 0, NULL, NULL, NULL, PGRES_COMMAND_OK);
    PQclear(res);
    return res != NULL;
}

/* ---------------------------------------------------------------- tokens */

/* User names appear in logs and in commands: keep them to a safe alphabet. */
static bool
s_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > CTL_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-' || c == '@';
        if (!ok)
            return false;
    }
    return true;
}

/* A token's label: 1-64 bytes of UTF-8 without control characters (the column's limit). */
static bool
s_label_ok(const char *label)
{
    size_t len = strlen(label);
    if (len == 0 || len > 64 || !g_utf8_validate(label, (gssize)len, NULL))
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)label[i] < 0x20 || label[i] == 0x7f)
            return false;
    return true;
}

static bool
s_role_ok(const char *role)
{
    return strcmp(role, "teacher") == 0 || strcmp(role, "student") == 0 ||
           strcmp(role, "admin") == 0;
}

/* --role and the user NAME of token create and user create (what: the command, for the
 * message): 0 when both are good, else the usage error's exit status, said on stderr. */
static int
s_check_role_and_name(const ctl_t *ctl, const char *what, const char *name)
{
    if (ctl->role == NULL)
        return s_usage("%s needs --role teacher|student|admin", what);
    if (!s_role_ok(ctl->role))
        return s_usage("--role %s: use teacher, student or admin", ctl->role);
    if (!s_name_ok(name))
        return s_usage("user name '%s': 1 to 64 characters from A-Z a-z 0-9 . _ - @", name);
    return 0;
}

/* --expires: "never" (interval "") or N followed by s, m, h or d, as a PostgreSQL interval. */
static int
s_duration_parse(const char *text, char *interval, size_t size)
{
    if (strcmp(text, "never") == 0) {
        snprintf(interval, size, "%s", "");
        return 0;
    }
    char *end = NULL;
    long long n = strtoll(text, &end, 10);
    if (end == text || n <= 0 || n > 100000 || !isdigit((unsigned char)text[0]) || end[0] == '\0' ||
        end[1] != '\0')
        return -1;
    const char *unit = end[0] == 's'   ? "seconds"
                       : end[0] == 'm' ? "minutes"
                       : end[0] == 'h' ? "hours"
                       : end[0] == 'd' ? "days"
                                       : NULL;
    if (unit == NULL)
        return -1;
    snprintf(interval, size, "%lld %s", n, unit);
    return 0;
}

static int
s_token_create(ctl_t *ctl, char **args)
{
    const char *name = args[0];
    int bad = s_check_role_and_name(ctl, "token create", name);
    if (bad != 0)
        return bad;
    if (ctl->expires != NULL && ctl->expires_at != NULL)
        return s_usage("give --expires or --expires-at, not both%s", "");
    if (ctl->label != NULL && !s_label_ok(ctl->label))
        return s_usage("--label '%s': 1 to 64 characters without control characters", ctl->label);
    char interval[48] = "90 days"; /* the default lifetime, docs/profaictl.md */
    if (ctl->expires != NULL && s_duration_parse(ctl->expires, interval, sizeof interval) != 0)
        return s_usage("--expires %s: use N followed by s, m, h or d (e.g. 90d), or never",
                       ctl->expires);
    char token[SECRET_SIZE];
    if (secret_new(CTL_TOKEN_PREFIX, token) != 0) {
        s_fail("cannot get random bytes for the token");
        return 1;
    }
    uint8_t hash[32];
    secret_sha256(token, strlen(token), hash);

    PGconn *db = s_db(ctl);
    if (db == NULL || !s_command_ok(db, "BEGIN"))
        return 1;
    int rc = 1;
    PGresult *res = NULL;
    const char *user_values[2] = {name, ctl->role};
    res = s_exec(db,
                 "INSERT INTO users (name, role) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING "
                 "RETURNING id",
                 2, user_values, NULL, NULL, PGRES_TUPLES_OK);
    if (res == NULL)
        goto done;
    bool created = PQntuples(res) == 1;
    PQclear(res);
    res = s_exec(db, "SELECT id::text, role FROM users WHERE name = $1", 1, user_values, NULL, NULL,
                 PGRES_TUPLES_OK);
    if (res == NULL)
        goto done;
    if (PQntuples(res) != 1) {
        s_fail("user %s vanished while creating its token; try again", name);
        goto done;
    }
    if (strcmp(PQgetvalue(res, 0, 1), ctl->role) != 0) {
        s_fail("user %s exists with role %s, not %s", name, PQgetvalue(res, 0, 1), ctl->role);
        goto done;
    }
    char user_id[40];
    snprintf(user_id, sizeof user_id, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    /* $3: an absolute time, or $4: a lifetime from now ("" = never). */
    const char *token_values[5] = {(const char *)hash, user_id, ctl->expires_at,
                                   ctl->expires_at ? NULL : interval, ctl->label};
    const int lengths[5] = {(int)sizeof hash, 0, 0, 0, 0};
    const int formats[5] = {1, 0, 0, 0, 0};
    res = s_exec(db,
                 "INSERT INTO tokens (hash, user_id, expires_at, label) VALUES ($1, $2::uuid, "
                 "coalesce($3::timestamptz, now() + nullif($4, '')::interval), $5) "
                 "RETURNING expires_at IS NULL OR expires_at > now()",
                 5, token_values, lengths, formats, PGRES_TUPLES_OK);
    if (res == NULL)
        goto done;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        s_fail("--expires-at %s is not in the future", ctl->expires_at);
        goto done;
    }
    if (!s_command_ok(db, "COMMIT"))
        goto done;
    if (created)
        fprintf(stderr, PROG ": created user %s (%s)\n", name, ctl->role);
    printf("%s\n", token);
    rc = 0;
done:
    PQclear(res);
    if (rc != 0)
        PQclear(PQexec(db, "ROLLBACK"));
    return rc;
}

/* Print a result as aligned columns under `headers`. */
static void
s_print_table(PGresult *res, const char *const *headers, int ncols)
{
    int width[8] = {0};
    for (int c = 0; c < ncols && c < 8; c++) {
        width[c] = (int)strlen(headers[c]);
        for (int r = 0; r < PQntuples(res); r++)
            if (PQgetlength(res, r, c) > width[c])
                width[c] = PQgetlength(res, r, c);
    }
    for (int c = 0; c < ncols; c++)
        printf("%-*s%s", c + 1 < ncols ? width[c] : 0, headers[c], c + 1 < ncols ? "  " : "\n");
    for (int r = 0; r < PQntuples(res); r++)
        for (int c = 0; c < ncols; c++)
            printf("%-*s%s", c + 1 < ncols ? width[c] : 0, PQgetvalue(res, r, c),
                   c + 1 < ncols ? "  " : "\n");
}

#define CTL_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS\"Z\"')"

static int
s_token_list(ctl_t *ctl, char **args)
{
    PGconn *db = s_db(ctl);
    if (db == NULL)
        return 1;
    PGresult *res = s_exec(
        db,
        "SELECT t.id::text, u.name, u.role, " CTL_TS(
            "t.created_at") ", "
                            "coalesce(" CTL_TS(
                                "t.expires_at") ", 'never'), "
                                                "coalesce(" CTL_TS(
                                                    "t.revoked_at") ", '-'), coalesce(t.label, "
                                                                    "'-') "
                                                                    "FROM tokens t JOIN users u ON "
                                                                    "u.id = t.user_id "
                                                                    "ORDER BY u.name, t.created_at",
        0, NULL, NULL, NULL, PGRES_TUPLES_OK);
    if (res == NULL)
        return 1;
    static const char *const headers[] = {"ID",      "NAME",    "ROLE", "CREATED",
                                          "EXPIRES", "REVOKED", "LABEL"};
    s_print_table(res, headers, 7);
    PQclear(res);
    return 0;
}

/* token revoke --id ID: one token. */
static int
s_token_revoke_id(ctl_t *ctl)
{
    if (!g_uuid_string_is_valid(ctl->id))
        return s_usage("--id %s is not a token id (see token list)", ctl->id);
    PGconn *db = s_db(ctl);
    if (db == NULL)
        return 1;
    const char *values[1] = {ctl->id};
    PGresult *res =
        s_exec(db,
               "WITH r AS (UPDATE tokens SET revoked_at = coalesce(revoked_at, now()) "
               "WHERE id = $1::uuid RETURNING user_id, revoked_at) "
               "SELECT u.name, " CTL_TS("r.revoked_at") " FROM r "
                                                        "JOIN users u ON u.id = r.user_id",
               1, values, NULL, NULL, PGRES_TUPLES_OK);
    if (res == NULL)
        return 1;
    int rc = 0;
    if (PQntuples(res) != 1) {
        s_fail("no token with id %s", ctl->id);
        rc = 1;
    } else {
        printf("revoked token %s of %s (at %s)\n", ctl->id, PQgetvalue(res, 0, 0),
               PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return rc;
}

/* token revoke NAME: every token of the user; token revoke --id ID: that one. */
static int
s_token_revoke(ctl_t *ctl, char **args)
{
    if ((ctl->id != NULL) == (args[0] != NULL))
        return s_usage("token revoke needs --id ID (one token) or NAME (every token of the "
                       "user)%s",
                       "");
    if (ctl->id != NULL)
        return s_token_revoke_id(ctl);
    const char *name = args[0];
    PGconn *db = s_db(ctl);
    if (db == NULL)
        return 1;
    const char *values[1] = {name};
    PGresult *res =
        s_exec(db, "SELECT 1 FROM users WHERE name = $1", 1, values, NULL, NULL, PGRES_TUPLES_OK);
    if (res == NULL)
        return 1;
    bool exists = PQntuples(res) == 1;
    PQclear(res);
    if (!exists) {
        s_fail("no user %s", name);
        return 1;
    }
    res = s_exec(db,
                 "UPDATE tokens SET revoked_at = now() WHERE revoked_at IS NULL "
                 "AND user_id = (SELECT id FROM users WHERE name = $1)",
                 1, values, NULL, NULL, PGRES_COMMAND_OK);
    if (res == NULL)
        return 1;
    printf("revoked %s token(s) of %s (all of them)\n", PQcmdTuples(res), name);
    PQclear(res);
    return 0;
}

static int
s_user_list(ctl_t *ctl, char **args)
{
    PGconn *db = s_db(ctl);
    if (db == NULL)
        return 1;
    PGresult *res =
        s_exec(db,
               "SELECT u.name, u.role, " CTL_TS(
                   "u.created_at") ", "
                                   "count(t.hash) FILTER (WHERE t.revoked_at IS NULL)::text "
                                   "FROM users u LEFT JOIN tokens t ON t.user_id = u.id "
                                   "GROUP BY u.id ORDER BY u.name",
               0, NULL, NULL, NULL, PGRES_TUPLES_OK);
    if (res == NULL)
        return 1;
    static const char *const headers[] = {"NAME", "ROLE", "CREATED", "TOKENS"};
    s_print_table(res, headers, 4);
    PQclear(res);
    return 0;
}

/* ---------------------------------------------------------------- passwords */

/* One line of standard input without its newline into buf; -1 at EOF or when too long. */
static int
s_read_line(char *buf, size_t size, size_t *len)
{
    if (fgets(buf, (int)size, stdin) == NULL)
        return -1;
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    else if (!feof(stdin))
        return -1; /* longer than the buffer */
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    *len = n;
    return 0;
}

/* The new password, from standard input: asked twice without echo on a terminal. Its Argon2id
 * hash into hash; the password itself is wiped. 0, or an exit status after saying why. */
static int
s_password_read_hash(char hash[PASSWORD_HASH_SIZE])
{
    char pw[PASSWORD_MAX + 2], again[PASSWORD_MAX + 2];
    size_t len = 0, again_len = 0;
    bool tty = isatty(STDIN_FILENO);
    struct termios old;
    bool echo_off = tty && tcgetattr(STDIN_FILENO, &old) == 0;
    if (echo_off) {
        struct termios quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        fprintf(stderr, "password: ");
    }
    int rc = s_read_line(pw, sizeof pw, &len);
    if (rc == 0 && tty) {
        fprintf(stderr, "\nagain: ");
        rc = s_read_line(again, sizeof again, &again_len);
        if (rc == 0 && (again_len != len || memcmp(again, pw, len) != 0))
            rc = -2;
    }
    if (echo_off) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    int status = 0;
    if (rc == -2) {
        s_fail("the two passwords differ");
        status = 1;
    } else if (rc != 0 || !password_acceptable(pw, len)) {
        s_fail("the password must be one line of %d to %d bytes of UTF-8", PASSWORD_MIN,
               PASSWORD_MAX);
        status = 1;
    } else if (password_hash(pw, len, PASSWORD_OPSLIMIT_DEFAULT, PASSWORD_MEMLIMIT_DEFAULT, hash) !=
               0) {
        s_fail("cannot hash the password (out of memory?)");
        status = 1;
    }
    explicit_bzero(pw, sizeof pw);
    explicit_bzero(again, sizeof again);
    return status;
}

static int
s_user_create(ctl_t *ctl, char **args)
{
    const char *name = args[0];
    int bad = s_check_role_and_name(ctl, "user create", name);
    if (bad != 0)
        return bad;
    PGconn *db = s_db(ctl);
    if (db == NULL)
        return 1;
    char hash[PASSWORD_HASH_SIZE];
    int rc = s_password_read_hash(hash);
    if (rc != 0)
        return rc;
    const char *values[3] = {name, ctl->role, hash};
    PGresult *res = s_exec(db,
                           "INSERT INTO users (name, role, password_hash, password_changed_at) "
                           "VALUES ($1, $2, $3, now()) ON CONFLICT (name) DO NOTHING RETURNING id",
                           3, values, NULL, NULL, PGRES_TUPLES_OK);
    if (res == NULL)
        return 1;
    rc = 0;
    if (PQntuples(res) != 1) {
        s_fail("user %s exists already (set its password with user passwd)", name);
        rc = 1;
    } else {
        printf("created user %s (%s) %s\n", name, ctl->role, PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return rc;
}

static int
s_user_passwd(ctl_t *ctl, char **args)
{
    const char *name = args[0];
    PGconn *db = s_db(ctl);
    if (db == NULL)
        return 1;
    char hash[PASSWORD_HASH_SIZE];
    int rc = s_password_read_hash(hash);
    if (rc != 0)
        return rc;
    /* One statement: the new hash and the end of every session of the user commit together. */
    const char *values[2] = {name, hash};
    PGresult *res =
        s_exec(db,
               "WITH u AS (UPDATE users SET password_hash = $2, password_changed_at = now() "
               "WHERE name = $1 RETURNING id), "
               "s AS (UPDATE sessions SET revoked_at = now() WHERE revoked_at IS NULL "
               "AND user_id IN (SELECT id FROM u) RETURNING 1) "
               "SELECT (SELECT count(*) FROM s)::text FROM u",
               2, values, NULL, NULL, PGRES_TUPLES_OK);
    if (res == NULL)
        return 1;
    if (PQntuples(res) != 1) {
        s_fail("no user %s", name);
        rc = 1;
    } else {
        printf("new password for %s; %s session(s) ended\n", name, PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return rc;
}

/* ---------------------------------------------------------------- keys */

/* keygen NAME [--dir DIR]: a CURVE key pair in czmq's format (common/curve.h). Needs no
 * database. Prints the two paths and the public key (never the secret). */
static int
s_keygen(const char *name, const char *dir)
{
    char err[512], public_key[CURVE_KEY_LEN + 1];
    if (curve_keygen(dir, name, public_key, err, sizeof err) != 0) {
        s_fail("keygen: %s", err);
        return 1;
    }
    printf("public certificate: %s/%s\n"
           "secret certificate: %s/%s_secret (keep it on this host only)\n"
           "public key: %s\n",
           dir, name, dir, name, public_key);
    return 0;
}

/* ---------------------------------------------------------------- main */

static const ctl_command_t *
s_find(const char *group, const char *verb)
{
    for (size_t i = 0; i < CTL_NCOMMANDS; i++)
        if (strcmp(s_commands[i].group, group) == 0 && verb != NULL &&
            strcmp(s_commands[i].verb, verb) == 0)
            return &s_commands[i];
    return NULL;
}

int
main(int argc, char **argv)
{
    static const struct option options[] = {{"database", required_argument, NULL, 'd'},
                                            {"config", required_argument, NULL, 'c'},
                                            {"role", required_argument, NULL, 'r'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, 'V'},
                                            {"expires", required_argument, NULL, 'e'},
                                            {"expires-at", required_argument, NULL, 'E'},
                                            {"id", required_argument, NULL, 'i'},
                                            {"label", required_argument, NULL, 'l'},
                                            {"admin", required_argument, NULL, 'a'},
                                            {"json", no_argument, NULL, 'J'},
                                            {"watch", no_argument, NULL, 'W'},
                                            {"state", required_argument, NULL, 'S'},
                                            {"owner", required_argument, NULL, 'O'},
                                            {"limit", required_argument, NULL, 'L'},
                                            {"dir", required_argument, NULL, 'D'},
                                            {"key", required_argument, NULL, 'k'},
                                            {"broker-key", required_argument, NULL, 'K'},
                                            {NULL, 0, NULL, 0}};
    admin_cli_options_t admin = {0};
    const char *dir = NULL;
    ctl_t ctl = {.conninfo = NULL, .role = NULL, .db = NULL};
    char *none[1] = {NULL}; /* the absent optional argument */
    const char *database = NULL, *config_path = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":d:c:r:e:a:k:K:h", options, NULL)) != -1) {
        switch (c) {
        case 'a':
            admin.admin = optarg;
            break;
        case 'k':
            admin.key = optarg;
            break;
        case 'K':
            admin.broker_key = optarg;
            break;
        case 'J':
            admin.json = true;
            break;
        case 'W':
            admin.watch = true;
            break;
        case 'S':
            admin.state = optarg;
            break;
        case 'O':
            admin.owner = optarg;
            break;
        case 'L': {
            char *end = NULL;
            admin.limit = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || admin.limit < 1)
                return s_usage("--limit needs a number from 1, not %s", optarg);
            break;
        }
        case 'd':
            database = optarg;
            break;
        case 'c':
            config_path = optarg;
            break;
        case 'r':
            ctl.role = optarg;
            break;
        case 'e':
            ctl.expires = optarg;
            break;
        case 'E':
            ctl.expires_at = optarg;
            break;
        case 'i':
            ctl.id = optarg;
            break;
        case 'l':
            ctl.label = optarg;
            break;
        case 'D':
            dir = optarg;
            break;
        case 'h':
            s_help();
            return 0;
        case 'V':
            printf(PROG " %s\n", PROFAI_VERSION);
            return 0;
        case ':':
            return s_usage("option %s needs a value", argv[optind - 1]);
        default:
            return s_usage("unknown option %s", argv[optind - 1]);
        }
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    if (nargs < 1)
        return s_usage("no command given%s", "");
    if (strcmp(args[0], "keygen") == 0) {
        if (nargs != 2)
            return s_usage("usage: " PROG " keygen NAME [--dir DIR]%s", "");
        return s_keygen(args[1], dir != NULL ? dir : ".");
    }
    if (dir != NULL)
        return s_usage("--dir is only for keygen%s", "");
    if (admin_cli_is_command(args[0])) {
        admin.config_path = config_path;
        return admin_cli_run(&admin, nargs, args);
    }
    if (admin.key != NULL || admin.broker_key != NULL)
        return s_usage("--key and --broker-key are only for broker commands%s", "");
    const ctl_command_t *cmd = s_find(args[0], nargs > 1 ? args[1] : NULL);
    if (cmd == NULL) {
        char verbs[128] = "";
        for (size_t i = 0; i < CTL_NCOMMANDS; i++) {
            if (strcmp(s_commands[i].group, args[0]) != 0)
                continue;
            size_t used = strlen(verbs);
            snprintf(verbs + used, sizeof verbs - used, "%s%s", used ? ", " : "",
                     s_commands[i].verb);
        }
        if (verbs[0] != '\0') {
            fprintf(stderr, PROG ": '%s' needs one of: %s\ntry '" PROG " --help'\n", args[0],
                    verbs);
            return 2;
        }
        char what[128];
        snprintf(what, sizeof what, "%s%s%s", args[0], nargs > 1 ? " " : "",
                 nargs > 1 ? args[1] : "");
        return s_usage("unknown command '%s'", what);
    }
    if (cmd->nargs >= 0 ? nargs - 2 != cmd->nargs : nargs - 2 > 1) {
        char synopsis[128];
        snprintf(synopsis, sizeof synopsis, "%s %s%s%s", cmd->group, cmd->verb,
                 cmd->args[0] ? " " : "", cmd->args);
        return s_usage("usage: " PROG " %s", synopsis);
    }
    bool create = strcmp(cmd->verb, "create") == 0;
    bool token_create = create && strcmp(cmd->group, "token") == 0;
    if ((ctl.role != NULL && !create) ||
        ((ctl.expires != NULL || ctl.expires_at != NULL || ctl.label != NULL) && !token_create))
        return s_usage("--role is only for token create and user create; --label, --expires and "
                       "--expires-at only for token create%s",
                       "");
    if (ctl.id != NULL && strcmp(cmd->verb, "revoke") != 0)
        return s_usage("--id is only for token revoke%s", "");

    zconfig_t *conf = NULL;
    if (database == NULL && config_path != NULL) {
        char err[256];
        conf = conf_load(config_path, err, sizeof err);
        if (conf == NULL) {
            s_fail("%s", err);
            return 2;
        }
        database = conf_str(conf, "database/conninfo", NULL);
    }
    if (database == NULL)
        database = getenv("PROFAI_DATABASE");
    ctl.conninfo = database ? database : "";

    int rc = cmd->run(&ctl, nargs > 2 ? args + 2 : none);
    if (ctl.db != NULL)
        PQfinish(ctl.db);
    zconfig_destroy(&conf);
    return rc;
}
