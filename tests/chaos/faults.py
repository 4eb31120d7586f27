"""Chaos campaign: the fault menu, by name.

A fault is switched on with a seeded RNG (so its parameters are reproducible) and off again.
Most faults are simulator admin bodies (`/sim/admin/faults`, `/sim/admin/feed`): `admin_fault`
names the endpoint and the body that switches it on; off is the campaign's `clear_simulator`
(every REST fault reset, late fills released, every feed switch off), after an optional `off`
body. New simulator faults plug in by name: add an `admin_fault` to `MENU` here, or pass one
on the command line (`--extra-fault 'NAME={"path": "/sim/admin/faults", "on": {...}}'`,
optionally with `"off": {...}`). A fault the running simulator does not know (its admin
endpoint answers 400) is left out of the campaign with a note, so the menu can name faults
that land later.

The database outage is the one fault that is not the simulator's (lab.Database.cut).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.chaos.lab import Database
from tests.recovery.procs import Sim

Body = dict[str, Any]
FEED_OFF: Body = {"stale": False, "refuse": False, "duplicate_ticks": False,
                  "duplicate_orders": False}  # fmt: skip
REST_OFF: Body = {"reset": True, "fill_late": False, "release_late": True}
# The endpoints tradeguard's exit and recovery paths call.
EXIT_PATH = ["placeorder", "orderstatus", "orderbook", "positionbook", "openposition", "quotes"]


@dataclass(frozen=True)
class Target:
    """What a fault acts on."""

    sim: Sim
    database: Database


@dataclass(frozen=True)
class Fault:
    name: str
    start: Callable[[Target, random.Random], None]
    stop: Callable[[Target], None]


def admin(sim: Sim, path: str, body: Body) -> dict[str, Any]:
    reply = sim.http.post(path, json=body)
    if reply.status_code != 200:
        raise FaultRefused(f"{path} {json.dumps(body)}: {reply.status_code} {reply.text}")
    return dict(reply.json().get("data") or {})


class FaultRefused(RuntimeError):
    """The simulator refused a fault body (it does not know the fault)."""


def clear_simulator(sim: Sim) -> None:
    """Every simulator fault off: REST faults reset, late fills released, feed switches off,
    the broker's timing instant again."""
    admin(sim, "/sim/admin/faults", REST_OFF)
    admin(sim, "/sim/admin/feed", FEED_OFF)
    admin(sim, TIMING, INSTANT)


def admin_fault(
    name: str, path: str, on: Callable[[random.Random], Body] | Body, off: Body | None = None
) -> Fault:
    """A simulator fault: `on` (a body, or a body drawn from the RNG) posted to `path`; off is
    `off` posted to `path` (when the fault needs more than the reset), then `clear_simulator`."""

    def start(target: Target, rng: random.Random) -> None:
        body = on(rng) if callable(on) else dict(on)
        admin(target.sim, path, body)

    def stop(target: Target) -> None:
        if off is not None:
            admin(target.sim, path, off)
        clear_simulator(target.sim)

    return Fault(name, start, stop)


def _endpoints(rng: random.Random) -> list[str]:
    return rng.sample(EXIT_PATH, rng.randint(1, 3))


def _db_start(target: Target, rng: random.Random) -> None:
    target.database.cut()


def _db_stop(target: Target) -> None:
    target.database.restore()


FAULTS = "/sim/admin/faults"
FEED = "/sim/admin/feed"
TIMING = "/sim/admin/timing"
INSTANT: Body = {"profile": "instant"}
MENU: dict[str, Fault] = {
    f.name: f
    for f in [
        Fault("db_outage", _db_start, _db_stop),
        admin_fault("feed_drop", FEED, {"drop": True}),
        admin_fault("feed_refuse", FEED, {"refuse": True, "drop": True}),
        admin_fault("feed_stale", FEED, {"stale": True}),
        admin_fault("duplicate_ticks", FEED, {"duplicate_ticks": True}),
        admin_fault("duplicate_orders", FEED, {"duplicate_orders": True}),
        admin_fault(
            "rest_500",
            FAULTS,
            lambda rng: {
                "fail": "500",
                "fail_count": rng.randint(1, 4),
                "endpoints": _endpoints(rng),
            },
        ),
        admin_fault(
            "rest_timeout",
            FAULTS,
            lambda rng: {
                "fail": "timeout",
                "hang_ms": rng.randint(500, 4000),
                "fail_count": rng.randint(1, 2),
                "endpoints": _endpoints(rng),
            },
        ),
        admin_fault("rest_slow", FAULTS, lambda rng: {"delay_ms": rng.randint(50, 800)}),
        admin_fault(
            "order_reply_late",
            FAULTS,
            lambda rng: {
                "order_reply": "late",
                "order_reply_count": rng.randint(1, 2),
                "order_reply_delay_ms": rng.randint(300, 8000),
            },
        ),
        admin_fault("order_reply_500", FAULTS, {"order_reply": "500", "order_reply_count": 1}),
        admin_fault("fill_late", FAULTS, {"fill_late": True}),
        admin_fault("session_down", FAULTS, {"session_down": True}),
        # A real broker's timing (adapters/sim/timing.py): off is the instant profile again.
        admin_fault(
            "late_reports",
            TIMING,
            lambda rng: {"report_lag_ms": rng.randint(500, 3000), "order_push": rng.random() < 0.5},
            INSTANT,
        ),
        admin_fault(
            "polled_reports",
            TIMING,
            lambda rng: {"report_poll_ms": rng.randint(1000, 3000), "order_push": False},
            INSTANT,
        ),
        admin_fault("no_order_push", TIMING, {"order_push": False}, INSTANT),
        admin_fault(
            "slow_place",
            TIMING,
            lambda rng: {"place_delay_ms": rng.randint(500, 6000), "place_slow_ratio": 1},
            INSTANT,
        ),
        admin_fault(
            "partial_fills",
            TIMING,
            lambda rng: {"partial_fills": rng.randint(2, 4), "partial_interval_ms": 300},
            INSTANT,
        ),
    ]
}


def parse_extra(spec: str) -> Fault:
    """`NAME={"path": "/sim/admin/...", "on": {...}, "off": {...}}` as an admin fault (`off`
    is optional: the simulator reset covers faults of /sim/admin/faults and /sim/admin/feed)."""
    name, sep, raw = spec.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"expected NAME=JSON, got {spec!r}")
    try:
        parsed = json.loads(raw)
        path, on = str(parsed["path"]), dict(parsed["on"])
        off = None if parsed.get("off") is None else dict(parsed["off"])
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{name}: expected {{'path': ..., 'on': {{...}}}}: {error}") from None
    if not path.startswith("/sim/admin/"):
        raise ValueError(f"{name}: path must be a /sim/admin/ endpoint")
    return admin_fault(name.strip(), path, on, off)


def supported(
    faults: list[Fault], target: Target, rng: random.Random
) -> tuple[list[Fault], list[str]]:
    """The faults the running simulator accepts (each switched on and off once, before the
    campaign), and a note for each one it refused."""
    usable, notes = [], []
    for fault in faults:
        if fault.name == "db_outage":
            usable.append(fault)
            continue
        try:
            fault.start(target, random.Random(rng.random()))
            usable.append(fault)
        except FaultRefused as error:
            notes.append(f"fault {fault.name} left out: the simulator refused it ({error})")
        finally:
            clear_simulator(target.sim)
    return usable, notes
