"""System tests of results, history and progress (docs/api.md 4.17, 4.18; issue 14 "Results"):
who attempted a course and a class's courses, best and latest scores, per-question success
rates, the CSV export (RFC 4180 quoting, formula guard), a student's own attempts at every
course and the lessons it opened.

    sh scripts/check-system.sh tests/system/test_results.py
"""

from __future__ import annotations

import copy
import csv
import io
import uuid

from stack import API
from test_classes import make_class, student
from test_courses_api import QUIZ_DOC, attempt, get, problem, send, store_course

# The right answers of QUIZ_DOC: q1 0, q2 2, q3 1.
ALL_RIGHT = {"q1": 0, "q2": 2, "q3": 1}
ONE_RIGHT = {"q1": 0, "q2": 0, "q3": 0}


def answer(stack, course_id: str, token: str, answers: dict) -> dict:
    r = attempt(stack, course_id, {"answers": answers}, token=token)
    assert r.status_code == 201, r.text
    return r.json()


def test_results_of_a_course_and_a_class_as_json_and_csv(stack):
    doc = copy.deepcopy(QUIZ_DOC)
    # A title that a spreadsheet would run as a formula, with a comma and quotes in it.
    doc["title"] = '=HYPERLINK("x"), cells'
    course_id, _ = store_course(stack, "teacher", doc, publish=False)
    klass = make_class(stack, "Results 1")
    names = sorted(f"r{i}-{uuid.uuid4().hex[:6]}" for i in range(3))
    tokens = {}
    for name in names:
        tokens[name] = student(stack, name)[1]
        assert send(stack, "POST", f"{API}/classes/{klass['id']}/students", token="teacher",
                    json={"name": name}).status_code == 201
    assert send(stack, "POST", f"{API}/courses/{course_id}/classes/{klass['id']}",
                token="teacher").status_code == 204
    first, second, idle = names
    # first: 3 then 1 (best 3, latest 1); second: 1; idle: none. Someone outside the class
    # (the teacher) attempts too: in the course's results, not in the class's.
    answer(stack, course_id, tokens[first], ALL_RIGHT)
    answer(stack, course_id, tokens[first], ONE_RIGHT)
    answer(stack, course_id, tokens[second], ONE_RIGHT)
    answer(stack, course_id, "teacher", ALL_RIGHT)

    r = get(stack, f"{API}/courses/{course_id}/results", token="teacher")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert (body["course_id"], body["title"]) == (course_id, doc["title"])
    rows = {s["name"]: s for s in body["students"]}
    assert set(rows) == {first, second, stack_name(stack)}
    assert {k: rows[first][k] for k in ("attempts", "best_score", "latest_score", "total")} == \
        {"attempts": 2, "best_score": 3, "latest_score": 1, "total": 3}
    assert (rows[second]["attempts"], rows[second]["best_score"]) == (1, 1)
    # q1 right in all 4 attempts; q2 and q3 right in the 2 all-right ones.
    assert [(q["question"], q["lesson"], q["answers"], q["correct"], q["success_rate"])
            for q in body["questions"]] == [("q1", "l1", 4, 4, 1.0), ("q2", "l2", 4, 2, 0.5),
                                            ("q3", "l1", 4, 2, 0.5)]

    r = get(stack, f"{API}/classes/{klass['id']}/results", token="teacher")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["class_id"], body["name"]) == (klass["id"], "Results 1")
    assert [(s["name"], s["course_id"], s["attempts"], s["best_score"], s["latest_score"])
            for s in body["students"]] == [(first, course_id, 2, 3, 1),
                                           (second, course_id, 1, 1, 1),
                                           (idle, course_id, 0, None, None)]
    assert body["students"][2]["last_attempt_at"] is None
    # Only the class's attempts: q1 3/3, q2 1/3, q3 1/3.
    assert [(q["question"], q["answers"], q["correct"], q["success_rate"])
            for q in body["questions"]] == [("q1", 3, 3, 1.0), ("q2", 3, 1, 0.333),
                                            ("q3", 3, 1, 0.333)]

    # CSV, by ?format= or by Accept; quoted per RFC 4180, formulas guarded.
    for path, headers in ((f"{API}/classes/{klass['id']}/results?format=csv", {}),
                          (f"{API}/classes/{klass['id']}/results", {"Accept": "text/csv"})):
        r = get(stack, path, token="teacher", headers=headers)
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert r.headers["Content-Disposition"].startswith("attachment; filename=")
        text = r.content.decode()
        assert text.endswith("\r\n") and "\r\n" in text.rstrip("\r\n")
        table = list(csv.reader(io.StringIO(text, newline="")))
        assert table[0] == ["user_id", "name", "course_id", "course_title", "attempts",
                            "best_score", "latest_score", "total", "last_attempt_at"]
        assert [row[1] for row in table[1:]] == [first, second, idle]
        assert table[1][3] == "'" + doc["title"]  # guarded, and the comma and quotes kept
        assert table[1][4:8] == ["2", "3", "1", "3"]
        assert table[3][4:9] == ["0", "", "", "", ""]
        assert '"\'=HYPERLINK(""x""), cells"' in text
    r = get(stack, f"{API}/courses/{course_id}/results?format=csv&table=questions",
            token="teacher")
    table = list(csv.reader(io.StringIO(r.content.decode(), newline="")))
    assert table == [["question", "lesson", "answers", "correct", "success_rate"],
                     ["q1", "l1", "4", "4", "1.000"], ["q2", "l2", "4", "2", "0.500"],
                     ["q3", "l1", "4", "2", "0.500"]]
    # ?format=json wins over Accept.
    r = get(stack, f"{API}/courses/{course_id}/results?format=json", token="teacher",
            headers={"Accept": "text/csv"})
    assert r.headers["Content-Type"].startswith("application/json")
    problem(get(stack, f"{API}/courses/{course_id}/results?format=xml", token="teacher"), 400,
            "bad-request")

    # Only the owner (and admins); students may not.
    other_teacher = stack.create_token("teacher", f"teacher-{uuid.uuid4().hex[:8]}")
    problem(get(stack, f"{API}/courses/{course_id}/results", token=other_teacher), 404,
            "not-found")
    problem(get(stack, f"{API}/classes/{klass['id']}/results", token=other_teacher), 404,
            "not-found")
    assert get(stack, f"{API}/classes/{klass['id']}/results", token="admin").status_code == 200
    problem(get(stack, f"{API}/courses/{course_id}/results", token=tokens[first]), 403,
            "forbidden")


