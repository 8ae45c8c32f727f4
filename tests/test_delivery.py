"""Delivery under faults: every event is delivered exactly once or reported failed with its reason."""

from __future__ import annotations

import asyncio
import gc
import gzip
import json
import socket
import sys

import pytest
from aiohttp import web

from analytics_async import (
    Analytics,
    ErrorEvent,
    FlushTimeoutError,
    HTTPRequest,
    HTTPResponse,
    HTTPStatusError,
    RateLimitExceededError,
)
from analytics_async.testing import FakeClock, SegmentSink, idle

from .conftest import MakeAnalytics
from .helpers import InFlight, accounted, drive, eventually, our_tasks, statuses


async def test_half_of_requests_fail_with_503(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock
) -> None:
    """With every other request answered 503, all 200 events arrive exactly once after retries."""

    async def flaky(request: web.Request, n: int) -> web.StreamResponse | None:
        return web.Response(status=503) if n % 2 else None

    sink.responder = flaky
    analytics = make_analytics(flush_at=10, clock=clock)
    errors: list[ErrorEvent] = []
    analytics.on("error", errors.append)
    ctxs = [await analytics.track(event="E", user_id="u", properties={"i": i}) for i in range(200)]
    await drive(clock, asyncio.ensure_future(analytics.flush()))
    accounted(analytics, ctxs, sink, errors)
    assert len(sink.events) == 200
    stats = analytics.stats()
    assert stats.retries == sink.requests // 2 >= 1  # one retry per 503 (every odd request)


async def test_429_retry_after_pauses_every_batch(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock
) -> None:
    """A 429 with Retry-After holds all batches until the window ends, without using max_retries."""
    sink.responder = statuses(429, headers={"Retry-After": "3"})
    analytics = make_analytics(flush_at=1, max_retries=0, clock=clock)
    first = await analytics.track(event="first", user_id="u")
    await eventually(lambda: sink.requests == 1)
    # The request reached the sink; run the loop until idle so its 429 has reached the client too
    # (under load, the second batch could otherwise leave before the pause is known).
    await clock.advance(0)
    second = await analytics.track(event="second", user_id="u")
    await clock.advance(2.9)  # runs the loop until idle: a send now would have reached the sink
    assert sink.requests == 1
    await clock.advance(0.1)
    await eventually(lambda: len(sink.batches) == 2)
    assert await first.delivered()
    assert await second.delivered()
    retry_counts = {b.events[0]["event"]: b.headers.get("X-Retry-Count") for b in sink.batches}
    assert retry_counts == {"first": "1", "second": None}


async def test_rate_limited_too_long(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock
) -> None:
    """Rate limited beyond max_rate_limit_duration, the waiting event fails with RateLimitExceededError."""
    sink.responder = statuses(then=429, headers={"Retry-After": "10"})
    analytics = make_analytics(max_rate_limit_duration=25, clock=clock)
    errors: list[ErrorEvent] = []
    analytics.on("error", errors.append)
    ctx = await analytics.track(event="E", user_id="u")
    await drive(clock, asyncio.ensure_future(analytics.flush()))
    failure = ctx.failed_delivery()
    assert failure is not None
    assert isinstance(failure.reason, RateLimitExceededError)
    assert sink.requests == 3  # at 0, 10 and 20 s; the window to 30 s is cut at 25 s
    accounted(analytics, [ctx], sink, errors)


async def test_attempt_cap_under_persistent_429(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock
) -> None:
    """A persistent `429 Retry-After: 0` with max_retries=0 gets exactly 21 attempts, 1 s apart."""
    sink.responder = statuses(then=429, headers={"Retry-After": "0"})
    analytics = make_analytics(max_retries=0, clock=clock)
    ctx = await analytics.track(event="E", user_id="u")
    await drive(clock, asyncio.ensure_future(analytics.flush()), step=0.5)
    assert sink.requests == 21
    failure = ctx.failed_delivery()
    assert failure is not None
    assert str(failure.reason) == "[429] Too Many Requests"


async def test_429_without_retry_after_uses_the_budget(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock
) -> None:
    """A 429 without Retry-After is a counted retry: max_retries=1 means 2 attempts."""
    sink.responder = statuses(then=429)
    analytics = make_analytics(max_retries=1, clock=clock)
    ctx = await analytics.track(event="E", user_id="u")
    await drive(clock, asyncio.ensure_future(analytics.flush()))
    assert sink.requests == 2
    assert ctx.failed_delivery() is not None


