"""Chaos campaign: kill -9 cycles of a real `tradeguard run` against a real simulator, with
faults, audited against the simulator's books (tests.chaos.audit).

One simulator runs the whole campaign (its books are the ground truth); tradeguard is killed
and restarted on the same data dir and database every cycle. A cycle, all of it drawn from one
seeded RNG:

1. entries: a few market orders filled at the simulator (while it is healthy), on keys held
   LONG or SHORT, each to be guarded by a trade with a stop and target close to the price;
2. chaos window (0.3-2 s): faults from the menu switch on and off at random moments while the
   campaign hands the entries to tradeguard (`createtrade` with the order id), moves prices
   (small steps and jumps through stops), exits a trade by hand now and then and, rarely,
   repeats a createtrade (a client retry);
3. kill -9 at the end of the window (often a few milliseconds after a jump through stops, so
   exits are in flight), every fault off, restart; the time from the kill until tradeguard
   guards again (start-up done, feed authenticated, /health ok) is measured;
4. settle: with tradeguard up and healthy, the current prices tick again and again until no
   ACTIVE trade stands through its stop or target (or `settle_s` passes: those are missed
   exits), then the books are audited.
"""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tests.chaos.audit import Books, Entry, Key, Ledger, audit, missed
from tests.chaos.faults import MENU, Fault, Target, clear_simulator, supported
from tests.chaos.lab import Database, PostgresDatabase, Service, SqliteDatabase
from tests.chaos.report import Cycle, Result
from tests.recovery.procs import EXCHANGE, Sim, poll
from tradeguard.core.money import to_units

START = {"RELIANCE": "2900", "INFY": "1500", "SBIN": "800", "TCS": "4100", "HDFCBANK": "1650"}
KEYS = [
    Key("RELIANCE", "MIS", 1),
    Key("INFY", "MIS", -1),
    Key("SBIN", "MIS", 1),
    Key("SBIN", "NRML", -1),
    Key("TCS", "CNC", 1),
    Key("HDFCBANK", "MIS", -1),
]
STRATEGY = "chaos"
TICK = Decimal("0.05")
MAX_OPEN = 16


@dataclass
class Options:
    cycles: int = 25
    database: str = "sqlite"  # sqlite | postgresql
    seed: int = 1
    budget_s: float = 0.0  # 0: no limit; else no new cycle starts after this many seconds
    settle_s: float = 10.0
    faults: list[Fault] = field(default_factory=lambda: list(MENU.values()))


def open_database(kind: str, data_dir: Path) -> Database:
    if kind == "sqlite":
        return SqliteDatabase(data_dir)
    if kind == "postgresql":
        return PostgresDatabase()
    raise ValueError(f"database must be sqlite or postgresql, not {kind!r}")


