"""Tests (chaos): the audit's checks on hand-made books: a clean book has no finding, and each
kind of broken promise is found (so the campaign can fail)."""

from __future__ import annotations

from typing import Any

from tests.chaos.audit import Books, Entry, Key, Ledger, audit, missed

LONG = Key("SBIN", "MIS", 1)
SHORT = Key("INFY", "MIS", -1)


def trade(trade_id: str, entry: Entry, state: str = "ACTIVE", **extra: Any) -> dict[str, Any]:
    side = "LONG" if entry.key.direction > 0 else "SHORT"
    return {"trade_id": trade_id, "entry_order_id": entry.order_id, "symbol": entry.key.symbol,
            "product": entry.key.product, "side": side, "quantity": entry.quantity,
            "state": state, "stop_loss": None, "target": None} | extra  # fmt: skip


def order(order_id: str, key: Key, action: str, quantity: int, tag: str,
          status: str = "complete") -> dict[str, Any]:  # fmt: skip
    return {"orderid": order_id, "symbol": key.symbol, "product": key.product, "action": action,
            "quantity": str(quantity), "strategy": tag, "order_status": status}  # fmt: skip


def fill(key: Key, action: str, quantity: int) -> dict[str, Any]:
    return {"symbol": key.symbol, "product": key.product, "action": action, "quantity": quantity}


def world() -> tuple[Ledger, Books]:
    """Two guarded entries (SBIN LONG 10, exited once; INFY SHORT 4, open) and 3 SBIN held by
    hand: every promise kept."""
    ledger = Ledger([LONG, SHORT])
    a = Entry("1", LONG, 10, acked=["TA"], tried=True)
    b = Entry("2", SHORT, 4, acked=["TB"], tried=True)
    ledger.entries = {"1": a, "2": b}
    ledger.manual[LONG] = 3
    books = Books(
        orders=[
            order("0", LONG, "BUY", 3, "chaos-manual"),
            order("1", LONG, "BUY", 10, "chaos-entry"),
            order("2", SHORT, "SELL", 4, "chaos-entry"),
            order("3", LONG, "SELL", 10, "tg:acct:s:STOP_LOSS:TA"),
            order("4", LONG, "SELL", 10, "tg:acct:s:STOP_LOSS:TA", status="rejected"),
        ],
        fills=[
            fill(LONG, "BUY", 3),
            fill(LONG, "BUY", 10),
            fill(SHORT, "SELL", 4),
            fill(LONG, "SELL", 10),
        ],
        positions={("SBIN", "MIS"): 3, ("INFY", "MIS"): -4},
        trades={"TA": trade("TA", a, "CLOSED"), "TB": trade("TB", b)},
    )
    return ledger, books


def test_a_clean_book_has_no_finding() -> None:
    findings = audit(*world())
    assert findings.lost == []
    assert findings.double_exits == []
    assert (findings.nets_crossed, findings.unguarded, findings.overguarded) == (0, {}, {})
    assert findings.details == []
    assert findings.guarded_twice == []


def test_an_acknowledged_trade_missing_from_the_database_is_lost_and_its_quantity_unguarded(
) -> None:  # fmt: skip
    ledger, books = world()
    del books.trades["TB"]
    findings = audit(ledger, books)
    assert findings.lost == ["TB"]
    assert findings.unguarded == {"INFY/MIS/SHORT": 4}


def test_entries_no_trade_took_are_the_campaigns_own_holdings() -> None:
    ledger, books = world()
    ledger.entries["5"] = Entry("5", SHORT, 2, tried=True)  # createtrade failed
    books.positions[("INFY", "MIS")] = -6
    assert audit(ledger, books).unguarded == {}


def test_more_exit_quantity_than_the_entry_holds_is_a_double_exit() -> None:
    ledger, books = world()
    books.orders.append(order("6", LONG, "SELL", 1, "tg:acct:s:TARGET:TA", status="open"))
    assert audit(ledger, books).double_exits == ["1"]


def test_a_second_trade_on_the_same_entry_counts_against_the_same_quantity() -> None:
    ledger, books = world()
    ledger.entries["1"].acked.append("TC")
    books.trades["TC"] = trade("TC", ledger.entries["1"], "CLOSED")
    books.orders.append(order("6", LONG, "SELL", 10, "tg:acct:s:STOP_LOSS:TC"))
    findings = audit(ledger, books)
    assert findings.double_exits == ["1"]
    assert findings.guarded_twice == ["1"]


def test_a_fill_past_zero_crosses_the_net() -> None:
    ledger, books = world()
    books.fills.append(fill(LONG, "SELL", 5))  # 3 -> -2 on a LONG key
    books.fills.append(fill(LONG, "SELL", 1))  # still on the wrong side: the same crossing
    assert audit(ledger, books).nets_crossed == 1


def test_a_position_a_closed_trade_left_at_the_broker_is_unguarded() -> None:
    ledger, books = world()
    books.trades["TB"]["state"] = "CLOSED_EXTERNALLY"
    findings = audit(ledger, books)
    assert findings.unguarded == {"INFY/MIS/SHORT": 4}
    assert "TB CLOSED_EXTERNALLY x4" in findings.details[0]


def test_an_open_trade_whose_position_is_gone_is_overguarded() -> None:
    ledger, books = world()
    books.positions[("INFY", "MIS")] = 0
    assert audit(ledger, books).overguarded == {"INFY/MIS/SHORT": 4}


def test_an_active_trade_the_price_stands_through_is_a_missed_exit() -> None:
    _, books = world()
    books.trades["TB"] |= {"stop_loss": 15_100_000, "target": 14_900_000}  # SHORT at 1500
    assert missed(books.trades, {"INFY": 15_000_000}) == []
    assert missed(books.trades, {"INFY": 15_100_000}) == ["TB"]  # at the stop
    assert missed(books.trades, {"INFY": 14_900_000}) == ["TB"]  # at the target
    books.trades["TB"]["state"] = "EXITING"
    assert missed(books.trades, {"INFY": 15_100_000}) == []
