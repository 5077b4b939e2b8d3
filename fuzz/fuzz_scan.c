/*
 * fuzz_scan.c - libFuzzer target for the msgpack pre-scan (protocol/mp_scan.h) and
 * proto_peek_rid: the code that stands between network bytes and msgpack-c's allocator.
 *
 * The input is raw msgpack. Properties checked (a broken one aborts, leaving a crash file):
 *   - walking headers one after another with mp_scan_head always moves forward, stays inside
 *     the input and points str/bin/ext payloads inside it;
 *   - mp_scan_check accepts exactly when one mp_scan_skip at the body's depth and element
 *     budget consumes the whole input;
 *   - whatever mp_scan_skip accepts, msgpack-c unpacks to the same end offset and to the same
 *     tree (types, values, sizes, payload bytes), no deeper than MP_SCAN_MAX_DEPTH and with no
 *     more than MP_SCAN_MAX_ITEMS elements; msgpack-c only ever sees pre-scanned input, so a
 *     scan that lets a count bomb through trips -malloc_limit_mb;
 *   - for a scalar at the top (nothing for msgpack-c to pre-allocate), msgpack-c and
 *     mp_scan_head agree on success and on the end offset;
 *   - proto_peek_rid returns the value of the first "rid" key of a top-level map when that is
 *     an unsigned integer, else 0, as read from msgpack-c's tree.
 */
#include "mp_scan.h"
#include "profai/proto.h"

#include "fuzz_check.h"

#include <msgpack.h>
#include <string.h>

/* ---------------------------------------------------------------- headers */

static void
s_walk_heads(const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        size_t before = off;
        const char *why = NULL;
        mp_head_t head;
        if (mp_scan_head(data, len, &off, &head, &why) != 0) {
            FUZZ_CHECK(why != NULL);
            return;
        }
        FUZZ_CHECK(off > before && off <= len);
        if (head.type == MP_STR || head.type == MP_BIN || head.type == MP_EXT) {
            FUZZ_CHECK(head.data == data + off - head.size);
            FUZZ_CHECK(head.type != MP_EXT || head.size >= 1); /* the type byte */
        }
        if (head.type == MP_ARRAY || head.type == MP_MAP) {
            size_t need = head.type == MP_MAP ? 2 * head.size : head.size;
            FUZZ_CHECK(need <= len - off); /* each element needs a byte */
        }
    }
}

/* ---------------------------------------------------------------- msgpack-c vs the scan */

/* Compare msgpack-c's object with the headers the scan reads at *off, in pre-order. */
static void
s_compare(const msgpack_object *o, const uint8_t *data, size_t len, size_t *off, int depth,
          long *items)
{
    const char *why = NULL;
    mp_head_t h;
    FUZZ_CHECK(mp_scan_head(data, len, off, &h, &why) == 0);
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        FUZZ_CHECK(h.type == MP_NIL);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        FUZZ_CHECK(h.type == MP_BOOL && h.value == (uint64_t)o->via.boolean);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        FUZZ_CHECK(h.type == MP_UINT && h.value == o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        FUZZ_CHECK(h.type == MP_NEGINT && (int64_t)h.value == o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        FUZZ_CHECK(h.type == MP_FLOAT);
        break;
    case MSGPACK_OBJECT_STR:
        FUZZ_CHECK(h.type == MP_STR && h.size == o->via.str.size);
        FUZZ_CHECK(h.size == 0 || memcmp(h.data, o->via.str.ptr, h.size) == 0);
        break;
    case MSGPACK_OBJECT_BIN:
        FUZZ_CHECK(h.type == MP_BIN && h.size == o->via.bin.size);
        FUZZ_CHECK(h.size == 0 || memcmp(h.data, o->via.bin.ptr, h.size) == 0);
        break;
    case MSGPACK_OBJECT_EXT:
        /* The scan counts the extension's type byte as payload. */
        FUZZ_CHECK(h.type == MP_EXT && h.size == (size_t)o->via.ext.size + 1);
        FUZZ_CHECK((int8_t)h.data[0] == o->via.ext.type);
        FUZZ_CHECK(o->via.ext.size == 0 ||
                   memcmp(h.data + 1, o->via.ext.ptr, o->via.ext.size) == 0);
        break;
    case MSGPACK_OBJECT_ARRAY:
        FUZZ_CHECK(h.type == MP_ARRAY && h.size == o->via.array.size);
        FUZZ_CHECK(depth < MP_SCAN_MAX_DEPTH);
        *items -= (long)h.size;
        for (uint32_t i = 0; i < o->via.array.size; i++)
            s_compare(&o->via.array.ptr[i], data, len, off, depth + 1, items);
        break;
    case MSGPACK_OBJECT_MAP:
        FUZZ_CHECK(h.type == MP_MAP && h.size == o->via.map.size);
        FUZZ_CHECK(depth < MP_SCAN_MAX_DEPTH);
        *items -= 2 * (long)h.size;
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            s_compare(&o->via.map.ptr[i].key, data, len, off, depth + 1, items);
            s_compare(&o->via.map.ptr[i].val, data, len, off, depth + 1, items);
        }
        break;
    default:
        FUZZ_CHECK(!"msgpack-c returned an unknown object type");
    }
}

