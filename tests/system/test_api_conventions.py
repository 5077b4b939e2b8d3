"""System tests of the API's conventions (docs/api.md section 1 and 4.1, 4.3, 4.11, 4.14):
request ids in answers and in the frontend's log, unknown query parameters refused, cursor
pagination with next links over a teacher's 250 jobs and 250 attempts (and over classes and a
user's attempts at every course), Idempotency-Key on
uploads (migration 010), and a job's progress as Server-Sent Events.

Everything is real: the programs of bin/, the session's PostgreSQL cluster, HTTP. Rows a test
only needs to exist (250 jobs, 250 attempts) are inserted with SQL; the jobs that must run go
through the whole stack.

    /usr/bin/python3 -m pytest tests/system/test_api_conventions.py -x
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from pathlib import Path

import pytest

from pdfs import make_long_pdf, make_plain_pdf
from stack import API, Stack, wait_for
from test_courses_api import QUIZ_DOC, problem, store_course

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def pdf_bytes(path: Path, pages: int) -> bytes:
    return Path(make_plain_pdf(path, pages=pages).path).read_bytes()


def user_id(stack: Stack, token: str) -> str:
    """The uuid of a token's user."""
    digest = hashlib.sha256(token.encode()).digest()
    with stack.db().cursor() as cur:
        cur.execute("SELECT user_id::text FROM tokens WHERE hash = %s", (digest,))
        row = cur.fetchone()
    assert row is not None, "no such token"
    return row[0]


def walk(stack: Stack, path: str, token: str, member: str) -> list[list[dict]]:
    """Follow the "next" links of a list from path to its end; the pages. Each page that is
    not the last names its next one in the body and in the Link header, the same link."""
    pages, url = [], path
    while url is not None:
        r = stack.get(url, token=token)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) >= {member, "next_cursor", "next"}
        pages.append(body[member])
        url = body["next"]
        if url is None:
            assert body["next_cursor"] is None and "Link" not in r.headers
        else:
            assert url.startswith(path.split("?")[0] + "?") and \
                url.endswith("cursor=" + body["next_cursor"])
            assert r.headers["Link"] == f'<{url}>; rel="next"'
        assert len(pages) <= 300, "the pages never end"
    return pages


# ---- request ids ---------------------------------------------------------------------------

def test_request_ids_in_answers_and_logs(stack, outdir):
    front = stack.frontends[0]
    # A client's id comes back, and every log line of its request carries it: the access
    # line, and the handler's own line (the upload's "submitted").
    r = stack.http.get(front.url + f"{API}/jobs", timeout=30,
                       headers={**stack.auth("teacher"), "X-Request-Id": "list-1.a:b_c"})
    assert r.status_code == 200 and r.headers["X-Request-Id"] == "list-1.a:b_c"
    pdf = pdf_bytes(outdir / "rid.pdf", 2)
    r = stack.http.post(front.url + f"{API}/jobs", params={"title": "rid"},
                        data=pdf, timeout=30,
                        headers={**stack.auth("teacher"), "Content-Type": "application/pdf",
                                 "X-Request-Id": "upload-7"})
    assert r.status_code == 202 and r.headers["X-Request-Id"] == "upload-7"
    job_id = r.json()["job_id"]

    # Problems carry it too; a missing or unsafe id is replaced by a random one.
    r = stack.http.get(front.url + f"{API}/jobs", timeout=30, headers={"X-Request-Id": "p-1"})
    assert r.status_code == 401 and r.headers["X-Request-Id"] == "p-1"
    seen = set()
    for bad in (None, "", "has space", "x" * 65, "quote\"d", "semi;colon"):
        headers = {} if bad is None else {"X-Request-Id": bad}
        r = stack.http.get(front.url + "/healthz", headers=headers, timeout=30)
        assert HEX32.match(r.headers["X-Request-Id"]), (bad, r.headers["X-Request-Id"])
        seen.add(r.headers["X-Request-Id"])
    assert len(seen) == 6, "generated ids repeat"
    assert stack.http.get(front.url + "/healthz", headers={"X-Request-Id": "y" * 64},
                          timeout=30).headers["X-Request-Id"] == "y" * 64

    def logged():
        text = front.log_text()
        return ("upload-7" in text and "p-1" in text) and text
    text = wait_for("the frontend's log lines", logged, 10)
    lines = text.splitlines()
    access = [line for line in lines if f"GET {API}/jobs 200" in line]
    assert any(line.endswith(" request_id=list-1.a:b_c") for line in access), access
    upload = [line for line in lines if line.endswith(" request_id=upload-7")]
    assert any(f"job={job_id} submitted by" in line for line in upload), upload
    assert any(f"POST {API}/jobs 202" in line for line in upload), upload
    assert any(f"GET {API}/jobs 401" in line and line.endswith("request_id=p-1")
               for line in lines)
    # Lines of no request (startup) carry none; no line carries an unsafe id.
    assert not any("request_id=" in line for line in lines if "listening on" in line)
    assert not any("has space" in line or "semi;colon" in line for line in lines)


