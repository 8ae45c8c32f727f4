"""The bounded queue: "drop" reports every dropped event, "wait" applies backpressure."""

from __future__ import annotations

import asyncio

import pytest

from analytics_async import Analytics, Context, ErrorEvent, QueueFullError, SimplePlugin
from analytics_async._delivery.batch import Batch
from analytics_async._delivery.event_queue import EventQueue
from analytics_async._message.context import Envelope
from analytics_async.testing import SegmentSink, idle

from .conftest import MakeAnalytics
from .helpers import hold_answers

BIG = {"pad": "x" * 30_000}
"""Properties of an event of about 30 KB: a batch holds at most 16, so a lingering batch fills up."""


async def test_drop_policy_reports_each_dropped_event(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """With a full queue and queue_full="drop", new events fail with QueueFullError, reported."""
    release = hold_answers(sink)
    analytics = make_analytics(flush_at=1, max_in_flight=1, max_queue_size=5)
    errors: list[ErrorEvent] = []
    analytics.on("error", errors.append)
    got: list[BaseException | None] = []
    ctxs = [
        await analytics.track(event=f"E{i}", user_id="u", properties=BIG, callback=lambda e, c: got.append(e))
        for i in range(40)
    ]
    dropped = [c for c in ctxs if c.failed_delivery() is not None]
    assert dropped
    assert all(isinstance(c.failed_delivery().reason, QueueFullError) for c in dropped)  # type: ignore[union-attr]
    assert len(errors) == len(dropped) == len(got)
    release.set()
    await analytics.flush()
    stats = analytics.stats()
    assert stats.accepted == 40
    assert stats.delivered + stats.dropped["QueueFullError"] == 40
    assert len(sink.events) == stats.delivered


async def test_wait_policy_delivers_a_tight_loop(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """A tight loop of awaited calls with queue_full="wait" delivers every event, none dropped."""
    analytics = make_analytics(flush_at=50, max_queue_size=100, queue_full="wait")
    for i in range(3000):
        await analytics.track(event="E", user_id="u", properties={"i": i})
    await analytics.flush()
    assert sorted(e["properties"]["i"] for e in sink.events) == list(range(3000))
    assert analytics.stats().dropped == {}


async def test_close_deadline_releases_calls_waiting_for_room(sink: SegmentSink) -> None:
    """Calls blocked by queue_full="wait" return when a closing flush runs out of time, reporting why."""
    release = hold_answers(sink)
    analytics = Analytics(
        write_key="k", host=sink.url, flush_at=1, max_in_flight=1, max_queue_size=2, queue_full="wait"
    )
    errors: list[ErrorEvent] = []
    analytics.on("error", errors.append)
    producers = [
        asyncio.create_task(analytics.track(event=f"E{i}", user_id="u", properties=BIG)) for i in range(30)
    ]
    await idle()
    assert sum(not p.done() for p in producers) >= 1  # some calls wait for room
    await analytics.flush(close=True, timeout=0.05)
    ctxs = await asyncio.wait_for(asyncio.gather(*producers), 2)
    release.set()
    reasons = {type(c.failed_delivery().reason).__name__ for c in ctxs}  # type: ignore[union-attr]
    assert reasons == {"FlushTimeoutError"}  # waiting for room, they were accepted like the queued ones
    assert len(errors) == 30
    stats = analytics.stats()
    assert stats.accepted == stats.failed["FlushTimeoutError"] == 30


@pytest.mark.parametrize("plugins", [False, True], ids=["no-plugins", "enrichment-plugin"])
async def test_a_waiter_cancelled_after_its_wake_up_passes_it_on(
    sink: SegmentSink, monkeypatch: pytest.MonkeyPatch, plugins: bool
) -> None:
    """queue_full="wait": the call woken for room is cancelled before it resumes; the next one gets in.

    Cancelled exactly between the wake-up and the resumption (in the step that wakes it). Before,
    the wake-up was lost with it: the next waiter slept beside an empty queue and flush() hung
    (accepted=21, delivered=20, queue_depth=0).
    """
    release = hold_answers(sink)
    analytics = Analytics(
        write_key="k", host=sink.url, flush_at=1, max_in_flight=1, max_queue_size=1, queue_full="wait"
    )
    if plugins:

        async def enrich(ctx: Context) -> Context:
            return ctx

        await analytics.register(SimplePlugin(name="enrich", type="enrichment", hook=enrich))
    producers = [
        asyncio.create_task(analytics.track(event=f"E{i}", user_id="u", properties=BIG)) for i in range(30)
    ]
    await idle()
    victims: list[asyncio.Task[Context]] = []
    wake = EventQueue._wake_putter

    def wake_then_cancel(queue: EventQueue) -> None:
        wake(queue)
        waiting = [p for p in producers if not p.done()]
        if not victims and len(waiting) == 2:  # the last wake-up but one: cancel its waiter first
            victims.append(waiting[0])
            victims[0].cancel()

    monkeypatch.setattr(EventQueue, "_wake_putter", wake_then_cancel)
    release.set()
    await asyncio.wait_for(analytics.flush(), 10)
    results = await asyncio.gather(*producers, return_exceptions=True)
    assert [type(r) for r in results if isinstance(r, BaseException)] == [asyncio.CancelledError]
    stats = analytics.stats()
    assert (stats.accepted, stats.delivered, stats.queue_depth) == (29, 29, 0)
    assert len({e["event"] for e in sink.events}) == 29
    await analytics.flush(close=True, timeout=5)


async def test_event_queue_hands_a_cancelled_wake_up_to_the_next_waiter() -> None:
    """The queue itself: two waiters, room for one; the woken one is cancelled; the other gets in."""
    queue = EventQueue(maxsize=1)
    assert queue.put_nowait(Envelope(Context({}), b"x", None, "track"))
    first = asyncio.create_task(queue.put(Envelope(Context({}), b"a", None, "track")))
    second = asyncio.create_task(queue.put(Envelope(Context({}), b"b", None, "track")))
    await idle()
    batch = Batch(10, 10_000, 0.0)
    queue.take_into(batch)  # room for one: wakes `first`
    first.cancel()  # ... before it resumes
    await idle()
    assert first.cancelled()
    assert second.done()
    assert second.result() is True
    assert len(queue) == 1
