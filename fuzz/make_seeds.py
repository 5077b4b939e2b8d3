"""make_seeds.py - write the seed corpora and dictionaries of the fuzz targets (docs/fuzzing.md).

Usage: python3 fuzz/make_seeds.py [FUZZ_DIR]    (FUZZ_DIR defaults to this file's directory)

Writes FUZZ_DIR/corpus/<target>/<name> (a few dozen files of at most a few KiB) and
FUZZ_DIR/dict/<target>.dict. Bodies are packed with the msgpack module, not with our codec, so
the seeds also hold encodings the codec never produces (signed integers, str8 for short
strings, nil optionals, unknown keys). Deterministic: running it twice gives the same files.
"""

import os
import shutil
import struct
import sys

import msgpack

JOB_ID = "5b0c2b5e-3f9a-4c51-9d7e-0c7a2f7d7a10"
OWNER = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
COURSE = (
    b'{"title":"Physique","source":{"filename":"p.pdf","sha256":"' + SHA.encode() +
    b'","pages":2,"pdf_title":null,"author":null},"structure":"pages","modules":[]}'
)
TOKEN = JOB_ID + "/1"

# Selector bytes of fuzz_bodies.c.
JOB, PROGRESS, RESULT, SUBMIT, SUBMITTED, PING, PONG, ERROR_REPLY = range(8)
CANCEL, CANCELLED, FETCH, CHUNK = 0x10, 0x11, 0x12, 0x13


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def map_of(pairs):
    """A map from already-packed keys and values: allows duplicate keys and odd encodings."""
    n = len(pairs)
    head = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
    return head + b"".join(k + v for k, v in pairs)


def str8(s):
    """A short string in the str8 encoding (0xd9) where msgpack would use fixstr."""
    b = s.encode()
    return b"\xd9" + bytes([len(b)]) + b


def int32(n):
    """A non-negative integer in the signed int32 encoding (0xd2)."""
    return b"\xd2" + struct.pack(">i", n)


def job(**over):
    m = {"v": 1, "job_id": JOB_ID, "attempt": 1, "title": "Introduction à la physique",
         "filename": "physique.pdf", "sha256": SHA, "pdf": PDF}
    m.update(over)
    return m


