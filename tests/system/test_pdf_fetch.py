"""Large PDFs by reference: the blob endpoint (docs/protocol.md 3.6, docs/broker.md "The PDF's
path").

A PDF of 1 MiB or more goes to a worker of protocol 1.2 (one whose identity announces
`fetch=1`) as a reference in its REQUEST; the worker fetches it in chunks from the broker's blob
endpoint with its attempt's token, over CURVE with a worker key, and checks its size and SHA-256
before the extractor runs. Everything here is real: broker, workers, frontend, PostgreSQL,
ZeroMQ sockets with CURVE (the stack's default).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from typing import Callable

import msgpack
import zmq

from mdp import MdpWorker, apply_curve, course_doc, forge_token
from pdfs import make_plain_pdf
from stack import wait_for

MIB = 1024 * 1024


def padded_pdf(tmp_path, size: int) -> bytes:
    """A valid PDF of about `size` bytes: a small text PDF plus an incremental update holding
    an unreferenced stream of random bytes (so that it compresses to nothing)."""
    base = tmp_path / "base.pdf"
    make_plain_pdf(base, pages=6, title="Fetched")
    pdf = base.read_bytes()
    objs = int(re.findall(rb"/Size (\d+)", pdf)[-1])
    root = re.findall(rb"/Root (\d+ \d+ R)", pdf)[-1]
    prev = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    if not pdf.endswith(b"\n"):
        pdf += b"\n"
    pad = os.urandom(max(size - len(pdf) - 400, 1))
    at = len(pdf)
    pdf += b"%d 0 obj\n<< /Length %d >>\nstream\n" % (objs, len(pad)) + pad + \
        b"\nendstream\nendobj\n"
    xref = len(pdf)
    pdf += b"xref\n%d 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root %s /Prev %d >>\n" \
        b"startxref\n%d\n%%%%EOF\n" % (objs, at, objs + 1, root, prev, xref)
    return pdf


class FetchingWorker(MdpWorker):
    """An MdpWorker whose identity announces protocol 1.2's fetch capability."""

    def __init__(self, endpoint: str, curve=True):
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.ROUTING_ID, bytes([0x80]) + os.urandom(7) +
                             b"|host=test;pid=1;version=test;fetch=1")
        apply_curve(self.sock, endpoint, "worker", curve)
        self.sock.connect(endpoint)
        self.heartbeat_s = 0.1
        self.request_timeout = 15.0
        self.heartbeats = True
        self.last_sent = 0.0


def fetch(stack, token: bytes, offset: int = 0, size: int = MIB, role: str = "worker",
          curve=True, timeout: float = 5.0, worker: MdpWorker | None = None) -> dict | None:
    """One FETCH on a fresh DEALER with the stack's Python key of `role` (curve=None: no key);
    the CHUNK, or None when nothing came back. worker: a peer kept heartbeating meanwhile."""
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    apply_curve(sock, stack.endpoint, role, curve)
    sock.connect(stack.blob_endpoint)
    try:
        sock.send_multipart([b"MDPC02", b"\x01", b"pdf.fetch", msgpack.packb(
            {"v": 1, "v_minor": 2, "token": token.decode(), "offset": offset, "size": size})])
        deadline = time.monotonic() + timeout
        while not sock.poll(50):
            if worker is not None:
                worker.pump()
            if time.monotonic() >= deadline:
                return None
        frames = sock.recv_multipart()
        assert frames[:3] == [b"MDPC02", b"\x03", b"pdf.fetch"] and len(frames) == 4, frames[:3]
        return msgpack.unpackb(frames[3], raw=False)
    finally:
        sock.close(0)


def test_a_large_pdf_is_fetched_by_the_worker_and_a_small_one_stays_inline(make_stack,
                                                                             tmp_path):
    s = make_stack()
    s.start_broker()
    worker = s.add_worker()
    s.add_frontend()
    s.wait_healthy(workers=1)
    big = padded_pdf(tmp_path, 3 * MIB + 12345)
    small = padded_pdf(tmp_path, 200 * 1024)
    big_job = s.submit(big, "Big")
    small_job = s.submit(small, "Small")
    for job_id in (big_job, small_job):
        s.wait_job(job_id, timeout=90)
    log = s.broker.log_text()
    assert re.search(rf"job dispatched job={big_job} attempt=1 worker=\S+ pdf=by-reference", log)
    assert re.search(rf"job dispatched job={small_job} attempt=1 worker=\S+\n", log)
    wlog = worker.log_text()
    assert f"job={big_job} attempt=1 fetched {len(big)} bytes" in wlog
    assert f"job={small_job} attempt=1 fetch" not in wlog
    assert f"started: {len(big)} bytes" in wlog
    # The token's secret is never logged, by either side.
    assert not re.search(r"/[0-9a-f]{32}", log + wlog)


