"""System tests of the job lifecycle rules (docs/jobs.md): retries with back-off, poison jobs,
deadlines, cancellation, fencing of attempts, finished work across outages.

Each test starts its own stack (tests/system/stack.py) against the session's PostgreSQL
cluster: the real broker, the real frontend for uploads and, where the rule concerns the
worker, the real profai-worker and profai-extract. Where a rule needs precise timing or a
failure on demand (a parser crash on attempt 1, two attempts that both finish), the worker is
a Python MDP/0.2 peer on a real ZeroMQ DEALER socket instead, answering what the test says.
Each test would fail if its rule were broken; they run in about a minute and a half with
short heartbeats (250 ms, liveness 4) and short back-offs.

Run: sh scripts/check-system.sh tests/system/test_lifecycle.py
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import msgpack
import psycopg2
import pytest

from mdp import W_REQUEST, MdpClient, MdpWorker, course_doc, token_base
from pdfs import make_long_pdf, make_plain_pdf
from stack import BIN, Stack, StackError, wait_for, zpl


# ---- peers speaking the wire protocol (tests/system/mdp.py) --------------------------------------

@pytest.fixture
def peers():
    """Python peers, closed at teardown."""
    made = []

    def make(kind, endpoint):
        peer = kind(endpoint)
        made.append(peer)
        return peer
    yield make
    for peer in made:
        peer.close()


# ---- helpers -----------------------------------------------------------------------------------

def row(s: Stack, job_id: str) -> dict:
    """The job's row, with retry_at and deadline_at, reconnecting after a PostgreSQL restart."""
    sql = ("SELECT state, attempts, error_code, error, course_id::text, owner_id::text,"
           " retry_at, deadline_at, retry_at > now() AS retry_pending,"
           " (SELECT count(*) FROM courses c WHERE c.job_id = j.id) AS courses"
           " FROM jobs j WHERE id = %s")
    for retry in (True, False):
        try:
            with s.db().cursor() as cur:
                cur.execute(sql, (job_id,))
                values = cur.fetchone()
                if values is None:
                    raise StackError(f"no job {job_id}")
                return dict(zip([d.name for d in cur.description], values))
        except psycopg2.OperationalError:
            s._db.close()  # the server restarted under this connection
            if not retry:
                raise
    raise AssertionError("unreachable")


def wait_state(s: Stack, job_id: str, state: str, timeout: float = 20.0, **match) -> dict:
    def reached():
        r = row(s, job_id)
        return r if r["state"] == state and all(r[k] == v for k, v in match.items()) else None
    return wait_for(f"job {job_id} {state} {match or ''}", reached, timeout, interval=0.05,
                    on_timeout=lambda: f"{row(s, job_id)}\n{s.log_tails()}")


def small_pdf(outdir: Path) -> Path:
    path = outdir / "small.pdf"
    if not path.exists():
        make_plain_pdf(path, pages=2)
    return path


def long_pdf(outdir: Path, pages: int) -> Path:
    path = outdir / f"long{pages}.pdf"
    if not path.exists():
        make_long_pdf(path, pages=pages)
    return path


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def log_time(log: str, needle: str) -> float:
    """The time (s since the epoch) of the first log line containing needle."""
    for line in log.splitlines():
        if needle in line:
            stamp = line.split(" ", 1)[0]  # 2026-11-28T21:00:00.123Z
            return time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) + \
                float("0" + stamp[19:-1])
    raise AssertionError(f"no log line with {needle!r}")


# ---- retries -----------------------------------------------------------------------------------

