"""System tests of the broker's admin socket (docs/admin.md) through profaictl
(docs/profaictl.md), and of the job history (job_events, GET /api/v1/jobs/{id}/events).

Every test runs the real programs: a broker with its admin socket in a private 0750 directory,
workers, a frontend, PostgreSQL. Run: sh scripts/check-system.sh tests/system/test_admin.py
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from pdfs import make_long_pdf, make_plain_pdf
from stack import API, BIN, Stack, wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="runs a client as another user")

OTHER_USER = "nobody"


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


def encrypted_pdf(outdir: Path) -> Path:
    path = outdir / "encrypted.pdf"
    if not path.exists():
        subprocess.run(["qpdf", "--encrypt", "secret", "secret", "256", "--",
                        str(small_pdf(outdir)), str(path)], check=True)
    return path


def ctl_json(s: Stack, *args: str):
    """profaictl --json ARGS: must succeed, and its stdout parse as JSON."""
    out = s.admin("--json", *args)
    assert out.returncode == 0, f"profaictl {args}: {out.stderr}"
    return json.loads(out.stdout)


def job_of(s: Stack, job_id: str) -> dict:
    return ctl_json(s, "job", job_id)


def wait_admin_state(s: Stack, job_id: str, state: str, timeout: float = 30.0) -> dict:
    def reached():
        j = job_of(s, job_id)
        return j if j["job"]["state"] == state else None
    return wait_for(f"job {job_id} {state} (profaictl job)", reached, timeout, interval=0.1,
                    on_timeout=lambda: s.log_tails())


def worker_rows(s: Stack) -> list[dict]:
    return ctl_json(s, "workers")


def busy_worker(s: Stack, job_id: str) -> dict:
    def busy():
        for w in worker_rows(s):
            if w["state"] == "busy" and w["job_id"] == job_id:
                return w
        return None
    return wait_for(f"a worker busy with {job_id}", busy, 30, interval=0.1,
                    on_timeout=lambda: s.log_tails())


# ---- read commands -----------------------------------------------------------------------------

def test_status_workers_jobs_and_log_level(stack, outdir):
    s = stack
    out = s.admin("status")
    assert out.returncode == 0, out.stderr
    assert "broker 0.1.0" in out.stdout and "database up" in out.stdout
    status = ctl_json(s, "status")
    assert status["version"] == "0.1.0" and status["role"] == "broker"
    assert status["db"]["up"] is True and status["db"]["rtt_us"] > 0
    assert status["workers"]["idle"] == 2 and status["jobs"]["queued"] == 0
    assert [q["name"] for q in status["services"]] == ["course.build"]

    workers = worker_rows(s)
    assert len(workers) == 2
    assert {w["state"] for w in workers} == {"idle"}
    assert all(w["service"] == "course.build" and w["draining"] is False for w in workers)
    assert all(w["heartbeat_ms"] < 5000 for w in workers)
    # Workers announce host, pid and version in their identity (docs/protocol.md).
    pids = {p.pid for p in s.workers}
    assert {w["pid"] for w in workers} == pids
    assert all(w["host"] == socket.gethostname()[:64] and w["version"] == "0.1.0"
               for w in workers)
    human = s.admin("workers")
    assert human.returncode == 0 and human.stdout.startswith("WORKER")
    assert all(w["name"] in human.stdout for w in workers)

    job_id = s.submit(small_pdf(outdir), "Listed")
    s.wait_job(job_id)
    jobs = ctl_json(s, "jobs")
    assert jobs[0]["job_id"] == job_id and jobs[0]["state"] == "succeeded"
    assert ctl_json(s, "jobs", "--state", "failed") == []
    owner = jobs[0]["owner"]
    assert [j["job_id"] for j in ctl_json(s, "jobs", "--owner", owner, "--limit", "1")] == \
        [job_id]
    assert s.admin("jobs", "--state", "lost").returncode == 1
    assert "JOB" in s.admin("jobs").stdout

    history = job_of(s, job_id)
    assert history["job"]["job_id"] == job_id
    assert [e["state"] for e in history["events"]] == ["queued", "running", "succeeded"]
    assert s.admin("job", job_id).returncode == 0
    missing = s.admin("job", "00000000-0000-4000-8000-000000000000")
    assert missing.returncode == 1 and "unknown_job" in missing.stderr

    # The log level changes live: debug lines appear, then stop.
    assert ctl_json(s, "log-level", "warn")["ok"] is True
    size = len(s.broker.log_text())
    s.submit(small_pdf(outdir), "Quiet")
    time.sleep(1.0)
    assert " INFO " not in s.broker.log_text()[size:]
    assert ctl_json(s, "log-level", "debug")["state"] == "debug"
    bad = s.admin("log-level", "loud")
    assert bad.returncode == 1 and "bad_request" in bad.stderr


def test_watch_redraws_every_second(stack):
    proc = subprocess.Popen([str(BIN / "profaictl"), "-a", stack.admin_endpoint, "--watch",
                             "status"], stdout=subprocess.PIPE, text=True)
    time.sleep(2.6)
    proc.terminate()
    out, _ = proc.communicate(timeout=10)
    assert out.count("\033[H\033[2J") >= 2 and out.count("broker 0.1.0") >= 2


def test_endpoint_from_environment_and_config(stack, outdir):
    env = {**os.environ, "PROFAI_ADMIN": stack.admin_endpoint}
    out = subprocess.run([str(BIN / "profaictl"), "status"], env=env, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    env.pop("PROFAI_ADMIN")
    conf = outdir / "broker.conf"  # the broker's own file names admin/endpoint
    out = subprocess.run([str(BIN / "profaictl"), "-c", str(conf), "--json", "status"], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and json.loads(out.stdout)["role"] == "broker"


# ---- write commands ----------------------------------------------------------------------------

def test_drain_lets_the_busy_worker_finish_and_gives_it_no_other(make_stack, outdir):
    s = make_stack()
    s.start_broker()
    s.add_worker(page_delay_ms=150)
    s.add_frontend()
    s.wait_healthy()
    first = s.submit(long_pdf(outdir, 12), "Being drained")
    worker = busy_worker(s, first)
    done = ctl_json(s, "drain", worker["name"])
    assert done["ok"] is True and done["state"] == "busy"
    second = s.submit(small_pdf(outdir), "Not for the drained worker")
    assert s.wait_job(first, timeout=60)["state"] == "succeeded"
    time.sleep(1.5)
    assert job_of(s, second)["job"]["state"] == "queued"
    (row,) = worker_rows(s)
    assert row["name"] == worker["name"] and row["draining"] is True
    assert row["state"] == "unserved" and row["done"] == 1 and row["job_id"] is None
    assert ctl_json(s, "status")["workers"]["draining"] == 1
    # Another worker takes the queued job.
    s.add_worker()
    s.wait_job(second, timeout=30)
    events = job_of(s, second)["events"]
    assert all(e["worker"] != worker["name"] for e in events)
    unknown = s.admin("drain", "nobody@nowhere")
    assert unknown.returncode == 1 and "unknown_worker" in unknown.stderr


def test_pause_keeps_jobs_queued_until_resume(stack, outdir):
    s = stack
    assert ctl_json(s, "pause", "course.build")["ok"] is True
    job_id = s.submit(small_pdf(outdir), "Paused")
    time.sleep(2.0)
    assert job_of(s, job_id)["job"]["state"] == "queued"
    status = ctl_json(s, "status")
    assert status["paused"] == ["course.build"]
    assert status["services"][0]["queued"] == 1 and status["jobs"]["queued"] == 1
    assert "PAUSED" in s.admin("status").stdout
    assert ctl_json(s, "resume", "course.build")["ok"] is True
    s.wait_job(job_id, timeout=30)
    assert ctl_json(s, "status")["paused"] == []
    bad = s.admin("pause", "no.such")
    assert bad.returncode == 1 and "unknown_service" in bad.stderr


def test_retry_brings_a_failed_job_back_with_a_new_attempt(stack, outdir):
    s = stack
    job_id = s.submit(encrypted_pdf(outdir), "Locked")
    failed = wait_admin_state(s, job_id, "failed")["job"]
    assert failed["attempts"] == 1 and failed["error_code"] == "encrypted"
    ctl_json(s, "pause", "course.build")  # so that the retried job is seen queued
    done = ctl_json(s, "retry", job_id)
    assert done["ok"] is True and done["state"] == "queued"
    queued = job_of(s, job_id)
    assert queued["job"]["state"] == "queued" and queued["job"]["error_code"] is None
    assert s.get_job(job_id)["state"] == "queued"
    again = s.admin("retry", job_id)
    assert again.returncode == 1 and "not_failed" in again.stderr
    ctl_json(s, "resume", "course.build")
    refailed = wait_admin_state(s, job_id, "failed")
    assert refailed["job"]["attempts"] == 2
    assert [(e["state"], e["attempt"]) for e in refailed["events"]] == [
        ("queued", 0), ("running", 1), ("failed", 1), ("queued", 1), ("running", 2),
        ("failed", 2)]


def test_retry_of_a_failed_job_whose_pdf_was_swept_is_refused(stack, outdir):
    s = stack
    job_id = s.submit(encrypted_pdf(outdir), "Locked and swept")
    failed = wait_admin_state(s, job_id, "failed")
    # The sweep the frontends run (blobs/sweep_interval), with no grace: the failed job's PDF
    # is referred to by nothing that may still run, so it goes.
    assert s.query("SELECT blobs_sweep(0)")[0][0] >= 1
    assert s.query("SELECT count(*) FROM blobs b JOIN jobs j ON j.blob_sha256 = b.sha256"
                   " WHERE j.id = %s", job_id)[0][0] == 0
    refused = s.admin("--json", "retry", job_id)
    assert refused.returncode == 1 and "unknown_blob" in refused.stderr
    assert json.loads(refused.stdout)["state"] == "failed"
    after = job_of(s, job_id)
    assert after["job"]["state"] == "failed" and after["job"]["attempts"] == 1
    assert after["events"] == failed["events"]
    assert s.get_job(job_id)["state"] == "failed"


def test_cancel_any_owners_job(stack, outdir):
    s = stack
    ctl_json(s, "pause", "course.build")
    job_id = s.submit(small_pdf(outdir), "Cancelled by an operator")
    done = ctl_json(s, "cancel", job_id)
    assert done["ok"] is True and done["state"] == "cancelled"
    assert s.get_job(job_id)["state"] == "cancelled"
    again = s.admin("--json", "cancel", job_id)
    assert again.returncode == 1 and "already_final" in again.stderr
    assert json.loads(again.stdout)["state"] == "cancelled"
    ctl_json(s, "resume", "course.build")
    time.sleep(1.0)
    assert [e["state"] for e in job_of(s, job_id)["events"]] == ["queued", "cancelled"]


@contextlib.contextmanager
def a_list_waiting(s):
    """A `profaictl --json jobs` started while the backend of the broker's admin reads
    connection is stopped (SIGSTOP, taken while idle): the list waits at the broker until the
    block ends and the backend goes on (SIGCONT)."""
    idle = ("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = 'profai-broker-admin' AND state = 'idle'")
    pid = wait_for("the admin reads connection idle",
                   lambda: next((r[0] for r in s.query(idle)), None), 10, retry_on=())
    os.kill(pid, signal.SIGSTOP)
    try:
        listing = subprocess.Popen([str(BIN / "profaictl"), "-a", s.admin_endpoint, "--json",
                                    "jobs"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        time.sleep(0.5)  # the list reaches the broker and waits for its connection
        yield listing
    finally:
        os.kill(pid, signal.SIGCONT)


def test_admin_reads_wait_on_their_own_connection(stack, outdir):
    """admin.jobs and admin.job run on a store connection of their own (docs/broker.md, "The
    admin socket's reads on a connection of their own"): with that connection's backend stopped
    while idle, a `jobs` list waits, and a cancel (a write on the job store, where dispatches
    and results go) is done meanwhile. The list, sent first, then runs and sees the cancel.
    Before, the list ran on the job store, so its full read of `jobs` held every job write."""
    s = stack
    mine = ("SELECT application_name FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name LIKE 'profai-broker-%%'")
    wait_for("the broker's named connections", lambda: {
        "profai-broker-jobs", "profai-broker-submissions", "profai-broker-admin",
        "profai-broker-lock"} <= {r[0] for r in s.query(mine)}, 10, retry_on=())
    ctl_json(s, "pause", "course.build")
    job_id = s.submit(small_pdf(outdir), "Cancelled while a list waits")
    with a_list_waiting(s) as listing:
        assert ctl_json(s, "cancel", job_id)["state"] == "cancelled"
        assert listing.poll() is None, listing.communicate()
    out, err = listing.communicate(timeout=20)
    assert listing.returncode == 0, err
    assert [(j["job_id"], j["state"]) for j in json.loads(out)][:1] == [(job_id, "cancelled")]
    ctl_json(s, "resume", "course.build")


def test_an_admin_read_in_flight_at_sigterm_is_answered(make_stack, outdir):
    """A broker stopping (SIGTERM) lets its admin reads finish as it lets its writes commit:
    a `jobs` list waiting for its connection gets its answer, not profaictl's timeout. Before,
    the stop waited only for the two other stores and the list went unanswered."""
    s = make_stack()
    s.start_broker()
    s.add_frontend()  # no worker: the job stays queued
    s.wait_healthy()
    job_id = s.submit(small_pdf(outdir), "Listed while the broker stops")
    with a_list_waiting(s) as listing:
        s.broker.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # the broker stops taking work and drains
        assert listing.poll() is None and s.broker.proc.poll() is None
    out, err = listing.communicate(timeout=20)
    assert listing.returncode == 0, err
    assert job_id in [j["job_id"] for j in json.loads(out)]
    assert s.broker.wait_exit(20) == 0


# ---- history -----------------------------------------------------------------------------------

def test_history_after_a_worker_sigkill_a_retry_and_a_success(make_stack, outdir):
    s = make_stack()
    s.start_broker()
    killed = s.add_worker(page_delay_ms=200)
    s.add_frontend()
    s.wait_healthy()
    job_id = s.submit(long_pdf(outdir, 12), "Survives its worker")
    first = busy_worker(s, job_id)
    killed.kill_group()
    second = s.add_worker()
    s.wait_job(job_id, timeout=60)

    events = job_of(s, job_id)["events"]
    assert [e["state"] for e in events] == ["queued", "running", "queued", "running",
                                            "succeeded"]
    assert [e["attempt"] for e in events] == [0, 1, 1, 2, 2]
    assert events[1]["worker"] == first["name"] and events[2]["worker"] == first["name"]
    assert events[2]["error_code"] == "worker_lost"
    assert events[3]["worker"] not in (None, first["name"])
    assert events[4]["worker"] == events[3]["worker"]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert second.alive

    # The owner reads the same history over HTTP; others do not.
    r = s.get(f"{API}/jobs/{job_id}/events")
    assert r.status_code == 200, r.text
    api = r.json()["events"]
    assert [(e["state"], e["attempt"], e["worker"]) for e in api] == \
        [(e["state"], e["attempt"], e["worker"]) for e in events]
    assert s.get(f"{API}/jobs/{job_id}/events", token="student").status_code == 403
    assert s.get(f"{API}/jobs/{job_id}/events", token=s.create_token("teacher")).status_code == 404
    assert s.get(f"{API}/jobs/{job_id}/events", token="admin").status_code == 200
    human = s.admin("job", job_id)
    assert human.returncode == 0 and human.stdout.count(first["name"]) >= 2


# ---- access ------------------------------------------------------------------------------------

def test_admin_socket_refuses_another_user(stack):
    s = stack
    sock = s.admin_dir / "admin.sock"
    assert (sock.stat().st_mode & 0o777) == 0o660
    assert (s.admin_dir.stat().st_mode & 0o777) == 0o750
    refused = s.admin("status", user=OTHER_USER)
    assert refused.returncode == 1 and "permission denied" in refused.stderr
    # Even with the file and its directory opened to everyone, the broker drops a peer of
    # another uid and gid on accept (ZMQ_IPC_FILTER_UID/GID): no answer.
    s.admin_dir.chmod(0o755)
    sock.chmod(0o666)
    probe = ("import sys, zmq, msgpack\n"
             "z = zmq.Context().socket(zmq.DEALER); z.linger = 0\n"
             "z.connect(sys.argv[1])\n"
             "z.send_multipart([b'MDPC02', b'\\x01', b'admin.status',"
             " msgpack.packb({'v': 1, 'rid': 7})])\n"
             "print('answered' if z.poll(3000) else 'silent')\n")
    out = subprocess.run(["runuser", "-u", OTHER_USER, "--", "/usr/bin/python3", "-c", probe,
                          s.admin_endpoint], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "silent", out.stderr
    # The same probe as the broker's user is answered.
    out = subprocess.run(["/usr/bin/python3", "-c", probe, s.admin_endpoint],
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "answered", out.stderr


def test_admin_endpoint_of_another_transport_is_refused(make_stack):
    # tcp:// is allowed with CURVE and an admin key list: tests/system/test_admin_tcp.py.
    s = make_stack()
    s.admin_endpoint = "inproc://admin"
    broker = s.start_broker(wait=False)
    assert broker.wait_exit(30) == 1
    assert "is neither ipc://PATH" in broker.log_text()