async def test_total_backoff_duration_bounds_retries(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock
) -> None:
    """max_total_backoff_duration ends counted retries long before max_retries would."""
    sink.responder = statuses(then=500)
    analytics = make_analytics(max_retries=100, max_total_backoff_duration=10, clock=clock)
    start = clock.time()
    ctx = await analytics.track(event="E", user_id="u")
    await drive(clock, asyncio.ensure_future(analytics.flush()), step=0.25)
    failure = ctx.failed_delivery()
    assert failure is not None
    assert isinstance(failure.reason, HTTPStatusError)
    assert 3 <= sink.requests <= 5
    assert clock.time() - start < 10 + 16.5


async def test_connection_resets_then_recovery(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock
) -> None:
    """Two connection resets, then success: the batch arrives once, as attempt 3."""

    async def reset_twice(request: web.Request, n: int) -> web.StreamResponse | None:
        if n > 2:
            return None
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    sink.responder = reset_twice
    analytics = make_analytics(clock=clock)
    errors: list[ErrorEvent] = []
    analytics.on("error", errors.append)
    ctxs = [await analytics.track(event="E", user_id="u") for _ in range(3)]
    await drive(clock, asyncio.ensure_future(analytics.flush()))
    accounted(analytics, ctxs, sink, errors)
    (batch,) = sink.batches
    assert batch.headers["X-Retry-Count"] == "2"


async def test_hanging_server_with_short_request_timeout(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock
) -> None:
    """An attempt that hangs past http_request_timeout is retried; the event arrives once."""

    async def hang_first(request: web.Request, n: int) -> None:
        if n == 1:
            await sink.hang()

    sink.responder = hang_first
    analytics = make_analytics(http_request_timeout=0.05, clock=clock)
    errors: list[ErrorEvent] = []
    analytics.on("error", errors.append)
    ctx = await analytics.track(event="E", user_id="u")
    await drive(clock, asyncio.ensure_future(analytics.flush()), step=0.5)
    accounted(analytics, [ctx], sink, errors)
    assert len(sink.events) == 1


