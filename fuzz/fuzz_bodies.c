/*
 * fuzz_bodies.c - libFuzzer target for the msgpack body codec (include/profai/proto.h,
 * docs/protocol.md section 3).
 *
 * Input: one selector byte, then the body. With bit 4 clear, the selector's low three bits pick
 * what runs:
 *   0 JOB, 1 PROGRESS, 2 RESULT, 3 SUBMIT, 4 SUBMITTED, 5 PING, 6 PONG: decode the body;
 *   7: build an error reply from the bytes (s_fuzz_error_reply) and decode it.
 * With bit 4 set, bits 0-1 pick 8 CANCEL, 9 CANCELLED, 10 FETCH or 11 CHUNK (0x10..0x13; bit 2
 * ignored).
 * With bit 3 set (e.g. 0x08..0x0e, 0x18, 0x19), the bytes describe a map that this file writes
 * and judges against the protocol document (see "structured mode" below).
 *
 * Properties checked (a broken one aborts, leaving a crash file):
 *   - a failed decode reports bad_request or unsupported_version with a terminated detail;
 *   - a decoded message has every field within its limits: strings NUL-terminated inside their
 *     member, valid UTF-8 and the whole of a msgpack string of the input (not cut, not
 *     padded), uuids and hashes canonical, numbers in range, borrowed pointers (pdf, course)
 *     inside the input and the whole of a msgpack bin there, fields that depend on `ok`
 *     present or empty as the document says;
 *   - it re-encodes, the encoding decodes to equal fields, and encoding those gives the same
 *     bytes again (the encoder is deterministic and accepts whatever the decoder accepts);
 *   - for client bodies, proto_peek_rid finds the decoded rid in the input and the encoding;
 *   - in structured mode, the decoder accepts exactly the maps the oracle calls valid, and
 *     refuses a wrong version with unsupported_version, anything else with bad_request.
 */
#define _GNU_SOURCE /* memmem */
#include "profai/proto.h"

#include "fuzz_check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- field checks */

static void
s_check_error(const proto_error_t *err)
{
    FUZZ_CHECK(strnlen(err->code, sizeof err->code) < sizeof err->code);
    FUZZ_CHECK(strnlen(err->detail, sizeof err->detail) < sizeof err->detail);
    FUZZ_CHECK(strcmp(err->code, "bad_request") == 0 ||
               strcmp(err->code, "unsupported_version") == 0);
}

/* Whether the n bytes at p are the whole payload of a msgpack str (or bin) whose header ends
 * at p: a decoder that cut or padded a value would fail this. */
static bool
s_whole_payload(const uint8_t *data, const uint8_t *p, size_t n, bool str)
{
    static const struct {
        uint8_t str, bin;
        size_t width;
    } heads[] = {{0xd9, 0xc4, 1}, {0xda, 0xc5, 2}, {0xdb, 0xc6, 4}};
    size_t before = (size_t)(p - data);
    if (str && n < 32 && before >= 1 && p[-1] == (0xa0 | n))
        return true;
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        size_t w = heads[i].width;
        uint64_t declared = 0;
        if (before < 1 + w || p[-1 - (long)w] != (str ? heads[i].str : heads[i].bin))
            continue;
        for (size_t k = w; k > 0; k--)
            declared = declared << 8 | p[-(long)k];
        if (declared == n)
            return true;
    }
    return false;
}

/* A decoded string member: terminated inside its array, min..max bytes, valid UTF-8, and the
 * whole of some msgpack string of the input. */
static void
s_check_str(const char *s, size_t size, size_t min, size_t max, const uint8_t *data, size_t len)
{
    size_t n = strnlen(s, size);
    FUZZ_CHECK(n < size);
    FUZZ_CHECK(n >= min && n <= max);
    FUZZ_CHECK(proto_is_utf8(s, n));
    if (n == 0)
        return;
    bool whole = false;
    for (const uint8_t *p = memmem(data, len, s, n); p != NULL && !whole;
         p = memmem(p + 1, len - (size_t)(p + 1 - data), s, n))
        whole = s_whole_payload(data, p, n, true);
    FUZZ_CHECK(whole);
}

#define S_CHECK_STR(member, min, max) s_check_str((member), sizeof(member), (min), (max), data, len)

/* A borrowed binary lies, with all its n bytes, inside the input, as a whole msgpack bin.
 * (msgpack-c points an empty bin somewhere near its header: only the bounds apply then.) */
static void
s_check_borrowed(const uint8_t *p, size_t n, const uint8_t *data, size_t len)
{
    uintptr_t start = (uintptr_t)data, at = (uintptr_t)p;
    FUZZ_CHECK(p != NULL);
    FUZZ_CHECK(at >= start && n <= len && at - start <= len - n);
    FUZZ_CHECK(n == 0 || s_whole_payload(data, p, n, false));
}

static bool
s_same_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* ---------------------------------------------------------------- per message */

