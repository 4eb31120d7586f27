"""Interfaces layer (dashboard): login, logout, CSRF and the pages.

- `GET /auth/csrf` -> `{"csrf_token": ...}` and sets the `tg_csrf` cookie. Before login it is
  a random double-submit token (a POST sends the cookie's value as form field `csrf_token`
  or header `X-CSRF-Token`); with a session it is the token bound to that session (a keyed
  digest of the session token), the only one its POSTs, logout included, are accepted with.
- `POST /auth/login` (form: username, password, csrf_token) -> 303 to `/` with the HttpOnly,
  SameSite=Strict `tg_session` cookie (Secure over https, or behind a trusted proxy that says
  X-Forwarded-Proto: https) and the session-bound `tg_csrf`; failures -> 303 to
  `/login?error=1` (wrong name or password), `?error=locked` (locked out or too many
  attempts from this address), `?error=csrf` (missing or wrong CSRF token).
- `POST /auth/logout` (CSRF token required: 403 otherwise) -> ends the session, clears the
  cookies, 303 to `/login`.
- `GET /` -> static/index.html when logged in, else 303 to `/login`; `GET /login` ->
  static/login.html; `/static/*` -> the static files.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from tradeguard.app.accounts import Session
from tradeguard.app.errors import LockedOut, Unauthorized
from tradeguard.interfaces.api.context import client_ip, ctx
from tradeguard.interfaces.api.envelope import ApiError
from tradeguard.interfaces.api.proxies import is_https

log = logging.getLogger("tradeguard.web")

SESSION_COOKIE = "tg_session"
CSRF_COOKIE = "tg_csrf"
CSRF_HEADER = "x-csrf-token"
_MAX_FORM = 8 * 1024


def session_of(request: Request) -> Session | None:
    return ctx(request).accounts.session(request.cookies.get(SESSION_COOKIE))


def require_session(request: Request) -> Session:
    session = session_of(request)
    if session is None:
        raise ApiError(401, "not logged in")
    return session


def csrf_ok(request: Request, sent: str | None) -> bool:
    """With a live session the token must be the one bound to it (the cookie alone proves
    nothing: a sibling subdomain or a man in the middle of plain http can set cookies);
    before login, the double-submit pair (cookie == sent)."""
    if not sent:
        return False
    bound = ctx(request).accounts.csrf_token(request.cookies.get(SESSION_COOKIE))
    expected = bound if bound is not None else request.cookies.get(CSRF_COOKIE)
    if not expected:
        return False
    return hmac.compare_digest(expected.encode(), sent.encode())


def require_csrf(request: Request) -> None:
    if not csrf_ok(request, request.headers.get(CSRF_HEADER)):
        raise ApiError(403, "CSRF token missing or wrong: reload the page")


def _secure(request: Request) -> bool:
    return is_https(request, ctx(request).options.trusted_proxies)


def _csrf_for(request: Request) -> str:
    """The session's bound token, else the browser's pre-login one (or a new random one)."""
    bound = ctx(request).accounts.csrf_token(request.cookies.get(SESSION_COOKIE))
    token = bound or request.cookies.get(CSRF_COOKIE) or ""
    if not (40 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()):
        token = secrets.token_urlsafe(32)
    return token


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded (or JSON) form body as a dict of the first value of each field."""
    body = await request.body()
    if len(body) > _MAX_FORM:
        return {}
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, str)}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[0] for key, values in fields.items() if values}


def build_router(static_dir: Path) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/auth/csrf")
    async def csrf(request: Request) -> JSONResponse:
        token = _csrf_for(request)
        response = JSONResponse({"csrf_token": token}, headers={"Cache-Control": "no-store"})
        response.set_cookie(
            CSRF_COOKIE, token, samesite="strict", secure=_secure(request), path="/"
        )
        return response

    @router.post("/auth/login")
    async def login(request: Request) -> Response:
        context = ctx(request)
        if context.login_limits.take(client_ip(request)):
            return _redirect("/login?error=locked")
        form = await _form(request)
        if not csrf_ok(request, form.get("csrf_token")):
            return _redirect("/login?error=csrf")
        try:
            token = await context.accounts.login(form.get("username", ""), form.get("password", ""))
        except LockedOut:
            return _redirect("/login?error=locked")
        except Unauthorized:
            log.info("dashboard login failed from %s", client_ip(request))
            return _redirect("/login?error=1")
        response = _redirect("/")
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=_secure(request),
            path="/",
            max_age=int(context.accounts.session_ns // 1_000_000_000),
        )
        bound = context.accounts.csrf_token(token) or ""
        response.set_cookie(
            CSRF_COOKIE, bound, samesite="strict", secure=_secure(request), path="/"
        )
        return response

    @router.post("/auth/logout")
    async def logout(request: Request) -> Response:
        sent = request.headers.get(CSRF_HEADER) or (await _form(request)).get("csrf_token")
        if not csrf_ok(request, sent):
            raise ApiError(403, "CSRF token missing or wrong: reload the page")
        await ctx(request).accounts.logout(request.cookies.get(SESSION_COOKIE))
        response = _redirect("/login")
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        response.delete_cookie(CSRF_COOKIE, path="/", samesite="strict")
        return response

    @router.get("/")
    async def index(request: Request) -> Response:
        if session_of(request) is None:
            return _redirect("/login")
        return FileResponse(static_dir / "index.html", headers={"Cache-Control": "no-store"})

    @router.get("/login")
    async def login_page(request: Request) -> Response:
        return FileResponse(static_dir / "login.html", headers={"Cache-Control": "no-store"})

    return router
