"""The per-event-loop machinery: the queue, the one batcher task, and the batches in flight.

A Pipeline belongs to the event loop it was created in. When that loop is gone (consecutive
`asyncio.run()` calls), `Analytics` builds a new Pipeline and moves the unsettled envelopes of the old
one into it with `take_unsettled`, so nothing is lost between loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from ._batch import Batch, event_bytes_budget
from ._clock import wait_until
from ._context import Envelope, is_settled
from ._events import Emitter, ErrorEvent, FlushEvent
from ._queue import EventQueue
from ._report import Ledger, Reporter
from ._sender import Sender
from ._settings import Settings
from .errors import AnalyticsError, ClosedError, DeliveryError

__all__ = ["Pipeline"]

logger = logging.getLogger("analytics_async")


class Pipeline:
    """Batches queued envelopes by count, bytes and interval, and sends at most `max_in_flight`."""

    def __init__(  # noqa: PLR0917
        self,
        settings: Settings,
        sender: Sender,
        reporter: Reporter,
        ledger: Ledger,
        emitter: Emitter,
        on_loop_shutdown: Callable[[], Awaitable[None]],
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue = EventQueue(settings.max_queue_size)
        self._settings = settings
        self._sender = sender
        self._reporter = reporter
        self._ledger = ledger
        self._emitter = emitter
        self._on_loop_shutdown = on_loop_shutdown
        self._byte_budget = event_bytes_budget(sender.key_json_bytes)
        self._building: Batch | None = None
        self._in_flight: dict[asyncio.Task[None], list[Envelope]] = {}
        self._slots = asyncio.Semaphore(settings.max_in_flight)
        self._stopping = False
        self._batcher = self.loop.create_task(self._run(), name="analytics_async batcher")

    @property
    def in_flight(self) -> int:
        """Batches being sent now."""
        return len(self._in_flight)

    async def _run(self) -> None:
        try:
            await self._batch_forever()
        except asyncio.CancelledError:
            if not self._stopping:
                # Cancelled by someone else: the loop is shutting down (end of asyncio.run). The
                # envelopes stay where they are for take_unsettled(); release the HTTP session.
                with contextlib.suppress(Exception):
                    await self._on_loop_shutdown()
            raise

    async def _batch_forever(self) -> None:
        settings, queue, clock = self._settings, self.queue, self._settings.clock
        while True:
            if not len(queue):
                await queue.wait(clock, None)
                continue
            batch = self._building = Batch(settings.flush_at, self._byte_budget, clock.time())
            deadline = batch.started_at + settings.flush_interval
            # Fill until full, until the next event does not fit, or until a flush wants it now or
            # the interval (from the batch's first event) runs out.
            while not queue.take_into(batch) and not batch.full:
                if self._ledger.flush_waiting or self._stopping or not await queue.wait(clock, deadline):
                    break
            await self._slots.acquire()
            self._building = None
            task = self.loop.create_task(self._send(batch.envelopes))
            self._in_flight[task] = batch.envelopes
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._slots.release()
        if task.cancelled():
            return  # its envelopes stay in _in_flight for abort() or take_unsettled()
        if (exc := task.exception()) is not None:
            # A bug of ours: fail the batch loudly rather than leave its events unsettled forever.
            logger.error("analytics_async: unexpected error in a batch send", exc_info=exc)
            self._emitter.emit("error", ErrorEvent("unknown", exc))
            envelopes = self._in_flight.pop(task, [])
            self._reporter.failed(envelopes, DeliveryError(f"internal error: {exc!r}"))

    async def _send(self, envelopes: list[Envelope]) -> None:
        error: AnalyticsError | None = None
        if not self._settings.disable:
            error = await self._sender.deliver([e.payload for e in envelopes])
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.pop(task, None)
        if error is None:
            self._reporter.delivered(envelopes)
        else:
            self._reporter.failed(envelopes, error)
        self._emitter.emit("flush", FlushEvent(len(envelopes), error is None, error))

    async def wait_settled(self, timeout: float | None) -> bool:
        """Send partial batches now and wait for every event accepted so far to settle.

        Returns False if `timeout` seconds (on the settings' clock) passed first.
        """
        barrier = self._ledger.barrier()
        if barrier is None:
            return True
        self.queue.kick()
        try:
            if timeout is None:
                await barrier
                return True
            clock = self._settings.clock
            return await wait_until(clock, clock.time() + timeout, barrier)
        finally:
            barrier.cancel()

    async def abort(self, reason: DeliveryError) -> None:
        """Stop everything now and fail every unsettled envelope with `reason`."""
        self._stopping = True
        tasks = [self._batcher, *self._in_flight]
        for task in tasks:
            task.cancel()
        unsettled = self.take_unsettled()  # before the tasks finish: nothing can settle in between
        self.queue.close()  # calls waiting for room (queue_full="wait") return, reporting ClosedError
        await asyncio.gather(*tasks, return_exceptions=True)
        self._reporter.failed(unsettled, reason)
        await self._reporter.cancel_callbacks()

    async def stop(self) -> None:
        """Stop the batcher once nothing is left to send (after a completed closing flush)."""
        self._stopping = True
        for envelope in self.queue.close():  # empty after a completed flush; never drop silently
            self._reporter.dropped(envelope, ClosedError("the instance closed before sending it"))
        self._batcher.cancel()
        await asyncio.gather(self._batcher, *self._in_flight, return_exceptions=True)

    def take_unsettled(self) -> list[Envelope]:
        """Remove and return every envelope not yet settled: queued, batching or in flight."""
        envelopes = self.queue.take_all()
        if self._building is not None:
            envelopes[:0] = self._building.envelopes
            self._building = None
        for batch in self._in_flight.values():
            envelopes[:0] = batch
        self._in_flight.clear()
        return [e for e in envelopes if not is_settled(e.ctx)]
