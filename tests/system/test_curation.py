"""System tests of curation (docs/api.md 4.26; issue 14 point 5): the owner (or an admin)
renames a course, its modules and lessons, deletes a lesson, edits, deletes and adds quiz
questions (validated: 422 problem documents), sets questions per attempt; another teacher gets
404, a student 403; every edit changes the course's revision and ETag on every frontend; and
a regenerated course keeps its edits where their lesson or question still exists.

Everything is real: the programs of bin/, PostgreSQL, HTTP, and (for regeneration) a PDF
turned into a course by the workers twice.

    sh scripts/check-system.sh tests/system/test_curation.py
"""

from __future__ import annotations

import copy
import json
import uuid

import psycopg2.extras

from stack import API, wait_for
from test_courses_api import (QUIZ_DOC, attempt, get, problem, send, store_course,
                              topic_chapters, write_course_pdf)


def edit(stack, method: str, path: str, body=None, token: str = "teacher"):
    kw = {}
    if body is not None:
        kw = {"data": json.dumps(body), "headers": {"Content-Type": "application/json"}}
    return send(stack, method, f"{API}/courses/{path}", token=token, **kw)


def ok(r, status: int = 200) -> dict:
    assert r.status_code == status, f"{r.status_code} {r.text[:500]}"
    return r.json()


def lesson(course: dict, lesson_id: str) -> dict | None:
    for m in course["modules"]:
        for item in m["lessons"]:
            if item["id"] == lesson_id:
                return item
    return None


def question(course: dict, qid: str) -> dict | None:
    return next((q for q in course.get("quiz", []) if q["id"] == qid), None)


def test_each_edit_kind(stack):
    course_id, _ = store_course(stack, "teacher", copy.deepcopy(QUIZ_DOC))
    before = ok(get(stack, f"{API}/courses/{course_id}", token="teacher"))
    assert before["revision"] == 0 and before["questions_per_attempt"] is None
    assert "edits_not_applied" not in before

    c = ok(edit(stack, "PATCH", course_id, {"title": "Water, curated"}))
    assert c["title"] == "Water, curated" and c["revision"] == 1
    # Lists show the new title at once.
    listed = ok(get(stack, f"{API}/courses?limit=100", token="teacher"))["courses"]
    assert [x["title"] for x in listed if x["id"] == course_id] == ["Water, curated"]

    c = ok(edit(stack, "PATCH", course_id, {"questions_per_attempt": 2}))
    assert c["questions_per_attempt"] == 2 and c["revision"] == 2
    c = ok(edit(stack, "PATCH", f"{course_id}/modules/m1", {"title": "Transport"}))
    assert c["modules"][0]["title"] == "Transport"
    c = ok(edit(stack, "PATCH", f"{course_id}/lessons/l2", {"title": "Spreading out"}))
    assert lesson(c, "l2")["title"] == "Spreading out"
    # A second rename of the same lesson replaces the first (one edit kept).
    c = ok(edit(stack, "PATCH", f"{course_id}/lessons/l2", {"title": "Diffusion"}))
    assert lesson(c, "l2")["title"] == "Diffusion"
    with stack.db().cursor() as cur:
        cur.execute("SELECT count(*) FROM course_edits WHERE course_id = %s AND kind = "
                    "'lesson_title'", (course_id,))
        assert cur.fetchone()[0] == 1

    c = ok(edit(stack, "PATCH", f"{course_id}/questions/q1",
                {"prompt": "What moves water?", "answer": 0}))
    assert question(c, "q1")["prompt"] == "What moves water?"
    assert question(c, "q1")["choices"] == ["Osmosis", "Diffusion", "Wind", "Heat"]
    c = ok(edit(stack, "DELETE", f"{course_id}/questions/q3"))
    assert question(c, "q3") is None
    r = edit(stack, "POST", f"{course_id}/lessons/l2/questions",
             {"prompt": "Diffusion moves _____.", "choices": ["particles", "planets", "trains",
                                                             "songs"], "answer": 0})
    c = ok(r, 201)
    added = [q for q in c["quiz"] if q["id"].startswith("e")]
    assert len(added) == 1 and added[0]["lesson"] == "l2" and added[0]["answer"] == 0
    qid = added[0]["id"]
    assert r.headers["Location"] == f"{API}/courses/{course_id}/questions/{qid}"
    c = ok(edit(stack, "PATCH", f"{course_id}/questions/{qid}", {"answer": 1}))
    assert question(c, qid)["answer"] == 1

    # The quiz and scoring follow the edits: q3 is gone, the added question is scored (all
    # three: questions per attempt back to none; dealing is tested in test_quiz_deal.py).
    ok(edit(stack, "PATCH", course_id, {"questions_per_attempt": None}))
    quiz = ok(get(stack, f"{API}/courses/{course_id}/quiz", token="student"))
    assert [q["id"] for q in quiz["questions"]] == ["q1", "q2", qid]
    assert quiz["questions"][0]["prompt"] == "What moves water?"
    r = attempt(stack, course_id, {"answers": {"q1": 0, "q2": 2, qid: 1}})
    assert ok(r, 201)["score"] == 3

    # Deleting a lesson takes its questions with it.
    c = ok(edit(stack, "DELETE", f"{course_id}/lessons/l1"))
    assert lesson(c, "l1") is None and lesson(c, "l2") is not None
    assert [q["id"] for q in c["quiz"]] == ["q2", qid]
    problem(get(stack, f"{API}/courses/{course_id}/lessons/l1", token="teacher"), 404,
            "not-found")
    # What the student reads agrees.
    s = ok(get(stack, f"{API}/courses/{course_id}", token="student"))
    assert s["title"] == "Water, curated" and lesson(s, "l1") is None and "quiz" not in s

    # An admin edits anyone's course; unknown targets are 404 naming what is missing.
    c = ok(edit(stack, "PATCH", f"{course_id}/lessons/l2", {"title": "By the admin"},
                token="admin"))
    assert lesson(c, "l2")["title"] == "By the admin"
    for path, what in ((f"{course_id}/lessons/l1", "lesson"), (f"{course_id}/modules/m9", "module"),
                       (f"{course_id}/questions/q3", "question")):
        body = problem(edit(stack, "PATCH", path, {"title": "x"} if what != "question"
                            else {"answer": 1}), 404, "not-found")
        assert what in body["detail"], body
    problem(edit(stack, "POST", f"{course_id}/lessons/l1/questions",
                 {"prompt": "p", "choices": ["a", "b", "c", "d"], "answer": 0}), 404,
            "not-found")


