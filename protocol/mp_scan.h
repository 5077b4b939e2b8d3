/*
 * mp_scan.h - a non-allocating walker over raw msgpack bytes (private to protocol/).
 *
 * msgpack-c allocates count * 24 (array) or count * 48 (map) bytes as soon as it reads a
 * container header, whatever the frame holds. Every body therefore goes through
 * mp_scan_check first: it walks the structure without allocating and rejects anything the
 * unpacker must never see. The same reader serves proto_peek_rid.
 */
#ifndef PROFAI_MP_SCAN_H
#define PROFAI_MP_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* Deepest nesting a body may have: a top-level map (1) whose values may be containers of
 * scalars (2). ProfAI messages need 1; 2 leaves room for version 1 to grow. */
#define MP_SCAN_MAX_DEPTH 2
/* Most elements (map entries count as two) a whole body may declare. Bounds what msgpack-c
 * allocates for a body to a few hundred KiB whatever its size. */
#define MP_SCAN_MAX_ITEMS 4096

typedef enum {
    MP_NIL,
    MP_BOOL,
    MP_UINT, /* a non-negative integer, whatever its encoding */
    MP_NEGINT,
    MP_FLOAT,
    MP_STR,
    MP_BIN,
    MP_EXT,
    MP_ARRAY,
    MP_MAP
} mp_type_t;

/* One object header. For MP_STR/MP_BIN/MP_EXT `data`/`size` are the payload (borrowed);
 * for MP_ARRAY/MP_MAP `size` is the declared count; for MP_UINT/MP_BOOL `value`. */
typedef struct {
    mp_type_t type;
    uint64_t value;
    size_t size;
    const uint8_t *data;
} mp_head_t;

/* Read the header at *off and advance past it (and past the payload of str/bin/ext, whose
 * length is checked against the bytes left; container counts are checked too: each element
 * needs at least one byte). Returns 0, or -1 with *why set to a static sentence. */
int mp_scan_head(const uint8_t *data, size_t len, size_t *off, mp_head_t *head, const char **why)
    __attribute__((warn_unused_result));

/* Skip one whole object at *off, nested at most `depth` levels (1 = scalars and containers
 * of scalars...). *items is decremented by every element declared; the scan fails when it
 * would go negative. */
int mp_scan_skip(const uint8_t *data, size_t len, size_t *off, int depth, long *items,
                 const char **why) __attribute__((warn_unused_result));

/* Check that data holds exactly one object, no deeper than MP_SCAN_MAX_DEPTH, declaring at
 * most MP_SCAN_MAX_ITEMS elements, with no reserved byte 0xc1 and no trailing bytes. */
int mp_scan_check(const uint8_t *data, size_t len, const char **why)
    __attribute__((warn_unused_result));

#endif
