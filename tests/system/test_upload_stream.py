"""Multipart uploads stream to PostgreSQL (docs/api.md 4.1, docs/performance.md "Upload memory",
issue 9): a browser's multipart/form-data upload is parsed piece by piece (frontend/multipart.c,
frontend/form_upload.c) and its file part goes to the database the way a raw upload does, so
several large forms at once keep the frontend's memory low; a malformed form is a 400 (a file
over the limit 413, not a PDF 415) and stores nothing. Chunked raw bodies stream the same way."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import socket

import pytest
import requests

from stack import API, job_id_of
from test_limits import limited, vm_kb


def blobs(s) -> list[tuple[str, int]]:
    with s.db().cursor() as cur:
        cur.execute("SELECT sha256, size FROM blobs ORDER BY sha256")
        return cur.fetchall()


def raw_post(s, body: bytes, content_type: str, token: str, extra: str = "") -> bytes:
    """POST /api/v1/jobs over a plain socket: the answer's bytes (status line first)."""
    fe = s.frontends[0]
    with socket.create_connection(("127.0.0.1", fe.port), timeout=30) as sock:
        sock.sendall((f"POST {API}/jobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      f"Authorization: Bearer {token}\r\nContent-Type: {content_type}\r\n"
                      f"{extra}Content-Length: {len(body)}\r\n\r\n").encode() + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def form(parts: list[tuple[str, str | None, bytes]], boundary: str = "b0undary",
         closing: bool = True, epilogue: bytes = b"") -> bytes:
    out = b"preamble\r\n"
    for name, filename, value in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += (f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + value + b"\r\n"
    if closing:
        out += f"--{boundary}--".encode() + epilogue
    return out


def test_multipart_upload_memory_is_bounded(make_stack):
    """Four concurrent 47 MB multipart uploads: the frontend's peak memory (VmHWM) grows by far
    less than one of them (before, each form was read whole: about 92 MB each), and each PDF
    is stored whole, with its SHA-256 and its form title."""
    size = 47 << 20
    s = make_stack(max_upload="50M")
    s.start_broker()
    fe = s.add_frontend()
    s.wait_healthy(workers=0)
    teacher = s.create_token("teacher", "big-forms")
    pid = fe.process.pid
    pdfs = [b"%PDF-1.4\n" + os.urandom(size - 9) for _ in range(4)]
    assert s.post_job(pdfs[0][:4096], "warm-up", token=teacher, form=True).status_code == 202
    before = vm_kb(pid, "VmHWM")

    def upload(i: int) -> requests.Response:
        # A connection of its own: a kept-alive one may have been closed by the server
        # (http/keep_alive) while the machine was busy.
        return requests.post(fe.url + f"{API}/jobs", headers=s.auth(teacher), timeout=180,
                             files={"title": (None, f"big form {i}"),
                                    "file": ("big.pdf", pdfs[i], "application/pdf")})
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(upload, range(4)))
    assert [r.status_code for r in answers] == [202] * 4, [r.text[:200] for r in answers]
    grown_mb = (vm_kb(pid, "VmHWM") - before) / 1024
    print(f"frontend VmHWM grew by {grown_mb:.1f} MB for 4 concurrent 47 MB multipart uploads")
    assert grown_mb < 24, f"peak memory grew by {grown_mb:.0f} MB"
    with s.db().cursor() as cur:
        for i, pdf in enumerate(pdfs):
            cur.execute("SELECT size, md5(data) FROM blobs WHERE sha256 = %s",
                        (hashlib.sha256(pdf).hexdigest(),))
            assert cur.fetchone() == (size, hashlib.md5(pdf).hexdigest())
            job = job_id_of(answers[i].json())
            cur.execute("SELECT title, blob_sha256 FROM jobs WHERE id = %s", (job,))
            assert cur.fetchone() == (f"big form {i}", hashlib.sha256(pdf).hexdigest())


def test_multipart_title_after_file_epilogue_and_chunked_raw(make_stack):
    s = limited(make_stack)
    teacher = s.create_token("teacher", "form-order")
    pdf = b"%PDF-1.4\n" + os.urandom(300_000) + b"\r\n--b0undar"  # a delimiter lookalike
    body = form([("file", "dir/notes.pdf", pdf), ("other", None, b"x" * 70_000),
                 ("title", None, "Ünïcode title".encode())], epilogue=b"\r\nignored epilogue")
    answer = raw_post(s, body, "multipart/form-data; boundary=b0undary", teacher)
    assert answer.startswith(b"HTTP/1.1 202"), answer[:400]
    sha = hashlib.sha256(pdf).hexdigest()
    with s.db().cursor() as cur:
        cur.execute("SELECT title, filename FROM jobs WHERE blob_sha256 = %s", (sha,))
        assert cur.fetchone() == ("Ünïcode title", "notes.pdf")
    assert (sha, len(pdf)) in blobs(s)

    # A raw body without Content-Length (chunked) streams in pieces too.
    chunked = b"%PDF-1.4\n" + os.urandom(700_000)
    r = s.http.post(s.frontends[0].url + f"{API}/jobs", params={"title": "chunked"},
                    data=(chunked[i:i + 65536] for i in range(0, len(chunked), 65536)),
                    headers={**s.auth(teacher), "Content-Type": "application/pdf"}, timeout=30)
    assert r.status_code == 202, r.text
    assert (hashlib.sha256(chunked).hexdigest(), len(chunked)) in blobs(s)


MALFORMED = [
    ("no boundary", "multipart/form-data", form([("file", "a.pdf", b"%PDF-1.4 x")]), 400,
     "boundary"),
    ("other boundary", "multipart/form-data; boundary=zzz",
     form([("file", "a.pdf", b"%PDF-1.4 x")]), 400, "does not start with its boundary"),
    ("unclosed", "multipart/form-data; boundary=b0undary",
     form([("file", "a.pdf", b"%PDF-1.4 x" * 1000)], closing=False), 400,
     "does not end with its closing boundary"),
    ("no file", "multipart/form-data; boundary=b0undary", form([("title", None, b"t")]), 400,
     "no \"file\" field"),
    ("file twice", "multipart/form-data; boundary=b0undary",
     form([("file", "a.pdf", b"%PDF-1.4 x"), ("file", "b.pdf", b"%PDF-1.4 y")]), 400,
     "appears twice"),
    ("no disposition", "multipart/form-data; boundary=b0undary",
     b"--b0undary\r\nX-Other: 1\r\n\r\n%PDF-1.4\r\n--b0undary--", 400, "Content-Disposition"),
    ("garbage after delimiter", "multipart/form-data; boundary=b0undary",
     b"--b0undaryXX\r\n", 400, "malformed"),
    ("title too long", "multipart/form-data; boundary=b0undary",
     form([("title", None, b"t" * 300), ("file", "a.pdf", b"%PDF-1.4 x")]), 400,
     "title is longer"),
    ("not a pdf", "multipart/form-data; boundary=b0undary",
     form([("file", "a.pdf", b"hello" * 1000)]), 415, "not a PDF"),
    ("empty file", "multipart/form-data; boundary=b0undary", form([("file", "a.pdf", b"")]),
     415, "not a PDF"),
    ("file over the limit", "multipart/form-data; boundary=b0undary",
     form([("file", "a.pdf", b"%PDF-1.4\n" + b"x" * (1 << 20))]), 413, "larger than"),
]


@pytest.mark.parametrize("case, content_type, body, status, detail", MALFORMED,
                         ids=[c[0].replace(" ", "_") for c in MALFORMED])
def test_malformed_multipart_is_refused(make_stack, case, content_type, body, status, detail):
    s = make_stack(max_upload="1M")
    s.start_broker()
    s.add_frontend()
    s.wait_healthy(workers=0)
    teacher = s.create_token("teacher", "malformed")
    answer = raw_post(s, body, content_type, teacher)
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status}".encode()), (case, answer[:400])
    assert detail in json.loads(payload)["detail"], (case, payload[:400])
    assert blobs(s) == []
    with s.db().cursor() as cur:
        cur.execute("SELECT count(*) FROM jobs")
        assert cur.fetchone()[0] == 0
