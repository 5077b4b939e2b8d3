#!/usr/bin/python3
"""load.py - the target population against a running ProfAI stack (`make load`).

Each simulated user holds one keep-alive HTTP/1.1 connection of its own (opened on its first
request, opened again only if the server closes it), in one asyncio event loop: thousands of
users cost a few MB and a fraction of one core. docs/performance.md describes the users:

  students  loop: one request, then think 1-5 s (uniform). A request is, by weight: the course
            list (25), a search (20), a course (30), a course's quiz (10), a quiz attempt (15).
  teachers  upload a small PDF (3-5 pages, unique bytes, so never deduplicated) at a random
            moment of the first minute (of the first 90 % of a shorter run) and then every
            60 s, and poll its job every 2 s until it ends.

Users start spread over --ramp seconds and stop issuing new requests after --seconds; then
teachers keep polling, for up to --drain seconds, until every accepted upload has finished.
Latencies are measured from the moment a request is due, connect time included. Users are
spread over loopback source addresses 127.1.x.y, 50 per address (a classroom behind one
address), so the edge's per-address connection limit sees what it would see in production.

Prints per-route rates and p50/p95/p99, errors by kind, uploads accepted and completed with
their queue wait, the CPU time of each component of the stack, and whether the targets hold:
no error, p99 <= 100 ms for reads, <= 500 ms for accepted uploads, every upload completed.
Exit status 0 when they hold, 1 when not, 2 on a usage or setup error.

usage: python3 tests/load/load.py --url URL --tokens FILE [--students N] [--teachers N]
           [--seconds S] [--ramp S] [--drain S] [--var DIR]
  FILE: one "ROLE TOKEN" a line (teacher, student); users take them in turn.
Besides the Python standard library it uses uvloop (Debian python3-uvloop; `--loop asyncio`
runs without it), and the upload PDFs come from tests/system/pdfs.py (pycairo) before the
clock starts.
tests/system/test_load_generator.py runs it with a tiny population in `make check`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
API = "/api/v1"
REQUEST_TIMEOUT = 30.0
CONNECT_TIMEOUT = 10.0
USERS_PER_ADDRESS = 50
READ_P99_MS = 100.0
UPLOAD_P99_MS = 500.0
SEARCHES = ["cell membrane", "photosynthesis", "proteins fold", "energy sunlight", "diagram",
            "experiment", "\"green plants\"", "water tissues", "textbook answer", "lesson"]
STUDENT_ACTIONS = [("list", 25), ("search", 20), ("course", 30), ("quiz", 10), ("attempt", 15)]
ROUTES = {  # route key -> label in the table
    "list": "GET  /courses (list)",
    "search": "GET  /courses?q= (search)",
    "course": "GET  /courses/{id}",
    "quiz": "GET  /courses/{id}/quiz",
    "attempt": "POST /courses/{id}/quiz/attempts",
    "upload": "POST /jobs (upload)",
    "poll": "GET  /jobs/{id} (poll)",
}
READ_ROUTES = ("list", "search", "course", "quiz", "poll")


class HttpError(Exception):
    """A failed exchange; kind is one of refused, reset, timeout, other."""

    def __init__(self, kind: str, detail: str = "", stale: bool = False):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.stale = stale  # the server closed the connection before any byte of an answer


class Conn:
    """One user's keep-alive connection: request() sends one request and reads its answer."""

    def __init__(self, host: str, port: int, source: str):
        self.host, self.port, self.source = host, port, source
        self.reader = self.writer = None

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def _connect(self):
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):  # no task of its own, unlike wait_for
                self.reader, self.writer = await asyncio.open_connection(
                    self.host, self.port, local_addr=(self.source, 0), limit=1 << 20)
        except asyncio.TimeoutError:
            raise HttpError("timeout", "connect") from None
        except ConnectionRefusedError as e:
            raise HttpError("refused", str(e)) from None
        except OSError as e:
            raise HttpError("other", f"connect: {e}") from None

    async def request(self, method: str, path: str, token: str, body: bytes = b"",
                      ctype: str = "") -> tuple[int, bytes, bool]:
        """(status, body, reconnected) or HttpError."""
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                return await self._request(method, path, token, body, ctype)
        except asyncio.TimeoutError:
            self.close()
            raise HttpError("timeout", f"{method} {path}") from None

    async def _request(self, method, path, token, body, ctype):
        # Like a browser: a GET on a kept-alive connection that the server closed before
        # answering (its keep-alive or header timeout passed) is sent again on a new one.
        reused = self.writer is not None
        try:
            return await self._exchange(method, path, token, body, ctype)
        except HttpError as e:
            if not (e.stale and reused and method == "GET"):
                raise
        Conn.stale_retries += 1
        return await self._exchange(method, path, token, body, ctype)

    stale_retries = 0  # every user's, together

    async def _exchange(self, method, path, token, body, ctype):
        reconnected = self.writer is None
        if reconnected:
            await self._connect()
        answered = False
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                f"Authorization: Bearer {token}"]
        if body or method == "POST":
            head.append(f"Content-Length: {len(body)}")
            head.append(f"Content-Type: {ctype}")
        data = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        try:
            self.writer.write(data)
            await self.writer.drain()
            raw = await self.reader.readuntil(b"\r\n\r\n")
            answered = True
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            if "content-length" in headers:
                payload = await self.reader.readexactly(int(headers["content-length"]))
            elif headers.get("transfer-encoding", "").lower() == "chunked":
                parts = []
                while True:
                    size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    parts.append(await self.reader.readexactly(size + 2))
                    if size == 0:
                        break
                payload = b"".join(p[:-2] for p in parts)
            elif status in (204, 304):
                payload = b""
            else:
                payload = await self.reader.read()
                headers["connection"] = "close"
        except (ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError) as e:
            self.close()
            stale = not answered and not (isinstance(e, asyncio.IncompleteReadError) and e.partial)
            raise HttpError("reset", f"{method} {path}: {type(e).__name__}", stale) from None
        except (OSError, ValueError, IndexError, asyncio.LimitOverrunError) as e:
            self.close()
            raise HttpError("other", f"{method} {path}: {e}") from None
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, payload, reconnected


