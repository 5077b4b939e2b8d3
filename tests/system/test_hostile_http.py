"""Hostile HTTP clients against the real profai-frontend (docs/security.md, "HTTP").

Every case speaks raw bytes over a socket, checks the status it gets and how fast, and then
checks that the frontend still serves a normal request at once: a hostile client may cost one
thread for a bounded time, never the server. The frontends here run with few threads and short
limits so that a thread that is not freed shows up as a refused or late normal request.

    http/threads 4, body_timeout 5000 ms, min_rate 1000 B/s after 1500 ms, request_timeout 2000 ms
"""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest

from stack import NO_LIMITS, API, BIN, Frontend, Process, free_port, zpl

THREADS = 4
BODY_TIMEOUT_MS = 5000
MIN_RATE = 1000
GRACE_MS = 1500
REQUEST_TIMEOUT_MS = 2000

PDF = b"%PDF-1.4\n" + b"1 0 obj\n<< >>\nendobj\n" * 20 + b"%%EOF\n"


# ---- a raw HTTP client -----------------------------------------------------------------------

class Reply:
    def __init__(self, status: int, headers: dict, body: bytes, elapsed: float, closed: bool,
                 raw: bytes):
        self.status, self.headers, self.body = status, headers, body
        self.elapsed, self.closed, self.raw = elapsed, closed, raw

    def __repr__(self):
        return (f"<Reply {self.status} in {self.elapsed:.2f}s closed={self.closed} "
                f"{self.raw[:120]!r}>")


class Conn:
    """One TCP connection to the frontend, driven by hand."""

    def __init__(self, port: int, rcvbuf: int | None = None):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        self.started = time.monotonic()
        self.buf = b""
        self.eof = False  # the server closed the connection

    def send(self, data: bytes) -> bool:
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def shut_wr(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def _fill(self, until: float) -> bool:
        """Read what arrives before `until`; False when the server closed."""
        if self.eof:
            return False
        self.sock.settimeout(max(0.001, until - time.monotonic()))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return True
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def reply(self, timeout: float = 10.0) -> Reply | None:
        """The next response (None when none came within timeout or the connection closed
        first); `closed` tells whether the server closed the connection right after it."""
        until = time.monotonic() + timeout
        open_ = True
        while b"\r\n\r\n" not in self.buf and open_ and time.monotonic() < until:
            open_ = self._fill(until)
        if b"\r\n\r\n" not in self.buf:
            return None
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "-1"))
        while open_ and (length < 0 or len(rest) < length) and time.monotonic() < until:
            open_ = self._fill(until)
            rest = self.buf.partition(b"\r\n\r\n")[2]
        body = rest[:length] if length >= 0 else rest
        self.buf = rest[len(body):]
        elapsed = time.monotonic() - self.started
        if open_ and headers.get("connection", "").lower() == "close":
            open_ = self._fill(time.monotonic() + 2)  # it must close right after
        return Reply(status, headers, body, elapsed, not open_, head + b"\r\n\r\n" + body)

    def close(self) -> None:
        self.sock.close()


