"""segment-analytics-python's `Client` on the asyncio core (public through `analytics_async.sync`)."""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from ssl import SSLContext
from typing import TYPE_CHECKING, Any, Final, TextIO

from .._core import fork
from .._core.events import ErrorEvent
from .._delivery import aiohttp_client
from .._delivery.oauth import OAuthSettings
from .._lifecycle.client import Analytics
from .._message import build as msg
from ..errors import (
    ConfigError,
    EventTooLargeError,
    HTTPStatusError,
    PlanViolationError,
    RateLimitExceededError,
    ValidationError,
)
from .exits import ExitHooks, SignalFlush
from .loopthread import LoopThread
from .threadcall import Submitter

if TYPE_CHECKING:
    from .._plans.plugin import OnUnplanned, OnViolation
    from .._plans.tracking import TrackingPlan

__all__ = [
    "ATEXIT_TIMEOUT",
    "APIError",
    "Client",
    "InvalidCallError",
    "InvalidSettingError",
    "MessageTooLargeError",
    "OnError",
    "Result",
    "flush_on_signals",
]

logger = logging.getLogger("analytics_async")

ATEXIT_TIMEOUT: Final = 5.0
"""Seconds the exit hooks give each open client to send what it holds (at interpreter exit, and as a
multiprocessing, billiard or Celery child process leaves: see `exits`)."""


class InvalidCallError(ValidationError, AssertionError):
    """An invalid argument: our `ValidationError`, and the `AssertionError` the official SDK raises."""


class MessageTooLargeError(EventTooLargeError, RuntimeError):
    """An event above 32 KB: our `EventTooLargeError`, and the `RuntimeError` the official SDK raises."""


class InvalidSettingError(ConfigError, AssertionError):
    """A setting is invalid: our `ConfigError`, and the `AssertionError` the official SDK raises."""


class APIError(HTTPStatusError):
    """The Tracking API refused a batch: the official SDK's `segment.analytics.request.APIError`.

    `status` (the HTTP status), `code` ("redirect" for a 3xx, else "unknown": the library does not
    parse error bodies) and `message` (the reason phrase) as there, and our `HTTPStatusError`. Passed
    to `on_error` for refused events, and raised by a call in `sync_mode`.
    """

    def __init__(self, status: int, code: str, message: str, response: object = None) -> None:
        super().__init__(status, message)
        self.code = code
        self.message = message
        self.response = response

    @classmethod
    def of(cls, error: HTTPStatusError) -> APIError:
        """The official SDK's form of `error`."""
        return cls(error.status, "redirect" if 300 <= error.status < 400 else "unknown", error.reason)

    def __str__(self) -> str:
        return f"[Segment] {self.code}: {self.message} ({self.status})"


def official_error(error: BaseException) -> BaseException:
    """What the official SDK would report for `error`: an `APIError` for a refused batch."""
    if isinstance(error, APIError):
        return error
    if isinstance(error, HTTPStatusError):
        return APIError.of(error)
    if isinstance(error, RateLimitExceededError):  # only 429s lead there: the official SDK's APIError(429)
        return APIError(429, "unknown", str(error))
    return error


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg] # its stream is always sys.stderr
    """Writes to `sys.stderr` as it is at each line, so redirections made later still see the lines."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        """The stream is always the current `sys.stderr`."""


_STDERR: Final = _Stderr()
"""The handler `debug=True` attaches (once) when no `log_handler` is given: stderr, as the official SDK."""

Message = dict[str, Any]
Id = str | int | None

_OFFICIAL_KEYS: Final = {
    "track": ("integrations", "anonymousId", "properties", "timestamp", "context", "userId", "type",
              "event", "messageId"),
    "identify": ("integrations", "anonymousId", "timestamp", "context", "type", "userId", "traits",
                 "messageId"),
    "group": ("integrations", "anonymousId", "timestamp", "groupId", "context", "userId", "traits", "type",
              "messageId"),
    "alias": ("integrations", "previousId", "timestamp", "context", "userId", "type", "messageId",
              "anonymousId"),
    "page": ("integrations", "anonymousId", "properties", "timestamp", "category", "context", "userId",
             "type", "name", "messageId"),
    "screen": ("integrations", "anonymousId", "properties", "timestamp", "category", "context", "userId",
               "type", "name", "messageId"),
}  # fmt: skip
"""The keys of the message segment-analytics-python 2.4.0 returns per call, in its order (None where
unset). The event sent carries ours (`_metadata` too, and no None entries)."""


def _as_official(message: Message) -> Message:
    """The returned message as the official SDK's: its keys, None where unset, no `_metadata`."""
    return {key: message.get(key) for key in _OFFICIAL_KEYS[message["type"]]}


Result = tuple[bool, Message]
OnError = Callable[[BaseException, list[Message]], Any]


