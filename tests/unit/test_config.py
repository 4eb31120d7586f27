"""Settings from TRADEGUARD_* variables: defaults, conversions, and a clear error (nothing
started) for a bad value; the OpenAlgo rate limits reach the gateway's local limiter."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeguard.bootstrap.service import gateway_limits
from tradeguard.config import Settings, SettingsError, load_settings


def test_defaults_with_no_variables() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.embedded_simulator
    assert settings.reconcile_interval == 30.0
    assert (
        settings.openalgo_order_rate,
        settings.openalgo_smart_order_rate,
        settings.openalgo_api_rate,
    ) == (10, 10, 50)
    # placements wait longer than OpenAlgo's ~10 s stall after a re-login; other calls 10 s
    assert (settings.openalgo_timeout, settings.openalgo_order_timeout) == (10.0, 15.0)
    assert settings.openalgo_order_timeout > 10.0


def test_variables_are_converted_to_their_setting_type() -> None:
    settings = load_settings(
        {
            "TRADEGUARD_DATA_DIR": "/var/lib/tg",
            "TRADEGUARD_PORT": "9000",
            "TRADEGUARD_DEMO": "off",
            "TRADEGUARD_RECONCILE_INTERVAL": "0",
            "TRADEGUARD_OPENALGO_ORDER_RATE": "6",
            "TRADEGUARD_OPENALGO_API_RATE": "30",
            "TRADEGUARD_TEST_ANYTHING": "ignored",
            "OTHER": "ignored",
        }
    )
    assert settings.data_dir == Path("/var/lib/tg")
    assert settings.port == 9000
    assert settings.demo is False
    assert settings.reconcile_interval == 0.0
    limits = gateway_limits(settings)
    assert (limits.orders, limits.smart_orders, limits.api) == (6, 10, 30)
    assert limits.reserved_high == 6  # a fifth of the API budget is kept for exits' reads


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("TRADEGUARD_NOPE", "1", "unknown setting"),
        ("TRADEGUARD_PORT", "eighty", "whole number"),
        ("TRADEGUARD_DEMO", "maybe", "true/false"),
        ("TRADEGUARD_FLUSH_INTERVAL", "2", "FLUSH_INTERVAL"),
        ("TRADEGUARD_RECONCILE_INTERVAL", "1", "RECONCILE_INTERVAL"),
        ("TRADEGUARD_OPENALGO_ORDER_RATE", "0", "OPENALGO_ORDER_RATE"),
        ("TRADEGUARD_OPENALGO_API_RATE", "-5", "OPENALGO_API_RATE"),
        ("TRADEGUARD_OPENALGO_SMART_ORDER_RATE", "1.5", "whole number"),
        ("TRADEGUARD_STALE_POLICY", "panic", "STALE_POLICY"),
        ("TRADEGUARD_OPENALGO_TIMEOUT", "0.5", "OPENALGO_TIMEOUT must be 1 to 60"),
        ("TRADEGUARD_OPENALGO_ORDER_TIMEOUT", "600", "OPENALGO_ORDER_TIMEOUT must be 1 to 120"),
        ("TRADEGUARD_OPENALGO_ORDER_TIMEOUT", "nan", "expected a number"),
        ("TRADEGUARD_EXIT_ACK_ALERT", "15", "below TRADEGUARD_OPENALGO_ORDER_TIMEOUT"),
        ("TRADEGUARD_EXIT_ACK_ALERT", "0", "EXIT_ACK_ALERT must be > 0"),
        ("TRADEGUARD_OPENALGO_URL", "http://127.0.0.1:5000", "API_KEY"),
    ],
)
def test_a_bad_value_is_a_clear_error(variable: str, value: str, fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment):
        load_settings({variable: value})


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("TRADEGUARD_API_RATE_LIMIT", "nan", "API_RATE_LIMIT"),
        ("TRADEGUARD_API_RATE_LIMIT", "inf", "API_RATE_LIMIT"),
        ("TRADEGUARD_API_RATE_LIMIT", "1e9", "API_RATE_LIMIT"),
        ("TRADEGUARD_FLUSH_INTERVAL", "nan", "FLUSH_INTERVAL"),
        ("TRADEGUARD_FLUSH_INTERVAL", "0", "FLUSH_INTERVAL must be 0.01 to 1"),
        ("TRADEGUARD_STALE_AFTER", "nan", "STALE_AFTER"),
        ("TRADEGUARD_STALE_AFTER", "-1", "STALE_AFTER must be 1 to 3600"),
        ("TRADEGUARD_STALE_AFTER", "0", "STALE_AFTER"),
        ("TRADEGUARD_RECONCILE_INTERVAL", "nan", "RECONCILE_INTERVAL"),
        ("TRADEGUARD_PORT", "99999", "PORT must be 0 to 65535"),
        ("TRADEGUARD_PORT", "-1", "PORT"),
        ("TRADEGUARD_PORT", "8_080", "whole number"),
        ("TRADEGUARD_PORT", "٨٠٨٠", "whole number"),
        ("TRADEGUARD_SIM_WS_PORT", "70000", "SIM_WS_PORT"),
        ("TRADEGUARD_API_RATE_BURST", "0", "API_RATE_BURST"),
        ("TRADEGUARD_LOG_LEVEL", "chatty", "LOG_LEVEL"),
    ],
)
def test_every_number_is_range_checked_at_start_up(
    variable: str, value: str, fragment: str
) -> None:
    with pytest.raises(SettingsError, match=fragment):
        load_settings({variable: value})
