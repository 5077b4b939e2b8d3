/* strbuf.c - see strbuf.h. */
#include "strbuf.h"

#include "utf8.h"

#include <stdlib.h>
#include <string.h>

void
strbuf_init(strbuf_t *b)
{
    memset(b, 0, sizeof *b);
}

void
strbuf_free(strbuf_t *b)
{
    free(b->data);
    strbuf_init(b);
}

void
strbuf_reset(strbuf_t *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

char *
strbuf_steal(strbuf_t *b, size_t *len)
{
    char *data = b->failed ? NULL : b->data;
    size_t n = b->failed ? 0 : b->len;
    if (b->failed)
        free(b->data);
    else if (data == NULL)
        data = calloc(1, 1);
    strbuf_init(b);
    if (len != NULL)
        *len = n;
    return data;
}

bool
strbuf_failed(const strbuf_t *b)
{
    return b->failed;
}

static bool
s_reserve(strbuf_t *b, size_t extra)
{
    if (b->failed)
        return false;
    if (extra < b->cap - b->len && b->len < b->cap) /* room already: the common case */
        return true;
    if (extra > SIZE_MAX / 4 - b->len ||
        array_grow((void **)&b->data, &b->cap, b->len + extra + 1, 1) != 0) {
        b->failed = true;
        return false;
    }
    return true;
}

void
strbuf_append(strbuf_t *b, const char *s, size_t len)
{
    if (!s_reserve(b, len))
        return;
    if (len > 0)
        memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void
strbuf_append_cstr(strbuf_t *b, const char *s)
{
    strbuf_append(b, s, strlen(s));
}

void
strbuf_append_char_grow(strbuf_t *b, char c)
{
    if (!s_reserve(b, 1))
        return;
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void
strbuf_append_cp_wide(strbuf_t *b, uint32_t cp)
{
    char out[4];
    size_t n = utf8_encode(cp, out);
    strbuf_append(b, out, n);
}

void
strbuf_trim_spaces(strbuf_t *b)
{
    while (b->len > 0 && b->data[b->len - 1] == ' ')
        b->len--;
    if (b->data != NULL)
        b->data[b->len] = '\0';
}

char
strbuf_last(const strbuf_t *b)
{
    return b->len > 0 ? b->data[b->len - 1] : '\0';
}

int
array_grow(void **array, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap != 0 ? *cap : 32;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return -1;
        n *= 2;
    }
    if (size != 0 && n > SIZE_MAX / size)
        return -1;
    void *p = realloc(*array, n * size);
    if (p == NULL)
        return -1;
    *array = p;
    *cap = n;
    return 0;
}
