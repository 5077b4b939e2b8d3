/*
 * worker_identity.c - see profai/worker_identity.h.
 */
#include "profai/worker_identity.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char
s_clean(char c)
{
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_';
    return ok ? c : '_';
}

size_t
worker_identity_format(uint8_t *buf, const uint8_t *random, const char *host, uint32_t pid,
                       const char *version)
{
    memcpy(buf, random, WORKER_IDENTITY_RANDOM);
    buf[0] |= 0x80; /* ZeroMQ reserves identities starting with 0 */
    char clean_host[WORKER_IDENTITY_HOST_MAX + 1], clean_version[WORKER_IDENTITY_VERSION_MAX + 1];
    size_t i = 0;
    for (; host[i] != '\0' && i < WORKER_IDENTITY_HOST_MAX; i++)
        clean_host[i] = s_clean(host[i]);
    clean_host[i] = '\0';
    for (i = 0; version[i] != '\0' && i < WORKER_IDENTITY_VERSION_MAX; i++)
        clean_version[i] = s_clean(version[i]);
    clean_version[i] = '\0';
    int n = snprintf((char *)buf + WORKER_IDENTITY_RANDOM,
                     WORKER_IDENTITY_SIZE - WORKER_IDENTITY_RANDOM, "|host=%s;pid=%u;version=%s",
                     clean_host, (unsigned)pid, clean_version);
    return WORKER_IDENTITY_RANDOM + (size_t)n;
}

/* Copy the value of `key=` in text (len bytes, ';'-separated) into out (size bytes). */
static int
s_value(const char *text, size_t len, const char *key, char *out, size_t size)
{
    size_t klen = strlen(key);
    for (size_t at = 0; at < len;) {
        const char *end = memchr(text + at, ';', len - at);
        size_t item = end != NULL ? (size_t)(end - (text + at)) : len - at;
        if (item > klen && memcmp(text + at, key, klen) == 0 && text[at + klen] == '=') {
            size_t vlen = item - klen - 1;
            if (vlen >= size)
                return -1;
            memcpy(out, text + at + klen + 1, vlen);
            out[vlen] = '\0';
            return 0;
        }
        at += item + 1;
    }
    return -1;
}

int
worker_identity_parse(const uint8_t *identity, size_t len, char *host, uint32_t *pid, char *version)
{
    host[0] = version[0] = '\0';
    *pid = 0;
    if (len <= WORKER_IDENTITY_RANDOM + 1 || identity[WORKER_IDENTITY_RANDOM] != '|')
        return -1;
    const char *text = (const char *)identity + WORKER_IDENTITY_RANDOM + 1;
    size_t tlen = len - WORKER_IDENTITY_RANDOM - 1;
    char pid_text[12];
    if (s_value(text, tlen, "host", host, WORKER_IDENTITY_HOST_MAX + 1) != 0 ||
        s_value(text, tlen, "pid", pid_text, sizeof pid_text) != 0 ||
        s_value(text, tlen, "version", version, WORKER_IDENTITY_VERSION_MAX + 1) != 0) {
        host[0] = version[0] = '\0';
        return -1;
    }
    *pid = (uint32_t)strtoul(pid_text, NULL, 10);
    return 0;
}

size_t
worker_identity_add_fetch(uint8_t *buf, size_t len)
{
    size_t add = strlen(WORKER_IDENTITY_FETCH);
    if (len + add > WORKER_IDENTITY_SIZE)
        return len;
    memcpy(buf + len, WORKER_IDENTITY_FETCH, add);
    return len + add;
}

bool
worker_identity_can_fetch(const uint8_t *identity, size_t len)
{
    if (len <= WORKER_IDENTITY_RANDOM + 1 || identity[WORKER_IDENTITY_RANDOM] != '|')
        return false;
    char value[4];
    return s_value((const char *)identity + WORKER_IDENTITY_RANDOM + 1,
                   len - WORKER_IDENTITY_RANDOM - 1, "fetch", value, sizeof value) == 0 &&
           strcmp(value, "1") == 0;
}