static void
s_check_job(const proto_job_t *m, const uint8_t *data, size_t len)
{
    S_CHECK_STR(m->job_id, PROTO_UUID_LEN, PROTO_UUID_LEN);
    FUZZ_CHECK(proto_is_uuid(m->job_id, strlen(m->job_id)));
    FUZZ_CHECK(m->attempt >= 1);
    S_CHECK_STR(m->title, 0, PROTO_TITLE_MAX);
    S_CHECK_STR(m->filename, 0, PROTO_FILENAME_MAX);
    S_CHECK_STR(m->sha256, PROTO_SHA256_LEN, PROTO_SHA256_LEN);
    FUZZ_CHECK(proto_is_sha256(m->sha256, strlen(m->sha256)));
    FUZZ_CHECK(m->pdf_len <= PROTO_PDF_MAX);
    s_check_borrowed(m->pdf, m->pdf_len, data, len);
    FUZZ_CHECK(m->pdf_size <= PROTO_PDF_MAX); /* 1.2: a reference */
    S_CHECK_STR(m->pdf_endpoint, 0, PROTO_ENDPOINT_MAX);
}

static bool
s_equal_job(const proto_job_t *a, const proto_job_t *b)
{
    return strcmp(a->job_id, b->job_id) == 0 && a->attempt == b->attempt &&
           strcmp(a->title, b->title) == 0 && strcmp(a->filename, b->filename) == 0 &&
           strcmp(a->sha256, b->sha256) == 0 &&
           s_same_bytes(a->pdf, a->pdf_len, b->pdf, b->pdf_len) && a->pdf_size == b->pdf_size &&
           strcmp(a->pdf_endpoint, b->pdf_endpoint) == 0;
}

static void
s_check_progress(const proto_progress_t *m, const uint8_t *data, size_t len)
{
    FUZZ_CHECK(m->progress <= 100);
    S_CHECK_STR(m->stage, 0, PROTO_STAGE_MAX);
}

static bool
s_equal_progress(const proto_progress_t *a, const proto_progress_t *b)
{
    return a->progress == b->progress && strcmp(a->stage, b->stage) == 0 && a->page == b->page &&
           a->pages == b->pages;
}

static void
s_check_result(const proto_result_t *m, const uint8_t *data, size_t len)
{
    if (m->ok) {
        FUZZ_CHECK(m->course_len >= 1 && m->course_len <= PROTO_COURSE_MAX);
        s_check_borrowed(m->course, m->course_len, data, len);
        FUZZ_CHECK(m->error_code[0] == '\0');
    } else {
        FUZZ_CHECK(m->course == NULL && m->course_len == 0);
        S_CHECK_STR(m->error_code, 1, PROTO_CODE_MAX);
    }
    S_CHECK_STR(m->error, 0, PROTO_ERROR_MAX);
}

static bool
s_equal_result(const proto_result_t *a, const proto_result_t *b)
{
    return a->ok == b->ok && s_same_bytes(a->course, a->course_len, b->course, b->course_len) &&
           strcmp(a->error_code, b->error_code) == 0 && strcmp(a->error, b->error) == 0;
}

static void
s_check_submit(const proto_submit_t *m, const uint8_t *data, size_t len)
{
    FUZZ_CHECK(proto_peek_rid(data, len) == m->rid);
    S_CHECK_STR(m->owner, PROTO_UUID_LEN, PROTO_UUID_LEN);
    FUZZ_CHECK(proto_is_uuid(m->owner, strlen(m->owner)));
    S_CHECK_STR(m->title, 0, PROTO_TITLE_MAX);
    S_CHECK_STR(m->filename, 0, PROTO_FILENAME_MAX);
    S_CHECK_STR(m->sha256, PROTO_SHA256_LEN, PROTO_SHA256_LEN);
    FUZZ_CHECK(proto_is_sha256(m->sha256, strlen(m->sha256)));
}

static bool
s_equal_submit(const proto_submit_t *a, const proto_submit_t *b)
{
    return a->rid == b->rid && strcmp(a->owner, b->owner) == 0 && strcmp(a->title, b->title) == 0 &&
           strcmp(a->filename, b->filename) == 0 && strcmp(a->sha256, b->sha256) == 0;
}

static void
s_check_submitted(const proto_submitted_t *m, const uint8_t *data, size_t len)
{
    FUZZ_CHECK(proto_peek_rid(data, len) == m->rid);
    if (m->ok) {
        S_CHECK_STR(m->job_id, PROTO_UUID_LEN, PROTO_UUID_LEN);
        FUZZ_CHECK(proto_is_uuid(m->job_id, strlen(m->job_id)));
        S_CHECK_STR(m->state, 1, PROTO_STATE_MAX);
        FUZZ_CHECK(m->error_code[0] == '\0');
    } else {
        FUZZ_CHECK(m->job_id[0] == '\0' && m->state[0] == '\0');
        S_CHECK_STR(m->error_code, 1, PROTO_CODE_MAX);
    }
    S_CHECK_STR(m->error, 0, PROTO_ERROR_MAX);
}

static bool
s_equal_submitted(const proto_submitted_t *a, const proto_submitted_t *b)
{
    return a->rid == b->rid && a->ok == b->ok && strcmp(a->job_id, b->job_id) == 0 &&
           strcmp(a->state, b->state) == 0 && strcmp(a->error_code, b->error_code) == 0 &&
           strcmp(a->error, b->error) == 0;
}

static void
s_check_ping(const proto_ping_t *m, const uint8_t *data, size_t len)
{
    FUZZ_CHECK(proto_peek_rid(data, len) == m->rid);
}

