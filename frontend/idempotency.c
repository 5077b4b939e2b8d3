/* idempotency.c - see idempotency.h. */
#include "idempotency.h"

#include "db_query.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a key is remembered (docs/api.md 4.1). */
#define IDEMPOTENCY_TTL "interval '24 hours'"
/* A claim still without an answer after this was abandoned (its frontend stopped between the
 * claim and the broker's answer, which takes at most broker/timeout): it is claimed anew. */
#define IDEMPOTENCY_ABANDONED "interval '2 minutes'"

bool
idempotency_key_ok(const char *key)
{
    size_t len = strlen(key);
    if (len == 0 || len > IDEMPOTENCY_KEY_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e)
            return false;
    return true;
}

void
idempotency_fingerprint(const char *pdf_sha256, const char *title, const char *filename,
                        char out[IDEMPOTENCY_FINGERPRINT_SIZE])
{
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    /* NUL-separated: no title can make two different uploads look the same. */
    g_checksum_update(sum, (const guchar *)pdf_sha256, (gssize)strlen(pdf_sha256) + 1);
    g_checksum_update(sum, (const guchar *)title, (gssize)strlen(title) + 1);
    g_checksum_update(sum, (const guchar *)filename, (gssize)strlen(filename) + 1);
    snprintf(out, IDEMPOTENCY_FINGERPRINT_SIZE, "%s", g_checksum_get_string(sum));
    g_checksum_free(sum);
}

idempotency_outcome_t
idempotency_begin(db_pool_t *db, const char *owner_id, const char *key, const char *fingerprint,
                  int *status, char job_id[37], char **answer)
{
    const char *values[3] = {owner_id, key, fingerprint};
    PGresult *res = NULL;
    /* Claim the key (a row older than the TTL, or an abandoned claim, is taken over), else
     * read its row: the first
     * column says whether this call claimed it. One statement, so that two uploads with the
     * same key at once cannot both claim it (the primary key decides). */
    db_status_t rc = db_query(
        db,
        "WITH claim AS (INSERT INTO idempotency_keys (owner_id, key, fingerprint) "
        "  VALUES ($1::uuid, $2, $3) ON CONFLICT (owner_id, key) DO UPDATE "
        "  SET fingerprint = EXCLUDED.fingerprint, job_id = NULL, status = NULL, answer = NULL, "
        "      created_at = now() "
        "  WHERE idempotency_keys.created_at < now() - " IDEMPOTENCY_TTL
        "  OR (idempotency_keys.status IS NULL "
        "      AND idempotency_keys.created_at < now() - " IDEMPOTENCY_ABANDONED ") RETURNING 1) "
        "SELECT true, NULL, NULL, NULL, NULL FROM claim "
        "UNION ALL SELECT false, k.fingerprint, k.status, k.answer, k.job_id::text "
        "FROM idempotency_keys k "
        "WHERE k.owner_id = $1::uuid AND k.key = $2 AND NOT EXISTS (SELECT 1 FROM claim)",
        3, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (rc != DB_OK)
        return IDEMPOTENCY_FAILED;
    idempotency_outcome_t outcome = IDEMPOTENCY_FAILED;
    if (PQntuples(res) < 1) {
        /* The row went between the insert's conflict and the read (a sweep): try later. */
        outcome = IDEMPOTENCY_IN_FLIGHT;
    } else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
        outcome = IDEMPOTENCY_NEW;
    } else if (strcmp(PQgetvalue(res, 0, 1), fingerprint) != 0) {
        outcome = IDEMPOTENCY_MISMATCH;
    } else if (PQgetisnull(res, 0, 2)) {
        outcome = IDEMPOTENCY_IN_FLIGHT;
    } else {
        *status = atoi(PQgetvalue(res, 0, 2));
        snprintf(job_id, 37, "%s", PQgetvalue(res, 0, 4));
        *answer = strdup(PQgetvalue(res, 0, 3));
        outcome = *answer ? IDEMPOTENCY_REPLAY : IDEMPOTENCY_FAILED;
    }
    PQclear(res);
    return outcome;
}

db_status_t
idempotency_finish(db_pool_t *db, const char *owner_id, const char *key, const char *job_id,
                   int status, const char *answer)
{
    char status_text[16];
    snprintf(status_text, sizeof status_text, "%d", status);
    const char *values[5] = {owner_id, key, job_id, status_text, answer};
    PGresult *res = NULL;
    db_status_t rc = db_query(db,
                              "UPDATE idempotency_keys SET job_id = $3::uuid, status = $4::int, "
                              "answer = $5 WHERE owner_id = $1::uuid AND key = $2",
                              5, values, NULL, NULL, PGRES_COMMAND_OK, &res);
    PQclear(res);
    return rc;
}

db_status_t
idempotency_release(db_pool_t *db, const char *owner_id, const char *key)
{
    const char *values[2] = {owner_id, key};
    PGresult *res = NULL;
    db_status_t rc = db_query(db,
                              "DELETE FROM idempotency_keys WHERE owner_id = $1::uuid AND key = $2 "
                              "AND status IS NULL",
                              2, values, NULL, NULL, PGRES_COMMAND_OK, &res);
    PQclear(res);
    return rc;
}

db_status_t
idempotency_sweep(db_pool_t *db, long *deleted)
{
    PGresult *res = NULL;
    db_status_t rc =
        db_query(db, "SELECT idempotency_sweep()", 0, NULL, NULL, NULL, PGRES_TUPLES_OK, &res);
    *deleted = rc == DB_OK && PQntuples(res) == 1 ? atol(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    return rc;
}
