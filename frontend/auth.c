/* auth.c - see auth.h. */
#include "auth.h"

#include <czmq.h> /* zclock_mono: the monotonic clock, in ms */
#include <glib.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Direct-mapped cache: a token's hash picks its slot, a newcomer evicts the old entry. Bounded
 * memory and O(1) under one short lock. */
#define AUTH_CACHE_SLOTS 1024

typedef struct {
    uint8_t hash[32];
    auth_user_t user;
    int64_t verified_ms;    /* monotonic: when the database last said the token is valid */
    long long expires_wall; /* the token's expires_at, ms since the Unix epoch; 0: never */
    bool used;
} s_entry_t;

struct auth_t {
    db_pool_t *db;
    int ttl_ms;
    int max_stale_ms;
    pthread_mutex_t lock;
    s_entry_t *cache;    /* AUTH_CACHE_SLOTS entries, NULL when the cache is off */
    uint64_t generation; /* bumped by every eviction; guarded by lock */
    int64_t heard_ms;    /* the listener's last confirmation (monotonic); guarded by lock */
};

auth_t *
auth_new(db_pool_t *db, int cache_ttl_ms, int max_stale_ms)
{
    auth_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->db = db;
    self->ttl_ms = cache_ttl_ms;
    self->max_stale_ms = max_stale_ms;
    if (cache_ttl_ms > 0) {
        self->cache = calloc(AUTH_CACHE_SLOTS, sizeof *self->cache);
        if (self->cache == NULL) {
            free(self);
            return NULL;
        }
    }
    pthread_mutex_init(&self->lock, NULL);
    return self;
}

void
auth_destroy(auth_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    auth_t *self = *self_p;
    pthread_mutex_destroy(&self->lock);
    free(self->cache);
    free(self);
    *self_p = NULL;
}

const char *
auth_role_name(auth_role_t role)
{
    switch (role) {
    case AUTH_ROLE_TEACHER:
        return "teacher";
    case AUTH_ROLE_STUDENT:
        return "student";
    case AUTH_ROLE_ADMIN:
        return "admin";
    }
    return "unknown";
}

int
auth_role_parse(const char *name, auth_role_t *role)
{
    static const auth_role_t roles[] = {AUTH_ROLE_TEACHER, AUTH_ROLE_STUDENT, AUTH_ROLE_ADMIN};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (strcmp(name, auth_role_name(roles[i])) == 0) {
            *role = roles[i];
            return 0;
        }
    }
    return -1;
}