class Stats:
    def __init__(self):
        self.lat = {k: [] for k in ROUTES}         # ms of every answered request
        self.status = {k: {} for k in ROUTES}      # route -> status -> count
        self.errors = {k: {} for k in ROUTES}      # route -> kind -> count
        self.samples = []                          # a few error details
        self.connects = 0
        self.answered_users = set()
        self.started_users = set()
        self.uploads_tried = self.uploads_accepted = 0
        self.jobs = {}                             # job id -> final job JSON (or None)
        self.loop_lag = []
        self.lag_at = []                           # (s since t0, lag ms) of each lag sample
        self.answers_at = []                       # (s since t0 when due, route, ms, status)
        self.errors_at = []                        # (s since t0 when due, route)
        self.connects_at = []                      # s since t0 of each connection opened
        self.cpu_at = []                           # (s since t0, {component: CPU s}, extractors)

    def record(self, route, user, status, ms, at=None):
        if at is not None:
            self.answers_at.append((at, route, ms, status))
        self.lat[route].append(ms)
        self.status[route][status] = self.status[route].get(status, 0) + 1
        self.answered_users.add(user)
        if status >= 500:
            self.error(route, f"{status}", f"HTTP {status}")

    def error(self, route, kind, detail):
        self.errors[route][kind] = self.errors[route].get(kind, 0) + 1
        if len(self.samples) < 10:
            self.samples.append(f"{ROUTES[route]}: {detail}")


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