def body_seeds():
    seeds = {
        "job": (JOB, pack(job())),
        "job-empty-strings": (JOB, pack(job(title="", filename="", pdf=b""))),
        "job-attempt-max": (JOB, pack(job(attempt=2**32 - 1))),
        "job-attempt-zero": (JOB, pack(job(attempt=0))),
        "job-unknown-keys": (JOB, pack(dict(job(), extra=[1, "x", None], more={"a": 1}))),
        "job-v2": (JOB, pack(job(v=2))),
        "job-no-v": (JOB, pack({k: v for k, v in job().items() if k != "v"})),
        "job-odd-encodings": (JOB, map_of([
            (str8("v"), int32(1)), (pack("job_id"), str8(JOB_ID)), (pack("attempt"), int32(3)),
            (pack("title"), str8("T")), (pack("filename"), pack("f.pdf")),
            (pack("sha256"), pack(SHA)), (pack("pdf"), b"\xc5\x00\x03abc")])),
        "job-duplicate-key": (JOB, map_of([(pack(k), pack(v)) for k, v in job().items()] +
                                          [(pack("title"), pack("again"))])),
        # Every string at its limit: one mutation away from one byte over.
        "job-at-limits": (JOB, pack(job(title="t" * 200, filename="é" * 127 + "f"))),
        "progress-at-limits": (PROGRESS, pack({"v": 1, "progress": 100, "stage": "s" * 32,
                                               "page": 2**32 - 1, "pages": 2**32 - 1})),
        "result-at-limits": (RESULT, pack({"v": 1, "ok": False, "error_code": "c" * 32,
                                           "error": "e" * 1024})),
        "submitted-at-limits": (SUBMITTED, pack({"v": 1, "rid": 1, "ok": True,
                                                 "job_id": JOB_ID, "state": "s" * 16,
                                                 "error": "€" * 341 + "e"})),
        "progress": (PROGRESS, pack({"v": 1, "progress": 40, "stage": "text", "page": 4,
                                     "pages": 10})),
        "progress-minimal": (PROGRESS, pack({"v": 1, "progress": 0, "stage": "starting"})),
        "progress-nil-optionals": (PROGRESS, pack({"v": 1, "progress": 100, "stage": "building",
                                                   "page": None, "pages": None})),
        "progress-over-100": (PROGRESS, pack({"v": 1, "progress": 101, "stage": "text"})),
        "result-ok": (RESULT, pack({"v": 1, "ok": True, "course": COURSE})),
        "result-error": (RESULT, pack({"v": 1, "ok": False, "error_code": "encrypted",
                                       "error": "Ce PDF demande un mot de passe."})),
        "result-ok-with-code": (RESULT, pack({"v": 1, "ok": True, "course": b"{}",
                                              "error_code": "x", "error": ""})),
        "submit": (SUBMIT, pack({"v": 1, "rid": 7, "owner": OWNER, "title": "Cours",
                                 "filename": "cours.pdf", "sha256": SHA})),
        "submit-rid-max": (SUBMIT, pack({"v": 1, "rid": 2**64 - 1, "owner": OWNER, "title": "",
                                         "filename": "", "sha256": SHA})),
        "submitted-ok": (SUBMITTED, pack({"v": 1, "rid": 7, "ok": True, "job_id": JOB_ID,
                                          "state": "queued"})),
        "submitted-error": (SUBMITTED, pack({"v": 1, "rid": 9, "ok": False,
                                             "error_code": "unknown_blob",
                                             "error": "no such PDF"})),
        "ping": (PING, pack({"v": 1, "rid": 1})),
        "ping-rid-last": (PING, pack({"x": [1, 2], "v": 1, "rid": 300})),
        "pong": (PONG, pack({"v": 1, "rid": 1, "ok": True, "db": True, "workers": 2,
                             "queued": 5, "running": 2})),
        "count-bomb-map": (SUBMIT, b"\xdf\xff\xff\xff\xff"),
        "count-bomb-array": (PING, b"\x81\xa1v\xdd\xff\xff\xff\xff"),
        "items-at-budget": (PING, pack({"v": 1, "rid": 1, "x": [None] * 4090})),
        "items-over-budget": (PING, pack({"v": 1, "rid": 1, "x": [None] * 4091})),
        "nesting": (PING, pack({"v": 1, "rid": 1, "x": [[1]]})),
        "trailing-byte": (PING, pack({"v": 1, "rid": 1}) + b"\xc0"),
        "not-a-map": (PONG, pack([1, 2, 3])),
        "cancel": (CANCEL, pack({"v": 1, "rid": 12, "owner": OWNER, "job_id": JOB_ID})),
        "cancel-upper-job": (CANCEL, pack({"v": 1, "rid": 12, "owner": OWNER,
                                           "job_id": JOB_ID.upper()})),
        "job-by-reference": (JOB, pack({"v": 1, "v_minor": 2, "job_id": JOB_ID, "attempt": 1,
                                        "title": "t", "filename": "f.pdf", "sha256": SHA,
                                        "pdf": b"", "pdf_size": 33554432,
                                        "pdf_endpoint": "tcp://127.0.0.1:5556"})),
        "fetch": (FETCH, pack({"v": 1, "v_minor": 2, "token": TOKEN + "/" + "a" * 32,
                               "offset": 1048576, "size": 1048576})),
        "chunk-ok": (CHUNK, pack({"v": 1, "ok": True, "offset": 0, "total": len(PDF),
                                  "data": PDF})),
        "chunk-refused": (CHUNK, pack({"v": 1, "ok": False, "error_code": "forbidden",
                                       "error": "not the running attempt"})),
        "cancelled-ok": (CANCELLED, pack({"v": 1, "rid": 12, "ok": True,
                                          "state": "cancelled"})),
        "cancelled-final": (CANCELLED, pack({"v": 1, "rid": 12, "ok": False,
                                             "error_code": "already_final",
                                             "state": "succeeded",
                                             "error": "the job has already ended"})),
        "cancelled-unknown": (CANCELLED, pack({"v": 1, "rid": 13, "ok": False,
                                               "error_code": "unknown_job", "state": None})),
        "bad-utf8": (SUBMIT, pack({"v": 1, "rid": 7, "owner": OWNER, "title": "x",
                                   "filename": "f", "sha256": SHA})
                     .replace(b"\xa1x", b"\xa1\xff")),
    }
    out = {name: bytes([sel]) + body for name, (sel, body) in seeds.items()}

    def reply(rid, code, detail):
        c = code.encode()
        return bytes([ERROR_REPLY]) + struct.pack(">Q", rid) + bytes([len(c)]) + c + \
            detail.encode()

    out["error-reply"] = reply(42, "bad_request", "field 'title' is missing")
    out["error-reply-long-detail"] = reply(1, "overloaded", "é" * 700)  # cut at 1024 bytes
    out["error-reply-long-code"] = reply(1, "c" * 33, "")
    return out


