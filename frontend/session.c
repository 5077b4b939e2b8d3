/* session.c - see session.h. */
#include "session.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

bool
session_cookie_id(const char *cookie_header, char id[SECRET_SIZE], bool *present)
{
    *present = false;
    if (cookie_header == NULL)
        return false;
    size_t name_len = strlen(SESSION_COOKIE);
    int found = 0;
    bool ok = false;
    /* cookie-string = cookie-pair *( ";" SP cookie-pair ) (RFC 6265 4.2.1); be lenient on
     * blanks. */
    for (const char *p = cookie_header; *p != '\0';) {
        p += strspn(p, "; \t");
        size_t len = strcspn(p, ";");
        if (len > name_len && strncmp(p, SESSION_COOKIE, name_len) == 0 && p[name_len] == '=') {
            found++;
            const char *value = p + name_len + 1;
            size_t value_len = len - name_len - 1;
            while (value_len > 0 && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t'))
                value_len--;
            ok = secret_wellformed(SESSION_PREFIX, value, value_len);
            if (ok) {
                memcpy(id, value, value_len);
                id[value_len] = '\0';
            }
        }
        p += len;
    }
    *present = found > 0;
    /* Two cookies of the name (one set by another path or a sibling domain): trust neither. */
    return found == 1 && ok;
}

void
session_csrf(const char *id, char out[SESSION_CSRF_SIZE])
{
    static const char domain[] = "profai-csrf:";
    crypto_hash_sha256_state state;
    uint8_t digest[32];
    crypto_hash_sha256_init(&state);
    crypto_hash_sha256_update(&state, (const unsigned char *)domain, sizeof domain - 1);
    crypto_hash_sha256_update(&state, (const unsigned char *)id, strlen(id));
    crypto_hash_sha256_final(&state, digest);
    secret_base64url(digest, sizeof digest, out);
}

bool
session_csrf_matches(const char *header, const char *expected)
{
    size_t len = strlen(expected);
    if (header == NULL || strlen(header) != len)
        return false;
    return sodium_memcmp(header, expected, len) == 0;
}

/* Whether origin is one of the comma-separated entries of list. */
static bool
s_listed(const char *origin, const char *list)
{
    size_t n = strlen(origin);
    for (const char *p = list ? list : ""; *p != '\0';) {
        p += strspn(p, ", \t");
        size_t len = strcspn(p, ", \t");
        if (len == n && strncasecmp(p, origin, n) == 0)
            return true;
        p += len;
    }
    return false;
}

const char *
session_origin_problem(const char *origin, const char *sec_fetch_site, const char *host,
                       const char *allowed)
{
    if (sec_fetch_site != NULL && strcasecmp(sec_fetch_site, "same-origin") != 0 &&
        strcasecmp(sec_fetch_site, "none") != 0)
        return "a request from another site may not use the session cookie";
    if (origin == NULL)
        return NULL;
    const char *rest = NULL;
    if (strncasecmp(origin, "http://", 7) == 0)
        rest = origin + 7;
    else if (strncasecmp(origin, "https://", 8) == 0)
        rest = origin + 8;
    if (rest != NULL && host != NULL && host[0] != '\0' && strcasecmp(rest, host) == 0)
        return NULL;
    if (s_listed(origin, allowed))
        return NULL;
    return "the request's Origin is not this site's";
}

void
session_set_cookie(char *out, size_t size, const char *id, long long max_age_s, bool secure)
{
    snprintf(out, size,
             "Set-Cookie: " SESSION_COOKIE "=%s; Path=/; Max-Age=%lld; HttpOnly; "
             "SameSite=Strict%s\r\n",
             id ? id : "", id ? max_age_s : 0, secure ? "; Secure" : "");
}
