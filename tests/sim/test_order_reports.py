"""OrderReports on a ManualTimer, as a property: whatever the lag, jitter and polling, an
order's reported state never goes backwards, nothing shows before its lag has passed, and once
enough time has passed the order book says what happened at the broker."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeguard.adapters.sim.order_reports import OrderReports
from tradeguard.adapters.sim.timing import BrokerClock, ManualTimer, TimingConfig
from tradeguard.core.broker import OrderReport, OrderStatus

STEPS = [OrderStatus.OPEN, OrderStatus.OPEN, OrderStatus.COMPLETE]  # placed, part, filled


def report(order_id: str, step: int) -> OrderReport:
    return OrderReport(
        order_id=order_id,
        symbol="SBIN",
        exchange="NSE",
        action="BUY",
        quantity=2,
        product="MIS",
        status=STEPS[step],
        filled_quantity=step,
    )


configs = st.builds(
    TimingConfig,
    report_lag_ms=st.integers(0, 3_000),
    report_lag_jitter_ms=st.integers(0, 2_000),
    report_poll_ms=st.sampled_from([0, 500, 2_000]),
    report_poll_jitter_ms=st.integers(0, 1_000),
    order_push=st.booleans(),
)
events = st.lists(
    st.tuples(st.integers(0, 3), st.floats(0, 2, allow_nan=False)), min_size=1, max_size=30
)


@settings(max_examples=200, deadline=None)
@given(config=configs, events=events, seed=st.integers(0, 10))
def test_reports_never_go_backwards_and_end_up_true(
    config: TimingConfig, events: list[tuple[int, float]], seed: int
) -> None:
    timer = ManualTimer()
    reports = OrderReports(BrokerClock(config, timer=timer, seed=seed))
    pushed: list[OrderReport] = []
    reports.add_listener(pushed.append)
    steps: dict[str, int] = {}
    seen: dict[str, int] = {}
    for order, wait in events:
        order_id = str(order)
        step = steps.get(order_id, -1) + 1
        if step < len(STEPS):
            steps[order_id] = step
            reports.changed(report(order_id, step))
            assert reports.visible(order_id) is not None  # a new order shows at once
        timer.advance(wait)
        for oid in steps:
            shown = reports.visible(oid)
            assert shown is not None
            assert shown.filled_quantity is not None
            assert shown.filled_quantity >= seen.get(oid, 0)  # never backwards
            seen[oid] = shown.filled_quantity
    timer.advance(10.0)  # longer than any lag plus a poll
    assert {r.order_id: r.filled_quantity for r in reports.book()} == steps
    assert reports.unreported() == 0
    if not config.pushes:  # polled, or the stream dropped: nothing pushed
        assert pushed == []
    else:  # each order's pushes in order, ending with what happened
        for oid, step in steps.items():
            filled = [r.filled_quantity for r in pushed if r.order_id == oid]
            assert filled == sorted(filled)
            assert filled[-1] == step


def test_a_change_does_not_show_before_its_lag() -> None:
    timer = ManualTimer()
    config = replace(TimingConfig(), report_lag_ms=1_000)
    reports = OrderReports(BrokerClock(config, timer=timer))
    reports.changed(report("1", 0))
    reports.changed(report("1", 2))
    timer.advance(0.999)
    shown = reports.visible("1")
    assert shown is not None
    assert shown.status is OrderStatus.OPEN
    assert reports.unreported() == 1
    timer.advance(0.001)
    shown = reports.visible("1")
    assert shown is not None
    assert shown.status is OrderStatus.COMPLETE
