"""The OpenAPI check (docs/api.md 4.6): docs/openapi.json describes every route of the server,
the server serves it, and sample answers of every route validate against it. The checker is
tests/system/openapi_check.py; the route list comes from the binary (`--list-routes`), so a
route added to frontend/routes.c without documenting it fails here.

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
from stack import API, wait_for
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
        r = stack.http.request(method.upper(), front + url, headers=headers, timeout=60, **kw)
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
    check("delete", f"{API}/courses/{{id}}", f"{API}/courses/{course_id}", token="student")
    check("delete", f"{API}/courses/{{id}}", f"{API}/courses/{course_id}")
    check("delete", f"{API}/courses/{{id}}", f"{API}/courses/{course_id}")

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
