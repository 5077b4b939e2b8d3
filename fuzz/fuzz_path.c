/*
 * fuzz_path.c - libFuzzer target for the request path decoder (frontend/http_path.h,
 * docs/security.md "HTTP").
 *
 * The whole input is a raw request path. Whatever is accepted must be canonical: it starts
 * with '/', holds at most HTTP_PATH_MAX bytes, is valid UTF-8 without NUL, control characters
 * or '\', and has no empty, "." or ".." segment (a trailing '/' aside). Canonical also means
 * a fixed point: the decoded path, escaped again byte by byte, decodes to itself. A refusal
 * is 400 or 404 with a sentence; 404 only for a path whose decoded form is too long.
 */
#include "../frontend/http_path.h"
#include "utf8.h"

#include "fuzz_check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void
s_check_canonical(const char *out)
{
    size_t n = strlen(out);
    FUZZ_CHECK(n >= 1 && n <= HTTP_PATH_MAX);
    FUZZ_CHECK(out[0] == '/');
    FUZZ_CHECK(utf8_valid(out, n));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        FUZZ_CHECK(c >= 0x20 && c != 0x7f && c != '\\');
    }
    /* Segments between '/': none empty (but the one after a trailing '/'), none "." or "..". */
    const char *p = out + 1;
    while (*p != '\0') {
        size_t len = strcspn(p, "/");
        FUZZ_CHECK(len > 0);
        FUZZ_CHECK(!(len == 1 && p[0] == '.'));
        FUZZ_CHECK(!(len == 2 && p[0] == '.' && p[1] == '.'));
        p += len;
        if (*p == '/')
            p++;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The input may hold NUL bytes: they are input, never the end of it. */
    char *raw = malloc(size + 1);
    if (raw == NULL)
        return 0;
    memcpy(raw, data, size);
    raw[size] = 'X'; /* must never be read */
    char out[HTTP_PATH_MAX + 1];
    const char *why = NULL;
    int status = http_path_decode(raw, size, out, &why);
    if (status != 0) {
        FUZZ_CHECK(status == 400 || status == 404);
        FUZZ_CHECK(why != NULL && why[0] != '\0');
        free(raw);
        return 0;
    }
    s_check_canonical(out);
    /* Escape every byte but '/' and ASCII alphanumerics: the same path again. */
    size_t n = strlen(out);
    char *again = malloc(3 * n + 1), out2[HTTP_PATH_MAX + 1];
    FUZZ_CHECK(again != NULL);
    size_t m = 0;
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c == '/' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9')) {
            again[m++] = (char)c;
        } else {
            again[m++] = '%';
            again[m++] = hex[c >> 4];
            again[m++] = hex[c & 15];
        }
    }
    FUZZ_CHECK(http_path_decode(again, m, out2, &why) == 0);
    FUZZ_CHECK(strcmp(out, out2) == 0);
    free(again);
    free(raw);
    return 0;
}
