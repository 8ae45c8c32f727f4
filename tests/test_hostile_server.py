"""A server that misbehaves on the wire: huge and cut-off bodies, odd headers; secrets never leak."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from analytics_async import (
    Analytics,
    Context,
    ErrorEvent,
    HTTPRequest,
    HTTPResponse,
    TransportError,
)
from analytics_async._delivery import aiohttp_client
from analytics_async.testing import FakeClock, RecordingClient, SegmentSink

from .conftest import MakeAnalytics
from .helpers import drive, eventually

WRITE_KEY = "wk-Zq9-secret"
BASIC = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()


async def test_huge_error_body_is_never_read_whole(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """A 500 streaming a 200 MB body: the client reads a small prefix and drops the connection."""
    written = 0

    async def huge(request: web.Request, n: int) -> web.StreamResponse:
        nonlocal written
        await request.read()
        response = web.StreamResponse(status=500)
        response.content_length = 200 * 2**20
        await response.prepare(request)
        chunk = b"x" * 2**20
        try:
            for _ in range(200):
                await response.write(chunk)
                written += len(chunk)
        except (ConnectionResetError, ConnectionError, RuntimeError):
            pass
        return response

    sink.responder = huge
    analytics = make_analytics(max_retries=0)
    ctx = await analytics.track(event="E", user_id="u")
    await asyncio.wait_for(analytics.flush(), 10)
    assert str(ctx.failed_delivery().reason) == "[500] Internal Server Error"  # type: ignore[union-attr]
    await eventually(lambda: written > 0)
    assert written < 32 * 2**20, f"the client let the server write {written >> 20} MB"


async def test_cut_off_200_counts_as_delivered(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """A 200 whose body is cut off mid-way is an accepted batch: delivered once, never re-sent."""

    async def cut_off(request: web.Request, n: int) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(status=200)
        response.content_length = 1000
        await response.prepare(request)
        await response.write(b'{"success":')
        assert request.transport is not None
        request.transport.close()
        return response

    sink.responder = cut_off
    analytics = make_analytics(max_retries=3)
    ctx = await analytics.track(event="E", user_id="u")
    await asyncio.wait_for(analytics.flush(), 10)
    assert await ctx.delivered(timeout=0) is True
    assert sink.requests == 1


@pytest.mark.parametrize("status", [200, 202])
@pytest.mark.parametrize("body", ["stalls", "resets", "garbage"])
async def test_a_2xx_status_line_decides_whatever_the_body_does(
    make_analytics: MakeAnalytics, sink: SegmentSink, monkeypatch: pytest.MonkeyPatch, status: int, body: str
) -> None:
    """2xx headers, then a body that never comes, a reset, or bytes that are not JSON: delivered, once.

    Before, a stalled body ran into http_request_timeout, counted as a transport failure, and the
    batch was sent again (2 requests within 3 s, still unsettled).
    """
    monkeypatch.setattr(aiohttp_client, "BODY_WAIT", 0.01)

    async def answer(request: web.Request, n: int) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(status=status)
        response.content_length = 64
        await response.prepare(request)
        assert request.transport is not None
        if body == "stalls":
            await sink.hang()
        elif body == "resets":
            request.transport.abort()
        else:
            await response.write(b"\xff\xfe<html>not json")
            await sink.hang()
        return response

    sink.responder = answer
    analytics = make_analytics(max_retries=3, http_request_timeout=5)
    ctx = await analytics.track(event="E", user_id="u")
    await asyncio.wait_for(analytics.flush(), 4)  # well before the request timeout
    assert await ctx.delivered(timeout=0) is True
    assert (sink.requests, analytics.stats().retries) == (1, 0)


@pytest.mark.parametrize(
    ("value", "waited"),
    [
        ("9" * 5000, 300.0),
        ("-" + "9" * 5000, None),
        ("  7  ", 7.0),
        ("1e3", 1.0),
        ("soon", None),
        ("\u00ff", None),
    ],
    ids=["5000 digits", "-5000 digits", "spaces", "1e3", "word", "latin-1"],
)
async def test_odd_retry_after_values(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock, value: str, waited: float | None
) -> None:
    """Any Retry-After value is handled: a usable one pauses (capped at 300 s), others mean a plain retry."""

    async def limited(request: web.Request, n: int) -> web.StreamResponse | None:
        if n > 1:
            return None
        await request.read()
        return web.Response(status=429, headers={"Retry-After": value})

    sink.responder = limited
    analytics = make_analytics(clock=clock, max_retries=1)
    ctx = await analytics.track(event="E", user_id="u")
    flushing = asyncio.ensure_future(analytics.flush())
    await eventually(lambda: sink.requests == 1)
    start = clock.time()
    await drive(clock, flushing, step=0.5)
    assert await ctx.delivered(timeout=0) is True
    assert sink.requests == 2
    elapsed = clock.time() - start
    if waited is None:
        assert elapsed <= 2.5  # a counted backoff retry (1-2 s), not a rate-limit pause
    else:
        assert waited <= elapsed <= waited + 1


def _everything_shown(exc: BaseException) -> Iterator[str]:
    """Every text an exception can show: str, repr, args, attributes, chain, traceback frames' locals."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        error = todo.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        yield str(error)
        yield repr(error)
        yield repr(error.args)
        yield repr(vars(error))
        todo.extend(e for e in (error.__cause__, error.__context__) if e is not None)
        tb = error.__traceback__
        while tb is not None:
            yield repr(tb.tb_frame.f_locals)
            tb = tb.tb_next