class Load:
    def __init__(self, args, tokens, pdfs, courses):
        u = urllib.parse.urlsplit(args.url)
        self.host, self.port = u.hostname, u.port or 80
        self.args = args
        self.teachers = [t for r, t in tokens if r == "teacher"]
        self.students = [t for r, t in tokens if r == "student"]
        self.pdfs = pdfs
        self.courses = courses          # [(course id, [question ids])]
        self.stats = Stats()
        self.t0 = 0.0
        self.stop_at = 0.0
        self.pending_jobs = 0
        self.roots = component_roots(args.var)  # component -> root pid, for the CPU timeline

    def source(self, user):
        group = user // USERS_PER_ADDRESS
        return f"127.1.{group // 250}.{group % 250 + 1}"

    async def call(self, conn, user, route, method, path, token, body=b"", ctype=""):
        """One request, timed from now (connect included); (status, body) or None."""
        start = time.monotonic()
        try:
            status, payload, reconnected = await conn.request(method, path, token, body, ctype)
        except HttpError as e:
            self.stats.error(route, e.kind, str(e))
            self.stats.errors_at.append((start - self.t0, route))
            return None
        if reconnected:
            self.stats.connects += 1
            self.stats.connects_at.append(start - self.t0)
        self.stats.record(route, user, status, (time.monotonic() - start) * 1000.0,
                          start - self.t0)
        return status, payload

    async def student(self, user):
        rng = random.Random(user)
        token = self.students[user % len(self.students)]
        conn = Conn(self.host, self.port, self.source(user))
        await asyncio.sleep(rng.uniform(0, self.args.ramp))
        self.stats.started_users.add(user)
        names = [a for a, _ in STUDENT_ACTIONS]
        weights = [w for _, w in STUDENT_ACTIONS]
        try:
            while time.monotonic() < self.stop_at:
                action = rng.choices(names, weights)[0]
                cid, questions = rng.choice(self.courses)
                if action == "list":
                    await self.call(conn, user, action, "GET", f"{API}/courses?limit=20", token)
                elif action == "search":
                    q = urllib.parse.quote(rng.choice(SEARCHES))
                    await self.call(conn, user, action, "GET", f"{API}/courses?q={q}&limit=10",
                                    token)
                elif action == "course":
                    await self.call(conn, user, action, "GET", f"{API}/courses/{cid}", token)
                elif action == "quiz":
                    await self.call(conn, user, action, "GET", f"{API}/courses/{cid}/quiz",
                                    token)
                else:
                    body = json.dumps({"answers": {q: rng.randrange(4) for q in questions}})
                    await self.call(conn, user, action, "POST",
                                    f"{API}/courses/{cid}/quiz/attempts", token,
                                    body.encode(), "application/json")
                await asyncio.sleep(rng.uniform(1.0, 5.0))
        finally:
            conn.close()

    async def teacher(self, user, n):
        rng = random.Random(100000 + user)
        token = self.teachers[n % len(self.teachers)]
        conn = Conn(self.host, self.port, self.source(user))
        next_upload = self.t0 + rng.uniform(0, min(60.0, 0.9 * self.args.seconds))
        await asyncio.sleep(rng.uniform(0, self.args.ramp))
        self.stats.started_users.add(user)
        count = 0
        try:
            while True:
                now = time.monotonic()
                if now >= self.stop_at or next_upload >= self.stop_at:
                    break
                await asyncio.sleep(max(0.0, next_upload - now))
                next_upload += 60.0
                count += 1
                pdf = self.pdfs[(n + count) % len(self.pdfs)]
                body = pdf + f"\n%load teacher {n} upload {count} {self.t0}\n".encode()
                title = urllib.parse.quote(f"Load test {n}.{count}")
                self.stats.uploads_tried += 1
                res = await self.call(conn, user, "upload", "POST",
                                      f"{API}/jobs?title={title}&filename=load.pdf", token, body,
                                      "application/pdf")
                if res is None or res[0] != 202:
                    continue
                self.stats.uploads_accepted += 1
                job = json.loads(res[1])["job_id"]
                self.stats.jobs[job] = None
                self.pending_jobs += 1
                try:
                    await self.poll(conn, user, token, job)
                finally:
                    self.pending_jobs -= 1
        finally:
            conn.close()

    async def poll(self, conn, user, token, job):
        deadline = self.stop_at + self.args.drain
        while time.monotonic() < deadline:
            await asyncio.sleep(2.0)
            res = await self.call(conn, user, "poll", "GET", f"{API}/jobs/{job}", token)
            if res is None or res[0] != 200:
                continue
            doc = json.loads(res[1])
            if doc.get("state") in ("succeeded", "failed", "cancelled"):
                self.stats.jobs[job] = doc
                return

    async def lag_monitor(self):
        while time.monotonic() < self.stop_at:
            t = time.monotonic()
            await asyncio.sleep(0.1)
            lag = (time.monotonic() - t - 0.1) * 1000.0
            self.stats.loop_lag.append(lag)
            self.stats.lag_at.append((t - self.t0, lag))

    async def cpu_monitor(self, roots):
        """The CPU time of each component once a second (read in a thread, off the loop)."""
        loop = asyncio.get_running_loop()
        while time.monotonic() < self.stop_at or self.pending_jobs > 0:
            t = time.monotonic()
            cpu, extractors = await loop.run_in_executor(None, cpu_of_roots, roots)
            self.stats.cpu_at.append((t - self.t0, cpu, extractors))
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - t)))

    async def run(self):
        self.t0 = time.monotonic()
        self.t0_wall = time.time()
        self.stop_at = self.t0 + self.args.seconds
        tasks = [asyncio.create_task(self.lag_monitor())]
        if self.roots:
            tasks.append(asyncio.create_task(self.cpu_monitor(self.roots)))
        for i in range(self.args.students):
            tasks.append(asyncio.create_task(self.student(i)))
        for n in range(self.args.teachers):
            tasks.append(asyncio.create_task(self.teacher(self.args.students + n, n)))
        await asyncio.gather(*tasks)
        return time.monotonic() - self.t0


