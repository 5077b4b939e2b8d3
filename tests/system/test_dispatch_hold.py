"""System tests of held dispatch writes (docs/broker.md, "Holding the dispatch write").

An early dispatch (REQUEST sent before its commit) is not written at once: it waits up to
broker/dispatch_hold_ms for the worker's result, and a result within the hold is written with
it as ONE update of the job (one row version), in one transaction with both events. These
tests use holds of seconds so that "within the hold" is certain on a loaded machine, and check
against the real broker and PostgreSQL: the row versions written, the events and their
transactions, a job longer than the hold, a broker killed or stopped during the hold, a worker
gone, a failure and a cancellation during it, and a standby broker taking over while the
leader holds a dispatch (the held write is one more fenced transaction: refused). Python peers
over ZeroMQ (tests/system/mdp.py); helpers from test_broker.py.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mdp import W_DISCONNECT, MdpClient, course_doc, token_base  # noqa: E402
from stack import wait_for  # noqa: E402
from test_broker import BROKER, BROKER_WRAPPER  # noqa: E402
from test_broker import make_env, make_pdf  # noqa: E402,F401 (make_env: a fixture)

LONG_HOLD = 5000  # ms: every answer of these tests comes well within it


def updates_of_jobs(env) -> int:
    """Row updates of the jobs table so far (statistics, flushed by the broker's backend
    within about a second of its last transaction)."""
    return env.query("SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'jobs'")[0][0]


def pause(worker, seconds: float) -> None:
    """Sleep while the worker heartbeats (so that it does not expire)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        worker.pump()
        time.sleep(0.05)


def settled_updates(env, worker, expected: int) -> int:
    """Wait for the statistics to reach expected (they lag); the count then, after a pause
    that would show any further update."""
    end = time.monotonic() + 10
    while updates_of_jobs(env) < expected and time.monotonic() < end:
        pause(worker, 0.2)
    pause(worker, 1.5)
    return updates_of_jobs(env)


def events(env, job: str) -> list[tuple]:
    return env.query("SELECT state, attempt, stage, xmin::text FROM job_events WHERE job_id = %s"
                     " ORDER BY seq", job)


def finish_after_stale_refused(env, job: str, worker, token: bytes, title: str) -> dict:
    """Once the broker has logged the stale FINAL as refused (forged: its attempt is the current
    one, so it is not called late), the new attempt's worker sends its result: the job succeeds
    at attempt 1 with that course alone. The job's row."""
    wait_for("the stale result refused", lambda: "forged FINAL refused job=" + job in env.log(),
             5, retry_on=())
    assert "dropping late result job=" + job not in env.log()
    worker.final_ok(token, course_doc(title, minimal=True))
    done = env.wait_job(job, "succeeded")
    assert done["attempts"] == 1
    assert [c[1]["title"] for c in env.courses(job)] == [title]
    return done


def started(env, hold_ms: int = LONG_HOLD):
    """A broker with the given hold, a client, an owner and a small PDF, and a worker ready."""
    env = env(dispatch_hold_ms=hold_ms)
    client = env.client()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Held " + str(time.monotonic())))
    worker = env.worker()
    worker.ready()
    return env, client, owner, sha, worker


def test_result_within_the_hold_is_one_update_with_both_events(make_env):
    env, client, owner, sha, worker = started(make_env)
    before = settled_updates(env, worker, 0)
    jobs = []
    # The first job reads its PDF early, the next ones find it in the cache: both early paths.
    for i in range(3):
        job = client.submit(owner, sha, f"Held {i}")["job_id"]
        token, body = worker.expect_request()
        assert token_base(token) == f"{job}/1".encode()
        # Dispatched and held: PostgreSQL still says queued at attempt 0.
        assert env.job(job)["state"] == "queued" and env.job(job)["attempts"] == 0
        worker.final_ok(token, course_doc(f"Held {i}", minimal=True))
        done = env.wait_job(job, "succeeded")
        assert done["attempts"] == 1 and done["worker"] and done["progress"] == 100
        assert len(env.courses(job)) == 1
        jobs.append(job)
    for job in jobs:
        ev = events(env, job)
        assert [e[:3] for e in ev] == [("queued", 0, "queued"), ("running", 1, "starting"),
                                       ("succeeded", 1, "done")], ev
        # Running and succeeded written by one transaction, the job's row by it too.
        assert ev[1][3] == ev[2][3] != ev[0][3], ev
        assert env.query("SELECT xmin::text FROM jobs WHERE id = %s", job)[0][0] == ev[2][3]
        row = env.query("SELECT started_at <= finished_at, token_sha256 IS NOT NULL"
                        " FROM jobs WHERE id = %s", job)[0]
        assert row == (True, True), row
    # One row version per job for dispatch and result together (two without the hold).
    assert settled_updates(env, worker, before + 3) - before == 3
    assert env.log().count("job succeeded job=") == 3


