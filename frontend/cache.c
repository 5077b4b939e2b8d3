/* cache.c - see cache.h. */
#include "cache.h"

#include <czmq.h> /* zclock_mono: the monotonic clock, in ms */
#include <errno.h>
#include <glib.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What an item costs beyond its key and data: the struct, the hash table slot, allocator
 * headers. Counted so that many small items cannot exceed the budget unseen. */
#define CACHE_ITEM_OVERHEAD 160

struct cache_item_t {
    char *key;
    char *data;
    size_t len;
    char *etag;
    size_t cost;        /* bytes counted against max_bytes */
    int64_t expires_ms; /* monotonic */
    int refs;           /* atomic: the table's reference plus one per reader */
    cache_item_t *prev; /* LRU list, most recent first; guarded by the cache lock */
    cache_item_t *next;
};

struct cache_t {
    size_t max_bytes;
    int ttl_ms;
    pthread_mutex_t lock;
    GHashTable *index; /* key (the item's own) -> item */
    cache_item_t *head;
    cache_item_t *tail;
    size_t bytes;
    cache_stats_t stats;
    GHashTable *flights; /* key (the flight's own) -> cache_flight_state_t in the air */
};

/* One question in flight (cache_flight_join): guarded by the cache lock. */
typedef struct {
    char *key;
    int refs; /* the table's (until landed) plus one per waiter */
    bool landed;
    cache_item_t *item; /* the leader's answer (a reference), or NULL */
    pthread_cond_t cond;
} cache_flight_state_t;

static void
s_item_free(cache_item_t *item)
{
    free(item->key);
    free(item->data);
    free(item->etag);
    free(item);
}

static void
s_item_ref(cache_item_t *item)
{
    __atomic_add_fetch(&item->refs, 1, __ATOMIC_RELAXED);
}

void
cache_item_release(cache_item_t **item_p)
{
    if (item_p == NULL || *item_p == NULL)
        return;
    if (__atomic_sub_fetch(&(*item_p)->refs, 1, __ATOMIC_ACQ_REL) == 0)
        s_item_free(*item_p);
    *item_p = NULL;
}

const char *
cache_item_data(const cache_item_t *item, size_t *len)
{
    *len = item->len;
    return item->data;
}

const char *
cache_item_etag(const cache_item_t *item)
{
    return item->etag ? item->etag : "";
}

cache_t *
cache_new(size_t max_bytes, int ttl_ms)
{
    cache_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->index = g_hash_table_new(g_str_hash, g_str_equal);
    if (self->index == NULL) {
        free(self);
        return NULL;
    }
    self->flights = g_hash_table_new(g_str_hash, g_str_equal);
    self->max_bytes = max_bytes;
    self->ttl_ms = ttl_ms;
    pthread_mutex_init(&self->lock, NULL);
    return self;
}

/* Unlink an item from the list and the index and drop the table's reference. Lock held. */
static void
s_unlink(cache_t *self, cache_item_t *item)
{
    if (item->prev != NULL)
        item->prev->next = item->next;
    else
        self->head = item->next;
    if (item->next != NULL)
        item->next->prev = item->prev;
    else
        self->tail = item->prev;
    item->prev = item->next = NULL;
    g_hash_table_remove(self->index, item->key);
    self->bytes -= item->cost;
    self->stats.items--;
    cache_item_release(&item);
}

static void
s_push_front(cache_t *self, cache_item_t *item)
{
    item->prev = NULL;
    item->next = self->head;
    if (self->head != NULL)
        self->head->prev = item;
    self->head = item;
    if (self->tail == NULL)
        self->tail = item;
}