def test_request_id_is_a_json_log_field(make_stack):
    s = make_stack()
    s.start_broker()
    s.add_worker()
    front = s.add_frontend(conf={"log": {"level": "info", "format": "json"}})
    s.wait_healthy()
    r = s.http.get(front.url + f"{API}/jobs", headers={**s.auth("teacher"),
                                                      "X-Request-Id": "json-42"}, timeout=30)
    assert r.status_code == 200

    def record():
        for line in front.log_text().splitlines():
            if line.startswith("{") and "json-42" in line:
                return json.loads(line)
        return None
    rec = wait_for("the JSON access line", record, 10)
    assert rec["request_id"] == "json-42" and rec["msg"].startswith(f"GET {API}/jobs 200")


# ---- unknown query parameters --------------------------------------------------------------

def test_unknown_query_parameters_are_refused(stack):
    p = problem(stack.get(f"{API}/jobs?limt=5"), 400, "bad-request")
    assert p["detail"] == 'unknown query parameter "limt"'
    problem(stack.get(f"{API}/courses?q=cell&sort=new", token="student"), 400, "bad-request")
    problem(stack.get(f"{API}/jobs/{uuid.uuid4()}?verbose=1"), 400, "bad-request")
    problem(stack.get("/healthz?x=1", token=None), 400, "bad-request")
    assert stack.get(f"{API}/jobs?limit=5&cursor=").status_code == 200
    assert stack.get(f"{API}/jobs?%6Cimit=5").status_code == 200  # names are decoded
    # The web page's files take what browsers and caches add.
    assert stack.get("/app/app.js?v=2", token=None).status_code == 200
    assert stack.get("/?utm_source=mail", token=None).status_code == 200


# ---- cursor pagination ---------------------------------------------------------------------

