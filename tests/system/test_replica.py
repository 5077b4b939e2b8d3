"""Read replicas (docs/api.md 1.3, docs/operations.md "Read replicas"): a frontend given a
PostgreSQL hot standby (database/read_conninfo) reads courses, lists, searches and quizzes
from it while it keeps up, marks those answers `ProfAI-Stale: replica`, keeps serving them from
the standby while the primary is stopped, and reads from the primary again when the standby
falls behind (its replay paused while the primary takes writes).

Everything is real: a private primary cluster (this module stops and starts it), a standby made
with pg_basebackup -R streaming from it (tests/system/replica.py, scripts/pg.sh replica), the
broker, a worker and the frontend, real HTTP.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest

from pdfs import make_plain_pdf
from replica import Standby
from stack import API, ROOT, Stack, wait_for

STALE = "ProfAI-Stale"
MAX_LAG_MS = 1500
CHECK_MS = 200


@pytest.fixture
def standby(private_pg_cluster):
    s = Standby(private_pg_cluster,
                ROOT / "var" / "check" / f"standby-{uuid.uuid4().hex[:8]}")
    s.start()
    yield s
    s.remove()


def marked(r) -> bool:
    return r.headers.get(STALE) == "replica"


def test_reads_go_to_the_replica_survive_the_primary_and_leave_a_lagging_replica(
        private_pg_cluster, standby, outdir, report):
    primary = private_pg_cluster
    s = Stack(primary, outdir)
    try:
        s.start_broker()
        s.add_worker()
        fe = s.add_frontend(conf={
            "database": {"conninfo": s.conninfo, "pool": 4,
                         "read_conninfo": standby.conninfo_for(s.dbname),
                         "read_max_lag": MAX_LAG_MS, "read_check_interval": CHECK_MS},
            # Tokens checked once stay usable while the primary is down (docs/api.md 2).
            "auth": {"cache_ttl": 120000, "max_stale": 60000},
            # Every read asks PostgreSQL: the cache would hide where answers come from.
            "cache": {"max_bytes": 0},
        })
        s.wait_healthy()
        pdf = make_plain_pdf(outdir / "one.pdf", pages=4, title="Replica one")
        first = s.wait_job(s.submit(pdf.path, "Replica one"))["course_id"]
        s.publish_to_students(first)  # students see published courses only (docs/api.md 2)
        reads = {"course": f"{API}/courses/{first}", "list": f"{API}/courses",
                 "search": f"{API}/courses?q=Topic", "quiz": f"{API}/courses/{first}/quiz"}
        for path in reads.values():  # each token is checked on the primary, then cached
            assert s.get(path, token="student").status_code == 200
            assert s.get(path, token="teacher").status_code == 200

        # 1. The standby keeps up: the reads come from it, marked; job reads never do.
        def all_from_replica():
            answers = {k: s.get(p, token="student") for k, p in reads.items()}
            return all(r.status_code == 200 and marked(r) for r in answers.values())
        wait_for("course, list, search and quiz reads from the replica", all_from_replica, 20,
                 interval=0.2, on_timeout=lambda: fe.process.tail())
        job = s.get(f"{API}/jobs?limit=5")
        assert job.status_code == 200 and not marked(job), "job reads go to the primary"
        metrics = s.http.get(fe.url + "/metrics", timeout=10).text
        assert re.search(r'^profai_db_reads_total\{server="replica"\} [1-9]', metrics, re.M)
        assert re.search(r'^profai_db_replica_reads 1$', metrics, re.M), metrics[-800:]

        # 2. The primary stops: the same reads keep being answered, by the standby, marked;
        # reads of the primary's own (jobs) and writes are 503.
        primary.stop()
        down_reads = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3:
            for kind, path in reads.items():
                r = s.get(path, token="student")
                assert r.status_code == 200, f"{kind} while the primary is down: {r.status_code}"
                assert marked(r), f"{kind} answered while the primary is down, unmarked"
                down_reads += 1
        assert s.get(f"{API}/courses/{first}", token="teacher").json()["id"] == first
        assert s.get(f"{API}/jobs?limit=5").status_code == 503
        attempt = s.http.post(fe.url + f"{API}/courses/{first}/quiz/attempts", json={
            "answers": {}}, headers=s.auth("student"), timeout=30)
        assert attempt.status_code in (400, 503), attempt.text  # never stored anywhere
        primary.start()
        s.wait_broker_ready(60)
        wait_for("reads from the replica again", all_from_replica, 40, interval=0.3,
                 on_timeout=lambda: fe.process.tail())

        # 3. The standby falls behind (replay paused, the primary writes a new course): after
        # read_max_lag the reads go to the primary, which has the new course, unmarked.
        standby.pause_replay()
        pdf2 = make_plain_pdf(outdir / "two.pdf", pages=4, title="Replica two", seed=5)
        second = s.wait_job(s.submit(pdf2.path, "Replica two"))["course_id"]
        s.publish_to_students(second)

        def from_primary_with_second():
            r = s.get(f"{API}/courses", token="student")
            ids = [c["id"] for c in r.json()["courses"]]
            return r.status_code == 200 and not marked(r) and second in ids
        wait_for("the list from the primary, with the new course", from_primary_with_second,
                 MAX_LAG_MS / 1000 + 15, interval=0.2, on_timeout=lambda: fe.process.tail())
        assert "replica lags" in fe.process.log_text()
        r = s.get(f"{API}/courses/{second}", token="student")
        assert r.status_code == 200 and not marked(r)
        # The paused standby does not have it, so it was never the one to answer.
        conn = __import__("psycopg2").connect(standby.conninfo_for(s.dbname))
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM courses WHERE id = %s", (second,))
                assert cur.fetchone()[0] == 0, "the paused standby has the new course"
        finally:
            conn.close()

        # 4. Replay resumes: the standby catches up and serves again, new course included.
        standby.resume_replay()

        def replica_with_second():
            r = s.get(f"{API}/courses", token="student")
            return marked(r) and second in [c["id"] for c in r.json()["courses"]]
        wait_for("the replica back, with the new course", replica_with_second, 20,
                 interval=0.2, on_timeout=lambda: fe.process.tail())
        # 5. The standby stops: every read is answered by the primary at once (a read that
        # fails on the standby is asked of the primary), never a 503.
        standby.stop()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2:
            for kind, path in reads.items():
                r = s.get(path, token="student")
                assert r.status_code == 200, f"{kind} with the standby down: {r.status_code}"
                assert not marked(r), f"{kind} marked although the standby is down"
        assert "the replica does not answer" in fe.process.log_text()
        report(f"replica: {down_reads} reads answered by the standby while the primary was "
               f"down; reads left it when it lagged, came back after, and went to the primary "
               f"while it was stopped")
    except BaseException:
        print(f"\n==== component logs ({s.outdir}) ====\n{s.log_tails(60)}")
        raise
    finally:
        if not primary.running():
            primary.start()
        s.close()
