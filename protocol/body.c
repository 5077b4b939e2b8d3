/*
 * body.c - msgpack bodies of the ProfAI protocol (docs/protocol.md section 3).
 *
 * Every message is described by a table of fields. Encoders fill the table from the struct,
 * check every field exactly as the decoder would, then pack the present ones in table order.
 * Decoders first run the non-allocating pre-scan (mp_scan.c), only then let msgpack-c unpack,
 * collect the known keys into the table, check them and copy them out.
 */
#include "mp_scan.h"
#include "proto_internal.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

typedef enum { S_UINT, S_BOOL, S_STR, S_UUID, S_SHA256, S_BIN } s_kind_t;

typedef struct {
    const char *key;
    s_kind_t kind;
    bool required;
    uint64_t min; /* S_UINT: least value; S_STR, S_BIN: least length */
    uint64_t max; /* S_UINT: greatest value; S_STR, S_BIN: greatest length */
    /* The value: set by an encoder from its struct, by a decoder from the body. */
    bool present;
    uint64_t u;         /* S_UINT, S_BOOL */
    const uint8_t *ptr; /* S_STR, S_UUID, S_SHA256, S_BIN: borrowed */
    size_t len;
    const msgpack_object *obj; /* decoder only: the value as unpacked */
} s_field_t;

/* A table entry: key, kind, required, min, max. */
#define S_FIELD(k, kd, req, mn, mx)                                                                \
    {                                                                                              \
        .key = (k), .kind = (kd), .required = (req), .min = (mn), .max = (mx)                      \
    }
#define S_VERSION S_FIELD("v", S_UINT, true, PROTO_VERSION, PROTO_VERSION)
#define S_RID S_FIELD("rid", S_UINT, true, 0, UINT64_MAX)
#define S_OK S_FIELD("ok", S_BOOL, true, 0, 1)
#define S_ERROR_CODE S_FIELD("error_code", S_STR, false, 1, PROTO_CODE_MAX)
#define S_ERROR S_FIELD("error", S_STR, false, 0, PROTO_ERROR_MAX)

/* ---------------------------------------------------------------- checks */

static int
s_check_uint(const s_field_t *f, proto_error_t *err)
{
    if (f->u < f->min || f->u > f->max)
        return proto_error_set(err, PROTO_BAD_REQUEST, "field '%s' must be between %llu and %llu",
                               f->key, (unsigned long long)f->min, (unsigned long long)f->max);
    return 0;
}

static int
s_check_str(const s_field_t *f, proto_error_t *err)
{
    const char *s = (const char *)f->ptr;
    if (f->len > f->max)
        return proto_error_set(err, PROTO_BAD_REQUEST, "field '%s' is longer than %llu bytes",
                               f->key, (unsigned long long)f->max);
    if (f->len < f->min)
        return proto_error_set(err, PROTO_BAD_REQUEST, "field '%s' is empty", f->key);
    if (f->len > 0 && s == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "field '%s' has no data", f->key);
    if (f->len > 0 && memchr(s, '\0', f->len) != NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "field '%s' contains a NUL byte", f->key);
    if (!proto_is_utf8(s, f->len))
        return proto_error_set(err, PROTO_BAD_REQUEST, "field '%s' is not valid UTF-8", f->key);
    if (f->kind == S_UUID && !proto_is_uuid(s, f->len))
        return proto_error_set(err, PROTO_BAD_REQUEST,
                               "field '%s' is not a lower-case canonical uuid", f->key);
    if (f->kind == S_SHA256 && !proto_is_sha256(s, f->len))
        return proto_error_set(err, PROTO_BAD_REQUEST, "field '%s' is not 64 lower-case hex digits",
                               f->key);
    return 0;
}

static int
s_check_bin(const s_field_t *f, proto_error_t *err)
{
    if (f->len > f->max)
        return proto_error_set(err, PROTO_BAD_REQUEST, "field '%s' is longer than %llu bytes",
                               f->key, (unsigned long long)f->max);
    if (f->len < f->min)
        return proto_error_set(err, PROTO_BAD_REQUEST, "field '%s' is empty", f->key);
    if (f->len > 0 && f->ptr == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "field '%s' has no data", f->key);
    return 0;
}

