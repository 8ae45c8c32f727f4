"""Sync and threaded code: the drop-in Client, the module-level API, and threads into an async app."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import analytics_async.sync as sync_analytics
from analytics_async import (
    Analytics,
    Context,
    ErrorEvent,
    HTTPStatusError,
    QueueFullError,
    SimplePlugin,
    TransportError,
    ValidationError,
)
from analytics_async._threads import threadcall
from analytics_async.sync import APIError, Client, InvalidCallError, MessageTooLargeError, from_thread
from analytics_async.testing import SegmentSink

from .helpers import eventually


@pytest.fixture
def client(threaded_sink: SegmentSink) -> Iterator[Client]:
    """A drop-in Client pointed at a sink served from its own thread; shut down afterwards."""
    made = Client("wk", host=threaded_sink.url)
    yield made
    made.shutdown(timeout=5)


def test_calls_from_twenty_threads_are_delivered_once(client: Client, threaded_sink: SegmentSink) -> None:
    """20 threads x 100 calls through one Client: 2,000 events arrive, each exactly once."""

    def worker(n: int) -> None:
        for i in range(100):
            assert client.track(f"user-{n}", "Clicked", {"i": i})[0] is True

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.flush()
    ids = [e["messageId"] for e in threaded_sink.events]
    assert len(ids) == len(set(ids)) == 2000


def test_a_burst_from_threads_is_held_back_not_dropped(
    threaded_sink: SegmentSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """4 threads x 250 calls into a queue of 50, the server answering in 2 ms: every one delivered.

    Threads that call faster than the loop sends wait for room (as long as it comes, here without a
    limit) instead of filling the queue and dropping; the official SDK drops from the 51st call.
    """

    async def slow(request: web.Request, n: int) -> None:
        await asyncio.sleep(0.002)

    monkeypatch.setattr(threadcall, "MAX_WAIT", 30.0)
    threaded_sink.responder = slow
    failures: list[BaseException] = []
    client = Client("wk", host=threaded_sink.url, max_queue_size=50, on_error=lambda e, _: failures.append(e))
    results: list[bool] = []

    def worker(n: int) -> None:
        results.extend(client.track(f"user-{n}", "Clicked", {"i": i})[0] for i in range(250))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.shutdown(timeout=10)
    ids = [e["messageId"] for e in threaded_sink.events]
    assert len(ids) == len(set(ids)) == 1000
    assert (results.count(True), failures) == (1000, [])


def test_a_loop_blocked_by_a_callback_delays_callers_once_and_drops_nothing(
    threaded_sink: SegmentSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop thread blocked 50 ms while a thread calls 300 times (lead 100): no call refused.

    A wait that runs out while no event waits for room means the loop, not the queue, is behind:
    callers stop waiting for it until it drains again, and every event is still delivered.
    """
    monkeypatch.setattr(threadcall, "MAX_WAIT", 0.005)
    client = Client("wk", host=threaded_sink.url, max_queue_size=1000)
    assert client.track("u", "first")[0] is True
    client._thread.loop.call_soon_threadsafe(time.sleep, 0.05)  # a callback that blocks the loop
    results = [client.track("u", "E", {"i": i})[0] for i in range(300)]
    client.shutdown(timeout=5)
    assert results == [True] * 300
    assert len({e["messageId"] for e in threaded_sink.events}) == 301


