"""From a built message to the queue: the `Intake` that the Runtime owns.

A call either returns a Context, and then its event is settled exactly once, or raises, and then
nothing was accepted: a caller cancelled while its event waits (for plugins, for room) withdraws it,
and no await follows the moment an event is queued. The common case makes no coroutine at all.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from .._core.events import Emitter
from .._core.settings import Settings
from .._core.stats import Counters
from .._delivery.pipeline import Pipeline
from .._message.build import serialize
from .._message.context import (
    Callback,
    Context,
    Envelope,
    context_of_message,
    context_of_payload,
    is_settled,
    seal,
)
from ..errors import ClosedError, DeliveryError, QueueFullError
from .ledger import Ledger
from .plugin import SEGMENT_IO, sends_to_segment
from .settle import Settler
from .stage import BeforeFailed, PluginStage, Verdict

if TYPE_CHECKING:
    from .._delivery.observe import BatchObserver
    from .._delivery.spool import Row

__all__ = ["YIELD_EVERY", "Accepted", "Handoff", "Intake", "Loops"]

logger = logging.getLogger("analytics_async")

YIELD_EVERY = 100
"""A tight loop of calls lets the batcher and the sends run after this many queued events (or a full
queue). Measured: every 15 (flush_at's default) made 3,900 requests for a 100,000-event burst and
0.6x the streaming floor; every 100, batches of ~100 and about 1.0x."""

Accepted = Context | Coroutine[Any, Any, Context]
"""The Context of an event queued at once, or a coroutine that waits and then returns it."""


class Loops(Protocol):
    """What the intake needs of its owner: the pipeline of the loop in use, made on first use there."""

    pipeline: Pipeline | None
    """The pipeline of the loop the instance runs in (None before its first use)."""

    def bind(self) -> Pipeline:
        """The pipeline of the running loop, made (or made anew after a loop change) if need be."""
        ...


class Handoff(Protocol):
    """What the intake needs of a thread's handoff (`_threads.loopthread.Handoff`): its loop, draining."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the calls are handed to."""
        ...

    def drain_all(self) -> None:
        """Accept every call handed over so far, now (in the loop's thread)."""
        ...


class Intake:
    """Accepts the events of one instance: opens each in the ledger, runs plugins, queues it.

    Owned by the Runtime: it reads the owner's pipeline (`Loops`) and reports every outcome through
    the owner's Settler; it holds the state of accepting alone (closed, the fairness yield, the
    handoffs of other threads).
    """

    def __init__(
        self,
        *,
        loops: Loops,
        settings: Settings,
        counters: Counters,
        ledger: Ledger,
        emitter: Emitter,
        stage: PluginStage,
        settler: Settler,
        observers: list[BatchObserver],
    ) -> None:
        self._loops = loops
        self.settings = settings
        self.counters = counters
        self.ledger = ledger
        self.emitter = emitter
        self.stage = stage
        self._settler = settler
        self._observers = observers
        """The owner's batch observers: while there are any, events record their acceptance time."""
        self.closed = False
        """Set by a closing flush: calls from then on are reported as dropped (`call_after_close`)."""
        self._handoffs: weakref.WeakSet[Handoff] = weakref.WeakSet()
        self._yield_first = False
        self._yield_every = min(YIELD_EVERY, settings.max_queue_size)

    def after_fork(self) -> None:
        """In a forked child: the parent's threads and their calls are not here."""
        self._yield_first = False
        self._handoffs = weakref.WeakSet()

    def accept(
        self,
        message: dict[str, Any],
        callback: Callback | None,
        payload: bytes | None = None,
    ) -> Accepted:
        """Take a built message: plugins, serialization, queue.

        Returns its Context at once when the event could be queued without waiting (the common case:
        no coroutine is made for it); otherwise a coroutine that waits (the batcher's turn, plugins,
        room in the queue) and then returns the Context. `payload` is the message's JSON when the caller
        serialized it already.

        Raises:
            ValidationError: a value cannot be serialized, or the event is above 32 KB.
            PlanViolationError: the event breaks a tracking plan that says "raise".
            RuntimeError: the instance is in use by another running event loop.
        """
        if self.stage.checks and (verdict := self.stage.check_call(message)) is not None:
            self.violated(verdict)
            if verdict.action == "raise":
                raise verdict.error()
            if verdict.action == "drop":
                return self._settle_at_once(message, callback, payload, verdict.error())
        if self._yield_first or self.closed:
            return self._accept_waiting(message, callback, payload)
        pipeline = self._loops.pipeline
        if pipeline is None or pipeline.loop is not asyncio.get_running_loop():
            pipeline = self._loops.bind()
        if self.stage.active and message["type"] in self.stage.staged_kinds:
            return self._staged(pipeline, message, callback, payload)
        return self._queue(pipeline, message, callback, payload)

    def violated(self, verdict: Verdict) -> None:
        """A call check objected to an event: count it and emit `violation` (in the loop's thread)."""
        self.counters.violations += 1
        self.emitter.emit("violation", verdict.violation)

    def _settle_at_once(
        self,
        message: dict[str, Any],
        callback: Callback | None,
        payload: bytes | None,
        reason: Exception,
        *,
        handed_over: bool = False,
        dropped: bool = False,
    ) -> Context:
        """Accept the event only to settle it now: failed with `reason`, or `dropped` with it.

        Failed: a call check's "drop"; dropped: a thread handoff's refusal (a full queue).
        """
        if payload is None:
            payload = serialize(message)
        envelope = Envelope(
            context_of_payload(payload), payload, callback, message["type"], handed_over=handed_over
        )
        self._open(envelope)
        if dropped:
            self._settler.dropped(envelope, reason)
        else:
            self._settler.failed((envelope,), reason)
        return envelope.ctx

    def accept_handed_over(
        self,
        message: dict[str, Any],
        callback: Callback | None,
        payload: bytes,
        *,
        refused: bool,
        verdict: Verdict | None = None,
    ) -> Coroutine[Any, Any, Context] | None:
        """A call another thread made (and returned from): its event is opened in this very step.

        So a flush that begins after it (the other thread's next step) counts it. No fairness yield
        (that is for a tight loop of awaited calls in this loop), and never withdrawn: its caller
        was told it was accepted, so whatever stops it later is reported as its failure. Plugins run
        in a task of their own. Returns None, or, when the queue is full, a coroutine that queues the
        event once there is room (whatever `queue_full` says): the handoff runs it and holds the next
        calls back meanwhile. `refused`: the handoff refused it (the queue stayed full while a caller
        waited): dropped with `QueueFullError`. `verdict`: what a call check said of the event in
        the calling thread ("warn" or "drop"; a "raise" raised there).

        Raises:
            RuntimeError: the instance is in use by another running event loop.
        """
        if verdict is not None:
            self.violated(verdict)
            if verdict.action == "drop":
                self._settle_at_once(message, callback, payload, verdict.error(), handed_over=True)
                return None
        if self.closed:
            self._after_close(message, callback)
            return None
        if refused:
            self._settle_at_once(message, callback, payload, self._full(), handed_over=True, dropped=True)
            return None
        pipeline = self._loops.pipeline
        if pipeline is None or pipeline.loop is not asyncio.get_running_loop():
            pipeline = self._loops.bind()
        if not (self.stage.active and message["type"] in self.stage.staged_kinds):
            placed = self._queue(pipeline, message, callback, payload, handed_over=True)
            return None if isinstance(placed, Context) else placed
        staged = self._staged(pipeline, message, callback, payload, handed_over=True)
        if not isinstance(staged, Context):
            pipeline.loop.create_task(staged)  # plugins that await, in a task of their own
        return None

    async def _accept_waiting(
        self, message: dict[str, Any], callback: Callback | None, payload: bytes | None
    ) -> Context:
        if self._yield_first:
            # A tight loop of calls: let the batcher and the sends run. This yield comes before the
            # event is accepted, so a cancellation here means nothing was.
            self._yield_first = False
            await asyncio.sleep(0)
        if self.closed:
            return self._after_close(message, callback)
        pipeline = self._loops.pipeline
        if pipeline is None or pipeline.loop is not asyncio.get_running_loop():
            pipeline = self._loops.bind()
        if self.stage.active and message["type"] in self.stage.staged_kinds:
            staged = self._staged(pipeline, message, callback, payload)
            return staged if isinstance(staged, Context) else await staged
        result = self._queue(pipeline, message, callback, payload)
        return result if isinstance(result, Context) else await result

    def _queue(
        self,
        pipeline: Pipeline,
        message: dict[str, Any],
        callback: Callback | None,
        payload: bytes | None,
        *,
        handed_over: bool = False,
    ) -> Accepted:
        """Serialize (unless done), open, queue; a coroutine only if the queue is full and we wait.

        No before or enrichment plugin has a hook for the event (destination and after plugins may).
        A call handed over from a thread waits for room whatever the policy (its handoff holds the
        callers behind it back; see `accept_handed_over`).
        """
        if payload is None:
            payload = serialize(message)
        envelope = Envelope(context_of_payload(payload), payload, callback, message["type"])
        if handed_over:
            envelope.handed_over = True
        self.counters.accepted += 1
        self.ledger.open(envelope)
        if self._observers:
            envelope.accepted_at = self.settings.clock.time()
        integrations = message.get("integrations")
        if (stage := self.stage).active and (integrations or stage.routes):
            # Route it (`PluginStage.route`); without integrations, destinations or after plugins,
            # that would only say it goes to Segment.
            to_segment = stage.route(envelope, envelope.ctx, integrations, envelope.kind, pipeline.loop)
            return self._place(pipeline, envelope, to_segment, wait=handed_over)
        routed_away = integrations and SEGMENT_IO in integrations and not sends_to_segment(integrations)
        return self._place(pipeline, envelope, not routed_away, wait=handed_over)

    def _place(
        self, pipeline: Pipeline, envelope: Envelope, to_segment: bool, *, wait: bool = False
    ) -> Accepted:
        """Queue an opened envelope; settle it if routed away or dropped; a coroutine if it must wait.

        `wait`: wait for room whatever the policy (a handoff holding its callers back).
        """
        if not to_segment:
            self._settler.delivered((envelope,))  # routed away from Segment: nothing to send
        elif queued := pipeline.queue.put_nowait(envelope):
            self._yield_first = queued % self._yield_every == 0
        elif wait or self.settings.queue_full == "wait":
            return self._wait_for_room(pipeline, envelope)
        else:
            self._settler.dropped(envelope, self._full())
        return envelope.ctx

    def _full(self) -> QueueFullError:
        return QueueFullError(f"max_queue_size={self.settings.max_queue_size} reached")

    def _open(self, envelope: Envelope) -> None:
        """Count `envelope` as accepted and open it in the ledger (`_queue` and `_staged` inline this)."""
        self.counters.accepted += 1
        self.ledger.open(envelope)
        if self._observers:
            envelope.accepted_at = self.settings.clock.time()

    def _staged(
        self,
        pipeline: Pipeline,
        message: dict[str, Any],
        callback: Callback | None,
        payload: bytes | None,
        *,
        handed_over: bool = False,
    ) -> Accepted:
        """Open the event of `message`, run the before and enrichment plugins in the caller's turn, queue.

        Queued at once unless a hook awaits. While a registration runs, the event waits for it
        (`PluginStage.run`), so it sees the plugin.

        Its Context holds the message (and its JSON, if the caller made it already). The message is
        serialized once, after the last plugin that can change it (`_after_stage`), which also
        validates it: a value JSON cannot carry still raises at the call, as without plugins, before
        anything is accepted. A plugin reading `ctx.event` sees it parsed from the JSON
        of the message as it is then: an in-place edit of a nested dict
        (`ctx.event["properties"]["cart"]["total"] = 0`) never reaches the caller's own dicts, which the
        message shares. Parsing is the cheapest deep copy there is (about 2.3 us for a 0.5 KB event,
        against 7 us for a copy in Python); `update_event` needs no copy (it copies what it writes
        through) and writes into the message, and a plugin that does neither costs nothing. A call
        handed over from a thread brings the message's JSON (`payload`), which is sent as it is if no
        plugin reads or writes the event. A flush waits for the events inside plugins.
        """
        view = context_of_message(message, payload)
        envelope = Envelope(view, b"", callback, message["type"])
        if handed_over:  # set apart, as in `_queue`: a keyword argument costs more than the test
            envelope.handed_over = True
        self.counters.accepted += 1  # `_open`, inlined as in `_queue`: a call costs about 450 instructions
        self.ledger.open(envelope)
        if self._observers:
            envelope.accepted_at = self.settings.clock.time()
        stage = self.stage
        if stage.registering:
            return self._through_stage(pipeline, envelope, message, stage.run(view, envelope.kind))
        try:
            advanced = stage.advance(view, envelope.kind)
        except BaseException as exc:  # noqa: BLE001 - _stage_raised re-raises all but a before's failure
            return self._stage_raised(envelope, exc)
        if isinstance(advanced, Context):
            return self._after_stage(pipeline, envelope, advanced, message)
        return self._through_stage(pipeline, envelope, message, stage.run(advanced, envelope.kind))

    async def _through_stage(
        self,
        pipeline: Pipeline,
        envelope: Envelope,
        message: dict[str, Any],
        rest: Coroutine[Any, Any, Context | None],
    ) -> Context:
        """The rest of the stage (`PluginStage.run`) in the caller's task, ended by a closing deadline."""
        try:
            ctx = await rest
        except BaseException as exc:  # noqa: BLE001 - _stage_raised re-raises all but a before's failure
            return self._stage_raised(envelope, exc)
        if ctx is None or is_settled(envelope.ctx):
            return envelope.ctx  # a closing flush ran out of time while the plugins ran
        placed = self._after_stage(pipeline, envelope, ctx, message)
        return placed if isinstance(placed, Context) else await placed

    def _stage_raised(self, envelope: Envelope, exc: BaseException) -> Context:
        """The stage raised `exc`: a before plugin failed the event, or the call was cancelled."""
        if isinstance(exc, BeforeFailed):
            self._settler.failed((envelope,), exc.reason)
            return envelope.ctx
        self._withdraw(envelope, exc)  # cancelled: nothing accepted
        if envelope.handed_over and isinstance(exc, Exception):
            return envelope.ctx  # reported as its failure: no caller here to raise to
        raise exc

    def _after_stage(
        self, pipeline: Pipeline, envelope: Envelope, ctx: Context, message: dict[str, Any]
    ) -> Accepted:
        """Serialize what the plugins made of the event (once), route it, start its destinations, queue."""
        try:
            envelope.payload, event = seal(ctx)
        except BaseException as exc:  # noqa: BLE001 - _stage_raised re-raises it
            return self._stage_raised(envelope, exc)  # invalid after the plugins: nothing accepted
        if event is None and ctx is not envelope.ctx:  # a plugin returned the Context of another event
            event = ctx.event
        if event is None:  # no plugin read or wrote the event: its JSON as it was (a thread's call)
            integrations, kind = message.get("integrations"), envelope.kind
        else:
            integrations, kind = event.get("integrations"), event.get("type", envelope.kind)
        envelope.ctx = ctx
        stage = self.stage
        to_segment = True
        if integrations or stage.routes:
            to_segment = stage.route(envelope, ctx, integrations, kind, pipeline.loop)
        return self._place(pipeline, envelope, to_segment)

    async def _wait_for_room(self, pipeline: Pipeline, envelope: Envelope) -> Context:
        """The queue is full and the policy waits: wait for room; the Context once queued (or settled)."""
        try:
            queued = await pipeline.queue.put(envelope)
        except BaseException as exc:
            self._withdraw(envelope, exc)
            raise
        if not queued:  # the queue closed: settled by the closing flush, or closed without it
            self._settler.dropped(envelope, ClosedError("the instance closed while the call waited for room"))
        return envelope.ctx

    def _withdraw(self, envelope: Envelope, exc: BaseException) -> None:
        """The call raised after opening its event: the event was not accepted after all.

        Unless another thread made the call: it returned already, so the event fails, with `exc`
        as the reason when that is an error of the event, else (cancelled) with why.
        """
        if is_settled(envelope.ctx):
            return
        if envelope.handed_over:
            if not isinstance(exc, Exception) or isinstance(exc, asyncio.CancelledError):
                exc = DeliveryError("cancelled before it was queued (did its event loop end?)")
            self._settler.failed((envelope,), exc)
            return
        self.counters.accepted -= 1
        self.ledger.finish((envelope,))

    def adopt(self, handoff: Handoff) -> None:
        """Calls other threads hand over through `handoff` are accepted by every flush first."""
        self._handoffs.add(handoff)

    def drain_handoffs(self) -> None:
        """Accept now every call other threads handed over to this loop and not yet delivered."""
        loop = asyncio.get_running_loop()
        for handoff in list(self._handoffs):
            if handoff.loop is loop:
                handoff.drain_all()

    def admit_spooled(self, rows: list[Row]) -> None:
        """Accept events taken from the spool: queued ahead of newer events, as a carry-over is.

        Their JSON is sent as it was written (messageId, timestamp); no callback. Called on the loop
        of the pipeline that asked for them; if that pipeline is gone, they stay open in the ledger
        and the next loop's carry-over sends them.
        """
        envelopes = [Envelope(context_of_payload(payload), payload, None, kind) for kind, payload in rows]
        for envelope in envelopes:
            self._open(envelope)
        pipeline = self._loops.pipeline
        if pipeline is not None and pipeline.loop is asyncio.get_running_loop():
            pipeline.queue.restore(envelopes)
        logger.info("analytics_async: %d events from the spool are sent with this instance", len(envelopes))

    def _after_close(self, message: dict[str, Any], callback: Callback | None) -> Context:
        """A call after close: validated, announced with `call_after_close`, reported as dropped."""
        envelope = Envelope(Context(message), serialize(message), callback, message["type"])
        self.counters.accepted += 1
        self.emitter.emit("call_after_close", message)
        self._settler.dropped(envelope, ClosedError("the Analytics instance is closed"))
        return envelope.ctx
