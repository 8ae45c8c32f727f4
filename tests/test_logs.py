"""Failures tell why: one WARNING per failure (rate-limited, with counts), root causes in timeouts."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp import web

from analytics_async import Analytics, FlushTimeoutError
from analytics_async.testing import FakeClock, SegmentSink

from .conftest import MakeAnalytics
from .helpers import drive, statuses


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "analytics_async"
    ]


async def test_a_failed_batch_is_logged_once_with_count_and_reason(
    make_analytics: MakeAnalytics, sink: SegmentSink, caplog: pytest.LogCaptureFixture
) -> None:
    """A 400 for a batch of 3 makes exactly one WARNING: how many, and why."""
    sink.responder = statuses(400)
    analytics = make_analytics(flush_at=3)
    for _ in range(3):
        await analytics.track(event="E", user_id="u")
    await analytics.flush()
    assert warnings_of(caplog) == ["analytics_async: 3 events failed: HTTPStatusError: [400] Bad Request"]


async def test_a_burst_of_drops_is_one_line_then_counted(
    sink: SegmentSink, caplog: pytest.LogCaptureFixture
) -> None:
    """100 QueueFullError drops within a few ms: one WARNING now, the rest counted and told at close."""

    async def held(request: web.Request, n: int) -> None:
        await sink.hang()

    sink.responder = held
    analytics = Analytics(write_key="k", host=sink.url, max_queue_size=1, flush_at=1, max_in_flight=1)
    for _ in range(100):
        await analytics.track(event="E", user_id="u", properties={"pad": "x" * 30_000})
    dropped = analytics.stats().dropped["QueueFullError"]
    assert dropped > 50
    lines = [line for line in warnings_of(caplog) if "dropped" in line]
    assert lines == ["analytics_async: 1 event was dropped: QueueFullError: max_queue_size=1 reached"]
    await analytics.flush(close=True, timeout=0)
    stats = analytics.stats()
    told = stats.dropped["QueueFullError"] - 1 + sum(stats.failed.values())  # all but the first line's
    assert warnings_of(caplog)[-1] == (
        f"analytics_async: at close: {told} more events failed or were dropped (counted by reason in"
        " stats()) since the last message"
    )


async def test_an_offline_client_says_why_in_logs_and_in_the_timeout_reason(
    caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    """Nothing listens: a retry WARNING names the refused connection, and so does FlushTimeoutError."""
    analytics = Analytics(write_key="k", host="http://127.0.0.1:9", clock=clock)
    ctx = await analytics.track(event="E", user_id="u")
    closing = asyncio.ensure_future(analytics.flush(close=True, timeout=30))
    await drive(clock, closing, step=1)
    reason = ctx.failed_delivery().reason  # type: ignore[union-attr]
    assert isinstance(reason, FlushTimeoutError)
    assert "the last attempt failed: " in str(reason)
    assert "onnect" in str(reason)  # ClientConnectorError: Cannot connect to host ... Connection refused
    retries = [line for line in warnings_of(caplog) if "retry 1 of 10" in line]
    assert len(retries) == 1
    assert "onnect" in retries[0]
