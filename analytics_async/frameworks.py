"""Helpers for where services live: FastAPI/Starlette, aiohttp web, AWS Lambda, plain asyncio.

No framework is imported here or required by analytics-async: each helper works with the objects
the framework hands it. Each one closes the instance on shutdown with a deadline, so shutdown is
bounded and events still unsent when it passes are reported (callbacks, `error` events).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import signal
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar, cast, overload

from ._lifecycle.client import Analytics

if TYPE_CHECKING:
    from aiohttp import web
    from starlette.requests import HTTPConnection

    ANALYTICS_KEY: web.AppKey[Analytics]
    """`request.app[ANALYTICS_KEY]` is the instance given to `setup_aiohttp`."""

    def get_analytics(request: HTTPConnection) -> Analytics:
        """FastAPI dependency returning the instance set up by `lifespan` (`Depends(get_analytics)`)."""


__all__ = [
    "ANALYTICS_KEY",
    "get_analytics",
    "lambda_handler",
    "lifespan",
    "setup_aiohttp",
    "shutdown_on_signals",
]

logger = logging.getLogger("analytics_async")

DEFAULT_SHUTDOWN_TIMEOUT: Final = 10.0

# -- FastAPI / Starlette ---------------------------------------------------------------------------


def lifespan(
    analytics: Analytics, *, shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT
) -> Callable[[object], AbstractAsyncContextManager[dict[str, Any]]]:
    """A Starlette/FastAPI lifespan that exposes `analytics` to handlers and closes it on shutdown.

    ```python
    app = FastAPI(lifespan=lifespan(analytics, shutdown_timeout=5))
    ```

    Handlers get the instance with `Depends(get_analytics)` (or `request.state.analytics`). On
    shutdown, `flush(close=True, timeout=shutdown_timeout)` delivers what is queued. To combine with
    a lifespan of your own, enter `lifespan(analytics)(app)` inside it with `async with`.
    """

    @asynccontextmanager
    async def manage(app: object) -> AsyncIterator[dict[str, Any]]:
        state = getattr(app, "state", None)
        if state is not None:
            state.analytics = analytics
        try:
            yield {"analytics": analytics}
        finally:
            await analytics.flush(close=True, timeout=shutdown_timeout)

    return manage


@functools.cache
def _get_analytics() -> Callable[..., Analytics]:
    """`get_analytics`, made on first use: its annotation is Starlette's, which FastAPI reads."""
    from starlette.requests import HTTPConnection  # noqa: PLC0415 - a FastAPI app has it loaded already

    def get_analytics(request: HTTPConnection) -> Analytics:
        """FastAPI dependency returning the instance set up by `lifespan` (`Depends(get_analytics)`).

        Raises:
            RuntimeError: the app was not started with `lifespan(analytics)`.
        """
        for holder in (
            getattr(request, "state", None),
            getattr(getattr(request, "app", None), "state", None),
        ):
            found = getattr(holder, "analytics", None)
            if isinstance(found, Analytics):
                return found
        raise RuntimeError("no Analytics on this app: pass lifespan=analytics_async.frameworks.lifespan(...)")

    get_analytics.__annotations__ = {"request": HTTPConnection, "return": Analytics}  # real types for FastAPI
    return get_analytics


# -- aiohttp web -----------------------------------------------------------------------------------


@functools.cache
def _analytics_key() -> web.AppKey[Analytics]:
    from aiohttp import web  # noqa: PLC0415 - aiohttp.web costs ~150 ms: only aiohttp apps load it

    return web.AppKey("analytics", Analytics)


def __getattr__(name: str) -> object:
    """`ANALYTICS_KEY` and `get_analytics`, made on first use.

    Importing this module imports no web framework (aiohttp.web alone costs ~150 ms).
    """
    if name == "ANALYTICS_KEY":
        return _analytics_key()
    if name == "get_analytics":
        return _get_analytics()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def setup_aiohttp(
    app: web.Application, analytics: Analytics, *, shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT
) -> None:
    """Store `analytics` as `app[ANALYTICS_KEY]` and close it (with a deadline) on app cleanup."""
    app[_analytics_key()] = analytics

    async def close_on_cleanup(app: web.Application) -> AsyncIterator[None]:
        yield
        await analytics.flush(close=True, timeout=shutdown_timeout)

    app.cleanup_ctx.append(close_on_cleanup)


# -- plain asyncio services ------------------------------------------------------------------------


@asynccontextmanager
async def shutdown_on_signals(
    analytics: Analytics,
    *,
    timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    signals: Iterable[signal.Signals] = (signal.SIGINT, signal.SIGTERM),
) -> AsyncIterator[asyncio.Event]:
    """Yield an Event set by SIGINT/SIGTERM; on exit, close `analytics` within `timeout` seconds.

    ```python
    async with shutdown_on_signals(analytics, timeout=5) as stopping:
        worker = asyncio.create_task(consume(analytics))
        await stopping.wait()
        worker.cancel()
    # every event was delivered, or reported failed within 5 s
    ```
    """
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    installed = list(signals)
    for sig in installed:
        loop.add_signal_handler(sig, stopping.set)
    try:
        yield stopping
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await analytics.flush(close=True, timeout=timeout)


