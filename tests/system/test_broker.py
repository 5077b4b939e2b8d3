"""System tests of profai-broker on its own.

A PostgreSQL cluster of this module's own (scripts/pg.sh, fixture `private_pg_cluster` of
conftest.py: a test stops and starts it), the real bin/profai-broker, and Python peers that
speak the wire protocol over real ZeroMQ DEALER sockets (tests/system/mdp.py): workers speaking
MDPW02 (ZeroMQ RFC 18), clients speaking MDPC02, msgpack bodies as in docs/protocol.md. Nothing
is mocked; faults are real (kill -9, a worker that goes silent, PostgreSQL stopped and started
again).

    env = BrokerEnv(cluster, outdir)            # a fresh database and a broker on a free port
    owner, sha = env.add_user(), env.add_blob(pdf)
    reply = env.client().submit(owner, sha, "Biology")
    worker = env.worker(); worker.ready()
    token, job = worker.expect_request()
    worker.final_ok(token, course_doc("Biology", minimal=True))
    env.wait_job(job_id, "succeeded")

Run: /usr/bin/python3 -m pytest tests/system/test_broker.py (needs bin/profai-broker).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import json
import os
import shutil
import signal
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
from mdp import W_DISCONNECT, W_FINAL, W_HEARTBEAT, W_REQUEST  # noqa: E402
from mdp import MdpClient, MdpWorker, course_doc, forge_token, token_base  # noqa: E402
from stack import BIN, PgCluster, free_port, wait_for  # noqa: E402

BROKER = BIN / "profai-broker"
# e.g. PROFAI_BROKER_WRAPPER="valgrind --leak-check=full --error-exitcode=99" to check leaks.
BROKER_WRAPPER = os.environ.get("PROFAI_BROKER_WRAPPER", "").split()

HEARTBEAT_IVL = 200  # ms, small so that the tests are fast
LIVENESS = 3
DEAD_AFTER = HEARTBEAT_IVL * LIVENESS / 1000  # s of silence before a worker is dead
ORPHAN_GRACE = 2 * DEAD_AFTER  # s a restarted broker waits for an orphan's worker


# ---- helpers -----------------------------------------------------------------------------------

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


def serve(workers: list[MdpWorker], done, timeout: float = 15.0,
          course=lambda title: course_doc(title, minimal=True)):
    """Let workers answer every REQUEST with a course until done() is true."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "jobs did not finish in time"
        for w in workers:
            frames = w.recv(timeout=0.02)
            if frames and frames[1] == W_REQUEST:
                job = msgpack.unpackb(frames[4], raw=False)
                w.final_ok(frames[2], course(job["title"]))


