"""System tests of profai-frontend (docs/api.md) and profaictl (docs/profaictl.md).

Everything is real: a PostgreSQL cluster of this module's own (scripts/pg.sh, fixture
`private_pg_cluster` of conftest.py: the last test stops and starts it, others create databases
with fixed names), the schema applied from broker/migrations/ the way the broker records it, a
real ZeroMQ ROUTER playing the broker's client side (docs/protocol.md 3.3, it inserts the job
row and answers SUBMITTED, answers PING with PONG, or stays silent, or refuses, as a test
asks), real PDFs written with cairo, real HTTP, and bin/profai-frontend and bin/profaictl.
When bin/profai-broker exists, one test runs an upload through it as well.

Why one file of about 1,000 lines: every test here shares the private cluster and the fake
broker above; the API's newer rules have files of their own (test_tokens.py, test_limits.py,
test_fair.py, test_admin.py, test_metrics.py).

Run the frontend under a tool with PROFAI_TEST_WRAPPER, for example:
    PROFAI_TEST_WRAPPER="valgrind --leak-check=full --errors-for-leak-kinds=definite \
        --error-exitcode=99" /usr/bin/python3 -m pytest tests/system/test_frontend.py
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import cairo
import msgpack
import psycopg2
import psycopg2.extras
import pytest
import requests
import zmq

from stack import NO_LIMITS, BIN, ROOT, Process, free_port, wait_for, zpl

API = "/api/v1"
MAX_UPLOAD = 1024 * 1024  # the module's frontend runs with http/max_upload = 1M
BODY_TIMEOUT_MS = 1500
BROKER_TIMEOUT_MS = 800
TOKEN_RE = re.compile(r"^pai_[A-Za-z0-9_-]{43}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
JOB_FIELDS = ["job_id", "title", "state", "progress", "stage", "attempts", "error", "course_id",
              "queue_position", "estimated_start", "retry_at", "created_at", "started_at",
              "finished_at"]


# ---- PostgreSQL --------------------------------------------------------------------------------

def apply_migrations(conninfo: str) -> None:
    """What profai-broker does at start (docs/database.md, Migrations)."""
    conn = psycopg2.connect(conninfo)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY "
                        "KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
            for path in sorted((ROOT / "broker" / "migrations").glob("*.sql")):
                cur.execute(path.read_text())
                cur.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                            (int(path.name.split("_", 1)[0]), path.stem))
    finally:
        conn.close()


# ---- a broker stand-in on a real ROUTER --------------------------------------------------------

class BrokerStandIn:
    """Answers MDPC02 requests like profai-broker's client side: SUBMIT inserts the job row
    (as the broker does, before answering) and gets SUBMITTED; PING gets PONG. `mode` changes
    that: "answer", "silent" (no reply at all), or "refuse:<error_code>" for SUBMIT."""

    def __init__(self, conninfo: str):
        self.conninfo = conninfo
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.mode = "answer"
        self.submits: list[dict] = []
        self.pings = 0
        self._ctx = zmq.Context()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        self._stop.clear()
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "test broker did not bind"

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self._ctx.term()

    def _run(self) -> None:
        sock = self._ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(self.endpoint)
        self._ready.set()
        try:
            while not self._stop.is_set():
                if sock.poll(50):
                    self._handle(sock, sock.recv_multipart())
        finally:
            sock.close(0)

    def _insert_job(self, body: dict) -> str:
        """Commit the job row, as the broker does before it answers (a connection per job, so
        that a database restart in a test costs nothing)."""
        job_id = str(uuid.uuid4())
        conn = psycopg2.connect(self.conninfo)
        try:
            with conn, conn.cursor() as cur:
                cur.execute("INSERT INTO jobs (id, owner_id, title, filename, blob_sha256) "
                            "VALUES (%s, %s, %s, %s, %s)",
                            (job_id, body["owner"], body["title"], body["filename"],
                             body["sha256"]))
        finally:
            conn.close()
        return job_id

    def _handle(self, sock, frames: list[bytes]) -> None:
        if len(frames) != 5 or frames[1] != b"MDPC02" or frames[2] != b"\x01":
            return
        identity, service, body = frames[0], frames[3], msgpack.unpackb(frames[4], raw=False)
        if self.mode == "silent":
            return
        rid = body.get("rid", 0)
        if service == b"broker.ping":
            self.pings += 1
            reply = {"v": 1, "rid": rid, "ok": True, "db": True, "workers": 0, "queued": 0,
                     "running": 0}
        elif service == b"job.submit":
            self.submits.append(body)
            if self.mode.startswith("refuse:"):
                reply = {"v": 1, "rid": rid, "ok": False,
                         "error_code": self.mode.split(":", 1)[1], "error": "test broker"}
            else:
                reply = {"v": 1, "rid": rid, "ok": True, "job_id": self._insert_job(body),
                         "state": "queued"}
        else:
            reply = {"v": 1, "rid": rid, "ok": False, "error_code": "unknown_service",
                     "error": "no such service"}
        sock.send_multipart([identity, b"MDPC02", b"\x03", service, msgpack.packb(reply)])


# ---- the frontend ------------------------------------------------------------------------------

class RunningFrontend:
    """bin/profai-frontend with a config file; its port is read from its log."""

    def __init__(self, workdir: Path, name: str, conninfo: str, endpoint: str):
        self.conf = workdir / f"{name}.conf"
        self.conf.write_text(zpl({
            "http": {"listen": "127.0.0.1:0", "threads": 8, "max_upload": "1M",
                     "body_timeout": BODY_TIMEOUT_MS},
            "broker": {"endpoint": endpoint, "timeout": BROKER_TIMEOUT_MS},
            "database": {"conninfo": conninfo, "pool": 4},
            "auth": {"cache_ttl": 0},
            "limits": NO_LIMITS,
            "log": {"level": "debug"},
        }))
        wrapper = shlex.split(os.environ.get("PROFAI_TEST_WRAPPER", ""))
        self.process = Process(name, [*wrapper, BIN / "profai-frontend", "-c", self.conf],
                               workdir / f"{name}.log")
        self.url = ""
        self.port = 0

    def start(self) -> "RunningFrontend":
        self.process.start()

        def listening():
            assert self.process.alive, f"frontend exited:\n{self.process.tail()}"
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.process.log_text())
            return int(m.group(1)) if m else None
        self.port = wait_for("the frontend to listen", listening, 60)
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def stop(self) -> int | None:
        return self.process.stop(60)


# ---- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def workdir():
    path = Path(tempfile.mkdtemp(prefix="profai-fe-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def pg(private_pg_cluster):
    """The module's cluster; its database "profai" (pg.conninfo) has the schema."""
    for program in ("profai-frontend", "profaictl"):
        if not os.access(BIN / program, os.X_OK):
            pytest.fail(f"bin/{program} is not built (make bin/{program})")
    apply_migrations(private_pg_cluster.conninfo)
    return private_pg_cluster


