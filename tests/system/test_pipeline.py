"""Acceptance tests of the whole pipeline: the real programs of bin/, a real PostgreSQL cluster,
real HTTP and ZeroMQ, real PDFs (made with cairo by pdfs.py, and Debian's PDF manuals).

    frontend --SUBMIT--> broker --JOB--> worker (profai-extract) --RESULT--> broker --> PostgreSQL

Each test starts its own stack on free ports against a fresh database (conftest.py, stack.py);
component logs land in tests/output/<test name>/.
"""

from __future__ import annotations

import difflib
import functools
import gzip
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg2
import pytest
import requests

from pdfs import make_long_pdf, make_pdf, make_plain_pdf
from stack import (API, BIN, ROOT, PgCluster, StackError, descendants, free_port,
                   normalise_words, wait_for)

MANUAL_PACKAGES = ["docbook-xsl-doc-pdf", "auto-multiple-choice-doc-pdf"]
TOKEN_RE = re.compile(r"^pai_[A-Za-z0-9_-]{43}$")


# ---- oracles ---------------------------------------------------------------------------------

def title_key(title: str) -> str:
    """Titles compared with their whitespace normalised (outline titles carry stray spaces)."""
    return " ".join(title.split())


def pdftotext_pages(path: Path) -> list[str]:
    """The text of every page as poppler-utils' pdftotext gives it (pages end with a form feed)."""
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True,
                         stdout=subprocess.PIPE, timeout=120).stdout.decode("utf-8", "replace")
    pages = out.split("\f")
    if pages and pages[-1].strip() == "":
        pages.pop()
    return pages


_FITZ_FACTS = """
import fitz, json, sys
with fitz.open(sys.argv[1]) as doc:
    print(json.dumps({"toc": doc.get_toc(), "pages": doc.page_count}))
"""


