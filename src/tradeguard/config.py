"""Composition support: tradeguard's settings, read once by bootstrap from the environment.

Every setting has a TRADEGUARD_* environment variable; nothing else reads the environment.
Unknown TRADEGUARD_* variables are refused so a typo never silently falls back to a default.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("./data")
    database_url: str = ""  # empty: sqlite file under data_dir
    openalgo_url: str = ""  # empty: start the embedded simulator
    openalgo_ws_url: str = ""
    openalgo_api_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    sim_rest_port: int = 0  # embedded simulator ports (0: any free port)
    sim_ws_port: int = 0
    admin_user: str = "admin"
    admin_password: str = ""  # empty: generated on first run and printed once
    secret_key: str = ""  # empty: generated into data_dir/secret.key on first run
    api_rate_limit: float = 20.0  # REST API requests/s per apikey and per client IP
    api_rate_burst: int = 40
    # OpenAlgo's per-IP limits as tradeguard may use them (requests/s): OpenAlgo's defaults;
    # lower them when other clients on the host (strategies, the UI) need part of the budget.
    openalgo_order_rate: int = 10
    openalgo_smart_order_rate: int = 10
    openalgo_api_rate: int = 50
    # Seconds to wait for OpenAlgo: every REST call, and placeorder/placesmartorder (above the
    # ~10 s OpenAlgo's first order after its daily re-login was seen to take).
    openalgo_timeout: float = 10.0
    openalgo_order_timeout: float = 15.0
    exit_ack_alert: float = 5.0  # alert when an exit order is not acknowledged within (s)
    flush_interval: float = 1.0
    stale_after: float = 30.0
    reconcile_interval: float = 30.0  # live position/order reconciliation; 0: reconnects only
    stale_policy: str = "exit"  # exit | alert: when a symbol is blind in market hours (app.blind)
    backup_interval: float = 300.0  # SQLite online backup every N s (adapters/db/backup.py)
    backup_keep: int = 24  # newest backups kept in data_dir/backups
    demo: bool = True  # with the embedded simulator: open demo trades so exits are visible
    log_level: str = "INFO"
    # reverse proxies (IP addresses or CIDR networks, comma-separated) whose X-Forwarded-Proto
    # and X-Forwarded-For are believed; empty: none (the headers are ignored)
    trusted_proxies: str = ""
    failpoint: str = ""  # tests only: crash at a named point (see app/failpoints.py)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "tradeguard.db"

    @property
    def backup_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def corrupt_dir(self) -> Path:  # a corrupt database file is moved here, never deleted
        return self.data_dir / "corrupt"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def embedded_simulator(self) -> bool:
        return not self.openalgo_url


_PREFIX = "TRADEGUARD_"
_WHOLE = re.compile(r"-?[0-9]{1,12}")
_DECIMAL = re.compile(r"-?[0-9]{1,12}(\.[0-9]{0,12})?")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from TRADEGUARD_* variables (test-only variables are ignored)."""
    env = os.environ if environ is None else environ
    known = {f.name: f for f in fields(Settings)}
    values: dict[str, object] = {}
    for key, raw in env.items():
        if not key.startswith(_PREFIX) or key.startswith(_PREFIX + "TEST_"):
            continue
        name = key[len(_PREFIX) :].lower()
        if name == "require_postgres":
            continue
        if name not in known:
            raise SettingsError(f"{key}: unknown setting")
        default = getattr(Settings(), name)
        values[name] = _convert(key, raw, default)
    settings = Settings(**values)  # type: ignore[arg-type]
    check_settings(settings)
    return settings