/* Check one field's value against its limits; absent fields pass unless required. */
static int
s_check_field(const s_field_t *f, proto_error_t *err)
{
    if (!f->present) {
        if (f->required)
            return proto_error_set(err, PROTO_BAD_REQUEST, "field '%s' is missing", f->key);
        return 0;
    }
    switch (f->kind) {
    case S_UINT:
        return s_check_uint(f, err);
    case S_BOOL:
        return 0;
    case S_STR:
    case S_UUID:
    case S_SHA256:
        return s_check_str(f, err);
    case S_BIN:
        return s_check_bin(f, err);
    }
    return proto_error_set(err, PROTO_BAD_REQUEST, "field '%s' has an unknown kind", f->key);
}

/* ---------------------------------------------------------------- encoding */

/* Set a string field from a NUL-terminated struct member; optional ones are sent only when
 * non-empty. A string longer than the limit keeps a length over it, so the check fails. */
static void
s_set_str(s_field_t *f, const char *s)
{
    f->ptr = (const uint8_t *)s;
    f->len = proto_strlen_max(s, (size_t)f->max);
    if (s == NULL)
        f->len = 0;
    f->present = f->required || f->len > 0;
}

static void
s_set_uint(s_field_t *f, uint64_t u)
{
    f->u = u;
    f->present = f->required || u != 0;
}

static void
s_set_bin(s_field_t *f, const uint8_t *ptr, size_t len)
{
    f->ptr = ptr;
    f->len = len;
    f->present = f->required || len > 0;
}

static int
s_pack_field(msgpack_packer *pk, const s_field_t *f)
{
    size_t klen = strlen(f->key);
    int rc = msgpack_pack_str_with_body(pk, f->key, klen);
    switch (f->kind) {
    case S_UINT:
        rc |= msgpack_pack_uint64(pk, f->u);
        break;
    case S_BOOL:
        rc |= f->u ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        break;
    case S_STR:
    case S_UUID:
    case S_SHA256:
        rc |= msgpack_pack_str_with_body(pk, f->ptr, f->len);
        break;
    case S_BIN:
        rc |= msgpack_pack_bin_with_body(pk, f->ptr, f->len);
        break;
    }
    return rc;
}

/* Check every field, then pack the present ones, in table order, as one map into a buffer
 * sized up front (a 64 MiB PDF is copied once, not regrown). */
static int
s_encode(const s_field_t *fields, size_t count, proto_buf_t *out, proto_error_t *err)
{
    size_t present = 0, estimate = 16;
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    int rc = 0;

    *out = (proto_buf_t){0};
    for (size_t i = 0; i < count; i++) {
        if (s_check_field(&fields[i], err) != 0)
            return -1;
        if (fields[i].present) {
            present++;
            estimate += 32 + strlen(fields[i].key) + fields[i].len;
        }
    }
    msgpack_sbuffer_init(&sbuf);
    sbuf.data = malloc(estimate);
    if (sbuf.data == NULL)
        return proto_error_set(err, "internal", "out of memory encoding a body");
    sbuf.alloc = estimate;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    rc |= msgpack_pack_map(&pk, present);
    for (size_t i = 0; i < count; i++) {
        if (fields[i].present)
            rc |= s_pack_field(&pk, &fields[i]);
    }
    if (rc != 0) {
        msgpack_sbuffer_destroy(&sbuf);
        return proto_error_set(err, "internal", "out of memory encoding a body");
    }
    out->size = sbuf.size;
    out->data = (uint8_t *)msgpack_sbuffer_release(&sbuf);
    return 0;
}

/* ---------------------------------------------------------------- decoding */

