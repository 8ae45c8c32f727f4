"""The event emitter (`on`/`once`/`off`) and the frozen payloads of the emitted events."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

import attrs

from .._message.context import Context
from .user import FAILED, UserWork

__all__ = [
    "EVENT_NAMES",
    "HANDLER_OF",
    "Emitter",
    "ErrorEvent",
    "FlushEvent",
    "HTTPRequestEvent",
    "HTTPResponseEvent",
    "PlanViolation",
]

Handler = Callable[[Any], Any]

EVENT_NAMES: Final = frozenset(
    {
        "track",
        "identify",
        "page",
        "screen",
        "group",
        "alias",
        "error",
        "flush",
        "http_request",
        "http_response",
        "register",
        "deregister",
        "call_after_close",
        "drained",
        "violation",
    }
)


HANDLER_OF: Final = "{!r} handler"
"""How a handler of an event is named in logs (`UserWork`'s `what`)."""


@attrs.frozen
class PlanViolation:
    """An event that breaks its rule (or has none): which event, which rule, where and why.

    `message` is the event as checked (left out of repr and comparisons).
    """

    event: str
    """The event's name for track calls, else its type ("identify")."""
    type: str
    rule: str | None
    """The rule broken (`TRACK 'Order Completed' v2`), or None: no rule plans the event."""
    path: str
    """The failing JSON path in the message (`properties.revenue`), or `event` for an unplanned event."""
    reason: str
    message: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    def describe(self) -> str:
        """One line: `'Order Completed' breaks TRACK 'Order Completed' v1 at properties.revenue: ...`."""
        if self.rule is None:
            return f"{self.event!r} is not in the tracking plan: {self.reason}"
        return f"{self.event!r} breaks {self.rule} at {self.path}: {self.reason}"


@attrs.frozen
class ErrorEvent:
    """Payload of `error`: `delivery_failure` (one per failed event, with its ctx) or `unknown`."""

    code: Literal["delivery_failure", "unknown"]
    reason: BaseException
    ctx: Context | None = None


@attrs.frozen
class FlushEvent:
    """Payload of `flush`: one batch request settled; `reason` is set when it failed."""

    batch_size: int
    delivered: bool
    reason: BaseException | None = None


@attrs.frozen
class HTTPRequestEvent:
    """Payload of `http_request`, emitted before every attempt; credentials are redacted."""

    url: str
    method: str
    headers: Mapping[str, str]
    body: bytes = attrs.field(repr=False)


@attrs.frozen
class HTTPResponseEvent:
    """Payload of `http_response`, emitted after every HTTP response (any status)."""

    url: str
    status: int
    headers: Mapping[str, str]


class Emitter:
    """Named events with sync or async handlers, run through `UserWork` (guarded, tracked).

    A handler that raises (anything, `CancelledError` included) is reported and never propagated.
    """

    def __init__(self, user: UserWork) -> None:
        self._handlers: dict[str, list[tuple[Handler, bool]]] = {}
        self._user = user

    def on(self, name: str, handler: Handler, *, once: bool = False) -> None:
        """Call `handler(payload)` on every `name` event (only the next one with `once`)."""
        if name not in EVENT_NAMES:
            raise ValueError(f"unknown event {name!r}; expected one of {sorted(EVENT_NAMES)}")
        if not callable(handler):
            raise TypeError(f"handler must be callable, not {type(handler).__name__}")
        self._handlers.setdefault(name, []).append((handler, once))

    def off(self, name: str, handler: Handler | None = None) -> None:
        """Remove `handler` from `name` (every handler of `name` if None)."""
        handlers = self._handlers.get(name)
        if not handlers:
            return
        if handler is None:
            handlers.clear()
        else:
            handlers[:] = [(h, o) for h, o in handlers if h != handler]

    def listens(self, name: str) -> bool:
        """Whether `name` has a handler (lets callers skip building a payload)."""
        return bool(self._handlers.get(name))

    def listens_any(self, names: tuple[str, ...]) -> bool:
        """Whether any of `names` has a handler."""
        handlers = self._handlers
        return any(handlers.get(name) for name in names)

    def emit(self, name: str, payload: object) -> None:
        """Call the handlers of `name` with `payload`; never raises."""
        handlers = self._handlers.get(name)
        if not handlers:
            return
        snapshot = list(handlers)
        if any(once for _, once in snapshot):
            handlers[:] = [(h, o) for h, o in handlers if not o]
        what = HANDLER_OF.format(name)
        ctx = getattr(payload, "ctx", payload if isinstance(payload, Context) else None)
        for handler, _ in snapshot:
            result = self._user.call(what, handler, payload, ctx=ctx)
            if result is not FAILED and inspect.isawaitable(result):
                self._user.start(what, result, ctx=ctx)
