"""An event loop in a background thread, and a handoff that feeds it from any thread.

Sync code (Django, Flask, Celery, scripts) and worker threads of async apps call the library from
threads that run no event loop, or not the instance's. `LoopThread` runs one loop in a daemon thread,
started on first use and started anew in a forked child (whose parent's thread does not exist
there). `Handoff` carries calls to a loop: the caller appends to a deque and the loop is woken at most
once per batch of calls, not once per call (`call_soon_threadsafe` writes to a pipe each time).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .._core import fork
from .sigmask import signals_blocked

__all__ = ["Handoff", "LoopThread"]

logger = logging.getLogger("analytics_async")

T = TypeVar("T")


class Handoff:
    """Runs `deliver(item, refused)` in `loop` for every `put(item)`, in order, from any thread.

    Callers may run ahead of the loop by `lead` items: a caller that finds that many still waiting
    waits until the loop has taken them, at most `max_wait` seconds. Eight threads calling in a tight
    loop hold the GIL eight times as often as the loop's one thread, which then falls behind without
    limit (measured: 29,000 of a 40,000-call burst dropped by a full queue at the defaults); a
    waiting caller hands the GIL to the loop instead.

    `deliver(item, False)` returns None, or a coroutine when the item must wait for room in the
    queue: the handoff runs it and takes no more items until it is done, so the callers are held
    back by the full queue too. When a caller's `max_wait` runs out the handoff is *stalled*: every
    item put from then on is refused at once (`put` returns False, and `deliver(item, True)` drops
    it, reported), while the items put before wait for room, until the waiting item has room. So a
    full queue holds callers back for `max_wait` at most, and `put`'s answer says exactly whether
    the item was refused. Stalled, the callers still wait for the loop to take their items (they
    are not let loose on the GIL, which would starve the loop of the turns it needs to make room);
    only a loop that takes none for `max_wait` (blocked by a callback, or starved of CPU) is not
    waited for until it has. Even then `limit` items at most are accepted while they wait for it: a
    caller that finds that many waits for the loop, `max_wait` at most, and its item is refused if
    the loop took none (it waits to be reported, but each thread adds one per `max_wait` at most).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        deliver: Callable[[Any, bool], Coroutine[Any, Any, object] | None],
        *,
        lead: int = 500,
        limit: int = 10_000,
        max_wait: float = 0.1,
    ) -> None:
        self.loop = loop
        self._deliver = deliver
        self._items: deque[tuple[Any, bool]] = deque()
        self._scheduled = False
        self._lead = max(1, lead)
        self._limit = max(self._lead, limit)
        self._max_wait = max_wait
        self._taken = threading.Event()  # set by a drain that left fewer than `lead` items
        self._loop_thread: int | None = None  # the loop's own thread never waits for itself
        self._waiting: asyncio.Task[object] | None = None  # an item waiting for room: no more taken
        self.stalled = False
        """A caller's wait for room ran out: items are refused until the queue has room again."""
        self._blocked = False  # stalled, and the loop took nothing for max_wait: no caller waits

    def put(self, item: object) -> bool:
        """Hand `item` over; False if it is refused (stalled: a full queue drops it). Thread-safe.

        Returns at once unless the loop is `lead` items behind.
        """
        refused = self.stalled
        items = self._items
        if len(items) >= self._limit and threading.get_ident() != self._loop_thread:
            refused = not self._taken_below(self._limit) or refused
        items.append((item, refused))
        if not self._scheduled:  # a drain that is already scheduled will see this item too
            self._scheduled = True
            self.loop.call_soon_threadsafe(self.drain)
        if len(items) >= self._lead and not self._blocked and threading.get_ident() != self._loop_thread:
            self._wait_for_loop()
        return not refused

    def _taken_below(self, count: int) -> bool:
        """Whether fewer than `count` items wait, or the loop takes them within `max_wait`.

        Clear, then look again: a drain that took the items before the clear leaves fewer (no wait);
        one that runs after it sets the event (every put is followed by a drain).
        """
        self._taken.clear()
        return len(self._items) < count or self._taken.wait(self._max_wait)

    def _wait_for_loop(self) -> None:
        if not self._taken_below(self._lead):
            if self._waiting is not None and not self.stalled:  # the queue stayed full
                self.stalled = True
                self.loop.call_soon_threadsafe(self.drain)  # take what waits behind the waiting item
            else:  # the loop itself took nothing (blocked by a callback): no caller waits for it
                self._blocked = True

    def drain(self) -> None:
        """Deliver the items handed over so far, unless one waits for room. In the loop's thread."""
        self._loop_thread = threading.get_ident()
        self._scheduled = False  # before popping: an item appended from now on schedules a new drain
        if self.stalled and self._waiting is None:
            # A caller's wait ran out just as `_resume` ended the stall (it sets the flag from its
            # own thread): with no item waiting for room, the queue is not known to be full.
            self.stalled = False
        items = self._items
        while items and (self._waiting is None or self.stalled):
            self._take(*items.popleft())
        if len(items) < self._lead:
            self._blocked = False
            self._taken.set()

    def drain_all(self) -> None:
        """Deliver every item handed over so far, now (a flush counts them). In the loop's thread."""
        self._scheduled = False
        items = self._items
        while items:
            self._take(*items.popleft())
        self._blocked = False
        self._taken.set()

    def _take(self, item: object, refused: bool) -> None:
        waits = self._deliver(item, refused)
        if waits is None:
            return
        task = self.loop.create_task(waits)  # the queue's putters are served in order
        if self._waiting is None:
            self._waiting = task
            task.add_done_callback(self._resume)

    def _resume(self, task: asyncio.Task[object]) -> None:
        self._waiting = None
        self.stalled = False  # the queue had room again
        self.drain()

    def __len__(self) -> int:
        return len(self._items)


