/*
 * strbuf.h - a growable byte string for building texts (always NUL-terminated), and the
 * growth rule of the other growable arrays of course generation (array_grow).
 *
 * An allocation failure sets `failed` and turns every later append into a no-op, so a builder
 * checks once at the end (strbuf_failed) instead of after each append.
 */
#ifndef PROFAI_STRBUF_H
#define PROFAI_STRBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *data; /* owned; NUL-terminated once anything was appended, else NULL */
    size_t len;
    size_t cap;
    bool failed;
} strbuf_t;

void strbuf_init(strbuf_t *b);
/* Free the buffer and reset. */
void strbuf_free(strbuf_t *b);
/* Length 0, buffer kept. */
void strbuf_reset(strbuf_t *b);
/* Take the buffer (caller frees it with free(); "" when nothing was appended, NULL when an
 * allocation failed); b is reset. */
char *strbuf_steal(strbuf_t *b, size_t *len);
bool strbuf_failed(const strbuf_t *b);

void strbuf_append(strbuf_t *b, const char *s, size_t len);
void strbuf_append_cstr(strbuf_t *b, const char *s);
void strbuf_append_char_grow(strbuf_t *b, char c);
void strbuf_append_cp_wide(strbuf_t *b, uint32_t cp);

/* One byte. Inline while there is room (text cleaning appends millions of single bytes: a
 * call each was 3 % of a course's instructions); the rest in strbuf.c. */
static inline void
strbuf_append_char(strbuf_t *b, char c)
{
    if (!b->failed && b->len + 1 < b->cap) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
    } else {
        strbuf_append_char_grow(b, c);
    }
}

/* One code point, UTF-8 encoded; ASCII as strbuf_append_char. */
static inline void
strbuf_append_cp(strbuf_t *b, uint32_t cp)
{
    if (cp < 0x80)
        strbuf_append_char(b, (char)cp);
    else
        strbuf_append_cp_wide(b, cp);
}
/* Remove trailing spaces (' ' only). */
void strbuf_trim_spaces(strbuf_t *b);
/* The last byte, '\0' when empty. */
char strbuf_last(const strbuf_t *b);

/* Make *array (of *cap elements of `size` bytes) hold at least `need` elements: capacity
 * doubles from 32. 0, or -1 when out of memory (or the size would overflow); the array is
 * unchanged then. */
int array_grow(void **array, size_t *cap, size_t need, size_t size);

#endif
