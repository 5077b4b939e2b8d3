"""System tests of REQUESTs sent before their dispatch commits (docs/broker.md, "Sending before
the dispatch commits").

A job whose fields this broker learnt at submission and whose PDF is in the broker's PDF cache
(read for two earlier jobs of the same PDF: a PDF read once is not kept) is sent to its worker in the same loop turn as its
dispatch statement is queued; a job of a small PDF never seen before has its PDF read in
parallel with the commit and is sent when the PDF arrives. These tests hold that statement back
with a real row lock taken by another PostgreSQL session, so the REQUEST is provably out before
the commit, and check that the result waits for the commit, that a broker killed before the
commit loses nothing and completes nothing twice, and that a dispatch that does not apply drops
the job. Others hold the PDF read back instead (a lock on the blobs table) to check the other
orders: commit then PDF, a dispatch dropped before its PDF arrives, a worker gone before it.
Real broker, real PostgreSQL, Python peers over ZeroMQ (tests/system/mdp.py); helpers from
test_broker.py.
"""

from __future__ import annotations

import hashlib
import sys
import time
import uuid
from pathlib import Path

import psycopg2
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mdp import W_DISCONNECT, course_doc, token_base  # noqa: E402
from stack import wait_for  # noqa: E402
from test_broker import make_env, make_pdf  # noqa: E402,F401 (make_env: a fixture)


def locked_job(env, job_id: str, cancel: bool = False):
    """Another session holding job_id's row lock (optionally having cancelled it): the broker's
    dispatch UPDATE of that job waits until .commit()."""
    conn = psycopg2.connect(env.conninfo)
    with conn.cursor() as cur:
        if cancel:
            cur.execute("UPDATE jobs SET state = 'cancelled', stage = 'cancelled' WHERE id = %s",
                        (job_id,))
        else:
            cur.execute("SELECT 1 FROM jobs WHERE id = %s FOR UPDATE", (job_id,))
    return conn


def run_job(env, client, worker, owner: str, sha: str, title: str) -> bytes:
    """Submit a job of sha, run it on worker (ready), wait for its success; its REQUEST's PDF."""
    job = client.submit(owner, sha, title)["job_id"]
    token, body = worker.expect_request()
    assert token_base(token) == f"{job}/1".encode()
    worker.final_ok(token, course_doc(title, minimal=True))
    env.wait_job(job, "succeeded")
    return body["pdf"]


def second_job_held(env, cancel: bool = False):
    """Jobs A1 and A2 run on a first worker, which leaves once they have succeeded (their PDF is
    read twice, so cached); job B, same PDF, is submitted and row-locked, then a second worker
    is offered it. Returns (that worker, B's id, B's token, B's REQUEST body, the locking
    connection)."""
    client = env.client()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Early"))
    first = env.worker()
    first.ready()
    run_job(env, client, first, owner, sha, "First")
    run_job(env, client, first, owner, sha, "First again")
    first.send(W_DISCONNECT)
    time.sleep(0.3)
    job_b = client.submit(owner, sha, "Second")["job_id"]
    lock = locked_job(env, job_b, cancel)
    worker = env.worker()
    worker.ready()
    token_b, body = worker.expect_request()
    assert token_base(token_b) == f"{job_b}/1".encode() and body["attempt"] == 1
    return worker, job_b, token_b, body, lock


def first_job_held(env, cancel: bool = False):
    """A job of a PDF this broker never read, submitted and row-locked, then offered to a
    worker: its PDF is read while the dispatch waits. Returns what second_job_held does."""
    client = env.client()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Never seen " + uuid.uuid4().hex))
    job = client.submit(owner, sha, "Second")["job_id"]
    lock = locked_job(env, job, cancel)
    worker = env.worker()
    worker.ready()
    token, body = worker.expect_request()
    assert token_base(token) == f"{job}/1".encode() and body["attempt"] == 1
    assert body["sha256"] == sha and len(body["pdf"]) > 0
    return worker, job, token, body, lock


HELD = pytest.mark.parametrize("held", [second_job_held, first_job_held], ids=["cached", "first"])


