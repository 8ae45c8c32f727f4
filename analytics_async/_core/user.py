"""User code run by the library: callbacks, event handlers, plugin hooks.

Whatever user code does (raise any exception, `CancelledError` included; return an awaitable that
never finishes) must neither stop the pipeline nor strand an event. Two rules hold everywhere:

- An exception from user code is an error to report, never a reason to stop, unless it is the
  cancellation of the task it runs in (our own deadline or a loop shutdown, see `is_our_cancellation`)
  or a `KeyboardInterrupt`/`SystemExit`, which always propagate.
- Coroutines of user code run as tracked tasks, so a flush can wait for them and a closing flush can
  cancel them. Once a closing flush has run out of time, new ones are collected instead (`defer`) and
  run one after another inside the flush, within a small fixed budget (`run_deferred`): starting a task
  for each of 100,000 callbacks would cost seconds that the deadline does not have.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Final

from . import fork
from .clock import Clock, wait_until

__all__ = ["FAILED", "UserWork", "is_our_cancellation"]

logger = logging.getLogger("analytics_async")

FAILED: Final = object()
"""What `UserWork.call` returns when the user's function raised (the error is already reported)."""

OnError = Callable[[str, BaseException, Any], None]
"""Reports a failure of user code: (what failed, the exception, the Context or None)."""
_Deferred = tuple[str, Awaitable[Any], object, "Callable[[], None] | None"]


def is_our_cancellation(exc: BaseException) -> bool:
    """Whether `exc` must propagate: our task is being cancelled, or the process is exiting.

    A `CancelledError` raised by user code on its own, while nobody cancels the task it runs in, is
    an ordinary failure of that code (`Task.cancelling()` is 0).
    """
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        return True
    if not isinstance(exc, asyncio.CancelledError):
        return False
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop: nobody can be cancelling us
        return False
    return task is not None and task.cancelling() > 0


class _LazyCall:
    """A coroutine function and its arguments, called only when its turn comes."""

    __slots__ = ("args", "fn")

    def __init__(self, fn: Callable[..., Awaitable[Any]], args: tuple[object, ...]) -> None:
        self.fn = fn
        self.args = args

    def __await__(self) -> Any:  # noqa: ANN401 - never awaited as such; satisfies Awaitable
        return self.fn(*self.args).__await__()


class _Countdown:
    """Resolves `done` after `tick` was called `remaining` times."""

    __slots__ = ("done", "remaining")

    def __init__(self, remaining: int, done: asyncio.Future[None]) -> None:
        self.remaining = remaining
        self.done = done

    def tick(self, _: object) -> None:
        self.remaining -= 1
        if self.remaining <= 0 and not self.done.done():
            self.done.set_result(None)


