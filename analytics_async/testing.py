"""Helpers for testing code that uses analytics-async: a fake clock and a local Segment server.

```python
from analytics_async import Analytics
from analytics_async.testing import FakeClock, SegmentSink

async with SegmentSink() as sink:
    clock = FakeClock()
    analytics = Analytics(write_key="test", host=sink.url, clock=clock)
    await analytics.track(event="Signed Up", user_id="u1")
    await clock.advance(10)           # the flush interval passes instantly
    await analytics.flush(close=True)
    assert sink.events[0]["event"] == "Signed Up"
```
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable

from ._sink import ReceivedBatch, Responder, SegmentSink

__all__ = ["FakeClock", "ReceivedBatch", "Responder", "SegmentSink"]


class _Timer:
    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], object]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock whose time moves only when `advance` is awaited; pass it as `Analytics(clock=...)`.

    Timers due at or before the new time run in order, each followed by a few event-loop steps so
    the code they wake can schedule its next timer before time moves on.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _Timer]] = []
        self._order = itertools.count()

    def time(self) -> float:
        """The fake current time in seconds."""
        return self._now

    def call_at(self, when: float, callback: Callable[[], object]) -> _Timer:
        """Schedule `callback` at fake time `when`."""
        timer = _Timer(callback)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        return timer

    @property
    def pending_timers(self) -> list[float]:
        """The due times of the timers not yet run or cancelled, soonest first."""
        return sorted(when for when, _, timer in self._timers if not timer.cancelled)

    async def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, running every timer that falls due on the way."""
        target = self._now + seconds
        await _settle_loop()
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, when)
            timer.callback()
            await _settle_loop()
        self._now = target
        await _settle_loop()


async def _settle_loop(steps: int = 5) -> None:
    for _ in range(steps):
        await asyncio.sleep(0)
