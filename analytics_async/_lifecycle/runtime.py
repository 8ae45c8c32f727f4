"""The Runtime: the one owner of everything that runs for an `Analytics`.

It alone opens events (`accept`), settles them (through its `Settler`) and closes the instance
(`flush`). It owns the ledger of open events, the plugin stage, the per-loop pipeline (queue, batcher,
sends), the coroutines of user code, and the HTTP session. `Analytics` validates a call, builds the
message and hands it over; nothing else drives an event's life.

Accepting (from a built message to the queue) is the job of its `Intake`, which reads the Runtime's
pipeline and settles through the Runtime's Settler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from .._core import fork
from .._core.clock import wait_until, wake
from .._core.events import HANDLER_OF, Emitter, ErrorEvent, FlushEvent
from .._core.settings import Settings
from .._core.stats import Counters, Stats
from .._core.user import UserWork
from .._delivery.aiohttp_client import AiohttpClient
from .._delivery.oauth import TokenManager
from .._delivery.oauth import validate as validate_oauth
from .._delivery.observe import BatchObserver, BatchSettled
from .._delivery.pipeline import Pipeline
from .._delivery.sender import Sender
from .._message.context import Context, Envelope
from ..errors import (
    AnalyticsError,
    DeliveryError,
    FlushTimeoutError,
)
from .intake import Intake
from .ledger import Ledger
from .settle import Settler
from .stage import PluginStage

if TYPE_CHECKING:
    from .._delivery.spool import Spooler

__all__ = ["ABORT_GRACE", "Runtime"]

logger = logging.getLogger("analytics_async")


ABORT_GRACE: Final = 0.05
"""Real seconds a closing flush past its deadline shares between its wind-down steps: cancelled tasks
finishing, deferred coroutine callbacks and handlers, closing the HTTP session."""
WIND_DOWN_PER_EVENT: Final = 3e-6
"""Seconds of wind-down to reserve per open event (measured: 0.5 us without a callback, 1.2 us with a
trivial sync one, 2.5 us with a coroutine one; benchmarks/bench_close_deadline.py). A closing flush
starts failing events this much before its deadline, so that it still returns on time."""
_MIN_STEP: Final = 0.005
"""Real seconds any wind-down step gets even when the grace is used up."""


class Runtime:
    """Opens, settles and closes the events of one `Analytics`, and owns what runs for them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.counters = Counters()
        self.user = UserWork(self._user_failed)
        self.emitter = Emitter(self.user)
        self.ledger = Ledger(lambda: self.emitter.emit("drained", None))
        self.stage = PluginStage(self.user, self.emitter.emit)
        self._settler = Settler(self.emitter, self.counters, self.ledger, self.user, self.stage.call_hooks)
        self._owned_http = (
            AiohttpClient(settings.proxy, settings.ssl) if settings.http_client is None else None
        )
        http = settings.http_client or self._owned_http
        assert http is not None
        self._tokens: TokenManager | None = None
        if settings.oauth_settings is not None:
            oauth, key, retries = validate_oauth(settings.oauth_settings, settings.max_retries)
            self._tokens = TokenManager(oauth, key, oauth.http_client or http, settings.clock, retries)
        self._sender = Sender(settings, http, self.emitter, self.counters, self._tokens)
        self.pipeline: Pipeline | None = None
        """The pipeline of the loop this instance runs in (made by `bind`)."""
        self._observers: list[BatchObserver] = []
        self.intake = Intake(
            loops=self, settings=settings, counters=self.counters, ledger=self.ledger,
            emitter=self.emitter, stage=self.stage, settler=self._settler, observers=self._observers,
        )  # fmt: skip
        self._spooler: Spooler | None = None
        if settings.spool is not None:  # sqlite3 is imported only for a spool
            from .._delivery.spool import Spool, Spooler  # noqa: PLC0415

            spool = Spool(settings.spool, settings.spool_max_bytes, settings.write_key)
            self._spooler = Spooler(spool, self.intake.admit_spooled)
        fork.register(self)

    def after_fork(self) -> None:
        """In a forked child: the parent's events, tasks and connections are the parent's. Start empty."""
        if self.pipeline is not None:
            self.pipeline.queue.drop_all()  # the parent's events: not ours to hold either
        fork.ABANDONED.append(self.pipeline)
        self.pipeline = None
        self.counters.reset()
        self.ledger.clear()
        parts = (
            self.intake,
            self.user,
            self.stage,
            self._sender,
            self._tokens,
            self._owned_http,
            self._spooler,
        )
        for part in parts:
            if part is not None:
                part.after_fork()

    @property
    def closed(self) -> bool:
        """A closing flush has begun: calls are no longer accepted."""
        return self.intake.closed

    # -- the event loop ------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop this instance runs in, once it has been used in one."""
        return None if self.pipeline is None else self.pipeline.loop

    def bind(self, *, flushing: bool = False) -> Pipeline:
        """The pipeline of the running loop, made on first use or after a loop change.

        Events an ended loop left unsent are carried over with a warning, unless a flush is what
        moves them (then the user is already doing what the warning would ask).
        """
        loop = asyncio.get_running_loop()
        old = self.pipeline
        if old is not None and old.loop is loop:
            return old
        fork.check()  # a process forked without Python's hooks (uWSGI) resets this instance first
        old = self.pipeline
        if old is not None and old.loop.is_running():
            raise RuntimeError(
                "this Analytics instance is in use by another running event loop; "
                "create one instance per event loop (or per thread)"
            )
        self.pipeline = pipeline = Pipeline(
            self.settings, self._sender, self._on_sent, lambda: self.ledger.flush_waiting, self._release
        )
        if old is not None:
            self._carry_over(pipeline, flushing=flushing)
        self._take_spooled(pipeline)
        return pipeline

    def _take_spooled(self, pipeline: Pipeline) -> None:
        """Take what the spool holds for us: at first use in a loop, and as the queue drains."""
        if self._spooler is not None and not self.intake.closed:
            self._spooler.top_up(len(pipeline.queue), self.settings.max_queue_size)

    def _carry_over(self, pipeline: Pipeline, *, flushing: bool) -> None:
        """Queue again the events an ended loop left unsent (what cannot move is settled)."""
        self.ledger.forget_barriers()
        if carried := self._settler.after_loop_ended():
            (logger.info if flushing else logger.warning)(
                "analytics_async: %d events from an event loop that ended before they were delivered "
                "are sent from the new loop; await analytics.flush() before a loop ends to deliver "
                "them in time",
                len(carried),
            )
            pipeline.queue.restore(carried)

    def _on_sent(self, envelopes: list[Envelope], error: AnalyticsError | None) -> None:
        if error is None:
            self._settler.delivered(envelopes)
        else:
            self._settler.failed(envelopes, error)
        self.emitter.emit("flush", FlushEvent(len(envelopes), error is None, error))
        if self.pipeline is not None:
            self._take_spooled(self.pipeline)
        if self._observers:
            oldest = min((e.accepted_at for e in envelopes if e.accepted_at), default=None)  # 0: untimed
            age = None if oldest is None else self.settings.clock.time() - oldest
            settled = BatchSettled(len(envelopes), age, error)
            for observer in self._observers:
                self.user.call("a batch observer", observer, settled)

    def observe_batches(self, observer: BatchObserver) -> Callable[[], None]:
        """Call `observer` (guarded, on the event loop) after each batch request settles.

        While one is registered, events record their acceptance time (one clock read each) for `age`.
        Returns the function that unregisters it (once).
        """
        self._observers.append(observer)
        return partial(self._observers.remove, observer)

    # -- flushing and closing ------------------------------------------------------------------

    async def flush(self, *, close: bool, timeout: float | None) -> None:
        """Wait until everything accepted so far is finished; see `Analytics.flush` for the contract."""
        self.intake.drain_handoffs()  # calls other threads made before this flush (and before a close)
        if close:
            self.intake.closed = True
        clock = self.settings.clock
        end = deadline = None if timeout is None else clock.time() + timeout
        if close and self._spooler is not None:
            await self._spooler.quiesce(timeout)  # a take running now: its events are ours to send
        pipeline = self.pipeline
        if pipeline is not None and pipeline.loop is not asyncio.get_running_loop():
            pipeline = self.bind(flushing=True) if len(self.ledger) else None  # an ended loop's events
        if close and deadline is not None and timeout:
            n = len(self.ledger)
            reserve = WIND_DOWN_PER_EVENT * n
            if self._spooler is not None:
                reserve += self._spooler.reserve(n)
            deadline -= min(timeout / 2, reserve)
        finished = await self._wait_finished(pipeline, deadline)
        if not close:
            return
        if finished:
            if pipeline is not None:
                await pipeline.stop()
            await self._release()
            self._settler.tell_held_back(self._sender.retry_log)
            return
        assert end is not None
        cause = self._sender.last_failure
        why = f"flush timed out after {timeout:g} s" + (
            f"; the last attempt failed: {cause}" if cause else ""
        )
        if spooler := self._spooler:  # keep what is not settled yet; those written settle as such
            left = end - clock.time() - WIND_DOWN_PER_EVENT * len(self.ledger)  # settling comes after
            if unkept := await spooler.keep_unsettled(
                self.ledger.unfinished(), why, left, self._settler.failed
            ):
                why += f"; not kept in the spool: {unkept}"
        loop = asyncio.get_running_loop()
        grace_end = loop.time() + ABORT_GRACE
        await self._abort(FlushTimeoutError(why), grace_end)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(max(grace_end, loop.time() + _MIN_STEP)):
                await self._release()
        self._settler.tell_held_back(self._sender.retry_log)
        # Last, with no await after it: calls held inside plugins (user tasks) return their failed
        # Context once this flush has returned, instead of delaying its return by one step each.
        self.stage.interrupt()

    async def _wait_finished(self, pipeline: Pipeline | None, deadline: float | None) -> bool:
        """Wait for the events open now, then for user coroutines; False if `deadline` came first."""
        clock = self.settings.clock
        reached: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        withdraw = self.ledger.barrier(partial(wake, reached))
        if withdraw is not None:
            if pipeline is not None:
                pipeline.queue.kick()  # partial batches go now
            try:
                if deadline is None:
                    await reached
                elif not await wait_until(clock, deadline, reached):
                    return False
            finally:
                withdraw()
        return await self.user.wait(clock, deadline)

    async def _abort(self, reason: DeliveryError, grace_end: float) -> None:
        """A closing flush ran out of time: stop everything of ours and settle every open event."""
        # Settle first, with no await in between: whatever runs later (callers released from the
        # queue or the plugin stage, cancelled tasks winding down) finds its event already settled.
        self.user.defer()
        self._settler.fail_unsettled(reason)
        tasks: list[asyncio.Task[Any]] = self.user.cancel()
        pipeline = self.pipeline
        if pipeline is not None and pipeline.loop is asyncio.get_running_loop():
            tasks.extend(pipeline.cancel())
        loop = asyncio.get_running_loop()
        if tasks:  # a cancelled task needs a loop step or two to wind down; user code may refuse
            await asyncio.wait(tasks, timeout=max(grace_end - loop.time(), _MIN_STEP))
        await self.user.run_deferred(max(grace_end - loop.time(), _MIN_STEP))

    async def _release(self) -> None:
        """Stop the OAuth token manager, then close the HTTP session the library created.

        In this order no token request can open a session after the close; the close runs even when
        a deadline cuts the first step short.
        """
        try:
            if self._tokens is not None:
                await self._tokens.aclose()
        finally:
            if self._owned_http is not None:
                await self._owned_http.aclose()

    # -- reporting -----------------------------------------------------------------------------

    def _user_failed(self, what: str, exc: BaseException, ctx: object) -> None:
        """User code raised: log it once, and tell `error` handlers (unless they are what failed)."""
        logger.error("analytics_async: %s raised %s", what, type(exc).__name__, exc_info=exc)
        if what != HANDLER_OF.format("error"):
            context = ctx if isinstance(ctx, Context) else None
            self.emitter.emit("error", ErrorEvent("unknown", exc, context))

    @property
    def queue_depth(self) -> int:
        """Events waiting in the queue (readable from any thread)."""
        return 0 if self.pipeline is None else len(self.pipeline.queue)

    def stats(self) -> Stats:
        """A frozen snapshot of the counters, with the pipeline's gauges."""
        pipeline = self.pipeline
        return self.counters.snapshot(
            in_flight=pipeline.in_flight if pipeline else 0, queue_depth=self.queue_depth
        )
