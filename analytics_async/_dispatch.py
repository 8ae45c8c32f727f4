"""From a built message to the queue of the running loop: closed check, plugins, serialization.

`Dispatcher` owns the per-loop `Pipeline` (created on first use, replaced after a loop change with
the unsettled events carried over) and the call path that feeds it. `Analytics` is the public facade.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ._batch import MAX_EVENT_BYTES
from ._context import Callback, Context, Envelope, context_of_payload
from ._events import Emitter
from ._json import dumps
from ._pipeline import Pipeline
from ._plugins import BeforeFailed, Plugins
from ._report import Ledger, Reporter
from ._sender import Sender
from ._settings import Settings
from ._stats import Counters
from .errors import ClosedError, EventTooLargeError, QueueFullError

__all__ = ["Dispatcher"]

logger = logging.getLogger("analytics_async")


def _serialize(message: dict[str, Any]) -> bytes:
    """The event's JSON, or ValidationError / EventTooLargeError raised at the call."""
    payload = dumps(message)
    if len(payload) > MAX_EVENT_BYTES:
        raise EventTooLargeError(len(payload), MAX_EVENT_BYTES)
    return payload


class Dispatcher:
    """Accepts built messages into the pipeline of the running event loop."""

    def __init__(  # noqa: PLR0917 - the parts of one Analytics, wired once
        self,
        settings: Settings,
        emitter: Emitter,
        counters: Counters,
        ledger: Ledger,
        reporter: Reporter,
        plugins: Plugins,
        sender: Sender,
        on_loop_shutdown: Callable[[], Awaitable[None]],
    ) -> None:
        self._settings = settings
        self._emitter = emitter
        self._counters = counters
        self._ledger = ledger
        self._reporter = reporter
        self._plugins = plugins
        self._sender = sender
        self._on_loop_shutdown = on_loop_shutdown
        self.pipeline: Pipeline | None = None
        self.closed = False

    async def accept(self, message: dict[str, Any], callback: Callback | None) -> Context:
        """Queue a built, validated message; return its Context once queued (or reported dropped).

        Raises:
            ValidationError: a value cannot be serialized, or the event is above 32 KB.
            RuntimeError: the instance is in use by another running event loop.
        """
        type_ = message["type"]
        if self.closed:
            return self._after_close(message, callback)
        pipeline = self.pipeline
        if pipeline is None or pipeline.loop is not asyncio.get_running_loop():
            pipeline = self.bound_pipeline()
        if self._plugins.active:
            return await self._with_plugins(pipeline, message, callback)
        payload = _serialize(message)
        # Only the JSON stays in memory while queued (about 0.7 KB instead of 5.5 KB per event).
        envelope = Envelope(context_of_payload(payload), payload, callback, type_)
        self._counters.accepted += 1
        self._ledger.open(envelope)
        queued = pipeline.queue.put_nowait(envelope)  # the common case, inline: no extra coroutine
        if not queued:
            await self._enqueue(pipeline, envelope)
        elif queued % self._settings.flush_at == 0:
            await asyncio.sleep(0)  # a full batch waits: let the batcher run even in a tight loop
        return envelope.ctx

    async def _with_plugins(
        self, pipeline: Pipeline, message: dict[str, Any], callback: Callback | None
    ) -> Context:
        """The call's path when plugins are registered: before and enrichment run before queueing."""
        envelope = Envelope(Context(message), b"", callback, message["type"])
        self._counters.accepted += 1
        self._ledger.open(envelope)  # flush waits for events still inside plugins
        plugins = self._plugins
        try:
            await plugins.wait_registrations()
            ctx = envelope.ctx = await plugins.before_and_enrichment(envelope.ctx)
            envelope.payload = _serialize(ctx.event)
        except BeforeFailed as failed:
            self._reporter.failed([envelope], failed.reason)
            return envelope.ctx
        except BaseException:  # invalid after the plugins (raised to the caller) or cancelled
            self._counters.accepted -= 1
            self._ledger.close(envelope)
            raise
        to_segment, destinations = plugins.route(ctx)
        envelope.work = plugins.start_destinations(ctx, destinations)
        envelope.after = plugins.has_after
        if to_segment:
            await self._enqueue(pipeline, envelope)
        else:
            self._reporter.delivered([envelope])  # integrations turned Segment.io off: nothing to send
        return ctx

    async def _enqueue(self, pipeline: Pipeline, envelope: Envelope) -> None:
        """Queue `envelope`, or wait for room, or report it dropped, per `queue_full`."""
        queue = pipeline.queue
        if queued := queue.put_nowait(envelope):
            if queued % self._settings.flush_at == 0:
                await asyncio.sleep(0)  # a full batch waits: let the batcher run in a tight loop
        elif self._settings.queue_full == "drop" or not await queue.put(envelope):
            reason = (
                ClosedError("the Analytics instance closed while the call waited for room")
                if queue.closed
                else QueueFullError(f"max_queue_size={self._settings.max_queue_size} reached")
            )
            self._reporter.dropped(envelope, reason)

    def _after_close(self, message: dict[str, Any], callback: Callback | None) -> Context:
        """A call after close: validated, announced with `call_after_close`, reported as dropped."""
        envelope = Envelope(Context(message), _serialize(message), callback, message["type"])
        self._counters.accepted += 1
        self._emitter.emit("call_after_close", message)
        self._reporter.dropped(envelope, ClosedError("the Analytics instance is closed"))
        return envelope.ctx

    def bound_pipeline(self) -> Pipeline:
        """The pipeline of the running loop, created on first use or after a loop change."""
        loop = asyncio.get_running_loop()
        old = self.pipeline
        if old is not None and old.loop is loop:
            return old
        carried = []
        if old is not None:
            if old.loop.is_running():
                raise RuntimeError(
                    "this Analytics instance is in use by another running event loop; "
                    "create one instance per event loop (or per thread)"
                )
            carried = old.take_unsettled()
            if carried:
                logger.warning(
                    "analytics_async: %d events from an event loop that ended before they were "
                    "delivered are sent from the new loop; await analytics.flush() before a loop "
                    "ends to deliver them in time",
                    len(carried),
                )
        self._ledger.rebind(carried)
        self.pipeline = pipeline = Pipeline(
            self._settings, self._sender, self._reporter, self._ledger, self._emitter,
            self._on_loop_shutdown,
        )  # fmt: skip
        pipeline.queue.restore(carried)
        return pipeline

    def current_pipeline(self) -> Pipeline | None:
        """The pipeline to flush: this loop's, or a new one here if events were left elsewhere."""
        if self.pipeline is None:
            return None
        if self.pipeline.loop is asyncio.get_running_loop() or self._ledger.pending:
            return self.bound_pipeline()
        return None
