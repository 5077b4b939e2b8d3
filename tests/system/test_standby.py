"""A standby broker takes over from a dead leader (issue 12, "What must hold" 2; docs/broker.md,
"Standby broker").

Two brokers run on one database, on two loopback endpoints: the first leads (it holds
PostgreSQL's leader lock), the second stands by and answers `not_leader`. Two workers and two
frontends are configured with both endpoints. During a burst of uploads the leader is
SIGKILLed: the standby must take over (epoch 1 -> 2 in broker_leader) within TAKEOVER_BOUND
seconds, every accepted job (202) must end `succeeded` with exactly one course, and the old
leader, started again, must stand by and write nothing (the epoch and the leader row stay
the new leader's). Two more tests: a leader whose epoch is passed (a split brain, as the fence
sees it) exits 3 at its next transaction and the standby takes over, old epochs fenced; a
leader whose lock session is cut while no other broker can lead takes the lock again at the
same epoch and goes on. Jobs accepted, completed and lost are printed.
"""

from __future__ import annotations

import random
import threading
import time

import msgpack
import psycopg2
import requests
import zmq

from pdfs import make_plain_pdf
from stack import BIN, TERMINAL_STATES, Process, free_port, job_id_of, wait_for

TAKEOVER_BOUND = 5.0  # seconds from the leader's death to the new epoch (docs/operations.md)
JOBS = 40
SUBMITTERS = 4
PAGE_DELAY_MS = 60
SETTLE_SECONDS = 120


def ping_body(endpoint: str, timeout: float = 1.0) -> dict | None:
    """broker.ping's FINAL body (a PONG, or the generic error reply of a standby)."""
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.connect(endpoint)
        rid = random.randrange(1, 2**31)
        sock.send_multipart([b"MDPC02", b"\x01", b"broker.ping",
                             msgpack.packb({"v": 1, "rid": rid})])
        if not sock.poll(int(timeout * 1000)):
            return None
        return msgpack.unpackb(sock.recv_multipart()[-1], raw=False)
    finally:
        sock.close(0)


def leader_row(s) -> tuple:
    return tuple(s.query("SELECT epoch, leader FROM broker_leader")[0])


class Pair:
    """A stack whose broker has a standby: `s.broker` is A (started first, so it leads), `b`
    the second broker; workers and frontends get both endpoints."""

    def __init__(self, make_stack):
        self.s = s = make_stack(curve=False, log_level="info")
        self.a_endpoint = s.endpoint
        s.start_broker(max_attempts=20, retry_base_ms=100, retry_max_ms=1000)
        self.b_endpoint = f"tcp://127.0.0.1:{free_port()}"
        conf = s._write_conf("broker2", {
            "broker": {"endpoint": self.b_endpoint, **s._heartbeat_keys(), "max_attempts": 20,
                       "retry_base_ms": 100, "retry_max_ms": 1000},
            "database": {"conninfo": s.conninfo},
            "admin": {"endpoint": f"ipc://{s.admin_dir}/admin2.sock"},
            "log": {"level": "info"},
        })
        self.b = Process("broker2", [BIN / "profai-broker", "-c", conf], s.outdir / "broker2.log")
        s.others.append(self.b)
        self.b.start()
        wait_for("the second broker to answer not_leader",
                 lambda: (ping_body(self.b_endpoint, 0.5) or {}).get("error_code") == "not_leader",
                 20, on_timeout=self.b.tail)
        s.endpoint = f"{self.a_endpoint},{self.b_endpoint}"
        for _ in range(2):
            s.add_worker(page_delay_ms=PAGE_DELAY_MS, concurrency=2)
        s.add_frontend()
        s.add_frontend()
        s.endpoint = self.a_endpoint  # the stack's own pings go to A
        s.wait_healthy()

    def leading_endpoint(self) -> str | None:
        for endpoint in (self.a_endpoint, self.b_endpoint):
            body = ping_body(endpoint, 0.5)
            if body is not None and body.get("db") is not None and "error_code" not in body:
                return endpoint
        return None


