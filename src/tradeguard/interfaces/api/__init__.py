"""Interfaces layer: the REST API and the dashboard's HTTP side, as one ASGI app
(`build_app`). See docs/api.md."""

from __future__ import annotations

from tradeguard.interfaces.api.app import build_app
from tradeguard.interfaces.api.context import ApiOptions

__all__ = ["ApiOptions", "build_app"]
