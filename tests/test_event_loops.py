"""One instance used from consecutive event loops (the AWS Lambda pattern) keeps working."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings

import pytest

from analytics_async import Analytics
from analytics_async.testing import SegmentSink


def test_flush_per_invocation(threaded_sink: SegmentSink) -> None:
    """Each asyncio.run tracks and flushes; every event of every invocation arrives."""
    analytics = Analytics(write_key="k", host=threaded_sink.url)

    async def invocation(n: int) -> None:
        for i in range(5):
            await analytics.track(event="E", user_id="u", properties={"n": n, "i": i})
        await analytics.flush()

    for n in range(4):
        asyncio.run(invocation(n))
    assert len(threaded_sink.events) == 20
    asyncio.run(analytics.flush(close=True))


def test_events_left_in_an_ended_loop_are_carried_over(
    threaded_sink: SegmentSink, caplog: pytest.LogCaptureFixture
) -> None:
    """Events a loop ended without flushing are sent from the next loop, once, with a warning."""
    analytics = Analytics(write_key="k", host=threaded_sink.url, flush_interval=3600)

    async def invocation(n: int) -> None:
        await analytics.track(event="E", user_id="u", properties={"n": n})

    for n in range(3):
        asyncio.run(invocation(n))
    assert threaded_sink.events == []
    assert "sent from the new loop" in caplog.text
    asyncio.run(analytics.flush(close=True))
    assert sorted(e["properties"]["n"] for e in threaded_sink.events) == [0, 1, 2]
    assert analytics.stats().delivered == 3


def test_use_from_two_running_loops_is_a_clear_error(threaded_sink: SegmentSink) -> None:
    """Using one instance from a second loop while the first still runs raises RuntimeError."""
    analytics = Analytics(write_key="k", host=threaded_sink.url)
    started, release = threading.Event(), threading.Event()

    async def hold_loop() -> None:
        await analytics.track(event="E", user_id="u")
        started.set()
        await asyncio.get_running_loop().run_in_executor(None, release.wait)
        await analytics.flush(close=True)

    thread = threading.Thread(target=asyncio.run, args=(hold_loop(),))
    thread.start()
    assert started.wait(5)
    try:
        with pytest.raises(RuntimeError, match="another running event loop"):
            asyncio.run(analytics.track(event="E", user_id="u"))
    finally:
        release.set()
        thread.join(5)
    assert len(threaded_sink.events) == 1


async def track_events(analytics: Analytics, count: int, *, close: bool = False) -> None:
    for _ in range(count):
        await analytics.track(event="E", user_id="u")
    if close:
        await analytics.aclose()


def drop(holder: list[Analytics]) -> None:
    """Drop the only reference to the instance and collect it."""
    holder.clear()
    gc.collect()


def test_garbage_collected_with_unsent_events_warns() -> None:
    """An instance dropped while events are still pending emits a ResourceWarning saying how many."""
    holder = [Analytics(write_key="k", host="http://127.0.0.1:9", flush_interval=3600)]
    asyncio.run(track_events(holder[0], 2))
    with pytest.warns(ResourceWarning, match="2 unsent events"):
        drop(holder)


def test_closed_instance_does_not_warn() -> None:
    """A closed instance is dropped silently."""
    holder = [Analytics(write_key="k", host="http://127.0.0.1:9", disable=True)]
    asyncio.run(track_events(holder[0], 1, close=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        drop(holder)
