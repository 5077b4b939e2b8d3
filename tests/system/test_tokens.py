"""Bearer tokens and roles (docs/api.md section 2, issue 9): each role and token rule with its
expected status, expiry, revocation of one token or of all of a user's, revocation heard by a
second frontend within a second (PostgreSQL LISTEN/NOTIFY), no cached token trusted for long
while PostgreSQL is down, duplicate Authorization headers; the quiz answer policy (docs/api.md
4.10) and students' views without owner_id. No token value appears in any log these tests
make.
"""

from __future__ import annotations

import json
import re
import socket
import time
import uuid
from pathlib import Path

import pytest

from pdfs import make_plain_pdf
from stack import API, Stack, parse_token, wait_for
from test_courses_api import QUIZ_DOC, attempt, get, problem, store_course

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TOKEN_RE = re.compile(r"pai_[A-Za-z0-9_-]{43}")


def bearer(token: str | None) -> dict:
    return {"Authorization": f"Bearer {token}"} if token else {}


def status(stack: Stack, path: str, token: str | None, frontend=None) -> int:
    return stack.http.get((frontend or stack.frontends[0]).url + path, headers=bearer(token),
                          timeout=10).status_code


def token_ids(stack: Stack, name: str) -> list[str]:
    """The ids `profaictl token list` shows for user `name`, oldest first."""
    out = stack.profaictl("token", "list")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "ROLE", "CREATED", "EXPIRES", "REVOKED", "LABEL"]
    return [line.split()[0] for line in lines[1:] if line.split()[1] == name]


def create_token(stack: Stack, role: str, name: str, *options: str) -> str:
    """profaictl token create with more options (--expires ...)."""
    out = stack.profaictl("token", "create", "--role", role, *options, name)
    assert out.returncode == 0, out.stderr
    return parse_token(out.stdout)


def raw_request(frontend, head: str) -> tuple[int, str]:
    """Send a request head as written (for headers a client library would merge); the status
    and the body."""
    with socket.create_connection(("127.0.0.1", frontend.port), timeout=10) as sock:
        sock.sendall(head.encode())
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head_text, _, body = data.decode(errors="replace").partition("\r\n\r\n")
    return int(head_text.split()[1]), body


def assert_no_token_in_logs(stack: Stack, tokens: list[str]) -> None:
    """Rule 7: no bearer token in any log file of the test (components, profaictl)."""
    logs = list(stack.outdir.rglob("*.log"))
    assert logs
    for path in logs:
        text = path.read_text(errors="replace")
        for token in tokens:
            assert token not in text, f"a token appears in {path.name}"
            assert token[4:] not in text, f"a token's secret part appears in {path.name}"


@pytest.fixture
def two(make_stack) -> Stack:
    """Broker and two frontends on one database (no workers: jobs stay queued)."""
    s = make_stack()
    s.start_broker()
    s.add_frontend()
    s.add_frontend()
    s.wait_healthy(workers=0)
    return s


