"""Composition root: `tradeguard sim`'s broker-timing flags, rendered as the
`POST /sim/admin/timing` body they amount to (so a flag and the admin call behave the same)."""

from __future__ import annotations

import argparse
from typing import Any

from tradeguard.adapters.sim.timing import PROFILES

_MS_FLAGS = (
    ("report_lag_ms", "an order's status change shows in orderstatus/orderbook (and is pushed) "
     "N ms after it happened; positions and the trade book show a fill at once"),
    ("report_lag_jitter_ms", "plus a seeded random 0..N ms per change"),
    ("report_poll_ms", "order status changes show only when the broker is polled, every N ms "
     "(no order-update pushes at all then)"),
    ("report_poll_jitter_ms", "plus a seeded random 0..N ms per poll"),
    ("place_delay_ms", "placeorder/placesmartorder replies come N ms late (the order is placed "
     "at once); see --place-slow-ratio"),
    ("relogin_slow_ms", "for N ms after the broker session comes back from down, placement "
     "replies take --relogin-delay-ms"),
    ("relogin_delay_ms", "how late a placement reply is right after a re-login (default 10000)"),
    ("partial_fills", "a MARKET order fills in N parts (default 1)"),
    ("partial_interval_ms", "N ms between two parts of a partial fill (default 500)"),
)  # fmt: skip


def add_timing_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "broker timing",
        "change it at run time with POST /sim/admin/timing (the flags override the profile)",
    )
    group.add_argument(
        "--broker-timing",
        choices=PROFILES,
        help="instant (default): an ideal broker; realistic: order reports lag 1-2 s and are "
        "polled every 2-3 s with no push, one placement in ten takes 1.5 s, placements take "
        "10 s for 15 s after a re-login",
    )
    for name, text in _MS_FLAGS:
        flag = "--" + name.replace("_", "-")
        group.add_argument(flag, type=_whole, metavar="N", help=text)
    group.add_argument(
        "--place-slow-ratio",
        type=float,
        metavar="X",
        help="the share (0..1) of placements that are slow (default 1)",
    )
    group.add_argument(
        "--no-order-push",
        action="store_true",
        help="drop the WebSocket order-update stream (no order update is pushed)",
    )


def timing_spec(args: argparse.Namespace) -> dict[str, Any]:
    """The `/sim/admin/timing` body of the parsed flags (empty: the default, instant)."""
    spec: dict[str, Any] = {}
    if args.broker_timing is not None:
        spec["profile"] = args.broker_timing
    for name, _ in _MS_FLAGS:
        if getattr(args, name) is not None:
            spec[name] = getattr(args, name)
    if args.place_slow_ratio is not None:
        spec["place_slow_ratio"] = args.place_slow_ratio
    if args.no_order_push:
        spec["order_push"] = False
    return spec


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
