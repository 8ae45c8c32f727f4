"""`Analytics`: the public object, and its six calls.

Each call (`track`, `identify`, `page`, `screen`, `group`, `alias`) builds and validates its message on
the caller's side (raising `ValidationError` there, at the call) and hands it to the Runtime's intake,
which queues it. The rest of the class is the lifecycle, plugins, events and counters, delegated to
the Runtime.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime
from ssl import SSLContext
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, overload

from .._core.clock import Clock, LoopClock
from .._core.events import ErrorEvent, FlushEvent, HTTPRequestEvent, HTTPResponseEvent, PlanViolation
from .._core.http_client import HTTPClient
from .._core.settings import DEFAULT_MAX_IN_FLIGHT, DEFAULT_SPOOL_MAX_BYTES, QueueFullPolicy, Settings
from .._core.stats import Stats
from .._delivery.oauth import OAuthSettings
from .._message import build as msg
from .._message.context import Callback, Context
from .._version import __version__
from ..errors import ValidationError
from .intake import Accepted
from .plugin import Plugin
from .runtime import Runtime

__all__ = ["Analytics"]

P = TypeVar("P")
Handler = Callable[[P], object]
"""An event handler: a function or coroutine function taking the event's payload."""
TypeEvent = Literal["track", "identify", "page", "screen", "group", "alias"]
Timestamp = datetime | str | None
Properties = Mapping[str, Any] | None
Id = str | int | None
EventName = Literal[
    "track", "identify", "page", "screen", "group", "alias", "error", "flush", "http_request",
    "http_response", "register", "deregister", "call_after_close", "drained", "violation",
]  # fmt: skip


