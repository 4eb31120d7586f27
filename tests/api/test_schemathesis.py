"""Tests (API fuzzing): schemathesis generates requests from /openapi.json (valid and invalid
bodies, half of them with a real apikey so the service itself is reached) against the real
app over the whole stack; no request may end in a server error (500). The server runs on the
test's event loop; the generator runs in a process of its own (its client is synchronous).

Why a process and not a thread: hypothesis checks that the global `random` state does not
change while it draws an example (a strategy using `random` would not be reproducible), and
the server does change it meanwhile: websockets draws each keepalive ping's payload from
`random.getrandbits`, on the feed's connection to the simulator. In a thread that was a
HypothesisDeprecationWarning (an error here) whenever a ping fell inside a draw.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from tests.api.conftest import Api

EXAMPLES = 25  # per operation and mode: the whole run stays well under a minute


def fuzz(spec: dict[str, Any], base_url: str, apikey: str) -> tuple[int, list[str]]:
    schema = schemathesis.openapi.from_dict(spec)
    failures: list[str] = []
    calls = 0
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode in (
                schemathesis.GenerationMode.POSITIVE,
                schemathesis.GenerationMode.NEGATIVE,
            ):
                strategy = operation.as_strategy(generation_mode=mode)

                @settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=strategy, real_key=st.booleans())
                def run(case: Any, real_key: bool) -> None:
                    nonlocal calls
                    if real_key and isinstance(case.body, dict):
                        case.body["apikey"] = apikey
                    response = case.call(base_url=base_url, session=session, timeout=10)
                    calls += 1
                    status = response.status_code
                    if status >= 500 and not (status == 503 and case.path == "/health"):
                        body = json.dumps(case.body, default=str)[:300]
                        failures.append(f"{case.method} {case.path} {status}: {body}")
                    if case.path.startswith("/api/") and status != 200:
                        payload = response.json()
                        if payload.get("status") != "error" or not payload.get("message"):
                            failures.append(f"{case.path}: not the error envelope: {payload}")

                try:
                    run()
                except Unsatisfiable:  # e.g. no invalid request exists for GET /metrics
                    continue
    return calls, failures


def strict_fuzz(spec: dict[str, Any], base_url: str, apikey: str) -> tuple[int, list[str]]:
    """`fuzz` in the generator's own process, with every warning an error as under pytest."""
    warnings.simplefilter("error")
    return fuzz(spec, base_url, apikey)


@pytest.mark.slow
@pytest.mark.asyncio
async def test_schemathesis_finds_no_server_error(api: Api) -> None:
    await api.strategy("s1")
    await api.trade()
    spec = (await api.client.get("/openapi.json")).json()
    spawn = multiprocessing.get_context("spawn")  # not a fork of this process and its threads
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as generator:
        calls, failures = await asyncio.get_running_loop().run_in_executor(
            generator, strict_fuzz, spec, api.url, api.keys["alice"]
        )
    assert calls >= 200
    assert failures == [], "\n".join(failures[:20])
