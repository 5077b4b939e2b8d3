/*
 * body.c - the one encoder and the one decoder of msgpack bodies (docs/protocol.md section 3).
 *
 * Both walk a message descriptor (proto_message_t, profai/proto.h; the tables are in
 * messages.c). The encoder reads each field from the struct into a value, checks every value
 * exactly as the decoder would, then packs `v` and the present ones in table order. The decoder
 * first runs the non-allocating pre-scan (mp_scan.c), only then lets msgpack-c unpack, matches
 * the keys to the table, checks `v`, then each value, then what depends on `ok`, and only when
 * all passed writes the struct.
 */
#include "mp_scan.h"
#include "proto_internal.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

/* One field's value on its way between the struct and the wire. */
typedef struct {
    bool present;
    uint64_t u;         /* UINT, BOOL */
    const uint8_t *ptr; /* STR, UUID, SHA256, BIN: borrowed */
    size_t len;
    const msgpack_object *obj; /* decoder only: the value as unpacked */
} s_value_t;

/* What a field is for one outcome (ok or not) of its message. */
typedef enum { S_ABSENT, S_OPTIONAL, S_REQUIRED } s_need_t;

static bool
s_is_str(proto_field_type_t type)
{
    return type == PROTO_FIELD_STR || type == PROTO_FIELD_UUID || type == PROTO_FIELD_SHA256;
}

static s_need_t
s_need(const proto_field_t *f, bool ok)
{
    switch (f->presence) {
    case PROTO_REQUIRED:
        return S_REQUIRED;
    case PROTO_OPTIONAL:
        return S_OPTIONAL;
    case PROTO_WHEN_OK:
        return ok ? S_REQUIRED : S_ABSENT;
    case PROTO_WHEN_NOT_OK:
        return ok ? S_ABSENT : S_REQUIRED;
    case PROTO_REQUIRED_WHEN_OK:
        return ok ? S_REQUIRED : S_OPTIONAL;
    }
    return S_ABSENT;
}

/* ---------------------------------------------------------------- descriptors */

static bool
s_invalid(const char **why, const char *sentence)
{
    if (why != NULL)
        *why = sentence;
    return false;
}

static bool
s_field_valid(const proto_message_t *msg, const proto_field_t *f, const char **why)
{
    if (f->key == NULL || strcmp(f->key, "v") == 0 || strcmp(f->key, "v_minor") == 0)
        return s_invalid(why, "a field has no key, or the key v or v_minor");
    if (f->min > f->max || f->offset > msg->size || f->size > msg->size - f->offset)
        return s_invalid(why, "a field has min over max or a member outside the struct");
    switch (f->type) {
    case PROTO_FIELD_UINT:
        if (f->size == sizeof(uint64_t))
            return true;
        if (f->size == sizeof(uint32_t) && f->max <= UINT32_MAX)
            return true;
        return s_invalid(why, "a uint member is neither 32 nor 64 bits wide for its max");
    case PROTO_FIELD_BOOL:
        if (f->size == sizeof(bool))
            return true;
        return s_invalid(why, "a bool member is not a bool");
    case PROTO_FIELD_STR:
    case PROTO_FIELD_UUID:
    case PROTO_FIELD_SHA256:
        if (f->max < f->size)
            return true;
        return s_invalid(why, "a string member cannot hold max bytes and a NUL");
    case PROTO_FIELD_BIN:
        if (f->size == sizeof(const uint8_t *) && msg->size >= sizeof(size_t) &&
            f->len_offset <= msg->size - sizeof(size_t))
            return true;
        return s_invalid(why, "a bin field's pointer or length member is wrong");
    }
    return s_invalid(why, "a field has an unknown type");
}

bool
proto_message_valid(const proto_message_t *msg, const char **why)
{
    bool conditional = false;
    if (msg == NULL || msg->fields == NULL || msg->count < 1 || msg->count > PROTO_FIELDS_MAX)
        return s_invalid(why, "no fields, or more than PROTO_FIELDS_MAX");
    for (size_t i = 0; i < msg->count; i++) {
        const proto_field_t *f = &msg->fields[i];
        if (!s_field_valid(msg, f, why))
            return false;
        for (size_t k = 0; k < i; k++) {
            if (strcmp(msg->fields[k].key, f->key) == 0)
                return s_invalid(why, "two fields have the same key");
        }
        conditional |= f->presence != PROTO_REQUIRED && f->presence != PROTO_OPTIONAL;
    }
    if (msg->ok_field < 0)
        return conditional ? s_invalid(why, "fields depend on ok but there is no ok field") : true;
    if ((size_t)msg->ok_field >= msg->count ||
        msg->fields[msg->ok_field].type != PROTO_FIELD_BOOL ||
        msg->fields[msg->ok_field].presence != PROTO_REQUIRED)
        return s_invalid(why, "ok_field is not a required bool of the table");
    return true;
}