class Submitter(threading.Thread):
    """Uploads until `quota` are accepted, through both frontends in turn; a 503 (no broker
    leads at that moment) or a network error counts as refused and is tried again."""

    def __init__(self, s, pdf: bytes, quota: int, accepted: list, refused: list,
                 lock: threading.Lock):
        super().__init__(daemon=True)
        self.s, self.pdf, self.quota = s, pdf, quota
        self.accepted, self.refused, self.lock = accepted, refused, lock
        self.session = requests.Session()
        self.error: Exception | None = None

    def run(self):
        headers = {"Authorization": f"Bearer {self.s.token('teacher')}",
                   "Content-Type": "application/pdf"}
        n = 0
        try:
            mine = 0
            while mine < self.quota:
                frontend = self.s.frontends[n % len(self.s.frontends)]
                n += 1
                try:
                    r = self.session.post(frontend.url + "/api/v1/jobs", data=self.pdf,
                                          params={"title": f"Burst {n}",
                                                  "filename": "burst.pdf"},
                                          headers=headers, timeout=30)
                except requests.RequestException as e:
                    with self.lock:
                        self.refused.append(repr(e))
                    time.sleep(0.2)
                    continue
                if r.status_code == 202:
                    with self.lock:
                        self.accepted.append(job_id_of(r.json()))
                    mine += 1
                    time.sleep(0.15)
                elif r.status_code == 503:
                    with self.lock:
                        self.refused.append(r.text[:200])
                    time.sleep(0.2)
                else:
                    raise AssertionError(f"upload answered {r.status_code}: {r.text[:300]}")
        except Exception as e:  # reported by the test
            self.error = e


def settle(s, accepted: list) -> dict:
    """Wait until every accepted job is final; their (state, error_code) by id."""
    finals: dict = {}
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        rows = s.query("SELECT id::text, state, error_code FROM jobs WHERE id = ANY(%s::uuid[])",
                       accepted)
        finals = {r[0]: (r[1], r[2]) for r in rows}
        if len(finals) == len(accepted) and all(v[0] in TERMINAL_STATES
                                                 for v in finals.values()):
            break
        time.sleep(0.5)
    return finals


def check_exactly_once(s, accepted: list, finals: dict, report, what: str) -> None:
    lost = [j for j in accepted if j not in finals or finals[j][0] not in TERMINAL_STATES]
    completed = [j for j, v in finals.items() if v[0] == "succeeded"]
    other = {j: v for j, v in finals.items() if v[0] != "succeeded"}
    courses = dict(s.query("SELECT job_id::text, count(*) FROM courses "
                           "WHERE job_id = ANY(%s::uuid[]) GROUP BY job_id", accepted))
    doubles = {j: n for j, n in courses.items() if n != 1}
    report(f"  {what}: jobs accepted {len(accepted)}, completed {len(completed)}, "
           f"lost {len(lost)}, other final states {len(other)}, jobs with two courses "
           f"{len(doubles)}")
    assert not lost, f"accepted jobs not final: {lost[:10]}"
    assert not other, f"jobs that did not succeed: {list(other.items())[:10]}"
    assert not doubles, doubles
    assert len(courses) == len(accepted)