class Analytics:
    """An asyncio-native Segment client. See the README and `docs/` for the full contract.

    Construction does no I/O and needs no running loop. Each call (`track`, ...) builds and validates
    the message, queues it and returns its `Context` without waiting for the network. A background
    batcher in the running loop sends batches of at most `flush_at` events, after `flush_interval`
    seconds, or at 480 KiB of JSON. `await flush(close=True, timeout=...)` sends everything and
    bounds shutdown. Not thread-safe: use an instance from one event loop at a time.

    A call that raises accepted nothing: `ValidationError` (its `field` names the argument) for bad
    input, `CancelledError` when the caller is cancelled while its event waits for plugins or room.

    Raises:
        ConfigError: a setting is invalid; the message names it.
    """

    VERSION = __version__

    def __init__(
        self,
        *,
        write_key: str,
        host: str = "https://api.segment.io",
        path: str = "/v1/batch",
        flush_at: int = 15,
        flush_interval: float = 10.0,
        max_retries: int = 10,
        http_request_timeout: float = 10.0,
        max_total_backoff_duration: float = 43200.0,
        max_rate_limit_duration: float = 43200.0,
        disable: bool = False,
        http_client: HTTPClient | None = None,
        oauth_settings: OAuthSettings | None = None,
        max_queue_size: int = 10_000,
        queue_full: QueueFullPolicy = "drop",
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        gzip: bool = False,
        clock: Clock | None = None,
        proxy: str | None = None,
        ssl: SSLContext | None = None,
        spool: str | os.PathLike[str] | None = None,
        spool_max_bytes: int = DEFAULT_SPOOL_MAX_BYTES,
    ) -> None:
        self._settings = settings = Settings(
            write_key=write_key,
            host=host,
            path=path,
            flush_at=flush_at,
            flush_interval=flush_interval,
            max_retries=max_retries,
            http_request_timeout=http_request_timeout,
            max_total_backoff_duration=max_total_backoff_duration,
            max_rate_limit_duration=max_rate_limit_duration,
            disable=disable,
            http_client=http_client,
            oauth_settings=oauth_settings,
            max_queue_size=max_queue_size,
            queue_full=queue_full,
            max_in_flight=max_in_flight,
            gzip=gzip,
            clock=clock or LoopClock(),
            proxy=proxy,
            ssl=ssl,
            spool=spool,
            spool_max_bytes=spool_max_bytes,
        )
        self._runtime = Runtime(settings)
        self._intake = self._runtime.intake

    def __repr__(self) -> str:
        runtime = self._runtime
        state = "closed" if runtime.closed else "open"
        return f"<Analytics url={self._settings.url!r} {state} pending={len(runtime.ledger)}>"

    # -- the six calls -------------------------------------------------------------------------

    async def track(
        self,
        *,
        event: str,
        user_id: Id = None,
        anonymous_id: Id = None,
        properties: Properties = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
        callback: Callback | None = None,
    ) -> Context:
        """Record that a user did `event`. Returns once the event is queued."""
        fields = msg.track_fields(event, properties)
        result = self._accept("track", fields, user_id, anonymous_id, context, timestamp,
                                  integrations, message_id, callback)  # fmt: skip
        return result if isinstance(result, Context) else await result

    async def identify(
        self,
        *,
        user_id: Id = None,
        anonymous_id: Id = None,
        traits: Properties = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
        callback: Callback | None = None,
    ) -> Context:
        """Tie a user to their traits. Returns once the event is queued."""
        fields = msg.traits_fields(traits)
        result = self._accept("identify", fields, user_id, anonymous_id, context, timestamp,
                                  integrations, message_id, callback)  # fmt: skip
        return result if isinstance(result, Context) else await result

    async def page(
        self,
        *,
        user_id: Id = None,
        anonymous_id: Id = None,
        category: str | None = None,
        name: str | None = None,
        properties: Properties = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
        callback: Callback | None = None,
    ) -> Context:
        """Record a page view; `category` is also copied into the properties. Returns once queued."""
        fields = msg.page_fields(category, name, properties, category_in_properties=True)
        result = self._accept("page", fields, user_id, anonymous_id, context, timestamp,
                                  integrations, message_id, callback)  # fmt: skip
        return result if isinstance(result, Context) else await result

    async def screen(
        self,
        *,
        user_id: Id = None,
        anonymous_id: Id = None,
        category: str | None = None,
        name: str | None = None,
        properties: Properties = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
        callback: Callback | None = None,
    ) -> Context:
        """Record a mobile screen view. Returns once the event is queued."""
        fields = msg.page_fields(category, name, properties, category_in_properties=False)
        result = self._accept("screen", fields, user_id, anonymous_id, context, timestamp,
                                  integrations, message_id, callback)  # fmt: skip
        return result if isinstance(result, Context) else await result

    async def group(
        self,
        *,
        group_id: str | int,
        user_id: Id = None,
        anonymous_id: Id = None,
        traits: Properties = None,
        context: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
        callback: Callback | None = None,
    ) -> Context:
        """Associate a user with group `group_id`. Returns once the event is queued."""
        fields = msg.group_fields(group_id, traits)
        result = self._accept("group", fields, user_id, anonymous_id, context, timestamp,
                                  integrations, message_id, callback)  # fmt: skip
        return result if isinstance(result, Context) else await result

    async def alias(
        self,
        *,
        user_id: str | int,
        previous_id: str | int,
        context: Mapping[str, Any] | None = None,
        timestamp: Timestamp = None,
        integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
        callback: Callback | None = None,
    ) -> Context:
        """Tell Segment that `previous_id` and `user_id` are the same user. Returns once queued."""
        fields = msg.alias_fields(previous_id)
        result = self._accept("alias", fields, user_id, None, context, timestamp,
                                  integrations, message_id, callback, alias=True)  # fmt: skip
        return result if isinstance(result, Context) else await result

    def _accept(  # noqa: PLR0917 - internal; mirrors the keyword-only public calls
        self,
        type_: str,
        fields: dict[str, Any],
        user_id: object,
        anonymous_id: object,
        context: object,
        timestamp: object,
        integrations: object,
        message_id: object,
        callback: Callback | None,
        *,
        alias: bool = False,
    ) -> Accepted:
        """Build and validate the message (raising here, at the call), then hand it to the runtime.

        The runtime returns the Context at once in the common case, so no second coroutine is made.
        """
        if callback is not None and not callable(callback):
            raise ValidationError("callback", f"must be callable, not {type(callback).__name__}")
        message = msg.build(type_, fields, user_id=user_id, anonymous_id=anonymous_id,
                            context=context, timestamp=timestamp, integrations=integrations,
                            message_id=message_id, require_both_ids=alias)  # fmt: skip
        return self._intake.accept(message, callback)

    # -- plugins -------------------------------------------------------------------------------

    async def register(self, *plugins: Plugin) -> None:
        """Load and add plugins (see `Plugin`); emits `register` with their names.

        A plugin whose `load` raises is logged and removed; `register` still returns. Events
        dispatched while a registration runs wait for it.

        Raises:
            TypeError: an argument is not a plugin; nothing was registered.
        """
        await self._runtime.stage.register(self, plugins)

    async def deregister(self, *names: str) -> None:
        """Unload and remove the plugins with these names; emits `deregister` with the names."""
        await self._runtime.stage.deregister(self, names)

    # -- flushing and closing ------------------------------------------------------------------

    async def flush(self, *, close: bool = False, timeout: float | None = None) -> None:
        """Send everything queued now and wait until it has settled (delivered or failed).

        Partial batches go at once. Waits for in-flight requests, their retries and callbacks.
        Concurrent calls are safe: each returns when what was accepted before it has settled.
        `timeout` (seconds) bounds the wait: a plain flush then returns and lets the work go on; with
        `close=True` every undelivered event fails with `FlushTimeoutError` (callbacks and `error`
        events fire), nothing of ours keeps running, and the HTTP session is closed. With `close=True`
        the instance stops accepting events (later calls emit `call_after_close`). Never raises for
        delivery problems.
        """
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0
            or math.isnan(timeout)
        ):  # fmt: skip
            raise ValueError(f"timeout must be None or a number >= 0, not {timeout!r}")
        await self._runtime.flush(close=close, timeout=timeout)

    async def close_and_flush(self, *, timeout: float | None = None) -> None:
        """`flush(close=True, timeout=...)`; the default timeout is max(60, flush_interval) * 1.25."""
        await self.flush(close=True, timeout=self._settings.close_timeout if timeout is None else timeout)

    async def aclose(self) -> None:
        """Close and flush with the default timeout; idempotent."""
        await self.close_and_flush()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        runtime = getattr(self, "_runtime", None)
        if runtime is not None and len(runtime.ledger) and not runtime.closed:
            warnings.warn(
                f"Analytics garbage-collected with {len(runtime.ledger)} unsent events; "
                "await analytics.flush(close=True) before dropping it",
                ResourceWarning,
                stacklevel=1,
            )

    # -- events and counters -------------------------------------------------------------------

    # One overload per event name, so that a handler's payload type is checked (see API.md, Events).
    @overload
    def on(self, name: TypeEvent, handler: Handler[Context]) -> Self: ...
    @overload
    def on(self, name: Literal["error"], handler: Handler[ErrorEvent]) -> Self: ...
    @overload
    def on(self, name: Literal["flush"], handler: Handler[FlushEvent]) -> Self: ...
    @overload
    def on(self, name: Literal["http_request"], handler: Handler[HTTPRequestEvent]) -> Self: ...
    @overload
    def on(self, name: Literal["http_response"], handler: Handler[HTTPResponseEvent]) -> Self: ...
    @overload
    def on(self, name: Literal["register", "deregister"], handler: Handler[list[str]]) -> Self: ...
    @overload
    def on(self, name: Literal["call_after_close"], handler: Handler[dict[str, Any]]) -> Self: ...
    @overload
    def on(self, name: Literal["drained"], handler: Handler[None]) -> Self: ...
    @overload
    def on(self, name: Literal["violation"], handler: Handler[PlanViolation]) -> Self: ...
    def on(self, name: str, handler: Handler[Any]) -> Self:
        """Call `handler(payload)` on every `name` event (sync or async); returns the instance."""
        self._runtime.emitter.on(name, handler)
        return self

    @overload
    def once(self, name: TypeEvent, handler: Handler[Context]) -> Self: ...
    @overload
    def once(self, name: Literal["error"], handler: Handler[ErrorEvent]) -> Self: ...
    @overload
    def once(self, name: Literal["flush"], handler: Handler[FlushEvent]) -> Self: ...
    @overload
    def once(self, name: Literal["http_request"], handler: Handler[HTTPRequestEvent]) -> Self: ...
    @overload
    def once(self, name: Literal["http_response"], handler: Handler[HTTPResponseEvent]) -> Self: ...
    @overload
    def once(self, name: Literal["register", "deregister"], handler: Handler[list[str]]) -> Self: ...
    @overload
    def once(self, name: Literal["call_after_close"], handler: Handler[dict[str, Any]]) -> Self: ...
    @overload
    def once(self, name: Literal["drained"], handler: Handler[None]) -> Self: ...
    @overload
    def once(self, name: Literal["violation"], handler: Handler[PlanViolation]) -> Self: ...
    def once(self, name: str, handler: Handler[Any]) -> Self:
        """Call `handler(payload)` on the next `name` event only; returns the instance."""
        self._runtime.emitter.on(name, handler, once=True)
        return self

    def off(self, name: EventName, handler: Handler[Any] | None = None) -> Self:
        """Remove `handler` (or every handler) from `name`; returns the instance."""
        self._runtime.emitter.off(name, handler)
        return self

    def stats(self) -> Stats:
        """A frozen snapshot of the counters since construction."""
        return self._runtime.stats()
