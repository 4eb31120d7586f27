"""Tests: real processes for the crash and signal tests.

`Sim` runs `tradeguard sim --no-walk` as a subprocess on port 0 (the ports it bound are read
from the URLs it prints; prices move only by `POST /sim/admin/price`); `Guard` runs `tradeguard
run` against it as a subprocess (its own data dir, TRADEGUARD_DEMO=false, console output
captured to one log file per start), so SIGKILL, SIGINT and SIGTERM hit a real process. Waiting
is always polling with a deadline (`poll`).

Opening trades: `Cluster.open_trades` places each entry order at the simulator (a real fill),
then hands the trade to tradeguard. While tradeguard runs that would be `POST
/api/v1/createtrade`; the REST API is not wired into `tradeguard run` yet, so trades are opened
while it is stopped, by committing the same snapshot records `Monitor.add_trade` writes
(app.snapshots over a RiskEngine) through the real SqlStore. tradeguard then takes them over
through its one start path (load, reconcile with the simulator's books, subscribe), exactly as
after a restart. Assertions read the simulator's order book over REST and tradeguard's SQLite
file directly (sqlite3, read-only).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.helpers import PATIENT_STORE
from tradeguard.adapters.db.store import SqlStore
from tradeguard.adapters.sim.rest_app import ADMIN_KEY_HEADER
from tradeguard.app.records import Record
from tradeguard.app.snapshots import Snapshots, audit
from tradeguard.core.engine import RiskEngine
from tradeguard.core.model import Instrument, Product, Side
from tradeguard.core.money import to_units
from tradeguard.core.rules import TradeRules
from tradeguard.core.strategy import StrategyRiskConfig
from tradeguard.core.trade import Trade

T = TypeVar("T")
EXCHANGE = "NSE"
# How long a started process may take to print its ready line. Importing tradeguard's stack
# takes about a second on an idle machine and well over ten on a busy 2-core one; this is only
# the deadline after which a process that never got ready fails the test.
START_WITHIN = 60.0
READY = re.compile(r"monitoring (\d+) trades on (\d+) symbols")


def poll(
    check: Callable[[], T],
    *,
    timeout: float = 10.0,
    interval: float = 0.02,
    message: str = "condition",
) -> T:
    """Re-run `check` until it returns a truthy value (or stops raising AssertionError); the
    synchronous twin of tests.helpers.eventually, for subprocess tests."""
    deadline = time.monotonic() + timeout
    last: AssertionError | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except AssertionError as error:
            last = error
        if time.monotonic() >= deadline:
            if last is not None:
                raise last
            raise TimeoutError(f"{message} did not hold within {timeout}s")
        time.sleep(interval)


def clean_env(**settings: str) -> dict[str, str]:
    """The test's environment without inherited TRADEGUARD_* settings, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEGUARD_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update({f"TRADEGUARD_{k.upper()}": v for k, v in settings.items()})
    return env


