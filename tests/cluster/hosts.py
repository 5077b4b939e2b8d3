"""The ProfAI stack spread over namespace hosts (netns.py): tests/system/stack.py's PgCluster and
Stack, with each program started on its host by `ip netns exec` and every address a host's own.

    net = Net(TOPOLOGY); net.create()
    with net.inside("client"):                     # the test talks from the client host
        pg = NsPgCluster(directory, net); pg.start()   # PostgreSQL on db, 10.77.0.10:5432
        s = ClusterStack(net, pg, outdir)
        s.start_broker()                           # on db: tcp://10.77.0.10:<port>
        s.add_worker("w1"); s.add_worker("w2")
        s.add_frontend("fe", 0); s.add_frontend("fe", 1)   # http://10.77.0.31:<port>, .32
        s.wait_healthy()
        s.host_of_worker(job_row["worker"])        # "w1": the host a job ran on

Only the test's client is unusual: the test process itself moves its main thread into the
client host's namespace (Net.inside), so its HTTP requests, database connections, ZeroMQ pings
and the profaictl runs it starts all cross the bridge like any other host's.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "system"))

from netns import PREFIX_LEN, SUBNET, Net  # noqa: E402
from stack import BIN, Frontend, PgCluster, Process, Stack, free_port  # noqa: E402

# host -> addresses (the first is its main one); 10.77.0.0/24 exists only in these namespaces.
TOPOLOGY = {
    "db": [f"{SUBNET}.10"],                    # PostgreSQL and the broker
    "b1": [f"{SUBNET}.11"],                    # a leader broker (tests/cluster/test_failover.py)
    "b2": [f"{SUBNET}.12"],                    # its standby
    "w1": [f"{SUBNET}.21"],                    # a worker host
    "w2": [f"{SUBNET}.22"],                    # another worker host
    "fe": [f"{SUBNET}.31", f"{SUBNET}.32"],    # two frontends, one address each
    "client": [f"{SUBNET}.99"],                # the test's HTTP, SQL and ZeroMQ client
}
PG_PORT = 5432
SUBNET_CIDR = f"{SUBNET}.0/{PREFIX_LEN}"


class NsPgCluster(PgCluster):
    """scripts/pg.sh's private cluster, run on a namespace host and reachable on its address
    from the other hosts (role profai with its password, scram-sha-256, as pg.sh's own on
    127.0.0.1, for the test subnet only)."""

    def __init__(self, directory: Path, net: Net, host: str = "db", port: int = PG_PORT):
        super().__init__(directory, port)
        self.net, self.host = net, host

    def _pg(self, *args: str) -> str:
        # pg.sh and the server it starts inherit this thread's namespace: the db host's.
        with self.net.inside(self.host):
            return super()._pg(*args)

    def start(self) -> None:
        super().start()
        data = self.directory / "data"
        conf = data / "postgresql.conf"
        if "pfcl: cluster hosts" not in conf.read_text():
            # Appended settings override pg.sh's; the files keep their owner (the pg user).
            with open(conf, "a") as f:
                f.write("\n# pfcl: cluster hosts (tests/cluster/hosts.py)\n"
                        f"listen_addresses = '127.0.0.1,{self.net.addr(self.host)}'\n")
            with open(data / "pg_hba.conf", "a") as f:
                f.write(f"host all profai {SUBNET_CIDR} scram-sha-256\n")
            super().stop()
            super().start()

    @property
    def conninfo(self) -> str:
        return self.conninfo_for("profai")

    def conninfo_for(self, dbname: str) -> str:
        # pg.sh's conninfo (its password file included) with the db host's address.
        return " ".join(f"host={self.net.addr(self.host)}" if part.startswith("host=") else part
                        for part in super().conninfo_for(dbname).split())


class ClusterStack(Stack):
    """A Stack whose broker runs on db, workers on the worker hosts and frontends on fe, each
    bound to or connecting to host addresses (see TOPOLOGY)."""

    def __init__(self, net: Net, cluster: NsPgCluster, outdir: Path, **options):
        super().__init__(cluster, outdir, **options)
        self.net = net
        self.endpoint = f"tcp://{net.addr('db')}:{self.broker_port}"
        self.host_by_name: dict[str, str] = {"broker": "db"}

    def _place(self, host: str, process: Process) -> Process:
        process.argv = self.net.exec_argv(host, process.argv)
        self.host_by_name[process.name] = host
        return process

    def start_broker(self, wait: bool = True, **broker_keys) -> Process:
        if self.broker is None:
            self.broker = self._place("db", Process(
                "broker", [BIN / "profai-broker", "-c", self.outdir / "broker.conf"],
                self.outdir / "broker.log"))
        # Keys given: Stack writes the config file (endpoint, heartbeats, these) every start.
        return super().start_broker(wait=wait, endpoint=self.endpoint, **broker_keys)

    def add_worker(self, host: str,  # type: ignore[override]
                   start: bool = True, **options) -> Process:
        worker = self._place(host, super().add_worker(start=False, **options))
        if start:
            worker.start()
        return worker

    def add_frontend(self, host: str = "fe", address: int = 0,  # type: ignore[override]
                     start: bool = True, wait: bool = True, conf: dict | None = None) -> Frontend:
        addr, port = self.net.addr(host, address), free_port()
        frontend = super().add_frontend(start=False, conf={
            "http": {"listen": f"{addr}:{port}", "threads": 16}, **(conf or {})})
        self._place(host, frontend.process)
        frontend.port, frontend.url = port, f"http://{addr}:{port}"
        if start:
            frontend.process.start()
            if wait:
                self.wait_listening(frontend)
        return frontend

    def processes_on(self, host: str) -> list[Process]:
        return [p for p in self.processes() if self.host_by_name.get(p.name) == host]

    def host_of_worker(self, worker: str | None) -> str | None:
        """The host of a broker worker name (jobs.worker, "<key>@<peer address>")."""
        if not worker or "@" not in worker:
            return None
        return self.net.host_of(worker.rsplit("@", 1)[1])
