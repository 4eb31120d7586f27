"""Adapters layer: the simulator's Starlette app: OpenAlgo's /api/v1 (rest_server.SimApi) and
the /sim/admin endpoints (rest_admin.SimAdmin)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tradeguard.adapters.sim import rest_views as views
from tradeguard.adapters.sim.rest_admin import SimAdmin
from tradeguard.adapters.sim.rest_server import SimApi


def create_app(api: SimApi) -> Starlette:
    """The Starlette app serving `api` under /api/v1/ plus the /sim/admin endpoints."""
    admin = SimAdmin(api)

    async def not_found(request: Request) -> Response:
        return views.error(404, "Not found", path=request.url.path)

    app = Starlette(
        routes=[
            Route("/api/v1/{endpoint:path}", api.dispatch, methods=["POST"]),
            Route("/api/{rest:path}", not_found, methods=["GET", "POST"]),
            Route("/sim/admin/faults", admin.faults, methods=["POST"]),
            Route("/sim/admin/feed", admin.feed, methods=["POST"]),
            Route("/sim/admin/timing", admin.timing, methods=["POST"]),
            Route("/sim/admin/pending", admin.pending, methods=["GET", "POST"]),
            Route("/sim/admin/price", admin.price, methods=["POST"]),
            Route("/sim/admin/stream", admin.stream, methods=["POST"]),
            Route("/sim/admin/arrivals", admin.arrivals, methods=["GET", "POST"]),
            Route("/sim/admin/orders", admin.orders, methods=["GET"]),
        ]
    )
    app.state.sim = api
    return app
