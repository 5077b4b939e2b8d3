/* accounts.c - see accounts.h. */
#define _GNU_SOURCE
#include "accounts.h"
#include "request_json.h"

#include "api_common.h"
#include "db_accounts.h"
#include "log.h"
#include "password.h"
#include "secret.h"
#include "session.h"

#include <errno.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ACCOUNTS_TOKENS_CURSOR_KIND 't' /* a user's own tokens (docs/api.md 4.22) */

/* JSON bodies of this module: a name, a password, a label and a number at most. */
#define ACCOUNTS_BODY_MAX 4096
#define ACCOUNTS_DEPTH_MAX 1
#define ACCOUNTS_VALUES_MAX 8
#define ACCOUNTS_NAME_MAX 64
#define ACCOUNTS_LABEL_MAX 64
#define ACCOUNTS_INVITE_PREFIX "inv_"
#define ACCOUNTS_TOKEN_PREFIX AUTH_TOKEN_PREFIX

struct accounts_t {
    accounts_config_t cfg;
    char *origins;
    sem_t password_slots;                  /* max_concurrent password checks */
    char unknown_hash[PASSWORD_HASH_SIZE]; /* checked for unknown names: the same work */
};

accounts_t *
accounts_new(const accounts_config_t *cfg)
{
    if (cfg->max_concurrent < 1 || cfg->idle_ms <= 0 || cfg->absolute_ms <= 0)
        return NULL;
    accounts_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->cfg = *cfg;
    self->origins = strdup(cfg->origins ? cfg->origins : "");
    static const char filler[] = "no such user, same work";
    if (self->origins == NULL ||
        password_hash(filler, sizeof filler - 1, cfg->opslimit, cfg->memlimit,
                      self->unknown_hash) != 0 ||
        sem_init(&self->password_slots, 0, (unsigned)cfg->max_concurrent) != 0) {
        free(self->origins);
        free(self);
        return NULL;
    }
    self->cfg.origins = self->origins;
    return self;
}

void
accounts_destroy(accounts_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    accounts_t *self = *self_p;
    sem_destroy(&self->password_slots);
    free(self->origins);
    free(self);
    *self_p = NULL;
}

/* ---------------------------------------------------------------- the cookie */

bool
accounts_has_session_cookie(http_request_t *req)
{
    if (http_header(req, "Authorization") != NULL)
        return false;
    char id[SECRET_SIZE];
    bool present = false;
    (void)session_cookie_id(http_header(req, "Cookie"), id, &present);
    explicit_bzero(id, sizeof id);
    return present;
}

static bool
s_secure(accounts_t *self, http_request_t *req)
{
    return self->cfg.secure_always || http_is_https(req);
}

/* 401 for a session that cannot be used, clearing the cookie. */
static void
s_reply_session_ended(accounts_t *self, http_request_t *req)
{
    char headers[256];
    int n = snprintf(headers, sizeof headers, "WWW-Authenticate: Bearer realm=\"profai\"\r\n");
    session_set_cookie(headers + n, sizeof headers - (size_t)n, NULL, 0, s_secure(self, req));
    http_reply_problem(req, 401, headers, "the session has ended: sign in again");
}

bool
accounts_authenticate(accounts_t *self, db_pool_t *db, http_request_t *req, auth_user_t *user)
{
    char id[SECRET_SIZE];
    bool present = false;
    if (!session_cookie_id(http_header(req, "Cookie"), id, &present)) {
        s_reply_session_ended(self, req);
        return false;
    }
    secret_sha256(id, strlen(id), user->session_hash);
    session_csrf(id, user->csrf);
    explicit_bzero(id, sizeof id);
    db_user_t found;
    db_status_t status = db_session_user(db, user->session_hash, self->cfg.idle_ms, &found);
    if (status == DB_UNAVAILABLE) {
        api_reply_unavailable(req, "the database");
        return false;
    }
    if (status != DB_OK || auth_role_parse(found.role, &user->role) != 0) {
        s_reply_session_ended(self, req);
        return false;
    }
    memcpy(user->id, found.id, sizeof user->id);
    memcpy(user->name, found.name, sizeof user->name);
    user->session = true;
    snprintf(req->user, sizeof req->user, "%s", user->name);
    return true;
}

static bool
s_cross_site_allowed(accounts_t *self, http_request_t *req)
{
    const char *why =
        session_origin_problem(http_header(req, "Origin"), http_header(req, "Sec-Fetch-Site"),
                               http_header(req, "Host"), self->origins);
    if (why == NULL)
        return true;
    http_reply_problem(req, 403, NULL, "%s", why);
    return false;
}