@functools.lru_cache(maxsize=None)
def pdf_facts(path: str) -> dict:
    """Outline (PyMuPDF get_toc(): [level, title, page]) and page count of a PDF.

    Read in a child process: PyMuPDF 1.21 (Debian 12) fails at random after a few dozen
    documents in one process ("'SwigPyObject' object has no attribute 'thisown'")."""
    out = subprocess.run([sys.executable, "-c", _FITZ_FACTS, path], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def expected_outline(path: Path) -> list[tuple]:
    """Modules and lessons as PyMuPDF's get_toc() describes the PDF's outline:
    [(module title, start page, [(lesson title, start page), ...]), ...].

    Level-1 entries are modules, the level-2 entries under them their lessons; a level-1 entry
    without children is one lesson with its own title. When a chapter's first sub-entry starts
    after the chapter itself, the chapter's opening pages form a first lesson named after the
    chapter (docs/worker.md): no page of a module is lost."""
    from test_course_quality import INDEX_TITLE
    toc = pdf_facts(str(path))["toc"]
    modules: list[list] = []
    skipped = False  # an index or a table of contents is left out of the course (issue 11)
    for level, title, page in toc:
        if level == 1:
            skipped = bool(INDEX_TITLE.match(title))
            if not skipped:
                modules.append([title_key(title), page, []])
        elif level == 2 and modules and not skipped:
            modules[-1][2].append((title_key(title), page))
    result = []
    for title, page, lessons in modules:
        if not lessons:
            lessons = [(title, page)]
        elif lessons[0][1] > page:
            lessons = [(title, page)] + lessons
        result.append((title, page, lessons))
    return result


def actual_outline(course: dict) -> list[tuple]:
    return [(title_key(m["title"]), m["page_start"],
             [(title_key(l["title"]), l["page_start"]) for l in m["lessons"]])
            for m in course["modules"] if not m["generated"]]


def check_page_ranges(course: dict, pdf: Path | None = None) -> None:
    """Modules cover pages 1..pages in reading order without gaps; so do the lessons of each
    module over the module's range. (Entries that start on the same page share it.) The pages
    of an index or a table of contents, left out of the course, are the exception: each page
    no module covers must look like one to the oracle (test_course_quality.looks_like_index)."""
    pages = course["source"]["pages"]
    modules = course["modules"]
    assert modules, "a course has at least one module"
    covered = {p for m in modules for p in range(m["page_start"], m["page_end"] + 1)}
    missing = sorted(set(range(1, pages + 1)) - covered)
    if missing:
        from test_course_quality import looks_like_index, pdftotext_pages as oracle_pages
        assert pdf is not None, missing
        text = oracle_pages(str(pdf))
        assert all(looks_like_index(text[p - 1]) for p in missing), missing
    assert modules[0]["page_start"] == 1 or 1 in missing
    assert max(m["page_end"] for m in modules) == pages or pages in missing
    previous_end = 0
    for m in modules:
        assert 1 <= m["page_start"] <= m["page_end"] <= pages, m["title"]
        while previous_end + 1 in missing:  # pages left out before this module
            previous_end += 1
        assert previous_end <= m["page_start"] <= previous_end + 1, \
            f"module {m['title']!r} starts at {m['page_start']} after a module ending at {previous_end}"
        previous_end = max(previous_end, m["page_end"])
        assert m["lessons"], f"module {m['title']!r} has no lesson"
        assert m["lessons"][0]["page_start"] == m["page_start"]
        assert max(l["page_end"] for l in m["lessons"]) == m["page_end"]
        lesson_end = m["page_start"] - 1
        for l in m["lessons"]:
            assert m["page_start"] <= l["page_start"] <= l["page_end"] <= m["page_end"]
            assert lesson_end <= l["page_start"] <= lesson_end + 1, l["title"]
            lesson_end = max(lesson_end, l["page_end"])


def matching_words(actual: list[str], expected: list[str]) -> int:
    """How many words two sequences have in common, in order."""
    if actual == expected:
        return len(actual)
    matcher = difflib.SequenceMatcher(None, actual, expected, autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks())


def check_lesson_texts(course: dict, pdf: Path, exact: bool = True,
                       min_agreement: float = 0.99, min_lesson_agreement: float = 0.90) -> None:
    """Each lesson's text against `pdftotext -f start -l end` for its pages.

    exact: the whitespace-separated words must be identical. Otherwise the texts are compared
    as word sequences after header/footer removal (test_course_quality.tokens). Lessons are
    cut at their headings inside pages (docs/course-generation.md), so a lesson holds part of
    its first and last page: each must be found, in order, in its pages, as a share of its
    own words of at least min_lesson_agreement (a lesson given the wrong pages scores near 0);
    and all the lessons' words must agree with the whole document's at min_agreement, as
    2 * common / (len a + len b) (test_course_quality.bag_matching: text lost, or given to
    two lessons, lowers it)."""
    pages = pdftotext_pages(pdf)
    assert len(pages) == course["source"]["pages"]
    if not exact:
        # The extractor removes running headers and footers (docs/course-generation.md): the
        # oracle removes them from pdftotext's pages with its own, simpler rule.
        from test_course_quality import strip_running
        pages = strip_running(pages)
    sequence: list[str] = []
    for m in course["modules"]:
        for l in m["lessons"]:
            expected_text = "\n".join(pages[l["page_start"] - 1:l["page_end"]])
            where = f"{pdf.name}: lesson {l['title']!r} pages {l['page_start']}-{l['page_end']}"
            if exact:
                assert normalise_words(l["text"]) == normalise_words(expected_text), where
                continue
            from test_course_quality import tokens
            actual, expected = tokens(l["text"]), tokens(expected_text)
            same = matching_words(actual, expected)
            score = same / len(actual) if actual else 1.0
            assert score >= min_lesson_agreement, f"{where}: word agreement {score:.4f}"
            sequence += actual
    if not exact:
        from test_course_quality import bag_matching, tokens
        # Pages left out of the course (an index, a table of contents) are no lesson's.
        covered = {p for m in course["modules"] for x in m["lessons"]
                   for p in range(x["page_start"], x["page_end"] + 1)}
        expected = tokens("\n".join(t for p, t in enumerate(pages, 1) if p in covered))
        same = bag_matching(sequence, expected)
        size = len(sequence) + len(expected)
        score = 2 * same / size if size else 1.0
        assert score >= min_agreement, f"{pdf.name}: word agreement {score:.4f}"


def check_course(course: dict, job: dict, pdf: Path, title: str) -> None:
    """The parts of a course that do not depend on the outline."""
    assert course["job_id"] == job["job_id"]
    assert course["id"] == job["course_id"]
    assert course["title"] == title
    source = course["source"]
    assert source["sha256"] == hashlib.sha256(pdf.read_bytes()).hexdigest()
    assert source["pages"] == pdf_facts(str(pdf))["pages"]
    check_page_ranges(course, pdf)


def debian_manuals(outdir: Path) -> list[Path]:
    """The PDF manuals of MANUAL_PACKAGES (gzipped ones unpacked into outdir)."""
    listing = subprocess.run(["dpkg", "-L", *MANUAL_PACKAGES], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True).stdout.split()
    found: dict[str, Path] = {}
    for name in listing:
        path = Path(name)
        if not path.is_file() or path.is_symlink():
            continue
        if name.endswith(".pdf"):
            found[path.name] = path
        elif name.endswith(".pdf.gz"):
            target = outdir / path.name[:-3]
            with gzip.open(path) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            found.setdefault(target.name, target)
    # By file name, not path: gzipped manuals are unpacked under the checkout, and the order must
    # not depend on where the checkout is (it picks the manual without an outline below).
    return sorted(found.values(), key=lambda p: p.name)


# ---- 1. PDFs become courses ------------------------------------------------------------------

def test_pdf_outline_becomes_course(stack, outdir):
    """Cairo-made PDFs with outlines (named and page destinations, front matter, chapters with
    and without sections, chapters with opening pages, deeper levels) and one without outline:
    modules and lessons follow the outline exactly and the text equals pdftotext's."""
    made = [
        make_pdf(outdir / "named.pdf", [
            ("Chapter 1 Cells", [("1.1 Membranes", 2), ("1.2 Energy", 1)]),
            ("Chapter 2 Plants", 1, [("2.1 Leaves", 1, [("2.1.1 Stomata", 1)]),
                                     ("2.2 Roots", 2)]),
            ("Chapter 3 Summary", 2),
        ], use_named_dests=True, title="Biology notes", author="A. Teacher", front_pages=2),
        make_pdf(outdir / "pages.pdf", [
            ("Introduction", 1),
            ("Part one", [("First lesson", 1), ("Second lesson", 3)]),
            ("Part two", [("Third lesson", 2)]),
        ], use_named_dests=False, title=None, author=None, seed=7),
    ]
    plain = make_plain_pdf(outdir / "plain.pdf", pages=14)

    # The oracle agrees with what the generator meant to write.
    for m in made:
        assert pdf_facts(m.path)["toc"] == m.toc

    # Uploaded as scripts do (raw body) and as browsers do (multipart form), in turn.
    jobs = [(stack.submit(m.path, f"Course {i}", form=i % 2 == 1), f"Course {i}", m)
            for i, m in enumerate(made + [plain])]
    for job_id, title, m in jobs:
        job = stack.wait_job(job_id, timeout=60)
        assert job["attempts"] == 1
        course = stack.get_course(job["course_id"])
        pdf = Path(m.path)
        check_course(course, job, pdf, title)
        assert course["source"]["filename"] == pdf.name
        assert course["source"]["pdf_title"] == m.title
        assert course["source"]["author"] == m.author
        if m.toc:
            assert course["structure"] == "outline"
            assert actual_outline(course) == expected_outline(pdf)
            # Pages before the first outline entry form one generated module.
            first = m.toc[0][2]
            generated = [x for x in course["modules"] if x["generated"]]
            assert [(g["page_start"], g["page_end"]) for g in generated] == \
                ([(1, first - 1)] if first > 1 else [])
        else:
            # No outline: the "Topic N" headings on the pages become the modules.
            assert course["structure"] == "headings"
            assert [x["title"] for x in course["modules"]] == [f"Topic {n}" for n in range(1, 6)]
        # pdftotext and the worker both use poppler: on these simple one-column pages the
        # words must be identical.
        check_lesson_texts(course, pdf, exact=True)


def test_debian_manuals_become_courses(stack, outdir):
    """Real manuals nobody here wrote: every one with an outline becomes a course whose modules
    and lessons are its outline's level-1 and level-2 entries, with the pages' text."""
    manuals = debian_manuals(outdir)
    assert manuals, (f"no PDF manuals found in {MANUAL_PACKAGES}: run `make deps`; a dpkg "
                     "path-exclude for /usr/share/doc (slim images) removes them")
    with_outline = [p for p in manuals if pdf_facts(str(p))["toc"]]
    assert len(with_outline) >= 2, f"expected manuals with an outline among {manuals}"
    # One manual without outline as well, when there is one: it becomes page groups.
    without = [p for p in manuals if p not in with_outline][:1]

    jobs = {stack.submit(p, p.stem, form=i % 2 == 0): p
            for i, p in enumerate(with_outline + without)}
    for job_id, pdf in jobs.items():
        job = stack.wait_job(job_id, timeout=120)
        course = stack.get_course(job["course_id"])
        check_course(course, job, pdf, pdf.stem)
        if pdf in with_outline:
            assert course["structure"] == "outline", pdf.name
            assert actual_outline(course) == expected_outline(pdf), pdf.name
        else:
            assert course["structure"] == "pages", pdf.name
        # The worker reads text with poppler-glib (poppler_page_get_text), pdftotext with
        # poppler's TextOutputDev in its default mode: the same engine, but the two front ends
        # lay words out differently on real typeset pages. pdftotext joins words hyphenated at
        # line ends and puts spaces between table-of-contents entries and their page numbers
        # or between boxes of digits; the two order a few runs differently (marginal notes,
        # table cells), and the extractor drops running headers and footers.
        # Words are compared as tokens (test_course_quality.tokens), and at least 99% of each
        # manual's words must agree, in order, with every lesson at 90% or more.
        check_lesson_texts(course, pdf, exact=False, min_agreement=0.99,
                           min_lesson_agreement=0.90)


# ---- 2. a worker dies in the middle of a job -------------------------------------------------

def running_worker(stack, candidates, job_id):
    """The worker process that is running job_id: the one with an extractor child (falls back
    to the one whose log names the job)."""
    with_child = [w for w in candidates if w.children()]
    if len(with_child) == 1:
        return with_child[0]
    named = [w for w in candidates if job_id in w.log_text()]
    return named[0] if len(named) == 1 else None


def test_killed_worker_job_moves_to_other_worker(make_stack, outdir):
    s = make_stack()  # heartbeat 250 ms, liveness 4: a silent worker is dead after 1 s
    liveness_window = 0.250 * 4
    s.start_broker()
    workers = [s.add_worker(page_delay_ms=300), s.add_worker(page_delay_ms=300)]
    s.add_frontend()
    s.wait_healthy()
    pdf = make_long_pdf(outdir / "long.pdf", pages=20)  # 20 pages x 300 ms: about 6 s

    job_id = s.submit(pdf.path, "Long course")
    wait_for("the job to run with progress > 0",
             lambda: (r := s.job_row(job_id))["state"] == "running" and r["progress"] > 0,
             timeout=20, on_timeout=s.log_tails)
    victim = wait_for("the worker running the job",
                      lambda: running_worker(s, workers, job_id), timeout=5)
    survivor = next(w for w in workers if w is not victim)
    assert s.job_row(job_id)["attempts"] == 1

    victim.kill()
    killed_at = time.monotonic()
    wait_for("the job's second attempt",
             lambda: s.job_row(job_id)["attempts"] == 2 and s.job_row(job_id)["state"] == "running",
             timeout=liveness_window + 5, interval=0.02, on_timeout=s.log_tails)
    moved_after = time.monotonic() - killed_at
    # Detected by missed heartbeats (one liveness window), then handed over at once.
    assert moved_after <= liveness_window + 1.5, f"job moved after {moved_after:.2f} s"

    job = s.wait_job(job_id, timeout=40)
    assert job["attempts"] == 2
    assert s.query("SELECT count(*) FROM courses WHERE job_id = %s", job_id)[0][0] == 1
    assert survivor.alive
    assert job_id in survivor.log_text()
    course = s.get_course(job["course_id"])
    assert course["source"]["pages"] == 20


# ---- 3. the broker dies with 50 jobs in flight -----------------------------------------------

def test_broker_killed_with_jobs_in_flight(make_stack, outdir):
    s = make_stack()
    s.start_broker()
    workers = [s.add_worker(page_delay_ms=40), s.add_worker(page_delay_ms=40)]
    frontend = s.add_frontend()
    s.wait_healthy()
    pdfs = [make_pdf(outdir / f"p{i}.pdf", [(f"Chapter {c}", [(f"Lesson {c}.{k}", 1)
                                                                 for k in range(1, 3)])
                                             for c in range(1, 3)], seed=i).path
            for i in range(3)]

    job_ids = [s.submit(pdfs[i % len(pdfs)], f"Course {i}") for i in range(50)]

    def states():
        rows = s.query("SELECT state, count(*) FROM jobs WHERE id = ANY(%s::uuid[]) "
                       "GROUP BY state", job_ids)
        return dict(rows)
    wait_for("a few jobs done and others still waiting",
             lambda: states().get("succeeded", 0) >= 3, timeout=30, interval=0.02)
    before = states()
    assert before.get("succeeded", 0) < 50, "all jobs finished before the broker was killed"

    s.broker.kill()
    s.broker.start()
    s.wait_broker_ready()

    def all_done():
        now = states()
        if now.get("failed") or now.get("cancelled"):
            raise StackError(f"jobs failed after the broker restart: {now}")
        return now.get("succeeded", 0) == 50
    wait_for("all 50 jobs to succeed", all_done, timeout=150, interval=0.2,
             on_timeout=lambda: f"{states()}\n{s.log_tails()}")
    print(f"states when the broker was killed: {before}")

    counts = dict(s.query("SELECT j.id::text, count(c.id) FROM jobs j LEFT JOIN courses c "
                          "ON c.job_id = j.id WHERE j.id = ANY(%s::uuid[]) GROUP BY j.id",
                          job_ids))
    assert counts == {j: 1 for j in job_ids}
    for job_id in job_ids:
        job = s.get_job(job_id)
        assert job["state"] == "succeeded" and job["course_id"]

    # Nobody restarted the workers or the frontend: they found the new broker by themselves.
    assert all(w.alive and w.started == 1 for w in workers)
    assert frontend.process.alive and frontend.process.started == 1
    s.wait_workers(2)
    r = wait_for("the frontend to accept jobs again",
                 lambda: (r := s.post_job(Path(pdfs[0]), "After restart")).status_code == 202
                 and r, timeout=20, interval=0.2)
    s.wait_job(r.json()["job_id"], timeout=30)


# ---- 4. a bare worker and a second frontend --------------------------------------------------

def test_bare_worker_and_second_frontend(make_stack, outdir):
    # Default heartbeats everywhere: the bare worker has no config file to set them.
    s = make_stack(heartbeat_ivl=None, liveness=None)
    s.start_broker()
    configured = s.add_worker()
    first = s.add_frontend()
    s.wait_healthy()
    pdf = make_pdf(outdir / "c.pdf", [("One", 1), ("Two", [("Two a", 1), ("Two b", 1)])]).path

    job1 = s.wait_job(s.submit(pdf, "Served by the configured worker"))
    configured.stop()
    s.wait_workers(0, exact=True, timeout=10)

    empty_dir = outdir / "cwd"
    empty_dir.mkdir()
    # With CURVE (the stack's default) its keys are the only other options it needs.
    keys = s.curve_conf("bare-worker", "worker").get("curve")
    key_args = ["-k", keys["certificate"], "-K", keys["broker_key"]] if keys else []
    bare = s.add_worker(argv=[BIN / "profai-worker", "-b", s.endpoint, *key_args], cwd=empty_dir,
                        env={"PATH": "/usr/bin:/bin"})
    s.wait_workers(1)
    job2 = s.wait_job(s.submit(pdf, "Served by the bare worker"), timeout=60)
    assert bare.alive and s.job_row(job2["job_id"])["attempts"] == 1
    assert job2["job_id"] in bare.log_text()

    second = s.add_frontend()
    s.wait_healthy(workers=1)
    for job in (job1, job2):
        through_first = s.get_job(job["job_id"], frontend=first)
        through_second = s.get_job(job["job_id"], frontend=second)
        assert through_first == through_second
        assert (s.get_course(job["course_id"], frontend=first)
                == s.get_course(job["course_id"], frontend=second))
    # A job submitted through the second frontend is seen through the first.
    job3 = s.wait_job(s.submit(pdf, "Through the second frontend", frontend=second, form=True),
                      frontend=first)
    assert s.get_course(job3["course_id"], frontend=first)["title"] == \
        "Through the second frontend"


# ---- 5. every error status of the API ---------------------------------------------------------

def problem(r, status: int, kind: str) -> dict:
    assert r.status_code == status, f"{r.request.method} {r.url}: {r.status_code} {r.text[:300]}"
    assert r.headers["Content-Type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["type"] == f"urn:profai:problem:{kind}"
    return body


def raw_post(url: str, headers: dict, body: bytes | None) -> tuple[int, dict]:
    """A POST that sends its headers first and the body only after `100 Continue`, like curl
    with large uploads; returns the final status and headers."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.putrequest("POST", "/" + url.split("//")[1].split("/", 1)[1])
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body is not None:
            conn.send(body)
        response = conn.getresponse()
        response.read()
        return response.status, dict(response.getheaders())
    finally:
        conn.close()


def test_api_error_statuses(make_stack, outdir):
    s = make_stack(max_upload="1M", broker_timeout_ms=1500)
    s.start_broker()
    s.add_worker()
    frontend = s.add_frontend()
    s.wait_healthy()
    pdf = make_pdf(outdir / "ok.pdf", [("Only chapter", 1)]).path
    url = frontend.url
    job = s.wait_job(s.submit(pdf, "A course"))

    # 400: a title with a control character; a form without its file; a bad limit.
    problem(s.post_job(Path(pdf), "bad\x01title"), 400, "bad-request")
    problem(s.post_job(Path(pdf), "bad\x01title", form=True), 400, "bad-request")
    r = s.http.post(f"{url}{API}/jobs", files={"title": (None, "no file")},
                    headers=s.auth("teacher"), timeout=30)
    problem(r, 400, "bad-request")
    problem(s.get(f"{API}/jobs?limit=0"), 400, "bad-request")

    # 401: no token, a malformed one, a well-formed one nobody issued.
    r = problem(s.get(f"{API}/jobs", token=None), 401, "unauthorized")
    r = s.get(f"{API}/jobs", token=None)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    problem(s.get(f"{API}/jobs/{job['job_id']}", token="not-a-token"), 401, "unauthorized")
    problem(s.post_job(Path(pdf), "x", token="pai_" + "A" * 43), 401, "unauthorized")

    # 403: students read (published) courses but may not upload or see jobs.
    s.publish_to_students(job["course_id"])
    problem(s.post_job(Path(pdf), "x", token="student"), 403, "forbidden")
    problem(s.get(f"{API}/jobs/{job['job_id']}", token="student"), 403, "forbidden")
    assert s.get(f"{API}/courses/{job['course_id']}", token="student").status_code == 200

    # 404: unknown route, unknown id, an id that is not a UUID, another teacher's job.
    problem(s.get(f"{API}/nothing-here"), 404, "not-found")
    problem(s.get(f"{API}/jobs/{uuid.uuid4()}"), 404, "not-found")
    problem(s.get(f"{API}/jobs/not-a-uuid"), 404, "not-found")
    problem(s.get(f"{API}/courses/{uuid.uuid4()}", token="student"), 404, "not-found")
    other_teacher = s.create_token("teacher", "other-teacher")
    problem(s.get(f"{API}/jobs/{job['job_id']}", token=other_teacher), 404, "not-found")

    # 413: a Content-Length over http/max_upload is refused before the body is sent...
    status, headers = raw_post(f"{url}{API}/jobs?title=big", {
        **s.auth("teacher"), "Content-Type": "application/pdf",
        "Content-Length": str(2 * 1024 * 1024), "Expect": "100-continue"}, None)
    assert status == 413
    # ...and a real client uploading a large form gets the same answer.
    big = outdir / "big.pdf"
    big.write_bytes(b"%PDF-1.4\n" + os.urandom(2 * 1024 * 1024))
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                          "-H", f"Authorization: Bearer {s.token('teacher')}",
                          "-F", f"file=@{big};type=application/pdf", "-F", "title=big",
                          f"{url}{API}/jobs"], stdout=subprocess.PIPE, text=True, timeout=60)
    assert out.stdout == "413"

    # 415: neither a PDF nor a form; a "PDF" that is not one.
    r = s.http.post(f"{url}{API}/jobs?title=t", data=b"hello", timeout=30,
                    headers={**s.auth("teacher"), "Content-Type": "text/plain"})
    problem(r, 415, "unsupported-media-type")
    problem(s.post_job(b"just some text, no PDF header" * 100, "t", filename="x.pdf"), 415,
            "unsupported-media-type")

    # 503: the broker is down. The frontend says so with Retry-After, and recovers by itself.
    assert s.healthz().status_code == 200
    s.broker.stop()
    r = s.post_job(Path(pdf), "while the broker is down")
    problem(r, 503, "unavailable")
    assert int(r.headers["Retry-After"]) > 0
    health = s.healthz()
    assert health.status_code == 503 and health.json()["broker"] is False
    assert "Retry-After" in health.headers
    s.start_broker()
    wait_for("/healthz 200 again", lambda: s.healthz().status_code == 200, timeout=20)
    s.wait_job(s.submit(pdf, "after the broker came back"))


# ---- the private PostgreSQL cluster ----------------------------------------------------------

def test_pg_sh_start_keeps_data():
    """scripts/pg.sh: start is idempotent, and a start after stop keeps data and port."""
    cluster = PgCluster(ROOT / "var" / "check" / f"pg-keep-{uuid.uuid4().hex[:8]}",
                        port=free_port())
    try:
        cluster.start()
        port = cluster.port
        conn = psycopg2.connect(cluster.conninfo)
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE kept (word text); INSERT INTO kept VALUES ('durable')")
        conn.close()
        cluster.start()  # already running: nothing happens
        assert cluster.running() and cluster.port == port
        cluster.stop()
        assert not cluster.running()
        cluster.start()
        assert cluster.port == port
        assert cluster.conninfo == (f"host=127.0.0.1 port={port} dbname=profai user=profai "
                                    f"passfile={cluster.directory / 'pgpass'}")
        conn = psycopg2.connect(cluster.conninfo)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT word FROM kept")
            assert cur.fetchall() == [("durable",)]
        conn.close()
    finally:
        cluster.stop()
        shutil.rmtree(cluster.directory, ignore_errors=True)


def test_pg_sh_admits_only_its_role_with_its_password():
    """scripts/pg.sh: no `trust` in pg_hba.conf; role profai gets in with the password of its
    0600 password file and not without it; another role is refused even with that password."""
    cluster = PgCluster(ROOT / "var" / "check" / f"pg-auth-{uuid.uuid4().hex[:8]}",
                        port=free_port())
    try:
        cluster.start()
        hba = [line.split() for line in (cluster.directory / "data" / "pg_hba.conf")
               .read_text().splitlines() if line.strip() and not line.startswith("#")]
        assert hba and all(fields[-1] in ("peer", "scram-sha-256") for fields in hba), hba
        assert all(fields[2] == "profai" for fields in hba), hba
        pgpass = cluster.directory / "pgpass"
        assert pgpass.stat().st_mode & 0o777 == 0o600
        password = pgpass.read_text().strip().split(":", 4)[4]
        assert len(password) >= 32
        psycopg2.connect(cluster.conninfo).close()
        base = f"host=127.0.0.1 port={cluster.port} dbname=profai"
        for conninfo in (f"{base} user=profai passfile=/dev/null",
                         f"{base} user=profai password=wrong passfile=/dev/null",
                         f"{base} user=postgres password={password} passfile=/dev/null"):
            with pytest.raises(psycopg2.OperationalError):
                psycopg2.connect(conninfo).close()
        psycopg2.connect(f"{base} user=profai password={password} passfile=/dev/null").close()
    finally:
        cluster.stop()
        shutil.rmtree(cluster.directory, ignore_errors=True)


# ---- make run ---------------------------------------------------------------------------------

def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _default_sigint():
    # A shell started with SIGINT ignored cannot trap it: give run.sh what a terminal gives.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.serial  # run.sh takes fixed ports when free: two at once race for them
def test_run_sh_serves_demo_and_stops_everything(outdir):
    """scripts/run.sh (make run) in its own state directory: it serves the demo tokens it
    writes, keeps them across runs, and stops every process on Ctrl-C and on SIGTERM."""
    var = outdir / "var"
    port = free_port()
    env = {**os.environ, "PROFAI_VAR": str(var), "WORKERS": "1"}

    def run_once(n: int, stop_signal: signal.Signals) -> dict:
        log_path = outdir / f"run{n}.log"
        log = open(log_path, "ab")
        proc = subprocess.Popen(["sh", str(ROOT / "scripts" / "run.sh"), "--port", str(port)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True, preexec_fn=_default_sigint)
        try:
            demo = var / "demo.env"
            wait_for("var/demo.env and the banner",
                     lambda: proc.poll() is None and demo.exists()
                     and "Ctrl-C" in log_path.read_text(),
                     timeout=90, interval=0.2,
                     on_timeout=lambda: log_path.read_text()[-3000:])
            values = dict(re.findall(r"^(\w+)='(.*)'$", demo.read_text(), re.M))
            assert values["PROFAI_URL"] == f"http://127.0.0.1:{port}"
            assert TOKEN_RE.match(values["PROFAI_TEACHER_TOKEN"])
            assert TOKEN_RE.match(values["PROFAI_STUDENT_TOKEN"])
            h = {"Authorization": f"Bearer {values['PROFAI_TEACHER_TOKEN']}"}
            assert requests.get(f"{values['PROFAI_URL']}{API}/jobs", headers=h,
                                timeout=10).status_code == 200
            # The web page's sign-in works for both demo users, and the student is in the
            # teacher's demo class (a course published to it is the student's to read).
            for name in ("demo-teacher", "demo-student"):
                r = requests.post(f"{values['PROFAI_URL']}{API}/session", timeout=30,
                                  json={"name": name, "password": values["PROFAI_DEMO_PASSWORD"]})
                assert r.status_code == 200, r.text
            klass = requests.get(f"{values['PROFAI_URL']}{API}/classes/"
                                 f"{values['PROFAI_DEMO_CLASS']}", headers=h, timeout=10)
            assert klass.status_code == 200, klass.text
            assert [m["name"] for m in klass.json()["members"]] == ["demo-student"]
            started = descendants(proc.pid)
            if stop_signal == signal.SIGINT:
                os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
            else:
                proc.send_signal(stop_signal)
            assert proc.wait(60) == 0
            # Its log prefixers end right after it; every component has been stopped.
            wait_for("every process run.sh started to end",
                     lambda: not [pid for pid in started if alive(pid)], timeout=5,
                     on_timeout=lambda: str([(pid, Path(f"/proc/{pid}/cmdline").read_bytes())
                                             for pid in started if alive(pid)]))
            return values
        finally:
            if proc.poll() is None:  # the test failed: leave nothing running
                for pid in descendants(proc.pid) + [proc.pid]:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                proc.wait()
                subprocess.run(["sh", str(ROOT / "scripts" / "pg.sh"), "stop", str(var / "pg")])
            log.close()

    first = run_once(1, signal.SIGINT)
    assert not (var / "pg" / "data" / "postmaster.pid").exists(), "PostgreSQL still running"
    second = run_once(2, signal.SIGTERM)
    assert second == first, "a second run must keep var/demo.env"
    assert "created a token" not in (outdir / "run2.log").read_text()
    assert not (var / "pg" / "data" / "postmaster.pid").exists()
    for name in ("broker", "worker", "frontend"):
        assert (var / "log" / f"{name}.log").exists()
