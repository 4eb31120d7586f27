"""Composition support: tradeguard's settings, read once by bootstrap from the environment.

Every setting has a TRADEGUARD_* environment variable; nothing else reads the environment.
Unknown TRADEGUARD_* variables are refused so a typo never silently falls back to a default.
"""

from __future__ import annotations

import os
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
    stale_policy: str = "alert"  # alert | exit
    demo: bool = True  # with the embedded simulator: open demo trades so exits are visible
    log_level: str = "INFO"
    failpoint: str = ""  # tests only: crash at a named point (see app/failpoints.py)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "tradeguard.db"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def embedded_simulator(self) -> bool:
        return not self.openalgo_url


_PREFIX = "TRADEGUARD_"


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
    if settings.stale_policy not in ("alert", "exit"):
        raise SettingsError("TRADEGUARD_STALE_POLICY must be 'alert' or 'exit'")
    if settings.api_rate_limit <= 0 or settings.api_rate_burst < 1:
        raise SettingsError(
            "TRADEGUARD_API_RATE_LIMIT must be > 0 and TRADEGUARD_API_RATE_BURST >= 1"
        )
    for name in ("openalgo_order_rate", "openalgo_smart_order_rate", "openalgo_api_rate"):
        if not 1 <= getattr(settings, name) <= 10_000:
            raise SettingsError(f"TRADEGUARD_{name.upper()} must be 1 to 10000 requests/s")
    _check_timeouts(settings)
    if settings.flush_interval <= 0 or settings.flush_interval > 1:
        raise SettingsError("TRADEGUARD_FLUSH_INTERVAL must be in (0, 1] seconds")
    if settings.reconcile_interval != 0 and not 5 <= settings.reconcile_interval <= 3600:
        raise SettingsError(
            "TRADEGUARD_RECONCILE_INTERVAL must be 0 (after feed reconnects only) or in "
            "[5, 3600] seconds"
        )
    if settings.openalgo_url and not settings.openalgo_api_key:
        raise SettingsError("TRADEGUARD_OPENALGO_API_KEY is required with TRADEGUARD_OPENALGO_URL")
    return settings


def _check_timeouts(settings: Settings) -> None:
    if not 1 <= settings.openalgo_timeout <= 60:
        raise SettingsError("TRADEGUARD_OPENALGO_TIMEOUT must be in [1, 60] seconds")
    if not 1 <= settings.openalgo_order_timeout <= 120:
        raise SettingsError(
            "TRADEGUARD_OPENALGO_ORDER_TIMEOUT must be in [1, 120] seconds (keep it above the "
            "~10 s OpenAlgo's first order after a re-login can take; default 15)"
        )
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
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{key}: expected a whole number, was {raw!r}") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"{key}: expected a number, was {raw!r}") from None
    if isinstance(default, Path):
        return Path(raw)
    return raw