def while_heartbeating(workers: list[MdpWorker], action):
    """Run action(), which blocks for a while (PostgreSQL stopping or starting: seconds on a
    loaded machine), in a thread, while the workers keep heartbeating: silent for longer than
    the broker's liveness, they would be expired and told DISCONNECT. Returns what action()
    returns; action() must not use these workers' sockets."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        done = pool.submit(action)
        while not concurrent.futures.wait([done], timeout=0.05).done:
            for w in workers:
                w.pump()
        return done.result()


# ---- the broker under test -------------------------------------------------------------------

class BrokerEnv:
    """A fresh database and a broker bound to a free port, configured through a ZPL file."""

    def __init__(self, pg: PgCluster, outdir: Path, **conf):
        self.pg = pg
        self.outdir = outdir
        self.dbname = "t_" + uuid.uuid4().hex[:12]
        self.conninfo = pg.create_database(self.dbname)
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
        # Each broker its own admin socket: the default (ipc://var/admin.sock) is one path for
        # every broker started from the checkout, so a second broker of a test would take it.
        lines += ["database", f'    conninfo = "{self.conninfo}"',
                  "admin", f'    endpoint = "ipc://{self.outdir}/admin.sock"',
                  "log", "    level = debug", ""]
        path.write_text("\n".join(lines))
        return path

    def start(self, wait_db: bool = True):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([*BROKER_WRAPPER, str(BROKER), "-c", str(self.write_config())],
                                     stdout=log, stderr=log)
        log.close()
        wait_for("the broker to answer pings", lambda: self._ping_once(wait_db), 20,
                 retry_on=())

    def _ping_once(self, wait_db: bool) -> bool:
        """One ping on a fresh socket (a lazy-pirate client: a lost request is not retried
        on the same socket)."""
        assert self.proc.poll() is None, f"broker exited with {self.proc.returncode}"
        probe = MdpClient(self.endpoint, self.ctx)
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

    def worker(self) -> MdpWorker:
        """A Python worker heartbeating at the broker's interval; expect_request waits 5 s."""
        w = MdpWorker(self.endpoint, self.ctx, heartbeat_s=HEARTBEAT_IVL / 1000,
                      request_timeout=5.0)
        self.peers.append(w)
        return w

    def client(self) -> MdpClient:
        c = MdpClient(self.endpoint, self.ctx)
        self.peers.append(c)
        return c

    # -- database --
    def db(self):
        if self._db is None or self._db.closed:
            self._db = psycopg2.connect(self.conninfo)
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
        return wait_for(f"job {job_id} to be {state}",
                        lambda: (j := self.job(job_id)).get("state") == state and j, timeout,
                        retry_on=())

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
def make_env(private_pg_cluster, request):
    """A factory of BrokerEnv (already started); every broker is stopped at teardown and must
    exit 0 on SIGTERM unless the test killed it. On failure the broker log is printed."""
    envs = []
    base = Path(tempfile.mkdtemp(prefix="profai-broker-out-"))

    def make(start: bool = True, **conf) -> BrokerEnv:
        outdir = base / str(len(envs))
        outdir.mkdir()
        env = BrokerEnv(private_pg_cluster, outdir, **conf)
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
    assert token_base(token) == f"{job_id}/1".encode()
    assert job["job_id"] == job_id and job["attempt"] == 1 and job["title"] == "Biology"
    assert job["filename"] == "course.pdf" and job["sha256"] == sha and job["pdf"] == pdf
    # Written when the dispatch hold (broker/dispatch_hold_ms) runs out without a result.
    row = wait_for("the dispatch written", lambda: (j := env.job(job_id))["state"] == "running"
                   and j, 5, retry_on=())
    assert row["attempts"] == 1 and row["worker"]

    for p in (10, 30, 55):  # coalesced: the latest value reaches the database
        worker.partial(token, p, "text")
    wait_for("progress 55 stored", lambda: env.job(job_id)["progress"] == 55, 3, retry_on=())
    assert env.job(job_id)["stage"] == "text"

    worker.final_ok(token, course_doc("Biology", minimal=True))
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


