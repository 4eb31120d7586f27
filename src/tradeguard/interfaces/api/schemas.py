"""Interfaces layer (API): the request bodies, as strict pydantic models.

Unknown fields are refused (like OpenAlgo's marshmallow schemas); numbers may come as JSON
numbers or numeric strings (OpenAlgo clients send strings); booleans are never numbers;
quantities and prices have sane bounds. The rules shape is core.codec's (see docs/rules.md);
the deeper checks (a stop on the wrong side, percent over 100...) are the service's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    create_model,
    model_validator,
)

from tradeguard.core.bounds import (
    MAX_HOLDING_SECONDS,
    MAX_PRICE,
    MAX_QUANTITY,
    plain_decimal,
    plain_whole,
)

MAX_LEVEL = MAX_PRICE
MAX_HOLD_SECONDS = MAX_HOLDING_SECONDS


def _whole(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("expected a whole number, not a boolean")
    if isinstance(value, str):
        whole = plain_whole(value)
        if whole is None:
            raise ValueError("expected a whole number (digits 0-9 only)")
        return whole
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("expected a whole number")
        return int(value)
    return value


def _number(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    if isinstance(value, str):
        number = plain_decimal(value)
        if number is None:
            raise ValueError("expected a decimal number (digits 0-9 and '.' only)")
        return number
    return value


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _text(value: object) -> object:
    """An id sent as a number (OpenAlgo order ids often are) becomes its text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


Whole = BeforeValidator(_whole, json_schema_input_type=int | str)
Number = BeforeValidator(_number, json_schema_input_type=float | str)
Quantity = Annotated[int, Whole, Field(ge=0, le=MAX_QUANTITY)]
Price = Annotated[Decimal, Number, Field(gt=0, le=MAX_PRICE, decimal_places=4, allow_inf_nan=False)]
LevelValue = Annotated[
    Decimal, Number, Field(ge=0, le=MAX_LEVEL, decimal_places=4, allow_inf_nan=False)
]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$")]
TradeId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
ApiKey = Annotated[str, Field(min_length=1, max_length=256)]
Symbol = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9&_.-]{0,49}$")]
Exchange = Annotated[str, BeforeValidator(_upper), Field(pattern=r"^[A-Z][A-Z_]{1,15}$")]
OrderId = Annotated[
    str,
    BeforeValidator(_text, json_schema_input_type=int | str),
    Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$"),
]
Action = Annotated[Literal["BUY", "SELL"], BeforeValidator(_upper)]
Product = Annotated[Literal["CNC", "MIS", "NRML"], BeforeValidator(_upper)]
Kind = Annotated[Literal["POINTS", "PERCENT", "PRICE"], BeforeValidator(_upper)]
OffsetKind = Annotated[Literal["POINTS", "PERCENT"], BeforeValidator(_upper)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LevelSpec(Strict):
    """A stop or target: POINTS or PERCENT from entry, or an absolute PRICE."""

    type: Kind
    value: LevelValue


class OffsetSpec(Strict):
    type: OffsetKind
    value: LevelValue


class TrailingSpec(Strict):
    type: OffsetKind
    value: LevelValue
    activation: OffsetSpec | None = None
    step: OffsetSpec | None = None


class BreakevenSpec(Strict):
    trigger: OffsetSpec
    buffer: OffsetSpec | None = None


class RulesSpec(Strict):
    """Per-trade rules (core.codec shape). In an update or override, a rule set to null is
    removed and a rule left out is kept."""

    stop_loss: LevelSpec | None = None
    target: LevelSpec | None = None
    trailing: TrailingSpec | None = None
    breakeven: BreakevenSpec | None = None
    square_off: Annotated[str, Field(pattern=r"^([01]?\d|2[0-3]):[0-5]\d$")] | None = None
    max_holding_seconds: Annotated[int, Whole, Field(ge=1, le=MAX_HOLD_SECONDS)] | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True, exclude_none=False)


class Authed(Strict):
    apikey: ApiKey


