"""Fair scheduling and per-teacher quotas (docs/broker.md "Fair scheduling", docs/api.md 4.1
and 4.2), against the real broker, frontend, workers and PostgreSQL.

- Teacher A uploads 100 PDFs while no worker is connected, then teacher B uploads one: B's job
  is second in the fair order (queue_position 2), and once a worker connects it starts after
  at most one of A's jobs per worker slot, not after A's hundred. The same holds when the
  broker is restarted while the jobs wait: the order is rebuilt from PostgreSQL.
- estimated_start is null until jobs have finished recently, then a time in the future.
- Each quota (broker/max_queued_per_owner, broker/max_bytes_per_owner) refuses an upload with
  its own problem document, for the teacher over it only, and passes again once the teacher is
  under it; the broker's wire error is checked too.
- broker/max_running_per_owner caps one teacher's running jobs while another's run beside.
"""

from __future__ import annotations

import datetime
import time

import pytest

from mdp import MdpClient
from pdfs import make_plain_pdf
from stack import API, wait_for

A_JOBS = 100


def teacher(stack, name: str) -> tuple[str, str]:
    """A new teacher's (token, user id)."""
    token = stack.create_token("teacher", name)
    (user_id,), = stack.query("SELECT id::text FROM users WHERE name = %s", name)
    return token, user_id


def upload(stack, pdf: bytes, token: str, title: str = "Course"):
    return stack.post_job(pdf, title, token=token)


def started_before(stack, owner: str, job_id: str) -> int:
    """How many jobs of owner were first dispatched before job_id."""
    (n,), = stack.query("SELECT count(*) FROM jobs WHERE owner_id = %s AND started_at < "
                        "(SELECT started_at FROM jobs WHERE id = %s)", owner, job_id)
    return n


