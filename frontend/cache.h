/*
 * cache.h - a bounded, thread-safe, in-process cache of immutable byte strings (serialised
 * course and quiz documents), least recently used first out, with a time to live.
 *
 * The frontend serves the same course and quiz to thousands of students: a fresh item is
 * answered without PostgreSQL. An item past its TTL is "stale": the caller asks PostgreSQL
 * again, and may still serve the stale item when PostgreSQL cannot answer (an outage), so
 * expired items are kept until the byte budget evicts them or the caller removes them.
 *
 * Items are reference counted: a reader keeps its item (and can write it to a slow client)
 * while another thread replaces or evicts it; memory is freed by the last release.
 */
#ifndef PROFAI_FRONTEND_CACHE_H
#define PROFAI_FRONTEND_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cache_t cache_t;
typedef struct cache_item_t cache_item_t;

typedef struct {
    uint64_t hits;      /* fresh items returned */
    uint64_t stale;     /* expired items returned */
    uint64_t misses;    /* lookups that found nothing */
    uint64_t evictions; /* items dropped to stay within max_bytes */
    uint64_t led;       /* flights led: misses that asked the source (cache_flight_join) */
    uint64_t shared;    /* answers taken from another caller's flight */
    uint64_t alone;     /* joiners that asked on their own (leader failed or was too slow) */
    size_t waiting;     /* joiners waiting for a flight now */
    size_t items;
    size_t bytes;
} cache_stats_t;

/* A cache holding at most max_bytes (keys, data and bookkeeping counted); items are fresh for
 * ttl_ms after they are stored. max_bytes 0 disables it (every get misses, puts store
 * nothing). NULL when out of memory. */
cache_t *cache_new(size_t max_bytes, int ttl_ms);
void cache_destroy(cache_t **self_p);

/* The item stored under key, or NULL. On success the caller holds a reference and must call
 * cache_item_release; *fresh (may be NULL) tells whether the item is within its TTL. */
cache_item_t *cache_get(cache_t *self, const char *key, bool *fresh);

/* Store data under key with its etag (copied; may be NULL), replacing any older item, and
 * evicting the least recently used items beyond max_bytes. Takes ownership of *data_p (a
 * malloc'd buffer of len bytes) and sets it to NULL, whatever happens. Returns the new item
 * with a reference held by the caller (to serve it), or NULL when out of memory (the data is
 * freed then). When the cache is off or the item alone would take more than an eighth of
 * max_bytes, the item is returned but not kept (and any older item under key is removed). */
cache_item_t *cache_put(cache_t *self, const char *key, char **data_p, size_t len,
                        const char *etag);

/* cache_put with its own time to live (ttl_ms instead of the cache's; 0: returned, not kept). */
cache_item_t *cache_put_ttl(cache_t *self, const char *key, char **data_p, size_t len,
                            const char *etag, int ttl_ms);

/* Make an item fresh again for another TTL (when its source was checked to be unchanged). */
void cache_touch(cache_t *self, cache_item_t *item);

/* Forget key (no-op when absent); readers holding the item keep it. */
void cache_remove(cache_t *self, const char *key);

/* Forget every key that starts with prefix (walks every item: for rare events such as a
 * deletion). */
void cache_remove_prefix(cache_t *self, const char *prefix);

/* Forget every key that starts with prefix and ends with suffix (walks every item, as above). */
void cache_remove_matching(cache_t *self, const char *prefix, const char *suffix);

void cache_stats(cache_t *self, cache_stats_t *stats);

/* Single flight: concurrent misses of one key ask the source (PostgreSQL) once.
 *
 * A caller that missed joins the flight of key (any string naming the question; callers put
 * in it whatever must match for an answer to be shared). The first caller leads
 * (CACHE_FLIGHT_LEAD): it asks, then must call cache_flight_land exactly once, with the item
 * it got (NULL when it failed or its answer must not be shared). The others wait up to
 * wait_ms for that: CACHE_FLIGHT_SHARED with *item holding a reference to the leader's item,
 * or CACHE_FLIGHT_ALONE (the leader failed, shared nothing, or took longer than wait_ms): the
 * caller asks on its own (without landing). A waiter never waits longer than wait_ms. */
typedef enum {
    CACHE_FLIGHT_LEAD,
    CACHE_FLIGHT_SHARED,
    CACHE_FLIGHT_ALONE,
} cache_flight_t;

cache_flight_t cache_flight_join(cache_t *self, const char *key, int wait_ms, cache_item_t **item);

/* End the flight of key led by the caller: its waiters take item (a reference each; the
 * caller keeps its own) or, when item is NULL, go ask on their own. */
void cache_flight_land(cache_t *self, const char *key, cache_item_t *item);

/* Drop a reference (accepts NULL; sets *item_p to NULL). */
void cache_item_release(cache_item_t **item_p);

/* The item's data (borrowed while the reference is held) and its length. */
const char *cache_item_data(const cache_item_t *item, size_t *len);

/* The item's etag ("" when none), borrowed while the reference is held. */
const char *cache_item_etag(const cache_item_t *item);

#endif
