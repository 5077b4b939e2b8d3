/*
 * fuzz_token.c - libFuzzer target for job tokens and the validators (include/profai/proto.h,
 * docs/protocol.md sections 1 and 3.1).
 *
 * The whole input is, at once:
 *   - a string for proto_is_utf8, proto_is_uuid, proto_is_sha256 and proto_is_service, each
 *     compared with an independent reference written here from the protocol document;
 *   - an address frame for proto_token_parse, compared with a reference parser; an accepted
 *     token must format back to exactly the input bytes;
 *   - arguments for proto_token_format: byte 0 (mod 66) the buffer size, bytes 1..4 the attempt
 *     (big-endian), the rest (up to its first NUL, at most 40 bytes) the job id. The format
 *     succeeds exactly when the id is a canonical uuid, the attempt >= 1 and the token fits,
 *     and its output parses back to the same id and attempt.
 */
#include "profai/proto.h"

#include "fuzz_check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- references */

/* UTF-8 by decoding code points (RFC 3629): shortest form, no surrogates, at most U+10FFFF. */
static bool
s_ref_utf8(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint32_t c = s[i], min;
        size_t n;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            n = 2, c &= 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3, c &= 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4, c &= 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i < n)
            return false;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            c = c << 6 | (s[i + k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
        i += n;
    }
    return true;
}

/* Every byte of s[0..n) is one of `set` (and not NUL). */
static bool
s_all_in(const uint8_t *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0' || strchr(set, s[i]) == NULL)
            return false;
    }
    return true;
}

#define S_HEX "0123456789abcdef"

/* Canonical lower-case uuid: groups of 8-4-4-4-12 hex digits joined by '-'. */
static bool
s_ref_uuid(const uint8_t *s, size_t len)
{
    static const size_t groups[5] = {8, 4, 4, 4, 12};
    size_t off = 0;
    if (len != PROTO_UUID_LEN)
        return false;
    for (size_t g = 0; g < 5; g++) {
        if (g > 0 && s[off++] != '-')
            return false;
        if (!s_all_in(s + off, groups[g], S_HEX))
            return false;
        off += groups[g];
    }
    return off == len;
}

static bool
s_ref_sha256(const uint8_t *s, size_t len)
{
    return len == PROTO_SHA256_LEN && s_all_in(s, len, S_HEX);
}

static bool
s_ref_service(const uint8_t *s, size_t len)
{
    return len >= 1 && len <= PROTO_SERVICE_MAX &&
           s_all_in(s, len, "abcdefghijklmnopqrstuvwxyz0123456789._-");
}

/* "<uuid>/<attempt>", at most 64 bytes, attempt 1..2^32-1 in decimal without leading zero;
 * the value goes through strtoull instead of a hand-written loop. */
static bool
s_ref_token(const uint8_t *s, size_t len, uint32_t *attempt)
{
    char digits[16];
    if (len < PROTO_UUID_LEN + 2 || len > PROTO_ADDRESS_MAX)
        return false;
    if (!s_ref_uuid(s, PROTO_UUID_LEN) || s[PROTO_UUID_LEN] != '/')
        return false;
    size_t n = len - PROTO_UUID_LEN - 1;
    if (n >= sizeof digits || !s_all_in(s + PROTO_UUID_LEN + 1, n, "0123456789"))
        return false;
    memcpy(digits, s + PROTO_UUID_LEN + 1, n);
    digits[n] = '\0';
    unsigned long long v = strtoull(digits, NULL, 10);
    if (digits[0] == '0' || v < 1 || v > UINT32_MAX)
        return false;
    *attempt = (uint32_t)v;
    return true;
}

/* ---------------------------------------------------------------- properties */

static void
s_fuzz_validators(const uint8_t *data, size_t len)
{
    const char *s = (const char *)data;
    FUZZ_CHECK(proto_is_utf8(s, len) == s_ref_utf8(data, len));
    FUZZ_CHECK(proto_is_uuid(s, len) == s_ref_uuid(data, len));
    FUZZ_CHECK(proto_is_sha256(s, len) == s_ref_sha256(data, len));
    FUZZ_CHECK(proto_is_service(s, len) == s_ref_service(data, len));
}

static void
s_fuzz_parse(const uint8_t *data, size_t len)
{
    char job_id[PROTO_UUID_LEN + 1];
    char token[PROTO_ADDRESS_MAX + 1];
    uint32_t attempt = 0, ref_attempt = 0;

    memset(job_id, 'x', sizeof job_id);
    int rc = proto_token_parse(data, len, job_id, &attempt);
    bool ref = s_ref_token(data, len, &ref_attempt);
    FUZZ_CHECK((rc == 0) == ref);
    if (rc != 0)
        return;
    FUZZ_CHECK(attempt == ref_attempt);
    FUZZ_CHECK(job_id[PROTO_UUID_LEN] == '\0' && memcmp(job_id, data, PROTO_UUID_LEN) == 0);
    FUZZ_CHECK(proto_token_format(job_id, attempt, token, sizeof token) == 0);
    FUZZ_CHECK(strlen(token) == len && memcmp(token, data, len) == 0);
    /* Both outputs are optional. */
    FUZZ_CHECK(proto_token_parse(data, len, NULL, NULL) == 0);
}

static void
s_fuzz_format(const uint8_t *data, size_t len)
{
    char job_id[41], parsed_id[PROTO_UUID_LEN + 1];
    char buf[PROTO_ADDRESS_MAX + 1];
    uint32_t attempt = 0, parsed_attempt = 0;
    if (len < 5)
        return;
    size_t size = data[0] % (sizeof buf + 1);
    for (size_t i = 1; i < 5; i++)
        attempt = attempt << 8 | data[i];
    size_t n = len - 5 < sizeof job_id - 1 ? len - 5 : sizeof job_id - 1;
    memcpy(job_id, data + 5, n);
    job_id[n] = '\0';

    /* "<36 bytes>/<digits>" and its NUL must fit. */
    char expect[64];
    int want = snprintf(expect, sizeof expect, "%s/%u", job_id, (unsigned)attempt);
    bool fits = want > 0 && (size_t)want < size;
    bool valid = s_ref_uuid((const uint8_t *)job_id, strlen(job_id)) && attempt >= 1;

    memset(buf, 'x', sizeof buf);
    int rc = proto_token_format(job_id, attempt, buf, size);
    FUZZ_CHECK((rc == 0) == (valid && fits));
    for (size_t i = size; i < sizeof buf; i++)
        FUZZ_CHECK(buf[i] == 'x'); /* nothing written past the given size */
    if (rc != 0)
        return;
    FUZZ_CHECK(strcmp(buf, expect) == 0);
    FUZZ_CHECK(proto_token_parse((const uint8_t *)buf, strlen(buf), parsed_id, &parsed_attempt) ==
               0);
    FUZZ_CHECK(strcmp(parsed_id, job_id) == 0 && parsed_attempt == attempt);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_fuzz_validators(data, size);
    s_fuzz_parse(data, size);
    s_fuzz_format(data, size);
    return 0;
}