def test_invalid_course_committed_beside_a_valid_one(env):
    # Results share a transaction (group commit). Two FINALs sent at once, one whose course
    # PostgreSQL refuses (after the broker's schema check has passed it): that job fails
    # alone, the other's course is stored all the same (the store sends again what the
    # refused statement rolled back with it).
    client = env.client()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Together"))
    bad = client.submit(owner, sha, "Broken JSON")["job_id"]
    good = client.submit(owner, sha, "Fine")["job_id"]
    workers = [env.worker(), env.worker()]
    for w in workers:
        w.ready()
    held = {}
    for w in workers:
        token, job = w.expect_request()
        held[job["job_id"]] = (w, token)
    # Back to back: the loop turn that reads both writes both in one segment, the valid one
    # first, so that it has run when the invalid one rolls their transaction back.
    held[good][0].final_ok(held[good][1], course_doc("Fine", minimal=True))
    # The broker's own check (course_check.c) passes it; only PostgreSQL's jsonb refuses the
    # number (numeric overflow), so the refusal happens inside the shared transaction.
    refused = course_doc("Broken JSON", minimal=True)[:-1] + b', "x": 1e999999}'
    held[bad][0].final_ok(held[bad][1], refused)
    failed = env.wait_job(bad, "failed")
    assert failed["error_code"] == "internal" and "invalid course" in failed["error"]
    env.wait_job(good, "succeeded")
    assert env.courses(bad) == [] and len(env.courses(good)) == 1


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
    assert failed["error_code"] == "invalid_course" and "invalid course" in failed["error"]
    assert env.courses(second) == []

    token, job = worker.expect_request()
    assert job["job_id"] == third
    worker.final_ok(token, course_doc("Fine", minimal=True))
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
    assert token_base(token2) == f"{job_id}/2".encode() and job["attempt"] == 2
    assert requeued_after < DEAD_AFTER + 1.0, requeued_after
    # The REQUEST may go before its dispatch commits (docs/broker.md, "Sending before the
    # dispatch commits"): the attempt is in PostgreSQL a moment later.
    wait_for("attempt 2 committed", lambda: env.job(job_id)["attempts"] == 2, 5, retry_on=())

    # The lost worker wakes up and delivers attempt 1: dropped, and it is told to reconnect.
    silent.final_ok(token1, course_doc("stale", minimal=True))
    silent.expect_disconnect()
    assert "dropping late result job=" + job_id in env.log()
    assert env.job(job_id)["state"] == "running" and env.courses(job_id) == []

    backup.final_ok(token2, course_doc("fresh", minimal=True))
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
    # Its dispatch written before the lock (it may be held for a result: docs/broker.md,
    # "Holding the dispatch write"), so that the job reads 'running' while writes wait.
    wait_for("the dispatch written", lambda: env.job(job_id)["attempts"] == 1, 5, retry_on=())

    locker = psycopg2.connect(env.conninfo)
    try:
        with locker.cursor() as cur:  # reads still work, writes wait
            cur.execute("LOCK TABLE jobs IN EXCLUSIVE MODE")
        worker.final_ok(token, course_doc("Locks", minimal=True))
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
    job_id = wait_for("the job row", lambda: env.query("SELECT id::text FROM jobs"), 10,
                      retry_on=())[0][0]

    crashing = env.worker()
    crashing.ready()
    token1, _ = crashing.expect_request()
    crashing.close()  # the process died: no DISCONNECT, the TCP connection just closes
    env.peers.remove(crashing)

    backup = env.worker()
    backup.ready()
    token2, job = backup.expect_request()
    assert token_base(token2) == f"{job_id}/2".encode()
    backup.final_ok(token2, course_doc("Vanished", minimal=True))
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


def test_course_breaking_the_schema_is_never_stored(env):
    """The broker checks a worker's course against docs/api.md 5 before storing it: valid JSON
    that breaks the schema (a lesson's pages beyond the PDF) fails the job with invalid_course,
    and no course row appears; text with HTML in it is just text and passes."""
    client = env.client()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Schema"))
    bad_job = client.submit(owner, sha, "Schema")["job_id"]
    good_job = client.submit(owner, sha, "Html")["job_id"]
    worker = env.worker()
    worker.ready()
    token, job = worker.expect_request()
    assert job["job_id"] == bad_job
    doc = json.loads(course_doc("Schema", minimal=True))
    doc["modules"][0]["lessons"][0]["page_end"] = 99
    worker.final_ok(token, json.dumps(doc).encode())
    failed = env.wait_job(bad_job, "failed")
    assert failed["error_code"] == "invalid_course" and "page_end" in failed["error"], failed
    assert env.courses(bad_job) == []
    assert "invalid course refused job=" + bad_job in env.log()

    token, job = worker.expect_request()
    assert job["job_id"] == good_job
    doc = json.loads(course_doc("Html", minimal=True))
    doc["modules"][0]["lessons"][0]["text"] = "<img src=x onerror=alert(1)>"
    worker.final_ok(token, json.dumps(doc).encode())
    env.wait_job(good_job, "succeeded")
    (_, stored), = env.courses(good_job)
    assert stored["modules"][0]["lessons"][0]["text"] == "<img src=x onerror=alert(1)>"


