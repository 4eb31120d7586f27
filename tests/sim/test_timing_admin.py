"""Setting the broker timing: `POST /sim/admin/timing` (a profile, then fields; a bad body is
refused whole with 400) and `tradeguard sim`'s timing flags, which amount to the same body."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sim.admin import sim_flags, sim_http
from tests.sim.timed import timed_sim
from tradeguard.adapters.sim.embedded import (
    EmbeddedSimulator,
    SimulatorOptions,
    SimulatorSetupError,
)
from tradeguard.adapters.sim.timing import REALISTIC, TimingConfig
from tradeguard.interfaces import cli

INSTANT = TimingConfig().snapshot()


async def timing(http: httpx.AsyncClient, body: Any) -> httpx.Response:
    return await http.post("/sim/admin/timing", json=body)


@pytest.mark.asyncio
async def test_a_profile_then_fields_override_it() -> None:
    async with timed_sim() as t:
        state = await t.timing()
        assert state == INSTANT | {"unreported": 0}
        state = await t.timing(profile="realistic", report_lag_ms=250)
        assert state == REALISTIC.snapshot() | {"report_lag_ms": 250, "unreported": 0}
        assert REALISTIC.report_poll_ms == 2_000
        assert REALISTIC.order_push is False
        state = await t.timing(partial_fills=4)  # fields only: the rest stays as it is
        assert (state["partial_fills"], state["report_lag_ms"]) == (4, 250)
        assert await t.timing(profile="instant") == INSTANT | {"unreported": 0}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"report_lag_ms": -1}, "report_lag_ms must be a whole number within 0..120000"),
        ({"report_poll_ms": 1.5}, "report_poll_ms must be a whole number"),
        ({"place_delay_ms": 120_001}, "place_delay_ms must be a whole number within"),
        ({"relogin_slow_ms": True}, "relogin_slow_ms must be a whole number"),
        ({"partial_fills": 0}, "partial_fills must be a whole number within 1..100"),
        ({"place_slow_ratio": 1.5}, "place_slow_ratio must be a number within 0..1"),
        ({"place_slow_ratio": "half"}, "place_slow_ratio must be a number within 0..1"),
        ({"order_push": "no"}, "order_push must be true or false"),
        ({"profile": "slow"}, "profile must be one of instant, realistic"),
        ({"lag_ms": 5}, "unknown timing field(s): lag_ms"),
        ({"report_lag_ms": 500, "partial_fills": 0}, "partial_fills"),  # the good part too
        ({"profile": "realistic", "order_push": 1}, "order_push"),
        ([1], "body must be a JSON object"),
    ],
)
async def test_a_bad_timing_body_is_400_and_changes_nothing(body: Any, message: str) -> None:
    async with timed_sim(report_lag_ms=100) as t:
        before = await t.timing()
        response = await timing(t.http, body)
        assert response.status_code == 400
        assert message in response.json()["message"]
        assert await t.timing() == before


def test_timing_flags_map_onto_the_admin_body() -> None:
    options = sim_flags(
        "--broker-timing", "realistic", "--report-lag-ms", "300", "--report-lag-jitter-ms",
        "50", "--report-poll-ms", "0", "--no-order-push", "--place-delay-ms", "12000",
        "--place-slow-ratio", "0.25", "--relogin-slow-ms", "20000", "--relogin-delay-ms",
        "9000", "--partial-fills", "3", "--partial-interval-ms", "700",
        "--report-poll-jitter-ms", "5",
    )  # fmt: skip
    assert options.timing == {
        "profile": "realistic",
        "report_lag_ms": 300,
        "report_lag_jitter_ms": 50,
        "report_poll_ms": 0,
        "report_poll_jitter_ms": 5,
        "order_push": False,
        "place_delay_ms": 12_000,
        "place_slow_ratio": 0.25,
        "relogin_slow_ms": 20_000,
        "relogin_delay_ms": 9_000,
        "partial_fills": 3,
        "partial_interval_ms": 700,
    }
    assert sim_flags().timing == {}


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        (["--broker-timing", "slow"], "invalid choice"),
        (["--report-lag-ms", "-5"], "report_lag_ms must be a whole number within"),
        (["--partial-fills", "0"], "partial_fills must be"),
        (["--place-slow-ratio", "2"], "place_slow_ratio must be"),
        (["--place-delay-ms", "1.5"], "not a whole number"),
    ],
)
def test_bad_timing_flags_are_usage_errors(flags: list[str], error: str) -> None:
    with pytest.raises(cli.CommandError, match=error):
        sim_flags(*flags)


@pytest.mark.asyncio
async def test_the_timing_flags_start_the_simulator_with_that_timing() -> None:
    async with (
        EmbeddedSimulator(sim_flags("--broker-timing", "realistic", "--partial-fills", "2")) as sim,
        sim_http(sim) as http,
    ):
        state = (await timing(http, {})).json()["data"]
        assert state == REALISTIC.snapshot() | {"partial_fills": 2, "unreported": 0}


def test_a_bad_timing_option_cannot_make_a_simulator() -> None:
    with pytest.raises(SimulatorSetupError, match="invalid broker timing: partial_fills"):
        EmbeddedSimulator(SimulatorOptions(walk=False, timing={"partial_fills": -1}))
