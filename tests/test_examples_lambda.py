"""The Lambda example: 50 invocations, each in its own asyncio.run, in both instance patterns."""

from __future__ import annotations

import logging
import time
from types import ModuleType

import pytest
from aiohttp import web

from analytics_async.testing import SegmentSink

from .test_examples import load


class LambdaContext:
    """The part of AWS Lambda's context object the decorator reads."""

    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left."""
        return self.remaining_ms


@pytest.fixture
def example(threaded_sink: SegmentSink, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """examples/lambda_handler.py imported fresh, pointed at the sink."""
    monkeypatch.setenv("SEGMENT_HOST", threaded_sink.url)
    return load("lambda_handler")


def test_module_level_instance_across_50_invocations(example: ModuleType, threaded_sink: SegmentSink) -> None:
    """One instance reused by 50 invocations (50 event loops): every event arrives before each returns."""
    for n in range(50):
        assert example.handler({"user_id": f"u{n}"}, LambdaContext(30_000)) == {"statusCode": 200}
        assert len(threaded_sink.events) == n + 1
    assert sorted(e["userId"] for e in threaded_sink.events) == sorted(f"u{n}" for n in range(50))


def test_instance_per_invocation_across_50_invocations(
    example: ModuleType, threaded_sink: SegmentSink
) -> None:
    """A new instance per invocation: each is closed with its events delivered."""
    for n in range(50):
        assert example.per_invocation_handler({"user_id": f"u{n}"}, LambdaContext(30_000)) == {
            "statusCode": 200
        }
    assert len(threaded_sink.events) == 50


def hold_requests(sink: SegmentSink) -> None:
    async def hang(request: web.Request, n: int) -> None:
        await sink.hang()

    sink.responder = hang


def test_near_deadline_per_invocation_returns_in_time(
    example: ModuleType, threaded_sink: SegmentSink, caplog: pytest.LogCaptureFixture
) -> None:
    """With 0.6 s left and a hanging API, the invocation returns in time and reports the event failed."""
    hold_requests(threaded_sink)
    started = time.monotonic()
    example.per_invocation_handler({"user_id": "late"}, LambdaContext(600))
    assert time.monotonic() - started < 0.6
    assert "event not delivered: flush timed out" in caplog.text
    assert "1 events failed or timed out" in caplog.text


def test_near_deadline_module_level_keeps_the_event_for_next_time(
    example: ModuleType, threaded_sink: SegmentSink, caplog: pytest.LogCaptureFixture
) -> None:
    """With a near deadline the module-level pattern returns in time; the next invocation delivers."""
    caplog.set_level(logging.WARNING)
    hold_requests(threaded_sink)
    started = time.monotonic()
    example.handler({"user_id": "late"}, LambdaContext(600))
    assert time.monotonic() - started < 0.6
    assert "1 events not delivered before the invocation's deadline" in caplog.text
    threaded_sink.responder = None
    example.handler({"user_id": "next"}, LambdaContext(30_000))
    assert sorted(e["userId"] for e in threaded_sink.events) == ["late", "next"]
