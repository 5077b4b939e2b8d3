"""queue_position and estimated_start of GET /api/v1/jobs/{id} and GET /api/v1/jobs against the
fair order (docs/api.md 4.2, "Queue position and estimated start"), with the real broker,
frontend and PostgreSQL and no worker (every job stays queued until cancelled).

- Four teachers upload interleaved (one with many jobs, the others with few, in several
  bursts). Every job's queue_position, read one at a time and in its owner's list, is its
  number in the fair order computed here from the rows' (owner, created_at, id): the queued
  jobs sorted by (rank among their owner's queued jobs, created_at, id). A FIFO numbering, or
  one off by a round, differs from it at many jobs.
- Cancelling jobs (DELETE, 4.7) moves the others up; a cancelled job has no position.
- With jobs that ended recently (rows written here: n of them, the earliest started S seconds
  ago), estimated_start is now + queue_position x S / n, within a few seconds, for every queued
  job; none for a cancelled one.
"""

from __future__ import annotations

import datetime
import time
import uuid
from typing import Callable

from pdfs import make_plain_pdf
from stack import API

# Upload bursts: (teacher, how many). Teacher "a" has many jobs, the others few, arriving
# between a's, so that the fair order is far from the submission order.
BURSTS = [("a", 6), ("b", 1), ("c", 3), ("a", 4), ("d", 2), ("b", 2), ("c", 1), ("a", 3),
          ("d", 1)]


def fair_positions(rows) -> dict[str, int]:
    """{job id: position} for queued rows (id, owner, created_at), as docs/api.md 4.2 numbers
    them: rank among the owner's queued jobs (by created_at, id), then created_at, then id."""
    ranked = []
    seen: dict[str, int] = {}
    for job_id, owner, created in sorted(rows, key=lambda r: (r[1], r[2], uuid.UUID(r[0]))):
        seen[owner] = seen.get(owner, 0) + 1
        ranked.append((seen[owner], created, uuid.UUID(job_id), job_id))
    return {job_id: n + 1 for n, (*_, job_id) in enumerate(sorted(ranked))}


def parse_ts(text: str) -> datetime.datetime:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)


def check_positions(s, tokens, owners_by_job):
    """Every job's queue_position (one read each, and in its owner's list) against the fair
    order of the queued rows in PostgreSQL; returns {job id: position or None}."""
    rows = s.query("SELECT id::text, owner_id::text, created_at FROM jobs WHERE state = 'queued'")
    want = fair_positions(rows)
    got = {}
    for job_id, who in owners_by_job.items():
        body = s.get_job(job_id, token=tokens[who])
        got[job_id] = body["queue_position"]
        assert body["queue_position"] == want.get(job_id), (job_id, body, want.get(job_id))
    for who, token in tokens.items():
        listed = s.get(f"{API}/jobs?limit=100", token=token).json()["jobs"]
        mine = [j for j in owners_by_job if owners_by_job[j] == who]
        assert sorted(j["job_id"] for j in listed) == sorted(mine)
        for j in listed:
            assert j["queue_position"] == want.get(j["job_id"]), (who, j)
    return got


def queue_stack(make_stack, teachers: str):
    """A broker and a frontend, no workers (nothing leaves the queue but what a test writes),
    and a teacher per letter of teachers: (stack, tokens by letter, user ids by letter)."""
    s = make_stack()
    s.start_broker()
    s.add_frontend()
    s.wait_healthy(workers=0)
    tokens = {who: s.create_token("teacher", f"teacher-{who}") for who in teachers}
    owners = {who: s.query("SELECT id::text FROM users WHERE name = %s", f"teacher-{who}")[0][0]
              for who in tokens}
    return s, tokens, owners


def queue_jobs(s, owners, owner_of: Callable[[int], str], count: int) -> dict[str, str]:
    """count queued jobs, the n-th of teacher owner_of(n), created a second apart an hour ago
    (as a broker's submissions would leave them): {job id: teacher}."""
    owners_by_job: dict[str, str] = {}
    for n in range(count):
        who = owner_of(n)
        job_id = str(uuid.uuid4())
        s.query("INSERT INTO jobs (id, owner_id, title, filename, blob_sha256, created_at) "
                "VALUES (%s, %s, 'q', 'q.pdf', '0', now() - interval '1 hour' + %s * "
                "interval '1 second') RETURNING 1", job_id, owners[who], n)
        owners_by_job[job_id] = who
    return owners_by_job


def end_jobs(s, owner: str, t0, count: int) -> None:
    """count jobs of owner that started 240 s before t0 and ended 5 s ago: at time t the
    throughput is count / (t - t0 + 240 s)."""
    s.query("INSERT INTO jobs (id, owner_id, title, filename, blob_sha256, state, progress, "
            "stage, created_at, started_at, finished_at) SELECT gen_random_uuid(), %s, 'done', "
            "'d.pdf', '0', 'succeeded', 100, 'done', %s::timestamptz - interval '250 seconds', "
            "%s::timestamptz - interval '240 seconds', now() - interval '5 seconds' "
            "FROM generate_series(1, %s) RETURNING 1", owner, t0, t0, count)


