"""Tests (failure 3): what tradeguard acknowledged while its database was unavailable survives
kill -9. A real `tradeguard run` subprocess; the SQLite file's write lock held by the test (as
another process would). createtrade answers 200, an exit fires and goes out meanwhile; the
process is SIGKILLed, the database comes back, tradeguard restarts: the trade created during
the outage is there and guarded, the exit made during the outage is CLOSED on its one order,
and no trade got a second exit order.

On the code before the journal, the trade created during the outage was unknown after the
restart (its position open and unguarded). The same on PostgreSQL, its link cut by a TCP proxy
(in a thread of the test) between tradeguard and the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.db.conftest import libpq, postgres_schema
from tests.db.proxy import TcpProxy
from tests.helpers import sqlite_write_lock
from tests.recovery.procs import Cluster, poll
from tradeguard.core.money import to_units

REST = re.compile(r"REST API: (\S+)/api/v1/")
SETTINGS = {"enable_sl": True, "sl_type": "POINTS", "sl_value": "2", "max_open_positions": 10}


class Client:
    def __init__(self, cluster: Cluster) -> None:
        guard = cluster.guard
        self.base = guard.proc.wait_for(REST).group(1)
        self.apikey = (guard.data_dir / "api_key.txt").read_text().strip()

    def post(self, path: str, **body: Any) -> httpx.Response:
        return httpx.post(
            f"{self.base}/api/v1/{path}", json={"apikey": self.apikey, **body}, timeout=15.0
        )

    def data(self, path: str, **body: Any) -> Any:
        reply = self.post(path, **body)
        assert reply.status_code == 200, reply.text
        return reply.json()["data"]


Rows = Callable[[], dict[str, dict[str, Any]]]
Audit = Callable[[str], list[str]]


def scenario(
    cluster: Cluster,
    outage: Callable[[], contextlib.AbstractContextManager[Any]],
    trades_of: Rows,
    audit_of: Audit,
) -> None:
    """Guard a trade, take the database away, create a second trade and let the first exit,
    kill -9, bring the database back, restart; check both, then exit the second."""
    sim, guard = cluster.sim, cluster.guard
    guard.start_ready()
    api = Client(cluster)
    api.data("strategy/configure", strategy="s1", **SETTINGS)
    before = sim.place("SBIN", "BUY", 10)  # guarded before the outage, exits during it
    early = api.data("createtrade", strategy="s1", orderid=before)["trade_id"]
    entry = sim.place("INFY", "BUY", 5)

    with outage():
        during = api.data("createtrade", strategy="s1", orderid=entry)["trade_id"]
        sim.price("SBIN", "797")  # through the SBIN stop (798): exits while the db is away

        def exited() -> list[dict[str, Any]]:
            sim.price("SBIN", "797")
            return [o for o in sim.orders("SBIN", "SELL") if o["orderid"] != before]

        [exit_order] = poll(exited, timeout=15, message="SBIN exit sent")
        poll(  # closed in memory: its CLOSED snapshot was acknowledged (journaled)
            lambda: early not in {t["trade_id"] for t in api.data("activetrades")},
            timeout=15,
            message="SBIN closed",
        )
        guard.kill()
        assert guard.proc.popen.returncode == -signal.SIGKILL
        assert during not in trades_of()  # the database never got it: only the journal

    guard.start_ready()
    trades = trades_of()
    assert during in trades, "the trade acknowledged during the outage was lost"
    assert trades[during]["state"] == "ACTIVE"
    assert trades[during]["entry_order_id"] == entry
    assert trades[early]["state"] == "CLOSED"
    assert trades[early]["exit_order_id"] == exit_order["orderid"]
    assert trades[early]["exit_price"] == to_units(sim.average_price(exit_order["orderid"]))
    assert audit_of(during).count("trade_created") == 1  # replayed exactly once
    assert (guard.data_dir / "tradeguard.journal").stat().st_size == 0

    # the trade created during the outage is guarded again: its stop exits it, once
    assert trades[during]["stop_loss"] is not None
    below = sim.average_price(entry) - 3

    def infy_exit() -> list[dict[str, Any]]:
        sim.price("INFY", str(below))
        return [o for o in sim.orders("INFY", "SELL") if o["orderid"] != entry]

    poll(infy_exit, timeout=15, message="INFY exit sent")
    poll(lambda: trades_of()[during]["state"] == "CLOSED", timeout=15, message="closed")
    assert len(infy_exit()) == 1
    assert len([o for o in sim.orders("SBIN", "SELL") if o["orderid"] != before]) == 1
    assert sim.net("SBIN") == 0
    assert sim.net("INFY") == 0


@pytest.mark.slow
def test_acknowledged_during_a_database_outage_survives_kill_9(cluster: Cluster) -> None:
    guard = cluster.guard

    def audit_of(subject: str) -> list[str]:
        return [a["action"] for a in guard.audit(subject)]

    scenario(cluster, lambda: sqlite_write_lock(guard.db_path), guard.trades, audit_of)


class ThreadedProxy:
    """tests.db.proxy.TcpProxy on an event loop of its own thread (this test is synchronous)."""

    def __init__(self, host: str, port: int) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.proxy = self._run(TcpProxy(host, port).start())

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    @contextlib.contextmanager
    def cut(self) -> Iterator[None]:
        async def cut() -> None:
            self.proxy.cut()

        async def restore() -> None:
            self.proxy.restore()

        self._run(cut())
        try:
            yield
        finally:
            self._run(restore())

    def close(self) -> None:
        try:
            self._run(self.proxy.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_acknowledged_during_a_postgres_outage_survives_kill_9(cluster: Cluster) -> None:
    with postgres_schema() as database:
        url = database.url
        proxy = ThreadedProxy(url.host or "127.0.0.1", url.port or 5432)
        try:
            via = database.with_address("127.0.0.1", proxy.proxy.port)
            cluster.guard.database_url = via.render_as_string(hide_password=False)
            schema = str(url.query["options"]).removeprefix("-csearch_path=")

            def query(sql: str, *args: Any) -> list[dict[str, Any]]:
                with psycopg.connect(libpq(url), row_factory=psycopg.rows.dict_row) as db:
                    db.execute(f'SET search_path TO "{schema}"')
                    return list(db.execute(sql, args).fetchall())

            def trades_of() -> dict[str, dict[str, Any]]:
                return {r["trade_id"]: r for r in query("SELECT * FROM trades")}

            def audit_of(subject: str) -> list[str]:
                rows = query("SELECT action FROM audit WHERE subject = %s ORDER BY id", subject)
                return [r["action"] for r in rows]

            scenario(cluster, proxy.cut, trades_of, audit_of)
        finally:
            cluster.guard.close()
            proxy.close()
