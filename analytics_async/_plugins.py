"""Plugins: the `Plugin` protocol, the registry, and running the stages for one event.

Stages (analytics-node-behavior.md §6): `before` (one at a time; an error fails the event),
`enrichment` (one at a time; errors are logged and skipped), `destination` (concurrently, after the
call returned; errors logged), `after` (once the event has settled), `utility` (loaded, never called
per event). The built-in Segment destination is the plugin named "Segment.io": routing it means
queueing the event for the Tracking API.

With no plugin registered beyond the built-in one, none of this runs: the call takes the fast path.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypeVar, runtime_checkable

import attrs

from ._context import Context
from ._tasks import cancel_and_wait

if TYPE_CHECKING:
    from ._client import Analytics

__all__ = ["SEGMENT_IO", "Plugin", "PluginType", "Plugins", "SimplePlugin"]

logger = logging.getLogger("analytics_async")

PluginType = Literal["before", "enrichment", "destination", "after", "utility"]
SEGMENT_IO: Final = "Segment.io"
_TYPES: Final = ("before", "enrichment", "destination", "after", "utility")
_EVENT_TYPES: Final = ("track", "identify", "page", "screen", "group", "alias")
Hook = Callable[[Context], "Context | Awaitable[Context | None] | None"]
T = TypeVar("T")


@runtime_checkable
class Plugin(Protocol):
    """What a plugin provides; plain classes satisfy it, no inheritance needed.

    Optional members, looked up by name: `alternative_names` (a list of str), `unload(ctx, analytics)`,
    and one hook per event type (`track`, `identify`, `page`, `screen`, `group`, `alias`) taking the
    Context and returning a Context (which replaces it) or None (keep it). Hooks, `load` and `unload`
    may be plain or coroutine functions.
    """

    @property
    def name(self) -> str:
        """The plugin's name; `integrations` route destinations by it."""
        ...

    @property
    def type(self) -> PluginType:
        """The stage the plugin runs in."""
        ...

    @property
    def version(self) -> str:
        """The plugin's version."""
        ...

    def is_loaded(self) -> bool:
        """Whether the plugin is ready."""
        ...

    def load(self, ctx: Context, analytics: Analytics) -> Awaitable[None] | None:
        """Prepare the plugin; called once by `register`."""
        ...


@attrs.define
class SimplePlugin:
    """A plugin made from functions: `hook` runs for every event type unless a specific hook is given.

    ```python
    def lowercase(ctx: Context) -> None:
        ctx.update_event("event", ctx.event["event"].lower())

    await analytics.register(SimplePlugin(name="Lowercase", type="enrichment", track=lowercase))
    ```
    """

    name: str
    type: PluginType
    version: str = "1.0.0"
    hook: Hook | None = None
    track: Hook | None = None
    identify: Hook | None = None
    page: Hook | None = None
    screen: Hook | None = None
    group: Hook | None = None
    alias: Hook | None = None
    alternative_names: list[str] = attrs.field(factory=list)
    on_load: Callable[[], Awaitable[None] | None] | None = None
    on_unload: Callable[[], Awaitable[None] | None] | None = None

    def __attrs_post_init__(self) -> None:
        for event_type in _EVENT_TYPES:
            if getattr(self, event_type) is None and self.hook is not None:
                setattr(self, event_type, self.hook)

    def is_loaded(self) -> bool:
        """Always ready."""
        return True

    async def load(self, ctx: Context, analytics: Analytics) -> None:
        """Run `on_load`, if given."""
        await _maybe_await(self.on_load() if self.on_load else None)

    async def unload(self, ctx: Context, analytics: Analytics) -> None:
        """Run `on_unload`, if given."""
        await _maybe_await(self.on_unload() if self.on_unload else None)


async def _maybe_await(value: Awaitable[T] | T) -> T:
    if inspect.isawaitable(value):
        return await value
    return value


