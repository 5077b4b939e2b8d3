/* queue_snapshot.c - see queue_snapshot.h. */
#include "queue_snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
s_by_id(const void *a, const void *b)
{
    return strcmp(((const queue_snapshot_entry_t *)a)->id, ((const queue_snapshot_entry_t *)b)->id);
}

static bool
s_fresh(const queue_snapshot_t *self, int64_t now_ms)
{
    return self->entries != NULL && now_ms >= self->at_ms &&
           now_ms - self->at_ms <= QUEUE_SNAPSHOT_MAX_AGE_MS;
}

bool
queue_snapshot_find(queue_snapshot_t *self, int64_t now_ms, const char *id, long long *position)
{
    queue_snapshot_entry_t key;
    snprintf(key.id, sizeof key.id, "%s", id);
    pthread_mutex_lock(&self->lock);
    const queue_snapshot_entry_t *hit = NULL;
    if (s_fresh(self, now_ms))
        hit = bsearch(&key, self->entries, self->count, sizeof key, s_by_id);
    if (hit != NULL)
        *position = hit->position;
    pthread_mutex_unlock(&self->lock);
    return hit != NULL;
}

bool
queue_snapshot_claim(queue_snapshot_t *self, int64_t now_ms)
{
    pthread_mutex_lock(&self->lock);
    bool claim = !self->refreshing && !s_fresh(self, now_ms);
    if (claim)
        self->refreshing = true;
    pthread_mutex_unlock(&self->lock);
    return claim;
}

int
queue_snapshot_put(queue_snapshot_t *self, int64_t now_ms, const queue_snapshot_entry_t *entries,
                   size_t count)
{
    queue_snapshot_entry_t *copy = NULL;
    int rc = 0;
    if (count >= QUEUE_SNAPSHOT_MIN_JOBS) {
        copy = malloc(count * sizeof *copy);
        if (copy == NULL) {
            rc = -1;
        } else {
            memcpy(copy, entries, count * sizeof *copy);
            qsort(copy, count, sizeof *copy, s_by_id);
        }
    }
    pthread_mutex_lock(&self->lock);
    free(self->entries);
    self->entries = copy;
    self->count = copy != NULL ? count : 0;
    self->at_ms = now_ms;
    self->refreshing = false;
    pthread_mutex_unlock(&self->lock);
    return rc;
}