def test_forged_results_are_refused_and_the_real_one_is_stored(env):
    """Fenced results (docs/broker.md): a FINAL or PARTIAL with a wrong secret, or with the
    right token from another peer, is refused and logged (worker and job, never the secret);
    the same holds for an orphan after a broker restart, whose secret the broker knows only by
    its SHA-256 in jobs.token_sha256; the real worker's result is the one stored."""
    client = env.client()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Fenced"))
    job_id = client.submit(owner, sha, "Fenced")["job_id"]
    real = env.worker()
    real.ready()
    token, _ = real.expect_request()
    secret = token.split(b"/")[2].decode()
    # Written after the hold when no result comes (docs/broker.md, "Holding the dispatch write").
    wait_for("the dispatch written with the secret's SHA-256", lambda: env.query(
        "SELECT token_sha256 FROM jobs WHERE id = %s", job_id)[0][0] ==
        hashlib.sha256(secret.encode()).hexdigest(), 5, retry_on=())

    # A registered worker guessing the secret, and a stranger that stole the whole token.
    guesser = env.worker()
    guesser.ready()
    guesser.final_ok(forge_token(token), course_doc("Forged", minimal=True))
    guesser.expect_disconnect()
    thief = env.worker()
    thief.partial(token, 99)
    thief.final_ok(token, course_doc("Stolen", minimal=True))
    thief.expect_disconnect()
    assert env.job(job_id)["state"] == "running"
    real.partial(token, 50)
    assert real.recv(timeout=0.3) is None  # still its job

    # The broker restarts: the job is an orphan; a forged FINAL is refused, the real one stored.
    env.kill9()
    env.start()
    forger = env.worker()
    forger.final_ok(forge_token(token), course_doc("Forged after restart", minimal=True))
    forger.expect_disconnect()
    forger.partial(forge_token(token), 10)
    forger.expect_disconnect()
    assert env.job(job_id)["state"] == "running"
    real.final_ok(token, course_doc("Fenced", minimal=True))
    env.wait_job(job_id, "succeeded")
    (course_id, doc), = env.courses(job_id)
    assert doc["title"] == "Fenced", doc

    log = env.log()
    assert log.count(f"forged FINAL refused job={job_id}") == 2, log
    assert f"forged PARTIAL refused job={job_id}" in log
    assert f"FINAL refused job={job_id} attempt=1 worker=" in log  # the thief's
    assert secret not in log


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
    # REQUESTs may go before their dispatch commits (docs/broker.md, "Sending before the
    # dispatch commits"; a kill before the commit is test_early_request.py's): this test is
    # about jobs PostgreSQL knows to be running.
    wait_for("the 3 dispatches committed",
             lambda: all(env.job(j)["state"] == "running" for j in jobs[:3]), 10, retry_on=())

    env.kill9()  # 3 jobs running, 2 queued
    # The DEALER queues the FINAL until it reconnects to the next broker.
    returning.final_ok(tokens[returning], course_doc("Course 0", minimal=True))
    vanishing.close()
    env.peers.remove(vanishing)

    def restart_and_resume():
        env.start()
        # ZeroMQ reconnected its socket by itself; a heartbeat may come before the PARTIAL
        # whose token makes the new broker adopt the job.
        resuming.send(W_HEARTBEAT)
        resuming.partial(tokens[resuming], 70)
        return resuming.recv(timeout=0.3)

    # The returning worker's FINAL reaches the new broker as soon as it binds, and makes it a
    # ready worker: from then on it heartbeats. Silent while the test starts the broker and
    # waits on the resuming worker (over 600 ms under ASAN), it was expired with the queued
    # job the broker had just given it, which then ran twice.
    assert while_heartbeating([returning], restart_and_resume) is None  # not sent away

    fresh = env.worker()
    fresh.ready()
    others = [jobs[0], jobs[1], jobs[3], jobs[4]]
    serve([returning, fresh, resuming],
          lambda: all(env.job(j).get("state") == "succeeded" for j in others),
          timeout=ORPHAN_GRACE + 10)
    # Adopted, so still running on its worker well after the grace window.
    assert env.job(jobs[2]) == {**env.job(jobs[2]), "state": "running", "attempts": 1,
                                "progress": 70}
    resuming.final_ok(tokens[resuming], course_doc("Course 2", minimal=True))
    env.wait_job(jobs[2], "succeeded")

    for j in jobs:
        assert len(env.courses(j)) == 1, j
    attempts = [env.job(j)["attempts"] for j in jobs]
    assert attempts == [1, 2, 1, 1, 1]  # only the vanished worker's job ran twice
    log = env.log()
    assert "orphan result accepted job=" + jobs[0] in log
    assert "job adopted job=" + jobs[2] in log


