/* limits.c - see limits.h. */
#define _GNU_SOURCE
#include "limits.h"

#include "ratelimit.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct limits_t {
    ratelimit_t *reads;
    ratelimit_t *uploads;
    ratelimit_t *auth_fails;
    ratelimit_t *signin_names;    /* failed sign-ins by user name */
    ratelimit_t *signin_addrs;    /* failed sign-ins by client address */
    ratelimit_t *blocked_lookups; /* one key: every blocked address together */
    db_pool_t *db;
    long upload_rate, upload_burst;
};

limits_t *
limits_new(const limits_config_t *cfg)
{
    limits_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    size_t keys = cfg->max_keys ? cfg->max_keys : LIMITS_MAX_KEYS;
    self->reads = ratelimit_new(cfg->read_rate, cfg->read_burst, keys);
    self->uploads = ratelimit_new(cfg->upload_rate, cfg->upload_burst, keys);
    self->auth_fails = ratelimit_new(cfg->auth_fail_rate, cfg->auth_fail_burst, keys);
    long signin_rate = cfg->signin_fail_rate ? cfg->signin_fail_rate : LIMITS_SIGNIN_FAIL_RATE;
    long signin_burst = cfg->signin_fail_burst ? cfg->signin_fail_burst : LIMITS_SIGNIN_FAIL_BURST;
    self->signin_names = ratelimit_new(signin_rate, signin_burst, keys);
    self->signin_addrs = ratelimit_new(signin_rate, signin_burst, keys);
    self->blocked_lookups = ratelimit_new(cfg->auth_fail_rate * LIMITS_BLOCKED_LOOKUP_FACTOR,
                                          cfg->auth_fail_burst * LIMITS_BLOCKED_LOOKUP_FACTOR, 1);
    self->db = cfg->db;
    self->upload_rate = cfg->upload_rate;
    self->upload_burst = cfg->upload_burst;
    if (self->reads == NULL || self->uploads == NULL || self->auth_fails == NULL ||
        self->signin_names == NULL || self->signin_addrs == NULL || self->blocked_lookups == NULL) {
        limits_destroy(&self);
        return NULL;
    }
    return self;
}

void
limits_destroy(limits_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    limits_t *self = *self_p;
    ratelimit_destroy(&self->reads);
    ratelimit_destroy(&self->uploads);
    ratelimit_destroy(&self->auth_fails);
    ratelimit_destroy(&self->signin_names);
    ratelimit_destroy(&self->signin_addrs);
    ratelimit_destroy(&self->blocked_lookups);
    free(self);
    *self_p = NULL;
}

/* 429 with the draft's headers and a problem document. */
static void
s_refuse(http_request_t *req, const ratelimit_verdict_t *v, const char *what)
{
    char headers[192];
    snprintf(headers, sizeof headers,
             "Retry-After: %ld\r\nRateLimit-Limit: %ld\r\nRateLimit-Remaining: %ld\r\n"
             "RateLimit-Reset: %ld\r\n",
             v->retry_after, v->limit, v->remaining, v->retry_after);
    http_reply_problem(req, 429, headers, "too many %s; retry in %ld s", what, v->retry_after);
}

bool
limits_auth_allowed(limits_t *self, http_request_t *req)
{
    char addr[64];
    http_client_addr(req, addr, sizeof addr);
    ratelimit_verdict_t v;
    if (ratelimit_peek(self->auth_fails, addr, zclock_mono(), &v))
        return true;
    s_refuse(req, &v, "failed authentications from this address");
    return false;
}

bool
limits_address_blocked(limits_t *self, http_request_t *req)
{
    char addr[64];
    http_client_addr(req, addr, sizeof addr);
    return !ratelimit_peek(self->auth_fails, addr, zclock_mono(), NULL);
}

bool
limits_blocked_lookup(limits_t *self)
{
    return ratelimit_take(self->blocked_lookups, "", zclock_mono(), NULL);
}

void
limits_auth_failed(limits_t *self, http_request_t *req)
{
    char addr[64];
    http_client_addr(req, addr, sizeof addr);
    /* An empty bucket refuses the next request before it is looked up; nothing else to do. */
    (void)!ratelimit_take(self->auth_fails, addr, zclock_mono(), NULL);
}

/* The user's upload budget in PostgreSQL, shared by every frontend: 1 taken, 0 refused (*v
 * filled), -1 when the database could not be asked. */
static int
s_upload_shared(limits_t *self, const char *user_id, ratelimit_verdict_t *v)
{
    char key[64];
    snprintf(key, sizeof key, "upload:%s", user_id);
    bool allowed = false;
    long remaining = 0, retry_after = 0;
    if (db_rate_take(self->db, key, self->upload_rate, self->upload_burst, &allowed, &remaining,
                     &retry_after) != DB_OK)
        return -1;
    if (allowed)
        return 1;
    *v = (ratelimit_verdict_t){.limit = self->upload_burst,
                               .remaining = 0,
                               .reset_s = retry_after,
                               .retry_after = retry_after < 1 ? 1 : retry_after};
    return 0;
}

bool
limits_signin_allowed(limits_t *self, http_request_t *req, const char *name)
{
    char addr[64];
    http_client_addr(req, addr, sizeof addr);
    ratelimit_verdict_t v;
    int64_t now = zclock_mono();
    if (!ratelimit_peek(self->signin_names, name, now, &v)) {
        s_refuse(req, &v, "failed sign-ins for this name");
        return false;
    }
    if (!ratelimit_peek(self->signin_addrs, addr, now, &v)) {
        s_refuse(req, &v, "failed sign-ins from this address");
        return false;
    }
    return true;
}

void
limits_signin_failed(limits_t *self, http_request_t *req, const char *name)
{
    char addr[64];
    http_client_addr(req, addr, sizeof addr);
    int64_t now = zclock_mono();
    /* An empty bucket refuses the next sign-in before its password is checked. */
    (void)!ratelimit_take(self->signin_names, name, now, NULL);
    (void)!ratelimit_take(self->signin_addrs, addr, now, NULL);
}

bool
limits_request_allowed(limits_t *self, http_request_t *req, const char *user_id, bool upload)
{
    ratelimit_verdict_t v;
    if (upload && self->db != NULL) {
        int shared = s_upload_shared(self, user_id, &v);
        if (shared == 1)
            return true;
        if (shared == 0) {
            s_refuse(req, &v, "uploads");
            return false;
        }
        /* The database cannot be asked: this frontend's own bucket stands in. */
    }
    ratelimit_t *bucket = upload ? self->uploads : self->reads;
    if (ratelimit_take(bucket, user_id, zclock_mono(), &v))
        return true;
    s_refuse(req, &v, upload ? "uploads" : "requests");
    return false;
}