class Client:
    """segment-analytics-python's `Client`, on the asyncio core. Thread-safe and fork-safe.

    Parameters map to `Analytics` settings: `upload_size` -> `flush_at`, `upload_interval` ->
    `flush_interval`, `timeout` -> `http_request_timeout`, `send=False` -> `disable=True`, the
    `oauth_*` ones -> `OAuthSettings`, `proxies` -> `proxy` (its "https" entry, else "http"). `thread` is
    accepted and ignored (batches go out 4 at a time from one event loop). `on_error(error,
    messages)` is called once per failed event with a one-element list. `spool=path` (ours, not the
    official SDK's) keeps what `join()`/`shutdown()` or the exit hook could not deliver in time, for
    the next process (see docs/delivery.md, "The durable spool"). `plan` (ours: a `TrackingPlan` or
    the path of a plan file) checks every call against a tracking plan, as
    `plan.plugin(on_violation=..., on_unplanned=...)` does for `Analytics` (docs/plans.md).
    """

    def __init__(
        self,
        write_key: str | None = None,
        host: str | None = None,
        debug: bool = False,
        max_queue_size: int = 10000,
        send: bool = True,
        on_error: OnError | None = None,
        gzip: bool = False,
        max_retries: int = 10,
        sync_mode: bool = False,
        timeout: float = 15,
        proxies: Mapping[str, str] | None = None,
        thread: int = 1,
        upload_size: int = 100,
        upload_interval: float = 0.5,
        log_handler: logging.Handler | None = None,
        oauth_client_id: str | None = None,
        oauth_client_key: str | None = None,
        oauth_key_id: str | None = None,
        oauth_auth_server: str = "https://oauth2.segment.io",
        oauth_scope: str = "tracking_api:write",
        max_total_backoff_duration: float = 43200,
        max_rate_limit_duration: float = 1800,
        *,
        spool: str | os.PathLike[str] | None = None,
        ssl: SSLContext | None = None,
        plan: TrackingPlan | str | os.PathLike[str] | None = None,
        on_violation: OnViolation = "warn",
        on_unplanned: OnUnplanned = "allow",
    ) -> None:
        proxy = (proxies.get("https") or proxies.get("http")) if proxies else None
        oauth = None
        if oauth_client_id and oauth_client_key and oauth_key_id:
            oauth = OAuthSettings(client_id=oauth_client_id, client_key=oauth_client_key, key_id=oauth_key_id,
                                  auth_server=oauth_auth_server, scope=oauth_scope)  # fmt: skip
        try:
            self.analytics = Analytics(
                write_key=write_key,  # type: ignore[arg-type] # checked: None is a ConfigError
                host=host or "https://api.segment.io", flush_at=upload_size, flush_interval=upload_interval,
                # sync_mode: one attempt per call, as the official SDK posts once and raises
                max_retries=0 if sync_mode else max_retries, http_request_timeout=timeout, gzip=gzip,
                disable=not send,
                max_queue_size=max_queue_size, oauth_settings=oauth,
                max_total_backoff_duration=max_total_backoff_duration,
                max_rate_limit_duration=0 if sync_mode else max_rate_limit_duration,
                proxy=proxy, spool=spool, ssl=ssl,
            )  # fmt: skip
            if plan is not None:
                self._check_with(plan, on_violation, on_unplanned)
        except ConfigError as exc:
            raise InvalidSettingError(exc.setting, str(exc).partition(": ")[2]) from None
        self.sync_mode = sync_mode
        self.send = send
        self.on_error = on_error
        self._max_queue_size = max_queue_size
        # weakly: the instance must not keep its Client alive (see `_abandoned`)
        self.analytics.on("error", functools.partial(_report_error, weakref.ref(self)))
        if debug:  # as the official SDK: DEBUG lines, to stderr unless a handler is given
            logger.setLevel(logging.DEBUG)
            if log_handler is None and not any(h is _STDERR for h in logger.handlers):
                logger.addHandler(_STDERR)
        if log_handler is not None:
            logger.addHandler(log_handler)
        aiohttp_client.preload()  # now, as the official SDK imports requests: not in the first burst
        self._thread = LoopThread()
        self._submitter: Submitter | None = None
        self._closed = False
        self._finalizer = weakref.finalize(self, _abandoned, self._thread, self.analytics)
        self._finalizer.atexit = False  # the exit hooks close open clients
        fork.register(self)
        _OPEN.add(self)
        _EXITS.cover()

    def _check_with(
        self,
        plan: TrackingPlan | str | os.PathLike[str],
        on_violation: OnViolation,
        on_unplanned: OnUnplanned,
    ) -> None:
        from .._plans.tracking import TrackingPlan  # noqa: PLC0415 - only with a plan (jsonschema_rs)

        if not isinstance(plan, TrackingPlan):
            plan = TrackingPlan.load(plan)
        plugin = plan.plugin(on_violation=on_violation, on_unplanned=on_unplanned)
        self.analytics._runtime.intake.stage.attach(plugin)  # noqa: SLF001 - our own package

    # -- the six calls (the official SDK's positional order) -----------------------------------

    def track(
        self, user_id: Id = None, event: str | None = None, properties: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None, timestamp: datetime | str | None = None,
        anonymous_id: Id = None, integrations: Mapping[str, Any] | None = None, message_id: str | None = None,
    ) -> Result:  # fmt: skip
        """Queue a track event: `(True, message)` once handed over; `(False, message)`: queue full."""
        with _segment_errors():
            fields = msg.track_fields(event, properties)
        return self._enqueue(
            "track", fields, user_id, anonymous_id, context, timestamp, integrations, message_id
        )

    def identify(
        self, user_id: Id = None, traits: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None, timestamp: datetime | str | None = None,
        anonymous_id: Id = None, integrations: Mapping[str, Any] | None = None, message_id: str | None = None,
    ) -> Result:  # fmt: skip
        """Queue an identify event (see `track` for the result)."""
        with _segment_errors():
            fields = msg.traits_fields(traits)
        return self._enqueue(
            "identify", fields, user_id, anonymous_id, context, timestamp, integrations, message_id
        )

    def group(
        self, user_id: Id = None, group_id: Id = None, traits: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None, timestamp: datetime | str | None = None,
        anonymous_id: Id = None, integrations: Mapping[str, Any] | None = None, message_id: str | None = None,
    ) -> Result:  # fmt: skip
        """Queue a group event (see `track` for the result)."""
        with _segment_errors():
            fields = msg.group_fields(group_id, traits)
        return self._enqueue(
            "group", fields, user_id, anonymous_id, context, timestamp, integrations, message_id
        )

    def alias(
        self, previous_id: Id = None, user_id: Id = None, context: Mapping[str, Any] | None = None,
        timestamp: datetime | str | None = None, integrations: Mapping[str, Any] | None = None,
        message_id: str | None = None,
    ) -> Result:  # fmt: skip
        """Queue an alias event (see `track` for the result)."""
        with _segment_errors():
            fields = msg.alias_fields(previous_id)
        return self._enqueue(
            "alias", fields, user_id, None, context, timestamp, integrations, message_id, alias=True
        )

    def page(
        self, user_id: Id = None, category: str | None = None, name: str | None = None,
        properties: Mapping[str, Any] | None = None, context: Mapping[str, Any] | None = None,
        timestamp: datetime | str | None = None, anonymous_id: Id = None,
        integrations: Mapping[str, Any] | None = None, message_id: str | None = None,
    ) -> Result:  # fmt: skip
        """Queue a page event (see `track` for the result)."""
        with _segment_errors():
            # as segment-analytics-python: `category` stays out of the properties (analytics-node copies it)
            fields = msg.page_fields(category, name, properties, category_in_properties=False)
        return self._enqueue(
            "page", fields, user_id, anonymous_id, context, timestamp, integrations, message_id
        )

    def screen(
        self, user_id: Id = None, category: str | None = None, name: str | None = None,
        properties: Mapping[str, Any] | None = None, context: Mapping[str, Any] | None = None,
        timestamp: datetime | str | None = None, anonymous_id: Id = None,
        integrations: Mapping[str, Any] | None = None, message_id: str | None = None,
    ) -> Result:  # fmt: skip
        """Queue a screen event (see `track` for the result)."""
        with _segment_errors():
            fields = msg.page_fields(category, name, properties, category_in_properties=False)
        return self._enqueue(
            "screen", fields, user_id, anonymous_id, context, timestamp, integrations, message_id
        )

    def _enqueue(
        self, type_: str, fields: dict[str, Any], user_id: object, anonymous_id: object, context: object,
        timestamp: object, integrations: object, message_id: object, *, alias: bool = False,
    ) -> Result:  # fmt: skip
        submitter = self._submitter_now()
        outcome: list[Exception | None] = []  # sync_mode: the event's settlement, filled before flush returns
        callback = (lambda error, ctx: outcome.append(error)) if self.sync_mode else None
        with _segment_errors():  # a full queue still takes the event, to report its drop (on_error)
            message, accepted = submitter.submit(type_, fields, user_id, anonymous_id, context, timestamp,
                                                 integrations, message_id, callback, alias=alias)  # fmt: skip
        if logger.isEnabledFor(logging.DEBUG):  # ids and counts only: never the event's content
            queued = submitter.pending + self.analytics._runtime.queue_depth  # noqa: SLF001 - our own package
            logger.debug("analytics_async: queued %s %s (%d waiting)", type_, message["messageId"], queued)
        if self.sync_mode:
            logger.debug("analytics_async: sending %s %s at once (sync_mode)", type_, message["messageId"])
            self.flush()
            if outcome and outcome[0] is not None:
                raise official_error(outcome[0])
        # False as the official SDK's full queue: refused once a full queue held a caller back 0.1 s
        # (the event is dropped and reported to on_error)
        return accepted, _as_official(message)

    def _submitter_now(self) -> Submitter:
        loop = self._thread.loop
        if self._submitter is None or self._submitter.loop is not loop:
            self._submitter = Submitter(self.analytics, loop)
        return self._submitter

    # -- flushing and shutting down ------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything queued so far has been sent (or failed), at most `timeout` seconds."""
        if self._closed:
            return
        try:
            self._thread.run(self.analytics.flush(timeout=timeout), None if timeout is None else timeout + 1)
        except TimeoutError:
            logger.warning("analytics_async: flush still waiting after %gs; delivery goes on", timeout)
        else:
            logger.debug("analytics_async: flushed (%d still queued)", self.analytics.stats().queue_depth)

    def join(self, timeout: float | None = None) -> None:
        """Send what is left (within `timeout`, default 75 s), stop the background thread; idempotent."""
        if self._closed:
            return
        in_use = self.in_use
        self._closed = True
        _OPEN.discard(self)
        self._finalizer.detach()
        if in_use:
            self._thread.run(self.analytics.close_and_flush(timeout=timeout))  # bounded by its deadline
            self._thread.stop()

    def shutdown(self, timeout: float | None = None) -> None:
        """`flush()` then `join()`, as the official SDK; `timeout` bounds the whole."""
        self.join(timeout)

    @property
    def in_use(self) -> bool:
        """Open, and its loop thread started (it has queued or sent something): there is work to end."""
        return not self._closed and (self._thread.started or self._submitter is not None)

    def after_fork(self) -> None:
        """In a forked child: the parent's handoff belonged to the parent's thread; hook the child's exits."""
        self._submitter = None
        _EXITS.cover()


