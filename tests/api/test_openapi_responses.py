"""Tests (API description, issue 12): /openapi.json lists the responses the API really gives
(400/403/404/405/409/413/429/500/503 with the error envelope's schema), never FastAPI's 422,
and the API answers those statuses with bodies that match that schema."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api

STATUSES = ["200", "400", "403", "404", "405", "409", "413", "429", "500", "503"]


def _is_error_body(reply: httpx.Response) -> bool:
    body: dict[str, Any] = reply.json()
    return (
        body.get("status") == "error"
        and isinstance(body.get("message"), str)
        and set(body) <= {"status", "message", "data"}
    )


@pytest.mark.asyncio
async def test_the_description_lists_the_real_responses(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    assert '"422"' not in json.dumps(spec)
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["ErrorBody"]["required"] == ["status", "message"]
    operations = [(path, op) for path, ops in spec["paths"].items() for op in ops.values()]
    api_ops = [(path, op) for path, op in operations if path.startswith("/api/v1/")]
    assert len(api_ops) >= 11
    for path, op in api_ops:
        assert sorted(op["responses"]) == sorted(STATUSES), path
        for status in STATUSES[1:]:
            content = op["responses"][status]["content"]["application/json"]
            assert content["schema"] == {"$ref": "#/components/schemas/ErrorBody"}, path
        assert "Retry-After" in op["responses"]["429"]["headers"]


@pytest.mark.asyncio
async def test_the_api_answers_those_statuses_with_the_error_body(api: Api) -> None:
    key = api.keys["alice"]
    cases = [
        (400, await api.client.post("/api/v1/activetrades", content=b"{not json")),
        (400, await api.client.post("/api/v1/exittrade", json={"apikey": key})),
        (403, await api.client.post("/api/v1/activetrades", json={"apikey": "0" * 64})),
        (404, await api.client.post("/api/v1/exittrade", json={"apikey": key, "trade_id": "Tx"})),
        (405, await api.client.get("/api/v1/createtrade")),
        (413, await api.client.post("/api/v1/activetrades", content=b" " * 70_000)),
    ]
    for expected, reply in cases:
        assert reply.status_code == expected, (expected, reply.text)
        assert _is_error_body(reply), reply.text
