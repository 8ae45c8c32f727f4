"""Callbacks and emitted events: what a user observes when events are delivered or fail."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp import web

from analytics_async import (
    Context,
    ErrorEvent,
    FlushEvent,
    HTTPRequestEvent,
    HTTPResponseEvent,
    HTTPStatusError,
    TransportError,
)
from analytics_async.testing import FakeClock, SegmentSink, idle

from .conftest import MakeAnalytics
from .helpers import eventually, statuses


async def test_sync_callback_gets_none_and_ctx(make_analytics: MakeAnalytics) -> None:
    """A callback is called once with (None, ctx) after delivery, before the type event."""
    order: list[str] = []
    analytics = make_analytics()
    analytics.on("track", lambda ctx: order.append("event"))
    got: list[tuple[BaseException | None, Context]] = []

    def callback(err: BaseException | None, c: Context) -> None:
        got.append((err, c))
        order.append("callback")

    ctx = await analytics.track(event="E", user_id="u", callback=callback)
    await analytics.flush()
    assert got == [(None, ctx)]
    assert order == ["callback", "event"]


async def test_raising_callback_does_not_break_delivery(
    make_analytics: MakeAnalytics, sink: SegmentSink, caplog: pytest.LogCaptureFixture
) -> None:
    """A callback that raises is logged; the event still counts as delivered."""

    def bad(err: BaseException | None, ctx: Context) -> None:
        raise RuntimeError("boom")

    analytics = make_analytics()
    ctx = await analytics.track(event="E", user_id="u", callback=bad)
    await analytics.track(event="F", user_id="u")
    await analytics.flush()
    assert await ctx.delivered() is True
    assert len(sink.events) == 2
    assert "callback raised RuntimeError" in caplog.text


async def test_handlers_sync_async_once_off(make_analytics: MakeAnalytics) -> None:
    """on/once/off return the instance; async handlers run; once fires once; off removes."""
    analytics = make_analytics()
    seen: list[str] = []

    async def async_handler(ctx: Context) -> None:
        await asyncio.sleep(0)
        seen.append("async")

    def sync_handler(ctx: Context) -> None:
        seen.append("sync")

    assert analytics.on("track", async_handler).once("track", lambda c: seen.append("once")) is analytics
    analytics.on("track", sync_handler)
    await analytics.track(event="E", user_id="u")
    await analytics.flush()
    assert sorted(seen) == ["async", "once", "sync"]
    seen.clear()
    analytics.off("track", sync_handler)
    await analytics.track(event="E", user_id="u")
    await analytics.flush()
    assert seen == ["async"]
    analytics.off("track")
    await analytics.track(event="E", user_id="u")
    await analytics.flush()
    assert seen == ["async"]


async def test_unknown_event_name_is_rejected(make_analytics: MakeAnalytics) -> None:
    """Subscribing to a misspelt event raises at once."""
    with pytest.raises(ValueError, match="unknown event"):
        make_analytics().on("delivered", print)  # type: ignore[call-overload]


async def test_raising_handlers_never_break_delivery(
    make_analytics: MakeAnalytics, sink: SegmentSink, caplog: pytest.LogCaptureFixture
) -> None:
    """Sync and async handlers that raise are logged; delivery and other handlers go on."""

    def bad(payload: Any) -> None:
        raise RuntimeError("sync boom")

    async def bad_async(payload: Any) -> None:
        raise RuntimeError("async boom")

    analytics = make_analytics()
    later: list[str] = []
    analytics.on("track", bad).on("track", bad_async).on("track", lambda c: later.append("ok"))
    analytics.on("http_request", bad)
    ctx = await analytics.track(event="E", user_id="u")
    await analytics.flush()
    assert await ctx.delivered() is True
    assert later == ["ok"]
    assert "sync boom" in caplog.text
    assert "async boom" in caplog.text


async def test_final_status_fails_each_event(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """A 400 fails every event of the batch: callback, error event per event, flush event, counters."""
    sink.responder = statuses(400)
    analytics = make_analytics(flush_at=3)
    errors: list[ErrorEvent] = []
    flushes: list[FlushEvent] = []
    analytics.on("error", errors.append).on("flush", flushes.append)
    got: list[BaseException | None] = []
    ctxs = [
        await analytics.track(event=f"E{i}", user_id="u", callback=lambda e, c: got.append(e))
        for i in range(3)
    ]
    await idle()  # the batch of 3 leaves before the next event arrives
    await analytics.track(event="next batch", user_id="u")
    await analytics.flush()
    assert len(got) == 3
    for err in got:
        assert isinstance(err, HTTPStatusError)
        assert err.status == 400
        assert str(err) == "[400] Bad Request"
    assert [e.ctx for e in errors] == ctxs
    assert {e.code for e in errors} == {"delivery_failure"}
    assert [(f.batch_size, f.delivered) for f in flushes] == [(3, False), (1, True)]
    assert isinstance(flushes[0].reason, HTTPStatusError)
    assert [e["event"] for e in sink.events] == ["next batch"]
    stats = analytics.stats()
    assert stats.failed == {"HTTPStatusError": 3}
    assert stats.delivered == 1
    assert stats.accepted == 4


async def test_redirect_is_not_followed(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """A 307 is a final failure naming where it pointed; the body is not re-posted there."""

    async def redirect(request: web.Request, n: int) -> web.StreamResponse:
        return web.Response(status=307, headers={"Location": "http://127.0.0.1:9/elsewhere"})

    sink.responder = redirect
    analytics = make_analytics()
    ctx = await analytics.track(event="E", user_id="u")
    await analytics.flush()
    failure = ctx.failed_delivery()
    assert failure is not None
    assert isinstance(failure.reason, HTTPStatusError)
    assert failure.reason.status == 307
    assert "elsewhere" in str(failure.reason)
    assert sink.requests == 1


async def test_server_error_is_retried_with_retry_count(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock
) -> None:
    """A 503 is retried after a 1-2 s backoff with X-Retry-Count: 1 and the same messageId."""
    sink.responder = statuses(503)
    analytics = make_analytics(clock=clock)
    ctx = await analytics.track(event="E", user_id="u")
    flushing = asyncio.create_task(analytics.flush())
    await eventually(lambda: sink.requests == 1)
    await clock.advance(0.99)
    assert sink.requests == 1
    await clock.advance(1.01)
    await asyncio.wait_for(flushing, 5)
    assert await ctx.delivered() is True
    (batch,) = sink.batches
    assert batch.headers["X-Retry-Count"] == "1"
    assert batch.events[0]["messageId"] == ctx.event["messageId"]
    assert analytics.stats().retries == 1


async def test_retries_run_out(make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock) -> None:
    """With max_retries=2, a server always answering 500 sees 3 attempts, then the event fails."""
    sink.responder = statuses(then=500)
    analytics = make_analytics(clock=clock, max_retries=2)
    ctx = await analytics.track(event="E", user_id="u")
    flushing = asyncio.create_task(analytics.flush())
    for _ in range(3):
        await clock.advance(60)
    await asyncio.wait_for(flushing, 5)
    assert sink.requests == 3
    failure = ctx.failed_delivery()
    assert failure is not None
    assert str(failure.reason) == "[500] Internal Server Error"


async def test_connection_reset_is_a_transport_error(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """A server that drops the connection yields TransportError once retries are used up."""

    async def reset(request: web.Request, n: int) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    sink.responder = reset
    analytics = make_analytics(max_retries=0)
    ctx = await analytics.track(event="E", user_id="u")
    await analytics.flush()
    failure = ctx.failed_delivery()
    assert failure is not None
    assert isinstance(failure.reason, TransportError)


async def test_request_timeout_is_a_transport_error(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """A server that does not answer within http_request_timeout fails the attempt."""

    async def hanging(request: web.Request, n: int) -> None:
        await sink.hang()

    sink.responder = hanging
    analytics = make_analytics(max_retries=0, http_request_timeout=0.05)
    ctx = await analytics.track(event="E", user_id="u")
    await analytics.flush()
    failure = ctx.failed_delivery()
    assert failure is not None
    assert isinstance(failure.reason, TransportError)
    assert "0.05" in str(failure.reason)


async def test_http_events_redact_credentials(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """http_request/http_response fire per attempt without the write key or Authorization value."""
    analytics = make_analytics(write_key="super-secret-key")
    requests: list[HTTPRequestEvent] = []
    responses: list[HTTPResponseEvent] = []
    analytics.on("http_request", requests.append).on("http_response", responses.append)
    await analytics.track(event="E", user_id="u")
    await analytics.flush()
    (request,) = requests
    assert request.url == f"{sink.url}/v1/batch"
    assert request.method == "POST"
    assert request.headers["Authorization"] == "<redacted>"
    assert b"super-secret-key" not in request.body
    assert b'"writeKey":"<redacted>"' in request.body
    assert "super-secret-key" not in repr(request)
    (response,) = responses
    assert response.status == 200
    assert sink.batches[0].body["writeKey"] == "super-secret-key"


async def test_drained_fires_when_nothing_is_pending(make_analytics: MakeAnalytics) -> None:
    """drained is emitted when the last unsettled event settles."""
    analytics = make_analytics(flush_at=2)
    drained: list[None] = []
    analytics.on("drained", drained.append)
    for _ in range(4):
        await analytics.track(event="E", user_id="u")
    await analytics.flush()
    assert drained
    assert drained[-1] is None


async def test_logs_never_contain_the_write_key(
    make_analytics: MakeAnalytics, sink: SegmentSink, caplog: pytest.LogCaptureFixture
) -> None:
    """Debug logging through failures and retries never prints the write key."""
    caplog.set_level(logging.DEBUG, logger="analytics_async")
    sink.responder = statuses(400)
    analytics = make_analytics(write_key="super-secret-key")
    await analytics.track(event="E", user_id="u")
    await analytics.flush()
    assert "super-secret-key" not in caplog.text
