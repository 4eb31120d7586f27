"""App layer: the errors the service facade raises. Interfaces map them to HTTP codes."""

from __future__ import annotations


class ServiceError(Exception):
    """Base: a request the service refused. The message is safe to show to the caller."""

    http_status = 400


class InvalidRequest(ServiceError):
    """Bad input (wrong value, rule on the wrong side, unknown setting): 400."""


class NotFound(ServiceError):
    """No such trade, strategy or order visible to this account: 404."""

    http_status = 404


class Conflict(ServiceError):
    """The request does not fit the current state (already exiting, HALTED, limits): 409."""

    http_status = 409


class DuplicateEntry(Conflict):
    """createtrade for an entry order a trade already guards (or is being created for): 409
    with the existing trade's id (`data`)."""

    def __init__(self, message: str, trade_id: str) -> None:
        super().__init__(message)
        self.data = {"trade_id": trade_id}


class Unauthorized(ServiceError):
    """Missing or wrong credentials: 401 (the API uses 403 for a wrong apikey, as OpenAlgo)."""

    http_status = 401


class LockedOut(Unauthorized):
    """Too many failed logins: the user is locked out for a while: 429."""

    http_status = 429


class NotStored(ServiceError):
    """Neither the database nor the journal could take the change, so nothing changed: 503."""

    http_status = 503


class StoreUnavailable(ServiceError):
    """The database cannot answer a read now: 503."""

    http_status = 503


class BrokerUnavailable(ServiceError):
    """The broker (OpenAlgo) could not answer, or its session is down: 503."""

    http_status = 503
