"""The durable spool (`spool=`): what a closing flush could not deliver is sent by the next instance."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from analytics_async import (
    Analytics,
    ConfigError,
    Context,
    ErrorEvent,
    FlushTimeoutError,
    SpooledError,
)
from analytics_async.testing import FakeClock, SegmentSink

from .conftest import MakeAnalytics
from .helpers import eventually, statuses


async def close_out_of_time(analytics: Analytics, clock: FakeClock, timeout: float = 5) -> None:
    """Close with `timeout`, moving the fake clock past it (the server never delivers)."""
    closing = asyncio.create_task(analytics.flush(close=True, timeout=timeout))
    await clock.advance(timeout)
    await asyncio.wait_for(closing, 5)


async def keep_events(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock, n: int, **settings: Any
) -> Analytics:
    """A first instance whose close runs out of time against a failing server keeps its n events."""
    sink.responder = statuses(then=503)
    first = make_analytics(clock=clock, **settings)
    for i in range(n):
        await first.track(event=f"e{i}", user_id="u")
    await close_out_of_time(first, clock, timeout=30)
    assert first.stats().failed == {"SpooledError": n}
    sink.responder = None
    return first


async def test_undelivered_events_are_sent_by_the_next_instance(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock, tmp_path: Path
) -> None:
    """Events a close could not deliver are kept, then sent by the next instance, unchanged."""
    spool = tmp_path / "segment.db"
    sink.responder = statuses(then=503)
    errors: list[ErrorEvent] = []
    first = make_analytics(spool=spool, clock=clock, flush_at=1)
    first.on("error", errors.append)
    ctxs = [await first.track(event=f"e{i}", user_id="u") for i in range(3)]
    await close_out_of_time(first, clock)
    reasons = [c.failed_delivery() for c in ctxs]
    assert all(r is not None and isinstance(r.reason, SpooledError) for r in reasons)
    assert all(isinstance(e.reason, FlushTimeoutError) for e in errors)
    assert f"; kept in the spool {spool} for the next instance" in str(errors[0].reason)
    assert first.stats().failed == {"SpooledError": 3}
    sent = {e["messageId"]: e for c in ctxs for e in [c.event]}

    sink.responder = None
    second = make_analytics(spool=spool, flush_at=100)
    delivered: list[Context] = []
    second.on("track", delivered.append)
    await second.identify(user_id="u")  # first use in a loop: takes the spool
    await eventually(lambda: second.stats().accepted == 4)
    await second.flush()
    arrived = {e["messageId"]: e for e in sink.events if e["type"] == "track"}
    assert arrived.keys() == sent.keys()
    for message_id, event in arrived.items():
        assert event["timestamp"] == sent[message_id]["timestamp"]
        assert event["event"] == sent[message_id]["event"]
    assert len(delivered) == 3
    assert second.stats().delivered == 4

    third = make_analytics(spool=spool)
    await third.identify(user_id="u")
    await third.flush()
    assert third.stats().accepted == 1  # taken once: nothing left


async def test_a_close_in_time_writes_nothing(make_analytics: MakeAnalytics, tmp_path: Path) -> None:
    """When everything is delivered, the spool stays empty (no file is even made)."""
    spool = tmp_path / "segment.db"
    analytics = make_analytics(spool=spool)
    await analytics.track(event="e", user_id="u")
    await analytics.flush(close=True, timeout=5)
    assert analytics.stats().delivered == 1
    assert not spool.exists()


async def test_another_write_key_does_not_take_the_events(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock, tmp_path: Path
) -> None:
    """Spooled events go back only to the source (write key) they were for; the key is not stored."""
    spool = tmp_path / "segment.db"
    await keep_events(make_analytics, sink, clock, 1, write_key="key-one", spool=spool)
    other = make_analytics(write_key="key-two", spool=spool)
    await other.identify(user_id="u")
    await other.flush()
    assert other.stats().accepted == 1
    assert b"key-one" not in spool.read_bytes()
    same = make_analytics(write_key="key-one", spool=spool)
    await same.identify(user_id="u")
    await eventually(lambda: same.stats().accepted == 2)


async def test_the_spool_is_bounded(
    make_analytics: MakeAnalytics,
    sink: SegmentSink,
    clock: FakeClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Events beyond spool_max_bytes are not kept: they fail with a plain FlushTimeoutError, logged."""
    spool = tmp_path / "segment.db"
    sink.responder = statuses(then=503)
    analytics = make_analytics(spool=spool, spool_max_bytes=1500, clock=clock)
    ctxs = [await analytics.track(event="e", user_id="u", properties={"pad": "x" * 400}) for _ in range(5)]
    with caplog.at_level(logging.WARNING, "analytics_async"):
        await close_out_of_time(analytics, clock)
    reasons = [type(c.failed_delivery().reason).__name__ for c in ctxs]  # type: ignore[union-attr]
    kept = reasons.count("SpooledError")
    assert kept == 2  # about 600 bytes each
    assert reasons == ["SpooledError"] * kept + ["FlushTimeoutError"] * (5 - kept)
    assert any(
        f"2 of 5 events kept in the spool {spool}; not the rest: it is full (spool_max_bytes=1500)"
        in r.getMessage()
        for r in caplog.records
    )
    failure = ctxs[-1].failed_delivery()
    assert failure is not None
    assert str(failure.reason).endswith("; not kept in the spool: it is full (spool_max_bytes=1500)")


