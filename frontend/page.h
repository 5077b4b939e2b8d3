/*
 * page.h - cursor pagination, the one way every list of the API pages (docs/api.md "Lists and
 * cursors"): a list is read newest first by a keyset (a time in microseconds and an id, or a
 * sequence number), `limit` rows at a time, and each page that is not the last names the next
 * one by an opaque `cursor` and a `next` link (in the body and in a `Link: <...>; rel="next"`
 * header).
 *
 * A cursor is base64url (no padding) of "<kind>:<number>:<id>", kind one letter naming the list
 * it belongs to. It is validated when it comes back (kind, digits, id shape): a cursor of
 * another list, or one edited by hand, is refused (400) instead of read. It carries no
 * secret: it only says where to go on within what the caller may see anyway.
 *
 * Pure apart from the route result it reads (no civetweb, no database).
 */
#ifndef PROFAI_FRONTEND_PAGE_H
#define PROFAI_FRONTEND_PAGE_H

#include "routes.h"

#include <profai/compiler.h>
#include <stdbool.h>
#include <stddef.h>

/* Longest cursor the API gives out or takes (its text parameter's max). */
#define PAGE_CURSOR_MAX 128
/* Longest next link (path and query). */
#define PAGE_LINK_MAX 1024

/* A decoded cursor (plain data). */
typedef struct {
    char kind;
    long long number; /* microseconds since the Unix epoch, a sequence number or an offset */
    char id[PAGE_CURSOR_MAX]; /* the rest: a uuid, a hash, or "" */
} page_cursor_t;

/* Encode kind, number and id ("" for none) as a cursor into out (at most size - 1 bytes;
 * PAGE_CURSOR_MAX + 1 always suffices for a uuid id). */
void page_cursor_encode(char kind, long long number, const char *id, char *out, size_t size);

/* Decode cursor (NUL-terminated) into *cursor: false when it is not a cursor of kind. */
bool page_cursor_decode(const char *text, char kind, page_cursor_t *cursor) PROFAI_MUST_CHECK;

/* The same, when the id must be a uuid (lower case, as given out). */
bool page_cursor_decode_uuid(const char *text, char kind, page_cursor_t *cursor) PROFAI_MUST_CHECK;

/* The link to the next page of the list of result's route at path: the path, then every query
 * parameter the client gave except "cursor" (so a search keeps its q, a list its limit), then
 * cursor=next. Into out (NUL-terminated); false when it would not fit. */
bool page_next_link(const char *path, const route_result_t *result, const char *next, char *out,
                    size_t size) PROFAI_MUST_CHECK;

#endif
