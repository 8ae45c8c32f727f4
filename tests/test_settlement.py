"""Every accepted event settles exactly once: cancelled calls, user code raising anything, deadlines."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import pytest
from aiohttp import web

from analytics_async import (
    Analytics,
    Context,
    ErrorEvent,
    FlushTimeoutError,
    HTTPRequest,
    HTTPResponse,
    SimplePlugin,
    TransportError,
)
from analytics_async.testing import FakeClock, RecordingClient, SegmentSink, idle

from .conftest import MakeAnalytics
from .helpers import hold_answers, our_tasks


class Raises(Exception):
    """A plain user error."""


class Odd(BaseException):
    """A BaseException subclass that is neither an Exception nor a cancellation."""


BIG = {"pad": "x" * 30_000}
"""Properties of an event of about 30 KB: a batch holds at most 16, so a lingering batch fills up."""

RAISED = [asyncio.CancelledError("user code"), Raises("user code"), Odd("user code")]


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    """User code failing is logged at ERROR on purpose here."""
    caplog.set_level(logging.CRITICAL, logger="analytics_async")


@pytest.mark.parametrize("exc", RAISED, ids=lambda e: type(e).__name__)
async def test_sync_callback_raising_anything_spares_the_batch(
    make_analytics: MakeAnalytics, sink: SegmentSink, exc: BaseException
) -> None:
    """A sync callback raising CancelledError or any BaseException is reported; its batch settles."""
    analytics = make_analytics(flush_at=5)
    errors: list[ErrorEvent] = []
    analytics.on("error", errors.append)

    def bad(err: BaseException | None, ctx: Context) -> None:
        raise exc

    ctxs = [
        await analytics.track(event=f"E{i}", user_id="u", callback=bad if i == 1 else None) for i in range(5)
    ]
    await asyncio.wait_for(analytics.flush(), 5)
    assert [await c.delivered(timeout=0) for c in ctxs] == [True] * 5
    assert len(sink.events) == 5
    assert [(e.code, e.reason, e.ctx) for e in errors] == [("unknown", exc, ctxs[1])]
    assert analytics.stats().delivered == 5


@pytest.mark.parametrize("exc", RAISED, ids=lambda e: type(e).__name__)
async def test_async_callback_and_handlers_raising_anything(
    make_analytics: MakeAnalytics, sink: SegmentSink, exc: BaseException
) -> None:
    """Coroutine callbacks and sync/async handlers raising anything never stop delivery or flush."""
    analytics = make_analytics(flush_at=3)
    unknown: list[BaseException] = []
    analytics.on("error", lambda e: unknown.append(e.reason))

    async def bad_callback(err: BaseException | None, ctx: Context) -> None:
        await asyncio.sleep(0)
        raise exc

    def bad_sync(payload: Any) -> None:
        raise exc

    async def bad_async(payload: Any) -> None:
        raise exc

    analytics.on("track", bad_sync).on("track", bad_async).on("flush", bad_sync)
    ctxs = [await analytics.track(event="E", user_id="u", callback=bad_callback) for _ in range(3)]
    await asyncio.wait_for(analytics.flush(), 5)
    assert all([await c.delivered(timeout=0) for c in ctxs])
    assert len(sink.events) == 3
    # 3 callbacks, 3 x 2 track handlers, 1 flush handler
    assert unknown == [exc] * 10


async def test_error_handler_failing_is_logged_not_re_emitted(make_analytics: MakeAnalytics) -> None:
    """A failing `error` handler is logged only: no loop of error events."""
    analytics = make_analytics(http_client=RecordingClient())
    calls: list[str] = []

    def bad_error_handler(event: ErrorEvent) -> None:
        calls.append(type(event.reason).__name__)
        raise asyncio.CancelledError

    analytics.on("error", bad_error_handler)
    await analytics.track(event="E", user_id="u", callback=lambda e, c: 1 / 0)
    await asyncio.wait_for(analytics.flush(), 5)
    assert calls == ["ZeroDivisionError"]


@pytest.mark.parametrize("exc", RAISED, ids=lambda e: type(e).__name__)
async def test_plugins_raising_anything(
    make_analytics: MakeAnalytics, sink: SegmentSink, exc: BaseException
) -> None:
    """Enrichment, destination and after plugins raising anything are skipped; a before plugin's fails."""
    analytics = make_analytics()

    def bad(ctx: Context) -> None:
        raise exc

    for type_ in ("enrichment", "destination", "after"):
        await analytics.register(SimplePlugin(name=type_, type=type_, track=bad))
    spared = await analytics.track(event="E", user_id="u")
    await analytics.register(SimplePlugin(name="before", type="before", track=bad))
    failed = await analytics.track(event="F", user_id="u")
    await asyncio.wait_for(analytics.flush(), 5)
    assert await spared.delivered(timeout=0) is True
    failure = failed.failed_delivery()
    assert failure is not None
    assert isinstance(failure.reason, Exception)  # a callback's err is an Exception
    assert failure.reason is exc or failure.reason.__cause__ is exc
    assert [e["event"] for e in sink.events] == ["E"]


