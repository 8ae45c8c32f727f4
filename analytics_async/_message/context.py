"""`Context`: one event on its way through the pipeline, and what became of it."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from typing import Any, Final, Literal

import attrs

from ..errors import ContextCancelation
from .codec import loads

__all__ = [
    "Callback",
    "Context",
    "Envelope",
    "FailedDelivery",
    "LogLine",
    "context_of_payload",
    "is_parsed",
    "is_settled",
    "payload_of",
    "settle",
]

Callback = Callable[[Exception | None, "Context"], object]
"""`callback(err, ctx)`: `err` is None once delivered, else why not (an Exception); may be async."""
LogLevel = Literal["debug", "info", "warn", "error"]
_INDEX: Final = re.compile(r"\d+")
_IGNORED_KEYS: Final = frozenset({"__proto__", "constructor", "prototype"})


@attrs.frozen
class FailedDelivery:
    """Why an event was not delivered: `reason` is the exception."""

    reason: BaseException


@attrs.frozen
class LogLine:
    """One line of a context's log, for plugins and tests."""

    level: LogLevel
    message: str
    time: float
    extras: dict[str, Any] | None = None


class Context:
    """One event (`event`, the message dict as it is or was sent) and the state of its delivery.

    A Context is settled exactly once: delivered, or failed with a reason. `delivered()` waits for it.
    """

    __slots__ = ("_event", "_failed", "_id", "_logs", "_payload", "_settled", "_waiters")

    def __init__(self, event: dict[str, Any]) -> None:
        self._event: dict[str, Any] | None = event
        self._payload: bytes | None = None
        self._id: str | None = None
        self._failed: FailedDelivery | None = None
        self._settled = False
        self._waiters: list[asyncio.Future[None]] | None = None
        self._logs: list[LogLine] | None = None

    @property
    def event(self) -> dict[str, Any]:
        """The message dict as it will be (or was) sent.

        Once an event is queued without plugins, the library keeps only its JSON (a fraction of the
        memory of the dict); reading `event` then parses it, so values appear as sent (a `datetime` as
        its ISO string, a `Decimal` as a float). Changing it after the call does not change what is sent.
        """
        event = self._event
        if event is None:
            assert self._payload is not None
            event = self._event = loads(self._payload)
        return event

    @event.setter
    def event(self, value: dict[str, Any]) -> None:
        self._event = value

    @property
    def id(self) -> str:
        """A unique id of this context (made on first use; not the message id)."""
        if self._id is None:
            self._id = str(uuid.uuid4())
        return self._id

    def __repr__(self) -> str:
        state = "pending" if not self._settled else ("failed" if self._failed else "delivered")
        return f"<Context {self.event.get('type')} messageId={self.event.get('messageId')!r} {state}>"

    def update_event(self, path: str, value: object) -> dict[str, Any]:
        """Set the dotted `path` of the event to `value`, creating what is missing; return the event.

        A numeric segment indexes (or creates) a list: `"properties.items.0.name"`. Writes to
        `integrations.<Name>` are ignored when that integration is set to False. Every dict and list
        along the path is copied before it is written (copy on write), so objects the caller passed in
        are never changed; change nested values through this method, not by assigning into
        `ctx.event` directly.
        """
        parts = path.split(".")
        if any(p in _IGNORED_KEYS for p in parts):
            return self.event
        if (
            len(parts) == 2
            and parts[0] == "integrations"
            and self.event.get("integrations", {}).get(parts[1]) is False
        ):
            return self.event
        node: Any = self.event
        for part, following in zip(parts, [*parts[1:], None], strict=True):
            key: str | int = int(part) if isinstance(node, list) and _INDEX.fullmatch(part) else part
            if following is None:
                _assign(node, key, value)
                break
            child = _lookup(node, key)
            # Copy on write: nested values may be the caller's own objects, which are never changed.
            if isinstance(child, dict):
                child = dict(child)
            elif isinstance(child, list):
                child = list(child)
            else:
                child = [] if _INDEX.fullmatch(following) else {}
            _assign(node, key, child)
            node = child
        return self.event

    def cancel(self, error: BaseException | None = None) -> None:
        """Cancel the event from a plugin: always raises `error`, or a `ContextCancelation`."""
        if error is not None:
            raise error
        raise ContextCancelation(reason="Context Cancel")

    def failed_delivery(self) -> FailedDelivery | None:
        """Return why delivery failed, or None (delivered, or not settled yet)."""
        return self._failed

    async def delivered(self, timeout: float | None = None) -> bool:
        """Wait until the event is delivered (True) or has finally failed (False).

        Raises:
            TimeoutError: `timeout` seconds passed first. The event itself is not affected.
        """
        if not self._settled:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(fut)
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(fut)
            finally:
                if self._waiters is not None and fut in self._waiters:
                    self._waiters.remove(fut)
        return self._failed is None

    def log(self, level: LogLevel, message: str, extras: dict[str, Any] | None = None) -> None:
        """Add a line to this context's log."""
        if self._logs is None:
            self._logs = []
        self._logs.append(LogLine(level, message, asyncio.get_running_loop().time(), extras))

    def logs(self) -> list[LogLine]:
        """Return this context's log lines, oldest first."""
        return list(self._logs or ())