bool
accounts_csrf_allowed(accounts_t *self, http_request_t *req, const auth_user_t *user)
{
    if (!user->session || strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
        return true;
    if (!session_csrf_matches(http_header(req, "X-CSRF-Token"), user->csrf)) {
        http_reply_problem(req, 403, NULL,
                           "X-CSRF-Token is missing or wrong: a request with the session cookie "
                           "that changes something must carry the session's CSRF token");
        return false;
    }
    return s_cross_site_allowed(self, req);
}

/* ---------------------------------------------------------------- bodies */

/* A member that must be a string of 1..max bytes of text (route_text_ok); NULL with a 400
 * answered otherwise. */
static const char *
s_text_member(http_request_t *req, const json_in_value_t *root, const char *key, size_t max,
              bool required)
{
    const json_in_value_t *v = json_in_member(root, key);
    if (v == NULL) {
        if (required)
            http_reply_problem(req, 400, NULL, "the member \"%s\" is missing", key);
        return NULL;
    }
    if (v->type != JSON_IN_STRING || v->len == 0 || !route_text_ok(v->text, v->len, max)) {
        http_reply_problem(req, 400, NULL,
                           "\"%s\" must be text of 1 to %zu bytes without control characters", key,
                           max);
        return NULL;
    }
    return v->text;
}

/* Whether every member of root is one of keys (NULL-terminated); a 400 answered otherwise. */
static bool
s_members_known(http_request_t *req, const json_in_value_t *root, const char *const *keys)
{
    if (root->type != JSON_IN_OBJECT) {
        http_reply_problem(req, 400, NULL, "the body must be a JSON object");
        return false;
    }
    for (size_t i = 0; i < root->count; i++) {
        bool known = false;
        for (size_t k = 0; keys[k] != NULL && !known; k++)
            known = strcmp(root->keys[i], keys[k]) == 0;
        if (!known) {
            http_reply_problem(req, 400, NULL, "unknown member \"%.64s\"", root->keys[i]);
            return false;
        }
    }
    return true;
}

/* An optional integer member in min..max (def when absent); -1 with a 400 answered. */
static long long
s_int_member(http_request_t *req, const json_in_value_t *root, const char *key, long long min,
             long long max, long long def)
{
    const json_in_value_t *v = json_in_member(root, key);
    if (v == NULL)
        return def;
    if (v->type != JSON_IN_NUMBER || !v->is_integer || v->integer < min || v->integer > max) {
        http_reply_problem(req, 400, NULL, "\"%s\" must be an integer from %lld to %lld", key, min,
                           max);
        return -1;
    }
    return v->integer;
}

/* User names: the alphabet profaictl allows (docs/profaictl.md). */
static bool
s_name_ok(const char *name)
{
    size_t len = strlen(name);
    return len >= 1 && len <= ACCOUNTS_NAME_MAX &&
           strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-@") ==
               len;
}

static json_in_doc_t *
s_read(api_call_t *call)
{
    return request_json_read_limited(call->api, call->req, ACCOUNTS_BODY_MAX, ACCOUNTS_DEPTH_MAX,
                                     ACCOUNTS_VALUES_MAX);
}

/* ---------------------------------------------------------------- passwords */

/* Take one of the password/max_concurrent slots (sem_post gives it back): 0, or -1 when none
 * came free within ACCOUNTS_PASSWORD_WAIT_MS. */
static int
s_password_slot_take(accounts_t *self)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += ACCOUNTS_PASSWORD_WAIT_MS / 1000;
    while (sem_timedwait(&self->password_slots, &deadline) != 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

/* Check a password against a stored hash ("" or a hash of another cost: the filler), within
 * the concurrency bound. 1 match, 0 no match, -1 no slot within ACCOUNTS_PASSWORD_WAIT_MS. */
static int
s_password_check(accounts_t *self, const char *stored, const char *pw, size_t len)
{
    bool usable =
        stored[0] != '\0' && password_cost_within(stored, self->cfg.opslimit, self->cfg.memlimit);
    if (stored[0] != '\0' && !usable)
        log_warn("a stored password hash asks for more than password/opslimit or "
                 "password/memlimit: refused");
    if (s_password_slot_take(self) != 0)
        return -1;
    bool match = password_verify(usable ? stored : self->unknown_hash, pw, len) && usable;
    sem_post(&self->password_slots);
    return match ? 1 : 0;
}

/* ---------------------------------------------------------------- handlers */

/* The members "id", "name" and "role" of a user, inside an object j has begun (the user of
 * a sign-in and of an accepted invitation, and GET /api/v1/me: docs/api.md 4.19, 4.21, 4.23). */
static void
s_user_members(json_t *j, const char *id, const char *name, const char *role)
{
    json_key(j, "id");
    json_cstring(j, id);
    json_key(j, "name");
    json_cstring(j, name);
    json_key(j, "role");
    json_cstring(j, role);
}

static void
s_user_object(json_t *j, const char *id, const char *name, const char *role)
{
    json_object_begin(j);
    s_user_members(j, id, name, role);
    json_object_end(j);
}

/* Answer 201 with a secret made just now, the only time it is shown: {"id", "token", key:
 * value, "expires_at", "url" (url NULL: no such member)}: a token (key "label") or an
 * invitation (key "role"), docs/api.md 4.22 and 4.23. */
static void
s_reply_secret(http_request_t *req, const char *id, const char *token, const char *key,
               const char *value, const char *expires_at, const char *url)
{
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "id");
    json_cstring(&j, id);
    json_key(&j, "token");
    json_cstring(&j, token);
    json_key(&j, key);
    json_cstring(&j, value);
    json_key(&j, "expires_at");
    json_cstring(&j, expires_at);
    if (url != NULL) {
        json_key(&j, "url");
        json_cstring(&j, url);
    }
    json_object_end(&j);
    api_reply_json(req, 201, NULL, &j);
}

void
accounts_sign_in(api_call_t *call)
{
    accounts_t *self = call->api->accounts;
    http_request_t *req = call->req;
    if (self == NULL) {
        http_reply_problem(req, 404, NULL, "no such resource");
        return;
    }
    /* Login CSRF: no other site may sign a browser in. */
    if (!s_cross_site_allowed(self, req))
        return;
    json_in_doc_t *doc = s_read(call);
    if (doc == NULL)
        return;
    static const char *const keys[] = {"name", "password", NULL};
    const json_in_value_t *root = json_in_root(doc);
    const char *name = NULL;
    const json_in_value_t *pw = NULL;
    if (!s_members_known(req, root, keys) ||
        (name = s_text_member(req, root, "name", ACCOUNTS_NAME_MAX, true)) == NULL)
        goto done;
    pw = json_in_member(root, "password");
    if (pw == NULL || pw->type != JSON_IN_STRING) {
        http_reply_problem(req, 400, NULL, "the member \"password\" must be a string");
        goto done;
    }
    if (call->api->limits != NULL && !limits_signin_allowed(call->api->limits, req, name))
        goto done;

    db_account_t account;
    db_status_t status = db_account_by_name(call->api->db, name, &account);
    if (status == DB_UNAVAILABLE) {
        api_reply_unavailable(req, "the database");
        goto done;
    }
    if (status == DB_NOT_FOUND)
        account.password_hash[0] = '\0';
    int match = password_acceptable(pw->text, pw->len)
                    ? s_password_check(self, account.password_hash, pw->text, pw->len)
                    : 0;
    if (match < 0) {
        api_reply_unavailable(req, "password checking");
        goto done;
    }
    auth_role_t role;
    if (match == 0 || auth_role_parse(account.role, &role) != 0) {
        if (call->api->limits != NULL)
            limits_signin_failed(call->api->limits, req, name);
        log_info("sign-in refused for %s", name);
        http_reply_problem(req, 401, "WWW-Authenticate: Bearer realm=\"profai\"\r\n",
                           "wrong name or password");
        goto done;
    }

    char id[SECRET_SIZE], csrf[SESSION_CSRF_SIZE], expires_at[DB_TIME_SIZE];
    uint8_t hash[32];
    if (secret_new(SESSION_PREFIX, id) != 0) {
        http_reply_problem(req, 500, NULL, "cannot make a session id");
        goto done;
    }
    secret_sha256(id, strlen(id), hash);
    session_csrf(id, csrf);
    status = db_session_create(call->api->db, hash, account.id, self->cfg.absolute_ms, expires_at);
    if (status != DB_OK) {
        explicit_bzero(id, sizeof id);
        api_reply_unavailable(req, "the database");
        goto done;
    }
    char headers[256];
    session_set_cookie(headers, sizeof headers, id, self->cfg.absolute_ms / 1000,
                       s_secure(self, req));
    explicit_bzero(id, sizeof id);
    snprintf(req->user, sizeof req->user, "%s", account.name);
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    json_key(&j, "user");
    s_user_object(&j, account.id, account.name, account.role);
    json_key(&j, "csrf_token");
    json_cstring(&j, csrf);
    json_key(&j, "expires_at");
    json_cstring(&j, expires_at);
    json_object_end(&j);
    api_reply_json(req, 200, headers, &j);
done:
    json_in_free(&doc);
}

void
accounts_sign_out(api_call_t *call)
{
    http_request_t *req = call->req;
    if (!call->user->session) {
        http_reply_problem(req, 400, NULL,
                           "this request is not signed in with a session: revoke a token with "
                           "DELETE /api/v1/me/tokens/{id}");
        return;
    }
    if (db_session_revoke(call->api->db, call->user->session_hash, NULL) != DB_OK) {
        api_reply_unavailable(req, "the database");
        return;
    }
    char headers[160];
    session_set_cookie(headers, sizeof headers, NULL, 0, s_secure(call->api->accounts, req));
    http_reply(req, 204, NULL, headers, NULL, 0);
}

void
accounts_sign_out_everywhere(api_call_t *call)
{
    http_request_t *req = call->req;
    if (db_session_revoke(call->api->db, NULL, call->user->id) != DB_OK) {
        api_reply_unavailable(req, "the database");
        return;
    }
    char headers[160] = "";
    if (call->user->session)
        session_set_cookie(headers, sizeof headers, NULL, 0, s_secure(call->api->accounts, req));
    http_reply(req, 204, NULL, headers[0] ? headers : NULL, NULL, 0);
}

void
accounts_me(api_call_t *call)
{
    const auth_user_t *user = call->user;
    json_t j;
    json_init(&j);
    json_object_begin(&j);
    s_user_members(&j, user->id, user->name, auth_role_name(user->role));
    json_key(&j, "auth");
    json_cstring(&j, user->session ? "session" : "token");
    if (user->session) {
        json_key(&j, "csrf_token");
        json_cstring(&j, user->csrf);
    }
    json_object_end(&j);
    api_reply_json(call->req, 200, NULL, &j);
}

void
accounts_tokens_list(api_call_t *call)
{
    char *json = NULL;
    size_t len = 0;
    db_page_t page;
    page_cursor_t cursor;
    db_page_end_t end;
    if (!api_page_take(call, ACCOUNTS_TOKENS_CURSOR_KIND, true, &page, &cursor))
        return;
    db_status_t status =
        db_own_tokens_json(call->api->db, call->user->id, &page, &json, &len, &end);
    if (status != DB_OK) {
        api_reply_not_ok(call->req, status, "token");
        return;
    }
    api_reply_list(call, NULL, NULL, "tokens", json, len, ACCOUNTS_TOKENS_CURSOR_KIND, &end);
}

void
accounts_token_create(api_call_t *call)
{
    http_request_t *req = call->req;
    json_in_doc_t *doc = s_read(call);
    if (doc == NULL)
        return;
    static const char *const keys[] = {"label", "expires_in_days", NULL};
    const json_in_value_t *root = json_in_root(doc);
    const char *label = NULL;
    long long days = -1;
    if (!s_members_known(req, root, keys) ||
        (label = s_text_member(req, root, "label", ACCOUNTS_LABEL_MAX, true)) == NULL ||
        (days = s_int_member(req, root, "expires_in_days", 1, 365, 90)) < 0)
        goto done;
    char token[SECRET_SIZE], id[37], expires_at[DB_TIME_SIZE];
    uint8_t hash[32];
    if (secret_new(ACCOUNTS_TOKEN_PREFIX, token) != 0) {
        http_reply_problem(req, 500, NULL, "cannot make a token");
        goto done;
    }
    secret_sha256(token, strlen(token), hash);
    db_status_t status =
        db_own_token_create(call->api->db, call->user->id, hash, label, days, id, expires_at);
    if (status == DB_LIMIT) {
        api_reply_conflict(req, NULL,
                           "you hold "
                           "50 unrevoked tokens: revoke one first");
    } else if (status != DB_OK) {
        api_reply_unavailable(req, "the database");
    } else {
        s_reply_secret(req, id, token, "label", label, expires_at, NULL);
    }
    explicit_bzero(token, sizeof token);
done:
    json_in_free(&doc);
}

void
accounts_token_revoke(api_call_t *call)
{
    db_status_t status =
        db_own_token_revoke(call->api->db, call->user->id, route_text(call->route, "id"));
    if (status == DB_OK)
        http_reply(call->req, 204, NULL, NULL, NULL, 0);
    else
        api_reply_not_ok(call->req, status, "token");
}

void
accounts_invitation_create(api_call_t *call)
{
    http_request_t *req = call->req;
    json_in_doc_t *doc = s_read(call);
    if (doc == NULL)
        return;
    static const char *const keys[] = {"role", "expires_in_hours", NULL};
    const json_in_value_t *root = json_in_root(doc);
    const char *role_name = NULL;
    long long hours = -1;
    auth_role_t role;
    if (!s_members_known(req, root, keys) ||
        (role_name = s_text_member(req, root, "role", 16, true)) == NULL ||
        (hours = s_int_member(req, root, "expires_in_hours", 1, 720, 72)) < 0)
        goto done;
    if (auth_role_parse(role_name, &role) != 0) {
        http_reply_problem(req, 400, NULL, "\"role\" must be teacher, student or admin");
        goto done;
    }
    if (call->user->role != AUTH_ROLE_ADMIN && role != AUTH_ROLE_STUDENT) {
        http_reply_problem(req, 403, NULL, "teachers may invite students only");
        goto done;
    }
    char token[SECRET_SIZE], id[37], expires_at[DB_TIME_SIZE];
    uint8_t hash[32];
    if (secret_new(ACCOUNTS_INVITE_PREFIX, token) != 0) {
        http_reply_problem(req, 500, NULL, "cannot make an invitation");
        goto done;
    }
    secret_sha256(token, strlen(token), hash);
    if (db_invitation_create(call->api->db, hash, role_name, call->user->id, hours, id,
                             expires_at) != DB_OK) {
        api_reply_unavailable(req, "the database");
    } else {
        char url[96];
        snprintf(url, sizeof url, "/#invite=%s", token);
        s_reply_secret(req, id, token, "role", role_name, expires_at, url);
    }
    explicit_bzero(token, sizeof token);
done:
    json_in_free(&doc);
}

void
accounts_invitation_accept(api_call_t *call)
{
    accounts_t *self = call->api->accounts;
    http_request_t *req = call->req;
    limits_t *limits = call->api->limits;
    const char *token = route_text(call->route, "token");
    if (self == NULL) {
        http_reply_problem(req, 404, NULL, "no such resource");
        return;
    }
    if (limits != NULL && !limits_auth_allowed(limits, req))
        return;
    if (!secret_wellformed(ACCOUNTS_INVITE_PREFIX, token, strlen(token))) {
        if (limits != NULL)
            limits_auth_failed(limits, req);
        http_reply_problem(req, 404, NULL, "no invitation with this token");
        return;
    }
    json_in_doc_t *doc = s_read(call);
    if (doc == NULL)
        return;
    static const char *const keys[] = {"name", "password", NULL};
    const json_in_value_t *root = json_in_root(doc);
    const char *name = NULL;
    const json_in_value_t *pw = NULL;
    if (!s_members_known(req, root, keys) ||
        (name = s_text_member(req, root, "name", ACCOUNTS_NAME_MAX, true)) == NULL)
        goto done;
    if (!s_name_ok(name)) {
        http_reply_problem(req, 400, NULL,
                           "\"name\" must be 1 to 64 characters from A-Z a-z 0-9 . _ - @");
        goto done;
    }
    pw = json_in_member(root, "password");
    if (pw == NULL || pw->type != JSON_IN_STRING || !password_acceptable(pw->text, pw->len)) {
        http_reply_problem(req, 400, NULL, "\"password\" must be %d to %d bytes of text",
                           PASSWORD_MIN, PASSWORD_MAX);
        goto done;
    }
    /* Hashing is as costly as checking: the same bound on concurrency. */
    if (s_password_slot_take(self) != 0) {
        api_reply_unavailable(req, "password hashing");
        goto done;
    }
    char hash_text[PASSWORD_HASH_SIZE];
    int hashed =
        password_hash(pw->text, pw->len, self->cfg.opslimit, self->cfg.memlimit, hash_text);
    sem_post(&self->password_slots);
    if (hashed != 0) {
        api_reply_unavailable(req, "memory for hashing the password");
        goto done;
    }
    uint8_t hash[32];
    secret_sha256(token, strlen(token), hash);
    db_user_t user;
    db_status_t status = db_invitation_accept(call->api->db, hash, name, hash_text, &user);
    if (status == DB_NOT_FOUND) {
        if (limits != NULL)
            limits_auth_failed(limits, req);
        http_reply_problem(req, 404, NULL,
                           "no invitation with this token (or it was used, or "
                           "it has expired)");
    } else if (status == DB_CONFLICT) {
        api_reply_conflict(req, NULL, "this name is taken: choose another");
    } else if (status != DB_OK) {
        api_reply_unavailable(req, "the database");
    } else {
        log_info("invitation accepted: user %s (%s)", user.name, user.role);
        json_t j;
        json_init(&j);
        s_user_object(&j, user.id, user.name, user.role);
        api_reply_json(req, 201, NULL, &j);
    }
done:
    json_in_free(&doc);
}
