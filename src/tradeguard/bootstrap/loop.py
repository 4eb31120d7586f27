"""Bootstrap layer: the event loop the long-running commands (`run`, `sim`, `demo`) run on,
and the interpreter's heap after start-up.

uvloop (libuv) where it is installed: it wakes on socket data and thread hand-offs with far
less interpreter work than asyncio's default loop, which shortens the tick -> exit order path
(docs/performance.md). The standard loop otherwise (uvloop does not support Windows).

`freeze_startup_heap`: CPython's full (generation 2) garbage collection walks every tracked
object, and it runs on whichever thread allocates at the time, usually the event loop. Once
tradeguard has started, that is about 125,000 objects (modules, the recovered trades), which
took 45-76 ms per full collection on the benchmark machine: a stop-loss tick arriving then
waited that long. Collected once and frozen after start-up, they are never walked again (a
full collection then took under 0.1 ms); what is allocated later is collected as usual.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - platforms without uvloop
        return asyncio.run(main)
    return uvloop.run(main)


def freeze_startup_heap() -> int:
    """Collect once, then move every object alive now out of the collector's generations
    (`gc.freeze`). Call after start-up and recovery. Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
