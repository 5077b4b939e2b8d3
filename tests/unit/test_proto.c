/*
 * test_proto.c - unit tests of the protocol codec (include/profai/proto.h, docs/protocol.md).
 *
 * Every body and every frame is round-tripped; then hostile input: wrong versions and types,
 * missing and duplicate fields, every truncation, container-count bombs, nesting bombs and a
 * deterministic random-mutation loop that must never crash or yield out-of-limit fields.
 *
 * Why one file of about 2,000 lines: every test here builds its input with the same expected-
 * entry tables and msgpack writers (t_entry_t, s_pack_*), written independently of the codec
 * so that they are an oracle for it. Splitting the file would move that oracle into a shared
 * header of test code; keeping it in one place keeps it obviously separate from protocol/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "profai/proto.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JOB_ID "5b0c2b5e-3f9a-4c51-9d7e-0c7a2f7d7a10"
#define OWNER "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* The version keys every encoded body starts with (docs/protocol.md 3.5): v, and v_minor from
 * minor 1 on. */
#if PROTO_VERSION_MINOR > 0
#define T_VERSION_KEYS "v,v_minor"
#else
#define T_VERSION_KEYS "v"
#endif
#define T_V T_VERSION_KEYS ","

/* ================================================================ helpers */

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
s_fill(char *dst, size_t n, char c)
{
    memset(dst, c, n);
    dst[n] = '\0';
}

/* A test-side msgpack writer, for bodies the encoders would never produce. */
typedef enum { T_UINT, T_NEG, T_BOOL, T_STR, T_BIN, T_NIL, T_FLOAT, T_ARRAY, T_MAP } t_type_t;

typedef struct {
    const char *key;
    t_type_t type;
    uint64_t u;    /* T_UINT, T_BOOL */
    const char *s; /* T_STR, T_BIN */
    size_t slen;   /* 0 = strlen(s) */
    bool optional; /* the decoder accepts the body without it */
} t_entry_t;

#define E_U(k, v)                                                                                  \
    {                                                                                              \
        .key = (k), .type = T_UINT, .u = (v)                                                       \
    }
#define E_B(k, v)                                                                                  \
    {                                                                                              \
        .key = (k), .type = T_BOOL, .u = (v)                                                       \
    }
#define E_S(k, v)                                                                                  \
    {                                                                                              \
        .key = (k), .type = T_STR, .s = (v)                                                        \
    }
#define E_BIN(k, v)                                                                                \
    {                                                                                              \
        .key = (k), .type = T_BIN, .s = (v)                                                        \
    }
#define E_OPT_S(k, v)                                                                              \
    {                                                                                              \
        .key = (k), .type = T_STR, .s = (v), .optional = true                                      \
    }
#define E_OPT_U(k, v)                                                                              \
    {                                                                                              \
        .key = (k), .type = T_UINT, .u = (v), .optional = true                                     \
    }

typedef struct {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
} t_writer_t;

static void
t_writer_init(t_writer_t *w)
{
    msgpack_sbuffer_init(&w->sbuf);
    msgpack_packer_init(&w->pk, &w->sbuf, msgpack_sbuffer_write);
}

static void
t_write_value(t_writer_t *w, const t_entry_t *e)
{
    size_t n = e->slen ? e->slen : (e->s ? strlen(e->s) : 0);
    switch (e->type) {
    case T_UINT:
        msgpack_pack_uint64(&w->pk, e->u);
        break;
    case T_NEG:
        msgpack_pack_int64(&w->pk, -1);
        break;
    case T_BOOL:
        if (e->u)
            msgpack_pack_true(&w->pk);
        else
            msgpack_pack_false(&w->pk);
        break;
    case T_STR:
        msgpack_pack_str_with_body(&w->pk, e->s ? e->s : "", n);
        break;
    case T_BIN:
        msgpack_pack_bin_with_body(&w->pk, e->s ? e->s : "", n);
        break;
    case T_NIL:
        msgpack_pack_nil(&w->pk);
        break;
    case T_FLOAT:
        msgpack_pack_double(&w->pk, 1.0);
        break;
    case T_ARRAY:
        msgpack_pack_array(&w->pk, 1);
        msgpack_pack_uint8(&w->pk, 1);
        break;
    case T_MAP:
        msgpack_pack_map(&w->pk, 1);
        msgpack_pack_str_with_body(&w->pk, "a", 1);
        msgpack_pack_uint8(&w->pk, 1);
        break;
    }
}

/* Build a map of entries, leaving out index `skip`, replacing index `replace` by *with, and
 * writing index `twice` a second time at the end (-1: none). Caller frees the result. */
static proto_buf_t
t_build(const t_entry_t *entries, size_t n, int skip, int replace, const t_entry_t *with, int twice)
{
    t_writer_t w;
    t_writer_init(&w);
    size_t count = n - (skip >= 0) + (twice >= 0);
    msgpack_pack_map(&w.pk, count);
    for (size_t i = 0; i < n; i++) {
        if ((int)i == skip)
            continue;
        const t_entry_t *e = (int)i == replace ? with : &entries[i];
        msgpack_pack_str_with_body(&w.pk, entries[i].key, strlen(entries[i].key));
        t_write_value(&w, e);
    }
    if (twice >= 0) {
        msgpack_pack_str_with_body(&w.pk, entries[twice].key, strlen(entries[twice].key));
        t_write_value(&w, &entries[twice]);
    }
    proto_buf_t out;
    out.size = w.sbuf.size; /* before release, which zeroes it */
    out.data = (uint8_t *)msgpack_sbuffer_release(&w.sbuf);
    return out;
}

/* One decoder behind one signature, so that tables of messages can drive the tests. */
typedef union {
    proto_job_t job;
    proto_progress_t progress;
    proto_result_t result;
    proto_submit_t submit;
    proto_submitted_t submitted;
    proto_ping_t ping;
    proto_pong_t pong;
    proto_cancel_t cancel;
    proto_cancelled_t cancelled;
    proto_fetch_t fetch;
    proto_chunk_t chunk;
} t_any_t;

typedef enum {
    M_JOB,
    M_PROGRESS,
    M_RESULT,
    M_SUBMIT,
    M_SUBMITTED,
    M_PING,
    M_PONG,
    M_CANCEL,
    M_CANCELLED,
    M_FETCH,
    M_CHUNK,
    M_COUNT
} t_msg_t;

static int
t_decode(t_msg_t kind, const uint8_t *data, size_t len, t_any_t *m, proto_error_t *err)
{
    switch (kind) {
    case M_JOB:
        return proto_job_decode(data, len, &m->job, err);
    case M_PROGRESS:
        return proto_progress_decode(data, len, &m->progress, err);
    case M_RESULT:
        return proto_result_decode(data, len, &m->result, err);
    case M_SUBMIT:
        return proto_submit_decode(data, len, &m->submit, err);
    case M_SUBMITTED:
        return proto_submitted_decode(data, len, &m->submitted, err);
    case M_PING:
        return proto_ping_decode(data, len, &m->ping, err);
    case M_PONG:
        return proto_pong_decode(data, len, &m->pong, err);
    case M_CANCEL:
        return proto_cancel_decode(data, len, &m->cancel, err);
    case M_CANCELLED:
        return proto_cancelled_decode(data, len, &m->cancelled, err);
    case M_FETCH:
        return proto_fetch_decode(data, len, &m->fetch, err);
    case M_CHUNK:
        return proto_chunk_decode(data, len, &m->chunk, err);
    default:
        return -1;
    }
}

/* Valid wire forms of every message, as entry tables. */
static const t_entry_t s_job_entries[] = {
    E_U("v", 1),
    E_S("job_id", JOB_ID),
    E_U("attempt", 2),
    E_S("title", "Algebra"),
    E_S("filename", "algebra.pdf"),
    E_S("sha256", SHA),
    E_BIN("pdf", "%PDF-1.4 ..."),
};
static const t_entry_t s_progress_entries[] = {
    E_U("v", 1),        E_U("progress", 40),  E_S("stage", "text"),
    E_OPT_U("page", 4), E_OPT_U("pages", 10),
};
static const t_entry_t s_result_ok_entries[] = {
    E_U("v", 1),
    E_B("ok", 1),
    E_BIN("course", "{\"title\":\"x\"}"),
    E_OPT_S("error", "fine"),
};
static const t_entry_t s_result_fail_entries[] = {
    E_U("v", 1),
    E_B("ok", 0),
    E_S("error_code", "no_text"),
    E_OPT_S("error", "scanned pages"),
};
static const t_entry_t s_submit_entries[] = {
    E_U("v", 1),
    E_U("rid", 7),
    E_S("owner", OWNER),
    E_S("title", "Algebra"),
    E_S("filename", "a.pdf"),
    E_S("sha256", SHA),
};
static const t_entry_t s_submitted_ok_entries[] = {
    E_U("v", 1),           E_U("rid", 7),          E_B("ok", 1),
    E_S("job_id", JOB_ID), E_S("state", "queued"), E_OPT_S("error", ""),
};
static const t_entry_t s_submitted_fail_entries[] = {
    E_U("v", 1),
    E_U("rid", 7),
    E_B("ok", 0),
    E_S("error_code", "unknown_blob"),
    E_OPT_S("error", "no such pdf"),
};
static const t_entry_t s_ping_entries[] = {E_U("v", 1), E_U("rid", 99)};
static const t_entry_t s_pong_entries[] = {
    E_U("v", 1),       E_U("rid", 99),   E_B("ok", 1),      E_B("db", 1),
    E_U("workers", 3), E_U("queued", 4), E_U("running", 5),
};
static const t_entry_t s_cancel_entries[] = {
    E_U("v", 1),
    E_U("rid", 11),
    E_S("owner", OWNER),
    E_S("job_id", JOB_ID),
};
static const t_entry_t s_cancelled_ok_entries[] = {
    E_U("v", 1), E_U("rid", 11), E_B("ok", 1), E_S("state", "cancelled"), E_OPT_S("error", ""),
};
static const t_entry_t s_cancelled_final_entries[] = {
    E_U("v", 1),
    E_U("rid", 11),
    E_B("ok", 0),
    E_S("error_code", "already_final"),
    E_OPT_S("state", "succeeded"),
    E_OPT_S("error", "the job has already ended"),
};

typedef struct {
    const char *name;
    t_msg_t kind;
    const t_entry_t *entries;
    size_t count;
} t_case_t;

#define CASE(name, kind, e)                                                                        \
    {                                                                                              \
        name, kind, e, sizeof(e) / sizeof(e[0])                                                    \
    }
static const t_case_t s_cases[] = {
    CASE("job", M_JOB, s_job_entries),
    CASE("progress", M_PROGRESS, s_progress_entries),
    CASE("result ok", M_RESULT, s_result_ok_entries),
    CASE("result fail", M_RESULT, s_result_fail_entries),
    CASE("submit", M_SUBMIT, s_submit_entries),
    CASE("submitted ok", M_SUBMITTED, s_submitted_ok_entries),
    CASE("submitted fail", M_SUBMITTED, s_submitted_fail_entries),
    CASE("ping", M_PING, s_ping_entries),
    CASE("pong", M_PONG, s_pong_entries),
    CASE("cancel", M_CANCEL, s_cancel_entries),
    CASE("cancelled ok", M_CANCELLED, s_cancelled_ok_entries),
    CASE("cancelled already final", M_CANCELLED, s_cancelled_final_entries),
};
#define N_CASES (sizeof s_cases / sizeof s_cases[0])

/* The keys of an encoded map, in order, joined by ','. */
static void
t_keys(const proto_buf_t *buf, char *out, size_t size)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&u, (const char *)buf->data, buf->size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, buf->size);
    assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
    out[0] = '\0';
    for (uint32_t i = 0; i < u.data.via.map.size; i++) {
        const msgpack_object *k = &u.data.via.map.ptr[i].key;
        assert_int_equal(k->type, MSGPACK_OBJECT_STR);
        if (i > 0)
            strncat(out, ",", size - strlen(out) - 1);
        strncat(out, k->via.str.ptr,
                k->via.str.size < size - strlen(out) - 1 ? k->via.str.size
                                                         : size - strlen(out) - 1);
    }
    msgpack_unpacked_destroy(&u);
}

