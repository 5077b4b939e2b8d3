"""The frontend's database pool under contention (docs/configuration.md `database/pool`) and
the prepared job read (frontend/db_jobs.c), against a real frontend and PostgreSQL.

The order in which waiting requests get a connection is tested with real threads in
tests/unit/test_fair_pool.c; here the whole path: with one pooled connection, requests that
pile up behind a query PostgreSQL holds are all answered once it is let go, none refused
while their wait stays under the acquire timeout; and the prepared `GET /jobs/{id}` keeps
its owner filter once PostgreSQL plans it generically (after five runs on one session) and
after the session it was prepared on is gone, as does the prepared token lookup.
"""

from __future__ import annotations

import threading
import time

import psycopg2

from pdfs import make_plain_pdf
from stack import API, wait_for

WAITERS = 12


def _one_connection_stack(make_stack):
    s = make_stack()
    s.start_broker()
    s.add_frontend(conf={"database": {"conninfo": s.conninfo, "pool": 1},
                         "http": {"threads": WAITERS + 8}})
    pdf = make_plain_pdf(s.outdir / "p.pdf", pages=1).path
    return s, s.submit(pdf, "Pooled")


def test_requests_queued_behind_a_held_connection_are_all_answered(make_stack):
    s, job_id = _one_connection_stack(make_stack)
    assert s.get(f"{API}/jobs/{job_id}").status_code == 200
    statuses: list[int] = []
    lock = threading.Lock()

    def get():
        r = s.get(f"{API}/jobs/{job_id}")
        with lock:
            statuses.append(r.status_code)

    holder = psycopg2.connect(s.conninfo)
    threads = []
    try:
        with holder.cursor() as cur:
            # The frontend's one connection blocks on this lock with the first request;
            # the others wait for it in the pool.
            cur.execute("LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE")
            for _ in range(WAITERS):
                t = threading.Thread(target=get)
                t.start()
                threads.append(t)
                time.sleep(0.05)
            time.sleep(1.0)
            with lock:
                assert statuses == []  # nothing could be answered while the lock was held
        holder.commit()
        for t in threads:
            t.join(30)
    finally:
        holder.close()
    assert sorted(statuses) == [200] * WAITERS


def test_prepared_job_read_keeps_its_owner_filter(make_stack):
    s, job_id = _one_connection_stack(make_stack)
    other = s.create_token("teacher", "another-teacher")
    admin = s.create_token("admin", "an-admin")
    # One pooled connection: every read runs on the same session, so PostgreSQL's plan
    # cache switches to a generic plan after the fifth.
    for _ in range(8):
        r = s.get(f"{API}/jobs/{job_id}")
        assert r.status_code == 200 and r.json()["job_id"] == job_id
        assert s.get(f"{API}/jobs/{job_id}", token=other).status_code == 404
        assert s.get(f"{API}/jobs/{job_id}", token=admin).json()["job_id"] == job_id
    # The session it was prepared on ends: the next read prepares it on the new one.
    killed = s.query("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                     "WHERE application_name = 'profai-frontend' AND pid <> pg_backend_pid()")
    assert killed[0][0] >= 1
    r = s.get(f"{API}/jobs/{job_id}")
    assert r.status_code == 200 and r.json()["job_id"] == job_id
    assert s.get(f"{API}/jobs/{job_id}", token=other).status_code == 404
    # The token lookup (a prepared statement too) on the new session: a token seen for the
    # first time is found, a made-up one is not.
    fresh = s.create_token("admin", "a-fresh-admin")
    assert s.get(f"{API}/jobs/{job_id}", token=fresh).json()["job_id"] == job_id
    unknown = fresh[:-1] + ("A" if fresh[-1] != "A" else "B")  # well formed, never issued
    assert s.get(f"{API}/jobs/{job_id}", token=unknown).status_code == 401


def _frontend_backends(s) -> int:
    return s.query("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                   "'profai-frontend' AND datname = current_database()")[0][0]


def test_a_warm_pool_is_open_before_the_first_request(make_stack):
    """database/pool_warm: that many connections are open once the frontend listens, before
    any request; without it only the start-up check's connection is (docs/configuration.md)."""
    s = make_stack()
    s.start_broker()
    warm = s.add_frontend(conf={"database": {"conninfo": s.conninfo, "pool": 6,
                                             "pool_warm": 5}})
    assert _frontend_backends(s) == 5
    assert "5 connections opened at start" in warm.process.tail()
    warm.process.stop()
    wait_for("the warm frontend's backends to end", lambda: _frontend_backends(s) == 0, 10)
    cold = s.add_frontend(conf={"database": {"conninfo": s.conninfo, "pool": 6}})
    assert _frontend_backends(s) == 1
    assert s.get(f"{API}/courses", frontend=cold).status_code == 200  # still opens when needed


def test_a_warm_pool_larger_than_the_pool_is_refused(make_stack):
    s = make_stack()
    s.start_broker()
    bad = s.add_frontend(start=False, conf={"database": {"conninfo": s.conninfo, "pool": 2,
                                                         "pool_warm": 3}})
    bad.process.start()
    wait_for("the frontend to exit", lambda: not bad.process.alive, 10)
    assert bad.process.returncode == 2
    assert "pool_warm" in bad.process.tail()
