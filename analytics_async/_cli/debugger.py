"""The sink's Source Debugger: a page at `/` that shows every event as it arrives, pushed by SSE.

`SegmentSink(ui=True)` (and `python -m analytics_async sink --ui`) mounts it on the sink's own
aiohttp app. The page is one static file shipped in the package (`debugger.html`: HTML, CSS and JS,
no build step, no CDN). The server keeps the last `keep` events and requests (a ring), so a burst of
any size neither grows its memory nor the page's; each accepted batch is one server-sent event, and a
client that falls behind is told to reload its state rather than being buffered without bound.

What the page shows never includes a secret: the Authorization header is masked to its scheme, and
event content is rendered as text (never HTML) by the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import json
import time
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs
from aiohttp import web

from .sink import DEFAULT_KEEP

if TYPE_CHECKING:
    from .._plans.tracking import TrackingPlan
    from .sink import Faults, ReceivedBatch, SegmentSink

__all__ = ["Debugger"]

_CLIENT_BACKLOG: Final = 256
"""Messages queued for one page before it is told to reload its state instead."""
_SHOWN_HEADERS: Final = (
    "Authorization", "Content-Type", "Content-Encoding", "Content-Length", "User-Agent", "X-Retry-Count",
)  # fmt: skip


def masked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The request headers the page shows, with the Authorization value replaced by its scheme."""
    shown = {name: headers[name] for name in _SHOWN_HEADERS if name in headers}
    if "Authorization" in shown:
        scheme = shown["Authorization"].partition(" ")[0]
        shown["Authorization"] = f"{scheme} ••••••" if scheme else "••••••"
    return shown


