"""The demo replay: every kind of exit appears, and each matches an independent calculation.

The oracle below reads examples/ticks.csv with the csv module and examples/strategies.toml
with tomllib and recomputes levels, exits and P&L in Decimal rupees, following docs/rules.md
(stop, target and breakeven levels round up for LONG, down for SHORT; trailing stops round
away from the best price and stay a tick from it; tightest stop wins; breakeven before
trailing on a tie). It shares no code with the engine or the replay loaders.
"""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

from tradeguard.adapters.replay.config_toml import load_replay_config
from tradeguard.adapters.replay.ticks_csv import read_ticks
from tradeguard.app.replay import ReplayReport, run_replay
from tradeguard.core.model import ExitReason, StrategyState

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
IST = timezone(timedelta(hours=5, minutes=30))

EXPECTED_REASONS = {
    "T1": "STOP_LOSS",
    "T2": "TARGET",
    "T3": "TRAILING_STOP",
    "T4": "BREAKEVEN_STOP",
    "T5": "SQUARE_OFF",
    "T6": "PORTFOLIO_STOP",
    "T7": "PORTFOLIO_STOP",
}


def to_tick(value: Decimal, tick: Decimal, up: bool) -> Decimal:
    return (value / tick).to_integral_value(ROUND_CEILING if up else ROUND_FLOOR) * tick


@dataclass
class Position:
    id: str
    strategy: str
    symbol: str
    sign: int
    qty: int
    entry: Decimal
    tick: Decimal
    rules: dict
    cfg: dict
    entered: datetime
    best: Decimal
    open: bool = True

    def level(self, pct: Decimal, direction: int) -> Decimal:
        raw = self.entry * (1 + direction * self.sign * pct / 100)
        return to_tick(raw, self.tick, self.sign > 0)

    def stop(self) -> tuple[Decimal | None, str | None]:
        """Tightest of stop-loss, breakeven and trailing (ties keep the earlier name)."""
        candidates: list[tuple[Decimal, str]] = []
        move = self.sign * (self.best - self.entry)
        if "breakeven" in self.rules and move >= Decimal(
            self.rules["breakeven"]["trigger"]["value"]
        ):
            buffer = Decimal(self.rules["breakeven"]["buffer"]["value"])
            candidates.append(
                (
                    to_tick(self.entry + self.sign * buffer, self.tick, self.sign > 0),
                    "BREAKEVEN_STOP",
                )
            )
        if "trailing" in self.rules and move >= Decimal(
            self.rules["trailing"]["activation"]["value"]
        ):
            raw = self.best * (1 - self.sign * Decimal(self.rules["trailing"]["value"]) / 100)
            # away from the best price, and at least one tick from it
            trail = to_tick(raw, self.tick, self.sign < 0)
            beside = to_tick(self.best, self.tick, self.sign < 0) - self.sign * self.tick
            trail = min(trail, beside) if self.sign > 0 else max(trail, beside)
            candidates.append((trail, "TRAILING_STOP"))
        stop, why = self.level(Decimal(self.cfg["sl_value"]), -1), "STOP_LOSS"
        for level, name in candidates:
            if self.sign * (level - stop) > 0:
                stop, why = level, name
        return stop, why

    def evaluate(self, ltp: Decimal) -> tuple[str, Decimal] | None:
        if self.sign * (ltp - self.best) > 0:
            self.best = ltp
        stop, why = self.stop()
        if stop is not None and self.sign * (ltp - stop) <= 0:
            return why, stop
        if self.cfg.get("enable_target"):
            target = self.level(Decimal(self.cfg["target_value"]), +1)
            if self.sign * (ltp - target) >= 0:
                return "TARGET", target
        return None


Exit = tuple[datetime, str, str, Decimal | None, Decimal, Decimal]


def load_positions() -> tuple[dict, list[tuple[datetime, str, Decimal]], list[Position]]:
    with open(EXAMPLES / "strategies.toml", "rb") as handle:
        config = tomllib.load(handle, parse_float=Decimal)
    with open(EXAMPLES / "ticks.csv", newline="") as handle:
        ticks = [
            (datetime.fromisoformat(r["timestamp"]), r["symbol"], Decimal(r["ltp"]))
            for r in csv.DictReader(handle)
        ]
    positions = [
        Position(
            t["id"],
            t["strategy"],
            t["symbol"],
            1 if t["side"] == "LONG" else -1,
            t["quantity"],
            Decimal(t["entry_price"]),
            Decimal(t.get("tick_size", "0.05")),
            t.get("rules", {}),
            config["strategies"][t["strategy"]],
            t.get("entered_at", ticks[0][0]),
            Decimal(t["entry_price"]),
        )
        for t in config["trades"]
    ]
    return config, ticks, positions


