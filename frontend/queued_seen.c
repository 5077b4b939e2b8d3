/* queued_seen.c - see queued_seen.h. */
#include "queued_seen.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* FNV-1a of the id's text: uuids are random, any spread of their bytes serves. */
static size_t
s_slot(const char *id)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)id; *c; c++)
        h = (h ^ *c) * 16777619u;
    return h % QUEUED_SEEN_SLOTS;
}

bool
queued_seen_has(queued_seen_t *self, const char *id)
{
    size_t slot = s_slot(id);
    pthread_mutex_lock(&self->lock);
    bool has = id[0] != '\0' && strcmp(self->ids[slot], id) == 0;
    pthread_mutex_unlock(&self->lock);
    return has;
}

void
queued_seen_put(queued_seen_t *self, const char *id, bool queued)
{
    size_t slot = s_slot(id);
    pthread_mutex_lock(&self->lock);
    if (queued)
        snprintf(self->ids[slot], sizeof self->ids[slot], "%s", id);
    else if (strcmp(self->ids[slot], id) == 0)
        self->ids[slot][0] = '\0';
    pthread_mutex_unlock(&self->lock);
}
