"""Several "hosts" on one machine: network namespaces joined by veth pairs on a private bridge.

    net = Net(hosts={"db": ["10.77.0.10"], "w1": ["10.77.0.21"], ...})
    net.create()
    net.exec_argv("w1", ["bin/profai-worker", ...])  # ["ip", "netns", "exec", <ns>, ...]
    with net.inside("client"):                       # this thread's sockets are the client's
        requests.get("http://10.77.0.31:8080/healthz")
    net.link_down("w1"); net.link_up("w1")           # the host's cable, at the bridge
    net.set_loss("w1", 10); net.set_delay("w1", 50); net.clear_impairment("w1")
    net.freeze("w1"); net.thaw("w1")                 # SIGSTOP / SIGCONT of every process in it
    net.destroy()                                    # namespaces, links and processes gone

Topology (docs/operations.md, "Hosts in namespaces"): one namespace per host, named
pfcl-<tag>-<host>, each with `lo` and `eth0`; one more, pfcl-<tag>-net, holds the bridge `br0`
and the bridge ends of the veth pairs (`v-<host>`). Addresses come from the test subnet
10.77.0.0/24 and exist only on the `eth0`s inside those namespaces: the root namespace gains no
address, no interface and no route, and no namespace has a default route, so no packet can
leave the machine. Nothing is NATed.

Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2; packet loss uses `tc netem` where the
kernel has sch_netem, else an nftables rule in the host's namespace (`numgen random`), so
nftables is needed on kernels without netem. Delay needs netem (Unsupported otherwise).

A crashed run leaves namespaces behind: remove_leftovers() deletes every pfcl-* namespace and
kills what runs in it. Callers hold lock() first, so that no live run's namespaces are taken
for leftovers.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import re
import signal
import subprocess
import time
import uuid

PREFIX = "pfcl-"
SUBNET = "10.77.0"        # /24, used only inside the test's namespaces
PREFIX_LEN = 24
BRIDGE = "br0"
LOCK_PATH = "/run/lock/profai-cluster.lock"

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


class NetError(RuntimeError):
    """An ip/tc/nft command failed."""


class Unsupported(NetError):
    """The kernel lacks what a fault needs (e.g. sch_netem for delays)."""


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run([str(a) for a in argv], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, timeout=30)
    if check and out.returncode != 0:
        raise NetError(f"{' '.join(map(str, argv))} failed ({out.returncode}): "
                       f"{out.stderr.strip()}")
    return out


def usable() -> str | None:
    """None when this process can build namespaces; else why not."""
    if os.geteuid() != 0:
        return "needs root (ip netns, veth, bridge)"
    try:
        run("ip", "-V")
    except (OSError, NetError) as e:
        return f"needs iproute2: {e}"
    return None


@contextlib.contextmanager
def lock():
    """One namespace harness at a time on this machine (see remove_leftovers)."""
    os.makedirs(os.path.dirname(LOCK_PATH), exist_ok=True)
    with open(LOCK_PATH, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def namespaces() -> list[str]:
    out = run("ip", "netns", "list")
    return [line.split()[0] for line in out.stdout.splitlines() if line.strip()]


def ns_pids(ns: str) -> list[int]:
    """Every process whose network namespace is `ns` (`ip netns pids`)."""
    out = run("ip", "netns", "pids", ns, check=False)
    return [int(p) for p in out.stdout.split() if p.isdigit() and int(p) != os.getpid()]


def _kill_all(ns: str) -> None:
    for sig in (signal.SIGCONT, signal.SIGKILL):
        for pid in ns_pids(ns):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
    deadline = time.monotonic() + 5
    while ns_pids(ns) and time.monotonic() < deadline:
        time.sleep(0.05)


def remove_leftovers() -> list[str]:
    """Delete the pfcl-* namespaces of a previous run (killing their processes first); the
    names removed. Call with lock() held."""
    removed = []
    for ns in namespaces():
        if ns.startswith(PREFIX):
            _kill_all(ns)
            run("ip", "netns", "del", ns, check=False)
            removed.append(ns)
    return removed


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


class Net:
    """The namespaces, bridge and veth pairs of one test run. hosts: name -> its addresses
    (the first is the host's main address)."""

    def __init__(self, hosts: dict[str, list[str]], tag: str | None = None):
        self.tag = tag or uuid.uuid4().hex[:6]
        self.hosts = {h: list(a) for h, a in hosts.items()}
        self.bridge_ns = f"{PREFIX}{self.tag}-net"
        self.down: set[str] = set()
        self.impaired: dict[str, str] = {}   # host -> "netem" or "nft"
        self.frozen: dict[str, list[int]] = {}
        self._netem: bool | None = None

    def ns(self, host: str) -> str:
        return f"{PREFIX}{self.tag}-{host}"

    def addr(self, host: str, index: int = 0) -> str:
        return self.hosts[host][index]

    def host_of(self, address: str) -> str | None:
        for host, addrs in self.hosts.items():
            if address in addrs:
                return host
        return None

    def exec_argv(self, host: str, argv: list) -> list[str]:
        """argv run as a process of `host` (`ip netns exec` execs it: same pid)."""
        return ["ip", "netns", "exec", self.ns(host), *[str(a) for a in argv]]

    def ip(self, where: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run("ip", "-n", where, *args, check=check)

    # -- building and removing --

    def create(self) -> None:
        """Build everything; on any failure what was built is removed again."""
        try:
            run("ip", "netns", "add", self.bridge_ns)
            self.ip(self.bridge_ns, "link", "set", "lo", "up")
            self.ip(self.bridge_ns, "link", "add", BRIDGE, "type", "bridge")
            self.ip(self.bridge_ns, "link", "set", BRIDGE, "up")
            for host, addrs in self.hosts.items():
                ns = self.ns(host)
                run("ip", "netns", "add", ns)
                self.ip(ns, "link", "set", "lo", "up")
                # Both ends are created inside namespaces: the root namespace never sees them.
                self.ip(self.bridge_ns, "link", "add", f"v-{host}", "type", "veth",
                        "peer", "name", "eth0", "netns", ns)
                self.ip(self.bridge_ns, "link", "set", f"v-{host}", "master", BRIDGE, "up")
                for a in addrs:
                    self.ip(ns, "addr", "add", f"{a}/{PREFIX_LEN}", "dev", "eth0")
                self.ip(ns, "link", "set", "eth0", "up")
        except BaseException:
            self.destroy()
            raise

    def destroy(self) -> None:
        """Kill every process left in the namespaces and delete them (with them the bridge and
        the veths). Never raises for what is already gone."""
        for ns in [self.ns(h) for h in self.hosts] + [self.bridge_ns]:
            if ns in namespaces():
                _kill_all(ns)
                run("ip", "netns", "del", ns, check=False)

    # -- this thread inside a host --

    @contextlib.contextmanager
    def inside(self, host: str):
        """Run the body with this thread in host's namespace: sockets it creates (and threads
        and child processes it starts) belong to that host. Back where it was afterwards."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.ns(host)}", os.O_RDONLY)
        try:
            _setns(target)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(target)
            os.close(own)

    # -- faults --

    def link_down(self, host: str) -> None:
        """Pull the host's cable: its bridge port goes down. The host's own eth0 stays up
        (NO-CARRIER): its sockets see no error, packets just vanish, as between VMs."""
        self.ip(self.bridge_ns, "link", "set", f"v-{host}", "down")
        self.down.add(host)

    def link_up(self, host: str) -> None:
        self.ip(self.bridge_ns, "link", "set", f"v-{host}", "up")
        self.down.discard(host)

    def _has_netem(self) -> bool:
        if self._netem is None:
            # Tried on the bridge namespace's loopback, which nothing uses.
            probe = run("ip", "netns", "exec", self.bridge_ns, "tc", "qdisc", "add", "dev", "lo",
                        "root", "netem", "delay", "1ms", check=False)
            self._netem = probe.returncode == 0
            if self._netem:
                run("ip", "netns", "exec", self.bridge_ns, "tc", "qdisc", "del", "dev", "lo",
                    "root", check=False)
        return self._netem

    def _netem_both_ways(self, host: str, *params: str) -> None:
        """netem on the host's eth0 (what it sends) and on its bridge port (what it gets)."""
        for ns, dev in ((self.ns(host), "eth0"), (self.bridge_ns, f"v-{host}")):
            run("ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", dev, "root",
                "netem", *params)
        self.impaired[host] = "netem"

    def set_loss(self, host: str, percent: int) -> str:
        """Drop `percent` % of the packets the host sends and of those it receives; how
        ("netem" or "nft": an nftables rule in the host's namespace, on kernels without
        sch_netem)."""
        if self._has_netem():
            self._netem_both_ways(host, "loss", f"{percent}%")
            return "netem"
        ruleset = (f"table inet pfcl_loss {{\n"
                   f"  chain in {{ type filter hook input priority 0; policy accept;\n"
                   f"    numgen random mod 100 < {percent} counter drop; }}\n"
                   f"  chain out {{ type filter hook output priority 0; policy accept;\n"
                   f"    numgen random mod 100 < {percent} counter drop; }}\n"
                   f"}}\n")
        out = subprocess.run(["ip", "netns", "exec", self.ns(host), "nft", "-f", "-"],
                             input=ruleset, text=True, capture_output=True, timeout=30)
        if out.returncode != 0:
            raise NetError(f"nft loss rule in {host} failed: {out.stderr.strip()}")
        self.impaired[host] = "nft"
        return "nft"

    def dropped(self, host: str) -> int:
        """Packets the loss of set_loss has dropped on the host so far."""
        how = self.impaired.get(host)
        total = 0
        if how == "nft":
            out = run("ip", "netns", "exec", self.ns(host), "nft", "list", "table", "inet",
                      "pfcl_loss")
            total = sum(int(n) for n in re.findall(r"counter packets (\d+)", out.stdout))
        elif how == "netem":
            for ns, dev in ((self.ns(host), "eth0"), (self.bridge_ns, f"v-{host}")):
                out = run("ip", "netns", "exec", ns, "tc", "-s", "qdisc", "show", "dev", dev)
                total += sum(int(n) for n in re.findall(r"dropped (\d+)", out.stdout))
        return total

    def set_delay(self, host: str, ms: int, jitter_ms: int = 0) -> None:
        """Delay every packet to and from the host by ms (netem only)."""
        if not self._has_netem():
            raise Unsupported("this kernel has no sch_netem (CONFIG_NET_SCH_NETEM): no delays")
        params = ["delay", f"{ms}ms"] + ([f"{jitter_ms}ms"] if jitter_ms else [])
        self._netem_both_ways(host, *params)

    def clear_impairment(self, host: str) -> None:
        how = self.impaired.pop(host, None)
        if how == "netem":
            for ns, dev in ((self.ns(host), "eth0"), (self.bridge_ns, f"v-{host}")):
                run("ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", dev, "root",
                    check=False)
        elif how == "nft":
            run("ip", "netns", "exec", self.ns(host), "nft", "delete", "table", "inet",
                "pfcl_loss", check=False)

    def freeze(self, host: str) -> list[int]:
        """SIGSTOP every process of the host (all in its namespace, children included), as a
        hypervisor pauses a VM; the pids stopped."""
        pids = ns_pids(self.ns(host))
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        self.frozen[host] = pids
        return pids

    def thaw(self, host: str) -> None:
        for pid in set(self.frozen.pop(host, [])) | set(ns_pids(self.ns(host))):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def heal(self) -> None:
        """Undo every fault: links up, impairments off, hosts thawed."""
        for host in list(self.frozen):
            self.thaw(host)
        for host in list(self.impaired):
            self.clear_impairment(host)
        for host in list(self.down):
            self.link_up(host)
