/*
 * job_id.c - see job_id.h.
 */
#include "job_id.h"

#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#define S_IDS_PER_FILL 32

static _Thread_local uint8_t s_pool[16 * S_IDS_PER_FILL];
static _Thread_local size_t s_used = sizeof s_pool; /* bytes of s_pool handed out */

int
job_id_new(char *id)
{
    if (s_used == sizeof s_pool) {
        size_t got = 0;
        while (got < sizeof s_pool) {
            ssize_t n = getrandom(s_pool + got, sizeof s_pool - got, 0);
            if (n <= 0)
                return -1;
            got += (size_t)n;
        }
        s_used = 0;
    }
    uint8_t b[16];
    memcpy(b, s_pool + s_used, sizeof b);
    memset(s_pool + s_used, 0, sizeof b); /* never handed out twice, nor left behind */
    s_used += sizeof b;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10 (RFC 4122) */
    static const char digits[] = "0123456789abcdef";
    char *p = id;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = digits[b[i] >> 4];
        *p++ = digits[b[i] & 15];
    }
    *p = '\0';
    return 0;
}
