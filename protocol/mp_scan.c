/*
 * mp_scan.c - a non-allocating walker over raw msgpack bytes; see mp_scan.h.
 */
#include "mp_scan.h"

static uint64_t
s_read_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Take n bytes of header payload (a length, a count, a number) at *off. */
static int
s_take(const uint8_t *data, size_t len, size_t *off, size_t n, uint64_t *value, const char **why)
{
    if (len - *off < n) {
        *why = "truncated msgpack header";
        return -1;
    }
    *value = s_read_be(data + *off, n);
    *off += n;
    return 0;
}

/* Point the head at a payload of `size` bytes at *off and skip it. */
static int
s_take_payload(const uint8_t *data, size_t len, size_t *off, uint64_t size, mp_head_t *head,
               const char **why)
{
    if (size > len - *off) {
        *why = "msgpack string, binary or extension longer than the bytes left";
        return -1;
    }
    head->size = (size_t)size;
    head->data = data + *off;
    *off += (size_t)size;
    return 0;
}

/* A container declares `count` elements, each needing at least one byte of what is left. */
static int
s_take_container(size_t len, size_t off, uint64_t count, mp_type_t type, mp_head_t *head,
                 const char **why)
{
    uint64_t left = len - off;
    uint64_t need = type == MP_MAP ? count * 2 : count; /* count < 2^32: no overflow */
    if (need > left) {
        *why = "msgpack container declares more elements than the bytes left";
        return -1;
    }
    head->type = type;
    head->size = (size_t)count;
    return 0;
}

/* Lengths of the fixed-size scalars 0xc0..0xdf, excluding the type byte; -1 = not fixed. */
static int
s_fixed_size(uint8_t b)
{
    switch (b) {
    case 0xc0:
    case 0xc2:
    case 0xc3:
        return 0;
    case 0xcc:
    case 0xd0:
        return 1;
    case 0xcd:
    case 0xd1:
        return 2;
    case 0xca:
    case 0xce:
    case 0xd2:
        return 4;
    case 0xcb:
    case 0xcf:
    case 0xd3:
        return 8;
    default:
        return -1;
    }
}

static int
s_scalar(uint8_t b, const uint8_t *data, size_t len, size_t *off, mp_head_t *head, const char **why)
{
    int n = s_fixed_size(b);
    uint64_t v = 0;
    if (n < 0) {
        *why = "unknown msgpack type byte";
        return -1;
    }
    if (s_take(data, len, off, (size_t)n, &v, why) != 0)
        return -1;
    head->value = v;
    if (b == 0xc0) {
        head->type = MP_NIL;
    } else if (b == 0xc2 || b == 0xc3) {
        head->type = MP_BOOL;
        head->value = b == 0xc3;
    } else if (b == 0xca || b == 0xcb) {
        head->type = MP_FLOAT;
    } else if (b >= 0xcc && b <= 0xcf) {
        head->type = MP_UINT;
    } else {
        /* Signed encodings: sign-extend, and call a non-negative value an unsigned one as
         * msgpack-c does. */
        int shift = 64 - 8 * n;
        int64_t s = (int64_t)(v << shift) >> shift;
        head->type = s < 0 ? MP_NEGINT : MP_UINT;
        head->value = (uint64_t)s;
    }
    return 0;
}

/* Extension headers: fixext 0xd4..0xd8 and ext 0xc7..0xc9; the type byte is payload here. */
static int
s_ext(uint8_t b, const uint8_t *data, size_t len, size_t *off, mp_head_t *head, const char **why)
{
    uint64_t size;
    head->type = MP_EXT;
    if (b >= 0xd4 && b <= 0xd8) {
        size = (uint64_t)1 << (b - 0xd4);
    } else if (s_take(data, len, off, (size_t)1 << (b - 0xc7), &size, why) != 0) {
        return -1;
    }
    return s_take_payload(data, len, off, size + 1, head, why);
}

int
mp_scan_head(const uint8_t *data, size_t len, size_t *off, mp_head_t *head, const char **why)
{
    uint64_t n;
    *head = (mp_head_t){0};
    if (*off >= len) {
        *why = "truncated msgpack object";
        return -1;
    }
    uint8_t b = data[(*off)++];
    if (b <= 0x7f) {
        head->type = MP_UINT;
        head->value = b;
        return 0;
    }
    if (b >= 0xe0) {
        head->type = MP_NEGINT;
        head->value = (uint64_t)(int64_t)(int8_t)b;
        return 0;
    }
    if (b <= 0x8f)
        return s_take_container(len, *off, b & 0x0f, MP_MAP, head, why);
    if (b <= 0x9f)
        return s_take_container(len, *off, b & 0x0f, MP_ARRAY, head, why);
    if (b <= 0xbf) {
        head->type = MP_STR;
        return s_take_payload(data, len, off, b & 0x1f, head, why);
    }
    switch (b) {
    case 0xc1:
        *why = "reserved msgpack byte 0xc1";
        return -1;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        head->type = MP_BIN;
        if (s_take(data, len, off, (size_t)1 << (b - 0xc4), &n, why) != 0)
            return -1;
        return s_take_payload(data, len, off, n, head, why);
    case 0xd9:
    case 0xda:
    case 0xdb:
        head->type = MP_STR;
        if (s_take(data, len, off, (size_t)1 << (b - 0xd9), &n, why) != 0)
            return -1;
        return s_take_payload(data, len, off, n, head, why);
    case 0xdc:
    case 0xdd:
        if (s_take(data, len, off, b == 0xdc ? 2 : 4, &n, why) != 0)
            return -1;
        return s_take_container(len, *off, n, MP_ARRAY, head, why);
    case 0xde:
    case 0xdf:
        if (s_take(data, len, off, b == 0xde ? 2 : 4, &n, why) != 0)
            return -1;
        return s_take_container(len, *off, n, MP_MAP, head, why);
    case 0xc7:
    case 0xc8:
    case 0xc9:
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        return s_ext(b, data, len, off, head, why);
    default:
        return s_scalar(b, data, len, off, head, why);
    }
}

int
mp_scan_skip(const uint8_t *data, size_t len, size_t *off, int depth, long *items, const char **why)
{
    mp_head_t head;
    if (mp_scan_head(data, len, off, &head, why) != 0)
        return -1;
    if (head.type != MP_ARRAY && head.type != MP_MAP)
        return 0;
    if (depth < 1) {
        *why = "msgpack nesting deeper than the message allows";
        return -1;
    }
    size_t elements = head.type == MP_MAP ? head.size * 2 : head.size;
    if ((size_t)*items < elements) {
        *why = "msgpack body declares too many elements";
        return -1;
    }
    *items -= (long)elements;
    for (size_t i = 0; i < elements; i++) {
        if (mp_scan_skip(data, len, off, depth - 1, items, why) != 0)
            return -1;
    }
    return 0;
}

int
mp_scan_check(const uint8_t *data, size_t len, const char **why)
{
    size_t off = 0;
    long items = MP_SCAN_MAX_ITEMS;
    if (data == NULL || len == 0) {
        *why = "empty body";
        return -1;
    }
    if (mp_scan_skip(data, len, &off, MP_SCAN_MAX_DEPTH, &items, why) != 0)
        return -1;
    if (off != len) {
        *why = "trailing bytes after the msgpack object";
        return -1;
    }
    return 0;
}
