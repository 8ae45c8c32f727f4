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

__all__ = ["Handoff", "LoopThread"]

logger = logging.getLogger("analytics_async")

T = TypeVar("T")


class Handoff:
    """Runs `deliver(item)` in `loop` for every `put(item)`, in order, from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, deliver: Callable[[Any], None]) -> None:
        self.loop = loop
        self._deliver = deliver
        self._items: deque[Any] = deque()
        self._scheduled = False

    def put(self, item: object) -> None:
        """Hand `item` over; returns at once. Thread-safe."""
        self._items.append(item)
        if not self._scheduled:  # a drain that is already scheduled will see this item too
            self._scheduled = True
            self.loop.call_soon_threadsafe(self.drain)

    def drain(self) -> None:
        """Deliver every item handed over so far. In the loop's thread (also called by a flush)."""
        self._scheduled = False  # before popping: an item appended from now on schedules a new drain
        items = self._items
        while items:
            self._deliver(items.popleft())

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
        """The running loop, started if needed."""
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
            loop.run_forever()
            if self._loop is not loop:  # stopped for good (`finish`, `stop`): nothing will run it again
                loop.close()

        thread = threading.Thread(target=run, name=self._name, daemon=True)
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