def test_each_role_and_token_rule_has_its_status(two):
    s = two
    fe1, fe2 = s.frontends
    teacher_a = s.create_token("teacher", "teacher-a")
    teacher_b = s.create_token("teacher", "teacher-b")
    student = s.create_token("student", "student-1")
    admin = s.create_token("admin", "admin-1")
    pdf = Path(make_plain_pdf(s.outdir / "t.pdf", pages=2).path)

    # Missing and malformed tokens: 401 with the challenge.
    r = s.http.get(fe1.url + f"{API}/jobs", timeout=10)
    problem(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="profai"'
    r = s.http.get(fe1.url + f"{API}/jobs", headers=bearer("pai_short"), timeout=10)
    problem(r, 401, "unauthorized")
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    unknown = "pai_" + "A" * 43
    problem(s.http.get(fe1.url + f"{API}/jobs", headers=bearer(unknown), timeout=10), 401,
            "unauthorized")

    # Two Authorization headers: 400, whichever comes first, valid or not.
    for first, second in ((teacher_a, unknown), (unknown, teacher_a), (teacher_a, teacher_a)):
        code, body = raw_request(fe1, f"GET {API}/jobs HTTP/1.1\r\nHost: x\r\n"
                                      f"Authorization: Bearer {first}\r\n"
                                      f"Authorization: Bearer {second}\r\n"
                                      "Connection: close\r\n\r\n")
        assert code == 400, body
        assert json.loads(body)["type"] == "urn:profai:problem:bad-request"

    # A student may not submit (403); a teacher may.
    r = s.post_job(pdf, "Student upload", token=student)
    problem(r, 403, "forbidden")
    job = s.submit(pdf, "Teacher A's course", token=teacher_a)

    # Another teacher reading or cancelling it gets 404 (ids cannot be probed); its owner and
    # an admin read it; a student may not list jobs.
    problem(s.get(f"{API}/jobs/{job}", token=teacher_b), 404, "not-found")
    problem(s.http.delete(fe1.url + f"{API}/jobs/{job}", headers=bearer(teacher_b), timeout=10),
            404, "not-found")
    assert s.get(f"{API}/jobs/{job}", token=teacher_a).status_code == 200
    assert s.get(f"{API}/jobs/{job}", token=admin).status_code == 200
    assert s.get(f"{API}/jobs/{job}", token=teacher_a, frontend=fe2).status_code == 200
    problem(s.get(f"{API}/jobs", token=student), 403, "forbidden")

    assert_no_token_in_logs(s, [teacher_a, teacher_b, student, admin])


def test_revocation_reaches_a_second_frontend_within_a_second(two):
    s = two
    fe1, fe2 = s.frontends
    kept = s.create_token("teacher", "revokee")
    doomed = s.create_token("teacher", "revokee")
    ids = token_ids(s, "revokee")
    assert len(ids) == 2 and all(UUID_RE.match(i) for i in ids)
    # Both tokens are in both frontends' caches.
    for fe in (fe1, fe2):
        for token in (kept, doomed):
            assert status(s, f"{API}/jobs", token, fe) == 200

    # Revoke ONE token by its id (the newer one): the second frontend refuses it within 1 s;
    # the user's other token still works.
    out = s.profaictl("token", "revoke", "--id", ids[1])
    revoked_at = time.monotonic()
    assert out.returncode == 0, out.stderr
    assert "revoked token" in out.stdout
    while status(s, f"{API}/jobs", doomed, fe2) == 200:
        assert time.monotonic() - revoked_at < 1.0, "the second frontend still accepts it"
        time.sleep(0.02)
    assert time.monotonic() - revoked_at < 1.0
    problem(s.get(f"{API}/jobs", token=doomed, frontend=fe1), 401, "unauthorized")
    assert status(s, f"{API}/jobs", kept, fe2) == 200
    assert status(s, f"{API}/jobs", kept, fe1) == 200
    listed = s.profaictl("token", "list").stdout
    # The REVOKED column (the LABEL column, "-" here, follows it).
    assert re.search(rf"^{ids[1]}\s.*Z\s+-\s*$", listed, re.M), listed  # a revocation time
    assert re.search(rf"^{ids[0]}\s.*\s-\s+-\s*$", listed, re.M), listed

    # A revocation made by any statement (here plain SQL) is heard the same way.
    third = s.create_token("teacher", "revokee")
    assert status(s, f"{API}/jobs", third, fe2) == 200
    with s.db().cursor() as cur:
        cur.execute("UPDATE tokens SET revoked_at = now() WHERE id = %s",
                    (token_ids(s, "revokee")[2],))
    t0 = time.monotonic()
    while status(s, f"{API}/jobs", third, fe2) == 200:
        assert time.monotonic() - t0 < 1.0
        time.sleep(0.02)

    # token revoke NAME revokes every token of the user, and says so.
    out = s.profaictl("token", "revoke", "revokee")
    t0 = time.monotonic()
    assert out.returncode == 0 and "(all of them)" in out.stdout, out.stdout
    while status(s, f"{API}/jobs", kept, fe2) == 200 or status(s, f"{API}/jobs", kept, fe1) == 200:
        assert time.monotonic() - t0 < 1.0
        time.sleep(0.02)

    # Usage errors: neither or both forms; an unknown id.
    assert s.profaictl("token", "revoke").returncode == 2
    assert s.profaictl("token", "revoke", "--id", ids[0], "revokee").returncode == 2
    assert s.profaictl("token", "revoke", "--id", "nope").returncode == 2
    assert s.profaictl("token", "revoke", "--id", str(uuid.uuid4())).returncode == 1
    assert_no_token_in_logs(s, [kept, doomed, third])


def test_expired_tokens_are_refused(two):
    s = two
    fe1, fe2 = s.frontends
    short = create_token(s, "student", "short-lived", "--expires", "3s")
    assert status(s, f"{API}/courses", short, fe1) == 200  # cached from now on
    # The default lifetime is 90 days; "never" has none.
    default = s.create_token("student", "default-lived")
    forever = create_token(s, "student", "forever", "--expires", "never")
    rows = [re.split(r"\s{2,}", line.strip())
            for line in s.profaictl("token", "list").stdout.splitlines()[1:]]
    listed = {row[1]: row for row in rows}
    assert listed["forever"][4] == "never"
    assert listed["default-lived"][4] != "never"
    days = s.query("SELECT extract(epoch FROM t.expires_at - t.created_at) / 86400 FROM tokens t "
                   "JOIN users u ON u.id = t.user_id WHERE u.name = 'default-lived'")[0][0]
    assert 89.9 < float(days) < 90.1
    wait_for("the token to expire", lambda: status(s, f"{API}/courses", short, fe1) != 200, 10)
    for fe in (fe1, fe2):  # fe1 had it cached, fe2 asks PostgreSQL
        r = s.http.get(fe.url + f"{API}/courses", headers=bearer(short), timeout=10)
        body = problem(r, 401, "unauthorized")
        assert "expired" in body["detail"]
        assert 'error_description="the token has expired"' in r.headers["WWW-Authenticate"]
    assert status(s, f"{API}/courses", default, fe2) == 200
    assert status(s, f"{API}/courses", forever, fe2) == 200
    # An absolute expiry in the past is refused; bad durations are usage errors.
    out = s.profaictl("token", "create", "--role", "student", "--expires-at",
                      "2001-01-01T00:00:00Z", "late")
    assert out.returncode == 1 and TOKEN_RE.search(out.stdout) is None
    for bad in ("0d", "5", "3w", "-1h", "1.5h"):
        assert s.profaictl("token", "create", "--role", "student", "--expires", bad,
                           "x").returncode == 2, bad
    assert_no_token_in_logs(s, [short, default, forever])


def test_no_cached_token_is_trusted_long_while_the_database_is_down(make_stack):
    """auth/max_stale: once the frontend cannot hear revocations (PostgreSQL stopped), a cached
    token is accepted for at most max_stale ms; then 503, never 200."""
    s = make_stack()
    s.start_broker()
    fe = s.add_frontend(conf={"auth": {"max_stale": 1000}})
    s.wait_healthy(workers=0)
    token = s.token("student")
    assert status(s, f"{API}/courses", token, fe) == 200
    s.cluster.stop()
    stopped = time.monotonic()
    try:
        # Allow the bound plus the listener's ping interval and one slow request.
        time.sleep(1.0 + 0.5 + 0.5)
        for _ in range(5):
            r = s.http.get(fe.url + API + "/courses/" + str(uuid.uuid4()), headers=bearer(token),
                           timeout=20)
            assert r.status_code == 503, (r.status_code, time.monotonic() - stopped)
    finally:
        s.cluster.start()
    wait_for("the token once PostgreSQL is back",
             lambda: status(s, f"{API}/courses", token, fe) == 200, 30)
    assert_no_token_in_logs(s, [token])


# ---- the quiz answer policy and students' views -------------------------------------------------

def test_quiz_answers_are_revealed_only_with_the_final_attempt(stack):
    course_id, _ = store_course(stack, "teacher", QUIZ_DOC)
    base = f"{API}/courses/{course_id}"
    student = stack.create_token("student", "quiz-taker")

    # Attempts 1 and 2 (the empty one included) show whether each answer was right, never
    # the right answer; nor does the list of attempts.
    empty = attempt(stack, course_id, {"answers": {}}, token=student)
    assert empty.status_code == 201, empty.text
    first = empty.json()
    assert first["number"] == 1
    assert first["results"] == [
        {"question": q["id"], "lesson": q["lesson"], "chosen": None, "correct": False}
        for q in QUIZ_DOC["quiz"]]
    second = attempt(stack, course_id, {"answers": {"q1": 0, "q2": 0}}, token=student).json()
    assert second["number"] == 2
    assert [r["correct"] for r in second["results"]] == [True, False, False]
    assert all("answer" not in r for r in second["results"])
    listed = get(stack, f"{base}/quiz/attempts", token=student).json()["attempts"]
    assert [a["number"] for a in listed] == [2, 1]
    assert all("answer" not in r for a in listed for r in a["results"])
    assert "quiz" not in get(stack, base, token=student).json()

    # The third (final, quiz/max_attempts = 3) reveals the answers, in its reply and from then
    # on in the list.
    final = attempt(stack, course_id, {"answers": {"q1": 1}}, token=student).json()
    assert final["number"] == 3
    assert [r["answer"] for r in final["results"]] == [q["answer"] for q in QUIZ_DOC["quiz"]]
    listed = get(stack, f"{base}/quiz/attempts", token=student).json()["attempts"]
    assert [[r["answer"] for r in a["results"]] for a in listed] == [[0, 2, 1]] * 3

    # Beyond the limit: 409 with a clear problem, nothing stored.
    r = attempt(stack, course_id, {"answers": {"q1": 0}}, token=student)
    body = problem(r, 409, "conflict")
    assert "all 3 attempts" in body["detail"]
    assert stack.query("SELECT count(*) FROM quiz_attempts q JOIN users u ON u.id = q.user_id "
                       "WHERE u.name = 'quiz-taker'")[0][0] == 3

    # Teachers (who read the answer key anyway) see the answers at once, with no limit.
    for _ in range(4):
        r = attempt(stack, course_id, {"answers": {}}, token="teacher")
        assert r.status_code == 201 and [x["answer"] for x in r.json()["results"]] == [0, 2, 1]


def test_quiz_attempts_sent_at_once_cannot_pass_the_limit(stack):
    """Eight attempts at once by one student: exactly three are stored."""
    import concurrent.futures
    course_id, _ = store_course(stack, "teacher", QUIZ_DOC)
    student = stack.create_token("student", "racer")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: attempt(stack, course_id, {"answers": {}},
                                                token=student).status_code, range(8)))
    assert codes.count(201) <= 3 and set(codes) <= {201, 409}, codes
    assert stack.query("SELECT count(*), count(DISTINCT number) FROM quiz_attempts q "
                       "JOIN users u ON u.id = q.user_id WHERE u.name = 'racer'")[0] == \
        (codes.count(201), codes.count(201))


