"""The load generator of `make load` (tests/load/load.py) against a real stack, with a tiny
population: the generator has no other test, and a change that breaks it (its requests, the
seeding, the report, the timeline CSV) would otherwise show only at the next `make load`.

The figures are not judged here (p99 targets on a shared machine are for `make load` itself):
only that the users' requests were made and answered without error, every upload finished and
the report and its per-second CSV were written.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys

from stack import ROOT

LOAD_PY = ROOT / "tests" / "load" / "load.py"
STUDENTS, TEACHERS, SECONDS = 18, 2, 3
# Routes of the per-route table (load.py ROUTES) that every run of this size answers: students
# pick a route by weight on every request, so the rarer ones may be missing from a short run.
ALWAYS = ("POST /jobs (upload)", "GET  /jobs/{id} (poll)")


def route_rows(out: str) -> dict[str, tuple[int, str]]:
    """The per-route table of load.py's report: label -> (answers, errors and statuses other
    than 200, 201, 202 and 304, "-" when none)."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^((?:GET|POST) +\S.*?) +(\d+) +\d+\.\d(?: +\S+){4}  (.*)$", line)
        if m:
            rows[m.group(1)] = (int(m.group(2)), m.group(3))
    return rows


def test_load_generator_runs_a_tiny_population(make_stack, outdir):
    s = make_stack()
    s.start_broker()
    s.add_worker()
    s.add_worker()
    frontend = s.add_frontend()
    s.wait_healthy()
    var = outdir / "load"
    var.mkdir()
    tokens = var / "tokens"
    tokens.write_text("".join(f"{role} {s.create_token(role)}\n"
                              for role in ("teacher", "student", "teacher", "student")))

    # The same arguments as tests/load/run-load.sh, scaled down.
    run = subprocess.run(
        [sys.executable, str(LOAD_PY), "--url", frontend.url, "--tokens", str(tokens),
         "--var", str(var), "--students", str(STUDENTS), "--teachers", str(TEACHERS),
         "--seconds", str(SECONDS), "--ramp", "1", "--drain", "30", "--interval", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    out = run.stdout
    (outdir / "load.out").write_text(out)
    # 0: every target held, 1: a latency target missed on a busy machine; 2 is a usage or setup
    # error and anything else a crash.
    assert run.returncode in (0, 1), out

    assert re.search(rf"^ProfAI load: {STUDENTS} students \+ {TEACHERS} teachers, {SECONDS} s ",
                     out, re.M), out
    rows = route_rows(out)
    assert len(rows) == 7, out  # load.py ROUTES, each with a row even when unused
    for label in ALWAYS:
        assert rows[label][0] > 0, out
    # No error and no refusal (a 4xx: a request the API no longer takes) on any route.
    assert {label: extra for label, (_, extra) in rows.items()} == dict.fromkeys(rows, "-"), out
    total = int(re.search(r"^all requests +(\d+) ", out, re.M).group(1))
    assert total == sum(answers for answers, _ in rows.values()) and total > STUDENTS, out
    assert re.search(r"^errors: 0$", out, re.M), out
    assert re.search(rf"^users: {STUDENTS + TEACHERS} of {STUDENTS + TEACHERS} started, "
                     rf"{STUDENTS + TEACHERS} got an answer", out, re.M), out
    assert "  PASS  no errors (0)" in out and "  PASS  every user answered" in out, out
    # Each teacher uploads once in a run this short (at a random moment of its first 90 %).
    assert f"  PASS  every upload accepted and finished ({TEACHERS} of {TEACHERS} accepted, " \
        "0 unfinished)" in out, out

    # The timeline: printed, and per second in the CSV, whose answers add up to the table's.
    assert "When (t: seconds from the clock's start" in out, out
    with open(var / "load-timeline.csv", newline="") as f:
        timeline = list(csv.DictReader(f))
    assert len(timeline) >= SECONDS, timeline
    assert sum(int(r["answers"]) for r in timeline) == total
    assert sum(int(r["errors"]) for r in timeline) == 0
