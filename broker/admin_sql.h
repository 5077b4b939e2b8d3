/*
 * admin_sql.h - the statements of the broker's admin socket (docs/admin.md) and typed
 * readers of their results; prepared with the loop's own (sql.h's sql_statements).
 *
 * Every state change writes its job_events row in the same statement (migration 006).
 * Nothing here logs or sends.
 */
#ifndef PROFAI_BROKER_ADMIN_SQL_H
#define PROFAI_BROKER_ADMIN_SQL_H

#include "profai/admin_proto.h"
#include "store.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

/* SELECT 1: the database's round trip through the broker's pipeline. */
extern const store_stmt_t admin_sql_ping;
/* Jobs newest first: $1 state ('' any), $2 owner ('' any), $3 limit. Rows: admin_sql_read_job. */
extern const store_stmt_t admin_sql_jobs;
/* Job $1 and its events, one row per event (event columns NULL when none). Rows:
 * admin_sql_read_job, then admin_sql_read_event. */
extern const store_stmt_t admin_sql_job;
/* A 'failed' job $1 back to 'queued', unless its PDF was swept. Read with
 * admin_sql_read_change. */
extern const store_stmt_t admin_sql_retry;
/* Cancel job $1 of any owner if it has not ended. Read with admin_sql_read_change. */
extern const store_stmt_t admin_sql_cancel;

/* The answer of admin_sql_retry and admin_sql_cancel. */
typedef struct {
    bool found;                       /* there is such a job */
    bool changed;                     /* the statement changed it */
    char before[PROTO_STATE_MAX + 1]; /* its state before, when found */
    char owner[PROTO_UUID_LEN + 1];   /* when found */
    uint32_t attempts;                /* when found */
    bool pdf_stored;                  /* retry: the job's PDF is still stored (cancel: true) */
} admin_sql_change_t;

void admin_sql_read_change(const PGresult *res, admin_sql_change_t *out);

/* Row i of admin_sql_jobs or admin_sql_job into job (rid untouched); false when a cell is
 * over the protocol's limits (skip the row). */
bool admin_sql_read_job(const PGresult *res, int i, admin_job_t *job);

/* The event of row i of admin_sql_job; false when the row has none (a job without events) or
 * a cell is over the limits. */
bool admin_sql_read_event(const PGresult *res, int i, admin_event_t *event);

#endif
