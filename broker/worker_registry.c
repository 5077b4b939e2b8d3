/*
 * worker_registry.c - see worker_registry.h. The only place where workers join and leave the
 * idle list (list.h).
 */
#include "worker_registry.h"

#include "log.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct worker_registry_t {
    int64_t expiry_ms; /* heartbeat_ivl * liveness */
    int64_t quiet_ms;  /* heartbeat_ivl * 3 / 4 */
    zhashx_t *workers; /* key -> worker_t (owned by the registry, not by the hash) */
    list_t idle;       /* IDLE workers, least recently used first */
    list_t all;        /* every worker, oldest first */
    list_t quiet;      /* every worker, least recently sent a message first */
};

static const char *const s_state_names[] = {"idle", "reserved", "busy", "unserved"};

static void
s_hex(const uint8_t *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
}

/* 32-bit FNV-1a: a short, stable digest of a whole identity for names (not a secret). */
static uint32_t
s_fnv1a(const uint8_t *data, size_t len)
{
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        hash ^= data[i];
        hash *= 16777619u;
    }
    return hash;
}

/* Identities of up to 8 bytes (ZeroMQ's own are 5) are named by their whole hex; longer ones
 * by their first 8 bytes in hex, '~' and a digest of the whole identity, so that custom
 * identities sharing a prefix still get names of their own. */
static void
s_name(worker_t *worker, const char *peer)
{
    const char *at = peer != NULL ? peer : "?";
    if (worker->identity_len <= 8)
        snprintf(worker->name, sizeof worker->name, "%.16s@%s", worker->key, at);
    else
        snprintf(worker->name, sizeof worker->name, "%.16s~%08x@%s", worker->key,
                 (unsigned)s_fnv1a(worker->identity, worker->identity_len), at);
}

worker_registry_t *
worker_registry_new(int heartbeat_ivl, int liveness)
{
    worker_registry_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->expiry_ms = (int64_t)heartbeat_ivl * liveness;
    self->quiet_ms = (int64_t)heartbeat_ivl * 3 / 4;
    list_init(&self->idle);
    list_init(&self->all);
    list_init(&self->quiet);
    self->workers = zhashx_new();
    if (self->workers == NULL) {
        free(self);
        return NULL;
    }
    /* Keys point into the worker structs, which outlive their hash entries. */
    zhashx_set_key_duplicator(self->workers, NULL);
    zhashx_set_key_destructor(self->workers, NULL);
    return self;
}

void
worker_registry_destroy(worker_registry_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    worker_registry_t *self = *self_p;
    list_node_t *node;
    while ((node = list_pop_front(&self->all)) != NULL)
        free(LIST_ENTRY(node, worker_t, all_node));
    zhashx_destroy(&self->workers);
    free(self);
    *self_p = NULL;
}

worker_t *
worker_registry_add(worker_registry_t *self, const uint8_t *identity, size_t identity_len,
                    const char *peer, const char *service, int64_t now)
{
    if (identity_len == 0 || identity_len > WORKER_IDENTITY_MAX)
        return NULL;
    if (worker_registry_lookup(self, identity, identity_len) != NULL)
        return NULL;
    worker_t *worker = calloc(1, sizeof *worker);
    if (worker == NULL)
        return NULL;
    s_hex(identity, identity_len, worker->key);
    memcpy(worker->identity, identity, identity_len);
    worker->identity_len = identity_len;
    if (zhashx_insert(self->workers, worker->key, worker) != 0) {
        free(worker);
        return NULL;
    }
    s_name(worker, peer);
    snprintf(worker->service, sizeof worker->service, "%s", service);
    worker->expires_at = now + self->expiry_ms;
    worker->last_sent = now;
    worker->state_since = now;
    list_push_back(&self->all, &worker->all_node);
    list_push_back(&self->quiet, &worker->sent_node); /* sent to at now: the most recent */
    if (strcmp(service, PROTO_SERVICE_COURSE) == 0) {
        worker->state = WORKER_IDLE;
        list_push_back(&self->idle, &worker->idle_node);
    } else {
        worker->state = WORKER_UNSERVED;
    }
    return worker;
}

worker_t *
worker_registry_lookup(worker_registry_t *self, const uint8_t *identity, size_t identity_len)
{
    if (identity_len == 0 || identity_len > WORKER_IDENTITY_MAX)
        return NULL;
    char key[2 * WORKER_IDENTITY_MAX + 1];
    s_hex(identity, identity_len, key);
    return (worker_t *)zhashx_lookup(self->workers, key);
}

