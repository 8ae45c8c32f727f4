"""The local sink agrees with the library byte for byte and runs on any event loop."""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any

import pytest

from analytics_async import Analytics, EventTooLargeError
from analytics_async.testing import SegmentSink, idle

from .conftest import MakeAnalytics
from .helpers import eventually

LIMIT = 32 * 1024
STAMP = "2026-01-01T00:00:00.000Z"
# Floats that orjson and the stdlib json module write with different lengths (1e16 vs 1e+16).
FLOATS = [1e16, 1e-7, 0.1 + 0.2, -0.0, 1e308, 5e-324, 123456789.123]


async def _exactly_at_the_limit(analytics: Analytics, properties: dict[str, Any]) -> dict[str, Any]:
    """Pad `properties` so that the event is exactly 32,768 bytes by the library's own measure."""
    padded = {**properties, "pad": "x" * 40_000}
    with pytest.raises(EventTooLargeError) as info:
        await analytics.track(event="E", user_id="u", message_id="m-1", timestamp=STAMP, properties=padded)
    padded["pad"] = "x" * (40_000 - (info.value.size - LIMIT))
    return padded


@pytest.mark.parametrize(
    "properties",
    [
        {"floats": FLOATS * 300},
        {"text": 'é中😀\u2028\x01"\\' * 200, "floats": FLOATS * 50},
        {"big": 10**40, "nested": [{"f": f} for f in FLOATS * 40]},
    ],
    ids=["floats", "unicode and escapes", "big int and nesting"],
)
async def test_an_event_the_library_accepts_the_sink_accepts(
    make_analytics: MakeAnalytics, sink: SegmentSink, properties: dict[str, Any]
) -> None:
    """An event exactly at the 32 KB limit by the library's measure is exactly at it for the sink too."""
    analytics = make_analytics()
    padded = await _exactly_at_the_limit(analytics, properties)
    ctx = await analytics.track(event="E", user_id="u", message_id="m-1", timestamp=STAMP, properties=padded)
    await analytics.flush()
    assert sink.rejections == []
    assert await ctx.delivered(timeout=0) is True
    assert len(sink.events) == 1


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed")
def test_sink_and_client_run_on_uvloop() -> None:
    """SegmentSink starts, records and stops under uvloop, with the client sending through it."""
    import uvloop  # noqa: PLC0415 - optional test dependency

    async def scenario() -> list[str]:
        async with SegmentSink() as sink:
            analytics = Analytics(write_key="k", host=sink.url, flush_at=2)
            for i in range(5):
                await analytics.track(event=f"E{i}", user_id="u")
            await analytics.flush(close=True, timeout=5)
            return [e["event"] for e in sink.events]

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(scenario()) == [f"E{i}" for i in range(5)]


async def test_a_client_leaving_mid_body_is_not_an_error(
    sink: SegmentSink, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that drops the connection before its body arrived (a cancelled send) logs nothing."""
    released = asyncio.Event()

    async def after_the_client_left(request: object, n: int) -> None:
        await released.wait()

    sink.responder = after_the_client_left
    port = int(sink.url.rsplit(":", 1)[1].split("/")[0])
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
    await writer.drain()
    await eventually(lambda: sink.requests == 1)
    writer.close()
    await writer.wait_closed()
    released.set()
    await idle()
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
