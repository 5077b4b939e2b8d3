"""The admin socket on tcp:// (docs/admin.md, section 1): a CURVE server whose ZAP handler
admits only the keys of curve/admins_dir.

profaictl speaks it with its own key pair (--key, from `profaictl keygen`) and the broker's
public key (--broker-key). A key not in the admin list, a worker's or a frontend's key
included, is refused at the handshake and profaictl says so at once; an admin key can neither
serve jobs nor submit them; deleting an admin key's file refuses it within seconds, without a
restart. Without CURVE a tcp:// admin endpoint stops the broker at start.

Real programs: profai-broker with CURVE, a profai-worker, PostgreSQL, profaictl, and Python
peers on real ZeroMQ sockets (tests/system/mdp.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import zmq

from mdp import MdpClient, MdpWorker
from stack import BIN, Stack, free_port, wait_for, zpl
from test_orphan_key import submit_job

# The broker reads its key directories again at most this often (broker/zap.h), and the bound
# held for a revoked key (as in test_curve.py).
RELOAD_S = 1.0
REVOKE_BOUND_S = 3.0


def tcp_admin_stack(make_stack, **options) -> tuple[Stack, Path]:
    """A CURVE stack whose admin socket is on tcp:// (loopback here; any address in use), with
    one operator key in curve/admins_dir; the stack and the operator's certificate."""
    s = make_stack(**options)
    s.admin_endpoint = f"tcp://127.0.0.1:{free_port()}"
    operator = s.keygen("operator", "admin")
    return s, operator


def ctl(s: Stack, *args: str, key: Path | None = None, broker_key: Path | None = None,
        env: dict | None = None, endpoint: str | None = None) -> subprocess.CompletedProcess:
    """profaictl -a ENDPOINT [--key K --broker-key B] ARGS, logged to the stack's output."""
    argv = [str(BIN / "profaictl")]
    if endpoint != "":
        argv += ["-a", endpoint or s.admin_endpoint]
    if key is not None:
        argv += ["--key", str(key)]
    if broker_key is not None:
        argv += ["--broker-key", str(broker_key)]
    argv += list(args)
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("PROFAI_")}
    run_env.update(env or {})
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=run_env)
    with open(s.outdir / "profaictl.log", "a") as log:
        log.write(f"$ {' '.join(argv[1:])}\n{out.stdout}{out.stderr}(exit {out.returncode})\n")
    return out


def test_status_and_commands_over_tcp_with_an_admin_key(make_stack):
    s, operator = tcp_admin_stack(make_stack)
    s.start_broker()
    s.add_worker()
    s.wait_healthy(workers=1)

    out = ctl(s, "--json", "status", key=operator, broker_key=s.broker_cert)
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert status["role"] == "broker" and status["db"]["up"] is True, status
    assert status["workers"]["idle"] == 1, status

    workers = json.loads(ctl(s, "--json", "workers", key=operator,
                             broker_key=s.broker_cert).stdout)
    assert len(workers) == 1 and workers[0]["service"] == "course.build", workers

    # A write command, and the keys from the environment (the public and the secret file
    # names both work for --key).
    env = {"PROFAI_ADMIN": s.admin_endpoint, "PROFAI_ADMIN_KEY": f"{operator}_secret",
           "PROFAI_ADMIN_BROKER_KEY": str(s.broker_cert)}
    paused = ctl(s, "pause", "course.build", env=env, endpoint="")
    assert paused.returncode == 0, paused.stderr
    resumed = ctl(s, "resume", "course.build", env=env, endpoint="")
    assert resumed.returncode == 0, resumed.stderr
    human = ctl(s, "status", env=env, endpoint="")
    assert human.returncode == 0 and "course.build" in human.stdout, human.stderr
    assert "admin socket endpoint=" + s.admin_endpoint + " curve=on" in s.broker.log_text()


def test_keys_not_in_the_admin_list_are_refused(make_stack):
    s, operator = tcp_admin_stack(make_stack)
    stranger = s.keygen("stranger")  # in no list
    s.start_broker()
    keys = s.keys / "secret"
    # A fresh key, a worker's and a frontend's: refused at the handshake, said at once.
    for name, cert in [("fresh", stranger), ("worker", keys / "worker1"),
                       ("frontend", keys / "frontend1")]:
        started = time.monotonic()
        out = ctl(s, "status", key=cert, broker_key=s.broker_cert)
        took = time.monotonic() - started
        assert out.returncode == 1, (name, out.stdout, out.stderr)
        assert "refused this key" in out.stderr, (name, out.stderr)
        assert out.stdout == ""
        assert took < 4.0, f"{name}: {took:.1f} s: a refusal should not wait for the timeout"

    log = s.broker.log_text()
    public = {n: zmq.auth.load_certificate(str(keys / n))[0].decode()
              for n in ("stranger", "worker1", "frontend1")}
    assert f"refused key={public['stranger']}: key not in any allow-list" in log
    assert f"refused key={public['worker1']}: worker key on the admin socket" in log
    assert f"refused key={public['frontend1']}: frontend key on the admin socket" in log
    secret = zmq.auth.load_certificate(str(keys / "stranger") + "_secret")[1].decode()
    assert secret not in log  # never a secret

    # The operator's key with a wrong broker key: no session, a timeout that says why.
    wrong = ctl(s, "status", key=operator, broker_key=stranger)
    assert wrong.returncode == 1 and "wrong --broker-key" in wrong.stderr, wrong.stderr
    # And the right pair works on the same broker.
    assert ctl(s, "status", key=operator, broker_key=s.broker_cert).returncode == 0