void
worker_registry_remove(worker_registry_t *self, worker_t **worker_p)
{
    worker_t *worker = *worker_p;
    if (worker->state == WORKER_IDLE)
        list_remove(&self->idle, &worker->idle_node);
    list_remove(&self->all, &worker->all_node);
    list_remove(&self->quiet, &worker->sent_node);
    zhashx_delete(self->workers, worker->key);
    free(worker);
    *worker_p = NULL;
}

bool
worker_transition_ok(worker_state_t from, worker_state_t to)
{
    switch (to) {
    case WORKER_IDLE:
        return from == WORKER_RESERVED || from == WORKER_BUSY;
    case WORKER_RESERVED:
        return from == WORKER_IDLE;
    case WORKER_BUSY:
        return from == WORKER_RESERVED || from == WORKER_IDLE; /* IDLE: adopting an orphan */
    case WORKER_UNSERVED:
        return from != WORKER_UNSERVED; /* at creation, or drained (docs/admin.md) */
    }
    return false;
}

const char *
worker_state_name(worker_state_t state)
{
    if ((int)state < 0 || (size_t)state >= sizeof s_state_names / sizeof s_state_names[0])
        return "?";
    return s_state_names[state];
}

void
worker_registry_set_state(worker_registry_t *self, worker_t *worker, worker_state_t next)
{
    if (!worker_transition_ok(worker->state, next)) {
        log_error("bug: worker=%s cannot go from %s to %s", worker->name,
                  worker_state_name(worker->state), worker_state_name(next));
        abort();
    }
    if (worker->state == WORKER_IDLE)
        list_remove(&self->idle, &worker->idle_node);
    worker->state = next;
    if (next == WORKER_IDLE)
        list_push_back(&self->idle, &worker->idle_node);
}

void
worker_registry_touch(worker_registry_t *self, worker_t *worker, int64_t now)
{
    worker->expires_at = now + self->expiry_ms;
}

void
worker_registry_sent(worker_registry_t *self, worker_t *worker, int64_t now)
{
    worker->last_sent = now;
    list_remove(&self->quiet, &worker->sent_node);
    list_push_back(&self->quiet, &worker->sent_node);
}

bool
worker_expired(const worker_t *worker, int64_t now)
{
    return now >= worker->expires_at;
}

bool
worker_registry_heartbeat_due(const worker_registry_t *self, const worker_t *worker, int64_t now)
{
    return now - worker->last_sent >= self->quiet_ms;
}

worker_t *
worker_registry_quiet_first(const worker_registry_t *self)
{
    list_node_t *node = list_first(&self->quiet);
    return node != NULL ? LIST_ENTRY(node, worker_t, sent_node) : NULL;
}

int64_t
worker_registry_heartbeat_at(const worker_registry_t *self, const worker_t *worker)
{
    return worker->last_sent + self->quiet_ms;
}

worker_t *
worker_registry_idle_first(const worker_registry_t *self)
{
    list_node_t *node = list_first(&self->idle);
    return node != NULL ? LIST_ENTRY(node, worker_t, idle_node) : NULL;
}

worker_t *
worker_registry_first(const worker_registry_t *self)
{
    list_node_t *node = list_first(&self->all);
    return node != NULL ? LIST_ENTRY(node, worker_t, all_node) : NULL;
}

worker_t *
worker_registry_next(const worker_registry_t *self, const worker_t *worker)
{
    list_node_t *node = list_next(&self->all, &worker->all_node);
    return node != NULL ? LIST_ENTRY(node, worker_t, all_node) : NULL;
}

size_t
worker_registry_size(const worker_registry_t *self)
{
    return zhashx_size(self->workers);
}

worker_registry_counts_t
worker_registry_counts(const worker_registry_t *self)
{
    worker_registry_counts_t counts = {{0}, 0, 0, 0};
    for (worker_t *w = worker_registry_first(self); w != NULL; w = worker_registry_next(self, w)) {
        counts.by_state[w->state]++;
        counts.draining += w->draining;
        counts.dispatching += w->state == WORKER_RESERVED && w->job != NULL;
        counts.running += w->state == WORKER_BUSY && w->job != NULL;
    }
    return counts;
}

size_t
worker_registry_idle_count(const worker_registry_t *self)
{
    return list_size(&self->idle);
}
