"""The drop-in under real WSGI servers: gunicorn (sync, gthread, gevent) and uWSGI, counted at a sink.

Each server runs two workers of tests/apps/dropin_wsgi.py (one event per request, never flushed) and
serves 40 requests and a readiness probe, then is stopped by SIGTERM: 41 events, each messageId once.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import socket
import sys
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from analytics_async.testing import SegmentSink

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")]

APPS = Path(__file__).parent / "apps"
UWSGI = Path(sys.executable).parent / "uwsgi"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def serve_40_requests(argv: list[str], port: int, env: dict[str, str]) -> bytes:
    """Start the server, wait until it answers, make 40 requests, stop it by SIGTERM; its output."""
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
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

            assert await asyncio.gather(*(call(i) for i in range(40))) == [200] * 40
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 30)
    return output


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
    output = await serve_40_requests(argv, port, {**os.environ, "SINK_URL": sink.url})
    names = Counter(e["event"] for e in sink.events)
    assert names["request"] == 41, output.decode()
    ids = [e["messageId"] for e in sink.events]
    assert len(ids) == len(set(ids)), "a messageId was sent twice"
    text = output.decode()
    # uWSGI may interrupt a worker it is spawning as it stops (KeyboardInterrupt in the app's import)
    assert "Traceback" not in text or "KeyboardInterrupt" in text, text
    assert "failed" not in text.replace("failed loading app", ""), text