class Proc:
    """One subprocess with stdout and stderr captured to `log`."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, cwd: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.popen = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=self._out, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(
        self, pattern: re.Pattern[str] | str, timeout: float = START_WITHIN
    ) -> re.Match[str]:
        """Poll the output for `pattern`; fail early (with the output) if the process died."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern

        def found() -> re.Match[str] | None:
            match = regex.search(self.text())
            if match is None and not self.alive:
                raise AssertionError(
                    f"{self.log.name}: exited {self.popen.returncode} before {regex.pattern!r}:"
                    f"\n{self.text()[-3000:]}"
                )
            return match

        return poll(found, timeout=timeout, message=f"{regex.pattern!r} in {self.log.name}")

    def send(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def wait_exit(self, timeout: float = 10.0) -> int:
        """The exit status (negative: killed by that signal) once the process is gone."""
        poll(lambda: not self.alive, timeout=timeout, message=f"{self.log.name} exits")
        return int(self.popen.returncode)

    def close(self) -> None:
        """Teardown: SIGKILL if still running, reap, close the log."""
        if self.alive:
            self.popen.kill()
        try:
            self.popen.wait(timeout=10)
        finally:
            self._out.close()


class Sim:
    """`tradeguard sim` in a subprocess, and a REST client for its API and admin endpoints."""

    def __init__(self, workdir: Path, apikey: str = "k" * 64) -> None:
        self.apikey = apikey
        self.rest_port = self.ws_port = 0  # known once `wait_ready` has read them
        args = [sys.executable, "-m", "tradeguard", "sim", "--no-walk", "--apikey", apikey]
        args += ["--rest-port", "0", "--ws-port", "0"]
        self.proc = Proc(args, clean_env(), workdir / "sim.log", workdir)
        self.http = httpx.Client(timeout=10.0, headers={ADMIN_KEY_HEADER: apikey})

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    def wait_ready(self) -> None:
        """Wait for the simulator's banner and take the ports it bound from it."""
        self.proc.wait_for(r"apikey\s+\S+")
        rest = self.proc.wait_for(r"simulator REST\s+http://127\.0\.0\.1:(\d+)/")
        ws = self.proc.wait_for(r"simulator WS\s+ws://127\.0\.0\.1:(\d+)")
        self.rest_port, self.ws_port = int(rest.group(1)), int(ws.group(1))
        self.http.base_url = httpx.URL(self.rest_url)

    def call(self, endpoint: str, **body: Any) -> Any:
        reply = self.http.post(f"/api/v1/{endpoint}", json={"apikey": self.apikey, **body})
        assert reply.status_code == 200, f"{endpoint}: {reply.status_code} {reply.text}"
        return reply.json()

    def price(self, symbol: str, ltp: str | Decimal, exchange: str = EXCHANGE) -> None:
        """Move the market: one tick goes out on the WebSocket (the same price again is a
        tick too)."""
        body = {"symbol": symbol, "exchange": exchange, "ltp": str(ltp)}
        reply = self.http.post("/sim/admin/price", json=body)
        assert reply.status_code == 200, reply.text

    def faults(self, **spec: Any) -> dict[str, Any]:
        reply = self.http.post("/sim/admin/faults", json=spec)
        assert reply.status_code == 200, reply.text
        return dict(reply.json()["data"])

    def place(self, symbol: str, action: str, quantity: int, strategy: str = "entry") -> str:
        body = {"symbol": symbol, "exchange": EXCHANGE, "action": action}
        body |= {"quantity": str(quantity), "product": "MIS", "pricetype": "MARKET"}
        return str(self.call("placeorder", strategy=strategy, **body)["orderid"])

    def average_price(self, order_id: str) -> Decimal:
        row = self.call("orderstatus", orderid=order_id, strategy="test")["data"]
        assert row["order_status"] == "complete", row
        return Decimal(str(row["average_price"]))

    def orders(self, symbol: str | None = None, action: str | None = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.call("orderbook")["data"]["orders"]
        return [r for r in rows if symbol in (None, r["symbol"]) and action in (None, r["action"])]

    def net(self, symbol: str) -> int:
        rows = self.call("positionbook")["data"]
        return sum(int(r["quantity"]) for r in rows if r["symbol"] == symbol)

    def close(self) -> None:
        self.http.close()
        self.proc.close()


@dataclass
class TradeSpec:
    """A trade to open: the entry is filled at the simulator's current price."""

    trade_id: str
    symbol: str
    quantity: int
    rules: TradeRules
    side: Side = Side.LONG
    strategy: str = "s1"
    entry_order_id: str = ""
    entry_price: int = 0

    @property
    def entry_action(self) -> str:
        return "BUY" if self.side is Side.LONG else "SELL"

    @property
    def exit_action(self) -> str:
        return "SELL" if self.side is Side.LONG else "BUY"


@dataclass
class Guard:
    """`tradeguard run` against `sim`, restartable on the same data dir."""

    sim: Sim
    workdir: Path
    flush_interval: float = 0.2
    database_url: str = ""  # empty: the SQLite file in the data dir
    runs: list[Proc] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "tradeguard.db"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.db_path}"

    @property
    def proc(self) -> Proc:
        return self.runs[-1]

    @property
    def running(self) -> bool:
        return bool(self.runs) and self.proc.alive

    def start(self, failpoint: str = "") -> Proc:
        """Start a new process (log `run-N.log`) and return it without waiting."""
        env = clean_env(
            openalgo_url=self.sim.rest_url,
            openalgo_ws_url=self.sim.ws_url,
            openalgo_api_key=self.sim.apikey,
            data_dir=str(self.data_dir),
            demo="false",
            port="0",  # the REST API on any free port (these tests do not call it)
            flush_interval=str(self.flush_interval),
            failpoint=failpoint,
        )
        if self.database_url:
            env["TRADEGUARD_DATABASE_URL"] = self.database_url
        log = self.workdir / f"run-{len(self.runs) + 1}.log"
        proc = Proc([sys.executable, "-m", "tradeguard", "run"], env, log, self.workdir)
        self.runs.append(proc)
        return proc

    def start_ready(self, failpoint: str = "", timeout: float = START_WITHIN) -> re.Match[str]:
        """Start and wait for the "monitoring N trades" line (recovery done, feed started),
        then for the feed's authentication (ticks sent before that would be lost)."""
        proc = self.start(failpoint)
        ready = proc.wait_for(READY, timeout)
        proc.wait_for("OpenAlgo feed authenticated", timeout)
        return ready

    def kill(self) -> None:
        self.proc.send(signal.SIGKILL)
        assert self.proc.wait_exit() == -signal.SIGKILL

    def close(self) -> None:
        for proc in self.runs:
            proc.close()

    # -- tradeguard's database, read directly ---------------------------------------------

    def _query(self, sql: str) -> list[dict[str, Any]]:
        db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5.0)
        try:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute(sql)]
        finally:
            db.close()

    def trades(self) -> dict[str, dict[str, Any]]:
        return {r["trade_id"]: r for r in self._query("SELECT * FROM trades")}

    def strategies(self) -> dict[str, dict[str, Any]]:
        return {r["strategy_id"]: r for r in self._query("SELECT * FROM strategies")}

    def audit(self, subject: str | None = None) -> list[dict[str, Any]]:
        rows = self._query("SELECT * FROM audit ORDER BY id")
        for row in rows:
            row["detail"] = json.loads(row["detail"])
        return [r for r in rows if subject in (None, r["subject"])]


