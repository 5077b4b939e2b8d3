"""System test of who finds what in a search (docs/api.md 2 and 4.8; migration 019): a search
by a viewer who is not an admin starts from the courses that viewer sees (its own, and those
published to its classes), an admin's from every course. Whichever way a search starts, each
viewer finds exactly the courses it may see, each once, in the order and with the snippets of
an admin's search of the same words.

The courses: A (published to classes X and Y), B (published to Y), C (a draft) of one
teacher, D (published to Z) of another. Students: s1 in X and the other teacher's Z, s2 in Y,
s3 in X and Y (A through two classes), s4 in a class with no course. Every course holds the
word, with more or fewer occurrences, so that the ranking is not just age.

Everything is real: the programs of bin/, PostgreSQL, HTTP.

    sh scripts/check-system.sh tests/system/test_search_visibility.py
"""

from __future__ import annotations

import uuid

from stack import API, wait_for
from test_classes import course_doc, make_class, student
from test_courses_api import get, send, store_course


def search(stack, token: str, word: str, limit: int) -> list[dict]:
    """Every page of a search (limit per page, following next_cursor): its courses."""
    courses, cursor = [], None
    for _ in range(20):
        query = f"q={word}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = get(stack, f"{API}/courses?{query}", token=token)
        assert r.status_code == 200, r.text
        courses += r.json()["courses"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return courses
    raise AssertionError("the cursors never end")


def without_owner_id(course: dict) -> dict:
    """A result as every viewer sees it ("owner_id" is shown to admins and the owner only)."""
    return {k: v for k, v in course.items() if k != "owner_id"}


def test_each_viewer_finds_exactly_its_courses_ranked_as_an_admin_would(stack):
    word = f"zv{uuid.uuid4().hex[:8]}"
    other_teacher = stack.create_token("teacher", f"teacher-{uuid.uuid4().hex[:8]}")
    ids = {}
    for name, owner, repeat in (("A", "teacher", 3), ("B", "teacher", 1), ("C", "teacher", 2),
                                ("D", other_teacher, 4)):
        doc = course_doc(word)
        lesson = doc["modules"][0]["lessons"][0]
        lesson["text"] = " ".join([lesson["text"]] * repeat)
        ids[name], _ = store_course(stack, owner, doc, publish=False)

    classes = {k: make_class(stack, f"class {k}")["id"] for k in ("X", "Y", "W")}
    classes["Z"] = make_class(stack, "class Z", token=other_teacher)["id"]
    for course, klass, owner in (("A", "X", "teacher"), ("A", "Y", "teacher"),
                                 ("B", "Y", "teacher"), ("D", "Z", other_teacher)):
        r = send(stack, "POST", f"{API}/courses/{ids[course]}/classes/{classes[klass]}",
                 token=owner)
        assert r.status_code == 204, r.text
    students = {}
    for name, member_of in (("s1", "XZ"), ("s2", "Y"), ("s3", "XY"), ("s4", "W")):
        students[name] = student(stack)
        for klass in member_of:
            owner = other_teacher if klass == "Z" else "teacher"
            r = send(stack, "POST", f"{API}/classes/{classes[klass]}/students",
                     json={"name": students[name][0]}, token=owner)
            assert r.status_code == 201, r.text

    # The admin's search (from every course's lessons) once all four are indexed.
    everything = wait_for("the four courses to be searchable",
                          lambda: (lambda found: found if len(found) == 4 else None)(
                              search(stack, "admin", word, 10)), 60, interval=0.5)
    assert {c["id"] for c in everything} == set(ids.values())
    expected = {
        "teacher": "ABC", other_teacher: "D",
        students["s1"][1]: "AD", students["s2"][1]: "AB", students["s3"][1]: "AB",
        students["s4"][1]: "",
    }
    for token, names in expected.items():
        visible = {ids[n] for n in names}
        want = [without_owner_id(c) for c in everything if c["id"] in visible]
        for limit in (10, 1):  # one page, and a page per course (the cursor's offsets)
            found = search(stack, token, word, limit)
            assert [without_owner_id(c) for c in found] == want, (names, limit)
