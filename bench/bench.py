#!/usr/bin/python3
"""`make bench`: ProfAI's benchmark suite (docs/performance.md, "Benchmarks").

Runs each benchmark --runs times (median), ProfAI and its baselines in the same sitting, and
prints one table: our figure, the baseline's, and the ratio. Everything runs on loopback:
a private PostgreSQL cluster (scripts/pg.sh, through tests/system/stack.py) with a fresh
database per run (dropped after it unless --keep), the broker from bin/, the benchmark
programs from build/bench/, and the baselines from Debian packages (scripts/bench-deps.sh).
Every process is stopped at the end.

    python3 bench/bench.py [--runs N] [--quick] [--only NAME[,NAME]] [--keep]

Benchmarks: throughput, latency, failover, pdf, pdfpath, http, connections, state, workers
(or the issue's numbers 1-7). How long each takes and what a run counts: TIMES below (--help).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "system"))
from stack import PgCluster, Process, Stack, free_port, vm_rss_kb, wait_for  # noqa: E402

BIN = ROOT / "bin"
# The benchmark's own programs: build/bench, or PROFAI_BENCH_BIN (another build's, to compare).
BENCH_BIN = (Path(os.environ["PROFAI_BENCH_BIN"]).resolve() if os.environ.get("PROFAI_BENCH_BIN")
             else ROOT / "build" / "bench")
# Benchmark 4's profai-extract: bin/, or PROFAI_BIN (another build's bin/, to compare builds).
EXTRACT_BIN = (Path(os.environ["PROFAI_BIN"]).resolve() if os.environ.get("PROFAI_BIN")
               else BIN)
# Searches of benchmark 6: ten different queries (as in `make load`), each cached by the frontend
# on its own; every one matches the bench course ("Cells divide.").
SEARCH_PATHS = [f"/api/v1/courses?q={q}&limit=10" for q in (
    "cells", "divide", "page", "cells+divide", "cell", "dividing", "pages", "divides",
    "cells+page", "divide+page")]
WORK = ROOT / "build" / "bench-run"
BENCHMARKS = ["throughput", "latency", "failover", "pdf", "pdfpath", "http", "connections",
              "state", "workers"]
# The numbers as names for --only: "5" is pdfpath, "7" is state and workers.
BY_NUMBER = {"1": ["throughput"], "2": ["latency"], "3": ["failover"], "4": ["pdf"],
             "5": ["pdfpath"], "6": ["http", "connections"], "7": ["state", "workers"]}
# What --help says a run takes and counts (docs/performance.md, "Benchmarks", has the same).
TIMES = """\
How long: the full suite (3 runs) takes about 10.5 minutes on an idle 2-core machine (an
estimate from the per-step times of an idle run; it took 19 before the sizes below), besides
the build; the log line per step ([bench HH:MM:SS]), each benchmark's "took N s" and the last
line of the output ("Time per benchmark") say where it went. Estimated per benchmark, idle:
throughput ~3 min, http ~3 min, connections ~1.4 min, pdf ~1.2 min, workers ~35 s,
latency ~25 s, state, pdfpath and failover ~20 s each. A busy machine takes longer: the job
benchmarks are bound by the machine's rates, the HTTP ones by their fixed durations.

What each run counts:
  throughput   20,000 no-op jobs (ProfAI, beanstalkd twice); Celery and the PostgreSQL
               SKIP LOCKED queue 5,000 each (their rates are steady; 20,000 would take the
               SKIP LOCKED queue 90 s)
  latency      1,000 jobs/s offered for 1 s (warm-up, reported apart), then 6 s
  failover     one SIGKILL and one SIGSTOP of a busy worker
  pdf          the Debian PDF manuals, 20 one-page PDFs, one >2,000-page document
  pdfpath      200 small jobs/s for 6 s alone, then beside 2 jobs/s of 32 MiB PDFs, then 200
               small jobs each of its own 256 KiB PDF (1 run)
  http         16 wrk cases of 3 s (after a 1 s warm-up in the first run; servers started
               once for all runs)
  connections  3 upload and 8 GET cases at 5,500 connections, 5 s each (+4 s grace) (1 run)
  state        100,000 queued jobs
  workers      1,000 then 64 worker connections, 500 jobs/s for 8 s, 6 s idle (1 run)
"""
# Documented, not measured: how long a job of a dead worker waits before it runs again.
CELERY_VISIBILITY_S = 3600  # Celery on Redis: visibility_timeout default (1 hour)
BULLMQ_LOCK_S = 30          # BullMQ: lockDuration default (30 s)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of values."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def median(values: list[float]) -> float:
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def parse_kv(line: str) -> dict:
    """'a 1 b 2.5 c x' -> {'a': 1.0, 'b': 2.5, 'c': 'x'}."""
    words = line.split()
    out = {}
    for k, v in zip(words[::2], words[1::2]):
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    return out


def run(argv: list, timeout: float = 900, **kw) -> str:
    out = subprocess.run([str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, timeout=timeout, **kw)
    if out.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({out.returncode}): {out.stderr[-2000:]}"
                           f"{out.stdout[-500:]}")
    return out.stdout


class Table:
    """The one table: benchmark, metric, ProfAI, baseline, baseline's figure, ratio."""

    def __init__(self):
        self.rows: list[tuple] = []

    def add(self, bench: str, metric: str, ours, baseline: str = "", theirs=None,
            higher_better: bool = True, unit: str = ""):
        ratio = ""
        if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)) and theirs \
                and ours == ours and theirs == theirs:
            r = ours / theirs
            ratio = f"{r:.2f}x" if r >= 0.1 else f"{r:.2g}x"
        self.rows.append((bench, metric, self.fmt(ours, unit), baseline,
                          self.fmt(theirs, unit) if theirs is not None else "", ratio))

    @staticmethod
    def fmt(v, unit: str = "") -> str:
        if v is None:
            return ""
        if isinstance(v, str):
            return v
        if v != v:
            return "n/a"
        if abs(v) >= 100:
            text = f"{v:,.0f}"
        elif abs(v) >= 10:
            text = f"{v:.1f}"
        else:
            text = f"{v:.3g}"
        return text + unit

    def markdown(self) -> str:
        head = ("benchmark", "metric", "ProfAI", "baseline (same run)", "baseline", "ratio")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            lines.append("| " + " | ".join(r) + " |")
        return "\n".join(lines)


