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
    int64_t expires_ms;
    bool used;
} s_entry_t;

struct auth_t {
    db_pool_t *db;
    int ttl_ms;
    pthread_mutex_t lock;
    s_entry_t *cache; /* AUTH_CACHE_SLOTS entries, NULL when the cache is off */
};

auth_t *
auth_new(db_pool_t *db, int cache_ttl_ms)
{
    auth_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->db = db;
    self->ttl_ms = cache_ttl_ms;
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

/* The cached user of a token hash: within its TTL, or (stale) expired less than
 * AUTH_STALE_GRACE_MS ago. */
static bool
s_cache_get(auth_t *self, const uint8_t hash[32], bool stale, auth_user_t *user)
{
    if (self->cache == NULL)
        return false;
    bool hit = false;
    int64_t now = zclock_mono();
    pthread_mutex_lock(&self->lock);
    s_entry_t *e = &self->cache[s_slot(hash)];
    if (e->used && memcmp(e->hash, hash, 32) == 0) {
        if (e->expires_ms > now || (stale && e->expires_ms + AUTH_STALE_GRACE_MS > now)) {
            *user = e->user;
            hit = true;
        } else if (e->expires_ms + AUTH_STALE_GRACE_MS <= now) {
            e->used = false;
        }
    }
    pthread_mutex_unlock(&self->lock);
    return hit;
}

static void
s_cache_put(auth_t *self, const uint8_t hash[32], const auth_user_t *user)
{
    if (self->cache == NULL)
        return;
    pthread_mutex_lock(&self->lock);
    s_entry_t *e = &self->cache[s_slot(hash)];
    memcpy(e->hash, hash, 32);
    e->user = *user;
    e->expires_ms = zclock_mono() + self->ttl_ms;
    e->used = true;
    pthread_mutex_unlock(&self->lock);
}

auth_result_t
auth_check(auth_t *self, const char *authorization, auth_user_t *user)
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

    uint8_t hash[32];
    gsize hash_len = sizeof hash;
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    g_checksum_update(sum, (const guchar *)p, (gssize)len);
    g_checksum_get_digest(sum, hash, &hash_len);
    g_checksum_free(sum);

    if (s_cache_get(self, hash, false, user))
        return AUTH_OK;
    db_user_t found;
    db_status_t status = db_token_user(self->db, hash, &found);
    if (status == DB_UNAVAILABLE) /* an outage: a token seen lately is still good */
        return s_cache_get(self, hash, true, user) ? AUTH_OK : AUTH_UNAVAILABLE;
    if (status == DB_NOT_FOUND || auth_role_parse(found.role, &user->role) != 0)
        return AUTH_INVALID;
    memcpy(user->id, found.id, sizeof user->id);
    memcpy(user->name, found.name, sizeof user->name);
    s_cache_put(self, hash, user);
    return AUTH_OK;
}
