"""Tests of the browser tests' set-up: when chromium is missing and apt-get cannot install it,
the reason is reported in one clear message (never a traceback from deep inside apt)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.conftest import install_chromium


def test_no_apt_get_is_reported_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without apt-get
    assert install_chromium() == "apt-get is not available on this machine"


def test_a_failing_apt_get_is_reported_with_its_exit_status_and_last_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "apt-get"
    fake.write_text("#!/bin/sh\necho 'E: Could not resolve the package mirror' >&2\nexit 100\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    problem = install_chromium()
    if os.geteuid() != 0:
        assert problem == "installing it needs root (apt-get)"
        return
    assert problem is not None
    assert "apt-get -o DPkg::Lock::Timeout=300 update` exited 100" in problem
    assert "E: Could not resolve the package mirror" in problem
