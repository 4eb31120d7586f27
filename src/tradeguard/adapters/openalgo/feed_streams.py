"""Adapters layer: the feed's symbols and what their streams did, without I/O.

Which symbols are wanted (an insertion-ordered set), which the current connection carries and
since when, which OpenAlgo refused (and why), when each last ticked on the stream and at what
price, when the connection last heard any tick, and when any price (streamed or polled) last
arrived. The feed (adapters.openalgo.feed) does the sending; this answers what to send, what is
stale and how long the connection has been silent. Times are epoch ns from the feed's clock.
"""

from __future__ import annotations

from collections.abc import Iterable

from tradeguard.adapters.openalgo.feed_parse import Key


class SymbolStreams:
    """The feed's symbol state (see the module docstring)."""

    def __init__(self) -> None:
        self.wanted: dict[Key, None] = {}  # insertion-ordered set
        self.sent: set[Key] = set()  # subscribed on the current connection
        self.since: dict[Key, int] = {}  # when subscribed on the current connection
        self.rejected: dict[Key, str] = {}
        self.tick_at: dict[Key, int] = {}  # last stream tick, any connection
        self.price: dict[Key, int] = {}  # last streamed price
        self.priced_at: dict[Key, int] = {}  # last price from any source
        self.heard_at: int | None = None  # last stream tick on the current connection

    def want(self, keys: Iterable[tuple[str, str]]) -> None:
        for key in keys:
            self.wanted.setdefault((key[0], key[1]), None)

    def unwant(self, keys: Iterable[tuple[str, str]]) -> None:
        for key in keys:
            self.wanted.pop((key[0], key[1]), None)

    def to_add(self) -> list[Key]:
        return [k for k in self.wanted if k not in self.sent]

    def to_drop(self) -> list[Key]:
        return [k for k in self.sent if k not in self.wanted]

    def sent_now(self, keys: list[Key], now: int) -> None:
        self.sent.update(keys)
        self.since.update(dict.fromkeys(keys, now))

    def dropped_now(self, keys: list[Key]) -> None:
        self.sent.difference_update(keys)
        for key in keys:
            self.since.pop(key, None)
            self.rejected.pop(key, None)

    def connection_lost(self) -> None:
        self.sent.clear()
        self.since.clear()
        self.heard_at = None

    def streamed(self, key: Key, ltp: int, received: int) -> None:
        self.tick_at[key] = received
        self.price[key] = ltp
        self.heard_at = received

    def stale(self, now_ns: int, threshold_s: float, connected: bool) -> list[Key]:
        """Wanted symbols whose stream has been silent for more than `threshold_s`, counting
        from their last streamed tick or their subscription on this connection (whichever is
        later); symbols not subscribed on a live connection are always stale."""
        limit = int(threshold_s * 1_000_000_000)
        stale = []
        for key in self.wanted:
            since = self.since.get(key) if connected else None
            if since is None:
                stale.append(key)
                continue
            if now_ns - max(since, self.tick_at.get(key, 0)) > limit:
                stale.append(key)
        return stale

    def silent_since(self) -> int | None:
        """Since when the current connection has heard no tick: its last tick, else its first
        accepted subscription; None when it carries no symbol OpenAlgo accepted."""
        live = [self.since[k] for k in self.sent if k not in self.rejected]
        if not live:
            return None
        return self.heard_at or min(live)
