"""The demo a newcomer runs works end to end."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_demo_command_runs() -> None:
    """`python -m analytics_async demo` sends every event exactly once to its local server."""
    result = subprocess.run(
        [sys.executable, "-m", "analytics_async", "demo", "--users", "5"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (
        "Events received by type: alias=5, group=5, identify=5, page=5, screen=5, track=15" in result.stdout
    )
    assert "OK: every event arrived exactly once." in result.stdout
    assert "demo-write-key" not in result.stdout


def test_version_flag() -> None:
    """`--version` prints the version."""
    result = subprocess.run(
        [sys.executable, "-m", "analytics_async", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("analytics-async ")
