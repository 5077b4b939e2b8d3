"""Submissions on a connection of their own (docs/broker.md): the broker's submission store
commits new jobs beside the job store's transaction in flight instead of behind it, and
recovers alone from the loss of its connection.

Uses test_broker.py's broker fixtures (a private cluster, a broker per test, Python workers).
"""
from __future__ import annotations

import re
import threading

import psycopg2

from mdp import course_doc
from stack import wait_for
from test_broker import BrokerEnv, make_env, env, make_pdf  # noqa: F401  (fixtures)


def activity(env: BrokerEnv, column: str, where: str) -> list:
    """column of the test database's other backends (pg_stat_activity) matching where."""
    return [r[0] for r in env.query(
        f"SELECT {column} FROM pg_stat_activity WHERE datname = current_database()"
        f" AND pid <> pg_backend_pid() AND {where}")]


def waiting_on_lock(env: BrokerEnv) -> list[str]:
    """The statements of the backends that wait for a lock."""
    return activity(env, "query", "wait_event_type = 'Lock'")


def test_a_submission_commits_while_the_job_store_waits(env: BrokerEnv):
    client = env.client()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Lanes"))
    first = client.submit(owner, sha, "First")["job_id"]
    worker = env.worker().ready()
    token, job = worker.expect_request()
    assert job["job_id"] == first

    # The result's transaction (on the job store) waits for the courses table.
    blocker = psycopg2.connect(env.conninfo)
    try:
        with blocker.cursor() as cur:
            cur.execute("LOCK TABLE courses IN SHARE MODE")
        worker.final_ok(token, course_doc("First", minimal=True))
        wait_for("the result's transaction to wait on the lock",
                 lambda: worker.pump() or any("courses" in q for q in waiting_on_lock(env)),
                 10, retry_on=())

        # A new submission is answered meanwhile: it did not queue behind that transaction.
        reply: dict = {}
        t = threading.Thread(target=lambda: reply.update(
            env.client().submit(owner, sha, "Second")))
        t.start()
        t.join(timeout=10)
        assert not t.is_alive(), "the submission waited for the job store's transaction"
        assert reply.get("ok") is True, reply
        second = reply["job_id"]
        # Committed (visible from another session) while the first job's result still waits.
        assert env.job(second)["state"] == "queued"
        assert env.job(first)["state"] != "succeeded"
        assert any("courses" in q for q in waiting_on_lock(env))
    finally:
        blocker.rollback()
        blocker.close()

    env.wait_job(first, "succeeded")
    assert len(env.courses(first)) == 1
    token, job = env.worker().ready().expect_request()
    assert job["job_id"] == second
    events = env.query("SELECT state FROM job_events WHERE job_id = %s ORDER BY seq", second)
    assert events[0] == ("queued",), events


def submission_backends(env: BrokerEnv) -> list[int]:
    """The backends whose last statement inserted jobs: the submission store's."""
    return activity(env, "pid", "query LIKE '%%INSERT INTO jobs%%'")


def test_a_lost_submission_connection_comes_back_alone(env: BrokerEnv):
    client = env.client()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Lost"))
    before = client.submit(owner, sha, "Before")["job_id"]
    pids = wait_for("the submission store's backend", lambda: submission_backends(env), 10,
                    retry_on=())
    assert len(pids) == 1, pids
    env.query("SELECT pg_terminate_backend(%s)", pids[0])

    # The next submissions fail fast (db_unavailable) until the connection is back, then pass.
    answers: list[dict] = []

    def accepted() -> bool:
        answers.append(client.submit(owner, sha, "After"))
        return answers[-1].get("ok") is True

    wait_for("a submission accepted again", accepted, 15, retry_on=())
    assert all(a.get("ok") or a.get("error_code") == "db_unavailable" for a in answers), answers
    after = answers[-1]["job_id"]
    assert submission_backends(env) and submission_backends(env)[0] != pids[0]
    log = env.log()
    assert log.count("database up connection=submissions") == 2, "reconnected once"
    assert log.count("database up connection=jobs") == 1, "the job store was never lost"
    # The reconnection read the unfinished jobs again (a lost confirmation would be found).
    assert len(re.findall(r"loaded \d+ queued", log)) >= 2
    # The jobs before and after both run, once.
    worker = env.worker().ready()
    done = set()
    for _ in range(2):
        token, job = worker.expect_request()
        worker.final_ok(token, course_doc(job["job_id"], minimal=True))
        done.add(job["job_id"])
    assert done == {before, after}
    for j in done:
        env.wait_job(j, "succeeded")
        assert len(env.courses(j)) == 1