def test_validation_errors(stack):
    course_id, _ = store_course(stack, "teacher", copy.deepcopy(QUIZ_DOC))
    good = {"prompt": "p _____", "choices": ["a", "b", "c", "d"], "answer": 0}
    cases = [
        ("PATCH", course_id, {"title": ""}, "title"),
        ("PATCH", course_id, {"title": "x" * 1025}, "title"),
        ("PATCH", course_id, {"title": "a\u0007b"}, "title"),
        ("PATCH", course_id, {"title": 7}, "title"),
        ("PATCH", course_id, {}, "title"),
        ("PATCH", course_id, {"questions_per_attempt": 0}, "questions_per_attempt"),
        ("PATCH", course_id, {"questions_per_attempt": 1001}, "questions_per_attempt"),
        ("PATCH", course_id, {"questions_per_attempt": "3"}, "questions_per_attempt"),
        ("PATCH", f"{course_id}/lessons/l1", {"title": ""}, "title"),
        ("PATCH", f"{course_id}/modules/m1", {"title": None}, "title"),
        ("POST", f"{course_id}/lessons/l1/questions", {**good, "answer": 4}, "answer"),
        ("POST", f"{course_id}/lessons/l1/questions", {**good, "answer": -1}, "answer"),
        ("POST", f"{course_id}/lessons/l1/questions", {**good, "answer": 1.5}, "answer"),
        ("POST", f"{course_id}/lessons/l1/questions", {**good, "choices": ["a", "b", "a", "d"]},
         "distinct"),
        ("POST", f"{course_id}/lessons/l1/questions", {**good, "choices": ["a", "b", "c"]},
         "choices"),
        ("POST", f"{course_id}/lessons/l1/questions", {**good, "choices": ["a", "b", "c", ""]},
         "choices[3]"),
        ("POST", f"{course_id}/lessons/l1/questions", {**good, "prompt": ""}, "prompt"),
        ("POST", f"{course_id}/lessons/l1/questions", {"choices": good["choices"], "answer": 0},
         "prompt"),
        ("POST", f"{course_id}/lessons/l1/questions", {**good, "prompt": "p" * 4097}, "prompt"),
        ("PATCH", f"{course_id}/questions/q1", {}, "at least one"),
        ("PATCH", f"{course_id}/questions/q1", {"choices": ["x", "x", "y", "z"]}, "distinct"),
    ]
    for method, path, body, word in cases:
        got = problem(edit(stack, method, path, body), 422, "unprocessable-content")
        assert word in got["detail"], (path, body, got)
    # Not a JSON object of these members: 400; not JSON at all: 415.
    problem(edit(stack, "PATCH", course_id, {"title": "t", "owner": "me"}), 400, "bad-request")
    problem(edit(stack, "PATCH", course_id, ["title"]), 400, "bad-request")
    r = send(stack, "PATCH", f"{API}/courses/{course_id}", token="teacher", data="title=x",
             headers={"Content-Type": "application/x-www-form-urlencoded"})
    problem(r, 415, "unsupported-media-type")
    # Nothing changed.
    c = ok(get(stack, f"{API}/courses/{course_id}", token="teacher"))
    assert c["revision"] == 0 and c["title"] == QUIZ_DOC["title"]
    assert c["quiz"] == QUIZ_DOC["quiz"]