def _truthy(value: object) -> bool:
    """JavaScript truthiness, which `integrations` values follow: `{}` and `[]` count as true."""
    if isinstance(value, Mapping | list | tuple):
        return True
    return bool(value) and value == value  # NaN is falsy  # noqa: PLR0124


def routed(plugin: Plugin, integrations: Mapping[str, Any]) -> bool:
    """Whether `integrations` lets a destination (or the Segment.io plugin) see the event."""
    if plugin.name in integrations:
        return _truthy(integrations[plugin.name])
    decided: bool | None = None
    for alternative in getattr(plugin, "alternative_names", None) or ():
        if alternative in integrations:
            decided = _truthy(integrations[alternative])
    if decided is not None:
        return decided
    return plugin.name == SEGMENT_IO or integrations.get("All") is not False


class BeforeFailed(Exception):  # noqa: N818 - internal signal carrying the reason
    """A `before` plugin failed the event; `reason` is what it raised."""

    def __init__(self, reason: BaseException) -> None:
        super().__init__(str(reason))
        self.reason = reason


@attrs.frozen
class _SegmentIO:
    """The built-in destination: routing an event to it queues it for the Tracking API."""

    name: str = SEGMENT_IO
    type: PluginType = "destination"
    version: str = "1.0.0"

    def is_loaded(self) -> bool:
        return True

    def load(self, ctx: Context, analytics: Analytics) -> None:
        return None