class Campaign:
    """One campaign on one database: `run` sets up the simulator, the database and tradeguard,
    runs the cycles (or until the time budget) and returns the Result of the last audit."""

    def __init__(self, options: Options, workdir: Path, log: Any = None) -> None:
        self.options = options
        self.workdir = workdir
        self.rng = random.Random(options.seed)
        self.log = log
        self.ledger = Ledger(list(KEYS))
        self.prices = {s: Decimal(p) for s, p in START.items()}
        self.result = Result(options.database, options.seed)
        self.missed: set[str] = set()
        self.attended: set[str] = set()  # unresolved exits retried by hand (attend)

    def say(self, text: str) -> None:
        if self.log is not None:
            print(text, file=self.log, flush=True)

    # -- the whole campaign ----------------------------------------------------------------

    def run(self) -> Result:
        began = time.monotonic()
        workdir = self.workdir
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        sim = Sim(workdir)
        database: Database | None = None
        service: Service | None = None
        try:
            sim.wait_ready()
            database = open_database(self.options.database, workdir / "data")
            self.sim, self.database = sim, database
            self.target = Target(sim, database)
            admin_post(sim, "/sim/admin/faults", {"rate_limits": {"enabled": False}})
            self.faults, notes = supported(self.options.faults, self.target, self.rng)
            self.result.notes += notes
            for note in notes:
                self.say(note)
            service = Service(sim, workdir, database, attendant=self.attend)
            self.service = service
            service.start_guarding()
            self.configure()
            self.manual_holdings()
            for number in range(1, self.options.cycles + 1):
                budget = self.options.budget_s
                if budget and time.monotonic() - began > budget:
                    self.result.notes.append(f"time budget {budget}s reached after "
                                             f"{number - 1} cycles")  # fmt: skip
                    break
                self.cycle(number)
            self.final_audit()
        finally:
            self.result.seconds = time.monotonic() - began
            if service is not None:
                service.close()
            if database is not None:
                database.close()
            sim.close()
        return self.result

    def configure(self) -> None:
        reply = self.service.call("strategy/configure", strategy=STRATEGY, max_open_positions=1000)
        assert reply.status_code == 200, reply.text

    def manual_holdings(self) -> None:
        """Quantity nobody guards on two keys (a trader's own), which exits must not touch."""
        for key in self.rng.sample(self.ledger.keys, 2):
            quantity = self.rng.randint(1, 5)
            self.place(key, quantity, "chaos-manual")
            self.ledger.manual[key] += quantity

    def place(self, key: Key, quantity: int, tag: str) -> str:
        body = {"symbol": key.symbol, "exchange": EXCHANGE, "action": key.entry_action}
        body |= {"quantity": str(quantity), "product": key.product, "pricetype": "MARKET"}
        return str(self.sim.call("placeorder", strategy=tag, **body)["orderid"])

    # -- one cycle -------------------------------------------------------------------------

    def cycle(self, number: int) -> None:
        rng = self.rng
        began = time.monotonic()
        acked_before = len(self.ledger.acked)
        entries = self.new_entries()
        window = rng.uniform(0.3, 2.0)
        schedule = self.fault_schedule(window)
        self.chaos(window, entries, schedule)
        self.service.kill()
        killed = time.monotonic()
        clear_simulator(self.sim)
        self.database.restore()
        recovery = self.restart(killed)
        missed_now = self.settle()
        cycle = Cycle(
            number,
            [name for name, _, _ in schedule],
            round(window, 2),
            len(self.ledger.acked) - acked_before,
            recovery,
            missed_now,
            round(time.monotonic() - began, 2),
        )
        self.result.history.append(cycle)
        self.result.cycles = number
        findings = audit(self.ledger, Books.read(self.sim, self.database))
        self.result.apply(findings)
        self.result.acked_trades = len(self.ledger.acked)
        self.result.missed_exits = sorted(self.missed)
        v = self.result.violations
        self.say(
            f"[{self.options.database}] cycle {number}: faults {cycle.faults or '-'} window "
            f"{window:.1f}s, acked {cycle.acked}, recovery "
            f"{'-' if recovery is None else f'{recovery:.2f}s'}, "
            f"violations so far {v}, {cycle.seconds:.1f}s"
        )

    def new_entries(self) -> list[Entry]:
        open_trades = sum(
            1 for r in self.database.rows("SELECT state FROM trades") if r["state"] == "ACTIVE"
        )
        if open_trades >= MAX_OPEN:
            return []
        entries = []
        for _ in range(self.rng.randint(1, 3)):
            key = self.rng.choice(self.ledger.keys)
            quantity = self.rng.randint(1, 10)
            entry = Entry(self.place(key, quantity, "chaos-entry"), key, quantity)
            self.ledger.entries[entry.order_id] = entry
            entries.append(entry)
        return entries

    def fault_schedule(self, window: float) -> list[tuple[str, float, float]]:
        """(fault, on at, off at) in seconds into the window; off past the window: still on
        at the kill."""
        rng = self.rng
        count = rng.choices([0, 1, 2], weights=[15, 50, 35])[0]
        chosen = rng.sample(self.faults, min(count, len(self.faults)))
        schedule = []
        for fault in chosen:
            on = rng.uniform(0, window * 0.6)
            schedule.append((fault.name, on, on + rng.uniform(0.2, window * 1.5)))
        return schedule

    def chaos(
        self, window: float, entries: list[Entry], schedule: list[tuple[str, float, float]]
    ) -> None:
        rng = self.rng
        start = time.monotonic()
        by_name = {f.name: f for f in self.faults}
        due = sorted(rng.uniform(0, window) for _ in entries)
        pending = list(entries)
        on: set[str] = set()
        while (now := time.monotonic() - start) < window:
            for name, at, off in schedule:
                if name not in on and at <= now < off:
                    by_name[name].start(self.target, random.Random(rng.random()))
                    on.add(name)
                elif name in on and now >= off:
                    by_name[name].stop(self.target)
                    on.discard(name)
            if pending and due and due[0] <= now:
                due.pop(0)
                self.create(pending.pop(0))
                continue
            roll = rng.random()
            if roll < 0.03:
                self.exit_by_hand()
            elif roll < 0.05:
                self.retry_create()
            else:
                self.move(jump=rng.random() < 0.1)
            time.sleep(rng.uniform(0.02, 0.12))
        for entry in pending:  # not handed over in time: created now, just before the kill
            self.create(entry)
        if rng.random() < 0.5:  # exits in flight at the kill
            self.move(jump=True)
            time.sleep(rng.uniform(0, 0.15))

    def create(self, entry: Entry) -> None:
        entry.tried = True
        self.result.createtrade_calls += 1
        rules = {
            "stop_loss": {"type": "POINTS", "value": str(self.rng.randint(10, 60) * TICK)},
            "target": {"type": "POINTS", "value": str(self.rng.randint(20, 120) * TICK)},
        }
        try:
            reply = self.service.call(
                "createtrade", timeout=3.0, strategy=STRATEGY, orderid=entry.order_id,
                rules=rules,
            )  # fmt: skip
        except httpx.HTTPError:
            return
        if reply.status_code == 200:
            body = reply.json()
            if body.get("status") == "success":
                entry.acked.append(str(body["data"]["trade_id"]))

    def retry_create(self) -> None:
        """A client repeating a createtrade that was answered (it must not guard twice)."""
        done = [e for e in self.ledger.entries.values() if e.acked]
        if done:
            self.create(self.rng.choice(done))

    def exit_by_hand(self) -> None:
        trade_ids = list(self.ledger.acked)
        if not trade_ids:
            return
        self.result.exits_by_hand += 1
        with contextlib.suppress(httpx.HTTPError):
            self.service.call("exittrade", timeout=3.0, trade_id=self.rng.choice(trade_ids))

    def move(self, jump: bool = False) -> None:
        """One price step of a symbol (a jump crosses nearby stops and targets)."""
        rng = self.rng
        symbol = rng.choice(list(self.prices))
        size = rng.randint(40, 120) if jump else rng.randint(1, 20)
        pull = Decimal(START[symbol]) - self.prices[symbol]
        sign = rng.choice([-1, 1]) if abs(pull) < 10 else (1 if pull > 0 else -1)
        self.prices[symbol] += sign * size * TICK
        self.tick(symbol)

    def tick(self, symbol: str) -> None:
        body = {"symbol": symbol, "exchange": EXCHANGE, "ltp": str(self.prices[symbol])}
        with contextlib.suppress(httpx.HTTPError):
            self.sim.http.post("/sim/admin/price", json=body)

    # -- restart and settle ----------------------------------------------------------------

    def restart(self, killed: float) -> float | None:
        try:
            self.service.start_guarding()
        except (AssertionError, TimeoutError) as error:
            self.result.unhealthy_restarts += 1
            self.say(f"restart not healthy: {error}")
            return None
        recovery = time.monotonic() - killed
        self.result.recovery_s.append(round(recovery, 3))
        return recovery

    def attend(self, unresolved: list[str]) -> None:
        """What the trader does on the critical "exit UNRESOLVED" alert (docs/operations.md):
        look for the exit in the broker's order book; none there -> retry it (exittrade). An
        order that is there is left to tradeguard, which adopts it (a retry then would double
        the exit, and the audit would count it)."""
        orders = self.sim.http.get("/sim/admin/orders").json()["data"]
        for trade_id in unresolved:
            if trade_id in self.attended or any(trade_id in str(o.get("strategy")) for o in orders):
                continue
            self.attended.add(trade_id)
            with contextlib.suppress(httpx.HTTPError):
                reply = self.service.call("exittrade", timeout=5.0, trade_id=trade_id)
                self.result.notes.append(
                    f"unresolved exit of {trade_id}, no order at the broker: retried by hand "
                    f"({reply.status_code})"
                )
                self.say(self.result.notes[-1])

    def units(self) -> dict[str, int]:
        return {s: to_units(p) for s, p in self.prices.items()}

    def settle(self) -> list[str]:
        """Tick the current prices until no ACTIVE trade stands through a level and nothing
        is EXITING; what is still ACTIVE through a level after `settle_s` was missed."""

        def settled() -> bool:
            for symbol in self.prices:
                self.tick(symbol)
            trades = {r["trade_id"]: r for r in self.database.rows("SELECT * FROM trades")}
            exiting = any(r["state"] == "EXITING" for r in trades.values())
            return not missed(trades, self.units()) and not exiting and self.service.healthy()

        try:
            poll(settled, timeout=self.options.settle_s, interval=0.2, message="settled")
            return []
        except TimeoutError:
            trades = {r["trade_id"]: r for r in self.database.rows("SELECT * FROM trades")}
            found = missed(trades, self.units())
            if self.service.healthy():
                self.missed.update(found)
            return found

    def final_audit(self) -> None:
        findings = audit(self.ledger, Books.read(self.sim, self.database))
        self.result.apply(findings)
        self.result.acked_trades = len(self.ledger.acked)


def admin_post(sim: Sim, path: str, body: dict[str, Any]) -> None:
    reply = sim.http.post(path, json=body)
    assert reply.status_code == 200, reply.text
