"""Settling events: every accepted event ends exactly once, and the user is told how.

For each event, in this order: its Context is settled (delivered, or failed with a reason), the
counters move, its destination and after plugins finish, its callback runs (a coroutine callback for
at most `CALLBACK_TIMEOUT`), the `<type>` or `error` event is emitted, and only then does the ledger
count it as finished. The Contexts of the events settled together are all settled first (one loop),
then each event goes on in turn. Events with nothing to wait for are settled in bulk: one pass, one
counter update, one ledger update; that keeps a delivered batch, and a closing flush failing 100,000
events at its deadline, cheap.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Any, Final, cast

from .._core.events import Emitter, ErrorEvent
from .._core.logs import RateLimitedLog
from .._core.stats import Counters
from .._core.user import FAILED, UserWork
from .._message.context import Context, Envelope, FailedDelivery, is_settled, settle_all
from ..errors import DeliveryError
from .ledger import Ledger

__all__ = ["CALLBACK_TIMEOUT", "Settler"]

CoroutineCallback = Callable[..., Awaitable[Any]]
CALLBACK_TIMEOUT: Final = 1.0
"""Seconds a coroutine callback may run before the pipeline goes on without it (as analytics-node)."""
_TYPE_EVENTS: Final = ("track", "identify", "page", "screen", "group", "alias")


class Settler:
    """Settles envelopes and reports each outcome: ctx, counters, plugins, callback, event, ledger."""

    def __init__(
        self,
        emitter: Emitter,
        counters: Counters,
        ledger: Ledger,
        user: UserWork,
        after: Callable[[Context, str], Awaitable[None] | None],
    ) -> None:
        self._emitter = emitter
        self._counters = counters
        self._ledger = ledger
        self._user = user
        self._after = after
        self.log = RateLimitedLog()

    def tell_held_back(self, *logs: RateLimitedLog) -> None:
        """At close: this WARNING log and `logs` tell what they held back (no later line will)."""
        for log in (self.log, *logs):
            log.flush()

    def delivered(self, envelopes: Iterable[Envelope]) -> None:
        """Report `envelopes` as delivered."""
        self._settle(envelopes, None, dropped=False)

    def failed(self, envelopes: Iterable[Envelope], reason: BaseException) -> None:
        """Report `envelopes` as failed with `reason` (delivery was attempted, or cannot be)."""
        self._settle(envelopes, reason, dropped=False)

    def dropped(self, envelope: Envelope, reason: BaseException) -> None:
        """Report `envelope` as dropped with `reason` (delivery was never attempted)."""
        self._settle((envelope,), reason, dropped=True)

    def fail_unsettled(self, reason: BaseException) -> None:
        """Fail every open event whose outcome is not settled yet, wherever it is (a deadline passed).

        Open events whose outcome is settled and whose report was cut short (their task cancelled)
        are finished as they are. The cyclic garbage collector is paused meanwhile: this allocates
        per event and must not pay for traversals of a large heap many times over.
        """
        unfinished = self._ledger.unfinished()
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._settle(unfinished, reason, dropped=False)
            self._ledger.finish(unfinished)
        finally:
            if collecting:
                gc.enable()

    def after_loop_ended(self) -> list[Envelope]:
        """Settle what the event loop that just ended left and cannot move; return what can.

        Unsettled events that reached the queue are returned, to be sent from the new loop. Events
        that were inside the plugin stage fail (their call ended with the loop); events whose report
        was cut short with the loop are finished as they are.
        """
        movable, stuck, cut = [], [], []
        for envelope in self._ledger.unfinished():
            envelope.work = None  # destination tasks of the old loop cannot be awaited here
            if is_settled(envelope.ctx):
                cut.append(envelope)
            elif envelope.payload:
                movable.append(envelope)
            else:
                stuck.append(envelope)
        self._ledger.finish(cut)
        self.failed(stuck, DeliveryError("the event loop ended while plugins ran for the event"))
        return movable

    def _settle(self, envelopes: Iterable[Envelope], reason: BaseException | None, *, dropped: bool) -> None:
        """Settle; events without plugin work are counted, announced and finished in one pass each."""
        plain: list[Envelope] = []
        reported = 0  # settled here but reported later (plugins, coroutine callbacks)
        failure = None if reason is None else FailedDelivery(reason)
        deferring = self._user.deferring  # past a closing deadline (no await in this loop changes it)
        for envelope in settle_all(envelopes, failure):
            if envelope.work is not None and envelope.work.done():
                envelope.work = None  # its destinations ran (they run in the step after the call)
            if envelope.after and envelope.work is None and not deferring:
                # Plain `after` hooks run here; only those that return awaitables make a task. Past
                # a closing deadline they run as deferred work instead, within its budget.
                envelope.after = False
                if (rest := self._after(envelope.ctx, envelope.kind)) is not None:
                    self._count(reason, 1, dropped=dropped)
                    self._user.start(
                        "plugins", rest, ctx=envelope.ctx, then=partial(self._callback, envelope, reason)
                    )
                    reported += 1
                    continue
            if envelope.work is not None or envelope.after:
                self._count(reason, 1, dropped=dropped)
                self._report(envelope, reason)
                reported += 1
            elif envelope.callback is None or self._callback_done(envelope, reason):
                plain.append(envelope)
            else:
                self._count(reason, 1, dropped=dropped)  # a coroutine callback: announced when it ends
                reported += 1
        if reason is not None and (settled := len(plain) + reported):
            self.log.events(settled, reason, dropped=dropped)
        if not plain:
            return
        self._count(reason, len(plain), dropped=dropped)
        self._announce_many(plain, reason)
        self._ledger.finish(plain)

    def _count(self, reason: BaseException | None, n: int, *, dropped: bool) -> None:
        counters = self._counters
        if reason is None:
            counters.delivered += n
        elif dropped:
            counters.dropped[type(reason).__name__] += n
        else:
            counters.failed[type(reason).__name__] += n

    def _report(self, envelope: Envelope, reason: BaseException | None) -> None:
        """Plugins first (if any), then the callback, then the announcement."""
        if envelope.work is not None or envelope.after:
            self._user.start(
                "plugins",
                self._plugins_done(envelope),
                ctx=envelope.ctx,
                then=partial(self._callback, envelope, reason),
            )
        else:
            self._callback(envelope, reason)

    async def _plugins_done(self, envelope: Envelope) -> None:
        # The destinations' step future, then the task awaiting their awaitables (if any).
        while (work := envelope.work) is not None and not work.done():
            await asyncio.wait([work])
        if envelope.after and (rest := self._after(envelope.ctx, envelope.kind)) is not None:
            await rest

    def _callback(self, envelope: Envelope, reason: BaseException | None) -> None:
        if envelope.callback is None or self._callback_done(envelope, reason):
            self._announce_one(envelope, reason)

    def _callback_done(self, envelope: Envelope, reason: BaseException | None) -> bool:
        """Call the callback; False if it went on as a coroutine (which announces the event itself)."""
        callback, ctx, user = envelope.callback, envelope.ctx, self._user
        assert callback is not None
        if user.deferring and user.is_coroutine_function(callback):
            # Past a closing deadline: announced at once with the rest; the callback runs only if the
            # wind-down budget reaches it (the error event then comes before it, in this case only).
            user.defer_call("callback", cast("CoroutineCallback", callback), (reason, ctx), ctx=ctx)
            return True
        result = user.call("callback", callback, reason, ctx, ctx=ctx)
        if result is FAILED or not inspect.isawaitable(result):
            return True
        then = partial(self._announce_one, envelope, reason)
        user.start("callback", result, ctx=ctx, timeout=CALLBACK_TIMEOUT, then=then)
        return False

    def _announce_one(self, envelope: Envelope, reason: BaseException | None) -> None:
        self._announce_many((envelope,), reason)
        self._ledger.finish((envelope,))

    def _announce_many(self, envelopes: Sequence[Envelope], reason: BaseException | None) -> None:
        emitter = self._emitter
        if reason is None:
            if emitter.listens_any(_TYPE_EVENTS):
                for envelope in envelopes:
                    emitter.emit(envelope.kind, envelope.ctx)
        elif emitter.listens("error"):
            for envelope in envelopes:
                emitter.emit("error", ErrorEvent("delivery_failure", reason, envelope.ctx))