def test_pagination_walks_250_jobs_and_250_attempts(stack):
    teacher = stack.create_token("teacher")
    owner = user_id(stack, teacher)
    # 250 ended jobs, three to a timestamp: the cursor must tell rows of one time apart.
    with stack.db().cursor() as cur:
        cur.execute("INSERT INTO blobs (sha256, size, data) VALUES (%s, 1, 'x') "
                    "ON CONFLICT DO NOTHING", ("a" * 64,))
        cur.execute(
            "INSERT INTO jobs (id, owner_id, title, filename, blob_sha256, state, error_code, "
            "error, created_at, finished_at) "
            "SELECT gen_random_uuid(), %s, 'job ' || i, 'f.pdf', %s, 'failed', 'encrypted', "
            "'x', now() - (i / 3) * interval '1 second', now() FROM generate_series(1, 250) i",
            (owner, "a" * 64))
        cur.execute("SELECT id::text FROM jobs WHERE owner_id = %s "
                    "ORDER BY created_at DESC, id DESC", (owner,))
        expected = [row[0] for row in cur.fetchall()]
    assert len(expected) == 250

    for limit in (7, 100):
        pages = walk(stack, f"{API}/jobs?limit={limit}", teacher, "jobs")
        got = [job["job_id"] for page in pages for job in page]
        assert got == expected, "gaps, repeats or another order"
        assert len(pages) == -(-250 // limit)
    # The default page is 20; the largest 100.
    assert len(stack.get(f"{API}/jobs", token=teacher).json()["jobs"]) == 20
    problem(stack.get(f"{API}/jobs?limit=101", token=teacher), 400, "bad-request")

    # Another teacher's walk never sees these; an admin's sees them among all.
    assert stack.get(f"{API}/jobs", token=stack.create_token("teacher")).json()["jobs"] == []

    # 250 attempts of one student at one course, some at the same moment.
    course_id, _ = store_course(stack, "teacher", QUIZ_DOC)
    student = stack.create_token("student")
    sid = user_id(stack, student)
    with stack.db().cursor() as cur:
        cur.execute(
            "INSERT INTO quiz_attempts (course_id, user_id, number, score, total, answers, "
            "results, created_at) SELECT %s, %s, i, 0, 3, '{}', '[]', "
            "now() - (i / 4) * interval '1 millisecond' FROM generate_series(1, 250) i",
            (course_id, sid))
        cur.execute("SELECT id::text FROM quiz_attempts WHERE user_id = %s "
                    "ORDER BY created_at DESC, id DESC", (sid,))
        expected = [row[0] for row in cur.fetchall()]
    base = f"{API}/courses/{course_id}/quiz/attempts"
    pages = walk(stack, f"{base}?limit=9", student, "attempts")
    got = [a["attempt_id"] for page in pages for a in page]
    assert got == expected and len(set(got)) == 250

    # Cursors are validated: edited, or of another list, they are refused.
    first = stack.get(f"{API}/jobs?limit=5", token=teacher).json()
    jobs_cursor = first["next_cursor"]
    attempts_cursor = stack.get(f"{base}?limit=5", token=student).json()["next_cursor"]
    problem(stack.get(f"{base}?cursor={jobs_cursor}", token=student), 400, "bad-request")
    problem(stack.get(f"{API}/jobs?cursor={attempts_cursor}", token=teacher), 400,
            "bad-request")
    for bad in ("nope!", "AAAA", jobs_cursor[:-2], "x" * 200):
        problem(stack.get(f"{API}/jobs?cursor={bad}", token=teacher), 400, "bad-request")


def test_pagination_walks_classes_and_my_attempts(stack):
    """GET /api/v1/classes and /me/attempts page as every list does (docs/api.md 1, 4.15,
    4.18): a walk by the next links gives every row once, in order, several rows sharing a
    timestamp; a cursor of another list is refused."""
    teacher = stack.create_token("teacher")
    owner = user_id(stack, teacher)
    student = stack.create_token("student")
    sid = user_id(stack, student)
    with stack.db().cursor() as cur:
        cur.execute(
            "INSERT INTO classes (owner_id, name, join_code, created_at) "
            "SELECT %s, 'class ' || i, translate(upper(substr(md5(%s::text || i::text), 1, 10)), '01', 'GH'), "
            "now() - (i / 3) * interval '1 second' FROM generate_series(1, 61) i",
            (owner, owner))
        cur.execute("INSERT INTO class_members (class_id, user_id) "
                    "SELECT id, %s FROM classes WHERE owner_id = %s", (sid, owner))
        cur.execute("SELECT id::text FROM classes WHERE owner_id = %s "
                    "ORDER BY created_at DESC, id DESC", (owner,))
        expected = [row[0] for row in cur.fetchall()]
    assert len(expected) == 61
    for token, limit in ((teacher, 7), (teacher, 100), (student, 10)):
        pages = walk(stack, f"{API}/classes?limit={limit}", token, "classes")
        got = [k["id"] for page in pages for k in page]
        # The student may also be in the stack's own classes (publish_to_students).
        got = [k for k in got if k in set(expected)]
        assert got == expected, "gaps, repeats or another order"
    assert len(stack.get(f"{API}/classes", token=teacher).json()["classes"]) == 20

    # 70 attempts at two courses, four to a millisecond.
    courses = [store_course(stack, "teacher", QUIZ_DOC)[0] for _ in range(2)]
    with stack.db().cursor() as cur:
        cur.execute(
            "INSERT INTO quiz_attempts (course_id, user_id, number, score, total, answers, "
            "results, created_at) SELECT (ARRAY[%s, %s]::uuid[])[1 + i %% 2], %s, i, 0, 3, '{}', "
            "'[]', now() - (i / 4) * interval '1 millisecond' FROM generate_series(1, 70) i",
            (courses[0], courses[1], sid))
        cur.execute("SELECT id::text FROM quiz_attempts WHERE user_id = %s "
                    "ORDER BY created_at DESC, id DESC", (sid,))
        expected = [row[0] for row in cur.fetchall()]
    assert len(expected) == 70
    pages = walk(stack, f"{API}/me/attempts?limit=9", student, "attempts")
    got = [a["attempt_id"] for page in pages for a in page]
    assert got == expected and len(pages) == 8

    # Cursors are of one list only.
    classes_cursor = stack.get(f"{API}/classes?limit=5", token=teacher).json()["next_cursor"]
    mine_cursor = stack.get(f"{API}/me/attempts?limit=5", token=student).json()["next_cursor"]
    jobs_cursor = stack.get(f"{API}/jobs?limit=1", token="teacher").json()["next_cursor"]
    assert classes_cursor and mine_cursor and jobs_cursor
    for path, cursor in ((f"{API}/classes", mine_cursor), (f"{API}/classes", jobs_cursor),
                         (f"{API}/me/attempts", classes_cursor), (f"{API}/me/attempts", "x!")):
        problem(stack.get(f"{path}?cursor={cursor}", token=student), 400, "bad-request")


def test_pagination_walks_tokens_course_classes_and_progress(stack):
    """GET /api/v1/me/tokens, /courses/{id}/classes and /me/progress page as every list does
    (docs/api.md 1, 4.16, 4.18, 4.22): a walk by the next links gives every row once, in
    order, several rows sharing a timestamp; what the list leaves out stays out; a cursor of
    another list is refused."""
    # 45 tokens of one user, three to a microsecond, and a revoked one (never listed).
    teacher = stack.create_token("teacher")
    owner = user_id(stack, teacher)
    with stack.db().cursor() as cur:
        cur.execute(
            "INSERT INTO tokens (hash, user_id, label, created_at, expires_at) "
            "SELECT sha256((%s || i)::bytea), %s, 'token ' || i, "
            "now() - (i / 3) * interval '1 second', now() + interval '1 day' "
            "FROM generate_series(1, 45) i", (owner, owner))
        cur.execute("INSERT INTO tokens (hash, user_id, label, revoked_at) "
                    "VALUES (sha256(%s::bytea), %s, 'revoked', now())", (owner + "r", owner))
        cur.execute("SELECT id::text FROM tokens WHERE user_id = %s AND revoked_at IS NULL "
                    "ORDER BY created_at DESC, id DESC", (owner,))
        expected = [row[0] for row in cur.fetchall()]
    assert len(expected) == 46  # with the token of the requests
    for limit in (7, 100):
        pages = walk(stack, f"{API}/me/tokens?limit={limit}", teacher, "tokens")
        assert [t["id"] for page in pages for t in page] == expected, "gaps or repeats"
    assert len(stack.get(f"{API}/me/tokens", token=teacher).json()["tokens"]) == 20

    # One course published to 40 classes of its owner, three publications to a microsecond;
    # classes it is not published to are not listed.
    course_id, _ = store_course(stack, "teacher", QUIZ_DOC, publish=False)
    course_owner = user_id(stack, stack.token("teacher"))
    with stack.db().cursor() as cur:
        cur.execute(
            "INSERT INTO classes (owner_id, name, join_code) "
            "SELECT %s, 'pub ' || i, translate(upper(substr(md5(%s || i::text), 1, 10)), "
            "'01', 'GH') FROM generate_series(1, 43) i", (course_owner, course_id))
        cur.execute(
            "INSERT INTO class_courses (class_id, course_id, published_at) "
            "SELECT k.id, %s, now() - (row_number() OVER (ORDER BY k.id) / 3) "
            "* interval '1 millisecond' FROM classes k WHERE k.name LIKE 'pub %%' "
            "AND k.owner_id = %s AND k.name <> ALL (ARRAY['pub 1', 'pub 2', 'pub 3'])",
            (course_id, course_owner))
        cur.execute("SELECT class_id::text FROM class_courses WHERE course_id = %s "
                    "ORDER BY published_at DESC, class_id DESC", (course_id,))
        expected = [row[0] for row in cur.fetchall()]
    assert len(expected) == 40
    path = f"{API}/courses/{course_id}/classes"
    for limit in (6, 100):
        pages = walk(stack, f"{path}?limit={limit}", "teacher", "classes")
        assert [k["id"] for page in pages for k in page] == expected, "gaps or repeats"
    first = stack.get(path, token="teacher").json()
    assert len(first["classes"]) == 20 and set(first["classes"][0]) == {"id", "name",
                                                                         "published_at"}
    problem(stack.get(f"{API}/courses/{uuid.uuid4()}/classes?limit=5", token="teacher"), 404,
            "not-found")
    problem(stack.get(f"{path}?limit=101", token="teacher"), 400, "bad-request")

    # A student's progress in 12 courses (copies of one, published to the student's class),
    # lessons of two courses first opened at the same microsecond; a course the student no
    # longer sees (a draft) is left out.
    student = stack.create_token("student")
    sid = user_id(stack, student)
    seen, _ = store_course(stack, "teacher", QUIZ_DOC)
    with stack.db().cursor() as cur:
        cur.execute(
            "WITH j AS (INSERT INTO jobs SELECT (jsonb_populate_record(NULL::jobs, to_jsonb(o) "
            "           || jsonb_build_object('id', gen_random_uuid(), 'course_id', NULL))).* "
            "           FROM jobs o JOIN courses c ON c.job_id = o.id, generate_series(1, 12) "
            "           WHERE c.id = %s RETURNING id, owner_id) "
            "INSERT INTO courses (id, job_id, owner_id, title, doc) "
            "SELECT gen_random_uuid(), j.id, j.owner_id, 'copy', c.doc FROM j, courses c "
            "WHERE c.id = %s RETURNING id::text", (seen, seen))
        copies = [row[0] for row in cur.fetchall()]
        cur.execute("INSERT INTO class_courses (class_id, course_id) SELECT cc.class_id, c "
                    "FROM class_courses cc, unnest(%s::uuid[]) c WHERE cc.course_id = %s",
                    (copies[1:], seen))
        cur.execute(
            "INSERT INTO lesson_opens (user_id, course_id, lesson_id, first_at, last_at) "
            "SELECT %s, c, l, now() - (n / 2) * interval '1 second' + interval '1 ms' * "
            "(l = 'b')::int, now() FROM unnest(%s::uuid[]) WITH ORDINALITY AS u(c, n), "
            "unnest(ARRAY['a', 'b']) l", (sid, [seen] + copies))
        cur.execute(
            "SELECT o.course_id::text FROM lesson_opens o JOIN class_courses cc "
            "ON cc.course_id = o.course_id WHERE o.user_id = %s GROUP BY o.course_id "
            "ORDER BY min(o.first_at) DESC, o.course_id DESC", (sid,))
        expected = [row[0] for row in cur.fetchall()]
    assert len(expected) == 12 and copies[0] not in expected
    for limit in (5, 100):
        pages = walk(stack, f"{API}/me/progress?limit={limit}", student, "courses")
        got = [c["course_id"] for page in pages for c in page]
        assert got == expected, "gaps, repeats or another order"
        assert all(c["opened"] == 2 and [x["lesson"] for x in c["lessons_opened"]] == ["a", "b"]
                   for page in pages for c in page)

    # Cursors are of one list only.
    cursors = {p: stack.get(f"{p}?limit=1", token=t).json()["next_cursor"]
               for p, t in ((f"{API}/me/tokens", teacher), (path, "teacher"),
                            (f"{API}/me/progress", student))}
    assert all(cursors.values())
    for p, t in ((f"{API}/me/tokens", teacher), (path, "teacher"), (f"{API}/me/progress", student)):
        for other, cursor in cursors.items():
            if other != p:
                problem(stack.get(f"{p}?cursor={cursor}", token=t), 400, "bad-request")


def test_job_events_page(stack, outdir):
    job_id = stack.submit(make_plain_pdf(outdir / "ev.pdf", pages=2).path, "events")
    stack.wait_job(job_id, timeout=90)
    events = stack.get(f"{API}/jobs/{job_id}/events").json()
    assert [e["state"] for e in events["events"]] == ["queued", "running", "succeeded"]
    assert events["job_id"] == job_id and events["next"] is None
    pages = walk(stack, f"{API}/jobs/{job_id}/events?limit=1", "teacher", "events")
    assert [p[0]["seq"] for p in pages] == [e["seq"] for e in events["events"]]


# ---- Idempotency-Key -----------------------------------------------------------------------

def post(stack: Stack, pdf: bytes, key: str | None, token: str, title: str = "Idem"):
    headers = {**stack.auth(token), "Content-Type": "application/pdf"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return stack.http.post(stack.frontends[0].url + f"{API}/jobs", params={"title": title},
                           data=pdf, headers=headers, timeout=30)


def count_jobs(stack: Stack, token: str) -> int:
    with stack.db().cursor() as cur:
        cur.execute("SELECT count(*) FROM jobs WHERE owner_id = %s", (user_id(stack, token),))
        return cur.fetchone()[0]


def test_idempotent_uploads(stack, outdir):
    teacher = stack.create_token("teacher")
    pdf = pdf_bytes(outdir / "idem.pdf", 2)
    other_pdf = pdf_bytes(outdir / "idem2.pdf", 3)

    first = post(stack, pdf, "key-1", teacher)
    assert first.status_code == 202, first.text
    again = post(stack, pdf, "key-1", teacher)
    assert again.status_code == 202 and again.text == first.text
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count_jobs(stack, teacher) == 1
    # Also once the job has run: still the first answer, still one job.
    job_id = first.json()["job_id"]
    wait_for("the job to succeed", lambda: stack.job_row(job_id)["state"] == "succeeded", 90)
    assert post(stack, pdf, "key-1", teacher).text == first.text
    assert count_jobs(stack, teacher) == 1

    # The same key with another body (another PDF, or another title) is 422.
    p = problem(post(stack, other_pdf, "key-1", teacher), 422, "unprocessable-content")
    assert "Idempotency-Key" in p["detail"]
    problem(post(stack, pdf, "key-1", teacher, title="Other"), 422, "unprocessable-content")
    # Without a key, or with another key, the same PDF is a new job; keys are per user.
    assert post(stack, pdf, None, teacher).json()["job_id"] != first.json()["job_id"]
    assert post(stack, pdf, "key-2", teacher).json()["job_id"] != first.json()["job_id"]
    someone = stack.create_token("teacher")
    assert post(stack, pdf, "key-1", someone).json()["job_id"] != first.json()["job_id"]
    assert count_jobs(stack, teacher) == 3
    # Keys are 1-255 visible ASCII characters.
    for bad in ("has space", "k" * 256, "caf\u00e9"):
        problem(post(stack, pdf, bad, teacher), 400, "bad-request")

    # A claim left without an answer (its frontend stopped before the broker answered) is
    # 409 for a while, then abandoned: the next upload with the key makes the job.
    tid = user_id(stack, teacher)
    with stack.db().cursor() as cur:
        cur.execute("INSERT INTO idempotency_keys (owner_id, key, fingerprint) "
                    "VALUES (%s, 'stuck', 'x')", (tid,))
    problem(post(stack, pdf, "stuck", teacher), 422, "unprocessable-content")
    with stack.db().cursor() as cur:
        cur.execute("UPDATE idempotency_keys SET fingerprint = "
                    "(SELECT fingerprint FROM idempotency_keys WHERE key = 'key-1' "
                    " AND owner_id = %s) WHERE key = 'stuck'", (tid,))
    r = post(stack, pdf, "stuck", teacher)
    assert r.status_code == 409 and "Retry-After" in r.headers
    with stack.db().cursor() as cur:
        cur.execute("UPDATE idempotency_keys SET created_at = now() - interval '3 minutes' "
                    "WHERE key = 'stuck'")
    assert post(stack, pdf, "stuck", teacher).status_code == 202
    with stack.db().cursor() as cur:
        cur.execute("DELETE FROM idempotency_keys WHERE key = 'stuck'")

    # After 24 hours the key is forgotten: a new job, and the sweep deletes old keys.
    with stack.db().cursor() as cur:
        cur.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' "
                    "WHERE key = 'key-1' AND owner_id = %s", (user_id(stack, teacher),))
    renewed = post(stack, pdf, "key-1", teacher)
    assert renewed.status_code == 202 and renewed.json()["job_id"] != first.json()["job_id"]
    with stack.db().cursor() as cur:
        cur.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' "
                    "WHERE key = 'key-2'")
        cur.execute("SELECT idempotency_sweep()")
        assert cur.fetchone()[0] == 1
        cur.execute("SELECT key FROM idempotency_keys WHERE owner_id = %s ORDER BY key",
                    (user_id(stack, teacher),))
        assert [row[0] for row in cur.fetchall()] == ["key-1"]