def test_job_longer_than_the_hold_shows_running_then_completes(make_env):
    env, client, owner, sha, worker = started(make_env, hold_ms=300)
    before = settled_updates(env, worker, 0)
    job = client.submit(owner, sha, "Long")["job_id"]
    token, _ = worker.expect_request()
    t0 = time.monotonic()
    # The hold runs out and the dispatch is written alone: 'running' without any result.
    wait_for("running", lambda: (worker.pump(), env.job(job)["state"] == "running")[1], 10,
             retry_on=())
    assert time.monotonic() - t0 < 5.0
    assert env.job(job)["attempts"] == 1
    # Written 300 ms after the REQUEST, yet dated from it: started_at before its 'running'
    # event by the hold, and the deadline counted from started_at.
    since, deadline_ms = env.query(
        "SELECT extract(epoch FROM e.at - j.started_at),"
        " round(extract(epoch FROM j.deadline_at - j.started_at) * 1000)"
        " FROM jobs j JOIN job_events e ON e.job_id = j.id AND e.state = 'running'"
        " WHERE j.id = %s", job)[0]
    assert since >= 0.25, since
    assert int(deadline_ms) == int(env.conf.get("job_deadline_ms", 600000)), deadline_ms
    worker.partial(token, 40, "text")
    worker.final_ok(token, course_doc("Long", minimal=True))
    env.wait_job(job, "succeeded")
    ev = events(env, job)
    assert [e[:2] for e in ev] == [("queued", 0), ("running", 1), ("succeeded", 1)], ev
    assert ev[1][3] != ev[2][3]  # two transactions, as before the hold existed
    assert settled_updates(env, worker, before + 2) - before >= 2


def test_broker_killed_during_the_hold_runs_the_job_again_once(make_env):
    env, client, owner, sha, first = started(make_env)
    job = client.submit(owner, sha, "Killed")["job_id"]
    token_1, _ = first.expect_request()
    assert env.job(job)["state"] == "queued"
    env.kill9()  # the held dispatch dies with the process
    assert env.job(job)["state"] == "queued" and env.job(job)["attempts"] == 0
    assert [e[:2] for e in events(env, job)] == [("queued", 0)]
    env.start()
    second = env.worker()
    second.ready()
    token_2, body = second.expect_request()
    assert body["attempt"] == 1 and token_base(token_2) == token_base(token_1)
    assert token_2 != token_1  # a new secret: the first worker's token is void
    first.final_ok(token_1, course_doc("From the lost attempt", minimal=True))
    assert second.recv(timeout=1.0) is None
    finish_after_stale_refused(env, job, second, token_2, "From the new attempt")
    assert [e[:2] for e in events(env, job)] == [("queued", 0), ("running", 1),
                                                 ("succeeded", 1)]


def test_broker_stopped_during_the_hold_writes_the_dispatch(make_env):
    env, client, owner, sha, worker = started(make_env)
    job = client.submit(owner, sha, "Stopped")["job_id"]
    token, _ = worker.expect_request()
    assert env.job(job)["state"] == "queued"
    assert env.stop() == 0
    # Written on the way out: the next broker finds it running (an orphan it can adopt).
    assert env.job(job)["state"] == "running" and env.job(job)["attempts"] == 1
    env.start()
    worker.final_ok(token, course_doc("After the restart", minimal=True))
    done = env.wait_job(job, "succeeded")
    assert done["attempts"] == 1 and len(env.courses(job)) == 1