bool
auth_token_wellformed(const char *s, size_t len)
{
    size_t prefix = strlen(AUTH_TOKEN_PREFIX);
    if (len != AUTH_TOKEN_LEN || strncmp(s, AUTH_TOKEN_PREFIX, prefix) != 0)
        return false;
    for (size_t i = prefix; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

static size_t
s_slot(const uint8_t hash[32])
{
    uint32_t v;
    memcpy(&v, hash, sizeof v);
    return v % AUTH_CACHE_SLOTS;
}

static long long
s_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The cached user of a token hash, if it may be trusted now: verified within the TTL, and
 * revocations heard within max_stale_ms. *expired: the cached token has passed its expiry. */
static bool
s_cache_get(auth_t *self, const uint8_t hash[32], auth_user_t *user, bool *expired)
{
    *expired = false;
    if (self->cache == NULL)
        return false;
    bool hit = false;
    int64_t now = zclock_mono();
    pthread_mutex_lock(&self->lock);
    s_entry_t *e = &self->cache[s_slot(hash)];
    if (e->used && memcmp(e->hash, hash, 32) == 0) {
        bool fresh = now - e->verified_ms < self->ttl_ms;
        bool heard = self->heard_ms != 0 && now - self->heard_ms <= self->max_stale_ms;
        if (e->expires_wall != 0 && s_wall_ms() >= e->expires_wall) {
            *expired = true;
            e->used = false;
        } else if (fresh && heard) {
            *user = e->user;
            hit = true;
        } else if (!fresh) {
            e->used = false;
        }
    }
    pthread_mutex_unlock(&self->lock);
    return hit;
}

static uint64_t
s_generation(auth_t *self)
{
    pthread_mutex_lock(&self->lock);
    uint64_t g = self->generation;
    pthread_mutex_unlock(&self->lock);
    return g;
}

/* Cache a token the database vouched for, unless an eviction happened since the lookup began
 * (generation): the revocation may have been announced while the answer was on its way. */
static void
s_cache_put(auth_t *self, const uint8_t hash[32], const auth_user_t *user, long long expires_wall,
            uint64_t generation)
{
    if (self->cache == NULL)
        return;
    pthread_mutex_lock(&self->lock);
    if (generation == self->generation) {
        s_entry_t *e = &self->cache[s_slot(hash)];
        memcpy(e->hash, hash, 32);
        e->user = *user;
        e->verified_ms = zclock_mono();
        e->expires_wall = expires_wall;
        e->used = true;
    }
    pthread_mutex_unlock(&self->lock);
}

void
auth_evict(auth_t *self, const uint8_t hash[32])
{
    pthread_mutex_lock(&self->lock);
    self->generation++;
    if (self->cache != NULL) {
        s_entry_t *e = &self->cache[s_slot(hash)];
        if (e->used && memcmp(e->hash, hash, 32) == 0)
            e->used = false;
    }
    pthread_mutex_unlock(&self->lock);
}

void
auth_flush(auth_t *self)
{
    pthread_mutex_lock(&self->lock);
    self->generation++;
    if (self->cache != NULL)
        memset(self->cache, 0, AUTH_CACHE_SLOTS * sizeof *self->cache);
    pthread_mutex_unlock(&self->lock);
}

void
auth_heard(auth_t *self, int64_t mono_ms)
{
    pthread_mutex_lock(&self->lock);
    if (mono_ms > self->heard_ms)
        self->heard_ms = mono_ms;
    pthread_mutex_unlock(&self->lock);
}

/* The SHA-256 of the bearer token in an Authorization header value: AUTH_OK, AUTH_MISSING or
 * AUTH_MALFORMED. */
static auth_result_t
s_token_hash(const char *authorization, uint8_t hash[32])
{
    if (authorization == NULL)
        return AUTH_MISSING;
    const char *p = authorization + strspn(authorization, " \t");
    if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
        return AUTH_MISSING;
    p += 6;
    p += strspn(p, " \t");
    size_t len = strcspn(p, " \t");
    if (p[len + strspn(p + len, " \t")] != '\0' || !auth_token_wellformed(p, len))
        return AUTH_MALFORMED;
    gsize hash_len = 32;
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(sum, (const guchar *)p, (gssize)len);
    g_checksum_get_digest(sum, hash, &hash_len);
    g_checksum_free(sum);
    return AUTH_OK;
}

auth_result_t
auth_check_cached(auth_t *self, const char *authorization, auth_user_t *user)
{
    uint8_t hash[32];
    auth_result_t parsed = s_token_hash(authorization, hash);
    if (parsed != AUTH_OK)
        return parsed;
    bool expired = false;
    if (s_cache_get(self, hash, user, &expired))
        return AUTH_OK;
    return expired ? AUTH_EXPIRED : AUTH_INVALID;
}

auth_result_t
auth_check(auth_t *self, const char *authorization, auth_user_t *user)
{
    uint8_t hash[32];
    auth_result_t parsed = s_token_hash(authorization, hash);
    if (parsed != AUTH_OK)
        return parsed;

    bool expired = false;
    if (s_cache_get(self, hash, user, &expired))
        return AUTH_OK;
    if (expired)
        return AUTH_EXPIRED;
    uint64_t generation = s_generation(self);
    db_user_t found;
    db_status_t status = db_token_user(self->db, hash, &found);
    if (status == DB_UNAVAILABLE)
        return AUTH_UNAVAILABLE;
    if (status == DB_NOT_FOUND || auth_role_parse(found.role, &user->role) != 0)
        return AUTH_INVALID;
    if (found.expired)
        return AUTH_EXPIRED;
    memcpy(user->id, found.id, sizeof user->id);
    memcpy(user->name, found.name, sizeof user->name);
    s_cache_put(self, hash, user, found.expires_ms, generation);
    return AUTH_OK;
}