def test_quiz_attempt_limit_is_per_scope(stack):
    """Issue 11: quiz/max_attempts (3) counts per scope: each lesson's quiz and the whole
    course's have their own attempts, numbers and answer reveal."""
    course_id, _ = store_course(stack, "teacher", QUIZ_DOC)
    base = f"{API}/courses/{course_id}"
    student = stack.create_token("student", "scoped-taker")

    # Three attempts at lesson l1 (q1, q3): the third reveals l1's answers only.
    for n in (1, 2, 3):
        r = attempt(stack, course_id, {"lesson": "l1", "answers": {"q1": 1}}, token=student)
        assert r.status_code == 201, r.text
        a = r.json()
        assert (a["lesson"], a["number"], a["total"]) == ("l1", n, 2)
        assert [x["question"] for x in a["results"]] == ["q1", "q3"]
        assert [("answer" in x) for x in a["results"]] == [n == 3] * 2
    body = problem(attempt(stack, course_id, {"lesson": "l1", "answers": {}}, token=student),
                   409, "conflict")
    assert "all 3 attempts" in body["detail"] and "l1" in body["detail"]

    # The whole course's quiz and lesson l2 still have all their attempts, with no answers
    # shown before their own final attempt.
    for n in (1, 2):
        whole = attempt(stack, course_id, {"answers": {"q2": 0}}, token=student)
        assert whole.status_code == 201, whole.text
        assert (whole.json()["lesson"], whole.json()["number"]) == (None, n)
        assert all("answer" not in x for x in whole.json()["results"])
    l2 = attempt(stack, course_id, {"lesson": "l2", "answers": {"q2": 2}}, token=student)
    assert l2.status_code == 201 and (l2.json()["number"], l2.json()["score"]) == (1, 1)
    assert all("answer" not in x for x in l2.json()["results"])

    # The list reveals per scope: l1's attempts show answers, the others do not.
    listed = get(stack, f"{base}/quiz/attempts", token=student).json()["attempts"]
    assert len(listed) == 6
    for a in listed:
        assert all(("answer" in x) == (a["lesson"] == "l1") for x in a["results"]), a

    # The course's third attempt is still allowed and reveals; a fourth is refused.
    final = attempt(stack, course_id, {"answers": {}}, token=student).json()
    assert final["number"] == 3 and [x["answer"] for x in final["results"]] == [0, 2, 1]
    problem(attempt(stack, course_id, {"answers": {}}, token=student), 409, "conflict")
    assert stack.query("SELECT count(*) FROM quiz_attempts q JOIN users u ON u.id = q.user_id "
                       "WHERE u.name = 'scoped-taker'")[0][0] == 7


