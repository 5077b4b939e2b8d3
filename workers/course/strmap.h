/*
 * strmap.h - interns byte strings: each distinct string gets a dense id 0, 1, 2, ...
 *
 * Open addressing with FNV-1a hashes; keys are copied into one arena. Ids are stable for the
 * map's life, so callers keep per-string data in plain arrays indexed by id.
 */
#ifndef PROFAI_STRMAP_H
#define PROFAI_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct strmap strmap_t;

/* A new empty map, NULL when out of memory. Caller owns it (strmap_destroy). */
strmap_t *strmap_new(void);
void strmap_destroy(strmap_t **self_p);

/* The id of s[0..len), adding a copy when absent; -1 when out of memory. */
long strmap_intern(strmap_t *self, const char *s, size_t len) __attribute__((warn_unused_result));
/* The id of s[0..len), -1 when absent. */
long strmap_find(const strmap_t *self, const char *s, size_t len);
/* The string of id (NUL-terminated; borrowed, valid until the next strmap_intern). */
const char *strmap_key(const strmap_t *self, long id, size_t *len);
size_t strmap_count(const strmap_t *self);

/* FNV-1a of s[0..len), for callers that need a deterministic hash. */
uint64_t strmap_hash(const char *s, size_t len);

#endif
