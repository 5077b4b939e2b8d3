"""Accounts and sign-in (docs/api.md 2.1 and 4.19-4.23, issue 14): passwords set by profaictl
or an invitation, sign-in with a session cookie (its flags), sign-out of one session and of
every one (heard by a second frontend at once), session expiry (absolute and idle), CSRF
(missing or wrong token, foreign Origin or Sec-Fetch-Site), failed sign-ins limited per name
and per address, a user's own tokens (list, create, revoke), and GET /api/v1/me.

Every request goes to real frontends on a real PostgreSQL; a "browser" is a requests.Session,
which keeps and sends the cookie as a browser would (SameSite aside, which is the browser's
part: the server's part is the CSRF check, tested here).
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import time

import pytest
import requests

from stack import API, BIN, Stack, parse_token, wait_for
from test_courses_api import problem

COOKIE = "profai_session"
PASSWORD = "correct horse battery"


def ctl(stack: Stack, *args: str, password: str | None = None) -> subprocess.CompletedProcess:
    """profaictl with the password on standard input (never on the command line)."""
    out = subprocess.run([str(BIN / "profaictl"), "-d", stack.conninfo, *args],
                         input=(password + "\n") if password is not None else "",
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    with open(stack.outdir / "profaictl.log", "a") as log:
        log.write(f"$ profaictl {' '.join(args)}\n{out.stdout}{out.stderr}(exit {out.returncode})\n")
    return out


def make_user(stack: Stack, name: str, role: str = "teacher", password: str = PASSWORD) -> None:
    out = ctl(stack, "user", "create", "--role", role, name, password=password)
    assert out.returncode == 0, out.stderr


def sign_in(frontend, name: str, password: str = PASSWORD, browser=None,
            headers: dict | None = None) -> tuple[requests.Session, requests.Response]:
    browser = browser or requests.Session()
    r = browser.post(frontend.url + f"{API}/session", json={"name": name, "password": password},
                     headers=headers or {}, timeout=30)
    return browser, r


def signed_in(frontend, name: str, password: str = PASSWORD) -> tuple[requests.Session, str]:
    """A browser signed in as name, and its CSRF token."""
    browser, r = sign_in(frontend, name, password)
    assert r.status_code == 200, r.text
    return browser, r.json()["csrf_token"]


def cookie_attributes(r: requests.Response) -> dict:
    """The Set-Cookie line of the session cookie as {attribute (lower case): value}."""
    line = r.headers["Set-Cookie"]
    parts = [p.strip() for p in line.split(";")]
    name, _, value = parts[0].partition("=")
    assert name == COOKIE
    attrs = {"value": value}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        attrs[k.lower()] = v
    return attrs


@pytest.fixture
def two(make_stack) -> Stack:
    """Broker and two frontends on one database (no workers)."""
    s = make_stack()
    s.start_broker()
    s.add_frontend()
    s.add_frontend()
    s.wait_healthy(workers=0)
    return s


def test_sign_in_sets_a_strict_http_only_cookie_and_me_says_who(two):
    s = two
    fe1, fe2 = s.frontends
    make_user(s, "alice", "teacher")

    browser, r = sign_in(fe1, "alice")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"]["name"] == "alice" and body["user"]["role"] == "teacher"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", body["csrf_token"])
    attrs = cookie_attributes(r)
    assert re.fullmatch(r"pas_[A-Za-z0-9_-]{43}", attrs["value"])
    assert "httponly" in attrs and attrs["samesite"] == "Strict" and attrs["path"] == "/"
    assert attrs["max-age"] == str(43200)  # session/absolute default, 12 h
    assert "secure" not in attrs  # plain HTTP, no proxy saying otherwise
    assert r.headers["Cache-Control"] == "no-store"

    # Only the SHA-256 of the session id is stored.
    digest = hashlib.sha256(attrs["value"].encode()).digest()
    rows = s.query("SELECT hash FROM sessions")
    assert [bytes(row[0]) for row in rows] == [digest]
    dump = str(s.query("SELECT * FROM sessions")) + str(s.query("SELECT * FROM users"))
    assert attrs["value"] not in dump and attrs["value"][4:] not in dump

    # The cookie alone authenticates reads, on either frontend; /me tells who and the token.
    for fe in (fe1, fe2):
        me = browser.get(fe.url + f"{API}/me", timeout=10)
        assert me.status_code == 200, me.text
        assert me.json()["name"] == "alice" and me.json()["role"] == "teacher"
        assert me.json()["auth"] == "session" and me.json()["csrf_token"] == body["csrf_token"]
        assert me.json()["id"] == body["user"]["id"]
    assert browser.get(fe1.url + f"{API}/jobs", timeout=10).status_code == 200

    # Behind a TLS proxy (a trusted peer saying https) the cookie is Secure.
    _, r = sign_in(fe1, "alice", headers={"X-Forwarded-Proto": "https"})
    assert r.status_code == 200 and "secure" in cookie_attributes(r)

    # Wrong password, unknown name, user without password: the same 401, no cookie.
    s.create_token("student", "tokens-only")
    for name, password in (("alice", "wrong password!"), ("nobody", PASSWORD),
                           ("tokens-only", PASSWORD), ("alice", "")):
        _, r = sign_in(fe1, name, password)
        body = problem(r, 401, "unauthorized")
        assert "Set-Cookie" not in r.headers
        assert body["detail"] == "wrong name or password" or name == "alice" and password == ""

    # A bearer token's /me has no CSRF token.
    token = s.create_token("student", "bob")
    me = s.http.get(fe1.url + f"{API}/me", headers={"Authorization": f"Bearer {token}"},
                    timeout=10).json()
    assert me["name"] == "bob" and me["role"] == "student" and me["auth"] == "token"
    assert "csrf_token" not in me


def test_sign_out_and_sign_out_everywhere_reach_every_frontend(two):
    s = two
    fe1, fe2 = s.frontends
    make_user(s, "carol", "student")
    laptop, laptop_csrf = signed_in(fe1, "carol")
    phone, phone_csrf = signed_in(fe2, "carol")
    token = s.create_token("student", "carol")

    # Sign out the laptop: 204, the cookie is cleared, and both frontends refuse it at once.
    cookie = laptop.cookies[COOKIE]
    r = laptop.delete(fe1.url + f"{API}/session", headers={"X-CSRF-Token": laptop_csrf},
                      timeout=10)
    assert r.status_code == 204, r.text
    assert cookie_attributes(r)["max-age"] == "0"
    for fe in (fe1, fe2):
        r = requests.get(fe.url + f"{API}/me", cookies={COOKIE: cookie}, timeout=10)
        body = problem(r, 401, "unauthorized")
        assert body["detail"] == "the session has ended: sign in again"
        assert cookie_attributes(r)["max-age"] == "0"  # the stale cookie is cleared
    # The phone's session is another one: still signed in.
    assert phone.get(fe1.url + f"{API}/me", timeout=10).status_code == 200

    # Sign out everywhere from the phone: every session of the user ends, tokens stay.
    laptop, _ = signed_in(fe1, "carol")
    cookies = [laptop.cookies[COOKIE], phone.cookies[COOKIE]]
    r = phone.delete(fe2.url + f"{API}/sessions", headers={"X-CSRF-Token": phone_csrf},
                     timeout=10)
    assert r.status_code == 204, r.text
    assert cookie_attributes(r)["max-age"] == "0"
    for value in cookies:
        for fe in (fe1, fe2):
            r = requests.get(fe.url + f"{API}/me", cookies={COOKIE: value}, timeout=10)
            assert problem(r, 401, "unauthorized")["detail"] == "the session has ended: sign in again"
    assert s.query("SELECT count(*) FROM sessions WHERE revoked_at IS NULL")[0][0] == 0
    r = s.http.get(fe1.url + f"{API}/me", headers={"Authorization": f"Bearer {token}"},
                   timeout=10)
    assert r.status_code == 200

    # DELETE /session with a bearer token is a 400 (a token is revoked with /me/tokens).
    r = s.http.delete(fe1.url + f"{API}/session", headers={"Authorization": f"Bearer {token}"},
                      timeout=10)
    problem(r, 400, "bad-request")


def test_sessions_expire_absolutely_and_when_idle(two):
    s = two
    fe1, _ = two.frontends
    make_user(s, "dave", "teacher")

    browser, _ = signed_in(fe1, "dave")
    assert browser.get(fe1.url + f"{API}/me", timeout=10).status_code == 200
    # The absolute end passes (as if 12 h went by): refused.
    s.query("UPDATE sessions SET expires_at = now() - interval '1 second' RETURNING 1")
    problem(browser.get(fe1.url + f"{API}/me", timeout=10), 401, "unauthorized")

    # Idle: a request moves the idle clock; an hour without one ends the session.
    browser, _ = signed_in(fe1, "dave")
    s.query("UPDATE sessions SET last_seen_at = now() - interval '50 minutes' "
            "WHERE revoked_at IS NULL AND expires_at > now() RETURNING 1")
    assert browser.get(fe1.url + f"{API}/me", timeout=10).status_code == 200
    seen = s.query("SELECT now() - last_seen_at < interval '1 minute' FROM sessions "
                   "WHERE expires_at > now()")
    assert seen == [(True,)]
    s.query("UPDATE sessions SET last_seen_at = now() - interval '61 minutes' "
            "WHERE expires_at > now() RETURNING 1")
    problem(browser.get(fe1.url + f"{API}/me", timeout=10), 401, "unauthorized")


def test_csrf_a_cookie_alone_or_from_another_origin_changes_nothing(two):
    s = two
    fe1, fe2 = s.frontends
    make_user(s, "erin", "teacher")
    browser, csrf = signed_in(fe1, "erin")
    url = fe1.url + f"{API}/me/tokens"
    body = {"label": "from the page"}

    def tokens() -> int:
        return s.query("SELECT count(*) FROM tokens t JOIN users u ON u.id = t.user_id "
                       "WHERE u.name = 'erin'")[0][0]

    # Missing or wrong X-CSRF-Token: 403, nothing made.
    problem(browser.post(url, json=body, timeout=10), 403, "forbidden")
    problem(browser.post(url, json=body, headers={"X-CSRF-Token": "x" * 43}, timeout=10), 403,
            "forbidden")
    other_browser, other_csrf = signed_in(fe1, "erin")  # another session's token
    problem(browser.post(url, json=body, headers={"X-CSRF-Token": other_csrf}, timeout=10), 403,
            "forbidden")
    # The right token but a foreign Origin, or a cross-site fetch: 403.
    for headers in ({"Origin": "https://evil.example"},
                    {"Origin": "null"},
                    {"Origin": fe2.url},  # another port is another origin
                    {"Sec-Fetch-Site": "cross-site"},
                    {"Sec-Fetch-Site": "same-site"}):
        r = browser.post(url, json=body, headers={"X-CSRF-Token": csrf, **headers}, timeout=10)
        problem(r, 403, "forbidden")
    # Sign-out without the token is refused too: the session lives on.
    problem(browser.delete(fe1.url + f"{API}/session", timeout=10), 403, "forbidden")
    problem(browser.delete(fe1.url + f"{API}/sessions", timeout=10), 403, "forbidden")
    assert browser.get(fe1.url + f"{API}/me", timeout=10).status_code == 200
    assert tokens() == 0

    # Reads need no token, whatever the origin (they change nothing).
    r = browser.get(fe1.url + f"{API}/me", headers={"Origin": "https://evil.example"}, timeout=10)
    assert r.status_code == 200

    # The page's own request: the token, its own origin, same-origin fetch.
    r = browser.post(url, json=body, headers={"X-CSRF-Token": csrf, "Origin": fe1.url,
                                              "Sec-Fetch-Site": "same-origin"}, timeout=10)
    assert r.status_code == 201, r.text
    assert tokens() == 1

    # A bearer request needs no CSRF token (a browser never adds one by itself), even with a
    # cookie beside it and a foreign Origin: the Authorization header wins.
    token = r.json()["token"]
    r = browser.post(url, json={"label": "script"}, timeout=10,
                     headers={"Authorization": f"Bearer {token}",
                              "Origin": "https://evil.example"})
    assert r.status_code == 201, r.text

    # No sign-in from another site (login CSRF).
    _, r = sign_in(fe1, "erin", headers={"Origin": "https://evil.example"})
    problem(r, 403, "forbidden")
    _, r = sign_in(fe1, "erin", headers={"Sec-Fetch-Site": "cross-site"})
    problem(r, 403, "forbidden")
    _, r = sign_in(fe1, "erin", headers={"Origin": fe1.url, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200


def test_failed_sign_ins_are_limited_per_name_and_per_address(make_stack):
    s = make_stack()
    s.start_broker()
    fe = s.add_frontend(conf={"limits": {"upload_rate": 100000, "upload_burst": 100000,
                                         "read_rate": 1000000, "read_burst": 100000,
                                         "auth_fail_rate": 1000000, "auth_fail_burst": 100000,
                                         "signin_fail_rate": 1, "signin_fail_burst": 3}})
    s.wait_healthy(workers=0)
    make_user(s, "frank", "teacher")
    make_user(s, "gina", "teacher")

    def attempt(name: str, password: str, addr: str) -> requests.Response:
        # The frontend trusts loopback proxies: X-Forwarded-For names the client address.
        _, r = sign_in(fe, name, password, headers={"X-Forwarded-For": addr})
        return r

    # Per name: three failures from three addresses spend frank's budget; then even the right
    # password from a fresh address is 429 before it is checked.
    for i in range(3):
        problem(attempt("frank", "not his password", f"10.0.0.{i + 1}"), 401, "unauthorized")
    r = attempt("frank", PASSWORD, "10.0.0.9")
    problem(r, 429, "too-many-requests")
    assert int(r.headers["Retry-After"]) >= 1
    # gina is not affected.
    assert attempt("gina", PASSWORD, "10.0.0.9").status_code == 200

    # Per address: failures for three names from one address; then gina from it is 429, and
    # from another address she signs in.
    for name in ("x1", "x2", "x3"):
        problem(attempt(name, "whatever pw", "10.0.1.1"), 401, "unauthorized")
    problem(attempt("gina", PASSWORD, "10.0.1.1"), 429, "too-many-requests")
    assert attempt("gina", PASSWORD, "10.0.1.2").status_code == 200
    # Successful sign-ins spend nothing.
    for _ in range(5):
        assert attempt("gina", PASSWORD, "10.0.1.3").status_code == 200


def test_invitations_create_users_once(two):
    s = two
    fe1, fe2 = s.frontends
    teacher = s.create_token("teacher", "hank")
    student = s.create_token("student", "ivy")
    admin = s.create_token("admin", "root")

    def invite(token: str, role: str, **more) -> requests.Response:
        return s.http.post(fe1.url + f"{API}/invitations", json={"role": role, **more},
                           headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def accept(inv: str, name: str, password: str = PASSWORD, fe=None) -> requests.Response:
        return requests.post((fe or fe1).url + f"{API}/invitations/{inv}/accept",
                             json={"name": name, "password": password}, timeout=30)

    # Teachers invite students only; students nobody; admins anyone.
    problem(invite(teacher, "teacher"), 403, "forbidden")
    problem(invite(student, "student"), 403, "forbidden")
    r = invite(teacher, "student", expires_in_hours=24)
    assert r.status_code == 201, r.text
    inv = r.json()
    assert re.fullmatch(r"inv_[A-Za-z0-9_-]{43}", inv["token"])
    assert inv["role"] == "student" and inv["url"] == f"/#invite={inv['token']}"
    stored = s.query("SELECT hash FROM invitations WHERE id = %s", inv["id"])
    assert bytes(stored[0][0]) == hashlib.sha256(inv["token"].encode()).digest()
    problem(invite(teacher, "student", expires_in_hours=0), 400, "bad-request")
    problem(invite(teacher, "student", color="red"), 400, "bad-request")

    # A taken name: 409, and the invitation stays usable. A bad name or password: 400.
    problem(accept(inv["token"], "hank"), 409, "conflict")
    problem(accept(inv["token"], "no spaces allowed"), 400, "bad-request")
    problem(accept(inv["token"], "jack", "short"), 400, "bad-request")
    # Accepted once (on the other frontend): a student who signs in with that password.
    r = accept(inv["token"], "jack", fe=fe2)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "jack" and r.json()["role"] == "student"
    browser, _ = signed_in(fe1, "jack")
    assert browser.get(fe1.url + f"{API}/me", timeout=10).json()["role"] == "student"
    # Never twice.
    problem(accept(inv["token"], "jack2"), 404, "not-found")
    # Unknown or malformed tokens: 404.
    problem(accept("inv_" + "A" * 43, "kate"), 404, "not-found")
    problem(accept("inv_short", "kate"), 404, "not-found")
    # Expired: 404.
    r = invite(admin, "teacher")
    assert r.status_code == 201
    late = r.json()
    s.query("UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = %s "
            "RETURNING 1", late["id"])
    problem(accept(late["token"], "lena"), 404, "not-found")
    assert s.query("SELECT count(*) FROM users WHERE name = 'lena'")[0][0] == 0


def test_own_tokens_have_labels_and_expiry_and_can_be_revoked(two):
    s = two
    fe1, fe2 = s.frontends
    out = ctl(s, "token", "create", "--role", "teacher", "--label", "backup script",
              "--expires", "30d", "mona")
    assert out.returncode == 0, out.stderr
    script = parse_token(out.stdout)
    other = s.create_token("teacher", "ned")
    auth = {"Authorization": f"Bearer {script}"}

    # Create one through the API (as a script or the page would).
    r = s.http.post(fe1.url + f"{API}/me/tokens", json={"label": "grader", "expires_in_days": 7},
                    headers=auth, timeout=10)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["label"] == "grader" and re.fullmatch(r"pai_[A-Za-z0-9_-]{43}", made["token"])
    problem(s.http.post(fe1.url + f"{API}/me/tokens", json={"label": ""}, headers=auth,
                        timeout=10), 400, "bad-request")
    problem(s.http.post(fe1.url + f"{API}/me/tokens", json={"label": "x",
                                                           "expires_in_days": 400},
                        headers=auth, timeout=10), 400, "bad-request")

    # The list: both, newest first, with labels and expiry, never the token.
    r = s.http.get(fe1.url + f"{API}/me/tokens", headers=auth, timeout=10)
    assert r.status_code == 200
    listed = r.json()["tokens"]
    assert [t["label"] for t in listed] == ["grader", "backup script"]
    assert all(t["expires_at"] and t["expired"] is False for t in listed)
    assert script not in r.text and made["token"] not in r.text
    # `profaictl token list` shows the label too.
    out = ctl(s, "token", "list")
    assert "backup script" in out.stdout

    # Revoking another user's token is a 404; one's own, a 204, heard by the other frontend.
    other_id = [t["id"] for t in s.http.get(fe1.url + f"{API}/me/tokens", timeout=10,
                                           headers={"Authorization": f"Bearer {other}"})
                .json()["tokens"]][0]
    problem(s.http.delete(fe1.url + f"{API}/me/tokens/{other_id}", headers=auth, timeout=10),
            404, "not-found")
    grader = {"Authorization": f"Bearer {made['token']}"}
    assert s.http.get(fe2.url + f"{API}/me", headers=grader, timeout=10).status_code == 200
    r = s.http.delete(fe1.url + f"{API}/me/tokens/{made['id']}", headers=auth, timeout=10)
    assert r.status_code == 204, r.text
    wait_for("the revoked token refused on the other frontend",
             lambda: s.http.get(fe2.url + f"{API}/me", headers=grader,
                                timeout=10).status_code == 401, 1.0)
    problem(s.http.delete(fe1.url + f"{API}/me/tokens/{made['id']}", headers=auth, timeout=10),
            404, "not-found")
    listed = s.http.get(fe1.url + f"{API}/me/tokens", headers=auth, timeout=10).json()["tokens"]
    assert [t["label"] for t in listed] == ["backup script"]


def test_profaictl_user_create_and_passwd(two):
    s = two
    fe1, fe2 = s.frontends
    out = ctl(s, "user", "create", "--role", "teacher", "olga", password=PASSWORD)
    assert out.returncode == 0, out.stderr
    assert PASSWORD not in out.stdout + out.stderr
    stored = s.query("SELECT password_hash FROM users WHERE name = 'olga'")[0][0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored

    # Twice, a bad role, a short password, no password: refused, nothing changed.
    assert ctl(s, "user", "create", "--role", "teacher", "olga", password=PASSWORD).returncode == 1
    assert ctl(s, "user", "create", "--role", "king", "pat", password=PASSWORD).returncode == 2
    assert ctl(s, "user", "create", "--role", "student", "pat", password="short").returncode == 1
    assert ctl(s, "user", "create", "--role", "student", "pat").returncode == 1
    assert s.query("SELECT count(*) FROM users WHERE name = 'pat'")[0][0] == 0

    laptop, _ = signed_in(fe1, "olga")
    phone, _ = signed_in(fe2, "olga")
    # A new password: the old one stops working, every session ends, the new one signs in.
    out = ctl(s, "user", "passwd", "olga", password="a new passphrase")
    assert out.returncode == 0, out.stderr
    assert "2 session(s) ended" in out.stdout
    for browser, fe in ((laptop, fe1), (phone, fe2)):
        problem(browser.get(fe.url + f"{API}/me", timeout=10), 401, "unauthorized")
    _, r = sign_in(fe1, "olga")
    problem(r, 401, "unauthorized")
    signed_in(fe1, "olga", "a new passphrase")
    assert ctl(s, "user", "passwd", "nobody", password=PASSWORD).returncode == 1