class CreateTradeBody(Authed):
    """From a completed order (`orderid`), or explicit (symbol, exchange, action, quantity,
    price). Quantity 0 asks the strategy's position sizing."""

    strategy: Name
    orderid: OrderId | None = None
    symbol: Symbol | None = None
    exchange: Exchange | None = None
    action: Action | None = None
    quantity: Quantity | None = None
    price: Price | None = None
    product: Product = "MIS"
    rules: RulesSpec | None = None

    @model_validator(mode="after")
    def _one_source(self) -> CreateTradeBody:
        explicit = [
            n
            for n in ("symbol", "exchange", "action", "quantity", "price")
            if getattr(self, n) is not None
        ]
        if self.orderid is not None and explicit:
            raise ValueError(
                f"give an orderid or explicit fields, not both (got orderid and {explicit[0]})"
            )
        return self


class ActiveTradesBody(Authed):
    strategy: Name | None = None


class UpdateTradeBody(Authed):
    trade_id: TradeId
    rules: RulesSpec


class TradeBody(Authed):
    trade_id: TradeId


class ExitSpec(Strict):
    """An exit of one trade. `pending_rejected`: the trader confirms that the trade's exit
    queued in OpenAlgo's Action Center (semi-auto mode) was rejected there, so a new exit may
    go out (refused without it while one is queued). `quantity`: a partial exit of that much
    of an ACTIVE trade (less than its open quantity, a multiple of its lot size); the rest
    stays guarded with the same rules."""

    pending_rejected: StrictBool = False
    quantity: Annotated[int, Whole, Field(ge=1, le=MAX_QUANTITY)] | None = None


class ExitTradeBody(ExitSpec, TradeBody):
    """exittrade."""


class ProtectSpec(Strict):
    """A one-click protective stop: `stop_to_cost` (stop-loss at the entry) or `lock_profit`
    (stop-loss locking `percent` % of the open profit, default 50)."""

    action: Literal["stop_to_cost", "lock_profit"]
    percent: Annotated[int, Whole, Field(ge=1, le=99)] = 50


class ProtectTradeBody(ProtectSpec, Authed):
    trade_id: TradeId


class GuardSpec(Strict):
    """Guard a broker position's unguarded quantity (all of it, or `quantity`) with the
    strategy's default rules, entered at the position's average price."""

    strategy: Name
    symbol: Symbol
    exchange: Exchange
    product: Product
    quantity: Annotated[int, Whole, Field(ge=1, le=MAX_QUANTITY)] | None = None


class StrategyBody(Authed):
    strategy: Name


FilterText = Annotated[str | None, Field(max_length=64)]


class HistoryFilterBody(Authed):
    """History filters (app.history): IST dates YYYY-MM-DD on the close, both inclusive;
    strategy, symbol and exit reason exactly. The service checks the values (400)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_date: FilterText = Field(default=None, alias="from")
    to_date: FilterText = Field(default=None, alias="to")
    strategy: FilterText = None
    symbol: FilterText = None
    reason: FilterText = None

    def filters(self) -> dict[str, str | None]:
        return {
            "from": self.from_date,
            "to": self.to_date,
            "strategy": self.strategy,
            "symbol": self.symbol,
            "reason": self.reason,
        }


class HistoryBody(HistoryFilterBody):
    limit: Annotated[int, Whole, Field(ge=1, le=1000)] = 100


Setting = bool | int | Decimal | str | None


def settings_model(defaults: dict[str, Any], *, api: bool) -> type[Strict]:
    """The strategy/configure body: every StrategyRiskConfig field, optional (a field left
    out keeps its current value). `api` adds apikey and strategy (the REST body)."""
    fields: dict[str, Any] = {
        name: (Setting, Field(default=None, description=f"default: {value!r}"))
        for name, value in defaults.items()
    }
    if api:
        fields["apikey"] = (ApiKey, ...)
        fields["strategy"] = (Name, ...)
    name = "ConfigureStrategyBody" if api else "StrategySettings"
    model: type[Strict] = create_model(name, __base__=Strict, **fields)
    return model


def settings_of(body: BaseModel) -> dict[str, Any]:
    return {
        key: (str(value) if isinstance(value, Decimal) else value)
        for key, value in body.model_dump(exclude_unset=True).items()
        if key not in ("apikey", "strategy")
    }
