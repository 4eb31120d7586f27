"""Interfaces layer (API): the REST endpoints under /api/v1, in OpenAlgo's conventions.

Every endpoint is a POST with `apikey` in a strict JSON body and answers the envelope of
envelope.py; each one authenticates the key to an account and calls the TradeService facade
with it, so a key only ever sees and changes its own account's trades and strategies.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError

from tradeguard.app.service import CreateTrade
from tradeguard.interfaces.api.context import account_of, ctx, per_ip_limit
from tradeguard.interfaces.api.envelope import ok, ok_json
from tradeguard.interfaces.api.export import csv_response, export_name
from tradeguard.interfaces.api.schemas import (
    ActiveTradesBody,
    Authed,
    CreateTradeBody,
    ExitTradeBody,
    HistoryBody,
    HistoryFilterBody,
    ProtectTradeBody,
    StrategyBody,
    UpdateTradeBody,
    settings_model,
    settings_of,
)

M = TypeVar("M", bound=BaseModel)


def _actor(account: str) -> str:
    return f"api:{account}"


def build_router(settings_defaults: dict[str, Any]) -> APIRouter:  # noqa: C901 - one route each
    router = APIRouter(prefix="/api/v1", dependencies=[Depends(per_ip_limit)], tags=["api"])
    configure_body = settings_model(settings_defaults, api=True)

    @router.post("/createtrade", summary="Start guarding a position")
    async def createtrade(body: CreateTradeBody, request: Request) -> JSONResponse:
        """From a completed order (`orderid`: entry price and quantity from the broker's
        fill) or explicitly. The strategy's default rules apply; `rules` overrides them."""
        account = await account_of(request, body.apikey)
        create = CreateTrade(
            strategy=body.strategy,
            order_id=body.orderid,
            symbol=body.symbol,
            exchange=body.exchange,
            action=body.action,
            quantity=body.quantity,
            price=body.price,
            product=body.product,
            rules=body.rules.changes() if body.rules else {},
        )
        return ok(await ctx(request).service.create_trade(account, create, _actor(account)))

    @router.post("/activetrades", summary="Open trades (of one strategy, or all)")
    async def activetrades(body: ActiveTradesBody, request: Request) -> Response:
        account = await account_of(request, body.apikey)
        return ok_json(ctx(request).service.active_trades_json(account, body.strategy))

    @router.post("/updatetrade", summary="Change an ACTIVE trade's rules")
    async def updatetrade(body: UpdateTradeBody, request: Request) -> JSONResponse:
        account = await account_of(request, body.apikey)
        service = ctx(request).service
        return ok(
            await service.update_trade(
                account, body.trade_id, body.rules.changes(), _actor(account)
            )
        )

    @router.post("/protecttrade", summary="One click: stop to cost, or lock in profit")
    async def protecttrade(body: ProtectTradeBody, request: Request) -> JSONResponse:
        """Move an ACTIVE trade's stop-loss beyond its entry: `stop_to_cost` puts it at the
        entry, `lock_profit` locks `percent` % (default 50) of the open profit at the last
        price. 400 while the trade is not in profit. Same as an updatetrade of the stop."""
        account = await account_of(request, body.apikey)
        service = ctx(request).service
        return ok(
            await service.protect_trade(
                account, body.trade_id, body.action, _actor(account), body.percent
            )
        )

    @router.post("/exittrade", summary="Exit one trade now (all of it, or `quantity` of it)")
    async def exittrade(body: ExitTradeBody, request: Request) -> JSONResponse:
        """Without `quantity`: the whole open quantity. With it: a partial exit (less than
        the open quantity, a multiple of the lot size) whose part is exited as a trade of its
        own (`part` in the reply); the rest keeps the trade id and its rules."""
        account = await account_of(request, body.apikey)
        service = ctx(request).service
        return ok(
            await service.exit_trade(
                account,
                body.trade_id,
                _actor(account),
                pending_rejected=body.pending_rejected,
                quantity=body.quantity,
            )
        )

    @router.post(
        "/strategy/configure",
        summary="Create a strategy or change some of its risk settings",
        openapi_extra={
            "requestBody": {
                "content": {"application/json": {"schema": configure_body.model_json_schema()}},
                "required": True,
            }
        },
    )
    async def configure(request: Request) -> JSONResponse:
        raw = await read_json(request)
        key = raw.get("apikey") if isinstance(raw, dict) else None
        account = None
        if isinstance(key, str) and 0 < len(key) <= 256:
            account = await account_of(request, key)  # 403 before any setting is read
        body = validate_body(raw, configure_body)
        if account is None:
            account = await account_of(request, body.apikey)  # type: ignore[attr-defined]
        name: str = body.strategy  # type: ignore[attr-defined]
        service = ctx(request).service
        return ok(
            await service.configure_strategy(account, name, settings_of(body), _actor(account))
        )

    @router.post("/strategy/get", summary="One strategy: settings, state, P&L and levels")
    async def get_strategy(body: StrategyBody, request: Request) -> JSONResponse:
        account = await account_of(request, body.apikey)
        return ok(ctx(request).service.get_strategy(account, body.strategy))

    @router.post("/strategy/list", summary="Every strategy of the account")
    async def list_strategies(body: Authed, request: Request) -> JSONResponse:
        account = await account_of(request, body.apikey)
        return ok(ctx(request).service.list_strategies(account))

    @router.post("/strategy/exitall", summary="Exit every open trade of a strategy")
    async def exit_all(body: StrategyBody, request: Request) -> JSONResponse:
        account = await account_of(request, body.apikey)
        service = ctx(request).service
        return ok(await service.exit_all(account, body.strategy, _actor(account)))

    @router.post(
        "/strategy/pause", summary="Pause a strategy: no new trades; open trades stay guarded"
    )
    async def pause(body: StrategyBody, request: Request) -> JSONResponse:
        account = await account_of(request, body.apikey)
        service = ctx(request).service
        return ok(await service.pause_strategy(account, body.strategy, _actor(account)))

    @router.post("/strategy/resume", summary="Resume a PAUSED strategy (or reset a HALTED one)")
    async def resume(body: StrategyBody, request: Request) -> JSONResponse:
        account = await account_of(request, body.apikey)
        service = ctx(request).service
        return ok(await service.resume_strategy(account, body.strategy, _actor(account)))

    @router.post("/tradehistory", summary="Closed trades, newest first (filterable)")
    async def tradehistory(body: HistoryBody, request: Request) -> JSONResponse:
        account = await account_of(request, body.apikey)
        service = ctx(request).service
        return ok(await service.trade_history(account, body.limit, body.filters()))

    @router.post(
        "/tradehistory/export",
        summary="Closed trades as CSV (same filters, every matching trade)",
        response_class=StreamingResponse,
        responses={200: {"description": "CSV", "content": {"text/csv": {}}}},
    )
    async def tradehistory_export(body: HistoryFilterBody, request: Request) -> Response:
        account = await account_of(request, body.apikey)
        rows = await ctx(request).service.history_export(account, body.filters())
        return csv_response(rows, export_name(body.filters()))

    @router.post("/performance", summary="Win rate, P&L by reason/strategy/day, equity curve")
    async def performance(body: HistoryFilterBody, request: Request) -> JSONResponse:
        account = await account_of(request, body.apikey)
        return ok(await ctx(request).service.performance(account, body.filters()))

    return router


async def parse_body(request: Request, model: type[M]) -> M:
    """Validate a JSON body against a model built at run time (FastAPI's own parsing needs
    the model at import time); errors are reported like FastAPI's."""
    return validate_body(await read_json(request), model)


async def read_json(request: Request) -> Any:
    """The request body as JSON (size-limited by interfaces.api.bodylimit), or a 400."""
    try:
        return await request.json()
    except ValueError:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error"}]
        ) from None


def validate_body(raw: Any, model: type[M]) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_input=False)]
        ) from None
