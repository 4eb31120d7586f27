"""Adapters layer: the simulator's reply shapes: broker values rendered as OpenAlgo's JSON.

Types are mixed on purpose, as OpenAlgo's live brokers mix them (openalgo-interface.md §2):
order-book quantities are strings, prices floats, position-book quantity and average price
strings, funds 2-dp strings. Clients must parse them all.
"""

from __future__ import annotations

import zlib
from decimal import Decimal
from fractions import Fraction
from typing import Any

from starlette.responses import JSONResponse

from tradeguard.adapters.sim.market import SimMarket
from tradeguard.core.broker import (
    FillReport,
    OrderReport,
    OrderRequest,
    OrderStatus,
    PositionReport,
)
from tradeguard.core.money import from_units

Data = dict[str, Any]


def price(units: int | None) -> float:
    return float(from_units(units or 0))


def money(units: Fraction | int) -> str:
    """Units (possibly fractional) as a 2-dp rupee string, like OpenAlgo's live funds."""
    value = Fraction(units) / 10_000
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.01")))


def sandbox_funds(funds: dict[str, int], last_reset: str, reset_count: int) -> Data:
    """The paper broker's funds as OpenAlgo's analyzer (sandbox) mode answers them: floats,
    the sandbox's extra amounts, when its funds were last reset (naive IST) and how often."""
    realized = price(funds["m2mrealized"])
    return {
        "availablecash": price(funds["availablecash"]),
        "collateral": 0.0,
        "m2munrealized": price(funds["m2munrealized"]),
        "m2mrealized": realized,
        "total_realized_pnl": realized,
        "today_realized_pnl": realized,
        "utiliseddebits": price(funds["utiliseddebits"]),
        "grossexposure": price(funds["utiliseddebits"]),
        "totalpnl": price(funds["m2mrealized"] + funds["m2munrealized"]),
        "last_reset": last_reset,
        "reset_count": reset_count,
    }


def success(data: Any) -> JSONResponse:
    return JSONResponse({"status": "success", "data": data})


def error(status: int, message: Any, **extra: Any) -> JSONResponse:
    return JSONResponse({"status": "error", "message": message, **extra}, status_code=status)


def order_row(report: OrderReport, request: OrderRequest | None) -> Data:
    """An orderbook row (live shape: no average price)."""
    limit = request is not None and request.pricetype != "MARKET"
    return {
        "action": report.action,
        "symbol": report.symbol,
        "exchange": report.exchange,
        "orderid": report.order_id,
        "product": report.product,
        "quantity": str(report.quantity),
        "price": price(request.price) if request is not None and limit else 0.0,
        "pricetype": request.pricetype if request is not None else "MARKET",
        "order_status": report.status.value,
        "trigger_price": price(request.trigger_price) if request is not None else 0.0,
        "timestamp": report.timestamp,
    }


def order_statistics(reports: list[OrderReport]) -> Data:
    statuses = [r.status for r in reports]
    return {
        "total_buy_orders": float(sum(r.action == "BUY" for r in reports)),
        "total_sell_orders": float(sum(r.action == "SELL" for r in reports)),
        "total_completed_orders": float(statuses.count(OrderStatus.COMPLETE)),
        "total_open_orders": float(
            statuses.count(OrderStatus.OPEN) + statuses.count(OrderStatus.TRIGGER_PENDING)
        ),
        "total_rejected_orders": float(statuses.count(OrderStatus.REJECTED)),
    }


def trade_row(fill: FillReport) -> Data:
    return {
        "action": fill.action,
        "symbol": fill.symbol,
        "exchange": fill.exchange,
        "orderid": fill.order_id,
        "product": fill.product,
        "quantity": fill.quantity,
        "average_price": price(fill.average_price),
        "timestamp": fill.timestamp,
        "trade_value": float(from_units(fill.average_price * fill.quantity)),
    }


def position_row(pos: PositionReport, realized: Fraction) -> Data:
    ltp = pos.ltp or 0
    pnl = realized + (ltp - (pos.average_price or 0)) * pos.quantity if ltp else realized
    return {
        "symbol": pos.symbol,
        "exchange": pos.exchange,
        "product": pos.product,
        "quantity": str(pos.quantity),
        "average_price": str(from_units(pos.average_price or 0)),
        "ltp": price(ltp),
        "pnl": float(money(pnl)),
    }


def quote_data(market: SimMarket, symbol: str, exchange: str) -> Data | None:
    quote = market.quote(symbol, exchange)
    if quote is None:
        return None
    tick = market.tick_size(symbol, exchange)
    return {
        "open": price(quote.open),
        "high": price(quote.high),
        "low": price(quote.low),
        "ltp": price(quote.ltp),
        "ask": price(quote.ltp + tick),
        "bid": price(max(quote.ltp - tick, tick)),
        "prev_close": price(quote.prev_close),
        "volume": quote.volume,
    }


def symbol_data(market: SimMarket, symbol: str, exchange: str) -> Data:
    return {
        "id": zlib.crc32(f"{exchange}:{symbol}".encode()) % 1_000_000,
        "name": symbol,
        "symbol": symbol,
        "brsymbol": symbol,
        "exchange": exchange,
        "brexchange": exchange,
        "instrumenttype": "EQ",
        "expiry": "",
        "strike": -1.0,
        "lotsize": market.lot_size(symbol, exchange),
        "tick_size": price(market.tick_size(symbol, exchange)),
        "token": symbol,
    }