def request_bytes(method: str, target: str, headers: dict | None = None,
                  body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# ---- fixtures --------------------------------------------------------------------------------

@pytest.fixture
def hstack(make_stack):
    """Broker, one worker, and a frontend with few threads and short limits."""
    s = make_stack()
    s.start_broker()
    s.add_worker()
    port = free_port()
    conf = s.outdir / "frontend-hostile.conf"
    conf.write_text(zpl({
        "http": {"listen": f"127.0.0.1:{port}", "threads": THREADS,
                 "body_timeout": BODY_TIMEOUT_MS, "min_rate": MIN_RATE,
                 "min_rate_grace": GRACE_MS, "request_timeout": REQUEST_TIMEOUT_MS,
                 "keep_alive": 1000},
        "broker": {"endpoint": s.endpoint, "timeout": 3000},
        "database": {"conninfo": s.conninfo, "pool": 4},
        "limits": NO_LIMITS,
        "log": {"level": "info"},
        **s.curve_conf("frontend1", "frontend"),
    }))
    proc = Process("frontend1", [BIN / "profai-frontend", "-c", conf],
                   s.outdir / "frontend1.log")
    frontend = Frontend(proc, port)
    s.frontends.append(frontend)
    proc.start()
    s.wait_listening(frontend)
    s.wait_healthy()
    s.port = port
    s.teacher = s.token("teacher")
    yield s
    # After all that, the frontend still stops cleanly (and LeakSanitizer checks this exit
    # under `make check-asan`).
    assert proc.stop(timeout=30) == 0, proc.tail()


def auth(s) -> dict:
    return {"Authorization": f"Bearer {s.teacher}"}


def assert_still_serving(s, within: float = 3.0) -> None:
    """A normal, authenticated request on a new connection is answered 200 within `within`."""
    c = Conn(s.port)
    try:
        c.send(request_bytes("GET", f"{API}/jobs?limit=1", auth(s)))
        r = c.reply(timeout=within)
    finally:
        c.close()
    assert r is not None and r.status == 200, f"normal request not served: {r}"
    assert r.elapsed < within


def exchange(s, data: bytes, timeout: float = 10.0, shut_wr: bool = False) -> Reply:
    c = Conn(s.port)
    try:
        c.send(data)
        if shut_wr:
            c.shut_wr()
        r = c.reply(timeout=timeout)
    finally:
        c.close()
    assert r is not None, f"no answer to {data[:80]!r}"
    return r


def upload_head(s, length: int | None, extra: dict | None = None,
                content_type: str = "application/pdf", target: str | None = None) -> bytes:
    headers = {**auth(s), "Content-Type": content_type}
    if length is not None:
        headers["Content-Length"] = str(length)
    headers.update(extra or {})
    return request_bytes("POST", target or f"{API}/jobs?title=hostile", headers)


# ---- paths -----------------------------------------------------------------------------------

PATH_CASES = [
    # (raw request target, acceptable statuses)
    ("/../etc/passwd", {400}),
    ("/%2e%2e/%2e%2e/etc/passwd", {400}),
    ("/%2E%2E%2Fetc%2Fpasswd", {400}),
    ("/api/v1/../../etc/passwd", {400}),
    ("/healthz/../healthz", {400}),
    ("/./healthz", {400}),
    ("//api//v1//jobs", {400}),
    ("/api/v1/jobs%00.pdf", {400}),
    ("/api/v1/jobs%2f", {400}),
    ("/api%5cv1%5cjobs", {400}),
    ("/api/v1/jobs%zz", {400}),
    ("/%ff%fe", {400}),
    ("/%0d%0aSet-Cookie:%20x=1", {400}),
    ("/..%5c..%5cetc%5cpasswd", {400}),
    ("/" + "a" * 2000, {404}),
    ("/api/v1/courses/" + "b" * 3000, {404}),
    ("/" + "c" * 20000, {400}),  # over max_request_size: civetweb's own 400
    ("/etc/passwd", {404}),
    ("/api/v1/courses/..%2f..%2fetc%2fpasswd", {400}),
]


def test_path_tricks_never_reach_a_file(hstack):
    """No document_root, so no path can read a file; a path that is not in canonical form is
    refused before routing (400), an overlong one names nothing (404)."""
    s = hstack
    for target, statuses in PATH_CASES:
        r = exchange(s, request_bytes("GET", target, auth(s)))
        assert r.status in statuses, f"GET {target[:60]}: {r}"
        assert b"root:" not in r.body
        assert r.elapsed < 2.0
        assert_still_serving(s)
    # The canonical spelling of the same resources still works, %-escapes included.
    assert exchange(s, request_bytes("GET", "/heal%74hz")).status == 200


# ---- framing and headers ---------------------------------------------------------------------

def test_framing_and_header_abuse(hstack):
    s = hstack
    cases = [
        ("two Content-Length", upload_head(s, None, {"Content-Length": "5",
                                                     "content-length": "3000"}) + b"%PDF-",
         {400}),
        ("Content-Length and chunked", upload_head(s, 5, {"Transfer-Encoding": "chunked"})
         + b"0\r\n\r\n", {400}),
        ("unknown transfer coding", upload_head(s, None, {"Transfer-Encoding": "gzip, chunked"})
         + b"0\r\n\r\n", {400}),
        ("Content-Length not a number", upload_head(s, None, {"Content-Length": "12abc"}),
         {400, 411}),
        ("negative Content-Length", upload_head(s, None, {"Content-Length": "-1"}), {400, 411}),
        ("absurd Content-Length", upload_head(s, None, {"Content-Length": "9" * 30}),
         {400, 413}),
        ("too many header fields", request_bytes(
            "GET", "/healthz", {f"X-Filler-{i}": "v" for i in range(80)}), {431}),
        ("oversized header", request_bytes("GET", "/healthz", {"X-Big": "x" * 20000}), {400}),
        ("header without colon", b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n", {400}),
        ("binary garbage", bytes(range(256)) + b"\r\n\r\n", {400}),
        ("unsupported version", b"GET /healthz HTTP/7.0\r\n\r\n", {400, 505}),
        ("bare LF request", b"GET /healthz HTTP/1.1\nHost: x\n\n", {200, 400}),
    ]
    for name, data, statuses in cases:
        r = exchange(s, data)
        assert r.status in statuses, f"{name}: {r}"
        assert r.elapsed < 2.0, f"{name}: {r}"
        assert_still_serving(s)


def test_silent_or_trickling_headers_are_cut_at_request_timeout(hstack):
    """civetweb bounds the request line and headers as a whole by http/request_timeout: a client
    that never finishes its headers holds a thread that long and no longer."""
    s = hstack
    silent = Conn(s.port)
    silent.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    trickler = Conn(s.port)
    head = request_bytes("GET", "/healthz", {"X-Slow": "y" * 200})
    stop = threading.Event()

    def trickle():
        for byte in head:
            if stop.is_set() or not trickler.send(bytes([byte])):
                return
            time.sleep(0.1)
    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    try:
        for conn in (silent, trickler):
            r = conn.reply(timeout=REQUEST_TIMEOUT_MS / 1000 + 3)
            # civetweb answers 400 (or just closes) once request_timeout has passed.
            assert r is None or r.status in (400, 408), r
            assert time.monotonic() - conn.started < REQUEST_TIMEOUT_MS / 1000 + 2.5
        assert_still_serving(s)
    finally:
        stop.set()
        silent.close()
        trickler.close()


# ---- bodies ----------------------------------------------------------------------------------

def trickle_upload(s, total: int, chunk: int, interval: float, stop_after: int | None = None,
                   timeout: float = 20.0) -> Reply | None:
    """Announce `total` body bytes and send `chunk` bytes every `interval` seconds (stopping
    after `stop_after` bytes, if given) until an answer arrives."""
    c = Conn(s.port)
    body = PDF + b"x" * total
    try:
        c.send(upload_head(s, total))
        sent = 0
        until = time.monotonic() + timeout
        limit = total if stop_after is None else stop_after
        while time.monotonic() < until:
            if sent < limit:
                c.send(body[sent:sent + chunk])
                sent += chunk
            r = c.reply(timeout=interval)
            if r is not None or c.eof:
                return r
        return None
    finally:
        c.close()


def test_trickling_body_is_408_after_the_grace_period(hstack):
    """Below http/min_rate once the grace period is over: 408 and the thread is free."""
    s = hstack
    r = trickle_upload(s, 5000, 1, 0.2)
    assert r is not None and r.status == 408, r
    assert GRACE_MS / 1000 - 0.3 < r.elapsed < GRACE_MS / 1000 + 2, r
    assert r.closed
    assert b"bytes per second" in r.body
    assert_still_serving(s)


def test_stalled_body_is_408_after_the_grace_period(hstack):
    """A Content-Length that lies (more than is sent) with the connection left open."""
    s = hstack
    r = trickle_upload(s, 5000, 200, 0.2, stop_after=200)
    assert r is not None and r.status == 408, r
    assert r.elapsed < GRACE_MS / 1000 + 2, r
    assert_still_serving(s)


def test_steady_but_slow_body_is_408_at_the_overall_deadline(hstack):
    """Above the minimum rate, but the whole body does not arrive within http/body_timeout."""
    s = hstack
    r = trickle_upload(s, 20 * MIN_RATE, MIN_RATE // 5, 0.1)  # 2000 B/s for a 20 s body
    assert r is not None and r.status == 408, r
    assert BODY_TIMEOUT_MS / 1000 - 0.5 < r.elapsed < BODY_TIMEOUT_MS / 1000 + 2, r
    assert b"within" in r.body
    assert_still_serving(s)


def test_truncated_body_then_close_is_400_at_once(hstack):
    """A Content-Length that lies, then the client half-closes: 400 without waiting."""
    s = hstack
    r = exchange(s, upload_head(s, 10000) + PDF, shut_wr=True)
    assert r.status == 400, r
    assert r.elapsed < 1.0
    assert_still_serving(s)


def test_body_longer_than_its_content_length(hstack):
    """The bytes past Content-Length are the next request on the connection: the upload gets
    its answer for the announced bytes, the rest is refused as a malformed request."""
    s = hstack
    c = Conn(s.port)
    try:
        c.send(upload_head(s, len(PDF)) + PDF + b"GARBAGE NOT HTTP\r\n\r\n")
        first = c.reply(timeout=10)
        assert first is not None and first.status == 202, first
        second = c.reply(timeout=5)
        assert second is None or second.status == 400, second
    finally:
        c.close()
    assert_still_serving(s)


def test_malformed_uploads(hstack):
    s = hstack

    def form(body: bytes, boundary: str = "XyZ") -> bytes:
        return upload_head(s, len(body), content_type=f"multipart/form-data; boundary={boundary}",
                           target=f"{API}/jobs") + body

    def part(name: bytes, data: bytes, extra: bytes = b"") -> bytes:
        return (b"--XyZ\r\nContent-Disposition: form-data; name=\"" + name + b"\"" + extra +
                b"\r\n\r\n" + data + b"\r\n")
    file_part = part(b"file", PDF, b'; filename="a.pdf"')
    cases = [
        ("no closing boundary", form(file_part), 400),
        ("no boundary parameter", upload_head(s, 10, content_type="multipart/form-data",
                                              target=f"{API}/jobs") + b"0123456789", 400),
        ("part without disposition", form(b"--XyZ\r\nX-Other: 1\r\n\r\nzz\r\n" + file_part
                                          + b"--XyZ--\r\n"), 400),
        ("field twice", form(file_part + file_part + b"--XyZ--\r\n"), 400),
        ("unterminated part headers", form(b"--XyZ\r\nContent-Disposition: form-data; "
                                           b"name=\"file\"" + b"A" * 9000), 400),
        ("form without file", form(part(b"title", b"T") + b"--XyZ--\r\n"), 400),
        ("invalid UTF-8 title in a form", form(part(b"title", b"bad \xff\xfe title") + file_part
                                               + b"--XyZ--\r\n"), 400),
        ("control character in a form title", form(part(b"title", b"a\x01b") + file_part
                                                   + b"--XyZ--\r\n"), 400),
        ("invalid UTF-8 title in the query", upload_head(
            s, len(PDF), target=f"{API}/jobs?title=%C3%28") + PDF, 400),
        ("overlong UTF-8 title", upload_head(
            s, len(PDF), target=f"{API}/jobs?title=%C0%AF") + PDF, 400),
        ("NUL in the title", upload_head(s, len(PDF), target=f"{API}/jobs?title=a%00b") + PDF,
         400),
        ("not a PDF (raw)", upload_head(s, 2000) + b"MZ" + b"\0" * 1998, 415),
        ("not a PDF (form)", form(part(b"file", b"GIF89a" + b"\0" * 100, b'; filename="a.pdf"')
                                  + b"--XyZ--\r\n"), 415),
        ("wrong media type", upload_head(s, len(PDF), content_type="text/plain") + PDF, 415),
        ("over max_upload", upload_head(s, 80 << 20) + PDF, 413),
    ]
    for name, data, status in cases:
        r = exchange(s, data)
        assert r.status == status, f"{name}: {r}"
        assert r.elapsed < 2.0, f"{name}: {r}"
        assert r.headers.get("content-type", "").startswith("application/problem+json"), name
        assert_still_serving(s)


# ---- many slow clients at once ---------------------------------------------------------------

class Trickler(threading.Thread):
    """An upload that sends `rate` bytes per second until stopped or answered."""

    def __init__(self, s, rate: int, total: int = 1 << 20):
        super().__init__(daemon=True)
        self.conn = Conn(s.port)
        self.rate, self.total = rate, total
        self.head = upload_head(s, total)
        self.reply: Reply | None = None
        self.stop = threading.Event()

    def run(self):
        self.conn.send(self.head)
        body = PDF + b"x" * self.total
        sent, step = 0, 0.1
        while not self.stop.is_set() and sent < self.total:
            n = max(1, int(self.rate * step))
            if not self.conn.send(body[sent:sent + n]):
                break
            sent += n
            self.reply = self.conn.reply(timeout=step)
            if self.reply is not None:
                break
        self.conn.close()


def test_slow_clients_leave_a_thread_for_others(hstack):
    """threads-1 uploads held open at a legal pace do not stop a normal request."""
    s = hstack
    slow = [Trickler(s, MIN_RATE * 3) for _ in range(THREADS - 1)]
    for t in slow:
        t.start()
    try:
        time.sleep(0.5)
        for _ in range(5):
            assert_still_serving(s, within=2.0)
    finally:
        for t in slow:
            t.stop.set()
        for t in slow:
            t.join(5)


def test_too_slow_clients_are_evicted_so_others_get_served(hstack):
    """As many stalling uploads as threads: every thread is taken, but each is cut at the end
    of the grace period (408), so a normal request waiting in the queue is served soon after."""
    s = hstack
    slow = [Trickler(s, MIN_RATE // 10) for _ in range(THREADS)]
    for t in slow:
        t.start()
    try:
        time.sleep(0.3)
        started = time.monotonic()
        assert_still_serving(s, within=GRACE_MS / 1000 + 3)
        assert time.monotonic() - started < GRACE_MS / 1000 + 3
        for t in slow:
            t.join(GRACE_MS / 1000 + 5)
            assert t.reply is not None and t.reply.status == 408, t.reply
    finally:
        for t in slow:
            t.stop.set()


def test_reply_cut_for_a_client_that_stops_reading(hstack, tmp_path):
    """A large answer to a client that takes it slower than http/min_rate: the connection is cut
    (logged), the thread is free. civetweb alone would wait request_timeout per partial write."""
    s = hstack
    # A course document large enough not to fit in the kernel's socket buffers (~8 MB).
    from pdfs import make_plain_pdf
    made = make_plain_pdf(tmp_path / "big.pdf", pages=2000)
    job_id = s.submit(made.path, "Big course", token=s.teacher)
    job = s.wait_job(job_id, timeout=120)
    path = f"{API}/courses/{job['course_id']}"
    c = Conn(s.port, rcvbuf=4096)
    try:
        c.send(request_bytes("GET", path, auth(s)))
        # Never read: once the socket buffers are full the answer cannot move.
        time.sleep(GRACE_MS / 1000 + REQUEST_TIMEOUT_MS / 1000 + 1.5)
        assert_still_serving(s)
        # The handler gave up on that client (its access log line is written).
        line = wait_log(s, rf"GET {re.escape(path)} 200 (\d+)ms", 3)
        assert int(line.group(1)) < GRACE_MS + REQUEST_TIMEOUT_MS + 1500
    finally:
        c.close()


def wait_log(s, pattern: str, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        m = re.search(pattern, s.frontends[0].process.log_text())
        if m or time.monotonic() > deadline:
            assert m, f"no log line matching {pattern}"
            return m
        time.sleep(0.1)
