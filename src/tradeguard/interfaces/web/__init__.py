"""Interfaces layer: the dashboard's static pages and assets (served by interfaces.api).

`static/app.css` is built at dev time from `tailwind/` (Tailwind v3 + DaisyUI v4) and committed;
nothing is fetched from the internet at run time.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"

__all__ = ["STATIC_DIR"]