def stack_name(stack) -> str:
    """The name of the stack's teacher (the user of its "teacher" token)."""
    with stack.db().cursor() as cur:
        cur.execute("SELECT u.name FROM users u JOIN tokens t ON t.user_id = u.id "
                    "WHERE t.hash = sha256(convert_to(%s, 'UTF8'))", (stack.token("teacher"),))
        return cur.fetchone()[0]


def test_a_student_sees_its_history_and_progress(stack):
    one, _ = store_course(stack, "teacher", {**QUIZ_DOC, "title": "History one"}, publish=False)
    two, _ = store_course(stack, "teacher", {**QUIZ_DOC, "title": "History two"}, publish=False)
    klass = make_class(stack, "History")
    _, token = student(stack)
    assert send(stack, "POST", f"{API}/classes/join", token=token,
                json={"code": klass["join_code"]}).status_code == 200
    for course in (one, two):
        assert send(stack, "POST", f"{API}/courses/{course}/classes/{klass['id']}",
                    token="teacher").status_code == 204

    assert get(stack, f"{API}/me/attempts", token=token).json() == \
        {"attempts": [], "next_cursor": None, "next": None}
    assert get(stack, f"{API}/me/progress", token=token).json() == \
        {"courses": [], "next_cursor": None, "next": None}
    a1 = answer(stack, one, token, ALL_RIGHT)
    a2 = answer(stack, two, token, ONE_RIGHT)
    a3 = answer(stack, one, token, ONE_RIGHT)
    history = get(stack, f"{API}/me/attempts", token=token).json()["attempts"]
    assert [(h["attempt_id"], h["course_id"], h["course_title"], h["number"], h["score"],
             h["total"]) for h in history] == [
        (a3["attempt_id"], one, "History one", 2, 1, 3),
        (a2["attempt_id"], two, "History two", 1, 1, 3),
        (a1["attempt_id"], one, "History one", 1, 3, 3)]
    assert [h["attempt_id"] for h in
            get(stack, f"{API}/me/attempts?limit=1", token=token).json()["attempts"]] == \
        [a3["attempt_id"]]
    # Another user's history does not show them.
    assert get(stack, f"{API}/me/attempts", token=student(stack)[1]).json() == \
        {"attempts": [], "next_cursor": None, "next": None}

    # Reading lessons records them: l1 twice and l2 of course one, then l1 of course two.
    for course, lesson in ((one, "l1"), (one, "l2"), (one, "l1"), (two, "l1")):
        r = get(stack, f"{API}/courses/{course}/lessons/{lesson}", token=token)
        assert r.status_code == 200, r.text
        body = r.json()
        assert list(body)[:2] == ["course_id", "module_id"]
        assert (body["course_id"], body["module_id"], body["id"]) == (course, "m1", lesson)
        assert "text" in body and "quiz" not in body
    problem(get(stack, f"{API}/courses/{one}/lessons/l9", token=token), 404, "not-found")
    progress = get(stack, f"{API}/me/progress", token=token).json()["courses"]
    assert [p["course_id"] for p in progress] == [two, one]  # the latest first opened first
    by_course = {p["course_id"]: p for p in progress}
    assert (by_course[one]["lessons"], by_course[one]["opened"]) == (2, 2)
    assert {o["lesson"]: o["opens"] for o in by_course[one]["lessons_opened"]} == \
        {"l1": 2, "l2": 1}
    assert (by_course[two]["opened"], by_course[two]["lessons_opened"][0]["lesson"]) == (1, "l1")
    assert by_course[one]["lessons_opened"][0]["first_opened_at"] <= \
        by_course[one]["lessons_opened"][0]["last_opened_at"]

    # A course that is not published to the student's classes any more leaves its progress
    # (its attempts stay in the history); its lessons are 404 like the course.
    assert send(stack, "DELETE", f"{API}/courses/{two}/classes/{klass['id']}",
                token="teacher").status_code == 204
    assert [p["course_id"] for p in
            get(stack, f"{API}/me/progress", token=token).json()["courses"]] == [one]
    problem(get(stack, f"{API}/courses/{two}/lessons/l1", token=token), 404, "not-found")
    assert len(get(stack, f"{API}/me/attempts", token=token).json()["attempts"]) == 3