# ---- structured mode of fuzz_bodies.c (selector bit 3): copies of its tables, same order.
STRUCTURED = 0x08
KEYS = ["v", "rid", "job_id", "attempt", "title", "filename", "sha256", "pdf", "progress",
        "stage", "page", "pages", "ok", "course", "error_code", "error", "owner", "state", "db",
        "workers", "queued", "running",
        "pdf_size", "pdf_endpoint", "token", "offset", "size", "total", "data"]
KNOWN = [JOB_ID, OWNER, SHA, "queued", "text", "encrypted", "Introduction à la physique", ""]
INTERESTING = [0, 1, 2, 100, 101, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32,
               2**63 - 1, 2**63, 2**64 - 1]
G_UINT, G_NEGINT, G_STR, G_BIN, G_TRUE, G_FALSE, G_NIL = range(7)
G_TYPES = 10


def s_key(k):
    if k is None:           # the integer key 1
        return bytes([len(KEYS) + 1])
    return bytes([KEYS.index(k) if k in KEYS else len(KEYS)])


def s_value(v, form=0):
    """A value: int (uint), bool, None, ('neg', n), ('array',), ('fill', char, n) or str (a
    str), ('bin', bytes); form picks the encoding (see fuzz_bodies.c)."""
    t = lambda g: bytes([form * G_TYPES + g])
    if v is None:
        return t(G_NIL)
    if v is True or v is False:
        return t(G_TRUE if v else G_FALSE)
    if isinstance(v, int):
        if v in INTERESTING:
            return t(G_UINT) + bytes([INTERESTING.index(v)])
        return t(G_UINT) + b"\x80" + struct.pack(">Q", v)
    if isinstance(v, str):
        if v in KNOWN:
            return t(G_STR) + b"\x00\x00" + bytes([KNOWN.index(v) << 2 | 2])
        raw = v.encode()
        return t(G_STR) + struct.pack(">H", len(raw)) + b"\x01" + raw
    if v[0] == "array":            # the fixed array [1, "x"]
        return t(8)
    if v[0] == "neg":
        return t(G_NEGINT) + struct.pack(">Q", v[1])   # the value -1 - n
    if v[0] == "fill":             # char repeated n times; char in 0x20..0x5f
        return t(G_STR) + struct.pack(">H", v[2]) + bytes([(ord(v[1]) - 0x20) << 2])
    if v[0] == "bin":
        return t(G_BIN) + struct.pack(">H", len(v[1])) + b"\x01" + v[1]
    raise ValueError(v)


def structured(sel, *entries):
    out = bytes([sel | STRUCTURED, len(entries)])
    for e in entries:
        out += s_key(e[0]) + s_value(*e[1:])
    return out


def structured_seeds():
    v = ("v", 1)
    job_fields = [v, ("job_id", JOB_ID), ("attempt", 1), ("title", "Cours"),
                  ("filename", "c.pdf"), ("sha256", SHA), ("pdf", ("bin", PDF))]
    return {
        "s-job": structured(JOB, *job_fields),
        "s-job-attempt-limit": structured(JOB, *job_fields[:2], ("attempt", 2**32), *job_fields[3:]),
        "s-job-title-limit": structured(JOB, *job_fields[:3], ("title", ("fill", "T", 201)),
                                        *job_fields[4:]),
        "s-job-wide-ints": structured(JOB, ("v", 1, 1), *job_fields[1:2], ("attempt", 3, 2),
                                      *job_fields[3:]),
        "s-progress-stage-limit": structured(PROGRESS, v, ("progress", 100),
                                             ("stage", ("fill", "S", 33)), ("page", None),
                                             ("pages", 2**32)),
        "s-result-ok": structured(RESULT, v, ("ok", True), ("course", ("bin", b"{}")),
                                  ("x", ("array",))),
        "s-result-error-limit": structured(RESULT, v, ("ok", False), ("error_code", "encrypted"),
                                           ("error", ("fill", "E", 1025))),
        "s-submit": structured(SUBMIT, v, ("rid", 2**64 - 1), ("owner", OWNER), ("title", ""),
                               ("filename", "f.pdf"), ("sha256", SHA)),
        "s-submitted-state-limit": structured(SUBMITTED, v, ("rid", 5), ("ok", True),
                                              ("job_id", JOB_ID), ("state", ("fill", "Q", 17))),
        "s-submitted-error": structured(SUBMITTED, v, ("rid", 5), ("ok", False),
                                        ("error_code", "encrypted"), ("error", "")),
        "s-ping-v2": structured(PING, ("v", 2), ("rid", 1)),
        "s-ping-negative-rid": structured(PING, v, ("rid", ("neg", 0))),
        "s-ping-integer-key": structured(PING, v, ("rid", 1), (None, 1)),
        "s-pong-duplicate": structured(PONG, v, ("rid", 1), ("ok", True), ("db", False),
                                       ("workers", 1), ("queued", 0), ("running", 0),
                                       ("rid", 2)),
        "s-cancel": structured(CANCEL, v, ("rid", 1), ("owner", OWNER), ("job_id", JOB_ID)),
        "s-cancel-sha-as-job": structured(CANCEL, v, ("rid", 1), ("owner", OWNER),
                                          ("job_id", SHA)),
        "s-cancelled-ok-no-state": structured(CANCELLED, v, ("rid", 1), ("ok", True),
                                              ("error_code", "encrypted")),
        "s-cancelled-state-limit": structured(CANCELLED, v, ("rid", 1), ("ok", False),
                                              ("error_code", "encrypted"),
                                              ("state", ("fill", "Q", 17))),
    }


