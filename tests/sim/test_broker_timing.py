"""The simulated broker's timing over the real REST and WebSocket stack, on a ManualTimer (time
moves only when a test advances it): order reports that lag the fill or show only when polled,
a position book ahead of the order book, no order pushes, slow placements (also right after a
re-login) and market orders filling in parts."""

from __future__ import annotations

import asyncio
from fractions import Fraction

import httpx
import pytest

from tests.helpers import eventually
from tests.sim.admin import set_faults
from tests.sim.timed import next_update, order_body, order_client, timed_sim
from tests.sim.ws_fakes import next_is_pong
from tradeguard.core.money import to_units


@pytest.mark.asyncio
async def test_a_late_report_shows_the_fill_in_positions_and_trades_before_the_order_book() -> None:
    async with timed_sim(report_lag_ms=1_500) as t:
        ws = await order_client(t)
        order_id = await t.buy(10)
        assert await next_update(ws) == ("open", 0)  # the placement is reported at once

        assert (await t.status(order_id))["order_status"] == "open"
        assert await t.book_status(order_id) == "open"
        assert await t.net() == 10  # the fill happened: the position book shows it first
        [position] = await t.data("positionbook")
        assert position["quantity"] == "10"
        assert await t.trades() == [(10, 800.0)]

        t.timer.advance(1.499)
        assert await t.book_status(order_id) == "open"
        await next_is_pong(ws)  # no push yet either

        t.timer.advance(0.001)
        row = await t.status(order_id)
        assert (row["order_status"], row["average_price"]) == ("complete", 800.0)
        assert await next_update(ws) == ("complete", 10)  # pushed as late as it shows
        await ws.close()


@pytest.mark.asyncio
async def test_without_order_push_a_late_report_is_never_pushed() -> None:
    async with timed_sim(report_lag_ms=1_000, order_push=False) as t:
        ws = await order_client(t)
        order_id = await t.buy(3)
        t.timer.advance(1.0)
        assert await t.book_status(order_id) == "complete"
        await next_is_pong(ws)  # neither the placement nor the fill went out
        await ws.close()


@pytest.mark.asyncio
async def test_the_order_update_stream_can_be_dropped_with_instant_reports() -> None:
    async with timed_sim() as t:
        ws = await order_client(t)
        await t.buy(1)
        assert await next_update(ws) == ("open", 0)
        assert await next_update(ws) == ("complete", 1)
        state = await t.timing(order_push=False)
        assert state["order_push"] is False
        order_id = await t.buy(2)
        assert await t.book_status(order_id) == "complete"  # reports are still instant
        await next_is_pong(ws)
        await t.timing(order_push=True)
        await t.buy(1)
        assert await next_update(ws) == ("open", 0)
        await ws.close()


@pytest.mark.asyncio
async def test_polled_reports_change_only_at_a_poll_and_are_never_pushed() -> None:
    async with timed_sim(report_poll_ms=2_000) as t:
        ws = await order_client(t)
        first = await t.buy(1)
        assert await t.book_status(first) == "open"
        assert await t.net() == 1
        t.timer.advance(1.999)
        assert await t.book_status(first) == "open"
        t.timer.advance(0.001)  # the poll at 2.0
        assert await t.book_status(first) == "complete"

        t.timer.advance(0.5)
        second = await t.buy(1)  # at 2.5: shows at the next poll, 4.0
        t.timer.advance(1.499)
        assert await t.book_status(second) == "open"
        t.timer.advance(0.001)
        assert await t.book_status(second) == "complete"
        await next_is_pong(ws)  # a polled broker pushes nothing, not even placements
        await ws.close()


@pytest.mark.asyncio
async def test_lag_and_polling_together_show_a_change_at_the_first_poll_after_the_lag() -> None:
    async with timed_sim(report_lag_ms=1_000, report_poll_ms=2_000) as t:
        first = await t.buy(1)  # lag passes at 1.0, the poll at 2.0 shows it
        t.timer.advance(1.5)
        second = await t.buy(1)  # lag passes at 2.5: the 2.0 poll is too early, 4.0 shows it
        t.timer.advance(0.5)
        assert await t.book_status(first) == "complete"
        assert await t.book_status(second) == "open"
        t.timer.advance(1.999)
        assert await t.book_status(second) == "open"
        t.timer.advance(0.001)
        assert await t.book_status(second) == "complete"


@pytest.mark.asyncio
async def test_going_back_to_instant_reports_everything_at_once() -> None:
    async with timed_sim(report_lag_ms=60_000, report_poll_ms=5_000) as t:
        order_id = await t.buy(4)
        assert (await t.timing())["unreported"] == 1
        state = await t.timing(profile="instant")
        assert (state["report_lag_ms"], state["report_poll_ms"], state["unreported"]) == (0, 0, 0)
        assert await t.book_status(order_id) == "complete"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("endpoint", "extra"), [("placeorder", {}), ("placesmartorder", {"position_size": "5"})]
)
async def test_a_slow_placement_places_at_once_and_replies_late(
    endpoint: str, extra: dict[str, str]
) -> None:
    async with timed_sim(place_delay_ms=12_000) as t:
        reply = asyncio.ensure_future(t.post(endpoint, **order_body(5), **extra))
        await eventually(lambda: t.timer.pending == 1, message="the reply is held")
        book = await t.data("orderbook")
        [row] = book["orders"]
        assert row["order_status"] == "complete"  # placed and filled; only the reply waits
        assert await t.net() == 5
        t.timer.advance(11.999)
        assert not reply.done()
        t.timer.advance(0.001)
        response = await reply
        assert (response.status_code, response.json()["orderid"]) == (200, row["orderid"])


