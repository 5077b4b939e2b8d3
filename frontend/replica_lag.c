/* replica_lag.c - see replica_lag.h. */
#include "replica_lag.h"

#include <stdio.h>
#include <string.h>

void
replica_lag_init(replica_lag_t *self)
{
    memset(self, 0, sizeof *self);
}

void
replica_lag_sample(replica_lag_t *self, int64_t at_ms, uint64_t lsn)
{
    self->samples[self->next].at_ms = at_ms;
    self->samples[self->next].lsn = lsn;
    self->next = (self->next + 1) % REPLICA_LAG_SAMPLES;
    if (self->count < REPLICA_LAG_SAMPLES)
        self->count++;
}

long long
replica_lag_ms(const replica_lag_t *self, uint64_t replayed, int64_t now_ms)
{
    for (int i = 0; i < self->count; i++) {
        int at = (self->next - 1 - i + REPLICA_LAG_SAMPLES) % REPLICA_LAG_SAMPLES;
        if (self->samples[at].lsn <= replayed)
            return i == 0 ? 0 : now_ms - self->samples[at].at_ms;
    }
    return -1;
}

bool
replica_lsn_parse(const char *text, uint64_t *lsn)
{
    unsigned int hi = 0, lo = 0;
    int used = 0;
    if (text == NULL || text[0] == '\0' || strchr(text, '-') != NULL ||
        sscanf(text, "%8X/%8X%n", &hi, &lo, &used) != 2 || text[used] != '\0')
        return false;
    *lsn = ((uint64_t)hi << 32) | lo;
    return true;
}