def test_only_the_owner_or_an_admin_edits(stack):
    course_id, _ = store_course(stack, "teacher", copy.deepcopy(QUIZ_DOC))
    other = stack.create_token("teacher", f"teacher-{uuid.uuid4().hex[:8]}")
    requests = [("PATCH", course_id, {"title": "mine now"}),
                ("PATCH", f"{course_id}/modules/m1", {"title": "x"}),
                ("PATCH", f"{course_id}/lessons/l1", {"title": "x"}),
                ("DELETE", f"{course_id}/lessons/l1", None),
                ("POST", f"{course_id}/lessons/l1/questions",
                 {"prompt": "p", "choices": ["a", "b", "c", "d"], "answer": 0}),
                ("PATCH", f"{course_id}/questions/q1", {"answer": 1}),
                ("DELETE", f"{course_id}/questions/q1", None),
                ("POST", f"{course_id}/regenerate", None)]
    for method, path, body in requests:
        problem(edit(stack, method, path, body, token=other), 404, "not-found")
        problem(edit(stack, method, path, body, token="student"), 403, "forbidden")
    # An unknown course is the same 404.
    problem(edit(stack, "PATCH", str(uuid.uuid4()), {"title": "x"}), 404, "not-found")
    c = ok(get(stack, f"{API}/courses/{course_id}", token="teacher"))
    assert c["revision"] == 0 and c["quiz"] == QUIZ_DOC["quiz"]


def test_an_edit_changes_the_etag_on_every_frontend(stack):
    second = stack.add_frontend()
    course_id, _ = store_course(stack, "teacher", copy.deepcopy(QUIZ_DOC))
    paths = [f"{API}/courses/{course_id}", f"{API}/courses/{course_id}/quiz"]
    tags = {}
    for fe in stack.frontends:
        for path in paths:
            r = get(stack, path, frontend=fe)
            assert r.status_code == 200, r.text
            tags[(fe.url, path)] = r.headers["ETag"]
            # Cached: revalidation is a 304.
            r = get(stack, path, frontend=fe, headers={"If-None-Match": r.headers["ETag"]})
            assert r.status_code == 304
    # An edit through the first frontend: that one serves it at once, with a new ETag; the
    # second as soon as it hears the change notification, a few milliseconds after the commit
    # (docs/api.md 4.26), not after cache/ttl (60 s). Its GET 2 ms after the PATCH's answer
    # once came before the notification.
    ok(edit(stack, "PATCH", f"{course_id}/questions/q2", {"prompt": "What spreads? _____"}))
    for fe in (stack.frontends[0], second):
        for path in paths:
            old = tags[(fe.url, path)]

            def fresh():
                r = get(stack, path, frontend=fe, headers={"If-None-Match": old})
                if fe is stack.frontends[0]:
                    assert r.status_code == 200, (fe.url, path, r.status_code)
                return r if r.status_code == 200 else None
            r = wait_for(f"{path} edited on {fe.url}", fresh, 2, retry_on=())
            assert r.headers["ETag"] != old
        quiz = get(stack, paths[1], frontend=fe).json()
        assert quiz["questions"][1]["prompt"] == "What spreads? _____"
        assert get(stack, paths[0], frontend=fe).json()["revision"] == 1