class _SegmentErrors:
    """`with _segment_errors():` raises our validation errors as the types the official SDK raises.

    A class, not `@contextmanager`: it wraps every call, and a generator-based one cost about as
    much as building the message's fields.
    """

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, PlanViolationError):
            return  # raised as it is: the plan's "raise" is ours, not the official SDK's
        if isinstance(exc, EventTooLargeError):
            raise MessageTooLargeError(exc.size, exc.limit) from None
        if isinstance(exc, ValidationError):
            raise InvalidCallError(exc.field, str(exc).partition(": ")[2]) from None


_segment_errors = _SegmentErrors


_OPEN: weakref.WeakSet[Client] = weakref.WeakSet()


def _report_error(client_ref: weakref.ref[Client], event: ErrorEvent) -> None:
    """A failed event reaches `on_error` as the official SDK reports it (raised instead in sync_mode)."""
    client = client_ref()
    if client is None or client.on_error is None or client.sync_mode or event.code != "delivery_failure":
        return
    client.on_error(official_error(event.reason), [event.ctx.event] if event.ctx is not None else [])


def _abandoned(thread: LoopThread, analytics: Analytics) -> None:
    """A client garbage-collected without `join()`: close it in its own loop, quietly, without waiting.

    What it holds is sent within the exit deadline (the loop thread is a daemon: an interpreter that
    exits first ends it), its session is closed in the loop that owns it, and the thread ends.
    """
    if thread.started:
        thread.finish(analytics.close_and_flush(timeout=ATEXIT_TIMEOUT))


