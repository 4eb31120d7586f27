"""Composition root: what the terminal of `tradeguard run` and `tradeguard sim` shows from the
log: one line per thing that happened, each said once.

- Log lines are `HH:MM:SS LEVEL   message`.
- Libraries' chatter stays out below WARNING: alembic's migration steps, the HTTP and
  WebSocket clients, uvicorn's access log, each simulator WebSocket connection.
- With the console view on (`tradeguard run`), alerts are printed by it (interfaces.console,
  `ALERT ...`), so their log records are not printed a second time.
"""

from __future__ import annotations

import logging

QUIET_LOGGERS = (
    "alembic",
    "httpx",
    "httpcore",
    "websockets",
    "uvicorn.access",
    "tradeguard.adapters.sim.ws_server.ws",  # "connection open" / "closed" per client
)
EMBEDDED_SIMULATOR = "tradeguard.adapters.sim"
ALERTS = "tradeguard.alerts"  # app.live.BusAlerts logs every alert here


class _NotPrinted(logging.Filter):
    """Drop records the console view prints itself."""

    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__()
        self.names = names

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name not in self.names


def configure_logging(
    level: str, *, console: bool = False, embedded_simulator: bool = False
) -> None:
    """One stderr handler on the root logger. `console`: the console view prints alerts;
    `embedded_simulator`: the simulator runs inside `tradeguard run` (its start-up lines are
    replaced by run's own banner)."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", datefmt="%H:%M:%S")
    )
    if console:
        handler.addFilter(_NotPrinted((ALERTS,)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    quiet = (*QUIET_LOGGERS, EMBEDDED_SIMULATOR) if embedded_simulator else QUIET_LOGGERS
    for name in quiet:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
