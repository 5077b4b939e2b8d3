/*
 * proto.c - validators, job tokens, errors and buffers of the protocol codec (proto.h).
 * Framing lives in mdp.c, the body codec in body.c and the message tables in messages.c, the
 * msgpack pre-scan in mp_scan.c.
 */
#include "proto_internal.h"

#include "utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
proto_error_set(proto_error_t *err, profai_error_t code, const char *fmt, ...)
{
    if (err == NULL)
        return -1;
    err->id = code;
    snprintf(err->code, sizeof err->code, "%s", profai_error_name(code));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof err->detail, fmt, ap);
    va_end(ap);
    return -1;
}

size_t
proto_strlen_max(const char *s, size_t max)
{
    if (s == NULL)
        return max + 1;
    return strnlen(s, max + 1);
}

void
proto_buf_free(proto_buf_t *buf)
{
    if (buf == NULL)
        return;
    free(buf->data);
    buf->data = NULL;
    buf->size = 0;
}

/* ---------------------------------------------------------------- validators */

static bool
s_is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool
proto_is_uuid(const char *s, size_t len)
{
    if (s == NULL || len != PROTO_UUID_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !s_is_lower_hex(s[i]))
            return false;
    }
    return true;
}

bool
proto_is_sha256(const char *s, size_t len)
{
    if (s == NULL || len != PROTO_SHA256_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!s_is_lower_hex(s[i]))
            return false;
    }
    return true;
}

/* Strict UTF-8 (RFC 3629): shortest form only, no surrogates, nothing above U+10FFFF. */
bool
proto_is_utf8(const char *s, size_t len)
{
    if (s == NULL)
        return len == 0;
    return utf8_valid(s, len);
}

bool
proto_is_service(const char *s, size_t len)
{
    if (s == NULL || len < 1 || len > PROTO_SERVICE_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------- job token */

int
proto_token_format(const char *job_id, uint32_t attempt, char *buf, size_t size)
{
    if (buf == NULL || attempt < 1)
        return -1;
    if (!proto_is_uuid(job_id, proto_strlen_max(job_id, PROTO_UUID_LEN)))
        return -1;
    int n = snprintf(buf, size, "%s/%u", job_id, (unsigned)attempt);
    if (n < 0 || (size_t)n >= size)
        return -1;
    return 0;
}

int
proto_token_parse(const uint8_t *address, size_t len, char *job_id, uint32_t *attempt)
{
    const char *s = (const char *)address;
    if (address == NULL || len < PROTO_UUID_LEN + 2 || len > PROTO_ADDRESS_MAX)
        return -1;
    if (!proto_is_uuid(s, PROTO_UUID_LEN) || s[PROTO_UUID_LEN] != '/')
        return -1;
    const char *digits = s + PROTO_UUID_LEN + 1;
    size_t ndigits = len - PROTO_UUID_LEN - 1;
    /* 1..4294967295, decimal, no sign and no leading zero */
    if (ndigits > 10 || digits[0] == '0')
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < ndigits; i++) {
        if (digits[i] < '0' || digits[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(digits[i] - '0');
    }
    if (v < 1 || v > UINT32_MAX)
        return -1;
    if (job_id != NULL) {
        memcpy(job_id, s, PROTO_UUID_LEN);
        job_id[PROTO_UUID_LEN] = '\0';
    }
    if (attempt != NULL)
        *attempt = (uint32_t)v;
    return 0;
}

size_t
proto_token_split_secret(const uint8_t *address, size_t len, char *secret)
{
    secret[0] = '\0';
    if (address == NULL || len < PROTO_SECRET_LEN + 1 || address[len - PROTO_SECRET_LEN - 1] != '/')
        return len;
    const uint8_t *hex = address + len - PROTO_SECRET_LEN;
    for (size_t i = 0; i < PROTO_SECRET_LEN; i++)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            return len;
    memcpy(secret, hex, PROTO_SECRET_LEN);
    secret[PROTO_SECRET_LEN] = '\0';
    return len - PROTO_SECRET_LEN - 1;
}