static bool
s_equal_ping(const proto_ping_t *a, const proto_ping_t *b)
{
    return a->rid == b->rid;
}

static void
s_check_pong(const proto_pong_t *m, const uint8_t *data, size_t len)
{
    FUZZ_CHECK(proto_peek_rid(data, len) == m->rid);
}

static bool
s_equal_pong(const proto_pong_t *a, const proto_pong_t *b)
{
    return a->rid == b->rid && a->ok == b->ok && a->db == b->db && a->workers == b->workers &&
           a->queued == b->queued && a->running == b->running;
}

static void
s_check_cancel(const proto_cancel_t *m, const uint8_t *data, size_t len)
{
    FUZZ_CHECK(proto_peek_rid(data, len) == m->rid);
    S_CHECK_STR(m->owner, PROTO_UUID_LEN, PROTO_UUID_LEN);
    FUZZ_CHECK(proto_is_uuid(m->owner, strlen(m->owner)));
    S_CHECK_STR(m->job_id, PROTO_UUID_LEN, PROTO_UUID_LEN);
    FUZZ_CHECK(proto_is_uuid(m->job_id, strlen(m->job_id)));
}

static bool
s_equal_cancel(const proto_cancel_t *a, const proto_cancel_t *b)
{
    return a->rid == b->rid && strcmp(a->owner, b->owner) == 0 && strcmp(a->job_id, b->job_id) == 0;
}

static void
s_check_cancelled(const proto_cancelled_t *m, const uint8_t *data, size_t len)
{
    FUZZ_CHECK(proto_peek_rid(data, len) == m->rid);
    if (m->ok) {
        S_CHECK_STR(m->state, 1, PROTO_STATE_MAX);
        FUZZ_CHECK(m->error_code[0] == '\0');
    } else {
        S_CHECK_STR(m->state, 0, PROTO_STATE_MAX); /* optional: the final state */
        S_CHECK_STR(m->error_code, 1, PROTO_CODE_MAX);
    }
    S_CHECK_STR(m->error, 0, PROTO_ERROR_MAX);
}

static bool
s_equal_cancelled(const proto_cancelled_t *a, const proto_cancelled_t *b)
{
    return a->rid == b->rid && a->ok == b->ok && strcmp(a->state, b->state) == 0 &&
           strcmp(a->error_code, b->error_code) == 0 && strcmp(a->error, b->error) == 0;
}

/* FETCH and CHUNK: the blob endpoint's bodies (docs/protocol.md 3.6). */
static void
s_check_fetch(const proto_fetch_t *m, const uint8_t *data, size_t len)
{
    S_CHECK_STR(m->token, 1, PROTO_ADDRESS_MAX);
    FUZZ_CHECK(m->offset <= PROTO_PDF_MAX);
    FUZZ_CHECK(m->size >= 1 && m->size <= PROTO_CHUNK_MAX);
}

static bool
s_equal_fetch(const proto_fetch_t *a, const proto_fetch_t *b)
{
    return strcmp(a->token, b->token) == 0 && a->offset == b->offset && a->size == b->size;
}

static void
s_check_chunk(const proto_chunk_t *m, const uint8_t *data, size_t len)
{
    if (m->ok) {
        FUZZ_CHECK(m->offset <= PROTO_PDF_MAX && m->total <= PROTO_PDF_MAX);
        FUZZ_CHECK(m->data_len <= PROTO_CHUNK_MAX);
        s_check_borrowed(m->data, m->data_len, data, len);
        FUZZ_CHECK(m->error_code[0] == '\0');
    } else {
        FUZZ_CHECK(m->data == NULL && m->data_len == 0 && m->offset == 0 && m->total == 0);
        S_CHECK_STR(m->error_code, 1, PROTO_CODE_MAX);
    }
    S_CHECK_STR(m->error, 0, PROTO_ERROR_MAX);
}

static bool
s_equal_chunk(const proto_chunk_t *a, const proto_chunk_t *b)
{
    return a->ok == b->ok && a->offset == b->offset && a->total == b->total &&
           s_same_bytes(a->data, a->data_len, b->data, b->data_len) &&
           strcmp(a->error_code, b->error_code) == 0 && strcmp(a->error, b->error) == 0;
}

/* ---------------------------------------------------------------- round trips */

/* Defines s_fuzz_<name>(data, len, err): decode; on success check the fields, encode, decode
 * the encoding, compare, and encode again to compare the bytes. Returns what decode returned;
 * err receives its error. */