def test_standby_takes_over_from_a_killed_leader(make_stack, outdir, report):
    pair = Pair(make_stack)
    s = pair.s
    assert leader_row(s)[0] == 1, leader_row(s)
    assert pair.leading_endpoint() == pair.a_endpoint
    pdf = (outdir / "burst.pdf")
    make_plain_pdf(pdf, pages=6, seed=7)
    data = pdf.read_bytes()
    s.token("teacher")

    accepted: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()
    submitters = [Submitter(s, data, JOBS // SUBMITTERS, accepted, refused, lock)
                  for _ in range(SUBMITTERS)]
    for t in submitters:
        t.start()
    wait_for("a third of the burst accepted", lambda: len(accepted) >= JOBS // 3, 60)
    running = s.query("SELECT count(*) FROM jobs WHERE state = 'running'")[0][0]
    killed_at = time.monotonic()
    s.broker.kill()
    taken = wait_for("the standby to take over",
                     lambda: leader_row(s)[0] == 2 or None, 30, interval=0.05,
                     on_timeout=pair.b.tail)
    takeover = time.monotonic() - killed_at
    wait_for("the new leader to answer PING", lambda: pair.leading_endpoint() == pair.b_endpoint,
             30)
    serving = time.monotonic() - killed_at
    for t in submitters:
        t.join(180)
        assert t.error is None, t.error
    finals = settle(s, accepted)
    report(f"\nstandby take-over: leader SIGKILLed with {running} jobs running; new epoch "
           f"after {takeover:.2f} s, serving after {serving:.2f} s; uploads refused meanwhile "
           f"{len(refused)}")
    check_exactly_once(s, accepted, finals, report, "killed leader")
    assert taken and takeover < TAKEOVER_BOUND, f"take-over took {takeover:.2f} s"

    # The old leader, started again, stands by and writes nothing.
    epoch_before = leader_row(s)
    events_before = s.query("SELECT count(*), max(seq) FROM job_events")[0]
    jobs_before = s.query("SELECT count(*), max(updated_at) FROM jobs")[0]
    s.broker.start()
    wait_for("the old leader to answer not_leader",
             lambda: (ping_body(pair.a_endpoint, 0.5) or {}).get("error_code") == "not_leader",
             20, on_timeout=s.broker.tail)
    time.sleep(2)  # time enough for a broker that thought it led to write something
    assert leader_row(s) == epoch_before
    assert s.query("SELECT count(*), max(seq) FROM job_events")[0] == events_before
    assert s.query("SELECT count(*), max(updated_at) FROM jobs")[0] == jobs_before
    assert s.broker.alive
    restarted_log = s.broker.log_text().rsplit("start:", 1)[-1]
    assert "standing by" in restarted_log and "leading epoch" not in restarted_log
    # ... and the new leader still serves: one more job through it.
    job = s.submit(data, "After the take-over", frontend=s.frontends[1])
    s.wait_job(job, timeout=60)
    report(f"  old leader restarted: standby, epoch still {epoch_before[0]}, no row written")


def test_leader_that_sees_a_higher_epoch_steps_down(make_stack, outdir, report):
    pair = Pair(make_stack)
    s = pair.s
    pdf = (outdir / "slow.pdf")
    make_plain_pdf(pdf, pages=30, seed=8)  # 30 pages * 60 ms: running while the epoch moves
    job = s.submit(pdf.read_bytes(), "Across a fenced leader")
    wait_for("the job to run", lambda: s.job_row(job)["state"] == "running", 30)
    # A split brain, as the fence sees it: the epoch moves past the leader's. Its next
    # transaction (progress is written every 500 ms) is refused, and it stops at once.
    s.query("UPDATE broker_leader SET epoch = epoch + 1, leader = 'test' RETURNING epoch")
    assert s.broker.wait_exit(10) == 3, s.broker.tail()
    assert "leadership lost" in s.broker.log_text()
    # Its lock went with it: the standby takes over and the job completes once.
    wait_for("the standby to take over", lambda: leader_row(s)[0] == 3 or None, 10,
             on_timeout=pair.b.tail)
    s.wait_job(job, timeout=60)
    assert s.query("SELECT count(*) FROM courses WHERE job_id = %s", job)[0][0] == 1
    # Old epochs are fenced, the current one passes.
    conn = psycopg2.connect(s.conninfo)
    try:
        for old in (1, 2):
            with conn.cursor() as cur:
                try:
                    cur.execute("SELECT profai_fence(%s)", (old,))
                    raise AssertionError(f"the fence of epoch {old} let a transaction through")
                except psycopg2.Error as e:
                    assert e.pgcode == "PF001", e
            conn.rollback()
        with conn.cursor() as cur:
            cur.execute("SELECT profai_fence(3)")
    finally:
        conn.close()
    report("\nhigher epoch: the leader exited 3, the standby leads at epoch 3, the job "
           "completed once, epochs 1 and 2 are fenced")


def test_lost_lock_session_is_taken_again_at_the_same_epoch(make_stack, outdir, report):
    pair = Pair(make_stack)
    s = pair.s
    pair.b.stop()  # no standby: nobody else may take the lock meanwhile
    pdf = (outdir / "slow.pdf")
    make_plain_pdf(pdf, pages=20, seed=9)
    job = s.submit(pdf.read_bytes(), "Across a lost lock session")
    wait_for("the job to run", lambda: s.job_row(job)["state"] == "running", 30)
    ended = s.query("SELECT pg_terminate_backend(l.pid) FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted "
                    "AND a.application_name = 'profai-broker-lock' "
                    "AND a.datname = current_database()")
    assert len(ended) == 1, ended
    wait_for("the leader to take its lock again",
             lambda: "lock session restored epoch=1" in s.broker.log_text(), 10,
             on_timeout=s.broker.tail)
    assert s.broker.alive and leader_row(s)[0] == 1
    s.wait_job(job, timeout=60)
    assert s.query("SELECT count(*) FROM courses WHERE job_id = %s", job)[0][0] == 1
    report("\nlock session lost with no standby: taken again at epoch 1, the job completed")
