"""Interfaces layer: render a replay report (app.replay.ReplayReport) as plain-text tables.

Times are IST, prices and P&L are rupees. A portfolio exit's trigger is a P&L amount and is
shown as such ("P&L -5000.00"); time exits have no trigger level ("-").
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from tradeguard.app.replay import ExitRow, ReplayReport
from tradeguard.core.money import fmt

IST = timezone(timedelta(hours=5, minutes=30), "IST")


def ist(ns: int, *, date: bool = False) -> str:
    moment = datetime.fromtimestamp(ns // 1_000_000_000, IST)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S")


def signed(units: int) -> str:
    return ("+" if units > 0 else "") + fmt(units)


def render_report(report: ReplayReport, *, ticks: str, config: str) -> str:
    multi_day = ist(report.first_at, date=True)[:10] != ist(report.last_at, date=True)[:10]
    trades = sum(summary.trades for summary in report.strategies)
    lines = [
        f"tradeguard replay of {ticks} with {config}",
        f"{report.ticks} ticks from {ist(report.first_at, date=True)} to "
        f"{ist(report.last_at, date=multi_day)} IST; {len(report.strategies)} strategies, "
        f"{trades} trades",
        *textwrap.wrap(f"Note: {report.fill_note}", 96),
        "",
        f"Exits ({len(report.exits)})",
    ]
    exit_rows = [_exit_cells(row, multi_day) for row in report.exits]
    lines += (
        _table(
            [
                "time (IST)",
                "trade",
                "strategy",
                "symbol",
                "side",
                "qty",
                "reason",
                "trigger",
                "price",
                "P&L (Rs)",
            ],
            exit_rows,
            right={5, 7, 8, 9},
        )
        if exit_rows
        else ["  (none)"]
    )
    if report.open_trades:
        lines += ["", f"Open at the end of the data ({len(report.open_trades)})"]
        lines += _table(
            [
                "trade",
                "strategy",
                "symbol",
                "side",
                "qty",
                "entry",
                "last",
                "stop",
                "target",
                "unrealized (Rs)",
            ],
            [
                [
                    row.trade_id,
                    row.strategy_id,
                    row.symbol,
                    row.side.value,
                    str(row.quantity),
                    fmt(row.entry_price),
                    fmt(row.last_price),
                    fmt(row.stop),
                    fmt(row.target),
                    signed(row.unrealized) if row.unrealized is not None else "-",
                ]
                for row in report.open_trades
            ],
            right={4, 5, 6, 7, 8, 9},
        )
    if report.strategy_changes:
        lines += ["", "Strategy events"]
        lines += [
            f"  {ist(change.at, date=multi_day)}  {change.strategy_id} -> {change.state.value} "
            f"({change.reason})"
            for change in report.strategy_changes
        ]
    lines += ["", "Strategies"]
    lines += _table(
        [
            "strategy",
            "trades",
            "exits",
            "by reason",
            "realized (Rs)",
            "open",
            "unrealized (Rs)",
            "state",
        ],
        [
            [
                summary.strategy_id,
                str(summary.trades),
                str(sum(summary.exits.values())),
                ", ".join(f"{reason.value} {n}" for reason, n in summary.exits.items()) or "-",
                signed(summary.realized),
                str(summary.open_trades),
                signed(summary.unrealized),
                summary.state.value + (f" ({summary.halt_reason})" if summary.halt_reason else ""),
            ]
            for summary in report.strategies
        ],
        right={1, 2, 4, 5, 6},
    )
    total = sum(summary.realized for summary in report.strategies)
    lines += ["", f"Total realized P&L: {signed(total)} Rs"]
    return "\n".join(lines) + "\n"


def _exit_cells(row: ExitRow, multi_day: bool) -> list[str]:
    if row.trigger is None:
        trigger = "-"
    elif row.reason.is_portfolio:
        trigger = f"P&L {signed(row.trigger)}"
    else:
        trigger = fmt(row.trigger)
    price = fmt(row.price) if row.priced else f"{fmt(row.price)} (entry: no tick yet)"
    return [
        ist(row.at, date=multi_day),
        row.trade_id,
        row.strategy_id,
        f"{row.exchange}:{row.symbol}",
        row.side.value,
        str(row.quantity),
        row.reason.value,
        trigger,
        price,
        signed(row.pnl),
    ]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(cells[i]) for cells in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return ("  " + "  ".join(parts)).rstrip()

    return [line(header), *(line(cells) for cells in rows)]
