"""A streaming hot standby of a test's private PostgreSQL cluster, for the read replica tests.

    standby = Standby(primary, ROOT / "var" / "check" / "standby-x")
    standby.start()                       # pg_basebackup -R from the running primary, started
    conninfo = standby.conninfo_for(dbname)
    standby.pause_replay(); standby.resume_replay()
    standby.remove()                      # stopped and deleted

scripts/pg.sh makes it (`pg.sh replica DIR PRIMARY_DIR`), so that the way to reach PostgreSQL
as an unprivileged user (it refuses to run as root) stays in one place.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import psycopg2

from stack import ROOT, PgCluster, StackError, free_port


class Standby(PgCluster):
    """A hot standby of `primary` (which must run when it is first started) in `directory`."""

    def __init__(self, primary: PgCluster, directory: Path):
        super().__init__(directory)
        self.primary = primary

    def start(self) -> None:
        if (self.directory / "data" / "PG_VERSION").exists():
            super().start()
            return
        argv = ["sh", str(ROOT / "scripts" / "pg.sh"), "replica", str(self.directory),
                str(self.primary.directory), str(free_port())]
        out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             timeout=180)
        if out.returncode != 0:
            raise StackError(f"pg.sh replica failed ({out.returncode}):\n{out.stdout}{out.stderr}")
        self.port = int((self.directory / "port").read_text())

    def _sql(self, sql: str):
        conn = psycopg2.connect(self.conninfo_for("postgres"))
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchone()
        finally:
            conn.close()

    def pause_replay(self) -> None:
        """Stop applying the primary's WAL (it is still received): the standby falls behind
        with every write on the primary."""
        self._sql("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self._sql("SELECT pg_wal_replay_resume()")

    def replayed_lsn(self) -> str:
        return self._sql("SELECT pg_last_wal_replay_lsn()::text")[0]

    def remove(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