def test_fair_positions_and_estimates(make_stack, outdir):
    s = make_stack()
    s.start_broker()
    s.add_frontend()
    s.wait_healthy(workers=0)
    pdf_path = outdir / "short.pdf"
    make_plain_pdf(pdf_path, pages=2)
    pdf = pdf_path.read_bytes()
    tokens = {who: s.create_token("teacher", f"teacher-{who}") for who in "abcd"}

    owners_by_job: dict[str, str] = {}
    for who, count in BURSTS:
        for n in range(count):
            owners_by_job[s.submit(pdf, f"{who} {n}", token=tokens[who])] = who
    total = sum(count for _, count in BURSTS)

    got = check_positions(s, tokens, owners_by_job)
    assert sorted(got.values()) == list(range(1, total + 1))
    # Not the submission order: b's first job (the 7th upload) is second, after a's first.
    first_b = next(j for j, who in owners_by_job.items() if who == "b")
    assert got[first_b] == 2
    fifo = {j: n + 1 for n, j in enumerate(owners_by_job)}
    assert sum(got[j] != fifo[j] for j in got) >= total // 2

    # Cancel a's first job and one of c's: everyone behind them moves up.
    a_jobs = [j for j, who in owners_by_job.items() if who == "a"]
    c_jobs = [j for j, who in owners_by_job.items() if who == "c"]
    for job_id, who in ((a_jobs[0], "a"), (c_jobs[1], "c")):
        r = s.http.delete(s.frontends[0].url + f"{API}/jobs/{job_id}",
                          headers=s.auth(tokens[who]), timeout=30)
        assert r.status_code in (200, 202), r.text
    got = check_positions(s, tokens, owners_by_job)
    assert got[a_jobs[0]] is None and got[c_jobs[1]] is None
    assert sorted(p for p in got.values() if p is not None) == list(range(1, total - 1))
    assert s.get_job(a_jobs[0], token=tokens["a"])["estimated_start"] is None

    # Jobs that ended recently, from another teacher: 4 ended, the earliest started 60 s
    # before t0, so at time t the throughput is 4 / (t - t0 + 60 s) and a job at position p
    # starts p (t - t0 + 60 s) / 4 after t.
    s.create_token("teacher", "teacher-e")
    (owner_e,), = s.query("SELECT id::text FROM users WHERE name = 'teacher-e'")
    (t0,), = s.query("SELECT now()")
    for n in range(4):
        s.query("INSERT INTO jobs (id, owner_id, title, filename, blob_sha256, state, progress, "
                "stage, created_at, started_at, finished_at) VALUES (%s, %s, 'done', 'd.pdf', "
                "'0', 'succeeded', 100, 'done', now() - interval '70 seconds', "
                "%s::timestamptz - interval '60 seconds' + %s * interval '1 second', "
                "now() - interval '5 seconds') RETURNING 1", str(uuid.uuid4()), owner_e, t0, n)
    checked = 0
    for job_id, who in owners_by_job.items():
        (now,), = s.query("SELECT now()")
        body = s.get_job(job_id, token=tokens[who])
        if body["state"] != "queued":
            assert body["estimated_start"] is None
            continue
        span = (now - t0).total_seconds() + 60
        expected = now + datetime.timedelta(seconds=body["queue_position"] * span / 4)
        off = abs((parse_ts(body["estimated_start"]) - expected).total_seconds())
        assert off < 3, (body, expected)
        checked += 1
    assert checked == total - 2


def test_kept_throughput_expires(make_stack, outdir):
    """With at least 100 jobs ended recently a frontend may reuse the throughput it counted
    up to 1 s before (docs/api.md 4.2, frontend/job_rate.h): right after more jobs end, a
    queued job's estimate follows the old throughput or the new one, nothing else; after
    more than a second, the new one."""
    s = make_stack()
    s.start_broker()
    s.add_frontend()
    s.wait_healthy(workers=0)
    pdf_path = outdir / "short.pdf"
    make_plain_pdf(pdf_path, pages=2)
    token = s.create_token("teacher", "teacher-q")
    job = s.submit(pdf_path.read_bytes(), "queued", token=token)
    s.create_token("teacher", "teacher-e")
    (owner_e,), = s.query("SELECT id::text FROM users WHERE name = 'teacher-e'")
    (t0,), = s.query("SELECT now()")

    def wait_s(n):
        """(estimated_start - now) in seconds, and what it would be with n jobs ended."""
        (now,), = s.query("SELECT now()")
        body = s.get_job(job, token=token)
        assert body["queue_position"] == 1, body
        got = (parse_ts(body["estimated_start"]) - now).total_seconds()
        return got, ((now - t0).total_seconds() + 240) / n

    end_jobs(s, owner_e, t0, 150)
    got, want = wait_s(150)
    assert abs(got - want) < 0.25, (got, want)
    end_jobs(s, owner_e, t0, 150)  # the throughput doubles: 0.8 s per job instead of 1.6
    got, want_new = wait_s(300)
    want_old = want_new * 2
    assert min(abs(got - want_new), abs(got - want_old)) < 0.25, (got, want_new, want_old)
    time.sleep(1.2)
    got, want = wait_s(300)
    assert abs(got - want) < 0.25, (got, want)