static int
s_check_descriptor(const proto_message_t *msg, proto_error_t *err)
{
    const char *why = NULL;
    if (!proto_message_valid(msg, &why))
        return proto_error_set(err, PROFAI_ERR_INTERNAL, "message %s: %s",
                               msg != NULL && msg->name != NULL ? msg->name : "?", why);
    return 0;
}

/* ---------------------------------------------------------------- checks */

static int
s_check_uint(const proto_field_t *f, const s_value_t *v, proto_error_t *err)
{
    if (v->u < f->min || v->u > f->max)
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST,
                               "field '%s' must be between %llu and %llu", f->key,
                               (unsigned long long)f->min, (unsigned long long)f->max);
    return 0;
}

static int
s_check_len(const proto_field_t *f, const s_value_t *v, proto_error_t *err)
{
    if (v->len > f->max)
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "field '%s' is longer than %llu bytes",
                               f->key, (unsigned long long)f->max);
    if (v->len < f->min)
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "field '%s' is empty", f->key);
    if (v->len > 0 && v->ptr == NULL)
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "field '%s' has no data", f->key);
    return 0;
}

static int
s_check_str(const proto_field_t *f, const s_value_t *v, proto_error_t *err)
{
    const char *s = (const char *)v->ptr;
    if (s_check_len(f, v, err) != 0)
        return -1;
    if (v->len > 0 && memchr(s, '\0', v->len) != NULL)
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "field '%s' contains a NUL byte",
                               f->key);
    if (!proto_is_utf8(s, v->len))
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "field '%s' is not valid UTF-8",
                               f->key);
    if (f->type == PROTO_FIELD_UUID && !proto_is_uuid(s, v->len))
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST,
                               "field '%s' is not a lower-case canonical uuid", f->key);
    if (f->type == PROTO_FIELD_SHA256 && !proto_is_sha256(s, v->len))
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST,
                               "field '%s' is not 64 lower-case hex digits", f->key);
    return 0;
}

/* Check one value against its field's limits; an absent one passes unless required. */
static int
s_check_value(const proto_field_t *f, const s_value_t *v, bool required, proto_error_t *err)
{
    if (!v->present) {
        if (required)
            return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "field '%s' is missing", f->key);
        return 0;
    }
    switch (f->type) {
    case PROTO_FIELD_UINT:
        return s_check_uint(f, v, err);
    case PROTO_FIELD_BOOL:
        return 0;
    case PROTO_FIELD_STR:
    case PROTO_FIELD_UUID:
    case PROTO_FIELD_SHA256:
        return s_check_str(f, v, err);
    case PROTO_FIELD_BIN:
        return s_check_len(f, v, err);
    }
    return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "field '%s' has an unknown type", f->key);
}

/* ---------------------------------------------------------------- struct members */

static const void *
s_member(const void *m, size_t offset)
{
    return (const char *)m + offset;
}

static bool
s_read_bool(const void *m, size_t offset)
{
    bool b;
    memcpy(&b, s_member(m, offset), sizeof b);
    return b;
}

/* Read a field's member into v; v->present is left to the caller. A string member not
 * terminated within max + 1 bytes reads as max + 1 bytes long, so its check fails. */
static void
s_read_member(const proto_field_t *f, const void *m, s_value_t *v)
{
    const void *p = s_member(m, f->offset);
    *v = (s_value_t){0};
    if (f->type == PROTO_FIELD_UINT && f->size == sizeof(uint32_t)) {
        uint32_t u32;
        memcpy(&u32, p, sizeof u32);
        v->u = u32;
    } else if (f->type == PROTO_FIELD_UINT) {
        memcpy(&v->u, p, sizeof v->u);
    } else if (f->type == PROTO_FIELD_BOOL) {
        v->u = s_read_bool(m, f->offset);
    } else if (s_is_str(f->type)) {
        v->ptr = p;
        v->len = strnlen(p, (size_t)f->max + 1);
    } else {
        memcpy(&v->ptr, p, sizeof v->ptr);
        memcpy(&v->len, s_member(m, f->len_offset), sizeof v->len);
    }
}