async def test_an_unwritable_spool_fails_the_events_as_without_one(
    make_analytics: MakeAnalytics,
    sink: SegmentSink,
    clock: FakeClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A spool file that cannot be written: events fail with FlushTimeoutError, one warning says why."""
    spool = tmp_path / "segment.db"
    spool.write_bytes(b"this is not a database" * 100)
    sink.responder = statuses(then=503)
    analytics = make_analytics(spool=spool, clock=clock)
    ctx = await analytics.track(event="e", user_id="u")
    with caplog.at_level(logging.WARNING, "analytics_async"):
        await close_out_of_time(analytics, clock)
    failure = ctx.failed_delivery()
    assert failure is not None
    assert type(failure.reason) is FlushTimeoutError
    assert any("0 of 1 events kept in the spool" in r.getMessage() for r in caplog.records)
    assert "; not kept in the spool: DatabaseError: file is not a database" in str(failure.reason)


async def test_events_taken_at_close_time_are_not_lost(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock, tmp_path: Path
) -> None:
    """An instance closed right after its first call still sends (or keeps again) what it took."""
    spool = tmp_path / "segment.db"
    await keep_events(make_analytics, sink, clock, 1, spool=spool)
    second = make_analytics(spool=spool)
    await second.identify(user_id="u")  # starts the take; the close waits for it
    await second.flush(close=True, timeout=5)
    assert sorted(e["type"] for e in sink.events) == ["identify", "track"]


async def test_many_events_are_taken_in_rounds_the_queue_can_hold(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock, tmp_path: Path
) -> None:
    """A spool holding more than the queue is taken in rounds as the queue drains; nothing dropped."""
    spool = tmp_path / "segment.db"
    await keep_events(make_analytics, sink, clock, 1000, spool=spool, max_queue_size=1000)
    second = make_analytics(spool=spool, max_queue_size=300)
    await second.identify(user_id="u")
    await eventually(lambda: second.stats().delivered == 1001)
    stats = second.stats()
    assert stats.dropped == {}
    assert len({e["messageId"] for e in sink.events}) == 1001


def test_spool_settings_are_validated(tmp_path: Path) -> None:
    """A spool in a missing directory, a directory, or a bad bound is a ConfigError naming it."""
    with pytest.raises(ConfigError, match="spool: the directory"):
        Analytics(write_key="k", spool=tmp_path / "missing" / "segment.db")
    with pytest.raises(ConfigError, match="spool: is a directory"):
        Analytics(write_key="k", spool=tmp_path)
    with pytest.raises(ConfigError, match="spool: must be a file path"):
        Analytics(write_key="k", spool=42)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="spool_max_bytes"):
        Analytics(write_key="k", spool=tmp_path / "s.db", spool_max_bytes=0)


def test_the_file_is_plain_sqlite(tmp_path: Path) -> None:
    """The spool is an ordinary SQLite file an operator can inspect (one row per event)."""
    from analytics_async._delivery.spool import Spool  # noqa: PLC0415 - the file format, not an API

    spool = Spool(tmp_path / "s.db", 10_000, "key")
    assert spool.put([("track", b'{"type":"track"}'), ("identify", b'{"type":"identify"}')]) == 2
    with contextlib.closing(sqlite3.connect(tmp_path / "s.db")) as db:
        assert db.execute("SELECT kind FROM events ORDER BY id").fetchall() == [("track",), ("identify",)]
    assert spool.take(1) == ([("track", b'{"type":"track"}')], True)
    assert spool.take(5) == ([("identify", b'{"type":"identify"}')], False)


async def test_a_close_cancelled_while_writing_still_settles_what_was_kept(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock, tmp_path: Path
) -> None:
    """Cancelling a closing flush during the spool write: the events written still settle as kept."""
    spool = tmp_path / "segment.db"
    await keep_events(make_analytics, sink, clock, 1, spool=spool)
    sink.responder = statuses(then=503)
    analytics = make_analytics(spool=spool, clock=clock)
    ctxs = [await analytics.track(event="e", user_id="u") for _ in range(3)]
    await eventually(lambda: analytics.stats().accepted == 4)  # the first's event, taken
    blocker = sqlite3.connect(spool, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the write waits for this transaction
    closing = asyncio.create_task(analytics.flush(close=True, timeout=5))
    await clock.advance(5)
    assert not closing.done()
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    blocker.execute("ROLLBACK")
    blocker.close()
    await eventually(lambda: all(c.failed_delivery() is not None for c in ctxs))
    assert all(isinstance(c.failed_delivery().reason, SpooledError) for c in ctxs)  # type: ignore[union-attr]
    assert analytics.stats().failed == {"SpooledError": 4}
    with contextlib.closing(sqlite3.connect(spool)) as db:
        assert db.execute("SELECT count(*) FROM events").fetchone() == (4,)


def test_an_interrupted_write_keeps_the_chunks_committed_before(tmp_path: Path) -> None:
    """Interrupting a long write (a deadline) keeps what was committed: the first rows, in order."""
    from analytics_async._delivery.spool import Spool  # noqa: PLC0415 - the file format, not an API

    path = tmp_path / "s.db"
    spool = Spool(path, 10**9, "key")
    rows = [("track", b'{"n":%d}' % i) for i in range(300_000)]
    result: list[int] = []
    stop = threading.Event()
    writer = threading.Thread(target=lambda: result.append(spool.put(rows, stop)))
    writer.start()
    reader = sqlite3.connect(path, timeout=5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(sqlite3.OperationalError):  # the file may not have its table yet
            if reader.execute("SELECT count(*) FROM events").fetchone()[0]:
                break
        time.sleep(0.001)
    stop.set()
    spool.interrupt()
    writer.join(10)
    written = result[0]
    assert 0 < written < len(rows)
    assert written % 5000 == 0
    kept = [payload for (payload,) in reader.execute("SELECT payload FROM events ORDER BY id")]
    reader.close()
    assert kept == [payload for _, payload in rows[:written]]


async def test_instances_sharing_a_spool_each_take_distinct_events(
    make_analytics: MakeAnalytics, sink: SegmentSink, clock: FakeClock, tmp_path: Path
) -> None:
    """Two instances on one spool file (as two workers): every kept event is sent once, by one of them."""
    spool = tmp_path / "segment.db"
    await keep_events(make_analytics, sink, clock, 2000, spool=spool)
    workers = [make_analytics(spool=spool, max_queue_size=600) for _ in range(2)]
    for worker in workers:
        await worker.identify(user_id="u")
    await eventually(lambda: sum(w.stats().delivered for w in workers) == 2002)
    tracked = [e["messageId"] for e in sink.events if e["type"] == "track"]
    assert len(tracked) == len(set(tracked)) == 2000
    assert all(w.stats().accepted > 1 for w in workers)  # both took a share


def test_a_stop_set_before_an_operation_starts_is_honoured(tmp_path: Path) -> None:
    """A stop set before the worker thread started: the write keeps nothing, the take takes nothing."""
    from analytics_async._delivery.spool import Spool  # noqa: PLC0415 - the file format, not an API

    spool = Spool(tmp_path / "s.db", 10_000, "key")
    spool.put([("track", b"{}")])
    stop = threading.Event()
    stop.set()
    assert spool.put([("track", b"{}")] * 3, stop) == 0
    assert spool.take(10, stop) == ([], True)
    assert spool.take(10) == ([("track", b"{}")], False)


def test_the_file_shrinks_once_its_events_are_taken(tmp_path: Path) -> None:
    """Taking the events gives their disk space back: a spool does not stay at its high-water mark."""
    from analytics_async._delivery.spool import Spool  # noqa: PLC0415 - the file format, not an API

    path = tmp_path / "s.db"
    spool = Spool(path, 10**9, "key")
    spool.put([("track", b"x" * 1000)] * 3000)
    assert path.stat().st_size > 2_000_000
    assert len(spool.take(5000)[0]) == 3000
    assert path.stat().st_size < 100_000


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_a_new_spool_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """Spooled events carry user data: the file is created mode 0600 (SQLite's -wal follows it)."""
    from analytics_async._delivery.spool import Spool  # noqa: PLC0415 - the file format, not an API

    path = tmp_path / "s.db"
    Spool(path, 10_000, "key").put([("track", b"{}")])
    assert path.stat().st_mode & 0o777 == 0o600


def test_events_taken_as_a_loop_ends_are_sent_from_the_next_loop(
    threaded_sink: SegmentSink, tmp_path: Path
) -> None:
    """A take still running when asyncio.run() ends: its events are not lost, the next loop sends them."""
    spool = tmp_path / "segment.db"

    async def keep_three() -> None:
        async def hang(request: web.Request, n: int) -> None:
            await threaded_sink.hang()

        threaded_sink.responder = hang
        first = Analytics(write_key="k", host=threaded_sink.url, spool=spool, flush_at=1)
        for i in range(3):
            await first.track(event=f"e{i}", user_id="u")
        await first.flush(close=True, timeout=0.1)
        threaded_sink.responder = None

    asyncio.run(keep_three())
    second = Analytics(write_key="k", host=threaded_sink.url, spool=spool)

    async def first_use_then_end() -> None:
        await second.identify(user_id="u")  # starts the take; the loop ends right away

    asyncio.run(first_use_then_end())
    assert second.stats().accepted == 4  # taken while asyncio.run shut its executor down
    asyncio.run(second.flush(close=True, timeout=5))
    assert sorted(e.get("event", e["type"]) for e in threaded_sink.events) == ["e0", "e1", "e2", "identify"]
