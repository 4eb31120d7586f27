"""ReconnectBackoff: the schedule steps up per failed attempt, an authenticated connection
resets it, except after a connection dropped as dead: then only a tick does."""

from __future__ import annotations

import pytest

from tradeguard.adapters.openalgo.feed_backoff import ReconnectBackoff


def backoff() -> ReconnectBackoff:
    return ReconnectBackoff((1.0, 2.0, 5.0), jitter=0.0)


def test_failed_attempts_step_up_and_a_connection_resets() -> None:
    b = backoff()
    assert [b.ended(heard=False, dropped_as_dead=False) for _ in range(4)] == [1, 2, 5, 5]
    b.authenticated()  # a connection that the server later closed
    assert b.ended(heard=False, dropped_as_dead=False) == 1.0


def test_after_a_dead_connection_only_a_tick_resets() -> None:
    b = backoff()
    assert b.ended(heard=True, dropped_as_dead=True) == 1.0  # it worked for a while
    b.authenticated()  # the next one authenticates but stays mute...
    assert b.ended(heard=False, dropped_as_dead=True) == 2.0  # ... so the delay grows
    b.authenticated()
    assert b.ended(heard=False, dropped_as_dead=True) == 5.0
    b.authenticated()
    assert b.ended(heard=True, dropped_as_dead=False) == 1.0  # it ticked: trusted again
    b.authenticated()
    assert b.ended(heard=False, dropped_as_dead=False) == 1.0


@pytest.mark.parametrize(("schedule", "jitter"), [((), 0.1), ((1.0, -1.0), 0.1), ((1.0,), 1.0)])
def test_a_bad_schedule_is_refused(schedule: tuple[float, ...], jitter: float) -> None:
    with pytest.raises(ValueError, match="backoff"):
        ReconnectBackoff(schedule, jitter)
