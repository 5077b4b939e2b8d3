"""System test of single flight (frontend/cache.h): concurrent identical searches that miss
the frontend's cache ask PostgreSQL once; the others wait for that answer and get it.

PostgreSQL itself counts: the test holds a lock on course_lessons (which only the search
statement reads) while the searches arrive, so every search statement that reaches PostgreSQL
waits on that lock, visible in pg_stat_activity. Without single flight each request runs its
own statement and all of them wait there. The scans of course_lessons (pg_stat_user_tables)
after the lock goes confirm it: the burst costs what one search costs.

Everything is real: the programs of bin/, PostgreSQL, HTTP.

    /usr/bin/python3 -m pytest tests/system/test_search_flight.py -x
"""

from __future__ import annotations

import threading
import time

import psycopg2
from stack import API, wait_for
from test_change_listen import listener_pid
from test_courses_api import QUIZ_DOC, get, store_course

WORD = "wombat"
REQUESTS = 8


def lessons_scans(stack) -> int:
    """Scans of course_lessons once every backend has reported its own (PostgreSQL 15 flushes
    an idle backend's counters within 10 s of its last statement)."""
    time.sleep(11)
    with stack.db().cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute("SELECT coalesce(idx_scan, 0) + coalesce(seq_scan, 0) "
                    "FROM pg_stat_user_tables WHERE relname = 'course_lessons'")
        return cur.fetchone()[0]


def searches_waiting(stack) -> int:
    """Backends whose statement reads course_lessons and waits on a lock."""
    return stack.query("SELECT count(*) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND wait_event_type = 'Lock' "
                       "AND query LIKE '%%course_lessons%%'")[0][0]


def test_concurrent_identical_searches_run_the_statement_once(make_stack):
    stack = make_stack()
    stack.start_broker()
    stack.add_worker()
    frontend = stack.add_frontend(conf={"cache": {"search_ttl": 60000}})
    stack.wait_healthy()
    course, _ = store_course(stack, "teacher", {**QUIZ_DOC, "title": f"The {WORD} course"})
    token = stack.token("student")
    wait_for("the listener", lambda: listener_pid(stack, frontend) is not None, 30)

    # What one search costs PostgreSQL (its class set and the like asked once before).
    r = get(stack, f"{API}/courses?q={WORD}&limit=5", token=token, frontend=frontend)
    assert r.status_code == 200 and [c["id"] for c in r.json()["courses"]] == [course]
    before = lessons_scans(stack)
    r = get(stack, f"{API}/courses?q={WORD}&limit=6", token=token, frontend=frontend)
    assert r.status_code == 200
    one = lessons_scans(stack) - before
    assert one >= 1

    # REQUESTS identical searches on a cold key while course_lessons is locked.
    lock = psycopg2.connect(stack.conninfo)
    replies: list = [None] * REQUESTS
    start = threading.Barrier(REQUESTS)

    def search(i: int) -> None:
        start.wait()
        replies[i] = get(stack, f"{API}/courses?q={WORD}&limit=7", token=token,
                         frontend=frontend)

    threads = [threading.Thread(target=search, args=(i,)) for i in range(REQUESTS)]
    try:
        with lock.cursor() as cur:
            cur.execute("LOCK TABLE course_lessons IN ACCESS EXCLUSIVE MODE")
            for t in threads:
                t.start()
            wait_for("a search to reach PostgreSQL", lambda: searches_waiting(stack) >= 1, 30)
            time.sleep(1.0)  # the others have arrived by now (and wait up to 3 s)
            waiting = searches_waiting(stack)
        lock.commit()
    finally:
        lock.close()
    for t in threads:
        t.join(60)
    assert waiting == 1, f"{waiting} search statements ran for {REQUESTS} identical requests"
    bodies = {r.text for r in replies}
    assert all(r.status_code == 200 for r in replies), [r.status_code for r in replies]
    assert len(bodies) == 1
    assert [c["id"] for c in replies[0].json()["courses"]] == [course]
    assert lessons_scans(stack) - before - one == one