def frames(limit, *parts):
    """fuzz_frames.c input: limit selector, then length-prefixed frames; the last one 0xff."""
    out = bytes([limit])
    for i, p in enumerate(parts):
        p = p.encode() if isinstance(p, str) else p
        if i == len(parts) - 1 and len(p) >= 0xff:
            out += b"\xff" + p
        else:
            assert len(p) < 0xff
            out += bytes([len(p)]) + p
    return out


def frame_seeds():
    control, job_limit = 2, 3
    w = "MDPW02"
    c = "MDPC02"
    return {
        "w-ready": frames(control, w, b"\x01", "course.build"),
        "w-request": frames(job_limit, w, b"\x02", TOKEN, b"", pack(job())),
        "w-partial": frames(control, w, b"\x03", TOKEN, b"",
                            pack({"v": 1, "progress": 10, "stage": "parsing"})),
        "w-final": frames(job_limit, w, b"\x04", TOKEN, b"",
                          pack({"v": 1, "ok": True, "course": COURSE})),
        "w-final-error": frames(control, w, b"\x04", TOKEN, b"",
                                pack({"v": 1, "ok": False, "error_code": "damaged"})),
        "w-heartbeat": frames(control, w, b"\x05"),
        "w-disconnect": frames(control, w, b"\x06"),
        "w-extra-frame": frames(control, w, b"\x05", b""),
        "w-small-limit": frames(1, w, b"\x03", TOKEN, b"", pack({"v": 1})),
        "c-submit": frames(control, c, b"\x01", "job.submit",
                           pack({"v": 1, "rid": 7, "owner": OWNER, "title": "Cours",
                                 "filename": "cours.pdf", "sha256": SHA})),
        "c-submitted": frames(control, c, b"\x03", "job.submit",
                              pack({"v": 1, "rid": 7, "ok": True, "job_id": JOB_ID,
                                    "state": "queued"})),
        "c-ping": frames(control, c, b"\x01", "broker.ping", pack({"v": 1, "rid": 1})),
        "c-cancel": frames(control, c, b"\x01", "job.cancel",
                           pack({"v": 1, "rid": 4, "owner": OWNER, "job_id": JOB_ID})),
        "c-cancelled": frames(control, c, b"\x03", "job.cancel",
                              pack({"v": 1, "rid": 4, "ok": True, "state": "cancelled"})),
        "c-pong": frames(control, c, b"\x03", "broker.ping",
                         pack({"v": 1, "rid": 1, "ok": True, "db": False, "workers": 0,
                               "queued": 0, "running": 0})),
        "c-partial-unknown-service": frames(control, c, b"\x02", "no.such",
                                            pack({"v": 1, "rid": 3})),
        "c-uppercase-service": frames(control, c, b"\x01", "Broker.Ping", pack({"v": 1})),
        "neither": frames(control, "MDPX02", b"\x01", "x", b"y"),
    }