def test_crashed_attempt_is_retried_after_its_backoff_even_across_a_restart(make_stack, outdir,
                                                                             peers):
    backoff = 2.5  # s: long enough to restart the broker inside it
    s = make_stack()
    s.start_broker(retry_base_ms=int(backoff * 1000), retry_max_ms=10000, max_attempts=3)
    s.add_frontend()
    worker = peers(MdpWorker, s.endpoint).ready()
    s.wait_workers(1)
    job_id = s.submit(small_pdf(outdir), "Retried")

    token, job = worker.expect_request()
    assert job["attempt"] == 1
    worker.final_error(token, "parser_crashed", "The PDF parser crashed (signal 11) on this file.")
    crashed_at = time.monotonic()
    queued = wait_state(s, job_id, "queued", timeout=5, attempts=1)
    assert queued["retry_pending"] and queued["error_code"] is None and queued["courses"] == 0

    # The back-off lives in the database too: a new broker keeps it.
    s.broker.kill()
    worker.close()
    s.start_broker(retry_base_ms=int(backoff * 1000), retry_max_ms=10000, max_attempts=3)
    worker = peers(MdpWorker, s.endpoint).ready()
    token, job = worker.expect_request(timeout=backoff + 5)
    waited = time.monotonic() - crashed_at
    assert job["attempt"] == 2 and token_base(token) == f"{job_id}/2".encode()
    assert waited >= backoff - 0.1, f"retried after {waited:.2f} s, back-off {backoff} s"
    assert waited < backoff * 1.1 + 2.0, f"retried only after {waited:.2f} s"
    assert "job waiting for its retry job=" + job_id in s.broker.log_text()

    worker.final_ok(token, course_doc("Second attempt"))
    done = wait_state(s, job_id, "succeeded", attempts=2)
    assert done["courses"] == 1 and done["retry_at"] is None and done["error_code"] is None


def test_real_parser_crash_is_retried_with_backoff(make_stack, outdir):
    base = 0.5
    s = make_stack()
    s.start_broker(retry_base_ms=int(base * 1000), max_attempts=3)
    conf = s.outdir / "worker1.conf"
    conf.write_text(f'''worker
    broker = "{s.endpoint}"
    concurrency = 1
    heartbeat_ivl = {s.heartbeat_ivl}
    liveness = {s.liveness}
    crash_attempts = 1
log
    level = debug
''' + zpl(s.curve_conf("worker1", "worker")))
    worker = s.add_worker(argv=[BIN / "profai-worker", "-c", conf])
    s.add_frontend()
    s.wait_healthy()

    job_id = s.submit(small_pdf(outdir), "Crashes once")
    done = s.wait_job(job_id, timeout=30)
    assert s.job_row(job_id)["attempts"] == 2 and done["course_id"]
    assert "parser_crashed (signal 11)" in worker.log_text()
    log = s.broker.log_text()
    gap = (log_time(log, f"job dispatched job={job_id} attempt=2")
           - log_time(log, f"job requeued job={job_id} attempt=1"))
    assert gap >= base - 0.01, f"attempt 2 dispatched {gap:.3f} s after the crash"


def test_poison_job_fails_with_its_reason_and_never_blocks_the_queue(make_stack, outdir, peers):
    base = 0.4
    s = make_stack()
    s.start_broker(retry_base_ms=int(base * 1000), retry_max_ms=5000, max_attempts=3)
    s.add_frontend()
    worker = peers(MdpWorker, s.endpoint).ready()  # the only worker: a poison job could hog it
    s.wait_workers(1)
    poison = s.submit(small_pdf(outdir), "Poison")
    good = []
    requests, crashes = [], {}  # (time, job id, attempt); attempt -> time of the crash

    def finished() -> bool:
        return (row(s, poison)["state"] == "failed" and bool(good)
                and row(s, good[0])["state"] == "succeeded")
    deadline = time.monotonic() + 20
    while not finished():
        assert time.monotonic() < deadline, f"{requests}\n{s.log_tails()}"
        frames = worker.recv(0.05)
        if not frames or frames[1] != W_REQUEST:
            continue
        job = msgpack.unpackb(frames[4], raw=False)
        requests.append((time.monotonic(), job["job_id"], job["attempt"]))
        if job["job_id"] == poison:
            worker.final_error(frames[2], "parser_crashed", "The PDF parser crashed (signal 11).")
            crashes[job["attempt"]] = time.monotonic()
            if not good:  # submitted while the poison job backs off
                good.append(s.submit(small_pdf(outdir), "Good"))
        else:
            worker.final_ok(frames[2], course_doc(job["title"]))

    failed = row(s, poison)
    assert failed["error_code"] == "parser_crashed" and failed["attempts"] == 3
    assert "crashed on every one of 3 attempts" in failed["error"]
    assert failed["courses"] == 0 and failed["retry_at"] is None
    poison_requests = [(t, a) for t, j, a in requests if j == poison]
    assert [a for _, a in poison_requests] == [1, 2, 3]
    for (t, attempt) in poison_requests[1:]:  # base, then doubled
        gap = t - crashes[attempt - 1]
        assert gap >= base * 2 ** (attempt - 2), f"attempt {attempt} after {gap:.2f} s"
    # The other job ran while the poison job waited for its second attempt.
    good_request = next(t for t, j, _ in requests if j == good[0])
    assert good_request < poison_requests[1][0]
    assert row(s, good[0])["attempts"] == 1
    # It never comes back (a fourth attempt would follow 4 * base after the third).
    assert worker.recv(4 * base + 0.5) is None
    pong = MdpClient(s.endpoint).ping()
    assert (pong["queued"], pong["running"]) == (0, 0)


