"""Settling events: the ledger of unsettled events flushes wait on, and the reporter that tells users.

Every accepted event passes through `Reporter.finish` exactly once: its Context is settled, the
counters move, its callback runs (guarded; a coroutine callback is awaited for at most 1 s), then the
`<type>` or `error` event is emitted, and only then does the ledger count it as settled.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Final

from ._context import Context, Envelope, settle
from ._events import Emitter, ErrorEvent
from ._stats import Counters
from ._tasks import cancel_and_wait

__all__ = ["CALLBACK_TIMEOUT", "Ledger", "Reporter"]

logger = logging.getLogger("analytics_async")

CALLBACK_TIMEOUT: Final = 1.0
_TYPE_EVENTS: Final = ("track", "identify", "page", "screen", "group", "alias")
"""Seconds a coroutine callback may run before the pipeline goes on without it (as analytics-node)."""


class _Barrier:
    __slots__ = ("future", "limit", "remaining")

    def __init__(self, limit: int, remaining: int, future: asyncio.Future[None]) -> None:
        self.limit = limit
        self.remaining = remaining
        self.future = future


class Ledger:
    """Counts unsettled events; a flush waits on a barrier for the events accepted before it."""

    def __init__(self, emitter: Emitter) -> None:
        self._emitter = emitter
        self._seq = 0
        self.pending = 0
        self._barriers: list[_Barrier] = []

    def open(self, envelope: Envelope) -> None:
        """Count `envelope` as unsettled and give it its sequence number."""
        self._seq += 1
        envelope.seq = self._seq
        self.pending += 1

    def close(self, envelope: Envelope) -> None:
        """Count `envelope` as settled; release barriers it completes; emit `drained` at zero."""
        self.close_many([envelope])

    def close_many(self, envelopes: list[Envelope]) -> None:
        """Count `envelopes` as settled, with one pass over the barriers; emit `drained` at zero."""
        self.pending -= len(envelopes)
        if self._barriers:
            for barrier in self._barriers:
                barrier.remaining -= sum(1 for e in envelopes if e.seq <= barrier.limit)
                if barrier.remaining <= 0 and not barrier.future.done():
                    barrier.future.set_result(None)
            self._barriers = [b for b in self._barriers if not b.future.done()]
        if self.pending == 0:
            self._emitter.emit("drained", None)

    def barrier(self) -> asyncio.Future[None] | None:
        """A future resolved once every event accepted so far is settled; None if none is pending."""
        if self.pending == 0:
            return None
        future = asyncio.get_running_loop().create_future()
        self._barriers.append(_Barrier(self._seq, self.pending, future))
        return future

    @property
    def flush_waiting(self) -> bool:
        """Whether a flush is waiting, so partial batches should go without waiting out the interval."""
        if self._barriers:
            self._barriers = [b for b in self._barriers if not b.future.done()]
        return bool(self._barriers)

    def rebind(self, carried: Iterable[Envelope]) -> None:
        """Start over in a new event loop with `carried` as the only unsettled events."""
        self.pending = 0
        self._barriers = []
        for envelope in carried:
            self.open(envelope)


class Reporter:
    """Tells the user how each event ended: ctx state, counters, callback, emitted event."""

    def __init__(
        self,
        emitter: Emitter,
        counters: Counters,
        ledger: Ledger,
        after: Callable[[Context], Awaitable[None]] | None = None,
    ) -> None:
        self._emitter = emitter
        self._counters = counters
        self._ledger = ledger
        self._after = after
        self._callbacks: set[asyncio.Task[None]] = set()

    def delivered(self, envelopes: Iterable[Envelope]) -> None:
        """Report `envelopes` as delivered.

        Events with no callback and no plugin work settle in one pass per batch: one counter update,
        one ledger update, and `<type>` events only when someone listens to them.
        """
        plain: list[Envelope] = []
        for envelope in envelopes:
            if envelope.callback is None and envelope.work is None and not envelope.after:
                if settle(envelope.ctx, None):
                    plain.append(envelope)
            else:
                self.finish(envelope, None)
        if not plain:
            return
        self._counters.delivered += len(plain)
        emitter = self._emitter
        if emitter.listens_any(_TYPE_EVENTS):
            for envelope in plain:
                emitter.emit(envelope.kind, envelope.ctx)
        self._ledger.close_many(plain)

    def failed(self, envelopes: Iterable[Envelope], reason: BaseException) -> None:
        """Report `envelopes` as failed with `reason` (delivery was attempted)."""
        for envelope in envelopes:
            self.finish(envelope, reason)

    def dropped(self, envelope: Envelope, reason: BaseException) -> None:
        """Report `envelope` as dropped with `reason` (delivery never attempted)."""
        self.finish(envelope, reason, dropped=True)

    def finish(self, envelope: Envelope, reason: BaseException | None, *, dropped: bool = False) -> None:
        """Settle one event and report it; a second report of the same event is ignored."""
        if not settle(envelope.ctx, reason):
            return
        counters = self._counters
        if reason is None:
            counters.delivered += 1
        elif dropped:
            counters.dropped[type(reason).__name__] += 1
        else:
            counters.failed[type(reason).__name__] += 1
        if envelope.work is not None or envelope.after:
            self._track(self._plugins_then_report(envelope, reason))
            return
        self._report(envelope, reason)

    async def _plugins_then_report(self, envelope: Envelope, reason: BaseException | None) -> None:
        """Wait for the event's destination plugins, run the `after` plugins, then report."""
        try:
            if envelope.work is not None:
                await envelope.work
            if envelope.after and self._after is not None:
                await self._after(envelope.ctx)
        finally:
            self._report(envelope, reason)

    def _track(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._callbacks.add(task)
        task.add_done_callback(self._callbacks.discard)

    def _report(self, envelope: Envelope, reason: BaseException | None) -> None:
        """Run the callback (a coroutine one in a task, at most 1 s), then announce."""
        callback = envelope.callback
        if callback is not None:
            try:
                result = callback(reason, envelope.ctx)
            except Exception:
                logger.exception("analytics_async: Callback Error")
            else:
                if inspect.isawaitable(result):
                    self._track(self._await_callback(result, envelope, reason))
                    return
        self._announce(envelope, reason)

    async def _await_callback(
        self, result: Awaitable[Any], envelope: Envelope, reason: BaseException | None
    ) -> None:
        try:
            async with asyncio.timeout(CALLBACK_TIMEOUT):
                await result
        except TimeoutError:
            logger.warning("analytics_async: Callback Error: still running after %ss", CALLBACK_TIMEOUT)
        except Exception:
            logger.exception("analytics_async: Callback Error")
        finally:
            self._announce(envelope, reason)

    def _announce(self, envelope: Envelope, reason: BaseException | None) -> None:
        if reason is None:
            self._emitter.emit(envelope.kind, envelope.ctx)
        else:
            self._emitter.emit("error", ErrorEvent("delivery_failure", reason, envelope.ctx))
        if envelope.seq:
            self._ledger.close(envelope)

    async def cancel_callbacks(self) -> None:
        """Give running callbacks and after-plugin work one loop step, then cancel the rest and wait."""
        if not self._callbacks:
            return
        await asyncio.sleep(0)
        await cancel_and_wait(list(self._callbacks))
