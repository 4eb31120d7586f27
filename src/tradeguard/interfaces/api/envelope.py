"""Interfaces layer (API): OpenAlgo's reply envelope and the error mapping.

Success: `{"status": "success", "data": ...}`; failure: `{"status": "error", "message": ...}`
with the HTTP status of the app.errors.ServiceError (403 for an unknown apikey, as OpenAlgo),
400 for a body that fails validation, 429 when rate limited and 500 `internal error` for
anything unexpected (the detail goes to the log only).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tradeguard.app.errors import ServiceError

log = logging.getLogger("tradeguard.api")


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse({"status": "success", "data": data}, status_code=status)


def ok_json(data_json: str) -> Response:
    """The success envelope around `data` that is already JSON text (the cached live views)."""
    body = '{"status":"success","data":' + data_json + "}"
    return Response(body.encode("utf-8"), media_type="application/json")


def error(
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
    data: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"status": "error", "message": message}
    if data:
        body["data"] = data
    return JSONResponse(body, status_code=status, headers=headers)


class ApiError(Exception):
    """An interface-level refusal (rate limit, bad apikey, not logged in)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def validation_message(exc: RequestValidationError) -> str:
    """`field: problem; ...` from pydantic's errors, never echoing the input values."""
    parts = []
    for item in exc.errors()[:5]:
        loc = [str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path")]
        kind = item.get("type", "")
        if kind == "json_invalid":
            parts.append("the body is not valid JSON")
            continue
        if kind == "missing" and not loc:
            parts.append("a JSON object body is required")
            continue
        text = str(item.get("msg", "invalid"))
        if kind == "extra_forbidden":
            text = "unknown field"
        parts.append(f"{'.'.join(loc) or 'body'}: {text}")
    return "; ".join(parts) or "invalid request"


async def on_service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return error(exc.http_status, str(exc), data=getattr(exc, "data", None))


async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error(exc.status, exc.message, exc.headers)


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error(400, validation_message(exc))


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    messages = {404: "Not found", 405: "Method not allowed"}
    message = messages.get(exc.status_code) or str(exc.detail)
    return error(exc.status_code, message, getattr(exc, "headers", None))


HANDLERS: dict[Any, Any] = {
    ServiceError: on_service_error,
    ApiError: on_api_error,
    RequestValidationError: on_validation_error,
    StarletteHTTPException: on_http_error,
}


class CatchAll:
    """ASGI middleware: an unhandled exception in an HTTP handler answers 500 `internal error`
    (the traceback is logged, never sent) instead of propagating to the server."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            body = json.dumps({"status": "error", "message": "internal error"}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
