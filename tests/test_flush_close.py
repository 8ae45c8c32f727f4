"""flush(), close and their deadlines, against a real local server."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from analytics_async import Analytics, ClosedError, Context, ErrorEvent, FlushTimeoutError
from analytics_async.testing import FakeClock, SegmentSink, idle

from .conftest import MakeAnalytics
from .helpers import eventually, hold_answers, our_tasks


async def test_flush_sends_partial_batches_at_once(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock
) -> None:
    """flush() never waits out flush_interval; it returns once the events are delivered."""
    analytics = make_analytics(flush_interval=3600, clock=clock)
    ctxs = [await analytics.track(event=f"E{i}", user_id="u") for i in range(3)]
    await analytics.flush()
    assert len(sink.events) == 3
    assert all([await c.delivered() for c in ctxs])


async def test_flush_with_nothing_pending_returns(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """flush() on a fresh or idle instance returns at once and sends nothing."""
    analytics = make_analytics()
    await analytics.flush()
    await analytics.track(event="E", user_id="u")
    await analytics.flush()
    await analytics.flush()
    assert sink.requests == 1


async def test_concurrent_flushes_each_wait(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """Concurrent flush() calls all return after what was queued before them has settled."""

    async def slow(request: web.Request, n: int) -> None:
        await asyncio.sleep(0.005)

    sink.responder = slow
    analytics = make_analytics(flush_at=2)
    ctxs = [await analytics.track(event=f"E{i}", user_id="u") for i in range(5)]
    await asyncio.gather(analytics.flush(), analytics.flush(), analytics.flush())
    assert [await c.delivered(timeout=0) for c in ctxs] == [True] * 5
    assert len(sink.events) == 5


async def test_flush_waits_for_async_callbacks(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """flush() returns only after coroutine callbacks have finished."""
    done: list[str] = []

    async def callback(err: BaseException | None, ctx: Context) -> None:
        await asyncio.sleep(0.005)
        done.append(ctx.event["event"])

    analytics = make_analytics()
    await analytics.track(event="E", user_id="u", callback=callback)
    await analytics.flush()
    assert done == ["E"]


async def test_close_timeout_against_hanging_server(sink: SegmentSink, clock: FakeClock) -> None:
    """A closing flush returns at its deadline, fails what is unsent with FlushTimeoutError, and stops."""

    async def hanging(request: web.Request, n: int) -> None:
        await sink.hang()

    sink.responder = hanging
    analytics = Analytics(write_key="k", host=sink.url, clock=clock, flush_at=2)
    errors: list[ErrorEvent] = []
    callbacks: list[BaseException | None] = []
    analytics.on("error", errors.append)

    async def slow_handler(event: ErrorEvent) -> None:
        await sink.hang()

    analytics.on("error", slow_handler)
    ctxs = []
    for i in range(5):
        ctxs.append(
            await analytics.track(event=f"E{i}", user_id="u", callback=lambda e, c: callbacks.append(e))
        )
        await idle()  # one by one: batches of 2, 2 and 1

    async def close_and_look() -> list[asyncio.Task[object]]:
        await analytics.flush(close=True, timeout=5)
        # Same step as flush's return: nothing else has run yet.
        return [t for t in asyncio.all_tasks() if "slow_handler" in repr(t.get_coro()) and not t.done()]

    closing = asyncio.create_task(close_and_look())
    await eventually(lambda: sink.requests == 3)
    await clock.advance(4.9)
    assert not closing.done()
    await clock.advance(0.1)
    assert await asyncio.wait_for(closing, 1) == []
    assert [await c.delivered() for c in ctxs] == [False] * 5
    assert all(isinstance(c.failed_delivery().reason, FlushTimeoutError) for c in ctxs)  # type: ignore[union-attr]
    assert len(callbacks) == 5
    assert all(isinstance(e, FlushTimeoutError) for e in callbacks)
    assert [e.code for e in errors] == ["delivery_failure"] * 5
    assert {id(e.ctx) for e in errors} == {id(c) for c in ctxs}
    assert our_tasks() == []
    stats = analytics.stats()
    assert stats.failed == {"FlushTimeoutError": 5}
    assert stats.batches_in_flight == 0


async def test_plain_flush_timeout_lets_work_continue(sink: SegmentSink, clock: FakeClock) -> None:
    """A flush without close returns at its timeout; the event is still delivered afterwards."""
    release = hold_answers(sink)
    analytics = Analytics(write_key="k", host=sink.url, clock=clock)
    ctx = await analytics.track(event="E", user_id="u")
    flushing = asyncio.create_task(analytics.flush(timeout=1))
    await eventually(lambda: sink.requests == 1)
    await clock.advance(1)
    await asyncio.wait_for(flushing, 1)
    assert ctx.failed_delivery() is None
    release.set()
    assert await ctx.delivered(timeout=5) is True
    assert len(sink.events) == 1
    await analytics.flush(close=True)


async def test_calls_after_close(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """After close a call validates, emits call_after_close, reports ClosedError, and sends nothing."""
    analytics = make_analytics()
    seen: list[Any] = []
    analytics.on("call_after_close", seen.append).on("error", seen.append)
    await analytics.close_and_flush()
    got: list[BaseException | None] = []
    ctx = await analytics.track(event="late", user_id="u", callback=lambda e, c: got.append(e))
    assert seen[0] == ctx.event
    assert isinstance(seen[1], ErrorEvent)
    assert isinstance(seen[1].reason, ClosedError)
    assert isinstance(got[0], ClosedError)
    assert await ctx.delivered() is False
    await analytics.flush()
    assert sink.requests == 0
    assert analytics.stats().dropped == {"ClosedError": 1}


async def test_close_is_idempotent_and_closes_while_flushing(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """close=True closes even while another flush runs; repeated closes are harmless."""

    async def slow(request: web.Request, n: int) -> None:
        await asyncio.sleep(0.005)

    sink.responder = slow
    analytics = make_analytics()
    await analytics.track(event="E", user_id="u")
    await asyncio.gather(analytics.flush(), analytics.close_and_flush(), analytics.aclose())
    assert "closed" in repr(analytics)
    assert len(sink.events) == 1
    await analytics.aclose()


async def test_async_with_closes_and_flushes(sink: SegmentSink) -> None:
    """Leaving `async with` delivers what was tracked and closes the instance."""
    async with Analytics(write_key="k", host=sink.url) as analytics:
        await analytics.track(event="E", user_id="u")
    assert len(sink.events) == 1
    assert our_tasks() == []


async def test_disable_runs_everything_but_the_send(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """disable=True reports success, emits events and calls callbacks, but makes no request."""
    analytics = make_analytics(disable=True)
    seen: list[str] = []
    analytics.on("track", lambda ctx: seen.append("track")).on("http_request", lambda r: seen.append("http"))
    got: list[BaseException | None] = []
    ctx = await analytics.track(event="E", user_id="u", callback=lambda e, c: got.append(e))
    await analytics.flush()
    assert await ctx.delivered() is True
    assert got == [None]
    assert seen == ["track"]
    assert sink.requests == 0


async def test_graceful_shutdown_of_1000_concurrent_events(sink: SegmentSink) -> None:
    """1,000 events tracked from 50 concurrent tasks, then close_and_flush: exactly 1,000 arrive."""
    analytics = Analytics(write_key="k", host=sink.url, flush_at=20)

    async def worker(w: int) -> None:
        for i in range(20):
            await analytics.track(event="E", user_id=f"{w}", properties={"i": i})
            await asyncio.sleep(0)

    await asyncio.gather(*(worker(w) for w in range(50)))
    await analytics.close_and_flush()
    ids = [e["messageId"] for e in sink.events]
    assert len(ids) == 1000
    assert len(set(ids)) == 1000
    assert {(e["userId"], e["properties"]["i"]) for e in sink.events} == {
        (str(w), i) for w in range(50) for i in range(20)
    }
    stats = analytics.stats()
    assert stats.accepted == stats.delivered == 1000
    assert our_tasks() == []


async def test_stats_after_flush_show_nothing_in_flight(make_analytics: MakeAnalytics) -> None:
    """The moment flush() returns, stats() agree: no batch in flight, nothing queued, all delivered."""
    analytics = make_analytics(flush_at=2)
    for _ in range(5):
        await analytics.track(event="e", user_id="u")
    await analytics.flush()
    stats = analytics.stats()
    assert (stats.delivered, stats.batches_in_flight, stats.queue_depth) == (5, 0, 0)