def test_large_queue_from_a_snapshot(make_stack):
    """With 100 or more jobs queued a frontend numbers the whole queue at most once a second
    and answers reads from that numbering (docs/api.md 4.2, frontend/queue_snapshot.h): every
    job's position is still its place in the fair order; right after jobs leave the queue a
    read gives the old place or the new one, and after more than a second the new one. The
    rows are written here (as a broker's submissions would leave them): 150 jobs of three
    teachers, 100, 40 and 10, with created_at interleaved."""
    s, tokens, owners = queue_stack(make_stack, "xyz")

    def owner_of(n):
        if n >= 140:
            return "z"
        return "x" if n % 3 != 2 or n >= 120 else ("y" if n % 9 != 8 else "z")
    owners_by_job = queue_jobs(s, owners, owner_of, 150)
    counts = {who: sum(1 for w in owners_by_job.values() if w == who) for who in "xyz"}
    assert counts["x"] >= 100 and counts["z"] >= 10, counts

    def reads():
        return {j: s.get_job(j, token=tokens[who])["queue_position"]
                for j, who in owners_by_job.items()}

    def fair():
        rows = s.query("SELECT id::text, owner_id::text, created_at FROM jobs "
                       "WHERE state = 'queued'")
        return fair_positions(rows)

    old = fair()
    assert reads() == {j: old.get(j) for j in owners_by_job}
    # Three of x's oldest jobs leave the queue (as the broker's dispatch would).
    x_jobs = [j for j, who in owners_by_job.items() if who == "x"]
    s.query("UPDATE jobs SET state = 'running', started_at = now() WHERE id = ANY(%s::uuid[]) "
            "RETURNING 1", x_jobs[:3])
    new = fair()
    for j, got in reads().items():
        assert got in (old.get(j), new.get(j)) or j in x_jobs[:3] and got is None, (j, got)
    time.sleep(1.2)
    assert reads() == {j: new.get(j) for j in owners_by_job}


def test_snapshot_and_kept_throughput_together(make_stack):
    """With 100 or more jobs queued and 100 or more ended recently, a queued job's read may
    take both its position (the kept numbering) and the throughput (the kept count) from the
    frontend's memory and read only the job's row (frontend/db_jobs.c): its queue_position is
    still its place in the fair order and its estimated_start now + queue_position x span / n
    (the throughput at most 1 s old: within 2 s here); a job that left the queue since the
    numbering has neither. 150 jobs of two teachers are queued, 150 of a third ended."""
    s, tokens, owners = queue_stack(make_stack, "xye")
    owners_by_job = queue_jobs(s, owners, lambda n: "y" if n % 4 == 3 else "x", 150)
    (t0,), = s.query("SELECT now()")
    # At time t a job at position p starts p (t - t0 + 240 s) / 150 after t.
    end_jobs(s, owners["e"], t0, 150)
    rows = s.query("SELECT id::text, owner_id::text, created_at FROM jobs WHERE state = 'queued'")
    want = fair_positions(rows)
    for _ in range(2):  # the first reads count and number; the next ones reuse both
        for job_id, who in owners_by_job.items():
            (now,), = s.query("SELECT now()")
            body = s.get_job(job_id, token=tokens[who])
            assert body["state"] == "queued" and body["queue_position"] == want[job_id], body
            span = (now - t0).total_seconds() + 240
            expected = now + datetime.timedelta(seconds=want[job_id] * span / 150)
            off = abs((parse_ts(body["estimated_start"]) - expected).total_seconds())
            assert off < 2, (body, expected)
    # A job leaves the queue right after a read numbered it: its next read has no position.
    gone = next(iter(owners_by_job))
    assert s.get_job(gone, token=tokens[owners_by_job[gone]])["queue_position"] is not None
    s.query("UPDATE jobs SET state = 'running', started_at = now() WHERE id = %s::uuid "
            "RETURNING 1", gone)
    body = s.get_job(gone, token=tokens[owners_by_job[gone]])
    assert body["state"] == "running", body
    assert body["queue_position"] is None and body["estimated_start"] is None, body
