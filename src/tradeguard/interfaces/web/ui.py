"""Interfaces layer (dashboard): the JSON endpoints under /ui/api, for the logged-in user's
account. Authenticated by the session cookie; every POST also needs header X-CSRF-Token equal
to the csrf cookie. Replies use the API envelope (`{"status": "success", "data": view}`);
views are app.views' shapes, as the REST API returns them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from tradeguard.app.accounts import Session
from tradeguard.interfaces.api.context import ctx
from tradeguard.interfaces.api.envelope import ok, ok_json
from tradeguard.interfaces.api.export import csv_response, export_name
from tradeguard.interfaces.api.routes import parse_body
from tradeguard.interfaces.api.schemas import (
    ExitSpec,
    GuardSpec,
    ProtectSpec,
    RulesSpec,
    settings_model,
    settings_of,
)
from tradeguard.interfaces.web.auth import require_csrf, require_session

User = Annotated[Session, Depends(require_session)]
TradeIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
NamePath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$")]


class HistoryFilters(BaseModel):
    """The history filters as query parameters (?from=&to=&strategy=&symbol=&reason=);
    app.history checks the values."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_date: str | None = Field(default=None, alias="from", max_length=64)
    to_date: str | None = Field(default=None, alias="to", max_length=64)
    strategy: str | None = Field(default=None, max_length=64)
    symbol: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=64)

    def as_dict(self) -> dict[str, str | None]:
        return {
            "from": self.from_date,
            "to": self.to_date,
            "strategy": self.strategy,
            "symbol": self.symbol,
            "reason": self.reason,
        }


class HistoryPage(HistoryFilters):
    limit: int = Field(default=100, ge=1, le=1000)


Filters = Annotated[HistoryFilters, Query()]
Page = Annotated[HistoryPage, Query()]


def _actor(user: Session) -> str:
    return f"user:{user.username}"


def build_router(settings_defaults: dict[str, Any]) -> APIRouter:  # noqa: C901 - one route each
    router = APIRouter(prefix="/ui/api", include_in_schema=False)
    posts = [Depends(require_csrf)]
    settings_body = settings_model(settings_defaults, api=False)

    @router.get("/me")
    async def me(user: User) -> JSONResponse:
        return ok({"username": user.username, "account": user.account})

    @router.get("/trades")
    async def trades(request: Request, user: User) -> Response:
        return ok_json(ctx(request).service.active_trades_json(user.account))

    @router.get("/trades/{trade_id}/series")
    async def trade_series(request: Request, user: User, trade_id: TradeIdPath) -> JSONResponse:
        return ok(ctx(request).service.trade_series(user.account, trade_id))

    @router.post("/trades/{trade_id}/update", dependencies=posts)
    async def update(
        request: Request, user: User, trade_id: TradeIdPath, rules: RulesSpec
    ) -> JSONResponse:
        service = ctx(request).service
        return ok(await service.update_trade(user.account, trade_id, rules.changes(), _actor(user)))

    @router.post("/trades/{trade_id}/protect", dependencies=posts)
    async def protect(
        request: Request, user: User, trade_id: TradeIdPath, body: ProtectSpec
    ) -> JSONResponse:
        service = ctx(request).service
        return ok(
            await service.protect_trade(
                user.account, trade_id, body.action, _actor(user), body.percent
            )
        )

    @router.post("/trades/{trade_id}/exit", dependencies=posts)
    async def exit_trade(
        request: Request, user: User, trade_id: TradeIdPath, body: ExitSpec | None = None
    ) -> JSONResponse:
        service = ctx(request).service
        confirmed = body is not None and body.pending_rejected
        quantity = body.quantity if body is not None else None
        return ok(
            await service.exit_trade(
                user.account, trade_id, _actor(user), pending_rejected=confirmed, quantity=quantity
            )
        )

    @router.get("/broker")
    async def broker(
        request: Request, user: User, refresh: Annotated[bool, Query()] = False
    ) -> JSONResponse:
        return ok(await ctx(request).service.broker_view(user.account, refresh=refresh))

    @router.post("/broker/guard", dependencies=posts)
    async def guard(request: Request, user: User, body: GuardSpec) -> JSONResponse:
        service = ctx(request).service
        key = (body.symbol, body.exchange, body.product)
        return ok(
            await service.guard_position(
                user.account, body.strategy, key, _actor(user), body.quantity
            )
        )

    @router.get("/audit")
    async def audit_log(
        request: Request,
        user: User,
        trade_id: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = None,
        strategy: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$")] = None,
        before: Annotated[int | None, Query(ge=1)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> JSONResponse:
        service = ctx(request).service
        return ok(
            await service.audit_log(
                user.account, trade_id=trade_id, strategy=strategy, before=before, limit=limit
            )
        )

    @router.get("/strategies")
    async def strategies(request: Request, user: User) -> JSONResponse:
        return ok(ctx(request).service.list_strategies(user.account))

    @router.get("/strategies/{name}/series")
    async def strategy_series(request: Request, user: User, name: NamePath) -> JSONResponse:
        return ok(ctx(request).service.strategy_series(user.account, name))

    @router.post("/strategies/{name}/configure", dependencies=posts)
    async def configure(request: Request, user: User, name: NamePath) -> JSONResponse:
        body = await parse_body(request, settings_body)
        service = ctx(request).service
        return ok(
            await service.configure_strategy(user.account, name, settings_of(body), _actor(user))
        )

    @router.post("/strategies/{name}/exitall", dependencies=posts)
    async def exit_all(request: Request, user: User, name: NamePath) -> JSONResponse:
        return ok(await ctx(request).service.exit_all(user.account, name, _actor(user)))

    @router.post("/strategies/{name}/pause", dependencies=posts)
    async def pause(request: Request, user: User, name: NamePath) -> JSONResponse:
        return ok(await ctx(request).service.pause_strategy(user.account, name, _actor(user)))

    @router.post("/strategies/{name}/resume", dependencies=posts)
    async def resume(request: Request, user: User, name: NamePath) -> JSONResponse:
        return ok(await ctx(request).service.resume_strategy(user.account, name, _actor(user)))

    @router.get("/history")
    async def history(request: Request, user: User, page: Page) -> JSONResponse:
        service = ctx(request).service
        return ok(await service.trade_history(user.account, page.limit, page.as_dict()))

    @router.get("/history.csv")
    async def history_csv(request: Request, user: User, filters: Filters) -> Response:
        rows = await ctx(request).service.history_export(user.account, filters.as_dict())
        return csv_response(rows, export_name(filters.as_dict()))

    @router.get("/performance")
    async def performance(request: Request, user: User, filters: Filters) -> JSONResponse:
        return ok(await ctx(request).service.performance(user.account, filters.as_dict()))

    @router.get("/health")
    async def health(request: Request, user: User) -> JSONResponse:
        return ok(ctx(request).service.health())

    @router.get("/events")
    async def events(
        request: Request, user: User, limit: Annotated[int, Query(ge=1, le=500)] = 200
    ) -> JSONResponse:
        return ok(ctx(request).service.recent_events(user.account, limit))

    return router