def test_idempotency_keys_are_swept_by_the_frontend(make_stack, outdir):
    s = make_stack()
    s.start_broker()
    s.add_worker()
    s.add_frontend(conf={"blobs": {"sweep_interval": 200}})
    s.wait_healthy()
    pdf = pdf_bytes(outdir / "sweep.pdf", 2)
    teacher = s.create_token("teacher")
    assert post(s, pdf, "old", teacher).status_code == 202
    assert post(s, pdf, "new", teacher).status_code == 202
    with s.db().cursor() as cur:
        cur.execute("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' "
                    "WHERE key = 'old'")

    def keys():
        with s.db().cursor() as cur:
            cur.execute("SELECT key FROM idempotency_keys ORDER BY key")
            return [row[0] for row in cur.fetchall()]
    wait_for("the old key to be swept", lambda: keys() == ["new"], 20)


# ---- Server-Sent Events --------------------------------------------------------------------

def read_events(response, limit: int = 1000) -> list[tuple[str, str | None, str]]:
    """The events of a text/event-stream answer until it ends: (event, id, data)."""
    events, fields = [], {}
    for raw in response.iter_lines(decode_unicode=True):
        if raw is None:
            continue
        if raw == "":
            if "event" in fields:
                events.append((fields["event"], fields.get("id"), fields.get("data", "")))
            fields = {}
            if len(events) >= limit:
                break
            continue
        if raw.startswith(":"):
            continue
        name, _, value = raw.partition(": ")
        fields[name] = value
    return events