/* Take one unpacked value into its field, checking its msgpack type. nil = absent. */
static int
s_take_value(s_field_t *f, const msgpack_object *o, proto_error_t *err)
{
    if (o->type == MSGPACK_OBJECT_NIL)
        return 0;
    switch (f->kind) {
    case S_UINT:
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return proto_error_set(err, PROTO_BAD_REQUEST, "field '%s' must be an unsigned integer",
                                   f->key);
        f->u = o->via.u64;
        break;
    case S_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            return proto_error_set(err, PROTO_BAD_REQUEST, "field '%s' must be a boolean", f->key);
        f->u = o->via.boolean;
        break;
    case S_STR:
    case S_UUID:
    case S_SHA256:
        if (o->type != MSGPACK_OBJECT_STR)
            return proto_error_set(err, PROTO_BAD_REQUEST, "field '%s' must be a string", f->key);
        f->ptr = (const uint8_t *)o->via.str.ptr;
        f->len = o->via.str.size;
        break;
    case S_BIN:
        if (o->type != MSGPACK_OBJECT_BIN)
            return proto_error_set(err, PROTO_BAD_REQUEST, "field '%s' must be binary", f->key);
        f->ptr = (const uint8_t *)o->via.bin.ptr;
        f->len = o->via.bin.size;
        break;
    }
    f->present = true;
    return 0;
}

static s_field_t *
s_find(s_field_t *fields, size_t count, const msgpack_object_str *key)
{
    for (size_t i = 0; i < count; i++) {
        if (strlen(fields[i].key) == key->size && memcmp(fields[i].key, key->ptr, key->size) == 0)
            return &fields[i];
    }
    return NULL;
}

/* Match the map's keys to the table: strings only, each known key once. */
static int
s_collect(const msgpack_object *root, s_field_t *fields, size_t count, proto_error_t *err)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return proto_error_set(err, PROTO_BAD_REQUEST, "body is not a msgpack map");
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object_kv *kv = &root->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            return proto_error_set(err, PROTO_BAD_REQUEST, "body has a key that is not a string");
        s_field_t *f = s_find(fields, count, &kv->key.via.str);
        if (f == NULL)
            continue; /* unknown keys are ignored so that version 1 can grow */
        if (f->obj != NULL)
            return proto_error_set(err, PROTO_BAD_REQUEST, "field '%s' appears twice", f->key);
        f->obj = &kv->val;
    }
    return 0;
}

/* The version decides how to read everything else, so it is checked first. */
static int
s_check_version(const s_field_t *v, proto_error_t *err)
{
    const msgpack_object *o = v->obj;
    if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "field 'v' is missing");
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 != PROTO_VERSION)
        return proto_error_set(err, PROTO_UNSUPPORTED_VERSION, "field 'v' is not %d",
                               PROTO_VERSION);
    return 0;
}

static int
s_check_fields(s_field_t *fields, size_t count, proto_error_t *err)
{
    if (s_check_version(&fields[0], err) != 0)
        return -1;
    fields[0].present = true;
    fields[0].u = PROTO_VERSION;
    for (size_t i = 1; i < count; i++) {
        if (fields[i].obj != NULL && s_take_value(&fields[i], fields[i].obj, err) != 0)
            return -1;
        if (s_check_field(&fields[i], err) != 0)
            return -1;
    }
    return 0;
}

/* Decode data into the table; fields[0] must be the version. Strings and binaries of the
 * table point into data. */
static int
s_decode(const uint8_t *data, size_t len, s_field_t *fields, size_t count, proto_error_t *err)
{
    const char *why = NULL;
    msgpack_unpacked unpacked;
    size_t off = 0;
    int rc = -1;

    if (mp_scan_check(data, len, &why) != 0)
        return proto_error_set(err, PROTO_BAD_REQUEST, "body rejected: %s", why);
    msgpack_unpacked_init(&unpacked);
    msgpack_unpack_return ret = msgpack_unpack_next(&unpacked, (const char *)data, len, &off);
    if (ret != MSGPACK_UNPACK_SUCCESS || off != len) {
        proto_error_set(err, PROTO_BAD_REQUEST, "body is not one msgpack object");
        goto fail;
    }
    if (s_collect(&unpacked.data, fields, count, err) != 0)
        goto fail;
    rc = s_check_fields(fields, count, err);
fail:
    /* The table must not keep pointers into the zone. */
    for (size_t i = 0; i < count; i++)
        fields[i].obj = NULL;
    msgpack_unpacked_destroy(&unpacked);
    return rc;
}

/* Copy a checked string field into its struct member of dst_size bytes ("" when absent). */
static void
s_copy_str(char *dst, size_t dst_size, const s_field_t *f)
{
    size_t n = f->present ? f->len : 0;
    if (n >= dst_size)
        n = dst_size - 1; /* cannot happen: limits match the members */
    if (n > 0)
        memcpy(dst, f->ptr, n);
    dst[n] = '\0';
}

