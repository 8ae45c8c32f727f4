"""The per-event-loop machinery: the queue, the one batcher task, and the batches in flight.

A Pipeline belongs to the event loop it was created in and to the `Runtime` that created it. It never
settles an event: each batch's outcome goes to `on_sent(envelopes, error)`. When its loop is gone
(consecutive `asyncio.run()` calls) the Runtime builds a new one and queues the unsettled events again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .._core.clock import wake
from .._core.settings import MAX_FLUSH_AT, Settings
from .._message.context import Envelope
from ..errors import AnalyticsError, DeliveryError, HTTPStatusError
from .batch import Batch, event_bytes_budget
from .event_queue import EventQueue
from .sender import Sender

__all__ = ["Pipeline"]

logger = logging.getLogger("analytics_async")

OnSent = Callable[[list[Envelope], AnalyticsError | None], None]


class Pipeline:
    """Batches queued envelopes by count, bytes and interval, and sends at most `max_in_flight`."""

    def __init__(
        self,
        settings: Settings,
        sender: Sender,
        on_sent: OnSent,
        flush_waiting: Callable[[], bool],
        on_loop_shutdown: Callable[[], Awaitable[None]],
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue = EventQueue(settings.max_queue_size)
        self._settings = settings
        self._sender = sender
        self._on_sent = on_sent
        self._flush_waiting = flush_waiting
        self._on_loop_shutdown = on_loop_shutdown
        self._byte_budget = event_bytes_budget(sender.key_json_bytes)
        self._in_flight: dict[asyncio.Task[None], list[Envelope]] = {}
        self._max_in_flight = settings.max_in_flight
        self._slot_waiter: asyncio.Future[None] | None = None
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
                # Cancelled by someone else: the loop is shutting down (end of asyncio.run). The events
                # stay open in the ledger for the next loop; release the HTTP session now.
                with contextlib.suppress(Exception):
                    await self._on_loop_shutdown()
            raise

    async def _batch_forever(self) -> None:
        settings, queue, clock = self._settings, self.queue, self._settings.clock
        while True:
            if not len(queue):
                await queue.wait(clock, None)
                continue
            batch = Batch(MAX_FLUSH_AT, self._byte_budget, clock.time())
            deadline = batch.started_at + settings.flush_interval
            # A batch takes every event already queued, up to the API's limits, and leaves once it
            # holds flush_at events, once the next event does not fit, or once a flush wants it or
            # the interval (from its first event) runs out. Wherever its events are, the ledger
            # knows them: nothing here has to be handed back on cancellation.
            while not queue.take_into(batch) and len(batch) < settings.flush_at and not batch.full:
                if self._flush_waiting() or self._stopping or not await queue.wait(clock, deadline):
                    break
            await self._linger(batch)
            task = self.loop.create_task(self._send(batch.envelopes))
            self._in_flight[task] = batch.envelopes
            task.add_done_callback(self._sent)

    async def _linger(self, batch: Batch) -> None:
        """While every send slot is busy, keep filling `batch`, up to the API's limits.

        As Kafka's producer lingers: a backlog leaves in few large requests whatever `flush_at` is,
        while a lone event still goes out the moment a slot is free. A finished send kicks the queue,
        so one wait serves both "more events" and "a slot is free".
        """
        queue, clock = self.queue, self._settings.clock
        while len(self._in_flight) >= self._max_in_flight:
            if queue.take_into(batch) or batch.full:
                await self._slot_free()  # the batch can take no more
            else:
                await queue.wait(clock, None)

    async def _slot_free(self) -> None:
        self._slot_waiter = waiter = self.loop.create_future()
        try:
            await waiter
        finally:
            self._slot_waiter = None

    async def _send(self, envelopes: list[Envelope], *, last: bool = True) -> None:
        """Send `envelopes` and report the outcome; `last`: nothing of this task's batch is left after."""
        error: AnalyticsError | None = None
        try:
            if not self._settings.disable:
                error = await self._sender.deliver([e.payload for e in envelopes])
        except asyncio.CancelledError:
            raise  # a closing flush out of time, or the loop ending: the events stay open
        except Exception as exc:  # a bug of ours: fail the batch loudly rather than strand it
            logger.exception("analytics_async: unexpected error in a batch send")
            error = DeliveryError(f"internal error: {type(exc).__name__}: {exc}")
        if isinstance(error, HTTPStatusError) and error.status == 413 and len(envelopes) > 1:
            # Too large for this server: send each half on its own (one event still too large fails alone).
            middle = len(envelopes) // 2
            await self._send(envelopes[:middle], last=False)
            await self._send(envelopes[middle:], last=last)
            return
        if last:  # the slot is free before anyone learns the outcome: stats() agree with a flush
            self._sent(asyncio.current_task())
        self._on_sent(envelopes, error)

    def _sent(self, task: asyncio.Task[Any] | None) -> None:
        """`task`'s batch is settled or its task ended: free its slot (once)."""
        if task is None or self._in_flight.pop(task, None) is None:
            return
        if self._slot_waiter is not None:
            wake(self._slot_waiter)
        self.queue.kick()  # a lingering batcher may send now

    def cancel(self) -> list[asyncio.Task[None]]:
        """Stop now: cancel the batcher and every send, release calls waiting for room.

        Returns the tasks to wait for. The envelopes stay open in the ledger for the caller to settle.
        """
        self._stopping = True
        tasks = [self._batcher, *self._in_flight]
        self._in_flight.clear()
        for task in tasks:
            task.cancel()
        self.queue.close()
        return tasks

    async def stop(self) -> None:
        """Stop the batcher once nothing is left to send (after a completed closing flush).

        Every event is settled by then, so a send still running has nothing left to deliver (its
        events were kept in the spool by a closing flush that was then cancelled): it is cancelled,
        not waited for.
        """
        self._stopping = True
        self.queue.close()
        tasks = [self._batcher, *self._in_flight]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
