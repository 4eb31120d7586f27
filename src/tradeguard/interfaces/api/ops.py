"""Interfaces layer (API): operations endpoints: GET /health (200 ok / 503 degraded, JSON
either way), GET /metrics (Prometheus text exposition of the service's metrics plus the API's
own counters) and GET /docs (the OpenAPI description as a plain HTML page: no CDN assets)."""

from __future__ import annotations

import html
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from tradeguard.interfaces.api.context import ctx

router = APIRouter(tags=["operations"])


@router.get("/health", summary="ok (200) or degraded (503), with what is degraded")
async def health(request: Request) -> JSONResponse:
    report = ctx(request).service.health()
    return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)


@router.get("/metrics", summary="Prometheus text exposition", response_class=PlainTextResponse)
async def metrics(request: Request) -> PlainTextResponse:
    context = ctx(request)
    text = render_metrics(
        context.service.metrics(),
        context.service.health(),
        dict(context.responses),
        context.ip_limits.refused + context.key_limits.refused + context.auth_limits.refused,
    )
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(
    values: dict[str, Any], health: dict[str, Any], responses: dict[int, int], limited: int
) -> str:
    out: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, object]]) -> None:
        out.append(f"# HELP tradeguard_{name} {help_text}")
        out.append(f"# TYPE tradeguard_{name} {kind}")
        for labels, value in samples:
            out.append(f"tradeguard_{name}{labels} {value}")

    metric("ticks_total", "counter", "Ticks processed.", [("", values["ticks"])])
    metric("decisions_total", "counter", "Engine decisions.", [("", values["decisions"])])
    exits = sorted(values["exits_by_reason"].items())
    metric(
        "exits_total",
        "counter",
        "Exits sent, by reason.",
        [(f'{{reason="{_label(reason)}"}}', count) for reason, count in exits],
    )
    latency: list[tuple[str, object]] = []
    samples: list[tuple[str, object]] = []
    for stage, stats in sorted(values["latency"].items()):
        for quantile, key in (("0.5", "p50_ns"), ("0.99", "p99_ns")):
            if stats.get(key) is not None:
                labels = f'{{stage="{_label(stage)}",quantile="{quantile}"}}'
                latency.append((labels, stats[key] / 1e9))
        samples.append((f'{{stage="{_label(stage)}"}}', stats.get("count", 0)))
    metric("exit_latency_seconds", "gauge", "Exit path latency quantiles.", latency)
    metric("exit_latency_samples_total", "counter", "Exit path latency samples.", samples)
    metric("pending_writes", "gauge", "Records waiting for the database.",
           [("", values["pending_writes"])])  # fmt: skip
    metric("flushes_total", "counter", "State flushes.", [("", values["flushes"])])
    metric("events_published_total", "counter", "Live events published.",
           [("", values["events_published"])])  # fmt: skip
    metric("event_subscribers", "gauge", "Live event subscribers.",
           [("", values["event_subscribers"])])  # fmt: skip
    monitor = health.get("monitor", {})
    metric("open_trades", "gauge", "Trades being guarded.", [("", monitor.get("trades", 0))])
    metric("strategies", "gauge", "Strategies.", [("", monitor.get("strategies", 0))])
    metric("exits_in_flight", "gauge", "Exits sent and not final.",
           [("", monitor.get("exits_in_flight", 0))])  # fmt: skip
    metric("degraded", "gauge", "1 when /health is degraded.",
           [("", int(health.get("status") != "ok"))])  # fmt: skip
    tasks = sorted(health.get("background", {}).get("tasks", {}).items())
    metric(
        "background_task_failures_total",
        "counter",
        "Failures of supervised background tasks (each one restarted unless degraded).",
        [(f'{{task="{_label(name)}"}}', task["failures"]) for name, task in tasks],
    )
    metric(
        "api_responses_total",
        "counter",
        "API and dashboard responses, by HTTP status.",
        [(f'{{code="{code}"}}', count) for code, count in sorted(responses.items())],
    )
    metric("api_rate_limited_total", "counter", "Requests refused by a rate limit.",
           [("", limited)])  # fmt: skip
    return "\n".join(out) + "\n"


@router.get("/docs", include_in_schema=False)
async def docs(request: Request) -> HTMLResponse:
    spec = request.app.openapi()
    rows = []
    for path, methods in spec.get("paths", {}).items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
            schema = body.get("schema")
            rows.append(
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td>"
                "<td><details><summary>schema</summary><pre>{}</pre></details></td></tr>".format(
                    method.upper(),
                    html.escape(path),
                    html.escape(operation.get("summary", "")),
                    html.escape(json.dumps(schema, indent=1)) if schema else "",
                )
            )
    page = (
        "<!doctype html><html><head><meta charset=utf-8><title>tradeguard API</title>"
        "<style>body{font:14px system-ui;margin:2em}td{border-bottom:1px solid #ddd;"
        "padding:4px 8px;vertical-align:top}pre{max-height:30em;overflow:auto}</style></head>"
        "<body><h1>tradeguard API</h1><p>Machine-readable description: "
        '<a href="/openapi.json">/openapi.json</a>. Guide: docs/api.md.</p>'
        "<table>" + "".join(rows) + "</table></body></html>"
    )
    return HTMLResponse(page)