def test_curated_course_keeps_its_edits_after_regeneration(stack, outdir):
    """Issue 14 point 5, through the real stack: a PDF becomes a course, the teacher curates it,
    the course is regenerated from the stored PDF by the workers, and every edit whose lesson
    or question still exists is applied to the new document; the one whose lesson is gone is
    reported in edits_not_applied."""
    pdf = write_course_pdf(outdir / "curated.pdf", "Curated course", topic_chapters("curated"),
                           seed=5)
    job_id = stack.submit(pdf, "Curated course")
    job = stack.wait_job(job_id, timeout=90)
    course_id = job["course_id"]
    first = ok(get(stack, f"{API}/courses/{course_id}", token="teacher"))
    lessons = [item["id"] for m in first["modules"] for item in m["lessons"]]
    assert len(lessons) >= 2 and len(first["quiz"]) >= 2, first
    l_a, l_b = lessons[0], lessons[-1]
    q_edit, q_del = first["quiz"][0]["id"], first["quiz"][1]["id"]
    old_text = lesson(first, l_a)["text"]

    # A lesson that only the earlier generation had (as if an older generator had cut the
    # PDF differently): its edit must not survive a regeneration that has no such lesson.
    with stack.db().cursor() as cur:
        cur.execute("SELECT doc FROM courses WHERE id = %s", (course_id,))
        doc = cur.fetchone()[0]
        doc["modules"][0]["lessons"].append(
            {"id": "l999", "title": "Gone soon", "page_start": 1, "page_end": 1,
             "text": "Old text.", "summary": "", "key_terms": []})
        cur.execute("UPDATE courses SET doc = %s WHERE id = %s",
                    (psycopg2.extras.Json(doc), course_id))

    ok(edit(stack, "PATCH", course_id, {"title": "Curated by hand", "questions_per_attempt": 2}))
    ok(edit(stack, "PATCH", f"{course_id}/modules/{first['modules'][0]['id']}",
            {"title": "Module renamed"}))
    ok(edit(stack, "PATCH", f"{course_id}/lessons/{l_a}", {"title": "Lesson renamed"}))
    ok(edit(stack, "PATCH", f"{course_id}/lessons/l999", {"title": "Renamed, then gone"}))
    ok(edit(stack, "PATCH", f"{course_id}/questions/{q_edit}",
            {"prompt": "Edited prompt _____", "choices": ["w", "x", "y", "z"], "answer": 3}))
    ok(edit(stack, "DELETE", f"{course_id}/questions/{q_del}"))
    added = ok(edit(stack, "POST", f"{course_id}/lessons/{l_b}/questions",
                    {"prompt": "Added _____", "choices": ["a", "b", "c", "d"], "answer": 2}), 201)
    qid = [q["id"] for q in added["quiz"] if q["id"].startswith("e")][0]
    before = ok(get(stack, f"{API}/courses/{course_id}", token="teacher"))
    assert "edits_not_applied" not in before
    etag_before = get(stack, f"{API}/courses/{course_id}", token="teacher").headers["ETag"]
    # Someone tampers with the generated text: the regeneration must replace it.
    with stack.db().cursor() as cur:
        cur.execute("UPDATE courses SET doc = jsonb_set(doc, '{modules,0,lessons,0,text}', "
                    "'\"stale text\"') WHERE id = %s", (course_id,))

    r = send(stack, "POST", f"{API}/courses/{course_id}/regenerate", token="teacher")
    regen = ok(r, 202)
    assert regen["course_id"] == course_id and regen["job_id"] != job_id
    new_job = stack.wait_job(regen["job_id"], timeout=90)
    assert new_job["course_id"] == course_id

    def regenerated():
        c = get(stack, f"{API}/courses/{course_id}", token="teacher").json()
        return c if c.get("job_id") == regen["job_id"] else None
    after = wait_for("the regenerated course", regenerated, 30)
    # Nothing new was stored beside it: the course kept its id.
    with stack.db().cursor() as cur:
        cur.execute("SELECT count(*) FROM courses WHERE owner_id = "
                    "(SELECT owner_id FROM jobs WHERE id = %s)", (job_id,))
        assert cur.fetchone()[0] == 1

    assert after["revision"] > before["revision"]
    assert get(stack, f"{API}/courses/{course_id}", token="teacher").headers["ETag"] != \
        etag_before
    assert lesson(after, l_a)["text"] == old_text  # the generated part is new again
    assert after["title"] == "Curated by hand" and after["questions_per_attempt"] == 2
    assert after["modules"][0]["title"] == "Module renamed"
    assert lesson(after, l_a)["title"] == "Lesson renamed"
    assert lesson(after, "l999") is None
    q = question(after, q_edit)
    assert q["prompt"] == "Edited prompt _____" and q["answer"] == 3
    assert q["choices"] == ["w", "x", "y", "z"]
    assert question(after, q_del) is None
    assert question(after, qid)["lesson"] == l_b
    assert after["edits_not_applied"] == [
        {"edit": after["edits_not_applied"][0]["edit"], "kind": "lesson_title",
         "target": "l999"}]
    # The quiz agrees with the curated course; a student is dealt 2 of its questions.
    stack.publish_to_students(course_id)
    quiz = ok(get(stack, f"{API}/courses/{course_id}/quiz", token="teacher"))
    ids = [x["id"] for x in quiz["questions"]]
    assert q_del not in ids and qid in ids and q_edit in ids
    dealt = ok(get(stack, f"{API}/courses/{course_id}/quiz", token="student"))["questions"]
    assert len(dealt) == 2 and {x["id"] for x in dealt} <= set(ids)