# ---- setup: PDFs, seed courses -------------------------------------------------------------

def make_pdfs(count):
    sys.path.insert(0, str(ROOT / "tests" / "system"))
    from pdfs import make_plain_pdf  # pycairo; before the clock starts
    out = []
    with tempfile.TemporaryDirectory() as d:
        for i in range(count):
            path = Path(d) / f"p{i}.pdf"
            make_plain_pdf(path, pages=3 + i % 3, title=f"Load {i}", seed=10 + i)
            out.append(path.read_bytes())
    return out


async def seed_courses(args, teacher, students, pdfs):
    """Upload len(pdfs) PDFs, wait for their courses, publish them to one class that every
    student token joins (students read published courses only, docs/api.md 4.16);
    [(course id, [question ids])]."""
    u = urllib.parse.urlsplit(args.url)
    conn = Conn(u.hostname, u.port or 80, "127.0.0.1")
    status, payload, _ = await conn.request("POST", f"{API}/classes", teacher,
                                            b'{"name": "load students"}', "application/json")
    if status != 201:
        raise SystemExit(f"load.py: seeding: class answered {status}: {payload[:200]!r}")
    klass = json.loads(payload)
    join = json.dumps({"code": klass["join_code"]}).encode()
    for token in dict.fromkeys(students):
        status, payload, _ = await conn.request("POST", f"{API}/classes/join", token, join,
                                                "application/json")
        if status != 200:
            raise SystemExit(f"load.py: seeding: join answered {status}: {payload[:200]!r}")
    student = students[0]
    jobs = []
    for i, pdf in enumerate(pdfs):
        body = pdf + f"\n%seed {i} {time.time()}\n".encode()
        status, payload, _ = await conn.request("POST", f"{API}/jobs?title=Seed%20{i}", teacher,
                                                body, "application/pdf")
        if status != 202:
            raise SystemExit(f"load.py: seeding: upload answered {status}: {payload[:200]!r}")
        jobs.append(json.loads(payload)["job_id"])
    courses = []
    deadline = time.monotonic() + 120
    for job in jobs:
        while True:
            status, payload, _ = await conn.request("GET", f"{API}/jobs/{job}", teacher)
            doc = json.loads(payload)
            if doc.get("state") == "succeeded":
                break
            if doc.get("state") in ("failed", "cancelled") or time.monotonic() > deadline:
                raise SystemExit(f"load.py: seeding: job {job} ended {doc}")
            await asyncio.sleep(0.2)
        cid = doc["course_id"]
        status, payload, _ = await conn.request("POST", f"{API}/courses/{cid}/classes/"
                                                f"{klass['id']}", teacher)
        if status != 204:
            raise SystemExit(f"load.py: seeding: publish answered {status}: {payload[:200]!r}")
        status, payload, _ = await conn.request("GET", f"{API}/courses/{cid}/quiz", student)
        questions = [q["id"] for q in json.loads(payload).get("questions", [])]
        if questions:
            courses.append((cid, questions))
    conn.close()
    if not courses:
        raise SystemExit("load.py: seeding: no seeded course has a quiz")
    return courses


# ---- CPU per component (from /proc, like top) ----------------------------------------------

def s_proc_stat(pid):
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        fields = text.rsplit(")", 1)[1].split()
        return int(fields[1]), sum(int(x) for x in fields[11:15])  # ppid, utime+stime+cutime+cstime
    except (OSError, IndexError, ValueError):
        return None


def s_procs(with_cmdline):
    """pid -> (ppid, CPU ticks, command line or "") of every process."""
    procs = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            st = s_proc_stat(p.name)
            if st:
                cmd = ""
                if with_cmdline:
                    try:
                        cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                            errors="replace")
                    except OSError:
                        continue
                procs[int(p.name)] = (st[0], st[1], cmd)
    return procs