@pytest.fixture(scope="module")
def db(pg):
    conn = psycopg2.connect(pg.conninfo)
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def broker(pg):
    b = BrokerStandIn(pg.conninfo)
    b.start()
    yield b
    b.close()


@pytest.fixture(scope="module")
def frontend(workdir, pg, broker):
    fe = RunningFrontend(workdir, "frontend", pg.conninfo, broker.endpoint).start()
    yield fe
    rc = fe.stop()
    log = fe.process.log_text()
    out = Path(os.environ.get("PROFAI_TEST_LOGDIR", ROOT / "tests" / "output"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "test_frontend.frontend.log").write_text(log)
    assert rc == 0, f"profai-frontend exited {rc} on SIGTERM:\n{fe.process.tail(60)}"


def profaictl(pg, *args, conninfo: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "profaictl"), "-d", conninfo or pg.conninfo, *args],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)


@pytest.fixture(scope="module")
def tokens(pg):
    """alice and bob teach, sam studies, root administers."""
    made = {}
    for name, role in (("alice", "teacher"), ("bob", "teacher"), ("sam", "student"),
                       ("root", "admin")):
        out = profaictl(pg, "token", "create", "--role", role, name)
        assert out.returncode == 0, out.stderr
        made[name] = out.stdout.strip()
    return made


@pytest.fixture(scope="module")
def user_ids(db, tokens):
    with db.cursor() as cur:
        cur.execute("SELECT name, id::text FROM users")
        return dict(cur.fetchall())


@pytest.fixture
def http(frontend, tokens):
    """requests against the frontend; http.get(path, as_="alice")."""
    return Client(frontend.url, tokens)


class Client:
    def __init__(self, url: str, tokens: dict):
        self.url = url
        self.tokens = tokens
        self.session = requests.Session()

    def headers(self, as_: str | None, extra: dict | None = None) -> dict:
        h = dict(extra or {})
        if as_ is not None:
            h["Authorization"] = f"Bearer {self.tokens.get(as_, as_)}"
        return h

    def get(self, path: str, as_: str | None = "alice", **kw) -> requests.Response:
        return self.session.get(self.url + path, headers=self.headers(as_, kw.pop("headers", None)),
                                timeout=30, **kw)

    def request(self, method: str, path: str, as_: str | None = "alice",
                **kw) -> requests.Response:
        return self.session.request(method, self.url + path,
                                    headers=self.headers(as_, kw.pop("headers", None)),
                                    timeout=30, **kw)

    def upload(self, pdf: bytes, as_: str = "alice", title: str | None = "Biology",
               filename: str | None = None, content_type: str = "application/pdf",
               query: str | None = None) -> requests.Response:
        """Raw-body upload; `query` replaces the query string built from title/filename."""
        if query is None:
            params = {k: v for k, v in (("title", title), ("filename", filename)) if v is not None}
            query = urllib.parse.urlencode(params)
        return self.session.post(f"{self.url}{API}/jobs?{query}", data=pdf,
                                 headers=self.headers(as_, {"Content-Type": content_type}),
                                 timeout=30)

    def upload_form(self, pdf: bytes, as_: str = "alice", title: str | None = "Biology",
                    filename: str = "notes.pdf") -> requests.Response:
        fields = {"file": (filename, pdf, "application/pdf")}
        if title is not None:
            fields["title"] = (None, title)
        return self.session.post(f"{self.url}{API}/jobs", files=fields,
                                 headers=self.headers(as_), timeout=30)


# ---- helpers -----------------------------------------------------------------------------------

def make_pdf(text: str | None = None, pages: int = 2) -> bytes:
    """A real, small PDF whose content (and so SHA-256) is unique per call."""
    text = text or f"ProfAI frontend test {uuid.uuid4()}"
    buf = io.BytesIO()
    surface = cairo.PDFSurface(buf, 595, 842)
    cr = cairo.Context(surface)
    for page in range(pages):
        cr.select_font_face("Sans")
        cr.set_font_size(14)
        cr.move_to(72, 72)
        cr.show_text(f"{text} page {page + 1}")
        cr.show_page()
    surface.finish()
    return buf.getvalue()