#define S_COPY_STR(dst, f) s_copy_str((dst), sizeof(dst), (f))

/* A field required only in one case (ok / not ok) must then be present. */
static int
s_require(const s_field_t *f, proto_error_t *err)
{
    if (!f->present)
        return proto_error_set(err, PROTO_BAD_REQUEST, "field '%s' is missing", f->key);
    return 0;
}

/* ---------------------------------------------------------------- JOB */

enum { JOB_V, JOB_ID, JOB_ATTEMPT, JOB_TITLE, JOB_FILENAME, JOB_SHA256, JOB_PDF, JOB_N };

static const s_field_t s_job_fields[JOB_N] = {
    S_VERSION,
    S_FIELD("job_id", S_UUID, true, PROTO_UUID_LEN, PROTO_UUID_LEN),
    S_FIELD("attempt", S_UINT, true, 1, UINT32_MAX),
    S_FIELD("title", S_STR, true, 0, PROTO_TITLE_MAX),
    S_FIELD("filename", S_STR, true, 0, PROTO_FILENAME_MAX),
    S_FIELD("sha256", S_SHA256, true, PROTO_SHA256_LEN, PROTO_SHA256_LEN),
    S_FIELD("pdf", S_BIN, true, 0, PROTO_PDF_MAX),
};

int
proto_job_encode(const proto_job_t *m, proto_buf_t *out, proto_error_t *err)
{
    s_field_t f[JOB_N];
    if (m == NULL || out == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "no message to encode");
    memcpy(f, s_job_fields, sizeof f);
    s_set_uint(&f[JOB_V], PROTO_VERSION);
    s_set_str(&f[JOB_ID], m->job_id);
    s_set_uint(&f[JOB_ATTEMPT], m->attempt);
    s_set_str(&f[JOB_TITLE], m->title);
    s_set_str(&f[JOB_FILENAME], m->filename);
    s_set_str(&f[JOB_SHA256], m->sha256);
    s_set_bin(&f[JOB_PDF], m->pdf, m->pdf_len);
    return s_encode(f, JOB_N, out, err);
}

int
proto_job_decode(const uint8_t *data, size_t len, proto_job_t *m, proto_error_t *err)
{
    s_field_t f[JOB_N];
    memcpy(f, s_job_fields, sizeof f);
    if (m == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "no message to decode into");
    *m = (proto_job_t){0};
    if (s_decode(data, len, f, JOB_N, err) != 0)
        return -1;
    S_COPY_STR(m->job_id, &f[JOB_ID]);
    m->attempt = (uint32_t)f[JOB_ATTEMPT].u;
    S_COPY_STR(m->title, &f[JOB_TITLE]);
    S_COPY_STR(m->filename, &f[JOB_FILENAME]);
    S_COPY_STR(m->sha256, &f[JOB_SHA256]);
    m->pdf = f[JOB_PDF].ptr;
    m->pdf_len = f[JOB_PDF].len;
    return 0;
}

/* ---------------------------------------------------------------- PROGRESS */

enum { PROGRESS_V, PROGRESS_PROGRESS, PROGRESS_STAGE, PROGRESS_PAGE, PROGRESS_PAGES, PROGRESS_N };

static const s_field_t s_progress_fields[PROGRESS_N] = {
    S_VERSION,
    S_FIELD("progress", S_UINT, true, 0, 100),
    S_FIELD("stage", S_STR, true, 0, PROTO_STAGE_MAX),
    S_FIELD("page", S_UINT, false, 0, UINT32_MAX),
    S_FIELD("pages", S_UINT, false, 0, UINT32_MAX),
};

int
proto_progress_encode(const proto_progress_t *m, proto_buf_t *out, proto_error_t *err)
{
    s_field_t f[PROGRESS_N];
    if (m == NULL || out == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "no message to encode");
    memcpy(f, s_progress_fields, sizeof f);
    s_set_uint(&f[PROGRESS_V], PROTO_VERSION);
    s_set_uint(&f[PROGRESS_PROGRESS], m->progress);
    s_set_str(&f[PROGRESS_STAGE], m->stage);
    s_set_uint(&f[PROGRESS_PAGE], m->page);
    s_set_uint(&f[PROGRESS_PAGES], m->pages);
    return s_encode(f, PROGRESS_N, out, err);
}

