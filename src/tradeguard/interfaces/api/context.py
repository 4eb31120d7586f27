"""Interfaces layer (API): what every handler reaches through `request.app.state.ctx`: the
two app facades (trades, accounts), the rate limiters (per client IP before authentication,
per account after) and request counters; and the apikey and client-IP checks the REST routes
share."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request

from tradeguard.app.accounts import AccountService
from tradeguard.app.errors import Unauthorized
from tradeguard.app.service import TradeService
from tradeguard.interfaces.api.envelope import ApiError
from tradeguard.interfaces.api.proxies import Network, client_address
from tradeguard.interfaces.api.ratelimit import TokenBuckets

log = logging.getLogger("tradeguard.api")


@dataclass(frozen=True, slots=True)
class ApiOptions:
    rate: float = 20.0  # requests per second, per apikey and per client IP
    burst: int = 40
    login_rate: float = 1.0  # login attempts per second per client IP
    login_burst: int = 10
    auth_rate: float = 1.0  # key checks (argon2) per second per client IP, for keys not yet
    auth_burst: int = 10  # verified in this process: a wrong key costs one, then 429
    static_dir: Path | None = None  # the dashboard's static files (None: interfaces.web's)
    stream_interval: float = 0.25  # at most one pushed update per trade per interval
    # reverse proxies whose X-Forwarded-Proto/-For are believed (TRADEGUARD_TRUSTED_PROXIES)
    trusted_proxies: tuple[Network, ...] = ()


@dataclass(slots=True)
class ApiContext:
    service: TradeService
    accounts: AccountService
    options: ApiOptions
    ip_limits: TokenBuckets
    key_limits: TokenBuckets
    login_limits: TokenBuckets
    auth_limits: TokenBuckets
    responses: Counter[int] = field(default_factory=Counter)

    @classmethod
    def build(
        cls, service: TradeService, accounts: AccountService, options: ApiOptions
    ) -> ApiContext:
        return cls(
            service,
            accounts,
            options,
            TokenBuckets(options.rate, options.burst),
            TokenBuckets(options.rate, options.burst),
            TokenBuckets(options.login_rate, options.login_burst),
            TokenBuckets(options.auth_rate, options.auth_burst),
        )


def ctx(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.ctx
    return context


def client_ip(request: Request) -> str:
    return client_address(request, ctx(request).options.trusted_proxies)


def limited(buckets: TokenBuckets, key: str) -> None:
    wait = buckets.take(key)
    if wait:
        raise ApiError(
            429,
            "Rate limit exceeded. Please slow down your requests.",
            {"Retry-After": TokenBuckets.retry_after(wait)},
        )


async def per_ip_limit(request: Request) -> None:
    """Router dependency: the per-client-IP bucket of the REST API."""
    limited(ctx(request).ip_limits, client_ip(request))


async def account_of(request: Request, apikey: str) -> str:
    """The account of a request's apikey; 403 otherwise, as OpenAlgo answers an unknown key.
    Before authentication only the client's budgets apply (the per-IP bucket of the router,
    and here one token of the client's key-check budget for a key not yet verified, so wrong
    keys cost at most that many argon2 checks); the per-key bucket is the account's and is
    taken only once the key is proven, so nobody else can use it up. Neither the log nor the
    reply repeats the key."""
    context = ctx(request)
    account = context.accounts.verified_account(apikey)
    if account is None:
        limited(context.auth_limits, client_ip(request))
        try:
            account = await context.accounts.authenticate(apikey)
        except Unauthorized:
            log.warning("API request with an invalid apikey from %s", client_ip(request))
            raise ApiError(403, "Invalid apikey") from None
    limited(context.key_limits, account)
    return account
