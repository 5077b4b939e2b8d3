"""Limits that must hold across frontends, and whom a blocked address still serves
(docs/api.md 3.1, docs/security.md "Request rates", issue 9 rule 5):

- one user's upload budget is one row of PostgreSQL's rate_buckets (migration 014), so two
  frontends on one database allow one budget between them, not one each;
- an address that has spent its failed authentications (a shared NAT, say) still passes with
  a valid token, cached or not; without one, or with a bad one, it gets 429, not 401."""

from __future__ import annotations

import concurrent.futures
import secrets
import time

from pdfs import make_plain_pdf
from stack import API
from test_limits import assert_429


def test_upload_budget_holds_across_two_frontends(make_stack):
    s = make_stack()
    s.start_broker()
    limits = {"upload_rate": 6, "upload_burst": 3}  # a token every 10 s
    fe1 = s.add_frontend(conf={"limits": limits})
    fe2 = s.add_frontend(conf={"limits": limits})
    s.wait_healthy(workers=0)
    teacher = s.create_token("teacher", "two-doors")
    pdf = make_plain_pdf(s.outdir / "p.pdf", pages=1).path

    # Twelve uploads at once, six through each frontend: one budget of three passes.
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(
            lambda i: s.post_job(pdf, f"u{i}", token=teacher, frontend=(fe1, fe2)[i % 2]),
            range(12)))
    codes = [r.status_code for r in answers]
    assert codes.count(202) == 3, codes
    assert codes.count(429) == 9, codes
    for r in answers:
        if r.status_code == 429:
            assert 1 <= assert_429(r, "uploads") <= 10
    # Each frontend alone would have allowed three: neither does now.
    for fe in (fe1, fe2):
        assert s.post_job(pdf, "more", token=teacher, frontend=fe).status_code == 429
    with s.db().cursor() as cur:
        cur.execute("SELECT count(*) FROM jobs")
        assert cur.fetchone()[0] == 3

    # The budget refills once for both: after one token's time, one upload passes, on
    # whichever frontend, and the next is refused on the other.
    r = s.post_job(pdf, "wait", token=teacher, frontend=fe2)
    time.sleep(assert_429(r, "uploads") + 0.5)
    assert s.post_job(pdf, "after", token=teacher, frontend=fe1).status_code == 202
    assert s.post_job(pdf, "after 2", token=teacher, frontend=fe2).status_code == 429
    # Another teacher has a budget of its own.
    other = s.create_token("teacher", "other-door")
    assert s.post_job(pdf, "other", token=other, frontend=fe2).status_code == 202


def test_blocked_address_still_serves_valid_tokens(make_stack):
    s = make_stack()
    s.start_broker()
    s.add_frontend(conf={"limits": {"auth_fail_rate": 6, "auth_fail_burst": 3}})
    s.wait_healthy(workers=0)
    url = s.frontends[0].url + f"{API}/jobs"
    used = s.create_token("teacher", "nat-1")

    def get(token):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return s.http.get(url, headers=headers, timeout=10)

    assert get(used).status_code == 200  # now in the token cache
    for _ in range(3):
        assert get("pai_" + secrets.token_urlsafe(32)[:43]).status_code == 401
    # The address is blocked: failing attempts get 429, no more 401s.
    assert_429(get("pai_" + secrets.token_urlsafe(32)[:43]), "failed authentications")
    assert_429(get(None), "failed authentications")
    assert_429(get("not-a-token"), "failed authentications")
    # A valid token passes: a cached one, and one never seen before (looked up in the
    # database), including an upload.
    assert get(used).status_code == 200
    fresh = s.create_token("teacher", "nat-2")
    assert get(fresh).status_code == 200
    pdf = make_plain_pdf(s.outdir / "p.pdf", pages=1).path
    assert s.post_job(pdf, "from the NAT", token=fresh).status_code == 202
    # A revoked token is a failing one.
    assert s.profaictl("token", "revoke", "nat-2").returncode == 0
    time.sleep(1.0)
    assert_429(get(fresh), "failed authentications")
    assert get(used).status_code == 200