def test_worker_gone_during_the_hold_writes_dispatch_then_requeue(make_env):
    env, client, owner, sha, first = started(make_env)
    job = client.submit(owner, sha, "Gone")["job_id"]
    first.expect_request()
    first.send(W_DISCONNECT)
    wait_for("requeued", lambda: env.job(job)["state"] == "queued"
             and env.job(job)["attempts"] == 1, 10, retry_on=())
    second = env.worker()
    second.ready()
    token, body = second.expect_request()
    assert body["attempt"] == 2
    second.final_ok(token, course_doc("Second worker", minimal=True))
    env.wait_job(job, "succeeded")
    assert [e[:2] for e in events(env, job)] == [("queued", 0), ("running", 1), ("queued", 1),
                                                 ("running", 2), ("succeeded", 2)]


def test_failure_during_the_hold_writes_dispatch_then_failure(make_env):
    env, client, owner, sha, worker = started(make_env)
    job = client.submit(owner, sha, "Fails")["job_id"]
    token, _ = worker.expect_request()
    worker.final_error(token, "not_pdf", "not a PDF")
    done = env.wait_job(job, "failed")
    assert done["attempts"] == 1 and done["error_code"] == "not_pdf"
    assert [e[:2] for e in events(env, job)] == [("queued", 0), ("running", 1), ("failed", 1)]


def test_course_refused_by_postgresql_during_the_hold(make_env):
    """The merged statement (dispatch and course) refused on data: nothing of it committed, so
    the dispatch is written alone, then the failure, as when a dispatch committed before."""
    from test_store_batch import _bad_course  # valid for the broker, refused by jsonb

    env, client, owner, sha, worker = started(make_env)
    job = client.submit(owner, sha, "Refused")["job_id"]
    token, _ = worker.expect_request()
    worker.final_ok(token, _bad_course())
    done = env.wait_job(job, "failed")
    assert done["attempts"] == 1 and done["error_code"] == "internal", done
    assert "invalid course document" in done["error"], done
    assert env.courses(job) == []
    assert [e[:2] for e in events(env, job)] == [("queued", 0), ("running", 1), ("failed", 1)]
    assert "course rejected by the database job=" + job in env.log()


def test_cancel_during_the_hold(make_env):
    env, client, owner, sha, worker = started(make_env)
    job = client.submit(owner, sha, "Cancelled")["job_id"]
    token, _ = worker.expect_request()
    reply = client.cancel(owner, job)
    assert reply["ok"], reply
    worker.expect_disconnect(timeout=5)
    assert env.job(job)["state"] == "cancelled" and env.courses(job) == []
    worker.final_ok(token, course_doc("Too late", minimal=True))
    time.sleep(0.5)
    assert env.job(job)["state"] == "cancelled" and env.courses(job) == []
    # The held dispatch went first: the attempt and its worker are on record.
    assert [e[:2] for e in events(env, job)] == [("queued", 0), ("running", 1),
                                                 ("cancelled", 1)]


def test_results_of_many_held_jobs_at_once(make_env):
    """Several workers answer together: their results, each with its held dispatch, travel in
    one segment (the multi-row form when they share a loop turn), and none is rolled back."""
    env, client, owner, sha, first = started(make_env)
    workers = [first] + [env.worker() for _ in range(5)]
    for w in workers[1:]:
        w.ready()
    rollbacks = env.query("SELECT xact_rollback FROM pg_stat_database"
                          " WHERE datname = current_database()")[0][0]
    jobs = [client.submit(owner, sha, f"Many {i}")["job_id"] for i in range(len(workers))]
    tokens = [w.expect_request()[0] for w in workers]
    assert {token_base(t).decode().split("/")[0] for t in tokens} == set(jobs)
    for w, t in zip(workers, tokens):
        w.final_ok(t, course_doc("Many", minimal=True))
    for job in jobs:
        env.wait_job(job, "succeeded")
        assert [e[:2] for e in events(env, job)] == [("queued", 0), ("running", 1),
                                                     ("succeeded", 1)]
        assert len(env.courses(job)) == 1
    pause(first, 1.5)
    assert env.query("SELECT xact_rollback FROM pg_stat_database"
                     " WHERE datname = current_database()")[0][0] == rollbacks
    assert "course rejected" not in env.log()


