/*
 * migrate.h - the broker's start-up work on PostgreSQL, before its event loop runs:
 * wait for the server, then bring the schema up to date (docs/database.md, "Migrations").
 * Blocking by design: nothing else is served yet.
 */
#ifndef PROFAI_BROKER_MIGRATE_H
#define PROFAI_BROKER_MIGRATE_H

#include "profai/compiler.h"

#include "migrations.h"

#include <libpq-fe.h>
#include <signal.h>
#include <stddef.h>

/* Connect to conninfo, retrying with back-off (250 ms doubling to 5 s, each failure logged)
 * until the server answers or *stop becomes non-zero. Returns a blocking connection (caller
 * owns it: PQfinish), or NULL when stopped. */
PGconn *migrate_connect(const char *conninfo, volatile sig_atomic_t *stop);

/* Apply, in order, each of the n migrations whose version is not recorded in
 * schema_migrations (created if missing), each in one transaction with its row, all under a
 * session advisory lock so that two brokers starting together do not race. Returns 0, or -1
 * with a sentence in err (the failed migration is rolled back). */
int migrate_apply(PGconn *conn, const migration_t *list, size_t n, char *err,
                  size_t err_size) PROFAI_MUST_CHECK;

#endif
