"""The plugin stage: the registered plugins and what they do to one event.

`PluginStage.enter(ctx)` runs `before` (one at a time; a failure fails the event) then `enrichment`
(one at a time; failures are reported and skipped) and returns the Context to send. `route` says
whether the Tracking API gets it and which destinations do; `start_destinations` runs those
concurrently; `after` runs once the event has settled. Plugin code is user code: whatever it raises,
`CancelledError` included, is a plugin failure, never a stop of the pipeline (`_core.user`).

With no plugin registered beyond the built-in one, none of this runs (`active` is False). A plugin
with a `check_call(message)` method and no event hooks (a tracking plan's) is a *call check*: the
client runs it as it builds each event, without the stage (`checks`, `check_call`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from .._core import fork
from .._core.user import UserWork, is_our_cancellation
from .._message.context import Context, is_parsed
from ..errors import DeliveryError
from .plugin import (
    EVENT_TYPES,
    PLUGIN_TYPES,
    SEGMENT_IO,
    Plugin,
    PluginType,
    maybe_await,
    routed,
    sends_to_segment,
)

__all__ = ["BeforeFailed", "CallCheck", "PluginStage", "Verdict"]

logger = logging.getLogger("analytics_async")


class BeforeFailed(Exception):  # noqa: N818 - internal signal carrying the reason
    """A `before` plugin failed the event; `reason` is what it raised."""

    def __init__(self, reason: Exception) -> None:
        super().__init__(str(reason))
        self.reason = reason


class Verdict(Protocol):
    """What a call check says of an event that breaks its rules (`_plans.plugin.Verdict`)."""

    @property
    def action(self) -> str:
        """One of warn (send it), drop (fail it) or raise (the call raises `error()`)."""
        ...

    @property
    def violation(self) -> object:
        """The payload of the `violation` event."""
        ...

    def error(self) -> Exception:
        """What the call raises, or the event fails with."""
        ...


class CallCheck(Protocol):
    """A plugin that checks each event as it is built (a tracking plan's): thread-safe, no I/O."""

    def check_call(self, message: dict[str, Any]) -> Verdict | None:
        """None if `message` may go on as it is."""
        ...


def _checks_only(plugin: Plugin) -> bool:
    return callable(getattr(plugin, "check_call", None)) and not any(hasattr(plugin, t) for t in EVENT_TYPES)


@attrs.frozen
class _SegmentIO:
    """The built-in destination: routing an event to it queues it for the Tracking API."""

    name: str = SEGMENT_IO
    type: PluginType = "destination"
    version: str = "1.0.0"

    def is_loaded(self) -> bool:
        return True

    def load(self, ctx: Context, analytics: object) -> None:
        return None


def _system_context() -> Context:
    return Context({"type": "track", "event": "system"})


class PluginStage:
    """The registered plugins of one `Analytics`, and the stages run for each event."""

    def __init__(self, user: UserWork, emit: Callable[[str, object], None]) -> None:
        self._user = user
        self._emit = emit
        self._plugins: list[Plugin] = [_SegmentIO()]
        self._registering: set[asyncio.Future[None]] = set()
        self._running: set[tuple[asyncio.AbstractEventLoop, asyncio.Timeout]] = set()
        self.active = False
        """True when events must pass the stage: a user plugin is registered or a registration runs."""
        self.checks: tuple[CallCheck, ...] = ()
        """The registered call checks, in registration order (read from other threads too)."""

    def _refresh(self) -> None:
        self.checks = tuple(p for p in self._plugins if callable(getattr(p, "check_call", None)))  # type: ignore[misc]
        self.active = bool(self._registering) or any(
            (p.name != SEGMENT_IO or p.type != "destination") and not _checks_only(p) for p in self._plugins
        )

    def check_call(self, message: dict[str, Any]) -> Verdict | None:
        """What the first call check that objects to `message` says; None if none does."""
        for check in self.checks:
            verdict = check.check_call(message)
            if verdict is not None:
                return verdict
        return None

    def attach(self, plugin: Plugin) -> None:
        """Register a plugin whose `load` does nothing, now, without a loop (the sync drop-in's plan)."""
        self._plugins.append(plugin)
        self._refresh()
        self._emit("register", [plugin.name])

    def after_fork(self) -> None:
        """In a forked child: registrations and stages in progress were the parent's."""
        fork.ABANDONED.append((self._registering, self._running))
        self._registering = set()
        self._running = set()
        self._refresh()

    @property
    def names(self) -> list[str]:
        """Names of the registered plugins, in registration order."""
        return [p.name for p in self._plugins]

    @property
    def has_after(self) -> bool:
        """Whether any `after` plugin is registered."""
        return any(p.type == "after" for p in self._plugins)

    # -- register / deregister -----------------------------------------------------------------

    async def register(self, analytics: object, plugins: Sequence[Plugin]) -> None:
        """Load and add `plugins`; a plugin whose `load` fails is logged and left out."""
        for plugin in plugins:
            if not isinstance(plugin, Plugin) or plugin.type not in PLUGIN_TYPES:
                raise TypeError(
                    f"not a plugin (needs name, type in {PLUGIN_TYPES}, version, is_loaded, load): {plugin!r}"
                )
        done = asyncio.get_running_loop().create_future()
        self._registering.add(done)
        self._refresh()
        try:
            for plugin in plugins:
                self._plugins.append(plugin)
                if plugin.type == "destination":  # destinations load in the background, as analytics-node
                    self._user.start(f"plugin {plugin.name!r} load", self._load(plugin, analytics))
                else:
                    await self._load(plugin, analytics)
        finally:
            self._registering.discard(done)
            done.set_result(None)
            self._refresh()
        self._emit("register", [p.name for p in plugins])

    async def _load(self, plugin: Plugin, analytics: object) -> None:
        try:
            await maybe_await(plugin.load(_system_context(), analytics))
        except BaseException as exc:
            if is_our_cancellation(exc):
                raise
            logger.warning("analytics_async: Failed to load plugin %r; removed", plugin.name, exc_info=exc)
            self._plugins = [p for p in self._plugins if p is not plugin]
            self._refresh()

    async def deregister(self, analytics: object, names: Sequence[str]) -> None:
        """Unload and remove the plugins named; a failing `unload` keeps the plugin (logged)."""
        for name in names:
            found = [p for p in self._plugins if p.name == name]
            if not found:
                logger.warning("analytics_async: plugin %s not found", name)
                continue
            try:
                for plugin in found:
                    if (unload := getattr(plugin, "unload", None)) is not None:
                        await maybe_await(unload(_system_context(), analytics))
            except BaseException as exc:
                if is_our_cancellation(exc):
                    raise
                logger.warning("analytics_async: Failed to unload plugin %r", name, exc_info=exc)
                continue
            self._plugins = [p for p in self._plugins if p.name != name]
        self._refresh()
        self._emit("deregister", list(names))

    # -- the stages ----------------------------------------------------------------------------

    async def run(self, ctx: Context, kind: str | None = None) -> Context | None:
        """`enter(ctx)` in the caller's task; None if a closing deadline ended it (`interrupt`).

        The stage runs in an `asyncio.timeout` scope with no deadline of its own, which `interrupt`
        expires: the plugins are cancelled and the caller goes on, as with any asyncio timeout. A
        cancellation of the caller itself still propagates.

        Raises:
            BeforeFailed: a `before` plugin failed the event.
        """
        loop = asyncio.get_running_loop()
        scope = asyncio.timeout(None)
        entry = (loop, scope)
        self._running.add(entry)
        try:
            async with scope:
                return await self.enter(ctx, kind)
        except TimeoutError:
            if scope.expired():
                return None
            raise
        finally:
            self._running.discard(entry)

    def interrupt(self) -> None:
        """End every `run` of this loop, from the loop's next step (a closing flush ran out of time).

        One callback expires them all, so the flush that calls this pays nothing per held call.
        """
        loop = asyncio.get_running_loop()
        scopes = [scope for running_loop, scope in self._running if running_loop is loop]
        if scopes:
            loop.call_soon(_expire, scopes)

    async def enter(self, ctx: Context, kind: str | None = None) -> Context:
        """Wait for registrations in flight, run `before` then `enrichment`; return the Context to send.

        Raises:
            BeforeFailed: a `before` plugin raised (anything) or returned something not a Context.
        """
        while self._registering:
            await asyncio.gather(*self._registering)
        # Every `before` plugin, then every `enrichment` one, each in registration order (stable sort).
        staged = sorted((p for p in self._plugins if p.type in ("before", "enrichment")), key=_after_before)
        for plugin in staged:
            try:
                ctx = await self._call(plugin, ctx, kind)
            except BaseException as exc:
                if is_our_cancellation(exc):
                    raise
                if plugin.type == "before":
                    ctx.log("error", "plugin Error", {"plugin": plugin.name, "error": repr(exc)})
                    raise BeforeFailed(_as_exception(plugin, exc)) from exc
                self._failed(plugin, "enrichment", ctx, exc)
        return ctx

    @staticmethod
    async def _call(plugin: Plugin, ctx: Context, kind: str | None = None) -> Context:
        # The event's type without parsing its JSON while no plugin has read it (`kind`: the call's)
        if kind is None or is_parsed(ctx):
            kind = ctx.event.get("type", "")
        hook = getattr(plugin, kind, None)
        if hook is None:
            return ctx
        ctx.log("debug", "plugin", {"plugin": plugin.name})
        result = await maybe_await(hook(ctx))
        if result is None:
            return ctx
        if not isinstance(result, Context):
            raise TypeError(f"plugin {plugin.name!r} returned {type(result).__name__}, not a Context or None")
        return result

    def _failed(self, plugin: Plugin, stage: str, ctx: Context, exc: BaseException) -> None:
        ctx.log("error", "plugin Error", {"plugin": plugin.name, "error": repr(exc)})
        logger.warning("analytics_async: %s plugin %r failed; skipped", stage, plugin.name, exc_info=exc)

    def route(self, ctx: Context, integrations: object = None) -> tuple[bool, list[Plugin]]:
        """Whether the Tracking API gets the event, and which destinations do (after enrichment).

        `integrations`: the event's, when known without reading `ctx.event` (which would parse it).
        """
        if integrations is None:
            integrations = ctx.event.get("integrations")
        if not isinstance(integrations, Mapping):
            integrations = {}
        destinations = [
            p
            for p in self._plugins
            if p.type == "destination" and not isinstance(p, _SegmentIO) and routed(p, integrations)
        ]
        return sends_to_segment(integrations), destinations

    def start_destinations(self, ctx: Context, destinations: Iterable[Plugin]) -> asyncio.Task[None] | None:
        """Run the destinations concurrently in the background; their failures are logged."""
        hooked = [p for p in destinations if getattr(p, ctx.event.get("type", ""), None) is not None]
        if not hooked:
            return None
        return self._user.start("destination plugins", self._concurrently(ctx, hooked, "destination"))

    async def after(self, ctx: Context) -> None:
        """Run the `after` plugins concurrently, once the event has settled."""
        await self._concurrently(ctx, [p for p in self._plugins if p.type == "after"], "after")

    async def _concurrently(self, ctx: Context, plugins: list[Plugin], stage: str) -> None:
        async def one(plugin: Plugin) -> None:
            try:
                await self._call(plugin, ctx)
            except BaseException as exc:
                if is_our_cancellation(exc):
                    raise
                self._failed(plugin, stage, ctx, exc)

        await asyncio.gather(*(one(p) for p in plugins))


def _expire(scopes: list[asyncio.Timeout]) -> None:
    now = asyncio.get_running_loop().time()
    for scope in scopes:
        if not scope.expired():
            scope.reschedule(now)


def _after_before(plugin: Plugin) -> bool:
    return plugin.type != "before"


def _as_exception(plugin: Plugin, exc: BaseException) -> Exception:
    """What a before plugin raised, as an Exception (a callback's `err` is one): wrapped if need be."""
    if isinstance(exc, Exception):
        return exc
    wrapped = DeliveryError(f"before plugin {plugin.name!r} raised {type(exc).__name__}: {exc}")
    wrapped.__cause__ = exc
    return wrapped
