"""App layer: the audit-log view (who changed what): one page of an account's audit entries,
newest first, of one trade, one strategy (its own entries and its trades') or all."""

from __future__ import annotations

from typing import Any

from tradeguard.app.errors import InvalidRequest, StoreUnavailable
from tradeguard.app.ports import Store
from tradeguard.app.records import AuditQuery
from tradeguard.app.views import audit_view

MAX_PAGE = 500


async def audit_page(store: Store, query: AuditQuery) -> dict[str, Any]:
    """The page `query` asks for; `next_before` is the cursor of the next one (None: last)."""
    if not 1 <= query.limit <= MAX_PAGE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}")
    if query.before is not None and query.before < 1:
        raise InvalidRequest("before must be a positive entry id")
    try:
        entries = await store.audit_page(query)
    except Exception as error:
        raise StoreUnavailable(f"the audit log cannot be read now ({error})") from None
    full = len(entries) == query.limit
    return {
        "entries": [audit_view(e, query.account) for e in entries],
        "next_before": entries[-1].id if entries and full else None,
    }