@dataclass
class Cluster:
    """A simulator, a tradeguard on it, and the trades opened."""

    sim: Sim
    guard: Guard
    specs: dict[str, TradeSpec] = field(default_factory=dict)

    def open_trades(self, specs: Iterable[TradeSpec], **strategy: Any) -> None:
        """Fill each entry at the simulator, then seed the trades (tradeguard stopped)."""
        if self.guard.running:
            raise RuntimeError(
                "tradeguard's createtrade API is not wired into `tradeguard run` yet: open "
                "trades while it is stopped (they are taken over at start)"
            )
        opened = []
        for spec in specs:
            spec.entry_order_id = self.sim.place(spec.symbol, spec.entry_action, spec.quantity)
            spec.entry_price = to_units(self.sim.average_price(spec.entry_order_id))
            self.specs[spec.trade_id] = spec
            opened.append(spec)
        asyncio.run(seed(self.guard.db_url, opened, StrategyRiskConfig().replace(**strategy)))

    def exits(self, trade_id: str) -> list[dict[str, Any]]:
        """The exit orders the simulator received for a trade (one symbol per trade)."""
        spec = self.specs[trade_id]
        return [
            o
            for o in self.sim.orders(spec.symbol, spec.exit_action)
            if o["orderid"] != spec.entry_order_id
        ]

    def assert_no_double_exit(self) -> None:
        """No trade was sent more exit quantity than it holds (one exit order each)."""
        for trade_id, spec in self.specs.items():
            sent = [int(o["quantity"]) for o in self.exits(trade_id)]
            assert len(sent) <= 1, (trade_id, sent)
            assert sum(sent) <= spec.quantity, (trade_id, sent)

    def close(self) -> None:
        self.guard.close()
        self.sim.close()


async def seed(url: str, specs: list[TradeSpec], config: StrategyRiskConfig) -> None:
    """Commit what `Monitor.add_trade` writes for each trade (a new strategy's row first)."""
    engine = RiskEngine()
    snapshots = Snapshots(engine)
    store = await SqlStore.open(url, **PATIENT_STORE)
    now = time.time_ns()
    try:
        stored = {r.strategy_id for r in (await store.load()).strategies}
        records: list[Record] = []
        for strategy_id in sorted({s.strategy for s in specs}):
            book = engine.add_strategy(strategy_id, config)
            if strategy_id not in stored:
                records.append(snapshots.strategy_record(book, now))
        for spec in specs:
            trade = Trade(
                trade_id=spec.trade_id,
                strategy_id=spec.strategy,
                instrument=Instrument(spec.symbol, EXCHANGE, Decimal("0.05")),
                side=spec.side,
                quantity=spec.quantity,
                entry_price=spec.entry_price,
                entered_at=now,
                rules=spec.rules,
                product=Product.MIS,
                entry_order_id=spec.entry_order_id,
            )
            engine.add_trade(trade, now)
            records.append(snapshots.trade_record(trade, now))
            records.append(audit(now, "trade_created", trade.trade_id, actor="test-seed"))
        assert await store.commit(records)
    finally:
        await store.close()