class Plugins:
    """The registered plugins of one `Analytics`, and the stages run for each event."""

    def __init__(self, emit: Callable[[str, object], None]) -> None:
        self._emit = emit
        self._plugins: list[Plugin] = [_SegmentIO()]
        self._registering: set[asyncio.Future[None]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.active = False
        """True when the slow path is needed: a user plugin is registered or a registration runs."""

    def _refresh(self) -> None:
        self.active = bool(self._registering) or any(p.name != SEGMENT_IO or p.type != "destination"
                                                     for p in self._plugins)  # fmt: skip

    @property
    def names(self) -> list[str]:
        """Names of the registered plugins, in registration order."""
        return [p.name for p in self._plugins]

    # -- register / deregister -----------------------------------------------------------------

    async def register(self, analytics: Analytics, plugins: Sequence[Plugin]) -> None:
        """Load and add `plugins`; a plugin whose `load` fails is logged and left out."""
        for plugin in plugins:
            if not isinstance(plugin, Plugin) or plugin.type not in _TYPES:
                raise TypeError(
                    f"not a plugin (needs name, type in {_TYPES}, version, is_loaded, load): {plugin!r}"
                )
        done = asyncio.get_running_loop().create_future()
        self._registering.add(done)
        self._refresh()
        try:
            for plugin in plugins:
                self._plugins.append(plugin)
                load = self._load(plugin, analytics)
                if plugin.type == "destination":
                    self._spawn(load)  # destinations load in the background, as analytics-node
                else:
                    await load
        finally:
            self._registering.discard(done)
            done.set_result(None)
            self._refresh()
        self._emit("register", [p.name for p in plugins])

    async def _load(self, plugin: Plugin, analytics: Analytics) -> None:
        try:
            await _maybe_await(plugin.load(Context({"type": "track", "event": "system"}), analytics))
        except Exception:
            logger.warning(
                "analytics_async: Failed to load destination %r; removed", plugin.name, exc_info=True
            )
            self._plugins = [p for p in self._plugins if p is not plugin]
            self._refresh()

    async def deregister(self, analytics: Analytics, names: Sequence[str]) -> None:
        """Unload and remove the plugins named; a failing `unload` keeps the plugin (logged)."""
        for name in names:
            found = [p for p in self._plugins if p.name == name]
            if not found:
                logger.warning("analytics_async: plugin %s not found", name)
                continue
            try:
                for plugin in found:
                    if (unload := getattr(plugin, "unload", None)) is not None:
                        await _maybe_await(unload(Context({"type": "track", "event": "system"}), analytics))
            except Exception:
                logger.warning("analytics_async: Failed to unload destination %r", name, exc_info=True)
                continue
            self._plugins = [p for p in self._plugins if p.name != name]
        self._refresh()
        self._emit("deregister", list(names))

    async def wait_registrations(self) -> None:
        """Wait for registrations in flight (delivery waits for them, as analytics-node)."""
        while self._registering:
            await asyncio.gather(*self._registering)

    # -- the stages ----------------------------------------------------------------------------

    async def before_and_enrichment(self, ctx: Context) -> Context:
        """Run `before` then `enrichment` plugins in order; return the (possibly replaced) Context.

        Raises:
            BeforeFailed: a `before` plugin raised, cancelled, or returned something not a Context.
        """
        for plugin in [p for p in self._plugins if p.type == "before"]:
            try:
                ctx = await self._call(plugin, ctx)
            except Exception as exc:
                ctx.log("error", "plugin Error", {"plugin": plugin.name, "error": repr(exc)})
                raise BeforeFailed(exc) from exc
        for plugin in [p for p in self._plugins if p.type == "enrichment"]:
            try:
                ctx = await self._call(plugin, ctx)
            except Exception as exc:
                ctx.log("error", "plugin Error", {"plugin": plugin.name, "error": repr(exc)})
                logger.warning(
                    "analytics_async: enrichment plugin %r failed; skipped", plugin.name, exc_info=exc
                )
        return ctx

    @staticmethod
    async def _call(plugin: Plugin, ctx: Context) -> Context:
        hook = getattr(plugin, ctx.event.get("type", ""), None)
        if hook is None:
            return ctx
        ctx.log("debug", "plugin", {"plugin": plugin.name})
        result = await _maybe_await(hook(ctx))
        if result is None:
            return ctx
        if not isinstance(result, Context):
            raise TypeError(f"plugin {plugin.name!r} returned {type(result).__name__}, not a Context or None")
        return result

    def route(self, ctx: Context) -> tuple[bool, list[Plugin]]:
        """Whether Segment.io gets the event, and which other destinations do (after enrichment)."""
        integrations = ctx.event.get("integrations")
        if not isinstance(integrations, Mapping):
            integrations = {}
        segment = False
        destinations: list[Plugin] = []
        for plugin in self._plugins:
            if plugin.type != "destination" and plugin.name != SEGMENT_IO:
                continue
            if not routed(plugin, integrations):
                continue
            if isinstance(plugin, _SegmentIO):
                segment = True
            elif plugin.type == "destination":
                destinations.append(plugin)
        return segment, destinations

    def start_destinations(self, ctx: Context, destinations: Iterable[Plugin]) -> asyncio.Task[None] | None:
        """Run the destinations concurrently in a task; their errors are logged, never propagated."""
        hooked = [p for p in destinations if getattr(p, ctx.event.get("type", ""), None) is not None]
        if not hooked:
            return None
        return self._spawn(self._run_concurrently(ctx, hooked, "destination"))

    @property
    def has_after(self) -> bool:
        """Whether any `after` plugin is registered."""
        return any(p.type == "after" for p in self._plugins)

    async def after(self, ctx: Context) -> None:
        """Run the `after` plugins concurrently, once the event has settled."""
        await self._run_concurrently(ctx, [p for p in self._plugins if p.type == "after"], "after")

    async def _run_concurrently(self, ctx: Context, plugins: list[Plugin], stage: str) -> None:
        results = await asyncio.gather(*(self._call(p, ctx) for p in plugins), return_exceptions=True)
        for plugin, result in zip(plugins, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                ctx.log("error", "plugin Error", {"plugin": plugin.name, "error": repr(result)})
                logger.warning("analytics_async: %s plugin %r failed", stage, plugin.name, exc_info=result)

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def cancel(self) -> None:
        """Cancel plugin work still running (a closing flush ran out of time) and wait for it."""
        await cancel_and_wait(list(self._tasks))
