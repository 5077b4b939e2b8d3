"""System tests of the frontends' change notifications (docs/database.md migration 018,
docs/api.md 1.1 and 4.26): two frontends on one database; a frontend serves a course's
revision, its visibility and a student's class set from memory while it hears PostgreSQL's
notifications, so a cached read asks PostgreSQL nothing; an edit, a deletion, an unpublishing
or a student's removal made through the other frontend (or by any SQL statement) is served
within a bound; with its listening connection killed, a frontend still serves edits correctly
(it asks PostgreSQL on every read until it has reconnected).

Everything is real: the programs of bin/, PostgreSQL, HTTP.

    sh scripts/check-system.sh tests/system/test_change_listen.py
"""

from __future__ import annotations

import copy
import time
import uuid

from stack import API, wait_for
from test_classes import make_class, student
from test_courses_api import QUIZ_DOC, get, send, store_course

# How soon another frontend must serve a change: notifications take milliseconds; this leaves
# room for a loaded machine.
BOUND = 2.0


def status(stack, path: str, token: str, frontend) -> int:
    return get(stack, path, token=token, frontend=frontend).status_code


def served_within(what: str, check, bound: float = BOUND) -> float:
    """Poll check until it holds; fail when that takes more than bound seconds. The time."""
    start = time.monotonic()
    wait_for(what, check, bound)
    return time.monotonic() - start


