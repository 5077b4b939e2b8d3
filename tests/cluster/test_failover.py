"""A standby broker on another host takes over (issue 12, "What must hold" 2, across hosts;
docs/broker.md "Standby broker", docs/operations.md "Standby broker").

PostgreSQL on db, a leader broker on b1 and its standby on b2, one worker on each of w1 and w2
and two frontends on fe, every worker and frontend configured with both broker endpoints.
During a burst of uploads the leader's host fails, in two ways:

* `kill`: the leader broker is SIGKILLed (its kernel closes its lock session at once);
* `link_down`: b1's link goes down (PostgreSQL notices through the lock session's keepalives,
  about 3 s); the stranded leader, back on the network, finds the lock taken and exits 3.

The standby must take over (epoch 1 -> 2) within TAKEOVER_BOUND seconds, every accepted job
must succeed with exactly one course (jobs accepted, completed and lost are printed), and the
old leader, started again (its link up again), must stand by and write nothing.
"""

from __future__ import annotations

import threading
import time

import pytest

from pdfs import make_plain_pdf
from stack import BIN, Process, free_port, wait_for
from test_standby import Submitter, check_exactly_once, leader_row, ping_body, settle

HEARTBEAT_IVL = 250
LIVENESS = 4
TAKEOVER_BOUND = 5.0
JOBS = 40
SUBMITTERS = 4


def start_pair(make_stack):
    """The hosts' stack with a broker on b1 (leads) and one on b2 (stands by)."""
    s = make_stack(heartbeat_ivl=HEARTBEAT_IVL, liveness=LIVENESS, log_level="info",
                   curve=False)
    brokers = {}
    for host in ("b1", "b2"):
        endpoint = f"tcp://{s.net.addr(host)}:{free_port()}"
        conf = s._write_conf(f"broker-{host}", {
            "broker": {"endpoint": endpoint, "allow_plaintext": 1, **s._heartbeat_keys(),
                       "max_attempts": 20, "retry_base_ms": 100, "retry_max_ms": 1000},
            "database": {"conninfo": s.conninfo},
            "admin": {"endpoint": f"ipc://{s.admin_dir}/admin-{host}.sock"},
            "log": {"level": "info"},
        })
        process = s._place(host, Process(f"broker-{host}", [BIN / "profai-broker", "-c", conf],
                                         s.outdir / f"broker-{host}.log"))
        s.others.append(process)
        brokers[host] = (process, endpoint)
        process.start()
        if host == "b1":
            wait_for("the b1 broker to lead",
                     lambda: (ping_body(endpoint, 0.5) or {}).get("db") is True, 30,
                     on_timeout=process.tail)
        else:
            wait_for("the b2 broker to stand by",
                     lambda: (ping_body(endpoint, 0.5) or {}).get("error_code") == "not_leader",
                     30, on_timeout=process.tail)
    s.endpoint = f"{brokers['b1'][1]},{brokers['b2'][1]}"
    for host in ("w1", "w2"):
        s.add_worker(host, page_delay_ms=60, concurrency=2)
    s.add_frontend("fe", 0)
    s.add_frontend("fe", 1)
    s.endpoint = brokers["b1"][1]  # the stack's pings: the leader
    s.wait_healthy()
    s.token("teacher")
    return s, brokers


@pytest.mark.parametrize("fault", ["kill", "link_down"])
def test_standby_host_takes_over(make_stack, net, outdir, report, fault):
    s, brokers = start_pair(make_stack)
    leader, a_endpoint = brokers["b1"]
    standby, b_endpoint = brokers["b2"]
    assert leader_row(s)[0] == 1
    pdf = outdir / "burst.pdf"
    make_plain_pdf(pdf, pages=6, seed=5)
    data = pdf.read_bytes()

    accepted: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()
    submitters = [Submitter(s, data, JOBS // SUBMITTERS, accepted, refused, lock)
                  for _ in range(SUBMITTERS)]
    for t in submitters:
        t.start()
    wait_for("a third of the burst accepted", lambda: len(accepted) >= JOBS // 3, 60)
    running = s.query("SELECT count(*) FROM jobs WHERE state = 'running'")[0][0]
    failed_at = time.monotonic()
    if fault == "kill":
        leader.kill()
    else:
        net.link_down("b1")
    wait_for("the standby to take over", lambda: leader_row(s)[0] == 2 or None, 30,
             interval=0.05, on_timeout=standby.tail)
    takeover = time.monotonic() - failed_at
    for t in submitters:
        t.join(240)
        assert t.error is None, t.error
    finals = settle(s, accepted)
    report(f"\nfailover ({fault}): {running} jobs running at the fault; new epoch after "
           f"{takeover:.2f} s; uploads refused meanwhile {len(refused)}")
    check_exactly_once(s, accepted, finals, report, fault)
    assert takeover < TAKEOVER_BOUND, f"take-over took {takeover:.2f} s"

    # The old leader back: it stands by and writes nothing.
    if fault == "link_down":
        # Stranded, the old leader could write nothing (fence); back on the network it finds
        # the lock taken and steps down by itself.
        assert leader.alive
        net.link_up("b1")
        assert leader.wait_exit(20) == 3, leader.tail()
        assert "leadership lost" in leader.log_text()
    epoch_before = leader_row(s)
    events_before = s.query("SELECT count(*), max(seq) FROM job_events")[0]
    jobs_before = s.query("SELECT count(*), max(updated_at) FROM jobs")[0]
    leader.start()
    wait_for("the old leader to answer not_leader",
             lambda: (ping_body(a_endpoint, 0.5) or {}).get("error_code") == "not_leader",
             30, on_timeout=leader.tail)
    time.sleep(2)
    assert leader_row(s) == epoch_before
    assert s.query("SELECT count(*), max(seq) FROM job_events")[0] == events_before
    assert s.query("SELECT count(*), max(updated_at) FROM jobs")[0] == jobs_before
    assert leader.alive
    report(f"  old leader back: standby, epoch still {epoch_before[0]}, no row written")
