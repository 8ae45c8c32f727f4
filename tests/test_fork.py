"""Fork safety: a forked child starts empty and never re-sends its parent's events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from analytics_async.testing import SegmentSink

from .helpers import free_port, serve_40_requests

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


async def test_gunicorn_preload_workers_never_resend_the_masters_events(sink: SegmentSink) -> None:
    """Two gunicorn --preload workers serve 40 requests: 40 events, each once, none of the master's."""
    pytest.importorskip("gunicorn")
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "--preload", "--workers", "2", "--bind", f"127.0.0.1:{port}",
            "--chdir", str(APPS), "preload_wsgi:app"]  # fmt: skip
    output = await serve_40_requests(argv, port, {**os.environ, "SINK_URL": sink.url})
    names = Counter(e["event"] for e in sink.events)
    assert names == {"request": 41}  # 40 calls and the readiness probe
    ids = [e["messageId"] for e in sink.events]
    assert len(ids) == len(set(ids))
    assert b"Task was destroyed" not in output