def test_a_loop_that_takes_nothing_holds_at_most_max_queue_size_calls(
    threaded_sink: SegmentSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loop blocked (or starved of CPU) while a thread calls: max_queue_size calls wait for it.

    The first 100 calls (max_queue_size) are handed over at once; each call after that waits
    MAX_WAIT for the loop and is refused: False, reported to on_error as QueueFullError once the
    loop is back (so those wait too, but each thread adds one per MAX_WAIT at most), and every
    accepted call is delivered.
    """
    monkeypatch.setattr(threadcall, "MAX_WAIT", 0.001)
    dropped: list[str] = []

    def on_error(error: BaseException, batch: list[dict[str, Any]]) -> None:
        if isinstance(error, QueueFullError):
            dropped.extend(message["messageId"] for message in batch)

    client = Client("wk", host=threaded_sink.url, max_queue_size=100, on_error=on_error)
    first = client.track("u", "first")[1]["messageId"]
    blocked, gate = threading.Event(), threading.Event()

    def block() -> None:  # a callback that blocks the loop
        blocked.set()
        gate.wait(10)

    client._thread.loop.call_soon_threadsafe(block)
    assert blocked.wait(5)
    results = [client.track("u", "E", {"i": i}) for i in range(250)]
    assert client._submitter is not None
    most_waiting = client._submitter.pending
    gate.set()
    client.shutdown(timeout=5)
    assert [ok for ok, _ in results] == [True] * 100 + [False] * 150
    assert most_waiting == 250  # the refused wait to be reported
    assert sorted(dropped) == sorted(m["messageId"] for ok, m in results if not ok)
    delivered = sorted(e["messageId"] for e in threaded_sink.events)
    assert delivered == sorted([first] + [m["messageId"] for ok, m in results if ok])


def test_a_queue_that_stays_full_drops_after_the_wait_and_says_so(
    threaded_sink: SegmentSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that does not answer: once a caller waited MAX_WAIT, calls into the full queue fail.

    They return False and their events reach on_error as QueueFullError; every event whose call
    returned True is delivered once the server answers, once each, and calls return True again as
    soon as there is room. (Before the queue
    fills, 4 batches in flight and a lingering one of up to 2,500 events take what comes.)
    """
    release = threading.Event()

    async def held(request: web.Request, n: int) -> None:
        while not release.is_set():
            await asyncio.sleep(0.001)

    monkeypatch.setattr(threadcall, "MAX_WAIT", 0.005)
    threaded_sink.responder = held
    dropped: list[str] = []

    def on_error(error: BaseException, batch: list[dict[str, Any]]) -> None:
        if isinstance(error, QueueFullError):
            dropped.extend(message["messageId"] for message in batch)

    client = Client("wk", host=threaded_sink.url, max_queue_size=20, on_error=on_error)
    results = [client.track("u", "E", {"i": i}) for i in range(3_500)]
    release.set()
    client.flush()
    refused = [message["messageId"] for ok, message in results if not ok]
    delivered = [e["messageId"] for e in threaded_sink.events]
    assert refused
    assert sorted(refused) == sorted(dropped)  # False exactly for the events reported dropped
    assert sorted(delivered) == sorted(m["messageId"] for ok, m in results if ok)
    assert client.track("u", "After")[0] is True
    client.shutdown(timeout=5)
    assert threaded_sink.events[-1]["event"] == "After"


def test_the_official_signatures_and_results(client: Client, threaded_sink: SegmentSink) -> None:
    """Positional arguments in the official SDK's order; (True, message) with string ids and messageId."""
    ok, message = client.track("u1", "Signed Up", {"plan": "pro"})
    assert ok is True
    assert (message["userId"], message["event"], message["properties"]) == (
        "u1",
        "Signed Up",
        {"plan": "pro"},
    )
    assert isinstance(message["messageId"], str)
    assert message["timestamp"].endswith("Z")
    client.identify("u1", {"email": "u1@example.com"})
    client.group("u1", "g1", {"seats": 3})
    client.alias("anon-1", "u1")
    client.page("u1", "Docs", "Intro", {"path": "/docs"})
    client.screen("u1", "App", "Home")
    client.track(user_id=42, event="Keyword")
    client.flush()
    got = [(e["type"], e.get("userId"), e.get("previousId"), e.get("groupId")) for e in threaded_sink.events]
    assert got == [
        ("track", "u1", None, None), ("identify", "u1", None, None), ("group", "u1", None, "g1"),
        ("alias", "u1", "anon-1", None), ("page", "u1", None, None), ("screen", "u1", None, None),
        ("track", "42", None, None),
    ]  # fmt: skip


def test_invalid_calls_raise_what_the_official_sdk_raises(client: Client) -> None:
    """Bad arguments raise AssertionError (and our ValidationError); oversize events RuntimeError."""
    with pytest.raises(AssertionError) as info:
        client.track(None, "E")
    assert type(info.value) is InvalidCallError
    assert issubclass(InvalidCallError, ValidationError)
    with pytest.raises(AssertionError):
        client.track("u", "E", properties="not a dict")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError) as too_big:
        client.track("u", "E", {"blob": "x" * 40_000})
    assert isinstance(too_big.value, MessageTooLargeError)
    with pytest.raises(AssertionError):
        Client(None)