def test_admin_key_can_neither_serve_nor_submit(make_stack):
    s, operator = tcp_admin_stack(make_stack)
    s.start_broker()
    job_id = submit_job(s, "Not for operators")
    admin_keys = s.peer_keys(operator)
    worker = MdpWorker(s.endpoint, curve=admin_keys)
    client = MdpClient(s.endpoint, curve=admin_keys)
    try:
        # libzmq gives up a refused connection: sends must not wait for a peer for ever.
        worker.sock.setsockopt(zmq.SNDTIMEO, 500)
        worker.heartbeats = False
        worker.ready()
        assert worker.recv(3.0) is None  # never a REQUEST
        assert s.ping()["workers"] == 0
        assert s.job_row(job_id)["state"] == "queued"
        client.sock.setsockopt(zmq.SNDTIMEO, 2000)
        try:
            client.request("broker.ping", {}, timeout=2.0)
            answered = True
        except (AssertionError, zmq.Again):
            answered = False
        assert not answered, "an admin key was answered on the workers' and frontends' endpoint"
    finally:
        worker.close()
        client.close()
    log = s.broker.log_text()
    assert (f"refused key={admin_keys[0].decode()}: admin key on the workers' and frontends' "
            "endpoint") in log
    # The same key on its own socket works.
    assert ctl(s, "status", key=operator, broker_key=s.broker_cert).returncode == 0


def test_deleting_an_admin_key_refuses_it_without_a_restart(make_stack):
    s, operator = tcp_admin_stack(make_stack)
    s.start_broker()
    assert ctl(s, "status", key=operator, broker_key=s.broker_cert).returncode == 0
    (s.keys / "admins" / "operator").unlink()
    deleted = time.monotonic()

    def refused():
        out = ctl(s, "status", key=operator, broker_key=s.broker_cert)
        return out if out.returncode == 1 and "refused this key" in out.stderr else None
    wait_for("the deleted admin key to be refused", refused, REVOKE_BOUND_S + 5, interval=0.2)
    assert time.monotonic() - deleted < REVOKE_BOUND_S + 1.0
    # Listed again: accepted again, still without a restart.
    s.allow(operator, "admin")
    wait_for("the admin key to be accepted again",
             lambda: ctl(s, "status", key=operator, broker_key=s.broker_cert).returncode == 0,
             REVOKE_BOUND_S + 5, interval=0.2)


def test_request_of_a_connection_whose_key_was_revoked_is_forbidden(make_stack):
    """A connection made before the key's deletion stays open (ZeroMQ gives a ROUTER no way to
    close one peer), but its requests are answered `forbidden`."""
    s, operator = tcp_admin_stack(make_stack)
    s.start_broker()
    public, secret, server = s.peer_keys(operator)
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = public, secret, server
    sock.connect(s.admin_endpoint)
    try:
        import msgpack

        def ask(rid: int) -> dict:
            sock.send_multipart([b"MDPC02", b"\x01", b"admin.workers",
                                 msgpack.packb({"v": 1, "rid": rid})])
            assert sock.poll(5000), "no answer"
            frames = sock.recv_multipart()
            assert frames[:3] == [b"MDPC02", b"\x03", b"admin.workers"], frames
            return msgpack.unpackb(frames[3], raw=False)
        assert ask(1)["ok"] is True
        (s.keys / "admins" / "operator").unlink()
        time.sleep(RELOAD_S + 1.0)
        reply = ask(2)
        assert (reply["ok"], reply["error_code"], reply["rid"]) == (False, "forbidden", 2), reply
    finally:
        sock.close(0)
    assert "admin request from a key not in the admin list now" in s.broker.log_text()


def test_tcp_admin_needs_curve_and_an_admin_list(make_stack):
    # Without CURVE: the broker stops at start and says why.
    plain = make_stack(curve=False)
    plain.admin_endpoint = f"tcp://127.0.0.1:{free_port()}"
    broker = plain.start_broker(wait=False)
    assert broker.wait_exit(30) == 2
    assert "is tcp:// without CURVE" in broker.log_text()

    # With CURVE but no curve/admins_dir: no operator key could use it; stop at start.
    s, operator = tcp_admin_stack(make_stack)
    conf = s.outdir / "no-admins.conf"
    conf.write_text(zpl({
        "broker": {"endpoint": s.endpoint},
        "database": {"conninfo": s.conninfo},
        "admin": {"endpoint": s.admin_endpoint},
        "curve": {"certificate": str(s.broker_cert), "workers_dir": str(s.keys / "workers")},
    }))
    out = subprocess.run([str(BIN / "profai-broker"), "-c", str(conf)], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 2, out.stderr
    assert "curve/admins_dir is not set" in out.stderr, out.stderr

    # profaictl: tcp:// needs both keys; keys are for tcp:// only.
    out = ctl(s, "status")
    assert out.returncode == 2 and "needs CURVE" in out.stderr, out.stderr
    out = ctl(s, "status", key=operator)
    assert out.returncode == 2 and "needs CURVE" in out.stderr, out.stderr
    out = ctl(s, "status", key=operator, broker_key=s.broker_cert,
              endpoint="ipc:///nonexistent/admin.sock")
    assert out.returncode == 2 and "are for a tcp:// admin socket" in out.stderr, out.stderr
    out = ctl(s, "user", "list", key=operator, endpoint="")
    assert out.returncode == 2 and "only for broker commands" in out.stderr, out.stderr
