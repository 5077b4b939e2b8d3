"""System tests of questions per attempt (docs/api.md 4.9, 4.10; issue 14, curation): when the
owner sets questions_per_attempt (PATCH /api/v1/courses/{id}), a student's quiz shows the N
questions dealt for their next attempt at the scope, their attempt is scored over exactly
those N (an answer to another question of the scope is a 400), the next attempt is dealt for
the next attempt number, and teachers still see and answer every question.

Everything is real: the programs of bin/, PostgreSQL, HTTP.

    sh scripts/check-system.sh tests/system/test_quiz_deal.py
"""

from __future__ import annotations

import copy

from stack import API
from test_courses_api import QUIZ_DOC, attempt, get, problem, store_course
from test_curation import edit, ok

ANSWER = {f"d{i}": i % 4 for i in range(12)}


def dealt_course(stack) -> str:
    """A published course of 12 questions, d0..d11 (even: lesson l1, odd: l2; answer i % 4)."""
    doc = copy.deepcopy(QUIZ_DOC)
    doc["quiz"] = [{"id": f"d{i}", "lesson": f"l{1 + i % 2}", "prompt": f"Question {i} _____.",
                    "choices": ["a", "b", "c", "d"], "answer": i % 4, "source_page": 1}
                   for i in range(12)]
    course_id, _ = store_course(stack, "teacher", doc)
    return course_id


def quiz_ids(stack, course_id: str, token: str = "student", lesson: str | None = None):
    query = f"?lesson={lesson}" if lesson is not None else ""
    r = get(stack, f"{API}/courses/{course_id}/quiz{query}", token=token)
    body = ok(r)
    return [q["id"] for q in body["questions"]], body, r.headers["ETag"]


def test_a_student_is_dealt_n_questions_per_attempt(stack):
    course_id = dealt_course(stack)
    every = [f"d{i}" for i in range(12)]
    # Unset: everyone sees every question; an attempt is over all 12.
    assert quiz_ids(stack, course_id)[0] == every

    c = ok(edit(stack, "PATCH", course_id, {"questions_per_attempt": 4}))
    assert c["questions_per_attempt"] == 4
    for who in ("teacher", "admin"):
        assert quiz_ids(stack, course_id, token=who)[0] == every

    # The student's deal: 4 distinct questions of the quiz, in quiz order, the same on every
    # GET until an attempt is stored (and so a 304 on revalidation).
    ids, body, etag = quiz_ids(stack, course_id)
    assert body["questions_per_attempt"] == 4 and len(ids) == 4 and len(set(ids)) == 4
    assert set(ids) <= set(every) and ids == sorted(ids, key=every.index)
    assert all("answer" not in q for q in body["questions"])
    assert quiz_ids(stack, course_id)[0] == ids
    r = get(stack, f"{API}/courses/{course_id}/quiz", headers={"If-None-Match": etag})
    assert r.status_code == 304

    # An answer to a question outside the deal is a 400 and stores nothing.
    outside = next(q for q in every if q not in ids)
    body = problem(attempt(stack, course_id, {"answers": {ids[0]: ANSWER[ids[0]],
                                                         outside: 0}}), 400, "bad-request")
    assert outside in body["detail"] and "dealt" in body["detail"]
    assert ok(get(stack, f"{API}/courses/{course_id}/quiz/attempts"))["attempts"] == []

    # Attempt 1 answers three of the four dealt questions right: 3 of 4, one result per
    # dealt question, the fourth unanswered and wrong.
    answers = {q: ANSWER[q] for q in ids[:3]}
    a = ok(attempt(stack, course_id, {"answers": answers}), 201)
    assert a["number"] == 1 and a["score"] == 3 and a["total"] == 4
    assert [x["question"] for x in a["results"]] == ids
    assert a["results"][3]["chosen"] is None and a["results"][3]["correct"] is False

    # The quiz now shows attempt 2's deal; attempts are scored over it.
    deals = [ids]
    for number in (2, 3):
        nxt, _, _ = quiz_ids(stack, course_id)
        assert len(nxt) == 4 and len(set(nxt)) == 4 and set(nxt) <= set(every)
        assert quiz_ids(stack, course_id)[0] == nxt
        a = ok(attempt(stack, course_id, {"answers": {q: ANSWER[q] for q in nxt}}), 201)
        assert a["number"] == number and a["score"] == 4 and a["total"] == 4
        assert [x["question"] for x in a["results"]] == nxt
        deals.append(nxt)
    # Deals of 4 of 12 chosen pseudo-randomly: three identical ones would be a fixed deal
    # (chance of it by luck 1/495^2).
    assert len({tuple(d) for d in deals}) > 1

    # A teacher is never dealt: their attempt is over every question.
    a = ok(attempt(stack, course_id, {"answers": ANSWER}, token="teacher"), 201)
    assert a["score"] == 12 and a["total"] == 12


def test_a_lesson_scope_is_dealt_on_its_own(stack):
    course_id = dealt_course(stack)
    ok(edit(stack, "PATCH", course_id, {"questions_per_attempt": 2}))
    l1 = [f"d{i}" for i in range(0, 12, 2)]
    # Teachers get a lesson's questions with ?lesson=; a student 2 of them.
    assert quiz_ids(stack, course_id, token="teacher", lesson="l1")[0] == l1
    ids, _, _ = quiz_ids(stack, course_id, lesson="l1")
    assert len(ids) == 2 and set(ids) <= set(l1)
    outside = next(q for q in l1 if q not in ids)
    problem(attempt(stack, course_id, {"lesson": "l1", "answers": {outside: 0}}), 400,
            "bad-request")
    # A question of the other lesson is still refused as such.
    body = problem(attempt(stack, course_id, {"lesson": "l1", "answers": {"d1": 0}}), 400,
                   "bad-request")
    assert "lesson" in body["detail"]
    a = ok(attempt(stack, course_id, {"lesson": "l1",
                                      "answers": {q: ANSWER[q] for q in ids}}), 201)
    assert a["lesson"] == "l1" and a["number"] == 1 and a["score"] == 2 and a["total"] == 2
    # The lesson's attempt does not move the whole course's deal on: still number 1 there.
    whole, _, _ = quiz_ids(stack, course_id)
    assert len(whole) == 2
    a = ok(attempt(stack, course_id, {"answers": {q: ANSWER[q] for q in whole}}), 201)
    assert a["lesson"] is None and a["number"] == 1 and a["score"] == 2
    # A lesson with as few questions as the deal (or none) is shown whole.
    ok(edit(stack, "PATCH", course_id, {"questions_per_attempt": 6}))
    assert quiz_ids(stack, course_id, lesson="l2")[0] == [f"d{i}" for i in range(1, 12, 2)]
    assert quiz_ids(stack, course_id, lesson="l9")[0] == []
    problem(get(stack, f"{API}/courses/{course_id}/quiz?lesson=" + "x" * 65), 400,
            "bad-request")
