"""Chaos campaign: the processes and the database under test.

`Service` is `tradeguard run` as a subprocess against the simulator (the same data dir and
database across restarts), reachable over its REST API; `Database` is where it keeps its state,
with an outage switch: SQLite's write lock held by another connection, or PostgreSQL reached
through a TCP proxy (tests.db.proxy, on a loop of its own thread) that is cut. The audit reads
the database directly (never through the proxy).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import sys
import threading
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from tests.db.proxy import TcpProxy
from tests.recovery.procs import READY, Proc, Sim, clean_env, poll

# the line `tradeguard run` prints once its API listens (it binds port 0: any free port)
API_LINE = re.compile(r"REST API: http://127\.0\.0\.1:(\d+)/")
PG_URL = os.environ.get(
    "TRADEGUARD_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)


def libpq(url: URL) -> str:
    plain = url.set(drivername="postgresql").difference_update_query(["options"])
    return plain.render_as_string(hide_password=False)


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used here (None: it can)."""
    try:
        with psycopg.connect(libpq(make_url(PG_URL)), connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"PostgreSQL at {make_url(PG_URL)!r} unreachable: {error}"


class Database:
    """tradeguard's database and its outage switch. `service_url` is what tradeguard uses,
    `direct_url` what the audit reads."""

    kind = ""

    @property
    def service_url(self) -> str:
        raise NotImplementedError

    @property
    def direct_url(self) -> URL:
        raise NotImplementedError

    def cut(self) -> None:
        raise NotImplementedError

    def restore(self) -> None:
        raise NotImplementedError

    @property
    def is_cut(self) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def rows(self, sql: str) -> list[dict[str, Any]]:
        """Rows of `sql` read directly (a fresh connection each time)."""
        engine = create_engine(self.direct_url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(text(sql))]
        finally:
            engine.dispose()


class SqliteDatabase(Database):
    """The SQLite file in the data dir; an outage is its write lock held by another connection
    (as a second process would), so every write of tradeguard's waits and then fails."""

    kind = "sqlite"

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "tradeguard.db"
        self._lock: sqlite3.Connection | None = None

    @property
    def service_url(self) -> str:
        return ""  # tradeguard's default: data_dir/tradeguard.db

    @property
    def direct_url(self) -> URL:
        return make_url(f"sqlite:///{self.path}")

    def cut(self) -> None:
        if self._lock is not None or not self.path.exists():
            return
        lock = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
        try:
            lock.execute("BEGIN EXCLUSIVE")
        except sqlite3.Error:
            lock.close()
            raise
        self._lock = lock

    def restore(self) -> None:
        if self._lock is None:
            return
        try:
            self._lock.execute("COMMIT")
        finally:
            self._lock.close()
            self._lock = None

    @property
    def is_cut(self) -> bool:
        return self._lock is not None

    def close(self) -> None:
        self.restore()


class PostgresDatabase(Database):
    """A fresh schema in the shared PostgreSQL database (dropped on close), reached by
    tradeguard through a TCP proxy; an outage aborts every link and refuses new ones."""

    kind = "postgresql"

    def __init__(self) -> None:
        self.schema = f"tg_chaos_{uuid.uuid4().hex[:12]}"
        base = make_url(PG_URL)
        with psycopg.connect(libpq(base), autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{self.schema}"')
        self._direct = base.update_query_dict({"options": f"-csearch_path={self.schema}"})
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pg-proxy")
        self._thread.start()
        target = (base.host or "127.0.0.1", base.port or 5432)
        self.proxy = self._run(TcpProxy(*target).start())
        self._cut = False

    def _run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    async def _call(self, name: str) -> None:
        getattr(self.proxy, name)()

    @property
    def service_url(self) -> str:
        url = self._direct.set(host="127.0.0.1", port=self.proxy.port)
        return url.render_as_string(hide_password=False)

    @property
    def direct_url(self) -> URL:
        return self._direct

    def cut(self) -> None:
        self._run(self._call("cut"))
        self._cut = True

    def restore(self) -> None:
        self._run(self._call("restore"))
        self._cut = False

    @property
    def is_cut(self) -> bool:
        return self._cut

    def close(self) -> None:
        try:
            self._run(self.proxy.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
            with psycopg.connect(libpq(make_url(PG_URL)), autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


class Service:
    """`tradeguard run` against `sim`, restartable on the same data dir and database."""

    def __init__(
        self,
        sim: Sim,
        workdir: Path,
        database: Database,
        attendant: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.sim = sim
        self.workdir = workdir
        self.database = database
        # the person tradeguard alerts when an exit's outcome stays unknown (docs/operations.md):
        # called with the trade ids /health lists as exits_unresolved
        self.attendant = attendant
        self.runs: list[Proc] = []
        self.port = 0
        self.apikey = ""
        self.http = httpx.Client(timeout=5.0)

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def proc(self) -> Proc:
        return self.runs[-1]

    @property
    def alive(self) -> bool:
        return bool(self.runs) and self.proc.alive

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Proc:
        self.port = 0  # known once `wait_guarding` has read the port the process bound
        settings = {
            "openalgo_url": self.sim.rest_url,
            "openalgo_ws_url": self.sim.ws_url,
            "openalgo_api_key": self.sim.apikey,
            "data_dir": str(self.data_dir),
            "demo": "false",
            "port": "0",  # any free port, reported on the "REST API:" line
            "flush_interval": "0.2",
            "api_rate_limit": "10000",
            "api_rate_burst": "10000",
        }
        if self.database.service_url:
            settings["database_url"] = self.database.service_url
        log = self.workdir / f"run-{len(self.runs) + 1}.log"
        proc = Proc([sys.executable, "-m", "tradeguard", "run"], clean_env(**settings), log,
                    self.workdir)  # fmt: skip
        self.runs.append(proc)
        return proc

    def start_guarding(self, timeout: float = 60.0) -> None:
        """Start and wait until guarding."""
        self.start()
        self.wait_guarding(timeout)

    def wait_guarding(self, timeout: float = 60.0) -> None:
        """Until the API's port is known, start-up is done (trades loaded and reconciled,
        symbols subscribed, the feed authenticated) and /health says ok."""
        proc = self.proc
        self.port = int(proc.wait_for(API_LINE, timeout).group(1))
        proc.wait_for(READY, timeout)
        proc.wait_for("OpenAlgo feed authenticated", timeout)
        if not self.apikey:
            self.apikey = (self.data_dir / "api_key.txt").read_text().strip()
        poll(self.healthy, timeout=timeout, interval=0.05, message="/health ok")

    def health(self) -> dict[str, Any] | None:
        try:
            reply = self.http.get(f"{self.url}/health")
        except httpx.HTTPError:
            return None
        try:
            return dict(reply.json())
        except ValueError:
            return None

    def healthy(self) -> bool:
        report = self.health()
        if report is None:
            return False
        unresolved = list(report.get("monitor", {}).get("exits_unresolved") or [])
        if unresolved and self.attendant is not None:
            self.attendant(unresolved)
        return report.get("status") == "ok"

    def call(self, endpoint: str, timeout: float = 5.0, **body: Any) -> httpx.Response:
        """POST /api/v1/<endpoint> (raises httpx.HTTPError when there is no answer)."""
        return self.http.post(
            f"{self.url}/api/v1/{endpoint}", json={"apikey": self.apikey, **body}, timeout=timeout
        )

    def kill(self) -> None:
        self.proc.send(signal.SIGKILL)
        self.proc.wait_exit()

    def close(self) -> None:
        self.http.close()
        for proc in self.runs:
            proc.close()