def test_database_outage(make_env):
    # A longer liveness: the worker is silent while the test waits for the job's row.
    env = make_env(liveness=20)
    client = env.client()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Outage"))
    job_id = client.submit(owner, sha)["job_id"]
    worker = env.worker()
    worker.ready()
    token, _ = worker.expect_request()

    # PostgreSQL's stop and start take seconds under load: the worker heartbeats meanwhile, or
    # the broker expires it (silent for 4 s while pg.sh stopped or started the cluster, it was
    # "gone why=expired" and got DISCONNECT instead of the next message).
    while_heartbeating([worker], env.pg.stop)
    try:
        wait_for("ping to report the database down",
                 lambda: worker.pump() or not client.ping()["db"], 5, retry_on=())
        assert client.submit(owner, sha)["error_code"] == "db_unavailable"
        # Kept, written after the outage.
        worker.final_ok(token, course_doc("Outage", minimal=True))
        assert worker.recv(timeout=0.3) is None  # nothing to do while the database is away
        assert client.ping()["workers"] == 1
    finally:
        while_heartbeating([worker], env.pg.start)
    wait_for("ping to report the database up",
             lambda: worker.pump() or client.ping()["db"], 10, retry_on=())
    env.wait_job(job_id, "succeeded")
    assert len(env.courses(job_id)) == 1

    again = client.submit(owner, sha)["job_id"]
    token, job = worker.expect_request()
    assert job["job_id"] == again
    worker.final_ok(token, course_doc("After", minimal=True))
    env.wait_job(again, "succeeded")
    assert "database down" in env.log() and "database up" in env.log()


# ---- the PDF's path (docs/broker.md, "The PDF's path") ----------------------------------------

def dispatch_order(env: BrokerEnv, *job_ids: str) -> list[str]:
    """The jobs in the order the broker sent their REQUEST (its "job dispatched" lines)."""
    lines = [ln for ln in env.log().splitlines() if "job dispatched job=" in ln]
    return [j for ln in lines for j in job_ids if f"job={j} " in ln]


@pytest.mark.parametrize("readers", [2, 1])
def test_small_job_is_not_held_behind_a_large_pdf_read(make_env, readers):
    # A longer liveness: this process is busy a while with 32 MiB and does not heartbeat.
    env = make_env(pdf_readers=readers, liveness=50)
    owner = env.add_user()
    big_pdf = b"%PDF-1.4\n" + os.urandom(32 * 1024 * 1024 - 9)
    big_sha, small_sha = env.add_blob(big_pdf), env.add_blob(make_pdf("Small"))
    workers = [env.worker().ready() for _ in range(3)]
    client = env.client()
    wait_for("three workers", lambda: client.ping()["workers"] == 3, 10, retry_on=())
    big1 = client.submit(owner, big_sha, "Big 1")["job_id"]
    big2 = client.submit(owner, big_sha, "Big 2")["job_id"]
    small = client.submit(owner, small_sha, "Small")["job_id"]
    sizes = {}  # title -> the PDF's size in its REQUEST

    def done():
        for w in workers:
            frames = w.recv(timeout=0.02)
            if frames and frames[1] == W_REQUEST:
                job = msgpack.unpackb(frames[4], raw=False)
                sizes[job["title"]] = len(job["pdf"])
                w.final_ok(frames[2], course_doc(job["title"], minimal=True))
        return len(sizes) == 3

    wait_for("the three REQUESTs", done, 90, retry_on=())
    assert sizes == {"Big 1": len(big_pdf), "Big 2": len(big_pdf), "Small": sizes["Small"]}
    assert sizes["Small"] > 0
    for job_id in (big1, big2, small):
        env.wait_job(job_id, "succeeded", timeout=20)
    order = dispatch_order(env, big1, big2, small)
    if readers == 2:
        # The small job's commits and its PDF read do not wait for the large PDFs' bytes (one
        # reader is kept for small PDFs): it is sent to its worker before either large job's
        # worker has its REQUEST.
        assert order[0] == small and sorted(order[1:]) == sorted([big1, big2])
    else:
        # One PDF read at a time (the bound), small reads first: the small PDF is read before
        # the first large one when its read is queued before that one starts (its submission
        # no longer waits for the first dispatch's commit: docs/broker.md, "Submissions on a
        # connection of their own"), and otherwise right after it; never after both.
        assert sorted(order) == sorted([big1, big2, small]) and order[-1] != small, order
        assert order.index(big1) < order.index(big2), order