def _lookup(node: dict[str, Any] | list[Any], key: str | int) -> object:
    if isinstance(node, list):
        return node[key] if isinstance(key, int) and key < len(node) else None
    return node.get(str(key))


def _assign(node: dict[str, Any] | list[Any], key: str | int, value: object) -> None:
    if isinstance(node, list):
        if not isinstance(key, int):
            return
        node.extend([None] * (key + 1 - len(node)))
        node[key] = value
    else:
        node[str(key)] = value


def context_of_payload(payload: bytes) -> Context:
    """A Context that holds only the event's JSON, parsed if `event` is read."""
    ctx = Context.__new__(Context)
    ctx._event = None  # noqa: SLF001 - the Context's own module-level constructor
    ctx._payload = payload  # noqa: SLF001
    ctx._id = ctx._failed = ctx._waiters = ctx._logs = None  # noqa: SLF001
    ctx._settled = False  # noqa: SLF001
    return ctx


def is_parsed(ctx: Context) -> bool:
    """Whether `ctx.event` has been read (or set): its JSON may no longer match it."""
    return ctx._event is not None  # noqa: SLF001 - the Context's own module-level helper


def payload_of(ctx: Context) -> bytes:
    """The JSON a Context of `context_of_payload` holds (while not `is_parsed`)."""
    assert ctx._payload is not None  # noqa: SLF001
    return ctx._payload  # noqa: SLF001


def is_settled(ctx: Context) -> bool:
    """Whether `ctx` has been delivered or has finally failed."""
    return ctx._settled  # noqa: SLF001 - the Context's own module-level helper


def settle(ctx: Context, failure: FailedDelivery | None) -> bool:
    """Record the outcome of `ctx` and wake its waiters; return False if it was already settled.

    `failure` is None for a delivered event; events failing for one reason share one (frozen) value.
    """
    if ctx._settled:  # noqa: SLF001 - settle is the Context's own module-level helper
        return False
    ctx._settled = True  # noqa: SLF001
    ctx._failed = failure  # noqa: SLF001
    if ctx._waiters is not None:  # noqa: SLF001
        for fut in ctx._waiters:  # noqa: SLF001
            if not fut.done() and not fut.get_loop().is_closed():
                fut.set_result(None)
        ctx._waiters = None  # noqa: SLF001
    return True


@attrs.define(slots=True)
class Envelope:
    """What the pipeline carries for one accepted event: its context, JSON bytes and callback."""

    ctx: Context
    payload: bytes
    callback: Callback | None
    kind: str
    """The message type, which names the event emitted on delivery."""
    seq: int = 0
    work: asyncio.Task[None] | None = None
    """Destination plugins running for this event (plugins only)."""
    after: bool = False
    """Whether `after` plugins must run once the event has settled (plugins only)."""
    accepted_at: float = 0.0
    """Clock time of acceptance; read only while a batch observer is registered (else 0)."""
    handed_over: bool = False
    """Accepted for a call made in another thread, which returned already: never withdrawn."""