class LoopThread:
    """One event loop running in a daemon thread, started on first use (and anew after a fork)."""

    def __init__(self, name: str = "analytics_async") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        fork.register(self)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The running loop, started if needed.

        Read on every call of every thread, so the common case takes no lock (8 threads queuing on it
        cost more CPU per event than the event): `_loop` is set only while its thread runs it.
        """
        loop = self._loop
        if loop is not None:
            return loop
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                self._start()
            assert self._loop is not None
            return self._loop

    @property
    def started(self) -> bool:
        """Whether the thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def _start(self) -> None:
        fork.check()  # forked without Python's hooks (uWSGI): the instances start empty first
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                with self._lock:
                    if self._loop is loop:  # not stopped by us (it raised): the next use starts anew
                        self._loop = self._thread = None
                    else:  # stopped for good (`finish`, `stop`): nothing will run it again
                        loop.close()

        thread = threading.Thread(target=run, name=self._name, daemon=True)
        with signals_blocked():  # the process's signals go to the app's threads (sigmask.py)
            thread.start()
        ready.wait()
        self._loop, self._thread = loop, thread

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` in the loop and wait for its result, at most `timeout` seconds.

        Raises:
            TimeoutError: `timeout` passed first (the coroutine is cancelled).
        """
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("cannot block the analytics loop thread on itself (called from a callback?)")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no result within {timeout:g} s") from None

    def finish(self, coro: Coroutine[Any, Any, object]) -> None:
        """Run `coro` in the loop, then stop the loop and let the thread end; returns at once.

        For a finalizer: it may run in any thread (the loop's own included) and while `loop` holds the
        lock, so it neither blocks nor takes the lock.
        """
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            coro.close()
            return
        self._loop = self._thread = None

        async def then_stop() -> None:
            try:
                await coro
            finally:
                loop.stop()

        asyncio.run_coroutine_threadsafe(then_stop(), loop)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and wait for the thread (at most `timeout` seconds)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None or not thread.is_alive():
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()

    def after_fork(self) -> None:
        """In a forked child the thread does not exist: start a new one on first use."""
        if self._thread is not None and fork.without_hooks:
            logger.warning(
                "analytics_async: this process was forked (by uWSGI?) without Python's fork hooks after "
                "the parent started the library's thread; its exit may hang. Run uWSGI with --lazy-apps, "
                "or send no events from the master process before it forks its workers"
            )
        fork.ABANDONED.append((self._loop, self._thread))
        self._lock = threading.Lock()  # the parent's may have been held at the fork
        self._loop = self._thread = None
