"""Chaos campaign: what a campaign found (Result, one Cycle per kill -9), its summary table
and its JSON."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.chaos.audit import Findings


@dataclass
class Cycle:
    number: int
    faults: list[str]
    window_s: float
    acked: int
    recovery_s: float | None
    missed: list[str]
    seconds: float


@dataclass
class Result:
    database: str
    seed: int
    cycles: int = 0
    acked_trades: int = 0
    createtrade_calls: int = 0
    exits_by_hand: int = 0
    lost: list[str] = field(default_factory=list)
    double_exits: list[str] = field(default_factory=list)
    nets_crossed: int = 0
    unguarded: dict[str, int] = field(default_factory=dict)
    overguarded: dict[str, int] = field(default_factory=dict)
    unattributed_exit_quantity: int = 0
    missed_exits: list[str] = field(default_factory=list)
    stuck_exiting: list[str] = field(default_factory=list)
    guarded_twice: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    unhealthy_restarts: int = 0
    recovery_s: list[float] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    history: list[Cycle] = field(default_factory=list)

    @property
    def violations(self) -> dict[str, int]:
        return {
            "lost": len(self.lost),
            "double_exits": len(self.double_exits),
            "nets_crossed": self.nets_crossed,
            "unguarded": sum(self.unguarded.values()),
            "missed_exits": len(self.missed_exits),
        }

    def recovery(self, q: float) -> float | None:
        values = sorted(self.recovery_s)
        if not values:
            return None
        return values[min(len(values) - 1, round(q * (len(values) - 1)))]

    def summary(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "seed": self.seed,
            "cycles": self.cycles,
            "acked_trades": self.acked_trades,
            **self.violations,
            "recovery_p50_s": self.recovery(0.5),
            "recovery_p99_s": self.recovery(0.99),
            "seconds": round(self.seconds, 1),
            "seconds_per_cycle": round(self.seconds / self.cycles, 2) if self.cycles else None,
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = self.summary()
        data["recovery_mean_s"] = statistics.fmean(self.recovery_s) if self.recovery_s else None
        return data

    def apply(self, findings: Findings) -> None:
        self.lost = findings.lost
        self.double_exits = findings.double_exits
        self.nets_crossed = findings.nets_crossed
        self.unguarded = findings.unguarded
        self.overguarded = findings.overguarded
        self.unattributed_exit_quantity = findings.unattributed_exits
        self.stuck_exiting = findings.stuck_exiting
        self.guarded_twice = findings.guarded_twice
        self.details = findings.details


def table(results: list[Result]) -> str:
    """The campaign's summary table (one row per database)."""
    head = ["database", "cycles", "acked", "lost", "double exits", "nets crossed",
            "unguarded", "missed exits", "recovery p50", "recovery p99", "s/cycle"]  # fmt: skip
    rows = [head]
    for r in results:
        s = r.summary()
        rows.append(
            [
                r.database,
                str(r.cycles),
                str(r.acked_trades),
                *(str(v) for v in r.violations.values()),
                _secs(s["recovery_p50_s"]),
                _secs(s["recovery_p99_s"]),
                _secs(s["seconds_per_cycle"]),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [" | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def write_json(results: list[Result], path: Path) -> None:
    path.write_text(json.dumps([r.to_json() for r in results], indent=1, default=str))