def test_students_views_carry_no_owner_id(stack):
    mine, _ = store_course(stack, "teacher", QUIZ_DOC)
    other_teacher = stack.create_token("teacher", "other-teacher")
    theirs, _ = store_course(stack, other_teacher, {**QUIZ_DOC, "title": "Stored quiz two"})
    owner = stack.query("SELECT owner_id::text FROM courses WHERE id = %s", mine)[0][0]
    assert owner

    def views(token):
        listed = get(stack, f"{API}/courses", token=token).json()["courses"]
        found = get(stack, f"{API}/courses?q=osmosis", token=token).json()["courses"]
        doc = get(stack, f"{API}/courses/{mine}", token=token).json()
        return listed, found, doc

    listed, found, doc = views("student")
    assert {c["id"] for c in listed} == {mine, theirs} and found
    assert all("owner_id" not in c for c in listed + found)
    assert "owner_id" not in json.dumps(doc)
    assert all(c["owner"] for c in listed)  # the name of who made it stays

    # A teacher sees its own courses only (issue 14: another teacher's course is published to
    # that teacher's classes, not to this one), with owner_id; an admin sees owner_id on
    # every course.
    listed, found, _ = views("teacher")
    by_id = {c["id"]: c for c in listed}
    assert by_id[mine]["owner_id"] == owner and theirs not in by_id
    listed, found, _ = views("admin")
    assert all(UUID_RE.match(c["owner_id"]) for c in listed + found)