def component_roots(var, procs=None):
    """component name -> the root pid of each component of the stack run.sh started with
    PROFAI_VAR=var (its children are found again at each reading)."""
    procs = procs if procs is not None else s_procs(True)
    roots = {}
    pm = Path(var) / "pg" / "data" / "postmaster.pid"
    if pm.exists():
        roots["postgresql"] = int(pm.read_text().split()[0])
    edge = f"-p {Path(var).resolve() / 'edge'} "
    for pid, (_, _, cmd) in procs.items():
        if cmd.startswith("nginx: master process") and edge in cmd:
            roots["edge (nginx)"] = pid
    mark = f"PROFAI_VAR={Path(var).resolve()}".encode()
    for pid, (_, _, cmd) in procs.items():
        for name in ("profai-frontend", "profai-broker", "profai-worker"):
            if cmd.startswith(f"{ROOT}/bin/{name} "):
                try:  # this stack's, not another checkout's (run-load.sh sets PROFAI_VAR)
                    if mark in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                        roots.setdefault(name, pid)
                except OSError:
                    pass
    return roots


def cpu_of_roots(roots, procs=None):
    """({component: CPU seconds so far, its live and reaped children included}, live children
    of the worker: its extractors)."""
    procs = procs if procs is not None else s_procs(False)
    children = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    out, extractors = {}, 0
    for name, root in roots.items():
        total, todo = 0, [root]
        while todo:
            pid = todo.pop()
            if pid in procs:
                total += procs[pid][1]
                if name == "profai-worker" and pid != root:
                    extractors += 1
            todo.extend(children.get(pid, []))
        out[name] = total / os.sysconf("SC_CLK_TCK")
    return out, extractors


def cpu_by_component(var):
    """CPU seconds so far of each component of the stack run.sh started with PROFAI_VAR=var."""
    procs = s_procs(True)
    return cpu_of_roots(component_roots(var, procs), procs)[0]


# ---- report --------------------------------------------------------------------------------