def test_on_error_gets_each_failed_event(threaded_sink: SegmentSink) -> None:
    """on_error(error, [message]) is called once per event that failed, as the official SDK's hook."""

    async def reject(request: web.Request, n: int) -> web.StreamResponse:
        await request.read()
        return web.Response(status=400)

    threaded_sink.responder = reject
    failures: list[tuple[str, list[dict[str, Any]]]] = []
    client = Client("wk", host=threaded_sink.url, on_error=lambda e, batch: failures.append((str(e), batch)))
    client.track("u", "E1")
    client.track("u", "E2")
    client.shutdown(timeout=5)
    assert sorted(batch[0]["event"] for _, batch in failures) == ["E1", "E2"]
    assert {text for text, _ in failures} == {"[Segment] unknown: Bad Request (400)"}


def test_on_error_gets_the_official_sdks_api_error(threaded_sink: SegmentSink) -> None:
    """A refused event reaches on_error as an APIError with status, code and message (and ours)."""

    async def reject(request: web.Request, n: int) -> web.StreamResponse:
        await request.read()
        return web.Response(status=403)

    threaded_sink.responder = reject
    failures: list[BaseException] = []
    client = Client("wk", host=threaded_sink.url, on_error=lambda e, batch: failures.append(e))
    client.track("u", "E")
    client.shutdown(timeout=5)
    [error] = failures
    assert isinstance(error, APIError)
    assert isinstance(error, HTTPStatusError)
    assert (error.status, error.code, error.message) == (403, "unknown", "Forbidden")


@pytest.mark.parametrize(
    ("status", "headers"), [(500, {}), (429, {"Retry-After": "30"}), (400, {})]
)  # fmt: skip
def test_sync_mode_makes_one_attempt_and_raises(
    threaded_sink: SegmentSink, status: int, headers: dict[str, str]
) -> None:
    """sync_mode: a refused event raises APIError at the call after one request, as the official SDK."""

    async def refuse(request: web.Request, n: int) -> web.StreamResponse:
        await request.read()
        return web.Response(status=status, headers=headers)

    threaded_sink.responder = refuse
    failures: list[BaseException] = []
    client = Client("wk", host=threaded_sink.url, sync_mode=True, on_error=lambda e, _: failures.append(e))
    with pytest.raises(APIError) as raised:
        client.track("u", "E")
    assert raised.value.status == status
    assert threaded_sink.requests == 1
    threaded_sink.responder = None
    assert client.track("u", "Next")[0] is True  # the next call sends as usual
    client.shutdown(timeout=5)
    assert [e["event"] for e in threaded_sink.events] == ["Next"]
    assert failures == []  # raised at the call instead, as the official SDK


def test_sync_mode_is_bounded_by_timeout(threaded_sink: SegmentSink) -> None:
    """sync_mode against a server that never answers: the call raises after `timeout`, one attempt."""

    async def hang(request: web.Request, n: int) -> None:
        await threaded_sink.hang()

    threaded_sink.responder = hang
    client = Client("wk", host=threaded_sink.url, sync_mode=True, timeout=0.05)
    with pytest.raises(TransportError, match=r"no response within 0\.05 s"):
        client.track("u", "E")
    assert threaded_sink.requests == 1
    client.shutdown(timeout=0.05)


def test_sync_mode_and_send_false(threaded_sink: SegmentSink) -> None:
    """sync_mode=True delivers before the call returns; send=False sends nothing but answers (True, msg)."""
    blocking = Client("wk", host=threaded_sink.url, sync_mode=True)
    blocking.track("u", "Now")
    assert [e["event"] for e in threaded_sink.events] == ["Now"]
    blocking.shutdown()
    silent = Client("wk", host=threaded_sink.url, send=False)
    assert silent.track("u", "Never")[0] is True
    silent.shutdown()
    assert [e["event"] for e in threaded_sink.events] == ["Now"]


def test_flush_timeout_bounds_the_wait(threaded_sink: SegmentSink) -> None:
    """flush(timeout=...) returns while the server hangs; shutdown's deadline fails what is left."""

    async def hang(request: web.Request, n: int) -> None:
        await threaded_sink.hang()

    threaded_sink.responder = hang
    failures: list[BaseException] = []
    client = Client("wk", host=threaded_sink.url, on_error=lambda e, batch: failures.append(e))
    client.track("u", "E")
    client.flush(timeout=0.05)  # returns: delivery goes on in the background
    client.shutdown(timeout=0.05)
    assert [type(e).__name__ for e in failures] == ["FlushTimeoutError"]


