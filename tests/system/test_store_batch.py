"""Multi-row statements of the broker's store (docs/broker.md, "Multi-row statements"): results
that travel in one segment are stored by one statement over arrays, and a row PostgreSQL
refuses fails alone.

Uses test_broker.py's broker fixtures (a private cluster, a broker per test, Python workers).
"""
from __future__ import annotations

import json
import time

import psycopg2
import pytest

from mdp import course_doc
from stack import wait_for
from test_broker import BrokerEnv, make_env, env, make_pdf  # noqa: F401  (fixtures)


def _bad_course() -> bytes:
    """A course the broker's own check accepts (valid JSON, the schema's keys) but PostgreSQL's
    jsonb refuses: a number beyond numeric's range (SQLSTATE 22003)."""
    doc = json.loads(course_doc("Too big", minimal=True))
    doc["extra"] = 0
    return json.dumps(doc).replace('"extra": 0', '"extra": 1e999999').encode()


def dispatched_jobs(env, client, owner: str, sha: str, label: str, n: int = 4):
    """n jobs submitted, each dispatched to a worker of its own, every dispatch committed:
    (job ids, workers, {job id: (its worker, its token)})."""
    jobs = [client.submit(owner, sha, f"{label} {i}")["job_id"] for i in range(n)]
    workers = [env.worker().ready() for _ in jobs]
    tokens = {}
    for w in workers:
        token, job = w.expect_request()
        tokens[job["job_id"]] = (w, token)
    wait_for("every dispatch committed",
             lambda: all(env.job(j)["attempts"] == 1 for j in jobs), 10, retry_on=())
    return jobs, workers, tokens


def test_a_refused_course_fails_alone_in_a_multi_row_statement(env: BrokerEnv):
    client = env.client()
    owner, sha = env.add_user(), env.add_blob(make_pdf("Batch"))
    jobs, _, tokens = dispatched_jobs(env, client, owner, sha, "Job")

    # Hold the courses table: the first result's transaction waits on the lock, so the next
    # three results queue behind it and travel together, as one multi-row statement.
    blocker = psycopg2.connect(env.conninfo)
    try:
        with blocker.cursor() as cur:
            cur.execute("LOCK TABLE courses IN SHARE MODE")
        first, rest = jobs[0], jobs[1:]
        w, token = tokens[first]
        w.final_ok(token, course_doc("first", minimal=True))
        wait_for("the first result to wait on the lock",
                 lambda: env.query("SELECT count(*) FROM pg_stat_activity WHERE datname ="
                                   " current_database() AND wait_event_type = 'Lock'")[0][0] > 0,
                 10, retry_on=())
        bad = rest[1]
        for j in rest:
            w, token = tokens[j]
            w.final_ok(token, _bad_course() if j == bad else course_doc(j, minimal=True))
        wait_for("the three results received",
                 lambda: all(f"job result received job={j}" in env.log() for j in rest), 10,
                 retry_on=())
        time.sleep(0.2)  # the broker's loop turn that queues them
    finally:
        blocker.rollback()
        blocker.close()

    for j in jobs:
        if j == bad:
            failed = env.wait_job(j, "failed")
            # refused by PostgreSQL (not by the broker's own check: that is invalid_course)
            assert failed["error_code"] == "internal", failed
            assert "invalid course document" in failed["error"], failed
            assert env.courses(j) == []
        else:
            env.wait_job(j, "succeeded")
            assert len(env.courses(j)) == 1
    # The good rows of the refused statement committed together, after it.
    good = [j for j in rest if j != bad]
    xmins = {env.query("SELECT xmin::text FROM jobs WHERE id = %s", j)[0][0] for j in good}
    assert len(xmins) == 1, xmins


def test_gathered_submissions_each_get_their_own_answer(env: BrokerEnv):
    """Submissions queued behind one transaction travel together (one multi-row INSERT when
    no quota is set): each client gets its own answer, a refused one (unknown PDF, unknown
    owner) among accepted ones."""
    import threading

    owner, sha = env.add_user(), env.add_blob(make_pdf("Gathered"))
    unknown_owner = "00000000-0000-4000-8000-000000000000"
    cases = [(owner, sha), (owner, "f" * 64), (unknown_owner, sha), (owner, sha)]
    clients = [env.client() for _ in cases]
    replies: dict[int, dict] = {}

    blocker = psycopg2.connect(env.conninfo)
    try:
        with blocker.cursor() as cur:
            cur.execute("LOCK TABLE jobs IN SHARE MODE")
        first = threading.Thread(target=lambda: replies.__setitem__(
            -1, env.client().submit(owner, sha, "first")))
        first.start()
        wait_for("the first submission to wait on the lock",
                 lambda: env.query("SELECT count(*) FROM pg_stat_activity WHERE datname ="
                                   " current_database() AND wait_event_type = 'Lock'")[0][0] > 0,
                 10, retry_on=())
        threads = [threading.Thread(target=lambda i=i, c=c: replies.__setitem__(
            i, clients[i].submit(c[0], c[1], f"case {i}"))) for i, c in enumerate(cases)]
        for t in threads:
            t.start()
        time.sleep(2.0)  # they reach the broker and queue behind the waiting transaction
    finally:
        blocker.rollback()
        blocker.close()
    first.join(10)
    for t in threads:
        t.join(10)

    assert "job_id" in replies[-1], replies[-1]
    assert "job_id" in replies[0] and "job_id" in replies[3], replies
    assert replies[1].get("error_code") == "unknown_blob", replies[1]
    assert replies[2].get("error_code") == "unknown_owner", replies[2]
    for i in (0, 3):
        assert env.job(replies[i]["job_id"])["state"] == "queued"
    # The accepted ones of the gathered submissions committed in one transaction.
    xmins = {env.query("SELECT xmin::text FROM jobs WHERE id = %s", replies[i]["job_id"])[0][0]
             for i in (0, 3)}
    assert len(xmins) == 1, xmins
