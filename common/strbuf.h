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
void strbuf_append_char(strbuf_t *b, char c);
void strbuf_append_cp(strbuf_t *b, uint32_t cp); /* UTF-8 encoded */
/* Remove trailing spaces (' ' only). */
void strbuf_trim_spaces(strbuf_t *b);
/* The last byte, '\0' when empty. */
char strbuf_last(const strbuf_t *b);

/* Make *array (of *cap elements of `size` bytes) hold at least `need` elements: capacity
 * doubles from 32. 0, or -1 when out of memory (or the size would overflow); the array is
 * unchanged then. */
int array_grow(void **array, size_t *cap, size_t need, size_t size);

#endif
