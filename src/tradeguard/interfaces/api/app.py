"""Interfaces layer (API): builds the one ASGI app `tradeguard run` serves: the REST API
(/api/v1), operations (/health, /metrics, /docs, /openapi.json), and the dashboard (pages,
static files, /auth, /ui/api, the /ui/stream WebSocket). It talks only to the app facades
(TradeService, AccountService); bootstrap runs it with the ASGI server adapter."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradeguard.app.accounts import AccountService
from tradeguard.app.service import TradeService
from tradeguard.interfaces.api import openapi, ops, routes
from tradeguard.interfaces.api.bodylimit import BodyLimit
from tradeguard.interfaces.api.context import ApiContext, ApiOptions
from tradeguard.interfaces.api.envelope import HANDLERS, CatchAll
from tradeguard.interfaces.web import STATIC_DIR
from tradeguard.interfaces.web import auth as web_auth
from tradeguard.interfaces.web import stream as web_stream
from tradeguard.interfaces.web import ui as web_ui

DESCRIPTION = (
    "tradeguard's REST API in OpenAlgo's conventions: every endpoint under /api/v1 is a POST "
    "with `apikey` in the JSON body and answers `{status: success, data}` or "
    "`{status: error, message}`. See docs/api.md."
)


_CSP = (
    b"default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
    b"script-src 'self'; frame-ancestors 'none'"
)


class _CountResponses:
    """ASGI middleware: counts HTTP responses by status for /metrics; security headers."""

    def __init__(self, app: ASGIApp, context: ApiContext) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.context.responses[int(message["status"])] += 1
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"x-frame-options", b"DENY"))
                headers.append((b"referrer-policy", b"same-origin"))
                headers.append((b"content-security-policy", _CSP))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, counting_send)


def build_app(
    service: TradeService, accounts: AccountService, options: ApiOptions | None = None
) -> FastAPI:
    options = options or ApiOptions()
    context = ApiContext.build(service, accounts, options)
    app = FastAPI(
        title="tradeguard",
        version="1",
        description=DESCRIPTION,
        docs_url=None,  # ops serves /docs without CDN assets
        redoc_url=None,
        openapi_url="/openapi.json",
        exception_handlers=HANDLERS,
    )
    app.state.ctx = context
    defaults = service.strategy_settings()
    static_dir = options.static_dir or STATIC_DIR
    app.include_router(routes.build_router(defaults))
    app.include_router(ops.router)
    app.include_router(web_auth.build_router(static_dir))
    app.include_router(web_ui.build_router(defaults))
    app.include_router(web_stream.build_router())
    app.mount("/static", StaticFiles(directory=static_dir, check_dir=False), name="static")
    openapi.install(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(CatchAll)
    app.add_middleware(_CountResponses, context=context)
    return app
