/*
 * admin_cli.h - profaictl's commands on the broker's admin socket (docs/profaictl.md,
 * docs/admin.md): status, workers, jobs, job, retry, cancel, drain, pause, resume, log-level.
 * Human tables on stdout, or JSON with --json; errors on stderr.
 */
#ifndef PROFAI_CTL_ADMIN_CLI_H
#define PROFAI_CTL_ADMIN_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Options main() parsed; strings borrowed from argv. */
typedef struct {
    const char *admin;       /* -a/--admin ENDPOINT, or NULL */
    const char *config_path; /* -c/--config FILE, or NULL (then /etc/profai/broker.conf) */
    bool json;               /* --json */
    bool watch;              /* --watch: status and workers, every second */
    const char *state;       /* jobs --state */
    const char *owner;       /* jobs --owner */
    long limit;              /* jobs --limit (0: the broker's default) */
    const char *key;         /* -k/--key FILE: own key pair for a tcp:// admin socket, or NULL */
    const char *broker_key;  /* -K/--broker-key FILE: the broker's public certificate, or NULL */
} admin_cli_options_t;

/* Whether name is one of the admin commands. */
bool admin_cli_is_command(const char *name);

/* Run the admin command args[0] with its arguments (nargs in all). Returns the exit status:
 * 0 done, 1 refused or failed, 2 usage error. */
int admin_cli_run(const admin_cli_options_t *opts, int nargs, char **args);

/* The admin commands' lines of --help. */
void admin_cli_help(FILE *out);

#endif