def assert_problem(r: requests.Response, status: int, kind: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == f"urn:profai:problem:{kind}"
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert set(body) == {"type", "title", "status", "detail"}
    return body


class RawHttp:
    """One TCP connection speaking HTTP/1.1 by hand: for what requests cannot do (stall,
    trickle, Expect: 100-continue, chunked bodies past a limit)."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    @staticmethod
    def head(method: str, path: str, headers: dict) -> bytes:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def _fill(self, timeout: float) -> bool:
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def read_response(self, timeout: float = 10, head: bool = False) -> tuple[int, dict, bytes]:
        """Status, headers (lower-case names) and body; head=True for the answer to a HEAD."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(max(0.01, deadline - time.monotonic())):
                raise ConnectionError(f"connection closed; got {self.buf!r}")
        header_block, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = header_block.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0")) if status >= 200 and not head else 0
        while len(self.buf) < length:
            if not self._fill(max(0.01, deadline - time.monotonic())):
                break
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body

    def closed_by_peer(self, timeout: float = 3) -> bool:
        try:
            self.sock.settimeout(timeout)
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def job_row(db, job_id: str) -> dict:
    with db.cursor() as cur:
        cur.execute("SELECT owner_id::text, title, filename, blob_sha256, state FROM jobs "
                    "WHERE id = %s", (job_id,))
        row = cur.fetchone()
    assert row is not None, f"no job row {job_id}"
    return dict(zip(["owner_id", "title", "filename", "blob_sha256", "state"], row))


def accepted(r: requests.Response) -> str:
    """The job id of a 202 answer, after checking its shape."""
    assert r.status_code == 202, r.text
    body = r.json()
    assert list(body) == ["job_id", "state", "status_url"]
    assert UUID_RE.match(body["job_id"])
    assert body["state"] == "queued"
    assert body["status_url"] == f"{API}/jobs/{body['job_id']}"
    assert r.headers["Location"] == body["status_url"]
    assert r.headers["Cache-Control"] == "no-store"
    return body["job_id"]


# ---- tests: basics -----------------------------------------------------------------------------

def test_index_and_healthz(http, broker):
    r = http.get(API, as_=None)
    assert r.status_code == 200
    index = r.json()
    assert index["service"] == "profai" and index["api"] == API
    assert index["docs"] == "docs/api.md" and f"GET {API}/courses" in index["endpoints"]
    r = http.get("/", as_=None)  # the web page (docs/web.md)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    r = http.get("/healthz", as_=None)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok" and body["broker"] is True and body["database"] is True
    assert body["workers"] == 0 and body["broker_database"] is True
    assert r.headers["Cache-Control"] == "no-store"


def test_head_and_keep_alive(frontend):
    conn = RawHttp(frontend.port)
    try:
        conn.send(RawHttp.head("HEAD", API, {}))
        status, headers, body = conn.read_response(head=True)
        assert status == 200 and body == b"" and int(headers["content-length"]) > 0
        assert headers["connection"] == "keep-alive"
        # the same connection serves the next request
        conn.send(RawHttp.head("GET", API, {}))
        status, headers, body = conn.read_response()
        assert status == 200 and b'"service":"profai"' in body
    finally:
        conn.close()


# ---- tests: uploads ----------------------------------------------------------------------------

def test_raw_upload_is_stored_and_submitted(http, db, broker, user_ids):
    pdf = make_pdf()
    r = http.upload(pdf, title="Cell Biology", filename="cells.pdf")
    job_id = accepted(r)
    sha = hashlib.sha256(pdf).hexdigest()
    with db.cursor() as cur:
        cur.execute("SELECT size, data FROM blobs WHERE sha256 = %s", (sha,))
        size, data = cur.fetchone()
    assert size == len(pdf) and bytes(data) == pdf
    assert job_row(db, job_id) == {"owner_id": user_ids["alice"], "title": "Cell Biology",
                                   "filename": "cells.pdf", "blob_sha256": sha,
                                   "state": "queued"}
    submit = broker.submits[-1]
    assert submit["owner"] == user_ids["alice"] and submit["sha256"] == sha
    assert submit["v"] == 1 and isinstance(submit["rid"], int)
    # the same PDF again: a new job, one blob
    job2 = accepted(http.upload(pdf, title="Again"))
    assert job2 != job_id
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM blobs WHERE sha256 = %s", (sha,))
        assert cur.fetchone()[0] == 1


def test_multipart_upload_is_stored_and_submitted(http, db, user_ids):
    pdf = make_pdf()
    r = http.upload_form(pdf, title="Zoë's notes", filename="notes.pdf")
    job_id = accepted(r)
    row = job_row(db, job_id)
    assert row["title"] == "Zoë's notes" and row["filename"] == "notes.pdf"
    assert row["blob_sha256"] == hashlib.sha256(pdf).hexdigest()
    # a client path is reduced to its last component; the title defaults to the file name
    job_id = accepted(http.upload_form(make_pdf(), title=None, filename="C:\\docs\\Genetics.pdf"))
    row = job_row(db, job_id)
    assert row["filename"] == "Genetics.pdf" and row["title"] == "Genetics"
    # a larger PDF arrives in many form chunks
    big = make_pdf(pages=300)
    assert len(big) > 64 * 1024
    job_id = accepted(http.upload_form(big))
    assert job_row(db, job_id)["blob_sha256"] == hashlib.sha256(big).hexdigest()


def test_upload_defaults(http, db):
    row = job_row(db, accepted(http.upload(make_pdf(), title=None, filename="Chemistry.PDF")))
    assert row["title"] == "Chemistry" and row["filename"] == "Chemistry.PDF"
    row = job_row(db, accepted(http.upload(make_pdf(), title=None)))
    assert row["title"] == "Untitled" and row["filename"] == "upload.pdf"
    row = job_row(db, accepted(http.upload(make_pdf(), title="")))
    assert row["title"] == "Untitled"
    row = job_row(db, accepted(http.upload(make_pdf(), title="é" * 100)))  # 200 bytes
    assert row["title"] == "é" * 100


def test_expect_100_continue(frontend, tokens, db):
    pdf = make_pdf()
    conn = RawHttp(frontend.port)
    try:
        conn.send(RawHttp.head("POST", f"{API}/jobs?title=Continued", {
            "Authorization": f"Bearer {tokens['alice']}", "Content-Type": "application/pdf",
            "Content-Length": len(pdf), "Expect": "100-continue"}))
        status, _, _ = conn.read_response(timeout=5)
        assert status == 100
        conn.send(pdf)
        status, headers, body = conn.read_response()
        assert status == 202, body
        assert headers["location"].startswith(f"{API}/jobs/")
    finally:
        conn.close()


@pytest.mark.parametrize("query, why", [
    ("title=%FF%FE", "invalid UTF-8"),
    ("title=" + "a" * 201, "201 bytes"),
    ("title=" + "%C3%A9" * 100 + "a", "201 bytes of UTF-8"),
    ("title=line%0Abreak", "control character"),
    ("title=nul%00byte", "NUL"),
    ("title=c1%C2%85control", "C1 control"),
    ("title=" + "a" * 2000, "far too long"),
    ("filename=" + "a" * 256, "filename over 255 bytes"),
    ("filename=bad%FF", "filename not UTF-8"),
])
def test_bad_title_or_filename_is_400(http, query, why):
    assert_problem(http.upload(make_pdf(), query=query), 400, "bad-request")


def test_bad_multipart_title_is_400(http):
    assert_problem(http.upload_form(make_pdf(), title="x" * 201), 400, "bad-request")
    assert_problem(http.upload_form(make_pdf(), title="a\x01b"), 400, "bad-request")


def test_multipart_without_file_is_400(http):
    r = http.session.post(f"{http.url}{API}/jobs", files={"title": (None, "No file")},
                          headers=http.headers("alice"), timeout=30)
    assert_problem(r, 400, "bad-request")


def test_over_limit_content_length_is_413_without_reading(frontend, tokens):
    conn = RawHttp(frontend.port)
    try:
        conn.send(RawHttp.head("POST", f"{API}/jobs", {
            "Authorization": f"Bearer {tokens['alice']}", "Content-Type": "application/pdf",
            "Content-Length": MAX_UPLOAD + 1, "Expect": "100-continue"}))
        status, headers, body = conn.read_response()
        assert status == 413, body  # and no "100 Continue" before it
        assert headers["connection"] == "close"
        assert conn.closed_by_peer()
    finally:
        conn.close()
    # without Expect the client starts sending; the server answers anyway and closes
    conn = RawHttp(frontend.port)
    try:
        conn.send(RawHttp.head("POST", f"{API}/jobs", {
            "Authorization": f"Bearer {tokens['alice']}", "Content-Type": "application/pdf",
            "Content-Length": 2 * MAX_UPLOAD}) + b"%PDF-1.4\n" + b"x" * 65536)
        status, headers, _ = conn.read_response()
        assert status == 413 and headers["connection"] == "close"
        assert conn.closed_by_peer()
    finally:
        conn.close()


def test_multipart_over_limit_is_413(frontend, tokens):
    for size in (MAX_UPLOAD + 10_000, 3 * MAX_UPLOAD):  # checked while streaming; up front
        prepared = requests.Request("POST", frontend.url, files={
            "file": ("big.pdf", b"%PDF-1.4\n" + b"x" * size, "application/pdf")}).prepare()
        body, content_type = prepared.body, prepared.headers["Content-Type"]
        conn = RawHttp(frontend.port)
        try:
            conn.send(RawHttp.head("POST", f"{API}/jobs", {
                "Authorization": f"Bearer {tokens['alice']}", "Content-Type": content_type,
                "Content-Length": len(body)}))
            try:
                conn.send(body)
            except OSError:
                pass  # the server stopped reading
            status, headers, _ = conn.read_response()
            assert status == 413 and headers["connection"] == "close"
        finally:
            conn.close()


def post_form(http, body: bytes, content_type: str = "multipart/form-data; boundary=XyZ"):
    return http.session.post(f"{http.url}{API}/jobs", data=body, timeout=30,
                             headers=http.headers("alice", {"Content-Type": content_type}))


def part(name: bytes, data: bytes, extra: bytes = b"", boundary: bytes = b"XyZ") -> bytes:
    return (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"" + name + b"\"" +
            extra + b"\r\n\r\n" + data + b"\r\n")


def test_hand_written_forms(http, db):
    pdf = make_pdf()
    # short boundary, a preamble, a quoted boundary parameter, a ';' inside a quoted file name,
    # an ignored field, and a title after the file
    body = (b"preamble to ignore\r\n" + part(b"other", b"ignored") +
            part(b"file", pdf, b'; filename="a;b.pdf"\r\nContent-Type: application/pdf') +
            part(b"title", b"Hand made") + b"--XyZ--\r\nepilogue")
    job_id = accepted(post_form(http, body, 'multipart/form-data; boundary="XyZ"'))
    row = job_row(db, job_id)
    assert row["title"] == "Hand made" and row["filename"] == "a;b.pdf"
    assert row["blob_sha256"] == hashlib.sha256(pdf).hexdigest()

    bad = {
        "two files": part(b"file", pdf, b'; filename="a.pdf"') * 2 + b"--XyZ--\r\n",
        "no closing boundary": part(b"file", pdf, b'; filename="a.pdf"'),
        "no boundary at all": b"not a form",
        "a part without name": b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--\r\n",
        "a part without headers": b"--XyZ\r\n\r\nx\r\n--XyZ--\r\n",
        "unterminated quote": b'--XyZ\r\nContent-Disposition: form-data; name="file\r\n\r\n'
                              + pdf + b"\r\n--XyZ--\r\n",
        "no file field": part(b"title", b"Only a title") + b"--XyZ--\r\n",
    }
    for why, body in bad.items():
        r = post_form(http, body)
        assert r.status_code == 400, (why, r.text)
        assert_problem(r, 400, "bad-request")
    assert_problem(post_form(http, part(b"file", pdf) + b"--XyZ--\r\n",
                             "multipart/form-data"), 400, "bad-request")  # no boundary param
    long_boundary = b"b" * 71
    assert_problem(post_form(http, part(b"file", pdf, boundary=long_boundary) + b"--" +
                             long_boundary + b"--\r\n",
                             "multipart/form-data; boundary=" + long_boundary.decode()),
                   400, "bad-request")


def test_over_limit_chunked_is_413(frontend, tokens):
    conn = RawHttp(frontend.port)
    try:
        conn.send(RawHttp.head("POST", f"{API}/jobs", {
            "Authorization": f"Bearer {tokens['alice']}", "Content-Type": "application/pdf",
            "Transfer-Encoding": "chunked"}))
        chunk = b"%PDF-1.4\n" + b"x" * (64 * 1024 - 9)
        sent = 0
        conn.sock.setblocking(True)
        while sent < 4 * MAX_UPLOAD:
            try:
                conn.send(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            except OSError:
                break  # the server stopped reading and closed
            sent += len(chunk)
            conn.sock.settimeout(0.02)
            try:
                data = conn.sock.recv(65536)
                conn.buf += data
                break  # the server answered (or closed)
            except socket.timeout:
                pass
        assert MAX_UPLOAD <= sent < 4 * MAX_UPLOAD, sent
        status, headers, _ = conn.read_response()
        assert status == 413 and headers["connection"] == "close"
    finally:
        conn.close()


def test_chunked_upload_within_limit_is_accepted(frontend, tokens):
    pdf = make_pdf()
    conn = RawHttp(frontend.port)
    try:
        conn.send(RawHttp.head("POST", f"{API}/jobs?title=Chunked", {
            "Authorization": f"Bearer {tokens['alice']}", "Content-Type": "application/pdf",
            "Transfer-Encoding": "chunked"}))
        for i in range(0, len(pdf), 500):
            piece = pdf[i:i + 500]
            conn.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
        conn.send(b"0\r\n\r\n")
        status, headers, body = conn.read_response()
        assert status == 202, body
        assert headers["connection"] == "keep-alive"
    finally:
        conn.close()


def test_not_a_pdf_is_415(http):
    assert_problem(http.upload(b"hello, this is not a PDF"), 415, "unsupported-media-type")
    assert_problem(http.upload(b" " * 1100 + b"%PDF-1.4\n"), 415, "unsupported-media-type")
    assert_problem(http.upload(b""), 415, "unsupported-media-type")
    assert_problem(http.upload(make_pdf(), content_type="text/plain"), 415,
                   "unsupported-media-type")
    r = http.session.post(f"{http.url}{API}/jobs", data=make_pdf(), timeout=30,
                          headers=http.headers("alice", {"Content-Type": ""}))
    assert_problem(r, 415, "unsupported-media-type")
    r = http.session.post(f"{http.url}{API}/jobs", timeout=30, headers=http.headers("alice"),
                          files={"file": ("x.pdf", b"GIF89a not a pdf", "application/pdf")})
    assert_problem(r, 415, "unsupported-media-type")
    # the PDF header may follow some junk, within the first 1024 bytes
    pdf = b"\n" * 100 + make_pdf()
    assert http.upload(pdf).status_code == 202


def test_slow_body_is_408(frontend, tokens):
    head = RawHttp.head("POST", f"{API}/jobs", {
        "Authorization": f"Bearer {tokens['alice']}", "Content-Type": "application/pdf",
        "Content-Length": 100000})
    # a client that stops sending
    conn = RawHttp(frontend.port)
    try:
        started = time.monotonic()
        conn.send(head + b"%PDF-1.4\n" + b"x" * 1000)
        status, headers, _ = conn.read_response(timeout=10)
        elapsed = time.monotonic() - started
        assert status == 408 and headers["connection"] == "close"
        assert BODY_TIMEOUT_MS / 1000 - 0.2 <= elapsed <= BODY_TIMEOUT_MS / 1000 + 1.5, elapsed
        assert conn.closed_by_peer()
    finally:
        conn.close()
    # a client that trickles: every read succeeds, the deadline still holds
    conn = RawHttp(frontend.port)
    try:
        started = time.monotonic()
        conn.send(head + b"%PDF-1.4\n")
        status = None
        while time.monotonic() - started < 8:
            try:
                conn.send(b"x" * 10)
            except OSError:
                break
            conn.sock.settimeout(0.1)
            try:
                conn.buf += conn.sock.recv(65536)
                break
            except socket.timeout:
                pass
        status, _, _ = conn.read_response(timeout=5)
        elapsed = time.monotonic() - started
        assert status == 408
        assert elapsed <= BODY_TIMEOUT_MS / 1000 + 1.5, elapsed
    finally:
        conn.close()


# ---- tests: reading jobs -----------------------------------------------------------------------

def test_job_is_visible_to_its_owner_and_admins_only(http, db):
    job_id = accepted(http.upload(make_pdf(), title="Owned"))
    r = http.get(f"{API}/jobs/{job_id}")
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Content-Type"].startswith("application/json")
    job = r.json()
    assert list(job) == JOB_FIELDS
    assert job["job_id"] == job_id and job["title"] == "Owned" and job["state"] == "queued"
    assert job["progress"] == 0 and job["stage"] == "queued" and job["attempts"] == 0
    assert job["error"] is None and job["course_id"] is None
    assert ISO_RE.match(job["created_at"])
    assert job["started_at"] is None and job["finished_at"] is None

    assert_problem(http.get(f"{API}/jobs/{job_id}", as_="bob"), 404, "not-found")
    assert_problem(http.get(f"{API}/jobs/{job_id}", as_="sam"), 403, "forbidden")
    assert http.get(f"{API}/jobs/{job_id}", as_="root").json()["job_id"] == job_id
    assert http.get(f"{API}/jobs/{job_id.upper()}").status_code == 200
    assert_problem(http.get(f"{API}/jobs/{uuid.uuid4()}"), 404, "not-found")
    assert_problem(http.get(f"{API}/jobs/not-a-uuid"), 404, "not-found")
    assert_problem(http.get(f"{API}/jobs/'; DROP TABLE jobs; --"), 404, "not-found")

    # a failed job shows its error; timestamps are ISO 8601 UTC
    with db.cursor() as cur:
        cur.execute("UPDATE jobs SET state = 'failed', error_code = 'not_pdf', "
                    "error = 'no PDF header', started_at = now(), finished_at = now(), "
                    "attempts = 1, progress = 5, stage = 'parsing' WHERE id = %s", (job_id,))
    job = http.get(f"{API}/jobs/{job_id}").json()
    assert job["state"] == "failed" and job["attempts"] == 1 and job["progress"] == 5
    assert job["error"] == {"code": "not_pdf", "message": "no PDF header"}
    assert ISO_RE.match(job["started_at"]) and ISO_RE.match(job["finished_at"])


def test_job_list(http):
    mine = [accepted(http.upload(make_pdf(), title=f"List {i}")) for i in range(3)]
    theirs = accepted(http.upload(make_pdf(), as_="bob", title="Bob's"))
    jobs = http.get(f"{API}/jobs?limit=100").json()["jobs"]
    ids = [j["job_id"] for j in jobs]
    assert theirs not in ids
    assert ids[:3] == mine[::-1]  # newest first
    assert all(list(j) == JOB_FIELDS for j in jobs)
    assert len(http.get(f"{API}/jobs").json()["jobs"]) == min(20, len(ids))
    assert [j["job_id"] for j in http.get(f"{API}/jobs?limit=1").json()["jobs"]] == [mine[-1]]
    admin_ids = [j["job_id"] for j in http.get(f"{API}/jobs?limit=100", as_="root").json()["jobs"]]
    assert theirs in admin_ids and mine[0] in admin_ids
    for bad in ("0", "101", "abc", "-1", "1.5", ""):
        assert_problem(http.get(f"{API}/jobs?limit={bad}"), 400, "bad-request")
    assert_problem(http.get(f"{API}/jobs", as_="sam"), 403, "forbidden")


def test_course_is_served_with_id_and_job_id_first(http, db, user_ids):
    job_id = accepted(http.upload(make_pdf(), title="Physics"))
    course_id = str(uuid.uuid4())
    doc = {"title": "Physics",
           "source": {"filename": "upload.pdf", "sha256": "0" * 64, "pages": 2,
                      "pdf_title": None, "author": None},
           "structure": "pages",
           "modules": [{"title": "Pages 1-2", "page_start": 1, "page_end": 2, "generated": True,
                        "lessons": [{"title": "Pages 1-2", "page_start": 1, "page_end": 2,
                                     "text": "Newton's laws \u00e9t\u00e9 \"quoted\""}]}]}
    with db.cursor() as cur:
        cur.execute("INSERT INTO courses (id, job_id, owner_id, title, doc) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (course_id, job_id, user_ids["alice"], "Physics", psycopg2.extras.Json(doc)))
        cur.execute("UPDATE jobs SET state = 'succeeded', course_id = %s, progress = 100, "
                    "stage = 'done', finished_at = now() WHERE id = %s", (course_id, job_id))
        # Published to a class of alice's with sam in it (issue 14: students see published
        # courses only, teachers their own: bob does not see it).
        cur.execute("WITH k AS (INSERT INTO classes (owner_id, name, join_code) "
                    "VALUES (%s, 'physics', 'PHYSICS234') RETURNING id), "
                    "m AS (INSERT INTO class_members SELECT k.id, %s FROM k) "
                    "INSERT INTO class_courses SELECT k.id, %s FROM k",
                    (user_ids["alice"], user_ids["sam"], course_id))
    assert_problem(http.get(f"{API}/courses/{course_id}", as_="bob"), 404, "not-found")
    for who in ("sam", "alice", "root"):
        r = http.get(f"{API}/courses/{course_id}", as_=who)
        assert r.status_code == 200, r.text
        assert r.text.startswith(f'{{"id":"{course_id}","job_id":"{job_id}",')
        # Curation (docs/api.md 4.26) adds the revision and questions per attempt.
        assert r.json() == {"id": course_id, "job_id": job_id, "revision": 0,
                            "questions_per_attempt": None, **doc}
    assert http.get(f"{API}/jobs/{job_id}").json()["course_id"] == course_id
    assert_problem(http.get(f"{API}/courses/{uuid.uuid4()}", as_="sam"), 404, "not-found")
    assert_problem(http.get(f"{API}/courses/nope", as_="sam"), 404, "not-found")
    assert_problem(http.get(f"{API}/courses/{course_id}", as_=None), 401, "unauthorized")


# ---- tests: errors -----------------------------------------------------------------------------

def test_authentication_failures_are_401(http, tokens):
    r = http.get(f"{API}/jobs", as_=None)
    assert_problem(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    for value in ("Basic YWxpY2U6cHc=", "Bearer", "Bearer pai_short",
                  f"Bearer {tokens['alice']}x", f"Bearer {tokens['alice'][:-1]}!",
                  "Bearer pai_" + "A" * 43, f"Bearer {tokens['alice']} extra"):
        r = http.session.get(f"{http.url}{API}/jobs", headers={"Authorization": value},
                             timeout=30)
        assert_problem(r, 401, "unauthorized")
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    ok = http.session.get(f"{http.url}{API}/jobs", timeout=30,
                          headers={"Authorization": f"bearer   {tokens['alice']}  "})
    assert ok.status_code == 200


def test_unknown_routes_and_methods(http):
    assert_problem(http.get("/nope"), 404, "not-found")
    assert_problem(http.get("/api/v2"), 404, "not-found")
    assert_problem(http.get(f"{API}/jobs/{uuid.uuid4()}/extra"), 404, "not-found")
    assert_problem(http.get("/index.html", as_=None), 404, "not-found")
    r = http.request("DELETE", f"{API}/jobs")
    assert_problem(r, 405, "method-not-allowed")
    assert r.headers["Allow"] == "GET, HEAD, POST"
    r = http.request("PUT", f"{API}/jobs/{uuid.uuid4()}")
    assert_problem(r, 405, "method-not-allowed")
    assert r.headers["Allow"] == "GET, HEAD, DELETE"
    assert_problem(http.get("/app/nope.js", as_=None), 404, "not-found")
    r = http.request("POST", "/healthz", as_=None)
    assert_problem(r, 405, "method-not-allowed")


def test_students_may_not_upload(http):
    assert_problem(http.upload(make_pdf(), as_="sam"), 403, "forbidden")


def test_broker_refusals(http, broker):
    try:
        for code in ("db_unavailable", "overloaded"):
            broker.mode = f"refuse:{code}"
            r = http.upload(make_pdf())
            assert_problem(r, 503, "unavailable")
            assert r.headers["Retry-After"] == "5"
        broker.mode = "refuse:unknown_owner"
        assert_problem(http.upload(make_pdf()), 500, "internal")
    finally:
        broker.mode = "answer"
    accepted(http.upload(make_pdf()))


def test_silent_or_stopped_broker_is_503(http, broker):
    try:
        broker.mode = "silent"
        started = time.monotonic()
        r = http.upload(make_pdf())
        assert_problem(r, 503, "unavailable")
        assert r.headers["Retry-After"] == "5"
        assert time.monotonic() - started < BROKER_TIMEOUT_MS / 1000 + 2
        r = http.get("/healthz", as_=None)
        assert r.status_code == 503 and r.headers["Retry-After"] == "5"
        assert r.json()["broker"] is False and r.json()["database"] is True
        assert r.json()["status"] == "unavailable" and r.json()["workers"] is None
    finally:
        broker.mode = "answer"
    accepted(http.upload(make_pdf()))  # the late replies to the silent requests are ignored

    broker.stop()
    try:
        r = http.upload(make_pdf())
        assert_problem(r, 503, "unavailable")
        assert r.headers["Retry-After"] == "5"
        assert http.get("/healthz", as_=None).json()["broker"] is False
    finally:
        broker.start()
    wait_for("healthz 200 after the broker is back",
             lambda: http.get("/healthz", as_=None).status_code == 200, 15)
    accepted(http.upload(make_pdf()))


# ---- tests: profaictl --------------------------------------------------------------------------

def test_profaictl_tokens(pg, http, db):
    out = profaictl(pg, "token", "create", "--role", "teacher", "carol")
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    assert out.stdout == token + "\n" and TOKEN_RE.match(token)
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM tokens WHERE hash = %s",
                    (hashlib.sha256(token.encode()).digest(),))
        assert cur.fetchone()[0] == 1
    second = profaictl(pg, "token", "create", "--role", "teacher", "carol").stdout.strip()
    assert TOKEN_RE.match(second) and second != token

    assert http.get(f"{API}/jobs", as_=token).status_code == 200
    listing = profaictl(pg, "token", "list")
    assert listing.returncode == 0
    assert "carol" in listing.stdout and "teacher" in listing.stdout
    assert token not in listing.stdout and "pai_" not in listing.stdout
    users = profaictl(pg, "user", "list")
    assert re.search(r"^carol\s+teacher\s+\S+ \S+\s+2$", users.stdout, re.M), users.stdout

    wrong_role = profaictl(pg, "token", "create", "--role", "student", "carol")
    assert wrong_role.returncode == 1 and "role teacher" in wrong_role.stderr
    assert wrong_role.stdout == ""

    revoked = profaictl(pg, "token", "revoke", "carol")
    assert revoked.returncode == 0 and "2" in revoked.stdout
    assert_problem(http.get(f"{API}/jobs", as_=token), 401, "unauthorized")
    assert_problem(http.get(f"{API}/jobs", as_=second), 401, "unauthorized")
    # ID, NAME, ROLE, CREATED, EXPIRES (90 days by default), REVOKED (issue 9), LABEL (issue 14)
    assert re.search(r"^\S+\s+carol\s+teacher\s+\S+ \S+\s+\S+ \S+Z\s+\S+ \S+Z\s+-$",
                     profaictl(pg, "token", "list").stdout, re.M)

    assert profaictl(pg, "token", "revoke", "nobody").returncode == 1
    assert profaictl(pg, "token", "create", "--role", "king", "dave").returncode == 2
    assert profaictl(pg, "token", "create", "bad name").returncode == 2
    assert profaictl(pg, "token", "create", "--role", "teacher", "bad name").returncode == 2
    assert profaictl(pg, "frobnicate").returncode == 2
    assert profaictl(pg, "--version").stdout.startswith("profaictl ")


def test_profaictl_explains_database_problems(pg, workdir):
    empty = pg.create_database("empty")
    out = profaictl(pg, "token", "list", conninfo=empty)
    assert out.returncode == 1 and "run profai-broker once" in out.stderr
    out = profaictl(pg, "user", "list", conninfo=f"host={workdir} port=1 dbname=x")
    assert out.returncode == 1 and "cannot connect to the database" in out.stderr
    # the conninfo can come from a config file or the environment
    conf = workdir / "ctl.conf"
    conf.write_text(zpl({"database": {"conninfo": pg.conninfo}}))
    out = subprocess.run([str(BIN / "profaictl"), "-c", str(conf), "user", "list"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    assert out.returncode == 0 and "alice" in out.stdout
    out = subprocess.run([str(BIN / "profaictl"), "user", "list"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, timeout=30,
                         env={**os.environ, "PROFAI_DATABASE": pg.conninfo})
    assert out.returncode == 0 and "alice" in out.stdout


def test_frontend_waits_for_a_schema_but_refuses_an_older_one(pg, workdir, broker, tokens):
    conninfo = pg.create_database("later")
    fe = RunningFrontend(workdir, "frontend-later", conninfo, broker.endpoint)
    try:
        fe.start()  # no schema yet: it serves, answering 503 where the database is needed
        client = Client(fe.url, tokens)
        r = client.get("/healthz", as_=None)
        assert r.status_code == 503 and r.json()["database"] is False
        assert_problem(client.get(f"{API}/jobs"), 503, "unavailable")
        apply_migrations(conninfo)  # what the broker does when it starts
        wait_for("the frontend to see the schema",
                 lambda: client.get("/healthz", as_=None).status_code == 200, 15)
        assert_problem(client.get(f"{API}/jobs"), 401, "unauthorized")  # other users table
        assert fe.stop() == 0
    finally:
        fe.process.kill_group()

    conninfo = pg.create_database("older")
    conn = psycopg2.connect(conninfo)
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text "
                    "NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        cur.execute("INSERT INTO schema_migrations VALUES (-1, 'older than any')")
    conn.close()
    fe = RunningFrontend(workdir, "frontend-older", conninfo, broker.endpoint)
    fe.process.start()
    try:
        assert fe.process.wait_exit(30) == 1
        assert "schema is at version -1" in fe.process.log_text()
    finally:
        fe.process.kill_group()


# ---- tests: the real broker --------------------------------------------------------------------

@pytest.mark.skipif(not os.access(BIN / "profai-broker", os.X_OK),
                    reason="bin/profai-broker is not built")
def test_upload_through_the_real_broker(pg, workdir, tokens, db, user_ids):
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    conf = workdir / "broker.conf"
    conf.write_text(zpl({"broker": {"endpoint": endpoint},
                         "database": {"conninfo": pg.conninfo}, "log": {"level": "debug"}}))
    broker = Process("broker", [BIN / "profai-broker", "-c", conf], workdir / "broker.log")
    broker.start()
    fe = RunningFrontend(workdir, "frontend-real", pg.conninfo, endpoint)
    try:
        fe.start()
        client = Client(fe.url, tokens)
        wait_for("healthz 200 through the real broker",
                 lambda: client.get("/healthz", as_=None).status_code == 200, 20,
                 on_timeout=lambda: broker.tail() + "\n" + fe.process.tail())
        pdf = make_pdf()
        job_id = accepted(client.upload(pdf, title="Real broker"))
        job = client.get(f"{API}/jobs/{job_id}").json()
        assert job["title"] == "Real broker" and job["state"] in ("queued", "running")
        assert job_row(db, job_id)["owner_id"] == user_ids["alice"]
        assert fe.stop() == 0
    finally:
        fe.process.kill_group()
        broker.stop()


# ---- tests: the database going away (last: it restarts the cluster) ----------------------------

def test_database_down_is_503_and_recovers(http, pg):
    assert http.get(f"{API}/jobs").status_code == 200  # the pool holds live connections
    pg.stop()
    try:
        r = http.get(f"{API}/jobs")
        assert_problem(r, 503, "unavailable")
        assert r.headers["Retry-After"] == "5"
        r = http.get("/healthz", as_=None)
        assert r.status_code == 503
        assert r.json()["database"] is False and r.json()["broker"] is True
    finally:
        pg.start()
    # broken connections are reset and the next requests work again
    wait_for("the frontend to use the database again",
             lambda: http.get(f"{API}/jobs").status_code == 200, 15)
    assert http.get("/healthz", as_=None).status_code == 200
    accepted(http.upload(make_pdf()))
