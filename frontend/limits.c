/* limits.c - see limits.h. */
#define _GNU_SOURCE
#include "limits.h"

#include "ratelimit.h"

#include <civetweb.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct limits_t {
    ratelimit_t *reads;
    ratelimit_t *uploads;
    ratelimit_t *auth_fails;
    char *trusted; /* ",a,b," for a whole-word search; NULL when none */
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
    if (cfg->trusted_proxies != NULL && cfg->trusted_proxies[0] != '\0') {
        if (asprintf(&self->trusted, ",%s,", cfg->trusted_proxies) < 0)
            self->trusted = NULL;
        else /* spaces are separators too */
            for (char *p = self->trusted; *p; p++)
                if (*p == ' ')
                    *p = ',';
        if (self->trusted == NULL) {
            limits_destroy(&self);
            return NULL;
        }
    }
    if (self->reads == NULL || self->uploads == NULL || self->auth_fails == NULL) {
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
    free(self->trusted);
    free(self);
    *self_p = NULL;
}

static bool
s_trusted(const limits_t *self, const char *addr)
{
    if (self->trusted == NULL || addr[0] == '\0' || strchr(addr, ',') != NULL)
        return false;
    char needle[64];
    snprintf(needle, sizeof needle, ",%s,", addr);
    return strstr(self->trusted, needle) != NULL;
}

void
limits_client_addr(limits_t *self, http_request_t *req, char *buf, size_t size)
{
    const struct mg_request_info *ri = mg_get_request_info(req->conn);
    const char *peer = ri && ri->remote_addr[0] ? ri->remote_addr : "";
    snprintf(buf, size, "%s", peer);
    const char *xff = http_header(req, "X-Forwarded-For");
    if (xff == NULL || !s_trusted(self, peer))
        return;
    /* The proxy appends the address it saw: the last entry is the one it vouches for. */
    const char *last = strrchr(xff, ',');
    last = last ? last + 1 : xff;
    last += strspn(last, " \t");
    size_t len = strcspn(last, " \t");
    if (len > 0 && len < size && len < 64)
        snprintf(buf, size, "%.*s", (int)len, last);
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
    limits_client_addr(self, req, addr, sizeof addr);
    ratelimit_verdict_t v;
    if (ratelimit_peek(self->auth_fails, addr, zclock_mono(), &v))
        return true;
    s_refuse(req, &v, "failed authentications from this address");
    return false;
}

void
limits_auth_failed(limits_t *self, http_request_t *req)
{
    char addr[64];
    limits_client_addr(self, req, addr, sizeof addr);
    /* An empty bucket refuses the next request before it is looked up; nothing else to do. */
    (void)!ratelimit_take(self->auth_fails, addr, zclock_mono(), NULL);
}

bool
limits_request_allowed(limits_t *self, http_request_t *req, const char *user_id, bool upload)
{
    ratelimit_verdict_t v;
    ratelimit_t *bucket = upload ? self->uploads : self->reads;
    if (ratelimit_take(bucket, user_id, zclock_mono(), &v))
        return true;
    s_refuse(req, &v, upload ? "uploads" : "requests");
    return false;
}