def token_seeds():
    fmt = lambda size, attempt, job_id: bytes([size]) + struct.pack(">I", attempt) + job_id
    return {
        "token": TOKEN.encode(),
        "token-max": (JOB_ID + "/4294967295").encode(),
        "token-over": (JOB_ID + "/4294967296").encode(),
        "token-zero": (JOB_ID + "/0").encode(),
        "token-leading-zero": (JOB_ID + "/01").encode(),
        "token-upper": (JOB_ID.upper() + "/2").encode(),
        "sha256": SHA.encode(),
        "service": b"course.build",
        "utf8": "Aé€𝄞".encode(),
        "utf8-surrogate": b"\xed\xa0\x80",
        "utf8-overlong": b"\xc0\xaf\xe0\x80\xaf\xf0\x80\x80\xaf",
        "utf8-above-max": b"\xf4\x90\x80\x80",
        "format": fmt(65, 1, JOB_ID.encode()),
        "format-short-buffer": fmt(39, 12, JOB_ID.encode()),
        "format-attempt-zero": fmt(65, 0, JOB_ID.encode()),
    }


def scan_seeds():
    seeds = {
        "job": pack(job()),
        "submit-nested": pack({"v": 1, "rid": 5, "list": [1, -1, 1.5, None, True, b"b"],
                               "map": {"k": "v"}}),
        "scalars": pack([0, 127, 128, 2**16, 2**32, 2**64 - 1, -1, -33, -2**15, -2**63,
                         1.25, 3.4e38, "", "s" * 40, b"", b"x" * 300, False, None]),
        "ext": pack([msgpack.ExtType(1, b"a"), msgpack.ExtType(2, b"ab"),
                     msgpack.ExtType(3, b"abcd"), msgpack.ExtType(4, b"a" * 8),
                     msgpack.ExtType(5, b"a" * 16), msgpack.ExtType(6, b""),
                     msgpack.ExtType(127, b"a" * 300)]),
        "float32": b"\xca\x3f\x80\x00\x00",
        "signed-rid": map_of([(pack("rid"), int32(77)), (pack("v"), pack(1))]),
        "rid-negative": pack({"rid": -5, "v": 1}),
        "str16": b"\xda\x00\x03abc",
        "bin32": b"\xc6\x00\x00\x00\x02hi",
        "map16": b"\xde\x00\x01\xa1a\x01",
        "array32": b"\xdd\x00\x00\x00\x01\xc0",
        "count-bomb": b"\xdd\xff\xff\xff\xff",
        "reserved-c1": b"\xc1",
        "too-deep": pack([[[1]]]),
        # The element budget is 4096 (a map entry counts twice).
        "items-at-budget": b"\xdc\x10\x00" + b"\xc0" * 4096,
        "items-over-budget": b"\xdc\x10\x01" + b"\xc0" * 4097,
        "trailing": pack({"rid": 1}) + b"\x01",
    }
    return seeds


# ---- the frontend's parsers of client input ----------------------------------------------

def path_seeds():
    return {
        "root": b"/",
        "api": b"/api/v1/courses/5b0c2b5e-3f9a-4c51-9d7e-0c7a2f7d7a10/quiz",
        "app-trailing-slash": b"/app/",
        "escapes": b"/a%20b/%C3%A9t%c3%a9",
        "encoded-dot-dot": b"/a/%2e%2E/b",
        "encoded-slash": b"/a%2fb",
        "nul": b"/a%00b",
        "double-slash": b"/a//b",
        "overlong": b"/%c0%af",
        "surrogate": b"/%ed%a0%80",
        "bad-escape": b"/%g1%",
        "long": b"/" + b"a" * 1023,
        "too-long": b"/" + b"%41" * 1024,
    }


def multipart_seeds():
    b = b"XyZ"

    def seed(parts, boundary=b, filename_size=32, title_max=64, closing=True):
        body = b"".join(b"--" + boundary + b"\r\n" + headers + b"\r\n\r\n" + value + b"\r\n"
                        for headers, value in parts)
        if closing:
            body += b"--" + boundary + b"--\r\n"
        return bytes([len(boundary) - 1, filename_size, title_max]) + boundary + body

    file_part = (b'Content-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
                 b"Content-Type: application/pdf", PDF)
    title_part = (b'Content-Disposition: form-data; name="title"', b"My title")
    return {
        "upload": seed([file_part, title_part]),
        "browser-boundary": seed([file_part], boundary=b"----WebKitFormBoundary7MA4YWxkTrZu0gW"),
        "no-closing": seed([file_part], closing=False),
        "twice": seed([title_part, title_part]),
        "no-disposition": seed([(b"X-Other: 1", b"zz"), file_part]),
        "escaped-filename": seed([(b'Content-Disposition: form-data; name="file"; '
                                   b'filename="a \\"q\\" b.pdf"', PDF)], filename_size=8),
        "title-over-max": seed([title_part], title_max=3),
        "nul-in-filename": seed([(b'Content-Disposition: form-data; name="file"; '
                                  b'filename="a\x00b.pdf"', PDF)], filename_size=4),
        "lookalike": seed([(title_part[0], b"a\r\n--XyZb\r\n--Xy")]),
        "preamble": bytes([2, 32, 64]) + b + b"preamble\r\n--XyZ  \r\n" + title_part[0] +
                    b"\r\n\r\nv\r\n--XyZ--",
    }