def test_a_course_deleted_during_its_regeneration_stays_deleted(stack, outdir):
    """The regenerated document of a course deleted meanwhile is discarded: no new course."""
    owner = stack.create_token("teacher", f"teacher-{uuid.uuid4().hex[:8]}")
    pdf = write_course_pdf(outdir / "gone.pdf", "Gone course", topic_chapters("gone"), seed=6)
    job_id = stack.submit(pdf, "Gone course", token=owner)
    wait_for("the first job to succeed",
             lambda: stack.job_row(job_id)["state"] == "succeeded", 90)
    course_id = str(stack.job_row(job_id)["course_id"])
    regen = ok(send(stack, "POST", f"{API}/courses/{course_id}/regenerate", token=owner), 202)
    assert send(stack, "DELETE", f"{API}/courses/{course_id}", token=owner).status_code == 204
    wait_for("the regeneration job to end",
             lambda: stack.job_row(regen["job_id"])["state"] == "succeeded", 90)
    with stack.db().cursor() as cur:
        cur.execute("SELECT count(*) FROM courses WHERE owner_id = "
                    "(SELECT owner_id FROM jobs WHERE id = %s)", (regen["job_id"],))
        assert cur.fetchone()[0] == 0
    problem(get(stack, f"{API}/courses/{course_id}", token=owner), 404, "not-found")


def test_a_regeneration_that_finished_first_still_lands(stack, outdir):
    """The frontend notes a regeneration job right after the broker accepted it; a worker may be
    faster and the job's course stored as a course of its own first. Noting the job then lands
    that course on the one it rebuilds (profai_course_regeneration_add, migration 016)."""
    pdf = write_course_pdf(outdir / "late.pdf", "Late course", topic_chapters("late"), seed=7)
    first = stack.submit(pdf, "Late course")
    early = stack.submit(pdf, "Late course")  # stands for a regeneration job that won the race
    for job_id in (first, early):
        stack.wait_job(job_id, timeout=90)
    target = stack.get_job(first)["course_id"]
    stray = stack.get_job(early)["course_id"]
    assert target != stray
    c = ok(edit(stack, "PATCH", f"{target}/lessons/l1", {"title": "Kept through it"}))
    revision = c["revision"]
    with stack.db().cursor() as cur:
        cur.execute("SELECT profai_course_regeneration_add(%s, %s)", (early, target))
        cur.execute("SELECT count(*) FROM courses WHERE id = %s", (stray,))
        assert cur.fetchone()[0] == 0
    after = ok(get(stack, f"{API}/courses/{target}", token="teacher"))
    assert after["job_id"] == early and after["revision"] > revision
    assert lesson(after, "l1")["title"] == "Kept through it"
    assert stack.get_job(early)["course_id"] == target
    problem(get(stack, f"{API}/courses/{stray}", token="teacher"), 404, "not-found")