int
proto_progress_decode(const uint8_t *data, size_t len, proto_progress_t *m, proto_error_t *err)
{
    s_field_t f[PROGRESS_N];
    memcpy(f, s_progress_fields, sizeof f);
    if (m == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "no message to decode into");
    *m = (proto_progress_t){0};
    if (s_decode(data, len, f, PROGRESS_N, err) != 0)
        return -1;
    m->progress = (uint32_t)f[PROGRESS_PROGRESS].u;
    S_COPY_STR(m->stage, &f[PROGRESS_STAGE]);
    m->page = (uint32_t)f[PROGRESS_PAGE].u;
    m->pages = (uint32_t)f[PROGRESS_PAGES].u;
    return 0;
}

/* ---------------------------------------------------------------- RESULT */

enum { RESULT_V, RESULT_OK, RESULT_COURSE, RESULT_CODE, RESULT_ERROR, RESULT_N };

static const s_field_t s_result_fields[RESULT_N] = {
    S_VERSION, S_OK, S_FIELD("course", S_BIN, false, 1, PROTO_COURSE_MAX), S_ERROR_CODE, S_ERROR,
};

int
proto_result_encode(const proto_result_t *m, proto_buf_t *out, proto_error_t *err)
{
    s_field_t f[RESULT_N];
    if (m == NULL || out == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "no message to encode");
    memcpy(f, s_result_fields, sizeof f);
    f[RESULT_COURSE].required = m->ok;
    f[RESULT_CODE].required = !m->ok;
    s_set_uint(&f[RESULT_V], PROTO_VERSION);
    s_set_uint(&f[RESULT_OK], m->ok);
    s_set_bin(&f[RESULT_COURSE], m->ok ? m->course : NULL, m->ok ? m->course_len : 0);
    s_set_str(&f[RESULT_CODE], m->ok ? "" : m->error_code);
    s_set_str(&f[RESULT_ERROR], m->error);
    return s_encode(f, RESULT_N, out, err);
}

int
proto_result_decode(const uint8_t *data, size_t len, proto_result_t *m, proto_error_t *err)
{
    s_field_t f[RESULT_N];
    memcpy(f, s_result_fields, sizeof f);
    if (m == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "no message to decode into");
    *m = (proto_result_t){0};
    if (s_decode(data, len, f, RESULT_N, err) != 0)
        return -1;
    m->ok = f[RESULT_OK].u != 0;
    if (s_require(m->ok ? &f[RESULT_COURSE] : &f[RESULT_CODE], err) != 0)
        return -1;
    if (m->ok) {
        m->course = f[RESULT_COURSE].ptr;
        m->course_len = f[RESULT_COURSE].len;
    } else {
        S_COPY_STR(m->error_code, &f[RESULT_CODE]);
    }
    S_COPY_STR(m->error, &f[RESULT_ERROR]);
    return 0;
}

/* ---------------------------------------------------------------- SUBMIT */

enum { SUBMIT_V, SUBMIT_RID, SUBMIT_OWNER, SUBMIT_TITLE, SUBMIT_FILENAME, SUBMIT_SHA256, SUBMIT_N };

static const s_field_t s_submit_fields[SUBMIT_N] = {
    S_VERSION,
    S_RID,
    S_FIELD("owner", S_UUID, true, PROTO_UUID_LEN, PROTO_UUID_LEN),
    S_FIELD("title", S_STR, true, 0, PROTO_TITLE_MAX),
    S_FIELD("filename", S_STR, true, 0, PROTO_FILENAME_MAX),
    S_FIELD("sha256", S_SHA256, true, PROTO_SHA256_LEN, PROTO_SHA256_LEN),
};