void
cache_destroy(cache_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    cache_t *self = *self_p;
    while (self->head != NULL)
        s_unlink(self, self->head);
    g_hash_table_destroy(self->index);
    /* Flights still in the air are their callers' to land: none by now (every caller ended). */
    g_hash_table_destroy(self->flights);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

cache_item_t *
cache_get(cache_t *self, const char *key, bool *fresh)
{
    pthread_mutex_lock(&self->lock);
    cache_item_t *item = g_hash_table_lookup(self->index, key);
    if (item == NULL) {
        self->stats.misses++;
        pthread_mutex_unlock(&self->lock);
        return NULL;
    }
    bool is_fresh = item->expires_ms > zclock_mono();
    if (is_fresh)
        self->stats.hits++;
    else
        self->stats.stale++;
    if (item != self->head) { /* most recently used goes first */
        item->prev->next = item->next;
        if (item->next != NULL)
            item->next->prev = item->prev;
        else
            self->tail = item->prev;
        s_push_front(self, item);
    }
    s_item_ref(item);
    pthread_mutex_unlock(&self->lock);
    if (fresh != NULL)
        *fresh = is_fresh;
    return item;
}

cache_item_t *
cache_put(cache_t *self, const char *key, char **data_p, size_t len, const char *etag)
{
    return cache_put_ttl(self, key, data_p, len, etag, self->ttl_ms);
}

cache_item_t *
cache_put_ttl(cache_t *self, const char *key, char **data_p, size_t len, const char *etag,
              int ttl_ms)
{
    char *data = *data_p;
    *data_p = NULL;
    size_t cost = strlen(key) + len + (etag ? strlen(etag) : 0) + CACHE_ITEM_OVERHEAD;
    cache_item_t *item = calloc(1, sizeof *item);
    if (item == NULL) {
        free(data);
        return NULL;
    }
    item->key = strdup(key);
    item->etag = etag ? strdup(etag) : NULL;
    item->data = data;
    item->len = len;
    item->cost = cost;
    item->refs = 1; /* the caller's */
    if (item->key == NULL || (etag != NULL && item->etag == NULL)) {
        s_item_free(item);
        return NULL;
    }
    pthread_mutex_lock(&self->lock);
    if (self->max_bytes == 0 || ttl_ms <= 0 || cost > self->max_bytes / 8) {
        /* Too big to be worth a share of the budget: the caller still serves it. Whatever the
         * cache held under key is older, so it goes. */
        cache_item_t *old = g_hash_table_lookup(self->index, key);
        if (old != NULL)
            s_unlink(self, old);
        pthread_mutex_unlock(&self->lock);
        return item;
    }
    item->refs = 2; /* and the table's */
    item->expires_ms = zclock_mono() + ttl_ms;
    cache_item_t *old = g_hash_table_lookup(self->index, key);
    if (old != NULL)
        s_unlink(self, old);
    while (self->tail != NULL && self->bytes + cost > self->max_bytes) {
        s_unlink(self, self->tail);
        self->stats.evictions++;
    }
    g_hash_table_insert(self->index, item->key, item);
    s_push_front(self, item);
    self->bytes += cost;
    self->stats.items++;
    pthread_mutex_unlock(&self->lock);
    return item;
}

void
cache_touch(cache_t *self, cache_item_t *item)
{
    pthread_mutex_lock(&self->lock);
    item->expires_ms = zclock_mono() + self->ttl_ms;
    pthread_mutex_unlock(&self->lock);
}

void
cache_remove(cache_t *self, const char *key)
{
    pthread_mutex_lock(&self->lock);
    cache_item_t *item = g_hash_table_lookup(self->index, key);
    if (item != NULL)
        s_unlink(self, item);
    pthread_mutex_unlock(&self->lock);
}

void
cache_remove_prefix(cache_t *self, const char *prefix)
{
    size_t n = strlen(prefix);
    pthread_mutex_lock(&self->lock);
    cache_item_t *item = self->head;
    while (item != NULL) {
        cache_item_t *next = item->next;
        if (strncmp(item->key, prefix, n) == 0)
            s_unlink(self, item);
        item = next;
    }
    pthread_mutex_unlock(&self->lock);
}

void
cache_remove_matching(cache_t *self, const char *prefix, const char *suffix)
{
    size_t n = strlen(prefix), m = strlen(suffix);
    pthread_mutex_lock(&self->lock);
    cache_item_t *item = self->head;
    while (item != NULL) {
        cache_item_t *next = item->next;
        size_t len = strlen(item->key);
        if (len >= n + m && strncmp(item->key, prefix, n) == 0 &&
            memcmp(item->key + len - m, suffix, m) == 0)
            s_unlink(self, item);
        item = next;
    }
    pthread_mutex_unlock(&self->lock);
}

void
cache_stats(cache_t *self, cache_stats_t *stats)
{
    pthread_mutex_lock(&self->lock);
    *stats = self->stats;
    stats->bytes = self->bytes;
    pthread_mutex_unlock(&self->lock);
}

/* Drop a reference to a flight; the last frees it. Lock held. */
static void
s_flight_unref(cache_flight_state_t *flight)
{
    if (--flight->refs > 0)
        return;
    cache_item_release(&flight->item);
    pthread_cond_destroy(&flight->cond);
    free(flight->key);
    free(flight);
}

cache_flight_t
cache_flight_join(cache_t *self, const char *key, int wait_ms, cache_item_t **item)
{
    *item = NULL;
    pthread_mutex_lock(&self->lock);
    cache_flight_state_t *flight = g_hash_table_lookup(self->flights, key);
    if (flight == NULL) {
        flight = calloc(1, sizeof *flight);
        char *own = flight ? strdup(key) : NULL;
        pthread_condattr_t attr;
        if (own == NULL || pthread_condattr_init(&attr) != 0) {
            free(own);
            free(flight);
            self->stats.alone++;
            pthread_mutex_unlock(&self->lock);
            return CACHE_FLIGHT_ALONE; /* out of memory: ask, share nothing */
        }
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&flight->cond, &attr);
        pthread_condattr_destroy(&attr);
        flight->key = own;
        flight->refs = 1;
        g_hash_table_insert(self->flights, flight->key, flight);
        self->stats.led++;
        pthread_mutex_unlock(&self->lock);
        return CACHE_FLIGHT_LEAD;
    }
    flight->refs++;
    self->stats.waiting++;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    int64_t ns = deadline.tv_nsec + (int64_t)(wait_ms > 0 ? wait_ms : 0) * 1000000;
    deadline.tv_sec += (time_t)(ns / 1000000000);
    deadline.tv_nsec = (long)(ns % 1000000000);
    while (!flight->landed) {
        if (pthread_cond_timedwait(&flight->cond, &self->lock, &deadline) == ETIMEDOUT)
            break;
    }
    self->stats.waiting--;
    cache_flight_t got = CACHE_FLIGHT_ALONE;
    if (flight->landed && flight->item != NULL) {
        s_item_ref(flight->item);
        *item = flight->item;
        got = CACHE_FLIGHT_SHARED;
        self->stats.shared++;
    } else {
        self->stats.alone++;
    }
    s_flight_unref(flight);
    pthread_mutex_unlock(&self->lock);
    return got;
}

void
cache_flight_land(cache_t *self, const char *key, cache_item_t *item)
{
    pthread_mutex_lock(&self->lock);
    cache_flight_state_t *flight = g_hash_table_lookup(self->flights, key);
    if (flight != NULL) {
        g_hash_table_remove(self->flights, flight->key);
        flight->landed = true;
        if (item != NULL) {
            s_item_ref(item);
            flight->item = item;
        }
        pthread_cond_broadcast(&flight->cond);
        s_flight_unref(flight);
    }
    pthread_mutex_unlock(&self->lock);
}