def test_fetch_needs_the_running_attempts_token_and_a_worker_key(make_stack, tmp_path):
    s = make_stack()
    s.start_broker(retry_base_ms=100)
    s.add_frontend()
    s.wait_healthy(workers=0)
    big = padded_pdf(tmp_path, 2 * MIB + 777)
    w = FetchingWorker(s.endpoint).ready()
    try:
        job_id = s.submit(big, "Refusals")
        token, job = w.expect_request()
        # A reference, not the bytes.
        assert job["pdf"] == b"" and job["pdf_size"] == len(big), {k: job[k] for k in job
                                                                    if k != "pdf"}
        assert job["pdf_endpoint"] == s.blob_endpoint and job["v_minor"] >= 2
        assert job["sha256"] == hashlib.sha256(big).hexdigest()

        first = fetch(s, token, worker=w)
        assert first["ok"] and first["offset"] == 0 and first["total"] == len(big)
        assert first["data"] == big[:MIB]
        last = fetch(s, token, offset=2 * MIB, size=MIB, worker=w)
        assert last["ok"] and last["data"] == big[2 * MIB:]  # fewer bytes at the end only

        # Another secret, another attempt, a frontend's key: refused.
        assert fetch(s, forge_token(token), worker=w)["error_code"] == "forbidden"
        job_part, attempt, secret = token.split(b"/")
        other = b"/".join([job_part, str(int(attempt) + 1).encode(), secret])
        assert fetch(s, other, worker=w)["error_code"] == "forbidden"
        assert fetch(s, token, role="frontend", worker=w)["error_code"] == "forbidden"
        # No key at all: the CURVE handshake is refused; nothing comes back.
        assert fetch(s, token, curve=None, timeout=1.5, worker=w) is None
        # Out of bounds and malformed.
        assert fetch(s, token, size=MIB + 1, worker=w)["error_code"] == "bad_request"
        assert fetch(s, b"not-a-token", worker=w)["error_code"] == "bad_request"

        # The attempt fails (as a worker whose fetch failed says so): retried, on a new token;
        # the old one is refused from then on.
        w.final_error(token, "internal", "The worker could not fetch the PDF: test.")
        token2, job2 = w.expect_request()
        assert job2["attempt"] == 2 and token2 != token
        assert fetch(s, token, worker=w)["error_code"] == "forbidden"
        assert fetch(s, token2, worker=w)["ok"]
        w.final_ok(token2, course_doc("Refusals"))
        s.wait_job(job_id, timeout=30)
        # Once the job has ended nothing of it is served.
        assert fetch(s, token2, worker=w)["error_code"] == "forbidden"
    finally:
        w.close()
    log = s.broker.log_text()
    assert "pdf fetch refused" in log and "not a worker key" in log


def test_an_inline_only_worker_still_gets_the_pdf_inline(make_stack, tmp_path):
    s = make_stack()
    s.start_broker()
    s.add_frontend()
    s.wait_healthy(workers=0)
    big = padded_pdf(tmp_path, 2 * MIB + 99)
    old = MdpWorker(s.endpoint, heartbeat_s=0.1, request_timeout=15.0).ready()  # 1.1 identity
    try:
        job_id = s.submit(big, "Inline")
        token, job = old.expect_request()
        assert job["pdf"] == big and "pdf_size" not in job and "pdf_endpoint" not in job
        old.final_ok(token, course_doc("Inline"))
        s.wait_job(job_id, timeout=30)
    finally:
        old.close()


def damaged_transfer(make_stack, tmp_path, size: int, stored: Callable[[bytes], bytes],
                     title: str, reason: str):
    """A large PDF of about `size` bytes whose stored bytes are stored(pdf) (blobs.size still
    says the whole PDF's): the first attempt fails before parsing, the worker saying it could
    not fetch the PDF for `reason`; repaired during the back-off, the retry fetches the whole
    PDF and succeeds. The stack and its worker."""
    s = make_stack()
    s.start_broker(retry_base_ms=3000, retry_max_ms=3000)
    worker = s.add_worker()
    s.add_frontend()
    s.wait_healthy(workers=1)
    big = padded_pdf(tmp_path, size)
    sha = hashlib.sha256(big).hexdigest()
    s.query("INSERT INTO blobs (sha256, size, data) VALUES (%s, %s, %s) RETURNING size",
            sha, len(big), stored(big))
    job_id = s.submit(big, title)  # the same hash: the stored (damaged) blob is kept
    wait_for("the first attempt to fail",
             lambda: f"job={job_id} attempt=1 failed before parsing" in worker.log_text(), 30,
             retry_on=())
    assert f"job={job_id} attempt=1 failed before parsing: internal: The worker could not " \
        f"fetch the PDF: {reason}" in worker.log_text()
    # Repaired during the back-off: the retry fetches the whole PDF and succeeds.
    s.query("UPDATE blobs SET data = %s WHERE sha256 = %s RETURNING size", big, sha)
    s.wait_job(job_id, timeout=60)
    assert s.job_row(job_id)["attempts"] == 2
    assert f"job={job_id} attempt=2 fetched {len(big)} bytes" in worker.log_text()
    return s, worker


def test_a_corrupt_transfer_fails_the_attempt_and_the_job_is_retried(make_stack, tmp_path):
    # The stored bytes have their first byte flipped (same size): every chunk arrives, and the
    # PDF they make is not the one its hash names, as a transfer corrupted on the way would be.
    s, _ = damaged_transfer(make_stack, tmp_path, 2 * MIB + 4321,
                            lambda pdf: bytes([pdf[0] ^ 0xFF]) + pdf[1:], "Corrupt",
                            "the fetched PDF does not match its SHA-256")
    wait_for("the worker to be idle again", lambda: s.ping()["running"] == 0, 10, retry_on=())


def test_a_truncated_transfer_fails_the_attempt_and_the_retry_succeeds(make_stack, tmp_path):
    # The stored bytes lose their last 1,000: the last chunk comes short, as a transfer cut off
    # would.
    damaged_transfer(make_stack, tmp_path, 2 * MIB + 999, lambda pdf: pdf[:-1000], "Truncated",
                     "a chunk came that was not asked for, twice, or cut short")