def listener_pid(stack, frontend) -> int | None:
    """The PostgreSQL backend of the frontend's listening connection (change_listen.h)."""
    rows = stack.query("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                       f"profai-frontend-listen {frontend.process.pid}")
    return rows[0][0] if rows else None


def courses_scans(stack) -> int:
    """Scans of the courses table so far (every course read asks it through an index)."""
    with stack.db().cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute("SELECT coalesce(idx_scan, 0) + coalesce(seq_scan, 0) "
                    "FROM pg_stat_user_tables WHERE relname = 'courses'")
        return cur.fetchone()[0]


def wait_stats_flushed(stack) -> int:
    """The scan count once every backend has reported its own: PostgreSQL 15 flushes an idle
    backend's counters at most every second, and within 10 s of its last statement."""
    time.sleep(11)
    return courses_scans(stack)


def test_cached_reads_ask_postgresql_nothing(stack):
    """50 reads of a cached course and its quiz by a student, and 20 searches, through a
    frontend that hears notifications: no scan of the courses table, no class set asked."""
    second = stack.add_frontend()
    course_id, _ = store_course(stack, "teacher", copy.deepcopy(QUIZ_DOC))
    token = stack.token("student")
    base = f"{API}/courses/{course_id}"
    wait_for("the listener", lambda: listener_pid(stack, second) is not None, 10)
    for path in (base, f"{base}/quiz", base):
        assert status(stack, path, token, second) == 200
    before = wait_stats_flushed(stack)
    for i in range(50):
        r = get(stack, base if i % 2 else f"{base}/quiz", token=token, frontend=second)
        assert r.status_code == 200, r.text
    after = wait_stats_flushed(stack)
    # Before migration 018 every read scanned courses twice (visibility, revision).
    assert after - before == 0, (before, after)


def test_edit_unpublish_and_delete_through_one_frontend_reach_the_other(stack):
    second = stack.add_frontend()
    first = stack.frontends[0]
    course_id, _ = store_course(stack, "teacher", copy.deepcopy(QUIZ_DOC))
    token = stack.token("student")
    base = f"{API}/courses/{course_id}"
    for who in (token, "teacher"):
        for _ in range(2):  # cached on the second frontend
            r = get(stack, base, token=who, frontend=second)
            assert r.status_code == 200 and r.json()["revision"] == 0, r.text

    # An edit through the first frontend.
    r = send(stack, "PATCH", f"{API}/courses/{course_id}", token="teacher",
             json={"title": "Water, renamed"})
    assert r.status_code == 200 and r.json()["revision"] == 1, r.text
    took = served_within("the edit on the second frontend", lambda: (
        get(stack, base, token=token, frontend=second).json()["title"] == "Water, renamed"))
    print(f"edit served by the other frontend after {took:.3f} s")
    assert get(stack, base, token="teacher", frontend=second).json()["revision"] == 1

    # Unpublished by a plain SQL statement: the student no longer sees it; its owner does.
    stack.query("DELETE FROM class_courses WHERE course_id = %s RETURNING course_id", course_id)
    served_within("the unpublishing on the second frontend",
                  lambda: status(stack, base, token, second) == 404)
    assert status(stack, base, "teacher", second) == 200

    # Deleted through the first frontend.
    r = send(stack, "DELETE", base, token="teacher")
    assert r.status_code == 204, r.text
    assert status(stack, base, "teacher", first) == 404
    served_within("the deletion on the second frontend",
                  lambda: status(stack, base, "teacher", second) == 404)


def test_a_student_removed_from_a_class_on_one_frontend_stops_seeing_on_the_other(stack):
    second = stack.add_frontend()
    word = f"zq{uuid.uuid4().hex[:8]}"
    doc = copy.deepcopy(QUIZ_DOC)
    doc["title"] = f"Listened {word}"
    course_id, _ = store_course(stack, "teacher", doc, publish=False)
    name, token = student(stack)
    klass = make_class(stack, "7C chemistry")
    r = send(stack, "POST", f"{API}/classes/{klass['id']}/students", json={"name": name},
             token="teacher")
    assert r.status_code == 201, r.text
    members = get(stack, f"{API}/classes/{klass['id']}", token="teacher").json()["members"]
    user_id = next(m["user_id"] for m in members if m["name"] == name)
    r = send(stack, "POST", f"{API}/courses/{course_id}/classes/{klass['id']}", token="teacher")
    assert r.status_code == 204, r.text
    base = f"{API}/courses/{course_id}"
    # The publication (made through the first frontend) reaches the second.
    served_within("the publication on the second frontend",
                  lambda: status(stack, base, token, second) == 200)

    def searched() -> bool:
        r = get(stack, f"{API}/courses?q={word}", token=token, frontend=second)
        assert r.status_code == 200, r.text
        return any(c["id"] == course_id for c in r.json()["courses"])

    wait_for("the course in the student's search", searched, 30)  # indexed after its commit
    for _ in range(2):
        assert status(stack, base, token, second) == 200

    r = send(stack, "DELETE", f"{API}/classes/{klass['id']}/students/{user_id}", token="teacher")
    assert r.status_code == 204, r.text
    served_within("the removal on the second frontend",
                  lambda: status(stack, base, token, second) == 404)
    served_within("the removal in the second frontend's search", lambda: not searched())


def test_a_frontend_whose_listener_is_killed_still_serves_edits(stack):
    second = stack.add_frontend()
    course_id, _ = store_course(stack, "teacher", copy.deepcopy(QUIZ_DOC))
    token = stack.token("student")
    base = f"{API}/courses/{course_id}"
    wait_for("the listener", lambda: listener_pid(stack, second) is not None, 10)
    for _ in range(2):
        assert get(stack, base, token=token, frontend=second).json()["revision"] == 0

    for n in (1, 2, 3):
        pid = listener_pid(stack, second)
        assert pid is not None
        assert stack.query("SELECT pg_terminate_backend(%s)", pid)[0][0] is True
        # Right after the kill, and again once it has reconnected: each edit is served.
        r = send(stack, "PATCH", f"{API}/courses/{course_id}", token="teacher",
                 json={"title": f"Water {n}"})
        assert r.status_code == 200 and r.json()["revision"] == 2 * n - 1, r.text
        served_within("the edit while the listener is down", lambda: (
            get(stack, base, token=token, frontend=second).json()["revision"] == 2 * n - 1))
        wait_for("the listener to reconnect",
                 lambda: listener_pid(stack, second) not in (None, pid), 10)
        r = send(stack, "PATCH", f"{API}/courses/{course_id}", token="teacher",
                 json={"title": f"Water {n}b"})
        assert r.status_code == 200, r.text
        served_within("the edit once the listener is back", lambda: (
            get(stack, base, token=token, frontend=second).json()["title"] == f"Water {n}b"))
    assert "change listener down" in second.process.log_text()
