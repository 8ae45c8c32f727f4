"""The short soak (benchmarks/soak.py): 100,000 events through scripted outages, counted at the sink."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_the_short_soak_leaves_nothing_unaccounted() -> None:
    """About 20 s: 503s, resets, a 429 storm, a hanging server, lost responses, then a 10 s close.

    Every event delivered once or failed with a reason; duplicates only from the lost responses
    (same messageId); RSS, fds and tasks bounded; the closing deadline met (soak.check()).
    """
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak", "--events", "100000", "--burst", "10000"],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    totals = json.loads(result.stdout[result.stdout.index("{\n") :])
    assert totals["unaccounted"] == 0
    assert totals["accepted"] == 100_000
    assert totals["unique_at_sink"] == totals["delivered"]
    assert totals["duplicates"] <= totals["lost_responses"]
    assert totals["lost_responses"] > 0  # the lost-response phase was reached
    assert set(totals["failed"]) | set(totals["dropped"]) <= {"QueueFullError", "FlushTimeoutError"}
