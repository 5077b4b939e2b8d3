"""System tests of profai-broker on its own.

A private PostgreSQL cluster (initdb into a temporary directory, unix socket only), the real
bin/profai-broker, and Python peers that speak the wire protocol over real ZeroMQ DEALER
sockets: workers speaking MDPW02 (ZeroMQ RFC 18), clients speaking MDPC02, msgpack bodies as in
docs/protocol.md. Nothing is mocked; faults are real (kill -9, a worker that goes silent,
PostgreSQL stopped and started again).

    pg = PrivatePostgres(); pg.start()          # once per module (fixture `private_pg`)
    env = BrokerEnv(pg, outdir)                 # a fresh database and a broker on a free port
    owner, sha = env.add_user(), env.add_blob(pdf)
    reply = env.client().submit(owner, sha, "Biology")
    worker = env.worker(); worker.ready()
    token, job = worker.expect_request()
    worker.final_ok(token, course_json)
    env.wait_job(job_id, "succeeded")

Run: /usr/bin/python3 -m pytest tests/system/test_broker.py (needs bin/profai-broker).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import cairo
import msgpack
import psycopg2
import pytest
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import BIN  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BROKER = BIN / "profai-broker"
# e.g. PROFAI_BROKER_WRAPPER="valgrind --leak-check=full --error-exitcode=99" to check leaks.
BROKER_WRAPPER = os.environ.get("PROFAI_BROKER_WRAPPER", "").split()

HEARTBEAT_IVL = 200  # ms, small so that the tests are fast
LIVENESS = 3
DEAD_AFTER = HEARTBEAT_IVL * LIVENESS / 1000  # s of silence before a worker is dead
ORPHAN_GRACE = 2 * DEAD_AFTER  # s a restarted broker waits for an orphan's worker

W_READY, W_REQUEST, W_PARTIAL, W_FINAL, W_HEARTBEAT, W_DISCONNECT = (
    bytes([i]) for i in range(1, 7))


# ---- helpers -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what: str, predicate, timeout: float = 10.0, step: float = 0.05):
    """Poll predicate until it returns something truthy; fail with `what` on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def make_pdf(title: str, pages: int = 2) -> bytes:
    """A real PDF with a line of text per page (cairo, as poppler's tests do)."""
    out = io.BytesIO()
    surface = cairo.PDFSurface(out, 595, 842)
    ctx = cairo.Context(surface)
    for page in range(1, pages + 1):
        ctx.move_to(72, 72)
        ctx.set_font_size(14)
        ctx.show_text(f"{title}: page {page}")
        ctx.show_page()
    surface.finish()
    return out.getvalue()


def course_doc(title: str) -> bytes:
    return json.dumps({
        "title": title,
        "source": {"filename": "x.pdf", "sha256": "0" * 64, "pages": 2, "pdf_title": None,
                   "author": None},
        "structure": "pages",
        "modules": [{"title": "Pages 1-2", "page_start": 1, "page_end": 2, "generated": True,
                     "lessons": [{"title": "Page 1", "page_start": 1, "page_end": 2,
                                  "text": "Hello"}]}],
    }).encode()


# ---- PostgreSQL ----------------------------------------------------------------------------------

