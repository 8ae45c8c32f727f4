"""The drop-in in real processes: events queued at exit are sent; a forked child never re-sends."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from aiohttp import web

from analytics_async.testing import SegmentSink

from .helpers import finish

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).parent / "apps" / "sync_script.py"


async def run_script(sink: SegmentSink, scenario: str, *args: str, host: str = "127.0.0.1") -> bytes:
    """Run the sync script to completion against the sink (reached by `host`); return its stderr.

    (The script writes nothing to stdout: its stderr is read through the stdout pipe.)
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), sink.url.replace("127.0.0.1", host), scenario, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    stderr = await finish(process, 60)
    assert process.returncode == 0, stderr.decode()
    return stderr


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_events_queued_at_exit_are_sent(sink: SegmentSink, host: str) -> None:
    """A script that never flushes: the exit hook sends its three events before the process ends.

    By host name too: at exit the executors refuse work, and the name is resolved inline.
    """
    stderr = await run_script(sink, "exit", host=host)
    assert sorted(e["event"] for e in sink.events) == ["parent0", "parent1", "parent2"]
    assert b"Traceback" not in stderr
    assert b"failed" not in stderr


async def test_a_burst_from_eight_threads_arrives_whole(sink: SegmentSink) -> None:
    """8 threads x 5,000 calls at the defaults (4x the queue), exit without flush: 40,000 of 40,000.

    Counted at the sink, once each. Threads that outrun the loop are held back instead of filling
    the queue (29,000 of 40,000 were dropped before); no call returned False.
    """
    stderr = await run_script(sink, "burst")
    ids = [e["messageId"] for e in sink.events]
    assert len(ids) == len(set(ids)) == 40_000
    assert b"refused 0" in stderr
    assert b"Traceback" not in stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
async def test_a_forked_child_never_resends(sink: SegmentSink) -> None:
    """Three events queued, then fork: the child sends only its own; the parent its three; once each."""
    stderr = await run_script(sink, "fork")
    assert sorted(e["event"] for e in sink.events) == ["child", "parent0", "parent1", "parent2"]
    assert b"Traceback" not in stderr


async def test_the_next_process_sends_what_a_shutdown_deadline_kept(
    sink: SegmentSink, tmp_path: Path
) -> None:
    """A script whose shutdown runs out of time keeps its events; the next run sends them, same ids."""

    async def hang(request: web.Request, n: int) -> None:
        await sink.hang()

    spool = str(tmp_path / "segment-spool.db")
    sink.responder = hang
    stderr = await run_script(sink, "spool", spool)
    assert b"3 events failed: SpooledError" in stderr
    sink.responder = None
    await run_script(sink, "next", spool)
    assert sorted(e["event"] for e in sink.events) == ["next", "parent0", "parent1", "parent2"]