def test_job_progress_as_server_sent_events(make_stack, outdir):
    s = make_stack()
    s.start_broker()
    s.add_worker(page_delay_ms=150)
    front = s.add_frontend(conf={"http": {"threads": 8, "event_streams": 1}})
    s.wait_healthy()
    job_id = s.submit(make_long_pdf(outdir / "long.pdf", pages=30).path, "Streamed")
    url = front.url + f"{API}/jobs/{job_id}/events"
    headers = {**s.auth("teacher"), "Accept": "text/event-stream", "X-Request-Id": "sse-1"}
    with s.http.get(url, headers=headers, stream=True, timeout=120) as r:
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "text/event-stream"
        assert r.headers["X-Request-Id"] == "sse-1"
        # A second stream while the first runs: over http/event_streams = 1.
        second = s.http.get(url, headers=headers, timeout=30)
        problem(second, 503, "unavailable")
        assert "Retry-After" in second.headers
        events = read_events(r)

    assert events[-1][0] == "end"
    jobs = [json.loads(data) for name, _, data in events if name == "job"]
    assert all(j["job_id"] == job_id for j in jobs)
    assert jobs[0]["state"] in ("queued", "running") and jobs[-1]["state"] == "succeeded"
    progress = [j["progress"] for j in jobs]
    assert progress == sorted(progress) and progress[-1] == 100
    assert len({p for p in progress if 0 < p < 100}) >= 2, "no progress was streamed"
    ids = [int(i) for name, i, _ in events if name == "job"]
    assert ids == sorted(ids)
    assert "running" in [j["state"] for j in jobs]

    # A stream of an ended job sends it once and ends; others' jobs are not found.
    with s.http.get(url, headers=headers, stream=True, timeout=30) as r:
        events = read_events(r)
    assert [e[0] for e in events] == ["job", "end"]
    other = {**headers, **s.auth(s.create_token("teacher"))}
    problem(s.http.get(url, headers=other, timeout=30), 404, "not-found")
    problem(s.http.get(url, headers={**headers, **s.auth("student")}, timeout=30), 403,
            "forbidden")
    log = front.log_text()
    assert re.search(rf"job={job_id} event stream closed after \d+s: the job has ended "
                     r"request_id=sse-1", log), log[-2000:]