#define S_DEFINE_ROUNDTRIP(name, type)                                                             \
    static int s_fuzz_##name(const uint8_t *data, size_t len, proto_error_t *err)                  \
    {                                                                                              \
        type m, again;                                                                             \
        proto_buf_t first = {0}, second = {0};                                                     \
        proto_error_t ignored = {.code = ""};                                                      \
        if (proto_##name##_decode(data, len, &m, err) != 0) {                                      \
            s_check_error(err);                                                                    \
            return -1;                                                                             \
        }                                                                                          \
        s_check_##name(&m, data, len);                                                             \
        FUZZ_CHECK(proto_##name##_encode(&m, &first, &ignored) == 0);                              \
        FUZZ_CHECK(proto_##name##_decode(first.data, first.size, &again, &ignored) == 0);          \
        s_check_##name(&again, first.data, first.size);                                            \
        FUZZ_CHECK(s_equal_##name(&m, &again));                                                    \
        FUZZ_CHECK(proto_##name##_encode(&again, &second, &ignored) == 0);                         \
        FUZZ_CHECK(s_same_bytes(first.data, first.size, second.data, second.size));                \
        proto_buf_free(&first);                                                                    \
        proto_buf_free(&second);                                                                   \
        return 0;                                                                                  \
    }

S_DEFINE_ROUNDTRIP(job, proto_job_t)
S_DEFINE_ROUNDTRIP(progress, proto_progress_t)
S_DEFINE_ROUNDTRIP(result, proto_result_t)
S_DEFINE_ROUNDTRIP(submit, proto_submit_t)
S_DEFINE_ROUNDTRIP(submitted, proto_submitted_t)
S_DEFINE_ROUNDTRIP(ping, proto_ping_t)
S_DEFINE_ROUNDTRIP(pong, proto_pong_t)
S_DEFINE_ROUNDTRIP(cancel, proto_cancel_t)
S_DEFINE_ROUNDTRIP(cancelled, proto_cancelled_t)
S_DEFINE_ROUNDTRIP(fetch, proto_fetch_t)
S_DEFINE_ROUNDTRIP(chunk, proto_chunk_t)

/* ---------------------------------------------------------------- error reply */

/* A NUL-terminated copy of n bytes (C strings end at the first NUL, as a caller's would). */
static char *
s_strndup(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s == NULL)
        abort();
    if (n > 0)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Bytes: rid (8, big-endian), code length (1, mod 40 so that over-long codes occur), the code,
 * then the detail. The reply must go out whenever the code is valid and the detail is valid
 * UTF-8 (a long detail is cut at a character boundary), and decode as SUBMITTED ok = false. */
static void
s_fuzz_error_reply(const uint8_t *data, size_t len)
{
    uint64_t rid = 0;
    size_t off = 0;
    for (; off < 8 && off < len; off++)
        rid = rid << 8 | data[off];
    size_t code_len = off < len ? data[off++] % 40 : 0;
    if (code_len > len - off)
        code_len = len - off;
    char *code = s_strndup(data + off, code_len);
    char *detail = s_strndup(data + off + code_len, len - off - code_len);
    size_t clen = strlen(code), dlen = strlen(detail);
    bool code_ok = clen >= 1 && clen <= PROTO_CODE_MAX && proto_is_utf8(code, clen);
    proto_buf_t buf = {0};
    proto_submitted_t m;
    proto_error_t err = {.code = ""};

    int rc = proto_error_reply_encode(rid, code, detail, &buf);
    if (code_ok && proto_is_utf8(detail, dlen))
        FUZZ_CHECK(rc == 0);
    if (rc == 0) {
        FUZZ_CHECK(code_ok);
        FUZZ_CHECK(proto_submitted_decode(buf.data, buf.size, &m, &err) == 0);
        FUZZ_CHECK(!m.ok && m.rid == rid && strcmp(m.error_code, code) == 0);
        size_t n = strlen(m.error);
        FUZZ_CHECK(n <= PROTO_ERROR_MAX && memcmp(m.error, detail, n) == 0);
        if (dlen <= PROTO_ERROR_MAX)
            FUZZ_CHECK(n == dlen);
        else if (proto_is_utf8(detail, dlen))
            FUZZ_CHECK(n > PROTO_ERROR_MAX - 4); /* cut inside one character at most */
        FUZZ_CHECK(s_fuzz_submitted(buf.data, buf.size, &err) == 0);
        /* The broker answers job.cancel errors with this reply too. */
        FUZZ_CHECK(s_fuzz_cancelled(buf.data, buf.size, &err) == 0);
    } else {
        FUZZ_CHECK(buf.data == NULL && buf.size == 0);
    }
    proto_buf_free(&buf);
    free(code);
    free(detail);
}

/* ---------------------------------------------------------------- structured mode */

/*
 * With bit 3 of the selector set, the bytes after the selector describe a map instead of being
 * one, so that the fuzzer reaches field limits and types without first having to keep msgpack
 * framing consistent. The map is written here byte by byte (every integer and string encoding
 * msgpack has), and an oracle written from the tables of docs/protocol.md section 3 decides
 * whether the decoder must accept it: accept exactly the valid maps, and refuse an invalid
 * version with unsupported_version. fuzz/make_seeds.py writes seeds in this format.
 *
 *   count      1 byte, entries = count % 12
 *   per entry: key byte: k % (S_KEY_COUNT + 2) picks s_keys[k], "x" (a key no message has)
 *                        or the integer 1 (a key that is not a string);
 *              type byte: t % G_TYPE_COUNT is the type, t / G_TYPE_COUNT picks the encoding;
 *              G_UINT: 1 byte i, s_interesting[i] when i < 0x80, else 8 more bytes (big-endian);
 *              G_NEGINT: 8 bytes r, the value -1 - (r mod 2^63);
 *              G_STR, G_BIN: 2 bytes length (mod S_CONTENT_MAX), 1 byte mode (s_content),
 *                        then, in raw mode, the content bytes.
 */

typedef struct {
    const uint8_t *p;
    size_t n, off;
} s_reader_t;

static uint8_t
s_read_byte(s_reader_t *r)
{
    return r->off < r->n ? r->p[r->off++] : 0;
}

static uint64_t
s_read_be(s_reader_t *r, size_t width)
{
    uint64_t v = 0;
    while (width-- > 0)
        v = v << 8 | s_read_byte(r);
    return v;
}

typedef struct {
    uint8_t *p;
    size_t n, cap;
} s_out_t;

static void
s_put(s_out_t *o, const void *p, size_t n)
{
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2;
        o->p = realloc(o->p, o->cap);
        if (o->p == NULL)
            abort();
    }
    if (n > 0)
        memcpy(o->p + o->n, p, n);
    o->n += n;
}

static void
s_put_byte(s_out_t *o, uint8_t b)
{
    s_put(o, &b, 1);
}

static void
s_put_be(s_out_t *o, uint8_t type, uint64_t v, size_t width)
{
    s_put_byte(o, type);
    for (size_t i = width; i > 0; i--)
        s_put_byte(o, (uint8_t)(v >> (8 * (i - 1))));
}

/* An unsigned value: form 0 the shortest unsigned encoding, 1 always uint64, 2 the shortest
 * signed encoding (msgpack-c reads a non-negative signed integer as unsigned). */
static void
s_put_uint(s_out_t *o, uint64_t v, unsigned form)
{
    if (form % 3 == 1) {
        s_put_be(o, 0xcf, v, 8);
    } else if (v <= 0x7f) {
        s_put_byte(o, (uint8_t)v);
    } else if (form % 3 == 2 && v <= INT64_MAX) {
        if (v <= 0x7fff)
            s_put_be(o, 0xd1, v, 2);
        else if (v <= 0x7fffffff)
            s_put_be(o, 0xd2, v, 4);
        else
            s_put_be(o, 0xd3, v, 8);
    } else if (v <= 0xff) {
        s_put_be(o, 0xcc, v, 1);
    } else if (v <= 0xffff) {
        s_put_be(o, 0xcd, v, 2);
    } else if (v <= 0xffffffff) {
        s_put_be(o, 0xce, v, 4);
    } else {
        s_put_be(o, 0xcf, v, 8);
    }
}

static void
s_put_negint(s_out_t *o, int64_t v)
{
    if (v >= -32)
        s_put_byte(o, (uint8_t)v);
    else if (v >= INT8_MIN)
        s_put_be(o, 0xd0, (uint64_t)v, 1);
    else if (v >= INT16_MIN)
        s_put_be(o, 0xd1, (uint64_t)v, 2);
    else if (v >= INT32_MIN)
        s_put_be(o, 0xd2, (uint64_t)v, 4);
    else
        s_put_be(o, 0xd3, (uint64_t)v, 8);
}

/* A str or bin header for n bytes: form 0 the shortest, 1..3 the 8/16/32-bit length. */
static void
s_put_head(s_out_t *o, bool str, size_t n, unsigned form)
{
    static const uint8_t str_types[3] = {0xd9, 0xda, 0xdb}, bin_types[3] = {0xc4, 0xc5, 0xc6};
    static const uint64_t limits[3] = {0xff, 0xffff, 0xffffffff};
    static const size_t widths[3] = {1, 2, 4};
    unsigned w = form % 4;
    if (w == 0 && str && n < 32) {
        s_put_byte(o, (uint8_t)(0xa0 | n));
        return;
    }
    w = w == 0 ? 0 : w - 1;
    while (n > limits[w])
        w++;
    s_put_be(o, str ? str_types[w] : bin_types[w], n, widths[w]);
}

static const uint64_t s_interesting[] = {0,
                                         1,
                                         2,
                                         100,
                                         101,
                                         127,
                                         128,
                                         255,
                                         256,
                                         65535,
                                         65536,
                                         UINT32_MAX,
                                         (uint64_t)UINT32_MAX + 1,
                                         INT64_MAX,
                                         (uint64_t)INT64_MAX + 1,
                                         UINT64_MAX};
#define S_INTERESTING_COUNT (sizeof s_interesting / sizeof s_interesting[0])

/* Every key any body has; fuzz/make_seeds.py keeps a copy of this order. */
static const char *const s_keys[] = {
    "v",
    "rid",
    "job_id",
    "attempt",
    "title",
    "filename",
    "sha256",
    "pdf",
    "progress",
    "stage",
    "page",
    "pages",
    "ok",
    "course",
    "error_code",
    "error",
    "owner",
    "state",
    "db",
    "workers",
    "queued",
    "running",
    /* 1.2 */
    "pdf_size",
    "pdf_endpoint",
    "token",
    "offset",
    "size",
    "total",
    "data",
};
#define S_KEY_COUNT (sizeof s_keys / sizeof s_keys[0])

/* Known contents (mode 2; mode 3 alters one byte); fuzz/make_seeds.py keeps a copy. */
static const char *const s_known[] = {
    "5b0c2b5e-3f9a-4c51-9d7e-0c7a2f7d7a10",
    "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "queued",
    "text",
    "encrypted",
    "Introduction \xc3\xa0 la physique",
    "",
};
#define S_KNOWN_COUNT (sizeof s_known / sizeof s_known[0])
#define S_CONTENT_MAX 1100 /* above every string limit (error: 1024) */

typedef enum {
    G_UINT,
    G_NEGINT,
    G_STR,
    G_BIN,
    G_TRUE,
    G_FALSE,
    G_NIL,
    G_FLOAT,
    G_ARRAY,
    G_MAP,
    G_TYPE_COUNT
} g_type_t;

/* What the oracle needs to know about one generated entry. */
typedef struct {
    int key; /* index in s_keys; -1 "x"; -2 an integer key */
    g_type_t type;
    uint64_t u; /* G_UINT */
    size_t len; /* G_STR, G_BIN */
    bool utf8, nul, uuid, sha256;
} g_entry_t;

/* Content of a str or bin, mode: 0 one printable byte repeated, 1 raw bytes from the input,
 * 2 a known value, 3 a known value with one byte altered. Returns its length. */
static size_t
s_content(s_reader_t *r, uint8_t *buf)
{
    size_t len = (size_t)s_read_be(r, 2) % S_CONTENT_MAX;
    uint8_t mode = s_read_byte(r);
    const char *known = s_known[(mode >> 2) % S_KNOWN_COUNT];
    switch (mode % 4) {
    case 0:
        memset(buf, 0x20 + (mode >> 2) % 95, len);
        return len;
    case 1:
        if (len > r->n - r->off)
            len = r->n - r->off;
        memcpy(buf, r->p + r->off, len);
        r->off += len;
        return len;
    default:
        memcpy(buf, known, strlen(known));
        if (mode % 4 == 3 && strlen(known) > 0)
            buf[len % strlen(known)] ^= 0x20; /* a hex digit changes case, a letter too */
        return strlen(known);
    }
}

static void
s_generate_value(s_reader_t *r, s_out_t *o, g_entry_t *e)
{
    uint8_t t = s_read_byte(r), i;
    unsigned form = t / G_TYPE_COUNT;
    uint8_t buf[S_CONTENT_MAX];
    e->type = (g_type_t)(t % G_TYPE_COUNT);
    switch (e->type) {
    case G_UINT:
        i = s_read_byte(r);
        e->u = i < 0x80 ? s_interesting[i % S_INTERESTING_COUNT] : s_read_be(r, 8);
        s_put_uint(o, e->u, form);
        break;
    case G_NEGINT:
        s_put_negint(o, -1 - (int64_t)(s_read_be(r, 8) & INT64_MAX));
        break;
    case G_STR:
    case G_BIN:
        e->len = s_content(r, buf);
        e->utf8 = proto_is_utf8((const char *)buf, e->len);
        e->nul = memchr(buf, '\0', e->len) != NULL;
        e->uuid = proto_is_uuid((const char *)buf, e->len);
        e->sha256 = proto_is_sha256((const char *)buf, e->len);
        s_put_head(o, e->type == G_STR, e->len, form);
        s_put(o, buf, e->len);
        break;
    case G_TRUE:
        s_put_byte(o, 0xc3);
        break;
    case G_FALSE:
        s_put_byte(o, 0xc2);
        break;
    case G_NIL:
        s_put_byte(o, 0xc0);
        break;
    case G_FLOAT:
        s_put_be(o, 0xcb, 0, 8);
        break;
    case G_ARRAY:
        s_put(o, "\x92\x01\xa1x", 4);
        break;
    case G_MAP:
        s_put(o, "\x81\xa1x\x01", 4);
        break;
    case G_TYPE_COUNT:
        abort();
    }
}

#define S_ENTRIES_MAX 12

/* Write the described map into o and the entries into e; returns the entry count. */
static size_t
s_generate(s_reader_t *r, s_out_t *o, g_entry_t *entries)
{
    size_t count = s_read_byte(r) % S_ENTRIES_MAX;
    s_put_byte(o, (uint8_t)(0x80 | count));
    for (size_t i = 0; i < count; i++) {
        g_entry_t *e = &entries[i];
        size_t k = s_read_byte(r) % (S_KEY_COUNT + 2);
        *e = (g_entry_t){.key = k < S_KEY_COUNT ? (int)k : k == S_KEY_COUNT ? -1 : -2};
        if (e->key >= 0)
            s_put_head(o, true, strlen(s_keys[k]), 0), s_put(o, s_keys[k], strlen(s_keys[k]));
        else if (e->key == -1)
            s_put(o, "\xa1x", 2);
        else
            s_put_byte(o, 0x01);
        s_generate_value(r, o, e);
    }
    return count;
}

/* ---------------------------------------------------------------- the oracle */

/* The tables of docs/protocol.md section 3, restated here independently of body.c. Where the
 * document leaves a point open the codec's choice is taken: strings may not hold NUL bytes,
 * title and filename may be empty, error_code, state and course may not, page and pages fit
 * in 32 bits. */
typedef enum { F_UINT, F_BOOL, F_STR, F_UUID, F_SHA256, F_BIN } f_kind_t;
typedef enum { R_NO, R_YES, R_IF_OK, R_IF_NOT_OK } f_required_t;

typedef struct {
    const char *key;
    f_kind_t kind;
    f_required_t required;
    uint64_t min, max; /* value (F_UINT) or length (F_STR, F_BIN) */
} f_spec_t;

#define SPEC_V                                                                                     \
    {                                                                                              \
        "v", F_UINT, R_YES, 1, 1                                                                   \
    }
#define SPEC_RID                                                                                   \
    {                                                                                              \
        "rid", F_UINT, R_YES, 0, UINT64_MAX                                                        \
    }
#define SPEC_OK                                                                                    \
    {                                                                                              \
        "ok", F_BOOL, R_YES, 0, 0                                                                  \
    }
#define SPEC_ERROR                                                                                 \
    {                                                                                              \
        "error", F_STR, R_NO, 0, 1024                                                              \
    }

static const f_spec_t s_spec_job[] = {
    SPEC_V,
    {"job_id", F_UUID, R_YES, 0, 0},
    {"attempt", F_UINT, R_YES, 1, UINT32_MAX},
    {"title", F_STR, R_YES, 0, 200},
    {"filename", F_STR, R_YES, 0, 255},
    {"sha256", F_SHA256, R_YES, 0, 0},
    {"pdf", F_BIN, R_YES, 0, 64u * 1024 * 1024},
    {"pdf_size", F_UINT, R_NO, 0, 64u * 1024 * 1024},
    {"pdf_endpoint", F_STR, R_NO, 0, 255},
};
static const f_spec_t s_spec_progress[] = {
    SPEC_V,
    {"progress", F_UINT, R_YES, 0, 100},
    {"stage", F_STR, R_YES, 0, 32},
    {"page", F_UINT, R_NO, 0, UINT32_MAX},
    {"pages", F_UINT, R_NO, 0, UINT32_MAX},
};
static const f_spec_t s_spec_result[] = {
    SPEC_V,
    SPEC_OK,
    {"course", F_BIN, R_IF_OK, 1, 32u * 1024 * 1024},
    {"error_code", F_STR, R_IF_NOT_OK, 1, 32},
    SPEC_ERROR,
};
static const f_spec_t s_spec_submit[] = {
    SPEC_V,
    SPEC_RID,
    {"owner", F_UUID, R_YES, 0, 0},
    {"title", F_STR, R_YES, 0, 200},
    {"filename", F_STR, R_YES, 0, 255},
    {"sha256", F_SHA256, R_YES, 0, 0},
};
static const f_spec_t s_spec_submitted[] = {
    SPEC_V,
    SPEC_RID,
    SPEC_OK,
    {"job_id", F_UUID, R_IF_OK, 0, 0},
    {"state", F_STR, R_IF_OK, 1, 16},
    {"error_code", F_STR, R_IF_NOT_OK, 1, 32},
    SPEC_ERROR,
};
static const f_spec_t s_spec_ping[] = {SPEC_V, SPEC_RID};
static const f_spec_t s_spec_pong[] = {
    SPEC_V,
    SPEC_RID,
    SPEC_OK,
    {"db", F_BOOL, R_YES, 0, 0},
    {"workers", F_UINT, R_YES, 0, UINT64_MAX},
    {"queued", F_UINT, R_YES, 0, UINT64_MAX},
    {"running", F_UINT, R_YES, 0, UINT64_MAX},
};
static const f_spec_t s_spec_cancel[] = {
    SPEC_V,
    SPEC_RID,
    {"owner", F_UUID, R_YES, 0, 0},
    {"job_id", F_UUID, R_YES, 0, 0},
};
static const f_spec_t s_spec_cancelled[] = {
    SPEC_V,
    SPEC_RID,
    SPEC_OK,
    {"state", F_STR, R_IF_OK, 1, 16},
    {"error_code", F_STR, R_IF_NOT_OK, 1, 32},
    SPEC_ERROR,
};

static const f_spec_t s_spec_fetch[] = {
    SPEC_V,
    {"token", F_STR, R_YES, 1, 96},
    {"offset", F_UINT, R_YES, 0, 64u * 1024 * 1024},
    {"size", F_UINT, R_YES, 1, 1024 * 1024},
};
static const f_spec_t s_spec_chunk[] = {
    SPEC_V,
    SPEC_OK,
    {"offset", F_UINT, R_IF_OK, 0, 64u * 1024 * 1024},
    {"total", F_UINT, R_IF_OK, 0, 64u * 1024 * 1024},
    {"data", F_BIN, R_IF_OK, 0, 1024 * 1024},
    {"error_code", F_STR, R_IF_NOT_OK, 1, 32},
    SPEC_ERROR,
};

typedef struct {
    const f_spec_t *fields;
    size_t count;
} m_spec_t;

/* Messages a selector can pick (see the top of this file); 7 is the error reply. */
#define S_MESSAGES 12
#define S_ERROR_REPLY 7

#define S_SPEC(t)                                                                                  \
    {                                                                                              \
        (t), sizeof(t) / sizeof((t)[0])                                                            \
    }
/* Indexed by message: JOB, PROGRESS, RESULT, SUBMIT, SUBMITTED, PING, PONG, (7: the error
 * reply, which has no structured mode), CANCEL, CANCELLED, FETCH, CHUNK. */
static const m_spec_t s_specs[S_MESSAGES] = {
    S_SPEC(s_spec_job),       S_SPEC(s_spec_progress),
    S_SPEC(s_spec_result),    S_SPEC(s_spec_submit),
    S_SPEC(s_spec_submitted), S_SPEC(s_spec_ping),
    S_SPEC(s_spec_pong),      {NULL, 0},
    S_SPEC(s_spec_cancel),    S_SPEC(s_spec_cancelled),
    S_SPEC(s_spec_fetch),     S_SPEC(s_spec_chunk),
};

typedef enum { O_VALID, O_BAD_REQUEST, O_UNSUPPORTED_VERSION } o_verdict_t;

static bool
s_value_ok(const f_spec_t *f, const g_entry_t *e)
{
    switch (f->kind) {
    case F_UINT:
        return e->type == G_UINT && e->u >= f->min && e->u <= f->max;
    case F_BOOL:
        return e->type == G_TRUE || e->type == G_FALSE;
    case F_STR:
        return e->type == G_STR && e->len >= f->min && e->len <= f->max && e->utf8 && !e->nul;
    case F_UUID:
        return e->type == G_STR && e->uuid;
    case F_SHA256:
        return e->type == G_STR && e->sha256;
    case F_BIN:
        return e->type == G_BIN && e->len >= f->min && e->len <= f->max;
    }
    abort();
}

static o_verdict_t
s_oracle(const m_spec_t *spec, const g_entry_t *entries, size_t count)
{
    const g_entry_t *values[S_ENTRIES_MAX] = {0};
    bool ok = false;

    /* Keys: strings only, each known one at most once (unknown ones are ignored). */
    for (size_t i = 0; i < count; i++) {
        if (entries[i].key == -2)
            return O_BAD_REQUEST;
        for (size_t j = 0; entries[i].key >= 0 && j < spec->count; j++) {
            if (strcmp(spec->fields[j].key, s_keys[entries[i].key]) != 0)
                continue;
            if (values[j] != NULL)
                return O_BAD_REQUEST;
            values[j] = &entries[i];
        }
    }
    /* Version: missing or nil is bad_request, anything but 1 unsupported_version. */
    if (values[0] == NULL || values[0]->type == G_NIL)
        return O_BAD_REQUEST;
    if (values[0]->type != G_UINT || values[0]->u != 1)
        return O_UNSUPPORTED_VERSION;
    /* Every present field has its type and limits; nil counts as absent. */
    for (size_t j = 1; j < spec->count; j++) {
        const g_entry_t *e = values[j];
        if (e == NULL || e->type == G_NIL)
            continue;
        if (!s_value_ok(&spec->fields[j], e))
            return O_BAD_REQUEST;
        if (strcmp(spec->fields[j].key, "ok") == 0)
            ok = e->type == G_TRUE;
    }
    for (size_t j = 1; j < spec->count; j++) {
        f_required_t req = spec->fields[j].required;
        bool present = values[j] != NULL && values[j]->type != G_NIL;
        if (!present && (req == R_YES || (req == R_IF_OK && ok) || (req == R_IF_NOT_OK && !ok)))
            return O_BAD_REQUEST;
    }
    return O_VALID;
}

/* ---------------------------------------------------------------- entry point */

typedef int (*s_fuzz_fn)(const uint8_t *data, size_t len, proto_error_t *err);

/* Indexed by message, like s_specs. */
static const s_fuzz_fn s_decoders[S_MESSAGES] = {
    s_fuzz_job,       s_fuzz_progress,  s_fuzz_result, s_fuzz_submit,
    s_fuzz_submitted, s_fuzz_ping,      s_fuzz_pong,   NULL,
    s_fuzz_cancel,    s_fuzz_cancelled, s_fuzz_fetch,  s_fuzz_chunk,
};

static void
s_fuzz_structured(unsigned message, const uint8_t *data, size_t len)
{
    s_reader_t r = {data, len, 0};
    s_out_t o = {0};
    g_entry_t entries[S_ENTRIES_MAX];
    proto_error_t err = {.code = ""};

    size_t count = s_generate(&r, &o, entries);
    o_verdict_t verdict = s_oracle(&s_specs[message], entries, count);
    int rc = s_decoders[message](o.p, o.n, &err);
    FUZZ_CHECK((rc == 0) == (verdict == O_VALID));
    if (verdict == O_BAD_REQUEST)
        FUZZ_CHECK(strcmp(err.code, "bad_request") == 0);
    if (verdict == O_UNSUPPORTED_VERSION)
        FUZZ_CHECK(strcmp(err.code, "unsupported_version") == 0);
    free(o.p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_error_t err = {.code = ""};
    if (size < 1)
        return 0;
    const uint8_t *body = data + 1;
    size_t len = size - 1;
    unsigned message = (data[0] & 0x10) ? 8 + (data[0] & 0x03) : data[0] % 8;
    bool structured = (data[0] & 0x08) != 0;

    (void)proto_peek_rid(body, len); /* must never read outside the body */
    if (message == S_ERROR_REPLY)
        s_fuzz_error_reply(body, len);
    else if (structured)
        s_fuzz_structured(message, body, len);
    else
        (void)s_decoders[message](body, len, &err);
    return 0;
}