/* Write a checked value into its member (strings are copied and terminated). */
static void
s_write_member(const proto_field_t *f, const s_value_t *v, void *m)
{
    char *p = (char *)m + f->offset;
    if (f->type == PROTO_FIELD_UINT && f->size == sizeof(uint32_t)) {
        uint32_t u32 = (uint32_t)v->u; /* max <= UINT32_MAX: proto_message_valid */
        memcpy(p, &u32, sizeof u32);
    } else if (f->type == PROTO_FIELD_UINT) {
        memcpy(p, &v->u, sizeof v->u);
    } else if (f->type == PROTO_FIELD_BOOL) {
        bool b = v->u != 0;
        memcpy(p, &b, sizeof b);
    } else if (s_is_str(f->type)) {
        if (v->len > 0)
            memcpy(p, v->ptr, v->len); /* len <= max < size: proto_message_valid */
        p[v->len] = '\0';
    } else {
        memcpy(p, &v->ptr, sizeof v->ptr);
        memcpy((char *)m + f->len_offset, &v->len, sizeof v->len);
    }
}

/* ---------------------------------------------------------------- encoding */

static int
s_pack_value(msgpack_packer *pk, const proto_field_t *f, const s_value_t *v)
{
    int rc = msgpack_pack_str_with_body(pk, f->key, strlen(f->key));
    switch (f->type) {
    case PROTO_FIELD_UINT:
        rc |= msgpack_pack_uint64(pk, v->u);
        break;
    case PROTO_FIELD_BOOL:
        rc |= v->u ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        break;
    case PROTO_FIELD_STR:
    case PROTO_FIELD_UUID:
    case PROTO_FIELD_SHA256:
        rc |= msgpack_pack_str_with_body(pk, v->ptr, v->len);
        break;
    case PROTO_FIELD_BIN:
        rc |= msgpack_pack_bin_with_body(pk, v->ptr, v->len);
        break;
    }
    return rc;
}

/* Pack `v` and the present values as one map into a buffer sized up front (a 64 MiB PDF is
 * copied once, not regrown). */
static int
s_pack(const proto_message_t *msg, const s_value_t *values, proto_buf_t *out, proto_error_t *err)
{
    size_t present = PROTO_VERSION_MINOR > 0 ? 2 : 1, estimate = 32;
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    int rc = 0;

    for (size_t i = 0; i < msg->count; i++) {
        if (values[i].present) {
            present++;
            estimate += 32 + strlen(msg->fields[i].key) + values[i].len;
        }
    }
    msgpack_sbuffer_init(&sbuf);
    sbuf.data = malloc(estimate);
    if (sbuf.data == NULL)
        return proto_error_set(err, PROFAI_ERR_INTERNAL, "out of memory encoding a body");
    sbuf.alloc = estimate;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    rc |= msgpack_pack_map(&pk, present);
    rc |= msgpack_pack_str_with_body(&pk, "v", 1);
    rc |= msgpack_pack_uint64(&pk, PROTO_VERSION);
    if (PROTO_VERSION_MINOR > 0) { /* a 1.0 peer sent none: absent means 0 */
        rc |= msgpack_pack_str_with_body(&pk, "v_minor", 7);
        rc |= msgpack_pack_uint64(&pk, PROTO_VERSION_MINOR);
    }
    for (size_t i = 0; i < msg->count; i++) {
        if (values[i].present)
            rc |= s_pack_value(&pk, &msg->fields[i], &values[i]);
    }
    if (rc != 0) {
        msgpack_sbuffer_destroy(&sbuf);
        return proto_error_set(err, PROFAI_ERR_INTERNAL, "out of memory encoding a body");
    }
    out->size = sbuf.size;
    out->data = (uint8_t *)msgpack_sbuffer_release(&sbuf);
    return 0;
}

