"""System tests of the metrics endpoints (docs/operations.md, "Metrics and alerts") and of
liveness versus readiness (docs/api.md 4.5: /livez, /readyz, /healthz).

The pages of the real frontend (GET /metrics) and of the real broker (its metrics/endpoint, a
ZMQ_STREAM HTTP responder) are checked with `promtool check metrics` when it is installed, and
always with the strict parser below, written from the text exposition format 0.0.4.
Run: sh scripts/check-system.sh tests/system/test_metrics.py
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import time
from pathlib import Path

import requests

from pdfs import make_plain_pdf
from stack import wait_for

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({NAME})(\{{(?:{LABEL}={VALUE}(?:,{LABEL}={VALUE})*)?\}})? (\S+)$")
LABEL_PAIR = re.compile(rf"({LABEL})=({VALUE})")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse_exposition(text: str) -> dict:
    """Parse a page strictly; return {family: {"type", "help", "samples": [(name, labels,
    value)]}}. Fails on anything the format does not allow, and on the conventions the project
    keeps: a TYPE before the samples, counters named _total, histograms with cumulative buckets
    ending in +Inf equal to _count, and each family's samples together."""
    assert text.endswith("\n"), "the page must end with a line feed"
    families: dict = {}
    current = None
    closed = set()
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {n}: {line!r}"
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            assert re.fullmatch(NAME, name), where
            assert not re.search(r"\\[^\\n]", help_.replace("\\\\", "")), where
            fam = families.setdefault(name, {"samples": []})
            assert "help" not in fam, f"second HELP, {where}"
            fam["help"] = help_
            continue
        if line.startswith("# TYPE "):
            name, _, type_ = line[7:].partition(" ")
            assert re.fullmatch(NAME, name) and type_ in TYPES, where
            fam = families.setdefault(name, {"samples": []})
            assert "type" not in fam and not fam["samples"], f"TYPE after samples, {where}"
            fam["type"] = type_
            if current is not None and current != name:
                closed.add(current)
            assert name not in closed, f"family {name} split, {where}"
            current = name
            continue
        assert not line.startswith("#") or line.startswith("# "), where
        if line.startswith("#"):
            continue
        assert line, f"empty line, {where}"
        m = SAMPLE.match(line)
        assert m, f"not a sample, {where}"
        name, labels_text, value_text = m.groups()
        labels = dict(LABEL_PAIR.findall(labels_text or ""))
        labels = {k: v[1:-1] for k, v in labels.items()}
        assert value_text in ("+Inf", "-Inf", "NaN") or re.fullmatch(
            r"-?\d+(\.\d+)?([eE][+-]?\d+)?", value_text), where
        value = float(value_text)
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            base = name[: -len(suffix)] if name.endswith(suffix) else None
            if base and families.get(base, {}).get("type") == "histogram":
                family = base
        assert family == current, f"sample outside its family's block, {where}"
        fam = families[family]
        if fam["type"] == "counter":
            assert name.endswith("_total") and value >= 0, where
        fam["samples"].append((name, labels, value))
    for name, fam in families.items():
        assert "type" in fam and "help" in fam, f"{name} without TYPE or HELP"
        if fam["type"] == "histogram":
            series: dict = {}
            for sname, labels, value in fam["samples"]:
                key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
                s = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
                if sname.endswith("_bucket"):
                    s["buckets"].append((float(labels["le"]), value))
                elif sname.endswith("_sum"):
                    s["sum"] = value
                else:
                    s["count"] = value
            for key, s in series.items():
                les = [le for le, _ in s["buckets"]]
                counts = [c for _, c in s["buckets"]]
                assert les == sorted(les) and les[-1] == math.inf, f"{name}{key}: le order"
                assert counts == sorted(counts), f"{name}{key}: buckets not cumulative"
                assert s["count"] == counts[-1] and s["sum"] is not None, f"{name}{key}"
    return families


def check_page(text: str, tmp: Path) -> dict:
    promtool = shutil.which("promtool")
    if promtool:
        r = subprocess.run([promtool, "check", "metrics"], input=text, text=True,
                           capture_output=True)
        assert r.returncode == 0, r.stdout + r.stderr
    return parse_exposition(text)


def sample(families: dict, family: str, **labels) -> float:
    for name, ls, value in families[family]["samples"]:
        if name == family and all(ls.get(k) == v for k, v in labels.items()):
            return value
    raise KeyError(f"{family}{labels}")


