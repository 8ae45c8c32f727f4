"""A local Segment-compatible Tracking API server: records batches, validates like the real one.

Used by `python -m analytics_async demo`, by the test suite, and by users' own tests through
`analytics_async.testing.SegmentSink`. A `responder` hook injects faults (statuses, delays, hangs,
resets) per request.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import pathlib
import random
import socket
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs
from aiohttp import web

from .._delivery.batch import MAX_BODY_BYTES
from .._message.build import MAX_EVENT_BYTES
from .._message.codec import dumps
from ..errors import ValidationError

if TYPE_CHECKING:
    from .._plans.tracking import TrackingPlan
    from .debugger import Debugger

__all__ = [
    "DEFAULT_KEEP",
    "Faults",
    "ReceivedBatch",
    "Responder",
    "SegmentSink",
    "event_problem",
    "event_size",
]

DEFAULT_KEEP: Final = 1_000
"""Events (and requests) the Source Debugger page and the sink keep with `ui=True`, newest first."""


Responder = Callable[[web.Request, int], Awaitable[web.StreamResponse | None]]
"""`responder(request, n)` for the n-th request (from 1): a response to answer with, or None for 200."""


def _share(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{attribute.name} must be a number from 0 to 1, not {value!r}")


def _non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{attribute.name} must be a number of seconds, 0 or more, not {value!r}")


def _status(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or not 100 <= value <= 599:
        raise ValueError(f"{attribute.name} must be an HTTP status (100 to 599), not {value!r}")


def _pick(roll: float, shares: tuple[tuple[str, float], ...]) -> str | None:
    """The fault a uniform `roll` in [0, 1) falls on, each taking its share in turn; None past them."""
    for fault, share in shares:
        if roll < share:
            return fault
        roll -= share
    return None


@attrs.frozen
class Faults:
    """Faults the sink injects: a share of requests answered with errors or 429s, and latency.

    Rates are fractions of requests (0 to 1); `seed` makes the sequence repeatable.
    """

    error_rate: float = attrs.field(default=0.0, validator=_share)
    error_status: int = attrs.field(default=503, validator=_status)
    rate_limit_rate: float = attrs.field(default=0.0, validator=_share)
    retry_after: float = attrs.field(default=1.0, validator=_non_negative)
    latency: float = attrs.field(default=0.0, validator=_non_negative)
    seed: int | None = None
    reset_rate: float = attrs.field(default=0.0, validator=_share)
    """Share of requests whose connection is reset before an answer."""
    hang_rate: float = attrs.field(default=0.0, validator=_share)
    """Share of requests never answered (until the sink stops)."""

    def responder(
        self,
        counts: Counter[str],
        hang: Callable[[], Awaitable[None]] | None = None,
        note: Callable[[int, str], None] | None = None,
    ) -> Responder:
        """A responder playing these faults, counting what it injected in `counts`.

        `hang`: what a hanging request awaits (the sink's `hang`); without it, no request hangs.
        `note(n, fault)`: told of the fault injected into request n ("503", "429", "reset", "hang"),
        before it takes effect (so a hang is known while it hangs).
        """
        rng = random.Random(self.seed)  # noqa: S311 - fault injection, not security

        async def respond(request: web.Request, n: int) -> web.StreamResponse | None:
            if self.latency:
                await asyncio.sleep(self.latency)
            roll = rng.random()
            fault = _pick(roll, (("429", self.rate_limit_rate), (str(self.error_status), self.error_rate),
                                 ("reset", self.reset_rate), ("hang", self.hang_rate)))  # fmt: skip
            if fault is None:
                return None
            counts[fault] += 1
            if note is not None:
                note(n, fault)
            if fault == "hang" and hang is not None:
                await hang()
            if fault == "reset" and request.transport is not None:
                request.transport.abort()
                return web.Response(status=500)  # never reaches the client
            await request.read()
            if fault == "429":
                return web.Response(status=429, headers={"Retry-After": f"{self.retry_after:g}"})
            return web.Response(status=self.error_status)

        return respond


def event_problem(event: Mapping[str, Any]) -> str | None:
    """Why the Tracking API would drop this event (it still answers 200), or None."""
    if not event.get("userId") and not event.get("anonymousId"):
        return "no userId or anonymousId"
    if event.get("type") == "track" and not event.get("event"):
        return "track without an event name"
    if event.get("type") not in ("track", "identify", "page", "screen", "group", "alias"):
        return f"unknown type {event.get('type')!r}"
    return None


@attrs.frozen
class ReceivedBatch:
    """One accepted request: its headers, parsed body and size on the wire."""

    headers: Mapping[str, str]
    body: dict[str, Any]
    wire_bytes: int
    json_bytes: int

    @property
    def events(self) -> list[dict[str, Any]]:
        """The events of the batch, in order."""
        events: list[dict[str, Any]] = self.body["batch"]
        return events


class SegmentSink:
    """An aiohttp server on 127.0.0.1 that answers like Segment's `/v1/batch` and records batches.

    Answers 400 for what the real API rejects (bodies above 500 KB, events above 32 KB, invalid
    JSON or shape) and 401 for a missing or malformed Authorization header (the real API accepts
    those with 200, which hides mistakes; the sink is stricter on purpose). `responder` runs first
    for every request and may answer instead. `record`: a file to append every accepted event to,
    one JSON object per line (what `python -m analytics_async plan check` reads).
    """

    def __init__(
        self,
        *,
        path: str = "/v1/batch",
        responder: Responder | None = None,
        faults: Faults | None = None,
        on_batch: Callable[[ReceivedBatch], None] | None = None,
        record: str | os.PathLike[str] | None = None,
        ui: bool = False,
        keep: int = DEFAULT_KEEP,
        plan: TrackingPlan | None = None,
        retain: bool = True,
    ) -> None:
        self.path = path
        self.retain = retain
        """Whether `batches` (and `invalid`) keep everything received; off, they stay empty (the CLI
        sink, which may run for days: it counts in `accepted_batches` and prints as it goes)."""
        self.accepted_batches = 0
        """Batches accepted so far (kept in `batches` or not)."""
        self.record = None if record is None else pathlib.Path(record)
        """A file that gets every accepted event as a line of JSON (`plan check` reads it)."""
        self.injected: Counter[str] = Counter()
        """Faults injected so far, by status (or "reset", "hang")."""
        self.faults = faults or Faults()
        """The faults injected (`set_faults` changes them; the debugger page too)."""
        self._own_responder = responder is None
        self._faulted: dict[int, str] = {}
        """The fault injected into request n ("503", "429", "reset", "hang"), while it is handled."""
        self._rejected: dict[int, str] = {}
        """Why request n was rejected, while it is handled (both for the debugger page)."""
        self._batch_of: dict[int, ReceivedBatch] = {}
        """The batch request n delivered, while it is handled (for the debugger)."""
        self.responder = responder or (
            self.faults.responder(self.injected, self.hang, self._note) if faults else None
        )
        self.debugger: Debugger | None = None
        """The Source Debugger page at `/` (`ui=True`): the last `keep` events, checked against `plan`."""
        if ui:
            from .debugger import Debugger  # noqa: PLC0415 - only a sink with a page loads it

            self.debugger = Debugger(self, keep=keep, plan=plan)
        self.on_batch = on_batch
        self.invalid: list[tuple[dict[str, Any], str]] = []
        """Events the real API would have dropped (with a 200), and why."""
        self.batches: list[ReceivedBatch] = []
        self.requests = 0
        self.rejections: list[tuple[int, str]] = []
        self._runner: web.AppRunner | None = None
        self._released: asyncio.Event | None = None
        self._peers: set[object] = set()
        self.url = ""

    def set_faults(self, faults: Faults) -> None:
        """Inject `faults` from the next request on (unless the sink was given its own `responder`)."""
        if not self._own_responder:
            raise RuntimeError("this sink answers through its own responder; its faults cannot be set")
        self.faults = faults
        self.responder = (
            None if faults == Faults() else faults.responder(self.injected, self.hang, self._note)
        )

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event received, in arrival order."""
        return [event for batch in self.batches for event in batch.events]

    @property
    def connections(self) -> int:
        """Distinct client connections that sent a request so far (by peer address and port)."""
        return len(self._peers)

    async def start(
        self, port: int = 0, host: str = "127.0.0.1", *, ssl_context: ssl.SSLContext | None = None
    ) -> str:
        """Start listening on `host` (`port` 0 picks a free one); return the base URL.

        `ssl_context`: serve HTTPS with it (a server context holding the certificate and key); the
        URL is then `https://`.
        """
        app = web.Application(client_max_size=4 * MAX_BODY_BYTES)
        app.router.add_post(self.path, self._handle)
        if self.debugger is not None:
            self.debugger.mount(app)
        self._released = asyncio.Event()
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        # Bind the socket here, so the port is known whatever the event loop (uvloop's servers are
        # not asyncio.Server) and without reading aiohttp's private state.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((host, port))
        except OSError:
            listener.close()
            await self._runner.cleanup()
            self._runner = None
            raise
        await web.SockSite(self._runner, listener, ssl_context=ssl_context).start()
        shown = f"[{host}]" if family == socket.AF_INET6 else ("127.0.0.1" if host == "0.0.0.0" else host)  # noqa: S104
        scheme = "https" if ssl_context is not None else "http"
        self.url = f"{scheme}://{shown}:{listener.getsockname()[1]}"
        return self.url

    async def hang(self) -> None:
        """Wait until the sink stops: a responder awaits this to model a server that never answers."""
        assert self._released is not None, "start() the sink first"
        await self._released.wait()

    async def stop(self) -> None:
        """Stop the server, releasing hanging responders and dropping open connections."""
        if self._released is not None:
            self._released.set()
        if self.debugger is not None:
            await self.debugger.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SegmentSink:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _reject(self, n: int, status: int, text: str) -> web.Response:
        self.rejections.append((status, text))
        if self.debugger is not None:
            self._rejected[n] = text  # the page shows why
        return web.Response(status=status, text=json.dumps({"success": False, "error": text}))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        n = self.requests
        if request.transport is not None:
            self._peers.add(request.transport.get_extra_info("peername"))
        if self.debugger is None:
            return await self._answer(request, n)
        self.debugger.arrived(n, request.headers)
        answer: web.StreamResponse | None = None
        try:
            answer = await self._answer(request, n)
        finally:  # what the request got, however it ended (a hang ends with the sink)
            fault, reason = self._faulted.pop(n, None), self._rejected.pop(n, None)
            status = None if fault == "reset" or answer is None else answer.status
            self.debugger.answered(n, status, fault=fault, reason=reason, batch=self._batch_of.pop(n, None))
        return answer

    async def _answer(self, request: web.Request, n: int) -> web.StreamResponse:  # noqa: PLR0911 - one per rejection
        if self.responder is not None:
            answer = await self.responder(request, n)
            if answer is not None:
                return answer
        try:
            raw = await request.read()  # aiohttp decompresses Content-Encoding: gzip bodies itself
        except web.HTTPException as exc:
            return self._reject(n, 400, f"unreadable body: {exc.reason}")
        except ConnectionError:  # the client left mid-body (a cancelled send): no one to answer
            return web.Response(status=400)
        wire_bytes = request.content_length if request.content_length is not None else len(raw)
        if not _authorized(request.headers.get("Authorization", "")):
            return self._reject(n, 401, "missing or malformed Authorization header")
        if len(raw) > MAX_BODY_BYTES:
            return self._reject(n, 400, f"body of {len(raw)} bytes exceeds {MAX_BODY_BYTES}")
        try:
            body = json.loads(raw)
        except ValueError:
            return self._reject(n, 400, "body is not valid JSON")
        problem = _check_body(body)
        if problem:
            return self._reject(n, 400, problem)
        batch = ReceivedBatch(dict(request.headers), body, wire_bytes, len(raw))
        if self.debugger is not None:
            self._batch_of[n] = batch
        self._accepted(batch)
        return web.json_response({"success": True})

    def _note(self, n: int, fault: str) -> None:
        """The faults responder injected `fault` into request n: kept for the page, a hang shown now."""
        if self.debugger is not None:
            self._faulted[n] = fault
            if fault == "hang":
                self.debugger.faulted(n, fault)

    def _accepted(self, batch: ReceivedBatch) -> None:
        """Keep an accepted batch: note what the API would drop, record it, tell `on_batch`."""
        self.accepted_batches += 1
        if self.retain:
            self.batches.append(batch)
            for event in batch.events:
                if (why := event_problem(event)) is not None:
                    self.invalid.append((event, why))
        if self.record is not None:  # a small local append, one JSON object per line
            lines = "".join(json.dumps(event, ensure_ascii=False) + "\n" for event in batch.events)
            with self.record.open("a", encoding="utf-8") as file:
                file.write(lines)
        if self.on_batch is not None:
            self.on_batch(batch)


def _authorized(header: str) -> bool:
    scheme, _, credentials = header.partition(" ")
    if scheme == "Bearer":
        return bool(credentials)
    if scheme != "Basic":
        return False
    try:
        return base64.b64decode(credentials, validate=True).decode().endswith(":")
    except ValueError:
        return False


def event_size(event: Mapping[str, Any]) -> int:
    """Bytes of the event's compact JSON, measured exactly as the library measures it before sending.

    Re-serializing a parsed event with the library's own encoder gives back the bytes it sent (the
    stdlib `json` would write some floats differently, `1e+16` for `1e16`, and so disagree near the
    32 KB limit).
    """
    try:
        return len(dumps(event))
    except ValidationError:  # not something the library would send: the stdlib's measure
        return len(json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode())


def _check_body(body: object) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("batch"), list):
        return 'body must be an object with a "batch" list'
    for index, event in enumerate(body["batch"]):
        if not isinstance(event, dict):
            return f"batch[{index}] is not an object"
        size = event_size(event)
        if size > MAX_EVENT_BYTES:
            return f"batch[{index}] is {size} bytes, above {MAX_EVENT_BYTES}"
    return None
