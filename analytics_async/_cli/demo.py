"""`python -m analytics_async demo`: real events through the library to a local Segment-compatible server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from .._lifecycle.client import Analytics
from .sink import DEFAULT_KEEP, SegmentSink

__all__ = ["run_demo"]


async def _send_events(analytics: Analytics, users: int) -> int:
    """Send a realistic mix of all six call types for `users` users; return how many calls were made."""
    calls = 0
    signup = datetime.now(UTC) - timedelta(days=3)
    for n in range(users):
        user, anon = f"user-{n:04d}", f"anon-{n:04d}"
        await analytics.page(
            anonymous_id=anon, category="Marketing", name="Pricing", properties={"path": "/pricing"}
        )
        await analytics.identify(
            user_id=user, anonymous_id=anon, traits={"plan": "pro", "created_at": signup}
        )
        await analytics.alias(user_id=user, previous_id=anon)
        await analytics.group(
            group_id=f"org-{n % 7}", user_id=user, traits={"name": f"Org {n % 7}", "seats": 5}
        )
        await analytics.screen(user_id=user, name="Dashboard", properties={"widgets": 4})
        for item in range(3):
            await analytics.track(
                event="Item Purchased",
                user_id=user,
                properties={"sku": f"SKU-{item}", "revenue": 9.95 + item, "currency": "EUR"},
                context={"ip": "203.0.113.7"},
            )
        calls += 8
    return calls


async def run_demo(
    users: int = 40, *, ui: bool = False, port: int = 0, stop: asyncio.Event | None = None
) -> int:
    """Run the demo and print what the server received; return a process exit code.

    `ui`: the sink serves its Source Debugger page, which stays open after the demo until SIGINT or
    SIGTERM (or `stop` is set).
    """
    sink = SegmentSink(ui=ui, keep=max(DEFAULT_KEEP, users * 8))
    await sink.start(port=port)
    try:
        code = await _demo(sink, users)
        if ui:
            await _keep_open(sink, stop or asyncio.Event())
        return code
    finally:
        await sink.stop()


async def _keep_open(sink: SegmentSink, stop: asyncio.Event) -> None:
    """Serve the page until SIGINT/SIGTERM or `stop`."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread, or Windows
            loop.add_signal_handler(sig, stop.set)
    print(f"\nSource Debugger: open {sink.url}/ to see these events (Ctrl-C to stop)", flush=True)
    await stop.wait()


async def _demo(sink: SegmentSink, users: int) -> int:
    """Send the demo's events to `sink` and print what it received."""
    print(f"Local Segment-compatible server listening at {sink.url}/v1/batch")
    failures: list[BaseException] = []
    analytics = Analytics(write_key="demo-write-key", host=sink.url, flush_at=50, flush_interval=0.5)
    analytics.on("error", lambda event: failures.append(event.reason))
    started = time.perf_counter()
    calls = await _send_events(analytics, users)
    queued = time.perf_counter() - started
    await analytics.close_and_flush(timeout=30)
    elapsed = time.perf_counter() - started
    print(f"Sent {calls} calls in {queued * 1000:.1f} ms; all settled after {elapsed * 1000:.1f} ms\n")
    print(f"{'batch':>5}  {'events':>6}  {'bytes':>7}  types")
    for index, batch in enumerate(sink.batches, 1):
        types = Counter(e["type"] for e in batch.events)
        summary = ", ".join(f"{k} {v}" for k, v in sorted(types.items()))
        print(f"{index:>5}  {len(batch.events):>6}  {batch.wire_bytes:>7}  {summary}")
    received = Counter(e["type"] for e in sink.events)
    print("\nEvents received by type:", ", ".join(f"{k}={v}" for k, v in sorted(received.items())))
    print("One of them, as it arrived:")
    print(json.dumps(sink.events[-1], indent=2))
    stats = analytics.stats()
    print(f"\nStats: accepted={stats.accepted} delivered={stats.delivered} failed={dict(stats.failed)} "
          f"dropped={dict(stats.dropped)} batches={stats.batches_sent}")  # fmt: skip
    unique = len({e["messageId"] for e in sink.events})
    ok = not failures and unique == len(sink.events) == calls
    print("OK: every event arrived exactly once." if ok else f"PROBLEM: failures={failures!r}")
    return 0 if ok else 1


def main(users: int = 40, *, ui: bool = False, port: int = 0) -> int:
    """Entry point for the `demo` command."""
    return asyncio.run(run_demo(users, ui=ui, port=port))