def _close_open_clients() -> None:
    for client in list(_OPEN):
        try:
            client.shutdown(timeout=ATEXIT_TIMEOUT)
        except Exception:
            logger.exception("analytics_async: closing a client at exit failed")


def _flush_open_clients(timeout: float) -> None:
    end = time.monotonic() + timeout
    for client in list(_OPEN):
        if client.in_use:
            client.flush(timeout=max(0.0, end - time.monotonic()))


_EXITS: Final = ExitHooks(_close_open_clients)
_SIGNALS: Final = SignalFlush(_flush_open_clients)


def flush_on_signals(
    timeout: float = ATEXIT_TIMEOUT, signals: Iterable[int] = (signal.SIGTERM, signal.SIGINT)
) -> Callable[[], None]:
    """On SIGTERM/SIGINT, flush every open client within `timeout` seconds, then do what the signal did.

    A signal's default action ends the process without `atexit` (docker and systemd stop processes
    with SIGTERM), losing what is queued. Call this once in the main thread, after the server or
    framework installed its own handlers: on a signal, what every client holds is sent (at most
    `timeout` seconds, in a thread of its own), then the handler that was there before runs, or the
    signal's default action ends the process as it would have. Returns the function that puts the
    previous handlers back.

    Raises:
        RuntimeError: not called in the main thread.
    """
    return _SIGNALS.install(timeout, signals)
