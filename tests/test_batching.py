"""Batching by count, bytes and interval, with order kept, timed by a fake clock."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from analytics_async.testing import FakeClock, SegmentSink, idle

from .conftest import MakeAnalytics
from .helpers import InFlight, eventually


async def test_full_batches_go_without_waiting(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock
) -> None:
    """Events arriving one by one: every flush_at make a batch sent at once; the rest waits the interval."""
    analytics = make_analytics(flush_at=5, clock=clock)
    for i in range(12):
        await analytics.track(event=f"E{i}", user_id="u")
        await idle()  # the next event arrives later, as in a service
    await eventually(lambda: len(sink.batches) == 2)
    await clock.advance(9.9)
    assert len(sink.batches) == 2
    await clock.advance(0.1)
    await eventually(lambda: len(sink.batches) == 3)
    assert [len(b.events) for b in sink.batches] == [5, 5, 2]
    assert [e["event"] for e in sink.events] == [f"E{i}" for i in range(12)]


async def test_interval_runs_from_the_first_event(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock
) -> None:
    """A batch waits flush_interval from its first event; later events do not extend the wait."""
    analytics = make_analytics(flush_interval=10, clock=clock)
    await analytics.track(event="first", user_id="u")
    await clock.advance(6)
    await analytics.track(event="second", user_id="u")
    await clock.advance(3.9)
    assert sink.requests == 0
    await clock.advance(0.1)
    await eventually(lambda: len(sink.batches) == 1)
    assert [e["event"] for e in sink.batches[0].events] == ["first", "second"]
    await analytics.track(event="third", user_id="u")
    await clock.advance(10)
    await eventually(lambda: len(sink.batches) == 2)


async def test_batches_stay_within_byte_limits(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """Large events split into batches of at most 480 KiB of events and 500 KB of body, in order."""
    analytics = make_analytics(flush_at=100)
    for i in range(40):
        await analytics.track(event=f"E{i}", user_id="u", properties={"blob": "x" * 30_000})
    await analytics.flush()
    assert sorted(int(e["event"][1:]) for e in sink.events) == list(range(40))
    for batch in sink.batches:  # batches travel concurrently; within one, call order is kept
        numbers = [int(e["event"][1:]) for e in batch.events]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert len(sink.batches) >= 3
    for batch in sink.batches:
        assert batch.json_bytes <= 500_000
        events_bytes = sum(len(json.dumps(e, separators=(",", ":")).encode()) + 1 for e in batch.events) - 1
        assert events_bytes <= 480 * 1024
    assert max(len(b.events) for b in sink.batches) == 16  # 16 x ~30.3 KB fit in 480 KiB, 17 do not


async def test_flush_at_one_sends_each_event(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock
) -> None:
    """flush_at=1 sends every event arriving alone in its own request, without waiting for the interval."""
    analytics = make_analytics(flush_at=1, clock=clock)
    for i in range(3):
        await analytics.track(event=f"E{i}", user_id="u")
        await idle()
    await eventually(lambda: len(sink.batches) == 3)
    assert sorted(e["event"] for e in sink.events) == ["E0", "E1", "E2"]


async def test_in_flight_batches_are_bounded(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """No more than max_in_flight requests are open at once."""
    slow = InFlight(delay=0.01)
    sink.responder = slow
    analytics = make_analytics(flush_at=1, max_in_flight=2)
    for i in range(10):
        await analytics.track(event=f"E{i}", user_id="u")
        await asyncio.sleep(0.001)  # one by one, so that each may leave on its own
    await analytics.flush()
    assert len(sink.events) == 10
    assert slow.peak == 2


async def test_a_backlog_leaves_in_few_large_requests(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """While every send slot is busy the next batch keeps growing past flush_at, up to the API's limits."""
    release = asyncio.Event()

    async def held(request: web.Request, n: int) -> None:
        if n == 1:
            await release.wait()

    sink.responder = held
    analytics = make_analytics(flush_at=1, max_in_flight=1)
    await analytics.track(event="E0", user_id="u")
    await idle()  # E0 is in flight, and held there
    for i in range(1, 500):
        await analytics.track(event=f"E{i}", user_id="u")
        if i % 50 == 0:
            await idle()  # events keep arriving while the only slot is busy
    await idle()
    assert sink.requests == 1  # the other 499 linger in one batch
    release.set()
    await analytics.flush()
    assert [len(b.events) for b in sink.batches] == [1, 499]
    assert [e["event"] for e in sink.events] == [f"E{i}" for i in range(500)]


async def test_lingering_respects_the_byte_limit(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """A lingering batch stops at 480 KiB of events: large events still leave in bodies within 500 KB."""
    release = asyncio.Event()

    async def held(request: web.Request, n: int) -> None:
        if n == 1:
            await release.wait()

    sink.responder = held
    analytics = make_analytics(flush_at=1, max_in_flight=1, max_queue_size=100)
    for i in range(60):
        await analytics.track(event=f"E{i}", user_id="u", properties={"pad": "x" * 30_000})
    release.set()
    await analytics.flush()
    assert sink.rejections == []
    assert len(sink.events) == 60
    assert all(b.json_bytes <= 500_000 for b in sink.batches)
    assert max(len(b.events) for b in sink.batches) == 16


async def test_a_lone_event_leaves_at_once_when_a_slot_is_free(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock
) -> None:
    """With flush_at=1 and a free slot, one event is sent without any flush or interval."""
    analytics = make_analytics(flush_at=1, clock=clock)
    await analytics.track(event="E", user_id="u")
    await eventually(lambda: len(sink.batches) == 1)
    assert clock.time() == 1000.0  # no fake time passed


async def test_a_tight_loop_backlog_leaves_together(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """Events queued faster than the batcher runs leave in one request: flush_at triggers, not caps."""
    analytics = make_analytics(flush_at=5)
    for i in range(12):
        await analytics.track(event=f"E{i}", user_id="u")
    await eventually(lambda: len(sink.batches) == 1)
    assert [len(b.events) for b in sink.batches] == [12]