class LeakyClient(RecordingClient):
    """A custom HTTPClient whose errors quote the request, Authorization header included."""

    async def answer(self, request: HTTPRequest) -> HTTPResponse:
        """Fail with the request's headers in the message and the request as the cause."""
        try:
            raise ValueError(request)
        except ValueError as inner:
            raise RuntimeError(f"send failed: {dict(request.headers)}") from inner


@pytest.mark.parametrize("transport", ["reset", "refused", "huge header", "leaky client"])
async def test_secrets_never_in_errors_events_or_logs(
    sink: SegmentSink, caplog: pytest.LogCaptureFixture, transport: str
) -> None:
    """Transport failures reach callbacks, error events, ctx and logs without the write key at any depth."""
    caplog.set_level(logging.DEBUG)

    async def reset(request: web.Request, n: int) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    async def huge_header(request: web.Request, n: int) -> web.StreamResponse:
        await request.read()
        return web.Response(headers={"X-Huge": "x" * 100_000})  # more than aiohttp's client will parse

    settings: dict[str, Any] = {"write_key": WRITE_KEY, "max_retries": 1, "host": sink.url}
    if transport == "reset":
        sink.responder = reset
    elif transport == "huge header":
        sink.responder = huge_header
    elif transport == "refused":
        settings["host"] = "http://127.0.0.1:9"  # discard port: nothing listens
    else:
        settings["http_client"] = LeakyClient()
    analytics = Analytics(**settings, clock=FakeClock())
    reasons: list[BaseException | None] = []
    errors: list[ErrorEvent] = []
    analytics.on("error", errors.append)

    def callback(err: BaseException | None, ctx: Context) -> None:
        reasons.append(err)

    ctx = await analytics.track(event="E", user_id="u", callback=callback)
    flushing = asyncio.ensure_future(analytics.flush(close=True))
    await drive(analytics._settings.clock, flushing)  # type: ignore[arg-type]
    failure = ctx.failed_delivery()
    assert failure is not None
    assert isinstance(failure.reason, TransportError)
    shown = [*_everything_shown(failure.reason), caplog.text, repr(errors), repr(reasons)]
    for error in [*reasons, *(e.reason for e in errors)]:
        assert error is not None
        shown.extend(_everything_shown(error))
    for text in shown:
        assert WRITE_KEY not in text
        assert BASIC not in text
    assert str(failure.reason)  # the reason still says what happened