class UserWork:
    """Runs user code guarded, and keeps track of the coroutines it started."""

    def __init__(self, on_error: OnError) -> None:
        self._on_error = on_error
        self._tasks: set[asyncio.Task[None]] = set()
        self._deferred: deque[_Deferred] | None = None
        self._last_checked: tuple[object, bool] = (None, False)

    def call(self, what: str, fn: Callable[..., object], *args: object, ctx: object = None) -> object:
        """Return `fn(*args)`, or `FAILED` if it raised (reported, never propagated)."""
        try:
            return fn(*args)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            self._on_error(what, exc, ctx)
            return FAILED

    def start(
        self,
        what: str,
        awaitable: Awaitable[Any],
        *,
        ctx: object = None,
        timeout: float | None = None,
        then: Callable[[], None] | None = None,
    ) -> asyncio.Task[None] | None:
        """Run `awaitable` in the background (at most `timeout` seconds), then call `then`.

        `then` runs however the awaitable ends: finished, raised, timed out or cancelled. Returns the
        task, or None while collecting for `run_deferred`.
        """
        if self._deferred is not None:
            self._deferred.append((what, awaitable, ctx, then))
            return None
        task = asyncio.ensure_future(self._run(what, awaitable, ctx, timeout, then))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(
        self,
        what: str,
        awaitable: Awaitable[Any],
        ctx: object,
        timeout: float | None,
        then: Callable[[], None] | None,
    ) -> None:
        try:
            async with asyncio.timeout(timeout) as limit:
                await awaitable
        except BaseException as exc:
            if isinstance(exc, TimeoutError) and limit.expired():
                logger.warning("analytics_async: %s still running after %gs; not awaited", what, timeout)
            elif is_our_cancellation(exc):
                raise
            else:
                self._on_error(what, exc, ctx)
        finally:
            if then is not None:
                then()

    def after_fork(self) -> None:
        """In a forked child: the parent's coroutines are not ours to wait for or cancel."""
        fork.ABANDONED.append(self._tasks)
        self._tasks = set()
        self._deferred = None

    async def wait(self, clock: Clock, deadline: float | None) -> bool:
        """Wait for the coroutines started so far (and those they start); False if `deadline` came."""
        loop = asyncio.get_running_loop()
        while pending := [t for t in self._tasks if t.get_loop() is loop]:
            countdown = _Countdown(len(pending), loop.create_future())
            for task in pending:
                task.add_done_callback(countdown.tick)
            try:
                if deadline is None:
                    await countdown.done
                elif not await wait_until(clock, deadline, countdown.done):
                    return False
            finally:
                for task in pending:
                    task.remove_done_callback(countdown.tick)
        return True

    def cancel(self) -> list[asyncio.Task[None]]:
        """Cancel the running coroutines of this loop; return their tasks (to wait for)."""
        loop = asyncio.get_running_loop()
        mine = [t for t in self._tasks if t.get_loop() is loop]
        for task in mine:
            task.cancel()
        return mine

    def is_coroutine_function(self, fn: object) -> bool:
        """`inspect.iscoroutinefunction`, remembering the last answer (events tend to share callbacks)."""
        if fn is not self._last_checked[0]:
            self._last_checked = (fn, inspect.iscoroutinefunction(fn))
        return self._last_checked[1]

    @property
    def deferring(self) -> bool:
        """Whether coroutines are collected for `run_deferred` (a closing flush is past its deadline)."""
        return self._deferred is not None

    def defer_call(
        self,
        what: str,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[object, ...],
        *,
        ctx: object = None,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Collect `fn(*args)` for `run_deferred`, to be called only if its budget reaches it."""
        assert self._deferred is not None
        self._deferred.append((what, _LazyCall(fn, args), ctx, then))

    def defer(self) -> None:
        """From now on, collect new coroutines for `run_deferred` instead of starting tasks."""
        if self._deferred is None:
            self._deferred = deque()

    async def run_deferred(self, budget: float) -> None:
        """Run the collected coroutines one after another for at most `budget` real seconds.

        What is still running then is cancelled; what never started is closed unrun. Every `then`
        is called. Collecting stops: later coroutines start tasks again.
        """
        deferred, self._deferred = self._deferred or deque(), None
        if not deferred:
            return
        until = asyncio.get_running_loop().time() + budget
        runner = asyncio.ensure_future(self._run_in_order(deferred, until))
        done, _ = await asyncio.wait([runner], timeout=budget)
        if not done:
            runner.cancel()
            await asyncio.wait([runner], timeout=budget / 4)  # user code refusing to stop is left
        for _, awaitable, _, then in deferred:  # those the runner never reached
            if inspect.iscoroutine(awaitable):
                awaitable.close()  # a _LazyCall was never called: nothing to close
            if then is not None:
                then()
        if runner.done() and not runner.cancelled():
            return
        logger.warning(
            "analytics_async: coroutine callbacks or handlers cut short by the closing flush's deadline"
        )

    async def _run_in_order(self, deferred: deque[_Deferred], until: float) -> None:
        """Run them one after another until loop time `until`.

        Work that never awaits (a plain hook) cannot be cut short by a cancellation, so the budget is
        also checked between them.
        """
        loop = asyncio.get_running_loop()
        while deferred and loop.time() < until:
            what, awaitable, ctx, then = deferred.popleft()
            if isinstance(awaitable, _LazyCall):
                awaitable = awaitable.fn(*awaitable.args)  # raising here is reported by _run
            await self._run(what, awaitable, ctx, None, then)
