"""What a plugin is (the `Plugin` protocol, `SimplePlugin`) and which destinations an event is routed to.

Plugin types (analytics-node-behavior.md §6): `before`, `enrichment`, `destination`, `after`,
`utility`. The built-in Segment destination is the plugin named "Segment.io". Running the stages is
`stage`'s job; this module only describes plugins and routing, and imports nothing of the client.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Literal, Protocol, TypeVar, runtime_checkable

import attrs

from .._message.context import Context

__all__ = ["EVENT_TYPES", "PLUGIN_TYPES", "SEGMENT_IO", "Plugin", "PluginType", "SimplePlugin", "routed"]

PluginType = Literal["before", "enrichment", "destination", "after", "utility"]
PLUGIN_TYPES: Final = ("before", "enrichment", "destination", "after", "utility")
EVENT_TYPES: Final = ("track", "identify", "page", "screen", "group", "alias")
SEGMENT_IO: Final = "Segment.io"
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

    def load(self, ctx: Context, analytics: Any) -> Awaitable[None] | None:  # noqa: ANN401
        """Prepare the plugin; called once by `register` with the `Analytics` instance.

        `analytics` is typed `Any` so a plugin may annotate it as `Analytics` (or not at all).
        """
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
        for event_type in EVENT_TYPES:
            if getattr(self, event_type) is None and self.hook is not None:
                setattr(self, event_type, self.hook)

    def is_loaded(self) -> bool:
        """Always ready."""
        return True

    async def load(self, ctx: Context, analytics: object) -> None:
        """Run `on_load`, if given."""
        await maybe_await(self.on_load() if self.on_load else None)

    async def unload(self, ctx: Context, analytics: object) -> None:
        """Run `on_unload`, if given."""
        await maybe_await(self.on_unload() if self.on_unload else None)


async def maybe_await(value: Awaitable[T] | T) -> T:
    """`value`, awaited if it is awaitable (hooks may be plain or coroutine functions)."""
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


def sends_to_segment(integrations: object) -> bool:
    """Whether an event with these `integrations` goes to the Tracking API (the Segment.io plugin)."""
    if not isinstance(integrations, Mapping) or SEGMENT_IO not in integrations:
        return True
    return _truthy(integrations[SEGMENT_IO])
