"""Helpers for testing code that uses analytics-async.

- `RecordingClient`: an HTTPClient that keeps every request in memory and answers 200.
- `ScriptedClient`: the same, answering a scripted sequence of statuses, delays and failures.
- `FakeClock`: time that moves only when the test says (`Analytics(clock=...)`); `idle()` lets the
  event loop run until nothing is ready, so "nothing happened yet" can be asserted decisively.
- `SegmentSink`: a local Segment-compatible server on 127.0.0.1, with fault injection.
- `assert_conforms(events, plan)`: fail a test, listing every violation, unless the events (say,
  `sink.events`) conform to a tracking plan (`analytics_async.plans`).
- `analytics_async.pytest_plugin`: `analytics` and `analytics_recorder` fixtures (opt in with
  `pytest_plugins = ["analytics_async.pytest_plugin"]`).

```python
from analytics_async import Analytics
from analytics_async.testing import FakeClock, SegmentSink

async with SegmentSink() as sink:
    clock = FakeClock()
    analytics = Analytics(write_key="test", host=sink.url, clock=clock)
    await analytics.track(event="Signed Up", user_id="u1")
    await clock.advance(10)           # the flush interval passes instantly
    await analytics.flush(close=True)
    assert sink.events[0]["event"] == "Signed Up"
```
"""

from __future__ import annotations

import asyncio
import collections
import gzip
import heapq
import itertools
import json
import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs

from ._cli.sink import Faults, ReceivedBatch, Responder, SegmentSink
from ._core.http_client import HTTPRequest, HTTPResponse
from .errors import TransportError

if TYPE_CHECKING:
    from ._plans.tracking import TrackingPlan

__all__ = [
    "FakeClock",
    "Faults",
    "ReceivedBatch",
    "RecordingClient",
    "Responder",
    "ScriptedClient",
    "SegmentSink",
    "Step",
    "assert_conforms",
    "idle",
]


class RecordingClient:
    """An HTTPClient that records every request and answers 200 at once (no network)."""

    def __init__(self) -> None:
        self.requests: list[HTTPRequest] = []
        self.closed = False

    async def send(self, request: HTTPRequest) -> HTTPResponse:
        """Record `request` and answer."""
        self.requests.append(request)
        return await self.answer(request)

    async def answer(self, request: HTTPRequest) -> HTTPResponse:
        """The response to give; subclasses script it."""
        return HTTPResponse(200, "OK", {}, '{"success":true}')

    async def aclose(self) -> None:
        """Mark closed (the library closes only clients it created; yours stay open)."""
        self.closed = True

    @property
    def batches(self) -> list[dict[str, Any]]:
        """The request bodies, parsed (gzip undone), in the order sent; retries appear again."""
        bodies = []
        for request in self.requests:
            body = request.body
            if request.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            bodies.append(json.loads(body))
        return bodies

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event of every request, in order (an event retried appears once per attempt)."""
        return [event for body in self.batches for event in body["batch"]]

    def events_of(self, type_: str | None = None, *, event: str | None = None) -> list[dict[str, Any]]:
        """Events filtered by message type (`"track"`, ...) and, for tracks, by event name."""
        return [
            e
            for e in self.events
            if (type_ is None or e.get("type") == type_) and (event is None or e.get("event") == event)
        ]


@attrs.frozen
class Step:
    """One scripted answer: a status (with headers), after `delay` seconds, or a transport failure."""

    status: int = 200
    headers: Mapping[str, str] = attrs.field(factory=dict)
    delay: float = 0.0
    fail: bool = False


class ScriptedClient(RecordingClient):
    """Answers request n with the n-th step, then with `then` (a status or a Step).

    ```python
    client = ScriptedClient(503, Step(429, {"Retry-After": "1"}), Step(fail=True), then=200)
    ```
    """

    def __init__(self, *steps: int | Step, then: int | Step = 200) -> None:
        super().__init__()
        self.steps = [s if isinstance(s, Step) else Step(s) for s in steps]
        self.then = then if isinstance(then, Step) else Step(then)

    async def answer(self, request: HTTPRequest) -> HTTPResponse:
        """Play the next step."""
        n = len(self.requests)
        step = self.steps[n - 1] if n <= len(self.steps) else self.then
        if step.delay:
            await asyncio.sleep(step.delay)
        if step.fail:
            raise TransportError("scripted connection failure")
        return HTTPResponse(step.status, "", step.headers, "")


class _Timer:
    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], object]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock whose time moves only when `advance` is awaited; pass it as `Analytics(clock=...)`.

    Timers due at or before the new time run in order, each followed by a few event-loop steps so
    the code they wake can schedule its next timer before time moves on.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _Timer]] = []
        self._order = itertools.count()

    def time(self) -> float:
        """The fake current time in seconds."""
        return self._now

    def call_at(self, when: float, callback: Callable[[], object]) -> _Timer:
        """Schedule `callback` at fake time `when`."""
        timer = _Timer(callback)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        return timer

    @property
    def pending_timers(self) -> list[float]:
        """The due times of the timers not yet run or cancelled, soonest first."""
        return sorted(when for when, _, timer in self._timers if not timer.cancelled)

    async def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, running every timer that falls due on the way.

        Before time moves and after each timer, the event loop runs until it is idle (see `idle`), so
        whatever a timer wakes (a batch send, a retry, a request to a local server) has happened, and
        has scheduled its next timer, before the next one is considered.
        """
        target = self._now + seconds
        await idle()
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, when)
            timer.callback()
            await idle()
        self._now = target
        await idle()


_IDLE_STREAK: Final = 3
"""Consecutive loop passes with nothing ready that count as idle (a loopback reply lands in one)."""
_MAX_PASSES: Final = 100_000
_FIXED_PASSES: Final = 50


async def idle() -> None:
    """Let the running event loop work until nothing is ready to run.

    Nothing ready means every task waits for a timer, a future or I/O that has not come. I/O on
    127.0.0.1 arrives within a loop pass, so requests to a local server (SegmentSink) complete first.
    On a loop that does not expose its ready queue (uvloop), a fixed number of passes is run instead.
    """
    loop = asyncio.get_running_loop()
    ready = getattr(loop, "_ready", None)  # CPython's BaseEventLoop: the callbacks due this pass
    if not isinstance(ready, collections.deque):
        for _ in range(_FIXED_PASSES):
            await asyncio.sleep(0)
        return
    streak = 0
    for _ in range(_MAX_PASSES):
        await asyncio.sleep(0)
        streak = streak + 1 if not ready else 0
        if streak >= _IDLE_STREAK:
            return
    raise RuntimeError(f"the event loop did not become idle within {_MAX_PASSES} passes (a busy loop?)")


def assert_conforms(
    events: Iterable[Mapping[str, Any]],
    plan: TrackingPlan | str | os.PathLike[str],
    *,
    allow_unplanned: bool = False,
) -> None:
    """Raise AssertionError listing every way `events` break `plan` (a TrackingPlan or a plan file).

    ```python
    assert_conforms(sink.events, "analytics/plan.json")
    ```

    `allow_unplanned`: track events the plan has no rule for are not counted.
    """
    from ._plans.tracking import TrackingPlan  # noqa: PLC0415 - only with a plan (jsonschema_rs)

    if not isinstance(plan, TrackingPlan):
        plan = TrackingPlan.load(plan)
    problems = [
        f"  {event.get('messageId', '?')}: {violation.describe()}"
        for event in events
        for violation in plan.check(event)
        if violation.rule is not None or not allow_unplanned
    ]
    if problems:
        raise AssertionError(f"{len(problems)} violations of {plan.name!r}:\n" + "\n".join(problems))
