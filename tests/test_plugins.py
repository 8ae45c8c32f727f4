"""Plugins: stage order and error semantics, integrations routing, register/deregister."""

from __future__ import annotations

import asyncio
import logging
import pathlib
from typing import Any, Final

import pytest

from analytics_async import (
    Analytics,
    Context,
    ContextCancelation,
    ErrorEvent,
    EventTooLargeError,
    Plugin,
    PluginType,
    SimplePlugin,
    ValidationError,
)
from analytics_async.testing import RecordingClient, SegmentSink, idle

from .conftest import MakeAnalytics


class Recorder:
    """A plugin of any type that records its calls in a shared log; sync or async hooks."""

    version = "1.0.0"

    def __init__(
        self, name: str, type_: PluginType, log: list[str], *, is_async: bool = False, fail: bool = False
    ) -> None:
        self.name = name
        self.type: PluginType = type_
        self.log = log
        self.is_async = is_async
        self.fail = fail
        self.loaded = False

    def is_loaded(self) -> bool:
        """Loaded once load() ran."""
        return self.loaded

    def load(self, ctx: Context, analytics: Analytics) -> None:
        """Mark loaded."""
        self.loaded = True

    def _hook(self, ctx: Context) -> Context:
        self.log.append(self.name)
        if self.fail:
            raise RuntimeError(f"{self.name} failed")
        return ctx

    def track(self, ctx: Context) -> Any:
        """Record the call, now or after a loop step."""
        if self.is_async:

            async def later() -> Context:
                await asyncio.sleep(0)
                return self._hook(ctx)

            return later()
        return self._hook(ctx)