class PrivatePostgres:
    """A throw-away cluster listening on a unix socket only. PostgreSQL refuses to run as
    root, so as root the server runs as an unprivileged system user (created if missing)."""

    USER = "profai"

    def __init__(self):
        self.bindir = Path(subprocess.check_output(["pg_config", "--bindir"], text=True).strip())
        self.dir = Path(tempfile.mkdtemp(prefix="profai-broker-test-"))
        self.data = self.dir / "data"
        self.sock = self.dir / "sock"
        self.sock.mkdir()
        self.port = free_port()
        self.proc = None
        self.run_as = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(self.USER)
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", self.USER], check=True)
            self.run_as = self.USER
            uid = pwd.getpwnam(self.USER).pw_uid
            for path in (self.dir, self.sock):
                os.chown(path, uid, -1)

    def _argv(self, *argv) -> list[str]:
        return (["runuser", "-u", self.run_as, "--"] if self.run_as else []) + list(argv)

    def start(self):
        if not self.data.exists():
            subprocess.run(self._argv(str(self.bindir / "initdb"), "-D", str(self.data), "-U",
                                      "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
                                      "--no-sync"),
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        log = open(self.dir / "postgres.log", "ab")
        self.proc = subprocess.Popen(
            self._argv(str(self.bindir / "postgres"), "-D", str(self.data), "-k", str(self.sock),
                       "-p", str(self.port), "-c", "listen_addresses=", "-c", "fsync=off"),
            stdout=log, stderr=log, start_new_session=True)
        log.close()
        wait_until("PostgreSQL to accept connections", self._accepts, timeout=30)

    def _accepts(self) -> bool:
        try:
            psycopg2.connect(self.conninfo("postgres")).close()
            return True
        except psycopg2.OperationalError:
            return False

    def stop(self):
        """Fast shutdown (SIGINT to the postmaster), as an operator's restart would do."""
        if self.proc is None:
            return
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGINT)
        self.proc.wait(timeout=30)
        self.proc = None

    def destroy(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def conninfo(self, dbname: str) -> str:
        return f"host={self.sock} port={self.port} user=postgres dbname={dbname}"

    def create_database(self, name: str):
        conn = psycopg2.connect(self.conninfo("postgres"))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()


@pytest.fixture(scope="module")
def private_pg():
    pg = PrivatePostgres()
    pg.start()
    yield pg
    pg.destroy()


# ---- peers -------------------------------------------------------------------------------------

class Worker:
    """An RFC 18 worker on a DEALER socket. Every wait sends HEARTBEAT each interval, as a
    live worker does, unless heartbeats are switched off."""

    def __init__(self, ctx: zmq.Context, endpoint: str):
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.heartbeats = True
        self.last_sent = 0.0

    def send(self, *frames: bytes):
        self.sock.send_multipart([b"MDPW02", *frames])
        self.last_sent = time.monotonic()

    def ready(self, service: bytes = b"course.build"):
        self.send(W_READY, service)

    def partial(self, token: bytes, progress: int, stage: str = "text"):
        self.send(W_PARTIAL, token, b"", msgpack.packb(
            {"v": 1, "progress": progress, "stage": stage, "page": 1, "pages": 2}))

    def final_ok(self, token: bytes, course: bytes):
        self.send(W_FINAL, token, b"", msgpack.packb({"v": 1, "ok": True, "course": course}))

    def final_error(self, token: bytes, code: str, error: str):
        self.send(W_FINAL, token, b"", msgpack.packb(
            {"v": 1, "ok": False, "error_code": code, "error": error}))

    def pump(self):
        if self.heartbeats and time.monotonic() - self.last_sent >= HEARTBEAT_IVL / 1000:
            self.send(W_HEARTBEAT)

    def recv(self, timeout: float = 5.0) -> list[bytes] | None:
        """The next message other than HEARTBEAT, or None after timeout."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.pump()
            if self.sock.poll(int(min(left, HEARTBEAT_IVL / 2000) * 1000) + 1):
                frames = self.sock.recv_multipart()
                if frames != [b"MDPW02", W_HEARTBEAT]:
                    return frames
        return None

    def expect_request(self, timeout: float = 5.0) -> tuple[bytes, dict]:
        frames = self.recv(timeout)
        assert frames is not None, "no REQUEST arrived"
        assert frames[:2] == [b"MDPW02", W_REQUEST] and len(frames) == 5 and frames[3] == b"", \
            frames[:4]
        return frames[2], msgpack.unpackb(frames[4], raw=False)

    def expect_disconnect(self, timeout: float = 3.0):
        frames = self.recv(timeout)
        assert frames == [b"MDPW02", W_DISCONNECT], frames

    def close(self):
        self.sock.close(0)


class Client:
    """An MDPC02 client on a DEALER socket."""

    def __init__(self, ctx: zmq.Context, endpoint: str):
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.rid = 0

    def request(self, service: str, body, timeout: float = 5.0) -> dict:
        """Send a REQUEST (body: a dict, encoded with rid, or raw bytes); the FINAL's body."""
        if isinstance(body, dict):
            self.rid += 1
            body = msgpack.packb({"v": 1, "rid": self.rid, **body})
        self.sock.send_multipart([b"MDPC02", b"\x01", service.encode(), body])
        assert self.sock.poll(int(timeout * 1000)), f"no reply from {service}"
        frames = self.sock.recv_multipart()
        assert frames[:3] == [b"MDPC02", b"\x03", service.encode()] and len(frames) == 4, frames
        return msgpack.unpackb(frames[3], raw=False)

    def submit(self, owner: str, sha256: str, title: str = "Biology") -> dict:
        return self.request("job.submit", {"owner": owner, "title": title,
                                           "filename": "course.pdf", "sha256": sha256})

    def ping(self) -> dict:
        return self.request("broker.ping", {})

    def close(self):
        self.sock.close(0)


def serve(workers: list[Worker], done, timeout: float = 15.0, course=course_doc):
    """Let workers answer every REQUEST with a course until done() is true."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "jobs did not finish in time"
        for w in workers:
            frames = w.recv(timeout=0.02)
            if frames and frames[1] == W_REQUEST:
                job = msgpack.unpackb(frames[4], raw=False)
                w.final_ok(frames[2], course(job["title"]))


# ---- the broker under test -------------------------------------------------------------------

class BrokerEnv:
    """A fresh database and a broker bound to a free port, configured through a ZPL file."""

    def __init__(self, pg: PrivatePostgres, outdir: Path, **conf):
        self.pg = pg
        self.outdir = outdir
        self.dbname = "t_" + uuid.uuid4().hex[:12]
        pg.create_database(self.dbname)
        self.port = free_port()
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.conf = {"heartbeat_ivl": HEARTBEAT_IVL, "liveness": LIVENESS, **conf}
        self.proc = None
        self.ctx = zmq.Context()
        self.peers = []
        self._db = None
        self.log_path = outdir / "broker.log"

    def write_config(self) -> Path:
        path = self.outdir / "broker.conf"
        lines = ["broker", f'    endpoint = "{self.endpoint}"']
        lines += [f"    {k} = {v}" for k, v in self.conf.items()]
        lines += ["database", f'    conninfo = "{self.pg.conninfo(self.dbname)}"',
                  "log", "    level = debug", ""]
        path.write_text("\n".join(lines))
        return path

    def start(self, wait_db: bool = True):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([*BROKER_WRAPPER, str(BROKER), "-c", str(self.write_config())],
                                     stdout=log, stderr=log)
        log.close()
        wait_until("the broker to answer pings", lambda: self._ping_once(wait_db), timeout=20)

    def _ping_once(self, wait_db: bool) -> bool:
        """One ping on a fresh socket (a lazy-pirate client: a lost request is not retried
        on the same socket)."""
        assert self.proc.poll() is None, f"broker exited with {self.proc.returncode}"
        probe = Client(self.ctx, self.endpoint)
        try:
            pong = probe.request("broker.ping", {}, timeout=0.3)
        except AssertionError:
            return False
        finally:
            probe.close()
        return pong["ok"] and (pong["db"] or not wait_db)

    def stop(self) -> int:
        """SIGTERM; the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=15)

    def kill9(self):
        self.proc.kill()
        self.proc.wait(timeout=5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker(self) -> Worker:
        w = Worker(self.ctx, self.endpoint)
        self.peers.append(w)
        return w

    def client(self) -> Client:
        c = Client(self.ctx, self.endpoint)
        self.peers.append(c)
        return c

    # -- database --
    def db(self):
        if self._db is None or self._db.closed:
            self._db = psycopg2.connect(self.pg.conninfo(self.dbname))
            self._db.autocommit = True
        return self._db

    def query(self, sql: str, *args) -> list[tuple]:
        for retry in (True, False):
            try:
                with self.db().cursor() as cur:
                    cur.execute(sql, args)
                    return cur.fetchall() if cur.description else []
            except psycopg2.OperationalError:  # the server was restarted under us
                self._db.close()
                if not retry:
                    raise

    def add_user(self) -> str:
        return self.query("INSERT INTO users (name, role) VALUES (%s, 'teacher') RETURNING id",
                          "t" + uuid.uuid4().hex[:20])[0][0]

    def add_blob(self, pdf: bytes) -> str:
        sha = hashlib.sha256(pdf).hexdigest()
        self.query("INSERT INTO blobs (sha256, size, data) VALUES (%s, %s, %s)"
                   " ON CONFLICT DO NOTHING", sha, len(pdf), psycopg2.Binary(pdf))
        return sha

    def job(self, job_id: str) -> dict:
        rows = self.query("SELECT state, attempts, progress, stage, worker, error_code, error,"
                          " course_id::text FROM jobs WHERE id = %s", job_id)
        if not rows:
            return {}
        keys = ["state", "attempts", "progress", "stage", "worker", "error_code", "error",
                "course_id"]
        return dict(zip(keys, rows[0]))

    def courses(self, job_id: str) -> list[tuple]:
        return self.query("SELECT id::text, doc FROM courses WHERE job_id = %s", job_id)

    def wait_job(self, job_id: str, state: str, timeout: float = 10.0) -> dict:
        return wait_until(f"job {job_id} to be {state}",
                          lambda: (j := self.job(job_id)).get("state") == state and j,
                          timeout=timeout)

    def close(self):
        for p in self.peers:
            p.close()
        if self._db is not None:
            self._db.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.ctx.term()


@pytest.fixture
def make_env(private_pg, request):
    """A factory of BrokerEnv (already started); every broker is stopped at teardown and must
    exit 0 on SIGTERM unless the test killed it. On failure the broker log is printed."""
    envs = []
    base = Path(tempfile.mkdtemp(prefix="profai-broker-out-"))

    def make(start: bool = True, **conf) -> BrokerEnv:
        outdir = base / str(len(envs))
        outdir.mkdir()
        env = BrokerEnv(private_pg, outdir, **conf)
        envs.append(env)
        if start:
            env.start()
        return env

    yield make
    try:
        for env in envs:
            if env.proc is not None and env.proc.poll() is None:
                assert env.stop() == 0, "broker did not exit cleanly on SIGTERM"
    finally:
        rep = getattr(request.node, "rep_call", None)
        for env in envs:
            env.close()
            if rep is None or rep.failed:
                print(f"---- broker log ({env.dbname}) ----\n" + env.log()[-6000:])
        if os.environ.get("PROFAI_KEEP_LOGS"):
            print(f"logs kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def env(make_env) -> BrokerEnv:
    return make_env()


# ---- tests -------------------------------------------------------------------------------------

def test_help_version_and_usage_errors():
    out = subprocess.run([str(BROKER), "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for key in ("broker/endpoint", "broker/heartbeat_ivl", "broker/liveness",
                "broker/max_attempts", "broker/max_pending_writes", "database/conninfo",
                "log/level", "--database", "--endpoint", "--log-level", "--config"):
        assert key in out.stdout
    out = subprocess.run([str(BROKER), "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("profai-broker ")
    assert subprocess.run([str(BROKER), "--no-such-option"], capture_output=True).returncode == 2
    assert subprocess.run([str(BROKER), "-d", "this is = not valid"],
                          capture_output=True).returncode == 2


def test_submit_dispatch_progress_and_success(env):
    pdf = make_pdf("Biology")
    owner, sha = env.add_user(), env.add_blob(pdf)
    client = env.client()

    reply = client.submit(owner, sha, "Biology")
    assert reply["ok"] is True and reply["state"] == "queued" and reply["rid"] == client.rid
    job_id = reply["job_id"]
    assert env.job(job_id)["state"] == "queued"  # committed before the reply

    worker = env.worker()
    worker.ready()
    token, job = worker.expect_request()
    assert token == f"{job_id}/1".encode()
    assert job["job_id"] == job_id and job["attempt"] == 1 and job["title"] == "Biology"
    assert job["filename"] == "course.pdf" and job["sha256"] == sha and job["pdf"] == pdf
    row = env.job(job_id)
    assert row["state"] == "running" and row["attempts"] == 1 and row["worker"]

    for p in (10, 30, 55):  # coalesced: the latest value reaches the database
        worker.partial(token, p, "text")
    wait_until("progress 55 stored", lambda: env.job(job_id)["progress"] == 55, timeout=3)
    assert env.job(job_id)["stage"] == "text"

    worker.final_ok(token, course_doc("Biology"))
    done = env.wait_job(job_id, "succeeded")
    assert done["progress"] == 100 and done["error_code"] is None
    courses = env.courses(job_id)
    assert len(courses) == 1 and courses[0][0] == done["course_id"]
    assert courses[0][1]["title"] == "Biology"

    pong = client.ping()
    assert pong["ok"] and pong["db"] and pong["rid"] == client.rid
    assert (pong["workers"], pong["queued"], pong["running"]) == (1, 0, 0)


def test_submission_refusals_and_unknown_service(env):
    client = env.client()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Refusals"))

    assert client.submit(str(uuid.uuid4()), sha)["error_code"] == "unknown_owner"
    reply = client.submit(owner, "ab" * 32)
    assert reply["ok"] is False and reply["error_code"] == "unknown_blob"
    assert client.request("job.submit", {"owner": owner})["error_code"] == "bad_request"
    bad_version = msgpack.packb({"v": 2, "rid": 77, "owner": owner, "title": "t",
                                 "filename": "f", "sha256": sha})
    reply = client.request("job.submit", bad_version)
    assert reply["error_code"] == "unsupported_version" and reply["rid"] == 77
    reply = client.request("no.such.service", {})
    assert reply["ok"] is False and reply["error_code"] == "unknown_service"
    assert reply["rid"] == client.rid
    assert env.query("SELECT count(*) FROM jobs")[0][0] == 0


def test_failed_result_and_invalid_course(env):
    client = env.client()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Failures"))
    first = client.submit(owner, sha, "Scanned")["job_id"]
    second = client.submit(owner, sha, "Broken JSON")["job_id"]
    third = client.submit(owner, sha, "Fine")["job_id"]
    worker = env.worker()
    worker.ready()

    token, job = worker.expect_request()
    assert job["job_id"] == first
    worker.final_error(token, "no_text", "The PDF has no text (scanned pages?).")
    failed = env.wait_job(first, "failed")
    assert failed["error_code"] == "no_text" and "scanned" in failed["error"]

    token, job = worker.expect_request()  # after a FINAL the worker is ready again
    assert job["job_id"] == second
    worker.final_ok(token, b'{"title": "unterminated')
    failed = env.wait_job(second, "failed")
    assert failed["error_code"] == "internal" and "invalid course" in failed["error"]
    assert env.courses(second) == []

    token, job = worker.expect_request()
    assert job["job_id"] == third
    worker.final_ok(token, course_doc("Fine"))
    env.wait_job(third, "succeeded")
    assert len(env.courses(third)) == 1


def test_silent_worker_is_replaced_and_its_late_result_dropped(env):
    client = env.client()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Silence"))
    job_id = client.submit(owner, sha)["job_id"]

    silent = env.worker()
    silent.ready()
    token1, _ = silent.expect_request()
    silent.heartbeats = False  # hangs: no heartbeat, no progress
    lost_at = silent.last_sent

    backup = env.worker()
    backup.ready()
    token2, job = backup.expect_request(timeout=5)
    requeued_after = time.monotonic() - lost_at
    assert token2 == f"{job_id}/2".encode() and job["attempt"] == 2
    assert requeued_after < DEAD_AFTER + 1.0, requeued_after
    assert env.job(job_id)["attempts"] == 2

    # The lost worker wakes up and delivers attempt 1: dropped, and it is told to reconnect.
    silent.final_ok(token1, course_doc("stale"))
    silent.expect_disconnect()
    assert "dropping late result job=" + job_id in env.log()
    assert env.job(job_id)["state"] == "running" and env.courses(job_id) == []

    backup.final_ok(token2, course_doc("fresh"))
    env.wait_job(job_id, "succeeded")
    courses = env.courses(job_id)
    assert len(courses) == 1 and courses[0][1]["title"] == "fresh"


def test_disconnect_hands_the_job_back_and_max_attempts(make_env):
    env = make_env(max_attempts=2)
    client = env.client()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Attempts"))
    job_id = client.submit(owner, sha)["job_id"]

    for attempt in (1, 2):
        w = env.worker()
        w.ready()
        token, job = w.expect_request()
        assert job["attempt"] == attempt
        w.send(W_DISCONNECT)  # a worker shutting down hands its job back at once
        w.close()
    failed = env.wait_job(job_id, "failed", timeout=3)
    assert failed["error_code"] == "worker_lost" and failed["attempts"] == 2
    assert client.ping()["queued"] == 0


def test_refused_writes_are_sent_again(make_env):
    env = make_env(start=False)
    # Every statement of the broker gives up after 100 ms waiting for a lock.
    env.query(f"ALTER DATABASE \"{env.dbname}\" SET lock_timeout = '100ms'")
    env.start()
    client = env.client()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Locks"))
    job_id = client.submit(owner, sha)["job_id"]
    worker = env.worker()
    worker.ready()
    token, _ = worker.expect_request()

    locker = psycopg2.connect(env.pg.conninfo(env.dbname))
    try:
        with locker.cursor() as cur:  # reads still work, writes wait
            cur.execute("LOCK TABLE jobs IN EXCLUSIVE MODE")
        worker.final_ok(token, course_doc("Locks"))
        assert client.submit(owner, sha)["error_code"] == "db_unavailable"
        assert worker.recv(timeout=0.6) is None
        assert env.job(job_id)["state"] == "running"
    finally:
        locker.rollback()
        locker.close()
    env.wait_job(job_id, "succeeded")  # the refused write went through afterwards
    assert len(env.courses(job_id)) == 1
    assert "database refused a write" in env.log()
    assert client.submit(owner, sha)["ok"]


def test_vanished_peers(env):
    owner, sha = env.add_user(), env.add_blob(make_pdf("Vanished"))
    hasty = env.client()
    hasty.sock.send_multipart([b"MDPC02", b"\x01", b"job.submit", msgpack.packb(
        {"v": 1, "rid": 1, "owner": owner, "title": "Hasty", "filename": "h.pdf",
         "sha256": sha})])
    hasty.sock.close(linger=2000)  # gone before the reply: the job is committed all the same
    job_id = wait_until("the job row", lambda: env.query("SELECT id::text FROM jobs"))[0][0]

    crashing = env.worker()
    crashing.ready()
    token1, _ = crashing.expect_request()
    crashing.close()  # the process died: no DISCONNECT, the TCP connection just closes
    env.peers.remove(crashing)

    backup = env.worker()
    backup.ready()
    token2, job = backup.expect_request()
    assert token2 == f"{job_id}/2".encode()
    backup.final_ok(token2, course_doc("Vanished"))
    env.wait_job(job_id, "succeeded")
    assert len(env.courses(job_id)) == 1


def test_protocol_violations_and_garbage_do_not_hurt(env):
    raw = env.worker().sock  # a plain DEALER: sends whatever frames it is given
    garbage = [
        [b""], [b"hello"], [b"MDPW02"], [b"MDPW02", b"\x09"], [b"MDPW02", b"\x01"],
        [b"MDPW02", W_FINAL, b"not-a-token", b"", b"\x80"],
        [b"MDPC02"], [b"MDPC02", b"\x01", b"job.submit"],
        [b"MDPC02", b"\x01", b"job.submit", b"\xdd\xff\xff\xff\xff"],  # 4G-element array
        [b"MDPC02", b"\x01", b"BAD SERVICE", b"\x80"], [b"MDPC02", b"\x03", b"x", b"\x80"],
        [os.urandom(64) for _ in range(7)],
    ]
    for frames in garbage:
        raw.send_multipart(frames)
    # An unknown peer's HEARTBEAT or PARTIAL gets DISCONNECT (RFC 18).
    stranger = env.worker()
    stranger.send(W_HEARTBEAT)
    stranger.expect_disconnect()
    # A known worker that says READY twice is told to go away.
    twice = env.worker()
    twice.ready()
    twice.ready()
    twice.expect_disconnect()
    # A worker for a service this broker has no jobs for is kept (heartbeats only).
    other = env.worker()
    other.ready(b"other.service")
    assert other.recv(timeout=0.5) is None

    client = env.client()
    reply = client.request("job.submit", b"\xdd\xff\xff\xff\xff")
    assert reply["ok"] is False and reply["error_code"] == "bad_request"
    pong = client.ping()
    assert pong["ok"] and pong["db"] and pong["workers"] == 1
    assert env.proc.poll() is None


def test_kill9_and_restart_finish_every_job_once(env):
    client = env.client()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Crash"))
    jobs = [client.submit(owner, sha, f"Course {i}")["job_id"] for i in range(5)]

    returning = env.worker()  # finishes while the broker is down
    vanishing = env.worker()  # never comes back
    resuming = env.worker()  # still working when the new broker starts
    tokens = {}
    for w in (returning, vanishing, resuming):
        w.ready()
        token, job = w.expect_request()
        tokens[w] = token
    assert [tokens[w].split(b"/")[0].decode() for w in (returning, vanishing, resuming)] \
        == jobs[:3]
    resuming.partial(tokens[resuming], 40)

    env.kill9()  # 3 jobs running, 2 queued
    # The DEALER queues the FINAL until it reconnects to the next broker.
    returning.final_ok(tokens[returning], course_doc("Course 0"))
    vanishing.close()
    env.peers.remove(vanishing)
    env.start()
    # ZeroMQ reconnected its socket by itself; a heartbeat may come before the PARTIAL whose
    # token makes the new broker adopt the job.
    resuming.send(W_HEARTBEAT)
    resuming.partial(tokens[resuming], 70)
    assert resuming.recv(timeout=0.3) is None  # not sent away

    fresh = env.worker()
    fresh.ready()
    others = [jobs[0], jobs[1], jobs[3], jobs[4]]
    serve([returning, fresh, resuming],
          lambda: all(env.job(j).get("state") == "succeeded" for j in others),
          timeout=ORPHAN_GRACE + 10)
    # Adopted, so still running on its worker well after the grace window.
    assert env.job(jobs[2]) == {**env.job(jobs[2]), "state": "running", "attempts": 1,
                                "progress": 70}
    resuming.final_ok(tokens[resuming], course_doc("Course 2"))
    env.wait_job(jobs[2], "succeeded")

    for j in jobs:
        assert len(env.courses(j)) == 1, j
    attempts = [env.job(j)["attempts"] for j in jobs]
    assert attempts == [1, 2, 1, 1, 1]  # only the vanished worker's job ran twice
    log = env.log()
    assert "orphan result accepted job=" + jobs[0] in log
    assert "job adopted job=" + jobs[2] in log


def test_database_outage(make_env):
    # A longer liveness: stopping and starting PostgreSQL blocks this test (and its worker's
    # heartbeats) for a while.
    env = make_env(liveness=20)
    client = env.client()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Outage"))
    job_id = client.submit(owner, sha)["job_id"]
    worker = env.worker()
    worker.ready()
    token, _ = worker.expect_request()

    env.pg.stop()
    try:
        wait_until("ping to report the database down",
                   lambda: worker.pump() or not client.ping()["db"], timeout=5)
        assert client.submit(owner, sha)["error_code"] == "db_unavailable"
        worker.final_ok(token, course_doc("Outage"))  # kept, written after the outage
        assert worker.recv(timeout=0.3) is None  # nothing to do while the database is away
        assert client.ping()["workers"] == 1
    finally:
        env.pg.start()
    wait_until("ping to report the database up",
               lambda: worker.pump() or client.ping()["db"], timeout=10)
    env.wait_job(job_id, "succeeded")
    assert len(env.courses(job_id)) == 1

    again = client.submit(owner, sha)["job_id"]
    token, job = worker.expect_request()
    assert job["job_id"] == again
    worker.final_ok(token, course_doc("After"))
    env.wait_job(again, "succeeded")
    assert "database down" in env.log() and "database up" in env.log()
