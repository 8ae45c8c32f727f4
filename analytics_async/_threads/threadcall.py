"""Calls into an async `Analytics` from other threads of the same app (`analytics_async.sync.from_thread`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from datetime import datetime
from typing import Any

from .._lifecycle.client import Analytics
from .._lifecycle.stage import Verdict
from .._message import build as msg
from .._message.context import Callback, Context
from .loopthread import Handoff

__all__ = ["Submitter", "ThreadCaller", "from_thread"]

logger = logging.getLogger("analytics_async")

Id = str | int | None
Properties = Mapping[str, Any] | None

LEAD = 500
"""Calls a thread may hand over before the loop has taken them (at most; a tenth of the queue).
Measured, 8 threads x 5,000 calls at the defaults: 1,000 let the queue fill (peak RSS 53-58 MB, p99
call 0.1 ms); 500: 45 MB, p99 5 ms; 250: 43 MB, p99 10 ms; the same rate (about 30,000 events/s)."""
MAX_WAIT = 0.1
"""Seconds a caller waits for the loop to take calls, or for room in a full queue, before going on."""


class ThreadCaller:
    """The six calls of an `Analytics` running in an event loop, for any other thread.

    Each call validates in the calling thread (raising `ValidationError` there), hands the event to the
    instance's loop and returns the message as it will be sent, at once. Callbacks run in the loop.
    """

    def __init__(self, analytics: Analytics, loop: asyncio.AbstractEventLoop) -> None:
        self._submitter = Submitter(analytics, loop)

    def track(
        self, *, event: str, user_id: Id = None, anonymous_id: Id = None, properties: Properties = None,
        context: Properties = None, timestamp: datetime | str | None = None, integrations: Properties = None,
        message_id: str | None = None, callback: Callback | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """`Analytics.track`, from another thread."""
        return self._submitter.submit(
            "track",
            msg.track_fields(event, properties),
            user_id,
            anonymous_id,
            context,
            timestamp,
            integrations,
            message_id,
            callback,
        )[0]

    def identify(
        self, *, user_id: Id = None, anonymous_id: Id = None, traits: Properties = None,
        context: Properties = None, timestamp: datetime | str | None = None, integrations: Properties = None,
        message_id: str | None = None, callback: Callback | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """`Analytics.identify`, from another thread."""
        return self._submitter.submit(
            "identify",
            msg.traits_fields(traits),
            user_id,
            anonymous_id,
            context,
            timestamp,
            integrations,
            message_id,
            callback,
        )[0]

    def page(
        self, *, user_id: Id = None, anonymous_id: Id = None, category: str | None = None,
        name: str | None = None, properties: Properties = None, context: Properties = None,
        timestamp: datetime | str | None = None, integrations: Properties = None,
        message_id: str | None = None, callback: Callback | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """`Analytics.page`, from another thread."""
        return self._submitter.submit(
            "page",
            msg.page_fields(category, name, properties, category_in_properties=True),
            user_id,
            anonymous_id,
            context,
            timestamp,
            integrations,
            message_id,
            callback,
        )[0]

    def screen(
        self, *, user_id: Id = None, anonymous_id: Id = None, category: str | None = None,
        name: str | None = None, properties: Properties = None, context: Properties = None,
        timestamp: datetime | str | None = None, integrations: Properties = None,
        message_id: str | None = None, callback: Callback | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """`Analytics.screen`, from another thread."""
        return self._submitter.submit(
            "screen",
            msg.page_fields(category, name, properties, category_in_properties=False),
            user_id,
            anonymous_id,
            context,
            timestamp,
            integrations,
            message_id,
            callback,
        )[0]

    def group(
        self, *, group_id: str | int, user_id: Id = None, anonymous_id: Id = None, traits: Properties = None,
        context: Properties = None, timestamp: datetime | str | None = None, integrations: Properties = None,
        message_id: str | None = None, callback: Callback | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """`Analytics.group`, from another thread."""
        return self._submitter.submit(
            "group",
            msg.group_fields(group_id, traits),
            user_id,
            anonymous_id,
            context,
            timestamp,
            integrations,
            message_id,
            callback,
        )[0]

    def alias(
        self, *, user_id: str | int, previous_id: str | int, context: Properties = None,
        timestamp: datetime | str | None = None, integrations: Properties = None,
        message_id: str | None = None, callback: Callback | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """`Analytics.alias`, from another thread."""
        return self._submitter.submit(
            "alias",
            msg.alias_fields(previous_id),
            user_id,
            None,
            context,
            timestamp,
            integrations,
            message_id,
            callback,
            alias=True,
        )[0]


class Submitter:
    """Builds, validates and serializes a call in the calling thread; accepts it in `loop`'s thread.

    The common engine of `ThreadCaller` and the drop-in `Client`: errors are raised at the call, and
    the handoff wakes the loop once per batch of calls. Callers run ahead of the loop by a tenth of
    `max_queue_size` (at most 500 calls) and a full queue holds them back for 0.1 s at most before it
    drops; a loop that takes nothing (blocked, starved) holds `max_queue_size` calls at most waiting
    for it, after which each call waits 0.1 s at most and is refused (see `Handoff`).
    """

    def __init__(self, analytics: Analytics, loop: asyncio.AbstractEventLoop) -> None:
        self._analytics = analytics
        runtime = analytics._runtime  # noqa: SLF001 - our own package
        self._intake = runtime.intake
        self._stage = runtime.intake.stage
        capacity = runtime.settings.max_queue_size
        self._handoff = Handoff(
            loop, self._deliver, lead=min(LEAD, capacity // 10), limit=capacity, max_wait=MAX_WAIT
        )
        self._intake.adopt(self._handoff)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the events are handed to."""
        return self._handoff.loop

    @property
    def pending(self) -> int:
        """Calls handed over and not yet taken by the loop."""
        return len(self._handoff)

    def submit(  # noqa: PLR0917 - internal; mirrors the six calls
        self, type_: str, fields: dict[str, Any], user_id: object, anonymous_id: object, context: object,
        timestamp: object, integrations: object, message_id: object, callback: Callback | None = None,
        *, alias: bool = False,
    ) -> tuple[dict[str, Any], bool]:  # fmt: skip
        """Build and serialize the message here (raising ValidationError here), hand it over.

        Returns the message, and False if a full queue refused it (it is reported dropped).
        """
        message = msg.build(type_, fields, user_id=user_id, anonymous_id=anonymous_id, context=context,
                            timestamp=timestamp, integrations=integrations, message_id=message_id,
                            require_both_ids=alias)  # fmt: skip
        verdict = self._stage.check_call(message) if self._stage.checks else None
        if verdict is not None and verdict.action == "raise":
            self._handoff.loop.call_soon_threadsafe(self._intake.violated, verdict)
            raise verdict.error()
        return message, self._handoff.put((message, msg.serialize(message), callback, verdict))

    def _deliver(
        self, item: tuple[dict[str, Any], bytes, Callback | None, Verdict | None], refused: bool
    ) -> Coroutine[Any, Any, Context] | None:
        """In the loop's thread: accept the event (or drop it, refused); a coroutine if it waits for room."""
        message, payload, callback, verdict = item
        try:
            return self._intake.accept_handed_over(
                message, callback, payload, refused=refused, verdict=verdict
            )
        except Exception:
            logger.exception("analytics_async: could not accept an event handed over from a thread")
            return None


def from_thread(analytics: Analytics, loop: asyncio.AbstractEventLoop | None = None) -> ThreadCaller:
    """Calls into `analytics`, which runs in `loop`, from any other thread.

    `loop` defaults to the loop the instance has been used in; when it has not sent anything yet, call
    `from_thread` in that loop (say, in the app's lifespan) or pass the loop.

    Raises:
        RuntimeError: the instance has no loop yet and none was given, or was called in.
    """
    if loop is None:
        loop = analytics._runtime.loop  # noqa: SLF001 - our own package
    if loop is None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "this Analytics instance has not run in an event loop yet: call from_thread() inside "
                "that loop (for example in the app's lifespan) or pass loop="
            ) from None
    return ThreadCaller(analytics, loop)