/* What proto_peek_rid must return, read from msgpack-c's tree. */
static uint64_t
s_ref_rid(const msgpack_object *root)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return 0;
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *k = &root->via.map.ptr[i].key, *v = &root->via.map.ptr[i].val;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == 3 &&
            memcmp(k->via.str.ptr, "rid", 3) == 0)
            return v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? v->via.u64 : 0;
    }
    return 0;
}

/* The first object passed the scan and ends at `end`: msgpack-c must agree on everything. */
static void
s_check_unpacked(const uint8_t *data, size_t len, size_t end)
{
    msgpack_unpacked unpacked;
    size_t off = 0, walked = 0;
    long items = MP_SCAN_MAX_ITEMS;

    msgpack_unpacked_init(&unpacked);
    msgpack_unpack_return ret = msgpack_unpack_next(&unpacked, (const char *)data, len, &off);
    FUZZ_CHECK(ret == MSGPACK_UNPACK_SUCCESS && off == end);
    s_compare(&unpacked.data, data, len, &walked, 0, &items);
    FUZZ_CHECK(walked == end && items >= 0);
    if (end == len)
        FUZZ_CHECK(proto_peek_rid(data, len) == s_ref_rid(&unpacked.data));
    msgpack_unpacked_destroy(&unpacked);
}

/* A scalar at the top: msgpack-c allocates nothing for it, so it may see any input. */
static void
s_check_scalar(const uint8_t *data, size_t len)
{
    msgpack_unpacked unpacked;
    size_t off = 0, scanned = 0;
    const char *why = NULL;
    mp_head_t head;

    msgpack_unpacked_init(&unpacked);
    msgpack_unpack_return ret = msgpack_unpack_next(&unpacked, (const char *)data, len, &off);
    int rc = mp_scan_head(data, len, &scanned, &head, &why);
    FUZZ_CHECK((ret == MSGPACK_UNPACK_SUCCESS) == (rc == 0));
    if (rc == 0)
        FUZZ_CHECK(off == scanned);
    msgpack_unpacked_destroy(&unpacked);
}

static bool
s_is_container_byte(uint8_t b)
{
    return (b >= 0x80 && b <= 0x9f) || (b >= 0xdc && b <= 0xdf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    size_t end = 0;
    long items = MP_SCAN_MAX_ITEMS;

    s_walk_heads(data, size);
    int skipped = size > 0 ? mp_scan_skip(data, size, &end, MP_SCAN_MAX_DEPTH, &items, &why) : -1;
    int checked = mp_scan_check(data, size, &why);
    FUZZ_CHECK(checked == 0 || why != NULL);
    FUZZ_CHECK((checked == 0) == (skipped == 0 && end == size));
    if (skipped == 0) {
        FUZZ_CHECK(end >= 1 && end <= size && items >= 0);
        s_check_unpacked(data, size, end);
    }
    if (size > 0 && !s_is_container_byte(data[0]))
        s_check_scalar(data, size);
    (void)proto_peek_rid(data, size);
    return 0;
}