async def test_stage_order_with_mixed_sync_and_async(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """before, then enrichment in registration order; destinations; after once settled; then the callback."""
    log: list[str] = []
    analytics = make_analytics()
    await analytics.register(
        Recorder("after", "after", log, is_async=True),
        Recorder("enrich-1", "enrichment", log, is_async=True),
        Recorder("dest", "destination", log),
        Recorder("before-1", "before", log),
        Recorder("enrich-2", "enrichment", log),
        Recorder("before-2", "before", log, is_async=True),
        Recorder("utility", "utility", log),
    )
    await analytics.track(event="E", user_id="u", callback=lambda err, ctx: log.append("callback"))
    assert log[:4] == ["before-1", "before-2", "enrich-1", "enrich-2"]
    await analytics.flush()
    assert log[4:] == ["dest", "after", "callback"]
    assert len(sink.events) == 1


async def test_failing_before_plugin_fails_the_event(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """A before plugin that raises: not sent, callback gets the error, an error event fires."""
    analytics = make_analytics()
    await analytics.register(Recorder("gate", "before", [], fail=True))
    errors: list[ErrorEvent] = []
    got: list[BaseException | None] = []
    analytics.on("error", errors.append)
    ctx = await analytics.track(event="E", user_id="u", callback=lambda e, c: got.append(e))
    await analytics.flush()
    assert sink.requests == 0
    assert isinstance(got[0], RuntimeError)
    assert errors[0].reason is got[0]
    assert await ctx.delivered() is False
    assert [line.message for line in ctx.logs()] == ["plugin", "plugin Error"]
    assert analytics.stats().failed == {"RuntimeError": 1}


async def test_cancel_in_before_plugin(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """ctx.cancel() in a before plugin drops the event with ContextCancelation, reported."""
    analytics = make_analytics()
    await analytics.register(SimplePlugin(name="no-bots", type="before", hook=lambda ctx: ctx.cancel()))
    ctx = await analytics.track(event="E", user_id="bot")
    await analytics.flush()
    failure = ctx.failed_delivery()
    assert failure is not None
    assert isinstance(failure.reason, ContextCancelation)
    assert sink.requests == 0


async def test_before_plugin_returning_garbage_fails_the_event(make_analytics: MakeAnalytics) -> None:
    """A before hook returning something that is not a Context (or None) fails the event."""
    analytics = make_analytics()
    await analytics.register(SimplePlugin(name="bad", type="before", hook=lambda ctx: "oops"))  # type: ignore[arg-type,return-value]
    ctx = await analytics.track(event="E", user_id="u")
    failure = ctx.failed_delivery()
    assert failure is not None
    assert isinstance(failure.reason, TypeError)


async def test_enrichment_errors_are_skipped(
    make_analytics: MakeAnalytics, sink: SegmentSink, caplog: pytest.LogCaptureFixture
) -> None:
    """An enrichment plugin that raises is logged and skipped; the event goes on unchanged."""
    analytics = make_analytics()
    log: list[str] = []
    await analytics.register(
        Recorder("broken", "enrichment", log, fail=True), Recorder("fine", "enrichment", log)
    )
    ctx = await analytics.track(event="E", user_id="u")
    await analytics.flush()
    assert log == ["broken", "fine"]
    assert await ctx.delivered() is True
    assert len(sink.events) == 1
    assert "broken" in caplog.text
    assert "plugin Error" in [line.message for line in ctx.logs()]


async def test_enrichment_can_replace_the_context(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """A Context returned by an enrichment plugin replaces the event that is sent."""
    analytics = make_analytics()

    def replace(ctx: Context) -> Context:
        return Context({**ctx.event, "event": "Replaced"})

    await analytics.register(SimplePlugin(name="swap", type="enrichment", track=replace))
    ctx = await analytics.track(event="Original", user_id="u")
    await analytics.flush()
    assert ctx.event["event"] == "Replaced"
    assert sink.events[0]["event"] == "Replaced"
    assert await ctx.delivered() is True


async def test_destination_and_after_errors_never_affect_delivery(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """Failing destination and after plugins are logged; other destinations and Segment still get it."""
    log: list[str] = []
    analytics = make_analytics()
    await analytics.register(
        Recorder("bad-dest", "destination", log, fail=True, is_async=True),
        Recorder("good-dest", "destination", log),
        Recorder("bad-after", "after", log, fail=True),
    )
    ctx = await analytics.track(event="E", user_id="u")
    await analytics.flush()
    assert sorted(log) == ["bad-after", "bad-dest", "good-dest"]
    assert await ctx.delivered() is True
    assert len(sink.events) == 1


async def test_destinations_run_concurrently(make_analytics: MakeAnalytics) -> None:
    """Destination hooks overlap in time rather than running one after another."""
    running = peak = 0

    async def slow(ctx: Context) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.005)
        running -= 1

    analytics = make_analytics()
    await analytics.register(*(SimplePlugin(name=f"d{i}", type="destination", track=slow) for i in range(3)))
    await analytics.track(event="E", user_id="u")
    await analytics.flush()
    assert peak == 3


async def test_flush_waits_for_destination_and_after_plugins(make_analytics: MakeAnalytics) -> None:
    """flush() returns only after slow destination and after plugins finished."""
    done: list[str] = []

    async def slow(ctx: Context) -> None:
        await asyncio.sleep(0.005)
        done.append(ctx.event["type"])

    analytics = make_analytics()
    await analytics.register(
        SimplePlugin(name="dest", type="destination", hook=slow),
        SimplePlugin(name="aft", type="after", hook=slow),
    )
    await analytics.identify(user_id="u")
    await analytics.flush()
    assert done == ["identify", "identify"]


def plugin_calls(log: list[str]) -> tuple[bool, bool]:
    return "Amplitude" in log, "Mixpanel" in log


@pytest.mark.parametrize(
    ("integrations", "amplitude", "mixpanel", "segment"),
    [
        ({"Mixpanel": False, "Segment.io": False}, True, False, False),
        ({"All": False}, False, False, True),
        ({"All": False, "Amplitude": False, "Segment.io": False}, False, False, False),
        ({"All": False, "Amplitude": True, "Segment.io": True}, True, False, True),
        ({"All": False, "Amplitude": True}, True, False, True),
        ({"All": False, "Amplitude": {"amplitudeKey": "foo"}, "Segment.io": {}}, True, False, True),
        ({}, True, True, True),
        ({"Amplitude": 0, "Mixpanel": ""}, False, False, True),
    ],
)
async def test_integrations_routing(
    make_analytics: MakeAnalytics,
    sink: SegmentSink,
    integrations: dict[str, Any],
    amplitude: bool,
    mixpanel: bool,
    segment: bool,
) -> None:
    """The rows of analytics-node's "denyList permutations", against the real Segment destination."""
    log: list[str] = []
    analytics = make_analytics()
    await analytics.register(
        Recorder("Amplitude", "destination", log), Recorder("Mixpanel", "destination", log)
    )
    got: list[BaseException | None] = []
    await analytics.track(
        event="E", user_id="u", integrations=integrations, callback=lambda e, c: got.append(e)
    )
    await analytics.flush()
    assert plugin_calls(log) == (amplitude, mixpanel)
    assert len(sink.events) == (1 if segment else 0)
    assert got == [None]  # a skipped Segment.io still counts as delivered, as analytics-node


async def test_alternative_names_route_destinations(make_analytics: MakeAnalytics) -> None:
    """A destination's alternative_names decide when its own name is absent from integrations."""
    log: list[str] = []
    analytics = make_analytics()

    def record(ctx: Context) -> None:
        log.append("ga")

    plugin = SimplePlugin(name="Google Analytics", type="destination", alternative_names=["GA"], track=record)
    await analytics.register(plugin)
    await analytics.track(event="E", user_id="u", integrations={"All": True, "GA": False})
    await analytics.track(event="E", user_id="u", integrations={"All": False, "GA": True})
    await analytics.flush()
    assert log == ["ga"]


async def test_deny_lists_written_by_other_plugins(make_analytics: MakeAnalytics, sink: SegmentSink) -> None:
    """Routing is computed after before/enrichment, so a plugin can turn destinations off."""
    log: list[str] = []
    analytics = make_analytics()
    await analytics.register(
        Recorder("Amplitude", "destination", log), Recorder("Mixpanel", "destination", log)
    )
    integrations = {"Amplitude": True, "MixPanel": True, "Segment.io": True}
    await analytics.track(event="E", user_id="u", integrations=integrations)
    await analytics.flush()

    def skip_amplitude_and_segment(ctx: Context) -> None:
        ctx.update_event("integrations.Amplitude", False)
        ctx.event["integrations"]["Segment.io"] = False  # a dotted path would split the name

    await analytics.register(SimplePlugin(name="deny", type="before", hook=skip_amplitude_and_segment))
    await analytics.track(event="E", user_id="u", integrations=integrations)
    await analytics.flush()
    assert log.count("Mixpanel") == 2
    assert log.count("Amplitude") == 1
    assert len(sink.events) == 1


async def test_register_and_deregister_events(
    make_analytics: MakeAnalytics, caplog: pytest.LogCaptureFixture
) -> None:
    """register/deregister emit their names; unload runs; unknown names are logged."""
    analytics = make_analytics()
    seen: list[tuple[str, list[str]]] = []
    analytics.on("register", lambda names: seen.append(("register", names)))
    analytics.on("deregister", lambda names: seen.append(("deregister", names)))
    unloaded: list[str] = []
    plugin = SimplePlugin(name="p", type="enrichment", on_unload=lambda: unloaded.append("p"))
    await analytics.register(plugin)
    assert analytics._runtime.stage.names == ["Segment.io", "p"]
    await analytics.deregister("p", "missing")
    assert seen == [("register", ["p"]), ("deregister", ["p", "missing"])]
    assert unloaded == ["p"]
    assert analytics._runtime.stage.names == ["Segment.io"]
    assert "plugin missing not found" in caplog.text


async def test_failing_load_removes_the_plugin(
    make_analytics: MakeAnalytics, sink: SegmentSink, caplog: pytest.LogCaptureFixture
) -> None:
    """A plugin whose load raises is logged and removed; register still returns and emits."""
    analytics = make_analytics()
    seen: list[list[str]] = []
    analytics.on("register", seen.append)

    def boom() -> None:
        raise RuntimeError("cannot load")

    log: list[str] = []

    def record(ctx: Context) -> None:
        log.append("x")

    await analytics.register(SimplePlugin(name="broken", type="enrichment", on_load=boom, hook=record))
    assert seen == [["broken"]]
    assert "Failed to load" in caplog.text
    await analytics.track(event="E", user_id="u")
    await analytics.flush()
    assert log == []
    assert len(sink.events) == 1


async def test_delivery_waits_for_a_registration_in_flight(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """An event dispatched while register() is still loading a plugin goes through that plugin."""
    release = asyncio.Event()

    async def slow_load() -> None:
        await release.wait()

    def tag(ctx: Context) -> None:
        ctx.update_event("properties.tagged", True)

    analytics = make_analytics()
    registering = asyncio.create_task(
        analytics.register(SimplePlugin(name="tagger", type="enrichment", on_load=slow_load, track=tag))
    )
    await asyncio.sleep(0)
    tracking = asyncio.create_task(analytics.track(event="E", user_id="u"))
    await idle()
    assert not tracking.done()
    release.set()
    await registering
    await tracking
    await analytics.flush()
    assert sink.events[0]["properties"] == {"tagged": True}


async def test_lowercase_plugin_changes_what_arrives(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """The seed's example: an enrichment plugin lowercasing event names changes the wire."""

    class Lowercase:
        name = "Lowercase events"
        type: Final = "enrichment"  # Final keeps the literal type, so mypy sees a Plugin
        version = "1.0.0"

        def is_loaded(self) -> bool:
            return True

        async def load(self, ctx: Context, analytics: Analytics) -> None:
            return None

        async def track(self, ctx: Context) -> Context:
            ctx.update_event("event", ctx.event["event"].lower())
            return ctx

    plugin: Plugin = Lowercase()
    analytics = make_analytics()
    await analytics.register(plugin)
    await analytics.track(event="Item PURCHASED", user_id="u")
    await analytics.flush()
    assert sink.events[0]["event"] == "item purchased"


async def test_not_a_plugin_is_rejected(make_analytics: MakeAnalytics) -> None:
    """register() rejects an object that is not a plugin, registering nothing."""
    analytics = make_analytics()
    with pytest.raises(TypeError, match="not a plugin"):
        await analytics.register(object())  # type: ignore[arg-type]
    assert analytics._runtime.stage.names == ["Segment.io"]


async def test_close_timeout_cancels_slow_plugins(
    sink: SegmentSink, caplog: pytest.LogCaptureFixture
) -> None:
    """A closing flush out of time cancels destination plugins and still reports every event."""
    caplog.set_level(logging.CRITICAL)
    analytics = Analytics(write_key="k", host=sink.url)

    async def forever(ctx: Context) -> None:
        await sink.hang()

    await analytics.register(SimplePlugin(name="stuck", type="destination", track=forever))
    got: list[BaseException | None] = []
    await analytics.track(event="E", user_id="u", callback=lambda e, c: got.append(e))
    await analytics.flush(close=True, timeout=0.05)
    assert len(got) == 1
    assert not [t for t in asyncio.all_tasks() if "forever" in repr(t.get_coro()) and not t.done()]


@pytest.mark.parametrize(
    ("integrations", "sent"),
    [
        ({"Segment.io": False}, False),
        ({"Segment.io": 0}, False),
        ({"All": False}, True),
        ({"All": False, "Segment.io": True}, True),
        ({"Segment.io": {}}, True),
        ({"Mixpanel": False}, True),
    ],
)
@pytest.mark.parametrize("with_plugin", [False, True], ids=["no plugin", "with a plugin"])
async def test_segment_io_routing_with_and_without_plugins(
    make_analytics: MakeAnalytics,
    sink: SegmentSink,
    integrations: dict[str, Any],
    sent: bool,
    with_plugin: bool,
) -> None:
    """integrations turning Segment.io off means not sent yet settled; All: False alone still sends."""
    analytics = make_analytics()
    if with_plugin:
        await analytics.register(SimplePlugin(name="noop", type="enrichment", hook=lambda ctx: None))
    got: list[BaseException | None] = []
    ctx = await analytics.track(
        event="E", user_id="u", integrations=integrations, callback=lambda e, c: got.append(e)
    )
    await analytics.flush()
    assert len(sink.events) == (1 if sent else 0)
    assert await ctx.delivered(timeout=0) is True
    assert got == [None]
    stats = analytics.stats()
    assert (stats.accepted, stats.delivered, stats.unsettled) == (1, 1, 0)


@pytest.mark.parametrize("kind", ["before", "enrichment"])
async def test_in_place_edits_of_nested_dicts_never_reach_the_callers_dicts(kind: str) -> None:
    """`ctx.event["properties"]["cart"]["total"] = 0` in a plugin: sent so, the caller's dict untouched."""

    async def zero(ctx: Context) -> Context:
        ctx.event["properties"]["cart"]["total"] = 0
        ctx.event["properties"]["cart"]["items"].append("added")
        return ctx

    http = RecordingClient()
    analytics = Analytics(write_key="k", http_client=http)
    await analytics.register(SimplePlugin(name="zero", type=kind, hook=zero))  # type: ignore[arg-type]
    cart = {"total": 39.95, "items": ["hat"]}
    properties = {"cart": cart}
    await analytics.track(event="Order Completed", user_id="u", properties=properties)
    await analytics.flush(close=True, timeout=5)
    assert http.events[0]["properties"] == {"cart": {"total": 0, "items": ["hat", "added"]}}
    assert properties == {"cart": {"total": 39.95, "items": ["hat"]}}
    assert cart == {"total": 39.95, "items": ["hat"]}


async def test_plain_hooks_run_in_the_call_and_destinations_in_the_next_loop_step(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """Plain before/enrichment hooks have run when the call returns; destinations run a step later."""
    log: list[str] = []
    analytics = make_analytics()
    await analytics.register(
        SimplePlugin(name="b", type="before", hook=lambda ctx: log.append(f"before {ctx.event['event']}")),
        SimplePlugin(name="e", type="enrichment", hook=lambda ctx: log.append("enrich")),
        SimplePlugin(name="d", type="destination", hook=lambda ctx: log.append(f"dest {ctx.event['event']}")),
    )
    got: list[str] = []
    for name in ("one", "two"):
        await analytics.track(
            event=name, user_id="u", callback=lambda err, ctx: got.append(ctx.event["event"])
        )
    assert log == ["before one", "enrich", "before two", "enrich"]  # no destination yet
    await asyncio.sleep(0)
    assert log[4:] == ["dest one", "dest two"]  # both events' destinations in the same step
    await analytics.flush()
    assert got == ["one", "two"]
    assert [e["event"] for e in sink.events] == ["one", "two"]


async def test_update_event_then_reading_the_event_sees_the_writes_and_never_the_callers_dicts(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """update_event writes without parsing; a later plugin reading ctx.event sees them, isolated."""

    def write(ctx: Context) -> None:
        ctx.update_event("properties.cart.coupon", "WINTER")
        ctx.update_event("context.tenant", "acme")

    def read_and_edit(ctx: Context) -> None:
        assert ctx.event["properties"]["cart"]["coupon"] == "WINTER"
        assert ctx.event["context"]["tenant"] == "acme"
        ctx.event["properties"]["cart"]["items"].append("gloves")  # in place, nested
        ctx.event["properties"]["cart"]["total"] = 0

    analytics = make_analytics()
    await analytics.register(
        SimplePlugin(name="write", type="enrichment", hook=write),
        SimplePlugin(name="read", type="enrichment", hook=read_and_edit),
    )
    cart = {"total": 39.95, "items": ["hat"]}
    properties = {"cart": cart}
    context = {"app": {"name": "shop"}}
    ctx = await analytics.track(event="E", user_id="u", properties=properties, context=context)
    await analytics.flush()
    assert cart == {"total": 39.95, "items": ["hat"]}
    assert properties == {"cart": cart}
    assert context == {"app": {"name": "shop"}}
    sent = sink.events[0]
    assert sent["properties"]["cart"] == {"total": 0, "items": ["hat", "gloves"], "coupon": "WINTER"}
    assert sent["context"]["tenant"] == "acme"
    assert ctx.event["properties"]["cart"]["coupon"] == "WINTER"  # the Context shows what was sent
    assert [line.message for line in ctx.logs()] == ["plugin", "plugin"]
    assert [line.extras for line in ctx.logs()] == [{"plugin": "write"}, {"plugin": "read"}]


async def test_a_plugin_that_changes_the_type_hands_the_event_to_the_new_types_hooks(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """Hooks are chosen by the event's type as the plugins before them left it."""
    log: list[str] = []

    def to_identify(ctx: Context) -> None:
        ctx.update_event("type", "identify")

    analytics = make_analytics()
    await analytics.register(
        SimplePlugin(name="to-identify", type="before", track=to_identify),
        SimplePlugin(
            name="seen",
            type="enrichment",
            track=lambda ctx: log.append("track hook"),
            identify=lambda ctx: log.append("identify hook"),
        ),
    )
    await analytics.track(event="E", user_id="u")
    await analytics.flush()
    assert log == ["identify hook"]
    assert sink.events[0]["type"] == "identify"


async def test_after_hooks_plain_or_returning_an_awaitable_run_before_the_callback(
    make_analytics: MakeAnalytics,
) -> None:
    """A plain after hook runs as the event settles; one returning a coroutine is awaited; then callback."""
    log: list[str] = []

    async def later(ctx: Context) -> None:
        await asyncio.sleep(0)
        log.append("awaited after")

    analytics = make_analytics()
    await analytics.register(
        SimplePlugin(name="plain", type="after", hook=lambda ctx: log.append("plain after")),
        SimplePlugin(name="returns", type="after", hook=lambda ctx: later(ctx)),  # noqa: PLW0108 - plain, returns a coroutine
    )
    await analytics.track(event="E", user_id="u", callback=lambda err, ctx: log.append("callback"))
    await analytics.flush()
    assert log == ["plain after", "awaited after", "callback"]


class _Calls:
    """A callable object: its class's `__call__` records the event."""

    def __init__(self, log: list[str], label: str) -> None:
        self.log = log
        self.label = label

    def __call__(self, ctx: Context) -> None:
        self.log.append(f"{self.label} {ctx.event['event']}")


class _InheritedCall(_Calls):
    """Its `__call__` is its base class's."""


class _StaticCall:
    """`__call__` a staticmethod, and an instance attribute `__call__` that calling never uses."""

    seen: list[str] = []  # noqa: RUF012 - the test's own shared log

    def __init__(self) -> None:
        self.__call__ = lambda ctx: _StaticCall.seen.append("instance attribute")  # type: ignore[method-assign]

    @staticmethod
    def __call__(ctx: Context) -> None:
        _StaticCall.seen.append(f"static {ctx.event['event']}")


async def test_callable_objects_as_hooks_are_called_as_calling_them_calls(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """An object whose class defines `__call__` (own, inherited or static) runs as `hook(ctx)` would."""
    log: list[str] = []
    _StaticCall.seen = log
    analytics = make_analytics()
    await analytics.register(
        SimplePlugin(name="e", type="enrichment", hook=_Calls(log, "enrich")),
        SimplePlugin(name="d", type="destination", hook=_InheritedCall(log, "dest")),
        SimplePlugin(name="a", type="after", hook=_StaticCall()),
    )
    await analytics.track(event="E", user_id="u")
    await analytics.flush()
    assert log == ["enrich E", "dest E", "static E"]
    assert [e["event"] for e in sink.events] == ["E"]


async def test_thousands_of_events_through_two_plugins_of_each_stage_settle_exactly_once(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """Every event reaches each destination and after plugin once, its callback once, the sink once."""
    seen: dict[str, int] = {}

    def count(name: str) -> Any:
        def hook(ctx: Context) -> None:
            seen[name] = seen.get(name, 0) + 1

        return hook

    async def async_count(ctx: Context) -> None:
        seen["async destination"] = seen.get("async destination", 0) + 1

    analytics = make_analytics(flush_at=50)
    plugins = [SimplePlugin(name=f"d{i}", type="destination", hook=count(f"d{i}")) for i in range(2)]
    plugins += [SimplePlugin(name=f"a{i}", type="after", hook=count(f"a{i}")) for i in range(2)]
    plugins += [SimplePlugin(name="ad", type="destination", hook=async_count)]

    def number(ctx: Context) -> None:
        ctx.update_event("context.n", 1)

    plugins += [SimplePlugin(name="e", type="enrichment", hook=number)]
    await analytics.register(*plugins)
    called: list[int] = []
    for i in range(2_000):
        await analytics.track(event="E", user_id=f"u{i}", callback=lambda err, ctx: called.append(1))
    await analytics.flush()
    assert seen == {"d0": 2_000, "d1": 2_000, "a0": 2_000, "a1": 2_000, "async destination": 2_000}
    assert len(called) == 2_000
    assert len(sink.events) == 2_000
    assert len({e["messageId"] for e in sink.events}) == 2_000
    assert all(e["context"]["n"] == 1 for e in sink.events)
    assert analytics.stats().unsettled == 0


async def test_a_slow_plain_after_hook_does_not_stretch_a_closing_deadline(
    sink: SegmentSink, caplog: pytest.LogCaptureFixture
) -> None:
    """Past a closing deadline, plain after hooks run as deferred work, within its budget."""
    import time  # noqa: PLC0415

    caplog.set_level(logging.CRITICAL)
    analytics = Analytics(write_key="k", host=sink.url, max_retries=0)
    calls = 0

    def slow(ctx: Context) -> None:
        nonlocal calls
        calls += 1
        time.sleep(0.002)  # 1,000 of these inline would be 2 s past the deadline

    async def hang(request: Any, n: int) -> None:
        await sink.hang()

    sink.responder = hang
    await analytics.register(SimplePlugin(name="slow", type="after", hook=slow))
    for i in range(1_000):
        await analytics.track(event="E", user_id=f"u{i}")
    started = time.monotonic()
    await analytics.flush(close=True, timeout=0.05)
    assert time.monotonic() - started < 1.0
    assert analytics.stats().unsettled == 0
    assert calls < 1_000


@pytest.mark.slow
def test_a_script_with_plugins_of_every_stage_delivers_each_event_once_to_a_sink_process(
    tmp_path: pathlib.Path,
) -> None:
    """Real processes: a user's script with two plugins of each stage, and `sink --record` apart.

    One destination and one after hook are callable objects (called through their class's `__call__`).

    Counted where they arrived (the sink's record file), not by the script's own counters. Five calls
    with a value JSON cannot carry raise ValidationError in the script and never arrive.
    """
    import json  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    record = tmp_path / "arrived.jsonl"
    sink = subprocess.Popen(
        [sys.executable, "-m", "analytics_async", "sink", "--port", "0", "--quiet", "--record", str(record)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert sink.stdout is not None
    try:
        url = sink.stdout.readline().split()[-1].removesuffix("/v1/batch")
        script = pathlib.Path(__file__).parent / "apps" / "plugins_script.py"
        done = subprocess.run(
            [sys.executable, str(script), url, "5000"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        report = json.loads(done.stdout.splitlines()[-1])
    finally:
        sink.terminate()
        sink.wait(timeout=10)
        sink.stdout.close()
    arrived = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(arrived) == 5000
    assert len({e["messageId"] for e in arrived}) == 5000
    assert all(
        (e["context"]["tenant"], e["context"]["consent"], e["context"]["stamped"], e["context"]["campaign"])
        == ("acme", "granted", True, "spring")
        for e in arrived
    )
    assert not [e for e in arrived if e["event"] == "Bad"]
    assert report == {
        "seen": {"d0": 5000, "d1": 5000, "a0": 5000, "a1": 5000},
        "callbacks": 5000,
        "refused": 5,
        "shared": {"campaign": "spring"},
    }


@pytest.mark.parametrize("stage", ["before", "enrichment"])
@pytest.mark.parametrize("reads", [False, True])
async def test_a_value_json_cannot_carry_raises_at_the_call_with_plugins_too(
    make_analytics: MakeAnalytics,
    sink: SegmentSink,
    caplog: pytest.LogCaptureFixture,
    stage: PluginType,
    reads: bool,
) -> None:
    """Serialized once, after the plugins, the event is still validated at the call.

    ValidationError naming the path, nothing accepted, nothing logged, whether or not a plugin read
    `ctx.event`.
    """

    def hook(ctx: Context) -> None:
        if reads:
            assert ctx.event  # raises: the message cannot be serialized

    analytics = make_analytics()
    await analytics.register(SimplePlugin(name="p", type=stage, hook=hook))
    errors: list[ErrorEvent] = []
    analytics.on("error", errors.append)
    with pytest.raises(ValidationError) as raised:
        await analytics.track(event="E", user_id="u", properties={"cart": {"items": object()}})
    assert raised.value.field == "properties.cart.items"
    ctx = await analytics.track(event="Fine", user_id="u")  # the next call goes through
    await analytics.flush()
    assert [e["event"] for e in sink.events] == ["Fine"]
    assert analytics.stats().accepted == 1
    assert errors == []
    assert not [r for r in caplog.records if r.name == "analytics_async" and r.levelno >= logging.WARNING]
    assert await ctx.delivered()


async def test_a_plugin_writing_a_value_json_cannot_carry_makes_the_call_raise(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """A value an enrichment writes is validated with the rest: the call raises, nothing accepted."""
    analytics = make_analytics()

    def bad(ctx: Context) -> None:
        ctx.update_event("context.tags", object())

    await analytics.register(SimplePlugin(name="bad", type="enrichment", hook=bad))
    with pytest.raises(ValidationError) as raised:
        await analytics.track(event="E", user_id="u")
    assert raised.value.field == "context.tags"
    await analytics.flush()
    assert sink.requests == 0
    assert analytics.stats().accepted == 0


async def test_an_event_made_too_large_by_a_plugin_raises_at_the_call(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """The 32 KB limit holds for the event as the plugins leave it."""
    analytics = make_analytics()

    def big(ctx: Context) -> None:
        ctx.update_event("context.blob", "x" * 40_000)

    await analytics.register(SimplePlugin(name="big", type="enrichment", hook=big))
    with pytest.raises(EventTooLargeError):
        await analytics.track(event="E", user_id="u")
    await analytics.flush()
    assert sink.requests == 0


async def test_a_before_plugin_failing_an_invalid_event_leaves_the_call_raising_validation_error(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """An invalid event raises ValidationError at the call even if a before plugin cancels it first."""
    analytics = make_analytics()
    await analytics.register(SimplePlugin(name="no-bots", type="before", hook=lambda ctx: ctx.cancel()))
    with pytest.raises(ValidationError) as raised:
        await analytics.track(event="E", user_id="u", properties={"when": object()})
    assert raised.value.field == "properties.when"
    ctx = await analytics.track(event="E", user_id="u")  # a valid one is cancelled as usual
    failure = ctx.failed_delivery()
    assert failure is not None
    assert isinstance(failure.reason, ContextCancelation)
    await analytics.flush()
    assert sink.requests == 0
    assert analytics.stats().accepted == 1


async def test_a_before_plugin_failing_an_event_above_32_kb_leaves_the_call_raising(
    make_analytics: MakeAnalytics, sink: SegmentSink
) -> None:
    """The size limit holds as validation does: a before plugin's cancel does not hide it."""
    analytics = make_analytics()
    await analytics.register(SimplePlugin(name="no-bots", type="before", hook=lambda ctx: ctx.cancel()))
    with pytest.raises(EventTooLargeError):
        await analytics.track(event="E", user_id="u", properties={"blob": "x" * 40_000})
    await analytics.flush()
    assert sink.requests == 0
    assert analytics.stats().accepted == 0