async def test_one_batch_rejected_with_400(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """A 400 for one batch fails exactly its events; the other batches are delivered."""

    async def reject_second(request: web.Request, n: int) -> web.StreamResponse | None:
        return web.Response(status=400) if n == 2 else None

    sink.responder = reject_second
    analytics = make_analytics(flush_at=5, max_in_flight=1)
    errors: list[ErrorEvent] = []
    analytics.on("error", errors.append)
    ctxs = []
    for i in range(15):
        ctxs.append(await analytics.track(event="E", user_id="u", properties={"i": i}))
        await idle()  # one by one: batches of flush_at
    await analytics.flush()
    accounted(analytics, ctxs, sink, errors)
    assert len(errors) == 5
    assert all(isinstance(e.reason, HTTPStatusError) and e.reason.status == 400 for e in errors)
    assert analytics.stats().failed == {"HTTPStatusError": 5}


async def test_slow_server_with_saturated_in_flight(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """A slow server with max_in_flight saturated: backpressure, never more than 2 requests open, no loss."""
    slow = InFlight(delay=0.005)
    sink.responder = slow
    analytics = make_analytics(flush_at=5, max_in_flight=2, max_queue_size=20, queue_full="wait")
    errors: list[ErrorEvent] = []
    analytics.on("error", errors.append)
    ctxs = [await analytics.track(event="E", user_id="u", properties={"i": i}) for i in range(300)]
    await analytics.flush()
    accounted(analytics, ctxs, sink, errors)
    assert len(sink.events) == 300
    assert slow.peak == 2


async def test_gzip_bodies(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """gzip=True sends Content-Encoding: gzip; limits still apply to the uncompressed JSON."""
    analytics = make_analytics(gzip=True, flush_at=100)
    for i in range(40):
        await analytics.track(event=f"E{i}", user_id="u", properties={"blob": "x" * 30_000})
    await analytics.flush()
    assert len(sink.events) == 40
    for batch in sink.batches:
        assert batch.headers["Content-Encoding"] == "gzip"
        assert batch.wire_bytes < batch.json_bytes / 10
        assert batch.json_bytes <= 500_000
    assert max(len(b.events) for b in sink.batches) == 16


async def test_gzip_body_decompresses_to_the_plain_body() -> None:
    """The compressed body handed to the HTTP client is exactly the JSON that would go uncompressed."""
    sent: list[HTTPRequest] = []

    class Recorder:
        async def send(self, request: HTTPRequest) -> HTTPResponse:
            sent.append(request)
            return HTTPResponse(200, "OK")

        async def aclose(self) -> None:
            raise AssertionError("a client passed in is never closed by the library")

    async with Analytics(write_key="k", gzip=True, http_client=Recorder()) as analytics:
        await analytics.track(event="E", user_id="u")
    (request,) = sent
    assert request.headers["Content-Encoding"] == "gzip"
    plain = gzip.decompress(request.body)
    assert plain.startswith(b'{"batch":[{"type":"track"')
    assert plain.endswith(b'Z"}')


@pytest.mark.parametrize(
    ("answer", "headers"),
    [(429, {"Retry-After": "300"}), (503, None)],
    ids=["300 s rate-limit wait", "retry backoff sleep"],
)
async def test_close_deadline_ends_waits(
    sink: SegmentSink, clock: FakeClock, answer: int, headers: dict[str, str] | None
) -> None:
    """A closing flush's deadline ends a rate-limit wait or a backoff sleep and fails the event in time."""
    sink.responder = statuses(then=answer, headers=headers)
    analytics = Analytics(write_key="k", host=sink.url, clock=clock)
    ctx = await analytics.track(event="E", user_id="u")
    closing = asyncio.ensure_future(analytics.flush(close=True, timeout=0.5))
    await eventually(lambda: sink.requests == 1)
    await clock.advance(0.5)
    await asyncio.wait_for(closing, 1)
    failure = ctx.failed_delivery()
    assert failure is not None
    assert isinstance(failure.reason, FlushTimeoutError)
    assert our_tasks() == []
    assert clock.pending_timers == []


def dead_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_100k_events_against_a_dead_server(clock: FakeClock) -> None:
    """100,000 events with nobody listening: memory stays bounded and every event is reported."""
    analytics = Analytics(write_key="k", host=f"http://127.0.0.1:{dead_port()}", clock=clock)
    reported = 0

    def on_error(event: ErrorEvent) -> None:
        nonlocal reported
        reported += 1

    analytics.on("error", on_error)
    blocks_at_20k = 0
    for i in range(100_000):
        if i == 20_000:  # the queue has been full for a while: from here on, nothing may accumulate
            gc.collect()
            blocks_at_20k = sys.getallocatedblocks()
        await analytics.track(event="Backfill", user_id="u", properties={"i": i, "pad": "x" * 200})
    gc.collect()
    growth = sys.getallocatedblocks() - blocks_at_20k
    # Each event held would keep ~20 blocks alive (80,000 events: ~1.6 million); allow noise only.
    assert growth < 20_000, f"{growth} memory blocks retained over the last 80,000 events"
    stats = analytics.stats()
    assert stats.queue_depth <= 10_000
    held = 100_000 - stats.dropped["QueueFullError"]
    # The full queue, 4 batches of 15 in flight, and the batch lingering up to the API's limits.
    assert 10_000 + 4 * 15 < held <= 10_000 + 4 * 15 + 2_500
    closing = asyncio.ensure_future(analytics.flush(close=True, timeout=1))
    await drive(clock, closing, step=1)
    stats = analytics.stats()
    assert stats.accepted == 100_000
    assert stats.delivered == 0
    assert sum(stats.failed.values()) + sum(stats.dropped.values()) == 100_000
    assert reported == 100_000


async def test_retry_after_on_a_503_pauses_every_batch(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock
) -> None:
    """A 503 with Retry-After: 3 holds every batch for 3 s (not a 1-2 s backoff), as a 429 would."""
    sink.responder = statuses(503, headers={"Retry-After": "3"})
    analytics = make_analytics(flush_at=1, clock=clock)
    first = await analytics.track(event="first", user_id="u")
    await eventually(lambda: sink.requests == 1)
    # The request reached the sink; run the loop until idle so its 429 has reached the client too
    # (under load, the second batch could otherwise leave before the pause is known).
    await clock.advance(0)
    second = await analytics.track(event="second", user_id="u")
    await clock.advance(2.9)
    assert sink.requests == 1
    await clock.advance(0.1)
    await eventually(lambda: len(sink.batches) == 2)
    assert await first.delivered()
    assert await second.delivered()
    assert analytics.stats().retries == 1


async def test_413_splits_the_batch_and_a_lone_event_fails_alone(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """A 413 sends each half on its own until batches fit; an event refused alone fails alone."""

    async def small_batches_only(request: web.Request, n: int) -> web.StreamResponse | None:
        events = json.loads(await request.read())["batch"]
        if len(events) > 2 or any(e["properties"].get("poison") for e in events):
            return web.Response(status=413, reason="Payload Too Large")
        return None

    sink.responder = small_batches_only
    analytics = make_analytics(flush_at=9)
    ctxs = [
        await analytics.track(event=f"E{i}", user_id="u", properties={"poison": i == 4}) for i in range(9)
    ]
    await analytics.flush()
    assert sorted(e["event"] for e in sink.events) == [f"E{i}" for i in range(9) if i != 4]
    assert all(len(b.events) <= 2 for b in sink.batches)
    failure = ctxs[4].failed_delivery()
    assert failure is not None
    assert str(failure.reason) == "[413] Payload Too Large"
    assert analytics.stats().failed == {"HTTPStatusError": 1}
