"""System test of the search answer cache (docs/api.md 1.1 and 4.8, cache/search_ttl): a
search, and a page of a student's course list, is answered from the frontend's cache for
search_ttl; deleting a course drops every cached search of the frontend that deleted it at
once, and other frontends stop listing it within their search_ttl (at once, when they hear the
deletion's notification: migration 018).

Everything is real: the programs of bin/, PostgreSQL, HTTP.

    /usr/bin/python3 -m pytest tests/system/test_search_cache.py -x
"""

from __future__ import annotations

import time

import pytest
from stack import API, wait_for
from test_courses_api import QUIZ_DOC, get, send, store_course

WORD = "quokka"


# A search, and a student's list page (the only courses students see are the test's).
QUERIES = [f"q={WORD}", "limit=50"]


def found(stack, frontend, query: str = QUERIES[0]) -> list[str]:
    r = get(stack, f"{API}/courses?{query}", frontend=frontend)
    assert r.status_code == 200, r.text
    return [c["id"] for c in r.json()["courses"]]


@pytest.mark.parametrize("query", QUERIES, ids=["search", "list"])
def test_search_cache_and_deletion(make_stack, query):
    stack = make_stack()
    stack.start_broker()
    stack.add_worker()
    # frontends[0] (which deletes) keeps a search for a minute; the other for one second
    keeper = stack.add_frontend(conf={"cache": {"search_ttl": 60000}})
    other = stack.add_frontend(conf={"cache": {"search_ttl": 1000}})
    stack.wait_healthy()
    doc = {**QUIZ_DOC, "title": f"The {WORD} course"}

    a, _ = store_course(stack, "teacher", doc)
    assert found(stack, keeper, query) == [a]
    assert found(stack, other, query) == [a]

    # A second course, published once both have a search cached: the keeper still answers
    # from its cache (this is what the cache saves; publishing notifies nothing, docs/database.md
    # migration 018); the other frontend lists it once its second has passed.
    b, _ = store_course(stack, "teacher", {**doc, "title": f"Another {WORD} course"},
                        publish=False)
    assert found(stack, keeper, query) == [a]
    stack.publish_to_students(b)
    assert found(stack, keeper, query) == [a]
    wait_for("the other frontend to list the new course",
             lambda: a in found(stack, other, query) and b in found(stack, other, query), 30)

    # Deleting a course through the keeper drops its cached searches at once.
    r = send(stack, "DELETE", f"{API}/courses/{a}", token="teacher")
    assert r.status_code == 204, r.text
    assert found(stack, keeper, query) == [b]
    # The other frontend may list it for up to its search_ttl, never longer.
    deleted = time.monotonic()
    wait_for("the other frontend to forget the deleted course",
             lambda: found(stack, other, query) == [b], 30)
    assert time.monotonic() - deleted < 1.0 + 5.0  # its TTL, and generous room for a busy machine
    for _ in range(3):
        assert found(stack, other, query) == [b] and found(stack, keeper, query) == [b]
        time.sleep(0.3)