def json_seeds():
    limits = bytes([0x33])  # max_depth 4, max_values 25
    return {
        "answers": limits + b'{"answers": [0, 2, 1, 3]}',
        "types": limits + b'{"a": [1, -2.5e3, true, false, null], "s": "x\\n\\u00e9", "o": {}}',
        "surrogates": limits + b'["\\ud83d\\ude00", "\\ud83d", "\\ude00"]',
        "big-numbers": limits + b"[9223372036854775807, 9223372036854775808, 1e400, -0]",
        "duplicate": limits + b'{"a": 1, "\\u0061": 2}',
        "deep": limits + b"[[[[[1]]]]]",
        "trailing": limits + b"{} x",
        "invalid-utf8": limits + b'"\xc0\xaf"',
        "nul-escape": limits + b'"\\u0000"',
    }


def json_dict():
    return [b"{", b"}", b"[", b"]", b'"', b":", b",", b"true", b"false", b"null", b"\\u",
            b"\\ud83d", b"\\ude00", b"-0.5e+10", b'"answers"']


def multipart_dict():
    return [b"\r\n", b"\r\n\r\n", b"--XyZ", b"\r\n--XyZ", b"--XyZ--", b"Content-Disposition:",
            b" form-data", b'; name="file"', b'; name="title"', b'; filename="', b"\\\""]


def path_dict():
    return [b"%2e", b"%2f", b"%00", b"%c0%af", b"/./", b"/../", b"//", b"%ed%a0%80"]


def bodies_dict():
    keys = ["v", "rid", "job_id", "attempt", "title", "filename", "sha256", "pdf", "progress",
            "stage", "page", "pages", "ok", "course", "error_code", "error", "owner", "state",
            "db", "workers", "queued", "running",
            "pdf_size", "pdf_endpoint", "token", "offset", "size", "total", "data"]
    entries = [pack(k) for k in keys]
    entries += [pack(JOB_ID), pack(OWNER), pack(SHA), pack("cancelled"), b"\xc3", b"\xc2", b"\xc0", b"\xcf", b"\xd3", b"\xdf",
                b"\xdd", b"\xc6", b"\xdb"]
    return entries


def frames_dict():
    return [b"MDPW02", b"MDPC02", b"course.build", b"job.submit", b"broker.ping", b"job.cancel",
            TOKEN.encode(), b"\x01\x01", b"\x01\x02", b"\x01\x03", b"\x01\x04", b"\x01\x05",
            b"\x01\x06", b"\x00"]


def write_dict(path, entries):
    with open(path, "w") as f:
        f.write("# Generated by fuzz/make_seeds.py; libFuzzer -dict format.\n")
        for e in entries:
            f.write('"' + "".join("\\x%02x" % b for b in e) + '"\n')


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    corpora = {
        "fuzz_bodies": dict(body_seeds(), **structured_seeds()),
        "fuzz_frames": frame_seeds(),
        "fuzz_token": token_seeds(),
        "fuzz_scan": scan_seeds(),
        "fuzz_path": path_seeds(),
        "fuzz_multipart": multipart_seeds(),
        "fuzz_json_in": json_seeds(),
    }
    for target, seeds in corpora.items():
        d = os.path.join(root, "corpus", target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in sorted(seeds.items()):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    os.makedirs(os.path.join(root, "dict"), exist_ok=True)
    write_dict(os.path.join(root, "dict", "fuzz_bodies.dict"), bodies_dict())
    write_dict(os.path.join(root, "dict", "fuzz_frames.dict"), frames_dict())
    write_dict(os.path.join(root, "dict", "fuzz_scan.dict"), bodies_dict())
    write_dict(os.path.join(root, "dict", "fuzz_path.dict"), path_dict())
    write_dict(os.path.join(root, "dict", "fuzz_multipart.dict"), multipart_dict())
    write_dict(os.path.join(root, "dict", "fuzz_json_in.dict"), json_dict())


if __name__ == "__main__":
    main()