def parse_ts(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("restart", [False, True], ids=["running", "after-restart"])
def test_late_teacher_goes_early(make_stack, outdir, restart):
    s = make_stack()
    s.start_broker()
    s.add_frontend()
    s.wait_healthy(workers=0)  # no worker: every job stays queued
    pdf = (outdir / "short.pdf")
    make_plain_pdf(pdf, pages=2)
    pdf = pdf.read_bytes()
    token_a, owner_a = teacher(s, "teacher-a")
    token_b, owner_b = teacher(s, "teacher-b")

    a_jobs = [s.submit(pdf, f"A {n}", token=token_a) for n in range(A_JOBS)]
    b_job = s.submit(pdf, "B", token=token_b)

    # The fair order: A's first job, then B's, then the rest of A's. Nothing has finished
    # yet, so no throughput is known.
    b = s.get_job(b_job, token=token_b)
    assert b["state"] == "queued" and b["queue_position"] == 2, b
    assert b["estimated_start"] is None
    assert s.get_job(a_jobs[0], token=token_a)["queue_position"] == 1
    assert s.get_job(a_jobs[1], token=token_a)["queue_position"] == 3
    assert s.get_job(a_jobs[-1], token=token_a)["queue_position"] == A_JOBS + 1
    listed = s.get(f"{API}/jobs?limit=2", token=token_a).json()["jobs"]
    assert [j["queue_position"] for j in listed] == [A_JOBS + 1, A_JOBS]

    if restart:
        s.broker.stop()
        s.start_broker()
        assert "loaded %d queued" % (A_JOBS + 1) in s.broker.log_text()

    s.add_worker()  # one worker, one slot
    wait_for("B's job to succeed",
             lambda: s.get_job(b_job, token=token_b)["state"] == "succeeded", 120,
             on_timeout=s.log_tails)
    # B's job started after at most one of A's (the one whose turn came first) per slot,
    # with one more allowed for timing; a FIFO would have run A's hundred first.
    ahead = started_before(s, owner_a, b_job)
    assert ahead <= 2, f"{ahead} of A's jobs started before B's"
    (queued_a,), = s.query("SELECT count(*) FROM jobs WHERE owner_id = %s AND state = 'queued'",
                           owner_a)
    assert queued_a >= A_JOBS - 20

    # Jobs have finished: the last of A's queued jobs gets an estimate, in the future and
    # later than that of a job ahead of it.
    last = s.get_job(a_jobs[-1], token=token_a)
    assert last["state"] == "queued" and last["estimated_start"] is not None, last
    now = datetime.datetime.now(datetime.timezone.utc)
    assert parse_ts(last["estimated_start"]) > now - datetime.timedelta(seconds=2)
    earlier = next(j for j in (s.get_job(a, token=token_a) for a in a_jobs[-10:])
                   if j["state"] == "queued")
    assert earlier["queue_position"] < last["queue_position"]
    assert parse_ts(earlier["estimated_start"]) <= parse_ts(last["estimated_start"])


def test_queue_quota(make_stack, outdir):
    s = make_stack()
    s.start_broker(max_queued_per_owner=3)
    s.add_frontend()
    s.wait_healthy(workers=0)
    pdf_path = outdir / "q.pdf"
    make_plain_pdf(pdf_path, pages=2)
    pdf = pdf_path.read_bytes()
    token_a, owner_a = teacher(s, "quota-a")
    token_b, _ = teacher(s, "quota-b")

    jobs = [s.submit(pdf, f"A {n}", token=token_a) for n in range(3)]
    r = upload(s, pdf, token_a)
    assert r.status_code == 429, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert int(r.headers["Retry-After"]) > 0
    body = r.json()
    assert body["type"] == "urn:profai:problem:quota-exceeded"
    assert body["status"] == 429 and body["quota"] == "queued_jobs"
    assert "3 jobs" in body["detail"]
    (count,), = s.query("SELECT count(*) FROM jobs WHERE owner_id = %s", owner_a)
    assert count == 3  # nothing was queued

    # Another teacher is not affected; the broker refuses on the wire with its code too.
    s.submit(pdf, "B", token=token_b)
    client = MdpClient(s.endpoint)
    try:
        (sha,), = s.query("SELECT blob_sha256 FROM jobs WHERE id = %s", jobs[0])
        reply = client.submit(owner_a, sha)
        assert reply["ok"] is False and reply["error_code"] == "queue_quota_exceeded", reply
    finally:
        client.close()

    # Once one of A's jobs has left the queue, A may upload again.
    assert s.http.delete(s._url(None, f"{API}/jobs/{jobs[0]}"),
                         headers=s.auth(token_a), timeout=10).status_code == 200
    s.submit(pdf, "A again", token=token_a)
    assert upload(s, pdf, token_a).status_code == 429


def test_storage_quota(make_stack, outdir):
    s = make_stack()
    one, two = outdir / "one.pdf", outdir / "two.pdf"
    make_plain_pdf(one, pages=2, seed=5)
    make_plain_pdf(two, pages=3, seed=6)
    one, two = one.read_bytes(), two.read_bytes()
    # Room for either PDF, not for both.
    s.start_broker(max_bytes_per_owner=max(len(one), len(two)) + min(len(one), len(two)) - 1)
    s.add_frontend()
    s.wait_healthy(workers=0)
    token_a, owner_a = teacher(s, "bytes-a")
    token_b, _ = teacher(s, "bytes-b")

    first = s.submit(one, "One", token=token_a)
    again = s.submit(one, "One again", token=token_a)  # the same PDF is counted once
    r = upload(s, two, token_a)
    assert r.status_code == 403, r.text
    body = r.json()
    assert body["type"] == "urn:profai:problem:quota-exceeded"
    assert body["status"] == 403 and body["quota"] == "stored_bytes"
    assert "bytes" in body["detail"]
    s.submit(two, "Two", token=token_b)  # B has room of its own

    # The PDFs of cancelled jobs no longer count: then the other PDF fits.
    for job in (first, again):
        assert s.http.delete(s._url(None, f"{API}/jobs/{job}"), headers=s.auth(token_a),
                             timeout=10).status_code == 200
    s.submit(two, "Two", token=token_a)
    r = upload(s, one, token_a)
    assert r.status_code == 403 and r.json()["quota"] == "stored_bytes"


def test_cap_on_running_jobs_per_teacher(make_stack, outdir):
    """broker/max_running_per_owner = 1 with two worker slots: A's jobs run one at a time
    while B's runs beside them; the free slot never takes A's second job."""
    s = make_stack()
    s.start_broker(max_running_per_owner=1)
    s.add_frontend()
    s.wait_healthy(workers=0)
    pdf_path = outdir / "slow.pdf"
    make_plain_pdf(pdf_path, pages=4)
    pdf = pdf_path.read_bytes()
    token_a, owner_a = teacher(s, "cap-a")
    token_b, owner_b = teacher(s, "cap-b")
    a_jobs = [s.submit(pdf, f"A {n}", token=token_a) for n in range(3)]
    b_job = s.submit(pdf, "B", token=token_b)
    s.add_worker(concurrency=2, page_delay_ms=250)  # about 1 s per job

    most_a = 0
    both = False
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        rows = dict(s.query("SELECT owner_id::text, count(*) FROM jobs WHERE state = 'running' "
                            "GROUP BY owner_id"))
        most_a = max(most_a, rows.get(owner_a, 0))
        both = both or (rows.get(owner_a, 0) == 1 and rows.get(owner_b, 0) == 1)
        (done,), = s.query("SELECT count(*) FROM jobs WHERE state = 'succeeded'")
        if done == len(a_jobs) + 1:
            break
        time.sleep(0.05)
    assert done == len(a_jobs) + 1, s.log_tails()
    assert most_a == 1, f"{most_a} of A's jobs ran at once"
    assert both, "B's job never ran beside one of A's"