# -- AWS Lambda ------------------------------------------------------------------------------------


def _deadline(context: object, margin: float, fallback: float) -> float:
    """Seconds left for flushing: the invocation's remaining time minus `margin`."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return fallback
    return max(0.0, float(remaining()) / 1000 - margin)


async def _finish(analytics: Analytics, timeout: float, *, close: bool) -> None:
    before = analytics.stats()
    await analytics.flush(close=close, timeout=timeout)
    left = analytics.stats().unsettled
    if close:
        failed = sum(analytics.stats().failed.values()) - sum(before.failed.values())
        if failed:
            logger.warning(
                "analytics_async: %d events failed or timed out before the invocation ended", failed
            )
    elif left:
        logger.warning(
            "analytics_async: %d events not delivered before the invocation's deadline; they stay "
            "queued and are sent on the next invocation",
            left,
        )


E = TypeVar("E")
C = TypeVar("C")
R = TypeVar("R")


class LambdaDecorator(Protocol):
    """What `lambda_handler(...)` returns: a decorator that keeps the handler's types.

    A coroutine handler's result becomes the plain return value: the decorated handler is a plain
    function, as the Lambda Python runtime expects.
    """

    @overload
    def __call__(self, handler: Callable[[E, C], Coroutine[Any, Any, R]], /) -> Callable[[E, C], R]: ...
    @overload
    def __call__(self, handler: Callable[[E, C], R], /) -> Callable[[E, C], R]: ...
    @overload
    def __call__(self, handler: Callable[..., Coroutine[Any, Any, R]], /) -> Callable[[Any, Any], R]: ...
    @overload
    def __call__(self, handler: Callable[..., R], /) -> Callable[[Any, Any], R]: ...


def lambda_handler(
    analytics: Analytics | None = None,
    *,
    factory: Callable[[], Analytics] | None = None,
    margin: float = 0.5,
    fallback_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
) -> LambdaDecorator:
    """Decorate a Lambda handler so events are flushed before the invocation returns.

    Two patterns:

    - `@lambda_handler(analytics)`: one module-level instance reused by every invocation; each
      invocation ends with `flush(timeout=...)`. What the deadline cuts off stays queued for the next
      invocation (a warning says how many).
    - `@lambda_handler(factory=make_analytics)`: a new instance per invocation (the Segment docs'
      recommendation), passed to the handler as the keyword argument `analytics` and closed with
      `flush(close=True, timeout=...)`; what the deadline cuts off fails with `FlushTimeoutError`.

    The deadline is `context.get_remaining_time_in_millis() / 1000 - margin` seconds
    (`fallback_timeout` without a Lambda context). The handler may be a coroutine function (run here
    with `asyncio.run`) or a plain function (that may run `asyncio.run` itself); the decorated
    handler is a plain function, as the Lambda Python runtime expects.
    """
    if (analytics is None) == (factory is None):
        raise TypeError("pass either an Analytics instance or factory=, not both or neither")

    def decorate(handler: Callable[..., Any]) -> Callable[[Any, Any], Any]:
        is_async = inspect.iscoroutinefunction(handler)

        @functools.wraps(handler)
        def invoke(event: object, context: object) -> Any:  # noqa: ANN401 - whatever the handler returns
            instance = analytics if analytics is not None else factory()  # type: ignore[misc]
            kwargs = {"analytics": instance} if factory is not None else {}
            close = factory is not None

            async def run_async() -> Any:  # noqa: ANN401
                try:
                    return await handler(event, context, **kwargs)
                finally:
                    await _finish(instance, _deadline(context, margin, fallback_timeout), close=close)

            if is_async:
                return asyncio.run(run_async())
            try:
                return handler(event, context, **kwargs)
            finally:
                _run_in_own_loop(
                    instance, _finish(instance, _deadline(context, margin, fallback_timeout), close=close)
                )

        return invoke

    return cast("LambdaDecorator", decorate)


def _run_in_own_loop(analytics: Analytics, coro: Coroutine[Any, Any, None]) -> None:
    """Run `coro` in the loop `analytics` runs in when that loop outlives invocations, else anew.

    A plain handler that keeps one event loop for all invocations (run_until_complete) keeps its
    instance there: moving it to a throwaway loop and back would strand tasks and sessions.
    """
    loop = analytics._runtime.loop  # noqa: SLF001 - our own package
    if loop is not None and not loop.is_closed() and not loop.is_running():
        loop.run_until_complete(coro)
    else:
        asyncio.run(coro)