class CancellingClient(RecordingClient):
    """An HTTPClient whose send raises CancelledError on its own (nobody cancelled it)."""

    async def answer(self, request: HTTPRequest) -> HTTPResponse:
        """Raise as a broken client library might."""
        raise asyncio.CancelledError("client gave up")


async def test_http_client_raising_cancelled_error_is_a_transport_error(
    make_analytics: MakeAnalytics,
) -> None:
    """A custom HTTPClient raising CancelledError is a transport failure, retried then reported."""
    client = CancellingClient()
    analytics = make_analytics(http_client=client, max_retries=0, flush_at=3)
    ctxs = [await analytics.track(event="E", user_id="u") for _ in range(3)]
    await asyncio.wait_for(analytics.flush(), 5)
    reasons = [c.failed_delivery().reason for c in ctxs]  # type: ignore[union-attr]
    assert all(isinstance(r, TransportError) for r in reasons)
    assert "client gave up" in str(reasons[0])
    assert len(client.requests) == 1


async def test_cancelled_while_waiting_for_room_accepts_nothing(sink: SegmentSink) -> None:
    """A call cancelled (task.cancel, wait_for) while waiting for room raises and accepts nothing."""
    release = hold_answers(sink)
    analytics = Analytics(
        write_key="k", host=sink.url, flush_at=1, max_in_flight=1, max_queue_size=1, queue_full="wait"
    )
    called: list[str] = []
    kept: list[Context] = []
    while True:  # one in flight, one in the next batch waiting for the slot, one queued: then full
        calling = asyncio.create_task(
            analytics.track(event=f"E{len(kept)}", user_id="u", callback=lambda e, c: called.append("x"))
        )
        await idle()
        if not calling.done():
            break
        kept.append(calling.result())
    waiting = calling
    called.clear()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(analytics.track(event="timed out", user_id="u"), 0.005)
    assert analytics.stats().accepted == len(kept)
    release.set()
    await asyncio.wait_for(analytics.flush(close=True), 5)
    assert [e["event"] for e in sink.events] == [c.event["event"] for c in kept]
    assert all([await c.delivered(timeout=0) for c in kept])
    assert called == ["x"] * len(kept)