def test_module_level_api_is_one_import_away(
    threaded_sink: SegmentSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`import analytics_async.sync as analytics`, set write_key and host, call: as segment.analytics."""
    monkeypatch.setattr(sync_analytics, "default_client", None)
    monkeypatch.setattr(sync_analytics, "write_key", "wk")
    monkeypatch.setattr(sync_analytics, "host", threaded_sink.url)
    assert sync_analytics.track("u1", "Signed Up", {"plan": "pro"})[0] is True
    sync_analytics.identify("u1", {"name": "Ada"})
    sync_analytics.flush()
    assert [e["type"] for e in threaded_sink.events] == ["track", "identify"]
    sync_analytics.shutdown()


async def test_worker_threads_send_through_the_apps_own_instance(sink: SegmentSink) -> None:
    """from_thread(analytics): run_in_executor workers send through the instance in the app's loop."""
    analytics = Analytics(write_key="wk", host=sink.url)
    caller = from_thread(analytics)
    loop = asyncio.get_running_loop()

    def endpoint(i: int) -> str:  # a FastAPI `def` endpoint runs like this, in a worker thread
        message = caller.track(event="From Thread", user_id=f"u{i}", properties={"i": i})
        return str(message["messageId"])

    ids = await asyncio.gather(*(loop.run_in_executor(None, endpoint, i) for i in range(50)))
    await eventually(lambda: analytics.stats().accepted == 50)
    await analytics.flush(close=True)
    assert sorted(e["messageId"] for e in sink.events) == sorted(ids)
    with pytest.raises(ValidationError):
        await loop.run_in_executor(None, lambda: caller.track(event="", user_id="u"))


def test_a_spool_keeps_what_shutdown_could_not_deliver(threaded_sink: SegmentSink, tmp_path: Path) -> None:
    """Client(spool=...): events a shutdown deadline cut off are sent by the next Client."""

    async def hang(request: web.Request, n: int) -> None:
        await threaded_sink.hang()

    threaded_sink.responder = hang
    failures: list[BaseException] = []
    spool = tmp_path / "spool.db"
    first = Client("wk", host=threaded_sink.url, spool=spool, on_error=lambda e, _: failures.append(e))
    for i in range(3):
        first.track("u", f"E{i}")
    first.shutdown(timeout=0.1)
    assert [type(e).__name__ for e in failures] == ["SpooledError"] * 3
    threaded_sink.responder = None
    second = Client("wk", host=threaded_sink.url, spool=spool)
    second.identify("u")
    second.shutdown(timeout=5)
    assert sorted(e.get("event", e["type"]) for e in threaded_sink.events) == ["E0", "E1", "E2", "identify"]


async def test_calls_handed_over_are_accepted_when_the_loop_takes_them(sink: SegmentSink) -> None:
    """150 calls from a thread while the loop is busy: all accepted in the loop's next step.

    A flush started right after them (the drop-in's `flush()`) must count every one; none may wait
    behind the fairness yield of a tight loop of awaited calls, which is for the loop's own callers.
    """
    analytics = Analytics(write_key="k", host=sink.url, flush_at=1)
    await analytics.identify(user_id="u")  # binds the instance to this loop
    caller = from_thread(analytics)
    worker = threading.Thread(target=lambda: [caller.track(event=f"E{i}", user_id="u") for i in range(150)])
    worker.start()
    worker.join()  # blocks this loop: the calls wait in the handoff, their drain is scheduled
    seen: list[int] = []
    asyncio.get_running_loop().call_soon(lambda: seen.append(analytics.stats().accepted))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert seen == [151]
    await analytics.flush(close=True, timeout=5)
    assert analytics.stats().delivered == 151


async def test_a_flush_in_the_loop_covers_calls_threads_made_before_it(sink: SegmentSink) -> None:
    """Calls a thread made (and returned from) before the loop's flush began are all settled by it."""
    analytics = Analytics(write_key="k", host=sink.url, flush_at=1)
    await analytics.identify(user_id="u")
    caller = from_thread(analytics)
    worker = threading.Thread(target=lambda: [caller.track(event=f"E{i}", user_id="u") for i in range(150)])
    worker.start()
    worker.join()  # blocks this loop: the calls wait in the handoff, not yet taken by the loop
    await analytics.flush()
    stats = analytics.stats()
    assert (stats.accepted, stats.delivered, stats.unsettled) == (151, 151, 0)
    await analytics.flush(close=True, timeout=5)


async def test_with_plugins_a_flush_covers_calls_threads_made_before_it(sink: SegmentSink) -> None:
    """With an enrichment plugin too: handed-over calls are counted before the flush begins."""

    async def enrich(ctx: Context) -> Context:
        await asyncio.sleep(0)
        ctx.update_event("properties.enriched", True)
        return ctx

    analytics = Analytics(write_key="k", host=sink.url, flush_at=1)
    await analytics.register(SimplePlugin(name="enrich", type="enrichment", hook=enrich))
    await analytics.identify(user_id="u")
    caller = from_thread(analytics)
    worker = threading.Thread(target=lambda: [caller.track(event=f"E{i}", user_id="u") for i in range(150)])
    worker.start()
    worker.join()
    await analytics.flush()
    stats = analytics.stats()
    assert (stats.accepted, stats.delivered, stats.unsettled) == (151, 151, 0)
    assert all(e["properties"]["enriched"] for e in sink.events if e["type"] == "track")
    await analytics.flush(close=True, timeout=5)


def test_a_handed_over_call_cut_short_by_its_loop_ending_is_reported(threaded_sink: SegmentSink) -> None:
    """A thread's call still inside plugins when the app's loop ends fails with a reason, never vanishes."""
    analytics = Analytics(write_key="k", host=threaded_sink.url)
    errors: list[ErrorEvent] = []
    analytics.on("error", errors.append)

    async def never(ctx: Context) -> Context:
        await asyncio.Event().wait()
        return ctx

    async def app() -> None:
        await analytics.register(SimplePlugin(name="slow", type="enrichment", hook=never))
        caller = from_thread(analytics)
        worker = threading.Thread(target=lambda: caller.track(event="E", user_id="u"))
        worker.start()
        worker.join()
        await asyncio.sleep(0)  # the loop takes the call: it is inside the plugin when the app ends

    asyncio.run(app())
    stats = analytics.stats()
    assert (stats.accepted, stats.unsettled, dict(stats.failed)) == (1, 0, {"DeliveryError": 1})
    assert [str(e.reason) for e in errors] == ["cancelled before it was queued (did its event loop end?)"]


@pytest.fixture
def library_logger() -> Iterator[logging.Logger]:
    """The library's logger, with its level and handlers put back after the test (debug=True sets them)."""
    logger = logging.getLogger("analytics_async")
    level, handlers = logger.level, list(logger.handlers)
    yield logger
    logger.setLevel(level)
    logger.handlers[:] = handlers


def test_debug_writes_each_step_to_stderr(
    threaded_sink: SegmentSink, library_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    """debug=True, as the official SDK: enqueue, request, response lines on stderr; no secret or content."""
    client = Client("sekrit-write-key", host=threaded_sink.url, debug=True)
    Client("sekrit-write-key", host=threaded_sink.url, debug=True).shutdown()  # a second: one handler
    _, message = client.track("u", "Signed Up", {"plan": "pro-plan-secret"})
    client.flush()
    client.shutdown()
    err = capsys.readouterr().err
    assert f"queued track {message['messageId']}" in err
    assert f"POST {threaded_sink.url}/v1/batch: 1 events" in err
    assert "answered 200 OK" in err
    assert "flushed" in err
    assert err.count("answered 200") == 1  # the handler is attached once
    assert "sekrit" not in err
    assert "c2Vrcml0" not in err  # the write key in Basic auth
    assert "pro-plan-secret" not in err


def test_a_client_dropped_without_join_closes_quietly(
    threaded_sink: SegmentSink, caplog: pytest.LogCaptureFixture
) -> None:
    """A Client garbage-collected without join(): its events are sent, its thread ends, nothing warns.

    (Warnings are errors in this suite: "Unclosed connector" or an unraisable exception would fail it.)
    """
    client = Client("wk", host=threaded_sink.url, upload_interval=60)
    client.track("u", "E")
    thread = client._thread  # to watch it end
    del client
    gc.collect()
    for _ in range(500):
        if threaded_sink.events and not thread.started:
            break
        time.sleep(0.01)
    assert [e["event"] for e in threaded_sink.events] == ["E"]
    assert not thread.started
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
