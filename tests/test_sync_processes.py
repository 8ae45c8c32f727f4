"""The drop-in in real processes: events queued at exit are sent; a forked child never re-sends."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from analytics_async.testing import SegmentSink

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).parent / "apps" / "sync_script.py"


async def run_script(sink: SegmentSink, scenario: str) -> bytes:
    """Run the sync script to completion against the sink; return its stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), sink.url, scenario,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    return stderr


async def test_events_queued_at_exit_are_sent(sink: SegmentSink) -> None:
    """A script that never flushes: the exit hook sends its three events before the process ends."""
    stderr = await run_script(sink, "exit")
    assert sorted(e["event"] for e in sink.events) == ["parent0", "parent1", "parent2"]
    assert b"Traceback" not in stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
async def test_a_forked_child_never_resends(sink: SegmentSink) -> None:
    """Three events queued, then fork: the child sends only its own; the parent its three; once each."""
    stderr = await run_script(sink, "fork")
    assert sorted(e["event"] for e in sink.events) == ["child", "parent0", "parent1", "parent2"]
    assert b"Traceback" not in stderr