def report(load, wall, cpu_before, cpu_after, gen_cpu, args):
    st = load.stats
    print()
    print(f"ProfAI load: {args.students} students + {args.teachers} teachers, {args.seconds:.0f} s "
          f"(ramp {args.ramp:.0f} s) plus up to {args.drain:.0f} s for uploads to finish; "
          f"wall {wall:.1f} s; {os.cpu_count()} CPUs")
    print()
    print(f"{'route':34} {'answers':>8} {'per s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8}  errors / other statuses")
    all_reads = []
    for key, label in ROUTES.items():
        lat = st.lat[key]
        if key in READ_ROUTES:
            all_reads += lat
        errs = dict(st.errors[key])
        odd = {s: c for s, c in st.status[key].items()
               if s not in (200, 201, 202, 304) and s < 500}
        extra = ", ".join([f"{k}: {v}" for k, v in sorted(errs.items())] +
                          [f"HTTP {k}: {v}" for k, v in sorted(odd.items())]) or "-"
        print(f"{label:34} {len(lat):8d} {len(lat) / args.seconds:7.1f} {pct(lat, 50):8.1f} "
              f"{pct(lat, 95):8.1f} {pct(lat, 99):8.1f} {max(lat, default=float('nan')):8.1f}  "
              f"{extra}")
    total = sum(len(v) for v in st.lat.values())
    print(f"{'all reads (GET)':34} {len(all_reads):8d} {len(all_reads) / args.seconds:7.1f} "
          f"{pct(all_reads, 50):8.1f} {pct(all_reads, 95):8.1f} {pct(all_reads, 99):8.1f} "
          f"{max(all_reads, default=float('nan')):8.1f}")
    print(f"{'all requests':34} {total:8d} {total / args.seconds:7.1f}")
    print()
    kinds = {}
    for route in ROUTES:
        for k, v in st.errors[route].items():
            kinds[k] = kinds.get(k, 0) + v
    n_err = sum(kinds.values())
    print(f"errors: {n_err}" + (f" ({', '.join(f'{k}: {v}' for k, v in sorted(kinds.items()))})"
                               if n_err else ""))
    for s in st.samples:
        print(f"  e.g. {s}")
    users = args.students + args.teachers
    print(f"users: {len(st.started_users)} of {users} started, {len(st.answered_users)} got an "
          f"answer; {st.connects} connections opened; {Conn.stale_retries} GETs sent again "
          f"after the server had closed an idle connection")
    finals = [d for d in st.jobs.values() if d]
    by_state = {}
    for d in finals:
        by_state[d["state"]] = by_state.get(d["state"], 0) + 1
    waits, totals = [], []
    for d in finals:
        c, s, f = (parse_ts(d.get(k)) for k in ("created_at", "started_at", "finished_at"))
        if c is not None and s is not None:
            waits.append((s - c) * 1000.0)
        if c is not None and f is not None:
            totals.append((f - c) * 1000.0)
    unfinished = st.uploads_accepted - len(finals)
    print(f"uploads: {st.uploads_tried} tried, {st.uploads_accepted} accepted, {len(finals)} "
          f"finished ({', '.join(f'{k}: {v}' for k, v in sorted(by_state.items())) or '-'}), "
          f"{unfinished} unfinished")
    print(f"  queue wait (created to started) ms: p50 {pct(waits, 50):.0f}  p95 {pct(waits, 95):.0f}"
          f"  p99 {pct(waits, 99):.0f}  max {max(waits, default=float('nan')):.0f}")
    print(f"  upload to finished ms:              p50 {pct(totals, 50):.0f}  p95 "
          f"{pct(totals, 95):.0f}  p99 {pct(totals, 99):.0f}  max "
          f"{max(totals, default=float('nan')):.0f}")
    print()
    print("CPU seconds during the run (share of one core):")
    for name in sorted(cpu_after):
        used = cpu_after[name] - cpu_before.get(name, 0.0)
        print(f"  {name:18} {used:7.1f} s  {100.0 * used / wall:5.1f} %")
    print(f"  {'load generator':18} {gen_cpu:7.1f} s  {100.0 * gen_cpu / wall:5.1f} %"
          f"   (event loop lag p99 {pct(st.loop_lag, 99):.0f} ms, max "
          f"{max(st.loop_lag, default=0):.0f} ms; peak memory "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")
    print()
    timeline_report(load, wall, args)
    print()
    ok_err = n_err == 0
    p99_reads = pct(all_reads, 99)
    p99_up = pct(st.lat["upload"], 99)
    ok_reads = p99_reads <= READ_P99_MS
    ok_up = not st.lat["upload"] or p99_up <= UPLOAD_P99_MS
    ok_done = unfinished == 0 and st.uploads_accepted == st.uploads_tried
    ok_users = len(st.answered_users) == users
    for ok, what in ((ok_err, f"no errors ({n_err})"),
                     (ok_users, f"every user answered ({len(st.answered_users)} of {users})"),
                     (ok_reads, f"reads p99 <= {READ_P99_MS:.0f} ms ({p99_reads:.1f} ms)"),
                     (ok_up, f"uploads p99 <= {UPLOAD_P99_MS:.0f} ms ({p99_up:.1f} ms)"),
                     (ok_done, f"every upload accepted and finished ({st.uploads_accepted} of "
                               f"{st.uploads_tried} accepted, {unfinished} unfinished)")):
        print(f"  {'PASS' if ok else 'FAIL'}  {what}")
    return ok_err and ok_users and ok_reads and ok_up and ok_done


SLOW_MS = (100.0, 500.0)
CPU_SHORT = {"postgresql": "pg", "profai-worker": "worker", "profai-frontend": "front",
             "edge (nginx)": "edge", "profai-broker": "broker"}


def timeline_rows(st, width, end):
    """One row per `width` seconds from the clock's start to `end`: requests by the moment they
    were due. Each row: dict of t, answers, reads (ms list), uploads (ms list), attempts,
    slow counts, errors, connects, lag (ms list), CPU share per component, extractors."""
    n = max(1, int(end // width) + 1)
    rows = [{"t": i * width, "answers": 0, "reads": [], "uploads": [], "attempts": [],
             "over": [0] * len(SLOW_MS), "errors": 0, "connects": 0, "lag": [], "cpu": {},
             "extractors": 0} for i in range(n)]

    def row(t):
        return rows[min(n - 1, max(0, int(t // width)))]

    for at, route, ms, _ in st.answers_at:
        r = row(at)
        r["answers"] += 1
        if route in READ_ROUTES:
            r["reads"].append(ms)
        elif route == "upload":
            r["uploads"].append(ms)
        else:
            r["attempts"].append(ms)
        for i, limit in enumerate(SLOW_MS):
            if ms > limit:
                r["over"][i] += 1
    for at, _ in st.errors_at:
        row(at)["errors"] += 1
    for at in st.connects_at:
        row(at)["connects"] += 1
    for at, lag in st.lag_at:
        row(at)["lag"].append(lag)
    # CPU: the difference between the first and last reading inside each row, per second.
    by_row = {}
    for at, cpu, extractors in st.cpu_at:
        by_row.setdefault(min(n - 1, int(at // width)), []).append((at, cpu, extractors))
    prev = None
    for i in range(n):
        samples = by_row.get(i, [])
        if prev is not None:
            samples = [prev] + samples
        if len(samples) >= 2:
            (t0, c0, _), (t1, c1, _) = samples[0], samples[-1]
            if t1 > t0:
                rows[i]["cpu"] = {k: 100.0 * (c1.get(k, 0.0) - c0.get(k, 0.0)) / (t1 - t0)
                                  for k in c1}
            rows[i]["extractors"] = max(e for _, _, e in samples[1:] or samples)
        if samples:
            prev = samples[-1]
    return rows


def timeline_report(load, wall, args):
    """When in the run the slow answers fell (printed every --interval seconds), and the same
    per second in LOAD_VAR/load-timeline.csv."""
    st = load.stats
    width = args.interval
    rows = timeline_rows(st, width, wall)
    names = sorted({k for r in rows for k in r["cpu"]})
    start = time.strftime("%H:%M:%S", time.gmtime(load.t0_wall))
    print(f"When (t: seconds from the clock's start, {start} UTC; requests by the moment they were "
          f"due; every {width:g} s; CPU % of one core):")
    print(f"{'t s':>5} {'ans/s':>6} {'read p50':>8} {'p99':>6} {'max':>6} {'>100ms':>6} "
          f"{'>500ms':>6} {'upl':>4} {'upl p99':>7} {'att p99':>7} {'err':>4} {'conn':>5} "
          f"{'lag p99':>7} {'lag max':>7} " + " ".join(f"{CPU_SHORT.get(k, k):>6}" for k in names)
          + f" {'extr':>4}")
    for r in rows:
        if not (r["answers"] or r["errors"] or r["lag"]):
            continue
        reads = r["reads"]
        print(f"{r['t']:5.0f} {r['answers'] / width:6.0f} {pct(reads, 50):8.1f} "
              f"{pct(reads, 99):6.0f} {max(reads, default=float('nan')):6.0f} "
              f"{r['over'][0]:6d} {r['over'][1]:6d} {len(r['uploads']):4d} "
              f"{pct(r['uploads'], 99):7.0f} {pct(r['attempts'], 99):7.0f} {r['errors']:4d} "
              f"{r['connects']:5d} {pct(r['lag'], 99):7.0f} "
              f"{max(r['lag'], default=float('nan')):7.0f} "
              + " ".join(f"{r['cpu'].get(k, float('nan')):6.0f}" for k in names)
              + f" {r['extractors']:4d}")
    path = Path(args.var) / "load-timeline.csv"
    try:
        with open(path, "w") as f:
            f.write("t_s,answers,reads,read_p50_ms,read_p99_ms,read_max_ms,over_100ms,over_500ms,"
                    "uploads,upload_p99_ms,attempt_p99_ms,errors,connects,lag_p99_ms,lag_max_ms,"
                    + ",".join(f"cpu_{CPU_SHORT.get(k, k)}_pct" for k in names)
                    + ",extractors\n")
            for r in timeline_rows(st, 1.0, wall):
                cells = [r["t"], r["answers"], len(r["reads"]), pct(r["reads"], 50),
                         pct(r["reads"], 99), max(r["reads"], default=float("nan")),
                         r["over"][0], r["over"][1], len(r["uploads"]), pct(r["uploads"], 99),
                         pct(r["attempts"], 99), r["errors"], r["connects"], pct(r["lag"], 99),
                         max(r["lag"], default=float("nan"))]
                cells += [r["cpu"].get(k, float("nan")) for k in names] + [r["extractors"]]
                f.write(",".join(f"{c:.1f}" if isinstance(c, float) else str(c)
                                 for c in cells) + "\n")
        print(f"(per second: {path})")
    except OSError as e:
        print(f"load.py: cannot write {path}: {e}", file=sys.stderr)


def parse_ts(value):
    if not value:
        return None
    from datetime import datetime
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def route_costs(args, tokens, courses, count):
    """--route-cost: each route `count` times in a row on one connection, alone on the stack;
    prints the mean latency and the CPU time each component spent per request."""
    u = urllib.parse.urlsplit(args.url)
    teacher = next(t for r, t in tokens if r == "teacher")
    student = next(t for r, t in tokens if r == "student")
    cid, questions = courses[0]
    status, payload, _ = await Conn(u.hostname, u.port or 80, "127.0.0.1").request(
        "GET", f"{API}/jobs?limit=1", teacher)
    job = json.loads(payload)["jobs"][0]["job_id"]
    attempt = json.dumps({"answers": {q: 0 for q in questions}}).encode()
    q = urllib.parse.quote("cell membrane")
    cases = [("list", "GET", f"{API}/courses?limit=20", student, b""),
             ("search", "GET", f"{API}/courses?q={q}&limit=10", student, b""),
             ("course", "GET", f"{API}/courses/{cid}", student, b""),
             ("quiz", "GET", f"{API}/courses/{cid}/quiz", student, b""),
             ("attempt", "POST", f"{API}/courses/{cid}/quiz/attempts", student, attempt),
             ("poll", "GET", f"{API}/jobs/{job}", teacher, b"")]
    print(f"{'route':34} {'mean ms':>8}  CPU ms per request: " +
          "  ".join(sorted(cpu_by_component(args.var))))
    for key, method, path, token, body in cases:
        conn = Conn(u.hostname, u.port or 80, "127.0.0.1")
        await conn.request(method, path, token, body, "application/json")  # warm
        before = cpu_by_component(args.var)
        t = time.monotonic()
        for _ in range(count):
            status, _, _ = await conn.request(method, path, token, body, "application/json")
        mean = (time.monotonic() - t) * 1000.0 / count
        after = cpu_by_component(args.var)
        conn.close()
        costs = "  ".join(f"{name} {(after[name] - before.get(name, 0)) * 1000.0 / count:.2f}"
                          for name in sorted(after))
        print(f"{ROUTES[key]:34} {mean:8.2f}  {costs}  (HTTP {status})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--students", type=int, default=5000)
    ap.add_argument("--teachers", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--ramp", type=float, default=10.0)
    ap.add_argument("--drain", type=float, default=120.0)
    ap.add_argument("--var", default=str(ROOT / "var"))
    ap.add_argument("--interval", type=float, default=5.0,
                    help="seconds per row of the printed timeline (default 5)")
    ap.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop",
                    help="the event loop: uvloop (default, Debian python3-uvloop: about half "
                    "the generator's CPU per request, so less of its own lag in the "
                    "latencies) or asyncio's own")
    ap.add_argument("--route-cost", type=int, metavar="N", default=0,
                    help="instead of the load: each route N times in a row, its CPU cost")
    args = ap.parse_args()
    if args.loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            print("load.py: no uvloop: install python3-uvloop (scripts/deps.sh) or pass "
                  "--loop asyncio", file=sys.stderr)
            sys.exit(2)
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    tokens = []
    for line in Path(args.tokens).read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("teacher", "student"):
            tokens.append((parts[0], parts[1]))
    if not any(r == "teacher" for r, _ in tokens) or not any(r == "student" for r, _ in tokens):
        print("load.py: the token file needs a teacher and a student token", file=sys.stderr)
        sys.exit(2)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.students + args.teachers + 256
    if soft < need:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), hard), hard))
        except (ValueError, OSError):
            pass
        if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < need:
            print(f"load.py: need {need} file descriptors, the hard limit is {hard}",
                  file=sys.stderr)
            sys.exit(2)

    pdfs = make_pdfs(6)
    teacher = next(t for r, t in tokens if r == "teacher")
    students = [t for r, t in tokens if r == "student"]
    courses = asyncio.run(seed_courses(args, teacher, students, pdfs))
    if args.route_cost:
        asyncio.run(route_costs(args, tokens, courses, args.route_cost))
        return
    print(f"load.py: {len(courses)} seeded courses; {args.students} students and "
          f"{args.teachers} teachers for {args.seconds:.0f} s against {args.url} "
          f"(event loop: {args.loop})", flush=True)

    load = Load(args, tokens, pdfs, courses)
    cpu_before = cpu_by_component(args.var)
    print(f"load.py: CPU measured for: {', '.join(sorted(cpu_before))}", flush=True)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    # The generator's own pauses out of the latencies: Python's cyclic garbage collector stopped
    # the event loop for 35-127 ms at a time, passes over every connection's objects, in the
    # windows with a run's highest p99 (docs/performance.md, "The load generator's garbage
    # collector"). The objects made so far are frozen out of its passes and it does not run
    # during the run: a request's objects go with their reference counts, and the few cycles
    # wait for the collection after the run (the generator's peak memory is printed).
    gc.freeze()
    gc.disable()
    wall = asyncio.run(load.run())
    gc.enable()
    gc.collect()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_after = cpu_by_component(args.var)
    if sorted(cpu_after) != sorted(cpu_before):
        print(f"load.py: CPU measured at the end for: {', '.join(sorted(cpu_after))}")
    gen_cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    ok = report(load, wall, cpu_before, cpu_after, gen_cpu, args)
    print()
    print("load.py: targets met" if ok else "load.py: targets NOT met")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