def test_refused_result_during_the_hold_leaves_it_to_run_out(make_env):
    """A FINAL with the job's attempt but a wrong secret, from a peer that is not its worker,
    is refused and writes nothing: the hold runs out, the dispatch is written alone, and the
    real worker's result completes the job once."""
    env, client, owner, sha, worker = started(make_env, hold_ms=2000)
    job = client.submit(owner, sha, "Forged")["job_id"]
    token, _ = worker.expect_request()
    forger = env.worker()  # never READY: an unknown peer
    forged = token_base(token) + b"/" + b"0" * 32
    forger.final_ok(forged, course_doc("Forged", minimal=True))
    forger.expect_disconnect(timeout=5)
    assert env.job(job)["state"] in ("queued", "running") and env.courses(job) == []
    wait_for("the dispatch written alone",
             lambda: (worker.pump(), env.job(job)["state"] == "running")[1], 10, retry_on=())
    assert env.courses(job) == []
    worker.final_ok(token, course_doc("Real", minimal=True))
    done = env.wait_job(job, "succeeded")
    assert done["attempts"] == 1
    assert [c[1]["title"] for c in env.courses(job)] == ["Real"]
    ev = events(env, job)
    assert [e[:2] for e in ev] == [("queued", 0), ("running", 1), ("succeeded", 1)], ev
    assert ev[1][3] != ev[2][3]  # the dispatch alone, then the result


# ---- a standby takes over while the leader holds a dispatch ----------------------------------

TAKEOVER_HOLD = 6000  # ms: the leader is stopped, deposed and resumed well within it


def ping(env) -> dict | None:
    """broker.ping's FINAL body from a fresh socket (a PONG, or a standby's not_leader), or
    None without an answer."""
    probe = MdpClient(env.endpoint, env.ctx)
    try:
        return probe.request("broker.ping", {}, timeout=0.3)
    except AssertionError:
        return None
    finally:
        probe.close()


def standby_of(make_env, leader, **conf):
    """A second broker on the leader's database, with a port, configuration and log of its
    own: it stands by (answers not_leader) until it can take the leader's lock."""
    env = make_env(start=False, **conf)
    env.pg.drop_database(env.dbname)  # made by make_env; this broker shares the leader's
    env.conninfo, env.dbname = leader.conninfo, leader.dbname
    log = open(env.log_path, "ab")
    env.proc = subprocess.Popen([*BROKER_WRAPPER, str(BROKER), "-c", str(env.write_config())],
                                stdout=log, stderr=log)
    log.close()
    wait_for("the second broker to answer not_leader",
             lambda: (ping(env) or {}).get("error_code") == "not_leader", 20, retry_on=())
    return env