def test_deterministic_failure_fails_at_once(make_stack, outdir):
    s = make_stack()
    s.start_broker(retry_base_ms=200, max_attempts=3)
    s.add_worker()
    s.add_frontend()
    s.wait_healthy()
    encrypted = outdir / "encrypted.pdf"
    subprocess.run(["qpdf", "--encrypt", "secret", "secret", "256", "--",
                    str(small_pdf(outdir)), str(encrypted)], check=True)

    job_id = s.submit(encrypted, "Locked")
    failed = wait_state(s, job_id, "failed")
    assert failed["error_code"] == "encrypted" and failed["attempts"] == 1
    assert "password" in failed["error"].lower()
    time.sleep(0.6)  # three back-offs: no second attempt
    assert row(s, job_id)["attempts"] == 1
    assert s.get_job(job_id)["state"] == "failed"


# ---- deadlines -----------------------------------------------------------------------------------

def test_job_past_its_deadline_is_stopped_retried_then_failed(make_stack, outdir):
    s = make_stack()
    s.start_broker(job_deadline_ms=1500, retry_base_ms=300, retry_max_ms=300, max_attempts=2)
    worker = s.add_worker(page_delay_ms=400)  # 20 pages: 8 s, far past the deadline
    s.add_frontend()
    s.wait_healthy()
    job_id = s.submit(long_pdf(outdir, 20), "Too slow")

    first = wait_for("the first extractor", worker.children, 10, on_timeout=s.log_tails)
    # The dispatch's write may be held up to broker/dispatch_hold_ms for a result.
    running = wait_for("the dispatch written", lambda: (r := row(s, job_id))["state"] ==
                       "running" and r, 5, on_timeout=s.log_tails)
    assert running["deadline_at"] is not None
    wait_for("the first extractor to be killed", lambda: not any(map(alive, first)), 5,
             on_timeout=s.log_tails)
    wait_state(s, job_id, "running", timeout=5, attempts=2)

    failed = wait_state(s, job_id, "failed", timeout=10)
    assert failed["error_code"] == "timeout" and failed["attempts"] == 2
    assert "every one of 2 attempts" in failed["error"] and failed["deadline_at"] is None
    assert s.broker.log_text().count(f"job past its deadline job={job_id}") == 2
    assert worker.log_text().count("the broker took the job away") == 2
    # The worker survived, killed both parsers, and is back for more.
    wait_for("no extractor left", lambda: not worker.children(), 5)
    assert worker.alive and worker.started == 1
    s.wait_workers(1)


# ---- cancellation --------------------------------------------------------------------------------