int
proto_message_encode(const proto_message_t *msg, const void *m, proto_buf_t *out,
                     proto_error_t *err)
{
    s_value_t values[PROTO_FIELDS_MAX];
    if (out != NULL)
        *out = (proto_buf_t){0};
    if (m == NULL || out == NULL)
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "no message to encode");
    if (s_check_descriptor(msg, err) != 0)
        return -1;
    bool ok = msg->ok_field >= 0 && s_read_bool(m, msg->fields[msg->ok_field].offset);
    for (size_t i = 0; i < msg->count; i++) {
        const proto_field_t *f = &msg->fields[i];
        s_need_t need = s_need(f, ok);
        s_read_member(f, m, &values[i]);
        /* Optional values are sent only when set: not 0, not empty. */
        values[i].present =
            need == S_REQUIRED || (need == S_OPTIONAL && (values[i].u != 0 || values[i].len > 0));
        if (s_check_value(f, &values[i], need == S_REQUIRED, err) != 0)
            return -1;
    }
    return s_pack(msg, values, out, err);
}

/* ---------------------------------------------------------------- decoding */

/* Take one unpacked value, checking its msgpack type. nil = absent. */
static int
s_take_value(const proto_field_t *f, const msgpack_object *o, s_value_t *v, proto_error_t *err)
{
    if (o->type == MSGPACK_OBJECT_NIL)
        return 0;
    switch (f->type) {
    case PROTO_FIELD_UINT:
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return proto_error_set(err, PROFAI_ERR_BAD_REQUEST,
                                   "field '%s' must be an unsigned integer", f->key);
        v->u = o->via.u64;
        break;
    case PROTO_FIELD_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "field '%s' must be a boolean",
                                   f->key);
        v->u = o->via.boolean;
        break;
    case PROTO_FIELD_STR:
    case PROTO_FIELD_UUID:
    case PROTO_FIELD_SHA256:
        if (o->type != MSGPACK_OBJECT_STR)
            return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "field '%s' must be a string",
                                   f->key);
        v->ptr = (const uint8_t *)o->via.str.ptr;
        v->len = o->via.str.size;
        break;
    case PROTO_FIELD_BIN:
        if (o->type != MSGPACK_OBJECT_BIN)
            return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "field '%s' must be binary",
                                   f->key);
        v->ptr = (const uint8_t *)o->via.bin.ptr;
        v->len = o->via.bin.size;
        break;
    }
    v->present = true;
    return 0;
}

static bool
s_key_is(const char *key, const msgpack_object_str *s)
{
    return strlen(key) == s->size && memcmp(key, s->ptr, s->size) == 0;
}

/* Match the map's keys to `v`, `v_minor` and the table: strings only, each known key once. */
static int
s_collect(const proto_message_t *msg, const msgpack_object *root, const msgpack_object **version,
          const msgpack_object **minor, s_value_t *values, proto_error_t *err)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "body is not a msgpack map");
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object_kv *kv = &root->via.map.ptr[i];
        const msgpack_object **slot = NULL;
        const char *key = "v";
        if (kv->key.type != MSGPACK_OBJECT_STR)
            return proto_error_set(err, PROFAI_ERR_BAD_REQUEST,
                                   "body has a key that is not a string");
        if (s_key_is("v", &kv->key.via.str))
            slot = version;
        else if (s_key_is("v_minor", &kv->key.via.str)) {
            slot = minor;
            key = "v_minor";
        }
        for (size_t k = 0; slot == NULL && k < msg->count; k++) {
            if (s_key_is(msg->fields[k].key, &kv->key.via.str)) {
                slot = &values[k].obj;
                key = msg->fields[k].key;
            }
        }
        if (slot == NULL)
            continue; /* unknown keys are ignored: a newer minor's (docs/protocol.md 3.5) */
        if (*slot != NULL)
            return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "field '%s' appears twice", key);
        *slot = &kv->val;
    }
    return 0;
}

/* The version decides how to read everything else, so it is checked first: the major must be
 * ours, any minor is read (docs/protocol.md 3.5). */
static int
s_check_version(const msgpack_object *o, const msgpack_object *minor, proto_error_t *err)
{
    if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "field 'v' is missing");
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return proto_error_set(err, PROFAI_ERR_UNSUPPORTED_VERSION,
                               "field 'v' is not a protocol major version: this peer speaks "
                               "%d.%d",
                               PROTO_VERSION, PROTO_VERSION_MINOR);
    if (o->via.u64 != PROTO_VERSION)
        return proto_error_set(err, PROFAI_ERR_UNSUPPORTED_VERSION,
                               "protocol version %llu.x is not supported: this peer speaks "
                               "%d.%d; peers must share the major version",
                               (unsigned long long)o->via.u64, PROTO_VERSION, PROTO_VERSION_MINOR);
    if (minor != NULL && minor->type != MSGPACK_OBJECT_NIL &&
        (minor->type != MSGPACK_OBJECT_POSITIVE_INTEGER || minor->via.u64 > UINT32_MAX))
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST,
                               "field 'v_minor' is not an unsigned integer of 32 bits");
    return 0;
}

