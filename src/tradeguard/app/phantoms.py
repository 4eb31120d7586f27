"""App layer: the lockout of usernames that do not exist, simulated so that an unknown name
answers exactly like a real one (wrong password, then "locked" after the same number of
failures, for the same time). Pure bookkeeping in memory: bounded (oldest forgotten first),
never stored, since nothing real is protected by it."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class PhantomState:
    """One unknown username's failures and lock, as a real user's row would hold them."""

    failures: int = 0
    locked_until: int | None = None


class PhantomLockouts:
    def __init__(self, max_failures: int, lockout_ns: int, max_names: int = 10_000) -> None:
        self.max_failures = max_failures
        self.lockout_ns = lockout_ns
        self.max_names = max_names
        self._names: OrderedDict[str, PhantomState] = OrderedDict()

    def locked(self, username: str, now: int) -> bool:
        state = self._names.get(username)
        return state is not None and state.locked_until is not None and now < state.locked_until

    def fail(self, username: str, now: int) -> bool:
        """Count one failure; True when it locks the name (the caller answers "locked")."""
        state = self._names.pop(username, None) or PhantomState()
        self._names[username] = state
        if len(self._names) > self.max_names:
            self._names.popitem(last=False)
        if state.locked_until is not None and now < state.locked_until:
            return True
        state.failures += 1
        if state.failures >= self.max_failures:
            state.failures = 0
            state.locked_until = now + self.lockout_ns
            return True
        state.locked_until = None
        return False