def test_cancel_queued_and_waiting_jobs_and_refusals(make_stack, outdir, peers):
    s = make_stack()
    s.start_broker(retry_base_ms=1500, retry_max_ms=1500, max_attempts=3)
    s.add_frontend()
    s.wait_healthy(workers=0)
    client = peers(MdpClient, s.endpoint)

    queued = s.submit(small_pdf(outdir), "Queued")  # no worker: it stays queued
    owner = row(s, queued)["owner_id"]
    reply = client.cancel(owner, queued)
    assert reply["ok"] is True and reply["state"] == "cancelled" and reply["rid"] == client.rid
    cancelled = row(s, queued)
    assert cancelled["state"] == "cancelled" and cancelled["attempts"] == 0  # committed first
    again = client.cancel(owner, queued)
    assert again["ok"] is False and again["error_code"] == "already_final"
    assert again["state"] == "cancelled"
    # Refusals: another owner's job, no such job, a malformed request.
    assert client.cancel(str(uuid.uuid4()), queued)["error_code"] == "unknown_job"
    assert client.cancel(owner, str(uuid.uuid4()))["error_code"] == "unknown_job"
    bad = client.request("job.cancel", {"owner": owner, "job_id": queued.upper()})
    assert bad["ok"] is False and bad["error_code"] == "bad_request"

    # A cancelled job is never dispatched.
    worker = peers(MdpWorker, s.endpoint).ready()
    assert worker.recv(0.8) is None

    # A job waiting for its retry: cancelled at once, and its retry never comes.
    waiting = s.submit(small_pdf(outdir), "Waiting")
    token, job = worker.expect_request()
    worker.final_error(token, "timeout", "Reading this PDF took longer than allowed.")
    wait_state(s, waiting, "queued", timeout=5, attempts=1)
    assert client.cancel(owner, waiting)["ok"] is True
    assert worker.recv(2.5) is None  # past the 1.5 s back-off
    assert row(s, waiting)["state"] == "cancelled" and row(s, waiting)["retry_at"] is None

    # A running job: its worker is told DISCONNECT; a FINAL it sends anyway is fenced off.
    running = s.submit(small_pdf(outdir), "Running")
    token, job = worker.expect_request()
    reply = client.cancel(owner, running)
    assert reply["ok"] is True and reply["state"] == "cancelled"
    worker.expect_disconnect()
    worker.final_ok(token, course_doc("Too late"))
    time.sleep(0.5)
    late = row(s, running)
    assert late["state"] == "cancelled" and late["courses"] == 0
    assert "dropping late result job=" + running in s.broker.log_text()
    pong = client.ping()
    assert (pong["queued"], pong["running"]) == (0, 0)


def test_cancel_running_job_kills_its_extractor(make_stack, outdir, peers):
    s = make_stack()
    s.start_broker()
    worker = s.add_worker(page_delay_ms=300)  # 20 pages: 6 s
    s.add_frontend()
    s.wait_healthy()
    job_id = s.submit(long_pdf(outdir, 20), "Cancelled while running")
    wait_for("the job to run with progress",
             lambda: (r := s.job_row(job_id))["state"] == "running" and r["progress"] > 0,
             timeout=20, on_timeout=s.log_tails)
    extractors = worker.children()
    assert extractors, "no extractor running"

    reply = peers(MdpClient, s.endpoint).cancel(row(s, job_id)["owner_id"], job_id)
    assert reply["ok"] is True and reply["state"] == "cancelled"
    asked = time.monotonic()
    wait_for("the extractor to be killed", lambda: not any(map(alive, extractors)), 3,
             on_timeout=s.log_tails)
    print(f"extractor gone {time.monotonic() - asked:.2f} s after the cancellation")
    time.sleep(1.0)  # nothing brings it back
    final = row(s, job_id)
    assert final["state"] == "cancelled" and final["courses"] == 0 and final["attempts"] == 1
    assert s.get_job(job_id)["state"] == "cancelled"
    assert "the broker took the job away" in worker.log_text()

    # The same worker process reconnected and serves the next job.
    s.wait_workers(1)
    after = s.wait_job(s.submit(small_pdf(outdir), "After the cancellation"), timeout=30)
    assert after["state"] == "succeeded"
    assert worker.alive and worker.started == 1


# ---- one result per job ----------------------------------------------------------------------------