@pytest.mark.asyncio
async def test_only_a_seeded_share_of_placements_is_slow() -> None:
    async with timed_sim(place_delay_ms=5_000, place_slow_ratio=0.0) as t:
        await t.buy(1)  # never slow
        assert t.timer.pending == 0
    runs = []
    for _ in range(2):
        async with timed_sim(place_delay_ms=5_000, place_slow_ratio=0.5) as t:
            runs.append([t.sim.timing.place_delay() for _ in range(40)])
    assert set(runs[0]) == {0.0, 5.0}
    assert runs[0] == runs[1]  # the same seed, the same slow placements


@pytest.mark.asyncio
async def test_placements_are_slow_for_a_while_after_the_session_comes_back() -> None:
    async with timed_sim(relogin_slow_ms=15_000, relogin_delay_ms=10_000) as t:
        await t.buy(1)  # no re-login yet: instant
        await set_faults(t.http, session_down=True)
        assert (await t.post("placeorder", **order_body(1))).status_code == 403
        await set_faults(t.http, session_down=False)  # the re-login, at t=0

        reply = asyncio.ensure_future(t.post("placeorder", **order_body(2)))
        await eventually(lambda: t.timer.pending == 1, message="the reply is held")
        assert await t.net() == 3
        t.timer.advance(9.999)
        assert not reply.done()
        t.timer.advance(0.001)
        assert (await reply).status_code == 200

        t.timer.advance(5.0)  # 15 s after the re-login: fast again
        await t.buy(1)
        assert t.timer.pending == 0


@pytest.mark.asyncio
async def test_a_client_that_gives_up_on_a_slow_reply_still_has_its_order_placed() -> None:
    async with timed_sim(place_delay_ms=60_000) as t:
        with pytest.raises(httpx.ReadTimeout):
            await t.http.post(
                "/api/v1/placeorder", json={"apikey": t.key, **order_body(2)}, timeout=0.2
            )
        assert await t.net() == 2
        assert len((await t.data("orderbook"))["orders"]) == 1


@pytest.mark.asyncio
async def test_a_market_order_fills_in_parts_at_an_exact_average() -> None:
    async with timed_sim(partial_fills=3, partial_interval_ms=1_000) as t:
        ws = await order_client(t)
        order_id = await t.buy(7)  # parts 3, 2, 2
        assert await next_update(ws) == ("open", 0)
        assert await next_update(ws) == ("open", 3)
        assert (await t.status(order_id))["order_status"] == "open"
        assert await t.net() == 3

        t.price("801.05")  # a tick does not fill the rest at once
        t.timer.advance(1.0)
        assert await next_update(ws) == ("open", 5)
        assert await t.net() == 5
        t.price("803.10")
        t.timer.advance(1.0)
        assert await next_update(ws) == ("complete", 7)

        assert await t.trades() == [(3, 800.0), (2, 801.05), (2, 803.1)]
        value = 3 * to_units("800") + 2 * to_units("801.05") + 2 * to_units("803.10")
        assert value % 7 != 0  # the exact average is not a whole unit: rounded to one
        row = await t.status(order_id)
        assert (row["order_status"], row["average_price"]) == ("complete", 801.1857)
        assert to_units("801.1857") == round(Fraction(value, 7))
        assert t.sim.broker.position("SBIN", "NSE", "MIS") is not None
        await ws.close()


@pytest.mark.asyncio
async def test_a_cancelled_order_takes_no_more_parts() -> None:
    async with timed_sim(partial_fills=2, partial_interval_ms=500) as t:
        order_id = await t.buy(6)
        assert await t.net() == 3
        response = await t.post("cancelorder", orderid=order_id, strategy="t")
        assert response.status_code == 200, response.text
        t.timer.advance(1.0)
        assert await t.net() == 3
        assert (await t.status(order_id))["order_status"] == "cancelled"
        assert await t.trades() == [(3, 800.0)]


@pytest.mark.asyncio
async def test_part_fills_and_late_reports_together() -> None:
    async with timed_sim(partial_fills=2, partial_interval_ms=1_000, report_lag_ms=3_000) as t:
        order_id = await t.buy(2)
        t.timer.advance(1.0)
        assert await t.net() == 2  # both parts filled
        assert await t.book_status(order_id) == "open"
        t.timer.advance(2.0)  # the first part's report: still open
        assert await t.book_status(order_id) == "open"
        t.timer.advance(1.0)  # the second part's report
        assert await t.book_status(order_id) == "complete"
