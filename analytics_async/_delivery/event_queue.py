"""The bounded event queue between the calls (many producers) and the batcher (one consumer).

A deque with futures instead of `asyncio.Queue`: the batcher must also be woken by a flush (`kick`)
and by its interval deadline without a task per wait.
"""

from __future__ import annotations

import asyncio
from collections import deque

from .._core.clock import Clock, wait_until
from .._message.context import Envelope
from .batch import Batch

__all__ = ["EventQueue"]


class EventQueue:
    """FIFO of envelopes holding at most `maxsize`; one consumer waits with `wait`."""

    def __init__(self, maxsize: int) -> None:
        self._items: deque[Envelope] = deque()
        self._maxsize = maxsize
        self._getter: asyncio.Future[None] | None = None
        self._putters: deque[asyncio.Future[None]] = deque()
        self.closed = False

    def __len__(self) -> int:
        return len(self._items)

    def put_nowait(self, item: Envelope) -> int:
        """Append `item` unless the queue is full or closed; return the new length, or 0 if refused."""
        items = self._items
        if self.closed or len(items) >= self._maxsize:
            return 0
        items.append(item)
        getter = self._getter  # kick(), inlined: this runs once per event
        if getter is not None and not getter.done():
            getter.set_result(None)
        return len(items)

    async def put(self, item: Envelope) -> bool:
        """Append `item`, waiting for room; return False if the queue closed while waiting."""
        while not self.put_nowait(item):  # 0: full or closed
            if self.closed:
                return False
            fut = asyncio.get_running_loop().create_future()
            self._putters.append(fut)
            try:
                await fut
            except BaseException:
                if fut.done() and not fut.cancelled():
                    # Woken for room, then cancelled before it could take it: hand the wake-up on
                    # (as asyncio.Semaphore does), or the next waiter sleeps beside an empty queue.
                    self._wake_putter()
                raise
            finally:
                if fut in self._putters:
                    self._putters.remove(fut)
        return True

    def take_into(self, batch: Batch) -> bool:
        """Move queued envelopes into `batch` while they fit; True if the next one did not fit."""
        taken, blocked = batch.take_from(self._items)
        for _ in range(min(taken, len(self._putters))):
            self._wake_putter()
        return blocked

    async def wait(self, clock: Clock, deadline: float | None) -> bool:
        """Wait for an item or a `kick`; return False if `deadline` (clock time) came first."""
        if self._items:
            return True
        self._getter = fut = asyncio.get_running_loop().create_future()
        try:
            if deadline is None:
                await fut
                return True
            return await wait_until(clock, deadline, fut)
        finally:
            self._getter = None

    def kick(self) -> None:
        """Wake the consumer (an item arrived, or a flush wants partial batches now)."""
        if self._getter is not None and not self._getter.done():
            self._getter.set_result(None)

    def _wake_putter(self) -> None:
        while self._putters:
            fut = self._putters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def close(self) -> None:
        """Refuse further items, drop what is queued and release waiting producers.

        Whoever closes the queue settles its events (they are open in the ledger).
        """
        self.closed = True
        self._items.clear()
        for fut in self._putters:
            if not fut.done() and not fut.get_loop().is_closed():
                fut.set_result(None)
        self._putters.clear()

    def drop_all(self) -> None:
        """Forget every queued item, waking no one (a forked child's copy of its parent's queue)."""
        self._items.clear()

    def restore(self, items: list[Envelope]) -> None:
        """Put back `items` carried over from another loop, ahead of the rest and over `maxsize`."""
        self._items.extendleft(reversed(items))
        self.kick()
