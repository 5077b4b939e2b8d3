/* auth_listen.c - see auth_listen.h. */
#include "auth_listen.h"

#include <string.h>

static int
s_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static void
s_notified(void *arg, const char *channel, const char *payload)
{
    auth_t *auth = arg;
    (void)channel;
    uint8_t hash[32];
    if (strlen(payload) != 64) {
        auth_flush(auth); /* not ours to parse: be safe */
        return;
    }
    for (int i = 0; i < 32; i++) {
        int hi = s_hex(payload[2 * i]), lo = s_hex(payload[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            auth_flush(auth);
            return;
        }
        hash[i] = (uint8_t)(hi << 4 | lo);
    }
    auth_evict(auth, hash);
}

static void
s_flushed(void *arg)
{
    auth_flush(arg);
}

static void
s_heard(void *arg, int64_t mono_ms)
{
    auth_heard(arg, mono_ms);
}

change_listen_owner_t
auth_listen_owner(auth_t *auth)
{
    /* No lost: cached tokens ride out a short outage for max_stale_ms (auth.h). */
    return (change_listen_owner_t){.channels = {AUTH_LISTEN_CHANNEL},
                                   .notified = s_notified,
                                   .flushed = s_flushed,
                                   .heard = s_heard,
                                   .arg = auth};
}