@pytest.mark.parametrize("ending", ["result", "hold_runs_out"])
def test_standby_takes_over_while_the_leader_holds_a_dispatch(make_env, ending):
    """Leader A holds an early dispatch's write; A is frozen (SIGSTOP) and its lock session
    ended, standby B takes over (epoch 2) and loads the job as PostgreSQL has it: queued. A
    resumes and its held write goes, merged with the worker's result or alone when the hold
    runs out: one more transaction fenced at epoch 1, which the fence refuses. Nothing of it
    commits, A steps down (exit 3), and the job runs on a worker of B, a new secret voiding the
    first worker's token: one course, B's (docs/broker.md, "Holding the dispatch write", case
    "leader change"; "Standby broker", "Fencing")."""
    # A checks its lock session every minute only, so that at its resume nothing but the fence
    # stands between its held write and the database (its check would find the lock taken and
    # stop it before it writes: safe too, but not what this test is about).
    a = make_env(dispatch_hold_ms=TAKEOVER_HOLD, lock_poll_ms=60000)
    client = a.client()
    owner, sha = a.add_user(), a.add_blob(make_pdf("Take-over " + str(time.monotonic())))
    b = standby_of(make_env, a, dispatch_hold_ms=TAKEOVER_HOLD, lock_poll_ms=100)
    assert a.query("SELECT epoch FROM broker_leader")[0][0] == 1
    first = a.worker()
    first.ready()
    job = client.submit(owner, sha, "Across a take-over")["job_id"]
    token_1, body = first.expect_request()
    sent_at = time.monotonic()
    assert body["attempt"] == 1 and token_base(token_1) == f"{job}/1".encode()
    os.kill(a.proc.pid, signal.SIGSTOP)
    try:
        # Frozen well within its hold, the write unsent: PostgreSQL says queued at attempt 0.
        assert time.monotonic() - sent_at < TAKEOVER_HOLD / 1000 / 2
        assert a.job(job)["state"] == "queued" and a.job(job)["attempts"] == 0
        # A frozen process keeps its sockets (the kernel still answers for it), so PostgreSQL
        # does not end its lock session as it ends a vanished host's after its keepalives
        # ("Failure detection"): the test ends it as PostgreSQL would.
        ended = a.query("SELECT pg_terminate_backend(l.pid) FROM pg_locks l"
                        " JOIN pg_stat_activity s ON s.pid = l.pid"
                        " WHERE l.locktype = 'advisory' AND l.granted"
                        " AND s.application_name = 'profai-broker-lock'"
                        " AND s.datname = current_database()")
        assert ended == [(True,)], ended
        wait_for("the standby to take over",
                 lambda: (first.pump(), a.query("SELECT epoch FROM broker_leader")[0][0] == 2)[1],
                 10, retry_on=())
        wait_for("the new leader to answer PING",
                 lambda: (first.pump(), (ping(b) or {}).get("ok") is True)[1], 10, retry_on=())
        leader = a.query("SELECT leader FROM broker_leader")[0][0]
        assert leader.endswith(" " + b.endpoint), leader
        assert a.job(job)["state"] == "queued" and a.job(job)["attempts"] == 0
        if ending == "result":
            # The first worker answers A, which reads it first thing at its resume.
            first.final_ok(token_1, course_doc("From the deposed leader", minimal=True))
    finally:
        os.kill(a.proc.pid, signal.SIGCONT)

    # A's held write (with the result, or alone when its hold runs out) meets the fence.
    def stopped_having_written_nothing() -> bool:
        first.pump()
        row = a.job(job)
        assert (row["state"], row["attempts"], row["course_id"]) == ("queued", 0, None), \
            f"the deposed leader's held write committed: {row}"
        return a.proc.poll() is not None

    wait_for("the deposed leader to stop", stopped_having_written_nothing,
             TAKEOVER_HOLD / 1000 + 10, retry_on=())
    assert a.proc.returncode == 3, a.proc.returncode
    log_a = a.log()
    assert "leadership lost epoch=1: " in log_a, log_a[-2000:]
    assert "broker epoch 1 is not the current one" in log_a  # the fence's refusal
    assert "lock session" not in log_a  # the fence deposed it, not its lock check
    assert ("job result received job=" + job in log_a) == (ending == "result")
    assert "job succeeded job=" not in log_a
    # Nothing of A's held write committed: the row, its events and its courses are as B found
    # them (B has no worker yet).
    row = a.query("SELECT state, attempts, worker, token_sha256, started_at, course_id"
                  " FROM jobs WHERE id = %s", job)[0]
    assert row == ("queued", 0, None, None, None, None), row
    assert [e[:2] for e in events(a, job)] == [("queued", 0)]
    assert a.courses(job) == []
    # The job runs on a worker of B: attempt 1 again, with a new secret.
    second = b.worker()
    second.ready()
    token_2, body = second.expect_request()
    assert body["attempt"] == 1 and token_base(token_2) == token_base(token_1)
    assert token_2 != token_1
    # The first worker, reconnected to B, delivers its run: refused, it holds the old secret.
    late = b.worker()  # never READY: an unknown peer
    late.final_ok(token_1, course_doc("From the deposed leader", minimal=True))
    late.expect_disconnect(timeout=5)
    finish_after_stale_refused(b, job, second, token_2, "From the new leader")
    secret_2 = token_2.split(b"/")[2]
    assert b.query("SELECT token_sha256 FROM jobs WHERE id = %s", job)[0][0] == \
        hashlib.sha256(secret_2).hexdigest()
    assert [e[:2] for e in events(b, job)] == [("queued", 0), ("running", 1), ("succeeded", 1)]
    assert b.log().count("job succeeded job=" + job) == 1
    assert b.proc.poll() is None
