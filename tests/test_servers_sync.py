"""The drop-in under real WSGI servers: gunicorn (sync, gthread, gevent) and uWSGI, counted at a sink.

Each server runs two workers of tests/apps/dropin_wsgi.py (one event per request, never flushed) and
serves 40 requests and a readiness probe, then is stopped by SIGTERM: 41 events, each messageId once.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections import Counter
from pathlib import Path

import pytest

from analytics_async.testing import SegmentSink

from .helpers import free_port, serve_40_requests

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")]

APPS = Path(__file__).parent / "apps"
UWSGI = Path(sys.executable).parent / "uwsgi"


@pytest.mark.parametrize("worker", ["sync", "gthread", "gevent"])
async def test_gunicorn_workers_deliver_every_event_once(sink: SegmentSink, worker: str) -> None:
    """gunicorn -k sync, gthread (4 threads) and gevent (monkey-patched): 41 of 41 events, once each."""
    pytest.importorskip("gunicorn")
    if worker == "gevent" and importlib.util.find_spec("gevent") is None:
        pytest.skip("gevent is not installed (the examples extra)")
    port = free_port()
    threads = ["--threads", "4"] if worker == "gthread" else []
    argv = [sys.executable, "-m", "gunicorn", "-k", worker, *threads, "--workers", "2",
            "--bind", f"127.0.0.1:{port}", "--chdir", str(APPS), "dropin_wsgi:app"]  # fmt: skip
    output = await serve_40_requests(argv, port, {**os.environ, "SINK_URL": sink.url})
    assert Counter(e["event"] for e in sink.events) == {"request": 41}, output.decode()
    assert len({e["messageId"] for e in sink.events}) == 41
    assert b"Traceback" not in output


@pytest.mark.parametrize(
    "options", [[], ["--enable-threads"], ["--lazy-apps"], ["--enable-threads", "--lazy-apps"]]
)
async def test_uwsgi_workers_deliver_every_event_once(sink: SegmentSink, options: list[str]) -> None:
    """uWSGI, threads on or off, the app loaded in the master or in each worker: every messageId once.

    uWSGI forks in C, without Python's at-fork hooks: before the library hooked uWSGI's own, the
    workers shared the master's message-id sequence and sent the same messageIds (21 distinct of 41).
    """
    if not UWSGI.exists():
        pytest.skip("uwsgi is not installed (the examples extra)")
    port = free_port()
    argv = [str(UWSGI), "--http", f"127.0.0.1:{port}", "--chdir", str(APPS), "--module", "dropin_wsgi:app",
            "--processes", "2", "--master", "--die-on-term", "--need-app", *options]  # fmt: skip
    # The pause: uWSGI skips Python's exit hooks in a worker that is still busy with a request when
    # it is stopped (plugins/python/python_plugin.c: "if busy do not run atexit hooks"); a worker
    # finishing its answer as the SIGTERM came lost its events (1 run in 6). Idle workers are tested
    # here; docs/shutdown.md says what a busy one loses.
    output = await serve_40_requests(argv, port, {**os.environ, "SINK_URL": sink.url}, settle=0.3)
    names = Counter(e["event"] for e in sink.events)
    assert names["request"] == 41, output.decode()
    ids = [e["messageId"] for e in sink.events]
    assert len(ids) == len(set(ids)), "a messageId was sent twice"
    # Not "no Traceback": as it stops, uWSGI may interrupt a --lazy-apps worker it is still spawning
    # (KeyboardInterrupt in the app's import). The library itself must have logged nothing.
    assert b"analytics_async:" not in output, output.decode()
