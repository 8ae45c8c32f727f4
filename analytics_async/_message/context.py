"""`Context`: one event on its way through the pipeline, and what became of it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, Final, Literal

import attrs

from ..errors import ContextCancelation
from .build import serialize
from .codec import dumps, loads

__all__ = [
    "Callback",
    "Context",
    "Envelope",
    "FailedDelivery",
    "LogLine",
    "context_of_message",
    "context_of_payload",
    "is_settled",
    "plugin_lines",
    "seal",
    "settle_all",
    "unserializable",
    "written",
]

Callback = Callable[[Exception | None, "Context"], object]
"""`callback(err, ctx)`: `err` is None once delivered, else why not (an Exception); may be async."""
LogLevel = Literal["debug", "info", "warn", "error"]
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
    """When it was written: `time.monotonic()` seconds (the clock of asyncio's event loops)."""
    extras: dict[str, Any] | None = None


class Context:
    """One event (`event`, the message dict as it is or was sent) and the state of its delivery.

    A Context is settled exactly once: delivered, or failed with a reason. `delivered()` waits for it.
    """

    __slots__ = ("_event", "_failed", "_id", "_logs", "_message", "_own", "_payload", "_settled", "_waiters")

    def __init__(self, event: dict[str, Any]) -> None:
        self._event: dict[str, Any] | None = event
        self._payload: bytes | None = None
        self._message: dict[str, Any] | None = None
        """In the plugin stage, until `event` is read: the message as built, which `update_event` writes
        into (copy on write); `_payload` is its JSON until the first such write (None after)."""
        self._own: dict[str, Any] | None = None
        """The dict `update_event` copied last (copy on write): already this event's own, not copied again."""
        self._id: str | None = None
        self._failed: FailedDelivery | None = None
        self._settled = False
        self._waiters: list[asyncio.Future[None]] | None = None
        self._logs: list[LogLine | float | str] | None = None
        """Log lines; the `plugin` lines of the stage are kept compact until `logs()` (`plugin_lines`)."""

    @property
    def event(self) -> dict[str, Any]:
        """The message dict as it will be (or was) sent.

        Once an event is queued without plugins, the library keeps only its JSON (a fraction of the
        memory of the dict); reading `event` then parses it, so values appear as sent (a `datetime` as
        its ISO string, a `Decimal` as a float). Changing it after the call does not change what is sent.
        """
        event = self._event
        if event is None:
            if self._payload is None:  # written by update_event: its own copy, from the message
                assert self._message is not None
                self._payload = dumps(self._message)
            event = self._event = loads(self._payload)
            self._message = self._own = None
        return event

    @event.setter
    def event(self, value: dict[str, Any]) -> None:
        self._event = value
        self._message = self._own = None

    @property
    def id(self) -> str:
        """A unique id of this context (made on first use; not the message id)."""
        if self._id is None:
            self._id = str(uuid.uuid4())
        return self._id

    def __repr__(self) -> str:
        state = "pending" if not self._settled else ("failed" if self._failed else "delivered")
        event = self._event or self._message or self.event  # the message itself: no JSON made for it
        return f"<Context {event.get('type')} messageId={event.get('messageId')!r} {state}>"

    def update_event(self, path: str, value: object) -> dict[str, Any]:
        """Set the dotted `path` of the event to `value`, creating what is missing; return the event.

        A numeric segment indexes (or creates) a list: `"properties.items.0.name"`. Writes to
        `integrations.<Name>` are ignored when that integration is set to False. Every dict and list
        along the path is copied before it is written (copy on write), so objects the caller passed in
        are never changed; a dict this method copied for the last write is written again as it is.

        Until `event` has been read, this writes into the message as built, without parsing its JSON
        (about 2.3 us saved per event): the dict it returns is then that message, whose nested values
        not written through this method may be the caller's own objects. Edit those through this
        method or through `ctx.event`, never in place through the returned dict.
        """
        event = self._event
        if event is None:
            event = self._message
            if event is None:
                event = self.event
            else:
                self._payload = None  # the JSON no longer matches: made again if `event` is read
        pair = _PAIRS.get(path)
        if pair is not None:  # the common case, inlined: `context.tenant` into a plain dict
            head, key = pair
            child = event.get(head)
            if type(child) is dict:
                if child is not self._own:  # copy on write: it may be the caller's own dict
                    child = self._own = child.copy()
                    event[head] = child
                child[key] = value
                return event
        parts = _PATHS.get(path)
        if parts is None:
            parts = _parse_path(path)
        if not parts or (parts[0] == "integrations" and _integration_off(event, parts)):
            return event  # a path through an ignored key, or into an integration set to False
        self._own = None  # the value written may be anyone's dict, even the one copied last
        _write(event, parts, value)
        return event

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
        self._logs.append(LogLine(level, message, time.monotonic(), extras))

    def logs(self) -> list[LogLine]:
        """Return this context's log lines, oldest first."""
        lines: list[LogLine] = []
        when = 0.0
        for line in self._logs or ():
            if isinstance(line, LogLine):
                lines.append(line)
            elif isinstance(line, float):
                when = line
            else:
                lines.append(LogLine("debug", "plugin", when, {"plugin": line}))
        return lines


_PATHS: dict[str, tuple[str, ...]] = {}
"""`update_event` paths split into their parts (an empty tuple: ignored), as plugins reuse a few."""
_PAIRS: dict[str, tuple[str, str]] = {}
"""The two-part paths of `_PATHS` that name no integration (`context.tenant`): the common case."""
_PATHS_KEPT: Final = 1024


def _parse_path(path: str) -> tuple[str, ...]:
    """The parts of a dotted `path`; none if one of them is an ignored key (remembered)."""
    parts = tuple(path.split("."))
    if not _IGNORED_KEYS.isdisjoint(parts):
        parts = ()
    if len(_PATHS) >= _PATHS_KEPT:
        _PATHS.clear()  # paths made from data: start over rather than grow
        _PAIRS.clear()
    _PATHS[path] = parts
    if len(parts) == 2 and parts[0] != "integrations":
        _PAIRS[path] = (parts[0], parts[1])
    return parts


def _integration_off(event: dict[str, Any], parts: tuple[str, ...]) -> bool:
    """Whether `parts` is `integrations.<Name>` and that integration is False (the write is ignored)."""
    if len(parts) != 2 or parts[0] != "integrations":
        return False
    integrations = event.get("integrations")
    return isinstance(integrations, dict) and integrations.get(parts[1]) is False


def _write(event: dict[str, Any], parts: tuple[str, ...], value: object) -> None:
    """Set `parts` of `event` to `value`, copying every dict and list along the way (copy on write)."""
    node: Any = event
    last = len(parts) - 1
    for i in range(last):
        part = parts[i]
        if type(node) is dict:  # the common case first: a plain dict holding a plain dict
            child = node.get(part)
            # Copy on write: it may be the caller's own dict.
            child = child.copy() if type(child) is dict else _copied(child, parts[i + 1])
            node[part] = child
        else:
            key: str | int = int(part) if isinstance(node, list) and part.isdecimal() else part
            child = _copied(_lookup(node, key), parts[i + 1])
            _assign(node, key, child)
        node = child
    part = parts[last]
    if type(node) is dict:
        node[part] = value
    else:
        _assign(node, int(part) if isinstance(node, list) and part.isdecimal() else part, value)


def _copied(child: object, following: str) -> dict[str, Any] | list[Any]:
    """A copy of `child` to write into (the caller's objects are never changed), or a new container.

    A numeric segment that follows (digits, as `str.isdecimal` reads them) makes a new list.
    """
    if isinstance(child, dict):
        return dict(child)
    if isinstance(child, list):
        return list(child)
    return [] if following.isdecimal() else {}


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
    ctx._event = ctx._message = ctx._own = None  # noqa: SLF001 - the Context's own module-level constructor
    ctx._payload = payload  # noqa: SLF001
    ctx._id = ctx._failed = ctx._waiters = ctx._logs = None  # noqa: SLF001
    ctx._settled = False  # noqa: SLF001
    return ctx


def plugin_lines(ctx: Context, when: float) -> list[LogLine | float | str]:
    """The log of `ctx`, to which the plugin stage appends its `plugin` lines written at `when`.

    One is written per plugin per event, so they are kept compact until `logs()` reads them: a
    float gives the time of the lines after it, a str is the line `{"plugin": name}` of that name.
    `PluginStage.advance` and `PluginStage.call_hooks` inline these steps (once per event and stage,
    where the call cost about 450 instructions): a change here changes them too.
    """
    logs = ctx._logs  # noqa: SLF001 - the Context's own module-level helper
    if logs is None:
        logs = ctx._logs = []  # noqa: SLF001
    logs.append(when)
    return logs


def context_of_message(message: dict[str, Any], payload: bytes | None) -> Context:
    """A Context for the plugin stage: `message` as built, and its JSON if made already.

    Reading `event` parses that JSON, made from the message then if need be.
    """
    ctx = Context.__new__(Context)
    ctx._event = ctx._own = None  # noqa: SLF001 - the Context's own module-level constructor
    ctx._message = message  # noqa: SLF001
    ctx._payload = payload  # noqa: SLF001
    ctx._id = ctx._failed = ctx._waiters = ctx._logs = None  # noqa: SLF001
    ctx._settled = False  # noqa: SLF001
    return ctx


def unserializable(ctx: Context) -> Exception | None:
    """Why the message of a stage's Context cannot be sent: what `serialize` (the call's) raises for it.

    None when it can, or when the Context holds no message of its own (`event` was read or set).
    """
    message = ctx._message  # noqa: SLF001 - the Context's own module-level helper
    if ctx._event is not None or ctx._payload is not None or message is None:  # noqa: SLF001
        return None
    try:
        serialize(message)
    except Exception as exc:  # noqa: BLE001 - returned: the caller decides
        return exc
    return None


def seal(ctx: Context) -> tuple[bytes, dict[str, Any] | None]:
    """Make `ctx` hold only the JSON of its event as the plugins left it; return that JSON.

    Also the event, if it had to be serialized (with `serialize`, which validates it: a plugin read or
    wrote it, or it had no JSON yet), else None (the JSON it held is current). A queued event lives
    for seconds; its JSON is a fraction of the memory of the dict and, unlike the dict, nothing the
    garbage collector has to walk (and the message may hold the caller's own dicts). If `serialize`
    raises, `ctx` is unchanged.
    """
    event = ctx._event  # noqa: SLF001 - the Context's own module-level helper
    if event is None:
        payload = ctx._payload  # noqa: SLF001
        if payload is not None:
            ctx._message = ctx._own = None  # noqa: SLF001
            return payload, None
        event = ctx._message  # noqa: SLF001
        assert event is not None
    payload = serialize(event)
    ctx._event = ctx._message = ctx._own = None  # noqa: SLF001
    ctx._payload = payload  # noqa: SLF001
    return payload, event


def written(ctx: Context) -> dict[str, Any] | None:
    """The event to serialize as plugins left it (else None: the JSON a Context holds is current)."""
    if ctx._event is not None:  # noqa: SLF001 - the Context's own module-level helper
        return ctx._event  # noqa: SLF001
    if ctx._payload is None:  # noqa: SLF001
        return ctx._message  # noqa: SLF001
    return None


def is_settled(ctx: Context) -> bool:
    """Whether `ctx` has been delivered or has finally failed."""
    return ctx._settled  # noqa: SLF001 - the Context's own module-level helper


def settle_all(envelopes: Iterable[Envelope], failure: FailedDelivery | None) -> list[Envelope]:
    """Record the outcome of each envelope's Context and wake its waiters; return those settled now.

    Envelopes whose Context was settled already are left out. `failure` is None for delivered events;
    events failing for one reason share one (frozen) value. One loop for a whole batch, before any
    of its events is reported: no Python call per event.
    """
    settled: list[Envelope] = []
    for envelope in envelopes:
        ctx = envelope.ctx
        if ctx._settled:  # noqa: SLF001 - settle_all is the Context's own module-level helper
            continue
        ctx._settled = True  # noqa: SLF001
        ctx._failed = failure  # noqa: SLF001
        if (waiters := ctx._waiters) is not None:  # noqa: SLF001
            for fut in waiters:
                if not fut.done() and not fut.get_loop().is_closed():
                    fut.set_result(None)
            ctx._waiters = None  # noqa: SLF001
        settled.append(envelope)
    return settled


@attrs.define(slots=True)
class Envelope:
    """What the pipeline carries for one accepted event: its context, JSON bytes and callback."""

    ctx: Context
    payload: bytes
    callback: Callback | None
    kind: str
    """The message type, which names the event emitted on delivery."""
    seq: int = 0
    work: asyncio.Future[None] | None = None
    """Destination plugins to run or running for this event (plugins only; see `PluginStage.route`)."""
    after: bool = False
    """Whether `after` plugins must run once the event has settled (plugins only)."""
    accepted_at: float = 0.0
    """Clock time of acceptance; read only while a batch observer is registered (else 0)."""
    handed_over: bool = False
    """Accepted for a call made in another thread, which returned already: never withdrawn."""
