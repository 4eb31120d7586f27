"""Bootstrap layer: the event loop the long-running commands (`run`, `sim`, `demo`) run on.

uvloop (libuv) where it is installed: it wakes on socket data and thread hand-offs with far
less interpreter work than asyncio's default loop, which shortens the tick -> exit order path
(docs/performance.md). The standard loop otherwise (uvloop does not support Windows).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - platforms without uvloop
        return asyncio.run(main)
    return uvloop.run(main)