class Oracle:
    def __init__(self) -> None:
        self.config, self.ticks, self.positions = load_positions()
        self.last: dict[str, Decimal] = {}
        self.realized = {name: Decimal(0) for name in self.config["strategies"]}
        self.halted: set[str] = set()
        self.exits: list[Exit] = []

    def close(self, p: Position, at: datetime, why: str, trigger: Decimal | None) -> None:
        price = self.last[p.symbol]
        p.open = False
        pnl = p.sign * (price - p.entry) * p.qty
        self.realized[p.strategy] += pnl
        self.exits.append((at, p.id, why, trigger, price, pnl))

    def square_off(self, at: datetime) -> None:
        """At the deadline, at the last price before it."""
        for p in self.positions:
            square = p.cfg.get("square_off_time")
            if square and p.open and p.entered <= at:
                hh, mm = (int(x) for x in square.split(":"))
                deadline = datetime.combine(p.entered.date(), time(hh, mm), IST)
                if p.entered < deadline <= at:
                    self.close(p, deadline, "SQUARE_OFF", None)

    def portfolio(self, at: datetime) -> None:
        for name, cfg in self.config["strategies"].items():
            if not cfg.get("enable_portfolio_sl") or name in self.halted:
                continue
            mine = [p for p in self.positions if p.strategy == name and p.open]
            pnl = self.realized[name] + sum(
                p.sign * (self.last[p.symbol] - p.entry) * p.qty
                for p in mine
                if p.symbol in self.last
            )
            limit = Decimal(cfg["portfolio_sl_value"])
            if pnl <= -limit:
                self.halted.add(name)
                for p in mine:
                    self.close(p, at, "PORTFOLIO_STOP", -limit)

    def run(self) -> list[Exit]:
        for at, symbol, ltp in self.ticks:
            self.square_off(at)
            self.last[symbol] = ltp
            for p in self.positions:
                if p.open and p.symbol == symbol and p.entered <= at:
                    hit = p.evaluate(ltp)
                    if hit:
                        self.close(p, at, hit[0], hit[1])
            self.portfolio(at)
        return self.exits


def oracle() -> list[Exit]:
    """(time, trade, reason, trigger, fill price, P&L) for every exit, in order."""
    return Oracle().run()


def replay() -> ReplayReport:
    setup = load_replay_config(EXAMPLES / "strategies.toml")
    return run_replay(setup.strategies, setup.trades, read_ticks(EXAMPLES / "ticks.csv"))


def rupees(units: int | None) -> Decimal | None:
    return None if units is None else Decimal(units) / 10_000


def test_demo_shows_every_kind_of_exit() -> None:
    report = replay()
    assert {row.trade_id: row.reason.value for row in report.exits} == EXPECTED_REASONS
    assert not report.open_trades


def test_demo_exits_match_the_independent_oracle() -> None:
    report = replay()
    expected = oracle()
    assert {e[1]: e[2] for e in expected} == EXPECTED_REASONS  # the oracle agrees on the story
    got = sorted(
        (
            datetime.fromtimestamp(row.at // 10**9, IST),
            row.trade_id,
            row.reason.value,
            rupees(row.trigger),
            rupees(row.price),
            rupees(row.pnl),
        )
        for row in report.exits
    )
    assert got == sorted(expected)


def test_demo_strategy_summary() -> None:
    report = replay()
    expected = oracle()
    by_id = {s.strategy_id: s for s in report.strategies}
    assert by_id["meanrev"].state is StrategyState.HALTED
    assert by_id["meanrev"].exits == {ExitReason.PORTFOLIO_STOP: 2}
    assert by_id["momentum"].state is StrategyState.ACTIVE
    assert sum(by_id["momentum"].exits.values()) == 5
    for name, trades in (("momentum", {"T1", "T2", "T3", "T4", "T5"}), ("meanrev", {"T6", "T7"})):
        assert rupees(by_id[name].realized) == sum(e[5] for e in expected if e[1] in trades)
        assert by_id[name].open_trades == 0
