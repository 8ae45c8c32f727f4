"""Fork safety: a forked child starts empty and never re-sends its parent's events."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from analytics_async.testing import SegmentSink

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork"),
]

APPS = Path(__file__).parent / "apps"


def test_forked_child_starts_empty_and_the_parent_keeps_its_events() -> None:
    """After os.fork() with 3 events queued, the child sends only its own; the parent sends its 3."""
    result = subprocess.run(
        [sys.executable, str(APPS / "fork_events.py")], capture_output=True, text=True, timeout=60, check=True
    )
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert sorted(outcome["events"]) == ["child", "parent0", "parent1", "parent2"]
    assert outcome["child"] == {"accepted_at_start": 0, "delivered": 1}
    assert outcome["child_exit"] == 0
    assert "Task was destroyed" not in result.stderr
    assert "Unclosed" not in result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_gunicorn_preload_workers_never_resend_the_masters_events(sink: SegmentSink) -> None:
    """Two gunicorn --preload workers serve 40 requests: 40 events, each once, none of the master's."""
    pytest.importorskip("gunicorn")
    port = _free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gunicorn", "--preload", "--workers", "2", "--bind", f"127.0.0.1:{port}",
        "--chdir", str(APPS), "preload_wsgi:app",
        env={**os.environ, "SINK_URL": sink.url},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as session:
            async with asyncio.timeout(30):
                while True:
                    try:
                        async with session.get(f"http://127.0.0.1:{port}/ready") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientConnectionError:
                        await asyncio.sleep(0.05)

            async def call(i: int) -> int:
                async with session.get(f"http://127.0.0.1:{port}/r{i}") as response:
                    return response.status

            statuses = await asyncio.gather(*(call(i) for i in range(40)))
        assert statuses == [200] * 40
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    names = Counter(e["event"] for e in sink.events)
    assert names == {"request": 41}  # 40 calls and the readiness probe
    ids = [e["messageId"] for e in sink.events]
    assert len(ids) == len(set(ids))
    assert b"Task was destroyed" not in stderr
