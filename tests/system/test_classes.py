"""System tests of classes and course visibility (docs/api.md 2, 4.15, 4.16; issue 14 point 1):
a student who is not enrolled in a class never sees its courses (list, search, read, quiz,
lessons: 404), an enrolled student sees them once published, a draft is its owner's (and
admins') only; join codes, their rotation, enrolment by name, removal, renaming, deletion.

Everything is real: the programs of bin/, PostgreSQL, HTTP, and a course stored as the broker
stores one (test_courses_api.store_course).

    sh scripts/check-system.sh tests/system/test_classes.py
"""

from __future__ import annotations

import copy
import re
import uuid

from stack import API
from test_courses_api import QUIZ_DOC, attempt, get, problem, send, store_course

CODE_RE = re.compile(r"^[A-HJ-NP-Z2-9]{10}$")


def student(stack, name: str | None = None) -> tuple[str, str]:
    """A new student: (name, token)."""
    name = name or f"pupil-{uuid.uuid4().hex[:8]}"
    return name, stack.create_token("student", name)


def make_class(stack, name: str, token: str = "teacher") -> dict:
    r = send(stack, "POST", f"{API}/classes", token=token, json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()


def course_doc(word: str) -> dict:
    """QUIZ_DOC with a title and a lesson text holding a word of its own (to search for)."""
    doc = copy.deepcopy(QUIZ_DOC)
    doc["title"] = f"Visible {word}"
    doc["modules"][0]["lessons"][0]["text"] = f"Osmosis moves water past the {word} membrane."
    return doc


def listed(stack, token: str, course_id: str, word: str) -> tuple[bool, bool]:
    """Whether the course is in the caller's list (first 100) and in its search for word."""
    r = get(stack, f"{API}/courses?limit=100", token=token)
    assert r.status_code == 200, r.text
    in_list = any(c["id"] == course_id for c in r.json()["courses"])
    r = get(stack, f"{API}/courses?q={word}", token=token)
    assert r.status_code == 200, r.text
    in_search = any(c["id"] == course_id for c in r.json()["courses"])
    return in_list, in_search


def sees(stack, token: str, course_id: str, word: str) -> bool:
    """Whether the caller sees the course on every read (all of them agree, or the test fails):
    list, search, the course, its quiz, a lesson, an attempt's list."""
    in_list, in_search = listed(stack, token, course_id, word)
    base = f"{API}/courses/{course_id}"
    codes = [get(stack, path, token=token).status_code
             for path in (base, f"{base}/quiz", f"{base}/lessons/l1", f"{base}/quiz/attempts")]
    seen = [in_list, in_search] + [c == 200 for c in codes]
    assert all(seen) or not any(seen), (seen, codes)
    for code in codes:
        assert code in (200, 404), codes
    if not seen[0]:
        # Exactly as for a course that does not exist: a 404 problem naming no owner.
        body = problem(get(stack, base, token=token), 404, "not-found")
        assert "owner" not in body
    return seen[0]


def test_students_see_only_courses_published_to_their_classes(stack):
    word = f"zq{uuid.uuid4().hex[:8]}"
    course_id, _ = store_course(stack, "teacher", course_doc(word), publish=False)
    alice, alice_token = student(stack)
    _, bob_token = student(stack)
    other_teacher = stack.create_token("teacher", f"teacher-{uuid.uuid4().hex[:8]}")

    # A draft: its owner and admins see it; students and other teachers do not.
    assert sees(stack, "teacher", course_id, word)
    assert sees(stack, "admin", course_id, word)
    assert not sees(stack, alice_token, course_id, word)
    assert not sees(stack, other_teacher, course_id, word)
    r = attempt(stack, course_id, {"answers": {"q1": 0}}, token=alice_token)
    problem(r, 404, "not-found")

    # Enrolled but not published yet: still nothing.
    klass = make_class(stack, "5B biology")
    r = send(stack, "POST", f"{API}/classes/{klass['id']}/students", json={"name": alice},
             token="teacher")
    assert r.status_code == 201, r.text
    assert not sees(stack, alice_token, course_id, word)

    # Published: the enrolled student sees it at once (this frontend), everywhere, and takes
    # its quiz; the student who is not enrolled still does not, not even through a search
    # answer cached for the other one a moment ago.
    r = send(stack, "POST", f"{API}/courses/{course_id}/classes/{klass['id']}", token="teacher")
    assert r.status_code == 204, r.text
    assert sees(stack, alice_token, course_id, word)
    assert "quiz" not in get(stack, f"{API}/courses/{course_id}", token=alice_token).json()
    r = attempt(stack, course_id, {"answers": {"q1": 0, "q2": 2, "q3": 0}}, token=alice_token)
    assert r.status_code == 201, r.text
    assert listed(stack, alice_token, course_id, word) == (True, True)
    assert listed(stack, bob_token, course_id, word) == (False, False)
    assert not sees(stack, bob_token, course_id, word)
    assert not sees(stack, other_teacher, course_id, word)
    r = get(stack, f"{API}/courses/{course_id}/classes", token="teacher")
    assert r.status_code == 200 and [c["id"] for c in r.json()["classes"]] == [klass["id"]]
    problem(get(stack, f"{API}/courses/{course_id}/classes", token=other_teacher), 404,
            "not-found")

    # Publishing twice is still one publication; another teacher cannot publish it, nor
    # publish to this class; students may not publish at all.
    assert send(stack, "POST", f"{API}/courses/{course_id}/classes/{klass['id']}",
                token="teacher").status_code == 204
    other_class = make_class(stack, "not yours", token=other_teacher)
    body = problem(send(stack, "POST", f"{API}/courses/{course_id}/classes/{other_class['id']}",
                        token="teacher"), 404, "not-found")
    assert "class" in body["detail"]
    body = problem(send(stack, "POST", f"{API}/courses/{course_id}/classes/{other_class['id']}",
                        token=other_teacher), 404, "not-found")
    assert "course" in body["detail"]
    problem(send(stack, "POST", f"{API}/courses/{course_id}/classes/{klass['id']}",
                 token=alice_token), 403, "forbidden")

    # Unpublished: gone for the student at once, its attempts kept in its history.
    r = send(stack, "DELETE", f"{API}/courses/{course_id}/classes/{klass['id']}", token="teacher")
    assert r.status_code == 204, r.text
    assert not sees(stack, alice_token, course_id, word)
    problem(send(stack, "DELETE", f"{API}/courses/{course_id}/classes/{klass['id']}",
                 token="teacher"), 404, "not-found")
    history = get(stack, f"{API}/me/attempts", token=alice_token).json()["attempts"]
    assert [a["course_id"] for a in history] == [course_id]

    # Published again, then the student removed from the class: gone again.
    assert send(stack, "POST", f"{API}/courses/{course_id}/classes/{klass['id']}",
                token="teacher").status_code == 204
    assert sees(stack, alice_token, course_id, word)
    members = get(stack, f"{API}/classes/{klass['id']}", token="teacher").json()["members"]
    assert [m["name"] for m in members] == [alice]
    r = send(stack, "DELETE", f"{API}/classes/{klass['id']}/students/{members[0]['user_id']}",
             token="teacher")
    assert r.status_code == 204, r.text
    assert not sees(stack, alice_token, course_id, word)

    # Back in the class, then the class deleted: the course is a draft again.
    assert send(stack, "POST", f"{API}/classes/{klass['id']}/students", json={"name": alice},
                token="teacher").status_code == 201
    assert sees(stack, alice_token, course_id, word)
    assert send(stack, "DELETE", f"{API}/classes/{klass['id']}",
                token="teacher").status_code == 204
    assert not sees(stack, alice_token, course_id, word)
    assert sees(stack, "teacher", course_id, word)


def test_join_codes_enrolment_and_class_management(stack):
    klass = make_class(stack, "Chemistry 2")
    assert set(klass) == {"id", "name", "owner", "created_at", "students", "courses",
                          "join_code"}
    assert (klass["name"], klass["students"], klass["courses"]) == ("Chemistry 2", 0, 0)
    code = klass["join_code"]
    assert CODE_RE.match(code), code
    other_teacher = stack.create_token("teacher", f"teacher-{uuid.uuid4().hex[:8]}")
    carol, carol_token = student(stack)
    dave, dave_token = student(stack)
    base = f"{API}/classes/{klass['id']}"

    # A student joins with the code, in any case; twice is still one membership.
    for _ in range(2):
        r = send(stack, "POST", f"{API}/classes/join", token=carol_token,
                 json={"code": code.lower()})
        assert r.status_code == 200, r.text
        assert r.json()["id"] == klass["id"]
        assert "join_code" not in r.json() and "students" not in r.json()
    assert [c["id"] for c in get(stack, f"{API}/classes", token=carol_token).json()["classes"]] \
        == [klass["id"]]
    seen = get(stack, base, token=carol_token).json()
    assert "members" not in seen and "join_code" not in seen and seen["courses"] == []
    problem(get(stack, base, token=dave_token), 404, "not-found")
    problem(get(stack, base, token=other_teacher), 404, "not-found")
    assert get(stack, base, token="admin").status_code == 200

    # Rotation: the old code stops working at once, the new one works.
    r = send(stack, "POST", f"{base}/join-code", token="teacher")
    assert r.status_code == 200, r.text
    new_code = r.json()["join_code"]
    assert CODE_RE.match(new_code) and new_code != code
    body = problem(send(stack, "POST", f"{API}/classes/join", token=dave_token,
                        json={"code": code}), 404, "not-found")
    assert body["detail"] == "no class has this join code"
    assert send(stack, "POST", f"{API}/classes/join", token=dave_token,
                json={"code": new_code}).status_code == 200
    assert get(stack, base, token="teacher").json()["join_code"] == new_code
    problem(send(stack, "POST", f"{base}/join-code", token=other_teacher), 404, "not-found")
    problem(send(stack, "POST", f"{base}/join-code", token=carol_token), 403, "forbidden")

    # Who may do what; bad bodies.
    problem(send(stack, "POST", f"{API}/classes", token=carol_token, json={"name": "x"}), 403,
            "forbidden")
    problem(send(stack, "POST", f"{API}/classes/join", token="teacher", json={"code": code}),
            403, "forbidden")
    problem(send(stack, "POST", f"{API}/classes", token="teacher", json={"name": ""}), 400,
            "bad-request")
    problem(send(stack, "POST", f"{API}/classes", token="teacher",
                 json={"name": "x", "extra": 1}), 400, "bad-request")
    problem(send(stack, "POST", f"{API}/classes", token="teacher", data="name=x",
                 headers={"Content-Type": "application/x-www-form-urlencoded"}), 415,
            "unsupported-media-type")

    # Enrolment by name: students only.
    teacher_name = f"teacher-{uuid.uuid4().hex[:8]}"
    stack.create_token("teacher", teacher_name)
    for name in ("nobody-" + uuid.uuid4().hex[:6], teacher_name):
        body = problem(send(stack, "POST", f"{base}/students", token="teacher",
                            json={"name": name}), 422, "unprocessable-content")
        assert name in body["detail"]
    r = send(stack, "POST", f"{base}/students", token="teacher", json={"name": carol})
    assert r.status_code == 200 and r.json()["name"] == carol  # already a member
    listing = get(stack, base, token="teacher").json()
    assert sorted(m["name"] for m in listing["members"]) == sorted([carol, dave])
    assert listing["students"] == 2

    # Renaming, listing, deleting.
    r = send(stack, "PATCH", base, token="teacher", json={"name": "Chemistry 3"})
    assert r.status_code == 200 and r.json()["name"] == "Chemistry 3"
    problem(send(stack, "PATCH", base, token=other_teacher, json={"name": "mine"}), 404,
            "not-found")
    mine = [c["id"] for c in get(stack, f"{API}/classes", token="teacher").json()["classes"]]
    assert klass["id"] in mine
    assert klass["id"] not in [c["id"] for c in
                               get(stack, f"{API}/classes", token=other_teacher).json()["classes"]]
    problem(send(stack, "DELETE", base, token=other_teacher), 404, "not-found")
    assert send(stack, "DELETE", base, token="teacher").status_code == 204
    problem(get(stack, base, token="teacher"), 404, "not-found")
    assert get(stack, f"{API}/classes", token=carol_token).json()["classes"] == []