/* Check the collected values: each one's type and limits in table order (required fields must
 * be there), then the fields that the outcome requires. */
static int
s_check_values(const proto_message_t *msg, s_value_t *values, proto_error_t *err)
{
    for (size_t i = 0; i < msg->count; i++) {
        const proto_field_t *f = &msg->fields[i];
        if (values[i].obj != NULL && s_take_value(f, values[i].obj, &values[i], err) != 0)
            return -1;
        if (s_check_value(f, &values[i], f->presence == PROTO_REQUIRED, err) != 0)
            return -1;
    }
    bool ok = msg->ok_field >= 0 && values[msg->ok_field].u != 0;
    for (size_t i = 0; i < msg->count; i++) {
        if (!values[i].present && s_need(&msg->fields[i], ok) == S_REQUIRED)
            return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "field '%s' is missing",
                                   msg->fields[i].key);
    }
    return 0;
}

int
proto_message_decode(const proto_message_t *msg, const uint8_t *data, size_t len, void *m,
                     proto_error_t *err)
{
    s_value_t values[PROTO_FIELDS_MAX] = {{0}};
    const msgpack_object *version = NULL, *minor = NULL;
    const char *why = NULL;
    msgpack_unpacked unpacked;
    size_t off = 0;
    int rc = -1;

    if (m == NULL)
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "no message to decode into");
    if (s_check_descriptor(msg, err) != 0)
        return -1;
    memset(m, 0, msg->size);
    if (mp_scan_check(data, len, &why) != 0)
        return proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "body rejected: %s", why);
    msgpack_unpacked_init(&unpacked);
    msgpack_unpack_return ret = msgpack_unpack_next(&unpacked, (const char *)data, len, &off);
    if (ret != MSGPACK_UNPACK_SUCCESS || off != len) {
        proto_error_set(err, PROFAI_ERR_BAD_REQUEST, "body is not one msgpack object");
        goto fail;
    }
    if (s_collect(msg, &unpacked.data, &version, &minor, values, err) != 0 ||
        s_check_version(version, minor, err) != 0 || s_check_values(msg, values, err) != 0)
        goto fail;
    /* Everything passed: only now the struct is written. Strings and binaries of the values
     * point into data, not into the zone freed below. */
    bool ok = msg->ok_field >= 0 && values[msg->ok_field].u != 0;
    for (size_t i = 0; i < msg->count; i++) {
        if (values[i].present && s_need(&msg->fields[i], ok) != S_ABSENT)
            s_write_member(&msg->fields[i], &values[i], m);
    }
    rc = 0;
fail:
    msgpack_unpacked_destroy(&unpacked);
    return rc;
}

/* ---------------------------------------------------------------- rid */

/* Walk the top-level map with the pre-scan reader only: nothing is allocated, and a body
 * the decoders refuse (bad field, trailing bytes) still yields its rid. */
uint64_t
proto_peek_rid(const uint8_t *data, size_t len)
{
    const char *why = NULL;
    long items = MP_SCAN_MAX_ITEMS;
    size_t off = 0;
    mp_head_t head;

    if (data == NULL || mp_scan_head(data, len, &off, &head, &why) != 0 || head.type != MP_MAP)
        return 0;
    for (size_t i = 0; i < head.size; i++) {
        size_t key_off = off;
        mp_head_t key, val;
        if (mp_scan_head(data, len, &off, &key, &why) != 0)
            return 0;
        if (key.type == MP_STR && key.size == 3 && memcmp(key.data, "rid", 3) == 0) {
            if (mp_scan_head(data, len, &off, &val, &why) != 0)
                return 0;
            return val.type == MP_UINT ? val.value : 0;
        }
        off = key_off;
        if (mp_scan_skip(data, len, &off, MP_SCAN_MAX_DEPTH - 1, &items, &why) != 0 ||
            mp_scan_skip(data, len, &off, MP_SCAN_MAX_DEPTH - 1, &items, &why) != 0)
            return 0;
    }
    return 0;
}
