/* db_accounts.c - see db_accounts.h. */
#include "db_accounts.h"

#include "db_query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_copy(char *out, size_t size, PGresult *res, int col)
{
    snprintf(out, size, "%s", PQgetvalue(res, 0, col));
}

db_status_t
db_account_by_name(db_pool_t *self, const char *name, db_account_t *account)
{
    const char *values[1] = {name};
    PGresult *res = NULL;
    db_status_t status = db_query_row(
        self, "SELECT id::text, name, role, coalesce(password_hash, '') FROM users WHERE name = $1",
        1, values, &res);
    if (status != DB_OK)
        return status;
    s_copy(account->id, sizeof account->id, res, 0);
    s_copy(account->name, sizeof account->name, res, 1);
    s_copy(account->role, sizeof account->role, res, 2);
    s_copy(account->password_hash, sizeof account->password_hash, res, 3);
    PQclear(res);
    return DB_OK;
}

db_status_t
db_session_create(db_pool_t *self, const uint8_t hash[32], const char *user_id,
                  long long absolute_ms, char expires_at[DB_TIME_SIZE])
{
    char ms[32];
    snprintf(ms, sizeof ms, "%lld", absolute_ms);
    const char *values[3] = {(const char *)hash, user_id, ms};
    const int lengths[3] = {32, 0, 0};
    const int formats[3] = {1, 0, 0};
    PGresult *res = NULL;
    db_status_t status =
        db_query(self,
                 "WITH old AS (DELETE FROM sessions WHERE user_id = $2::uuid AND "
                 "least(expires_at, coalesce(revoked_at, expires_at)) < now() - interval '1 day'), "
                 "s AS (INSERT INTO sessions (hash, user_id, expires_at) VALUES ($1, $2::uuid, "
                 "now() + $3::bigint * interval '1 millisecond') RETURNING expires_at) "
                 "SELECT " DB_TS("expires_at") " FROM s",
                 3, values, lengths, formats, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    s_copy(expires_at, DB_TIME_SIZE, res, 0);
    PQclear(res);
    return DB_OK;
}

db_status_t
db_session_user(db_pool_t *self, const uint8_t hash[32], long long idle_ms, db_user_t *user)
{
    char ms[32];
    snprintf(ms, sizeof ms, "%lld", idle_ms);
    const char *values[2] = {(const char *)hash, ms};
    const int lengths[2] = {32, 0};
    const int formats[2] = {1, 0};
    PGresult *res = NULL;
    db_status_t status =
        db_query(self,
                 "WITH s AS (UPDATE sessions SET last_seen_at = now() WHERE hash = $1 AND "
                 "revoked_at IS NULL AND expires_at > now() AND "
                 "last_seen_at > now() - $2::bigint * interval '1 millisecond' "
                 "RETURNING user_id, expires_at) "
                 "SELECT u.id::text, u.name, u.role, "
                 "floor(extract(epoch FROM s.expires_at) * 1000)::bigint FROM s "
                 "JOIN users u ON u.id = s.user_id",
                 2, values, lengths, formats, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    if (PQntuples(res) < 1) {
        PQclear(res);
        return DB_NOT_FOUND;
    }
    s_copy(user->id, sizeof user->id, res, 0);
    s_copy(user->name, sizeof user->name, res, 1);
    s_copy(user->role, sizeof user->role, res, 2);
    user->expires_ms = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    user->expired = false;
    PQclear(res);
    return DB_OK;
}

db_status_t
db_session_revoke(db_pool_t *self, const uint8_t *hash, const char *user_id)
{
    const char *values[2] = {(const char *)hash, user_id};
    const int lengths[2] = {hash ? 32 : 0, 0};
    const int formats[2] = {1, 0};
    PGresult *res = NULL;
    db_status_t status =
        db_query(self,
                 "UPDATE sessions SET revoked_at = now() WHERE revoked_at IS NULL AND "
                 "(hash = $1 OR ($1 IS NULL AND user_id = $2::uuid))",
                 2, values, lengths, formats, PGRES_COMMAND_OK, &res);
    PQclear(res);
    return status;
}

db_status_t
db_own_tokens_json(db_pool_t *self, const char *user_id, const db_page_t *page, char **json,
                   size_t *len, db_page_end_t *end)
{
    db_page_values_t pv;
    db_page_values(page, &pv);
    const char *values[4] = {user_id, pv.limit, pv.after_id, pv.after_number};
    PGresult *res = NULL;
    /* A page after the keyset ($3 id, $4 microseconds of created_at), the keyset of each row
     * last. */
    db_status_t status = db_query(
        self,
        "SELECT id::text, label, " DB_TS("created_at") ", " DB_TS(
            "expires_at") ", coalesce(expires_at <= now(), false), "
                          "(extract(epoch FROM created_at) * 1000000)::bigint FROM tokens "
                          "WHERE user_id = $1::uuid AND revoked_at IS NULL "
                          "AND ($3::uuid IS NULL OR (created_at, id) < ('epoch'::timestamptz "
                          "     + $4::bigint * interval '1 microsecond', $3::uuid)) "
                          "ORDER BY created_at DESC, id DESC LIMIT $2::int",
        4, values, NULL, NULL, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    int rows = db_page_end_read(res, page->limit, 5, 0, end);
    json_t j;
    json_init(&j);
    json_array_begin(&j);
    for (int row = 0; row < rows; row++) {
        json_object_begin(&j);
        json_key(&j, "id");
        db_write_text(&j, res, row, 0);
        json_key(&j, "label");
        db_write_text(&j, res, row, 1);
        json_key(&j, "created_at");
        db_write_text(&j, res, row, 2);
        json_key(&j, "expires_at");
        db_write_text(&j, res, row, 3);
        json_key(&j, "expired");
        json_bool(&j, strcmp(PQgetvalue(res, row, 4), "t") == 0);
        json_object_end(&j);
    }
    json_array_end(&j);
    PQclear(res);
    return db_json_take(&j, json, len);
}

db_status_t
db_own_token_create(db_pool_t *self, const char *user_id, const uint8_t hash[32], const char *label,
                    long long days, char id[37], char expires_at[DB_TIME_SIZE])
{
    char days_text[32], max[16];
    snprintf(days_text, sizeof days_text, "%lld", days);
    snprintf(max, sizeof max, "%d", DB_TOKENS_MAX);
    const char *values[5] = {(const char *)hash, user_id, label, days_text, max};
    const int lengths[5] = {32, 0, 0, 0, 0};
    const int formats[5] = {1, 0, 0, 0, 0};
    PGresult *res = NULL;
    /* The count and the insert in one statement; two creations at once may both pass a limit
     * that is a guard against accidents, not a quota. */
    db_status_t status = db_query(
        self,
        "INSERT INTO tokens (hash, user_id, label, expires_at) "
        "SELECT $1, $2::uuid, $3, now() + $4::int * interval '1 day' "
        "WHERE (SELECT count(*) FROM tokens WHERE user_id = $2::uuid AND revoked_at IS NULL) "
        "< $5::int RETURNING id::text, " DB_TS("expires_at"),
        5, values, lengths, formats, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    if (PQntuples(res) < 1) {
        PQclear(res);
        return DB_LIMIT;
    }
    s_copy(id, 37, res, 0);
    s_copy(expires_at, DB_TIME_SIZE, res, 1);
    PQclear(res);
    return DB_OK;
}

db_status_t
db_own_token_revoke(db_pool_t *self, const char *user_id, const char *token_id)
{
    const char *values[2] = {user_id, token_id};
    PGresult *res = NULL;
    db_status_t status = db_query(self,
                                  "UPDATE tokens SET revoked_at = now() WHERE user_id = $1::uuid "
                                  "AND id = $2::uuid AND revoked_at IS NULL",
                                  2, values, NULL, NULL, PGRES_COMMAND_OK, &res);
    if (status != DB_OK)
        return status;
    status = strcmp(PQcmdTuples(res), "1") == 0 ? DB_OK : DB_NOT_FOUND;
    PQclear(res);
    return status;
}

db_status_t
db_invitation_create(db_pool_t *self, const uint8_t hash[32], const char *role,
                     const char *created_by, long long hours, char id[37],
                     char expires_at[DB_TIME_SIZE])
{
    char hours_text[32];
    snprintf(hours_text, sizeof hours_text, "%lld", hours);
    const char *values[4] = {(const char *)hash, role, created_by, hours_text};
    const int lengths[4] = {32, 0, 0, 0};
    const int formats[4] = {1, 0, 0, 0};
    PGresult *res = NULL;
    db_status_t status =
        db_query(self,
                 "INSERT INTO invitations (hash, role, created_by, expires_at) VALUES "
                 "($1, $2, $3::uuid, now() + $4::int * interval '1 hour') "
                 "RETURNING id::text, " DB_TS("expires_at"),
                 4, values, lengths, formats, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    s_copy(id, 37, res, 0);
    s_copy(expires_at, DB_TIME_SIZE, res, 1);
    PQclear(res);
    return DB_OK;
}

db_status_t
db_invitation_accept(db_pool_t *self, const uint8_t hash[32], const char *name,
                     const char *password_hash, db_user_t *user)
{
    const char *values[3] = {(const char *)hash, name, password_hash};
    const int lengths[3] = {32, 0, 0};
    const int formats[3] = {1, 0, 0};
    PGresult *res = NULL;
    /* FOR UPDATE: a second accept of the same invitation waits for the first, then finds it
     * used. A taken name inserts nothing, and then nothing marks the invitation used. */
    db_status_t status = db_query(
        self,
        "WITH i AS (SELECT id, role FROM invitations WHERE hash = $1 AND accepted_at IS NULL "
        "AND expires_at > now() FOR UPDATE), "
        "u AS (INSERT INTO users (name, role, password_hash, password_changed_at) "
        "SELECT $2, role, $3, now() FROM i ON CONFLICT (name) DO NOTHING "
        "RETURNING id, name, role), "
        "a AS (UPDATE invitations SET accepted_at = now(), accepted_by = u.id FROM u "
        "WHERE invitations.id = (SELECT id FROM i) RETURNING 1) "
        "SELECT u.id::text, u.name, u.role, (SELECT count(*) FROM i)::int FROM (SELECT 1) one "
        "LEFT JOIN u ON true LEFT JOIN a ON true",
        3, values, lengths, formats, PGRES_TUPLES_OK, &res);
    if (status != DB_OK)
        return status;
    if (!PQgetisnull(res, 0, 0)) {
        s_copy(user->id, sizeof user->id, res, 0);
        s_copy(user->name, sizeof user->name, res, 1);
        s_copy(user->role, sizeof user->role, res, 2);
        status = DB_OK;
    } else if (strcmp(PQgetvalue(res, 0, 3), "0") == 0) {
        status = DB_NOT_FOUND;
    } else {
        status = DB_CONFLICT;
    }
    PQclear(res);
    return status;
}