class Debugger:
    """The live view of one sink: its recent events and requests, and the pages that watch them."""

    def __init__(
        self, sink: SegmentSink, *, keep: int = DEFAULT_KEEP, plan: TrackingPlan | None = None
    ) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, not {keep}")
        self._sink = sink
        self.keep = keep
        self.plan = plan
        self.events: deque[dict[str, Any]] = deque(maxlen=keep)
        """The last `keep` events: {id, batch, time, event, violation}."""
        self.requests: deque[dict[str, Any]] = deque(maxlen=keep)
        """The last `keep` requests: {n, time, status, fault, reason, headers, retry, gzip, bytes, events}."""
        self.counters = {"events": 0, "batches": 0, "bytes": 0, "requests": 0, "faults": 0, "violations": 0}
        self._pending: dict[int, dict[str, Any]] = {}
        self._clients: set[asyncio.Queue[str]] = set()
        self._seq = 0

    def mount(self, app: web.Application) -> None:
        """Add the page and its endpoints to the sink's app."""
        app.router.add_get("/", self._page)
        app.router.add_get("/ui/state", self._state)
        app.router.add_get("/ui/stream", self._stream)
        app.router.add_post("/ui/faults", self._set_faults)
        app.router.add_post("/ui/clear", self._clear)

    # -- what the sink reports ------------------------------------------------------------------

    def arrived(self, n: int, headers: Mapping[str, str]) -> None:
        """Request `n` arrived (its answer is not known yet: it may hang)."""
        self.counters["requests"] += 1
        record = {
            "n": n,
            "time": time.time(),
            "status": None,
            "fault": None,
            "reason": None,
            "headers": masked_headers(headers),
            "retry": _number(headers.get("X-Retry-Count")),
            "gzip": headers.get("Content-Encoding", "") == "gzip",
            "bytes": _number(headers.get("Content-Length")),
            "events": 0,
        }
        self._pending[n] = record
        self.requests.append(record)
        if len(self._pending) > self.keep:  # hanging requests beyond the ring: forget the oldest
            self._pending.pop(next(iter(self._pending)))

    def answered(
        self, n: int, status: int | None, *, fault: str | None = None, reason: str | None = None,
        batch: ReceivedBatch | None = None,
    ) -> None:  # fmt: skip
        """Request `n` was answered `status` (None: the connection was reset), faulted or not."""
        record = self._pending.pop(n, None)
        if record is None:
            return
        record.update(status=status, fault=fault, reason=reason)
        if fault is not None:
            self.counters["faults"] += 1
        events: list[dict[str, Any]] = []
        if batch is not None:
            record["bytes"] = batch.wire_bytes
            record["events"] = len(batch.events)
            self.counters["batches"] += 1
            self.counters["bytes"] += batch.wire_bytes
            for event in batch.events[-self.keep :]:
                self._seq += 1
                events.append(
                    {
                        "id": self._seq,
                        "batch": n,
                        "time": record["time"],
                        "event": event,
                        "violation": self._check(event),
                    }
                )
            self.counters["events"] += len(batch.events)
            self.events.extend(events)
        self._push({"kind": "request", "request": record, "events": events, "counters": self.counters})

    def faulted(self, n: int, fault: str) -> None:
        """Request `n` got an injected fault that leaves it unanswered for now (a hang)."""
        record = self._pending.get(n)
        if record is not None:
            record["fault"] = fault
            self._push({"kind": "request", "request": record, "events": [], "counters": self.counters})

    def _check(self, event: dict[str, Any]) -> dict[str, Any] | None:
        if self.plan is None:
            return None
        violations = self.plan.check(event)
        if not violations:
            return None
        self.counters["violations"] += 1
        first = violations[0]
        return {"path": first.path, "reason": first.reason, "rule": first.rule, "text": first.describe()}

    def _push(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, default=str)
        for queue in list(self._clients):
            try:
                queue.put_nowait(data)
            except asyncio.QueueFull:  # a page that falls behind reloads its state instead
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(json.dumps({"kind": "reset"}))

    # -- the endpoints --------------------------------------------------------------------------

    async def _page(self, request: web.Request) -> web.Response:
        html = importlib.resources.files(__package__).joinpath("debugger.html").read_text(encoding="utf-8")
        return web.Response(
            text=html,
            content_type="text/html",
            headers={
                "Cache-Control": "no-store",
                "Content-Security-Policy": _CSP,
                "X-Content-Type-Options": "nosniff",
            },
        )

    def state(self) -> dict[str, Any]:
        """What a page loads first: the rings, the counters, the settings."""
        faults = self._sink.faults
        return {
            "keep": self.keep,
            "events": list(self.events),
            "requests": list(self.requests),
            "counters": self.counters,
            "faults": _faults_dict(faults),
            "plan": None if self.plan is None else repr(self.plan),
            "path": self._sink.path,
        }

    async def _state(self, request: web.Request) -> web.Response:
        return web.Response(text=json.dumps(self.state(), default=str), content_type="application/json")

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=_CLIENT_BACKLOG)
        self._clients.add(queue)
        try:
            await response.write(b": connected\n\n")
            while True:
                try:
                    data = await asyncio.wait_for(queue.get(), timeout=15)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                await response.write(f"data: {data}\n\n".encode())
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._clients.discard(queue)
        return response

    async def _set_faults(self, request: web.Request) -> web.Response:
        try:
            given = await request.json()
            changes = {k: v for k, v in given.items() if k in _faults_dict(self._sink.faults)}
            faults = attrs.evolve(self._sink.faults, **changes)  # the rest (the seed) as they were
        except (ValueError, TypeError, AttributeError) as exc:
            return web.json_response({"error": f"bad fault settings: {exc}"}, status=400)
        self._sink.set_faults(faults)
        self._push({"kind": "faults", "faults": _faults_dict(faults)})
        return web.json_response({"faults": _faults_dict(faults)})

    async def _clear(self, request: web.Request) -> web.Response:
        self.events.clear()
        self.requests.clear()
        self._push({"kind": "clear"})
        return web.json_response({"cleared": True})

    async def close(self) -> None:
        """Tell the pages the sink stops (their streams end)."""
        for queue in list(self._clients):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(json.dumps({"kind": "stopped"}))


_CSP: Final = "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"
"""The page's scripts are its own inline ones; nothing is loaded from elsewhere."""


def _number(text: str | None) -> int:
    """A header's non-negative integer value, or 0 (absent or not a number)."""
    return int(text) if text is not None and text.isascii() and text.isdigit() else 0


def _faults_dict(faults: Faults) -> dict[str, Any]:
    """The fault settings the page shows and edits: all of `Faults` but its seed."""
    return attrs.asdict(faults, filter=lambda field, _: field.name != "seed")
