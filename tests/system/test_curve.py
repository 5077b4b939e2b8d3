"""CURVE between the hosts (docs/security.md, "The network between hosts").

The broker accepts only keys in its allow-lists, by role: a worker key serves jobs and nothing
else, a frontend key submits, cancels and pings and never receives a job. A stranger (no key,
or a key in no list) gets nothing. Deleting a key's file cuts its peer off without a restart.
Every refusal is logged with the peer's public key. Without keys the broker binds loopback
only, unless broker/allow_plaintext says otherwise (and then it warns at every start).

Every peer here is a real ZeroMQ socket against the real broker; the stack's own programs
(profai-worker, profai-frontend) run with CURVE as in every other system test.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time

import pytest
import zmq
import zmq.auth

from mdp import MdpClient, MdpWorker, course_doc
from pdfs import make_plain_pdf
from stack import BIN, Stack, free_port, wait_for

# The broker reads its key directories again at most this often (broker/zap.h).
RELOAD_S = 1.0
# The bound this file holds the broker to for a revoked key (docs/security.md): the next look
# at the directories, plus a worker's next message or the next loop turn.
REVOKE_BOUND_S = 3.0


@pytest.fixture
def peers():
    made = []

    def make(kind, *args, **kw):
        peer = kind(*args, **kw)
        made.append(peer)
        return peer
    yield make
    for peer in made:
        peer.close()


def z85(key: bytes) -> str:
    return key.decode()


def stranger_keys(s: Stack) -> tuple[bytes, bytes, bytes]:
    """A key pair in no allow-list (but the broker's real public key)."""
    public, secret = zmq.curve_keypair()
    return public, secret, s.broker_public


def queued_job(s: Stack, outdir) -> tuple[str, str, str]:
    """A job submitted over HTTP that no worker takes (the stack has none): id, owner, sha256."""
    pdf = outdir / "small.pdf"
    if not pdf.exists():
        make_plain_pdf(pdf, pages=2)
    job_id = s.submit(pdf, "Closed to strangers")
    owner, sha256, state = s.query(
        "SELECT owner_id::text, blob_sha256, state FROM jobs WHERE id = %s", job_id)[0]
    assert state == "queued"
    return job_id, owner, sha256


def no_reply(client: MdpClient, service: str, body: dict, timeout: float = 2.0) -> bool:
    """True when the broker never answers (the handshake was refused; once libzmq has given up
    the connection, the send itself cannot go anywhere)."""
    client.sock.setsockopt(zmq.SNDTIMEO, int(timeout * 1000))
    try:
        client.request(service, body, timeout=timeout)
    except (AssertionError, zmq.Again):
        return True
    return False


def refused_worker(peers, endpoint: str, curve) -> MdpWorker:
    """A worker whose handshake the broker is expected to refuse, READY sent. libzmq drops a
    refused connection for good, and a DEALER with no connection blocks on send: its sends
    time out instead and it sends no heartbeats."""
    worker = peers(MdpWorker, endpoint, curve=curve)
    worker.sock.setsockopt(zmq.SNDTIMEO, 500)
    worker.heartbeats = False
    return worker.ready()


def job_count(s: Stack) -> int:
    return s.query("SELECT count(*) FROM jobs")[0][0]


def stack_without_workers(make_stack) -> Stack:
    s = make_stack()
    s.start_broker()
    s.add_frontend()
    s.wait_healthy(workers=0)
    return s


# ---- 1. strangers ------------------------------------------------------------------------------

def test_strangers_never_receive_a_job_nor_submit_nor_cancel(make_stack, outdir, peers):
    s = stack_without_workers(make_stack)
    job_id, owner, sha256 = queued_job(s, outdir)
    unlisted = stranger_keys(s)

    # Two would-be workers: no key at all, and a key the broker does not list.
    keyless_worker = refused_worker(peers, s.endpoint, None)
    unlisted_worker = refused_worker(peers, s.endpoint, unlisted)
    # Two would-be frontends, the same way.
    keyless_client = peers(MdpClient, s.endpoint, curve=None)
    unlisted_client = peers(MdpClient, s.endpoint, curve=unlisted)
    before = job_count(s)
    for client in (keyless_client, unlisted_client):
        assert no_reply(client, "job.submit", {"owner": owner, "title": "Forged",
                                               "filename": "x.pdf", "sha256": sha256})
        assert no_reply(client, "job.cancel", {"owner": owner, "job_id": job_id})
    assert keyless_worker.recv(2.0) is None
    assert unlisted_worker.recv(1.0) is None
    assert job_count(s) == before
    assert s.job_row(job_id)["state"] == "queued"
    assert s.ping()["workers"] == 0

    # The job was there for the taking: a listed worker gets it at once.
    token, job = peers(MdpWorker, s.endpoint).ready().expect_request(5)
    assert job["job_id"] == job_id

    log = s.broker.log_text()
    assert f"refused key={z85(unlisted[0])}" in log
    assert "key not in any allow-list" in log
    # A keyless peer fails the handshake inside libzmq (NULL against CURVE) before any ZAP
    # request: there is no key to log (docs/security.md).
    assert z85(unlisted[1]) not in log  # never a secret


# ---- 2. roles ----------------------------------------------------------------------------------

def test_worker_key_cannot_submit_and_frontend_key_cannot_serve(make_stack, outdir, peers):
    s = stack_without_workers(make_stack)
    job_id, owner, sha256 = queued_job(s, outdir)
    worker_key = s.peer_keys(s.keygen("py-worker-2", "worker"))
    frontend_key = s.peer_keys(s.keygen("py-frontend-2", "frontend"))
    time.sleep(RELOAD_S + 0.5)  # keys allowed after the start: the next look takes them

    # A worker key speaking MDPC02: every request gets an error FINAL `forbidden`.
    as_client = peers(MdpClient, s.endpoint, curve=worker_key)
    before = job_count(s)
    reply = as_client.submit(owner, sha256, "Forged by a worker")
    assert (reply["ok"], reply["error_code"]) == (False, "forbidden"), reply
    reply = as_client.cancel(owner, job_id)
    assert (reply["ok"], reply["error_code"]) == (False, "forbidden"), reply
    assert job_count(s) == before and s.job_row(job_id)["state"] == "queued"

    # A frontend key speaking MDPW02: READY gets DISCONNECT, and no job ever comes.
    as_worker = peers(MdpWorker, s.endpoint, curve=frontend_key).ready()
    as_worker.expect_disconnect(3.0)
    as_worker.ready()
    assert as_worker.recv(2.0) is not None  # DISCONNECT again, never a REQUEST
    assert s.ping()["workers"] == 0
    assert s.job_row(job_id)["state"] == "queued"

    # The same keys in their own roles work.
    assert peers(MdpClient, s.endpoint, curve=frontend_key).ping()["ok"]
    token, job = peers(MdpWorker, s.endpoint, curve=worker_key).ready().expect_request(5)
    assert job["job_id"] == job_id

    log = s.broker.log_text()
    assert f"refused key={z85(worker_key[0])}: worker key sent a client request" in log
    assert f"refused key={z85(frontend_key[0])}: frontend key sent a worker message" in log


# ---- 3. revocation -----------------------------------------------------------------------------

def test_deleting_a_key_cuts_its_peer_off_without_a_restart(make_stack, outdir, peers):
    s = stack_without_workers(make_stack)
    broker_pid = s.broker.pid
    worker_cert = s.keygen("revoked-worker", "worker")
    client_cert = s.keygen("revoked-frontend", "frontend")
    worker_key, client_key = s.peer_keys(worker_cert), s.peer_keys(client_cert)
    time.sleep(RELOAD_S + 0.5)

    worker = peers(MdpWorker, s.endpoint, curve=worker_key).ready()
    client = peers(MdpClient, s.endpoint, curve=client_key)
    assert client.ping()["ok"]
    wait_for("the worker to register", lambda: s.ping()["workers"] == 1, 5)

    (s.keys / "workers" / worker_cert.name).unlink()
    (s.keys / "frontends" / client_cert.name).unlink()
    revoked_at = time.monotonic()
    # The connected worker is told DISCONNECT and forgotten ...
    worker.expect_disconnect(REVOKE_BOUND_S + 1)
    assert time.monotonic() - revoked_at <= REVOKE_BOUND_S
    assert s.ping()["workers"] == 0
    # ... the connected client's next request is refused ...
    reply = client.ping()
    assert (reply["ok"], reply["error_code"]) == (False, "forbidden"), reply
    # ... and neither key gets back in on a new connection, while a job waits.
    job_id, owner, sha256 = queued_job(s, outdir)
    assert refused_worker(peers, s.endpoint, worker_key).recv(2.0) is None
    assert no_reply(peers(MdpClient, s.endpoint, curve=client_key), "broker.ping", {})
    assert s.job_row(job_id)["state"] == "queued"
    assert s.broker.pid == broker_pid and s.broker.alive

    log = s.broker.log_text()
    assert f"refused key={z85(worker_key[0])}: worker key revoked" in log
    assert f"refused key={z85(client_key[0])}: revoked key sent a client request" in log


def test_real_worker_whose_key_is_revoked_stops_serving(make_stack, outdir):
    """profai-worker itself: served while listed, cut off after its file is deleted, and back
    (on a fresh socket: libzmq gives up a refused connection) once the file returns."""
    s = make_stack()
    s.start_broker()
    worker = s.add_worker()
    s.add_frontend()
    s.wait_healthy(workers=1)
    pdf = outdir / "small.pdf"
    make_plain_pdf(pdf, pages=2)
    s.wait_job(s.submit(pdf, "Before"), timeout=60)

    listed = s.keys / "workers" / "worker1"
    saved = listed.read_text()
    listed.unlink()
    s.wait_workers(0, exact=True, timeout=REVOKE_BOUND_S + 2)
    job_id = s.submit(pdf, "While revoked")
    time.sleep(3)
    assert s.job_row(job_id)["state"] == "queued"
    assert "refused key=" in s.broker.log_text()

    listed.write_text(saved)
    s.wait_job(job_id, timeout=60)
    assert worker.alive and worker.started == 1


# ---- 4. plaintext ------------------------------------------------------------------------------

def test_plaintext_only_on_loopback_unless_allowed(make_stack):
    s = make_stack(curve=False)
    port = free_port()
    everywhere = f"tcp://0.0.0.0:{port}"
    broker = s.start_broker(wait=False, endpoint=everywhere)
    assert broker.wait_exit(15) == 2
    log = broker.log_text()
    assert "is not loopback and no CURVE keys are set" in log and "allow_plaintext" in log

    # The explicit switch: it starts, serves, and warns at every start.
    s.endpoint = f"tcp://127.0.0.1:{port}"  # where the readiness ping connects
    s.start_broker(endpoint=everywhere, allow_plaintext=1)
    s.broker.stop()
    s.broker.start()
    s.wait_broker_ready()
    assert s.broker.log_text().count("PLAINTEXT on a network endpoint") == 2


def test_plaintext_loopback_needs_no_switch(make_stack):
    s = make_stack(curve=False)
    s.start_broker()
    assert s.ping()["ok"]
    assert "PLAINTEXT" not in s.broker.log_text()


# ---- 5. keys -----------------------------------------------------------------------------------

def test_keygen_writes_czmq_certificates(tmp_path):
    run = lambda *a: subprocess.run([str(BIN / "profaictl"), *a], capture_output=True,
                                    text=True)
    out = run("keygen", "host-1", "--dir", str(tmp_path))
    assert out.returncode == 0, out.stderr
    public, secret = tmp_path / "host-1", tmp_path / "host-1_secret"
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    pub_key, sec_key = zmq.auth.load_certificate(str(secret))
    assert zmq.auth.load_certificate(str(public)) == (pub_key, None)
    assert pub_key.decode() in out.stdout and sec_key.decode() not in out.stdout
    assert sec_key.decode() not in public.read_text()
    # Never overwritten; names are checked.
    assert run("keygen", "host-1", "--dir", str(tmp_path)).returncode == 1
    assert run("keygen", "../evil", "--dir", str(tmp_path)).returncode == 1
    assert run("keygen").returncode == 2


# ---- 6. cost -----------------------------------------------------------------------------------

def burst(s: Stack, outdir, jobs: int = 300) -> float:
    """Jobs per second through the broker: `jobs` SUBMITs over MDP/0.2 (pipelined, as a frontend
    sends them), two no-op workers (tests/system/test_chaos.py) answering each at once; until
    every job has succeeded in PostgreSQL."""
    from test_chaos import NoopWorker, submit_direct
    job_id, owner, sha256 = queued_job(s, outdir)
    workers = [NoopWorker(s.endpoint, course_doc("Burst"), s.heartbeat_ivl) for _ in range(2)]
    for w in workers:
        w.start()
    try:
        s.wait_workers(2)
        started = time.monotonic()
        submit_direct(s.endpoint, owner, sha256, jobs)
        wait_for("the burst to be stored",
                 lambda: s.query("SELECT count(*) FROM jobs WHERE state = 'succeeded'")[0][0]
                 == jobs + 1, 120)
        return jobs / (time.monotonic() - started)
    finally:
        for w in workers:
            w.stop.set()
        for w in workers:
            w.join(10)


def test_curve_cost_report(make_stack, outdir, report):
    rates = {}
    for curve in (False, True):
        s = make_stack(curve=curve, log_level="info")
        s.start_broker()
        s.add_frontend()
        s.wait_healthy(workers=0)
        rates[curve] = burst(s, outdir)
        s.close()
    report(f"\nCURVE cost: {rates[False]:.0f} jobs/s plaintext, {rates[True]:.0f} jobs/s CURVE "
           f"(300 jobs, submit + REQUEST + FINAL + commit each)")
    assert rates[True] > 0 and rates[False] > 0
