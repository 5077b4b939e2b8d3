/* ratelimit.c - see ratelimit.h. */
#include "ratelimit.h"

#include <glib.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct {
    double tokens;
    int64_t at_ms; /* when tokens was computed */
} s_bucket_t;

struct ratelimit_t {
    pthread_mutex_t lock;
    GHashTable *buckets; /* key (owned) -> s_bucket_t (owned) */
    double per_ms;       /* tokens gained per millisecond */
    double burst;
    size_t max_keys;
};

ratelimit_t *
ratelimit_new(long rate_per_min, long burst, size_t max_keys)
{
    if (rate_per_min <= 0 || burst <= 0 || max_keys == 0)
        return NULL;
    ratelimit_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->buckets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    pthread_mutex_init(&self->lock, NULL);
    self->per_ms = (double)rate_per_min / 60000.0;
    self->burst = (double)burst;
    self->max_keys = max_keys;
    return self;
}

void
ratelimit_destroy(ratelimit_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    ratelimit_t *self = *self_p;
    g_hash_table_destroy(self->buckets);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

/* A bucket's tokens at now_ms (a clock that went back counts as no time passing). */
static double
s_tokens_at(const ratelimit_t *self, const s_bucket_t *b, int64_t now_ms)
{
    double gained = now_ms > b->at_ms ? (double)(now_ms - b->at_ms) * self->per_ms : 0.0;
    double tokens = b->tokens + gained;
    return tokens > self->burst ? self->burst : tokens;
}

static long
s_seconds_up(double ms)
{
    return ms <= 0 ? 0 : (long)ceil(ms / 1000.0);
}

static void
s_verdict(const ratelimit_t *self, double tokens, ratelimit_verdict_t *v)
{
    if (v == NULL)
        return;
    v->limit = (long)self->burst;
    v->remaining = (long)floor(tokens);
    v->reset_s = s_seconds_up((self->burst - tokens) / self->per_ms);
    long retry = s_seconds_up((1.0 - tokens) / self->per_ms);
    v->retry_after = retry < 1 ? 1 : retry;
}

/* Drop every full bucket; when none is full, the one touched longest ago. Under the lock. */
static void
s_evict(ratelimit_t *self, int64_t now_ms)
{
    GHashTableIter it;
    gpointer key, value;
    gpointer oldest = NULL;
    int64_t oldest_ms = INT64_MAX;
    size_t dropped = 0;
    g_hash_table_iter_init(&it, self->buckets);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        s_bucket_t *b = value;
        if (s_tokens_at(self, b, now_ms) >= self->burst) {
            g_hash_table_iter_remove(&it);
            dropped++;
        } else if (b->at_ms < oldest_ms) {
            oldest_ms = b->at_ms;
            oldest = key;
        }
    }
    if (dropped == 0 && oldest != NULL)
        g_hash_table_remove(self->buckets, oldest);
}

/* The bucket of key, created full (NULL when out of memory). Under the lock. */
static s_bucket_t *
s_bucket(ratelimit_t *self, const char *key, int64_t now_ms)
{
    s_bucket_t *b = g_hash_table_lookup(self->buckets, key);
    if (b != NULL)
        return b;
    if (g_hash_table_size(self->buckets) >= self->max_keys)
        s_evict(self, now_ms);
    b = g_try_new(s_bucket_t, 1);
    char *copy = g_strdup(key);
    if (b == NULL || copy == NULL) {
        g_free(b);
        g_free(copy);
        return NULL;
    }
    b->tokens = self->burst;
    b->at_ms = now_ms;
    g_hash_table_insert(self->buckets, copy, b);
    return b;
}

bool
ratelimit_take(ratelimit_t *self, const char *key, int64_t now_ms, ratelimit_verdict_t *verdict)
{
    pthread_mutex_lock(&self->lock);
    s_bucket_t *b = s_bucket(self, key, now_ms);
    bool ok;
    if (b == NULL) {
        /* Out of memory: let the request through rather than refuse everyone. */
        ok = true;
        s_verdict(self, self->burst, verdict);
    } else {
        double tokens = s_tokens_at(self, b, now_ms);
        ok = tokens >= 1.0;
        if (ok)
            tokens -= 1.0;
        b->tokens = tokens;
        if (now_ms > b->at_ms)
            b->at_ms = now_ms;
        s_verdict(self, tokens, verdict);
    }
    pthread_mutex_unlock(&self->lock);
    return ok;
}

bool
ratelimit_peek(ratelimit_t *self, const char *key, int64_t now_ms, ratelimit_verdict_t *verdict)
{
    pthread_mutex_lock(&self->lock);
    s_bucket_t *b = g_hash_table_lookup(self->buckets, key);
    double tokens = b != NULL ? s_tokens_at(self, b, now_ms) : self->burst;
    s_verdict(self, tokens, verdict);
    pthread_mutex_unlock(&self->lock);
    return tokens >= 1.0;
}

size_t
ratelimit_size(ratelimit_t *self)
{
    pthread_mutex_lock(&self->lock);
    size_t n = g_hash_table_size(self->buckets);
    pthread_mutex_unlock(&self->lock);
    return n;
}
