"""Engine lifecycle: pause/resume, duplicates, edits, abandoned and failed exits, partial
quantities, symbols to subscribe."""

from __future__ import annotations

import pytest

from tradeguard.core.engine import EngineError
from tradeguard.core.model import ExitReason, Side, TradeState
from tradeguard.core.rules import TradeRules

from .factory import POINTS, Rig, level, make_trade, u


def test_duplicate_ticks_change_nothing() -> None:
    rig = Rig()
    trade = make_trade(rules=TradeRules(stop_loss=level(POINTS, "2")))
    rig.add(trade)
    assert len(rig.tick("98").exits) == 1
    assert not rig.tick("98").exits
    assert not rig.tick("97").exits  # EXITING never fires again


def test_trade_added_beyond_its_stop_fires_at_once_on_known_price() -> None:
    rig = Rig()
    rig.add(make_trade("a", symbol="A"))
    rig.tick("97")
    decisions = rig.add(make_trade("b", rules=TradeRules(stop_loss=level(POINTS, "2"))))
    assert rig.reasons(decisions) == {"b": "STOP_LOSS"}


def test_update_rules_reevaluates_and_edits_are_allowed_to_move_stop() -> None:
    rig = Rig()
    trade = make_trade(rules=TradeRules(stop_loss=level(POINTS, "2")))
    rig.add(trade)
    rig.tick("99")
    changed = rig.engine.update_rules("t1", TradeRules(stop_loss=level(POINTS, "5")), rig.now)
    assert changed.levels[0].stop == u(95)
    assert not rig.tick("96").exits
    decisions = rig.engine.update_rules("t1", TradeRules(stop_loss=level(POINTS, "1")), rig.now)
    assert rig.reasons(decisions) == {"t1": "STOP_LOSS"}  # 99 is at the new stop
    with pytest.raises(EngineError, match="only ACTIVE"):
        rig.engine.update_rules("t1", TradeRules(), rig.now)


def test_exit_abandoned_returns_to_active_and_refires() -> None:
    rig = Rig()
    rig.add(make_trade(rules=TradeRules(stop_loss=level(POINTS, "2"))))
    assert rig.tick("97").exits
    decisions = rig.engine.exit_abandoned("t1", rig.now)
    assert rig.reasons(decisions) == {"t1": "STOP_LOSS"}


def test_exit_failed_stops_firing_until_a_deliberate_retry() -> None:
    rig = Rig()
    rig.add(make_trade(rules=TradeRules(stop_loss=level(POINTS, "2"))))
    rig.tick("97")
    rig.engine.exit_failed("t1")
    assert rig.engine.trade("t1").state is TradeState.EXIT_FAILED
    assert not rig.tick("96").exits
    retry = rig.engine.request_exit("t1", rig.now)
    assert retry.reason is ExitReason.MANUAL
    assert retry.quantity == 1


def test_reduce_quantity_realizes_the_difference() -> None:
    rig = Rig()
    rig.add(make_trade(quantity=10))
    rig.tick("101")
    rig.engine.reduce_quantity("t1", 4, u(102), rig.now)
    book = rig.engine.strategy("s")
    assert book.realized == u(12)  # 6 x (102 - 100)
    assert book.pnl == u(12) + u(4)  # + 4 x (101 - 100)
    assert book.exposure == u(400)


def test_symbols_follow_open_trades() -> None:
    rig = Rig()
    rig.add(make_trade("a", symbol="A"))
    rig.add(make_trade("b", symbol="A"))
    rig.add(make_trade("c", symbol="B"))
    assert sorted(rig.engine.symbols()) == [("A", "NSE"), ("B", "NSE")]
    for trade_id in ("a", "b"):
        rig.engine.request_exit(trade_id, rig.now)
        rig.engine.close_trade(trade_id, u(100), rig.now)
    assert rig.engine.symbols() == [("B", "NSE")]


def test_exit_all_covers_each_active_trade_once() -> None:
    rig = Rig()
    for n in range(3):
        rig.add(make_trade(f"t{n}", symbol=f"S{n}"))
    rig.engine.request_exit("t0", rig.now)
    decisions = rig.engine.exit_all("s", rig.now)
    assert sorted(d.trade_id for d in decisions.exits) == ["t1", "t2"]
    assert not rig.engine.exit_all("s", rig.now).exits


def test_last_price_is_forgotten_when_the_last_trade_on_a_symbol_closes() -> None:
    rig = Rig()
    rig.add(make_trade("old", rules=TradeRules(stop_loss=level(POINTS, "2"))))
    rig.tick("90")
    rig.engine.close_trade("old", u(90), rig.now)
    assert rig.engine.last_price("A", "NSE") is None
    fresh = make_trade("new", side=Side.SHORT, rules=TradeRules(stop_loss=level(POINTS, "2")))
    assert not rig.add(fresh).exits  # not judged on the stale 90
    assert fresh.best == u(100)
