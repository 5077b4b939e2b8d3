"""The OpenAPI check (docs/api.md 4.6): docs/openapi.json describes every route of the server,
the server serves it, and sample answers of every route validate against it. The checker is
tests/system/openapi_check.py; the route list comes from the binary (`--list-routes`), so a
route added to frontend/routes.c without documenting it fails here. The samples cover the
classes, results, accounts and a user's data too (4.15-4.25), with a session cookie and its
CSRF header where those routes take them.

    /usr/bin/python3 -m pytest tests/system/test_openapi.py -x
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import uuid
from pathlib import Path

from openapi_check import DOC, FRONTEND, problems, server_routes, validate_answer
from pdfs import make_plain_pdf
import requests

from stack import API, wait_for
from test_accounts import PASSWORD, make_user
from test_courses_api import QUIZ_DOC, store_course

CHECKER = Path(__file__).resolve().parent / "openapi_check.py"


def load() -> dict:
    return json.loads(DOC.read_text())


def run_checker(doc_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECKER), str(doc_path), str(FRONTEND)],
                          capture_output=True, text=True, timeout=60)


def test_every_route_is_documented():
    assert problems(load(), server_routes()) == []
    assert run_checker(DOC).returncode == 0


def test_both_ways_in_are_documented():
    """Bearer tokens and the session cookie (docs/api.md 2, 2.1) are security schemes; every
    authenticated operation takes either, and every state-changing one lists X-CSRF-Token."""
    doc = load()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["session"] == {**schemes["session"], "type": "apiKey", "in": "cookie",
                                  "name": "profai_session"}
    csrf = doc["components"]["parameters"]["CsrfToken"]
    assert (csrf["in"], csrf["name"]) == ("header", "X-CSRF-Token")
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if not op["security"]:
                continue
            assert op["security"] == [{"bearer": []}, {"session": []}], (method, path)
            refs = [p.get("$ref") for p in op.get("parameters", [])]
            assert ("#/components/parameters/CsrfToken" in refs) == (method != "get"), \
                (method, path)


def test_the_check_fails_when_a_route_is_not_documented(tmp_path):
    # One operation removed: as if a route were added to the table and not to the document.
    doc = load()
    del doc["paths"]["/api/v1/courses/{id}/quiz/attempts"]["post"]
    (tmp_path / "missing-method.json").write_text(json.dumps(doc))
    out = run_checker(tmp_path / "missing-method.json")
    assert out.returncode == 1
    assert "route POST /api/v1/courses/{id}/quiz/attempts is not in the document" in out.stderr

    # A whole path removed; and a path the server does not have.
    doc = load()
    del doc["paths"]["/api/v1/jobs/{id}/events"]
    doc["paths"]["/api/v1/nowhere"] = {"get": {"responses": {"200": {"description": "x"}}}}
    (tmp_path / "missing-path.json").write_text(json.dumps(doc))
    out = run_checker(tmp_path / "missing-path.json")
    assert out.returncode == 1
    assert "route GET /api/v1/jobs/{id}/events is not in the document" in out.stderr
    assert "GET /api/v1/nowhere, which the server does not" in out.stderr

    # A dangling $ref and a schema that is not JSON Schema are found too.
    doc = load()
    doc["components"]["schemas"]["Job"]["properties"]["title"] = {"$ref": "#/components/x"}
    doc["components"]["schemas"]["Health"]["type"] = 12
    found = problems(doc, server_routes())
    assert "$ref #/components/x names nothing" in found
    assert any(f.startswith("schema Health is not valid JSON Schema") for f in found)


def test_sample_answers_of_every_route_validate(stack, outdir):
    doc = load()
    front = stack.frontends[0].url
    checked: set[tuple[str, str]] = set()

    def check(method: str, pattern: str, url: str, token: str | None = "teacher", **kw):
        headers = {**stack.auth(token), **kw.pop("headers", {})}
        client = kw.pop("client", stack.http)
        if "json" in kw:
            kw["data"] = json.dumps(kw.pop("json"))
            headers.setdefault("Content-Type", "application/json")
        r = client.request(method.upper(), front + url, headers=headers, timeout=60, **kw)
        validate_answer(doc, method, pattern, r)
        assert r.headers.get("X-Request-Id"), "an answer without X-Request-Id"
        checked.add((method, pattern))
        return r

    # Uploads, jobs and their events (a real job through the stack).
    pdf = Path(make_plain_pdf(outdir / "doc.pdf", pages=3).path).read_bytes()
    r = check("post", f"{API}/jobs", f"{API}/jobs?title=Doc", data=pdf,
              headers={"Content-Type": "application/pdf", "Idempotency-Key": "doc-1"})
    assert r.status_code == 202
    job_id = r.json()["job_id"]
    check("post", f"{API}/jobs", f"{API}/jobs?title=Doc", data=pdf,
          headers={"Content-Type": "application/pdf", "Idempotency-Key": "doc-1"})
    check("post", f"{API}/jobs", f"{API}/jobs", data=b"not a pdf",
          headers={"Content-Type": "application/pdf"})
    check("post", f"{API}/jobs", f"{API}/jobs?title=Other", data=pdf,
          headers={"Content-Type": "application/pdf", "Idempotency-Key": "doc-1"})
    wait_for("the job to succeed", lambda: stack.job_row(job_id)["state"] == "succeeded", 90)
    for url in (f"{API}/jobs", f"{API}/jobs?limit=1", f"{API}/jobs?bogus=1"):
        check("get", f"{API}/jobs", url)
    check("get", f"{API}/jobs", f"{API}/jobs", token="student")
    check("get", f"{API}/jobs", f"{API}/jobs", token=None)
    check("get", f"{API}/jobs/{{id}}", f"{API}/jobs/{job_id}")
    check("get", f"{API}/jobs/{{id}}", f"{API}/jobs/{uuid.uuid4()}")
    check("get", f"{API}/jobs/{{id}}/events", f"{API}/jobs/{job_id}/events?limit=1")
    r = check("get", f"{API}/jobs/{{id}}/events", f"{API}/jobs/{job_id}/events",
              headers={"Accept": "text/event-stream"})
    assert r.text.startswith("id: ") and "event: end" in r.text
    check("delete", f"{API}/jobs/{{id}}", f"{API}/jobs/{job_id}")  # 409: it has ended

    # Courses, quizzes, attempts (a stored course with a known quiz).
    course_id, _ = store_course(stack, "teacher", QUIZ_DOC)
    pipeline_course = stack.job_row(job_id)["course_id"]
    for token in ("teacher", "student"):
        check("get", f"{API}/courses", f"{API}/courses?limit=1", token=token)
        check("get", f"{API}/courses", f"{API}/courses?q=stored", token=token)
        check("get", f"{API}/courses/{{id}}", f"{API}/courses/{course_id}", token=token)
        check("get", f"{API}/courses/{{id}}", f"{API}/courses/{pipeline_course}", token=token)
        check("get", f"{API}/courses/{{id}}/quiz", f"{API}/courses/{course_id}/quiz",
              token=token)
    r = check("get", f"{API}/courses/{{id}}", f"{API}/courses/{course_id}")
    check("get", f"{API}/courses/{{id}}", f"{API}/courses/{course_id}",
          headers={"If-None-Match": r.headers["ETag"]})
    attempts = f"{API}/courses/{course_id}/quiz/attempts"
    pattern = f"{API}/courses/{{id}}/quiz/attempts"
    for body in ({"answers": {"q1": 0, "q2": 1}}, {"answers": {"nope": 0}}):
        check("post", pattern, attempts, token="student", data=json.dumps(body),
              headers={"Content-Type": "application/json"})
    check("post", pattern, attempts, token="student", data="{}",
          headers={"Content-Type": "text/plain"})
    check("get", pattern, attempts, token="student")
    check("get", pattern, f"{attempts}?cursor=bogus!", token="student")
    # Curation (4.26): every edit on a stored course, its refusals, and a regeneration of the
    # pipeline's course by the workers.
    curated, _ = store_course(stack, "teacher", QUIZ_DOC)
    base = f"{API}/courses/{curated}"
    one_course = f"{API}/courses/{{id}}"
    r = check("patch", one_course, base, json={"title": "Curated", "questions_per_attempt": 2})
    assert r.status_code == 200 and r.json()["revision"] > 0, r.text
    assert r.json()["questions_per_attempt"] == 2 and r.headers["ETag"]
    assert check("patch", one_course, base,
                 json={"questions_per_attempt": None}).json()["questions_per_attempt"] is None
    for body, status in (({"questions_per_attempt": 0}, 422), ({"title": "x", "owner": "me"}, 400),
                         ({}, 422)):
        assert check("patch", one_course, base, json=body).status_code == status
    assert check("patch", one_course, base, data="title=x",
                 headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 415
    assert check("patch", one_course, base, token="student",
                 json={"title": "x"}).status_code == 403
    assert check("patch", one_course, f"{API}/courses/{uuid.uuid4()}",
                 json={"title": "x"}).status_code == 404
    module = f"{one_course}/modules/{{module}}"
    assert check("patch", module, f"{base}/modules/m1", json={"title": "Moved"}).status_code == 200
    assert check("patch", module, f"{base}/modules/m9", json={"title": "x"}).status_code == 404
    assert check("patch", module, f"{base}/modules/m1", json={"title": ""}).status_code == 422
    lesson_edit = f"{one_course}/lessons/{{lesson}}"
    assert check("patch", lesson_edit, f"{base}/lessons/l2",
                 json={"title": "Spreading"}).status_code == 200
    assert check("patch", lesson_edit, f"{base}/lessons/l9", json={"title": "x"}).status_code == 404
    assert check("patch", lesson_edit, f"{base}/lessons/l2",
                 json={"title": "a\u0007b"}).status_code == 422
    questions = f"{lesson_edit}/questions"
    new_question = {"prompt": "Diffusion moves _____.", "choices": ["particles", "planets",
                                                                 "trains", "songs"], "answer": 0}
    r = check("post", questions, f"{base}/lessons/l2/questions", json=new_question)
    assert r.status_code == 201 and r.headers["Location"].startswith(f"{base}/questions/e")
    assert check("post", questions, f"{base}/lessons/l2/questions",
                 json={**new_question, "answer": 4}).status_code == 422
    assert check("post", questions, f"{base}/lessons/l9/questions",
                 json=new_question).status_code == 404
    question_edit = f"{one_course}/questions/{{qid}}"
    assert check("patch", question_edit, f"{base}/questions/q1",
                 json={"answer": 1}).status_code == 200
    assert check("patch", question_edit, f"{base}/questions/q1",
                 json={"choices": ["x", "x", "y", "z"]}).status_code == 422
    assert check("patch", question_edit, f"{base}/questions/q9",
                 json={"answer": 1}).status_code == 404
    assert check("delete", question_edit, f"{base}/questions/q3").status_code == 200
    assert check("delete", question_edit, f"{base}/questions/q3").status_code == 404
    assert check("delete", lesson_edit, f"{base}/lessons/l1").status_code == 200
    assert check("delete", lesson_edit, f"{base}/lessons/l1").status_code == 404
    # An edit whose lesson is gone from the generated document (as after a regeneration).
    with stack.db().cursor() as cur:
        cur.execute("UPDATE courses SET doc = doc #- '{modules,0,lessons,1}', "
                    "revision = revision + 1 WHERE id = %s", (curated,))
    for token in ("teacher", "student"):
        r = check("get", one_course, base, token=token)
        assert r.json()["modules"][0]["lessons"] == [] and r.json()["edits_not_applied"], r.text
        r = check("get", f"{one_course}/quiz", f"{base}/quiz", token=token)
        assert r.json()["questions_per_attempt"] is None
    regenerate = f"{one_course}/regenerate"
    assert check("post", regenerate, f"{API}/courses/{uuid.uuid4()}/regenerate").status_code \
        == 404
    assert check("post", regenerate, f"{API}/courses/{pipeline_course}/regenerate",
                 token="student").status_code == 403
    r = check("post", regenerate, f"{API}/courses/{pipeline_course}/regenerate")
    assert r.status_code == 202 and r.json()["course_id"] == pipeline_course, r.text
    regen_job = r.json()["job_id"]
    wait_for("the regeneration", lambda: stack.job_row(regen_job)["state"] == "succeeded", 90)

    check("delete", f"{API}/courses/{{id}}", f"{API}/courses/{course_id}", token="student")
    check("delete", f"{API}/courses/{{id}}", f"{API}/courses/{course_id}")
    check("delete", f"{API}/courses/{{id}}", f"{API}/courses/{course_id}")

    # Classes, publishing, lessons, history and results (4.15-4.18), on a draft course.
    draft, _ = store_course(stack, "teacher", QUIZ_DOC, publish=False)
    pupil = f"pupil-{uuid.uuid4().hex[:8]}"
    pupil_token = stack.create_token("student", pupil)
    joiner_token = stack.create_token("student")
    r = check("post", f"{API}/classes", f"{API}/classes", json={"name": "5B physics"})
    assert r.status_code == 201
    klass = r.json()
    assert check("post", f"{API}/classes", f"{API}/classes",
                 json={"name": ""}).status_code == 400
    assert check("post", f"{API}/classes", f"{API}/classes", token="student",
                 json={"name": "x"}).status_code == 403
    one = f"{API}/classes/{klass['id']}"
    pattern = f"{API}/classes/{{id}}"
    assert check("patch", pattern, one, json={"name": "5B physics, 2nd"}).status_code == 200
    assert check("get", pattern, f"{API}/classes/{uuid.uuid4()}").status_code == 404
    code = check("post", f"{pattern}/join-code", f"{one}/join-code").json()["join_code"]
    pattern_students = f"{pattern}/students"
    r = check("post", pattern_students, f"{one}/students", json={"name": pupil})
    assert r.status_code == 201
    pupil_id = r.json()["user_id"]
    assert check("post", pattern_students, f"{one}/students",
                 json={"name": pupil}).status_code == 200
    assert check("post", pattern_students, f"{one}/students",
                 json={"name": "nobody-at-all"}).status_code == 422
    join = f"{API}/classes/join"
    assert check("post", join, join, token=joiner_token,
                 json={"code": code.lower()}).status_code == 200
    assert check("post", join, join, token=joiner_token,
                 json={"code": "AAAAAAAAAA"}).status_code == 404
    assert check("post", join, join, json={"code": code}).status_code == 403
    for token in ("teacher", pupil_token):
        assert check("get", pattern, one, token=token).status_code == 200
    publish = f"{API}/courses/{{id}}/classes/{{class_id}}"
    assert check("post", publish, f"{API}/courses/{draft}/classes/{klass['id']}").status_code \
        == 204
    assert check("post", publish,
                 f"{API}/courses/{draft}/classes/{uuid.uuid4()}").status_code == 404
    check("get", f"{API}/courses/{{id}}/classes", f"{API}/courses/{draft}/classes")
    check("get", f"{API}/courses/{{id}}/classes", f"{API}/courses/{draft}/classes",
          token=pupil_token)
    for query in ("?limit=1", "?cursor=x!", "?limit=0"):
        check("get", f"{API}/courses/{{id}}/classes", f"{API}/courses/{draft}/classes{query}")
    for token in ("teacher", pupil_token, "admin"):
        check("get", f"{API}/classes", f"{API}/classes?limit=1", token=token)
    r = check("get", f"{API}/classes", f"{API}/classes?cursor=bogus!")
    assert r.status_code == 400
    lesson = f"{API}/courses/{{id}}/lessons/{{lesson}}"
    assert check("get", lesson, f"{API}/courses/{draft}/lessons/l1",
                 token=pupil_token).status_code == 200
    assert check("get", lesson, f"{API}/courses/{draft}/lessons/l9",
                 token=pupil_token).status_code == 404
    attempts = f"{API}/courses/{draft}/quiz/attempts"
    pattern_attempts = f"{API}/courses/{{id}}/quiz/attempts"
    for body, status in (({"lesson": "l1", "answers": {"q1": 0}}, 201),
                         ({"answers": {"q1": 0, "q2": 2}}, 201),
                         ({"lesson": "l1", "answers": {"q2": 2}}, 400),
                         ({"lesson": "l9", "answers": {}}, 409)):
        r = check("post", pattern_attempts, attempts, token=pupil_token, json=body)
        assert r.status_code == status, r.text
    for query in ("?lesson=l1", "?lesson=", "?limit=1"):
        assert check("get", pattern_attempts, attempts + query,
                     token=pupil_token).status_code == 200
    r = check("get", f"{API}/me/attempts", f"{API}/me/attempts?limit=1", token=pupil_token)
    assert r.status_code == 200 and r.headers.get("Link")
    check("get", f"{API}/me/attempts", f"{API}/me/attempts?cursor=x!", token=pupil_token)
    r = check("get", f"{API}/me/progress", f"{API}/me/progress", token=pupil_token)
    assert r.json()["courses"][0]["lessons_opened"][0]["lesson"] == "l1"
    for query in ("?limit=1", "?cursor=x!"):
        check("get", f"{API}/me/progress", f"{API}/me/progress{query}", token=pupil_token)
    for results, own in ((f"{API}/courses/{{id}}/results", f"{API}/courses/{draft}/results"),
                         (f"{API}/classes/{{id}}/results", f"{one}/results")):
        r = check("get", results, own)
        assert r.status_code == 200 and r.json()["students"]
        for query in ("?format=csv", "?format=csv&table=questions"):
            r = check("get", results, own + query)
            assert r.headers["Content-Type"].startswith("text/csv")
        assert check("get", results, own, headers={"Accept": "text/csv"}).headers[
            "Content-Type"].startswith("text/csv")
        assert check("get", results, own + "?format=xml").status_code == 400
        assert check("get", results, own, token=pupil_token).status_code == 403
    check("get", f"{API}/courses/{{id}}/results", f"{API}/courses/{uuid.uuid4()}/results")
    unenrol = f"{pattern}/students/{{user_id}}"
    assert check("delete", unenrol, f"{one}/students/{pupil_id}").status_code == 204
    assert check("delete", unenrol, f"{one}/students/{pupil_id}").status_code == 404
    assert check("delete", publish, f"{API}/courses/{draft}/classes/{klass['id']}").status_code \
        == 204
    assert check("delete", publish, f"{API}/courses/{draft}/classes/{klass['id']}").status_code \
        == 404
    assert check("delete", pattern, one).status_code == 204
    assert check("delete", pattern, one).status_code == 404

    # Accounts (4.19-4.23): sign-in, the session cookie and its CSRF header, tokens,
    # invitations.
    signer = f"signer-{uuid.uuid4().hex[:8]}"
    make_user(stack, signer, "teacher")
    browser = requests.Session()
    session = f"{API}/session"
    assert check("post", session, session, token=None,
                 json={"name": signer, "password": "not the password"}).status_code == 401
    assert check("post", session, session, token=None, json={"name": signer}).status_code == 400
    r = check("post", session, session, token=None, client=browser,
              json={"name": signer, "password": PASSWORD})
    assert r.status_code == 200 and r.headers["Set-Cookie"].startswith("profai_session=")
    csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
    assert check("get", f"{API}/me", f"{API}/me", token=None, client=browser).json()[
        "auth"] == "session"
    assert check("get", f"{API}/me", f"{API}/me").json()["auth"] == "token"
    assert check("delete", session, session, token=None, client=browser).status_code == 403
    assert check("delete", session, session).status_code == 400
    tokens = f"{API}/me/tokens"
    r = check("post", tokens, tokens, token=None, client=browser, headers=csrf,
              json={"label": "backup script", "expires_in_days": 30})
    assert r.status_code == 201
    made = r.json()["id"]
    assert check("post", tokens, tokens, json={"label": ""}).status_code == 400
    check("get", tokens, tokens)
    check("get", tokens, f"{tokens}?limit=1", token=None, client=browser)
    check("get", tokens, f"{tokens}?cursor=x!")
    check("get", tokens, tokens, token=None, client=browser)
    assert check("delete", f"{tokens}/{{id}}", f"{tokens}/{made}", token=None, client=browser,
                 headers=csrf).status_code == 204
    assert check("delete", f"{tokens}/{{id}}", f"{tokens}/{made}").status_code == 404
    invitations = f"{API}/invitations"
    r = check("post", invitations, invitations,
              json={"role": "student", "expires_in_hours": 1})
    assert r.status_code == 201
    invitation = r.json()["token"]
    assert check("post", invitations, invitations, json={"role": "admin"}).status_code == 403
    assert check("post", invitations, invitations, token="student",
                 json={"role": "student"}).status_code == 403
    accept = f"{API}/invitations/{{token}}/accept"
    url = f"{invitations}/{invitation}/accept"
    assert check("post", accept, url, token=None,
                 json={"name": "newcomer", "password": "short"}).status_code == 400
    assert check("post", accept, url, token=None,
                 json={"name": signer, "password": PASSWORD}).status_code == 409
    newcomer = f"newcomer-{uuid.uuid4().hex[:8]}"
    assert check("post", accept, url, token=None,
                 json={"name": newcomer, "password": PASSWORD}).status_code == 201
    assert check("post", accept, url, token=None,
                 json={"name": newcomer + "x", "password": PASSWORD}).status_code == 404
    r = check("delete", session, session, token=None, client=browser, headers=csrf)
    assert r.status_code == 204 and "Max-Age=0" in r.headers["Set-Cookie"]
    r = check("post", session, session, token=None, client=browser,
              json={"name": signer, "password": PASSWORD})
    csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
    sessions = f"{API}/sessions"
    assert check("delete", sessions, sessions, token=None, client=browser,
                 headers=csrf).status_code == 204
    assert check("delete", sessions, sessions, token=None, client=browser,
                 headers=csrf).status_code == 401
    assert check("delete", sessions, sessions).status_code == 204

    # A user's data (4.24-4.25): the teacher's export (jobs, courses, tokens), a student's
    # deletion.
    export = f"{API}/users/{{id}}/export"
    teacher_id = check("get", f"{API}/me", f"{API}/me").json()["id"]
    r = check("get", export, f"{API}/users/{teacher_id}/export", token="admin")
    assert r.status_code == 200 and r.json()["jobs"] and r.json()["courses"]
    assert check("get", export, f"{API}/users/{uuid.uuid4()}/export",
                 token="admin").status_code == 404
    assert check("get", export, f"{API}/users/{teacher_id}/export").status_code == 403
    r = check("delete", f"{API}/me/data", f"{API}/me/data", token=pupil_token)
    assert r.status_code == 200 and r.json()["attempts"] == 2

    # The public endpoints.
    for path in ("/healthz", "/readyz", "/livez", "/metrics", f"{API}", f"{API}/",
                 f"{API}/openapi.json", "/"):
        check("get", path, path, token=None)
    check("get", "/app/{file}", "/app/app.js", token=None)
    check("get", "/app/{file}", "/app/nothing.js", token=None)
    served = stack.http.get(front + f"{API}/openapi.json", timeout=30)
    assert served.json() == doc, "the frontend serves another document than docs/openapi.json"

    missing = set(server_routes()) - checked
    assert not missing, f"routes without a sample answer: {sorted(missing)}"


def test_answers_are_compact_json(stack):
    """Answers are written by one JSON writer: no white space between tokens."""
    front = stack.frontends[0].url
    for path, token in ((f"{API}/jobs", "teacher"), ("/healthz", None), (f"{API}", None),
                        (f"{API}/jobs/{uuid.uuid4()}", "teacher")):
        r = stack.http.get(front + path, headers=stack.auth(token), timeout=30)
        assert r.text == json.dumps(r.json(), separators=(",", ":"), ensure_ascii=False), path
    assert copy.deepcopy(load())["openapi"].startswith("3.1.")