int
proto_submit_encode(const proto_submit_t *m, proto_buf_t *out, proto_error_t *err)
{
    s_field_t f[SUBMIT_N];
    if (m == NULL || out == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "no message to encode");
    memcpy(f, s_submit_fields, sizeof f);
    s_set_uint(&f[SUBMIT_V], PROTO_VERSION);
    s_set_uint(&f[SUBMIT_RID], m->rid);
    s_set_str(&f[SUBMIT_OWNER], m->owner);
    s_set_str(&f[SUBMIT_TITLE], m->title);
    s_set_str(&f[SUBMIT_FILENAME], m->filename);
    s_set_str(&f[SUBMIT_SHA256], m->sha256);
    return s_encode(f, SUBMIT_N, out, err);
}

int
proto_submit_decode(const uint8_t *data, size_t len, proto_submit_t *m, proto_error_t *err)
{
    s_field_t f[SUBMIT_N];
    memcpy(f, s_submit_fields, sizeof f);
    if (m == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "no message to decode into");
    *m = (proto_submit_t){0};
    if (s_decode(data, len, f, SUBMIT_N, err) != 0)
        return -1;
    m->rid = f[SUBMIT_RID].u;
    S_COPY_STR(m->owner, &f[SUBMIT_OWNER]);
    S_COPY_STR(m->title, &f[SUBMIT_TITLE]);
    S_COPY_STR(m->filename, &f[SUBMIT_FILENAME]);
    S_COPY_STR(m->sha256, &f[SUBMIT_SHA256]);
    return 0;
}

/* ---------------------------------------------------------------- SUBMITTED */

enum {
    SUBMITTED_V,
    SUBMITTED_RID,
    SUBMITTED_OK,
    SUBMITTED_JOB_ID,
    SUBMITTED_STATE,
    SUBMITTED_CODE,
    SUBMITTED_ERROR,
    SUBMITTED_N
};

static const s_field_t s_submitted_fields[SUBMITTED_N] = {
    S_VERSION,
    S_RID,
    S_OK,
    S_FIELD("job_id", S_UUID, false, PROTO_UUID_LEN, PROTO_UUID_LEN),
    S_FIELD("state", S_STR, false, 1, PROTO_STATE_MAX),
    S_ERROR_CODE,
    S_ERROR,
};

int
proto_submitted_encode(const proto_submitted_t *m, proto_buf_t *out, proto_error_t *err)
{
    s_field_t f[SUBMITTED_N];
    if (m == NULL || out == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "no message to encode");
    memcpy(f, s_submitted_fields, sizeof f);
    f[SUBMITTED_JOB_ID].required = m->ok;
    f[SUBMITTED_STATE].required = m->ok;
    f[SUBMITTED_CODE].required = !m->ok;
    s_set_uint(&f[SUBMITTED_V], PROTO_VERSION);
    s_set_uint(&f[SUBMITTED_RID], m->rid);
    s_set_uint(&f[SUBMITTED_OK], m->ok);
    s_set_str(&f[SUBMITTED_JOB_ID], m->ok ? m->job_id : "");
    s_set_str(&f[SUBMITTED_STATE], m->ok ? m->state : "");
    s_set_str(&f[SUBMITTED_CODE], m->ok ? "" : m->error_code);
    s_set_str(&f[SUBMITTED_ERROR], m->error);
    return s_encode(f, SUBMITTED_N, out, err);
}

int
proto_submitted_decode(const uint8_t *data, size_t len, proto_submitted_t *m, proto_error_t *err)
{
    s_field_t f[SUBMITTED_N];
    memcpy(f, s_submitted_fields, sizeof f);
    if (m == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "no message to decode into");
    *m = (proto_submitted_t){0};
    if (s_decode(data, len, f, SUBMITTED_N, err) != 0)
        return -1;
    m->rid = f[SUBMITTED_RID].u;
    m->ok = f[SUBMITTED_OK].u != 0;
    if (m->ok) {
        if (s_require(&f[SUBMITTED_JOB_ID], err) != 0 || s_require(&f[SUBMITTED_STATE], err) != 0)
            return -1;
        S_COPY_STR(m->job_id, &f[SUBMITTED_JOB_ID]);
        S_COPY_STR(m->state, &f[SUBMITTED_STATE]);
    } else {
        if (s_require(&f[SUBMITTED_CODE], err) != 0)
            return -1;
        S_COPY_STR(m->error_code, &f[SUBMITTED_CODE]);
    }
    S_COPY_STR(m->error, &f[SUBMITTED_ERROR]);
    return 0;
}