# ---- the ProfAI stack --------------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.runs = args.runs
        # The long benchmarks (pdfpath, connections, workers) run once unless --runs is given,
        # so that the whole suite stays near 10 minutes on 2 cores.
        self.long_runs = args.runs if args.runs_given else 1
        self.table = Table()
        WORK.mkdir(parents=True, exist_ok=True)
        # On a free port: another checkout's benchmark or tests may hold pg.sh's default.
        self.cluster = PgCluster(WORK / "pg", port=free_port())
        self.cluster.start()
        self.configure()
        self.drop_leftovers()

    def out(self, name: str) -> Path:
        d = WORK / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    def stack(self, name: str) -> Stack:
        # Production heartbeat defaults (1000 ms x 3), quiet logs. No CURVE: the benchmark's
        # own peers (noop_worker, submit_client) speak plain ZMTP, so the figures leave out
        # the encryption a deployment across hosts adds (docs/performance.md).
        stack = Stack(self.cluster, self.out(name), heartbeat_ivl=None, liveness=None,
                      log_level="warn", curve=False)
        if not self.args.keep:
            close = stack.close

            def close_and_drop() -> None:
                close()
                self.cluster.drop_database(stack.dbname)
            stack.close = close_and_drop
        return stack

    def drop_leftovers(self) -> None:
        """Drop the databases of earlier runs (the cluster is kept between runs; --keep keeps
        them too). Left there, autovacuum worked through their tables during later runs'
        measurements: once 0.94 s of CPU in one 7 s run of benchmark 2 (docs/performance.md,
        "Each run's database dropped after it")."""
        import psycopg2
        db = psycopg2.connect(self.cluster.conninfo_for("postgres"))
        try:
            with db.cursor() as cur:
                cur.execute("SELECT datname FROM pg_database WHERE datname ~ '^(t|bq)_'")
                names = [r[0] for r in cur.fetchall()]
        finally:
            db.close()
        for name in names:
            self.cluster.drop_database(name)
        if names:
            log(f"dropped {len(names)} database(s) of earlier runs")

    @staticmethod
    def seed(stack: Stack) -> tuple[str, str]:
        """One owner and one stored PDF: what job.submit needs (docs/protocol.md 3.3)."""
        pdf = b"%PDF-1.4\n% bench\n"
        sha = hashlib.sha256(pdf).hexdigest()
        owner = str(uuid.uuid4())
        stack.query("INSERT INTO users (id, name, role) VALUES (%s, %s, 'teacher') RETURNING id",
                    owner, "bench-" + owner[:8])
        stack.query("INSERT INTO blobs (sha256, size, data) VALUES (%s, %s, %s) RETURNING size",
                    sha, len(pdf), pdf)
        return owner, sha

    def noop(self, stack: Stack, name: str, count: int, *extra) -> Process:
        p = Process(name, [BENCH_BIN / "noop_worker", "-e", stack.endpoint, "-n", count, *extra],
                    stack.outdir / f"{name}.log")
        stack.others.append(p)
        return p.start()

    def submit(self, stack: Stack, owner: str, sha: str, n: int, window: int = 256,
               rate: float = 0, out: Path | None = None) -> dict:
        argv = [BENCH_BIN / "submit_client", "-e", stack.endpoint, "-u", owner, "-s", sha,
                "-n", n, "-w", window, "-r", rate]
        if out is not None:
            argv += ["-o", out]
        return parse_kv(run(argv))

    @staticmethod
    def wait_succeeded(stack: Stack, n: int, timeout: float = 600) -> None:
        wait_for(f"{n} jobs succeeded",
                 lambda: stack.query("SELECT count(*) FROM jobs WHERE state = 'succeeded'")[0][0]
                 >= n, timeout, interval=0.05, on_timeout=stack.log_tails)

    @staticmethod
    def finished(stack: Stack) -> dict[str, float]:
        """job id -> finished_at (epoch seconds): when the broker committed its course."""
        return {str(i): float(t) for i, t in stack.query(
            "SELECT id, extract(epoch FROM finished_at) FROM jobs WHERE state = 'succeeded'")}

    @staticmethod
    def read_subs(path: Path) -> dict[str, tuple[float, float]]:
        subs = {}
        for line in path.read_text().splitlines():
            job, sent, ack = line.split()
            subs[job] = (int(sent) / 1e9, int(ack) / 1e9)
        return subs

    # ---- 1. durable job throughput ----

    # One synthetic teacher submits every job: the per-teacher quotas (docs/jobs.md) would
    # refuse all but the first 500, so the job benchmarks turn them off.
    NO_QUOTAS = {"max_queued_per_owner": 0, "max_bytes_per_owner": 0}

    def profai_throughput(self, n: int, k: int, i: int) -> dict:
        stack = self.stack(f"throughput-{i}")
        try:
            stack.start_broker(**self.NO_QUOTAS)
            owner, sha = self.seed(stack)
            procs = max(1, min(4, k // 16))
            for p in range(procs):
                self.noop(stack, f"noop{p}", k // procs + (1 if p < k % procs else 0))
            stack.wait_workers(k, timeout=30)
            subs_path = stack.outdir / "subs.txt"
            res = self.submit(stack, owner, sha, n, out=subs_path)
            if res["errors"]:
                raise RuntimeError(f"submissions refused: {res}")
            self.wait_succeeded(stack, n)
            subs = self.read_subs(subs_path)
            fin = self.finished(stack)
            t0 = min(s for s, _ in subs.values())
            lat = [fin[j] - s for j, (s, _) in subs.items() if j in fin]
            end = max(fin.values())
            return {"acked_per_s": res["rate"], "jobs_per_s": n / (end - t0),
                    "p50_ms": pct(lat, 50) * 1e3, "p99_ms": pct(lat, 99) * 1e3}
        finally:
            stack.close()

    def beanstalkd(self, n: int, k: int, i: int, fsync_every: bool) -> dict:
        d = self.out(f"beanstalkd-{i}-{int(fsync_every)}")
        binlog = d / "binlog"
        shutil.rmtree(binlog, ignore_errors=True)
        binlog.mkdir()
        port = free_port()
        argv = ["beanstalkd", "-l", "127.0.0.1", "-p", port, "-b", binlog]
        if fsync_every:
            argv += ["-f", "0"]
        p = Process("beanstalkd", argv, d / "beanstalkd.log").start()
        try:
            wait_for("beanstalkd", lambda: self._port_open(port), 10)
            return parse_kv(run([BENCH_BIN / "beanstalk_load", "-p", port, "-n", n, "-k", k]))
        finally:
            p.kill_group()

    def pg_queue(self, n: int, k: int, i: int) -> dict:
        name = "bq_" + uuid.uuid4().hex[:10]
        conninfo = self.cluster.create_database(name)
        try:
            return parse_kv(run([BENCH_BIN / "pg_queue", "-d", conninfo, "-n", n, "-k", k]))
        finally:
            if not self.args.keep:
                self.cluster.drop_database(name)

    def celery(self, n: int, k: int, i: int) -> dict:
        d = self.out(f"celery-{i}")
        shutil.rmtree(d / "redis", ignore_errors=True)
        (d / "redis").mkdir()
        port = free_port()
        redis = Process("redis", ["redis-server", "--port", port, "--bind", "127.0.0.1",
                                  "--dir", d / "redis", "--appendonly", "yes",
                                  "--appendfsync", "everysec", "--save", ""],
                        d / "redis.log").start()
        env = {**os.environ, "BENCH_REDIS_URL": f"redis://127.0.0.1:{port}/0",
               "PYTHONPATH": str(ROOT / "bench")}
        worker = None
        try:
            wait_for("redis", lambda: self._port_open(port), 10)
            worker = Process("celery", [sys.executable, "-m", "celery", "-A", "celery_app",
                                        "worker", "-P", "threads", "-c", k, "-l", "warning",
                                        "--without-heartbeat", "--without-gossip",
                                        "--without-mingle"],
                             d / "celery.log", cwd=ROOT / "bench", env=env).start()
            time.sleep(3 if self.quick else 4)  # the worker connects and subscribes
            return parse_kv(run([sys.executable, ROOT / "bench" / "celery_app.py", n], env=env,
                                cwd=ROOT / "bench"))
        finally:
            if worker:
                worker.kill_group()
            redis.kill_group()

    @staticmethod
    def _port_open(port: int) -> bool:
        import socket
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    # The two slow baselines run fewer jobs than ProfAI and beanstalkd, sized for about 20 s
    # each on an idle 2-core machine rather than the 90 s 20,000 took the PostgreSQL queue
    # (about 220 jobs/s). Their rates are steady over a run: the queue never builds up (the
    # SKIP LOCKED queue's one producer commits about as fast as its consumers take the jobs,
    # puts/s = jobs/s), so a run's rate does not depend on its length past the first second.
    PG_QUEUE_JOBS = 5000
    CELERY_JOBS = 5000

    def bench_throughput(self):
        n = self.args.jobs or (2000 if self.quick else 20000)
        k = self.args.workers
        celery_n = min(n, 2000 if self.quick else self.CELERY_JOBS)
        pg_n = min(n, 2000 if self.quick else self.PG_QUEUE_JOBS)
        ours, bs_def, bs_f0, pgq, cel = [], [], [], [], []
        for i in range(self.runs):
            log(f"throughput run {i + 1}/{self.runs}: ProfAI, {n} jobs, {k} worker connections")
            ours.append(self.profai_throughput(n, k, i))
            log(f"throughput run {i + 1}: beanstalkd (binlog, default fsync), then -f0")
            bs_def.append(self.beanstalkd(n, k, i, False))
            bs_f0.append(self.beanstalkd(n, k, i, True))
            log(f"throughput run {i + 1}: PostgreSQL SKIP LOCKED queue ({pg_n} jobs)")
            pgq.append(self.pg_queue(pg_n, k, i))
            log(f"throughput run {i + 1}: Celery on Redis ({celery_n} jobs)")
            try:
                cel.append(self.celery(celery_n, k, i))
            except Exception as e:  # keep the rest of the table
                log(f"celery failed: {e}")
        m = lambda rows, key: median([r[key] for r in rows])  # noqa: E731
        jobs = m(ours, "jobs_per_s")
        t = self.table
        name = f"1 throughput ({n:,} no-op jobs, {k} workers)"
        t.add(name, "submissions acked/s", m(ours, "acked_per_s"), "beanstalkd puts/s (binlog)",
              m(bs_def, "puts_per_s"))
        t.add(name, "jobs/s end to end", jobs, "beanstalkd, binlog, default fsync (50 ms)",
              m(bs_def, "jobs_per_s"))
        t.add(name, "jobs/s end to end", jobs, "beanstalkd, binlog, fsync every write (-f0)",
              m(bs_f0, "jobs_per_s"))
        t.add(name, "jobs/s end to end", jobs,
              f"PostgreSQL FOR UPDATE SKIP LOCKED ({pg_n:,} jobs)", m(pgq, "jobs_per_s"))
        t.add(name, "jobs/s end to end", jobs,
              f"Celery + Redis (AOF everysec, acks_late; {celery_n:,} jobs)",
              m(cel, "jobs_per_s") if cel else float("nan"))
        t.add(name, "submit-to-complete p50", m(ours, "p50_ms"), unit=" ms")
        t.add(name, "submit-to-complete p99", m(ours, "p99_ms"), unit=" ms")

    # ---- 2. dispatch latency at a steady offered load ----

    def bench_latency(self):
        rate = 1000
        # 6,000 jobs a run: enough for a p99 (60 jobs above it) at a steady 1,000/s.
        seconds = 3 if self.quick else 6
        n = rate * seconds
        warm_n = rate  # one second, measured apart
        k = self.args.workers
        rows = []
        for i in range(self.runs):
            log(f"latency run {i + 1}/{self.runs}: {rate} jobs/s offered for 1 s (warm-up),"
                f" then {seconds} s")
            stack = self.stack(f"latency-{i}")
            try:
                stack.start_broker(**self.NO_QUOTAS)
                owner, sha = self.seed(stack)
                starts = stack.outdir / "starts.txt"
                starts.unlink(missing_ok=True)
                noop = self.noop(stack, "noop", k, "-o", starts)
                stack.wait_workers(k, timeout=30)
                # The first second after the broker and its workers started, at the same rate,
                # is measured apart: the first statements of each connection make their plans
                # and the first REQUEST of each worker connection finds cold caches.
                warm_path = stack.outdir / "warm-up.txt"
                self.submit(stack, owner, sha, warm_n, window=100000, rate=rate, out=warm_path)
                self.wait_succeeded(stack, warm_n)
                subs_path = stack.outdir / "subs.txt"
                if self.args.stages:
                    stack.query("SELECT pg_stat_reset_shared('wal')")
                res = self.submit(stack, owner, sha, n, window=100000, rate=rate, out=subs_path)
                self.wait_succeeded(stack, warm_n + n)
                noop.stop()
                subs = self.read_subs(subs_path)
                warm = self.read_subs(warm_path)
                fin = self.finished(stack)
                start_at = {}
                for line in starts.read_text().splitlines():
                    job, attempt, t = line.split()
                    start_at.setdefault(job, int(t) / 1e9)

                def starts_and_ends(of: dict) -> tuple[list, list]:
                    return ([start_at[j] - s for j, (s, _) in of.items() if j in start_at],
                            [fin[j] - s for j, (s, _) in of.items() if j in fin])
                ack = [a - s for s, a in subs.values()]
                to_start, to_done = starts_and_ends(subs)
                warm_start, warm_done = starts_and_ends(warm)
                after_ack = [start_at[j] - a for j, (_, a) in subs.items() if j in start_at]
                rows.append({"achieved": res["rate"], "ack_p99": pct(ack, 99) * 1e3,
                             "start_p50": pct(to_start, 50) * 1e3,
                             "start_p99": pct(to_start, 99) * 1e3,
                             "done_p50": pct(to_done, 50) * 1e3,
                             "done_p99": pct(to_done, 99) * 1e3,
                             "ack_start_p99": pct(after_ack, 99) * 1e3,
                             "warm_start_p99": pct(warm_start, 99) * 1e3,
                             "warm_done_p99": pct(warm_done, 99) * 1e3,
                             "unsignalled": self.unsignalled(noop)})
                if self.args.stages:
                    self.latency_stages(stack, subs, start_at)
            finally:
                stack.close()
        m = lambda key: median([r[key] for r in rows])  # noqa: E731
        name = f"2 latency ({rate:,} jobs/s offered, {seconds} s)"
        t = self.table
        t.add(name, "submissions acked/s achieved", m("achieved"))
        t.add(name, "submit-to-ack p99", m("ack_p99"), unit=" ms")
        t.add(name, "ack-to-start p99 (dispatch and the worker's side)", m("ack_start_p99"),
              unit=" ms")
        t.add(name, "submit-to-start p50", m("start_p50"), unit=" ms")
        t.add(name, "submit-to-start p99 (target <= 5 ms)", m("start_p99"), unit=" ms")
        t.add(name, "submit-to-complete p50", m("done_p50"), unit=" ms")
        t.add(name, "submit-to-complete p99 (target <= 10 ms)", m("done_p99"), unit=" ms")
        t.add(name, "the warm-up second before (not counted above): submit-to-start p99",
              m("warm_start_p99"), unit=" ms")
        t.add(name, "the warm-up second before (not counted above): submit-to-complete p99",
              m("warm_done_p99"), unit=" ms")
        t.add(name, "REQUESTs the worker found without a wake-up, worst run (its own check)",
              max(r["unsignalled"] for r in rows))

    def configure(self) -> None:
        """--stages: PostgreSQL records each transaction's commit time; --pg-set: the
        settings to compare. Either restarts the cluster, as does a former run's setting left
        in postgresql.auto.conf (the cluster is kept between runs), which is reset."""
        import psycopg2
        db = psycopg2.connect(self.cluster.conninfo)
        db.autocommit = True
        with db.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_file_settings"
                        " WHERE sourcefile LIKE '%postgresql.auto.conf'")
            if not (self.args.stages or self.args.pg_set or cur.fetchone()[0]):
                db.close()
                return
            cur.execute("ALTER SYSTEM RESET ALL")
            if self.args.stages:
                cur.execute("ALTER SYSTEM SET track_commit_timestamp = on")
                cur.execute("ALTER SYSTEM SET track_wal_io_timing = on")
            for setting in self.args.pg_set:
                name, _, value = setting.partition("=")
                if not re.fullmatch(r"[a-z_]+", name):
                    raise SystemExit(f"--pg-set {setting}: not NAME=VALUE")
                cur.execute(f"ALTER SYSTEM SET {name} = %s", (value,))
        db.close()
        self.cluster.stop()
        self.cluster.start()

    def latency_stages(self, stack: Stack, subs: dict, start_at: dict) -> None:
        """--stages: where each job's time went, from the client's clock, the no-op worker's
        and PostgreSQL's (one machine, one CLOCK_REALTIME): each job_events row's `at`
        (clock_timestamp() when its statement ran) and its transaction's commit time."""
        ev, txn = {}, {}
        for job, state, at, commit, xid in stack.query(
                "SELECT job_id, state, extract(epoch FROM at),"
                " extract(epoch FROM pg_xact_commit_timestamp(xmin)), xmin::text FROM job_events"):
            if str(job) not in subs:
                continue  # the warm-up's
            ev.setdefault(str(job), {}).setdefault(state, (float(at), float(commit)))
            t = txn.setdefault(xid, [float(at), float(at), float(commit), 0])
            t[0], t[1], t[3] = min(t[0], float(at)), max(t[1], float(at)), t[3] + 1
        marks = ["sent", "submit ran", "submit committed", "ack at client", "start at worker",
                 "dispatch ran", "dispatch committed", "result ran", "result committed"]
        per = {m: [] for m in marks[1:]}
        total_commit = []
        for job, (sent, ack) in subs.items():
            e = ev.get(job, {})
            if not all(k in e for k in ("queued", "running", "succeeded")) or \
                    job not in start_at:
                continue
            t = [sent, e["queued"][0], e["queued"][1], ack, start_at[job], e["running"][0],
                 e["running"][1], e["succeeded"][0], e["succeeded"][1]]
            for i, m in enumerate(marks[1:], 1):
                per[m].append((t[i] - t[0]) * 1e3)
            total_commit.append((t[-1] - t[0]) * 1e3)
        print(f"\nlatency stages, {len(total_commit)} jobs, ms after the client sent the "
              "submission (p50 / p90 / p99 / max):")
        for m in marks[1:]:
            v = per[m]
            print(f"  {m:20s} {pct(v, 50):7.2f} {pct(v, 90):7.2f} {pct(v, 99):7.2f} "
                  f"{max(v):7.2f}")
        # The store's transactions (one per segment): how many job events each carried, how
        # long from its first event to its commit record, and from that commit record to the
        # next transaction's first event (the WAL flush, the answer's way back to the broker,
        # its loop turn and the next segment's way in: the segment cadence).
        ts = sorted(txn.values(), key=lambda t: t[2])
        rows_per = [t[3] for t in ts]
        run_ms = [(t[2] - t[0]) * 1e3 for t in ts]
        gap_ms = [(b[0] - a[2]) * 1e3 for a, b in zip(ts, ts[1:])]
        print(f"  store transactions {len(ts)}: job events each p50 {pct(rows_per, 50):.0f} "
              f"max {max(rows_per)}; first event to commit record p50 {pct(run_ms, 50):.2f} "
              f"p99 {pct(run_ms, 99):.2f} ms; commit record to the next one's first event "
              f"p50 {pct(gap_ms, 50):.2f} p99 {pct(gap_ms, 99):.2f} ms")
        wal = stack.query("SELECT wal_sync, wal_sync_time, wal_write, wal_write_time"
                          " FROM pg_stat_wal")[0]
        if wal[0]:
            print(f"  WAL during the run (the whole cluster): {wal[0]} syncs, {wal[1] / wal[0]:.2f} ms "
                  f"each on average; {wal[2]} writes, {wal[3] / max(1, wal[2]):.2f} ms each",
                  flush=True)

    # ---- 3. failure detection ----

    def failover_once(self, i: int, how: str) -> float:
        stack = self.stack(f"failover-{how}-{i}")
        try:
            stack.start_broker()
            owner, sha = self.seed(stack)
            held = stack.outdir / "held.txt"
            spare_log = stack.outdir / "spare.txt"
            for f in (held, spare_log):
                f.unlink(missing_ok=True)
            holder = self.noop(stack, "holder", 1, "--hold", "-o", held)
            stack.wait_workers(1, timeout=20)
            self.submit(stack, owner, sha, 1)
            wait_for("the holder to get the job",
                     lambda: held.exists() and held.read_text().strip(), 20)
            job = held.read_text().split()[0]
            self.noop(stack, "spare", 1, "-o", spare_log)
            stack.wait_workers(2, timeout=20)
            t0 = time.time()
            os.kill(holder.pid, signal.SIGKILL if how == "kill" else signal.SIGSTOP)

            def rerun():
                if not spare_log.exists():
                    return None
                for line in spare_log.read_text().splitlines():
                    j, _, t = line.split()
                    if j == job:
                        return int(t) / 1e9
                return None
            t1 = wait_for("the job to run on the spare worker", rerun, 60, interval=0.01)
            return t1 - t0
        finally:
            stack.close()

    def bench_failover(self):
        t = self.table
        name = "3 failure detection (default heartbeats)"
        for how, label in (("kill", "SIGKILL of a busy worker -> job running elsewhere"),
                           ("stop", "SIGSTOP (hung) busy worker -> job running elsewhere")):
            vals = []
            for i in range(self.runs):
                log(f"failover run {i + 1}/{self.runs}: {how}")
                vals.append(self.failover_once(i, how))
            ours = median(vals)
            t.add(name, label + " (target <= 3 s)", ours,
                  "Celery + Redis visibility timeout (documented, not measured)",
                  float(CELERY_VISIBILITY_S), unit=" s")
            t.add(name, label, ours, "BullMQ lock duration (documented, not measured)",
                  float(BULLMQ_LOCK_S), unit=" s")

    # ---- 4. PDF processing ----

    def manuals(self) -> list[Path]:
        d = self.out("pdf")
        files = []
        for pkg in ("auto-multiple-choice-doc-pdf", "docbook-xsl-doc-pdf"):
            try:
                listed = run(["dpkg", "-L", pkg]).split()
            except Exception:
                continue
            for f in listed:
                p = Path(f)
                if p.suffix == ".pdf" and p.is_file():
                    files.append(p)
                elif f.endswith(".pdf.gz") and p.is_file() and not p.is_symlink():
                    dst = d / (p.parent.name + "-" + p.name[:-3])
                    if not dst.exists():
                        dst.write_bytes(gzip.decompress(p.read_bytes()))
                    files.append(dst)
        uniq = {}
        for f in files:
            uniq.setdefault(hashlib.sha256(f.read_bytes()).hexdigest(), f)
        return sorted(uniq.values())

    @staticmethod
    def pages(f: Path) -> int:
        m = re.search(r"^Pages:\s+(\d+)", run(["pdfinfo", f]), re.M)
        return int(m.group(1))

    @staticmethod
    def timed(argv: list, stdin: Path | None = None) -> tuple[float, float]:
        """Run argv; (wall seconds, CPU seconds of the process: user + system)."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        with open(stdin, "rb") if stdin else open(os.devnull, "rb") as inp:
            r = subprocess.run([str(a) for a in argv], stdin=inp, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=900)
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({r.returncode}): {r.stderr[-500:]!r}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu

    def total(self, fn, files: list[Path]) -> tuple[float, float]:
        wall = cpu = 0.0
        for f in files:
            w, c = fn(f)
            wall += w
            cpu += c
        return wall, cpu

    def extract(self, f: Path) -> tuple[float, float]:
        return self.timed([EXTRACT_BIN / "profai-extract", "--title", "Bench", "--filename",
                           f.name, "--max-pages", "0"], stdin=f)

    @staticmethod
    def run_job(f: Path, split_pages: int) -> tuple[float, float]:
        """One job's whole course through the worker's job runner (build/bench/run_job),
        split across processes when f has more than split_pages pages (0: never), on as many
        as this host has cores (worker/split_processes): (wall seconds, processor seconds on
        its critical path, which is its wall time when every extractor has a core)."""
        out = run([BENCH_BIN / "run_job", "-x", EXTRACT_BIN / "profai-extract", "-s", split_pages,
                   f])
        kv = parse_kv(out)
        return kv["wall_s"], kv["cpu_path_s"]

    def pdftotext(self, f: Path) -> tuple[float, float]:
        return self.timed(["pdftotext", f, "-"])

    def pylib(self, lib: str, files: list[Path]) -> float:
        """CPU seconds for a Python library to extract the text of every page of files, in
        one process (interpreter start and import not counted)."""
        code = {
            "fitz": "import fitz\ndef ex(f):\n    d = fitz.open(f)\n"
                    "    for p in d: p.get_text()\n",
            "pypdf": "import pypdf\ndef ex(f):\n    r = pypdf.PdfReader(f)\n"
                     "    for p in r.pages: p.extract_text()\n",
        }[lib]
        code += ("import sys, time\nt = time.process_time()\nfor f in sys.argv[1:]: ex(f)\n"
                 "print(time.process_time() - t)\n")
        return float(run([sys.executable, "-c", code, *files], timeout=1800).strip())

    def bench_pdf(self):
        files = self.manuals()
        if not files:
            log("pdf: no Debian PDF manuals found (auto-multiple-choice-doc-pdf)")
            return
        d = self.out("pdf")
        total_pages = sum(self.pages(f) for f in files)
        # One large document of > 2,000 pages: the manuals joined, repeated as needed.
        big = d / "big.pdf"
        if not big.exists():
            reps = 2000 // total_pages + 1
            run(["qpdf", "--empty", "--pages", *(files * reps), "--", big], timeout=600)
        big_pages = self.pages(big)
        # One-page PDFs: the first pages of the first manual.
        singles = []
        for p in range(1, 21 if not self.quick else 11):
            s = d / f"page-{p}.pdf"
            if not s.exists():
                run(["qpdf", "--empty", "--pages", files[0], str(p), "--", s])
            singles.append(s)
        rows = []
        for i in range(self.runs):
            log(f"pdf run {i + 1}/{self.runs}: {len(files)} manuals, {total_pages} pages")
            ex_wall, ex_cpu = self.total(self.extract, files)
            pt_wall, pt_cpu = self.total(self.pdftotext, files)
            r = {"extract": ex_cpu, "pdftotext": pt_cpu,
                 "one_extract": self.total(self.extract, singles)[1] / len(singles),
                 "one_pdftotext": self.total(self.pdftotext, singles)[1] / len(singles)}
            if not self.quick or i == 0:
                r["big_extract"], r["big_extract_cpu"] = self.extract(big)
                r["big_pdftotext"], r["big_pdftotext_cpu"] = self.pdftotext(big)
                r["big_split"], r["big_split_cpu"] = self.run_job(big, 200)
                r["fitz"] = self.pylib("fitz", files)
            if i == 0:  # pure Python: about 50 s for the manuals, so once
                r["pypdf"] = self.pylib("pypdf", files)
            rows.append(r)
        m = lambda key: median([r[key] for r in rows if key in r])  # noqa: E731
        t = self.table
        name = f"4 PDF ({len(files)} Debian manuals, {total_pages} pages, per CPU second)"
        ours = total_pages / m("extract")
        t.add(name, "whole course pages/s (profai-extract)", ours,
              "pdftotext pages/s (target >= 0.9x)", total_pages / m("pdftotext"))
        t.add(name, "whole course pages/s (profai-extract)", ours, "PyMuPDF get_text pages/s",
              total_pages / m("fitz"))
        t.add(name, "whole course pages/s (profai-extract)", ours, "pypdf extract_text pages/s",
              total_pages / m("pypdf"))
        t.add(name, "course CPU time / pdftotext CPU time (target <= 1.5x)",
              f"{m('extract') / m('pdftotext'):.2f}x")
        t.add(name, "one-page PDF, CPU per job: one profai-extract process",
              m("one_extract") * 1e3, "one pdftotext process", m("one_pdftotext") * 1e3,
              higher_better=False, unit=" ms")
        t.add(f"4 PDF (one {big_pages:,}-page document)",
              "whole course time, one process",
              m("big_extract"), "one pdftotext process", m("big_pdftotext"),
              higher_better=False, unit=" s")
        t.add(f"4 PDF (one {big_pages:,}-page document)",
              f"whole course time, the worker's runner, split over {os.cpu_count()} processes "
              "(target <= 0.6x)",
              m("big_split"), "one pdftotext process", m("big_pdftotext"),
              higher_better=False, unit=" s")
        # On a shared machine the wall times above depend on the other load; the processor
        # time on the critical path does not, and is the wall time of an idle host.
        t.add(f"4 PDF (one {big_pages:,}-page document)",
              "CPU time on the critical path, one process",
              m("big_extract_cpu"), "one pdftotext process, CPU time", m("big_pdftotext_cpu"),
              higher_better=False, unit=" s")
        t.add(f"4 PDF (one {big_pages:,}-page document)",
              f"CPU time on the critical path, split over {os.cpu_count()} processes "
              "(the first extractor + the slowest part + the merge)",
              m("big_split_cpu"), "one pdftotext process, CPU time", m("big_pdftotext_cpu"),
              higher_better=False, unit=" s")

    # ---- 6. HTTP reads ----

    @staticmethod
    def _nofile():
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    def wrk(self, url: str, token: str, conns: int, seconds: int) -> dict:
        out = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency",
                              "--timeout", "10s", "-H", f"Authorization: Bearer {token}", url],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=seconds + 60, preexec_fn=self._nofile).stdout
        rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
        p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                         out)
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
        answered = rps is not None and float(rps.group(1)) > 0
        return {"rps": float(rps.group(1)) if rps else float("nan"),
                # no answer in the run: wrk prints a p99 of 0, which is none ("n/a")
                "p99_ms": float(p99.group(1)) * scale[p99.group(2)] if p99 and answered
                else float("nan"),
                "errors": sum(int(x) for x in errs.groups()) if errs else 0,
                "non2xx": int(non2xx.group(1)) if non2xx else 0}

    def http_servers(self, stack: Stack) -> tuple[dict, dict, list]:
        """ProfAI's frontend, the minimal civetweb handler and the FastAPI app, all serving
        one job and its course; (urls by server, tokens, the processes to stop)."""
        teacher = stack.create_token("teacher", "bench-teacher")
        student = stack.create_token("student", "bench-student")
        owner = stack.query("SELECT id::text FROM users WHERE name = 'bench-teacher'")[0][0]
        pdf = b"%PDF-1.4\n% bench\n"
        sha = hashlib.sha256(pdf).hexdigest()
        stack.query("INSERT INTO blobs (sha256, size, data) VALUES (%s, %s, %s) RETURNING 1",
                    sha, len(pdf), pdf)
        self.noop(stack, "noop", 1)
        stack.wait_workers(1)
        self.submit(stack, owner, sha, 1)
        self.wait_succeeded(stack, 1, timeout=60)
        job_id, course_id = stack.query(
            "SELECT id::text, course_id::text FROM jobs WHERE state = 'succeeded'")[0]
        stack.publish_to_students(course_id)  # students read published courses only
        paths = {"job": f"/api/v1/jobs/{job_id}", "course": f"/api/v1/courses/{course_id}",
                 "search": SEARCH_PATHS[0], "upload": "/api/v1/jobs?title=Bench"}
        tokens = {"job": teacher, "course": student, "search": student, "upload": teacher}
        procs = []
        # ProfAI's frontend with its default settings (threads 64, pool 64, caches on), but
        # no per-user rate limit.
        port = free_port()
        conf = stack._write_conf("frontend-bench", {
            "http": {"listen": f"127.0.0.1:{port}"},
            "broker": {"endpoint": stack.endpoint},
            "database": {"conninfo": stack.conninfo},
            # One synthetic user makes every request: its per-user rate limit would answer 429.
            "limits": {"read_rate": 100000000, "read_burst": 100000000,
                       "upload_rate": 1000000, "upload_burst": 1000000},
            "log": {"level": "warn"}})
        procs.append(Process("frontend", [BIN / "profai-frontend", "-c", conf],
                             stack.outdir / "frontend.log"))
        urls = {"ProfAI": f"http://127.0.0.1:{port}"}
        import requests
        answers = {}
        procs[-1].start()
        wait_for("the frontend", lambda: requests.get(urls["ProfAI"] + paths["job"], timeout=2,
                 headers={"Authorization": f"Bearer {teacher}"}).status_code == 200, 30)
        for what in ("job", "course", "search"):
            r = requests.get(urls["ProfAI"] + paths[what], timeout=10,
                             headers={"Authorization": f"Bearer {tokens[what]}"})
            answers[what] = stack.outdir / f"{what}.json"
            answers[what].write_bytes(r.content)
        port = free_port()
        procs.append(Process("min_civetweb", [BENCH_BIN / "min_civetweb", "-p", port, "-t", 64,
                                              "-j", answers["job"], "-c", answers["course"],
                                              "-s", answers["search"]],
                             stack.outdir / "min_civetweb.log").start())
        urls["minimal civetweb handler (64 threads)"] = f"http://127.0.0.1:{port}"
        port = free_port()
        env = {**os.environ, "BENCH_CONNINFO": stack.conninfo, "PYTHONPATH": str(ROOT / "bench")}
        procs.append(Process("uvicorn", [sys.executable, "-m", "uvicorn", "fastapi_app:app",
                                         "--host", "127.0.0.1", "--port", port, "--workers", 2,
                                         "--log-level", "warning", "--no-access-log"],
                             stack.outdir / "uvicorn.log", cwd=ROOT / "bench", env=env).start())
        urls["FastAPI/uvicorn (2 workers)"] = f"http://127.0.0.1:{port}"
        for name, base in urls.items():
            wait_for(name, lambda b=base: requests.get(b + paths["job"], timeout=2, headers={
                "Authorization": f"Bearer {teacher}"}).status_code == 200, 30)
        stack.others.extend(procs)
        # The FastAPI app (the first version's stack) has the two item reads only.
        return {n: {w: b + p for w, p in paths.items()
                    if "FastAPI" not in n or w in ("job", "course")}
                for n, b in urls.items()}, tokens, procs

    # Benchmark 6's wrk runs: 16 cases (3 servers, 3 reads, 2 connection counts; FastAPI has
    # no search) of HTTP_SECONDS each per run, after one warm-up of HTTP_WARMUP_SECONDS per
    # case in the first run only: the servers start once for the whole benchmark, so the later
    # runs find their threads, pools and caches warm already.
    HTTP_SECONDS = 3
    HTTP_WARMUP_SECONDS = 1

    def bench_http(self):
        seconds = 2 if self.quick else self.HTTP_SECONDS
        results: dict = {}
        stack = self.stack("http")
        try:
            stack.start_broker()
            urls, tokens, _ = self.http_servers(stack)
            # FastAPI/uvicorn goes last, all its runs together: it collapses under these
            # loads and keeps working through the backlog (with PostgreSQL) after wrk has
            # gone, which took two thirds of the CPU from the cases measured after it.
            slow = [name for name in urls if "FastAPI" in name]
            for group in ([name for name in urls if name not in slow], slow):
                for i in range(self.runs):
                    for conns in (100, 1000):
                        for what in ("job", "course", "search"):
                            for server in group:
                                by_what = urls[server]
                                if what not in by_what:
                                    continue
                                log(f"http run {i + 1}/{self.runs}: {server}, GET {what}, "
                                    f"{conns} connections, {seconds} s")
                                if i == 0:  # warm-up (connections, pools, caches), uncounted
                                    self.wrk(by_what[what], tokens[what], conns,
                                             self.HTTP_WARMUP_SECONDS)
                                r = self.wrk(by_what[what], tokens[what], conns, seconds)
                                results.setdefault((conns, what, server), []).append(r)
        finally:
            stack.close()
        t = self.table
        ours_name = "ProfAI"
        for conns in (100, 1000):
            for what, label in (("job", "GET /api/v1/jobs/{id}"),
                                ("course", "GET /api/v1/courses/{id} (cached)"),
                                ("search", "GET /api/v1/courses?q= (search, cached)")):
                name = f"6 HTTP {label}, {conns:,} connections, wrk {seconds} s"
                ours = results[(conns, what, ours_name)]
                m = lambda rows, key: median([r[key] for r in rows])  # noqa: E731
                for server, rows in results.items():
                    if server[:2] != (conns, what) or server[2] == ours_name:
                        continue
                    target = " (target >= 0.5x)" if "civetweb" in server[2] and \
                        what in ("course", "search") else ""
                    t.add(name, "requests/s" + target, m(ours, "rps"), server[2],
                          m(rows, "rps"))
                    t.add(name, "p99 latency", m(ours, "p99_ms"), server[2], m(rows, "p99_ms"),
                          unit=" ms")
                errors = {s[2]: (m(r, "errors"), m(r, "non2xx")) for s, r in results.items()
                          if s[:2] == (conns, what)}
                t.add(name, "socket errors / non-2xx (ProfAI; " + "; ".join(
                    f"{k}: {int(e)}/{int(n)}" for k, (e, n) in errors.items()
                    if k != ours_name) + ")",
                    f"{int(errors[ours_name][0])}/{int(errors[ours_name][1])}")

    # ---- 6. (b) HTTP at 5,500 connections, connect time counted ----

    def edge(self, stack: Stack, frontend_url: str) -> tuple[str, Process]:
        """nginx from conf/edge.conf.in in front of the frontend, as `make run` deploys it."""
        d = stack.outdir / "edge"
        (d / "tmp").mkdir(parents=True, exist_ok=True)
        port = free_port()
        nofile = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 65536)
        conf = (ROOT / "conf" / "edge.conf.in").read_text()
        for k, v in {"@EDGE_DIR@": str(d), "@LISTEN@": f"127.0.0.1:{port}",
                     "@FRONTEND@": frontend_url.split("//", 1)[1],
                     "@MAX_BODY@": str(64 * 1024 * 1024 + 65536), "@NOFILE@": str(nofile)}.items():
            conf = conf.replace(k, v)
        if os.getuid() == 0:  # run.sh drops to an unprivileged user; here the files are ours
            conf = "user root;\n" + conf
        (d / "nginx.conf").write_text(conf)
        p = Process("edge", ["nginx", "-e", "stderr", "-p", d, "-c", d / "nginx.conf"],
                    stack.outdir / "edge.log").start()
        stack.others.append(p)
        wait_for("the edge", lambda: self._port_open(port), 20)
        return f"http://127.0.0.1:{port}", p

    # Benchmark 6 at 5,500 connections: each case runs CONN_SECONDS, then requests still
    # unanswered get CONN_GRACE_SECONDS more before they count as timeouts. A server that
    # cannot serve every connection (the minimal handler's 64 threads, uvicorn) holds the
    # client for the whole grace, so the longest waits it shows are at least the run's length
    # plus the grace: read them as "more than".
    CONN_SECONDS = 5
    CONN_GRACE_SECONDS = 4

    def conn_load(self, base: str, paths: list, token: str, conns: int, seconds: float,
                  think: float = 1.0, body: Path | None = None) -> dict:
        """bench/conn_load.c against base (http://ADDR:PORT): its one line as a dict."""
        argv = [BENCH_BIN / "conn_load", "-p", base.rsplit(":", 1)[1], "-T", token, "-n", conns,
                "-s", seconds, "-k", think, "--grace", self.CONN_GRACE_SECONDS]
        for path in paths:
            argv += ["--path", path]
        if body is not None:
            argv += ["--body", body]
        return parse_kv(run(argv, timeout=seconds + 120, preexec_fn=self._nofile))

    def uploads(self, base: str, path: str, token: str, pid: int, conns: int, seconds: float,
                body: Path) -> dict:
        """conns concurrent uploads of body, back to back, for seconds; with the growth of the
        resident memory of process pid over its level before (sampled every 20 ms)."""
        before = vm_rss_kb(pid) / 1024
        peak = [before]
        done = threading.Event()

        def sample():
            while not done.wait(0.02):
                peak[0] = max(peak[0], vm_rss_kb(pid) / 1024)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            r = self.conn_load(base, [path], token, conns, seconds, think=0, body=body)
        finally:
            done.set()
            sampler.join()
        r["rss_growth_per_upload_mb"] = (peak[0] - before) / conns
        return r

    def bench_connections(self):
        """Benchmark 6 at 5,500 connections (and uploads), with bench/conn_load.c."""
        conns = 5500
        seconds = 4 if self.quick else self.CONN_SECONDS
        upload_conns, upload_mb = 16, 4
        edge_name = "ProfAI (nginx edge + frontend, as make run)"
        results: dict = {}
        for i in range(self.long_runs):
            stack = self.stack(f"connections-{i}")
            try:
                stack.start_broker()
                urls, tokens, procs = self.http_servers(stack)
                frontend_pid = procs[0].pid
                civetweb_pid = procs[1].pid
                base = {k: v["course"].split("/api/", 1)[0] for k, v in urls.items()}
                edge_url, _ = self.edge(stack, base["ProfAI"])
                path = {w: "/api/" + u.split("/api/", 1)[1] for w, u in urls["ProfAI"].items()}
                civetweb = "minimal civetweb handler (64 threads)"
                servers = {edge_name: edge_url, **{
                    ("ProfAI frontend alone" if k == "ProfAI" else k): v for k, v in base.items()}}
                # Uploads first, while the frontend's memory is at its resting level: a PDF
                # header then random bytes (the frontend checks only the header).
                body = stack.outdir / "upload.pdf"
                body.write_bytes(b"%PDF-1.4\n" + os.urandom(upload_mb * 1024 * 1024))
                for server, b, pid in ((edge_name, edge_url, frontend_pid),
                                       ("ProfAI frontend alone", base["ProfAI"], frontend_pid),
                                       (civetweb, base[civetweb], civetweb_pid)):
                    log(f"connections run {i + 1}/{self.long_runs}: {server}, {upload_conns} "
                        f"concurrent uploads of {upload_mb} MiB, {seconds} s")
                    results.setdefault(("upload", server), []).append(self.uploads(
                        b, path["upload"], tokens["upload"], pid, upload_conns, seconds, body))
                cases = [(what, server) for what, names in (
                    ("course", list(servers)), ("job", [edge_name, civetweb]),
                    ("search", [edge_name, civetweb])) for server in names]
                # FastAPI/uvicorn last: its backlog outlives its case (bench_http).
                cases.sort(key=lambda case: "FastAPI" in case[1])
                for what, server in cases:
                    log(f"connections run {i + 1}/{self.long_runs}: {server}, GET {what}, "
                        f"{conns} connections, {seconds} s")
                    paths = SEARCH_PATHS if what == "search" else [path[what]]
                    results.setdefault((what, server), []).append(self.conn_load(
                        servers[server], paths, tokens[what], conns, seconds))
            finally:
                stack.close()
        t = self.table
        m = lambda rows, key: median([r[key] for r in rows])  # noqa: E731
        for what, label in (("course", "GET /api/v1/courses/{id} (cached)"),
                            ("job", "GET /api/v1/jobs/{id}"),
                            ("search", "GET /api/v1/courses?q= (search, cached, 10 queries)")):
            name = (f"6 HTTP {label}, {conns:,} connections, 1 s think time, {seconds} s "
                    f"(+{self.CONN_GRACE_SECONDS} s grace), connect counted")
            ours = results[(what, edge_name)]
            for (w, server), rows in results.items():
                if w != what or server == edge_name:
                    continue
                t.add(name, "connections served (target: all)", m(ours, "served"), server,
                      m(rows, "served"))
                t.add(name, "longest wait for a first answer (target <= 1 s)",
                      m(ours, "first_max_ms"), server, m(rows, "first_max_ms"), unit=" ms",
                      higher_better=False)
                t.add(name, "p99 latency, connect counted", m(ours, "p99_ms"), server,
                      m(rows, "p99_ms"), unit=" ms", higher_better=False)
                t.add(name, "answers/s", m(ours, "rps"), server, m(rows, "rps"))
                t.add(name, "connection errors / non-2xx", f"{m(ours, 'errors'):.0f} / "
                      f"{m(ours, 'non2xx'):.0f}", server,
                      f"{m(rows, 'errors'):.0f} / {m(rows, 'non2xx'):.0f}")
            t.add(name, "client: longest lateness of a due connect or request",
                  m(ours, "late_max_ms"), unit=" ms")
        name = (f"6 HTTP uploads (POST /api/v1/jobs, raw {upload_mb} MiB PDF), {upload_conns} "
                f"at once, back to back, {seconds} s")
        ours = results[("upload", edge_name)]
        for (w, server), rows in results.items():
            if w != "upload" or server == edge_name:
                continue
            t.add(name, "MB/s accepted (202)", m(ours, "mb_per_s"), server, m(rows, "mb_per_s"))
            t.add(name, "p99 upload time", m(ours, "p99_ms"), server, m(rows, "p99_ms"),
                  unit=" ms", higher_better=False)
            t.add(name, "peak resident memory growth per concurrent upload",
                  m(ours, "rss_growth_per_upload_mb"), server,
                  m(rows, "rss_growth_per_upload_mb"), unit=" MB", higher_better=False)
            t.add(name, "errors / non-2xx", f"{m(ours, 'errors'):.0f} / "
                  f"{m(ours, 'non2xx'):.0f}", server,
                  f"{m(rows, 'errors'):.0f} / {m(rows, 'non2xx'):.0f}")

    # ---- 7. scale of state ----

    def state_once(self, m: int, k: int, i: int) -> dict:
        stack = self.stack(f"state-{i}")
        try:
            stack.start_broker()
            owner, sha = self.seed(stack)
            stack.broker.stop()
            # m queued jobs, as m acknowledged submissions would leave them.
            stack.query("INSERT INTO jobs (id, owner_id, title, filename, blob_sha256) "
                        "SELECT gen_random_uuid(), %s, 'Bench', 'b.pdf', %s "
                        "FROM generate_series(1, %s) RETURNING 1", owner, sha, m)
            t0 = time.monotonic()
            stack.start_broker(wait=False)
            wait_for(f"the broker to count {m} queued jobs",
                     lambda: (stack.ping(0.5) or {}).get("queued", 0) >= m, 120,
                     on_timeout=stack.log_tails)
            ready = time.monotonic() - t0
            rss = vm_rss_kb(stack.broker.pid) / 1024
            # Restart with workers waiting: time from the broker's start to the first REQUEST.
            starts = stack.outdir / "starts.txt"
            starts.unlink(missing_ok=True)
            self.noop(stack, "noop", k, "-o", starts)
            stack.wait_workers(k, timeout=30)
            stack.broker.stop()
            t0 = time.time()
            stack.start_broker(wait=False)

            def first_after():
                if not starts.exists():
                    return None
                times = [int(line.split()[2]) / 1e9 for line in starts.read_text().splitlines()]
                later = [x for x in times if x > t0]
                return min(later) if later else None
            first = wait_for("the first dispatch after the restart", first_after, 120,
                             interval=0.01, on_timeout=stack.log_tails)
            return {"ready_s": ready, "rss_mb": rss, "restart_s": first - t0}
        finally:
            stack.close()

    def bench_state(self):
        m = 20000 if self.quick else 100000
        k = self.args.workers
        rows = []
        for i in range(self.runs):
            log(f"state run {i + 1}/{self.runs}: {m} queued jobs")
            rows.append(self.state_once(m, k, i))
        md = lambda key: median([r[key] for r in rows])  # noqa: E731
        name = f"7 scale of state ({m:,} queued jobs)"
        t = self.table
        t.add(name, "broker resident memory (target <= 100 MB)", md("rss_mb"), unit=" MB")
        t.add(name, "broker start to PING counting them all", md("ready_s"), unit=" s")
        t.add(name, "broker restart to first dispatch (target <= 5 s)", md("restart_s"),
              unit=" s")


    # ---- 5. the PDF's path: small jobs' dispatch while large PDFs pass the broker ----

    @staticmethod
    def cpu_s(pid: int, thread: int | None = None) -> float:
        """CPU seconds (user + system) a process (or one of its threads) has used so far."""
        path = f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat"
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def pdfpath_phase(self, stack: Stack, owner: str, small_sha: str, big_sha: str | None,
                      rate: int, seconds: int, big_rate: float, starts: Path, tag: str) -> dict:
        """Small jobs at `rate`/s for `seconds`, with (big_sha) large-PDF jobs at `big_rate`/s
        submitted alongside by a second client; their submit-to-start percentiles."""
        base = stack.query("SELECT count(*) FROM jobs WHERE state = 'succeeded'")[0][0]
        cpu0 = self.cpu_s(stack.broker.pid)
        # The loop's own thread (its id is the process's): the blob endpoint's threads and
        # libzmq's I/O threads are the rest of the process.
        loop0 = self.cpu_s(stack.broker.pid, stack.broker.pid)
        small_subs = stack.outdir / f"small-{tag}.txt"
        big_subs = stack.outdir / f"big-{tag}.txt"
        n_big = int(big_rate * seconds) if big_sha else 0
        big = None
        if n_big:
            big = subprocess.Popen([str(a) for a in [
                BENCH_BIN / "submit_client", "-e", stack.endpoint, "-u", owner, "-s", big_sha,
                "-n", n_big, "-w", 100000, "-r", big_rate, "-o", big_subs]],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.submit(stack, owner, small_sha, rate * seconds, window=100000, rate=rate,
                    out=small_subs)
        if big is not None:
            big.communicate(timeout=300)
        self.wait_succeeded(stack, base + rate * seconds + n_big, timeout=300)
        cpu = self.cpu_s(stack.broker.pid) - cpu0
        loop = self.cpu_s(stack.broker.pid, stack.broker.pid) - loop0
        start_at = {}
        for line in starts.read_text().splitlines():
            job, _, t = line.split()
            start_at.setdefault(job, int(t) / 1e9)
        small = self.read_subs(small_subs)
        lat = [start_at[j] - s for j, (s, _) in small.items() if j in start_at]
        ack = [a - s for s, a in small.values()]
        r = {"p50": pct(lat, 50) * 1e3, "p99": pct(lat, 99) * 1e3, "ack_p99": pct(ack, 99) * 1e3,
             "max": max(lat) * 1e3 if lat else float("nan"), "broker_cpu": cpu,
             "loop_cpu": loop}
        if n_big:
            bigs = self.read_subs(big_subs)
            blat = [start_at[j] - s for j, (s, _) in bigs.items() if j in start_at]
            r["big_p50"] = pct(blat, 50) * 1e3
            r["big_n"] = len(bigs)
        return r

    DISTINCT_KIB = 256

    def pdfpath_distinct(self, stack: Stack, owner: str, n: int) -> float:
        """n small jobs at 100/s, each of its own DISTINCT_KIB KiB PDF (as teachers upload: a
        PDF read once, never cached); the broker loop thread's CPU ms per job."""
        shas = []
        for _ in range(n):
            pdf = b"%PDF-1.4\n" + os.urandom(self.DISTINCT_KIB * 1024 - 9)
            sha = hashlib.sha256(pdf).hexdigest()
            stack.query("INSERT INTO blobs (sha256, size, data) VALUES (%s, %s, %s) "
                        "RETURNING size", sha, len(pdf), pdf)
            shas.append(sha)
        sha_path = stack.outdir / "distinct-shas.txt"
        sha_path.write_text("\n".join(shas) + "\n")
        base = stack.query("SELECT count(*) FROM jobs WHERE state = 'succeeded'")[0][0]
        loop0 = self.cpu_s(stack.broker.pid, stack.broker.pid)
        run([BENCH_BIN / "submit_client", "-e", stack.endpoint, "-u", owner, "-S", sha_path,
             "-n", n, "-w", 100000, "-r", 100])
        self.wait_succeeded(stack, base + n, timeout=300)
        return (self.cpu_s(stack.broker.pid, stack.broker.pid) - loop0) / n * 1e3

    def bench_pdfpath(self):
        mib = 16 if self.quick else 32
        rate, seconds, big_rate = 200, (3 if self.quick else 6), 2.0
        rows = []
        for i in range(self.long_runs):
            log(f"pdfpath run {i + 1}/{self.long_runs}: {rate} small jobs/s for {seconds} s, "
                f"alone, then beside {big_rate:g} jobs/s of {mib} MiB PDFs")
            stack = self.stack(f"pdfpath-{i}")
            try:
                # Large PDFs by reference from the blob endpoint (docs/protocol.md 3.6), or
                # with --pdf-inline in every REQUEST through the broker's loop, as before 1.2.
                inline = self.args.pdf_inline
                stack.start_broker(**self.NO_QUOTAS, **({"blob_endpoint": ""} if inline else {}))
                owner, small_sha = self.seed(stack)
                pdf = b"%PDF-1.4\n" + os.urandom(mib * 1024 * 1024 - 9)
                big_sha = hashlib.sha256(pdf).hexdigest()
                stack.query("INSERT INTO blobs (sha256, size, data) VALUES (%s, %s, %s) "
                            "RETURNING size", big_sha, len(pdf), pdf)
                del pdf
                starts = stack.outdir / "starts.txt"
                starts.unlink(missing_ok=True)
                self.noop(stack, "noop", 16, "-o", starts, *([] if inline else ["-F"]))
                stack.wait_workers(16, timeout=30)
                alone = self.pdfpath_phase(stack, owner, small_sha, None, rate, seconds, 0,
                                           starts, "alone")
                beside = self.pdfpath_phase(stack, owner, small_sha, big_sha, rate, seconds,
                                            big_rate, starts, "beside")
                distinct = self.pdfpath_distinct(stack, owner, 100 if self.quick else 200)
                n_small = rate * seconds
                rows.append({"alone_p50": alone["p50"], "alone_p99": alone["p99"],
                             "beside_p50": beside["p50"], "beside_p99": beside["p99"],
                             "beside_max": beside["max"], "big_p50": beside["big_p50"],
                             "alone_ack": alone["ack_p99"], "beside_ack": beside["ack_p99"],
                             "cpu_small": alone["broker_cpu"] / n_small * 1e3,
                             "loop_small": alone["loop_cpu"] / n_small * 1e3,
                             "loop_distinct": distinct,
                             "loop_big": (beside["loop_cpu"] - alone["loop_cpu"])
                             / beside["big_n"] * 1e3,
                             "cpu_big": (beside["broker_cpu"] - alone["broker_cpu"])
                             / beside["big_n"] * 1e3})
            finally:
                stack.close()
        m = lambda key: median([r[key] for r in rows])  # noqa: E731
        t = self.table
        name = (f"5 PDF path ({rate} small jobs/s for {seconds} s, 16 workers; beside: "
                f"{big_rate:g} jobs/s of {mib} MiB PDFs, "
                f"{'inline' if self.args.pdf_inline else 'fetched from the blob endpoint'})")
        t.add(name, "small jobs submit-to-start p50, beside large PDFs", m("beside_p50"),
              "same, small jobs alone", m("alone_p50"), unit=" ms")
        t.add(name, "small jobs submit-to-start p99, beside large PDFs", m("beside_p99"),
              "same, small jobs alone", m("alone_p99"), unit=" ms")
        t.add(name, "small jobs submit-to-start max, beside large PDFs", m("beside_max"),
              unit=" ms")
        t.add(name, "small jobs submit-to-ack p99 (the INSERT's commit), beside large PDFs",
              m("beside_ack"), "same, small jobs alone", m("alone_ack"), unit=" ms")
        t.add(name, f"{mib} MiB job submit-to-start p50", m("big_p50"), unit=" ms")
        t.add(name, f"broker CPU per {mib} MiB job", m("cpu_big"),
              "broker CPU per small job", m("cpu_small"), unit=" ms")
        # A difference of two phases' loop CPU: a large job's share is small beside 1,200 small
        # jobs, so the difference can fall below 0, which says "within the runs' noise".
        t.add(name, f"broker loop-thread CPU per {mib} MiB job (beside minus alone; "
              "below 0: within the noise)", m("loop_big"), unit=" ms")
        t.add(name, f"broker loop-thread CPU per small job, each its own "
              f"{self.DISTINCT_KIB} KiB PDF", m("loop_distinct"),
              "same, all of one PDF", m("loop_small"), unit=" ms")

    # ---- 7. (b) 1,000 connected workers ----

    @staticmethod
    def unsignalled(noop: Process) -> float:
        """The no-op worker's own check, printed at its exit: REQUESTs it read without their
        socket's ZMQ_FD having signalled (each waited for a heartbeat's read)."""
        found = re.findall(r"(\d+) requests found without a wake-up", noop.log_path.read_text())
        return float(found[-1]) if found else float("nan")

    @staticmethod
    def metric(stack: Stack, name: str) -> float:
        import requests
        text = requests.get(stack.metrics_url, timeout=5).text
        m = re.search(rf"^{re.escape(name)} ([\d.e+]+)$", text, re.M)
        return float(m.group(1)) if m else float("nan")

    def workers_once(self, k: int, rate: int, seconds: int, idle: int, tag: str) -> dict:
        stack = self.stack(f"workers-{tag}")
        try:
            stack.start_broker(**self.NO_QUOTAS)
            owner, sha = self.seed(stack)
            starts = stack.outdir / "starts.txt"
            starts.unlink(missing_ok=True)
            # Threads of the load generator (--noop-threads). It waits in epoll: its former
            # zmq_poll through all 1,000 sockets per wake-up held each REQUEST (docs/
            # performance.md, "Dispatch latency: ..."); real workers are processes of their own.
            noop = self.noop(stack, "noop", k, "-o", starts, "-t", self.args.noop_threads)
            stack.wait_workers(k, timeout=120)
            expired0 = self.metric(stack, "profai_broker_heartbeats_missed_total")
            subs_path = stack.outdir / "subs.txt"
            n = rate * seconds
            self.submit(stack, owner, sha, n, window=100000, rate=rate, out=subs_path)
            self.wait_succeeded(stack, n)
            time.sleep(idle)  # every connection idle, heartbeating
            expired = self.metric(stack, "profai_broker_heartbeats_missed_total") - expired0
            workers = (stack.ping(2) or {}).get("workers", 0)
            rss = vm_rss_kb(stack.broker.pid) / 1024
            noop.stop()
            restarts = re.findall(r"(\d+) restarts", noop.log_path.read_text())
            unsignalled = self.unsignalled(noop)
            subs = self.read_subs(subs_path)
            start_at = {}
            for line in starts.read_text().splitlines():
                job, _, t = line.split()
                start_at.setdefault(job, int(t) / 1e9)
            lat = [start_at[j] - s for j, (s, _) in subs.items() if j in start_at]
            # From the acknowledgement (the submission's commit, as the client saw it) to the
            # REQUEST at the worker: the broker's dispatch and the worker's side, without the
            # commit before it.
            after_ack = [start_at[j] - a for j, (_, a) in subs.items() if j in start_at]
            return {"p50": pct(lat, 50) * 1e3, "p99": pct(lat, 99) * 1e3,
                    "ack_start_p50": pct(after_ack, 50) * 1e3,
                    "ack_start_p99": pct(after_ack, 99) * 1e3,
                    "expired": expired, "workers": workers, "rss": rss,
                    "restarts": float(restarts[-1]) if restarts else float("nan"),
                    "unsignalled": unsignalled}
        finally:
            stack.close()

    def bench_workers(self):
        k, few = 1000, 64
        rate, seconds = 500, (3 if self.quick else 8)
        # Two whole liveness windows (3 s) with every connection idle: a false expiry shows.
        idle = 5 if self.quick else 6
        rows, base = [], []
        for i in range(self.long_runs):
            log(f"workers run {i + 1}/{self.long_runs}: {k} worker connections, then {few}; "
                f"{rate} jobs/s for {seconds} s, then {idle} s idle")
            rows.append(self.workers_once(k, rate, seconds, idle, f"{k}-{i}"))
            base.append(self.workers_once(few, rate, seconds, idle, f"{few}-{i}"))
        m = lambda rs, key: median([r[key] for r in rs])  # noqa: E731
        worst = lambda key: max(r[key] for r in rows)  # noqa: E731
        name = (f"7 scale of state ({k:,} worker connections, {rate} jobs/s for {seconds} s, "
                f"then {idle} s idle)")
        other = f"same, {few} worker connections"
        t = self.table
        t.add(name, "submit-to-start p50", m(rows, "p50"), other, m(base, "p50"), unit=" ms")
        t.add(name, "submit-to-start p99 (target <= 5 ms)", m(rows, "p99"), other,
              m(base, "p99"), unit=" ms")
        t.add(name, "ack-to-start p50 (dispatch and the worker's side)", m(rows, "ack_start_p50"),
              other, m(base, "ack_start_p50"), unit=" ms")
        t.add(name, "ack-to-start p99", m(rows, "ack_start_p99"), other,
              m(base, "ack_start_p99"), unit=" ms")
        t.add(name, "workers expired by the broker, worst run (target 0)", worst("expired"))
        t.add(name, "worker connections that gave up on the broker, worst run",
              worst("restarts"))
        t.add(name, "REQUESTs the worker found without a wake-up, worst run (its own check)",
              worst("unsignalled"))
        t.add(name, "workers the broker counts at the end", m(rows, "workers"))
        t.add(name, "broker resident memory", m(rows, "rss"), other, m(base, "rss"), unit=" MB")

    # ---- the suite ----

    def close(self):
        if not self.args.keep:
            try:
                self.cluster.stop()
            except Exception as e:
                log(f"stopping PostgreSQL: {e}")


def machine() -> str:
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()
    return (f"{os.cpu_count()} CPUs ({model}), {mem:,} MiB RAM, load average before the run "
            f"{load[0]:.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=TIMES,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=None,
                    help="runs per figure; the table shows the median (default 3; quick: 1; "
                         "pdfpath, connections and workers: 1 unless given)")
    ap.add_argument("--quick", action="store_true", help="smaller sizes, 1 run each")
    ap.add_argument("--only", default="", help="comma-separated: " + ", ".join(BENCHMARKS) +
                    ", or the issue's numbers 1-7")
    ap.add_argument("--jobs", type=int, default=0, help="jobs of the throughput benchmark")
    ap.add_argument("--workers", type=int, default=64, help="worker connections (default 64)")
    ap.add_argument("--noop-threads", type=int, default=1,
                    help="benchmark 7's worker connections: threads of the no-op worker process "
                         "(default 1: one thread serves them all, waiting in epoll)")
    ap.add_argument("--pg-set", action="append", default=[], metavar="NAME=VALUE",
                    help="a PostgreSQL setting for the benchmark's cluster (ALTER SYSTEM, then a "
                         "restart), to compare settings such as wal_sync_method; repeatable")
    ap.add_argument("--stages", action="store_true",
                    help="benchmark 2: also print where each job's time went (PostgreSQL "
                         "records commit times: track_commit_timestamp, a small cost per commit)")
    ap.add_argument("--keep", action="store_true",
                    help="leave PostgreSQL running and each run's database in it")
    ap.add_argument("--pdf-inline", action="store_true",
                    help="benchmark 5: large PDFs inline in the REQUEST (no blob endpoint), as "
                         "before protocol 1.2")
    args = ap.parse_args()
    args.runs_given = args.runs is not None
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    only = [n for o in args.only.split(",") if o for n in BY_NUMBER.get(o, [o])] or BENCHMARKS
    for o in only:
        if o not in BENCHMARKS:
            ap.error(f"unknown benchmark {o!r}; one of {', '.join(BENCHMARKS)}")
    header = machine()
    started = time.monotonic()
    took_each = []
    b = Bench(args)
    try:
        for name in BENCHMARKS:
            if name in only:
                t0 = time.monotonic()
                getattr(b, f"bench_{name}")()
                took_each.append(f"{name} {time.monotonic() - t0:.0f} s")
                log(f"{name} took {time.monotonic() - t0:.0f} s")
    finally:
        b.close()
    took = time.monotonic() - started
    print(f"\nProfAI benchmarks ({'quick' if args.quick else 'full'}, median of {args.runs} "
          f"run(s), {took:.0f} s) on {header}\n")
    print(b.table.markdown())
    print(f"\nTime per benchmark: {', '.join(took_each)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
