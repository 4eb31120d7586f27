"""Adapters layer: the simulator's Starlette app: OpenAlgo's /api/v1 (rest_server.SimApi) and
the /sim/admin endpoints (rest_admin.SimAdmin), which need the simulator's API key in the
`X-Sim-Admin-Key` header (403 otherwise, before the body is read): anyone who can reach the
port could otherwise fill, reject or reprice orders."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tradeguard.adapters.sim import rest_views as views
from tradeguard.adapters.sim.rest_admin import SimAdmin
from tradeguard.adapters.sim.rest_server import SimApi

ADMIN_KEY_HEADER = "X-Sim-Admin-Key"
Handler = Callable[[Request], Awaitable[Response]]


def _keyed(api: SimApi, handler: Handler) -> Handler:
    async def checked(request: Request) -> Response:
        sent = request.headers.get(ADMIN_KEY_HEADER, "")
        if not sent or not hmac.compare_digest(sent.encode(), api.apikey.encode()):
            return views.error(
                403, f"/sim/admin needs the simulator's API key in the {ADMIN_KEY_HEADER} header"
            )
        return await handler(request)

    return checked


def create_app(api: SimApi) -> Starlette:
    """The Starlette app serving `api` under /api/v1/ plus the /sim/admin endpoints."""
    admin = SimAdmin(api)

    async def not_found(request: Request) -> Response:
        return views.error(404, "Not found", path=request.url.path)

    app = Starlette(
        routes=[
            Route("/api/v1/{endpoint:path}", api.dispatch, methods=["POST"]),
            Route("/api/{rest:path}", not_found, methods=["GET", "POST"]),
            Route("/sim/admin/faults", _keyed(api, admin.faults), methods=["POST"]),
            Route("/sim/admin/feed", _keyed(api, admin.feed), methods=["POST"]),
            Route("/sim/admin/timing", _keyed(api, admin.timing), methods=["POST"]),
            Route("/sim/admin/pending", _keyed(api, admin.pending), methods=["GET", "POST"]),
            Route("/sim/admin/price", _keyed(api, admin.price), methods=["POST"]),
            Route("/sim/admin/stream", _keyed(api, admin.stream), methods=["POST"]),
            Route("/sim/admin/arrivals", _keyed(api, admin.arrivals), methods=["GET", "POST"]),
            Route("/sim/admin/orders", _keyed(api, admin.orders), methods=["GET"]),
            Route("/sim/admin/calendar", _keyed(api, api.calendar.admin), methods=["GET", "POST"]),
        ]
    )
    app.state.sim = api
    return app