static bool
t_within(const uint8_t *p, size_t n, const uint8_t *data, size_t len)
{
    return p >= data && n <= len && p + n <= data + len;
}

/* ================================================================ validators */

static void
test_validators(void **state)
{
    (void)state;
    assert_true(proto_is_uuid(JOB_ID, 36));
    assert_false(proto_is_uuid("5B0C2B5E-3F9A-4C51-9D7E-0C7A2F7D7A10", 36));
    assert_false(proto_is_uuid("5b0c2b5e3f9a-4c51-9d7e-0c7a2f7d7a10-", 36));
    assert_false(proto_is_uuid(JOB_ID, 35));
    assert_false(proto_is_uuid("5b0c2b5e-3f9a-4c51-9d7e-0c7a2f7d7a1g", 36));
    assert_false(proto_is_uuid(NULL, 36));

    assert_true(proto_is_sha256(SHA, 64));
    assert_false(proto_is_sha256(SHA, 63));
    assert_false(
        proto_is_sha256("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", 64));
    assert_false(
        proto_is_sha256("g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 64));

    assert_true(proto_is_utf8("", 0));
    assert_true(proto_is_utf8("plain ascii", 11));
    assert_true(proto_is_utf8("caf\xc3\xa9", 5));
    assert_true(proto_is_utf8("\xe2\x82\xac", 3));      /* U+20AC */
    assert_true(proto_is_utf8("\xf0\x9f\x98\x80", 4));  /* U+1F600 */
    assert_true(proto_is_utf8("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
    assert_true(proto_is_utf8("\xed\x9f\xbf", 3));      /* U+D7FF */
    assert_false(proto_is_utf8("\xc0\xaf", 2));         /* overlong '/' */
    assert_false(proto_is_utf8("\xc1\xbf", 2));         /* overlong */
    assert_false(proto_is_utf8("\xe0\x80\xaf", 3));     /* overlong */
    assert_false(proto_is_utf8("\xf0\x80\x80\xaf", 4)); /* overlong */
    assert_false(proto_is_utf8("\xed\xa0\x80", 3));     /* U+D800 surrogate */
    assert_false(proto_is_utf8("\xed\xbf\xbf", 3));     /* U+DFFF surrogate */
    assert_false(proto_is_utf8("\xf4\x90\x80\x80", 4)); /* U+110000 */
    assert_false(proto_is_utf8("\xf5\x80\x80\x80", 4));
    assert_false(proto_is_utf8("\xff", 1));
    assert_false(proto_is_utf8("\x80", 1)); /* lone continuation */
    assert_false(proto_is_utf8("\xc3", 1)); /* truncated */
    assert_false(proto_is_utf8("\xe2\x82", 2));
    assert_false(proto_is_utf8("\xc3\x28", 2)); /* bad continuation */

    assert_true(proto_is_service("course.build", 12));
    assert_true(proto_is_service("a-b_c.9", 7));
    assert_false(proto_is_service("", 0));
    assert_false(proto_is_service("Course.build", 12));
    assert_false(proto_is_service("course build", 12));
    assert_false(proto_is_service("course/build", 12));
    char service[40];
    s_fill(service, 32, 'a');
    assert_true(proto_is_service(service, 32));
    s_fill(service, 33, 'a');
    assert_false(proto_is_service(service, 33));
}

/* ================================================================ tokens */

static void
test_tokens(void **state)
{
    (void)state;
    char buf[PROTO_ADDRESS_MAX + 1], id[PROTO_UUID_LEN + 1];
    uint32_t attempt = 0;

    assert_int_equal(proto_token_format(JOB_ID, 2, buf, sizeof buf), 0);
    assert_string_equal(buf, JOB_ID "/2");
    assert_int_equal(proto_token_parse((const uint8_t *)buf, strlen(buf), id, &attempt), 0);
    assert_string_equal(id, JOB_ID);
    assert_int_equal(attempt, 2);

    assert_int_equal(proto_token_format(JOB_ID, UINT32_MAX, buf, sizeof buf), 0);
    assert_string_equal(buf, JOB_ID "/4294967295");
    assert_int_equal(proto_token_parse((const uint8_t *)buf, strlen(buf), id, &attempt), 0);
    assert_int_equal(attempt, UINT32_MAX);

    assert_int_equal(proto_token_format(JOB_ID, 0, buf, sizeof buf), -1);
    assert_int_equal(proto_token_format("not-a-uuid", 1, buf, sizeof buf), -1);
    assert_int_equal(proto_token_format(JOB_ID, 1, buf, 38), -1); /* no room for "/1\0" */
    assert_int_equal(proto_token_format(JOB_ID, 1, buf, 39), 0);

    static const char *bad[] = {
        JOB_ID "/0",
        JOB_ID "/01",
        JOB_ID "/+1",
        JOB_ID "/-1",
        JOB_ID "/",
        JOB_ID,
        JOB_ID "/4294967296",
        JOB_ID "/99999999999",
        JOB_ID "/1 ",
        JOB_ID "/1a",
        JOB_ID "-1",
        JOB_ID "//1",
        "5B0C2B5E-3F9A-4C51-9D7E-0C7A2F7D7A10/1",
        "x/1",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(proto_token_parse((const uint8_t *)bad[i], strlen(bad[i]), id, &attempt),
                         -1);
    }
    /* An embedded NUL is not a digit. */
    assert_int_equal(proto_token_parse((const uint8_t *)JOB_ID "/1\0", 39, id, &attempt), -1);
    assert_int_equal(proto_token_parse(NULL, 0, id, &attempt), -1);
}

/* ================================================================ body round trips */

static void
test_job_roundtrip(void **state)
{
    (void)state;
    proto_job_t in = {0}, out;
    proto_buf_t buf = {0};
    proto_error_t err;
    static const uint8_t pdf[] = "%PDF-1.7 body";

    strcpy(in.job_id, JOB_ID);
    in.attempt = 3;
    strcpy(in.title, "Linear algebra \xe2\x80\x94 week 1");
    strcpy(in.filename, "la.pdf");
    strcpy(in.sha256, SHA);
    in.pdf = pdf;
    in.pdf_len = sizeof pdf;
    assert_int_equal(proto_job_encode(&in, &buf, &err), 0);
    char keys[256];
    t_keys(&buf, keys, sizeof keys);
    assert_string_equal(keys, T_V "job_id,attempt,title,filename,sha256,pdf");
    assert_int_equal(proto_job_decode(buf.data, buf.size, &out, &err), 0);
    assert_string_equal(out.job_id, in.job_id);
    assert_int_equal(out.attempt, 3);
    assert_string_equal(out.title, in.title);
    assert_string_equal(out.filename, in.filename);
    assert_string_equal(out.sha256, in.sha256);
    assert_int_equal(out.pdf_len, sizeof pdf);
    assert_memory_equal(out.pdf, pdf, sizeof pdf);
    assert_true(t_within(out.pdf, out.pdf_len, buf.data, buf.size)); /* borrowed */
    proto_buf_free(&buf);
    assert_null(buf.data);
    proto_buf_free(&buf); /* a zeroed buffer is fine */

    /* Every limit reached exactly, the PDF at 64 MiB. */
    s_fill(in.title, PROTO_TITLE_MAX, 't');
    s_fill(in.filename, PROTO_FILENAME_MAX, 'f');
    in.attempt = UINT32_MAX;
    uint8_t *big = malloc(PROTO_PDF_MAX);
    assert_non_null(big);
    memset(big, 0xc1, PROTO_PDF_MAX); /* bytes that would be invalid msgpack */
    big[PROTO_PDF_MAX - 1] = 0x42;
    in.pdf = big;
    in.pdf_len = PROTO_PDF_MAX;
    assert_int_equal(proto_job_encode(&in, &buf, &err), 0);
    assert_true(buf.size <= PROTO_JOB_BODY_MAX);
    assert_int_equal(proto_job_decode(buf.data, buf.size, &out, &err), 0);
    assert_int_equal(strlen(out.title), PROTO_TITLE_MAX);
    assert_int_equal(strlen(out.filename), PROTO_FILENAME_MAX);
    assert_int_equal(out.attempt, UINT32_MAX);
    assert_int_equal(out.pdf_len, PROTO_PDF_MAX);
    assert_true(t_within(out.pdf, out.pdf_len, buf.data, buf.size));
    assert_int_equal(out.pdf[PROTO_PDF_MAX - 1], 0x42);
    proto_buf_free(&buf);

    /* One byte over any limit: the encoder refuses. */
    in.pdf_len = PROTO_PDF_MAX + 1;
    assert_int_equal(proto_job_encode(&in, &buf, &err), -1);
    assert_string_equal(err.code, "bad_request");
    assert_non_null(strstr(err.detail, "pdf"));
    assert_null(buf.data);
    in.pdf_len = 10;
    free(big);
    in.pdf = pdf;
    s_fill(in.title, PROTO_TITLE_MAX, 't');
    in.title[PROTO_TITLE_MAX] = 'x'; /* not terminated within the member */
    assert_int_equal(proto_job_encode(&in, &buf, &err), -1);
    assert_non_null(strstr(err.detail, "title"));
    strcpy(in.title, "ok");
    in.attempt = 0;
    assert_int_equal(proto_job_encode(&in, &buf, &err), -1);
    assert_non_null(strstr(err.detail, "attempt"));
    in.attempt = 1;
    strcpy(in.job_id, "5B0C2B5E-3F9A-4C51-9D7E-0C7A2F7D7A10");
    assert_int_equal(proto_job_encode(&in, &buf, &err), -1);
    assert_non_null(strstr(err.detail, "job_id"));
    strcpy(in.job_id, JOB_ID);
    strcpy(in.sha256, "abc");
    assert_int_equal(proto_job_encode(&in, &buf, &err), -1);
    assert_non_null(strstr(err.detail, "sha256"));
    strcpy(in.sha256, SHA);
    strcpy(in.filename, "bad \xc3\x28");
    assert_int_equal(proto_job_encode(&in, &buf, &err), -1);
    assert_non_null(strstr(err.detail, "filename"));
    strcpy(in.filename, "x.pdf");
    in.pdf = NULL;
    assert_int_equal(proto_job_encode(&in, &buf, &err), -1);
    in.pdf = pdf;
    assert_int_equal(proto_job_encode(&in, &buf, &err), 0);
    proto_buf_free(&buf);
}

static void
test_progress_roundtrip(void **state)
{
    (void)state;
    proto_progress_t in = {.progress = 100, .page = 7, .pages = UINT32_MAX}, out;
    proto_buf_t buf = {0};
    proto_error_t err;
    char keys[256];

    s_fill(in.stage, PROTO_STAGE_MAX, 's');
    assert_int_equal(proto_progress_encode(&in, &buf, &err), 0);
    t_keys(&buf, keys, sizeof keys);
    assert_string_equal(keys, T_V "progress,stage,page,pages");
    assert_int_equal(proto_progress_decode(buf.data, buf.size, &out, &err), 0);
    assert_int_equal(out.progress, 100);
    assert_string_equal(out.stage, in.stage);
    assert_int_equal(out.page, 7);
    assert_int_equal(out.pages, UINT32_MAX);
    proto_buf_free(&buf);

    /* page and pages are left out when 0 */
    in = (proto_progress_t){.progress = 0};
    strcpy(in.stage, "starting");
    assert_int_equal(proto_progress_encode(&in, &buf, &err), 0);
    t_keys(&buf, keys, sizeof keys);
    assert_string_equal(keys, T_V "progress,stage");
    assert_int_equal(proto_progress_decode(buf.data, buf.size, &out, &err), 0);
    assert_int_equal(out.page, 0);
    assert_int_equal(out.pages, 0);
    assert_string_equal(out.stage, "starting");
    proto_buf_free(&buf);

    in.progress = 101;
    assert_int_equal(proto_progress_encode(&in, &buf, &err), -1);
    assert_non_null(strstr(err.detail, "progress"));
    in.progress = 5;
    s_fill(in.stage, PROTO_STAGE_MAX, 's');
    in.stage[PROTO_STAGE_MAX] = 's';
    assert_int_equal(proto_progress_encode(&in, &buf, &err), -1);
    assert_null(buf.data);
}

static void
test_result_roundtrip(void **state)
{
    (void)state;
    proto_result_t in = {.ok = true}, out;
    proto_buf_t buf = {0};
    proto_error_t err;
    char keys[256];
    static const uint8_t course[] = "{\"title\":\"Algebra\"}";

    in.course = course;
    in.course_len = sizeof course - 1;
    assert_int_equal(proto_result_encode(&in, &buf, &err), 0);
    t_keys(&buf, keys, sizeof keys);
    assert_string_equal(keys, T_V "ok,course");
    assert_int_equal(proto_result_decode(buf.data, buf.size, &out, &err), 0);
    assert_true(out.ok);
    assert_int_equal(out.course_len, sizeof course - 1);
    assert_memory_equal(out.course, course, sizeof course - 1);
    assert_true(t_within(out.course, out.course_len, buf.data, buf.size));
    assert_string_equal(out.error, "");
    proto_buf_free(&buf);

    /* 32 MiB course */
    uint8_t *big = malloc(PROTO_COURSE_MAX + 1);
    assert_non_null(big);
    memset(big, ' ', PROTO_COURSE_MAX + 1);
    in.course = big;
    in.course_len = PROTO_COURSE_MAX;
    assert_int_equal(proto_result_encode(&in, &buf, &err), 0);
    assert_true(buf.size <= PROTO_RESULT_BODY_MAX);
    assert_int_equal(proto_result_decode(buf.data, buf.size, &out, &err), 0);
    assert_int_equal(out.course_len, PROTO_COURSE_MAX);
    assert_true(t_within(out.course, out.course_len, buf.data, buf.size));
    proto_buf_free(&buf);
    in.course_len = PROTO_COURSE_MAX + 1;
    assert_int_equal(proto_result_encode(&in, &buf, &err), -1);
    assert_non_null(strstr(err.detail, "course"));
    free(big);
    in.course_len = 0;
    assert_int_equal(proto_result_encode(&in, &buf, &err), -1); /* ok needs a course */

    /* failure */
    in = (proto_result_t){.ok = false};
    strcpy(in.error_code, "encrypted");
    s_fill(in.error, PROTO_ERROR_MAX, 'e');
    assert_int_equal(proto_result_encode(&in, &buf, &err), 0);
    t_keys(&buf, keys, sizeof keys);
    assert_string_equal(keys, T_V "ok,error_code,error");
    assert_int_equal(proto_result_decode(buf.data, buf.size, &out, &err), 0);
    assert_false(out.ok);
    assert_null(out.course);
    assert_string_equal(out.error_code, "encrypted");
    assert_string_equal(out.error, in.error);
    proto_buf_free(&buf);

    in.error[0] = '\0';
    assert_int_equal(proto_result_encode(&in, &buf, &err), 0);
    t_keys(&buf, keys, sizeof keys);
    assert_string_equal(keys, T_V "ok,error_code"); /* error omitted when "" */
    proto_buf_free(&buf);

    in.error_code[0] = '\0';
    assert_int_equal(proto_result_encode(&in, &buf, &err), -1);
    assert_non_null(strstr(err.detail, "error_code"));
    s_fill(in.error_code, PROTO_CODE_MAX, 'c');
    assert_int_equal(proto_result_encode(&in, &buf, &err), 0);
    proto_buf_free(&buf);
    in.error_code[PROTO_CODE_MAX] = 'c';
    assert_int_equal(proto_result_encode(&in, &buf, &err), -1);
}

static void
test_submit_roundtrip(void **state)
{
    (void)state;
    proto_submit_t in = {.rid = UINT64_MAX}, out;
    proto_buf_t buf = {0};
    proto_error_t err;
    char keys[256];

    strcpy(in.owner, OWNER);
    s_fill(in.title, PROTO_TITLE_MAX, 't');
    s_fill(in.filename, PROTO_FILENAME_MAX, 'f');
    strcpy(in.sha256, SHA);
    assert_int_equal(proto_submit_encode(&in, &buf, &err), 0);
    t_keys(&buf, keys, sizeof keys);
    assert_string_equal(keys, T_V "rid,owner,title,filename,sha256");
    assert_int_equal(proto_submit_decode(buf.data, buf.size, &out, &err), 0);
    assert_true(out.rid == UINT64_MAX);
    assert_string_equal(out.owner, OWNER);
    assert_string_equal(out.title, in.title);
    assert_string_equal(out.filename, in.filename);
    assert_string_equal(out.sha256, SHA);
    assert_true(proto_peek_rid(buf.data, buf.size) == UINT64_MAX);
    proto_buf_free(&buf);

    strcpy(in.owner, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4");
    assert_int_equal(proto_submit_encode(&in, &buf, &err), -1);
    assert_non_null(strstr(err.detail, "owner"));
}

static void
test_submitted_roundtrip(void **state)
{
    (void)state;
    proto_submitted_t in = {.rid = 5, .ok = true}, out;
    proto_buf_t buf = {0};
    proto_error_t err;
    char keys[256];

    strcpy(in.job_id, JOB_ID);
    strcpy(in.state, "queued");
    assert_int_equal(proto_submitted_encode(&in, &buf, &err), 0);
    t_keys(&buf, keys, sizeof keys);
    assert_string_equal(keys, T_V "rid,ok,job_id,state");
    assert_int_equal(proto_submitted_decode(buf.data, buf.size, &out, &err), 0);
    assert_int_equal(out.rid, 5);
    assert_true(out.ok);
    assert_string_equal(out.job_id, JOB_ID);
    assert_string_equal(out.state, "queued");
    assert_string_equal(out.error_code, "");
    proto_buf_free(&buf);

    in.state[0] = '\0';
    assert_int_equal(proto_submitted_encode(&in, &buf, &err), -1);
    assert_non_null(strstr(err.detail, "state"));
    strcpy(in.state, "queued");
    in.job_id[0] = '\0';
    assert_int_equal(proto_submitted_encode(&in, &buf, &err), -1);
    assert_non_null(strstr(err.detail, "job_id"));

    in = (proto_submitted_t){.rid = 6, .ok = false};
    strcpy(in.error_code, "db_unavailable");
    strcpy(in.error, "PostgreSQL is down");
    assert_int_equal(proto_submitted_encode(&in, &buf, &err), 0);
    t_keys(&buf, keys, sizeof keys);
    assert_string_equal(keys, T_V "rid,ok,error_code,error");
    assert_int_equal(proto_submitted_decode(buf.data, buf.size, &out, &err), 0);
    assert_false(out.ok);
    assert_string_equal(out.error_code, "db_unavailable");
    assert_string_equal(out.error, "PostgreSQL is down");
    assert_string_equal(out.job_id, "");
    proto_buf_free(&buf);

    /* The generic error reply decodes as a SUBMITTED with ok = false. */
    assert_int_equal(proto_error_reply_encode(42, "unknown_service", "no service 'x'", &buf), 0);
    assert_int_equal(proto_submitted_decode(buf.data, buf.size, &out, &err), 0);
    assert_int_equal(out.rid, 42);
    assert_false(out.ok);
    assert_string_equal(out.error_code, "unknown_service");
    assert_string_equal(out.error, "no service 'x'");
    proto_buf_free(&buf);

    /* A detail over the limit is cut at a character boundary, never refused. */
    char *detail = malloc(2000);
    assert_non_null(detail);
    memset(detail, 'a', 2000);
    memcpy(detail + 1023, "\xc3\xa9", 2);
    detail[1999] = '\0';
    assert_int_equal(proto_error_reply_encode(1, "bad_request", detail, &buf), 0);
    assert_int_equal(proto_submitted_decode(buf.data, buf.size, &out, &err), 0);
    assert_int_equal(strlen(out.error), 1023);
    proto_buf_free(&buf);
    free(detail);
    assert_int_equal(proto_error_reply_encode(1, "bad_request", NULL, &buf), 0);
    proto_buf_free(&buf);
    assert_int_equal(proto_error_reply_encode(1, "", "x", &buf), -1);
    assert_int_equal(proto_error_reply_encode(1, NULL, "x", &buf), -1);
    assert_int_equal(proto_error_reply_encode(1, "bad_request", "\xff", &buf), -1);
    assert_null(buf.data);
}

static void
test_ping_pong_roundtrip(void **state)
{
    (void)state;
    proto_ping_t ping = {.rid = 0}, ping2;
    proto_pong_t pong = {.rid = 8,
                         .ok = true,
                         .db = false,
                         .workers = UINT64_MAX,
                         .queued = 0,
                         .running = 12},
                 pong2;
    proto_buf_t buf = {0};
    proto_error_t err;
    char keys[256];

    assert_int_equal(proto_ping_encode(&ping, &buf, &err), 0);
    t_keys(&buf, keys, sizeof keys);
    assert_string_equal(keys, T_V "rid"); /* rid is required, so 0 is sent */
    assert_int_equal(proto_ping_decode(buf.data, buf.size, &ping2, &err), 0);
    assert_int_equal(ping2.rid, 0);
    proto_buf_free(&buf);

    assert_int_equal(proto_pong_encode(&pong, &buf, &err), 0);
    t_keys(&buf, keys, sizeof keys);
    assert_string_equal(keys, T_V "rid,ok,db,workers,queued,running");
    assert_int_equal(proto_pong_decode(buf.data, buf.size, &pong2, &err), 0);
    assert_int_equal(pong2.rid, 8);
    assert_true(pong2.ok);
    assert_false(pong2.db);
    assert_true(pong2.workers == UINT64_MAX);
    assert_int_equal(pong2.queued, 0);
    assert_int_equal(pong2.running, 12);
    assert_int_equal(proto_peek_rid(buf.data, buf.size), 8);
    proto_buf_free(&buf);
}

static void
test_cancel_roundtrip(void **state)
{
    (void)state;
    proto_cancel_t in = {.rid = UINT64_MAX}, out;
    proto_buf_t buf = {0};
    proto_error_t err;
    char keys[256];

    strcpy(in.owner, OWNER);
    strcpy(in.job_id, JOB_ID);
    assert_int_equal(proto_cancel_encode(&in, &buf, &err), 0);
    t_keys(&buf, keys, sizeof keys);
    assert_string_equal(keys, T_V "rid,owner,job_id");
    assert_int_equal(proto_cancel_decode(buf.data, buf.size, &out, &err), 0);
    assert_true(out.rid == UINT64_MAX);
    assert_string_equal(out.owner, OWNER);
    assert_string_equal(out.job_id, JOB_ID);
    assert_true(proto_peek_rid(buf.data, buf.size) == UINT64_MAX);
    proto_buf_free(&buf);

    /* Both ids must be canonical uuids: the broker compares them with the database's. */
    strcpy(in.job_id, "5B0C2B5E-3F9A-4C51-9D7E-0C7A2F7D7A10");
    assert_int_equal(proto_cancel_encode(&in, &buf, &err), -1);
    assert_non_null(strstr(err.detail, "job_id"));
    strcpy(in.job_id, JOB_ID);
    in.owner[0] = '\0';
    assert_int_equal(proto_cancel_encode(&in, &buf, &err), -1);
    assert_non_null(strstr(err.detail, "owner"));
    assert_null(buf.data);
    const t_entry_t bad_job = E_S("job_id", "not-a-uuid");
    buf = t_build(s_cancel_entries, 4, -1, 3, &bad_job, -1);
    assert_int_equal(proto_cancel_decode(buf.data, buf.size, &out, &err), -1);
    assert_string_equal(err.code, "bad_request");
    assert_non_null(strstr(err.detail, "job_id"));
    proto_buf_free(&buf);
}

static void
test_cancelled_roundtrip(void **state)
{
    (void)state;
    proto_cancelled_t in = {.rid = 3, .ok = true}, out;
    proto_buf_t buf = {0};
    proto_error_t err;
    char keys[256];

    strcpy(in.state, "cancelled");
    strcpy(in.error_code, "ignored"); /* not sent when ok */
    assert_int_equal(proto_cancelled_encode(&in, &buf, &err), 0);
    t_keys(&buf, keys, sizeof keys);
    assert_string_equal(keys, T_V "rid,ok,state");
    assert_int_equal(proto_cancelled_decode(buf.data, buf.size, &out, &err), 0);
    assert_int_equal(out.rid, 3);
    assert_true(out.ok);
    assert_string_equal(out.state, "cancelled");
    assert_string_equal(out.error_code, "");
    proto_buf_free(&buf);
    in.state[0] = '\0'; /* ok needs the state */
    assert_int_equal(proto_cancelled_encode(&in, &buf, &err), -1);
    assert_non_null(strstr(err.detail, "state"));

    /* already_final carries the final state */
    in = (proto_cancelled_t){.rid = 4, .ok = false};
    strcpy(in.state, "succeeded");
    strcpy(in.error_code, "already_final");
    strcpy(in.error, "the job has already ended");
    assert_int_equal(proto_cancelled_encode(&in, &buf, &err), 0);
    t_keys(&buf, keys, sizeof keys);
    assert_string_equal(keys, T_V "rid,ok,state,error_code,error");
    assert_int_equal(proto_cancelled_decode(buf.data, buf.size, &out, &err), 0);
    assert_false(out.ok);
    assert_string_equal(out.state, "succeeded");
    assert_string_equal(out.error_code, "already_final");
    assert_string_equal(out.error, in.error);
    proto_buf_free(&buf);

    /* unknown_job: no state */
    in = (proto_cancelled_t){.rid = 5, .ok = false};
    strcpy(in.error_code, "unknown_job");
    assert_int_equal(proto_cancelled_encode(&in, &buf, &err), 0);
    t_keys(&buf, keys, sizeof keys);
    assert_string_equal(keys, T_V "rid,ok,error_code");
    assert_int_equal(proto_cancelled_decode(buf.data, buf.size, &out, &err), 0);
    assert_string_equal(out.state, "");
    assert_string_equal(out.error_code, "unknown_job");
    proto_buf_free(&buf);
    in.error_code[0] = '\0'; /* not ok needs a code */
    assert_int_equal(proto_cancelled_encode(&in, &buf, &err), -1);
    assert_non_null(strstr(err.detail, "error_code"));
    s_fill(in.state, PROTO_STATE_MAX, 's');
    in.state[PROTO_STATE_MAX] = 's'; /* not terminated within the member */
    strcpy(in.error_code, "already_final");
    assert_int_equal(proto_cancelled_encode(&in, &buf, &err), -1);
    assert_non_null(strstr(err.detail, "state"));

    /* The generic error reply (db_unavailable, bad_request...) decodes as CANCELLED. */
    assert_int_equal(proto_error_reply_encode(6, "db_unavailable", "retry later", &buf), 0);
    assert_int_equal(proto_cancelled_decode(buf.data, buf.size, &out, &err), 0);
    assert_int_equal(out.rid, 6);
    assert_false(out.ok);
    assert_string_equal(out.error_code, "db_unavailable");
    assert_string_equal(out.state, "");
    proto_buf_free(&buf);

    /* An empty state is refused on the wire, as for SUBMITTED. */
    t_entry_t bad[6];
    memcpy(bad, s_cancelled_final_entries, sizeof bad);
    bad[4].s = "";
    buf = t_build(bad, 6, -1, -1, NULL, -1);
    assert_int_equal(proto_cancelled_decode(buf.data, buf.size, &out, &err), -1);
    assert_non_null(strstr(err.detail, "state"));
    proto_buf_free(&buf);
}

/* ================================================================ hostile bodies */

/* Every table decodes as given, and keeps decoding without each optional field. */
static void
test_tables_valid(void **state)
{
    (void)state;
    t_any_t m;
    proto_error_t err;
    for (size_t c = 0; c < N_CASES; c++) {
        const t_case_t *tc = &s_cases[c];
        proto_buf_t b = t_build(tc->entries, tc->count, -1, -1, NULL, -1);
        if (t_decode(tc->kind, b.data, b.size, &m, &err) != 0)
            fail_msg("%s: %s", tc->name, err.detail);
        proto_buf_free(&b);
        for (size_t i = 0; i < tc->count; i++) {
            if (!tc->entries[i].optional)
                continue;
            b = t_build(tc->entries, tc->count, (int)i, -1, NULL, -1);
            assert_int_equal(t_decode(tc->kind, b.data, b.size, &m, &err), 0);
            proto_buf_free(&b);
            t_entry_t nil = {.type = T_NIL};
            b = t_build(tc->entries, tc->count, -1, (int)i, &nil, -1);
            assert_int_equal(t_decode(tc->kind, b.data, b.size, &m, &err), 0);
            proto_buf_free(&b);
        }
        /* Unknown keys are ignored, even holding a container. */
        t_entry_t extra[16];
        memcpy(extra, tc->entries, tc->count * sizeof extra[0]);
        extra[tc->count] = (t_entry_t){.key = "future", .type = T_ARRAY};
        extra[tc->count + 1] = (t_entry_t){.key = "future2", .type = T_MAP};
        b = t_build(extra, tc->count + 2, -1, -1, NULL, -1);
        assert_int_equal(t_decode(tc->kind, b.data, b.size, &m, &err), 0);
        proto_buf_free(&b);
    }
}

static void
test_missing_wrong_duplicate(void **state)
{
    (void)state;
    t_any_t m;
    proto_error_t err;
    static const t_type_t types[] = {T_UINT, T_NEG, T_BOOL, T_STR, T_BIN, T_FLOAT, T_ARRAY, T_MAP};
    for (size_t c = 0; c < N_CASES; c++) {
        const t_case_t *tc = &s_cases[c];
        for (size_t i = 0; i < tc->count; i++) {
            const t_entry_t *e = &tc->entries[i];
            proto_buf_t b;
            if (!e->optional) {
                b = t_build(tc->entries, tc->count, (int)i, -1, NULL, -1);
                if (t_decode(tc->kind, b.data, b.size, &m, &err) != -1)
                    fail_msg("%s without %s decoded", tc->name, e->key);
                assert_string_equal(err.code, "bad_request");
                assert_non_null(strstr(err.detail, e->key));
                proto_buf_free(&b);
                t_entry_t nil = {.type = T_NIL};
                b = t_build(tc->entries, tc->count, -1, (int)i, &nil, -1);
                assert_int_equal(t_decode(tc->kind, b.data, b.size, &m, &err), -1);
                proto_buf_free(&b);
            }
            for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
                if (types[t] == e->type)
                    continue;
                t_entry_t wrong = {.type = types[t], .u = 1, .s = "x"};
                b = t_build(tc->entries, tc->count, -1, (int)i, &wrong, -1);
                if (t_decode(tc->kind, b.data, b.size, &m, &err) != -1)
                    fail_msg("%s with %s of type %d decoded", tc->name, e->key, (int)types[t]);
                if (strcmp(e->key, "v") == 0)
                    assert_string_equal(err.code, "unsupported_version");
                else
                    assert_non_null(strstr(err.detail, e->key));
                proto_buf_free(&b);
            }
            b = t_build(tc->entries, tc->count, -1, -1, NULL, (int)i);
            if (t_decode(tc->kind, b.data, b.size, &m, &err) != -1)
                fail_msg("%s with %s twice decoded", tc->name, e->key);
            assert_non_null(strstr(err.detail, "twice"));
            proto_buf_free(&b);
        }
    }
}

static void
test_version(void **state)
{
    (void)state;
    t_any_t m;
    proto_error_t err;
    const t_entry_t v2 = E_U("v", 2), v0 = E_U("v", 0), vs = E_S("v", "1"), vneg = {.type = T_NEG};
    const t_entry_t *bad[] = {&v2, &v0, &vs, &vneg};
    for (size_t c = 0; c < N_CASES; c++) {
        for (size_t k = 0; k < 4; k++) {
            proto_buf_t b = t_build(s_cases[c].entries, s_cases[c].count, -1, 0, bad[k], -1);
            assert_int_equal(t_decode(s_cases[c].kind, b.data, b.size, &m, &err), -1);
            assert_string_equal(err.code, "unsupported_version");
            proto_buf_free(&b);
        }
        proto_buf_t b = t_build(s_cases[c].entries, s_cases[c].count, 0, -1, NULL, -1);
        assert_int_equal(t_decode(s_cases[c].kind, b.data, b.size, &m, &err), -1);
        assert_string_equal(err.code, "bad_request");
        proto_buf_free(&b);
    }
    /* The version wins over any other fault. */
    const t_entry_t bad_id = E_S("job_id", "nope");
    proto_buf_t b = t_build(s_job_entries, 7, -1, 1, &bad_id, -1);
    assert_int_equal(proto_job_decode(b.data, b.size, &m.job, &err), -1);
    assert_string_equal(err.code, "bad_request");
    proto_buf_free(&b);
}

/* Major.minor (docs/protocol.md 3.5): a body of the same major is read whatever its minor: an
 * older one's (no v_minor, as every table here) and a newer one's (a higher v_minor and keys
 * this build does not know); another major is refused with a sentence naming both. */
static void
test_minor_versions(void **state)
{
    (void)state;
    t_any_t m;
    proto_error_t err;
    for (size_t c = 0; c < N_CASES; c++) {
        const t_case_t *tc = &s_cases[c];
        t_entry_t newer[40];
        assert_true(tc->count + 3 <= sizeof newer / sizeof newer[0]);
        memcpy(newer, tc->entries, tc->count * sizeof newer[0]);
        newer[tc->count] = (t_entry_t)E_U("v_minor", 9);
        newer[tc->count + 1] = (t_entry_t)E_S("added_in_1_9", "ignored");
        newer[tc->count + 2] = (t_entry_t)E_U("also_added", 5);
        proto_buf_t b = t_build(newer, tc->count + 3, -1, -1, NULL, -1);
        if (t_decode(tc->kind, b.data, b.size, &m, &err) != 0)
            fail_msg("%s of minor 9 refused: %s", tc->name, err.detail);
        proto_buf_free(&b);
        /* v_minor must be an unsigned integer of 32 bits. */
        const t_entry_t bad_minor[] = {
            E_S("v_minor", "1"), E_U("v_minor", 1ull << 32), {.key = "v_minor", .type = T_NEG}};
        for (size_t k = 0; k < 3; k++) {
            b = t_build(newer, tc->count + 1, -1, (int)tc->count, &bad_minor[k], -1);
            assert_int_equal(t_decode(tc->kind, b.data, b.size, &m, &err), -1);
            assert_string_equal(err.code, "bad_request");
            assert_non_null(strstr(err.detail, "v_minor"));
            proto_buf_free(&b);
        }
        /* Another major: refused, whatever the minor, saying which versions. */
        newer[0] = (t_entry_t)E_U("v", 2);
        b = t_build(newer, tc->count + 1, -1, -1, NULL, -1);
        assert_int_equal(t_decode(tc->kind, b.data, b.size, &m, &err), -1);
        assert_string_equal(err.code, "unsupported_version");
        assert_non_null(strstr(err.detail, "2.x"));
        assert_non_null(strstr(err.detail, "major"));
        proto_buf_free(&b);
    }
}

/* Decode the job table with entry `index` replaced; expect -1 naming the field. */
static void
t_job_rejects(size_t index, t_entry_t with)
{
    t_any_t m;
    proto_error_t err;
    proto_buf_t b = t_build(s_job_entries, 7, -1, (int)index, &with, -1);
    if (proto_job_decode(b.data, b.size, &m.job, &err) != -1)
        fail_msg("job with bad %s decoded", s_job_entries[index].key);
    assert_string_equal(err.code, "bad_request");
    assert_non_null(strstr(err.detail, s_job_entries[index].key));
    proto_buf_free(&b);
}

static void
test_field_values(void **state)
{
    (void)state;
    t_any_t m;
    proto_error_t err;
    char s[2048];

    /* uuid, sha256, attempt */
    t_job_rejects(1, (t_entry_t)E_S("job_id", "5B0C2B5E-3F9A-4C51-9D7E-0C7A2F7D7A10"));
    t_job_rejects(1, (t_entry_t)E_S("job_id", "5b0c2b5e3f9a4c519d7e0c7a2f7d7a10"));
    t_job_rejects(1, (t_entry_t)E_S("job_id", ""));
    t_job_rejects(2, (t_entry_t)E_U("attempt", 0));
    t_job_rejects(2, (t_entry_t)E_U("attempt", (uint64_t)UINT32_MAX + 1));
    t_job_rejects(
        5, (t_entry_t)E_S("sha256",
                          "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
    t_job_rejects(5, (t_entry_t)E_S("sha256", SHA "0"));
    t_job_rejects(5, (t_entry_t)E_S("sha256", "abc"));
    /* strings: over the limit by one, invalid UTF-8, embedded NUL */
    s_fill(s, PROTO_TITLE_MAX + 1, 't');
    t_job_rejects(3, (t_entry_t)E_S("title", s));
    s_fill(s, PROTO_FILENAME_MAX + 1, 'f');
    t_job_rejects(4, (t_entry_t)E_S("filename", s));
    t_job_rejects(3, (t_entry_t)E_S("title", "bad \xc3\x28 utf8"));
    t_job_rejects(3, (t_entry_t)E_S("title", "\xed\xa0\x80"));
    t_job_rejects(3, (t_entry_t)E_S("title", "\xc0\xaf"));
    t_job_rejects(3, (t_entry_t){.key = "title", .type = T_STR, .s = "a\0b", .slen = 3});
    /* limits reached exactly are fine */
    s_fill(s, PROTO_TITLE_MAX, 't');
    t_entry_t title = E_S("title", s);
    proto_buf_t b = t_build(s_job_entries, 7, -1, 3, &title, -1);
    assert_int_equal(proto_job_decode(b.data, b.size, &m.job, &err), 0);
    assert_int_equal(strlen(m.job.title), PROTO_TITLE_MAX);
    proto_buf_free(&b);
    /* a uint in a signed encoding is still a uint; a negative one is not */
    {
        uint8_t body[] = {0x82, 0xa1, 'v', 0xd0, 0x01, 0xa3, 'r', 'i', 'd',
                          0xd3, 0,    0,   0,    0,    0,    0,   0,   9};
        assert_int_equal(proto_ping_decode(body, sizeof body, &m.ping, &err), 0);
        assert_int_equal(m.ping.rid, 9);
        body[10] = 0xff;
        assert_int_equal(proto_ping_decode(body, sizeof body, &m.ping, &err), -1);
        assert_non_null(strstr(err.detail, "rid"));
    }

    /* progress */
    t_entry_t prog[5];
    memcpy(prog, s_progress_entries, sizeof prog);
    prog[1].u = 101;
    b = t_build(prog, 5, -1, -1, NULL, -1);
    assert_int_equal(proto_progress_decode(b.data, b.size, &m.progress, &err), -1);
    assert_non_null(strstr(err.detail, "progress"));
    proto_buf_free(&b);
    prog[1].u = 100;
    prog[4].u = (uint64_t)UINT32_MAX + 1;
    b = t_build(prog, 5, -1, -1, NULL, -1);
    assert_int_equal(proto_progress_decode(b.data, b.size, &m.progress, &err), -1);
    assert_non_null(strstr(err.detail, "pages"));
    proto_buf_free(&b);
    prog[4].u = 10;
    s_fill(s, PROTO_STAGE_MAX + 1, 's');
    prog[2].s = s;
    b = t_build(prog, 5, -1, -1, NULL, -1);
    assert_int_equal(proto_progress_decode(b.data, b.size, &m.progress, &err), -1);
    assert_non_null(strstr(err.detail, "stage"));
    proto_buf_free(&b);

    /* result: ok needs a non-empty course; not ok needs a non-empty error_code */
    t_entry_t res[4];
    memcpy(res, s_result_ok_entries, sizeof res);
    res[2] = (t_entry_t){.key = "course", .type = T_BIN, .s = ""};
    b = t_build(res, 4, -1, -1, NULL, -1);
    assert_int_equal(proto_result_decode(b.data, b.size, &m.result, &err), -1);
    proto_buf_free(&b);
    memcpy(res, s_result_fail_entries, sizeof res);
    res[2].s = "";
    b = t_build(res, 4, -1, -1, NULL, -1);
    assert_int_equal(proto_result_decode(b.data, b.size, &m.result, &err), -1);
    assert_non_null(strstr(err.detail, "error_code"));
    proto_buf_free(&b);
    s_fill(s, PROTO_CODE_MAX + 1, 'c');
    res[2].s = s;
    b = t_build(res, 4, -1, -1, NULL, -1);
    assert_int_equal(proto_result_decode(b.data, b.size, &m.result, &err), -1);
    proto_buf_free(&b);
    memcpy(res, s_result_fail_entries, sizeof res);
    s_fill(s, PROTO_ERROR_MAX + 1, 'e');
    res[3].s = s;
    b = t_build(res, 4, -1, -1, NULL, -1);
    assert_int_equal(proto_result_decode(b.data, b.size, &m.result, &err), -1);
    assert_non_null(strstr(err.detail, "error"));
    proto_buf_free(&b);
    s_fill(s, PROTO_ERROR_MAX, 'e');
    b = t_build(res, 4, -1, -1, NULL, -1);
    assert_int_equal(proto_result_decode(b.data, b.size, &m.result, &err), 0);
    assert_int_equal(strlen(m.result.error), PROTO_ERROR_MAX);
    proto_buf_free(&b);
    /* ok without course: the table drop loop covers it; state over its limit: */
    t_entry_t sub[6];
    memcpy(sub, s_submitted_ok_entries, sizeof sub);
    s_fill(s, PROTO_STATE_MAX + 1, 'q');
    sub[4].s = s;
    b = t_build(sub, 6, -1, -1, NULL, -1);
    assert_int_equal(proto_submitted_decode(b.data, b.size, &m.submitted, &err), -1);
    assert_non_null(strstr(err.detail, "state"));
    proto_buf_free(&b);
}

static void
test_structure(void **state)
{
    (void)state;
    t_any_t m;
    proto_error_t err;

    /* trailing bytes */
    proto_buf_t b = t_build(s_ping_entries, 2, -1, -1, NULL, -1);
    uint8_t *longer = malloc(b.size + 1);
    assert_non_null(longer);
    memcpy(longer, b.data, b.size);
    longer[b.size] = 0xc0;
    assert_int_equal(proto_ping_decode(b.data, b.size, &m.ping, &err), 0);
    assert_int_equal(proto_ping_decode(longer, b.size + 1, &m.ping, &err), -1);
    assert_non_null(strstr(err.detail, "trailing"));
    free(longer);
    proto_buf_free(&b);

    /* not a map, non-string key, empty */
    static const uint8_t array[] = {0x92, 0x01, 0x02};
    assert_int_equal(proto_ping_decode(array, sizeof array, &m.ping, &err), -1);
    static const uint8_t intkey[] = {0x82, 0xa1, 'v', 0x01, 0x05, 0x01};
    assert_int_equal(proto_ping_decode(intkey, sizeof intkey, &m.ping, &err), -1);
    assert_int_equal(proto_ping_decode(array, 0, &m.ping, &err), -1);
    assert_int_equal(proto_ping_decode(NULL, 0, &m.ping, &err), -1);
    static const uint8_t reserved[] = {0x82, 0xa1, 'v', 0x01, 0xa3, 'r', 'i', 'd', 0xc1};
    assert_int_equal(proto_ping_decode(reserved, sizeof reserved, &m.ping, &err), -1);
    assert_string_equal(err.code, "bad_request");

    /* nesting: depth 2 passes, depth 3 is refused before unpacking */
    static const uint8_t depth2[] = {0x83, 0xa1, 'v',  0x01, 0xa3, 'r', 'i',
                                     'd',  0x01, 0xa1, 'x',  0x91, 0x01};
    assert_int_equal(proto_ping_decode(depth2, sizeof depth2, &m.ping, &err), 0);
    static const uint8_t depth3[] = {0x83, 0xa1, 'v',  0x01, 0xa3, 'r', 'i',
                                     'd',  0x01, 0xa1, 'x',  0x91, 0x90};
    assert_int_equal(proto_ping_decode(depth3, sizeof depth3, &m.ping, &err), -1);
    assert_non_null(strstr(err.detail, "nesting"));
    uint8_t bomb[200];
    memset(bomb, 0x91, 100); /* 100 nested one-element arrays */
    bomb[100] = 0x01;
    assert_int_equal(proto_ping_decode(bomb, 101, &m.ping, &err), -1);
    memset(bomb, 0x81, 200); /* nested maps, the key of each being the next map */
    assert_int_equal(proto_ping_decode(bomb, 200, &m.ping, &err), -1);
}

static void
test_count_bombs(void **state)
{
    (void)state;
    t_any_t m;
    proto_error_t err;
    static const uint8_t bombs[][9] = {
        {0xdd, 0xff, 0xff, 0xff, 0xff},                  /* array32 of 4G elements */
        {0xdf, 0xff, 0xff, 0xff, 0xff},                  /* map32 of 4G entries */
        {0xdc, 0xff, 0xff},                              /* array16 of 65535 */
        {0xde, 0xff, 0xff},                              /* map16 of 65535 */
        {0x81, 0xa1, 'x', 0xdd, 0xff, 0xff, 0xff, 0xff}, /* nested */
        {0xc6, 0xff, 0xff, 0xff, 0xff},                  /* bin32 of 4 GiB */
        {0xdb, 0xff, 0xff, 0xff, 0xff},                  /* str32 of 4 GiB */
        {0xc9, 0xff, 0xff, 0xff, 0xff, 0x01},            /* ext32 of 4 GiB */
    };
    static const size_t sizes[] = {5, 5, 3, 3, 8, 5, 5, 6};
    double start = s_now();
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int k = 0; k < M_COUNT; k++)
            assert_int_equal(t_decode((t_msg_t)k, bombs[i], sizes[i], &m, &err), -1);
        assert_int_equal(proto_peek_rid(bombs[i], sizes[i]), 0);
    }
    /* A map16 of 65535 entries padded to 64 KiB still fails: the entries need 128 KiB. */
    uint8_t *padded = calloc(1, 65536);
    assert_non_null(padded);
    padded[0] = 0xde;
    padded[1] = 0xff;
    padded[2] = 0xff;
    assert_int_equal(proto_submit_decode(padded, 65536, &m.submit, &err), -1);
    /* An array16 of 65535 nils inside a map, with all the bytes present: the item cap. */
    padded[0] = 0x81;
    padded[1] = 0xa1;
    padded[2] = 'x';
    padded[3] = 0xdc;
    padded[4] = 0xff;
    padded[5] = 0xff;
    memset(padded + 6, 0xc0, 65530);
    assert_int_equal(proto_submit_decode(padded, 65536, &m.submit, &err), -1);
    free(padded);
    /* Generous bound: under valgrind too, a 96 GB allocation attempt would take far longer. */
    assert_true(s_now() - start < 2.0);
}

static void
test_truncations(void **state)
{
    (void)state;
    t_any_t m;
    proto_error_t err;
    for (size_t c = 0; c < N_CASES; c++) {
        proto_buf_t b = t_build(s_cases[c].entries, s_cases[c].count, -1, -1, NULL, -1);
        for (size_t n = 0; n < b.size; n++) {
            if (t_decode(s_cases[c].kind, b.data, n, &m, &err) != -1)
                fail_msg("%s truncated to %zu bytes decoded", s_cases[c].name, n);
            (void)proto_peek_rid(b.data, n);
        }
        assert_int_equal(t_decode(s_cases[c].kind, b.data, b.size, &m, &err), 0);
        proto_buf_free(&b);
    }
}

static void
test_peek_rid(void **state)
{
    (void)state;
    proto_buf_t b = t_build(s_submit_entries, 6, -1, -1, NULL, -1);
    assert_int_equal(proto_peek_rid(b.data, b.size), 7);
    proto_buf_free(&b);
    /* rid is found even when another field is invalid */
    t_entry_t bad = E_S("owner", "nope");
    b = t_build(s_submit_entries, 6, -1, 2, &bad, -1);
    assert_int_equal(proto_peek_rid(b.data, b.size), 7);
    proto_buf_free(&b);
    /* rid after a field holding a container */
    static const uint8_t after[] = {0x82, 0xa1, 'x', 0x92, 0x01, 0xa1, 'y',
                                    0xa3, 'r',  'i', 'd',  0xcd, 0x01, 0x00};
    assert_int_equal(proto_peek_rid(after, sizeof after), 256);
    static const uint8_t strrid[] = {0x81, 0xa3, 'r', 'i', 'd', 0xa1, '5'};
    assert_int_equal(proto_peek_rid(strrid, sizeof strrid), 0);
    assert_int_equal(proto_peek_rid(NULL, 0), 0);
    static const uint8_t notmap[] = {0x05};
    assert_int_equal(proto_peek_rid(notmap, 1), 0);
}

/* ================================================================ message tables */

/* A struct of any message, aligned for all of them. */
typedef union {
    t_any_t any;
    max_align_t align;
} t_struct_t;

static const uint8_t s_bin_payload[] = "binary \x00\xc1\xff payload";

static bool
t_is_str(proto_field_type_t type)
{
    return type == PROTO_FIELD_STR || type == PROTO_FIELD_UUID || type == PROTO_FIELD_SHA256;
}

/* Whether field f of msg is on the wire for outcome ok when set (encoder's view). */
static bool
t_sent(const proto_field_t *f, bool ok)
{
    switch (f->presence) {
    case PROTO_REQUIRED:
    case PROTO_OPTIONAL:
        return true; /* t_fill sets every field */
    case PROTO_WHEN_OK:
        return ok;
    case PROTO_WHEN_NOT_OK:
        return !ok;
    case PROTO_REQUIRED_WHEN_OK:
        return true;
    }
    return false;
}

/* Fill every member of a message struct with a valid value at its upper limit (the outcome
 * field with ok), straight from the descriptor. */
static void
t_fill(const proto_message_t *msg, void *m, bool ok)
{
    for (size_t i = 0; i < msg->count; i++) {
        const proto_field_t *f = &msg->fields[i];
        char *p = (char *)m + f->offset;
        if (f->type == PROTO_FIELD_UINT && f->size == sizeof(uint32_t)) {
            uint32_t u = (uint32_t)f->max;
            memcpy(p, &u, sizeof u);
        } else if (f->type == PROTO_FIELD_UINT) {
            uint64_t u = f->max;
            memcpy(p, &u, sizeof u);
        } else if (f->type == PROTO_FIELD_BOOL) {
            bool b = (int)i == msg->ok_field ? ok : true;
            memcpy(p, &b, sizeof b);
        } else if (f->type == PROTO_FIELD_UUID) {
            strcpy(p, JOB_ID);
        } else if (f->type == PROTO_FIELD_SHA256) {
            strcpy(p, SHA);
        } else if (f->type == PROTO_FIELD_STR) {
            s_fill(p, (size_t)f->max, 'a' + (char)(i % 26));
        } else {
            const uint8_t *data = s_bin_payload;
            size_t len = sizeof s_bin_payload;
            memcpy(p, &data, sizeof data);
            memcpy((char *)m + f->len_offset, &len, sizeof len);
        }
    }
}

/* Compare field i of two structs as the decoder must have written it. */
static void
t_assert_field_equal(const proto_message_t *msg, size_t i, const void *a, const void *b,
                     const proto_buf_t *buf)
{
    const proto_field_t *f = &msg->fields[i];
    const char *pa = (const char *)a + f->offset, *pb = (const char *)b + f->offset;
    if (t_is_str(f->type)) {
        if (strcmp(pa, pb) != 0)
            fail_msg("%s.%s differs", msg->name, f->key);
    } else if (f->type == PROTO_FIELD_BIN) {
        const uint8_t *da, *db;
        size_t la, lb;
        memcpy(&da, pa, sizeof da);
        memcpy(&db, pb, sizeof db);
        memcpy(&la, (const char *)a + f->len_offset, sizeof la);
        memcpy(&lb, (const char *)b + f->len_offset, sizeof lb);
        assert_int_equal(la, lb);
        assert_memory_equal(da, db, la);
        assert_true(t_within(db, lb, buf->data, buf->size)); /* borrowed from the body */
    } else if (memcmp(pa, pb, f->size) != 0) {
        fail_msg("%s.%s differs", msg->name, f->key);
    }
}

/* Every message of the table, both outcomes: a struct filled to its limits from the descriptor
 * encodes to `v` and the fields of its outcome in table order, and decodes back to equal
 * members; the typed functions and the generic codec agree byte for byte. */
static void
test_message_table_roundtrip(void **state)
{
    (void)state;
    proto_error_t err;
    assert_int_equal(M_COUNT, PROTO_MESSAGE_COUNT); /* t_msg_t follows proto_messages */
    for (size_t k = 0; k < PROTO_MESSAGE_COUNT; k++) {
        const proto_message_t *msg = proto_messages[k];
        const char *why = NULL;
        if (!proto_message_valid(msg, &why))
            fail_msg("%s: %s", msg->name, why);
        assert_true(msg->size <= sizeof(t_any_t));
        for (int outcome = 0; outcome < (msg->ok_field >= 0 ? 2 : 1); outcome++) {
            bool ok = outcome == 0;
            t_struct_t in, out;
            proto_buf_t buf = {0}, typed = {0};
            char keys[512], want[512] = T_VERSION_KEYS;

            memset(&in, 0, sizeof in);
            t_fill(msg, &in, ok);
            if (proto_message_encode(msg, &in, &buf, &err) != 0)
                fail_msg("%s ok=%d: %s", msg->name, ok, err.detail);
            for (size_t i = 0; i < msg->count; i++) {
                if (t_sent(&msg->fields[i], ok)) {
                    strcat(want, ",");
                    strcat(want, msg->fields[i].key);
                }
            }
            t_keys(&buf, keys, sizeof keys);
            assert_string_equal(keys, want);
            memset(&out, 0xa5, sizeof out);
            if (proto_message_decode(msg, buf.data, buf.size, &out, &err) != 0)
                fail_msg("%s ok=%d: %s", msg->name, ok, err.detail);
            for (size_t i = 0; i < msg->count; i++) {
                if (t_sent(&msg->fields[i], ok))
                    t_assert_field_equal(msg, i, &in, &out, &buf);
            }
            /* The typed encoder is the generic one. */
            t_any_t decoded;
            assert_int_equal(t_decode((t_msg_t)k, buf.data, buf.size, &decoded, &err), 0);
            assert_int_equal(proto_message_encode(msg, &decoded, &typed, &err), 0);
            assert_int_equal(typed.size, buf.size);
            assert_memory_equal(typed.data, buf.data, buf.size);
            proto_buf_free(&typed);
            proto_buf_free(&buf);

            /* A field over its limit is refused by the encoder, naming the field. */
            for (size_t i = 0; i < msg->count; i++) {
                const proto_field_t *f = &msg->fields[i];
                t_struct_t bad = in;
                char *p = (char *)&bad + f->offset;
                if (!t_sent(f, ok) || f->type == PROTO_FIELD_BOOL)
                    continue;
                if (f->type == PROTO_FIELD_UINT) {
                    if (f->max == UINT64_MAX || (f->size == 4 && f->max == UINT32_MAX))
                        continue;
                    uint64_t over = f->max + 1;
                    if (f->size == 4) {
                        uint32_t u = (uint32_t)over;
                        memcpy(p, &u, sizeof u);
                    } else {
                        memcpy(p, &over, sizeof over);
                    }
                } else if (t_is_str(f->type)) {
                    memset(p, 'a', (size_t)f->max + 1); /* no NUL within max + 1 bytes */
                } else {
                    size_t len = (size_t)f->max + 1; /* checked before the bytes are read */
                    memcpy((char *)&bad + f->len_offset, &len, sizeof len);
                }
                assert_int_equal(proto_message_encode(msg, &bad, &buf, &err), -1);
                assert_string_equal(err.code, "bad_request");
                assert_int_equal(err.id, PROFAI_ERR_BAD_REQUEST);
                if (strstr(err.detail, f->key) == NULL)
                    fail_msg("%s.%s over its limit: %s", msg->name, f->key, err.detail);
                assert_null(buf.data);
            }
        }
    }
    /* Golden bytes: the wire form does not depend on the codec's shape. */
    static const uint8_t ping[] = {
#if PROTO_VERSION_MINOR > 0
        0x83,
        0xa1,
        'v',
        0x01,
        0xa7,
        'v',
        '_',
        'm',
        'i',
        'n',
        'o',
        'r',
        PROTO_VERSION_MINOR,
#else
        0x82,
        0xa1,
        'v',
        0x01,
#endif
        0xa3,
        'r',
        'i',
        'd',
        0x63
    };
    proto_ping_t p = {.rid = 99};
    proto_buf_t buf = {0};
    assert_int_equal(proto_ping_encode(&p, &buf, &err), 0);
    assert_int_equal(buf.size, sizeof ping);
    assert_memory_equal(buf.data, ping, sizeof ping);
    proto_buf_free(&buf);
}

/* A message that is not part of the protocol, defined here as the header says a new one is:
 * a struct and a table. Every field type and every presence. */
typedef struct {
    uint64_t rid;
    bool ok;
    uint32_t count;
    char name[9];
    char id[PROTO_UUID_LEN + 1];
    char hash[PROTO_SHA256_LEN + 1];
    const uint8_t *blob;
    size_t blob_len;
    char reason[17];
    char note[33];
    uint32_t extra;
} t_new_t;

static const proto_field_t s_new_fields[] = {
    PROTO_F_UINT(t_new_t, rid, "rid", PROTO_REQUIRED, 0, UINT64_MAX),
    PROTO_F_BOOL(t_new_t, ok, "ok", PROTO_REQUIRED),
    PROTO_F_UINT(t_new_t, count, "count", PROTO_REQUIRED, 2, 10),
    PROTO_F_STR(t_new_t, name, "name", PROTO_REQUIRED_WHEN_OK, 1, 8),
    PROTO_F_UUID(t_new_t, id, "id", PROTO_WHEN_OK),
    PROTO_F_SHA256(t_new_t, hash, "hash", PROTO_OPTIONAL),
    PROTO_F_BIN(t_new_t, blob, blob_len, "blob", PROTO_WHEN_OK, 1, 64),
    PROTO_F_STR(t_new_t, reason, "reason", PROTO_WHEN_NOT_OK, 1, 16),
    PROTO_F_STR(t_new_t, note, "note", PROTO_OPTIONAL, 0, 32),
    PROTO_F_UINT(t_new_t, extra, "extra", PROTO_OPTIONAL, 0, UINT32_MAX),
};
static const proto_message_t s_new = PROTO_MESSAGE("NEW", t_new_t, s_new_fields, 1);

static void
test_message_new(void **state)
{
    (void)state;
    static const uint8_t blob[] = {1, 2, 3};
    t_new_t in = {.rid = 5, .ok = true, .count = 3, .blob = blob, .blob_len = 3}, out;
    proto_buf_t buf = {0};
    proto_error_t err;
    char keys[256];
    const char *why = NULL;

    assert_true(proto_message_valid(&s_new, &why));
    strcpy(in.name, "abc");
    strcpy(in.id, JOB_ID);
    strcpy(in.reason, "not sent when ok");
    assert_int_equal(proto_message_encode(&s_new, &in, &buf, &err), 0);
    t_keys(&buf, keys, sizeof keys);
    assert_string_equal(keys, T_V "rid,ok,count,name,id,blob"); /* empty optionals left out */
    assert_int_equal(proto_message_decode(&s_new, buf.data, buf.size, &out, &err), 0);
    assert_int_equal(out.rid, 5);
    assert_true(out.ok);
    assert_int_equal(out.count, 3);
    assert_string_equal(out.name, "abc");
    assert_string_equal(out.id, JOB_ID);
    assert_string_equal(out.hash, "");
    assert_int_equal(out.blob_len, 3);
    assert_memory_equal(out.blob, blob, 3);
    assert_string_equal(out.reason, "");
    proto_buf_free(&buf);

    /* Not ok: the WHEN_OK fields are neither sent nor decoded, the optional name still is. */
    in.ok = false;
    strcpy(in.hash, SHA);
    in.extra = 9;
    assert_int_equal(proto_message_encode(&s_new, &in, &buf, &err), 0);
    t_keys(&buf, keys, sizeof keys);
    assert_string_equal(keys, T_V "rid,ok,count,name,hash,reason,extra");
    assert_int_equal(proto_message_decode(&s_new, buf.data, buf.size, &out, &err), 0);
    assert_false(out.ok);
    assert_string_equal(out.id, "");
    assert_null(out.blob);
    assert_string_equal(out.reason, "not sent when ok");
    assert_string_equal(out.name, "abc");
    assert_int_equal(out.extra, 9);
    proto_buf_free(&buf);
    in.reason[0] = '\0';
    assert_int_equal(proto_message_encode(&s_new, &in, &buf, &err), -1);
    assert_non_null(strstr(err.detail, "reason"));
    strcpy(in.reason, "r");
    in.count = 1;
    assert_int_equal(proto_message_encode(&s_new, &in, &buf, &err), -1);
    assert_non_null(strstr(err.detail, "count"));
    in.count = 2;

    /* A decoder that fails leaves the struct zeroed. */
    static const uint8_t v2[] = {0x81, 0xa1, 'v', 0x02};
    memset(&out, 0xa5, sizeof out);
    assert_int_equal(proto_message_decode(&s_new, v2, sizeof v2, &out, &err), -1);
    assert_string_equal(err.code, "unsupported_version");
    assert_int_equal(err.id, PROFAI_ERR_UNSUPPORTED_VERSION);
    assert_int_equal(out.rid, 0);
    assert_false(out.ok);
    assert_null(out.blob);

    /* Malformed descriptors are refused, by the check and by the codec. */
    proto_field_t bad[sizeof s_new_fields / sizeof s_new_fields[0]];
    proto_message_t msg = s_new;
    msg.fields = bad;
    for (int fault = 0; fault < 8; fault++) {
        memcpy(bad, s_new_fields, sizeof bad);
        msg.ok_field = 1;
        msg.count = sizeof bad / sizeof bad[0];
        switch (fault) {
        case 0:
            bad[3].key = "rid"; /* duplicate key */
            break;
        case 1:
            bad[3].key = "v";
            break;
        case 2:
            bad[3].max = 9; /* name[9] cannot hold 9 bytes and a NUL */
            break;
        case 3:
            bad[2].max = UINT64_MAX; /* count is 32 bits */
            break;
        case 4:
            msg.ok_field = 0; /* rid is not a bool */
            break;
        case 5:
            msg.ok_field = -1; /* conditional fields without an outcome */
            break;
        case 6:
            msg.count = PROTO_FIELDS_MAX + 1;
            break;
        case 7:
            bad[2].min = 11; /* min over max */
            break;
        }
        why = NULL;
        assert_false(proto_message_valid(&msg, &why));
        assert_non_null(why);
        assert_int_equal(proto_message_encode(&msg, &in, &buf, &err), -1);
        assert_string_equal(err.code, "internal");
        assert_int_equal(proto_message_decode(&msg, v2, sizeof v2, &out, &err), -1);
        assert_int_equal(err.id, PROFAI_ERR_INTERNAL);
    }
    assert_false(proto_message_valid(NULL, NULL));
}

/* ================================================================ mutation loop */

static uint64_t s_rng = 0x9e3779b97f4a7c15ull;

static uint32_t
s_rand(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return (uint32_t)(s_rng >> 11);
}

static void
t_assert_str(const char *s, size_t size, size_t max)
{
    size_t n = strnlen(s, size);
    assert_true(n < size);
    assert_true(n <= max);
    assert_true(proto_is_utf8(s, n));
}

/* A body that decoded must hold only in-limit fields pointing into the input. */
static void
t_assert_sane(t_msg_t kind, const t_any_t *m, const uint8_t *data, size_t len)
{
    switch (kind) {
    case M_JOB:
        assert_true(proto_is_uuid(m->job.job_id, strlen(m->job.job_id)));
        assert_true(m->job.attempt >= 1);
        t_assert_str(m->job.title, sizeof m->job.title, PROTO_TITLE_MAX);
        t_assert_str(m->job.filename, sizeof m->job.filename, PROTO_FILENAME_MAX);
        assert_true(proto_is_sha256(m->job.sha256, strlen(m->job.sha256)));
        assert_true(m->job.pdf_len <= PROTO_PDF_MAX);
        assert_true(t_within(m->job.pdf, m->job.pdf_len, data, len));
        break;
    case M_PROGRESS:
        assert_true(m->progress.progress <= 100);
        t_assert_str(m->progress.stage, sizeof m->progress.stage, PROTO_STAGE_MAX);
        break;
    case M_RESULT:
        if (m->result.ok) {
            assert_true(m->result.course_len >= 1 && m->result.course_len <= PROTO_COURSE_MAX);
            assert_true(t_within(m->result.course, m->result.course_len, data, len));
        } else {
            assert_true(m->result.error_code[0] != '\0');
        }
        t_assert_str(m->result.error_code, sizeof m->result.error_code, PROTO_CODE_MAX);
        t_assert_str(m->result.error, sizeof m->result.error, PROTO_ERROR_MAX);
        break;
    case M_SUBMIT:
        assert_true(proto_is_uuid(m->submit.owner, strlen(m->submit.owner)));
        t_assert_str(m->submit.title, sizeof m->submit.title, PROTO_TITLE_MAX);
        t_assert_str(m->submit.filename, sizeof m->submit.filename, PROTO_FILENAME_MAX);
        assert_true(proto_is_sha256(m->submit.sha256, strlen(m->submit.sha256)));
        break;
    case M_SUBMITTED:
        if (m->submitted.ok) {
            assert_true(proto_is_uuid(m->submitted.job_id, strlen(m->submitted.job_id)));
            assert_true(m->submitted.state[0] != '\0');
        } else {
            assert_true(m->submitted.error_code[0] != '\0');
        }
        t_assert_str(m->submitted.state, sizeof m->submitted.state, PROTO_STATE_MAX);
        t_assert_str(m->submitted.error_code, sizeof m->submitted.error_code, PROTO_CODE_MAX);
        t_assert_str(m->submitted.error, sizeof m->submitted.error, PROTO_ERROR_MAX);
        break;
    case M_CANCEL:
        assert_true(proto_is_uuid(m->cancel.owner, strlen(m->cancel.owner)));
        assert_true(proto_is_uuid(m->cancel.job_id, strlen(m->cancel.job_id)));
        break;
    case M_CANCELLED:
        if (m->cancelled.ok)
            assert_true(m->cancelled.state[0] != '\0' && m->cancelled.error_code[0] == '\0');
        else
            assert_true(m->cancelled.error_code[0] != '\0');
        t_assert_str(m->cancelled.state, sizeof m->cancelled.state, PROTO_STATE_MAX);
        t_assert_str(m->cancelled.error_code, sizeof m->cancelled.error_code, PROTO_CODE_MAX);
        t_assert_str(m->cancelled.error, sizeof m->cancelled.error, PROTO_ERROR_MAX);
        break;
    default:
        break;
    }
}

static void
test_mutations(void **state)
{
    (void)state;
    proto_buf_t valid[N_CASES];
    uint8_t *work = malloc(4096);
    t_any_t m;
    proto_error_t err;
    size_t decoded = 0;
    static const uint8_t specials[] = {0xc1, 0xdd, 0xdf, 0xdc, 0xde, 0xc6, 0xdb, 0xff,
                                       0x00, 0xc0, 0x91, 0x81, 0x7f, 0xcf, 0xd3};

    assert_non_null(work);
    for (size_t c = 0; c < N_CASES; c++) {
        valid[c] = t_build(s_cases[c].entries, s_cases[c].count, -1, -1, NULL, -1);
        assert_true(valid[c].size < 2048);
    }
    for (int iter = 0; iter < 20000; iter++) {
        const t_case_t *tc = &s_cases[s_rand() % N_CASES];
        const proto_buf_t *v = &valid[tc - s_cases];
        size_t len = v->size;
        memcpy(work, v->data, len);
        int edits = 1 + (int)(s_rand() % 4);
        for (int e = 0; e < edits; e++) {
            switch (s_rand() % 5) {
            case 0: /* flip a bit */
                work[s_rand() % len] ^= (uint8_t)(1u << (s_rand() % 8));
                break;
            case 1: /* random byte */
                work[s_rand() % len] = (uint8_t)s_rand();
                break;
            case 2: /* a byte msgpack treats specially */
                work[s_rand() % len] = specials[s_rand() % sizeof specials];
                break;
            case 3: /* truncate */
                if (len > 1)
                    len = 1 + s_rand() % (len - 1);
                break;
            case 4: /* insert a byte */
                if (len < 4000) {
                    size_t at = s_rand() % (len + 1);
                    memmove(work + at + 1, work + at, len - at);
                    work[at] = (uint8_t)s_rand();
                    len++;
                }
                break;
            }
        }
        (void)proto_peek_rid(work, len);
        /* Every decoder must cope with every body, not only its own. */
        for (int k = 0; k < M_COUNT; k++) {
            memset(&m, 0xa5, sizeof m);
            if (t_decode((t_msg_t)k, work, len, &m, &err) == 0) {
                t_assert_sane((t_msg_t)k, &m, work, len);
                decoded++;
            } else {
                assert_true(strnlen(err.code, sizeof err.code) < sizeof err.code);
                assert_true(strnlen(err.detail, sizeof err.detail) < sizeof err.detail);
            }
        }
    }
    /* The mutations must leave some bodies valid, or the loop tests only the pre-scan. */
    assert_true(decoded > 100);
    for (size_t c = 0; c < N_CASES; c++)
        proto_buf_free(&valid[c]);
    free(work);
}

/* ================================================================ framing */

static zmsg_t *
t_msg(int n, const char *const *frames, const size_t *sizes)
{
    zmsg_t *msg = zmsg_new();
    for (int i = 0; i < n; i++)
        assert_int_equal(zmsg_addmem(msg, frames[i], sizes[i]), 0);
    return msg;
}

static void
t_expect_worker_fail(zmsg_t *msg, size_t body_max)
{
    mdpw_view_t view;
    proto_error_t err;
    assert_int_equal(mdpw_parse(msg, body_max, &view, &err), -1);
    assert_string_equal(err.code, "bad_request");
    assert_true(err.detail[0] != '\0');
    zmsg_destroy(&msg);
}

static void
t_expect_client_fail(zmsg_t *msg, size_t body_max)
{
    mdpc_view_t view;
    proto_error_t err;
    assert_int_equal(mdpc_parse(msg, body_max, &view, &err), -1);
    assert_true(err.detail[0] != '\0');
    zmsg_destroy(&msg);
}

static void
test_worker_frames(void **state)
{
    (void)state;
    mdpw_view_t view;
    proto_error_t err;
    char address[PROTO_ADDRESS_MAX + 2];
    static const uint8_t body[] = {0x81, 0xa1, 'v', 0x01};

    zmsg_t *msg = mdpw_build_ready(PROTO_SERVICE_COURSE);
    assert_non_null(msg);
    assert_int_equal(zmsg_size(msg), 3);
    assert_int_equal(mdp_kind(msg), 'W');
    assert_int_equal(mdpw_parse(msg, PROTO_CONTROL_BODY_MAX, &view, &err), 0);
    assert_int_equal(view.command, MDPW_READY);
    assert_string_equal(view.service, PROTO_SERVICE_COURSE);
    assert_null(view.body);
    zmsg_destroy(&msg);

    msg = mdpw_build_heartbeat();
    assert_int_equal(mdpw_parse(msg, 1, &view, &err), 0);
    assert_int_equal(view.command, MDPW_HEARTBEAT);
    zmsg_destroy(&msg);
    msg = mdpw_build_disconnect();
    assert_int_equal(mdpw_parse(msg, 1, &view, &err), 0);
    assert_int_equal(view.command, MDPW_DISCONNECT);
    zmsg_destroy(&msg);

    static const mdpw_command_t cmds[] = {MDPW_REQUEST, MDPW_PARTIAL, MDPW_FINAL};
    s_fill(address, PROTO_ADDRESS_MAX, 'a');
    for (size_t i = 0; i < 3; i++) {
        msg = mdpw_build_job_message(cmds[i], address, PROTO_ADDRESS_MAX, body, sizeof body);
        assert_non_null(msg);
        assert_int_equal(zmsg_size(msg), 5);
        assert_int_equal(mdpw_parse(msg, sizeof body, &view, &err), 0);
        assert_int_equal(view.command, cmds[i]);
        assert_int_equal(view.address_len, PROTO_ADDRESS_MAX);
        assert_memory_equal(view.address, address, PROTO_ADDRESS_MAX);
        assert_int_equal(view.body_len, sizeof body);
        assert_memory_equal(view.body, body, sizeof body);
        zframe_t *last = zmsg_last(msg);
        assert_ptr_equal(view.body, zframe_data(last)); /* borrowed from the message */
        zmsg_destroy(&msg);
        /* the body over body_max */
        msg = mdpw_build_job_message(cmds[i], address, 1, body, sizeof body);
        t_expect_worker_fail(msg, sizeof body - 1);
    }

    /* builders refuse bad arguments */
    assert_null(mdpw_build_ready("Course"));
    assert_null(mdpw_build_ready(""));
    assert_null(mdpw_build_ready(NULL));
    assert_null(mdpw_build_ready("abcdefghijklmnopqrstuvwxyz0123456")); /* 33 */
    assert_null(mdpw_build_job_message(MDPW_READY, "a", 1, body, 1));
    assert_null(mdpw_build_job_message(MDPW_HEARTBEAT, "a", 1, body, 1));
    assert_null(mdpw_build_job_message(MDPW_REQUEST, address, PROTO_ADDRESS_MAX + 1, body, 1));
    assert_null(mdpw_build_job_message(MDPW_REQUEST, address, 0, body, 1));
    assert_null(mdpw_build_job_message(MDPW_REQUEST, NULL, 1, body, 1));
    assert_null(mdpw_build_job_message(MDPW_REQUEST, "a", 1, body, 0));
    assert_null(mdpw_build_job_message(MDPW_REQUEST, "a", 1, NULL, 1));

    /* hand-made bad messages */
    static const char *const ready[] = {"MDPW02", "\x01", "course.build", "extra"};
    static const size_t ready_sizes[] = {6, 1, 12, 5};
    msg = t_msg(3, ready, ready_sizes);
    assert_int_equal(mdpw_parse(msg, 10, &view, &err), 0);
    zmsg_destroy(&msg);
    t_expect_worker_fail(t_msg(4, ready, ready_sizes), 10); /* too many frames */
    t_expect_worker_fail(t_msg(2, ready, ready_sizes), 10); /* too few */
    t_expect_worker_fail(t_msg(1, ready, ready_sizes), 10);
    t_expect_worker_fail(zmsg_new(), 10);

    static const char *const bad_header[] = {"MDPW01", "\x01", "course.build"};
    t_expect_worker_fail(t_msg(3, bad_header, ready_sizes), 10);
    static const char *const client_header[] = {"MDPC02", "\x01", "course.build"};
    t_expect_worker_fail(t_msg(3, client_header, ready_sizes), 10);
    static const size_t long_header[] = {7, 1, 12};
    static const char *const header7[] = {"MDPW02\0", "\x01", "course.build"};
    t_expect_worker_fail(t_msg(3, header7, long_header), 10);
    static const char *const bad_service[] = {"MDPW02", "\x01", "Course.Build"};
    t_expect_worker_fail(t_msg(3, bad_service, ready_sizes), 10);
    static const size_t empty_service[] = {6, 1, 0};
    t_expect_worker_fail(t_msg(3, ready, empty_service), 10);

    static const char *const cmd[] = {"MDPW02", "\x00", "x"};
    static const size_t cmd_sizes[] = {6, 1, 1};
    t_expect_worker_fail(t_msg(2, cmd, cmd_sizes), 10); /* command 0 */
    static const char *const cmd7[] = {"MDPW02", "\x07"};
    t_expect_worker_fail(t_msg(2, cmd7, cmd_sizes), 10); /* command 7 */
    static const char *const cmd2byte[] = {"MDPW02", "\x05\x00"};
    static const size_t cmd2_sizes[] = {6, 2};
    t_expect_worker_fail(t_msg(2, cmd2byte, cmd2_sizes), 10); /* multi-byte command */
    static const size_t cmd0_sizes[] = {6, 0};
    t_expect_worker_fail(t_msg(2, cmd2byte, cmd0_sizes), 10); /* empty command */
    static const char *const hb_extra[] = {"MDPW02", "\x05", ""};
    static const size_t hb_sizes[] = {6, 1, 0};
    t_expect_worker_fail(t_msg(3, hb_extra, hb_sizes), 10);

    static const char *const req[] = {"MDPW02", "\x02", "token", "", "b", "b"};
    static const size_t req_sizes[] = {6, 1, 5, 0, 1, 1};
    msg = t_msg(5, req, req_sizes);
    assert_int_equal(mdpw_parse(msg, 1, &view, &err), 0);
    zmsg_destroy(&msg);
    t_expect_worker_fail(t_msg(6, req, req_sizes), 10); /* two bodies */
    t_expect_worker_fail(t_msg(4, req, req_sizes), 10); /* no body */
    static const size_t nonempty_delim[] = {6, 1, 5, 1, 1};
    static const char *const req_delim[] = {"MDPW02", "\x02", "token", "x", "b"};
    t_expect_worker_fail(t_msg(5, req_delim, nonempty_delim), 10);
    static const size_t no_address[] = {6, 1, 0, 0, 1};
    t_expect_worker_fail(t_msg(5, req, no_address), 10);
    static const size_t empty_body[] = {6, 1, 5, 0, 0};
    t_expect_worker_fail(t_msg(5, req, empty_body), 10);
    const char *const long_addr[] = {"MDPW02", "\x04", address, "", "b"};
    static const size_t long_addr_sizes[] = {6, 1, PROTO_ADDRESS_MAX + 1, 0, 1};
    s_fill(address, PROTO_ADDRESS_MAX + 1, 'a');
    t_expect_worker_fail(t_msg(5, long_addr, long_addr_sizes), 10);

    /* mdp_kind */
    msg = zmsg_new();
    assert_int_equal(mdp_kind(msg), 0);
    zmsg_addstr(msg, "MDPX02");
    assert_int_equal(mdp_kind(msg), 0);
    zmsg_destroy(&msg);
    assert_int_equal(mdp_kind(NULL), 0);
}

static void
test_client_frames(void **state)
{
    (void)state;
    mdpc_view_t view;
    proto_error_t err;
    static const uint8_t body[] = {0x82, 0xa1, 'v', 0x01, 0xa3, 'r', 'i', 'd', 0x01};
    static const mdpc_command_t cmds[] = {MDPC_REQUEST, MDPC_PARTIAL, MDPC_FINAL};

    for (size_t i = 0; i < 3; i++) {
        zmsg_t *msg = mdpc_build(cmds[i], PROTO_SERVICE_SUBMIT, body, sizeof body);
        assert_non_null(msg);
        assert_int_equal(zmsg_size(msg), 4);
        assert_int_equal(mdp_kind(msg), 'C');
        assert_int_equal(mdpc_parse(msg, PROTO_CONTROL_BODY_MAX, &view, &err), 0);
        assert_int_equal(view.command, cmds[i]);
        assert_string_equal(view.service, PROTO_SERVICE_SUBMIT);
        assert_int_equal(view.body_len, sizeof body);
        assert_ptr_equal(view.body, zframe_data(zmsg_last(msg)));
        zmsg_destroy(&msg);
    }
    /* the biggest control body */
    uint8_t *big = calloc(1, PROTO_CONTROL_BODY_MAX + 1);
    assert_non_null(big);
    zmsg_t *msg = mdpc_build(MDPC_FINAL, PROTO_SERVICE_PING, big, PROTO_CONTROL_BODY_MAX);
    assert_non_null(msg);
    assert_int_equal(mdpc_parse(msg, PROTO_CONTROL_BODY_MAX, &view, &err), 0);
    assert_int_equal(view.body_len, PROTO_CONTROL_BODY_MAX);
    zmsg_destroy(&msg);
    assert_null(mdpc_build(MDPC_FINAL, PROTO_SERVICE_PING, big, PROTO_CONTROL_BODY_MAX + 1));
    free(big);
    assert_null(mdpc_build((mdpc_command_t)0, PROTO_SERVICE_PING, body, 1));
    assert_null(mdpc_build((mdpc_command_t)4, PROTO_SERVICE_PING, body, 1));
    assert_null(mdpc_build(MDPC_REQUEST, "Bad", body, 1));
    assert_null(mdpc_build(MDPC_REQUEST, PROTO_SERVICE_PING, body, 0));
    assert_null(mdpc_build(MDPC_REQUEST, PROTO_SERVICE_PING, NULL, 1));

    static const char *const ok[] = {"MDPC02", "\x01", "job.submit", "b", "b"};
    static const size_t sizes[] = {6, 1, 10, 1, 1};
    msg = t_msg(4, ok, sizes);
    assert_int_equal(mdpc_parse(msg, 1, &view, &err), 0);
    zmsg_destroy(&msg);
    t_expect_client_fail(t_msg(4, ok, sizes), 0);  /* body over body_max */
    t_expect_client_fail(t_msg(5, ok, sizes), 10); /* too many frames */
    t_expect_client_fail(t_msg(3, ok, sizes), 10); /* too few */
    t_expect_client_fail(zmsg_new(), 10);
    static const char *const worker[] = {"MDPW02", "\x01", "job.submit", "b"};
    t_expect_client_fail(t_msg(4, worker, sizes), 10);
    static const char *const cmd4[] = {"MDPC02", "\x04", "job.submit", "b"};
    t_expect_client_fail(t_msg(4, cmd4, sizes), 10);
    static const char *const cmd0[] = {"MDPC02", "\x00", "job.submit", "b"};
    t_expect_client_fail(t_msg(4, cmd0, sizes), 10);
    static const char *const cmd2[] = {"MDPC02", "\x01\x01", "job.submit", "b"};
    static const size_t cmd2_sizes[] = {6, 2, 10, 1};
    t_expect_client_fail(t_msg(4, cmd2, cmd2_sizes), 10);
    static const char *const badsvc[] = {"MDPC02", "\x01", "job submit", "b"};
    t_expect_client_fail(t_msg(4, badsvc, sizes), 10);
    static const size_t nobody[] = {6, 1, 10, 0};
    t_expect_client_fail(t_msg(4, ok, nobody), 10);
    static const char *const longsvc[] = {"MDPC02", "\x01", "abcdefghijklmnopqrstuvwxyz0123456",
                                          "b"};
    static const size_t longsvc_sizes[] = {6, 1, 33, 1};
    t_expect_client_fail(t_msg(4, longsvc, longsvc_sizes), 10);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validators),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_job_roundtrip),
        cmocka_unit_test(test_progress_roundtrip),
        cmocka_unit_test(test_result_roundtrip),
        cmocka_unit_test(test_submit_roundtrip),
        cmocka_unit_test(test_submitted_roundtrip),
        cmocka_unit_test(test_ping_pong_roundtrip),
        cmocka_unit_test(test_cancel_roundtrip),
        cmocka_unit_test(test_cancelled_roundtrip),
        cmocka_unit_test(test_tables_valid),
        cmocka_unit_test(test_missing_wrong_duplicate),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_minor_versions),
        cmocka_unit_test(test_field_values),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_count_bombs),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_peek_rid),
        cmocka_unit_test(test_message_table_roundtrip),
        cmocka_unit_test(test_message_new),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_worker_frames),
        cmocka_unit_test(test_client_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
