"""Interfaces layer (API): what a request says about its client when it came through a
trusted TLS-terminating reverse proxy (TRADEGUARD_TRUSTED_PROXIES, parsed and checked by
tradeguard.config.trusted_networks): `X-Forwarded-Proto` and `X-Forwarded-For` are believed
only from a peer address in one of those networks, never from anyone else (who could
otherwise claim https, or another client's address)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from fastapi import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _trusted(host: str | None, trusted: Sequence[Network]) -> bool:
    if not host or not trusted:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in trusted)


def peer_is_trusted(request: Request, trusted: Sequence[Network]) -> bool:
    return _trusted(request.client.host if request.client else None, trusted)


def is_https(request: Request, trusted: Sequence[Network]) -> bool:
    """The browser's connection is TLS: our own scheme, or a trusted proxy's
    X-Forwarded-Proto (its last value: the one the nearest proxy set)."""
    if request.url.scheme in ("https", "wss"):
        return True
    if not peer_is_trusted(request, trusted):
        return False
    forwarded = request.headers.get("x-forwarded-proto", "")
    last = forwarded.split(",")[-1].strip().lower()
    return last in ("https", "wss")


def client_address(request: Request, trusted: Sequence[Network]) -> str:
    """The client's IP: the peer, or behind trusted proxies the right-most X-Forwarded-For
    address that is not itself a trusted proxy."""
    peer = request.client.host if request.client else "unknown"
    if not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage from the proxy: count it against the proxy itself
    return peer
