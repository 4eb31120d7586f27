"""Interfaces layer (API): the OpenAPI description as the API really answers, for client
generators and schema-driven fuzzers. FastAPI's default lists 200 and 422 only; tradeguard
never answers 422 (a body that fails validation is a 400 in the error envelope), so every
/api/v1 operation instead lists its success envelope and each error status with the error
envelope's schema (and Retry-After on 429)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERRORS: dict[int, str] = {
    400: "Bad request: the body is not valid JSON, a field is missing, unknown, of the wrong "
    "type or out of its bounds (the message names the field, never echoes its value)",
    403: "Invalid apikey",
    404: "No such trade, strategy or order visible to this account (another account's look "
    "the same), or no such path",
    405: "Method not allowed: every /api/v1 endpoint is a POST",
    409: "The request does not fit the current state (already exiting, paused or halted "
    "strategy, a limit, an entry already guarded: then `data.trade_id` names your trade)",
    413: "Request body too large (over 64 KiB), refused before it is read whole",
    429: "Rate limit exceeded (per client before authentication, per account after)",
    500: "Internal error (the detail is in the log only)",
    503: "The database or the broker cannot take the request now; nothing was changed "
    "unless the message says otherwise; retry",
}

ERROR_BODY: dict[str, Any] = {
    "title": "ErrorBody",
    "type": "object",
    "required": ["status", "message"],
    "properties": {
        "status": {"type": "string", "enum": ["error"]},
        "message": {"type": "string"},
        "data": {"type": "object", "description": "extra facts, e.g. {trade_id} on a 409"},
    },
}

SUCCESS_BODY: dict[str, Any] = {
    "title": "SuccessBody",
    "type": "object",
    "required": ["status", "data"],
    "properties": {
        "status": {"type": "string", "enum": ["success"]},
        "data": {"description": "the endpoint's answer (see docs/api.md)"},
    },
}

_REF_ERROR = {"$ref": "#/components/schemas/ErrorBody"}
_REF_SUCCESS = {"$ref": "#/components/schemas/SuccessBody"}
_DROPPED = ("HTTPValidationError", "ValidationError")


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": ERRORS[status],
        "content": {"application/json": {"schema": _REF_ERROR}},
    }
    if status == 429:
        response["headers"] = {
            "Retry-After": {
                "description": "seconds until a request is allowed again",
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return response


def real_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` (FastAPI's) with 422 gone everywhere and the real responses listed."""
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            if not path.startswith("/api/v1/"):
                continue
            if "text/csv" not in responses.get("200", {}).get("content", {}):
                responses["200"] = {
                    "description": "Success",
                    "content": {"application/json": {"schema": _REF_SUCCESS}},
                }
            for status in ERRORS:
                responses[str(status)] = _error_response(status)
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in _DROPPED:
        schemas.pop(name, None)
    schemas["ErrorBody"] = ERROR_BODY
    schemas["SuccessBody"] = SUCCESS_BODY
    return schema


def install(app: FastAPI) -> None:
    """Serve the corrected description at the app's openapi_url."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = real_responses(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
