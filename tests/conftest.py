"""Settings for every suite: hypothesis never fails a test because the machine is slow.

Its deadline (200 ms per example) and its too-slow health check (data generation) measure
wall-clock time, which a machine busy with other work stretches; they are off, so a property
fails only when the property does."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile("tradeguard", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("tradeguard")