async def test_cancelled_inside_plugins_accepts_nothing(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """A call cancelled while a plugin runs raises, cancels the plugin and accepts nothing."""
    cancelled: list[str] = []

    async def slow(ctx: Context) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append("plugin")
            raise

    analytics = make_analytics()
    await analytics.register(SimplePlugin(name="slow", type="enrichment", track=slow))
    calling = asyncio.create_task(
        analytics.track(event="E", user_id="u", callback=lambda e, c: cancelled.append("cb"))
    )
    await idle()
    calling.cancel()
    with pytest.raises(asyncio.CancelledError):
        await calling
    await idle()
    assert cancelled == ["plugin"]
    await asyncio.wait_for(analytics.flush(), 5)
    assert analytics.stats().accepted == 0
    assert sink.events == []


@pytest.mark.parametrize("plugins", [False, True], ids=["plain", "plugins"])
@pytest.mark.parametrize("policy", ["drop", "wait"])
async def test_cancelling_calls_at_every_step(
    make_analytics: MakeAnalytics, sink: SegmentSink, plugins: bool, policy: str
) -> None:
    """A call cancelled at any step either raised (nothing sent or told) or its event settles once."""
    release = asyncio.Event()

    async def held(request: web.Request, n: int) -> None:
        await release.wait()

    sink.responder = held  # the first batch stays in flight; ~30 KB events fill the lingering one
    analytics = make_analytics(flush_at=3, max_queue_size=4, queue_full=policy, max_in_flight=1)
    if plugins:

        async def step(ctx: Context) -> None:
            await asyncio.sleep(0)

        await analytics.register(SimplePlugin(name="step", type="enrichment", hook=step))
    callbacks: Counter[str] = Counter()

    def count(err: BaseException | None, ctx: Context) -> None:
        callbacks.update([ctx.event["event"]])

    tasks = []
    for i in range(60):
        tasks.append(
            asyncio.create_task(analytics.track(event=f"E{i}", user_id="u", properties=BIG, callback=count))
        )
        for _ in range(i % 4):
            await asyncio.sleep(0)
        if i % 2:
            tasks[-1].cancel()
    await idle()
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.wait_for(analytics.flush(), 10)
    returned = {r.event["event"] for r in results if isinstance(r, Context)}
    raised = {f"E{i}" for i, r in enumerate(results) if isinstance(r, asyncio.CancelledError)}
    assert len(returned) + len(raised) == 60
    if plugins or policy == "wait":  # calls then wait (plugins, room): some are cancelled while waiting
        assert raised, "some calls must have been cancelled before they returned"
    sent = [e["event"] for e in sink.events]
    assert len(sent) == len(set(sent))
    assert set(sent) <= returned
    assert callbacks == Counter(returned)
    stats = analytics.stats()
    assert stats.accepted == len(returned) == stats.delivered + sum(stats.dropped.values())


async def test_hanging_plugin_ends_at_the_close_deadline(sink: SegmentSink, clock: FakeClock) -> None:
    """A plugin that never returns: the closing flush returns at its deadline and the call too, failed."""
    analytics = Analytics(write_key="k", host=sink.url, clock=clock)

    async def forever(ctx: Context) -> None:
        await asyncio.Event().wait()

    await analytics.register(SimplePlugin(name="stuck", type="enrichment", track=forever))
    got: list[BaseException | None] = []
    calling = asyncio.create_task(
        analytics.track(event="E", user_id="u", callback=lambda e, c: got.append(e))
    )
    closing = asyncio.create_task(analytics.flush(close=True, timeout=1))
    await clock.advance(0.99)
    assert not closing.done()
    await clock.advance(0.01)
    await asyncio.wait_for(closing, 1)
    ctx = await asyncio.wait_for(calling, 1)
    assert isinstance(ctx.failed_delivery().reason, FlushTimeoutError)  # type: ignore[union-attr]
    assert len(got) == 1
    assert isinstance(got[0], FlushTimeoutError)
    assert not [t for t in asyncio.all_tasks() if "forever" in repr(t.get_coro()) and not t.done()]
    assert analytics.stats().unsettled == 0
    assert sink.events == []


async def test_close_deadline_settles_thousands_with_slow_async_callbacks(
    sink: SegmentSink, clock: FakeClock
) -> None:
    """At the deadline each pending event fails once and is told; slow coroutine callbacks are cut short."""

    async def hanging(request: web.Request, n: int) -> None:
        await sink.hang()

    sink.responder = hanging
    analytics = Analytics(write_key="k", host=sink.url, clock=clock, max_queue_size=5_000)
    started: list[int] = []
    errors: list[ErrorEvent] = []
    analytics.on("error", errors.append)

    async def slow_callback(err: BaseException | None, ctx: Context) -> None:
        started.append(1)
        await asyncio.Event().wait()

    ctxs = [await analytics.track(event="E", user_id="u", callback=slow_callback) for _ in range(3_000)]
    closing = asyncio.create_task(analytics.flush(close=True, timeout=2))
    await clock.advance(2)
    await asyncio.wait_for(closing, 5)
    assert all(isinstance(c.failed_delivery().reason, FlushTimeoutError) for c in ctxs)  # type: ignore[union-attr]
    assert len(errors) == 3_000
    assert {id(e.ctx) for e in errors} == {id(c) for c in ctxs}
    assert 1 <= len(started) < 3_000
    assert our_tasks() == []
    assert not [t for t in asyncio.all_tasks() if "slow_callback" in repr(t.get_coro()) and not t.done()]
    stats = analytics.stats()
    assert stats.failed == {"FlushTimeoutError": 3_000}
    assert stats.unsettled == 0


async def test_plain_flush_timeout_returns_with_a_hanging_handler(
    make_analytics: MakeAnalytics, clock: FakeClock
) -> None:
    """A plain flush with a timeout returns at it even while an async handler hangs."""
    analytics = make_analytics(http_client=RecordingClient(), clock=clock)

    async def hang(ctx: Context) -> None:
        await asyncio.Event().wait()

    analytics.on("track", hang)
    ctx = await analytics.track(event="E", user_id="u")
    flushing = asyncio.create_task(analytics.flush(timeout=3))
    await clock.advance(2.9)
    assert not flushing.done()
    await clock.advance(0.1)
    await asyncio.wait_for(flushing, 1)
    assert await ctx.delivered(timeout=0) is True