# Numeric settings: (lowest, highest) allowed, both inclusive. Every one is range-checked at
# start-up, so NaN, a negative interval or port 99999 stops tradeguard with a clear error.
RANGES: dict[str, tuple[float, float]] = {
    "port": (0, 65535),  # 0: any free port
    "sim_rest_port": (0, 65535),
    "sim_ws_port": (0, 65535),
    "api_rate_limit": (0.01, 100_000),
    "api_rate_burst": (1, 100_000),
    "openalgo_order_rate": (1, 10_000),
    "openalgo_smart_order_rate": (1, 10_000),
    "openalgo_api_rate": (1, 10_000),
    "flush_interval": (0.01, 1),
    "stale_after": (1, 3600),
    "openalgo_timeout": (1, 60),
    # keep it above the ~10 s OpenAlgo's first order after a re-login can take (default 15)
    "openalgo_order_timeout": (1, 120),
    "backup_interval": (1, 86_400),
    "backup_keep": (1, 1000),
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def check_settings(settings: Settings) -> None:
    """Refuse a setting outside its range (SettingsError naming the variable and the range)."""
    for name, (low, high) in RANGES.items():
        value = getattr(settings, name)
        if not (math.isfinite(value) and low <= value <= high):
            raise SettingsError(
                f"{_PREFIX}{name.upper()} must be {_num(low)} to {_num(high)}, was {value}"
            )
    if settings.stale_policy not in ("alert", "exit"):
        raise SettingsError("TRADEGUARD_STALE_POLICY must be 'alert' or 'exit'")
    _check_exit_ack_alert(settings)
    interval = settings.reconcile_interval
    if not math.isfinite(interval) or (interval != 0 and not 5 <= interval <= 3600):
        raise SettingsError(
            "TRADEGUARD_RECONCILE_INTERVAL must be 0 (after feed reconnects only) or in "
            "[5, 3600] seconds"
        )
    if settings.log_level.upper() not in LOG_LEVELS:
        raise SettingsError(f"TRADEGUARD_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    try:
        trusted_networks(settings.trusted_proxies)
    except ValueError as error:
        raise SettingsError(f"TRADEGUARD_TRUSTED_PROXIES: {error}") from None
    if settings.openalgo_url and not settings.openalgo_api_key:
        raise SettingsError("TRADEGUARD_OPENALGO_API_KEY is required with TRADEGUARD_OPENALGO_URL")


MAX_PROXIES = 32


def trusted_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Comma-separated IP addresses or networks (CIDR, host bits zero); ValueError with a clear
    message for a bad entry, a network trusting everyone (/0) or more than MAX_PROXIES."""
    entries = [part.strip() for part in text.split(",") if part.strip()]
    if len(entries) > MAX_PROXIES:
        raise ValueError(f"at most {MAX_PROXIES} proxy addresses or networks")
    networks = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry, strict=True)
        except ValueError:
            raise ValueError(
                f"{entry!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)"
            ) from None
        if network.prefixlen == 0:
            raise ValueError(f"{entry!r} would trust every address: name the proxy's")
        networks.append(network)
    return tuple(networks)


def _num(value: float) -> str:
    return f"{value:g}"


def _check_exit_ack_alert(settings: Settings) -> None:
    if not 0 < settings.exit_ack_alert < settings.openalgo_order_timeout:
        raise SettingsError(
            "TRADEGUARD_EXIT_ACK_ALERT must be > 0 and below TRADEGUARD_OPENALGO_ORDER_TIMEOUT "
            f"({settings.openalgo_order_timeout:g} s)"
        )


def _convert(key: str, raw: str, default: object) -> object:
    if isinstance(default, bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{key}: expected true/false, was {raw!r}")
    if isinstance(default, int):
        if not _WHOLE.fullmatch(raw.strip()):
            raise SettingsError(f"{key}: expected a whole number, was {raw!r}")
        return int(raw)
    if isinstance(default, float):
        if not _DECIMAL.fullmatch(raw.strip()):
            raise SettingsError(f"{key}: expected a number (digits 0-9 and '.'), was {raw!r}")
        return float(raw)
    if isinstance(default, Path):
        return Path(raw)
    return raw