@HELD
def test_request_goes_before_the_dispatch_commit_and_the_result_waits_for_it(make_env, held):
    env = make_env()
    worker, job_b, token_b, body, lock = held(env)
    assert body["title"] == "Second" and body["sha256"]
    # The worker holds the job, PostgreSQL still says queued: the REQUEST left before the commit.
    assert env.job(job_b)["state"] == "queued" and env.job(job_b)["attempts"] == 0
    worker.final_ok(token_b, course_doc("Second", minimal=True))
    assert worker.recv(timeout=1.0) is None  # heartbeats flow; the result is not refused
    assert env.job(job_b)["state"] == "queued" and env.courses(job_b) == []
    lock.commit()
    lock.close()
    done = env.wait_job(job_b, "succeeded")
    assert done["attempts"] == 1 and len(env.courses(job_b)) == 1
    events = env.query("SELECT state, attempt FROM job_events WHERE job_id = %s ORDER BY seq",
                       job_b)
    assert events == [("queued", 0), ("running", 1), ("succeeded", 1)], events


def blocked_backends(env) -> list[int]:
    """The broker's PostgreSQL backends waiting for a row lock."""
    return [r[0] for r in env.query(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()")]


@HELD
@pytest.mark.parametrize("commit", ["lost", "done"])
def test_broker_killed_between_request_and_dispatch_commit_loses_nothing(make_env, commit, held):
    """Killed with the REQUEST out and its dispatch waiting. Either the transaction never
    commits (its backend is gone too: "lost") or PostgreSQL commits it after the broker died
    (the segment and its Sync were sent: "done"). Both end with exactly one course."""
    env = make_env()
    first, job_b, token_1, _, lock = held(env)
    waiting = wait_for("the dispatch to wait for the lock", lambda: blocked_backends(env), 10)
    env.kill9()
    if commit == "lost":
        for pid in waiting:
            env.query("SELECT pg_terminate_backend(%s)", pid)
        wait_for("the backend to end", lambda: not blocked_backends(env), 10)
    lock.commit()
    lock.close()
    if commit == "lost":
        assert env.job(job_b)["state"] == "queued" and env.job(job_b)["attempts"] == 0
    else:
        wait_for("the dispatch to commit", lambda: env.job(job_b)["attempts"] == 1, 10)
    env.start()
    if commit == "done":
        # Committed with the first worker's secret: its result is the job's (an orphan's).
        first.final_ok(token_1, course_doc("From the first worker", minimal=True))
        done = env.wait_job(job_b, "succeeded")
        assert done["attempts"] == 1
        assert "orphan result accepted job=" + job_b in env.log()
        assert [c[1]["title"] for c in env.courses(job_b)] == ["From the first worker"]
        return
    second = env.worker()
    second.ready()
    token_2, body = second.expect_request()
    # The same attempt number, never the same secret: the first worker's token is void.
    assert body["attempt"] == 1 and token_base(token_2) == token_base(token_1)
    assert token_2 != token_1
    first.final_ok(token_1, course_doc("From the lost attempt", minimal=True))
    wait = second.recv(timeout=1.0)
    assert wait is None, wait
    assert "forged FINAL refused job=" + job_b in env.log()
    assert env.job(job_b)["state"] == "running" and env.courses(job_b) == []
    second.final_ok(token_2, course_doc("From the committed attempt", minimal=True))
    done = env.wait_job(job_b, "succeeded")
    assert done["attempts"] == 1
    courses = env.courses(job_b)
    assert [c[1]["title"] for c in courses] == ["From the committed attempt"], courses


@HELD
def test_dispatch_that_does_not_apply_drops_the_job_and_its_early_worker(make_env, held):
    env = make_env()
    worker, job_b, token_b, _, lock = held(env, cancel=True)
    lock.commit()  # cancelled by someone else: the dispatch UPDATE matches no row
    lock.close()
    worker.expect_disconnect(timeout=5)
    log = env.log()
    assert "job not runnable any more, dropped job=" + job_b in log
    worker.final_ok(token_b, course_doc("Too late", minimal=True))
    other = env.worker()
    other.ready()
    assert other.recv(timeout=1.0) is None  # nothing left to run
    assert env.job(job_b)["state"] == "cancelled" and env.job(job_b)["attempts"] == 0
    assert env.courses(job_b) == []


# ---- a first job whose PDF read is held back: the other orders -----------------------------

def locked_blobs(env):
    """Another session holding the blobs table exclusively: the broker's PDF reads wait until
    .commit(), its dispatch statements (which do not touch blobs) do not."""
    conn = psycopg2.connect(env.conninfo)
    with conn.cursor() as cur:
        cur.execute("LOCK TABLE blobs IN ACCESS EXCLUSIVE MODE")
    return conn


def pump_until(what: str, cond, workers, timeout: float = 10.0) -> None:
    """Wait for cond() while the workers heartbeat (so that none expires); none of them may
    receive anything meanwhile."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        for w in workers:
            frames = w.recv(timeout=0.05)
            assert frames is None, (what, frames[:2])


def dispatch_waits_for_row_lock(env) -> bool:
    return bool(env.query(
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND query LIKE '%%UPDATE jobs%%'"))


def fresh_job(env, client, owner, title="Fresh"):
    sha = env.add_blob(make_pdf(f"{title} {uuid.uuid4().hex}"))
    return client.submit(owner, sha, title)["job_id"]


def test_first_job_dispatch_commits_before_its_pdf_then_runs_once(make_env):
    env = make_env()
    client, owner = env.client(), env.add_user()
    job = fresh_job(env, client, owner)
    blobs = locked_blobs(env)
    worker = env.worker()
    worker.ready()
    pump_until("the dispatch to commit", lambda: env.job(job)["attempts"] == 1, [worker])
    assert env.job(job)["state"] == "running"
    assert worker.recv(timeout=1.0) is None  # no REQUEST without its PDF
    blobs.commit()
    blobs.close()
    token, body = worker.expect_request()
    assert token_base(token) == f"{job}/1".encode() and body["attempt"] == 1
    worker.final_ok(token, course_doc("Fresh", minimal=True))
    done = env.wait_job(job, "succeeded")
    assert done["attempts"] == 1 and len(env.courses(job)) == 1


def test_first_job_dropped_before_its_pdf_arrives_sends_nothing(make_env):
    env = make_env()
    client, owner = env.client(), env.add_user()
    job = fresh_job(env, client, owner)
    blobs = locked_blobs(env)
    cancel = locked_job(env, job, cancel=True)
    worker = env.worker()
    worker.ready()
    pump_until("the dispatch to wait for the row lock",
               lambda: dispatch_waits_for_row_lock(env), [worker])
    cancel.commit()  # the dispatch UPDATE matches no row: the job leaves memory
    cancel.close()
    pump_until("the job to be dropped",
               lambda: "job not runnable any more, dropped job=" + job in env.log(), [worker])
    blobs.commit()  # its PDF arrives now, for a job no longer in memory
    blobs.close()
    assert worker.recv(timeout=1.5) is None  # no REQUEST, no DISCONNECT: the worker is idle
    assert env.job(job)["state"] == "cancelled" and env.job(job)["attempts"] == 0
    other = fresh_job(env, client, owner, "Other")
    token, body = worker.expect_request()  # the released worker takes the next job
    assert token_base(token) == f"{other}/1".encode() and body["title"] == "Other"
    worker.final_ok(token, course_doc("Other", minimal=True))
    env.wait_job(other, "succeeded")
    assert env.courses(job) == []


def test_first_job_whose_worker_goes_before_its_pdf_runs_once_on_the_next(make_env):
    env = make_env()
    client, owner = env.client(), env.add_user()
    job = fresh_job(env, client, owner)
    blobs = locked_blobs(env)
    first = env.worker()
    first.ready()
    pump_until("the dispatch to commit", lambda: env.job(job)["attempts"] == 1, [first])
    first.send(W_DISCONNECT)  # gone with its job's PDF still being read
    wait_for("the job to be requeued", lambda: env.job(job)["state"] == "queued", 10)
    assert "worker gone worker=" in env.log() and 'why="disconnected"' in env.log()
    second = env.worker()
    second.ready()
    pump_until("the second dispatch to commit", lambda: env.job(job)["attempts"] == 2, [second])
    blobs.commit()  # both reads arrive: attempt 1's must do nothing
    blobs.close()
    token, body = second.expect_request()
    assert token_base(token) == f"{job}/2".encode() and body["attempt"] == 2
    second.final_ok(token, course_doc("Fresh", minimal=True))
    done = env.wait_job(job, "succeeded")
    assert done["attempts"] == 2 and len(env.courses(job)) == 1
    assert second.recv(timeout=1.0) is None  # one REQUEST only


# ---- the PDF cache keeps a PDF from its second read on, and only under its own hash ----------

def dispatch_beside_locked_blobs(env, client, worker, owner, sha: str, busy: str, queued: str,
                                 from_cache: bool) -> bytes:
    """Runs a job of sha (title busy) on the worker, queues a second (title queued) behind it,
    and lets the worker finish the first while every PDF read is held by a lock on blobs. The
    second job's REQUEST comes at once if its PDF is sent from the cache (from_cache), or only
    after the lock is released. Both jobs are then finished; returns the PDF the second got."""
    first = client.submit(owner, sha, busy)["job_id"]
    token, _ = worker.expect_request()
    second = client.submit(owner, sha, queued)["job_id"]
    wait_for("the job queued", lambda: env.job(second).get("state") == "queued", 5)
    blobs = locked_blobs(env)
    try:
        worker.final_ok(token, course_doc(busy, minimal=True))
        if from_cache:
            token2, body = worker.expect_request()  # no PDF read can pass the lock
        else:
            pump_until("the dispatch to be queued",
                       lambda: "job dispatching job=" + second in env.log(), [worker])
            assert worker.recv(timeout=1.0) is None  # its REQUEST waits for the read
    finally:
        blobs.commit()
        blobs.close()
    if not from_cache:
        token2, body = worker.expect_request()
    assert token_base(token2) == f"{second}/1".encode()
    worker.final_ok(token2, course_doc(queued, minimal=True))
    env.wait_job(first, "succeeded")
    env.wait_job(second, "succeeded")
    return body["pdf"]


def test_pdf_read_once_is_not_cached_read_twice_is(make_env):
    env = make_env()
    client, owner = env.client(), env.add_user()
    worker = env.worker()
    worker.ready()
    sha = env.add_blob(make_pdf("Cache " + uuid.uuid4().hex))
    run_job(env, client, worker, owner, sha, "Once")  # read once: remembered, not kept
    # The busy job's read is the second: the PDF is kept from now on.
    pdf = dispatch_beside_locked_blobs(env, client, worker, owner, sha, "Busy", "From the cache",
                                       from_cache=True)
    assert pdf == make_pdf_bytes(env, sha)

    # A PDF read once only: the next job of it waits for its read.
    once = env.add_blob(make_pdf("Once only " + uuid.uuid4().hex))
    pdf = dispatch_beside_locked_blobs(env, client, worker, owner, once, "First read",
                                       "Second read", from_cache=False)
    assert pdf == make_pdf_bytes(env, once)


def make_pdf_bytes(env, sha: str) -> bytes:
    return bytes(env.query("SELECT data FROM blobs WHERE sha256 = %s", sha)[0][0])


def test_pdf_whose_bytes_do_not_match_its_hash_is_never_sent_from_the_cache(make_env):
    # Stored bytes that are not the PDF of their hash (a corrupted or forged row): each job is
    # sent what a read returns, never bytes kept in the cache, however often the PDF is read.
    env = make_env()
    client, owner = env.client(), env.add_user()
    worker = env.worker()
    worker.ready()
    stored = make_pdf("Stored " + uuid.uuid4().hex)
    claimed = hashlib.sha256(b"another PDF " + uuid.uuid4().bytes).hexdigest()
    env.query("INSERT INTO blobs (sha256, size, data) VALUES (%s, %s, %s)", claimed,
              len(stored), psycopg2.Binary(stored))
    for i in range(3):
        run_job(env, client, worker, owner, claimed, f"Mismatch {i}")
    # Nothing is kept under a hash not its own: the REQUEST waits for the read, and carries
    # what the read returned, as for any PDF not in the cache.
    pdf = dispatch_beside_locked_blobs(env, client, worker, owner, claimed, "Busy",
                                       "Never cached", from_cache=False)
    assert pdf == stored