def test_two_attempts_both_finish_one_course(make_stack, outdir, peers):
    s = make_stack()
    s.start_broker(retry_base_ms=300)
    s.add_frontend()
    s.wait_healthy(workers=0)

    def superseded_attempt(title: str, current_first: bool) -> None:
        """Attempt 1's worker hangs, is declared dead (1 s), attempt 2 runs elsewhere; then
        both deliver a course, in the given order."""
        hung = peers(MdpWorker, s.endpoint).ready()
        s.wait_workers(1, exact=True)
        job_id = s.submit(small_pdf(outdir), title)
        token1, _ = hung.expect_request()
        hung.heartbeats = False
        backup = peers(MdpWorker, s.endpoint).ready()
        token2, job = backup.expect_request(timeout=5)
        assert job["attempt"] == 2 and token_base(token1) == f"{job_id}/1".encode()
        deliveries = [(backup, token2, "attempt 2"), (hung, token1, "attempt 1")]
        for peer, token, doc_title in (deliveries if current_first else deliveries[::-1]):
            peer.final_ok(token, course_doc(doc_title))
            time.sleep(0.3)
        done = wait_state(s, job_id, "succeeded", attempts=2)
        titles = [r[0] for r in s.query("SELECT doc->>'title' FROM courses WHERE job_id = %s",
                                        job_id)]
        assert titles == ["attempt 2"], titles
        assert done["courses"] == 1
        hung.expect_disconnect()  # told to go away, not given credit
        assert "dropping late result job=" + job_id in s.broker.log_text()
        hung.close()
        backup.close()
        s.wait_workers(0, exact=True, timeout=5)

    superseded_attempt("Late one last", current_first=True)
    superseded_attempt("Late one first", current_first=False)


# ---- outages -------------------------------------------------------------------------------------

def test_result_finished_while_the_broker_is_down_is_delivered(make_stack, outdir):
    s = make_stack()
    s.start_broker()
    worker = s.add_worker(page_delay_ms=200)  # 12 pages: 2.4 s
    s.add_frontend()
    s.wait_healthy()
    job_id = s.submit(long_pdf(outdir, 12), "Survives")
    wait_for("the job to run", lambda: s.job_row(job_id)["progress"] > 0, 20,
             on_timeout=s.log_tails)

    s.broker.kill()
    wait_for("the worker to finish and hold its result",
             lambda: "result held until the broker is back" in worker.log_text(), 15)
    time.sleep(2.0)  # longer than the worker's liveness: it reconnects into the void
    s.start_broker()
    done = s.wait_job(job_id, timeout=20)
    assert s.job_row(job_id)["attempts"] == 1  # the held result, not a second run
    assert "orphan result accepted job=" + job_id in s.broker.log_text()
    assert row(s, job_id)["courses"] == 1 and done["course_id"]
    assert worker.started == 1


def test_postgresql_restart_mid_run_loses_nothing(make_stack, outdir, peers, pg_cluster):
    s = make_stack()
    s.start_broker(retry_base_ms=300)
    for _ in range(2):
        s.add_worker(page_delay_ms=60)
    frontend = s.add_frontend()
    s.wait_healthy()
    jobs = [s.submit(long_pdf(outdir, 6), f"Course {i}") for i in range(10)]
    wait_for("a few jobs done",
             lambda: s.query("SELECT count(*) FROM jobs WHERE state = 'succeeded'")[0][0] >= 2,
             30, on_timeout=s.log_tails)
    client = peers(MdpClient, s.endpoint)
    owner = row(s, jobs[-1])["owner_id"]

    pg_cluster.stop()
    try:
        wait_for("the broker to see the database down", lambda: not client.ping()["db"], 10)
        r = s.post_job(small_pdf(outdir), "During the outage")
        assert r.status_code == 503 and "Retry-After" in r.headers, (r.status_code, r.text)
        refused = client.cancel(owner, jobs[-1])  # refused: nothing can be committed
        assert refused["ok"] is False and refused["error_code"] == "db_unavailable"
        time.sleep(1.5)  # workers keep working and finishing; results wait in the broker
        pong = client.ping()
        assert pong["workers"] == 2 and s.broker.alive
    finally:
        pg_cluster.start()

    wait_for("the broker to see the database again", lambda: client.ping()["db"], 20)
    for job_id in jobs:
        done = wait_state(s, job_id, "succeeded", timeout=60)
        assert done["courses"] == 1, done
    assert s.broker.started == 1 and frontend.process.alive
    log = s.broker.log_text()
    assert "database down" in log and "database up" in log
    # Nothing submitted during the outage was half-accepted.
    assert s.query("SELECT count(*) FROM jobs")[0][0] == len(jobs)
    assert s.wait_job(s.submit(small_pdf(outdir), "After the outage"), timeout=30)
