"""The example services under real servers: 1,000 requests, then SIGTERM, and exactly 1,000 events."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from analytics_async.testing import SegmentSink

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).parent.parent / "examples"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def wait_healthy(session: aiohttp.ClientSession, url: str, process: asyncio.subprocess.Process) -> None:
    """Poll the service's health endpoint until it answers (bounded)."""
    async with asyncio.timeout(30):
        while True:
            assert process.returncode is None, "the service exited early"
            try:
                async with session.get(f"{url}/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)


async def run_service(command: list[str], sink: SegmentSink, requests: int = 1000) -> None:
    """Start the service, POST `requests` orders from 20 concurrent clients, then SIGTERM it."""
    port = free_port()
    env = {**os.environ, "SEGMENT_HOST": sink.url, "SEGMENT_WRITE_KEY": "example-key"}
    process = await asyncio.create_subprocess_exec(
        *[part.replace("{port}", str(port)) for part in command],
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, url, process)
            slots = asyncio.Semaphore(20)

            async def order(n: int) -> None:
                async with slots, session.post(f"{url}/orders/user-{n}") as response:
                    assert response.status == 200

            await asyncio.gather(*(order(n) for n in range(requests)))
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            _, stderr = await process.communicate()
        # uvicorn re-raises the signal after its graceful shutdown; aiohttp exits 0.
        assert process.returncode in (0, -signal.SIGTERM), stderr.decode()[-2000:]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_fastapi_under_uvicorn_loses_nothing_on_sigterm(sink: SegmentSink) -> None:
    """FastAPI + uvicorn: 1,000 tracked requests, SIGTERM, exactly 1,000 distinct events arrive."""
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    await run_service(
        [sys.executable, "-m", "uvicorn", "fastapi_app:app", "--app-dir", str(EXAMPLES), "--port", "{port}",
         "--log-level", "warning"],
        sink,
    )  # fmt: skip
    ids = [e["messageId"] for e in sink.events]
    assert len(ids) == len(set(ids)) == 1000
    assert {e["userId"] for e in sink.events} == {f"user-{n}" for n in range(1000)}


async def test_aiohttp_app_loses_nothing_on_sigterm(sink: SegmentSink) -> None:
    """aiohttp web: 1,000 tracked requests, SIGTERM, exactly 1,000 distinct events arrive."""
    await run_service([sys.executable, str(EXAMPLES / "aiohttp_app.py"), "--port", "{port}"], sink)
    ids = [e["messageId"] for e in sink.events]
    assert len(ids) == len(set(ids)) == 1000
    assert {e["userId"] for e in sink.events} == {f"user-{n}" for n in range(1000)}