/* The longest prefix of s, at most max bytes, that does not cut a UTF-8 sequence. */
static size_t
s_utf8_prefix(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

int
proto_error_reply_encode(uint64_t rid, const char *code, const char *detail, proto_buf_t *out)
{
    proto_submitted_t *m = calloc(1, sizeof *m);
    int rc = -1;
    if (out != NULL)
        *out = (proto_buf_t){0};
    if (m == NULL || out == NULL || code == NULL)
        goto fail;
    if (proto_strlen_max(code, PROTO_CODE_MAX) > PROTO_CODE_MAX)
        goto fail;
    m->rid = rid;
    m->ok = false;
    strcpy(m->error_code, code);
    if (detail != NULL) {
        /* A reply must always go out: a long detail is cut, not refused. */
        size_t n = s_utf8_prefix(detail, strlen(detail), PROTO_ERROR_MAX);
        memcpy(m->error, detail, n);
        m->error[n] = '\0';
    }
    rc = proto_submitted_encode(m, out, NULL);
fail:
    free(m);
    return rc;
}

/* ---------------------------------------------------------------- PING / PONG */

enum { PING_V, PING_RID, PING_N };

static const s_field_t s_ping_fields[PING_N] = {S_VERSION, S_RID};

int
proto_ping_encode(const proto_ping_t *m, proto_buf_t *out, proto_error_t *err)
{
    s_field_t f[PING_N];
    if (m == NULL || out == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "no message to encode");
    memcpy(f, s_ping_fields, sizeof f);
    s_set_uint(&f[PING_V], PROTO_VERSION);
    s_set_uint(&f[PING_RID], m->rid);
    return s_encode(f, PING_N, out, err);
}

int
proto_ping_decode(const uint8_t *data, size_t len, proto_ping_t *m, proto_error_t *err)
{
    s_field_t f[PING_N];
    memcpy(f, s_ping_fields, sizeof f);
    if (m == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "no message to decode into");
    *m = (proto_ping_t){0};
    if (s_decode(data, len, f, PING_N, err) != 0)
        return -1;
    m->rid = f[PING_RID].u;
    return 0;
}

enum { PONG_V, PONG_RID, PONG_OK, PONG_DB, PONG_WORKERS, PONG_QUEUED, PONG_RUNNING, PONG_N };

static const s_field_t s_pong_fields[PONG_N] = {
    S_VERSION,
    S_RID,
    S_OK,
    S_FIELD("db", S_BOOL, true, 0, 1),
    S_FIELD("workers", S_UINT, true, 0, UINT64_MAX),
    S_FIELD("queued", S_UINT, true, 0, UINT64_MAX),
    S_FIELD("running", S_UINT, true, 0, UINT64_MAX),
};

int
proto_pong_encode(const proto_pong_t *m, proto_buf_t *out, proto_error_t *err)
{
    s_field_t f[PONG_N];
    if (m == NULL || out == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "no message to encode");
    memcpy(f, s_pong_fields, sizeof f);
    s_set_uint(&f[PONG_V], PROTO_VERSION);
    s_set_uint(&f[PONG_RID], m->rid);
    s_set_uint(&f[PONG_OK], m->ok);
    s_set_uint(&f[PONG_DB], m->db);
    s_set_uint(&f[PONG_WORKERS], m->workers);
    s_set_uint(&f[PONG_QUEUED], m->queued);
    s_set_uint(&f[PONG_RUNNING], m->running);
    return s_encode(f, PONG_N, out, err);
}

int
proto_pong_decode(const uint8_t *data, size_t len, proto_pong_t *m, proto_error_t *err)
{
    s_field_t f[PONG_N];
    memcpy(f, s_pong_fields, sizeof f);
    if (m == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "no message to decode into");
    *m = (proto_pong_t){0};
    if (s_decode(data, len, f, PONG_N, err) != 0)
        return -1;
    m->rid = f[PONG_RID].u;
    m->ok = f[PONG_OK].u != 0;
    m->db = f[PONG_DB].u != 0;
    m->workers = f[PONG_WORKERS].u;
    m->queued = f[PONG_QUEUED].u;
    m->running = f[PONG_RUNNING].u;
    return 0;
}

/* ---------------------------------------------------------------- CANCEL / CANCELLED */

enum { CANCEL_V, CANCEL_RID, CANCEL_OWNER, CANCEL_JOB_ID, CANCEL_N };

static const s_field_t s_cancel_fields[CANCEL_N] = {
    S_VERSION,
    S_RID,
    S_FIELD("owner", S_UUID, true, PROTO_UUID_LEN, PROTO_UUID_LEN),
    S_FIELD("job_id", S_UUID, true, PROTO_UUID_LEN, PROTO_UUID_LEN),
};

int
proto_cancel_encode(const proto_cancel_t *m, proto_buf_t *out, proto_error_t *err)
{
    s_field_t f[CANCEL_N];
    if (m == NULL || out == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "no message to encode");
    memcpy(f, s_cancel_fields, sizeof f);
    s_set_uint(&f[CANCEL_V], PROTO_VERSION);
    s_set_uint(&f[CANCEL_RID], m->rid);
    s_set_str(&f[CANCEL_OWNER], m->owner);
    s_set_str(&f[CANCEL_JOB_ID], m->job_id);
    return s_encode(f, CANCEL_N, out, err);
}

int
proto_cancel_decode(const uint8_t *data, size_t len, proto_cancel_t *m, proto_error_t *err)
{
    s_field_t f[CANCEL_N];
    memcpy(f, s_cancel_fields, sizeof f);
    if (m == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "no message to decode into");
    *m = (proto_cancel_t){0};
    if (s_decode(data, len, f, CANCEL_N, err) != 0)
        return -1;
    m->rid = f[CANCEL_RID].u;
    S_COPY_STR(m->owner, &f[CANCEL_OWNER]);
    S_COPY_STR(m->job_id, &f[CANCEL_JOB_ID]);
    return 0;
}

enum {
    CANCELLED_V,
    CANCELLED_RID,
    CANCELLED_OK,
    CANCELLED_STATE,
    CANCELLED_CODE,
    CANCELLED_ERROR,
    CANCELLED_N
};

static const s_field_t s_cancelled_fields[CANCELLED_N] = {
    S_VERSION,    S_RID,   S_OK, S_FIELD("state", S_STR, false, 1, PROTO_STATE_MAX),
    S_ERROR_CODE, S_ERROR,
};

int
proto_cancelled_encode(const proto_cancelled_t *m, proto_buf_t *out, proto_error_t *err)
{
    s_field_t f[CANCELLED_N];
    if (m == NULL || out == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "no message to encode");
    memcpy(f, s_cancelled_fields, sizeof f);
    f[CANCELLED_STATE].required = m->ok;
    f[CANCELLED_CODE].required = !m->ok;
    s_set_uint(&f[CANCELLED_V], PROTO_VERSION);
    s_set_uint(&f[CANCELLED_RID], m->rid);
    s_set_uint(&f[CANCELLED_OK], m->ok);
    s_set_str(&f[CANCELLED_STATE], m->state);
    s_set_str(&f[CANCELLED_CODE], m->ok ? "" : m->error_code);
    s_set_str(&f[CANCELLED_ERROR], m->error);
    return s_encode(f, CANCELLED_N, out, err);
}

int
proto_cancelled_decode(const uint8_t *data, size_t len, proto_cancelled_t *m, proto_error_t *err)
{
    s_field_t f[CANCELLED_N];
    memcpy(f, s_cancelled_fields, sizeof f);
    if (m == NULL)
        return proto_error_set(err, PROTO_BAD_REQUEST, "no message to decode into");
    *m = (proto_cancelled_t){0};
    if (s_decode(data, len, f, CANCELLED_N, err) != 0)
        return -1;
    m->rid = f[CANCELLED_RID].u;
    m->ok = f[CANCELLED_OK].u != 0;
    if (s_require(m->ok ? &f[CANCELLED_STATE] : &f[CANCELLED_CODE], err) != 0)
        return -1;
    if (!m->ok)
        S_COPY_STR(m->error_code, &f[CANCELLED_CODE]);
    S_COPY_STR(m->state, &f[CANCELLED_STATE]);
    S_COPY_STR(m->error, &f[CANCELLED_ERROR]);
    return 0;
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