def broker_page(stack) -> str:
    r = requests.get(stack.metrics_url, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return r.text


def test_parser_refuses_what_the_format_refuses():
    good = "# HELP a_total x\n# TYPE a_total counter\na_total{k=\"v\\\"\"} 1\n"
    parse_exposition(good)
    for bad in ("a_total 1\n",  # no TYPE
                good.replace(" 1\n", " one\n"),
                good.replace('k="v\\""', 'k="v"x'),
                "# HELP a x\n# TYPE a counter\na 1\n",  # a counter not named _total
                "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                "h_sum 1\nh_count 1\n"):
        try:
            parse_exposition(bad)
        except AssertionError:
            continue
        raise AssertionError(f"accepted: {bad!r}")


def test_frontend_metrics(stack, outdir):
    url = stack.frontends[0].url
    for _ in range(3):
        assert requests.get(url + "/healthz", timeout=10).status_code == 200
    assert requests.get(url + "/api/v1/jobs/0f3e4d2c-0000-4000-8000-000000000001",
                        headers=stack.auth("teacher"), timeout=10).status_code == 404
    assert requests.get(url + "/no/such/thing", timeout=10).status_code == 404
    r = requests.get(url + "/metrics", timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    fams = check_page(r.text, outdir)
    assert sample(fams, "profai_http_requests_total", route="/healthz", status="200") >= 3
    assert sample(fams, "profai_http_requests_total", route="/api/v1/jobs/{id}",
                  status="404") == 1
    assert sample(fams, "profai_http_requests_total", route="unmatched", status="404") == 1
    assert "/no/such/thing" not in r.text  # routes by pattern, never raw paths
    hist = [s for s in fams["profai_http_request_duration_seconds"]["samples"]
            if s[0].endswith("_count") and s[1]["route"] == "/healthz"]
    assert hist and hist[0][2] >= 3
    # Through a proxy (X-Forwarded-For) the page is refused: the edge must not publish it.
    assert requests.get(url + "/metrics", headers={"X-Forwarded-For": "203.0.113.9"},
                        timeout=10).status_code == 403


def test_frontend_metrics_token(make_stack, outdir):
    s = make_stack()
    s.start_broker()
    s.add_frontend(conf={"metrics": {"token": "s3cret"}})
    url = s.frontends[0].url + "/metrics"
    assert requests.get(url, timeout=10).status_code == 403
    assert requests.get(url, headers={"Authorization": "Bearer nope"},
                        timeout=10).status_code == 403
    r = requests.get(url, headers={"Authorization": "Bearer s3cret"}, timeout=10)
    assert r.status_code == 200
    check_page(r.text, outdir)


def test_broker_metrics_and_queue_burst(make_stack, outdir):
    s = make_stack()
    s.start_broker()
    s.add_worker(page_delay_ms=150)
    s.add_frontend()
    s.wait_healthy()
    fams = check_page(broker_page(s), outdir)
    assert sample(fams, "profai_broker_queue_depth", service="course.build") == 0
    assert sample(fams, "profai_broker_workers_alive") == 1
    assert sample(fams, "profai_broker_worker_processes") == 1
    assert sample(fams, "profai_broker_database_up") == 1
    assert sample(fams, "profai_broker_database_rtt_seconds") > 0
    # Other paths and methods are refused; a raw HTTP/1.0 client is answered and closed.
    assert requests.get(s.metrics_url.replace("/metrics", "/x"), timeout=10).status_code == 404
    assert requests.post(s.metrics_url, timeout=10).status_code == 405

    pdf = outdir / "burst.pdf"
    make_plain_pdf(pdf, pages=4)
    jobs = [s.submit(pdf, f"burst {i}") for i in range(6)]
    seen = []

    def depth():
        f = parse_exposition(broker_page(s))
        d = sample(f, "profai_broker_queue_depth", service="course.build")
        seen.append(d)
        return f if d >= 3 else None
    up = wait_for("queue depth to rise to 3", depth, 20)
    assert sample(up, "profai_broker_queue_oldest_age_seconds", service="course.build") > 0
    assert sample(up, "profai_broker_jobs", state="running") + \
        sample(up, "profai_broker_jobs", state="dispatching") <= 1
    for job in jobs:
        s.wait_job(job, timeout=120)

    def drained():
        f = parse_exposition(broker_page(s))
        return f if sample(f, "profai_broker_queue_depth", service="course.build") == 0 \
            else None
    down = wait_for("queue depth back to 0", drained, 20)
    check_page(broker_page(s), outdir)
    assert sample(down, "profai_broker_queue_oldest_age_seconds", service="course.build") == 0
    assert sample(down, "profai_broker_dispatched_total") >= 6
    count = [v for n, _, v in down["profai_broker_job_run_seconds"]["samples"]
             if n == "profai_broker_job_run_seconds_count"]
    assert count == [6]
    count = [v for n, _, v in down["profai_broker_dispatch_latency_seconds"]["samples"]
             if n == "profai_broker_dispatch_latency_seconds_count"]
    assert count[0] >= 6
    assert max(seen) >= 3


def test_readiness_needs_a_worker_process(make_stack):
    s = make_stack()
    s.start_broker()
    s.add_frontend()
    url = s.frontends[0].url
    wait_for("/healthz 200", lambda: s.healthz().status_code == 200, 20)
    assert requests.get(url + "/livez", timeout=10).status_code == 200
    r = requests.get(url + "/readyz", timeout=10)
    assert r.status_code == 503 and r.json()["ready"] is False and r.json()["workers"] == 0
    assert s.healthz().json()["ready"] is False  # /healthz stays 200: broker and database up
    s.add_worker(concurrency=3)
    wait_for("/readyz 200", lambda: requests.get(url + "/readyz", timeout=10).status_code == 200,
             20)
    body = wait_for("3 slots", lambda: (lambda b: b if b["slots"] == 3 else None)(
        requests.get(url + "/readyz", timeout=10).json()), 20)
    assert body["workers"] == 1 and body["ready"] is True and body["status"] == "ok"
    assert s.ping()["processes"] == 1 and s.ping()["workers"] == 3
    s.broker.kill()
    r = requests.get(url + "/readyz", timeout=10)
    assert r.status_code == 503 and r.json()["broker"] is False
    assert requests.get(url + "/livez", timeout=10).status_code == 200
