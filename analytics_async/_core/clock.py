"""The clock seam: every timer of the library (batch interval, flush timeout, retry backoff) reads it.

The default clock is the running event loop's. Tests pass a fake clock whose time only moves when the
test says so, so timing logic is tested instantly (the idea of trio's MockClock).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "LoopClock", "TimerHandle", "sleep", "wait_until", "wake"]


@runtime_checkable
class TimerHandle(Protocol):
    """A scheduled callback that can be cancelled."""

    def cancel(self) -> None:
        """Stop the callback from running; a no-op once it ran."""


@runtime_checkable
class Clock(Protocol):
    """Monotonic time in seconds, and callbacks scheduled on it. Must be used from the loop's thread."""

    def time(self) -> float:
        """Return the current time in seconds (any origin, never going backwards)."""

    def call_at(self, when: float, callback: Callable[[], object]) -> TimerHandle:
        """Run `callback` once `time()` reaches `when`; return a handle that can cancel it."""


class LoopClock:
    """The running event loop's clock (`loop.time()` and `loop.call_at`)."""

    def time(self) -> float:
        """Return the running loop's monotonic time."""
        return asyncio.get_running_loop().time()

    def call_at(self, when: float, callback: Callable[[], object]) -> TimerHandle:
        """Schedule `callback` at loop time `when`."""
        return asyncio.get_running_loop().call_at(when, callback)


def wake(fut: asyncio.Future[None]) -> None:
    """Resolve `fut` unless it is done already."""
    if not fut.done():
        fut.set_result(None)


async def sleep(clock: Clock, seconds: float) -> None:
    """Sleep `seconds` on `clock`. Cancellation cancels the timer too."""
    await wait_until(clock, clock.time() + seconds, asyncio.get_running_loop().create_future())


async def wait_until(clock: Clock, deadline: float, fut: asyncio.Future[None]) -> bool:
    """Wait until `fut` is done or `clock` reaches `deadline`; return True if `fut` finished first.

    `fut` is resolved by the timer when the deadline passes, so one future serves both outcomes and
    no task is created. The timer is cancelled on every exit, including cancellation.
    """
    if fut.done():
        return True
    if deadline <= clock.time():
        return False  # already past: do not depend on the clock to fire a timer for it
    fired = False

    def on_deadline() -> None:
        nonlocal fired
        fired = not fut.done()
        wake(fut)

    handle = clock.call_at(deadline, on_deadline)
    try:
        await fut
    finally:
        handle.cancel()
    return not fired
