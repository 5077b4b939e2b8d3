"""An orphan is adopted only by the worker key its attempt was sent to (docs/broker.md, "Fenced
results"; docs/database.md, "Migration 013").

After a broker restart a running job is an orphan: the new broker knows its attempt's secret
only by its SHA-256 (jobs.token_sha256) and the CURVE key it was dispatched to
(jobs.worker_key). Another listed worker that learnt the whole token, secret included, is
refused; the original worker, reconnecting with its own key, is adopted and its result stored.

A real broker with CURVE, real PostgreSQL, and Python workers on real ZeroMQ sockets
(tests/system/mdp.py), each with its own key pair from `profaictl keygen`.
"""

from __future__ import annotations

import hashlib
import uuid

from mdp import W_DISCONNECT, MdpClient, MdpWorker, course_doc
from stack import Stack, wait_for


def orphan_stack(make_stack) -> Stack:
    """A broker without workers or frontends; liveness 12 (a silent worker is dead after 3 s,
    an orphan waits 6 s for its worker), so a restart leaves time for both peers to speak."""
    return make_stack(liveness=12)


def submit_job(s: Stack, title: str) -> str:
    owner = s.query("INSERT INTO users (name, role) VALUES (%s, 'teacher') RETURNING id::text",
                    "t" + uuid.uuid4().hex[:20])[0][0]
    pdf = b"%PDF-1.4\n% not parsed by these workers\n" + uuid.uuid4().hex.encode()
    sha = hashlib.sha256(pdf).hexdigest()
    s.query("INSERT INTO blobs (sha256, size, data) VALUES (%s, %s, %s) RETURNING sha256",
            sha, len(pdf), pdf)
    client = MdpClient(s.endpoint)
    try:
        reply = client.submit(owner, sha, title)
    finally:
        client.close()
    assert reply["ok"], reply
    return reply["job_id"]


def test_orphan_is_adopted_only_by_the_key_it_was_sent_to(make_stack):
    s = orphan_stack(make_stack)
    # Both keys listed before the broker starts: the thief is a legitimate worker host.
    real_keys = s.peer_curve["worker"]
    thief_keys = s.peer_keys(s.keygen("thief-worker", "worker"))
    s.start_broker()
    peers = []
    try:
        job_id = submit_job(s, "Orphan of a restart")
        real = MdpWorker(s.endpoint, curve=real_keys)
        peers.append(real)
        real.ready()
        token, job = real.expect_request()
        assert job["job_id"] == job_id
        # The dispatch's write is held up to broker/dispatch_hold_ms for a result (docs/broker.md,
        # "Holding the dispatch write"); with none coming it is written after the hold.
        wait_for("the dispatch written with the worker's key", lambda: s.query(
            "SELECT worker_key FROM jobs WHERE id = %s", job_id)[0][0] == real_keys[0].decode(), 5)

        # The broker dies with the job running; the new one loads it as an orphan.
        s.broker.kill()
        s.start_broker()
        wait_for("the job to be an orphan", lambda: "job orphaned job=" + job_id
                 in s.broker.log_text(), 10)

        # Another listed worker key presents the stolen token, secret included: refused,
        # sent away, nothing stored. Unregistered (no READY) as a returning worker would be,
        # then registered (READY first): both are refused.
        thief = MdpWorker(s.endpoint, curve=thief_keys)
        peers.append(thief)
        thief.final_ok(token, course_doc("Stolen", minimal=True))
        thief.expect_disconnect(5.0)
        thief.partial(token, 10)
        thief.expect_disconnect(5.0)
        registered = MdpWorker(s.endpoint, curve=thief_keys)
        peers.append(registered)
        registered.ready()
        registered.partial(token, 20)
        frames = registered.recv(5.0)
        assert frames == [b"MDPW02", W_DISCONNECT], frames
        row = s.job_row(job_id)
        assert (row["state"], row["course_id"]) == ("running", None), row
        assert s.query("SELECT count(*) FROM courses WHERE job_id = %s", job_id)[0][0] == 0

        # The original worker, reconnected by ZeroMQ with its own key: adopted, and its
        # result is the one stored.
        real.partial(token, 60)
        assert real.recv(timeout=0.5) is None  # not sent away
        wait_for("the job adopted", lambda: f"job adopted job={job_id}" in s.broker.log_text(),
                 5)
        real.final_ok(token, course_doc("Real result", minimal=True))
        wait_for("the job to succeed", lambda: s.job_row(job_id)["state"] == "succeeded", 10)
        (doc,), = s.query("SELECT doc FROM courses WHERE job_id = %s", job_id)
        assert doc["title"] == "Real result", doc

        log = s.broker.log_text()
        thief_z85, real_z85 = thief_keys[0].decode(), real_keys[0].decode()
        refusal = f"key={thief_z85}: the attempt was sent to key={real_z85}"
        assert f"forged FINAL refused job={job_id} attempt=1" in log
        assert refusal in log, log[-3000:]
        assert f"forged PARTIAL refused job={job_id}" in log
        assert token.split(b"/")[2].decode() not in log  # never the secret
        assert thief_keys[1].decode() not in log  # never a secret key
    finally:
        for p in peers:
            p.close()


def test_plaintext_broker_records_no_key(make_stack):
    """Without CURVE there is no key to record (docs/broker.md: the secret alone proves an
    orphan's worker on a plaintext loopback broker)."""
    s = make_stack(curve=False)
    s.start_broker()
    job_id = submit_job(s, "Plaintext")
    worker = MdpWorker(s.endpoint, curve=None)
    try:
        worker.ready()
        token, job = worker.expect_request()
        assert job["job_id"] == job_id
        assert s.query("SELECT worker_key FROM jobs WHERE id = %s", job_id)[0][0] is None
        worker.final_ok(token, course_doc("Plain", minimal=True))
        wait_for("the job to succeed", lambda: s.job_row(job_id)["state"] == "succeeded", 10)
    finally:
        worker.close()
